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
-- ---------------------------------------------------------------------------
-- 0.3.0, issue 13: export_model, import_model and active_versions
-- (sql/install/50_transfer.sql, src/transfer.c, src/nn/export.c).
-- ---------------------------------------------------------------------------
CREATE FUNCTION _pack_model(meta jsonb, weights bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'animerec_pack_model'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION _pack_model(jsonb, bytea) IS
    'internal: the export envelope (magic ANRECEX1, format version, lengths, metadata, weights, CRC32C) of a validated weight blob and its metadata';

CREATE FUNCTION _unpack_model(model bytea, OUT meta jsonb, OUT weights bytea)
    AS 'MODULE_PATHNAME', 'animerec_unpack_model'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION _unpack_model(bytea) IS
    'internal: the metadata and weights of an export, after checking its magic (22P03), format version (0A000), lengths, checksum and weights (XX001)';

-- _weights_checksum(weights): the CRC32C a weight blob ends with, as 8 hex digits
CREATE FUNCTION _weights_checksum(weights bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
SELECT pg_catalog.lpad(pg_catalog.upper(pg_catalog.to_hex(
           (pg_catalog.get_byte(weights, pg_catalog.octet_length(weights) - 1)::bigint << 24)
         | (pg_catalog.get_byte(weights, pg_catalog.octet_length(weights) - 2)::bigint << 16)
         | (pg_catalog.get_byte(weights, pg_catalog.octet_length(weights) - 3)::bigint << 8)
         |  pg_catalog.get_byte(weights, pg_catalog.octet_length(weights) - 4)::bigint)), 8, '0')
$$;
COMMENT ON FUNCTION _weights_checksum(bytea) IS
    'internal: the CRC32C stored at the end of a weight blob (src/nn/format.c), as 8 hexadecimal digits';

CREATE FUNCTION export_model(name text, version int DEFAULT NULL) RETURNS bytea
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    m animerec.models;
BEGIN
    IF export_model.name IS NULL THEN
        RAISE EXCEPTION 'name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM animerec._check_manager(export_model.name);
    SELECT * INTO m FROM animerec.models r
     WHERE r.name = export_model.name
       AND CASE WHEN export_model.version IS NULL THEN r.active ELSE r.version = export_model.version END;
    IF NOT FOUND OR m.status <> 'ready' THEN
        RAISE EXCEPTION 'model "%" has no %', export_model.name,
                coalesce('ready version ' || export_model.version, 'active version')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Ready versions: ' || coalesce((SELECT string_agg(r.version::text, ', ' ORDER BY r.version)
                                                  FROM animerec.models r
                                                 WHERE r.name = export_model.name AND r.status = 'ready'), 'none') || '.';
    END IF;
    RETURN animerec._pack_model(
        pg_catalog.jsonb_build_object(
            'animerec_version', (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'animerec'),
            'exported_at', pg_catalog.now(),
            'model', pg_catalog.to_jsonb(m) - ARRAY['weights', 'active', 'status', 'owner', 'train_pid',
                                                    'train_backend_start'],
            'training_log', (SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(l) - ARRAY['name', 'version'] ORDER BY l.epoch)
                               FROM animerec.training_log l
                              WHERE l.name = m.name AND l.version = m.version)),
        m.weights);
END
$$;
COMMENT ON FUNCTION export_model(text, int) IS
    'version VERSION (NULL: the active one) of model NAME as one bytea: its weights, its registry row and training_log, checksummed (CRC32C), for animerec.import_model() on another server; owner, members of animerec_admin and superusers only';

CREATE FUNCTION import_model(name text, model bytea, activate boolean DEFAULT true,
                             ratings regclass DEFAULT NULL, user_tags regclass DEFAULT NULL,
                             version int DEFAULT NULL) RETURNS int
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    meta jsonb;
    w bytea;
    r animerec.models;
    v int;
    tbl regclass;
    utbl regclass;
    col text;
    old_weights bytea;
