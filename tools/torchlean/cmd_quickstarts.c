/* cmd_quickstarts.c - `quickstart_autograd`, `quickstart_mlp`, `quickstart_cnn`: short tours of
 * autograd and of training with the same model code in eager and compiled modes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static int fail(const char *cmd, const tl_status *st) {
  fprintf(stderr, "torchlean %s: %s\n", cmd, st->msg);
  return 1;
}

/* f(x) = sum(tanh(W x + b)^2) for a 3 -> 2 layer: gradient, VJP, Jacobian and a JVP, with a
 * central-difference check of the gradient. */
static int run_autograd(const tl_cli *cli) {
  tl_status st;
  tl_graph *g = tl_graph_new();
  float w[] = {0.5f, -1.0f, 0.25f, 2.0f, 0.75f, -0.5f}, b[] = {0.1f, -0.2f}, x0[] = {1.0f, 0.5f, -1.5f};
  int64_t ws[] = {2, 3}, bs[] = {2}, xs[] = {3};
  int wi, bi;
  if (!g || tl_graph_param(g, "weight", TL_PARAM_TRAINABLE, 2, ws, w, &wi, &st) ||
      tl_graph_param(g, "bias", TL_PARAM_TRAINABLE, 1, bs, b, &bi, &st)) {
    tl_graph_free(g);
    return fail("quickstart_autograd", &st);
  }
  tl_exec *e = NULL;
  tl_exec_opts o = tl_exec_opts_default();
  int rc = 1;
  if (tl_exec_new(&e, g, &o, &st) != TL_OK) {
    tl_graph_free(g);
    return fail("quickstart_autograd", &st);
  }
  tl_ctx c;
  tl_ctx_init(&c, g, e); /* eager: every op runs as it is written */
  int x = tl_input(&c, "x", 1, xs);
  if (c.err == TL_OK)
    c.err = tl_exec_set_input(e, x, x0, &c.st);
  int h = tl_unary(&c, TL_OP_TANH, tl_linear(&c, x, wi, bi));
  int f = tl_op_node(&c, TL_OP_SUM, 1, (int[]){tl_mul(&c, h, h)}, NULL);
  float jac[6], jv[2], v[3] = {1, 0, 0};
  if (c.err != TL_OK || tl_exec_backward(e, f, NULL, &st) != TL_OK) {
    fail("quickstart_autograd", c.err ? &c.st : &st);
    goto done;
  }
  printf("x = [%g, %g, %g]\nh = tanh(W x + b) = [%.6f, %.6f]\nf = sum(h^2) = %.6f\n", x0[0], x0[1], x0[2],
         tl_exec_value(e, h)[0], tl_exec_value(e, h)[1], tl_exec_value(e, f)[0]);
  const float *gx = tl_exec_grad(e, x), *gw = tl_exec_grad(e, wi);
  printf("df/dx = [%.6f, %.6f, %.6f]\n", gx[0], gx[1], gx[2]);
  printf("df/dW = [[%.6f, %.6f, %.6f], [%.6f, %.6f, %.6f]]\n", gw[0], gw[1], gw[2], gw[3], gw[4], gw[5]);
  /* central differences in double for df/dx */
  double maxerr = 0;
  for (int i = 0; i < 3; i++) {
    double fp = 0, fm = 0;
    for (int s = -1; s <= 1; s += 2) {
      double xx[3] = {x0[0], x0[1], x0[2]}, acc = 0;
      xx[i] += s * 1e-4;
      for (int r = 0; r < 2; r++) {
        double z = b[r];
        for (int k = 0; k < 3; k++)
          z += w[r * 3 + k] * xx[k];
        acc += tanh(z) * tanh(z);
      }
      *(s < 0 ? &fm : &fp) = acc;
    }
    maxerr = fmax(maxerr, fabs((fp - fm) / 2e-4 - gx[i]));
  }
  printf("max |df/dx - central difference| = %.2e\n", maxerr);
  if (tl_autograd_jacobian(e, h, x, jac, &st) != TL_OK || tl_autograd_jvp(e, x, v, h, jv, &st) != TL_OK) {
    fail("quickstart_autograd", &st);
    goto done;
  }
  printf("dh/dx (Jacobian) = [[%.6f, %.6f, %.6f], [%.6f, %.6f, %.6f]]\n", jac[0], jac[1], jac[2], jac[3],
         jac[4], jac[5]);
  printf("JVP dh/dx . e1 = [%.6f, %.6f] (first Jacobian column)\n", jv[0], jv[1]);
  rc = 0;
done:
  tl_exec_free(e);
  tl_graph_free(g);
  return rc;
}

