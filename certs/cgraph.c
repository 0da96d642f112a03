/* cgraph.c - torchlean-check: the checker's own reader of the embedded graph, its structural checks and the
 * affine view of linear/conv/pool nodes. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

/* ---- the graph ---------------------------------------------------------------------------------- */

void graph_free(cgraph *g) {
  for (int i = 0; i < g->n; i++) {
    cnode *n = &g->nodes[i];
    qv_free(n->w, n->numel);
    free(n->wf);
    for (int64_t e = 0; n->wz && e < n->numel; e++)
      mpz_clear(n->wz[e]);
    free(n->wz);
    free(n->w64);
    free(n->wd);
    for (int64_t k = 0; n->bn && k < n->nbn; k++)
      mpq_clear(n->bn[k].slo), mpq_clear(n->bn[k].shi), mpq_clear(n->bn[k].u);
    free(n->bn);
    mpq_clear(n->alpha), mpq_clear(n->clo), mpq_clear(n->chi), mpq_clear(n->eps);
  }
  for (int i = 0; g->aff && i < g->n; i++)
    caff_free(&g->aff[i]);
  free(g->aff);
  free(g->nodes);
}

static int same_shape(const cnode *a, const cnode *b) {
  if (a->nd != b->nd)
    return 0;
  for (int i = 0; i < a->nd; i++)
    if (a->shape[i] != b->shape[i])
      return 0;
  return 1;
}

static int64_t win(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d) {
  if (k < 1 || s < 1 || p < 0 || d < 1)
    return -1;
  int64_t span = n + 2 * p - d * (k - 1) - 1;
  return span < 0 ? -1 : span / s + 1;
}

/* ---- structural rules: one per op of chk_ops.def (shapes, parents and attribute sanity of node i
 * against its parents; x is parent 0 or NULL).  1: the node fits. */
typedef int (*struct_rule)(const cgraph *g, int i, const cnode *n, const cnode *x);

