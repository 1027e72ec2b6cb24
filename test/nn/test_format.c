/*
 * test_format.c — the weight file (src/nn/format.c) and CRC32C (crc32c.c):
 * round trip, canonical form, and rejection of every corruption class with
 * its error code and message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "tap.h"

/* header field offsets, as documented in format.c */
#define OFF_VERSION		8
#define OFF_HDRSIZE		12
#define OFF_N_ITEMS		16
#define OFF_N_TAGS		20
#define OFF_N_UTAGS		24
#define OFF_N_USERS		28
#define OFF_DIM			32
#define OFF_HIDDEN		36
#define OFF_LAYERS		40
#define OFF_MAXLEN		44
#define OFF_RMIN		48
#define OFF_RMAX		52
#define OFF_N_TAG_IDX	56
#define OFF_N_PARAMS	64
#define OFF_TOTAL		72
#define HEADER_SIZE		80
#define OFF_TAG_PTR		128

/* a model, its blob and where the blob's arrays start */
typedef struct fixture
{
	nn_model	m;
	unsigned char *blob;		/* 64-byte aligned */
	size_t		len;
	size_t		off_idx;
	size_t		off_ids;
	size_t		off_params;
} fixture;

/* bit-at-a-time CRC32C, the reference for the table-driven one */
static uint32_t
crc32c_bitwise(uint32_t crc, const unsigned char *p, size_t len)
{
	int			k;

	crc = ~crc;
	while (len-- > 0)
	{
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

/*
 * A 64-byte aligned block of exactly len + shift bytes (so that ASan sees any
 * overread) holding len bytes of src from offset shift, zeros before.
 */
static unsigned char *
aligned_copy(const void *src, size_t len, size_t shift)
{
	void	   *p;

	if (posix_memalign(&p, 64, len + shift + (len + shift == 0)) != 0)
	{
		printf("Bail out! out of memory\n");
		exit(255);
	}
	memset(p, 0, shift);
	memcpy((unsigned char *) p + shift, src, len);
	return p;
}

static void
put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return v;
}

/* recompute the trailing CRC of a blob after editing it */
static void
reseal(unsigned char *blob, size_t len)
{
	put32(blob + len - 4, nn_crc32c(0, blob, len - 4));
}

/*
 * Build a model of cfg (tags: item j has j % 3 tags, ids 100 + 7 j) with
 * parameters set to distinct bit patterns, and write its blob.
 */
static void
fixture_make(fixture *f, const nn_config *cfg)
{
	int32_t		n = cfg->n_items;
	int32_t    *ptr = calloc((size_t) n + 2, sizeof(int32_t));
	int32_t    *idx = calloc((size_t) 3 * n + 1, sizeof(int32_t));
	int64_t    *ids = calloc((size_t) n + 1, sizeof(int64_t));
	nn_model	v;
	nn_error	err;
	int32_t		j;
	int32_t		k;
	size_t		i;

	for (j = 0; j <= n; j++)
	{
		ptr[j + 1] = ptr[j];
		for (k = 0; cfg->n_tags > 0 && j > 0 && k < j % 3; k++)
			idx[ptr[j + 1]++] = 1 + (j + k) % cfg->n_tags;
		ids[j] = j == 0 ? 0 : 100 + 7 * (int64_t) j;
	}
	if (nn_model_create(&f->m, cfg, ptr, idx, ids, 42, &nn_malloc_allocator, &err) != NN_OK)
	{
		printf("Bail out! nn_model_create: %s\n", err.msg);
		exit(255);
	}
	for (i = 0; i < f->m.n_params; i++)
	{
		uint32_t	bits = (uint32_t) (i * 2654435761u) & 0xBF7FFFFFu;	/* finite, varied */

		memcpy(&f->m.params[i], &bits, 4);
	}
	f->len = nn_weights_size(&f->m);
	f->blob = aligned_copy("", 0, f->len);
	if (f->len == 0 || nn_weights_write(&f->m, f->blob, f->len, &err) != NN_OK ||
		nn_weights_view(f->blob, f->len, &v, &err) != NN_OK)
	{
		printf("Bail out! nn_weights_write or _view: %s\n", err.msg);
		exit(255);
	}
	f->off_idx = (size_t) ((const unsigned char *) v.item_tag_idx - f->blob);
	f->off_ids = (size_t) ((const unsigned char *) v.item_ids - f->blob);
	f->off_params = (size_t) ((unsigned char *) v.params - f->blob);
	free(ptr);
	free(idx);
	free(ids);
}

static void
fixture_free(fixture *f)
{
	nn_model_free(&f->m);
	free(f->blob);
}

/* CRC32C: the standard vector, incremental use, and the tables vs bitwise */
static void
test_crc32c(void)
{
	unsigned char buf[300];
	size_t		i;
	size_t		off;
	size_t		len;
	int			bad = 0;

	tap_ok(nn_crc32c(0, "123456789", 9) == 0xE3069283u, "crc32c(\"123456789\") = E3069283");
	tap_ok(nn_crc32c(0, "", 0) == 0, "crc32c of nothing is 0");
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char) (i * 131 + 7);
	for (off = 0; off < 8; off++)
		for (len = 0; len + off <= 80; len++)
			bad += nn_crc32c(0, buf + off, len) != crc32c_bitwise(0, buf + off, len);
	bad += nn_crc32c(0, buf, sizeof(buf)) != crc32c_bitwise(0, buf, sizeof(buf));
	tap_ok(bad == 0, "crc32c matches the bitwise reference at every offset and length (%d bad)", bad);
	for (i = 0; i <= sizeof(buf); i++)
		bad += nn_crc32c(nn_crc32c(0, buf, i), buf + i, sizeof(buf) - i) != nn_crc32c(0, buf, sizeof(buf));
	tap_ok(bad == 0, "crc32c continues across every split point (%d bad)", bad);
}