/* 2 -> 8 -> 1 regression of y = x0 x1 on a 5 x 5 grid of [-1, 1]^2; Adam 0.03, 200 steps. */
static int run_mlp(const tl_cli *cli) {
  tl_cli_train_flags f;
  tl_trainer_config cfg;
  if (!tl_cli_parse_train_flags(cli, &f) || !tl_cli_trainer_config(cli, &f, &cfg))
    return 2;
  tl_status st;
  tl_tensor *x = NULL, *y = NULL;
  int64_t xs[] = {25, 2}, ys[] = {25, 1};
  if (tl_tensor_new(&x, TL_F32, 2, xs, &st) || tl_tensor_new(&y, TL_F32, 2, ys, &st)) {
    tl_tensor_free(x);
    return fail("quickstart_mlp", &st);
  }
  for (int i = 0; i < 25; i++) {
    float a = -1.0f + 0.5f * (float)(i / 5), b = -1.0f + 0.5f * (float)(i % 5);
    tl_tensor_f32(x)[2 * i] = a, tl_tensor_f32(x)[2 * i + 1] = b;
    tl_tensor_f32(y)[i] = a * b;
  }
  tl_dataset *d;
  if (tl_dataset_from_tensors(&d, x, y, "grid 5x5", &st) != TL_OK)
    return fail("quickstart_mlp", &st);
  tl_model *m = tl_model_new((uint64_t)f.seed);
  int64_t dims[] = {2, 8, 1}, in[] = {2};
  tl_module *root = m ? tl_nn_mlp(m, 3, dims, TL_OP_TANH) : NULL;
  if (m)
    tl_model_set_root(m, root, 1, in);
  cfg = tl_trainer_config_default(TL_TASK_REGRESSION);
  cfg.optim = tl_optim_adam(f.lr > 0 ? f.lr : 0.03);
  cfg.backend = strcmp(f.backend, "eager") == 0 ? TL_EAGER : TL_COMPILED;
  cfg.seed = (uint64_t)f.seed;
  tl_trainer *t = NULL;
  int rc = 1;
  if (!m || tl_model_status(m, &st) != TL_OK || tl_model_summary(m, 25, stdout, &st) != TL_OK ||
      tl_trainer_new(&t, m, &cfg, &st) != TL_OK) {
    fail("quickstart_mlp", &st);
    goto done;
  }
  tl_train_options o = tl_train_options_default();
  o.steps = f.steps ? f.steps : 200;
  o.batch_size = 25;
  o.shuffle = 0;
  o.log_every = 25;
  o.console = stdout;
  o.progress = 0;
  o.log_path = f.log;
  tl_train_report rep;
  if (tl_trainer_train(t, d, &o, &rep, &st) != TL_OK) {
    fail("quickstart_mlp", &st);
    goto done;
  }
  rc = 0;
done:
  tl_trainer_free(t);
  tl_model_free(m);
  tl_dataset_free(d);
  return rc;
}

/* The small CNN on the first 6000 Fashion-MNIST training images, one epoch, then 1000 test images. */
static int run_cnn(const tl_cli *cli) {
  tl_cli_train_flags f;
  tl_trainer_config cfg;
  if (!tl_cli_parse_train_flags(cli, &f) || !tl_cli_trainer_config(cli, &f, &cfg))
    return 2;
  tl_dataset *full = tl_cli_load_data(f.data, "train", "quickstart_cnn"), *test_full = NULL;
  tl_dataset *train = NULL, *test = NULL;
  tl_model *m = NULL;
  tl_trainer *t = NULL;
  tl_status st;
  int rc = 1;
  if (!full || !(test_full = tl_cli_load_data(f.data, "t10k", "quickstart_cnn")))
    goto done;
  if (tl_dataset_slice(&train, full, 0, full->n < 6000 ? full->n : 6000, &st) != TL_OK ||
      tl_dataset_slice(&test, test_full, 0, test_full->n < 1000 ? test_full->n : 1000, &st) != TL_OK) {
    fail("quickstart_cnn", &st);
    goto done;
  }
  m = tl_cli_make_model("cnn", (uint64_t)f.seed, train, "quickstart_cnn");
  if (!m || tl_model_summary(m, 1, stdout, &st) != TL_OK || tl_trainer_new(&t, m, &cfg, &st) != TL_OK) {
    if (m)
      fail("quickstart_cnn", &st);
    goto done;
  }
  tl_train_options o = tl_train_options_default();
  o.steps = f.steps;
  o.epochs = f.epochs;
  o.batch_size = f.batch;
  o.log_every = 20;
  o.console = stdout;
  o.log_path = f.log;
  tl_train_report rep;
  tl_eval_result r;
  if (tl_trainer_train(t, train, &o, &rep, &st) != TL_OK || tl_trainer_evaluate(t, test, &r, &st) != TL_OK) {
    fail("quickstart_cnn", &st);
    goto done;
  }
  printf("test (first %lld images): loss=%.4f accuracy=%.4f\n", (long long)r.n, r.loss, r.accuracy);
  tl_eval_result_free(&r);
  rc = 0;
done:
  tl_trainer_free(t);
  tl_model_free(m);
  tl_dataset_free(full);
  tl_dataset_free(test_full);
  tl_dataset_free(train);
  tl_dataset_free(test);
  return rc;
}

static const tl_cli_flag no_flags[] = {{NULL, NULL, NULL}};
static const tl_cli_flag train_flags[] = {
    {"steps", "N", "optimizer updates"},
    {"epochs", "N", "passes over the data [1]"},
    {"batch-size", "N", "samples per update [64]"},
    {"optimizer", "NAME", "sgd, adagrad, rmsprop, adam, adamw, adadelta [adam]"},
    {"lr", "F", "learning rate"},
    {"backend", "MODE", "eager or compiled [compiled]"},
    {"device", "DEV", "cpu or cuda [cpu]"},
    {"seed", "N", "random seed [0]"},
    {"data", "SPEC", "data (quickstart_cnn) [" TL_DEFAULT_DATA_DIR "]"},
    {"log", "PATH", "write a JSON train log"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_quickstart_autograd = {
    "quickstart_autograd",
    NULL,
    "gradients, Jacobian and JVP of a small function, checked numerically",
    0,
    0,
    no_flags,
    run_autograd};
const tl_cli_command tl_cmd_quickstart_mlp = {
    "quickstart_mlp", NULL,   "2-8-1 regression on a 5x5 grid (Adam 0.03, 200 steps)", 0, 0,
    train_flags,      run_mlp};
const tl_cli_command tl_cmd_quickstart_cnn = {
    "quickstart_cnn", NULL,   "the small CNN on 6000 Fashion-MNIST images, tested on 1000", 0, 0,
    train_flags,      run_cnn};
