-- animerec 0.2.0 install script, assembled by the Makefile from sql/install/*.sql
\echo Use "CREATE EXTENSION animerec" to load this file. \quit

-- build_info(): what this build is made of, as jsonb (src/animerec.c)
CREATE FUNCTION build_info() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'animerec_build_info'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION build_info() IS
    'extension version, PostgreSQL version, BLAS library and thread count, and whether animerec is in shared_preload_libraries';
-- ---------------------------------------------------------------------------
-- Data sets: the demo data generator (src/demo_data.c) and loaders for the
-- public Kaggle anime and MovieLens files (server-side COPY, so the caller
-- needs superuser or pg_read_server_files).  Every function creates ordinary
-- tables in a target schema and returns one row per table with its row count.
-- ---------------------------------------------------------------------------

-- demo_items(items, seed): the synthetic catalogue (src/demo_data.c)
CREATE FUNCTION demo_items(items int, seed int)
RETURNS TABLE (item_id bigint, name text, tags text[])
    AS 'MODULE_PATHNAME', 'animerec_demo_items'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION demo_items(int, int) IS
    'synthetic anime-like catalogue: item ids 1..items in series of 1-4 seasons, 2-4 genre tags each; deterministic for (items, seed)';

-- demo_ratings(users, items, seed): synthetic histories (src/demo_data.c)
CREATE FUNCTION demo_ratings(users int, items int, seed int)
RETURNS TABLE (user_id bigint, item_id bigint, rating real, rated_at timestamptz)
    AS 'MODULE_PATHNAME', 'animerec_demo_ratings'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 100000;
COMMENT ON FUNCTION demo_ratings(int, int, int) IS
    'synthetic rating histories of users 1..users over demo_items(items, seed), with planted sequel, genre-drift, popularity and taste patterns; deterministic';

-- Raise a clear error unless the schema exists and none of the tables does.
CREATE FUNCTION _check_target(target name, tables text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'schema must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = target) THEN
        RAISE EXCEPTION 'schema "%" does not exist', target
            USING ERRCODE = 'invalid_schema_name',
                  HINT = format('Create it with CREATE SCHEMA %I, or pass another schema.', target);
    END IF;
    FOREACH t IN ARRAY tables LOOP
        IF to_regclass(format('%I.%I', target, t)) IS NOT NULL THEN
            RAISE EXCEPTION 'relation "%.%" already exists', target, t
                USING ERRCODE = 'duplicate_table',
                      HINT = format('Drop the tables %s of schema %I first, or pass another schema.',
                                    array_to_string(tables, ', '), target);
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION _check_target(name, text[]) IS
    'internal: error unless schema target exists and holds none of the tables';

-- One row per table: its qualified name and row count.
CREATE FUNCTION _table_counts(target name, tables text[])
RETURNS TABLE (table_name text, row_count bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY tables LOOP
        table_name := format('%I.%I', target, t);
        EXECUTE format('ANALYZE %s', table_name);
        EXECUTE format('SELECT count(*) FROM %s', table_name) INTO row_count;
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION _table_counts(name, text[]) IS
    'internal: analyze the tables of schema target and return their names and row counts';

-- generate_demo_data(): demo_items and demo_ratings tables with planted patterns
CREATE FUNCTION generate_demo_data(users int DEFAULT 1000, items int DEFAULT 1000,
                                   seed int DEFAULT 1, schema name DEFAULT 'public')
RETURNS TABLE (table_name text, row_count bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF users IS NULL OR items IS NULL OR seed IS NULL THEN
        RAISE EXCEPTION 'users, items and seed must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM animerec._check_target(schema, ARRAY['demo_items', 'demo_ratings']);
    EXECUTE format('CREATE TABLE %I.demo_items AS SELECT * FROM animerec.demo_items(%s, %s)',
                   schema, items, seed);
    EXECUTE format('ALTER TABLE %I.demo_items ADD PRIMARY KEY (item_id)', schema);
    EXECUTE format('CREATE TABLE %I.demo_ratings AS SELECT * FROM animerec.demo_ratings(%s, %s, %s)',
                   schema, users, items, seed);
    EXECUTE format('CREATE INDEX ON %I.demo_ratings (user_id, rated_at)', schema);
    RETURN QUERY SELECT * FROM animerec._table_counts(schema, ARRAY['demo_items', 'demo_ratings']);
END;
$$;
COMMENT ON FUNCTION generate_demo_data(int, int, int, name) IS
    'create tables demo_items(item_id, name, tags) and demo_ratings(user_id, item_id, rating, rated_at) in schema with a synthetic anime-like data set (see README, "Demo data")';

-- html_unescape(text): decode HTML character references (src/html_entities.c)
CREATE FUNCTION html_unescape(text) RETURNS text
    AS 'MODULE_PATHNAME', 'animerec_html_unescape'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION html_unescape(text) IS
    'replace &amp; &lt; &gt; &quot; &apos; &nbsp; and numeric references such as &#039; by their characters';

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

-- COPY a server file into a staging table, turning COPY's errors into ones
-- that name the expected file and say what to do.
CREATE FUNCTION _copy_file(staging text, path text, options text, what text, expected text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF path IS NULL THEN
        RAISE EXCEPTION 'path of the % file must not be null', what
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    EXECUTE format('COPY %s FROM %L WITH (%s)', staging, path, options);
EXCEPTION
    WHEN undefined_file THEN
        RAISE EXCEPTION 'could not open % file "%"', what, path
            USING ERRCODE = 'undefined_file', DETAIL = SQLERRM,
                  HINT = 'The database server opens the path on its own host as its own operating-system user; a relative path is relative to the data directory.';
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'could not read % file "%"', what, path
            USING ERRCODE = 'insufficient_privilege', DETAIL = SQLERRM,
                  HINT = 'The loaders read files with server-side COPY: run them as a superuser or a member of pg_read_server_files, and make the file readable by the server''s operating-system user.';
    WHEN bad_copy_file_format THEN
        RAISE EXCEPTION '"%" is not a valid % file', path, what
            USING ERRCODE = 'bad_copy_file_format', DETAIL = SQLERRM,
                  HINT = format('Expected %s.', expected);
    WHEN character_not_in_repertoire OR untranslatable_character THEN
        RAISE EXCEPTION '"%" is not a valid % file', path, what
            USING ERRCODE = SQLSTATE, DETAIL = SQLERRM,
                  HINT = format('Check the file''s character encoding (COPY options: %s).', options);
END;
$$;
COMMENT ON FUNCTION _copy_file(text, text, text, text, text) IS
    'internal: COPY path into a staging table with clear errors for a missing, unreadable or malformed file';

-- load_anime(): the Kaggle "Anime Recommendations Database" files
CREATE FUNCTION load_anime(anime_csv text, rating_csv text, schema name DEFAULT 'public')
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
COMMENT ON FUNCTION load_anime(text, text, name) IS
    'load the Kaggle anime.csv and rating.csv (server files) into tables anime and anime_ratings of schema; needs superuser or pg_read_server_files';

-- load_movielens(): a MovieLens directory, ml-latest (CSV) or ml-100k (u.data) layout
CREATE FUNCTION load_movielens(dir text, schema name DEFAULT 'public')
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
COMMENT ON FUNCTION load_movielens(text, name) IS
    'load a MovieLens directory (ratings.csv, movies.csv, tags.csv; or ml-100k u.data, u.item) into tables movies, movie_ratings and movie_user_tags of schema; needs superuser or pg_read_server_files';
-- ---------------------------------------------------------------------------
-- The model registry (src/registry.c, src/train.c).  Both tables are extension
-- configuration tables, so pg_dump dumps their rows.
-- ---------------------------------------------------------------------------

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

-- One row per trained version of a model name.
CREATE TABLE models (
    name            text        NOT NULL
                    CHECK (name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    version         int         NOT NULL CHECK (version > 0),
    status          text        NOT NULL
                    CHECK (status IN ('training', 'ready', 'failed')),
    active          boolean     NOT NULL DEFAULT false,
    owner           name        NOT NULL DEFAULT current_user,
    ratings_table   text        NOT NULL,   -- qualified, quoted name of the ratings relation
    user_col        text        NOT NULL,
    item_col        text        NOT NULL,
    rating_col      text,                   -- NULL: no rating column
    order_col       text,                   -- NULL: no order column (item id order)
    items_table     text,                   -- NULL: no item metadata
    item_key        text,
    tags_col        text,
    user_tags_table text,
    hyperparams     jsonb       NOT NULL,
    metrics         jsonb       NOT NULL DEFAULT '{}',
    n_rows          bigint,
    n_users         int,
    n_items         int,
    n_tags          int,
    epochs_done     int         NOT NULL DEFAULT 0,
    best_epoch      int,
    bytes           bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    weights         bytea,                  -- nn weight format (src/nn/format.c); best epoch so far
    PRIMARY KEY (name, version),
    FOREIGN KEY (name) REFERENCES model_owners ON DELETE CASCADE
);
CREATE UNIQUE INDEX models_one_active ON models (name) WHERE active;
COMMENT ON TABLE models IS
    'animerec model registry: one row per trained version; exactly one active version per name serves';

-- One row per finished epoch of a training run.
CREATE TABLE training_log (
    name            text        NOT NULL,
    version         int         NOT NULL,
    epoch           int         NOT NULL,
    loss            double precision,
    val_hr          double precision,
    val_ndcg        double precision,
    seconds         double precision,
    positions_per_s double precision,
    logged_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version, epoch),
    FOREIGN KEY (name, version) REFERENCES models ON DELETE CASCADE
);
COMMENT ON TABLE training_log IS 'per-epoch loss, validation HR@10/NDCG@10, time and throughput of every training run';

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
SELECT pg_catalog.pg_extension_config_dump('models', '');
SELECT pg_catalog.pg_extension_config_dump('training_log', '');

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
-- ---------------------------------------------------------------------------
-- In-database training (src/train.c, src/train_data.c, src/evaluate.c,
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
    'HR@k, NDCG@k and MRR@k of the active version of model NAME (NULL: animerec.model or the only model) on each user''s last item (users with at least 5 rows), full ranking with earlier items excluded, beside the popularity baseline; reads the source table again';

CREATE FUNCTION training_progress_rows(
    OUT pid int, OUT model text, OUT version int, OUT epoch int, OUT epochs int,
    OUT batch bigint, OUT batches bigint, OUT loss double precision,
    OUT positions_per_s double precision, OUT elapsed interval, OUT remaining interval)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'animerec_training_progress'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION training_progress_rows() IS
    'rows of the training_progress view, read from shared memory';

CREATE VIEW training_progress AS SELECT * FROM training_progress_rows();
COMMENT ON VIEW training_progress IS
    'running trainings of every session: epoch and batch within it, running loss, speed, elapsed time and an estimate of the time left if all epochs run; empty unless animerec is in shared_preload_libraries';
-- ---------------------------------------------------------------------------
-- Serving (src/shmem.c, src/serve.c, src/embedding_agg.c).
--
-- Every function reads the registry and the ratings table through SPI with the
-- caller's privileges, so they are STABLE and PARALLEL RESTRICTED (they pin
-- models in this backend's cache and must run in the leader).  A NULL model
-- means animerec.model, or the only model there is.
-- ---------------------------------------------------------------------------

CREATE FUNCTION load_model(name text) RETURNS int
    AS 'MODULE_PATHNAME', 'animerec_load_model'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION load_model(text) IS
    'load the active version of a model into the model cache now (shared memory when preloaded), validating its checksum; returns the version';

CREATE FUNCTION unload_model(name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'animerec_unload_model'
    LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION unload_model(text) IS
    'drop a model from the model cache (calls still running finish on it); true when it was loaded; affects every connection, so only superusers and roles granted EXECUTE may call it';
REVOKE ALL ON FUNCTION unload_model(text) FROM PUBLIC;

CREATE FUNCTION loaded_models_info(OUT name text, OUT version int, OUT bytes bigint,
                                   OUT loaded_at timestamptz, OUT calls bigint, OUT shared boolean)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'animerec_loaded_models'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION loaded_models_info() IS
    'the model versions in the model cache; backs the view animerec.loaded_models';

CREATE VIEW loaded_models AS SELECT * FROM loaded_models_info();
COMMENT ON VIEW loaded_models IS
    'model versions of this database in the model cache: bytes of weights plus item table, load time, calls since loading; shared is false when animerec is not preloaded (this connection''s own cache)';

CREATE FUNCTION recommend(user_id bigint, k int DEFAULT 10, model text DEFAULT NULL,
                          exclude_seen boolean DEFAULT true)
    RETURNS TABLE (rank int, item_id bigint, score real)
    AS 'MODULE_PATHNAME', 'animerec_recommend'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION recommend(bigint, int, text, boolean) IS
    'top k items for a user of the model''s ratings table: the newest maxlen rows feed the LSTM, every item the user rated is excluded unless exclude_seen is false; users without known items get the items with the largest learned bias (popularity); NULL user: no rows';

CREATE FUNCTION recommend_for_history(item_ids bigint[], ratings real[] DEFAULT NULL,
                                      k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real)
    AS 'MODULE_PATHNAME', 'animerec_recommend_for_history'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION recommend_for_history(bigint[], real[], int, text) IS
    'top k items after an anonymous chronological history: unknown ids are skipped, the last maxlen known items feed the LSTM, ratings are clamped to the trained range, the given items are excluded';

CREATE FUNCTION recommend_for_embedding(embedding real[], k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real)
    AS 'MODULE_PATHNAME', 'animerec_recommend_for_embedding'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION recommend_for_embedding(real[], int, text) IS
    'top k items for a user embedding of the model''s dimension (from animerec.user_embedding), nothing excluded';

CREATE FUNCTION similar_items(item_id bigint, k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real)
    AS 'MODULE_PATHNAME', 'animerec_similar_items'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION similar_items(bigint, int, text) IS
    'the k items most similar to an item: cosine similarity of the output representations (item embedding plus mean tag embedding, bias left out)';

CREATE FUNCTION recommend_all(k int DEFAULT 10, model text DEFAULT NULL, users bigint[] DEFAULT NULL)
    RETURNS TABLE (user_id bigint, rank int, item_id bigint, score real)
    AS 'MODULE_PATHNAME', 'animerec_recommend_all'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION recommend_all(int, text, bigint[]) IS
    'top k for every user of the model''s ratings table, or for the given users (those without rows get the popularity ranking), in ascending user order; reads all histories in one query and scores 256 users per matrix product';

CREATE FUNCTION user_embedding_sfunc(internal, bigint, real)
    RETURNS internal
    AS 'MODULE_PATHNAME', 'animerec_user_embedding_sfunc'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION user_embedding_sfunc(internal, bigint, real) IS
    'transition function of user_embedding(item_id, rating): one LSTM step';

CREATE FUNCTION user_embedding_sfunc(internal, bigint, real, text)
    RETURNS internal
    AS 'MODULE_PATHNAME', 'animerec_user_embedding_sfunc'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION user_embedding_sfunc(internal, bigint, real, text) IS
    'transition function of user_embedding(item_id, rating, model): one LSTM step';

CREATE FUNCTION user_embedding_final(internal)
    RETURNS real[]
    AS 'MODULE_PATHNAME', 'animerec_user_embedding_final'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION user_embedding_final(internal) IS
    'final function of user_embedding: the projected top hidden state';

CREATE AGGREGATE user_embedding(item_id bigint, rating real) (
    SFUNC = user_embedding_sfunc,
    STYPE = internal,
    FINALFUNC = user_embedding_final,
    PARALLEL = RESTRICTED
);
COMMENT ON AGGREGATE user_embedding(bigint, real) IS
    'user embedding (real[] of the model''s dimension) of the rows in ORDER BY order, using the default model; unlike recommend() it feeds every row, not only the newest maxlen';

CREATE AGGREGATE user_embedding(item_id bigint, rating real, model text) (
    SFUNC = user_embedding_sfunc,
    STYPE = internal,
    FINALFUNC = user_embedding_final,
    PARALLEL = RESTRICTED
);
COMMENT ON AGGREGATE user_embedding(bigint, real, text) IS
    'user embedding (real[] of the model''s dimension) of the rows in ORDER BY order for the given model; unlike recommend() it feeds every row, not only the newest maxlen';
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
