/* test_optim.c - optimizers against PyTorch trajectories, schedulers, clipping. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "torchlean/optim.h"

#define NP 5
static const float P0[NP] = {0.5f, -1.25f, 2.0f, 0.0f, -0.125f};

static double grad(int t, int i) { return ((t + 1) * (i - 2) + 0.5) / 8.0; }

/* graph with one trainable param of 5 weights and one buffer that must never change */
static tl_graph *make_graph(void) {
  tl_graph *g = tl_graph_new();
  int id;
  int64_t s[] = {NP}, b[] = {2};
  float buf[2] = {7, 8};
  cr_assert_eq(tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 1, s, P0, &id, NULL), TL_OK);
  cr_assert_eq(tl_graph_param(g, "running", TL_PARAM_BUFFER, 1, b, buf, &id, NULL), TL_OK);
  return g;
}

static void check_case(const char *name, tl_optim_config cfg) {
  FILE *f = fopen(TL_FIXTURES "/optim/optim_reference.txt", "r");
  cr_assert_not_null(f);
  char line[1024];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    char want[64];
    snprintf(want, sizeof want, "case %s\n", name);
    if (strcmp(line, want) == 0) {
      found = 1;
      break;
    }
  }
  cr_assert(found, "case %s missing from fixture", name);
  tl_graph *g = make_graph();
  tl_optim *o;
  cr_assert_eq(tl_optim_new(&o, &cfg, g->nweights, NULL), TL_OK);
  float grads[NP + 2];
  for (int t = 0; t < 5; t++) {
    for (int i = 0; i < NP; i++)
      grads[i] = (float)grad(t, i);
    grads[NP] = grads[NP + 1] = 100; /* gradient on a buffer: ignored */
    cr_assert_eq(tl_optim_step(o, g, grads, cfg.lr, NULL), TL_OK);
    cr_assert(fgets(line, sizeof line, f));
    char *p = line;
    for (int i = 0; i < NP; i++) {
      char *end;
      double ref = strtod(p, &end);
      p = end;
      double got = g->weights[i];
      cr_assert(fabs(got - ref) <= 2e-6 * (1 + fabs(ref)), "%s step %d weight %d: got %a want %a", name, t, i,
                got, ref);
    }
    cr_assert_eq(g->weights[NP], 7.0f);
    cr_assert_eq(g->weights[NP + 1], 8.0f);
  }
  fclose(f);
  tl_optim_free(o);
  tl_graph_free(g);
}

Test(optim, sgd_matches_pytorch) { check_case("sgd", tl_optim_sgd(0.1, 0)); }
Test(optim, sgd_momentum_weight_decay_matches_pytorch) {
  tl_optim_config c = tl_optim_sgd(0.1, 0.9);
  c.weight_decay = 0.01;
  check_case("sgd_momentum_wd", c);
}
Test(optim, adagrad_matches_pytorch) { check_case("adagrad", tl_optim_adagrad(0.1)); }
Test(optim, rmsprop_matches_pytorch) { check_case("rmsprop", tl_optim_rmsprop(0.01)); }
Test(optim, adam_matches_pytorch) { check_case("adam", tl_optim_adam(0.01)); }
Test(optim, adamw_matches_pytorch) { check_case("adamw", tl_optim_adamw(0.01)); }
Test(optim, adadelta_matches_pytorch) { check_case("adadelta", tl_optim_adadelta(1.0)); }

Test(optim, parse_names_and_reject_unknown) {
  tl_optim_config c;
  cr_assert_eq(tl_optim_parse("adamw", 0.5, &c), TL_OPT_ADAMW);
  cr_assert_eq(c.lr, 0.5);
  cr_assert_eq(c.weight_decay, 0.01);
  cr_assert_eq(tl_optim_parse("lbfgs", 0.5, &c), -1);
}

Test(optim, negative_lr_rejected) {
  tl_optim *o;
  tl_optim_config c = tl_optim_sgd(-1, 0);
  tl_status st;
  cr_assert_eq(tl_optim_new(&o, &c, 3, &st), TL_EVALUE);
  cr_assert(strstr(st.msg, "sgd"));
}

