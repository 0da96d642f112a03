/* interp.c - the generic graph interpreter (see interp.h).  Each op is written once, in the
 * f32-ref order of docs/semantics.md, over the primitive operations of a domain: one rule per op
 * (rule_<name>, named after the op's row of ops.def), found through the table interp_rules. */
#include "interp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tl_code tl_dom_fail(tl_dom *d, tl_code code, const char *fmt, ...) {
  char buf[TL_STATUS_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return tl_fail(d->st, code, "node %d (%s): %s", d->node, d->opname ? d->opname : "?", buf);
}

/* copy both endpoints exactly (mpfi_set would normalise a -0 lower end; the emulator needs it) */
static void tl_vset(mpfi_ptr r, mpfi_srcptr a) {
  mpfr_set(&r->left, &a->left, MPFR_RNDD);
  mpfr_set(&r->right, &a->right, MPFR_RNDU);
}

/* One allocation per vector: the mpfi_t array followed by the significands of all endpoints
 * (MPFR's custom interface), instead of two mallocs per value.  Values are never resized
 * (no mpfi_set_prec on them) and are released with vec_free only. */
static mpfi_t *vec_new(int64_t n, mpfr_prec_t prec) {
  size_t sz = mpfr_custom_get_size(prec), al = sizeof(mp_limb_t);
  sz = (sz + al - 1) / al * al;
  size_t head = ((size_t)(n > 0 ? n : 1) * sizeof(mpfi_t) + al - 1) / al * al;
  char *blk = malloc(head + (size_t)(n > 0 ? n : 0) * 2 * sz);
  if (!blk)
    return NULL;
  mpfi_t *v = (mpfi_t *)(void *)blk;
  char *limbs = blk + head;
  for (int64_t i = 0; i < n; i++) {
    void *l = limbs + (size_t)(2 * i) * sz, *h = limbs + (size_t)(2 * i + 1) * sz;
    mpfr_custom_init(l, prec);
    mpfr_custom_init(h, prec);
    mpfr_custom_init_set(&v[i]->left, MPFR_NAN_KIND, 0, prec, l);
    mpfr_custom_init_set(&v[i]->right, MPFR_NAN_KIND, 0, prec, h);
  }
  return v;
}

static void vec_free(mpfi_t *v, int64_t n) {
  (void)n;
  free(v);
}

tl_code tl_interp_vals_new(tl_interp_vals **out, const tl_graph *g, mpfr_prec_t prec, tl_status *st) {
  *out = NULL;
  tl_interp_vals *v = calloc(1, sizeof *v);
  if (!v)
    return tl_fail(st, TL_ENOMEM, "interp: out of memory");
  v->nnodes = g->nnodes;
  v->numel = calloc((size_t)g->nnodes + 1, sizeof *v->numel);
  v->v = calloc((size_t)g->nnodes + 1, sizeof *v->v);
  if (!v->numel || !v->v) {
    tl_interp_vals_free(v);
    return tl_fail(st, TL_ENOMEM, "interp: out of memory");
  }
  for (int i = 0; i < g->nnodes; i++) {
    v->v[i] = vec_new(g->nodes[i].numel, prec);
    if (!v->v[i]) {
      tl_interp_vals_free(v);
      return tl_fail(st, TL_ENOMEM, "interp: out of memory for node %d", i);
    }
    v->numel[i] = g->nodes[i].numel;
  }
  *out = v;
  return TL_OK;
}

void tl_interp_vals_free(tl_interp_vals *v) {
  if (!v)
    return;
  if (v->v)
    for (int i = 0; i < v->nnodes; i++)
      vec_free(v->v[i], v->numel[i]);
  free(v->v);
  free(v->numel);
  free(v);
}

/* ---- small helpers ---------------------------------------------------------------------- */
typedef struct scratch {
  mpfi_srcptr *xs, *ys;
  int64_t cap;
  int64_t *idx; /* fx_dot gathers (conv, matmul) */
  float *wf;
  int64_t fcap;
} scratch;

static tl_code scratch_need_fx(scratch *s, int64_t n, tl_status *st) {
  if (n <= s->fcap)
    return TL_OK;
  int64_t *a = realloc(s->idx, (size_t)n * sizeof *a);
  if (a)
    s->idx = a;
  float *b = realloc(s->wf, (size_t)n * sizeof *b);
  if (b)
    s->wf = b;
  if (!a || !b)
    return tl_fail(st, TL_ENOMEM, "interp: out of memory");
  s->fcap = n;
  return TL_OK;
}

/* the exact float32 values of node id when it is a PARAM (its interpreter values are exactly
 * these floats in every domain) and the domain has the fx fast path; else NULL */
static const float *fx_weights(const tl_graph *g, const tl_dom *d, int id) {
  if (!d->fx_dot || !d->fx_begin || g->nodes[id].op != TL_OP_PARAM)
    return NULL;
  return g->weights + g->nodes[id].woff;
}

static tl_code scratch_need(scratch *s, int64_t n, tl_status *st) {
  if (n <= s->cap)
    return TL_OK;
  mpfi_srcptr *a = realloc(s->xs, (size_t)n * sizeof *a);
  if (a)
    s->xs = a;
  mpfi_srcptr *b = realloc(s->ys, (size_t)n * sizeof *b);
  if (b)
    s->ys = b;
  if (!a || !b)
    return tl_fail(st, TL_ENOMEM, "interp: out of memory");
  s->cap = n;
  return TL_OK;
}

#define NODE(id) (&g->nodes[id])
#define VAL(id) (vals->v[id])

static void strides_of(int ndim, const int64_t *shape, int64_t *strides) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
}

/* index into a parent of rank pr broadcast to output coords c (rank r) */
static int64_t bcast_index(const int64_t *c, int r, const tl_node *p) {
  int64_t idx = 0, s = 1;
  for (int k = p->ndim - 1; k >= 0; k--) {
    int oc = r - p->ndim + k;
    int64_t ci = p->shape[k] == 1 ? 0 : c[oc];
    idx += ci * s;
    s *= p->shape[k];
  }
  return idx;
}

static void coords_of(int64_t flat, int r, const int64_t *shape, int64_t *c) {
  for (int k = r - 1; k >= 0; k--) {
    c[k] = shape[k] ? flat % shape[k] : 0;
    flat = shape[k] ? flat / shape[k] : 0;
  }
}

