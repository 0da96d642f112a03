/* test_verify.c - IBP and CROWN enclose exact (GMP) and float32 outputs computed in several
 * orders; CROWN at least as tight as IBP; a rounding-sensitive network stays sound; dataset mode
 * is independent of the thread count. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "torchlean/rand.h"
#include "torchlean/verify.h"
#include "vnets.h"

static int out_id(const tl_graph *g) { return g->noutputs ? g->outputs[0] : g->nnodes - 1; }

/* a point in the region: interior, corner or face, rounded into the box as float32 */
static void sample_point(tl_rng *r, const tl_region *reg, int kind, float *x) {
  for (int64_t i = 0; i < reg->n; i++) {
    double t = tl_rng_uniform(r);
    if (kind == 1 || (kind == 2 && (i % 3) == 0))
      t = t < 0.5 ? 0 : 1;
    double v = reg->lo[i] + t * (reg->hi[i] - reg->lo[i]);
    float f = (float)v;
    if (f < reg->lo[i])
      f = nextafterf(f, INFINITY);
    if (f > reg->hi[i])
      f = nextafterf(f, -INFINITY);
    x[i] = f;
  }
}

static void check_net(tl_graph *g, uint64_t seed, double eps, int npts) {
  tl_rng r;
  tl_rng_init(&r, seed);
  int64_t n = g->nodes[g->inputs[0]].numel, nout = g->nodes[out_id(g)].numel;
  float *c = malloc(n * sizeof *c), *x = malloc(n * sizeof *x), *yf = malloc(nout * sizeof *yf);
  double ylo[16], yhi[16];
  for (int64_t i = 0; i < n; i++)
    c[i] = (float)tl_rng_uniform(&r);
  tl_region *reg;
  cr_assert_eq(tl_region_linf(&reg, c, n, eps, 1, 0.0, 1.0, NULL), TL_OK);
  for (int sem = 0; sem < 2; sem++) {
    tl_bounds *b;
    tl_status st;
    cr_assert_eq(tl_ibp(g, reg, (tl_semantics)sem, &b, &st), TL_OK, "%s", st.msg);
    int o = out_id(g);
    /* robustness rows of label 0 and the CROWN / IBP bounds on them */
    tl_property *p;
    cr_assert_eq(tl_property_robust(&p, nout, 0, NULL), TL_OK);
    double *a = malloc(p->nrows * nout * sizeof *a), li[16], lc[16];
    tl_objective_rows(p, a);
    tl_verify_opts opt = tl_verify_opts_default();
    opt.sem = (tl_semantics)sem, opt.method = TL_METHOD_IBP, opt.falsify = 0;
    tl_verify_result *ri, *rcw, *rci;
    cr_assert_eq(tl_verify_sample(g, reg, p, &opt, &ri, &st), TL_OK, "%s", st.msg);
    opt.method = TL_METHOD_CROWN;
    cr_assert_eq(tl_verify_sample(g, reg, p, &opt, &rcw, &st), TL_OK, "%s", st.msg);
    opt.intermediate_crown = 1;
    cr_assert_eq(tl_verify_sample(g, reg, p, &opt, &rci, &st), TL_OK, "%s", st.msg);
    cr_assert_eq(tl_crown(g, reg, b, p->nrows, a, 0, lc, NULL, &st), TL_OK, "%s", st.msg);
    for (int k = 0; k < p->nrows; k++) {
      li[k] = ri->row_lower[k];
      cr_assert(rcw->row_lower[k] >= li[k], "CROWN looser than IBP on row %d", k);
      cr_assert(rci->row_lower[k] >= li[k]);
      cr_assert(isfinite(li[k]) && isfinite(lc[k]));
    }
    for (int pt = 0; pt < npts; pt++) {
      sample_point(&r, reg, pt % 3, x);
      cr_assert_eq(tl_exact_eval(g, x, ylo, yhi, &st), TL_OK, "%s", st.msg);
      if (sem == TL_SEM_REAL) {
        for (int64_t j = 0; j < nout; j++)
          cr_assert(b->lo[o][j] <= ylo[j] && yhi[j] <= b->hi[o][j], "exact output %lld outside IBP box",
                    (long long)j);
        for (int k = 0; k < p->nrows; k++) {
          double m = 0; /* exact a.y >= ... : use the enclosure's lower end */
          for (int64_t j = 0; j < nout; j++)
            m += a[k * nout + j] >= 0 ? a[k * nout + j] * ylo[j] : a[k * nout + j] * yhi[j];
          cr_assert(rci->row_lower[k] <= m + 1e-12 * (1 + fabs(m)), "row %d: bound %a above exact %a", k,
                    rci->row_lower[k], m);
          cr_assert(rcw->row_lower[k] <= m + 1e-12 * (1 + fabs(m)));
        }
      }
      for (int ord = 0; ord < VORD_COUNT; ord++) {
        cr_assert_eq(vnet_f32_forward(g, x, (vnet_order)ord, yf), 0);
        if (sem == TL_SEM_F32_ANY) {
          for (int64_t j = 0; j < nout; j++)
            cr_assert(b->lo[o][j] <= yf[j] && yf[j] <= b->hi[o][j],
                      "float32 output %lld (order %d) outside f32-any box", (long long)j, ord);
          for (int k = 0; k < p->nrows; k++) {
            double m = 0;
            for (int64_t j = 0; j < nout; j++)
              m += a[k * nout + j] * (double)yf[j]; /* exact: small integer coefficients */
            cr_assert(rci->row_lower[k] <= m && rcw->row_lower[k] <= m && li[k] <= m,
                      "row %d: f32-any bound above a float32 evaluation", k);
          }
        }
      }
    }
    tl_verify_result_free(ri), tl_verify_result_free(rcw), tl_verify_result_free(rci);
    tl_property_free(p);
    free(a);
    tl_bounds_free(b);
  }
  tl_region_free(reg);
  free(c), free(x), free(yf);
}

Test(verify, mlp_relu_bounds_contain_exact_and_float) {
  for (uint64_t s = 1; s <= 4; s++) {
    tl_graph *g = vnet_mlp(s, 5, 8, 7, 3, TL_OP_RELU);
    check_net(g, 100 + s, 0.05, 30);
    tl_graph_free(g);
  }
}

Test(verify, mlp_other_activations) {
  tl_op acts[] = {TL_OP_LEAKY_RELU, TL_OP_SIGMOID, TL_OP_TANH};
  for (int i = 0; i < 3; i++) {
    tl_graph *g = vnet_mlp(7 + i, 4, 6, 6, 3, acts[i]);
    check_net(g, 200 + i, 0.1, 20);
    tl_graph_free(g);
  }
}

Test(verify, tiny_cnn_avg_and_max_pool) {
  for (int mp = 0; mp < 2; mp++) {
    tl_graph *g = vnet_cnn(31 + mp, mp);
    check_net(g, 300 + mp, 0.03, 15);
    tl_graph_free(g);
  }
}

/* SoundnessBench-style: y = w1 x + w2 x + w3 with weights where round-to-nearest bounds are wrong:
 * x in [1, 1] (a point), 1 + 2^-24 is not a float: fl(1 + 2^-24 + 2^-24) depends on order. */
static tl_graph *rounding_net(void) {
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, 3}, ws[2] = {2, 3}, bs[1] = {2};
  int x, w, b, y;
  tl_graph_input(g, "x", 2, xs, &x, NULL);
  float wv[6] = {1.0f, 0x1p-24f, 0x1p-24f, -1.0f, -0x1p-24f, -0x1p-24f};
  float bv[2] = {-1.0f, 1.0f};
  tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 2, ws, wv, &w, NULL);
  tl_graph_param(g, "b", TL_PARAM_TRAINABLE, 1, bs, bv, &b, NULL);
  int p[3] = {x, w, b};
  tl_graph_op(g, TL_OP_LINEAR, 3, p, NULL, &y, NULL);
  tl_graph_mark_output(g, y, NULL);
  return g;
}

