/* test_spec.c - the real-interval interpreter: exact rational agreement on random graphs, boxes,
 * domain errors named by node, transcendental and composite ops, softmax/layer norm traps. */
#include <criterion/criterion.h>
#include <gmp.h>
#include <math.h>
#include <mpfr.h>
#include <stdlib.h>
#include <string.h>

#include "nets.h"
#include "torchlean/spec.h"

static int q_inside(const tl_spec_result *r, int node, int64_t i, mpq_t q) {
  mpq_t lo, hi;
  mpq_init(lo), mpq_init(hi);
  mpfr_get_q(lo, tl_spec_lo(r, node, i));
  mpfr_get_q(hi, tl_spec_hi(r, node, i));
  int ok = mpq_cmp(lo, q) <= 0 && mpq_cmp(q, hi) <= 0;
  mpq_clear(lo), mpq_clear(hi);
  return ok;
}

/* the enclosure is tight: diameter (relative above 1, absolute below) at most 2^-100 */
static int tight(mpfi_srcptr v) {
  mpfr_t d;
  mpfr_init2(d, 64);
  mpfi_diam(d, v);
  int ok = mpfr_cmp_d(d, 0x1p-100) <= 0;
  mpfr_clear(d);
  return ok;
}

Test(spec, random_graphs_enclose_exact_rationals) {
  for (uint64_t seed = 1; seed <= 60; seed++) {
    tnet t;
    tnet_make(&t, seed * 7919);
    uint64_t s = seed;
    double *x = malloc((size_t)t.nin * sizeof *x);
    for (int64_t i = 0; i < t.nin; i++)
      x[i] = (double)tnet_randf(&s) * 4;
    const double *in[] = {x};
    tl_spec_result *r;
    tl_status st;
    cr_assert_eq(tl_spec_eval(NULL, t.g, in, NULL, &r, &st), TL_OK, "%s", st.msg);
    int64_t no = tnet_nout(&t);
    mpq_t *q = malloc((size_t)no * sizeof *q);
    for (int64_t i = 0; i < no; i++)
      mpq_init(q[i]);
    tnet_eval_q(&t, x, q);
    for (int64_t i = 0; i < no; i++) {
      cr_assert(q_inside(r, t.out, i, q[i]), "seed %llu output %lld", (unsigned long long)seed, (long long)i);
      double lo, hi;
      tl_spec_get_d(r, t.out, i, &lo, &hi);
      cr_assert(tight(tl_spec_value(r, t.out, i)), "enclosure too wide: [%a, %a]", lo, hi);
      mpq_clear(q[i]);
    }
    free(q), free(x);
    tl_spec_result_free(r);
    tnet_free(&t);
  }
}

Test(spec, box_encloses_sampled_points) {
  for (uint64_t seed = 100; seed < 130; seed++) {
    tnet t;
    tnet_make(&t, seed * 104729);
    uint64_t s = seed;
    double *lo = malloc((size_t)t.nin * sizeof *lo), *hi = malloc((size_t)t.nin * sizeof *hi),
           *x = malloc((size_t)t.nin * sizeof *x);
    for (int64_t i = 0; i < t.nin; i++) {
      double c = (double)tnet_randf(&s) * 2, rad = 0.1 * fabs((double)tnet_randf(&s));
      lo[i] = c - rad, hi[i] = c + rad;
    }
    const double *L[] = {lo}, *H[] = {hi};
    tl_spec_result *r;
    tl_status st;
    cr_assert_eq(tl_spec_eval(NULL, t.g, L, H, &r, &st), TL_OK, "%s", st.msg);
    int64_t no = tnet_nout(&t);
    mpq_t *q = malloc((size_t)no * sizeof *q);
    for (int64_t i = 0; i < no; i++)
      mpq_init(q[i]);
    for (int k = 0; k < 40; k++) {
      for (int64_t i = 0; i < t.nin; i++) {
        uint64_t b = tnet_rand(&s);
        /* corners, faces and interior */
        x[i] = k < 2          ? (k == 0 ? lo[i] : hi[i])
               : (b & 3) == 0 ? lo[i]
               : (b & 3) == 1 ? hi[i]
                              : lo[i] + (hi[i] - lo[i]) * (double)(b >> 11) / 0x1p53;
      }
      tnet_eval_q(&t, x, q);
      for (int64_t i = 0; i < no; i++)
        cr_assert(q_inside(r, t.out, i, q[i]), "seed %llu sample %d output %lld", (unsigned long long)seed, k,
                  (long long)i);
    }
    for (int64_t i = 0; i < no; i++)
      mpq_clear(q[i]);
    free(q), free(lo), free(hi), free(x);
    tl_spec_result_free(r);
    tnet_free(&t);
  }
}

