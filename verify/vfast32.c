/* vfast32.c - the float32 kernels of fast IBP for linear and conv2d nodes.
 *
 * Interval y = W x + b over a box [xl, xh] in midpoint-radius form, with the two dot products of
 * every output computed in binary32 (8 or 16 lanes per instruction, W read once) instead of three
 * in binary64.  Soundness does not come from directed rounding but from an a-priori bound on the
 * rounding error of a summation tree: the kernels run on the calling thread in round-to-nearest,
 * set here (u = 2^-24 per rounding, eta/2 = 2^-150 per underflowing product), and their trees are
 * the ones written in vfast32_kernels.h (GCC keeps the written order without -ffast-math /
 * -fassociative-math, and contraction into FMA (-ffp-contract=fast) only removes roundings), so
 * every product passes through at most d roundings: linear 1 + n/VL + 3 VL <= 1 + n/8 + 48 for
 * VL = 8 or 16 lanes, conv 1 + K.  With n terms per output and g1 = gamma_d:
 *
 *   cf_j  = a binary32 value (near the midpoint), rf_j >= max(xh_j - cf_j, cf_j - xl_j)
 *   af_j >= rf_j + g1 |cf_j| + gk (|cf_j| + rf_j)     (gk: the f32-any gamma_k, 0 in `real`)
 *   S = fl(sum_j W_j cf_j):   |S - sum W cf| <= g1 sum |W| |cf| + n eta/2 (1 + g1)
 *   T = fl(sum_j |W_j| af_j): sum |W| af <= (T + n eta/2 (1 + g1)) (1 + 2 g1)  [1/(1-g) <= 1+2g, g <= 1/2]
 *
 * For x in the box, |W x - W cf| <= sum |W| rf, and the deployed float32 result of the node is off
 * from W x + b by at most gk (sum |W| |x| + |b|) + k eta/2 (1 + gk) with |x| <= |cf| + rf
 * (docs/certificates.md).  Every term is covered by
 *   E = (T + n eta/2 (1 + g1)) (1 + 2 g1) + n eta/2 (1 + g1) + gk |b| + k eta/2 (1 + gk)
 * and the node's box is [down(S + b - E), up(S + b + E)], finished in binary64 with directed
 * rounding.  Preconditions (else the caller falls back to the binary64 kernels in vfast.c): no
 * flush-to-zero on this thread, finite boxes with |x| < 2^65, n u <= 1/4, finite S and T, and
 * the f32 rounding term g1 sum|cf| small next to the box radius (so the enclosure is at most a few
 * percent wider than the binary64 one); for f32-any the binary32 overflow check uses
 * sum |W| (|cf| + rf) <= sum |W| af / gk. */
#include <stdlib.h>
#include <string.h>

#include "torchlean/floats.h"
#include "vinternal.h"

typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

/* The kernels are compiled per instruction set (vfast32_kernels.h) and chosen at run time:
 * AVX-512 (16 lanes), AVX2 + FMA (8 lanes), the baseline (8 lanes in SSE2 pairs).
 * (target_clones("arch=haswell") would only be chosen on a Haswell, not on later CPUs.) */
/* FMA contraction only inside the kernels (their error bound covers it): elsewhere a loop's
 * vector body and its scalar remainder must round alike, or results would depend on how an
 * array is aligned in memory (and so on batch composition). */
#ifndef __clang__ /* clang (the fuzz build) has no optimize pragma: it compiles them uncontracted */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif
#define KATTR
#define VL 8
#define VF v8f
#define VI v8i
#define DOT2X4 dot2x4_base
#define CONV2X4 conv2x4_base
#include "vfast32_kernels.h"
#undef KATTR
#undef DOT2X4
#undef CONV2X4
#if defined(__x86_64__) || defined(__i386__)
#define KATTR __attribute__((target("avx2,fma")))
#define DOT2X4 dot2x4_fma
#define CONV2X4 conv2x4_fma
#include "vfast32_kernels.h"
#undef KATTR
#undef VL
#undef VF
#undef VI
#undef DOT2X4
#undef CONV2X4
typedef float v16f __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));
#define KATTR __attribute__((target("avx512f")))
#define VL 16
#define VF v16f
#define VI v16i
#define DOT2X4 dot2x4_512
#define CONV2X4 conv2x4_512
#include "vfast32_kernels.h"
#else
#define dot2x4_fma dot2x4_base
#define conv2x4_fma conv2x4_base
#define dot2x4_512 dot2x4_base
#define conv2x4_512 conv2x4_base
#endif
#ifndef __clang__
#pragma GCC pop_options
#endif

