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
-- (the functions list only the models the caller may see: src/serving_acl.c, serving_may_list)
CREATE OR REPLACE VIEW training_progress AS SELECT p.* FROM _training_progress_rows() p;
CREATE OR REPLACE VIEW loaded_models AS SELECT l.* FROM _loaded_models_info() l;

-- ---- The documentation moved from README into docs/ (issue 14): a comment that
-- pointed to README's "Demo data" points to docs/data.md.
COMMENT ON FUNCTION generate_demo_data(int, int, int, name) IS
    'create tables demo_items(item_id, name, tags) and demo_ratings(user_id, item_id, rating, rated_at) in schema with a synthetic anime-like data set (see docs/data.md, "Demo data")';
-- ---- A registry row's created_at is the time it was made, not its transaction's start:
-- the model cache knows a row by (name, version, created_at), and a name dropped and
-- trained again in one transaction made a second row with the key of the first.
ALTER TABLE models ALTER COLUMN created_at SET DEFAULT clock_timestamp();
-- ---------------------------------------------------------------------------
-- Exact resume (issue 15): checkpoints keep the training state
-- (sql/install/30_train.sql, src/nn/resume.c, src/train.c, src/registry.c).
-- ---------------------------------------------------------------------------
-- The training state of an interrupted run (src/nn/resume.c), to resume it exactly.
ALTER TABLE models ADD COLUMN train_state bytea;
COMMENT ON COLUMN models.train_state IS
    'while status is training: the run''s state after its last checkpointed epoch (weights, Adam moments and step, random generator, averaged weights) so that resume => true continues exactly; NULL once ready or failed, and in checkpoints written by 0.2.0';
