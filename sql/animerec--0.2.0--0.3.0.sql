-- animerec 0.2.0 -> 0.3.0 (ALTER EXTENSION animerec UPDATE).  Mirrors the
-- changes to sql/install/*.sql since 0.2.0; scripts/test compares an updated
-- installation with a fresh one (test/upgrade.sh).
\echo Use "ALTER EXTENSION animerec UPDATE TO '0.3.0'" to load this file. \quit

-- ---- Internal helpers get the leading underscore of animerec's internal
-- functions (issue 14): the set-returning functions behind the views
-- training_progress and loaded_models, and the transition and final functions
-- of the aggregate user_embedding.  The aggregates and views refer to the
-- functions by OID and follow the rename; the views are defined again so that
-- their range-table alias is the new name too, as in a fresh install.
ALTER FUNCTION training_progress_rows() RENAME TO _training_progress_rows;
ALTER FUNCTION loaded_models_info() RENAME TO _loaded_models_info;
ALTER FUNCTION user_embedding_sfunc(internal, bigint, real) RENAME TO _user_embedding_sfunc;
ALTER FUNCTION user_embedding_sfunc(internal, bigint, real, text) RENAME TO _user_embedding_sfunc;
ALTER FUNCTION user_embedding_final(internal) RENAME TO _user_embedding_final;
CREATE OR REPLACE VIEW training_progress AS SELECT * FROM _training_progress_rows();
CREATE OR REPLACE VIEW loaded_models AS SELECT * FROM _loaded_models_info();

-- ---- The documentation moved from README into docs/ (issue 14): a comment that
-- pointed to README's "Demo data" points to docs/data.md.
COMMENT ON FUNCTION generate_demo_data(int, int, int, name) IS
    'create tables demo_items(item_id, name, tags) and demo_ratings(user_id, item_id, rating, rated_at) in schema with a synthetic anime-like data set (see docs/data.md, "Demo data")';
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

-- ---------------------------------------------------------------------------
-- User tags from text (issue 15): user_tags_tfidf (sql/install/35_user_tags.sql).
-- ---------------------------------------------------------------------------
-- _check_column(source, col, arg, types, types_text, hint): error unless
-- column col of source exists (42703, with hint) and is of one of types (42804).
CREATE FUNCTION _check_column(source regclass, col name, arg text, types regtype[], types_text text,
                              hint text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col_type regtype;
BEGIN
    SELECT a.atttypid::regtype INTO col_type FROM pg_attribute a
     WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, source
            USING ERRCODE = 'undefined_column', HINT = hint;
    ELSIF col_type <> ALL (types) THEN
        RAISE EXCEPTION '% "%" of relation % must be %, not %', arg, col, source, types_text, col_type
            USING ERRCODE = 'datatype_mismatch', HINT = hint;
    END IF;
END
$$;
COMMENT ON FUNCTION _check_column(regclass, name, text, regtype[], text, text) IS
    'internal: error unless column COL of SOURCE exists (42703) and is of one of TYPES (42804); ARG names the argument, HINT helps';

-- user_tags_tfidf(source, user_col, text_col, k, config): PostgreSQL's parser
-- and dictionaries (to_tsvector(config, text)) give the terms; a user's
-- document is all their rows.  Weights are scikit-learn's TfidfVectorizer
-- defaults: tf = occurrences of the term in the user's rows, idf = ln((1 + N)
-- / (1 + df)) + 1 with N users having text and df users using the term, then
-- each user's vector scaled to unit length.  Ties (equal real weights) go to
-- the term first in byte order.
CREATE FUNCTION user_tags_tfidf(source regclass, user_col name, text_col name, k int DEFAULT 15,
                                config regconfig DEFAULT 'english')
RETURNS TABLE (user_id bigint, tag text, weight real)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF source IS NULL OR user_col IS NULL OR text_col IS NULL OR k IS NULL OR config IS NULL THEN
        RAISE EXCEPTION 'source, user_col, text_col, k and config must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF k < 1 OR k > 10000 THEN
        RAISE EXCEPTION 'k must be between 1 and 10000, not %', k
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM animerec._check_column(source, user_col, 'user_col', '{smallint,integer,bigint}',
                                   'smallint, integer or bigint',
                                   'user_col names the column of user ids (smallint, int or bigint).');
    PERFORM animerec._check_column(source, text_col, 'text_col', '{text,varchar,char}',
                                   'text, varchar or char',
                                   'text_col names the column of text written by or about the user; cast other types in a view.');
    RETURN QUERY EXECUTE format($q$
        WITH docs AS (
            SELECT s.%1$I::bigint AS u, to_tsvector($1, s.%2$I::text) AS v
              FROM %3$s s
             WHERE s.%1$I IS NOT NULL AND s.%2$I IS NOT NULL),
        n_users AS (SELECT count(DISTINCT d.u)::float8 AS n FROM docs d),
        tf AS (
            SELECT d.u, t.lexeme, sum(coalesce(array_length(t.positions, 1), 1))::float8 AS tf
              FROM docs d, unnest(d.v) t
             GROUP BY d.u, t.lexeme),
        df AS (SELECT tf.lexeme, count(*)::float8 AS df FROM tf GROUP BY tf.lexeme),
        w AS (
            SELECT tf.u, tf.lexeme, tf.tf * (ln((1 + n_users.n) / (1 + df.df)) + 1) AS w
              FROM tf JOIN df USING (lexeme), n_users),
        normed AS (
            SELECT w.u, w.lexeme, (w.w / sqrt(sum(w.w * w.w) OVER (PARTITION BY w.u)))::real AS weight
              FROM w),
        ranked AS (
            SELECT normed.*, row_number() OVER (PARTITION BY normed.u
                                                ORDER BY normed.weight DESC, normed.lexeme COLLATE "C") AS r
              FROM normed)
        SELECT ranked.u, ranked.lexeme, ranked.weight FROM ranked WHERE ranked.r <= $2
         ORDER BY ranked.u, ranked.r$q$, user_col, text_col, source)
    USING config, k;
END
$$;
COMMENT ON FUNCTION user_tags_tfidf(regclass, name, name, int, regconfig) IS
$$Each user's K (15) terms of highest TF-IDF over the text TEXT_COL of the rows of SOURCE with user id
USER_COL (a user's rows form one document; rows with a NULL user or text are skipped). Terms are the
lexemes of to_tsvector(CONFIG, text) (CONFIG 'english': stemmed, without stop words). Weight: scikit-learn's
TfidfVectorizer defaults, occurrences in the user's text times ln((1 + N) / (1 + df)) + 1 (N users with
text, df of them using the term), each user's weights scaled to unit length; ties (equal weights) go to
the term first in byte order; rows ordered by user, then rank. A table made of the result is a
train(user_tags => ...) table. Reads SOURCE with the caller's privileges.$$;
-- ---- one history rule for the serving paths (issue 14) ----------------------
-- recommend feeds the newest maxlen KNOWN items, as recommend_for_history and
-- recommend_all do (it took the newest maxlen rows, then dropped unknown items)
COMMENT ON FUNCTION recommend(bigint, int, text, boolean) IS
    'top k items for a user of the model''s ratings table: the newest maxlen known items feed the LSTM (unknown ids are skipped), every item the user rated is excluded unless exclude_seen is false; users without known items get the items with the largest learned bias (popularity); NULL user: no rows';
COMMENT ON AGGREGATE user_embedding(bigint, real) IS
    'user embedding (real[] of the model''s dimension) of the rows in ORDER BY order, using the default model; unlike recommend() it feeds every known item, not only the newest maxlen';
COMMENT ON AGGREGATE user_embedding(bigint, real, text) IS
    'user embedding (real[] of the model''s dimension) of the rows in ORDER BY order for the given model; unlike recommend() it feeds every known item, not only the newest maxlen';
