/* kernels/conv.c - 2-D convolution (stride, padding, dilation, groups).
 *
 * f32-ref order (TL_KERNELS_REF forward; docs/f32-ref-order.md):
 *   y[n,o,i,j] = (left fold over c in 0..C/G-1, then p in 0..kH-1, then q in 0..kW-1 of
 *                 W[o,c,p,q] * x[n, g*C/G + c, i*s0 - pad0 + p*d0, j*s1 - pad1 + q*d1]) + b[o]
 *   products rounded to float, no FMA, taps that fall into the zero padding are SKIPPED (not
 *   added as zero products), the fold starts from the first in-range product, an empty fold
 *   is +0, the bias is added last.
 * TL_KERNELS_FAST: per sample and group, im2col + one sgemm written straight into (N, O, H, W),
 * then the bias (and a fused relu) in place; samples split into tasks on the exec's thread pool.
 * Backward: gW += gY col^T, gcol = W^T gY scattered back (col2im) into gx, gb += sums; REF per
 * sample and group, FAST per task of samples (partial sums added in task order).  When the exec
 * says gx was not zeroed (tl_kctx.gin_assign) FAST forms +0 + col2im in a padded buffer and
 * copies it out; REF zeroes gx first. */
#include <stdlib.h>
#include <string.h>

#include "exec/backend.h"

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
          if (h < 0 || h >= c->H) { /* rows are short (tens of floats): plain loops, no libc calls */
            for (int64_t j = 0; j < c->Wo; j++)
              r[j] = 0.0f;
            continue;
          }
          const float *xr = x + (ch * c->H + h) * c->W + off;
          for (int64_t j = 0; j < lo; j++)
            r[j] = 0.0f;
          if (c->s1 == 1)
            for (int64_t j = lo; j < hi; j++)
              r[j] = xr[j];
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

/* FAST kernels split the batch into tasks of consecutive samples, fixed by N alone (never by the
 * thread count), run on the exec's pool: per sample and group one im2col and one single-thread
 * sgemm straight into / out of the (N, O, H, W) tensors.  Skinny GEMMs (O = 8 or 16 rows) gain
 * nothing from BLAS threads, but samples are independent.  Weight and bias gradients are summed
 * per task, then the task partials are added in task order: the same bits on any thread count. */
#ifndef TL_CONV_MAX_TASKS
#define TL_CONV_MAX_TASKS 16
#endif

static int64_t task_samples(const cgeom *c) {
  return (c->N + TL_CONV_MAX_TASKS - 1) / TL_CONV_MAX_TASKS > 0
             ? (c->N + TL_CONV_MAX_TASKS - 1) / TL_CONV_MAX_TASKS
             : 1;
}

/* FAST im2col in two steps: the sample's Cg planes are copied into a zero-bordered buffer xpad
 * (Cg, H + 2 pad0, W + 2 pad1) whose border is zeroed once per task, then every column-matrix
 * row is a plain strided copy with no range tests.  The column matrix is identical to im2col's. */
/* d[0..n) = s[0..n): 16-byte blocks (inlined), the last block overlapping instead of a scalar tail */
static inline void copy_row(float *d, const float *s, int64_t n) {
  if (n < 4) {
    for (int64_t j = 0; j < n; j++)
      d[j] = s[j];
    return;
  }
  int64_t j = 0;
  for (; j + 4 <= n; j += 4)
    memcpy(d + j, s + j, 4 * sizeof *d);
  if (j < n)
    memcpy(d + n - 4, s + n - 4, 4 * sizeof *d);
}

static int64_t pad_floats(const cgeom *c) { return c->Cg * (c->H + 2 * c->p0) * (c->W + 2 * c->p1); }

