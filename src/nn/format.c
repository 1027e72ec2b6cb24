/*
 * format.c — the weight file: one blob holding a whole model, written by
 * nn_weights_write and validated into a zero-copy, read-only model view by
 * nn_weights_view (used to serve from PostgreSQL shared memory).
 *
 * Format versions 1 and 2.  All integers little-endian; offsets in bytes
 * from the start of the blob.
 *
 *   offset size  field
 *        0    8  magic "ANRECNN1"
 *        8    4  uint32  format version: 1, or 2 with user ids
 *       12    4  uint32  header size = 80 (the fields up to here and below)
 *       16    4  int32   n_items       N   1 .. INT32_MAX - 1
 *       20    4  int32   n_tags        G   >= 0
 *       24    4  int32   n_user_tags   UG  >= 0
 *       28    4  int32   n_users       U   >= 0
 *       32    4  int32   dim           D   >= 1
 *       36    4  int32   hidden        H   >= 1
 *       40    4  int32   layers        L   1 .. NN_MAX_LAYERS
 *       44    4  int32   maxlen        T   >= 1
 *       48    4  float32 rating_min        finite, <= rating_max
 *       52    4  float32 rating_max        finite
 *       56    8  uint64  n_tag_idx     entries of item_tag_idx, <= INT32_MAX
 *       64    8  uint64  n_params      floats of params, as nn.h's order implies
 *       72    8  uint64  total size    bytes of the whole blob, CRC included
 *
 * Then four arrays (five in version 2), each starting at the next multiple
 * of 64 (the gaps, and the gap after the header, are zero bytes):
 *
 *   item_tag_ptr  int32   (N+2)        CSR offsets: ptr[0] = 0, non-decreasing,
 *                                      ptr[N+1] = n_tag_idx
 *   item_tag_idx  int32   (n_tag_idx)  tag indices, each in 1..G
 *   item_ids      int64   (N+1)        ids[0] = 0, ids[1..N] strictly ascending
 *   user_ids      int64   (U+1)        version 2 only (U >= 1): the external id
 *                                      of each user-embedding row, ids[0] = 0,
 *                                      ids[1..U] strictly ascending
 *   params        float32 (n_params)   the parameter buffer, nn.h's order
 *
 * A model with user ids (a trained user embedding) is written as version 2,
 * any other as version 1, so that blobs without user embeddings are the
 * bytes 0.1.0 and 0.2.0 wrote and read.  A version 1 blob with U > 0 (user
 * rows without ids) gives a view whose user_ids is NULL.
 *
 * and directly after params (at a multiple of 4) the last 4 bytes:
 *
 *   crc           uint32  CRC32C of every byte before it
 *
 * The arrays are stored in host order, so the zero-copy view needs a
 * little-endian host and a 64-byte aligned blob.  A blob is canonical: a
 * valid blob is byte-for-byte what nn_weights_write makes of its view.
 *
 * Building with -DNN_FUZZ_SKIP_CRC (the fuzz target only) accepts any stored
 * checksum, so that mutated blobs reach the structural checks.
 */
#include "nn_internal.h"

#define WF_MAGIC		"ANRECNN1"
#define WF_VERSION		1		/* without user ids */
#define WF_VERSION_USERS 2		/* with user ids */
#define WF_HEADER_SIZE	80
#define WF_ALIGN		64

/* where everything lies in a blob of a given configuration */
typedef struct wf_layout
{
	size_t		items;			/* N+1 */
	size_t		users;			/* U+1 with user ids (version 2), else 0 */
	size_t		n_params;		/* floats of params */
	size_t		n_tag_idx;		/* entries of item_tag_idx */
	size_t		off_ptr;		/* item_tag_ptr, int32 (N+2) */
	size_t		off_idx;		/* item_tag_idx, int32 (n_tag_idx) */
	size_t		off_ids;		/* item_ids, int64 (N+1) */
	size_t		off_uids;		/* user_ids, int64 (users) */
	size_t		off_params;		/* params, float32 (n_params) */
	size_t		off_crc;		/* the uint32 checksum */
	size_t		total;			/* blob size */
} wf_layout;

