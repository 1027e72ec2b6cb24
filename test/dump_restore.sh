#!/usr/bin/env bash
# test/dump_restore.sh — pg_dump -Fc of a database with trained models and
# pg_restore into a new database give working models: the same registry rows
# (weights, active version, metrics), the same training_log, the same
# recommendations; an interrupted run resumes there, and the next training
# continues the version numbers.
# Starts its own throwaway cluster; TAP output.  Run from scripts/test.
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh
. test/tap.sh
start_cluster
DUMP=$CLUSTER_DIR/src.dump
TRAIN="dim => 16, hidden => 16, layers => 1, maxlen => 20, batch_size => 64, patience => 0, seed => 7"

# q DB SQL...: run the statements in database DB, print unaligned tuples only
q() {
	local db=$1 args=() s
	shift
	for s; do args+=(-c "$s"); done
	psql -XAtq -v ON_ERROR_STOP=1 -d "$db" "${args[@]}"
}

# train DB NAME EPOCHS [ARGS]: train a new version of NAME on demo_ratings
train() {
	q "$1" "SET client_min_messages = warning" \
		"CALL animerec.train('$2', 'demo_ratings', $TRAIN, epochs => $3${4:+, $4})"
}

# registry DB: every registry row, weights as md5
registry() {
	q "$1" "SELECT string_agg(concat_ws(' ', name, version, status, active, owner, ratings_table, n_rows,
	        n_items, n_tags, epochs_done, best_epoch, bytes, hyperparams, metrics, created_at,
	        finished_at, md5(weights), tag_vocab), E'\n' ORDER BY name, version) FROM animerec.models"
}

# training_log DB: every training_log row
training_log() {
	q "$1" "SELECT count(*) || ' ' || md5(string_agg(concat_ws(' ', name, version, epoch, loss, val_hr,
	        val_ndcg, seconds, positions_per_s, logged_at), ',' ORDER BY name, version, epoch))
	        FROM animerec.training_log"
}

# recs DB MODEL: the top 10 of users 1 to 3 as "item:score ..."
recs() {
	q "$1" "SELECT string_agg(item_id || ':' || round(score::numeric, 5), ' ' ORDER BY u, rank)
	        FROM generate_series(1, 3) u, animerec.recommend(u, 10, '$2')"
}

q postgres "CREATE DATABASE src" "CREATE DATABASE dst"
q src "CREATE EXTENSION animerec"
q src "SELECT count(*) FROM animerec.generate_demo_data(users => 300, items => 200, seed => 1)" >/dev/null
train src m 2
train src m 3
q src "SELECT animerec.activate('m', 1)" >/dev/null
train src t 2 "items => 'demo_items'"
# a serving grant and an explicit default model
q src "CREATE ROLE dr_dashboard" "SELECT animerec.grant_serving('m', 'dr_dashboard')" \
	"SELECT animerec.set_default_model('t')" >/dev/null
# an interrupted run of m (version 3) with a checkpoint: cancelled once it has committed an epoch
psql -XAtq -d src -c "SET client_min_messages = warning" \
	-c "CALL animerec.train('m', 'demo_ratings', $TRAIN, epochs => 100000)" >"$CLUSTER_DIR/interrupted.out" 2>&1 &
bg=$!
poll q src "SELECT EXISTS (SELECT FROM animerec.models WHERE name = 'm' AND version = 3 AND epochs_done >= 1)"
q src "SELECT pg_cancel_backend(train_pid) FROM animerec.models WHERE name = 'm' AND version = 3" >/dev/null
wait "$bg"
ok 'grep -q "^ERROR:  canceling statement due to user request" "$CLUSTER_DIR/interrupted.out"' \
	"an interrupted run of m is left with its checkpoint"
m_before=$(recs src m)
t_before=$(recs src t)
registry_before=$(registry src)
log_before=$(training_log src)
ok '[ -n "$m_before" ] && [ -n "$t_before" ]' "two models serve in the source database"

is "$(q src "SELECT string_agg(c::regclass::text, ',' ORDER BY c::regclass::text)
             FROM pg_extension, unnest(extconfig) c WHERE extname = 'animerec'")" \
	"animerec.model_owners,animerec.models,animerec.serving_grants,animerec.training_log" \
	"the registry tables are extension configuration tables"
is "$(q src "SELECT count(*) FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
             WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'animerec')
               AND c.relkind = 'S'")" 0 "the extension owns no sequence (a version is the name's max + 1)"

t0=$(date +%s%N)
pg_dump -Fc -d src -f "$DUMP" 2>"$CLUSTER_DIR/dump.err"
is "$?:$(cat "$CLUSTER_DIR/dump.err")" "0:" "pg_dump -Fc succeeds without warnings"
t1=$(date +%s%N)
pg_restore --exit-on-error -d dst "$DUMP" 2>"$CLUSTER_DIR/restore.err"
is "$?:$(cat "$CLUSTER_DIR/restore.err")" "0:" "pg_restore into a new database succeeds without errors"
t2=$(date +%s%N)
echo "# $(q src "SELECT count(*) FROM animerec.models") model versions and $(q src "SELECT count(*) FROM demo_ratings") ratings:" \
	"dump $(stat -c %s "$DUMP") bytes in $(( (t1 - t0) / 1000000 )) ms, restored in $(( (t2 - t1) / 1000000 )) ms"

is "$(registry dst)" "$registry_before" "the registry rows are restored with their weights and active version"
is "$(training_log dst)" "$log_before" "the training_log is restored"
is "$(q dst "SELECT string_agg(name || ' ' || owner::text, ',' ORDER BY name) FROM animerec.model_owners")" \
	"$(q src "SELECT string_agg(name || ' ' || owner::text, ',' ORDER BY name) FROM animerec.model_owners")" \
	"the owners of the model names are restored"
is "$(q dst "SELECT string_agg(name || ':' || grantee, ',') FROM animerec.serving_grants")/$(q dst "SELECT name FROM animerec.model_owners WHERE is_default")" \
	"m:dr_dashboard/t" "the serving grants and the default model are restored"
is "$(recs dst m)" "$m_before" "the restored model m gives the same recommendations"
is "$(recs dst t)" "$t_before" "the restored model t (with item tags) gives the same recommendations"
is "$(q dst "SELECT string_agg(name || ' ' || version, ',' ORDER BY name) FROM animerec.loaded_models")" \
	"m 1,t 1" "the new database loads its own copies"
done=$(q dst "SELECT epochs_done FROM animerec.models WHERE name = 'm' AND version = 3 AND status = 'training'")
train dst m $((done + 1)) "resume => true"
is "$(q dst "SELECT version || ' ' || status || ' ' || active || ' ' || epochs_done FROM animerec.models
             WHERE name = 'm' ORDER BY version DESC LIMIT 1")" \
	"3 ready true $((done + 1))" "the interrupted run resumes in the restored database from its checkpoint"
train dst m 1
is "$(q dst "SELECT version || ' ' || status || ' ' || active FROM animerec.models WHERE name = 'm' ORDER BY version DESC LIMIT 1")" \
	"4 ready true" "the next training there is version 4"
is "$(recs src m)" "$m_before" "the source database is unchanged"
q postgres "DROP DATABASE src" "DROP DATABASE dst" "DROP ROLE dr_dashboard"
done_testing
