/* data.h - datasets, sources, loaders and transforms (TorchLean's `Data`).
 *
 * A dataset is a pair of float32 tensors x (N, ...) and y (N, ...) with the same first
 * dimension; classification datasets carry one-hot targets and remember num_classes.
 * Shape checks happen when a dataset is built; errors say which file and which dimension.
 *
 * Ownership: every constructor allocates *out (free with tl_dataset_free); constructors that
 * take tensors take ownership of them, also on failure.  A loader borrows its dataset (which
 * must outlive it) and owns its permutation.
 */
#ifndef TORCHLEAN_DATA_H
#define TORCHLEAN_DATA_H

#include <stdint.h>

#include "torchlean/io.h"
#include "torchlean/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_dataset {
  tl_tensor *x; /* float32 (N, ...) */
  tl_tensor *y; /* float32 (N, ...): one-hot (N, K) for classification */
  int64_t n;
  int num_classes; /* 0 for regression */
  char name[256];  /* where it came from, for messages */
} tl_dataset;

/* From tensors (converted to float32; first dimensions must agree). */
tl_code tl_dataset_from_tensors(tl_dataset **out, tl_tensor *x, tl_tensor *y, const char *name,
                                tl_status *st);
/* From inputs x (N, ...) (converted to float32; taken over, also on failure) and N integer class
 * labels (copied), each checked to lie in [0, num_classes), one-hot encoded for the classification
 * trainer.  num_classes <= 0: 1 + the largest label.  name (NULL: "labels") is for messages. */
tl_code tl_dataset_from_labels(tl_dataset **out, tl_tensor *x, const int *labels, int num_classes,
                               const char *name, tl_status *st);
/* Supervised source: an x file and a y file (NPY or CSV, any numeric dtype). */
tl_code tl_dataset_load_supervised(tl_dataset **out, const char *x_path, const char *y_path, tl_status *st);
/* uint8 inputs are image pixels: replaced by float32 p / 255 (rounded once, in [0, 1]), the same
 * values the IDX datasets give; other dtypes are left as they are.  *x is replaced (old freed). */
tl_code tl_tensor_pixels_to_f32(tl_tensor **x, tl_status *st);
/* Labelled source: x file (NPY, IDX or CSV by content; uint8 pixels scaled by 1/255 as above) and a
 * file of integer class labels (N) or (N, 1), each checked to lie in [0, num_classes), then one-hot
 * encoded.  num_classes <= 0: 1 + the largest label. */
tl_code tl_dataset_load_labeled(tl_dataset **out, const char *x_path, const char *labels_path,
                                int num_classes, tl_status *st);
/* Tabular CSV source: each row is x_1..x_m, y_1..y_k with k = y_cols (header detected). */
tl_code tl_dataset_load_tabular_csv(tl_dataset **out, const char *path, int y_cols, tl_status *st);
/* Fashion-MNIST (or MNIST) IDX files in dir: split "train" or "t10k"; pixels scaled to [0, 1] as
 * (N, 1, 28, 28), labels one-hot over 10 classes. */
tl_code tl_dataset_load_mnist_idx(tl_dataset **out, const char *dir, const char *split, tl_status *st);
void tl_dataset_free(tl_dataset *d);

/* Copy of rows [start, start + count).  */
tl_code tl_dataset_slice(tl_dataset **out, const tl_dataset *d, int64_t start, int64_t count, tl_status *st);
/* Deterministic train/validation split: rows shuffled by `seed`, the last round(n * val_fraction)
 * become validation. */
tl_code tl_dataset_split(const tl_dataset *d, double val_fraction, uint64_t seed, tl_dataset **train,
                         tl_dataset **val, tl_status *st);
/* Integer label of row i of a one-hot (or probability) target: argmax over the last axis. */
int tl_dataset_label(const tl_dataset *d, int64_t i);

/* ---- transforms (in place on x, or y for one-hot) ------------------------------------------ */
typedef enum tl_transform_kind { TL_TF_NORMALIZE = 0, TL_TF_FLATTEN, TL_TF_ONE_HOT } tl_transform_kind;
typedef struct tl_transform {
  tl_transform_kind kind;
  double mean, std; /* normalize: x = (x - mean) / std */
  int num_classes;  /* one_hot: y (N) or (N, 1) integer labels -> (N, K) */
} tl_transform;
tl_code tl_transform_apply(tl_dataset *d, const tl_transform *t, tl_status *st);
/* Compose: apply ts[0], then ts[1], ... */
tl_code tl_transform_compose(tl_dataset *d, const tl_transform *ts, int n, tl_status *st);

/* ---- minibatch loader -------------------------------------------------------------------- */
typedef struct tl_loader {
  const tl_dataset *d;
  int64_t batch_size;
  int shuffle;
  int drop_last;
  uint64_t seed;
  int64_t *order; /* owned: permutation of the current epoch */
  int64_t pos;
  int64_t epoch;
  int64_t x_row, y_row; /* floats per row */
} tl_loader;

tl_code tl_loader_init(tl_loader *l, const tl_dataset *d, int64_t batch_size, int shuffle, int drop_last,
                       uint64_t seed, tl_status *st);
void tl_loader_free(tl_loader *l);
/* Start epoch e: the order is a permutation drawn from (seed, e), the same on every machine. */
void tl_loader_epoch(tl_loader *l, int64_t epoch);
/* Number of batches per epoch. */
int64_t tl_loader_num_batches(const tl_loader *l);
/* Copy the next batch into xb (batch_size * x_row floats) and yb; *count = rows copied (0 at the
 * end of the epoch). */
int64_t tl_loader_next(tl_loader *l, float *xb, float *yb);

#ifdef __cplusplus
}
#endif
#endif
