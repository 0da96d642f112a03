/* ibp.c - interval bound propagation in the `real` and `f32-any` semantics.
 *
 * Every box is a pair of binary64 arrays computed with directed rounding: lower ends in
 * FE_DOWNWARD, upper ends in FE_UPWARD, so each box encloses the exact image of its parents'
 * boxes.  Affine ops use the midpoint-radius form (Rump): with c = mid, r = radius rounded up,
 * lo = down(W c + b) - up(|W| r), hi = up(W c + b) + up(|W| r).
 * f32-any widens every node by its rounding-error bound (see vinternal.h and
 * docs/certificates.md); a node that may overflow binary32 becomes unbounded (+-inf). */
#include <stdlib.h>
#include <string.h>

#include "vinternal.h"

void tl_bounds_free(tl_bounds *b) {
  if (!b)
    return;
  for (int i = 0; i < b->nnodes; i++) {
    if (b->shared && b->shared[i])
      continue;
    free(b->lo[i]);
    free(b->hi[i]);
  }
  free(b->lo);
  free(b->hi);
  free(b->shared);
  free(b);
}

static void set_unbounded(double *lo, double *hi, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    lo[i] = -INFINITY, hi[i] = INFINITY;
}

/* fmax/fmin without the libm call (a NaN operand yields the other one, as fmax does; the sign of
 * a zero result may differ, which no bound depends on) */
static inline double vmax(double a, double b) { return a > b || b != b ? a : b; }
static inline double vmin(double a, double b) { return a < b || b != b ? a : b; }

/* Elementwise passes in the current rounding mode, one clone per instruction set (they dominate
 * the IBP of wide elementwise nodes). */
#define TLV_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
/* e = rel max(|lo|, |hi|) + abs, hi += e */
TLV_CLONES static void widen_up(const double *lo, double *hi, double *e, double rel, double abs_, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double a = fabs(lo[i]), b = fabs(hi[i]);
    e[i] = rel * (a > b || b != b ? a : b) + abs_;
    hi[i] = hi[i] + e[i];
  }
}
/* lo -= e */
TLV_CLONES static void sub_pass(double *lo, const double *e, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    lo[i] = lo[i] - e[i];
}
/* dst = src + c (op 0), src - c (op 1), src * c (op 2) */
TLV_CLONES static void scalar_pass(double *dst, const double *src, double c, int op, int64_t n) {
  if (op == 0)
    for (int64_t o = 0; o < n; o++)
      dst[o] = src[o] + c;
  else if (op == 1)
    for (int64_t o = 0; o < n; o++)
      dst[o] = src[o] - c;
  else
    for (int64_t o = 0; o < n; o++)
      dst[o] = src[o] * c;
}

/* 2x2 max pool, stride 2, of planes (H, W) (finite values: parents are checked first) */
TLV_CLONES static void maxpool22(const double *x, double *y, int64_t planes, int64_t H, int64_t W) {
  int64_t Ho = H / 2, Wo = W / 2;
  for (int64_t p = 0; p < planes; p++)
    for (int64_t i = 0; i < Ho; i++) {
      const double *r0 = x + (p * H + 2 * i) * W, *r1 = r0 + W;
      double *out = y + (p * Ho + i) * Wo;
      for (int64_t j = 0; j < Wo; j++) {
        double a = r0[2 * j] > r0[2 * j + 1] ? r0[2 * j] : r0[2 * j + 1];
        double b = r1[2 * j] > r1[2 * j + 1] ? r1[2 * j] : r1[2 * j + 1];
        out[j] = a > b ? a : b;
      }
    }
}

/* f32-any: widen [lo, hi] by rel * max(|lo|, |hi|) + abs, elementwise (two rounding-mode switches
 * in all: each costs ~80 ns) */
static tl_code widen_rel(double *lo, double *hi, int64_t n, double rel, double abs_, tl_status *st) {
  double small[1024], *e = n <= 1024 ? small : malloc((size_t)n * sizeof *e);
  if (!e)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  rnd_up();
  widen_up(lo, hi, e, rel, abs_, n);
  rnd_down();
  sub_pass(lo, e, n);
  if (e != small)
    free(e);
  return TL_OK;
}

