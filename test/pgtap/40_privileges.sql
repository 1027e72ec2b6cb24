-- pgTAP: privileges, with real roles (docs/operations.md, "Privileges").  Data is read with
-- the caller's privileges; a model name belongs to a role, and only members of
-- that role or of animerec_admin (and superusers) see, use, retrain, activate
-- and drop its versions (serving grants: 45_serving_grants.sql); a name one
-- may not see gets the error of a missing one; every function is SECURITY INVOKER with a fixed
-- search_path.  Roles are cluster-wide: this file creates its own and drops them.
-- train commits after every epoch at top level, so this file runs outside
-- BEGIN/ROLLBACK and cleans up after itself.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SELECT plan(44);

DROP SCHEMA IF EXISTS tap_sec CASCADE;
DROP ROLE IF EXISTS tap_sec_alice, tap_sec_bob, tap_sec_carol, tap_sec_team, tap_sec_admin;
CREATE ROLE tap_sec_team;
CREATE ROLE tap_sec_alice IN ROLE tap_sec_team;
CREATE ROLE tap_sec_carol IN ROLE tap_sec_team;
CREATE ROLE tap_sec_bob;
CREATE ROLE tap_sec_admin IN ROLE animerec_admin;
CREATE SCHEMA tap_sec;
GRANT USAGE, CREATE ON SCHEMA tap_sec TO PUBLIC;

-- as_role(role, query): the first column of query's first row run as role,
-- (NULL for CALL), or 'SQLSTATE: message' of its error
CREATE FUNCTION pg_temp.as_role(r name, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    res text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    BEGIN
        IF q ~* '^\s*call' THEN
            EXECUTE q;
        ELSE
            EXECUTE q INTO res;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        res := SQLSTATE || ': ' || SQLERRM;
    END;
    RESET ROLE;
    RETURN res;
END
$$;

-- alice's ratings (a planted sequence) and bob's, each readable by its owner only
SET ROLE tap_sec_alice;
CREATE TABLE tap_sec.alice_r AS
SELECT u AS user_id, 1 + ((u * 7) % 20 + k) % 20 AS item_id, 1 + (u + k) % 5 AS rating, k AS rated_at
FROM generate_series(1, 40) u, generate_series(0, 5) k;
CREATE INDEX ON tap_sec.alice_r (user_id, rated_at);
CALL animerec.train('tap_sec_a', 'tap_sec.alice_r', dim => 8, hidden => 8, epochs => 2, seed => 1);
SET ROLE tap_sec_bob;
CREATE TABLE tap_sec.bob_r AS
SELECT u AS user_id, 100 + ((u * 3) % 15 + k) % 15 AS item_id, 3 AS rating, k AS rated_at
FROM generate_series(1, 30) u, generate_series(0, 5) k;
RESET ROLE;

-- a non-superuser trains on the tables it can read
SELECT is((SELECT status || ' ' || owner FROM animerec.models WHERE name = 'tap_sec_a'),
          'ready tap_sec_alice', 'a non-superuser trains on its own table');
SELECT is((SELECT owner::text FROM animerec.model_owners WHERE name = 'tap_sec_a'),
          'tap_sec_alice', 'the new model name belongs to the role that trained it');
SELECT is(pg_temp.as_role('tap_sec_alice', $$SELECT count(*) FROM animerec.recommend(1, 5, 'tap_sec_a')$$),
          '5', 'the owner gets recommendations');
SELECT is(pg_temp.as_role('tap_sec_alice', $$SELECT count(*) FROM animerec.models$$),
          '1', 'the owner sees its model''s rows');

-- bob cannot read alice's data, through train or through her model
SELECT matches(pg_temp.as_role('tap_sec_bob',
    $$CALL animerec.train('tap_sec_b', 'tap_sec.alice_r', dim => 8, hidden => 8, epochs => 1)$$),
    '^42501: permission denied for table alice_r', 'train reads with the caller''s privileges');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT count(*) FROM animerec.recommend(1, 5, 'tap_sec_a')$$),
    '^42704: model "tap_sec_a" does not exist or you have no serving privilege on it$',
    'recommend: another role''s model is refused like a missing one');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT count(*) FROM animerec.recommend_all(5, 'tap_sec_a')$$),
    '^42704: model "tap_sec_a" does not exist or you have no serving privilege on it$', 'recommend_all: refused');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT hr FROM animerec.evaluate('tap_sec_a')$$),
    '^42704: model "tap_sec_a" does not exist or you have no serving privilege on it$', 'evaluate: refused');
SELECT matches(pg_temp.as_role('tap_sec_bob',
    $$SELECT count(*) FROM animerec.recommend_for_history(ARRAY[1, 2]::bigint[], model => 'tap_sec_a')$$),
    '^42704: model "tap_sec_a" does not exist or you have no serving privilege on it$', 'recommend_for_history: refused');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT count(*) FROM animerec.similar_items(1, 5, 'tap_sec_a')$$),
    '^42704: model "tap_sec_a" does not exist or you have no serving privilege on it$', 'similar_items: refused');
