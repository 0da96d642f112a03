/* vnets.c - see vnets.h */
#include "vnets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill(tl_rng *r, float *w, int64_t n, double scale) {
  for (int64_t i = 0; i < n; i++)
    w[i] = (float)((2 * tl_rng_uniform(r) - 1) * scale);
}

static int add_linear(tl_graph *g, tl_rng *r, int x, int in, int out, const char *nm) {
  char a[64], b[64];
  float *w = malloc((size_t)in * out * sizeof *w), *bb = malloc((size_t)out * sizeof *bb);
  fill(r, w, (int64_t)in * out, 1.0 / sqrt(in));
  fill(r, bb, out, 0.1);
  int64_t ws[2] = {out, in}, bs[1] = {out};
  int wi, bi, y;
  snprintf(a, sizeof a, "%s.weight", nm);
  snprintf(b, sizeof b, "%s.bias", nm);
  tl_graph_param(g, a, TL_PARAM_TRAINABLE, 2, ws, w, &wi, NULL);
  tl_graph_param(g, b, TL_PARAM_TRAINABLE, 1, bs, bb, &bi, NULL);
  int p[3] = {x, wi, bi};
  tl_graph_op(g, TL_OP_LINEAR, 3, p, NULL, &y, NULL);
  free(w), free(bb);
  return y;
}

static int add_act(tl_graph *g, int x, tl_op op) {
  tl_attrs a = tl_attrs_default(op);
  int y;
  if (op == TL_OP_LEAKY_RELU)
    a.alpha = 0.1;
  tl_graph_op(g, op, 1, &x, &a, &y, NULL);
  return y;
}

tl_graph *vnet_mlp(uint64_t seed, int in, int h, int h2, int out, tl_op act2) {
  tl_rng r;
  tl_rng_init(&r, seed);
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, in};
  int x;
  tl_graph_input(g, "x", 2, xs, &x, NULL);
  int y = add_linear(g, &r, x, in, h, "l1");
  y = add_act(g, y, TL_OP_RELU);
  y = add_linear(g, &r, y, h, h2, "l2");
  y = add_act(g, y, act2);
  y = add_linear(g, &r, y, h2, out, "l3");
  tl_graph_mark_output(g, y, NULL);
  return g;
}

tl_graph *vnet_cnn(uint64_t seed, int maxpool) {
  tl_rng r;
  tl_rng_init(&r, seed);
  tl_graph *g = tl_graph_new();
  int64_t xs[4] = {1, 1, 6, 6}, ws[4] = {2, 1, 3, 3}, bs[1] = {2};
  int x, w, b, y;
  tl_graph_input(g, "x", 4, xs, &x, NULL);
  float wv[18], bv[2];
  fill(&r, wv, 18, 0.5);
  fill(&r, bv, 2, 0.1);
  tl_graph_param(g, "c.weight", TL_PARAM_TRAINABLE, 4, ws, wv, &w, NULL);
  tl_graph_param(g, "c.bias", TL_PARAM_TRAINABLE, 1, bs, bv, &b, NULL);
  tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
  a.padding[0] = a.padding[1] = 1;
  int p[5] = {x, w, b};
  tl_graph_op(g, TL_OP_CONV2D, 3, p, &a, &y, NULL);
  float gm[2], bt[2], mu[2], var[2];
  fill(&r, gm, 2, 1.5), fill(&r, bt, 2, 0.2), fill(&r, mu, 2, 0.2);
  for (int i = 0; i < 2; i++)
    var[i] = (float)(0.5 + tl_rng_uniform(&r));
  int bn[4];
  tl_graph_param(g, "bn.weight", TL_PARAM_TRAINABLE, 1, bs, gm, &bn[0], NULL);
  tl_graph_param(g, "bn.bias", TL_PARAM_TRAINABLE, 1, bs, bt, &bn[1], NULL);
  tl_graph_param(g, "bn.mean", TL_PARAM_BUFFER, 1, bs, mu, &bn[2], NULL);
  tl_graph_param(g, "bn.var", TL_PARAM_BUFFER, 1, bs, var, &bn[3], NULL);
  int q[5] = {y, bn[0], bn[1], bn[2], bn[3]};
  tl_graph_op(g, TL_OP_BATCH_NORM, 5, q, NULL, &y, NULL);
  y = add_act(g, y, TL_OP_RELU);
  tl_attrs pa = tl_attrs_default(TL_OP_AVG_POOL2D);
  pa.kernel[0] = pa.kernel[1] = 2, pa.stride[0] = pa.stride[1] = 2;
  tl_graph_op(g, maxpool ? TL_OP_MAX_POOL2D : TL_OP_AVG_POOL2D, 1, &y, &pa, &y, NULL);
  tl_attrs fa = tl_attrs_default(TL_OP_FLATTEN);
  tl_graph_op(g, TL_OP_FLATTEN, 1, &y, &fa, &y, NULL);
  y = add_linear(g, &r, y, 18, 3, "fc");
  tl_graph_mark_output(g, y, NULL);
  return g;
}

