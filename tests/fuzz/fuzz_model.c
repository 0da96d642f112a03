/* fuzz_model.c - libFuzzer harness: the model file reader (tl_model_load_mem: header, IR JSON,
 * weights, hash check) on arbitrary bytes.  An error or a graph, never a crash, leak or undefined
 * behaviour; a graph that loads must also re-encode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "torchlean/model_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tl_graph *g = NULL;
  tl_status st;
  if (tl_model_load_mem(data, size, "fuzz.tlm", &g, &st) == TL_OK) {
    void *buf = NULL;
    size_t len = 0;
    if (tl_model_encode(g, &buf, &len, &st) != TL_OK)
      abort(); /* a model that loads must save */
    free(buf);
    tl_graph_free(g);
  }
  return 0;
}
