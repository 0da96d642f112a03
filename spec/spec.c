/* spec.c - the real-interval domain and the public spec API (spec.h).
 * Every primitive encloses the exact real result: MPFI rounds every endpoint outward.  Every op is
 * evaluated by the interpreter (interp.c) over this domain's primitives; the table real_rules says
 * per op of ops.def which primitive it is, or that interp.c's rule composes it. */
#include <math.h>
#include <stdlib.h>

#include "fxdot.h"
#include "interp.h"
#include "torchlean/spec.h"

typedef struct real_scratch {
  mpfi_t acc, t;
  tl_fx fx;
} real_scratch;

/* exact fixed-point dot products with float32 weights (fxdot.h) */
static int real_fx_begin(tl_dom *d, const mpfi_t *x, int64_t n) {
  real_scratch *s = d->user;
  return tl_fx_begin(&s->fx, x, n);
}

static int real_fx_dot(tl_dom *d, mpfi_ptr r, int64_t n, int64_t x0, const int64_t *idx, const float *w,
                       int64_t ws, mpfi_srcptr bias) {
  real_scratch *s = d->user;
  return tl_fx_dot(&s->fx, r, n, x0, idx, w, ws, bias, NULL);
}

void tl_dom_real_init(tl_dom *d, mpfr_prec_t prec) {
  real_scratch *s = malloc(sizeof *s);
  TL_ASSERT(s != NULL);
  mpfi_init2(s->acc, prec);
  mpfi_init2(s->t, prec);
  tl_fx_init(&s->fx, 0);
  d->kind = TL_DOM_REAL;
  d->prec = prec;
  d->user = s;
  d->bin = tl_real_bin;
  d->un = tl_real_un;
  d->dot = tl_real_dot;
  d->konst = tl_real_konst;
  d->konst_id = tl_real_konst_id;
  d->fx_begin = real_fx_begin;
  d->fx_dot = real_fx_dot;
}

void tl_dom_real_clear(tl_dom *d) {
  real_scratch *s = d->user;
  if (!s)
    return;
  mpfi_clear(s->acc);
  mpfi_clear(s->t);
  tl_fx_clear(&s->fx);
  free(s);
  d->user = NULL;
}

static double lo_d(mpfi_srcptr a) { return mpfr_get_d(&a->left, MPFR_RNDD); }
static double hi_d(mpfi_srcptr a) { return mpfr_get_d(&a->right, MPFR_RNDU); }

/* endpoint-wise max/min: exact images of the monotone max/min */
static void ep_max(mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b, int is_max) {
  mpfr_t lo, hi;
  mpfr_init2(lo, mpfi_get_prec(r)), mpfr_init2(hi, mpfi_get_prec(r));
  if (is_max) {
    mpfr_max(lo, &a->left, &b->left, MPFR_RNDD);
    mpfr_max(hi, &a->right, &b->right, MPFR_RNDU);
  } else {
    mpfr_min(lo, &a->left, &b->left, MPFR_RNDD);
    mpfr_min(hi, &a->right, &b->right, MPFR_RNDU);
  }
  mpfi_interv_fr(r, lo, hi);
  mpfr_clear(lo), mpfr_clear(hi);
}

/* ---- the real domain's elementwise rules: the exact image, outward rounded --------------------- */
typedef tl_code (*real_bin_fn)(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b);
typedef tl_code (*real_un_fn)(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha);

/* y = a + b */
static tl_code real_add(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  mpfi_add(r, a, b);
  return TL_OK;
}

/* y = a - b */
static tl_code real_sub(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  mpfi_sub(r, a, b);
  return TL_OK;
}

/* y = a * b */
static tl_code real_mul(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  mpfi_mul(r, a, b);
  return TL_OK;
}

/* y = a / b, 0 not in b */
static tl_code real_div(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  if (mpfi_has_zero(b))
    return tl_dom_fail(d, TL_EDOMAIN, "divisor interval [%g, %g] contains 0", lo_d(b), hi_d(b));
  mpfi_div(r, a, b);
  return TL_OK;
}

/* y = max(a, b) */
static tl_code real_max(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  ep_max(r, a, b, 1);
  return TL_OK;
}

/* y = min(a, b) */
static tl_code real_min(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  ep_max(r, a, b, 0);
  return TL_OK;
}

/* y = -x */
static tl_code real_neg(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  mpfi_neg(r, a);
  return TL_OK;
}

/* y = |x| */
static tl_code real_abs(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  mpfi_abs(r, a);
  return TL_OK;
}

/* y = x^2  (TL_PRIM_SQR) */
static tl_code real_sqr(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  mpfi_sqr(r, a);
  return TL_OK;
}