/* one input of n elements -> op */
static tl_graph *unary_graph(tl_op op, int64_t n, const tl_attrs *a, int *out) {
  tl_graph *g = tl_graph_new();
  int x;
  int64_t sh[] = {n};
  cr_assert_eq(tl_graph_input(g, "x", 1, sh, &x, NULL), TL_OK);
  cr_assert_eq(tl_graph_op(g, op, 1, &x, a, out, NULL), TL_OK);
  return g;
}

Test(spec, domain_errors_name_the_node) {
  int y;
  tl_graph *g = unary_graph(TL_OP_LOG, 1, NULL, &y);
  double lo[] = {-1}, hi[] = {2};
  const double *L[] = {lo}, *H[] = {hi};
  tl_spec_result *r = (tl_spec_result *)1;
  tl_status st;
  cr_assert_eq(tl_spec_eval(NULL, g, L, H, &r, &st), TL_EDOMAIN);
  cr_assert_null(r);
  cr_assert_str_eq(st.msg, "node 1 (log): argument interval [-1, 2] reaches 0");
  tl_graph_free(g);

  g = unary_graph(TL_OP_SQRT, 1, NULL, &y);
  cr_assert_eq(tl_spec_eval(NULL, g, L, H, &r, &st), TL_EDOMAIN);
  cr_assert(strstr(st.msg, "node 1 (sqrt)") != NULL, "%s", st.msg);
  tl_graph_free(g);

  g = tl_graph_new();
  int x, z;
  int64_t sh[] = {1};
  tl_graph_input(g, "a", 1, sh, &x, NULL);
  tl_graph_input(g, "b", 1, sh, &z, NULL);
  int p[] = {x, z};
  tl_graph_op(g, TL_OP_DIV, 2, p, NULL, &y, NULL);
  double one[] = {1};
  const double *L2[] = {one, lo}, *H2[] = {one, hi};
  cr_assert_eq(tl_spec_eval(NULL, g, L2, H2, &r, &st), TL_EDOMAIN);
  cr_assert(strstr(st.msg, "node 2 (div): divisor interval [-1, 2] contains 0") != NULL, "%s", st.msg);
  /* NaN input rejected */
  double nan1[] = {NAN};
  const double *L3[] = {one, nan1};
  cr_assert_eq(tl_spec_eval(NULL, g, L3, NULL, &r, &st), TL_EARG);
  tl_graph_free(g);
}

/* check an elementwise op: enclosure at points contains a high-precision reference within
 * 1e-14 relative; box enclosure contains point enclosures of samples */
static void check_unary(tl_op op, double (*ref)(double), double a, double b, double rtol) {
  int y;
  tl_attrs at = tl_attrs_default(op);
  tl_graph *g = unary_graph(op, 1, &at, &y);
  for (int k = 0; k <= 200; k++) {
    double x = a + (b - a) * k / 200.0;
    const double *L[] = {&x};
    tl_spec_result *r;
    tl_status st;
    cr_assert_eq(tl_spec_eval(NULL, g, L, NULL, &r, &st), TL_OK, "%s", st.msg);
    double lo, hi, v = ref(x);
    tl_spec_get_d(r, y, 0, &lo, &hi);
    double tol = rtol * (fabs(v) + 1e-300) + 1e-300;
    cr_assert(lo - tol <= v && v <= hi + tol, "%s(%a) = %a not in [%a, %a]", tl_op_get(op)->name, x, v, lo,
              hi);
    cr_assert(tight(tl_spec_value(r, y, 0)), "%s(%a): width %g", tl_op_get(op)->name, x, hi - lo);
    tl_spec_result_free(r);
  }
  /* boxes */
  for (int k = 0; k < 20; k++) {
    double c = a + (b - a) * k / 20.0, lo = c, hi = c + (b - a) / 7;
    const double *L[] = {&lo}, *H[] = {&hi};
    tl_spec_result *rb;
    cr_assert_eq(tl_spec_eval(NULL, g, L, H, &rb, NULL), TL_OK);
    for (int j = 0; j <= 50; j++) {
      double x = lo + (hi - lo) * j / 50.0;
      const double *P[] = {&x};
      tl_spec_result *rp;
      cr_assert_eq(tl_spec_eval(NULL, g, P, NULL, &rp, NULL), TL_OK);
      cr_assert(mpfi_is_inside(tl_spec_value(rp, y, 0), tl_spec_value(rb, y, 0)), "%s box [%a, %a] at %a",
                tl_op_get(op)->name, lo, hi, x);
      tl_spec_result_free(rp);
    }
    tl_spec_result_free(rb);
  }
  tl_graph_free(g);
}

