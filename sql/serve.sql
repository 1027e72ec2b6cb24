-- Serving: recommend, recommend_for_history, recommend_for_embedding,
-- similar_items, recommend_all, the model cache and its error paths.
-- The models are untrained, seeded blobs from test/nn/bin/make_blob: item j
-- has id 10*j and bias -0.001*j, so the cold-start ranking is 10, 20, 30, ...
\set blob1 `test/nn/bin/make_blob /dev/stdout 30 4 8 8 2 5 42 | od -An -tx1 -v | tr -d ' \n'`
\set blob2 `test/nn/bin/make_blob /dev/stdout 30 4 8 8 2 5 43 | od -An -tx1 -v | tr -d ' \n'`
\set blob_big `test/nn/bin/make_blob /dev/stdout 3000 4 64 8 1 5 44 | od -An -tx1 -v | tr -d ' \n'`
CREATE TABLE serve_ratings (user_id int, anime_id int, rating real, ts int);
INSERT INTO serve_ratings
SELECT u, 10 * (1 + (u * 7 + s * 3) % 30), 1 + (u + s) % 10, s
FROM generate_series(1, 20) u, generate_series(1, 4) s;
CREATE INDEX ON serve_ratings (user_id, ts);
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('serve_toy', 1, 'ready', true, 'public.serve_ratings', 'user_id', 'anime_id', 'rating', 'ts',
        '{}', decode(:'blob1', 'hex'));
SET animerec.model = 'serve_toy';

-- shape: ranks 1..k, scores descending, ids from the catalogue
SELECT count(*) AS n, min(rank) AS first, max(rank) AS last,
       bool_and(item_id % 10 = 0 AND item_id BETWEEN 10 AND 300) AS ids_ok
FROM animerec.recommend(1, 5);
SELECT bool_and(score >= next_score) AS descending
FROM (SELECT score, lead(score) OVER (ORDER BY rank) AS next_score
      FROM animerec.recommend(1, 30)) s
WHERE next_score IS NOT NULL;
SELECT name, version, bytes > 8000 AS has_bytes, loaded_at <= now() AS loaded_before, calls, shared
FROM animerec.loaded_models WHERE name = 'serve_toy';

-- seen items are excluded, unless asked not to
SELECT count(*) AS seen_returned
FROM animerec.recommend(1, 100) r JOIN serve_ratings s ON s.user_id = 1 AND s.anime_id = r.item_id;
SELECT count(*) AS all_items FROM animerec.recommend(1, 100, exclude_seen => false);

-- k above the catalogue returns the rest of the catalogue; k < 1 and NULL k are errors
SELECT count(*) AS unseen_items FROM animerec.recommend(1, 1000);
SELECT * FROM animerec.recommend(1, 0);
SELECT * FROM animerec.recommend(1, -3);
SELECT * FROM animerec.recommend(1, NULL);
-- NULL user: no rows
SELECT count(*) AS null_user FROM animerec.recommend(NULL, 5);
-- a user without history gets the popularity (bias) ranking
SELECT array_agg(item_id ORDER BY rank) AS cold FROM animerec.recommend(999, 5);

-- the same history given anonymously gives the same list
SELECT (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(3, 10)) =
       (SELECT array_agg(item_id ORDER BY rank)
        FROM animerec.recommend_for_history(
               (SELECT array_agg(anime_id::bigint ORDER BY ts, anime_id) FROM serve_ratings WHERE user_id = 3),
               (SELECT array_agg(rating ORDER BY ts, anime_id) FROM serve_ratings WHERE user_id = 3),
               10)) AS history_equals_user;
-- unknown ids are skipped, ratings are clamped to the trained range [1, 10]
SELECT (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend_for_history('{20,77777,40}', '{5,5,5}')) =
       (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend_for_history('{20,40}', '{5,5}')) AS unknown_skipped;
SELECT (SELECT array_agg(score ORDER BY rank) FROM animerec.recommend_for_history('{20,40}', '{100,-7}')) =
       (SELECT array_agg(score ORDER BY rank) FROM animerec.recommend_for_history('{20,40}', '{10,1}')) AS clamped;
SELECT count(*) AS history_items_excluded
FROM animerec.recommend_for_history('{20,40}', NULL, 100) WHERE item_id IN (20, 40);
SELECT array_agg(item_id ORDER BY rank) AS empty_history_is_cold FROM animerec.recommend_for_history('{}', NULL, 5);
SELECT * FROM animerec.recommend_for_history('{20,40}', '{5}');
SELECT count(*) AS null_history FROM animerec.recommend_for_history(NULL);

