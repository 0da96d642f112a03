/* emu.c - the f32-ref emulator: IEEE binary32 through MPFR at 24 bits with the binary32
 * exponent range (emin -148, emax 128) and mpfr_subnormalize after every rounded operation.
 * A value lives in the left endpoint of an mpfi_t; the right endpoint is kept equal.
 * Every op is evaluated by spec/'s interpreter (interp.c) over this domain's primitives; the table
 * emu_rules says per op of ops.def which primitive it is, or that interp.c's rule composes it. */
#include <math.h>
#include <stdlib.h>

#include "interp.h"
#include "torchlean/floats.h"

#define V(x) (&(x)->left)

static void fin(mpfi_ptr r) { mpfr_set(&r->right, &r->left, MPFR_RNDN); }

static void round_sub(mpfi_ptr r, int t) {
  mpfr_subnormalize(V(r), t, MPFR_RNDN);
  fin(r);
}

static void set_float(mpfi_ptr r, float f) {
  mpfr_set_flt(V(r), f, MPFR_RNDN);
  fin(r);
}

static float get_float(mpfi_srcptr a) { return mpfr_get_flt(V(a), MPFR_RNDN); }

/* IEEE 754-2019 maximum/minimum: NaN if either is NaN; max(-0, +0) = +0, min(-0, +0) = -0 */
static void emu_maxmin(mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b, int is_max) {
  if (mpfr_nan_p(V(a)) || mpfr_nan_p(V(b))) {
    mpfr_set_nan(V(r));
  } else if (mpfr_zero_p(V(a)) && mpfr_zero_p(V(b))) {
    int neg =
        is_max ? (mpfr_signbit(V(a)) && mpfr_signbit(V(b))) : (mpfr_signbit(V(a)) || mpfr_signbit(V(b)));
    mpfr_set_zero(V(r), neg ? -1 : 1);
  } else {
    int a_wins = is_max ? mpfr_greater_p(V(a), V(b)) : mpfr_less_p(V(a), V(b));
    mpfr_set(V(r), a_wins ? V(a) : V(b), MPFR_RNDN);
  }
  fin(r);
}

/* ---- the emulator's elementwise rules: one binary32 operation each ---------------------------- */
typedef void (*emu_bin_fn)(mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b);
typedef void (*emu_un_fn)(mpfi_ptr r, mpfi_srcptr a, double alpha);

/* y = fl(a + b) */
static void emu_add(mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  int t = mpfr_add(V(r), V(a), V(b), MPFR_RNDN);
  round_sub(r, t);
}

/* y = fl(a - b) */
static void emu_sub(mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  int t = mpfr_sub(V(r), V(a), V(b), MPFR_RNDN);
  round_sub(r, t);
}

/* y = fl(a * b) */
static void emu_mul(mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  int t = mpfr_mul(V(r), V(a), V(b), MPFR_RNDN);
  round_sub(r, t);
}

/* y = fl(a / b) */
static void emu_div(mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  int t = mpfr_div(V(r), V(a), V(b), MPFR_RNDN);
  round_sub(r, t);
}

/* y = maximum(a, b) (IEEE 754-2019, exact) */
static void emu_max(mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) { emu_maxmin(r, a, b, 1); }

/* y = minimum(a, b) (IEEE 754-2019, exact) */
static void emu_min(mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) { emu_maxmin(r, a, b, 0); }

/* y = -x (exact) */
static void emu_neg(mpfi_ptr r, mpfi_srcptr a, double alpha) {
  mpfr_neg(V(r), V(a), MPFR_RNDN);
  fin(r);
}

/* y = |x| (exact) */
static void emu_abs(mpfi_ptr r, mpfi_srcptr a, double alpha) {
  mpfr_abs(V(r), V(a), MPFR_RNDN);
  fin(r);
}

/* y = fl(sqrt(x)) */
static void emu_sqrt(mpfi_ptr r, mpfi_srcptr a, double alpha) {
  int t = mpfr_sqrt(V(r), V(a), MPFR_RNDN);
  round_sub(r, t);
}

/* y = fl(x * x)  (TL_PRIM_SQR) */
static void emu_sqr(mpfi_ptr r, mpfi_srcptr a, double alpha) {
  int t = mpfr_mul(V(r), V(a), V(a), MPFR_RNDN);
  round_sub(r, t);
}

