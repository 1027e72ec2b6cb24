-- pgTAP: one history rule for the three serving paths, and the aggregate's model pins.
-- recommend (the ratings table), recommend_for_history (an array) and recommend_all (the
-- batch path) all feed the newest maxlen KNOWN items: items the model does not know take no
-- place in the window, wherever they are in the history.  recommend reads a user's rows
-- newest first and recommend_all oldest first (keeping the last maxlen): with ties and NULLs
-- in the order column they still pick the same window in the same order.  The user_embedding aggregate pins
-- each model it is given once per call site, however often the model argument changes
-- between groups (animerec.loaded_models.calls counts the pins taken).
-- Not wrapped in a transaction: the aggregate's pins are counted across statements.
\set blob `test/nn/bin/make_blob /dev/stdout 40 5 8 8 1 6 11 | od -An -tx1 -v | tr -d ' \n'`
\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SELECT plan(10);

-- maxlen 6; items 10, 20, ..., 400 are known.  User 1: ten known items, then three unknown
-- ones (the newest rows); user 2: the same ten known items only.
CREATE TABLE tap_hist_ratings (user_id int, anime_id int, rating real, ts int);
INSERT INTO tap_hist_ratings
SELECT u, 10 * (1 + (s * 7) % 40), 1 + s % 10, s FROM generate_series(1, 2) u, generate_series(1, 10) s;
INSERT INTO tap_hist_ratings VALUES (1, 9001, 5, 11), (1, 9002, 6, 12), (1, 9003, 7, 13);
CREATE INDEX ON tap_hist_ratings (user_id, ts);
INSERT INTO animerec.models (name, version, status, active, ratings_table, user_col, item_col,
                             rating_col, order_col, hyperparams, weights)
SELECT n, 1, 'ready', true, 'public.tap_hist_ratings', 'user_id', 'anime_id', 'rating', 'ts', '{}',
       decode(:'blob', 'hex')
FROM unnest('{tap_hist,tap_agg_a,tap_agg_b}'::text[]) n;

CREATE TEMP TABLE tap_paths AS
SELECT 'recommend' AS path, array_agg(item_id ORDER BY rank) AS items, array_agg(score ORDER BY rank) AS scores
  FROM animerec.recommend(1, 40, 'tap_hist')
UNION ALL
SELECT 'recommend_for_history', array_agg(item_id ORDER BY rank), array_agg(score ORDER BY rank)
  FROM animerec.recommend_for_history(
         (SELECT array_agg(anime_id::bigint ORDER BY ts) FROM tap_hist_ratings WHERE user_id = 1),
         (SELECT array_agg(rating ORDER BY ts) FROM tap_hist_ratings WHERE user_id = 1), 40, 'tap_hist')
UNION ALL
SELECT 'recommend_all', array_agg(item_id ORDER BY rank), array_agg(score ORDER BY rank)
  FROM animerec.recommend_all(40, 'tap_hist', '{1}')
UNION ALL
SELECT 'recommend, user 2', array_agg(item_id ORDER BY rank), array_agg(score ORDER BY rank)
  FROM animerec.recommend(2, 40, 'tap_hist');

-- the largest score difference between path a and path b
CREATE FUNCTION pg_temp.score_diff(a text, b text) RETURNS real LANGUAGE sql AS $$
    SELECT max(abs(x - y)) FROM unnest((SELECT scores FROM tap_paths WHERE path = a),
                                       (SELECT scores FROM tap_paths WHERE path = b)) s(x, y)
$$;
SELECT is((SELECT cardinality(items) FROM tap_paths WHERE path = 'recommend'), 30,
          'recommend ranks the 30 items user 1 has not seen');
SELECT is((SELECT items FROM tap_paths WHERE path = 'recommend_for_history'),
          (SELECT items FROM tap_paths WHERE path = 'recommend'),
          'unknown newest items: recommend ranks like recommend_for_history');
SELECT cmp_ok(pg_temp.score_diff('recommend', 'recommend_for_history'), '<', 1e-6::real,
              'with the same scores');
