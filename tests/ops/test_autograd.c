/* test_autograd.c - forward-mode JVP and forward-over-reverse HVP (runtime/exec/autograd.c, runtime/ad/).
 *
 * Per op (random cases from tests/support/opcases.c), both kernel sets, eager and compiled:
 *  - JVP equals the reverse-mode J v (tl_autograd_jacobian rows, accumulated in double);
 *  - HVP of L = sum(op(x) r) equals central second differences of the double reference
 *    (tests/support/refexec.c), and u^T (H v) = v^T (H u);
 *  - eager and compiled results are bit-identical.
 * The differentiable inputs of an op are either slices of one INPUT z (so the HVP wrt z holds the
 * cross terms between inputs) or separate INPUTs (zero tangents), chosen at random.
 * Attention also runs fixed cases (1-3 heads, causal and not, tangents on all five parents).
 * Plus closed forms (quadratic, softmax cross entropy, sigmoid/tanh), and an MLP, a small CNN and
 * the zoo transformer classifier (causal and not) with cross-entropy loss: HVP wrt the weights
 * against the double reference. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcases.h"
#include "refexec.h"
#include "torchlean/exec.h"
#include "torchlean/nn.h"
#include "torchlean/rand.h"

/* worst errors seen, scaled by the tolerance's scale (printed at the end of each test) */
static double g_jvp_err, g_hvp_err, g_sym_err, g_att_jvp, g_att_hvp, g_att_sym; /* g_att_*: attention only */

typedef struct opgraph {
  tl_graph *g;
  int z, ztot; /* z: INPUT holding the sliced inputs (or -1) */
  int in[5];   /* INPUT node of each op input (-1: sliced from z) */
  int par[5];  /* node feeding op input k */
  int64_t zoff[5];
  int out, r, loss;
  int ninputs; /* INPUT nodes in g->inputs order: z, separate inputs, r */
} opgraph;

/* allz: every differentiable input sliced from z (tangents on every parent) */
static void build(const tcase *c, tl_rng *rng, opgraph *o, int allz) {
  memset(o, 0, sizeof *o);
  tl_graph *g = o->g = tl_graph_new();
  tl_status st;
  int fromz[5] = {0}, any = 0, first = -1;
  int64_t tot = 0, nk[5];
  for (int k = 0; k < c->np; k++) {
    nk[k] = 1;
    for (int d = 0; d < c->nd[k]; d++)
      nk[k] *= c->sh[k][d];
    if (!c->nograd[k] && first < 0)
      first = k;
    fromz[k] = !c->nograd[k] && (tl_rng_below(rng, 4) != 0 || allz);
    any |= fromz[k];
  }
  if (!any)
    fromz[first] = 1; /* at least one: the first differentiable input */
  for (int k = 0; k < c->np; k++)
    if (fromz[k])
      o->zoff[k] = tot, tot += nk[k];
  o->ztot = (int)tot;
  int64_t zs[1] = {tot};
  cr_assert_eq(tl_graph_input(g, "z", 1, zs, &o->z, &st), TL_OK, "%s", st.msg);
  for (int k = 0; k < c->np; k++) {
    o->in[k] = -1;
    if (fromz[k]) {
      int64_t n = 1;
      for (int d = 0; d < c->nd[k]; d++)
        n *= c->sh[k][d];
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
  cr_assert_eq(tl_graph_op(g, c->op, c->np, o->par, &c->a, &o->out, &st), TL_OK, "%s: %s",
               tl_op_get(c->op)->name, st.msg);
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
          for (int d = 0; d < c->nd[k]; d++)
            nk *= c->sh[k][d];
          opcase_fill(rng, c, k, vals->v[i] + o->zoff[k], nk);
        }
    } else if (id == o->r) {
      for (int64_t j = 0; j < n; j++)
        vals->v[i][j] = (float)(2 * tl_rng_uniform(rng) - 1);
    } else {
      for (int k = 0; k < c->np; k++)
        if (o->in[k] == id)
          opcase_fill(rng, c, k, vals->v[i], n);
    }
    for (int64_t j = 0; j < n; j++)
      vals->d[i][j] = vals->v[i][j];
  }
}

static void free_vals(opvals *v) {
  for (int i = 0; i < v->n; i++)
    free(v->v[i]), free(v->d[i]);
}

