-- In-database training: CALL animerec.train, the registry rows it writes,
-- activate, evaluate and the progress view.  Tiny models (dim 8, hidden 8,
-- 2 epochs, fixed seed); floats are rounded or compared, never printed raw.
SET animerec.progress_notices = off;
-- 40 users with 12 rows each following a planted sequence (item k, then k + 1)
CREATE TABLE train_r (user_id int, item_id int, rating real, rated_at int);
INSERT INTO train_r
SELECT u, 1 + (u + k) % 30, 1 + (u * k) % 5, k
FROM generate_series(1, 40) u, generate_series(1, 12) k;
CREATE TABLE train_items (item_id int, tags text[]);
INSERT INTO train_items SELECT i, ARRAY['g' || i % 3, 'h' || i % 2] FROM generate_series(1, 30) i;

CALL animerec.train('t_basic', 'train_r', items => 'train_items', dim => 8, hidden => 8,
                    epochs => 2, seed => 7);
SELECT name, version, status, active, ratings_table, user_col, item_col, rating_col, order_col,
       items_table, item_key, tags_col, n_rows, n_users, n_items, n_tags, epochs_done,
       best_epoch BETWEEN 1 AND 2 AS best_epoch_ok, bytes = length(weights) AS bytes_ok,
       hyperparams->>'dim' AS dim, hyperparams->>'loss' AS loss, tag_vocab,
       finished_at >= created_at AS finished, train_pid = pg_backend_pid() AS our_pid
FROM animerec.models WHERE name = 't_basic';
SELECT (metrics->>'test_users')::int AS test_users,
       (metrics->>'test_hr@10')::float8 BETWEEN 0 AND 1 AS test_hr_ok,
       (metrics->>'popularity_hr@10')::float8 BETWEEN 0 AND 1 AS pop_hr_ok,
       (metrics->>'val_ndcg@10')::float8 BETWEEN 0 AND 1 AS val_ok
FROM animerec.models WHERE name = 't_basic';
-- memory of the run: weights (model, best, moving average) and the trainer
-- (gradients and Adam's two moments, three times the weights, plus a batch's workspace)
SELECT (metrics->>'weights_bytes')::bigint BETWEEN 1 AND bytes AS weights_ok,
       (metrics->>'weight_copies')::int AS weight_copies,
       (metrics->>'trainer_bytes')::bigint > 3 * (metrics->>'weights_bytes')::bigint AS trainer_ok
FROM animerec.models WHERE name = 't_basic';
SELECT epoch, loss > 0 AS loss_ok, val_hr BETWEEN 0 AND 1 AS hr_ok, val_ndcg <= val_hr AS ndcg_ok,
       seconds > 0 AS timed, positions_per_s > 0 AS speed
FROM animerec.training_log WHERE name = 't_basic' ORDER BY epoch;

-- evaluate: the same test items as training's metrics, with k
SELECT users, round(hr::numeric, 6) = round((m.metrics->>'test_hr@10')::numeric, 6) AS same_hr,
       round(ndcg::numeric, 6) = round((m.metrics->>'test_ndcg@10')::numeric, 6) AS same_ndcg,
       round(popularity_hr::numeric, 6) = round((m.metrics->>'popularity_hr@10')::numeric, 6) AS same_pop
FROM animerec.evaluate('t_basic'), animerec.models m WHERE m.name = 't_basic';
SELECT users, hr >= (SELECT hr FROM animerec.evaluate('t_basic', 5)) AS hr_grows_with_k,
       mrr <= hr AS mrr_ok
FROM animerec.evaluate('t_basic', 20);
SET animerec.model = 't_basic';
SELECT users FROM animerec.evaluate();
RESET animerec.model;

-- every run adds a version and activates it; activate switches back
CALL animerec.train('t_basic', 'train_r', dim => 8, hidden => 8, epochs => 1, seed => 7);
SELECT version, status, active, n_tags FROM animerec.models WHERE name = 't_basic' ORDER BY version;
SELECT animerec.activate('t_basic', 1);
SELECT version, active FROM animerec.models WHERE name = 't_basic' ORDER BY version;
SELECT animerec.activate('t_basic', 7);

