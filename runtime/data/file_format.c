/* data/file_format.c - guess a data file's format (magic bytes, then extension) and load it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/io.h"

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  if (k > n)
    return 0;
  for (size_t i = 0; i < k; i++) { /* ASCII case-insensitive */
    char a = s[n - k + i], b = suffix[i];
    if (a >= 'A' && a <= 'Z')
      a = (char)(a - 'A' + 'a');
    if (a != b)
      return 0;
  }
  return 1;
}

static tl_file_format guess_from_bytes(const unsigned char *b, size_t n) {
  if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
    return TL_FORMAT_NPY;
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
    return TL_FORMAT_IDX; /* the only compressed format we read */
  if (n >= 4 && b[0] == 0 && b[1] == 0 &&
      (b[2] == 0x08 || b[2] == 0x09 || b[2] == 0x0B || b[2] == 0x0C || b[2] == 0x0D || b[2] == 0x0E))
    return TL_FORMAT_IDX;
  return TL_FORMAT_UNKNOWN;
}

static tl_file_format guess_from_name(const char *path) {
  if (ends_with(path, ".npy"))
    return TL_FORMAT_NPY;
  if (ends_with(path, ".csv"))
    return TL_FORMAT_CSV;
  if (ends_with(path, ".idx") || ends_with(path, ".gz") || ends_with(path, "-ubyte") ||
      ends_with(path, ".idx1") || ends_with(path, ".idx3"))
    return TL_FORMAT_IDX;
  return TL_FORMAT_UNKNOWN;
}

tl_file_format tl_file_format_guess(const char *path) {
  unsigned char b[8];
  size_t n = 0;
  FILE *fp = fopen(path, "rb");
  if (fp) {
    n = fread(b, 1, sizeof b, fp);
    fclose(fp);
  }
  tl_file_format f = guess_from_bytes(b, n);
  return f != TL_FORMAT_UNKNOWN ? f : guess_from_name(path);
}

tl_code tl_tensor_load(const char *path, tl_tensor **out, tl_status *st) {
  *out = NULL;
  void *buf;
  size_t len;
  TL_TRY(tl_read_file(path, &buf, &len, st));
  tl_file_format f = guess_from_bytes(buf, len);
  if (f == TL_FORMAT_UNKNOWN)
    f = guess_from_name(path);
  tl_code rc;
  switch (f) {
  case TL_FORMAT_NPY: rc = tl_npy_read_mem(buf, len, path, out, st); break;
  case TL_FORMAT_IDX: rc = tl_idx_read_mem(buf, len, path, out, st); break;
  case TL_FORMAT_CSV: {
    tl_csv_opts o = {',', -1, TL_F32};
    rc = tl_csv_read_mem(buf, len, path, &o, out, NULL, st);
    break;
  }
  default:
    rc = tl_fail(st, TL_EUNSUPPORTED, "%s: byte 0: unknown file format (expected NPY, IDX, or a .csv file)",
                 path);
  }
  free(buf);
  return rc;
}

const char *tl_file_format_name(tl_file_format f) {
  switch (f) {
  case TL_FORMAT_NPY: return "npy";
  case TL_FORMAT_CSV: return "csv";
  case TL_FORMAT_IDX: return "idx";
  default: return "unknown";
  }
}
