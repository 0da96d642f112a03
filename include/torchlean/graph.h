/* graph.h - the graph IR: one typed SSA/DAG that every part of TorchLean consumes.
 *
 * A graph is a list of nodes in topological order (every parent id is smaller than the node's
 * id).  Each node has an op kind, parent ids, attributes and an output shape (PyTorch order).
 * All values are float32.  Parameters (trainable weights) and buffers (non-trainable state such
 * as batch-norm running statistics, or constants) are PARAM nodes whose bytes live in the
 * graph's weight store: one flat float32 array, so optimizers and checkpoints see one buffer.
 *
 * Ownership: tl_graph_new allocates a graph that owns its nodes, names, attribute lists and
 * weight store; tl_graph_free releases all of it.  Pointers into a graph (node, name, weights)
 * stay valid until the next tl_graph_add_* call that may grow it, or until it is freed.
 */
#ifndef TORCHLEAN_GRAPH_H
#define TORCHLEAN_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "torchlean/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ops, in the order of include/torchlean/ops.def (the one list; each row carries the op's
 * real-number meaning as a comment, and docs/semantics.md the full definitions). */
typedef enum tl_op {
#define TL_OP(ENUM, ...) TL_OP_##ENUM,
#include "torchlean/ops.def"
#undef TL_OP
  TL_OP_COUNT
} tl_op;

/* What an op's VJP reads and may do (the `backward` column of ops.def). */
enum tl_bwd_fact {
  TL_BWD_IN = 1,    /* reads the parents' values */
  TL_BWD_OUT = 2,   /* reads the op's own output */
  TL_BWD_ASSIGN = 4 /* may assign parent 0's cotangent (tl_kctx.gin_assign) instead of adding */
};

/* Attributes: one struct for every op; the op registry says which fields an op uses. */
typedef struct tl_attrs {
  int64_t axis;             /* softmax, log_softmax, concat, slice; flatten start */
  int64_t axis_end;         /* flatten end (inclusive, may be negative) */
  int64_t start, end, step; /* slice */
  int64_t kernel[2], stride[2], padding[2], dilation[2];
  int64_t groups;  /* conv2d */
  int64_t heads;   /* attention */
  int64_t keepdim; /* sum, mean */
  int64_t causal;  /* attention: mask j > i */
  double alpha;    /* leaky_relu negative slope */
  double eps;      /* batch_norm, layer_norm */
  double momentum; /* batch_norm running-stat update */
  double p;        /* dropout probability */
  double lo, hi;   /* clamp */
  int nlist;
  int64_t *list; /* sum/mean axes, permute perm (owned by the node) */
} tl_attrs;

/* Parameter roles in the weight store. */
typedef enum tl_param_kind {
  TL_PARAM_TRAINABLE = 0, /* updated by optimizers */
  TL_PARAM_BUFFER,        /* state (running mean/var): saved, not trained */
  TL_PARAM_CONSTANT       /* fixed data baked into the graph */
} tl_param_kind;

typedef struct tl_node {
  tl_op op;
  int nparents;
  int *parents; /* owned */
  int ndim;
  int64_t *shape; /* owned; output shape */
  int64_t numel;
  tl_attrs attrs;
  char *name; /* owned; required for INPUT and PARAM, optional otherwise */
  /* PARAM only: */
  tl_param_kind pkind;
  int64_t woff; /* offset of the first element in the weight store */
} tl_node;

typedef struct tl_graph {
  int nnodes, cap;
  tl_node *nodes;
  int ninputs;
  int *inputs; /* INPUT node ids in order of creation */
  int noutputs;
  int *outputs; /* node ids marked as outputs */
  int64_t nweights, wcap;
  float *weights; /* the weight store (owned) */
} tl_graph;

/* ---- op registry ---------------------------------------------------------------------- */
typedef enum tl_attr_type { TL_ATTR_INT, TL_ATTR_INT2, TL_ATTR_FLOAT, TL_ATTR_LIST } tl_attr_type;

