/* k_conv.c - 2-D convolution (stride, padding, dilation, groups).
 *
 * f32-ref order (TL_KERNELS_REF forward; docs/f32-ref-order.md):
 *   y[n,o,i,j] = (left fold over c in 0..C/G-1, then p in 0..kH-1, then q in 0..kW-1 of
 *                 W[o,c,p,q] * x[n, g*C/G + c, i*s0 - pad0 + p*d0, j*s1 - pad1 + q*d1]) + b[o]
 *   products rounded to float, no FMA, taps that fall into the zero padding are SKIPPED (not
 *   added as zero products), the fold starts from the first in-range product, an empty fold
 *   is +0, the bias is added last.
 * TL_KERNELS_FAST: im2col of a chunk of samples side by side + one sgemm per chunk and group, then
 * the bias (and a fused relu) while scattering into (N, O, H, W).
 * Backward: gW += gY col^T, gcol = W^T gY scattered back (col2im) into gx, gb += sums; REF per
 * sample and group, FAST per chunk of samples and group (as the forward). */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

typedef struct cgeom {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo, G, Cg, Og, s0, s1, p0, p1, d0, d1, K, P;
} cgeom;

static cgeom geom(const tl_kctx *k) {
  const tl_node *y = k->n, *x = &k->g->nodes[y->parents[0]], *w = &k->g->nodes[y->parents[1]];
  const tl_attrs *a = &y->attrs;
  cgeom c;
  c.N = x->shape[0], c.C = x->shape[1], c.H = x->shape[2], c.W = x->shape[3];
  c.O = w->shape[0], c.kh = w->shape[2], c.kw = w->shape[3];
  c.Ho = y->shape[2], c.Wo = y->shape[3];
  c.G = a->groups, c.Cg = c.C / c.G, c.Og = c.O / c.G;
  c.s0 = a->stride[0], c.s1 = a->stride[1], c.p0 = a->padding[0], c.p1 = a->padding[1];
  c.d0 = a->dilation[0], c.d1 = a->dilation[1];
  c.K = c.Cg * c.kh * c.kw, c.P = c.Ho * c.Wo;
  return c;
}

/* output columns j of row kernel tap q whose input column j*s - pad + q*d lies in [0, W) */
static void jrange(const cgeom *c, int64_t q, int64_t *lo, int64_t *hi) {
  int64_t off = q * c->d1 - c->p1; /* wi = j*s1 + off */
  int64_t a = off >= 0 ? 0 : (-off + c->s1 - 1) / c->s1;
  int64_t b = c->W - off <= 0 ? 0 : (c->W - off + c->s1 - 1) / c->s1;
  *lo = a < c->Wo ? a : c->Wo;
  *hi = b < c->Wo ? b : c->Wo;
  if (*hi < *lo)
    *hi = *lo;
}

/* col[(c*kh + p)*kw + q, i*Wo + j] = x[c, i*s - pad + p*d, j*s - pad + q*d] or 0 in the padding;
 * `ld` is the row stride of col (P for one sample, more when samples sit side by side). */
static void im2col(const cgeom *c, const float *x, float *col, int64_t ld) {
  for (int64_t ch = 0; ch < c->Cg; ch++)
    for (int64_t p = 0; p < c->kh; p++)
      for (int64_t q = 0; q < c->kw; q++) {
        float *row = col + ((ch * c->kh + p) * c->kw + q) * ld;
        int64_t lo, hi, off = q * c->d1 - c->p1;
        jrange(c, q, &lo, &hi);
        for (int64_t i = 0; i < c->Ho; i++) {
          int64_t h = i * c->s0 - c->p0 + p * c->d0;
          float *r = row + i * c->Wo;
          if (h < 0 || h >= c->H) {
            memset(r, 0, (size_t)c->Wo * sizeof *r);
            continue;
          }
          const float *xr = x + (ch * c->H + h) * c->W + off;
          for (int64_t j = 0; j < lo; j++)
            r[j] = 0.0f;
          if (c->s1 == 1)
            memcpy(r + lo, xr + lo, (size_t)(hi - lo) * sizeof *r);
          else
            for (int64_t j = lo; j < hi; j++)
              r[j] = xr[j * c->s1];
          for (int64_t j = hi; j < c->Wo; j++)
            r[j] = 0.0f;
        }
      }
}

