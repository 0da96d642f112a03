/* vrules.h - the per-op rules of verify/ and the one rule table that the sweeps dispatch through
 * (the layout of spec/interp.c and of auto_LiRPA's operators/: each op family in one file of
 * rules/, every face of an op side by side).  The faces:
 *   IBP    the node's box from its parents' boxes (ibp.c's sweep; f32-any widening by the
 *          f32model.h row through tlv_ibp_finish)
 *   CROWN  the backward rule: the node's coefficients pushed onto its parents (crown.c's sweep;
 *          no rule, or a rule that declines, concretises the node on its box)
 *   EXACT  the exact (rational interval) value at one input point (exact.c's drivers), with the
 *          fixed-point fast form where the op has one
 * The rule functions are called across translation units: every rule keeps its own rounding-mode
 * switches and TLV_OPAQUE laundering next to its arithmetic (vinternal.h). */
#ifndef TL_VERIFY_RULES_H
#define TL_VERIFY_RULES_H

#include <gmp.h>
#include <string.h>

#include "torchlean/f32model.h"
#include "vinternal.h"

/* ---- IBP ------------------------------------------------------------------------------------ */
/* Elementwise passes in the current rounding mode, one clone per instruction set */
#define TLV_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
/* fmax/fmin without the libm call (a NaN operand yields the other one, as fmax does; the sign of
 * a zero result may differ, which no bound depends on) */
static inline double vmax(double a, double b) { return a > b || b != b ? a : b; }
static inline double vmin(double a, double b) { return a < b || b != b ? a : b; }

/* box [lo, hi] of node id (parents' boxes finite); reg: the input region (NULL when id is no input) */
typedef tl_code (*tlv_ibp_fn)(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                              const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st);
/* the end of an elementwise IBP rule: f32-any widening by the op's f32model.h row (TL_F32_ELEM),
 * then an overflowing (f32-any) or non-finite (real) box becomes unbounded (ibp.c) */
tl_code tlv_ibp_finish(const tl_graph *g, int id, tl_semantics sem, double *lo, double *hi, tl_status *st);
void tlv_set_unbounded(double *lo, double *hi, int64_t n);
/* some |lo[i]|, |hi[i]| above FLT_MAX (or NaN) */
int tlv_over_f32(const double *lo, const double *hi, int64_t n);

/* ---- CROWN ---------------------------------------------------------------------------------- */
/* the backward pass's state (crown.c) */
typedef struct tlv_cstate {
  const tl_graph *g;
  const tl_bounds *b;
  const tl_region *reg;
  tl_crown_data *acts;
  int *act_of; /* node -> index in acts or -1 */
  int m;
  double **clo, **chi; /* per node coefficient intervals (m x numel), NULL when none */
  double *cst;
  tl_status *st;
  int start;
  int ibp_fold;   /* IBP final bound: only the start node gets its rule, the rest is concretised */
  double *incoef; /* optional: the input coefficients (m x n) for counterexample search */
  const tl_verify_plan *pl;
  double **absv;      /* per fast affine node: |A| max|box(parent)| (upward), shared across passes */
  double **rec;       /* optional (alpha): the coefficients each node was processed with */
  unsigned char *how; /* optional (alpha): 1 concretised, 2 backward rule */
} tlv_cstate;

/* the CROWN run's context (crown.c): boxes, relaxation, the plan's shared |A| max|x| */
typedef struct tlv_cctx {
  const tl_graph *g;
  const tl_verify_plan *pl;
  const tl_region *reg;
  const tl_bounds *b;
  tl_crown_data *cd;
  int *act_of;
  double **absv;
  tl_status *st;
} tlv_cctx;
/* lower bounds of rows a (m x numel(start)) of node `start`; rec/how (alpha) optional (crown.c) */
tl_code tlv_backward(tlv_cctx *c, int start, int m, const double *a, double *lower, int ibp_fold,
                     double *incoef, double **rec, unsigned char *how);
void tlv_absv_free(double **absv, int n);
/* alpha-CROWN from the CROWN relaxation c->cd: lower receives the best sound bound (alpha.c) */
tl_code tlv_alpha_crown(tlv_cctx *c, int out, int nrows, const double *a, int steps, double *lower);

/* Push lam (m x numel(v), the node's collapsed coefficients) onto v's parents (coefficients and
 * constant); *done = 0 (nothing changed) when the rule does not apply: the sweep concretises v. */
