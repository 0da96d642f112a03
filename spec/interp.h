/* interp.h - private: one graph interpreter, generic over a "domain" of numbers.
 *
 * spec/ (real intervals), floats/ emulator (binary32, f32-ref order) and floats/ f32-any model
 * each supply a domain: a small table of primitive operations on mpfi_t values.  Every op of
 * the IR is written once here in terms of these primitives, in the f32-ref order of
 * docs/semantics.md; a domain may ask for the tighter real formula (softmax) through `kind`.
 * Ownership: tl_interp_vals owns one mpfi_t array per node (tl_interp_vals_free).
 */
#ifndef TL_SPEC_INTERP_H
#define TL_SPEC_INTERP_H

#include <mpfi.h>
#include <mpfr.h>

#include "torchlean/graph.h"
#include "torchlean/status.h"

typedef enum tl_dom_kind { TL_DOM_REAL = 0, TL_DOM_EMU, TL_DOM_ANY } tl_dom_kind;

/* primitive unary ops (besides the IR's elementwise ones) */
enum { TL_PRIM_SQR = 1000, TL_PRIM_RECIP };

typedef enum tl_const_id { TL_CONST_SQRT_2_OVER_PI, TL_CONST_GELU_A } tl_const_id;

typedef struct tl_dom tl_dom;
struct tl_dom {
  tl_dom_kind kind;
  mpfr_prec_t prec; /* precision of every value */
  int node;         /* node being evaluated (for messages) */
  const char *opname;
  tl_status *st;
  void *user;
  /* r = a op b, op in ADD SUB MUL DIV MAX MIN */
  tl_code (*bin)(tl_dom *d, tl_op op, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b);
  /* r = op(a), op in NEG ABS SQRT EXP LOG RELU TANH LEAKY_RELU(alpha) or TL_PRIM_* */
  tl_code (*un)(tl_dom *d, int op, mpfi_ptr r, mpfi_srcptr a, double alpha);
  /* r = sum_i x[i] y[i] (+ bias, added last); y NULL: plain sum of x.  x[i] == y[i] (same
   * pointer) means a square.  n == 0: r = bias or 0. */
  tl_code (*dot)(tl_dom *d, mpfi_ptr r, int64_t n, mpfi_srcptr *x, mpfi_srcptr *y, mpfi_srcptr bias);
  /* r = the binary64 attribute value v (real: exact; binary32 semantics: (float)v) */
  void (*konst)(tl_dom *d, mpfi_ptr r, double v);
  void (*konst_id)(tl_dom *d, mpfi_ptr r, tl_const_id id);
  /* Optional fast path for dot products whose weights are exact float32 values (a PARAM node);
   * NULL: none.  fx_begin(d, x, n) prepares the values x[0..n) (one node's values) that the
   * following fx_dot calls index, and returns 1, or 0 when the fast path does not apply to them.
   * fx_dot(d, r, n, x0, idx, w, ws, bias) computes r = sum_i x[j_i] w[i ws] (+ bias), with
   * j_i = idx ? idx[i] : x0 + i, exactly as dot would (same enclosure guarantee, never wider than
   * dot's), and returns 1, or 0 (r untouched, no error) when dot must be used instead.  Neither
   * sets an error. */
  int (*fx_begin)(tl_dom *d, const mpfi_t *x, int64_t n);
  int (*fx_dot)(tl_dom *d, mpfi_ptr r, int64_t n, int64_t x0, const int64_t *idx, const float *w, int64_t ws,
                mpfi_srcptr bias);
};

typedef struct tl_interp_vals {
  int nnodes;
  int64_t *numel;
  mpfi_t **v; /* v[node]: numel[node] values */
} tl_interp_vals;

/* Allocate per-node arrays (precision prec) for all nodes of g.  Values are NaN. */
tl_code tl_interp_vals_new(tl_interp_vals **out, const tl_graph *g, mpfr_prec_t prec, tl_status *st);
void tl_interp_vals_free(tl_interp_vals *v);

/* Evaluate every node of g that is not INPUT in order; INPUT values must already be set by the
 * caller.  PARAM values are set to the exact float32 weights (konst of a float is exact). */
tl_code tl_interp_run(const tl_graph *g, tl_dom *d, tl_interp_vals *vals, tl_status *st);

/* 1 when the interpreter has a rule for op (its row of interp_rules in interp.c is not
 * rule_unsupported): the real, emulator and f32-any domains all evaluate op through that rule. */
int tl_interp_supports(tl_op op);

/* "node 5 (log)" style failure helper for domains. */
tl_code tl_dom_fail(tl_dom *d, tl_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The real-interval domain (used by spec/ and, widened, by the f32-any model).
 * tl_dom_real_init allocates scratch intervals; tl_dom_real_clear frees them. */
void tl_dom_real_init(tl_dom *d, mpfr_prec_t prec);
void tl_dom_real_clear(tl_dom *d);
tl_code tl_real_bin(tl_dom *d, tl_op op, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b);
tl_code tl_real_un(tl_dom *d, int op, mpfi_ptr r, mpfi_srcptr a, double alpha);
tl_code tl_real_dot(tl_dom *d, mpfi_ptr r, int64_t n, mpfi_srcptr *x, mpfi_srcptr *y, mpfi_srcptr bias);
void tl_real_konst(tl_dom *d, mpfi_ptr r, double v);
void tl_real_konst_id(tl_dom *d, mpfi_ptr r, tl_const_id id);
/* the values of a spec result (for floats/) */
struct tl_spec_result;
tl_interp_vals *tl_spec_result_vals(const struct tl_spec_result *r);

#endif
