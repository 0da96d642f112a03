/* vcommon.c - affine views, broadcasting, batch-norm scales, directed activation values. */
#include <mpfr.h>
#include <stdlib.h>
#include <string.h>

#include "vinternal.h"

static int is_param(const tl_graph *g, int id) { return g->nodes[id].op == TL_OP_PARAM; }

int tlv_is_affine(const tl_graph *g, int node) {
  const tl_node *n = &g->nodes[node];
  switch (n->op) {
  case TL_OP_LINEAR:
  case TL_OP_CONV2D:
    return is_param(g, n->parents[1]) && (n->nparents < 3 || is_param(g, n->parents[2])) &&
           !is_param(g, n->parents[0]);
  case TL_OP_MATMUL:
    return is_param(g, n->parents[1]) && g->nodes[n->parents[1]].ndim == 2 && !is_param(g, n->parents[0]);
  case TL_OP_AVG_POOL2D:
  case TL_OP_GLOBAL_AVG_POOL:
    return 1;
  default:
    return 0;
  }
}

void tlv_aff_free(tl_aff *a) {
  free(a->rp);
  free(a->col);
  free(a->w);
  free(a->bias);
  free(a->div);
  free(a->nround);
  memset(a, 0, sizeof *a);
}

static tl_code aff_alloc(tl_aff *a, int64_t nout, int64_t nnz, int bias, int div, tl_status *st) {
  memset(a, 0, sizeof *a);
  a->nout = nout;
  a->rp = malloc((size_t)(nout + 1) * sizeof *a->rp);
  a->col = malloc((size_t)(nnz ? nnz : 1) * sizeof *a->col);
  a->w = malloc((size_t)(nnz ? nnz : 1) * sizeof *a->w);
  a->nround = malloc((size_t)(nout ? nout : 1) * sizeof *a->nround);
  if (bias)
    a->bias = calloc((size_t)(nout ? nout : 1), sizeof *a->bias);
  if (div)
    a->div = malloc((size_t)(nout ? nout : 1) * sizeof *a->div);
  if (!a->rp || !a->col || !a->w || !a->nround || (bias && !a->bias) || (div && !a->div)) {
    tlv_aff_free(a);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory for an affine view");
  }
  return TL_OK;
}

