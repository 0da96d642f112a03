/* test_agreement.c - the runtime against the exact side (docs/semantics.md):
 *  - TL_KERNELS_REF (eager and compiled) equals the floats/ emulator BIT FOR BIT on every op that
 *    has an f32-ref order, random shapes and attributes from a seeded tl_rng, inputs with special
 *    values (+-0, subnormals, overflowing magnitudes, NaN, +-inf), and on whole traced models
 *    (MLP 784-128-10, the zoo CNN, with and without the Normalize layer);
 *  - both kernel sets (FAST: OpenBLAS, any order) lie inside the f32-any enclosure of the graph,
 *    on those models and on random networks (tests/support/nets.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets.h"
#include "torchlean/exec.h"
#include "torchlean/floats.h"
#include "torchlean/nn.h"
#include "torchlean/rand.h"

enum { V_ANY = 0, V_POS, V_INDEX, V_PROB };

typedef struct acase {
  tl_op op;
  int np;
  int nd[5];
  int64_t sh[5][5];
  int kind[5];
  int64_t index_rows;
  tl_attrs a;
  int64_t list[6];
} acase;

static int64_t rint_(tl_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)tl_rng_below(r, (uint64_t)(hi - lo + 1));
}

static void shp(acase *c, int k, int nd, int64_t a, int64_t b, int64_t d, int64_t e) {
  int64_t s[4] = {a, b, d, e};
  c->nd[k] = nd;
  for (int i = 0; i < nd; i++)
    c->sh[k][i] = s[i];
}

/* the ops with an f32-ref order (training-mode ops are f32-any only) */
static const tl_op ref_ops[] = {TL_OP_LINEAR,     TL_OP_MATMUL,     TL_OP_ADD,
                                TL_OP_SUB,        TL_OP_MUL,        TL_OP_DIV,
                                TL_OP_MAX,        TL_OP_MIN,        TL_OP_NEG,
                                TL_OP_ABS,        TL_OP_SQRT,       TL_OP_EXP,
                                TL_OP_LOG,        TL_OP_RELU,       TL_OP_LEAKY_RELU,
                                TL_OP_SIGMOID,    TL_OP_TANH,       TL_OP_GELU,
                                TL_OP_SILU,       TL_OP_SOFTMAX,    TL_OP_LOG_SOFTMAX,
                                TL_OP_CLAMP,      TL_OP_SUM,        TL_OP_MEAN,
                                TL_OP_RESHAPE,    TL_OP_FLATTEN,    TL_OP_PERMUTE,
                                TL_OP_CONCAT,     TL_OP_SLICE,      TL_OP_CONV2D,
                                TL_OP_MAX_POOL2D, TL_OP_AVG_POOL2D, TL_OP_GLOBAL_AVG_POOL,
                                TL_OP_BATCH_NORM, TL_OP_LAYER_NORM, TL_OP_DROPOUT,
                                TL_OP_EMBEDDING,  TL_OP_MSE_LOSS,   TL_OP_CROSS_ENTROPY,
                                TL_OP_ATTENTION};

