/* cmd_evaluate.c - `torchlean evaluate MODEL` and `torchlean predict MODEL`: run a saved model
 * file over a dataset (test split by default): loss, accuracy and confusion matrix, or the
 * outputs written as an NPY file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "torchlean/model_file.h"

/* Run the batch-1 graph g on every sample of d; outputs into out (n, k).  Returns 0 on success. */
static int run_samples(tl_graph *g, const tl_dataset *d, const char *cmd, float **outputs, int64_t *k) {
  tl_status st;
  if (g->ninputs != 1 || g->noutputs < 1) {
    fprintf(stderr, "torchlean %s: the model must have one input and an output\n", cmd);
    return 2;
  }
  const tl_node *in = &g->nodes[g->inputs[0]];
  int64_t row = d->n ? d->x->numel / d->n : 0;
  if (in->numel != row || (in->ndim > 0 && in->shape[0] != 1)) {
    char a[128];
    fprintf(stderr, "torchlean %s: the model takes input %s (batch 1), but samples of %s have %lld values\n",
            cmd, tl_shape_str(in->ndim, in->shape, a, sizeof a), d->name, (long long)row);
    return 2;
  }
  int out_id = g->outputs[0];
  *k = g->nodes[out_id].numel;
  *outputs = malloc((size_t)(d->n * *k + 1) * sizeof(float));
  tl_exec *e = NULL;
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = TL_COMPILED;
  if (!*outputs || tl_exec_new(&e, g, &o, &st) != TL_OK || tl_exec_plan(e, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", cmd, *outputs ? st.msg : "out of memory");
    tl_exec_free(e);
    return 1;
  }
  for (int64_t i = 0; i < d->n; i++) {
    if (tl_exec_set_input(e, g->inputs[0], tl_tensor_f32(d->x) + i * row, &st) != TL_OK ||
        tl_exec_forward(e, &st) != TL_OK) {
      fprintf(stderr, "torchlean %s: sample %lld: %s\n", cmd, (long long)i, st.msg);
      tl_exec_free(e);
      return 1;
    }
    memcpy(*outputs + i * *k, tl_exec_value(e, out_id), (size_t)*k * sizeof(float));
  }
  tl_exec_free(e);
  return 0;
}

static int load(const tl_cli *cli, tl_graph **g, tl_dataset **d) {
  tl_status st;
  if (tl_model_load(cli->pos[0], g, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", cli->command, st.msg);
    return 2;
  }
  const char *data = tl_cli_get(cli, "data") ? tl_cli_get(cli, "data") : TL_DEFAULT_DATA_DIR;
  /* predict needs no labels: it also takes one NPY or IDX file of inputs */
  *d = strcmp(cli->command, "predict") == 0 ? tl_cli_load_inputs(data, cli->command)
                                            : tl_cli_load_data(data, "t10k", cli->command);
  return *d ? 0 : 2;
}

static int run_evaluate(const tl_cli *cli) {
  tl_graph *g = NULL;
  tl_dataset *d = NULL;
  float *out = NULL;
  int64_t k = 0;
  int rc = load(cli, &g, &d);
  if (rc == 0)
    rc = run_samples(g, d, "evaluate", &out, &k);
  if (rc == 0 && d->num_classes != k) {
    fprintf(stderr, "torchlean evaluate: the model has %lld outputs but the data has %d classes\n",
            (long long)k, d->num_classes);
    rc = 2;
  }
  if (rc == 0) {
    int64_t correct = 0, *conf = calloc((size_t)(k * k), sizeof *conf);
    double loss = 0;
    for (int64_t i = 0; conf && i < d->n; i++) {
      const float *o = out + i * k;
      int truth = tl_dataset_label(d, i), pred = 0;
      double mx = o[0], s = 0;
      for (int j = 1; j < k; j++) {
        if (o[j] > o[pred])
          pred = j;
        mx = fmax(mx, o[j]);
      }
      for (int j = 0; j < k; j++)
        s += exp(o[j] - mx);
      loss += -(o[truth] - mx - log(s)); /* softmax cross entropy, in double */
      correct += pred == truth;
      conf[truth * k + pred]++;
    }
    printf("samples=%lld loss=%.6f accuracy=%.4f\nconfusion (rows: true class, columns: predicted):\n",
           (long long)d->n, loss / (double)d->n, (double)correct / (double)d->n);
    for (int64_t r = 0; conf && r < k; r++) {
      for (int64_t c = 0; c < k; c++)
        printf("%6lld", (long long)conf[r * k + c]);
      printf("\n");
    }
    free(conf);
  }
  free(out);
  tl_dataset_free(d);
  tl_graph_free(g);
  return rc;
}

static int run_predict(const tl_cli *cli) {
  const char *path = tl_cli_get(cli, "out");
  if (!path)
    return tl_cli_usage_error(cli, "--out FILE.npy is required");
  const char *data = tl_cli_get(cli, "data") ? tl_cli_get(cli, "data") : TL_DEFAULT_DATA_DIR;
  if (!tl_cli_check_output(cli, "out", path, cli->pos[0], data))
    return 2;
  tl_graph *g = NULL;
  tl_dataset *d = NULL;
  float *out = NULL;
  int64_t k = 0;
  int rc = load(cli, &g, &d);
  if (rc == 0)
    rc = run_samples(g, d, "predict", &out, &k);
  if (rc == 0) {
    tl_tensor *t = NULL;
    tl_status st;
    int64_t shape[] = {d->n, k};
    if (tl_tensor_from(&t, TL_F32, 2, shape, out, &st) != TL_OK ||
        tl_npy_write(path, t, NULL, &st) != TL_OK) {
      fprintf(stderr, "torchlean predict: %s\n", st.msg);
      rc = 1;
    } else {
      printf("wrote %s: float32 [%lld, %lld]\n", path, (long long)d->n, (long long)k);
    }
    tl_tensor_free(t);
  }
  free(out);
  tl_dataset_free(d);
  tl_graph_free(g);
  return rc;
}

static const tl_cli_flag eval_flags[] = {
    {"data", "SPEC",
     "IDX folder (t10k split), X,Y files (uint8 pixels / 255), or CSV [" TL_DEFAULT_DATA_DIR "]"},
    {NULL, NULL, NULL},
};
static const tl_cli_flag predict_flags[] = {
    {"data", "SPEC",
     "IDX folder (t10k split), X,Y files, a CSV, or one NPY/IDX file of inputs without labels (uint8 "
     "pixels / 255) [" TL_DEFAULT_DATA_DIR "]"},
    {"out", "FILE", "NPY file for the outputs (N, K)"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_evaluate = {
    "evaluate", "MODEL",     "loss, accuracy and confusion matrix of a model file", 1, 1,
    eval_flags, run_evaluate};
const tl_cli_command tl_cmd_predict = {
    "predict",     "MODEL",    "write a model's outputs on a dataset to an NPY file", 1, 1,
    predict_flags, run_predict};
