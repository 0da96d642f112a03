/* labels.c - a classification dataset from float inputs and integer labels (data.h): the one-hot
 * step a first program would otherwise write by hand. */
#include <stdio.h>
#include <stdlib.h>

#include "torchlean/data.h"

/* k <= 0: 1 + the largest label; then every label must lie in [0, k) */
static tl_code check_labels(const int *labels, int64_t n, int *k, const char *name, tl_status *st) {
  if (*k <= 0) {
    int mx = -1;
    for (int64_t i = 0; i < n; i++)
      mx = labels[i] > mx ? labels[i] : mx;
    if (mx < 0)
      return tl_fail(st, TL_EVALUE, "%s: no labels to count the classes from", name);
    *k = mx + 1;
  }
  for (int64_t i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= *k)
      return tl_fail(st, TL_EVALUE, "%s: sample %lld: label %d is not in [0, %d)", name, (long long)i,
                     labels[i], *k);
  return TL_OK;
}

tl_code tl_dataset_from_labels(tl_dataset **out, tl_tensor *x, const int *labels, int num_classes,
                               const char *name, tl_status *st) {
  *out = NULL;
  name = name ? name : "labels";
  tl_tensor *y = NULL;
  tl_code rc = TL_OK;
  if (!x || x->ndim < 1 || !labels)
    rc = tl_fail(st, TL_EARG, "%s: need inputs of shape (N, ...) and N labels", name);
  int k = num_classes;
  if (rc == TL_OK)
    rc = check_labels(labels, x->shape[0], &k, name, st);
  int64_t shape[2] = {rc == TL_OK ? x->shape[0] : 0, k};
  if (rc == TL_OK)
    rc = tl_tensor_new(&y, TL_F32, 2, shape, st);
  if (rc != TL_OK) {
    tl_tensor_free(x);
    return rc;
  }
  float *p = tl_tensor_f32(y);
  for (int64_t i = 0; i < shape[0]; i++)
    p[i * k + labels[i]] = 1.0f; /* one-hot: y[i][label_i] = 1 */
  TL_TRY(tl_dataset_from_tensors(out, x, y, name, st));
  (*out)->num_classes = k;
  return TL_OK;
}