/* binary32 overflow: a value above FLT_MAX in magnitude (or NaN) may round to infinity.  On the
 * bits: |x| > FLT_MAX exactly when bits(|x|) + (2^63 - 1 - bits(FLT_MAX)) reaches bit 63 (NaN and
 * inf included); integer ops, no early exit, so the loop vectorises. */
TLV_CLONES static int over_f32(const double *lo, const double *hi, int64_t n) {
  const double fm = FLT_MAX;
  uint64_t fmb, acc = 0;
  memcpy(&fmb, &fm, 8);
  const uint64_t k = 0x7fffffffffffffffu - fmb, m = 0x7fffffffffffffffu;
  for (int64_t i = 0; i < n; i++) {
    uint64_t a, b;
    memcpy(&a, &lo[i], 8), memcpy(&b, &hi[i], 8);
    acc |= ((a & m) + k) | ((b & m) + k);
  }
  return (int)(acc >> 63);
}

static tl_code ibp_affine(const tl_graph *g, int id, const tl_bounds *b, tl_semantics sem, double *lo, double *hi,
                          tl_status *st) {
  tl_aff a;
  TL_TRY(tlv_aff_build(g, id, &a, st));
  const double *xl = b->lo[a.x], *xh = b->hi[a.x];
  double *c = malloc((size_t)(a.nin ? a.nin : 1) * sizeof *c);
  double *r = malloc((size_t)(a.nin ? a.nin : 1) * sizeof *r);
  double *m = malloc((size_t)(a.nin ? a.nin : 1) * sizeof *m);
  if (!c || !r || !m) {
    free(c), free(r), free(m), tlv_aff_free(&a);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  }
  rnd_up();
  for (int64_t i = 0; i < a.nin; i++) {
    c[i] = xl[i] + (xh[i] - xl[i]) * 0.5; /* any value; r makes [c - r, c + r] cover the box */
    if (!(c[i] >= xl[i] && c[i] <= xh[i]))
      c[i] = xl[i];
    r[i] = fmax(xh[i] - c[i], c[i] - xl[i]);
    m[i] = fabs(c[i]) + r[i];
  }
  int overflow = 0;
  for (int64_t o = 0; o < a.nout; o++) {
    double bias = a.bias ? a.bias[o] : 0.0, dv = a.div ? (double)a.div[o] : 1.0;
    rnd_up();
    double sc = bias, sr = 0, sm = fabs(bias);
    for (int64_t t = a.rp[o]; t < a.rp[o + 1]; t++) {
      sc += a.w[t] * c[a.col[t]];
      sr += fabs(a.w[t]) * r[a.col[t]];
      sm += fabs(a.w[t]) * m[a.col[t]];
    }
    double h = (sc + sr) / dv;
    double e = 0;
    if (sem == TL_SEM_F32_ANY) {
      int64_t k = a.nround[o];
      double gk = tlv_gamma_up(k);
      double absterm = (double)k * (TLV_ETA / 2) * (1 + gk);
      if (!((1 + gk) * sm + absterm <= FLT_MAX))
        overflow = 1;
      e = gk * sm / dv + absterm;
      h = h + e;
    }
    rnd_down();
    double sl = bias;
    for (int64_t t = a.rp[o]; t < a.rp[o + 1]; t++)
      sl += a.w[t] * c[a.col[t]];
    double l = (sl - sr) / dv - e;
    lo[o] = l, hi[o] = h;
  }
  if (sem == TL_SEM_F32_ANY && (overflow || over_f32(lo, hi, a.nout)))
    set_unbounded(lo, hi, a.nout);
  free(c), free(r), free(m);
  tlv_aff_free(&a);
  return TL_OK;
}

static double leaky(double x, double al) { return x >= 0 ? x : al * x; }

