/* kernels/pool.c - max pool, average pool, global average pool.
 *
 * f32-ref order (docs/semantics.md); FAST and REF kernels are this same code:
 *   max_pool2d  y = the IEEE 754-2019 maximum of the in-range taps (padding never wins): a NaN
 *               tap gives NaN, +0 beats -0; backward routes g to the first tap with that value
 *               in row-major (p, q) order.
 *   avg_pool2d  s = left fold over in-range taps in (p, q) order starting from the first tap
 *               (padding taps skipped: they are zeros), y = s / (float)(kH*kW).
 *   global_avg_pool  s = left fold over spatial positions in row-major order, y = s / (float)S.
 * Backward: max routes g to the first maximum (recomputed from x); avg spreads g/(kH kW).
 * TL_KERNELS_FAST adds one specialisation that picks the very same element (max is exact): 2x2
 * windows, stride 2, no padding or dilation (every window in range), unrolled, planes split into
 * tasks on the exec's thread pool (fixed split: the same bits on any thread count). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ad/ad_rules.h"
#include "exec/backend.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define TL_POOL_SSE2 1
#endif

typedef struct pgeom {
  int64_t N, C, H, W, Ho, Wo, kh, kw, s0, s1, p0, p1, d0, d1;
} pgeom;

static pgeom pgeo(const tl_kctx *k) {
  const tl_node *y = k->n, *x = &k->g->nodes[y->parents[0]];
  const tl_attrs *a = &y->attrs;
  pgeom c = {x->shape[0],   x->shape[1],   x->shape[2],    x->shape[3],   y->shape[2],
             y->shape[3],   a->kernel[0],  a->kernel[1],   a->stride[0],  a->stride[1],
             a->padding[0], a->padding[1], a->dilation[0], a->dilation[1]};
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

/* FAST path applies: 2x2, stride 2, dilation 1, no padding, every window inside the plane */
static int is_pool2x2(const tl_kctx *k, const pgeom *c) {
  return k->kernels == TL_KERNELS_FAST && c->kh == 2 && c->kw == 2 && c->s0 == 2 && c->s1 == 2 &&
         c->p0 == 0 && c->p1 == 0 && c->d0 == 1 && c->d1 == 1 && 2 * c->Ho <= c->H && 2 * c->Wo <= c->W;
}

/* the argmax_at rule on four taps in (p, q) order: index 0..3 of the first maximum (a NaN
 * sticks), and its value in *mv.  Branch-free: pooled data make comparisons unpredictable. */
static inline float select_f(int t, float a, float b) { /* t ? a : b through the bits, no branch */
  uint32_t ua, ub, mask = 0u - (uint32_t)t;
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  ua = (ua & mask) | (ub & ~mask);
  memcpy(&a, &ua, sizeof a);
  return a;
}

static inline int first_max4(float a, float b, float c, float d, float *mv) {
  int best = 0, t;
  float m = a;
  t = (m == m) & ((b > m) | (b != b));
  best += t * (1 - best), m = select_f(t, b, m);
  t = (m == m) & ((c > m) | (c != c));
  best += t * (2 - best), m = select_f(t, c, m);
  t = (m == m) & ((d > m) | (d != d));
  best += t * (3 - best), m = select_f(t, d, m);
  *mv = m;
  return best;
}

#ifdef TL_POOL_SSE2
/* first_max4 on four windows at once: a, b, c, d hold tap (p, q) = (0,0), (0,1), (1,0), (1,1) of
 * windows j..j+3.  t1..t3 are first_max4's "take b / c / d" masks, *m the maximum. */
typedef struct max4x4 {
  __m128 t1, t2, t3, m;
} max4x4;

static inline __m128 sel4(__m128 t, __m128 a, __m128 b) {
  return _mm_or_ps(_mm_and_ps(t, a), _mm_andnot_ps(t, b));
}

static inline max4x4 first_max4x4(const float *r0, const float *r1) {
  __m128 u0 = _mm_loadu_ps(r0), u1 = _mm_loadu_ps(r0 + 4), l0 = _mm_loadu_ps(r1), l1 = _mm_loadu_ps(r1 + 4);
  __m128 a = _mm_shuffle_ps(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)),
         b = _mm_shuffle_ps(u0, u1, _MM_SHUFFLE(3, 1, 3, 1));
  __m128 c = _mm_shuffle_ps(l0, l1, _MM_SHUFFLE(2, 0, 2, 0)),
         d = _mm_shuffle_ps(l0, l1, _MM_SHUFFLE(3, 1, 3, 1));
  max4x4 r;
  __m128 m = a;
  r.t1 = _mm_and_ps(_mm_cmpord_ps(m, m), _mm_or_ps(_mm_cmpgt_ps(b, m), _mm_cmpunord_ps(b, b)));
  m = sel4(r.t1, b, m);
  r.t2 = _mm_and_ps(_mm_cmpord_ps(m, m), _mm_or_ps(_mm_cmpgt_ps(c, m), _mm_cmpunord_ps(c, c)));
  m = sel4(r.t2, c, m);
  r.t3 = _mm_and_ps(_mm_cmpord_ps(m, m), _mm_or_ps(_mm_cmpgt_ps(d, m), _mm_cmpunord_ps(d, d)));
  r.m = sel4(r.t3, d, m);
  return r;
}