tl_code tlv_aff_build(const tl_graph *g, int node, tl_aff *a, tl_status *st) {
  const tl_node *n = &g->nodes[node];
  const tl_node *x = &g->nodes[n->parents[0]];
  int64_t nnz = 0, t = 0;
  if (n->op == TL_OP_LINEAR) {
    const tl_node *w = &g->nodes[n->parents[1]];
    int64_t out = w->shape[0], in = w->shape[1], rows = x->numel / (in ? in : 1);
    nnz = rows * out * in;
    TL_TRY(aff_alloc(a, n->numel, nnz, n->nparents == 3, 0, st));
    const float *W = g->weights + w->woff;
    const float *B = n->nparents == 3 ? g->weights + g->nodes[n->parents[2]].woff : NULL;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t o = 0; o < out; o++) {
        int64_t yo = r * out + o;
        a->rp[yo] = t;
        for (int64_t i = 0; i < in; i++, t++)
          a->col[t] = r * in + i, a->w[t] = W[o * in + i];
        if (B)
          a->bias[yo] = B[o];
        a->nround[yo] = in + (B != NULL);
      }
  } else if (n->op == TL_OP_MATMUL) {
    const tl_node *w = &g->nodes[n->parents[1]];
    int64_t J = w->shape[0], K = w->shape[1], rows = x->numel / (J ? J : 1);
    nnz = rows * K * J;
    TL_TRY(aff_alloc(a, n->numel, nnz, 0, 0, st));
    const float *W = g->weights + w->woff;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < K; k++) {
        int64_t yo = r * K + k;
        a->rp[yo] = t;
        for (int64_t j = 0; j < J; j++, t++)
          a->col[t] = r * J + j, a->w[t] = W[j * K + k];
        a->nround[yo] = J;
      }
  } else if (n->op == TL_OP_CONV2D || n->op == TL_OP_AVG_POOL2D) {
    int conv = n->op == TL_OP_CONV2D;
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], Wd = x->shape[3];
    int64_t O = n->shape[1], Ho = n->shape[2], Wo = n->shape[3];
    int64_t kh = n->attrs.kernel[0], kw = n->attrs.kernel[1];
    int64_t G = conv ? n->attrs.groups : C, cpg = conv ? C / G : 1, opg = conv ? O / G : 1;
    nnz = n->numel * cpg * kh * kw;
    TL_TRY(aff_alloc(a, n->numel, nnz, conv && n->nparents == 3, !conv, st));
    const float *W = conv ? g->weights + g->nodes[n->parents[1]].woff : NULL;
    const float *B = conv && n->nparents == 3 ? g->weights + g->nodes[n->parents[2]].woff : NULL;
    for (int64_t b = 0; b < N; b++)
      for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < Ho; i++)
          for (int64_t j = 0; j < Wo; j++) {
            int64_t yo = ((b * O + o) * Ho + i) * Wo + j;
            a->rp[yo] = t;
            int64_t grp = conv ? o / opg : o;
            for (int64_t c = 0; c < cpg; c++)
              for (int64_t p = 0; p < kh; p++)
                for (int64_t q = 0; q < kw; q++) {
                  int64_t hi = i * n->attrs.stride[0] - n->attrs.padding[0] + p * n->attrs.dilation[0];
                  int64_t wi = j * n->attrs.stride[1] - n->attrs.padding[1] + q * n->attrs.dilation[1];
                  if (hi < 0 || hi >= H || wi < 0 || wi >= Wd)
                    continue;
                  int64_t ci = conv ? grp * cpg + c : o;
                  a->col[t] = ((b * C + ci) * H + hi) * Wd + wi;
                  a->w[t] = conv ? W[((o * cpg + c) * kh + p) * kw + q] : 1.0;
                  t++;
                }
            if (B)
              a->bias[yo] = B[o];
            if (!conv)
              a->div[yo] = kh * kw;
            a->nround[yo] = cpg * kh * kw + (B != NULL) + (!conv);
          }
  } else if (n->op == TL_OP_GLOBAL_AVG_POOL) {
    int64_t NC = n->numel, S = x->numel / (NC ? NC : 1);
    nnz = x->numel;
    TL_TRY(aff_alloc(a, NC, nnz, 0, 1, st));
    for (int64_t o = 0; o < NC; o++) {
      a->rp[o] = t;
      for (int64_t s = 0; s < S; s++, t++)
        a->col[t] = o * S + s, a->w[t] = 1.0;
      a->div[o] = S;
      a->nround[o] = S + 1;
    }
  } else {
    return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d is not affine", node);
  }
  a->rp[a->nout] = t;
  a->nin = x->numel;
  a->x = n->parents[0];
  return TL_OK;
}

double tlv_gamma_up(int64_t k) {
  /* no mode switch (~80 ns each): ku and 1 - ku are exact (ku is a multiple of 2^-24 below 1), the
   * quotient in any rounding mode is within one ulp of k u / (1 - k u), so one step up covers it */
  double ku = (double)k * TLV_U; /* exact for k < 2^53 */
  double den = 1.0 - ku;
  double gmm = ku / den;
  return nextafter(gmm, INFINITY);
}

tl_code tlv_bcast_init(const tl_graph *g, int node, tl_bcast *b, tl_status *st) {
  const tl_node *n = &g->nodes[node];
  if (n->ndim > 8)
    return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d: rank above 8", node);
  memset(b, 0, sizeof *b);
  b->ndim = n->ndim;
  for (int i = 0; i < n->ndim; i++)
    b->shape[i] = n->shape[i];
  for (int k = 0; k < 2; k++) {
    const tl_node *p = &g->nodes[n->parents[k]];
    int64_t s = 1;
    for (int i = n->ndim - 1; i >= 0; i--) {
      int pi = i - (n->ndim - p->ndim);
      if (pi < 0 || p->shape[pi] == 1)
        b->pstride[k][i] = 0;
      else
        b->pstride[k][i] = s;
      if (pi >= 0)
        s *= p->shape[pi];
    }
    /* a parent that broadcasts to the output with as many elements maps element o to o (every
     * broadcast dimension has size 1 in the output too); a one-element parent maps all to 0 */
    b->trivial[k] = p->numel == n->numel ? 1 : p->numel == 1 ? 2 : 0;
  }
  return TL_OK;
}


int64_t tlv_channel(const tl_node *n, int64_t o) {
  int64_t inner = 1;
  for (int i = 2; i < n->ndim; i++)
    inner *= n->shape[i];
  return (o / inner) % n->shape[1];
}

