/* cert.c - the certificate writer (format torchlean.cert.v1, docs/certificates.md).
 * Every bound, weight and region number is a C99 hex-float string ("%a"); integers (ids,
 * shapes, attributes that are integers) are JSON integers.  Written atomically. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/io.h"
#include "torchlean/model_file.h"
#include "vinternal.h"

static cJSON *hexnum(double v) {
  char buf[64];
  if (isinf(v))
    snprintf(buf, sizeof buf, "%s", v < 0 ? "-inf" : "inf");
  else
    snprintf(buf, sizeof buf, "%a", v);
  return cJSON_CreateString(buf);
}

static cJSON *hexarr(const double *v, int64_t n) {
  cJSON *a = cJSON_CreateArray();
  for (int64_t i = 0; a && i < n; i++)
    cJSON_AddItemToArray(a, hexnum(v[i]));
  return a;
}

static cJSON *hexarr_f(const float *v, int64_t n) {
  cJSON *a = cJSON_CreateArray();
  for (int64_t i = 0; a && i < n; i++)
    cJSON_AddItemToArray(a, hexnum(v[i]));
  return a;
}

static cJSON *intarr(const int64_t *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < n; i++)
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
  return a;
}

static cJSON *graph_json(const tl_graph *g) {
  cJSON *gj = cJSON_CreateObject();
  cJSON_AddNumberToObject(gj, "input", g->inputs[0]);
  cJSON_AddNumberToObject(gj, "output", g->noutputs ? g->outputs[0] : g->nnodes - 1);
  cJSON *nodes = cJSON_AddArrayToObject(gj, "nodes");
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", i);
    cJSON_AddStringToObject(o, "op", tl_op_get(n->op)->name);
    cJSON *par = cJSON_AddArrayToObject(o, "parents");
    for (int k = 0; k < n->nparents; k++)
      cJSON_AddItemToArray(par, cJSON_CreateNumber(n->parents[k]));
    cJSON_AddItemToObject(o, "shape", intarr(n->shape, n->ndim));
    if (n->op == TL_OP_PARAM)
      cJSON_AddItemToObject(o, "data", hexarr_f(g->weights + n->woff, n->numel));
    const tl_attrs *a = &n->attrs;
    if (n->op == TL_OP_CONV2D || n->op == TL_OP_AVG_POOL2D || n->op == TL_OP_MAX_POOL2D) {
      cJSON_AddItemToObject(o, "kernel", intarr(a->kernel, 2));
      cJSON_AddItemToObject(o, "stride", intarr(a->stride, 2));
      cJSON_AddItemToObject(o, "padding", intarr(a->padding, 2));
      cJSON_AddItemToObject(o, "dilation", intarr(a->dilation, 2));
      cJSON_AddNumberToObject(o, "groups", (double)a->groups);
    }
    if (n->op == TL_OP_LEAKY_RELU)
      cJSON_AddItemToObject(o, "alpha", hexnum(a->alpha));
    if (n->op == TL_OP_CLAMP)
      cJSON_AddItemToObject(o, "lo", hexnum(a->lo)), cJSON_AddItemToObject(o, "hi", hexnum(a->hi));
    if (n->op == TL_OP_BATCH_NORM)
      cJSON_AddItemToObject(o, "eps", hexnum(a->eps));
    /* every other attribute of the op's schema (docs/graph-hash.md), so that the checker can
     * rebuild the canonical encoding and recompute the graph hash from the certificate alone */
    tl_attrs ac = *a; /* the accessors take a non-const pointer; read only */
    for (const tl_attr_field *f = tl_op_get(n->op)->attrs; f->name; f++) {
      if (cJSON_GetObjectItemCaseSensitive(o, f->name))
        continue;
      if (f->type == TL_ATTR_INT)
        cJSON_AddNumberToObject(o, f->name, (double)*tl_attr_int_ptr(&ac, f));
      else if (f->type == TL_ATTR_INT2)
        cJSON_AddItemToObject(o, f->name, intarr(tl_attr_int_ptr(&ac, f), 2));
      else if (f->type == TL_ATTR_FLOAT)
        cJSON_AddItemToObject(o, f->name, hexnum(*tl_attr_float_ptr(&ac, f)));
      else
        cJSON_AddItemToObject(o, f->name, intarr(a->list, a->nlist));
    }
    if (n->name)
      cJSON_AddStringToObject(o, "name", n->name);
    if (n->op == TL_OP_PARAM)
      cJSON_AddStringToObject(o, "param_kind",
                              n->pkind == TL_PARAM_TRAINABLE ? "trainable"
                              : n->pkind == TL_PARAM_BUFFER  ? "buffer"
                                                             : "constant");
    cJSON_AddItemToArray(nodes, o);
  }
  cJSON *ins = cJSON_AddArrayToObject(gj, "inputs"), *outs = cJSON_AddArrayToObject(gj, "outputs");
  for (int i = 0; i < g->ninputs; i++)
    cJSON_AddItemToArray(ins, cJSON_CreateNumber(g->inputs[i]));
  for (int i = 0; i < g->noutputs; i++)
    cJSON_AddItemToArray(outs, cJSON_CreateNumber(g->outputs[i]));
  return gj;
}

