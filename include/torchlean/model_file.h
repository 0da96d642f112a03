/* model_file.h - graph hash, the `torchlean.ir.v1` JSON exchange format, model files
 * (safetensors layout) and the model summary.
 *
 * - Graph hash: SHA-256 over the canonical byte encoding of docs/graph-hash.md (structure and
 *   weights).  Certificates bind to it.
 * - IR JSON: `{"format": "torchlean.ir.v1", "input_id", "output_id", "inputs", "outputs",
 *   "nodes": [...]}`, structure only or with weights as exact hex-float strings.
 * - Model file (`torchlean.model.v1`): a safetensors file with one F32 tensor per PARAM node
 *   (named by the param's name) and `__metadata__` = {"format", "graph" (IR JSON, structure
 *   only), "graph_sha256"}.  Readable by PyTorch's safetensors tools.
 *
 * Every reader validates strictly and reports errors that name the file and the field, tensor
 * or node ("model.st: graph: node 7 (conv2d): ..."); it never reads out of bounds or aborts.
 * Every writer writes atomically (see io.h).
 *
 * Ownership: functions that produce a graph allocate *out (caller frees with tl_graph_free);
 * on failure *out is NULL.  Strings returned through char ** are malloc'ed; caller frees.
 */
#ifndef TORCHLEAN_MODEL_FILE_H
#define TORCHLEAN_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "torchlean/graph.h"
#include "torchlean/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- graph hash (runtime/ir/graph_hash.c) -------------------------------------------------- */
#define TL_GRAPH_HASH_FORMAT "torchlean.graph.v1"

/* SHA-256 of the canonical encoding of g (docs/graph-hash.md) into out[32]. */
void tl_graph_hash(const tl_graph *g, uint8_t out[32]);
/* 64 lowercase hex digits plus NUL into hex[65]; returns hex. */
char *tl_hash_hex(const uint8_t hash[32], char hex[65]);
/* tl_graph_hash as hex into hex[65]; returns hex. */
char *tl_graph_hash_hex(const tl_graph *g, char hex[65]);

/* ---- IR JSON (runtime/ir/ir_json.c) --------------------------------------------------------- */
#define TL_IR_FORMAT "torchlean.ir.v1"

/* Serialise g.  with_weights: add "weights" (hex-float strings, exact) to every PARAM node.
 * *out_json is malloc'ed (caller frees); NULL on failure. */
tl_code tl_ir_json_write(const tl_graph *g, int with_weights, char **out_json, tl_status *st);
/* Parse and validate a document of len bytes; `name` (a file name) starts every message.
 * Without "weights" the parameters are zero-filled.  Caller frees *out. */
tl_code tl_ir_json_read(const char *json, size_t len, const char *name, tl_graph **out, tl_status *st);

/* ---- model files (runtime/ir/model_file.c) --------------------------------------------------- */
#define TL_MODEL_FORMAT "torchlean.model.v1"

/* Write g (structure and weights) to path atomically. */
tl_code tl_model_save(const char *path, const tl_graph *g, tl_status *st);
/* Read, validate and hash-check a model file; an ONNX model (told by content: not our header, and a
 * .onnx name or a ModelProto that decodes) is imported instead (tl_onnx_import).  Caller frees *out. */
tl_code tl_model_load(const char *path, tl_graph **out, tl_status *st);
/* Same from memory; `name` is used in messages.  Caller frees *out. */
tl_code tl_model_load_mem(const void *buf, size_t len, const char *name, tl_graph **out, tl_status *st);
/* Serialise g into a malloc'ed buffer (*buf, *len) in the model file layout; caller frees *buf. */
tl_code tl_model_encode(const tl_graph *g, void **buf, size_t *len, tl_status *st);

/* ---- summary (runtime/ir/summary.c) --------------------------------------------------------- */
/* One line per op node, `[i] Linear(784, 128): [64, 784] -> [64, 128] params=100480`, inputs
 * listed compactly, parameters folded into the ops that use them, then
 * `total params=P trainable=T` (plus ` buffers=B`, ` constants=C` when non-zero).  The index is
 * the node id.  Returns TL_EIO when writing fails. */
tl_code tl_graph_summary(const tl_graph *g, FILE *out, tl_status *st);

#ifdef __cplusplus
}
#endif
#endif
