/* test_atomic.c - atomic writes: replace, failure leaves no temp files, abort keeps the target;
 * reads refuse devices and read pipes. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "tl_fixtures.h"
#include "torchlean/io.h"

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
