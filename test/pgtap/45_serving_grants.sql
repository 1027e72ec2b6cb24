-- pgTAP: serving privileges, with real roles (docs/bi.md, "Privileges").  A
-- role holding nothing but animerec.grant_serving(model, role) gets
-- recommendations from that model through every serving function, reads the
-- history with the owner's rights when it may not SELECT the ratings, sees
-- that model's name and active row (without weights) and no other model, and
-- every write or training action from it fails.  Also: a hidden model gets the
-- error of a missing one, without leaking names.  Roles are cluster-wide: this
-- file creates its own and drops them; train commits, so no BEGIN/ROLLBACK.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SELECT plan(55);

SELECT animerec.drop_model(name) FROM animerec.model_owners WHERE name IN ('tap_bi_m', 'tap_bi_hidden');
DROP SCHEMA IF EXISTS tap_bi CASCADE;
DROP ROLE IF EXISTS tap_bi_owner, tap_bi_other, tap_bi_dash, tap_bi_analyst, tap_bi_viewers, tap_bi_member, tap_bi_gone;
CREATE ROLE tap_bi_owner;
CREATE ROLE tap_bi_other;
CREATE ROLE tap_bi_dash LOGIN;      -- the dashboard role of docs/bi.md: nothing but the grant
CREATE ROLE tap_bi_analyst;         -- a grantee that may also SELECT (some of) the ratings
CREATE ROLE tap_bi_viewers;         -- a group role holding a grant
CREATE ROLE tap_bi_member IN ROLE tap_bi_viewers;
CREATE SCHEMA tap_bi;
GRANT USAGE, CREATE ON SCHEMA tap_bi TO tap_bi_owner, tap_bi_other;
GRANT USAGE ON SCHEMA tap_bi TO tap_bi_analyst;

-- err(role, query): 'SQLSTATE: message' of query's error run as role, or its
-- first column; with_hint adds ' | detail | hint'
CREATE FUNCTION pg_temp.err(r name, q text, with_hint boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    res text;
    det text;
    hin text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    BEGIN
        IF q ~* '^\s*call' THEN
            EXECUTE q;
        ELSE
            EXECUTE q INTO res;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL, hin = PG_EXCEPTION_HINT;
        res := SQLSTATE || ': ' || SQLERRM;
        IF with_hint THEN
            res := res || ' | ' || det || ' | ' || hin;
        END IF;
    END;
    RESET ROLE;
    RETURN res;
END
$$;

-- the owner's ratings (user 20 has the longest history), with row-level
-- security that lets the analyst see users 1-10 only; another role's model
SET ROLE tap_bi_owner;
CREATE TABLE tap_bi.r AS
SELECT u AS user_id, 1 + ((u * 7) % 20 + k) % 20 AS item_id, 1 + (u + k) % 5 AS rating, k AS rated_at
FROM generate_series(1, 40) u, generate_series(0, 5) k;
CREATE INDEX ON tap_bi.r (user_id, rated_at);
ALTER TABLE tap_bi.r ENABLE ROW LEVEL SECURITY;
CREATE POLICY analyst_rows ON tap_bi.r FOR SELECT TO tap_bi_analyst USING (user_id <= 10);
GRANT SELECT ON tap_bi.r TO tap_bi_analyst;
CALL animerec.train('tap_bi_m', 'tap_bi.r', dim => 8, hidden => 8, epochs => 2, seed => 1);
SELECT animerec.grant_serving('tap_bi_m', 'tap_bi_dash');
SELECT animerec.grant_serving('tap_bi_m', 'tap_bi_analyst');
SELECT animerec.grant_serving('tap_bi_m', 'tap_bi_viewers');
SET ROLE tap_bi_other;
CREATE TABLE tap_bi.r2 (user_id int, item_id int, rating int, rated_at int);
INSERT INTO tap_bi.r2 SELECT u, 100 + (u + k) % 15, 3, k FROM generate_series(1, 30) u, generate_series(0, 5) k;
CALL animerec.train('tap_bi_hidden', 'tap_bi.r2', dim => 8, hidden => 8, epochs => 1, seed => 1);
RESET ROLE;
SET ROLE tap_bi_dash;
CREATE TEMP TABLE dash_r AS SELECT u AS user_id, u % 7 AS item_id FROM generate_series(1, 50) u;
RESET ROLE;
CREATE TEMP TABLE owner_answer AS
SELECT array_agg(item_id ORDER BY rank) AS items FROM animerec.recommend(20, 5, 'tap_bi_m');

-- allowed: every serving function
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT array_agg(item_id ORDER BY rank)::text FROM animerec.recommend(20, 5, 'tap_bi_m')$$),
          (SELECT items::text FROM owner_answer), 'recommend: the grantee gets the owner''s answer');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT bool_and(personalized)::text FROM animerec.recommend(20, 5, 'tap_bi_m')$$),
          'true', 'its history was read with the owner''s rights (the grantee may not SELECT it)');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.recommend_for_history('{1,2,3}', k => 4, model => 'tap_bi_m')$$),
          '4', 'recommend_for_history');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.recommend_for_embedding(
              (SELECT animerec.user_embedding(i, 3, 'tap_bi_m') FROM (VALUES (1::bigint), (2)) v(i)), 3, 'tap_bi_m')$$),
          '3', 'user_embedding and recommend_for_embedding');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.similar_items(1, 3, 'tap_bi_m')$$),
          '3', 'similar_items');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(DISTINCT user_id) || ' users, version ' || min(model_version)
                                        FROM animerec.recommend_all(2, 'tap_bi_m')$$),
          '40 users, version 1', 'recommend_all over every user, with the model version');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT animerec.load_model('tap_bi_m')$$), '1', 'load_model');
