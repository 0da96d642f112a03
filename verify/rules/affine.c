/* affine.c - the linear-type ops (linear, matmul with a parameter right operand, conv2d,
 * avg_pool2d, global_avg_pool) through one affine (CSR) view y = (W x + b) / div: the view, the
 * IBP box (midpoint-radius, or the plan's dense kernels), CROWN's backward rule, the exact value
 * and its fixed-point form, side by side.  f32-any: gamma_k of f32model.h (TL_F32_DOT rows). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

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
  case TL_OP_GLOBAL_AVG_POOL: return 1;
  default: return 0;
  }
}

/* ---- the affine view ---------------------------------------------------------------------------- */
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

/* y[r, o] = sum_i W[o, i] x[r, i] + b[o]: k = in + 1 roundings */
static tl_code aff_linear(const tl_graph *g, const tl_node *n, tl_aff *a, int64_t *t, tl_status *st) {
  const tl_node *x = &g->nodes[n->parents[0]], *w = &g->nodes[n->parents[1]];
  int64_t out = w->shape[0], in = w->shape[1], rows = x->numel / (in ? in : 1);
  TL_TRY(aff_alloc(a, n->numel, rows * out * in, n->nparents == 3, 0, st));
  const float *W = g->weights + w->woff;
  const float *B = n->nparents == 3 ? g->weights + g->nodes[n->parents[2]].woff : NULL;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < out; o++) {
      int64_t yo = r * out + o;
      a->rp[yo] = *t;
      for (int64_t i = 0; i < in; i++, (*t)++)
        a->col[*t] = r * in + i, a->w[*t] = W[o * in + i];
      if (B)
        a->bias[yo] = B[o];
      a->nround[yo] = in + (B != NULL);
    }
  return TL_OK;
}

/* y[r, k] = sum_j x[r, j] W[j, k]: k = J roundings */
static tl_code aff_matmul(const tl_graph *g, const tl_node *n, tl_aff *a, int64_t *t, tl_status *st) {
  const tl_node *x = &g->nodes[n->parents[0]], *w = &g->nodes[n->parents[1]];
  int64_t J = w->shape[0], K = w->shape[1], rows = x->numel / (J ? J : 1);
  TL_TRY(aff_alloc(a, n->numel, rows * K * J, 0, 0, st));
  const float *W = g->weights + w->woff;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < K; k++) {
      int64_t yo = r * K + k;
      a->rp[yo] = *t;
      for (int64_t j = 0; j < J; j++, (*t)++)
        a->col[*t] = r * J + j, a->w[*t] = W[j * K + k];
      a->nround[yo] = J;
    }
  return TL_OK;
}

/* conv2d: y[b, o, i, j] = sum W x over the window + b[o] (k = C/G kh kw + 1); avg pool: the same
 * with weights 1 and a divisor kh kw (k = kh kw + 1) */
static tl_code aff_conv_pool(const tl_graph *g, const tl_node *n, tl_aff *a, int64_t *t, tl_status *st) {
  const tl_node *x = &g->nodes[n->parents[0]];
  int conv = n->op == TL_OP_CONV2D;
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], Wd = x->shape[3];
  int64_t O = n->shape[1], Ho = n->shape[2], Wo = n->shape[3];
  int64_t kh = n->attrs.kernel[0], kw = n->attrs.kernel[1];
  int64_t G = conv ? n->attrs.groups : C, cpg = conv ? C / G : 1, opg = conv ? O / G : 1;
  TL_TRY(aff_alloc(a, n->numel, n->numel * cpg * kh * kw, conv && n->nparents == 3, !conv, st));
  const float *W = conv ? g->weights + g->nodes[n->parents[1]].woff : NULL;
  const float *B = conv && n->nparents == 3 ? g->weights + g->nodes[n->parents[2]].woff : NULL;
  for (int64_t b = 0; b < N; b++)
    for (int64_t o = 0; o < O; o++)
      for (int64_t i = 0; i < Ho; i++)
        for (int64_t j = 0; j < Wo; j++) {
          int64_t yo = ((b * O + o) * Ho + i) * Wo + j;
          a->rp[yo] = *t;
          int64_t grp = conv ? o / opg : o;
          for (int64_t c = 0; c < cpg; c++)
            for (int64_t p = 0; p < kh; p++)
              for (int64_t q = 0; q < kw; q++) {
                int64_t hi = i * n->attrs.stride[0] - n->attrs.padding[0] + p * n->attrs.dilation[0];
                int64_t wi = j * n->attrs.stride[1] - n->attrs.padding[1] + q * n->attrs.dilation[1];
                if (hi < 0 || hi >= H || wi < 0 || wi >= Wd)
                  continue;
                int64_t ci = conv ? grp * cpg + c : o;
                a->col[*t] = ((b * C + ci) * H + hi) * Wd + wi;
                a->w[*t] = conv ? W[((o * cpg + c) * kh + p) * kw + q] : 1.0;
                (*t)++;
              }
          if (B)
            a->bias[yo] = B[o];
          if (!conv)
            a->div[yo] = kh * kw;
          a->nround[yo] = cpg * kh * kw + (B != NULL) + (!conv);
        }
  return TL_OK;
}

