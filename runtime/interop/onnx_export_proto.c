/* interop/onnx_export_proto.c - the protobuf-c side of the ONNX exporter: one arena per export,
 * unique tensor names, node / attribute / initializer / value-info messages, and the ModelProto
 * packed with onnx__model_proto__pack (never hand-encoded).  See onnx_export_internal.h. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_export_internal.h"
#include "torchlean/model_file.h"

#ifndef TL_PROJECT_VERSION
#define TL_PROJECT_VERSION "unknown"
#endif

struct oe_block {
  oe_block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

enum { OE_BLOCK = 1 << 16, OE_MAX_ATTRS = 8 };

void oe_init(oe *x, const tl_graph *g, tl_status *st) {
  memset(x, 0, sizeof *x);
  x->g = g;
  x->st = st;
  x->batch_name = "N";
}

void oe_free(oe *x) {
  for (oe_block *b = x->arena, *nb; b; b = nb) {
    nb = b->next;
    free(b);
  }
  free(x->live);
  free(x->bat);
  free(x->outs);
  free((void *)x->tname);
  free((void *)x->names);
  oe_vec *vs[] = {&x->nodes, &x->inits, &x->inputs, &x->outputs, &x->vinfo};
  for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++)
    free(vs[i]->v);
  memset(x, 0, sizeof *x);
}

tl_code oe_fail(oe *x, tl_code code, const char *fmt, ...) {
  if (x->err != TL_OK)
    return x->err; /* keep the first failure */
  char msg[TL_STATUS_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  x->err = code;
  return tl_fail(x->st, code, "onnx export: %s", msg);
}

void *oe_alloc(oe *x, size_t n) {
  if (x->err != TL_OK)
    return NULL;
  n = (n + 15) & ~(size_t)15;
  oe_block *b = x->arena;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > OE_BLOCK ? n : OE_BLOCK;
    b = malloc(sizeof *b + cap);
    if (!b) {
      oe_fail(x, TL_ENOMEM, "out of memory");
      return NULL;
    }
    b->cap = cap, b->used = 0;
    b->next = x->arena;
    x->arena = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *oe_strdup(oe *x, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = oe_alloc(x, n);
  if (d)
    memcpy(d, s, n);
  return d;
}

const char *oe_where(const oe *x, int id, char *buf, size_t cap) {
  const tl_node *n = &x->g->nodes[id];
  if (n->name)
    snprintf(buf, cap, "node %d (%s '%s')", id, tl_op_get(n->op)->name, n->name);
  else
    snprintf(buf, cap, "node %d (%s)", id, tl_op_get(n->op)->name);
  return buf;
}

/* ---- unique names ------------------------------------------------------------------------- */

static uint64_t name_hash(const char *s) { /* FNV-1a */
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* slot of s: where it is, or the empty slot where it would go */
static size_t name_slot(const oe *x, const char *s) {
  size_t i = (size_t)name_hash(s) & (x->names_cap - 1);
  while (x->names[i] && strcmp(x->names[i], s) != 0)
    i = (i + 1) & (x->names_cap - 1);
  return i;
}

static tl_code names_grow(oe *x) {
  size_t cap = x->names_cap ? 2 * x->names_cap : 256;
  const char **old = x->names;
  size_t oldcap = x->names_cap;
  x->names = calloc(cap, sizeof *x->names);
  if (!x->names) {
    x->names = old;
    return oe_fail(x, TL_ENOMEM, "out of memory");
  }
  x->names_cap = cap;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i])
      x->names[name_slot(x, old[i])] = old[i];
  free((void *)old);
  return TL_OK;
}

static int name_taken(const oe *x, const char *s) { return x->names_cap && x->names[name_slot(x, s)]; }

/* register s (an arena string not yet taken) */
static tl_code name_add(oe *x, const char *s) {
  if (2 * (x->names_n + 1) > x->names_cap && names_grow(x) != TL_OK)
    return x->err;
  x->names[name_slot(x, s)] = s;
  x->names_n++;
  return TL_OK;
}

const char *oe_name_exact(oe *x, const char *want) {
  if (x->err != TL_OK)
    return NULL;
  if (name_taken(x, want)) {
    oe_fail(x, TL_EARG, "two inputs or parameters are named '%s'", want);
    return NULL;
  }
  char *s = oe_strdup(x, want);
  return s && name_add(x, s) == TL_OK ? s : NULL;
}

const char *oe_name_unique(oe *x, const char *want) {
  if (x->err != TL_OK)
    return NULL;
  size_t n = strlen(want) + 24;
  char *s = oe_alloc(x, n);
  if (!s)
    return NULL;
  snprintf(s, n, "%s", want);
  for (long k = 2; name_taken(x, s); k++)
    snprintf(s, n, "%s_%ld", want, k);
  return name_add(x, s) == TL_OK ? s : NULL;
}

const char *oe_tmp(oe *x, int id, const char *what) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s/%s", x->tname[id], what);
  return oe_name_unique(x, buf);
}

/* ---- messages ------------------------------------------------------------------------------ */

