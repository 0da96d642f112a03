/* test_compare_cli.c - `torchlean compare MODEL --input X [--index I] [--json]` on a small traced
 * model saved with tl_model_save: table and JSON output with the expected columns, exit 0; bad
 * input files, a wrong sample size and an index out of range exit 2 with one line on stderr. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tl_fixtures.h"
#include "torchlean/io.h"
#include "torchlean/model_file.h"
#include "torchlean/nn.h"
#include "torchlean/rand.h"

#define CLI TL_BUILD_DIR "/tools/torchlean"

typedef struct fixture {
  char dir[512], model[600], x[600], xbad[600], xshort[600];
} fixture;

static void make_fixture(fixture *f) {
  tl_fx_tempdir(f->dir, sizeof f->dir);
  cr_assert(f->dir[0]);
  snprintf(f->model, sizeof f->model, "%s/m.tlm", f->dir);
  snprintf(f->x, sizeof f->x, "%s/x.npy", f->dir);
  snprintf(f->xbad, sizeof f->xbad, "%s/bad.npy", f->dir);
  snprintf(f->xshort, sizeof f->xshort, "%s/short.npy", f->dir);
  /* MLP on (1, 4, 4) with a Normalize layer: flatten, normalize, linear 16->12, relu, linear 12->3 */
  int64_t sample[3] = {1, 4, 4}, hidden[1] = {12};
  double norm[2] = {0.3, 0.25};
  tl_model *m = tl_zoo_mlp(5, 3, sample, 1, hidden, 3, norm);
  cr_assert_not_null(m);
  tl_graph *g;
  tl_status st;
  cr_assert_eq(tl_model_trace(m, 1, &g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_model_save(f->model, g, &st), TL_OK, "%s", st.msg);
  tl_graph_free(g);
  tl_model_free(m);
  /* a batch of 3 samples (3, 1, 4, 4) */
  int64_t xs[4] = {3, 1, 4, 4};
  tl_tensor *t;
  cr_assert_eq(tl_tensor_new(&t, TL_F32, 4, xs, &st), TL_OK);
  tl_rng r;
  tl_rng_init(&r, 11);
  tl_rand_fill_uniform(&r, t, 0, 1);
  cr_assert_eq(tl_npy_write(f->x, t, NULL, &st), TL_OK, "%s", st.msg);
  tl_tensor_free(t);
  int64_t ss[1] = {5};
  cr_assert_eq(tl_tensor_new(&t, TL_F32, 1, ss, &st), TL_OK);
  cr_assert_eq(tl_npy_write(f->xshort, t, NULL, &st), TL_OK, "%s", st.msg);
  tl_tensor_free(t);
  FILE *fp = fopen(f->xbad, "wb");
  cr_assert_not_null(fp);
  fputs("\x93NUMPY this is not a valid header", fp);
  fclose(fp);
}

/* run `torchlean compare args`; stdout/stderr into malloc'ed strings; returns the exit status */
static int run(const fixture *f, const char *args, char **out, char **err) {
  char cmd[4096], o[700], e[700];
  snprintf(o, sizeof o, "%s/out", f->dir);
  snprintf(e, sizeof e, "%s/err", f->dir);
  snprintf(cmd, sizeof cmd, "'%s' compare %s >'%s' 2>'%s'", CLI, args, o, e);
  int rc = system(cmd);
  cr_assert(rc != -1 && WIFEXITED(rc), "could not run %s", CLI);
  size_t len;
  cr_assert_eq(tl_read_file(o, (void **)out, &len, NULL), TL_OK);
  cr_assert_eq(tl_read_file(e, (void **)err, &len, NULL), TL_OK);
  return WEXITSTATUS(rc);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

Test(compare_cli, table_json_and_bad_inputs) {
  fixture f;
  make_fixture(&f);
  char args[2048], *out, *err;

  snprintf(args, sizeof args, "'%s' --input '%s' --index 2", f.model, f.x);
  int rc = run(&f, args, &out, &err);
  cr_assert_eq(rc, 0, "exit %d, stderr: %s", rc, err);
  const char *cols[] = {"node",
                        "op",
                        "numel",
                        "max_abs",
                        "max_rel",
                        "max_ulp",
                        "any_bound",
                        "ratio",
                        "inside",
                        "ref==emu",
                        "linear",
                        "relu",
                        "summary:",
                        "largest error/bound ratio",
                        "all inside f32-any: yes",
                        "REF == emulator: yes"};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
    cr_assert(strstr(out, cols[i]), "missing '%s' in:\n%s", cols[i], out);
  cr_assert_eq(err[0], 0, "stderr: %s", err);
  free(out), free(err);

  snprintf(args, sizeof args, "'%s' --input '%s' --json", f.model, f.x);
  rc = run(&f, args, &out, &err);
  cr_assert_eq(rc, 0, "exit %d, stderr: %s", rc, err);
  const char *keys[] = {"\"nodes\": [",
                        "\"max_abs_err\"",
                        "\"max_rel_err\"",
                        "\"max_ulp_err\"",
                        "\"any_bound\"",
                        "\"inside_any\": true",
                        "\"ref_equals_emulator\": true",
                        "\"max_ratio\"",
                        "\"all_inside_any\": true",
                        "\"index\": 0"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    cr_assert(strstr(out, keys[i]), "missing %s in:\n%s", keys[i], out);
  free(out), free(err);

  /* bad inputs: exit 2, one line on stderr */
  const char *bad[4];
  char a0[1300], a1[1300], a2[1300], a3[1300];
  snprintf(a0, sizeof a0, "'%s' --input '%s'", f.model, f.xbad);
  snprintf(a1, sizeof a1, "'%s' --input '%s'", f.model, f.xshort);
  snprintf(a2, sizeof a2, "'%s' --input '%s' --index 3", f.model, f.x);
  snprintf(a3, sizeof a3, "'%s' --input '%s'", f.x, f.x);
  bad[0] = a0, bad[1] = a1, bad[2] = a2, bad[3] = a3;
  for (int i = 0; i < 4; i++) {
    rc = run(&f, bad[i], &out, &err);
    cr_assert_eq(rc, 2, "case %d: exit %d, stderr: %s", i, rc, err);
    cr_assert_eq(count_lines(err), 1, "case %d: stderr should be one line: %s", i, err);
    cr_assert(strstr(err, "torchlean compare"), "case %d: %s", i, err);
    free(out), free(err);
  }
  rc = run(&f, "'/nonexistent/m.tlm' --input /nonexistent/x.npy", &out, &err);
  cr_assert_eq(rc, 2);
  free(out), free(err);
  tl_fx_rmdir(f.dir);
}
