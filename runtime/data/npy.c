/* data/npy.c - NumPy .npy files (format versions 1, 2, 3): strict header parser, reader and writer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/io_internal.h"
#include "torchlean/io.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER ((size_t)1 << 20) /* 1 MiB: numpy itself refuses more than 10 kB by default */
#define NPY_MAX_DIM ((int64_t)1 << 62)   /* beyond this a dimension is absurd, whatever the dtype */

/* ---- dtypes ------------------------------------------------------------------------------- */

typedef struct npy_kind {
  const char *code; /* kind letter + size, as in a descr after the byte-order character */
  tl_dtype dtype;
} npy_kind;

static const npy_kind npy_kinds[] = {
    {"f2", TL_F16}, {"f4", TL_F32}, {"f8", TL_F64}, {"i1", TL_I8},  {"i2", TL_I16}, {"i4", TL_I32},
    {"i8", TL_I64}, {"u1", TL_U8},  {"u2", TL_U16}, {"u4", TL_U32}, {"u8", TL_U64}, {"b1", TL_BOOL},
};
#define NPY_NKINDS (sizeof npy_kinds / sizeof npy_kinds[0])

static const char *npy_code_of(tl_dtype dt) {
  for (size_t i = 0; i < NPY_NKINDS; i++)
    if (npy_kinds[i].dtype == dt)
      return npy_kinds[i].code;
  return NULL;
}

/* ---- header parser: a Python dict literal with exactly the keys descr, fortran_order, shape -- */

typedef struct npy_parser {
  const unsigned char *s; /* the header bytes */
  size_t n;               /* header length */
  size_t pos;             /* current index into s */
  size_t base;            /* file offset of s[0], for messages */
  const char *name;       /* file name, for messages */
  tl_status *st;
} npy_parser;

static tl_code perr(npy_parser *p, tl_code code, const char *what) {
  return tl_fail(p->st, code, "%s: byte %zu: %s", p->name, p->base + p->pos, what);
}

