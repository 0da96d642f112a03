/* test_adversarial.c - adversarial soundness tests of the verifier and the certificate checker:
 * hostile networks whose float32 or exact value violates a property that a buggy verifier
 * would call verified, and a sample-and-attack sweep (exact and float32 values at corners and
 * random points of the region must lie inside the `real` / `f32-any` bounds).
 *
 * Tests named checker_* exercise the certificate checker (certs/) through the torchlean-check
 * binary, including false certificates it once accepted. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "torchlean/rand.h"
#include "torchlean/verify.h"
#include "vnets.h"

#define CHECKER TL_BUILD_DIR "/certs/torchlean-check"

/* ---- helpers ---------------------------------------------------------------------------------- */
static int param(tl_graph *g, const char *nm, int nd, const int64_t *shape, const float *v) {
  int id;
  cr_assert_eq(tl_graph_param(g, nm, TL_PARAM_TRAINABLE, nd, shape, v, &id, NULL), TL_OK);
  return id;
}

/* input (1, 1) -> batch_norm(gamma, beta, mean, var, eps) -> output */
static tl_graph *bn_net(float gamma, float beta, float mean, float var, double eps) {
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, 1}, cs[1] = {1};
  int x, y;
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &x, NULL), TL_OK);
  int p[5] = {x, param(g, "g", 1, cs, &gamma), param(g, "b", 1, cs, &beta), param(g, "m", 1, cs, &mean),
              param(g, "v", 1, cs, &var)};
  tl_attrs a = tl_attrs_default(TL_OP_BATCH_NORM);
  a.eps = eps;
  cr_assert_eq(tl_graph_op(g, TL_OP_BATCH_NORM, 5, p, &a, &y, NULL), TL_OK);
  tl_graph_mark_output(g, y, NULL);
  return g;
}

static tl_verdict verify_one(const tl_graph *g, const tl_region *r, const tl_property *p, tl_method m,
                             tl_semantics sem, tl_verify_result **keep) {
  tl_verify_opts o = tl_verify_opts_default();
  o.method = m, o.sem = sem, o.falsify = 0, o.keep_evidence = keep != NULL;
  tl_verify_result *res = NULL;
  tl_status st = {0};
  cr_assert_eq(tl_verify_sample(g, r, p, &o, &res, &st), TL_OK, "%s", st.msg);
  tl_verdict v = res->verdict;
  if (keep)
    *keep = res;
  else
    tl_verify_result_free(res);
  return v;
}

static tl_property *prop1(double c, double d, int strict) {
  tl_property *p;
  unsigned char s = (unsigned char)strict;
  int cs[2] = {0, 1};
  cr_assert_eq(tl_property_new(&p, 1, 1, &c, &d, &s, 1, cs, 0, NULL), TL_OK);
  return p;
}

static int run_check(const char *path) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s %s > %s.out 2>&1", CHECKER,
           path, path);
  int st = system(cmd);
  cr_assert(WIFEXITED(st), "checker did not exit normally on %s", path);
  return WEXITSTATUS(st);
}

static void tmp_path(char *buf, size_t n, const char *tag) {
  snprintf(buf, n, "%s/tl_adv_%ld_%s.json", TL_BUILD_DIR, (long)getpid(), tag);
}

static cJSON *load_json(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  cr_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
  buf[n] = 0;
  fclose(f);
  cJSON *j = cJSON_Parse(buf);
  free(buf);
  cr_assert(j);
  return j;
}

static void save_json(const char *path, const cJSON *j) {
  char *s = cJSON_PrintUnformatted(j);
  FILE *f = fopen(path, "wb");
  cr_assert(f && s);
  fputs(s, f);
  fclose(f);
  free(s);
}

static cJSON *hexstr(double v) {
  char b[64];
  snprintf(b, sizeof b, "%a", v);
  return cJSON_CreateString(b);
}

/* ---- 1. CROWN through batch norm: the constant -l s mu must be rounded as an interval --------- */
/* y = 3 (x + 1) at x = 0 (gamma 3, var + eps = 1, mean -1).  Row a = 1 + 2^-52: a y = 3 + 3 2^-52
 * exactly, which lies strictly between the doubles 3 + 2^-51 and 3 + 2^-50.  A verifier that
 * rounds (-l slo) down and then multiplies by the negative mean overestimates the constant and
 * claims a y >= 3 + 2^-50: a FALSE "verified" for the row a y >= 3 + 2^-50 in real semantics. */
