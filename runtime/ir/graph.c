/* ir/graph.c - building, copying and validating the graph IR (see graph.h). */
#include "torchlean/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/tensor.h"

tl_graph *tl_graph_new(void) { return calloc(1, sizeof(tl_graph)); }

static void node_clear(tl_node *n) {
  free(n->parents);
  free(n->shape);
  free(n->attrs.list);
  free(n->name);
}

void tl_graph_free(tl_graph *g) {
  if (!g)
    return;
  for (int i = 0; i < g->nnodes; i++)
    node_clear(&g->nodes[i]);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->weights);
  free(g);
}

static char *dup_str(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static void *dup_mem(const void *p, size_t n) {
  if (!p || n == 0)
    return NULL;
  void *d = malloc(n);
  if (d)
    memcpy(d, p, n);
  return d;
}

/* Append an empty node; returns its pointer or NULL when out of memory. */
static tl_node *push_node(tl_graph *g, tl_status *st) {
  if (g->nnodes == g->cap) {
    int cap = g->cap ? 2 * g->cap : 16;
    tl_node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
    if (!nodes) {
      tl_fail(st, TL_ENOMEM, "graph: out of memory");
      return NULL;
    }
    g->nodes = nodes;
    g->cap = cap;
  }
  tl_node *n = &g->nodes[g->nnodes];
  memset(n, 0, sizeof *n);
  return n;
}

static tl_code push_id(int **list, int *count, int id, tl_status *st) {
  int *l = realloc(*list, (size_t)(*count + 1) * sizeof *l);
  if (!l)
    return tl_fail(st, TL_ENOMEM, "graph: out of memory");
  l[(*count)++] = id;
  *list = l;
  return TL_OK;
}

static tl_code set_shape(tl_node *n, int ndim, const int64_t *shape, const char *where, tl_status *st) {
  int64_t numel;
  TL_TRY(tl_shape_numel(ndim, shape, sizeof(float), &numel, where, st));
  n->ndim = ndim;
  n->numel = numel;
  n->shape = ndim ? dup_mem(shape, (size_t)ndim * sizeof *shape) : NULL;
  if (ndim && !n->shape)
    return tl_fail(st, TL_ENOMEM, "graph: out of memory");
  return TL_OK;
}

static tl_code check_name(const tl_graph *g, const char *name, const char *what, tl_status *st) {
  if (!name || !*name)
    return tl_fail(st, TL_EARG, "graph: %s %d needs a name", what, g->nnodes);
  if (tl_graph_find(g, name) >= 0)
    return tl_fail(st, TL_EARG, "graph: name '%s' used twice", name);
  return TL_OK;
}

tl_code tl_graph_input(tl_graph *g, const char *name, int ndim, const int64_t *shape, int *id,
                       tl_status *st) {
  TL_TRY(check_name(g, name, "input", st));
  tl_node *n = push_node(g, st);
  if (!n)
    return TL_ENOMEM;
  n->op = TL_OP_INPUT;
  n->attrs = tl_attrs_default(TL_OP_INPUT);
  char where[64];
  snprintf(where, sizeof where, "node %d (input)", g->nnodes);
  tl_code rc = set_shape(n, ndim, shape, where, st);
  if (rc == TL_OK && !(n->name = dup_str(name)))
    rc = tl_fail(st, TL_ENOMEM, "graph: out of memory");
  if (rc == TL_OK)
    rc = push_id(&g->inputs, &g->ninputs, g->nnodes, st);
  if (rc != TL_OK) {
    node_clear(n);
    return rc;
  }
  *id = g->nnodes++;
  return TL_OK;
}

tl_code tl_graph_param(tl_graph *g, const char *name, tl_param_kind kind, int ndim, const int64_t *shape,
                       const float *data, int *id, tl_status *st) {
  TL_TRY(check_name(g, name, "param", st));
  if (kind < TL_PARAM_TRAINABLE || kind > TL_PARAM_CONSTANT)
    return tl_fail(st, TL_EARG, "graph: param '%s': bad kind %d", name, (int)kind);
  tl_node *n = push_node(g, st);
  if (!n)
    return TL_ENOMEM;
  n->op = TL_OP_PARAM;
  n->attrs = tl_attrs_default(TL_OP_PARAM);
  n->pkind = kind;
  char where[300];
  snprintf(where, sizeof where, "param '%.200s'", name);
  tl_code rc = set_shape(n, ndim, shape, where, st);
  if (rc == TL_OK && !(n->name = dup_str(name)))
    rc = tl_fail(st, TL_ENOMEM, "graph: out of memory");
  if (rc == TL_OK && g->nweights + n->numel > g->wcap) {
    int64_t cap = g->wcap ? g->wcap : 1024;
    while (cap < g->nweights + n->numel)
      cap *= 2;
    float *w = realloc(g->weights, (size_t)cap * sizeof *w);
    if (!w)
      rc = tl_fail(st, TL_ENOMEM, "graph: out of memory for weights");
    else
      g->weights = w, g->wcap = cap;
  }
  if (rc != TL_OK) {
    node_clear(n);
    return rc;
  }
  n->woff = g->nweights;
  if (data)
    memcpy(g->weights + n->woff, data, (size_t)n->numel * sizeof(float));
  else if (n->numel)
    memset(g->weights + n->woff, 0, (size_t)n->numel * sizeof(float));
  g->nweights += n->numel;
  *id = g->nnodes++;
  return TL_OK;
}

tl_code tl_graph_op(tl_graph *g, tl_op op, int nparents, const int *parents, const tl_attrs *attrs, int *id,
                    tl_status *st) {
  if (op <= TL_OP_PARAM || op >= TL_OP_COUNT)
    return tl_fail(st, TL_EARG, "graph: node %d: bad op %d", g->nnodes, (int)op);
  const tl_op_info *info = tl_op_get(op);
  char where[96];
  snprintf(where, sizeof where, "node %d (%s)", g->nnodes, info->name);
  if (nparents < info->min_parents || (info->max_parents >= 0 && nparents > info->max_parents))
    return tl_fail(st, TL_EARG, "%s: %d parents, expected %d..%d", where, nparents, info->min_parents,
                   info->max_parents);
  for (int i = 0; i < nparents; i++)
    if (parents[i] < 0 || parents[i] >= g->nnodes)
      return tl_fail(st, TL_EARG, "%s: parent %d is node %d, which does not exist yet", where, i, parents[i]);
  tl_attrs a = attrs ? *attrs : tl_attrs_default(op);
  a.list = NULL;
  if (attrs && attrs->nlist > 0) {
    if (!attrs->list)
      return tl_fail(st, TL_EARG, "%s: attribute list missing", where);
    a.list = dup_mem(attrs->list, (size_t)attrs->nlist * sizeof *a.list);
    if (!a.list)
      return tl_fail(st, TL_ENOMEM, "graph: out of memory");
  } else {
    a.nlist = 0;
  }
  int ndim = 0;
  int64_t *shape = NULL;
  tl_code rc = info->infer(g, parents, nparents, &a, &ndim, &shape, where, st);
  tl_node *n = rc == TL_OK ? push_node(g, st) : NULL;
  if (rc == TL_OK && !n)
    rc = TL_ENOMEM;
  if (rc == TL_OK) {
    n->op = op;
    n->attrs = a;
    n->nparents = nparents;
    n->parents = dup_mem(parents, (size_t)nparents * sizeof *parents);
    if (nparents && !n->parents)
      rc = tl_fail(st, TL_ENOMEM, "graph: out of memory");
  }
  if (rc == TL_OK)
    rc = set_shape(n, ndim, shape, where, st);
  free(shape);
  if (rc != TL_OK) {
    if (n)
      node_clear(n);
    else
      free(a.list);
    return rc;
  }
  *id = g->nnodes++;
  return TL_OK;
}

tl_code tl_graph_mark_output(tl_graph *g, int id, tl_status *st) {
  if (id < 0 || id >= g->nnodes)
    return tl_fail(st, TL_EARG, "graph: output node %d does not exist", id);
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == id)
      return TL_OK;
  return push_id(&g->outputs, &g->noutputs, id, st);
}