/* softmax (or log_softmax) of n values; y[i] must not alias x */
static tl_code softmax_row(tl_dom *d, int64_t n, mpfi_srcptr *x, mpfi_ptr *y, int log_form, scratch *sc) {
  tl_code rc = TL_OK;
  mpfi_t m, s, t;
  mpfi_init2(m, d->prec), mpfi_init2(s, d->prec), mpfi_init2(t, d->prec);
  mpfi_t *e = vec_new(n, d->prec);
  if (!e)
    rc = tl_fail(d->st, TL_ENOMEM, "interp: out of memory");
  if (rc == TL_OK)
    rc = scratch_need(sc, n, d->st);
  if (rc == TL_OK && d->kind == TL_DOM_REAL && n <= 256) {
    /* y_i = 1 / sum_j e^(x_j - x_i): exact in reals, so its interval evaluation encloses y_i */
    for (int64_t i = 0; i < n && rc == TL_OK; i++) {
      for (int64_t j = 0; j < n && rc == TL_OK; j++) {
        if (j == i)
          mpfi_set_ui(e[j], 1);
        else if ((rc = d->bin(d, TL_OP_SUB, t, x[j], x[i])) == TL_OK)
          rc = d->un(d, TL_OP_EXP, e[j], t, 0);
        sc->xs[j] = e[j];
      }
      if (rc == TL_OK)
        rc = d->dot(d, s, n, sc->xs, NULL, NULL);
      if (rc == TL_OK && log_form) {
        rc = d->un(d, TL_OP_LOG, t, s, 0);
        if (rc == TL_OK)
          rc = d->un(d, TL_OP_NEG, y[i], t, 0);
      } else if (rc == TL_OK) {
        rc = d->un(d, TL_PRIM_RECIP, y[i], s, 0);
      }
    }
  } else if (rc == TL_OK) {
    /* m = max; t_i = x_i - m; e_i = exp(t_i); s = sum e; y_i = e_i / s  (log: t_i - log s).
     * Real domain, long rows: any real shift c gives the same value; c = upper end of max. */
    tl_vset(m, x[0]);
    for (int64_t j = 1; j < n && rc == TL_OK; j++)
      rc = d->bin(d, TL_OP_MAX, m, m, x[j]);
    if (rc == TL_OK && d->kind == TL_DOM_REAL)
      mpfi_set_fr(m, &m->right);
    mpfi_t *tt = vec_new(n, d->prec);
    if (!tt && rc == TL_OK)
      rc = tl_fail(d->st, TL_ENOMEM, "interp: out of memory");
    for (int64_t j = 0; j < n && rc == TL_OK; j++) {
      rc = d->bin(d, TL_OP_SUB, tt[j], x[j], m);
      if (rc == TL_OK)
        rc = d->un(d, TL_OP_EXP, e[j], tt[j], 0);
      sc->xs[j] = e[j];
    }
    if (rc == TL_OK)
      rc = d->dot(d, s, n, sc->xs, NULL, NULL);
    if (rc == TL_OK && log_form) {
      rc = d->un(d, TL_OP_LOG, t, s, 0);
      for (int64_t i = 0; i < n && rc == TL_OK; i++)
        rc = d->bin(d, TL_OP_SUB, y[i], tt[i], t);
    } else {
      for (int64_t i = 0; i < n && rc == TL_OK; i++)
        rc = d->bin(d, TL_OP_DIV, y[i], e[i], s);
    }
    vec_free(tt, tt ? n : 0);
  }
  if (rc == TL_OK && d->kind == TL_DOM_REAL && !log_form) {
    mpfi_t unit;
    mpfi_init2(unit, d->prec);
    mpfi_interv_si(unit, 0, 1);
    for (int64_t i = 0; i < n; i++)
      mpfi_intersect(y[i], y[i], unit);
    mpfi_clear(unit);
  }
  vec_free(e, e ? n : 0);
  mpfi_clear(m), mpfi_clear(s), mpfi_clear(t);
  return rc;
}

/* ---- the ops' rules (interp_rules below indexes them by op) ------------------------------------- */
/* Every rule has these parameters: the graph, the domain, the values of all nodes, the node to
 * evaluate (its values are vals->v[nd - g->nodes]) and the interpreter's scratch arrays. */
#define RULE_PARAMS const tl_graph *g, tl_dom *d, tl_interp_vals *vals, const tl_node *nd, scratch *sc

/* y[r, o] = sum_i x[r, i] W[o, i] + b[o] (bias added last) */
static tl_code rule_linear(RULE_PARAMS) {
  const tl_node *x = NODE(nd->parents[0]), *w = NODE(nd->parents[1]);
  int64_t in = w->shape[1], out = w->shape[0], rows = in ? x->numel / in : 0;
  if (in == 0)
    rows = nd->numel / (out ? out : 1);
  TL_TRY(scratch_need(sc, in, d->st));
  const float *wf = fx_weights(g, d, nd->parents[1]);
  int fast = wf && d->fx_begin(d, VAL(nd->parents[0]), x->numel);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < out; o++) {
      if (fast && d->fx_dot(d, VAL(nd - g->nodes)[r * out + o], in, r * in, NULL, wf + o * in, 1,
                            nd->nparents == 3 ? VAL(nd->parents[2])[o] : NULL))
        continue;
      for (int64_t i = 0; i < in; i++) {
        sc->xs[i] = VAL(nd->parents[0])[r * in + i];
        sc->ys[i] = VAL(nd->parents[1])[o * in + i];
      }
      mpfi_srcptr b = nd->nparents == 3 ? VAL(nd->parents[2])[o] : NULL;
      TL_TRY(d->dot(d, VAL(nd - g->nodes)[r * out + o], in, sc->xs, sc->ys, b));
    }
  return TL_OK;
}