Test(adversarial, crown_batch_norm_constant_rounding) {
  tl_graph *g = bn_net(3.0f, 0.0f, -1.0f, 0.75f, 0.25);
  double lo = 0, hi = 0;
  tl_region *r;
  cr_assert_eq(tl_region_box(&r, &lo, &hi, 1, NULL), TL_OK);
  tl_bounds *b;
  tl_status st = {0};
  cr_assert_eq(tl_ibp(g, r, TL_SEM_REAL, &b, &st), TL_OK, "%s", st.msg);
  double a = 1 + 0x1p-52, L;
  cr_assert_eq(tl_crown(g, r, b, 1, &a, 0, &L, NULL, &st), TL_OK, "%s", st.msg);
  /* the exact value is 3 + 3 2^-52; the largest double not above it is 3 + 2^-51 */
  cr_expect(L <= 3 + 0x1p-51, "CROWN lower bound %a above the exact value 3 + 3*2^-52", L);
  tl_bounds_free(b);
  /* safe row -(1 + 2^-52) y <= -(3 + 2^-50), i.e. a y >= 3 + 2^-50: false at the only input */
  tl_property *p = prop1(-(1 + 0x1p-52), -(3 + 0x1p-50), 0);
  cr_expect_neq(verify_one(g, r, p, TL_METHOD_CROWN, TL_SEM_REAL, NULL), TL_VERDICT_VERIFIED);
  tl_property_free(p);
  tl_region_free(r);
  tl_graph_free(g);
}

/* ---- 2. f32-any: a final affine node that can overflow is unbounded, even for CROWN ------------- */
/* y = FLT_MAX x0 + FLT_MAX x1 - FLT_MAX x2 at x = (1, 1, 1): exactly FLT_MAX, but the sequential
 * float32 sum overflows to +inf.  "y < 1e39" holds in real semantics, NOT in f32-any. */
Test(adversarial, f32any_output_partial_sum_overflow) {
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, 3}, ws[2] = {1, 3};
  int x, y;
  float w[3] = {FLT_MAX, FLT_MAX, -FLT_MAX};
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &x, NULL), TL_OK);
  int p2[2] = {x, param(g, "w", 2, ws, w)};
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 2, p2, NULL, &y, NULL), TL_OK);
  tl_graph_mark_output(g, y, NULL);
  float xv[3] = {1, 1, 1}, yv;
  cr_assert_eq(vnet_f32_forward(g, xv, VORD_SEQ, &yv), 0);
  cr_assert(isinf(yv), "the sequential float32 sum should overflow (got %a)", (double)yv);
  double lo[3] = {1, 1, 1}, hi[3] = {1, 1, 1};
  tl_region *r;
  cr_assert_eq(tl_region_box(&r, lo, hi, 3, NULL), TL_OK);
  tl_property *p = prop1(1.0, 1e39, 1);
  cr_expect_eq(verify_one(g, r, p, TL_METHOD_IBP, TL_SEM_REAL, NULL), TL_VERDICT_VERIFIED);
  cr_expect_neq(verify_one(g, r, p, TL_METHOD_IBP, TL_SEM_F32_ANY, NULL), TL_VERDICT_VERIFIED,
                "f32-any IBP verified although float32 gives inf");
  cr_expect_neq(verify_one(g, r, p, TL_METHOD_CROWN, TL_SEM_F32_ANY, NULL), TL_VERDICT_VERIFIED,
                "f32-any CROWN verified although float32 gives inf");
  tl_property_free(p);
  tl_region_free(r);
  tl_graph_free(g);
}

/* the same through the reference (non-fast) affine path: a matmul output */
Test(adversarial, f32any_output_overflow_matmul) {
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, 3}, ws[2] = {3, 1};
  int x, y;
  float w[3] = {FLT_MAX, FLT_MAX, -FLT_MAX};
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &x, NULL), TL_OK);
  int p2[2] = {x, param(g, "w", 2, ws, w)};
  cr_assert_eq(tl_graph_op(g, TL_OP_MATMUL, 2, p2, NULL, &y, NULL), TL_OK);
  tl_graph_mark_output(g, y, NULL);
  double lo[3] = {1, 1, 1}, hi[3] = {1, 1, 1};
  tl_region *r;
  cr_assert_eq(tl_region_box(&r, lo, hi, 3, NULL), TL_OK);
  tl_property *p = prop1(1.0, 1e39, 1);
  cr_expect_neq(verify_one(g, r, p, TL_METHOD_IBP, TL_SEM_F32_ANY, NULL), TL_VERDICT_VERIFIED);
  cr_expect_neq(verify_one(g, r, p, TL_METHOD_CROWN, TL_SEM_F32_ANY, NULL), TL_VERDICT_VERIFIED);
  tl_property_free(p);
  tl_region_free(r);
  tl_graph_free(g);
}

