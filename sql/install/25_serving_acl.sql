-- ---------------------------------------------------------------------------
-- Serving privileges and the default model (src/serving_acl.c, docs/bi.md).
--
-- A model's owner (or a member of animerec_admin) grants the use of a model
-- to a role with grant_serving: members of that role may call the serving
-- functions on it, see its name and read its active version's row in
-- served_models (without weights), and nothing else.  Serving as a grantee
-- reads the registry, and the ratings when the grantee may not SELECT them,
-- with the rights of the name's owner role (src/serving_acl.c).
--
-- The database's default model (is_default) answers calls whose model is
-- NULL when animerec.model is unset.  It changes only through
-- set_default_model, and the first name to get an active version becomes it.
-- ---------------------------------------------------------------------------

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
-- training_progress and the serving functions (src/serving_acl.c).  PL/pgSQL
-- keeps its query's plan for the session; as a SQL function (never inlined:
-- the EXISTS) its body was planned again in every serving call.
CREATE FUNCTION _may_serve(owner name, model text) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN animerec._manages(_may_serve.owner)
        OR EXISTS (SELECT 1 FROM animerec.serving_grants g
                    WHERE g.name = _may_serve.model AND animerec._is_member(g.grantee));
END
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
