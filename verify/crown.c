/* crown.c - CROWN: backward linear relaxation with IBP (or CROWN) intermediate bounds.
 *
 * For rows a_k we carry, for every node v, a coefficient matrix Lambda_v (rows x numel(v)) with
 *     a_k . y  >=  sum_v Lambda_v[k] . x_v + const[k]     for every reachable x.
 * Coefficients are kept as intervals [lo, hi] (the same sums computed in FE_DOWNWARD and in
 * FE_UPWARD); when node v is processed, Lambda_v := lo and the width is paid for at once:
 * const -= (hi - lo) . max(|box_v|).  So every product may round, yet the final number is a
 * rigorous lower bound.  const is accumulated in FE_DOWNWARD.
 * f32-any: the float value of a rounding node is op(parents) + e with |e| <= E (same models as
 * IBP), so const -= |Lambda| . E there.  Relaxation lines come from the node boxes of the chosen
 * semantics (f32-any boxes in f32-any).  Max pool: y >= x_j (j the first argmax of the lower
 * ends), y <= x_j when l_j >= u_k for every other k of the window, else y <= max_k u_k (exact in
 * both semantics: nothing to pay).  Ops without a backward rule are concretised on their box
 * (sound, looser). */
#include <stdlib.h>
#include <string.h>

#include "vinternal.h"

void tl_crown_data_free(tl_crown_data *c) {
  if (!c)
    return;
  for (int i = 0; i < c->nacts; i++) {
    tl_crown_act *a = &c->acts[i];
    free(a->pre_lo), free(a->pre_hi), free(a->la), free(a->lb), free(a->ua), free(a->ub);
  }
  free(c->acts);
  free(c);
}

static int is_act(tl_op op) {
  return op == TL_OP_RELU || op == TL_OP_LEAKY_RELU || op == TL_OP_SIGMOID || op == TL_OP_TANH;
}

/* relaxation lines of one neuron on [l, u] (finite) */
static void make_lines(tl_op op, double al, double l, double u, double *la, double *lb, double *ua, double *ub) {
  if (op == TL_OP_RELU || op == TL_OP_LEAKY_RELU) {
    if (op == TL_OP_RELU)
      al = 0;
    if (l >= 0) {
      *la = *ua = 1, *lb = *ub = 0;
    } else if (u <= 0) {
      *la = *ua = al, *lb = *ub = 0;
    } else {
      rnd_up();
      TLV_OPAQUE(l);
      TLV_OPAQUE(u);
      double a = (u - al * l) / (u - l);
      if (!(a >= al && a <= 1))
        a = 1;
      double t1 = al * l + (-a) * l, t2 = u + (-a) * u;
      *ua = a, *ub = fmax(fmax(t1, t2), 0);
      *la = u > -l ? 1 : al, *lb = 0;
    }
    return;
  }
  double fl_d = tlv_act_down(op, l), fl_u = tlv_act_up(op, l), fu_d = tlv_act_down(op, u), fu_u = tlv_act_up(op, u);
  if (!(l < u) || (l < 0 && u > 0)) {
    *la = *ua = 0, *lb = fl_d, *ub = fu_u;
    return;
  }
  double chord = (fu_u - fl_d) / (u - l);
  if (!(chord >= 0) || !isfinite(chord))
    chord = 0;
  /* the slope may be computed in any mode (the intercept is rounded for the slope it gets); the
   * operands are laundered after each switch, the intercepts before the next */
  if (u <= 0) { /* convex: upper chord, lower tangent at l */
    rnd_up();
    TLV_OPAQUE(l); TLV_OPAQUE(u); TLV_OPAQUE(chord);
    double b = fmax(fl_u + (-chord) * l, fu_u + (-chord) * u);
    TLV_OPAQUE(b);
    *ua = chord, *ub = b;
    double d = tlv_act_deriv_down(op, l);
    rnd_down();
    TLV_OPAQUE(l);
    b = fl_d + (-d) * l;
    TLV_OPAQUE(b);
    *la = d, *lb = b;
  } else { /* concave: lower chord, upper tangent at u */
    rnd_down();
    TLV_OPAQUE(l); TLV_OPAQUE(u); TLV_OPAQUE(chord);
    double b = fmin(fl_d + (-chord) * l, fu_d + (-chord) * u);
    TLV_OPAQUE(b);
    *la = chord, *lb = b;
    double d = tlv_act_deriv_down(op, u);
    rnd_up();
    TLV_OPAQUE(u);
    b = fu_u + (-d) * u;
    TLV_OPAQUE(b);
    *ua = d, *ub = b;
  }
}

int64_t tlv_maxpool_line(const tl_graph *g, int id, const double *xl, const double *xh, int64_t o, int *exact,
                         double *c) {
  int64_t best = -1, xi;
  double mu = -INFINITY;
  tlv_window w;
  tlv_window_init(&w, g, id, o);
  while (tlv_window_next(&w, &xi)) {
    if (best < 0 || xl[xi] > xl[best])
      best = xi;
    mu = fmax(mu, xh[xi]);
  }
  *exact = best >= 0;
  if (best >= 0) { /* second look: dominance over every other element */
    tlv_window_init(&w, g, id, o);
    while (tlv_window_next(&w, &xi))
      if (xi != best && !(xl[best] >= xh[xi]))
        *exact = 0;
  }
  *c = mu;
  return best;
}

typedef struct cstate {
  const tl_graph *g;
  const tl_bounds *b;
  const tl_region *reg;
  tl_crown_data *acts;
  int *act_of; /* node -> index in acts or -1 */
  int m;
  double **clo, **chi; /* per node coefficient intervals (m x numel), NULL when none */
  double *cst;
  tl_status *st;
  int start;
  int ibp_fold;   /* IBP final bound: only the start node gets its rule, the rest is concretised */
  double *incoef; /* optional: the input coefficients (m x n) for counterexample search */
  const tl_verify_plan *pl;
  double **absv;  /* per fast affine node: |A| max|box(parent)| (upward), shared across passes */
  double **rec;   /* optional (alpha): the coefficients each node was processed with */
  unsigned char *how; /* optional (alpha): 1 concretised, 2 backward rule */
} cstate;

/* max(|a|, |b|) without the libm call (fmax's NaN rule: a NaN operand yields the other) */
static inline double amax(double a, double b) {
  a = fabs(a), b = fabs(b);
  return a > b || b != b ? a : b;
}

static tl_code coef_get(cstate *s, int v, double **lo, double **hi) {
  if (!s->clo[v]) {
    size_t n = (size_t)s->m * (size_t)(s->g->nodes[v].numel ? s->g->nodes[v].numel : 1);
    s->clo[v] = calloc(n, sizeof(double));
    s->chi[v] = calloc(n, sizeof(double));
    if (!s->clo[v] || !s->chi[v])
      return tl_fail(s->st, TL_ENOMEM, "verify: out of memory for CROWN coefficients (node %d)", v);
  }
  *lo = s->clo[v], *hi = s->chi[v];
  return TL_OK;
}