/* true when view v of blob has exactly m's arrays, bit for bit */
static int
same_model(const nn_model *v, const nn_model *m)
{
	int32_t		n = m->cfg.n_items;
	int			l;
	int			same;

	same = memcmp(&v->cfg, &m->cfg, sizeof(nn_config)) == 0 &&
		v->in_dim == m->in_dim && v->n_params == m->n_params &&
		memcmp(v->params, m->params, m->n_params * sizeof(float)) == 0 &&
		memcmp(v->item_tag_ptr, m->item_tag_ptr, ((size_t) n + 2) * sizeof(int32_t)) == 0 &&
		(m->item_tag_ptr[n + 1] == 0 ||
		 memcmp(v->item_tag_idx, m->item_tag_idx, (size_t) m->item_tag_ptr[n + 1] * sizeof(int32_t)) == 0) &&
		memcmp(v->item_ids, m->item_ids, ((size_t) n + 1) * sizeof(int64_t)) == 0 &&
		(v->user_ids == NULL) == (m->user_ids == NULL) &&
		(m->user_ids == NULL ||
		 memcmp(v->user_ids, m->user_ids, ((size_t) m->cfg.n_users + 1) * sizeof(int64_t)) == 0);
	same = same && v->item_emb - v->params == m->item_emb - m->params &&
		v->tag_emb - v->params == m->tag_emb - m->params &&
		(v->utag_emb == NULL) == (m->utag_emb == NULL) &&
		(v->user_emb == NULL) == (m->user_emb == NULL) &&
		(m->utag_emb == NULL || v->utag_emb - v->params == m->utag_emb - m->params) &&
		(m->user_emb == NULL || v->user_emb - v->params == m->user_emb - m->params) &&
		v->proj - v->params == m->proj - m->params &&
		v->item_bias - v->params == m->item_bias - m->params;
	for (l = 0; l < m->cfg.layers; l++)
		same = same && v->w_ih[l] - v->params == m->w_ih[l] - m->params &&
			v->w_hh[l] - v->params == m->w_hh[l] - m->params &&
			v->b_ih[l] - v->params == m->b_ih[l] - m->params &&
			v->b_hh[l] - v->params == m->b_hh[l] - m->params;
	return same;
}

/* true when every array pointer of v lies in [blob, blob + len) */
static int
points_into(const nn_model *v, const unsigned char *blob, size_t len)
{
	const unsigned char *lo = (const unsigned char *) v->params;
	const unsigned char *hi = (const unsigned char *) (v->params + v->n_params);

	return lo >= blob && hi <= blob + len &&
		(const unsigned char *) v->item_tag_ptr >= blob &&
		(const unsigned char *) v->item_ids >= blob &&
		(const unsigned char *) (v->item_ids + v->cfg.n_items + 1) <= lo;
}

