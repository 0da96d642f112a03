/* test_vnnlib_cli.c - `torchlean vnnlib` and `torchlean vnncomp` on the VNN-COMP 2021 test benchmark
 * (../shared/benchmarks): no verdict contradicts the known answer (test_sat violates the property,
 * the others hold), test_sat is found `sat` with a counterexample that lies in the exact box and
 * violates the property in float32 when replayed, every `unsat` certificate is ACCEPTed by
 * torchlean-check, and bad input is refused with exit status 2 before any work. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "torchlean/torchlean.h"
#include "torchlean/vnnlib.h"

#define BENCH TL_SOURCE_DIR "/../shared/benchmarks/vnncomp2021/test"

static int run_prog(const char *prog, const char *args, char *out, size_t cap) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s %s 2>&1", prog, args);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run(const char *args, char *out, size_t cap) {
  return run_prog(TL_BUILD_DIR "/tools/torchlean", args, out, cap);
}

static char out[1 << 16];

static void need_bench(void) {
  struct stat sb;
  if (stat(BENCH "/test_instances.csv", &sb) != 0)
    cr_skip_test("../shared/benchmarks is not beside the checkout");
}

static char *tmpdir(void) {
  static char dir[64];
  snprintf(dir, sizeof dir, "/tmp/tl_vnnlib_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  return dir;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s missing", path);
  static char buf[1 << 14];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

/* the competition's counterexample text: ((X_0 v) (X_1 v) ... (Y_0 w) ...) */
static int parse_cex(const char *s, char var, float *v, int n) {
  char key[16];
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "(%c_%d ", var, i);
    const char *p = strstr(s, key);
    if (!p)
      return 0;
    double d = strtod(p + strlen(key), NULL);
    v[i] = (float)d;
    if ((double)v[i] != d) /* every value is an exact binary32 */
      return 0;
  }
  return 1;
}

Test(vnnlib_cli, test_sat_is_sat_with_a_replayable_counterexample) {
  need_bench();
  char *d = tmpdir(), args[2048], res[256];
  snprintf(res, sizeof res, "%s/result.txt", d);
  snprintf(args, sizeof args, "vnnlib %s/test_sat.onnx %s/test_prop.vnnlib --out %s", BENCH, BENCH, res);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  char *txt = slurp(res);
  cr_assert(!strncmp(txt, "sat\n", 4), "%s", txt);
  float x[5], y[5], yr[5];
  cr_assert(parse_cex(txt, 'X', x, 5) && parse_cex(txt, 'Y', y, 5), "%s", txt);
  tl_vnnlib *v = NULL;
  tl_graph *g = NULL;
  tl_status st;
  cr_assert_eq(tl_vnnlib_parse_file(BENCH "/test_prop.vnnlib", &v, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(v->nboxes, 1);
  cr_assert(tl_vnnlib_input_in_box(v, 0, x), "the counterexample is outside the exact box");
  cr_assert_eq(tl_model_load(BENCH "/test_sat.onnx", &g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_verify_confirm_f32_runtime(g, x, yr, &st), TL_OK, "%s", st.msg);
  double yd[5];
  for (int j = 0; j < 5; j++) {
    cr_assert_eq(y[j], yr[j], "Y_%d printed %g, replayed %g", j, y[j], yr[j]);
    yd[j] = yr[j];
  }
  cr_assert(tl_vnnlib_output_unsafe(v, 0, yd, yd), "the replayed output does not violate the property");
  tl_graph_free(g);
  tl_vnnlib_free(v);
}

/* unsat or unknown (never sat) for the instances that hold; an unsat certificate is ACCEPTed */
static void holds(const char *onnx, const char *prop, int must_be_unsat) {
  char *d = tmpdir(), args[2048], res[256], cert[256];
  snprintf(res, sizeof res, "%s/result.txt", d);
  snprintf(cert, sizeof cert, "%s/cert.json", d);
  snprintf(args, sizeof args, "vnnlib %s/%s %s/%s --out %s --cert %s", BENCH, onnx, BENCH, prop, res, cert);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  char *txt = slurp(res);
  cr_assert(!strcmp(txt, "unsat\n") || (!must_be_unsat && !strcmp(txt, "unknown\n")), "%s: %s", onnx, txt);
  if (!strcmp(txt, "unsat\n")) {
    char chk[4096];
    cr_assert_eq(run_prog(TL_BUILD_DIR "/certs/torchlean-check", cert, chk, sizeof chk), 0, "%s", chk);
    cr_assert(strstr(chk, "ACCEPT"), "%s", chk);
  }
}

Test(vnnlib_cli, instances_that_hold_are_never_sat_and_certified) {
  need_bench();
  holds("test_nano.onnx", "test_nano.vnnlib", 1);
  holds("test_tiny.onnx", "test_tiny.vnnlib", 1);
  holds("test_small.onnx", "test_small.vnnlib", 1);
  holds("test_unsat.onnx", "test_prop.vnnlib", 0);
}

Test(vnnlib_cli, bad_input_exit_2_before_work) {
  need_bench();
  char args[2048];
  cr_assert_eq(run("vnnlib /nonexistent.onnx " BENCH "/test_prop.vnnlib", out, sizeof out), 2, "%s", out);
  snprintf(args, sizeof args, "vnnlib %s/test_sat.onnx %s/test_nano.vnnlib", BENCH, BENCH);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "inputs"), "the dimension mismatch is named: %s", out);
  snprintf(args, sizeof args, "vnnlib %s/test_sat.onnx %s/test_prop.vnnlib --out /nonexistent/dir/r.txt",
           BENCH, BENCH);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  snprintf(args, sizeof args, "vnnlib %s/test_sat.onnx %s/test_prop.vnnlib --timeout -1", BENCH, BENCH);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  char *d = tmpdir(), prop[256];
  snprintf(prop, sizeof prop, "%s/bad.vnnlib", d);
  FILE *f = fopen(prop, "w");
  fputs("(declare-const X_0 Real)\n(assert (<= X_0 1)\n", f); /* unbalanced */
  fclose(f);
  snprintf(args, sizeof args, "vnnlib %s/test_nano.onnx %s --out %s/r.txt", BENCH, prop, d);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "bad.vnnlib:"), "file and position named: %s", out);
  snprintf(args, sizeof args, "%s/r.txt", d);
  cr_assert_neq(access(args, F_OK), 0, "no result file after bad input");
}

