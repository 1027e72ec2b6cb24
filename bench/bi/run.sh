#!/usr/bin/env bash
# bench/bi/run.sh — the BI paths of docs/bi-tables.md on a throwaway preloaded
# cluster: demo data with USERS users and 2,000 items, a model of the
# default shape (D 64, H 128, 2 layers, T 50) with seeded untrained weights
# from test/nn/bin/make_blob (serving cost does not depend on the weights'
# values; its item ids are 10 * j, so the ratings are copied with item_id * 10).
#
#   0. reading every history in recommend_all's order (oldest first) and in
#      recommend's (newest first): EXPLAIN ANALYZE of the query, median of 3
#   1. batch path: SELECT * FROM animerec.recommend_all(10) LIMIT 10 (pgbench,
#      1 client, p50), the first row through a cursor (DECLARE + FETCH 1,
#      median of 5), and the whole run in users/s (median of RUNS) with
#      animerec.threads = 1 and 2
#   2. explain at T = 50 (users with at least 50 rows, a random item),
#      animerec.threads = 1, pgbench 1 client, p50 / p95
#   3. refresh_recommendations(k => 10), animerec.threads = 2, alone (right
#      after another refresh, median of RUNS, and again after VACUUM of the
#      rows it replaced, median of RUNS each after its own VACUUM) and 3 times
#      while 2 clients read the model's view in a loop, failing on any result
#      that is empty, short or of more than one version or refresh
#   4. least-privilege roles: the refresh by a manager that is not a superuser
#      (the model's owner role; median of RUNS) and a read of the whole view by
#      a role with nothing but a serving grant (count(*), median of 5), both
#      under the table's row-level security, which a superuser bypasses
#   5. a second model of BIG_USERS users (default 50,000; 0 skips it, demo data
#      of seed 2 with the same weights): recommend_all over it, its first
#      refresh and a second one right after (the first writes 10 * BIG_USERS
#      rows, the second updates them in place)
# Environment: PG_CONFIG, USERS (5000), BIG_USERS (50000), SECONDS_PER_RUN (10), RUNS (3),
# ONLY=batch (part 1 only: it runs on versions without explain or refresh).
set -u
cd "$(dirname "$0")/../.."
. scripts/lib.sh

USERS=${USERS:-5000}
BIG_USERS=${BIG_USERS:-50000}
SECS=${SECONDS_PER_RUN:-10}
RUNS=${RUNS:-3}
OUT=$(mktemp -d /tmp/animerec-bench.XXXXXX)
chmod 777 "$OUT"

build_install
make -s test/nn/bin/make_blob >/dev/null
start_cluster
PSQL="psql -X -q -v ON_ERROR_STOP=1"
echo "machine: $(nproc) vCPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load before: $(cut -d' ' -f1-3 /proc/loadavg)"