/* gx[c, ...] += col entries (the transpose of im2col), same row stride convention */
static void col2im(const cgeom *c, const float *col, float *gx, int64_t ld) {
  for (int64_t ch = 0; ch < c->Cg; ch++)
    for (int64_t p = 0; p < c->kh; p++)
      for (int64_t q = 0; q < c->kw; q++) {
        const float *row = col + ((ch * c->kh + p) * c->kw + q) * ld;
        int64_t lo, hi, off = q * c->d1 - c->p1;
        jrange(c, q, &lo, &hi);
        for (int64_t i = 0; i < c->Ho; i++) {
          int64_t h = i * c->s0 - c->p0 + p * c->d0;
          if (h < 0 || h >= c->H)
            continue;
          float *xr = gx + (ch * c->H + h) * c->W + off;
          const float *r = row + i * c->Wo;
          for (int64_t j = lo; j < hi; j++)
            xr[j * c->s1] += r[j];
        }
      }
}

static void conv_ref(const tl_kctx *k, const cgeom *c) {
  const float *x = k->in[0], *W = k->in[1], *b = k->n->nparents > 2 ? k->in[2] : NULL;
  for (int64_t n = 0; n < c->N; n++)
    for (int64_t o = 0; o < c->O; o++) {
      int64_t g = o / c->Og;
      for (int64_t i = 0; i < c->Ho; i++)
        for (int64_t j = 0; j < c->Wo; j++) {
          float acc = 0.0f;
          int first = 1;
          for (int64_t ch = 0; ch < c->Cg; ch++)
            for (int64_t p = 0; p < c->kh; p++) {
              int64_t hi = i * c->s0 - c->p0 + p * c->d0;
              if (hi < 0 || hi >= c->H)
                continue;
              for (int64_t q = 0; q < c->kw; q++) {
                int64_t wi = j * c->s1 - c->p1 + q * c->d1;
                if (wi < 0 || wi >= c->W)
                  continue;
                float prod = W[((o * c->Cg + ch) * c->kh + p) * c->kw + q] *
                             x[((n * c->C + g * c->Cg + ch) * c->H + hi) * c->W + wi];
                acc = first ? prod : acc + prod;
                first = 0;
              }
            }
          if (b)
            acc = acc + b[o];
          k->out[((n * c->O + o) * c->Ho + i) * c->Wo + j] = acc;
        }
    }
}

/* FAST kernels put the columns of several samples side by side, (K, nb*P), so that one GEMM per
 * group covers nb samples (bigger GEMMs, BLAS threads); nb keeps the column matrix under this
 * many floats (at least one sample). */
#ifndef TL_CONV_COL_FLOATS
#define TL_CONV_COL_FLOATS ((int64_t)1 << 22)
#endif

static int64_t chunk_samples(const cgeom *c) {
  int64_t per = c->K * c->P > 0 ? c->K * c->P : 1, nb = TL_CONV_COL_FLOATS / per;
  return nb < 1 ? 1 : (nb > c->N ? c->N : nb);
}

/* FAST forward: per chunk of nb samples and group g, Yg (Og x nb*P) = Wg (Og x K) col (K x nb*P),
 * then y[n, g*Og + o, :] = Yg[o, s*P : (s+1)*P] + b (then relu when fused) */
static tl_code conv_fwd_fast(const tl_kctx *k, const cgeom *c) {
  const float *x = k->in[0], *b = k->n->nparents > 2 ? k->in[2] : NULL;
  int64_t nb = chunk_samples(c), L = nb * c->P;
  float *col = tl_ws_get(k->ws, (size_t)((c->K + c->Og) * L));
  if (!col)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory for conv2d workspace");
  float *tmp = col + c->K * L;
  for (int64_t n0 = 0; n0 < c->N; n0 += nb) {
    int64_t m = c->N - n0 < nb ? c->N - n0 : nb, ld = m * c->P;
    for (int64_t g = 0; g < c->G; g++) {
      for (int64_t s = 0; s < m; s++)
        im2col(c, x + ((n0 + s) * c->C + g * c->Cg) * c->H * c->W, col + s * c->P, ld);
      k->be->sgemm(0, 0, (int)c->Og, (int)ld, (int)c->K, 1.0f, k->in[1] + g * c->Og * c->K, (int)c->K, col, (int)ld,
                   0.0f, tmp, (int)ld);
      for (int64_t s = 0; s < m; s++)
        for (int64_t o = 0; o < c->Og; o++) {
          const float *t = tmp + o * ld + s * c->P;
          float *y = k->out + ((n0 + s) * c->O + g * c->Og + o) * c->P, bo = b ? b[g * c->Og + o] : 0.0f;
          if (b && k->fuse_relu)
            for (int64_t p = 0; p < c->P; p++) {
              float v = t[p] + bo;
              y[p] = (v > 0.0f || v != v) ? v : 0.0f;
            }
          else if (b)
            for (int64_t p = 0; p < c->P; p++)
              y[p] = t[p] + bo;
          else if (k->fuse_relu)
            for (int64_t p = 0; p < c->P; p++)
              y[p] = (t[p] > 0.0f || t[p] != t[p]) ? t[p] : 0.0f;
          else
            memcpy(y, t, (size_t)c->P * sizeof *y);
        }
    }
  }
  return TL_OK;
}

