/* test_cli.c - the runner's command line: flags anywhere, --k v and --k=v, help on every command,
 * and clear errors with exit status 2 for duplicates, unknown flags and leftovers. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "torchlean/torchlean.h"

/* Run the runner with args; capture stdout+stderr into out; return the exit status. */
static int run(const char *args, char *out, size_t cap) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/tools/torchlean %s 2>&1", TL_BUILD_DIR, args);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char out[1 << 16];

Test(cli, help_lists_commands_and_every_command_has_help) {
  static char top[1 << 14];
  cr_assert_eq(run("--help", top, sizeof top), 0);
  const char *cmds[] = {"quickstart_tensors",
                        "quickstart_autograd",
                        "quickstart_mlp",
                        "quickstart_cnn",
                        "train",
                        "evaluate",
                        "predict",
                        "summary",
                        "export",
                        "inspect",
                        "import",
                        "vnnlib",
                        "vnncomp"};
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
    cr_assert(strstr(top, cmds[i]), "%s missing from --help", cmds[i]);
    char args[64];
    snprintf(args, sizeof args, "%s --help", cmds[i]);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s --help", cmds[i]);
    cr_assert(strstr(out, "usage: torchlean"), "%s", out);
  }
}

Test(cli, flags_before_or_after_and_both_value_styles) {
  char a[1 << 12], b[1 << 12];
  cr_assert_eq(run("--seed 7 quickstart_tensors", a, sizeof a), 0);
  cr_assert_eq(run("quickstart_tensors --seed=7", b, sizeof b), 0);
  cr_assert_str_eq(a, b);
  cr_assert(strstr(a, "seed = 7"));
}

Test(cli, errors_exit_2_with_one_clear_line) {
  cr_assert_eq(run("quickstart_tensors --seed 1 --seed 2", out, sizeof out), 2);
  cr_assert(strstr(out, "--seed given twice"), "%s", out);
  cr_assert_eq(run("quickstart_tensors --bogus 1", out, sizeof out), 2);
  cr_assert(strstr(out, "unknown flag '--bogus'"), "%s", out);
  cr_assert_eq(run("quickstart_tensors leftover", out, sizeof out), 2);
  cr_assert(strstr(out, "unexpected argument 'leftover'"), "%s", out);
  cr_assert_eq(run("no_such_command", out, sizeof out), 2);
  cr_assert(strstr(out, "unknown command"), "%s", out);
  cr_assert_eq(run("", out, sizeof out), 2);
  cr_assert_eq(run("quickstart_tensors --seed abc", out, sizeof out), 2);
  cr_assert(strstr(out, "--seed"), "%s", out);
  cr_assert_eq(run("train --backend turbo", out, sizeof out), 2);
  cr_assert(strstr(out, "--backend"), "%s", out);
  cr_assert_eq(run("train --optimizer lbfgs", out, sizeof out), 2);
  cr_assert_eq(run("train --lr -1", out, sizeof out), 2);
  cr_assert_eq(run("train --batch-size", out, sizeof out), 2);
  cr_assert(strstr(out, "needs a value"), "%s", out);
  cr_assert_eq(run("evaluate", out, sizeof out), 2);
  cr_assert_eq(run("evaluate /nonexistent.tlm", out, sizeof out), 2);
  cr_assert(strstr(out, "/nonexistent.tlm"), "%s", out);
  cr_assert_eq(run("train --data /nonexistent.csv", out, sizeof out), 2);
  cr_assert(strstr(out, "/nonexistent.csv"), "%s", out);
}

/* readers refuse devices instead of reading forever (issue: `summary /dev/zero` grew to gigabytes) */
Test(cli, devices_are_refused) {
  const char *cmds[] = {"summary /dev/zero", "inspect /dev/zero", "evaluate /dev/zero",
                        "train --steps 1 --data /dev/zero"};
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
    cr_assert_eq(run(cmds[i], out, sizeof out), 2, "%s: %s", cmds[i], out);
    cr_assert(strstr(out, "/dev/zero: not a regular file"), "%s: %s", cmds[i], out);
  }
}

/* output paths are checked before any work (exit 2, nothing trained), and an output never replaces
 * an input */
