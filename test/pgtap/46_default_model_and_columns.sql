-- pgTAP: the database's default model (docs/bi.md, "Default model"), the
-- errors of a model that cannot serve (still in its first training, no
-- trained version, no active version) with their SQLSTATEs, and the columns a
-- dashboard shows: probability, personalized, model_version.  Model rows are
-- inserted from seeded blobs (test/nn/bin/make_blob); one real training runs
-- in a second connection (dblink) to be seen while it trains.  Not in a
-- transaction: that connection must see the rows.  The database's default
-- model is put back at the end.
\set blob_a `test/nn/bin/make_blob /dev/stdout 40 5 8 8 2 6 7 | od -An -tx1 -v | tr -d ' \n'`
\set blob_b `test/nn/bin/make_blob /dev/stdout 40 5 8 8 2 6 8 | od -An -tx1 -v | tr -d ' \n'`
\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
CREATE EXTENSION IF NOT EXISTS dblink;
SET animerec.progress_notices = off;
RESET animerec.model;
SELECT plan(35);

DROP TABLE IF EXISTS tap_def_r;
DROP ROLE IF EXISTS tap_def_user;
CREATE ROLE tap_def_user LOGIN;
CREATE TABLE tap_def_r (user_id int, anime_id int, rating real, ts int);
INSERT INTO tap_def_r
SELECT u, 10 * (1 + (u * 11 + s * 7) % 40), 1 + (u * s) % 10, s
FROM generate_series(1, 30) u, generate_series(1, 1 + u % 6) s;
CREATE INDEX ON tap_def_r (user_id, ts);
GRANT SELECT ON tap_def_r TO tap_def_user;

-- err(query [, role]): 'SQLSTATE: message | detail | hint' of query's error, or its first column
CREATE FUNCTION pg_temp.err(q text, r name DEFAULT current_user) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    res text;
    det text;
    hin text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    BEGIN
        EXECUTE q INTO res;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS det = PG_EXCEPTION_DETAIL, hin = PG_EXCEPTION_HINT;
        res := SQLSTATE || ': ' || SQLERRM || ' | ' || det || ' | ' || hin;
    END;
    RESET ROLE;
    RETURN res;
END
$$;
-- add(name, version, active, blob [, status]): a model version row of tap_def_r
CREATE FUNCTION pg_temp.add(n text, v int, act boolean, blob text, st text DEFAULT 'ready') RETURNS void
LANGUAGE sql AS $$
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES (n, v, st, act, 'public.tap_def_r', 'user_id', 'anime_id', 'rating', 'ts', '{}', decode(blob, 'hex'))
$$;
CREATE FUNCTION pg_temp.default_model() RETURNS text LANGUAGE sql AS $$
SELECT coalesce((SELECT name FROM animerec.model_owners WHERE is_default), '(none)')
$$;
CREATE FUNCTION pg_temp.items(model text) RETURNS bigint[] LANGUAGE sql AS $$
SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(5, 10, model)
$$;

-- ---- the default model ------------------------------------------------------
CREATE TEMP TABLE saved_default AS SELECT name FROM animerec.model_owners WHERE is_default;
SELECT animerec.set_default_model(NULL);
SELECT is(split_part(pg_temp.err($$SELECT count(*) FROM animerec.recommend(3, 5)$$), ' |', 1),
          '42704: no default model is set, or you have no serving privilege on it',
          'without a default, an unqualified call fails with 42704');
SELECT pg_temp.add('tap_def_a', 1, true, :'blob_a');
SELECT is(pg_temp.default_model(), 'tap_def_a', 'the first name to get an active version becomes the default');
SELECT is(pg_temp.items(NULL), pg_temp.items('tap_def_a'), 'and answers unqualified calls');
SELECT pg_temp.add('tap_def_b', 1, true, :'blob_a');
SELECT pg_temp.add('tap_def_c', 1, false, :'blob_b', 'training');
SELECT is(pg_temp.default_model() || ' ' || (pg_temp.items(NULL) = pg_temp.items('tap_def_a')),
          'tap_def_a true', 'another name trained, or starting to train, changes nothing');
SELECT pg_temp.add('tap_def_b', 2, false, :'blob_b');
SELECT animerec.activate('tap_def_b', 2);
SELECT animerec.drop_model('tap_def_c');
SELECT is(pg_temp.default_model() || ' ' || (pg_temp.items(NULL) = pg_temp.items('tap_def_a')),
          'tap_def_a true', 'nor does retraining or dropping another name');
SELECT isnt(pg_temp.items('tap_def_a'), pg_temp.items('tap_def_b'), '(the two models answer differently)');
SELECT animerec.set_default_model('tap_def_b');
SELECT is(pg_temp.default_model() || ' ' || (pg_temp.items(NULL) = pg_temp.items('tap_def_b')),
          'tap_def_b true', 'set_default_model changes it');
