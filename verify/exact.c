/* exact.c - exact (real-semantics) evaluation of a graph at one input point.
 * Values are rational intervals [lo, hi] (GMP mpq): exact points for rational ops (affine, relu,
 * leaky relu, add, sub, mul, max pool, clamp, ...); sigmoid, tanh and the batch-norm scale are
 * enclosed with 256-bit MPFR outward rounding.  Used to confirm counterexamples and by tests. */
#include <gmp.h>
#include <limits.h>
#include <mpfr.h>
#include <stdlib.h>
#include <string.h>

#include "vinternal.h"

#define XPREC 256

typedef struct qbox {
  int64_t n;
  mpq_t *lo, *hi;
} qbox;

static int qbox_init(qbox *q, int64_t n) {
  q->n = n;
  q->lo = malloc((size_t)(n ? n : 1) * sizeof(mpq_t));
  q->hi = malloc((size_t)(n ? n : 1) * sizeof(mpq_t));
  if (!q->lo || !q->hi) {
    free(q->lo), free(q->hi);
    q->lo = q->hi = NULL;
    return 0;
  }
  for (int64_t i = 0; i < n; i++)
    mpq_init(q->lo[i]), mpq_init(q->hi[i]);
  return 1;
}

static void qbox_clear(qbox *q) {
  if (!q->lo)
    return;
  for (int64_t i = 0; i < q->n; i++)
    mpq_clear(q->lo[i]), mpq_clear(q->hi[i]);
  free(q->lo), free(q->hi);
  q->lo = q->hi = NULL;
}