static void skip_ws(npy_parser *p) {
  while (p->pos < p->n &&
         (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
    p->pos++;
}

static int peek(npy_parser *p) { return p->pos < p->n ? p->s[p->pos] : -1; }

/* A Python string literal in single or double quotes, without escapes (none are valid in a
 * descr or key).  Copies at most cap-1 bytes into out; longer strings are an error. */
static tl_code parse_str(npy_parser *p, char *out, size_t cap) {
  int q = peek(p);
  if (q != '\'' && q != '"')
    return perr(p, TL_EFORMAT, "expected a quoted string");
  size_t start = ++p->pos, k = 0;
  while (p->pos < p->n && p->s[p->pos] != q) {
    unsigned char c = p->s[p->pos];
    if (c == '\\' || c == '\n' || c < 0x20 || c >= 0x7f)
      return perr(p, TL_EFORMAT, "unexpected character in a string");
    if (k + 1 >= cap) {
      p->pos = start;
      return perr(p, TL_EFORMAT, "string too long");
    }
    out[k++] = (char)c;
    p->pos++;
  }
  if (p->pos >= p->n) {
    p->pos = start - 1;
    return perr(p, TL_EFORMAT, "unterminated string");
  }
  p->pos++;
  out[k] = '\0';
  return TL_OK;
}

static int match_word(npy_parser *p, const char *w) {
  size_t n = strlen(w);
  if (p->n - p->pos < n || memcmp(p->s + p->pos, w, n) != 0)
    return 0;
  /* must not run on into an identifier: "Truex" is not True */
  if (p->pos + n < p->n) {
    unsigned char c = p->s[p->pos + n];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
      return 0;
  }
  p->pos += n;
  return 1;
}

/* A non-negative decimal integer (Python 2 files may add an 'L' suffix). */
static tl_code parse_dim(npy_parser *p, int64_t *out) {
  if (peek(p) == '-')
    return perr(p, TL_EFORMAT, "negative dimension in shape");
  if (peek(p) == '+')
    p->pos++;
  size_t start = p->pos;
  int64_t v = 0;
  while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
    int d = p->s[p->pos] - '0';
    if (v > (NPY_MAX_DIM - d) / 10) {
      p->pos = start;
      return perr(p, TL_EFORMAT, "absurd dimension in shape (more than 2^62)");
    }
    v = v * 10 + d;
    p->pos++;
  }
  if (p->pos == start)
    return perr(p, TL_EFORMAT, "expected a dimension (non-negative integer) in shape");
  if (p->pos - start > 1 && p->s[start] == '0') {
    p->pos = start;
    return perr(p, TL_EFORMAT, "dimension with a leading zero");
  }
  if (peek(p) == 'L')
    p->pos++;
  *out = v;
  return TL_OK;
}

/* shape: a tuple of integers: (), (n,), (a, b), (a, b,).  Grows *dims (owned by the caller). */
static tl_code parse_shape(npy_parser *p, int64_t **dims, int *ndim) {
  if (peek(p) != '(')
    return perr(p, TL_EFORMAT, "shape must be a tuple");
  size_t open = p->pos++;
  int n = 0, cap = 0, commas = 0;
  for (;;) {
    skip_ws(p);
    if (peek(p) == ')') {
      p->pos++;
      break;
    }
    if (n > commas) /* an element directly after another, without a comma */
      return perr(p, TL_EFORMAT, "expected ',' or ')' in shape");
    int64_t d = 0;
    TL_TRY(parse_dim(p, &d));
    if (n == cap) {
      int nc = cap ? cap * 2 : 4;
      int64_t *nd = realloc(*dims, (size_t)nc * sizeof *nd);
      if (!nd)
        return perr(p, TL_ENOMEM, "out of memory");
      *dims = nd;
      cap = nc;
    }
    (*dims)[n++] = d;
    skip_ws(p);
    if (peek(p) == ',') {
      p->pos++;
      commas++;
    } else if (peek(p) != ')') {
      return perr(p, TL_EFORMAT, "expected ',' or ')' in shape");
    }
  }
  if (n == 1 && commas == 0) {
    p->pos = open;
    return perr(p, TL_EFORMAT, "shape (n) is not a tuple; a 1-d shape is written (n,)");
  }
  *ndim = n;
  return TL_OK;
}

/* descr: "<f4" etc.  Sets dtype and whether the data must be byte-swapped. */
static tl_code parse_descr(npy_parser *p, tl_dtype *dt, int *swap) {
  if (peek(p) == '[')
    return perr(p, TL_EUNSUPPORTED, "structured dtypes (a list descr) are not supported");
  size_t at = p->pos;
  char d[32];
  TL_TRY(parse_str(p, d, sizeof d));
  char order = d[0];
  const char *code = d + 1;
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    order = '=';
    code = d;
  }
  for (size_t i = 0; i < NPY_NKINDS; i++) {
    if (strcmp(code, npy_kinds[i].code) != 0)
      continue;
    size_t size = tl_dtype_size(npy_kinds[i].dtype);
    if (order == '|' && size > 1) {
      p->pos = at;
      return tl_fail(p->st, TL_EFORMAT,
                     "%s: byte %zu: byte order '|' is only valid for 1-byte dtypes, got '%s'", p->name,
                     p->base + at, d);
    }
    int little = tl_io_host_little();
    *dt = npy_kinds[i].dtype;
    *swap = size > 1 && ((order == '<' && !little) || (order == '>' && little));
    return TL_OK;
  }
  /* numpy's other kinds (complex, strings, objects, datetimes, ...) are valid but not ours */
  int numpy_kind = code[0] && strchr("biufcmMOSUVa?", code[0]) != NULL;
  for (const char *c = code + 1; *c && numpy_kind; c++) {
    if (*c == '[') { /* a datetime unit: "<M8[ns]" */
      numpy_kind = c[strlen(c) - 1] == ']';
      break;
    }
    numpy_kind = *c >= '0' && *c <= '9';
  }
  return tl_fail(p->st, numpy_kind ? TL_EUNSUPPORTED : TL_EFORMAT, "%s: byte %zu: %s dtype '%s'", p->name,
                 p->base + at, numpy_kind ? "unsupported" : "unknown", d);
}

typedef struct npy_header {
  tl_dtype dtype;
  int swap;
  int fortran;
  int ndim;
  int64_t *dims; /* owned; free() */
} npy_header;

