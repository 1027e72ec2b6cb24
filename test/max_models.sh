#!/usr/bin/env bash
# test/max_models.sh — animerec.max_models, the model cache's slot count: a
# postmaster setting (default 64) read at server start; loading one model more
# than it allows is refused with 54000 and a hint, and unloading frees a slot.
# Starts its own throwaway preloaded cluster; TAP output.  Run from scripts/test
# (needs the extension installed and test/nn/bin/make_blob built).
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh
. test/tap.sh
start_cluster
PSQL="psql -X -q -v ON_ERROR_STOP=1"
is "$($PSQL -At -c "SHOW animerec.max_models")" 64 "the default is 64 slots"
is "$($PSQL -At -c "SET animerec.max_models = 3" 2>&1)" \
	'ERROR:  parameter "animerec.max_models" cannot be changed without restarting the server' \
	"it is not a session setting"
$PSQL -c "ALTER SYSTEM SET animerec.max_models = 2" >/dev/null
$CLUSTER_RUN_AS "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/log" -w restart >/dev/null
is "$($PSQL -At -c "SHOW animerec.max_models")" 2 "a restart applies a new value"
$PSQL >/dev/null <<'SQL'
CREATE EXTENSION animerec;
CREATE TABLE r (user_id int, anime_id int, rating real, ts int);
INSERT INTO r SELECT u, 10 * (1 + (u * 7 + s * 3) % 30), 1 + (u + s) % 10, s
FROM generate_series(1, 20) u, generate_series(1, 4) s;
CREATE INDEX ON r (user_id, ts);
\set blob `test/nn/bin/make_blob /dev/stdout 30 4 8 8 2 5 42 | od -An -tx1 -v | tr -d ' \n'`
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
SELECT n, 1, 'ready', true, 'public.r', 'user_id', 'anime_id', 'rating', 'ts', '{}', decode(:'blob', 'hex')
FROM unnest(ARRAY['m1', 'm2', 'm3']) n;
SQL
is "$($PSQL -At -c "SELECT animerec.load_model('m1') + animerec.load_model('m2')")" 2 "two models load"
out=$($PSQL -At -c "\\set VERBOSITY verbose" -c "SELECT animerec.load_model('m3')" 2>&1)
ok 'echo "$out" | grep -q "^ERROR:  54000: cannot load model \"m3\": 2 models are loaded already"' \
	"a third is refused with 54000"
ok 'echo "$out" | grep -q "^HINT:  Unload a model with animerec.unload_model(), or raise animerec.max_models (restart needed)."' \
	"with a hint naming animerec.max_models"
is "$($PSQL -At -c "SELECT animerec.unload_model('m1')" -c "SELECT count(*) FROM animerec.recommend(1, 3, 'm3')")" \
	"$(printf 't\n3')" "unloading one frees its slot"
done_testing
