/* vfast.c - the verification plan (sample-independent data per graph) and the dense kernels of
 * the fast IBP / CROWN paths for linear and conv2d nodes.
 *
 * Soundness.  Every kernel here runs in FE_UPWARD on the calling thread (no BLAS, no helper
 * threads: MXCSR is per thread) and only produces UPPER bounds of exact sums, in any summation
 * order (monotonicity of upward rounding); lower bounds are derived by the callers from an upper
 * sum S and a rigorous bound of its rounding error, valid for any evaluation tree with n leaves in
 * binary64 with directed rounding (u = 2^-52 per operation, 2^-1074 absolute per underflowing
 * product):   |S - exact| <= gamma52_n * sum |terms| + n 2^-1074   (tlv_gamma52_up).
 * So the compiler may vectorise and reorder these loops freely (explicit 4-lane accumulators in
 * the dot products, auto-vectorised axpy loops elsewhere); the library is compiled with
 * -frounding-math so no constant is folded in round-to-nearest.
 * Weights are read as float32 straight from the graph (exact in binary64), so a plan holds only
 * index tables (conv im2col maps); it borrows the graph, which must outlive it unchanged. */
#include <stdlib.h>
#include <string.h>

#include "vinternal.h"

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
typedef long long v4l __attribute__((vector_size(32)));

double tlv_gamma52_up(int64_t n) {
  /* nu and 1 - nu are exact (nu a multiple of 2^-52 below 1); the quotient in any mode is within
   * one ulp, so one step up covers it (no mode switch) */
  double nu = (double)n * 0x1p-52;
  double gm = nu / (1.0 - nu);
  return nextafter(gm, INFINITY);
}

int tlv_fast_kind(const tl_verify_plan *p, int node) {
  if (!p || p->reference)
    return TLV_FAST_NONE;
  return p->kind[node];
}

void tl_verify_plan_free(tl_verify_plan *p) {
  if (!p)
    return;
  for (int i = 0; p->conv && i < p->nnodes; i++)
    if (p->conv[i]) {
      free(p->conv[i]->tab);
      free(p->conv[i]);
    }
  free(p->conv);
  free(p->kind);
  free(p->wonly);
  free(p->wfinite);
  free(p);
}

static tl_code conv_build(const tl_graph *g, int id, tlv_conv **out, tl_status *st) {
  const tl_node *n = &g->nodes[id];
  const tl_node *x = &g->nodes[n->parents[0]];
  tlv_conv *c = calloc(1, sizeof *c);
  if (!c)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory for a conv plan");
  c->N = x->shape[0], c->C = x->shape[1], c->H = x->shape[2], c->W = x->shape[3];
  c->O = n->shape[1], c->Ho = n->shape[2], c->Wo = n->shape[3];
  c->kh = n->attrs.kernel[0], c->kw = n->attrs.kernel[1];
  c->G = n->attrs.groups > 0 ? n->attrs.groups : 1;
  c->cpg = c->C / c->G, c->opg = c->O / c->G;
  c->K = c->cpg * c->kh * c->kw, c->P = c->Ho * c->Wo;
  c->bias = n->nparents == 3;
  c->tab = malloc((size_t)(c->K * c->P > 0 ? c->K * c->P : 1) * sizeof *c->tab);
  if (!c->tab) {
    free(c);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory for a conv plan");
  }
  for (int64_t ci = 0; ci < c->cpg; ci++)
    for (int64_t p = 0; p < c->kh; p++)
      for (int64_t q = 0; q < c->kw; q++) {
        int64_t k = (ci * c->kh + p) * c->kw + q;
        for (int64_t i = 0; i < c->Ho; i++)
          for (int64_t j = 0; j < c->Wo; j++) {
            int64_t hi = i * n->attrs.stride[0] - n->attrs.padding[0] + p * n->attrs.dilation[0];
            int64_t wi = j * n->attrs.stride[1] - n->attrs.padding[1] + q * n->attrs.dilation[1];
            int64_t v = hi < 0 || hi >= c->H || wi < 0 || wi >= c->W ? -1 : (ci * c->H + hi) * c->W + wi;
            c->tab[k * c->P + i * c->Wo + j] = v;
          }
      }
  *out = c;
  return TL_OK;
}

