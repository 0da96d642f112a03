/* ir/summary.c - a per-layer model summary in TorchLean's style:
 *   input x: [64, 784]
 *   [2] Linear(784, 128): [64, 784] -> [64, 128] params=100480
 *   total params=101770 trainable=101770
 * The index is the node id.  Attributes come from the op registry's schema: those that differ
 * from the op's defaults are shown as name=value. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ir/model_internal.h"
#include "torchlean/model_file.h"
#include "torchlean/tensor.h"

/* "max_pool2d" -> "MaxPool2d" */
static void camel(const char *name, char *out, size_t cap) {
  size_t k = 0;
  int up = 1;
  for (const char *c = name; *c && k + 1 < cap; c++) {
    if (*c == '_') {
      up = 1;
      continue;
    }
    out[k++] = up ? (char)toupper((unsigned char)*c) : *c;
    up = 0;
  }
  out[k] = '\0';
}

static void put_attr(tl_sb *b, const tl_node *n, const tl_attr_field *f, const tl_attrs *def) {
  tl_attrs a = n->attrs, d = *def;
  switch (f->type) {
  case TL_ATTR_INT:
    if (*tl_attr_int_ptr(&a, f) != *tl_attr_int_ptr(&d, f))
      tl_sb_printf(b, ", %s=%lld", f->name, (long long)*tl_attr_int_ptr(&a, f));
    break;
  case TL_ATTR_INT2: {
    int64_t *x = tl_attr_int_ptr(&a, f), *y = tl_attr_int_ptr(&d, f);
    if (x[0] != y[0] || x[1] != y[1])
      tl_sb_printf(b, ", %s=(%lld, %lld)", f->name, (long long)x[0], (long long)x[1]);
    break;
  }
  case TL_ATTR_FLOAT:
    if (memcmp(tl_attr_float_ptr(&a, f), tl_attr_float_ptr(&d, f), sizeof(double)) != 0)
      tl_sb_printf(b, ", %s=%.9g", f->name, *tl_attr_float_ptr(&a, f));
    break;
  case TL_ATTR_LIST:
    tl_sb_printf(b, ", %s=(", f->name);
    for (int k = 0; k < a.nlist; k++)
      tl_sb_printf(b, k ? ", %lld" : "%lld", (long long)a.list[k]);
    tl_sb_puts(b, ")");
    break;
  }
}

static void node_line(tl_sb *b, const tl_graph *g, int i) {
  const tl_node *n = &g->nodes[i];
  const tl_op_info *info = tl_op_get(n->op);
  char name[64], s[160];
  camel(info->name, name, sizeof name);
  tl_sb_printf(b, "[%d] %s(", i, name);
  /* the defining sizes of weight-carrying layers come from their weight's shape */
  tl_sb sub = {0};
  const tl_node *w = n->nparents > 1 ? &g->nodes[n->parents[1]] : NULL;
  if (n->op == TL_OP_LINEAR && w->ndim == 2)
    tl_sb_printf(&sub, ", %lld, %lld", (long long)w->shape[1], (long long)w->shape[0]);
  else if (n->op == TL_OP_CONV2D && w->ndim == 4)
    tl_sb_printf(&sub, ", %lld, %lld, kernel=(%lld, %lld)", (long long)(w->shape[1] * n->attrs.groups),
                 (long long)w->shape[0], (long long)w->shape[2], (long long)w->shape[3]);
  tl_attrs def = tl_attrs_default(n->op);
  for (const tl_attr_field *f = info->attrs; f->name; f++)
    put_attr(&sub, n, f, &def);
  if (sub.p)
    tl_sb_puts(b, sub.p + 2);
  free(sub.p);
  tl_sb_puts(b, "): ");
  int64_t params = 0, first = 1;
  for (int k = 0; k < n->nparents; k++) {
    const tl_node *p = &g->nodes[n->parents[k]];
    if (p->op == TL_OP_PARAM) {
      params += p->numel;
      continue;
    }
    tl_sb_printf(b, "%s%s", first ? "" : ", ", tl_shape_str(p->ndim, p->shape, s, sizeof s));
    first = 0;
  }
  tl_sb_printf(b, " -> %s params=%lld\n", tl_shape_str(n->ndim, n->shape, s, sizeof s), (long long)params);
}

tl_code tl_graph_summary(const tl_graph *g, FILE *out, tl_status *st) {
  tl_sb b = {0};
  int64_t counts[3] = {0, 0, 0};
  char s[160];
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op == TL_OP_INPUT)
      tl_sb_printf(&b, "input %s: %s\n", n->name ? n->name : "?",
                   tl_shape_str(n->ndim, n->shape, s, sizeof s));
    else if (n->op == TL_OP_PARAM)
      counts[n->pkind] += n->numel;
    else
      node_line(&b, g, i);
  }
  tl_sb_printf(&b, "total params=%lld trainable=%lld", (long long)(counts[0] + counts[1] + counts[2]),
               (long long)counts[0]);
  if (counts[1])
    tl_sb_printf(&b, " buffers=%lld", (long long)counts[1]);
  if (counts[2])
    tl_sb_printf(&b, " constants=%lld", (long long)counts[2]);
  tl_sb_puts(&b, "\n");
  if (b.oom) {
    free(b.p);
    return tl_fail(st, TL_ENOMEM, "summary: out of memory");
  }
  tl_code rc = TL_OK;
  if (fwrite(b.p, 1, b.n, out) != b.n || fflush(out) != 0)
    rc = tl_fail(st, TL_EIO, "summary: write failed: %s", strerror(errno));
  free(b.p);
  return rc;
}
