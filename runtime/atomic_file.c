/* atomic_file.c - atomic writes and whole-file reads (io.h).
 *
 * Minimal implementation for the model-file layer; the data-file worker's version replaces it
 * at merge, so only the io.h signatures matter.  A temporary file "<path>.tmp.XXXXXX" is made
 * in the same folder with mkstemp, written, flushed, fsync'ed, closed and renamed over path. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "torchlean/io.h"

tl_code tl_atomic_open(tl_atomic_file *f, const char *path, tl_status *st) {
  memset(f, 0, sizeof *f);
  size_t n = strlen(path);
  f->path = malloc(n + 1);
  f->tmp_path = malloc(n + sizeof ".tmp.XXXXXX");
  if (!f->path || !f->tmp_path) {
    free(f->path), free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
  }
  memcpy(f->path, path, n + 1);
  memcpy(f->tmp_path, path, n);
  memcpy(f->tmp_path + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
  int fd = mkstemp(f->tmp_path);
  if (fd < 0) {
    tl_code rc = tl_fail(st, TL_EIO, "%s: cannot create a temporary file: %s", path, strerror(errno));
    free(f->path), free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    return rc;
  }
  f->fp = fdopen(fd, "wb");
  if (!f->fp) {
    tl_code rc = tl_fail(st, TL_EIO, "%s: %s", path, strerror(errno));
    close(fd);
    unlink(f->tmp_path);
    free(f->path), free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    return rc;
  }
  return TL_OK;
}

tl_code tl_atomic_commit(tl_atomic_file *f, tl_status *st) {
  if (!f->fp || !f->path || !f->tmp_path)
    return tl_fail(st, TL_EARG, "atomic write: file not open");
  tl_code rc = TL_OK;
  int bad = ferror(f->fp) || fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0;
  int err = errno;
  if (fclose(f->fp) != 0 && !bad)
    bad = 1, err = errno;
  f->fp = NULL;
  if (bad)
    rc = tl_fail(st, TL_EIO, "%s: write failed: %s", f->path, strerror(err));
  else if (rename(f->tmp_path, f->path) != 0)
    rc = tl_fail(st, TL_EIO, "%s: cannot rename the temporary file into place: %s", f->path, strerror(errno));
  if (rc != TL_OK)
    unlink(f->tmp_path);
  free(f->path), free(f->tmp_path);
  f->path = f->tmp_path = NULL;
  return rc;
}

void tl_atomic_abort(tl_atomic_file *f) {
  if (f->fp)
    fclose(f->fp);
  f->fp = NULL;
  if (f->tmp_path)
    unlink(f->tmp_path);
  free(f->path), free(f->tmp_path);
  f->path = f->tmp_path = NULL;
}

tl_code tl_write_file_atomic(const char *path, const void *data, size_t len, tl_status *st) {
  tl_atomic_file f;
  TL_TRY(tl_atomic_open(&f, path, st));
  if (len && fwrite(data, 1, len, f.fp) != len) {
    tl_code rc = tl_fail(st, TL_EIO, "%s: write failed: %s", path, strerror(errno));
    tl_atomic_abort(&f);
    return rc;
  }
  return tl_atomic_commit(&f, st);
}

tl_code tl_read_file(const char *path, void **data, size_t *len, tl_status *st) {
  *data = NULL;
  *len = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return tl_fail(st, TL_EIO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  tl_code rc = buf ? TL_OK : tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
  while (rc == TL_OK) {
    if (n == cap) {
      char *b = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
      if (!b) {
        rc = tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
        break;
      }
      buf = b, cap *= 2;
    }
    size_t k = fread(buf + n, 1, cap - n, fp);
    n += k;
    if (k == 0) {
      if (ferror(fp))
        rc = tl_fail(st, TL_EIO, "%s: read failed: %s", path, strerror(errno));
      break;
    }
  }
  fclose(fp);
  if (rc != TL_OK) {
    free(buf);
    return rc;
  }
  *data = buf;
  *len = n;
  return TL_OK;
}