typedef void dot_fn(const float *, int64_t, int, const float *, const float *, int64_t, float *, float *);
typedef void conv_fn(const float *, const float *, int64_t, int, const float *, const float *, int64_t,
                     float *, float *);
/* 2: AVX-512, 1: AVX2 + FMA, 0: baseline */
static int isa_level(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("avx512f"))
    return 2;
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

/* The centre / radius preparation of tlv_fast_ibp_f32 (run in FE_UPWARD, see there); returns
 * a word whose bit 63 is set when some |l|, |h| >= 2^65 (inf, NaN) or some radius is negative. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static uint64_t
prep(const double *xl, const double *xh, double g1, double gk, float *cf, float *af, int64_t nin) {
  uint64_t bad = 0;
  for (int64_t j = 0; j < nin; j++) {
    double l = xl[j], h = xh[j];
    float c = (float)(0.5 * l + 0.5 * h);
    double ac = fabs((double)c);
    double r = (double)c - l;
    double rf = (double)(float)r;
    uint64_t bl, bh, br;
    memcpy(&bl, &l, 8), memcpy(&bh, &h, 8), memcpy(&br, &r, 8);
    bad |= ((bl & 0x7ff0000000000000u) + ((uint64_t)(2047 - 1023 - 64) << 52)) |
           ((bh & 0x7ff0000000000000u) + ((uint64_t)(2047 - 1023 - 64) << 52)) | br;
    cf[j] = c, af[j] = (float)(rf + g1 * ac + gk * (ac + rf));
  }
  return bad;
}

/* the largest bits of n binary32 values >= 0 (or NaN): the largest value (a NaN's bits exceed
 * every number's), as int32 */
__attribute__((target_clones("avx512f", "avx2", "default"))) static int32_t max_bits(const float *t,
                                                                                     int64_t n) {
  int32_t m = 0;
  for (int64_t o = 0; o < n; o++) {
    int32_t b;
    memcpy(&b, &t[o], 4);
    m = b > m ? b : m;
  }
  return m;
}

/* hi = (S + b) + E, lo = E with E = (T + und) gg + und + gk |b| + absterm (run in FE_UPWARD), for n
 * outputs: b = B[o] (bvec) or b = B[0] for all (or 0 when B is NULL) */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
finish_up(const float *S, const float *T, const float *B, int bvec, double und, double gg, double gk,
          double absterm, double *hi, double *lo, int64_t n) {
  double b0 = B && !bvec ? (double)B[0] : 0.0;
  for (int64_t o = 0; o < n; o++) {
    double s = S[o], t = T[o], bv = B && bvec ? (double)B[o] : b0;
    double e = (t + und) * gg + und + gk * fabs(bv) + absterm;
    hi[o] = (s + bv) + e;
    lo[o] = e;
  }
}

/* lo = (S + b) - lo with b as in finish_up (run in FE_DOWNWARD; a separate function, so S + b is
 * computed anew) */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
finish_down(const float *S, const float *B, int bvec, double *lo, int64_t n) {
  double b0 = B && !bvec ? (double)B[0] : 0.0;
  for (int64_t o = 0; o < n; o++)
    lo[o] = ((double)S[o] + (B && bvec ? (double)B[o] : b0)) - lo[o];
}

/* im2col of one group block x (cpg, H, W) for stride 1 and dilation 1: column row k = (ci, p, q)
 * at output (i, j) is x[ci][i - pad0 + p][j - pad1 + q], 0 outside; rows of stride P8, zero tails */