static double ref_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double ref_silu(double x) { return x / (1 + exp(-x)); }
static double ref_gelu(double x) {
  return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}
static double ref_relu(double x) { return x > 0 ? x : 0; }

Test(spec, elementwise_ops_enclose_references) {
  check_unary(TL_OP_EXP, exp, -20, 20, 1e-13);
  check_unary(TL_OP_TANH, tanh, -5, 5, 1e-13);
  check_unary(TL_OP_SIGMOID, ref_sigmoid, -30, 30, 1e-13);
  check_unary(TL_OP_SILU, ref_silu, -6, 4, 1e-13);
  check_unary(TL_OP_GELU, ref_gelu, -4, 3, 1e-9);
  check_unary(TL_OP_RELU, ref_relu, -3, 3, 1e-13);
  check_unary(TL_OP_LOG, log, 0.01, 50, 1e-13);
  check_unary(TL_OP_SQRT, sqrt, 0, 50, 1e-13);
}

Test(spec, softmax_of_large_logits) {
  int y, z;
  tl_attrs a = tl_attrs_default(TL_OP_SOFTMAX);
  tl_graph *g = unary_graph(TL_OP_SOFTMAX, 2, &a, &y);
  tl_attrs a2 = tl_attrs_default(TL_OP_LOG_SOFTMAX);
  int x = 0;
  cr_assert_eq(tl_graph_op(g, TL_OP_LOG_SOFTMAX, 1, &x, &a2, &z, NULL), TL_OK);
  double in[] = {1000, 1001};
  const double *L[] = {in};
  tl_spec_result *r;
  tl_status st;
  cr_assert_eq(tl_spec_eval(NULL, g, L, NULL, &r, &st), TL_OK, "%s", st.msg);
  double lo, hi, e = exp(1.0);
  tl_spec_get_d(r, y, 0, &lo, &hi);
  cr_assert(lo <= 1 / (1 + e) + 1e-16 && hi >= 1 / (1 + e) - 1e-16 && tight(tl_spec_value(r, y, 0)));
  tl_spec_get_d(r, y, 1, &lo, &hi);
  cr_assert(lo <= e / (1 + e) + 1e-16 && hi >= e / (1 + e) - 1e-16 && tight(tl_spec_value(r, y, 1)));
  tl_spec_get_d(r, z, 0, &lo, &hi);
  double l0 = -log1p(e);
  cr_assert(lo <= l0 + 1e-15 && hi >= l0 - 1e-15 && tight(tl_spec_value(r, z, 0)), "[%a, %a]", lo, hi);
  tl_spec_result_free(r);
  tl_graph_free(g);
}

Test(spec, layer_norm_of_constant_row_is_beta) {
  tl_graph *g = tl_graph_new();
  int x, ga, be, y;
  int64_t sh[] = {2, 3}, v[] = {3};
  float gam[] = {2, 3, 4}, bet[] = {0.5f, -1, 0.25f};
  tl_graph_input(g, "x", 2, sh, &x, NULL);
  tl_graph_param(g, "g", TL_PARAM_TRAINABLE, 1, v, gam, &ga, NULL);
  tl_graph_param(g, "b", TL_PARAM_TRAINABLE, 1, v, bet, &be, NULL);
  tl_attrs a = tl_attrs_default(TL_OP_LAYER_NORM);
  int p[] = {x, ga, be};
  cr_assert_eq(tl_graph_op(g, TL_OP_LAYER_NORM, 3, p, &a, &y, NULL), TL_OK);
  double in[] = {0.1, 0.1, 0.1, 1, 2, 3};
  const double *L[] = {in};
  tl_spec_result *r;
  tl_status st;
  cr_assert_eq(tl_spec_eval(NULL, g, L, NULL, &r, &st), TL_OK, "%s", st.msg);
  for (int i = 0; i < 3; i++) {
    double lo, hi;
    tl_spec_get_d(r, y, i, &lo, &hi);
    cr_assert(lo <= bet[i] && bet[i] <= hi && tight(tl_spec_value(r, y, i)), "[%a, %a]", lo, hi);
  }
  /* row (1, 2, 3): mean 2, var 2/3: y_0 = -1/sqrt(2/3 + 1e-6) * 2 + 0.5 */
  double lo, hi, ref = -1 / sqrt(2.0 / 3 + 1e-6) * 2 + 0.5;
  tl_spec_get_d(r, y, 3, &lo, &hi);
  cr_assert(fabs(lo - ref) < 1e-14 && fabs(hi - ref) < 1e-14);
  tl_spec_result_free(r);
  tl_graph_free(g);
}

