#!/usr/bin/env bash
# test/shards.sh — user-sharded serving (issue 13): three shard clusters and a
# router cluster, throwaway, removed at exit.  The router database is also the
# coordinator and the single-server reference:
#   - PL/Proxy cluster animerec_shards: 4 partitions on the 3 shards (p3 on
#     shard 0 again), extension animerec_router;
#   - the demo data set (300 users) is generated there and each user's rows
#     are written through postgres_fdw to the shard of its partition;
#   - a model is trained on the UNION ALL of the shards' foreign tables,
#     exported and published to every shard (animerec_router.publish), and
#     imported locally over the full table as the single-server reference.
# Checks: for every user (and a user without rows) the router's recommend
# equals the single server's; swapping two partitions' shards breaks that
# (the comparison's control); recommend_all returns every user once with the
# same rows; the array, history and similar-items paths agree; every
# partition says which version it serves; with a shard down exactly its
# users get an error naming it and the others are served; a publication
# that shard missed leaves it serving its version, which it says, until it
# is published again.  Run from scripts/test; TAP output.
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh
. test/tap.sh
. test/clusters.sh
export PGCONNECT_TIMEOUT=10
TRAIN="CALL animerec.train('m', 'all_ratings', dim => 16, hidden => 16, layers => 1, maxlen => 20,
       epochs => 2, patience => 0, batch_size => 64"

clusters_init
for c in s0 s1 s2 router; do
	new_cluster "$c"
done

# q SQL...: statements in one session of the router database, tuples only
q() {
	local args=() s
	for s; do args+=(-c "$s"); done
	pg router -c "SET client_min_messages = warning" "${args[@]}" 2>&1
}

# the router: coordinator, PL/Proxy cluster, single-server data
q "CREATE EXTENSION animerec" "CREATE EXTENSION postgres_fdw" "CREATE EXTENSION animerec_router CASCADE" \
	"SELECT count(*) FROM animerec.generate_demo_data(users => 300, items => 100, seed => 4)" >/dev/null
columns=$(q "SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
             FROM pg_attribute WHERE attrelid = 'demo_ratings'::regclass AND attnum > 0 AND NOT attisdropped")
q "CREATE SERVER animerec_shards FOREIGN DATA WRAPPER plproxy OPTIONS (p0 '$(conninfo s0)',
       p1 '$(conninfo s1)', p2 '$(conninfo s2)', p3 '$(conninfo s0)')" \
	"CREATE USER MAPPING FOR PUBLIC SERVER animerec_shards" >/dev/null
for s in s0 s1 s2; do
	pg "$s" -c "SET client_min_messages = warning" -c "CREATE EXTENSION animerec" \
		-c "CREATE TABLE ratings ($columns)" -c "CREATE INDEX ON ratings (user_id, rated_at)" >/dev/null
	q "CREATE SERVER fdw_$s FOREIGN DATA WRAPPER postgres_fdw
	       OPTIONS (host '$CLUSTERS_DIR/$s', port '${CLUSTER_PORT[$s]}', dbname 'postgres')" \
		"CREATE USER MAPPING FOR CURRENT_USER SERVER fdw_$s OPTIONS (user 'postgres')" \
		"CREATE SCHEMA $s" "IMPORT FOREIGN SCHEMA public LIMIT TO (ratings) FROM SERVER fdw_$s INTO $s" \
		"INSERT INTO $s.ratings SELECT d.* FROM demo_ratings d
		   JOIN animerec_router.partitions() p ON p.partition = animerec_router.partition_of(d.user_id)
		  WHERE p.connstr = '$(conninfo "$s")'" >/dev/null
	pg "$s" -c "ANALYZE ratings"
done
q "CREATE VIEW all_ratings AS SELECT * FROM s0.ratings UNION ALL SELECT * FROM s1.ratings
                              UNION ALL SELECT * FROM s2.ratings" >/dev/null
is "$(q "SELECT (SELECT count(*) FROM all_ratings) = (SELECT count(*) FROM demo_ratings)
            AND (SELECT count(DISTINCT user_id) FROM s0.ratings) + (SELECT count(DISTINCT user_id) FROM s1.ratings)
              + (SELECT count(DISTINCT user_id) FROM s2.ratings) = 300
            AND (SELECT count(*) > 0 FROM s1.ratings)")" t \
	"each user's rows are on exactly one shard, all rows are on some shard"

# train on the coordinator through postgres_fdw, publish to every shard
q "$TRAIN, seed => 11)" >/dev/null
is "$(q "SELECT string_agg(partition || ':' || coalesce(version::text, error), ' ' ORDER BY partition)
         FROM animerec_router.publish('m', animerec.export_model('m'), ratings => 'ratings')")" \
	"0:1 1:1 2:1 3:1" "a model trained on the shards' UNION ALL is published to every partition"