static void make_case(tl_op op, tl_rng *r, acase *c) {
  memset(c, 0, sizeof *c);
  c->op = op;
  c->a = tl_attrs_default(op);
  int64_t B = rint_(r, 1, 3), D = rint_(r, 1, 6), D2 = rint_(r, 1, 5);
  switch (op) {
  case TL_OP_ADD:
  case TL_OP_SUB:
  case TL_OP_MUL:
  case TL_OP_DIV:
  case TL_OP_MAX:
  case TL_OP_MIN: {
    c->np = 2;
    shp(c, 0, 3, B, D, D2, 0);
    int v = (int)rint_(r, 0, 2);
    if (v == 0)
      shp(c, 1, 3, B, D, D2, 0);
    else if (v == 1)
      shp(c, 1, 1, D2, 0, 0, 0);
    else
      shp(c, 1, 3, 1, D, 1, 0);
    break;
  }
  case TL_OP_LEAKY_RELU: c->a.alpha = 0.01 + 0.3 * tl_rng_uniform(r); /* fallthrough */
  case TL_OP_NEG:
  case TL_OP_ABS:
  case TL_OP_SQRT:
  case TL_OP_EXP:
  case TL_OP_LOG:
  case TL_OP_RELU:
  case TL_OP_SIGMOID:
  case TL_OP_TANH:
  case TL_OP_GELU:
  case TL_OP_SILU:
  case TL_OP_DROPOUT:
    c->np = 1;
    shp(c, 0, 3, B, D, D2 + 3, 0);
    break;
  case TL_OP_CLAMP: {
    static const double los[] = {0.0, -0.5, -1e-40, -3.0}, his[] = {6.0, 0.7, 0.0, 1e30};
    int k = (int)rint_(r, 0, 3);
    c->np = 1;
    shp(c, 0, 2, B, D + 3, 0, 0);
    c->a.lo = los[k];
    c->a.hi = his[k];
    break;
  }
  case TL_OP_SOFTMAX:
  case TL_OP_LOG_SOFTMAX:
    c->np = 1;
    shp(c, 0, 3, B, D + 1, D2, 0);
    c->a.axis = rint_(r, 0, 2);
    break;
  case TL_OP_SUM:
  case TL_OP_MEAN:
    c->np = 1;
    shp(c, 0, 3, B, D, D2 + 1, 0);
    c->a.nlist = (int)rint_(r, 0, 2);
    c->list[0] = rint_(r, 0, 1);
    c->list[1] = 2;
    c->a.keepdim = rint_(r, 0, 1);
    break;
  case TL_OP_RESHAPE:
    c->np = 1;
    shp(c, 0, 3, B, D, 2, 0);
    c->a.nlist = 2;
    c->list[0] = 2;
    c->list[1] = -1;
    break;
  case TL_OP_FLATTEN:
    c->np = 1;
    shp(c, 0, 4, B, D, 2, D2);
    c->a.axis = rint_(r, 0, 1);
    c->a.axis_end = rint_(r, 2, 3);
    break;
  case TL_OP_PERMUTE: {
    c->np = 1;
    shp(c, 0, 3, B + 1, D, D2 + 1, 0);
    int64_t perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    int k = (int)rint_(r, 0, 5);
    c->a.nlist = 3;
    memcpy(c->list, perms[k], sizeof perms[k]);
    break;
  }
  case TL_OP_CONCAT:
    c->np = 3;
    c->a.axis = rint_(r, 0, 2);
    for (int k = 0; k < 3; k++) {
      shp(c, k, 3, B, D, D2, 0);
      c->sh[k][c->a.axis] = rint_(r, 1, 3);
    }
    break;
  case TL_OP_SLICE:
    c->np = 1;
    shp(c, 0, 3, B, D + 3, D2, 0);
    c->a.axis = 1;
    c->a.start = rint_(r, 0, 1);
    c->a.end = D + 3 - rint_(r, 0, 1);
    c->a.step = rint_(r, 1, 2);
    break;
  case TL_OP_LINEAR: {
    int64_t I = rint_(r, 1, 40), O = rint_(r, 1, 6);
    c->np = rint_(r, 0, 3) ? 3 : 2;
    shp(c, 0, rint_(r, 0, 1) ? 2 : 3, B, rint_(r, 1, 3), I, 0);
    c->sh[0][c->nd[0] - 1] = I;
    shp(c, 1, 2, O, I, 0, 0);
    shp(c, 2, 1, O, 0, 0, 0);
    break;
  }
  case TL_OP_MATMUL: {
    int64_t M = rint_(r, 1, 4), K = rint_(r, 1, 20), N = rint_(r, 1, 4);
    c->np = 2;
    if (rint_(r, 0, 1)) {
      shp(c, 0, 2, M, K, 0, 0);
      shp(c, 1, 2, K, N, 0, 0);
    } else {
      shp(c, 0, 3, B, M, K, 0);
      shp(c, 1, 3, 1, K, N, 0);
    }
    break;
  }
  case TL_OP_CONV2D: {
    int64_t G = rint_(r, 1, 2), Cg = rint_(r, 1, 3), Og = rint_(r, 1, 2), k0 = rint_(r, 1, 3),
            k1 = rint_(r, 1, 3);
    for (int i = 0; i < 2; i++) {
      c->a.stride[i] = rint_(r, 1, 2);
      c->a.padding[i] = rint_(r, 0, 2);
      c->a.dilation[i] = rint_(r, 1, 2);
    }
    c->a.groups = G;
    c->np = rint_(r, 0, 2) ? 3 : 2;
    shp(c, 0, 4, rint_(r, 1, 2), G * Cg, rint_(r, 5, 7), rint_(r, 5, 7));
    shp(c, 1, 4, G * Og, Cg, k0, k1);
    shp(c, 2, 1, G * Og, 0, 0, 0);
    break;
  }
  case TL_OP_MAX_POOL2D:
  case TL_OP_AVG_POOL2D:
    c->np = 1;
    shp(c, 0, 4, B, rint_(r, 1, 2), rint_(r, 3, 6), rint_(r, 3, 6));
    for (int i = 0; i < 2; i++) {
      c->a.kernel[i] = rint_(r, 1, 3);
      c->a.stride[i] = rint_(r, 1, 2);
      c->a.padding[i] = rint_(r, 0, c->a.kernel[i] / 2);
      c->a.dilation[i] = 1;
    }
    break;
  case TL_OP_GLOBAL_AVG_POOL:
    c->np = 1;
    shp(c, 0, 4, B, D, rint_(r, 1, 4), rint_(r, 1, 4));
    break;
  case TL_OP_BATCH_NORM: {
    int64_t C = rint_(r, 1, 3);
    c->np = 5;
    shp(c, 0, rint_(r, 0, 1) ? 2 : 4, rint_(r, 1, 3), C, 2, 3);
    for (int k = 1; k < 5; k++)
      shp(c, k, 1, C, 0, 0, 0);
    c->a.eps = rint_(r, 0, 1) ? 1e-5 : 0.1;
    break;
  }
  case TL_OP_LAYER_NORM:
    c->np = (int)rint_(r, 1, 3);
    shp(c, 0, 2, B, rint_(r, 1, 9), 0, 0);
    shp(c, 1, 1, c->sh[0][1], 0, 0, 0);
    shp(c, 2, 1, c->sh[0][1], 0, 0, 0);
    c->a.eps = rint_(r, 0, 1) ? 1e-6 : 1e-5;
    break;
  case TL_OP_EMBEDDING:
    c->np = 2;
    shp(c, 0, 2, B, D, 0, 0);
    c->index_rows = rint_(r, 1, 5);
    shp(c, 1, 2, c->index_rows, D2, 0, 0);
    c->kind[0] = V_INDEX;
    break;
  case TL_OP_MSE_LOSS:
    c->np = 2;
    shp(c, 0, 2, B, D, 0, 0);
    shp(c, 1, 2, B, D, 0, 0);
    break;
  case TL_OP_CROSS_ENTROPY:
    c->np = 2;
    shp(c, 0, 2, B, D + 1, 0, 0);
    shp(c, 1, 2, B, D + 1, 0, 0);
    c->kind[1] = V_PROB;
    break;
  case TL_OP_ATTENTION: { /* x (N, L, E), W_in (3E, E), b_in (3E), W_out (E, E), b_out (E) */
    int64_t H = rint_(r, 1, 2), E = H * rint_(r, 1, 3), L = rint_(r, 1, 4);
    c->a.heads = H;
    c->a.causal = rint_(r, 0, 1);
    c->np = 5;
    shp(c, 0, 3, B, L, E, 0);
    shp(c, 1, 2, 3 * E, E, 0, 0);
    shp(c, 2, 1, 3 * E, 0, 0, 0);
    shp(c, 3, 2, E, E, 0, 0);
    shp(c, 4, 1, E, 0, 0, 0);
    break;
  }
  default: cr_assert_fail("no case for op %d", (int)op);
  }
  if (c->a.nlist)
    c->a.list = c->list;
}