/* the graph's one input node, no parents */
static int st_input(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)x;
  return n->np == 0 && i == g->input;
}
/* weights: no parents */
static int st_param(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)g, (void)i, (void)x;
  return n->np == 0;
}
/* optional bias parent 2: a vector of the weight's output size (w->shape[0]) */
static int bias_fits(const cgraph *g, const cnode *n, const cnode *w) {
  if (n->np != 3)
    return 1;
  const cnode *b = &g->nodes[n->par[2]];
  return b->op == OP_PARAM && b->nd == 1 && b->shape[0] == w->shape[0];
}
/* y[..., o] = sum_i x[..., i] W[o, i] + b[o] */
static int st_linear(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)i;
  const cnode *w = &g->nodes[n->par[1]];
  int ok = (n->np == 2 || n->np == 3) && w->op == OP_PARAM && w->nd == 2 && x->op != OP_PARAM && x->nd >= 1 &&
           x->shape[x->nd - 1] == w->shape[1] && n->nd == x->nd && n->shape[n->nd - 1] == w->shape[0];
  for (int k = 0; ok && k < x->nd - 1; k++)
    ok = n->shape[k] == x->shape[k];
  return ok && bias_fits(g, n, w);
}
/* y[..., k] = sum_j x[..., j] W[j, k] */
static int st_matmul(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)i;
  const cnode *w = &g->nodes[n->par[1]];
  int ok = n->np == 2 && w->op == OP_PARAM && w->nd == 2 && x->op != OP_PARAM && x->nd >= 2 &&
           x->shape[x->nd - 1] == w->shape[0] && n->nd == x->nd && n->shape[n->nd - 1] == w->shape[1];
  for (int k = 0; ok && k < x->nd - 1; k++)
    ok = n->shape[k] == x->shape[k];
  return ok;
}
/* NCHW in and out, batch kept; the output size is the window count */
static int window_fits(const cnode *n, const cnode *x) {
  return win(x->shape[2], n->kernel[0], n->stride[0], n->padding[0], n->dilation[0]) == n->shape[2] &&
         win(x->shape[3], n->kernel[1], n->stride[1], n->padding[1], n->dilation[1]) == n->shape[3];
}
static int nchw_fits(const cnode *n, const cnode *x) {
  return x->nd == 4 && n->nd == 4 && n->shape[0] == x->shape[0] && x->op != OP_PARAM;
}
/* y = W * x + b (grouped) */
static int st_conv(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)i;
  if (!nchw_fits(n, x))
    return 0;
  const cnode *w = &g->nodes[n->par[1]];
  int ok = (n->np == 2 || n->np == 3) && w->op == OP_PARAM && w->nd == 4 && n->groups >= 1 &&
           x->shape[1] % n->groups == 0 && w->shape[0] % n->groups == 0 &&
           w->shape[1] * n->groups == x->shape[1] && n->shape[1] == w->shape[0] &&
           n->kernel[0] == w->shape[2] && n->kernel[1] == w->shape[3];
  return ok && bias_fits(g, n, w) && window_fits(n, x);
}
/* y = window sum / kernel size, or max over the window: channels kept, padding at most half a window */
static int st_pool(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)g, (void)i;
  if (!nchw_fits(n, x))
    return 0;
  /* pools have no groups: a groups attribute other than 1 (not in the graph hash) means nothing */
  int ok = n->np == 1 && n->groups == 1 && n->shape[1] == x->shape[1] && 2 * n->padding[0] <= n->kernel[0] &&
           2 * n->padding[1] <= n->kernel[1];
  return ok && window_fits(n, x);
}
/* y[b, c] = mean over the spatial dims */
static int st_gap(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)g, (void)i;
  return n->np == 1 && x->nd >= 3 && n->nd == 2 && n->shape[0] == x->shape[0] && n->shape[1] == x->shape[1];
}
/* y = x, as many elements (dropout: the same shape) */
static int st_view(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)g, (void)i;
  return n->np == 1 && n->numel == x->numel && (n->op != OP_DROPOUT || same_shape(n, x));
}
/* y = f(x) elementwise */
static int st_unary(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)g, (void)i;
  return n->np == 1 && same_shape(n, x);
}
/* y = x >= 0 ? x : alpha x, alpha in [0, 1] */
static int st_leaky(const cgraph *g, int i, const cnode *n, const cnode *x) {
  return st_unary(g, i, n, x) && mpq_sgn(n->alpha) >= 0 && mpq_cmp_ui(n->alpha, 1, 1) <= 0;
}
/* y = min(max(x, lo), hi), lo <= hi */
static int st_clamp(const cgraph *g, int i, const cnode *n, const cnode *x) {
  return st_unary(g, i, n, x) && mpq_cmp(n->clo, n->chi) <= 0;
}
/* y = a op b, numpy broadcasting */
static int st_broadcast(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)i;
  const cnode *y = &g->nodes[n->par[1]];
  int ok = n->np == 2 && n->nd >= x->nd && n->nd >= y->nd;
  for (int k = 0; ok && k < n->nd; k++) {
    int64_t a = k - (n->nd - x->nd) >= 0 ? x->shape[k - (n->nd - x->nd)] : 1;
    int64_t b = k - (n->nd - y->nd) >= 0 ? y->shape[k - (n->nd - y->nd)] : 1;
    ok = (a == n->shape[k] || a == 1) && (b == n->shape[k] || b == 1) &&
         (a == n->shape[k] || b == n->shape[k]);
  }
  return ok;
}
/* parents x, gamma, beta, mu, var: four vectors of x's channel count; eps > 0 */
static int st_bn(const cgraph *g, int i, const cnode *n, const cnode *x) {
  (void)i;
  int ok = n->np == 5 && x->nd >= 2 && same_shape(n, x) && mpq_sgn(n->eps) > 0;
  for (int k = 1; ok && k < 5; k++) {
    const cnode *p = &g->nodes[n->par[k]];
    ok = p->op == OP_PARAM && p->nd == 1 && p->shape[0] == x->shape[1];
  }
  return ok;
}