static void im2col_unit(float *col, const float *x, const tlv_conv *cv, int64_t pad0, int64_t pad1,
                        int64_t P8) {
  for (int64_t ci = 0; ci < cv->cpg; ci++)
    for (int64_t p = 0; p < cv->kh; p++)
      for (int64_t q = 0; q < cv->kw; q++) {
        float *dst = col + ((ci * cv->kh + p) * cv->kw + q) * P8;
        int64_t jlo = pad1 - q > 0 ? pad1 - q : 0,
                jhi = cv->W + pad1 - q < cv->Wo ? cv->W + pad1 - q : cv->Wo;
        for (int64_t i = 0; i < cv->Ho; i++) {
          float *d = dst + i * cv->Wo;
          int64_t hh = i - pad0 + p;
          if (hh < 0 || hh >= cv->H || jhi <= jlo) {
            memset(d, 0, (size_t)cv->Wo * sizeof *d);
            continue;
          }
          if (jlo > 0)
            memset(d, 0, (size_t)jlo * sizeof *d);
          memcpy(d + jlo, x + (ci * cv->H + hh) * cv->W + (jlo - pad1 + q), (size_t)(jhi - jlo) * sizeof *d);
          if (jhi < cv->Wo)
            memset(d + jhi, 0, (size_t)(cv->Wo - jhi) * sizeof *d);
        }
        memset(dst + cv->P, 0, (size_t)(P8 - cv->P) * sizeof *dst);
      }
}

static const float *wptr(const tl_graph *g, int id, int k) {
  const tl_node *n = &g->nodes[id];
  return k < n->nparents ? g->weights + g->nodes[n->parents[k]].woff : NULL;
}

/* the binary32 centre error must stay small next to the radius (else the binary64 path):
 * 16 g1 sum |cf| <= sum (af - g1 |cf|) = sum (rf + gk (|cf| + rf)), sums of 8 lanes (in FE_UPWARD) */
static int centre_small(const float *cf, const float *af, int64_t nin, double g1) {
  float sc[8] = {0}, sa[8] = {0};
  int64_t j8 = 0;
  for (; j8 + 8 <= nin; j8 += 8)
    for (int q = 0; q < 8; q++)
      sc[q] += fabsf(cf[j8 + q]), sa[q] += af[j8 + q];
  double sum_c = 0, sum_a = 0;
  for (int q = 0; q < 8; q++)
    sum_c += sc[q], sum_a += sa[q];
  for (; j8 < nin; j8++)
    sum_c += fabsf(cf[j8]), sum_a += af[j8];
  return 17 * g1 * sum_c <= sum_a;
}

/* S, T of a linear node in round-to-nearest (the error model of the top), four outputs at a time */
static void f32_linear(const tl_graph *g, int id, dot_fn *dot, const float *W, const float *cf,
                       const float *af, float *S, float *T) {
  const tl_node *n = &g->nodes[id];
  int64_t nout = n->numel, nterm = g->nodes[n->parents[1]].shape[1];
  int64_t out = g->nodes[n->parents[1]].shape[0];
  int64_t rows = nout / (out ? out : 1);
  for (int64_t rw = 0; rw < rows; rw++)
    for (int64_t o = 0; o < out; o += 4) {
      int nr = out - o < 4 ? (int)(out - o) : 4;
      dot(W + o * nterm, nterm, nr, cf + rw * nterm, af + rw * nterm, nterm, S + rw * out + o,
          T + rw * out + o);
    }
}

