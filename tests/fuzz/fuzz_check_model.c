/* fuzz_check_model.c - libFuzzer harness: the checker's own model-file reader (cm_model_read,
 * certs/ghash.c, used by torchlean-check --model) on arbitrary bytes written to a temp file.  An
 * error or a model, never a crash, leak or undefined behaviour. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../certs/ghash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[] = "/tmp/tl_fuzz_cmodel_XXXXXX";

static void cleanup(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  int fd = mkstemp(path);
  if (fd < 0)
    abort();
  close(fd);
  atexit(cleanup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
    abort();
  cm_model m;
  char err[400];
  if (cm_model_read(path, &m, err, sizeof err) == 0)
    cm_model_free(&m);
  return 0;
}
