/* interop/onnx_import.c - ONNX import: the model and graph level (opset, initializers, inputs,
 * outputs, the walk over the nodes).  Ops are mapped in onnx_import_ops.c / _nn.c / _shape.c,
 * constants folded in onnx_fold.c; docs/onnx.md lists what is imported and what is refused. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_internal.h"
#include "torchlean/io.h"
#include "torchlean/onnx.h"

tl_code ox_fail(ox_ctx *c, const Onnx__NodeProto *n, tl_code code, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!n)
    return tl_fail(c->st, code, "%s", msg);
  const char *nm = n->name && n->name[0] ? n->name : NULL;
  return tl_fail(c->st, code, "node %zu%s%.200s%s (%.64s, opset %lld): %s", c->cur, nm ? " '" : "",
                 nm ? nm : "", nm ? "'" : "", n->op_type ? n->op_type : "?", (long long)c->opset, msg);
}

/* The default-domain opset (7..18 imported). */
static tl_code read_opset(ox_ctx *c, const Onnx__ModelProto *m) {
  c->opset = -1;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0)
      c->opset = o->version;
  }
  if (c->opset < 0)
    return tl_fail(c->st, TL_EFORMAT, "the model imports no default-domain opset");
  if (c->opset < 7 || c->opset > 18)
    return tl_fail(c->st, TL_EUNSUPPORTED, "opset %lld is not supported (opsets 7 to 18 are imported)",
                   (long long)c->opset);
  return TL_OK;
}

static tl_code load_initializers(ox_ctx *c) {
  const Onnx__GraphProto *gp = c->gp;
  if (gp->n_sparse_initializer)
    return tl_fail(c->st, TL_EUNSUPPORTED, "sparse initializers are not supported");
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    char where[300];
    snprintf(where, sizeof where, "initializer %zu '%.200s'", i, tp->name ? tp->name : "");
    if (!tp->name || !tp->name[0])
      return tl_fail(c->st, TL_EFORMAT, "%s: no name", where);
    ox_tensor *t = NULL;
    TL_TRY(ox_tensor_from_proto(tp, where, &t, c->st));
    ox_value *v = NULL;
    tl_code rc = ox_define(c, tp->name, &v);
    if (rc != TL_OK) {
      ox_tensor_free(t);
      return rc;
    }
    v->c = t;
  }
  return TL_OK;
}

/* Dimensions of a graph input: symbolic, unknown or 0 batch dimension (axis 0) taken as 1. */
static tl_code input_shape(ox_ctx *c, const Onnx__ValueInfoProto *vi, int *ndim, int64_t *shape) {
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
    return tl_fail(c->st, TL_EUNSUPPORTED, "input '%.200s': not a tensor", vi->name);
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return tl_fail(c->st, TL_EUNSUPPORTED, "input '%.200s': element type %d (only float32 inputs)", vi->name,
                   (int)tt->elem_type);
  if (!tt->shape)
    return tl_fail(c->st, TL_EUNSUPPORTED, "input '%.200s': no shape given", vi->name);
  if (tt->shape->n_dim > OX_MAXDIM)
    return tl_fail(c->st, TL_EUNSUPPORTED, "input '%.200s': rank %zu (at most %d)", vi->name,
                   tt->shape->n_dim, OX_MAXDIM);
  *ndim = (int)tt->shape->n_dim;
  for (int k = 0; k < *ndim; k++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
    int known = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    if (known && d->dim_value > 0 && d->dim_value <= ((int64_t)1 << 32))
      shape[k] = d->dim_value;
    else if (k == 0 && (!known || d->dim_value == 0))
      shape[k] = 1; /* batch dimension: symbolic, unk__N, missing or 0 */
    else
      return tl_fail(c->st, TL_EUNSUPPORTED,
                     "input '%.200s': dimension %d is %s (only the batch axis may be "
                     "symbolic)",
                     vi->name, k, known ? "out of range" : "symbolic");
  }
  return TL_OK;
}