SELECT is(pg_temp.err('tap_bi_member', $$SELECT count(*) FROM animerec.recommend(20, 2, 'tap_bi_m')$$),
          '2', 'a member of a group role holding the grant');

-- what the grantee sees of the registry
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT name || ' v' || version || ' ' || n_items FROM animerec.served_models$$),
          'tap_bi_m v1 20', 'served_models shows the granted model''s active version');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT weights FROM animerec.served_models$$),
          '42703: column "weights" does not exist', 'without its weights');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT string_agg(name, ',') FROM animerec.model_owners$$),
          'tap_bi_m', 'model_owners shows the granted name and no other');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT string_agg(name || ':' || grantee, ',') FROM animerec.serving_grants$$),
          'tap_bi_m:tap_bi_dash', 'serving_grants shows its own grant only');
SELECT animerec.load_model('tap_bi_hidden');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT string_agg(name, ',') FROM animerec.loaded_models$$),
          'tap_bi_m', 'loaded_models shows the granted model, not the other loaded one');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.models$$), '0',
          'no row of animerec.models (weights included)');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.training_log$$), '0', 'nor of the training log');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM tap_bi.r$$),
          '42501: permission denied for schema tap_bi', 'the raw ratings stay unreadable through SELECT');

-- hidden models: the error of a missing one, and no name in the hint
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.recommend(1, 5, 'tap_bi_hidden')$$, true),
          '42704: model "tap_bi_hidden" does not exist or you have no serving privilege on it |  | Models you may use: tap_bi_m.',
          'another role''s model: 42704, hint lists only usable models');
SELECT is(replace(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.recommend(1, 5, 'tap_bi_nosuch')$$, true), 'nosuch', 'hidden'),
          pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.recommend(1, 5, 'tap_bi_hidden')$$, true),
          'a missing model gets the same error');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT animerec.drop_model('tap_bi_hidden')$$),
          '42704: model "tap_bi_hidden" does not exist or you have no serving privilege on it', 'drop_model of a hidden model: the same');

-- refused: training and every write, with 42501
SELECT is(pg_temp.err('tap_bi_dash', $$CALL animerec.train('tap_bi_m', 'dash_r', rating_col => NULL, order_col => NULL, epochs => 1)$$),
          '42501: permission denied for model "tap_bi_m"', 'train the granted name (on a table it may read): 42501');