/* const[k] += down(sum lambda * (lambda >= 0 ? lo : hi)) over box */
/* 16-byte vectors: native SSE2 registers in the baseline build (wider ones are split via memory) */
typedef double v2d __attribute__((vector_size(16)));
typedef long long v2l __attribute__((vector_size(16)));

/* sum_i (l_i > 0 ? l_i lo_i : l_i < 0 ? l_i hi_i : 0) in the current rounding mode, in lanes
 * (rounded downward, every summation order gives a lower bound); a zero coefficient contributes
 * nothing even against an infinite end (the NaN of 0 * inf is masked out) */
static double sel_dot(const double *l, const double *lo, const double *hi, int64_t n) {
  v2d acc0 = {0, 0}, acc1 = acc0, z = acc0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v2d a0, b0, c0, a1, b1, c1;
    memcpy(&a0, l + i, 16), memcpy(&b0, lo + i, 16), memcpy(&c0, hi + i, 16);
    memcpy(&a1, l + i + 2, 16), memcpy(&b1, lo + i + 2, 16), memcpy(&c1, hi + i + 2, 16);
    acc0 += (v2d)(((v2l)(a0 * b0) & (a0 > z)) | ((v2l)(a0 * c0) & (a0 < z)));
    acc1 += (v2d)(((v2l)(a1 * b1) & (a1 > z)) | ((v2l)(a1 * c1) & (a1 < z)));
  }
  double s = (acc0[0] + acc0[1]) + (acc1[0] + acc1[1]);
  for (; i < n; i++)
    s += l[i] > 0 ? l[i] * lo[i] : l[i] < 0 ? l[i] * hi[i] : 0.0;
  return s;
}

/* sum_i max(h_i - l_i, 0) mag_i in the current mode, in lanes (rounded upward, an upper bound in
 * every order); zero widths contribute nothing even against an infinite magnitude */
static double width_dot(const double *l, const double *h, const double *mag, int64_t n) {
  v2d acc0 = {0, 0}, acc1 = acc0, z = acc0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v2d a0, b0, m0, a1, b1, m1;
    memcpy(&a0, l + i, 16), memcpy(&b0, h + i, 16), memcpy(&m0, mag + i, 16);
    memcpy(&a1, l + i + 2, 16), memcpy(&b1, h + i + 2, 16), memcpy(&m1, mag + i + 2, 16);
    v2d w0 = b0 - a0, w1 = b1 - a1;
    acc0 += (v2d)((v2l)(w0 * m0) & (w0 > z));
    acc1 += (v2d)((v2l)(w1 * m1) & (w1 > z));
  }
  double s = (acc0[0] + acc0[1]) + (acc1[0] + acc1[1]);
  for (; i < n; i++) {
    double w = h[i] - l[i];
    s += w > 0 ? w * mag[i] : 0.0;
  }
  return s;
}

static void concretize(cstate *s, const double *lam, const double *lo, const double *hi, int64_t n) {
  rnd_down();
  for (int k = 0; k < s->m; k++) {
    double acc = sel_dot(lam + (size_t)k * n, lo, hi, n);
    s->cst[k] = s->cst[k] + acc;
  }
}

/* const[k] -= up(sum |lambda| E): all rows upward, then all subtractions downward (two mode
 * switches: each costs ~80 ns) */
static tl_code pay_err(cstate *s, const double *lam, const double *E, int64_t n) {
  double *acc = malloc((size_t)(s->m ? s->m : 1) * sizeof *acc);
  if (!acc)
    return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  rnd_up();
  for (int k = 0; k < s->m; k++) {
    double a = 0;
    for (int64_t i = 0; i < n; i++) {
      double l = lam[(size_t)k * n + i];
      if (l != 0)
        a += fabs(l) * E[i];
    }
    TLV_OPAQUE(a); /* summed up, before the switch */
    acc[k] = a;
  }
  rnd_down();
  for (int k = 0; k < s->m; k++)
    s->cst[k] = s->cst[k] - acc[k];
  free(acc);
  return TL_OK;
}

/* linear / conv2d through the plan: T = up(lam A) for all rows at once, and a rigorous bound of
 * |lam A - T| paid on the parent's box: gamma52_K |lam| (|A| max|x|) + K 2^-1074 sum max|x|. */
static tl_code back_affine_fast(cstate *s, int v, const double *lam) {
  const tl_graph *g = s->g;
  const tl_node *n = &g->nodes[v];
  int x = n->parents[0];
  int64_t nin = g->nodes[x].numel, nout = n->numel;
  const double *xl = s->b->lo[x], *xh = s->b->hi[x];
  int f32 = s->b->sem == TL_SEM_F32_ANY;
  /* IBP final bound through the start node: the parent x is concretised on its box as soon as it
   * is reached; when v is its only consumer, T is all of x's coefficients (an interval of zero
   * width: 0 + T is exact), so concretise T here, without materialising x's arrays (same bits) */
  int direct = s->ibp_fold && v == s->start && !s->clo[x];
  for (int u = x + 1; direct && u < g->nnodes; u++)
    for (int k = 0; k < g->nodes[u].nparents; k++)
      if (g->nodes[u].parents[k] == x && u != v)
        direct = 0;
  double *plo = NULL, *phi = NULL;
  if (!direct)
    TL_TRY(coef_get(s, x, &plo, &phi));
  double sxa = 0;
  if (!s->absv[v]) {
    double *xa = malloc((size_t)(nin ? nin : 1) * sizeof *xa);
    s->absv[v] = malloc((size_t)(nout ? nout : 1) * sizeof(double));
    if (!xa || !s->absv[v]) {
      free(xa);
      return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
    }
    for (int64_t i = 0; i < nin; i++)
      xa[i] = amax(xl[i], xh[i]);
    tl_code rc = tlv_fast_absfwd(s->pl, v, xa, s->absv[v], s->st);
    free(xa);
    TL_TRY(rc);
  }
  rnd_up();
  for (int64_t i = 0; i < nin; i++)
    sxa += amax(xl[i], xh[i]);
  const double *av = s->absv[v];
  const float *B = n->nparents == 3 ? s->g->weights + g->nodes[n->parents[2]].woff : NULL;
  int64_t bdim = B ? g->nodes[n->parents[2]].numel : 1;
  int64_t K = tlv_fast_backterms(s->pl, v);
  int64_t kround = 0;
  if (tlv_fast_kind(s->pl, v) == TLV_FAST_LINEAR)
    kround = g->nodes[n->parents[1]].shape[1] + (B != NULL);
  else
    kround = s->pl->conv[v]->K + (B != NULL);
  int64_t P = tlv_fast_kind(s->pl, v) == TLV_FAST_CONV ? s->pl->conv[v]->P : 1;
  double g52 = tlv_gamma52_up(K), gk = f32 ? tlv_gamma_up(kround) : 0;
  double *T = calloc((size_t)s->m * (size_t)(nin ? nin : 1), sizeof *T);
  if (!T)
    return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  tl_code rc = tlv_fast_back(s->pl, v, s->m, lam, T, s->st);
  if (rc != TL_OK) {
    free(T);
    return rc;
  }
  double *pays = malloc((size_t)(s->m ? s->m : 1) * sizeof *pays);
  if (!pays) {
    free(T);
    return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  }
  rnd_up(); /* every row's error payment upward, then every constant downward */
  TLV_OPAQUE(sxa);
  TLV_OPAQUE(gk);
  double und = (double)K * 0x1p-1074 * sxa;
  double absterm = (double)kround * (TLV_ETA / 2) * (1 + gk);
  TLV_OPAQUE(und); TLV_OPAQUE(absterm); /* rounded up, used after the switches in the loop */
  for (int k = 0; k < s->m; k++) {
    const double *lr = lam + (size_t)k * nout;
    double pay = 0, pe = 0;
    for (int64_t o = 0; o < nout; o++) {
      double al = fabs(lr[o]);
      if (al == 0)
        continue;
      pay += al * av[o];
      if (f32) {
        int64_t ch = (o / P) % bdim;
        pe += al * (gk * (av[o] + (B ? fabs((double)B[ch]) : 0)) + absterm);
      }
    }
    double tot = g52 * pay + und + pe;
    TLV_OPAQUE(tot); /* GCC 12 -O3 sank this sum past rnd_down(): the bound was rounded down */
    pays[k] = tot;
  }
  rnd_down();
  for (int k = 0; k < s->m; k++) {
    const double *lr = lam + (size_t)k * nout;
    s->cst[k] = s->cst[k] - pays[k];
    if (B) {
      double acc = 0;
      for (int64_t o = 0; o < nout; o++)
        acc += lr[o] * (double)B[(o / P) % bdim];
      s->cst[k] = s->cst[k] + acc;
    }
  }
  free(pays);
  if (direct) {
    concretize(s, T, xl, xh, nin);
    free(T);
    return TL_OK;
  }
  size_t tot = (size_t)s->m * (size_t)nin;
  rnd_down();
  for (size_t j = 0; j < tot; j++)
    plo[j] = plo[j] + T[j];
  rnd_up();
  for (size_t j = 0; j < tot; j++)
    phi[j] = phi[j] + T[j];
  free(T);
  return TL_OK;
}