/* y[n, c] = sum over the plane / S: k = S + 1 roundings */
static tl_code aff_gap(const tl_graph *g, const tl_node *n, tl_aff *a, int64_t *t, tl_status *st) {
  const tl_node *x = &g->nodes[n->parents[0]];
  int64_t NC = n->numel, S = x->numel / (NC ? NC : 1);
  TL_TRY(aff_alloc(a, NC, x->numel, 0, 1, st));
  for (int64_t o = 0; o < NC; o++) {
    a->rp[o] = *t;
    for (int64_t s = 0; s < S; s++, (*t)++)
      a->col[*t] = o * S + s, a->w[*t] = 1.0;
    a->div[o] = S;
    a->nround[o] = S + 1;
  }
  return TL_OK;
}

tl_code tlv_aff_build(const tl_graph *g, int node, tl_aff *a, tl_status *st) {
  const tl_node *n = &g->nodes[node];
  int64_t t = 0;
  if (n->op == TL_OP_LINEAR)
    TL_TRY(aff_linear(g, n, a, &t, st));
  else if (n->op == TL_OP_MATMUL)
    TL_TRY(aff_matmul(g, n, a, &t, st));
  else if (n->op == TL_OP_CONV2D || n->op == TL_OP_AVG_POOL2D)
    TL_TRY(aff_conv_pool(g, n, a, &t, st));
  else if (n->op == TL_OP_GLOBAL_AVG_POOL)
    TL_TRY(aff_gap(g, n, a, &t, st));
  else
    return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d is not affine", node);
  a->rp[a->nout] = t;
  a->nin = g->nodes[n->parents[0]].numel;
  a->x = n->parents[0];
  return TL_OK;
}

/* ---- IBP: lo = down(W c + b) - up(|W| r), hi = up(W c + b) + up(|W| r) (Rump) ---------------- */
/* f32-any adds gamma_k sum |W| (|c| + r) + k eta/2 (1 + gamma_k) per row */
static tl_code ibp_aff_view(const tl_graph *g, int id, const tl_bounds *b, tl_semantics sem, double *lo,
                            double *hi, tl_status *st) {
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
    /* computed upward: never moved past the switch */
    TLV_OPAQUE(h);
    TLV_OPAQUE(e);
    TLV_OPAQUE(sr);
    rnd_down();
    double sl = bias;
    for (int64_t t = a.rp[o]; t < a.rp[o + 1]; t++)
      sl += a.w[t] * c[a.col[t]];
    double l = (sl - sr) / dv - e;
    lo[o] = l, hi[o] = h;
  }
  if (sem == TL_SEM_F32_ANY && (overflow || tlv_over_f32(lo, hi, a.nout)))
    tlv_set_unbounded(lo, hi, a.nout);
  free(c), free(r), free(m);
  tlv_aff_free(&a);
  return TL_OK;
}

