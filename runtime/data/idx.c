/* data/idx.c - IDX reader (the MNIST format), plain or gzip-compressed, with exact size checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/io_internal.h"
#include "torchlean/io.h"

/* Deflate cannot compress better than about 1032:1, so a gzip stream of n bytes inflates to at
 * most ~1032 n bytes; anything claiming more is corrupt.  This bounds every allocation by the
 * input size, whatever the (decompressed) header says. */
#define IDX_GZ_MAX_RATIO 1032u

static tl_code idx_type(unsigned code, tl_dtype *dt) {
  switch (code) {
  case 0x08: *dt = TL_U8; return TL_OK;
  case 0x09: *dt = TL_I8; return TL_OK;
  case 0x0B: *dt = TL_I16; return TL_OK;
  case 0x0C: *dt = TL_I32; return TL_OK;
  case 0x0D: *dt = TL_F32; return TL_OK;
  case 0x0E: *dt = TL_F64; return TL_OK;
  default: return TL_EFORMAT;
  }
}

/* Parse a plain IDX image.  `where` is "" for plain files and " (decompressed)" for gzip, so a
 * byte offset in a message says which stream it counts in. */
static tl_code idx_parse(const unsigned char *b, size_t len, const char *name, const char *where,
                         tl_tensor **out, tl_status *st) {
  if (len < 4)
    return tl_fail(st, TL_EFORMAT, "%s: byte %zu%s: file ends inside the 4-byte IDX magic", name, len, where);
  if (b[0] != 0 || b[1] != 0)
    return tl_fail(st, TL_EFORMAT, "%s: byte 0%s: bad magic %02x %02x (an IDX file starts with 00 00)", name,
                   where, b[0], b[1]);
  tl_dtype dt;
  if (idx_type(b[2], &dt) != TL_OK)
    return tl_fail(st, TL_EFORMAT, "%s: byte 2%s: unknown IDX element type 0x%02x", name, where, b[2]);
  int ndim = b[3];
  size_t hdr = 4 + 4 * (size_t)ndim;
  if (len < hdr)
    return tl_fail(st, TL_EFORMAT, "%s: byte %zu%s: file ends inside the %d dimension sizes", name, len,
                   where, ndim);
  int64_t dims[255];
  for (int i = 0; i < ndim; i++)
    dims[i] = (int64_t)tl_io_load_be32(b + 4 + 4 * (size_t)i);
  char what[512];
  snprintf(what, sizeof what, "%s: byte 4%s: shape", name, where);
  int64_t numel;
  size_t size = tl_dtype_size(dt);
  TL_TRY(tl_shape_numel(ndim, dims, size, &numel, what, st));
  uint64_t want = (uint64_t)numel * size, have = len - hdr;
  if (have != want)
    return tl_fail(st, TL_EFORMAT, "%s: byte %zu%s: payload is %llu bytes, the header promises %llu (%s)",
                   name, hdr, where, (unsigned long long)have, (unsigned long long)want,
                   have < want ? "file truncated" : "trailing bytes");
  tl_tensor *t;
  if (tl_tensor_new(&t, dt, ndim, dims, st) != TL_OK)
    return tl_status_prefix(st, "%s: ", name);
  if (want)
    memcpy(t->data, b + hdr, (size_t)want);
  if (tl_io_host_little())
    tl_io_swap_bytes(t->data, (size_t)numel, size);
  *out = t;
  return TL_OK;
}

/* the inflate buffer doubled (at most to limit, which no valid file reaches) */
static tl_code gz_grow(unsigned char **buf, size_t *cap, size_t limit, const char *name, tl_status *st) {
  if (*cap >= limit)
    return tl_fail(st, TL_EFORMAT, "%s: gzip data inflates beyond %zu bytes: corrupt or a decompression bomb",
                   name, limit);
  size_t nc = *cap > limit / 2 ? limit : *cap * 2;
  unsigned char *nb = realloc(*buf, nc);
  if (!nb)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory inflating %zu bytes", name, nc);
  *buf = nb;
  *cap = nc;
  return TL_OK;
}

