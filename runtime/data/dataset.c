/* data/dataset.c - datasets from tensors and files (supervised, labelled, tabular CSV, IDX), splits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/data.h"
#include "torchlean/rand.h"

void tl_dataset_free(tl_dataset *d) {
  if (!d)
    return;
  tl_tensor_free(d->x);
  tl_tensor_free(d->y);
  free(d);
}

static tl_code to_f32(tl_tensor **t, tl_status *st) {
  if ((*t)->dtype == TL_F32)
    return TL_OK;
  tl_tensor *c;
  TL_TRY(tl_tensor_convert(&c, *t, TL_F32, st));
  tl_tensor_free(*t);
  *t = c;
  return TL_OK;
}

tl_code tl_dataset_from_tensors(tl_dataset **out, tl_tensor *x, tl_tensor *y, const char *name,
                                tl_status *st) {
  *out = NULL;
  tl_code rc = TL_OK;
  if (x->ndim < 1 || y->ndim < 1)
    rc = tl_fail(st, TL_ESHAPE, "%s: x and y need a first (sample) dimension", name);
  else if (x->shape[0] != y->shape[0])
    rc = tl_fail(st, TL_ESHAPE, "%s: x has %lld samples (dimension 0) but y has %lld", name,
                 (long long)x->shape[0], (long long)y->shape[0]);
  if (rc == TL_OK)
    rc = to_f32(&x, st);
  if (rc == TL_OK)
    rc = to_f32(&y, st);
  tl_dataset *d = rc == TL_OK ? calloc(1, sizeof *d) : NULL;
  if (rc == TL_OK && !d)
    rc = tl_fail(st, TL_ENOMEM, "%s: out of memory", name);
  if (rc != TL_OK) {
    tl_tensor_free(x);
    tl_tensor_free(y);
    return rc;
  }
  d->x = x;
  d->y = y;
  d->n = x->shape[0];
  snprintf(d->name, sizeof d->name, "%s", name);
  *out = d;
  return TL_OK;
}

tl_code tl_dataset_load_supervised(tl_dataset **out, const char *x_path, const char *y_path, tl_status *st) {
  *out = NULL;
  tl_tensor *x = NULL, *y = NULL;
  TL_TRY(tl_tensor_load(x_path, &x, st));
  tl_code rc = tl_tensor_load(y_path, &y, st);
  if (rc != TL_OK) {
    tl_tensor_free(x);
    return rc;
  }
  char name[256];
  snprintf(name, sizeof name, "%.120s + %.120s", x_path, y_path);
  return tl_dataset_from_tensors(out, x, y, name, st);
}

/* labels (N) or (N, 1), integer valued in [0, k) -> one-hot (N, k) float32 */
static tl_code one_hot(tl_tensor **labels, int k, const char *what, tl_status *st) {
  tl_tensor *l = *labels;
  if (!(l->ndim == 1 || (l->ndim == 2 && l->shape[1] == 1)))
    return tl_fail(st, TL_ESHAPE, "%s: labels must have shape (N) or (N, 1), not rank %d", what, l->ndim);
  if (k <= 0) { /* 1 + the largest label; every label a class index below 10^6 */
    double mx = -1;
    for (int64_t i = 0; i < l->numel; i++) {
      double v = tl_tensor_get(l, i);
      if (!(v >= 0 && v < 1e6) || v != floor(v))
        return tl_fail(st, TL_EVALUE,
                       "%s: sample %lld: label %g is not a class index (an integer in [0, 1000000))", what,
                       (long long)i, v);
      mx = fmax(mx, v);
    }
    if (mx < 0)
      return tl_fail(st, TL_EVALUE, "%s: no labels to count the classes from", what);
    k = (int)mx + 1;
  }
  for (int64_t i = 0; i < l->numel; i++) {
    double v = tl_tensor_get(l, i);
    if (!(v >= 0 && v < k) || v != floor(v))
      return tl_fail(st, TL_EVALUE, "%s: sample %lld: label %g is not an integer in [0, %d)", what,
                     (long long)i, v, k);
  }
  tl_tensor *h;
  int64_t shape[] = {l->shape[0], k};
  TL_TRY(tl_tensor_new(&h, TL_F32, 2, shape, st));
  float *p = tl_tensor_f32(h);
  for (int64_t i = 0; i < l->numel; i++)
    p[i * k + (int64_t)tl_tensor_get(l, i)] = 1.0f;
  tl_tensor_free(l);
  *labels = h;
  return TL_OK;
}

tl_code tl_tensor_pixels_to_f32(tl_tensor **x, tl_status *st) {
  if ((*x)->dtype != TL_U8)
    return TL_OK;
  tl_tensor *f;
  TL_TRY(tl_tensor_new(&f, TL_F32, (*x)->ndim, (*x)->shape, st));
  const uint8_t *px = (*x)->data;
  float *pf = tl_tensor_f32(f);
  for (int64_t i = 0; i < f->numel; i++)
    pf[i] = (float)px[i] / 255.0f; /* pixel / 255, rounded once (as the IDX datasets) */
  tl_tensor_free(*x);
  *x = f;
  return TL_OK;
}