tl_code tlv_ibp_affine(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                       const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)reg;
  const tl_node *n = &g->nodes[id];
  if (!tlv_is_affine(g, id))
    return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d (%s): weights must be parameters", id,
                   tl_op_get(n->op)->name);
  if (tlv_fast_kind(pl, id) != TLV_FAST_NONE)
    return tlv_fast_ibp(pl, id, b->lo[n->parents[0]], b->hi[n->parents[0]], sem, lo, hi, st);
  return ibp_aff_view(g, id, b, sem, lo, hi, st);
}
/* ---- CROWN: lam (W x + b) / div = (lam W / div) x + lam b / div --------------------------------- */
/* The fast (plan) rule's per-node data: bias, the number of terms of lam A (gamma52) and of
 * roundings of one output (gamma_k) */
typedef struct fast_terms {
  const float *B;
  int64_t bdim, K, kround, P, nout;
  int f32;
  double g52, gk;
} fast_terms;

/* IBP final bound through the start node: the parent x is concretised on its box as soon as it is
 * reached; when v is its only consumer, T is all of x's coefficients (an interval of zero width:
 * 0 + T is exact), so T is concretised at once, without materialising x's arrays (same bits) */
static int fast_direct(const tlv_cstate *s, int v, int x) {
  const tl_graph *g = s->g;
  int direct = s->ibp_fold && v == s->start && !s->clo[x];
  for (int u = x + 1; direct && u < g->nnodes; u++)
    for (int k = 0; k < g->nodes[u].nparents; k++)
      if (g->nodes[u].parents[k] == x && u != v)
        direct = 0;
  return direct;
}

/* s->absv[v] = |A| max|box(x)| (upward), once per node */
static tl_code fast_absv(tlv_cstate *s, int v, const double *xl, const double *xh, int64_t nin,
                         int64_t nout) {
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
  return rc;
}

static void fast_terms_of(const tlv_cstate *s, int v, fast_terms *f) {
  const tl_graph *g = s->g;
  const tl_node *n = &g->nodes[v];
  f->B = n->nparents == 3 ? s->g->weights + g->nodes[n->parents[2]].woff : NULL;
  f->bdim = f->B ? g->nodes[n->parents[2]].numel : 1;
  f->K = tlv_fast_backterms(s->pl, v);
  f->kround = 0;
  if (tlv_fast_kind(s->pl, v) == TLV_FAST_LINEAR)
    f->kround = g->nodes[n->parents[1]].shape[1] + (f->B != NULL);
  else
    f->kround = s->pl->conv[v]->K + (f->B != NULL);
  f->P = tlv_fast_kind(s->pl, v) == TLV_FAST_CONV ? s->pl->conv[v]->P : 1;
  f->nout = n->numel;
}

/* every row's error payment upward (pays[k]), then every constant downward: const -= pays, and
 * += lam b */
