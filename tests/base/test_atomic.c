/* test_atomic.c - atomic writes: replace, failure leaves no temp files, abort keeps the target;
 * reads refuse devices and read pipes. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "tl_fixtures.h"
#include "torchlean/io.h"
#include "torchlean/model_file.h"

static void expect_content(const char *path, const char *want) {
  void *data;
  size_t len;
  tl_status st;
  cr_assert_eq(tl_read_file(path, &data, &len, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(len, strlen(want));
  cr_assert(memcmp(data, want, len) == 0);
  cr_assert_eq(((char *)data)[len], '\0', "tl_read_file NUL-terminates");
  free(data);
}

Test(atomic, write_creates_and_replaces) {
  char dir[512], path[1024];
  tl_fx_tempdir(dir, sizeof dir);
  cr_assert(dir[0]);
  snprintf(path, sizeof path, "%s/out.bin", dir);
  tl_status st;
  cr_assert_eq(tl_write_file_atomic(path, "first version", 13, &st), TL_OK, "%s", st.msg);
  expect_content(path, "first version");
  cr_assert_eq(tl_write_file_atomic(path, "second", 6, &st), TL_OK, "%s", st.msg);
  expect_content(path, "second");
  cr_assert_eq(tl_write_file_atomic(path, "", 0, &st), TL_OK, "%s", st.msg);
  expect_content(path, "");
  cr_assert_eq(tl_fx_count_entries(dir), 1, "temporary files left behind");
  tl_fx_rmdir(dir);
}

Test(atomic, failing_write_is_eio_and_leaves_nothing) {
  char dir[512], path[1024];
  tl_fx_tempdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/no/such/folder/out.bin", dir);
  tl_status st;
  cr_assert_eq(tl_write_file_atomic(path, "x", 1, &st), TL_EIO);
  cr_assert(strstr(st.msg, "no/such/folder/out.bin") != NULL, "%s", st.msg);
  cr_assert_eq(tl_fx_count_entries(dir), 0);
  /* rename over a folder fails at commit: the temporary file must be gone */
  snprintf(path, sizeof path, "%s/sub", dir);
  char inner[1100];
  tl_atomic_file f;
  snprintf(inner, sizeof inner, "%s/sub", dir);
  cr_assert_eq(tl_atomic_open(&f, path, &st), TL_OK, "%s", st.msg);
  fputs("data", f.fp);
  /* make the target a non-empty folder so rename(2) fails */
  char mk[2300];
  snprintf(mk, sizeof mk, "mkdir '%s' && touch '%s/keep'", inner, inner);
  cr_assert_eq(system(mk), 0);
  cr_assert_eq(tl_atomic_commit(&f, &st), TL_EIO);
  cr_assert(strstr(st.msg, "rename failed") != NULL, "%s", st.msg);
  cr_assert_null(f.tmp_path);
  tl_atomic_abort(&f); /* safe after a failed commit */
  cr_assert_eq(tl_fx_count_entries(dir), 1, "only the folder should remain");
  snprintf(mk, sizeof mk, "rm -r '%s'", inner);
  cr_assert_eq(system(mk), 0);
  tl_fx_rmdir(dir);
}

Test(atomic, abort_keeps_target_untouched) {
  char dir[512], path[1024];
  tl_fx_tempdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/model.bin", dir);
  tl_status st;
  cr_assert_eq(tl_write_file_atomic(path, "original", 8, &st), TL_OK);
  tl_atomic_file f;
  cr_assert_eq(tl_atomic_open(&f, path, &st), TL_OK, "%s", st.msg);
  cr_assert_not_null(f.fp);
  cr_assert(strncmp(f.tmp_path, path, strlen(path)) == 0 && strstr(f.tmp_path, ".tmp.") != NULL);
  fputs("half a new vers", f.fp);
  cr_assert_eq(tl_fx_count_entries(dir), 2);
  tl_atomic_abort(&f);
  cr_assert_null(f.fp);
  expect_content(path, "original");
  cr_assert_eq(tl_fx_count_entries(dir), 1);
  tl_atomic_abort(&f); /* twice is harmless */
  tl_fx_rmdir(dir);
}

