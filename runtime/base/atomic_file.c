/* base/atomic_file.c - atomic writes (temp file beside the target, fsync, rename) and whole-file reads. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "torchlean/io.h"

static void atomic_release(tl_atomic_file *f) {
  free(f->path);
  free(f->tmp_path);
  f->path = NULL;
  f->tmp_path = NULL;
  f->fp = NULL;
}

static char *str_dup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

tl_code tl_atomic_open(tl_atomic_file *f, const char *path, tl_status *st) {
  memset(f, 0, sizeof *f);
  if (!path || !*path)
    return tl_fail(st, TL_EARG, "atomic write: empty path");
  static const char suffix[] = ".tmp.XXXXXX";
  size_t n = strlen(path);
  f->path = str_dup(path);
  f->tmp_path = malloc(n + sizeof suffix);
  if (!f->path || !f->tmp_path) {
    atomic_release(f);
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
  }
  memcpy(f->tmp_path, path, n);
  memcpy(f->tmp_path + n, suffix, sizeof suffix);
  int fd = mkstemp(f->tmp_path);
  if (fd < 0) {
    int err = errno;
    atomic_release(f);
    return tl_fail(st, TL_EIO, "%s: cannot create a temporary file beside it: %s", path, strerror(err));
  }
  /* mkstemp creates mode 0600; keep the target's mode when it exists, else use 0644. */
  struct stat sb;
  mode_t mode = (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) ? (sb.st_mode & 07777) : 0644;
  (void)fchmod(fd, mode);
  f->fp = fdopen(fd, "wb");
  if (!f->fp) {
    int err = errno;
    close(fd);
    unlink(f->tmp_path);
    atomic_release(f);
    return tl_fail(st, TL_EIO, "%s: cannot open the temporary file: %s", path, strerror(err));
  }
  return TL_OK;
}

/* fsync the folder holding `path` so the rename itself is durable (best effort). */
static void sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? malloc((size_t)(slash - path) + 2) : NULL;
  if (slash && !dir)
    return;
  if (dir) {
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  int fd = open(dir ? dir : ".", O_RDONLY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

tl_code tl_atomic_commit(tl_atomic_file *f, tl_status *st) {
  if (!f->fp || !f->tmp_path || !f->path) {
    tl_atomic_abort(f);
    return tl_fail(st, TL_EARG, "atomic write: commit without an open file");
  }
  const char *what = NULL;
  int err = 0;
  if (ferror(f->fp)) {
    what = "write failed";
    err = EIO;
  } else if (fflush(f->fp) != 0) {
    what = "flush failed";
    err = errno;
  } else if (fsync(fileno(f->fp)) != 0) {
    what = "fsync failed";
    err = errno;
  }
  int close_rc = fclose(f->fp);
  f->fp = NULL;
  if (!what && close_rc != 0) {
    what = "close failed";
    err = errno;
  }
  if (!what && rename(f->tmp_path, f->path) != 0) {
    what = "rename failed";
    err = errno;
  }
  if (what) {
    unlink(f->tmp_path);
    tl_fail(st, TL_EIO, "%s: %s: %s", f->path, what, strerror(err));
    atomic_release(f);
    return TL_EIO;
  }
  sync_parent_dir(f->path);
  atomic_release(f);
  return TL_OK;
}

void tl_atomic_abort(tl_atomic_file *f) {
  if (!f)
    return;
  if (f->fp)
    fclose(f->fp);
  if (f->tmp_path)
    unlink(f->tmp_path);
  atomic_release(f);
}

tl_code tl_write_file_atomic(const char *path, const void *data, size_t len, tl_status *st) {
  tl_atomic_file f;
  TL_TRY(tl_atomic_open(&f, path, st));
  if (len && fwrite(data, 1, len, f.fp) != len) {
    int err = errno;
    tl_fail(st, TL_EIO, "%s: write failed: %s", path, strerror(err));
    tl_atomic_abort(&f);
    return TL_EIO;
  }
  return tl_atomic_commit(&f, st);
}

tl_code tl_read_file(const char *path, void **data, size_t *len, tl_status *st) {
  *data = NULL;
  *len = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    int err = errno;
    return tl_fail(st, TL_EIO, "%s: cannot open: %s", path, strerror(err));
  }
  struct stat sb;
  if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(fp);
    return tl_fail(st, TL_EIO, "%s: is a directory", path);
  }
  /* a device (/dev/zero, a terminal) or a socket may never end: only files and pipes are read */
  if (fstat(fileno(fp), &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode)) {
    fclose(fp);
    return tl_fail(st, TL_EIO, "%s: not a regular file or a pipe (a device or socket): refusing to read it",
                   path);
  }
  /* grow geometrically: works for pipes and files whose size changes while we read */
  size_t cap = (sb.st_size > 0 && (uintmax_t)sb.st_size < SIZE_MAX / 2) ? (size_t)sb.st_size + 1 : 4096;
  size_t n = 0;
  unsigned char *buf = malloc(cap + 1);
  if (!buf) {
    fclose(fp);
    return tl_fail(st, TL_ENOMEM, "%s: out of memory reading %zu bytes", path, cap);
  }
  for (;;) {
    if (n == cap) {
      if (cap > SIZE_MAX / 2 - 1) {
        free(buf);
        fclose(fp);
        return tl_fail(st, TL_ENOMEM, "%s: file too large", path);
      }
      unsigned char *nb = realloc(buf, cap * 2 + 1);
      if (!nb) {
        free(buf);
        fclose(fp);
        return tl_fail(st, TL_ENOMEM, "%s: out of memory reading %zu bytes", path, cap * 2);
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n, fp);
    n += got;
    if (got == 0) {
      if (ferror(fp)) {
        int err = errno;
        free(buf);
        fclose(fp);
        return tl_fail(st, TL_EIO, "%s: read failed after %zu bytes: %s", path, n, strerror(err));
      }
      break;
    }
  }
  fclose(fp);
  buf[n] = '\0'; /* a terminator beyond the data, for text readers */
  *data = buf;
  *len = n;
  return TL_OK;
}
