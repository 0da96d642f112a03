/* test_certs.c - certificates written by the verifier are ACCEPTed by the independent checker
 * (run as a separate program), mutated ones are REJECTed (exit 1) or refused as malformed
 * (exit 2), and a random mutation loop never crashes it. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certjson.h"
#include "torchlean/model_file.h"
#include "torchlean/rand.h"
#include "torchlean/verify.h"
#include "vnets.h"

#define CHECKER TL_BUILD_DIR "/certs/torchlean-check"

static int run_check(const char *path) {
  char cmd[1024];
  /* sanitizer reports must not look like a REJECT (exit 1) */
  snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s %s > %s.out 2>&1", CHECKER,
           path, path);
  int st = system(cmd);
  cr_assert(WIFEXITED(st), "checker did not exit normally on %s", path);
  return WEXITSTATUS(st);
}

static int run_check_model(const char *path, const char *model) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd,
           "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s %s --model %s > %s.out 2>&1", CHECKER, path,
           model, path);
  int st = system(cmd);
  cr_assert(WIFEXITED(st), "checker did not exit normally on %s", path);
  return WEXITSTATUS(st);
}

static void tmp_path(char *buf, size_t n, const char *tag) {
  snprintf(buf, n, "%s/tl_cert_%ld_%s.json", TL_BUILD_DIR, (long)getpid(), tag);
}

/* verify net g at a random center (label = exact argmax) and write a certificate */
static tl_verdict make_cert(tl_graph *g, uint64_t seed, double eps, tl_semantics sem, tl_method m, int icrown,
                            const char *path) {
  tl_rng r;
  tl_rng_init(&r, seed);
  int64_t n = g->nodes[g->inputs[0]].numel;
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  int64_t nout = g->nodes[out].numel;
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
  o.sem = sem, o.method = m, o.intermediate_crown = icrown, o.keep_evidence = 1, o.falsify = 0;
  tl_verify_result *res;
  tl_status st;
  cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, &st), TL_OK, "%s", st.msg);
  tl_cert_info info = {NULL, "net.safetensors", NULL}; /* the writer hashes g itself */
  cr_assert_eq(tl_cert_write(path, g, reg, p, res, &info, &st), TL_OK, "%s", st.msg);
  tl_verdict v = res->verdict;
  tl_verify_result_free(res);
  tl_property_free(p);
  tl_region_free(reg);
  free(c);
  return v;
}

static void save_text(const char *path, const char *t) {
  FILE *f = fopen(path, "wb");
  fputs(t, f);
  fclose(f);
}

static cJSON *sample0(cJSON *j) { return cJSON_GetArrayItem(cJSON_GetObjectItem(j, "samples"), 0); }

Test(certs, verifier_certificates_are_accepted) {
  char path[512];
  tmp_path(path, sizeof path, "acc");
  int verified = 0;
  for (int sem = 0; sem < 2; sem++)
    for (int m = 0; m < 2; m++)
      for (int ic = 0; ic < 1 + m; ic++) {
        tl_graph *nets[5] = {vnet_mlp(3, 5, 8, 6, 3, TL_OP_RELU), vnet_mlp(4, 4, 6, 6, 3, TL_OP_SIGMOID),
                             vnet_mlp(5, 4, 6, 6, 3, TL_OP_TANH), vnet_mlp(6, 4, 6, 6, 3, TL_OP_LEAKY_RELU),
                             vnet_cnn(7, 0)};
        tl_graph *extra = vnet_cnn(8, 1);
        for (int k = 0; k < 6; k++) {
          tl_graph *g = k < 5 ? nets[k] : extra;
          tl_verdict v =
              make_cert(g, 50 + k, k == 4 || k == 5 ? 0.01 : 0.02, (tl_semantics)sem, (tl_method)m, ic, path);
          verified += v == TL_VERDICT_VERIFIED;
          int rc = run_check(path);
          char cmd[600];
          snprintf(cmd, sizeof cmd, "cat %s.out", path);
          if (rc != 0)
            cr_expect(system(cmd) == 0);
          cr_assert_eq(rc, 0, "net %d sem %d method %d icrown %d: checker exit %d", k, sem, m, ic, rc);
          tl_graph_free(g);
        }
      }
  cr_assert(verified > 0, "no verified sample: the acceptance test is vacuous");
  remove(path);
}

