/* common.c - data arguments, model choice and training flags shared by the runner's commands. */
#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

/* one CSV whose last column is the integer class label */
static tl_code load_csv_labeled(const char *spec, tl_dataset **d, tl_status *st) {
  tl_csv_opts o = {.delimiter = ',', .header = -1, .dtype = TL_F32};
  tl_tensor *t = NULL;
  tl_code rc = tl_csv_read(spec, &o, &t, NULL, st);
  if (rc == TL_OK) {
    int64_t rows = t->shape[0], cols = t->shape[1];
    tl_tensor *x = NULL, *y = NULL;
    int64_t xs[] = {rows, cols - 1}, ys[] = {rows};
    if (cols < 2)
      rc = tl_fail(st, TL_ESHAPE, "%s: needs at least one feature column and a label column", spec);
    if (rc == TL_OK)
      rc = tl_tensor_new(&x, TL_F32, 2, xs, st);
    if (rc == TL_OK)
      rc = tl_tensor_new(&y, TL_F32, 1, ys, st);
    if (rc == TL_OK) {
      for (int64_t r = 0; r < rows; r++) {
        memcpy(tl_tensor_f32(x) + r * (cols - 1), tl_tensor_f32(t) + r * cols,
               (size_t)(cols - 1) * sizeof(float));
        tl_tensor_f32(y)[r] = tl_tensor_f32(t)[r * cols + cols - 1];
      }
      rc = tl_dataset_from_tensors(d, x, y, spec, st);
      x = y = NULL;
    }
    if (rc == TL_OK) {
      tl_transform oh = {.kind = TL_TF_ONE_HOT};
      rc = tl_transform_apply(*d, &oh, st);
    }
    tl_tensor_free(x);
    tl_tensor_free(y);
  }
  tl_tensor_free(t);
  return rc;
}

/* every input value finite (a NaN or infinity would poison training and every bound): else an error
 * naming the sample (0-based, as everywhere in the runner) and the feature */
static tl_code check_finite(const tl_dataset *d, const char *spec, tl_status *st) {
  int64_t row = d->n ? d->x->numel / d->n : 0;
  const float *x = tl_tensor_f32(d->x);
  for (int64_t i = 0; i < d->x->numel; i++)
    if (!isfinite(x[i]))
      return tl_fail(st, TL_EVALUE, "%s: sample %lld, feature %lld: %g is not a finite number", spec,
                     (long long)(i / row), (long long)(i % row), (double)x[i]);
  return TL_OK;
}

tl_dataset *tl_cli_load_data(const char *spec, const char *split, const char *cmd) {
  tl_status st;
  tl_dataset *d = NULL;
  tl_code rc;
  const char *comma = strchr(spec, ',');
  if (is_dir(spec)) {
    rc = tl_dataset_load_mnist_idx(&d, spec, split, &st);
  } else if (comma) {
    char x[1024];
    snprintf(x, sizeof x, "%.*s", (int)(comma - spec), spec);
    rc = tl_dataset_load_labeled(&d, x, comma + 1, 0, &st);
  } else if (tl_file_format_guess(spec) == TL_FORMAT_NPY || tl_file_format_guess(spec) == TL_FORMAT_IDX) {
    rc = tl_fail(&st, TL_EARG,
                 "%s: an NPY or IDX file holds no labels: give X,Y (inputs and labels) or a CSV whose last "
                 "column is the label",
                 spec);
  } else {
    rc = load_csv_labeled(spec, &d, &st);
  }
  if (rc == TL_OK)
    rc = check_finite(d, spec, &st);
  if (rc != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", cmd, st.msg);
    tl_dataset_free(d);
    return NULL;
  }
  return d;
}

