/* tl_fixtures.c - test helpers for the data-file fixtures (see tl_fixtures.h). */
#define _POSIX_C_SOURCE 200809L
#include "tl_fixtures.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_shape(const char *s, tl_fx_entry *e) {
  e->ndim = 0;
  if (strcmp(s, "-") == 0)
    return 1;
  while (*s) {
    char *end;
    long long d = strtoll(s, &end, 10);
    if (end == s || e->ndim >= TL_FX_MAX_DIMS)
      return 0;
    e->shape[e->ndim++] = d;
    s = *end == ',' ? end + 1 : end;
  }
  return 1;
}

int tl_fx_manifest(const char *path, int npy_style, tl_fx_entry **out) {
  *out = NULL;
  FILE *fp = fopen(path, "r");
  if (!fp)
    return -1;
  int n = 0, cap = 0;
  char line[512];
  while (fgets(line, sizeof line, fp)) {
    if (line[0] == '#' || line[0] == '\n')
      continue;
    tl_fx_entry e;
    memset(&e, 0, sizeof e);
    char shape[128], bo[4] = "", order[4] = "";
    int ok;
    if (npy_style)
      ok = sscanf(line, "%127s %3s %3s %3s %d %127s", e.file, e.code, bo, order, &e.version, shape) == 6;
    else
      ok = sscanf(line, "%127s %3s %127s", e.file, e.code, shape) == 3;
    if (!ok || !parse_shape(shape, &e)) {
      fclose(fp);
      free(*out);
      *out = NULL;
      return -1;
    }
    e.byteorder = npy_style ? bo[0] : '>';
    e.order = npy_style ? order[0] : 'C';
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      tl_fx_entry *ne = realloc(*out, (size_t)cap * sizeof *ne);
      if (!ne) {
        fclose(fp);
        free(*out);
        *out = NULL;
        return -1;
      }
      *out = ne;
    }
    (*out)[n++] = e;
  }
  fclose(fp);
  return n;
}

tl_dtype tl_fx_dtype(const char *c) {
  static const struct {
    const char *code;
    tl_dtype dt;
  } map[] = {{"f2", TL_F16}, {"f4", TL_F32}, {"f8", TL_F64}, {"i1", TL_I8},  {"i2", TL_I16}, {"i4", TL_I32},
             {"i8", TL_I64}, {"u1", TL_U8},  {"u2", TL_U16}, {"u4", TL_U32}, {"u8", TL_U64}, {"b1", TL_BOOL}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(map[i].code, c) == 0)
      return map[i].dt;
  return TL_DTYPE_COUNT;
}

double tl_fx_expected(const char *code, int64_t i) {
  switch (code[0]) {
  case 'f': return (double)(i - 3) * 0.5;
  case 'i': return (double)((i * 37) % 251 - 125);
  case 'u': return (double)((i * 37) % 251);
  default: return i % 3 == 0 ? 1.0 : 0.0;
  }
}

int tl_fx_check(const tl_tensor *t, const tl_fx_entry *e, char *why, size_t cap) {
  if (t->dtype != tl_fx_dtype(e->code)) {
    snprintf(why, cap, "%s: dtype %s, expected code %s", e->file, tl_dtype_name(t->dtype), e->code);
    return 0;
  }
  if (!tl_shape_equal(t->ndim, t->shape, e->ndim, e->shape)) {
    char a[128], b[128];
    snprintf(why, cap, "%s: shape %s, expected %s", e->file, tl_shape_str(t->ndim, t->shape, a, sizeof a),
             tl_shape_str(e->ndim, e->shape, b, sizeof b));
    return 0;
  }
  for (int64_t i = 0; i < t->numel; i++) {
    double got = tl_tensor_get(t, i), want = tl_fx_expected(e->code, i);
    if (got != want) {
      snprintf(why, cap, "%s: element %lld is %g, expected %g", e->file, (long long)i, got, want);
      return 0;
    }
  }
  return 1;
}

void tl_fx_tempdir(char *buf, size_t cap) {
  const char *tmp = getenv("TMPDIR");
  snprintf(buf, cap, "%s/tl-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(buf))
    buf[0] = '\0';
}

void tl_fx_rmdir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  char path[4096];
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

int tl_fx_count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
  closedir(d);
  return n;
}