/* y[..., i, k] = sum_j a[..., i, j] b[..., j, k] (batch axes broadcast) */
static tl_code rule_matmul(RULE_PARAMS) {
  const tl_node *a = NODE(nd->parents[0]), *b = NODE(nd->parents[1]);
  int r = nd->ndim;
  int64_t M = nd->shape[r - 2], K = a->shape[a->ndim - 1], N = nd->shape[r - 1];
  int64_t batch = (M && N) ? nd->numel / (M * N) : 0;
  int64_t c[64];
  if (r > 64)
    return tl_dom_fail(d, TL_EUNSUPPORTED, "rank %d above 64", r);
  TL_TRY(scratch_need(sc, K, d->st));
  TL_TRY(scratch_need_fx(sc, K, d->st));
  /* fast path: B a PARAM (x = rows of A), else A a PARAM (x = columns of B) */
  const float *wb = fx_weights(g, d, nd->parents[1]), *wa = wb ? NULL : fx_weights(g, d, nd->parents[0]);
  int fast = (wb && d->fx_begin(d, VAL(nd->parents[0]), a->numel)) ||
             (wa && d->fx_begin(d, VAL(nd->parents[1]), b->numel));
  for (int64_t bi = 0; bi < batch; bi++) {
    /* batch coords */
    int64_t f = bi;
    for (int k = r - 3; k >= 0; k--) {
      c[k] = f % nd->shape[k];
      f /= nd->shape[k];
    }
    int64_t aoff = 0, boff = 0, s = 1;
    for (int k = a->ndim - 3; k >= 0; k--) {
      int oc = r - a->ndim + k;
      aoff += (a->shape[k] == 1 ? 0 : c[oc]) * s;
      s *= a->shape[k];
    }
    s = 1;
    for (int k = b->ndim - 3; k >= 0; k--) {
      int oc = r - b->ndim + k;
      boff += (b->shape[k] == 1 ? 0 : c[oc]) * s;
      s *= b->shape[k];
    }
    aoff *= M * K, boff *= K * N;
    for (int64_t i = 0; i < M; i++)
      for (int64_t k = 0; k < N; k++) {
        mpfi_ptr y = VAL(nd - g->nodes)[(bi * M + i) * N + k];
        if (fast && wb && d->fx_dot(d, y, K, aoff + i * K, NULL, wb + boff + k, N, NULL))
          continue;
        if (fast && wa) {
          for (int64_t j = 0; j < K; j++)
            sc->idx[j] = boff + j * N + k;
          if (d->fx_dot(d, y, K, 0, sc->idx, wa + aoff + i * K, 1, NULL))
            continue;
        }
        for (int64_t j = 0; j < K; j++) {
          sc->xs[j] = VAL(nd->parents[0])[aoff + i * K + j];
          sc->ys[j] = VAL(nd->parents[1])[boff + j * N + k];
        }
        TL_TRY(d->dot(d, y, K, sc->xs, sc->ys, NULL));
      }
  }
  return TL_OK;
}

/* y = a op b elementwise, a and b broadcast to y: the domain's binary primitive */
static tl_code rule_binary(RULE_PARAMS) {
  const tl_node *a = NODE(nd->parents[0]), *b = NODE(nd->parents[1]);
  int64_t c[64];
  if (nd->ndim > 64)
    return tl_dom_fail(d, TL_EUNSUPPORTED, "rank %d above 64", nd->ndim);
  for (int64_t i = 0; i < nd->numel; i++) {
    coords_of(i, nd->ndim, nd->shape, c);
    TL_TRY(d->bin(d, nd->op, VAL(nd - g->nodes)[i], VAL(nd->parents[0])[bcast_index(c, nd->ndim, a)],
                  VAL(nd->parents[1])[bcast_index(c, nd->ndim, b)]));
  }
  return TL_OK;
}

/* composite elementwise ops: sigmoid, silu, gelu (f32-ref order in docs/semantics.md) */
static tl_code sigmoid1(tl_dom *d, mpfi_ptr y, mpfi_srcptr x, mpfi_ptr t, mpfi_ptr one) {
  TL_TRY(d->un(d, TL_OP_NEG, t, x, 0));
  TL_TRY(d->un(d, TL_OP_EXP, t, t, 0));
  TL_TRY(d->bin(d, TL_OP_ADD, t, one, t));
  return d->bin(d, TL_OP_DIV, y, one, t);
}

/* y = 1 / (1 + exp(-x)) */
static tl_code rule_sigmoid(RULE_PARAMS) {
  mpfi_t one, t;
  mpfi_init2(one, d->prec), mpfi_init2(t, d->prec);
  d->konst(d, one, 1.0);
  tl_code rc = TL_OK;
  for (int64_t i = 0; i < nd->numel && rc == TL_OK; i++)
    rc = sigmoid1(d, VAL(nd - g->nodes)[i], VAL(nd->parents[0])[i], t, one);
  mpfi_clear(one), mpfi_clear(t);
  return rc;
}

/* y = x * sigmoid(x) */
static tl_code rule_silu(RULE_PARAMS) {
  mpfi_t one, t, u;
  mpfi_init2(one, d->prec), mpfi_init2(t, d->prec), mpfi_init2(u, d->prec);
  d->konst(d, one, 1.0);
  tl_code rc = TL_OK;
  for (int64_t i = 0; i < nd->numel && rc == TL_OK; i++) {
    mpfi_srcptr x = VAL(nd->parents[0])[i];
    rc = sigmoid1(d, u, x, t, one);
    if (rc == TL_OK)
      rc = d->bin(d, TL_OP_MUL, VAL(nd - g->nodes)[i], x, u);
  }
  mpfi_clear(one), mpfi_clear(t), mpfi_clear(u);
  return rc;
}

/* the constants of gelu: 1, 0.5, c_a = 0.044715, c_s = sqrt(2/pi) */
typedef struct gelu_k {
  mpfi_t one, half, ca, cs;
} gelu_k;

/* gelu, real: 0.5 * (x * (1 + tanh(c_s * (x + c_a * (x^2 * x))))); the same real value as the
 * f32-ref form below; x^2 keeps the interval tighter over a box */
static tl_code gelu_real1(tl_dom *d, const gelu_k *k, mpfi_ptr y, mpfi_srcptr x, mpfi_ptr t) {
  tl_code rc = d->un(d, TL_PRIM_SQR, t, x, 0);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, t, t, x);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, t, k->ca, t);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_ADD, t, x, t);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, t, k->cs, t);
  if (rc == TL_OK)
    rc = d->un(d, TL_OP_TANH, t, t, 0);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_ADD, t, k->one, t);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, t, x, t);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, y, k->half, t);
  return rc;
}

/* gelu, f32-ref: (0.5 * x) * (1 + tanh(c_s * (x + ((c_a * x) * x) * x))) */
static tl_code gelu_ref1(tl_dom *d, const gelu_k *k, mpfi_ptr y, mpfi_srcptr x, mpfi_ptr t, mpfi_ptr u) {
  tl_code rc = d->bin(d, TL_OP_MUL, t, k->ca, x);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, t, t, x);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, t, t, x);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_ADD, t, x, t);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, t, k->cs, t);
  if (rc == TL_OK)
    rc = d->un(d, TL_OP_TANH, t, t, 0);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_ADD, t, k->one, t);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, u, k->half, x);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_MUL, y, u, t);
  return rc;
}

