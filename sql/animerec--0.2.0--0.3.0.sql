-- animerec 0.2.0 -> 0.3.0 (ALTER EXTENSION animerec UPDATE).  Mirrors the
-- changes to sql/install/*.sql since 0.2.0; scripts/test compares an updated
-- installation with a fresh one (test/upgrade.sh).
\echo Use "ALTER EXTENSION animerec UPDATE TO '0.3.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Exact resume (issue 15): checkpoints keep the training state
-- (sql/install/30_train.sql, src/nn/resume.c, src/train.c, src/registry.c).
-- ---------------------------------------------------------------------------
-- The training state of an interrupted run (src/nn/resume.c), to resume it exactly.
ALTER TABLE models ADD COLUMN train_state bytea;
COMMENT ON COLUMN models.train_state IS
    'while status is training: the run''s state after its last checkpointed epoch (weights, Adam moments and step, random generator, averaged weights) so that resume => true continues exactly; NULL once ready or failed, and in checkpoints written by 0.2.0';
COMMENT ON PROCEDURE train(text, regclass, text, text, text, text, regclass, text, text, regclass,
                           int, int, int, int, int, double precision, double precision,
                           double precision, int, int, text, int, boolean, boolean, int,
                           double precision) IS
$$Train a new version of model NAME from the ratings table or view RATINGS and make it active.
Columns: USER_COL and ITEM_COL (int or bigint ids; rows with a NULL id are skipped and counted),
RATING_COL (numeric, NULL for none), ORDER_COL (the order of each user's history, ties by item id;
NULL means item-id order, which only suits data whose ids follow time, since the LSTM learns
transitions between consecutive items). ITEMS with ITEM_KEY and TAGS_COL (text[] or comma-separated
text) gives the items' tags; USER_TAGS is a table of (USER_COL, tag).
Hyperparameters: DIM embedding size (64), HIDDEN LSTM size (128), LAYERS (2), MAXLEN steps a window (50),
BATCH_SIZE windows a batch (64), LEARNING_RATE Adam (0.005), CLIP gradient norm (5; 0 none), DROPOUT (0.3),
EPOCHS at most (30), PATIENCE epochs without better validation NDCG@10 before stopping (6; 0 never),
LOSS 'full' softmax or 'sampled' with NEGATIVES popularity-sampled negatives (1024), SEED (42),
EMA_DECAY (0.995): validation ranks, and the run keeps, an exponential moving average of the weights
over the steps (0: the raw weights).
HOLDOUT (true): users with at least 5 rows keep their last item for test and the one before for
validation; false trains on every row (no early stopping, no metrics).
Outside a transaction block every epoch commits a checkpoint (the best weights so far, metrics and a
training_log row), so a cancel or crash loses at most one epoch; inside a transaction block nothing is
committed before the end. RESUME => true continues the newest interrupted run of NAME from its
last checkpoint exactly: called with the same data and arguments (EPOCHS and PATIENCE may change) and
animerec.threads = 1, it ends with the weights an uninterrupted run would have, bit for bit (a NOTICE
says when arguments differ, or when a 0.2.0 checkpoint without training state restarts Adam).
Reads the data with the caller's privileges.$$;
