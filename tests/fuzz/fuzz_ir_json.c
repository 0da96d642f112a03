/* fuzz_ir_json.c - libFuzzer harness: the torchlean.ir.v1 JSON reader (tl_ir_json_read) on
 * arbitrary bytes.  An error or a graph, never a crash, leak or undefined behaviour; a graph that
 * loads must also serialise again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "torchlean/model_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tl_graph *g = NULL;
  tl_status st;
  if (tl_ir_json_read((const char *)data, size, "fuzz.json", &g, &st) == TL_OK) {
    char *js = NULL;
    if (tl_ir_json_write(g, 1, &js, &st) != TL_OK)
      abort(); /* a graph that reads must write */
    free(js);
    tl_graph_free(g);
  }
  return 0;
}