Test(verify, rounding_sensitive_network_stays_sound) {
  tl_graph *g = rounding_net();
  float c[3] = {1, 1, 1};
  tl_region *reg;
  cr_assert_eq(tl_region_linf(&reg, c, 3, 0, 0, 0, 0, NULL), TL_OK);
  /* exact: y0 = 1 + 2^-23 - 1 = 2^-23 > 0 = y1 - 2 + ... ; property "y0 > y1" holds in reals */
  tl_property *p;
  cr_assert_eq(tl_property_robust(&p, 2, 0, NULL), TL_OK);
  tl_verify_opts o = tl_verify_opts_default();
  o.falsify = 0;
  tl_verify_result *res;
  o.sem = TL_SEM_REAL;
  cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, NULL), TL_OK);
  cr_assert_eq(res->verdict, TL_VERDICT_VERIFIED); /* real: y0 = 2^-23, y1 = -2^-23 */
  tl_verify_result_free(res);
  /* float32 sequential: (1 + 2^-24) rounds to 1, + 2^-24 -> 1, - 1 -> 0: y0 = 0 = y1: the
   * property y1 - y0 < 0 FAILS in float32; f32-any must not claim it */
  float yf[2], x[3] = {1, 1, 1};
  cr_assert_eq(vnet_f32_forward(g, x, VORD_SEQ, yf), 0);
  cr_assert(!(yf[1] < yf[0]));
  o.sem = TL_SEM_F32_ANY;
  cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, NULL), TL_OK);
  cr_assert_neq(res->verdict, TL_VERDICT_VERIFIED);
  tl_bounds *b;
  cr_assert_eq(tl_ibp(g, reg, TL_SEM_F32_ANY, &b, NULL), TL_OK);
  for (int ord = 0; ord < VORD_COUNT; ord++) {
    cr_assert_eq(vnet_f32_forward(g, x, (vnet_order)ord, yf), 0);
    for (int j = 0; j < 2; j++)
      cr_assert(b->lo[3][j] <= yf[j] && yf[j] <= b->hi[3][j]);
  }
  tl_bounds_free(b);
  tl_verify_result_free(res);
  tl_property_free(p);
  tl_region_free(reg);
  tl_graph_free(g);
}

Test(verify, overflow_makes_f32_unbounded) {
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, 2}, ws[2] = {1, 2};
  int x, w, y;
  tl_graph_input(g, "x", 2, xs, &x, NULL);
  float wv[2] = {FLT_MAX, FLT_MAX};
  tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 2, ws, wv, &w, NULL);
  int p[2] = {x, w};
  tl_graph_op(g, TL_OP_LINEAR, 2, p, NULL, &y, NULL);
  float c[2] = {1, 1};
  tl_region *reg;
  cr_assert_eq(tl_region_linf(&reg, c, 2, 0, 0, 0, 0, NULL), TL_OK);
  tl_bounds *b;
  cr_assert_eq(tl_ibp(g, reg, TL_SEM_F32_ANY, &b, NULL), TL_OK);
  cr_assert(isinf(b->lo[y][0]) && isinf(b->hi[y][0]));
  tl_bounds_free(b);
  cr_assert_eq(tl_ibp(g, reg, TL_SEM_REAL, &b, NULL), TL_OK);
  cr_assert(isfinite(b->hi[y][0]) && b->hi[y][0] >= 2.0 * FLT_MAX);
  tl_bounds_free(b);
  tl_region_free(reg);
  tl_graph_free(g);
}

static int f32_hook(void *user, const tl_graph *g, const float *x, float *y) {
  (void)user;
  return vnet_f32_forward(g, x, VORD_SEQ, y);
}

/* a float32 "model" that always answers the label: the float32 side never confirms */
static int f32_honest_hook(void *user, const tl_graph *g, const float *x, float *y) {
  (void)g, (void)x;
  int label = *(const int *)user;
  for (int j = 0; j < 3; j++)
    y[j] = j == label ? 1.0f : 0.0f;
  return 0;
}

Test(verify, falsified_needs_both_confirmations) {
  tl_graph *g = vnet_mlp(5, 4, 8, 8, 3, TL_OP_RELU);
  float c[4] = {0.5f, 0.5f, 0.5f, 0.5f};
  tl_region *reg;
  cr_assert_eq(tl_region_linf(&reg, c, 4, 0.5, 1, 0, 1, NULL), TL_OK);
  double ylo[3], yhi[3];
  cr_assert_eq(tl_exact_eval(g, c, ylo, yhi, NULL), TL_OK);
  int worst = 0; /* a label that is not the argmax at the center: certainly falsifiable there */
  for (int j = 1; j < 3; j++)
    if (ylo[j] < ylo[worst])
      worst = j;
  tl_property *p;
  cr_assert_eq(tl_property_robust(&p, 3, worst, NULL), TL_OK);
  tl_verify_opts o = tl_verify_opts_default();
  o.f32_eval = f32_honest_hook, o.f32_user = &worst;
  tl_verify_result *res;
  cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, NULL), TL_OK);
  cr_assert_eq(res->verdict, TL_VERDICT_UNKNOWN); /* float32 does not confirm: not falsified */
  cr_assert(res->cex && res->cex_exact && !res->cex_f32);
  tl_verify_result_free(res);
  o.f32_eval = f32_hook;
  cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, NULL), TL_OK);
  cr_assert_eq(res->verdict, TL_VERDICT_FALSIFIED);
  tl_verify_result_free(res);
  o.f32_eval = NULL; /* the default: the float32 runtime confirms */
  cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, NULL), TL_OK);
  cr_assert_eq(res->verdict, TL_VERDICT_FALSIFIED);
  cr_assert(res->cex_exact && res->cex_f32);
  tl_verify_result_free(res);
  float yr[3], ys[3];
  cr_assert_eq(tl_verify_confirm_f32_runtime(g, c, yr, NULL), TL_OK);
  cr_assert_eq(vnet_f32_forward(g, c, VORD_SEQ, ys), 0);
  for (int j = 0; j < 3; j++)
    cr_assert_float_eq(yr[j], ys[j], 1e-4 * (1 + fabsf(ys[j])));
  tl_property_free(p);
  tl_region_free(reg);
  tl_graph_free(g);
}

/* PGD finds counterexamples that the center and the CROWN corners miss, and never reports one
 * outside the region */
Test(verify, pgd_falsifies_inside_region) {
  int found = 0;
  for (int k = 0; k < 12; k++) {
    tl_graph *g = vnet_mlp(100 + k, 6, 16, 16, 4, TL_OP_RELU);
    tl_rng r;
    tl_rng_init(&r, 7 + k);
    float c[6];
    for (int i = 0; i < 6; i++)
      c[i] = (float)tl_rng_uniform(&r);
    double ylo[4], yhi[4];
    cr_assert_eq(tl_exact_eval(g, c, ylo, yhi, NULL), TL_OK);
    int label = 0;
    for (int j = 1; j < 4; j++)
      if (ylo[j] > ylo[label])
        label = j;
    tl_property *p;
    cr_assert_eq(tl_property_robust(&p, 4, label, NULL), TL_OK);
    tl_region *reg;
    cr_assert_eq(tl_region_linf(&reg, c, 6, 0.3, 1, 0, 1, NULL), TL_OK);
    tl_verify_opts o = tl_verify_opts_default();
    o.method = TL_METHOD_IBP;
    tl_verify_result *res;
    cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, NULL), TL_OK);
    if (res->verdict == TL_VERDICT_FALSIFIED) {
      found++;
      for (int i = 0; i < 6; i++)
        cr_assert(fabs((double)res->cex[i] - c[i]) <= 0.3 && res->cex[i] >= 0 && res->cex[i] <= 1);
      cr_assert_eq(tl_exact_eval(g, res->cex, ylo, yhi, NULL), TL_OK);
      cr_assert(tl_property_violated_exact(p, ylo, yhi));
    }
    tl_verify_result_free(res);
    tl_property_free(p);
    tl_region_free(reg);
    tl_graph_free(g);
  }
  cr_assert(found >= 1, "PGD found no counterexample at radius 0.3 on 12 random nets");
}

