/* cmd_train.c - `torchlean train`: train a classifier (Fashion-MNIST by default), evaluate it on
 * the test split and save the model file. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "torchlean/model_file.h"

static void print_eval(const tl_eval_result *r, const char *what) {
  printf("%s: samples=%lld loss=%.6f accuracy=%.4f\n", what, (long long)r->n, r->loss, r->accuracy);
}

static int run(const tl_cli *cli) {
  tl_cli_train_flags f;
  tl_trainer_config cfg;
  if (!tl_cli_parse_train_flags(cli, &f) || !tl_cli_trainer_config(cli, &f, &cfg))
    return 2;
  tl_dataset *train = tl_cli_load_data(f.data, "train", "train"), *test = NULL;
  if (!train)
    return 2;
  struct stat s;
  int is_idx_dir = stat(f.data, &s) == 0 && S_ISDIR(s.st_mode);
  tl_status st;
  int rc = 1;
  tl_model *m = NULL;
  tl_trainer *t = NULL;
  if (is_idx_dir) {
    test = tl_cli_load_data(f.data, "t10k", "train");
    if (!test)
      goto done;
  } else {
    tl_dataset *tr, *va;
    if (tl_dataset_split(train, 0.1, (uint64_t)f.seed, &tr, &va, &st) != TL_OK) {
      fprintf(stderr, "torchlean train: %s\n", st.msg);
      goto done;
    }
    tl_dataset_free(train);
    train = tr, test = va;
  }
  m = tl_cli_make_model(f.model, (uint64_t)f.seed, train, "train");
  if (!m) { /* the model does not fit the data (said on stderr): bad input */
    rc = 2;
    goto done;
  }
  printf("model %s, %s backend, optimizer %s lr %g, batch %lld, %s\n", f.model, f.backend,
         tl_optim_name(cfg.optim.kind), cfg.optim.lr, f.batch, f.steps ? "steps budget" : "epochs budget");
  if (tl_model_summary(m, 1, stdout, &st) != TL_OK || tl_trainer_new(&t, m, &cfg, &st) != TL_OK) {
    fprintf(stderr, "torchlean train: %s\n", st.msg);
    goto done;
  }
  tl_train_options o = tl_train_options_default();
  o.steps = f.steps;
  o.epochs = f.epochs;
  o.batch_size = f.batch;
  o.log_every = 100;
  o.log_path = f.log;
  o.console = stdout;
  tl_train_report rep;
  if (tl_trainer_train(t, train, &o, &rep, &st) != TL_OK) {
    fprintf(stderr, "torchlean train: %s\n", st.msg);
    goto done;
  }
  printf("train time %.2f s (%.0f samples/s)\n", rep.seconds, rep.samples_per_second);
  tl_eval_result r;
  if (tl_trainer_evaluate(t, test, &r, &st) != TL_OK) {
    fprintf(stderr, "torchlean train: %s\n", st.msg);
    goto done;
  }
  print_eval(&r, is_idx_dir ? "test" : "validation");
  tl_eval_result_free(&r);
  if (f.out) {
    tl_graph *g;
    if (tl_model_trace(m, 1, &g, &st) != TL_OK || tl_model_save(f.out, g, &st) != TL_OK) {
      fprintf(stderr, "torchlean train: %s\n", st.msg);
      tl_graph_free(g);
      goto done;
    }
    tl_graph_free(g);
    printf("saved %s\n", f.out);
  }
  rc = 0;
done:
  tl_trainer_free(t);
  tl_model_free(m);
  tl_dataset_free(train);
  tl_dataset_free(test);
  return rc;
}

static const tl_cli_flag flags[] = {
    {"model", "NAME", "mlp (784-128-10), cnn, resnet, resnet18, transformer (image rows as tokens) [mlp]"},
    {"data", "SPEC",
     "IDX folder, X,Y files (NPY/IDX/CSV by content; uint8 pixels / 255), or CSV with a label column "
     "[" TL_DEFAULT_DATA_DIR "]"},
    {"epochs", "N", "passes over the data [1]"},
    {"steps", "N", "optimizer updates (instead of --epochs)"},
    {"batch-size", "N", "samples per update [64]"},
    {"optimizer", "NAME", "sgd, adagrad, rmsprop, adam, adamw, adadelta [adam]"},
    {"lr", "F", "learning rate [adam: 1e-3 mlp, 2e-3 others; sgd: 0.05]"},
    {"backend", "MODE", "eager or compiled [compiled]"},
    {"device", "DEV", "cpu or cuda [cpu]"},
    {"seed", "N", "seed of initialisation, shuffling and dropout [0]"},
    {"out", "MODEL", "write the trained model file (safetensors + graph)"},
    {"log", "PATH", "write a JSON train log"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_train = {
    "train", NULL, "train a classifier and evaluate it on the test split", 0, 0, flags, run};