static float bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* one value: `special` = 0 ordinary numbers only; 1 mixes in +-0, subnormals, tiny and huge
 * magnitudes (products and sums that overflow), NaN, +-inf, and numbers with random exponents */
static float draw(tl_rng *r, int special) {
  double u = tl_rng_uniform(r);
  if (!special || u < 0.45)
    return (float)(2 * tl_rng_uniform(r) - 1) * (float)(1 + 3 * tl_rng_uniform(r));
  uint32_t sign = (uint32_t)tl_rng_below(r, 2) << 31;
  switch (tl_rng_below(r, 9)) {
  case 0: return bits_to_float(sign);                                                       /* +-0 */
  case 1: return bits_to_float(sign | (uint32_t)(1 + tl_rng_below(r, 0x7fffff)));           /* subnormal */
  case 2: return bits_to_float(sign | (uint32_t)(0x00800000 + tl_rng_below(r, 0x3000000))); /* tiny normal */
  case 3: return bits_to_float(sign | (uint32_t)(0x7e800000 + tl_rng_below(r, 0x7fffff)));  /* ~1e38 */
  case 4: return NAN;
  case 5: return sign ? -INFINITY : INFINITY;
  case 6: return bits_to_float(sign | (uint32_t)(0x3f800000 + tl_rng_below(r, 0x7fffff))); /* [1, 2) */
  case 7: return sign ? -88.5f : 89.0f; /* exp overflow/underflow edges */
  default: /* any finite float */ return bits_to_float(sign | (uint32_t)tl_rng_below(r, 0x7f800000));
  }
}