/* ---- 3. f32-any batch norm: (float)eps subnormal, intermediate overflow ------------------------ */
/* float32 batch norm in the reference order: (x - mean) / sqrtf(var + (float)eps) * gamma + beta */
static float bn_f32(float x, float gamma, float beta, float mean, float var, double eps) {
  volatile float d = x - mean, t = var + (float)eps;
  volatile float s = sqrtf(t);
  volatile float q = d / s;
  volatile float y = q * gamma;
  return y + beta;
}

/* var = 0, eps = 1.1e-44: (float)eps = 8 * 2^-149 is 2% away from eps, so the float32 scale is
 * 1% off; "y > 0.95" holds exactly (y = 0.9535) but not in float32 (0.944). */
Test(adversarial, f32any_batch_norm_subnormal_eps) {
  float gamma = 1e-22f;
  double eps = 1.1e-44;
  tl_graph *g = bn_net(gamma, 0.0f, 0.0f, 0.0f, eps);
  float yf = bn_f32(1.0f, gamma, 0.0f, 0.0f, 0.0f, eps);
  double yr = (double)gamma / sqrt(eps);
  cr_assert(yr > 0.951 && yf < 0.95, "setup: real %g float %g", yr, (double)yf);
  double lo = 1, hi = 1;
  tl_region *r;
  cr_assert_eq(tl_region_box(&r, &lo, &hi, 1, NULL), TL_OK);
  tl_property *p = prop1(-1.0, -0.95, 1); /* -y < -0.95 */
  cr_expect_eq(verify_one(g, r, p, TL_METHOD_IBP, TL_SEM_REAL, NULL), TL_VERDICT_VERIFIED);
  cr_expect_neq(verify_one(g, r, p, TL_METHOD_IBP, TL_SEM_F32_ANY, NULL), TL_VERDICT_VERIFIED,
                "f32-any verified, float32 batch norm gives %g", (double)yf);
  cr_expect_neq(verify_one(g, r, p, TL_METHOD_CROWN, TL_SEM_F32_ANY, NULL), TL_VERDICT_VERIFIED);
  tl_property_free(p);
  tl_region_free(r);
  tl_graph_free(g);
}

/* (x - mean) / sqrtf(var + eps) = 1e20 / 1e-20 overflows although the result 1e20 does not */
Test(adversarial, f32any_batch_norm_intermediate_overflow) {
  float gamma = 1e-20f;
  double eps = 1e-40;
  tl_graph *g = bn_net(gamma, 0.0f, 0.0f, 0.0f, eps);
  float yf = bn_f32(1e20f, gamma, 0.0f, 0.0f, 0.0f, eps);
  cr_assert(isinf(yf), "setup: float32 batch norm should overflow (got %g)", (double)yf);
  double lo = 1e20f, hi = 1e20f;
  tl_region *r;
  cr_assert_eq(tl_region_box(&r, &lo, &hi, 1, NULL), TL_OK);
  tl_property *p = prop1(1.0, 1e30, 1); /* y < 1e30 */
  cr_expect_eq(verify_one(g, r, p, TL_METHOD_IBP, TL_SEM_REAL, NULL), TL_VERDICT_VERIFIED);
  cr_expect_neq(verify_one(g, r, p, TL_METHOD_IBP, TL_SEM_F32_ANY, NULL), TL_VERDICT_VERIFIED);
  cr_expect_neq(verify_one(g, r, p, TL_METHOD_CROWN, TL_SEM_F32_ANY, NULL), TL_VERDICT_VERIFIED);
  tl_property_free(p);
  tl_region_free(r);
  tl_graph_free(g);
}