static tl_exec *new_exec(tl_graph *g, const opvals *vals, int training, tl_exec_mode mode, tl_kernels kern) {
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = mode, o.kernels = kern, o.training = training, o.seed = 77;
  tl_exec *e;
  tl_status st;
  cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK);
  for (int i = 0; i < g->ninputs; i++)
    cr_assert_eq(tl_exec_set_input(e, g->inputs[i], vals->v[i], &st), TL_OK, "%s", st.msg);
  if (mode == TL_COMPILED)
    cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s", st.msg);
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
      for (int64_t i = 0; i < n; i++)
        z[i] = z0[i] + sv * v[i];
      z[j] += se;
      f[s] = ref_loss(o, vals, training);
    }
    hv[j] = (f[0] - f[1] - f[2] + f[3]) / (4 * h * h);
  }
  memcpy(z, z0, sizeof(double) * (size_t)n);
  free(z0);
}

static int bits_equal(const float *a, const float *b, int64_t n) {
  return memcmp(a, b, sizeof(float) * (size_t)n) == 0;
}

static void randv(tl_rng *r, float *v, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    v[i] = (float)(2 * tl_rng_uniform(r) - 1);
}

static void check_op_case(const tcase *c, tl_rng *rng, int rep, int allz) {
  const char *name = tl_op_get(c->op)->name;
  opgraph o;
  build(c, rng, &o, allz);
  opvals vals;
  make_vals(c, &o, rng, &vals);
  int zi = 0; /* z is the first input */
  int64_t nz = o.ztot, ny = o.g->nodes[o.out].numel;
  float *v = malloc(sizeof(float) * (size_t)nz), *u = malloc(sizeof(float) * (size_t)nz);
  randv(rng, v, nz), randv(rng, u, nz);
  double *href = malloc(sizeof(double) * (size_t)nz);
  ref_hvp(&o, &vals, zi, v, c->training, href);
  double hscale = 0;
  for (int64_t j = 0; j < nz; j++)
    hscale = fmax(hscale, fabs(href[j]));
  float *jv[2][2], *hv[2][2], *hu = malloc(sizeof(float) * (size_t)nz);
  float *jac = malloc(sizeof(float) * (size_t)(ny * nz));
  for (int kern = 0; kern < 2; kern++)
    for (int mode = 0; mode < 2; mode++) {
      tl_exec *e = new_exec(o.g, &vals, c->training, (tl_exec_mode)mode, (tl_kernels)kern);
      tl_status st;
      jv[kern][mode] = malloc(sizeof(float) * (size_t)ny);
      hv[kern][mode] = malloc(sizeof(float) * (size_t)nz);
      /* (a) JVP vs reverse-mode J v */
      cr_assert_eq(tl_autograd_jvp(e, o.z, v, o.out, jv[kern][mode], &st), TL_OK, "%s: %s", name, st.msg);
      cr_assert_eq(tl_autograd_jacobian(e, o.out, o.z, jac, &st), TL_OK, "%s", st.msg);
      for (int64_t i = 0; i < ny; i++) {
        double s = 0, sa = 0;
        for (int64_t j = 0; j < nz; j++)
          s += (double)jac[i * nz + j] * v[j], sa += fabs((double)jac[i * nz + j] * v[j]);
        double err = fabs(jv[kern][mode][i] - s) / (1 + sa);
        g_jvp_err = fmax(g_jvp_err, err);
        if (c->op == TL_OP_ATTENTION)
          g_att_jvp = fmax(g_att_jvp, err);
        cr_assert(err <= 2e-6, "%s rep %d kern %d mode %d: jvp[%lld] = %.9g, J v = %.9g", name, rep, kern,
                  mode, (long long)i, jv[kern][mode][i], s);
      }
      /* (b) HVP vs central differences of the double reference; symmetry */
      cr_assert_eq(tl_autograd_hvp(e, o.loss, o.z, v, hv[kern][mode], &st), TL_OK, "%s: %s", name, st.msg);
      cr_assert_eq(tl_autograd_hvp(e, o.loss, o.z, u, hu, &st), TL_OK, "%s: %s", name, st.msg);
      double uhv = 0, vhu = 0, sa = 0;
      for (int64_t j = 0; j < nz; j++) {
        double err = fabs(hv[kern][mode][j] - href[j]) / (1 + hscale);
        g_hvp_err = fmax(g_hvp_err, err);
        if (c->op == TL_OP_ATTENTION)
          g_att_hvp = fmax(g_att_hvp, err);
        cr_assert(err <= 2e-4, "%s rep %d kern %d mode %d: Hv[%lld] = %.9g, central differences %.9g", name,
                  rep, kern, mode, (long long)j, hv[kern][mode][j], href[j]);
        uhv += (double)u[j] * hv[kern][mode][j], vhu += (double)v[j] * hu[j];
        sa += fabs((double)u[j] * hv[kern][mode][j]);
      }
      g_sym_err = fmax(g_sym_err, fabs(uhv - vhu) / (1 + sa));
      if (c->op == TL_OP_ATTENTION)
        g_att_sym = fmax(g_att_sym, fabs(uhv - vhu) / (1 + sa));
      cr_assert(fabs(uhv - vhu) <= 1e-5 * (1 + sa), "%s rep %d: u^T H v = %.9g, v^T H u = %.9g", name, rep,
                uhv, vhu);
      tl_exec_free(e);
    }
  for (int kern = 0; kern < 2; kern++) {
    cr_assert(bits_equal(jv[kern][0], jv[kern][1], ny), "%s rep %d kern %d: eager/compiled JVP differ", name,
              rep, kern);
    cr_assert(bits_equal(hv[kern][0], hv[kern][1], nz), "%s rep %d kern %d: eager/compiled HVP differ", name,
              rep, kern);
  }
  switch (
      c->op) { /* the check can fail: curvature well above the tolerance, so a missing rule would be caught */
  case TL_OP_SQRT:
  case TL_OP_EXP:
  case TL_OP_LOG:
  case TL_OP_SIGMOID:
  case TL_OP_TANH:
  case TL_OP_GELU:
  case TL_OP_SILU:
  case TL_OP_SOFTMAX:
  case TL_OP_LOG_SOFTMAX:
  case TL_OP_MSE_LOSS:
    cr_assert(hscale > 1e-2, "%s: reference Hv too small (%g) to test the rule", name, hscale);
    break;
  case TL_OP_ATTENTION: /* random cases may have L = 1 or few parents with tangents; the fixed ones not */
    cr_assert(!allz || hscale > 1e-2, "%s: reference Hv too small (%g) to test the rule", name, hscale);
    break;
  default: break;
  }
  for (int kern = 0; kern < 2; kern++)
    for (int mode = 0; mode < 2; mode++)
      free(jv[kern][mode]), free(hv[kern][mode]);
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
      check_op_case(&c, &r, rep, 0);
    }
  /* attention, fixed shapes on top of the random ones: several heads, causal and not, batch 2,
   * tangents on every parent (x, W_in, b_in, W_out, b_out all sliced from z) */
  static const int64_t att[4][4] = {
      {2, 3, 2, 1}, {3, 4, 1, 0}, {2, 5, 3, 1}, {1, 4, 2, 0}}; /* H, L, dh, causal */
  for (int i = 0; i < 4; i++) {
    tcase c;
    opcase_make(TL_OP_ATTENTION, &r, &c);
    int64_t H = att[i][0], L = att[i][1], E = H * att[i][2];
    c.sh[0][0] = 2, c.sh[0][1] = L, c.sh[0][2] = E;
    c.sh[1][0] = 3 * E, c.sh[1][1] = E, c.sh[2][0] = 3 * E, c.sh[3][0] = E, c.sh[3][1] = E, c.sh[4][0] = E;
    c.a.heads = H, c.a.causal = att[i][3];
    check_op_case(&c, &r, 100 + i, 1);
  }
  printf(
      "autograd ops: max JVP err %.3g (vs J v, scaled), max HVP err %.3g (vs central differences, scaled), "
      "max asymmetry %.3g\n",
      g_jvp_err, g_hvp_err, g_sym_err);
  printf("autograd attention: max JVP err %.3g, max HVP err %.3g, max asymmetry %.3g\n", g_att_jvp, g_att_hvp,
         g_att_sym);
}