tl_code tlv_bn_scale(const tl_graph *g, int node, int64_t c, double *slo, double *shi) {
  const tl_node *n = &g->nodes[node];
  double gm = g->weights[g->nodes[n->parents[1]].woff + c];
  double var = g->weights[g->nodes[n->parents[4]].woff + c];
  int old = fegetround();
  double eps = n->attrs.eps;
  rnd_down();
  double tlo = var + eps;
  double sqlo = sqrt(tlo);
  TLV_OPAQUE(sqlo);
  rnd_up();
  TLV_OPAQUE(var);
  TLV_OPAQUE(eps);
  double thi = var + eps;
  double sqhi = sqrt(thi);
  if (!(tlo > 0) || !isfinite(thi)) {
    fesetround(old);
    return TL_EDOMAIN;
  }
  double hi = gm >= 0 ? gm / sqlo : gm / sqhi;
  TLV_OPAQUE(hi);
  rnd_down();
  TLV_OPAQUE(gm);
  TLV_OPAQUE(sqlo);
  TLV_OPAQUE(sqhi);
  double lo = gm >= 0 ? gm / sqhi : gm / sqlo;
  TLV_OPAQUE(lo);
  fesetround(old);
  *slo = lo, *shi = hi;
  return TL_OK;
}

/* sigmoid(x) = 1 / (1 + exp(-x)) with every step rounded in the direction that moves the result
 * the right way (up: exp(-x) down, 1 + . down, 1 / . up) */
static double act_dir(tl_op op, double x, int up) {
  mpfr_t t;
  mpfr_init2(t, 53);
  mpfr_set_d(t, x, MPFR_RNDN); /* exact */
  if (op == TL_OP_TANH) {
    mpfr_tanh(t, t, up ? MPFR_RNDU : MPFR_RNDD);
  } else {
    mpfr_neg(t, t, MPFR_RNDN);
    mpfr_exp(t, t, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_add_ui(t, t, 1, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_ui_div(t, 1, t, up ? MPFR_RNDU : MPFR_RNDD);
  }
  double r = mpfr_get_d(t, up ? MPFR_RNDU : MPFR_RNDD);
  mpfr_clear(t);
  return r;
}
double tlv_act_down(tl_op op, double x) { return act_dir(op, x, 0); }
double tlv_act_up(tl_op op, double x) { return act_dir(op, x, 1); }

double tlv_act_deriv_down(tl_op op, double x) {
  double lo = act_dir(op, x, 0), hi = act_dir(op, x, 1);
  int old = fegetround();
  double r;
  if (op == TL_OP_TANH) {
    rnd_up();
    double m = fmax(lo * lo, hi * hi);
    TLV_OPAQUE(m);
    rnd_down();
    r = 1.0 - m;
  } else {
    rnd_down();
    r = lo * (1.0 - hi); /* sigma' = sigma (1 - sigma), both factors positive */
  }
  TLV_OPAQUE(r);
  fesetround(old);
  return r < 0 ? 0 : r;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) int tlv_box_finite(const double *lo, const double *hi,
                                                                                int64_t n) {
  /* on the bits: (x & exponent mask) + 2^52 reaches bit 63 exactly when the exponent field is all
   * ones (inf, NaN); integer ops only, no early exit, so the loop vectorises */
  const uint64_t e = 0x7ff0000000000000u, one = (uint64_t)1 << 52;
  uint64_t acc = 0;
  for (int64_t i = 0; i < n; i++) {
    uint64_t a, b;
    memcpy(&a, &lo[i], 8), memcpy(&b, &hi[i], 8);
    acc |= ((a & e) + one) | ((b & e) + one);
  }
  return !(acc >> 63);
}

void tlv_window_init(tlv_window *w, const tl_graph *g, int id, int64_t o) {
  const tl_node *n = &g->nodes[id];
  const tl_node *x = &g->nodes[n->parents[0]];
  int64_t Ho = n->shape[2], Wo = n->shape[3];
  int64_t j = o % Wo, i = (o / Wo) % Ho, bc = o / (Wo * Ho);
  w->n = n, w->H = x->shape[2], w->W = x->shape[3], w->plane = bc * w->H * w->W;
  w->h0 = i * n->attrs.stride[0] - n->attrs.padding[0];
  w->w0 = j * n->attrs.stride[1] - n->attrs.padding[1];
  w->p = 0, w->q = 0;
}

int tlv_window_next(tlv_window *w, int64_t *xi) {
  const tl_attrs *a = &w->n->attrs;
  for (; w->p < a->kernel[0]; w->p++, w->q = 0)
    for (; w->q < a->kernel[1]; w->q++) {
      int64_t hh = w->h0 + w->p * a->dilation[0], ww = w->w0 + w->q * a->dilation[1];
      if (hh < 0 || hh >= w->H || ww < 0 || ww >= w->W)
        continue;
      *xi = w->plane + hh * w->W + ww;
      w->q++;
      return 1;
    }
  return 0;
}
