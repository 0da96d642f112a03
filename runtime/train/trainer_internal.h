/* train/trainer_internal.h - the trainer's state, shared by trainer.c and checkpoint.c (private). */
#ifndef TL_TRAINER_INTERNAL_H
#define TL_TRAINER_INTERNAL_H

#include "torchlean/trainer.h"

struct tl_trainer {
  tl_model *model; /* borrowed */
  tl_trainer_config cfg;
  tl_exec *exec;        /* owned */
  tl_optim *opt;        /* owned */
  int64_t step;         /* completed updates */
  int64_t epoch;        /* current epoch (0-based) */
  int64_t pos;          /* batches of the current epoch already consumed */
  int64_t traced_batch; /* compiled mode: batch size of the current trace, -1 if none */
  int x_id, y_id, out_id, loss_id;
  double clip_norm, clip_value;
};

/* One batch: forward (and, when train, backward + clipping + optimizer update). */
tl_code tl_trainer_run_batch(tl_trainer *t, const float *xb, const float *yb, int64_t batch, int y_cols,
                             int train, double *loss, tl_status *st);

#endif