#define STRUCT_input st_input
#define STRUCT_param st_param
#define STRUCT_linear st_linear
#define STRUCT_matmul st_matmul
#define STRUCT_conv2d st_conv
#define STRUCT_avg_pool2d st_pool
#define STRUCT_global_avg_pool st_gap
#define STRUCT_max_pool2d st_pool
#define STRUCT_flatten st_view
#define STRUCT_reshape st_view
#define STRUCT_dropout st_view
#define STRUCT_neg st_unary
#define STRUCT_relu st_unary
#define STRUCT_leaky_relu st_leaky
#define STRUCT_sigmoid st_unary
#define STRUCT_tanh st_unary
#define STRUCT_clamp st_clamp
#define STRUCT_add st_broadcast
#define STRUCT_sub st_broadcast
#define STRUCT_mul st_broadcast
#define STRUCT_batch_norm st_bn
/* one row per op of chk_ops.def: a missing rule is a compile error */
static const struct_rule struct_rules[OP_N] = {
#define CHK_OP(ENUM, name, ...) [OP_##ENUM] = STRUCT_##name,
#include "chk_ops.def"
#undef CHK_OP
};

static int check_struct(ctx *c, cgraph *g, int i) {
  const cnode *n = &g->nodes[i];
  const cnode *x = n->np > 0 ? &g->nodes[n->par[0]] : NULL;
  if (!struct_rules[n->op](g, i, n, x))
    return fail(
        c, REJ,
        "REJECT: graph: node %d (%s) has shapes, parents or attributes that do not fit (node %d, index 0)", i,
        op_names[n->op], i);
  return OK;
}

static int read_int2(ctx *c, const cJSON *o, const char *name, const char *where, int64_t *v) {
  cJSON *f = field(c, o, name, where);
  if (!f)
    return BAD;
  if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != 2)
    return fail(c, BAD, "malformed: %s.%s must be two integers", where, name);
  for (int k = 0; k < 2; k++) {
    cJSON *it = cJSON_GetArrayItem(f, k);
    if (!cJSON_IsNumber(it) || !chk_int_in(it->valuedouble, 0, 1e6))
      return fail(c, BAD, "malformed: %s.%s[%d] must be a small non-negative integer", where, name, k);
    v[k] = (int64_t)it->valuedouble;
  }
  return OK;
}

/* graph.nodes allocated (alpha, clamp ends, eps initialised), graph.input and graph.output read */
static int graph_alloc(ctx *c, const cJSON *gj, cgraph *g, cJSON **nodesp) {
  memset(g, 0, sizeof *g);
  cJSON *nodes = field(c, gj, "nodes", "graph");
  if (!nodes)
    return BAD;
  if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) < 1 || cJSON_GetArraySize(nodes) > 100000)
    return fail(c, BAD, "malformed: graph.nodes must be a non-empty array");
  int nn = cJSON_GetArraySize(nodes);
  g->nodes = calloc((size_t)nn, sizeof *g->nodes);
  g->aff = calloc((size_t)nn, sizeof *g->aff);
  if (!g->nodes || !g->aff)
    return fail(c, BAD, "out of memory");
  for (int i = 0; i < nn; i++) {
    cnode *n = &g->nodes[i];
    mpq_init(n->alpha), mpq_init(n->clo), mpq_init(n->chi), mpq_init(n->eps);
  }
  g->n = nn;
  int64_t v;
  if (get_int(c, gj, "input", "graph", 0, nn - 1, &v) != OK)
    return BAD;
  g->input = (int)v;
  if (get_int(c, gj, "output", "graph", 0, nn - 1, &v) != OK)
    return BAD;
  g->output = (int)v;
  *nodesp = nodes;
  return OK;
}

