/* refexec.c - double-precision reference semantics of every op (see refexec.h). */
#include "refexec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double tl_dropout_uniform(uint64_t seed, uint64_t step, int id, int64_t i);

static int64_t prod(const int64_t *s, int a, int b) {
  int64_t p = 1;
  for (int i = a; i < b; i++)
    p *= s[i];
  return p;
}

/* flat index of parent p (shape ps, rank pr) for output multi-index idx (rank r), broadcasting */
static int64_t bidx(const int64_t *idx, int r, const int64_t *ps, int pr) {
  int64_t off = 0;
  for (int i = 0; i < pr; i++) {
    int64_t c = ps[i] == 1 ? 0 : idx[i + (r - pr)];
    off = off * ps[i] + c;
  }
  return off;
}

static void unflat(int64_t f, const int64_t *s, int r, int64_t *idx) {
  for (int i = r - 1; i >= 0; i--) {
    idx[i] = f % s[i];
    f /= s[i];
  }
}

static void softmax_d(const double *x, double *y, int64_t D, int64_t st, int lg) {
  double m = -INFINITY;
  for (int64_t i = 0; i < D; i++)
    m = fmax(m, x[i * st]);
  double s = 0;
  for (int64_t i = 0; i < D; i++)
    s += exp(x[i * st] - m);
  for (int64_t i = 0; i < D; i++)
    y[i * st] = lg ? x[i * st] - m - log(s) : exp(x[i * st] - m) / s;
}

