/* interop/onnx_export.c - ONNX export (include/torchlean/onnx.h): plan the graph
 * (onnx_export_plan.c), write inputs, initializers and one rule per op node (onnx_export_ops.c),
 * then pack the ModelProto (onnx_export_proto.c) and write it atomically. */
#include <stdio.h>
#include <stdlib.h>

#include "interop/onnx_export_internal.h"
#include "torchlean/io.h"

tl_onnx_export_opts tl_onnx_export_opts_default(void) {
  tl_onnx_export_opts o = {0, "N"};
  return o;
}

/* graph output k: the node's own tensor, or an Identity of it when the node is an input or a
 * parameter (an ONNX output is produced by a node) or an earlier output already shows it (so the
 * outputs keep their number and order) */
static void write_output(oe *x, int k) {
  int id = x->outs[k], again = 0;
  for (int j = 0; j < k; j++)
    again |= x->outs[j] == id;
  const tl_node *n = &x->g->nodes[id];
  const char *name = x->tname[id];
  if (again || n->op == TL_OP_INPUT || n->op == TL_OP_PARAM) {
    char want[512];
    snprintf(want, sizeof want, "%s_output", name);
    const char *in[1] = {name};
    name = oe_name_unique(x, want);
    oe_node(x, "Identity", name, 1, in);
  }
  oe_push(x, &x->outputs, oe_value_info(x, name, n->ndim, n->shape, oe_sym0(x, id)));
}

static int is_output(const oe *x, int id) {
  for (int k = 0; k < x->nouts; k++)
    if (x->outs[k] == id)
      return 1;
  return 0;
}

static tl_code write_graph(oe *x) {
  const tl_graph *g = x->g;
  for (int i = 0; i < g->nnodes && x->err == TL_OK; i++) {
    const tl_node *n = &g->nodes[i];
    if (!x->live[i])
      continue;
    if (n->op == TL_OP_INPUT) {
      oe_push(x, &x->inputs, oe_value_info(x, x->tname[i], n->ndim, n->shape, oe_sym0(x, i)));
    } else if (n->op == TL_OP_PARAM) {
      oe_initializer(x, x->tname[i], ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, n->ndim, n->shape,
                     g->weights + n->woff);
    } else if (oe_emit(x, i) == TL_OK && !is_output(x, i)) {
      oe_push(x, &x->vinfo, oe_value_info(x, x->tname[i], n->ndim, n->shape, oe_sym0(x, i)));
    }
  }
  for (int k = 0; k < x->nouts && x->err == TL_OK; k++)
    write_output(x, k);
  return x->err;
}

tl_code tl_onnx_export_buffer(const tl_graph *g, const tl_onnx_export_opts *opts, void **buf, size_t *len,
                              tl_onnx_export_info *info, tl_status *st) {
  if (!g || !buf || !len)
    return tl_fail(st, TL_EARG, "onnx export: NULL argument");
  *buf = NULL, *len = 0;
  tl_onnx_export_opts def = tl_onnx_export_opts_default();
  TL_TRY(tl_graph_validate(g, st));
  oe x;
  oe_init(&x, g, st);
  if (oe_plan(&x, opts ? opts : &def) == TL_OK && write_graph(&x) == TL_OK &&
      oe_pack(&x, buf, len) == TL_OK && info) {
    info->symbolic_batch = x.symbolic;
    info->nnodes = (int)x.nodes.n;
    info->ninitializers = (int)x.inits.n;
    info->losses_dropped = x.losses_dropped;
    info->bytes = *len;
  }
  tl_code rc = x.err;
  oe_free(&x);
  return rc;
}

tl_code tl_onnx_export_ex(const char *path, const tl_graph *g, const tl_onnx_export_opts *opts,
                          tl_onnx_export_info *info, tl_status *st) {
  void *buf;
  size_t len;
  if (!path)
    return tl_fail(st, TL_EARG, "onnx export: NULL path");
  tl_code rc = tl_onnx_export_buffer(g, opts, &buf, &len, info, st);
  if (rc != TL_OK) {
    tl_status_prefix(st, "%s: ", path);
    return rc;
  }
  rc = tl_write_file_atomic(path, buf, len, st);
  free(buf);
  return rc;
}

tl_code tl_onnx_export(const char *path, const tl_graph *g, tl_status *st) {
  return tl_onnx_export_ex(path, g, NULL, NULL, st);
}
