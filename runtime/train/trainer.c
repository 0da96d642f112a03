/* train/trainer.c - the training loop: batches through eager or compiled execution, optimizer and
 * scheduler updates, validation, callbacks, console progress and the JSON train log. */
#define _POSIX_C_SOURCE 200809L
#include "train/trainer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

tl_trainer_config tl_trainer_config_default(tl_task task) {
  tl_trainer_config c;
  memset(&c, 0, sizeof c);
  c.task = task;
  c.optim = tl_optim_sgd(0.01, 0);
  c.sched.kind = TL_SCHED_CONSTANT;
  c.backend = TL_EAGER;
  c.device = TL_DEVICE_CPU;
  c.kernels = TL_KERNELS_FAST;
  return c;
}

tl_train_options tl_train_options_default(void) {
  tl_train_options o;
  memset(&o, 0, sizeof o);
  o.epochs = 1;
  o.batch_size = 64;
  o.shuffle = 1;
  o.progress = -1;
  return o;
}

void tl_eval_result_free(tl_eval_result *r) {
  free(r->confusion);
  r->confusion = NULL;
}

int64_t tl_trainer_step(const tl_trainer *t) { return t->step; }

tl_code tl_trainer_new(tl_trainer **out, tl_model *model, const tl_trainer_config *cfg, tl_status *st) {
  *out = NULL;
  TL_TRY(tl_model_status(model, st));
  if (!model->root)
    return tl_fail(st, TL_EARG, "trainer: the model has no root module");
  if (cfg->device != TL_DEVICE_CPU)
    return tl_fail(st, TL_EUNSUPPORTED, "trainer: this build has no CUDA backend (use --device cpu)");
  tl_trainer *t = calloc(1, sizeof *t);
  if (!t)
    return tl_fail(st, TL_ENOMEM, "trainer: out of memory");
  t->model = model;
  t->cfg = *cfg;
  if (t->cfg.sched.base == 0)
    t->cfg.sched.base = cfg->optim.lr;
  tl_exec_opts eo = tl_exec_opts_default();
  eo.mode = cfg->backend;
  eo.kernels = cfg->kernels;
  eo.device = cfg->device;
  eo.seed = cfg->seed;
  tl_code rc = tl_exec_new(&t->exec, model->g, &eo, st);
  if (rc == TL_OK) /* the loop needs parameter gradients only: no input / constant cotangents */
    tl_exec_set_input_grads(t->exec, 0);
  if (rc == TL_OK)
    rc = tl_optim_new(&t->opt, &cfg->optim, model->g->nweights, st);
  if (rc != TL_OK) {
    tl_trainer_free(t);
    return rc;
  }
  t->traced_batch = -1;
  *out = t;
  return TL_OK;
}

void tl_trainer_free(tl_trainer *t) {
  if (!t)
    return;
  tl_graph_truncate(t->model->g, t->model->nparam_nodes); /* give the model back its parameters */
  tl_exec_free(t->exec);
  tl_optim_free(t->opt);
  free(t);
}

/* Build x -> model -> out, target y and the loss on a batch of `batch` rows.  In eager mode the
 * nodes run as they are added, so the inputs are supplied right after their nodes exist. */
static tl_code build(tl_trainer *t, int64_t batch, int y_cols, const float *xb, const float *yb,
                     tl_status *st) {
  tl_model *m = t->model;
  tl_graph_truncate(m->g, m->nparam_nodes);
  tl_exec_reset(t->exec, m->nparam_nodes);
  int eager = t->cfg.backend == TL_EAGER;
  tl_ctx c;
  tl_ctx_init(&c, m->g, eager ? t->exec : NULL);
  int64_t xs[5] = {batch};
  memcpy(xs + 1, m->in_shape, (size_t)m->in_ndim * sizeof *xs);
  int64_t ys[2] = {batch, y_cols};
  t->x_id = tl_input(&c, "x", (int)m->in_ndim + 1, xs);
  if (eager && c.err == TL_OK)
    c.err = tl_exec_set_input(t->exec, t->x_id, xb, &c.st);
  t->y_id = tl_input(&c, "y", 2, ys);
  if (eager && c.err == TL_OK)
    c.err = tl_exec_set_input(t->exec, t->y_id, yb, &c.st);
  t->out_id = tl_model_forward(&c, m, t->x_id);
  if (t->cfg.task == TL_TASK_CLASSIFICATION)
    t->loss_id = tl_cross_entropy(&c, t->out_id, t->y_id);
  else
    t->loss_id = tl_mse_loss(&c, tl_flatten(&c, t->out_id, 1, -1), t->y_id);
  if (c.err != TL_OK) {
    if (st)
      *st = c.st;
    t->traced_batch = -1;
    return c.err;
  }
  t->traced_batch = eager ? -1 : batch;
  if (!eager)
    TL_TRY(tl_exec_plan(t->exec, st));
  return TL_OK;
}