tl_code tl_dataset_load_labeled(tl_dataset **out, const char *x_path, const char *labels_path,
                                int num_classes, tl_status *st) {
  *out = NULL;
  tl_tensor *x = NULL, *y = NULL;
  TL_TRY(tl_tensor_load(x_path, &x, st));
  tl_code rc = tl_tensor_pixels_to_f32(&x, st);
  if (rc == TL_OK)
    rc = tl_tensor_load(labels_path, &y, st);
  if (rc == TL_OK)
    rc = one_hot(&y, num_classes, labels_path, st);
  if (rc != TL_OK) {
    tl_tensor_free(x);
    tl_tensor_free(y);
    return rc;
  }
  int k = (int)y->shape[1];
  char name[256];
  snprintf(name, sizeof name, "%.120s + %.120s", x_path, labels_path);
  TL_TRY(tl_dataset_from_tensors(out, x, y, name, st));
  (*out)->num_classes = k;
  return TL_OK;
}

tl_code tl_dataset_load_tabular_csv(tl_dataset **out, const char *path, int y_cols, tl_status *st) {
  *out = NULL;
  tl_csv_opts o = {.delimiter = ',', .header = -1, .dtype = TL_F32};
  tl_tensor *t;
  TL_TRY(tl_csv_read(path, &o, &t, NULL, st));
  int64_t rows = t->shape[0], cols = t->shape[1];
  if (y_cols < 1 || y_cols >= cols) {
    tl_tensor_free(t);
    return tl_fail(st, TL_ESHAPE, "%s: %lld columns cannot hold x and %d target columns", path,
                   (long long)cols, y_cols);
  }
  tl_tensor *x = NULL, *y = NULL;
  int64_t xs[] = {rows, cols - y_cols}, ys[] = {rows, y_cols};
  tl_code rc = tl_tensor_new(&x, TL_F32, 2, xs, st);
  if (rc == TL_OK)
    rc = tl_tensor_new(&y, TL_F32, 2, ys, st);
  if (rc == TL_OK)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = 0; c < cols; c++) {
        float v = tl_tensor_f32(t)[r * cols + c];
        if (c < cols - y_cols)
          tl_tensor_f32(x)[r * (cols - y_cols) + c] = v;
        else
          tl_tensor_f32(y)[r * y_cols + c - (cols - y_cols)] = v;
      }
  tl_tensor_free(t);
  if (rc != TL_OK) {
    tl_tensor_free(x);
    tl_tensor_free(y);
    return rc;
  }
  return tl_dataset_from_tensors(out, x, y, path, st);
}

tl_code tl_dataset_load_mnist_idx(tl_dataset **out, const char *dir, const char *split, tl_status *st) {
  *out = NULL;
  char xp[1024], yp[1024];
  snprintf(xp, sizeof xp, "%s/%s-images-idx3-ubyte.gz", dir, split);
  snprintf(yp, sizeof yp, "%s/%s-labels-idx1-ubyte.gz", dir, split);
  tl_tensor *x = NULL, *y = NULL, *xf = NULL;
  tl_code rc = tl_idx_read(xp, &x, st);
  if (rc == TL_OK && (x->ndim != 3 || x->dtype != TL_U8))
    rc = tl_fail(st, TL_ESHAPE, "%s: expected uint8 images (N, H, W)", xp);
  if (rc == TL_OK)
    rc = tl_idx_read(yp, &y, st);
  if (rc == TL_OK)
    rc = one_hot(&y, 10, yp, st);
  if (rc == TL_OK) {
    int64_t shape[] = {x->shape[0], 1, x->shape[1], x->shape[2]};
    rc = tl_tensor_new(&xf, TL_F32, 4, shape, st);
  }
  if (rc == TL_OK) {
    const uint8_t *px = x->data;
    float *pf = tl_tensor_f32(xf);
    for (int64_t i = 0; i < x->numel; i++)
      pf[i] = (float)px[i] / 255.0f; /* pixel / 255, rounded once */
  }
  tl_tensor_free(x);
  if (rc != TL_OK) {
    tl_tensor_free(y);
    tl_tensor_free(xf);
    return rc;
  }
  char name[256];
  snprintf(name, sizeof name, "%.200s/%.40s", dir, split);
  TL_TRY(tl_dataset_from_tensors(out, xf, y, name, st));
  (*out)->num_classes = 10;
  return TL_OK;
}

static int64_t row_floats(const tl_tensor *t) { return t->shape[0] ? t->numel / t->shape[0] : 0; }

