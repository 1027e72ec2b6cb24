#!/usr/bin/env bash
# test/serve_nopreload.sh — serving works without shared_preload_libraries: each
# connection keeps its own model copy and says so once in a NOTICE.  Starts its
# own throwaway cluster without preloading; TAP output.  Run from scripts/test
# (needs the extension installed and test/nn/bin/make_blob built).
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh
. test/tap.sh
CLUSTER_PRELOAD= start_cluster
PSQL="psql -X -q -v ON_ERROR_STOP=1"
$PSQL <<'SQL'
CREATE EXTENSION animerec;
CREATE TABLE r (user_id int, anime_id int, rating real, ts int);
INSERT INTO r SELECT u, 10 * (1 + (u * 7 + s * 3) % 30), 1 + (u + s) % 10, s
FROM generate_series(1, 20) u, generate_series(1, 4) s;
\set blob `test/nn/bin/make_blob /dev/stdout 30 4 8 8 2 5 42 | od -An -tx1 -v | tr -d ' \n'`
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('np', 1, 'ready', true, 'public.r', 'user_id', 'anime_id', 'rating', 'ts', '{}', decode(:'blob', 'hex'));
SQL
out=$($PSQL -At 2>&1 <<'SQL'
SELECT (animerec.build_info()->>'preloaded');
SELECT count(*) FROM animerec.recommend(1, 5, 'np');
SELECT count(*) FROM animerec.recommend(2, 5, 'np');
SELECT name || ' v' || version || ' shared=' || shared FROM animerec.loaded_models;
SQL
)
ok '[ "$(echo "$out" | grep -c "NOTICE:  animerec is not in shared_preload_libraries")" = 1 ]' \
	"one NOTICE per connection"
ok 'echo "$out" | grep -q "HINT:  Add animerec to shared_preload_libraries"' "with the hint to preload"
ok '[ "$(echo "$out" | grep -v -e NOTICE -e HINT | tr "\n" " ")" = "false 5 5 np v1 shared=false " ]' \
	"recommendations from this connection's own copy"
other=$($PSQL -At -c "SELECT count(*) FROM animerec.loaded_models" 2>&1)
ok '[ "$other" = 0 ]' "another connection has loaded nothing yet"
$PSQL -c "INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col, rating_col, order_col, hyperparams, weights)
          SELECT name, 2, status, false, ratings_table, user_col, item_col, rating_col, order_col, hyperparams, weights FROM animerec.models WHERE name = 'np'"
out=$($PSQL -At 2>/dev/null <<'SQL'
SELECT count(*) FROM animerec.recommend(1, 5, 'np');
UPDATE animerec.models SET active = false WHERE name = 'np';
UPDATE animerec.models SET active = true WHERE name = 'np' AND version = 2;
SELECT count(*) FROM animerec.recommend(1, 5, 'np');
SELECT string_agg(name || ' v' || version, ',') FROM animerec.loaded_models;
SQL
)
ok '[ "$(echo "$out" | tail -1)" = "np v2" ]' "a new active version replaces the connection's copy"
out=$($PSQL -At -c "UPDATE animerec.models SET weights = overlay(weights PLACING '\\xff'::bytea FROM 200) WHERE name = 'np' AND version = 2" \
	-c "SELECT count(*) FROM animerec.recommend(1, 5, 'np')" 2>&1)
ok 'echo "$out" | grep -q "ERROR:  weights of model \"np\" version 2 are corrupt"' "corrupt weights are rejected"
done_testing