static tl_code parse_header(npy_parser *p, npy_header *h) {
  int have_descr = 0, have_fortran = 0, have_shape = 0;
  skip_ws(p);
  if (peek(p) != '{')
    return perr(p, TL_EFORMAT, "header is not a dict (expected '{')");
  p->pos++;
  for (;;) {
    skip_ws(p);
    if (peek(p) == '}') {
      p->pos++;
      break;
    }
    size_t key_at = p->pos;
    char key[32];
    TL_TRY(parse_str(p, key, sizeof key));
    skip_ws(p);
    if (peek(p) != ':')
      return perr(p, TL_EFORMAT, "expected ':' after a key");
    p->pos++;
    skip_ws(p);
    int *seen;
    if (strcmp(key, "descr") == 0)
      seen = &have_descr;
    else if (strcmp(key, "fortran_order") == 0)
      seen = &have_fortran;
    else if (strcmp(key, "shape") == 0)
      seen = &have_shape;
    else {
      p->pos = key_at;
      return tl_fail(p->st, TL_EFORMAT, "%s: byte %zu: unexpected key '%s' in header", p->name,
                     p->base + key_at, key);
    }
    if (*seen) {
      p->pos = key_at;
      return tl_fail(p->st, TL_EFORMAT, "%s: byte %zu: key '%s' given twice", p->name, p->base + key_at, key);
    }
    *seen = 1;
    if (seen == &have_descr) {
      TL_TRY(parse_descr(p, &h->dtype, &h->swap));
    } else if (seen == &have_fortran) {
      if (match_word(p, "True"))
        h->fortran = 1;
      else if (match_word(p, "False"))
        h->fortran = 0;
      else
        return perr(p, TL_EFORMAT, "fortran_order must be True or False");
    } else {
      TL_TRY(parse_shape(p, &h->dims, &h->ndim));
    }
    skip_ws(p);
    if (peek(p) == ',')
      p->pos++;
    else if (peek(p) != '}')
      return perr(p, TL_EFORMAT, "expected ',' or '}' in header");
  }
  skip_ws(p);
  if (p->pos != p->n)
    return perr(p, TL_EFORMAT, "unexpected text after the header dict");
  const char *missing = !have_descr     ? "descr"
                        : !have_fortran ? "fortran_order"
                        : !have_shape   ? "shape"
                                        : NULL;
  if (missing) {
    p->pos = 0;
    return tl_fail(p->st, TL_EFORMAT, "%s: byte %zu: header lacks the key '%s'", p->name, p->base, missing);
  }
  return TL_OK;
}

/* ---- reader ------------------------------------------------------------------------------- */

/* Copy a column-major (Fortran) array src into row-major dst; both hold numel elements of
 * `size` bytes with the given shape. */
static void fortran_to_c(unsigned char *dst, const unsigned char *src, int ndim, const int64_t *shape,
                         int64_t numel, size_t size, int64_t *idx /* ndim scratch */,
                         int64_t *stride /* ndim scratch */) {
  int64_t s = 1;
  for (int k = 0; k < ndim; k++) {
    stride[k] = s;
    s *= shape[k];
    idx[k] = 0;
  }
  int64_t off = 0; /* element offset in src of the C-order index idx */
  for (int64_t i = 0; i < numel; i++) {
    memcpy(dst + (size_t)i * size, src + (size_t)off * size, size);
    for (int k = ndim - 1; k >= 0; k--) { /* increment idx in C order (last axis fastest) */
      if (++idx[k] < shape[k]) {
        off += stride[k];
        break;
      }
      off -= stride[k] * (shape[k] - 1);
      idx[k] = 0;
    }
  }
}

/* The fixed part of an NPY file: magic, version, header length (and, before version 3, an ASCII
 * header): the header is bytes [*hstart, *hstart + *hlen). */