SELECT matches(pg_temp.as_role('tap_sec_bob',
    $$SELECT animerec.user_embedding(item_id, rating, 'tap_sec_a') FROM (VALUES (1::bigint, 3::real)) v(item_id, rating)$$),
    '^42704: model "tap_sec_a" does not exist or you have no serving privilege on it$', 'user_embedding: refused');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT animerec.load_model('tap_sec_a')$$),
    '^42704: model "tap_sec_a" does not exist or you have no serving privilege on it$', 'load_model: another role''s model is not loaded');
SELECT is(pg_temp.as_role('tap_sec_bob', $$SELECT count(*) FROM animerec.models WHERE name = 'tap_sec_a'$$),
    '0', 'row-level security hides another role''s versions (weights included)');
SELECT is(pg_temp.as_role('tap_sec_bob', $$SELECT count(*) FROM animerec.training_log WHERE name = 'tap_sec_a'$$),
    '0', 'and its training log');

-- bob cannot retrain, activate, drop or take over alice's model
SELECT matches(pg_temp.as_role('tap_sec_bob',
    $$CALL animerec.train('tap_sec_a', 'tap_sec.bob_r', dim => 8, hidden => 8, epochs => 1)$$),
    '^42501: permission denied for model "tap_sec_a"', 'train: another role''s name is refused');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT animerec.activate('tap_sec_a', 1)$$),
    '^42704: model "tap_sec_a" does not exist or you have no serving privilege on it$', 'activate: refused');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT animerec.drop_model('tap_sec_a')$$),
    '^42704: model "tap_sec_a" does not exist or you have no serving privilege on it$', 'drop_model: refused');
SELECT is(pg_temp.as_role('tap_sec_bob',
    $$WITH u AS (UPDATE animerec.models SET active = false WHERE name = 'tap_sec_a' RETURNING 1) SELECT count(*) FROM u$$),
    '0', 'a direct UPDATE of the registry touches none of its rows');
SELECT is(pg_temp.as_role('tap_sec_bob',
    $$WITH u AS (UPDATE animerec.model_owners SET owner = 'tap_sec_bob' WHERE name = 'tap_sec_a' RETURNING 1) SELECT count(*) FROM u$$),
    '0', 'the name cannot be taken over');
SELECT matches(pg_temp.as_role('tap_sec_bob',
    $$INSERT INTO animerec.models (name, version, status, ratings_table, user_col, item_col, hyperparams)
      VALUES ('tap_sec_a', 9, 'ready', 'tap_sec.bob_r', 'user_id', 'item_id', '{}')$$),
    '^42501: new row violates row-level security policy', 'a direct INSERT of a version is refused');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT animerec.unload_model('tap_sec_a')$$),
    '^42501: permission denied for function unload_model', 'unload_model is not for PUBLIC');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT set_config('animerec.max_shared_memory', '100000', false)$$),
    '^55P02: ', 'the shared memory cap is not a session setting');

-- bob trains his own model on his own table
SELECT is(pg_temp.as_role('tap_sec_bob',
    $$CALL animerec.train('tap_sec_b', 'tap_sec.bob_r', dim => 8, hidden => 8, epochs => 1, seed => 1)$$),
    NULL, 'another role trains its own model (in a transaction block)');
SELECT is(pg_temp.as_role('tap_sec_bob', $$SELECT string_agg(name, ',') FROM animerec.models$$),
    'tap_sec_b', 'and sees only its own');

-- sharing: the name given to a group role, whose members use it with their own privileges
SELECT is(pg_temp.as_role('tap_sec_alice',
    $$WITH u AS (UPDATE animerec.model_owners SET owner = 'tap_sec_team' WHERE name = 'tap_sec_a' RETURNING 1) SELECT count(*) FROM u$$),
    '1', 'the owner gives the name to a group role it is a member of');
SELECT is(pg_temp.as_role('tap_sec_carol',
    $$SELECT count(*) FROM animerec.recommend_for_history(ARRAY[1, 2, 3]::bigint[], k => 4, model => 'tap_sec_a')$$),
    '4', 'a member of the group role uses the model');
SELECT matches(pg_temp.as_role('tap_sec_carol', $$SELECT count(*) FROM animerec.recommend(1, 5, 'tap_sec_a')$$),
    '^42501: permission denied for table alice_r', 'but reads the ratings with its own privileges: recommend');
SELECT matches(pg_temp.as_role('tap_sec_carol', $$SELECT count(*) FROM animerec.recommend_all(5, 'tap_sec_a')$$),
    '^42501: permission denied for table alice_r', 'recommend_all');
SELECT matches(pg_temp.as_role('tap_sec_carol', $$SELECT hr FROM animerec.evaluate('tap_sec_a')$$),
    '^42501: permission denied for table alice_r', 'evaluate');

-- animerec_admin manages every model; the owner drops versions
SELECT is(pg_temp.as_role('tap_sec_admin', $$SELECT animerec.activate('tap_sec_b', 1)::text$$),
    '', 'a member of animerec_admin activates another role''s model');
