-- Error paths of animerec.train, evaluate and activate: SQLSTATE, message and hint.
SET animerec.progress_notices = off;
CREATE FUNCTION pg_temp.err(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
    hint text;
BEGIN
    EXECUTE cmd;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN state || ': ' || msg || coalesce(E'\nHINT: ' || nullif(hint, ''), '');
END
$$;
CREATE TABLE err_r (user_id int, item_id int, rating real, rated_at int, label text, score text);
INSERT INTO err_r SELECT u, 1 + (u + k) % 9, k, k, 'x', 's' FROM generate_series(1, 5) u, generate_series(1, 6) k;
CREATE TABLE err_empty (user_id int, item_id int, rating real, rated_at int);
CREATE TABLE err_short (user_id int, item_id int, rating real, rated_at int);
INSERT INTO err_short SELECT u, k, 1, k FROM generate_series(1, 5) u, generate_series(1, 3) k;
CREATE TABLE err_single (user_id int, item_id int, rating real, rated_at int);
INSERT INTO err_single SELECT u, u, 1, 1 FROM generate_series(1, 5) u;
CREATE TABLE err_items (item_id int, tags int);

-- relations and columns
CALL animerec.train('e', 'err_nope');
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', user_col => 'uid')$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', order_col => 'ts')$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', items => 'err_items', item_key => 'anime_id')$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', user_tags => 'err_items')$$);
-- column types
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', item_col => 'label')$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', rating_col => 'score')$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', items => 'err_items')$$);
-- data
SELECT pg_temp.err($$CALL animerec.train('e', 'err_empty')$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_short')$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_single', holdout => false)$$);
-- names and hyperparameters
SELECT pg_temp.err($$CALL animerec.train('Bad-Name', 'err_r')$$);
SELECT pg_temp.err($$CALL animerec.train('', 'err_r')$$);
SELECT pg_temp.err($$CALL animerec.train(NULL, 'err_r')$$);
SELECT pg_temp.err($$CALL animerec.train('e', NULL)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', dim => 0)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', hidden => -5)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', layers => 9)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', maxlen => 0)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', batch_size => 1000000)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', learning_rate => 0)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', learning_rate => 'NaN')$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', clip => -1)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', dropout => 1)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', epochs => 0)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', patience => -1)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', loss => 'hinge')$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', negatives => 0)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', ema_decay => 1)$$);
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', dim => NULL)$$);
-- resume without an interrupted run
SELECT pg_temp.err($$CALL animerec.train('e', 'err_r', resume => true, dim => 8, hidden => 8)$$);
SELECT count(*) AS no_rows_left FROM animerec.models WHERE name = 'e';

-- evaluate and activate
SELECT pg_temp.err($$SELECT * FROM animerec.evaluate('err_no_such_model')$$);
SELECT pg_temp.err($$SELECT * FROM animerec.evaluate('e', 0)$$);
SELECT pg_temp.err($$SELECT animerec.activate('err_no_such_model', 1)$$);