Test(certs, mutations_are_rejected) {
  char path[512], mp[512];
  tmp_path(path, sizeof path, "mut");
  tmp_path(mp, sizeof mp, "mut2");
  tl_graph *g = vnet_mlp(3, 5, 8, 6, 3, TL_OP_RELU);
  cr_assert_eq(make_cert(g, 11, 0.01, TL_SEM_F32_ANY, TL_METHOD_CROWN, 0, path), TL_VERDICT_VERIFIED);
  cr_assert_eq(run_check(path), 0);
  /* 1. a box bound tightened past the truth: hidden node lower := upper */
  {
    cJSON *j = tl_test_json_load(path), *b = cJSON_GetArrayItem(cJSON_GetObjectItem(sample0(j), "boxes"), 1);
    cJSON *lo = cJSON_GetObjectItem(b, "lo"), *hi = cJSON_GetObjectItem(b, "hi");
    cJSON_ReplaceItemInArray(lo, 0, cJSON_CreateString(cJSON_GetArrayItem(hi, 0)->valuestring));
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 1);
  }
  /* 2. a weight changed */
  {
    cJSON *j = tl_test_json_load(path),
          *nodes = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "graph"), "nodes");
    cJSON *w = cJSON_GetObjectItem(cJSON_GetArrayItem(nodes, 1), "data");
    cJSON_ReplaceItemInArray(w, 0, cJSON_CreateString("0x1p+4"));
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 1);
  }
  /* 3. the region enlarged */
  {
    cJSON *j = tl_test_json_load(path), *r = cJSON_GetObjectItem(sample0(j), "region");
    cJSON_ReplaceItemInObject(r, "eps", cJSON_CreateString("0x1p-3"));
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 1);
  }
  /* 4. the property changed: first row negated (another label's margin) */
  {
    cJSON *j = tl_test_json_load(path), *p = cJSON_GetObjectItem(sample0(j), "property");
    cJSON *row = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "clauses"), 0), 0);
    cJSON *c = cJSON_GetObjectItem(row, "c");
    for (int i = 0; i < cJSON_GetArraySize(c); i++) {
      const char *s = cJSON_GetArrayItem(c, i)->valuestring;
      char buf[64];
      snprintf(buf, sizeof buf, "%s%s", s[0] == '-' ? "" : "-", s[0] == '-' ? s + 1 : s);
      cJSON_ReplaceItemInArray(c, i, cJSON_CreateString(buf));
    }
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 1);
  }
  /* 5. a claimed final bound raised */
  {
    cJSON *j = tl_test_json_load(path), *rl = cJSON_GetObjectItem(sample0(j), "row_lower");
    cJSON_ReplaceItemInArray(rl, 0, cJSON_CreateString("0x1p+10"));
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 1);
  }
  /* 6. a relaxation slope changed (upper line below relu) and a verdict without proof */
  {
    cJSON *j = tl_test_json_load(path),
          *acts = cJSON_GetObjectItem(cJSON_GetObjectItem(sample0(j), "crown"), "activations");
    cJSON *a = cJSON_GetArrayItem(acts, 0);
    cJSON_ReplaceItemInObject(a, "ua", cJSON_CreateArray());
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 2); /* wrong length: malformed */
    j = tl_test_json_load(path);
    a = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(sample0(j), "crown"), "activations"), 0);
    cJSON *ub = cJSON_GetObjectItem(a, "ub");
    for (int i = 0; i < cJSON_GetArraySize(ub); i++)
      cJSON_ReplaceItemInArray(ub, i, cJSON_CreateString("-0x1p+0"));
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 1);
  }
  /* 7. malformed numbers, decimals, missing fields, bad hash, bad JSON */
  {
    cJSON *j = tl_test_json_load(path), *rl = cJSON_GetObjectItem(sample0(j), "row_lower");
    cJSON_ReplaceItemInArray(rl, 0, cJSON_CreateString("0x1.8pz"));
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 2);
    j = tl_test_json_load(path);
    rl = cJSON_GetObjectItem(sample0(j), "row_lower");
    cJSON_ReplaceItemInArray(rl, 0, cJSON_CreateNumber(0.5));
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 2);
    j = tl_test_json_load(path);
    cJSON_DeleteItemFromObject(sample0(j), "verdict");
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 2);
    j = tl_test_json_load(path);
    cJSON_ReplaceItemInObject(j, "graph_sha256", cJSON_CreateString("abc"));
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 2);
    j = tl_test_json_load(path);
    cJSON_ReplaceItemInObject(j, "format", cJSON_CreateString("torchlean.cert.v9"));
    tl_test_json_save(mp, j), cJSON_Delete(j);
    cr_assert_eq(run_check(mp), 2);
    save_text(mp, "{\"format\": ");
    cr_assert_eq(run_check(mp), 2);
  }
  tl_graph_free(g);
  remove(path), remove(mp);
}