/* node i's id, op, parents (earlier nodes) and shape */
static int read_node_head(ctx *c, const cJSON *o, cnode *n, int i, const char *where) {
  int64_t v;
  if (get_int(c, o, "id", where, i, i, &v) != OK)
    return BAD;
  cJSON *op = field(c, o, "op", where);
  if (!op)
    return BAD;
  int k = cJSON_IsString(op) ? chk_op_find(op->valuestring) : -1;
  if (k < 0)
    return fail(c, BAD, "malformed: %s.op: unknown or unsupported op", where);
  n->op = (cop)k;
  cJSON *par = field(c, o, "parents", where), *sh = field(c, o, "shape", where);
  if (!par || !sh)
    return BAD;
  if (!cJSON_IsArray(par) || cJSON_GetArraySize(par) > 5)
    return fail(c, BAD, "malformed: %s.parents must be an array of at most 5 ids", where);
  n->np = cJSON_GetArraySize(par);
  for (int p = 0; p < n->np; p++) {
    cJSON *it = cJSON_GetArrayItem(par, p);
    if (!cJSON_IsNumber(it) || !chk_int_in(it->valuedouble, 0, i - 1))
      return fail(c, BAD, "malformed: %s.parents[%d] must be an earlier node id", where, p);
    n->par[p] = (int)it->valuedouble;
  }
  if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > MAXDIM)
    return fail(c, BAD, "malformed: %s.shape must be an array of at most %d sizes", where, MAXDIM);
  n->nd = cJSON_GetArraySize(sh);
  n->numel = 1;
  for (int d = 0; d < n->nd; d++) {
    cJSON *it = cJSON_GetArrayItem(sh, d);
    if (!cJSON_IsNumber(it) || !chk_int_in(it->valuedouble, 1, 1e8))
      return fail(c, BAD, "malformed: %s.shape[%d] must be a positive integer", where, d);
    n->shape[d] = (int64_t)it->valuedouble;
    n->numel *= n->shape[d];
    if (n->numel > 100000000)
      return fail(c, BAD, "malformed: %s: too many elements", where);
  }
  const chk_op_row *r = &chk_ops[n->op];
  if (n->np < r->np_min || n->np > r->np_max)
    return fail(c, BAD, "malformed: %s: op %s takes %d..%d parents", where, r->name, r->np_min, r->np_max);
  return OK;
}

/* the op's attributes (chk_ops.def attrs column); window defaults: stride, dilation, groups 1 */
static int read_node_attrs(ctx *c, const cJSON *o, cnode *n, const char *where) {
  n->dilation[0] = n->dilation[1] = 1, n->stride[0] = n->stride[1] = 1, n->groups = 1;
  switch (chk_ops[n->op].attrs) {
  case CHK_A_WINDOW:
    if (read_int2(c, o, "kernel", where, n->kernel) || read_int2(c, o, "stride", where, n->stride) ||
        read_int2(c, o, "padding", where, n->padding) || read_int2(c, o, "dilation", where, n->dilation) ||
        get_int(c, o, "groups", where, 1, 1000000, &n->groups))
      return BAD;
    break;
  case CHK_A_ALPHA:
    if (get_num(c, o, "alpha", where, n->alpha))
      return BAD;
    break;
  case CHK_A_CLAMP:
    if (get_num(c, o, "lo", where, n->clo) || get_num(c, o, "hi", where, n->chi))
      return BAD;
    break;
  case CHK_A_EPS:
    if (get_num(c, o, "eps", where, n->eps))
      return BAD;
    break;
  case CHK_A_NONE: break;
  }
  return OK;
}

/* weights are binary32 values written as hex floats: read exactly into binary64 (wd) and binary32
 * (wf, whose bits the graph hash covers; the sign of zero is kept).  The exact forms (rationals,
 * fixed point) are built only if the exact checker runs (graph_exact). */
