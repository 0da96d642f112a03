/* vnnlib.c - VNN-LIB reader (placeholder until the parser lands). */
#include <stdlib.h>

#include "torchlean/vnnlib.h"

tl_code tl_vnnlib_parse_file(const char *path, tl_vnnlib **out, tl_status *st) {
  *out = NULL;
  return tl_fail(st, TL_EUNSUPPORTED, "%s: VNN-LIB is not built yet", path);
}

tl_code tl_vnnlib_parse_buffer(const char *text, size_t n, const char *name, tl_vnnlib **out, tl_status *st) {
  *out = NULL;
  return tl_fail(st, TL_EUNSUPPORTED, "%s: VNN-LIB is not built yet", name);
}

void tl_vnnlib_free(tl_vnnlib *v) { free(v); }

int tl_vnnlib_input_in_box(const tl_vnnlib *v, int b, const float *x) { return 0; }

int tl_vnnlib_output_unsafe(const tl_vnnlib *v, int b, const double *ylo, const double *yhi) { return 0; }