-- inside a transaction block the CALL is atomic: no intermediate commits, same result
BEGIN;
CALL animerec.train('t_atomic', 'train_r', dim => 8, hidden => 8, epochs => 2, seed => 7);
SELECT status, active, epochs_done FROM animerec.models WHERE name = 't_atomic';
ROLLBACK;
SELECT count(*) AS rolled_back FROM animerec.models WHERE name = 't_atomic';

-- a view with bigint ids, comma-separated text tags, NULL ids (skipped and
-- counted), no rating and no order column (item id order)
CREATE TABLE train_raw (u bigint, i bigint);
INSERT INTO train_raw SELECT u + 10000000000, i FROM generate_series(1, 10) u, generate_series(1, 6) i;
INSERT INTO train_raw VALUES (NULL, 1), (1, NULL), (NULL, NULL);
CREATE VIEW train_v AS SELECT u AS uid, i AS iid FROM train_raw;
CREATE TABLE train_csv_items (iid bigint, genres varchar);
INSERT INTO train_csv_items VALUES (1, 'a, b'), (2, 'b'), (3, ''), (4, NULL), (5, 'c,a');
CALL animerec.train('t_view', 'train_v', user_col => 'uid', item_col => 'iid', rating_col => NULL,
                    order_col => NULL, items => 'train_csv_items', item_key => 'iid',
                    tags_col => 'genres', dim => 8, hidden => 8, epochs => 1);
SELECT n_rows, n_users, n_items, n_tags, tag_vocab, rating_col, order_col
FROM animerec.models WHERE name = 't_view';

-- holdout => false trains on every row: no validation metrics
CALL animerec.train('t_all', 'train_v', user_col => 'uid', item_col => 'iid', rating_col => NULL,
                    order_col => NULL, holdout => false, dim => 8, hidden => 8, epochs => 2);
SELECT status, active, epochs_done, metrics ? 'test_hr@10' AS has_test
FROM animerec.models WHERE name = 't_all';
SELECT epoch, val_hr IS NULL AS no_val FROM animerec.training_log WHERE name = 't_all' ORDER BY epoch;

-- user tags: a table of (user column, tag)
CREATE TABLE train_user_tags (user_id int, tag text);
INSERT INTO train_user_tags SELECT u, CASE WHEN u % 2 = 0 THEN 'even' ELSE 'odd' END FROM generate_series(1, 40) u;
INSERT INTO train_user_tags VALUES (999, 'nobody');
CALL animerec.train('t_utags', 'train_r', user_tags => 'train_user_tags', dim => 8, hidden => 8,
                    epochs => 1);
SELECT user_tags_table, user_tag_vocab FROM animerec.models WHERE name = 't_utags';
SELECT users FROM animerec.evaluate('t_utags');

-- identifiers are quoted: a column named like an injection is just a column
CREATE TABLE "train odd" ("x""; DROP TABLE train_r; --" int, "Item" int, "when" int);
INSERT INTO "train odd" SELECT u, 1 + (u + k) % 7, k FROM generate_series(1, 6) u, generate_series(1, 6) k;
CALL animerec.train('t_quoted', '"train odd"', user_col => 'x"; DROP TABLE train_r; --',
                    item_col => 'Item', rating_col => NULL, order_col => 'when',
                    dim => 8, hidden => 8, epochs => 1);
SELECT ratings_table, user_col, n_rows FROM animerec.models WHERE name = 't_quoted';
SELECT count(*) AS train_r_intact FROM train_r;

-- sampled softmax
CALL animerec.train('t_sampled', 'train_r', loss => 'sampled', negatives => 5, dim => 8,
                    hidden => 8, epochs => 1);
SELECT status, hyperparams->>'loss' AS loss, hyperparams->>'negatives' AS negatives
FROM animerec.models WHERE name = 't_sampled';

-- without the moving average the raw weights are validated and kept
CALL animerec.train('t_raw', 'train_r', ema_decay => 0, dim => 8, hidden => 8, epochs => 1);
SELECT status, hyperparams->>'ema_decay' AS ema_decay FROM animerec.models WHERE name = 't_raw';

-- nothing is training now
SELECT count(*) AS running FROM animerec.training_progress;
SELECT pid, model, version, epoch, epochs, batch, batches, loss, positions_per_s, elapsed, remaining
FROM animerec.training_progress WHERE false;

DELETE FROM animerec.models WHERE name LIKE 't\_%';
