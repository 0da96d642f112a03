/* test_certs_diff.c - randomized differential test of the checker (certs/).  For random small nets
 * (MLPs with relu/sigmoid/tanh/leaky relu, CNNs with batch norm, avg or max pool), random centers,
 * radii, semantics (real, f32-any) and methods (IBP, CROWN with IBP or CROWN intermediate bounds),
 * the verifier's certificate must be ACCEPTed; then, for each, ~20 single numbers are tightened
 * past the truth and every such certificate must be REJECTed (exit 1):
 *   - a box bound of some node moved past the node's value at the region's center (the value of a
 *     double reference run, moved by a margin far above any rounding of these small nets),
 *   - a region box end moved inside the L_inf ball,
 *   - a claimed objective lower bound moved above the objective's value at the center,
 *   - (CROWN) a pre-activation bound moved past the value at the center, or a relaxation line
 *     moved across the activation at the center.
 * If TL_OLD_CHECKER names another checker binary (e.g. the rational-only one before the
 * fixed-point rewrite), it must take the same decision on every certificate. */
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
#include "refexec.h"
#include "torchlean/rand.h"
#include "torchlean/verify.h"
#include "vnets.h"

#define CHECKER TL_BUILD_DIR "/certs/torchlean-check"

static int run(const char *bin, const char *path) {
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s %s > %s.out 2>&1", bin,
           path, path);
  int st = system(cmd);
  cr_assert(WIFEXITED(st), "checker did not exit normally on %s", path);
  return WEXITSTATUS(st);
}

/* both checkers (the second only if TL_OLD_CHECKER is set) must agree */
static int check(const char *path) {
  int rc = run(CHECKER, path);
  const char *old = getenv("TL_OLD_CHECKER");
  if (old && *old) {
    int ro = run(old, path);
    cr_assert_eq(rc, ro, "%s: new checker exit %d, old checker exit %d", path, rc, ro);
  }
  return rc;
}

static double num(const cJSON *it) {
  cr_assert(cJSON_IsString(it));
  const char *s = it->valuestring;
  if (!strcmp(s, "inf"))
    return INFINITY;
  if (!strcmp(s, "-inf"))
    return -INFINITY;
  return strtod(s, NULL); /* hex floats: exact */
}

static void set_num(cJSON *arr, int i, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%a", v);
  cr_assert(cJSON_ReplaceItemInArray(arr, i, cJSON_CreateString(buf)));
}

static double margin(double v) { return 1e-3 * (1 + fabs(v)); }

static tl_graph *random_net(tl_rng *r, uint64_t seed, int *is_cnn) {
  int k = (int)tl_rng_below(r, 6);
  static const tl_op acts[4] = {TL_OP_RELU, TL_OP_SIGMOID, TL_OP_TANH, TL_OP_LEAKY_RELU};
  *is_cnn = k >= 4;
  if (k >= 4)
    return vnet_cnn(seed, k == 5);
  int in = 2 + (int)tl_rng_below(r, 5), h = 3 + (int)tl_rng_below(r, 6), h2 = 3 + (int)tl_rng_below(r, 6);
  int out = 2 + (int)tl_rng_below(r, 3);
  return vnet_mlp(seed, in, h, h2, out, acts[k]);
}

