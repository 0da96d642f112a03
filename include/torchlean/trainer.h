/* trainer.h - training, prediction, evaluation, callbacks, logs and checkpoints (TorchLean's
 * `Trainer`).
 *
 * tl_trainer_new(model, config) then tl_trainer_train(data, options).  Classification uses
 * softmax cross entropy over the last axis with one-hot targets; regression uses the mean squared
 * error.  The same model code runs in eager or compiled mode (config.backend).
 *
 * Ownership: the trainer borrows the model (it must outlive the trainer) and updates its weights
 * in place; tl_trainer_free releases the executor and optimizer state.  Evaluation results own a
 * confusion matrix freed by tl_eval_result_free.
 */
#ifndef TORCHLEAN_TRAINER_H
#define TORCHLEAN_TRAINER_H

#include <stdint.h>
#include <stdio.h>

#include "torchlean/data.h"
#include "torchlean/exec.h"
#include "torchlean/nn.h"
#include "torchlean/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_task { TL_TASK_REGRESSION = 0, TL_TASK_CLASSIFICATION } tl_task;

typedef struct tl_trainer_config {
  tl_task task;
  tl_optim_config optim; /* default SGD, lr 0.01 */
  tl_sched sched;        /* default constant at optim.lr (sched.base 0 means "use optim.lr") */
  tl_exec_mode backend;  /* TL_EAGER or TL_COMPILED */
  tl_device device;
  tl_kernels kernels;
  uint64_t seed; /* shuffling and dropout */
} tl_trainer_config;

tl_trainer_config tl_trainer_config_default(tl_task task);

typedef struct tl_train_event {
  int64_t step; /* completed updates */
  int64_t total_steps;
  int64_t epoch;
  double loss; /* loss of the last batch */
  double lr;
  double seconds;                /* since training started */
  double val_loss, val_accuracy; /* after an epoch with validation data; NaN otherwise */
} tl_train_event;

typedef struct tl_callbacks {
  void *user;
  void (*on_train_start)(void *user, const tl_train_event *e);
  void (*on_step)(void *user, const tl_train_event *e);
  void (*on_epoch_end)(void *user, const tl_train_event *e);
  void (*on_train_end)(void *user, const tl_train_event *e);
} tl_callbacks;

typedef struct tl_train_options {
  int64_t steps;      /* optimizer updates; 0: use epochs */
  int64_t epochs;     /* used when steps == 0 (default 1) */
  int64_t batch_size; /* default 64 */
  int64_t log_every;  /* console line every N steps (0: only at epoch ends) */
  int shuffle;        /* default 1 */
  int drop_last;
  double clip_norm;            /* > 0: clip gradients by global norm */
  double clip_value;           /* > 0: clip gradients by value */
  const tl_dataset *val;       /* optional validation data, evaluated at every epoch end */
  const char *log_path;        /* optional JSON train log (written atomically at the end) */
  const char *checkpoint_path; /* optional: checkpoint at every epoch end (atomic) */
  tl_callbacks cb;
  FILE *console; /* progress output (NULL: silent) */
  int progress;  /* 1: progress bar; 0: plain lines; -1: bar when console is a terminal */
} tl_train_options;

tl_train_options tl_train_options_default(void);

typedef struct tl_train_report {
  int64_t steps;
  int64_t epochs;
  double loss_before; /* mean loss over the training data before training */
  double loss_after;  /* and after */
  double seconds;
  double samples_per_second;
} tl_train_report;

typedef struct tl_eval_result {
  double loss;
  double accuracy; /* classification only */
  int num_classes;
  int64_t *confusion; /* num_classes^2, row = true class, column = predicted (owned) */
  int64_t n;
} tl_eval_result;
void tl_eval_result_free(tl_eval_result *r);

typedef struct tl_trainer tl_trainer;

tl_code tl_trainer_new(tl_trainer **out, tl_model *model, const tl_trainer_config *cfg, tl_status *st);
void tl_trainer_free(tl_trainer *t);
tl_code tl_trainer_train(tl_trainer *t, const tl_dataset *data, const tl_train_options *opts,
                         tl_train_report *report, tl_status *st);
/* Model outputs for x (N, ...): *out is a new (N, outputs) float32 tensor the caller frees. */
tl_code tl_trainer_predict(tl_trainer *t, const tl_tensor *x, tl_tensor **out, tl_status *st);
tl_code tl_trainer_evaluate(tl_trainer *t, const tl_dataset *data, tl_eval_result *r, tl_status *st);
/* Checkpoints: weights, optimizer state, step, epoch and loader position with exact bits. */
tl_code tl_trainer_save_checkpoint(const tl_trainer *t, const char *path, tl_status *st);
tl_code tl_trainer_load_checkpoint(tl_trainer *t, const char *path, tl_status *st);
/* Completed optimizer updates. */
int64_t tl_trainer_step(const tl_trainer *t);

#ifdef __cplusplus
}
#endif
#endif