-- (train's comment, which describes resume, is set where train gains user_embedding below)

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
-- ---------------------------------------------------------------------------
-- Issue 12 (BI dashboards, part 2): explanations, sql/install/45_explain.sql.
-- ---------------------------------------------------------------------------
CREATE FUNCTION explain(user_id bigint, item_id bigint, model text DEFAULT NULL, n int DEFAULT 3)
    RETURNS TABLE (rank int, history_item_id bigint, contribution double precision, "position" int)
    AS 'MODULE_PATHNAME', 'animerec_explain'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 3
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION explain(bigint, bigint, text, int) IS
    'the up to n items of the user''s window (the newest maxlen known items, as recommend reads them, but always with the caller''s own privileges, never through a serving grant) that most raised the log-probability of item_id, largest first; contribution = log p(item | window) - log p(item | window without that item), only positive ones; position 1 is the newest item';

CREATE FUNCTION explain_for_history(item_ids bigint[], ratings real[], item_id bigint,
                                    model text DEFAULT NULL, n int DEFAULT 3)
    RETURNS TABLE (rank int, history_item_id bigint, contribution double precision, "position" int)
    AS 'MODULE_PATHNAME', 'animerec_explain_for_history'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 3
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION explain_for_history(bigint[], real[], bigint, text, int) IS
    'explain for an anonymous chronological history read as recommend_for_history reads it: the up to n history items that most raised the log-probability of item_id, with their contributions';

-- ---------------------------------------------------------------------------
-- Issue 12 (BI dashboards, part 2): activation notifications, the
-- recommendations table, refresh_recommendations, sql/install/47_bi_tables.sql
-- (SET search_path written out: 90_privileges.sql sets it on a fresh install).
-- ---------------------------------------------------------------------------
-- Activation sends NOTIFY animerec_activated with the payload
-- {"model": <name>, "version": <version>}, delivered when the activating
-- transaction commits: activate(), training's final activation and a direct
-- UPDATE or INSERT of an active row all go through these triggers.
CREATE FUNCTION _notify_activated() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('animerec_activated',
                                 pg_catalog.json_build_object('model', NEW.name, 'version', NEW.version)::text);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION _notify_activated() IS
    'internal: trigger sending NOTIFY animerec_activated, payload {"model": name, "version": version}, when a version becomes active';
CREATE TRIGGER models_notify_activated_insert AFTER INSERT ON models
    FOR EACH ROW WHEN (NEW.active) EXECUTE FUNCTION _notify_activated();
CREATE TRIGGER models_notify_activated_update AFTER UPDATE OF active ON models
    FOR EACH ROW WHEN (NEW.active AND NOT OLD.active) EXECUTE FUNCTION _notify_activated();
COMMENT ON TRIGGER models_notify_activated_insert ON models IS
    'NOTIFY animerec_activated when a version is inserted active';
COMMENT ON TRIGGER models_notify_activated_update ON models IS
    'NOTIFY animerec_activated when a version becomes active';

-- Top-k recommendations of every user of a model, as of its last refresh.
-- Not a configuration table: pg_dump leaves its rows out (a refresh makes them again).
CREATE TABLE recommendations (
    model       text        NOT NULL,
    version     int         NOT NULL,
    user_id     bigint      NOT NULL,
    rank        int         NOT NULL,
    item_id     bigint      NOT NULL,
    score       real        NOT NULL,
    probability real        NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (model, user_id, rank)
) WITH (fillfactor = 45);
COMMENT ON TABLE recommendations IS
    'top-k recommendations of every user of a model, written by refresh_recommendations: all rows of a model are of one version and one refresh (computed_at, the time the refresh began), replaced at once when the next refresh commits; probability as in recommend_all; row-level security shows a role only the models it manages or holds a serving grant on (grantees read, never write)';

-- read and written by the members of the model name's owner role, of
-- animerec_admin, and by superusers (as the registry)
ALTER TABLE recommendations ENABLE ROW LEVEL SECURITY;
-- (each policy as "model IN (uncorrelated subquery)": the planner runs the
-- subquery once a statement, as a hashed subplan, where an EXISTS correlated
-- with the row called _manages or _may_serve on every row of a refresh or a
-- dashboard's read)
CREATE POLICY recommendations_manager ON recommendations
    USING (model IN (SELECT o.name FROM model_owners o WHERE _manages(o.owner)))
    WITH CHECK (model IN (SELECT o.name FROM model_owners o WHERE _manages(o.owner)));
GRANT SELECT, INSERT, UPDATE, DELETE ON recommendations TO PUBLIC;

-- _recommendations_view(model): create the view <model>_recommendations in
-- the schema of the model's items table, unless it exists: the
-- recommendations of the model with the item's columns (a column whose name
-- the table already has is prefixed item_).  The view is security_invoker:
-- the reader's privileges and the table's row-level security apply.
CREATE FUNCTION _recommendations_view(model text) RETURNS regclass
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m animerec.models;
    items regclass;
    view_name text;
    cols text;
BEGIN
    SELECT * INTO m FROM animerec.models x WHERE x.name = _recommendations_view.model AND x.active;
    IF m.items_table IS NULL THEN
        RETURN NULL;
    END IF;
    items := pg_catalog.to_regclass(m.items_table);
    IF items IS NULL THEN
        RAISE WARNING 'no view of model "%": its items table % does not exist', model, m.items_table
            USING HINT = 'The recommendations are in animerec.recommendations; train a version with an existing items table for the view.';
        RETURN NULL;
    END IF;
    IF pg_catalog.octet_length(_recommendations_view.model || '_recommendations') > 63 THEN
        RAISE WARNING 'no view of model "%": its name "%_recommendations" is longer than 63 bytes', model, model
            USING HINT = 'The recommendations are in animerec.recommendations; create a view over them yourself.';
        RETURN NULL;
    END IF;
    view_name := pg_catalog.format('%I.%I',
                                   (SELECT n.nspname FROM pg_catalog.pg_class c
                                      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                     WHERE c.oid = items),
                                   _recommendations_view.model || '_recommendations');
    IF pg_catalog.to_regclass(view_name) IS NOT NULL THEN
        IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass(view_name)) <> 'v' THEN
            RAISE WARNING 'no view of model "%": % exists and is not a view', model, view_name
                USING HINT = 'Rename or drop that relation; the next refresh then creates the view.';
            RETURN NULL;
        END IF;
        RETURN view_name::regclass;
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('i.%I AS %I', a.attname,
               CASE WHEN a.attname IN ('model', 'version', 'user_id', 'rank', 'item_id', 'score',
                                       'probability', 'computed_at')
                    THEN 'item_' || a.attname ELSE a.attname END), ', ' ORDER BY a.attnum)
      INTO cols
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = items AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> m.item_key;
    EXECUTE pg_catalog.format(
        'CREATE VIEW %s WITH (security_invoker = true) AS'
        ' SELECT r.version, r.user_id, r.rank, r.item_id, r.score, r.probability, r.computed_at%s'
        ' FROM animerec.recommendations r LEFT JOIN %s i ON i.%I = r.item_id WHERE r.model = %L',
        view_name, CASE WHEN cols IS NULL THEN '' ELSE ', ' || cols END, items, m.item_key,
        _recommendations_view.model);
    EXECUTE pg_catalog.format('COMMENT ON VIEW %s IS %L', view_name,
        pg_catalog.format('recommendations of model %s (animerec.recommendations) with the columns of %s; made by animerec.refresh_recommendations',
                          _recommendations_view.model, items));
    RETURN view_name::regclass;