/* ---- 4. the caller's rounding mode is irrelevant and restored ---------------------------------- */
Test(adversarial, caller_rounding_mode) {
  tl_graph *g = vnet_mlp(7, 6, 8, 8, 3, TL_OP_RELU);
  float c[6] = {0.1f, -0.2f, 0.3f, 0.05f, -0.4f, 0.2f};
  tl_region *r;
  cr_assert_eq(tl_region_linf(&r, c, 6, 0.02, 0, 0, 0, NULL), TL_OK);
  tl_property *p;
  cr_assert_eq(tl_property_robust(&p, 3, 0, NULL), TL_OK);
  int modes[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
  double ref[2] = {0, 0};
  for (int mi = 0; mi < 4; mi++) {
    fesetround(modes[mi]);
    tl_verify_opts o = tl_verify_opts_default();
    o.falsify = 0, o.sem = TL_SEM_F32_ANY;
    tl_verify_result *res;
    tl_code rc = tl_verify_sample(g, r, p, &o, &res, NULL);
    int after = fegetround();
    fesetround(FE_TONEAREST);
    cr_assert_eq(rc, TL_OK);
    cr_expect_eq(after, modes[mi], "rounding mode not restored");
    if (mi == 0)
      ref[0] = res->row_lower[0], ref[1] = res->row_lower[1];
    else
      cr_expect(res->row_lower[0] == ref[0] && res->row_lower[1] == ref[1],
                "bounds depend on the caller's mode");
    tl_verify_result_free(res);
  }
  tl_property_free(p);
  tl_region_free(r);
  tl_graph_free(g);
}

/* ---- 5. sample and attack ---------------------------------------------------------------------- */
/* float32 forward with fmaf in the dot products (sequential), for the nets of vnets.c: only
 * linear/relu/leaky/sigmoid/tanh chains (vnet_mlp) */
static void mlp_fma_forward(const tl_graph *g, const float *x, float *y) {
  float buf[2][64];
  int64_t n = g->nodes[g->inputs[0]].numel;
  memcpy(buf[0], x, (size_t)n * sizeof(float));
  int cur = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *nd = &g->nodes[i];
    if (nd->op == TL_OP_LINEAR) {
      const tl_node *w = &g->nodes[nd->parents[1]];
      const float *W = g->weights + w->woff, *B = g->weights + g->nodes[nd->parents[2]].woff;
      int64_t out = w->shape[0], in = w->shape[1];
      for (int64_t o = 0; o < out; o++) {
        float s = B[o];
        for (int64_t k = in - 1; k >= 0; k--)
          s = fmaf(W[o * in + k], buf[cur][k], s);
        buf[!cur][o] = s;
      }
      cur = !cur, n = out;
    } else if (nd->op == TL_OP_RELU || nd->op == TL_OP_LEAKY_RELU || nd->op == TL_OP_SIGMOID ||
               nd->op == TL_OP_TANH) {
      for (int64_t k = 0; k < n; k++) {
        float v = buf[cur][k];
        if (nd->op == TL_OP_RELU)
          v = v > 0 ? v : 0;
        else if (nd->op == TL_OP_LEAKY_RELU)
          v = v >= 0 ? v : (float)nd->attrs.alpha * v;
        else if (nd->op == TL_OP_SIGMOID)
          v = 1.0f / (1.0f + expf(-v));
        else
          v = tanhf(v);
        buf[cur][k] = v;
      }
    }
  }
  memcpy(y, buf[cur], (size_t)n * sizeof(float));
}

