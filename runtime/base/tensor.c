/* base/tensor.c - dense tensors with reference-counted storage (see tensor.h for ownership). */
#include "torchlean/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tl_storage {
  long refcount;
  void *bytes;
};

static const size_t dtype_sizes[TL_DTYPE_COUNT] = {4, 8, 2, 1, 2, 4, 8, 1, 2, 4, 8, 1};
static const char *const dtype_names[TL_DTYPE_COUNT] = {"float32", "float64", "float16", "int8",
                                                        "int16",   "int32",   "int64",   "uint8",
                                                        "uint16",  "uint32",  "uint64",  "bool"};

size_t tl_dtype_size(tl_dtype dt) {
  TL_ASSERT(dt >= 0 && dt < TL_DTYPE_COUNT);
  return dtype_sizes[dt];
}

const char *tl_dtype_name(tl_dtype dt) {
  return (dt >= 0 && dt < TL_DTYPE_COUNT) ? dtype_names[dt] : "invalid";
}

int tl_dtype_is_float(tl_dtype dt) { return dt == TL_F32 || dt == TL_F64 || dt == TL_F16; }

tl_code tl_shape_numel(int ndim, const int64_t *shape, size_t elem_size, int64_t *numel, const char *what,
                       tl_status *st) {
  if (ndim < 0)
    return tl_fail(st, TL_ESHAPE, "%s: negative rank %d", what, ndim);
  int64_t n = 1;
  int64_t limit = TL_TENSOR_MAX_BYTES / (int64_t)(elem_size ? elem_size : 1);
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return tl_fail(st, TL_ESHAPE, "%s: dimension %d is negative (%lld)", what, i, (long long)shape[i]);
    if (shape[i] != 0 && n > limit / shape[i])
      return tl_fail(st, TL_ENOMEM, "%s: dimension %d (%lld) makes the tensor larger than 2^40 bytes", what,
                     i, (long long)shape[i]);
    n *= shape[i];
  }
  *numel = n;
  return TL_OK;
}

static tl_code tensor_alloc(tl_tensor **out, tl_dtype dt, int ndim, const int64_t *shape, tl_storage *share,
                            tl_status *st) {
  *out = NULL;
  if (dt < 0 || dt >= TL_DTYPE_COUNT)
    return tl_fail(st, TL_EARG, "tensor: invalid dtype %d", (int)dt);
  int64_t numel;
  TL_TRY(tl_shape_numel(ndim, shape, tl_dtype_size(dt), &numel, "tensor", st));
  tl_tensor *t = calloc(1, sizeof *t);
  if (!t)
    return tl_fail(st, TL_ENOMEM, "tensor: out of memory");
  t->dtype = dt;
  t->ndim = ndim;
  t->numel = numel;
  if (ndim > 0) {
    t->shape = malloc((size_t)ndim * sizeof *t->shape);
    if (!t->shape) {
      free(t);
      return tl_fail(st, TL_ENOMEM, "tensor: out of memory");
    }
    memcpy(t->shape, shape, (size_t)ndim * sizeof *t->shape);
  }
  if (share) {
    share->refcount++;
    t->storage = share;
  } else {
    size_t nbytes = (size_t)numel * tl_dtype_size(dt);
    t->storage = malloc(sizeof *t->storage);
    void *bytes = calloc(nbytes ? nbytes : 1, 1);
    if (!t->storage || !bytes) {
      free(bytes);
      free(t->storage);
      free(t->shape);
      free(t);
      return tl_fail(st, TL_ENOMEM, "tensor: cannot allocate %zu bytes", nbytes);
    }
    t->storage->refcount = 1;
    t->storage->bytes = bytes;
  }
  t->data = t->storage->bytes;
  *out = t;
  return TL_OK;
}

tl_code tl_tensor_new(tl_tensor **out, tl_dtype dt, int ndim, const int64_t *shape, tl_status *st) {
  return tensor_alloc(out, dt, ndim, shape, NULL, st);
}

tl_code tl_tensor_from(tl_tensor **out, tl_dtype dt, int ndim, const int64_t *shape, const void *data,
                       tl_status *st) {
  TL_TRY(tensor_alloc(out, dt, ndim, shape, NULL, st));
  if ((*out)->numel)
    memcpy((*out)->data, data, (size_t)(*out)->numel * tl_dtype_size(dt));
  return TL_OK;
}

tl_code tl_tensor_clone(tl_tensor **out, const tl_tensor *t, tl_status *st) {
  return tl_tensor_from(out, t->dtype, t->ndim, t->shape, t->data, st);
}

tl_code tl_tensor_reshape(tl_tensor **out, const tl_tensor *t, int ndim, const int64_t *shape,
                          tl_status *st) {
  int64_t numel;
  TL_TRY(tl_shape_numel(ndim, shape, tl_dtype_size(t->dtype), &numel, "reshape", st));
  if (numel != t->numel) {
    char a[128], b[128];
    return tl_fail(st, TL_ESHAPE, "reshape: cannot view %s (%lld elements) as %s (%lld elements)",
                   tl_shape_str(t->ndim, t->shape, a, sizeof a), (long long)t->numel,
                   tl_shape_str(ndim, shape, b, sizeof b), (long long)numel);
  }
  return tensor_alloc(out, t->dtype, ndim, shape, t->storage, st);
}

tl_code tl_tensor_convert(tl_tensor **out, const tl_tensor *t, tl_dtype dt, tl_status *st) {
  TL_TRY(tl_tensor_new(out, dt, t->ndim, t->shape, st));
  for (int64_t i = 0; i < t->numel; i++)
    tl_tensor_set(*out, i, tl_tensor_get(t, i));
  return TL_OK;
}

