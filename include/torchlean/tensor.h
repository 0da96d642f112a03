/* tensor.h - dense tensors: float32/float64/float16 and the integer and bool types of the data
 * layer.  Shapes are in PyTorch order (outermost first); storage is contiguous row-major.
 *
 * Ownership:
 *  - A tl_tensor is created by tl_tensor_new / tl_tensor_from / tl_tensor_clone /
 *    tl_tensor_reshape and must be released with tl_tensor_free.
 *  - The element bytes live in a reference-counted storage.  A reshape view shares the storage
 *    of its source; the bytes are freed when the last tensor using them is freed.  Freeing the
 *    source before the view is fine.
 *  - `shape` is owned by the tensor; never free it yourself.
 */
#ifndef TORCHLEAN_TENSOR_H
#define TORCHLEAN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "torchlean/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_dtype {
  TL_F32 = 0,
  TL_F64,
  TL_F16, /* IEEE binary16, stored as raw uint16 bits; read through tl_tensor_get */
  TL_I8,
  TL_I16,
  TL_I32,
  TL_I64,
  TL_U8,
  TL_U16,
  TL_U32,
  TL_U64,
  TL_BOOL, /* one byte, 0 or 1 */
  TL_DTYPE_COUNT
} tl_dtype;

/* Bytes per element (1..8). */
size_t tl_dtype_size(tl_dtype dt);
/* Short name: "float32", "float64", "float16", "int8", ..., "uint64", "bool". */
const char *tl_dtype_name(tl_dtype dt);
/* 1 for the floating types. */
int tl_dtype_is_float(tl_dtype dt);

typedef struct tl_storage tl_storage; /* opaque, reference counted */

typedef struct tl_tensor {
  tl_dtype dtype;
  int ndim;       /* 0 for a scalar */
  int64_t *shape; /* ndim entries, owned by the tensor (NULL when ndim == 0) */
  int64_t numel;  /* product of shape (1 for a scalar) */
  void *data;     /* numel * tl_dtype_size(dtype) bytes, contiguous row-major */
  tl_storage *storage;
} tl_tensor;

/* Largest number of bytes one tensor may hold (guards absurd headers): 2^40. */
#define TL_TENSOR_MAX_BYTES ((int64_t)1 << 40)

/* numel = prod(shape), rejecting negative dimensions and products whose byte size (for an
 * element of elem_size bytes) overflows or exceeds TL_TENSOR_MAX_BYTES.  `what` names the
 * source in the message (a file name, a node). */
tl_code tl_shape_numel(int ndim, const int64_t *shape, size_t elem_size, int64_t *numel, const char *what,
                       tl_status *st);

/* New zero-filled tensor.  Caller frees *out with tl_tensor_free. */
tl_code tl_tensor_new(tl_tensor **out, tl_dtype dt, int ndim, const int64_t *shape, tl_status *st);
/* New tensor holding a copy of `data` (numel elements of dt).  Caller frees. */
tl_code tl_tensor_from(tl_tensor **out, tl_dtype dt, int ndim, const int64_t *shape, const void *data,
                       tl_status *st);
/* Deep copy.  Caller frees. */
tl_code tl_tensor_clone(tl_tensor **out, const tl_tensor *t, tl_status *st);
/* A view with a new shape of the same numel that shares t's bytes.  Caller frees the view. */
tl_code tl_tensor_reshape(tl_tensor **out, const tl_tensor *t, int ndim, const int64_t *shape, tl_status *st);
/* A copy converted to dtype dt (values as by a C cast through double; bool is x != 0). */
tl_code tl_tensor_convert(tl_tensor **out, const tl_tensor *t, tl_dtype dt, tl_status *st);
/* Release t (NULL is fine). */
void tl_tensor_free(tl_tensor *t);

/* Element i (flat row-major index) as a double, for any dtype (float16 decoded exactly). */
double tl_tensor_get(const tl_tensor *t, int64_t i);
/* Store v into element i, converting as a C cast would (float16: round to nearest even). */
void tl_tensor_set(tl_tensor *t, int64_t i, double v);
/* Typed access; TL_ASSERTs the dtype. */
float *tl_tensor_f32(const tl_tensor *t);
double *tl_tensor_f64(const tl_tensor *t);

/* 1 when shapes are equal. */
int tl_shape_equal(int na, const int64_t *a, int nb, const int64_t *b);
/* Format a shape as "[2, 3, 4]" into buf (always NUL-terminated).  Returns buf. */
char *tl_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap);

/* IEEE binary16 <-> binary64 (exact decode; encode rounds to nearest even, overflow to inf). */
double tl_f16_to_f64(uint16_t h);
uint16_t tl_f64_to_f16(double x);

#ifdef __cplusplus
}
#endif
#endif