Test(verify, dataset_independent_of_threads) {
  tl_graph *g = vnet_mlp(11, 6, 10, 10, 4, TL_OP_RELU);
  int n = 12;
  float *x = malloc(n * 6 * sizeof *x);
  int labels[12];
  tl_rng r;
  tl_rng_init(&r, 9);
  for (int i = 0; i < n * 6; i++)
    x[i] = (float)tl_rng_uniform(&r);
  for (int i = 0; i < n; i++) {
    double ylo[4], yhi[4];
    cr_assert_eq(tl_exact_eval(g, x + 6 * i, ylo, yhi, NULL), TL_OK);
    labels[i] = 0;
    for (int j = 1; j < 4; j++)
      if (ylo[j] > ylo[labels[i]])
        labels[i] = j;
  }
  tl_dataset_report *r1, *r2;
  tl_verify_opts o = tl_verify_opts_default();
  o.f32_eval = f32_hook;
  cr_assert_eq(tl_verify_dataset(g, x, labels, n, 0.02, 1, 0, 1, TL_SEM_F32_ANY, &o, 1, &r1, NULL), TL_OK);
  cr_assert_eq(tl_verify_dataset(g, x, labels, n, 0.02, 1, 0, 1, TL_SEM_F32_ANY, &o, 2, &r2, NULL), TL_OK);
  cr_assert_eq(r1->clean_correct, n);
  cr_assert_eq(r1->verified_ibp, r2->verified_ibp);
  cr_assert_eq(r1->verified_crown, r2->verified_crown);
  cr_assert(r1->verified_crown >= r1->verified_ibp);
  for (int i = 0; i < n; i++)
    cr_assert(r1->ibp[i] == r2->ibp[i] && r1->crown[i] == r2->crown[i]);
  tl_dataset_report_free(r1), tl_dataset_report_free(r2);
  free(x);
  tl_graph_free(g);
}

/* ---- fast paths (tl_verify_plan) vs the reference kernels -------------------------------------- */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>

/* Tolerance of "no wider than the reference": the fast kernels subtract a rigorous rounding-error
 * bound instead of rounding every operation outward: in binary64 gamma52_n * sum|terms| (about
 * 1e-13 here), in the binary32 IBP kernels (verify/vfast32.c) gamma_d sum |W| (|c| + r) with
 * d = n/8 + 11 roundings per product (about 1e-6 of the magnitudes here, ~7e-6 for n = 784), so an
 * end may be looser by at most TOL_REL times the node's largest magnitude; max_excess reports
 * the largest observed ratio. */
#define TOL_REL 0x1p-12
static double max_excess;

static int out_node(const tl_graph *g) { return g->noutputs ? g->outputs[0] : g->nnodes - 1; }