tl_code tl_verify_plan_new(tl_verify_plan **out, const tl_graph *g, tl_status *st) {
  *out = NULL;
  tl_verify_plan *p = calloc(1, sizeof *p);
  if (!p)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory for a plan");
  p->g = g, p->nnodes = g->nnodes;
  p->kind = calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *p->kind);
  p->conv = calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *p->conv);
  p->wonly = calloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
  p->wfinite = calloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
  if (!p->kind || !p->conv || !p->wonly || !p->wfinite) {
    tl_verify_plan_free(p);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory for a plan");
  }
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (!tlv_is_affine(g, i))
      continue;
    if (n->op == TL_OP_LINEAR) {
      p->kind[i] = TLV_FAST_LINEAR;
    } else if (n->op == TL_OP_CONV2D && n->ndim == 4 && g->nodes[n->parents[0]].ndim == 4) {
      tl_code rc = conv_build(g, i, &p->conv[i], st);
      if (rc != TL_OK) {
        tl_verify_plan_free(p);
        return rc;
      }
      p->kind[i] = TLV_FAST_CONV;
    }
  }
  /* parameters used only as weight / bias operands of fast nodes need no box */
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].op == TL_OP_PARAM) {
      p->wonly[i] = 1, p->wfinite[i] = 1;
      for (int64_t k = 0; k < g->nodes[i].numel; k++)
        if (!isfinite(g->weights[g->nodes[i].woff + k]))
          p->wfinite[i] = 0;
    }
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    for (int k = 0; k < n->nparents; k++)
      if (!(p->kind[i] != TLV_FAST_NONE && k >= 1))
        p->wonly[n->parents[k]] = 0;
  }
  for (int i = 0; i < g->noutputs; i++)
    p->wonly[g->outputs[i]] = 0;
  *out = p;
  return TL_OK;
}

int tlv_parent_finite(const tl_verify_plan *pl, const tl_bounds *b, const tl_graph *g, int p) {
  if (!b->lo[p])
    return pl ? pl->wfinite[p] : 0;
  return tlv_box_finite(b->lo[p], b->hi[p], g->nodes[p].numel);
}

void tl_verify_plan_set_reference(tl_verify_plan *p, int reference) {
  if (p)
    p->reference = reference != 0;
}

/* ---- kernels (FE_UPWARD) -------------------------------------------------------------------- */
/* macros, not functions: passing 32-byte vectors by value would change the ABI without AVX */
#define V4ABS(x)                                                                                             \
  ((v4d)((v4l)(x) &                                                                                          \
         (v4l){0x7fffffffffffffffLL, 0x7fffffffffffffffLL, 0x7fffffffffffffffLL, 0x7fffffffffffffffLL}))
#define LDW(dst, w)                                                                                          \
  do {                                                                                                       \
    v4f f_;                                                                                                  \
    memcpy(&f_, (w), sizeof f_);                                                                             \
    (dst) = __builtin_convertvector(f_, v4d);                                                                \
  } while (0)
#define LDD(dst, x) memcpy(&(dst), (x), sizeof(dst))
#define HSUM(out, a, b)                                                                                      \
  do {                                                                                                       \
    v4d s_ = (a) + (b);                                                                                      \
    (out) = (s_[0] + s_[1]) + (s_[2] + s_[3]);                                                               \
  } while (0)

