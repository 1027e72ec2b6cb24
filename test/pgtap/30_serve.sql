-- pgTAP: serving properties — the aggregate agrees with recommend_for_history,
-- and a newly activated version is seen by another connection sharing the cache.
-- Not wrapped in a transaction: the second connection (dblink) must see the rows.
\set blob1 `test/nn/bin/make_blob /dev/stdout 40 5 8 8 2 6 7 | od -An -tx1 -v | tr -d ' \n'`
\set blob2 `test/nn/bin/make_blob /dev/stdout 40 5 8 8 2 6 8 | od -An -tx1 -v | tr -d ' \n'`
\set blob3 `test/nn/bin/make_blob /dev/stdout 4000 5 16 8 1 6 9 | od -An -tx1 -v | tr -d ' \n'`
\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
CREATE EXTENSION IF NOT EXISTS dblink;
\i test/wait_until.psql
CREATE TABLE tap_serve_ratings (user_id int, anime_id int, rating real, ts int);
INSERT INTO tap_serve_ratings
SELECT u, 10 * (1 + (u * 11 + s * 7) % 40), 1 + (u * s) % 10, s
FROM generate_series(1, 30) u, generate_series(1, 1 + u % 6) s;
CREATE INDEX ON tap_serve_ratings (user_id, ts);
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('tap_serve', 1, 'ready', true, 'public.tap_serve_ratings', 'user_id', 'anime_id', 'rating', 'ts',
        '{}', decode(:'blob1', 'hex')),
       ('tap_serve', 2, 'ready', false, 'public.tap_serve_ratings', 'user_id', 'anime_id', 'rating', 'ts',
        '{}', decode(:'blob2', 'hex'));
SET animerec.model = 'tap_serve';

SELECT plan(23);

-- the aggregate over a user's rows and recommend_for_history over the same rows agree
CREATE TEMP TABLE tap_cmp AS
SELECT h.user_id,
       (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend_for_history(h.items, h.ratings, 40)) AS hist_items,
       (SELECT array_agg(score ORDER BY rank) FROM animerec.recommend_for_history(h.items, h.ratings, 40)) AS hist_scores,
       (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend_for_embedding(e.emb, 40)
        WHERE item_id <> ALL (h.items)) AS emb_items,
       (SELECT array_agg(score ORDER BY rank) FROM animerec.recommend_for_embedding(e.emb, 40)
        WHERE item_id <> ALL (h.items)) AS emb_scores
FROM (SELECT user_id, array_agg(anime_id::bigint ORDER BY ts) AS items, array_agg(rating ORDER BY ts) AS ratings
      FROM tap_serve_ratings GROUP BY user_id) h
JOIN (SELECT user_id, animerec.user_embedding(anime_id, rating ORDER BY ts) AS emb
      FROM tap_serve_ratings GROUP BY user_id) e USING (user_id);
SELECT is((SELECT count(*) FROM tap_cmp), 30::bigint, 'one embedding per user (GROUP BY over the whole table)');
SELECT is((SELECT count(*) FROM tap_cmp WHERE hist_items IS DISTINCT FROM emb_items), 0::bigint,
          'aggregate + recommend_for_embedding ranks like recommend_for_history');
SELECT ok((SELECT max(abs(a - b)) FROM tap_cmp, unnest(hist_scores, emb_scores) s(a, b)) < 1e-5,
          'and with the same scores');
SELECT is((SELECT count(*) FROM tap_cmp c
           WHERE hist_items IS DISTINCT FROM
                 (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(c.user_id, 40))), 0::bigint,
          'recommend reads the same history from the ratings table');

-- a second connection shares the cache and follows activations
\o /dev/null
SELECT dblink_connect('tap_serve_peer',
                      format('dbname=%s host=%s port=%s user=%s', current_database(),
                             split_part(current_setting('unix_socket_directories'), ',', 1),
                             current_setting('port'), current_user));