static int read_param_data(ctx *c, const cJSON *o, cnode *n, int i, const char *where) {
  cJSON *data = field(c, o, "data", where);
  if (!data)
    return BAD;
  if (!cJSON_IsArray(data) || cJSON_GetArraySize(data) != n->numel)
    return fail(c, BAD, "malformed: %s.data must be an array of %lld numbers", where, (long long)n->numel);
  if (!(n->wf = malloc((size_t)n->numel * sizeof *n->wf)) ||
      !(n->wd = malloc((size_t)n->numel * sizeof *n->wd)))
    return fail(c, BAD, "out of memory");
  int64_t e = 0;
  for (const cJSON *it = data->child; it; it = it->next, e++) {
    double d;
    if (!cJSON_IsString(it) || fast_parse(it->valuestring, 0, &d) != 0) {
      /* not a binary64 hex float: malformed, or an exact number that is not a binary32 value */
      mpq_t q;
      int inf;
      char wd[96];
      snprintf(wd, sizeof wd, "%s.data", where);
      mpq_init(q);
      int rc = num_item(c, it, q, &inf, 0, wd, (long)e);
      mpq_clear(q);
      if (rc != OK)
        return rc;
      return fail(c, REJ, "REJECT: weight is not a finite binary32 value (node %d, index %lld)", i,
                  (long long)e);
    }
    float f = (float)d;
    if ((double)f != d)
      return fail(c, REJ, "REJECT: weight is not a finite binary32 value (node %d, index %lld)", i,
                  (long long)e);
    n->wf[e] = f, n->wd[e] = d;
  }
  return OK;
}

/* leaky alpha and clamp ends as exact doubles (fast path), when they are */
static void node_doubles(cnode *n) {
  n->dalpha = mpq_get_d(n->alpha), n->dclo = mpq_get_d(n->clo), n->dchi = mpq_get_d(n->chi);
  mpq_t t;
  mpq_init(t);
  int fa = n->dalpha - n->dalpha == 0, fl = n->dclo - n->dclo == 0, fh = n->dchi - n->dchi == 0;
  if (fa)
    mpq_set_d(t, n->dalpha);
  n->dalpha_ok = fa && mpq_equal(t, n->alpha);
  if (fl)
    mpq_set_d(t, n->dclo);
  n->dclamp_ok = fl && mpq_equal(t, n->clo);
  if (fh)
    mpq_set_d(t, n->dchi);
  n->dclamp_ok = n->dclamp_ok && fh && mpq_equal(t, n->chi);
  mpq_clear(t);
}

static int read_node(ctx *c, const cJSON *o, cgraph *g, int i) {
  cnode *n = &g->nodes[i];
  char where[64];
  snprintf(where, sizeof where, "graph.nodes[%d]", i);
  int rc = read_node_head(c, o, n, i, where);
  if (rc == OK)
    rc = read_node_attrs(c, o, n, where);
  if (rc == OK && n->op == OP_PARAM)
    rc = read_param_data(c, o, n, i, where);
  if (rc != OK)
    return rc;
  if (check_struct(c, g, i))
    return c->code;
  node_doubles(n);
  if (n->op == OP_BN) {
    n->nbn = g->nodes[n->par[1]].numel;
    if (!(n->bn = calloc((size_t)n->nbn, sizeof *n->bn)))
      return fail(c, BAD, "out of memory");
    for (int64_t q = 0; q < n->nbn; q++)
      mpq_init(n->bn[q].slo), mpq_init(n->bn[q].shi), mpq_init(n->bn[q].u);
  }
  return OK;
}

/* the graph's input and output lists (hashed) must agree with the fields the checker uses */
static int check_io(ctx *c, const cJSON *gj, const cgraph *g) {
  if (g->nodes[g->input].op != OP_INPUT)
    return fail(c, BAD, "malformed: graph.input names node %d, which is not an input", g->input);
  cJSON *ins = field(c, gj, "inputs", "graph"), *outs = ins ? field(c, gj, "outputs", "graph") : NULL;
  if (!outs)
    return BAD;
  if (!cJSON_IsArray(ins) || cJSON_GetArraySize(ins) != 1 || !cJSON_IsNumber(ins->child) ||
      ins->child->valuedouble != g->input)
    return fail(c, BAD, "malformed: graph.inputs must be [graph.input]");
  if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) < 1 || !cJSON_IsNumber(outs->child) ||
      outs->child->valuedouble != g->output)
    return fail(c, BAD, "malformed: graph.outputs must start with graph.output");
  for (int k = 0; k < g->n; k++)
    if (g->nodes[k].op == OP_INPUT && k != g->input)
      return fail(c, BAD, "malformed: graph has more than one input (node %d)", k);
  return OK;
}

