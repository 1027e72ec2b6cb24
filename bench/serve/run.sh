#!/usr/bin/env bash
# bench/serve/run.sh — serving benchmark on a throwaway preloaded cluster (unix socket).
#
#   1. latency:  p50/p95 of SELECT * FROM animerec.recommend(:uid, 10), 1 client (pgbench -l)
#   2. throughput: calls/s with 2 clients
#      (1 and 2 also print the server's CPU time a call: every thread of the
#      postmaster and its children, so that a thread spinning beside the
#      backend counts)
#   3. batch: users/s of animerec.recommend_all(10) over every user
#   4. memory: private memory growth per backend (smaps_rollup) with 20 connections
#      serving a >= 20 MB model, against 20 connections running SELECT 1
#   5. reload under load: 8 clients for RELOAD_SECONDS while another session
#      activates a new version every 3 s; counts failed transactions
#
# The model 'bench' has the default shape of docs/design.md#the-model (10,000
# items, D 64, H 128, 2 layers, T 50), trained for one epoch by animerec.train on
# the generated data (USERS users with histories of 50).  The memory test's model 'big' (80,000 items,
# >= 20 MB of weights) has seeded, untrained weights from test/nn/bin/make_blob:
# serving cost does not depend on the weights' values, and training it would
# take minutes.
# Beside each figure of 1-3 it prints the useful GFLOP/s of the path (GEMM work
# of one user: FLOP_PER_USER below) and the machine's sgemm rate on 1 and 2
# threads (bench/bin/sgemm_rate, 1024^3, through the same OpenBLAS kernel the
# extension loads), measured just before that figure; and the load average
# at the start and the end.
# Environment: PG_CONFIG, USERS (5000), SECONDS_PER_RUN (10), RELOAD_SECONDS (60).
set -u
cd "$(dirname "$0")/../.."
. scripts/lib.sh

USERS=${USERS:-5000}
SECS=${SECONDS_PER_RUN:-10}
RELOAD_SECONDS=${RELOAD_SECONDS:-60}
OUT=$(mktemp -d /tmp/animerec-bench.XXXXXX)
chmod 777 "$OUT"

build_install
make -s test/nn/bin/make_blob bench/bin/sgemm_rate >/dev/null
start_cluster
PSQL="psql -X -q -v ON_ERROR_STOP=1"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) vCPUs; load at start:$(uptime | sed 's/.*average://')"

# GEMM FLOPs of one user of the 'bench' model (D 64, H 128, 2 layers, N 10,000 items,
# a history of T = 50): per layer 2*T*in*4H (input projection) + 2*(T-1)*H*4H
# (recurrent), in = 2D+1 for layer 0 and H above; 2*H*D projection; 2*N*D scores
D=64 H=128 T=50 N=10000
FLOP_PER_USER=$(( 2*T*(2*D+1)*4*H + 2*(T-1)*H*4*H + 2*T*H*4*H + 2*(T-1)*H*4*H + 2*H*D + 2*N*D ))

# sgemm rates now (S1, S2 GFLOP/s on 1 and 2 threads) and the line saying them
sgemm_now() {
	local out
	out=$(bench/bin/sgemm_rate)
	S1=$(sed -n 's/^sgemm_1thread_gflops=//p' <<<"$out")
	S2=$(sed -n 's/^sgemm_2thread_gflops=//p' <<<"$out")
	SGEMM="sgemm now $S1 GFLOP/s on 1 thread, $S2 on 2 ($(sed -n 's/.*blas_core=\([^ ]*\).*/\1/p' <<<"$out"))"
}
# CPU seconds the cluster's server has used so far: the postmaster with the children it has
# reaped (/proc/PID/stat fields 14-17) and every live child (fields 14-15), all their threads;
# after a second's wait, so that the backends of a pgbench run that just ended have exited and
# been reaped (a backend on its way out is in neither sum)
server_cpu() {
	local pm
	sleep 1
	pm=$(head -1 "$CLUSTER_DIR/data/postmaster.pid")
	{
		awk '{print $14 + $15 + $16 + $17}' /proc/"$pm"/stat
		for c in $(pgrep -P "$pm"); do awk '{print $14 + $15}' /proc/"$c"/stat 2>/dev/null; done
	} | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {printf "%.3f", s / hz}'
}
# server CPU milliseconds a call: $1 $2 server_cpu before and after $3 calls
cpu_ms() { echo "scale=3; 1000 * ($2 - $1) / $3" | bc; }

# useful GFLOP/s of $1 users per second
gflops() { echo "scale=1; $1 * $FLOP_PER_USER / 1000000000" | bc; }