static void region_json(cJSON *s, const tl_region *r) {
  cJSON *rj = cJSON_AddObjectToObject(s, "region");
  cJSON_AddStringToObject(rj, "kind", r->kind == TL_REGION_LINF ? "linf" : "box");
  if (r->kind == TL_REGION_LINF) {
    cJSON_AddItemToObject(rj, "center", hexarr_f(r->center, r->n));
    cJSON_AddItemToObject(rj, "eps", hexnum(r->eps));
    if (r->clamp) {
      cJSON *d = cJSON_AddArrayToObject(rj, "domain");
      cJSON_AddItemToArray(d, hexnum(r->dom_lo));
      cJSON_AddItemToArray(d, hexnum(r->dom_hi));
    }
  }
  cJSON_AddItemToObject(rj, "lo", hexarr(r->lo, r->n));
  cJSON_AddItemToObject(rj, "hi", hexarr(r->hi, r->n));
}

static void property_json(cJSON *s, const tl_property *p) {
  cJSON *pj = cJSON_AddObjectToObject(s, "property");
  cJSON_AddStringToObject(pj, "dnf", p->unsafe ? "unsafe" : "safe");
  cJSON_AddNumberToObject(pj, "nout", (double)p->nout);
  if (p->label >= 0)
    cJSON_AddNumberToObject(pj, "label", p->label);
  cJSON *cl = cJSON_AddArrayToObject(pj, "clauses");
  for (int k = 0; k < p->nclauses; k++) {
    cJSON *rows = cJSON_CreateArray();
    for (int q = p->clause_start[k]; q < p->clause_start[k + 1]; q++) {
      cJSON *row = cJSON_CreateObject();
      cJSON_AddItemToObject(row, "c", hexarr(p->c + (size_t)q * p->nout, p->nout));
      cJSON_AddItemToObject(row, "d", hexnum(p->d[q]));
      cJSON_AddBoolToObject(row, "strict", p->strict[q]);
      cJSON_AddItemToArray(rows, row);
    }
    cJSON_AddItemToArray(cl, rows);
  }
}

/* max pool lines (rules/pool.c): the first argmax of the lower ends, and the upper line */
static void maxpools_json(cJSON *cj, const tl_graph *g, const tl_verify_result *res) {
  cJSON *mps = cJSON_AddArrayToObject(cj, "maxpools");
  for (int v = 0; v < g->nnodes; v++) {
    if (g->nodes[v].op != TL_OP_MAX_POOL2D)
      continue;
    int x = g->nodes[v].parents[0];
    if (!res->bounds->lo[x] || !tlv_box_finite(res->bounds->lo[x], res->bounds->hi[x], g->nodes[x].numel))
      continue;
    int empty = 0;
    for (int64_t o = 0; o < g->nodes[v].numel && !empty; o++) {
      int e = 0;
      double cu = 0;
      empty = tlv_maxpool_line(g, v, res->bounds->lo[x], res->bounds->hi[x], o, &e, &cu) < 0;
    }
    if (empty) /* no lines: the backward pass concretised it too */
      continue;
    cJSON *mp = cJSON_CreateObject(), *arg = cJSON_CreateArray(), *up = cJSON_CreateArray();
    cJSON_AddNumberToObject(mp, "node", v);
    for (int64_t o = 0; o < g->nodes[v].numel; o++) {
      int e = 0;
      double cu = 0;
      int64_t j = tlv_maxpool_line(g, v, res->bounds->lo[x], res->bounds->hi[x], o, &e, &cu);
      cJSON_AddItemToArray(arg, cJSON_CreateNumber((double)j));
      cJSON_AddItemToArray(up, e ? cJSON_CreateString("exact") : hexnum(cu));
    }
    cJSON_AddItemToObject(mp, "arg", arg);
    cJSON_AddItemToObject(mp, "upper", up);
    cJSON_AddItemToArray(mps, mp);
  }
}

static void crown_json(cJSON *s, const tl_graph *g, const tl_verify_result *res) {
  cJSON *cj = cJSON_AddObjectToObject(s, "crown");
  cJSON_AddStringToObject(cj, "intermediate", res->crown->intermediate_crown ? "crown" : "ibp");
  cJSON *acts = cJSON_AddArrayToObject(cj, "activations");
  for (int i = 0; i < res->crown->nacts; i++) {
    const tl_crown_act *A = &res->crown->acts[i];
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "node", A->node);
    cJSON_AddItemToObject(a, "pre_lo", hexarr(A->pre_lo, A->n));
    cJSON_AddItemToObject(a, "pre_hi", hexarr(A->pre_hi, A->n));
    cJSON_AddItemToObject(a, "la", hexarr(A->la, A->n));
    cJSON_AddItemToObject(a, "lb", hexarr(A->lb, A->n));
    cJSON_AddItemToObject(a, "ua", hexarr(A->ua, A->n));
    cJSON_AddItemToObject(a, "ub", hexarr(A->ub, A->n));
    cJSON_AddItemToArray(acts, a);
  }
  maxpools_json(cj, g, res);
}

