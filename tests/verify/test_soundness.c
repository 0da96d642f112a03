/* test_soundness.c - no certified claim is ever contradicted.
 *
 * Small networks are TRAINED here (SGD through the runtime's autograd on a synthetic 3-class
 * problem; the MLPs start with a Normalize layer (x - mean) * inv_std of constant parameters, as
 * the zoo models do), plus a random tiny CNN (conv, batch norm, max/avg pool).  Regions around
 * training points are certified with IBP and CROWN in both semantics.  Then, inside every
 * certified region, points are sampled (box corners, faces, interior) and a PGD attack maximises
 * the violation of the certified margin; every point is evaluated
 *   - exactly (tl_exact_eval: GMP rationals / MPFR enclosures), always, and, for f32-any claims,
 *   - in float32 by the runtime (FAST kernels = OpenBLAS, REF kernels) and by a plain C forward
 *     pass with sequential, reversed and pairwise dot products (tests/support/vnets.c);
 * every value must lie inside the certified output box, every margin above the certified row
 * lower bound, and the certified property must hold.  Zero exceptions.
 *
 * Size: TL_SOUNDNESS_POINTS (default 100000) is the number of sampled points in total; the
 * sanitizer build sets it smaller (tests/CMakeLists.txt).  Seeds are fixed: a failure reproduces.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/exec.h"
#include "torchlean/rand.h"
#include "torchlean/verify.h"
#include "vnets.h"

#define D 8
#define NC 3
#define NTRAIN 160

/* ---- models ------------------------------------------------------------------------------- */
static int param(tl_graph *g, const char *nm, tl_param_kind k, int nd, const int64_t *sh, const float *w) {
  int id;
  cr_assert_eq(tl_graph_param(g, nm, k, nd, sh, w, &id, NULL), TL_OK);
  return id;
}

static int op(tl_graph *g, tl_op o, int np, const int *p) {
  int id;
  tl_status st;
  cr_assert_eq(tl_graph_op(g, o, np, p, NULL, &id, &st), TL_OK, "%s", st.msg);
  return id;
}

static int linear(tl_graph *g, tl_rng *r, int x, int in, int out, const char *nm) {
  float *w = malloc((size_t)in * out * sizeof *w), b[64];
  for (int i = 0; i < in * out; i++)
    w[i] = (float)((2 * tl_rng_uniform(r) - 1) * 1.5 / sqrt(in));
  for (int i = 0; i < out; i++)
    b[i] = (float)(0.1 * (2 * tl_rng_uniform(r) - 1));
  char a[64], c[64];
  snprintf(a, sizeof a, "%s.weight", nm), snprintf(c, sizeof c, "%s.bias", nm);
  int64_t ws[2] = {out, in}, bs[1] = {out};
  int p[3] = {x, param(g, a, TL_PARAM_TRAINABLE, 2, ws, w), param(g, c, TL_PARAM_TRAINABLE, 1, bs, b)};
  free(w);
  return op(g, TL_OP_LINEAR, 3, p);
}

/* x (1, D) -> (x - mean) * inv_std -> linear h -> act -> linear h -> relu -> linear NC */
static tl_graph *norm_mlp(uint64_t seed, int h, tl_op act) {
  tl_rng r;
  tl_rng_init(&r, seed);
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, D}, one[1] = {1};
  int x;
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &x, NULL), TL_OK);
  float mean = 0.4375f, inv = 2.5f;
  int pm = param(g, "norm.mean", TL_PARAM_CONSTANT, 1, one, &mean);
  int pi = param(g, "norm.inv_std", TL_PARAM_CONSTANT, 1, one, &inv);
  int y = op(g, TL_OP_SUB, 2, (int[]){x, pm});
  y = op(g, TL_OP_MUL, 2, (int[]){y, pi});
  y = linear(g, &r, y, D, h, "l1");
  y = op(g, act, 1, &y);
  y = linear(g, &r, y, h, h, "l2");
  y = op(g, TL_OP_RELU, 1, &y);
  y = linear(g, &r, y, h, NC, "l3");
  cr_assert_eq(tl_graph_mark_output(g, y, NULL), TL_OK);
  return g;
}