END
$$;
COMMENT ON FUNCTION _recommendations_view(text) IS
    'internal: create the view <model>_recommendations beside the model''s items table unless it exists; returns it, or NULL when the model has no items table';

-- _refresh_progress(model, version, user_id, block_users): evaluated on every
-- row refresh_recommendations writes, counting users and reporting every
-- block_users of them (src/refresh_progress.c); always true.  Not STRICT: a
-- NULL argument is an error, never a row silently left out of the refresh.
CREATE FUNCTION _refresh_progress(model text, version int, user_id bigint, block_users int) RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'animerec_refresh_progress';
COMMENT ON FUNCTION _refresh_progress(text, int, bigint, int) IS
    'internal: progress of refresh_recommendations, called on each row it writes: every block_users users, application_name and a NOTICE (animerec.progress_notices)';

-- refresh_recommendations(model, k, block_users): replace the model's rows of
-- animerec.recommendations by the top k of every user of its ratings table,
-- from one recommend_all scan in one MERGE (its blocks of users scored on
-- threads while the rows of the previous block are written) that updates each
-- (user, rank) of the last refresh in place, a HOT update on the free space
-- the table's fillfactor leaves, so that the primary key's index gets no new
-- entry, and inserts the others; then the rows this refresh did not write
-- (users without ratings any more, ranks beyond k) go.  Progress every
-- block_users users.  One transaction: readers see the old rows until
-- it commits and the new ones after, never a mix or an empty set; a cancel or
-- error leaves the old rows.  Activation of the model waits until it ends
-- (all rows are of one version).  The MERGE's join is a hash join whatever
-- the table's statistics and the session's planner settings say: a nested
-- loop over a scan of the model's rows (chosen once on a first refresh of
-- 50,000 users, which then stopped advancing after 8,192 of them,
-- docs/bi-tables.md) compares every row written with every row there, and a
-- merge join waits for the whole scan before it writes a row.
CREATE PROCEDURE refresh_recommendations(model text, k int DEFAULT 10, block_users int DEFAULT 1024)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET enable_hashjoin = on
    SET enable_nestloop = off
    SET enable_mergejoin = off
AS $$
DECLARE
    m animerec.models;
    n bigint;
    notices boolean := coalesce(pg_catalog.current_setting('animerec.progress_notices', true), 'on')::boolean;
    stamp timestamptz := pg_catalog.clock_timestamp();   -- this refresh's computed_at
    shown text;                                           -- model, as application_name shows it
