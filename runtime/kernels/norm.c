/* kernels/norm.c - batch norm (train and eval, running-stat update) and layer norm.
 *
 * f32-ref order (docs/semantics.md); FAST and REF kernels are this same code.  All float:
 *   layer_norm over the last axis (D elements x_0..x_{D-1}), e = (float)eps:
 *     mean = (left fold of x_i) / (float)D
 *     var  = (left fold of d_i*d_i, d_i = x_i - mean) / (float)D     (biased)
 *     r    = sqrtf(var + e)
 *     y_i  = ((d_i / r) * gamma_i) + beta_i       (gamma/beta steps omitted when absent)
 *   batch_norm, parents (x, gamma, beta, running_mean, running_var), channel axis 1:
 *     training: mean_c, var_c as above, folding over n then spatial positions in row-major
 *               order (count M = N*S); eval: mean_c = running_mean[c], var_c = running_var[c];
 *     y = ((x - mean_c) / r_c) * gamma_c + beta_c with r_c = sqrtf(var_c + e).
 *     Training also updates the running statistics in the weight store (when those parents are
 *     PARAM nodes): rm = (1-mom)*rm + mom*mean, rv = (1-mom)*rv + mom*var*M/(M-1) (unbiased),
 *     computed in float with mom = (float)momentum.
 * Backward recomputes the statistics from x (bit-identical to forward). */
#include <math.h>

#include "exec/backend.h"

/* statistics of channel c (training): mean and biased variance */
static void bn_stats(const float *x, int64_t N, int64_t C, int64_t S, int64_t c, float *mean, float *var) {
  int64_t M = N * S;
  float s = -0.0f;
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < S; i++)
      s = s + x[(n * C + c) * S + i];
  float m = s / (float)M;
  float v = -0.0f;
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < S; i++) {
      float d = x[(n * C + c) * S + i] - m;
      v = v + d * d;
    }
  *mean = m;
  *var = v / (float)M;
}

/* y = (x - mean_c) / sqrt(var_c + eps) gamma_c + beta_c */
tl_code tl_k_batchnorm_fwd(const tl_kctx *k) {
  const tl_node *y = k->n, *xn = &k->g->nodes[y->parents[0]];
  int64_t N = xn->shape[0], C = xn->shape[1], S = (N > 0 && C > 0) ? xn->numel / (N * C) : 0;
  const float *x = k->in[0], *gamma = k->in[1], *beta = k->in[2], *rm = k->in[3], *rv = k->in[4];
  float eps = (float)y->attrs.eps, mom = (float)y->attrs.momentum;
  const tl_node *rmn = &k->g->nodes[y->parents[3]], *rvn = &k->g->nodes[y->parents[4]];
  for (int64_t c = 0; c < C; c++) {
    float mean, var;
    if (k->training && N * S > 0) {
      bn_stats(x, N, C, S, c, &mean, &var);
      int64_t M = N * S;
      if (rmn->op == TL_OP_PARAM && rvn->op == TL_OP_PARAM && k->weights) {
        float *wm = k->weights + rmn->woff, *wv = k->weights + rvn->woff;
        float unb = M > 1 ? var * (float)M / (float)(M - 1) : var;
        wm[c] = (1.0f - mom) * wm[c] + mom * mean;
        wv[c] = (1.0f - mom) * wv[c] + mom * unb;
      }
    } else {
      mean = rm[c], var = rv[c];
    }
    float den = sqrtf(var + eps);
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < S; i++) {
        int64_t at = (n * C + c) * S + i;
        k->out[at] = ((x[at] - mean) / den) * gamma[c] + beta[c];
      }
  }
  return TL_OK;
}

/* training: gx = gamma inv / M (M g - sum g - xhat sum(g xhat)); eval: gx = g gamma inv,
 * g_rm = -sum g gamma inv, g_rv = -1/2 sum g gamma (x - rm) inv^3; ggamma += sum g xhat; gbeta += sum g */