tl_graph *vnet_maxpool_skip(void) {
  tl_graph *g = tl_graph_new();
  int64_t xs[4] = {1, 1, 1, 2};
  int x, y, o;
  tl_graph_input(g, "x", 4, xs, &x, NULL);
  tl_attrs pa = tl_attrs_default(TL_OP_MAX_POOL2D);
  pa.kernel[0] = 1, pa.kernel[1] = 2, pa.stride[0] = 1, pa.stride[1] = 2;
  tl_graph_op(g, TL_OP_MAX_POOL2D, 1, &x, &pa, &y, NULL);
  int p[2] = {y, x};
  tl_graph_op(g, TL_OP_SUB, 2, p, NULL, &o, NULL);
  tl_graph_mark_output(g, o, NULL);
  return g;
}

/* sum of t[0..n) in the given order */
static float fsum(const float *t, int64_t n, vnet_order o) {
  if (n == 0)
    return 0.0f;
  if (o == VORD_PAIR) {
    if (n == 1)
      return t[0];
    return fsum(t, n / 2, o) + fsum(t + n / 2, n - n / 2, o);
  }
  float s = 0.0f;
  if (o == VORD_SEQ)
    for (int64_t i = 0; i < n; i++)
      s += t[i];
  else
    for (int64_t i = n - 1; i >= 0; i--)
      s += t[i];
  return s;
}

