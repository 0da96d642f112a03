/* test_check_claims.c - torchlean-check checks every claim it ACCEPTs: a falsified verdict's
 * counterexample is re-checked (present, full length, in the exact region, violating the property
 * in the certificate's semantics), a robustness label must be the class the property's clause
 * proves, unknown samples are reported as UNKNOWN (no claim), and attributes outside the graph hash
 * that mean nothing (pool groups, a conv kernel unlike its weight) are refused. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certjson.h"
#include "torchlean/rand.h"
#include "torchlean/verify.h"
#include "vnets.h"

#define CHECKER TL_BUILD_DIR "/certs/torchlean-check"

/* exit status of the checker on path (env: extra environment, e.g. "TL_CHECK_FAST=0"); its output
 * in out (out may be NULL) */
static int run_check_env(const char *env, const char *path, char *out, size_t nout) {
  char cmd[1200], of[600];
  snprintf(of, sizeof of, "%s.out", path);
  snprintf(cmd, sizeof cmd, "%s ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s %s > %s 2>&1", env,
           CHECKER, path, of);
  int st = system(cmd);
  cr_assert(WIFEXITED(st), "checker did not exit normally on %s", path);
  if (out) {
    FILE *f = fopen(of, "r");
    cr_assert(f);
    size_t n = fread(out, 1, nout - 1, f);
    out[n] = 0;
    fclose(f);
  }
  remove(of);
  return WEXITSTATUS(st);
}
static int run_check(const char *path, char *out, size_t nout) { return run_check_env("", path, out, nout); }

static void tmp_path(char *buf, size_t n, const char *tag) {
  snprintf(buf, n, "%s/tl_claims_%ld_%s.json", TL_BUILD_DIR, (long)getpid(), tag);
}

static cJSON *sample0(cJSON *j) { return cJSON_GetArrayItem(cJSON_GetObjectItem(j, "samples"), 0); }

/* verify g at a random center in [0,1]^n (label: exact argmax) at radius eps with the falsifier on,
 * write the certificate; *c0 (n floats, caller frees) the center */
static tl_verdict make_cert(tl_graph *g, uint64_t seed, double eps, tl_semantics sem, const char *path,
                            float **c0) {
  tl_rng r;
  tl_rng_init(&r, seed);
  int64_t n = g->nodes[g->inputs[0]].numel;
  int64_t nout = g->nodes[g->outputs[0]].numel;
  float *c = malloc(n * sizeof *c);
  for (int64_t i = 0; i < n; i++)
    c[i] = (float)tl_rng_uniform(&r);
  double ylo[16], yhi[16];
  cr_assert_eq(tl_exact_eval(g, c, ylo, yhi, NULL), TL_OK);
  int label = 0;
  for (int j = 1; j < nout; j++)
    if (ylo[j] > ylo[label])
      label = j;
  tl_region *reg;
  tl_property *p;
  cr_assert_eq(tl_region_linf(&reg, c, n, eps, 1, 0, 1, NULL), TL_OK);
  cr_assert_eq(tl_property_robust(&p, nout, label, NULL), TL_OK);
  tl_verify_opts o = tl_verify_opts_default();
  o.sem = sem, o.method = TL_METHOD_IBP, o.keep_evidence = 1, o.falsify = 1;
  tl_verify_result *res;
  tl_status st;
  cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, &st), TL_OK, "%s", st.msg);
  tl_cert_info info = {NULL, "net.safetensors", NULL};
  cr_assert_eq(tl_cert_write(path, g, reg, p, res, &info, &st), TL_OK, "%s", st.msg);
  tl_verdict v = res->verdict;
  tl_verify_result_free(res);
  tl_property_free(p);
  tl_region_free(reg);
  *c0 = c;
  return v;
}