BEGIN
    IF model IS NULL OR k IS NULL OR block_users IS NULL THEN
        RAISE EXCEPTION 'model, k and block_users must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF k < 1 OR block_users < 1 THEN
        RAISE EXCEPTION 'k and block_users must be at least 1, not % and %', k, block_users
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM animerec._check_manager(model);
    -- one refresh of a name at a time; activate() waits for this transaction
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('animerec.refresh'), pg_catalog.hashtext(model));
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtext('animerec.activate'),
                                                    pg_catalog.hashtext(model));
    SELECT * INTO m FROM animerec.models x WHERE x.name = refresh_recommendations.model AND x.active;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" has no active version', model
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Activate a ready version with animerec.activate(name, version).';
    END IF;
    -- each row of the last refresh is updated in place (no index entry: a HOT update on the
    -- page's free space), a new (user, rank) inserted; progress, for this session (NOTICE) and
    -- for others (pg_stat_activity.application_name)
    MERGE INTO animerec.recommendations r
    USING (SELECT a.user_id, a.rank, a.item_id, a.score, a.probability
             FROM animerec.recommend_all(k, refresh_recommendations.model) a
            WHERE animerec._refresh_progress(refresh_recommendations.model, m.version, a.user_id, block_users)) a
       ON r.model = refresh_recommendations.model AND r.user_id = a.user_id AND r.rank = a.rank
    WHEN MATCHED THEN
        UPDATE SET version = m.version, item_id = a.item_id, score = a.score, probability = a.probability,
                   computed_at = stamp
    WHEN NOT MATCHED THEN
        INSERT (model, version, user_id, rank, item_id, score, probability, computed_at)
        VALUES (refresh_recommendations.model, m.version, a.user_id, a.rank, a.item_id, a.score,
                a.probability, stamp);
    -- the rows of users no longer there, or of ranks beyond k
    DELETE FROM animerec.recommendations r
     WHERE r.model = refresh_recommendations.model AND r.computed_at <> stamp;
    SELECT pg_catalog.count(*) INTO n FROM animerec.recommendations r
     WHERE r.model = refresh_recommendations.model AND r.rank = 1;
    -- (application_name holds 63 bytes: a long name is cut short, not the count)
    shown := model;
    WHILE pg_catalog.octet_length(pg_catalog.format('animerec refresh %s: %s users, done', shown, n)) > 63 LOOP
        shown := pg_catalog.left(shown, -1);
    END LOOP;
    PERFORM pg_catalog.set_config('application_name',
                                  pg_catalog.format('animerec refresh %s: %s users, done', shown, n), true);
    IF notices THEN
        RAISE NOTICE 'refresh of "%" version %: % users, done', model, m.version, n;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM animerec.models x
                    WHERE x.name = refresh_recommendations.model AND x.active AND x.version = m.version) THEN
        IF NOT EXISTS (SELECT 1 FROM animerec.models x WHERE x.name = refresh_recommendations.model) THEN
            RAISE EXCEPTION 'model "%" was dropped during the refresh', model
                USING ERRCODE = 'undefined_object',
                      DETAIL = pg_catalog.format('The refresh began with version %s; nothing was written.', m.version);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM animerec.models x WHERE x.name = refresh_recommendations.model AND x.active) THEN
            RAISE EXCEPTION 'model "%" was deactivated during the refresh', model
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = pg_catalog.format('The refresh began with version %s; nothing was written.', m.version),
                      HINT = 'Activate a version with animerec.activate(name, version), then call refresh_recommendations again.';
        END IF;
        RAISE EXCEPTION 'model "%" was activated during the refresh', model
            USING ERRCODE = 'serialization_failure',
                  DETAIL = pg_catalog.format('The refresh began with version %s.', m.version),
                  HINT = 'Call refresh_recommendations again.';
    END IF;
    PERFORM animerec._recommendations_view(model);
END
$$;
COMMENT ON PROCEDURE refresh_recommendations(text, int, int) IS
    'replace the rows of model in animerec.recommendations by the top k of every user of its ratings table (one recommend_all scan in one MERGE, rows updated in place; progress every block_users users as NOTICEs and in application_name), all at once when the transaction commits; creates the view <model>_recommendations beside the items table on first use; managers of the model only';

-- drop_model(name, version): delete one version, or every version and the name
-- (and then the name's rows of animerec.recommendations, sql/install/47_bi_tables.sql)
CREATE OR REPLACE FUNCTION drop_model(name text, version int DEFAULT NULL) RETURNS int
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    IF drop_model.name IS NULL THEN
        RAISE EXCEPTION 'name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM animerec._check_manager(drop_model.name);
    -- not while the name trains: a training holds this key for its whole run (src/train_lock.c)
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('animerec.train'),
                                                pg_catalog.hashtext(drop_model.name)) THEN
        RAISE EXCEPTION 'model "%" is being trained by another session', drop_model.name
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Wait for the training to finish, or stop it with pg_cancel_backend().';
    END IF;
    IF drop_model.version IS NULL THEN
        -- a refresh of the name ends first; its rows in animerec.recommendations go with the
        -- name (before it: the table's row-level security knows them by the name's owner)
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('animerec.refresh'),
                                                 pg_catalog.hashtext(drop_model.name));
        SELECT count(*) INTO n FROM animerec.models m WHERE m.name = drop_model.name;
        DELETE FROM animerec.recommendations r WHERE r.model = drop_model.name;
        DELETE FROM animerec.model_owners o WHERE o.name = drop_model.name;
        RETURN n;
    END IF;
    PERFORM 1 FROM animerec.models m
     WHERE m.name = drop_model.name AND m.version = drop_model.version AND m.active;
    IF FOUND THEN
        RAISE EXCEPTION 'version % of model "%" is active', drop_model.version, drop_model.name
            USING ERRCODE = 'object_in_use',
                  HINT = format('Activate another version first, or drop the whole model with animerec.drop_model(%L).',
                                drop_model.name);
    END IF;
    DELETE FROM animerec.models m WHERE m.name = drop_model.name AND m.version = drop_model.version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" has no version %', drop_model.name, drop_model.version
            USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM animerec.models m WHERE m.name = drop_model.name) THEN
        DELETE FROM animerec.recommendations r WHERE r.model = drop_model.name;
        DELETE FROM animerec.model_owners o WHERE o.name = drop_model.name;
    END IF;
    RETURN 1;
