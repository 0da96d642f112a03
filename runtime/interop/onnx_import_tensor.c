/* interop/onnx_import_tensor.c - ONNX TensorProto -> import-time constant (float32 or int64),
 * every length checked against the dims before anything is copied. */
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_internal.h"

/* a zeroed tensor of at most `limit` elements */
static tl_code tensor_alloc(ox_dtype dt, int ndim, const int64_t *shape, int64_t limit, ox_tensor **out,
                            tl_status *st) {
  *out = NULL;
  if (ndim < 0 || ndim > OX_MAXDIM)
    return tl_fail(st, TL_EUNSUPPORTED, "rank %d (at most %d)", ndim, OX_MAXDIM);
  int64_t numel = 1;
  for (int k = 0; k < ndim; k++) {
    if (shape[k] < 0)
      return tl_fail(st, TL_EFORMAT, "negative dimension %lld", (long long)shape[k]);
    if (shape[k] > 0 && numel > limit / shape[k])
      return tl_fail(st, TL_ENOMEM, "constant of more than %lld elements", (long long)limit);
    numel *= shape[k];
  }
  ox_tensor *t = calloc(1, sizeof *t);
  if (!t)
    return tl_fail(st, TL_ENOMEM, "out of memory");
  t->dt = dt;
  t->ndim = ndim;
  if (ndim)
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  t->numel = numel;
  size_t n = (size_t)(numel ? numel : 1);
  if (dt == OX_F32)
    t->f = calloc(n, sizeof *t->f);
  else
    t->i = calloc(n, sizeof *t->i);
  if (!t->f && !t->i) {
    free(t);
    return tl_fail(st, TL_ENOMEM, "out of memory for a constant of %lld elements", (long long)numel);
  }
  *out = t;
  return TL_OK;
}

tl_code ox_tensor_new(ox_dtype dt, int ndim, const int64_t *shape, ox_tensor **out, tl_status *st) {
  return tensor_alloc(dt, ndim, shape, OX_MAX_CONST_ELEMS, out, st);
}

tl_code ox_tensor_copy_shape(ox_dtype dt, int ndim, const int64_t *shape, int64_t src_numel, ox_tensor **out,
                             tl_status *st) {
  return tensor_alloc(dt, ndim, shape, src_numel > OX_MAX_CONST_ELEMS ? src_numel : OX_MAX_CONST_ELEMS, out,
                      st);
}

void ox_tensor_free(ox_tensor *t) {
  if (!t)
    return;
  free(t->f);
  free(t->i);
  free(t);
}

int64_t ox_tensor_int(const ox_tensor *t, int64_t k) { return t->dt == OX_I64 ? t->i[k] : (int64_t)t->f[k]; }
double ox_tensor_num(const ox_tensor *t, int64_t k) { return t->dt == OX_I64 ? (double)t->i[k] : t->f[k]; }

static uint64_t le_bytes(const uint8_t *p, int n) {
  uint64_t x = 0;
  for (int i = 0; i < n; i++)
    x |= (uint64_t)p[i] << (8 * i);
  return x;
}

/* raw_data: little-endian elements of `size` bytes, exactly numel of them */
static tl_code fill_raw(ox_tensor *t, const ProtobufCBinaryData *raw, int size, int dtype, const char *where,
                        tl_status *st) {
  if ((uint64_t)raw->len != (uint64_t)t->numel * (uint64_t)size)
    return tl_fail(st, TL_EFORMAT, "%s: raw_data holds %zu bytes, the dims need %lld", where, raw->len,
                   (long long)(t->numel * size));
  for (int64_t k = 0; k < t->numel; k++) {
    uint64_t x = le_bytes(raw->data + k * size, size);
    if (t->dt == OX_F32) {
      uint32_t b = (uint32_t)x;
      memcpy(&t->f[k], &b, 4);
    } else if (dtype == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL) {
      t->i[k] = x != 0;
    } else if (dtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT32) {
      t->i[k] = (int32_t)(uint32_t)x;
    } else {
      t->i[k] = (int64_t)x;
    }
  }
  return TL_OK;
}