tl_code tl_trainer_run_batch(tl_trainer *t, const float *xb, const float *yb, int64_t batch, int y_cols,
                             int train, double *loss, tl_status *st) {
  tl_exec_set_training(t->exec, train);
  tl_exec_set_step(t->exec, (uint64_t)t->step);
  if (t->cfg.backend == TL_EAGER) {
    TL_TRY(build(t, batch, y_cols, xb, yb, st));
  } else {
    if (t->traced_batch != batch)
      TL_TRY(build(t, batch, y_cols, NULL, NULL, st));
    TL_TRY(tl_exec_set_input(t->exec, t->x_id, xb, st));
    TL_TRY(tl_exec_set_input(t->exec, t->y_id, yb, st));
    TL_TRY(tl_exec_forward(t->exec, st));
  }
  *loss = tl_exec_value(t->exec, t->loss_id)[0];
  if (!train)
    return TL_OK;
  if (!isfinite(*loss))
    return tl_fail(st, TL_EVALUE, "trainer: loss became %g at step %lld (lower the learning rate?)", *loss,
                   (long long)t->step);
  tl_exec_zero_grad(t->exec);
  TL_TRY(tl_exec_backward(t->exec, t->loss_id, NULL, st));
  if (t->clip_norm > 0 || t->clip_value > 0) {
    float *grads = tl_exec_param_grads(t->exec);
    if (t->clip_norm > 0)
      tl_clip_grad_norm(t->model->g, grads, t->clip_norm);
    if (t->clip_value > 0)
      tl_clip_grad_value(t->model->g, grads, t->clip_value);
    TL_TRY(tl_optim_step(t->opt, t->model->g, grads, tl_sched_lr(&t->cfg.sched, t->step), st));
  } else { /* same bits; may fuse a batch-1 linear weight gradient into the update */
    TL_TRY(tl_optim_step_exec(t->opt, t->exec, tl_sched_lr(&t->cfg.sched, t->step), st));
  }
  t->step++;
  return TL_OK;
}

/* Forward over a dataset in batches: mean loss, predictions (argmax) into the confusion matrix. */
static tl_code pass(tl_trainer *t, const tl_dataset *d, int64_t batch, tl_eval_result *r, tl_status *st) {
  tl_loader l;
  TL_TRY(tl_loader_init(&l, d, batch, 0, 0, 0, st));
  float *xb = malloc((size_t)(batch * l.x_row) * sizeof *xb),
        *yb = malloc((size_t)(batch * l.y_row) * sizeof *yb);
  tl_code rc = xb && yb ? TL_OK : tl_fail(st, TL_ENOMEM, "trainer: out of memory");
  double sum = 0;
  int64_t correct = 0, n;
  while (rc == TL_OK && (n = tl_loader_next(&l, xb, yb)) > 0) {
    double loss;
    rc = tl_trainer_run_batch(t, xb, yb, n, (int)l.y_row, 0, &loss, st);
    if (rc != TL_OK)
      break;
    sum += loss * (double)n;
    if (r->confusion) {
      const float *out = tl_exec_value(t->exec, t->out_id);
      int k = r->num_classes;
      for (int64_t i = 0; i < n; i++) {
        int pred = 0, truth = 0;
        for (int j = 1; j < k; j++) {
          if (out[i * k + j] > out[i * k + pred])
            pred = j;
          if (yb[i * k + j] > yb[i * k + truth])
            truth = j;
        }
        correct += pred == truth;
        r->confusion[truth * k + pred]++;
      }
    }
  }
  free(xb);
  free(yb);
  tl_loader_free(&l);
  r->n = d->n;
  r->loss = d->n ? sum / (double)d->n : NAN;
  r->accuracy = d->n && r->confusion ? (double)correct / (double)d->n : NAN;
  return rc;
}

