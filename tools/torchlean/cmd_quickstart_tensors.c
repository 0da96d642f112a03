/* cmd_quickstart_tensors.c - `torchlean quickstart_tensors`: a first tour of tensors and rand. */
#include <stdio.h>

#include "cli.h"
#include "torchlean/torchlean.h"

static void print_tensor(const char *name, const tl_tensor *t) {
  char shape[64];
  printf("%s: %s %s = [", name, tl_dtype_name(t->dtype),
         tl_shape_str(t->ndim, t->shape, shape, sizeof shape));
  for (int64_t i = 0; i < t->numel; i++)
    printf(i ? ", %.6g" : "%.6g", tl_tensor_get(t, i));
  printf("]\n");
}

static int run(const tl_cli *cli) {
  long long seed = 0;
  if (!tl_cli_long(cli, "seed", 0, INT64_MAX, &seed))
    return 2;
  tl_status st;
  tl_tensor *x = NULL, *v = NULL, *n = NULL;
  int64_t shape[] = {2, 3}, flat[] = {6};
  float vals[] = {1, 2, 3, 4, 5, 6};
  int rc = 1;
  if (tl_tensor_from(&x, TL_F32, 2, shape, vals, &st) || tl_tensor_reshape(&v, x, 1, flat, &st) ||
      tl_tensor_new(&n, TL_F32, 2, shape, &st)) {
    fprintf(stderr, "torchlean quickstart_tensors: %s\n", st.msg);
    goto done;
  }
  print_tensor("x", x);
  print_tensor("x.reshape(6)", v);
  tl_rng r;
  tl_rng_init(&r, (uint64_t)seed);
  tl_rand_fill_normal(&r, n, 0.0, 1.0);
  printf("seed = %lld\n", seed);
  print_tensor("randn(2, 3)", n);
  int64_t perm[6];
  tl_rand_permutation(&r, perm, 6);
  printf("randperm(6) = [%lld, %lld, %lld, %lld, %lld, %lld]\n", (long long)perm[0], (long long)perm[1],
         (long long)perm[2], (long long)perm[3], (long long)perm[4], (long long)perm[5]);
  rc = 0;
done:
  tl_tensor_free(x);
  tl_tensor_free(v);
  tl_tensor_free(n);
  return rc;
}

static const tl_cli_flag flags[] = {
    {"seed", "N", "random seed (default 0)"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_quickstart_tensors = {
    "quickstart_tensors", NULL, "create, reshape and randomly fill tensors", 0, 0, flags, run,
};
