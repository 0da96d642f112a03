/* vcommon.c - helpers shared by the sweeps and the rules: gamma_k, broadcasting, finiteness. */
#include <stdlib.h>
#include <string.h>

#include "torchlean/f32model.h"
#include "vinternal.h"

/* gamma_k = k u / (1 - k u) rounded up: THE gamma_k of f32model.h, out of line on purpose (the
 * quotient is computed in the caller's mode at the call, never moved across a rounding-mode
 * switch of the caller); no mode switch (~80 ns each) */
double tlv_gamma_up(int64_t k) { return tl_f32_gamma_up(k); }

tl_code tlv_bcast_init(const tl_graph *g, int node, tl_bcast *b, tl_status *st) {
  const tl_node *n = &g->nodes[node];
  if (n->ndim > 8)
    return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d: rank above 8", node);
  memset(b, 0, sizeof *b);
  b->ndim = n->ndim;
  for (int i = 0; i < n->ndim; i++)
    b->shape[i] = n->shape[i];
  for (int k = 0; k < 2; k++) {
    const tl_node *p = &g->nodes[n->parents[k]];
    int64_t s = 1;
    for (int i = n->ndim - 1; i >= 0; i--) {
      int pi = i - (n->ndim - p->ndim);
      if (pi < 0 || p->shape[pi] == 1)
        b->pstride[k][i] = 0;
      else
        b->pstride[k][i] = s;
      if (pi >= 0)
        s *= p->shape[pi];
    }
    /* a parent that broadcasts to the output with as many elements maps element o to o (every
     * broadcast dimension has size 1 in the output too); a one-element parent maps all to 0 */
    b->trivial[k] = p->numel == n->numel ? 1 : p->numel == 1 ? 2 : 0;
  }
  return TL_OK;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) int tlv_box_finite(const double *lo,
                                                                                const double *hi, int64_t n) {
  /* on the bits: (x & exponent mask) + 2^52 reaches bit 63 exactly when the exponent field is all
   * ones (inf, NaN); integer ops only, no early exit, so the loop vectorises */
  const uint64_t e = 0x7ff0000000000000u, one = (uint64_t)1 << 52;
  uint64_t acc = 0;
  for (int64_t i = 0; i < n; i++) {
    uint64_t a, b;
    memcpy(&a, &lo[i], 8), memcpy(&b, &hi[i], 8);
    acc |= ((a & e) + one) | ((b & e) + one);
  }
  return !(acc >> 63);
}
