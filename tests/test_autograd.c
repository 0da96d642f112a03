/* test_autograd.c - forward-mode JVP and forward-over-reverse HVP (runtime/autograd.c).
 *
 * Per op (random cases from tests/support/opcases.c), both kernel sets, eager and compiled:
 *  - JVP equals the reverse-mode J v (tl_autograd_jacobian rows, accumulated in double);
 *  - HVP of L = sum(op(x) r) equals central second differences of the double reference
 *    (tests/support/refexec.c), and u^T (H v) = v^T (H u);
 *  - eager and compiled results are bit-identical.
 * The differentiable inputs of an op are either slices of one INPUT z (so the HVP wrt z holds the
 * cross terms between inputs) or separate INPUTs (zero tangents), chosen at random.
 * Plus closed forms (quadratic, softmax cross entropy, sigmoid/tanh), and an MLP and a small CNN
 * with cross-entropy loss: HVP wrt the weights against the double reference. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcases.h"
#include "refexec.h"
#include "torchlean/exec.h"
#include "torchlean/rand.h"

/* worst errors seen, scaled by the tolerance's scale (printed at the end of each test) */
static double g_jvp_err, g_hvp_err, g_sym_err;

typedef struct opgraph {
  tl_graph *g;
  int z, ztot;          /* z: INPUT holding the sliced inputs (or -1) */
  int in[5];            /* INPUT node of each op input (-1: sliced from z) */
  int par[5];           /* node feeding op input k */
  int64_t zoff[5];
  int out, r, loss;
  int ninputs;          /* INPUT nodes in g->inputs order: z, separate inputs, r */
} opgraph;

