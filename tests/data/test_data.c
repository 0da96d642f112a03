/* test_data.c - datasets, labelled sources, splits, transforms and the deterministic loader. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "torchlean/data.h"

static tl_dataset *toy(int64_t n) {
  tl_tensor *x, *y;
  int64_t xs[] = {n, 2}, ys[] = {n};
  cr_assert_eq(tl_tensor_new(&x, TL_F32, 2, xs, NULL), TL_OK);
  cr_assert_eq(tl_tensor_new(&y, TL_I64, 1, ys, NULL), TL_OK);
  for (int64_t i = 0; i < n; i++) {
    tl_tensor_f32(x)[2 * i] = (float)i;
    tl_tensor_f32(x)[2 * i + 1] = (float)(-i);
    ((int64_t *)y->data)[i] = i % 3;
  }
  tl_dataset *d;
  cr_assert_eq(tl_dataset_from_tensors(&d, x, y, "toy", NULL), TL_OK);
  tl_transform oh = {.kind = TL_TF_ONE_HOT, .num_classes = 3};
  cr_assert_eq(tl_transform_apply(d, &oh, NULL), TL_OK);
  return d;
}

Test(data, mismatched_sample_counts_name_the_dimension) {
  tl_tensor *x, *y;
  int64_t xs[] = {4, 2}, ys[] = {5};
  tl_tensor_new(&x, TL_F32, 2, xs, NULL);
  tl_tensor_new(&y, TL_F32, 1, ys, NULL);
  tl_dataset *d;
  tl_status st;
  cr_assert_eq(tl_dataset_from_tensors(&d, x, y, "pair.npy", &st), TL_ESHAPE);
  cr_assert(strstr(st.msg, "pair.npy") && strstr(st.msg, "dimension 0"), "%s", st.msg);
}

Test(data, one_hot_checks_range) {
  tl_dataset *d = toy(9);
  cr_assert_eq(d->num_classes, 3);
  cr_assert_eq(d->y->shape[1], 3);
  cr_assert_eq(tl_dataset_label(d, 4), 1);
  tl_dataset_free(d);
  tl_tensor *x, *y;
  int64_t xs[] = {2, 1}, ys[] = {2};
  tl_tensor_new(&x, TL_F32, 2, xs, NULL);
  tl_tensor_new(&y, TL_F32, 1, ys, NULL);
  tl_tensor_f32(y)[1] = 5;
  cr_assert_eq(tl_dataset_from_tensors(&d, x, y, "bad", NULL), TL_OK);
  tl_transform oh = {.kind = TL_TF_ONE_HOT, .num_classes = 3};
  tl_status st;
  cr_assert_eq(tl_transform_apply(d, &oh, &st), TL_EVALUE);
  cr_assert(strstr(st.msg, "sample 1") && strstr(st.msg, "label 5"), "%s", st.msg);
  tl_dataset_free(d);
}

Test(data, loader_is_deterministic_covers_every_row_and_drops_last) {
  tl_dataset *d = toy(10);
  tl_loader a, b;
  cr_assert_eq(tl_loader_init(&a, d, 4, 1, 0, 77, NULL), TL_OK);
  cr_assert_eq(tl_loader_init(&b, d, 4, 1, 1, 77, NULL), TL_OK);
  cr_assert_eq(tl_loader_num_batches(&a), 3);
  cr_assert_eq(tl_loader_num_batches(&b), 2);
  float xa[8], ya[12], xb[8], yb[12];
  int seen[10] = {0}, sizes[3], nb = 0;
  int64_t n;
  while ((n = tl_loader_next(&a, xa, ya)) > 0) {
    cr_assert_eq(tl_loader_next(&b, xb, yb) > 0 || nb == 2, 1);
    if (nb < 2)
      cr_assert_eq(memcmp(xa, xb, sizeof xa), 0, "same seed, same batches");
    sizes[nb++] = (int)n;
    for (int64_t i = 0; i < n; i++)
      seen[(int)xa[2 * i]]++;
  }
  cr_assert_eq(nb, 3);
  cr_assert_eq(sizes[2], 2);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(seen[i], 1);
  /* a new epoch reshuffles, deterministically */
  tl_loader_epoch(&a, 1);
  tl_loader_epoch(&b, 1);
  tl_loader_next(&a, xa, ya);
  tl_loader_next(&b, xb, yb);
  cr_assert_eq(memcmp(xa, xb, sizeof xa), 0);
  tl_loader_free(&a);
  tl_loader_free(&b);
  tl_dataset_free(d);
}

