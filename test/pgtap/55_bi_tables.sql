-- pgTAP: recommendations as a table (docs/bi-tables.md).  refresh_recommendations
-- fills animerec.recommendations with recommend_all's answer, replaces a
-- model's rows at once (a concurrent reader, through dblink, never sees an
-- empty or mixed set), leaves them untouched when cancelled, makes the view
-- <model>_recommendations beside the items table, and row-level security
-- shows a role only the models it manages.  train commits, so this file
-- cleans up after itself.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
CREATE EXTENSION IF NOT EXISTS dblink;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SELECT plan(37);

DROP SCHEMA IF EXISTS tap_bi CASCADE;
DROP ROLE IF EXISTS tap_bi_team, tap_bi_member, tap_bi_other, tap_bi_reader;
CREATE SCHEMA tap_bi;
\o /dev/null
SELECT * FROM animerec.generate_demo_data(300, 120, 2, 'tap_bi');
\o
CALL animerec.train('tap_bi', 'tap_bi.demo_ratings', items => 'tap_bi.demo_items', dim => 8, hidden => 8,
                    layers => 1, maxlen => 10, epochs => 1, seed => 3);

CALL animerec.refresh_recommendations('tap_bi', k => 4);
SELECT is((SELECT count(*) FROM animerec.recommendations WHERE model = 'tap_bi'),
          4 * (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings), 'k rows for every user of the ratings table');
SELECT is((SELECT count(*) FROM (SELECT user_id, rank, item_id FROM animerec.recommendations WHERE model = 'tap_bi'
                                 EXCEPT SELECT user_id, rank, item_id FROM animerec.recommend_all(4, 'tap_bi')) d),
          0::bigint, 'the rows are recommend_all''s answer');
SELECT ok((SELECT max(abs(r.score - a.score)) FROM animerec.recommendations r
           JOIN animerec.recommend_all(4, 'tap_bi') a USING (user_id, rank) WHERE r.model = 'tap_bi') < 1e-5,
          'with recommend_all''s scores');
SELECT ok((SELECT max(abs(r.probability - a.probability)) FROM animerec.recommendations r
           JOIN animerec.recommend_all(4, 'tap_bi') a USING (user_id, rank) WHERE r.model = 'tap_bi') < 1e-6,
          'and recommend_all''s probabilities');
SELECT is((SELECT array_agg(DISTINCT version) FROM animerec.recommendations WHERE model = 'tap_bi'), '{1}'::int[],
          'the rows carry the active version');
SELECT is((SELECT count(DISTINCT computed_at) FROM animerec.recommendations WHERE model = 'tap_bi'), 1::bigint,
          'and one refresh time');

-- progress: every block_users users, and the total at the end, in application_name (and as NOTICEs)
BEGIN;
CALL animerec.refresh_recommendations('tap_bi', k => 4, block_users => 100);
SELECT is(current_setting('application_name'),
          format('animerec refresh tap_bi: %s users, done', (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings)),
          'a refresh ends by saying in application_name how many users it did');
COMMIT;
BEGIN;
SELECT is((SELECT count(*) FROM unnest('{1,1,2,3,3,4,5}'::bigint[]) u WHERE animerec._refresh_progress('x', 1, u, 2)),
          7::bigint, 'the progress counter keeps every row');
SELECT is(current_setting('application_name'), 'animerec refresh x: 4 users',
          'and reports every block_users users (2 and 4 of 5 users, one row each or more)');
ROLLBACK;
SELECT throws_ok($$SELECT animerec._refresh_progress('x', 1, NULL, 2)$$, '22004',
                 'the arguments of animerec._refresh_progress must not be null',
                 'a NULL user is an error, not a row the refresh leaves out');

