-- ---------------------------------------------------------------------------
-- The model registry (src/registry.c, src/train_procedure.c).  Both tables are extension
-- configuration tables, so pg_dump dumps their rows.
-- ---------------------------------------------------------------------------

-- The owner of each model name: its owner, members of the owner role, members
-- of animerec_admin and superusers may train, activate, drop and use its
-- versions (row-level security, sql/install/90_privileges.sql); the name is
-- visible to them and to the roles holding a serving grant on it
-- (sql/install/25_serving_acl.sql).
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
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),  -- two rows made in one transaction differ (the cache's key)
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
-- (and then the name's rows of animerec.recommendations, sql/install/47_bi_tables.sql)
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