SELECT matches(pg_temp.as_role('tap_sec_bob', $$SELECT animerec.drop_model('tap_sec_b', 1)$$),
    '^55006: version 1 of model "tap_sec_b" is active', 'drop_model refuses the active version');
SELECT is(pg_temp.as_role('tap_sec_bob', $$SELECT animerec.drop_model('tap_sec_b')$$),
    '1', 'drop_model drops every version');
SELECT is((SELECT count(*) FROM animerec.model_owners WHERE name = 'tap_sec_b'), 0::bigint,
    'and frees the name');

-- train fixes its search_path itself, before and after each commit: a view it
-- reads and a trigger on the registry rows it updates after its commits see it
CREATE FUNCTION tap_sec.spy(setting text, x bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config(setting, current_setting('search_path'), false);
    RETURN x;
END
$$;
CREATE FUNCTION tap_sec.spy_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tap_sec.spy('animerec_test.update_path', 0);
    RETURN NEW;
END
$$;
CREATE VIEW tap_sec.spy_v AS
SELECT tap_sec.spy('animerec_test.read_path', user_id) AS user_id, item_id, rating, rated_at
FROM tap_sec.alice_r;
CREATE TRIGGER tap_sec_spy AFTER UPDATE ON animerec.models FOR EACH ROW EXECUTE FUNCTION tap_sec.spy_update();
SET search_path = public, tap_sec;
CALL animerec.train('tap_sec_spy', 'spy_v', dim => 8, hidden => 8, epochs => 2, seed => 1);
SELECT is(current_setting('animerec_test.read_path'), 'pg_catalog, pg_temp',
    'train reads its data with search_path = pg_catalog, pg_temp');
SELECT is(current_setting('animerec_test.update_path'), 'pg_catalog, pg_temp',
    'and keeps it after its per-epoch commits');
SELECT is(current_setting('search_path'), 'public, tap_sec', 'the caller''s search_path is back after the CALL');
BEGIN;
SET LOCAL search_path = tap_sec, public;
CALL animerec.train('tap_sec_spy', 'spy_v', dim => 8, hidden => 8, epochs => 1, seed => 1);
SELECT is(current_setting('animerec_test.read_path') || ' / ' || current_setting('search_path'),
    'pg_catalog, pg_temp / tap_sec, public', 'the same inside a transaction block, without commits');
COMMIT;
-- recommend_all fixes it too, around its work (it has no SET clause, which
-- would cost a GUC level on every row), and gives the caller's back
SET search_path = public, tap_sec;
SET animerec_test.read_path = '';
SELECT is((SELECT count(DISTINCT user_id) FROM animerec.recommend_all(3, 'tap_sec_spy')),
    (SELECT count(DISTINCT user_id) FROM tap_sec.alice_r), 'recommend_all answers for the users of a view');
SELECT is(current_setting('animerec_test.read_path') || ' / ' || current_setting('search_path'),
    'pg_catalog, pg_temp / public, tap_sec', 'and reads it with search_path = pg_catalog, pg_temp, the caller''s after');
RESET search_path;
DROP TRIGGER tap_sec_spy ON animerec.models;
SELECT animerec.drop_model('tap_sec_spy');

-- SECURITY INVOKER and a fixed search_path everywhere: a SET clause on every
-- function but train and _recommend_all_rows (above), the inlined _manages and
-- recommend_all, and _refresh_progress, which looks up no name (see
-- docs/operations.md, docs/bi-tables.md)
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'animerec'::regnamespace AND prosecdef),
    0::bigint, 'no function is SECURITY DEFINER');
SELECT is((SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
            WHERE pronamespace = 'animerec'::regnamespace AND prokind IN ('f', 'p')
              AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false)),
    ARRAY['_is_member', '_manages', '_recommend_all_rows', '_refresh_progress', 'recommend_all', 'train'], 'every other function has SET search_path = pg_catalog, pg_temp');
SELECT ok(has_schema_privilege('tap_sec_bob', 'animerec', 'USAGE')
          AND has_function_privilege('tap_sec_bob', 'animerec.recommend(bigint, int, text, boolean)', 'EXECUTE')
          AND NOT has_table_privilege('tap_sec_bob', 'animerec.models', 'TRUNCATE'),
    'PUBLIC uses the schema and its functions, but cannot truncate the registry');

-- the functions behind the views loaded_models and training_progress filter as the views do
\o /dev/null
SELECT animerec.load_model('tap_sec_a');
\o
SELECT is(pg_temp.as_role('tap_sec_bob', $$SELECT count(*)::text FROM animerec._loaded_models_info() WHERE name = 'tap_sec_a'$$),
          '0', '_loaded_models_info does not list a model loaded by another role to a role without rights on it');
SELECT is(pg_temp.as_role('tap_sec_alice', $$SELECT count(*)::text FROM animerec._loaded_models_info() WHERE name = 'tap_sec_a'$$),
          '1', 'but lists it to its owner');

SELECT * FROM finish();
SELECT animerec.drop_model('tap_sec_a');
DROP SCHEMA tap_sec CASCADE;
DROP ROLE tap_sec_alice, tap_sec_bob, tap_sec_carol, tap_sec_team, tap_sec_admin;