tl_code tl_trainer_evaluate(tl_trainer *t, const tl_dataset *d, tl_eval_result *r, tl_status *st) {
  memset(r, 0, sizeof *r);
  if (t->cfg.task == TL_TASK_CLASSIFICATION) {
    int k = d->num_classes ? d->num_classes : (d->y->ndim == 2 ? (int)d->y->shape[1] : 0);
    if (k < 1 || d->y->ndim != 2 || d->y->shape[1] != k)
      return tl_fail(st, TL_ESHAPE, "%s: classification needs one-hot targets (N, K)", d->name);
    r->num_classes = k;
    r->confusion = calloc((size_t)k * (size_t)k, sizeof *r->confusion);
    if (!r->confusion)
      return tl_fail(st, TL_ENOMEM, "trainer: out of memory");
  }
  tl_code rc = pass(t, d, 500, r, st);
  if (rc != TL_OK)
    tl_eval_result_free(r);
  return rc;
}

tl_code tl_trainer_predict(tl_trainer *t, const tl_tensor *x, tl_tensor **out, tl_status *st) {
  *out = NULL;
  tl_graph *g;
  TL_TRY(tl_model_trace(t->model, 1, &g, st));
  int64_t k = g->nodes[g->outputs[0]].numel; /* outputs per sample */
  tl_graph_free(g);
  int64_t n = x->ndim ? x->shape[0] : 0, shape[] = {n, k};
  /* a dataset whose targets are zeros of the output's shape: the loss is ignored */
  tl_tensor *xf = NULL, *zeros = NULL, *res = NULL;
  tl_dataset *d = NULL;
  tl_code rc = tl_tensor_convert(&xf, x, TL_F32, st);
  if (rc == TL_OK)
    rc = tl_tensor_new(&zeros, TL_F32, 2, shape, st);
  if (rc == TL_OK)
    rc = tl_dataset_from_tensors(&d, xf, zeros, "predict", st);
  else
    tl_tensor_free(xf), tl_tensor_free(zeros);
  if (rc == TL_OK)
    rc = tl_tensor_new(&res, TL_F32, 2, shape, st);
  tl_loader l = {0};
  if (rc == TL_OK)
    rc = tl_loader_init(&l, d, 500, 0, 0, 0, st);
  float *xb = rc == TL_OK ? malloc((size_t)(500 * l.x_row) * sizeof *xb) : NULL;
  float *yb = rc == TL_OK ? malloc((size_t)(500 * k) * sizeof *yb) : NULL;
  if (rc == TL_OK && (!xb || !yb))
    rc = tl_fail(st, TL_ENOMEM, "trainer: out of memory");
  int64_t done = 0, b;
  while (rc == TL_OK && (b = tl_loader_next(&l, xb, yb)) > 0) {
    double loss;
    rc = tl_trainer_run_batch(t, xb, yb, b, (int)k, 0, &loss, st);
    if (rc == TL_OK)
      memcpy(tl_tensor_f32(res) + done * k, tl_exec_value(t->exec, t->out_id),
             (size_t)(b * k) * sizeof(float));
    done += b;
  }
  free(xb);
  free(yb);
  tl_loader_free(&l);
  tl_dataset_free(d);
  if (rc != TL_OK) {
    tl_tensor_free(res);
    return rc;
  }
  *out = res;
  return TL_OK;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* [=====>    ] step/total loss, samples/s and ETA; rate is steps per second */
static void progress_bar(FILE *out, const tl_train_event *e, double rate, double samples_per_s) {
  int width = 30, fill = e->total_steps ? (int)(width * e->step / e->total_steps) : 0;
  double eta = rate > 0 ? (double)(e->total_steps - e->step) / rate : 0;
  fprintf(out, "\r[");
  for (int i = 0; i < width; i++)
    fputc(i < fill ? '=' : i == fill ? '>' : ' ', out);
  fprintf(out, "] %lld/%lld loss=%.4f %.0f samples/s ETA %.0fs ", (long long)e->step,
          (long long)e->total_steps, e->loss, samples_per_s, eta);
  fflush(out);
}

static tl_code write_log(const char *path, const tl_train_report *rep, cJSON *steps, cJSON *epochs,
                         tl_status *st) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "format", "torchlean.trainlog.v1");
  cJSON_AddNumberToObject(root, "loss_before", rep->loss_before);
  cJSON_AddNumberToObject(root, "loss_after", rep->loss_after);
  cJSON_AddNumberToObject(root, "steps_total", (double)rep->steps);
  cJSON_AddNumberToObject(root, "seconds", rep->seconds);
  cJSON_AddItemReferenceToObject(root, "steps", steps);
  cJSON_AddItemReferenceToObject(root, "epochs", epochs);
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
  tl_code rc = tl_write_file_atomic(path, text, strlen(text), st);
  free(text);
  return rc;
}