static void cmp_fast_ref(tl_graph *g, uint64_t seed, double eps, int npts) {
  tl_rng r;
  tl_rng_init(&r, seed);
  int64_t n = g->nodes[g->inputs[0]].numel, nout = g->nodes[out_node(g)].numel;
  float *c = malloc(n * sizeof *c), *x = malloc(n * sizeof *x), *yf = malloc(nout * sizeof *yf);
  for (int64_t i = 0; i < n; i++)
    c[i] = (float)tl_rng_uniform(&r);
  tl_region *reg;
  cr_assert_eq(tl_region_linf(&reg, c, n, eps, 1, 0.0, 1.0, NULL), TL_OK);
  tl_verify_plan *pf, *pr;
  tl_status st;
  cr_assert_eq(tl_verify_plan_new(&pf, g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_verify_plan_new(&pr, g, &st), TL_OK, "%s", st.msg);
  tl_verify_plan_set_reference(pr, 1);
  tl_property *p;
  cr_assert_eq(tl_property_robust(&p, nout, 0, NULL), TL_OK);
  double *a = malloc(p->nrows * nout * sizeof *a), lf[16], lr[16], la[16], ld[16];
  tl_objective_rows(p, a);
  for (int sem = 0; sem < 2; sem++) {
    tl_bounds *bf, *br;
    cr_assert_eq(tl_ibp_plan(pf, reg, (tl_semantics)sem, &bf, &st), TL_OK, "%s", st.msg);
    cr_assert_eq(tl_ibp_plan(pr, reg, (tl_semantics)sem, &br, &st), TL_OK, "%s", st.msg);
    for (int v = 0; v < g->nnodes; v++) {
      if (g->nodes[v].op == TL_OP_PARAM)
        continue;
      double scale = 1e-300; /* the node's largest magnitude: the error terms scale with it */
      for (int64_t i = 0; i < g->nodes[v].numel; i++)
        scale = fmax(scale, fabs(br->lo[v][i]) + fabs(br->hi[v][i]));
      for (int64_t i = 0; i < g->nodes[v].numel; i++) {
        double l0 = br->lo[v][i], h0 = br->hi[v][i];
        double tol = TOL_REL * scale;
        max_excess = fmax(max_excess, fmax(l0 - bf->lo[v][i], bf->hi[v][i] - h0) / scale);
        cr_assert(bf->lo[v][i] >= l0 - tol && bf->hi[v][i] <= h0 + tol,
                  "sem %d node %d [%lld]: fast [%a, %a] wider than reference [%a, %a]", sem, v, (long long)i,
                  bf->lo[v][i], bf->hi[v][i], l0, h0);
      }
    }
    for (int ic = 0; ic < 2; ic++) {
      cr_assert_eq(tl_crown_plan(pf, reg, bf, p->nrows, a, ic, 0, lf, NULL, &st), TL_OK, "%s", st.msg);
      cr_assert_eq(tl_crown_plan(pr, reg, br, p->nrows, a, ic, 0, lr, NULL, &st), TL_OK, "%s", st.msg);
      cr_assert_eq(tl_crown_plan(pf, reg, bf, p->nrows, a, ic, 20, la, NULL, &st), TL_OK, "%s", st.msg);
      cr_assert_eq(tl_crown(g, reg, bf, p->nrows, a, ic, ld, NULL, &st), TL_OK, "%s", st.msg);
      for (int k = 0; k < p->nrows; k++) {
        cr_assert(lf[k] >= lr[k] - TOL_REL * (1 + fabs(lr[k])),
                  "sem %d ic %d row %d: fast CROWN %a below reference %a", sem, ic, k, lf[k], lr[k]);
        cr_assert(la[k] >= fmin(lf[k], 0), "alpha-CROWN row %d looser than CROWN", k);
        cr_assert(ld[k] == lf[k], "tl_crown and tl_crown_plan differ");
      }
      /* every exact / float32 evaluation respects the fast bounds */
      for (int pt = 0; pt < npts; pt++) {
        sample_point(&r, reg, pt % 3, x);
        double ylo[16], yhi[16];
        cr_assert_eq(tl_exact_eval(g, x, ylo, yhi, &st), TL_OK, "%s", st.msg);
        int o = out_node(g);
        for (int k = 0; k < p->nrows; k++) {
          double m = 0;
          for (int64_t j = 0; j < nout; j++)
            m += a[k * nout + j] >= 0 ? a[k * nout + j] * ylo[j] : a[k * nout + j] * yhi[j];
          if (sem == TL_SEM_REAL)
            cr_assert(lf[k] <= m + 1e-12 * (1 + fabs(m)) && la[k] <= m + 1e-12 * (1 + fabs(m)),
                      "row %d: fast bound above an exact value", k);
        }
        if (sem == TL_SEM_REAL)
          for (int64_t j = 0; j < nout; j++)
            cr_assert(bf->lo[o][j] <= ylo[j] && yhi[j] <= bf->hi[o][j], "exact output outside the fast box");
        for (int ord = 0; sem == TL_SEM_F32_ANY && ord < VORD_COUNT; ord++) {
          cr_assert_eq(vnet_f32_forward(g, x, (vnet_order)ord, yf), 0);
          for (int64_t j = 0; j < nout; j++)
            cr_assert(bf->lo[o][j] <= yf[j] && yf[j] <= bf->hi[o][j],
                      "float32 output outside the fast f32-any box");
          for (int k = 0; k < p->nrows; k++) {
            double m = 0;
            for (int64_t j = 0; j < nout; j++)
              m += a[k * nout + j] * (double)yf[j];
            cr_assert(lf[k] <= m && la[k] <= m, "row %d: f32-any bound above a float32 evaluation", k);
          }
        }
      }
    }
    tl_bounds_free(bf), tl_bounds_free(br);
  }
  tl_property_free(p);
  free(a);
  tl_verify_plan_free(pf), tl_verify_plan_free(pr);
  tl_region_free(reg);
  free(c), free(x), free(yf);
}

Test(verify, fast_paths_match_reference_and_enclose) {
  for (uint64_t s = 1; s <= 3; s++) {
    tl_graph *g = vnet_mlp(40 + s, 6, 12, 10, 4, TL_OP_RELU);
    cmp_fast_ref(g, 500 + s, 0.08, 12);
    tl_graph_free(g);
  }
  for (int mp = 0; mp < 2; mp++) {
    tl_graph *g = vnet_cnn(60 + mp, mp);
    cmp_fast_ref(g, 600 + mp, 0.03, 9);
    tl_graph_free(g);
  }
  /* the binary32 kernels ran (the binary64 ones are ~1e-13 looser at most) and stayed tight */
  cr_assert(max_excess > 1e-9 && max_excess < 1e-3, "largest excess over the reference %g", max_excess);
  fprintf(stderr, "fast IBP vs reference: largest excess %.3g of the magnitudes\n", max_excess);
}

/* bounds of sample i must be bit-identical whether it is verified alone, after other samples
 * with the same plan, or concurrently on two threads sharing the plan */
typedef struct thr_job {
  const tl_verify_plan *pl;
  const tl_region *const *reg;
  int n, first, step;
  const double *a;
  int nrows;
  double *out; /* n x nrows */
} thr_job;

static void one_sample(const tl_verify_plan *pl, const tl_region *reg, const double *a, int nrows,
                       double *out) {
  tl_bounds *b;
  cr_assert_eq(tl_ibp_plan(pl, reg, TL_SEM_F32_ANY, &b, NULL), TL_OK);
  double l1[16], l2[16];
  cr_assert_eq(tl_ibp_rows_plan(pl, reg, b, nrows, a, l1, NULL), TL_OK);
  cr_assert_eq(tl_crown_plan(pl, reg, b, nrows, a, 1, 10, l2, NULL, NULL), TL_OK);
  for (int k = 0; k < nrows; k++)
    out[k] = l1[k], out[nrows + k] = l2[k];
  tl_bounds_free(b);
}

static void *thr_main(void *arg) {
  thr_job *j = arg;
  for (int i = j->first; i < j->n; i += j->step)
    one_sample(j->pl, j->reg[i], j->a, j->nrows, j->out + (size_t)i * 2 * j->nrows);
  return NULL;
}

Test(verify, fast_paths_independent_of_batch_and_threads) {
  tl_graph *g = vnet_mlp(77, 6, 12, 10, 4, TL_OP_RELU);
  tl_verify_plan *pl;
  cr_assert_eq(tl_verify_plan_new(&pl, g, NULL), TL_OK);
  enum { NS = 8 };
  tl_region *reg[NS];
  tl_rng r;
  tl_rng_init(&r, 3);
  for (int i = 0; i < NS; i++) {
    float c[6];
    for (int k = 0; k < 6; k++)
      c[k] = (float)tl_rng_uniform(&r);
    cr_assert_eq(tl_region_linf(&reg[i], c, 6, 0.05, 1, 0, 1, NULL), TL_OK);
  }
  tl_property *p;
  cr_assert_eq(tl_property_robust(&p, 4, 1, NULL), TL_OK);
  double a[12], alone[NS][6], seq[NS][6], par[NS][6];
  tl_objective_rows(p, a);
  for (int i = 0; i < NS; i++) { /* alone: a fresh plan per sample */
    tl_verify_plan *p1;
    cr_assert_eq(tl_verify_plan_new(&p1, g, NULL), TL_OK);
    one_sample(p1, reg[i], a, 3, alone[i]);
    tl_verify_plan_free(p1);
  }
  thr_job j1 = {pl, (const tl_region *const *)reg, NS, 0, 1, a, 3, &seq[0][0]};
  thr_main(&j1);
  thr_job j2[2] = {{pl, (const tl_region *const *)reg, NS, 0, 2, a, 3, &par[0][0]},
                   {pl, (const tl_region *const *)reg, NS, 1, 2, a, 3, &par[0][0]}};
  pthread_t th[2];
  for (int t = 0; t < 2; t++)
    cr_assert_eq(pthread_create(&th[t], NULL, thr_main, &j2[t]), 0);
  for (int t = 0; t < 2; t++)
    pthread_join(th[t], NULL);
  cr_assert_eq(memcmp(alone, seq, sizeof alone), 0, "batch of 1 vs many differ");
  cr_assert_eq(memcmp(seq, par, sizeof seq), 0, "1 vs 2 threads differ");
  for (int i = 0; i < NS; i++)
    tl_region_free(reg[i]);
  tl_property_free(p);
  tl_verify_plan_free(pl);
  tl_graph_free(g);
}

/* alpha-CROWN: no unproven row looser than CROWN, proven rows stay proven, the minimum row at
 * least as tight (and strictly tighter somewhere), and its certificate (slopes as the
 * relu lower lines) is ACCEPTed by the independent checker */
Test(verify, alpha_crown_certificate_accepted) {
  int improved = 0, verified = 0;
  for (uint64_t s = 0; s < 6; s++) {
    tl_graph *g = vnet_mlp(90 + s, 5, 16, 12, 3, TL_OP_RELU);
    tl_rng r;
    tl_rng_init(&r, 900 + s);
    float c[5];
    for (int k = 0; k < 5; k++)
      c[k] = (float)tl_rng_uniform(&r);
    double ylo[3], yhi[3];
    cr_assert_eq(tl_exact_eval(g, c, ylo, yhi, NULL), TL_OK);
    int label = 0;
    for (int j = 1; j < 3; j++)
      if (ylo[j] > ylo[label])
        label = j;
    for (int sem = 0; sem < 2; sem++) {
      tl_region *reg;
      tl_property *p;
      cr_assert_eq(tl_region_linf(&reg, c, 5, 0.15, 1, 0, 1, NULL), TL_OK);
      cr_assert_eq(tl_property_robust(&p, 3, label, NULL), TL_OK);
      tl_verify_opts o = tl_verify_opts_default();
      o.sem = (tl_semantics)sem, o.keep_evidence = 1, o.falsify = 0;
      tl_verify_result *res;
      tl_status st;
      cr_assert_eq(tl_verify_sample(g, reg, p, &o, &res, &st), TL_OK, "%s", st.msg);
      tl_verify_plan *pl;
      cr_assert_eq(tl_verify_plan_new(&pl, g, NULL), TL_OK);
      double a[6], li[2], lc[2], la[2];
      tl_objective_rows(p, a);
      tl_crown_data *cd;
      cr_assert_eq(tl_ibp_rows_plan(pl, reg, res->bounds, 2, a, li, &st), TL_OK, "%s", st.msg);
      cr_assert_eq(tl_crown_plan(pl, reg, res->bounds, 2, a, 0, 0, lc, NULL, &st), TL_OK, "%s", st.msg);
      cr_assert_eq(tl_crown_plan(pl, reg, res->bounds, 2, a, 0, 30, la, &cd, &st), TL_OK, "%s", st.msg);
      cr_assert(fmin(la[0], la[1]) >= fmin(lc[0], lc[1]));
      improved += fmin(la[0], la[1]) > fmin(lc[0], lc[1]);
      for (int k = 0; k < 2; k++) {
        cr_assert(la[k] >= fmin(lc[k], 0));
        res->row_lower[k] = fmax(li[k], la[k]);
      }
      tl_crown_data_free(res->crown);
      res->crown = cd;
      res->verdict = tl_property_decide(p, res->row_lower) ? TL_VERDICT_VERIFIED : TL_VERDICT_UNKNOWN;
      verified += res->verdict == TL_VERDICT_VERIFIED;
      char path[512], cmd[1200];
      snprintf(path, sizeof path, "%s/tl_alpha_%ld.json", TL_BUILD_DIR, (long)getpid());
      cr_assert_eq(tl_cert_write(path, g, reg, p, res, NULL, &st), TL_OK, "%s", st.msg);
      snprintf(cmd, sizeof cmd,
               "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s/certs/torchlean-check %s > %s.out 2>&1",
               TL_BUILD_DIR, path, path);
      int rc = system(cmd);
      cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
                "checker rejected the alpha-CROWN certificate (net %d sem %d)", (int)s, sem);
      remove(path);
      snprintf(cmd, sizeof cmd, "%s.out", path);
      remove(cmd);
      tl_verify_plan_free(pl);
      tl_verify_result_free(res);
      tl_property_free(p);
      tl_region_free(reg);
    }
    tl_graph_free(g);
  }
  cr_log_info("alpha-CROWN improved %d rows, %d verified", improved, verified);
  cr_assert(improved > 0, "alpha-CROWN never improved a row: the test is vacuous");
}