Test(spec, misc_ops_evaluate) {
  /* batch norm, permute, concat, slice, max/min/clamp, mse, cross entropy, attention, matmul */
  tl_graph *g = tl_graph_new();
  int x, y, t;
  int64_t sh[] = {2, 3, 2, 2}, cv[] = {3};
  float gm[] = {1, 2, 3}, bt[] = {0, 1, 0}, mu[] = {0.5f, 0, -1}, var[] = {1, 4, 0.25f};
  int pg, pb, pm, pv;
  tl_graph_input(g, "x", 4, sh, &x, NULL);
  tl_graph_param(g, "g", TL_PARAM_TRAINABLE, 1, cv, gm, &pg, NULL);
  tl_graph_param(g, "b", TL_PARAM_TRAINABLE, 1, cv, bt, &pb, NULL);
  tl_graph_param(g, "m", TL_PARAM_BUFFER, 1, cv, mu, &pm, NULL);
  tl_graph_param(g, "v", TL_PARAM_BUFFER, 1, cv, var, &pv, NULL);
  tl_attrs a = tl_attrs_default(TL_OP_BATCH_NORM);
  int p[] = {x, pg, pb, pm, pv};
  cr_assert_eq(tl_graph_op(g, TL_OP_BATCH_NORM, 5, p, &a, &y, NULL), TL_OK);
  tl_attrs gp = tl_attrs_default(TL_OP_GLOBAL_AVG_POOL);
  int gap;
  cr_assert_eq(tl_graph_op(g, TL_OP_GLOBAL_AVG_POOL, 1, &y, &gp, &gap, NULL), TL_OK);
  int64_t tsh[] = {2, 3};
  tl_graph_input(g, "t", 2, tsh, &t, NULL);
  int ce, pce[] = {gap, t};
  cr_assert_eq(tl_graph_op(g, TL_OP_CROSS_ENTROPY, 2, pce, NULL, &ce, NULL), TL_OK);
  int mse;
  cr_assert_eq(tl_graph_op(g, TL_OP_MSE_LOSS, 2, pce, NULL, &mse, NULL), TL_OK);
  double in[24], tg[] = {1, 0, 0, 0.25, 0.25, 0.5};
  for (int i = 0; i < 24; i++)
    in[i] = (i % 7) * 0.5 - 1;
  const double *L[] = {in, tg};
  tl_spec_result *r;
  tl_status st;
  cr_assert_eq(tl_spec_eval(NULL, g, L, NULL, &r, &st), TL_OK, "%s", st.msg);
  /* batch norm element 0: channel 0: (x - 0.5)/sqrt(1 + 1e-5) * 1 + 0 */
  double lo, hi, ref = (in[0] - 0.5) / sqrt(1 + 1e-5);
  tl_spec_get_d(r, y, 0, &lo, &hi);
  cr_assert(fabs(lo - ref) < 1e-14 && fabs(hi - ref) < 1e-14);
  /* cross entropy against a double computation */
  double ga[6], cer = 0;
  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 3; c++) {
      double s = 0, sc = 1 / sqrt(var[c] + 1e-5);
      for (int k = 0; k < 4; k++)
        s += ((in[(n * 3 + c) * 4 + k] - mu[c]) * sc) * gm[c] + bt[c];
      ga[n * 3 + c] = s / 4;
    }
  for (int n = 0; n < 2; n++) {
    double m = fmax(ga[n * 3], fmax(ga[n * 3 + 1], ga[n * 3 + 2])), se = 0;
    for (int c = 0; c < 3; c++)
      se += exp(ga[n * 3 + c] - m);
    for (int c = 0; c < 3; c++)
      cer -= tg[n * 3 + c] * (ga[n * 3 + c] - m - log(se));
  }
  cer /= 2;
  tl_spec_get_d(r, ce, 0, &lo, &hi);
  cr_assert(fabs(lo - cer) < 1e-12 && fabs(hi - cer) < 1e-12, "[%a, %a] vs %a", lo, hi, cer);
  double mser = 0;
  for (int i = 0; i < 6; i++)
    mser += (ga[i] - tg[i]) * (ga[i] - tg[i]);
  tl_spec_get_d(r, mse, 0, &lo, &hi);
  cr_assert(fabs(lo - mser / 6) < 1e-12, "%a vs %a", lo, mser / 6);
  tl_spec_result_free(r);
  tl_graph_free(g);
}