/* y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
static tl_code rule_gelu(RULE_PARAMS) {
  gelu_k k;
  mpfi_t t, u;
  mpfi_init2(k.one, d->prec), mpfi_init2(k.half, d->prec), mpfi_init2(t, d->prec), mpfi_init2(u, d->prec);
  mpfi_init2(k.ca, d->prec), mpfi_init2(k.cs, d->prec);
  d->konst(d, k.one, 1.0);
  d->konst(d, k.half, 0.5);
  d->konst_id(d, k.ca, TL_CONST_GELU_A);
  d->konst_id(d, k.cs, TL_CONST_SQRT_2_OVER_PI);
  tl_code rc = TL_OK;
  for (int64_t i = 0; i < nd->numel && rc == TL_OK; i++) {
    mpfi_srcptr x = VAL(nd->parents[0])[i];
    mpfi_ptr y = VAL(nd - g->nodes)[i];
    rc = d->kind == TL_DOM_REAL ? gelu_real1(d, &k, y, x, t) : gelu_ref1(d, &k, y, x, t, u);
  }
  mpfi_clear(k.one), mpfi_clear(k.half), mpfi_clear(t), mpfi_clear(u), mpfi_clear(k.ca), mpfi_clear(k.cs);
  return rc;
}

/* softmax (log_form: log_softmax) of every row along nd->attrs.axis */
static tl_code softmax_along(RULE_PARAMS, int log_form) {
  int ax = (int)nd->attrs.axis;
  int64_t len = nd->shape[ax], inner = 1, outer = 1;
  for (int k = ax + 1; k < nd->ndim; k++)
    inner *= nd->shape[k];
  for (int k = 0; k < ax; k++)
    outer *= nd->shape[k];
  mpfi_srcptr *x = malloc((size_t)(len ? len : 1) * sizeof *x);
  mpfi_ptr *y = malloc((size_t)(len ? len : 1) * sizeof *y);
  tl_code rc = x && y ? TL_OK : tl_fail(d->st, TL_ENOMEM, "interp: out of memory");
  for (int64_t o = 0; o < outer && rc == TL_OK; o++)
    for (int64_t in = 0; in < inner && rc == TL_OK; in++) {
      for (int64_t k = 0; k < len; k++) {
        x[k] = VAL(nd->parents[0])[(o * len + k) * inner + in];
        y[k] = VAL(nd - g->nodes)[(o * len + k) * inner + in];
      }
      if (len > 0)
        rc = softmax_row(d, len, x, y, log_form, sc);
    }
  free(x), free(y);
  return rc;
}

/* sum (mean: then / count) over attrs.list, or over every axis when it is empty */
static tl_code reduce_axes(RULE_PARAMS, int mean) {
  const tl_node *x = NODE(nd->parents[0]);
  int r = x->ndim;
  unsigned char hit[64] = {0};
  if (r > 64)
    return tl_dom_fail(d, TL_EUNSUPPORTED, "rank %d above 64", r);
  for (int i = 0; i < nd->attrs.nlist; i++)
    hit[nd->attrs.list[i]] = 1;
  if (nd->attrs.nlist == 0)
    memset(hit, 1, (size_t)r);
  int64_t nred = 1;
  for (int k = 0; k < r; k++)
    if (hit[k])
      nred *= x->shape[k];
  int64_t nout = nd->numel;
  TL_TRY(scratch_need(sc, nout * nred, d->st));
  int64_t c[64];
  for (int64_t i = 0; i < x->numel; i++) {
    coords_of(i, r, x->shape, c);
    int64_t o = 0, k = 0;
    for (int a = 0; a < r; a++) {
      if (hit[a])
        k = k * x->shape[a] + c[a];
      else
        o = o * x->shape[a] + c[a];
    }
    sc->xs[o * nred + k] = VAL(nd->parents[0])[i];
  }
  mpfi_t n;
  mpfi_init2(n, d->prec);
  d->konst(d, n, (double)nred);
  tl_code rc = TL_OK;
  for (int64_t o = 0; o < nout && rc == TL_OK; o++) {
    mpfi_ptr y = VAL(nd - g->nodes)[o];
    rc = d->dot(d, y, nred, sc->xs + o * nred, NULL, NULL);
    if (rc == TL_OK && mean)
      rc = d->bin(d, TL_OP_DIV, y, y, n);
  }
  mpfi_clear(n);
  return rc;
}

/* y[c] = x[c permuted]: output axis k is input axis perm[k] */
static tl_code rule_permute(RULE_PARAMS) {
  const tl_node *x = NODE(nd->parents[0]);
  int64_t c[64], xs[64];
  if (nd->ndim > 64)
    return tl_dom_fail(d, TL_EUNSUPPORTED, "rank %d above 64", nd->ndim);
  strides_of(x->ndim, x->shape, xs);
  for (int64_t i = 0; i < nd->numel; i++) {
    coords_of(i, nd->ndim, nd->shape, c);
    int64_t src = 0;
    for (int k = 0; k < nd->ndim; k++)
      src += c[k] * xs[nd->attrs.list[k]];
    tl_vset(VAL(nd - g->nodes)[i], VAL(nd->parents[0])[src]);
  }
  return TL_OK;
}

/* y = the parents one after the other along the axis */
static tl_code rule_concat(RULE_PARAMS) {
  int ax = (int)nd->attrs.axis;
  int64_t inner = 1, outer = 1, off = 0;
  for (int k = ax + 1; k < nd->ndim; k++)
    inner *= nd->shape[k];
  for (int k = 0; k < ax; k++)
    outer *= nd->shape[k];
  for (int p = 0; p < nd->nparents; p++) {
    int64_t len = NODE(nd->parents[p])->shape[ax];
    for (int64_t o = 0; o < outer; o++)
      for (int64_t k = 0; k < len * inner; k++)
        tl_vset(VAL(nd - g->nodes)[(o * nd->shape[ax] + off) * inner + k],
                VAL(nd->parents[p])[o * len * inner + k]);
    off += len;
  }
  return TL_OK;
}

/* y = x[..., start + j step, ...] along the axis */
static tl_code rule_slice(RULE_PARAMS) {
  const tl_node *x = NODE(nd->parents[0]);
  int ax = (int)nd->attrs.axis;
  int64_t inner = 1, outer = 1;
  for (int k = ax + 1; k < nd->ndim; k++)
    inner *= nd->shape[k];
  for (int k = 0; k < ax; k++)
    outer *= nd->shape[k];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < nd->shape[ax]; j++)
      for (int64_t k = 0; k < inner; k++)
        tl_vset(VAL(nd - g->nodes)[(o * nd->shape[ax] + j) * inner + k],
                VAL(nd->parents[0])[(o * x->shape[ax] + nd->attrs.start + j * nd->attrs.step) * inner + k]);
  return TL_OK;
}

