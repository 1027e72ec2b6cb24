/*
 * registry.c — reading the model registry (animerec.models) through SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "animerec.h"
#include "registry.h"

/*
 * Comma-separated list of all model names (sorted), or "(none)".  Must be
 * called inside an SPI connection; the result lives in the SPI context.
 */
static char *
model_names_list(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute("SELECT string_agg(DISTINCT name, ', ' ORDER BY name) FROM animerec.models",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not list the models in animerec.models");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? "(none)" : TextDatumGetCString(d);
}

/* does any version of model name exist?  Inside an SPI connection. */
static bool
model_exists(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT 1 FROM animerec.models WHERE name = $1 LIMIT 1",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read animerec.models");
	return SPI_processed > 0;
}

/* See registry.h: DESIGN §4's rule for a NULL model argument. */
char *
registry_resolve_name(text *model_or_null)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *name = NULL;
	char	   *result;

	if (model_or_null != NULL)
		name = text_to_cstring(model_or_null);
	else if (animerec_default_model != NULL && animerec_default_model[0] != '\0')
		name = pstrdup(animerec_default_model);

	SPI_connect();
	if (name != NULL)
	{
		if (!model_exists(name))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", name),
					 errhint("Models: %s.", model_names_list())));
	}
	else
	{
		bool		isnull;

		if (SPI_execute("SELECT DISTINCT name FROM animerec.models ORDER BY name LIMIT 2",
						true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read animerec.models");
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("no model exists"),
					 errhint("Train one with CALL animerec.train(name, ratings).")));
		if (SPI_processed > 1)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("more than one model exists and animerec.model is not set"),
					 errhint("Pass a model name or SET animerec.model; models: %s.",
							 model_names_list())));
		name = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1, &isnull));
	}
	result = MemoryContextStrdup(caller, name);
	SPI_finish();
	return result;
}

/* text column attno of the current SPI row copied into the caller's context, or NULL */
static char *
copy_text_col(int attno, MemoryContext caller)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, attno, &isnull);

	return isnull ? NULL : MemoryContextStrdup(caller, TextDatumGetCString(d));
}

/* See registry.h. */
bool
registry_fetch_active(const char *name, RegistryModel *out, bool with_weights)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	bool		found;

	SPI_connect();
	values[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args(with_weights ?
							  "SELECT version, ratings_table, user_col, item_col, rating_col, order_col,"
							  " items_table, item_key, tags_col, user_tags_table, weights"
							  " FROM animerec.models WHERE name = $1 AND active" :
							  "SELECT version, ratings_table, user_col, item_col, rating_col, order_col,"
							  " items_table, item_key, tags_col, user_tags_table, NULL::bytea"
							  " FROM animerec.models WHERE name = $1 AND active",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read animerec.models");
	found = SPI_processed > 0;
	if (found)
	{
		Datum		w;

		memset(out, 0, sizeof(*out));
		out->name = MemoryContextStrdup(caller, name);
		out->version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1, &isnull));
		out->ratings_table = copy_text_col(2, caller);
		out->user_col = copy_text_col(3, caller);
		out->item_col = copy_text_col(4, caller);
		out->rating_col = copy_text_col(5, caller);
		out->order_col = copy_text_col(6, caller);
		out->items_table = copy_text_col(7, caller);
		out->item_key = copy_text_col(8, caller);
		out->tags_col = copy_text_col(9, caller);
		out->user_tags_table = copy_text_col(10, caller);
		w = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 11, &isnull);
		if (!isnull)
		{
			bytea	   *b = DatumGetByteaPP(w);
			size_t		len = VARSIZE_ANY_EXHDR(b);
			char	   *raw = MemoryContextAllocHuge(caller, len + 64);
			char	   *aligned = (char *) TYPEALIGN(64, raw);

			memcpy(aligned, VARDATA_ANY(b), len);
			out->weights = aligned;
			out->weights_len = len;
		}
	}
	SPI_finish();
	return found;
}