Test(sched, formulas) {
  tl_sched s = {.kind = TL_SCHED_STEP, .base = 0.1, .gamma = 0.5, .every = 10};
  cr_assert_float_eq(tl_sched_lr(&s, 9), 0.1, 1e-15);
  cr_assert_float_eq(tl_sched_lr(&s, 10), 0.05, 1e-15);
  cr_assert_float_eq(tl_sched_lr(&s, 25), 0.025, 1e-15);
  s = (tl_sched){.kind = TL_SCHED_EXPONENTIAL, .base = 1.0, .gamma = 0.9};
  cr_assert_float_eq(tl_sched_lr(&s, 3), 0.729, 1e-12);
  s = (tl_sched){.kind = TL_SCHED_WARMUP_COSINE, .base = 1.0, .warmup = 4, .total = 14, .min_lr = 0.1};
  cr_assert_float_eq(tl_sched_lr(&s, 0), 0.25, 1e-15);
  cr_assert_float_eq(tl_sched_lr(&s, 3), 1.0, 1e-15);
  cr_assert_float_eq(tl_sched_lr(&s, 4), 1.0, 1e-15);
  cr_assert_float_eq(tl_sched_lr(&s, 9), 0.55, 1e-12); /* half way: (peak + min) / 2 */
  cr_assert_float_eq(tl_sched_lr(&s, 14), 0.1, 1e-15);
  cr_assert_float_eq(tl_sched_lr(&s, 100), 0.1, 1e-15);
  s = (tl_sched){.kind = TL_SCHED_CONSTANT, .base = 0.3};
  cr_assert_eq(tl_sched_lr(&s, 1000), 0.3);
}

Test(clip, by_norm_and_value_skip_buffers) {
  tl_graph *g = make_graph();
  float grads[NP + 2] = {3, 4, 0, 0, 0, 50, 50};
  double norm = tl_clip_grad_norm(g, grads, 1.0);
  cr_assert_float_eq(norm, 5.0, 1e-12);
  cr_assert_float_eq(grads[0], 0.6f, 1e-6);
  cr_assert_float_eq(grads[1], 0.8f, 1e-6);
  cr_assert_eq(grads[5], 50);
  float g2[NP + 2] = {3, -4, 0.5f, 0, 0, 50, 50};
  tl_clip_grad_value(g, g2, 1.0);
  cr_assert_eq(g2[0], 1);
  cr_assert_eq(g2[1], -1);
  cr_assert_eq(g2[2], 0.5f);
  cr_assert_eq(g2[6], 50);
  tl_graph_free(g);
}

/* ---- tl_optim_step_exec: the same bits as tl_optim_step on tl_exec_param_grads ---------------
 * MLP 12-8-3 (cross entropy): at batch 1 the exec defers the first layer's weight gradient as
 * rank-1 factors and SGD fuses them into the update; the gradients stay readable afterwards. */
#include "torchlean/exec.h"

typedef struct fused_run {
  tl_graph *g;
  tl_exec *e;
  tl_optim *o;
  tl_ctx c;
  int p[4], X, T, loss;
  int64_t batch;
} fused_run;

static void fused_build(fused_run *r, const float *x, const float *t) {
  int64_t xs[2] = {r->batch, 12}, ts[2] = {r->batch, 3};
  r->X = tl_input(&r->c, "x", 2, xs);
  r->T = tl_input(&r->c, "t", 2, ts);
  if (x) { /* eager: inputs before the ops that run at once */
    cr_assert_eq(tl_exec_set_input(r->e, r->X, x, NULL), TL_OK);
    cr_assert_eq(tl_exec_set_input(r->e, r->T, t, NULL), TL_OK);
  }
  r->loss = tl_cross_entropy(
      &r->c, tl_linear(&r->c, tl_relu(&r->c, tl_linear(&r->c, r->X, r->p[0], r->p[1])), r->p[2], r->p[3]),
      r->T);
}

static void fused_init(fused_run *r, tl_exec_mode mode, int64_t batch, const tl_optim_config *cfg) {
  memset(r, 0, sizeof *r);
  r->g = tl_graph_new();
  r->batch = batch;
  int64_t s[4][2] = {{8, 12}, {8, 0}, {3, 8}, {3, 0}};
  for (int k = 0; k < 4; k++) {
    int64_t n = s[k][0] * (s[k][1] ? s[k][1] : 1);
    float w[96];
    for (int64_t i = 0; i < n; i++)
      w[i] = (float)(((i * 37 + k * 11) % 17) - 8) / 16.0f;
    const char *names[4] = {"w1", "b1", "w2", "b2"};
    cr_assert_eq(tl_graph_param(r->g, names[k], TL_PARAM_TRAINABLE, s[k][1] ? 2 : 1, s[k], w, &r->p[k], NULL),
                 TL_OK);
  }
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = mode, o.training = 1;
  cr_assert_eq(tl_exec_new(&r->e, r->g, &o, NULL), TL_OK);
  tl_exec_set_input_grads(r->e, 0);
  cr_assert_eq(tl_optim_new(&r->o, cfg, r->g->nweights, NULL), TL_OK);
  if (mode == TL_COMPILED) {
    tl_ctx_init(&r->c, r->g, NULL);
    fused_build(r, NULL, NULL);
    cr_assert_eq(tl_exec_plan(r->e, NULL), TL_OK);
  }
}