/* r = f(x) rounded down (up = 0) or up, for sigmoid/tanh, as a rational */
static void act_q(mpq_t r, tl_op op, const mpq_t x, int up) {
  mpfr_t t;
  mpfr_init2(t, XPREC);
  mpfr_set_q(t, x, up ? MPFR_RNDU : MPFR_RNDD); /* f increasing */
  if (op == TL_OP_TANH) {
    mpfr_tanh(t, t, up ? MPFR_RNDU : MPFR_RNDD);
  } else {
    mpfr_neg(t, t, MPFR_RNDN);
    mpfr_exp(t, t, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_add_ui(t, t, 1, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_ui_div(t, 1, t, up ? MPFR_RNDU : MPFR_RNDD);
  }
  mpfr_get_q(r, t);
  mpfr_clear(t);
}

/* enclosure of gamma / sqrt(var + eps) */
static void bn_scale_q(mpq_t slo, mpq_t shi, double gm, double var, double eps) {
  mpfr_t a, b;
  mpfr_init2(a, XPREC), mpfr_init2(b, XPREC);
  for (int up = 0; up < 2; up++) {
    /* gamma >= 0: result increases when sqrt decreases */
    int sq_up = (gm >= 0) ? !up : up;
    mpfr_set_d(a, var, MPFR_RNDN);
    mpfr_add_d(a, a, eps, sq_up ? MPFR_RNDU : MPFR_RNDD);
    mpfr_sqrt(a, a, sq_up ? MPFR_RNDU : MPFR_RNDD);
    mpfr_set_d(b, gm, MPFR_RNDN);
    mpfr_div(b, b, a, up ? MPFR_RNDU : MPFR_RNDD);
    mpfr_get_q(up ? shi : slo, b);
  }
  mpfr_clear(a), mpfr_clear(b);
}

static void qmin(mpq_t r, const mpq_t a, const mpq_t b) { mpq_set(r, mpq_cmp(a, b) <= 0 ? a : b); }
static void qmax(mpq_t r, const mpq_t a, const mpq_t b) { mpq_set(r, mpq_cmp(a, b) >= 0 ? a : b); }

/* interval product [al, ah] * [bl, bh] */
static void qmul_iv(mpq_t rl, mpq_t rh, const mpq_t al, const mpq_t ah, const mpq_t bl, const mpq_t bh) {
  mpq_t p[4];
  for (int i = 0; i < 4; i++)
    mpq_init(p[i]);
  mpq_mul(p[0], al, bl), mpq_mul(p[1], al, bh), mpq_mul(p[2], ah, bl), mpq_mul(p[3], ah, bh);
  mpq_set(rl, p[0]), mpq_set(rh, p[0]);
  for (int i = 1; i < 4; i++) {
    if (mpq_cmp(p[i], rl) < 0)
      mpq_set(rl, p[i]);
    if (mpq_cmp(p[i], rh) > 0)
      mpq_set(rh, p[i]);
  }
  for (int i = 0; i < 4; i++)
    mpq_clear(p[i]);
}

static tl_code eval_node(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  const tl_node *n = &g->nodes[id];
  qbox *y = &v[id];
  int64_t N = n->numel;
  if (n->op == TL_OP_INPUT) {
    for (int64_t i = 0; i < N; i++)
      mpq_set_d(y->lo[i], x[i]), mpq_set_d(y->hi[i], x[i]);
    return TL_OK;
  }
  if (n->op == TL_OP_PARAM) {
    for (int64_t i = 0; i < N; i++)
      mpq_set_d(y->lo[i], g->weights[n->woff + i]), mpq_set_d(y->hi[i], g->weights[n->woff + i]);
    return TL_OK;
  }
  qbox *p = &v[n->parents[0]];
  mpq_t t, u;
  mpq_init(t), mpq_init(u);
  tl_code rc = TL_OK;
  switch (n->op) {
  case TL_OP_LINEAR:
  case TL_OP_MATMUL:
  case TL_OP_CONV2D:
  case TL_OP_AVG_POOL2D:
  case TL_OP_GLOBAL_AVG_POOL: {
    tl_aff a;
    if (!tlv_is_affine(g, id)) {
      rc = tl_fail(st, TL_EUNSUPPORTED, "exact: node %d: weights must be parameters", id);
      break;
    }
    rc = tlv_aff_build(g, id, &a, st);
    if (rc != TL_OK)
      break;
    for (int64_t o = 0; o < a.nout; o++) {
      mpq_set_d(y->lo[o], a.bias ? a.bias[o] : 0.0);
      mpq_set(y->hi[o], y->lo[o]);
      for (int64_t k = a.rp[o]; k < a.rp[o + 1]; k++) {
        mpq_set_d(t, a.w[k]);
        int neg = a.w[k] < 0;
        mpq_mul(u, t, neg ? p->hi[a.col[k]] : p->lo[a.col[k]]);
        mpq_add(y->lo[o], y->lo[o], u);
        mpq_mul(u, t, neg ? p->lo[a.col[k]] : p->hi[a.col[k]]);
        mpq_add(y->hi[o], y->hi[o], u);
      }
      if (a.div) {
        mpq_set_si(t, a.div[o], 1);
        mpq_div(y->lo[o], y->lo[o], t), mpq_div(y->hi[o], y->hi[o], t);
      }
    }
    tlv_aff_free(&a);
    break;
  }
  case TL_OP_FLATTEN:
  case TL_OP_RESHAPE:
  case TL_OP_DROPOUT:
    for (int64_t i = 0; i < N; i++)
      mpq_set(y->lo[i], p->lo[i]), mpq_set(y->hi[i], p->hi[i]);
    break;
  case TL_OP_NEG:
    for (int64_t i = 0; i < N; i++)
      mpq_neg(y->lo[i], p->hi[i]), mpq_neg(y->hi[i], p->lo[i]);
    break;
  case TL_OP_RELU:
  case TL_OP_LEAKY_RELU:
    mpq_set_d(u, n->op == TL_OP_RELU ? 0.0 : n->attrs.alpha);
    if (mpq_sgn(u) < 0) {
      rc = tl_fail(st, TL_EUNSUPPORTED, "exact: node %d: negative leaky_relu slope", id);
      break;
    }
    for (int64_t i = 0; i < N; i++)
      for (int s = 0; s < 2; s++) {
        mpq_ptr r = s ? y->hi[i] : y->lo[i];
        mpq_srcptr xx = s ? p->hi[i] : p->lo[i];
        if (mpq_sgn(xx) >= 0)
          mpq_set(r, xx);
        else
          mpq_mul(r, xx, u);
      }
    break;
  case TL_OP_SIGMOID:
  case TL_OP_TANH:
    for (int64_t i = 0; i < N; i++)
      act_q(y->lo[i], n->op, p->lo[i], 0), act_q(y->hi[i], n->op, p->hi[i], 1);
    break;
  case TL_OP_CLAMP:
    mpq_set_d(t, n->attrs.lo), mpq_set_d(u, n->attrs.hi);
    for (int64_t i = 0; i < N; i++) {
      qmax(y->lo[i], p->lo[i], t), qmin(y->lo[i], y->lo[i], u);
      qmax(y->hi[i], p->hi[i], t), qmin(y->hi[i], y->hi[i], u);
    }
    break;
  case TL_OP_MAX_POOL2D: {
    for (int64_t o = 0; o < N; o++) {
      int first = 1;
      tlv_window w;
      tlv_window_init(&w, g, id, o);
      for (int64_t xi; tlv_window_next(&w, &xi);) {
        if (first || mpq_cmp(p->lo[xi], y->lo[o]) > 0)
          mpq_set(y->lo[o], p->lo[xi]);
        if (first || mpq_cmp(p->hi[xi], y->hi[o]) > 0)
          mpq_set(y->hi[o], p->hi[xi]);
        first = 0;
      }
    }
    break;
  }
  case TL_OP_ADD:
  case TL_OP_SUB:
  case TL_OP_MUL: {
    tl_bcast bc;
    rc = tlv_bcast_init(g, id, &bc, st);
    qbox *q = &v[n->parents[1]];
    for (int64_t o = 0; rc == TL_OK && o < N; o++) {
      int64_t i = tlv_bcast_index(&bc, 0, o), j = tlv_bcast_index(&bc, 1, o);
      if (n->op == TL_OP_ADD)
        mpq_add(y->lo[o], p->lo[i], q->lo[j]), mpq_add(y->hi[o], p->hi[i], q->hi[j]);
      else if (n->op == TL_OP_SUB)
        mpq_sub(y->lo[o], p->lo[i], q->hi[j]), mpq_sub(y->hi[o], p->hi[i], q->lo[j]);
      else
        qmul_iv(y->lo[o], y->hi[o], p->lo[i], p->hi[i], q->lo[j], q->hi[j]);
    }
    break;
  }
  case TL_OP_BATCH_NORM: {
    const float *gm = g->weights + g->nodes[n->parents[1]].woff, *bt = g->weights + g->nodes[n->parents[2]].woff;
    const float *mu = g->weights + g->nodes[n->parents[3]].woff, *var = g->weights + g->nodes[n->parents[4]].woff;
    mpq_t sl, sh, dl, dh;
    mpq_init(sl), mpq_init(sh), mpq_init(dl), mpq_init(dh);
    for (int64_t o = 0; o < N; o++) {
      int64_t c = tlv_channel(n, o);
      if (!((double)var[c] + n->attrs.eps > 0)) {
        rc = tl_fail(st, TL_EDOMAIN, "exact: node %d: variance + eps not positive", id);
        break;
      }
      bn_scale_q(sl, sh, gm[c], var[c], n->attrs.eps);
      mpq_set_d(t, mu[c]);
      mpq_sub(dl, p->lo[o], t), mpq_sub(dh, p->hi[o], t);
      qmul_iv(y->lo[o], y->hi[o], dl, dh, sl, sh);
      mpq_set_d(t, bt[c]);
      mpq_add(y->lo[o], y->lo[o], t), mpq_add(y->hi[o], y->hi[o], t);
    }
    mpq_clear(sl), mpq_clear(sh), mpq_clear(dl), mpq_clear(dh);
    break;
  }
  default:
    rc = tl_fail(st, TL_EUNSUPPORTED, "exact: node %d: op %s not supported", id, tl_op_get(n->op)->name);
  }
  mpq_clear(t), mpq_clear(u);
  return rc;
}

tl_code tl_exact_eval_reference(const tl_graph *g, const float *x, double *ylo, double *yhi, tl_status *st) {
  if (g->ninputs != 1)
    return tl_fail(st, TL_EUNSUPPORTED, "exact: the graph must have exactly one input");
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  qbox *v = calloc((size_t)g->nnodes, sizeof *v);
  if (!v)
    return tl_fail(st, TL_ENOMEM, "exact: out of memory");
  tl_code rc = TL_OK;
  for (int i = 0; i <= out && rc == TL_OK; i++) {
    if (!qbox_init(&v[i], g->nodes[i].numel))
      rc = tl_fail(st, TL_ENOMEM, "exact: out of memory");
    else
      rc = eval_node(g, i, x, v, st);
  }
  if (rc == TL_OK) {
    mpfr_t f;
    mpfr_init2(f, 53);
    for (int64_t i = 0; i < v[out].n; i++) {
      mpfr_set_q(f, v[out].lo[i], MPFR_RNDD);
      ylo[i] = mpfr_get_d(f, MPFR_RNDD);
      mpfr_set_q(f, v[out].hi[i], MPFR_RNDU);
      yhi[i] = mpfr_get_d(f, MPFR_RNDU);
    }
    mpfr_clear(f);
  }
  for (int i = 0; i < g->nnodes; i++)
    qbox_clear(&v[i]);
  free(v);
  return rc;
}

/* ---- fast path: exact points in fixed point ------------------------------------------------
 * At a point input, every node computed only by rational ops (affine maps with binary32/binary64
 * weights, relu, neg, flatten, max pool, add, sub, mul) has an exact rational value; we keep a
 * whole node as integers v[i] with one common denominator 2^s den (den: 1, or a product of the
 * average-pool divisors), so sums of products are exact mpz accumulations without gcds.  A weight
 * w = m 2^e (m odd, |m| < 2^53) times v is added as m 2^(e - emin) v, split into bands of 32
 * binary exponents so that each step is one mpz_addmul_ui by m 2^((e - emin) mod 32) when
 * |m| < 2^32 (every binary32 weight).  Nodes of other ops (sigmoid, tanh, batch norm, leaky relu,
 * clamp, ...) and everything after them use the rational-interval path above; the value handed
 * over is the same rational, so results equal tl_exact_eval_reference's exactly. */
typedef struct fxv {
  int64_t n;
  mpz_t *v; /* element i = v[i] / (2^s den) */
  long s;
  mpz_t den;
} fxv;

enum { XK_NONE = 0, XK_FX, XK_Q };

static int fxv_init(fxv *f, int64_t n) {
  f->v = malloc((size_t)(n ? n : 1) * sizeof(mpz_t));
  if (!f->v)
    return 0;
  f->n = n, f->s = 0;
  for (int64_t i = 0; i < n; i++)
    mpz_init(f->v[i]);
  mpz_init_set_ui(f->den, 1);
  return 1;
}

static void fxv_clear(fxv *f) {
  if (!f->v)
    return;
  for (int64_t i = 0; i < f->n; i++)
    mpz_clear(f->v[i]);
  free(f->v);
  mpz_clear(f->den);
  f->v = NULL;
}

/* finite d = m 2^e with m odd, |m| < 2^53 (d = 0: m = 0, e = 0), from the binary64 fields */
static inline void dsplit(double d, int64_t *m, long *e) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
  long ex = (long)((bits >> 52) & 0x7ff);
  if (ex == 0 && frac == 0) {
    *m = 0, *e = 0;
    return;
  }
  uint64_t mm = ex ? frac | (UINT64_C(1) << 52) : frac;
  long ee = ex ? ex - 1075 : -1074;
  int tz = __builtin_ctzll(mm);
  mm >>= tz;
  *m = (bits >> 63) ? -(int64_t)mm : (int64_t)mm;
  *e = ee + tz;
}

/* z = m 2^sh (sh >= 0) */
static void set_m2e(mpz_t z, int64_t m, long sh) {
  mpz_set_si(z, (long)m);
  mpz_mul_2exp(z, z, (mp_bitcnt_t)sh);
}

typedef struct xst {
  const tl_graph *g;
  const float *x;
  unsigned char *kind;
  fxv *f;
  qbox *q;
  tl_status *st;
} xst;

/* make the fixed-point value of node p available (PARAM nodes on demand); 0: p is not fixed point */
static tl_code need_fx(xst *X, int p, int *ok) {
  *ok = 0;
  if (X->kind[p] == XK_FX) {
    *ok = 1;
    return TL_OK;
  }
  const tl_node *n = &X->g->nodes[p];
  if (X->kind[p] != XK_NONE || n->op != TL_OP_PARAM)
    return TL_OK;
  fxv *f = &X->f[p];
  if (!fxv_init(f, n->numel))
    return tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  X->kind[p] = XK_FX;
  f->s = 149;
  for (int64_t i = 0; i < n->numel; i++) {
    double w = X->g->weights[n->woff + i];
    if (!isfinite(w))
      return tl_fail(X->st, TL_EDOMAIN, "exact: node %d: weight %lld is not finite", p, (long long)i);
    int64_t m;
    long e;
    dsplit(w, &m, &e);
    set_m2e(f->v[i], m, e + 149); /* binary32: e >= -149 */
  }
  *ok = 1;
  return TL_OK;
}

/* make the rational-interval value of node p available */
static tl_code need_q(xst *X, int p) {
  if (X->kind[p] == XK_Q)
    return TL_OK;
  const tl_node *n = &X->g->nodes[p];
  if (!qbox_init(&X->q[p], n->numel))
    return tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  if (X->kind[p] == XK_NONE) {
    X->kind[p] = XK_Q;
    return eval_node(X->g, p, X->x, X->q, X->st);
  }
  fxv *f = &X->f[p];
  mpz_t d;
  mpz_init(d);
  mpz_mul_2exp(d, f->den, (mp_bitcnt_t)f->s);
  for (int64_t i = 0; i < n->numel; i++) {
    mpq_set_num(X->q[p].lo[i], f->v[i]);
    mpq_set_den(X->q[p].lo[i], d);
    mpq_canonicalize(X->q[p].lo[i]);
    mpq_set(X->q[p].hi[i], X->q[p].lo[i]);
  }
  mpz_clear(d);
  X->kind[p] = XK_Q;
  fxv_clear(f);
  return TL_OK;
}

/* acc[band] += w v as m 2^(e - emin) v (w = m 2^e, e >= emin) */
static inline void fx_term(mpz_t *acc, mpz_ptr t, double w, long emin, mpz_srcptr v) {
  int64_t m;
  long e;
  dsplit(w, &m, &e);
  if (!m)
    return;
  long sh = e - emin;
  uint64_t am = m < 0 ? (uint64_t)(-m) : (uint64_t)m;
#if ULONG_MAX >= 0xffffffffffffffffUL
  if (am < ((uint64_t)1 << 32)) {
    unsigned long mul = (unsigned long)(am << (sh & 31));
    if (m > 0)
      mpz_addmul_ui(acc[sh >> 5], v, mul);
    else
      mpz_submul_ui(acc[sh >> 5], v, mul);
    return;
  }
#endif
  set_m2e(t, m, sh);
  mpz_addmul(acc[0], t, v);
}

/* Affine node id: linear read densely from the graph's weights, other affine ops through the
 * CSR view.  Result scale s - emin with emin <= 0 the smallest exponent of a weight (and of a
 * bias relative to the parent's scale), so every term is an integer multiple. */
static tl_code fx_affine(xst *X, int id) {
  const tl_graph *g = X->g;
  const tl_node *n = &g->nodes[id];
  tl_aff a;
  memset(&a, 0, sizeof a);
  int dense = n->op == TL_OP_LINEAR;
  const float *W = NULL, *B = NULL;
  int64_t rows = 0, out = 0, in = 0, nout;
  const fxv *p = &X->f[n->parents[0]];
  if (dense) {
    const tl_node *wn = &g->nodes[n->parents[1]];
    out = wn->shape[0], in = wn->shape[1], rows = g->nodes[n->parents[0]].numel / (in ? in : 1);
    W = g->weights + wn->woff;
    B = n->nparents == 3 ? g->weights + g->nodes[n->parents[2]].woff : NULL;
    nout = rows * out;
  } else {
    TL_TRY(tlv_aff_build(g, id, &a, X->st));
    p = &X->f[a.x];
    nout = a.nout;
  }
  fxv *y = &X->f[id];
  tl_code rc = fxv_init(y, nout) ? TL_OK : tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  long emin = 0, smax = 0;
  int64_t nw = dense ? out * in : a.rp[a.nout], nbias = dense ? (B ? out : 0) : (a.bias ? a.nout : 0);
  for (int64_t k = 0; rc == TL_OK && k < nw; k++) {
    double w = dense ? (double)W[k] : a.w[k];
    int64_t m;
    long e;
    if (!isfinite(w)) {
      rc = tl_fail(X->st, TL_EDOMAIN, "exact: node %d: a weight is not finite", id);
      break;
    }
    dsplit(w, &m, &e);
    if (m && e < emin)
      emin = e;
    if (m && e > smax)
      smax = e;
  }
  for (int64_t o = 0; rc == TL_OK && o < nbias; o++) {
    double bv = dense ? (double)B[o] : a.bias[o];
    int64_t mb;
    long eb;
    if (!isfinite(bv)) {
      rc = tl_fail(X->st, TL_EDOMAIN, "exact: node %d: a bias is not finite", id);
      break;
    }
    dsplit(bv, &mb, &eb);
    if (mb && eb + p->s < emin)
      emin = eb + p->s;
  }
  int nb = (int)((smax - emin) / 32) + 1;
  mpz_t *acc = rc == TL_OK ? malloc((size_t)nb * sizeof *acc) : NULL;
  if (rc == TL_OK && !acc)
    rc = tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  if (rc == TL_OK) {
    mpz_t t;
    mpz_init(t);
    for (int b = 0; b < nb; b++)
      mpz_init(acc[b]);
    for (int64_t yo = 0; yo < nout; yo++) {
      for (int b = 0; b < nb; b++)
        mpz_set_ui(acc[b], 0);
      double bias = 0;
      if (dense) {
        int64_t r = yo / (out ? out : 1), o = yo % (out ? out : 1);
        const float *wr = W + o * in;
        mpz_t *xr = p->v + r * in;
        for (int64_t i = 0; i < in; i++)
          fx_term(acc, t, (double)wr[i], emin, xr[i]);
        bias = B ? (double)B[o] : 0;
      } else {
        for (int64_t k = a.rp[yo]; k < a.rp[yo + 1]; k++)
          fx_term(acc, t, a.w[k], emin, p->v[a.col[k]]);
        bias = a.bias ? a.bias[yo] : 0;
      }
      mpz_ptr r = y->v[yo];
      mpz_set(r, acc[nb - 1]);
      for (int b = nb - 2; b >= 0; b--) {
        mpz_mul_2exp(r, r, 32);
        mpz_add(r, r, acc[b]);
      }
      if (bias != 0) {
        int64_t mb;
        long eb;
        dsplit(bias, &mb, &eb);
        set_m2e(t, mb, eb + p->s - emin);
        mpz_mul(t, t, p->den);
        mpz_add(r, r, t);
      }
    }
    mpz_set(y->den, p->den);
    y->s = p->s - emin;
    if (!dense && a.div) {
      mpz_t L;
      mpz_init_set_ui(L, 1);
      for (int64_t o = 0; o < a.nout; o++)
        mpz_lcm_ui(L, L, (unsigned long)a.div[o]);
      for (int64_t o = 0; o < a.nout; o++) {
        mpz_divexact_ui(t, L, (unsigned long)a.div[o]);
        mpz_mul(y->v[o], y->v[o], t);
      }
      mpz_mul(y->den, y->den, L);
      mpz_clear(L);
    }
    for (int b = 0; b < nb; b++)
      mpz_clear(acc[b]);
    mpz_clear(t);
  }
  free(acc);
  if (!dense)
    tlv_aff_free(&a);
  return rc;
}

/* node id in fixed point from fixed-point parents; *done = 0 when the op has no fixed-point form */
static tl_code fx_node(xst *X, int id, int *done) {
  const tl_graph *g = X->g;
  const tl_node *n = &g->nodes[id];
  fxv *y = &X->f[id];
  int ok0 = 0, ok1 = 0;
  *done = 0;
  switch (n->op) {
  case TL_OP_INPUT:
    if (!fxv_init(y, n->numel))
      return tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
    X->kind[id] = XK_FX;
    y->s = 149;
    for (int64_t i = 0; i < n->numel; i++) {
      if (!isfinite(X->x[i]))
        return tl_fail(X->st, TL_EARG, "exact: input element %lld is not finite", (long long)i);
      int64_t m;
      long e;
      dsplit(X->x[i], &m, &e);
      set_m2e(y->v[i], m, e + 149);
    }
    *done = 1;
    return TL_OK;
  case TL_OP_LINEAR:
  case TL_OP_MATMUL:
  case TL_OP_CONV2D:
  case TL_OP_AVG_POOL2D:
  case TL_OP_GLOBAL_AVG_POOL:
    if (!tlv_is_affine(g, id))
      return TL_OK;
    TL_TRY(need_fx(X, n->parents[0], &ok0));
    if (!ok0)
      return TL_OK;
    X->kind[id] = XK_FX;
    *done = 1;
    return fx_affine(X, id);
  case TL_OP_FLATTEN:
  case TL_OP_RESHAPE:
  case TL_OP_DROPOUT:
  case TL_OP_NEG:
  case TL_OP_RELU:
  case TL_OP_MAX_POOL2D:
    break;
  case TL_OP_ADD:
  case TL_OP_SUB:
  case TL_OP_MUL:
    TL_TRY(need_fx(X, n->parents[1], &ok1));
    if (!ok1)
      return TL_OK;
    break;
  default:
    return TL_OK;
  }
  TL_TRY(need_fx(X, n->parents[0], &ok0));
  if (!ok0)
    return TL_OK;
  const fxv *p = &X->f[n->parents[0]];
  if (!fxv_init(y, n->numel))
    return tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  X->kind[id] = XK_FX;
  *done = 1;
  y->s = p->s;
  mpz_set(y->den, p->den);
  int64_t N = n->numel;
  switch (n->op) {
  case TL_OP_FLATTEN:
  case TL_OP_RESHAPE:
  case TL_OP_DROPOUT:
    for (int64_t i = 0; i < N; i++)
      mpz_set(y->v[i], p->v[i]);
    break;
  case TL_OP_NEG:
    for (int64_t i = 0; i < N; i++)
      mpz_neg(y->v[i], p->v[i]);
    break;
  case TL_OP_RELU:
    for (int64_t i = 0; i < N; i++)
      if (mpz_sgn(p->v[i]) > 0)
        mpz_set(y->v[i], p->v[i]);
    break;
  case TL_OP_MAX_POOL2D: {
    const tl_node *xn = &g->nodes[n->parents[0]];
    int64_t H = xn->shape[2], W = xn->shape[3], Ho = n->shape[2], Wo = n->shape[3];
    for (int64_t o = 0; o < N; o++) {
      int64_t j = o % Wo, i = (o / Wo) % Ho, bc = o / (Wo * Ho);
      int first = 1;
      for (int64_t ka = 0; ka < n->attrs.kernel[0]; ka++)
        for (int64_t kc = 0; kc < n->attrs.kernel[1]; kc++) {
          int64_t hh = i * n->attrs.stride[0] - n->attrs.padding[0] + ka * n->attrs.dilation[0];
          int64_t ww = j * n->attrs.stride[1] - n->attrs.padding[1] + kc * n->attrs.dilation[1];
          if (hh < 0 || hh >= H || ww < 0 || ww >= W)
            continue;
          int64_t xi = (bc * H + hh) * W + ww;
          if (first || mpz_cmp(p->v[xi], y->v[o]) > 0)
            mpz_set(y->v[o], p->v[xi]);
          first = 0;
        }
    }
    break;
  }
  default: { /* add, sub, mul */
    const fxv *q = &X->f[n->parents[1]];
    tl_bcast bc;
    TL_TRY(tlv_bcast_init(g, id, &bc, X->st));
    int same = mpz_cmp(p->den, q->den) == 0;
    long s = p->s > q->s ? p->s : q->s;
    mpz_t u, w;
    mpz_init(u), mpz_init(w);
    if (n->op == TL_OP_MUL) {
      y->s = p->s + q->s;
      mpz_mul(y->den, p->den, q->den);
    } else {
      y->s = s;
      if (!same)
        mpz_mul(y->den, p->den, q->den);
    }
    for (int64_t o = 0; o < N; o++) {
      int64_t i = tlv_bcast_index(&bc, 0, o), j = tlv_bcast_index(&bc, 1, o);
      if (n->op == TL_OP_MUL) {
        mpz_mul(y->v[o], p->v[i], q->v[j]);
        continue;
      }
      mpz_mul_2exp(u, p->v[i], (mp_bitcnt_t)(s - p->s));
      mpz_mul_2exp(w, q->v[j], (mp_bitcnt_t)(s - q->s));
      if (!same)
        mpz_mul(u, u, q->den), mpz_mul(w, w, p->den);
      if (n->op == TL_OP_ADD)
        mpz_add(y->v[o], u, w);
      else
        mpz_sub(y->v[o], u, w);
    }
    mpz_clear(u), mpz_clear(w);
  }
  }
  return TL_OK;
}

tl_code tl_exact_eval(const tl_graph *g, const float *x, double *ylo, double *yhi, tl_status *st) {
  if (g->ninputs != 1)
    return tl_fail(st, TL_EUNSUPPORTED, "exact: the graph must have exactly one input");
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  xst X = {g, x, calloc((size_t)g->nnodes, 1), calloc((size_t)g->nnodes, sizeof(fxv)),
           calloc((size_t)g->nnodes, sizeof(qbox)), st};
  tl_code rc = X.kind && X.f && X.q ? TL_OK : tl_fail(st, TL_ENOMEM, "exact: out of memory");
  for (int i = 0; i <= out && rc == TL_OK; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op == TL_OP_PARAM && i != out)
      continue; /* on demand */
    int done = 0;
    rc = fx_node(&X, i, &done);
    if (rc != TL_OK || done)
      continue;
    if (X.kind[i] == XK_FX) /* partially built */
      continue;
    for (int k = 0; rc == TL_OK && k < n->nparents; k++) {
      int pk = n->parents[k];
      int used = k == 0 || n->op == TL_OP_ADD || n->op == TL_OP_SUB || n->op == TL_OP_MUL;
      if (used)
        rc = need_q(&X, pk);
    }
    if (rc == TL_OK)
      rc = need_q(&X, i);
  }
  if (rc == TL_OK && X.kind[out] == XK_FX)
    rc = need_q(&X, out);
  if (rc == TL_OK) {
    mpfr_t f;
    mpfr_init2(f, 53);
    for (int64_t i = 0; i < X.q[out].n; i++) {
      mpfr_set_q(f, X.q[out].lo[i], MPFR_RNDD);
      ylo[i] = mpfr_get_d(f, MPFR_RNDD);
      mpfr_set_q(f, X.q[out].hi[i], MPFR_RNDU);
      yhi[i] = mpfr_get_d(f, MPFR_RNDU);
    }
    mpfr_clear(f);
  }
  for (int i = 0; X.f && X.q && i < g->nnodes; i++)
    fxv_clear(&X.f[i]), qbox_clear(&X.q[i]);
  free(X.kind), free(X.f), free(X.q);
  return rc;
}