/* rows idx[0..count) of d into a new dataset */
static tl_code gather(tl_dataset **out, const tl_dataset *d, const int64_t *idx, int64_t count,
                      tl_status *st) {
  *out = NULL;
  int64_t xr = row_floats(d->x), yr = row_floats(d->y);
  int64_t *xs = malloc((size_t)d->x->ndim * sizeof *xs), *ys = malloc((size_t)d->y->ndim * sizeof *ys);
  if (!xs || !ys) {
    free(xs);
    free(ys);
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", d->name);
  }
  memcpy(xs, d->x->shape, (size_t)d->x->ndim * sizeof *xs);
  memcpy(ys, d->y->shape, (size_t)d->y->ndim * sizeof *ys);
  xs[0] = ys[0] = count;
  tl_tensor *x = NULL, *y = NULL;
  tl_code rc = tl_tensor_new(&x, TL_F32, d->x->ndim, xs, st);
  if (rc == TL_OK)
    rc = tl_tensor_new(&y, TL_F32, d->y->ndim, ys, st);
  free(xs);
  free(ys);
  if (rc != TL_OK) {
    tl_tensor_free(x);
    return rc;
  }
  for (int64_t i = 0; i < count; i++) {
    memcpy(tl_tensor_f32(x) + i * xr, tl_tensor_f32(d->x) + idx[i] * xr, (size_t)xr * sizeof(float));
    memcpy(tl_tensor_f32(y) + i * yr, tl_tensor_f32(d->y) + idx[i] * yr, (size_t)yr * sizeof(float));
  }
  TL_TRY(tl_dataset_from_tensors(out, x, y, d->name, st));
  (*out)->num_classes = d->num_classes;
  return TL_OK;
}

tl_code tl_dataset_slice(tl_dataset **out, const tl_dataset *d, int64_t start, int64_t count, tl_status *st) {
  if (start < 0 || count < 0 || start > d->n || count > d->n - start)
    return tl_fail(st, TL_EARG, "%s: rows [%lld, %lld) outside the %lld samples", d->name, (long long)start,
                   (long long)(start + count), (long long)d->n);
  int64_t *idx = malloc((size_t)(count ? count : 1) * sizeof *idx);
  if (!idx)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", d->name);
  for (int64_t i = 0; i < count; i++)
    idx[i] = start + i;
  tl_code rc = gather(out, d, idx, count, st);
  free(idx);
  return rc;
}

tl_code tl_dataset_split(const tl_dataset *d, double val_fraction, uint64_t seed, tl_dataset **train,
                         tl_dataset **val, tl_status *st) {
  *train = *val = NULL;
  if (!(val_fraction >= 0 && val_fraction <= 1))
    return tl_fail(st, TL_EARG, "%s: validation fraction %g not in [0, 1]", d->name, val_fraction);
  int64_t nv = (int64_t)llround((double)d->n * val_fraction);
  int64_t *perm = malloc((size_t)(d->n ? d->n : 1) * sizeof *perm);
  if (!perm)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", d->name);
  tl_rng r;
  tl_rng_init(&r, seed);
  tl_rand_permutation(&r, perm, d->n);
  tl_code rc = gather(train, d, perm, d->n - nv, st);
  if (rc == TL_OK)
    rc = gather(val, d, perm + (d->n - nv), nv, st);
  free(perm);
  if (rc != TL_OK) {
    tl_dataset_free(*train);
    *train = NULL;
  }
  return rc;
}

int tl_dataset_label(const tl_dataset *d, int64_t i) {
  int64_t k = row_floats(d->y);
  const float *row = tl_tensor_f32(d->y) + i * k;
  int best = 0;
  for (int64_t j = 1; j < k; j++)
    if (row[j] > row[best])
      best = (int)j;
  return best;
}

tl_code tl_transform_apply(tl_dataset *d, const tl_transform *t, tl_status *st) {
  switch (t->kind) {
  case TL_TF_NORMALIZE: {
    if (!(t->std > 0))
      return tl_fail(st, TL_EVALUE, "%s: normalize needs std > 0", d->name);
    float *x = tl_tensor_f32(d->x);
    for (int64_t i = 0; i < d->x->numel; i++)
      x[i] = (float)((x[i] - t->mean) / t->std); /* x = (x - mean) / std */
    return TL_OK;
  }
  case TL_TF_FLATTEN: {
    int64_t shape[] = {d->n, row_floats(d->x)};
    tl_tensor *v;
    TL_TRY(tl_tensor_reshape(&v, d->x, 2, shape, st));
    tl_tensor_free(d->x);
    d->x = v;
    return TL_OK;
  }
  case TL_TF_ONE_HOT:
    TL_TRY(one_hot(&d->y, t->num_classes, d->name, st));
    d->num_classes = (int)d->y->shape[1];
    return TL_OK;
  }
  return tl_fail(st, TL_EARG, "%s: unknown transform %d", d->name, (int)t->kind);
}

tl_code tl_transform_compose(tl_dataset *d, const tl_transform *ts, int n, tl_status *st) {
  for (int i = 0; i < n; i++)
    TL_TRY(tl_transform_apply(d, &ts[i], st));
  return TL_OK;
}