Test(atomic, read_errors_are_clear) {
  void *data = (void *)1;
  size_t len = 9;
  tl_status st;
  cr_assert_eq(tl_read_file(TL_FIXTURES "/nope.bin", &data, &len, &st), TL_EIO);
  cr_assert(data == NULL && len == 0);
  cr_assert(strstr(st.msg, "nope.bin: cannot open: No such file") != NULL, "%s", st.msg);
  cr_assert_eq(tl_read_file(TL_FIXTURES, &data, &len, &st), TL_EIO);
  cr_assert(strstr(st.msg, "is a directory") != NULL, "%s", st.msg);
  /* a device may never end (/dev/zero grew readers to gigabytes): refused at once */
  cr_assert_eq(tl_read_file("/dev/zero", &data, &len, &st), TL_EIO);
  cr_assert(data == NULL && len == 0);
  cr_assert(strstr(st.msg, "/dev/zero: not a regular file or a pipe") != NULL, "%s", st.msg);
  tl_atomic_file f;
  cr_assert_eq(tl_atomic_open(&f, "", &st), TL_EARG);
}

/* a named pipe is read to its end */
Test(atomic, pipes_are_read) {
  char path[] = "/tmp/tl_fifo_XXXXXX";
  cr_assert_not_null(mkdtemp(path));
  char fifo[64];
  snprintf(fifo, sizeof fifo, "%s/p", path);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) { /* the writer */
    FILE *w = fopen(fifo, "w");
    int ok = w && fputs("through a pipe", w) >= 0 && fclose(w) == 0;
    _exit(ok ? 0 : 1);
  }
  void *data;
  size_t len;
  tl_status st;
  cr_assert_eq(tl_read_file(fifo, &data, &len, &st), TL_OK, "%s", st.msg);
  cr_assert(len == 14 && memcmp(data, "through a pipe", 14) == 0);
  free(data);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  unlink(fifo);
  rmdir(path);
}

/* kill -9 during saves: a child rewrites the same NPY file and the same model file over and over,
 * alternating two versions; killed at varied moments, each file is always exactly one version */
static void *slurp(const char *path, size_t *len) {
  void *data;
  tl_status st;
  cr_assert_eq(tl_read_file(path, &data, len, &st), TL_OK, "%s", st.msg);
  return data;
}

static void save_version(const char *dir, tl_tensor *t, tl_graph *g, int v, const char *suffix) {
  char p[256];
  tl_tensor_f32(t)[0] = (float)v;
  tl_graph_param_data(g, 0)[0] = (float)v;
  snprintf(p, sizeof p, "%s/t%s.npy", dir, suffix);
  cr_assert_eq(tl_npy_write(p, t, NULL, NULL), TL_OK);
  snprintf(p, sizeof p, "%s/m%s.tlm", dir, suffix);
  cr_assert_eq(tl_model_save(p, g, NULL), TL_OK);
}

static int equals_file(const char *path, const char *ref) {
  size_t a, b;
  void *x = slurp(path, &a), *y = slurp(ref, &b);
  int eq = a == b && memcmp(x, y, a) == 0;
  free(x), free(y);
  return eq;
}

Test(atomic, kill_9_during_saves_leaves_one_whole_version) {
  char dir[] = "/tmp/tl_kill_XXXXXX", p[256], r[256];
  cr_assert_not_null(mkdtemp(dir));
  int64_t shape[] = {256, 1024}, ws[] = {512, 512};
  tl_tensor *t;
  cr_assert_eq(tl_tensor_new(&t, TL_F32, 2, shape, NULL), TL_OK);
  tl_graph *g = tl_graph_new();
  int id;
  cr_assert_eq(tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 2, ws, NULL, &id, NULL), TL_OK);
  cr_assert_eq(tl_graph_mark_output(g, id, NULL), TL_OK);
  save_version(dir, t, g, 1, "1"), save_version(dir, t, g, 2, "2"), save_version(dir, t, g, 1, "");
  for (int round = 0; round < 12; round++) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0)
      for (int v = 2;; v = 3 - v)
        save_version(dir, t, g, v, "");
    struct timespec wait = {0, 2000000L + 3000000L * round}; /* varied moments inside and between saves */
    nanosleep(&wait, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    const char *kinds[][2] = {{"t", "npy"}, {"m", "tlm"}};
    for (int k = 0; k < 2; k++) {
      snprintf(p, sizeof p, "%s/%s.%s", dir, kinds[k][0], kinds[k][1]);
      int whole = 0;
      for (int v = 1; v <= 2 && !whole; v++) {
        snprintf(r, sizeof r, "%s/%s%d.%s", dir, kinds[k][0], v, kinds[k][1]);
        whole = equals_file(p, r);
      }
      cr_assert(whole, "round %d: %s is neither the old nor the new version", round, p);
    }
  }
  tl_tensor_free(t);
  tl_graph_free(g);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}