END
$$;
COMMENT ON FUNCTION drop_model(text, int) IS
    'delete version VERSION (not the active one) of model NAME, or with VERSION NULL every version and the name itself, with their training_log rows (and, with the name, its rows of animerec.recommendations, once a refresh of it has ended); returns the number of versions deleted; owner, members of animerec_admin and superusers only';

-- ===========================================================================
-- 0.3.0, BI dashboards part 1 (issue 11; docs/bi.md): serving privileges per
-- model, the database's default model, honest errors, probability /
-- personalized / model_version columns.  Mirrors sql/install/25_serving_acl.sql,
-- the changes to _check_manager (20_registry.sql), the comments of the views
-- training_progress (30_train.sql) and loaded_models (40_serve.sql), the policies and grants of
-- 90_privileges.sql and the result columns of 40_serve.sql.
-- ===========================================================================

-- a hidden name gets the same error as a missing one
CREATE OR REPLACE FUNCTION _check_manager(name text) RETURNS void
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    o name;
BEGIN
    SELECT m.owner INTO o FROM animerec.model_owners m WHERE m.name = _check_manager.name;
    IF NOT FOUND THEN
        -- missing, or hidden by row-level security: the same answer (no name leaks)
        RAISE EXCEPTION 'model "%" does not exist or you have no serving privilege on it', _check_manager.name
            USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT animerec._manages(o) THEN
        RAISE EXCEPTION 'permission denied for model "%"', _check_manager.name
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Model "%s" belongs to role "%s".', _check_manager.name, o),
                  HINT = 'Only members of the owner role or of animerec_admin, and superusers, may train, activate, drop or use it.';
    END IF;
END
$$;
COMMENT ON FUNCTION _check_manager(text) IS
    'internal: error unless model name exists and is visible to the current user (42704) and the current user manages it (42501)';
ALTER FUNCTION _check_manager(text) SET search_path = pg_catalog, pg_temp;

ALTER TABLE model_owners
    ADD COLUMN is_default boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT model_owners_name_owner UNIQUE (name, owner);
CREATE UNIQUE INDEX model_owners_one_default ON model_owners ((true)) WHERE is_default;
COMMENT ON COLUMN model_owners.is_default IS
    'true for the database''s default model (at most one): calls with a NULL model use it when animerec.model is unset; set with animerec.set_default_model';

-- _is_member(role): is the current user a member of role (superusers: of
-- every role)?  A dropped role matches nobody.  Inlined into the policies
-- like _manages (no SET clause, every name qualified).
CREATE FUNCTION _is_member(role name) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(pg_catalog.pg_has_role(pg_catalog.to_regrole(pg_catalog.quote_ident(role)), 'MEMBER'), false)
$$;
COMMENT ON FUNCTION _is_member(name) IS
    'internal: true when the current user is a member of role (superusers: of every role)';

-- One row per (model name, role) serving grant.  owner follows the name's
-- owner (ON UPDATE CASCADE), so that the row-level security policies of this
-- table need not read model_owners (whose own policy reads this table).
CREATE TABLE serving_grants (
    name            text        NOT NULL,
    owner           name        NOT NULL,
    grantee         name        NOT NULL,
    granted_by      name        NOT NULL DEFAULT current_user,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, grantee),
    FOREIGN KEY (name, owner) REFERENCES model_owners (name, owner) ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE serving_grants IS
    'serving privileges: members of grantee may get recommendations from model name (animerec.grant_serving, animerec.revoke_serving)';
SELECT pg_catalog.pg_extension_config_dump('serving_grants', '');