/* one tl_trainer_train call: its options, loader, batch buffers, logs and the last event */
typedef struct train_run {
  tl_trainer *t;
  const tl_train_options *o;
  FILE *con;
  int bar; /* console progress bar (else log lines) */
  tl_loader l;
  int64_t per_epoch, total, samples, step0;
  float *xb, *yb;
  cJSON *steps_log, *epochs_log;
  tl_train_event ev;
  double t0;
} train_run;

/* after a step: the event, the JSON log entry, the callback, the progress bar or log line */
static void train_step_done(train_run *r, int64_t n, double lr, double loss) {
  tl_trainer *t = r->t;
  const tl_train_options *o = r->o;
  FILE *con = r->con;
  t->pos++;
  r->samples += n;
  r->ev = (tl_train_event){.step = t->step,
                           .total_steps = r->total,
                           .epoch = t->epoch,
                           .loss = loss,
                           .lr = lr,
                           .seconds = now_seconds() - r->t0,
                           .val_loss = NAN,
                           .val_accuracy = NAN};
  cJSON *s = cJSON_CreateObject();
  cJSON_AddNumberToObject(s, "step", (double)t->step);
  cJSON_AddNumberToObject(s, "loss", loss);
  cJSON_AddNumberToObject(s, "lr", lr);
  cJSON_AddItemToArray(r->steps_log, s);
  if (o->cb.on_step)
    o->cb.on_step(o->cb.user, &r->ev);
  double secs = r->ev.seconds > 0 ? r->ev.seconds : 1;
  if (con && r->bar && (t->step % 10 == 0 || t->step == r->total))
    progress_bar(con, &r->ev, (double)(t->step - r->step0) / secs, (double)r->samples / secs);
  else if (con && !r->bar && o->log_every > 0 && t->step % o->log_every == 0)
    fprintf(con, "step %lld: loss=%.6f\n", (long long)t->step, loss);
}

/* after a whole epoch: validation, the JSON log entry, the console line, the callback, the
 * checkpoint */
static tl_code train_epoch_done(train_run *r, tl_status *st) {
  tl_trainer *t = r->t;
  const tl_train_options *o = r->o;
  FILE *con = r->con;
  t->epoch++;
  t->pos = 0;
  if (o->val) {
    tl_eval_result vr;
    tl_code rc = tl_trainer_evaluate(t, o->val, &vr, st);
    r->ev.val_loss = vr.loss, r->ev.val_accuracy = vr.accuracy;
    tl_eval_result_free(&vr);
    TL_TRY(rc);
  }
  cJSON *e = cJSON_CreateObject();
  cJSON_AddNumberToObject(e, "epoch", (double)t->epoch);
  cJSON_AddNumberToObject(e, "step", (double)t->step);
  cJSON_AddNumberToObject(e, "loss", r->ev.loss);
  if (o->val) {
    cJSON_AddNumberToObject(e, "val_loss", r->ev.val_loss);
    cJSON_AddNumberToObject(e, "val_accuracy", r->ev.val_accuracy);
  }
  cJSON_AddItemToArray(r->epochs_log, e);
  if (con && (o->val || o->log_every == 0 || r->per_epoch > o->log_every)) {
    if (r->bar)
      fputc('\n', con);
    fprintf(con, "epoch %lld: step=%lld loss=%.6f", (long long)t->epoch, (long long)t->step, r->ev.loss);
    if (o->val)
      fprintf(con, " val_loss=%.6f val_accuracy=%.4f", r->ev.val_loss, r->ev.val_accuracy);
    fprintf(con, " (%.1f s)\n", now_seconds() - r->t0);
  }
  if (o->cb.on_epoch_end)
    o->cb.on_epoch_end(o->cb.user, &r->ev);
  if (o->checkpoint_path)
    return tl_trainer_save_checkpoint(t, o->checkpoint_path, st);
  return TL_OK;
}

/* the training loop; resumes where a checkpoint left off: epoch t->epoch, t->pos batches into it */
static tl_code train_loop(train_run *r, tl_status *st) {
  tl_trainer *t = r->t;
  tl_code rc = TL_OK;
  while (rc == TL_OK && t->step < r->total) {
    tl_loader_epoch(&r->l, t->epoch);
    int64_t n;
    for (int64_t skip = 0; skip < t->pos; skip++)
      tl_loader_next(&r->l, r->xb, r->yb);
    while (rc == TL_OK && t->step < r->total && (n = tl_loader_next(&r->l, r->xb, r->yb)) > 0) {
      double loss;
      double lr = tl_sched_lr(&t->cfg.sched, t->step);
      rc = tl_trainer_run_batch(t, r->xb, r->yb, n, (int)r->l.y_row, 1, &loss, st);
      if (rc != TL_OK)
        break;
      train_step_done(r, n, lr, loss);
    }
    if (rc != TL_OK || t->pos < r->per_epoch)
      break; /* stopped inside an epoch: the step budget ran out */
    rc = train_epoch_done(r, st);
  }
  return rc;
}

