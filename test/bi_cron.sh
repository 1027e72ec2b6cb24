#!/usr/bin/env bash
# test/bi_cron.sh — activation notifications and scheduled refreshes
# (docs/bi-tables.md).  Starts its own throwaway cluster with
# shared_preload_libraries = 'animerec,pg_cron' and cron.database_name set:
# a session LISTENing on animerec_activated gets {"model", "version"} when a
# version is activated (by training or activate(), not by a rolled-back
# activation), and a refresh scheduled with pg_cron's cron.schedule changes
# animerec.recommendations within a deadline.  pg_cron 1.4 (Debian 12) has
# no seconds schedules, so the job runs every minute and the test polls for
# up to CRON_DEADLINE seconds (default 150); a pg_cron with '5 seconds'
# schedules gets one.  Last, the plan of a refresh's MERGE (auto_explain) is a
# hash join even in a session that turned hash joins off.  TAP output.  Run
# from scripts/test (needs the extension installed and postgresql-15-cron).
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh
. test/tap.sh
CRON_DEADLINE=${CRON_DEADLINE:-150}
CLUSTER_PRELOAD='animerec,pg_cron' start_cluster
PSQL="psql -X -q -v ON_ERROR_STOP=1"
DB=animerec_cron
# pg_cron's scheduler runs jobs in background workers of database cron.database_name
$PSQL -c "CREATE DATABASE $DB" -c "ALTER SYSTEM SET cron.database_name = '$DB'" \
	-c "ALTER SYSTEM SET cron.use_background_workers = on"
$CLUSTER_RUN_AS "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/log" -w restart >/dev/null
export PGDATABASE=$DB
$PSQL >/dev/null <<'SQL'
CREATE EXTENSION animerec;
CREATE EXTENSION pg_cron;
SET animerec.progress_notices = off;
SELECT * FROM animerec.generate_demo_data(200, 120, 3);
SQL

# 1. NOTIFY animerec_activated, received by a listening session after each committed activation
notes=$($PSQL 2>&1 <<'SQL'
LISTEN animerec_activated;
SET animerec.progress_notices = off;
CALL animerec.train('cron_m', 'demo_ratings', items => 'demo_items', dim => 8, hidden => 8, layers => 1,
                    maxlen => 10, epochs => 1, seed => 1);
CALL animerec.train('cron_m', 'demo_ratings', items => 'demo_items', dim => 8, hidden => 8, layers => 1,
                    maxlen => 10, epochs => 1, seed => 2);
SELECT animerec.activate('cron_m', 1);
BEGIN;
SELECT animerec.activate('cron_m', 2);
ROLLBACK;
UPDATE animerec.models SET active = false WHERE name = 'cron_m';
SELECT 1;
SQL
)
payloads=$(echo "$notes" | sed -n 's/^Asynchronous notification "animerec_activated" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p')
is "$(echo "$payloads" | head -2 | tr '\n' ' ')" '{"model" : "cron_m", "version" : 1} {"model" : "cron_m", "version" : 2} ' \
	"training's activation of versions 1 and 2 sends NOTIFY animerec_activated with model and version"
is "$(echo "$payloads" | sed -n 3p)" '{"model" : "cron_m", "version" : 1}' "activate() sends it"
is "$(echo "$payloads" | wc -l)" 3 "a rolled-back activation and a deactivation send nothing"
$PSQL -c "SELECT animerec.activate('cron_m', 2)" >/dev/null

# 2. a refresh scheduled with pg_cron changes the table
$PSQL -c "CALL animerec.refresh_recommendations('cron_m', k => 3)" 2>/dev/null
before=$($PSQL -At -c "SELECT max(computed_at) FROM animerec.recommendations WHERE model = 'cron_m'" 2>&1)
cmd="SET animerec.progress_notices = off; CALL animerec.refresh_recommendations('cron_m', k => 5)"
schedule='5 seconds'
if ! $PSQL -c "SELECT cron.schedule('animerec_refresh', '$schedule', \$\$$cmd\$\$)" >/dev/null 2>&1; then
	schedule='* * * * *'	# pg_cron before 1.5: every minute is the shortest
	$PSQL -c "SELECT cron.schedule('animerec_refresh', '$schedule', \$\$$cmd\$\$)" >/dev/null
fi
echo "# pg_cron $($PSQL -At -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'"), schedule '$schedule'"
is "$($PSQL -At -c "SELECT count(*) FROM cron.job WHERE jobname = 'animerec_refresh'")" 1 \
	"cron.schedule accepts the refresh ('$schedule')"
start=$SECONDS
changed=""
while [ $((SECONDS - start)) -lt "$CRON_DEADLINE" ]; do
	changed=$($PSQL -At -c "SELECT max(computed_at) > '$before' AND max(rank) = 5 FROM animerec.recommendations WHERE model = 'cron_m'" 2>&1)
	[ "$changed" = t ] && break
	sleep 1
done
is "$changed" t "the scheduled refresh replaced the rows within ${CRON_DEADLINE}s (after $((SECONDS - start))s)"
is "$($PSQL -At -c "SELECT count(*) = 5 * (SELECT count(DISTINCT user_id) FROM demo_ratings) AND min(version) = 2 AND max(version) = 2
                    FROM animerec.recommendations WHERE model = 'cron_m'")" t \
	"with k = 5 rows of the active version for every user"
is "$($PSQL -At -c "SELECT d.status FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                    WHERE j.jobname = 'animerec_refresh' ORDER BY d.start_time LIMIT 1")" succeeded \
	"pg_cron records the run as succeeded"
$PSQL -c "SELECT cron.unschedule('animerec_refresh')" >/dev/null

# 3. the refresh's MERGE runs as a hash join whatever the session's planner settings and the
# table's statistics (without the procedure's own settings, a session that turned hash joins
# off gets a nested loop or a merge join): auto_explain shows the plans of the statements the
# procedure runs as NOTICEs; merge_plan is the MERGE's (from its top node to the next NOTICE)
plans=$($PSQL 2>&1 >/dev/null <<'SQL'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET animerec.progress_notices = off;
SET enable_hashjoin = off;
CALL animerec.refresh_recommendations('cron_m', k => 4);
SQL
)
merge_plan=$(echo "$plans" | awk '/^Query Text: *MERGE INTO animerec.recommendations/ {q = 1; next}
	q && /^(NOTICE|Query Text)/ {exit} q && /^Merge on/ {p = 1} p')
echo "$merge_plan" | sed 's/^/#   /' | head -12
ok 'echo "$merge_plan" | grep -qE "Hash (Left|Right) Join"' "the refresh's MERGE joins by hashing, in a session with enable_hashjoin off"
ok '! echo "$merge_plan" | grep -qE "Nested Loop|Merge( Left| Right| Full| Anti| Semi)? Join"' "and never by a nested loop or a merge join"
is "$($PSQL -At -c "SELECT count(*) = 4 * (SELECT count(DISTINCT user_id) FROM demo_ratings) FROM animerec.recommendations WHERE model = 'cron_m'")" t \
	"that refresh wrote k = 4 rows for every user"
done_testing
