-- Bad input at every SQL entry point (docs/reference.md, "Errors and edge cases"):
-- each call gives a result or a clear error with its SQLSTATE, never a crash,
-- a hang or a wrong answer.  answer() runs one statement and returns "ok: "
-- and the first column of its first row, or "SQLSTATE: message".
SET animerec.progress_notices = off;
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.answer(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
    res text;
BEGIN
    IF cmd ~* '^\s*call' THEN
        EXECUTE cmd;
        RETURN 'ok';
    END IF;
    EXECUTE cmd INTO res;
    RETURN 'ok: ' || coalesce(res, 'NULL');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN state || ': ' || msg;
END
$$;

-- ratings with extreme ids, duplicate (user, item) rows, NaN/Infinity/NULL
-- ratings, a one-row user, and odd column names
CREATE TABLE bad_r ("us""er" bigint, "it;em" bigint, rating real, rated_at int);
INSERT INTO bad_r
SELECT u, (ARRAY[-9223372036854775808, -1, 0, 1, 2, 3, 4, 5, 9223372036854775807])[1 + (u + k) % 9],
       1 + (u * k) % 5, k
FROM generate_series(1, 30) u, generate_series(1, 6) k;
INSERT INTO bad_r VALUES (-9223372036854775808, 1, 3, 1), (9223372036854775807, 2, 3, 1),
    (31, 1, 'NaN', 1), (31, 2, 'Infinity', 2), (31, 3, '-Infinity', 3), (31, 4, NULL, 4),
    (31, 5, 3, 5), (31, 1, 3, 6), (32, 3, 4, 1);
INSERT INTO bad_r SELECT * FROM bad_r WHERE "us""er" = 1;
CREATE INDEX ON bad_r ("us""er", rated_at);
CREATE TABLE bad_items ("it;em" bigint, tags text[]);
INSERT INTO bad_items SELECT i, CASE WHEN i = 1 THEN '{}'::text[]
                                     WHEN i = 2 THEN ARRAY(SELECT 'tag' || g FROM generate_series(1, 5000) g)
                                     WHEN i = 3 THEN ARRAY[NULL, '', '  ', 'a"b', 'c;d']
                                     ELSE NULL END
FROM (SELECT DISTINCT "it;em" FROM bad_r) s(i);
CALL animerec.train('bad', 'bad_r', user_col => 'us"er', item_col => 'it;em', items => 'bad_items',
                    item_key => 'it;em', dim => 8, hidden => 8, epochs => 2, seed => 1);
SELECT status, n_users, n_items, n_tags, (metrics->>'val_hr@10') IS NOT NULL AS has_metrics
FROM animerec.models WHERE name = 'bad';
SET animerec.model = 'bad';

-- train: data edge cases
CREATE TABLE bad_empty (user_id int, item_id int, rating real, rated_at int);
CREATE TABLE bad_text_ids (user_id text, item_id text, rating real, rated_at int);
CREATE TABLE bad_float_ids (user_id float8, item_id numeric, rating real, rated_at int);
CREATE TABLE bad_only_nan (user_id int, item_id int, rating real, rated_at int);
INSERT INTO bad_only_nan SELECT u, 1 + (u + k) % 7, 'NaN', k FROM generate_series(1, 10) u, generate_series(1, 6) k;
SELECT c AS call, pg_temp.answer(c) AS answer FROM (VALUES
    ($$CALL animerec.train('bad_x', 'bad_empty')$$),
    ($$CALL animerec.train('bad_x', 'bad_text_ids')$$),
    ($$CALL animerec.train('bad_x', 'bad_float_ids')$$),
    ($$CALL animerec.train('bad_x', 'bad_only_nan', dim => 4, hidden => 4, epochs => 1)$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => NULL)$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => NULL)$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'x; DROP TABLE bad_r; --')$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => 'it;em', rating_col => 'rating"; --')$$),
    ($$CALL animerec.train('bad_x; DROP TABLE bad_r', 'bad_r')$$),
    ($$CALL animerec.train('bad''x', 'bad_r')$$),
    ($$CALL animerec.train(repeat('x', 64), 'bad_r')$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => 'it;em', items => 'bad_items', item_key => NULL)$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => 'it;em', epochs => 1000000000)$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => 'it;em', seed => NULL)$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => 'it;em', holdout => NULL)$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => 'it;em', resume => NULL)$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => 'it;em', loss => NULL)$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => 'it;em', clip => 'Infinity')$$),
    ($$CALL animerec.train('bad_x', 'bad_r', user_col => 'us"er', item_col => 'it;em', ema_decay => 'NaN')$$)
) v(c);
-- only NaN ratings: trained as if there were no rating column
SELECT name, status, n_rows FROM animerec.models WHERE name = 'bad_x';
SELECT animerec.drop_model('bad_x');