SELECT matches(pg_temp.err('tap_bi_dash', $$CALL animerec.train('tap_bi_new', 'tap_bi.r', dim => 8, hidden => 8, epochs => 1)$$),
          '^42501: permission denied', 'train a new name on the ratings: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$CALL animerec.train('tap_bi_hidden', 'dash_r', rating_col => NULL, order_col => NULL, epochs => 1)$$),
          '42501: permission denied for model "tap_bi_hidden"', 'train a name that belongs to a hidden role: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT animerec.activate('tap_bi_m', 1)$$),
          '42501: permission denied for model "tap_bi_m"', 'activate: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT animerec.drop_model('tap_bi_m')$$),
          '42501: permission denied for model "tap_bi_m"', 'drop_model: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT animerec.drop_model('tap_bi_m', 1)$$),
          '42501: permission denied for model "tap_bi_m"', 'drop_model of a version: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT animerec.grant_serving('tap_bi_m', 'tap_bi_other')$$),
          '42501: permission denied for model "tap_bi_m"', 'grant_serving: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT animerec.revoke_serving('tap_bi_m', 'tap_bi_analyst')$$),
          '42501: permission denied for model "tap_bi_m"', 'revoke_serving: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT animerec.set_default_model('tap_bi_m')$$),
          '42501: permission denied for model "tap_bi_m"', 'set_default_model: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT hr FROM animerec.evaluate('tap_bi_m')$$, true),
          '42501: permission denied for model "tap_bi_m" | A serving privilege allows recommendations only, not evaluate, which reads the training data. | Only members of the owner role or of animerec_admin, and superusers, may do that.',
          'evaluate: 42501 with detail and hint');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT animerec.unload_model('tap_bi_m')$$),
          '42501: permission denied for function unload_model', 'unload_model: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$INSERT INTO animerec.models (name, version, status, ratings_table, user_col, item_col, hyperparams)
                                        VALUES ('tap_bi_m', 9, 'ready', 'tap_bi.r', 'user_id', 'item_id', '{}')$$),
          '42501: new row violates row-level security policy for table "models"', 'INSERT into models: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$INSERT INTO animerec.serving_grants (name, owner, grantee) VALUES ('tap_bi_m', 'tap_bi_owner', 'tap_bi_other')$$),
          '42501: new row violates row-level security policy for table "serving_grants"', 'INSERT into serving_grants: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$INSERT INTO animerec.model_owners (name, owner) VALUES ('tap_bi_x', 'tap_bi_owner')$$),
          '42501: new row violates row-level security policy for table "model_owners"', 'INSERT into model_owners for another role: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$UPDATE animerec.serving_grants SET grantee = 'tap_bi_other'$$),
          '42501: permission denied for table serving_grants', 'UPDATE of serving_grants: 42501');
SELECT is(pg_temp.err('tap_bi_dash', $$TRUNCATE animerec.models$$),
          '42501: permission denied for table models', 'TRUNCATE: 42501');
-- UPDATE and DELETE under row-level security skip the rows the policies refuse (PostgreSQL gives no error)
SELECT is(pg_temp.err('tap_bi_dash', $$WITH u AS (UPDATE animerec.model_owners SET owner = 'tap_bi_dash' RETURNING 1) SELECT count(*) FROM u$$)
          || pg_temp.err('tap_bi_dash', $$WITH u AS (DELETE FROM animerec.model_owners RETURNING 1) SELECT count(*) FROM u$$)
          || pg_temp.err('tap_bi_dash', $$WITH u AS (DELETE FROM animerec.serving_grants RETURNING 1) SELECT count(*) FROM u$$)
          || pg_temp.err('tap_bi_dash', $$WITH u AS (UPDATE animerec.models SET active = false RETURNING 1) SELECT count(*) FROM u$$),
          '0000', 'UPDATE and DELETE of the registry change no row');
SELECT is((SELECT owner || ' ' || (SELECT count(*) FROM animerec.serving_grants WHERE name = 'tap_bi_m')
             FROM animerec.model_owners WHERE name = 'tap_bi_m'),
          'tap_bi_owner 3', 'the name and its grants are unchanged');

-- caller's rights when the grantee may SELECT the ratings: its row-level security applies
SELECT is(pg_temp.err('tap_bi_analyst', $$SELECT bool_or(personalized)::text FROM animerec.recommend(20, 5, 'tap_bi_m')$$),
          'false', 'a grantee with SELECT reads with its own rights (user 20 is hidden from it: popularity)');
SELECT is(pg_temp.err('tap_bi_analyst', $$SELECT bool_and(personalized)::text FROM animerec.recommend(5, 5, 'tap_bi_m')$$),
          'true', 'and gets its visible users'' histories');
SELECT is(pg_temp.err('tap_bi_analyst', $$SELECT count(DISTINCT user_id) FROM animerec.recommend_all(1, 'tap_bi_m')$$),
          '10', 'recommend_all too');

