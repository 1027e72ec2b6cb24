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