static tl_code back_affine(cstate *s, int v, const double *lam) {
  if (tlv_fast_kind(s->pl, v) != TLV_FAST_NONE)
    return back_affine_fast(s, v, lam);
  tl_aff a;
  TL_TRY(tlv_aff_build(s->g, v, &a, s->st));
  double *plo, *phi;
  tl_code rc = coef_get(s, a.x, &plo, &phi);
  const double *xl = s->b->lo[a.x], *xh = s->b->hi[a.x];
  int f32 = s->b->sem == TL_SEM_F32_ANY;
  double *E = f32 ? malloc((size_t)(a.nout ? a.nout : 1) * sizeof *E) : NULL;
  if (rc == TL_OK && f32 && !E)
    rc = tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  if (rc == TL_OK && f32) {
    rnd_up();
    for (int64_t o = 0; o < a.nout; o++) {
      double sm = a.bias ? fabs(a.bias[o]) : 0, dv = a.div ? (double)a.div[o] : 1;
      for (int64_t t = a.rp[o]; t < a.rp[o + 1]; t++)
        sm += fabs(a.w[t]) * fmax(fabs(xl[a.col[t]]), fabs(xh[a.col[t]]));
      double gk = tlv_gamma_up(a.nround[o]);
      E[o] = gk * sm / dv + (double)a.nround[o] * (TLV_ETA / 2) * (1 + gk);
    }
    rc = pay_err(s, lam, E, a.nout);
  }
  for (int k = 0; rc == TL_OK && k < s->m; k++) {
    for (int64_t o = 0; o < a.nout; o++) {
      double l = lam[(size_t)k * a.nout + o];
      if (l == 0)
        continue;
      double dv = a.div ? (double)a.div[o] : 1;
      size_t base = (size_t)k * a.nin;
      rnd_down();
      TLV_OPAQUE(l); TLV_OPAQUE(dv);
      for (int64_t t = a.rp[o]; t < a.rp[o + 1]; t++)
        plo[base + a.col[t]] = plo[base + a.col[t]] + l * a.w[t] / dv;
      if (a.bias)
        s->cst[k] = s->cst[k] + l * a.bias[o] / dv;
      rnd_up();
      TLV_OPAQUE(l); TLV_OPAQUE(dv); /* l * a.w[t] / dv was just computed rounded down */
      for (int64_t t = a.rp[o]; t < a.rp[o + 1]; t++)
        phi[base + a.col[t]] = phi[base + a.col[t]] + l * a.w[t] / dv;
    }
  }
  free(E);
  tlv_aff_free(&a);
  return rc;
}