Test(spec, attention_matches_double_reference) {
  tl_graph *g = tl_graph_new();
  int64_t E = 4, Lq = 3, xs[] = {1, 3, 4}, wi[] = {12, 4}, bi[] = {12}, wo[] = {4, 4}, bo[] = {4};
  uint64_t s = 5;
  float Wi[48], Bi[12], Wo[16], Bo[4];
  for (int i = 0; i < 48; i++)
    Wi[i] = tnet_randf(&s);
  for (int i = 0; i < 12; i++)
    Bi[i] = tnet_randf(&s);
  for (int i = 0; i < 16; i++)
    Wo[i] = tnet_randf(&s);
  for (int i = 0; i < 4; i++)
    Bo[i] = tnet_randf(&s);
  int x, p1, p2, p3, p4, y;
  tl_graph_input(g, "x", 3, xs, &x, NULL);
  tl_graph_param(g, "wi", TL_PARAM_TRAINABLE, 2, wi, Wi, &p1, NULL);
  tl_graph_param(g, "bi", TL_PARAM_TRAINABLE, 1, bi, Bi, &p2, NULL);
  tl_graph_param(g, "wo", TL_PARAM_TRAINABLE, 2, wo, Wo, &p3, NULL);
  tl_graph_param(g, "bo", TL_PARAM_TRAINABLE, 1, bo, Bo, &p4, NULL);
  tl_attrs a = tl_attrs_default(TL_OP_ATTENTION);
  a.heads = 2;
  a.causal = 1;
  int p[] = {x, p1, p2, p3, p4};
  cr_assert_eq(tl_graph_op(g, TL_OP_ATTENTION, 5, p, &a, &y, NULL), TL_OK);
  double in[12];
  for (int i = 0; i < 12; i++)
    in[i] = tnet_randf(&s);
  const double *L[] = {in};
  tl_spec_result *r;
  tl_status st;
  cr_assert_eq(tl_spec_eval(NULL, g, L, NULL, &r, &st), TL_OK, "%s", st.msg);
  double qkv[3][12], o[3][4];
  for (int i = 0; i < Lq; i++)
    for (int f = 0; f < 12; f++) {
      qkv[i][f] = Bi[f];
      for (int k = 0; k < E; k++)
        qkv[i][f] += in[i * 4 + k] * Wi[f * 4 + k];
    }
  for (int h = 0; h < 2; h++)
    for (int i = 0; i < Lq; i++) {
      double sc[3], m = -INFINITY, z = 0;
      for (int j = 0; j <= i; j++) {
        sc[j] = (qkv[i][h * 2] * qkv[j][4 + h * 2] + qkv[i][h * 2 + 1] * qkv[j][4 + h * 2 + 1]) / sqrt(2.0);
        m = fmax(m, sc[j]);
      }
      for (int j = 0; j <= i; j++)
        z += exp(sc[j] - m);
      for (int k = 0; k < 2; k++) {
        o[i][h * 2 + k] = 0;
        for (int j = 0; j <= i; j++)
          o[i][h * 2 + k] += exp(sc[j] - m) / z * qkv[j][8 + h * 2 + k];
      }
    }
  for (int i = 0; i < Lq; i++)
    for (int f = 0; f < E; f++) {
      double v = Bo[f];
      for (int k = 0; k < E; k++)
        v += o[i][k] * Wo[f * 4 + k];
      double lo, hi;
      tl_spec_get_d(r, y, i * 4 + f, &lo, &hi);
      cr_assert(fabs(lo - v) < 1e-12 && fabs(hi - v) < 1e-12, "(%d, %d): [%a, %a] vs %a", i, f, lo, hi, v);
    }
  tl_spec_result_free(r);
  tl_graph_free(g);
}

/* ---- the exact fixed-point dot products (spec/fxdot.c) against the generic MPFI path ---------- */

