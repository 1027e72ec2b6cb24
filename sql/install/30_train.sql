-- ---------------------------------------------------------------------------
-- In-database training (src/train_procedure.c, src/train_data.c, src/evaluate.c,
-- src/progress.c, src/registry.c).
-- ---------------------------------------------------------------------------

-- Registry columns used by training: who is training a row (to tell a live run
-- from one whose backend died), and the tag vocabularies (tag g = element g).
ALTER TABLE models
    ADD COLUMN train_pid           int,
    ADD COLUMN train_backend_start timestamptz,
    ADD COLUMN tag_vocab           text[],
    ADD COLUMN user_tag_vocab      text[];
COMMENT ON COLUMN models.train_pid IS 'process id of the backend that trains (or trained) this version';
COMMENT ON COLUMN models.train_backend_start IS 'start time of that backend: with train_pid, identifies the session that trained (or trains) this version';
COMMENT ON COLUMN models.tag_vocab IS 'item tags of the items table; dense tag index g is element g';
COMMENT ON COLUMN models.user_tag_vocab IS 'user tags of the user_tags table; dense user-tag index g is element g';

-- The training state of an interrupted run (src/nn/resume.c), to resume it exactly.
ALTER TABLE models ADD COLUMN train_state bytea;
COMMENT ON COLUMN models.train_state IS
    'while status is training: the run''s state after its last checkpointed epoch (weights, Adam moments and step, random generator, averaged weights) so that resume => true continues exactly; NULL once ready or failed, and in checkpoints written by 0.2.0';

CREATE PROCEDURE train(
    name          text,
    ratings       regclass,
    user_col      text             DEFAULT 'user_id',
    item_col      text             DEFAULT 'item_id',
    rating_col    text             DEFAULT 'rating',
    order_col     text             DEFAULT 'rated_at',
    items         regclass         DEFAULT NULL,
    item_key      text             DEFAULT 'item_id',
    tags_col      text             DEFAULT 'tags',
    user_tags     regclass         DEFAULT NULL,
    dim           int              DEFAULT 64,
    hidden        int              DEFAULT 128,
    layers        int              DEFAULT 2,
    maxlen        int              DEFAULT 50,
    batch_size    int              DEFAULT 64,
    learning_rate double precision DEFAULT 0.005,
    clip          double precision DEFAULT 5,
    dropout       double precision DEFAULT 0.3,
    epochs        int              DEFAULT 45,
    patience      int              DEFAULT 6,
    loss          text             DEFAULT 'auto',
    negatives     int              DEFAULT 1024,
    holdout       boolean          DEFAULT true,
    resume        boolean          DEFAULT false,
    seed          int              DEFAULT 42,
    ema_decay     double precision DEFAULT 0.995,
    user_embedding boolean         DEFAULT false)
    AS 'MODULE_PATHNAME', 'animerec_train'
    LANGUAGE C;
COMMENT ON PROCEDURE train(text, regclass, text, text, text, text, regclass, text, text, regclass,
                           int, int, int, int, int, double precision, double precision,
                           double precision, int, int, text, int, boolean, boolean, int,
                           double precision, boolean) IS
