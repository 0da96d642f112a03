/* interop/onnx_import_values.c - the importer's value table (ONNX name -> graph node and/or
 * constant), PARAM materialisation and node creation with messages that name the ONNX node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_internal.h"

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

ox_value *ox_find(ox_ctx *c, const char *name) {
  if (!c->hcap || !name)
    return NULL;
  for (uint32_t i = hash_str(name) & (uint32_t)(c->hcap - 1);; i = (i + 1) & (uint32_t)(c->hcap - 1)) {
    int k = c->hash[i];
    if (k < 0)
      return NULL;
    if (strcmp(c->vals[k].name, name) == 0)
      return &c->vals[k];
  }
}

static tl_code rehash(ox_ctx *c, int cap, tl_status *st) {
  int *h = malloc((size_t)cap * sizeof *h);
  if (!h)
    return tl_fail(st, TL_ENOMEM, "out of memory");
  for (int i = 0; i < cap; i++)
    h[i] = -1;
  for (int k = 0; k < c->nvals; k++) {
    uint32_t i = hash_str(c->vals[k].name) & (uint32_t)(cap - 1);
    while (h[i] >= 0)
      i = (i + 1) & (uint32_t)(cap - 1);
    h[i] = k;
  }
  free(c->hash);
  c->hash = h;
  c->hcap = cap;
  return TL_OK;
}

tl_code ox_define(ox_ctx *c, const char *name, ox_value **out) {
  if (ox_find(c, name))
    return tl_fail(c->st, TL_EFORMAT, "value '%.200s' is defined twice", name);
  if (c->nvals == c->cap) {
    if (c->cap > (1 << 28))
      return tl_fail(c->st, TL_ENOMEM, "too many values");
    int cap = c->cap ? 2 * c->cap : 64;
    ox_value *v = realloc(c->vals, (size_t)cap * sizeof *v);
    if (!v)
      return tl_fail(c->st, TL_ENOMEM, "out of memory");
    c->vals = v;
    c->cap = cap;
  }
  if (2 * (c->nvals + 1) > c->hcap)
    TL_TRY(rehash(c, c->hcap ? 2 * c->hcap : 128, c->st));
  ox_value *v = &c->vals[c->nvals];
  *v = (ox_value){name, -1, NULL, 0, -1};
  uint32_t i = hash_str(name) & (uint32_t)(c->hcap - 1);
  while (c->hash[i] >= 0)
    i = (i + 1) & (uint32_t)(c->hcap - 1);
  c->hash[i] = c->nvals++;
  *out = v;
  return TL_OK;
}

/* output k of n, declared by predefine_outputs and not yet computed */
static tl_code out_value(ox_ctx *c, const Onnx__NodeProto *n, size_t k, ox_value **out) {
  if (k >= n->n_output || !n->output[k][0])
    return ox_fail(c, n, TL_EFORMAT, "output %zu is missing", k);
  ox_value *v = ox_find(c, n->output[k]);
  if (!v || v->id != -2 || v->c)
    return ox_fail(c, n, TL_EFORMAT, "output '%.200s' is defined twice", n->output[k]);
  *out = v;
  return TL_OK;
}

tl_code ox_bind_node(ox_ctx *c, const Onnx__NodeProto *n, size_t k, int id) {
  ox_value *v = NULL;
  TL_TRY(out_value(c, n, k, &v));
  v->id = id;
  return TL_OK;
}

tl_code ox_bind_const(ox_ctx *c, const Onnx__NodeProto *n, size_t k, ox_tensor *t) {
  ox_value *v = NULL;
  tl_code rc = out_value(c, n, k, &v);
  if (rc != TL_OK) {
    ox_tensor_free(t);
    return rc;
  }
  v->id = -1;
  v->c = t;
  return TL_OK;
}