void oe_push(oe *x, oe_vec *v, void *p) {
  if (x->err != TL_OK || !p)
    return;
  if (v->n == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 64;
    void **nv = realloc(v->v, cap * sizeof *nv);
    if (!nv) {
      oe_fail(x, TL_ENOMEM, "out of memory");
      return;
    }
    v->v = nv, v->cap = cap;
  }
  v->v[v->n++] = p;
}

Onnx__NodeProto *oe_node(oe *x, const char *op_type, const char *out, int nin, const char *const *in) {
  Onnx__NodeProto *n = oe_alloc(x, sizeof *n);
  char **ins = oe_alloc(x, (size_t)(nin > 0 ? nin : 1) * sizeof *ins);
  char **outs = oe_alloc(x, sizeof *outs);
  Onnx__AttributeProto **attrs = oe_alloc(x, OE_MAX_ATTRS * sizeof *attrs);
  if (!n || !ins || !outs || !attrs)
    return NULL;
  if (!out) {
    oe_fail(x, TL_EARG, "internal: an %s node has no output name", op_type);
    return NULL;
  }
  onnx__node_proto__init(n);
  for (int i = 0; i < nin; i++) {
    if (!in[i]) {
      oe_fail(x, TL_EARG, "internal: input %d of an %s node has no name", i, op_type);
      return NULL;
    }
    ins[i] = (char *)in[i];
  }
  outs[0] = (char *)out;
  n->n_input = (size_t)nin, n->input = ins;
  n->n_output = 1, n->output = outs;
  n->name = (char *)out;
  n->op_type = (char *)op_type;
  n->attribute = attrs;
  oe_push(x, &x->nodes, n);
  return x->err == TL_OK ? n : NULL;
}

static Onnx__AttributeProto *new_attr(oe *x, Onnx__NodeProto *n, const char *name,
                                      Onnx__AttributeProto__AttributeType type) {
  if (!n || x->err != TL_OK)
    return NULL;
  if (n->n_attribute == OE_MAX_ATTRS) {
    oe_fail(x, TL_EARG, "internal: too many attributes on %s", n->op_type);
    return NULL;
  }
  Onnx__AttributeProto *a = oe_alloc(x, sizeof *a);
  if (!a)
    return NULL;
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->has_type = 1, a->type = type;
  n->attribute[n->n_attribute++] = a;
  return a;
}