tl_code tl_graph_set_name(tl_graph *g, int id, const char *name, tl_status *st) {
  if (id < 0 || id >= g->nnodes)
    return tl_fail(st, TL_EARG, "graph: node %d does not exist", id);
  int other = tl_graph_find(g, name);
  if (other >= 0 && other != id)
    return tl_fail(st, TL_EARG, "graph: name '%s' used twice", name);
  char *d = dup_str(name);
  if (!d)
    return tl_fail(st, TL_ENOMEM, "graph: out of memory");
  free(g->nodes[id].name);
  g->nodes[id].name = d;
  return TL_OK;
}

float *tl_graph_param_data(const tl_graph *g, int id) {
  TL_ASSERT(id >= 0 && id < g->nnodes && g->nodes[id].op == TL_OP_PARAM);
  return g->weights + g->nodes[id].woff;
}

int tl_graph_find(const tl_graph *g, const char *name) {
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0)
      return i;
  return -1;
}

int64_t tl_graph_num_trainable(const tl_graph *g) {
  int64_t n = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op == TL_OP_PARAM && g->nodes[i].pkind == TL_PARAM_TRAINABLE)
      n += g->nodes[i].numel;
  return n;
}

tl_code tl_graph_clone(tl_graph **out, const tl_graph *g, tl_status *st) {
  *out = NULL;
  tl_graph *c = tl_graph_new();
  if (!c)
    return tl_fail(st, TL_ENOMEM, "graph: out of memory");
  c->nodes = calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *c->nodes);
  c->cap = g->nnodes ? g->nnodes : 1;
  c->weights = g->nweights ? malloc((size_t)g->nweights * sizeof(float)) : NULL;
  c->inputs = dup_mem(g->inputs, (size_t)g->ninputs * sizeof(int));
  c->outputs = dup_mem(g->outputs, (size_t)g->noutputs * sizeof(int));
  int ok =
      c->nodes && (!g->nweights || c->weights) && (!g->ninputs || c->inputs) && (!g->noutputs || c->outputs);
  if (ok) {
    c->ninputs = g->ninputs;
    c->noutputs = g->noutputs;
    c->nweights = c->wcap = g->nweights;
    if (g->nweights)
      memcpy(c->weights, g->weights, (size_t)g->nweights * sizeof(float));
  }
  for (int i = 0; ok && i < g->nnodes; i++) {
    const tl_node *s = &g->nodes[i];
    tl_node *d = &c->nodes[i];
    *d = *s;
    d->parents = dup_mem(s->parents, (size_t)s->nparents * sizeof(int));
    d->shape = dup_mem(s->shape, (size_t)s->ndim * sizeof(int64_t));
    d->attrs.list = dup_mem(s->attrs.list, (size_t)s->attrs.nlist * sizeof(int64_t));
    d->name = dup_str(s->name);
    c->nnodes = i + 1;
    ok = (!s->nparents || d->parents) && (!s->ndim || d->shape) && (!s->attrs.nlist || d->attrs.list) &&
         (!s->name || d->name);
  }
  if (!ok) {
    tl_graph_free(c);
    return tl_fail(st, TL_ENOMEM, "graph: out of memory while copying");
  }
  *out = c;
  return TL_OK;
}