/* y[n,o,i,j] = sum_{c,p,q} W[o,c,p,q] x[n, grp C/G + c, i s - pad + p d, ...] + b[o] (padding: no term) */
static tl_code rule_conv2d(RULE_PARAMS) {
  const tl_node *x = NODE(nd->parents[0]), *w = NODE(nd->parents[1]);
  const tl_attrs *a = &nd->attrs;
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t O = w->shape[0], CG = w->shape[1], KH = w->shape[2], KW = w->shape[3];
  int64_t HO = nd->shape[2], WO = nd->shape[3], OG = O / a->groups;
  TL_TRY(scratch_need(sc, CG * KH * KW, d->st));
  TL_TRY(scratch_need_fx(sc, CG * KH * KW, d->st));
  const float *wf = fx_weights(g, d, nd->parents[1]);
  int fast = wf && d->fx_begin(d, VAL(nd->parents[0]), x->numel);
  for (int64_t n = 0; n < N; n++)
    for (int64_t o = 0; o < O; o++) {
      int64_t grp = o / OG;
      for (int64_t i = 0; i < HO; i++)
        for (int64_t j = 0; j < WO; j++) {
          int64_t m = 0;
          mpfi_ptr y = VAL(nd - g->nodes)[((n * O + o) * HO + i) * WO + j];
          mpfi_srcptr b = nd->nparents == 3 ? VAL(nd->parents[2])[o] : NULL;
          if (fast) {
            for (int64_t c = 0; c < CG; c++)
              for (int64_t p = 0; p < KH; p++)
                for (int64_t q = 0; q < KW; q++) {
                  int64_t h = i * a->stride[0] - a->padding[0] + p * a->dilation[0];
                  int64_t ww = j * a->stride[1] - a->padding[1] + q * a->dilation[1];
                  if (h < 0 || h >= H || ww < 0 || ww >= W)
                    continue;
                  sc->idx[m] = ((n * C + grp * CG + c) * H + h) * W + ww;
                  sc->wf[m] = wf[((o * CG + c) * KH + p) * KW + q];
                  m++;
                }
            if (d->fx_dot(d, y, m, 0, sc->idx, sc->wf, 1, b))
              continue;
            m = 0;
          }
          for (int64_t c = 0; c < CG; c++)
            for (int64_t p = 0; p < KH; p++)
              for (int64_t q = 0; q < KW; q++) {
                int64_t h = i * a->stride[0] - a->padding[0] + p * a->dilation[0];
                int64_t ww = j * a->stride[1] - a->padding[1] + q * a->dilation[1];
                if (h < 0 || h >= H || ww < 0 || ww >= W)
                  continue; /* padding: a zero term, omitted */
                sc->xs[m] = VAL(nd->parents[0])[((n * C + grp * CG + c) * H + h) * W + ww];
                sc->ys[m] = VAL(nd->parents[1])[((o * CG + c) * KH + p) * KW + q];
                m++;
              }
          TL_TRY(d->dot(d, y, m, sc->xs, sc->ys, b));
        }
    }
  return TL_OK;
}

/* max (is_max) or mean (sum / (kh kw)) of each window; padding: no term */
static tl_code pool2d(RULE_PARAMS, int is_max) {
  const tl_node *x = NODE(nd->parents[0]);
  const tl_attrs *a = &nd->attrs;
  int64_t NC = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t HO = nd->shape[2], WO = nd->shape[3], KH = a->kernel[0], KW = a->kernel[1];
  TL_TRY(scratch_need(sc, KH * KW, d->st));
  mpfi_t cnt;
  mpfi_init2(cnt, d->prec);
  d->konst(d, cnt, (double)(KH * KW));
  tl_code rc = TL_OK;
  for (int64_t nc = 0; nc < NC && rc == TL_OK; nc++)
    for (int64_t i = 0; i < HO && rc == TL_OK; i++)
      for (int64_t j = 0; j < WO && rc == TL_OK; j++) {
        int64_t m = 0;
        for (int64_t p = 0; p < KH; p++)
          for (int64_t q = 0; q < KW; q++) {
            int64_t h = i * a->stride[0] - a->padding[0] + p * a->dilation[0];
            int64_t ww = j * a->stride[1] - a->padding[1] + q * a->dilation[1];
            if (h >= 0 && h < H && ww >= 0 && ww < W)
              sc->xs[m++] = VAL(nd->parents[0])[(nc * H + h) * W + ww];
          }
        mpfi_ptr y = VAL(nd - g->nodes)[(nc * HO + i) * WO + j];
        if (is_max) {
          if (m == 0) {
            rc = tl_dom_fail(d, TL_EVALUE, "window at (%lld, %lld) lies entirely in the padding",
                             (long long)i, (long long)j);
            break;
          }
          tl_vset(y, sc->xs[0]);
          for (int64_t k = 1; k < m && rc == TL_OK; k++)
            rc = d->bin(d, TL_OP_MAX, y, y, sc->xs[k]);
        } else {
          rc = d->dot(d, y, m, sc->xs, NULL, NULL);
          if (rc == TL_OK)
            rc = d->bin(d, TL_OP_DIV, y, y, cnt);
        }
      }
  mpfi_clear(cnt);
  return rc;
}

/* y[n,c] = (sum over the spatial positions of x[n,c]) / count */
static tl_code rule_global_avg_pool(RULE_PARAMS) {
  const tl_node *x = NODE(nd->parents[0]);
  int64_t NC = x->shape[0] * x->shape[1], sp = NC ? x->numel / NC : 0;
  TL_TRY(scratch_need(sc, sp, d->st));
  mpfi_t cnt;
  mpfi_init2(cnt, d->prec);
  d->konst(d, cnt, (double)sp);
  tl_code rc = TL_OK;
  for (int64_t nc = 0; nc < NC && rc == TL_OK; nc++) {
    for (int64_t k = 0; k < sp; k++)
      sc->xs[k] = VAL(nd->parents[0])[nc * sp + k];
    rc = d->dot(d, VAL(nd - g->nodes)[nc], sp, sc->xs, NULL, NULL);
    if (rc == TL_OK)
      rc = d->bin(d, TL_OP_DIV, VAL(nd - g->nodes)[nc], VAL(nd - g->nodes)[nc], cnt);
  }
  mpfi_clear(cnt);
  return rc;
}

/* y = ((x - mean) / sqrt(var + eps)) * gamma + beta, per channel (axis 1) */
static tl_code rule_batch_norm(RULE_PARAMS) {
  int64_t C = nd->shape[1], inner = 1;
  for (int k = 2; k < nd->ndim; k++)
    inner *= nd->shape[k];
  mpfi_t eps, den, t;
  mpfi_init2(eps, d->prec), mpfi_init2(den, d->prec), mpfi_init2(t, d->prec);
  d->konst(d, eps, nd->attrs.eps);
  tl_code rc = TL_OK;
  const int *p = nd->parents;
  for (int64_t c = 0; c < C && rc == TL_OK; c++) {
    rc = d->bin(d, TL_OP_ADD, den, VAL(p[4])[c], eps);
    if (rc == TL_OK)
      rc = d->un(d, TL_OP_SQRT, den, den, 0);
    for (int64_t i = c * inner; i < nd->numel && rc == TL_OK; i += C * inner)
      for (int64_t k = 0; k < inner && rc == TL_OK; k++) {
        rc = d->bin(d, TL_OP_SUB, t, VAL(p[0])[i + k], VAL(p[3])[c]);
        if (rc == TL_OK)
          rc = d->bin(d, TL_OP_DIV, t, t, den);
        if (rc == TL_OK)
          rc = d->bin(d, TL_OP_MUL, t, t, VAL(p[1])[c]);
        if (rc == TL_OK)
          rc = d->bin(d, TL_OP_ADD, VAL(nd - g->nodes)[i + k], t, VAL(p[2])[c]);
      }
  }
  mpfi_clear(eps), mpfi_clear(den), mpfi_clear(t);
  return rc;
}