static void pad_copy(const cgeom *c, const float *x, float *xpad) {
  int64_t Hp = c->H + 2 * c->p0, Wp = c->W + 2 * c->p1;
  for (int64_t ch = 0; ch < c->Cg; ch++)
    for (int64_t h = 0; h < c->H; h++) {
      const float *src = x + (ch * c->H + h) * c->W;
      copy_row(xpad + (ch * Hp + h + c->p0) * Wp + c->p1, src, c->W);
    }
}

static void im2col_padded(const cgeom *c, const float *xpad, float *col) {
  int64_t Hp = c->H + 2 * c->p0, Wp = c->W + 2 * c->p1, Wo = c->Wo;
  for (int64_t ch = 0; ch < c->Cg; ch++)
    for (int64_t p = 0; p < c->kh; p++)
      for (int64_t q = 0; q < c->kw; q++) {
        float *row = col + ((ch * c->kh + p) * c->kw + q) * c->P;
        const float *base = xpad + (ch * Hp + p * c->d0) * Wp + q * c->d1;
        for (int64_t i = 0; i < c->Ho; i++) {
          const float *src = base + i * c->s0 * Wp;
          float *dst = row + i * Wo;
          if (c->s1 == 1)
            copy_row(dst, src, Wo);
          else
            for (int64_t j = 0; j < Wo; j++)
              dst[j] = src[j * c->s1];
        }
      }
}

/* gx = +0 + col2im(col) (assigning backward): the sums are formed in the zero-bordered gxpad,
 * each element receiving the same contributions in the same order as col2im from a zeroed gx,
 * then the interior is copied out */
static void col2im_assign(const cgeom *c, const float *col, float *gxpad, float *gx) {
  int64_t Hp = c->H + 2 * c->p0, Wp = c->W + 2 * c->p1, Wo = c->Wo;
  memset(gxpad, 0, (size_t)pad_floats(c) * sizeof *gxpad);
  for (int64_t ch = 0; ch < c->Cg; ch++)
    for (int64_t p = 0; p < c->kh; p++)
      for (int64_t q = 0; q < c->kw; q++) {
        const float *row = col + ((ch * c->kh + p) * c->kw + q) * c->P;
        float *base = gxpad + (ch * Hp + p * c->d0) * Wp + q * c->d1;
        for (int64_t i = 0; i < c->Ho; i++) {
          float *dst = base + i * c->s0 * Wp;
          const float *src = row + i * Wo;
          for (int64_t j = 0; j < Wo; j++)
            dst[j * c->s1] += src[j];
        }
      }
  for (int64_t ch = 0; ch < c->Cg; ch++)
    for (int64_t h = 0; h < c->H; h++)
      copy_row(gx + (ch * c->H + h) * c->W, gxpad + (ch * Hp + h + c->p0) * Wp + c->p1, c->W);
}

/* col of sample plane block x (Cg planes) using the worker's xpad */
static void fast_im2col(const cgeom *c, const float *x, float *xpad, float *col) {
  if (c->p0 == 0 && c->p1 == 0) {
    im2col_padded(c, x, col);
    return;
  }
  pad_copy(c, x, xpad);
  im2col_padded(c, xpad, col);
}

typedef struct conv_job {
  const tl_kctx *k;
  const cgeom *c;
  int64_t ts;    /* samples per task */
  float *scr;    /* per worker: col (K x P) [+ gcol (K x P) in backward] */
  int64_t scr_n; /* floats per worker */
  float *gx, *gw, *gb;
  float *wpart, *bpart; /* per task: O*K weight and O bias partial sums */
} conv_job;