static tl_code npy_preamble(const unsigned char *b, size_t len, const char *name, size_t *hstart_out,
                            size_t *hlen_out, tl_status *st) {
  if (len < NPY_MAGIC_LEN || memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
    return tl_fail(st, TL_EFORMAT, "%s: byte 0: bad magic (not an NPY file)", name);
  if (len < 8)
    return tl_fail(st, TL_EFORMAT, "%s: byte %zu: file ends inside the version field", name, len);
  int major = b[6], minor = b[7];
  if (major < 1 || major > 3 || minor != 0)
    return tl_fail(st, TL_EFORMAT, "%s: byte 6: unsupported NPY format version %d.%d", name, major, minor);
  size_t lenlen = major == 1 ? 2 : 4, hstart = 8 + lenlen;
  if (len < hstart)
    return tl_fail(st, TL_EFORMAT, "%s: byte %zu: file ends inside the header length field", name, len);
  size_t hlen = major == 1 ? tl_io_load_le16(b + 8) : tl_io_load_le32(b + 8);
  if (hlen > NPY_MAX_HEADER)
    return tl_fail(st, TL_EFORMAT, "%s: byte 8: header length %zu is too large (limit %zu)", name, hlen,
                   NPY_MAX_HEADER);
  if (hlen > len - hstart)
    return tl_fail(st, TL_EFORMAT, "%s: byte 8: header length %zu runs past the end of the file (%zu bytes)",
                   name, hlen, len);
  if (major < 3)
    for (size_t i = 0; i < hlen; i++)
      if (b[hstart + i] >= 0x80)
        return tl_fail(st, TL_EFORMAT, "%s: byte %zu: non-ASCII byte 0x%02x in a version %d header", name,
                       hstart + i, b[hstart + i], major);
  *hstart_out = hstart, *hlen_out = hlen;
  return TL_OK;
}

tl_code tl_npy_read_mem(const void *buf, size_t len, const char *name, tl_tensor **out, tl_status *st) {
  *out = NULL;
  const unsigned char *b = buf;
  if (!name)
    name = "<memory>";
  size_t hstart = 0, hlen = 0;
  TL_TRY(npy_preamble(b, len, name, &hstart, &hlen, st));
  npy_parser p = {b + hstart, hlen, 0, hstart, name, st};
  npy_header h = {TL_F32, 0, 0, 0, NULL};
  tl_code rc = parse_header(&p, &h);
  if (rc != TL_OK) {
    free(h.dims);
    return rc;
  }
  size_t size = tl_dtype_size(h.dtype), data_off = hstart + hlen;
  char what[512];
  snprintf(what, sizeof what, "%s: byte %zu: shape", name, hstart);
  int64_t numel;
  rc = tl_shape_numel(h.ndim, h.dims, size, &numel, what, st);
  if (rc != TL_OK) {
    free(h.dims);
    return rc;
  }
  /* numel * size <= 2^40 (checked above), so the product fits in size_t on 64-bit hosts */
  uint64_t want = (uint64_t)numel * size, have = len - data_off;
  if (have != want) {
    free(h.dims);
    return tl_fail(st, TL_EFORMAT, "%s: byte %zu: data is %llu bytes, the header promises %llu (%s)", name,
                   data_off, (unsigned long long)have, (unsigned long long)want,
                   have < want ? "file truncated" : "trailing bytes");
  }
  if (h.dtype == TL_BOOL)
    for (uint64_t i = 0; i < want; i++)
      if (b[data_off + i] > 1) {
        free(h.dims);
        return tl_fail(st, TL_EFORMAT, "%s: byte %llu: bool value 0x%02x is not 0 or 1", name,
                       (unsigned long long)(data_off + i), b[data_off + i]);
      }
  tl_tensor *t;
  rc = tl_tensor_new(&t, h.dtype, h.ndim, h.dims, st);
  if (rc != TL_OK) {
    free(h.dims);
    return tl_status_prefix(st, "%s: ", name);
  }
  const unsigned char *data = b + data_off;
  if (h.fortran && h.ndim > 1 && numel > 0) {
    int64_t *scratch = malloc(2 * (size_t)h.ndim * sizeof *scratch);
    if (!scratch) {
      free(h.dims);
      tl_tensor_free(t);
      return tl_fail(st, TL_ENOMEM, "%s: out of memory", name);
    }
    fortran_to_c(t->data, data, h.ndim, h.dims, numel, size, scratch, scratch + h.ndim);
    free(scratch);
  } else if (want) {
    memcpy(t->data, data, (size_t)want);
  }
  free(h.dims);
  if (h.swap)
    tl_io_swap_bytes(t->data, (size_t)numel, size);
  *out = t;
  return TL_OK;
}

tl_code tl_npy_read(const char *path, tl_tensor **out, tl_status *st) {
  *out = NULL;
  void *buf;
  size_t len;
  TL_TRY(tl_read_file(path, &buf, &len, st));
  tl_code rc = tl_npy_read_mem(buf, len, path, out, st);
  free(buf);
  return rc;
}

/* ---- writer ------------------------------------------------------------------------------- */

/* Build the preamble (magic, version, header length, header dict, padding, '\n') into a malloc'ed
 * buffer.  Returns TL_OK and sets *pre, *pre_len. */
static tl_code build_preamble(const tl_tensor *t, const tl_npy_write_opts *o, const char *path,
                              unsigned char **pre, size_t *pre_len, tl_status *st) {
  const char *code = npy_code_of(t->dtype);
  if (!code)
    return tl_fail(st, TL_EARG, "%s: cannot write dtype %s as NPY", path, tl_dtype_name(t->dtype));
  char order = tl_dtype_size(t->dtype) == 1 ? '|' : o->big_endian ? '>' : '<';
  /* the dict: at most ~60 bytes plus 22 per dimension */
  size_t cap = 128 + 24 * (size_t)t->ndim;
  char *dict = malloc(cap);
  if (!dict)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
  size_t n = (size_t)snprintf(dict, cap, "{'descr': '%c%s', 'fortran_order': %s, 'shape': (", order, code,
                              o->fortran_order ? "True" : "False");
  for (int i = 0; i < t->ndim; i++)
    n += (size_t)snprintf(dict + n, cap - n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
  n += (size_t)snprintf(dict + n, cap - n, "%s), }", t->ndim == 1 ? "," : "");
  int version = o->version;
  if (version == 0)
    version = (10 + n + 1 + 63) / 64 * 64 - 10 <= 65535 ? 1 : 2;
  if (version < 1 || version > 3) {
    free(dict);
    return tl_fail(st, TL_EARG, "%s: NPY version must be 1, 2 or 3 (or 0 for automatic), got %d", path,
                   o->version);
  }
  size_t hstart = version == 1 ? 10 : 12;
  size_t total = (hstart + n + 1 + 63) / 64 * 64; /* data starts at a multiple of 64 */
  size_t hlen = total - hstart;
  if (version == 1 && hlen > 65535) {
    free(dict);
    return tl_fail(st, TL_EARG, "%s: header of %zu bytes does not fit NPY version 1; use version 2", path,
                   hlen);
  }
  unsigned char *b = malloc(total);
  if (!b) {
    free(dict);
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
  }
  memcpy(b, NPY_MAGIC, NPY_MAGIC_LEN);
  b[6] = (unsigned char)version;
  b[7] = 0;
  for (size_t i = 0; i < hstart - 8; i++)
    b[8 + i] = (unsigned char)(hlen >> (8 * i));
  memcpy(b + hstart, dict, n);
  memset(b + hstart + n, ' ', total - hstart - n - 1);
  b[total - 1] = '\n';
  free(dict);
  *pre = b;
  *pre_len = total;
  return TL_OK;
}

tl_code tl_npy_write(const char *path, const tl_tensor *t, const tl_npy_write_opts *opts, tl_status *st) {
  static const tl_npy_write_opts defaults = {1, 0, 0};
  const tl_npy_write_opts *o = opts ? opts : &defaults;
  if (!t)
    return tl_fail(st, TL_EARG, "%s: no tensor to write", path);
  unsigned char *pre = NULL;
  size_t pre_len = 0;
  TL_TRY(build_preamble(t, o, path, &pre, &pre_len, st));
  size_t size = tl_dtype_size(t->dtype);
  int swap = size > 1 && (o->big_endian ? tl_io_host_little() : !tl_io_host_little());
  int fortran = o->fortran_order && t->ndim > 1;
  /* Data goes out through a chunk buffer: element j of the file is element src(j) of t, where
   * src walks t in column-major order when fortran (first axis fastest). */
  enum { CHUNK = 1 << 16 };
  unsigned char *chunk = malloc(CHUNK);
  int64_t *idx = calloc(t->ndim > 0 ? (size_t)t->ndim * 2 : 1, sizeof *idx);
  tl_atomic_file f = {0};
  tl_code rc = TL_OK;
  int64_t *cstride = idx ? idx + t->ndim : NULL, off = 0;
  const unsigned char *src = t->data;
  size_t per = CHUNK / size, nchunk = 0;
  if (!chunk || !idx) {
    rc = tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
    goto done;
  }
  if ((rc = tl_atomic_open(&f, path, st)) != TL_OK)
    goto done;
  if (fwrite(pre, 1, pre_len, f.fp) != pre_len)
    goto write_failed;
  int64_t s = 1;
  for (int k = t->ndim - 1; k >= 0; k--) { /* row-major strides of t, in elements */
    cstride[k] = s;
    s *= t->shape[k];
  }
  for (int64_t j = 0; j < t->numel; j++) {
    if (fortran) {
      memcpy(chunk + nchunk * size, src + (size_t)off * size, size);
      for (int k = 0; k < t->ndim; k++) { /* first axis fastest */
        if (++idx[k] < t->shape[k]) {
          off += cstride[k];
          break;
        }
        off -= cstride[k] * (t->shape[k] - 1);
        idx[k] = 0;
      }
    } else {
      memcpy(chunk + nchunk * size, src + (size_t)j * size, size);
    }
    if (++nchunk == per || j + 1 == t->numel) {
      if (swap)
        tl_io_swap_bytes(chunk, nchunk, size);
      if (fwrite(chunk, size, nchunk, f.fp) != nchunk)
        goto write_failed;
      nchunk = 0;
    }
  }
  rc = tl_atomic_commit(&f, st);
  goto done;
write_failed:
  rc = tl_fail(st, TL_EIO, "%s: write failed", path);
  tl_atomic_abort(&f);
done:
  free(pre);
  free(chunk);
  free(idx);
  return rc;
}