-- recommend
SELECT c AS call, pg_temp.answer(c) AS answer FROM (VALUES
    ($$SELECT count(*) FROM animerec.recommend(NULL)$$),
    ($$SELECT count(*) FROM animerec.recommend(1, NULL)$$),
    ($$SELECT count(*) FROM animerec.recommend(1, 0)$$),
    ($$SELECT count(*) FROM animerec.recommend(1, -1)$$),
    ($$SELECT count(*) FROM animerec.recommend(1, 1000000000)$$),
    ($$SELECT count(*) FROM animerec.recommend(1, 5, NULL)$$),
    ($$SELECT count(*) FROM animerec.recommend(1, 5, 'no_such_model')$$),
    ($$SELECT count(*) FROM animerec.recommend(1, 5, 'x''; DROP TABLE bad_r; --')$$),
    ($$SELECT count(*) FROM animerec.recommend(1, 5, '')$$),
    ($$SELECT count(*) FROM animerec.recommend(1, 5, exclude_seen => NULL)$$),
    ($$SELECT count(*) FROM animerec.recommend(123456789)$$),
    ($$SELECT count(*) FROM animerec.recommend(-9223372036854775808)$$),
    ($$SELECT count(*) FROM animerec.recommend(9223372036854775807)$$),
    ($$SELECT count(*) FROM animerec.recommend(32)$$),
    ($$SELECT count(*) FROM animerec.recommend(31)$$),
    ($$SELECT count(*) FROM animerec.recommend(1.5)$$),
    ($$SELECT count(*) FROM animerec.recommend('abc')$$),
    ($$SELECT count(*) FROM animerec.recommend(99999999999999999999)$$),
    ($$SELECT count(DISTINCT item_id) FROM animerec.recommend(1, 1000000000, exclude_seen => false)$$),
    ($$SELECT bool_and(score = score) FROM animerec.recommend(31, 100, exclude_seen => false)$$)
) v(c);

-- recommend_for_history
SELECT c AS call, pg_temp.answer(c) AS answer FROM (VALUES
    ($$SELECT count(*) FROM animerec.recommend_for_history(NULL)$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{NULL,NULL}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1,2}', '{3}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1}', '{3,4}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1,2}', '{NaN,Infinity}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1,2}', '{-Infinity,NULL}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{{1,2},{3,4}}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1,2}', '{{1},{2}}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('[5:6]={1,2}', '{3,4}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{-9223372036854775808,9223372036854775807,424242}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history(ARRAY(SELECT 1 + g % 5 FROM generate_series(1, 100000) g)::bigint[])$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1}', k => NULL)$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1}', k => 0)$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1}', k => -1)$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1}', k => 1000000000)$$),
    ($$SELECT count(*) FROM animerec.recommend_for_history('{1}', model => 'no_such_model')$$)
) v(c);

