/* first_model.c - a first TorchLean program: define a small MLP, train it for three epochs on 6000
 * Fashion-MNIST images, and measure its accuracy on 2000 test images.  Without the dataset
 * (Debian package dataset-fashion-mnist) it trains on synthetic 2-D points instead.
 *
 *   cc first_model.c $(pkg-config --cflags --libs torchlean) && ./a.out [FASHION_MNIST_DIR]
 */
#include <stdio.h>

#include <torchlean/torchlean.h>

/* Synthetic stand-in: 600 points in [-1, 1]^2 in 3 classes by angle, with integer labels. */
static tl_code synthetic(tl_dataset **out, tl_status *st) {
  static int labels[600];
  int64_t shape[] = {600, 2};
  tl_tensor *x;
  tl_rng rng;
  tl_rng_init(&rng, 7);
  TL_TRY(tl_tensor_new(&x, TL_F32, 2, shape, st));
  float *p = tl_tensor_f32(x);
  for (int i = 0; i < 600; i++) {
    p[2 * i] = (float)(2 * tl_rng_uniform(&rng) - 1), p[2 * i + 1] = (float)(2 * tl_rng_uniform(&rng) - 1);
    labels[i] = p[2 * i] > 0 ? (p[2 * i + 1] > 0 ? 0 : 1) : 2;
  }
  return tl_dataset_from_labels(out, x, labels, 3, "synthetic", st); /* one-hot inside */
}

/* Training and test data: slices of Fashion-MNIST, or the synthetic set for both. */
static tl_code load(const char *dir, tl_dataset **train, tl_dataset **test, tl_status *st) {
  tl_dataset *all = NULL;
  if (tl_dataset_load_mnist_idx(&all, dir, "train", st) != TL_OK) {
    printf("(%s; training on synthetic data)\n", st->msg);
    TL_TRY(synthetic(train, st));
    return synthetic(test, st);
  }
  tl_code rc = tl_dataset_slice(train, all, 0, 6000, st);
  tl_dataset_free(all);
  if (rc == TL_OK && (rc = tl_dataset_load_mnist_idx(&all, dir, "t10k", st)) == TL_OK) {
    rc = tl_dataset_slice(test, all, 0, 2000, st);
    tl_dataset_free(all);
  }
  return rc;
}

int main(int argc, char **argv) {
  tl_status st;
  tl_dataset *train = NULL, *test = NULL;
  if (load(argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist", &train, &test, &st) != TL_OK)
    return fprintf(stderr, "first_model: %s\n", st.msg), 1;

  /* The model: flatten, Linear(in, 64), ReLU, Linear(64, classes).  One sample's shape is the
   * data's shape without its first (batch) dimension. */
  const tl_tensor *x = train->x;
  int64_t in = x->numel / x->shape[0], dims[] = {in, 64, train->num_classes};
  tl_model *m = tl_model_new(42);
  tl_module *layers[] = {tl_nn_flatten(m), tl_nn_mlp(m, 3, dims, TL_OP_RELU)};
  tl_model_set_root(m, tl_nn_sequential(m, 2, layers), x->ndim - 1, x->shape + 1);

  /* Training: Adam, three epochs in batches of 64, a line per epoch on stdout. */
  tl_trainer_config cfg = tl_trainer_config_default(TL_TASK_CLASSIFICATION);
  cfg.optim = tl_optim_adam(0.003);
  tl_train_options opts = tl_train_options_default();
  opts.console = stdout;
  opts.progress = 0, opts.epochs = 3;
  tl_trainer *t = NULL;
  tl_train_report rep;
  tl_eval_result ev = {0};
  int bad = tl_model_status(m, &st) || tl_trainer_new(&t, m, &cfg, &st) ||
            tl_trainer_train(t, train, &opts, &rep, &st) || tl_trainer_evaluate(t, test, &ev, &st);
  if (bad)
    fprintf(stderr, "first_model: %s\n", st.msg);
  else
    printf("loss %.3f -> %.3f in %.2f s; test accuracy %.1f%% on %lld samples\n", rep.loss_before,
           rep.loss_after, rep.seconds, 100 * ev.accuracy, (long long)ev.n);
  int ok = !bad && ev.accuracy > 0.6; /* far above chance (10% or 33%) after three epochs */
  tl_eval_result_free(&ev);
  tl_trainer_free(t);
  tl_model_free(m);
  tl_dataset_free(train);
  tl_dataset_free(test);
  return ok ? 0 : 1;
}
