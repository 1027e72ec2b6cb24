/*
 * serving_acl.c — the model of a serving call, the caller's right to use it,
 * and the identity its reads run under (see serving_acl.h).
 *
 * Visibility comes from row-level security on animerec.model_owners: a name
 * is visible to the members of its owner role or of animerec_admin (who
 * manage it), to superusers, and to the members of a role holding a serving
 * grant on it (animerec.serving_grants).  A name the caller cannot see gets
 * the same error as a name that does not exist.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "animerec.h"
#include "serving_acl.h"

/*
 * The condition on model_owners o for "the current user may serve the model":
 * it manages it or is a member of a grantee.  Row-level security on
 * model_owners says the same; checking it here too keeps serving closed if a
 * policy is ever loosened (names visible for another reason).
 */
#define MAY_SERVE "animerec._may_serve(o.owner, o.name)"

/* SPI_prepare sql (nargs text arguments) once per backend into *plan */
static SPIPlanPtr
kept_plan(SPIPlanPtr *plan, const char *sql, int nargs)
{
	if (*plan == NULL)
	{
		Oid			argtypes[1] = {TEXTOID};
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare a query of animerec.model_owners: %s",
				 SPI_result_code_string(SPI_result));
		*plan = p;
	}
	return *plan;
}

/*
 * The models with an active version that the caller may use (manages or
 * serves), comma-separated, or NULL when there is none.  Inside SPI.
 */
static char *
usable_names(void)
{
	static SPIPlanPtr plan = NULL;
	bool		isnull;
	Datum		d;

	if (SPI_execute_plan(kept_plan(&plan, "SELECT string_agg(m.name, ', ' ORDER BY m.name)"
								   " FROM animerec.served_models m", 0),
						 NULL, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read animerec.model_owners");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

/* See serving_acl.h. */
bool
serving_may_list(const char *name)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	bool		may;

	SPI_connect();
	if (SPI_execute_plan(kept_plan(&plan, "SELECT animerec._is_member('animerec_admin')"
								   " OR EXISTS (SELECT 1 FROM animerec.model_owners o"
								   " WHERE o.name = $1 AND " MAY_SERVE ")", 1),
						 values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read animerec.model_owners");
	may = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return may;
}

/* ereport 42704 for a model name that is missing or hidden. Inside SPI. */
static void
report_unusable(const char *name)
{
	char	   *names = usable_names();

	if (names != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist or you have no serving privilege on it", name),
				 errhint("Models you may use: %s.", names)));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" does not exist or you have no serving privilege on it", name),
			 errhint("Train one with CALL animerec.train(name, ratings), or ask a model's owner for animerec.grant_serving(model, role).")));
}

/* ereport 42704: no default model, or one the caller may not use. Inside SPI. */
static void
report_no_default(void)
{
	char	   *names = usable_names();

	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("no default model is set, or you have no serving privilege on it"),
			 names ? errhint("Pass a model name, SET animerec.model, or make one the default with animerec.set_default_model(name); models you may use: %s.",
							 names) :
			 errhint("Train one with CALL animerec.train(name, ratings), or ask a model's owner for animerec.grant_serving(model, role).")));
}

