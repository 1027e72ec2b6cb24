-- pgTAP: exact resume.  A run cancelled by statement_timeout after some epochs
-- (k, whatever the machine allowed) and resumed to k + 2 epochs ends with the
-- bytes of an uninterrupted run of k + 2 epochs (animerec.threads = 1, same
-- seed): its weights bytea and every epoch's loss (and validation NDCG) are
-- equal.  Both with dropout, the moving average and the full softmax on every
-- row, and with the sampled softmax and the holdout split.  A checkpoint
-- without training state (as 0.2.0 wrote them) still resumes, from its best
-- weights with Adam restarted, and then differs.  Runs outside a transaction
-- block (train commits each epoch) and cleans up after itself.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SET animerec.threads = 1;
SELECT plan(15);

CREATE TABLE tap_resume_seq AS
SELECT u AS user_id, 1 + ((u * 37) % 60 + k) % 60 AS item_id, 1 + (u + k) % 5 AS rating, k AS rated_at
FROM generate_series(1, 200) u, generate_series(0, 9) k;

-- the arguments of every run below but epochs and resume
CREATE FUNCTION pg_temp.args(loss text, holdout boolean) RETURNS text LANGUAGE sql AS $$
SELECT format('%L, %L, dim => 8, hidden => 8, layers => 2, maxlen => 8, batch_size => 4, '
              'learning_rate => 0.01, dropout => 0.3, ema_decay => 0.9, loss => %L, negatives => 16, '
              'holdout => %L, patience => 0, seed => 11',
              'tap_resume', 'tap_resume_seq', loss, holdout)
$$;
SELECT pg_temp.args('full', false) AS args_full, pg_temp.args('sampled', true) AS args_sampled \gset

-- training_log of version v, epochs lo..hi, as "epoch:loss:val_ndcg" with every digit
CREATE FUNCTION pg_temp.log_of(v int, lo int DEFAULT 1, hi int DEFAULT 1000000) RETURNS text
LANGUAGE sql AS $$
SELECT string_agg(epoch || ':' || loss::text || ':' || coalesce(val_ndcg::text, '-'), ' ' ORDER BY epoch)
  FROM animerec.training_log WHERE name = 'tap_resume' AND version = v AND epoch BETWEEN lo AND hi
$$;
-- are the weights of versions a and b of tap_resume equal, byte for byte?
CREATE FUNCTION pg_temp.same_weights(a int, b int) RETURNS boolean LANGUAGE sql AS $$
SELECT (SELECT weights FROM animerec.models WHERE name = 'tap_resume' AND version = a) =
       (SELECT weights FROM animerec.models WHERE name = 'tap_resume' AND version = b)
$$;

-- ---- full softmax on every row ----
\set ON_ERROR_STOP 0
SET statement_timeout = '1500ms';
CALL animerec.train(:args_full, epochs => 100000);
RESET statement_timeout;
\set ON_ERROR_STOP 1
SELECT epochs_done AS k, epochs_done + 2 AS resume_to FROM animerec.models
 WHERE name = 'tap_resume' AND version = 1 \gset
SELECT is(status, 'training', format('the cancelled run is left training after %s epochs', :k))
  FROM animerec.models WHERE name = 'tap_resume' AND version = 1;
SELECT ok(:k = 0 OR length(train_state) > length(weights) * 3,
          'its checkpoint keeps a training state beside the weights (moments and averaged weights)')
  FROM animerec.models WHERE name = 'tap_resume' AND version = 1;
-- resuming on another table (the same rows, so the checkpoint would fit) is refused
CREATE TABLE tap_resume_other AS SELECT * FROM tap_resume_seq;
SELECT throws_ok(format('CALL animerec.train(%s, epochs => %s, resume => true)',
                        replace(:'args_full', '''tap_resume_seq''', '''tap_resume_other'''), :resume_to),
                 '55000', 'cannot resume model "tap_resume" version 1 on other data than the interrupted run',
                 'resume => true on another ratings table is an error, not a model whose row names the old one');