int vnet_f32_forward(const tl_graph *g, const float *x, vnet_order ord, float *y) {
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  float **v = calloc((size_t)g->nnodes, sizeof *v);
  float *terms = malloc(100000 * sizeof *terms);
  int rc = 0;
  for (int id = 0; id <= out && rc == 0; id++) {
    const tl_node *n = &g->nodes[id];
    v[id] = calloc((size_t)n->numel + 1, sizeof(float));
    float *o = v[id];
    const float *a = n->nparents ? v[n->parents[0]] : NULL;
    switch (n->op) {
    case TL_OP_INPUT: memcpy(o, x, (size_t)n->numel * sizeof *o); break;
    case TL_OP_PARAM: memcpy(o, g->weights + n->woff, (size_t)n->numel * sizeof *o); break;
    case TL_OP_LINEAR: {
      const tl_node *w = &g->nodes[n->parents[1]];
      int64_t O = w->shape[0], I = w->shape[1];
      const float *W = v[n->parents[1]], *B = n->nparents == 3 ? v[n->parents[2]] : NULL;
      for (int64_t j = 0; j < O; j++) {
        for (int64_t i = 0; i < I; i++)
          terms[i] = a[i] * W[j * I + i];
        int64_t k = I;
        if (B)
          terms[k++] = B[j];
        o[j] = fsum(terms, k, ord);
      }
      break;
    }
    case TL_OP_CONV2D: {
      const tl_node *xn = &g->nodes[n->parents[0]];
      int64_t C = xn->shape[1], H = xn->shape[2], W = xn->shape[3], O = n->shape[1], Ho = n->shape[2],
              Wo = n->shape[3], kh = n->attrs.kernel[0], kw = n->attrs.kernel[1];
      const float *K = v[n->parents[1]], *B = n->nparents == 3 ? v[n->parents[2]] : NULL;
      for (int64_t oc = 0; oc < O; oc++)
        for (int64_t i = 0; i < Ho; i++)
          for (int64_t j = 0; j < Wo; j++) {
            int64_t k = 0;
            for (int64_t c = 0; c < C; c++)
              for (int64_t p = 0; p < kh; p++)
                for (int64_t q = 0; q < kw; q++) {
                  int64_t hh = i * n->attrs.stride[0] - n->attrs.padding[0] + p;
                  int64_t ww = j * n->attrs.stride[1] - n->attrs.padding[1] + q;
                  float xv = (hh < 0 || hh >= H || ww < 0 || ww >= W) ? 0.0f : a[(c * H + hh) * W + ww];
                  terms[k++] = xv * K[((oc * C + c) * kh + p) * kw + q];
                }
            if (B)
              terms[k++] = B[oc];
            o[(oc * Ho + i) * Wo + j] = fsum(terms, k, ord);
          }
      break;
    }
    case TL_OP_AVG_POOL2D:
    case TL_OP_MAX_POOL2D: {
      const tl_node *xn = &g->nodes[n->parents[0]];
      int64_t H = xn->shape[2], W = xn->shape[3], Ho = n->shape[2], Wo = n->shape[3];
      for (int64_t e = 0; e < n->numel; e++) {
        int64_t j = e % Wo, i = (e / Wo) % Ho, bc = e / (Wo * Ho), k = 0;
        float m = -INFINITY;
        for (int64_t p = 0; p < n->attrs.kernel[0]; p++)
          for (int64_t q = 0; q < n->attrs.kernel[1]; q++) {
            int64_t hh = i * n->attrs.stride[0] - n->attrs.padding[0] + p;
            int64_t ww = j * n->attrs.stride[1] - n->attrs.padding[1] + q;
            int in = !(hh < 0 || hh >= H || ww < 0 || ww >= W);
            float xv = in ? a[(bc * H + hh) * W + ww] : 0.0f;
            terms[k++] = xv;
            if (in && xv > m)
              m = xv;
          }
        float cnt = (float)(n->attrs.kernel[0] * n->attrs.kernel[1]);
        o[e] = n->op == TL_OP_MAX_POOL2D
                   ? m
                   : (ord == VORD_REV ? fsum(terms, k, ord) * (1.0f / cnt) : fsum(terms, k, ord) / cnt);
      }
      break;
    }
    case TL_OP_BATCH_NORM: {
      const float *gm = v[n->parents[1]], *bt = v[n->parents[2]], *mu = v[n->parents[3]],
                  *var = v[n->parents[4]];
      int64_t inner = n->numel / (n->shape[0] * n->shape[1]);
      for (int64_t e = 0; e < n->numel; e++) {
        int64_t c = (e / inner) % n->shape[1];
        if (ord == VORD_SEQ)
          o[e] = (a[e] - mu[c]) / sqrtf(var[c] + (float)n->attrs.eps) * gm[c] + bt[c];
        else {
          float s = gm[c] / sqrtf(var[c] + (float)n->attrs.eps);
          o[e] = a[e] * s + (bt[c] - mu[c] * s);
        }
      }
      break;
    }
    case TL_OP_RELU:
      for (int64_t e = 0; e < n->numel; e++)
        o[e] = a[e] > 0 ? a[e] : 0.0f;
      break;
    case TL_OP_LEAKY_RELU:
      for (int64_t e = 0; e < n->numel; e++)
        o[e] = a[e] >= 0 ? a[e] : (float)n->attrs.alpha * a[e];
      break;
    case TL_OP_SIGMOID:
      for (int64_t e = 0; e < n->numel; e++)
        o[e] = 1.0f / (1.0f + expf(-a[e]));
      break;
    case TL_OP_TANH:
      for (int64_t e = 0; e < n->numel; e++)
        o[e] = tanhf(a[e]);
      break;
    case TL_OP_FLATTEN:
    case TL_OP_RESHAPE: memcpy(o, a, (size_t)n->numel * sizeof *o); break;
    case TL_OP_ADD:
      for (int64_t e = 0; e < n->numel; e++)
        o[e] = a[e] + v[n->parents[1]][e];
      break;
    case TL_OP_SUB:
    case TL_OP_MUL: { /* equal shapes, or a one-element operand broadcast (the Normalize layer) */
      const tl_node *pa = &g->nodes[n->parents[0]], *pb = &g->nodes[n->parents[1]];
      const float *b = v[n->parents[1]];
      if ((pa->numel != n->numel && pa->numel != 1) || (pb->numel != n->numel && pb->numel != 1)) {
        rc = -1;
        break;
      }
      for (int64_t e = 0; e < n->numel; e++) {
        float l = a[pa->numel == 1 ? 0 : e], r = b[pb->numel == 1 ? 0 : e];
        o[e] = n->op == TL_OP_SUB ? l - r : l * r;
      }
      break;
    }
    default: rc = -1;
    }
  }
  if (rc == 0)
    memcpy(y, v[out], (size_t)g->nodes[out].numel * sizeof *y);
  for (int i = 0; i < g->nnodes; i++)
    free(v[i]);
  free(v), free(terms);
  return rc;
}