/* ---- fast exact evaluation (fixed point) vs the all-rational reference ------------------------- */
static const char *pname(void) {
  static char buf[32];
  static int k;
  snprintf(buf, sizeof buf, "p%d", k++); /* copied by tl_graph_param */
  return buf;
}

static int lin(tl_graph *g, tl_rng *r, int x, int64_t in, int64_t out) {
  int64_t ws[2] = {out, in}, bs[1] = {out};
  float *w = malloc((size_t)(in * out) * sizeof *w), b[16];
  for (int64_t i = 0; i < in * out; i++)
    w[i] = (float)(tl_rng_uniform(r) - 0.5);
  for (int64_t i = 0; i < out; i++)
    b[i] = (float)(0.2 * (tl_rng_uniform(r) - 0.5));
  int pw, pb, y;
  cr_assert_eq(tl_graph_param(g, pname(), TL_PARAM_TRAINABLE, 2, ws, w, &pw, NULL), TL_OK);
  cr_assert_eq(tl_graph_param(g, pname(), TL_PARAM_TRAINABLE, 1, bs, b, &pb, NULL), TL_OK);
  int p[3] = {x, pw, pb};
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 3, p, NULL, &y, NULL), TL_OK);
  free(w);
  return y;
}

/* conv -> relu -> avg pool (padded: several divisors) -> neg -> max pool -> flatten -> linear
 * -> mul by a parameter -> add a parameter -> sub (a linear branch) */
static tl_graph *exact_net(uint64_t seed) {
  tl_rng r;
  tl_rng_init(&r, seed);
  tl_graph *g = tl_graph_new();
  int64_t xs[4] = {1, 1, 6, 6}, ws[4] = {2, 1, 3, 3}, bs[1] = {2}, vs[2] = {1, 3};
  int x, w, b, y;
  cr_assert_eq(tl_graph_input(g, "x", 4, xs, &x, NULL), TL_OK);
  float wv[18], bv[2], mv[3], av[3];
  for (int i = 0; i < 18; i++)
    wv[i] = (float)(tl_rng_uniform(&r) - 0.5);
  for (int i = 0; i < 2; i++)
    bv[i] = (float)(0.1 * tl_rng_uniform(&r));
  for (int i = 0; i < 3; i++)
    mv[i] = (float)(3 * tl_rng_uniform(&r) - 1), av[i] = (float)ldexp(tl_rng_uniform(&r), -140 + 60 * i);
  cr_assert_eq(tl_graph_param(g, pname(), TL_PARAM_TRAINABLE, 4, ws, wv, &w, NULL), TL_OK);
  cr_assert_eq(tl_graph_param(g, pname(), TL_PARAM_TRAINABLE, 1, bs, bv, &b, NULL), TL_OK);
  tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
  a.padding[0] = a.padding[1] = 1;
  int p[3] = {x, w, b};
  cr_assert_eq(tl_graph_op(g, TL_OP_CONV2D, 3, p, &a, &y, NULL), TL_OK);
  cr_assert_eq(tl_graph_op(g, TL_OP_RELU, 1, &y, NULL, &y, NULL), TL_OK);
  tl_attrs pa = tl_attrs_default(TL_OP_AVG_POOL2D);
  pa.kernel[0] = pa.kernel[1] = 3, pa.stride[0] = pa.stride[1] = 2, pa.padding[0] = pa.padding[1] = 1;
  cr_assert_eq(tl_graph_op(g, TL_OP_AVG_POOL2D, 1, &y, &pa, &y, NULL), TL_OK);
  cr_assert_eq(tl_graph_op(g, TL_OP_NEG, 1, &y, NULL, &y, NULL), TL_OK);
  tl_attrs ma = tl_attrs_default(TL_OP_MAX_POOL2D);
  ma.kernel[0] = ma.kernel[1] = 2, ma.stride[0] = ma.stride[1] = 1;
  cr_assert_eq(tl_graph_op(g, TL_OP_MAX_POOL2D, 1, &y, &ma, &y, NULL), TL_OK);
  tl_attrs fa = tl_attrs_default(TL_OP_FLATTEN);
  cr_assert_eq(tl_graph_op(g, TL_OP_FLATTEN, 1, &y, &fa, &y, NULL), TL_OK);
  int f = y, m, ad, z;
  y = lin(g, &r, f, 8, 3);
  cr_assert_eq(tl_graph_param(g, pname(), TL_PARAM_TRAINABLE, 2, vs, mv, &m, NULL), TL_OK);
  cr_assert_eq(tl_graph_param(g, pname(), TL_PARAM_TRAINABLE, 2, vs, av, &ad, NULL), TL_OK);
  int q[2] = {y, m};
  cr_assert_eq(tl_graph_op(g, TL_OP_MUL, 2, q, NULL, &y, NULL), TL_OK);
  q[0] = y, q[1] = ad;
  cr_assert_eq(tl_graph_op(g, TL_OP_ADD, 2, q, NULL, &y, NULL), TL_OK);
  z = lin(g, &r, f, 8, 3);
  q[0] = y, q[1] = z;
  cr_assert_eq(tl_graph_op(g, TL_OP_SUB, 2, q, NULL, &y, NULL), TL_OK);
  cr_assert_eq(tl_graph_mark_output(g, y, NULL), TL_OK);
  return g;
}