static tl_code back_node(cstate *s, int v) {
  const tl_graph *g = s->g;
  const tl_node *n = &g->nodes[v];
  int64_t N = n->numel;
  double *lam = s->clo[v], *lamh = s->chi[v];
  const double *bl = s->b->lo[v], *bh = s->b->hi[v];
  /* collapse the interval coefficients: pay the width on the node's box */
  double *mag = malloc((size_t)(N ? N : 1) * sizeof *mag);
  if (!mag)
    return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  for (int64_t i = 0; i < N; i++) {
    double a = fabs(bl[i]), b = fabs(bh[i]);
    mag[i] = a > b || b != b ? a : b; /* fmax */
  }
  double *acc = malloc((size_t)(s->m ? s->m : 1) * sizeof *acc);
  if (!acc) {
    free(mag);
    return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  }
  rnd_up(); /* all rows upward, then all constants downward (mode switches are slow) */
  for (int k = 0; k < s->m; k++) {
    double a = width_dot(lam + (size_t)k * N, lamh + (size_t)k * N, mag, N);
    TLV_OPAQUE(a); /* summed up, before the switch */
    acc[k] = a;
  }
  rnd_down();
  for (int k = 0; k < s->m; k++)
    s->cst[k] = s->cst[k] - acc[k];
  free(acc);
  free(mag);
  int f32 = s->b->sem == TL_SEM_F32_ANY;
  int parents_finite = 1;
  for (int p = 0; p < n->nparents; p++)
    parents_finite &= tlv_parent_finite(s->pl, s->b, g, n->parents[p]);
  if (n->op == TL_OP_INPUT && s->incoef)
    memcpy(s->incoef, lam, (size_t)s->m * (size_t)N * sizeof *lam);
  if (s->rec) {
    if (!(s->rec[v] = malloc((size_t)s->m * (size_t)(N ? N : 1) * sizeof(double))))
      return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
    memcpy(s->rec[v], lam, (size_t)s->m * (size_t)N * sizeof *lam);
    s->how[v] = 1;
  }
  /* f32-any: a node whose own box is unbounded (an evaluation may overflow binary32, e.g. a partial
   * sum of a dot product, or an intermediate of batch norm) must not be crossed by its backward
   * rule, whose error model assumes no overflow: concretise it (-inf for any nonzero coefficient) */
  int own_unbounded = f32 && bl && !tlv_box_finite(bl, bh, N);
  if (n->op == TL_OP_INPUT || n->op == TL_OP_PARAM || !parents_finite || own_unbounded ||
      (s->ibp_fold && v != s->start)) {
    concretize(s, lam, bl, bh, N);
    return TL_OK;
  }
  if (s->how)
    s->how[v] = 2;
  switch (n->op) {
  case TL_OP_LINEAR:
  case TL_OP_MATMUL:
  case TL_OP_CONV2D:
  case TL_OP_AVG_POOL2D:
  case TL_OP_GLOBAL_AVG_POOL:
    if (tlv_is_affine(g, v))
      return back_affine(s, v, lam);
    break;
  case TL_OP_FLATTEN:
  case TL_OP_RESHAPE:
  case TL_OP_DROPOUT:
  case TL_OP_NEG: {
    double *plo, *phi;
    TL_TRY(coef_get(s, n->parents[0], &plo, &phi));
    double sg = n->op == TL_OP_NEG ? -1.0 : 1.0;
    size_t tot = (size_t)s->m * (size_t)N;
    /* acc2 for every element, one rounding mode switch per pass (fesetround is slow) */
    rnd_down();
    for (size_t j = 0; j < tot; j++)
      plo[j] = plo[j] + lam[j] * sg;
    rnd_up();
    for (size_t j = 0; j < tot; j++)
      phi[j] = phi[j] + lam[j] * sg;
    return TL_OK;
  }
  case TL_OP_ADD:
  case TL_OP_SUB:
  case TL_OP_MUL: {
    int p0 = n->parents[0], p1 = n->parents[1];
    int c0 = g->nodes[p0].op == TL_OP_PARAM, c1 = g->nodes[p1].op == TL_OP_PARAM;
    if (n->op == TL_OP_MUL && c0 == c1)
      break; /* product of two variables: concretise */
    tl_bcast bc;
    TL_TRY(tlv_bcast_init(g, v, &bc, s->st));
    if (f32) {
      double *E = malloc((size_t)(N ? N : 1) * sizeof *E);
      if (!E)
        return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
      tl_code rc = tlv_elem_err(g, v, s->b, E, s->st);
      if (rc == TL_OK)
        rc = pay_err(s, lam, E, N);
      free(E);
      TL_TRY(rc);
    }
    double *q0l = NULL, *q0h = NULL, *q1l = NULL, *q1h = NULL;
    if (!c0)
      TL_TRY(coef_get(s, p0, &q0l, &q0h));
    if (!c1)
      TL_TRY(coef_get(s, p1, &q1l, &q1h));
    int64_t n0 = g->nodes[p0].numel, n1 = g->nodes[p1].numel;
    /* what acc2 does per element, as two passes: products rounded down into the lower
     * coefficients and the constant, then up into the upper coefficients */
    double sg1 = n->op == TL_OP_SUB ? -1.0 : 1.0;
    /* one variable operand indexed like the output and a one-element constant (input
     * normalisation): the same sums without broadcasting */
    int vk = c0 ? 1 : 0, ck = 1 - vk;
    if (c0 != c1 && g->nodes[n->parents[ck]].numel == 1 && bc.trivial[vk] == 1) {
      double cval = s->b->lo[n->parents[ck]][0];
      double f = n->op == TL_OP_MUL ? cval : vk == 1 ? sg1 : 1.0; /* coefficient of the variable */
      double fc = n->op == TL_OP_MUL ? 0 : ck == 1 ? sg1 * cval : cval; /* constant term */
      for (int pass = 0; pass < 2; pass++) {
        pass ? rnd_up() : rnd_down();
        double *d = vk ? (pass ? q1h : q1l) : (pass ? q0h : q0l);
        for (int k = 0; k < s->m; k++) {
          const double *lk = lam + (size_t)k * N;
          double *dk = d + (size_t)k * N;
          double cs = 0;
          for (int64_t o = 0; o < N; o++) {
            double l = lk[o];
            if (l == 0)
              continue;
            dk[o] = dk[o] + l * f;
            if (n->op != TL_OP_MUL && !pass)
              cs = cs + l * fc;
          }
          if (!pass && n->op != TL_OP_MUL)
            s->cst[k] = s->cst[k] + cs;
        }
      }
      return TL_OK;
    }
    for (int pass = 0; pass < 2; pass++) {
      pass ? rnd_up() : rnd_down();
      double *d0 = pass ? q0h : q0l, *d1 = pass ? q1h : q1l;
      for (int k = 0; k < s->m; k++)
        for (int64_t o = 0; o < N; o++) {
          double l = lam[(size_t)k * N + o];
          if (l == 0)
            continue;
          int64_t i0 = tlv_bcast_index(&bc, 0, o), i1 = tlv_bcast_index(&bc, 1, o);
          if (n->op == TL_OP_MUL) {
            double cval = c0 ? s->b->lo[p0][i0] : s->b->lo[p1][i1];
            if (!c0)
              d0[(size_t)k * n0 + i0] = d0[(size_t)k * n0 + i0] + l * cval;
            else
              d1[(size_t)k * n1 + i1] = d1[(size_t)k * n1 + i1] + l * cval;
            continue;
          }
          if (c0) {
            if (!pass)
              s->cst[k] = s->cst[k] + l * s->b->lo[p0][i0];
          } else {
            d0[(size_t)k * n0 + i0] = d0[(size_t)k * n0 + i0] + l * 1.0;
          }
          if (c1) {
            if (!pass)
              s->cst[k] = s->cst[k] + l * sg1 * s->b->lo[p1][i1];
          } else {
            d1[(size_t)k * n1 + i1] = d1[(size_t)k * n1 + i1] + l * sg1;
          }
        }
    }
    return TL_OK;
  }
  case TL_OP_RELU:
  case TL_OP_LEAKY_RELU:
  case TL_OP_SIGMOID:
  case TL_OP_TANH: {
    int ai = s->act_of[v];
    if (ai < 0)
      break;
    const tl_crown_act *A = &s->acts->acts[ai];
    double *plo, *phi;
    TL_TRY(coef_get(s, n->parents[0], &plo, &phi));
    if (f32 && n->op != TL_OP_RELU) {
      double *E = malloc((size_t)(N ? N : 1) * sizeof *E);
      if (!E)
        return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
      tl_code rc = tlv_elem_err(g, v, s->b, E, s->st);
      if (rc == TL_OK)
        rc = pay_err(s, lam, E, N);
      free(E);
      TL_TRY(rc);
    }
    /* the same products rounded down into the lower and up into the upper coefficients */
    for (int pass = 0; pass < 2; pass++) {
      pass ? rnd_up() : rnd_down();
      double *dst = pass ? phi : plo;
      for (int k = 0; k < s->m; k++)
        for (int64_t i = 0; i < N; i++) {
          size_t j = (size_t)k * N + i;
          double l = lam[j];
          if (l != 0)
            dst[j] = dst[j] + l * (l > 0 ? A->la[i] : A->ua[i]);
        }
    }
    rnd_down();
    for (int k = 0; k < s->m; k++)
      for (int64_t i = 0; i < N; i++) {
        double l = lam[(size_t)k * N + i];
        if (l != 0)
          s->cst[k] = s->cst[k] + l * (l > 0 ? A->lb[i] : A->ub[i]);
      }
    return TL_OK;
  }
  case TL_OP_MAX_POOL2D: {
    /* exact in both semantics (a float max is one of its operands): y >= x_j; y <= x_j or y <= c */
    int x = n->parents[0];
    int64_t nin = g->nodes[x].numel;
    const double *xl = s->b->lo[x], *xh = s->b->hi[x];
    int64_t *arg = malloc((size_t)(N ? N : 1) * sizeof *arg);
    double *cu = malloc((size_t)(N ? N : 1) * sizeof *cu);
    unsigned char *ex = malloc((size_t)(N ? N : 1));
    tl_code rc = arg && cu && ex ? TL_OK : tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
    int empty = 0;
    for (int64_t o = 0; rc == TL_OK && o < N; o++) {
      int e = 0;
      arg[o] = tlv_maxpool_line(g, v, xl, xh, o, &e, &cu[o]);
      ex[o] = (unsigned char)e;
      empty |= arg[o] < 0;
    }
    if (rc == TL_OK && empty) { /* a window without an input element: no lines, concretise */
      free(arg), free(cu), free(ex);
      break;
    }
    double *plo = NULL, *phi = NULL;
    if (rc == TL_OK)
      rc = coef_get(s, x, &plo, &phi);
    for (int pass = 0; rc == TL_OK && pass < 2; pass++) {
      pass ? rnd_up() : rnd_down();
      double *dst = pass ? phi : plo;
      for (int k = 0; k < s->m; k++)
        for (int64_t o = 0; o < N; o++) {
          double l = lam[(size_t)k * N + o];
          if (l > 0 || (l < 0 && ex[o]))
            dst[(size_t)k * nin + arg[o]] = dst[(size_t)k * nin + arg[o]] + l;
        }
    }
    rnd_down();
    for (int k = 0; rc == TL_OK && k < s->m; k++)
      for (int64_t o = 0; o < N; o++) {
        double l = lam[(size_t)k * N + o];
        if (l < 0 && !ex[o])
          s->cst[k] = s->cst[k] + l * cu[o];
      }
    free(arg), free(cu), free(ex);
    return rc;
  }
  case TL_OP_BATCH_NORM: {
    double *plo, *phi;
    TL_TRY(coef_get(s, n->parents[0], &plo, &phi));
    if (f32) {
      double *E = malloc((size_t)(N ? N : 1) * sizeof *E);
      if (!E)
        return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
      tl_code rc = tlv_elem_err(g, v, s->b, E, s->st);
      if (rc == TL_OK)
        rc = pay_err(s, lam, E, N);
      free(E);
      TL_TRY(rc);
    }
    const float *mu = g->weights + g->nodes[n->parents[3]].woff;
    const float *beta = g->weights + g->nodes[n->parents[2]].woff;
    for (int64_t i = 0; i < N; i++) {
      int64_t c = tlv_channel(n, i);
      double slo, shi;
      if (tlv_bn_scale(g, v, c, &slo, &shi) != TL_OK)
        return tl_fail(s->st, TL_EDOMAIN, "verify: node %d: batch norm variance + eps not positive", v);
      for (int k = 0; k < s->m; k++) {
        size_t j = (size_t)k * N + i;
        double l = lam[j];
        if (l == 0)
          continue;
        /* l y = (l s) x + l beta - (l mu) s, s in [slo, shi]: the constant is bounded in interval
         * arithmetic ([pl, ph] encloses l mu; rounding -l slo down and then multiplying by a
         * negative mean would round the wrong way) */
        /* every operand is laundered after each switch (l * mu, l * slo, l * shi are each
         * evaluated in both modes), every result before the next one */
        rnd_down();
        TLV_OPAQUE(l); TLV_OPAQUE(slo); TLV_OPAQUE(shi);
        double pl = l * (double)mu[c];
        TLV_OPAQUE(pl);
        rnd_up();
        TLV_OPAQUE(l); TLV_OPAQUE(slo); TLV_OPAQUE(shi);
        double ph = l * (double)mu[c];
        double cm = -fmax(fmax(pl * slo, pl * shi), fmax(ph * slo, ph * shi)); /* <= -(l mu) s */
        TLV_OPAQUE(cm);
        rnd_down();
        TLV_OPAQUE(l); TLV_OPAQUE(slo); TLV_OPAQUE(shi);
        plo[j] = plo[j] + fmin(l * slo, l * shi);
        s->cst[k] = s->cst[k] + l * (double)beta[c] + cm;
        rnd_up();
        TLV_OPAQUE(l); TLV_OPAQUE(slo); TLV_OPAQUE(shi);
        phi[j] = phi[j] + fmax(l * slo, l * shi);
      }
    }
    return TL_OK;
  }
  default:
    break;
  }
  if (s->how)
    s->how[v] = 1;
  concretize(s, lam, bl, bh, N);
  return TL_OK;
}