/* S += sum w c, R += sum |w| r, M += sum |w| m (upward), n terms */
__attribute__((target_clones("avx2", "default"))) static void dot3(const float *w, const double *c,
                                                                   const double *r, const double *m,
                                                                   int64_t n, double *S, double *R,
                                                                   double *M) {
  v4d s0 = {0, 0, 0, 0}, s1 = s0, r0 = s0, r1 = s0, m0 = s0, m1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4d w0, w1, c0, c1, q0, q1, n0, n1;
    LDW(w0, w + i);
    LDW(w1, w + i + 4);
    LDD(c0, c + i), LDD(c1, c + i + 4), LDD(q0, r + i), LDD(q1, r + i + 4), LDD(n0, m + i),
        LDD(n1, m + i + 4);
    v4d a0 = V4ABS(w0), a1 = V4ABS(w1);
    s0 += w0 * c0, s1 += w1 * c1;
    r0 += a0 * q0, r1 += a1 * q1;
    m0 += a0 * n0, m1 += a1 * n1;
  }
  double s, rr, mm;
  HSUM(s, s0, s1);
  HSUM(rr, r0, r1);
  HSUM(mm, m0, m1);
  for (; i < n; i++) {
    double wi = w[i], ai = fabs(wi);
    s += wi * c[i], rr += ai * r[i], mm += ai * m[i];
  }
  *S += s, *R += rr, *M += mm;
}

/* sum |w| x (upward), n terms */
__attribute__((target_clones("avx2", "default"))) static double dot1abs(const float *w, const double *x,
                                                                        int64_t n) {
  v4d s0 = {0, 0, 0, 0}, s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4d w0, w1, x0, x1;
    LDW(w0, w + i);
    LDW(w1, w + i + 4);
    LDD(x0, x + i), LDD(x1, x + i + 4);
    s0 += V4ABS(w0) * x0;
    s1 += V4ABS(w1) * x1;
  }
  double s;
  HSUM(s, s0, s1);
  for (; i < n; i++)
    s += fabs((double)w[i]) * x[i];
  return s;
}

/* t[0..n) += l * w[0..n) (upward) */
__attribute__((target_clones("avx2", "default"))) static void axpyf(double *t, double l, const float *w,
                                                                    int64_t n) {
  for (int64_t i = 0; i < n; i++)
    t[i] += l * (double)w[i];
}

/* S += w c, R += |w| r, M += |w| m over n (upward) */
__attribute__((target_clones("avx2", "default"))) static void axpy3(double *S, double *R, double *M, double w,
                                                                    const double *c, const double *r,
                                                                    const double *m, int64_t n) {
  double a = fabs(w);
  for (int64_t i = 0; i < n; i++) {
    S[i] += w * c[i];
    R[i] += a * r[i];
    M[i] += a * m[i];
  }
}

__attribute__((target_clones("avx2", "default"))) static void axpyd(double *t, double l, const double *x,
                                                                    int64_t n) {
  for (int64_t i = 0; i < n; i++)
    t[i] += l * x[i];
}

static const float *wptr(const tl_graph *g, int id, int k) {
  const tl_node *n = &g->nodes[id];
  return k < n->nparents ? g->weights + g->nodes[n->parents[k]].woff : NULL;
}

/* ---- IBP of a linear / conv node (called in any mode; leaves FE_UPWARD or FE_DOWNWARD) -------- */
/* The upper sums of a linear node in the current mode (FE_UPWARD): S = W c + b, R = |W| r,
 * M = |W| m + |b| per output */
static void ibp_linear_sums(const tl_graph *g, int id, const float *W, const float *B, const double *c,
                            const double *r, const double *m, double *S, double *R, double *M) {
  const tl_node *n = &g->nodes[id];
  int64_t out = g->nodes[n->parents[1]].shape[0], in = g->nodes[n->parents[1]].shape[1];
  int64_t rows = n->numel / (out ? out : 1);
  for (int64_t rw = 0; rw < rows; rw++)
    for (int64_t o = 0; o < out; o++) {
      int64_t yo = rw * out + o;
      double bv = B ? (double)B[o] : 0.0;
      S[yo] = bv, R[yo] = 0, M[yo] = fabs(bv);
      dot3(W + o * in, c + rw * in, r + rw * in, m + rw * in, in, &S[yo], &R[yo], &M[yo]);
    }
}