/* pools outside the 2x2 fast path (avg 3x3 stride 2 padding 1, max 2x2 stride 1): IBP and CROWN
 * against the float32 runtime and exact evaluations, and their certificates against the
 * independent checker (the window walk of IBP, CROWN's max-pool lines and the exact evaluation
 * share tlv_window; the runtime's pool kernels and the checker have their own) */
#include "torchlean/exec.h"
Test(verify, generic_pools_bounds_contain_exact_and_float) {
  for (uint64_t s = 1; s <= 2; s++) {
    tl_graph *g = exact_net(s);
    int o = out_id(g);
    tl_rng r;
    tl_rng_init(&r, 900 + s);
    float c[36], x[36];
    for (int k = 0; k < 36; k++)
      c[k] = (float)tl_rng_uniform(&r);
    tl_region *reg;
    tl_property *p;
    cr_assert_eq(tl_region_linf(&reg, c, 36, 0.03, 1, 0, 1, NULL), TL_OK);
    cr_assert_eq(tl_property_robust(&p, 3, 0, NULL), TL_OK);
    tl_exec *e;
    tl_exec_opts eo = tl_exec_opts_default();
    eo.mode = TL_COMPILED;
    cr_assert_eq(tl_exec_new(&e, g, &eo, NULL), TL_OK);
    tl_exec_set_grad_enabled(e, 0);
    for (int sem = 0; sem < 2; sem++)
      for (int method = 0; method < 2; method++) {
        tl_verify_opts vo = tl_verify_opts_default();
        vo.sem = (tl_semantics)sem, vo.keep_evidence = 1, vo.falsify = 0;
        vo.method = method ? TL_METHOD_CROWN : TL_METHOD_IBP;
        tl_verify_result *res;
        tl_status st;
        cr_assert_eq(tl_verify_sample(g, reg, p, &vo, &res, &st), TL_OK, "%s", st.msg);
        const double *blo = res->bounds->lo[o], *bhi = res->bounds->hi[o];
        for (int pt = 0; pt < 12; pt++) {
          sample_point(&r, reg, pt % 3, x);
          double ylo[3], yhi[3];
          cr_assert_eq(tl_exact_eval(g, x, ylo, yhi, &st), TL_OK, "%s", st.msg);
          cr_assert_eq(tl_exec_set_input(e, g->inputs[0], x, NULL), TL_OK);
          cr_assert_eq(tl_exec_forward(e, NULL), TL_OK);
          const float *yf = tl_exec_value(e, o);
          for (int j = 0; j < 3; j++) {
            cr_assert(blo[j] <= ylo[j] && yhi[j] <= bhi[j], "exact output %d outside the box", j);
            if (sem == TL_SEM_F32_ANY)
              cr_assert(blo[j] <= yf[j] && yf[j] <= bhi[j], "float32 output %d outside the f32-any box", j);
          }
        }
        char path[128], cmd[512];
        snprintf(path, sizeof path, "/tmp/tl_pool_cert_%ld_%d_%d_%d.json", (long)getpid(), (int)s, sem,
                 method);
        cr_assert_eq(tl_cert_write(path, g, reg, p, res, NULL, &st), TL_OK, "%s", st.msg);
        snprintf(cmd, sizeof cmd, "%s/certs/torchlean-check %s > /dev/null 2>&1", TL_BUILD_DIR, path);
        int rc = system(cmd);
        cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
                  "checker rejected the certificate (net %d sem %d method %d)", (int)s, sem, method);
        remove(path);
        tl_verify_result_free(res);
      }
    tl_exec_free(e);
    tl_property_free(p);
    tl_region_free(reg);
    tl_graph_free(g);
  }
}

Test(verify, exact_fast_equals_reference) {
  tl_graph *nets[8] = {vnet_mlp(1, 7, 12, 9, 4, TL_OP_RELU),
                       vnet_mlp(2, 7, 12, 9, 4, TL_OP_LEAKY_RELU),
                       vnet_mlp(3, 7, 12, 9, 4, TL_OP_SIGMOID),
                       vnet_mlp(4, 7, 12, 9, 4, TL_OP_TANH),
                       vnet_cnn(5, 0),
                       vnet_cnn(6, 1),
                       exact_net(7),
                       exact_net(8)};
  tl_rng r;
  tl_rng_init(&r, 77);
  int fx_exact = 0;
  for (int k = 0; k < 8; k++) {
    tl_graph *g = nets[k];
    cr_assert_not_null(g);
    int64_t n = g->nodes[g->inputs[0]].numel, nout = g->nodes[g->outputs[0]].numel;
    float x[64];
    for (int pt = 0; pt < 12; pt++) {
      for (int64_t i = 0; i < n; i++) {
        double u = tl_rng_uniform(&r);
        x[i] = pt % 4 == 0   ? (float)(4 * u - 2)
               : pt % 4 == 1 ? (float)ldexp(u, -130)
               : pt % 4 == 2 ? (float)(u > 0.5)
                             : (float)u;
      }
      double a[16], b[16], c[16], d[16];
      tl_status st;
      cr_assert_eq(tl_exact_eval(g, x, a, b, &st), TL_OK, "net %d: %s", k, st.msg);
      cr_assert_eq(tl_exact_eval_reference(g, x, c, d, &st), TL_OK, "net %d: %s", k, st.msg);
      for (int64_t j = 0; j < nout; j++) {
        cr_assert(a[j] == c[j] && b[j] == d[j], "net %d point %d output %lld: [%a, %a] vs reference [%a, %a]",
                  k, pt, (long long)j, a[j], b[j], c[j], d[j]);
        cr_assert(a[j] <= b[j]);
        fx_exact += k >= 6 && nextafter(a[j], INFINITY) >= b[j]; /* a point, rounded outward once */
      }
    }
  }
  cr_assert(fx_exact > 0);
  for (int k = 0; k < 8; k++)
    tl_graph_free(nets[k]);
}

/* alpha-CROWN through tl_verify_sample / tl_verify_batch with a shared plan: certificates accepted,
 * never looser than CROWN, identical results for 1 and 2 threads and with or without the plan */