Test(certs_diff, verifier_accepted_tightened_rejected) {
  char path[512], mp[512];
  snprintf(path, sizeof path, "%s/tl_certdiff_%ld.json", TL_BUILD_DIR, (long)getpid());
  snprintf(mp, sizeof mp, "%s/tl_certdiff_%ld_m.json", TL_BUILD_DIR, (long)getpid());
  tl_rng r;
  tl_rng_init(&r, 20261124);
  int ncert = 0, nrej = 0, nver = 0;
  for (int it = 0; it < 14; it++) {
    int is_cnn;
    tl_graph *g = random_net(&r, 1000 + it, &is_cnn);
    int in = g->inputs[0], out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
    int64_t n = g->nodes[in].numel, nout = g->nodes[out].numel;
    float *c = malloc(n * sizeof *c);
    double *cd = malloc(n * sizeof *cd);
    for (int64_t i = 0; i < n; i++)
      c[i] = (float)(0.1 + 0.8 * tl_rng_uniform(&r)), cd[i] = c[i];
    double eps = (is_cnn ? 0.002 : 0.005) * (1 + (double)tl_rng_below(&r, 4));
    tl_semantics sem = tl_rng_below(&r, 2) ? TL_SEM_F32_ANY : TL_SEM_REAL;
    tl_method m = tl_rng_below(&r, 2) ? TL_METHOD_CROWN : TL_METHOD_IBP;
    int icrown = m == TL_METHOD_CROWN && tl_rng_below(&r, 2);
    /* the center's values, node by node (double reference) */
    double *inputs[1] = {cd};
    double **vals = ref_graph(g, inputs, -1, NULL, 0, 0, 0);
    cr_assert(vals);
    int label = 0;
    for (int j = 1; j < nout; j++)
      if (vals[out][j] > vals[out][label])
        label = j;
    tl_region *reg;
    tl_property *p;
    cr_assert_eq(tl_region_linf(&reg, c, n, eps, 1, 0, 1, NULL), TL_OK);
    cr_assert_eq(tl_property_robust(&p, nout, label, NULL), TL_OK);
    tl_verify_opts o = tl_verify_opts_default();
    o.sem = sem, o.method = m, o.intermediate_crown = icrown, o.keep_evidence = 1, o.falsify = 0;
    tl_verify_result *res;
    tl_status st;
    cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, &st), TL_OK, "%s", st.msg);
    nver += res->verdict == TL_VERDICT_VERIFIED;
    tl_cert_info info = {NULL, "net.safetensors", NULL};
    cr_assert_eq(tl_cert_write(path, g, reg, p, res, &info, &st), TL_OK, "%s", st.msg);
    int rc = check(path);
    cr_assert_eq(rc, 0, "cert %d (cnn %d, sem %d, method %d, icrown %d): checker exit %d", it, is_cnn, sem, m,
                 icrown, rc);
    ncert++;

    /* tightened single numbers */
    cJSON *orig = tl_test_json_load(path);
    for (int t = 0; t < 20; t++) {
      cJSON *j = cJSON_Duplicate(orig, 1);
      cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "samples"), 0);
      int kind = (int)tl_rng_below(&r, m == TL_METHOD_CROWN ? 5 : 3);
      int done = 0;
      char what[160] = "";
      if (kind == 0) { /* a node box bound past the center's value */
        cJSON *boxes = cJSON_GetObjectItem(s, "boxes");
        cJSON *b = cJSON_GetArrayItem(boxes, (int)tl_rng_below(&r, (uint64_t)cJSON_GetArraySize(boxes)));
        int id = (int)cJSON_GetObjectItem(b, "node")->valuedouble;
        int up = (int)tl_rng_below(&r, 2);
        cJSON *arr = cJSON_GetObjectItem(b, up ? "hi" : "lo");
        int i = (int)tl_rng_below(&r, (uint64_t)cJSON_GetArraySize(arr));
        double v = vals[id][i], cur = num(cJSON_GetArrayItem(arr, i));
        if (isfinite(cur)) {
          set_num(arr, i, up ? v - margin(v) : v + margin(v));
          done = 1;
          snprintf(what, sizeof what, "box %s of node %d index %d", up ? "hi" : "lo", id, i);
        }
      } else if (kind == 1) { /* a region box end inside the ball */
        cJSON *rg = cJSON_GetObjectItem(s, "region");
        int up = (int)tl_rng_below(&r, 2);
        int i = (int)tl_rng_below(&r, (uint64_t)n);
        double lo = num(cJSON_GetArrayItem(cJSON_GetObjectItem(rg, "lo"), i));
        double hi = num(cJSON_GetArrayItem(cJSON_GetObjectItem(rg, "hi"), i));
        set_num(cJSON_GetObjectItem(rg, up ? "hi" : "lo"), i, up ? hi - (hi - lo) / 4 : lo + (hi - lo) / 4);
        done = hi - lo > 0;
        snprintf(what, sizeof what, "region %s index %d", up ? "hi" : "lo", i);
      } else if (kind == 2) { /* a claimed objective bound above the value at the center */
        cJSON *rl = cJSON_GetObjectItem(s, "row_lower");
        cJSON *cl = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "property"), "clauses"), 0);
        int k = (int)tl_rng_below(&r, (uint64_t)cJSON_GetArraySize(rl));
        cJSON *row = cJSON_GetArrayItem(cl, k);
        cJSON *cf = cJSON_GetObjectItem(row, "c");
        double a = 0;
        for (int jj = 0; jj < nout; jj++)
          a -= num(cJSON_GetArrayItem(cf, jj)) * vals[out][jj]; /* safe rows: objective -c . y */
        set_num(rl, k, a + margin(a));
        done = cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "property"), "clauses")) == 1;
        snprintf(what, sizeof what, "row_lower %d", k);
      } else { /* CROWN: a pre-activation bound or a relaxation line past the center's value */
        cJSON *acts = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "crown"), "activations");
        int na = cJSON_GetArraySize(acts);
        if (na > 0) {
          cJSON *a = cJSON_GetArrayItem(acts, (int)tl_rng_below(&r, (uint64_t)na));
          int id = (int)cJSON_GetObjectItem(a, "node")->valuedouble;
          int par = g->nodes[id].parents[0];
          int i = (int)tl_rng_below(&r, (uint64_t)g->nodes[id].numel);
          double x = vals[par][i], fx = vals[id][i];
          if (kind == 3) {
            int up = (int)tl_rng_below(&r, 2);
            set_num(cJSON_GetObjectItem(a, up ? "pre_hi" : "pre_lo"), i, up ? x - margin(x) : x + margin(x));
            snprintf(what, sizeof what, "pre_%s of node %d index %d", up ? "hi" : "lo", id, i);
          } else { /* lower line above f at x (or upper line below): intercept moved */
            int up = (int)tl_rng_below(&r, 2);
            double sl = num(cJSON_GetArrayItem(cJSON_GetObjectItem(a, up ? "ua" : "la"), i));
            double b = up ? fx - sl * x - margin(fx) - fabs(sl * x) * 1e-9
                          : fx - sl * x + margin(fx) + fabs(sl * x) * 1e-9;
            set_num(cJSON_GetObjectItem(a, up ? "ub" : "lb"), i, b);
            snprintf(what, sizeof what, "%s of node %d index %d", up ? "ub" : "lb", id, i);
          }
          done = 1;
        }
      }
      if (done) {
        tl_test_json_save(mp, j);
        int rm = check(mp);
        cr_assert_eq(rm, 1, "cert %d (cnn %d, sem %d, method %d, icrown %d), tightened %s: checker exit %d",
                     it, is_cnn, sem, m, icrown, what, rm);
        nrej++;
      }
      cJSON_Delete(j);
    }
    cJSON_Delete(orig);
    tl_verify_result_free(res);
    tl_property_free(p);
    tl_region_free(reg);
    ref_free_vals(g, vals);
    free(c), free(cd);
    tl_graph_free(g);
  }
  cr_assert(ncert == 14 && nrej > 150, "%d certificates, %d rejections", ncert, nrej);
  cr_assert(nver > 0, "no verified sample");
  char out[600];
  snprintf(out, sizeof out, "%s.out", path);
  remove(out);
  snprintf(out, sizeof out, "%s.out", mp);
  remove(out);
  remove(path), remove(mp);
}
