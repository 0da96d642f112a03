/* fuzz_csv.c - libFuzzer harness: tl_csv_read_mem on arbitrary bytes.  The first byte picks the
 * options (delimiter, header mode, dtype); the rest is the file.  An error or a tensor, never a
 * crash, leak or undefined behaviour.  Seeds are the fixture files with an options byte of 0
 * (',', detect, f32). */
#include <stddef.h>
#include <stdint.h>

#include "torchlean/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static const char delims[4] = {0, ';', '\t', ' '};
  unsigned o = data[0];
  tl_csv_opts opts = {delims[o & 3], (int)((o >> 2) % 3) - 1, (o & 16) ? TL_F64 : TL_F32};
  if (opts.header == -1 && (o & 32)) /* also an arbitrary delimiter byte (quotes, line breaks: refused) */
    opts.delimiter = (char)(o >> 6 == 0 ? '"' : o >> 6 == 1 ? '\n' : o >> 6 == 2 ? '|' : '\r');
  tl_tensor *t = NULL;
  tl_status st;
  int had = 0;
  if (tl_csv_read_mem((const char *)data + 1, size - 1, "fuzz.csv", &opts, &t, &had, &st) == TL_OK)
    tl_tensor_free(t);
  return 0;
}