/* the report, the loss after training, the closing console lines, callback and JSON log */
static tl_code train_finish(train_run *r, const tl_dataset *data, tl_train_report *rep, tl_code rc,
                            tl_status *st) {
  tl_trainer *t = r->t;
  const tl_train_options *o = r->o;
  rep->seconds = now_seconds() - r->t0;
  rep->steps = t->step;
  rep->epochs = t->epoch;
  rep->samples_per_second = rep->seconds > 0 ? (double)r->samples / rep->seconds : 0;
  tl_eval_result er = {.loss = rep->loss_before}; /* what loss_after reports when no pass runs */
  if (rc == TL_OK)
    rc = pass(t, data, 500, &er, st);
  rep->loss_after = er.loss;
  tl_eval_result_free(&er);
  if (rc == TL_OK && r->con) {
    if (r->bar)
      fputc('\n', r->con);
    fprintf(r->con, "mean_loss(after) = %.6f\n", rep->loss_after);
    fprintf(r->con, "steps=%lld loss0=%.6f loss1=%.6f\n", (long long)rep->steps, rep->loss_before,
            rep->loss_after);
  }
  if (rc == TL_OK && o->cb.on_train_end) {
    r->ev.seconds = rep->seconds;
    o->cb.on_train_end(o->cb.user, &r->ev);
  }
  if (rc == TL_OK && o->log_path)
    rc = write_log(o->log_path, rep, r->steps_log, r->epochs_log, st);
  return rc;
}

tl_code tl_trainer_train(tl_trainer *t, const tl_dataset *data, const tl_train_options *o,
                         tl_train_report *rep, tl_status *st) {
  memset(rep, 0, sizeof *rep);
  if (o->batch_size < 1 || o->steps < 0 || o->epochs < 0)
    return tl_fail(st, TL_EARG, "trainer: batch size must be >= 1, steps and epochs >= 0");
  if (data->n == 0)
    return tl_fail(st, TL_EARG, "%s: no samples to train on", data->name);
  t->clip_norm = o->clip_norm;
  t->clip_value = o->clip_value;
  train_run r = {.t = t, .o = o, .con = o->console};
  r.bar = r.con && (o->progress == 1 || (o->progress == -1 && isatty(fileno(r.con))));
  TL_TRY(tl_loader_init(&r.l, data, o->batch_size, o->shuffle, o->drop_last, t->cfg.seed, st));
  r.per_epoch = tl_loader_num_batches(&r.l);
  r.total = o->steps ? o->steps : o->epochs * r.per_epoch;
  r.xb = malloc((size_t)(o->batch_size * r.l.x_row) * sizeof *r.xb);
  r.yb = malloc((size_t)(o->batch_size * r.l.y_row) * sizeof *r.yb);
  r.steps_log = cJSON_CreateArray(), r.epochs_log = cJSON_CreateArray();
  tl_code rc =
      r.xb && r.yb && r.steps_log && r.epochs_log ? TL_OK : tl_fail(st, TL_ENOMEM, "trainer: out of memory");
  tl_eval_result er = {0};
  if (rc == TL_OK)
    rc = pass(t, data, 500, &er, st);
  rep->loss_before = er.loss;
  tl_eval_result_free(&er);
  if (rc == TL_OK && r.con) {
    fprintf(r.con, "dataset size = %lld\n", (long long)data->n);
    fprintf(r.con, "mean_loss(before) = %.6f\n", rep->loss_before);
  }
  r.ev = (tl_train_event){.total_steps = r.total, .val_loss = NAN, .val_accuracy = NAN};
  r.t0 = now_seconds();
  if (rc == TL_OK && o->cb.on_train_start)
    o->cb.on_train_start(o->cb.user, &r.ev);
  r.step0 = t->step;
  if (rc == TL_OK)
    rc = train_loop(&r, st);
  rc = train_finish(&r, data, rep, rc, st);
  cJSON_Delete(r.steps_log);
  cJSON_Delete(r.epochs_log);
  free(r.xb);
  free(r.yb);
  tl_loader_free(&r.l);
  return rc;
}