/* over the last axis: mean = sum/n; d_i = x_i - mean; var = (sum d_i^2)/n; r = sqrt(var + eps);
 * y_i = (d_i / r) * gamma_i + beta_i */
static tl_code rule_layer_norm(RULE_PARAMS) {
  int64_t n = nd->shape[nd->ndim - 1], rows = n ? nd->numel / n : 0;
  const int *p = nd->parents;
  mpfi_t eps, cnt, mean, var;
  mpfi_init2(eps, d->prec), mpfi_init2(cnt, d->prec), mpfi_init2(mean, d->prec), mpfi_init2(var, d->prec);
  d->konst(d, eps, nd->attrs.eps);
  d->konst(d, cnt, (double)n);
  mpfi_t *dv = vec_new(n, d->prec);
  tl_code rc = dv ? scratch_need(sc, n, d->st) : tl_fail(d->st, TL_ENOMEM, "interp: out of memory");
  for (int64_t r = 0; r < rows && rc == TL_OK; r++) {
    mpfi_t *x = VAL(p[0]) + r * n, *y = VAL(nd - g->nodes) + r * n;
    for (int64_t i = 0; i < n; i++)
      sc->xs[i] = x[i];
    rc = d->dot(d, mean, n, sc->xs, NULL, NULL);
    if (rc == TL_OK)
      rc = d->bin(d, TL_OP_DIV, mean, mean, cnt);
    for (int64_t i = 0; i < n && rc == TL_OK; i++) {
      rc = d->bin(d, TL_OP_SUB, dv[i], x[i], mean);
      sc->xs[i] = dv[i];
    }
    if (rc == TL_OK)
      rc = d->dot(d, var, n, sc->xs, sc->xs, NULL);
    if (rc == TL_OK)
      rc = d->bin(d, TL_OP_DIV, var, var, cnt);
    if (rc == TL_OK)
      rc = d->bin(d, TL_OP_ADD, var, var, eps);
    if (rc == TL_OK)
      rc = d->un(d, TL_OP_SQRT, var, var, 0);
    for (int64_t i = 0; i < n && rc == TL_OK; i++) {
      rc = d->bin(d, TL_OP_DIV, y[i], dv[i], var);
      if (rc == TL_OK && nd->nparents > 1)
        rc = d->bin(d, TL_OP_MUL, y[i], y[i], VAL(p[1])[i]);
      if (rc == TL_OK && nd->nparents > 2)
        rc = d->bin(d, TL_OP_ADD, y[i], y[i], VAL(p[2])[i]);
    }
  }
  vec_free(dv, dv ? n : 0);
  mpfi_clear(eps), mpfi_clear(cnt), mpfi_clear(mean), mpfi_clear(var);
  return rc;
}

/* y[i, :] = table[idx_i, :]; idx_i must be a single integer in [0, rows) */
static tl_code rule_embedding(RULE_PARAMS) {
  const tl_node *tab = NODE(nd->parents[1]);
  int64_t rows = tab->shape[0], dim = tab->shape[1], n = NODE(nd->parents[0])->numel;
  for (int64_t i = 0; i < n; i++) {
    mpfi_srcptr ix = VAL(nd->parents[0])[i];
    if (!mpfr_equal_p(&ix->left, &ix->right) || !mpfr_integer_p(&ix->left) || mpfr_sgn(&ix->left) < 0 ||
        mpfr_cmp_si(&ix->left, (long)rows) >= 0)
      return tl_dom_fail(d, TL_EDOMAIN, "index %lld is not a single integer in [0, %lld) (interval [%g, %g])",
                         (long long)i, (long long)rows, mpfr_get_d(&ix->left, MPFR_RNDD),
                         mpfr_get_d(&ix->right, MPFR_RNDU));
    long k = mpfr_get_si(&ix->left, MPFR_RNDN);
    for (int64_t j = 0; j < dim; j++)
      tl_vset(VAL(nd - g->nodes)[i * dim + j], VAL(nd->parents[1])[k * dim + j]);
  }
  return TL_OK;
}

/* attention: qkv = x W_in^T + b_in; per head: s_ij = (q_i . k_j) / sqrt(dh), masked j > i when
 * causal; p_i = softmax_j(s_ij); o_i = sum_j p_ij v_j; y = o W_out^T + b_out */