/* winner masks w0..w3 (exactly one set per window) of first_max4's index */
static inline void winners(const max4x4 *r, __m128 w[4]) {
  w[3] = r->t3;
  w[2] = _mm_andnot_ps(r->t3, r->t2);
  w[1] = _mm_andnot_ps(_mm_or_ps(r->t2, r->t3), r->t1);
  w[0] = _mm_andnot_ps(_mm_or_ps(r->t1, _mm_or_ps(r->t2, r->t3)), _mm_castsi128_ps(_mm_set1_epi32(-1)));
}
#endif

static void maxpool2x2_fwd(const pgeom *c, int64_t nplanes, const float *x, float *y) {
  for (int64_t nc = 0; nc < nplanes; nc++, x += c->H * c->W, y += c->Ho * c->Wo)
    for (int64_t i = 0; i < c->Ho; i++) {
      const float *r0 = x + 2 * i * c->W, *r1 = r0 + c->W;
      float *yr = y + i * c->Wo;
      int64_t j = 0;
#ifdef TL_POOL_SSE2
      for (; j + 4 <= c->Wo; j += 4)
        _mm_storeu_ps(yr + j, first_max4x4(r0 + 2 * j, r1 + 2 * j).m);
      if (c->Wo >= 4 && j < c->Wo) { /* tail: the last four windows again (writes are idempotent) */
        j = c->Wo - 4;
        _mm_storeu_ps(yr + j, first_max4x4(r0 + 2 * j, r1 + 2 * j).m);
        j = c->Wo;
      }
#endif
      for (; j < c->Wo; j++)
        (void)first_max4(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1], &yr[j]);
    }
}

/* gx = +0 + (g at the first max of the window, else +0): gx not zeroed before, windows do not
 * overlap and cover only the first 2 Ho x 2 Wo taps, so the rest of each plane is set to +0 */
static void maxpool2x2_bwd_assign(const pgeom *c, int64_t nplanes, const float *x, const float *g,
                                  float *gx) {
  for (int64_t nc = 0; nc < nplanes; nc++, x += c->H * c->W, gx += c->H * c->W, g += c->Ho * c->Wo) {
    for (int64_t i = 0; i < c->Ho; i++) {
      const float *r0 = x + 2 * i * c->W, *r1 = r0 + c->W;
      float *g0 = gx + 2 * i * c->W, *g1 = g0 + c->W;
      const float *gr = g + i * c->Wo;
      int64_t j = 0;
#ifdef TL_POOL_SSE2
      for (; j < c->Wo && c->Wo >= 4; j += 4) {
        if (j + 4 > c->Wo) /* tail: the last four windows again (assignments are idempotent) */
          j = c->Wo - 4;
        max4x4 r = first_max4x4(r0 + 2 * j, r1 + 2 * j);
        __m128 w[4], v = _mm_add_ps(_mm_setzero_ps(), _mm_loadu_ps(gr + j));
        winners(&r, w);
        __m128 e0 = _mm_and_ps(w[0], v), o0 = _mm_and_ps(w[1], v), e1 = _mm_and_ps(w[2], v),
               o1 = _mm_and_ps(w[3], v);
        _mm_storeu_ps(g0 + 2 * j, _mm_unpacklo_ps(e0, o0));
        _mm_storeu_ps(g0 + 2 * j + 4, _mm_unpackhi_ps(e0, o0));
        _mm_storeu_ps(g1 + 2 * j, _mm_unpacklo_ps(e1, o1));
        _mm_storeu_ps(g1 + 2 * j + 4, _mm_unpackhi_ps(e1, o1));
      }
#endif
      for (; j < c->Wo; j++) {
        float mv, v = 0.0f + gr[j];
        int a = first_max4(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1], &mv);
        g0[2 * j] = select_f(a == 0, v, 0.0f);
        g0[2 * j + 1] = select_f(a == 1, v, 0.0f);
        g1[2 * j] = select_f(a == 2, v, 0.0f);
        g1[2 * j + 1] = select_f(a == 3, v, 0.0f);
      }
      for (j = 2 * c->Wo; j < c->W; j++)
        g0[j] = 0.0f, g1[j] = 0.0f;
    }
    for (int64_t r = 2 * c->Ho; r < c->H; r++)
      for (int64_t j = 0; j < c->W; j++)
        gx[r * c->W + j] = 0.0f;
  }
}

