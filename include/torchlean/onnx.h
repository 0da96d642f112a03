/* onnx.h - ONNX models in and out (runtime/interop/, C code generated at build time by protoc-c from
 * the onnx.proto of Debian's libonnx-dev).
 *
 * Import maps an ONNX graph (opsets 7 to 18; docs/onnx.md) onto the graph IR: weights become PARAM nodes,
 * constant subgraphs (Shape, Gather, Concat of shapes, ...) are folded, and what cannot be mapped exactly is
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

/* Export g as an ONNX model (opset 13, IR version 7, producer "torchlean") to path, written
 * atomically, with the default options below.  docs/pytorch.md lists how each op is written.
 * - PARAM nodes become initializers (float32, raw little-endian data) under their own names, the
 *   state-dict names of the model file; INPUT nodes become the graph inputs; the graph outputs
 *   keep their number and order (an output that is an input, a parameter or a repeat of an
 *   earlier one is an Identity named "<name>_output").  Op nodes keep their names when they have
 *   one (else "<op>_<id>").
 * - Batch: when every input's leading axis is the batch and the graph never mixes samples
 *   (a per-node check: no reduction, reshape, concat, softmax or matmul across axis 0, no weight
 *   shaped by the batch), axis 0 of the inputs, outputs and value_info becomes the symbolic
 *   dimension "N"; otherwise the traced batch stays a fixed dimension (tl_onnx_export_info says
 *   which).
 * - Inference semantics: batch_norm uses its running statistics, dropout is Identity.  A graph
 *   output that is a loss (mse_loss, cross_entropy) is replaced by the loss's prediction (its first
 *   parent) and inputs used only by losses (labels) are dropped; a loss feeding another op is
 *   refused.  Nodes that no output depends on are not exported.
 * - What ONNX opset 13 cannot express exactly is refused with TL_EUNSUPPORTED naming the node and
 *   its op; nothing is approximated. */
tl_code tl_onnx_export(const char *path, const tl_graph *g, tl_status *st);

typedef struct tl_onnx_export_opts {
  int fixed_batch;        /* 1: keep the graph's batch size fixed even when a symbolic one is possible */
  const char *batch_name; /* name of the symbolic batch dimension; NULL: "N" */
} tl_onnx_export_opts;

typedef struct tl_onnx_export_info {
  int symbolic_batch; /* 1 when axis 0 of the inputs is the symbolic batch dimension */
  int nnodes;         /* ONNX nodes written */
  int ninitializers;  /* initializers written (parameters and the exporter's constants) */
  int losses_dropped; /* graph outputs that were losses, replaced by their prediction */
  size_t bytes;       /* size of the serialised model */
} tl_onnx_export_info;

/* Defaults: symbolic batch where possible, named "N". */
tl_onnx_export_opts tl_onnx_export_opts_default(void);
/* tl_onnx_export with options (NULL: defaults); info (may be NULL) is filled on success. */
tl_code tl_onnx_export_ex(const char *path, const tl_graph *g, const tl_onnx_export_opts *opts,
                          tl_onnx_export_info *info, tl_status *st);
/* The same model serialised into memory: *buf is malloc'ed (caller frees), *len its size. */
tl_code tl_onnx_export_buffer(const tl_graph *g, const tl_onnx_export_opts *opts, void **buf, size_t *len,
                              tl_onnx_export_info *info, tl_status *st);

#ifdef __cplusplus
}
#endif
#endif