/* y = fl(1 / x)  (TL_PRIM_RECIP) */
static void emu_recip(mpfi_ptr r, mpfi_srcptr a, double alpha) {
  int t = mpfr_ui_div(V(r), 1, V(a), MPFR_RNDN);
  round_sub(r, t);
}

/* transcendentals: the platform's libm on the float (docs/semantics.md) */
/* y = expf(x) */
static void emu_exp(mpfi_ptr r, mpfi_srcptr a, double alpha) { set_float(r, expf(get_float(a))); }

/* y = logf(x) */
static void emu_log(mpfi_ptr r, mpfi_srcptr a, double alpha) { set_float(r, logf(get_float(a))); }

/* y = tanhf(x) */
static void emu_tanh(mpfi_ptr r, mpfi_srcptr a, double alpha) { set_float(r, tanhf(get_float(a))); }

/* y = maximum(x, +0): NaN stays NaN, -0 becomes +0 */
static void emu_relu(mpfi_ptr r, mpfi_srcptr a, double alpha) {
  if (mpfr_nan_p(V(a)))
    mpfr_set_nan(V(r));
  else if (mpfr_sgn(V(a)) > 0)
    mpfr_set(V(r), V(a), MPFR_RNDN);
  else
    mpfr_set_zero(V(r), 1);
  fin(r);
}

/* y = x when x >= 0 (incl. -0) or NaN; else fl((float)alpha * x) */
static void emu_leaky_relu(mpfi_ptr r, mpfi_srcptr a, double alpha) {
  if (mpfr_nan_p(V(a)) || mpfr_sgn(V(a)) >= 0) {
    mpfr_set(V(r), V(a), MPFR_RNDN);
  } else {
    mpfi_t al;
    mpfi_init2(al, 24);
    set_float(al, (float)alpha);
    int t = mpfr_mul(V(r), V(al), V(a), MPFR_RNDN);
    mpfr_subnormalize(V(r), t, MPFR_RNDN);
    mpfi_clear(al);
  }
  fin(r);
}

/* ---- the emulator's table: how each op of ops.def is evaluated in binary32 -------------------- */
typedef struct emu_rule {
  emu_bin_fn bin; /* an elementwise binary op: its primitive (interp.c's rule_binary calls it) */
  emu_un_fn un;   /* an elementwise unary op: its primitive (interp.c's rule_unary calls it) */
  int interp;     /* 1: interp.c's rule for the op over emu_dot / emu_bin / emu_un, f32-ref order */
} emu_rule;

/* clang-format off */
#define EMU_BIN(f) {f, NULL, 0}
#define EMU_UN(f) {NULL, f, 0}
#define EMU_INTERP {NULL, NULL, 1}
#define EMU_UNSUPPORTED {NULL, NULL, 0} /* not emulated: tl_f32_emulate fails on it (no row today) */

