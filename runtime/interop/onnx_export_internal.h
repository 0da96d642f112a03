/* interop/onnx_export_internal.h - PRIVATE: the ONNX exporter's context and its helpers.
 *
 *   onnx_export.c         the public entry points (include/torchlean/onnx.h)
 *   onnx_export_plan.c    what is exported: outputs (losses replaced by their prediction), live
 *                         nodes, the batch-polymorphism check, tensor names
 *   onnx_export_proto.c   protobuf-c messages: arena, unique names, nodes, attributes,
 *                         initializers, value infos, the ModelProto and its packing
 *   onnx_export_ops.c     one rule per op of ops.def (a table the compiler checks)
 *   onnx_export_decomp.c  rules that are several ONNX nodes: gelu, silu, layer_norm, attention
 *
 * Ownership: every protobuf message, string and array of one export lives in the context's arena
 * (oe_alloc) and is released at once by oe_free; nothing is freed piecewise.  The graph is
 * borrowed.  Errors are sticky: the first failure is kept in x->err / x->st, later helpers do
 * nothing and return NULL (or x->err), so a rule may call several helpers and return x->err.
 */
#ifndef TORCHLEAN_ONNX_EXPORT_INTERNAL_H
#define TORCHLEAN_ONNX_EXPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.pb-c.h"
#include "torchlean/onnx.h"

#define OE_OPSET 13
#define OE_IR_VERSION 7 /* the IR version of opset 13's release (onnx 1.8); onnx 1.12 accepts it */

typedef struct oe_block oe_block;

/* a growable array of message pointers (malloc'ed, outside the arena) */
typedef struct oe_vec {
  void **v;
  size_t n, cap;
} oe_vec;

typedef struct oe {
  const tl_graph *g;
  tl_status *st;
  tl_code err;
  oe_block *arena;
  /* plan (onnx_export_plan.c) */
  unsigned char *live;    /* [nnodes] exported */
  unsigned char *bat;     /* [nnodes] axis 0 carries the batch (only meaningful when symbolic) */
  int symbolic;           /* axis 0 of batch-carrying values is the symbolic dimension */
  const char *batch_name; /* its name */
  int *outs, nouts;       /* exported graph outputs (node ids, in order, may repeat) */
  int losses_dropped;
  const char **tname; /* [nnodes] ONNX name of each live node's output (arena strings) */
  /* unique names: open addressing over arena strings */
  const char **names;
  size_t names_cap, names_n;
  /* graph pieces in order */
  oe_vec nodes, inits, inputs, outputs, vinfo;
} oe;

/* ---- context and arena (onnx_export_proto.c) ---- */
void oe_init(oe *x, const tl_graph *g, tl_status *st);
void oe_free(oe *x);
tl_code oe_fail(oe *x, tl_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* zeroed arena memory; NULL (error recorded) when out of memory */
void *oe_alloc(oe *x, size_t n);
char *oe_strdup(oe *x, const char *s);
/* "node 7 (conv2d 'features.0')" into buf */
const char *oe_where(const oe *x, int id, char *buf, size_t cap);

/* ---- names ---- */
/* Register `want` exactly (PARAM and INPUT names); the arena copy, or NULL (TL_EARG when it is
 * already taken). */
const char *oe_name_exact(oe *x, const char *want);
/* `want`, or want_2, want_3, ... the first one not taken; registered; NULL on failure. */
const char *oe_name_unique(oe *x, const char *want);
/* a fresh name for an intermediate tensor of node id: "<tname[id]>/<what>" made unique */
const char *oe_tmp(oe *x, int id, const char *what);

/* ---- messages ---- */
/* A node op_type(in[0..nin)) -> out, appended to the graph; NULL on failure.  Input names are
 * borrowed arena/graph strings (not copied). */
Onnx__NodeProto *oe_node(oe *x, const char *op_type, const char *out, int nin, const char *const *in);
void oe_attr_int(oe *x, Onnx__NodeProto *n, const char *name, int64_t v);
void oe_attr_float(oe *x, Onnx__NodeProto *n, const char *name, float v);
void oe_attr_ints(oe *x, Onnx__NodeProto *n, const char *name, int count, const int64_t *v);
/* An initializer named `name` (registered with oe_name_exact or made unique by the caller):
 * FLOAT (elem 4 bytes) or INT64 (8 bytes) data, written little-endian into raw_data. */
tl_code oe_initializer(oe *x, const char *name, int dtype, int ndim, const int64_t *dims, const void *data);
/* Constants of node id: a float32 scalar, or a 1-D int64 vector; returns the new tensor's name. */
const char *oe_const_f32(oe *x, int id, const char *what, float v);
const char *oe_const_i64(oe *x, int id, const char *what, int count, const int64_t *v);
/* A float32 value info for name with the given shape; axis 0 symbolic when sym0. */
Onnx__ValueInfoProto *oe_value_info(oe *x, const char *name, int ndim, const int64_t *shape, int sym0);
/* append p to v (malloc'ed array); error recorded on failure */
void oe_push(oe *x, oe_vec *v, void *p);
/* The ModelProto of the pieces collected so far, packed into a malloc'ed buffer. */
tl_code oe_pack(oe *x, void **buf, size_t *len);

/* ---- plan (onnx_export_plan.c) ---- */
tl_code oe_plan(oe *x, const tl_onnx_export_opts *opts);

/* ---- rules (onnx_export_ops.c, onnx_export_decomp.c) ---- */
/* Emit the ONNX nodes computing live node id into x->tname[id]. */
tl_code oe_emit(oe *x, int id);
/* name of parent k of node id */
const char *oe_in(const oe *x, int id, int k);
/* 1 when axis 0 of node id is written as the symbolic batch dimension */
int oe_sym0(const oe *x, int id);
tl_code oe_gelu(oe *x, int id);
tl_code oe_silu(oe *x, int id);
tl_code oe_layer_norm(oe *x, int id);
tl_code oe_attention(oe *x, int id);

#endif