/* write, view, compare; rewrite the view and compare the bytes */
static void
test_round_trip(const nn_config *cfg, const char *name)
{
	fixture		f;
	nn_model	v;
	nn_error	err;
	unsigned char *again;
	int			rc;

	fixture_make(&f, cfg);
	rc = nn_weights_view(f.blob, f.len, &v, &err);
	tap_ok(rc == NN_OK, "%s: view of a written blob succeeds (%s)", name, rc ? err.msg : "ok");
	if (rc != NN_OK)
	{
		fixture_free(&f);
		return;
	}
	tap_ok(f.len % 4 == 0 && f.len > (size_t) OFF_TAG_PTR, "%s: blob size %zu", name, f.len);
	tap_ok(same_model(&v, &f.m), "%s: view has the config, views and arrays bit-exactly", name);
	tap_ok(v.owned == NULL && points_into(&v, f.blob, f.len),
		   "%s: view owns nothing and points into the blob", name);
	tap_ok((uintptr_t) v.item_tag_ptr % 64 == 0 && (uintptr_t) v.item_tag_idx % 64 == 0 &&
		   (uintptr_t) v.item_ids % 64 == 0 && (uintptr_t) v.params % 64 == 0,
		   "%s: arrays are 64-byte aligned", name);
	tap_ok(nn_weights_size(&v) == f.len, "%s: the view's size is the blob's", name);
	again = aligned_copy(f.blob, f.len, 0);
	memset(again, 0xA5, f.len);
	tap_ok(nn_weights_write(&v, again, f.len, &err) == NN_OK &&
		   memcmp(again, f.blob, f.len) == 0, "%s: rewriting the view gives the same bytes", name);
	tap_ok(nn_weights_write(&f.m, again, f.len - 1, &err) == NN_EINVAL,
		   "%s: write into a short buffer is NN_EINVAL", name);
	free(again);
	fixture_free(&f);
}

/*
 * View a copy of blob (len bytes, at shift bytes past 64-byte alignment) and
 * check it fails with code and a message containing what.
 */
static int
rejects_at(const unsigned char *blob, size_t len, size_t shift, int code, const char *what)
{
	unsigned char *copy = aligned_copy(blob, len, shift);
	nn_model	v;
	nn_error	err;
	int			rc;

	err.msg[0] = '\0';
	rc = nn_weights_view(copy + shift, len, &v, &err);
	free(copy);
	if (rc != code || err.code != code || strstr(err.msg, what) == NULL)
	{
		printf("# got code %d \"%s\", want code %d \"...%s...\"\n", rc, err.msg, code, what);
		return 0;
	}
	return 1;
}

static int
rejects(const unsigned char *blob, size_t len, int code, const char *what)
{
	return rejects_at(blob, len, 0, code, what);
}

/*
 * Apply edit to a copy of f's blob, optionally reseal its CRC, and check the
 * view fails with code and message what.
 */
typedef void (*edit_fn) (unsigned char *blob, uint64_t arg);

static void
check_edit(const fixture *f, edit_fn edit, uint64_t arg, int seal, int code,
		   const char *what, const char *name)
{
	unsigned char *b = aligned_copy(f->blob, f->len, 0);

	edit(b, arg);
	if (seal)
		reseal(b, f->len);
	tap_ok(rejects(b, f->len, code, what), "%s rejected (%s)", name, what);
	free(b);
}

/* edits: arg packs an offset (low 32 bits) and a value (high 32 bits) */
static void
edit_put32(unsigned char *b, uint64_t arg)
{
	put32(b + (uint32_t) arg, (uint32_t) (arg >> 32));
}

static void
edit_flip(unsigned char *b, uint64_t off)
{
	b[off] ^= 0x01;
}

static void
edit_add64(unsigned char *b, uint64_t off_delta)
{
	size_t		off = (uint32_t) off_delta;

	put64(b + off, get64(b + off) + (off_delta >> 32));
}

/* n_items at its largest and dim set to arg */
static void
edit_huge(unsigned char *b, uint64_t dim)
{
	put32(b + OFF_N_ITEMS, INT32_MAX - 2);
	put32(b + OFF_DIM, (uint32_t) dim);
}

#define AT(off, val) ((uint64_t) (uint32_t) (off) | (uint64_t) (uint32_t) (val) << 32)