-- the aggregate: one D-vector per user, and it closes the loop through recommend_for_embedding
SELECT user_id, array_length(animerec.user_embedding(anime_id, rating ORDER BY ts), 1) AS dim
FROM serve_ratings WHERE user_id <= 3 GROUP BY user_id ORDER BY user_id;
SELECT count(*) AS users FROM (
    SELECT user_id, animerec.user_embedding(anime_id, rating, 'serve_toy' ORDER BY ts) AS e
    FROM serve_ratings GROUP BY user_id) s WHERE array_length(e, 1) = 8;
SELECT (SELECT array_agg(item_id ORDER BY rank)
        FROM animerec.recommend_for_embedding(
               (SELECT animerec.user_embedding(anime_id, rating ORDER BY ts, anime_id)
                FROM serve_ratings WHERE user_id = 3), 30)
        WHERE item_id NOT IN (SELECT anime_id FROM serve_ratings WHERE user_id = 3)) =
       (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(3, 30)) AS aggregate_closes_loop;
SELECT animerec.user_embedding(anime_id, rating) AS no_rows FROM serve_ratings WHERE false;
SELECT * FROM animerec.recommend_for_embedding('{1,2,3}');
SELECT * FROM animerec.recommend_for_embedding('{1,2,3,4,5,6,7,NULL}');
SELECT count(*) AS zero_embedding_rows FROM animerec.recommend_for_embedding('{0,0,0,0,0,0,0,0}', 4);

-- similar items: k rows, never the item itself, cosine in [-1, 1]
SELECT count(*) AS n, bool_and(item_id <> 50) AS not_itself, bool_and(abs(score) <= 1.0001) AS cosine
FROM animerec.similar_items(50, 7);
SELECT * FROM animerec.similar_items(55);
SELECT count(*) AS null_item FROM animerec.similar_items(NULL);

-- the batch path agrees with recommend; requested users without rows get the cold ranking
SELECT user_id, array_agg(item_id ORDER BY rank) AS items
FROM animerec.recommend_all(3, users => '{999,2,1,2,NULL}') GROUP BY user_id ORDER BY user_id;
SELECT bool_and(a.items = r.items) AS batch_equals_single, count(*) AS users
FROM (SELECT user_id, array_agg(item_id ORDER BY rank) AS items FROM animerec.recommend_all(5) GROUP BY user_id) a,
     LATERAL (SELECT array_agg(item_id ORDER BY rank) AS items FROM animerec.recommend(a.user_id, 5)) r;

-- model resolution: unknown names list the models one may use; NULL means the
-- database's default model (the first one activated), which a second model does not change
SELECT * FROM animerec.recommend(1, 5, 'no_such_model');
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('serve_toy_noindex', 1, 'ready', true, 'public.serve_ratings', 'anime_id', 'user_id', NULL, NULL,
        '{}', decode(:'blob1', 'hex'));
RESET animerec.model;
SELECT name AS default_model FROM animerec.served_models WHERE is_default;
SELECT (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(1, 5))
     = (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(1, 5, 'serve_toy')) AS unqualified_is_default;
SET animerec.model = 'serve_toy';
-- a table without an index on (user, order) is reported once per model version
SELECT count(*) AS first_call FROM animerec.recommend(10, 3, 'serve_toy_noindex');
SELECT count(*) AS second_call FROM animerec.recommend(10, 3, 'serve_toy_noindex');

-- a new active version is picked up by the next call; the old copy leaves the cache
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
SELECT name, 2, status, false, ratings_table, user_col, item_col, rating_col, order_col, hyperparams,
       decode(:'blob2', 'hex')
FROM animerec.models WHERE name = 'serve_toy' AND version = 1;
UPDATE animerec.models SET active = false WHERE name = 'serve_toy';
UPDATE animerec.models SET active = true WHERE name = 'serve_toy' AND version = 2;
SELECT count(*) FROM animerec.recommend(1, 5);
SELECT name, version, shared FROM animerec.loaded_models WHERE name = 'serve_toy';
SELECT animerec.load_model('serve_toy') AS loaded_version;
SELECT animerec.unload_model('serve_toy') AS unloaded, animerec.unload_model('serve_toy') AS again;
SELECT count(*) AS still_loaded FROM animerec.loaded_models WHERE name = 'serve_toy';
SELECT count(*) AS reloads_on_use FROM animerec.recommend(1, 5);
SELECT * FROM animerec.recommend(1, 5, 'serve_toy_noindex') WHERE false;

-- corrupt weights are rejected with data_corrupted and the server stays up
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
SELECT name, 3, status, false, ratings_table, user_col, item_col, rating_col, order_col, hyperparams,
       overlay(weights PLACING '\xff'::bytea FROM 200)
