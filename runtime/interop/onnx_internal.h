/* interop/onnx_internal.h - private state of the ONNX importer (onnx_import*.c, onnx_fold.c).
 *
 * The importer walks the ONNX nodes in order.  Every ONNX value name maps to an ox_value: a graph
 * node id (a value computed at run time, or a constant already materialised as a PARAM) and/or a
 * constant tensor known at import time (initializers, Constant nodes, folded subgraphs, shapes).
 * Constants stay out of the graph until an op needs them as a node; int64 constants (shapes,
 * axes, indices) never enter it.
 *
 * Ownership: the ox_ctx owns its value table, the constant tensors and the graph under
 * construction (handed to the caller on success).  Value and attribute names are borrowed from
 * the unpacked protobuf, which outlives the ctx.
 */
#ifndef TL_INTEROP_ONNX_INTERNAL_H
#define TL_INTEROP_ONNX_INTERNAL_H

#include <stdint.h>

#include "onnx.pb-c.h"
#include "torchlean/graph.h"
#include "torchlean/status.h"

#define OX_MAXDIM 8 /* highest rank imported */
/* largest constant built at import (folded results, ConstantOfShape, Pad blocks, transposed
 * weights); initializers are bounded by the bytes of the file instead */
#define OX_MAX_CONST_ELEMS ((int64_t)1 << 26)

typedef enum ox_dtype { OX_F32 = 1, OX_I64 = 7 } ox_dtype;

/* A constant known at import time.  Exactly one of f (OX_F32) or i (OX_I64) is set (owned). */
typedef struct ox_tensor {
  ox_dtype dt;
  int ndim;
  int64_t shape[OX_MAXDIM];
  int64_t numel;
  float *f;
  int64_t *i;
} ox_tensor;

typedef struct ox_value {
  const char *name; /* borrowed */
  int id;           /* graph node id, -1 when not (yet) in the graph */
  ox_tensor *c;     /* constant value (owned), or NULL */
  int uses;         /* consuming nodes (+1 per graph output naming it) */
  int consumer;     /* index of the last node that consumes it, -1 when none */
} ox_value;

typedef struct ox_ctx {
  const char *file; /* for messages */
  int64_t opset;
  const Onnx__GraphProto *gp;
  tl_graph *g;
  ox_value *vals;
  int nvals, cap;
  int *hash; /* open addressing: index into vals or -1 */
  int hcap;
  unsigned char *done; /* per ONNX node: already handled by a fusion */
  size_t cur;          /* index of the node being imported */
  tl_status *st;
} ox_ctx;

/* ---- values (onnx_import_values.c) ---------------------------------------------------------- */
/* Value of that name, or NULL. */
ox_value *ox_find(ox_ctx *c, const char *name);
/* New value (the name must not exist yet: TL_EFORMAT "defined twice"). */
tl_code ox_define(ox_ctx *c, const char *name, ox_value **out);
/* Bind output `k` of the current node to graph node id / to a constant (ownership taken, freed on
 * failure). */
tl_code ox_bind_node(ox_ctx *c, const Onnx__NodeProto *n, size_t k, int id);
tl_code ox_bind_const(ox_ctx *c, const Onnx__NodeProto *n, size_t k, ox_tensor *t);
/* Input k of node n: its value, or NULL when absent/empty (optional input). Fails when named but
 * undefined. */
tl_code ox_input(ox_ctx *c, const Onnx__NodeProto *n, size_t k, ox_value **out);
/* Graph node of input k (materialising a float constant as a PARAM of the given kind). */
tl_code ox_input_node(ox_ctx *c, const Onnx__NodeProto *n, size_t k, tl_param_kind kind, int *id);
/* Constant of input k (TL_EUNSUPPORTED naming the node when it is not known at import). */
tl_code ox_input_const(ox_ctx *c, const Onnx__NodeProto *n, size_t k, const char *what, ox_tensor **out);
/* Add a PARAM holding float constant t, named after base (made unique); int64 constants are refused. */
tl_code ox_param(ox_ctx *c, const char *base, tl_param_kind kind, const ox_tensor *t, int *id);
/* Add an op node; errors name the ONNX node. */
tl_code ox_op(ox_ctx *c, tl_op op, int np, const int *parents, const tl_attrs *a, int *id);
/* Reshape node id to the given shape (no node when it already has it). */
tl_code ox_reshape(ox_ctx *c, int id, int ndim, const int64_t *shape, int *out);
/* Shape of a value (graph node or constant). */
void ox_shape(ox_ctx *c, const ox_value *v, int *ndim, const int64_t **shape);

