/* table.c - the rule table of verify/: one row per op of ops.def (a missing row is a compile
 * error), naming each op's faces (vrules.h).  An op verify/ does not support has the row
 * TLV_UNSUPPORTED: IBP and the exact evaluation fail with "no interval rule for op ..." / "op ...
 * not supported", CROWN concretises it on its box. */
#include <stdio.h>

#include "torchlean/verify.h"
#include "vrules.h"

/* a row: {IBP, CROWN backward, CROWN lines (activations), EXACT (rational), EXACT fixed point} */
/* clang-format off */
#define TLV_UNSUPPORTED {NULL, NULL, NULL, NULL, NULL}
#define TLV_AFFINE {tlv_ibp_affine, tlv_back_affine, NULL, tlv_exact_affine, tlv_fx_affine}
#define TLV_COPY {tlv_ibp_copy, tlv_back_copy, NULL, tlv_exact_copy, tlv_fx_copy}
#define TLV_BINARY {tlv_ibp_binary, tlv_back_binary, NULL, tlv_exact_binary, tlv_fx_binary}
#define TLV_SMOOTH_ACT {tlv_ibp_sigmoid_tanh, tlv_back_act, tlv_act_lines, tlv_exact_sigmoid_tanh, NULL}

/* the region's box; concretised */
#define TLV_input {tlv_ibp_input, NULL, NULL, tlv_exact_input, tlv_fx_input}
/* the weights; concretised; fixed point on demand */
#define TLV_param {tlv_ibp_param, NULL, NULL, tlv_exact_param, NULL}
#define TLV_linear TLV_AFFINE          /* y = x W^T + b (W, b parameters) */
#define TLV_matmul TLV_AFFINE          /* y = x W (W a 2-d parameter) */
#define TLV_add TLV_BINARY             /* y = a + b (broadcasting) */
#define TLV_sub TLV_BINARY             /* y = a - b */
#define TLV_mul TLV_BINARY             /* y = a * b (CROWN: one operand a parameter) */
#define TLV_div TLV_UNSUPPORTED        /* y = a / b */
#define TLV_max TLV_UNSUPPORTED        /* y = max(a, b) */
#define TLV_min TLV_UNSUPPORTED        /* y = min(a, b) */
#define TLV_neg {tlv_ibp_neg, tlv_back_copy, NULL, tlv_exact_neg, tlv_fx_neg} /* y = -x */
#define TLV_abs TLV_UNSUPPORTED        /* y = |x| */
#define TLV_sqrt TLV_UNSUPPORTED       /* y = sqrt(x) */
#define TLV_exp TLV_UNSUPPORTED        /* y = e^x */
#define TLV_log TLV_UNSUPPORTED        /* y = ln x */
#define TLV_relu {tlv_ibp_relu, tlv_back_act, tlv_act_lines, tlv_exact_relu, tlv_fx_relu} /* y = max(x, 0) */
/* y = x >= 0 ? x : alpha x */
#define TLV_leaky_relu {tlv_ibp_leaky_relu, tlv_back_act, tlv_act_lines, tlv_exact_relu, NULL}
#define TLV_sigmoid TLV_SMOOTH_ACT     /* y = 1 / (1 + e^-x) */
#define TLV_tanh TLV_SMOOTH_ACT        /* y = tanh x */
#define TLV_gelu TLV_UNSUPPORTED       /* y = x/2 (1 + tanh(...)) */
#define TLV_silu TLV_UNSUPPORTED       /* y = x sigmoid(x) */
#define TLV_softmax TLV_UNSUPPORTED    /* y_i = e^x_i / sum_j e^x_j */
#define TLV_log_softmax TLV_UNSUPPORTED /* y_i = x_i - ln sum_j e^x_j */
/* y = min(max(x, lo), hi); concretised */
#define TLV_clamp {tlv_ibp_clamp, NULL, NULL, tlv_exact_clamp, NULL}
#define TLV_sum TLV_UNSUPPORTED        /* y = sum over axes */
#define TLV_mean TLV_UNSUPPORTED       /* y = mean over axes */
#define TLV_reshape TLV_COPY           /* same elements, new shape */
#define TLV_flatten TLV_COPY           /* same elements, axes merged */
#define TLV_permute TLV_UNSUPPORTED    /* axes permuted */
#define TLV_concat TLV_UNSUPPORTED     /* parents concatenated */
#define TLV_slice TLV_UNSUPPORTED      /* x[start:end:step] */
#define TLV_conv2d TLV_AFFINE          /* y = W * x + b (W, b parameters) */
/* y = max over the window */
#define TLV_max_pool2d {tlv_ibp_max_pool, tlv_back_max_pool, NULL, tlv_exact_max_pool, tlv_fx_max_pool}
#define TLV_avg_pool2d TLV_AFFINE      /* y = mean over the window (padding counted as zeros) */
#define TLV_global_avg_pool TLV_AFFINE /* y = mean over the plane */
/* y = (x - mean) s + beta, s = gamma / sqrt(var + eps) */
#define TLV_batch_norm {tlv_ibp_batch_norm, tlv_back_batch_norm, NULL, tlv_exact_batch_norm, NULL}
#define TLV_layer_norm TLV_UNSUPPORTED /* y = (x - mean) / sqrt(var + eps) gamma + beta */
#define TLV_dropout TLV_COPY           /* eval: y = x */
#define TLV_embedding TLV_UNSUPPORTED  /* y = table[idx] */
#define TLV_attention TLV_UNSUPPORTED  /* multi-head self-attention */
#define TLV_mse_loss TLV_UNSUPPORTED   /* y = mean (a - b)^2 */
#define TLV_cross_entropy TLV_UNSUPPORTED /* y = mean -sum t log_softmax(x) */
/* clang-format on */

/* one row per op of ops.def: a missing rule is a compile error */
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = TLV_##name,
static const tlv_rule rules[TL_OP_COUNT] = {
#include "torchlean/ops.def"
};
#undef TL_OP

const tlv_rule *tlv_rule_of(tl_op op) { return &rules[op]; }

int tlv_rule_has(tl_op op, int face) {
  if ((int)op < 0 || op >= TL_OP_COUNT)
    return 0;
  const tlv_rule *r = &rules[op];
  switch (face) {
  case TLV_FACE_IBP: return r->ibp != NULL;
  case TLV_FACE_CROWN: return r->back != NULL;
  case TLV_FACE_EXACT: return r->exact != NULL;
  default: return 0;
  }
}

tl_code tl_verify_supports(const tl_graph *g, tl_status *st) {
  for (int id = 0; id < g->nnodes; id++) {
    tl_op op = g->nodes[id].op;
    if (tlv_rule_has(op, TLV_FACE_IBP) && tlv_rule_has(op, TLV_FACE_EXACT))
      continue;
    char have[512];
    size_t n = 0;
    have[0] = '\0';
    for (int k = 0; k < TL_OP_COUNT && n < sizeof have; k++)
      if (k > TL_OP_PARAM && tlv_rule_has((tl_op)k, TLV_FACE_IBP) && tlv_rule_has((tl_op)k, TLV_FACE_EXACT))
        n += (size_t)snprintf(have + n, sizeof have - n, "%s%s", n ? ", " : "", tl_op_get((tl_op)k)->name);
    return tl_fail(st, TL_EUNSUPPORTED, "node %d: the verifier has no rule for op %s (it bounds: %s)", id,
                   tl_op_get(op)->name, have);
  }
  return TL_OK;
}
