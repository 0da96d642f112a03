/* exact.c - exact (real-semantics) evaluation of a graph at one input point.
 * Values are rational intervals [lo, hi] (GMP mpq): exact points for rational ops (affine, relu,
 * leaky relu, add, sub, mul, max pool, clamp, ...); sigmoid, tanh and the batch-norm scale are
 * enclosed with 256-bit MPFR outward rounding.  Used to confirm counterexamples and by tests. */
#include <gmp.h>
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
    const tl_node *xn = &g->nodes[n->parents[0]];
    int64_t H = xn->shape[2], W = xn->shape[3], Ho = n->shape[2], Wo = n->shape[3];
    for (int64_t o = 0; o < N; o++) {
      int64_t j = o % Wo, i = (o / Wo) % Ho, bc = o / (Wo * Ho);
      int first = 1;
      for (int64_t a = 0; a < n->attrs.kernel[0]; a++)
        for (int64_t c = 0; c < n->attrs.kernel[1]; c++) {
          int64_t hh = i * n->attrs.stride[0] - n->attrs.padding[0] + a * n->attrs.dilation[0];
          int64_t ww = j * n->attrs.stride[1] - n->attrs.padding[1] + c * n->attrs.dilation[1];
          if (hh < 0 || hh >= H || ww < 0 || ww >= W)
            continue;
          int64_t xi = (bc * H + hh) * W + ww;
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

tl_code tl_exact_eval(const tl_graph *g, const float *x, double *ylo, double *yhi, tl_status *st) {
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
