/* ad/attention.c - forward-mode (JVP) and second-order (HVP) rules of multi-head self-attention.
 *
 * Parents x (N,L,E), W_in (3E,E), b_in (3E), W_out (E,E), b_out (E); per head h (dh = E/H),
 * scale c = 1/sqrt(dh), causal: j <= i only (masked weights exactly 0, so their tangents are 0):
 *   qkv = x W_in^T + b_in               dqkv = dx W_in^T + x dW_in^T + db_in
 *   s_ij = c q_i.k_j                    ds_ij = c (dq_i.k_j + q_i.dk_j)
 *   p_i = softmax_j(s_i)                dp_ij = p_ij (ds_ij - <p_i, ds_i>)
 *   o_i = sum_j p_ij v_j                do_i = sum_j dp_ij v_j + p_ij dv_j
 *   y = o W_out^T + b_out               dy = do W_out^T + o dW_out^T + db_out
 * The second-order term [d_x B(x, g)] dx (g = the output cotangent, held fixed) is the tangent of
 * the attention VJP (the structure of tl_k_attention_bwd) with every intermediate carried as a
 * dual number (v, dv) by hand:
 *   gW_out = g^T o          -> d = g^T do               gb_out = colsum g -> 0
 *   gO = g W_out            -> dgO = g dW_out
 *   gp_ij = gO_i.v_j        -> dgp_ij = dgO_i.v_j + gO_i.dv_j
 *   t_i = <p_i, gp_i>       -> dt_i = <dp_i, gp_i> + <p_i, dgp_i>
 *   gs_ij = c p_ij (gp_ij - t_i) -> dgs_ij = c (dp_ij (gp_ij - t_i) + p_ij (dgp_ij - dt_i))
 *   gq_i = sum_j gs_ij k_j  -> dgq_i = sum_j dgs_ij k_j + gs_ij dk_j
 *   gk_j = sum_i gs_ij q_i  -> dgk_j = sum_i dgs_ij q_i + gs_ij dq_i
 *   gv_j = sum_i p_ij gO_i  -> dgv_j = sum_i dp_ij gO_i + p_ij dgO_i
 *   gx = gqkv W_in          -> dgx = dgqkv W_in + gqkv dW_in
 *   gW_in = gqkv^T x        -> dgW_in = dgqkv^T x + gqkv^T dx
 *   gb_in = colsum gqkv     -> dgb_in = colsum dgqkv
 * Everything in double from the float parent values (the forward is recomputed, exact softmax
 * with the row maximum subtracted), rounded to float once when written. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ad/ad_rules.h"

typedef struct adat {
  int64_t N, L, E, H, dh, NL;
  int causal;
  double c;
  double *qkv, *dqkv; /* NL x 3E */
  double *P, *dP;     /* N x H x L x L */
  double *O, *dO;     /* NL x E */
} adat;

static tl_code nomem(const tl_kctx *k) {
  char w[96];
  return tl_fail(k->st, TL_ENOMEM, "%s: out of memory for attention tangents", tl_node_where(k, w, sizeof w));
}

static void adat_free(adat *a) { free(a->qkv); }