/* awkward float32 weights: zeros, subnormals, huge and tiny normals, both signs */
static float fx_weight(uint64_t *s) {
  uint64_t b = tnet_rand(s);
  float v = tnet_randf(s);
  switch (b % 11) {
  case 0: return 0.0f;
  case 1: return v * 0x1p-140f; /* subnormal */
  case 2: return v * 0x1p100f;
  case 3: return v * 0x1p-120f;
  case 4: return -0.0f;
  default: return v;
  }
}

static double fx_input(uint64_t *s) {
  uint64_t b = tnet_rand(s);
  double v = (double)tnet_randf(s) + (double)tnet_randf(s) * 0x1p-40;
  switch (b % 9) {
  case 0: return 0.0;
  case 1: return v * 0x1p-300;
  case 2: return v * 0x1p60;
  default: return v;
  }
}

/* x[2,6] -> linear(5, bias) -> tanh -> linear(3) -> matmul(., B[3,4]) -> matmul(A[2,2], .);
 * c[1,2,5,5] -> conv(3 out, 3x3, pad 1, stride 2, bias) -> relu -> conv(2 out, 2x2, dilation 2) */
typedef struct fx_net {
  tl_graph *g;
  int x, c, lin1, mmb, mma, conv1, conv2;
  float w1[30], b1[5], w2[15], B[12], A[4], cw1[54], cb1[3], cw2[24];
} fx_net;

static void fx_net_make(fx_net *n, uint64_t seed) {
  uint64_t s = seed;
  for (int i = 0; i < 30; i++)
    n->w1[i] = fx_weight(&s);
  for (int i = 0; i < 5; i++)
    n->b1[i] = fx_weight(&s);
  for (int i = 0; i < 15; i++)
    n->w2[i] = fx_weight(&s);
  for (int i = 0; i < 12; i++)
    n->B[i] = fx_weight(&s);
  for (int i = 0; i < 4; i++)
    n->A[i] = fx_weight(&s);
  for (int i = 0; i < 54; i++)
    n->cw1[i] = fx_weight(&s);
  for (int i = 0; i < 3; i++)
    n->cb1[i] = fx_weight(&s);
  for (int i = 0; i < 24; i++)
    n->cw2[i] = fx_weight(&s);
  tl_graph *g = n->g = tl_graph_new();
  int64_t xs[] = {2, 6}, w1s[] = {5, 6}, b1s[] = {5}, w2s[] = {3, 5}, Bs[] = {3, 4}, As[] = {2, 2};
  int64_t cs[] = {1, 2, 5, 5}, cw1s[] = {3, 2, 3, 3}, cb1s[] = {3}, cw2s[] = {2, 3, 2, 2};
  int pw1, pb1, pw2, pB, pA, pc1, pcb, pc2, t;
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &n->x, NULL), TL_OK);
  cr_assert_eq(tl_graph_input(g, "c", 4, cs, &n->c, NULL), TL_OK);
  tl_graph_param(g, "w1", TL_PARAM_TRAINABLE, 2, w1s, n->w1, &pw1, NULL);
  tl_graph_param(g, "b1", TL_PARAM_TRAINABLE, 1, b1s, n->b1, &pb1, NULL);
  tl_graph_param(g, "w2", TL_PARAM_TRAINABLE, 2, w2s, n->w2, &pw2, NULL);
  tl_graph_param(g, "B", TL_PARAM_TRAINABLE, 2, Bs, n->B, &pB, NULL);
  tl_graph_param(g, "A", TL_PARAM_BUFFER, 2, As, n->A, &pA, NULL);
  tl_graph_param(g, "cw1", TL_PARAM_TRAINABLE, 4, cw1s, n->cw1, &pc1, NULL);
  tl_graph_param(g, "cb1", TL_PARAM_TRAINABLE, 1, cb1s, n->cb1, &pcb, NULL);
  tl_graph_param(g, "cw2", TL_PARAM_TRAINABLE, 4, cw2s, n->cw2, &pc2, NULL);
  int p1[] = {n->x, pw1, pb1};
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 3, p1, NULL, &n->lin1, NULL), TL_OK);
  cr_assert_eq(tl_graph_op(g, TL_OP_TANH, 1, &n->lin1, NULL, &t, NULL), TL_OK);
  int p2[] = {t, pw2};
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 2, p2, NULL, &t, NULL), TL_OK);
  int p3[] = {t, pB};
  cr_assert_eq(tl_graph_op(g, TL_OP_MATMUL, 2, p3, NULL, &n->mmb, NULL), TL_OK);
  int p4[] = {pA, n->mmb};
  cr_assert_eq(tl_graph_op(g, TL_OP_MATMUL, 2, p4, NULL, &n->mma, NULL), TL_OK);
  tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
  a.padding[0] = a.padding[1] = 1;
  a.stride[0] = a.stride[1] = 2;
  int p5[] = {n->c, pc1, pcb};
  cr_assert_eq(tl_graph_op(g, TL_OP_CONV2D, 3, p5, &a, &n->conv1, NULL), TL_OK);
  cr_assert_eq(tl_graph_op(g, TL_OP_RELU, 1, &n->conv1, NULL, &t, NULL), TL_OK);
  a = tl_attrs_default(TL_OP_CONV2D);
  a.dilation[0] = a.dilation[1] = 2;
  int p6[] = {t, pc2};
  cr_assert_eq(tl_graph_op(g, TL_OP_CONV2D, 2, p6, &a, &n->conv2, NULL), TL_OK);
}

