/* train/optim.c - SGD, Adagrad, RMSprop, Adam, AdamW, Adadelta updates on a graph's trainable weights. */
#include "torchlean/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_internal.h"

static tl_optim_config base_config(tl_optim_kind kind, double lr) {
  tl_optim_config c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  c.lr = lr;
  c.beta1 = 0.9;
  c.beta2 = 0.999;
  c.alpha = 0.99;
  c.rho = 0.9;
  c.eps = 1e-8;
  return c;
}

tl_optim_config tl_optim_sgd(double lr, double momentum) {
  tl_optim_config c = base_config(TL_OPT_SGD, lr);
  c.momentum = momentum;
  return c;
}
tl_optim_config tl_optim_adagrad(double lr) {
  tl_optim_config c = base_config(TL_OPT_ADAGRAD, lr);
  c.eps = 1e-10;
  return c;
}
tl_optim_config tl_optim_rmsprop(double lr) { return base_config(TL_OPT_RMSPROP, lr); }
tl_optim_config tl_optim_adam(double lr) { return base_config(TL_OPT_ADAM, lr); }
tl_optim_config tl_optim_adamw(double lr) {
  tl_optim_config c = base_config(TL_OPT_ADAMW, lr);
  c.weight_decay = 0.01;
  return c;
}
tl_optim_config tl_optim_adadelta(double lr) {
  tl_optim_config c = base_config(TL_OPT_ADADELTA, lr);
  c.eps = 1e-6;
  return c;
}

static const char *const names[] = {"sgd", "adagrad", "rmsprop", "adam", "adamw", "adadelta"};

const char *tl_optim_name(tl_optim_kind k) {
  return k >= TL_OPT_SGD && k <= TL_OPT_ADADELTA ? names[k] : "unknown";
}

int tl_optim_parse(const char *name, double lr, tl_optim_config *out) {
  for (int k = TL_OPT_SGD; k <= TL_OPT_ADADELTA; k++) {
    if (strcmp(name, names[k]) != 0)
      continue;
    switch ((tl_optim_kind)k) {
    case TL_OPT_SGD: *out = tl_optim_sgd(lr, 0); break;
    case TL_OPT_ADAGRAD: *out = tl_optim_adagrad(lr); break;
    case TL_OPT_RMSPROP: *out = tl_optim_rmsprop(lr); break;
    case TL_OPT_ADAM: *out = tl_optim_adam(lr); break;
    case TL_OPT_ADAMW: *out = tl_optim_adamw(lr); break;
    case TL_OPT_ADADELTA: *out = tl_optim_adadelta(lr); break;
    }
    return k;
  }
  return -1;
}

tl_code tl_optim_new(tl_optim **out, const tl_optim_config *cfg, int64_t nweights, tl_status *st) {
  *out = NULL;
  if (!(cfg->lr >= 0) || !(cfg->eps >= 0) || cfg->momentum < 0 || cfg->weight_decay < 0)
    return tl_fail(st, TL_EVALUE, "optim %s: lr, eps, momentum and weight decay must be >= 0",
                   tl_optim_name(cfg->kind));
  tl_optim *o = calloc(1, sizeof *o);
  size_t n = (size_t)(nweights > 0 ? nweights : 1);
  if (o) {
    o->s1 = calloc(n, sizeof(float));
    o->s2 = calloc(n, sizeof(float));
  }
  if (!o || !o->s1 || !o->s2) {
    tl_optim_free(o);
    return tl_fail(st, TL_ENOMEM, "optim: out of memory for %lld weights", (long long)nweights);
  }
  o->cfg = *cfg;
  o->n = nweights;
  *out = o;
  return TL_OK;
}

void tl_optim_free(tl_optim *o) {
  if (!o)
    return;
  free(o->s1);
  free(o->s2);
  free(o);
}

/* Adam over a range whose arrays do not overlap (restrict: the loop vectorises); coupled adds the
 * L2 term wd p to the gradient (Adam), else not (AdamW, whose decay is applied before) */
static void adam_range(float *restrict p, const float *restrict g, float *restrict s1, float *restrict s2,
                       int64_t n, int coupled, float wd, float b1, float b2, float step, float rbc2,
                       float eps) {
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    if (coupled)
      gi += wd * p[i];
    float m = b1 * s1[i] + (1 - b1) * gi, v = b2 * s2[i] + (1 - b2) * gi * gi;
    s1[i] = m;
    s2[i] = v;
    p[i] -= step * m / (sqrtf(v) / rbc2 + eps);
  }
}

/* SGD over non-overlapping arrays (restrict: the loops vectorise; the same operations per element
 * as the scalar form, so the same bits; AVX2 clone: twice the lanes, no FMA since -std=c11 keeps
 * -ffp-contract=off): p -= lr (g + wd p), with momentum buf = mu buf + (g + wd p) */