Test(vnnlib_cli, vnncomp_runs_the_test_benchmark) {
  need_bench();
  char *d = tmpdir(), args[2048], csv[256];
  snprintf(csv, sizeof csv, "%s/results.csv", d);
  snprintf(args, sizeof args, "vnncomp %s/test_instances.csv --out %s --cert-dir %s", BENCH, csv, d);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "5 instances:"), "%s", out);
  char *txt = slurp(csv);
  cr_assert(strstr(txt, "test_sat.onnx,") && strstr(strstr(txt, "test_sat.onnx,"), ",sat,"), "%s", txt);
  cr_assert_null(strstr(strstr(txt, "test_unsat.onnx,"), ",sat,"), "%s", txt);
  cr_assert_null(strstr(txt, ",error,"), "%s", txt);
  snprintf(csv, sizeof csv, "%s/bad.csv", d);
  FILE *f = fopen(csv, "w");
  fputs("test_nano.onnx,test_nano.vnnlib,60\nonly_two,fields\n", f);
  fclose(f);
  snprintf(args, sizeof args, "vnncomp %s", csv);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "bad.csv:1:") || strstr(out, "bad.csv:2:"), "line named: %s", out);
}

/* alpha-CROWN with CROWN intermediate bounds on a 6-layer network (ACAS Xu 4_1, property 4): the
 * certificate's intermediate boxes must re-derive from the lines it carries, whatever the verdict
 * (the checker re-derives the bounds of unknown samples too).  Before alpha froze the slopes that
 * entered intermediate passes, this certificate was rejected. */
Test(vnnlib_cli, alpha_with_crown_intermediate_bounds_certifies_consistently) {
  need_bench();
  const char *acas = TL_SOURCE_DIR "/../shared/benchmarks/vnncomp2021/acasxu";
  char model[512], prop[512], *d = tmpdir(), cert[256], chk[4096];
  snprintf(model, sizeof model, "%s/ACASXU_run2a_4_1_batch_2000.onnx", acas);
  snprintf(prop, sizeof prop, "%s/prop_4.vnnlib", acas);
  snprintf(cert, sizeof cert, "%s/alpha.json", d);
  tl_graph *g = NULL;
  tl_vnnlib *v = NULL;
  tl_region *r = NULL;
  tl_status st;
  cr_assert_eq(tl_model_load(model, &g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_vnnlib_parse_file(prop, &v, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_region_box(&r, v->boxes[0].lo, v->boxes[0].hi, v->n_inputs, &st), TL_OK);
  tl_verify_opts o = tl_verify_opts_default();
  o.method = TL_METHOD_ALPHA_CROWN, o.intermediate_crown = 1, o.alpha_steps = 40, o.keep_evidence = 1;
  o.falsify = 0;
  tl_verify_result *res = NULL;
  cr_assert_eq(tl_verify_sample(g, r, v->boxes[0].prop, &o, &res, &st), TL_OK, "%s", st.msg);
  tl_cert_info info = {NULL, "acas.onnx", NULL};
  cr_assert_eq(tl_cert_write(cert, g, r, v->boxes[0].prop, res, &info, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(run_prog(TL_BUILD_DIR "/certs/torchlean-check", cert, chk, sizeof chk), 0, "%s", chk);
  tl_verify_result_free(res);
  tl_region_free(r);
  tl_vnnlib_free(v);
  tl_graph_free(g);
}
