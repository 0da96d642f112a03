/* fuzz_checkpoint.c - libFuzzer harness: tl_trainer_load_checkpoint on arbitrary bytes, for a small
 * MLP (4-16-3, Adam).  The first byte is a flag: bit 0 set, the harness rewrites the trailing SHA-256
 * over the rest so that mutations reach the code behind the digest check.  The bytes go to a temp
 * file (the loader reads a path).  An error or success, never a crash, leak or undefined behaviour.
 * TL_FUZZ_SEED=FILE: write the trainer's own checkpoint there (with flag byte 1) and exit. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "torchlean/torchlean.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static tl_model *model;
static tl_trainer *trainer;
static char path[] = "/tmp/tl_fuzz_ckpt_XXXXXX";

static void cleanup(void) {
  unlink(path);
  tl_trainer_free(trainer);
  tl_model_free(model);
}

static void write_seed(const char *seed) {
  tl_status st;
  if (tl_trainer_save_checkpoint(trainer, path, &st) != TL_OK) {
    fprintf(stderr, "%s\n", st.msg);
    exit(1);
  }
  void *buf;
  size_t len;
  FILE *f = fopen(seed, "wb");
  if (tl_read_file(path, &buf, &len, &st) != TL_OK || !f || fputc(1, f) == EOF ||
      fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", seed);
    exit(1);
  }
  free(buf);
  exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  int fd = mkstemp(path);
  if (fd < 0)
    abort();
  close(fd);
  int64_t in[] = {4}, hidden[] = {16};
  model = tl_zoo_mlp(5, 1, in, 1, hidden, 3, NULL);
  tl_trainer_config cfg = tl_trainer_config_default(TL_TASK_CLASSIFICATION);
  cfg.optim = tl_optim_adam(0.01);
  tl_status st;
  if (tl_model_status(model, &st) != TL_OK || tl_trainer_new(&trainer, model, &cfg, &st) != TL_OK) {
    fprintf(stderr, "fuzz_checkpoint: %s\n", st.msg);
    abort();
  }
  atexit(cleanup);
  const char *seed = getenv("TL_FUZZ_SEED");
  if (seed)
    write_seed(seed);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t len = size - 1;
  unsigned char *buf = malloc(len + 1);
  if (!buf)
    return 0;
  memcpy(buf, data + 1, len);
  if ((data[0] & 1) && len >= SHA256_DIGEST_SIZE) {
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, len - SHA256_DIGEST_SIZE, buf);
    sha256_digest(&h, SHA256_DIGEST_SIZE, buf + len - SHA256_DIGEST_SIZE);
  }
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
    abort();
  free(buf);
  tl_status st;
  (void)tl_trainer_load_checkpoint(trainer, path, &st);
  return 0;
}