tl_dataset *tl_cli_load_inputs(const char *spec, const char *cmd) {
  tl_file_format f = strchr(spec, ',') || is_dir(spec) ? TL_FORMAT_UNKNOWN : tl_file_format_guess(spec);
  if (f != TL_FORMAT_NPY && f != TL_FORMAT_IDX)
    return tl_cli_load_data(spec, "t10k", cmd);
  tl_status st;
  tl_tensor *x = NULL, *y = NULL;
  tl_dataset *d = NULL;
  tl_code rc = tl_tensor_load(spec, &x, &st);
  if (rc == TL_OK)
    rc = tl_tensor_pixels_to_f32(&x, &st);
  if (rc == TL_OK && x->ndim < 1)
    rc = tl_fail(&st, TL_ESHAPE, "%s: inputs need a first (sample) dimension", spec);
  if (rc == TL_OK)
    rc = tl_tensor_new(&y, TL_F32, 1, x->shape, &st); /* no labels: zeros, never read */
  if (rc == TL_OK) {
    rc = tl_dataset_from_tensors(&d, x, y, spec, &st);
    x = y = NULL;
  }
  tl_tensor_free(x), tl_tensor_free(y);
  if (rc == TL_OK)
    rc = check_finite(d, spec, &st);
  if (rc != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", cmd, st.msg);
    tl_dataset_free(d);
    return NULL;
  }
  return d;
}

tl_model *tl_cli_make_model(const char *name, uint64_t seed, const tl_dataset *d, const char *cmd) {
  int ndim = d->x->ndim - 1, classes = d->num_classes;
  const int64_t *shape = d->x->shape + 1;
  /* normalise inside the graph with the training data's mean and standard deviation */
  double sum = 0, sq = 0, norm[2];
  const float *x = tl_tensor_f32(d->x);
  for (int64_t i = 0; i < d->x->numel; i++)
    sum += x[i], sq += (double)x[i] * x[i];
  norm[0] = d->x->numel ? sum / (double)d->x->numel : 0;
  norm[1] = d->x->numel ? sqrt(fmax(sq / (double)d->x->numel - norm[0] * norm[0], 0)) : 1;
  if (!(norm[1] > 1e-12))
    norm[1] = 1;
  tl_model *m = NULL;
  int64_t hidden[] = {128};
  if (strcmp(name, "mlp") == 0)
    m = tl_zoo_mlp(seed, ndim, shape, 1, hidden, classes, norm);
  else if (strcmp(name, "cnn") == 0 || strcmp(name, "resnet") == 0 || strcmp(name, "resnet18") == 0) {
    if (ndim != 3 || shape[1] != shape[2]) {
      fprintf(stderr, "torchlean %s: --model %s needs square image samples (C, H, W)\n", cmd, name);
      return NULL;
    }
    if (name[0] == 'c')
      m = tl_zoo_cnn(seed, shape[0], shape[1], classes, norm);
    else
      m = tl_zoo_resnet(seed, strcmp(name, "resnet") == 0 ? "small" : "resnet18", shape[0], shape[1],
                        classes);
  } else if (strcmp(name, "transformer") == 0) { /* image rows as tokens (token ids: C API) */
    if (ndim != 3) {
      fprintf(stderr, "torchlean %s: --model transformer needs image samples (C, H, W), read row by row\n",
              cmd);
      return NULL;
    }
    m = tl_zoo_row_transformer(seed, shape[0], shape[1], shape[2], 64, 4, 128, 2, classes, norm);
  } else {
    fprintf(stderr, "torchlean %s: unknown --model '%s' (mlp, cnn, resnet, resnet18, transformer)\n", cmd,
            name);
    return NULL;
  }
  tl_status st;
  if (!m || tl_model_status(m, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", cmd, m ? st.msg : "out of memory");
    tl_model_free(m);
    return NULL;
  }
  return m;
}

int tl_cli_parse_train_flags(const tl_cli *cli, tl_cli_train_flags *f) {
  memset(f, 0, sizeof *f);
  f->epochs = 1;
  f->batch = 64;
  f->lr = -1;
  f->optimizer = tl_cli_get(cli, "optimizer") ? tl_cli_get(cli, "optimizer") : "adam";
  f->model = tl_cli_get(cli, "model") ? tl_cli_get(cli, "model") : "mlp";
  f->data = tl_cli_get(cli, "data") ? tl_cli_get(cli, "data") : TL_DEFAULT_DATA_DIR;
  f->out = tl_cli_get(cli, "out");
  f->log = tl_cli_get(cli, "log");
  f->backend = tl_cli_get(cli, "backend") ? tl_cli_get(cli, "backend") : "compiled";
  f->device = tl_cli_get(cli, "device") ? tl_cli_get(cli, "device") : "cpu";
  if (!tl_cli_long(cli, "seed", 0, INT64_MAX, &f->seed) ||
      !tl_cli_long(cli, "steps", 1, INT64_MAX, &f->steps) ||
      !tl_cli_long(cli, "epochs", 1, 100000, &f->epochs) ||
      !tl_cli_long(cli, "batch-size", 1, 1 << 20, &f->batch) || !tl_cli_double(cli, "lr", &f->lr))
    return 0;
  if (tl_cli_get(cli, "steps") && tl_cli_get(cli, "epochs")) {
    tl_cli_usage_error(cli, "give --epochs N or --steps N, not both");
    return 0;
  }
  if (tl_cli_get(cli, "lr") && !(f->lr > 0)) {
    tl_cli_usage_error(cli, "--lr must be > 0");
    return 0;
  }
  return tl_cli_check_output(cli, "out", f->out, NULL, f->data) &&
         tl_cli_check_output(cli, "log", f->log, NULL, f->data);
}

int tl_cli_trainer_config(const tl_cli *cli, const tl_cli_train_flags *f, tl_trainer_config *cfg) {
  *cfg = tl_trainer_config_default(TL_TASK_CLASSIFICATION);
  /* defaults measured on Fashion-MNIST: Adam 1e-3 for the MLP, 2e-3 for convolutional models */
  double lr = f->lr > 0                          ? f->lr
              : strcmp(f->optimizer, "sgd") == 0 ? 0.05
              : strcmp(f->model, "mlp") == 0     ? 1e-3
                                                 : 2e-3;
  if (tl_optim_parse(f->optimizer, lr, &cfg->optim) < 0) {
    tl_cli_usage_error(cli, "unknown --optimizer '%s' (sgd, adagrad, rmsprop, adam, adamw, adadelta)",
                       f->optimizer);
    return 0;
  }
  if (strcmp(f->optimizer, "sgd") == 0)
    cfg->optim.momentum = 0.9;
  if (strcmp(f->backend, "eager") == 0)
    cfg->backend = TL_EAGER;
  else if (strcmp(f->backend, "compiled") == 0)
    cfg->backend = TL_COMPILED;
  else {
    tl_cli_usage_error(cli, "--backend must be eager or compiled, not '%s'", f->backend);
    return 0;
  }
  if (strcmp(f->device, "cpu") == 0)
    cfg->device = TL_DEVICE_CPU;
  else if (strcmp(f->device, "cuda") == 0)
    cfg->device = TL_DEVICE_CUDA;
  else {
    tl_cli_usage_error(cli, "--device must be cpu or cuda, not '%s'", f->device);
    return 0;
  }
  cfg->seed = (uint64_t)f->seed;
  return 1;
}

/* the same file (device and inode) when both exist, else the same name */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  return strcmp(a, b) == 0;
}

