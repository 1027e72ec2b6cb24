#!/usr/bin/env bash
# test/faults.sh — faults and concurrency in a throwaway cluster (with
# shared_preload_libraries = animerec); TAP output.  Run from scripts/test
# (needs the extension installed and test/nn/bin/make_blob built).
#
# Faults: kill -9 of a training backend, pg_ctl stop -m immediate during
# training and during serving, statement_timeout during training, a model
# refused by the animerec.max_shared_memory cap.  After each: the server is
# back, the interrupted run is not active, the active version serves the same
# recommendations as before, and training works (resume => true continues an
# interrupted run from its last checkpointed epoch).
# Concurrency: a second training of a name being trained (or trained in a
# transaction block not yet ended) fails with 55P03, and a cancelled run can be
# resumed from another session; a training's final activation and activate()
# at once both succeed; serving goes on from the active version while a new
# one trains and switches when it is done; DROP EXTENSION while another
# session has a model loaded.
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh
. test/tap.sh
start_cluster
PGCTL="$CLUSTER_RUN_AS $("$PG_CONFIG" --bindir)/pg_ctl -D $CLUSTER_DIR/data -l $CLUSTER_DIR/log"
TRAIN="CALL animerec.train('m', 'demo_ratings', dim => 16, hidden => 16, layers => 1, maxlen => 20,
       batch_size => 64, patience => 0, seed => 7"

# q SQL: run SQL in a new session, print unaligned tuples only
q() {
	psql -XAtq -v ON_ERROR_STOP=1 -c "$1"
}

# q_err SQL...: run the statements in one session, print "SQLSTATE: message" of the error
q_err() {
	local args=() s
	for s; do args+=(-c "$s"); done
	psql -XAtq -v VERBOSITY=verbose "${args[@]}" 2>&1 >/dev/null | sed -n 's/^ERROR:  //p'
}

# train EPOCHS: train a new version of 'm' (without NOTICEs)
train() {
	psql -XAtq -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "$TRAIN, epochs => $1)"
}

# wait_for SQL: poll until SQL returns t; bail out after 60 s
wait_for() {
	poll q "$1"
}

# running EPOCHS: wait until the training of 'm' has checkpointed EPOCHS epochs;
# sets ver and pid to its version and backend
running() {
	wait_for "SELECT EXISTS (SELECT FROM animerec.models m JOIN pg_stat_activity a ON a.pid = m.train_pid
	          WHERE m.name = 'm' AND m.status = 'training' AND m.epochs_done >= $1 AND a.state = 'active')"
	read -r ver pid < <(q "SELECT version || ' ' || train_pid FROM animerec.models
	                      WHERE name = 'm' AND status = 'training' ORDER BY version DESC LIMIT 1")
}

# server_up: wait until the server accepts connections again (at most 60 s)
server_up() {
	local i
	for i in $(seq 600); do
		psql -XAtq -c "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# long_training LOG: a training of 'm' that runs until stopped, in the background ($bg)
long_training() {
	psql -X -v VERBOSITY=verbose -c "SET animerec.progress_notices = off" \
		-c "$TRAIN, epochs => 100000)" >"$1" 2>&1 &
	bg=$!
}

# recs [MODEL]: the top 10 of users 1 and 2 as "item:score ..." (scores to 5 decimals)
recs() {
	q "SELECT string_agg(item_id || ':' || round(score::numeric, 5), ' ' ORDER BY u, rank)
	   FROM generate_series(1, 2) u, animerec.recommend(u, 10, '${1:-m}')"
}

# state: name version status active of every row of 'm'
state() {
	q "SELECT string_agg(version || ' ' || status || ' ' || active, ', ' ORDER BY version)
	   FROM animerec.models WHERE name = 'm'"
}

# now: seconds since the epoch, with fractions
now() {
	date +%s.%N
}

# seconds_since T: seconds from T to now, one decimal
seconds_since() {
	echo "$(now) $1" | awk '{ printf "%.1f", $1 - $2 }'
}

# immediate_restart WHAT: pg_ctl stop -m immediate while $bg does WHAT, then start
# again (crash recovery) and say how long that took
immediate_restart() {
	local t0
	$PGCTL -m immediate stop >/dev/null
	wait "$bg"
	t0=$(now)
	$PGCTL -w start >/dev/null
	echo "# pg_ctl stop -m immediate during $1: restarted (crash recovery) in $(seconds_since "$t0") s"
	ok 'server_up' "immediate stop during $1: the server starts again"
}

q "CREATE EXTENSION animerec" >/dev/null
q "SELECT count(*) FROM animerec.generate_demo_data(users => 300, items => 200, seed => 1)" >/dev/null
train 3
before=$(recs)
ok '[ -n "$before" ] && [ "$(state)" = "1 ready true" ]' "a first version serves"

# ---- kill -9 of a training backend after two checkpointed epochs ----
long_training "$CLUSTER_DIR/kill.out"
running 2
t0=$(now)
kill -9 "$pid"
wait "$bg"
server_up
echo "# kill -9: connections accepted again after $(seconds_since "$t0") s"
ok 'server_up' "kill -9 of a training backend: the server restarts"
is "$(state)" "1 ready true, 2 training false" "the killed run is left 'training', not active"
is "$(q "SELECT count(*) FROM animerec.training_progress")" 0 "no progress slot survives the restart"
is "$(recs)" "$before" "the active version serves the same recommendations"
done_at_kill=$(q "SELECT epochs_done FROM animerec.models WHERE name = 'm' AND version = 2")
ok '[ "$done_at_kill" -ge 2 ]' "checkpointed epochs survive (epochs_done $done_at_kill)"
is "$(q "SELECT count(*) FROM animerec.training_log WHERE name = 'm' AND version = 2")" "$done_at_kill" \
	"with their training_log rows"
out=$(psql -XAt -c "$TRAIN, epochs => $((done_at_kill + 2)), resume => true)" 2>&1)
is "$(echo "$out" | sed -n 's/^NOTICE:  epoch \([0-9]*\)\/.*/\1/p' | head -1)" "$((done_at_kill + 1))" \
	"resume => true restarts from the epoch after the last checkpoint"
is "$(state)" "1 ready false, 2 ready true" "the resumed run finishes and becomes active"
is "$(q "SELECT string_agg(epoch::text, ',' ORDER BY epoch) FROM animerec.training_log
         WHERE name = 'm' AND version = 2")" "$(seq -s, 1 $((done_at_kill + 2)))" \
	"its training_log has every epoch once"
before=$(recs)

# ---- pg_ctl stop -m immediate during training ----
long_training "$CLUSTER_DIR/stop.out"
running 2
immediate_restart training
is "$(state)" "1 ready false, 2 ready true, 3 training false" "the stopped run is left 'training', not active"
is "$(recs)" "$before" "the active version serves the same recommendations"
train 2
is "$(state)" "1 ready false, 2 ready false, 3 failed false, 4 ready true" \
	"the next training works and marks the stopped run failed"
before=$(recs)

# ---- pg_ctl stop -m immediate during serving ----
psql -X -q -c "SELECT count(*) FROM generate_series(1, 100000) i, animerec.recommend(1 + i % 300, 10, 'm')" \
	>/dev/null 2>&1 &
bg=$!
wait_for "SELECT calls >= 200 FROM animerec.loaded_models WHERE name = 'm'"
immediate_restart serving
is "$(q "SELECT count(*) FROM animerec.loaded_models")" 0 "the model cache starts empty"
is "$(recs)" "$before" "the active version serves the same recommendations"
train 2
is "$(state | sed 's/.*, //')" "5 ready true" "the next training works"
before=$(recs)

# ---- statement_timeout during training ----
md5=$(q "SELECT md5(weights) FROM animerec.models WHERE name = 'm' AND active")
err=$(q_err "SET animerec.progress_notices = off" "SET statement_timeout = '1s'" "$TRAIN, epochs => 100000)")
is "$err" "57014: canceling statement due to statement timeout" "statement_timeout cancels training with 57014"
is "$(q "SELECT version || ' ' || md5(weights) FROM animerec.models WHERE name = 'm' AND active")" "5 $md5" \
	"the previous version stays active with the same weights"
is "$(recs)" "$before" "and serves the same recommendations"
is "$(q "SELECT count(*) FROM animerec.training_progress")" 0 "no progress slot is left"
is "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" 0 "no advisory lock is left"
train 2
is "$(state | sed 's/.*, //')" "7 ready true" "the next training works"
is "$(q "SELECT status FROM animerec.models WHERE name = 'm' AND version = 6")" failed \
	"and marks the cancelled run failed"
before=$(recs)

# ---- the animerec.max_shared_memory cap ----
psql -XAtq -v ON_ERROR_STOP=1 <<'SQL'
\set blob `test/nn/bin/make_blob /dev/stdout 6000 8 32 32 1 20 5 | od -An -tx1 -v | tr -d ' \n'`
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('big', 1, 'ready', true, 'public.demo_ratings', 'user_id', 'item_id', 'rating', 'rated_at', '{}',
        decode(:'blob', 'hex'));
SQL
q "ALTER SYSTEM SET animerec.max_shared_memory = 1" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
wait_for "SELECT current_setting('animerec.max_shared_memory') = '1MB'"
err=$(q_err "SELECT animerec.load_model('big')")
ok 'echo "$err" | grep -qE "^53400: model \"big\" version 1 needs [0-9]+ kB of shared memory, but only [0-9]+ kB of animerec.max_shared_memory are free$"' \
	"a model above the cap is refused with 53400 and the size it needs"
echo "# $err"
is "$(recs)" "$before" "the server is fine and the other model still serves"
is "$(q "SELECT string_agg(name, ',') FROM animerec.loaded_models")" m "the refused model takes no memory"
q "ALTER SYSTEM RESET animerec.max_shared_memory" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
wait_for "SELECT current_setting('animerec.max_shared_memory') = '1GB'"
is "$(q "SELECT animerec.load_model('big')")" 1 "with the cap raised it loads"
q "DELETE FROM animerec.models WHERE name = 'big'"

# ---- two trainings of the same name at once ----
# the first runs in a session that stays connected after it is cancelled
mkfifo "$CLUSTER_DIR/trainer"
psql -X -v VERBOSITY=verbose <"$CLUSTER_DIR/trainer" >"$CLUSTER_DIR/twice.out" 2>&1 &
trainer=$!
exec 4>"$CLUSTER_DIR/trainer"
echo "SET animerec.progress_notices = off; $TRAIN, epochs => 100000);" >&4
running 1
err=$(q_err "$TRAIN, epochs => 1)")
is "$err" "55P03: model \"m\" is being trained by another session" \
	"a second training of the same name fails with 55P03"
ok 'psql -XAt -v VERBOSITY=verbose -c "$TRAIN, epochs => 1)" 2>&1 | grep -q "^HINT:  Process $pid is training it"' \
	"whose hint names the training process"
is "$(q_err "SELECT animerec.drop_model('m', $ver)")" "55P03: model \"m\" is being trained by another session" \
	"drop_model of a name being trained fails with 55P03"
q_err "SET client_min_messages = warning" "CALL animerec.train('m2', 'demo_ratings', dim => 8, hidden => 8, epochs => 1)"
is "$(q "SELECT status FROM animerec.models WHERE name = 'm2'")" ready "another name trains meanwhile"
q "SELECT pg_cancel_backend($pid)" >/dev/null
wait_for "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $pid"
ok 'grep -q "^ERROR:  57014" "$CLUSTER_DIR/twice.out"' "the first training is cancelled"
done_at_cancel=$(q "SELECT epochs_done FROM animerec.models WHERE name = 'm' AND version = $ver")
out=$(psql -XAt -c "$TRAIN, epochs => $((done_at_cancel + 1)), resume => true)" 2>&1)
is "$ver $(echo "$out" | sed -n 's/^NOTICE:  epoch \([0-9]*\)\/.*/\1/p' | tr '\n' ' ')$(state | sed 's/.*, //')" \
	"8 $((done_at_cancel + 1)) 8 ready true" \
	"another session resumes it while the cancelled session is still connected"
exec 4>&-
wait "$trainer"
train 1
is "$(state | sed 's/.*, //')" "9 ready true" "then the name trains again"
before=$(recs)

# ---- training while serving the same name ----
# a session holding the active row's lock makes the finished training wait
# before it activates its version, so that serving can be observed meanwhile
mkfifo "$CLUSTER_DIR/locker"
psql -XAtq <"$CLUSTER_DIR/locker" >/dev/null 2>&1 &
locker=$!
exec 3>"$CLUSTER_DIR/locker"
echo "BEGIN; SELECT 1 FROM animerec.models WHERE name = 'm' AND active FOR UPDATE;" >&3
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE state = 'idle in transaction'"
psql -X -c "SET animerec.progress_notices = off" -c "$TRAIN, epochs => 3)" >"$CLUSTER_DIR/serve.out" 2>&1 &
bg=$!
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CALL animerec.train%'"
is "$(q "SELECT status || ' ' || epochs_done FROM animerec.models WHERE name = 'm' AND version = 10")" \
	"training 3" "a new version has trained its epochs"
is "$(recs)" "$before" "serving goes on from the active version meanwhile"
is "$(q "SELECT string_agg(version::text, ',') FROM animerec.loaded_models WHERE name = 'm'")" 9 \
	"which is the one loaded"
echo "COMMIT;" >&3
exec 3>&-
wait "$locker"
wait "$bg"
is "$(state | sed 's/.*, //')" "10 ready true" "the new version becomes active when the training ends"
recs >/dev/null
is "$(q "SELECT string_agg(version::text, ',') FROM animerec.loaded_models WHERE name = 'm'")" 10 \
	"and serves from the next call on"

# ---- activate() while a training activates its version ----
# both wait for the session that locks the active row; the training queued
# first, so activate() must run after it and leave its own choice active
psql -XAtq <"$CLUSTER_DIR/locker" >/dev/null 2>&1 &
locker=$!
exec 3>"$CLUSTER_DIR/locker"
echo "BEGIN; SELECT 1 FROM animerec.models WHERE name = 'm' AND active FOR UPDATE;" >&3
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE state = 'idle in transaction'"
psql -X -v VERBOSITY=verbose -c "SET animerec.progress_notices = off" -c "$TRAIN, epochs => 1)" \
	>"$CLUSTER_DIR/finish.out" 2>&1 &
bg=$!
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
psql -XAt -v VERBOSITY=verbose -c "SELECT animerec.activate('m', 9)" >"$CLUSTER_DIR/activate.out" 2>&1 &
activator=$!
wait_for "SELECT count(*) = 2 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
echo "COMMIT;" >&3
exec 3>&-
wait "$locker" "$bg" "$activator"
is "$(grep -h ERROR "$CLUSTER_DIR/finish.out" "$CLUSTER_DIR/activate.out")" "" \
	"a training and activate() finishing at once both succeed"
is "$(state | sed 's/.*\(9 ready\)/\1/')" "9 ready true, 10 ready false, 11 ready false" \
	"and the later one, activate(), decides the active version"

# ---- a second training while a transaction block that trained the name is open ----
psql -XAtq -v VERBOSITY=verbose <"$CLUSTER_DIR/locker" >"$CLUSTER_DIR/block.out" 2>&1 &
locker=$!
exec 3>"$CLUSTER_DIR/locker"
echo "BEGIN; SET LOCAL client_min_messages = warning; $TRAIN, epochs => 1);" >&3
wait_for "SELECT count(*) = 1 FROM pg_stat_activity WHERE state = 'idle in transaction'"
is "$(q "SELECT max(version) || ' ' || max(version) FILTER (WHERE active) FROM animerec.models WHERE name = 'm'")" \
	"11 9" "a run inside a transaction block is invisible before its COMMIT"
is "$(q_err "$TRAIN, epochs => 1)")" "55P03: model \"m\" is being trained by another session" \
	"and holds the name until then: a second run fails with 55P03"
# the same for a name that block made new: at once, not after waiting on its uncommitted claim
echo "${TRAIN/\'m\'/\'m_new\'}, epochs => 1);" >&3
wait_for "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND l.objid = hashtext('m_new')::oid AND a.state = 'idle in transaction')"
is "$(q_err "SET statement_timeout = '20s'" "${TRAIN/\'m\'/\'m_new\'}, epochs => 1)")" \
	"55P03: model \"m_new\" is being trained by another session" \
	"a second training of a name new in an open transaction block fails at once with 55P03"
echo "COMMIT;" >&3
exec 3>&-
wait "$locker"
train 1
is "$(cat "$CLUSTER_DIR/block.out")$(state | sed 's/.*\(12 ready\)/\1/')" \
	"12 ready false, 13 ready true" "after the COMMIT the name trains its next version"

# ---- DROP EXTENSION while another session has a model loaded ----
mkfifo "$CLUSTER_DIR/holder"
psql -XAtq -v VERBOSITY=verbose <"$CLUSTER_DIR/holder" >"$CLUSTER_DIR/holder.out" 2>&1 &
holder=$!
exec 3>"$CLUSTER_DIR/holder"
echo "SELECT count(*) FROM animerec.recommend(1, 10, 'm');" >&3
wait_for "SELECT calls >= 1 FROM animerec.loaded_models WHERE name = 'm'"
q "DROP EXTENSION animerec" >/dev/null
echo "SELECT count(*) FROM animerec.recommend(1, 10, 'm');" >&3
echo "SELECT 'alive';" >&3
exec 3>&-
wait "$holder"
ok 'grep -q "^ERROR:  42883: function animerec.recommend(integer, integer, unknown) does not exist" "$CLUSTER_DIR/holder.out"' \
	"after DROP EXTENSION the other session's next call fails with 42883"
is "$(sed -n '1p;$p' "$CLUSTER_DIR/holder.out" | tr '\n' ' ')" "10 alive " "and the session goes on"
is "$(q "SELECT 1")" 1 "the server is up"
q "CREATE EXTENSION animerec" >/dev/null
train 2
is "$(state)" "1 ready true" "after CREATE EXTENSION the name trains again from version 1"
is "$(q "SELECT count(*) FROM animerec.recommend(1, 10, 'm')") $(q "SELECT string_agg(name || ' ' || version, ',' ORDER BY name) FROM animerec.loaded_models")" \
	"10 big 1,m 1" "and serves the new version 1, not the dropped one's cached copy"
is "$(q "SELECT animerec.unload_model('big')") $(q "SELECT string_agg(name, ',') FROM animerec.loaded_models")" \
	"t m" "a copy whose registry row is gone stays loaded until unload_model"
done_testing