/* See serving_acl.h. */
void
serving_resolve(text *model_or_null, ServingAccess *acc)
{
	static SPIPlanPtr by_name = NULL;
	static SPIPlanPtr by_default = NULL;
	MemoryContext caller = CurrentMemoryContext;
	char	   *name = NULL;
	char	   *owner;
	bool		manages;
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	if (model_or_null != NULL)
		name = text_to_cstring(model_or_null);
	else if (animerec_default_model != NULL && animerec_default_model[0] != '\0')
		name = pstrdup(animerec_default_model);

	SPI_connect();
	if (name != NULL)
	{
		Datum		values[1] = {CStringGetTextDatum(name)};

		if (SPI_execute_plan(kept_plan(&by_name, "SELECT o.name, o.owner, animerec._manages(o.owner)"
									   " FROM animerec.model_owners o WHERE o.name = $1"
									   " AND " MAY_SERVE, 1),
							 values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read animerec.model_owners");
		if (SPI_processed == 0)
			report_unusable(name);
	}
	else
	{
		if (SPI_execute_plan(kept_plan(&by_default, "SELECT o.name, o.owner, animerec._manages(o.owner)"
									   " FROM animerec.model_owners o WHERE o.is_default"
									   " AND " MAY_SERVE, 0),
							 NULL, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read animerec.model_owners");
		if (SPI_processed == 0)
			report_no_default();
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	acc->name = MemoryContextStrdup(caller, TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull)));
	owner = NameStr(*DatumGetName(SPI_getbinval(tup, desc, 2, &isnull)));
	manages = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	acc->owner = InvalidOid;
	if (!manages)
	{
		/* visible without managing it: through a serving grant */
		acc->owner = get_role_oid(owner, true);
		if (!OidIsValid(acc->owner))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the owner role \"%s\" of model \"%s\" does not exist", owner, acc->name),
					 errhint("A member of animerec_admin can give the name to an existing role (UPDATE animerec.model_owners).")));
	}
	SPI_finish();
}

/* See serving_acl.h. */
void
serving_require_manager(const ServingAccess *acc, const char *what)
{
	if (OidIsValid(acc->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", acc->name),
				 errdetail("A serving privilege allows recommendations only, not %s.", what),
				 errhint("Only members of the owner role or of animerec_admin, and superusers, may do that.")));
}

/* become role when it is valid, saving the current identity in *saved */
static void
become(Oid role, ServingUser *saved)
{
	GetUserIdAndSecContext(&saved->saved_user, &saved->saved_context);
	saved->switched = OidIsValid(role);
	if (saved->switched)
		SetUserIdAndSecContext(role, saved->saved_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
}

/* See serving_acl.h. */
void
serving_become_owner(const ServingAccess *acc, ServingUser *saved)
{
	become(acc->owner, saved);
}

/*
 * May the current user read relation rel (schema USAGE, table-level SELECT)?
 * False for a relation that no longer exists (its query then reports that).
 */
static bool
may_read(Oid rel)
{
	Oid			user = GetUserId();
	Oid			nsp = get_rel_namespace(rel);

	return OidIsValid(nsp) &&
		pg_namespace_aclcheck(nsp, user, ACL_USAGE) == ACLCHECK_OK &&
		pg_class_aclcheck(rel, user, ACL_SELECT) == ACLCHECK_OK;
}

/* See serving_acl.h. */
void
serving_become_reader(const ServingAccess *acc, const Oid *rels, int n, ServingUser *saved)
{
	bool		caller_reads = true;

	for (int i = 0; i < n && caller_reads && OidIsValid(acc->owner); i++)
		caller_reads = OidIsValid(rels[i]) && may_read(rels[i]);
	become(caller_reads ? InvalidOid : acc->owner, saved);
}

/* See serving_acl.h. */
void
serving_restore(const ServingUser *saved)
{
	if (saved->switched)
		SetUserIdAndSecContext(saved->saved_user, saved->saved_context);
}

/* See serving_acl.h. */
const ServeModel *
serving_acquire(const ServingAccess *acc)
{
	ServingUser su;
	const ServeModel *sm;

	serving_become_owner(acc, &su);
	sm = serve_model_acquire(acc->name);
	serving_restore(&su);
	return sm;
}

/* See serving_acl.h. */
void
serving_fetch_active(const ServingAccess *acc, RegistryModel *rm, bool with_weights)
{
	ServingUser su;

	serving_become_owner(acc, &su);
	if (!registry_fetch_active(acc->name, rm, with_weights))
		registry_report_no_active(acc->name);
	serving_restore(&su);
}

/* See serving_acl.h. */
Oid
serving_relation_oid(const char *qualified_name)
{
	RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(qualified_name));
	Oid			nsp;

	if (rv->schemaname == NULL)
		return RelnameGetRelid(rv->relname);
	nsp = get_namespace_oid(rv->schemaname, true);
	return OidIsValid(nsp) ? get_relname_relid(rv->relname, nsp) : InvalidOid;
}
