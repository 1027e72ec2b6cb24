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
    'create tables demo_items(item_id, name, tags) and demo_ratings(user_id, item_id, rating, rated_at) in schema with a synthetic anime-like data set (see docs/data.md, "Demo data")';

-- html_unescape(text): decode HTML character references (src/html_unescape.c)
CREATE FUNCTION html_unescape(text) RETURNS text
    AS 'MODULE_PATHNAME', 'animerec_html_unescape'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION html_unescape(text) IS
    'replace &amp; &lt; &gt; &quot; &apos; &nbsp; and numeric references such as &#039; by their characters';

-- parse_tags(text, separator) and clean_tags(text[]): tag lists as the
-- loaders store them and train() reads them (src/tag_functions.c, src/text/tags.c)
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