tl_code tl_graph_validate(const tl_graph *g, tl_status *st) {
  int64_t covered = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op < 0 || n->op >= TL_OP_COUNT)
      return tl_fail(st, TL_EFORMAT, "node %d: unknown op kind %d", i, (int)n->op);
    const tl_op_info *info = tl_op_get(n->op);
    char where[96];
    snprintf(where, sizeof where, "node %d (%s)", i, info->name);
    int64_t numel;
    TL_TRY(tl_shape_numel(n->ndim, n->shape, sizeof(float), &numel, where, st));
    if (numel != n->numel)
      return tl_fail(st, TL_EFORMAT, "%s: element count %lld does not match its shape", where,
                     (long long)n->numel);
    if (n->name)
      for (int j = 0; j < i; j++)
        if (g->nodes[j].name && strcmp(g->nodes[j].name, n->name) == 0)
          return tl_fail(st, TL_EFORMAT, "%s: name '%s' also used by node %d", where, n->name, j);
    if (n->op == TL_OP_INPUT || n->op == TL_OP_PARAM) {
      if (n->nparents)
        return tl_fail(st, TL_EFORMAT, "%s: must have no parents", where);
      if (!n->name)
        return tl_fail(st, TL_EFORMAT, "%s: must have a name", where);
      if (n->op == TL_OP_PARAM) {
        if (n->woff < 0 || n->woff > g->nweights || n->numel > g->nweights - n->woff)
          return tl_fail(st, TL_EFORMAT, "%s '%s': weights [%lld, +%lld) outside the store of %lld", where,
                         n->name, (long long)n->woff, (long long)n->numel, (long long)g->nweights);
        covered += n->numel;
      }
      continue;
    }
    if (n->nparents < info->min_parents || (info->max_parents >= 0 && n->nparents > info->max_parents))
      return tl_fail(st, TL_EFORMAT, "%s: %d parents, expected %d..%d", where, n->nparents, info->min_parents,
                     info->max_parents);
    for (int k = 0; k < n->nparents; k++)
      if (n->parents[k] < 0 || n->parents[k] >= i)
        return tl_fail(st, TL_EFORMAT, "%s: parent %d is node %d (parents must come earlier)", where, k,
                       n->parents[k]);
    tl_attrs a = n->attrs;
    a.list = dup_mem(n->attrs.list, (size_t)n->attrs.nlist * sizeof(int64_t));
    if (n->attrs.nlist && !a.list)
      return tl_fail(st, TL_ENOMEM, "graph: out of memory");
    int ndim;
    int64_t *shape = NULL;
    tl_code rc = info->infer(g, n->parents, n->nparents, &a, &ndim, &shape, where, st);
    if (rc == TL_OK && !tl_shape_equal(ndim, shape, n->ndim, n->shape)) {
      char s1[128], s2[128];
      rc = tl_fail(st, TL_EFORMAT, "%s: recorded shape %s, but its parents give %s", where,
                   tl_shape_str(n->ndim, n->shape, s1, sizeof s1), tl_shape_str(ndim, shape, s2, sizeof s2));
    }
    free(shape);
    free(a.list);
    TL_TRY(rc);
  }
  if (covered != g->nweights)
    return tl_fail(st, TL_EFORMAT, "graph: parameters cover %lld of %lld stored weights", (long long)covered,
                   (long long)g->nweights);
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] < 0 || g->outputs[i] >= g->nnodes)
      return tl_fail(st, TL_EFORMAT, "graph: output %d names node %d, which does not exist", i,
                     g->outputs[i]);
  for (int i = 0; i < g->ninputs; i++)
    if (g->inputs[i] < 0 || g->inputs[i] >= g->nnodes || g->nodes[g->inputs[i]].op != TL_OP_INPUT)
      return tl_fail(st, TL_EFORMAT, "graph: input %d is not an input node", i);
  return TL_OK;
}

void tl_graph_truncate(tl_graph *g, int n) {
  if (n < 0)
    n = 0;
  for (int i = n; i < g->nnodes; i++) {
    tl_node *x = &g->nodes[i];
    if (x->op == TL_OP_PARAM && x->woff + x->numel == g->nweights)
      g->nweights = x->woff; /* params appended last give their weights back */
    node_clear(x);
  }
  if (g->nnodes > n)
    g->nnodes = n;
  int k = 0;
  for (int i = 0; i < g->ninputs; i++)
    if (g->inputs[i] < n)
      g->inputs[k++] = g->inputs[i];
  g->ninputs = k;
  k = 0;
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] < n)
      g->outputs[k++] = g->outputs[i];
  g->noutputs = k;
}
