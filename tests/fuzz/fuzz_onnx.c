/* fuzz_onnx.c - libFuzzer harness: the ONNX importer (tl_onnx_import_buffer: protobuf-c decoding,
 * tensors, attributes, constant folding, op mapping) and tl_onnx_sniff_buffer on arbitrary bytes.
 * An error with a one-line message or a graph, never a crash, leak or undefined behaviour; a graph
 * that imports must save as a model file and load back with the same graph hash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/model_file.h"
#include "torchlean/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const tl_graph *g) {
  void *buf = NULL;
  size_t len = 0;
  tl_status st;
  if (tl_model_encode(g, &buf, &len, &st) != TL_OK)
    abort(); /* an imported graph must save */
  tl_graph *h = NULL;
  if (tl_model_load_mem(buf, len, "fuzz.tlm", &h, &st) != TL_OK)
    abort(); /* and load back */
  char a[65], b[65];
  if (strcmp(tl_graph_hash_hex(g, a), tl_graph_hash_hex(h, b)) != 0)
    abort();
  tl_graph_free(h);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)tl_onnx_sniff_buffer(data, size);
  tl_graph *g = NULL;
  tl_status st;
  if (tl_onnx_import_buffer(data, size, "fuzz.onnx", &g, &st) == TL_OK) {
    round_trip(g);
    tl_graph_free(g);
  } else if (g || !st.msg[0] || strchr(st.msg, '\n')) {
    abort(); /* a refusal leaves no graph and says why in one line */
  }
  return 0;
}
