/* ad/ad_rules.h - PRIVATE per-op rules of forward-mode (JVP) and second-order (forward-over-reverse)
 * automatic differentiation, used by the autograd driver (exec/autograd.c).
 *
 * Tangent rule (ad/tangent.c):  dy = sum_k J_k dx_k  for node y = f(x_0, ..., x_{n-1}).
 * Second-order rule (ad/second.c): with the VJP gx_k = B_k(x, g), the tangent of the reverse pass is
 *   dgx_k = B_k(x, dg) + sum_j [d_{x_j} B_k(x, g)] dx_j;
 * the driver gets the first term from the backend's backward kernel (seed dg) and the rule adds
 * the second.  Both reuse the backend kernels wherever the math allows (linear ops: the forward
 * kernel on tangents; diagonal and symmetric Jacobians: the backward kernel with seed dx;
 * bilinear ops: the backward kernel with the tangents in place of the inputs).
 * Ownership: everything in tl_adrule is borrowed from the driver for the duration of the call. */
#ifndef TORCHLEAN_RUNTIME_AD_RULES_H
#define TORCHLEAN_RUNTIME_AD_RULES_H

#include "exec/backend.h"

typedef struct tl_adrule {
  const tl_kctx *k;        /* the node: parent values k->in, output value k->out; k->gout = g (second) */
  const float *const *din; /* parent tangents, n->nparents entries; NULL entry: zero tangent */
  const float *dy;         /* second-order rules: tangent of the node's output (NULL: zero) */
  const float *zeros;      /* at least as many +0 floats as the largest node */
} tl_adrule;

/* Write dy (numel of the node) = J dx.  Fails with TL_EUNSUPPORTED naming the node for ops
 * without a rule. */
tl_code tl_ad_tangent(const tl_adrule *r, float *dy);
/* Accumulate (+=) the second-order term [d_x B(x, g)] dx into dgin[k] (NULL: not wanted). */
tl_code tl_ad_second(const tl_adrule *r, float *const *dgin);
/* 1 when op has a tangent rule (its row in ad/tangent.c) / a second-order rule (ad/second.c);
 * each rule table has one row per op of ops.def, INPUT and PARAM (leaves) have none. */
int tl_ad_has_jvp(tl_op op);
int tl_ad_has_hvp(tl_op op);

/* Run the node's forward / backward kernel on other buffers (node n may be a modified copy of
 * k->n, e.g. without its bias parent).  Forward never fuses relu nor touches the weight store. */
tl_code tl_ad_call_fwd(const tl_kctx *k, const tl_node *n, const float *const *in, float *out);
tl_code tl_ad_call_bwd(const tl_kctx *k, const tl_node *n, const float *const *in, const float *out,
                       const float *gout, float *const *gin);
/* Flat indices into a and b of every element of the broadcast result y (numel(y) each). */
void tl_ad_bcast_index(const tl_node *y, const tl_node *a, const tl_node *b, int64_t *ia, int64_t *ib);
/* Reduction geometry along axis: outer x D x inner. */
void tl_ad_axis_geom(const tl_node *n, int64_t axis, int64_t *outer, int64_t *D, int64_t *inner);
/* One normalisation group of M elements x[idx[j]] with batch statistics (mean, biased var):
 * xh_j = (x_j - mean) inv, inv = 1/sqrt(var + eps); with dx: dxh_j = inv (dx_j - mean(dx) - xh_j
 * mean(xh dx)) (tangent of xh) and *dinv = -inv^2 mean(xh dx).  dx may be NULL (then dxh unused). */
void tl_ad_norm_group(const float *x, const float *dx, const int64_t *idx, int64_t M, double eps, double *xh,
                      double *dxh, double *inv, double *dinv);
/* Index lists of the normalisation groups: batch norm channel c (N*S entries), layer norm row r. */
void tl_ad_bn_index(const tl_node *x, int64_t c, int64_t *idx);

/* Multi-head attention (ad/attention.c), d = the 5 parent tangents (the zeros buffer where none):
 * the tangent dy, and the second-order term accumulated into dgin (NULL entries: not wanted). */
tl_code tl_ad_attention_tangent(const tl_adrule *r, const float *const *d, float *dy);
tl_code tl_ad_attention_second(const tl_adrule *r, const float *const *d, float *const *dgin);

/* Max pool tangent (kernels/pool.c): dy[window] = dx[first argmax of x in the window]. */
tl_code tl_k_maxpool_jvp(const tl_kctx *k, const float *dx, float *dy);

#endif
