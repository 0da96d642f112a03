/* floats.h - binary32 semantics: the f32-ref emulator, the f32-any error model and the
 * float32-vs-exact comparison (docs/semantics.md gives the order and the error model per op).
 *
 *  - f32-ref: tl_f32_emulate runs a graph in IEEE binary32 (round to nearest even, gradual
 *    underflow, signed zeros, NaN and infinities) in the reference order, bit for bit, using MPFR
 *    at 24 bits with the binary32 exponent range.  MPFR's exponent range is global state: it is
 *    saved on entry and restored before return, so callers see no change; do not call the
 *    emulator concurrently with other code that changes MPFR's exponent range in the same
 *    thread.  exp/log/tanh are this platform's libm expf/logf/tanhf applied to the float.
 *  - f32-any: tl_f32any_eval encloses every binary32 evaluation of the graph in any summation
 *    order, with or without FMA, with any libm whose expf/logf/tanhf are within
 *    TL_F32_LIBM_MAX_ULP ulps; an enclosure is unbounded where an overflow cannot be excluded.
 *    Gradual underflow is assumed: flush-to-zero (-ffast-math startup, DAZ/FTZ) is NOT covered.
 *  - compare: tl_compare_run evaluates spec, emulator and f32-any on a point input and measures
 *    caller-supplied float values (e.g. the runtime kernels) against them.
 *
 * Ownership: every *_free releases what the matching function allocated; pointers returned by
 * accessors point into the result and live until it is freed.  Graphs and inputs are only read.
 */
#ifndef TORCHLEAN_FLOATS_H
#define TORCHLEAN_FLOATS_H

#include <stdint.h>

#include <mpfi.h>
#include <mpfr.h>

#include "torchlean/fpenv.h"
#include "torchlean/graph.h"
#include "torchlean/spec.h"
#include "torchlean/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Claimed maximum error of the binary32 libm functions (expf, logf, tanhf) used by any
 * evaluation, in ulps of the exact result.  glibc documents <= 2 ulp for these on x86_64;
 * tests/exact/test_floats.c measures this platform's expf/logf/tanhf on many inputs against MPFR. */
#define TL_F32_LIBM_MAX_ULP 4

/* tl_f32_flushes_subnormals(): torchlean/fpenv.h (runtime, no MPFR), included above. */

/* ---- f32-ref emulator ---------------------------------------------------------------------- */
typedef struct tl_f32_values {
  int nnodes;
  int64_t *numel; /* per node */
  float **v;      /* v[node][i] (owned) */
} tl_f32_values;

/* inputs[k]: the float32 values of input k (g->inputs[k]).  Caller frees *out. */
tl_code tl_f32_emulate(const tl_graph *g, const float *const *inputs, tl_f32_values **out, tl_status *st);
void tl_f32_values_free(tl_f32_values *v); /* NULL is fine */
/* 1 when the emulator evaluates op bit for bit (its row of the table in floats/emu.c is not
 * unsupported and spec/'s interpreter has a rule for it): every op of ops.def today. */
int tl_emu_supports(tl_op op);

/* ---- f32-any model --------------------------------------------------------------------------- */
typedef struct tl_f32any_result tl_f32any_result; /* opaque */

/* Enclosures of every binary32 evaluation for float32 inputs in the box [lo[k], hi[k]] (hi NULL
 * or hi[k] NULL: points).  c may be NULL (128 bits).  Caller frees *out. */
tl_code tl_f32any_eval(const tl_spec_ctx *c, const tl_graph *g, const float *const *lo,
                       const float *const *hi, tl_f32any_result **out, tl_status *st);
void tl_f32any_result_free(tl_f32any_result *r); /* NULL is fine */
mpfi_srcptr tl_f32any_value(const tl_f32any_result *r, int node, int64_t i);
/* Bounds as doubles rounded outward. */
void tl_f32any_get_d(const tl_f32any_result *r, int node, int64_t i, double *lo, double *hi);
/* 1 when the float v lies in the enclosure (NaN never does). */
int tl_f32any_contains(const tl_f32any_result *r, int node, int64_t i, float v);

/* Rigorous any-order bound for a sum of n terms t_i (n_products of them products of two floats,
 * the rest floats): err >= gamma_m * sum_abs + n_products * eta/2 * (1 + gamma_m) with
 * m = n_products + (n - n_products) - 1 roundings per leaf at most (m = n when products are
 * present, n - 1 for a plain sum).  sum_abs >= sum |t_i|.  Rounded upward.  Returns 0, or -1 when
 * a partial sum may overflow binary32 (then err = +inf). */
int tl_f32_sum_error_bound(mpfr_ptr err, int64_t n, int64_t n_products, mpfr_srcptr sum_abs);

/* ulp of a binary32 number near |x|: 2^max(floor(log2|x|) - 23, -149); 2^-149 at 0. */
double tl_f32_ulp(double x);

/* ---- comparison ------------------------------------------------------------------------------ */
typedef struct tl_compare_node {
  int node;
  int64_t numel;
  /* caller values vs exact: upper bounds of |v - exact| from the spec enclosure */
  double max_abs_err, max_rel_err, max_ulp_err;
  /* emulator (f32-ref) vs exact */
  double emu_max_abs_err, emu_max_rel_err, emu_max_ulp_err;
  int64_t emu_mismatch; /* elements whose caller value differs bitwise from the emulator (NaN == NaN) */
  int64_t outside_any;  /* caller values outside the f32-any enclosure */
  int64_t emu_outside_any;
  double max_any_width; /* widest f32-any enclosure (hi - lo, rounded up) */
  int have_values;      /* the caller supplied values for this node */
} tl_compare_node;

typedef struct tl_compare_report {
  int nnodes;
  tl_compare_node *nodes; /* one per graph node (owned) */
  tl_spec_result *spec;   /* real enclosures (owned) */
  tl_f32_values *emu;     /* f32-ref values (owned) */
  tl_f32any_result *any;  /* f32-any enclosures (owned; NULL when it failed: any_status says why) */
  tl_status any_status;
  int all_inside_any; /* every supplied value lies in its f32-any enclosure */
  int64_t total_emu_mismatch;
} tl_compare_report;

/* inputs[k]: float32 values of input k.  values: NULL, or per node (indexed by node id) NULL or
 * numel floats that the caller computed (the runtime kernels).  c may be NULL.  Caller frees
 * *out with tl_compare_report_free.  Fails only when the spec or the emulator fails. */
tl_code tl_compare_run(const tl_spec_ctx *c, const tl_graph *g, const float *const *inputs,
                       const float *const *values, tl_compare_report **out, tl_status *st);
void tl_compare_report_free(tl_compare_report *r); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif
