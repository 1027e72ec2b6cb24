#!/usr/bin/env bash
# test/replicas.sh — read scale-out on streaming hot standbys (issue 13): a
# primary and two standbys made with pg_basebackup -R, all with
# shared_preload_libraries = animerec, in throwaway clusters removed at exit.
# A small seeded model is trained on the primary; then, on each standby:
#   - every serving function returns exactly the primary's rows;
#   - serving writes nothing: no error under default_transaction_read_only,
#     and on the primary a read-only transaction that loads and serves gets
#     no transaction id;
#   - an activation on the primary is served after replay (the delay is
#     printed), and a standby whose replay is paused keeps serving the
#     version it has (the control that shows the check depends on replay);
#   - after the primary stops and a standby is promoted, it serves the same
#     rows and trains a new version; the other standby keeps serving.
# Run from scripts/test (needs the extension installed); TAP output.  Every
# wait is bounded (30 s for replay, 10 s per connection).
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh
. test/tap.sh
. test/clusters.sh
export PGCONNECT_TIMEOUT=10
REPLAY_DEADLINE=30
TRAIN="CALL animerec.train('m', 'demo_ratings', dim => 16, hidden => 16, layers => 1, maxlen => 20,
       epochs => 2, patience => 0, batch_size => 64"

# serving NAME: every serving function's rows on cluster NAME as text (model m,
# loaded afresh): recommend for 30 users with and without seen items, for a
# history, for an embedding, similar_items, recommend_all, the aggregate, and
# the loaded version.  Scores are printed in full (float8 of the real).
SERVING_SQL="
SET client_min_messages = warning;
SELECT animerec.unload_model('m') IS NOT NULL;
SELECT 'recommend', u, rank, item_id, score::float8 FROM generate_series(1, 30) u, animerec.recommend(u, 10, 'm');
SELECT 'seen', rank, item_id, score::float8 FROM animerec.recommend(3, 10, 'm', exclude_seen => false);
SELECT 'history', rank, item_id, score::float8
  FROM animerec.recommend_for_history((SELECT array_agg(item_id ORDER BY item_id) FROM demo_items WHERE item_id % 7 = 1), NULL, 10, 'm');
SELECT 'embedding', rank, item_id, score::float8
  FROM animerec.recommend_for_embedding((SELECT animerec.user_embedding(item_id, rating, 'm' ORDER BY rated_at, item_id)
                                          FROM demo_ratings WHERE user_id = 5), 10, 'm');
SELECT 'similar', rank, item_id, score::float8 FROM animerec.similar_items((SELECT min(item_id) FROM demo_items), 10, 'm');
SELECT 'all', count(*), count(DISTINCT user_id), md5(string_agg(concat_ws(' ', user_id, rank, item_id, score::float8), ',' ORDER BY user_id, rank))
  FROM animerec.recommend_all(5, 'm');
SELECT 'version', animerec.load_model('m'), (SELECT string_agg(name || ' v' || version, ',') FROM animerec.loaded_models);
"
serving() {
	pg "$1" -c "$SERVING_SQL" 2>&1
}

# same GOT WANT DESCRIPTION: a test that GOT equals WANT (serving outputs); the
# first lines of the difference as comments when not
same() {
	same_got=$1 same_want=$2
	ok '[ "$same_got" = "$same_want" ]' "$3"
	[ "$1" = "$2" ] || diff <(echo "$2") <(echo "$1") | grep -E '^[<>]' | sort -s -k1,1r | head -6 | sed 's/^/#   /'
}

# replayed NAME: wait until standby NAME has replayed the primary's current WAL
replayed() {
	local lsn
	lsn=$(pg primary -c "SELECT pg_current_wal_lsn()")
	wait_until "$REPLAY_DEADLINE" "$1" "SELECT pg_last_wal_replay_lsn() >= '$lsn'"
}

# ms_since T0: milliseconds from T0 (date +%s%N) to now
ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

clusters_init
new_cluster primary
new_standby standby1 primary
new_standby standby2 primary
for s in standby1 standby2; do
	is "$(pg "$s" -c "SELECT pg_is_in_recovery()")" t "$s is a hot standby of the primary"
done

# a small seeded model, trained on the primary: version 1 (seed 7), version 2 (seed 8, active)
pg primary -c "SET client_min_messages = warning" -c "CREATE EXTENSION animerec" \
	-c "SELECT count(*) FROM animerec.generate_demo_data(users => 150, items => 100, seed => 3)" \
	-c "$TRAIN, seed => 7)" -c "$TRAIN, seed => 8)" >/dev/null
is "$(pg primary -c "SELECT string_agg(version || ' ' || status || ' ' || active, ', ' ORDER BY version) FROM animerec.models")" \
	"1 ready false, 2 ready true" "two versions trained on the primary, version 2 active"
v2=$(serving primary)
ok '[ "$(echo "$v2" | grep -c "^recommend|")" = 300 ] && echo "$v2" | grep -q "^version|2|m v2$"' \
	"the primary serves version 2 (300 recommend rows)"

# ---- every serving function on each standby returns the primary's rows ----
for s in standby1 standby2; do
	replayed "$s" || echo "# $s did not replay the primary's WAL within $REPLAY_DEADLINE s"
	same "$(serving "$s")" "$v2" "$s: every serving function returns exactly the primary's rows"
done

# ---- serving writes nothing ----
for s in standby1 standby2; do
	got=$(PGOPTIONS="-c default_transaction_read_only=on" serving "$s")
	same "$got" "$v2" "$s: the same rows under default_transaction_read_only = on, no error"
done
got=$(pg primary -c "BEGIN READ ONLY" -c "$SERVING_SQL" \
	-c "SELECT 'xid', pg_current_xact_id_if_assigned() IS NULL" -c "COMMIT" 2>&1)
same "$got" "$v2
xid|t" "primary: loading and serving in a read-only transaction get no transaction id (nothing written)"

# ---- an activation on the primary is served by the standbys after replay ----
pg standby2 -c "SELECT pg_wal_replay_pause()" >/dev/null
wait_until 10 standby2 "SELECT pg_get_wal_replay_pause_state() = 'paused'" ||
	echo "# standby2: replay not paused after 10 s"
pg primary -c "SELECT animerec.activate('m', 1)" >/dev/null
t0=$(date +%s%N)
if wait_until "$REPLAY_DEADLINE" standby1 "SELECT animerec.load_model('m') = 1"; then
	echo "# standby1 serves the activation $(ms_since "$t0") ms after activate() returned on the primary"
fi
v1=$(serving primary)
ok '[ "$v1" != "$v2" ] && echo "$v1" | grep -q "^version|1|m v1$"' "the primary serves version 1 after activate('m', 1)"
same "$(serving standby1)" "$v1" "standby1: serves version 1 after replay, exactly the primary's rows"
lsn=$(pg primary -c "SELECT pg_current_wal_lsn()")
wait_until "$REPLAY_DEADLINE" standby2 "SELECT pg_last_wal_receive_lsn() >= '$lsn'" ||
	echo "# standby2 did not receive the primary's WAL within $REPLAY_DEADLINE s"
same "$(serving standby2)" "$v2" "standby2, replay paused: WAL received but not replayed, keeps serving version 2"
t0=$(date +%s%N)
pg standby2 -c "SELECT pg_wal_replay_resume()" >/dev/null
if wait_until "$REPLAY_DEADLINE" standby2 "SELECT animerec.load_model('m') = 1"; then
	echo "# standby2 serves the activation $(ms_since "$t0") ms after its replay resumed"
fi
same "$(serving standby2)" "$v1" "standby2: serves version 1 once replay resumes"

# ---- failover: the primary stops, standby1 is promoted ----
pg_ctl_of primary -m immediate stop >/dev/null
pg_ctl_of standby1 -w -t 60 promote >/dev/null
is "$(pg standby1 -c "SELECT pg_is_in_recovery()")" f "standby1 is promoted"
same "$(serving standby1)" "$v1" "the promoted server serves exactly the rows it served as a standby"
pg standby1 -c "SET client_min_messages = warning" -c "$TRAIN, seed => 9)" >/dev/null
is "$(pg standby1 -c "SELECT string_agg(version || ' ' || status || ' ' || active, ', ' ORDER BY version) FROM animerec.models")" \
	"1 ready false, 2 ready false, 3 ready true" "the promoted server trains version 3 and activates it"
v3=$(serving standby1)
ok '[ "$(echo "$v3" | grep -c "^recommend|")" = 300 ] && echo "$v3" | grep -q "^version|3|m v3$"' \
	"the promoted server serves version 3"
same "$(pg standby2 -c "SELECT pg_is_in_recovery()")|$(serving standby2)" "t|$v1" \
	"standby2, its primary gone, is still a standby and keeps serving version 1"
done_testing