static void sweep(tl_graph *g, uint64_t seed, double eps, int mlp) {
  tl_rng rng;
  tl_rng_init(&rng, seed);
  int64_t n = g->nodes[g->inputs[0]].numel;
  int out = g->outputs[0];
  int64_t nout = g->nodes[out].numel;
  float *c = malloc((size_t)n * sizeof *c), *x = malloc((size_t)n * sizeof *x);
  for (int64_t i = 0; i < n; i++)
    c[i] = (float)tl_rng_uniform(&rng);
  tl_region *r;
  cr_assert_eq(tl_region_linf(&r, c, n, eps, 1, 0.0, 1.0, NULL), TL_OK);
  tl_bounds *br, *bf;
  tl_status st = {0};
  cr_assert_eq(tl_ibp(g, r, TL_SEM_REAL, &br, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_ibp(g, r, TL_SEM_F32_ANY, &bf, &st), TL_OK, "%s", st.msg);
  /* CROWN rows +e_j and -e_j on the output, both semantics, CROWN intermediates */
  int m = (int)(2 * nout);
  double *a = calloc((size_t)m * (size_t)nout, sizeof *a), *Lr = malloc((size_t)m * sizeof *Lr),
         *Lf = malloc((size_t)m * sizeof *Lf);
  for (int64_t j = 0; j < nout; j++)
    a[(size_t)(2 * j) * nout + j] = 1, a[(size_t)(2 * j + 1) * nout + j] = -1;
  cr_assert_eq(tl_crown(g, r, br, m, a, 1, Lr, NULL, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_crown(g, r, bf, m, a, 1, Lf, NULL, &st), TL_OK, "%s", st.msg);
  double *ylo = malloc((size_t)nout * sizeof *ylo), *yhi = malloc((size_t)nout * sizeof *yhi);
  float *yf = malloc((size_t)nout * sizeof *yf);
  for (int s = 0; s < 300; s++) {
    for (int64_t i = 0; i < n; i++) {
      double u = tl_rng_uniform(&rng);
      double v = s < 100 ? (u < 0.5 ? r->lo[i] : r->hi[i]) : r->lo[i] + u * (r->hi[i] - r->lo[i]);
      float f = (float)v;
      if (f < r->lo[i])
        f = nextafterf(f, INFINITY);
      if (f > r->hi[i])
        f = nextafterf(f, -INFINITY);
      x[i] = f;
    }
    cr_assert_eq(tl_exact_eval(g, x, ylo, yhi, &st), TL_OK, "%s", st.msg);
    for (int64_t j = 0; j < nout; j++) {
      cr_assert(ylo[j] >= br->lo[out][j] && yhi[j] <= br->hi[out][j],
                "exact output outside the real IBP box");
      cr_assert(ylo[j] >= Lr[2 * j] && -yhi[j] >= Lr[2 * j + 1],
                "exact output outside the real CROWN bounds");
    }
    for (int o = 0; o < VORD_COUNT + (mlp ? 1 : 0); o++) {
      if (o == VORD_COUNT)
        mlp_fma_forward(g, x, yf);
      else
        cr_assert_eq(vnet_f32_forward(g, x, (vnet_order)o, yf), 0);
      for (int64_t j = 0; j < nout; j++) {
        cr_assert(yf[j] >= bf->lo[out][j] && yf[j] <= bf->hi[out][j],
                  "float32 (order %d) outside f32-any IBP", o);
        cr_assert(yf[j] >= Lf[2 * j] && -yf[j] >= Lf[2 * j + 1], "float32 (order %d) outside f32-any CROWN",
                  o);
      }
    }
  }
  free(ylo), free(yhi), free(yf), free(a), free(Lr), free(Lf), free(c), free(x);
  tl_bounds_free(br), tl_bounds_free(bf);
  tl_region_free(r);
}

Test(adversarial, sample_and_attack_mlp) {
  tl_op acts[4] = {TL_OP_RELU, TL_OP_LEAKY_RELU, TL_OP_SIGMOID, TL_OP_TANH};
  for (int k = 0; k < 8; k++) {
    tl_graph *g = vnet_mlp(100 + (uint64_t)k, 5, 12, 10, 4, acts[k % 4]);
    sweep(g, 200 + (uint64_t)k, k < 4 ? 0.05 : 0.3, 1);
    tl_graph_free(g);
  }
}

Test(adversarial, sample_and_attack_cnn) {
  for (int k = 0; k < 4; k++) {
    tl_graph *g = vnet_cnn(300 + (uint64_t)k, k & 1);
    sweep(g, 400 + (uint64_t)k, k < 2 ? 0.03 : 0.2, 0);
    tl_graph_free(g);
  }
}

/* ---- 6. the checker ---------------------------------------------------------------------------- */
/* a small real-semantics IBP certificate for vnet_mlp, written to path; returns its JSON */
static cJSON *small_cert(const char *path, tl_semantics sem, tl_method m) {
  tl_graph *g = vnet_mlp(11, 4, 6, 6, 3, TL_OP_RELU);
  float c[4] = {0.2f, 0.4f, 0.6f, 0.8f};
  tl_region *r;
  cr_assert_eq(tl_region_linf(&r, c, 4, 0.001, 1, 0.0, 1.0, NULL), TL_OK);
  double ylo[3], yhi[3];
  cr_assert_eq(tl_exact_eval(g, c, ylo, yhi, NULL), TL_OK);
  int label = 0;
  for (int j = 1; j < 3; j++)
    if (ylo[j] > ylo[label])
      label = j;
  tl_property *p;
  cr_assert_eq(tl_property_robust(&p, 3, label, NULL), TL_OK);
  tl_verify_result *res;
  tl_verdict v = verify_one(g, r, p, m, sem, &res);
  cr_assert_eq(v, TL_VERDICT_VERIFIED);
  tl_status st = {0};
  cr_assert_eq(tl_cert_write(path, g, r, p, res, NULL, &st), TL_OK, "%s", st.msg);
  tl_verify_result_free(res);
  tl_property_free(p);
  tl_region_free(r);
  tl_graph_free(g);
  cr_assert_eq(run_check(path), 0, "the unmodified certificate must be accepted");
  return load_json(path);
}

/* exact-number spellings the checker must refuse (exit 2) in a bound */
Test(adversarial, checker_bad_numbers) {
  char path[512];
  tmp_path(path, sizeof path, "num");
  const char *bad[] = {"nan", "NaN", "0x1p", "0x", "1e3", "0x1.8.8p0", "1/0", "--0x1p0", "0x1p-1075x"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    cJSON *j = small_cert(path, TL_SEM_REAL, TL_METHOD_IBP);
    cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "samples"), 0);
    cJSON *rl = cJSON_GetObjectItemCaseSensitive(s0, "row_lower");
    cJSON_ReplaceItemInArray(rl, 0, cJSON_CreateString(bad[k]));
    save_json(path, j);
    cJSON_Delete(j);
    cr_expect_eq(run_check(path), 2, "row_lower \"%s\" not refused as malformed", bad[k]);
  }
  /* a claimed lower bound of +inf is well-formed but false */
  cJSON *j = small_cert(path, TL_SEM_REAL, TL_METHOD_IBP);
  cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "samples"), 0);
  cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(s0, "row_lower"), 0, cJSON_CreateString("inf"));
  save_json(path, j);
  cJSON_Delete(j);
  cr_expect_eq(run_check(path), 1, "row_lower \"inf\" not rejected");
  unlink(path);
}