/* exact value (mpq) of linear node lin1 element (r, o) and conv1 element (o, i, j) at a point */
static void fx_exact_lin1(const fx_net *n, const double *x, int r, int o, mpq_t q) {
  mpq_t t, u;
  mpq_init(t), mpq_init(u);
  mpq_set_d(q, (double)n->b1[o]);
  for (int i = 0; i < 6; i++) {
    mpq_set_d(t, x[r * 6 + i]);
    mpq_set_d(u, (double)n->w1[o * 6 + i]);
    mpq_mul(t, t, u);
    mpq_add(q, q, t);
  }
  mpq_clear(t), mpq_clear(u);
}

static void fx_exact_conv1(const fx_net *n, const double *c, int o, int i, int j, mpq_t q) {
  mpq_t t, u;
  mpq_init(t), mpq_init(u);
  mpq_set_d(q, (double)n->cb1[o]);
  for (int ch = 0; ch < 2; ch++)
    for (int p = 0; p < 3; p++)
      for (int k = 0; k < 3; k++) {
        int h = i * 2 - 1 + p, w = j * 2 - 1 + k;
        if (h < 0 || h >= 5 || w < 0 || w >= 5)
          continue;
        mpq_set_d(t, c[(ch * 5 + h) * 5 + w]);
        mpq_set_d(u, (double)n->cw1[((o * 2 + ch) * 3 + p) * 3 + k]);
        mpq_mul(t, t, u);
        mpq_add(q, q, t);
      }
  mpq_clear(t), mpq_clear(u);
}

/* every element of every node: fast enclosure inside the generic one (width factor <= 1) */
static void fx_check_inside(const tl_graph *g, const tl_spec_result *fast, const tl_spec_result *slow,
                            uint64_t seed) {
  for (int nd = 0; nd < g->nnodes; nd++)
    for (int64_t i = 0; i < tl_spec_numel(fast, nd); i++)
      cr_assert(mpfi_is_inside(tl_spec_value(fast, nd, i), tl_spec_value(slow, nd, i)),
                "seed %llu node %d (%s) element %lld: fast enclosure not inside the generic one",
                (unsigned long long)seed, nd, tl_op_get(g->nodes[nd].op)->name, (long long)i);
}