/* y[n, g*Og + o, :] = Wg col(x[n, g]) (+ b, relu when fused) */
static void conv_fwd_task(void *arg, int t, int w) {
  const conv_job *j = arg;
  const tl_kctx *k = j->k;
  const cgeom *c = j->c;
  const float *x = k->in[0], *b = k->n->nparents > 2 ? k->in[2] : NULL;
  float *col = j->scr + w * j->scr_n, *xpad = col + c->K * c->P;
  int64_t n1 = (t + 1) * j->ts < c->N ? (t + 1) * j->ts : c->N;
  memset(xpad, 0, (size_t)pad_floats(c) * sizeof *xpad);
  for (int64_t n = t * j->ts; n < n1; n++)
    for (int64_t g = 0; g < c->G; g++) {
      float *yg = k->out + (n * c->O + g * c->Og) * c->P;
      fast_im2col(c, x + (n * c->C + g * c->Cg) * c->H * c->W, xpad, col);
      k->be->sgemm_st(0, 0, (int)c->Og, (int)c->P, (int)c->K, 1.0f, k->in[1] + g * c->Og * c->K, (int)c->K,
                      col, (int)c->P, 0.0f, yg, (int)c->P);
      for (int64_t o = 0; o < c->Og; o++) {
        float *y = yg + o * c->P, bo = b ? b[g * c->Og + o] : 0.0f;
        if (b && k->fuse_relu)
          for (int64_t p = 0; p < c->P; p++) {
            float v = y[p] + bo;
            y[p] = (v > 0.0f || v != v) ? v : 0.0f;
          }
        else if (b)
          for (int64_t p = 0; p < c->P; p++)
            y[p] = y[p] + bo;
        else if (k->fuse_relu)
          for (int64_t p = 0; p < c->P; p++)
            y[p] = (y[p] > 0.0f || y[p] != y[p]) ? y[p] : 0.0f;
      }
    }
}

static tl_code conv_fwd_fast(const tl_kctx *k, const cgeom *c) {
  int nw = tl_pool_workers(k->pool);
  conv_job j = {.k = k, .c = c, .ts = task_samples(c), .scr_n = c->K * c->P + pad_floats(c)};
  j.scr = tl_ws_get(k->ws, (size_t)(nw * j.scr_n));
  if (!j.scr)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory for conv2d workspace");
  tl_pool_run(k->pool, (int)((c->N + j.ts - 1) / j.ts), conv_fwd_task, &j);
  return TL_OK;
}

/* sum of v[0..n-1] in 16 interleaved lanes, lanes added in order (vectorisable, fixed order) */
static float lane_sum(const float *v, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; l++)
      acc[l] += v[i + l];
  for (int l = 0; i < n; i++, l++)
    acc[l] += v[i];
  float s = 0.0f;
  for (int l = 0; l < 16; l++)
    s += acc[l];
  return s;
}

/* per task: wpart = sum over its samples of gYg col^T, bpart = sums of gY; gx += col2im(Wg^T gYg) */
static void conv_bwd_task(void *arg, int t, int w) {
  const conv_job *j = arg;
  const tl_kctx *k = j->k;
  const cgeom *c = j->c;
  float *col = j->scr + w * j->scr_n, *gcol = col + c->K * c->P, *xpad = gcol + c->K * c->P;
  float *gxpad = xpad + pad_floats(c); /* col2im_assign's sums (borders get junk: not xpad) */
  float *wp = j->wpart + t * c->O * c->K, *bp = j->bpart + t * c->O;
  int64_t n0 = t * j->ts, n1 = (t + 1) * j->ts < c->N ? (t + 1) * j->ts : c->N;
  if (j->gw)
    memset(xpad, 0, (size_t)pad_floats(c) * sizeof *xpad);
  for (int64_t n = n0; n < n1; n++)
    for (int64_t g = 0; g < c->G; g++) {
      const float *gy = k->gout + (n * c->O + g * c->Og) * c->P, *Wg = k->in[1] + g * c->Og * c->K;
      if (j->gb)
        for (int64_t o = 0; o < c->Og; o++) {
          float s = lane_sum(gy + o * c->P, c->P);
          bp[g * c->Og + o] = n == n0 ? s : bp[g * c->Og + o] + s;
        }
      if (j->gw) {
        fast_im2col(c, k->in[0] + (n * c->C + g * c->Cg) * c->H * c->W, xpad, col);
        k->be->sgemm_st(0, 1, (int)c->Og, (int)c->K, (int)c->P, 1.0f, gy, (int)c->P, col, (int)c->P,
                        n == n0 ? 0.0f : 1.0f, wp + g * c->Og * c->K, (int)c->K);
      }
      if (j->gx) {
        k->be->sgemm_st(1, 0, (int)c->K, (int)c->P, (int)c->Og, 1.0f, Wg, (int)c->K, gy, (int)c->P, 0.0f,
                        gcol, (int)c->P);
        if (k->gin_assign & 1u)
          col2im_assign(c, gcol, gxpad, j->gx + (n * c->C + g * c->Cg) * c->H * c->W);
        else
          col2im(c, gcol, j->gx + (n * c->C + g * c->Cg) * c->H * c->W, c->P);
      }
    }
}

