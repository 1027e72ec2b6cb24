-- animerec 0.1.0 -> 0.2.0 (ALTER EXTENSION animerec UPDATE): model names owned
-- by roles under row-level security, drop_model, null checks in activate, a
-- fixed search_path on every function and the grants to PUBLIC.  Mirrors
-- sql/install/*.sql; scripts/test compares an updated installation with a
-- fresh one (test/upgrade.sh).
\echo Use "ALTER EXTENSION animerec UPDATE TO '0.2.0'" to load this file. \quit

-- The owner of each model name: its owner, members of the owner role, members
-- of animerec_admin and superusers may train, activate, drop and use its
-- versions (row-level security, sql/install/90_privileges.sql).  Everyone
-- may see which names are taken and by whom.
CREATE TABLE model_owners (
    name            text        PRIMARY KEY
                    CHECK (name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    owner           name        NOT NULL DEFAULT current_user
);
COMMENT ON TABLE model_owners IS
    'owner role of each model name: it (and members of it or of animerec_admin) may train, activate, drop and use the name''s versions';

-- _manages(owner): is the current user a member of role owner or of
-- animerec_admin (superusers are members of every role)?  A dropped role
-- matches nobody.  Without a SET clause, so that the planner inlines it into
-- the row-level security policies (every name in it is qualified).
CREATE FUNCTION _manages(owner name) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(pg_catalog.pg_has_role(pg_catalog.to_regrole(pg_catalog.quote_ident(owner)), 'MEMBER'), false)
    OR coalesce(pg_catalog.pg_has_role(pg_catalog.to_regrole('animerec_admin'), 'MEMBER'), false)
$$;
COMMENT ON FUNCTION _manages(name) IS
    'internal: true when the current user is a member of role owner or of animerec_admin';

-- _check_manager(name): error unless model name exists and the current user manages it
CREATE FUNCTION _check_manager(name text) RETURNS void
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    o name;
BEGIN
    SELECT m.owner INTO o FROM animerec.model_owners m WHERE m.name = _check_manager.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'model "%" does not exist', _check_manager.name
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
    'internal: error unless model name exists (42704) and the current user manages it (42501)';

-- every existing name belongs to the role that trained its newest version
INSERT INTO model_owners (name, owner)
SELECT DISTINCT ON (name) name, owner FROM models ORDER BY name, version DESC;
ALTER TABLE models ADD FOREIGN KEY (name) REFERENCES model_owners ON DELETE CASCADE;

-- Rows inserted into models directly (not by train) take their name for the
-- inserting role when it is new, like train does.
CREATE FUNCTION _claim_name() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO animerec.model_owners (name) VALUES (NEW.name) ON CONFLICT (name) DO NOTHING;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION _claim_name() IS
    'internal: trigger of animerec.models giving a new model name to the inserting role';
CREATE TRIGGER models_claim_name BEFORE INSERT ON models
    FOR EACH ROW EXECUTE FUNCTION _claim_name();

COMMENT ON COLUMN models.owner IS 'role that trained this version (the name''s owner is in animerec.model_owners)';

SELECT pg_catalog.pg_extension_config_dump('model_owners', '');
SELECT pg_catalog.pg_extension_config_dump('model_owners', '');

-- drop_model(name, version): delete one version, or every version and the name
CREATE FUNCTION drop_model(name text, version int DEFAULT NULL) RETURNS int
    LANGUAGE plpgsql VOLATILE
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
        SELECT count(*) INTO n FROM animerec.models m WHERE m.name = drop_model.name;
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
    DELETE FROM animerec.model_owners o
     WHERE o.name = drop_model.name
       AND NOT EXISTS (SELECT 1 FROM animerec.models m WHERE m.name = drop_model.name);
    RETURN 1;
END
$$;
COMMENT ON FUNCTION drop_model(text, int) IS
    'delete version VERSION (not the active one) of model NAME, or with VERSION NULL every version and the name itself, with their training_log rows; returns the number of versions deleted; owner, members of animerec_admin and superusers only';

CREATE OR REPLACE FUNCTION activate(name text, version int) RETURNS void
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

-- ---------------------------------------------------------------------------
-- Privileges (README, "Privileges").  Every function is SECURITY INVOKER:
-- training and serving read the caller's tables with the caller's privileges.
-- The registry is shared by all roles under row-level security: a model's
-- rows are visible and writable only to the members of the owner role of its
-- name (animerec.model_owners) or of animerec_admin, and to superusers.
-- ---------------------------------------------------------------------------

-- animerec_admin: members manage every model.  Roles are cluster-wide, so the
-- role is created only when missing and stays when the extension is dropped.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'animerec_admin') THEN
        CREATE ROLE animerec_admin NOLOGIN;
    END IF;
END
$$;

ALTER TABLE model_owners ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_owners_read ON model_owners FOR SELECT USING (true);
CREATE POLICY model_owners_insert ON model_owners FOR INSERT
    WITH CHECK (animerec._manages(owner));
CREATE POLICY model_owners_update ON model_owners FOR UPDATE
    USING (animerec._manages(owner)) WITH CHECK (animerec._manages(owner));
CREATE POLICY model_owners_delete ON model_owners FOR DELETE
    USING (animerec._manages(owner));

-- a version or log row is the business of whoever manages its model name
ALTER TABLE models ENABLE ROW LEVEL SECURITY;
CREATE POLICY models_manager ON models
    USING (EXISTS (SELECT 1 FROM model_owners o WHERE o.name = models.name AND _manages(o.owner)))
    WITH CHECK (EXISTS (SELECT 1 FROM model_owners o WHERE o.name = models.name AND _manages(o.owner)));

ALTER TABLE training_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY training_log_manager ON training_log
    USING (EXISTS (SELECT 1 FROM model_owners o WHERE o.name = training_log.name AND _manages(o.owner)))
    WITH CHECK (EXISTS (SELECT 1 FROM model_owners o WHERE o.name = training_log.name AND _manages(o.owner)));

-- PUBLIC: the schema, the registry under the policies above, the views, and
-- EXECUTE on every function (the default) but unload_model.
GRANT USAGE ON SCHEMA animerec TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON model_owners, models, training_log TO PUBLIC;
GRANT SELECT ON training_progress, loaded_models TO PUBLIC;

-- parse_tags(text, separator) and clean_tags(text[]): tag lists as the
-- loaders store them and train() reads them (src/tags.c, src/text/tags.c)
CREATE FUNCTION parse_tags(tags text, separator text DEFAULT ',') RETURNS text[]
    AS 'MODULE_PATHNAME', 'animerec_parse_tags'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION parse_tags(text, text) IS
    'split tags at every separator, trim ASCII whitespace, drop empty and repeated tags (first occurrence kept, in order)';

CREATE FUNCTION clean_tags(tags text[]) RETURNS text[]
    AS 'MODULE_PATHNAME', 'animerec_clean_tags'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION clean_tags(text[]) IS
    'the elements trimmed of ASCII whitespace, without NULLs, empty and repeated tags (first occurrence kept, in order)';

-- The loaders split genres with parse_tags (same tags as before: trimmed,
-- no empty ones; now also no repeats).
CREATE OR REPLACE FUNCTION load_anime(anime_csv text, rating_csv text, schema name DEFAULT 'public')
RETURNS TABLE (table_name text, row_count bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM animerec._check_target(schema, ARRAY['anime', 'anime_ratings']);
    CREATE TEMP TABLE animerec_anime_csv (anime_id text, name text, genre text, type text,
                                          episodes text, rating text, members text);
    CREATE TEMP TABLE animerec_rating_csv (user_id text, anime_id text, rating text);
    PERFORM animerec._copy_file('pg_temp.animerec_anime_csv', anime_csv,
        'FORMAT csv, HEADER match, ENCODING ''UTF8''', 'anime.csv',
        'a CSV file with the header line anime_id,name,genre,type,episodes,rating,members');
    PERFORM animerec._copy_file('pg_temp.animerec_rating_csv', rating_csv,
        'FORMAT csv, HEADER match, ENCODING ''UTF8''', 'rating.csv',
        'a CSV file with the header line user_id,anime_id,rating');

    EXECUTE format($sql$
        CREATE TABLE %I.anime (
            anime_id   bigint PRIMARY KEY,
            name       text NOT NULL,
            tags       text[] NOT NULL,
            type       text,
            episodes   int,
            avg_rating real,
            members    int)$sql$, schema);
    EXECUTE format($sql$
        INSERT INTO %I.anime
        SELECT btrim(anime_id)::bigint,
               animerec.html_unescape(name),
               coalesce(animerec.parse_tags(genre), '{}'),
               nullif(btrim(type), ''),
               CASE WHEN btrim(episodes) IN ('', 'Unknown') THEN NULL
                    ELSE btrim(episodes)::int END,
               nullif(btrim(rating), '')::real,
               nullif(btrim(members), '')::int
          FROM pg_temp.animerec_anime_csv$sql$, schema);

    EXECUTE format($sql$
        CREATE TABLE %I.anime_ratings (
            user_id  bigint NOT NULL,
            anime_id bigint NOT NULL,
            rating   real)$sql$, schema);
    EXECUTE format($sql$
        INSERT INTO %I.anime_ratings
        SELECT btrim(user_id)::bigint, btrim(anime_id)::bigint,
               CASE WHEN btrim(rating) IN ('', '-1') THEN NULL ELSE btrim(rating)::real END
          FROM pg_temp.animerec_rating_csv$sql$, schema);
    EXECUTE format('CREATE INDEX ON %I.anime_ratings (user_id, anime_id)', schema);

    DROP TABLE pg_temp.animerec_anime_csv, pg_temp.animerec_rating_csv;
    RETURN QUERY SELECT * FROM animerec._table_counts(schema, ARRAY['anime', 'anime_ratings']);
END;
$$;

CREATE OR REPLACE FUNCTION load_movielens(dir text, schema name DEFAULT 'public')
RETURNS TABLE (table_name text, row_count bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    latest boolean := true;     -- ratings.csv found (else u.data)
BEGIN
    IF dir IS NULL THEN
        RAISE EXCEPTION 'dir must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM animerec._check_target(schema, ARRAY['movies', 'movie_ratings', 'movie_user_tags']);
    CREATE TEMP TABLE animerec_ml_ratings ("userId" text, "movieId" text, rating text, "timestamp" text);
    CREATE TEMP TABLE animerec_ml_movies ("movieId" text, title text, genres text);
    CREATE TEMP TABLE animerec_ml_tags ("userId" text, "movieId" text, tag text, "timestamp" text);
    CREATE TEMP TABLE animerec_ml_items (movie_id text, title text, release_date text,
        video_release_date text, imdb_url text, "unknown" text, "Action" text,
        "Adventure" text, "Animation" text, "Children's" text, "Comedy" text, "Crime" text,
        "Documentary" text, "Drama" text, "Fantasy" text, "Film-Noir" text, "Horror" text,
        "Musical" text, "Mystery" text, "Romance" text, "Sci-Fi" text, "Thriller" text,
        "War" text, "Western" text);

    BEGIN
        PERFORM animerec._copy_file('pg_temp.animerec_ml_ratings', dir || '/ratings.csv',
            'FORMAT csv, HEADER match, ENCODING ''UTF8''', 'MovieLens ratings.csv',
            'a CSV file with the header line userId,movieId,rating,timestamp');
    EXCEPTION WHEN undefined_file THEN
        latest := false;
    END;

    IF latest THEN
        PERFORM animerec._copy_file('pg_temp.animerec_ml_movies', dir || '/movies.csv',
            'FORMAT csv, HEADER match, ENCODING ''UTF8''', 'MovieLens movies.csv',
            'a CSV file with the header line movieId,title,genres');
        BEGIN
            PERFORM animerec._copy_file('pg_temp.animerec_ml_tags', dir || '/tags.csv',
                'FORMAT csv, HEADER match, ENCODING ''UTF8''', 'MovieLens tags.csv',
                'a CSV file with the header line userId,movieId,tag,timestamp');
        EXCEPTION WHEN undefined_file THEN
            NULL;               -- tags.csv is optional: movie_user_tags stays empty
        END;
    ELSE
        BEGIN
            PERFORM animerec._copy_file('pg_temp.animerec_ml_ratings', dir || '/u.data',
                'FORMAT text', 'MovieLens u.data',
                'tab-separated lines "user id, item id, rating, timestamp" without a header');
        EXCEPTION WHEN undefined_file THEN
            RAISE EXCEPTION 'no MovieLens ratings file in directory "%"', dir
                USING ERRCODE = 'undefined_file',
                      HINT = 'Expected ratings.csv and movies.csv (ml-latest layout, optional tags.csv) or u.data and u.item (ml-100k layout), readable by the database server.';
        END;
        PERFORM animerec._copy_file('pg_temp.animerec_ml_items', dir || '/u.item',
            format('FORMAT csv, DELIMITER ''|'', QUOTE %L, ENCODING ''LATIN1''', chr(1)),
            'MovieLens u.item',
            'latin-1 lines of 24 "|"-separated fields: id, title, dates, URL and 19 genre flags');
        INSERT INTO pg_temp.animerec_ml_movies
        SELECT i.movie_id, i.title,
               array_to_string(ARRAY(
                   SELECT g FROM unnest(
                       ARRAY[i."Action", i."Adventure", i."Animation", i."Children's", i."Comedy",
                             i."Crime", i."Documentary", i."Drama", i."Fantasy", i."Film-Noir",
                             i."Horror", i."Musical", i."Mystery", i."Romance", i."Sci-Fi",
                             i."Thriller", i."War", i."Western"],
                       ARRAY['Action', 'Adventure', 'Animation', 'Children''s', 'Comedy',
                             'Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir',
                             'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi',
                             'Thriller', 'War', 'Western']) WITH ORDINALITY AS u(flag, g, n)
                    WHERE btrim(flag) = '1' ORDER BY n), '|')
          FROM pg_temp.animerec_ml_items AS i;
    END IF;

    EXECUTE format($sql$
        CREATE TABLE %I.movies (
            movie_id bigint PRIMARY KEY,
            title    text NOT NULL,
            tags     text[] NOT NULL)$sql$, schema);
    EXECUTE format($sql$
        INSERT INTO %I.movies
        SELECT btrim("movieId")::bigint, btrim(title),
               coalesce(array_remove(animerec.parse_tags(genres, '|'), '(no genres listed)'), '{}')
          FROM pg_temp.animerec_ml_movies$sql$, schema);

    EXECUTE format($sql$
        CREATE TABLE %I.movie_ratings (
            user_id  bigint NOT NULL,
            movie_id bigint NOT NULL,
            rating   real,
            rated_at timestamptz NOT NULL)$sql$, schema);
    EXECUTE format($sql$
        INSERT INTO %I.movie_ratings
        SELECT btrim("userId")::bigint, btrim("movieId")::bigint, nullif(btrim(rating), '')::real,
               to_timestamp(btrim("timestamp")::bigint)
          FROM pg_temp.animerec_ml_ratings$sql$, schema);
    EXECUTE format('CREATE INDEX ON %I.movie_ratings (user_id, rated_at)', schema);

    EXECUTE format($sql$
        CREATE TABLE %I.movie_user_tags (
            user_id bigint NOT NULL,
            tag     text NOT NULL)$sql$, schema);
    EXECUTE format($sql$
        INSERT INTO %I.movie_user_tags
        SELECT DISTINCT btrim("userId")::bigint, lower(btrim(tag))
          FROM pg_temp.animerec_ml_tags
         WHERE btrim(tag) <> ''
         ORDER BY 1, 2$sql$, schema);
    EXECUTE format('CREATE INDEX ON %I.movie_user_tags (user_id)', schema);

    DROP TABLE pg_temp.animerec_ml_ratings, pg_temp.animerec_ml_movies,
               pg_temp.animerec_ml_tags, pg_temp.animerec_ml_items;
    RETURN QUERY SELECT * FROM animerec._table_counts(schema,
        ARRAY['movies', 'movie_ratings', 'movie_user_tags']);
END;
$$;

-- Training defaults measured on the real data sets (README "Defaults"):
-- batch_size 64, learning_rate 0.005, dropout 0.3, patience 6.
CREATE OR REPLACE PROCEDURE train(
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
    epochs        int              DEFAULT 30,
    patience      int              DEFAULT 6,
    loss          text             DEFAULT 'full',
    negatives     int              DEFAULT 1024,
    holdout       boolean          DEFAULT true,
    resume        boolean          DEFAULT false,
    seed          int              DEFAULT 42,
    ema_decay     double precision DEFAULT 0.995)
    AS 'MODULE_PATHNAME', 'animerec_train'
    LANGUAGE C;
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
checkpoint with the same arguments (Adam moments restart). Reads the data with the caller's privileges.$$;

-- A fixed search_path on every function (SQL bodies qualify animerec's
-- objects).  Not on the procedure train: a SET clause would make it atomic,
-- without its per-epoch commits, so it sets the same search_path itself
-- (src/train.c).  Nor on _manages, which the policies inline (its body
-- qualifies every name).
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'animerec'::regnamespace AND p.prokind = 'f'
                AND p.proname <> '_manages'
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$$;

COMMENT ON COLUMN models.train_backend_start IS 'start time of that backend: with train_pid, identifies the session that trained (or trains) this version';