/* the forward in double with its tangent along d (5 parent tangents, zeros where none) */
static tl_code adat_forward(const tl_kctx *k, const float *const *d, adat *a) {
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  a->N = xn->shape[0], a->L = xn->shape[1], a->E = xn->shape[2], a->H = k->n->attrs.heads;
  a->dh = a->E / a->H, a->NL = a->N * a->L, a->causal = k->n->attrs.causal != 0;
  a->c = 1.0 / sqrt((double)a->dh);
  int64_t NL = a->NL, E = a->E, L = a->L, E3 = 3 * E;
  size_t nq = (size_t)(NL * E3), np = (size_t)(a->N * a->H * L * L), no = (size_t)(NL * E);
  a->qkv = calloc(2 * (nq + np + no) + 1, sizeof(double));
  if (!a->qkv)
    return nomem(k);
  a->dqkv = a->qkv + nq, a->P = a->dqkv + nq, a->dP = a->P + np, a->O = a->dP + np, a->dO = a->O + no;
  const float *x = k->in[0], *win = k->in[1], *bin = k->in[2];
  const float *dx = d[0], *dwin = d[1], *dbin = d[2];
  double *wt = malloc(sizeof(double) * (size_t)(2 * E3 * E + 1)), *dwt = wt + E3 * E;
  if (!wt) {
    free(a->qkv);
    return nomem(k);
  }
  for (int64_t c = 0; c < E3; c++) /* W_in^T in double: the loops below run along rows (vectorised) */
    for (int64_t i = 0; i < E; i++)
      wt[i * E3 + c] = win[c * E + i], dwt[i * E3 + c] = dwin[c * E + i];
  for (int64_t r = 0; r < NL; r++) {
    double *q = a->qkv + r * E3, *dq = a->dqkv + r * E3;
    for (int64_t c = 0; c < E3; c++)
      q[c] = bin[c], dq[c] = dbin[c];
    for (int64_t i = 0; i < E; i++) {
      double xi = x[r * E + i], dxi = dx[r * E + i];
      const double *w = wt + i * E3, *dw = dwt + i * E3;
      for (int64_t c = 0; c < E3; c++)
        q[c] += xi * w[c], dq[c] += dxi * w[c] + xi * dw[c];
    }
  }
  free(wt);
  int64_t dh = a->dh;
  for (int64_t n = 0; n < a->N; n++)
    for (int64_t h = 0; h < a->H; h++) {
      double *P = a->P + (n * a->H + h) * L * L, *dP = a->dP + (n * a->H + h) * L * L;
      for (int64_t i = 0; i < L; i++) {
        const double *q = a->qkv + (n * L + i) * E3 + h * dh, *dq = a->dqkv + (n * L + i) * E3 + h * dh;
        int64_t jmax = a->causal ? i + 1 : L;
        double m = -INFINITY, z = 0, pds = 0;
        for (int64_t j = 0; j < jmax; j++) { /* scores into P, their tangents into dP */
          const double *kk = a->qkv + (n * L + j) * E3 + E + h * dh,
                       *dk = a->dqkv + (n * L + j) * E3 + E + h * dh;
          double s = 0, ds = 0;
          for (int64_t e = 0; e < dh; e++)
            s += q[e] * kk[e], ds += dq[e] * kk[e] + q[e] * dk[e];
          P[i * L + j] = a->c * s, dP[i * L + j] = a->c * ds;
          m = fmax(m, P[i * L + j]);
        }
        for (int64_t j = 0; j < jmax; j++)
          z += (P[i * L + j] = exp(P[i * L + j] - m));
        for (int64_t j = 0; j < jmax; j++)
          pds += (P[i * L + j] /= z) * dP[i * L + j];
        for (int64_t j = 0; j < jmax; j++) /* dp = p (ds - <p, ds>) */
          dP[i * L + j] = P[i * L + j] * (dP[i * L + j] - pds);
        double *o = a->O + (n * L + i) * E + h * dh, *dO = a->dO + (n * L + i) * E + h * dh;
        for (int64_t j = 0; j < jmax; j++) {
          const double *v = a->qkv + (n * L + j) * E3 + 2 * E + h * dh;
          const double *dv = a->dqkv + (n * L + j) * E3 + 2 * E + h * dh;
          double p = P[i * L + j], dp = dP[i * L + j];
          for (int64_t e = 0; e < dh; e++)
            o[e] += p * v[e], dO[e] += dp * v[e] + p * dv[e];
        }
      }
    }
  return TL_OK;
}