$$Train a new version of model NAME from the ratings table or view RATINGS and make it active.
Columns: USER_COL and ITEM_COL (int or bigint ids; rows with a NULL id are skipped and counted),
RATING_COL (numeric, NULL for none), ORDER_COL (the order of each user's history, ties by item id;
NULL means item-id order, which only suits data whose ids follow time, since the LSTM learns
transitions between consecutive items). ITEMS with ITEM_KEY and TAGS_COL (text[] or comma-separated
text) gives the items' tags; USER_TAGS is a table of (USER_COL, tag).
Hyperparameters: DIM embedding size (64), HIDDEN LSTM size (128), LAYERS (2), MAXLEN steps a window (50),
BATCH_SIZE windows a batch (64), LEARNING_RATE Adam (0.005), CLIP gradient norm (5; 0 none), DROPOUT (0.3),
EPOCHS at most (45), PATIENCE epochs without better validation NDCG@10 before stopping (6; 0 never),
LOSS 'full' softmax, 'sampled' with NEGATIVES popularity-sampled negatives (1024), or 'auto' (the
default): 'sampled' when the full softmax's output layer would do more than 1e13 FLOP an epoch
(6 x DIM x items x predicted positions), else 'full', said in a NOTICE; SEED (42),
EMA_DECAY (0.995): validation ranks, and the run keeps, an exponential moving average of the weights
over the steps (0: the raw weights). USER_EMBEDDING (false): learn a DIM-sized vector per user of the
data, fed to every step beside the item; recommend and explain use a user's vector, users not in the
training data (and recommend_for_history) get the zero vector.
HOLDOUT (true): users with at least 5 rows keep their last item for test and the one before for
validation; false trains on every row (no early stopping, no metrics).
Outside a transaction block every epoch commits a checkpoint (the best weights so far, metrics and a
training_log row), so a cancel or crash loses at most one epoch; inside a transaction block nothing is
committed before the end. RESUME => true continues the newest interrupted run of NAME from its
last checkpoint exactly: called with the same data and arguments (EPOCHS and PATIENCE may change) and
animerec.threads = 1, it ends with the weights an uninterrupted run would have, bit for bit (a NOTICE
says when arguments differ, or when a 0.2.0 checkpoint without training state restarts Adam).
Reads the data with the caller's privileges.$$;

CREATE FUNCTION activate(name text, version int) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    IF activate.name IS NULL OR activate.version IS NULL THEN
        RAISE EXCEPTION 'name and version must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM animerec._check_manager(activate.name);
    PERFORM 1 FROM animerec.models m
     WHERE m.name = activate.name AND m.version = activate.version AND m.status = 'ready';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" has no ready version %', activate.name, activate.version
            USING ERRCODE = 'undefined_object',
                  HINT = 'Ready versions: ' || coalesce((SELECT string_agg(m.version::text, ', ' ORDER BY m.version)
                                                  FROM animerec.models m
                                                 WHERE m.name = activate.name AND m.status = 'ready'), 'none') || '.';
    END IF;
    -- one activation of a name at a time (training's final activation takes this lock too)
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('animerec.activate'),
                                             pg_catalog.hashtext(activate.name));
    UPDATE animerec.models m SET active = false WHERE m.name = activate.name AND m.active;
    UPDATE animerec.models m SET active = true WHERE m.name = activate.name AND m.version = activate.version;
END
$$;
COMMENT ON FUNCTION activate(text, int) IS
    'make VERSION (status ready) the active version of model NAME, deactivating the previous one; owner, members of animerec_admin and superusers only';

CREATE FUNCTION evaluate(name text DEFAULT NULL, k int DEFAULT 10,
    OUT users bigint, OUT hr double precision, OUT ndcg double precision, OUT mrr double precision,
    OUT popularity_hr double precision, OUT popularity_ndcg double precision,
    OUT popularity_mrr double precision)
    AS 'MODULE_PATHNAME', 'animerec_evaluate'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION evaluate(text, int) IS
    'HR@k, NDCG@k and MRR@k of the active version of model NAME (NULL: animerec.model, else the database''s default model) on each user''s last item (users with at least 5 rows), full ranking with earlier items excluded, beside the popularity baseline; reads the source table again';

CREATE FUNCTION _training_progress_rows(
    OUT pid int, OUT model text, OUT version int, OUT epoch int, OUT epochs int,
    OUT batch bigint, OUT batches bigint, OUT loss double precision,
    OUT positions_per_s double precision, OUT elapsed interval, OUT remaining interval)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'animerec_training_progress'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION _training_progress_rows() IS
    'rows of the training_progress view, read from shared memory';

-- (the function lists only the models the caller may see: src/serving_acl.c, serving_may_list)
CREATE VIEW training_progress AS
SELECT p.* FROM _training_progress_rows() p;
COMMENT ON VIEW training_progress IS
    'running trainings of every session, of the models the current user may serve or manages (all of them for members of animerec_admin): epoch and batch within it, running loss, speed, elapsed time and an estimate of the time left if all epochs run; empty unless animerec is in shared_preload_libraries';