typedef struct cctx {
  const tl_graph *g;
  const tl_verify_plan *pl;
  const tl_region *reg;
  const tl_bounds *b;
  tl_crown_data *cd;
  int *act_of;
  double **absv;
  tl_status *st;
} cctx;

/* lower bounds of rows a (m x numel(start)) of node `start`; rec/how (alpha) optional */
static tl_code backward(cctx *c, int start, int m, const double *a, double *lower, int ibp_fold, double *incoef,
                        double **rec, unsigned char *how) {
  const tl_graph *g = c->g;
  cstate s = {g,     c->b,   c->reg, c->cd, c->act_of, m,   NULL, NULL, NULL,
              c->st, start,  ibp_fold, incoef, c->pl, c->absv, rec, how};
  s.clo = calloc((size_t)g->nnodes, sizeof *s.clo);
  s.chi = calloc((size_t)g->nnodes, sizeof *s.chi);
  s.cst = calloc((size_t)(m ? m : 1), sizeof *s.cst);
  tl_code rc = TL_OK;
  if (!s.clo || !s.chi || !s.cst)
    rc = tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
  double *lo, *hi;
  if (rc == TL_OK)
    rc = coef_get(&s, start, &lo, &hi);
  if (rc == TL_OK) {
    size_t n = (size_t)m * (size_t)g->nodes[start].numel;
    memcpy(lo, a, n * sizeof *lo);
    memcpy(hi, a, n * sizeof *hi);
  }
  for (int v = start; rc == TL_OK && v >= 0; v--) {
    if (!s.clo[v])
      continue;
    rc = back_node(&s, v);
    free(s.clo[v]), free(s.chi[v]);
    s.clo[v] = s.chi[v] = NULL;
  }
  for (int k = 0; rc == TL_OK && k < m; k++)
    lower[k] = isnan(s.cst[k]) ? -INFINITY : s.cst[k];
  for (int v = 0; s.clo && v < g->nnodes; v++)
    free(s.clo[v]), free(s.chi[v]);
  free(s.clo), free(s.chi), free(s.cst);
  return rc;
}

static void absv_free(double **absv, int n) {
  for (int i = 0; absv && i < n; i++)
    free(absv[i]);
  free(absv);
}