/* ---- closed forms ---------------------------------------------------------------------------- */
static tl_exec *exec_with(tl_graph *g, tl_exec_mode mode, tl_kernels kern, int n, const int *ids,
                          float *const *v) {
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = mode, o.kernels = kern;
  tl_exec *e;
  tl_status st;
  cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK);
  for (int i = 0; i < n; i++)
    cr_assert_eq(tl_exec_set_input(e, ids[i], v[i], &st), TL_OK, "%s", st.msg);
  if (mode == TL_COMPILED)
    cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
  return e;
}

Test(autograd, quadratic_hvp_is_exact) {
  tl_graph *g = tl_graph_new();
  tl_rng r;
  tl_rng_init(&r, 5);
  int64_t as[2] = {6, 6}, xs[2] = {1, 6};
  float Av[36], xv[6], v[6], hv[6];
  randv(&r, Av, 36), randv(&r, xv, 6), randv(&r, v, 6);
  int A, x, mm, m, L;
  tl_graph_param(g, "A", TL_PARAM_TRAINABLE, 2, as, Av, &A, NULL);
  tl_graph_input(g, "x", 2, xs, &x, NULL);
  tl_graph_op(g, TL_OP_MATMUL, 2, (int[]){x, A}, NULL, &mm, NULL);
  tl_graph_op(g, TL_OP_MUL, 2, (int[]){mm, x}, NULL, &m, NULL);
  cr_assert_eq(tl_graph_op(g, TL_OP_SUM, 1, &m, NULL, &L, NULL), TL_OK); /* L = x A x^T: H = A + A^T */
  for (int mode = 0; mode < 2; mode++) {
    float *vals[1] = {xv};
    tl_exec *e = exec_with(g, (tl_exec_mode)mode, TL_KERNELS_REF, 1, &x, vals);
    tl_status st;
    cr_assert_eq(tl_autograd_hvp(e, L, x, v, hv, &st), TL_OK, "%s", st.msg);
    for (int i = 0; i < 6; i++) {
      double s = 0;
      for (int j = 0; j < 6; j++)
        s += ((double)Av[i * 6 + j] + Av[j * 6 + i]) * v[j];
      cr_assert(fabs(hv[i] - s) <= 1e-6 * (1 + fabs(s)), "hv[%d] %.9g vs %.9g", i, hv[i], s);
    }
    /* H wrt A: L = sum_ij x_i A_ij x_j is linear in A */
    float va[36], ha[36];
    randv(&r, va, 36);
    cr_assert_eq(tl_autograd_hvp(e, L, A, va, ha, &st), TL_OK, "%s", st.msg);
    for (int i = 0; i < 36; i++)
      cr_assert_eq(ha[i], 0.0f);
    tl_exec_free(e);
  }
  tl_graph_free(g);
}