/* header fields: magic, version, sizes, every dimension's range */
static void
test_header(const fixture *f)
{
	float		nan = NAN;
	float		inf = INFINITY;
	uint32_t	nan_bits;
	uint32_t	inf_bits;
	unsigned char *b = aligned_copy(f->blob, f->len, 0);

	memcpy(&nan_bits, &nan, 4);
	memcpy(&inf_bits, &inf, 4);
	b[7] = '2';
	tap_ok(rejects(b, f->len, NN_ECORRUPT, "bad magic"), "wrong magic rejected");
	tap_ok(rejects(b, 3, NN_ECORRUPT, "truncated"), "3 bytes rejected as truncated");
	free(b);
	check_edit(f, edit_put32, AT(OFF_VERSION, 3), 1, NN_EVERSION, "version 3", "version 3");
	check_edit(f, edit_put32, AT(OFF_VERSION, 2), 1, NN_ECORRUPT, "without user rows",
			   "version 2 without users");
	check_edit(f, edit_put32, AT(OFF_VERSION, 0), 1, NN_EVERSION, "version 0", "version 0");
	check_edit(f, edit_put32, AT(OFF_HDRSIZE, 84), 1, NN_ECORRUPT, "header size", "header size 84");
	check_edit(f, edit_put32, AT(OFF_N_ITEMS, 0), 1, NN_ECORRUPT, "n_items", "n_items 0");
	check_edit(f, edit_put32, AT(OFF_N_ITEMS, -1), 1, NN_ECORRUPT, "n_items", "n_items -1");
	check_edit(f, edit_put32, AT(OFF_N_ITEMS, INT32_MAX), 1, NN_ECORRUPT, "n_items", "n_items INT32_MAX");
	check_edit(f, edit_put32, AT(OFF_N_TAGS, -1), 1, NN_ECORRUPT, "n_tags,", "n_tags -1");
	check_edit(f, edit_put32, AT(OFF_N_UTAGS, -3), 1, NN_ECORRUPT, "n_user_tags", "n_user_tags -3");
	check_edit(f, edit_put32, AT(OFF_N_USERS, INT32_MIN), 1, NN_ECORRUPT, "n_users", "n_users INT32_MIN");
	check_edit(f, edit_put32, AT(OFF_DIM, 0), 1, NN_ECORRUPT, "dim and hidden", "dim 0");
	check_edit(f, edit_put32, AT(OFF_HIDDEN, -2), 1, NN_ECORRUPT, "dim and hidden", "hidden -2");
	check_edit(f, edit_put32, AT(OFF_LAYERS, 0), 1, NN_ECORRUPT, "layers", "layers 0");
	check_edit(f, edit_put32, AT(OFF_LAYERS, NN_MAX_LAYERS + 1), 1, NN_ECORRUPT, "layers", "layers 9");
	check_edit(f, edit_put32, AT(OFF_MAXLEN, 0), 1, NN_ECORRUPT, "maxlen", "maxlen 0");
	check_edit(f, edit_put32, AT(OFF_RMIN, nan_bits), 1, NN_ECORRUPT, "finite interval", "rating_min NaN");
	check_edit(f, edit_put32, AT(OFF_RMAX, inf_bits), 1, NN_ECORRUPT, "finite interval", "rating_max inf");
	check_edit(f, edit_put32, AT(OFF_RMIN, 0x41300000), 1, NN_ECORRUPT, "[11, 10] is not", "rating_min 11 > max 10");
	check_edit(f, edit_put32, AT(OFF_HIDDEN, INT32_MAX), 1, NN_ECORRUPT, "dim and hidden", "hidden INT32_MAX");
	check_edit(f, edit_huge, 65536, 1, NN_ECORRUPT, "n_params", "largest n_items and dim");
	check_edit(f, edit_put32, AT(OFF_DIM, f->m.cfg.dim + 1), 1, NN_ECORRUPT, "n_params", "dim + 1");
	check_edit(f, edit_put32, AT(OFF_LAYERS, f->m.cfg.layers + 1), 1, NN_ECORRUPT, "n_params", "layers + 1");
	check_edit(f, edit_put32, AT(OFF_N_USERS, 1), 1, NN_ECORRUPT, "n_params", "n_users 0 -> 1");
	check_edit(f, edit_add64, AT(OFF_N_PARAMS, 1), 1, NN_ECORRUPT, "n_params", "n_params + 1");
	check_edit(f, edit_add64, AT(OFF_TOTAL, 4), 1, NN_ECORRUPT, "total size", "total size + 4");
	check_edit(f, edit_add64, AT(OFF_N_TAG_IDX, 64), 1, NN_ECORRUPT, "total size", "n_tag_idx + 64");
	check_edit(f, edit_add64, AT(OFF_N_TAG_IDX, 1), 1, NN_ECORRUPT, "item_tag_ptr[N+1]", "n_tag_idx + 1");
	check_edit(f, edit_add64, AT(OFF_N_TAG_IDX, (uint64_t) 1 << 31), 1, NN_ECORRUPT, "exceeds", "n_tag_idx 2^31");
	check_edit(f, edit_put32, AT(HEADER_SIZE + 5, 1), 1, NN_ECORRUPT, "padding", "non-zero header padding");
}