Test(cli, outputs_checked_before_work) {
  char dir[] = "/tmp/tl_cli_out_XXXXXX", csv[64], tlm[64], args[512];
  cr_assert_not_null(mkdtemp(dir));
  snprintf(csv, sizeof csv, "%s/t.csv", dir);
  snprintf(tlm, sizeof tlm, "%s/t.tlm", dir);
  FILE *f = fopen(csv, "w");
  cr_assert(f && fputs("1,2,0\n3,4,1\n", f) >= 0 && fclose(f) == 0);
  cr_assert_eq(run("train --steps 2 --out /nonexistent/dir/m.tlm", out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "folder '/nonexistent/dir' does not exist") && !strstr(out, "loss"), "%s", out);
  cr_assert_eq(run("train --steps 2 --log /tmp", out, sizeof out), 2, "%s", out);
  snprintf(args, sizeof args, "train --steps 1 --data %s --out %s", csv, csv);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "is also an input"), "%s", out);
  snprintf(args, sizeof args, "train --steps 1 --data %s --out %s", csv, tlm);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  snprintf(args, sizeof args, "predict %s --data %s --out %s/./t.csv", tlm, csv, dir); /* the same file */
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "refusing to overwrite it"), "%s", out);
  snprintf(args, sizeof args, "export %s --out %s", tlm, tlm);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  snprintf(args, sizeof args, "verify %s --index 0 --eps 0.1 --data %s --cert /nonexistent/c.json", tlm, csv);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "--cert"), "%s", out);
  char buf[64] = "";
  f = fopen(csv, "r");
  cr_assert(f && fread(buf, 1, sizeof buf - 1, f) > 0 && fclose(f) == 0);
  cr_assert_str_eq(buf, "1,2,0\n3,4,1\n", "the input CSV was changed");
  remove(csv), remove(tlm), rmdir(dir);
}

/* --version, `help [COMMAND]`, and training budgets that mean what they say */
Test(cli, version_help_and_budgets) {
  cr_assert_eq(run("--version", out, sizeof out), 0, "%s", out);
  cr_assert(strncmp(out, "torchlean ", 10) == 0, "%s", out);
  cr_assert_eq(run("help", out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "usage: torchlean COMMAND"), "%s", out);
  cr_assert_eq(run("help train", out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "usage: torchlean train"), "%s", out);
  cr_assert_eq(run("help nope", out, sizeof out), 2, "%s", out);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s/certs/torchlean-check --help > /dev/null", TL_BUILD_DIR);
  cr_assert_eq(system(cmd), 0, "torchlean-check --help must exit 0");
  snprintf(cmd, sizeof cmd, "%s/certs/torchlean-check > /dev/null 2>&1", TL_BUILD_DIR);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 2, "torchlean-check without a certificate is a usage error");
  cr_assert_eq(run("train --epochs 0", out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "--epochs") && !strstr(out, "loss"), "%s", out);
  cr_assert_eq(run("train --steps 0", out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "--steps") && !strstr(out, "loss"), "%s", out);
  cr_assert_eq(run("train --steps 5 --epochs 3", out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "not both"), "%s", out);
}

/* data files are told by content: a single NPY is not parsed as CSV; predict takes inputs without
 * labels; uint8 pixels are scaled by 1/255 whatever the file format (the same predictions as the
 * float32 pixels) */
static void npy_u8_and_f32(const char *dir) {
  static const uint8_t px[] = {0, 255, 128, 3, 10, 20};
  int64_t xs[] = {3, 2}, ys[] = {3};
  tl_tensor *x8, *xf, *y;
  cr_assert_eq(tl_tensor_new(&x8, TL_U8, 2, xs, NULL), TL_OK);
  cr_assert_eq(tl_tensor_new(&xf, TL_F32, 2, xs, NULL), TL_OK);
  cr_assert_eq(tl_tensor_new(&y, TL_F32, 1, ys, NULL), TL_OK);
  for (int i = 0; i < 6; i++)
    ((uint8_t *)x8->data)[i] = px[i], tl_tensor_f32(xf)[i] = (float)px[i] / 255.0f;
  for (int i = 0; i < 3; i++)
    tl_tensor_f32(y)[i] = (float)(i > 0);
  char p[256];
  snprintf(p, sizeof p, "%s/x8.npy", dir);
  cr_assert_eq(tl_npy_write(p, x8, NULL, NULL), TL_OK);
  snprintf(p, sizeof p, "%s/xf.npy", dir);
  cr_assert_eq(tl_npy_write(p, xf, NULL, NULL), TL_OK);
  snprintf(p, sizeof p, "%s/y.npy", dir);
  cr_assert_eq(tl_npy_write(p, y, NULL, NULL), TL_OK);
  tl_tensor_free(x8), tl_tensor_free(xf), tl_tensor_free(y);
}