tl_code tl_ad_attention_tangent(const tl_adrule *r, const float *const *d, float *dy) {
  const tl_kctx *k = r->k;
  adat a;
  TL_TRY(adat_forward(k, d, &a));
  const float *wout = k->in[3], *dwout = d[3], *dbout = d[4];
  int64_t E = a.E;
  for (int64_t rr = 0; rr < a.NL; rr++)
    for (int64_t c = 0; c < E; c++) {
      double s = dbout[c];
      for (int64_t i = 0; i < E; i++)
        s += a.dO[rr * E + i] * wout[c * E + i] + a.O[rr * E + i] * dwout[c * E + i];
      dy[rr * E + c] = (float)s;
    }
  adat_free(&a);
  return TL_OK;
}

/* the VJP's intermediates and their tangents (one allocation, owned by the caller) */
typedef struct adsec {
  double *gO, *dgO; /* NL x E: output cotangent through W_out */
  double *gq, *dgq; /* NL x 3E: cotangents of q, k, v */
  double *gp, *dgp; /* L: one row of gp_ij */
  double *acc;      /* 3E x E accumulator */
} adsec;

/* d gW_out[c,i] = sum_r g[r,c] dO[r,i] */
static void second_wout(const tl_kctx *k, const adat *a, const adsec *b, float *dgw) {
  const float *g = k->gout;
  int64_t NL = a->NL, E = a->E;
  double *acc = b->acc;
  memset(acc, 0, sizeof(double) * (size_t)(E * E));
  for (int64_t rr = 0; rr < NL; rr++)
    for (int64_t c = 0; c < E; c++) {
      double gc = g[rr * E + c];
      for (int64_t i = 0; i < E; i++)
        acc[c * E + i] += gc * a->dO[rr * E + i];
    }
  for (int64_t j = 0; j < E * E; j++)
    dgw[j] += (float)acc[j];
}

/* gO = g W_out, dgO = g dW_out */
static void second_gO(const tl_kctx *k, const float *dwout, const adat *a, const adsec *b) {
  const float *g = k->gout, *wout = k->in[3];
  int64_t NL = a->NL, E = a->E;
  double *gO = b->gO, *dgO = b->dgO;
  for (int64_t rr = 0; rr < NL; rr++)
    for (int64_t i = 0; i < E; i++) {
      double s = 0, ds = 0;
      for (int64_t c = 0; c < E; c++)
        s += (double)g[rr * E + c] * wout[c * E + i], ds += (double)g[rr * E + c] * dwout[c * E + i];
      gO[rr * E + i] = s, dgO[rr * E + i] = ds;
    }
}

/* per head: gp, t, gs and their tangents, accumulated into gq (gq, gk, gv) and dgq */
static void second_heads(const adat *a, const adsec *b) {
  int64_t E = a->E, E3 = 3 * E, L = a->L, dh = a->dh;
  const double *gO = b->gO, *dgO = b->dgO;
  double *gq = b->gq, *dgq = b->dgq, *gp = b->gp, *dgp = b->dgp;
  for (int64_t n = 0; n < a->N; n++)
    for (int64_t h = 0; h < a->H; h++) {
      const double *P = a->P + (n * a->H + h) * L * L, *dP = a->dP + (n * a->H + h) * L * L;
      for (int64_t i = 0; i < L; i++) {
        int64_t jmax = a->causal ? i + 1 : L, ri = (n * L + i) * E3 + h * dh;
        const double *go = gO + (n * L + i) * E + h * dh, *dgo = dgO + (n * L + i) * E + h * dh;
        double t = 0, dt = 0;
        for (int64_t j = 0; j < jmax; j++) {
          int64_t vj = (n * L + j) * E3 + 2 * E + h * dh;
          double s = 0, ds = 0, p = P[i * L + j], dp = dP[i * L + j];
          for (int64_t e = 0; e < dh; e++) {
            s += go[e] * a->qkv[vj + e];
            ds += dgo[e] * a->qkv[vj + e] + go[e] * a->dqkv[vj + e];
            gq[vj + e] += p * go[e];                /* gv_j */
            dgq[vj + e] += dp * go[e] + p * dgo[e]; /* dgv_j */
          }
          gp[j] = s, dgp[j] = ds;
          t += p * s, dt += dp * s + p * ds;
        }
        for (int64_t j = 0; j < jmax; j++) {
          double p = P[i * L + j], dp = dP[i * L + j];
          double gs = a->c * p * (gp[j] - t), dgs = a->c * (dp * (gp[j] - t) + p * (dgp[j] - dt));
          int64_t kj = (n * L + j) * E3 + E + h * dh;
          for (int64_t e = 0; e < dh; e++) {
            gq[ri + e] += gs * a->qkv[kj + e];
            dgq[ri + e] += dgs * a->qkv[kj + e] + gs * a->dqkv[kj + e];
            gq[kj + e] += gs * a->qkv[ri + e];
            dgq[kj + e] += dgs * a->qkv[ri + e] + gs * a->dqkv[ri + e];
          }
        }
      }
    }
}

