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
 * (sound, looser).
 * This file is the sweep (coefficient bookkeeping, intermediate bounds, the backward pass); the
 * per-op backward rules and relaxation lines are in rules/ (the rule table, vrules.h); alpha-CROWN
 * is alpha.c. */
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

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

tl_code tlv_coef_get(tlv_cstate *s, int v, double **lo, double **hi) {
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

void tlv_concretize(tlv_cstate *s, const double *lam, const double *lo, const double *hi, int64_t n) {
  rnd_down();
  for (int k = 0; k < s->m; k++) {
    double acc = sel_dot(lam + (size_t)k * n, lo, hi, n);
    s->cst[k] = s->cst[k] + acc;
  }
}

/* const[k] -= up(sum |lambda| E): all rows upward, then all subtractions downward (two mode
 * switches: each costs ~80 ns) */
tl_code tlv_pay_err(tlv_cstate *s, const double *lam, const double *E, int64_t n) {
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

/* f32-any: const -= |lam| . E with E the node's error radius (tlv_elem_err) */
tl_code tlv_pay_node_err(tlv_cstate *s, int v, const double *lam) {
  int64_t N = s->g->nodes[v].numel;
  double *E = malloc((size_t)(N ? N : 1) * sizeof *E);
  if (!E)
    return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  tl_code rc = tlv_elem_err(s->g, v, s->b, E, s->st);
  if (rc == TL_OK)
    rc = tlv_pay_err(s, lam, E, N);
  free(E);
  return rc;
}

/* collapse the interval coefficients of node v: pay the width on the node's box */
static tl_code collapse(tlv_cstate *s, int v) {
  int64_t N = s->g->nodes[v].numel;
  double *lam = s->clo[v], *lamh = s->chi[v];
  const double *bl = s->b->lo[v], *bh = s->b->hi[v];
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
  return TL_OK;
}

/* node v: collapse its coefficients, then its backward rule (the rule table), or concretise it
 * on its box (no rule, a rule that declines, a non-finite parent, an unbounded f32-any box, or
 * the IBP final bound past its start node) */
static tl_code back_node(tlv_cstate *s, int v) {
  const tl_graph *g = s->g;
  const tl_node *n = &g->nodes[v];
  int64_t N = n->numel;
  double *lam = s->clo[v];
  const double *bl = s->b->lo[v], *bh = s->b->hi[v];
  TL_TRY(collapse(s, v));
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
  const tlv_rule *r = tlv_rule_of(n->op);
  if (!r->back || !parents_finite || own_unbounded || (s->ibp_fold && v != s->start)) {
    tlv_concretize(s, lam, bl, bh, N);
    return TL_OK;
  }
  if (s->how)
    s->how[v] = 2;
  int done = 0;
  tl_code rc = r->back(s, v, lam, &done);
  if (rc != TL_OK || done)
    return rc;
  if (s->how)
    s->how[v] = 1;
  tlv_concretize(s, lam, bl, bh, N);
  return TL_OK;
}

/* lower bounds of rows a (m x numel(start)) of node `start`; rec/how (alpha) optional */
tl_code tlv_backward(tlv_cctx *c, int start, int m, const double *a, double *lower, int ibp_fold,
                     double *incoef, double **rec, unsigned char *how) {
  const tl_graph *g = c->g;
  tlv_cstate s = {g,     c->b,  c->reg,   c->cd,  c->act_of, m,       NULL, NULL, NULL,
                  c->st, start, ibp_fold, incoef, c->pl,     c->absv, rec,  how};
  s.clo = calloc((size_t)g->nnodes, sizeof *s.clo);
  s.chi = calloc((size_t)g->nnodes, sizeof *s.chi);
  s.cst = calloc((size_t)(m ? m : 1), sizeof *s.cst);
  tl_code rc = TL_OK;
  if (!s.clo || !s.chi || !s.cst)
    rc = tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
  double *lo, *hi;
  if (rc == TL_OK)
    rc = tlv_coef_get(&s, start, &lo, &hi);
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

void tlv_absv_free(double **absv, int n) {
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
    tlv_cctx c = {g, pl, r, b, NULL, NULL, absv, st};
    rc = absv ? tlv_backward(&c, out, nrows, a, lower, 1, NULL, NULL, NULL)
              : tl_fail(st, TL_ENOMEM, "verify: out of memory");
    tlv_absv_free(absv, g->nnodes);
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
                     int intermediate_crown, double *lower, tl_crown_data **data, double *incoef,
                     tl_status *st) {
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

tl_code tlv_crown_coef_plan(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows,
                            const double *a, int intermediate_crown, int alpha_steps, double *lower,
                            tl_crown_data **data, double *incoef, tl_status *st) {
  return crown_run(pl, r, b, nrows, a, intermediate_crown, alpha_steps, lower, data, incoef, st);
}

tl_code tl_crown_plan(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows,
                      const double *a, int intermediate_crown, int alpha_steps, double *lower,
                      tl_crown_data **data, tl_status *st) {
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
  while (g->nodes[q].op == TL_OP_FLATTEN || g->nodes[q].op == TL_OP_RESHAPE ||
         g->nodes[q].op == TL_OP_DROPOUT)
    q = g->nodes[q].parents[0];
  tl_op op = g->nodes[q].op;
  return !(op == TL_OP_INPUT || op == TL_OP_CLAMP);
}

/* CROWN bounds of the pre-activation p of activation A (rows +e_j and -e_j, in chunks); only
 * unstable neurons for relu/leaky relu (the lines of a stable neuron do not depend on its box) */
static tl_code intermediate(tlv_cctx *c, tl_crown_act *A, int p) {
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
    rc = tlv_backward(c, p, cnt, rows, lw, 0, NULL, NULL, NULL);
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
  tlv_cctx c = {g, pl, r, b, cd, act_of, absv, st};
  int nact = 0;
  for (int v = 0; rc == TL_OK && v < g->nnodes; v++)
    nact += tlv_rule_of(g->nodes[v].op)->lines && v < out;
  if (rc == TL_OK && !(cd->acts = calloc((size_t)(nact ? nact : 1), sizeof *cd->acts)))
    rc = tl_fail(st, TL_ENOMEM, "verify: out of memory");
  if (cd)
    cd->intermediate_crown = intermediate_crown;
  for (int v = 0; rc == TL_OK && v < g->nnodes; v++) {
    act_of[v] = -1;
    const tl_node *n = &g->nodes[v];
    if (!tlv_rule_of(n->op)->lines || v >= out)
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
      tlv_rule_of(n->op)->lines(n->op, n->attrs.alpha, A->pre_lo[i], A->pre_hi[i], &A->la[i], &A->lb[i],
                                &A->ua[i], &A->ub[i]);
    act_of[v] = cd->nacts - 1;
  }
  if (rc == TL_OK && alpha_steps > 0)
    rc = tlv_alpha_crown(&c, out, nrows, a, alpha_steps, lower);
  if (rc == TL_OK && alpha_steps > 0 && incoef) { /* the input coefficients of the kept slopes */
    double *l2 = malloc((size_t)nrows * sizeof *l2);
    rc = l2 ? tlv_backward(&c, out, nrows, a, l2, 0, incoef, NULL, NULL)
            : tl_fail(st, TL_ENOMEM, "verify: out of memory");
    for (int k = 0; rc == TL_OK && k < nrows; k++)
      lower[k] = fmax(lower[k], l2[k]); /* the same lines: both sound */
    free(l2);
  } else if (rc == TL_OK && alpha_steps <= 0)
    rc = tlv_backward(&c, out, nrows, a, lower, 0, incoef, NULL, NULL);
  fesetround(old);
  free(act_of);
  tlv_absv_free(absv, g->nnodes);
  if (rc != TL_OK || !data)
    tl_crown_data_free(cd);
  else
    *data = cd;
  return rc;
}