static cJSON *sample_json(const tl_graph *g, const tl_region *r, const tl_property *p,
                          const tl_verify_result *res) {
  cJSON *s = cJSON_CreateObject();
  region_json(s, r);
  property_json(s, p);
  cJSON *bx = cJSON_AddArrayToObject(s, "boxes");
  for (int i = 0; i < g->nnodes; i++) {
    if (g->nodes[i].op == TL_OP_PARAM)
      continue;
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "node", i);
    cJSON_AddItemToObject(b, "lo", hexarr(res->bounds->lo[i], g->nodes[i].numel));
    cJSON_AddItemToObject(b, "hi", hexarr(res->bounds->hi[i], g->nodes[i].numel));
    cJSON_AddItemToArray(bx, b);
  }
  if (res->method != TL_METHOD_IBP && res->crown)
    crown_json(s, g, res);
  cJSON_AddItemToObject(s, "row_lower", hexarr(res->row_lower, res->nrows));
  cJSON_AddStringToObject(s, "verdict", tl_verdict_name(res->verdict));
  if (res->cex)
    cJSON_AddItemToObject(s, "counterexample", hexarr_f(res->cex, r->n));
  cJSON *t = cJSON_AddObjectToObject(s, "timing");
  cJSON_AddNumberToObject(t, "seconds", res->seconds); /* informative, not checked */
  return s;
}

tl_code tlv_cert_doc(const tl_graph *g, int n, const tl_region *const *r, const tl_property *const *p,
                     const tl_verify_result *const *res, const tl_cert_info *info, cJSON **out,
                     tl_status *st) {
  *out = NULL;
  if (n < 1)
    return tl_fail(st, TL_EARG, "cert: no samples");
  for (int i = 0; i < n; i++)
    if (!res[i]->bounds || res[i]->method != res[0]->method || res[i]->sem != res[0]->sem ||
        (res[i]->method != TL_METHOD_IBP && !res[i]->crown))
      return tl_fail(st, TL_EARG, "cert: sample %d: results need keep_evidence and one method and semantics",
                     i);
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "format", "torchlean.cert.v1");
  cJSON_AddNumberToObject(root, "version", 1);
  cJSON *pr = cJSON_AddObjectToObject(root, "producer");
  cJSON_AddStringToObject(pr, "name", info && info->producer ? info->producer : "torchlean 0.1.0");
  /* the hash is always computed from g itself; a caller-supplied hash must agree with it */
  uint8_t gh[32];
  char hx[65];
  tl_graph_hash(g, gh);
  if (info && info->graph_hash && memcmp(info->graph_hash, gh, 32) != 0) {
    cJSON_Delete(root);
    return tl_fail(st, TL_EARG, "cert: the given graph hash is not the hash of the graph (%s)",
                   tl_hash_hex(gh, hx));
  }
  cJSON_AddStringToObject(root, "graph_sha256", tl_hash_hex(gh, hx));
  if (info && info->model_ref)
    cJSON_AddStringToObject(root, "model", info->model_ref);
  else
    cJSON_AddNullToObject(root, "model");
  cJSON_AddItemToObject(root, "graph", graph_json(g));
  cJSON_AddStringToObject(root, "semantics", tl_semantics_name(res[0]->sem));
  /* alpha-CROWN certificates are CROWN certificates: the optimised slopes are the lines */
  cJSON_AddStringToObject(root, "method", res[0]->method == TL_METHOD_IBP ? "ibp" : "crown");
  cJSON *sm = cJSON_AddArrayToObject(root, "samples");
  for (int i = 0; i < n; i++)
    cJSON_AddItemToArray(sm, sample_json(g, r[i], p[i], res[i]));
  *out = root;
  return TL_OK;
}

tl_code tlv_cert_emit(const char *path, cJSON *root, tl_status *st) {
  char *txt = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!txt)
    return tl_fail(st, TL_ENOMEM, "cert: out of memory while printing");
  /* the document and a newline, written atomically like every file of the library */
  size_t len = strlen(txt);
  char *doc = realloc(txt, len + 2);
  if (!doc) {
    free(txt);
    return tl_fail(st, TL_ENOMEM, "cert: out of memory");
  }
  doc[len] = '\n', doc[len + 1] = '\0';
  tl_code rc = tl_write_file_atomic(path, doc, len + 1, st);
  free(doc);
  return rc;
}

tl_code tl_cert_write_many(const char *path, const tl_graph *g, int n, const tl_region *const *r,
                           const tl_property *const *p, const tl_verify_result *const *res,
                           const tl_cert_info *info, tl_status *st) {
  cJSON *root = NULL;
  TL_TRY(tlv_cert_doc(g, n, r, p, res, info, &root, st));
  return tlv_cert_emit(path, root, st);
}

tl_code tl_cert_write(const char *path, const tl_graph *g, const tl_region *r, const tl_property *p,
                      const tl_verify_result *res, const tl_cert_info *info, tl_status *st) {
  return tl_cert_write_many(path, g, 1, &r, &p, &res, info, st);
}