/* the same for a conv node, through im2col columns of c, r, m per (batch, group); 0: out of memory */
static int ibp_conv_sums(const tlv_conv *cv, const float *W, const float *B, const double *c, const double *r,
                         const double *m, double *S, double *R, double *M) {
  int64_t K = cv->K, P = cv->P;
  double *col = malloc((size_t)(3 * K * P + 1) * sizeof *col);
  if (!col)
    return 0;
  double *cc = col, *rc = cc + K * P, *mc = rc + K * P;
  for (int64_t b = 0; b < cv->N; b++)
    for (int64_t gi = 0; gi < cv->G; gi++) {
      int64_t base = (b * cv->C + gi * cv->cpg) * cv->H * cv->W;
      for (int64_t t = 0; t < K * P; t++) {
        int64_t ix = cv->tab[t];
        cc[t] = ix < 0 ? 0 : c[base + ix];
        rc[t] = ix < 0 ? 0 : r[base + ix];
        mc[t] = ix < 0 ? 0 : m[base + ix];
      }
      for (int64_t o = gi * cv->opg; o < (gi + 1) * cv->opg; o++) {
        int64_t yo = (b * cv->O + o) * P;
        double bv = B ? (double)B[o] : 0.0;
        for (int64_t p = 0; p < P; p++)
          S[yo + p] = bv, R[yo + p] = 0, M[yo + p] = fabs(bv);
        for (int64_t k = 0; k < K; k++)
          axpy3(S + yo, R + yo, M + yo, (double)W[o * K + k], cc + k * P, rc + k * P, mc + k * P, P);
      }
    }
  free(col);
  return 1;
}

tl_code tlv_fast_ibp(const tl_verify_plan *pl, int id, const double *xl, const double *xh, tl_semantics sem,
                     double *lo, double *hi, tl_status *st) {
  const tl_graph *g = pl->g;
  const tl_node *n = &g->nodes[id];
  const tl_node *x = &g->nodes[n->parents[0]];
  int64_t nin = x->numel, nout = n->numel;
  const float *W = wptr(g, id, 1), *B = n->nparents == 3 ? wptr(g, id, 2) : NULL;
  int f32 = tlv_fast_ibp_f32(pl, id, xl, xh, sem, lo, hi);
  if (f32 != 0)
    return f32 > 0 ? TL_OK : tl_fail(st, TL_ENOMEM, "verify: out of memory");
  double *buf = malloc((size_t)(3 * nin + 3 * nout + 1) * sizeof *buf);
  if (!buf)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  double *c = buf, *r = c + nin, *m = r + nin, *S = m + nin, *R = S + nout, *M = R + nout;
  rnd_up();
  for (int64_t i = 0; i < nin; i++) {
    double ci = xl[i] + (xh[i] - xl[i]) * 0.5; /* any value; r makes [c - r, c + r] cover the box */
    if (!(ci >= xl[i] && ci <= xh[i]))
      ci = xl[i];
    c[i] = ci;
    r[i] = fmax(xh[i] - ci, ci - xl[i]);
    m[i] = fabs(ci) + r[i];
  }
  int64_t nterm;  /* leaves of every output sum, bias included (binary64 error bound) */
  int64_t kround; /* f32-any: roundings k of gamma_k (docs/certificates.md) */
  if (tlv_fast_kind(pl, id) == TLV_FAST_LINEAR) {
    int64_t in = g->nodes[n->parents[1]].shape[1];
    ibp_linear_sums(g, id, W, B, c, r, m, S, R, M);
    nterm = in + 1, kround = in + (B != NULL);
  } else {
    const tlv_conv *cv = pl->conv[id];
    if (!ibp_conv_sums(cv, W, B, c, r, m, S, R, M)) {
      free(buf);
      return tl_fail(st, TL_ENOMEM, "verify: out of memory");
    }
    nterm = cv->K + 1, kround = cv->K + (B != NULL);
  }
  double g52 = tlv_gamma52_up(nterm);
  double gk = sem == TL_SEM_F32_ANY ? tlv_gamma_up(kround) : 0;
  rnd_up();
  double und = (double)nterm * 0x1p-1074;
  double absterm = (double)kround * (TLV_ETA / 2) * (1 + gk);
  int overflow = 0;
  for (int64_t o = 0; o < nout; o++) {
    double e = 0;
    if (sem == TL_SEM_F32_ANY) {
      if (!((1 + gk) * M[o] + absterm <= FLT_MAX))
        overflow = 1;
      e = gk * M[o] + absterm;
    }
    hi[o] = S[o] + R[o] + e;
    R[o] = g52 * M[o] + und + R[o] + e; /* everything subtracted from the upper sum S */
  }
  rnd_down();
  for (int64_t o = 0; o < nout; o++)
    lo[o] = S[o] - R[o];
  if (sem == TL_SEM_F32_ANY) {
    for (int64_t o = 0; o < nout && !overflow; o++)
      if (!(fabs(lo[o]) <= FLT_MAX) || !(fabs(hi[o]) <= FLT_MAX))
        overflow = 1;
    if (overflow)
      for (int64_t o = 0; o < nout; o++)
        lo[o] = -INFINITY, hi[o] = INFINITY;
  }
  free(buf);
  return TL_OK;
}

