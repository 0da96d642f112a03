/* test_checker_adversarial.c - false certificates the checker (certs/check.c) once accepted,
 * found by the soundness review: an f32-any batch norm whose 2^-20 model does not apply (subnormal
 * eps), and duplicate JSON keys that other readers resolve differently.  Both must be refused. */
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
  snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s %s > %s.out 2>&1", CHECKER, path,
           path);
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

/* f32-any batch norm in the reference order */
static float bn_f32(float x, float gamma, float beta, float mean, float var, double eps) {
  volatile float d = x - mean, t = var + (float)eps;
  volatile float s = sqrtf(t);
  volatile float q = d / s;
  volatile float y = q * gamma;
  return y + beta;
}

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

/* CHECKER BUG: duplicate keys are ambiguous (cJSON reads the first, most JSON readers the last):
 * {"semantics": "real", ..., "semantics": "f32-any"} is accepted as a real certificate while other
 * tools read an f32-any claim.  Must be malformed (exit 2). */
Test(checker_adversarial, duplicate_keys_malformed) {
  char path[512];
  tmp_path(path, sizeof path, "dup");
  cJSON *j = small_cert(path, TL_SEM_REAL, TL_METHOD_IBP);
  cJSON_AddItemToObject(j, "semantics", cJSON_CreateString("f32-any"));
  save_json(path, j);
  cJSON_Delete(j);
  cr_expect_eq(run_check(path), 2, "CHECKER BUG: a duplicate top-level key was not refused as malformed");
  j = small_cert(path, TL_SEM_REAL, TL_METHOD_IBP);
  cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "samples"), 0);
  cJSON_AddItemToObject(s0, "verdict", cJSON_CreateString("falsified"));
  save_json(path, j);
  cJSON_Delete(j);
  cr_expect_eq(run_check(path), 2, "CHECKER BUG: a duplicate sample key was not refused as malformed");
  unlink(path);
}

/* CHECKER BUG: the f32-any batch-norm model (2^-20 relative) ignores a subnormal (float)eps and
 * overflowing intermediates.  Hand-made f32-any certificate for the net of
 * f32any_batch_norm_subnormal_eps claiming y in [0.951, 0.956] (the real value 0.9535 +- 2^-20):
 * float32 gives 0.944, so the certificate is false and must be rejected. */
Test(checker_adversarial, batch_norm_subnormal_eps) {
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
  cr_expect_eq(run_check(path), 1, "CHECKER BUG: a false f32-any batch-norm box was accepted");
  unlink(path);
}