Test(verify, alpha_crown_method_batch_plan) {
  tl_graph *g = vnet_mlp(93, 5, 16, 12, 3, TL_OP_RELU);
  int n = 8;
  tl_rng r;
  tl_rng_init(&r, 4242);
  tl_region *reg[8];
  tl_property *prop[8];
  for (int i = 0; i < n; i++) {
    float c[5];
    for (int k = 0; k < 5; k++)
      c[k] = (float)tl_rng_uniform(&r);
    double ylo[3], yhi[3];
    cr_assert_eq(tl_exact_eval(g, c, ylo, yhi, NULL), TL_OK);
    int label = 0;
    for (int j = 1; j < 3; j++)
      if (ylo[j] > ylo[label])
        label = j;
    cr_assert_eq(tl_region_linf(&reg[i], c, 5, 0.12, 1, 0, 1, NULL), TL_OK);
    cr_assert_eq(tl_property_robust(&prop[i], 3, label, NULL), TL_OK);
  }
  tl_verify_plan *pl;
  cr_assert_eq(tl_verify_plan_new(&pl, g, NULL), TL_OK);
  tl_verify_result *ra[8], *rb[8], *rc[8], *rcr[8];
  tl_verify_opts o = tl_verify_opts_default();
  o.method = TL_METHOD_ALPHA_CROWN, o.keep_evidence = 1, o.f32_eval = f32_hook, o.alpha_steps = 25;
  tl_status st;
  cr_assert_eq(tl_verify_batch(g, n, (const tl_region *const *)reg, (const tl_property *const *)prop, &o, 1,
                               ra, NULL, NULL, &st),
               TL_OK, "%s", st.msg);
  o.plan = pl;
  cr_assert_eq(tl_verify_batch(g, n, (const tl_region *const *)reg, (const tl_property *const *)prop, &o, 2,
                               rb, NULL, NULL, &st),
               TL_OK, "%s", st.msg);
  for (int i = 0; i < n; i++)
    cr_assert_eq(tl_verify_sample(g, reg[i], prop[i], &o, &rc[i], &st), TL_OK, "%s", st.msg);
  o.method = TL_METHOD_CROWN;
  cr_assert_eq(tl_verify_batch(g, n, (const tl_region *const *)reg, (const tl_property *const *)prop, &o, 2,
                               rcr, NULL, NULL, &st),
               TL_OK, "%s", st.msg);
  for (int i = 0; i < n; i++) {
    cr_assert_eq(ra[i]->method, TL_METHOD_ALPHA_CROWN);
    cr_assert(ra[i]->verdict == rb[i]->verdict && ra[i]->verdict == rc[i]->verdict);
    for (int k = 0; k < 2; k++) {
      cr_assert(ra[i]->row_lower[k] == rb[i]->row_lower[k] && ra[i]->row_lower[k] == rc[i]->row_lower[k]);
      cr_assert(ra[i]->row_lower[k] >= fmin(rcr[i]->row_lower[k], 0));
    }
    cr_assert(ra[i]->verdict == TL_VERDICT_VERIFIED || rcr[i]->verdict != TL_VERDICT_VERIFIED);
  }
  char path[512], cmd[1200];
  snprintf(path, sizeof path, "%s/tl_alpha_batch_%ld.json", TL_BUILD_DIR, (long)getpid());
  cr_assert_eq(tl_cert_write_many(path, g, n, (const tl_region *const *)reg, (const tl_property *const *)prop,
                                  (const tl_verify_result *const *)rb, NULL, &st),
               TL_OK, "%s", st.msg);
  snprintf(cmd, sizeof cmd,
           "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s/certs/torchlean-check %s > %s.out 2>&1",
           TL_BUILD_DIR, path, path);
  int sys = system(cmd);
  cr_assert(WIFEXITED(sys) && WEXITSTATUS(sys) == 0, "checker rejected alpha-CROWN certificates (%s.out)",
            path);
  remove(path);
  snprintf(cmd, sizeof cmd, "%s.out", path);
  remove(cmd);
  /* a plan of another graph is refused */
  tl_graph *g2 = vnet_mlp(94, 5, 16, 12, 3, TL_OP_RELU);
  tl_verify_result *bad = NULL;
  cr_assert_eq(tl_verify_sample(g2, reg[0], prop[0], &o, &bad, NULL), TL_EARG);
  tl_graph_free(g2);
  for (int i = 0; i < n; i++) {
    tl_verify_result_free(ra[i]), tl_verify_result_free(rb[i]), tl_verify_result_free(rc[i]);
    tl_verify_result_free(rcr[i]), tl_region_free(reg[i]), tl_property_free(prop[i]);
  }
  tl_verify_plan_free(pl);
  tl_graph_free(g);
}

/* the clean-accuracy shortcut (IBP at the point, else exact) decides exactly like the exact enclosure */
Test(verify, clean_correct_matches_exact) {
  tl_graph *nets[4] = {vnet_mlp(21, 6, 10, 8, 4, TL_OP_RELU), vnet_mlp(22, 6, 10, 8, 4, TL_OP_SIGMOID),
                       vnet_cnn(23, 1), exact_net(24)};
  tl_rng r;
  tl_rng_init(&r, 31);
  int agree = 0;
  for (int k = 0; k < 4; k++) {
    tl_graph *g = nets[k];
    tl_verify_plan *pl;
    cr_assert_eq(tl_verify_plan_new(&pl, g, NULL), TL_OK);
    int64_t n = g->nodes[g->inputs[0]].numel, nout = g->nodes[g->outputs[0]].numel;
    float x[64];
    for (int pt = 0; pt < 10; pt++) {
      for (int64_t i = 0; i < n; i++)
        x[i] = pt == 0 ? 0.0f : (float)tl_rng_uniform(&r); /* x = 0: ties between outputs are likely */
      double ylo[16], yhi[16];
      cr_assert_eq(tl_exact_eval(g, x, ylo, yhi, NULL), TL_OK);
      for (int label = 0; label < nout; label++) {
        int want = 1, got = -1;
        for (int64_t j = 0; j < nout; j++)
          if (j != label && !(ylo[label] > yhi[j]))
            want = 0;
        cr_assert_eq(tl_clean_correct_plan(pl, x, label, &got, NULL), TL_OK);
        cr_assert_eq(got, want, "net %d point %d label %d", k, pt, label);
        agree++;
      }
    }
    tl_verify_plan_free(pl);
    tl_graph_free(g);
  }
  cr_assert(agree > 0);
}

/* input normalisation (x - m) * s with scalar constants before an MLP, as `torchlean train` writes */
static tl_graph *norm_mlp(uint64_t seed, float mean, float scale) {
  tl_rng r;
  tl_rng_init(&r, seed);
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, 6}, one[1] = {1};
  int x, pm, ps, y;
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &x, NULL), TL_OK);
  cr_assert_eq(tl_graph_param(g, pname(), TL_PARAM_CONSTANT, 1, one, &mean, &pm, NULL), TL_OK);
  cr_assert_eq(tl_graph_param(g, pname(), TL_PARAM_CONSTANT, 1, one, &scale, &ps, NULL), TL_OK);
  int q[2] = {x, pm};
  cr_assert_eq(tl_graph_op(g, TL_OP_SUB, 2, q, NULL, &y, NULL), TL_OK);
  q[0] = y, q[1] = ps;
  cr_assert_eq(tl_graph_op(g, TL_OP_MUL, 2, q, NULL, &y, NULL), TL_OK);
  y = lin(g, &r, y, 6, 12);
  cr_assert_eq(tl_graph_op(g, TL_OP_RELU, 1, &y, NULL, &y, NULL), TL_OK);
  y = lin(g, &r, y, 12, 3);
  cr_assert_eq(tl_graph_mark_output(g, y, NULL), TL_OK);
  return g;
}

/* IBP / CROWN / alpha-CROWN through the scalar-constant sub/mul fast paths stay sound (exact and
 * float32 runtime outputs at sampled points), and alpha-CROWN certificates are accepted */