static void fast_pay(tlv_cstate *s, int v, const double *lam, const fast_terms *f, double sxa, double gk,
                     double *pays) {
  const double *av = s->absv[v];
  const float *B = f->B;
  int64_t nout = f->nout, P = f->P, bdim = f->bdim;
  rnd_up();
  TLV_OPAQUE(sxa);
  TLV_OPAQUE(gk);
  double und = (double)f->K * 0x1p-1074 * sxa;
  double absterm = (double)f->kround * (TLV_ETA / 2) * (1 + gk);
  TLV_OPAQUE(und);
  TLV_OPAQUE(absterm); /* rounded up, used after the switches in the loop */
  for (int k = 0; k < s->m; k++) {
    const double *lr = lam + (size_t)k * nout;
    double pay = 0, pe = 0;
    for (int64_t o = 0; o < nout; o++) {
      double al = fabs(lr[o]);
      if (al == 0)
        continue;
      pay += al * av[o];
      if (f->f32) {
        int64_t ch = (o / P) % bdim;
        pe += al * (gk * (av[o] + (B ? fabs((double)B[ch]) : 0)) + absterm);
      }
    }
    double tot = f->g52 * pay + und + pe;
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
}

/* linear / conv2d through the plan: T = up(lam A) for all rows at once, and a rigorous bound of
 * |lam A - T| paid on the parent's box: gamma52_K |lam| (|A| max|x|) + K 2^-1074 sum max|x|. */
static tl_code back_affine_fast(tlv_cstate *s, int v, const double *lam) {
  const tl_graph *g = s->g;
  int x = g->nodes[v].parents[0];
  int64_t nin = g->nodes[x].numel, nout = g->nodes[v].numel;
  const double *xl = s->b->lo[x], *xh = s->b->hi[x];
  int direct = fast_direct(s, v, x);
  double *plo = NULL, *phi = NULL;
  if (!direct)
    TL_TRY(tlv_coef_get(s, x, &plo, &phi));
  double sxa = 0;
  if (!s->absv[v])
    TL_TRY(fast_absv(s, v, xl, xh, nin, nout));
  rnd_up();
  for (int64_t i = 0; i < nin; i++)
    sxa += amax(xl[i], xh[i]);
  fast_terms f;
  fast_terms_of(s, v, &f);
  f.f32 = s->b->sem == TL_SEM_F32_ANY;
  double g52 = tlv_gamma52_up(f.K), gk = f.f32 ? tlv_gamma_up(f.kround) : 0;
  f.g52 = g52, f.gk = gk;
  double *T = calloc((size_t)s->m * (size_t)(nin ? nin : 1), sizeof *T);
  if (!T)
    return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  tl_code rc = tlv_fast_back(s->pl, v, s->m, lam, T, s->st);
  double *pays = rc == TL_OK ? malloc((size_t)(s->m ? s->m : 1) * sizeof *pays) : NULL;
  if (rc == TL_OK && !pays)
    rc = tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  if (rc != TL_OK) {
    free(T);
    return rc;
  }
  fast_pay(s, v, lam, &f, sxa, gk, pays);
  free(pays);
  if (direct) {
    tlv_concretize(s, T, xl, xh, nin);
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

/* f32-any: E[o] = gamma_k sum |W| max|x| / div + k eta/2 (1 + gamma_k), rounded up; paid as
 * const -= |lam| . E */
static tl_code back_aff_err(tlv_cstate *s, const tl_aff *a, const double *lam) {
  const double *xl = s->b->lo[a->x], *xh = s->b->hi[a->x];
  double *E = malloc((size_t)(a->nout ? a->nout : 1) * sizeof *E);
  if (!E)
    return tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  rnd_up();
  for (int64_t o = 0; o < a->nout; o++) {
    double sm = a->bias ? fabs(a->bias[o]) : 0, dv = a->div ? (double)a->div[o] : 1;
    for (int64_t t = a->rp[o]; t < a->rp[o + 1]; t++)
      sm += fabs(a->w[t]) * fmax(fabs(xl[a->col[t]]), fabs(xh[a->col[t]]));
    double gk = tlv_gamma_up(a->nround[o]);
    E[o] = gk * sm / dv + (double)a->nround[o] * (TLV_ETA / 2) * (1 + gk);
  }
  tl_code rc = tlv_pay_err(s, lam, E, a->nout);
  free(E);
  return rc;
}

/* the sparse (CSR) rule: per coefficient, the products rounded down and up */
static tl_code back_aff_view(tlv_cstate *s, int v, const double *lam) {
  tl_aff a;
  TL_TRY(tlv_aff_build(s->g, v, &a, s->st));
  double *plo, *phi;
  tl_code rc = tlv_coef_get(s, a.x, &plo, &phi);
  if (rc == TL_OK && s->b->sem == TL_SEM_F32_ANY)
    rc = back_aff_err(s, &a, lam);
  for (int k = 0; rc == TL_OK && k < s->m; k++) {
    for (int64_t o = 0; o < a.nout; o++) {
      double l = lam[(size_t)k * a.nout + o];
      if (l == 0)
        continue;
      double dv = a.div ? (double)a.div[o] : 1;
      size_t base = (size_t)k * a.nin;
      rnd_down();
      TLV_OPAQUE(l);
      TLV_OPAQUE(dv);
      for (int64_t t = a.rp[o]; t < a.rp[o + 1]; t++)
        plo[base + a.col[t]] = plo[base + a.col[t]] + l * a.w[t] / dv;
      if (a.bias)
        s->cst[k] = s->cst[k] + l * a.bias[o] / dv;
      rnd_up();
      TLV_OPAQUE(l);
      TLV_OPAQUE(dv); /* l * a.w[t] / dv was just computed rounded down */
      for (int64_t t = a.rp[o]; t < a.rp[o + 1]; t++)
        phi[base + a.col[t]] = phi[base + a.col[t]] + l * a.w[t] / dv;
    }
  }
  tlv_aff_free(&a);
  return rc;
}

tl_code tlv_back_affine(tlv_cstate *s, int v, const double *lam, int *done) {
  if (!tlv_is_affine(s->g, v))
    return TL_OK; /* a variable weight: concretise */
  *done = 1;
  if (tlv_fast_kind(s->pl, v) != TLV_FAST_NONE)
    return back_affine_fast(s, v, lam);
  return back_aff_view(s, v, lam);
}

/* ---- exact: y = (W x + b) / div in rational intervals --------------------------------------------- */
tl_code tlv_exact_affine(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x;
  qbox *y = &v[id], *p = &v[g->nodes[id].parents[0]];
  tl_aff a;
  if (!tlv_is_affine(g, id))
    return tl_fail(st, TL_EUNSUPPORTED, "exact: node %d: weights must be parameters", id);
  TL_TRY(tlv_aff_build(g, id, &a, st));
  mpq_t t, u;
  mpq_init(t), mpq_init(u);
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
  mpq_clear(t), mpq_clear(u);
  tlv_aff_free(&a);
  return TL_OK;
}

/* ---- fixed point: exact sums of products as integers (exact.c's fast path) ------------------------ */
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

/* node id's weights: linear read densely from the graph, other affine ops through the CSR view */
typedef struct fx_aff {
  tl_aff a;
  int dense;
  const float *W, *B;
  int64_t rows, out, in, nout;
  const fxv *p;
} fx_aff;

static tl_code fx_aff_setup(xst *X, int id, fx_aff *F) {
  const tl_graph *g = X->g;
  const tl_node *n = &g->nodes[id];
  memset(F, 0, sizeof *F);
  F->dense = n->op == TL_OP_LINEAR;
  F->p = &X->f[n->parents[0]];
  if (F->dense) {
    const tl_node *wn = &g->nodes[n->parents[1]];
    F->out = wn->shape[0], F->in = wn->shape[1],
    F->rows = g->nodes[n->parents[0]].numel / (F->in ? F->in : 1);
    F->W = g->weights + wn->woff;
    F->B = n->nparents == 3 ? g->weights + g->nodes[n->parents[2]].woff : NULL;
    F->nout = F->rows * F->out;
  } else {
    TL_TRY(tlv_aff_build(g, id, &F->a, X->st));
    F->p = &X->f[F->a.x];
    F->nout = F->a.nout;
  }
  return TL_OK;
}

/* emin <= 0: the smallest exponent of a weight (and of a bias relative to the parent's scale);
 * smax: the largest weight exponent */
static tl_code fx_aff_scale(xst *X, int id, const fx_aff *F, long *emin, long *smax) {
  const tl_aff *a = &F->a;
  int64_t nw = F->dense ? F->out * F->in : a->rp[a->nout];
  int64_t nbias = F->dense ? (F->B ? F->out : 0) : (a->bias ? a->nout : 0);
  for (int64_t k = 0; k < nw; k++) {
    double w = F->dense ? (double)F->W[k] : a->w[k];
    int64_t m;
    long e;
    if (!isfinite(w))
      return tl_fail(X->st, TL_EDOMAIN, "exact: node %d: a weight is not finite", id);
    dsplit(w, &m, &e);
    if (m && e < *emin)
      *emin = e;
    if (m && e > *smax)
      *smax = e;
  }
  for (int64_t o = 0; o < nbias; o++) {
    double bv = F->dense ? (double)F->B[o] : a->bias[o];
    int64_t mb;
    long eb;
    if (!isfinite(bv))
      return tl_fail(X->st, TL_EDOMAIN, "exact: node %d: a bias is not finite", id);
    dsplit(bv, &mb, &eb);
    if (mb && eb + F->p->s < *emin)
      *emin = eb + F->p->s;
  }
  return TL_OK;
}

/* r = output yo at scale s - emin: the bands of acc (nb of them) summed, plus the bias */
static void fx_aff_row(const fx_aff *F, int64_t yo, long emin, mpz_t *acc, int nb, mpz_ptr t, mpz_ptr r) {
  const fxv *p = F->p;
  for (int b = 0; b < nb; b++)
    mpz_set_ui(acc[b], 0);
  double bias = 0;
  if (F->dense) {
    int64_t row = yo / (F->out ? F->out : 1), o = yo % (F->out ? F->out : 1);
    const float *wr = F->W + o * F->in;
    mpz_t *xr = p->v + row * F->in;
    for (int64_t i = 0; i < F->in; i++)
      fx_term(acc, t, (double)wr[i], emin, xr[i]);
    bias = F->B ? (double)F->B[o] : 0;
  } else {
    for (int64_t k = F->a.rp[yo]; k < F->a.rp[yo + 1]; k++)
      fx_term(acc, t, F->a.w[k], emin, p->v[F->a.col[k]]);
    bias = F->a.bias ? F->a.bias[yo] : 0;
  }
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

/* divisors (average pools): one common denominator, their lcm */
static void fx_aff_div(const tl_aff *a, fxv *y, mpz_ptr t) {
  mpz_t L;
  mpz_init_set_ui(L, 1);
  for (int64_t o = 0; o < a->nout; o++)
    mpz_lcm_ui(L, L, (unsigned long)a->div[o]);
  for (int64_t o = 0; o < a->nout; o++) {
    mpz_divexact_ui(t, L, (unsigned long)a->div[o]);
    mpz_mul(y->v[o], y->v[o], t);
  }
  mpz_mul(y->den, y->den, L);
  mpz_clear(L);
}

/* affine node id from its fixed-point parent: result scale s - emin, so every term is an integer
 * multiple */
static tl_code fx_affine(xst *X, int id) {
  fx_aff F;
  TL_TRY(fx_aff_setup(X, id, &F));
  fxv *y = &X->f[id];
  tl_code rc = tlv_fxv_init(y, F.nout) ? TL_OK : tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  long emin = 0, smax = 0;
  if (rc == TL_OK)
    rc = fx_aff_scale(X, id, &F, &emin, &smax);
  int nb = (int)((smax - emin) / 32) + 1;
  mpz_t *acc = rc == TL_OK ? malloc((size_t)nb * sizeof *acc) : NULL;
  if (rc == TL_OK && !acc)
    rc = tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  if (rc == TL_OK) {
    mpz_t t;
    mpz_init(t);
    for (int b = 0; b < nb; b++)
      mpz_init(acc[b]);
    for (int64_t yo = 0; yo < F.nout; yo++)
      fx_aff_row(&F, yo, emin, acc, nb, t, y->v[yo]);
    mpz_set(y->den, F.p->den);
    y->s = F.p->s - emin;
    if (!F.dense && F.a.div)
      fx_aff_div(&F.a, y, t);
    for (int b = 0; b < nb; b++)
      mpz_clear(acc[b]);
    mpz_clear(t);
  }
  free(acc);
  if (!F.dense)
    tlv_aff_free(&F.a);
  return rc;
}

tl_code tlv_fx_affine(xst *X, int id, int *done) {
  const tl_node *n = &X->g->nodes[id];
  int ok0 = 0;
  if (!tlv_is_affine(X->g, id))
    return TL_OK;
  TL_TRY(tlv_need_fx(X, n->parents[0], &ok0));
  if (!ok0)
    return TL_OK;
  X->kind[id] = XK_FX;
  *done = 1;
  return fx_affine(X, id);
}
