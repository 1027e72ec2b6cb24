-- pgTAP: in-database training.  A tiny model beats popularity on generated data
-- with a planted sequence (each user watches consecutive items k, k+1, ...);
-- a cancelled run (statement_timeout) keeps the previous version active and
-- intact and leaves its committed checkpoint, which resume => true continues;
-- a later run marks a cancelled run's row 'failed'.
-- train commits after every epoch, which it cannot do inside a transaction
-- block, so this file runs outside BEGIN/ROLLBACK and cleans up after itself.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SELECT plan(17);

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

-- cancel a long run after two seconds: psql goes on after the error
SELECT clock_timestamp() AS cancel_started \gset
\set ON_ERROR_STOP 0
SET statement_timeout = '2s';
CALL animerec.train('tap_seq', 'tap_train_seq', dim => 16, hidden => 16, batch_size => 32,
                    learning_rate => 0.01, epochs => 100000, patience => 0, seed => 3);
RESET statement_timeout;
\set ON_ERROR_STOP 1
SELECT cmp_ok(clock_timestamp() - :'cancel_started'::timestamptz, '<', interval '3.5 s',
              'statement_timeout stops training within a second or so');
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

-- a new run (not resume) marks a cancelled run's row as failed
\set ON_ERROR_STOP 0
SET statement_timeout = '1s';
CALL animerec.train('tap_seq', 'tap_train_seq', dim => 16, hidden => 16, epochs => 100000,
                    patience => 0);
RESET statement_timeout;
\set ON_ERROR_STOP 1
CALL animerec.train('tap_seq', 'tap_train_seq', dim => 16, hidden => 16, epochs => 1);
SELECT is(status, 'failed', 'a stale training row is marked failed by the next run')
  FROM animerec.models WHERE name = 'tap_seq' AND version = 3;
SELECT is(active, true, 'the next run is active') FROM animerec.models
 WHERE name = 'tap_seq' AND version = 4;

SELECT * FROM finish();
DELETE FROM animerec.models WHERE name = 'tap_seq';
DROP TABLE tap_train_seq;