Test(certs, many_samples_in_one_file) {
  char path[512];
  tmp_path(path, sizeof path, "many");
  tl_graph *g = vnet_mlp(9, 4, 6, 6, 3, TL_OP_RELU);
  tl_region *r[3];
  tl_property *p[3];
  tl_verify_result *res[3];
  tl_verify_opts o = tl_verify_opts_default();
  o.keep_evidence = 1, o.falsify = 0;
  for (int i = 0; i < 3; i++) {
    float c[4] = {0.1f * i, 0.2f, 0.3f, 0.4f};
    cr_assert_eq(tl_region_linf(&r[i], c, 4, 0.01, 1, 0, 1, NULL), TL_OK);
    cr_assert_eq(tl_property_robust(&p[i], 3, i, NULL), TL_OK);
    cr_assert_eq(tl_verify_sample(g, r[i], p[i], &o, &res[i], NULL), TL_OK);
  }
  cr_assert_eq(tl_cert_write_many(path, g, 3, (const tl_region *const *)r, (const tl_property *const *)p,
                                  (const tl_verify_result *const *)res, NULL, NULL),
               TL_OK);
  cr_assert_eq(run_check(path), 0);
  char out[600];
  snprintf(out, sizeof out, "%s.out", path);
  FILE *f = fopen(out, "r");
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  cr_assert(strstr(buf, "sample 2: ACCEPT") && strstr(buf, "summary: 3 samples"), "%s", buf);
  for (int i = 0; i < 3; i++)
    tl_region_free(r[i]), tl_property_free(p[i]), tl_verify_result_free(res[i]);
  tl_graph_free(g);
  remove(path), remove(out);
}

Test(certs, random_mutations_never_crash) {
  char path[512], mp[512];
  tmp_path(path, sizeof path, "fz");
  tmp_path(mp, sizeof mp, "fz2");
  tl_graph *g = vnet_cnn(12, 0);
  make_cert(g, 13, 0.01, TL_SEM_F32_ANY, TL_METHOD_CROWN, 0, path);
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *orig = malloc(n + 1), *buf = malloc(n + 1);
  cr_assert_eq(fread(orig, 1, n, f), (size_t)n);
  orig[n] = 0;
  fclose(f);
  tl_rng r;
  tl_rng_init(&r, 77);
  const char junk[] = "0123456789abcdefxp.-+/\"{}[],:eEn ";
  int counts[3] = {0, 0, 0};
  for (int it = 0; it < 300; it++) {
    memcpy(buf, orig, n + 1);
    int edits = 1 + (int)tl_rng_below(&r, 3);
    for (int e = 0; e < edits; e++) {
      long pos = (long)tl_rng_below(&r, (uint64_t)n);
      buf[pos] = junk[tl_rng_below(&r, sizeof junk - 1)];
    }
    save_text(mp, buf);
    int rc = run_check(mp);
    cr_assert(rc >= 0 && rc <= 2, "iteration %d: exit %d", it, rc);
    counts[rc]++;
  }
  cr_assert(counts[1] + counts[2] > 0);
  free(orig), free(buf);
  tl_graph_free(g);
  remove(path), remove(mp);
  char out[600];
  snprintf(out, sizeof out, "%s.out", mp);
  remove(out);
  snprintf(out, sizeof out, "%s.out", path);
  remove(out);
}

/* the graph hash binds the certificate: the checker recomputes it from the embedded graph, and
 * with --model from the model file (its own reader), and compares weights bit for bit */
