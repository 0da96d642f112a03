/* fuzz_idx.c - libFuzzer harness: tl_idx_read_mem (plain IDX, or gzip/zlib by its magic bytes) on
 * arbitrary bytes must return an error or a tensor, never crash, leak or hit undefined behaviour. */
#include <stddef.h>
#include <stdint.h>

#include "torchlean/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tl_tensor *t = NULL;
  tl_status st;
  if (tl_idx_read_mem(data, size, "fuzz.idx", &t, &st) == TL_OK)
    tl_tensor_free(t);
  return 0;
}
