/* test_floats.c - the f32-ref emulator, the f32-any model and the comparison API: classic
 * floating-point traps, randomised agreement with plain float32 code in several orders, and the
 * libm ulp claim of TL_F32_LIBM_MAX_ULP. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <mpfr.h>
#include <stdlib.h>
#include <string.h>

#include "nets.h"
#include "torchlean/floats.h"

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* graph: x (1, n) -> linear with w (1, n) [+ b] */
static tl_graph *dot_graph(int n, const float *w, const float *b, int *out) {
  tl_graph *g = tl_graph_new();
  int x, pw, pb = -1;
  int64_t xs[] = {1, n}, ws[] = {1, n}, bs[] = {1};
  tl_graph_input(g, "x", 2, xs, &x, NULL);
  tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 2, ws, w, &pw, NULL);
  if (b)
    tl_graph_param(g, "b", TL_PARAM_TRAINABLE, 1, bs, b, &pb, NULL);
  int p[] = {x, pw, pb};
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, b ? 3 : 2, p, NULL, out, NULL), TL_OK);
  return g;
}

Test(floats, two_pow_24_plus_one_minus_two_pow_24) {
  tl_graph *g = tl_graph_new();
  int a, b, s, y;
  int64_t sh[] = {1};
  tl_graph_input(g, "a", 1, sh, &a, NULL);
  tl_graph_input(g, "b", 1, sh, &b, NULL);
  int p1[] = {a, b};
  tl_graph_op(g, TL_OP_ADD, 2, p1, NULL, &s, NULL);
  int p2[] = {s, a};
  tl_graph_op(g, TL_OP_SUB, 2, p2, NULL, &y, NULL);
  float av[] = {16777216.0f}, bv[] = {1.0f};
  const float *in[] = {av, bv};
  tl_compare_report *r;
  tl_status st;
  cr_assert_eq(tl_compare_run(NULL, g, in, NULL, &r, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(r->emu->v[y][0], 0.0f); /* float32: (2^24 + 1) rounds to 2^24 (ties to even) */
  volatile float fa = av[0], fb = bv[0], fs = fa + fb;
  cr_assert_eq(fs - fa, r->emu->v[y][0]);
  double lo, hi;
  tl_spec_get_d(r->spec, y, 0, &lo, &hi);
  cr_assert(lo == 1 && hi == 1); /* real: exactly 1 */
  cr_assert(tl_f32any_contains(r->any, y, 0, 0.0f));
  cr_assert(tl_f32any_contains(r->any, y, 0, 2.0f));
  cr_assert_eq(r->nodes[y].emu_max_abs_err, 1.0);
  tl_compare_report_free(r);
  tl_graph_free(g);
}

Test(floats, catastrophic_cancellation_in_dot_product) {
  float w[] = {1, 1, 1}, x[] = {1e8f, 1.0f, -1e8f};
  int y;
  tl_graph *g = dot_graph(3, w, NULL, &y);
  const float *in[] = {x};
  tl_compare_report *r;
  tl_status st;
  cr_assert_eq(tl_compare_run(NULL, g, in, NULL, &r, &st), TL_OK, "%s", st.msg);
  double lo, hi;
  tl_spec_get_d(r->spec, y, 0, &lo, &hi);
  cr_assert(lo == 1 && hi == 1);
  cr_assert_eq(r->emu->v[y][0], 0.0f); /* left fold: 1e8 + 1 = 1e8 */
  /* other orders: reversed gives 0 too, (x0 + x2) + x1 gives 1: both inside f32-any */
  cr_assert(tl_f32any_contains(r->any, y, 0, 0.0f));
  cr_assert(tl_f32any_contains(r->any, y, 0, 1.0f));
  tl_f32any_get_d(r->any, y, 0, &lo, &hi);
  cr_assert(hi - lo < 100, "any-order enclosure [%g, %g] too loose", lo, hi);
  tl_compare_report_free(r);
  tl_graph_free(g);
}

Test(floats, subnormal_inputs_and_products) {
  float w[] = {0x1p-20f, 0x1p-3f}, x[] = {0x1p-140f, 0x1p-146f}; /* 2^-160 underflows to 0 */
  int y;
  tl_graph *g = dot_graph(2, w, NULL, &y);
  const float *in[] = {x};
  tl_compare_report *r;
  tl_status st;
  cr_assert_eq(tl_compare_run(NULL, g, in, NULL, &r, &st), TL_OK, "%s", st.msg);
  volatile float p0 = x[0] * w[0], p1 = x[1] * w[1], s = p0 + p1;
  cr_assert_eq(bits(r->emu->v[y][0]), bits(s));
  cr_assert_eq(s, 0x1p-149f); /* 2^-149 + 2^-160 rounds to the smallest subnormal */
  cr_assert(tl_f32any_contains(r->any, y, 0, s));
  mpfr_t e;
  mpfr_init2(e, 64);
  mpfr_set_d(e, 0x1p-149, MPFR_RNDN);
  mpfr_add_d(e, e, 0x1p-160, MPFR_RNDN);
  cr_assert(mpfi_is_inside_fr(e, tl_spec_value(r->spec, y, 0)));
  mpfr_clear(e);
  tl_compare_report_free(r);
  tl_graph_free(g);
}

Test(floats, overflow_gives_unbounded_enclosure) {
  float w[] = {1, 1}, x[] = {3e38f, 3e38f};
  int y;
  tl_graph *g = dot_graph(2, w, NULL, &y);
  const float *in[] = {x};
  tl_compare_report *r;
  tl_status st;
  cr_assert_eq(tl_compare_run(NULL, g, in, NULL, &r, &st), TL_OK, "%s", st.msg);
  cr_assert(isinf(r->emu->v[y][0]) && r->emu->v[y][0] > 0);
  double lo, hi;
  tl_f32any_get_d(r->any, y, 0, &lo, &hi);
  cr_assert(isinf(hi), "overflow not detected: [%g, %g]", lo, hi);
  tl_spec_get_d(r->spec, y, 0, &lo, &hi);
  cr_assert(lo == 6e38 || (lo < 6.0000001e38 && lo > 5.9999e38)); /* real result is finite */
  tl_compare_report_free(r);
  tl_graph_free(g);
  /* exp of a large value: +inf in float32 and an unbounded f32-any enclosure */
  g = tl_graph_new();
  int64_t sh[] = {1};
  int xi;
  tl_graph_input(g, "x", 1, sh, &xi, NULL);
  tl_graph_op(g, TL_OP_EXP, 1, &xi, NULL, &y, NULL);
  float big[] = {100.0f};
  const float *in2[] = {big};
  cr_assert_eq(tl_compare_run(NULL, g, in2, NULL, &r, &st), TL_OK, "%s", st.msg);
  cr_assert(isinf(r->emu->v[y][0]));
  tl_f32any_get_d(r->any, y, 0, &lo, &hi);
  cr_assert(isinf(hi));
  tl_compare_report_free(r);
  tl_graph_free(g);
}

Test(floats, nan_propagation_and_signed_zeros) {
  tl_graph *g = tl_graph_new();
  int64_t sh[] = {4};
  int a, b, mx, mn, re, ad;
  tl_graph_input(g, "a", 1, sh, &a, NULL);
  tl_graph_input(g, "b", 1, sh, &b, NULL);
  int p[] = {a, b};
  tl_graph_op(g, TL_OP_MAX, 2, p, NULL, &mx, NULL);
  tl_graph_op(g, TL_OP_MIN, 2, p, NULL, &mn, NULL);
  tl_graph_op(g, TL_OP_RELU, 1, &a, NULL, &re, NULL);
  tl_graph_op(g, TL_OP_ADD, 2, p, NULL, &ad, NULL);
  float av[] = {-0.0f, NAN, -0.0f, 1.0f}, bv[] = {0.0f, 1.0f, -0.0f, NAN};
  const float *in[] = {av, bv};
  tl_f32_values *v;
  tl_status st;
  cr_assert_eq(tl_f32_emulate(g, in, &v, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(bits(v->v[mx][0]), bits(0.0f));  /* max(-0, +0) = +0 */
  cr_assert_eq(bits(v->v[mn][0]), bits(-0.0f)); /* min(-0, +0) = -0 */
  cr_assert_eq(bits(v->v[mx][2]), bits(-0.0f)); /* max(-0, -0) = -0 */
  cr_assert(isnan(v->v[mx][1]) && isnan(v->v[mx][3]) && isnan(v->v[mn][1]) && isnan(v->v[mn][3]));
  cr_assert_eq(bits(v->v[re][0]), bits(0.0f)); /* relu(-0) = +0 */
  cr_assert_eq(bits(v->v[re][2]), bits(0.0f));
  cr_assert(isnan(v->v[re][1])); /* relu(NaN) = NaN */
  cr_assert(isnan(v->v[ad][1]) && isnan(v->v[ad][3]));
  cr_assert_eq(bits(v->v[ad][2]), bits(-0.0f)); /* -0 + -0 = -0 */
  cr_assert_eq(bits(v->v[ad][0]), bits(0.0f));  /* -0 + +0 = +0 */
  tl_f32_values_free(v);
  /* spec and f32-any refuse NaN inputs */
  tl_spec_result *sr;
  cr_assert_eq(tl_spec_eval_f32(NULL, g, in, NULL, &sr, &st), TL_EARG);
  tl_graph_free(g);
}

static void f32_softmax(int n, const float *x, float *y) {
  float m = x[0];
  for (int i = 1; i < n; i++)
    m = x[i] > m ? x[i] : m;
  volatile float s = 0;
  float e[16];
  for (int i = 0; i < n; i++) {
    volatile float d = x[i] - m;
    e[i] = expf(d);
    s = i == 0 ? e[i] : s + e[i];
  }
  for (int i = 0; i < n; i++)
    y[i] = e[i] / s;
}

Test(floats, softmax_of_large_logits) {
  tl_graph *g = tl_graph_new();
  int64_t sh[] = {1, 3};
  int x, y, z;
  tl_graph_input(g, "x", 2, sh, &x, NULL);
  tl_attrs a = tl_attrs_default(TL_OP_SOFTMAX);
  tl_graph_op(g, TL_OP_SOFTMAX, 1, &x, &a, &y, NULL);
  tl_graph_op(g, TL_OP_LOG_SOFTMAX, 1, &x, &a, &z, NULL);
  float in0[] = {1000.0f, 1001.0f, -1000.0f}, ref[3];
  const float *in[] = {in0};
  tl_compare_report *r;
  tl_status st;
  cr_assert_eq(tl_compare_run(NULL, g, in, NULL, &r, &st), TL_OK, "%s", st.msg);
  f32_softmax(3, in0, ref);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(bits(r->emu->v[y][i]), bits(ref[i]), "%d: %a vs %a", i, r->emu->v[y][i], ref[i]);
    cr_assert(tl_f32any_contains(r->any, y, i, ref[i]));
    cr_assert(isfinite(r->emu->v[z][i]));
  }
  cr_assert_eq(r->nodes[y].emu_outside_any, 0);
  cr_assert_eq(r->nodes[z].emu_outside_any, 0);
  cr_assert(r->nodes[y].emu_max_ulp_err <= 4, "softmax error %g ulp", r->nodes[y].emu_max_ulp_err);
  tl_compare_report_free(r);
  tl_graph_free(g);
}

Test(floats, layer_norm_of_constant_row) {
  tl_graph *g = tl_graph_new();
  int64_t sh[] = {1, 3}, v[] = {3};
  float gam[] = {1, 1, 1}, bet[] = {0, 0, 0};
  int x, pg, pb, y;
  tl_graph_input(g, "x", 2, sh, &x, NULL);
  tl_graph_param(g, "g", TL_PARAM_TRAINABLE, 1, v, gam, &pg, NULL);
  tl_graph_param(g, "b", TL_PARAM_TRAINABLE, 1, v, bet, &pb, NULL);
  tl_attrs a = tl_attrs_default(TL_OP_LAYER_NORM);
  int p[] = {x, pg, pb};
  tl_graph_op(g, TL_OP_LAYER_NORM, 3, p, &a, &y, NULL);
  float row[] = {0.1f, 0.1f, 0.1f};
  /* float32 in the reference order */
  volatile float s = row[0] + row[1];
  s = s + row[2];
  volatile float mean = s / 3.0f, d0 = row[0] - mean, q = d0 * d0;
  volatile float var = q + q;
  var = var + q;
  var = var / 3.0f;
  volatile float den = sqrtf(var + (float)1e-6), yv = d0 / den;
  yv = yv * 1.0f;
  yv = yv + 0.0f;
  const float *in[] = {row};
  tl_compare_report *r;
  tl_status st;
  cr_assert_eq(tl_compare_run(NULL, g, in, NULL, &r, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(bits(r->emu->v[y][0]), bits(yv), "%a vs %a", r->emu->v[y][0], yv);
  cr_assert(tl_spec_value(r->spec, y, 0) != NULL);
  double lo, hi;
  tl_spec_get_d(r->spec, y, 0, &lo, &hi);
  cr_assert(lo <= 0 && hi >= 0 && hi - lo < 1e-20); /* real: exactly beta = 0 */
  cr_assert(tl_f32any_contains(r->any, y, 0, yv));
  tl_compare_report_free(r);
  tl_graph_free(g);
}

/* randomised: emulator == plain float32 in the reference order, bit for bit; reversed and
 * pairwise orders and the emulator lie inside f32-any; the spec encloses the exact rationals */
Test(floats, random_graphs_orders_inside_f32_any) {
  int64_t checked = 0;
  for (uint64_t seed = 1; seed <= 80; seed++) {
    tnet t;
    tnet_make(&t, seed * 2654435761u);
    uint64_t s = seed * 31;
    float *x = malloc((size_t)t.nin * sizeof *x);
    for (int64_t i = 0; i < t.nin; i++) {
      x[i] = tnet_randf(&s) * 8;
      if (seed % 5 == 0 && i % 3 == 0)
        x[i] *= 0x1p-130f; /* subnormal inputs */
    }
    int64_t no = tnet_nout(&t);
    float *ref = malloc((size_t)no * sizeof *ref), *alt = malloc((size_t)no * sizeof *alt);
    tnet_eval_f32(&t, x, NET_SEQ, ref);
    const float *in[] = {x};
    const float **vals = calloc((size_t)t.g->nnodes, sizeof *vals);
    vals[t.out] = ref;
    tl_compare_report *r;
    tl_status st;
    cr_assert_eq(tl_compare_run(NULL, t.g, in, vals, &r, &st), TL_OK, "%s", st.msg);
    cr_assert_not_null(r->any, "%s", r->any_status.msg);
    cr_assert_eq(r->nodes[t.out].emu_mismatch, 0,
                 "seed %llu: emulator differs from the sequential float code", (unsigned long long)seed);
    cr_assert(r->all_inside_any);
    for (int id = 0; id < t.g->nnodes; id++)
      cr_assert_eq(r->nodes[id].emu_outside_any, 0, "seed %llu node %d", (unsigned long long)seed, id);
    for (int order = NET_REV; order <= NET_PAIR; order++) {
      tnet_eval_f32(&t, x, order, alt);
      for (int64_t i = 0; i < no; i++, checked++)
        cr_assert(tl_f32any_contains(r->any, t.out, i, alt[i]), "seed %llu order %d out %lld: %a",
                  (unsigned long long)seed, order, (long long)i, alt[i]);
    }
    tl_compare_report_free(r);
    free(vals), free(ref), free(alt), free(x);
    tnet_free(&t);
  }
  cr_assert_gt(checked, 100);
}

/* claim: |libm f(x) - f(x)| <= TL_F32_LIBM_MAX_ULP ulp, measured on many inputs */
static double ulp_err(float got, mpfr_t exact) {
  double ex = mpfr_get_d(exact, MPFR_RNDN);
  if (isinf(got) && fabs(ex) > (double)FLT_MAX)
    return 0;
  return fabs((double)got - ex) / tl_f32_ulp(ex);
}

Test(floats, libm_error_within_claim) {
  mpfr_t e;
  mpfr_init2(e, 80);
  uint64_t s = 12345;
  double worst[3] = {0, 0, 0};
  for (int k = 0; k < 300000; k++) {
    /* random float32 bit patterns over the interesting ranges */
    float x;
    uint32_t u = (uint32_t)tnet_rand(&s);
    memcpy(&x, &u, 4);
    if (!isfinite(x))
      continue;
    float xe = fmodf(x, 100.0f), xt = fmodf(x, 12.0f), xl = fabsf(x);
    if (k % 3 == 0) /* dense sweep of [-20, 20] */
      xe = xt = -20.0f + 40.0f * (float)k / 300000.0f, xl = (float)k / 3000.0f + 1e-3f;
    mpfr_set_flt(e, xe, MPFR_RNDN);
    mpfr_exp(e, e, MPFR_RNDN);
    double u1 = ulp_err(expf(xe), e);
    mpfr_set_flt(e, xt, MPFR_RNDN);
    mpfr_tanh(e, e, MPFR_RNDN);
    double u2 = ulp_err(tanhf(xt), e);
    double u3 = 0;
    if (xl > 0) {
      mpfr_set_flt(e, xl, MPFR_RNDN);
      mpfr_log(e, e, MPFR_RNDN);
      u3 = ulp_err(logf(xl), e);
    }
    worst[0] = fmax(worst[0], u1), worst[1] = fmax(worst[1], u2), worst[2] = fmax(worst[2], u3);
  }
  cr_log_info("max ulp error: expf %.3f, tanhf %.3f, logf %.3f", worst[0], worst[1], worst[2]);
  for (int i = 0; i < 3; i++)
    cr_assert(worst[i] <= TL_F32_LIBM_MAX_ULP, "function %d: %g ulp", i, worst[i]);
  mpfr_clear(e);
}

Test(floats, emulator_restores_mpfr_exponent_range) {
  mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
  float w[] = {1};
  int y;
  tl_graph *g = dot_graph(1, w, NULL, &y);
  float x[] = {2};
  const float *in[] = {x};
  tl_f32_values *v;
  cr_assert_eq(tl_f32_emulate(g, in, &v, NULL), TL_OK);
  cr_assert_eq(mpfr_get_emin(), emin);
  cr_assert_eq(mpfr_get_emax(), emax);
  tl_f32_values_free(v);
  tl_graph_free(g);
}

Test(floats, sum_error_bound_formula) {
  mpfr_t err, sa;
  mpfr_init2(err, 64), mpfr_init2(sa, 64);
  mpfr_set_ui(sa, 1, MPFR_RNDN);
  cr_assert_eq(tl_f32_sum_error_bound(err, 1, 0, sa), 0);
  cr_assert(mpfr_zero_p(err)); /* one float: no rounding */
  cr_assert_eq(tl_f32_sum_error_bound(err, 10, 10, sa), 0);
  double g10 = 10 * 0x1p-24 / (1 - 10 * 0x1p-24);
  cr_assert(mpfr_get_d(err, MPFR_RNDU) >= g10 + 10 * 0x1p-150);
  mpfr_set_d(sa, 1e38, MPFR_RNDN);
  cr_assert_eq(tl_f32_sum_error_bound(err, 10, 10, sa), 0);
  mpfr_set_d(sa, 3.5e38, MPFR_RNDN);
  cr_assert_eq(tl_f32_sum_error_bound(err, 10, 10, sa), -1);
  cr_assert(mpfr_inf_p(err));
  mpfr_clear(err), mpfr_clear(sa);
}

/* the documented f32-ref order of the composite elementwise ops, in plain float code */
static float f_sigmoid(float x) {
  volatile float t = expf(-x);
  t = 1.0f + t;
  return 1.0f / t;
}
static float f_silu(float x) {
  volatile float s = f_sigmoid(x);
  return x * s;
}
static float f_gelu(float x) { /* docs/semantics.md: (0.5f*x) * (1 + tanhf(c*(x + 0.044715f*x*x*x))) */
  volatile float t = 0.044715f * x;
  t = t * x;
  t = t * x;
  t = x + t;
  t = (float)0.7978845608028654 * t;
  t = tanhf(t);
  t = 1.0f + t;
  volatile float h = 0.5f * x;
  return h * t;
}
static float f_leaky(float x) {
  volatile float t = (float)0.01 * x;
  return x >= 0 ? x : t;
}

Test(floats, composite_elementwise_ops_match_reference_order) {
  struct {
    tl_op op;
    float (*f)(float);
  } cases[] = {{TL_OP_SIGMOID, f_sigmoid}, {TL_OP_SILU, f_silu}, {TL_OP_GELU, f_gelu},
               {TL_OP_TANH, tanhf},        {TL_OP_EXP, expf},    {TL_OP_LEAKY_RELU, f_leaky},
               {TL_OP_SQRT, sqrtf},        {TL_OP_LOG, logf}};
  enum { N = 2001 };
  float *x = malloc(N * sizeof *x), *ref = malloc(N * sizeof *ref);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tl_graph *g = tl_graph_new();
    int64_t sh[] = {N};
    int xi, y;
    tl_graph_input(g, "x", 1, sh, &xi, NULL);
    tl_attrs a = tl_attrs_default(cases[c].op);
    cr_assert_eq(tl_graph_op(g, cases[c].op, 1, &xi, &a, &y, NULL), TL_OK);
    int positive = cases[c].op == TL_OP_SQRT || cases[c].op == TL_OP_LOG;
    for (int i = 0; i < N; i++) {
      x[i] = positive ? (float)i * 0.013f + 1e-3f : -13.0f + 26.0f * (float)i / (N - 1);
      ref[i] = cases[c].f(x[i]);
    }
    const float *in[] = {x}, **vals = calloc((size_t)g->nnodes, sizeof *vals);
    vals[y] = ref;
    tl_compare_report *r;
    tl_status st;
    cr_assert_eq(tl_compare_run(NULL, g, in, vals, &r, &st), TL_OK, "%s", st.msg);
    cr_assert_not_null(r->any, "%s", r->any_status.msg);
    cr_assert_eq(r->nodes[y].emu_mismatch, 0, "%s: emulator differs from the reference order",
                 tl_op_get(cases[c].op)->name);
    cr_assert_eq(r->nodes[y].outside_any, 0, "%s: a float32 value outside f32-any",
                 tl_op_get(cases[c].op)->name);
    cr_log_info("%s: max error %.2f ulp, f32-any width up to %g", tl_op_get(cases[c].op)->name,
                r->nodes[y].max_ulp_err, r->nodes[y].max_any_width);
    tl_compare_report_free(r);
    free(vals);
    tl_graph_free(g);
  }
  free(x), free(ref);
}

Test(floats, avg_pool_with_padding_and_mean) {
  tl_graph *g = tl_graph_new();
  int64_t sh[] = {1, 1, 3, 3};
  int x, y, m;
  tl_graph_input(g, "x", 4, sh, &x, NULL);
  tl_attrs a = tl_attrs_default(TL_OP_AVG_POOL2D);
  a.kernel[0] = a.kernel[1] = 2;
  a.padding[0] = a.padding[1] = 1;
  a.stride[0] = a.stride[1] = 2;
  cr_assert_eq(tl_graph_op(g, TL_OP_AVG_POOL2D, 1, &x, &a, &y, NULL), TL_OK);
  tl_attrs am = tl_attrs_default(TL_OP_MEAN);
  cr_assert_eq(tl_graph_op(g, TL_OP_MEAN, 1, &x, &am, &m, NULL), TL_OK);
  float in0[] = {1, 2, 3, 4, 5, 6, 7, 8, 0.1f};
  const float *in[] = {in0};
  tl_compare_report *r;
  tl_status st;
  cr_assert_eq(tl_compare_run(NULL, g, in, NULL, &r, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(r->emu->v[y][0], 0.25f); /* window (-1..0)^2: only x[0,0] = 1, divided by 4 */
  volatile float s2 = 2.0f + 3.0f;
  cr_assert_eq(r->emu->v[y][1], s2 / 4.0f);
  volatile float acc = in0[0];
  for (int i = 1; i < 9; i++)
    acc = acc + in0[i];
  cr_assert_eq(bits(r->emu->v[m][0]), bits(acc / 9.0f));
  cr_assert_eq(r->nodes[m].emu_outside_any, 0);
  tl_compare_report_free(r);
  tl_graph_free(g);
}

/* f32-any over a float box: float32 evaluations at sampled float points (corners, faces,
 * interior), in three orders, lie inside the box enclosure */
Test(floats, f32_any_box_encloses_sampled_float_evaluations) {
  for (uint64_t seed = 500; seed < 530; seed++) {
    tnet t;
    tnet_make(&t, seed * 40503);
    uint64_t s = seed;
    float *lo = malloc((size_t)t.nin * sizeof *lo), *hi = malloc((size_t)t.nin * sizeof *hi),
          *x = malloc((size_t)t.nin * sizeof *x);
    for (int64_t i = 0; i < t.nin; i++) {
      float c = tnet_randf(&s) * 2, rad = 0.05f * fabsf(tnet_randf(&s));
      lo[i] = c - rad, hi[i] = c + rad;
    }
    const float *L[] = {lo}, *H[] = {hi};
    tl_f32any_result *r;
    tl_status st;
    cr_assert_eq(tl_f32any_eval(NULL, t.g, L, H, &r, &st), TL_OK, "%s", st.msg);
    int64_t no = tnet_nout(&t);
    float *y = malloc((size_t)no * sizeof *y);
    for (int k = 0; k < 30; k++) {
      for (int64_t i = 0; i < t.nin; i++) {
        uint64_t b = tnet_rand(&s);
        float v = lo[i] + (hi[i] - lo[i]) * (float)(b >> 40) / 16777216.0f;
        x[i] = (b & 3) == 0 ? lo[i] : (b & 3) == 1 ? hi[i] : fminf(fmaxf(v, lo[i]), hi[i]);
      }
      for (int order = NET_SEQ; order <= NET_PAIR; order++) {
        tnet_eval_f32(&t, x, order, y);
        for (int64_t i = 0; i < no; i++)
          cr_assert(tl_f32any_contains(r, t.out, i, y[i]), "seed %llu sample %d order %d",
                    (unsigned long long)seed, k, order);
      }
    }
    tl_f32any_result_free(r);
    free(lo), free(hi), free(x), free(y);
    tnet_free(&t);
  }
}

/* the exact fixed-point dot products with float32 weights (spec/fxdot.c) in the f32-any model:
 * every node's enclosure inside the generic path's, on points and boxes of random networks */
Test(floats, f32_any_fast_dot_inside_generic) {
  tl_spec_ctx gen;
  tl_spec_ctx_init(&gen);
  gen.generic = 1;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    tnet t;
    tnet_make(&t, seed * 7001);
    uint64_t s = seed * 13;
    float *lo = malloc((size_t)t.nin * sizeof *lo), *hi = malloc((size_t)t.nin * sizeof *hi);
    for (int64_t i = 0; i < t.nin; i++) {
      lo[i] = tnet_randf(&s) * 4;
      hi[i] = seed % 2 ? lo[i] : lo[i] + fabsf(tnet_randf(&s)) * 0.05f;
      if (seed % 5 == 0 && i % 3 == 0)
        lo[i] *= 0x1p-130f, hi[i] = lo[i];
    }
    const float *L[] = {lo}, *H[] = {hi};
    tl_f32any_result *rf, *rs;
    tl_status st;
    cr_assert_eq(tl_f32any_eval(NULL, t.g, L, H, &rf, &st), TL_OK, "%s", st.msg);
    cr_assert_eq(tl_f32any_eval(&gen, t.g, L, H, &rs, &st), TL_OK, "%s", st.msg);
    for (int id = 0; id < t.g->nnodes; id++)
      for (int64_t i = 0; i < t.g->nodes[id].numel; i++)
        cr_assert(mpfi_is_inside(tl_f32any_value(rf, id, i), tl_f32any_value(rs, id, i)),
                  "seed %llu node %d element %lld", (unsigned long long)seed, id, (long long)i);
    tl_f32any_result_free(rf), tl_f32any_result_free(rs);
    free(lo), free(hi);
    tnet_free(&t);
  }
}

#if defined(__x86_64__)
#include <xmmintrin.h>
/* FTZ/DAZ are detected (and the default environment has neither) */
Test(floats, detects_flush_to_zero) {
  cr_assert_eq(tl_f32_flushes_subnormals(), 0);
  unsigned csr = _mm_getcsr();
  _mm_setcsr(csr | (1u << 15));
  int ftz = tl_f32_flushes_subnormals();
  _mm_setcsr(csr | (1u << 6));
  int daz = tl_f32_flushes_subnormals();
  _mm_setcsr(csr);
  cr_assert(ftz && daz);
  cr_assert_eq(tl_f32_flushes_subnormals(), 0);
}
#endif