SELECT is((SELECT items FROM tap_paths WHERE path = 'recommend_all'),
          (SELECT items FROM tap_paths WHERE path = 'recommend'),
          'recommend_all ranks like recommend');
SELECT cmp_ok(pg_temp.score_diff('recommend', 'recommend_all'), '<', 1e-5::real,
              'with the same scores (to float rounding of the batched GEMM)');
SELECT cmp_ok(pg_temp.score_diff('recommend', 'recommend, user 2'), '<', 1e-6::real,
              'the unknown items change nothing: user 2 with only the known items scores the same');

-- the aggregate over 20 users whose model alternates from group to group
INSERT INTO tap_hist_ratings
SELECT u, 10 * (1 + (u * 11 + s * 7) % 40), 1 + (u * s) % 10, s FROM generate_series(3, 22) u, generate_series(1, 5) s;
SELECT count(animerec.load_model(n)) AS loaded FROM unnest('{tap_agg_a,tap_agg_b}'::text[]) n \gset
CREATE TEMP TABLE tap_calls_before AS SELECT name, calls FROM animerec.loaded_models;
CREATE TEMP TABLE tap_mixed AS
SELECT user_id, animerec.user_embedding(anime_id, rating, CASE WHEN user_id % 2 = 0 THEN 'tap_agg_a' ELSE 'tap_agg_b' END
                                        ORDER BY ts) AS emb
  FROM tap_hist_ratings WHERE user_id >= 3 GROUP BY user_id;
SELECT is((SELECT array_agg(l.calls - b.calls ORDER BY name) FROM animerec.loaded_models l JOIN tap_calls_before b USING (name)
            WHERE name IN ('tap_agg_a', 'tap_agg_b')),
          '{1,1}'::bigint[], 'one pin per model although the model argument changed at every one of 20 groups');
SELECT is((SELECT count(*) FROM tap_mixed m
            WHERE emb IS DISTINCT FROM (SELECT animerec.user_embedding(anime_id, rating, 'tap_agg_a' ORDER BY ts)
                                          FROM tap_hist_ratings r WHERE r.user_id = m.user_id)),
          0::bigint, 'and each group''s embedding is its model''s (the models have the same weights)');

-- ties and NULLs in the order column: users 101..108, twelve rows each (maxlen 6), the
-- order value shared by four rows at a time and NULL (the newest) on two of them
INSERT INTO tap_hist_ratings
SELECT u, 10 * (1 + (u * 3 + s * 7) % 40), 1 + (u + s) % 10, CASE WHEN s % 5 = 0 THEN NULL ELSE s / 4 END
  FROM generate_series(101, 108) u, generate_series(1, 12) s;
CREATE TEMP TABLE tap_ties AS
SELECT u AS user_id, o.items AS one, o.scores AS one_scores, b.items AS batch, b.scores AS batch_scores
  FROM generate_series(101, 108) u,
       LATERAL (SELECT array_agg(item_id ORDER BY rank) AS items, array_agg(score ORDER BY rank) AS scores
                  FROM animerec.recommend(u, 40, 'tap_hist')) o,
       LATERAL (SELECT array_agg(item_id ORDER BY rank) AS items, array_agg(score ORDER BY rank) AS scores
                  FROM animerec.recommend_all(40, 'tap_hist', (SELECT array_agg(v) FROM generate_series(101, 108) v))
                 WHERE user_id = u) b;
SELECT is((SELECT count(*) FROM tap_ties WHERE one IS DISTINCT FROM batch OR cardinality(one) < 28),
          0::bigint, 'ties and NULLs in the order column: recommend_all ranks every user like recommend');
SELECT cmp_ok((SELECT max(abs(x - y)) FROM tap_ties, unnest(one_scores, batch_scores) s(x, y)), '<', 1e-5::real,
              'with the same scores (to float rounding of the batched GEMM)');

SELECT * FROM finish();
DELETE FROM animerec.models WHERE name IN ('tap_hist', 'tap_agg_a', 'tap_agg_b');
DROP TABLE tap_hist_ratings;