typedef struct tl_attr_field {
  const char *name; /* JSON key, e.g. "stride" */
  tl_attr_type type;
  size_t offset; /* offsetof(tl_attrs, ...) */
} tl_attr_field;

typedef struct tl_op_info {
  const char *name;             /* stable name used in files: "linear", "conv2d", ... */
  int min_parents, max_parents; /* max -1: any number */
  const tl_attr_field *attrs;   /* terminated by {NULL} */
  unsigned backward;            /* TL_BWD_* facts of its VJP */
  /* Check attributes (normalising negative axes in place) and parents' shapes, and compute the
   * output shape into a malloc'ed *shape (caller frees).  Errors name the node as `where`. */
  tl_code (*infer)(const tl_graph *g, const int *parents, int nparents, tl_attrs *a, int *ndim,
                   int64_t **shape, const char *where, tl_status *st);
} tl_op_info;

/* Registry entry of op; TL_ASSERTs op is valid. */
const tl_op_info *tl_op_get(tl_op op);
/* Op by its stable name, or -1. */
int tl_op_from_name(const char *name);
/* Read/write an attribute field of a node (for serializers). */
int64_t *tl_attr_int_ptr(tl_attrs *a, const tl_attr_field *f);
double *tl_attr_float_ptr(tl_attrs *a, const tl_attr_field *f);

/* ---- building ------------------------------------------------------------------------- */
tl_graph *tl_graph_new(void);    /* NULL only when out of memory */
void tl_graph_free(tl_graph *g); /* NULL is fine */
/* Deep copy (nodes and weights). */
tl_code tl_graph_clone(tl_graph **out, const tl_graph *g, tl_status *st);

/* Add an input of the given shape; returns its node id in *id. */
tl_code tl_graph_input(tl_graph *g, const char *name, int ndim, const int64_t *shape, int *id, tl_status *st);
/* Add a parameter; copies `data` (numel floats) into the store, or zero-fills when data is NULL. */
tl_code tl_graph_param(tl_graph *g, const char *name, tl_param_kind kind, int ndim, const int64_t *shape,
                       const float *data, int *id, tl_status *st);
/* Add an op node: checks arity, attribute values and parent shapes, infers the output shape.
 * attrs may be NULL (all zero); its list is copied.  For RESHAPE, pass the target shape in
 * attrs->list (one -1 entry is inferred).  Errors name the node id and op. */
tl_code tl_graph_op(tl_graph *g, tl_op op, int nparents, const int *parents, const tl_attrs *attrs, int *id,
                    tl_status *st);
/* Mark a node as a graph output. */
tl_code tl_graph_mark_output(tl_graph *g, int id, tl_status *st);
/* Give node id a name (copied). */
tl_code tl_graph_set_name(tl_graph *g, int id, const char *name, tl_status *st);
/* Remove nodes >= n (the op nodes of a previous eager pass); inputs/outputs past n are dropped,
 * and PARAM nodes appended last give their weights back to the store. */
void tl_graph_truncate(tl_graph *g, int n);

/* Weights of a PARAM node. */
float *tl_graph_param_data(const tl_graph *g, int id);
/* Node id of the PARAM or INPUT with this name, or -1. */
int tl_graph_find(const tl_graph *g, const char *name);
/* Total elements of trainable parameters. */
int64_t tl_graph_num_trainable(const tl_graph *g);

/* Full structural check of a graph that came from outside (file): topological order, arity,
 * attributes, shapes recomputed by inference and compared, PARAM ranges inside the store, names
 * unique.  Errors name the node ("node 7 (conv2d): ..."). */
tl_code tl_graph_validate(const tl_graph *g, tl_status *st);

/* Default attributes of an op (e.g. stride 1, dilation 1, groups 1, eps 1e-5, step 1). */
tl_attrs tl_attrs_default(tl_op op);

#ifdef __cplusplus
}
#endif
#endif