static tl_code ibp_node(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                        const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  const tl_node *n = &g->nodes[id];
  int64_t N = n->numel;
  if (n->op == TL_OP_INPUT) {
    if (id != g->inputs[0] || reg->n != N)
      return tl_fail(st, TL_EARG, "verify: node %d: the region has %lld values, the input %lld", id,
                     (long long)reg->n, (long long)N);
    memcpy(lo, reg->lo, (size_t)N * sizeof *lo);
    memcpy(hi, reg->hi, (size_t)N * sizeof *hi);
    return TL_OK;
  }
  if (n->op == TL_OP_PARAM) {
    for (int64_t i = 0; i < N; i++)
      lo[i] = hi[i] = g->weights[n->woff + i];
    return TL_OK;
  }
  for (int k = 0; k < n->nparents; k++) {
    if (!tlv_parent_finite(pl, b, g, n->parents[k])) {
      set_unbounded(lo, hi, N);
      return TL_OK;
    }
  }
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  double rel = 0, eabs = 0; /* f32-any widening of an elementwise op */
  switch (n->op) {
  case TL_OP_LINEAR:
  case TL_OP_MATMUL:
  case TL_OP_CONV2D:
  case TL_OP_AVG_POOL2D:
  case TL_OP_GLOBAL_AVG_POOL:
    if (!tlv_is_affine(g, id))
      return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d (%s): weights must be parameters", id,
                     tl_op_get(n->op)->name);
    if (tlv_fast_kind(pl, id) != TLV_FAST_NONE)
      return tlv_fast_ibp(pl, id, xl, xh, sem, lo, hi, st);
    return ibp_affine(g, id, b, sem, lo, hi, st);
  case TL_OP_FLATTEN:
  case TL_OP_RESHAPE:
  case TL_OP_DROPOUT:
    memcpy(lo, xl, (size_t)N * sizeof *lo);
    memcpy(hi, xh, (size_t)N * sizeof *hi);
    return TL_OK;
  case TL_OP_NEG:
    for (int64_t i = 0; i < N; i++)
      lo[i] = -xh[i], hi[i] = -xl[i];
    return TL_OK;
  case TL_OP_RELU:
    for (int64_t i = 0; i < N; i++)
      lo[i] = vmax(xl[i], 0), hi[i] = vmax(xh[i], 0);
    return TL_OK;
  case TL_OP_LEAKY_RELU: {
    double al = n->attrs.alpha;
    if (!(al >= 0 && al <= 1) || (al != 0 && al < 0x1p-100))
      return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d: leaky_relu alpha %g outside [2^-100, 1]", id, al);
    rnd_down();
    for (int64_t i = 0; i < N; i++)
      lo[i] = leaky(xl[i], al);
    rnd_up();
    for (int64_t i = 0; i < N; i++)
      hi[i] = leaky(xh[i], al);
    rel = 3 * TLV_U, eabs = TLV_ETA / 2;
    break;
  }
  case TL_OP_SIGMOID:
  case TL_OP_TANH:
    for (int64_t i = 0; i < N; i++)
      lo[i] = tlv_act_down(n->op, xl[i]), hi[i] = tlv_act_up(n->op, xh[i]);
    rel = TLV_TRANS_REL, eabs = TLV_TRANS_ABS;
    break;
  case TL_OP_CLAMP:
    for (int64_t i = 0; i < N; i++) {
      lo[i] = fmin(fmax(xl[i], n->attrs.lo), n->attrs.hi);
      hi[i] = fmin(fmax(xh[i], n->attrs.lo), n->attrs.hi);
    }
    rel = TLV_U, eabs = TLV_ETA / 2;
    break;
  case TL_OP_MAX_POOL2D: {
    const tl_node *x = &g->nodes[n->parents[0]];
    int64_t H = x->shape[2], W = x->shape[3], Ho = n->shape[2], Wo = n->shape[3];
    if (n->attrs.kernel[0] == 2 && n->attrs.kernel[1] == 2 && n->attrs.stride[0] == 2 && n->attrs.stride[1] == 2 &&
        n->attrs.padding[0] == 0 && n->attrs.padding[1] == 0 && n->attrs.dilation[0] == 1 &&
        n->attrs.dilation[1] == 1 && Ho == H / 2 && Wo == W / 2) {
      maxpool22(xl, lo, N / (Ho * Wo), H, W);
      maxpool22(xh, hi, N / (Ho * Wo), H, W);
      return TL_OK;
    }
    for (int64_t o = 0; o < N; o++) {
      double ml = -INFINITY, mh = -INFINITY;
      tlv_window w;
      tlv_window_init(&w, g, id, o);
      for (int64_t xi; tlv_window_next(&w, &xi);)
        ml = vmax(ml, xl[xi]), mh = vmax(mh, xh[xi]);
      lo[o] = ml, hi[o] = mh;
    }
    return TL_OK;
  }
  case TL_OP_ADD:
  case TL_OP_SUB:
  case TL_OP_MUL: {
    tl_bcast bc;
    TL_TRY(tlv_bcast_init(g, id, &bc, st));
    const double *yl = b->lo[n->parents[1]], *yh = b->hi[n->parents[1]];
    /* a one-element constant operand (input normalisation): no broadcasting, and a product with
     * a constant c is monotone (the min / max of the four products is xl c or xh c) */
    int scal = g->nodes[n->parents[1]].numel == 1 && yl[0] == yh[0] && bc.trivial[0] == 1;
    if (scal) {
      double cv = yl[0];
      for (int pass = 0; pass < 2; pass++) {
        pass ? rnd_up() : rnd_down();
        double *dst = pass ? hi : lo;
        const double *src = n->op == TL_OP_SUB ? (pass ? xh : xl) : n->op == TL_OP_ADD ? (pass ? xh : xl)
                            : (cv >= 0) == (pass != 0) ? xh : xl;
        scalar_pass(dst, src, cv, n->op == TL_OP_ADD ? 0 : n->op == TL_OP_SUB ? 1 : 2, N);
      }
      rel = TLV_U, eabs = n->op == TL_OP_MUL ? TLV_ETA / 2 : 0;
      break;
    }
    for (int pass = 0; pass < 2; pass++) {
      pass ? rnd_up() : rnd_down();
      for (int64_t o = 0; o < N; o++) {
        int64_t i = tlv_bcast_index(&bc, 0, o), j = tlv_bcast_index(&bc, 1, o);
        double v;
        if (n->op == TL_OP_ADD)
          v = pass ? xh[i] + yh[j] : xl[i] + yl[j];
        else if (n->op == TL_OP_SUB)
          v = pass ? xh[i] - yl[j] : xl[i] - yh[j];
        else {
          double p1 = xl[i] * yl[j], p2 = xl[i] * yh[j], p3 = xh[i] * yl[j], p4 = xh[i] * yh[j];
          v = pass ? vmax(vmax(p1, p2), vmax(p3, p4)) : vmin(vmin(p1, p2), vmin(p3, p4));
        }
        (pass ? hi : lo)[o] = v;
      }
    }
    rel = TLV_U, eabs = n->op == TL_OP_MUL ? TLV_ETA / 2 : 0;
    break;
  }
  case TL_OP_BATCH_NORM: {
    const float *mu = g->weights + g->nodes[n->parents[3]].woff;
    const float *beta = g->weights + g->nodes[n->parents[2]].woff;
    for (int64_t o = 0; o < N; o++) {
      int64_t c = tlv_channel(n, o);
      double slo, shi;
      if (tlv_bn_scale(g, id, c, &slo, &shi) != TL_OK)
        return tl_fail(st, TL_EDOMAIN, "verify: node %d: batch norm variance + eps not positive (channel %lld)",
                       id, (long long)c);
      /* TLV_OPAQUE: without it the compiler reuses dl * slo rounded down as dl * slo rounded up */
      rnd_down();
      double dl = xl[o] - mu[c];
      double p1 = dl * slo, p2 = dl * shi;
      TLV_OPAQUE(p1); TLV_OPAQUE(p2); TLV_OPAQUE(dl);
      rnd_up();
      TLV_OPAQUE(slo); TLV_OPAQUE(shi);
      double dh = xh[o] - mu[c];
      double q1 = dh * slo, q2 = dh * shi;
      double h = fmax(fmax(dl * slo, dl * shi), fmax(q1, q2)) + beta[c];
      TLV_OPAQUE(h); TLV_OPAQUE(dh);
      rnd_down();
      TLV_OPAQUE(slo); TLV_OPAQUE(shi);
      double l = fmin(fmin(p1, p2), fmin(dh * slo, dh * shi)) + beta[c];
      TLV_OPAQUE(l);
      lo[o] = l, hi[o] = h;
      if (sem == TL_SEM_F32_ANY) {
        rnd_up();
        double e = TLV_BN_REL * (fmax(fabs(slo), fabs(shi)) * (fmax(fabs(xl[o]), fabs(xh[o])) + fabs(mu[c])) +
                                 fabs(beta[c])) +
                   TLV_BN_ABS;
        hi[o] = hi[o] + e;
        rnd_down();
        lo[o] = lo[o] - e;
        /* The 2^-20 model needs var + eps far from underflow (a subnormal (float)eps is off by up
         * to eta/2, relatively far more than u) and no overflowing intermediate in any formula
         * order (x - mu, its quotient by the root, gamma / root, products with x and mu): else
         * the node is unbounded. */
        double var = g->weights[g->nodes[n->parents[4]].woff + c];
        double gm = g->weights[g->nodes[n->parents[1]].woff + c];
        double ve = fmin(var + n->attrs.eps, var + (double)(float)n->attrs.eps); /* (float): rounded down */
        double sq = sqrt(ve);
        rnd_up();
        double q = 1.0 / sq;
        double big = ((fmax(fabs(xl[o]), fabs(xh[o])) + fabs(mu[c]) + 1) * fmax(1.0, q) * fmax(1.0, fabs(gm)) +
                      fabs(beta[c]) + fabs(var) + fabs(n->attrs.eps) + 1) *
                     2;
        if (!(ve >= 0x1p-100) || !(big <= FLT_MAX))
          lo[o] = -INFINITY, hi[o] = INFINITY;
      }
    }
    break;
  }
  default:
    return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d: no interval rule for op %s", id, tl_op_get(n->op)->name);
  }
  if (sem == TL_SEM_F32_ANY && (rel > 0 || eabs > 0))
    TL_TRY(widen_rel(lo, hi, N, rel, eabs, st));
  if (sem == TL_SEM_F32_ANY ? over_f32(lo, hi, N) : !tlv_box_finite(lo, hi, N))
    set_unbounded(lo, hi, N);
  return TL_OK;
}