Test(certs, graph_hash_and_model_binding) {
  tl_graph *g = vnet_mlp(21, 5, 8, 8, 3, TL_OP_RELU), *g2 = vnet_mlp(22, 5, 8, 8, 3, TL_OP_RELU);
  char path[512], mp[512], model[512], model2[512], model3[512];
  tmp_path(path, sizeof path, "hash");
  tmp_path(mp, sizeof mp, "hash_mut");
  tmp_path(model, sizeof model, "hash_model.tlm");
  tmp_path(model2, sizeof model2, "hash_model2.tlm");
  tmp_path(model3, sizeof model3, "hash_model3.tlm");
  make_cert(g, 5, 0.01, TL_SEM_F32_ANY, TL_METHOD_CROWN, 0, path);
  tl_status st;
  cr_assert_eq(tl_model_save(model, g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_model_save(model2, g2, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(run_check(path), 0);
  cr_assert_eq(run_check_model(path, model), 0, "matching model must be accepted");
  cr_assert_eq(run_check_model(path, model2), 1, "another model must be rejected");
  /* the same structure with one weight bit flipped (the file re-saved: a consistent model file) */
  tl_graph *g3 = NULL;
  cr_assert_eq(tl_graph_clone(&g3, g, &st), TL_OK);
  uint32_t bits;
  memcpy(&bits, &g3->weights[3], 4);
  bits ^= 1;
  memcpy(&g3->weights[3], &bits, 4);
  cr_assert_eq(tl_model_save(model3, g3, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(run_check_model(path, model3), 1, "a one-bit weight change must be rejected");
  /* a tampered hash: valid hex, wrong value */
  cJSON *j = tl_test_json_load(path), *h = cJSON_GetObjectItem(j, "graph_sha256");
  char hx[65];
  snprintf(hx, sizeof hx, "%s", h->valuestring);
  hx[10] = hx[10] == '0' ? '1' : '0';
  cJSON_ReplaceItemInObject(j, "graph_sha256", cJSON_CreateString(hx));
  tl_test_json_save(mp, j), cJSON_Delete(j);
  cr_assert_eq(run_check(mp), 1, "tampered hash must be rejected");
  cr_assert_eq(run_check_model(mp, model), 1);
  /* an embedded weight changed (hash kept): rejected by the hash even where the bounds would pass */
  j = tl_test_json_load(path);
  cJSON *nodes = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "graph"), "nodes");
  for (cJSON *n = nodes->child; n; n = n->next)
    if (!strcmp(cJSON_GetObjectItem(n, "op")->valuestring, "param")) {
      cJSON_ReplaceItemInArray(cJSON_GetObjectItem(n, "data"), 0, cJSON_CreateString("0x1p-20"));
      break;
    }
  tl_test_json_save(mp, j), cJSON_Delete(j);
  cr_assert_eq(run_check(mp), 1);
  /* a node name changed: covered by the hash too */
  j = tl_test_json_load(path);
  nodes = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "graph"), "nodes");
  for (cJSON *n = nodes->child; n; n = n->next)
    if (cJSON_GetObjectItem(n, "name")) {
      cJSON_ReplaceItemInObject(n, "name", cJSON_CreateString("renamed"));
      break;
    }
  tl_test_json_save(mp, j), cJSON_Delete(j);
  cr_assert_eq(run_check(mp), 1);
  /* a corrupt model file: malformed (exit 2) */
  FILE *f = fopen(model3, "r+b");
  cr_assert(f);
  fputc(0xff, f), fputc(0xff, f), fputc(0xff, f);
  fclose(f);
  cr_assert_eq(run_check_model(path, model3), 2);
  cr_assert_eq(run_check_model(path, "/nonexistent/model.tlm"), 2);
  tl_graph_free(g), tl_graph_free(g2), tl_graph_free(g3);
  remove(path), remove(mp), remove(model), remove(model2), remove(model3);
}

/* max pool lines in the certificate: the checker re-derives the CROWN bound through them and
 * rejects lines that are not valid on the certificate's boxes */
static tl_verdict make_mp_cert(tl_graph *g, tl_semantics sem, tl_method m, const char *path) {
  double lo[2] = {2, 0}, hi[2] = {3, 1}, c[2] = {-1, 0}, d[1] = {0.5};
  unsigned char strict[1] = {0};
  int cs[2] = {0, 1};
  tl_region *reg;
  tl_property *p;
  tl_status st;
  cr_assert_eq(tl_region_box(&reg, lo, hi, 2, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_property_new(&p, 2, 1, c, d, strict, 1, cs, 0, &st), TL_OK, "%s", st.msg);
  tl_verify_opts o = tl_verify_opts_default();
  o.sem = sem, o.method = m, o.keep_evidence = 1, o.falsify = 0;
  tl_verify_result *res;
  cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, &st), TL_OK, "%s", st.msg);
  tl_cert_info info = {NULL, "net.safetensors", NULL};
  cr_assert_eq(tl_cert_write(path, g, reg, p, res, &info, &st), TL_OK, "%s", st.msg);
  tl_verdict v = res->verdict;
  tl_verify_result_free(res);
  tl_property_free(p);
  tl_region_free(reg);
  return v;
}

static cJSON *mp_entry(cJSON *j) {
  cJSON *mps = cJSON_GetObjectItem(cJSON_GetObjectItem(sample0(j), "crown"), "maxpools");
  cr_assert(mps && cJSON_GetArraySize(mps) >= 1, "certificate without max pool lines");
  return cJSON_GetArrayItem(mps, 0);
}