SELECT is(pg_temp.err($$SELECT animerec.set_default_model('tap_def_nosuch')$$),
          '42704: model "tap_def_nosuch" does not exist or you have no serving privilege on it |  | ',
          'set_default_model of a missing model: 42704');
SELECT is(pg_temp.err($$SELECT animerec.set_default_model('tap_def_a')$$, 'tap_def_user'),
          '42704: model "tap_def_a" does not exist or you have no serving privilege on it |  | ',
          'a role that cannot see the model cannot make it the default');
-- a role with a model of its own, while a default it cannot see exists
SET ROLE tap_def_user;
INSERT INTO animerec.model_owners (name) VALUES ('tap_def_u');
SELECT pg_temp.add('tap_def_u', 1, true, :'blob_a');
RESET ROLE;
SELECT is(pg_temp.default_model(), 'tap_def_b', 'activating a model while another role''s default exists keeps that default');
SELECT is(pg_temp.err($$SELECT animerec.set_default_model('tap_def_u')$$, 'tap_def_user'),
          '42501: permission denied to change the default model | The current default model belongs to a role you are not a member of. | A member of its owner role or of animerec_admin can change it.',
          'and its owner cannot replace it: 42501');
SELECT is(pg_temp.err($$SELECT count(*) FROM animerec.recommend(3, 5)$$, 'tap_def_user'),
          '42704: no default model is set, or you have no serving privilege on it |  | Pass a model name, SET animerec.model, or make one the default with animerec.set_default_model(name); models you may use: tap_def_u.',
          'a default the caller may not use: 42704, its name not shown');
-- for poolers: a per-role setting, seen by a new connection of that role
ALTER ROLE tap_def_user SET animerec.model = 'tap_def_u';
SELECT is((SELECT n FROM dblink(format('dbname=%s host=%s port=%s user=tap_def_user', current_database(),
                                       split_part(current_setting('unix_socket_directories'), ',', 1),
                                       current_setting('port')),
                                'SELECT count(*) FROM animerec.recommend(3, 4)') AS t(n bigint)),
          4::bigint, 'ALTER ROLE ... SET animerec.model answers a new connection''s unqualified calls');
ALTER ROLE tap_def_user RESET animerec.model;
SELECT animerec.drop_model('tap_def_b');
SELECT is(pg_temp.default_model() || ' ' || split_part(pg_temp.err($$SELECT count(*) FROM animerec.recommend(3, 5)$$), ' |', 1),
          '(none) 42704: no default model is set, or you have no serving privilege on it',
          'dropping the default model leaves none (no other model takes its place)');
SELECT animerec.set_default_model('tap_def_a');

-- ---- a model that cannot serve ------------------------------------------------
UPDATE animerec.models SET active = false WHERE name = 'tap_def_a';
SELECT is(pg_temp.err($$SELECT count(*) FROM animerec.recommend(3, 5, 'tap_def_a')$$),
          '55000: model "tap_def_a" has no active version |  | Activate a ready version with animerec.activate(''tap_def_a'', version).',
          'ready versions, none active: 55000, hint activate');
UPDATE animerec.models SET active = true WHERE name = 'tap_def_a';
SELECT pg_temp.add('tap_def_f', 1, false, :'blob_a', 'failed');
SELECT is(pg_temp.err($$SELECT count(*) FROM animerec.recommend_all(5, 'tap_def_f')$$),
          '55000: model "tap_def_f" has no trained version |  | Train it with CALL animerec.train(''tap_def_f'', ratings), or continue an interrupted training with resume => true.',
          'only failed versions: 55000, hint train (recommend_all)');
SELECT animerec.drop_model('tap_def_f');
-- a first training, running in another connection
CREATE TABLE tap_def_big AS
SELECT u AS user_id, (u * 7 + s * 13) % 300 AS item_id, 1 + (u + s) % 10 AS rating, s AS rated_at
FROM generate_series(1, 2000) u, generate_series(1, 30) s;
\o /dev/null
SELECT dblink_connect('tap_def_trainer',
                      format('dbname=%s host=%s port=%s user=%s options=-canimerec.progress_notices=off',
                             current_database(), split_part(current_setting('unix_socket_directories'), ',', 1),
                             current_setting('port'), current_user));
SELECT dblink_send_query('tap_def_trainer',
    $$CALL animerec.train('tap_def_slow', 'tap_def_big', epochs => 200, patience => 0, seed => 1)$$);
\o
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM animerec.training_progress WHERE model = 'tap_def_slow' AND batch > 0)
               OR dblink_is_busy('tap_def_trainer') = 0;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT matches(pg_temp.err($$SELECT count(*) FROM animerec.recommend(3, 5, 'tap_def_slow')$$),
          '^55000: model "tap_def_slow" is being trained for the first time and has no version to serve yet \| Process '
          || (SELECT pid FROM animerec.training_progress WHERE model = 'tap_def_slow')
          || ' is training it: epoch 1 of 200, batch [0-9]+ of [0-9]+\. \| SELECT \* FROM animerec\.training_progress shows how far it is; the model serves when its training ends\.$',
          'in its first training: 55000 with the pid and progress, hint training_progress');