Test(cli, data_by_content_and_unlabeled_predict) {
  char d[] = "/tmp/tl_cli_npy_XXXXXX", args[1024];
  cr_assert_not_null(mkdtemp(d));
  npy_u8_and_f32(d);
  snprintf(args, sizeof args, "train --steps 3 --data %s/x8.npy,%s/y.npy --out %s/m.tlm", d, d, d);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  snprintf(args, sizeof args, "evaluate %s/m.tlm --data %s/x8.npy", d, d);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "holds no labels") && !strstr(out, "row"), "%s", out);
  const char *which[] = {"x8", "xf"};
  tl_tensor *p[2];
  for (int i = 0; i < 2; i++) {
    snprintf(args, sizeof args, "predict %s/m.tlm --data %s/%s.npy --out %s/p%d.npy", d, d, which[i], d, i);
    cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "%s/p%d.npy", d, i);
    cr_assert_eq(tl_npy_read(args, &p[i], NULL), TL_OK);
  }
  cr_assert(p[0]->numel == 6 && memcmp(p[0]->data, p[1]->data, 6 * sizeof(float)) == 0,
            "uint8 and float32 pixels must give the same predictions");
  tl_tensor_free(p[0]), tl_tensor_free(p[1]);
  snprintf(args, sizeof args, "rm -rf %s", d);
  cr_assert_eq(system(args), 0);
}

/* non-finite inputs and labels that are not class indices are bad input (exit 2, one line naming the
 * sample), not a NaN loss after training started */
Test(cli, nan_inputs_and_huge_labels_are_refused) {
  char d[] = "/tmp/tl_cli_nan_XXXXXX", p[256], args[512];
  cr_assert_not_null(mkdtemp(d));
  const char *cases[][2] = {{"1,2,0\nnan,4,1\n", "sample 1, feature 0: nan is not a finite number"},
                            {"1,2,0\n3,4,1e9\n", "sample 1: label 1e+09 is not a class index"}};
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/t%d.csv", d, i);
    FILE *f = fopen(p, "w");
    cr_assert(f && fputs(cases[i][0], f) >= 0 && fclose(f) == 0);
    snprintf(args, sizeof args, "train --steps 1 --data %s", p);
    cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, cases[i][1]) && !strstr(out, "loss"), "%s", out);
    remove(p);
  }
  rmdir(d);
}

Test(cli, quickstarts_run) {
  cr_assert_eq(run("quickstart_autograd", out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "max |df/dx - central difference|"));
  cr_assert_eq(run("quickstart_mlp --steps 50", out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "[0] Linear(2, 8): [25, 2] -> [25, 8] params=24"), "%s", out);
  cr_assert(strstr(out, "steps=50 loss0="), "%s", out);
}

