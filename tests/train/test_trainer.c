/* test_trainer.c - training end to end on small data: eager and compiled give the same bits,
 * checkpoints resume to a bit-identical run, callbacks and logs, evaluation. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "torchlean/torchlean.h"

/* 3 Gaussian-ish blobs in 4-d, 90 samples, one-hot labels */
static tl_dataset *blobs(void) {
  tl_tensor *x, *y;
  int64_t xs[] = {90, 4}, ys[] = {90};
  tl_tensor_new(&x, TL_F32, 2, xs, NULL);
  tl_tensor_new(&y, TL_F32, 1, ys, NULL);
  tl_rng r;
  tl_rng_init(&r, 9);
  for (int i = 0; i < 90; i++) {
    int c = i % 3;
    tl_tensor_f32(y)[i] = (float)c;
    for (int k = 0; k < 4; k++)
      tl_tensor_f32(x)[i * 4 + k] = (float)((k == c ? 2.0 : 0.0) + 0.5 * tl_rng_normal(&r));
  }
  tl_dataset *d;
  cr_assert_eq(tl_dataset_from_tensors(&d, x, y, "blobs", NULL), TL_OK);
  tl_transform oh = {.kind = TL_TF_ONE_HOT, .num_classes = 3};
  cr_assert_eq(tl_transform_apply(d, &oh, NULL), TL_OK);
  return d;
}

static tl_model *small_model(void) {
  int64_t in[] = {4}, hidden[] = {16};
  tl_model *m = tl_zoo_mlp(5, 1, in, 1, hidden, 3, NULL);
  cr_assert_eq(tl_model_status(m, NULL), TL_OK);
  return m;
}

static tl_trainer *make_trainer(tl_model *m, tl_exec_mode mode) {
  tl_trainer_config cfg = tl_trainer_config_default(TL_TASK_CLASSIFICATION);
  cfg.optim = tl_optim_adam(0.01);
  cfg.backend = mode;
  cfg.seed = 3;
  tl_trainer *t;
  tl_status st;
  cr_assert_eq(tl_trainer_new(&t, m, &cfg, &st), TL_OK, "%s", st.msg);
  return t;
}

static tl_train_options opts(int64_t epochs) {
  tl_train_options o = tl_train_options_default();
  o.epochs = epochs;
  o.batch_size = 16; /* 90 = 5 * 16 + 10: a partial last batch */
  return o;
}