q "SELECT animerec.import_model('m_single', animerec.export_model('m'), ratings => 'demo_ratings')" >/dev/null
checksum1=$(q "SELECT checksum FROM animerec.active_versions('m')")
is "$(q "SELECT string_agg(partition || ':' || version || ':' || (checksum = '$checksum1')::int, ' ' ORDER BY partition)
         FROM animerec_router.versions('m')")" "0:1:1 1:1:1 2:1:1 3:1:1" \
	"every partition serves version 1 with the coordinator's weights checksum"

# per-user comparison of the router with the single server (model m_single);
# the users are every user of the data set and one without rows
q "CREATE TABLE users AS SELECT DISTINCT user_id::bigint AS user_id FROM demo_ratings UNION ALL SELECT 100000" \
	"CREATE FUNCTION recs(model text, u bigint) RETURNS text LANGUAGE sql AS \$\$
	     SELECT string_agg(concat_ws(':', rank, item_id, score::float8), ' ' ORDER BY rank)
	       FROM animerec.recommend(u, 10, model) \$\$" \
	"CREATE FUNCTION routed(u bigint) RETURNS text LANGUAGE sql AS \$\$
	     SELECT string_agg(concat_ws(':', rank, item_id, score::float8), ' ' ORDER BY rank)
	       FROM animerec_router.recommend(u, 10, 'm') \$\$" \
	"CREATE FUNCTION compare(single_model text, OUT equal int, OUT differ int, OUT failed int,
	                         OUT differ_partitions int[], OUT failed_partitions int[], OUT error text)
	 LANGUAGE plpgsql AS \$\$
	 DECLARE
	     u bigint;
	     got text;
	 BEGIN
	     equal := 0; differ := 0; failed := 0;
	     FOR u IN SELECT user_id FROM users ORDER BY user_id LOOP
	         BEGIN
	             got := routed(u);
	             IF got IS NOT DISTINCT FROM recs(single_model, u) AND got IS NOT NULL THEN
	                 equal := equal + 1;
	             ELSE
	                 differ := differ + 1;
	                 differ_partitions := differ_partitions || animerec_router.partition_of(u);
	             END IF;
	         EXCEPTION WHEN OTHERS THEN
	             failed := failed + 1;
	             failed_partitions := failed_partitions || animerec_router.partition_of(u);
	             error := SQLERRM;
	         END;
	     END LOOP;
	     SELECT array_agg(DISTINCT p ORDER BY p) INTO differ_partitions FROM unnest(differ_partitions) p;
	     SELECT array_agg(DISTINCT p ORDER BY p) INTO failed_partitions FROM unnest(failed_partitions) p;
	 END \$\$" >/dev/null
is "$(q "SELECT concat_ws(' ', equal, differ, failed) FROM compare('m_single')")" "301 0 0" \
	"for every user (and one without rows) the router's recommend equals the single server's"

# the control: partitions 1 and 2 sent to each other's shard give other answers
q "ALTER SERVER animerec_shards OPTIONS (SET p1 '$(conninfo s2)', SET p2 '$(conninfo s1)')" >/dev/null
got=$(q "SELECT concat_ws(' ', differ > 0, failed, differ_partitions) FROM compare('m_single')")
is "$got" "t 0 {1,2}" "with partitions 1 and 2 swapped, their users' answers differ (and only theirs)"
q "ALTER SERVER animerec_shards OPTIONS (SET p1 '$(conninfo s1)', SET p2 '$(conninfo s2)')" >/dev/null
is "$(q "SELECT concat_ws(' ', equal, differ, failed) FROM compare('m_single')")" "301 0 0" \
	"restored, every answer is the single server's again"

# the batch path and the array path: the same users, ranks and items; the
# scores of a batch come out of GEMMs whose row count differs between the
# single server (all users) and each shard (its users), so they may differ in
# the last bits (float32): within 1e-6, relative above 1
# all_rows ROUTER_CALL SINGLE_CALL: "rows users rows-with-another-item scores-within-1e-6"
all_rows() {
	q "SELECT count(*) || ' ' || count(DISTINCT coalesce(a.user_id, b.user_id)) || ' '
	          || count(*) FILTER (WHERE a.item_id IS DISTINCT FROM b.item_id) || ' '
	          || coalesce(max(abs(a.score - b.score) / greatest(abs(b.score), 1)) <= 1e-6, false)
	     FROM $1 a FULL JOIN $2 b ON a.user_id = b.user_id AND a.rank = b.rank"
}
echo "# recommend_all, router against single server: largest score difference $(q "SELECT max(abs(a.score - b.score))::float8 || ' absolute, ' || max(abs(a.score - b.score) / greatest(abs(b.score), 1e-3))::float8 || ' relative'
     FROM animerec_router.recommend_all(10, 'm') a JOIN animerec.recommend_all(10, 'm_single') b USING (user_id, rank)")"
is "$(all_rows "animerec_router.recommend_all(10, 'm')" "animerec.recommend_all(10, 'm_single')")" "3000 300 0 true" \
	"recommend_all through the router: every user, the single server's items and ranks, scores within 1e-6 (absolute below 1)"