int ref_node(const tl_graph *g, int id, int training, uint64_t seed, uint64_t step, double *const *in,
             double *out) {
  const tl_node *n = &g->nodes[id];
  const tl_attrs *a = &n->attrs;
  const tl_node *p0 = n->nparents > 0 ? &g->nodes[n->parents[0]] : NULL;
  const tl_node *p1 = n->nparents > 1 ? &g->nodes[n->parents[1]] : NULL;
  int64_t idx[16], N = n->numel;
  const double *x = n->nparents ? in[0] : NULL;
  switch (n->op) {
  case TL_OP_ADD:
  case TL_OP_SUB:
  case TL_OP_MUL:
  case TL_OP_DIV:
  case TL_OP_MAX:
  case TL_OP_MIN:
    for (int64_t i = 0; i < N; i++) {
      unflat(i, n->shape, n->ndim, idx);
      double u = in[0][bidx(idx, n->ndim, p0->shape, p0->ndim)],
             v = in[1][bidx(idx, n->ndim, p1->shape, p1->ndim)];
      out[i] = n->op == TL_OP_ADD   ? u + v
               : n->op == TL_OP_SUB ? u - v
               : n->op == TL_OP_MUL ? u * v
               : n->op == TL_OP_DIV ? u / v
               : n->op == TL_OP_MAX ? fmax(u, v)
                                    : fmin(u, v);
    }
    return 0;
  case TL_OP_NEG:
    for (int64_t i = 0; i < N; i++)
      out[i] = -x[i];
    return 0;
  case TL_OP_ABS:
    for (int64_t i = 0; i < N; i++)
      out[i] = fabs(x[i]);
    return 0;
  case TL_OP_SQRT:
    for (int64_t i = 0; i < N; i++)
      out[i] = sqrt(x[i]);
    return 0;
  case TL_OP_EXP:
    for (int64_t i = 0; i < N; i++)
      out[i] = exp(x[i]);
    return 0;
  case TL_OP_LOG:
    for (int64_t i = 0; i < N; i++)
      out[i] = log(x[i]);
    return 0;
  case TL_OP_RELU:
    for (int64_t i = 0; i < N; i++)
      out[i] = x[i] > 0 ? x[i] : 0;
    return 0;
  case TL_OP_LEAKY_RELU:
    for (int64_t i = 0; i < N; i++)
      out[i] = x[i] >= 0 ? x[i] : a->alpha * x[i];
    return 0;
  case TL_OP_SIGMOID:
    for (int64_t i = 0; i < N; i++)
      out[i] = 1 / (1 + exp(-x[i]));
    return 0;
  case TL_OP_TANH:
    for (int64_t i = 0; i < N; i++)
      out[i] = tanh(x[i]);
    return 0;
  case TL_OP_GELU:
    for (int64_t i = 0; i < N; i++)
      out[i] =
          0.5 * x[i] * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x[i] + 0.044715 * x[i] * x[i] * x[i])));
    return 0;
  case TL_OP_SILU:
    for (int64_t i = 0; i < N; i++)
      out[i] = x[i] / (1 + exp(-x[i]));
    return 0;
  case TL_OP_CLAMP:
    for (int64_t i = 0; i < N; i++)
      out[i] = fmin(fmax(x[i], a->lo), a->hi);
    return 0;
  case TL_OP_SOFTMAX:
  case TL_OP_LOG_SOFTMAX: {
    int64_t D = n->shape[a->axis], inner = prod(n->shape, (int)a->axis + 1, n->ndim), outer = N / (D * inner);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < inner; j++)
        softmax_d(x + o * D * inner + j, out + o * D * inner + j, D, inner, n->op == TL_OP_LOG_SOFTMAX);
    return 0;
  }
  case TL_OP_SUM:
  case TL_OP_MEAN: {
    int red[16] = {0};
    for (int i = 0; i < p0->ndim; i++)
      red[i] = a->nlist == 0;
    for (int i = 0; i < a->nlist; i++)
      red[a->list[i]] = 1;
    int64_t cnt = 1;
    for (int i = 0; i < p0->ndim; i++)
      if (red[i])
        cnt *= p0->shape[i];
    memset(out, 0, (size_t)N * sizeof *out);
    for (int64_t i = 0; i < p0->numel; i++) {
      unflat(i, p0->shape, p0->ndim, idx);
      int64_t o = 0;
      for (int d = 0; d < p0->ndim; d++)
        if (!red[d])
          o = o * p0->shape[d] + idx[d];
      out[o] += x[i];
    }
    if (n->op == TL_OP_MEAN)
      for (int64_t i = 0; i < N; i++)
        out[i] /= (double)cnt;
    return 0;
  }
  case TL_OP_RESHAPE:
  case TL_OP_FLATTEN: memcpy(out, x, (size_t)N * sizeof *out); return 0;
  case TL_OP_PERMUTE:
    for (int64_t i = 0; i < N; i++) {
      unflat(i, n->shape, n->ndim, idx);
      int64_t xi[16];
      for (int k = 0; k < n->ndim; k++)
        xi[a->list[k]] = idx[k];
      int64_t f = 0;
      for (int k = 0; k < n->ndim; k++)
        f = f * p0->shape[k] + xi[k];
      out[i] = x[f];
    }
    return 0;
  case TL_OP_CONCAT:
    for (int64_t i = 0; i < N; i++) {
      unflat(i, n->shape, n->ndim, idx);
      int p = 0;
      while (idx[a->axis] >= g->nodes[n->parents[p]].shape[a->axis])
        idx[a->axis] -= g->nodes[n->parents[p++]].shape[a->axis];
      const tl_node *pn = &g->nodes[n->parents[p]];
      int64_t f = 0;
      for (int k = 0; k < n->ndim; k++)
        f = f * pn->shape[k] + idx[k];
      out[i] = in[p][f];
    }
    return 0;
  case TL_OP_SLICE:
    for (int64_t i = 0; i < N; i++) {
      unflat(i, n->shape, n->ndim, idx);
      idx[a->axis] = a->start + idx[a->axis] * a->step;
      int64_t f = 0;
      for (int k = 0; k < n->ndim; k++)
        f = f * p0->shape[k] + idx[k];
      out[i] = x[f];
    }
    return 0;
  case TL_OP_LINEAR: {
    int64_t O = p1->shape[0], I = p1->shape[1], R = N / O;
    for (int64_t r = 0; r < R; r++)
      for (int64_t o = 0; o < O; o++) {
        double s = n->nparents > 2 ? in[2][o] : 0;
        for (int64_t i = 0; i < I; i++)
          s += x[r * I + i] * in[1][o * I + i];
        out[r * O + o] = s;
      }
    return 0;
  }
  case TL_OP_MATMUL: {
    int r = n->ndim;
    int64_t M = n->shape[r - 2], K = p0->shape[p0->ndim - 1], Nc = n->shape[r - 1];
    for (int64_t i = 0; i < N; i++) {
      unflat(i, n->shape, r, idx);
      int64_t ii = idx[r - 2], kk = idx[r - 1];
      double s = 0;
      for (int64_t j = 0; j < K; j++) {
        idx[r - 2] = ii, idx[r - 1] = j;
        int64_t fa = 0, fb = 0;
        for (int d = 0; d < p0->ndim; d++) {
          int64_t c =
              d >= p0->ndim - 2 ? idx[d + (r - p0->ndim)] : (p0->shape[d] == 1 ? 0 : idx[d + (r - p0->ndim)]);
          fa = fa * p0->shape[d] + c;
        }
        idx[r - 2] = j, idx[r - 1] = kk;
        for (int d = 0; d < p1->ndim; d++) {
          int64_t c =
              d >= p1->ndim - 2 ? idx[d + (r - p1->ndim)] : (p1->shape[d] == 1 ? 0 : idx[d + (r - p1->ndim)]);
          fb = fb * p1->shape[d] + c;
        }
        s += in[0][fa] * in[1][fb];
      }
      (void)M;
      (void)Nc;
      out[i] = s;
    }
    return 0;
  }
  case TL_OP_CONV2D: {
    int64_t C = p0->shape[1], H = p0->shape[2], W = p0->shape[3], O = n->shape[1], Ho = n->shape[2],
            Wo = n->shape[3];
    int64_t G = a->groups, Cg = C / G, Og = O / G, kh = p1->shape[2], kw = p1->shape[3];
    for (int64_t i = 0; i < N; i++) {
      unflat(i, n->shape, 4, idx);
      int64_t b = idx[0], o = idx[1], yi = idx[2], xj = idx[3], gg = o / Og;
      double s = n->nparents > 2 ? in[2][o] : 0;
      for (int64_t c = 0; c < Cg; c++)
        for (int64_t p = 0; p < kh; p++)
          for (int64_t q = 0; q < kw; q++) {
            int64_t hh = yi * a->stride[0] - a->padding[0] + p * a->dilation[0];
            int64_t ww = xj * a->stride[1] - a->padding[1] + q * a->dilation[1];
            if (hh < 0 || hh >= H || ww < 0 || ww >= W)
              continue;
            s += in[1][((o * Cg + c) * kh + p) * kw + q] * x[((b * C + gg * Cg + c) * H + hh) * W + ww];
          }
      out[i] = s;
    }
    (void)Ho;
    (void)Wo;
    return 0;
  }
  case TL_OP_MAX_POOL2D:
  case TL_OP_AVG_POOL2D: {
    int64_t H = p0->shape[2], W = p0->shape[3];
    for (int64_t i = 0; i < N; i++) {
      unflat(i, n->shape, 4, idx);
      double m = -INFINITY, s = 0;
      for (int64_t p = 0; p < a->kernel[0]; p++)
        for (int64_t q = 0; q < a->kernel[1]; q++) {
          int64_t hh = idx[2] * a->stride[0] - a->padding[0] + p * a->dilation[0];
          int64_t ww = idx[3] * a->stride[1] - a->padding[1] + q * a->dilation[1];
          if (hh < 0 || hh >= H || ww < 0 || ww >= W)
            continue;
          double v = x[((idx[0] * p0->shape[1] + idx[1]) * H + hh) * W + ww];
          m = fmax(m, v);
          s += v;
        }
      out[i] = n->op == TL_OP_MAX_POOL2D ? m : s / (double)(a->kernel[0] * a->kernel[1]);
    }
    return 0;
  }
  case TL_OP_GLOBAL_AVG_POOL: {
    int64_t S = p0->numel / N;
    for (int64_t r = 0; r < N; r++) {
      double s = 0;
      for (int64_t i = 0; i < S; i++)
        s += x[r * S + i];
      out[r] = s / (double)S;
    }
    return 0;
  }
  case TL_OP_BATCH_NORM: {
    int64_t Nb = p0->shape[0], C = p0->shape[1], S = p0->numel / (Nb * C);
    for (int64_t c = 0; c < C; c++) {
      double m = 0, v = 0;
      if (training) {
        for (int64_t b = 0; b < Nb; b++)
          for (int64_t s = 0; s < S; s++)
            m += x[(b * C + c) * S + s];
        m /= (double)(Nb * S);
        for (int64_t b = 0; b < Nb; b++)
          for (int64_t s = 0; s < S; s++)
            v += pow(x[(b * C + c) * S + s] - m, 2);
        v /= (double)(Nb * S);
      } else {
        m = in[3][c], v = in[4][c];
      }
      for (int64_t b = 0; b < Nb; b++)
        for (int64_t s = 0; s < S; s++) {
          int64_t at = (b * C + c) * S + s;
          out[at] = (x[at] - m) / sqrt(v + a->eps) * in[1][c] + in[2][c];
        }
    }
    return 0;
  }
  case TL_OP_LAYER_NORM: {
    int64_t D = n->shape[n->ndim - 1], R = N / D;
    for (int64_t r = 0; r < R; r++) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < D; i++)
        m += x[r * D + i];
      m /= (double)D;
      for (int64_t i = 0; i < D; i++)
        v += pow(x[r * D + i] - m, 2);
      v /= (double)D;
      for (int64_t i = 0; i < D; i++) {
        double y = (x[r * D + i] - m) / sqrt(v + a->eps);
        if (n->nparents > 1)
          y *= in[1][i];
        if (n->nparents > 2)
          y += in[2][i];
        out[r * D + i] = y;
      }
    }
    return 0;
  }
  case TL_OP_DROPOUT:
    for (int64_t i = 0; i < N; i++)
      out[i] = (!training || a->p == 0)
                   ? x[i]
                   : (tl_dropout_uniform(seed, step, id, i) >= a->p ? x[i] / (1 - a->p) : 0);
    return 0;
  case TL_OP_EMBEDDING: {
    int64_t D = p1->shape[1];
    for (int64_t r = 0; r < p0->numel; r++)
      for (int64_t d = 0; d < D; d++)
        out[r * D + d] = in[1][(int64_t)x[r] * D + d];
    return 0;
  }
  case TL_OP_ATTENTION: {
    int64_t Nb = p0->shape[0], L = p0->shape[1], E = p0->shape[2], H = a->heads, dh = E / H;
    double *qkv = malloc(sizeof(double) * (size_t)(Nb * L * 3 * E)),
           *O = calloc((size_t)(Nb * L * E), sizeof(double));
    double *sc = malloc(sizeof(double) * (size_t)L);
    for (int64_t r = 0; r < Nb * L; r++)
      for (int64_t c = 0; c < 3 * E; c++) {
        double s = in[2][c];
        for (int64_t i = 0; i < E; i++)
          s += x[r * E + i] * in[1][c * E + i];
        qkv[r * 3 * E + c] = s;
      }
    for (int64_t b = 0; b < Nb; b++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < L; i++) {
          double m = -INFINITY, z = 0;
          for (int64_t j = 0; j < L; j++) {
            double s = 0;
            for (int64_t d = 0; d < dh; d++)
              s += qkv[(b * L + i) * 3 * E + h * dh + d] * qkv[(b * L + j) * 3 * E + E + h * dh + d];
            sc[j] = (a->causal && j > i) ? -INFINITY : s / sqrt((double)dh);
            m = fmax(m, sc[j]);
          }
          for (int64_t j = 0; j < L; j++)
            z += (sc[j] = exp(sc[j] - m));
          for (int64_t j = 0; j < L; j++)
            for (int64_t d = 0; d < dh; d++)
              O[(b * L + i) * E + h * dh + d] += sc[j] / z * qkv[(b * L + j) * 3 * E + 2 * E + h * dh + d];
        }
    for (int64_t r = 0; r < Nb * L; r++)
      for (int64_t c = 0; c < E; c++) {
        double s = in[4][c];
        for (int64_t i = 0; i < E; i++)
          s += O[r * E + i] * in[3][c * E + i];
        out[r * E + c] = s;
      }
    free(qkv);
    free(O);
    free(sc);
    return 0;
  }
  case TL_OP_MSE_LOSS: {
    double s = 0;
    for (int64_t i = 0; i < p0->numel; i++)
      s += (in[0][i] - in[1][i]) * (in[0][i] - in[1][i]);
    out[0] = s / (double)p0->numel;
    return 0;
  }
  case TL_OP_CROSS_ENTROPY: {
    int64_t Nb = p0->shape[0], K = p0->shape[1];
    double *ls = malloc(sizeof(double) * (size_t)K), s = 0;
    for (int64_t r = 0; r < Nb; r++) {
      softmax_d(x + r * K, ls, K, 1, 1);
      for (int64_t k = 0; k < K; k++)
        s += in[1][r * K + k] * ls[k];
    }
    free(ls);
    out[0] = -s / (double)Nb;
    return 0;
  }
  default: return -1;
  }
}

double **ref_graph(const tl_graph *g, double *const *inputs, int override_param, const double *pvals,
                   int training, uint64_t seed, uint64_t step) {
  double **v = calloc((size_t)g->nnodes, sizeof *v);
  int nin = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    v[i] = malloc(sizeof(double) * (size_t)(n->numel ? n->numel : 1));
    if (n->op == TL_OP_INPUT) {
      memcpy(v[i], inputs[nin++], sizeof(double) * (size_t)n->numel);
    } else if (n->op == TL_OP_PARAM) {
      for (int64_t j = 0; j < n->numel; j++)
        v[i][j] = i == override_param ? pvals[j] : g->weights[n->woff + j];
    } else {
      double *in[8];
      for (int k = 0; k < n->nparents && k < 8; k++)
        in[k] = v[n->parents[k]];
      ref_node(g, i, training, seed, step, in, v[i]);
    }
  }
  return v;
}

void ref_free_vals(const tl_graph *g, double **vals) {
  for (int i = 0; i < g->nnodes; i++)
    free(vals[i]);
  free(vals);
}
