/* nets.c - see nets.h. */
#include "nets.h"

#include <stdlib.h>
#include <string.h>

uint64_t tnet_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float tnet_randf(uint64_t *s) {
  return (float)((double)(tnet_rand(s) >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rvec(uint64_t *s, int64_t n) {
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++)
    v[i] = tnet_randf(s);
  return v;
}

static int conv_out(int n, int pad, int stride) { return (n + 2 * pad - 3) / stride + 1; }

void tnet_make(tnet *t, uint64_t seed) {
  memset(t, 0, sizeof *t);
  uint64_t s = seed;
  t->conv = (int)(tnet_rand(&s) % 2);
  t->reduce = (int)(tnet_rand(&s) % 3);
  t->K = 1 + (int)(tnet_rand(&s) % 4);
  tl_graph *g = tl_graph_new();
  int x, y;
  if (t->conv) {
    t->maxpool = (int)(tnet_rand(&s) % 2);
    t->stride = 1 + (int)(tnet_rand(&s) % 2);
    t->pad = (int)(tnet_rand(&s) % 2);
    t->C = 1 + (int)(tnet_rand(&s) % 2);
    t->H = 5 + (int)(tnet_rand(&s) % 3);
    t->W = 5 + (int)(tnet_rand(&s) % 3);
    t->O = 1 + (int)(tnet_rand(&s) % 3);
    t->nin = (int64_t)t->C * t->H * t->W;
    int ho = conv_out(t->H, t->pad, t->stride) / 2, wo = conv_out(t->W, t->pad, t->stride) / 2;
    t->nfeat = (int64_t)t->O * ho * wo;
    t->w1 = rvec(&s, (int64_t)t->O * t->C * 9);
    t->b1 = rvec(&s, t->O);
    int64_t xs[] = {1, t->C, t->H, t->W}, ws[] = {t->O, t->C, 3, 3}, bs[] = {t->O};
    int w, b;
    tl_graph_input(g, "x", 4, xs, &x, NULL);
    tl_graph_param(g, "w1", TL_PARAM_TRAINABLE, 4, ws, t->w1, &w, NULL);
    tl_graph_param(g, "b1", TL_PARAM_TRAINABLE, 1, bs, t->b1, &b, NULL);
    tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
    a.stride[0] = a.stride[1] = t->stride;
    a.padding[0] = a.padding[1] = t->pad;
    int p[] = {x, w, b};
    tl_graph_op(g, TL_OP_CONV2D, 3, p, &a, &y, NULL);
    tl_graph_op(g, TL_OP_RELU, 1, &y, NULL, &y, NULL);
    a = tl_attrs_default(TL_OP_MAX_POOL2D);
    a.kernel[0] = a.kernel[1] = 2;
    a.stride[0] = a.stride[1] = 2;
    tl_graph_op(g, t->maxpool ? TL_OP_MAX_POOL2D : TL_OP_AVG_POOL2D, 1, &y, &a, &y, NULL);
    a = tl_attrs_default(TL_OP_RESHAPE);
    int64_t tgt[] = {1, -1};
    a.list = tgt, a.nlist = 2;
    tl_graph_op(g, TL_OP_RESHAPE, 1, &y, &a, &y, NULL);
    t->B = 1;
  } else {
    t->B = 1 + (int)(tnet_rand(&s) % 3);
    t->n = 1 + (int)(tnet_rand(&s) % 12);
    t->h = 1 + (int)(tnet_rand(&s) % 8);
    t->nin = (int64_t)t->B * t->n;
    t->nfeat = t->h;
    t->w1 = rvec(&s, (int64_t)t->h * t->n);
    t->b1 = rvec(&s, t->h);
    int64_t xs[] = {t->B, t->n}, ws[] = {t->h, t->n}, bs[] = {t->h};
    int w, b;
    tl_graph_input(g, "x", 2, xs, &x, NULL);
    tl_graph_param(g, "w1", TL_PARAM_TRAINABLE, 2, ws, t->w1, &w, NULL);
    tl_graph_param(g, "b1", TL_PARAM_TRAINABLE, 1, bs, t->b1, &b, NULL);
    int p[] = {x, w, b};
    tl_graph_op(g, TL_OP_LINEAR, 3, p, NULL, &y, NULL);
    tl_graph_op(g, TL_OP_RELU, 1, &y, NULL, &y, NULL);
  }
  /* y: (B, nfeat) -> * s + t -> linear(K) -> reduce */
  int64_t fs[] = {t->nfeat}, w2s[] = {t->K, t->nfeat}, b2s[] = {t->K};
  t->s = rvec(&s, t->nfeat);
  t->t = rvec(&s, t->nfeat);
  t->w2 = rvec(&s, (int64_t)t->K * t->nfeat);
  t->b2 = rvec(&s, t->K);
  int sp, tp, w2, b2;
  tl_graph_param(g, "s", TL_PARAM_TRAINABLE, 1, fs, t->s, &sp, NULL);
  tl_graph_param(g, "t", TL_PARAM_TRAINABLE, 1, fs, t->t, &tp, NULL);
  tl_graph_param(g, "w2", TL_PARAM_TRAINABLE, 2, w2s, t->w2, &w2, NULL);
  tl_graph_param(g, "b2", TL_PARAM_TRAINABLE, 1, b2s, t->b2, &b2, NULL);
  int p1[] = {y, sp};
  tl_graph_op(g, TL_OP_MUL, 2, p1, NULL, &y, NULL);
  int p2[] = {y, tp};
  tl_graph_op(g, TL_OP_ADD, 2, p2, NULL, &y, NULL);
  int p3[] = {y, w2, b2};
  tl_graph_op(g, TL_OP_LINEAR, 3, p3, NULL, &y, NULL);
  if (t->reduce) {
    tl_attrs a = tl_attrs_default(TL_OP_SUM);
    int64_t ax[] = {1};
    a.list = ax, a.nlist = 1;
    tl_graph_op(g, t->reduce == 1 ? TL_OP_SUM : TL_OP_MEAN, 1, &y, &a, &y, NULL);
  }
  tl_graph_mark_output(g, y, NULL);
  t->g = g;
  t->out = y;
}

void tnet_free(tnet *t) {
  free(t->w1), free(t->b1), free(t->s), free(t->t), free(t->w2), free(t->b2);
  tl_graph_free(t->g);
}

int64_t tnet_nout(const tnet *t) { return t->reduce ? t->B : (int64_t)t->B * t->K; }

/* sum of n floats in an order; prods: x[i] * y[i] (rounded) when y != NULL */
static float fsum(int64_t n, const float *x, const float *y, int order) {
  if (n == 0)
    return 0.0f;
  if (order == NET_PAIR && n > 1) {
    int64_t h = n / 2;
    volatile float a = fsum(h, x, y, order), b = fsum(n - h, x + h, y ? y + h : NULL, order);
    return a + b;
  }
  volatile float acc = 0;
  for (int64_t k = 0; k < n; k++) {
    int64_t i = order == NET_REV ? n - 1 - k : k;
    volatile float term = y ? x[i] * y[i] : x[i];
    acc = k == 0 ? term : acc + term;
  }
  return acc;
}

void tnet_eval_f32(const tnet *t, const float *x, int order, float *out) {
  float *f = malloc((size_t)(t->B * t->nfeat + 1) * sizeof *f);
  float *xs = malloc(64 * sizeof *xs), *ws = malloc(64 * sizeof *ws);
  if (t->conv) {
    int ho = conv_out(t->H, t->pad, t->stride), wo = conv_out(t->W, t->pad, t->stride);
    float *c = malloc((size_t)(t->O * ho * wo) * sizeof *c);
    for (int o = 0; o < t->O; o++)
      for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++) {
          int m = 0;
          for (int ci = 0; ci < t->C; ci++)
            for (int p = 0; p < 3; p++)
              for (int q = 0; q < 3; q++) {
                int hh = i * t->stride - t->pad + p, ww = j * t->stride - t->pad + q;
                if (hh < 0 || hh >= t->H || ww < 0 || ww >= t->W)
                  continue;
                xs[m] = x[(ci * t->H + hh) * t->W + ww];
                ws[m] = t->w1[((o * t->C + ci) * 3 + p) * 3 + q];
                m++;
              }
          volatile float v = fsum(m, xs, ws, order) + t->b1[o];
          c[(o * ho + i) * wo + j] = v > 0 ? v : 0.0f;
        }
    int po = ho / 2, pw = wo / 2;
    for (int o = 0; o < t->O; o++)
      for (int i = 0; i < po; i++)
        for (int j = 0; j < pw; j++) {
          for (int p = 0; p < 2; p++)
            for (int q = 0; q < 2; q++)
              xs[p * 2 + q] = c[(o * ho + 2 * i + p) * wo + 2 * j + q];
          float v;
          if (t->maxpool) {
            v = xs[0];
            for (int k = 1; k < 4; k++)
              v = xs[k] > v ? xs[k] : v;
          } else {
            volatile float sum = fsum(4, xs, NULL, order);
            v = sum / 4.0f;
          }
          f[(o * po + i) * pw + j] = v;
        }
    free(c);
  } else {
    for (int b = 0; b < t->B; b++)
      for (int o = 0; o < t->h; o++) {
        volatile float v = fsum(t->n, x + b * t->n, t->w1 + o * t->n, order) + t->b1[o];
        f[b * t->h + o] = v > 0 ? v : 0.0f;
      }
  }
  float *z = malloc((size_t)(t->B * t->K) * sizeof *z);
  for (int b = 0; b < t->B; b++) {
    for (int64_t i = 0; i < t->nfeat; i++) {
      volatile float m = f[b * t->nfeat + i] * t->s[i];
      f[b * t->nfeat + i] = m + t->t[i];
    }
    for (int k = 0; k < t->K; k++) {
      volatile float v = fsum(t->nfeat, f + b * t->nfeat, t->w2 + k * t->nfeat, order) + t->b2[k];
      z[b * t->K + k] = v;
    }
    if (t->reduce) {
      volatile float sum = fsum(t->K, z + b * t->K, NULL, order);
      out[b] = t->reduce == 1 ? sum : sum / (float)t->K;
    } else {
      memcpy(out + b * t->K, z + b * t->K, (size_t)t->K * sizeof *z);
    }
  }
  free(f), free(z), free(xs), free(ws);
}

static void qdot(mpq_t r, int64_t n, mpq_t *x, const float *w, mpq_t tmp) {
  mpq_set_ui(r, 0, 1);
  for (int64_t i = 0; i < n; i++) {
    mpq_set_d(tmp, (double)w[i]);
    mpq_mul(tmp, tmp, x[i]);
    mpq_add(r, r, tmp);
  }
}

void tnet_eval_q(const tnet *t, const double *x, mpq_t *out) {
  int64_t nf = t->B * t->nfeat;
  mpq_t *f = malloc((size_t)(nf + 1) * sizeof *f), *xs = malloc(64 * sizeof *xs), tmp, acc;
  float ws[64];
  for (int64_t i = 0; i < nf; i++)
    mpq_init(f[i]);
  for (int i = 0; i < 64; i++)
    mpq_init(xs[i]);
  mpq_init(tmp), mpq_init(acc);
  if (t->conv) {
    int ho = conv_out(t->H, t->pad, t->stride), wo = conv_out(t->W, t->pad, t->stride);
    mpq_t *c = malloc((size_t)(t->O * ho * wo) * sizeof *c);
    for (int o = 0; o < t->O; o++)
      for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++) {
          int m = 0;
          for (int ci = 0; ci < t->C; ci++)
            for (int p = 0; p < 3; p++)
              for (int q = 0; q < 3; q++) {
                int hh = i * t->stride - t->pad + p, ww = j * t->stride - t->pad + q;
                if (hh < 0 || hh >= t->H || ww < 0 || ww >= t->W)
                  continue;
                mpq_set_d(xs[m], x[(ci * t->H + hh) * t->W + ww]);
                ws[m] = t->w1[((o * t->C + ci) * 3 + p) * 3 + q];
                m++;
              }
          mpq_t *cv = &c[(o * ho + i) * wo + j];
          mpq_init(*cv);
          qdot(*cv, m, xs, ws, tmp);
          mpq_set_d(tmp, (double)t->b1[o]);
          mpq_add(*cv, *cv, tmp);
          if (mpq_sgn(*cv) < 0)
            mpq_set_ui(*cv, 0, 1);
        }
    int po = ho / 2, pw = wo / 2;
    for (int o = 0; o < t->O; o++)
      for (int i = 0; i < po; i++)
        for (int j = 0; j < pw; j++) {
          mpq_t *v = &f[(o * po + i) * pw + j];
          mpq_set(*v, c[(o * ho + 2 * i) * wo + 2 * j]);
          for (int p = 0; p < 2; p++)
            for (int q = 0; q < 2; q++) {
              mpq_t *e = &c[(o * ho + 2 * i + p) * wo + 2 * j + q];
              if (t->maxpool) {
                if (mpq_cmp(*e, *v) > 0)
                  mpq_set(*v, *e);
              } else if (p || q) {
                mpq_add(*v, *v, *e);
              }
            }
          if (!t->maxpool) {
            mpq_set_ui(tmp, 4, 1);
            mpq_div(*v, *v, tmp);
          }
        }
    for (int k = 0; k < t->O * ho * wo; k++)
      mpq_clear(c[k]);
    free(c);
  } else {
    for (int b = 0; b < t->B; b++)
      for (int o = 0; o < t->h; o++) {
        for (int i = 0; i < t->n; i++)
          mpq_set_d(xs[i], x[b * t->n + i]);
        mpq_t *v = &f[b * t->h + o];
        qdot(*v, t->n, xs, t->w1 + o * t->n, tmp);
        mpq_set_d(tmp, (double)t->b1[o]);
        mpq_add(*v, *v, tmp);
        if (mpq_sgn(*v) < 0)
          mpq_set_ui(*v, 0, 1);
      }
  }
  for (int b = 0; b < t->B; b++) {
    for (int64_t i = 0; i < t->nfeat; i++) {
      mpq_t *v = &f[b * t->nfeat + i];
      mpq_set_d(tmp, (double)t->s[i]);
      mpq_mul(*v, *v, tmp);
      mpq_set_d(tmp, (double)t->t[i]);
      mpq_add(*v, *v, tmp);
    }
    mpq_set_ui(acc, 0, 1);
    for (int k = 0; k < t->K; k++) {
      mpq_t z;
      mpq_init(z);
      qdot(z, t->nfeat, f + b * t->nfeat, t->w2 + k * t->nfeat, tmp);
      mpq_set_d(tmp, (double)t->b2[k]);
      mpq_add(z, z, tmp);
      if (t->reduce)
        mpq_add(acc, acc, z);
      else
        mpq_set(out[b * t->K + k], z);
      mpq_clear(z);
    }
    if (t->reduce == 1)
      mpq_set(out[b], acc);
    if (t->reduce == 2) {
      mpq_set_ui(tmp, (unsigned long)t->K, 1);
      mpq_div(out[b], acc, tmp);
    }
  }
  for (int64_t i = 0; i < nf; i++)
    mpq_clear(f[i]);
  for (int i = 0; i < 64; i++)
    mpq_clear(xs[i]);
  mpq_clear(tmp), mpq_clear(acc);
  free(f), free(xs);
}