/* v = |A| x (upward, no bias) for a nonnegative vector x over the parent; sets FE_UPWARD */
tl_code tlv_fast_absfwd(const tl_verify_plan *pl, int id, const double *x, double *v, tl_status *st) {
  const tl_graph *g = pl->g;
  const tl_node *n = &g->nodes[id];
  const float *W = wptr(g, id, 1);
  rnd_up();
  if (tlv_fast_kind(pl, id) == TLV_FAST_LINEAR) {
    int64_t out = g->nodes[n->parents[1]].shape[0], in = g->nodes[n->parents[1]].shape[1];
    int64_t rows = n->numel / (out ? out : 1);
    for (int64_t rw = 0; rw < rows; rw++)
      for (int64_t o = 0; o < out; o++)
        v[rw * out + o] = dot1abs(W + o * in, x + rw * in, in);
    return TL_OK;
  }
  const tlv_conv *cv = pl->conv[id];
  int64_t K = cv->K, P = cv->P;
  double *col = malloc((size_t)(K * P + 1) * sizeof *col);
  if (!col)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  for (int64_t b = 0; b < cv->N; b++)
    for (int64_t gi = 0; gi < cv->G; gi++) {
      int64_t base = (b * cv->C + gi * cv->cpg) * cv->H * cv->W;
      for (int64_t t = 0; t < K * P; t++)
        col[t] = cv->tab[t] < 0 ? 0 : x[base + cv->tab[t]];
      for (int64_t o = gi * cv->opg; o < (gi + 1) * cv->opg; o++) {
        double *y = v + (b * cv->O + o) * P;
        memset(y, 0, (size_t)P * sizeof *y);
        for (int64_t k = 0; k < K; k++)
          axpyd(y, fabs((double)W[o * K + k]), col + k * P, P);
      }
    }
  free(col);
  return TL_OK;
}

/* Leaves of each entry of lam * A (the fan-out of a parent element), for the gamma52 bound */
int64_t tlv_fast_backterms(const tl_verify_plan *pl, int id) {
  const tl_graph *g = pl->g;
  const tl_node *n = &g->nodes[id];
  if (tlv_fast_kind(pl, id) == TLV_FAST_LINEAR)
    return g->nodes[n->parents[1]].shape[0] + 1;
  const tlv_conv *cv = pl->conv[id];
  return cv->opg * cv->kh * cv->kw + 1;
}