-- recommend_for_embedding
SELECT c AS call, pg_temp.answer(c) AS answer FROM (VALUES
    ($$SELECT count(*) FROM animerec.recommend_for_embedding(NULL)$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding('{}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding('{1,2,3}')$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding(array_fill(0.5::real, ARRAY[8]))$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding(array_fill(0.5::real, ARRAY[2, 4]))$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding(array_fill(NULL::real, ARRAY[8]))$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding(array_fill('NaN'::real, ARRAY[8]))$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding(array_fill('Infinity'::real, ARRAY[8]))$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding(array_fill(1e38::real, ARRAY[8]))$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding(array_fill(0.5::real, ARRAY[8]), k => NULL)$$),
    ($$SELECT count(*) FROM animerec.recommend_for_embedding(array_fill(0.5::real, ARRAY[8]), k => 0)$$)
) v(c);

-- similar_items
SELECT c AS call, pg_temp.answer(c) AS answer FROM (VALUES
    ($$SELECT count(*) FROM animerec.similar_items(NULL)$$),
    ($$SELECT count(*) FROM animerec.similar_items(1)$$),
    ($$SELECT count(*) FROM animerec.similar_items(-9223372036854775808)$$),
    ($$SELECT count(*) FROM animerec.similar_items(9223372036854775807, 1000000000)$$),
    ($$SELECT count(*) FROM animerec.similar_items(424242)$$),
    ($$SELECT count(*) FROM animerec.similar_items(1, 0)$$),
    ($$SELECT count(*) FROM animerec.similar_items(1, -1)$$),
    ($$SELECT count(*) FROM animerec.similar_items(1, NULL)$$)
) v(c);

-- recommend_all
SELECT c AS call, pg_temp.answer(c) AS answer FROM (VALUES
    ($$SELECT count(*) FROM animerec.recommend_all(5)$$),
    ($$SELECT count(DISTINCT user_id) FROM animerec.recommend_all(5)$$),
    ($$SELECT bool_and(score BETWEEN -1e30 AND 1e30) FROM animerec.recommend_all(100, users => '{1,31,32}')$$),
    ($$SELECT count(*) FROM animerec.recommend_all(1, users => '{1,1}')$$),
    ($$SELECT count(*) FROM animerec.recommend_all(NULL)$$),
    ($$SELECT count(*) FROM animerec.recommend_all(0)$$),
    ($$SELECT count(*) FROM animerec.recommend_all(-1)$$),
    ($$SELECT count(*) FROM animerec.recommend_all(1000000000, users => '{1}')$$),
    ($$SELECT count(*) FROM animerec.recommend_all(5, users => '{}')$$),
    ($$SELECT count(*) FROM animerec.recommend_all(5, users => '{NULL}')$$),
    ($$SELECT string_agg(DISTINCT user_id::text, ',') FROM animerec.recommend_all(1, users => '{1,1,424242,-9223372036854775808,NULL}')$$),
    ($$SELECT count(*) FROM animerec.recommend_all(5, users => '{{1,2},{3,4}}')$$),
    ($$SELECT count(*) FROM animerec.recommend_all(5, 'no_such_model')$$)
) v(c);

-- user_embedding
SELECT c AS call, pg_temp.answer(c) AS answer FROM (VALUES
    ($$SELECT array_length(animerec.user_embedding(i, r), 1) FROM (VALUES (1::bigint, 3::real), (NULL, NULL), (424242, 'NaN'), (2, 'Infinity')) v(i, r)$$),
    ($$SELECT animerec.user_embedding(i, r) IS NULL FROM (SELECT 1::bigint, 1::real WHERE false) v(i, r)$$),
    ($$SELECT array_length(animerec.user_embedding(i, r, NULL), 1) FROM (VALUES (1::bigint, 3::real)) v(i, r)$$),
    ($$SELECT animerec.user_embedding(i, r, 'no_such_model') FROM (VALUES (1::bigint, 3::real)) v(i, r)$$)
) v(c);

-- evaluate, load_model, unload_model, activate, drop_model
SELECT c AS call, pg_temp.answer(c) AS answer FROM (VALUES
    ($$SELECT users FROM animerec.evaluate()$$),
    ($$SELECT users FROM animerec.evaluate(NULL, NULL)$$),
    ($$SELECT users FROM animerec.evaluate('bad', 0)$$),
    ($$SELECT users FROM animerec.evaluate('bad', -1)$$),
    ($$SELECT hr = 1 FROM animerec.evaluate('bad', 1000000000)$$),
    ($$SELECT users FROM animerec.evaluate('no_such_model')$$),
    ($$SELECT animerec.load_model(NULL)$$),
    ($$SELECT animerec.load_model('no_such_model')$$),
    ($$SELECT animerec.load_model('x"; DROP TABLE bad_r; --')$$),
    ($$SELECT animerec.unload_model(NULL)$$),
    ($$SELECT animerec.unload_model('no_such_model')$$),
    ($$SELECT animerec.activate(NULL, 1)$$),
    ($$SELECT animerec.activate('bad', NULL)$$),
    ($$SELECT animerec.activate('bad', -1)$$),
    ($$SELECT animerec.activate('bad', 2147483647)$$),
    ($$SELECT animerec.drop_model(NULL)$$),
    ($$SELECT animerec.drop_model('no_such_model')$$),
    ($$SELECT animerec.drop_model('bad', 0)$$),
    ($$SELECT animerec.drop_model('bad', 1)$$)
) v(c);

-- demo data, loaders and html_unescape
CREATE SCHEMA "bad;""schema";
SELECT c AS call, pg_temp.answer(c) AS answer FROM (VALUES
    ($$SELECT count(*) FROM animerec.demo_items(NULL, 1)$$),
    ($$SELECT count(*) FROM animerec.demo_items(0, 1)$$),
    ($$SELECT count(*) FROM animerec.demo_items(-5, 1)$$),
    ($$SELECT count(*) FROM animerec.demo_items(1000000000, 1)$$),
    ($$SELECT count(*) FROM animerec.demo_ratings(-1, 10, 1)$$),
    ($$SELECT count(*) FROM animerec.demo_ratings(10, 0, 1)$$),
    ($$SELECT count(*) FROM animerec.demo_ratings(1000000000, 1000000000, 1)$$),
    ($$SELECT count(*) FROM animerec.generate_demo_data(NULL)$$),
    ($$SELECT count(*) FROM animerec.generate_demo_data(schema => NULL)$$),
    ($$SELECT count(*) FROM animerec.generate_demo_data(schema => 'no_such_schema')$$),
    ($$SELECT string_agg(table_name || '=' || row_count, ', ') FROM animerec.generate_demo_data(20, 100, 1, 'bad;"schema')$$),
    ($$SELECT count(*) FROM animerec.generate_demo_data(20, 100, 1, 'bad;"schema')$$),
    ($$SELECT count(*) FROM animerec.load_anime(NULL, NULL)$$),
    ($$SELECT count(*) FROM animerec.load_anime('/nonexistent/a''b;c.csv', '/nonexistent/r.csv', 'public')$$),
    ($$SELECT count(*) FROM animerec.load_movielens(NULL)$$),
    ($$SELECT count(*) FROM animerec.load_movielens('/nonexistent/x'' ; --', 'bad;"schema')$$),
    ($$SELECT animerec.html_unescape(NULL)$$),
    ($$SELECT animerec.html_unescape('&#65;&#x42;&amp;&lt;')$$),
    ($$SELECT animerec.html_unescape('&#0;|&#x110000;|&#99999999999999999999;|&#xD800;|&#;|&#x;|&amp|&bogus;')$$)
) v(c);

-- a ratings view whose definition changes after training
CREATE VIEW bad_v AS SELECT "us""er" AS user_id, "it;em" AS item_id, rating, rated_at FROM bad_r;
CALL animerec.train('bad_view', 'bad_v', dim => 8, hidden => 8, epochs => 1, seed => 1);
SELECT count(*) AS before_change FROM animerec.recommend(1, 3, 'bad_view');
CREATE OR REPLACE VIEW bad_v AS SELECT "us""er" AS user_id, "it;em" AS item_id, rating, rated_at FROM bad_r WHERE false;
SELECT pg_temp.answer($$SELECT count(*) FROM animerec.recommend(1, 3, 'bad_view')$$) AS rows_filtered;
SELECT pg_temp.answer($$SELECT users || ' users, hr ' || coalesce(hr::text, 'NULL') FROM animerec.evaluate('bad_view')$$) AS evaluate_no_rows;
SELECT pg_temp.answer($$SELECT count(*) FROM animerec.recommend_all(3, 'bad_view')$$) AS recommend_all_no_rows;
DROP VIEW bad_v;
CREATE VIEW bad_v AS SELECT "us""er"::text AS user_id, "it;em" AS item_id, rating, rated_at FROM bad_r;
SELECT pg_temp.answer($$SELECT count(*) FROM animerec.recommend(1, 3, 'bad_view')$$) AS user_id_now_text;
DROP VIEW bad_v;
CREATE VIEW bad_v AS SELECT "us""er" AS user_id, 'x' || "it;em" AS item_id, rating, rated_at FROM bad_r;
SELECT pg_temp.answer($$SELECT count(*) FROM animerec.recommend(1, 3, 'bad_view')$$) AS item_id_now_text;
DROP VIEW bad_v;
CREATE VIEW bad_v AS SELECT "us""er" AS user_id, "it;em" AS item_id FROM bad_r;
SELECT pg_temp.answer($$SELECT count(*) FROM animerec.recommend(1, 3, 'bad_view')$$) AS rating_dropped;
SELECT pg_temp.answer($$SELECT count(*) FROM animerec.recommend_all(3, 'bad_view')$$) AS rating_dropped_all;
SELECT pg_temp.answer($$SELECT users FROM animerec.evaluate('bad_view')$$) AS rating_dropped_evaluate;
DROP VIEW bad_v;
SELECT pg_temp.answer($$SELECT count(*) FROM animerec.recommend(1, 3, 'bad_view')$$) AS view_dropped;
SELECT pg_temp.answer($$SELECT count(*) FROM animerec.recommend_for_history('{1,2}', model => 'bad_view')$$) AS history_needs_no_view;

SELECT animerec.unload_model(name) FROM (VALUES ('bad'), ('bad_view')) v(name);
SELECT animerec.drop_model(name) FROM (VALUES ('bad'), ('bad_view')) v(name);
DROP TABLE bad_r, bad_items, bad_empty, bad_text_ids, bad_float_ids, bad_only_nan;
DROP SCHEMA "bad;""schema" CASCADE;