static tl_code act_alloc(tl_crown_act *A, int node, int64_t n, tl_status *st) {
  size_t z = (size_t)(n ? n : 1) * sizeof(double);
  A->node = node, A->n = n;
  A->pre_lo = malloc(z), A->pre_hi = malloc(z), A->la = malloc(z), A->lb = malloc(z), A->ua = malloc(z),
  A->ub = malloc(z);
  if (!A->pre_lo || !A->pre_hi || !A->la || !A->lb || !A->ua || !A->ub)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  return TL_OK;
}

#define TLV_CHUNK 64

static tl_code ibp_final_plan(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows,
                              const double *a, double *lower, tl_status *st) {
  const tl_graph *g = pl->g;
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  int old = fegetround();
  tl_code rc;
  if (tlv_is_affine(g, out)) {
    double **absv = calloc((size_t)g->nnodes, sizeof *absv);
    cctx c = {g, pl, r, b, NULL, NULL, absv, st};
    rc = absv ? backward(&c, out, nrows, a, lower, 1, NULL, NULL, NULL)
              : tl_fail(st, TL_ENOMEM, "verify: out of memory");
    absv_free(absv, g->nnodes);
  } else { /* concretise the rows on the output box */
    int64_t n = g->nodes[out].numel;
    rnd_down();
    for (int k = 0; k < nrows; k++) {
      double acc = 0;
      for (int64_t i = 0; i < n; i++) {
        double l = a[(size_t)k * n + i];
        if (l > 0)
          acc += l * b->lo[out][i];
        else if (l < 0)
          acc += l * b->hi[out][i];
      }
      lower[k] = isnan(acc) ? -INFINITY : acc;
    }
    rc = TL_OK;
  }
  fesetround(old);
  return rc;
}

tl_code tl_ibp_rows_plan(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows,
                         const double *a, double *lower, tl_status *st) {
  return ibp_final_plan(pl, r, b, nrows, a, lower, st);
}

tl_code tlv_ibp_final(const tl_graph *g, const tl_region *r, const tl_bounds *b, int nrows, const double *a,
                      double *lower, tl_status *st) {
  tl_verify_plan *pl;
  TL_TRY(tl_verify_plan_new(&pl, g, st));
  tl_code rc = ibp_final_plan(pl, r, b, nrows, a, lower, st);
  tl_verify_plan_free(pl);
  return rc;
}

static tl_code crown_run(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows,
                         const double *a, int intermediate_crown, int alpha_steps, double *lower,
                         tl_crown_data **data, double *incoef, tl_status *st);

tl_code tl_crown(const tl_graph *g, const tl_region *r, const tl_bounds *b, int nrows, const double *a,
                 int intermediate_crown, double *lower, tl_crown_data **data, tl_status *st) {
  return tlv_crown_ex(g, r, b, nrows, a, intermediate_crown, lower, data, NULL, st);
}

tl_code tlv_crown_ex(const tl_graph *g, const tl_region *r, const tl_bounds *b, int nrows, const double *a,
                     int intermediate_crown, double *lower, tl_crown_data **data, double *incoef, tl_status *st) {
  if (data)
    *data = NULL;
  tl_verify_plan *pl;
  TL_TRY(tl_verify_plan_new(&pl, g, st));
  tl_code rc = crown_run(pl, r, b, nrows, a, intermediate_crown, 0, lower, data, incoef, st);
  tl_verify_plan_free(pl);
  return rc;
}

tl_code tlv_crown_ex_plan(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows,
                          const double *a, double *lower, double *incoef, tl_status *st) {
  return crown_run(pl, r, b, nrows, a, 0, 0, lower, NULL, incoef, st);
}

tl_code tl_crown_plan(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows, const double *a,
                      int intermediate_crown, int alpha_steps, double *lower, tl_crown_data **data, tl_status *st) {
  return crown_run(pl, r, b, nrows, a, intermediate_crown, alpha_steps, lower, data, NULL, st);
}

/* Can CROWN bounds of pre-activation p be tighter than its IBP box?  Not when p is one affine map
 * of the input or of a node the backward pass concretises (clamp): then CROWN and
 * midpoint-radius IBP compute the same exact image (up to rounding). */
static int icrown_useful(const tl_verify_plan *pl, int p) {
  const tl_graph *g = pl->g;
  if (g->nodes[p].op == TL_OP_INPUT)
    return 0;
  if (pl->reference || !tlv_is_affine(g, p))
    return 1;
  int q = g->nodes[p].parents[0];
  while (g->nodes[q].op == TL_OP_FLATTEN || g->nodes[q].op == TL_OP_RESHAPE || g->nodes[q].op == TL_OP_DROPOUT)
    q = g->nodes[q].parents[0];
  tl_op op = g->nodes[q].op;
  return !(op == TL_OP_INPUT || op == TL_OP_CLAMP);
}

/* CROWN bounds of the pre-activation p of activation A (rows +e_j and -e_j, in chunks); only
 * unstable neurons for relu/leaky relu (the lines of a stable neuron do not depend on its box) */
static tl_code intermediate(cctx *c, tl_crown_act *A, int p) {
  const tl_graph *g = c->g;
  int64_t np = g->nodes[p].numel;
  tl_op op = g->nodes[A->node].op;
  int64_t *idx = malloc((size_t)(2 * np + 1) * sizeof *idx);
  double *rows = calloc((size_t)TLV_CHUNK * (size_t)(np ? np : 1), sizeof *rows);
  double lw[TLV_CHUNK];
  if (!idx || !rows) {
    free(idx), free(rows);
    return tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
  }
  int64_t nr = 0;
  for (int sgn = 0; sgn < 2; sgn++)
    for (int64_t j = 0; j < np; j++) {
      int unstable = A->pre_lo[j] < 0 && A->pre_hi[j] > 0;
      if (c->pl->reference || !(op == TL_OP_RELU || op == TL_OP_LEAKY_RELU) || unstable)
        idx[nr++] = sgn ? -(j + 1) : j + 1;
    }
  tl_code rc = TL_OK;
  for (int64_t r0 = 0; rc == TL_OK && r0 < nr; r0 += TLV_CHUNK) {
    int cnt = (int)(nr - r0 < TLV_CHUNK ? nr - r0 : TLV_CHUNK);
    memset(rows, 0, (size_t)TLV_CHUNK * (size_t)np * sizeof *rows);
    for (int q = 0; q < cnt; q++) {
      int64_t t = idx[r0 + q];
      rows[(size_t)q * np + (t > 0 ? t - 1 : -t - 1)] = t > 0 ? 1.0 : -1.0;
    }
    rc = backward(c, p, cnt, rows, lw, 0, NULL, NULL, NULL);
    for (int q = 0; rc == TL_OK && q < cnt; q++) {
      int64_t t = idx[r0 + q];
      if (t > 0)
        A->pre_lo[t - 1] = fmax(A->pre_lo[t - 1], lw[q]);
      else
        A->pre_hi[-t - 1] = fmin(A->pre_hi[-t - 1], -lw[q]);
    }
  }
  free(idx), free(rows);
  return rc;
}