/* a certificate of g with the wanted verdict (seeds tried in turn); its center in *c0 */
static void cert_with(tl_graph *g, double eps, tl_semantics sem, tl_verdict want, const char *path,
                      float **c0) {
  for (uint64_t seed = 1; seed < 200; seed++) {
    if (make_cert(g, seed, eps, sem, path, c0) == want)
      return;
    free(*c0);
  }
  cr_assert_fail("no certificate with verdict %d at eps %g", (int)want, eps);
}

static void set_hex(cJSON *arr, int i, double v) {
  char b[64];
  snprintf(b, sizeof b, "%a", v);
  cJSON_ReplaceItemInArray(arr, i, cJSON_CreateString(b));
}

/* the mutated certificate's exit status, and its output must contain want: with the fast path (the
 * bounds proved there, the claims exactly) and without it (all exact) */
static void expect(const char *mp, const cJSON *j, int code, const char *want, const char *what) {
  char out[8192];
  tl_test_json_save(mp, j);
  for (int k = 0; k < 2; k++) {
    int rc = run_check_env(k ? "TL_CHECK_FAST=0" : "", mp, out, sizeof out);
    cr_assert_eq(rc, code, "%s (fast %s): exit %d, output:\n%s", what, k ? "off" : "on", rc, out);
    cr_assert(strstr(out, want), "%s (fast %s): no \"%s\" in:\n%s", what, k ? "off" : "on", want, out);
  }
}

Test(claims, falsified_counterexample_is_rechecked) {
  char path[512], mp[512];
  tmp_path(path, sizeof path, "f"), tmp_path(mp, sizeof mp, "fm");
  tl_graph *g = vnet_mlp(3, 5, 8, 6, 3, TL_OP_RELU);
  for (int sem = 0; sem < 2; sem++) {
    float *c0;
    cert_with(g, 0.5, sem ? TL_SEM_F32_ANY : TL_SEM_REAL, TL_VERDICT_FALSIFIED, path, &c0);
    char out[8192];
    cr_assert_eq(run_check(path, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out,
                     "sample 0: ACCEPT falsified (bounds re-derived; counterexample re-checked: in region, "
                     "violates"),
              "%s", out);
    cr_assert(strstr(out, "summary: 1 samples, 1 accepted (0 verified, 1 falsified), 0 unknown"), "%s", out);
    cJSON *j = tl_test_json_load(path), *s = sample0(j), *cex = cJSON_GetObjectItem(s, "counterexample");
    cJSON *orig = cJSON_Duplicate(cex, 1);
    /* no counterexample; one element short; a non-number element: malformed */
    cJSON_DeleteItemFromObject(s, "counterexample");
    expect(mp, j, 2, "counterexample is missing", "no counterexample");
    cJSON *shortc = cJSON_Duplicate(orig, 1);
    cJSON_DeleteItemFromArray(shortc, cJSON_GetArraySize(shortc) - 1);
    cJSON_AddItemToObject(s, "counterexample", shortc);
    expect(mp, j, 2, "counterexample must be an array of 5", "short counterexample");
    cJSON_ReplaceItemInObject(s, "counterexample", cJSON_Duplicate(orig, 1));
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(s, "counterexample"), 1, cJSON_CreateNumber(0.5));
    expect(mp, j, 2, "malformed number", "a JSON number in the counterexample");
    /* one ulp outside the exact region [max(c - eps, 0), min(c + eps, 1)] (eps = 1/2: c -+ eps exact) */
    for (int side = 0; side < 2; side++) {
      cJSON_ReplaceItemInObject(s, "counterexample", cJSON_Duplicate(orig, 1));
      double e = side ? fmin((double)c0[2] + 0.5, 1.0) : fmax((double)c0[2] - 0.5, 0.0);
      set_hex(cJSON_GetObjectItem(s, "counterexample"), 2, nextafter(e, side ? 2.0 : -1.0));
      expect(mp, j, 1, "counterexample lies outside the region (node 0, index 2)", "one ulp outside");
    }
    /* f32-any: a point that is not a binary32 value (the model's input is float32) */
    if (sem) {
      cJSON_ReplaceItemInObject(s, "counterexample", cJSON_Duplicate(orig, 1));
      cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "counterexample"), 0);
      double x0 = strtod(e->valuestring, NULL);
      set_hex(cJSON_GetObjectItem(s, "counterexample"), 0, x0 > 0.5 ? x0 - 0x1p-40 : x0 + 0x1p-40);
      expect(mp, j, 1, "counterexample element is not a binary32 value (f32-any) (node 0, index 0)",
             "a point off the float32 grid");
    }
    /* the center: inside the region, but its output is the label's (does not violate) */
    cJSON_ReplaceItemInObject(s, "counterexample", cJSON_Duplicate(orig, 1));
    for (int i = 0; i < 5; i++)
      set_hex(cJSON_GetObjectItem(s, "counterexample"), i, (double)c0[i]);
    expect(mp, j, 1,
           sem ? "does not violate the property in every f32-any evaluation (margin"
               : "does not violate the property in the exact evaluation (margin",
           "the center as counterexample");
    cJSON_Delete(orig);
    cJSON_Delete(j);
    free(c0);
  }
  tl_graph_free(g);
  remove(path), remove(mp);
}