/* the header fields that are not part of nn_config */
typedef struct wf_header
{
	nn_config	cfg;
	uint32_t	version;
	uint64_t	n_tag_idx;
	uint64_t	n_params;
	uint64_t	total;
} wf_header;

/* the bits of a float32 as a uint32, and back */
static uint32_t
float_bits(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static float
bits_float(uint32_t u)
{
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* write the ten fields of c at p (NN_CONFIG_BYTES), little-endian, in nn_config's order */
void
nn_put_config(unsigned char *p, const nn_config *c)
{
	nn_put_le32(p, (uint32_t) c->n_items);
	nn_put_le32(p + 4, (uint32_t) c->n_tags);
	nn_put_le32(p + 8, (uint32_t) c->n_user_tags);
	nn_put_le32(p + 12, (uint32_t) c->n_users);
	nn_put_le32(p + 16, (uint32_t) c->dim);
	nn_put_le32(p + 20, (uint32_t) c->hidden);
	nn_put_le32(p + 24, (uint32_t) c->layers);
	nn_put_le32(p + 28, (uint32_t) c->maxlen);
	nn_put_le32(p + 32, float_bits(c->rating_min));
	nn_put_le32(p + 36, float_bits(c->rating_max));
}

/* read the NN_CONFIG_BYTES at p written by nn_put_config into c (unchecked) */
void
nn_get_config(const unsigned char *p, nn_config *c)
{
	c->n_items = (int32_t) nn_get_le32(p);
	c->n_tags = (int32_t) nn_get_le32(p + 4);
	c->n_user_tags = (int32_t) nn_get_le32(p + 8);
	c->n_users = (int32_t) nn_get_le32(p + 12);
	c->dim = (int32_t) nn_get_le32(p + 16);
	c->hidden = (int32_t) nn_get_le32(p + 20);
	c->layers = (int32_t) nn_get_le32(p + 24);
	c->maxlen = (int32_t) nn_get_le32(p + 28);
	c->rating_min = bits_float(nn_get_le32(p + 32));
	c->rating_max = bits_float(nn_get_le32(p + 36));
}

/* true when the host stores integers little-endian (the arrays' order) */
bool
nn_host_little_endian(void)
{
	const uint16_t one = 1;
	unsigned char first;

	memcpy(&first, &one, 1);
	return first == 1;
}

/* ---- sizes with overflow checks ------------------------------------------- */

/* *r = a + b; false on size_t overflow */
static bool
size_add(size_t *r, size_t a, size_t b)
{
	return !__builtin_add_overflow(a, b, r);
}

/* *r = a * b; false on size_t overflow */
static bool
size_mul(size_t *r, size_t a, size_t b)
{
	return !__builtin_mul_overflow(a, b, r);
}

/* *r = a rounded up to a multiple of WF_ALIGN; false on overflow */
static bool
size_align(size_t *r, size_t a)
{
	if (!size_add(r, a, WF_ALIGN - 1))
		return false;
	*r -= *r % WF_ALIGN;
	return true;
}

/*
 * *off_next = the aligned end of an array of count elements of elem bytes
 * starting at off; false on overflow.
 */
static bool
array_end(size_t *off_next, size_t off, size_t count, size_t elem)
{
	size_t		bytes;

	return size_mul(&bytes, count, elem) && size_add(&bytes, off, bytes) &&
		size_align(off_next, bytes);
}

/* ---- configuration and layout --------------------------------------------- */

/*
 * nn_config_check caps every count below 2^31 and dim, hidden at 65536, so
 * nn_param_floats stays below 2^50 and cannot overflow a 64-bit size_t; the
 * offsets below are computed with overflow checks all the same.
 */
_Static_assert(SIZE_MAX >= UINT64_MAX, "the weight format needs a 64-bit size_t");

/*
 * Fill lo for a checked configuration with n_tag_idx tag entries, with user
 * ids or not; false if a size overflows size_t.
 */
static bool
layout_compute(const nn_config *c, size_t n_tag_idx, bool user_ids, wf_layout *lo)
{
	size_t		items = (size_t) c->n_items + 1;

	lo->items = items;
	lo->users = user_ids ? (size_t) c->n_users + 1 : 0;
	lo->n_tag_idx = n_tag_idx;
	lo->off_ptr = WF_ALIGN * ((WF_HEADER_SIZE + WF_ALIGN - 1) / WF_ALIGN);
	lo->n_params = nn_param_floats(c);
	return array_end(&lo->off_idx, lo->off_ptr, items + 1, sizeof(int32_t)) &&
		array_end(&lo->off_ids, lo->off_idx, n_tag_idx, sizeof(int32_t)) &&
		array_end(&lo->off_uids, lo->off_ids, items, sizeof(int64_t)) &&
		array_end(&lo->off_params, lo->off_uids, lo->users, sizeof(int64_t)) &&
		size_mul(&lo->off_crc, lo->n_params, sizeof(float)) &&
		size_add(&lo->off_crc, lo->off_crc, lo->off_params) &&
		size_add(&lo->total, lo->off_crc, sizeof(uint32_t));
}

/* ---- array checks ------------------------------------------------------------ */

/*
 * Check the item->tags CSR: ptr (N+2) starts at 0, never decreases and ends at
 * n_idx; idx (n_idx) holds tags 1..G.  Returns code with a message on failure.
 */
static int
tags_check(const int32_t *ptr, const int32_t *idx, int32_t n_items, int32_t n_tags,
		   size_t n_idx, int code, nn_error *err)
{
	size_t		j;
	size_t		k;

	if (ptr[0] != 0)
		return nn_fail(err, code, "item_tag_ptr[0] = %d, must be 0", (int) ptr[0]);
	for (j = 1; j <= (size_t) n_items + 1; j++)
	{
		if (ptr[j] < ptr[j - 1])
			return nn_fail(err, code, "item_tag_ptr decreases at %zu (%d < %d)",
						   j, (int) ptr[j], (int) ptr[j - 1]);
	}
	if ((size_t) ptr[n_items + 1] != n_idx)
		return nn_fail(err, code, "item_tag_ptr[N+1] = %d, but there are %zu tag entries",
					   (int) ptr[n_items + 1], n_idx);
	for (k = 0; k < n_idx; k++)
	{
		if (idx[k] < 1 || idx[k] > n_tags)
			return nn_fail(err, code, "item_tag_idx[%zu] = %d outside 1..%d",
						   k, (int) idx[k], (int) n_tags);
	}
	return NN_OK;
}

/*
 * Check the external ids (n+1) of the array called what: ids[0] = 0,
 * ids[1..n] strictly ascending (so nn_item_index and nn_user_index can
 * binary-search them).
 */
static int
ids_check(const int64_t *ids, int32_t n, const char *what, int code, nn_error *err)
{
	size_t		j;

	if (ids[0] != 0)
		return nn_fail(err, code, "%s[0] = %lld, must be 0", what, (long long) ids[0]);
	for (j = 2; j <= (size_t) n; j++)
	{
		if (ids[j] <= ids[j - 1])
			return nn_fail(err, code, "%s not strictly ascending at %zu (%lld after %lld)",
						   what, j, (long long) ids[j], (long long) ids[j - 1]);
	}
	return NN_OK;
}

/* ---- writing ----------------------------------------------------------------- */

/*
 * Check m is writable and compute its layout: a valid configuration, the
 * tag lists and ids present and consistent, n_params matching the shapes.
 */
static int
model_layout(const nn_model *m, wf_layout *lo, nn_error *err)
{
	const nn_config *c = &m->cfg;
	int			rc;

	if ((rc = nn_config_check(c, err)) != NN_OK)
		return rc;
	if (m->params == NULL || m->item_tag_ptr == NULL || m->item_ids == NULL ||
		(m->item_tag_idx == NULL && m->item_tag_ptr[c->n_items + 1] != 0))
		return nn_fail(err, NN_EINVAL, "model has no parameters, tag lists or item ids");
	if (m->item_tag_ptr[c->n_items + 1] < 0)
		return nn_fail(err, NN_EINVAL, "item_tag_ptr[N+1] = %d is negative",
					   (int) m->item_tag_ptr[c->n_items + 1]);
	if (m->user_ids != NULL && c->n_users == 0)
		return nn_fail(err, NN_EINVAL, "model has user ids but no user rows");
	if (!layout_compute(c, (size_t) m->item_tag_ptr[c->n_items + 1], m->user_ids != NULL, lo))
		return nn_fail(err, NN_EINVAL, "model size overflows size_t");
	if (lo->n_params != m->n_params)
		return nn_fail(err, NN_EINVAL, "model has %zu parameters, its configuration %zu",
					   m->n_params, lo->n_params);
	if ((rc = tags_check(m->item_tag_ptr, m->item_tag_idx, c->n_items, c->n_tags,
						 lo->n_tag_idx, NN_EINVAL, err)) != NN_OK)
		return rc;
	if ((rc = ids_check(m->item_ids, c->n_items, "item_ids", NN_EINVAL, err)) != NN_OK)
		return rc;
	return m->user_ids ? ids_check(m->user_ids, c->n_users, "user_ids", NN_EINVAL, err) : NN_OK;
}

/* write the 80-byte header of a model with layout lo at p */
static void
header_write(unsigned char *p, const nn_config *c, const wf_layout *lo)
{
	memcpy(p, WF_MAGIC, 8);
	nn_put_le32(p + 8, lo->users > 0 ? WF_VERSION_USERS : WF_VERSION);
	nn_put_le32(p + 12, WF_HEADER_SIZE);
	nn_put_config(p + 16, c);
	nn_put_le64(p + 56, lo->n_tag_idx);
	nn_put_le64(p + 64, lo->n_params);
	nn_put_le64(p + 72, lo->total);
}

/* bytes of m's weight blob; 0 if m cannot be written (see nn_weights_write) */
size_t
nn_weights_size(const nn_model *m)
{
	wf_layout	lo;

	if (m == NULL || model_layout(m, &lo, NULL) != NN_OK)
		return 0;
	return lo.total;
}

/*
 * Serialise m into buf (len >= nn_weights_size(m) bytes; exactly that many
 * are written, gaps zeroed).  NN_EINVAL if m is inconsistent or buf too small.
 */
int
nn_weights_write(const nn_model *m, void *buf, size_t len, nn_error *err)
{
	unsigned char *p = buf;
	wf_layout	lo;
	size_t		n_items;
	int			rc;

	if (m == NULL || buf == NULL)
		return nn_fail(err, NN_EINVAL, "nn_weights_write: NULL model or buffer");
	if (!nn_host_little_endian())
		return nn_fail(err, NN_EINVAL, "weight files need a little-endian host");
	if ((rc = model_layout(m, &lo, err)) != NN_OK)
		return rc;
	if (len < lo.total)
		return nn_fail(err, NN_EINVAL, "buffer of %zu bytes, the blob needs %zu", len, lo.total);
	n_items = (size_t) m->cfg.n_items + 1;
	memset(p, 0, lo.off_params);
	header_write(p, &m->cfg, &lo);
	memcpy(p + lo.off_ptr, m->item_tag_ptr, (n_items + 1) * sizeof(int32_t));
	if (lo.n_tag_idx > 0)
		memcpy(p + lo.off_idx, m->item_tag_idx, lo.n_tag_idx * sizeof(int32_t));
	memcpy(p + lo.off_ids, m->item_ids, n_items * sizeof(int64_t));
	if (lo.users > 0)
		memcpy(p + lo.off_uids, m->user_ids, lo.users * sizeof(int64_t));
	memcpy(p + lo.off_params, m->params, lo.n_params * sizeof(float));
	nn_put_le32(p + lo.off_crc, nn_crc32c(0, p, lo.off_crc));
	return NN_OK;
}

/* ---- reading ----------------------------------------------------------------- */

/*
 * Decode and check the header of blob (len bytes) into h: enough bytes for
 * each field before reading it, magic, version, header size.
 */
static int
header_read(const unsigned char *p, size_t len, wf_header *h, nn_error *err)
{
	nn_config  *c = &h->cfg;
	uint32_t	version;

	if (len < 8)
		return nn_fail(err, NN_ECORRUPT, "truncated: %zu bytes, no room for the magic", len);
	if (memcmp(p, WF_MAGIC, 8) != 0)
		return nn_fail(err, NN_ECORRUPT, "bad magic: not an animerec weight file");
	if (len < 16)
		return nn_fail(err, NN_ECORRUPT, "truncated: %zu bytes, no room for the version", len);
	version = nn_get_le32(p + 8);
	if (version != WF_VERSION && version != WF_VERSION_USERS)
		return nn_fail(err, NN_EVERSION, "unknown weight format version %u (this build reads %d and %d)",
					   (unsigned) version, WF_VERSION, WF_VERSION_USERS);
	if (nn_get_le32(p + 12) != WF_HEADER_SIZE)
		return nn_fail(err, NN_ECORRUPT, "header size %u, version %u has %d",
					   (unsigned) nn_get_le32(p + 12), (unsigned) version, WF_HEADER_SIZE);
	h->version = version;
	if (len < WF_HEADER_SIZE)
		return nn_fail(err, NN_ECORRUPT, "truncated: %zu bytes, the header alone has %d",
					   len, WF_HEADER_SIZE);
	nn_get_config(p + 16, c);
	h->n_tag_idx = nn_get_le64(p + 56);
	h->n_params = nn_get_le64(p + 64);
	h->total = nn_get_le64(p + 72);
	return NN_OK;
}

/*
 * Check the header's dimensions and counts agree with each other and with
 * len, and compute the layout lo; no array byte is read.
 */
static int
layout_read(const wf_header *h, size_t len, wf_layout *lo, nn_error *err)
{
	nn_error	cfg_err;

	if (nn_config_check(&h->cfg, &cfg_err) != NN_OK)
		return nn_fail(err, NN_ECORRUPT, "header: %s", cfg_err.msg);
	if (h->n_tag_idx > INT32_MAX)
		return nn_fail(err, NN_ECORRUPT, "n_tag_idx %llu exceeds %d",
					   (unsigned long long) h->n_tag_idx, INT32_MAX);
	if (h->version == WF_VERSION_USERS && h->cfg.n_users == 0)
		return nn_fail(err, NN_ECORRUPT, "version %d blob without user rows", WF_VERSION_USERS);
	if (!layout_compute(&h->cfg, (size_t) h->n_tag_idx, h->version == WF_VERSION_USERS, lo))
		return nn_fail(err, NN_ECORRUPT, "dimensions too large: blob size overflows size_t");
	if (h->n_params != lo->n_params)
		return nn_fail(err, NN_ECORRUPT, "n_params %llu, the dimensions imply %zu",
					   (unsigned long long) h->n_params, lo->n_params);
	if (h->total != lo->total)
		return nn_fail(err, NN_ECORRUPT, "total size %llu, the counts imply %zu",
					   (unsigned long long) h->total, lo->total);
	if (len < lo->total)
		return nn_fail(err, NN_ECORRUPT, "truncated: %zu bytes of %zu", len, lo->total);
	if (len > lo->total)
		return nn_fail(err, NN_ECORRUPT, "%zu trailing bytes after the %zu-byte blob",
					   len - lo->total, lo->total);
	return NN_OK;
}

/* check the bytes [from, to) of p are zero */
static int
gap_check(const unsigned char *p, size_t from, size_t to, nn_error *err)
{
	size_t		i;

	for (i = from; i < to; i++)
	{
		if (p[i] != 0)
			return nn_fail(err, NN_ECORRUPT, "non-zero padding byte at offset %zu", i);
	}
	return NN_OK;
}

/* check every alignment gap of a blob with layout lo is zero */
static int
gaps_check(const unsigned char *p, const wf_layout *lo, nn_error *err)
{
	const size_t gaps[5][2] = {
		{WF_HEADER_SIZE, lo->off_ptr},
		{lo->off_ptr + (lo->items + 1) * sizeof(int32_t), lo->off_idx},
		{lo->off_idx + lo->n_tag_idx * sizeof(int32_t), lo->off_ids},
		{lo->off_ids + lo->items * sizeof(int64_t), lo->off_uids},
		{lo->off_uids + lo->users * sizeof(int64_t), lo->off_params}
	};
	int			g;
	int			rc;

	for (g = 0; g < 5; g++)
	{
		if ((rc = gap_check(p, gaps[g][0], gaps[g][1], err)) != NN_OK)
			return rc;
	}
	return NN_OK;
}

/*
 * Validate blob (len bytes, 64-byte aligned) and make m a read-only view of
 * it: m's pointers point into blob, m->owned is NULL, nothing is copied.
 */
int
nn_weights_view(const void *blob, size_t len, nn_model *m, nn_error *err)
{
	const unsigned char *p = blob;
	wf_header	h;
	wf_layout	lo;
	int			rc;

	if (blob == NULL || m == NULL)
		return nn_fail(err, NN_EINVAL, "nn_weights_view: NULL blob or model");
	if ((uintptr_t) blob % WF_ALIGN != 0)
		return nn_fail(err, NN_EINVAL, "weight blob at %p is not %d-byte aligned", blob, WF_ALIGN);
	if (!nn_host_little_endian())
		return nn_fail(err, NN_EINVAL, "weight files need a little-endian host");
	if ((rc = header_read(p, len, &h, err)) != NN_OK ||
		(rc = layout_read(&h, len, &lo, err)) != NN_OK ||
		(rc = nn_crc_check(p, lo.off_crc, err)) != NN_OK ||
		(rc = gaps_check(p, &lo, err)) != NN_OK ||
		(rc = tags_check((const int32_t *) (p + lo.off_ptr), (const int32_t *) (p + lo.off_idx),
						 h.cfg.n_items, h.cfg.n_tags, lo.n_tag_idx, NN_ECORRUPT, err)) != NN_OK ||
		(rc = ids_check((const int64_t *) (p + lo.off_ids), h.cfg.n_items, "item_ids",
						NN_ECORRUPT, err)) != NN_OK ||
		(lo.users > 0 &&
		 (rc = ids_check((const int64_t *) (p + lo.off_uids), h.cfg.n_users, "user_ids",
						 NN_ECORRUPT, err)) != NN_OK))
		return rc;
	memset(m, 0, sizeof(*m));
	m->cfg = h.cfg;
	nn_model_bind(m, (float *) (p + lo.off_params));
	m->item_tag_ptr = (const int32_t *) (p + lo.off_ptr);
	m->item_tag_idx = (const int32_t *) (p + lo.off_idx);
	m->item_ids = (const int64_t *) (p + lo.off_ids);
	m->user_ids = lo.users > 0 ? (const int64_t *) (p + lo.off_uids) : NULL;
	return NN_OK;
}