static void build(const tcase *c, tl_rng *rng, opgraph *o) {
  memset(o, 0, sizeof *o);
  tl_graph *g = o->g = tl_graph_new();
  tl_status st;
  int fromz[5] = {0}, any = 0, first = -1;
  int64_t tot = 0, nk[5];
  for (int k = 0; k < c->np; k++) {
    nk[k] = 1;
    for (int d = 0; d < c->nd[k]; d++) nk[k] *= c->sh[k][d];
    if (!c->nograd[k] && first < 0) first = k;
    fromz[k] = !c->nograd[k] && tl_rng_below(rng, 4) != 0;
    any |= fromz[k];
  }
  if (!any) fromz[first] = 1; /* at least one: the first differentiable input */
  for (int k = 0; k < c->np; k++)
    if (fromz[k]) o->zoff[k] = tot, tot += nk[k];
  o->ztot = (int)tot;
  int64_t zs[1] = {tot};
  cr_assert_eq(tl_graph_input(g, "z", 1, zs, &o->z, &st), TL_OK, "%s", st.msg);
  for (int k = 0; k < c->np; k++) {
    o->in[k] = -1;
    if (fromz[k]) {
      int64_t n = 1;
      for (int d = 0; d < c->nd[k]; d++) n *= c->sh[k][d];
      tl_attrs a = tl_attrs_default(TL_OP_SLICE);
      a.axis = 0, a.start = o->zoff[k], a.end = o->zoff[k] + n, a.step = 1;
      int s, rs;
      cr_assert_eq(tl_graph_op(g, TL_OP_SLICE, 1, &o->z, &a, &s, &st), TL_OK, "%s", st.msg);
      tl_attrs b = tl_attrs_default(TL_OP_RESHAPE);
      int64_t shape[5];
      memcpy(shape, c->sh[k], sizeof shape);
      b.nlist = c->nd[k], b.list = shape;
      cr_assert_eq(tl_graph_op(g, TL_OP_RESHAPE, 1, &s, &b, &rs, &st), TL_OK, "%s", st.msg);
      o->par[k] = rs;
    } else {
      char nm[8] = {'i', 'n', (char)('0' + k), 0};
      cr_assert_eq(tl_graph_input(g, nm, c->nd[k], c->sh[k], &o->in[k], &st), TL_OK, "%s", st.msg);
      o->par[k] = o->in[k];
    }
  }
  cr_assert_eq(tl_graph_op(g, c->op, c->np, o->par, &c->a, &o->out, &st), TL_OK, "%s: %s", tl_op_get(c->op)->name,
               st.msg);
  const tl_node *on = &g->nodes[o->out];
  cr_assert_eq(tl_graph_input(g, "r", on->ndim, on->shape, &o->r, &st), TL_OK, "%s", st.msg);
  int mp[2] = {o->out, o->r}, m;
  cr_assert_eq(tl_graph_op(g, TL_OP_MUL, 2, mp, NULL, &m, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_op(g, TL_OP_SUM, 1, &m, NULL, &o->loss, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(g->nodes[o->loss].numel, 1);
}

/* input values in g->inputs order */
typedef struct opvals {
  float *v[8];
  double *d[8];
  int n;
} opvals;

static void make_vals(const tcase *c, const opgraph *o, tl_rng *rng, opvals *vals) {
  const tl_graph *g = o->g;
  vals->n = g->ninputs;
  for (int i = 0; i < g->ninputs; i++) {
    int id = g->inputs[i];
    int64_t n = g->nodes[id].numel;
    vals->v[i] = malloc(sizeof(float) * (size_t)(n + 1));
    vals->d[i] = malloc(sizeof(double) * (size_t)(n + 1));
    if (id == o->z) {
      for (int k = 0; k < c->np; k++)
        if (o->in[k] < 0) {
          int64_t nk = 1;
          for (int d = 0; d < c->nd[k]; d++) nk *= c->sh[k][d];
          opcase_fill(rng, c, k, vals->v[i] + o->zoff[k], nk);
        }
    } else if (id == o->r) {
      for (int64_t j = 0; j < n; j++) vals->v[i][j] = (float)(2 * tl_rng_uniform(rng) - 1);
    } else {
      for (int k = 0; k < c->np; k++)
        if (o->in[k] == id) opcase_fill(rng, c, k, vals->v[i], n);
    }
    for (int64_t j = 0; j < n; j++) vals->d[i][j] = vals->v[i][j];
  }
}

static void free_vals(opvals *v) {
  for (int i = 0; i < v->n; i++) free(v->v[i]), free(v->d[i]);
}

static tl_exec *new_exec(tl_graph *g, const opvals *vals, int training, tl_exec_mode mode, tl_kernels kern) {
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = mode, o.kernels = kern, o.training = training, o.seed = 77;
  tl_exec *e;
  tl_status st;
  cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK);
  for (int i = 0; i < g->ninputs; i++)
    cr_assert_eq(tl_exec_set_input(e, g->inputs[i], vals->v[i], &st), TL_OK, "%s", st.msg);
  if (mode == TL_COMPILED) cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
  return e;
}

static double ref_loss(const opgraph *o, opvals *vals, int training) {
  double **vv = ref_graph(o->g, vals->d, -1, NULL, training, 77, 0);
  cr_assert_not_null(vv);
  double L = vv[o->loss][0];
  ref_free_vals(o->g, vv);
  return L;
}

/* (H v)_j by central second differences of the double reference along v and e_j */
static void ref_hvp(const opgraph *o, opvals *vals, int zi, const float *v, int training, double *hv) {
  double *z = vals->d[zi], h = 1e-4;
  int64_t n = o->ztot;
  double *z0 = malloc(sizeof(double) * (size_t)n);
  memcpy(z0, z, sizeof(double) * (size_t)n);
  for (int64_t j = 0; j < n; j++) {
    double f[4];
    for (int s = 0; s < 4; s++) {
      double sv = s < 2 ? h : -h, se = (s % 2 == 0) ? h : -h;
      for (int64_t i = 0; i < n; i++) z[i] = z0[i] + sv * v[i];
      z[j] += se;
      f[s] = ref_loss(o, vals, training);
    }
    hv[j] = (f[0] - f[1] - f[2] + f[3]) / (4 * h * h);
  }
  memcpy(z, z0, sizeof(double) * (size_t)n);
  free(z0);
}

static int bits_equal(const float *a, const float *b, int64_t n) { return memcmp(a, b, sizeof(float) * (size_t)n) == 0; }

static void randv(tl_rng *r, float *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) v[i] = (float)(2 * tl_rng_uniform(r) - 1);
}

static void check_op_case(const tcase *c, tl_rng *rng, int rep) {
  const char *name = tl_op_get(c->op)->name;
  opgraph o;
  build(c, rng, &o);
  opvals vals;
  make_vals(c, &o, rng, &vals);
  int zi = 0; /* z is the first input */
  int64_t nz = o.ztot, ny = o.g->nodes[o.out].numel;
  float *v = malloc(sizeof(float) * (size_t)nz), *u = malloc(sizeof(float) * (size_t)nz);
  randv(rng, v, nz), randv(rng, u, nz);
  double *href = malloc(sizeof(double) * (size_t)nz);
  ref_hvp(&o, &vals, zi, v, c->training, href);
  double hscale = 0;
  for (int64_t j = 0; j < nz; j++) hscale = fmax(hscale, fabs(href[j]));
  float *jv[2][2], *hv[2][2], *hu = malloc(sizeof(float) * (size_t)nz);
  float *jac = malloc(sizeof(float) * (size_t)(ny * nz));
  for (int kern = 0; kern < 2; kern++)
    for (int mode = 0; mode < 2; mode++) {
      tl_exec *e = new_exec(o.g, &vals, c->training, (tl_exec_mode)mode, (tl_kernels)kern);
      tl_status st;
      jv[kern][mode] = malloc(sizeof(float) * (size_t)ny);
      hv[kern][mode] = malloc(sizeof(float) * (size_t)nz);
      if (c->op == TL_OP_ATTENTION) { /* no rule: a clear error naming the node, never a number */
        cr_assert_eq(tl_autograd_jvp(e, o.z, v, o.out, jv[kern][mode], &st), TL_EUNSUPPORTED);
        cr_assert(strstr(st.msg, "attention") && strstr(st.msg, "node"), "message: %s", st.msg);
        cr_assert_eq(tl_autograd_hvp(e, o.loss, o.z, v, hv[kern][mode], &st), TL_EUNSUPPORTED);
        cr_assert(strstr(st.msg, "attention") && strstr(st.msg, "node"), "message: %s", st.msg);
        tl_exec_free(e);
        continue;
      }
      /* (a) JVP vs reverse-mode J v */
      cr_assert_eq(tl_autograd_jvp(e, o.z, v, o.out, jv[kern][mode], &st), TL_OK, "%s: %s", name, st.msg);
      cr_assert_eq(tl_autograd_jacobian(e, o.out, o.z, jac, &st), TL_OK, "%s", st.msg);
      for (int64_t i = 0; i < ny; i++) {
        double s = 0, sa = 0;
        for (int64_t j = 0; j < nz; j++) s += (double)jac[i * nz + j] * v[j], sa += fabs((double)jac[i * nz + j] * v[j]);
        double err = fabs(jv[kern][mode][i] - s) / (1 + sa);
        g_jvp_err = fmax(g_jvp_err, err);
        cr_assert(err <= 2e-6, "%s rep %d kern %d mode %d: jvp[%lld] = %.9g, J v = %.9g", name, rep, kern, mode,
                  (long long)i, jv[kern][mode][i], s);
      }
      /* (b) HVP vs central differences of the double reference; symmetry */
      cr_assert_eq(tl_autograd_hvp(e, o.loss, o.z, v, hv[kern][mode], &st), TL_OK, "%s: %s", name, st.msg);
      cr_assert_eq(tl_autograd_hvp(e, o.loss, o.z, u, hu, &st), TL_OK, "%s: %s", name, st.msg);
      double uhv = 0, vhu = 0, sa = 0;
      for (int64_t j = 0; j < nz; j++) {
        double err = fabs(hv[kern][mode][j] - href[j]) / (1 + hscale);
        g_hvp_err = fmax(g_hvp_err, err);
        cr_assert(err <= 2e-4, "%s rep %d kern %d mode %d: Hv[%lld] = %.9g, central differences %.9g", name, rep, kern,
                  mode, (long long)j, hv[kern][mode][j], href[j]);
        uhv += (double)u[j] * hv[kern][mode][j], vhu += (double)v[j] * hu[j];
        sa += fabs((double)u[j] * hv[kern][mode][j]);
      }
      g_sym_err = fmax(g_sym_err, fabs(uhv - vhu) / (1 + sa));
      cr_assert(fabs(uhv - vhu) <= 1e-5 * (1 + sa), "%s rep %d: u^T H v = %.9g, v^T H u = %.9g", name, rep, uhv, vhu);
      tl_exec_free(e);
    }
  if (c->op != TL_OP_ATTENTION) {
    for (int kern = 0; kern < 2; kern++) {
      cr_assert(bits_equal(jv[kern][0], jv[kern][1], ny), "%s rep %d kern %d: eager/compiled JVP differ", name, rep, kern);
      cr_assert(bits_equal(hv[kern][0], hv[kern][1], nz), "%s rep %d kern %d: eager/compiled HVP differ", name, rep, kern);
    }
  }
  switch (c->op) { /* the check can fail: curvature well above the tolerance, so a missing rule would be caught */
  case TL_OP_SQRT: case TL_OP_EXP: case TL_OP_LOG: case TL_OP_SIGMOID: case TL_OP_TANH: case TL_OP_GELU:
  case TL_OP_SILU: case TL_OP_SOFTMAX: case TL_OP_LOG_SOFTMAX: case TL_OP_MSE_LOSS:
    cr_assert(hscale > 1e-2, "%s: reference Hv too small (%g) to test the rule", name, hscale);
    break;
  default:
    break;
  }
  for (int kern = 0; kern < 2; kern++)
    for (int mode = 0; mode < 2; mode++) free(jv[kern][mode]), free(hv[kern][mode]);
  free(v), free(u), free(hu), free(href), free(jac);
  free_vals(&vals);
  tl_graph_free(o.g);
}

Test(autograd, every_op_jvp_equals_reverse_and_hvp_equals_central_differences, .timeout = 600) {
  tl_rng r;
  tl_rng_init(&r, 4242);
  for (int op = TL_OP_LINEAR; op < TL_OP_COUNT; op++)
    for (int rep = 0; rep < 3; rep++) {
      tcase c;
      opcase_make((tl_op)op, &r, &c);
      check_op_case(&c, &r, rep);
    }
  printf("autograd ops: max JVP err %.3g (vs J v, scaled), max HVP err %.3g (vs central differences, scaled), "
         "max asymmetry %.3g\n",
         g_jvp_err, g_hvp_err, g_sym_err);
}