SELECT dblink_exec('tap_serve_peer', 'SET animerec.model = ''tap_serve''');
\o
CREATE TEMP TABLE tap_v1 AS SELECT array_agg(item_id ORDER BY rank) AS items FROM animerec.recommend(5, 10);
SELECT calls AS calls_before FROM animerec.loaded_models WHERE name = 'tap_serve' \gset
SELECT is((SELECT items FROM dblink('tap_serve_peer',
                                    'SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(5, 10)') AS t(items bigint[])),
          (SELECT items FROM tap_v1), 'the peer gets the same recommendations from version 1');
SELECT is((SELECT calls FROM animerec.loaded_models WHERE name = 'tap_serve'), (:calls_before + 1)::bigint,
          'one shared copy: the peer''s call counted in this connection''s view');

UPDATE animerec.models SET active = false WHERE name = 'tap_serve';
UPDATE animerec.models SET active = true WHERE name = 'tap_serve' AND version = 2;
SELECT is((SELECT items FROM dblink('tap_serve_peer',
                                    'SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(5, 10)') AS t(items bigint[])),
          (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(5, 10)),
          'after activation the peer serves version 2 like this connection');
SELECT is((SELECT array_agg(version) FROM animerec.loaded_models WHERE name = 'tap_serve'), '{2}'::int[],
          'version 2 replaced version 1 in the cache');
SELECT isnt((SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(5, 10)), (SELECT items FROM tap_v1),
            'version 2 is a different model');

-- each database has its own registry: the same model name and version elsewhere is another model
\o /dev/null
SELECT dblink_exec('tap_serve_peer', 'CREATE DATABASE tap_serve_other');
SELECT dblink_connect('tap_serve_other',
                      format('dbname=tap_serve_other host=%s port=%s user=%s',
                             split_part(current_setting('unix_socket_directories'), ',', 1),
                             current_setting('port'), current_user));
SELECT dblink_exec('tap_serve_other', 'CREATE EXTENSION animerec');
SELECT dblink_exec('tap_serve_other', 'CREATE TABLE tap_serve_ratings AS SELECT * FROM (VALUES (5, 10, 1::real, 1)) v(user_id, anime_id, rating, ts)');
SELECT dblink_exec('tap_serve_other', format(
    'INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col, rating_col, order_col, hyperparams, weights) '
    'VALUES (''tap_serve'', 2, ''ready'', true, ''public.tap_serve_ratings'', ''user_id'', ''anime_id'', ''rating'', ''ts'', ''{}'', decode(%L, ''hex''))',
    :'blob1'));
\o
SELECT is((SELECT items FROM dblink('tap_serve_other',
                                    'SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend_for_history(''{'
                                    || (SELECT string_agg(anime_id::text, ',' ORDER BY ts) FROM tap_serve_ratings WHERE user_id = 5)
                                    || '}'', (SELECT array_agg(r) FROM unnest(''{'
                                    || (SELECT string_agg(rating::text, ',' ORDER BY ts) FROM tap_serve_ratings WHERE user_id = 5)
                                    || '}''::real[]) r), 10, ''tap_serve'')') AS t(items bigint[])),
          (SELECT items FROM tap_v1),
          'another database''s tap_serve version 2 (the first blob) is not this database''s version 2');
\o /dev/null
SELECT dblink_disconnect('tap_serve_other');
SELECT dblink_exec('tap_serve_peer', 'DROP DATABASE tap_serve_other');
\o

-- a version pinned by another connection's open transaction survives its replacement, and replaced
-- versions are freed: ten activations fit under a cap of three copies (a copy is about 600 kB)
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('tap_pin', 1, 'ready', true, 'public.tap_serve_ratings', 'user_id', 'anime_id', 'rating', 'ts',
        '{}', decode(:'blob3', 'hex'));