-- the rows are updated in place, each a HOT update (no new entry in the primary key's index); a
-- smaller k leaves no rank beyond it, even after another refresh in the same transaction; a user
-- without ratings any more loses their rows
-- (this backend's counters not yet reported, before and after the refresh)
BEGIN;
SELECT n_tup_ins AS ins0, n_tup_upd AS upd0, n_tup_hot_upd AS hot0
  FROM pg_stat_xact_user_tables WHERE relid = 'animerec.recommendations'::regclass \gset
CALL animerec.refresh_recommendations('tap_bi', k => 4);
SELECT ok(n_tup_upd - :upd0 = 4 * (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings) AND n_tup_ins = :ins0
          AND n_tup_hot_upd - :hot0 >= 0.9 * (n_tup_upd - :upd0),
          format('a refresh updates every row in place, %s of %s without an index entry, and inserts none',
                 n_tup_hot_upd - :hot0, n_tup_upd - :upd0))
  FROM pg_stat_xact_user_tables WHERE relid = 'animerec.recommendations'::regclass;
CALL animerec.refresh_recommendations('tap_bi', k => 2);
SELECT is((SELECT array_agg(DISTINCT rank ORDER BY rank) || count(*) FROM animerec.recommendations WHERE model = 'tap_bi'),
          ARRAY[1, 2, 2 * (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings)]::bigint[],
          'then with k 2 (in the same transaction) every user has ranks 1 and 2 only');
ROLLBACK;
BEGIN;
SELECT min(user_id) AS gone FROM tap_bi.demo_ratings \gset
DELETE FROM tap_bi.demo_ratings WHERE user_id = :gone;
CALL animerec.refresh_recommendations('tap_bi', k => 4);
SELECT is((SELECT count(*) FROM animerec.recommendations WHERE model = 'tap_bi' AND user_id = :gone), 0::bigint,
          'a user whose ratings are gone loses their rows at the next refresh');
ROLLBACK;

-- the view beside the items table has the items' columns
SELECT is((SELECT count(*) FROM tap_bi.tap_bi_recommendations v JOIN tap_bi.demo_items i USING (item_id)
           WHERE v.name = i.name), (SELECT count(*) FROM animerec.recommendations WHERE model = 'tap_bi'),
          'the view tap_bi.tap_bi_recommendations joins the items table (name, tags)');

-- a new version replaces the rows at once: a reader polling meanwhile sees version 1's full set, then version 2's
CALL animerec.train('tap_bi', 'tap_bi.demo_ratings', items => 'tap_bi.demo_items', dim => 8, hidden => 8,
                    layers => 1, maxlen => 10, epochs => 1, seed => 4);
\o /dev/null
SELECT dblink_connect('tap_bi_peer',
                      format('dbname=%s host=%s port=%s user=%s', current_database(),
                             split_part(current_setting('unix_socket_directories'), ',', 1),
                             current_setting('port'), current_user));
SELECT dblink_exec('tap_bi_peer', 'SET animerec.progress_notices = off');
\o
CREATE TEMP TABLE tap_bi_seen (n bigint, versions bigint, times bigint);
CREATE FUNCTION pg_temp.poll() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dblink_send_query('tap_bi_peer', $q$CALL animerec.refresh_recommendations('tap_bi', k => 4, block_users => 10)$q$);
    LOOP
        INSERT INTO tap_bi_seen SELECT count(*), count(DISTINCT version), count(DISTINCT computed_at)
                                  FROM animerec.recommendations WHERE model = 'tap_bi';
        EXIT WHEN dblink_is_busy('tap_bi_peer') = 0;
        PERFORM pg_sleep(0.01);
    END LOOP;
    -- the CALL's result, then the empty one that frees the connection
    PERFORM * FROM dblink_get_result('tap_bi_peer') AS t(r text);
    PERFORM * FROM dblink_get_result('tap_bi_peer') AS t(r text);
END $$;
SELECT pg_temp.poll();
SELECT cmp_ok((SELECT count(*) FROM tap_bi_seen), '>=', 3::bigint, 'the reader looked several times during the refresh');
SELECT is((SELECT count(*) FROM tap_bi_seen WHERE n <> 4 * (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings)
                                                  OR versions <> 1 OR times <> 1), 0::bigint,
          'and saw every time one complete set of one version and one refresh, never an empty or mixed one');
SELECT is((SELECT array_agg(DISTINCT version) FROM animerec.recommendations WHERE model = 'tap_bi'), '{2}'::int[],
          'after the refresh only version 2''s rows are left');

-- cancelled mid-way (waiting for a lock on the ratings): the rows are as before
SELECT computed_at AS before FROM animerec.recommendations WHERE model = 'tap_bi' LIMIT 1 \gset
\o /dev/null
SELECT dblink_exec('tap_bi_peer', 'SET statement_timeout = ''300ms''');
\o
BEGIN;
LOCK TABLE tap_bi.demo_ratings IN ACCESS EXCLUSIVE MODE;
SELECT matches(dblink_exec('tap_bi_peer', $$CALL animerec.refresh_recommendations('tap_bi', k => 4)$$, false)
               || ': ' || dblink_error_message('tap_bi_peer'), '^ERROR: .*canceling statement due to statement timeout',
               'a refresh cancelled by statement_timeout (in another session) fails');
COMMIT;
SELECT is((SELECT array_agg(DISTINCT computed_at) FROM animerec.recommendations WHERE model = 'tap_bi'),
          ARRAY[:'before'::timestamptz], 'and leaves the rows of the last refresh');
SELECT is((SELECT count(*) FROM animerec.recommendations WHERE model = 'tap_bi'),
          4 * (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings), 'all of them');

-- row-level security: the members of the name's owner role read and refresh it, others see nothing
CREATE ROLE tap_bi_team;
CREATE ROLE tap_bi_member IN ROLE tap_bi_team;
CREATE ROLE tap_bi_other;
UPDATE animerec.model_owners SET owner = 'tap_bi_team' WHERE name = 'tap_bi';
GRANT USAGE ON SCHEMA tap_bi TO tap_bi_team, tap_bi_other;
GRANT SELECT ON tap_bi.demo_ratings, tap_bi.demo_items, tap_bi.tap_bi_recommendations TO tap_bi_team, tap_bi_other;
SET ROLE tap_bi_member;
SELECT is((SELECT count(*) FROM tap_bi.tap_bi_recommendations),
          4 * (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings), 'a member of the owner role reads the view');
RESET ROLE;
SET ROLE tap_bi_other;
SELECT is((SELECT count(*) FROM animerec.recommendations), 0::bigint, 'another role sees no row of the table');
SELECT is((SELECT count(*) FROM tap_bi.tap_bi_recommendations), 0::bigint, 'nor of the view (security_invoker)');
SELECT throws_ok($$CALL animerec.refresh_recommendations('tap_bi')$$, '42704',
                 'model "tap_bi" does not exist or you have no serving privilege on it',
                 'and may not refresh it: the name is hidden from it');
RESET ROLE;
-- a role holding a serving grant reads the rows of that model only, and writes none
CREATE ROLE tap_bi_reader;
GRANT USAGE ON SCHEMA tap_bi TO tap_bi_reader;
GRANT SELECT ON tap_bi.demo_items, tap_bi.tap_bi_recommendations TO tap_bi_reader;
INSERT INTO animerec.recommendations VALUES ('tap_bi_hidden', 1, 1, 1, 1, 0, 0, now());
SELECT animerec.grant_serving('tap_bi', 'tap_bi_reader');
SET ROLE tap_bi_reader;
SELECT is((SELECT array_agg(DISTINCT model) FROM animerec.recommendations), '{tap_bi}'::text[],
          'a serving grantee reads the rows of the model it is granted, of no other');
SELECT is((SELECT count(*) FROM tap_bi.tap_bi_recommendations),
          4 * (SELECT count(DISTINCT user_id) FROM animerec.recommendations WHERE model = 'tap_bi'),
          'all of them, through the view too');
SELECT throws_ok($$CALL animerec.refresh_recommendations('tap_bi')$$, '42501', NULL, 'but may not refresh');
DELETE FROM animerec.recommendations WHERE model = 'tap_bi';
UPDATE animerec.recommendations SET item_id = 0 WHERE model = 'tap_bi';
RESET ROLE;
SELECT is((SELECT count(*) FROM animerec.recommendations WHERE model = 'tap_bi' AND item_id = 0), 0::bigint,
          'nor update them');
SELECT is((SELECT count(*) FROM animerec.recommendations WHERE model = 'tap_bi'),
          4 * (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings), 'nor delete its rows');
DELETE FROM animerec.recommendations WHERE model = 'tap_bi_hidden';
SELECT animerec.revoke_serving('tap_bi', 'tap_bi_reader');

SELECT throws_ok($$CALL animerec.refresh_recommendations('tap_bi', k => 0)$$, '22023',
                 'k and block_users must be at least 1, not 0 and 1024', 'k below 1 is an error');

-- the view is optional: an items table gone since training, or a relation of the view's name
-- that is not a view, leave it out with a WARNING, and the rows are still written
DROP VIEW tap_bi.tap_bi_recommendations;
ALTER TABLE tap_bi.demo_items RENAME TO demo_items_moved;
SELECT lives_ok($$CALL animerec.refresh_recommendations('tap_bi', k => 4)$$,
                'a refresh whose items table is gone since training writes its rows');
ALTER TABLE tap_bi.demo_items_moved RENAME TO demo_items;
CREATE TABLE tap_bi.tap_bi_recommendations (x int);
SELECT lives_ok($$CALL animerec.refresh_recommendations('tap_bi', k => 4)$$,
                'so does one where a table has the view''s name');
SELECT is((SELECT relkind::text FROM pg_class WHERE oid = 'tap_bi.tap_bi_recommendations'::regclass), 'r',
          'and leaves that table alone');
DROP TABLE tap_bi.tap_bi_recommendations;
CALL animerec.refresh_recommendations('tap_bi', k => 4);
SELECT is((SELECT count(*) FROM tap_bi.tap_bi_recommendations), 4 * (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings),
          'the next refresh makes the view again');

-- a long model name: application_name (63 bytes) keeps the count and cuts the name, the view
-- (whose name would pass 63 bytes) is left out; drop_model takes the name's rows with it
BEGIN;
SELECT count(*) FROM unnest('{1,2,3,4}'::bigint[]) u WHERE animerec._refresh_progress(repeat('é', 40), 1, u, 2) \gset
SELECT ok(octet_length(current_setting('application_name')) <= 63
          AND current_setting('application_name') LIKE 'animerec refresh %: 4 users',
          format('progress of a 40-character name of 80 bytes keeps the count: %s', current_setting('application_name')));
COMMIT;
\o /dev/null
CALL animerec.train('tap_bi_' || repeat('l', 50), 'tap_bi.demo_ratings', items => 'tap_bi.demo_items', dim => 8,
                    hidden => 8, layers => 1, maxlen => 10, epochs => 1, seed => 3);
\o
BEGIN;
CALL animerec.refresh_recommendations('tap_bi_' || repeat('l', 50), k => 2);
SELECT ok(current_setting('application_name') LIKE 'animerec refresh tap_bi_l%: ' ||
          (SELECT count(DISTINCT user_id) FROM tap_bi.demo_ratings) || ' users, done'
          AND octet_length(current_setting('application_name')) <= 63
          AND to_regclass('tap_bi.' || quote_ident('tap_bi_' || repeat('l', 50) || '_recommendations')) IS NULL,
          'a 57-character name: the refresh''s last application_name keeps the count, and no truncated view is made');
COMMIT;
\o /dev/null
SELECT animerec.unload_model('tap_bi_' || repeat('l', 50));
SELECT animerec.drop_model('tap_bi_' || repeat('l', 50));
\o
SELECT is((SELECT count(*) FROM animerec.recommendations WHERE model = 'tap_bi_' || repeat('l', 50)), 0::bigint,
          'drop_model deletes the model''s rows of animerec.recommendations');

SELECT * FROM finish();
\o /dev/null
SELECT dblink_disconnect('tap_bi_peer');
SELECT animerec.unload_model('tap_bi');
DELETE FROM animerec.recommendations WHERE model = 'tap_bi';
SELECT animerec.drop_model('tap_bi');
DELETE FROM animerec.model_owners WHERE name = 'tap_bi';
\o
DROP SCHEMA tap_bi CASCADE;
DROP ROLE tap_bi_team, tap_bi_member, tap_bi_other, tap_bi_reader;