void oe_attr_int(oe *x, Onnx__NodeProto *n, const char *name, int64_t v) {
  Onnx__AttributeProto *a = new_attr(x, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  if (a)
    a->has_i = 1, a->i = v;
}

void oe_attr_float(oe *x, Onnx__NodeProto *n, const char *name, float v) {
  Onnx__AttributeProto *a = new_attr(x, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  if (a)
    a->has_f = 1, a->f = v;
}

void oe_attr_ints(oe *x, Onnx__NodeProto *n, const char *name, int count, const int64_t *v) {
  Onnx__AttributeProto *a = new_attr(x, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  int64_t *d = oe_alloc(x, (size_t)(count > 0 ? count : 1) * sizeof *d);
  if (!a || !d)
    return;
  if (count > 0)
    memcpy(d, v, (size_t)count * sizeof *d);
  a->n_ints = (size_t)count, a->ints = d;
}

/* element i of width w bytes (4: float32 bits, 8: int64) stored little-endian at out */
static void put_le(unsigned char *out, const void *data, size_t i, size_t w) {
  uint64_t u = 0;
  if (w == 4) {
    uint32_t v;
    memcpy(&v, (const unsigned char *)data + 4 * i, 4);
    u = v;
  } else {
    memcpy(&u, (const unsigned char *)data + 8 * i, 8);
  }
  for (size_t k = 0; k < w; k++)
    out[k] = (unsigned char)(u >> (8 * k));
}

tl_code oe_initializer(oe *x, const char *name, int dtype, int ndim, const int64_t *dims, const void *data) {
  size_t w = dtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ? 8 : 4, count = 1;
  for (int i = 0; i < ndim; i++)
    count *= (size_t)dims[i];
  Onnx__TensorProto *t = oe_alloc(x, sizeof *t);
  int64_t *d = oe_alloc(x, (size_t)(ndim > 0 ? ndim : 1) * sizeof *d);
  unsigned char *raw = oe_alloc(x, count * w + 1);
  if (!t || !d || !raw || !name)
    return x->err != TL_OK ? x->err : oe_fail(x, TL_EARG, "internal: initializer without a name");
  onnx__tensor_proto__init(t);
  if (ndim > 0) /* a scalar passes dims = NULL */
    memcpy(d, dims, (size_t)ndim * sizeof *d);
  for (size_t i = 0; i < count; i++)
    put_le(raw + i * w, data, i, w);
  t->name = (char *)name;
  t->n_dims = (size_t)ndim, t->dims = d;
  t->has_data_type = 1, t->data_type = dtype;
  t->has_raw_data = 1, t->raw_data.len = count * w, t->raw_data.data = raw;
  oe_push(x, &x->inits, t);
  return x->err;
}

const char *oe_const_f32(oe *x, int id, const char *what, float v) {
  const char *name = oe_tmp(x, id, what);
  return oe_initializer(x, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, &v) == TL_OK ? name : NULL;
}

const char *oe_const_i64(oe *x, int id, const char *what, int count, const int64_t *v) {
  const char *name = oe_tmp(x, id, what);
  int64_t dim = count;
  return oe_initializer(x, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, &dim, v) == TL_OK ? name : NULL;
}

Onnx__ValueInfoProto *oe_value_info(oe *x, const char *name, int ndim, const int64_t *shape, int sym0) {
  Onnx__ValueInfoProto *vi = oe_alloc(x, sizeof *vi);
  Onnx__TypeProto *tp = oe_alloc(x, sizeof *tp);
  Onnx__TypeProto__Tensor *tt = oe_alloc(x, sizeof *tt);
  Onnx__TensorShapeProto *sp = oe_alloc(x, sizeof *sp);
  Onnx__TensorShapeProto__Dimension *dims = oe_alloc(x, (size_t)(ndim > 0 ? ndim : 1) * sizeof *dims);
  Onnx__TensorShapeProto__Dimension **dp = oe_alloc(x, (size_t)(ndim > 0 ? ndim : 1) * sizeof *dp);
  if (!vi || !tp || !tt || !sp || !dims || !dp)
    return NULL;
  onnx__value_info_proto__init(vi);
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  onnx__tensor_shape_proto__init(sp);
  for (int i = 0; i < ndim; i++) {
    onnx__tensor_shape_proto__dimension__init(&dims[i]);
    if (i == 0 && sym0) {
      dims[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dims[i].dim_param = (char *)x->batch_name;
    } else {
      dims[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dims[i].dim_value = shape[i];
    }
    dp[i] = &dims[i];
  }
  sp->n_dim = (size_t)ndim, sp->dim = dp;
  tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt->shape = sp;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  vi->name = (char *)name;
  vi->type = tp;
  return vi;
}

/* ---- the model ---------------------------------------------------------------------------- */

static Onnx__StringStringEntryProto *meta(oe *x, const char *key, const char *value) {
  Onnx__StringStringEntryProto *e = oe_alloc(x, sizeof *e);
  if (e) {
    onnx__string_string_entry_proto__init(e);
    e->key = oe_strdup(x, key);
    e->value = oe_strdup(x, value);
  }
  return e;
}

static void fill_graph(Onnx__GraphProto *gp, const oe *x) {
  onnx__graph_proto__init(gp);
  gp->name = "torchlean";
  gp->n_node = x->nodes.n, gp->node = (Onnx__NodeProto **)x->nodes.v;
  gp->n_initializer = x->inits.n, gp->initializer = (Onnx__TensorProto **)x->inits.v;
  gp->n_input = x->inputs.n, gp->input = (Onnx__ValueInfoProto **)x->inputs.v;
  gp->n_output = x->outputs.n, gp->output = (Onnx__ValueInfoProto **)x->outputs.v;
  gp->n_value_info = x->vinfo.n, gp->value_info = (Onnx__ValueInfoProto **)x->vinfo.v;
}

tl_code oe_pack(oe *x, void **buf, size_t *len) {
  Onnx__GraphProto *gp = oe_alloc(x, sizeof *gp);
  Onnx__ModelProto *m = oe_alloc(x, sizeof *m);
  Onnx__OperatorSetIdProto *op = oe_alloc(x, sizeof *op), **ops = oe_alloc(x, sizeof *ops);
  Onnx__StringStringEntryProto **md = oe_alloc(x, 2 * sizeof *md);
  char hex[65], batch[96];
  snprintf(batch, sizeof batch, x->symbolic ? "symbolic '%s'" : "fixed", x->batch_name);
  if (md) {
    md[0] = meta(x, "torchlean.graph_sha256", tl_graph_hash_hex(x->g, hex));
    md[1] = meta(x, "torchlean.batch", batch);
  }
  if (x->err != TL_OK)
    return x->err;
  fill_graph(gp, x);
  onnx__operator_set_id_proto__init(op);
  op->domain = "";
  op->has_version = 1, op->version = OE_OPSET;
  ops[0] = op;
  onnx__model_proto__init(m);
  m->has_ir_version = 1, m->ir_version = OE_IR_VERSION;
  m->n_opset_import = 1, m->opset_import = ops;
  m->producer_name = "torchlean";
  m->producer_version = TL_PROJECT_VERSION;
  m->graph = gp;
  m->n_metadata_props = 2, m->metadata_props = md;
  size_t n = onnx__model_proto__get_packed_size(m);
  if (n > (size_t)INT32_MAX) /* protobuf's 2 GiB message limit; external data is not written */
    return oe_fail(x, TL_EUNSUPPORTED, "the model needs %zu bytes, over protobuf's 2 GiB limit", n);
  *buf = malloc(n ? n : 1);
  if (!*buf)
    return oe_fail(x, TL_ENOMEM, "out of memory for %zu bytes", n);
  *len = onnx__model_proto__pack(m, *buf);
  if (*len != n) {
    free(*buf);
    *buf = NULL;
    return oe_fail(x, TL_EARG, "internal: packed %zu bytes, expected %zu", *len, n);
  }
  return TL_OK;
}
