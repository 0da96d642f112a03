/* test_certmut_oracle.c - the certmut oracle can fail: certificates written by the verifier, then
 * made false on purpose (a verified claim whose property no point satisfies, a box that misses the
 * value, a row bound above the value, a counterexample that satisfies the property or lies outside
 * the region, a wrong label, a relaxation line that is not one, a hash that names another graph), are
 * each reported OR_FALSE; the unchanged certificates are confirmed.  Real and f32-any, IBP and CROWN. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certjson.h"
#include "cm.h"
#include "torchlean/verify.h"
#include "vnets.h"

/* a certificate of a 5-8-6-3 relu MLP at eps around a seeded centre, robustness of its exact label;
 * *verdict the verifier's verdict */
static cJSON *cert(tl_semantics sem, tl_method m, double eps, tl_verdict *verdict) {
  tl_graph *g = vnet_mlp(3, 5, 8, 6, 3, TL_OP_RELU);
  float c[5];
  cm_rng r = {17};
  for (int i = 0; i < 5; i++)
    c[i] = (float)cm_unif(&r);
  double ylo[3], yhi[3];
  cr_assert_eq(tl_exact_eval(g, c, ylo, yhi, NULL), TL_OK);
  int label = ylo[1] > ylo[0] ? 1 : 0;
  label = ylo[2] > ylo[label] ? 2 : label;
  tl_region *reg;
  tl_property *p;
  cr_assert_eq(tl_region_linf(&reg, c, 5, eps, 1, 0, 1, NULL), TL_OK);
  cr_assert_eq(tl_property_robust(&p, 3, label, NULL), TL_OK);
  tl_verify_opts o = tl_verify_opts_default();
  o.sem = sem, o.method = m, o.keep_evidence = 1;
  tl_verify_result *res;
  tl_status st;
  cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, &st), TL_OK, "%s", st.msg);
  char path[256];
  snprintf(path, sizeof path, "/tmp/certmut_oracle_%ld.json", (long)getpid());
  cr_assert_eq(tl_cert_write(path, g, reg, p, res, NULL, &st), TL_OK, "%s", st.msg);
  *verdict = res->verdict;
  tl_verify_result_free(res), tl_property_free(p), tl_region_free(reg), tl_graph_free(g);
  cJSON *j = tl_test_json_load(path);
  remove(path);
  return j;
}

/* a certificate with the wanted verdict: eps 2^-12 for verified, 0.5 for falsified */
static cJSON *cert_with(tl_semantics sem, tl_method m, tl_verdict want) {
  tl_verdict v;
  cJSON *j = cert(sem, m, want == TL_VERDICT_VERIFIED ? 0x1p-12 : 0.5, &v);
  cr_assert_eq(v, want, "the verifier gave verdict %d, wanted %d", (int)v, (int)want);
  return j;
}

static cJSON *s0(cJSON *j) { return cJSON_GetArrayItem(cJSON_GetObjectItem(j, "samples"), 0); }
static cJSON *at(cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k); }
static void set(cJSON *arr, int i, const char *s) { cJSON_ReplaceItemInArray(arr, i, cJSON_CreateString(s)); }
static void set_key(cJSON *o, const char *k, const char *s) {
  cJSON_ReplaceItemInObject(o, k, cJSON_CreateString(s));
}

/* the oracle's answer for sample 0 claimed as claim, with its reason */
static int oracle(cJSON *j, int claim, char *why) {
  cm_oracle_opts o = cm_oracle_defaults();
  return cm_oracle_sample(j, 0, claim, &o, why, 600);
}

static void expect_false(cJSON *j, int claim, const char *what) {
  char why[600];
  int r = oracle(j, claim, why);
  cr_assert_eq(r, OR_FALSE, "%s: the oracle answered %d (%s)", what, r, why);
  cr_log_info("%s: %s", what, why);
  cJSON_Delete(j);
}

static const tl_semantics sems[2] = {TL_SEM_REAL, TL_SEM_F32_ANY};

Test(certmut_oracle, true_claims_are_confirmed) {
  for (int s = 0; s < 2; s++)
    for (int m = 0; m < 2; m++)
      for (int v = 0; v < 2; v++) {
        cJSON *j = cert_with(sems[s], m ? TL_METHOD_CROWN : TL_METHOD_IBP,
                             v ? TL_VERDICT_FALSIFIED : TL_VERDICT_VERIFIED);
        char why[600];
        int r = oracle(j, v ? CS_FALSIFIED : CS_VERIFIED, why);
        cr_assert_eq(r, OR_CONFIRMED, "sem %d method %d verdict %d: %d (%s)", s, m, v, r, why);
        cJSON_Delete(j);
      }
}

Test(certmut_oracle, counterexample_of_a_sample_not_falsified_is_no_claim) {
  cJSON *j =
      cert_with(TL_SEM_REAL, TL_METHOD_IBP, TL_VERDICT_VERIFIED); /* a short, unreadable one: ignored */
  cJSON *x = cJSON_CreateArray();
  cJSON_AddItemToArray(x, cJSON_CreateString("nan"));
  cJSON_AddItemToObject(s0(j), "counterexample", x);
  char why[600];
  int r = oracle(j, CS_VERIFIED, why);
  cr_assert_eq(r, OR_CONFIRMED, "%d (%s)", r, why);
  cr_assert_eq(oracle(j, CS_FALSIFIED, why), OR_FALSE, "as a falsified claim it is one");
  cJSON_Delete(j);
}