Test(autograd, cross_entropy_hessian_is_diag_p_minus_p_p_transpose) {
  enum { N = 2, K = 5 };
  tl_graph *g = tl_graph_new();
  int64_t s[2] = {N, K};
  int x, t, L;
  tl_graph_input(g, "x", 2, s, &x, NULL);
  tl_graph_input(g, "t", 2, s, &t, NULL);
  cr_assert_eq(tl_graph_op(g, TL_OP_CROSS_ENTROPY, 2, (int[]){x, t}, NULL, &L, NULL), TL_OK);
  float xv[N * K] = {0.3f, -1.2f, 2.0f, 0.1f, -0.4f, 1.5f, 1.4f, -2.0f, 0.0f, 0.7f}, tv[N * K] = {0};
  tv[2] = 1, tv[K + 4] = 1;
  double p[N * K];
  for (int n = 0; n < N; n++) {
    double z = 0;
    for (int k = 0; k < K; k++)
      z += exp(xv[n * K + k]);
    for (int k = 0; k < K; k++)
      p[n * K + k] = exp(xv[n * K + k]) / z;
  }
  float *vals[2] = {xv, tv};
  for (int kern = 0; kern < 2; kern++)
    for (int mode = 0; mode < 2; mode++) {
      tl_exec *e = exec_with(g, (tl_exec_mode)mode, (tl_kernels)kern, 2, (int[]){x, t}, vals);
      for (int col = 0; col < N * K; col++) { /* H e_col: column col of (1/N) blockdiag(diag p - p p^T) */
        float v[N * K] = {0}, hv[N * K];
        v[col] = 1;
        tl_status st;
        cr_assert_eq(tl_autograd_hvp(e, L, x, v, hv, &st), TL_OK, "%s", st.msg);
        for (int row = 0; row < N * K; row++) {
          double h = row / K != col / K ? 0 : ((row == col ? p[row] : 0) - p[row] * p[col]) / N;
          cr_assert(fabs(hv[row] - h) <= 1e-7, "H[%d][%d] = %.9g, diag(p) - p p^T gives %.9g", row, col,
                    hv[row], h);
          g_hvp_err = fmax(g_hvp_err, fabs(hv[row] - h));
        }
      }
      tl_exec_free(e);
    }
  tl_graph_free(g);
}

