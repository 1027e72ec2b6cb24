-- test/extension_objects.sql — a canonical text description of the installed
-- animerec extension: its member objects, every function's definition,
-- settings, ACL and comment, every relation's columns, constraints, indexes,
-- triggers, policies, row-level security, ACL and comment, the views'
-- definitions, the schema's ACL and the configuration tables.  test/upgrade.sh
-- diffs it between an updated and a fresh installation.  One line per fact.
\pset format unaligned
\pset tuples_only on
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'animerec'),
members AS (
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
funcs AS (
    SELECT p.* FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid),
rels AS (
    SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid)
SELECT line FROM (
    SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS line FROM members
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure || E'\n' ||
           CASE WHEN p.prokind = 'a' THEN
                    (SELECT format('aggregate sfunc=%s stype=%s finalfunc=%s', a.aggtransfn,
                                   format_type(a.aggtranstype, NULL), a.aggfinalfn)
                       FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
                ELSE pg_get_functiondef(p.oid) END ||
           format(E'\n  secdef=%s config=%s acl=%s strict=%s volatile=%s parallel=%s rows=%s comment=%s',
                  p.prosecdef, p.proconfig, p.proacl, p.proisstrict, p.provolatile, p.proparallel,
                  p.prorows, obj_description(p.oid, 'pg_proc'))
      FROM funcs p
    UNION ALL
    SELECT format('relation %s kind=%s rls=%s force_rls=%s acl=%s comment=%s', c.oid::regclass,
                  c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relacl,
                  obj_description(c.oid, 'pg_class'))
      FROM rels c
    UNION ALL
    SELECT format('column %s.%s %s notnull=%s default=%s comment=%s', c.oid::regclass, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(ad.adbin, ad.adrelid), col_description(c.oid, a.attnum))
      FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT format('constraint %s %s %s', con.conrelid::regclass, con.conname, pg_get_constraintdef(con.oid))
      FROM pg_constraint con JOIN rels c ON c.oid = con.conrelid
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid))
      FROM pg_index i JOIN rels c ON c.oid = i.indrelid
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(t.oid))
      FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
    UNION ALL
    SELECT format('policy %s.%s cmd=%s permissive=%s roles=%s using=%s check=%s', pol.schemaname,
                  pol.tablename, pol.cmd, pol.permissive, pol.roles, pol.qual, pol.with_check)
      FROM pg_policies pol WHERE pol.schemaname = 'animerec'
    UNION ALL
    SELECT format('view %s %s', c.oid::regclass, pg_get_viewdef(c.oid)) FROM rels c WHERE c.relkind = 'v'
    UNION ALL
    SELECT format('schema acl=%s comment=%s', n.nspacl, obj_description(n.oid, 'pg_namespace'))
      FROM pg_namespace n WHERE n.nspname = 'animerec'
    UNION ALL
    SELECT format('config %s condition=%s', cfg::regclass, cond)
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond)
    UNION ALL
    SELECT format('role %s exists', rolname) FROM pg_roles WHERE rolname = 'animerec_admin'
) facts
ORDER BY line COLLATE "C";