__attribute__((target_clones("avx2", "default"))) static void
sgd_range(float *restrict p, const float *restrict g, int64_t n, float wd, float lr) {
  if (wd == 0) /* no decay term (as PyTorch): the same bits except that an infinite weight stays
                * infinite (0 * inf would make it NaN); fewer operations in a loop that bounds the step */
    for (int64_t i = 0; i < n; i++)
      p[i] -= lr * g[i];
  else
    for (int64_t i = 0; i < n; i++)
      p[i] -= lr * (g[i] + wd * p[i]);
}

__attribute__((target_clones("avx2", "default"))) static void
sgd_momentum_range(float *restrict p, const float *restrict g, float *restrict s1, int64_t n, float wd,
                   float mu, float lr) {
  for (int64_t i = 0; i < n; i++) {
    float b = mu * s1[i] + (g[i] + wd * p[i]);
    s1[i] = b;
    p[i] -= lr * b;
  }
}

/* SGD on an O x I weight whose gradient is rank-1 (deferred by the exec): gi = +0 + gf[o] x[i]
 * rounded as tl_k_linear_ger_assign writes it, then exactly the sgd_range / sgd_momentum_range step */
__attribute__((target_clones("avx2", "default"))) static void
sgd_ger_range(float *restrict p, const float *restrict gf, const float *restrict x, float *restrict s1,
              int64_t O, int64_t I, float wd, float mu, float lr) {
  for (int64_t o = 0; o < O; o++) {
    float go = gf[o], *restrict po = p + o * I;
    if (mu != 0) {
      float *restrict so = s1 + o * I;
      for (int64_t i = 0; i < I; i++) {
        float gi = 0.0f + go * x[i];
        float b = mu * so[i] + (gi + wd * po[i]);
        so[i] = b;
        po[i] -= lr * b;
      }
    } else if (wd == 0) { /* as sgd_range */
      for (int64_t i = 0; i < I; i++)
        po[i] -= lr * (0.0f + go * x[i]);
    } else {
      for (int64_t i = 0; i < I; i++) {
        float gi = 0.0f + go * x[i];
        po[i] -= lr * (gi + wd * po[i]);
      }
    }
  }
}

/* Update p[0..n) with gradients g; s1, s2 are this range's state. t = step number (1-based). */
static void update_range(const tl_optim_config *c, double lr, int64_t t, float *p, const float *g, float *s1,
                         float *s2, int64_t n) {
  const float wd = (float)c->weight_decay;
  switch (c->kind) {
  case TL_OPT_SGD: /* buf = mu buf + g; p -= lr buf */
    if (c->momentum != 0)
      sgd_momentum_range(p, g, s1, n, wd, (float)c->momentum, (float)lr);
    else
      sgd_range(p, g, n, wd, (float)lr);
    break;
  case TL_OPT_ADAGRAD: /* sum += g^2; p -= lr g / (sqrt(sum) + eps) */
    for (int64_t i = 0; i < n; i++) {
      float gi = g[i] + wd * p[i];
      s1[i] += gi * gi;
      p[i] -= (float)lr * gi / (sqrtf(s1[i]) + (float)c->eps);
    }
    break;
  case TL_OPT_RMSPROP: /* v = a v + (1-a) g^2; p -= lr g / (sqrt(v) + eps) */
    for (int64_t i = 0; i < n; i++) {
      float gi = g[i] + wd * p[i];
      s1[i] = (float)c->alpha * s1[i] + (float)(1 - c->alpha) * gi * gi;
      p[i] -= (float)lr * gi / (sqrtf(s1[i]) + (float)c->eps);
    }
    break;
  case TL_OPT_ADAM:
  case TL_OPT_ADAMW: {
    /* m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps) */
    double bc1 = 1 - pow(c->beta1, (double)t), bc2 = 1 - pow(c->beta2, (double)t);
    float step = (float)(lr / bc1), rbc2 = (float)sqrt(bc2);
    float b1 = (float)c->beta1, b2 = (float)c->beta2;
    int adamw = c->kind == TL_OPT_ADAMW;
    if (adamw) {
      float decay = (float)(1 - lr * c->weight_decay);
      for (int64_t i = 0; i < n; i++) /* decoupled decay first */
        p[i] *= decay;
    }
    if (adamw)
      adam_range(p, g, s1, s2, n, 0, wd, b1, b2, step, rbc2, (float)c->eps);
    else
      adam_range(p, g, s1, s2, n, 1, wd, b1, b2, step, rbc2, (float)c->eps);
    break;
  }
  case TL_OPT_ADADELTA: /* v = r v + (1-r) g^2; d = sqrt(u+eps)/sqrt(v+eps) g; u = r u + (1-r) d^2; p -= lr d
                         */
    for (int64_t i = 0; i < n; i++) {
      float gi = g[i] + wd * p[i];
      float r = (float)c->rho, e = (float)c->eps;
      s1[i] = r * s1[i] + (1 - r) * gi * gi;
      float d = sqrtf(s2[i] + e) / sqrtf(s1[i] + e) * gi;
      s2[i] = r * s2[i] + (1 - r) * d * d;
      p[i] -= (float)lr * d;
    }
    break;
  }
}