Test(data, split_and_slice) {
  tl_dataset *d = toy(20), *tr, *va, *s;
  cr_assert_eq(tl_dataset_split(d, 0.25, 3, &tr, &va, NULL), TL_OK);
  cr_assert_eq(tr->n, 15);
  cr_assert_eq(va->n, 5);
  int seen[20] = {0};
  for (int i = 0; i < 15; i++)
    seen[(int)tl_tensor_f32(tr->x)[2 * i]]++;
  for (int i = 0; i < 5; i++)
    seen[(int)tl_tensor_f32(va->x)[2 * i]]++;
  for (int i = 0; i < 20; i++)
    cr_assert_eq(seen[i], 1);
  cr_assert_eq(tl_dataset_slice(&s, d, 18, 2, NULL), TL_OK);
  cr_assert_eq(tl_tensor_f32(s->x)[0], 18.0f);
  tl_status st;
  tl_dataset *bad;
  cr_assert_eq(tl_dataset_slice(&bad, d, 18, 3, &st), TL_EARG);
  tl_dataset_free(s);
  tl_dataset_free(tr);
  tl_dataset_free(va);
  tl_dataset_free(d);
}

Test(data, normalize_and_flatten) {
  tl_dataset *d = toy(3);
  tl_transform ts[] = {{.kind = TL_TF_NORMALIZE, .mean = 1, .std = 2}, {.kind = TL_TF_FLATTEN}};
  cr_assert_eq(tl_transform_compose(d, ts, 2, NULL), TL_OK);
  cr_assert_eq(tl_tensor_f32(d->x)[2], 0.0f); /* (1 - 1) / 2 */
  cr_assert_eq(d->x->ndim, 2);
  tl_transform bad = {.kind = TL_TF_NORMALIZE, .std = 0};
  cr_assert_eq(tl_transform_apply(d, &bad, NULL), TL_EVALUE);
  tl_dataset_free(d);
}

Test(data, labeled_npy_and_tabular_csv_sources) {
  char dir[] = "/tmp/tl_data_XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char xp[256], yp[256], cp[256];
  snprintf(xp, sizeof xp, "%s/x.npy", dir);
  snprintf(yp, sizeof yp, "%s/y.npy", dir);
  snprintf(cp, sizeof cp, "%s/t.csv", dir);
  tl_tensor *x, *y;
  int64_t xs[] = {3, 2}, ys[] = {3};
  tl_tensor_new(&x, TL_F64, 2, xs, NULL);
  tl_tensor_new(&y, TL_U8, 1, ys, NULL);
  ((uint8_t *)y->data)[2] = 4;
  cr_assert_eq(tl_npy_write(xp, x, NULL, NULL), TL_OK);
  cr_assert_eq(tl_npy_write(yp, y, NULL, NULL), TL_OK);
  tl_dataset *d;
  cr_assert_eq(tl_dataset_load_labeled(&d, xp, yp, 0, NULL), TL_OK);
  cr_assert_eq(d->num_classes, 5);
  cr_assert_eq(d->x->dtype, TL_F32);
  tl_dataset_free(d);
  tl_status st;
  cr_assert_eq(tl_dataset_load_labeled(&d, xp, yp, 3, &st), TL_EVALUE);
  cr_assert(strstr(st.msg, "y.npy"), "%s", st.msg);
  FILE *f = fopen(cp, "w");
  fprintf(f, "a,b,target\n1,2,3\n4,5,6\n");
  fclose(f);
  cr_assert_eq(tl_dataset_load_tabular_csv(&d, cp, 1, NULL), TL_OK);
  cr_assert_eq(d->n, 2);
  cr_assert_eq(tl_tensor_f32(d->y)[1], 6.0f);
  cr_assert_eq(tl_tensor_f32(d->x)[1], 2.0f);
  tl_dataset_free(d);
  tl_tensor_free(x);
  tl_tensor_free(y);
  remove(xp), remove(yp), remove(cp), rmdir(dir);
}

Test(data, fashion_mnist_from_debian_package) {
  tl_dataset *d;
  tl_status st;
  tl_code rc = tl_dataset_load_mnist_idx(&d, "/usr/share/datasets/fashion-mnist", "t10k", &st);
  cr_assert_eq(rc, TL_OK, "%s (scripts/setup.sh installs dataset-fashion-mnist)", st.msg);
  cr_assert_eq(d->n, 10000);
  cr_assert_eq(d->x->ndim, 4);
  cr_assert_eq(d->x->shape[1], 1);
  cr_assert_eq(d->x->shape[2], 28);
  cr_assert_eq(d->num_classes, 10);
  float mx = 0;
  for (int64_t i = 0; i < d->x->numel; i++)
    mx = tl_tensor_f32(d->x)[i] > mx ? tl_tensor_f32(d->x)[i] : mx;
  cr_assert_eq(mx, 1.0f);
  tl_dataset_free(d);
  cr_assert_neq(tl_dataset_load_mnist_idx(&d, "/nonexistent", "t10k", &st), TL_OK);
}
