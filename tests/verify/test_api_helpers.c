/* test_api_helpers.c - the first-program helpers: tl_dataset_from_labels (data.h: integer labels,
 * one-hot inside) and tl_verify_model_robust (verify.h: trace, verify and certify in one call). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "torchlean/torchlean.h"

#define CHECKER TL_BUILD_DIR "/certs/torchlean-check"

static tl_tensor *points(int64_t n) {
  tl_tensor *x = NULL;
  int64_t shape[] = {n, 2};
  cr_assert_eq(tl_tensor_new(&x, TL_F32, 2, shape, NULL), TL_OK);
  for (int64_t i = 0; i < 2 * n; i++)
    tl_tensor_f32(x)[i] = (float)i;
  return x;
}

Test(api_helpers, labels_one_hot_and_class_count) {
  const int labels[] = {0, 2, 1, 2};
  tl_dataset *d = NULL;
  tl_status st;
  cr_assert_eq(tl_dataset_from_labels(&d, points(4), labels, 0, "four", &st), TL_OK, "%s", st.msg);
  cr_assert_eq(d->num_classes, 3); /* 1 + the largest label */
  cr_assert_eq(d->n, 4);
  cr_assert_eq(d->y->shape[0], 4);
  cr_assert_eq(d->y->shape[1], 3);
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(tl_dataset_label(d, i), labels[i]);
    for (int k = 0; k < 3; k++)
      cr_assert_eq(tl_tensor_f32(d->y)[i * 3 + k], k == labels[i] ? 1.0f : 0.0f);
  }
  cr_assert_eq(tl_tensor_f32(d->x)[3], 3.0f); /* inputs kept as given */
  tl_dataset_free(d);
  cr_assert_eq(tl_dataset_from_labels(&d, points(2), labels, 5, NULL, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(d->num_classes, 5); /* an explicit class count wins */
  tl_dataset_free(d);
}

Test(api_helpers, labels_out_of_range_are_errors) {
  const int labels[] = {0, 2, -1};
  tl_dataset *d = NULL;
  tl_status st;
  /* x is taken over also on failure: the sanitizer build checks that nothing leaks */
  cr_assert_eq(tl_dataset_from_labels(&d, points(2), labels, 2, "pairs", &st), TL_EVALUE);
  cr_assert_null(d);
  cr_assert(strstr(st.msg, "pairs: sample 1: label 2 is not in [0, 2)"), "%s", st.msg);
  cr_assert_eq(tl_dataset_from_labels(&d, points(3), labels, 0, "neg", &st), TL_EVALUE);
  cr_assert(strstr(st.msg, "neg: sample 2: label -1"), "%s", st.msg);
  cr_assert_eq(tl_dataset_from_labels(&d, NULL, labels, 2, NULL, &st), TL_EARG);
}

/* a 2-8-3 MLP with its initial weights and the label it gives x exactly */
static tl_model *mlp(const float *x, int *label) {
  int64_t dims[] = {2, 8, 3}, in[] = {2};
  tl_model *m = tl_model_new(5);
  tl_model_set_root(m, tl_nn_mlp(m, 3, dims, TL_OP_RELU), 1, in);
  tl_graph *g = NULL;
  double lo[3], hi[3];
  tl_status st;
  cr_assert_eq(tl_model_trace(m, 1, &g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exact_eval(g, x, lo, hi, &st), TL_OK, "%s", st.msg);
  *label = 0;
  for (int k = 1; k < 3; k++) /* argmax of the exact outputs */
    *label = lo[k] + hi[k] > lo[*label] + hi[*label] ? k : *label;
  cr_assert(lo[*label] > hi[(*label + 1) % 3] && lo[*label] > hi[(*label + 2) % 3], "no clear winner at x");
  tl_graph_free(g);
  return m;
}

Test(api_helpers, verify_model_robust_matches_the_steps_and_certifies) {
  const float x[] = {0.7f, -0.4f};
  int label;
  tl_model *m = mlp(x, &label);
  tl_status st;
  tl_verify_result *res = NULL, *ref = NULL;
  char cert[256], cmd[512];
  snprintf(cert, sizeof cert, "%s/tl_api_helpers_%ld.json", TL_BUILD_DIR, (long)getpid());
  /* at the point itself (eps 0) the true label is verified and the certificate accepted */
  cr_assert_eq(tl_verify_model_robust(m, x, label, 0.0, NULL, cert, &res, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(res->verdict, TL_VERDICT_VERIFIED);
  snprintf(cmd, sizeof cmd, "%s %s > /dev/null", CHECKER, cert);
  cr_assert_eq(system(cmd), 0, "torchlean-check did not ACCEPT %s", cert);
  unlink(cert);
  tl_verify_result_free(res);
  /* the same bounds as the separate steps (trace, region, property, tl_verify_sample) */
  tl_graph *g = NULL;
  tl_region *r = NULL;
  tl_property *p = NULL;
  tl_verify_opts o = tl_verify_opts_default();
  cr_assert_eq(tl_verify_model_robust(m, x, label, 0.01, &o, NULL, &res, &st), TL_OK, "%s", st.msg);
  cr_assert(tl_model_trace(m, 1, &g, &st) == TL_OK && tl_region_linf(&r, x, 2, 0.01, 0, 0, 0, &st) == TL_OK &&
            tl_property_robust(&p, 3, label, &st) == TL_OK &&
            tl_verify_sample(g, r, p, &o, &ref, &st) == TL_OK);
  cr_assert_eq(res->verdict, ref->verdict);
  cr_assert_eq(res->nrows, ref->nrows);
  cr_assert_eq(memcmp(res->row_lower, ref->row_lower, sizeof(double) * (size_t)res->nrows), 0);
  cr_assert_null(res->bounds); /* no certificate asked, no evidence kept */
  tl_verify_result_free(res), tl_verify_result_free(ref), tl_property_free(p), tl_region_free(r),
      tl_graph_free(g);
  /* a wrong label at the point is falsified; a label out of range is an error */
  cr_assert_eq(tl_verify_model_robust(m, x, (label + 1) % 3, 0.0, NULL, NULL, &res, &st), TL_OK, "%s",
               st.msg);
  cr_assert_eq(res->verdict, TL_VERDICT_FALSIFIED);
  tl_verify_result_free(res);
  cr_assert_neq(tl_verify_model_robust(m, x, 3, 0.0, NULL, cert, &res, &st), TL_OK);
  cr_assert_null(res);
  cr_assert_eq(access(cert, F_OK), -1, "no certificate after a failure");
  tl_model_free(m);
}