static tl_code rule_attention(RULE_PARAMS) {
  const int *p = nd->parents;
  int64_t N = nd->shape[0], L = nd->shape[1], E = nd->shape[2], H = nd->attrs.heads, dh = E / H;
  int64_t nqkv = N * L * 3 * E, no = N * L * E;
  mpfi_t *qkv = vec_new(nqkv, d->prec), *o = vec_new(no, d->prec), *s = vec_new(L, d->prec),
         *pr = vec_new(L, d->prec);
  mpfi_srcptr *sx = malloc((size_t)(L + 1) * sizeof *sx);
  mpfi_ptr *py = malloc((size_t)(L + 1) * sizeof *py);
  mpfi_t scale;
  mpfi_init2(scale, d->prec);
  tl_code rc = qkv && o && s && pr && sx && py ? TL_OK : tl_fail(d->st, TL_ENOMEM, "interp: out of memory");
  if (rc == TL_OK) {
    d->konst(d, scale, (double)dh);
    rc = d->un(d, TL_OP_SQRT, scale, scale, 0);
  }
  if (rc == TL_OK)
    rc = scratch_need(sc, E > L ? E : L, d->st);
  const float *win = rc == TL_OK ? fx_weights(g, d, p[1]) : NULL, *wout = fx_weights(g, d, p[3]);
  int fast = win && d->fx_begin(d, VAL(p[0]), N * L * E);
  for (int64_t r = 0; r < N * L && rc == TL_OK; r++)
    for (int64_t f = 0; f < 3 * E && rc == TL_OK; f++) {
      if (fast && d->fx_dot(d, qkv[r * 3 * E + f], E, r * E, NULL, win + f * E, 1, VAL(p[2])[f]))
        continue;
      for (int64_t i = 0; i < E; i++) {
        sc->xs[i] = VAL(p[0])[r * E + i];
        sc->ys[i] = VAL(p[1])[f * E + i];
      }
      rc = d->dot(d, qkv[r * 3 * E + f], E, sc->xs, sc->ys, VAL(p[2])[f]);
    }
  for (int64_t n = 0; n < N && rc == TL_OK; n++)
    for (int64_t h = 0; h < H && rc == TL_OK; h++)
      for (int64_t i = 0; i < L && rc == TL_OK; i++) {
        int64_t nj = nd->attrs.causal ? i + 1 : L;
        for (int64_t j = 0; j < nj && rc == TL_OK; j++) {
          for (int64_t k = 0; k < dh; k++) {
            sc->xs[k] = qkv[(n * L + i) * 3 * E + h * dh + k];
            sc->ys[k] = qkv[(n * L + j) * 3 * E + E + h * dh + k];
          }
          rc = d->dot(d, s[j], dh, sc->xs, sc->ys, NULL);
          if (rc == TL_OK)
            rc = d->bin(d, TL_OP_DIV, s[j], s[j], scale);
          sx[j] = s[j];
          py[j] = pr[j];
        }
        if (rc == TL_OK)
          rc = softmax_row(d, nj, sx, py, 0, sc);
        for (int64_t k = 0; k < dh && rc == TL_OK; k++) {
          for (int64_t j = 0; j < nj; j++) {
            sc->xs[j] = pr[j];
            sc->ys[j] = qkv[(n * L + j) * 3 * E + 2 * E + h * dh + k];
          }
          rc = d->dot(d, o[(n * L + i) * E + h * dh + k], nj, sc->xs, sc->ys, NULL);
        }
      }
  fast = rc == TL_OK && wout && d->fx_begin(d, o, no);
  for (int64_t r = 0; r < N * L && rc == TL_OK; r++)
    for (int64_t f = 0; f < E && rc == TL_OK; f++) {
      if (fast && d->fx_dot(d, VAL(nd - g->nodes)[r * E + f], E, r * E, NULL, wout + f * E, 1, VAL(p[4])[f]))
        continue;
      for (int64_t i = 0; i < E; i++) {
        sc->xs[i] = o[r * E + i];
        sc->ys[i] = VAL(p[3])[f * E + i];
      }
      rc = d->dot(d, VAL(nd - g->nodes)[r * E + f], E, sc->xs, sc->ys, VAL(p[4])[f]);
    }
  vec_free(qkv, qkv ? nqkv : 0), vec_free(o, o ? no : 0), vec_free(s, s ? L : 0), vec_free(pr, pr ? L : 0);
  free(sx), free(py);
  mpfi_clear(scale);
  return rc;
}

/* mse: d_i = a_i - b_i; y = (sum d_i^2) / n */
static tl_code rule_mse_loss(RULE_PARAMS) {
  int64_t n = NODE(nd->parents[0])->numel;
  mpfi_t *dv = vec_new(n, d->prec), cnt;
  mpfi_init2(cnt, d->prec);
  d->konst(d, cnt, (double)n);
  tl_code rc = dv ? scratch_need(sc, n, d->st) : tl_fail(d->st, TL_ENOMEM, "interp: out of memory");
  for (int64_t i = 0; i < n && rc == TL_OK; i++) {
    rc = d->bin(d, TL_OP_SUB, dv[i], VAL(nd->parents[0])[i], VAL(nd->parents[1])[i]);
    sc->xs[i] = dv[i];
  }
  mpfi_ptr y = VAL(nd - g->nodes)[0];
  if (rc == TL_OK)
    rc = d->dot(d, y, n, sc->xs, sc->xs, NULL);
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_DIV, y, y, cnt);
  vec_free(dv, dv ? n : 0);
  mpfi_clear(cnt);
  return rc;
}

/* cross entropy: r_n = sum_k t_nk ls_nk with ls = log_softmax(x_n); y = -((sum_n r_n) / N) */
static tl_code rule_cross_entropy(RULE_PARAMS) {
  const tl_node *x = NODE(nd->parents[0]);
  int64_t N = x->shape[0], K = x->shape[1];
  mpfi_t *ls = vec_new(K, d->prec), *l = vec_new(N, d->prec), cnt;
  mpfi_srcptr *xr = malloc((size_t)(K + 1) * sizeof *xr), *tr = malloc((size_t)(K + 1) * sizeof *tr);
  mpfi_ptr *yr = malloc((size_t)(K + 1) * sizeof *yr);
  mpfi_init2(cnt, d->prec);
  d->konst(d, cnt, (double)N);
  tl_code rc = ls && l && xr && tr && yr ? TL_OK : tl_fail(d->st, TL_ENOMEM, "interp: out of memory");
  for (int64_t r = 0; r < N && rc == TL_OK; r++) {
    for (int64_t k = 0; k < K; k++) {
      xr[k] = VAL(nd->parents[0])[r * K + k];
      tr[k] = VAL(nd->parents[1])[r * K + k];
      yr[k] = ls[k];
    }
    rc = K > 0 ? softmax_row(d, K, xr, yr, 1, sc) : TL_OK;
    for (int64_t k = 0; k < K; k++)
      xr[k] = ls[k];
    if (rc == TL_OK)
      rc = d->dot(d, l[r], K, tr, xr, NULL);
  }
  if (rc == TL_OK)
    rc = scratch_need(sc, N, d->st);
  mpfi_ptr y = VAL(nd - g->nodes)[0];
  if (rc == TL_OK) {
    for (int64_t r = 0; r < N; r++)
      sc->xs[r] = l[r];
    rc = d->dot(d, y, N, sc->xs, NULL, NULL);
  }
  if (rc == TL_OK)
    rc = d->bin(d, TL_OP_DIV, y, y, cnt);
  if (rc == TL_OK)
    rc = d->un(d, TL_OP_NEG, y, y, 0);
  vec_free(ls, ls ? K : 0), vec_free(l, l ? N : 0);
  free(xr), free(tr), free(yr);
  mpfi_clear(cnt);
  return rc;
}

/* r = the point f (exact: 24 bits fit any precision >= 24); same as mpfi_set_d((double)f) */
static void set_float(mpfi_ptr r, float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  unsigned be = (bits >> 23) & 0xffu, frac = bits & 0x7fffffu;
  if (be == 0xffu || (be == 0 && frac == 0)) {
    mpfi_set_d(r, (double)f);
    return;
  }
  unsigned long m = be ? frac | 0x800000u : frac;
  mpfr_set_ui_2exp(&r->left, m, (mpfr_exp_t)(be ? (int)be - 150 : -149), MPFR_RNDN);
  if (bits >> 31)
    mpfr_neg(&r->left, &r->left, MPFR_RNDN);
  mpfr_set(&r->right, &r->left, MPFR_RNDN);
}