/* ---- alpha-CROWN ------------------------------------------------------------------------------ */
static void rec_free(double **rec, int n) {
  for (int i = 0; i < n; i++)
    free(rec[i]), rec[i] = NULL;
}

/* may the linearised forward pass (the gradient of the bound) follow every backward rule used? */
static int alpha_ok(cctx *c, const unsigned char *how, int out) {
  for (int v = 0; v <= out; v++) {
    if (how[v] != 2)
      continue;
    tl_op op = c->g->nodes[v].op;
    if (tlv_fast_kind(c->pl, v) != TLV_FAST_NONE || op == TL_OP_FLATTEN || op == TL_OP_RESHAPE ||
        op == TL_OP_DROPOUT || op == TL_OP_NEG || op == TL_OP_MAX_POOL2D || (op == TL_OP_RELU && c->act_of[v] >= 0))
      continue;
    if (op == TL_OP_ADD || op == TL_OP_SUB || op == TL_OP_MUL) { /* input normalisation: one constant */
      const tl_node *n = &c->g->nodes[v];
      int c0 = c->g->nodes[n->parents[0]].op == TL_OP_PARAM, c1 = c->g->nodes[n->parents[1]].op == TL_OP_PARAM;
      if (c0 != c1)
        continue;
    }
    return 0;
  }
  return 1;
}

/* gradient of sum_k w_k L_k with respect to the lower slopes of relu neurons: for row k the bound
 * is attained by the linearised network (each activation replaced by the line its coefficient's
 * sign selected, concretised nodes by the chosen box ends) at the minimising input corner; the
 * derivative of L_k in the lower slope of neuron i is Lambda[k][i] * z_i there. */
static tl_code alpha_grad(cctx *c, double **rec, const unsigned char *how, int out, int m, const double *w,
                          double **grad) {
  const tl_graph *g = c->g;
  double **val = calloc((size_t)g->nnodes, sizeof *val);
  tl_code rc = val ? TL_OK : tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
  for (int v = 0; rc == TL_OK && v <= out; v++)
    if (how[v] && !(val[v] = malloc((size_t)(g->nodes[v].numel ? g->nodes[v].numel : 1) * sizeof(double))))
      rc = tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
  fesetround(FE_TONEAREST);
  for (int k = 0; rc == TL_OK && k < m; k++) {
    if (w[k] == 0)
      continue;
    for (int v = 0; v < out; v++) {
      if (!how[v])
        continue;
      const tl_node *n = &g->nodes[v];
      int64_t N = n->numel;
      const double *lam = rec[v] + (size_t)k * N;
      double *h = val[v];
      if (how[v] == 1) {
        for (int64_t i = 0; i < N; i++)
          h[i] = lam[i] > 0 ? c->b->lo[v][i] : lam[i] < 0 ? c->b->hi[v][i] : c->b->lo[v][i];
        continue;
      }
      const double *z = val[n->parents[0]];
      if (n->op == TL_OP_ADD || n->op == TL_OP_SUB || n->op == TL_OP_MUL) {
        /* one parameter operand (alpha_ok): the point value through the affine elementwise op */
        int c0 = g->nodes[n->parents[0]].op == TL_OP_PARAM;
        const tl_node *pn = &g->nodes[n->parents[c0 ? 0 : 1]];
        const float *cv = g->weights + pn->woff;
        const double *zv = val[n->parents[c0 ? 1 : 0]];
        tl_bcast bc;
        if (!zv || tlv_bcast_init(g, v, &bc, c->st) != TL_OK) {
          rc = tl_fail(c->st, TL_EARG, "verify: alpha: node %d has no point value", v);
          break;
        }
        for (int64_t i = 0; i < N; i++) {
          double zz = zv[tlv_bcast_index(&bc, c0 ? 1 : 0, i)], cc = cv[tlv_bcast_index(&bc, c0 ? 0 : 1, i)];
          h[i] = n->op == TL_OP_ADD ? zz + cc : n->op == TL_OP_MUL ? zz * cc : c0 ? cc - zz : zz - cc;
        }
      } else if (n->op == TL_OP_NEG) {
        for (int64_t i = 0; i < N; i++)
          h[i] = -z[i];
      } else if (n->op == TL_OP_MAX_POOL2D) { /* the line its coefficient's sign selected */
        int p = n->parents[0];
        for (int64_t i = 0; i < N; i++) {
          int e = 0;
          double cu = 0;
          int64_t j = tlv_maxpool_line(g, v, c->b->lo[p], c->b->hi[p], i, &e, &cu);
          h[i] = j < 0 ? 0 : lam[i] >= 0 || e ? z[j] : cu;
        }
      } else if (tlv_fast_kind(c->pl, v) != TLV_FAST_NONE) {
        tlv_fast_point(c->pl, v, z, h);
      } else if (n->op == TL_OP_RELU) {
        int ai = c->act_of[v];
        const tl_crown_act *A = &c->cd->acts[ai];
        for (int64_t i = 0; i < N; i++) {
          h[i] = lam[i] > 0 ? A->la[i] * z[i] + A->lb[i] : A->ua[i] * z[i] + A->ub[i];
          if (lam[i] > 0 && A->pre_lo[i] < 0 && A->pre_hi[i] > 0)
            grad[ai][i] += w[k] * lam[i] * z[i];
        }
      } else {
        memcpy(h, z, (size_t)N * sizeof *h);
      }
    }
  }
  for (int v = 0; val && v < g->nnodes; v++)
    free(val[v]);
  free(val);
  return rc;
}

static double alpha_obj(const double *L, int m) {
  double s = 0;
  for (int k = 0; k < m; k++)
    s += fmin(L[k], 0);
  return s;
}