/* S, T of a conv node in round-to-nearest through binary32 im2col columns; 0: out of memory */
static int f32_conv(const tl_node *n, const tlv_conv *cv, conv_fn *conv, const float *W, const float *cf,
                    const float *af, float *S, float *T) {
  int64_t K = cv->K, P = cv->P, P8 = (P + 15) / 16 * 16; /* row stride: a multiple of every VL */
  float *col =
      malloc((size_t)(2 * K * P8 + 8 * P8 + 2 * (cv->cpg * cv->H * cv->W + 1) + cv->O * K) * sizeof *col);
  if (!col)
    return 0;
  int64_t blk_n = cv->cpg * cv->H * cv->W; /* one group's input block, behind a zero at [0] */
  int unit = n->attrs.stride[0] == 1 && n->attrs.stride[1] == 1 && n->attrs.dilation[0] == 1 &&
             n->attrs.dilation[1] == 1 && cv->Ho == cv->H + 2 * n->attrs.padding[0] - cv->kh + 1 &&
             cv->Wo == cv->W + 2 * n->attrs.padding[1] - cv->kw + 1;
  float *cc = col, *ac = cc + K * P8, *so = ac + K * P8, *to = so + 4 * P8;
  float *zc = to + 4 * P8, *za = zc + blk_n + 1, *wa = za + blk_n + 1;
  zc[0] = za[0] = 0.0f;
  for (int64_t t = 0; t < cv->O * K; t++)
    wa[t] = fabsf(W[t]);
  for (int64_t b = 0; b < cv->N; b++)
    for (int64_t gi = 0; gi < cv->G; gi++) {
      int64_t base = (b * cv->C + gi * cv->cpg) * cv->H * cv->W;
      if (unit) { /* stride 1, dilation 1: rows of the columns are shifted row segments */
        im2col_unit(cc, cf + base, cv, n->attrs.padding[0], n->attrs.padding[1], P8);
        im2col_unit(ac, af + base, cv, n->attrs.padding[0], n->attrs.padding[1], P8);
      } else {
        memcpy(zc + 1, cf + base, (size_t)blk_n * sizeof *zc);
        memcpy(za + 1, af + base, (size_t)blk_n * sizeof *za);
        for (int64_t k = 0; k < K; k++) { /* im2col without branches: padding (-1) reads the 0 */
          const int64_t *tab = cv->tab + k * P;
          for (int64_t p = 0; p < P; p++) {
            cc[k * P8 + p] = zc[1 + tab[p]];
            ac[k * P8 + p] = za[1 + tab[p]];
          }
          for (int64_t p = P; p < P8; p++)
            cc[k * P8 + p] = ac[k * P8 + p] = 0.0f;
        }
      }
      for (int64_t o = gi * cv->opg; o < (gi + 1) * cv->opg; o += 4) {
        int nr = (gi + 1) * cv->opg - o < 4 ? (int)((gi + 1) * cv->opg - o) : 4;
        conv(W + o * K, wa + o * K, K, nr, cc, ac, P8, so, to);
        for (int r = 0; r < nr; r++) {
          memcpy(S + (b * cv->O + o + r) * P, so + r * P8, (size_t)P * sizeof *S);
          memcpy(T + (b * cv->O + o + r) * P, to + r * P8, (size_t)P * sizeof *T);
        }
      }
    }
  free(col);
  return 1;
}

/* lo, hi from S, T in binary64 with directed rounding; 0 when the bounds are not finite (the
 * binary64 path then) */
static int f32_finish(const tl_graph *g, int id, int lin, const tlv_conv *cv, const float *B, double g1,
                      double gk, tl_semantics sem, int64_t nterm, int64_t kround, const float *S,
                      const float *T, double *lo, double *hi) {
  const tl_node *n = &g->nodes[id];
  int64_t nout = n->numel;
  /* finish in binary64 with directed rounding; the bias of output o is that of channel
   * (o / per) % ochan */
  int64_t ochan = lin ? g->nodes[n->parents[1]].shape[0] : cv->O, per = lin ? 1 : cv->P;
  rnd_up();
  double und = (double)nterm * (TLV_ETA / 2) * (1 + g1), gg = 1 + 2 * g1;
  double absterm = sem == TL_SEM_F32_ANY ? (double)kround * (TLV_ETA / 2) * (1 + gk) : 0;
  /* overflow test: (1 + gk) (sum |W| (|cf| + rf) + |b|) + absterm <= (1 + gk) ((tmax + und) gg / gk
   * + bmax) + absterm, with tmax the largest T (T >= 0: the largest bits) and bmax the largest |b| */
  double bmax = 0;
  for (int64_t c = 0; B && c < ochan; c++)
    bmax = fabs((double)B[c]) > bmax ? fabs((double)B[c]) : bmax;
  float tmaxf;
  int32_t tb = max_bits(T, nout);
  memcpy(&tmaxf, &tb, 4);
  double tmax = tmaxf;
  TLV_OPAQUE(und); /* rounded up, used after the call below */
  TLV_OPAQUE(gg);
  TLV_OPAQUE(absterm);
  /* runs: a batch row of a linear node (bias vector), one channel plane of a conv (one bias) */
  int64_t run = lin ? ochan : per, nr = nout / run;
  for (int64_t r = 0; r < nr; r++)
    finish_up(S + r * run, T + r * run, B ? B + (lin ? 0 : r % ochan) : NULL, lin, und, gg, gk, absterm,
              hi + r * run, lo + r * run, run);
  double big = sem == TL_SEM_F32_ANY ? (1 + gk) * ((tmax + und) * gg / gk + bmax) + absterm : 0;
  TLV_OPAQUE(big);
  if (!tlv_box_finite(hi, lo, nout) || !(tmax == tmax) || !(big <= FLT_MAX))
    return 0;
  rnd_down();
  for (int64_t r = 0; r < nr; r++)
    finish_down(S + r * run, B ? B + (lin ? 0 : r % ochan) : NULL, lin, lo + r * run, run);
  if (sem == TL_SEM_F32_ANY)
    for (int64_t o = 0; o < nout; o++)
      if (!(fabs(lo[o]) <= FLT_MAX) || !(fabs(hi[o]) <= FLT_MAX)) {
        for (int64_t q = 0; q < nout; q++)
          lo[q] = -INFINITY, hi[q] = INFINITY;
        break;
      }
  return 1;
}