DROP TABLE tap_resume_other;
CALL animerec.train(:args_full, epochs => :resume_to, resume => true);
CALL animerec.train(:args_full, epochs => :resume_to);
SELECT is(string_agg(version || ' ' || status || ' ' || epochs_done, ', ' ORDER BY version),
          format('1 ready %s, 2 ready %s', :resume_to, :resume_to),
          'the resumed run and an uninterrupted one both finish')
  FROM animerec.models WHERE name = 'tap_resume';
SELECT ok(pg_temp.same_weights(1, 2), 'resumed after epoch k: the weights bytea equals the uninterrupted run''s');
SELECT is(pg_temp.log_of(1), pg_temp.log_of(2), 'and so does every epoch''s loss');
SELECT is(count(*)::int, 0, 'a ready version keeps no training state')
  FROM animerec.models WHERE name = 'tap_resume' AND train_state IS NOT NULL;

-- ---- sampled softmax with the holdout split (validation, best epoch) ----
\set ON_ERROR_STOP 0
SET statement_timeout = '1500ms';
CALL animerec.train(:args_sampled, epochs => 100000);
RESET statement_timeout;
\set ON_ERROR_STOP 1
SELECT epochs_done AS k, epochs_done + 2 AS resume_to FROM animerec.models
 WHERE name = 'tap_resume' AND version = 3 \gset
CALL animerec.train(:args_sampled, epochs => :resume_to, resume => true);
CALL animerec.train(:args_sampled, epochs => :resume_to);
SELECT is(string_agg(version || ' ' || status, ', ' ORDER BY version), '3 ready, 4 ready',
          format('sampled softmax: cancelled after %s epochs, resumed and uninterrupted runs finish', :k))
  FROM animerec.models WHERE name = 'tap_resume' AND version IN (3, 4);
SELECT ok(pg_temp.same_weights(3, 4), 'sampled softmax: the weights bytea equals the uninterrupted run''s');
SELECT is(pg_temp.log_of(3), pg_temp.log_of(4), 'and so do the losses and validation NDCG of every epoch');
SELECT is((SELECT metrics - 'train_seconds' FROM animerec.models WHERE name = 'tap_resume' AND version = 3),
          (SELECT metrics - 'train_seconds' FROM animerec.models WHERE name = 'tap_resume' AND version = 4),
          'and so do the final metrics (best epoch, validation and test)');

-- ---- a checkpoint without training state, as animerec 0.2.0 wrote them ----
\set ON_ERROR_STOP 0
SET statement_timeout = '1500ms';
CALL animerec.train(:args_full, epochs => 100000);
RESET statement_timeout;
\set ON_ERROR_STOP 1
SELECT epochs_done AS k, epochs_done + 2 AS resume_to FROM animerec.models
 WHERE name = 'tap_resume' AND version = 5 \gset
UPDATE animerec.models SET train_state = NULL WHERE name = 'tap_resume' AND version = 5;
CALL animerec.train(:args_full, epochs => :resume_to, resume => true);
CALL animerec.train(:args_full, epochs => :resume_to);
SELECT is(string_agg(version || ' ' || status || ' ' || epochs_done, ', ' ORDER BY version),
          format('5 ready %s, 6 ready %s', :resume_to, :resume_to),
          format('a checkpoint without training state (after %s epochs) still resumes', :k))
  FROM animerec.models WHERE name = 'tap_resume' AND version IN (5, 6);
SELECT ok(:k = 0 OR NOT pg_temp.same_weights(5, 6),
          'from its best weights with Adam restarted: other weights than an uninterrupted run''s');
SELECT is(pg_temp.log_of(5, 1, :k), pg_temp.log_of(6, 1, :k),
          'its epochs before the checkpoint are the uninterrupted run''s');
SELECT ok(:k = 0 OR pg_temp.log_of(5, :k + 1, :k + 1) <> pg_temp.log_of(6, :k + 1, :k + 1),
          'the first epoch after it is not');

SELECT * FROM finish();
DELETE FROM animerec.models WHERE name = 'tap_resume';
DELETE FROM animerec.model_owners WHERE name = 'tap_resume';
DROP TABLE tap_resume_seq;