-- the owner's grants, revoke, and the owner's name changing hands
SELECT is(pg_temp.err('tap_bi_owner', $$SELECT animerec.revoke_serving('tap_bi_m', 'tap_bi_dash')::text$$), 'true',
          'the owner revokes the grant');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.recommend(20, 5, 'tap_bi_m')$$),
          '42704: model "tap_bi_m" does not exist or you have no serving privilege on it', 'after revoke: hidden');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.model_owners$$), '0', 'and its name is gone from view');
SELECT is(pg_temp.err('tap_bi_owner', $$SELECT animerec.revoke_serving('tap_bi_m', 'tap_bi_dash')::text$$), 'false',
          'revoking again returns false');
SELECT is(pg_temp.err('tap_bi_owner', $$SELECT animerec.grant_serving('tap_bi_m', 'tap_bi_no_such_role')$$),
          '42704: role "tap_bi_no_such_role" does not exist', 'grant_serving to a missing role: 42704');
SELECT is(pg_temp.err('tap_bi_owner', $$SELECT animerec.grant_serving('tap_bi_m', NULL)$$),
          '22004: model and grantee must not be null', 'grant_serving with NULL: 22004');
SELECT is(pg_temp.err('tap_bi_owner', $$SELECT animerec.grant_serving('tap_bi_hidden', 'tap_bi_dash')$$),
          '42704: model "tap_bi_hidden" does not exist or you have no serving privilege on it', 'grant_serving on another role''s model: 42704');
GRANT tap_bi_owner TO tap_bi_other;
SELECT is(pg_temp.err('tap_bi_owner', $$WITH u AS (UPDATE animerec.model_owners SET owner = 'tap_bi_other' WHERE name = 'tap_bi_m' RETURNING 1) SELECT count(*) FROM u$$),
          '42501: new row violates row-level security policy for table "model_owners"', 'the owner cannot give the name to a role it is not a member of');
SELECT is(pg_temp.err('tap_bi_other', $$WITH u AS (UPDATE animerec.model_owners SET owner = 'tap_bi_other' WHERE name = 'tap_bi_m' RETURNING 1) SELECT count(*) FROM u$$),
          '1', 'a member of the owner role gives it to another role');
SELECT is((SELECT string_agg(DISTINCT owner, ',') FROM animerec.serving_grants WHERE name = 'tap_bi_m'), 'tap_bi_other',
          'the grants follow the name''s new owner');
SELECT is(pg_temp.err('tap_bi_member', $$SELECT count(*) FROM animerec.recommend(20, 2, 'tap_bi_m')$$),
          '2', 'and keep serving, now with the new owner''s rights');

SELECT is(pg_temp.err('tap_bi_other', $$SELECT animerec.revoke_serving(NULL, 'tap_bi_dash')::text$$),
          '22004: model and grantee must not be null', 'revoke_serving with NULL: 22004');

-- a grant whose model's owner role was dropped (model_owners keeps role names)
CREATE ROLE tap_bi_gone;
UPDATE animerec.model_owners SET owner = 'tap_bi_gone' WHERE name = 'tap_bi_hidden';
SELECT animerec.grant_serving('tap_bi_hidden', 'tap_bi_dash');
DROP ROLE tap_bi_gone;
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT count(*) FROM animerec.recommend(1, 5, 'tap_bi_hidden')$$, true),
          '42704: the owner role "tap_bi_gone" of model "tap_bi_hidden" does not exist |  | A member of animerec_admin can give the name to an existing role (UPDATE animerec.model_owners).',
          'a grant on a model whose owner role is gone: 42704, nothing read');
SELECT is(pg_temp.err('tap_bi_dash', $$SELECT string_agg(name, ',' ORDER BY name) FROM animerec.served_models$$),
          'tap_bi_hidden', 'the grant stands: served_models lists the model');

-- the serving functions are still SECURITY INVOKER: the owner's rights come from
-- SetUserIdAndSecContext inside the C functions, for their registry and history reads only
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'animerec'::regnamespace AND prosecdef),
          0::bigint, 'no function is SECURITY DEFINER');

SELECT * FROM finish();
SELECT animerec.drop_model('tap_bi_m');
SELECT animerec.drop_model('tap_bi_hidden');
DROP TABLE dash_r;
DROP SCHEMA tap_bi CASCADE;
DROP ROLE tap_bi_owner, tap_bi_other, tap_bi_dash, tap_bi_analyst, tap_bi_viewers, tap_bi_member;