/* dst[i] += ((part_0[i] + part_1[i]) + ...) over nt parts of stride `stride` */
static void add_parts(float *dst, const float *part, int nt, int64_t n, int64_t stride) {
  for (int64_t i = 0; i < n; i++) {
    float s = part[i];
    for (int t = 1; t < nt; t++)
      s += part[t * stride + i];
    dst[i] += s;
  }
}

static tl_code conv_bwd_fast(const tl_kctx *k, const cgeom *c, float *gx, float *gw, float *gb) {
  int nw = tl_pool_workers(k->pool);
  conv_job j = {.k = k,
                .c = c,
                .ts = task_samples(c),
                .scr_n = 2 * c->K * c->P + 2 * pad_floats(c),
                .gx = gx,
                .gw = gw,
                .gb = gb};
  int nt = (int)((c->N + j.ts - 1) / j.ts);
  if (nt <= 0)
    return TL_OK;
  j.scr = tl_ws_get(k->ws, (size_t)(nw * j.scr_n + nt * (c->O * c->K + c->O)));
  if (!j.scr)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory for conv2d workspace");
  j.wpart = j.scr + nw * j.scr_n;
  j.bpart = j.wpart + nt * c->O * c->K;
  tl_pool_run(k->pool, nt, conv_bwd_task, &j);
  if (gw)
    add_parts(gw, j.wpart, nt, c->O * c->K, c->O * c->K);
  if (gb)
    add_parts(gb, j.bpart, nt, c->O, c->O);
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
  if (k->kernels != TL_KERNELS_REF)
    return gx || gw || gb ? conv_bwd_fast(k, &c, gx, gw, gb) : TL_OK;
  if (gb)
    for (int64_t n = 0; n < c.N; n++)
      for (int64_t o = 0; o < c.O; o++) {
        const float *g = k->gout + (n * c.O + o) * c.P;
        float s = 0.0f;
        for (int64_t p = 0; p < c.P; p++)
          s += g[p];
        gb[o] += s;
      }
  if (gx && (k->gin_assign & 1u))
    memset(gx, 0, (size_t)(c.N * c.C * c.H * c.W) * sizeof *gx);
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
        im2col(&c, k->in[0] + (n * c.C + g * c.Cg) * c.H * c.W, col, c.P);
        k->be->sgemm(0, 1, (int)c.Og, (int)c.K, (int)c.P, 1.0f, gy, (int)c.P, col, (int)c.P, 1.0f,
                     gw + g * c.Og * c.K, (int)c.K);
      }
      if (gx) { /* gcol (K x P) = W_g^T (K x Og) gy (Og x P); gx += col2im(gcol) */
        k->be->sgemm(1, 0, (int)c.K, (int)c.P, (int)c.Og, 1.0f, k->in[1] + g * c.Og * c.K, (int)c.K, gy,
                     (int)c.P, 0.0f, gcol, (int)c.P);
        col2im(&c, gcol, gx + (n * c.C + g * c.Cg) * c.H * c.W, c.P);
      }
    }
  return TL_OK;
}