typedef tl_code (*tlv_back_fn)(tlv_cstate *s, int v, const double *lam, int *done);
/* relaxation lines la x + lb <= f(x) <= ua x + ub of one neuron on [l, u] (finite) */
typedef void (*tlv_lines_fn)(tl_op op, double al, double l, double u, double *la, double *lb, double *ua,
                             double *ub);
/* the coefficient intervals of node v, allocated (zero) on first use */
tl_code tlv_coef_get(tlv_cstate *s, int v, double **lo, double **hi);
/* const[k] += down(lambda . box) (lambda >= 0 takes lo, else hi) */
void tlv_concretize(tlv_cstate *s, const double *lam, const double *lo, const double *hi, int64_t n);
/* const[k] -= up(|lambda| . E) */
tl_code tlv_pay_err(tlv_cstate *s, const double *lam, const double *E, int64_t n);
/* f32-any: const[k] -= up(|lambda| . E) with E the node's error radius (tlv_elem_err) */
tl_code tlv_pay_node_err(tlv_cstate *s, int v, const double *lam);
/* max(|a|, |b|) without the libm call (fmax's NaN rule: a NaN operand yields the other) */
static inline double amax(double a, double b) {
  a = fabs(a), b = fabs(b);
  return a > b || b != b ? a : b;
}

/* ---- exact evaluation (exact.c) ------------------------------------------------------------- */
#define XPREC 256
/* a rational interval per element */
typedef struct qbox {
  int64_t n;
  mpq_t *lo, *hi;
} qbox;
/* a fixed-point value per element: v[i] / (2^s den) */
typedef struct fxv {
  int64_t n;
  mpz_t *v;
  long s;
  mpz_t den;
} fxv;
enum { XK_NONE = 0, XK_FX, XK_Q };
typedef struct xst {
  const tl_graph *g;
  const float *x;
  unsigned char *kind;
  fxv *f;
  qbox *q;
  tl_status *st;
} xst;
/* v[id] (allocated) from the parents' values in v; x: the input point */
typedef tl_code (*tlv_exact_fn)(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
/* X->f[id] from fixed-point parents; *done = 0 when the op has no fixed-point form here */
typedef tl_code (*tlv_fx_fn)(xst *X, int id, int *done);

int tlv_fxv_init(fxv *f, int64_t n);
/* make the fixed-point value of node p available (PARAM nodes on demand); *ok = 0: not fixed point */
tl_code tlv_need_fx(xst *X, int p, int *ok);
/* a unary-shaped fixed-point rule's start: parent 0 in fixed point (*done = 0 when not), X->f[id]
 * allocated with the parent's scale and denominator, *p the parent */
tl_code tlv_fx_begin(xst *X, int id, const fxv **p, int *done);
/* interval product [al, ah] * [bl, bh] */
void tlv_qmul_iv(mpq_t rl, mpq_t rh, const mpq_t al, const mpq_t ah, const mpq_t bl, const mpq_t bh);

/* finite d = m 2^e with m odd, |m| < 2^53 (d = 0: m = 0, e = 0), from the binary64 fields */
static inline void dsplit(double d, int64_t *m, long *e) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
  long ex = (long)((bits >> 52) & 0x7ff);
  if (ex == 0 && frac == 0) {
    *m = 0, *e = 0;
    return;
  }
  uint64_t mm = ex ? frac | (UINT64_C(1) << 52) : frac;
  long ee = ex ? ex - 1075 : -1074;
  int tz = __builtin_ctzll(mm);
  mm >>= tz;
  *m = (bits >> 63) ? -(int64_t)mm : (int64_t)mm;
  *e = ee + tz;
}

/* z = m 2^sh (sh >= 0) */
static inline void set_m2e(mpz_t z, int64_t m, long sh) {
  mpz_set_si(z, (long)m);
  mpz_mul_2exp(z, z, (mp_bitcnt_t)sh);
}

/* ---- the rule table ------------------------------------------------------------------------- */
typedef struct tlv_rule {
  tlv_ibp_fn ibp;     /* NULL: "no interval rule" (IBP fails) */
  tlv_back_fn back;   /* NULL: concretised on the node's box */
  tlv_lines_fn lines; /* activations only: CROWN's relaxation lines */
  tlv_exact_fn exact; /* NULL: "not supported" (the exact evaluation fails) */
  tlv_fx_fn fx;       /* NULL: no fixed-point form (the rational rule) */
} tlv_rule;
/* the row of op (rules/table.c) */
const tlv_rule *tlv_rule_of(tl_op op);

