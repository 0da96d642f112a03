/* spec.h - the reference interpreter: the `real` semantics of a graph, evaluated over intervals
 * with MPFR endpoints and outward rounding (docs/semantics.md defines every op).
 *
 * Inputs are points or boxes (one lo/hi array per INPUT node, in g->inputs order).  For every
 * node, the result interval encloses the exact real value of that node for every input in the
 * box.  Parameters are the exact real numbers of their float32 values.  Domain problems (log or
 * division reaching 0, sqrt of a negative) are errors naming the node; nothing is clamped.
 *
 * Ownership: tl_spec_ctx is a plain value of the caller.  tl_spec_eval allocates *out, which the
 * caller releases with tl_spec_result_free; pointers returned by tl_spec_value / tl_spec_lo /
 * tl_spec_hi point into the result and stay valid until it is freed.  The graph is only read
 * and may be freed after tl_spec_eval returns.  No global state is touched (MPFR's exponent
 * range is left as is: the default range, which these computations never leave).
 */
#ifndef TORCHLEAN_SPEC_H
#define TORCHLEAN_SPEC_H

#include <stdint.h>

#include <mpfi.h>
#include <mpfr.h>

#include "torchlean/graph.h"
#include "torchlean/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TL_SPEC_DEFAULT_PREC 128

typedef struct tl_spec_ctx {
  long prec;   /* bits of every interval endpoint (>= 53); default TL_SPEC_DEFAULT_PREC */
  int generic; /* nonzero: generic MPFI primitives only, no exact fixed-point dot products with
                * float32 weights (linear/conv/matmul/attention); for testing the fast path.
                * Default 0.  Make a ctx with tl_spec_ctx_init or zero-initialise it. */
} tl_spec_ctx;

void tl_spec_ctx_init(tl_spec_ctx *c);

typedef struct tl_spec_result tl_spec_result; /* opaque: one interval per element of every node */

/* Evaluate over a box: lo[k], hi[k] are the bounds of input k (g->inputs[k]), numel doubles each.
 * hi == NULL, or hi[k] == NULL, means the point lo[k].  Rejects NaN and lo > hi (TL_EARG);
 * infinite endpoints are allowed and give unbounded enclosures where they reach. */
tl_code tl_spec_eval(const tl_spec_ctx *c, const tl_graph *g, const double *const *lo,
                     const double *const *hi, tl_spec_result **out, tl_status *st);
/* The same with float32 bounds (each float is an exact real). */
tl_code tl_spec_eval_f32(const tl_spec_ctx *c, const tl_graph *g, const float *const *lo,
                         const float *const *hi, tl_spec_result **out, tl_status *st);
void tl_spec_result_free(tl_spec_result *r); /* NULL is fine */

/* 1 when the spec has a real-semantics rule for op (every op of ops.def today; an op without one
 * makes tl_spec_eval fail with TL_EUNSUPPORTED on its node). */
int tl_spec_supports(tl_op op);

int tl_spec_num_nodes(const tl_spec_result *r);
int64_t tl_spec_numel(const tl_spec_result *r, int node);
/* Interval of element i of node (owned by r). */
mpfi_srcptr tl_spec_value(const tl_spec_result *r, int node, int64_t i);
mpfr_srcptr tl_spec_lo(const tl_spec_result *r, int node, int64_t i);
mpfr_srcptr tl_spec_hi(const tl_spec_result *r, int node, int64_t i);
/* Bounds as doubles, rounded outward (lo down, hi up): [*lo, *hi] still encloses the value. */
void tl_spec_get_d(const tl_spec_result *r, int node, int64_t i, double *lo, double *hi);

#ifdef __cplusplus
}
#endif
#endif