$PSQL >/dev/null <<SQL
CREATE EXTENSION animerec;
SELECT * FROM animerec.generate_demo_data($USERS, 2000, 1);
CREATE TABLE bench_ratings AS SELECT user_id, item_id * 10 AS item_id, rating, rated_at FROM demo_ratings;
CREATE INDEX ON bench_ratings (user_id, rated_at);
CREATE TABLE bench_items AS SELECT item_id * 10 AS item_id, name, tags FROM demo_items;
ALTER TABLE bench_items ADD PRIMARY KEY (item_id);
CREATE TABLE bench_users50 AS
SELECT row_number() OVER (ORDER BY user_id) AS n, user_id FROM bench_ratings GROUP BY user_id HAVING count(*) >= 50;
ANALYZE;
SQL
test/nn/bin/make_blob "$OUT/bench.bin" 2000 40 64 128 2 50 1
$PSQL <<SQL
\set hex \`od -An -tx1 -v $OUT/bench.bin | tr -d ' \n'\`
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, items_table, item_key, hyperparams, weights)
VALUES ('bench', 1, 'ready', true, 'public.bench_ratings', 'user_id', 'item_id', 'rating', 'rated_at',
        'public.bench_items', 'item_id', '{}', decode(:'hex', 'hex'));
SELECT animerec.load_model('bench') \gset
SQL
echo "data: $($PSQL -At -c "SELECT count(DISTINCT user_id) || ' users, ' || count(*) || ' ratings, ' || (SELECT count(*) FROM bench_users50) || ' users with >= 50 ratings' FROM bench_ratings")"

# p50 and p95 in ms of pgbench's per-transaction logs $OUT/$1.*
percentiles() {
	cat "$OUT"/"$1".* | awk '{print $3}' | sort -n |
		awk '{a[NR]=$1} END {printf "p50 %.1f ms, p95 %.1f ms (%d calls)", a[int(NR*0.5)+1]/1000, a[int(NR*0.95)+1]/1000, NR}'
}
# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# seconds of SQL $2 with animerec.threads = $1 and progress NOTICEs off, by role $3 (default: the superuser)
secs() {
	local start end
	start=$(date +%s.%N)
	PGUSER=${3:-$PGUSER} PGOPTIONS="-c animerec.threads=$1" $PSQL -c "SET animerec.progress_notices = off" \
		-c "$2" >/dev/null
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}

# 0. reading the histories: recommend_all's query over every user (src/serve.c history_sql) in
# the order it reads them, each user's rows oldest first, and in recommend's order, newest first,
# which the index on (user_id, rated_at) leaves PostgreSQL to sort (EXPLAIN ANALYZE, median of 3)
history_read_ms() {
	for i in 1 2 3; do
		$PSQL -At -c "EXPLAIN (ANALYZE, TIMING OFF) SELECT user_id::bigint, item_id::bigint, rating::real
		              FROM public.bench_ratings WHERE user_id IS NOT NULL ORDER BY user_id, rated_at$1, item_id$1" |
			sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p'
	done | median
}
echo "reading every history (EXPLAIN ANALYZE, median of 3): oldest first (recommend_all) $(history_read_ms "") ms," \
	"newest first $(history_read_ms " DESC") ms"

# 1. batch path
echo "SELECT * FROM animerec.recommend_all(10, 'bench') LIMIT 10;" >"$OUT/limit.sql"
(cd "$OUT" && PGOPTIONS="-c animerec.threads=1" pgbench -n -c1 -j1 -T"$SECS" -l --log-prefix=limit -f limit.sql >/dev/null 2>&1)
echo "recommend_all(10) LIMIT 10, 1 thread: $(percentiles limit) (target <= 50 ms)"
for i in 1 2 3 4 5; do
	PGOPTIONS="-c animerec.threads=1" $PSQL <<'SQL' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
BEGIN;
DECLARE c CURSOR FOR SELECT * FROM animerec.recommend_all(10, 'bench');
\timing on
FETCH 1 FROM c;
\timing off
COMMIT;
SQL
done | median | xargs printf "first row through a cursor (DECLARE; FETCH 1), 1 thread: %.1f ms (median of 5)\n"
for threads in 1 2; do
	for r in $(seq "$RUNS"); do
		echo "$USERS / $(secs "$threads" "SELECT count(*) FROM animerec.recommend_all(10, 'bench')")" | bc
	done | median | xargs printf "recommend_all(10) over all $USERS users, animerec.threads = $threads: %d users/s (median of $RUNS)\n"
done
if [ "${ONLY:-}" = batch ]; then
	echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
	rm -rf "$OUT"
	exit 0
fi

# 2. explanations at T = 50
cat >"$OUT/explain.sql" <<SQL
\set n random(1, $($PSQL -At -c "SELECT count(*) FROM bench_users50"))
\set item random(1, 2000)
SELECT * FROM animerec.explain((SELECT user_id FROM bench_users50 WHERE n = :n), 10 * :item, 'bench');
SQL
(cd "$OUT" && PGOPTIONS="-c animerec.threads=1" pgbench -n -c1 -j1 -T"$SECS" -l --log-prefix=explain -f explain.sql >/dev/null 2>&1)
echo "explain(user, item) at T = 50, 1 thread: $(percentiles explain) (target p50 <= 20 ms)"

# 3. refresh_recommendations alone, then under 2 readers of the view
$PSQL -c "SET animerec.progress_notices = off" -c "CALL animerec.refresh_recommendations('bench', k => 10)"
refresh_rate() {	# users/s of one refresh with animerec.threads = 2, by role $1 (default: the superuser)
	echo "$USERS / $(secs 2 "CALL animerec.refresh_recommendations('bench', k => 10)" "${1:-}")" | bc
}
echo "refresh_recommendations(k => 10), animerec.threads = 2, alone:" \
	"$(for r in $(seq "$RUNS"); do refresh_rate; done | median) users/s (median of $RUNS; target >= 4000)"
# the same once VACUUM has removed the rows the last refresh replaced (as autovacuum does between
# refreshes far apart): the primary key's inserts then meet no dead entries of the same keys
echo "refresh_recommendations(k => 10), animerec.threads = 2, alone, after VACUUM of the replaced rows:" \
	"$(for r in $(seq "$RUNS"); do $PSQL -c "VACUUM animerec.recommendations"; refresh_rate; done | median) users/s (median of $RUNS)"
# each reader fails (division by zero) on a result that is short, empty or of two versions or refreshes
reader() {
	local n=0 bad=0
	while [ ! -e "$OUT/stop" ]; do
		$PSQL -At -c "SELECT CASE WHEN count(*) <> 10 * $USERS OR count(DISTINCT version) <> 1
		                          OR count(DISTINCT computed_at) <> 1 THEN 1 / (count(*) - count(*)) END
		                FROM public.bench_recommendations" >/dev/null 2>&1 || bad=$((bad + 1))
		n=$((n + 1))
	done
	echo "$n $bad" >"$OUT/reader.$1"
}
reader 1 &
reader 2 &
rates=$(for r in 1 2 3; do refresh_rate; done | tr '\n' ' ')
touch "$OUT/stop"
wait
read -r n1 bad1 <"$OUT/reader.1"
read -r n2 bad2 <"$OUT/reader.2"
echo "refresh_recommendations(k => 10), animerec.threads = 2, 3 runs under 2 readers of the view: ${rates}users/s"
echo "readers of the view during those refreshes: $((n1 + n2)) queries, $((bad1 + bad2)) failed (short, empty or mixed)"

# 4. least-privilege roles, under row-level security
$PSQL >/dev/null <<SQL
CREATE ROLE bench_manager LOGIN;
CREATE ROLE bench_dashboard LOGIN;
UPDATE animerec.model_owners SET owner = 'bench_manager' WHERE name = 'bench';
GRANT SELECT ON public.bench_ratings, public.bench_items TO bench_manager;
SELECT animerec.grant_serving('bench', 'bench_dashboard');
GRANT SELECT ON public.bench_items, public.bench_recommendations TO bench_dashboard;
SQL
echo "refresh_recommendations(k => 10), animerec.threads = 2, by the model's owner role (no superuser):" \
	"$(for r in $(seq "$RUNS"); do refresh_rate bench_manager; done | median) users/s (median of $RUNS)"
echo "the whole view read by a role with a serving grant only (count(*) of $((10 * USERS)) rows):" \
	"$(for r in 1 2 3 4 5; do
		PGUSER=bench_dashboard $PSQL <<'SQL' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
\timing on
SELECT count(*) FROM public.bench_recommendations \g /dev/null
SQL
	done | median) ms (median of 5)"

# 5. a larger model beside it: recommend_all over its BIG_USERS users, then its first refresh
# (every row inserted) and a second one right after (every row updated in place; the MERGE's hash
# of the model's rows is larger than work_mem and goes to disk in batches)
if [ "$BIG_USERS" -gt 0 ]; then
	$PSQL >/dev/null <<SQL
CREATE TABLE big_ratings AS SELECT user_id, item_id * 10 AS item_id, rating, rated_at
                              FROM animerec.demo_ratings($BIG_USERS, 2000, 2);
CREATE INDEX ON big_ratings (user_id, rated_at);
ANALYZE big_ratings;
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, items_table, item_key, hyperparams, weights)
SELECT 'big', 1, 'ready', true, 'public.big_ratings', 'user_id', 'item_id', 'rating', 'rated_at',
       'public.bench_items', 'item_id', '{}', weights FROM animerec.models WHERE name = 'bench';
SQL
	all=$(secs 2 "SELECT count(*) FROM animerec.recommend_all(10, 'big')")
	first=$(secs 2 "CALL animerec.refresh_recommendations('big', k => 10)")
	second=$(secs 2 "CALL animerec.refresh_recommendations('big', k => 10)")
	rows=$($PSQL -At -c "SELECT count(*) FROM animerec.recommendations WHERE model = 'big'")
	printf "a second model of %d users (%d rows written), animerec.threads = 2: recommend_all %.0f users/s; first refresh %.0f users/s; second, right after, %.0f users/s\n" \
		"$BIG_USERS" "$rows" "$(echo "$BIG_USERS / $all" | bc -l)" "$(echo "$BIG_USERS / $first" | bc -l)" \
		"$(echo "$BIG_USERS / $second" | bc -l)"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${KEEP_OUT:-}" ] || rm -rf "$OUT"
