/* test_inspect.c - `torchlean inspect`: good files print a summary, bad files one line and exit 2. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tl_fixtures.h"
#include "torchlean/io.h"

#define CLI TL_BUILD_DIR "/tools/torchlean"

/* Run `torchlean inspect FILE`; stdout and stderr into malloc'ed strings.  Returns the exit status. */
static int run_inspect(const char *file, char **out, char **err) {
  char dir[512], cmd[4096], o[1024], e[1024];
  tl_fx_tempdir(dir, sizeof dir);
  cr_assert(dir[0]);
  snprintf(o, sizeof o, "%s/out", dir);
  snprintf(e, sizeof e, "%s/err", dir);
  snprintf(cmd, sizeof cmd, "'%s' inspect '%s' >'%s' 2>'%s'", CLI, file, o, e);
  int rc = system(cmd);
  cr_assert(rc != -1 && WIFEXITED(rc), "could not run %s", CLI);
  size_t len;
  cr_assert_eq(tl_read_file(o, (void **)out, &len, NULL), TL_OK);
  cr_assert_eq(tl_read_file(e, (void **)err, &len, NULL), TL_OK);
  tl_fx_rmdir(dir);
  return WEXITSTATUS(rc);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

Test(inspect, npy_summary) {
  char *out, *err;
  int rc = run_inspect(TL_FIXTURES "/npy/f4_be_f_v2.npy", &out, &err);
  cr_assert_eq(rc, 0, "stderr: %s", err);
  cr_assert(strstr(out, "format: npy\n") && strstr(out, "dtype: float32\n") &&
                strstr(out, "shape: [2, 3, 4]\n") && strstr(out, "numel: 24\n") &&
                strstr(out, "min: -1.5\n") && strstr(out, "max: 10\n") && strstr(out, "mean: 4.25\n") &&
                strstr(out, "nan: 0\n"),
            "%s", out);
  free(out);
  free(err);
  rc = run_inspect(TL_FIXTURES "/npy/special_f8.npy", &out, &err);
  cr_assert_eq(rc, 0, "stderr: %s", err);
  cr_assert(strstr(out, "min: -inf\n") && strstr(out, "max: inf\n") && strstr(out, "nan: 1\n"), "%s", out);
  free(out);
  free(err);
}

Test(inspect, csv_and_idx_summary) {
  char *out, *err;
  int rc = run_inspect(TL_FIXTURES "/csv/header.csv", &out, &err);
  cr_assert_eq(rc, 0, "stderr: %s", err);
  cr_assert(strstr(out, "format: csv\n") && strstr(out, "header: yes\n") && strstr(out, "shape: [2, 3]\n"),
            "%s", out);
  free(out);
  free(err);
  rc = run_inspect(TL_FIXTURES "/idx/u1_3x2x2.idx.gz", &out, &err);
  cr_assert_eq(rc, 0, "stderr: %s", err);
  cr_assert(strstr(out, "format: idx\n") && strstr(out, "dtype: uint8\n") &&
                strstr(out, "shape: [3, 2, 2]\n"),
            "%s", out);
  free(out);
  free(err);
}

Test(inspect, corrupt_file_one_line_exit_2) {
  char dir[512], path[1024];
  tl_fx_tempdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/corrupt.npy", dir);
  void *raw;
  size_t len;
  cr_assert_eq(tl_read_file(TL_FIXTURES "/npy/f4_le_c_v1.npy", &raw, &len, NULL), TL_OK);
  cr_assert_eq(tl_write_file_atomic(path, raw, len - 3, NULL), TL_OK); /* truncate the data */
  free(raw);
  char *out, *err;
  int rc = run_inspect(path, &out, &err);
  cr_assert_eq(rc, 2);
  cr_assert_eq(count_lines(err), 1, "stderr: %s", err);
  cr_assert(strncmp(err, "torchlean inspect: ", 19) == 0 &&
                strstr(err, "corrupt.npy: byte 128: data is 93 bytes"),
            "stderr: %s", err);
  cr_assert_str_eq(out, "");
  free(out);
  free(err);
  rc = run_inspect(TL_FIXTURES "/csv/ragged.csv", &out, &err);
  cr_assert_eq(rc, 2);
  cr_assert(count_lines(err) == 1 && strstr(err, "ragged.csv: row 2, col 3"), "stderr: %s", err);
  free(out);
  free(err);
  tl_fx_rmdir(dir);
}
