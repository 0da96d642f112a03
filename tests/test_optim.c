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
      cr_assert(fabs(got - ref) <= 2e-6 * (1 + fabs(ref)), "%s step %d weight %d: got %a want %a", name, t, i, got,
                ref);
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