is "$(q "SELECT count(*) || ' ' || count(DISTINCT user_id) FROM animerec_router.recommend_all(10, 'm')")" "3000 300" \
	"recommend_all through the router returns each of the 300 users once"
is "$(all_rows "animerec_router.recommend_all(5, 'm', ARRAY[1, 2, 3, 17, 100000, 2])" \
	"animerec.recommend_all(5, 'm_single', ARRAY[1, 2, 3, 17, 100000, 2])")" "25 5 0 true" \
	"recommend_all for given users, each sent to its shard (SPLIT), equals the single server's"
OTHERS="SELECT string_agg(concat_ws(':', rank, item_id, score::float8), ' ' ORDER BY rank)"
is "$(q "$OTHERS FROM animerec_router.recommend_for_history(ARRAY[3, 9, 27, 81]::bigint[], model => 'm')")" \
	"$(q "$OTHERS FROM animerec.recommend_for_history(ARRAY[3, 9, 27, 81]::bigint[], model => 'm_single')")" \
	"recommend_for_history on any shard equals the single server's"
is "$(q "$OTHERS FROM animerec_router.similar_items(5, 10, 'm')")" "$(q "$OTHERS FROM animerec.similar_items(5, 10, 'm_single')")" \
	"similar_items on any shard equals the single server's"
# explain for 40 users of all 4 partitions: "users with equal non-empty explanations, partitions"
EXPLAINED="string_agg(concat_ws(':', rank, history_item_id, contribution, position), ' ' ORDER BY rank)"
is "$(q "WITH t AS (SELECT u, (SELECT item_id FROM animerec.recommend(u, 1, 'm_single')) AS i
                    FROM generate_series(1, 40) u)
         SELECT count(*) FILTER (WHERE a.r = b.r) || ' ' || count(DISTINCT animerec_router.partition_of(u))
           FROM t, LATERAL (SELECT $EXPLAINED AS r FROM animerec_router.explain(u, i, 'm')) a,
                LATERAL (SELECT $EXPLAINED AS r FROM animerec.explain(u, i, 'm_single')) b")" "40 4" \
	"explain on each user's shard equals the single server's (40 users of all 4 partitions)"

# a shard down: its users (partition 1) get an error naming it, the others are
# served (version 2 is trained first, while every shard can be read, and not published)
q "$TRAIN, seed => 12)" >/dev/null
pg_ctl_of s1 -m immediate stop >/dev/null
got=$(q "SELECT concat_ws(' ', equal, differ, failed > 0, failed_partitions) FROM compare('m_single')")
s1_users=$(q "SELECT count(*) FROM users WHERE animerec_router.partition_of(user_id) = 1")
others=$((301 - s1_users))
is "$got" "$others 0 t {1}" "shard 1 down: its $s1_users users fail, the other $others are served the single server's answers"
err=$(q "SELECT error FROM compare('m_single')")
echo "# the error of a user on the stopped shard: $err"
ok 'echo "$err" | grep -q "$CLUSTERS_DIR/s1"' "the error names the unreachable shard's address"

# a publication that shard missed: it keeps serving version 1 and says so
got=$(q "SELECT string_agg(partition || ':' || coalesce(version::text, 'error'), ' ' ORDER BY partition)
         FROM animerec_router.publish('m', animerec.export_model('m'), ratings => 'ratings')")
is "$got" "0:2 1:error 2:2 3:2" "version 2 is published to every partition but the one down"
pg_ctl_of s1 -w -t 60 start >/dev/null
checksum2=$(q "SELECT checksum FROM animerec.active_versions('m')")
is "$(q "SELECT string_agg(partition || ':' || version || ':' || (checksum = CASE version WHEN 1 THEN '$checksum1' ELSE '$checksum2' END)::int,
                           ' ' ORDER BY partition) FROM animerec_router.versions('m')")" "0:2:1 1:1:1 2:2:1 3:2:1" \
	"back up, the shard that missed it says it serves version 1 (others version 2)"
is "$(q "SELECT count(*) FILTER (WHERE routed(user_id) IS NOT DISTINCT FROM recs('m_single', user_id))
                = count(*) FROM users WHERE animerec_router.partition_of(user_id) = 1")" t \
	"and its users get version 1's answers"
q "SELECT count(*) FROM animerec_router.publish('m', animerec.export_model('m'), ratings => 'ratings')" \
	"SELECT animerec.import_model('m_single', animerec.export_model('m'), ratings => 'demo_ratings')" >/dev/null
is "$(q "SELECT string_agg(partition || ':' || version, ' ' ORDER BY partition) FROM animerec_router.versions('m')")" \
	"0:2 1:2 2:2 3:2" "published again, every partition serves version 2"
is "$(q "SELECT concat_ws(' ', equal, differ, failed) FROM compare('m_single')")" "301 0 0" \
	"and every answer is the single server's version 2 answer"
done_testing
