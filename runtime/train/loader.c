/* train/loader.c - deterministic minibatch loader: seeded per-epoch shuffles, optional drop-last. */
#include <stdlib.h>
#include <string.h>

#include "torchlean/data.h"
#include "torchlean/rand.h"

tl_code tl_loader_init(tl_loader *l, const tl_dataset *d, int64_t batch_size, int shuffle, int drop_last,
                       uint64_t seed, tl_status *st) {
  memset(l, 0, sizeof *l);
  if (batch_size < 1)
    return tl_fail(st, TL_EARG, "loader: batch size must be >= 1 (got %lld)", (long long)batch_size);
  l->order = malloc((size_t)(d->n ? d->n : 1) * sizeof *l->order);
  if (!l->order)
    return tl_fail(st, TL_ENOMEM, "loader: out of memory");
  l->d = d;
  l->batch_size = batch_size;
  l->shuffle = shuffle;
  l->drop_last = drop_last;
  l->seed = seed;
  l->x_row = d->n ? d->x->numel / d->n : 0;
  l->y_row = d->n ? d->y->numel / d->n : 0;
  tl_loader_epoch(l, 0);
  return TL_OK;
}

void tl_loader_free(tl_loader *l) {
  free(l->order);
  l->order = NULL;
}

void tl_loader_epoch(tl_loader *l, int64_t epoch) {
  l->epoch = epoch;
  l->pos = 0;
  if (l->shuffle) {
    tl_rng r;
    tl_rng_init(&r, tl_splitmix64(l->seed) ^ (uint64_t)epoch * TL_SPLITMIX_GAMMA); /* stream (seed, epoch) */
    tl_rand_permutation(&r, l->order, l->d->n);
  } else {
    for (int64_t i = 0; i < l->d->n; i++)
      l->order[i] = i;
  }
}

int64_t tl_loader_num_batches(const tl_loader *l) {
  int64_t n = l->d->n;
  return l->drop_last ? n / l->batch_size : (n + l->batch_size - 1) / l->batch_size;
}

int64_t tl_loader_next(tl_loader *l, float *xb, float *yb) {
  int64_t left = l->d->n - l->pos;
  int64_t count = left < l->batch_size ? left : l->batch_size;
  if (count <= 0 || (l->drop_last && count < l->batch_size))
    return 0;
  const float *x = tl_tensor_f32(l->d->x), *y = tl_tensor_f32(l->d->y);
  for (int64_t i = 0; i < count; i++) {
    int64_t r = l->order[l->pos + i];
    memcpy(xb + i * l->x_row, x + r * l->x_row, (size_t)l->x_row * sizeof(float));
    memcpy(yb + i * l->y_row, y + r * l->y_row, (size_t)l->y_row * sizeof(float));
  }
  l->pos += count;
  return count;
}