Test(autograd, sigmoid_and_tanh_second_derivatives) {
  tl_rng r;
  tl_rng_init(&r, 9);
  for (int f = 0; f < 2; f++) {
    tl_graph *g = tl_graph_new();
    int64_t s[1] = {16};
    int x, rr, y, m, L;
    tl_graph_input(g, "x", 1, s, &x, NULL);
    tl_graph_input(g, "r", 1, s, &rr, NULL);
    tl_graph_op(g, f ? TL_OP_TANH : TL_OP_SIGMOID, 1, &x, NULL, &y, NULL);
    tl_graph_op(g, TL_OP_MUL, 2, (int[]){y, rr}, NULL, &m, NULL);
    tl_graph_op(g, TL_OP_SUM, 1, &m, NULL, &L, NULL);
    float xv[16], rv[16], v[16], hv[16];
    randv(&r, xv, 16), randv(&r, rv, 16), randv(&r, v, 16);
    for (int i = 0; i < 16; i++)
      xv[i] *= 3;
    float *vals[2] = {xv, rv};
    tl_exec *e = exec_with(g, TL_EAGER, TL_KERNELS_FAST, 2, (int[]){x, rr}, vals);
    tl_status st;
    cr_assert_eq(tl_autograd_hvp(e, L, x, v, hv, &st), TL_OK, "%s", st.msg);
    double worst_wrong = 0; /* a plausible wrong rule: f''(x) replaced by f'(x) */
    for (int i = 0; i < 16; i++) {
      double X = xv[i], sgm = 1 / (1 + exp(-X)), th = tanh(X);
      double d2 = f ? -2 * th * (1 - th * th) : sgm * (1 - sgm) * (1 - 2 * sgm);
      double d1 = f ? 1 - th * th : sgm * (1 - sgm);
      double want = rv[i] * d2 * v[i];
      cr_assert(fabs(hv[i] - want) <= 1e-6 * (1 + fabs(want)), "%s''(%g): Hv %.9g vs %.9g",
                f ? "tanh" : "sigmoid", X, hv[i], want);
      worst_wrong = fmax(worst_wrong, fabs(rv[i] * d1 * v[i] - want));
    }
    cr_assert(worst_wrong > 1e-3, "the check would not catch f' in place of f''");
    tl_exec_free(e);
    tl_graph_free(g);
  }
}

/* ---- whole networks ------------------------------------------------------------------------- */
typedef struct net {
  tl_graph *g;
  int x, t, loss, wrt[3];
  float *xv, *tv;
} net;

static int param(tl_graph *g, tl_rng *r, const char *name, int nd, const int64_t *sh, double scale) {
  int id;
  cr_assert_eq(tl_graph_param(g, name, TL_PARAM_TRAINABLE, nd, sh, NULL, &id, NULL), TL_OK);
  float *w = tl_graph_param_data(g, id);
  for (int64_t i = 0; i < g->nodes[id].numel; i++)
    w[i] = (float)(scale * (2 * tl_rng_uniform(r) - 1));
  return id;
}

static void one_hot(tl_rng *r, float *t, int64_t N, int64_t K) {
  memset(t, 0, sizeof(float) * (size_t)(N * K));
  for (int64_t n = 0; n < N; n++)
    t[n * K + (int64_t)tl_rng_below(r, (uint64_t)K)] = 1;
}