Test(spec, fast_dot_paths_inside_generic_and_exact) {
  tl_spec_ctx gen;
  tl_spec_ctx_init(&gen);
  gen.generic = 1;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    fx_net n;
    fx_net_make(&n, seed * 6151);
    uint64_t s = seed;
    double xl[12], xh[12], cl[50], ch[50], xp[12], cp[50];
    int box = seed % 2 == 0;
    for (int i = 0; i < 12; i++) {
      xl[i] = fx_input(&s);
      xh[i] = box && i % 3 ? xl[i] + fabs(fx_input(&s)) * 0x1p-10 : xl[i];
    }
    for (int i = 0; i < 50; i++) {
      cl[i] = fx_input(&s);
      ch[i] = box && i % 4 ? cl[i] + fabs(fx_input(&s)) : cl[i];
    }
    const double *L[] = {xl, cl}, *H[] = {xh, ch};
    tl_spec_result *rf, *rs;
    tl_status st;
    cr_assert_eq(tl_spec_eval(NULL, n.g, L, H, &rf, &st), TL_OK, "%s", st.msg);
    cr_assert_eq(tl_spec_eval(&gen, n.g, L, H, &rs, &st), TL_OK, "%s", st.msg);
    fx_check_inside(n.g, rf, rs, seed);
    /* exact values at sampled points (corners and interior) lie in the fast box enclosure, and the
     * fast point enclosures lie inside the generic point enclosures */
    mpq_t q;
    mpq_init(q);
    for (int k = 0; k < 8; k++) {
      for (int i = 0; i < 12; i++)
        xp[i] = k == 0   ? xl[i]
                : k == 1 ? xh[i]
                         : xl[i] + (xh[i] - xl[i]) * (double)(tnet_rand(&s) >> 11) / 0x1p53;
      for (int i = 0; i < 50; i++)
        cp[i] = k == 0 ? cl[i] : k == 1 ? ch[i] : tnet_rand(&s) % 2 ? cl[i] : ch[i];
      for (int r = 0; r < 2; r++)
        for (int o = 0; o < 5; o++) {
          fx_exact_lin1(&n, xp, r, o, q);
          cr_assert(q_inside(rf, n.lin1, r * 5 + o, q), "seed %llu lin1 (%d, %d)", (unsigned long long)seed,
                    r, o);
        }
      for (int o = 0; o < 3; o++)
        for (int i = 0; i < 3; i++)
          for (int j = 0; j < 3; j++) {
            fx_exact_conv1(&n, cp, o, i, j, q);
            cr_assert(q_inside(rf, n.conv1, (o * 3 + i) * 3 + j, q), "seed %llu conv1 (%d, %d, %d)",
                      (unsigned long long)seed, o, i, j);
          }
      const double *P[] = {xp, cp};
      tl_spec_result *pf, *ps;
      cr_assert_eq(tl_spec_eval(NULL, n.g, P, NULL, &pf, &st), TL_OK, "%s", st.msg);
      cr_assert_eq(tl_spec_eval(&gen, n.g, P, NULL, &ps, &st), TL_OK, "%s", st.msg);
      fx_check_inside(n.g, pf, ps, seed);
      for (int nd = 0; nd < n.g->nnodes; nd++)
        for (int64_t i = 0; i < tl_spec_numel(pf, nd); i++)
          cr_assert(mpfi_is_inside(tl_spec_value(pf, nd, i), tl_spec_value(rf, nd, i)),
                    "seed %llu sample %d node %d element %lld outside the box enclosure",
                    (unsigned long long)seed, k, nd, (long long)i);
      /* at a point the first linear layer is the exact sum rounded once: a tight enclosure */
      for (int i = 0; i < 10; i++)
        cr_assert(tight(tl_spec_value(pf, n.lin1, i)));
      tl_spec_result_free(pf), tl_spec_result_free(ps);
    }
    mpq_clear(q);
    tl_spec_result_free(rf), tl_spec_result_free(rs);
    tl_graph_free(n.g);
  }
}

Test(spec, fast_dot_infinite_input_and_weight_fall_back) {
  tl_graph *g = tl_graph_new();
  int64_t xs[] = {1, 3}, ws[] = {2, 3};
  float w[] = {1, -2, 0.5f, INFINITY, 1, 1};
  int x, pw, y;
  tl_graph_input(g, "x", 2, xs, &x, NULL);
  tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 2, ws, w, &pw, NULL);
  int p[] = {x, pw};
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 2, p, NULL, &y, NULL), TL_OK);
  double lo[] = {1, 2, 3}, hi[] = {1, 2, INFINITY};
  const double *L[] = {lo}, *H[] = {hi};
  tl_spec_result *r;
  tl_status st;
  cr_assert_eq(tl_spec_eval(NULL, g, L, NULL, &r, &st), TL_OK, "%s", st.msg);
  double a, b;
  tl_spec_get_d(r, y, 0, &a, &b);
  cr_assert(a == -1.5 && b == -1.5, "[%a, %a]", a, b); /* 1 - 4 + 1.5, exact */
  tl_spec_get_d(r, y, 1, &a, &b);
  cr_assert(isinf(a) && a > 0 && isinf(b), "[%a, %a]", a, b); /* inf weight: generic path */
  tl_spec_result_free(r);
  cr_assert_eq(tl_spec_eval(NULL, g, L, H, &r, &st), TL_OK, "%s", st.msg);
  tl_spec_get_d(r, y, 0, &a, &b);
  cr_assert(a == -1.5 && isinf(b), "[%a, %a]", a, b);
  tl_spec_result_free(r);
  tl_graph_free(g);
}