SELECT is(pg_temp.err($$SELECT count(*) FROM animerec.training_progress WHERE model = 'tap_def_slow'$$)
          || '/' || pg_temp.err($$SELECT count(*) FROM animerec.training_progress$$, 'tap_def_user'),
          '1/0', 'training_progress shows the training to its owner, not to another role');
SELECT matches(pg_temp.err($$SELECT animerec.load_model('tap_def_slow')$$),
          '^55000: model "tap_def_slow" is being trained for the first time', 'the same from load_model');
\o /dev/null
SELECT dblink_cancel_query('tap_def_trainer');
SELECT * FROM dblink_get_result('tap_def_trainer', false) AS t(r text);
SELECT dblink_disconnect('tap_def_trainer');
\o
SELECT is(pg_temp.default_model(), 'tap_def_a', 'a training that starts and is cancelled does not change the default');
SELECT animerec.drop_model('tap_def_slow');
DROP TABLE tap_def_big;

-- ---- probability, personalized, model_version ------------------------------------
SELECT ok(abs((SELECT sum(probability) FROM animerec.recommend(3, 1000, 'tap_def_a', exclude_seen => false)) - 1) < 1e-4,
          'probabilities over the whole catalogue sum to 1');
SELECT ok((SELECT sum(probability) FROM animerec.recommend(3, 10, 'tap_def_a')) < 1,
          'and to less than 1 over the top k');
SELECT ok((SELECT max(abs(probability - exp(score) / (SELECT sum(exp(s.score)) FROM animerec.recommend(3, 1000, 'tap_def_a', exclude_seen => false) s)))
             FROM animerec.recommend(3, 10, 'tap_def_a')) < 1e-6,
          'probability = exp(score) / sum of exp over every item, seen ones included');
SELECT ok((SELECT bool_and(p1 >= p2) FROM (SELECT probability AS p1, lead(probability) OVER (ORDER BY rank) AS p2
                                            FROM animerec.recommend(3, 10, 'tap_def_a')) x WHERE p2 IS NOT NULL),
          'probability falls with rank');
SELECT is((SELECT bool_and(personalized) FROM animerec.recommend(3, 5, 'tap_def_a')), true, 'a user with known items: personalized');
SELECT is((SELECT bool_or(personalized) FROM animerec.recommend(424242, 5, 'tap_def_a')), false, 'an unknown user: not personalized');
SELECT is((SELECT array_agg(probability ORDER BY rank) FROM animerec.recommend(424242, 5, 'tap_def_a')),
          (SELECT array_agg(probability ORDER BY rank) FROM animerec.recommend(434343, 5, 'tap_def_a')),
          'two cold users get the same probabilities (the popularity prior)');
SELECT is((SELECT bool_or(personalized) FROM animerec.recommend_for_history('{99999}', k => 3, model => 'tap_def_a')), false,
          'recommend_for_history of unknown items: not personalized');
SELECT is((SELECT bool_and(personalized) FROM animerec.recommend_for_history('{10,20}', k => 3, model => 'tap_def_a')), true,
          'of known items: personalized');
SELECT is((SELECT bool_or(personalized) FROM animerec.recommend_for_embedding(array_fill(0::real, ARRAY[8]), 3, 'tap_def_a')), false,
          'recommend_for_embedding of the zero embedding: not personalized');
SELECT is((SELECT bool_and(personalized) FROM animerec.recommend_for_embedding(array_fill(0.5::real, ARRAY[8]), 3, 'tap_def_a')), true,
          'of another embedding: personalized');
SELECT is((SELECT string_agg(DISTINCT user_id || ':' || personalized || ':' || model_version, ',')
             FROM animerec.recommend_all(2, 'tap_def_a', users => '{3,424242}')),
          '3:true:1,424242:false:1', 'recommend_all: personalized per user and the model version');
SELECT is((SELECT array_agg(probability ORDER BY rank) FROM animerec.recommend_all(5, 'tap_def_a', users => '{3}')),
          (SELECT array_agg(probability ORDER BY rank) FROM animerec.recommend(3, 5, 'tap_def_a')),
          'recommend_all''s probabilities equal recommend''s');
SELECT pg_temp.add('tap_def_a', 2, false, :'blob_b');
SELECT animerec.activate('tap_def_a', 2);
SELECT is((SELECT min(model_version) || '-' || max(model_version) FROM animerec.recommend_all(2, 'tap_def_a')), '2-2',
          'model_version follows activation');
SELECT is((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = 'animerec.served_models'::regclass AND attname IN ('weights', 'is_default', 'version')),
          ARRAY['version', 'is_default'], 'served_models has no weights column');

SELECT * FROM finish();
SELECT animerec.drop_model('tap_def_a');
SELECT animerec.drop_model('tap_def_u');
SELECT animerec.set_default_model(name) FROM saved_default;
DROP TABLE tap_def_r;
DROP ROLE tap_def_user;