static tl_code alpha_crown(cctx *c, int out, int nrows, const double *a, int steps, double *lower) {
  const tl_graph *g = c->g;
  tl_crown_data *cd = c->cd;
  int nn = g->nnodes;
  double **rec = calloc((size_t)nn, sizeof *rec);
  unsigned char *how = calloc((size_t)nn, 1);
  double **grad = calloc((size_t)(cd->nacts ? cd->nacts : 1), sizeof *grad);
  double **best = calloc((size_t)(cd->nacts ? cd->nacts : 1), sizeof *best);
  double *L0 = malloc((size_t)nrows * sizeof *L0), *L = malloc((size_t)nrows * sizeof *L);
  double *w = malloc((size_t)nrows * sizeof *w);
  tl_code rc = rec && how && grad && best && L0 && L && w ? TL_OK : tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
  for (int i = 0; rc == TL_OK && i < cd->nacts; i++) {
    size_t z = (size_t)(cd->acts[i].n ? cd->acts[i].n : 1) * sizeof(double);
    if (!(grad[i] = malloc(z)) || !(best[i] = malloc(z)))
      rc = tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
    else
      memcpy(best[i], cd->acts[i].la, z);
  }
  if (rc == TL_OK)
    rc = backward(c, out, nrows, a, L0, 0, NULL, rec, how);
  if (rc == TL_OK)
    memcpy(lower, L0, (size_t)nrows * sizeof *L0), memcpy(L, L0, (size_t)nrows * sizeof *L);
  int ok = rc == TL_OK && alpha_ok(c, how, out);
  /* the search starts from the upper-line slope u / (u - l) (CROWN's adaptive 0/1 choice is
   * often a stationary vertex); the CROWN slopes stay the incumbent */
  for (int i = 0; ok && i < cd->nacts; i++) {
    tl_crown_act *A = &cd->acts[i];
    if (g->nodes[A->node].op == TL_OP_RELU)
      for (int64_t j = 0; j < A->n; j++)
        if (A->pre_lo[j] < 0 && A->pre_hi[j] > 0)
          A->la[j] = fmin(1.0, fmax(0.0, A->pre_hi[j] / (A->pre_hi[j] - A->pre_lo[j])));
  }
  if (ok && steps > 0) {
    rec_free(rec, nn);
    memset(how, 0, (size_t)nn);
    rc = backward(c, out, nrows, a, L, 0, NULL, rec, how);
  }
  double bestobj = alpha_obj(L0, nrows);
  for (int t = 0; ok && rc == TL_OK && t < steps && bestobj < 0; t++) {
    int any = 0;
    for (int k = 0; k < nrows; k++)
      w[k] = L[k] < 0 ? 1.0 : 0.0, any |= L[k] < 0;
    if (!any)
      break;
    for (int i = 0; i < cd->nacts; i++)
      memset(grad[i], 0, (size_t)cd->acts[i].n * sizeof(double));
    rc = alpha_grad(c, rec, how, out, nrows, w, grad);
    rec_free(rec, nn);
    memset(how, 0, (size_t)nn);
    int nz = 0;
    for (int i = 0; i < cd->nacts && !nz; i++)
      for (int64_t j = 0; j < cd->acts[i].n && !nz; j++)
        nz = grad[i][j] != 0;
    if (!nz)
      break; /* no relu slope reaches the bound (e.g. behind a concretised clamp) */
    double eta = 0.4 * pow(0.85, t);
    for (int i = 0; rc == TL_OK && i < cd->nacts; i++) {
      tl_crown_act *A = &cd->acts[i];
      if (g->nodes[A->node].op != TL_OP_RELU)
        continue;
      for (int64_t j = 0; j < A->n; j++)
        if (A->pre_lo[j] < 0 && A->pre_hi[j] > 0 && grad[i][j] != 0)
          A->la[j] = fmin(1.0, fmax(0.0, A->la[j] + (grad[i][j] > 0 ? eta : -eta)));
    }
    if (rc == TL_OK)
      rc = backward(c, out, nrows, a, L, 0, NULL, rec, how);
    if (rc != TL_OK)
      break;
    int no_worse = 1; /* rows are decided at 0: unproven rows may not get worse, proven ones stay proven */
    for (int k = 0; k < nrows; k++)
      no_worse &= L[k] >= fmin(L0[k], 0.0);
    double obj = alpha_obj(L, nrows);
    if (no_worse && obj > bestobj) {
      bestobj = obj;
      memcpy(lower, L, (size_t)nrows * sizeof *L);
      for (int i = 0; i < cd->nacts; i++)
        memcpy(best[i], cd->acts[i].la, (size_t)cd->acts[i].n * sizeof(double));
    }
  }
  /* the kept slopes are exactly the ones `lower` was soundly computed with */
  for (int i = 0; rc == TL_OK && i < cd->nacts; i++)
    memcpy(cd->acts[i].la, best[i], (size_t)cd->acts[i].n * sizeof(double));
  if (rec)
    rec_free(rec, nn);
  for (int i = 0; i < cd->nacts; i++)
    free(grad ? grad[i] : NULL), free(best ? best[i] : NULL);
  free(rec), free(how), free(grad), free(best), free(L0), free(L), free(w);
  return rc;
}

static tl_code crown_run(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows,
                         const double *a, int intermediate_crown, int alpha_steps, double *lower,
                         tl_crown_data **data, double *incoef, tl_status *st) {
  const tl_graph *g = pl->g;
  if (data)
    *data = NULL;
  if (g->noutputs < 1 && g->nnodes < 1)
    return tl_fail(st, TL_EARG, "verify: empty graph");
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  int old = fegetround();
  tl_crown_data *cd = calloc(1, sizeof *cd);
  int *act_of = malloc((size_t)g->nnodes * sizeof *act_of);
  double **absv = calloc((size_t)g->nnodes, sizeof *absv);
  tl_code rc = cd && act_of && absv ? TL_OK : tl_fail(st, TL_ENOMEM, "verify: out of memory");
  cctx c = {g, pl, r, b, cd, act_of, absv, st};
  int nact = 0;
  for (int v = 0; rc == TL_OK && v < g->nnodes; v++)
    nact += is_act(g->nodes[v].op) && v < out;
  if (rc == TL_OK && !(cd->acts = calloc((size_t)(nact ? nact : 1), sizeof *cd->acts)))
    rc = tl_fail(st, TL_ENOMEM, "verify: out of memory");
  if (cd)
    cd->intermediate_crown = intermediate_crown;
  for (int v = 0; rc == TL_OK && v < g->nnodes; v++) {
    act_of[v] = -1;
    const tl_node *n = &g->nodes[v];
    if (!is_act(n->op) || v >= out)
      continue;
    int p = n->parents[0];
    if (n->op == TL_OP_LEAKY_RELU && !(n->attrs.alpha >= 0 && n->attrs.alpha <= 1))
      continue; /* concretised */
    if (!tlv_box_finite(b->lo[p], b->hi[p], g->nodes[p].numel))
      continue;
    tl_crown_act *A = &cd->acts[cd->nacts];
    rc = act_alloc(A, v, n->numel, st);
    if (rc != TL_OK)
      break;
    cd->nacts++;
    memcpy(A->pre_lo, b->lo[p], (size_t)n->numel * sizeof(double));
    memcpy(A->pre_hi, b->hi[p], (size_t)n->numel * sizeof(double));
    if (intermediate_crown && icrown_useful(pl, p)) {
      rc = intermediate(&c, A, p);
      for (int64_t i = 0; rc == TL_OK && i < n->numel; i++)
        if (A->pre_lo[i] > A->pre_hi[i]) /* only possible through rounding at a point: keep IBP */
          A->pre_lo[i] = b->lo[p][i], A->pre_hi[i] = b->hi[p][i];
    }
    for (int64_t i = 0; rc == TL_OK && i < n->numel; i++)
      make_lines(n->op, n->attrs.alpha, A->pre_lo[i], A->pre_hi[i], &A->la[i], &A->lb[i], &A->ua[i], &A->ub[i]);
    act_of[v] = cd->nacts - 1;
  }
  if (rc == TL_OK && alpha_steps > 0 && !incoef)
    rc = alpha_crown(&c, out, nrows, a, alpha_steps, lower);
  else if (rc == TL_OK)
    rc = backward(&c, out, nrows, a, lower, 0, incoef, NULL, NULL);
  fesetround(old);
  free(act_of);
  absv_free(absv, g->nnodes);
  if (rc != TL_OK || !data)
    tl_crown_data_free(cd);
  else
    *data = cd;
  return rc;
}
