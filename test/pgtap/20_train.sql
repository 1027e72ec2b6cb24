-- pgTAP: in-database training.  A tiny model beats popularity on generated data
-- with a planted sequence (each user watches consecutive items k, k+1, ...);
-- a cancelled run keeps the previous version active and intact and leaves its
-- committed checkpoint, which resume => true continues; a later run marks a
-- cancelled run's row 'failed'; statement_timeout stops a training.  The runs
-- to cancel go through a second session (dblink), cancelled once the state to
-- check is committed: nothing here depends on how fast the machine is.
-- train commits after every epoch, which it cannot do inside a transaction
-- block, so this file runs outside BEGIN/ROLLBACK and cleans up after itself.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
CREATE EXTENSION IF NOT EXISTS dblink;
\i test/wait_until.psql
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SELECT plan(22);

CREATE TABLE tap_train_seq AS
SELECT u AS user_id, 1 + ((u * 37) % 60 + k) % 60 AS item_id, 1 + (u + k) % 5 AS rating, k AS rated_at
FROM generate_series(1, 300) u, generate_series(0, 9) k;

CALL animerec.train('tap_seq', 'tap_train_seq', dim => 16, hidden => 16, batch_size => 32,
                    learning_rate => 0.01, epochs => 15, patience => 15, seed => 3);
SELECT is(status, 'ready', 'training finishes with a ready version') FROM animerec.models
 WHERE name = 'tap_seq' AND version = 1;
CREATE TEMP TABLE tap_eval AS SELECT * FROM animerec.evaluate('tap_seq');
SELECT cmp_ok(hr, '>', popularity_hr + 0.2, 'HR@10 beats popularity on the planted sequence')
  FROM tap_eval;
SELECT cmp_ok(ndcg, '>', popularity_ndcg + 0.1, 'NDCG@10 beats popularity on the planted sequence')
  FROM tap_eval;
CREATE TEMP TABLE tap_v1 AS SELECT md5(weights) AS weights_md5 FROM animerec.models
 WHERE name = 'tap_seq' AND version = 1;

-- a long run in a second session, cancelled once it has committed an epoch (waiting on that,
-- not on a time, so a busy machine only makes it slower)
SELECT dblink_connect('tap_bg', format('host=%s port=%s dbname=%s user=%s options=%L',
                      split_part(current_setting('unix_socket_directories'), ',', 1),
                      current_setting('port'), current_database(), current_user,
                      '-c animerec.progress_notices=off -c client_min_messages=warning')) AS connected \gset
SELECT dblink_send_query('tap_bg',
       $$CALL animerec.train('tap_seq', 'tap_train_seq', dim => 16, hidden => 16, batch_size => 32,
                             learning_rate => 0.01, epochs => 100000, patience => 0, seed => 3)$$) AS sent \gset
SELECT ok(pg_temp.wait_until($$SELECT EXISTS (SELECT FROM animerec.training_log
                                              WHERE name = 'tap_seq' AND version = 2)$$),
          'the long run commits an epoch');
SELECT matches(pg_temp.cancel_and_wait('tap_bg'), 'canceling statement due to user request',
               'a cancel stops training');
SELECT is(active, true, 'the previous version stays active after a cancel')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 1;
SELECT is(md5(weights), (SELECT weights_md5 FROM tap_v1), 'and its weights are intact')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 1;
SELECT is(status, 'training', 'the cancelled run keeps its row')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 2;
SELECT cmp_ok(epochs_done, '>=', 1, 'with the epochs it committed')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 2;
SELECT ok(weights IS NOT NULL, 'and a checkpoint of the best weights')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 2;
SELECT is((SELECT count(*)::int FROM animerec.training_log WHERE name = 'tap_seq' AND version = 2),
          epochs_done, 'a training_log row per committed epoch')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 2;
SELECT is((SELECT count(*)::int FROM animerec.training_progress), 0,
          'the cancelled run left no progress slot');

-- resume continues the checkpointed run for two more epochs
SELECT epochs_done + 2 AS resume_to FROM animerec.models WHERE name = 'tap_seq' AND version = 2 \gset
CALL animerec.train('tap_seq', 'tap_train_seq', dim => 16, hidden => 16, batch_size => 32,
                    learning_rate => 0.01, epochs => :resume_to, patience => 0, seed => 3,
                    resume => true);
SELECT is(status, 'ready', 'resume finishes the interrupted version')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 2;
SELECT is(active, true, 'and activates it')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 2;
SELECT is(epochs_done, :resume_to, 'after the remaining epochs')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 2;
SELECT is((SELECT count(*)::int FROM animerec.training_log WHERE name = 'tap_seq' AND version = 2),
          :resume_to, 'the log continues where the checkpoint was');

-- a run cancelled once its row is committed (version 3) is marked failed by the next new run
SELECT dblink_send_query('tap_bg',
       $$CALL animerec.train('tap_seq', 'tap_train_seq', dim => 16, hidden => 16, epochs => 100000,
                             patience => 0)$$) AS sent \gset
SELECT ok(pg_temp.wait_until($$SELECT EXISTS (SELECT FROM animerec.models
                                              WHERE name = 'tap_seq' AND version = 3)$$),
          'the next long run commits its row');
SELECT pg_temp.cancel_and_wait('tap_bg') AS cancel_message \gset
CALL animerec.train('tap_seq', 'tap_train_seq', dim => 16, hidden => 16, epochs => 1);
SELECT is(status, 'failed', 'a stale training row is marked failed by the next run')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 3;
SELECT is(active, true, 'the next run is active') FROM animerec.models
 WHERE name = 'tap_seq' AND version = 4;
SELECT is(hyperparams->>'loss', 'full',
          'the default loss ''auto'' keeps the full softmax on a small catalogue and records what it chose')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 4;

-- statement_timeout stops a training (it cannot run 100000 epochs in a second) with 57014
\set ON_ERROR_STOP 0
SET statement_timeout = '1s';
CALL animerec.train('tap_seq', 'tap_train_seq', dim => 16, hidden => 16, epochs => 100000,
                    patience => 0);
RESET statement_timeout;
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '57014', 'statement_timeout stops training with 57014');
SELECT is((SELECT array_agg(version) FROM animerec.models WHERE name = 'tap_seq' AND active), '{4}'::int[],
          'and the active version stays');

SELECT * FROM finish();
SELECT dblink_disconnect('tap_bg') AS disconnected \gset
DELETE FROM animerec.models WHERE name = 'tap_seq';
DROP TABLE tap_train_seq;