\o /dev/null
ALTER SYSTEM SET animerec.max_shared_memory = 2;
SELECT pg_reload_conf();
SELECT pg_temp.wait_for_reload('animerec.max_shared_memory', '2MB');
\o
SELECT is(current_setting('animerec.max_shared_memory'), '2MB', 'the reloaded cap of 2 MB reaches this session');
\o /dev/null
SELECT dblink_exec('tap_serve_peer', 'BEGIN');
SELECT * FROM dblink('tap_serve_peer', 'SELECT animerec.user_embedding(anime_id, rating, ''tap_pin'' ORDER BY ts) FROM tap_serve_ratings WHERE user_id = 5') AS t(e real[]);
\o
SELECT lives_ok($$
    DO $do$
    BEGIN
        FOR v IN 2..11 LOOP
            INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                                         rating_col, order_col, hyperparams, weights)
            SELECT name, v, status, false, ratings_table, user_col, item_col, rating_col, order_col,
                   hyperparams, weights
            FROM animerec.models WHERE name = 'tap_pin' AND version = 1;
            UPDATE animerec.models SET active = false WHERE name = 'tap_pin';
            UPDATE animerec.models SET active = true WHERE name = 'tap_pin' AND version = v;
            PERFORM animerec.load_model('tap_pin');
        END LOOP;
    END $do$ $$, 'ten activations while the peer pins version 1');
\o /dev/null
SELECT dblink_exec('tap_serve_peer', 'COMMIT');
\o
SELECT is((SELECT array_agg(version) FROM animerec.loaded_models WHERE name = 'tap_pin'), '{11}'::int[],
          'only the active version stays loaded');
\o /dev/null
ALTER SYSTEM SET animerec.max_shared_memory = 1;
SELECT pg_reload_conf();
SELECT pg_temp.wait_for_reload('animerec.max_shared_memory', '1MB');
SELECT animerec.unload_model('tap_pin');
\o
SELECT is(current_setting('animerec.max_shared_memory'), '1MB', 'the reloaded cap of 1 MB reaches this session');
SELECT lives_ok($$SELECT animerec.load_model('tap_pin')$$,
                'the pinned version was freed when the peer''s transaction ended (one copy fits in 1 MB)');
\o /dev/null
ALTER SYSTEM RESET animerec.max_shared_memory;
SELECT pg_reload_conf();
SELECT pg_temp.wait_for_reload('animerec.max_shared_memory', '1GB');
\o
SELECT is(current_setting('animerec.max_shared_memory'), '1GB', 'the reset cap reaches this session');

-- a model trained in the database (planted sequence: each user watches items k, k+1, ...)
CREATE TABLE tap_serve_seq AS
SELECT u AS user_id, 1 + ((u * 37) % 60 + k) % 60 AS item_id, 1 + (u + k) % 5 AS rating, k AS rated_at
FROM generate_series(1, 300) u, generate_series(0, 9) k;
CREATE INDEX ON tap_serve_seq (user_id, rated_at);
SET animerec.progress_notices = off;
CALL animerec.train('tap_serve_seq', 'tap_serve_seq', dim => 16, hidden => 16, batch_size => 32,
                    learning_rate => 0.01, epochs => 15, patience => 15, seed => 3);
CREATE TEMP TABLE tap_seq_top AS
SELECT u.user_id, r.item_id, 1 + ((u.user_id * 37) % 60 + 10) % 60 AS next_item
FROM generate_series(1, 300) u(user_id),
     LATERAL animerec.recommend(u.user_id, 1, 'tap_serve_seq') r;
SELECT cmp_ok((SELECT avg((item_id = next_item)::int) FROM tap_seq_top), '>', 0.5::numeric,
              'a trained model recommends the next item of the planted sequence first for most users');
SELECT is((SELECT count(*) FROM tap_seq_top t JOIN tap_serve_seq s USING (user_id)
           WHERE s.item_id = t.item_id), 0::bigint, 'never an item the user has seen');
SELECT is((SELECT count(*) FROM (SELECT user_id, item_id FROM animerec.recommend_all(1, 'tap_serve_seq')
                                 EXCEPT SELECT user_id, item_id FROM tap_seq_top) d), 0::bigint,
          'recommend_all agrees with recommend on the trained model');