Test(trainer, learns_blobs_and_reports) {
  tl_dataset *d = blobs();
  tl_model *m = small_model();
  tl_trainer *t = make_trainer(m, TL_COMPILED);
  tl_train_options o = opts(20);
  tl_train_report rep;
  tl_status st;
  cr_assert_eq(tl_trainer_train(t, d, &o, &rep, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(rep.steps, 20 * 6);
  cr_assert(rep.loss_after < 0.5 * rep.loss_before, "%g -> %g", rep.loss_before, rep.loss_after);
  tl_eval_result r;
  cr_assert_eq(tl_trainer_evaluate(t, d, &r, NULL), TL_OK);
  cr_assert(r.accuracy > 0.9, "accuracy %g", r.accuracy);
  int64_t total = 0, diag = 0;
  for (int i = 0; i < 9; i++)
    total += r.confusion[i], diag += i % 4 == 0 ? r.confusion[i] : 0;
  cr_assert_eq(total, 90);
  cr_assert_eq((double)diag / 90.0, r.accuracy);
  tl_eval_result_free(&r);
  tl_tensor *pred;
  cr_assert_eq(tl_trainer_predict(t, d->x, &pred, NULL), TL_OK);
  cr_assert_eq(pred->shape[0], 90);
  cr_assert_eq(pred->shape[1], 3);
  tl_tensor_free(pred);
  tl_trainer_free(t);
  tl_model_free(m);
  tl_dataset_free(d);
}

Test(trainer, eager_and_compiled_train_to_the_same_bits) {
  tl_dataset *d = blobs();
  tl_model *a = small_model(), *b = small_model();
  tl_trainer *ta = make_trainer(a, TL_EAGER), *tb = make_trainer(b, TL_COMPILED);
  tl_train_options o = opts(3);
  tl_train_report ra, rb;
  cr_assert_eq(tl_trainer_train(ta, d, &o, &ra, NULL), TL_OK);
  cr_assert_eq(tl_trainer_train(tb, d, &o, &rb, NULL), TL_OK);
  cr_assert_eq(a->g->nweights, b->g->nweights);
  cr_assert_eq(memcmp(a->g->weights, b->g->weights, (size_t)a->g->nweights * sizeof(float)), 0);
  cr_assert_eq(ra.loss_after, rb.loss_after);
  tl_trainer_free(ta);
  tl_trainer_free(tb);
  tl_model_free(a);
  tl_model_free(b);
  tl_dataset_free(d);
}

Test(trainer, checkpoint_resume_is_bit_identical) {
  char path[] = "/tmp/tl_ckpt_XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  close(fd);
  tl_dataset *d = blobs();
  /* straight: 3 epochs */
  tl_model *a = small_model();
  tl_trainer *ta = make_trainer(a, TL_COMPILED);
  tl_train_options o3 = opts(3);
  tl_train_report rep;
  cr_assert_eq(tl_trainer_train(ta, d, &o3, &rep, NULL), TL_OK);
  /* interrupted: 8 steps (inside epoch 2), checkpoint, fresh model and trainer, resume to 3 epochs */
  tl_model *b = small_model();
  tl_trainer *tb = make_trainer(b, TL_COMPILED);
  tl_train_options o8 = opts(0);
  o8.steps = 8;
  cr_assert_eq(tl_trainer_train(tb, d, &o8, &rep, NULL), TL_OK);
  tl_status st;
  cr_assert_eq(tl_trainer_save_checkpoint(tb, path, &st), TL_OK, "%s", st.msg);
  tl_trainer_free(tb);
  tl_model_free(b);
  tl_model *c = small_model();
  tl_trainer *tc = make_trainer(c, TL_COMPILED);
  cr_assert_eq(tl_trainer_load_checkpoint(tc, path, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_trainer_step(tc), 8);
  cr_assert_eq(tl_trainer_train(tc, d, &o3, &rep, NULL), TL_OK);
  cr_assert_eq(tl_trainer_step(tc), 18);
  cr_assert_eq(memcmp(a->g->weights, c->g->weights, (size_t)a->g->nweights * sizeof(float)), 0,
               "resumed run differs from the straight run");
  /* corrupt one byte: rejected with the digest message, weights untouched */
  FILE *f = fopen(path, "r+b");
  fseek(f, 100, SEEK_SET);
  int ch = fgetc(f);
  fseek(f, 100, SEEK_SET);
  fputc(ch ^ 1, f);
  fclose(f);
  float before = c->g->weights[0];
  cr_assert_eq(tl_trainer_load_checkpoint(tc, path, &st), TL_EFORMAT);
  cr_assert(strstr(st.msg, "SHA-256"), "%s", st.msg);
  cr_assert_eq(c->g->weights[0], before);
  /* truncated */
  cr_assert_eq(truncate(path, 50), 0);
  cr_assert_eq(tl_trainer_load_checkpoint(tc, path, &st), TL_EFORMAT);
  remove(path);
  tl_trainer_free(ta);
  tl_trainer_free(tc);
  tl_model_free(a);
  tl_model_free(c);
  tl_dataset_free(d);
}

struct counts {
  int start, steps, epochs, end;
};
static void on_start(void *u, const tl_train_event *e) { ((struct counts *)u)->start++; }
static void on_step(void *u, const tl_train_event *e) { ((struct counts *)u)->steps++; }
static void on_epoch(void *u, const tl_train_event *e) {
  ((struct counts *)u)->epochs++;
  cr_assert(!isnan(e->val_accuracy));
}
static void on_end(void *u, const tl_train_event *e) { ((struct counts *)u)->end++; }

Test(trainer, callbacks_log_and_console_lines) {
  tl_dataset *d = blobs();
  tl_model *m = small_model();
  tl_trainer *t = make_trainer(m, TL_EAGER);
  struct counts n = {0};
  char log[] = "/tmp/tl_log_XXXXXX";
  int fd = mkstemp(log);
  close(fd);
  char out[8192] = {0};
  FILE *con = fmemopen(out, sizeof out - 1, "w");
  tl_train_options o = opts(2);
  o.val = d;
  o.cb = (tl_callbacks){&n, on_start, on_step, on_epoch, on_end};
  o.log_path = log;
  o.console = con;
  o.progress = 0;
  o.log_every = 4;
  tl_train_report rep;
  cr_assert_eq(tl_trainer_train(t, d, &o, &rep, NULL), TL_OK);
  fclose(con);
  cr_assert_eq(n.start, 1);
  cr_assert_eq(n.steps, 12);
  cr_assert_eq(n.epochs, 2);
  cr_assert_eq(n.end, 1);
  cr_assert(strstr(out, "dataset size = 90\n"), "%s", out);
  cr_assert(strstr(out, "mean_loss(before) = "));
  cr_assert(strstr(out, "step 4: loss="));
  cr_assert(strstr(out, "val_accuracy="));
  cr_assert(strstr(out, "steps=12 loss0="));
  void *text;
  size_t len;
  cr_assert_eq(tl_read_file(log, &text, &len, NULL), TL_OK);
  cr_assert(strstr(text, "\"torchlean.trainlog.v1\""));
  cr_assert(strstr(text, "\"val_accuracy\""));
  free(text);
  remove(log);
  tl_trainer_free(t);
  tl_model_free(m);
  tl_dataset_free(d);
}

Test(trainer, bad_options_and_device) {
  tl_dataset *d = blobs();
  tl_model *m = small_model();
  tl_trainer_config cfg = tl_trainer_config_default(TL_TASK_CLASSIFICATION);
  cfg.device = TL_DEVICE_CUDA;
  tl_trainer *t;
  tl_status st;
  cr_assert_eq(tl_trainer_new(&t, m, &cfg, &st), TL_EUNSUPPORTED);
  cr_assert(strstr(st.msg, "CUDA"));
  t = make_trainer(m, TL_COMPILED);
  tl_train_options o = opts(1);
  o.batch_size = 0;
  tl_train_report rep;
  cr_assert_eq(tl_trainer_train(t, d, &o, &rep, &st), TL_EARG);
  tl_trainer_free(t);
  tl_model_free(m);
  tl_dataset_free(d);
}