/* an inflate result other than Z_STREAM_END: TL_OK to go on, or why the stream is bad */
static tl_code gz_check(int zrc, const z_stream *zs, size_t in_off, size_t len, int room, const char *name,
                        tl_status *st) {
  if (zrc == Z_DATA_ERROR || zrc == Z_NEED_DICT)
    return tl_fail(st, TL_EFORMAT, "%s: byte %zu: corrupt gzip data (%s)", name, in_off,
                   zs->msg ? zs->msg : "invalid stream");
  if (zrc == Z_MEM_ERROR)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory in zlib", name);
  if (zrc == Z_BUF_ERROR || zrc == Z_OK) {
    if (in_off == len && room) /* all input used, room left, and still no end */
      return tl_fail(st, TL_EFORMAT,
                     "%s: byte %zu: gzip stream truncated (the file ends before the stream does)", name, len);
    return TL_OK;
  }
  return tl_fail(st, TL_EFORMAT, "%s: byte %zu: zlib error %d", name, in_off, zrc);
}

/* Inflate a whole gzip member into a malloc'ed buffer (*dst, *dst_len); the caller frees it. */
static tl_code gunzip(const unsigned char *src, size_t len, const char *name, unsigned char **dst,
                      size_t *dst_len, tl_status *st) {
  *dst = NULL;
  *dst_len = 0;
  size_t limit = len > SIZE_MAX / IDX_GZ_MAX_RATIO - 1024 ? SIZE_MAX / 2 : len * IDX_GZ_MAX_RATIO + 1024;
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 32) != Z_OK) /* 15: 32 KiB window; +32: detect gzip or zlib headers */
    return tl_fail(st, TL_ENOMEM, "%s: cannot initialise zlib", name);
  size_t cap = len < 4096 ? 8192 : len * 4, n = 0;
  if (cap > limit)
    cap = limit;
  unsigned char *buf = malloc(cap);
  tl_code rc = TL_OK;
  if (!buf) {
    rc = tl_fail(st, TL_ENOMEM, "%s: out of memory", name);
    goto done;
  }
  size_t in_off = 0;
  int zrc = Z_OK;
  while (zrc != Z_STREAM_END) {
    if (n == cap && (rc = gz_grow(&buf, &cap, limit, name, st)) != TL_OK)
      goto done;
    /* zlib counts in uInt: feed at most 1 GiB per call */
    size_t in_chunk = len - in_off < ((size_t)1 << 30) ? len - in_off : (size_t)1 << 30;
    size_t out_chunk = cap - n < ((size_t)1 << 30) ? cap - n : (size_t)1 << 30;
    zs.next_in = (Bytef *)(uintptr_t)(src + in_off); /* zlib does not write through next_in */
    zs.avail_in = (uInt)in_chunk;
    zs.next_out = buf + n;
    zs.avail_out = (uInt)out_chunk;
    zrc = inflate(&zs, Z_NO_FLUSH);
    in_off += in_chunk - zs.avail_in;
    n += out_chunk - zs.avail_out;
    if (zrc == Z_STREAM_END)
      break;
    if ((rc = gz_check(zrc, &zs, in_off, len, n < cap, name, st)) != TL_OK)
      goto done;
  }
  if (in_off != len) {
    rc = tl_fail(st, TL_EFORMAT, "%s: byte %zu: %zu bytes of trailing data after the gzip stream", name,
                 in_off, len - in_off);
    goto done;
  }
done:
  inflateEnd(&zs);
  if (rc != TL_OK) {
    free(buf);
    return rc;
  }
  *dst = buf;
  *dst_len = n;
  return TL_OK;
}

tl_code tl_idx_read_mem(const void *buf, size_t len, const char *name, tl_tensor **out, tl_status *st) {
  *out = NULL;
  const unsigned char *b = buf;
  if (!name)
    name = "<memory>";
  if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
    unsigned char *raw;
    size_t raw_len;
    TL_TRY(gunzip(b, len, name, &raw, &raw_len, st));
    tl_code rc = idx_parse(raw, raw_len, name, " (decompressed)", out, st);
    free(raw);
    return rc;
  }
  return idx_parse(b, len, name, "", out, st);
}

tl_code tl_idx_read(const char *path, tl_tensor **out, tl_status *st) {
  *out = NULL;
  void *buf;
  size_t len;
  TL_TRY(tl_read_file(path, &buf, &len, st));
  tl_code rc = tl_idx_read_mem(buf, len, path, out, st);
  free(buf);
  return rc;
}