# register a model blob file as version $3 of model $2 (active when $4 = true)
register() {
	$PSQL <<SQL
\set hex \`od -An -tx1 -v $1 | tr -d ' \n'\`
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('$2', $3, 'ready', $4, 'public.bench_ratings', 'user_id', 'anime_id', 'rating', 'ts',
        '{}', decode(:'hex', 'hex'));
SQL
}

$PSQL -c "CREATE EXTENSION animerec"
$PSQL -v users="$USERS" -v items=10000 -f bench/serve/data.sql >/dev/null
start=$(date +%s)
$PSQL -c "SET animerec.progress_notices = off" -c "CALL animerec.train('bench', 'bench_ratings', item_col => 'anime_id', order_col => 'ts', epochs => 1, seed => 1)"
echo "trained 'bench' (1 epoch) in $(( $(date +%s) - start )) s: $($PSQL -At -c "SELECT 'test HR@10 ' || round((metrics->>'test_hr@10')::numeric, 3) || ', popularity ' || round((metrics->>'popularity_hr@10')::numeric, 3) FROM animerec.models WHERE name = 'bench'")"
test/nn/bin/make_blob "$OUT/big.bin" 80000 40 64 128 2 50 3
register "$OUT/big.bin" big 1 true
$PSQL -c "SELECT animerec.load_model('bench'), animerec.load_model('big')" >/dev/null
$PSQL -At -c "SELECT 'loaded ' || name || ' v' || version || ': ' || pg_size_pretty(bytes) || ' in shared memory (weights + packed item table and layers)' FROM animerec.loaded_models ORDER BY name"

cat >"$OUT/rec.sql" <<SQL
\set uid random(1, $USERS)
SELECT * FROM animerec.recommend(:uid, 10, 'bench');
SQL

# 1. latency, one client, per-transaction log
sgemm_now
c0=$(server_cpu)
(cd "$OUT" && pgbench -n -c1 -j1 -T"$SECS" -l --log-prefix=lat -f rec.sql >pgbench1.out 2>&1)
c1=$(server_cpu)
p50=$(cat "$OUT"/lat.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.5)+1]/1000}')
p95=$(cat "$OUT"/lat.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.95)+1]/1000}')
echo "recommend latency, 1 client: p50 ${p50} ms, p95 ${p95} ms (target p50 <= 0.8 ms);" \
	"server CPU $(cpu_ms "$c0" "$c1" "$(cat "$OUT"/lat.* | wc -l)") ms a call;" \
	"$(gflops "1000 / $p50") GFLOP/s at p50; $SGEMM"

# 2. throughput, 2 clients
sgemm_now
c0=$(server_cpu)
pgbench -n -c2 -j2 -T"$SECS" -f "$OUT/rec.sql" >"$OUT/pgbench2.out" 2>&1
c1=$(server_cpu)
tps=$(awk '/^tps/ {printf "%.0f", $3}' "$OUT/pgbench2.out")
calls=$(awk '/actually processed/ {print $NF}' "$OUT/pgbench2.out")
echo "recommend throughput, 2 clients: ${tps} calls/s (target >= 1500);" \
	"server CPU $(cpu_ms "$c0" "$c1" "$calls") ms a call; $(gflops "$tps") GFLOP/s; $SGEMM"

# 3. batch path, with 1 and 2 BLAS threads
for threads in 1 2; do
	sgemm_now
	start=$(date +%s.%N)
	n=$(PGOPTIONS="-c animerec.threads=$threads" $PSQL -At -c "SELECT count(DISTINCT user_id) FROM animerec.recommend_all(10, 'bench')")
	end=$(date +%s.%N)
	ups=$(echo "$n / ($end - $start)" | bc)
	rate=$(gflops "$ups")
	sn=$([ "$threads" = 1 ] && echo "$S1" || echo "$S2")
	echo "recommend_all, animerec.threads = $threads: $n users in $(echo "$end - $start" | bc) s = $ups users/s;" \
		"$rate GFLOP/s = $(echo "100 * $rate / $sn" | bc)% of the $threads-thread sgemm rate" \
		"(target on 2 threads >= 50%); $SGEMM"
done

# 4. private memory per backend, 20 connections
mem_run() {	# $1: SQL of the script; prints the mean Private_Clean+Private_Dirty kB of the backends
	printf '%s\nSELECT pg_sleep(0.2);\n' "$1" >"$OUT/mem.sql"
	PGAPPNAME=benchmem pgbench -n -c20 -j2 -T8 -f "$OUT/mem.sql" >/dev/null 2>&1 &
	local pg=$!
	sleep 6
	local pids
	pids=$($PSQL -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'benchmem'")
	for p in $pids; do
		awk '/^Private_(Clean|Dirty)/ {s += $2} END {print s}' /proc/"$p"/smaps_rollup
	done | awk '{s += $1; if ($1 > m) m = $1} END {printf "%.0f %d %d\n", s / NR, m, NR}'
	wait $pg
}
base=$(mem_run "SELECT 1;")
serv=$(mem_run "\\set uid random(1, $USERS)
SELECT * FROM animerec.recommend(:uid, 10, 'big');")
read -r bmean bmax bn <<<"$base"
read -r smean smax sn <<<"$serv"
echo "private memory per backend: SELECT 1 mean ${bmean} kB ($bn backends); recommend on 'big' mean ${smean} kB, max ${smax} kB ($sn backends); growth $((smean - bmean)) kB mean, $((smax - bmean)) kB max (target <= 2048 kB)"

# 5. reload under load
(
	v=2
	end=$((SECONDS + RELOAD_SECONDS - 2))
	while [ $SECONDS -lt $end ]; do
		sleep 3
		v=$((v + 1))
		$PSQL <<SQL
BEGIN;
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
SELECT name, $v, status, false, ratings_table, user_col, item_col, rating_col, order_col, hyperparams, weights
FROM animerec.models WHERE name = 'bench' AND version = 1;
UPDATE animerec.models SET active = false WHERE name = 'bench' AND active;
UPDATE animerec.models SET active = true WHERE name = 'bench' AND version = $v;
COMMIT;
SQL
	done
	echo "$((v - 2))" >"$OUT/activations"
) &
activator=$!
pgbench -n -c8 -j2 -T"$RELOAD_SECONDS" -f "$OUT/rec.sql" >"$OUT/reload.out" 2>&1
rc=$?
wait $activator
errors=$(grep -cE 'ERROR|aborted' "$OUT/reload.out")
echo "reload under load: $(awk '/number of transactions actually processed/ {print $NF}' "$OUT/reload.out") calls," \
	"$(cat "$OUT/activations") activations, pgbench exit $rc, $errors error lines (target: 0)"
$PSQL -At -c "SELECT 'loaded after reloads: ' || string_agg(name || ' v' || version, ', ') FROM animerec.loaded_models"
echo "load at the end:$(uptime | sed 's/.*average://')"
rm -rf "$OUT"