Test(cli, train_evaluate_predict_on_a_csv) {
  char dir[] = "/tmp/tl_cli_XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[256], model[256], pred[256], args[1024];
  snprintf(path, sizeof path, "%s/data.csv", dir);
  snprintf(model, sizeof model, "%s/m.tlm", dir);
  snprintf(pred, sizeof pred, "%s/p.npy", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "x0,x1,label\n");
  for (int i = 0; i < 200; i++) /* two separable classes */
    fprintf(f, "%g,%g,%d\n", (i % 2 ? 1.0 : -1.0) + (i % 7) * 0.05, (i % 5) * 0.1, i % 2);
  fclose(f);
  snprintf(args, sizeof args, "train --data %s --epochs 20 --batch-size 16 --out %s", path, model);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "validation: samples=20"), "%s", out);
  snprintf(args, sizeof args, "evaluate %s --data %s", model, path);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "accuracy=1.0000"), "%s", out);
  snprintf(args, sizeof args, "predict %s --data=%s --out %s", model, path, pred);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "[200, 2]"), "%s", out);
  snprintf(args, sizeof args, "inspect %s", pred);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  snprintf(args, sizeof args, "summary %s", model);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  snprintf(args, sizeof args, "inspect %s", model);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "format: torchlean model") && strstr(out, "graph_sha256: "), "%s", out);
  /* verify: verdicts, a summary, certificates the checker ACCEPTs bound to the model file */
  char cert[256];
  snprintf(cert, sizeof cert, "%s/c.json", dir);
  snprintf(args, sizeof args, "verify %s --data %s --first 6 --eps 0.01 --method crown --cert %s --threads 2",
           model, path, cert);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "summary method=crown eps=0.01") && strstr(out, "certified"), "%s", out);
  snprintf(args, sizeof args, "%s/certs/torchlean-check %s --model %s > /dev/null", TL_BUILD_DIR, cert,
           model);
  cr_assert_eq(WEXITSTATUS(system(args)), 0, "checker did not accept %s", cert);
  const char *bad[] = {"--first 2",
                       "--first 2 --eps x",
                       "--first 2 --eps 0.1 --method foo",
                       "--eps 0.1",
                       "--index 0 --first 2 --eps 0.1",
                       "--index 100000 --eps 0.1",
                       "--first 2 --eps 0.1 --semantics f64",
                       "--first 2 --eps -1",
                       "--first 2 --eps 0.1 --threads 0"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    snprintf(args, sizeof args, "verify %s --data %s %s", model, path, bad[k]);
    cr_assert_eq(run(args, out, sizeof out), 2, "%s: %s", bad[k], out);
  }
  cr_assert_eq(run("verify /nonexistent.tlm --first 1 --eps 0.1", out, sizeof out), 2, "%s", out);
  snprintf(args, sizeof args, "inspect %s", model);
  FILE *m = fopen(model, "r+b"); /* corrupt the JSON header: one clear line, exit 2 */
  fseek(m, 12, SEEK_SET);
  fputc('#', m);
  fclose(m);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, model), "%s", out);
  snprintf(args, sizeof args, "rm -rf %s", dir);
  cr_assert_eq(system(args), 0);
}

/* --model transformer reads (C, H, W) samples as H tokens of W values; trains, summarises, and
 * refuses samples that are not images */
Test(cli, train_transformer_on_image_rows) {
  char dir[] = "/tmp/tl_cli_XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char xp[256], yp[256], model[256], args[1024];
  snprintf(xp, sizeof xp, "%s/x.npy", dir), snprintf(yp, sizeof yp, "%s/y.npy", dir);
  snprintf(model, sizeof model, "%s/t.tlm", dir);
  int64_t xs[4] = {96, 1, 6, 6}, ys[1] = {96};
  tl_tensor *x, *y;
  cr_assert_eq(tl_tensor_new(&x, TL_F32, 4, xs, NULL), TL_OK);
  cr_assert_eq(tl_tensor_new(&y, TL_I64, 1, ys, NULL), TL_OK);
  for (int i = 0; i < 96; i++) { /* class 1: bright top rows; class 0: bright bottom rows */
    ((int64_t *)y->data)[i] = i % 2;
    for (int r = 0; r < 6; r++)
      for (int c = 0; c < 6; c++)
        ((float *)x->data)[(i * 6 + r) * 6 + c] =
            ((r < 3) == (i % 2) ? 0.9f : 0.1f) + 0.01f * (float)((i + c) % 5);
  }
  cr_assert_eq(tl_npy_write(xp, x, NULL, NULL), TL_OK);
  cr_assert_eq(tl_npy_write(yp, y, NULL, NULL), TL_OK);
  tl_tensor_free(x), tl_tensor_free(y);
  snprintf(args, sizeof args, "train --model transformer --data %s,%s --epochs 8 --batch-size 16 --out %s",
           xp, yp, model);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  snprintf(args, sizeof args, "evaluate %s --data %s,%s", model, xp, yp);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "accuracy=1.0000"), "%s", out);
  snprintf(args, sizeof args, "summary %s", model);
  cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "Linear(6, 64): [1, 6, 6] -> [1, 6, 64]") && strstr(out, "Attention(heads=4)"), "%s",
            out);
  char csv[256];
  snprintf(csv, sizeof csv, "%s/d.csv", dir);
  FILE *f = fopen(csv, "w");
  fprintf(f, "a,b,label\n1,2,0\n2,1,1\n");
  fclose(f);
  snprintf(args, sizeof args, "train --model transformer --data %s --steps 1", csv);
  cr_assert_eq(run(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "needs image samples (C, H, W)"), "%s", out);
}