Test(verify, normalised_input_sound_and_alpha_accepted) {
  float scales[3] = {3.7f, -2.5f, 0.0f};
  int improved = 0;
  for (int t = 0; t < 3; t++) {
    tl_graph *g = norm_mlp(300 + t, 0.3f, scales[t]);
    tl_rng r;
    tl_rng_init(&r, 310 + t);
    float c[6], x[6], yf[3];
    for (int i = 0; i < 6; i++)
      c[i] = (float)tl_rng_uniform(&r);
    double ylo[3], yhi[3];
    cr_assert_eq(tl_exact_eval(g, c, ylo, yhi, NULL), TL_OK);
    int label = ylo[1] > ylo[0] ? 1 : 0;
    label = ylo[2] > ylo[label] ? 2 : label;
    for (int sem = 0; sem < 2; sem++) {
      tl_region *reg;
      tl_property *p;
      cr_assert_eq(tl_region_linf(&reg, c, 6, 0.08, 1, 0, 1, NULL), TL_OK);
      cr_assert_eq(tl_property_robust(&p, 3, label, NULL), TL_OK);
      tl_bounds *b;
      cr_assert_eq(tl_ibp(g, reg, (tl_semantics)sem, &b, NULL), TL_OK);
      int o = g->outputs[0];
      tl_verify_result *rr[3];
      for (int m = 0; m < 3; m++) {
        tl_verify_opts opt = tl_verify_opts_default();
        opt.sem = (tl_semantics)sem, opt.method = (tl_method)m, opt.falsify = 0, opt.keep_evidence = 1;
        cr_assert_eq(tl_verify_sample(g, reg, p, &opt, &rr[m], NULL), TL_OK);
      }
      for (int k = 0; k < 2; k++)
        improved += rr[2]->row_lower[k] > rr[1]->row_lower[k];
      for (int pt = 0; pt < 40; pt++) {
        sample_point(&r, reg, pt % 3, x);
        tl_status st;
        cr_assert_eq(tl_exact_eval(g, x, ylo, yhi, &st), TL_OK, "%s", st.msg);
        cr_assert_eq(tl_verify_confirm_f32_runtime(g, x, yf, &st), TL_OK, "%s", st.msg);
        for (int j = 0; j < 3; j++) {
          if (sem == TL_SEM_REAL)
            cr_assert(b->lo[o][j] <= ylo[j] && yhi[j] <= b->hi[o][j],
                      "net %d: exact output %d outside the box", t, j);
          else
            cr_assert(b->lo[o][j] <= yf[j] && yf[j] <= b->hi[o][j],
                      "net %d: float32 output %d outside the box", t, j);
        }
        int q = 0;
        for (int j = 0; j < 3; j++) {
          if (j == label)
            continue;
          double mlo = sem == TL_SEM_REAL ? ylo[label] - yhi[j] : (double)yf[label] - (double)yf[j];
          for (int m = 0; m < 3; m++)
            cr_assert(rr[m]->row_lower[q] <= mlo + (sem == TL_SEM_REAL ? 1e-12 : 0),
                      "net %d method %d row %d", t, m, q);
          q++;
        }
      }
      char path[512], cmd[1200];
      snprintf(path, sizeof path, "%s/tl_norm_alpha_%ld.json", TL_BUILD_DIR, (long)getpid());
      cr_assert_eq(tl_cert_write(path, g, reg, p, rr[2], NULL, NULL), TL_OK);
      snprintf(cmd, sizeof cmd,
               "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s/certs/torchlean-check %s > %s.out 2>&1",
               TL_BUILD_DIR, path, path);
      int sys = system(cmd);
      cr_assert(WIFEXITED(sys) && WEXITSTATUS(sys) == 0, "checker rejected (net %d sem %d, %s.out)", t, sem,
                path);
      remove(path);
      snprintf(cmd, sizeof cmd, "%s.out", path);
      remove(cmd);
      for (int m = 0; m < 3; m++)
        tl_verify_result_free(rr[m]);
      tl_bounds_free(b);
      tl_property_free(p);
      tl_region_free(reg);
    }
    tl_graph_free(g);
  }
  cr_log_info("alpha-CROWN improved %d rows through the normalisation", improved);
}

/* CROWN crosses max pool with the argmax lines: at least as tight as IBP on max-pool CNNs, strictly
 * tighter where the box cannot see the dominance (out0 = max(x0, x1) - x0 = 0 for x0 >= x1), and
 * the bounds contain the exact and float32 values of sampled points */
Test(verify, crown_max_pool_lines) {
  tl_graph *g = vnet_maxpool_skip();
  double lo[2] = {2, 0}, hi[2] = {3, 1};
  tl_region *reg;
  tl_status st;
  cr_assert_eq(tl_region_box(&reg, lo, hi, 2, &st), TL_OK, "%s", st.msg);
  double a[4] = {1, 0, -1, 0}, lc[2];
  for (int sem = 0; sem < 2; sem++) {
    tl_bounds *b;
    cr_assert_eq(tl_ibp(g, reg, (tl_semantics)sem, &b, &st), TL_OK, "%s", st.msg);
    int o = out_id(g);
    cr_assert_eq(tl_crown(g, reg, b, 2, a, 0, lc, NULL, &st), TL_OK, "%s", st.msg);
    cr_assert(b->lo[o][0] <= -1 && b->hi[o][0] >= 1, "IBP sees the box only");
    cr_assert(lc[0] >= (sem ? -1e-6 : 0) && lc[1] >= (sem ? -1e-6 : 0),
              "CROWN must see out0 = 0: %a %a (sem %d)", lc[0], lc[1], sem);
    float x[2];
    double ylo[16], yhi[16];
    for (int t = 0; t <= 4; t++) {
      x[0] = (float)(2 + t / 4.0), x[1] = (float)(t / 4.0);
      cr_assert_eq(tl_exact_eval(g, x, ylo, yhi, &st), TL_OK, "%s", st.msg);
      cr_assert(lc[0] <= ylo[0] && lc[1] <= -yhi[0]);
    }
    tl_bounds_free(b);
  }
  tl_region_free(reg);
  tl_graph_free(g);
  /* random CNNs with max pool: CROWN (plain and with CROWN intermediates) >= IBP on every row,
   * and strictly tighter on some */
  int tighter = 0;
  for (uint64_t s = 0; s < 6; s++) {
    tl_graph *c = vnet_cnn(90 + s, 1);
    check_net(c, 700 + s, 0.02 + 0.01 * (double)(s % 3), 9);
    tl_rng r;
    tl_rng_init(&r, 800 + s);
    float ctr[36];
    for (int i = 0; i < 36; i++)
      ctr[i] = (float)tl_rng_uniform(&r);
    cr_assert_eq(tl_region_linf(&reg, ctr, 36, 0.03, 1, 0.0, 1.0, NULL), TL_OK);
    tl_property *p;
    cr_assert_eq(tl_property_robust(&p, 3, 0, NULL), TL_OK);
    tl_verify_opts opt = tl_verify_opts_default();
    opt.sem = TL_SEM_F32_ANY, opt.method = TL_METHOD_IBP, opt.falsify = 0;
    tl_verify_result *ri, *rc;
    cr_assert_eq(tl_verify_sample(c, reg, p, &opt, &ri, &st), TL_OK, "%s", st.msg);
    opt.method = TL_METHOD_CROWN;
    cr_assert_eq(tl_verify_sample(c, reg, p, &opt, &rc, &st), TL_OK, "%s", st.msg);
    for (int k = 0; k < p->nrows; k++) {
      cr_assert(rc->row_lower[k] >= ri->row_lower[k]);
      tighter += rc->row_lower[k] > ri->row_lower[k];
    }
    tl_verify_result_free(ri), tl_verify_result_free(rc);
    tl_property_free(p);
    tl_region_free(reg);
    tl_graph_free(c);
  }
  cr_assert(tighter > 0);
}

/* models the verifier can bound pass tl_verify_supports; one with an op it lacks fails at once,
 * naming the node and the op (the runner checks this before a run and exits 2) */
Test(verify, supports_names_the_first_unsupported_node) {
  tl_status st;
  tl_graph *mlp = vnet_mlp(3, 4, 6, 0, 3, TL_OP_RELU), *cnn = vnet_cnn(5, 1);
  cr_assert_eq(tl_verify_supports(mlp, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_verify_supports(cnn, &st), TL_OK, "%s", st.msg);
  tl_graph_free(mlp), tl_graph_free(cnn);
  tl_graph *g = tl_graph_new();
  int64_t xs[] = {1, 4};
  int x, y, z;
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &x, &st), TL_OK);
  cr_assert_eq(tl_graph_op(g, TL_OP_RELU, 1, &x, NULL, &y, &st), TL_OK);
  cr_assert_eq(tl_graph_op(g, TL_OP_SOFTMAX, 1, &y, NULL, &z, &st), TL_OK);
  cr_assert_eq(tl_verify_supports(g, &st), TL_EUNSUPPORTED);
  cr_assert(strstr(st.msg, "node 2: the verifier has no rule for op softmax"), "%s", st.msg);
  cr_assert(strstr(st.msg, "relu") && strstr(st.msg, "conv2d"), "the message lists what it bounds: %s",
            st.msg);
  tl_graph_free(g);
}