Test(certs, max_pool_lines) {
  char path[512], mp[512], out[600];
  tmp_path(path, sizeof path, "mpl");
  tmp_path(mp, sizeof mp, "mpl_mut");
  tl_graph *g = vnet_maxpool_skip();
  for (int sem = 0; sem < 2; sem++) {
    cr_assert_neq(make_mp_cert(g, (tl_semantics)sem, TL_METHOD_IBP, path), TL_VERDICT_VERIFIED);
    cr_assert_eq(make_mp_cert(g, (tl_semantics)sem, TL_METHOD_CROWN, path), TL_VERDICT_VERIFIED,
                 "only the max pool lines prove out0 >= -1/2");
    cr_assert_eq(run_check(path), 0);
    cJSON *j = tl_test_json_load(path);
    cJSON *e = mp_entry(j);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "upper"), 0)->valuestring, "exact");
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "arg"), 0)->valueint, 0);
    cJSON_Delete(j);
    /* without the lines the max pool is concretised: the verified verdict no longer follows */
    j = tl_test_json_load(path);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(sample0(j), "crown"), "maxpools");
    tl_test_json_save(mp, j);
    cr_assert_eq(run_check(mp), 1);
    cJSON_Delete(j);
    /* tampered lines */
    const char *arg[4] = {"1", "0", "0", "7"};
    const char *up[4] = {"\"exact\"", "\"0x1p+1\"", "\"0x1.8p+1\"", "\"exact\""};
    int want[4] = {1, 1, 1, 2};
    for (int t = 0; t < 4; t++) {
      j = tl_test_json_load(path);
      e = mp_entry(j);
      cJSON_ReplaceItemInArray(cJSON_GetObjectItem(e, "arg"), 0, cJSON_Parse(arg[t]));
      cJSON_ReplaceItemInArray(cJSON_GetObjectItem(e, "upper"), 0, cJSON_Parse(up[t]));
      tl_test_json_save(mp, j);
      /* t = 2: c = 3 = max u is a valid line, but the upper line does not prove the row: the
       * lower line does, so the certificate stays acceptable */
      cr_assert_eq(run_check(mp), t == 2 ? 0 : want[t], "tamper %d (sem %d)", t, sem);
      cJSON_Delete(j);
    }
    j = tl_test_json_load(path);
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(mp_entry(j), "upper"), 0, cJSON_CreateString("bogus"));
    tl_test_json_save(mp, j);
    cr_assert_eq(run_check(mp), 2);
    cJSON_Delete(j);
  }
  tl_graph_free(g);
  /* a CNN with max pool: ACCEPTed; an index outside the window, "exact" without dominance and a
   * constant below max u are REJECTed */
  tl_graph *c = vnet_cnn(8, 1);
  int seen_const = 0;
  for (int sem = 0; sem < 2; sem++)
    for (int ic = 0; ic < 2; ic++) {
      make_cert(c, 60 + sem, 0.03, (tl_semantics)sem, TL_METHOD_CROWN, ic, path);
      cr_assert_eq(run_check(path), 0);
      cJSON *j = tl_test_json_load(path);
      cJSON *e = mp_entry(j), *ar = cJSON_GetObjectItem(e, "arg"), *ua = cJSON_GetObjectItem(e, "upper");
      cr_assert_eq(cJSON_GetArraySize(ar), 18);
      int kc = -1;
      for (int o = 0; o < 18 && kc < 0; o++)
        if (strcmp(cJSON_GetArrayItem(ua, o)->valuestring, "exact"))
          kc = o;
      cJSON_Delete(j);
      for (int t = 0; t < 3; t++) {
        if (t > 0 && kc < 0)
          continue;
        j = tl_test_json_load(path);
        e = mp_entry(j), ar = cJSON_GetObjectItem(e, "arg"), ua = cJSON_GetObjectItem(e, "upper");
        if (t == 0) /* output 0 reads inputs 0, 1, 6, 7 of channel 0; 35 is outside its window */
          cJSON_ReplaceItemInArray(ar, 0, cJSON_CreateNumber(35));
        else if (t == 1)
          cJSON_ReplaceItemInArray(ua, kc, cJSON_CreateString("exact"));
        else
          cJSON_ReplaceItemInArray(ua, kc, cJSON_CreateString("-0x1p+4"));
        tl_test_json_save(mp, j);
        cr_assert_eq(run_check(mp), 1, "CNN tamper %d (sem %d)", t, sem);
        cJSON_Delete(j);
      }
      seen_const += kc >= 0;
    }
  cr_assert(seen_const > 0, "no constant upper line exercised");
  tl_graph_free(c);
  remove(path), remove(mp);
  snprintf(out, sizeof out, "%s.out", path);
  remove(out);
  snprintf(out, sizeof out, "%s.out", mp);
  remove(out);
}