int read_graph(ctx *c, const cJSON *gj, cgraph *g) {
  cJSON *nodes = NULL;
  if (graph_alloc(c, gj, g, &nodes) != OK)
    return BAD;
  int i = 0;
  for (cJSON *o = nodes->child; o; o = o->next, i++) {
    int rc = read_node(c, o, g, i);
    if (rc != OK)
      return rc;
  }
  return check_io(c, gj, g);
}

/* The exact forms of the weights (rationals, dyadic mantissa/exponent, fixed point at a common
 * scale), built from the exact binary64 values on the first use by the exact checker. */
int graph_exact(ctx *c, cgraph *g) {
  if (g->exact)
    return OK;
  for (int i = 0; i < g->n; i++) {
    cnode *n = &g->nodes[i];
    if (n->op != OP_PARAM)
      continue;
    if (!(n->w = qv_new(n->numel)))
      return fail(c, BAD, "out of memory");
    for (int64_t e = 0; e < n->numel; e++) {
      qv *v = &n->w[e];
      mpq_set_d(v->q, n->wd[e]); /* exact: a finite binary64 */
      uint64_t u;
      memcpy(&u, &n->wd[e], sizeof u);
      int ef = (int)(u >> 52 & 0x7ff);
      int64_t m = (int64_t)(u & ((UINT64_C(1) << 52) - 1));
      long ex = ef ? ef - 1075 : -1074;
      if (ef)
        m |= INT64_C(1) << 52;
      while (m && !(m & 1))
        m >>= 1, ex++;
      v->dy = 1, v->dm = u >> 63 ? -m : m, v->de = m ? ex : 0;
    }
    /* fixed point: every weight m 2^e as the integer m 2^(e - wze), wze the smallest exponent */
    n->wzok = 1;
    n->wze = LONG_MAX;
    for (int64_t e = 0; e < n->numel; e++)
      if (n->w[e].dm && n->w[e].de < n->wze)
        n->wze = n->w[e].de;
    if (n->wze == LONG_MAX)
      n->wze = 0;
    if (!(n->wz = malloc((size_t)(n->numel ? n->numel : 1) * sizeof *n->wz)))
      return fail(c, BAD, "out of memory");
    for (int64_t e = 0; e < n->numel; e++) {
      mpz_init_set_si(n->wz[e], (long)n->w[e].dm);
      if (n->w[e].dm)
        mpz_mul_2exp(n->wz[e], n->wz[e], (mp_bitcnt_t)(n->w[e].de - n->wze));
      int b = mpz_sgn(n->wz[e]) ? (int)mpz_sizeinbase(n->wz[e], 2) : 0;
      if (b > n->wbits)
        n->wbits = b;
    }
    if (n->wbits <= 62) {
      if (!(n->w64 = malloc((size_t)(n->numel ? n->numel : 1) * sizeof *n->w64)))
        return fail(c, BAD, "out of memory");
      for (int64_t e = 0; e < n->numel; e++)
        n->w64[e] = (int64_t)mpz_get_si(n->wz[e]);
    }
  }
  g->exact = 1;
  return OK;
}

/* ---- affine view ------------------------------------------------------------------------------ */

void caff_free(caff *a) { free(a->rp), free(a->col), free(a->w), free(a->widx), free(a->div), free(a->k); }

