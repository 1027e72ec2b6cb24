-- ---------------------------------------------------------------------------
-- Privileges (docs/operations.md, "Privileges"; docs/bi.md).  Every function is SECURITY
-- INVOKER: training and serving read the caller's tables with the caller's
-- privileges (a serving grantee's registry and history reads run with the
-- model owner's, src/serving_acl.c).  The registry is shared by all roles
-- under row-level security: a model's rows are visible and writable only to
-- the members of the owner role of its name (animerec.model_owners) or of
-- animerec_admin, and to superusers; its name also to its serving grantees.
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
-- a name is visible to those who manage it and to its serving grantees only
CREATE POLICY model_owners_read ON model_owners FOR SELECT USING (_may_serve(owner, name));
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

-- a serving grant is visible to its grantees and to the model's managers,
-- who alone may add or remove it (through grant_serving and revoke_serving);
-- these policies read no other table, so model_owners' policy may read this one
ALTER TABLE serving_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving_grants_read ON serving_grants FOR SELECT
    USING (_is_member(grantee) OR _manages(owner));
CREATE POLICY serving_grants_insert ON serving_grants FOR INSERT
    WITH CHECK (_manages(owner));
CREATE POLICY serving_grants_delete ON serving_grants FOR DELETE
    USING (_manages(owner));

-- PUBLIC: the schema, the registry under the policies above, the views, and
-- EXECUTE on every function (the default) but unload_model.
GRANT USAGE ON SCHEMA animerec TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON model_owners, models, training_log TO PUBLIC;
GRANT SELECT, INSERT, DELETE ON serving_grants TO PUBLIC;
GRANT SELECT ON training_progress, loaded_models, served_models TO PUBLIC;

-- A fixed search_path on every function (SQL bodies qualify animerec's
-- objects).  Not on the procedure train: a SET clause would make it atomic,
-- without its per-epoch commits, so it sets the same search_path itself
-- (src/train_procedure.c).  Nor on _manages and _is_member, which the policies
-- inline, nor on recommend_all, which the planner inlines to stream (their
-- bodies qualify every name).  Nor on the functions called once per row of
-- a scan, where a SET clause costs a GUC nest level a row: _recommend_all_rows
-- sets the same search_path itself around its work (src/recommend_all.c),
-- _refresh_progress looks up no name.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'animerec'::regnamespace AND p.prokind = 'f'
                AND p.proname NOT IN ('_manages', '_is_member', 'recommend_all', '_recommend_all_rows',
                                      '_refresh_progress')
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$$;