/* synthetic task: label = argmax of a fixed random linear map of x in [0, 1]^D */
static void make_data(uint64_t seed, float *x, int *lab, int n) {
  tl_rng r;
  tl_rng_init(&r, seed);
  float T[NC][D];
  for (int c = 0; c < NC; c++)
    for (int i = 0; i < D; i++)
      T[c][i] = (float)(2 * tl_rng_uniform(&r) - 1);
  for (int k = 0; k < n; k++) {
    double best = -1e9;
    for (int i = 0; i < D; i++)
      x[k * D + i] = (float)(int)(256 * tl_rng_uniform(&r)) / 256.0f; /* pixel-like values */
    for (int c = 0; c < NC; c++) {
      double s = 0;
      for (int i = 0; i < D; i++)
        s += T[c][i] * (x[k * D + i] - 0.5);
      if (s > best)
        best = s, lab[k] = c;
    }
  }
}

/* plain SGD on softmax cross-entropy; gradients by the runtime's reverse mode */
static void train(tl_graph *g, const float *x, const int *lab, int n, int epochs, double lr) {
  tl_exec *e;
  tl_exec_opts eo = tl_exec_opts_default();
  eo.mode = TL_COMPILED;
  tl_status st;
  cr_assert_eq(tl_exec_new(&e, g, &eo, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s", st.msg);
  int out = g->outputs[0];
  for (int ep = 0; ep < epochs; ep++)
    for (int k = 0; k < n; k++) {
      cr_assert_eq(tl_exec_set_input(e, g->inputs[0], x + k * D, &st), TL_OK);
      cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
      const float *y = tl_exec_value(e, out);
      double m = fmax(fmax(y[0], y[1]), y[2]), s = 0, p[NC];
      for (int c = 0; c < NC; c++)
        s += (p[c] = exp(y[c] - m));
      float seed[NC];
      for (int c = 0; c < NC; c++)
        seed[c] = (float)(p[c] / s - (c == lab[k]));
      tl_exec_zero_grad(e);
      cr_assert_eq(tl_exec_backward(e, out, seed, &st), TL_OK, "%s", st.msg);
      const float *gr = tl_exec_param_grads(e);
      for (int i = 0; i < g->nnodes; i++) {
        const tl_node *nd = &g->nodes[i];
        if (nd->op != TL_OP_PARAM || nd->pkind != TL_PARAM_TRAINABLE)
          continue;
        for (int64_t j = 0; j < nd->numel; j++)
          g->weights[nd->woff + j] -= (float)(lr * gr[nd->woff + j]);
      }
    }
  tl_exec_free(e);
}

/* ---- float32 evaluations ------------------------------------------------------------------- */
typedef struct evals {
  tl_graph *g;
  tl_exec *fast, *ref;
  int in, out;
  int64_t n, nout;
} evals;

static void evals_open(evals *v, tl_graph *g) {
  tl_status st;
  v->g = g, v->in = g->inputs[0], v->out = g->outputs[0];
  v->n = g->nodes[v->in].numel, v->nout = g->nodes[v->out].numel;
  tl_exec_opts eo = tl_exec_opts_default();
  eo.mode = TL_COMPILED;
  cr_assert_eq(tl_exec_new(&v->fast, g, &eo, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_plan(v->fast, &st), TL_OK, "%s", st.msg);
  eo.kernels = TL_KERNELS_REF;
  cr_assert_eq(tl_exec_new(&v->ref, g, &eo, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_plan(v->ref, &st), TL_OK, "%s", st.msg);
}

static void evals_close(evals *v) { tl_exec_free(v->fast), tl_exec_free(v->ref); }

static void run_exec(tl_exec *e, const evals *v, const float *x, float *y) {
  tl_status st;
  cr_assert_eq(tl_exec_set_input(e, v->in, x, &st), TL_OK);
  cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
  memcpy(y, tl_exec_value(e, v->out), (size_t)v->nout * sizeof *y);
}

/* gradient (FAST runtime) of y[j] - y[label] w.r.t. x, and y */
static void grad_margin(const evals *v, const float *x, int label, int j, float *gx, float *y) {
  tl_status st;
  run_exec(v->fast, v, x, y);
  float seed[16] = {0};
  seed[j] = 1, seed[label] = -1;
  cr_assert_eq(tl_exec_backward(v->fast, v->out, seed, &st), TL_OK, "%s", st.msg);
  memcpy(gx, tl_exec_grad(v->fast, v->in), (size_t)v->n * sizeof *gx);
}

/* ---- checking one point against one certified result ------------------------------------------- */
typedef struct tally {
  long long points, evals, exceptions, regions;
} tally;

/* margin rows of the robust property: row k is y_label - y_j (objective a = -c), j != label */
static void check_values(tally *t, const tl_verify_result *res, int out, int label, int nout,
                         const double *ylo, const double *yhi, const char *what, const float *x, int64_t n) {
  const double *blo = res->bounds->lo[out], *bhi = res->bounds->hi[out];
  int bad = 0;
  for (int j = 0; j < nout; j++)
    if (!(blo[j] <= ylo[j] && yhi[j] <= bhi[j]))
      bad = 1;
  for (int j = 0, k = 0; j < nout; j++) {
    if (j == label)
      continue;
    /* the property certainly holds, and the certified lower bound of the margin y_label - y_j is
     * not above the margin's largest possible value (rounded up) */
    if (!(ylo[label] > yhi[j]) || !(res->row_lower[k] <= nextafter(yhi[label] - ylo[j], INFINITY)))
      bad = 1;
    k++;
  }
  t->evals++;
  if (bad) {
    t->exceptions++;
    if (t->exceptions <= 5) {
      fprintf(stderr, "SOUNDNESS EXCEPTION (%s, %s, %s, label %d): y =", what, tl_method_name(res->method),
              tl_semantics_name(res->sem), label);
      for (int j = 0; j < nout; j++)
        fprintf(stderr, " [%a, %a] in [%a, %a]", ylo[j], yhi[j], blo[j], bhi[j]);
      fprintf(stderr, "\n  x =");
      for (int64_t i = 0; i < n; i++)
        fprintf(stderr, " %a", (double)x[i]);
      fprintf(stderr, "\n");
    }
  }
}

static void check_point(tally *t, const evals *v, const tl_verify_result *res, int label, const float *x) {
  int nout = (int)v->nout;
  double ylo[16], yhi[16], fl[16];
  float y[16];
  cr_assert_eq(tl_exact_eval(v->g, x, ylo, yhi, NULL), TL_OK);
  check_values(t, res, v->out, label, nout, ylo, yhi, "exact", x, v->n);
  if (res->sem == TL_SEM_F32_ANY) {
    for (int w = 0; w < 2; w++) {
      run_exec(w ? v->ref : v->fast, v, x, y);
      for (int j = 0; j < nout; j++)
        fl[j] = y[j];
      check_values(t, res, v->out, label, nout, fl, fl, w ? "runtime REF" : "runtime FAST", x, v->n);
    }
    for (int o = 0; o < VORD_COUNT; o++) {
      cr_assert_eq(vnet_f32_forward(v->g, x, (vnet_order)o, y), 0);
      for (int j = 0; j < nout; j++)
        fl[j] = y[j];
      check_values(t, res, v->out, label, nout, fl, fl,
                   o == 0   ? "C seq"
                   : o == 1 ? "C reversed"
                            : "C pairwise",
                   x, v->n);
    }
  }
  t->points++;
}

/* the float nearest to the end of [lo, hi] that lies inside it (up: from hi) */
static float end_float(double lo, double hi, int up) {
  float f = (float)(up ? hi : lo);
  if ((double)f > hi)
    f = nextafterf(f, -INFINITY);
  if ((double)f < lo)
    f = nextafterf(f, INFINITY);
  return f;
}

/* sample `count` points of the certified box and run PGD; check all of them */
static void attack_region(tally *t, const evals *v, const tl_region *r, const tl_verify_result *res,
                          int label, long long count, tl_rng *rng) {
  int64_t n = r->n;
  float x[64], gx[64], y[16];
  cr_assert(n <= 64);
  for (long long k = 0; k < count; k++) {
    int kind = (int)(k % 3); /* 0 corner, 1 face, 2 interior */
    int64_t face = (int64_t)tl_rng_below(rng, (uint64_t)n);
    for (int64_t i = 0; i < n; i++) {
      int corner = kind == 0 || (kind == 1 && i == face);
      if (corner)
        x[i] = end_float(r->lo[i], r->hi[i], (int)(tl_rng_u64(rng) & 1));
      else {
        float f = (float)(r->lo[i] + (r->hi[i] - r->lo[i]) * tl_rng_uniform(rng));
        x[i] = fminf(fmaxf(f, end_float(r->lo[i], r->hi[i], 0)), end_float(r->lo[i], r->hi[i], 1));
      }
    }
    check_point(t, v, res, label, x);
  }
  /* PGD: maximise y_j - y_label for the strongest competitor j, signed gradient, from the center
   * and from random corners; every iterate is checked */
  for (int rs = 0; rs < 3; rs++) {
    for (int64_t i = 0; i < n; i++)
      x[i] = rs == 0 ? end_float(r->lo[i], r->hi[i], 0) * 0.5f + end_float(r->lo[i], r->hi[i], 1) * 0.5f
                     : end_float(r->lo[i], r->hi[i], (int)(tl_rng_u64(rng) & 1));
    for (int it = 0; it < 20; it++) {
      run_exec(v->fast, v, x, y);
      int j = label == 0 ? 1 : 0;
      for (int c = 0; c < v->nout; c++)
        if (c != label && y[c] > y[j])
          j = c;
      grad_margin(v, x, label, j, gx, y);
      double step = 0.25 * (1.0 - it / 20.0);
      for (int64_t i = 0; i < n; i++) {
        double w = r->hi[i] - r->lo[i], z = (double)x[i] + (gx[i] > 0 ? step * w : gx[i] < 0 ? -step * w : 0);
        float f = (float)fmin(fmax(z, r->lo[i]), r->hi[i]);
        x[i] = fminf(fmaxf(f, end_float(r->lo[i], r->hi[i], 0)), end_float(r->lo[i], r->hi[i], 1));
      }
      check_point(t, v, res, label, x);
    }
  }
  t->regions++;
}

static long long budget(void) {
  const char *s = getenv("TL_SOUNDNESS_POINTS");
  long long b = s ? atoll(s) : 100000;
  return b > 0 ? b : 100000;
}

/* certify regions of g around the given centers with every method x semantics (CROWN with IBP
 * intermediate bounds on even centers, CROWN intermediate bounds on odd ones); attack the certified
 * ones with `share` sampled points in total */
static void certify_and_attack(tally *t, tl_graph *g, const float *xs, const int *labs, int ncent,
                               const double *eps, int neps, long long share, uint64_t seed) {
  evals v;
  evals_open(&v, g);
  tl_rng rng;
  tl_rng_init(&rng, seed);
  long long certified = 0, per = 0;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      if (!certified)
        break;
      per = share / certified + 1;
    }
    for (int c = 0; c < ncent; c++)
      for (int e = 0; e < neps; e++)
        for (int m = 0; m < 2; m++)
          for (int s = 0; s < 2; s++) {
            tl_region *r;
            tl_property *p;
            cr_assert_eq(tl_region_linf(&r, xs + c * v.n, v.n, eps[e], 1, 0, 1, NULL), TL_OK);
            cr_assert_eq(tl_property_robust(&p, v.nout, labs[c], NULL), TL_OK);
            tl_verify_opts o = tl_verify_opts_default();
            o.method = m ? TL_METHOD_CROWN : TL_METHOD_IBP, o.sem = s ? TL_SEM_F32_ANY : TL_SEM_REAL;
            o.keep_evidence = 1, o.falsify = 0, o.intermediate_crown = c & 1;
            tl_verify_result *res;
            tl_status st;
            cr_assert_eq(tl_verify_sample(g, r, p, &o, &res, &st), TL_OK, "%s", st.msg);
            if (res->verdict == TL_VERDICT_VERIFIED) {
              if (pass == 0)
                certified++;
              else
                attack_region(t, &v, r, res, labs[c], per, &rng);
            }
            tl_verify_result_free(res);
            tl_property_free(p);
            tl_region_free(r);
          }
  }
  evals_close(&v);
}

Test(soundness, certified_regions_hold_everywhere, .timeout = 600) {
  long long total = budget();
  tally t = {0, 0, 0, 0};
  float *x = malloc(NTRAIN * D * sizeof *x);
  int lab[NTRAIN];
  make_data(2024, x, lab, NTRAIN);
  const double eps[3] = {0.004, 0.015, 0.04};
  /* two trained MLPs with a Normalize layer (relu; tanh in the first hidden layer) */
  tl_op acts[2] = {TL_OP_RELU, TL_OP_TANH};
  for (int k = 0; k < 2; k++) {
    tl_graph *g = norm_mlp(31 + k, 16, acts[k]);
    train(g, x, lab, NTRAIN, 12, 0.05);
    /* centers: training points the trained net classifies correctly (exactly) */
    float cs[6 * D];
    int cl[6], nc = 0;
    for (int i = 0; i < NTRAIN && nc < 6; i++) {
      double ylo[NC], yhi[NC];
      cr_assert_eq(tl_exact_eval(g, x + i * D, ylo, yhi, NULL), TL_OK);
      int ok = 1;
      for (int j = 0; j < NC; j++)
        ok &= j == lab[i] || ylo[lab[i]] > yhi[j];
      if (ok) {
        memcpy(cs + nc * D, x + i * D, D * sizeof *x);
        cl[nc++] = lab[i];
      }
    }
    cr_assert(nc >= 4, "training failed: only %d correct centers", nc);
    /* 6 centers x 3 eps x 4 configs; 40% of the point budget per MLP */
    certify_and_attack(&t, g, cs, cl, nc, eps, 3, (long long)(0.4 * total), 77 + k);
    tl_graph_free(g);
  }
  /* the tiny CNN (conv, batch norm, relu, pool, linear), max pool and avg pool, random weights */
  for (int mp = 0; mp < 2; mp++) {
    tl_graph *g = vnet_cnn(5 + mp, mp);
    float cs[4 * 36];
    int cl[4];
    tl_rng r;
    tl_rng_init(&r, 99 + mp);
    for (int c = 0; c < 4; c++) {
      double ylo[3], yhi[3];
      for (int i = 0; i < 36; i++)
        cs[c * 36 + i] = (float)tl_rng_uniform(&r);
      cr_assert_eq(tl_exact_eval(g, cs + c * 36, ylo, yhi, NULL), TL_OK);
      cl[c] = 0;
      for (int j = 1; j < 3; j++)
        if (ylo[j] > ylo[cl[c]])
          cl[c] = j;
    }
    const double ceps[2] = {0.002, 0.01};
    certify_and_attack(&t, g, cs, cl, 4, ceps, 2, (long long)(0.1 * total), 500 + mp);
    tl_graph_free(g);
  }
  free(x);
  printf("soundness: %lld certified regions, %lld points, %lld evaluations, %lld exceptions\n", t.regions,
         t.points, t.evals, t.exceptions);
  cr_assert(t.regions >= 20, "too few certified regions (%lld): the test would prove little", t.regions);
  cr_assert(t.points >= total, "only %lld points checked (want %lld)", t.points, total);
  cr_assert_eq(t.exceptions, 0, "%lld soundness exceptions (see stderr)", t.exceptions);
}