void tl_tensor_free(tl_tensor *t) {
  if (!t)
    return;
  if (t->storage && --t->storage->refcount == 0) {
    free(t->storage->bytes);
    free(t->storage);
  }
  free(t->shape);
  free(t);
}

/* binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits. value = (-1)^s 2^(e-15) (1 + f/1024) */
double tl_f16_to_f64(uint16_t h) {
  int sign = h >> 15, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  double v;
  if (e == 0)
    v = ldexp((double)f, -24); /* subnormal: f * 2^-24 */
  else if (e == 31)
    v = f ? NAN : INFINITY;
  else
    v = ldexp((double)(f | 0x400), e - 25);
  return sign ? -v : v;
}

uint16_t tl_f64_to_f16(double x) {
  uint16_t sign = signbit(x) ? 0x8000 : 0;
  if (isnan(x))
    return 0x7e00;
  double a = fabs(x);
  if (a >= 65520.0) /* rounds to infinity (max finite 65504, halfway 65520) */
    return sign | 0x7c00;
  if (a < ldexp(1.0, -14)) {                  /* subnormal range: quantum 2^-24 */
    double q = nearbyint(a * ldexp(1.0, 24)); /* default mode: round half to even */
    return sign | (uint16_t)q;                /* q == 1024 becomes the smallest normal */
  }
  int e;
  double m = frexp(a, &e);          /* a = m 2^e, m in [0.5, 1) */
  double q = nearbyint(m * 2048.0); /* 11 significant bits */
  if (q == 2048.0) {
    q = 1024.0;
    e++;
  }
  int biased = e - 1 + 15;
  if (biased >= 31)
    return sign | 0x7c00;
  return sign | (uint16_t)(biased << 10) | (uint16_t)((int)q - 1024);
}

double tl_tensor_get(const tl_tensor *t, int64_t i) {
  const void *p = (const char *)t->data + (size_t)i * tl_dtype_size(t->dtype);
  switch (t->dtype) {
  case TL_F32: return *(const float *)p;
  case TL_F64: return *(const double *)p;
  case TL_F16: return tl_f16_to_f64(*(const uint16_t *)p);
  case TL_I8: return *(const int8_t *)p;
  case TL_I16: return *(const int16_t *)p;
  case TL_I32: return *(const int32_t *)p;
  case TL_I64: return (double)*(const int64_t *)p;
  case TL_U8: return *(const uint8_t *)p;
  case TL_U16: return *(const uint16_t *)p;
  case TL_U32: return *(const uint32_t *)p;
  case TL_U64: return (double)*(const uint64_t *)p;
  case TL_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
  default: break;
  }
  TL_ASSERT(!"bad dtype");
  return 0;
}

/* Saturating float -> integer cast (a plain C cast of an out-of-range value is undefined). */
#define SAT(T, lo, hi) (isnan(v) ? (T)0 : v <= (double)(lo) ? (T)(lo) : v >= (double)(hi) ? (T)(hi) : (T)v)

void tl_tensor_set(tl_tensor *t, int64_t i, double v) {
  void *p = (char *)t->data + (size_t)i * tl_dtype_size(t->dtype);
  switch (t->dtype) {
  case TL_F32: *(float *)p = (float)v; return;
  case TL_F64: *(double *)p = v; return;
  case TL_F16: *(uint16_t *)p = tl_f64_to_f16(v); return;
  case TL_I8: *(int8_t *)p = SAT(int8_t, INT8_MIN, INT8_MAX); return;
  case TL_I16: *(int16_t *)p = SAT(int16_t, INT16_MIN, INT16_MAX); return;
  case TL_I32: *(int32_t *)p = SAT(int32_t, INT32_MIN, INT32_MAX); return;
  case TL_I64:
    *(int64_t *)p = isnan(v)                     ? 0
                    : v < -9.2233720368547758e18 ? INT64_MIN
                    : v >= 9.2233720368547758e18 ? INT64_MAX
                                                 : (int64_t)v;
    return;
  case TL_U8: *(uint8_t *)p = SAT(uint8_t, 0, UINT8_MAX); return;
  case TL_U16: *(uint16_t *)p = SAT(uint16_t, 0, UINT16_MAX); return;
  case TL_U32: *(uint32_t *)p = SAT(uint32_t, 0, UINT32_MAX); return;
  case TL_U64:
    *(uint64_t *)p = isnan(v) || v <= 0 ? 0 : v >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)v;
    return;
  case TL_BOOL: *(uint8_t *)p = v != 0; return;
  default: break;
  }
  TL_ASSERT(!"bad dtype");
}

float *tl_tensor_f32(const tl_tensor *t) {
  TL_ASSERT(t->dtype == TL_F32);
  return (float *)t->data;
}

double *tl_tensor_f64(const tl_tensor *t) {
  TL_ASSERT(t->dtype == TL_F64);
  return (double *)t->data;
}

int tl_shape_equal(int na, const int64_t *a, int nb, const int64_t *b) {
  if (na != nb)
    return 0;
  for (int i = 0; i < na; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

char *tl_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
  size_t len = 0;
  if (cap == 0)
    return buf;
  buf[0] = '\0';
  len += (size_t)snprintf(buf + len, cap - len, "[");
  for (int i = 0; i < ndim && len < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, i ? ", %lld" : "%lld", (long long)shape[i]);
  if (len < cap)
    snprintf(buf + len, cap - len, "]");
  return buf;
}