int caff_build(ctx *c, const cgraph *g, int id, caff *a) {
  const cnode *n = &g->nodes[id], *x = &g->nodes[n->par[0]];
  memset(a, 0, sizeof *a);
  a->x = n->par[0];
  a->bias = is_weighted(n->op) && n->np == 3 ? n->par[2] : -1; /* matmul: 2 parents */
  int64_t per = 1;
  const cnode *w = aff_weight(g, n);
  if (n->op == OP_LINEAR)
    per = w->shape[1];
  else if (n->op == OP_MATMUL)
    per = w->shape[0];
  else if (n->op == OP_CONV)
    per = w->shape[1] * n->kernel[0] * n->kernel[1];
  else if (n->op == OP_AVGPOOL)
    per = n->kernel[0] * n->kernel[1];
  else
    per = x->numel / n->numel;
  int64_t nnz = per * n->numel;
  a->nout = n->numel;
  a->rp = malloc((size_t)(n->numel + 1) * sizeof *a->rp);
  a->col = malloc((size_t)(nnz ? nnz : 1) * sizeof *a->col);
  a->widx = malloc((size_t)(nnz ? nnz : 1) * sizeof *a->widx);
  a->div = malloc((size_t)n->numel * sizeof *a->div);
  a->k = malloc((size_t)n->numel * sizeof *a->k);
  if (!a->rp || !a->col || !a->widx || !a->div || !a->k)
    return fail(c, BAD, "out of memory");
  int64_t t = 0;
  for (int64_t o = 0; o < n->numel; o++) {
    a->rp[o] = t;
    a->div[o] = 1;
    if (n->op == OP_LINEAR || n->op == OP_MATMUL) {
      int64_t last = n->shape[n->nd - 1], r = o / last, j = o % last;
      for (int64_t i = 0; i < per; i++, t++) {
        a->col[t] = r * per + i;
        a->widx[t] = n->op == OP_LINEAR ? j * per + i : i * last + j;
      }
      a->k[o] = per + (a->bias >= 0);
    } else if (n->op == OP_GAP) {
      for (int64_t i = 0; i < per; i++, t++)
        a->col[t] = o * per + i, a->widx[t] = -1;
      a->div[o] = per, a->k[o] = per + 1;
    } else {
      int conv = n->op == OP_CONV;
      int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3], O = n->shape[1], Ho = n->shape[2],
              Wo = n->shape[3];
      int64_t j = o % Wo, i = (o / Wo) % Ho, oc = (o / (Wo * Ho)) % O, b = o / (Wo * Ho * O);
      int64_t cpg = conv ? C / n->groups : 1, opg = conv ? O / n->groups : 1;
      for (int64_t ci = 0; ci < cpg; ci++)
        for (int64_t p = 0; p < n->kernel[0]; p++)
          for (int64_t q = 0; q < n->kernel[1]; q++) {
            int64_t hh = i * n->stride[0] - n->padding[0] + p * n->dilation[0];
            int64_t ww = j * n->stride[1] - n->padding[1] + q * n->dilation[1];
            if (hh < 0 || hh >= H || ww < 0 || ww >= W)
              continue;
            int64_t ch = conv ? (oc / opg) * cpg + ci : oc;
            a->col[t] = ((b * C + ch) * H + hh) * W + ww;
            a->widx[t] = conv ? ((oc * cpg + ci) * n->kernel[0] + p) * n->kernel[1] + q : -1;
            t++;
          }
      if (!conv)
        a->div[o] = n->kernel[0] * n->kernel[1];
      a->k[o] = per + (a->bias >= 0) + (!conv);
    }
  }
  a->rp[n->numel] = t;
  return OK;
}

/* The affine view of node id, built on first use and kept in the graph (read-only afterwards):
 * *a is a shallow copy, not to be freed. */
int caff_get(ctx *c, const cgraph *g, int id, caff *a) {
  if (!g->aff)
    return fail(c, BAD, "internal: no affine cache");
  caff *k = &g->aff[id];
  if (!k->rp) {
    int rc = caff_build(c, g, id, k);
    if (rc != OK) {
      caff_free(k);
      memset(k, 0, sizeof *k);
      return rc;
    }
  }
  /* the rational weight pointers, for the exact checker only (after graph_exact) */
  if (g->exact && !k->w) {
    const cnode *n = &g->nodes[id];
    const cnode *w = aff_weight(g, n);
    int64_t nnz = k->rp[k->nout];
    if (!(k->w = malloc((size_t)(nnz ? nnz : 1) * sizeof *k->w)))
      return fail(c, BAD, "out of memory");
    for (int64_t t = 0; t < nnz; t++)
      k->w[t] = w && k->widx[t] >= 0 ? (const mpq_t *)&w->w[k->widx[t]].q : NULL;
  }
  *a = *k;
  return OK;
}