/* ---- messages ------------------------------------------------------------------------------- */
/* "FILE: node 3 'name' (Op, opset 13): " + fmt, with the given code. */
tl_code ox_fail(ox_ctx *c, const Onnx__NodeProto *n, tl_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- attributes (onnx_import_attrs.c) ------------------------------------------------------- */
const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name);
tl_code ox_attr_int(ox_ctx *c, const Onnx__NodeProto *n, const char *name, int64_t def, int64_t *out);
tl_code ox_attr_float(ox_ctx *c, const Onnx__NodeProto *n, const char *name, float def, float *out);
/* List attribute: *out borrowed from the protobuf, *len -1 when absent. */
tl_code ox_attr_ints(ox_ctx *c, const Onnx__NodeProto *n, const char *name, const int64_t **out, int *len);
/* String attribute: copied into buf (NUL-terminated), def when absent. */
tl_code ox_attr_str(ox_ctx *c, const Onnx__NodeProto *n, const char *name, const char *def, char *buf,
                    size_t cap);
/* Refuse an attribute that is present (when its presence changes the meaning and we do not map it). */
tl_code ox_attr_absent(ox_ctx *c, const Onnx__NodeProto *n, const char *name);

/* ---- tensors (onnx_import_tensor.c) --------------------------------------------------------- */
/* A zeroed constant of at most OX_MAX_CONST_ELEMS elements (TL_ENOMEM beyond). */
tl_code ox_tensor_new(ox_dtype dt, int ndim, const int64_t *shape, ox_tensor **out, tl_status *st);
/* Same for a rearranged copy of an existing constant of src_numel elements (no lower limit). */
tl_code ox_tensor_copy_shape(ox_dtype dt, int ndim, const int64_t *shape, int64_t src_numel, ox_tensor **out,
                             tl_status *st);
void ox_tensor_free(ox_tensor *t);
/* Decode an ONNX TensorProto (float32, int64, int32 payloads; raw or typed; bounds-checked). */
tl_code ox_tensor_from_proto(const Onnx__TensorProto *tp, const char *where, ox_tensor **out, tl_status *st);
/* Element k as int64 / float (any dtype). */
int64_t ox_tensor_int(const ox_tensor *t, int64_t k);
double ox_tensor_num(const ox_tensor *t, int64_t k);

/* ---- constant folding (onnx_fold.c) ----------------------------------------------------------- */
/* Fold the current node when every input it needs is known at import (or, for Shape, when its
 * input has a static shape).  *folded 1 when the node was handled. */
tl_code ox_fold(ox_ctx *c, const Onnx__NodeProto *n, int *folded);

/* Folding helpers (onnx_fold_ops.c): a (op) b with broadcasting (b NULL: Neg), ConstantOfShape,
 * Slice of constants. */
tl_code ox_fold_binary(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *a, const ox_tensor *b,
                       ox_tensor **out);
tl_code ox_fold_const_of_shape(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *s, ox_tensor **out);
tl_code ox_fold_slice(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *x, ox_tensor **out);

/* ---- op mappers (onnx_import_ops.c, onnx_import_nn.c, onnx_import_shape.c) ---------------------- */
typedef tl_code (*ox_mapper)(ox_ctx *c, const Onnx__NodeProto *n);
/* The mapper of an op type, or NULL when the op is not supported. */
ox_mapper ox_mapper_for(const char *op_type);
tl_code ox_map_matmul(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_gemm(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_binary(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_unary(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_leaky(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_clip(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_softmax(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_identity(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_dropout(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_cast(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_flatten(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_reshape(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_transpose(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_squeeze(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_unsqueeze(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_concat(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_pad(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_slice(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_conv(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_batchnorm(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_pool(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_gap(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_reduce(ox_ctx *c, const Onnx__NodeProto *n);
tl_code ox_map_gather(ox_ctx *c, const Onnx__NodeProto *n);

/* Helpers shared by the mappers. */
/* Axes of a Squeeze/Unsqueeze/Reduce-like node (attribute before opset `from`, input 1 from it). */
tl_code ox_axes(ox_ctx *c, const Onnx__NodeProto *n, int64_t from, int64_t *axes, int *naxes, int *given);
/* Reshape's target t resolved for an input of rank r, shape in, numel elements: out[*nd]. */
tl_code ox_reshape_target(ox_ctx *c, const Onnx__NodeProto *n, int r, const int64_t *in, int64_t numel,
                          const ox_tensor *t, int64_t allowzero, int *nd, int64_t *out);
/* Output shape of Squeeze (unsq 0) or Unsqueeze (unsq 1) of an input of rank r, shape in. */
tl_code ox_squeeze_shape(ox_ctx *c, const Onnx__NodeProto *n, int unsq, int r, const int64_t *in, int *nd,
                         int64_t *out);
/* Slice ranges per axis of a rank-r input of shape `shape`: element j of axis k is
 * start[k] + j step[k], j < count[k] (ONNX clamping; unlisted axes whole). */
tl_code ox_slice_ranges(ox_ctx *c, const Onnx__NodeProto *n, int r, const int64_t *shape, int64_t *start,
                        int64_t *step, int64_t *count);
/* Only output 0 may be used (extra outputs such as masks or indices are refused when consumed). */
tl_code ox_only_first_output(ox_ctx *c, const Onnx__NodeProto *n);

#endif