static tl_code fill_typed(ox_tensor *t, const Onnx__TensorProto *tp, int dtype, const char *where,
                          tl_status *st) {
  size_t have = dtype == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT   ? tp->n_float_data
                : dtype != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ? tp->n_int32_data
                                                                : tp->n_int64_data;
  if ((uint64_t)have != (uint64_t)t->numel)
    return tl_fail(st, TL_EFORMAT, "%s: %zu data elements, the dims need %lld", where, have,
                   (long long)t->numel);
  for (int64_t k = 0; k < t->numel; k++) {
    if (dtype == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
      t->f[k] = tp->float_data[k];
    else if (dtype == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL)
      t->i[k] = tp->int32_data[k] != 0;
    else if (dtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
      t->i[k] = tp->int32_data[k];
    else
      t->i[k] = tp->int64_data[k];
  }
  return TL_OK;
}

static tl_code check_proto(const Onnx__TensorProto *tp, const char *where, int *dtype, tl_status *st) {
  if ((tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
      tp->n_external_data)
    return tl_fail(st, TL_EUNSUPPORTED,
                   "%s: data stored in an external file (external data is not supported; "
                   "save the model with its weights inside)",
                   where);
  if (tp->segment)
    return tl_fail(st, TL_EUNSUPPORTED, "%s: segmented tensors are not supported", where);
  *dtype = tp->has_data_type ? tp->data_type : 0;
  if (*dtype != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && *dtype != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 &&
      *dtype != ONNX__TENSOR_PROTO__DATA_TYPE__INT32 && *dtype != ONNX__TENSOR_PROTO__DATA_TYPE__BOOL)
    return tl_fail(st, TL_EUNSUPPORTED,
                   "%s: data type %d is not supported (float32, int64, int32 and bool are)", where, *dtype);
  if (tp->n_dims > OX_MAXDIM)
    return tl_fail(st, TL_EUNSUPPORTED, "%s: rank %zu (at most %d)", where, tp->n_dims, OX_MAXDIM);
  for (size_t k = 0; k < tp->n_dims; k++)
    if (tp->dims[k] < 0)
      return tl_fail(st, TL_EFORMAT, "%s: negative dimension %lld", where, (long long)tp->dims[k]);
  return TL_OK;
}

tl_code ox_tensor_from_proto(const Onnx__TensorProto *tp, const char *where, ox_tensor **out, tl_status *st) {
  *out = NULL;
  int dtype = 0;
  TL_TRY(check_proto(tp, where, &dtype, st));
  /* element count from the dims, bounded by what the payload can hold before allocating */
  uint64_t avail = tp->has_raw_data ? tp->raw_data.len
                                    : (uint64_t)(tp->n_float_data + tp->n_int32_data + tp->n_int64_data);
  int64_t numel = 1;
  for (size_t k = 0; k < tp->n_dims; k++) {
    if (tp->dims[k] && (uint64_t)numel > avail / (uint64_t)tp->dims[k])
      return tl_fail(st, TL_EFORMAT, "%s: dims need more elements than the data holds", where);
    numel *= tp->dims[k];
  }
  ox_tensor *t = NULL;
  /* the payload bounds it (checked above): no limit beyond the data that is there */
  tl_code rc = tensor_alloc(dtype == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? OX_F32 : OX_I64, (int)tp->n_dims,
                            tp->dims, INT64_MAX / 8, &t, st);
  if (rc != TL_OK)
    return tl_status_prefix(st, "%s: ", where);
  int size = dtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT64  ? 8
             : dtype == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL ? 1
                                                            : 4;
  rc = tp->has_raw_data ? fill_raw(t, &tp->raw_data, size, dtype, where, st)
                        : fill_typed(t, tp, dtype, where, st);
  if (rc != TL_OK) {
    ox_tensor_free(t);
    return rc;
  }
  *out = t;
  return TL_OK;
}