/* the input among model and the comma-separated data files that is the file at path, or NULL */
static const char *input_named(const char *path, const char *model, const char *data, char *buf, size_t cap) {
  if (model && same_file(path, model))
    return model;
  while (data && *data) {
    size_t n = strcspn(data, ",");
    snprintf(buf, cap, "%.*s", (int)n, data);
    if (same_file(path, buf))
      return buf;
    data += n + (data[n] == ',');
  }
  return NULL;
}

int tl_cli_check_output(const tl_cli *cli, const char *flag, const char *path, const char *model,
                        const char *data) {
  if (!path)
    return 1;
  struct stat sb;
  if (!*path || (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))) {
    tl_cli_usage_error(cli, "--%s '%s': not a file name", flag, path);
    return 0;
  }
  char dir[4096], in[4096];
  const char *slash = strrchr(path, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    tl_cli_usage_error(cli, "--%s '%s': folder '%s' does not exist", flag, path, dir);
    return 0;
  }
  if (access(dir, W_OK) != 0) {
    tl_cli_usage_error(cli, "--%s '%s': folder '%s' is not writable", flag, path, dir);
    return 0;
  }
  const char *clash = input_named(path, model, data, in, sizeof in);
  if (clash) {
    tl_cli_usage_error(cli, "--%s '%s' is also an input (%s): refusing to overwrite it", flag, path, clash);
    return 0;
  }
  return 1;
}
