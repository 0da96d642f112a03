/* k_pool.c - max pool, average pool, global average pool.
 *
 * f32-ref order (docs/semantics.md); FAST and REF kernels are this same code:
 *   max_pool2d  y = the IEEE 754-2019 maximum of the in-range taps (padding never wins): a NaN
 *               tap gives NaN, +0 beats -0; backward routes g to the first tap with that value
 *               in row-major (p, q) order.
 *   avg_pool2d  s = left fold over in-range taps in (p, q) order starting from the first tap
 *               (padding taps skipped: they are zeros), y = s / (float)(kH*kW).
 *   global_avg_pool  s = left fold over spatial positions in row-major order, y = s / (float)S.
 * Backward: max routes g to the first maximum (recomputed from x); avg spreads g/(kH kW). */
#include <math.h>

#include "backend.h"

typedef struct pgeom {
  int64_t N, C, H, W, Ho, Wo, kh, kw, s0, s1, p0, p1, d0, d1;
} pgeom;

static pgeom pgeo(const tl_kctx *k) {
  const tl_node *y = k->n, *x = &k->g->nodes[y->parents[0]];
  const tl_attrs *a = &y->attrs;
  pgeom c = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], y->shape[2], y->shape[3], a->kernel[0], a->kernel[1],
             a->stride[0], a->stride[1], a->padding[0], a->padding[1], a->dilation[0], a->dilation[1]};
  return c;
}

/* flat index (within the plane) of the first maximum of window (i, j), or -1 */
static int64_t argmax_at(const pgeom *c, const float *x, int64_t i, int64_t j) {
  int64_t best = -1;
  float m = 0;
  for (int64_t p = 0; p < c->kh; p++) {
    int64_t hi = i * c->s0 - c->p0 + p * c->d0;
    if (hi < 0 || hi >= c->H)
      continue;
    for (int64_t q = 0; q < c->kw; q++) {
      int64_t wi = j * c->s1 - c->p1 + q * c->d1;
      if (wi < 0 || wi >= c->W)
        continue;
      float v = x[hi * c->W + wi];
      if (best < 0 || (m == m && (v > m || v != v || (v == 0 && m == 0 && signbit(m) && !signbit(v)))))
        best = hi * c->W + wi, m = v;
    }
  }
  return best;
}

/* y[n,c,i,j] = max over window */
tl_code tl_k_maxpool_fwd(const tl_kctx *k) {
  pgeom c = pgeo(k);
  for (int64_t nc = 0; nc < c.N * c.C; nc++) {
    const float *x = k->in[0] + nc * c.H * c.W;
    float *y = k->out + nc * c.Ho * c.Wo;
    for (int64_t i = 0; i < c.Ho; i++)
      for (int64_t j = 0; j < c.Wo; j++) {
        int64_t a = argmax_at(&c, x, i, j);
        y[i * c.Wo + j] = a >= 0 ? x[a] : -INFINITY;
      }
  }
  return TL_OK;
}

/* gx[argmax] += g */
tl_code tl_k_maxpool_bwd(const tl_kctx *k) {
  pgeom c = pgeo(k);
  if (!k->gin[0])
    return TL_OK;
  for (int64_t nc = 0; nc < c.N * c.C; nc++) {
    const float *x = k->in[0] + nc * c.H * c.W, *g = k->gout + nc * c.Ho * c.Wo;
    float *gx = k->gin[0] + nc * c.H * c.W;
    for (int64_t i = 0; i < c.Ho; i++)
      for (int64_t j = 0; j < c.Wo; j++) {
        int64_t a = argmax_at(&c, x, i, j);
        if (a >= 0)
          gx[a] += g[i * c.Wo + j];
      }
  }
  return TL_OK;
}

/* y = (sum of in-range taps) / (kH kW) */
tl_code tl_k_avgpool_fwd(const tl_kctx *k) {
  pgeom c = pgeo(k);
  float div = (float)(c.kh * c.kw);
  for (int64_t nc = 0; nc < c.N * c.C; nc++) {
    const float *x = k->in[0] + nc * c.H * c.W;
    float *y = k->out + nc * c.Ho * c.Wo;
    for (int64_t i = 0; i < c.Ho; i++)
      for (int64_t j = 0; j < c.Wo; j++) {
        float s = 0.0f;
        int first = 1;
        for (int64_t p = 0; p < c.kh; p++) {
          int64_t hi = i * c.s0 - c.p0 + p * c.d0;
          if (hi < 0 || hi >= c.H)
            continue;
          for (int64_t q = 0; q < c.kw; q++) {
            int64_t wi = j * c.s1 - c.p1 + q * c.d1;
            if (wi < 0 || wi >= c.W)
              continue;
            s = first ? x[hi * c.W + wi] : s + x[hi * c.W + wi];
            first = 0;
          }
        }
        y[i * c.Wo + j] = s / div;
      }
  }
  return TL_OK;
}

/* gx[tap] += g / (kH kW) */
tl_code tl_k_avgpool_bwd(const tl_kctx *k) {
  pgeom c = pgeo(k);
  if (!k->gin[0])
    return TL_OK;
  float div = (float)(c.kh * c.kw);
  for (int64_t nc = 0; nc < c.N * c.C; nc++) {
    const float *g = k->gout + nc * c.Ho * c.Wo;
    float *gx = k->gin[0] + nc * c.H * c.W;
    for (int64_t i = 0; i < c.Ho; i++)
      for (int64_t j = 0; j < c.Wo; j++) {
        float v = g[i * c.Wo + j] / div;
        for (int64_t p = 0; p < c.kh; p++) {
          int64_t hi = i * c.s0 - c.p0 + p * c.d0;
          if (hi < 0 || hi >= c.H)
            continue;
          for (int64_t q = 0; q < c.kw; q++) {
            int64_t wi = j * c.s1 - c.p1 + q * c.d1;
            if (wi >= 0 && wi < c.W)
              gx[hi * c.W + wi] += v;
          }
        }
      }
  }
  return TL_OK;
}

/* y[n,c] = (sum over spatial) / S */
tl_code tl_k_gap_fwd(const tl_kctx *k) {
  int64_t NC = k->n->numel, S = NC ? k->g->nodes[k->n->parents[0]].numel / NC : 0;
  for (int64_t r = 0; r < NC; r++) {
    const float *x = k->in[0] + r * S;
    float s = S ? -0.0f : 0.0f;
    for (int64_t i = 0; i < S; i++)
      s = s + x[i];
    k->out[r] = s / (float)S;
  }
  return TL_OK;
}

/* gx += g / S */
tl_code tl_k_gap_bwd(const tl_kctx *k) {
  int64_t NC = k->n->numel, S = NC ? k->g->nodes[k->n->parents[0]].numel / NC : 0;
  if (!k->gin[0])
    return TL_OK;
  for (int64_t r = 0; r < NC; r++) {
    float v = k->gout[r] / (float)S;
    for (int64_t i = 0; i < S; i++)
      k->gin[0][r * S + i] += v;
  }
  return TL_OK;
}