static int param_named(const tl_graph *g, const char *suffix) {
  size_t ls = strlen(suffix);
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    size_t ln = strlen(n->name);
    if (n->op == TL_OP_PARAM && ln >= ls && strcmp(n->name + ln - ls, suffix) == 0)
      return i;
  }
  cr_assert_fail("no parameter named *%s", suffix);
  return -1;
}

/* the zoo's transformer classifier (vocab 11, L 5, E 8, 2 heads, FFN 16, one post-norm block, 3
 * classes) traced for batch 2, every weight perturbed (the zoo starts biases at 0, LN at 1/0);
 * causal: its attention node made causal */
static void make_transformer(net *m, int causal) {
  tl_rng r;
  tl_rng_init(&r, causal ? 33 : 32);
  tl_model *md = tl_zoo_transformer(7, 11, 5, 8, 2, 16, 1, 3);
  tl_status st;
  cr_assert_eq(tl_model_trace(md, 2, &m->g, &st), TL_OK, "%s", st.msg);
  tl_model_free(md);
  tl_graph *g = m->g;
  for (int i = 0; i < g->nnodes; i++) {
    tl_node *n = &g->nodes[i];
    if (n->op == TL_OP_ATTENTION)
      n->attrs.causal = causal;
    if (n->op != TL_OP_PARAM)
      continue;
    float *w = tl_graph_param_data(g, i);
    for (int64_t j = 0; j < n->numel; j++)
      w[j] += (float)(0.3 * (2 * tl_rng_uniform(&r) - 1));
  }
  int x = tl_graph_find(g, "x"), y = g->outputs[0];
  int64_t ts[2] = {2, 3};
  m->x = x;
  cr_assert_eq(tl_graph_input(g, "t", 2, ts, &m->t, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_op(g, TL_OP_CROSS_ENTROPY, 2, (int[]){y, m->t}, NULL, &m->loss, &st), TL_OK, "%s",
               st.msg);
  m->wrt[0] = param_named(g, "self_attn.in_proj_weight");
  m->wrt[1] = param_named(g, "self_attn.out_proj.weight");
  m->wrt[2] = param_named(g, "0.weight"); /* the token table: tangents on the attention's x */
  m->xv = malloc(sizeof(float) * 10), m->tv = malloc(sizeof(float) * 6);
  for (int i = 0; i < 10; i++)
    m->xv[i] = (float)tl_rng_below(&r, 11);
  one_hot(&r, m->tv, 2, 3);
}

/* MLP 12-16-5 (tanh), batch 8; CNN conv(1->4, 3x3, pad 1) relu maxpool2 flatten linear(64->3), batch 2;
 * kinds 2 and 3: the transformer, not causal and causal */
static void make_net(net *m, int cnn) {
  if (cnn >= 2) {
    make_transformer(m, cnn == 3);
    return;
  }
  tl_rng r;
  tl_rng_init(&r, cnn ? 31 : 30);
  tl_graph *g = m->g = tl_graph_new();
  tl_status st;
  int h, y;
  if (!cnn) {
    int64_t w1s[2] = {16, 12}, b1s[1] = {16}, w2s[2] = {5, 16}, b2s[1] = {5}, xs[2] = {8, 12}, ts[2] = {8, 5};
    int W1 = param(g, &r, "W1", 2, w1s, 0.5), b1 = param(g, &r, "b1", 1, b1s, 0.5);
    int W2 = param(g, &r, "W2", 2, w2s, 0.5), b2 = param(g, &r, "b2", 1, b2s, 0.5);
    tl_graph_input(g, "x", 2, xs, &m->x, NULL);
    tl_graph_input(g, "t", 2, ts, &m->t, NULL);
    tl_graph_op(g, TL_OP_LINEAR, 3, (int[]){m->x, W1, b1}, NULL, &h, NULL);
    tl_graph_op(g, TL_OP_TANH, 1, &h, NULL, &h, NULL);
    tl_graph_op(g, TL_OP_LINEAR, 3, (int[]){h, W2, b2}, NULL, &y, NULL);
    m->wrt[0] = W1, m->wrt[1] = b1, m->wrt[2] = W2;
    m->xv = malloc(sizeof(float) * 96), m->tv = malloc(sizeof(float) * 40);
    randv(&r, m->xv, 96);
    one_hot(&r, m->tv, 8, 5);
  } else {
    int64_t ws[4] = {4, 1, 3, 3}, bs[1] = {4}, w2s[2] = {3, 64}, b2s[1] = {3}, xs[4] = {2, 1, 8, 8},
            ts[2] = {2, 3};
    int W = param(g, &r, "W", 4, ws, 0.5), b = param(g, &r, "b", 1, bs, 0.2);
    int W2 = param(g, &r, "W2", 2, w2s, 0.3), b2 = param(g, &r, "b2", 1, b2s, 0.2);
    tl_graph_input(g, "x", 4, xs, &m->x, NULL);
    tl_graph_input(g, "t", 2, ts, &m->t, NULL);
    tl_attrs ca = tl_attrs_default(TL_OP_CONV2D);
    ca.padding[0] = ca.padding[1] = 1;
    cr_assert_eq(tl_graph_op(g, TL_OP_CONV2D, 3, (int[]){m->x, W, b}, &ca, &h, &st), TL_OK, "%s", st.msg);
    tl_graph_op(g, TL_OP_RELU, 1, &h, NULL, &h, NULL);
    tl_attrs pa = tl_attrs_default(TL_OP_MAX_POOL2D);
    pa.kernel[0] = pa.kernel[1] = 2, pa.stride[0] = pa.stride[1] = 2;
    cr_assert_eq(tl_graph_op(g, TL_OP_MAX_POOL2D, 1, &h, &pa, &h, &st), TL_OK, "%s", st.msg);
    tl_attrs fa = tl_attrs_default(TL_OP_FLATTEN);
    fa.axis = 1, fa.axis_end = 3;
    cr_assert_eq(tl_graph_op(g, TL_OP_FLATTEN, 1, &h, &fa, &h, &st), TL_OK, "%s", st.msg);
    cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 3, (int[]){h, W2, b2}, NULL, &y, &st), TL_OK, "%s", st.msg);
    m->wrt[0] = W, m->wrt[1] = b, m->wrt[2] = W2;
    m->xv = malloc(sizeof(float) * 128), m->tv = malloc(sizeof(float) * 6);
    randv(&r, m->xv, 128);
    one_hot(&r, m->tv, 2, 3);
  }
  cr_assert_eq(tl_graph_op(g, TL_OP_CROSS_ENTROPY, 2, (int[]){y, m->t}, NULL, &m->loss, &st), TL_OK, "%s",
               st.msg);
}