tl_code ox_input(ox_ctx *c, const Onnx__NodeProto *n, size_t k, ox_value **out) {
  *out = NULL;
  if (k >= n->n_input || !n->input[k][0])
    return TL_OK;
  ox_value *v = ox_find(c, n->input[k]);
  if (!v)
    return ox_fail(c, n, TL_EFORMAT, "input '%.200s' is not defined", n->input[k]);
  if (v->id == -2 && !v->c)
    return ox_fail(c, n, TL_EFORMAT,
                   "input '%.200s' is used before the node computing it (nodes not in "
                   "topological order)",
                   n->input[k]);
  *out = v;
  return TL_OK;
}

/* a name not yet used by a graph node: base, then base#1, base#2, ... */
static void unique_name(const tl_graph *g, const char *base, char *buf, size_t cap) {
  snprintf(buf, cap, "%.200s", base && base[0] ? base : "const");
  for (int k = 1; tl_graph_find(g, buf) >= 0; k++)
    snprintf(buf, cap, "%.200s#%d", base && base[0] ? base : "const", k);
}

tl_code ox_param(ox_ctx *c, const char *base, tl_param_kind kind, const ox_tensor *t, int *id) {
  /* run-time values are float32: an integer tensor reaching one would change the model's types */
  if (t->dt != OX_F32)
    return tl_fail(c->st, TL_EUNSUPPORTED, "integer tensor '%.200s' used as a float32 value", base);
  char name[256];
  unique_name(c->g, base, name, sizeof name);
  return tl_graph_param(c->g, name, kind, t->ndim, t->shape, t->f, id, c->st);
}

tl_code ox_input_node(ox_ctx *c, const Onnx__NodeProto *n, size_t k, tl_param_kind kind, int *id) {
  ox_value *v = NULL;
  TL_TRY(ox_input(c, n, k, &v));
  if (!v)
    return ox_fail(c, n, TL_EFORMAT, "input %zu is missing", k);
  if (v->id < 0) {
    tl_code rc = ox_param(c, v->name, kind, v->c, &v->id);
    if (rc != TL_OK)
      return ox_fail(c, n, rc, "%s", c->st ? c->st->msg : "constant");
  }
  *id = v->id;
  return TL_OK;
}

tl_code ox_input_const(ox_ctx *c, const Onnx__NodeProto *n, size_t k, const char *what, ox_tensor **out) {
  ox_value *v = NULL;
  TL_TRY(ox_input(c, n, k, &v));
  if (!v)
    return ox_fail(c, n, TL_EFORMAT, "%s (input %zu) is missing", what, k);
  if (!v->c)
    return ox_fail(c, n, TL_EUNSUPPORTED, "%s '%.200s' is computed at run time (only constants are imported)",
                   what, v->name);
  *out = v->c;
  return TL_OK;
}

tl_code ox_op(ox_ctx *c, tl_op op, int np, const int *parents, const tl_attrs *a, int *id) {
  tl_code rc = tl_graph_op(c->g, op, np, parents, a, id, c->st);
  if (rc != TL_OK && c->cur < c->gp->n_node) {
    char msg[TL_STATUS_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", c->st ? c->st->msg : "");
    return ox_fail(c, c->gp->node[c->cur], rc, "%s", msg);
  }
  return rc;
}

tl_code ox_reshape(ox_ctx *c, int id, int ndim, const int64_t *shape, int *out) {
  const tl_node *x = &c->g->nodes[id];
  if (x->ndim == ndim && memcmp(x->shape, shape, (size_t)ndim * sizeof *shape) == 0) {
    *out = id;
    return TL_OK;
  }
  tl_attrs a = tl_attrs_default(TL_OP_RESHAPE);
  a.nlist = ndim;
  a.list = (int64_t *)shape;
  return ox_op(c, TL_OP_RESHAPE, 1, &id, &a, out);
}

void ox_shape(ox_ctx *c, const ox_value *v, int *ndim, const int64_t **shape) {
  if (v->c) {
    *ndim = v->c->ndim;
    *shape = v->c->shape;
  } else {
    *ndim = c->g->nodes[v->id].ndim;
    *shape = c->g->nodes[v->id].shape;
  }
}