static void fill(tl_rng *r, const acase *c, int k, float *v, int64_t n, int special) {
  int64_t last = c->sh[k][c->nd[k] - 1];
  for (int64_t i = 0; i < n; i++) {
    switch (c->kind[k]) {
    case V_INDEX: v[i] = (float)tl_rng_below(r, (uint64_t)c->index_rows); break;
    case V_PROB: v[i] = (float)tl_rng_uniform(r); break;
    default: v[i] = draw(r, special);
    }
  }
  if (c->kind[k] == V_PROB) /* rows sum to about 1 */
    for (int64_t i = 0; i < n; i += last) {
      float s = 0;
      for (int64_t j = 0; j < last; j++)
        s += v[i + j];
      for (int64_t j = 0; j < last; j++)
        v[i + j] /= s;
    }
}

static int same_bits(float a, float b) {
  if (isnan(a) && isnan(b))
    return 1;
  uint32_t x, y;
  memcpy(&x, &a, 4), memcpy(&y, &b, 4);
  return x == y;
}

/* Run g on the runtime; returns per-node copies of every value the exec kept (NULL where it did
 * not keep one, e.g. a linear fused into its relu).  Caller frees with free_vals. */
static float **run_runtime(tl_graph *g, const float *const *inputs, tl_exec_mode mode, tl_kernels kern) {
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = mode, o.kernels = kern;
  tl_exec *e;
  tl_status st;
  cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK, "%s", st.msg);
  for (int k = 0; k < g->ninputs; k++)
    cr_assert_eq(tl_exec_set_input(e, g->inputs[k], inputs[k], &st), TL_OK, "%s", st.msg);
  if (mode == TL_COMPILED)
    cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
  float **v = calloc((size_t)g->nnodes, sizeof *v);
  for (int id = 0; id < g->nnodes; id++) {
    const float *y = tl_exec_value(e, id);
    if (!y)
      continue;
    int64_t n = g->nodes[id].numel;
    v[id] = malloc(sizeof(float) * (size_t)(n ? n : 1));
    memcpy(v[id], y, sizeof(float) * (size_t)n);
  }
  tl_exec_free(e);
  return v;
}

