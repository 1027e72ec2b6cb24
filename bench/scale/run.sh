#!/usr/bin/env bash
# bench/scale/run.sh — recommend() on one server, on each streaming hot standby
# and through the PL/Proxy router (animerec_router) to three user shards, all
# throwaway clusters on this machine (test/clusters.sh), removed at exit.
#
# For each target: p50 and p95 latency of SELECT * FROM recommend(:uid, 10) with
# one client (pgbench -l), and calls/s with CLIENTS clients, SECONDS_PER_RUN
# each.  The model is trained once on the primary (demo data, USERS users,
# ITEMS items, one epoch) and published to the shards with export_model /
# import_model; each target answers for the same random users.
#
# On a 2-vCPU machine every cluster shares the same two cores: the figures
# show the overhead of a standby and of the routing hop, not a speed-up.
# Environment: PG_CONFIG, USERS (2000), ITEMS (1000), CLIENTS (2), SECONDS_PER_RUN (10).
set -u
cd "$(dirname "$0")/../.."
. scripts/lib.sh
. test/clusters.sh
USERS=${USERS:-2000}
ITEMS=${ITEMS:-1000}
CLIENTS=${CLIENTS:-2}
SECS=${SECONDS_PER_RUN:-10}

build_install
clusters_init
OUT=$CLUSTERS_DIR/bench
mkdir -p "$OUT"
chmod 777 "$OUT"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) vCPU; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

new_cluster primary
new_standby standby1 primary
new_standby standby2 primary
for s in s0 s1 s2 router; do
	new_cluster "$s"
done

pg primary -c "SET client_min_messages = warning" -c "CREATE EXTENSION animerec" \
	-c "SELECT count(*) FROM animerec.generate_demo_data(users => $USERS, items => $ITEMS, seed => 1)" \
	-c "CALL animerec.train('m', 'demo_ratings', epochs => 1, holdout => false, seed => 1)" >/dev/null
columns=$(pg primary -c "SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
                         FROM pg_attribute WHERE attrelid = 'demo_ratings'::regclass AND attnum > 0 AND NOT attisdropped")
# the export as a script that imports it (the hex is too long for a command line)
{
	printf "SELECT animerec.import_model('m', decode('"
	pg primary -c "SELECT encode(animerec.export_model('m'), 'hex')" | tr -d '\n'
	printf "', 'hex'));\n"
} >"$OUT/import.sql"

# the router and its cluster; each shard gets its users' rows and the model
pg router -c "SET client_min_messages = warning" -c "CREATE EXTENSION animerec_router CASCADE" \
	-c "CREATE SERVER animerec_shards FOREIGN DATA WRAPPER plproxy OPTIONS (p0 '$(conninfo s0)',
	        p1 '$(conninfo s1)', p2 '$(conninfo s2)', p3 '$(conninfo s0)')" \
	-c "CREATE USER MAPPING FOR PUBLIC SERVER animerec_shards" >/dev/null
pg router -c "SELECT partition, connstr FROM animerec_router.partitions()" >"$OUT/partitions"
for s in s0 s1 s2; do
	parts=$(awk -F'|' -v c="$(conninfo "$s")" '$2 == c {printf "%s%s", sep, $1; sep = ","}' "$OUT/partitions")
	pg "$s" -c "SET client_min_messages = warning" -c "CREATE EXTENSION animerec" \
		-c "CREATE TABLE demo_ratings ($columns)" >/dev/null
	pg primary -c "COPY (SELECT * FROM demo_ratings WHERE hashint8(user_id) & 3 IN ($parts)) TO STDOUT" |
		pg "$s" -c "COPY demo_ratings FROM STDIN"
	pg "$s" -c "CREATE INDEX ON demo_ratings (user_id, rated_at)" -c "ANALYZE demo_ratings" >/dev/null
	pg "$s" -f "$OUT/import.sql" >/dev/null
done
lsn=$(pg primary -c "SELECT pg_current_wal_lsn()")
for s in standby1 standby2; do
	wait_until 60 "$s" "SELECT pg_last_wal_replay_lsn() >= '$lsn'" || echo "# $s did not catch up within 60 s"
done
echo "# ratings: $(pg primary -c "SELECT count(*) || ' rows, ' || round(pg_relation_size('demo_ratings')::numeric / count(*), 1) || ' B a rating in the table + ' || round(pg_indexes_size('demo_ratings')::numeric / count(*), 1) || ' B in its index on (user_id, rated_at)' FROM demo_ratings")"
echo "# loaded model: $(pg primary -c "SELECT animerec.load_model('m')" -c "SELECT pg_size_pretty(bytes) || ' = ' || bytes || ' B in shared memory (weights + packed item table and layers)' FROM animerec.loaded_models WHERE name = 'm'" | tail -1)"
echo "# model m: $(pg primary -c "SELECT 'dim ' || (hyperparams->>'dim') || ', hidden ' || (hyperparams->>'hidden') || ', ' || n_items || ' items, ' || pg_size_pretty(bytes) || ' of weights' FROM animerec.models WHERE name = 'm'")"

# bench NAME SQL: latency (1 client) and throughput (CLIENTS clients) of SQL on cluster NAME
bench() {
	local name=$1 dir=$OUT/$1 p50 p95 tps
	mkdir -p "$dir"
	chmod 777 "$dir"
	printf '\\set uid random(1, %d)\n%s\n' "$USERS" "$2" >"$dir/q.sql"
	pg "$name" -c "SELECT count(*) FROM ($(sed -n 2p "$dir/q.sql" | sed 's/:uid/1/; s/;$//')) s" >/dev/null
	PGHOST=$CLUSTERS_DIR/$name PGPORT=${CLUSTER_PORT[$name]} PGUSER=postgres PGDATABASE=postgres
	export PGHOST PGPORT PGUSER PGDATABASE
	(cd "$dir" && "$CLUSTERS_BIN/pgbench" -n -c1 -j1 -T"$SECS" -l --log-prefix=lat -f q.sql >one.out 2>&1)
	p50=$(cat "$dir"/lat.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int(NR*0.5)+1]/1000}')
	p95=$(cat "$dir"/lat.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int(NR*0.95)+1]/1000}')
	tps=$("$CLUSTERS_BIN/pgbench" -n -c"$CLIENTS" -j"$CLIENTS" -T"$SECS" -f "$dir/q.sql" 2>&1 | awk '/^tps/ {printf "%.0f", $3}')
	printf '| %-29s | %8s | %8s | %10s |\n' "$3" "$p50" "$p95" "$tps"
}

echo "| target                        | p50 ms   | p95 ms   | calls/s, $CLIENTS clients |"
echo "|-------------------------------|----------|----------|------------|"
REC="SELECT * FROM animerec.recommend(:uid, 10, 'm');"
bench primary "$REC" "one server (the primary)"
bench standby1 "$REC" "hot standby 1"
bench standby2 "$REC" "hot standby 2"
bench router "SELECT * FROM animerec_router.recommend(:uid, 10, 'm');" "router -> 3 shards (PL/Proxy)"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