/* y = sqrt(x), x >= 0 */
static tl_code real_sqrt(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  if (mpfr_sgn(&a->left) < 0)
    return tl_dom_fail(d, TL_EDOMAIN, "argument interval [%g, %g] reaches below 0", lo_d(a), hi_d(a));
  mpfi_sqrt(r, a);
  return TL_OK;
}

/* y = e^x */
static tl_code real_exp(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  mpfi_exp(r, a);
  return TL_OK;
}

/* y = ln x, x > 0 */
static tl_code real_log(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  if (mpfr_sgn(&a->left) <= 0)
    return tl_dom_fail(d, TL_EDOMAIN, "argument interval [%g, %g] reaches 0", lo_d(a), hi_d(a));
  mpfi_log(r, a);
  return TL_OK;
}

/* y = tanh x */
static tl_code real_tanh(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  mpfi_tanh(r, a);
  return TL_OK;
}

/* y = 1 / x, 0 not in x  (TL_PRIM_RECIP) */
static tl_code real_recip(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  if (mpfi_has_zero(a))
    return tl_dom_fail(d, TL_EDOMAIN, "divisor interval [%g, %g] contains 0", lo_d(a), hi_d(a));
  mpfi_inv(r, a);
  return TL_OK;
}

/* y = x if x >= 0 else sl x: piecewise linear with its kink at 0, so the image is the hull of the
 * images of the endpoints and, when 0 is inside, of 0 */
static void real_kink(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double sl) {
  real_scratch *s = d->user;
  mpfi_set(s->t, a);
  mpfr_t lo, hi, v;
  mpfr_init2(lo, d->prec), mpfr_init2(hi, d->prec), mpfr_init2(v, d->prec);
  const mpfr_srcptr ends[2] = {&a->left, &a->right};
  int first = 1;
  for (int k = 0; k < 2; k++) {
    for (int dir = 0; dir < 2; dir++) {
      if (mpfr_sgn(ends[k]) >= 0)
        mpfr_set(v, ends[k], dir ? MPFR_RNDU : MPFR_RNDD);
      else if (sl == 0)
        mpfr_set_zero(v, 1);
      else
        mpfr_mul_d(v, ends[k], sl, dir ? MPFR_RNDU : MPFR_RNDD);
      if (dir == 0 && (first || mpfr_less_p(v, lo)))
        mpfr_set(lo, v, MPFR_RNDD);
      if (dir == 1 && (first || mpfr_greater_p(v, hi)))
        mpfr_set(hi, v, MPFR_RNDU);
    }
    first = 0;
  }
  if (mpfi_has_zero(s->t)) {
    if (mpfr_sgn(lo) > 0)
      mpfr_set_zero(lo, 1);
    if (mpfr_sgn(hi) < 0)
      mpfr_set_zero(hi, 1);
  }
  mpfi_interv_fr(r, lo, hi);
  mpfr_clear(lo), mpfr_clear(hi), mpfr_clear(v);
}

/* y = max(x, 0) */
static tl_code real_relu(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  real_kink(d, r, a, 0.0);
  return TL_OK;
}

/* y = x if x >= 0 else alpha x */
static tl_code real_leaky_relu(tl_dom *d, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  real_kink(d, r, a, alpha);
  return TL_OK;
}

/* ---- the real domain's table: how each op of ops.def reaches these primitives ------------------ */
typedef struct real_rule {
  real_bin_fn bin; /* an elementwise binary op: its primitive (interp.c's rule_binary calls it) */
  real_un_fn un;   /* an elementwise unary op: its primitive (interp.c's rule_unary calls it) */
  int interp;      /* 1: interp.c's rule for the op, over tl_real_dot / tl_real_bin / tl_real_un */
} real_rule;

/* clang-format off */
#define REAL_BIN(f) {f, NULL, 0}
#define REAL_UN(f) {NULL, f, 0}
#define REAL_INTERP {NULL, NULL, 1}      /* the formula is on the op's rule in interp.c */
#define REAL_UNSUPPORTED {NULL, NULL, 0} /* no real semantics: tl_spec_eval fails on it (no row today) */

