/* onnx.h - ONNX models in and out (runtime/interop/, C code generated at build time by protoc-c from
 * the onnx.proto of Debian's libonnx-dev).
 *
 * Import maps an ONNX graph (opsets 8 to 18) onto the graph IR: weights become PARAM nodes, constant
 * subgraphs (Shape, Gather, Concat of shapes, ...) are folded, and what cannot be mapped exactly is
 * refused with TL_EUNSUPPORTED and one message naming the node, its op type and the opset: never a
 * silent approximation.  The imported graph computes the same float32 function as the ONNX model.
 * Export writes a graph of this toolkit as an ONNX model that onnx.checker accepts.
 *
 * Ownership: *out graphs are the caller's (tl_graph_free).  Paths and buffers are borrowed.
 */
#ifndef TORCHLEAN_ONNX_H
#define TORCHLEAN_ONNX_H

#include <stddef.h>

#include "torchlean/graph.h"
#include "torchlean/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Import the ONNX model in file `path` (a regular file or a pipe). */
tl_code tl_onnx_import(const char *path, tl_graph **out, tl_status *st);
/* Import from memory; `name` labels the messages (e.g. the file name). */
tl_code tl_onnx_import_buffer(const void *data, size_t n, const char *name, tl_graph **out, tl_status *st);
/* Does the file look like an ONNX model (a protobuf ModelProto with a graph)?  1 or 0; never fails. */
int tl_onnx_sniff(const char *path);
/* Same for bytes in memory (it decodes them: a ModelProto with a graph and an opset). */
int tl_onnx_sniff_buffer(const void *data, size_t n);

/* Export g as an ONNX model (opset 13) to path, written atomically. */
tl_code tl_onnx_export(const char *path, const tl_graph *g, tl_status *st);

#ifdef __cplusplus
}
#endif
#endif
