/*
 * export.c — the model export envelope: one weight file (format.c) with the
 * registry metadata of its version, as animerec.export_model() returns it
 * and animerec.import_model() takes it (src/transfer.c).
 *
 * Format version 1.  Integers little-endian; offsets in bytes.
 *
 *   offset     size  field
 *        0        8  magic "ANRECEX1"
 *        8        4  uint32  format version = 1
 *       12        4  uint32  M: bytes of metadata
 *       16        8  uint64  W: bytes of the weight file
 *       24        M  metadata: JSON text, UTF-8
 *   24 + M        W  the weight file (its own magic, layout and CRC32C)
 *   24 + M + W    4  uint32  CRC32C of every byte before it
 *
 * The envelope's checksum covers the metadata and the header; the weight
 * file inside keeps its own, so a shard can tell which weights it holds by
 * their checksum alone.  Reading checks the magic, version, lengths and
 * checksum; the weight file itself is validated by nn_weights_view.
 */
#include "nn_internal.h"

#define EX_MAGIC		"ANRECEX1"
#define EX_VERSION		1
#define EX_HEADER		24
#define EX_CRC			4

/* See nn.h. */
size_t
nn_export_size(size_t meta_len, size_t weights_len)
{
	size_t		total = EX_HEADER + EX_CRC;

	if (meta_len > UINT32_MAX || weights_len > SIZE_MAX - total - meta_len)
		return 0;
	return total + meta_len + weights_len;
}

/* See nn.h. */
int
nn_export_write(const char *meta, size_t meta_len, const void *weights, size_t weights_len,
				void *buf, size_t len, nn_error *err)
{
	unsigned char *p = buf;
	size_t		need = nn_export_size(meta_len, weights_len);

	if (need == 0)
		return nn_fail(err, NN_EINVAL, "metadata of %zu bytes and weights of %zu bytes are too large",
					   meta_len, weights_len);
	if (len != need)
		return nn_fail(err, NN_EINVAL, "export buffer of %zu bytes, %zu needed", len, need);
	memcpy(p, EX_MAGIC, 8);
	nn_put_le32(p + 8, EX_VERSION);
	nn_put_le32(p + 12, (uint32_t) meta_len);
	nn_put_le64(p + 16, (uint64_t) weights_len);
	memcpy(p + EX_HEADER, meta, meta_len);
	memcpy(p + EX_HEADER + meta_len, weights, weights_len);
	nn_put_le32(p + need - EX_CRC, nn_crc32c(0, p, need - EX_CRC));
	return NN_OK;
}

/* See nn.h. */
int
nn_export_read(const void *buf, size_t len, nn_export_parts *out, nn_error *err)
{
	const unsigned char *p = buf;
	uint32_t	version;
	uint64_t	meta_len, weights_len;

	if (len < 8 || memcmp(p, EX_MAGIC, 8) != 0)
		return nn_fail(err, NN_EMAGIC, "not an animerec model export (no \"%s\" magic)", EX_MAGIC);
	if (len < EX_HEADER + EX_CRC)
		return nn_fail(err, NN_ECORRUPT, "truncated: %zu bytes, the header and checksum alone have %d",
					   len, EX_HEADER + EX_CRC);
	version = nn_get_le32(p + 8);
	if (version != EX_VERSION)
		return nn_fail(err, NN_EVERSION, "unknown export format version %u (this build reads %d)",
					   (unsigned) version, EX_VERSION);
	meta_len = nn_get_le32(p + 12);
	weights_len = nn_get_le64(p + 16);
	if (weights_len > len)
		return nn_fail(err, NN_ECORRUPT, "%zu bytes, but the header announces %llu bytes of weights",
					   len, (unsigned long long) weights_len);
	if (meta_len + weights_len != (uint64_t) (len - EX_HEADER - EX_CRC))
		return nn_fail(err, NN_ECORRUPT,
					   "%zu bytes, but the header announces %llu of metadata and %llu of weights (%llu in all)",
					   len, (unsigned long long) meta_len, (unsigned long long) weights_len,
					   (unsigned long long) (meta_len + weights_len + EX_HEADER + EX_CRC));
	if (nn_crc_check(p, len - EX_CRC, err) != NN_OK)
		return NN_ECORRUPT;
	out->meta = (const char *) p + EX_HEADER;
	out->meta_len = (size_t) meta_len;
	out->weights = p + EX_HEADER + meta_len;
	out->weights_len = (size_t) weights_len;
	return NN_OK;
}