#define real_rule_input REAL_INTERP
#define real_rule_param REAL_INTERP
#define real_rule_linear REAL_INTERP
#define real_rule_matmul REAL_INTERP
#define real_rule_add REAL_BIN(real_add)
#define real_rule_sub REAL_BIN(real_sub)
#define real_rule_mul REAL_BIN(real_mul)
#define real_rule_div REAL_BIN(real_div)
#define real_rule_max REAL_BIN(real_max)
#define real_rule_min REAL_BIN(real_min)
#define real_rule_neg REAL_UN(real_neg)
#define real_rule_abs REAL_UN(real_abs)
#define real_rule_sqrt REAL_UN(real_sqrt)
#define real_rule_exp REAL_UN(real_exp)
#define real_rule_log REAL_UN(real_log)
#define real_rule_relu REAL_UN(real_relu)
#define real_rule_leaky_relu REAL_UN(real_leaky_relu)
#define real_rule_sigmoid REAL_INTERP
#define real_rule_tanh REAL_UN(real_tanh)
#define real_rule_gelu REAL_INTERP
#define real_rule_silu REAL_INTERP
#define real_rule_softmax REAL_INTERP
#define real_rule_log_softmax REAL_INTERP
#define real_rule_clamp REAL_INTERP
#define real_rule_sum REAL_INTERP
#define real_rule_mean REAL_INTERP
#define real_rule_reshape REAL_INTERP
#define real_rule_flatten REAL_INTERP
#define real_rule_permute REAL_INTERP
#define real_rule_concat REAL_INTERP
#define real_rule_slice REAL_INTERP
#define real_rule_conv2d REAL_INTERP
#define real_rule_max_pool2d REAL_INTERP
#define real_rule_avg_pool2d REAL_INTERP
#define real_rule_global_avg_pool REAL_INTERP
#define real_rule_batch_norm REAL_INTERP
#define real_rule_layer_norm REAL_INTERP
#define real_rule_dropout REAL_INTERP
#define real_rule_embedding REAL_INTERP
#define real_rule_attention REAL_INTERP
#define real_rule_mse_loss REAL_INTERP
#define real_rule_cross_entropy REAL_INTERP
/* clang-format on */

/* one row per op of ops.def: a missing rule is a compile error */
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = real_rule_##name,
static const real_rule real_rules[TL_OP_COUNT] = {
#include "torchlean/ops.def"
};
#undef TL_OP

static const real_rule *real_row(int op) { return op >= 0 && op < TL_OP_COUNT ? &real_rules[op] : NULL; }

int tl_spec_supports(tl_op op) {
  const real_rule *row = real_row((int)op);
  return row && (row->bin || row->un || row->interp) && tl_interp_supports(op);
}

tl_code tl_real_bin(tl_dom *d, tl_op op, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  const real_rule *row = real_row((int)op);
  if (!row || !row->bin)
    return tl_dom_fail(d, TL_EUNSUPPORTED, "binary op %d unknown", (int)op);
  TL_TRY(row->bin(d, r, a, b));
  if (mpfi_nan_p(r))
    return tl_dom_fail(d, TL_EDOMAIN,
                       "undefined result (e.g. inf - inf or 0 * inf) from [%g, %g] and [%g, %g]", lo_d(a),
                       hi_d(a), lo_d(b), hi_d(b));
  return TL_OK;
}

tl_code tl_real_un(tl_dom *d, int op, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  const real_rule *row = real_row(op);
  real_un_fn f = op == TL_PRIM_SQR ? real_sqr : op == TL_PRIM_RECIP ? real_recip : row ? row->un : NULL;
  if (!f)
    return tl_dom_fail(d, TL_EUNSUPPORTED, "unary op %d unknown", op);
  TL_TRY(f(d, r, a, alpha));
  if (mpfi_nan_p(r))
    return tl_dom_fail(d, TL_EDOMAIN, "undefined result from [%g, %g]", lo_d(a), hi_d(a));
  return TL_OK;
}

tl_code tl_real_dot(tl_dom *d, mpfi_ptr r, int64_t n, mpfi_srcptr *x, mpfi_srcptr *y, mpfi_srcptr bias) {
  real_scratch *s = d->user;
  mpfi_set_ui(s->acc, 0);
  for (int64_t i = 0; i < n; i++) {
    if (!y) {
      mpfi_add(s->acc, s->acc, x[i]);
      continue;
    }
    if (x[i] == y[i])
      mpfi_sqr(s->t, x[i]);
    else
      mpfi_mul(s->t, x[i], y[i]);
    mpfi_add(s->acc, s->acc, s->t);
  }
  if (bias)
    mpfi_add(s->acc, s->acc, bias);
  mpfi_set(r, s->acc);
  if (mpfi_nan_p(r))
    return tl_dom_fail(d, TL_EDOMAIN, "undefined sum (inf - inf or 0 * inf)");
  return TL_OK;
}

void tl_real_konst(tl_dom *d, mpfi_ptr r, double v) { mpfi_set_d(r, v); }

void tl_real_konst_id(tl_dom *d, mpfi_ptr r, tl_const_id id) {
  if (id == TL_CONST_SQRT_2_OVER_PI) {
    mpfi_const_pi(r);
    mpfi_ui_div(r, 2, r);
    mpfi_sqrt(r, r);
  } else {
    mpfi_set_str(r, "0.044715", 10);
  }
}