static double net_ref_loss(const net *m, int wrt, const double *w) {
  int64_t nx = m->g->nodes[m->x].numel, nt = m->g->nodes[m->t].numel;
  double *xd = malloc(sizeof(double) * (size_t)nx), *td = malloc(sizeof(double) * (size_t)nt);
  for (int64_t i = 0; i < nx; i++)
    xd[i] = m->xv[i];
  for (int64_t i = 0; i < nt; i++)
    td[i] = m->tv[i];
  double *ins[2] = {xd, td};
  double **vv = ref_graph(m->g, ins, wrt, w, 0, 0, 0);
  cr_assert_not_null(vv);
  double L = vv[m->loss][0];
  ref_free_vals(m->g, vv);
  free(xd), free(td);
  return L;
}

static const char *net_name(int kind) {
  static const char *nm[4] = {"mlp", "cnn", "transformer", "causal transformer"};
  return nm[kind];
}

static void check_net(int cnn) {
  g_hvp_err = 0;
  net m;
  make_net(&m, cnn);
  tl_rng r;
  tl_rng_init(&r, 99);
  for (int w = 0; w < 3; w++) {
    int id = m.wrt[w];
    int64_t n = m.g->nodes[id].numel;
    float *v = malloc(sizeof(float) * (size_t)n), *hv[2][2];
    double *w0 = malloc(sizeof(double) * (size_t)n), *wp = malloc(sizeof(double) * (size_t)n);
    double *href = malloc(sizeof(double) * (size_t)n), scale = 0, h = 1e-4;
    randv(&r, v, n);
    const float *wf = tl_graph_param_data(m.g, id);
    for (int64_t i = 0; i < n; i++)
      w0[i] = wf[i];
    for (int64_t j = 0; j < n; j++) { /* central second differences of the double reference */
      double f[4];
      for (int s = 0; s < 4; s++) {
        for (int64_t i = 0; i < n; i++)
          wp[i] = w0[i] + (s < 2 ? h : -h) * v[i];
        wp[j] += s % 2 == 0 ? h : -h;
        f[s] = net_ref_loss(&m, id, wp);
      }
      href[j] = (f[0] - f[1] - f[2] + f[3]) / (4 * h * h);
      scale = fmax(scale, fabs(href[j]));
    }
    cr_assert(scale > 1e-3, "%s wrt %s: reference Hv too small (%g)", net_name(cnn), m.g->nodes[id].name,
              scale);
    float *wsave = malloc(sizeof(float) * (size_t)m.g->nweights);
    memcpy(wsave, m.g->weights, sizeof(float) * (size_t)m.g->nweights);
    for (int kern = 0; kern < 2; kern++)
      for (int mode = 0; mode < 2; mode++) {
        float *vals[2] = {m.xv, m.tv};
        tl_exec *e = exec_with(m.g, (tl_exec_mode)mode, (tl_kernels)kern, 2, (int[]){m.x, m.t}, vals);
        tl_exec_zero_grad(e);
        float *pg = tl_exec_param_grads(e);
        pg[0] = 42.0f; /* HVP must not touch the parameter gradients */
        hv[kern][mode] = malloc(sizeof(float) * (size_t)n);
        tl_status st;
        cr_assert_eq(tl_autograd_hvp(e, m.loss, id, v, hv[kern][mode], &st), TL_OK, "%s", st.msg);
        cr_assert_eq(tl_exec_param_grads(e)[0], 42.0f);
        cr_assert(bits_equal(wsave, m.g->weights, m.g->nweights), "HVP wrote the weight store");
        for (int64_t j = 0; j < n; j++) {
          double err = fabs(hv[kern][mode][j] - href[j]) / (1 + scale);
          g_hvp_err = fmax(g_hvp_err, err);
          cr_assert(err <= 1e-5, "%s wrt %s kern %d mode %d: Hv[%lld] = %.9g, central differences %.9g",
                    net_name(cnn), m.g->nodes[id].name, kern, mode, (long long)j, hv[kern][mode][j], href[j]);
        }
        tl_exec_free(e);
      }
    for (int kern = 0; kern < 2; kern++)
      cr_assert(bits_equal(hv[kern][0], hv[kern][1], n), "%s: eager and compiled HVP differ (kern %d)",
                net_name(cnn), kern);
    for (int kern = 0; kern < 2; kern++)
      for (int mode = 0; mode < 2; mode++)
        free(hv[kern][mode]);
    free(v), free(w0), free(wp), free(href), free(wsave);
  }
  printf("autograd %s: max HVP err %.3g (vs central differences of the double reference, scaled)\n",
         net_name(cnn), g_hvp_err);
  free(m.xv), free(m.tv);
  tl_graph_free(m.g);
}

