-- pgTAP: animerec.training_progress shows a training that runs in another
-- session.  A second connection (dblink to this cluster's socket) starts a
-- small seeded training with far more epochs than it will run; this session
-- polls the view until the training is in its second epoch, checks the row's
-- fields, cancels the training and checks that the row is gone.
-- Runs outside BEGIN/ROLLBACK (the other session must see the table) and
-- cleans up after itself.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
CREATE EXTENSION IF NOT EXISTS dblink;
SET client_min_messages = warning;
SELECT plan(14);

-- 300 users with 10 rows: 8 training rows each, one window a user, 10 batches of 32
CREATE TABLE tap_progress_data AS
SELECT u AS user_id, 1 + ((u * 37) % 60 + k) % 60 AS item_id, 1 + (u + k) % 5 AS rating, k AS rated_at
FROM generate_series(1, 300) u, generate_series(0, 9) k;

SELECT dblink_connect('tap_bg', format('host=%s port=%s dbname=%s user=%s options=%L',
                      split_part(current_setting('unix_socket_directories'), ',', 1),
                      current_setting('port'), current_database(), current_user,
                      '-c animerec.progress_notices=off')) AS connected \gset
SELECT pid AS bg_pid FROM dblink('tap_bg', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT is(dblink_send_query('tap_bg',
          $$CALL animerec.train('tap_progress', 'tap_progress_data', dim => 16, hidden => 16,
                                batch_size => 32, epochs => 1000, patience => 0, seed => 3)$$),
          1, 'the other session starts a training');

-- the view's row of the other session once it is in epoch 2 or later (NULL after 60 s)
CREATE FUNCTION pg_temp.wait_progress(bg int) RETURNS SETOF animerec.training_progress
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..1200 LOOP
        RETURN QUERY SELECT * FROM animerec.training_progress WHERE pid = bg AND epoch >= 2;
        IF FOUND THEN
            RETURN;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
CREATE TEMP TABLE tap_row AS SELECT * FROM pg_temp.wait_progress(:bg_pid);

SELECT is((SELECT count(*)::int FROM tap_row), 1, 'training_progress shows the other session''s training');
SELECT is(pid, :bg_pid, 'pid is the training backend') FROM tap_row;
SELECT is(model, 'tap_progress', 'model is the trained name') FROM tap_row;
SELECT is(version, 1, 'version is the new version') FROM tap_row;
SELECT ok(epoch BETWEEN 2 AND 1000, 'epoch is the running epoch') FROM tap_row;
SELECT is(epochs, 1000, 'epochs is the most epochs asked for') FROM tap_row;
SELECT is(batches, 10::bigint, 'batches is the number of batches an epoch') FROM tap_row;
SELECT ok(batch BETWEEN 1 AND 10, 'batch is within the epoch') FROM tap_row;
SELECT ok(loss > 0 AND loss < 2 * ln(61), 'loss is a running cross-entropy') FROM tap_row;
SELECT ok(positions_per_s > 0 AND elapsed > interval '0' AND remaining > interval '0',
          'speed, elapsed and remaining time are positive') FROM tap_row;

-- cancel the other session's training and collect its result
SELECT dblink_cancel_query('tap_bg') AS cancelled \gset
SELECT count(*) AS result_rows FROM dblink_get_result('tap_bg', false) AS t(status text) \gset
SELECT count(*) AS end_rows FROM dblink_get_result('tap_bg', false) AS t(status text) \gset
SELECT is(:'cancelled'::text, 'OK', 'the cancel request is sent');
SELECT matches(dblink_error_message('tap_bg'), 'canceling statement due to user request',
               'the other session reports the cancel');
-- the other session has finished aborting (and released its slot) once it answers a query
SELECT n AS bg_idle FROM dblink('tap_bg', 'SELECT 1') AS t(n int) \gset
SELECT is((SELECT count(*)::int FROM animerec.training_progress WHERE pid = :bg_pid), 0,
          'the cancelled training leaves training_progress');

SELECT * FROM finish();
SELECT dblink_disconnect('tap_bg') AS disconnected \gset
DELETE FROM animerec.models WHERE name = 'tap_progress';
DROP TABLE tap_progress_data;