/* dgx = dgqkv W_in + gqkv dW_in, dgW_in = dgqkv^T x + gqkv^T dx, dgb_in = colsum dgqkv */
static void second_in(const tl_kctx *k, const float *const *d, const adat *a, const adsec *b,
                      float *const *dgin) {
  const float *x = k->in[0], *win = k->in[1], *dx = d[0], *dwin = d[1];
  int64_t NL = a->NL, E = a->E, E3 = 3 * E;
  const double *gq = b->gq, *dgq = b->dgq;
  double *acc = b->acc;
  if (dgin[0]) /* dgx = dgqkv W_in + gqkv dW_in */
    for (int64_t rr = 0; rr < NL; rr++) {
      memset(acc, 0, sizeof(double) * (size_t)E);
      for (int64_t c = 0; c < E3; c++) {
        double a1 = dgq[rr * E3 + c], a2 = gq[rr * E3 + c];
        for (int64_t i = 0; i < E; i++)
          acc[i] += a1 * win[c * E + i] + a2 * dwin[c * E + i];
      }
      for (int64_t i = 0; i < E; i++)
        dgin[0][rr * E + i] += (float)acc[i];
    }
  if (dgin[1]) { /* dgW_in = dgqkv^T x + gqkv^T dx */
    memset(acc, 0, sizeof(double) * (size_t)(E3 * E));
    for (int64_t rr = 0; rr < NL; rr++)
      for (int64_t c = 0; c < E3; c++) {
        double a1 = dgq[rr * E3 + c], a2 = gq[rr * E3 + c];
        for (int64_t i = 0; i < E; i++)
          acc[c * E + i] += a1 * x[rr * E + i] + a2 * dx[rr * E + i];
      }
    for (int64_t j = 0; j < E3 * E; j++)
      dgin[1][j] += (float)acc[j];
  }
  if (dgin[2])
    for (int64_t c = 0; c < E3; c++) {
      double s = 0;
      for (int64_t rr = 0; rr < NL; rr++)
        s += dgq[rr * E3 + c];
      dgin[2][c] += (float)s;
    }
}

tl_code tl_ad_attention_second(const tl_adrule *r, const float *const *d, float *const *dgin) {
  const tl_kctx *k = r->k;
  adat a;
  TL_TRY(adat_forward(k, d, &a));
  int64_t NL = a.NL, E = a.E, E3 = 3 * E, L = a.L;
  size_t no = (size_t)(NL * E), nq = (size_t)(NL * E3);
  adsec b;
  b.gO = calloc(2 * no + 2 * nq + 2 * (size_t)L + (size_t)(E3 * E) + 1, sizeof(double));
  if (!b.gO) {
    adat_free(&a);
    return nomem(k);
  }
  b.dgO = b.gO + no, b.gq = b.dgO + no, b.dgq = b.gq + nq, b.gp = b.dgq + nq, b.dgp = b.gp + L,
  b.acc = b.dgp + L;
  if (dgin[3])
    second_wout(k, &a, &b, dgin[3]);
  if (dgin[0] || dgin[1] || dgin[2]) {
    second_gO(k, d[3], &a, &b);
    second_heads(&a, &b);
    second_in(k, d, &a, &b, dgin);
  }
  free(b.gO);
  adat_free(&a);
  return TL_OK;
}