/* internally consistent but false certificates: a node box tighter than the truth, a row lower
 * bound above the derived one, a relu lower slope outside [0, 1] */
Test(adversarial, checker_false_certificates) {
  char path[512];
  tmp_path(path, sizeof path, "false");
  /* 1. the first non-degenerate hidden box collapsed to its upper end */
  cJSON *j = small_cert(path, TL_SEM_F32_ANY, TL_METHOD_IBP);
  cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "samples"), 0);
  cJSON *boxes = cJSON_GetObjectItemCaseSensitive(s0, "boxes");
  int done = 0;
  for (cJSON *bx = boxes->child; bx && !done; bx = bx->next) {
    cJSON *lo = cJSON_GetObjectItemCaseSensitive(bx, "lo");
    cJSON *hi = cJSON_GetObjectItemCaseSensitive(bx, "hi");
    double l = strtod(lo->child->valuestring, NULL), h = strtod(hi->child->valuestring, NULL);
    if (cJSON_GetObjectItemCaseSensitive(bx, "node")->valueint == 0 || !(l < h))
      continue;
    cJSON_ReplaceItemInArray(lo, 0, hexstr(h)); /* the box collapses to its upper end */
    done = 1;
  }
  cr_assert(done);
  save_json(path, j);
  cJSON_Delete(j);
  cr_expect_eq(run_check(path), 1, "a box tighter than the re-derived one was not rejected");
  /* 2. row_lower raised far above the truth */
  j = small_cert(path, TL_SEM_REAL, TL_METHOD_CROWN);
  s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "samples"), 0);
  cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(s0, "row_lower"), 0, hexstr(1e6));
  save_json(path, j);
  cJSON_Delete(j);
  cr_expect_eq(run_check(path), 1, "a row lower bound above the derived bound was not rejected");
  /* 3. a relu lower slope of 2 (and -1) */
  for (int k = 0; k < 2; k++) {
    j = small_cert(path, TL_SEM_REAL, TL_METHOD_CROWN);
    s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "samples"), 0);
    cJSON *acts =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s0, "crown"), "activations");
    cJSON *la = cJSON_GetObjectItemCaseSensitive(acts->child, "la");
    cJSON *plo = cJSON_GetObjectItemCaseSensitive(acts->child, "pre_lo");
    cJSON *phi = cJSON_GetObjectItemCaseSensitive(acts->child, "pre_hi");
    int i = 0, hit = 0;
    for (cJSON *e = plo->child, *f = phi->child; e && f; e = e->next, f = f->next, i++) {
      double l = strtod(e->valuestring, NULL), h = strtod(f->valuestring, NULL);
      /* slope 2 is invalid on an active neuron, slope -1 on a dead one */
      if ((k == 0 && l > 0) || (k == 1 && h < 0)) {
        cJSON_ReplaceItemInArray(la, i, hexstr(k ? -1.0 : 2.0));
        hit = 1;
        break;
      }
    }
    cr_assert(hit, "no suitable neuron");
    save_json(path, j);
    cJSON_Delete(j);
    cr_expect_eq(run_check(path), 1, "a relu lower slope of %g was not rejected", k ? -1.0 : 2.0);
  }
  unlink(path);
}
/* Once accepted by the checker (found by the soundness review): duplicate keys are ambiguous (cJSON reads the
 * first, most JSON readers the last):
 * {"semantics": "real", ..., "semantics": "f32-any"} was accepted as a real certificate while other
 * tools read an f32-any claim.  Must be malformed (exit 2). */