/* Graph inputs: those with an initializer are weights (MATLAB lists them too), the rest INPUTs. */
static tl_code load_inputs(ox_ctx *c) {
  for (size_t i = 0; i < c->gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = c->gp->input[i];
    if (!vi->name || !vi->name[0])
      return tl_fail(c->st, TL_EFORMAT, "graph input %zu has no name", i);
    ox_value *v = ox_find(c, vi->name);
    if (v && v->c)
      continue;
    int ndim = 0;
    int64_t shape[OX_MAXDIM];
    TL_TRY(input_shape(c, vi, &ndim, shape));
    TL_TRY(ox_define(c, vi->name, &v));
    TL_TRY(tl_graph_input(c->g, vi->name, ndim, shape, &v->id, c->st));
  }
  if (c->g->ninputs == 0)
    return tl_fail(c->st, TL_EUNSUPPORTED, "the graph has no input without an initializer");
  return TL_OK;
}

/* uses and last consumer of every value named by a node input or a graph output */
static void count_uses(ox_ctx *c) {
  const Onnx__GraphProto *gp = c->gp;
  for (size_t i = 0; i < gp->n_node; i++)
    for (size_t k = 0; k < gp->node[i]->n_input; k++) {
      ox_value *v = ox_find(c, gp->node[i]->input[k]);
      if (v)
        v->uses++, v->consumer = (int)i;
    }
  for (size_t i = 0; i < gp->n_output; i++) {
    ox_value *v = ox_find(c, gp->output[i]->name);
    if (v)
      v->uses++, v->consumer = -1;
  }
}

/* Values are defined as the walk goes; count uses once every output name exists. */
static tl_code predefine_outputs(ox_ctx *c) {
  for (size_t i = 0; i < c->gp->n_node; i++) {
    const Onnx__NodeProto *n = c->gp->node[i];
    for (size_t k = 0; k < n->n_output; k++) {
      if (!n->output[k][0] || ox_find(c, n->output[k]))
        continue; /* duplicates are reported when the node binds it */
      ox_value *v = NULL;
      TL_TRY(ox_define(c, n->output[k], &v));
      v->id = -2; /* declared, not yet computed */
    }
  }
  count_uses(c);
  return TL_OK;
}

/* Nodes whose outputs reach no graph output are skipped (done): they cannot change the function, so
 * an unused branch is neither imported nor refused. */
static tl_code mark_dead(ox_ctx *c) {
  unsigned char *need = calloc((size_t)c->nvals + 1, 1);
  if (!need)
    return tl_fail(c->st, TL_ENOMEM, "out of memory");
  for (size_t i = 0; i < c->gp->n_output; i++) {
    ox_value *v = ox_find(c, c->gp->output[i]->name);
    if (v)
      need[v - c->vals] = 1;
  }
  for (size_t i = c->gp->n_node; i-- > 0;) {
    const Onnx__NodeProto *n = c->gp->node[i];
    int live = 0;
    for (size_t k = 0; k < n->n_output && !live; k++) {
      ox_value *v = ox_find(c, n->output[k]);
      live = v && need[v - c->vals];
    }
    c->done[i] = !live;
    for (size_t k = 0; live && k < n->n_input; k++) {
      ox_value *v = ox_find(c, n->input[k]);
      if (v)
        need[v - c->vals] = 1;
    }
  }
  free(need);
  return TL_OK;
}

static tl_code import_node(ox_ctx *c, const Onnx__NodeProto *n) {
  if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
    return ox_fail(c, n, TL_EUNSUPPORTED, "operator domain '%.64s' is not supported", n->domain);
  if (!n->op_type)
    return ox_fail(c, n, TL_EFORMAT, "no op type");
  int folded = 0;
  TL_TRY(ox_fold(c, n, &folded));
  if (folded)
    return TL_OK;
  ox_mapper m = ox_mapper_for(n->op_type);
  if (!m)
    return ox_fail(c, n, TL_EUNSUPPORTED, "op %.64s is not supported by the importer", n->op_type);
  return m(c, n);
}