int tlv_fast_ibp_f32(const tl_verify_plan *pl, int id, const double *xl, const double *xh, tl_semantics sem,
                     double *lo, double *hi) {
  const tl_graph *g = pl->g;
  const tl_node *n = &g->nodes[id];
  int64_t nin = g->nodes[n->parents[0]].numel, nout = n->numel;
  const float *W = wptr(g, id, 1), *B = n->nparents == 3 ? wptr(g, id, 2) : NULL;
  int lin = tlv_fast_kind(pl, id) == TLV_FAST_LINEAR;
  const tlv_conv *cv = lin ? NULL : pl->conv[id];
  int64_t nterm = lin ? g->nodes[n->parents[1]].shape[1] : cv->K; /* products per output */
  int64_t kround = nterm + (B != NULL);
  if (tl_f32_flushes_subnormals() || nterm < 1 || nterm > (1 << 21))
    return 0;
  int64_t depth = lin ? 1 + nterm / 8 + 48 : 1 + nterm; /* roundings per product, see the top */
  double g1 = tlv_gamma_up(depth), gk = sem == TL_SEM_F32_ANY ? tlv_gamma_up(kround) : 0;
  /* cf and af start at the same offset modulo 64 bytes as W, so that the kernels' W, c and a loads
   * are all aligned after the same short head (a misaligned W costs ~1.5x); in cf's own block */
  size_t skew = lin ? ((uintptr_t)W % 64) / sizeof(float) : 0;
  int64_t nin16 = (nin + 15) / 16 * 16;
  char *blk = malloc((size_t)(2 * nin16 + 2 * nout + 48) * sizeof(float) + 64);
  if (!blk)
    return -1;
  float *cf = (float *)(blk + (64 - (uintptr_t)blk % 64) % 64) + skew;
  float *af = cf + nin16, *S = af + nin16, *T = S + nout;
  /* center and radius terms in FE_UPWARD: mid >= the midpoint and its binary32 c >= mid, so
   * c - l >= h - c and r = up(c - l) covers the box; rf, af and the conversions round up.  The
   * checks are on the bits (|l|, |h| < 2^65, so finite; r >= 0, so l <= h): no floating-point
   * compare or reduction, the loop vectorises. */
  rnd_up();
  uint64_t bad = prep(xl, xh, g1, gk, cf, af, nin);
  int ok = !(bad >> 63);
  if (!ok || !centre_small(cf, af, nin, g1)) {
    free(blk);
    return 0;
  }
  int isa = isa_level();
  dot_fn *dot = isa == 2 ? dot2x4_512 : isa == 1 ? dot2x4_fma : dot2x4_base;
  conv_fn *conv = isa == 2 ? conv2x4_512 : isa == 1 ? conv2x4_fma : conv2x4_base;
  fesetround(FE_TONEAREST); /* the error model of S and T above */
  if (lin) {
    f32_linear(g, id, dot, W, cf, af, S, T);
  } else if (!f32_conv(n, cv, conv, W, cf, af, S, T)) {
    free(blk);
    return -1;
  }
  int done = f32_finish(g, id, lin, cv, B, g1, gk, sem, nterm, kround, S, T, lo, hi);
  free(blk);
  return done;
}
