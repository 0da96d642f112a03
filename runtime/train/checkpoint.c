/* train/checkpoint.c - trainer checkpoints with exact bits: weights, optimizer state, counters.
 *
 * Layout (little endian): magic "TLCKPT01"; u64 nweights, optimizer kind, optimizer steps, step,
 * epoch, batches into the epoch, seed; f32 weights[n], state1[n], state2[n]; then the SHA-256 of
 * everything before it.  Anything else (short, long, wrong counts, bad digest) is rejected. */
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "torchlean/io.h"
#include "train/trainer_internal.h"

#define MAGIC "TLCKPT01"
#define NFIELDS 7

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void put_f32s(unsigned char *p, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, &x[i], 4);
    for (int k = 0; k < 4; k++)
      p[4 * i + k] = (unsigned char)(b >> (8 * k));
  }
}

static void get_f32s(float *x, const unsigned char *p, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t b = 0;
    for (int k = 0; k < 4; k++)
      b |= (uint32_t)p[4 * i + k] << (8 * k);
    memcpy(&x[i], &b, 4);
  }
}

tl_code tl_trainer_save_checkpoint(const tl_trainer *t, const char *path, tl_status *st) {
  int64_t n = t->model->g->nweights;
  size_t head = 8 + 8 * NFIELDS, len = head + (size_t)n * 12 + SHA256_DIGEST_SIZE;
  unsigned char *buf = malloc(len);
  if (!buf)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
  memcpy(buf, MAGIC, 8);
  uint64_t fields[NFIELDS] = {(uint64_t)n,       (uint64_t)t->opt->cfg.kind, (uint64_t)t->opt->t,
                              (uint64_t)t->step, (uint64_t)t->epoch,         (uint64_t)t->pos,
                              t->cfg.seed};
  for (int i = 0; i < NFIELDS; i++)
    put_u64(buf + 8 + 8 * i, fields[i]);
  put_f32s(buf + head, t->model->g->weights, n);
  put_f32s(buf + head + 4 * (size_t)n, t->opt->s1, n);
  put_f32s(buf + head + 8 * (size_t)n, t->opt->s2, n);
  struct sha256_ctx h;
  sha256_init(&h);
  sha256_update(&h, len - SHA256_DIGEST_SIZE, buf);
  sha256_digest(&h, SHA256_DIGEST_SIZE, buf + len - SHA256_DIGEST_SIZE);
  tl_code rc = tl_write_file_atomic(path, buf, len, st);
  free(buf);
  return rc;
}

tl_code tl_trainer_load_checkpoint(tl_trainer *t, const char *path, tl_status *st) {
  void *data;
  size_t len;
  TL_TRY(tl_read_file(path, &data, &len, st));
  const unsigned char *p = data;
  int64_t n = t->model->g->nweights;
  size_t head = 8 + 8 * NFIELDS;
  tl_code rc = TL_OK;
  if (len < head + SHA256_DIGEST_SIZE || memcmp(p, MAGIC, 8) != 0)
    rc = tl_fail(st, TL_EFORMAT, "%s: byte 0: not a TorchLean checkpoint (magic %s)", path, MAGIC);
  else if (get_u64(p + 8) != (uint64_t)n)
    rc = tl_fail(st, TL_EFORMAT, "%s: byte 8: checkpoint holds %llu weights, the model has %lld", path,
                 (unsigned long long)get_u64(p + 8), (long long)n);
  else if (len != head + (size_t)n * 12 + SHA256_DIGEST_SIZE)
    rc = tl_fail(st, TL_EFORMAT, "%s: size %zu bytes, expected %zu (truncated or trailing bytes)", path, len,
                 head + (size_t)n * 12 + SHA256_DIGEST_SIZE);
  else if (get_u64(p + 16) != (uint64_t)t->opt->cfg.kind)
    rc = tl_fail(st, TL_EFORMAT, "%s: byte 16: checkpoint is for optimizer %s, the trainer uses %s", path,
                 tl_optim_name((tl_optim_kind)get_u64(p + 16)), tl_optim_name(t->opt->cfg.kind));
  if (rc == TL_OK) {
    unsigned char digest[SHA256_DIGEST_SIZE];
    struct sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, len - SHA256_DIGEST_SIZE, p);
    sha256_digest(&h, SHA256_DIGEST_SIZE, digest);
    if (memcmp(digest, p + len - SHA256_DIGEST_SIZE, SHA256_DIGEST_SIZE) != 0)
      rc = tl_fail(st, TL_EFORMAT, "%s: byte %zu: SHA-256 digest does not match the contents (corrupted)",
                   path, len - SHA256_DIGEST_SIZE);
  }
  if (rc == TL_OK) {
    t->opt->t = (int64_t)get_u64(p + 24);
    t->step = (int64_t)get_u64(p + 32);
    t->epoch = (int64_t)get_u64(p + 40);
    t->pos = (int64_t)get_u64(p + 48);
    get_f32s(t->model->g->weights, p + head, n);
    get_f32s(t->opt->s1, p + head + 4 * (size_t)n, n);
    get_f32s(t->opt->s2, p + head + 8 * (size_t)n, n);
  }
  free(data);
  return rc;
}