#define emu_rule_input EMU_INTERP           /* the caller's floats */
#define emu_rule_param EMU_INTERP           /* the float32 weights */
#define emu_rule_linear EMU_INTERP          /* left fold acc = fl(acc + fl(x_i w_i)), bias added last */
#define emu_rule_matmul EMU_INTERP          /* left fold over j of fl(a_ij b_jk) */
#define emu_rule_add EMU_BIN(emu_add)
#define emu_rule_sub EMU_BIN(emu_sub)
#define emu_rule_mul EMU_BIN(emu_mul)
#define emu_rule_div EMU_BIN(emu_div)
#define emu_rule_max EMU_BIN(emu_max)
#define emu_rule_min EMU_BIN(emu_min)
#define emu_rule_neg EMU_UN(emu_neg)
#define emu_rule_abs EMU_UN(emu_abs)
#define emu_rule_sqrt EMU_UN(emu_sqrt)
#define emu_rule_exp EMU_UN(emu_exp)
#define emu_rule_log EMU_UN(emu_log)
#define emu_rule_relu EMU_UN(emu_relu)
#define emu_rule_leaky_relu EMU_UN(emu_leaky_relu)
#define emu_rule_sigmoid EMU_INTERP         /* fl(1 / fl(1 + expf(-x))) */
#define emu_rule_tanh EMU_UN(emu_tanh)
#define emu_rule_gelu EMU_INTERP            /* (0.5 x) (1 + tanhf(c_s (x + ((c_a x) x) x))), rounded */
#define emu_rule_silu EMU_INTERP            /* fl(x * sigmoid(x)) */
#define emu_rule_softmax EMU_INTERP         /* e_i = expf(x_i - max); y_i = e_i / (left-fold sum of e) */
#define emu_rule_log_softmax EMU_INTERP     /* y_i = (x_i - max) - logf(left-fold sum of e) */
#define emu_rule_clamp EMU_INTERP           /* minimum(maximum(x, lo), hi) */
#define emu_rule_sum EMU_INTERP             /* left-fold sum */
#define emu_rule_mean EMU_INTERP            /* left-fold sum / (float)count */
#define emu_rule_reshape EMU_INTERP         /* exact copy */
#define emu_rule_flatten EMU_INTERP         /* exact copy */
#define emu_rule_permute EMU_INTERP         /* exact copy */
#define emu_rule_concat EMU_INTERP          /* exact copy */
#define emu_rule_slice EMU_INTERP           /* exact copy */
#define emu_rule_conv2d EMU_INTERP          /* left fold over (c, p, q) without padding terms, bias last */
#define emu_rule_max_pool2d EMU_INTERP      /* maximum over the window, left to right */
#define emu_rule_avg_pool2d EMU_INTERP      /* left-fold sum over the window / (float)(kh kw) */
#define emu_rule_global_avg_pool EMU_INTERP /* left-fold sum / (float)count */
#define emu_rule_batch_norm EMU_INTERP      /* ((x - mean) / sqrt(var + eps)) * gamma + beta */
#define emu_rule_layer_norm EMU_INTERP      /* (d_i / sqrt(sum d^2 / n + eps)) gamma + beta, d = x - mean */
#define emu_rule_dropout EMU_INTERP         /* eval: exact copy */
#define emu_rule_embedding EMU_INTERP       /* exact copy of table rows */
#define emu_rule_attention EMU_INTERP       /* projections, scores / sqrt(dh), softmax, sums: left folds */
#define emu_rule_mse_loss EMU_INTERP        /* (left-fold sum of (a - b)^2) / (float)n */
#define emu_rule_cross_entropy EMU_INTERP   /* -((left-fold sum of sum_k t_k log_softmax(x)_k) / N) */
/* clang-format on */

/* one row per op of ops.def: a missing rule is a compile error */
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = emu_rule_##name,
static const emu_rule emu_rules[TL_OP_COUNT] = {
#include "torchlean/ops.def"
};
#undef TL_OP

static const emu_rule *emu_row(int op) { return op >= 0 && op < TL_OP_COUNT ? &emu_rules[op] : NULL; }

int tl_emu_supports(tl_op op) {
  const emu_rule *row = emu_row((int)op);
  return row && (row->bin || row->un || row->interp) && tl_interp_supports(op);
}

static tl_code emu_bin(tl_dom *d, tl_op op, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  const emu_rule *row = emu_row((int)op);
  if (!row || !row->bin)
    return tl_dom_fail(d, TL_EUNSUPPORTED, "binary op %d unknown", (int)op);
  row->bin(r, a, b);
  return TL_OK;
}

static tl_code emu_un(tl_dom *d, int op, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  const emu_rule *row = emu_row(op);
  emu_un_fn f = op == TL_PRIM_SQR ? emu_sqr : op == TL_PRIM_RECIP ? emu_recip : row ? row->un : NULL;
  if (!f)
    return tl_dom_fail(d, TL_EUNSUPPORTED, "unary op %d unknown", op);
  f(r, a, alpha);
  return TL_OK;
}

/* left fold: acc = x0 y0; acc = fl(acc + fl(x_i y_i)); bias last; n == 0: acc = +0 */
static tl_code emu_dot(tl_dom *d, mpfi_ptr r, int64_t n, mpfi_srcptr *x, mpfi_srcptr *y, mpfi_srcptr bias) {
  mpfi_ptr acc = d->user, p = acc + 1;
  int t;
  if (n == 0) {
    mpfr_set_zero(V(acc), 1);
  } else if (y) {
    t = mpfr_mul(V(acc), V(x[0]), V(y[0]), MPFR_RNDN);
    mpfr_subnormalize(V(acc), t, MPFR_RNDN);
  } else {
    mpfr_set(V(acc), V(x[0]), MPFR_RNDN);
  }
  for (int64_t i = 1; i < n; i++) {
    mpfr_srcptr term = V(x[i]);
    if (y) {
      t = mpfr_mul(V(p), V(x[i]), V(y[i]), MPFR_RNDN);
      mpfr_subnormalize(V(p), t, MPFR_RNDN);
      term = V(p);
    }
    t = mpfr_add(V(acc), V(acc), term, MPFR_RNDN);
    mpfr_subnormalize(V(acc), t, MPFR_RNDN);
  }
  if (bias) {
    t = mpfr_add(V(acc), V(acc), V(bias), MPFR_RNDN);
    mpfr_subnormalize(V(acc), t, MPFR_RNDN);
  }
  mpfr_set(V(r), V(acc), MPFR_RNDN);
  fin(r);
  return TL_OK;
}