static tl_code import_outputs(ox_ctx *c) {
  if (c->gp->n_output == 0)
    return tl_fail(c->st, TL_EFORMAT, "the graph has no output");
  for (size_t i = 0; i < c->gp->n_output; i++) {
    const char *name = c->gp->output[i]->name;
    ox_value *v = name ? ox_find(c, name) : NULL;
    if (!v || v->id == -2)
      return tl_fail(c->st, TL_EFORMAT, "graph output '%.200s' is not computed by any node",
                     name ? name : "");
    int id = v->id;
    if (id < 0)
      TL_TRY(ox_param(c, name, TL_PARAM_CONSTANT, v->c, &id));
    v->id = id;
    TL_TRY(tl_graph_mark_output(c->g, id, c->st));
    if (!c->g->nodes[id].name && tl_graph_find(c->g, name) < 0)
      TL_TRY(tl_graph_set_name(c->g, id, name, c->st));
  }
  return TL_OK;
}

static tl_code import_graph(ox_ctx *c) {
  TL_TRY(load_initializers(c));
  TL_TRY(load_inputs(c));
  TL_TRY(predefine_outputs(c));
  c->done = calloc(c->gp->n_node ? c->gp->n_node : 1, 1);
  if (!c->done)
    return tl_fail(c->st, TL_ENOMEM, "out of memory");
  TL_TRY(mark_dead(c));
  for (c->cur = 0; c->cur < c->gp->n_node; c->cur++)
    if (!c->done[c->cur])
      TL_TRY(import_node(c, c->gp->node[c->cur]));
  TL_TRY(import_outputs(c));
  return tl_graph_validate(c->g, c->st);
}

static void ctx_free(ox_ctx *c) {
  for (int i = 0; i < c->nvals; i++)
    ox_tensor_free(c->vals[i].c);
  free(c->vals);
  free(c->hash);
  free(c->done);
  tl_graph_free(c->g);
}

static tl_code import_model(const Onnx__ModelProto *m, tl_graph **out, tl_status *st) {
  ox_ctx c;
  memset(&c, 0, sizeof c);
  c.st = st;
  if (!m->graph)
    return tl_fail(st, TL_EFORMAT, "the model has no graph");
  if (m->n_functions)
    return tl_fail(st, TL_EUNSUPPORTED, "model-local functions are not supported");
  c.gp = m->graph;
  TL_TRY(read_opset(&c, m));
  c.g = tl_graph_new();
  if (!c.g)
    return tl_fail(st, TL_ENOMEM, "out of memory");
  tl_code rc = import_graph(&c);
  if (rc == TL_OK) {
    *out = c.g;
    c.g = NULL;
  }
  ctx_free(&c);
  return rc;
}

/* "NAME: message" on one line: names taken from the file may hold control characters */
static void one_line(tl_status *st, const char *name) {
  tl_status_prefix(st, "%s: ", name);
  if (!st)
    return;
  for (char *p = st->msg; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
}

tl_code tl_onnx_import_buffer(const void *data, size_t n, const char *name, tl_graph **out, tl_status *st) {
  *out = NULL;
  if (!name)
    name = "onnx";
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, data);
  if (!m) {
    tl_fail(st, TL_EFORMAT, "not a valid ONNX protobuf (ModelProto) of %zu bytes", n);
    one_line(st, name);
    return TL_EFORMAT;
  }
  tl_code rc = import_model(m, out, st);
  onnx__model_proto__free_unpacked(m, NULL);
  if (rc != TL_OK)
    one_line(st, name);
  return rc;
}

tl_code tl_onnx_import(const char *path, tl_graph **out, tl_status *st) {
  *out = NULL;
  void *buf;
  size_t len;
  TL_TRY(tl_read_file(path, &buf, &len, st));
  tl_code rc = tl_onnx_import_buffer(buf, len, path, out, st);
  free(buf);
  return rc;
}

int tl_onnx_sniff_buffer(const void *data, size_t n) {
  if (n == 0)
    return 0;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, data);
  int ok = m && m->graph && m->n_opset_import > 0;
  if (m)
    onnx__model_proto__free_unpacked(m, NULL);
  return ok;
}

int tl_onnx_sniff(const char *path) {
  void *buf;
  size_t len;
  if (tl_read_file(path, &buf, &len, NULL) != TL_OK)
    return 0;
  int ok = tl_onnx_sniff_buffer(buf, len);
  free(buf);
  return ok;
}