/* ---- public API ------------------------------------------------------------------------- */
struct tl_spec_result {
  tl_interp_vals *vals;
};

tl_interp_vals *tl_spec_result_vals(const struct tl_spec_result *r) { return r->vals; }

void tl_spec_ctx_init(tl_spec_ctx *c) {
  c->prec = TL_SPEC_DEFAULT_PREC;
  c->generic = 0;
}

static tl_code spec_eval(const tl_spec_ctx *c, const tl_graph *g, const double *const *lod,
                         const double *const *hid, const float *const *lof, const float *const *hif,
                         tl_spec_result **out, tl_status *st) {
  *out = NULL;
  long prec = c ? c->prec : TL_SPEC_DEFAULT_PREC;
  if (prec < 53 || prec > 100000)
    return tl_fail(st, TL_EARG, "spec: precision %ld outside [53, 100000]", prec);
  if (!lod && !lof && g->ninputs > 0)
    return tl_fail(st, TL_EARG, "spec: the graph has %d inputs but none were given", g->ninputs);
  tl_spec_result *r = calloc(1, sizeof *r);
  if (!r)
    return tl_fail(st, TL_ENOMEM, "spec: out of memory");
  tl_code rc = tl_interp_vals_new(&r->vals, g, prec, st);
  for (int k = 0; k < g->ninputs && rc == TL_OK; k++) {
    int id = g->inputs[k];
    if ((lod && !lod[k]) || (lof && !lof[k])) {
      rc = tl_fail(st, TL_EARG, "spec: input %d (node %d, %s) has no values", k, id, g->nodes[id].name);
      break;
    }
    for (int64_t i = 0; i < g->nodes[id].numel; i++) {
      double lo = lod ? lod[k][i] : (double)lof[k][i];
      double hi = lod ? (hid && hid[k] ? hid[k][i] : lo) : (hif && hif[k] ? (double)hif[k][i] : lo);
      if (isnan(lo) || isnan(hi) || lo > hi) {
        rc = tl_fail(st, TL_EARG, "spec: input %d (node %d, %s) element %lld: bad interval [%g, %g]", k, id,
                     g->nodes[id].name, (long long)i, lo, hi);
        break;
      }
      mpfi_interv_d(r->vals->v[id][i], lo, hi);
    }
  }
  if (rc == TL_OK) {
    tl_dom d = {0};
    tl_dom_real_init(&d, prec);
    if (c && c->generic)
      d.fx_begin = NULL, d.fx_dot = NULL;
    rc = tl_interp_run(g, &d, r->vals, st);
    tl_dom_real_clear(&d);
  }
  if (rc != TL_OK) {
    tl_spec_result_free(r);
    return rc;
  }
  *out = r;
  return TL_OK;
}

tl_code tl_spec_eval(const tl_spec_ctx *c, const tl_graph *g, const double *const *lo,
                     const double *const *hi, tl_spec_result **out, tl_status *st) {
  return spec_eval(c, g, lo, hi, NULL, NULL, out, st);
}

tl_code tl_spec_eval_f32(const tl_spec_ctx *c, const tl_graph *g, const float *const *lo,
                         const float *const *hi, tl_spec_result **out, tl_status *st) {
  return spec_eval(c, g, NULL, NULL, lo, hi, out, st);
}

void tl_spec_result_free(tl_spec_result *r) {
  if (!r)
    return;
  tl_interp_vals_free(r->vals);
  free(r);
}

int tl_spec_num_nodes(const tl_spec_result *r) { return r->vals->nnodes; }
int64_t tl_spec_numel(const tl_spec_result *r, int node) {
  TL_ASSERT(node >= 0 && node < r->vals->nnodes);
  return r->vals->numel[node];
}
mpfi_srcptr tl_spec_value(const tl_spec_result *r, int node, int64_t i) {
  TL_ASSERT(node >= 0 && node < r->vals->nnodes && i >= 0 && i < r->vals->numel[node]);
  return r->vals->v[node][i];
}
mpfr_srcptr tl_spec_lo(const tl_spec_result *r, int node, int64_t i) {
  return &tl_spec_value(r, node, i)->left;
}
mpfr_srcptr tl_spec_hi(const tl_spec_result *r, int node, int64_t i) {
  return &tl_spec_value(r, node, i)->right;
}
void tl_spec_get_d(const tl_spec_result *r, int node, int64_t i, double *lo, double *hi) {
  mpfi_srcptr v = tl_spec_value(r, node, i);
  *lo = mpfr_get_d(&v->left, MPFR_RNDD);
  *hi = mpfr_get_d(&v->right, MPFR_RNDU);
}
