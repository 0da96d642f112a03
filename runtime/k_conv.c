/* k_conv.c - 2-D convolution (stride, padding, dilation, groups).
 *
 * f32-ref order (TL_KERNELS_REF forward; docs/f32-ref-order.md):
 *   y[n,o,i,j] = (left fold over c in 0..C/G-1, then p in 0..kH-1, then q in 0..kW-1 of
 *                 W[o,c,p,q] * x[n, g*C/G + c, i*s0 - pad0 + p*d0, j*s1 - pad1 + q*d1]) + b[o]
 *   products rounded to float, no FMA, taps that fall into the zero padding are SKIPPED (not
 *   added as zero products), the fold starts from the first in-range product, an empty fold
 *   is +0, the bias is added last.
 * TL_KERNELS_FAST: im2col + sgemm per sample and group, then the bias.
 * Backward (both sets): gW += gY col^T, gcol = W^T gY scattered back (col2im) into gx, gb += sums. */
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

/* col[(c*kh + p)*kw + q, i*Wo + j] = x[c, i*s - pad + p*d, j*s - pad + q*d] or 0 in the padding */
static void im2col(const cgeom *c, const float *x, float *col) {
  for (int64_t ch = 0; ch < c->Cg; ch++)
    for (int64_t p = 0; p < c->kh; p++)
      for (int64_t q = 0; q < c->kw; q++) {
        float *row = col + ((ch * c->kh + p) * c->kw + q) * c->P;
        for (int64_t i = 0; i < c->Ho; i++) {
          int64_t hi = i * c->s0 - c->p0 + p * c->d0;
          float *r = row + i * c->Wo;
          if (hi < 0 || hi >= c->H) {
            memset(r, 0, (size_t)c->Wo * sizeof *r);
            continue;
          }
          const float *xr = x + (ch * c->H + hi) * c->W;
          for (int64_t j = 0; j < c->Wo; j++) {
            int64_t wi = j * c->s1 - c->p1 + q * c->d1;
            r[j] = (wi >= 0 && wi < c->W) ? xr[wi] : 0.0f;
          }
        }
      }
}

/* gx[c, ...] += col entries (the transpose of im2col) */
static void col2im(const cgeom *c, const float *col, float *gx) {
  for (int64_t ch = 0; ch < c->Cg; ch++)
    for (int64_t p = 0; p < c->kh; p++)
      for (int64_t q = 0; q < c->kw; q++) {
        const float *row = col + ((ch * c->kh + p) * c->kw + q) * c->P;
        for (int64_t i = 0; i < c->Ho; i++) {
          int64_t hi = i * c->s0 - c->p0 + p * c->d0;
          if (hi < 0 || hi >= c->H)
            continue;
          float *xr = gx + (ch * c->H + hi) * c->W;
          for (int64_t j = 0; j < c->Wo; j++) {
            int64_t wi = j * c->s1 - c->p1 + q * c->d1;
            if (wi >= 0 && wi < c->W)
              xr[wi] += row[i * c->Wo + j];
          }
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

tl_code tl_k_conv2d_fwd(const tl_kctx *k) {
  cgeom c = geom(k);
  const float *b = k->n->nparents > 2 ? k->in[2] : NULL;
  if (k->kernels == TL_KERNELS_REF) {
    conv_ref(k, &c);
  } else {
    float *col = tl_ws_get(k->ws, (size_t)(c.K * c.P));
    if (!col)
      return tl_fail(k->st, TL_ENOMEM, "exec: out of memory for conv2d workspace");
    for (int64_t n = 0; n < c.N; n++)
      for (int64_t g = 0; g < c.G; g++) {
        im2col(&c, k->in[0] + (n * c.C + g * c.Cg) * c.H * c.W, col);
        float *y = k->out + (n * c.O + g * c.Og) * c.P;
        k->be->sgemm(0, 0, (int)c.Og, (int)c.P, (int)c.K, 1.0f, k->in[1] + g * c.Og * c.K, (int)c.K, col, (int)c.P,
                     0.0f, y, (int)c.P);
        if (b)
          for (int64_t o = 0; o < c.Og; o++)
            for (int64_t p = 0; p < c.P; p++)
              y[o * c.P + p] += b[g * c.Og + o];
      }
  }
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
  float *col = tl_ws_get(k->ws, (size_t)(2 * c.K * c.P));
  if (!col)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory for conv2d workspace");
  float *gcol = col + c.K * c.P;
  for (int64_t n = 0; n < c.N; n++)
    for (int64_t g = 0; g < c.G; g++) {
      const float *gy = k->gout + (n * c.O + g * c.Og) * c.P;
      if (gw) { /* gW_g (Og x K) += gy (Og x P) col^T (P x K) */
        im2col(&c, k->in[0] + (n * c.C + g * c.Cg) * c.H * c.W, col);
        k->be->sgemm(0, 1, (int)c.Og, (int)c.K, (int)c.P, 1.0f, gy, (int)c.P, col, (int)c.P, 1.0f,
                     gw + g * c.Og * c.K, (int)c.K);
      }
      if (gx) { /* gcol (K x P) = W_g^T (K x Og) gy (Og x P); gx += col2im(gcol) */
        k->be->sgemm(1, 0, (int)c.K, (int)c.P, (int)c.Og, 1.0f, k->in[1] + g * c.Og * c.K, (int)c.K, gy, (int)c.P,
                     0.0f, gcol, (int)c.P);
        col2im(&c, gcol, gx + (n * c.C + g * c.Cg) * c.H * c.W);
      }
    }
  return TL_OK;
}