/* the tag CSR, the tag indices and the item ids */
static void
test_arrays(const fixture *f)
{
	size_t		ptr = OFF_TAG_PTR;
	size_t		idx = f->off_idx;
	size_t		ids = f->off_ids;
	int32_t		n = f->m.cfg.n_items;
	int32_t		count = f->m.item_tag_ptr[n + 1];

	check_edit(f, edit_put32, AT(ptr, 1), 1, NN_ECORRUPT, "item_tag_ptr[0]", "tag ptr[0] = 1");
	check_edit(f, edit_put32, AT(ptr + 4 * 3, f->m.item_tag_ptr[2] - 1), 1, NN_ECORRUPT,
			   "decreases at 3", "tag ptr decreasing");
	check_edit(f, edit_put32, AT(ptr + 4 * (n + 1), count + 1), 1, NN_ECORRUPT,
			   "item_tag_ptr[N+1]", "tag ptr[N+1] != count");
	check_edit(f, edit_put32, AT(ptr + 4 * (n + 2), 7), 1, NN_ECORRUPT, "padding", "non-zero after tag ptr");
	check_edit(f, edit_put32, AT(idx, 0), 1, NN_ECORRUPT, "item_tag_idx[0] = 0", "tag index 0");
	check_edit(f, edit_put32, AT(idx + 4, f->m.cfg.n_tags + 1), 1, NN_ECORRUPT,
			   "item_tag_idx[1]", "tag index G+1");
	check_edit(f, edit_put32, AT(idx + 4 * (count - 1), -4), 1, NN_ECORRUPT,
			   "outside 1..", "last tag index negative");
	check_edit(f, edit_put32, AT(idx + 4 * count, 1), 1, NN_ECORRUPT, "padding", "non-zero after tag idx");
	check_edit(f, edit_put32, AT(ids, 5), 1, NN_ECORRUPT, "item_ids[0]", "item id 0 not 0");
	check_edit(f, edit_put32, AT(ids + 8 * 3, f->m.item_ids[2]), 1, NN_ECORRUPT,
			   "strictly ascending at 3", "item id repeated");
	check_edit(f, edit_put32, AT(ids + 8 * n, 0), 1, NN_ECORRUPT,
			   "strictly ascending at", "last item id descending");
	check_edit(f, edit_put32, AT(ids + 8 * (n + 1), 1), 1, NN_ECORRUPT, "padding", "non-zero after item ids");
}

/* the version of a blob */
static uint32_t
blob_version(const unsigned char *blob)
{
	uint32_t	v;

	memcpy(&v, blob + OFF_VERSION, 4);
	return v;
}

/*
 * User ids (format version 2): a model with user rows is written with its
 * users' external ids and found by nn_user_index; one without user ids is
 * version 1 (the 0.2.0 bytes); every corruption of the ids is rejected.
 */
