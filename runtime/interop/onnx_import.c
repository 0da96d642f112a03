/* onnx_import.c - ONNX import (placeholder until the importer lands). */
#include "torchlean/onnx.h"

tl_code tl_onnx_import(const char *path, tl_graph **out, tl_status *st) {
  *out = NULL;
  return tl_fail(st, TL_EUNSUPPORTED, "%s: ONNX import is not built yet", path);
}

tl_code tl_onnx_import_buffer(const void *data, size_t n, const char *name, tl_graph **out, tl_status *st) {
  *out = NULL;
  return tl_fail(st, TL_EUNSUPPORTED, "%s: ONNX import is not built yet", name);
}

int tl_onnx_sniff(const char *path) { return 0; }
