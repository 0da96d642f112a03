/* onnx_export.c - ONNX export (placeholder until the exporter lands). */
#include "torchlean/onnx.h"

tl_code tl_onnx_export(const char *path, const tl_graph *g, tl_status *st) {
  return tl_fail(st, TL_EUNSUPPORTED, "%s: ONNX export is not built yet", path);
}
