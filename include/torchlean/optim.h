/* optim.h - optimizers, learning-rate schedulers and gradient clipping (TorchLean's `optim`).
 *
 * Optimizers update the trainable PARAM nodes of a graph in place, reading gradients from a
 * flat buffer aligned with the graph's weight store (tl_exec_param_grads).  Buffers and
 * constants are never touched.  Defaults follow TorchLean (and PyTorch).
 *
 * Ownership: tl_optim_new allocates the optimizer and its state; tl_optim_free releases it.
 */
#ifndef TORCHLEAN_OPTIM_H
#define TORCHLEAN_OPTIM_H

#include <stdint.h>

#include "torchlean/exec.h"
#include "torchlean/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_optim_kind {
  TL_OPT_SGD = 0,
  TL_OPT_ADAGRAD,
  TL_OPT_RMSPROP,
  TL_OPT_ADAM,
  TL_OPT_ADAMW,
  TL_OPT_ADADELTA
} tl_optim_kind;

typedef struct tl_optim_config {
  tl_optim_kind kind;
  double lr;
  double momentum;     /* SGD: buf = momentum buf + g */
  double weight_decay; /* L2 (g += wd p) for all but AdamW, where it is decoupled (p -= lr wd p) */
  double beta1, beta2; /* Adam, AdamW */
  double alpha;        /* RMSprop decay of the squared average */
  double rho;          /* Adadelta decay */
  double eps;
} tl_optim_config;

/* Configurations with TorchLean's defaults. */
tl_optim_config tl_optim_sgd(double lr, double momentum); /* lr 0.01 in TorchLean's trainer */
tl_optim_config tl_optim_adagrad(double lr);              /* eps 1e-10 */
tl_optim_config tl_optim_rmsprop(double lr);              /* alpha 0.99, eps 1e-8 */
tl_optim_config tl_optim_adam(double lr);                 /* betas 0.9, 0.999, eps 1e-8 */
tl_optim_config tl_optim_adamw(double lr);                /* as Adam, weight decay 0.01 */
tl_optim_config tl_optim_adadelta(double lr);             /* rho 0.9, eps 1e-6, lr 1.0 usual */
/* Parse "sgd", "adam", ... into a default configuration with the given lr; -1 if unknown. */
int tl_optim_parse(const char *name, double lr, tl_optim_config *out);
const char *tl_optim_name(tl_optim_kind k);

typedef struct tl_optim {
  tl_optim_config cfg;
  int64_t n;      /* size of the weight store it was made for */
  int64_t t;      /* completed steps */
  float *s1, *s2; /* per-weight state (momentum / first moment / squared sums; second moment) */
} tl_optim;

tl_code tl_optim_new(tl_optim **out, const tl_optim_config *cfg, int64_t nweights, tl_status *st);
void tl_optim_free(tl_optim *o);
/* One update of every trainable parameter of g with learning rate lr. */
tl_code tl_optim_step(tl_optim *o, tl_graph *g, const float *grads, double lr, tl_status *st);
/* The same update from the parameter gradients of e's last backward on e's graph: the same bits as
 * tl_optim_step(o, g, tl_exec_param_grads(e), lr, st), but SGD fuses a deferred batch-1 linear weight
 * gradient (rank-1 g x^T) into its update instead of writing it first (one pass over the weights
 * instead of two).  The gradients stay readable afterwards (tl_exec_param_grads). */
tl_code tl_optim_step_exec(tl_optim *o, tl_exec *e, double lr, tl_status *st);

/* ---- schedulers (t = completed updates) ------------------------------------------------- */
typedef enum tl_sched_kind {
  TL_SCHED_CONSTANT = 0,
  TL_SCHED_STEP,
  TL_SCHED_EXPONENTIAL,
  TL_SCHED_WARMUP_COSINE
} tl_sched_kind;
typedef struct tl_sched {
  tl_sched_kind kind;
  double base;    /* constant, step, exponential: base lr; warmup-cosine: peak lr */
  double gamma;   /* step, exponential */
  int64_t every;  /* step: k */
  int64_t warmup; /* warmup-cosine: w */
  int64_t total;  /* warmup-cosine: total updates */
  double min_lr;  /* warmup-cosine: floor */
} tl_sched;

/* constant: base; step: base gamma^floor(t/k); exponential: base gamma^t;
 * warmup-cosine: peak (t+1)/w for t < w, then min + (peak - min)(1 + cos(pi (t-w)/(total-w)))/2,
 * and min after total. */
double tl_sched_lr(const tl_sched *s, int64_t t);

/* ---- gradient clipping ------------------------------------------------------------------- */
/* Scale trainable gradients so their global L2 norm is at most max_norm; returns the norm
 * before clipping. */
double tl_clip_grad_norm(const tl_graph *g, float *grads, double max_norm);
/* Clamp every trainable gradient to [-v, v]. */
void tl_clip_grad_value(const tl_graph *g, float *grads, double v);

#ifdef __cplusplus
}
#endif
#endif