SELECT is((SELECT count(*) FROM tap_seq_top t
           WHERE t.item_id <> (SELECT item_id FROM animerec.recommend_for_history(
                                   (SELECT array_agg(item_id::bigint ORDER BY rated_at) FROM tap_serve_seq s WHERE s.user_id = t.user_id),
                                   (SELECT array_agg(rating::real ORDER BY rated_at) FROM tap_serve_seq s WHERE s.user_id = t.user_id),
                                   1, 'tap_serve_seq'))), 0::bigint,
          'recommend_for_history agrees with recommend on the trained model');

-- user tags: recommend reads the user's tags like training did
CREATE TABLE tap_serve_utags AS
SELECT u AS user_id, CASE WHEN u % 2 = 0 THEN 'even' ELSE 'odd' END || ', g' || (u % 3) AS tag
FROM generate_series(1, 300) u;
INSERT INTO tap_serve_seq SELECT 1000 + t, item_id, rating, rated_at FROM tap_serve_seq, generate_series(1, 2) t WHERE user_id = 7;
INSERT INTO tap_serve_utags VALUES (1001, 'even'), (1002, 'odd, g1');
CALL animerec.train('tap_serve_utags', 'tap_serve_seq', user_tags => 'tap_serve_utags', dim => 8, hidden => 8,
                    batch_size => 64, learning_rate => 0.01, epochs => 2, patience => 0, seed => 5);
SELECT isnt((SELECT array_agg(score ORDER BY item_id) FROM animerec.recommend(1001, 60, 'tap_serve_utags')),
            (SELECT array_agg(score ORDER BY item_id) FROM animerec.recommend(1002, 60, 'tap_serve_utags')),
            'the same history with other user tags scores differently');
SELECT is((SELECT count(*) FROM (SELECT user_id, rank, item_id FROM animerec.recommend_all(5, 'tap_serve_utags')
                                 EXCEPT
                                 SELECT u.user_id, r.rank, r.item_id
                                 FROM (SELECT DISTINCT user_id FROM tap_serve_seq) u,
                                      LATERAL animerec.recommend(u.user_id, 5, 'tap_serve_utags') r) d), 0::bigint,
          'recommend_all reads user tags like recommend');

-- a name dropped and trained again in one transaction, after its first row was loaded: the
-- cache knows a registry row by (name, version, created_at), so the second row (dimension 16)
-- is served, not the copy of the dropped one (dimension 8)
\o /dev/null
BEGIN;
CALL animerec.train('tap_serve_again', 'tap_serve_ratings', item_col => 'anime_id', order_col => 'ts', dim => 8,
                    hidden => 8, layers => 1, maxlen => 10, epochs => 1, seed => 1);
SELECT animerec.load_model('tap_serve_again');
SELECT animerec.drop_model('tap_serve_again');
CALL animerec.train('tap_serve_again', 'tap_serve_ratings', item_col => 'anime_id', order_col => 'ts', dim => 16,
                    hidden => 8, layers => 1, maxlen => 10, epochs => 1, seed => 1);
COMMIT;
\o
SELECT is((SELECT array_length(animerec.user_embedding(anime_id, rating, 'tap_serve_again' ORDER BY ts), 1)
             FROM tap_serve_ratings WHERE user_id = 1), 16,
          'a model dropped and trained again in one transaction serves its new row');

SELECT * FROM finish();
\o /dev/null
SELECT dblink_disconnect('tap_serve_peer');
SELECT animerec.unload_model('tap_serve'), animerec.unload_model('tap_serve_seq'),
       animerec.unload_model('tap_serve_utags'), animerec.unload_model('tap_pin'),
       animerec.unload_model('tap_serve_again');
DELETE FROM animerec.models WHERE name IN ('tap_serve', 'tap_serve_seq', 'tap_serve_utags', 'tap_pin', 'tap_serve_again');
DROP TABLE tap_serve_ratings, tap_serve_seq, tap_serve_utags;
\o