static void free_vals(const tl_graph *g, float **v) {
  for (int id = 0; id < g->nnodes; id++)
    free(v[id]);
  free(v);
}

/* REF eager and compiled vs the emulator on every node both have; returns nodes compared */
static int check_ref_vs_emu(tl_graph *g, const float *const *inputs, const char *what) {
  tl_f32_values *emu;
  tl_status st;
  cr_assert_eq(tl_f32_emulate(g, inputs, &emu, &st), TL_OK, "%s: %s", what, st.msg);
  int compared = 0;
  for (int mode = 0; mode < 2; mode++) {
    float **v = run_runtime(g, inputs, (tl_exec_mode)mode, TL_KERNELS_REF);
    for (int id = 0; id < g->nnodes; id++) {
      if (!v[id])
        continue;
      compared++;
      for (int64_t i = 0; i < g->nodes[id].numel; i++)
        cr_assert(same_bits(v[id][i], emu->v[id][i]),
                  "%s: node %d (%s) [%lld]: runtime REF %s = %a, emulator %a", what, id,
                  tl_op_get(g->nodes[id].op)->name, (long long)i, mode ? "compiled" : "eager", v[id][i],
                  emu->v[id][i]);
    }
    cr_assert(v[g->nnodes - 1] != NULL, "%s: the last node has no value", what);
    free_vals(g, v);
  }
  tl_f32_values_free(emu);
  return compared;
}

/* both kernel sets inside the f32-any enclosure (tl_compare_run) on every kept node */
static double check_any(tl_graph *g, const float *const *inputs, const char *what) {
  double worst = 0;
  for (int kern = 0; kern < 2; kern++) {
    float **v = run_runtime(g, inputs, TL_COMPILED, (tl_kernels)kern);
    tl_compare_report *rep;
    tl_status st;
    cr_assert_eq(tl_compare_run(NULL, g, inputs, (const float *const *)v, &rep, &st), TL_OK, "%s: %s", what,
                 st.msg);
    cr_assert_not_null(rep->any, "%s: f32-any failed: %s", what, rep->any_status.msg);
    for (int id = 0; id < g->nnodes; id++) {
      const tl_compare_node *cn = &rep->nodes[id];
      cr_assert_eq(cn->emu_outside_any, 0, "%s: node %d: emulator outside f32-any", what, id);
      cr_assert_eq(cn->outside_any, 0, "%s: node %d (%s): %lld %s values outside f32-any", what, id,
                   tl_op_get(g->nodes[id].op)->name, (long long)cn->outside_any, kern ? "REF" : "FAST");
      if (kern == TL_KERNELS_REF && cn->have_values)
        cr_assert_eq(cn->emu_mismatch, 0, "%s: node %d: REF differs from emulator", what, id);
      if (cn->have_values && cn->max_any_width > 0 && isfinite(cn->max_any_width) &&
          cn->max_abs_err / cn->max_any_width > worst)
        worst = cn->max_abs_err / cn->max_any_width;
    }
    cr_assert(rep->all_inside_any);
    tl_compare_report_free(rep);
    free_vals(g, v);
  }
  return worst;
}