Test(autograd, mlp_cross_entropy_hvp_wrt_weights) { check_net(0); }
Test(autograd, cnn_cross_entropy_hvp_wrt_weights) { check_net(1); }
Test(autograd, transformer_cross_entropy_hvp_wrt_weights, .timeout = 300) {
  check_net(2);
  check_net(3);
}

Test(autograd, hvp_needs_a_scalar_loss_and_a_leaf) {
  tl_graph *g = tl_graph_new();
  int64_t s[1] = {3};
  int x, y;
  tl_graph_input(g, "x", 1, s, &x, NULL);
  tl_graph_op(g, TL_OP_EXP, 1, &x, NULL, &y, NULL);
  float xv[3] = {1, 2, 3}, v[3] = {1, 1, 1}, hv[3];
  float *vals[1] = {xv};
  tl_exec *e = exec_with(g, TL_EAGER, TL_KERNELS_FAST, 1, &x, vals);
  tl_status st;
  cr_assert_eq(tl_autograd_hvp(e, y, x, v, hv, &st), TL_EARG);
  cr_assert(strstr(st.msg, "node 1 (exp)"), "%s", st.msg);
  cr_assert_eq(tl_autograd_jvp(e, y, v, x, hv, &st), TL_EARG);
  tl_exec_free(e);
  tl_graph_free(g);
}