static void fused_fwd_bwd(fused_run *r, int step, int zero) {
  float x[2 * 12], t[2 * 3] = {0};
  for (int i = 0; i < 2 * 12; i++)
    x[i] = (float)((i * 7 + step * 5) % 13) / 8.0f - 0.7f;
  for (int b = 0; b < 2; b++)
    t[b * 3 + (step + b) % 3] = 1;
  if (zero)
    tl_exec_zero_grad(r->e);
  if (!tl_exec_is_compiled(r->e)) {
    tl_graph_truncate(r->g, 4);
    tl_exec_reset(r->e, 4);
    tl_ctx_init(&r->c, r->g, r->e);
    fused_build(r, x, t);
  } else {
    cr_assert_eq(tl_exec_set_input(r->e, r->X, x, NULL), TL_OK);
    cr_assert_eq(tl_exec_set_input(r->e, r->T, t, NULL), TL_OK);
    cr_assert_eq(tl_exec_forward(r->e, NULL), TL_OK);
  }
  cr_assert_eq(tl_exec_backward(r->e, r->loss, NULL, NULL), TL_OK);
}

static void fused_free(fused_run *r) {
  tl_optim_free(r->o);
  tl_exec_free(r->e);
  tl_graph_free(r->g);
}

/* variant 0: plain steps; 1: read tl_exec_grad(W1) before the step; 2: a second backward accumulates
 * onto a deferred gradient; 3: new inputs set before the gradients are read after the step */
static void fused_case(tl_exec_mode mode, int64_t batch, tl_optim_config cfg, int variant) {
  fused_run a, b;
  fused_init(&a, mode, batch, &cfg);
  fused_init(&b, mode, batch, &cfg);
  for (int step = 0; step < 4; step++) {
    fused_fwd_bwd(&a, step, 1);
    fused_fwd_bwd(&b, step, 1);
    if (variant == 1) {
      const float *gb = tl_exec_param_grads(b.e) + b.g->nodes[b.p[0]].woff; /* written for sure */
      const float *ga = tl_exec_grad(a.e, a.p[0]);
      cr_assert(ga && memcmp(ga, gb, 96 * sizeof *ga) == 0, "grad W1 differs at step %d", step);
    }
    if (variant == 2) {
      fused_fwd_bwd(&a, step + 1, 0); /* a: backward writes the deferred slice first */
      (void)tl_exec_param_grads(b.e); /* b: written here, before the second backward */
      fused_fwd_bwd(&b, step + 1, 0);
    }
    cr_assert_eq(tl_optim_step_exec(a.o, a.e, cfg.lr, NULL), TL_OK);
    cr_assert_eq(tl_optim_step(b.o, b.g, tl_exec_param_grads(b.e), cfg.lr, NULL), TL_OK);
    cr_assert(memcmp(a.g->weights, b.g->weights, (size_t)a.g->nweights * sizeof(float)) == 0,
              "weights differ after step %d (mode %d batch %lld variant %d)", step, mode, (long long)batch,
              variant);
    if (variant == 3) {
      float junk[2 * 12];
      for (int i = 0; i < 2 * 12; i++)
        junk[i] = 1000.0f + (float)i;
      tl_exec_set_input(a.e, a.X, junk, NULL);
    }
    if (variant != 0 || step == 3)
      cr_assert(memcmp(tl_exec_param_grads(a.e), tl_exec_param_grads(b.e),
                       (size_t)a.g->nweights * sizeof(float)) == 0,
                "gradients differ after step %d (mode %d batch %lld variant %d)", step, mode,
                (long long)batch, variant);
  }
  fused_free(&a);
  fused_free(&b);
}

Test(optim, step_exec_same_bits_as_step_on_param_grads) {
  tl_optim_config sgdm = tl_optim_sgd(0.1, 0.9);
  sgdm.weight_decay = 0.01;
  tl_optim_config cfgs[] = {tl_optim_sgd(0.1, 0), sgdm, tl_optim_adam(0.01)};
  for (int m = 0; m < 2; m++)
    for (int64_t batch = 1; batch <= 2; batch++)
      for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++)
        for (int v = 0; v < 4; v++)
          fused_case(m ? TL_COMPILED : TL_EAGER, batch, cfgs[c], v);
}