Test(adversarial, checker_duplicate_keys_malformed) {
  char path[512];
  tmp_path(path, sizeof path, "dup");
  cJSON *j = small_cert(path, TL_SEM_REAL, TL_METHOD_IBP);
  cJSON_AddItemToObject(j, "semantics", cJSON_CreateString("f32-any"));
  save_json(path, j);
  cJSON_Delete(j);
  cr_expect_eq(run_check(path), 2, "checker: a duplicate top-level key was not refused as malformed");
  j = small_cert(path, TL_SEM_REAL, TL_METHOD_IBP);
  cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "samples"), 0);
  cJSON_AddItemToObject(s0, "verdict", cJSON_CreateString("falsified"));
  save_json(path, j);
  cJSON_Delete(j);
  cr_expect_eq(run_check(path), 2, "checker: a duplicate sample key was not refused as malformed");
  unlink(path);
}

/* Once accepted by the checker (found by the soundness review): the f32-any batch-norm model (2^-20 relative)
 * ignores a subnormal (float)eps and overflowing intermediates.  Hand-made f32-any certificate for the net of
 * f32any_batch_norm_subnormal_eps claiming y in [0.951, 0.956] (the real value 0.9535 +- 2^-20):
 * float32 gives 0.944, so the certificate is false and must be rejected. */
Test(adversarial, checker_batch_norm_subnormal_eps) {
  char path[512];
  tmp_path(path, sizeof path, "bnsub");
  float gamma = 1e-22f;
  double eps = 1.1e-44;
  tl_graph *g = bn_net(gamma, 0.0f, 0.0f, 0.0f, eps);
  cr_assert(bn_f32(1.0f, gamma, 0.0f, 0.0f, 0.0f, eps) < 0.951f, "setup: float32 value");
  double lo = 1, hi = 1;
  tl_region *r;
  cr_assert_eq(tl_region_box(&r, &lo, &hi, 1, NULL), TL_OK);
  tl_property *p = prop1(-1.0, -0.95, 1);
  tl_verify_result *res;
  verify_one(g, r, p, TL_METHOD_IBP, TL_SEM_F32_ANY, &res);
  tl_status st = {0};
  cr_assert_eq(tl_cert_write(path, g, r, p, res, NULL, &st), TL_OK, "%s", st.msg);
  tl_verify_result_free(res);
  tl_property_free(p);
  tl_region_free(r);
  tl_graph_free(g);
  cJSON *j = load_json(path);
  cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "samples"), 0);
  for (cJSON *bx = cJSON_GetObjectItemCaseSensitive(s0, "boxes")->child; bx; bx = bx->next)
    if (cJSON_GetObjectItemCaseSensitive(bx, "node")->valueint != 0) {
      cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(bx, "lo"), 0, hexstr(0.951));
      cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(bx, "hi"), 0, hexstr(0.956));
    }
  cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(s0, "row_lower"), 0, hexstr(0.951));
  cJSON_ReplaceItemInObject(s0, "verdict", cJSON_CreateString("verified"));
  save_json(path, j);
  cJSON_Delete(j);
  /* even the boxes alone are false: float32 evaluation gives 0.944 < 0.951 */
  cr_expect_eq(run_check(path), 1, "checker: a false f32-any batch-norm box was accepted");
  unlink(path);
}

/* The binary64 fast path (certs/fast.c) must decide exactly as the exact checker: every box end and
 * row lower bound of a true certificate moved inward by 1, 2^20 and 2^40 binary64 ulps gives the
 * same exit status with and without it (TL_CHECK_FAST=0), and the unmodified certificate is
 * accepted by the fast path itself. */
