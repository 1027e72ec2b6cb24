-- ---------------------------------------------------------------------------
-- BI dashboards (docs/bi-tables.md): activation notifications, the
-- recommendations table filled by refresh_recommendations, and a view per
-- model joining its items table.
-- ---------------------------------------------------------------------------

-- Activation sends NOTIFY animerec_activated with the payload
-- {"model": <name>, "version": <version>}, delivered when the activating
-- transaction commits: activate(), training's final activation and a direct
-- UPDATE or INSERT of an active row all go through these triggers.
CREATE FUNCTION _notify_activated() RETURNS trigger
    LANGUAGE plpgsql
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
-- and read by the members of the roles granted the model's serving privilege
-- (animerec.grant_serving, docs/bi.md)
CREATE POLICY recommendations_serving ON recommendations FOR SELECT
    USING (model IN (SELECT o.name FROM model_owners o WHERE _may_serve(o.owner, o.name)));
GRANT SELECT, INSERT, UPDATE, DELETE ON recommendations TO PUBLIC;

-- _recommendations_view(model): create the view <model>_recommendations in
-- the schema of the model's items table, unless it exists: the
-- recommendations of the model with the item's columns (a column whose name
-- the table already has is prefixed item_).  The view is security_invoker:
-- the reader's privileges and the table's row-level security apply.
CREATE FUNCTION _recommendations_view(model text) RETURNS regclass
    LANGUAGE plpgsql
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
