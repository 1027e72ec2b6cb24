/*
 * transfer.c — the C half of animerec.export_model() and import_model()
 * (sql/install/50_transfer.sql): packing a version's weights and registry
 * metadata into the export envelope (src/nn/export.c) and unpacking it with
 * every check, mapped to SQLSTATEs.  The registry reads and writes, the
 * ownership rules and the activation are SQL.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "animerec.h"

/*
 * Validate a weight file of len bytes (any alignment) with nn_weights_view
 * on a 64-byte aligned copy; ereport data_corrupted naming what when invalid.
 */
static void
check_weights(const void *weights, size_t len, const char *what)
{
	char	   *raw = MemoryContextAllocHuge(CurrentMemoryContext, len + 64);
	char	   *aligned = (char *) TYPEALIGN(64, raw);
	nn_model	m;
	nn_error	err;

	memcpy(aligned, weights, len);
	if (nn_weights_view(aligned, len, &m, &err) != NN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: invalid weights: %s", what, err.msg),
				 errhint("Export the model again from a server where it serves.")));
	pfree(raw);
}

PG_FUNCTION_INFO_V1(animerec_pack_model);

/*
 * _pack_model(meta jsonb, weights bytea) -> bytea: the export envelope of a
 * weight file (validated first) and its metadata, as UTF-8 JSON text.
 */
Datum
animerec_pack_model(PG_FUNCTION_ARGS)
{
	Jsonb	   *meta = PG_GETARG_JSONB_P(0);
	bytea	   *weights = PG_GETARG_BYTEA_PP(1);
	char	   *text = JsonbToCString(NULL, &meta->root, VARSIZE(meta));
	char	   *utf8 = pg_server_to_any(text, strlen(text), PG_UTF8);
	size_t		meta_len = strlen(utf8);
	size_t		wlen = VARSIZE_ANY_EXHDR(weights);
	size_t		len = nn_export_size(meta_len, wlen);
	bytea	   *out;
	nn_error	err;

	check_weights(VARDATA_ANY(weights), wlen, "cannot export the model");
	if (len == 0 || len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a model export of %zu bytes of weights and %zu of metadata exceeds the 1 GB limit of bytea",
						wlen, meta_len)));
	out = palloc(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	if (nn_export_write(utf8, meta_len, VARDATA_ANY(weights), wlen, VARDATA(out), len, &err) != NN_OK)
		elog(ERROR, "could not write the model export: %s", err.msg);
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(animerec_unpack_model);

/*
 * _unpack_model(model bytea, OUT meta jsonb, OUT weights bytea): check an
 * export (magic 22P03, version 0A000, lengths and checksum XX001), convert
 * its metadata to the server encoding and validate the weight file inside
 * (XX001).
 */
Datum
animerec_unpack_model(PG_FUNCTION_ARGS)
{
	bytea	   *model = PG_GETARG_BYTEA_PP(0);
	nn_export_parts parts;
	nn_error	err;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	char	   *meta;
	bytea	   *weights;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_unpack_model must return a composite type");
	switch (nn_export_read(VARDATA_ANY(model), VARSIZE_ANY_EXHDR(model), &parts, &err))
	{
		case NN_OK:
			break;
		case NN_EMAGIC:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("cannot import the model: %s", err.msg),
					 errhint("Pass the bytea that animerec.export_model() returned.")));
			break;
		case NN_EVERSION:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot import the model: %s", err.msg),
					 errhint("Import it with the animerec version that exported it (this is %s), or export it again here.",
							 ANIMEREC_VERSION)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("cannot import the model: the export is damaged: %s", err.msg),
					 errhint("The bytes were changed or cut on the way: export the model again.")));
	}
	check_weights(parts.weights, parts.weights_len, "cannot import the model");
	meta = pg_any_to_server(parts.meta, (int) parts.meta_len, PG_UTF8);
	if (meta == parts.meta)
		meta = pnstrdup(parts.meta, parts.meta_len);
	values[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(meta));
	weights = palloc(VARHDRSZ + parts.weights_len);
	SET_VARSIZE(weights, VARHDRSZ + parts.weights_len);
	memcpy(VARDATA(weights), parts.weights, parts.weights_len);
	values[1] = PointerGetDatum(weights);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