Test(claims, verified_rewritten_as_falsified_and_unknown) {
  char path[512], mp[512];
  tmp_path(path, sizeof path, "v"), tmp_path(mp, sizeof mp, "vm");
  tl_graph *g = vnet_mlp(3, 5, 8, 6, 3, TL_OP_RELU);
  for (int sem = 0; sem < 2; sem++) {
    float *c0;
    cert_with(g, 1.0 / 512, sem ? TL_SEM_F32_ANY : TL_SEM_REAL, TL_VERDICT_VERIFIED, path, &c0);
    char out[8192];
    cr_assert_eq(run_check(path, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "sample 0: ACCEPT verified (bounds re-derived)"), "%s", out);
    cJSON *j = tl_test_json_load(path), *s = sample0(j);
    cJSON_ReplaceItemInObject(s, "verdict", cJSON_CreateString("falsified"));
    expect(mp, j, 2, "counterexample is missing", "verified -> falsified without a point");
    /* every point of the region satisfies the property: the center and the region's corners */
    cJSON *lo = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "region"), "lo");
    for (int k = 0; k < 2; k++) {
      cJSON_DeleteItemFromObject(s, "counterexample");
      cJSON *cx = cJSON_CreateArray();
      for (int i = 0; i < 5; i++) {
        char b[64];
        snprintf(b, sizeof b, "%a", (double)c0[i]);
        cJSON_AddItemToArray(cx, k ? cJSON_Duplicate(cJSON_GetArrayItem(lo, i), 1) : cJSON_CreateString(b));
      }
      cJSON_AddItemToObject(s, "counterexample", cx);
      expect(mp, j, 1, "does not violate the property", "verified -> falsified");
    }
    /* the same bounds as unknown: no claim beyond the bounds, reported as UNKNOWN */
    cJSON_ReplaceItemInObject(s, "verdict", cJSON_CreateString("unknown"));
    expect(mp, j, 0, "sample 0: UNKNOWN (bounds re-derived, no claim)", "unknown");
    expect(mp, j, 0, "summary: 1 samples, 0 accepted (0 verified, 0 falsified), 1 unknown",
           "unknown summary");
    cJSON_Delete(j);
    free(c0);
  }
  tl_graph_free(g);
  remove(path), remove(mp);
}