static void run_op_case(const acase *c, tl_rng *r, int special, int rep) {
  tl_graph *g = tl_graph_new();
  tl_status st;
  int ids[5], out;
  for (int k = 0; k < c->np; k++) {
    char nm[8] = {'i', 'n', (char)('0' + k), 0};
    cr_assert_eq(tl_graph_input(g, nm, c->nd[k], c->sh[k], &ids[k], &st), TL_OK, "%s", st.msg);
  }
  const char *name = tl_op_get(c->op)->name;
  cr_assert_eq(tl_graph_op(g, c->op, c->np, ids, &c->a, &out, &st), TL_OK, "op %s: %s", name, st.msg);
  float *vals[5];
  for (int k = 0; k < c->np; k++) {
    int64_t n = g->nodes[ids[k]].numel;
    vals[k] = malloc(sizeof(float) * (size_t)(n ? n : 1));
    fill(r, c, k, vals[k], n, special);
  }
  char what[96];
  snprintf(what, sizeof what, "%s rep %d%s", name, rep, special ? " (special values)" : "");
  int nc = check_ref_vs_emu(g, (const float *const *)vals, what);
  if (getenv("TL_AGREE_DEBUG"))
    fprintf(stderr, "%s: %d nodes, out %lld elems\n", what, nc, (long long)g->nodes[out].numel);
  for (int k = 0; k < c->np; k++)
    free(vals[k]);
  tl_graph_free(g);
}

Test(agreement, every_ref_op_matches_emulator_bit_for_bit) {
  tl_rng r;
  tl_rng_init(&r, 20240611);
  for (size_t j = 0; j < sizeof ref_ops / sizeof ref_ops[0]; j++)
    for (int rep = 0; rep < 12; rep++) {
      acase c;
      make_case(ref_ops[j], &r, &c);
      run_op_case(&c, &r, rep % 3 != 0, rep);
    }
}

/* hand-picked signed-zero / NaN cases where an order or a max rule shows */
Test(agreement, signed_zero_and_nan_corner_cases) {
  tl_graph *g = tl_graph_new();
  int64_t s4[4] = {1, 1, 2, 2}, s2[2] = {1, 4};
  int x, y, xc, z;
  tl_graph_input(g, "x", 4, s4, &x, NULL);
  tl_attrs a = tl_attrs_default(TL_OP_MAX_POOL2D);
  a.kernel[0] = a.kernel[1] = 2, a.stride[0] = a.stride[1] = 2;
  cr_assert_eq(tl_graph_op(g, TL_OP_MAX_POOL2D, 1, &x, &a, &y, NULL), TL_OK);
  tl_graph_input(g, "c", 2, s2, &xc, NULL);
  tl_attrs ca = tl_attrs_default(TL_OP_CLAMP);
  ca.lo = 0, ca.hi = 6;
  cr_assert_eq(tl_graph_op(g, TL_OP_CLAMP, 1, &xc, &ca, &z, NULL), TL_OK);
  float xv[4] = {-0.0f, 0.0f, -1.0f, -2.0f}, cv[4] = {-0.0f, NAN, 7.0f, -3.0f};
  const float *in[2] = {xv, cv};
  check_ref_vs_emu(g, in, "corner cases");
  tl_f32_values *emu;
  cr_assert_eq(tl_f32_emulate(g, in, &emu, NULL), TL_OK);
  cr_assert(emu->v[y][0] == 0 && !signbit(emu->v[y][0]), "max pool of {-0, +0} is +0");
  cr_assert(emu->v[z][0] == 0 && !signbit(emu->v[z][0]), "clamp(-0, 0, 6) is +0");
  cr_assert(isnan(emu->v[z][1]));
  tl_f32_values_free(emu);
  tl_graph_free(g);
}