/* gx[first max of the window] += g; written as four selects (the untouched taps keep their
 * exact value) so the loop has no data-dependent branch or scatter */
static void maxpool2x2_bwd(const pgeom *c, int64_t nplanes, const float *x, const float *g, float *gx) {
  for (int64_t nc = 0; nc < nplanes; nc++, x += c->H * c->W, gx += c->H * c->W, g += c->Ho * c->Wo)
    for (int64_t i = 0; i < c->Ho; i++) {
      const float *r0 = x + 2 * i * c->W, *r1 = r0 + c->W;
      float *g0 = gx + 2 * i * c->W, *g1 = g0 + c->W;
      const float *gr = g + i * c->Wo;
      for (int64_t j = 0; j < c->Wo; j++) {
        float mv, v = gr[j];
        int a = first_max4(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1], &mv);
        float a0 = g0[2 * j], a1 = g0[2 * j + 1], a2 = g1[2 * j], a3 = g1[2 * j + 1];
        g0[2 * j] = select_f(a == 0, a0 + v, a0);
        g0[2 * j + 1] = select_f(a == 1, a1 + v, a1);
        g1[2 * j] = select_f(a == 2, a2 + v, a2);
        g1[2 * j + 1] = select_f(a == 3, a3 + v, a3);
      }
    }
}

/* The 2x2 FAST path splits the N*C planes into at most this many tasks on the exec's pool (a
 * split fixed by the shape; every output element is written by one task, so any thread count
 * gives the same bits). */
#define TL_POOL_MAX_TASKS 16

typedef struct pool_job {
  const tl_kctx *k;
  const pgeom *c;
  int64_t per; /* planes per task */
  int bwd, assign;
} pool_job;

static void pool2x2_task(void *arg, int t, int w) {
  (void)w;
  const pool_job *j = arg;
  const pgeom *c = j->c;
  int64_t p0 = t * j->per, np = c->N * c->C - p0 < j->per ? c->N * c->C - p0 : j->per;
  const float *x = j->k->in[0] + p0 * c->H * c->W;
  if (!j->bwd)
    maxpool2x2_fwd(c, np, x, j->k->out + p0 * c->Ho * c->Wo);
  else if (j->assign)
    maxpool2x2_bwd_assign(c, np, x, j->k->gout + p0 * c->Ho * c->Wo, j->k->gin[0] + p0 * c->H * c->W);
  else
    maxpool2x2_bwd(c, np, x, j->k->gout + p0 * c->Ho * c->Wo, j->k->gin[0] + p0 * c->H * c->W);
}

static void pool2x2_run(const tl_kctx *k, const pgeom *c, int bwd) {
  int64_t planes = c->N * c->C, per = (planes + TL_POOL_MAX_TASKS - 1) / TL_POOL_MAX_TASKS;
  if (planes <= 0)
    return;
  pool_job j = {.k = k, .c = c, .per = per, .bwd = bwd, .assign = (k->gin_assign & 1u) != 0};
  tl_pool_run(k->pool, (int)((planes + per - 1) / per), pool2x2_task, &j);
}

/* y[n,c,i,j] = max over window */
tl_code tl_k_maxpool_fwd(const tl_kctx *k) {
  pgeom c = pgeo(k);
  if (is_pool2x2(k, &c)) {
    pool2x2_run(k, &c, 0);
    return TL_OK;
  }
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
  if (is_pool2x2(k, &c)) {
    pool2x2_run(k, &c, 1);
    return TL_OK;
  }
  if (k->gin_assign & 1u)
    memset(k->gin[0], 0, (size_t)(c.N * c.C * c.H * c.W) * sizeof(float));
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

/* JVP (argmax held fixed): dy[n,c,i,j] = dx[n,c,argmax]; the same first-maximum rule as backward */
tl_code tl_k_maxpool_jvp(const tl_kctx *k, const float *dx, float *dy) {
  pgeom c = pgeo(k);
  for (int64_t nc = 0; nc < c.N * c.C; nc++) {
    const float *x = k->in[0] + nc * c.H * c.W, *d = dx + nc * c.H * c.W;
    float *o = dy + nc * c.Ho * c.Wo;
    for (int64_t i = 0; i < c.Ho; i++)
      for (int64_t j = 0; j < c.Wo; j++) {
        int64_t a = argmax_at(&c, x, i, j);
        o[i * c.Wo + j] = a >= 0 ? d[a] : 0.0f;
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