/* ---- the rule table ------------------------------------------------------------------------ */
/* a value supplied by the caller (tl_interp_run's contract) */
static tl_code rule_input(RULE_PARAMS) { return TL_OK; }

/* y = the exact float32 weights (konst of a float; the real domain sets them directly, exactly) */
static tl_code rule_param(RULE_PARAMS) {
  int id = (int)(nd - g->nodes);
  if (d->kind == TL_DOM_REAL) {
    for (int64_t i = 0; i < nd->numel; i++)
      set_float(VAL(id)[i], g->weights[nd->woff + i]);
    return TL_OK;
  }
  for (int64_t i = 0; i < nd->numel; i++)
    d->konst(d, VAL(id)[i], (double)g->weights[nd->woff + i]);
  return TL_OK;
}

/* y_i = op(x_i): the domain's unary primitive (alpha: leaky_relu's slope) */
static tl_code rule_unary(RULE_PARAMS) {
  int id = (int)(nd - g->nodes);
  for (int64_t i = 0; i < nd->numel; i++)
    TL_TRY(d->un(d, nd->op, VAL(id)[i], VAL(nd->parents[0])[i], nd->attrs.alpha));
  return TL_OK;
}

/* y = min(max(x, lo), hi) */
static tl_code rule_clamp(RULE_PARAMS) {
  int id = (int)(nd - g->nodes);
  mpfi_t lo, hi;
  mpfi_init2(lo, d->prec), mpfi_init2(hi, d->prec);
  d->konst(d, lo, nd->attrs.lo);
  d->konst(d, hi, nd->attrs.hi);
  tl_code rc = TL_OK;
  for (int64_t i = 0; i < nd->numel && rc == TL_OK; i++) {
    rc = d->bin(d, TL_OP_MAX, VAL(id)[i], VAL(nd->parents[0])[i], lo);
    if (rc == TL_OK)
      rc = d->bin(d, TL_OP_MIN, VAL(id)[i], VAL(id)[i], hi);
  }
  mpfi_clear(lo), mpfi_clear(hi);
  return rc;
}

/* y = x, element for element (row-major order is kept) */
static tl_code rule_copy(RULE_PARAMS) {
  int id = (int)(nd - g->nodes);
  for (int64_t i = 0; i < nd->numel; i++)
    tl_vset(VAL(id)[i], VAL(nd->parents[0])[i]);
  return TL_OK;
}

/* y_i = e^(x_i - m) / sum_j e^(x_j - m) along the axis */
static tl_code rule_softmax(RULE_PARAMS) { return softmax_along(g, d, vals, nd, sc, 0); }

/* y_i = (x_i - m) - ln sum_j e^(x_j - m) along the axis */
static tl_code rule_log_softmax(RULE_PARAMS) { return softmax_along(g, d, vals, nd, sc, 1); }

/* y = sum of x over the axes */
static tl_code rule_sum(RULE_PARAMS) { return reduce_axes(g, d, vals, nd, sc, 0); }

/* y = (sum of x over the axes) / count */
static tl_code rule_mean(RULE_PARAMS) { return reduce_axes(g, d, vals, nd, sc, 1); }

/* y = max over the window (padding never wins) */
static tl_code rule_max_pool2d(RULE_PARAMS) { return pool2d(g, d, vals, nd, sc, 1); }

/* y = (sum over the window) / (kh kw), padding counted as zeros */
static tl_code rule_avg_pool2d(RULE_PARAMS) { return pool2d(g, d, vals, nd, sc, 0); }

/* an op without an interpreter rule: no row uses it today (every op of ops.def has a rule); it
 * is the row for an op that a later change adds without real semantics, and the answer for an op
 * outside the table */
static tl_code rule_unsupported(RULE_PARAMS) {
  return tl_dom_fail(d, TL_EUNSUPPORTED, "op %d has no interpreter rule", (int)nd->op);
}

/* ops that share a rule (the rule's own comment gives the formula) */
#define rule_add rule_binary       /* y = a + b (broadcasting) */
#define rule_sub rule_binary       /* y = a - b */
#define rule_mul rule_binary       /* y = a * b */
#define rule_div rule_binary       /* y = a / b (a divisor reaching 0 is a domain error) */
#define rule_max rule_binary       /* y = max(a, b) */
#define rule_min rule_binary       /* y = min(a, b) */
#define rule_neg rule_unary        /* y = -x */
#define rule_abs rule_unary        /* y = |x| */
#define rule_sqrt rule_unary       /* y = sqrt(x), x >= 0 */
#define rule_exp rule_unary        /* y = e^x */
#define rule_log rule_unary        /* y = ln x, x > 0 */
#define rule_relu rule_unary       /* y = max(x, 0) */
#define rule_leaky_relu rule_unary /* y = x if x >= 0 else alpha x */
#define rule_tanh rule_unary       /* y = tanh x */
#define rule_reshape rule_copy     /* same elements, new shape */
#define rule_flatten rule_copy     /* same elements, axes merged */
#define rule_dropout rule_copy     /* eval semantics: y = x */

typedef tl_code (*interp_rule)(RULE_PARAMS);

/* one row per op of ops.def: a missing rule is a compile error */
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = rule_##name,
static const interp_rule interp_rules[TL_OP_COUNT] = {
#include "torchlean/ops.def"
};
#undef TL_OP

static interp_rule rule_of(tl_op op) {
  return (int)op >= 0 && op < TL_OP_COUNT && interp_rules[op] ? interp_rules[op] : rule_unsupported;
}

int tl_interp_supports(tl_op op) { return rule_of(op) != rule_unsupported; }

tl_code tl_interp_run(const tl_graph *g, tl_dom *d, tl_interp_vals *vals, tl_status *st) {
  if (vals->nnodes != g->nnodes)
    return tl_fail(st, TL_EARG, "interp: value table for %d nodes, graph has %d", vals->nnodes, g->nnodes);
  scratch sc = {NULL, NULL, 0, NULL, NULL, 0};
  d->st = st;
  tl_code rc = TL_OK;
  for (int i = 0; i < g->nnodes && rc == TL_OK; i++) {
    d->node = i;
    d->opname = tl_op_get(g->nodes[i].op)->name;
    rc = rule_of(g->nodes[i].op)(g, d, vals, &g->nodes[i], &sc);
  }
  free(sc.xs);
  free(sc.ys);
  free(sc.idx);
  free(sc.wf);
  return rc;
}
