-- animerec 0.2.0 -> 0.3.0 (ALTER EXTENSION animerec UPDATE).  Mirrors the
-- changes to sql/install/*.sql since 0.2.0; scripts/test compares an updated
-- installation with a fresh one (test/upgrade.sh).
\echo Use "ALTER EXTENSION animerec UPDATE TO '0.3.0'" to load this file. \quit

-- ===========================================================================
-- 0.3.0, BI dashboards part 1 (issue 11; docs/bi.md): serving privileges per
-- model, the database's default model, honest errors, probability /
-- personalized / model_version columns.  Mirrors sql/install/25_serving_acl.sql,
-- the changes to _check_manager (20_registry.sql), the views training_progress
-- (30_train.sql) and loaded_models (40_serve.sql), the policies and grants of
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
CREATE OR REPLACE VIEW training_progress AS
SELECT p.* FROM training_progress_rows() p
 WHERE _is_member('animerec_admin')
    OR EXISTS (SELECT 1 FROM model_owners o WHERE o.name = p.model AND _may_serve(o.owner, o.name));
COMMENT ON VIEW training_progress IS
    'running trainings of every session, of the models the current user may serve or manages (all of them for members of animerec_admin): epoch and batch within it, running loss, speed, elapsed time and an estimate of the time left if all epochs run; empty unless animerec is in shared_preload_libraries';
CREATE OR REPLACE VIEW loaded_models AS
SELECT l.* FROM loaded_models_info() l
 WHERE _is_member('animerec_admin')
    OR EXISTS (SELECT 1 FROM model_owners o WHERE o.name = l.name AND _may_serve(o.owner, o.name));
COMMENT ON VIEW loaded_models IS
    'model versions of this database in the model cache that the current user may serve or manages (all of them for members of animerec_admin, even those whose registry row is gone): bytes of weights plus item table, load time, calls since loading; shared is false when animerec is not preloaded (this connection''s own cache)';

-- an installation with one model name keeps answering calls without a model
-- argument with it: that name becomes the default (with several names such
-- calls failed before, and someone must choose with set_default_model)
UPDATE model_owners SET is_default = true WHERE (SELECT count(*) FROM model_owners) = 1;

-- new result columns (probability, personalized; model_version): a function's
-- result type cannot change in place.  A view of the user's over one of these
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
    'top k items for a user of the model''s ratings table: the newest maxlen rows feed the LSTM, every item the user rated is excluded unless exclude_seen is false; users without known items get the items with the largest learned bias (popularity, personalized false); probability is the item''s share of the softmax over the whole catalogue; NULL user: no rows';

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

CREATE FUNCTION recommend_all(k int DEFAULT 10, model text DEFAULT NULL, users bigint[] DEFAULT NULL)
    RETURNS TABLE (user_id bigint, rank int, item_id bigint, score real, probability real,
                   personalized boolean, model_version int)
    AS 'MODULE_PATHNAME', 'animerec_recommend_all'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION recommend_all(int, text, bigint[]) IS
    'top k for every user of the model''s ratings table, or for the given users (those without rows get the popularity ranking), in ascending user order, with probability and personalized as in recommend and the model version that answered; reads all histories in one query and scores 256 users per matrix product';
ALTER FUNCTION recommend(bigint, int, text, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION recommend_for_history(bigint[], real[], int, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION recommend_for_embedding(real[], int, text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION recommend_all(int, text, bigint[]) SET search_path = pg_catalog, pg_temp;