static void emu_konst(tl_dom *d, mpfi_ptr r, double v) { set_float(r, (float)v); }

static void emu_konst_id(tl_dom *d, mpfi_ptr r, tl_const_id id) {
  set_float(r, id == TL_CONST_SQRT_2_OVER_PI ? (float)0.7978845608028654 : 0.044715f);
}

void tl_f32_values_free(tl_f32_values *v) {
  if (!v)
    return;
  if (v->v)
    for (int i = 0; i < v->nnodes; i++)
      free(v->v[i]);
  free(v->v);
  free(v->numel);
  free(v);
}

tl_code tl_f32_emulate(const tl_graph *g, const float *const *inputs, tl_f32_values **out, tl_status *st) {
  *out = NULL;
  if (g->ninputs > 0 && !inputs)
    return tl_fail(st, TL_EARG, "emulator: the graph has %d inputs but none were given", g->ninputs);
  for (int k = 0; k < g->ninputs; k++)
    if (!inputs[k])
      return tl_fail(st, TL_EARG, "emulator: input %d (node %d) has no values", k, g->inputs[k]);
  /* MPFR's exponent range is global: save, set binary32's, restore before every return */
  mpfr_exp_t old_emin = mpfr_get_emin(), old_emax = mpfr_get_emax();
  tl_interp_vals *vals = NULL;
  tl_code rc = tl_interp_vals_new(&vals, g, 24, st);
  mpfi_t scratch[2];
  mpfi_init2(scratch[0], 24), mpfi_init2(scratch[1], 24);
  if (rc == TL_OK) {
    mpfr_set_emin(-148);
    mpfr_set_emax(128);
    for (int k = 0; k < g->ninputs; k++) {
      int id = g->inputs[k];
      for (int64_t i = 0; i < g->nodes[id].numel; i++)
        set_float(vals->v[id][i], inputs[k][i]);
    }
    tl_dom d = {0};
    d.kind = TL_DOM_EMU;
    d.prec = 24;
    d.user = scratch;
    d.bin = emu_bin;
    d.un = emu_un;
    d.dot = emu_dot;
    d.konst = emu_konst;
    d.konst_id = emu_konst_id;
    rc = tl_interp_run(g, &d, vals, st);
    mpfr_set_emin(old_emin);
    mpfr_set_emax(old_emax);
  }
  tl_f32_values *fv = NULL;
  if (rc == TL_OK) {
    fv = calloc(1, sizeof *fv);
    if (fv) {
      fv->nnodes = g->nnodes;
      fv->numel = calloc((size_t)g->nnodes + 1, sizeof *fv->numel);
      fv->v = calloc((size_t)g->nnodes + 1, sizeof *fv->v);
    }
    if (!fv || !fv->numel || !fv->v)
      rc = tl_fail(st, TL_ENOMEM, "emulator: out of memory");
    for (int i = 0; i < g->nnodes && rc == TL_OK; i++) {
      int64_t n = g->nodes[i].numel;
      fv->numel[i] = n;
      fv->v[i] = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
      if (!fv->v[i]) {
        rc = tl_fail(st, TL_ENOMEM, "emulator: out of memory");
        break;
      }
      for (int64_t j = 0; j < n; j++)
        fv->v[i][j] = get_float(vals->v[i][j]);
    }
  }
  mpfi_clear(scratch[0]), mpfi_clear(scratch[1]);
  tl_interp_vals_free(vals);
  if (rc != TL_OK) {
    tl_f32_values_free(fv);
    return rc;
  }
  *out = fv;
  return TL_OK;
}