BEGIN
    IF import_model.name IS NULL OR import_model.model IS NULL THEN
        RAISE EXCEPTION 'name and model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT u.meta, u.weights INTO meta, w FROM animerec._unpack_model(import_model.model) u;
    r := pg_catalog.jsonb_populate_record(NULL::animerec.models, meta->'model');
    v := coalesce(import_model.version, r.version);

    -- serving reads the ratings (and user tags) here: they must exist with the model's columns
    tbl := coalesce(import_model.ratings, pg_catalog.to_regclass(r.ratings_table));
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'ratings table % of the imported model does not exist', r.ratings_table
            USING ERRCODE = 'undefined_table',
                  HINT = 'Pass ratings => the table of this server that holds the users'' ratings.';
    END IF;
    FOREACH col IN ARRAY ARRAY[r.user_col, r.item_col, r.rating_col, r.order_col] LOOP
        IF col IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                            WHERE a.attrelid = tbl AND a.attname = col
                                              AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'ratings table % has no column "%" that the imported model reads', tbl, col
                USING ERRCODE = 'undefined_column';
        END IF;
    END LOOP;
    IF r.user_tags_table IS NOT NULL THEN
        utbl := coalesce(import_model.user_tags, pg_catalog.to_regclass(r.user_tags_table));
        IF utbl IS NULL THEN
            RAISE EXCEPTION 'user tags table % of the imported model does not exist', r.user_tags_table
                USING ERRCODE = 'undefined_table',
                      HINT = 'Pass user_tags => the table of this server that holds the user tags.';
        END IF;
    END IF;

    -- ownership as for train: a new name becomes the caller's, a taken one needs its manager
    INSERT INTO animerec.model_owners (name) VALUES (import_model.name) ON CONFLICT DO NOTHING;
    PERFORM animerec._check_manager(import_model.name);
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('animerec.train'),
                                                pg_catalog.hashtext(import_model.name)) THEN
        RAISE EXCEPTION 'model "%" is being trained by another session', import_model.name
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Wait for the training to finish, or import under another name.';
    END IF;

    SELECT m.weights INTO old_weights FROM animerec.models m
     WHERE m.name = import_model.name AND m.version = v;
    IF FOUND AND old_weights IS DISTINCT FROM w THEN
        RAISE EXCEPTION 'model "%" already has a version % with other weights', import_model.name, v
            USING ERRCODE = 'duplicate_object',
                  HINT = format('Import it as another version with version =>, or drop this one with animerec.drop_model(%L, %s).',
                                import_model.name, v);
    ELSIF NOT FOUND THEN
        INSERT INTO animerec.models (name, version, status, ratings_table, user_col, item_col, rating_col,
                                     order_col, items_table, item_key, tags_col, user_tags_table,
                                     hyperparams, metrics, n_rows, n_users, n_items, n_tags, epochs_done,
                                     best_epoch, bytes, created_at, finished_at, weights, tag_vocab,
                                     user_tag_vocab)
        VALUES (import_model.name, v, 'ready', tbl::text, r.user_col, r.item_col, r.rating_col,
                r.order_col, r.items_table, r.item_key, r.tags_col, utbl::text,
                r.hyperparams,
                r.metrics || pg_catalog.jsonb_build_object('imported', pg_catalog.jsonb_build_object(
                    'at', pg_catalog.now(), 'model', r.name, 'version', r.version,
                    'from_animerec', meta->'animerec_version')),
                r.n_rows, r.n_users, r.n_items, r.n_tags, r.epochs_done, r.best_epoch, r.bytes,
                r.created_at, r.finished_at, w, r.tag_vocab, r.user_tag_vocab);
        INSERT INTO animerec.training_log (name, version, epoch, loss, val_hr, val_ndcg, seconds,
                                           positions_per_s, logged_at)
        SELECT import_model.name, v, l.epoch, l.loss, l.val_hr, l.val_ndcg, l.seconds,
               l.positions_per_s, l.logged_at
          FROM pg_catalog.jsonb_populate_recordset(NULL::animerec.training_log,
                   CASE WHEN pg_catalog.jsonb_typeof(meta->'training_log') = 'array'
                        THEN meta->'training_log' ELSE '[]' END) l;
    END IF;
    IF import_model.activate THEN
        PERFORM animerec.activate(import_model.name, v);
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION import_model(text, bytea, boolean, regclass, regclass, int) IS
    'install an animerec.export_model() bytea as version VERSION (NULL: the exported number) of model NAME after checking its format, checksum and weights, and with ACTIVATE make it the active version in the same transaction; RATINGS and USER_TAGS name this server''s tables when they differ from the exporting server''s; importing the same weights again only activates them; NAME becomes the caller''s when new, as with train, and otherwise needs its owner, animerec_admin or a superuser';

CREATE FUNCTION active_versions(name text DEFAULT NULL,
    OUT name text, OUT version int, OUT created_at timestamptz, OUT checksum text,
    OUT imported_from jsonb)
    RETURNS SETOF record
    LANGUAGE sql STABLE
AS $$
SELECT m.name, m.version, m.created_at, animerec._weights_checksum(m.weights), m.metrics->'imported'
  FROM animerec.models m
 WHERE m.active AND ($1 IS NULL OR m.name = $1)
 ORDER BY m.name
$$;
COMMENT ON FUNCTION active_versions(text) IS
    'the active version of model NAME (NULL: of every model the caller may see) on this server, when it was trained, the CRC32C of its weights (equal on every server that holds the same weights) and, for an imported version, where it came from';

ALTER FUNCTION _pack_model(jsonb, bytea) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION _unpack_model(bytea) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION _weights_checksum(bytea) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION export_model(text, int) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION import_model(text, bytea, boolean, regclass, regclass, int) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION active_versions(text) SET search_path = pg_catalog, pg_temp;
-- ---- issue 16: build_info() reports the CPU level and the OpenBLAS kernel in use ----
COMMENT ON FUNCTION build_info() IS
    'extension version, PostgreSQL version, the CPU''s x86-64 level (cpu), the BLAS library, its kernel in use (blas_core) and who chose it (blas_core_source), BLAS thread count, and whether animerec is in shared_preload_libraries';