/* ---- whole models ------------------------------------------------------------------------- */
/* real-looking images: blobs of ink on a zero background, pixel values k/255 */
static void fake_images(tl_rng *r, float *x, int64_t n, int64_t hw) {
  for (int64_t b = 0; b < n; b++) {
    float *im = x + b * hw * hw;
    double cy = hw * (0.3 + 0.4 * tl_rng_uniform(r)), cx = hw * (0.3 + 0.4 * tl_rng_uniform(r));
    double ry = hw * (0.15 + 0.2 * tl_rng_uniform(r)), rx = hw * (0.1 + 0.2 * tl_rng_uniform(r));
    for (int64_t i = 0; i < hw; i++)
      for (int64_t j = 0; j < hw; j++) {
        double d = ((i - cy) * (i - cy)) / (ry * ry) + ((j - cx) * (j - cx)) / (rx * rx);
        double v = d < 1 ? 1 - 0.6 * d + 0.2 * tl_rng_uniform(r) : 0;
        v = v > 1 ? 1 : v;
        im[i * hw + j] = (float)(int)(v * 255) / 255.0f;
      }
  }
}

static tl_graph *zoo_graph(int cnn, int normalize, uint64_t seed, int64_t batch) {
  static const double norm[2] = {0.2860, 0.3530};
  const double *nz = normalize ? norm : NULL;
  tl_model *m;
  if (cnn) {
    m = tl_zoo_cnn(seed, 1, 28, 10, nz);
  } else {
    int64_t sample[3] = {1, 28, 28}, hidden[1] = {128};
    m = tl_zoo_mlp(seed, 3, sample, 1, hidden, 10, nz);
  }
  cr_assert_not_null(m);
  tl_graph *g;
  tl_status st;
  cr_assert_eq(tl_model_trace(m, batch, &g, &st), TL_OK, "%s", st.msg);
  tl_model_free(m);
  return g;
}

static void model_case(int cnn, int normalize) {
  tl_rng r;
  tl_rng_init(&r, 99 + (uint64_t)(2 * cnn + normalize));
  int64_t batch = 2;
  tl_graph *g = zoo_graph(cnn, normalize, 7 + (uint64_t)cnn, batch);
  float *x = malloc(sizeof(float) * (size_t)(batch * 28 * 28));
  fake_images(&r, x, batch, 28);
  const float *in[1] = {x};
  char what[64];
  snprintf(what, sizeof what, "%s%s", cnn ? "cnn" : "mlp 784-128-10", normalize ? " + normalize" : "");
  int n = check_ref_vs_emu(g, in, what);
  cr_assert(n > 4, "%s: only %d nodes compared", what, n);
  /* one batch element per compare: the f32-any and spec passes are the slow part */
  tl_graph_free(g);
  g = zoo_graph(cnn, normalize, 7 + (uint64_t)cnn, 1);
  double worst = check_any(g, in, what);
  cr_assert(worst <= 1.0, "%s: error/width ratio %g", what, worst);
  tl_graph_free(g);
  free(x);
}

Test(agreement, mlp_ref_equals_emulator_and_fast_inside_any, .timeout = 600) { model_case(0, 0); }
Test(agreement, mlp_normalize_ref_equals_emulator_and_fast_inside_any, .timeout = 600) { model_case(0, 1); }
Test(agreement, cnn_ref_equals_emulator_and_fast_inside_any, .timeout = 600) { model_case(1, 0); }
Test(agreement, cnn_normalize_ref_equals_emulator_and_fast_inside_any, .timeout = 600) { model_case(1, 1); }

/* random networks (MLP and conv, tests/support/nets.c) with random inputs: REF == emulator,
 * both kernel sets inside f32-any */
Test(agreement, random_networks_inside_any, .timeout = 600) {
  for (uint64_t seed = 1; seed <= 16; seed++) {
    tnet t;
    tnet_make(&t, seed);
    uint64_t s = seed * 7919;
    float *x = malloc(sizeof(float) * (size_t)t.nin);
    for (int64_t i = 0; i < t.nin; i++)
      x[i] = tnet_randf(&s);
    const float *in[1] = {x};
    char what[48];
    snprintf(what, sizeof what, "random net %llu", (unsigned long long)seed);
    check_ref_vs_emu(t.g, in, what);
    check_any(t.g, in, what);
    free(x);
    tnet_free(&t);
  }
}