/* rules of each family (rules/<family>.c) */
/* rules/shape.c: leaves and data movement */
tl_code tlv_ibp_input(const tl_verify_plan *, const tl_graph *, int, const tl_region *, const tl_bounds *,
                      tl_semantics, double *, double *, tl_status *);
tl_code tlv_ibp_param(const tl_verify_plan *, const tl_graph *, int, const tl_region *, const tl_bounds *,
                      tl_semantics, double *, double *, tl_status *);
tl_code tlv_ibp_copy(const tl_verify_plan *, const tl_graph *, int, const tl_region *, const tl_bounds *,
                     tl_semantics, double *, double *, tl_status *);
tl_code tlv_back_copy(tlv_cstate *s, int v, const double *lam, int *done);
tl_code tlv_exact_input(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_exact_param(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_exact_copy(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_fx_input(xst *X, int id, int *done);
tl_code tlv_fx_copy(xst *X, int id, int *done);
/* rules/affine.c */
tl_code tlv_ibp_affine(const tl_verify_plan *, const tl_graph *, int, const tl_region *, const tl_bounds *,
                       tl_semantics, double *, double *, tl_status *);
tl_code tlv_back_affine(tlv_cstate *s, int v, const double *lam, int *done);
tl_code tlv_exact_affine(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_fx_affine(xst *X, int id, int *done);
/* rules/activation.c */
tl_code tlv_ibp_relu(const tl_verify_plan *, const tl_graph *, int, const tl_region *, const tl_bounds *,
                     tl_semantics, double *, double *, tl_status *);
tl_code tlv_ibp_leaky_relu(const tl_verify_plan *, const tl_graph *, int, const tl_region *,
                           const tl_bounds *, tl_semantics, double *, double *, tl_status *);
tl_code tlv_ibp_sigmoid_tanh(const tl_verify_plan *, const tl_graph *, int, const tl_region *,
                             const tl_bounds *, tl_semantics, double *, double *, tl_status *);
tl_code tlv_ibp_clamp(const tl_verify_plan *, const tl_graph *, int, const tl_region *, const tl_bounds *,
                      tl_semantics, double *, double *, tl_status *);
tl_code tlv_back_act(tlv_cstate *s, int v, const double *lam, int *done);
void tlv_act_lines(tl_op op, double al, double l, double u, double *la, double *lb, double *ua, double *ub);
tl_code tlv_exact_relu(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_exact_sigmoid_tanh(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_exact_clamp(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_fx_relu(xst *X, int id, int *done);
/* rules/elementwise.c */
tl_code tlv_ibp_neg(const tl_verify_plan *, const tl_graph *, int, const tl_region *, const tl_bounds *,
                    tl_semantics, double *, double *, tl_status *);
tl_code tlv_ibp_binary(const tl_verify_plan *, const tl_graph *, int, const tl_region *, const tl_bounds *,
                       tl_semantics, double *, double *, tl_status *);
tl_code tlv_back_binary(tlv_cstate *s, int v, const double *lam, int *done);
tl_code tlv_exact_neg(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_exact_binary(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_fx_neg(xst *X, int id, int *done);
tl_code tlv_fx_binary(xst *X, int id, int *done);
/* rules/pool.c */
tl_code tlv_ibp_max_pool(const tl_verify_plan *, const tl_graph *, int, const tl_region *, const tl_bounds *,
                         tl_semantics, double *, double *, tl_status *);
tl_code tlv_back_max_pool(tlv_cstate *s, int v, const double *lam, int *done);
tl_code tlv_exact_max_pool(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
tl_code tlv_fx_max_pool(xst *X, int id, int *done);
/* rules/norm.c */
tl_code tlv_ibp_batch_norm(const tl_verify_plan *, const tl_graph *, int, const tl_region *,
                           const tl_bounds *, tl_semantics, double *, double *, tl_status *);
tl_code tlv_back_batch_norm(tlv_cstate *s, int v, const double *lam, int *done);
tl_code tlv_exact_batch_norm(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st);
/* the f32-any error radius of a batch-norm node from its real box (rounded up; tlv_elem_err) */
tl_code tlv_bn_err(const tl_graph *g, int id, const tl_bounds *b, double *E, tl_status *st);

#endif