FROM animerec.models WHERE name = 'serve_toy' AND version = 2;
UPDATE animerec.models SET active = false WHERE name = 'serve_toy';
UPDATE animerec.models SET active = true WHERE name = 'serve_toy' AND version = 3;
-- (checksums masked: they depend on the blob's bytes)
DO $$
DECLARE hint text;
BEGIN
    PERFORM * FROM animerec.recommend(1, 5);
EXCEPTION WHEN data_corrupted THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'data_corrupted: % / %', regexp_replace(SQLERRM, '[0-9A-F]{8}', 'XXXXXXXX', 'g'), hint;
END $$;
SELECT 1 AS server_still_up;
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
SELECT name, 4, status, false, ratings_table, user_col, item_col, rating_col, order_col, hyperparams,
       substr(weights, 1, 100)
FROM animerec.models WHERE name = 'serve_toy' AND version = 2;
UPDATE animerec.models SET active = false WHERE name = 'serve_toy';
UPDATE animerec.models SET active = true WHERE name = 'serve_toy' AND version = 4;
SELECT animerec.load_model('serve_toy');
UPDATE animerec.models SET active = false WHERE name = 'serve_toy';
UPDATE animerec.models SET active = true WHERE name = 'serve_toy' AND version = 2;
SELECT count(*) AS serving_again FROM animerec.recommend(1, 5);
-- a model without an active version
UPDATE animerec.models SET active = false WHERE name = 'serve_toy';
SELECT * FROM animerec.recommend(1, 5);
UPDATE animerec.models SET active = true WHERE name = 'serve_toy' AND version = 2;

-- a version number that comes back after its row was deleted is another model, not the cached one
SELECT count(*) AS loaded_first FROM animerec.recommend_for_history('{20,40}', NULL, 5, 'serve_toy_noindex');
DELETE FROM animerec.models WHERE name = 'serve_toy_noindex';
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('serve_toy_noindex', 1, 'ready', true, 'public.serve_ratings', 'anime_id', 'user_id', NULL, NULL,
        '{}', decode(:'blob2', 'hex'));
SELECT (SELECT array_agg(score ORDER BY rank) FROM animerec.recommend_for_history('{20,40}', NULL, 5, 'serve_toy_noindex')) =
       (SELECT array_agg(score ORDER BY rank) FROM animerec.recommend_for_history('{20,40}', NULL, 5, 'serve_toy'))
       AS new_row_served;

-- the animerec.max_shared_memory cap refuses a model that does not fit and says how much it needs
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
VALUES ('serve_big', 1, 'ready', true, 'public.serve_ratings', 'user_id', 'anime_id', 'rating', 'ts',
        '{}', decode(:'blob_big', 'hex'));
\i test/wait_until.psql
ALTER SYSTEM SET animerec.max_shared_memory = 1;
SELECT pg_reload_conf();
SELECT pg_temp.wait_for_reload('animerec.max_shared_memory', '1MB');
SHOW animerec.max_shared_memory;
DO $$
DECLARE hint text;
BEGIN
    PERFORM animerec.load_model('serve_big');
EXCEPTION WHEN configuration_limit_exceeded THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'refused: % / %', regexp_replace(SQLERRM, '\d+ kB', 'N kB', 'g'), hint;
END $$;
ALTER SYSTEM RESET animerec.max_shared_memory;
SELECT pg_reload_conf();
SELECT pg_temp.wait_for_reload('animerec.max_shared_memory', '1GB');
SHOW animerec.max_shared_memory;
SELECT animerec.load_model('serve_big') AS fits_again;

-- recommend reads the ratings with the caller's privileges (the model itself is
-- usable by the members of its owner role, here a group role)
CREATE ROLE regress_serve_reader;
CREATE ROLE regress_serve_team;
GRANT regress_serve_team TO regress_serve_reader;
UPDATE animerec.model_owners SET owner = 'regress_serve_team' WHERE name = 'serve_toy';
SET ROLE regress_serve_reader;
SELECT count(*) FROM animerec.recommend(1, 5, 'serve_toy');
SELECT animerec.unload_model('serve_toy');
RESET ROLE;
GRANT SELECT ON serve_ratings TO regress_serve_reader;
SET ROLE regress_serve_reader;
SELECT count(*) AS with_grant FROM animerec.recommend(1, 5, 'serve_toy');
RESET ROLE;
UPDATE animerec.model_owners SET owner = current_user WHERE name = 'serve_toy';
REVOKE ALL ON serve_ratings FROM regress_serve_reader;
DROP ROLE regress_serve_reader, regress_serve_team;

SELECT animerec.unload_model(name) FROM (VALUES ('serve_toy'), ('serve_toy_noindex'), ('serve_big')) v(name);
DELETE FROM animerec.models WHERE name IN ('serve_toy', 'serve_toy_noindex', 'serve_big');
RESET animerec.model;
DROP TABLE serve_ratings;