static void
test_user_ids(void)
{
	nn_config	cfg = {.n_items = 5, .n_tags = 2, .n_users = 3, .dim = 2, .hidden = 3,
	.layers = 1, .maxlen = 4, .rating_min = 1.0f, .rating_max = 5.0f};
	const int64_t ids[3] = {-7, 9, 40};
	const int64_t bad_ids[3] = {5, 5, 6};
	fixture		f;
	nn_model	v,
				m;
	nn_error	err;
	unsigned char *b;
	size_t		off_uids,
				len;
	int			rc;

	fixture_make(&f, &cfg);
	tap_ok(blob_version(f.blob) == 2 && f.m.user_ids[1] == 1 && f.m.user_ids[3] == 3,
		   "a created model with users has ids 1..U and is written as version 2");
	tap_ok(nn_model_set_user_ids(&f.m, bad_ids, &err) == NN_EINVAL && strstr(err.msg, "ascending") &&
		   f.m.user_ids[1] == 1, "non-ascending user ids are refused and change nothing");
	rc = nn_model_set_user_ids(&f.m, ids, &err);
	len = nn_weights_size(&f.m);
	b = aligned_copy("", 0, len);
	tap_ok(rc == NN_OK && len == f.len && nn_weights_write(&f.m, b, len, &err) == NN_OK &&
		   nn_weights_view(b, len, &v, &err) == NN_OK && same_model(&v, &f.m),
		   "user ids round-trip through the blob");
	tap_ok(nn_user_index(&v, -7) == 1 && nn_user_index(&v, 9) == 2 && nn_user_index(&v, 40) == 3 &&
		   nn_user_index(&v, 10) == 0 && nn_user_index(&v, 0) == 0,
		   "nn_user_index finds each user's row, 0 for others");
	off_uids = (size_t) ((const unsigned char *) v.user_ids - b);
	tap_ok(off_uids % 64 == 0 && off_uids > f.off_ids && off_uids < f.off_params,
		   "user ids lie 64-byte aligned between item ids and params");
	free(f.blob);
	f.blob = b;
	check_edit(&f, edit_put32, AT(off_uids, 3), 1, NN_ECORRUPT, "user_ids[0]", "user id 0 not 0");
	check_edit(&f, edit_put32, AT(off_uids + 8 * 3, 9), 1, NN_ECORRUPT,
			   "user_ids not strictly ascending at 3", "user id repeated");
	check_edit(&f, edit_put32, AT(off_uids + 8 * 4, 1), 1, NN_ECORRUPT, "padding", "non-zero after user ids");
	check_edit(&f, edit_put32, AT(OFF_VERSION, 1), 1, NN_ECORRUPT, "total size", "version 2 blob read as 1");
	check_edit(&f, edit_flip, off_uids + 8, 0, NN_ECORRUPT, "checksum", "flip in user ids");

	/* user rows without ids (as version 1 allowed) stay version 1, rewritten byte for byte */
	m = f.m;
	m.user_ids = NULL;
	len = nn_weights_size(&m);
	b = aligned_copy("", 0, len);
	rc = nn_weights_write(&m, b, len, &err) == NN_OK && nn_weights_view(b, len, &v, &err) == NN_OK;
	tap_ok(rc && blob_version(b) == 1 && len < f.len && v.user_ids == NULL &&
		   nn_user_index(&v, 9) == 0 && nn_weights_size(&v) == len,
		   "user rows without ids are written as version 1 and know no user");
	free(b);
	m = f.m;
	m.cfg.n_users = 0;
	tap_ok(nn_weights_write(&m, f.blob, f.len, &err) == NN_EINVAL && strstr(err.msg, "no user rows"),
		   "user ids without user rows are not written");
	m.user_ids = NULL;
	m.owned = NULL;
	tap_ok(nn_model_set_user_ids(&m, ids, &err) == NN_EINVAL, "a view or a model without users takes no ids");
	fixture_free(&f);
}

/* one flipped bit in each region fails the checksum; so does any flip */
static void
test_checksum(const fixture *f)
{
	size_t		params = f->off_params;
	unsigned char *b;
	size_t		i;
	int			bad = 0;

	check_edit(f, edit_flip, OFF_MAXLEN, 0, NN_ECORRUPT, "checksum", "flip in header");
	check_edit(f, edit_flip, OFF_TAG_PTR + 8, 0, NN_ECORRUPT, "checksum", "flip in tag ptr");
	check_edit(f, edit_flip, f->off_idx, 0, NN_ECORRUPT, "checksum", "flip in tag idx");
	check_edit(f, edit_flip, f->off_ids + 8, 0, NN_ECORRUPT, "checksum", "flip in ids");
	check_edit(f, edit_flip, params + 4 * (f->m.n_params / 2), 0, NN_ECORRUPT, "checksum", "flip in params");
	check_edit(f, edit_flip, f->len - 1, 0, NN_ECORRUPT, "checksum", "flip in crc");
	b = aligned_copy(f->blob, f->len, 0);
	for (i = 0; i < f->len; i++)
	{
		nn_model	v;

		b[i] ^= 0x80;
		bad += nn_weights_view(b, f->len, &v, NULL) == NN_OK;
		b[i] ^= 0x80;
	}
	free(b);
	tap_ok(bad == 0, "every single-byte flip of the %zu bytes rejected (%d accepted)", f->len, bad);
}