static int run_check_env(const char *path, const char *env) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "%s ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s %s > %s.out 2>&1", env,
           CHECKER, path, path);
  int st = system(cmd);
  cr_assert(WIFEXITED(st), "checker did not exit normally on %s", path);
  return WEXITSTATUS(st);
}

static double inward(double v, int up, int64_t k) { /* k binary64 steps up or down */
  for (int64_t s = 0; s < k && isfinite(v); s++)
    v = nextafter(v, up ? INFINITY : -INFINITY);
  return v;
}

static double inward_fast(double v, int up, int64_t k) {
  if (k <= 4)
    return inward(v, up, k);
  /* move the bit pattern: same sign region only (stop at zero) */
  int64_t b;
  memcpy(&b, &v, sizeof b);
  int neg = b < 0;
  int64_t mag = b & INT64_MAX;
  if (up != neg)
    mag += k;
  else
    mag = mag > k ? mag - k : 0;
  b = mag | (neg ? INT64_MIN : 0);
  memcpy(&v, &b, sizeof v);
  return v;
}

Test(adversarial, checker_fast_path_agrees_with_exact) {
  char path[512];
  tmp_path(path, sizeof path, "fastdiff");
  for (int sem = 0; sem < 2; sem++) {
    tl_semantics sm = sem ? TL_SEM_F32_ANY : TL_SEM_REAL;
    cJSON *j = small_cert(path, sm, TL_METHOD_IBP);
    cr_assert_eq(run_check_env(path, "TL_CHECK_TIMES=1"), 0);
    char out[600], line[512];
    snprintf(out, sizeof out, "%s.out", path);
    FILE *f = fopen(out, "r");
    int fast = 0;
    while (f && fgets(line, sizeof line, f))
      fast |= strstr(line, "1 accepted by the fast path") != NULL;
    if (f)
      fclose(f);
    cr_expect(fast, "the true certificate was not accepted by the fast path (semantics %d)", sem);
    cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "samples"), 0);
    int64_t steps[3] = {1, (int64_t)1 << 20, (int64_t)1 << 40};
    int cases = 0, rejected = 0;
    for (cJSON *bx = cJSON_GetObjectItemCaseSensitive(s0, "boxes")->child; bx; bx = bx->next) {
      if (cJSON_GetObjectItemCaseSensitive(bx, "node")->valueint == 0)
        continue; /* the input box is the region's */
      for (int side = 0; side < 2; side++) {
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(bx, side ? "hi" : "lo");
        for (int i = 0; i < 2 && i < cJSON_GetArraySize(arr); i++) {
          const char *orig = cJSON_GetArrayItem(arr, i)->valuestring;
          double v = strtod(orig, NULL);
          if (!isfinite(v))
            continue;
          char keep[64];
          snprintf(keep, sizeof keep, "%s", orig);
          for (int k = 0; k < 3; k++) {
            cJSON_ReplaceItemInArray(arr, i, hexstr(inward_fast(v, side == 0, steps[k])));
            save_json(path, j);
            int a = run_check_env(path, ""), b = run_check_env(path, "TL_CHECK_FAST=0");
            cr_expect_eq(a, b, "fast path %d vs exact %d: node %d %s[%d] moved inward by %lld ulps", a, b,
                         cJSON_GetObjectItemCaseSensitive(bx, "node")->valueint, side ? "hi" : "lo", i,
                         (long long)steps[k]);
            cases++, rejected += b == 1;
          }
          cJSON_ReplaceItemInArray(arr, i, cJSON_CreateString(keep));
        }
      }
    }
    cJSON *rl = cJSON_GetObjectItemCaseSensitive(s0, "row_lower");
    for (int i = 0; i < cJSON_GetArraySize(rl); i++) {
      double v = strtod(cJSON_GetArrayItem(rl, i)->valuestring, NULL);
      for (int k = 0; k < 3 && isfinite(v); k++) {
        cJSON_ReplaceItemInArray(rl, i, hexstr(inward_fast(v, 1, steps[k])));
        save_json(path, j);
        int a = run_check_env(path, ""), b = run_check_env(path, "TL_CHECK_FAST=0");
        cr_expect_eq(a, b, "fast path %d vs exact %d: row_lower[%d] raised by %lld ulps", a, b, i,
                     (long long)steps[k]);
        cases++, rejected += b == 1;
      }
      cJSON_ReplaceItemInArray(rl, i, hexstr(v));
    }
    cr_expect(rejected > 0 && cases > 0, "no tightened certificate was rejected: the test tests nothing");
    cJSON_Delete(j);
  }
  unlink(path);
}