tl_code tl_ibp(const tl_graph *g, const tl_region *r, tl_semantics sem, tl_bounds **out, tl_status *st) {
  *out = NULL;
  tl_verify_plan *pl;
  TL_TRY(tl_verify_plan_new(&pl, g, st));
  tl_code rc = tlv_ibp_plan(pl, r, sem, out, st);
  tl_verify_plan_free(pl);
  return rc;
}

tl_code tl_ibp_plan(const tl_verify_plan *pl, const tl_region *r, tl_semantics sem, tl_bounds **out, tl_status *st) {
  *out = NULL;
  return tlv_ibp_plan(pl, r, sem, out, st);
}

tl_code tlv_ibp_plan(const tl_verify_plan *pl, const tl_region *r, tl_semantics sem, tl_bounds **out,
                     tl_status *st) {
  const tl_graph *g = pl->g;
  *out = NULL;
  if (g->ninputs != 1)
    return tl_fail(st, TL_EUNSUPPORTED, "verify: the graph must have exactly one input (has %d)", g->ninputs);
  tl_bounds *b = calloc(1, sizeof *b);
  if (!b)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  b->nnodes = g->nnodes;
  b->sem = sem;
  b->lo = calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *b->lo);
  b->hi = calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *b->hi);
  b->shared = calloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
  if (!b->lo || !b->hi || !b->shared) {
    tl_bounds_free(b);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  }
  int old = fegetround();
  tl_code rc = TL_OK;
  for (int i = 0; i < g->nnodes && rc == TL_OK; i++) {
    size_t n = (size_t)(g->nodes[i].numel ? g->nodes[i].numel : 1);
    if (!pl->reference && pl->wonly[i])
      continue; /* a weight operand of a fast node: read from the graph, no box (NULL) */
    tl_op op = g->nodes[i].op;
    int p0 = g->nodes[i].nparents ? g->nodes[i].parents[0] : -1;
    if ((op == TL_OP_FLATTEN || op == TL_OP_RESHAPE || op == TL_OP_DROPOUT) && p0 >= 0 && b->lo[p0] &&
        g->nodes[p0].numel == g->nodes[i].numel) { /* the same values: share the parent's arrays */
      b->lo[i] = b->lo[p0], b->hi[i] = b->hi[p0], b->shared[i] = 1;
      continue;
    }
    b->lo[i] = malloc(n * sizeof(double));
    b->hi[i] = malloc(n * sizeof(double));
    if (!b->lo[i] || !b->hi[i])
      rc = tl_fail(st, TL_ENOMEM, "verify: out of memory for node %d", i);
    else
      rc = ibp_node(pl, g, i, r, b, sem, b->lo[i], b->hi[i], st);
  }
  fesetround(old);
  if (rc != TL_OK) {
    tl_bounds_free(b);
    return rc;
  }
  *out = b;
  return TL_OK;
}