/* every truncation, appended bytes, misalignment, NULL arguments */
static void
test_lengths(const fixture *f)
{
	unsigned char *b = calloc(f->len + 64, 1);	/* the blob, then zeros */
	nn_model	v;
	size_t		len;
	int			bad = 0;

	memcpy(b, f->blob, f->len);
	for (len = 0; len < f->len; len++)
		bad += !rejects(f->blob, len, NN_ECORRUPT, "truncated");
	tap_ok(bad == 0, "truncation at each of the %zu lengths rejected (%d wrong)", f->len, bad);
	tap_ok(rejects(b, f->len + 1, NN_ECORRUPT, "1 trailing bytes"), "1 appended byte rejected");
	tap_ok(rejects(b, f->len + 64, NN_ECORRUPT, "64 trailing bytes"), "64 appended bytes rejected");
	tap_ok(rejects_at(f->blob, f->len, 1, NN_EINVAL, "aligned"), "blob at +1 rejected as misaligned");
	tap_ok(rejects_at(f->blob, f->len, 8, NN_EINVAL, "aligned"), "blob at +8 rejected as misaligned");
	tap_ok(rejects_at(f->blob, f->len, 32, NN_EINVAL, "aligned"), "blob at +32 rejected as misaligned");
	tap_ok(nn_weights_view(NULL, f->len, &v, NULL) == NN_EINVAL &&
		   nn_weights_view(f->blob, f->len, NULL, NULL) == NN_EINVAL, "NULL blob or model is NN_EINVAL");
	free(b);
}

/* writing an inconsistent model is refused */
static void
test_write_invalid(const fixture *f)
{
	nn_model	m = f->m;
	int32_t		ptr[64];
	unsigned char *buf = aligned_copy(f->blob, f->len, 0);
	nn_error	err;

	m.n_params = f->m.n_params + 1;
	tap_ok(nn_weights_write(&m, buf, f->len, &err) == NN_EINVAL && nn_weights_size(&m) == 0,
		   "model with a wrong n_params is not written");
	m = f->m;
	m.cfg.layers = 0;
	tap_ok(nn_weights_write(&m, buf, f->len, &err) == NN_EINVAL, "model with 0 layers is not written");
	m = f->m;
	memcpy(ptr, f->m.item_tag_ptr, ((size_t) m.cfg.n_items + 2) * sizeof(int32_t));
	ptr[0] = 1;
	m.item_tag_ptr = ptr;
	tap_ok(nn_weights_write(&m, buf, f->len, &err) == NN_EINVAL, "model with a bad tag CSR is not written");
	free(buf);
}

int
main(void)
{
	nn_config	small = {.n_items = 9, .n_tags = 4, .dim = 4, .hidden = 6, .layers = 1,
	.maxlen = 5, .rating_min = 1.0f, .rating_max = 10.0f};
	nn_config	full = {.n_items = 13, .n_tags = 0, .n_user_tags = 5, .n_users = 3, .dim = 3,
	.hidden = 5, .layers = 3, .maxlen = 7, .rating_min = -2.5f, .rating_max = 2.5f};
	nn_config	deep = {.n_items = 1, .n_tags = 2, .n_users = 2, .dim = 2, .hidden = 2,
	.layers = NN_MAX_LAYERS, .maxlen = 1, .rating_min = 3.0f, .rating_max = 3.0f};
	fixture		f;

	test_crc32c();
	test_round_trip(&small, "item tags only");
	test_round_trip(&full, "no item tags, user tags and users, 3 layers");
	test_round_trip(&deep, "one item, 8 layers, empty rating range");
	test_user_ids();
	fixture_make(&f, &small);
	tap_ok(blob_version(f.blob) == 1, "a model without users is written as version 1");
	test_header(&f);
	test_arrays(&f);
	test_checksum(&f);
	test_lengths(&f);
	test_write_invalid(&f);
	fixture_free(&f);
	return tap_done();
}
