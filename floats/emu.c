/* emu.c - the f32-ref emulator: IEEE binary32 through MPFR at 24 bits with the binary32
 * exponent range (emin -148, emax 128) and mpfr_subnormalize after every rounded operation.
 * A value lives in the left endpoint of an mpfi_t; the right endpoint is kept equal. */
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
    int neg = is_max ? (mpfr_signbit(V(a)) && mpfr_signbit(V(b))) : (mpfr_signbit(V(a)) || mpfr_signbit(V(b)));
    mpfr_set_zero(V(r), neg ? -1 : 1);
  } else {
    int a_wins = is_max ? mpfr_greater_p(V(a), V(b)) : mpfr_less_p(V(a), V(b));
    mpfr_set(V(r), a_wins ? V(a) : V(b), MPFR_RNDN);
  }
  fin(r);
}

static tl_code emu_bin(tl_dom *d, tl_op op, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  int t;
  switch (op) {
  case TL_OP_ADD:
    t = mpfr_add(V(r), V(a), V(b), MPFR_RNDN);
    break;
  case TL_OP_SUB:
    t = mpfr_sub(V(r), V(a), V(b), MPFR_RNDN);
    break;
  case TL_OP_MUL:
    t = mpfr_mul(V(r), V(a), V(b), MPFR_RNDN);
    break;
  case TL_OP_DIV:
    t = mpfr_div(V(r), V(a), V(b), MPFR_RNDN);
    break;
  case TL_OP_MAX:
  case TL_OP_MIN:
    emu_maxmin(r, a, b, op == TL_OP_MAX);
    return TL_OK;
  default:
    return tl_dom_fail(d, TL_EUNSUPPORTED, "binary op %d unknown", (int)op);
  }
  round_sub(r, t);
  return TL_OK;
}

static tl_code emu_un(tl_dom *d, int op, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  int t;
  switch (op) {
  case TL_OP_NEG:
    mpfr_neg(V(r), V(a), MPFR_RNDN);
    break;
  case TL_OP_ABS:
    mpfr_abs(V(r), V(a), MPFR_RNDN);
    break;
  case TL_OP_SQRT:
    t = mpfr_sqrt(V(r), V(a), MPFR_RNDN);
    mpfr_subnormalize(V(r), t, MPFR_RNDN);
    break;
  case TL_PRIM_SQR:
    t = mpfr_mul(V(r), V(a), V(a), MPFR_RNDN);
    mpfr_subnormalize(V(r), t, MPFR_RNDN);
    break;
  case TL_PRIM_RECIP:
    t = mpfr_ui_div(V(r), 1, V(a), MPFR_RNDN);
    mpfr_subnormalize(V(r), t, MPFR_RNDN);
    break;
  /* transcendentals: the platform's libm on the float (docs/semantics.md) */
  case TL_OP_EXP:
    set_float(r, expf(get_float(a)));
    return TL_OK;
  case TL_OP_LOG:
    set_float(r, logf(get_float(a)));
    return TL_OK;
  case TL_OP_TANH:
    set_float(r, tanhf(get_float(a)));
    return TL_OK;
  case TL_OP_RELU: /* maximum(x, +0): NaN stays NaN, -0 becomes +0 */
    if (mpfr_nan_p(V(a)))
      mpfr_set_nan(V(r));
    else if (mpfr_sgn(V(a)) > 0)
      mpfr_set(V(r), V(a), MPFR_RNDN);
    else
      mpfr_set_zero(V(r), 1);
    break;
  case TL_OP_LEAKY_RELU: /* x >= 0 (incl. -0): x; else fl((float)alpha * x) */
    if (mpfr_nan_p(V(a)) || mpfr_sgn(V(a)) >= 0) {
      mpfr_set(V(r), V(a), MPFR_RNDN);
    } else {
      mpfi_t al;
      mpfi_init2(al, 24);
      set_float(al, (float)alpha);
      t = mpfr_mul(V(r), V(al), V(a), MPFR_RNDN);
      mpfr_subnormalize(V(r), t, MPFR_RNDN);
      mpfi_clear(al);
    }
    break;
  default:
    return tl_dom_fail(d, TL_EUNSUPPORTED, "unary op %d unknown", op);
  }
  fin(r);
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