/* FAST backward of the weights and input over chunks of nb samples:
 * gYg (Og x nb*P) gathered from gout; gWg += gYg col^T; gcol = Wg^T gYg, col2im into gx */
static tl_code conv_bwd_fast(const tl_kctx *k, const cgeom *c, float *gx, float *gw) {
  int64_t nb = chunk_samples(c), L = nb * c->P;
  float *col = tl_ws_get(k->ws, (size_t)((2 * c->K + c->Og) * L));
  if (!col)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory for conv2d workspace");
  float *gcol = col + c->K * L, *gy = gcol + c->K * L;
  for (int64_t n0 = 0; n0 < c->N; n0 += nb) {
    int64_t m = c->N - n0 < nb ? c->N - n0 : nb, ld = m * c->P;
    for (int64_t g = 0; g < c->G; g++) {
      for (int64_t s = 0; s < m; s++)
        for (int64_t o = 0; o < c->Og; o++)
          memcpy(gy + o * ld + s * c->P, k->gout + ((n0 + s) * c->O + g * c->Og + o) * c->P,
                 (size_t)c->P * sizeof *gy);
      if (gw) {
        for (int64_t s = 0; s < m; s++)
          im2col(c, k->in[0] + ((n0 + s) * c->C + g * c->Cg) * c->H * c->W, col + s * c->P, ld);
        k->be->sgemm(0, 1, (int)c->Og, (int)c->K, (int)ld, 1.0f, gy, (int)ld, col, (int)ld, 1.0f,
                     gw + g * c->Og * c->K, (int)c->K);
      }
      if (gx) {
        k->be->sgemm(1, 0, (int)c->K, (int)ld, (int)c->Og, 1.0f, k->in[1] + g * c->Og * c->K, (int)c->K, gy, (int)ld,
                     0.0f, gcol, (int)ld);
        for (int64_t s = 0; s < m; s++)
          col2im(c, gcol + s * c->P, gx + ((n0 + s) * c->C + g * c->Cg) * c->H * c->W, ld);
      }
    }
  }
  return TL_OK;
}

tl_code tl_k_conv2d_fwd(const tl_kctx *k) {
  cgeom c = geom(k);
  if (k->kernels != TL_KERNELS_REF)
    return conv_fwd_fast(k, &c); /* bias and a fused relu included */
  conv_ref(k, &c);
  if (k->fuse_relu) {
    float *y = k->out;
    for (int64_t i = 0; i < k->n->numel; i++)
      y[i] = (y[i] > 0.0f || y[i] != y[i]) ? y[i] : 0.0f;
  }
  return TL_OK;
}

tl_code tl_k_conv2d_bwd(const tl_kctx *k) {
  cgeom c = geom(k);
  float *gx = k->gin[0], *gw = k->gin[1], *gb = k->n->nparents > 2 ? k->gin[2] : NULL;
  if (gb)
    for (int64_t n = 0; n < c.N; n++)
      for (int64_t o = 0; o < c.O; o++) {
        const float *g = k->gout + (n * c.O + o) * c.P;
        float s = 0.0f;
        for (int64_t p = 0; p < c.P; p++)
          s += g[p];
        gb[o] += s;
      }
  if (!gx && !gw)
    return TL_OK;
  if (k->kernels != TL_KERNELS_REF)
    return conv_bwd_fast(k, &c, gx, gw);
  float *col = tl_ws_get(k->ws, (size_t)(2 * c.K * c.P));
  if (!col)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory for conv2d workspace");
  float *gcol = col + c.K * c.P;
  for (int64_t n = 0; n < c.N; n++)
    for (int64_t g = 0; g < c.G; g++) {
      const float *gy = k->gout + (n * c.O + g * c.Og) * c.P;
      if (gw) { /* gW_g (Og x K) += gy (Og x P) col^T (P x K) */
        im2col(&c, k->in[0] + (n * c.C + g * c.Cg) * c.H * c.W, col, c.P);
        k->be->sgemm(0, 1, (int)c.Og, (int)c.K, (int)c.P, 1.0f, gy, (int)c.P, col, (int)c.P, 1.0f,
                     gw + g * c.Og * c.K, (int)c.K);
      }
      if (gx) { /* gcol (K x P) = W_g^T (K x Og) gy (Og x P); gx += col2im(gcol) */
        k->be->sgemm(1, 0, (int)c.K, (int)c.P, (int)c.Og, 1.0f, k->in[1] + g * c.Og * c.K, (int)c.K, gy, (int)c.P,
                     0.0f, gcol, (int)c.P);
        col2im(&c, gcol, gx + (n * c.C + g * c.Cg) * c.H * c.W, c.P);
      }
    }
  return TL_OK;
}
