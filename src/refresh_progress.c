/*
 * refresh_progress.c — progress of refresh_recommendations, which writes the
 * rows of one recommend_all scan over every user in a single MERGE (so that
 * the scan's pipeline of blocks never drains between calls): a function
 * evaluated on each row it writes counts the users and reports every
 * block_users of them (the procedure reports the total at the end).
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "animerec.h"

/* the count of one MERGE's rows, kept in the call site's fn_extra */
typedef struct RefreshCount
{
	int64		users;			/* users seen so far */
	int64		last_user;		/* the user of the previous row */
} RefreshCount;

/*
 * Say how far the refresh of model version has got: application_name, and a
 * NOTICE when asked.  application_name holds NAMEDATALEN - 1 bytes: a long
 * model name is cut short there (at a character's end), not the count.
 */
static void
report(const char *model, int32 version, int64 users)
{
	char	   *count = psprintf(": %lld users", (long long) users);
	int			room = NAMEDATALEN - 1 - (int) strlen("animerec refresh ") - (int) strlen(count);
	char	   *name = psprintf("animerec refresh %.*s%s", pg_mbcliplen(model, strlen(model), Max(room, 0)),
								model, count);

	/* for other sessions, as set_config(..., is_local => true) */
	(void) set_config_option("application_name", name, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (animerec_progress_notices)
		ereport(NOTICE,
				(errmsg("refresh of \"%s\" version %d: %lld users", model, version,
						(long long) users)));
}

PG_FUNCTION_INFO_V1(animerec_refresh_progress);

/*
 * _refresh_progress(model text, version int, user_id bigint, block_users int)
 *   -> boolean (always true)
 * Called on every row a refresh writes, in the scan's order (ascending
 * users): each new user_id is counted, and every block_users users the
 * count is reported.  It is the filter of the MERGE's source, so a NULL
 * argument is an error rather than a row left out.
 */
Datum
animerec_refresh_progress(PG_FUNCTION_ARGS)
{
	RefreshCount *c = fcinfo->flinfo->fn_extra;
	int64		user;
	int32		block;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the arguments of animerec._refresh_progress must not be null")));
	user = PG_GETARG_INT64(2);
	block = PG_GETARG_INT32(3);
	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RefreshCount));
		fcinfo->flinfo->fn_extra = c;
	}
	if (c->users == 0 || user != c->last_user)
	{
		c->users++;
		c->last_user = user;
		if (block > 0 && c->users % block == 0)
			report(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_INT32(1), c->users);
	}
	PG_RETURN_BOOL(true);
}