/* The real image box of node id from the boxes of its parents (an elementwise op), and the
 * f32-any error radius E[o] such that fl(result) = exact op(float parents) + e, |e| <= E[o]. */
tl_code tlv_elem_err(const tl_graph *g, int id, const tl_bounds *b, double *E, tl_status *st) {
  const tl_node *n = &g->nodes[id];
  int64_t N = n->numel;
  double *lo = malloc((size_t)(N ? N : 1) * sizeof *lo), *hi = malloc((size_t)(N ? N : 1) * sizeof *hi);
  if (!lo || !hi) {
    free(lo), free(hi);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  }
  int old = fegetround();
  tl_code rc = ibp_node(NULL, g, id, NULL, b, TL_SEM_REAL, lo, hi, st);
  double rel = 0, eabs = 0;
  switch (n->op) {
  case TL_OP_LEAKY_RELU: rel = 3 * TLV_U, eabs = TLV_ETA / 2; break;
  case TL_OP_SIGMOID: case TL_OP_TANH: rel = TLV_TRANS_REL, eabs = TLV_TRANS_ABS; break;
  case TL_OP_CLAMP: case TL_OP_MUL: rel = TLV_U, eabs = TLV_ETA / 2; break;
  case TL_OP_ADD: case TL_OP_SUB: rel = TLV_U; break;
  default: break;
  }
  rnd_up();
  for (int64_t o = 0; rc == TL_OK && o < N; o++) {
    if (n->op == TL_OP_BATCH_NORM) {
      const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
      const float *mu = g->weights + g->nodes[n->parents[3]].woff;
      const float *beta = g->weights + g->nodes[n->parents[2]].woff;
      int64_t c = tlv_channel(n, o);
      double slo, shi;
      if (tlv_bn_scale(g, id, c, &slo, &shi) != TL_OK) {
        rc = tl_fail(st, TL_EDOMAIN, "verify: node %d: batch norm variance + eps not positive", id);
        break;
      }
      rnd_up();
      E[o] = TLV_BN_REL * (fmax(fabs(slo), fabs(shi)) * (fmax(fabs(xl[o]), fabs(xh[o])) + fabs(mu[c])) +
                           fabs(beta[c])) + TLV_BN_ABS;
    } else {
      E[o] = rel * vmax(fabs(lo[o]), fabs(hi[o])) + eabs;
    }
  }
  fesetround(old);
  free(lo), free(hi);
  return rc;
}