tl_code tl_optim_step(tl_optim *o, tl_graph *g, const float *grads, double lr, tl_status *st) {
  if (g->nweights != o->n)
    return tl_fail(st, TL_EARG, "optim: made for %lld weights, graph has %lld", (long long)o->n,
                   (long long)g->nweights);
  o->t++;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM || n->pkind != TL_PARAM_TRAINABLE)
      continue;
    update_range(&o->cfg, lr, o->t, g->weights + n->woff, grads + n->woff, o->s1 + n->woff, o->s2 + n->woff,
                 n->numel);
  }
  return TL_OK;
}

tl_code tl_optim_step_exec(tl_optim *o, tl_exec *e, double lr, tl_status *st) {
  tl_graph *g = tl_exec_graph(e);
  if (g->nweights != o->n)
    return tl_fail(st, TL_EARG, "optim: made for %lld weights, graph has %lld", (long long)o->n,
                   (long long)g->nweights);
  float *grads = tl_exec_param_grads_partial(e);
  if (!grads)
    return tl_fail(st, TL_ENOMEM, "optim: out of memory for parameter gradients");
  o->t++;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM || n->pkind != TL_PARAM_TRAINABLE)
      continue;
    const float *gf, *xf;
    int64_t O;
    if (tl_exec_grad_factors(e, i, &gf, &xf, &O)) {
      if (o->cfg.kind == TL_OPT_SGD) {
        sgd_ger_range(g->weights + n->woff, gf, xf, o->s1 + n->woff, O, n->numel / O,
                      (float)o->cfg.weight_decay, (float)o->cfg.momentum, (float)lr);
        continue;
      }
      tl_exec_grad_materialize(e, i);
    }
    update_range(&o->cfg, lr, o->t, g->weights + n->woff, grads + n->woff, o->s1 + n->woff, o->s2 + n->woff,
                 n->numel);
  }
  return TL_OK;
}

double tl_sched_lr(const tl_sched *s, int64_t t) {
  switch (s->kind) {
  case TL_SCHED_CONSTANT: return s->base;
  case TL_SCHED_STEP: return s->base * pow(s->gamma, (double)(t / (s->every > 0 ? s->every : 1)));
  case TL_SCHED_EXPONENTIAL: return s->base * pow(s->gamma, (double)t);
  case TL_SCHED_WARMUP_COSINE:
    if (t < s->warmup)
      return s->base * (double)(t + 1) / (double)s->warmup;
    if (t >= s->total || s->total <= s->warmup)
      return s->min_lr;
    return s->min_lr +
           (s->base - s->min_lr) * 0.5 *
               (1 + cos(3.141592653589793 * (double)(t - s->warmup) / (double)(s->total - s->warmup)));
  }
  return s->base;
}

double tl_clip_grad_norm(const tl_graph *g, float *grads, double max_norm) {
  double sq = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op == TL_OP_PARAM && n->pkind == TL_PARAM_TRAINABLE)
      for (int64_t k = 0; k < n->numel; k++)
        sq += (double)grads[n->woff + k] * grads[n->woff + k];
  }
  double norm = sqrt(sq);
  if (norm > max_norm) {
    float scale = (float)(max_norm / (norm + 1e-6)); /* as PyTorch's clip_grad_norm_ */
    for (int i = 0; i < g->nnodes; i++) {
      const tl_node *n = &g->nodes[i];
      if (n->op == TL_OP_PARAM && n->pkind == TL_PARAM_TRAINABLE)
        for (int64_t k = 0; k < n->numel; k++)
          grads[n->woff + k] *= scale;
    }
  }
  return norm;
}

void tl_clip_grad_value(const tl_graph *g, float *grads, double v) {
  float hi = (float)v;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op == TL_OP_PARAM && n->pkind == TL_PARAM_TRAINABLE)
      for (int64_t k = 0; k < n->numel; k++) {
        float *x = &grads[n->woff + k];
        *x = *x > hi ? hi : *x < -hi ? -hi : *x;
      }
  }
}
