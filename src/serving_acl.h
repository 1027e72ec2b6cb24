/*
 * serving_acl.h — which model a serving call uses, whether the caller may use
 * it, and with whose rights it reads the registry and the ratings
 * (src/serving_acl.c; the SQL side is sql/install/25_serving_acl.sql).
 *
 * A caller that manages a model (member of its owner role or of
 * animerec_admin, or a superuser) serves it with its own rights, as before.
 * A caller that only holds a serving grant reads the registry with the
 * rights of the name's owner role, and the ratings too unless it may SELECT
 * them itself: the way REFRESH MATERIALIZED VIEW runs its query as the view's
 * owner (SetUserIdAndSecContext with SECURITY_RESTRICTED_OPERATION, under the
 * serving functions' fixed search_path).
 */
#ifndef ANIMEREC_SERVING_ACL_H
#define ANIMEREC_SERVING_ACL_H

#include "postgres.h"

#include "registry.h"
#include "shmem.h"

/* the model of one serving call and the role whose rights serve it */
typedef struct ServingAccess
{
	char	   *name;			/* the model name */
	Oid			owner;			/* the name's owner role when the caller serves
								 * it through a grant; InvalidOid when the caller
								 * manages it (everything runs with its rights) */
} ServingAccess;

/* the identity saved by serving_become_* and put back by serving_restore */
typedef struct ServingUser
{
	Oid			saved_user;
	int			saved_context;
	bool		switched;
} ServingUser;

/*
 * Resolve a model argument into *acc: model_or_null, else the setting
 * animerec.model, else the database's default model.  Errors 42704 when the
 * name does not exist or is hidden from the caller (the same message, so that
 * no name leaks), or when there is no default the caller may use.  The name
 * is palloc'd in the caller's context.
 */
extern void serving_resolve(text *model_or_null, ServingAccess *acc);

/*
 * May the current user see model name in the listings of the model cache
 * and of running trainings: a member of animerec_admin (every name, even one
 * whose registry row is gone), or a role that manages the model or holds a
 * serving grant on it; the filter of the views loaded_models and
 * training_progress, applied again by the functions behind them.  Uses SPI.
 */
extern bool serving_may_list(const char *name);

/* error 42501 unless the caller manages acc's model; what names the refused action */
extern void serving_require_manager(const ServingAccess *acc, const char *what);

/* become the owner role of acc's model when the caller is a grantee (else a no-op) */
extern void serving_become_owner(const ServingAccess *acc, ServingUser *saved);

/*
 * Become the owner role of acc's model when the caller is a grantee that may
 * not read every one of the n relations rels (schema USAGE and table-level
 * SELECT); else keep the caller's rights.
 */
extern void serving_become_reader(const ServingAccess *acc, const Oid *rels, int n,
								  ServingUser *saved);

/* put back the identity saved by serving_become_owner or serving_become_reader */
extern void serving_restore(const ServingUser *saved);

/* pin the active version of acc's model (serve_model_acquire as the registry reader) */
extern const ServeModel *serving_acquire(const ServingAccess *acc);

/*
 * Fill *rm with the active version of acc's model, read with the owner's
 * rights for a grantee; error (registry_report_no_active) when there is none.
 */
extern void serving_fetch_active(const ServingAccess *acc, RegistryModel *rm, bool with_weights);

/*
 * The relation of a qualified, quoted name as stored in the registry, looked
 * up without privilege checks; InvalidOid when it does not exist.
 */
extern Oid	serving_relation_oid(const char *qualified_name);

#endif