Test(claims, label_must_be_the_proved_class) {
  char path[512], mp[512];
  tmp_path(path, sizeof path, "l"), tmp_path(mp, sizeof mp, "lm");
  tl_graph *g = vnet_mlp(3, 5, 8, 6, 3, TL_OP_RELU);
  float *c0;
  cert_with(g, 1.0 / 512, TL_SEM_F32_ANY, TL_VERDICT_VERIFIED, path, &c0);
  cJSON *j = tl_test_json_load(path), *pj = cJSON_GetObjectItem(sample0(j), "property");
  int label = cJSON_GetObjectItem(pj, "label")->valueint;
  cJSON_ReplaceItemInObject(pj, "label", cJSON_CreateNumber((label + 1) % 3));
  expect(mp, j, 1, "does not match the property", "another class");
  cJSON_ReplaceItemInObject(pj, "label", cJSON_CreateString("3"));
  expect(mp, j, 2, "property.label must be an integer", "label as a string");
  cJSON_ReplaceItemInObject(pj, "label", cJSON_CreateNumber(3));
  expect(mp, j, 2, "property.label must be an integer", "label out of range");
  cJSON_ReplaceItemInObject(pj, "label", cJSON_CreateNumber(label + 0.5));
  expect(mp, j, 2, "property.label must be an integer", "label not an integer");
  cJSON_ReplaceItemInObject(pj, "label", cJSON_CreateNumber(label));
  expect(mp, j, 0, "ACCEPT verified", "the label restored");
  cJSON_Delete(j);
  free(c0);
  tl_graph_free(g);
  remove(path), remove(mp);
}

/* the first node of the embedded graph with op name op */
static cJSON *node_of(cJSON *j, const char *op) {
  cJSON *nodes = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "graph"), "nodes");
  for (cJSON *n = nodes->child; n; n = n->next)
    if (!strcmp(cJSON_GetObjectItem(n, "op")->valuestring, op))
      return n;
  cr_assert_fail("no %s node", op);
  return NULL;
}

Test(claims, unhashed_attributes_are_bound) {
  char path[512], mp[512];
  tmp_path(path, sizeof path, "a"), tmp_path(mp, sizeof mp, "am");
  for (int maxpool = 0; maxpool < 2; maxpool++) {
    tl_graph *g = vnet_cnn(12, maxpool);
    float *c0;
    make_cert(g, 13, 0.001, TL_SEM_F32_ANY, path, &c0);
    cr_assert_eq(run_check(path, NULL, 0), 0);
    cJSON *j = tl_test_json_load(path);
    cJSON *pool = node_of(j, maxpool ? "max_pool2d" : "avg_pool2d");
    cJSON_ReplaceItemInObject(pool, "groups", cJSON_CreateNumber(2));
    expect(mp, j, 1,
           maxpool ? "(max_pool2d) has shapes, parents or attributes that do not fit"
                   : "(avg_pool2d) has shapes, parents or attributes that do not fit",
           "pool groups 2");
    cJSON_ReplaceItemInObject(pool, "groups", cJSON_CreateNumber(1));
    cJSON *conv = node_of(j, "conv2d"), *k = cJSON_CreateArray();
    cJSON_AddItemToArray(k, cJSON_CreateNumber(1)), cJSON_AddItemToArray(k, cJSON_CreateNumber(1));
    cJSON_ReplaceItemInObject(conv, "kernel", k);
    expect(mp, j, 1, "(conv2d) has shapes, parents or attributes that do not fit", "conv kernel 1x1");
    cJSON_Delete(j);
    free(c0);
    tl_graph_free(g);
  }
  remove(path), remove(mp);
}

/* fuzz finding: JSON numbers far outside an integer field's range (a shape of 1e30, a parent id of
 * 1e30) are malformed, and are range-tested before any conversion (undefined behaviour before) */
Test(claims, huge_integers_are_malformed) {
  char out[4096];
  int rc = run_check(TL_SOURCE_DIR "/tests/fuzz/seeds/check/regress_cgraph_shape_1e30.json", out, sizeof out);
  cr_assert_eq(rc, 2, "%s", out);
  cr_assert(strstr(out, "shape[") && strstr(out, "must be a positive integer"), "%s", out);
}