-- _may_serve(owner, model): may the current user serve model (whose name
-- belongs to owner): does it manage it, or is it a member of a grantee?  The
-- one test behind model_owners' visibility, served_models, loaded_models,
-- training_progress and the serving functions (src/serving_acl.c).
CREATE FUNCTION _may_serve(owner name, model text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT animerec._manages(owner)
    OR EXISTS (SELECT 1 FROM animerec.serving_grants g
                WHERE g.name = model AND animerec._is_member(g.grantee))
$$;
COMMENT ON FUNCTION _may_serve(name, text) IS
    'internal: true when the current user manages model (its name belonging to owner) or is a member of a role holding a serving grant on it';

-- grant_serving(model, grantee): let the members of role grantee serve model
CREATE FUNCTION grant_serving(model text, grantee name) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF grant_serving.model IS NULL OR grant_serving.grantee IS NULL THEN
        RAISE EXCEPTION 'model and grantee must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM animerec._check_manager(grant_serving.model);
    IF pg_catalog.to_regrole(pg_catalog.quote_ident(grant_serving.grantee)) IS NULL THEN
        RAISE EXCEPTION 'role "%" does not exist', grant_serving.grantee
            USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO animerec.serving_grants (name, owner, grantee)
    SELECT o.name, o.owner, grant_serving.grantee
      FROM animerec.model_owners o WHERE o.name = grant_serving.model
    ON CONFLICT ON CONSTRAINT serving_grants_pkey DO NOTHING;
END
$$;
COMMENT ON FUNCTION grant_serving(text, name) IS
    'let the members of role GRANTEE get recommendations from model MODEL (recommend*, similar_items, user_embedding, load_model, its row in served_models) and nothing else; owner, members of animerec_admin and superusers only';

-- revoke_serving(model, grantee): take the grant back; true when there was one
CREATE FUNCTION revoke_serving(model text, grantee name) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF revoke_serving.model IS NULL OR revoke_serving.grantee IS NULL THEN
        RAISE EXCEPTION 'model and grantee must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM animerec._check_manager(revoke_serving.model);
    DELETE FROM animerec.serving_grants g
     WHERE g.name = revoke_serving.model AND g.grantee = revoke_serving.grantee;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION revoke_serving(text, name) IS
    'take back the serving privilege of role GRANTEE on model MODEL; true when it had one; owner, members of animerec_admin and superusers only';

-- set_default_model(name): the model of calls without one (NULL: none)
CREATE FUNCTION set_default_model(name text) RETURNS void
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    cur text;
BEGIN
    IF set_default_model.name IS NOT NULL THEN
        PERFORM animerec._check_manager(set_default_model.name);
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('animerec.default_model'));
    SELECT o.name INTO cur FROM animerec.model_owners o WHERE o.is_default;
    IF cur IS NOT DISTINCT FROM set_default_model.name THEN
        RETURN;
    END IF;
    IF cur IS NOT NULL THEN
        PERFORM animerec._check_manager(cur);
        UPDATE animerec.model_owners o SET is_default = false WHERE o.name = cur;
    END IF;
    IF set_default_model.name IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        UPDATE animerec.model_owners o SET is_default = true WHERE o.name = set_default_model.name;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'permission denied to change the default model'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The current default model belongs to a role you are not a member of.',
                  HINT = 'A member of its owner role or of animerec_admin can change it.';
    END;
END
$$;
COMMENT ON FUNCTION set_default_model(text) IS
    'make model NAME the database''s default model, which calls with a NULL model use when animerec.model is unset (NULL: no default); the caller must manage NAME and the current default';

-- the first name to get an active version becomes the default when there is none
CREATE FUNCTION _default_first() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('animerec.default_model'));
    IF NOT EXISTS (SELECT 1 FROM animerec.model_owners o WHERE o.is_default) THEN
        BEGIN
            UPDATE animerec.model_owners o SET is_default = true WHERE o.name = NEW.name;
        EXCEPTION WHEN unique_violation THEN
            NULL;               -- a default exists that the current user cannot see
        END;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION _default_first() IS
    'internal: trigger of animerec.models making the first name with an active version the default model';
CREATE TRIGGER models_default_first AFTER INSERT OR UPDATE OF active ON models
    FOR EACH ROW WHEN (NEW.active) EXECUTE FUNCTION _default_first();

-- what a grantee may read of the registry: the active versions of the models
-- it serves or manages, without weights.  The view reads the tables as its
-- owner and filters by the current user itself.
CREATE VIEW served_models WITH (security_barrier) AS
SELECT m.name, m.version, o.is_default, o.owner, m.owner AS trained_by, m.status,
       m.ratings_table, m.user_col, m.item_col, m.rating_col, m.order_col, m.items_table,
       m.item_key, m.tags_col, m.user_tags_table, m.hyperparams, m.metrics, m.n_rows, m.n_users,
       m.n_items, m.n_tags, m.epochs_done, m.best_epoch, m.bytes, m.created_at, m.finished_at
  FROM models m JOIN model_owners o ON o.name = m.name
 WHERE m.active AND _may_serve(o.owner, o.name);