tl_code tl_k_batchnorm_bwd(const tl_kctx *k) {
  const tl_node *y = k->n, *xn = &k->g->nodes[y->parents[0]];
  int64_t N = xn->shape[0], C = xn->shape[1], S = (N > 0 && C > 0) ? xn->numel / (N * C) : 0, M = N * S;
  const float *x = k->in[0], *gamma = k->in[1], *rm = k->in[3], *rv = k->in[4], *g = k->gout;
  float eps = (float)y->attrs.eps;
  for (int64_t c = 0; c < C; c++) {
    float mean, var;
    if (k->training && M > 0)
      bn_stats(x, N, C, S, c, &mean, &var);
    else
      mean = rm[c], var = rv[c];
    float inv = 1.0f / sqrtf(var + eps);
    double sg = 0, sgx = 0, sgd = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < S; i++) {
        int64_t at = (n * C + c) * S + i;
        float xh = (x[at] - mean) * inv;
        sg += g[at];
        sgx += (double)g[at] * xh;
        sgd += (double)g[at] * (x[at] - mean);
      }
    if (k->gin[1])
      k->gin[1][c] += (float)sgx;
    if (k->gin[2])
      k->gin[2][c] += (float)sg;
    if (k->training && M > 0) {
      if (k->gin[0]) {
        float f = gamma[c] * inv / (float)M;
        for (int64_t n = 0; n < N; n++)
          for (int64_t i = 0; i < S; i++) {
            int64_t at = (n * C + c) * S + i;
            float xh = (x[at] - mean) * inv;
            k->gin[0][at] += f * ((float)M * g[at] - (float)sg - xh * (float)sgx);
          }
      }
    } else {
      if (k->gin[0])
        for (int64_t n = 0; n < N; n++)
          for (int64_t i = 0; i < S; i++) {
            int64_t at = (n * C + c) * S + i;
            k->gin[0][at] += g[at] * gamma[c] * inv;
          }
      if (k->gin[3])
        k->gin[3][c] -= (float)(sg * gamma[c] * inv);
      if (k->gin[4])
        k->gin[4][c] -= (float)(0.5 * sgd * gamma[c] * (double)inv * inv * inv);
    }
  }
  return TL_OK;
}

/* mean and den = sqrtf(var + eps) of one row */
static void ln_row(const float *x, int64_t D, float eps, float *mean, float *den) {
  float s = -0.0f;
  for (int64_t i = 0; i < D; i++)
    s = s + x[i];
  float m = s / (float)D, v = -0.0f;
  for (int64_t i = 0; i < D; i++) {
    float d = x[i] - m;
    v = v + d * d;
  }
  *mean = m;
  *den = sqrtf(v / (float)D + eps);
}

/* y = (x - mean) inv gamma + beta over the last axis */
tl_code tl_k_layernorm_fwd(const tl_kctx *k) {
  const tl_node *y = k->n;
  int64_t D = y->shape[y->ndim - 1], R = D ? y->numel / D : 0;
  const float *gamma = y->nparents > 1 ? k->in[1] : NULL, *beta = y->nparents > 2 ? k->in[2] : NULL;
  float eps = (float)y->attrs.eps;
  for (int64_t r = 0; r < R; r++) {
    const float *x = k->in[0] + r * D;
    float *o = k->out + r * D, mean, den;
    ln_row(x, D, eps, &mean, &den);
    for (int64_t i = 0; i < D; i++) {
      float v = (x[i] - mean) / den;
      if (gamma)
        v = v * gamma[i];
      if (beta)
        v = v + beta[i];
      o[i] = v;
    }
  }
  return TL_OK;
}

/* gxhat = g gamma; gx = inv/D (D gxhat - sum gxhat - xhat sum(gxhat xhat)); ggamma += g xhat; gbeta += g */
tl_code tl_k_layernorm_bwd(const tl_kctx *k) {
  const tl_node *y = k->n;
  int64_t D = y->shape[y->ndim - 1], R = D ? y->numel / D : 0;
  const float *gamma = y->nparents > 1 ? k->in[1] : NULL;
  float *ggam = y->nparents > 1 ? k->gin[1] : NULL, *gbet = y->nparents > 2 ? k->gin[2] : NULL;
  float eps = (float)y->attrs.eps;
  for (int64_t r = 0; r < R; r++) {
    const float *x = k->in[0] + r * D, *g = k->gout + r * D;
    float mean, den;
    ln_row(x, D, eps, &mean, &den);
    float inv = 1.0f / den;
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < D; i++) {
      float xh = (x[i] - mean) * inv, gh = gamma ? g[i] * gamma[i] : g[i];
      s1 += gh;
      s2 += (double)gh * xh;
      if (ggam)
        ggam[i] += g[i] * xh;
      if (gbet)
        gbet[i] += g[i];
    }
    if (k->gin[0])
      for (int64_t i = 0; i < D; i++) {
        float xh = (x[i] - mean) * inv, gh = gamma ? g[i] * gamma[i] : g[i];
        k->gin[0][r * D + i] += inv / (float)D * ((float)D * gh - (float)s1 - xh * (float)s2);
      }
  }
  return TL_OK;
}