Test(certmut_oracle, verified_claim_that_no_point_satisfies) {
  for (int s = 0; s < 2; s++) { /* row 0 of the clause made y_j - y_t < -1024: false everywhere */
    cJSON *j = cert_with(sems[s], TL_METHOD_IBP, TL_VERDICT_VERIFIED);
    cJSON *p = at(s0(j), "property");
    cJSON_DeleteItemFromObject(p, "label");
    set_key(cJSON_GetArrayItem(cJSON_GetArrayItem(at(p, "clauses"), 0), 0), "d", "-0x1p+10");
    expect_false(j, CS_VERIFIED, "verified, property false everywhere");
  }
}

Test(certmut_oracle, verified_claim_with_a_known_violating_point) {
  for (int s = 0; s < 2; s++) { /* a falsified sample (its counterexample in the region) claimed verified */
    cJSON *j = cert_with(sems[s], TL_METHOD_IBP, TL_VERDICT_FALSIFIED);
    set_key(s0(j), "verdict", "verified");
    expect_false(j, CS_VERIFIED, "verified at a radius with a counterexample");
  }
}

Test(certmut_oracle, verified_claim_refuted_by_the_search) {
  for (int s = 0; s < 2; s++) { /* the same without the counterexample: sampling and PGD find a point */
    cJSON *j = cert_with(sems[s], TL_METHOD_IBP, TL_VERDICT_FALSIFIED);
    set_key(s0(j), "verdict", "verified");
    cJSON_DeleteItemFromObject(s0(j), "counterexample");
    expect_false(j, CS_VERIFIED, "verified at a radius with violations (no counterexample given)");
  }
}

Test(certmut_oracle, false_boxes_and_row_bounds) {
  for (int s = 0; s < 2; s++) {
    cJSON *j = cert_with(sems[s], TL_METHOD_IBP, TL_VERDICT_VERIFIED);
    cJSON *b = cJSON_GetArrayItem(at(s0(j), "boxes"), 1); /* the first hidden node: [1024, 1024] */
    set(at(b, "lo"), 0, "0x1p+10"), set(at(b, "hi"), 0, "0x1p+10");
    expect_false(j, CS_UNKNOWN, "a box that misses the value");
    j = cert_with(sems[s], TL_METHOD_IBP, TL_VERDICT_VERIFIED);
    set(at(s0(j), "row_lower"), 0, "0x1p+20");
    expect_false(j, CS_UNKNOWN, "a row bound above the value");
  }
}

Test(certmut_oracle, false_counterexamples) {
  for (int s = 0; s < 2; s++) {
    cJSON *j = cert_with(sems[s], TL_METHOD_IBP, TL_VERDICT_VERIFIED); /* the centre satisfies it */
    cJSON_AddItemToObject(s0(j), "counterexample", cJSON_Duplicate(at(at(s0(j), "region"), "center"), 1));
    set_key(s0(j), "verdict", "falsified");
    expect_false(j, CS_FALSIFIED, "a counterexample that satisfies the property");
    j = cert_with(sems[s], TL_METHOD_IBP, TL_VERDICT_FALSIFIED); /* one element moved to 2 (outside [0, 1]) */
    set(at(s0(j), "counterexample"), 0, "0x1p+1");
    expect_false(j, CS_FALSIFIED, "a counterexample outside the region");
    j = cert_with(sems[s], TL_METHOD_IBP, TL_VERDICT_FALSIFIED);
    cJSON_DeleteItemFromObject(s0(j), "counterexample");
    expect_false(j, CS_FALSIFIED, "falsified without a counterexample");
  }
}

Test(certmut_oracle, label_lines_hash_and_unreadable_claims) {
  cJSON *j = cert_with(TL_SEM_REAL, TL_METHOD_IBP, TL_VERDICT_VERIFIED);
  cJSON *l = at(at(s0(j), "property"), "label");
  cJSON_SetNumberValue(l, (double)(((int)l->valuedouble + 1) % 3));
  expect_false(j, CS_VERIFIED, "a label the clause does not prove");
  j = cert_with(TL_SEM_REAL, TL_METHOD_CROWN, TL_VERDICT_VERIFIED); /* lower line 1024 above relu */
  cJSON *a = cJSON_GetArrayItem(at(at(s0(j), "crown"), "activations"), 0);
  set(at(a, "la"), 0, "0x0p+0"), set(at(a, "lb"), 0, "0x1p+10");
  expect_false(j, CS_VERIFIED, "a relaxation line that is not one");
  j = cert_with(TL_SEM_REAL, TL_METHOD_IBP, TL_VERDICT_VERIFIED);
  char *h = at(j, "graph_sha256")->valuestring;
  h[0] = h[0] == '0' ? '1' : '0';
  expect_false(j, CS_VERIFIED, "a hash of another graph");
  j = cert_with(TL_SEM_REAL, TL_METHOD_IBP, TL_VERDICT_VERIFIED);
  set_key(at(s0(j), "region"), "eps", "nan");
  expect_false(j, CS_VERIFIED, "an unreadable eps");
}