/* T (m x nin, zeroed by the caller) += lam (m x nout) A, upward.  Sets FE_UPWARD. */
tl_code tlv_fast_back(const tl_verify_plan *pl, int id, int m, const double *lam, double *T, tl_status *st) {
  const tl_graph *g = pl->g;
  const tl_node *n = &g->nodes[id];
  const float *W = wptr(g, id, 1);
  int64_t nin = g->nodes[n->parents[0]].numel, nout = n->numel;
  rnd_up();
  if (tlv_fast_kind(pl, id) == TLV_FAST_LINEAR) {
    int64_t out = g->nodes[n->parents[1]].shape[0], in = g->nodes[n->parents[1]].shape[1];
    int64_t rows = nout / (out ? out : 1);
    for (int k = 0; k < m; k++)
      for (int64_t rw = 0; rw < rows; rw++)
        for (int64_t o = 0; o < out; o++) {
          double l = lam[(size_t)k * nout + rw * out + o];
          if (l != 0)
            axpyf(T + (size_t)k * nin + rw * in, l, W + o * in, in);
        }
    return TL_OK;
  }
  const tlv_conv *cv = pl->conv[id];
  int64_t K = cv->K, P = cv->P;
  double *colg = malloc((size_t)(K * P + 1) * sizeof *colg);
  if (!colg)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  for (int k = 0; k < m; k++)
    for (int64_t b = 0; b < cv->N; b++)
      for (int64_t gi = 0; gi < cv->G; gi++) {
        int any = 0;
        for (int64_t o = gi * cv->opg; o < (gi + 1) * cv->opg; o++) {
          const double *lr = lam + (size_t)k * nout + (b * cv->O + o) * P;
          int nz = 0;
          for (int64_t p = 0; p < P && !nz; p++)
            nz = lr[p] != 0;
          if (!nz)
            continue;
          if (!any)
            memset(colg, 0, (size_t)(K * P) * sizeof *colg), any = 1;
          for (int64_t kk = 0; kk < K; kk++) {
            double w = W[o * K + kk];
            if (w != 0)
              axpyd(colg + kk * P, w, lr, P);
          }
        }
        if (!any)
          continue;
        double *t = T + (size_t)k * nin + (b * cv->C + gi * cv->cpg) * cv->H * cv->W;
        for (int64_t q = 0; q < K * P; q++)
          if (cv->tab[q] >= 0)
            t[cv->tab[q]] += colg[q];
      }
  free(colg);
  return TL_OK;
}

/* y = A x + b in the current rounding mode (no soundness claim: alpha-CROWN search only) */
void tlv_fast_point(const tl_verify_plan *pl, int id, const double *x, double *y) {
  const tl_graph *g = pl->g;
  const tl_node *n = &g->nodes[id];
  const float *W = wptr(g, id, 1), *B = n->nparents == 3 ? wptr(g, id, 2) : NULL;
  if (tlv_fast_kind(pl, id) == TLV_FAST_LINEAR) {
    int64_t out = g->nodes[n->parents[1]].shape[0], in = g->nodes[n->parents[1]].shape[1];
    int64_t rows = n->numel / (out ? out : 1);
    for (int64_t rw = 0; rw < rows; rw++)
      for (int64_t o = 0; o < out; o++) {
        double s = B ? B[o] : 0;
        for (int64_t i = 0; i < in; i++)
          s += (double)W[o * in + i] * x[rw * in + i];
        y[rw * out + o] = s;
      }
    return;
  }
  const tlv_conv *cv = pl->conv[id];
  int64_t K = cv->K, P = cv->P;
  for (int64_t b = 0; b < cv->N; b++)
    for (int64_t gi = 0; gi < cv->G; gi++) {
      int64_t base = (b * cv->C + gi * cv->cpg) * cv->H * cv->W;
      for (int64_t o = gi * cv->opg; o < (gi + 1) * cv->opg; o++)
        for (int64_t p = 0; p < P; p++) {
          double s = B ? B[o] : 0;
          for (int64_t k = 0; k < K; k++) {
            int64_t ix = cv->tab[k * P + p];
            if (ix >= 0)
              s += (double)W[o * K + k] * x[base + ix];
          }
          y[(b * cv->O + o) * P + p] = s;
        }
    }
}
