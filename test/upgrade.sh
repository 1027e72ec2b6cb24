#!/usr/bin/env bash
# test/upgrade.sh — ALTER EXTENSION animerec UPDATE from the released 0.1.0 gives
# the same extension as a fresh install of the current version: the canonical
# description of test/extension_objects.sql (functions with definitions,
# settings and ACLs; tables with columns, constraints, policies; views;
# configuration tables) must match line for line.  Also checks that a 0.1.0
# model keeps serving after the update, and that the comparison notices a
# missed change.  Runs in the cluster of the libpq environment (scripts/test);
# creates and drops the databases animerec_up and animerec_fresh.  TAP output.
set -u
cd "$(dirname "$0")/.."
PSQL="psql -X -q -v ON_ERROR_STOP=1"
. test/tap.sh
# describe DB: the canonical description of animerec in database DB
describe() { $PSQL -d "$1" -f test/extension_objects.sql; }
current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" animerec.control)
echo "1..9"
for db in animerec_up animerec_fresh; do
	$PSQL -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>&1
done
$PSQL -d animerec_fresh -c "CREATE EXTENSION animerec"

# a 0.1.0 installation with a model, updated
$PSQL -d animerec_up 2>&1 <<'SQL'
CREATE EXTENSION animerec VERSION '0.1.0';
CREATE TABLE r (user_id int, anime_id int, rating real, ts int);
INSERT INTO r SELECT u, 10 * (1 + (u * 7 + s * 3) % 30), 1 + (u + s) % 10, s
FROM generate_series(1, 20) u, generate_series(1, 4) s;
CREATE INDEX ON r (user_id, ts);
\set blob `test/nn/bin/make_blob /dev/stdout 30 4 8 8 2 5 42 | od -An -tx1 -v | tr -d ' \n'`
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('up', 1, 'ready', true, 'public.r', 'user_id', 'anime_id', 'rating', 'ts', '{}', decode(:'blob', 'hex'));
ALTER EXTENSION animerec UPDATE;
SQL
ok '[ "$($PSQL -d animerec_up -Atc "SELECT extversion FROM pg_extension WHERE extname = '\''animerec'\''")" = "$current" ]' \
	"ALTER EXTENSION animerec UPDATE reaches $current"
fresh=$(describe animerec_fresh)
up=$(describe animerec_up)
ok '[ "$(echo "$fresh" | grep -c "^function ")" -gt 20 ] && [ "$(echo "$fresh" | grep -c "^policy ")" -gt 3 ]' \
	"the description lists functions and policies"
ok '[ "$fresh" = "$up" ]' "an updated 0.1.0 installation equals a fresh $current one"
[ "$fresh" = "$up" ] || diff <(echo "$fresh") <(echo "$up") | sed 's/^/# /' | head -60
ok '[ "$($PSQL -d animerec_up -Atc "SELECT owner = current_user FROM animerec.model_owners WHERE name = '\''up'\''")" = t ]' \
	"the 0.1.0 model's name belongs to the role that trained it"
ok '[ "$($PSQL -d animerec_up -Atc "SELECT count(*) FROM animerec.recommend(1, 5, '\''up'\'')" 2>&1)" = 5 ]' \
	"the 0.1.0 model serves after the update"
ok '[ "$($PSQL -d animerec_up -Atc "SELECT count(*) FROM animerec.recommend(1, 5)" 2>&1)" = 5 ]' \
	"the only model of the updated installation became the default model"

# the comparison notices what an incomplete upgrade script would miss
$PSQL -d animerec_up -c "ALTER FUNCTION animerec.recommend(bigint, int, text, boolean) RESET search_path"
ok '[ "$(describe animerec_up)" != "$fresh" ]' "a missing function setting is noticed"
$PSQL -d animerec_up -c "ALTER FUNCTION animerec.recommend(bigint, int, text, boolean) SET search_path = pg_catalog, pg_temp" \
	-c "DROP POLICY training_log_manager ON animerec.training_log"
ok '[ "$(describe animerec_up)" != "$fresh" ]' "a missing policy is noticed"
$PSQL -d animerec_up 2>&1 <<'SQL'
CREATE POLICY training_log_manager ON animerec.training_log
    USING (EXISTS (SELECT 1 FROM animerec.model_owners o
                    WHERE o.name = training_log.name AND animerec._manages(o.owner)))
    WITH CHECK (EXISTS (SELECT 1 FROM animerec.model_owners o
                         WHERE o.name = training_log.name AND animerec._manages(o.owner)));
CREATE OR REPLACE FUNCTION animerec.activate(name text, version int) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$ BEGIN END $$;
SQL
ok '[ "$(describe animerec_up)" != "$fresh" ]' "a function body left at its old definition is noticed"

for db in animerec_up animerec_fresh; do
	$PSQL -c "DROP DATABASE $db"
done