COMMENT ON VIEW served_models IS
    'the active version of every model the current user may serve (serving grant) or manages, without its weights; is_default marks the database''s default model';

ALTER FUNCTION _may_serve(name, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION grant_serving(text, name) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION revoke_serving(text, name) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION set_default_model(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION _default_first() SET search_path = pg_catalog, pg_temp;

-- names are visible to their managers and serving grantees only, in the
-- registry and in the views of running trainings and loaded models
DROP POLICY model_owners_read ON model_owners;
CREATE POLICY model_owners_read ON model_owners FOR SELECT USING (_may_serve(owner, name));
ALTER TABLE serving_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving_grants_read ON serving_grants FOR SELECT
    USING (_is_member(grantee) OR _manages(owner));
CREATE POLICY serving_grants_insert ON serving_grants FOR INSERT
    WITH CHECK (_manages(owner));
CREATE POLICY serving_grants_delete ON serving_grants FOR DELETE
    USING (_manages(owner));
GRANT SELECT, INSERT, DELETE ON serving_grants TO PUBLIC;
GRANT SELECT ON served_models TO PUBLIC;
COMMENT ON VIEW training_progress IS
    'running trainings of every session, of the models the current user may serve or manages (all of them for members of animerec_admin): epoch and batch within it, running loss, speed, elapsed time and an estimate of the time left if all epochs run; empty unless animerec is in shared_preload_libraries';
COMMENT ON VIEW loaded_models IS
    'model versions of this database in the model cache that the current user may serve or manages (all of them for members of animerec_admin, even those whose registry row is gone): bytes of weights plus item table, load time, calls since loading; shared is false when animerec is not preloaded (this connection''s own cache)';

-- evaluate's NULL model follows the same rule as serving
COMMENT ON FUNCTION evaluate(text, int) IS
    'HR@k, NDCG@k and MRR@k of the active version of model NAME (NULL: animerec.model, else the database''s default model) on each user''s last item (users with at least 5 rows), full ranking with earlier items excluded, beside the popularity baseline; reads the source table again';

-- an installation with one model name keeps answering calls without a model
-- argument with it: that name becomes the default (with several names such
-- calls failed before, and someone must choose with set_default_model)
UPDATE model_owners SET is_default = true WHERE (SELECT count(*) FROM model_owners) = 1;

-- new result columns (probability, personalized; model_version): a function's
-- result type cannot change in place (recommend_all and the _recommend_all_rows
-- behind it are created again by the next section).  A view of the user's over one of these
-- functions makes the DROP fail: drop it before the update, create it after.
DROP FUNCTION recommend(bigint, int, text, boolean);
DROP FUNCTION recommend_for_history(bigint[], real[], int, text);
DROP FUNCTION recommend_for_embedding(real[], int, text);
DROP FUNCTION recommend_all(int, text, bigint[]);
CREATE FUNCTION recommend(user_id bigint, k int DEFAULT 10, model text DEFAULT NULL,
                          exclude_seen boolean DEFAULT true)
    RETURNS TABLE (rank int, item_id bigint, score real, probability real, personalized boolean)
    AS 'MODULE_PATHNAME', 'animerec_recommend'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION recommend(bigint, int, text, boolean) IS
    'top k items for a user of the model''s ratings table: the newest maxlen known items feed the LSTM (unknown ids are skipped), every item the user rated is excluded unless exclude_seen is false; users without known items get the items with the largest learned bias (popularity, personalized false); probability is the item''s share of the softmax over the whole catalogue; NULL user: no rows';

CREATE FUNCTION recommend_for_history(item_ids bigint[], ratings real[] DEFAULT NULL,
                                      k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real, probability real, personalized boolean)
    AS 'MODULE_PATHNAME', 'animerec_recommend_for_history'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION recommend_for_history(bigint[], real[], int, text) IS
    'top k items after an anonymous chronological history: unknown ids are skipped, the last maxlen known items feed the LSTM, ratings are clamped to the trained range, the given items are excluded; probability and personalized as in recommend';

CREATE FUNCTION recommend_for_embedding(embedding real[], k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real, probability real, personalized boolean)
    AS 'MODULE_PATHNAME', 'animerec_recommend_for_embedding'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION recommend_for_embedding(real[], int, text) IS
    'top k items for a user embedding of the model''s dimension (from animerec.user_embedding), nothing excluded; probability as in recommend, personalized false for the zero embedding';

ALTER FUNCTION recommend(bigint, int, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION recommend_for_history(bigint[], real[], int, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION recommend_for_embedding(real[], int, text) SET search_path = pg_catalog, pg_temp;

-- ---------------------------------------------------------------------------
-- Issue 12 (BI dashboards, part 2): recommend_all streams,
-- sql/install/41_recommend_all.sql.  The C function (dropped by the section
-- above) becomes the SQL function the planner inlines, over _recommend_all_rows,
-- both with issue 11's columns.
-- ---------------------------------------------------------------------------
CREATE FUNCTION _recommend_all_rows(k int, model text, users bigint[],
                                    OUT user_id bigint, OUT rank int, OUT item_id bigint, OUT score real,
                                    OUT probability real, OUT personalized boolean, OUT model_version int)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'animerec_recommend_all'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION _recommend_all_rows(int, text, bigint[]) IS
    'internal: the rows of recommend_all, one block of users scored at a time (value-per-call): 8 users, then twice as many each time up to 256';

CREATE FUNCTION recommend_all(k int DEFAULT 10, model text DEFAULT NULL, users bigint[] DEFAULT NULL)
    RETURNS TABLE (user_id bigint, rank int, item_id bigint, score real, probability real,
                   personalized boolean, model_version int)
    LANGUAGE sql STABLE PARALLEL RESTRICTED ROWS 100000
AS $$
SELECT (s.r).user_id, (s.r).rank, (s.r).item_id, (s.r).score, (s.r).probability,
       (s.r).personalized, (s.r).model_version
  FROM (SELECT animerec._recommend_all_rows(k, model, users) AS r OFFSET 0) s
$$;
COMMENT ON FUNCTION recommend_all(int, text, bigint[]) IS
    'top k for every user of the model''s ratings table, or for the given users (those without rows get the popularity ranking), in ascending user order, with probability and personalized as in recommend and the model version that answered; a serving grantee reads the histories with the model owner''s rights; reads all histories in one query and scores a block of users per matrix product (8, then twice as many each time up to 256), streaming: the first rows come after the first block and LIMIT or closing a cursor stops the work';

-- ---------------------------------------------------------------------------
-- Issues 11 and 12 together: the serving grantees of a model read its rows of
-- animerec.recommendations (sql/install/47_bi_tables.sql).
-- ---------------------------------------------------------------------------
CREATE POLICY recommendations_serving ON recommendations FOR SELECT
    USING (model IN (SELECT o.name FROM model_owners o WHERE _may_serve(o.owner, o.name)));
-- ---- issue 16: build_info() reports the CPU level and the OpenBLAS kernel in use ----
COMMENT ON FUNCTION build_info() IS
    'extension version, PostgreSQL version, the CPU''s x86-64 level (cpu), the BLAS library, its kernel in use (blas_core) and who chose it (blas_core_source), BLAS thread count, and whether animerec is in shared_preload_libraries';

-- ---- serving calls no longer plan _may_serve's body each time: PL/pgSQL keeps its plan ----
CREATE OR REPLACE FUNCTION _may_serve(owner name, model text) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN animerec._manages(_may_serve.owner)
        OR EXISTS (SELECT 1 FROM animerec.serving_grants g
                    WHERE g.name = _may_serve.model AND animerec._is_member(g.grantee));
END
$$;

-- ---- given users are scored in full blocks from the start ----
COMMENT ON FUNCTION recommend_all(int, text, bigint[]) IS
    'top k for every user of the model''s ratings table, or for the given users (those without rows get the popularity ranking), in ascending user order, with probability and personalized as in recommend and the model version that answered; a serving grantee reads the histories with the model owner''s rights; reads all histories in one query and scores a block of users per matrix product (8, then twice as many each time up to 256; for given users 256 from the start), streaming: the first rows come after the first block and LIMIT or closing a cursor stops the work';

-- ---------------------------------------------------------------------------
-- Issue 15: train(user_embedding => true) learns a vector per user
-- (src/train_procedure.c; weight format version 2 in src/nn/format.c).
-- ---------------------------------------------------------------------------
DROP PROCEDURE train(text, regclass, text, text, text, text, regclass, text, text, regclass,
                     int, int, int, int, int, double precision, double precision,
                     double precision, int, int, text, int, boolean, boolean, int,
                     double precision);
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
