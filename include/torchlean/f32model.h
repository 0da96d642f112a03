/* f32model.h - THE f32-any error model of the library: one row {kind, rel, eabs} per op of ops.def
 * and one gamma_k.  The float value of an op whose exact result (on float operands) is z is
 * z + e with
 *   TL_F32_ELEM  |e| <= rel max|z| + eabs                     (over the node's real box)
 *   TL_F32_DOT   |e| <= gamma_k sum|terms| + k eta/2 (1 + gamma_k)   (any order, with or without FMA;
 *                k roundings: the terms, plus one for a bias, plus one for a divisor)
 *   TL_F32_BN    |e| <= rel (|s| (|x| + |mean|) + |beta|) + eabs     (eval batch norm, any formula order)
 *   TL_F32_EXACT e = 0 (the float result is one of the operands, or a copy)
 *   TL_F32_NONE  no f32-any model in verify/ (the op has no IBP rule)
 * with u = 2^-24 (binary32 unit roundoff) and eta = 2^-149 (smallest subnormal).  verify/ (IBP,
 * CROWN, the f32-any error radius of elementwise nodes) reads these rows; floats/any.c shares u,
 * eta and the exact fraction of gamma_k (its other primitives round MPFR enclosures outward to
 * binary32 instead).  The independent checker (certs/) keeps its own copy on purpose; a test
 * compares it against this table (tl_f32_model).
 *
 * Header-only and MPFR-free, so verify/ needs no link to floats/ (and the install export stays
 * as it is).  No function here switches the rounding mode. */
#ifndef TORCHLEAN_F32MODEL_H
#define TORCHLEAN_F32MODEL_H

#include <math.h>
#include <stdint.h>

#include "torchlean/graph.h"

/* binary32 unit roundoff and smallest subnormal */
#define TL_F32_U 0x1p-24
#define TL_F32_ETA 0x1p-149

typedef enum tl_f32_kind { TL_F32_NONE = 0, TL_F32_EXACT, TL_F32_ELEM, TL_F32_DOT, TL_F32_BN } tl_f32_kind;

typedef struct tl_f32_err {
  tl_f32_kind kind;
  double rel, eabs;
} tl_f32_err;

/* f32-any model of sigmoid (1/(1+expf(-x))) and tanhf for any libm within TL_F32_LIBM_MAX_ULP = 4
 * ulp (docs/semantics.md): expf's 4 ulp (<= 4 2^-23 relative) plus the rounding of 1 + e and of the
 * division (2 u) is below 5 2^-23; we use 6 2^-23 = 3 2^-22 for second-order terms.  Plus an
 * absolute 2^-125 for underflow/overflow of expf (docs/certificates.md, "error models"). */
#define TL_F32_TRANS_REL 0x1.8p-21
#define TL_F32_TRANS_ABS 0x1p-125
/* f32-any model of eval batch norm in any formula order: 2^-20 (|s| (|x| + |mean|) + |beta|) + 2^-140 */
#define TL_F32_BN_REL 0x1p-20
#define TL_F32_BN_ABS 0x1p-140

/* one row per op (named after the op's name in ops.def; a missing row is a compile error) */
/* clang-format off */
#define TL_F32_NO {TL_F32_NONE, 0, 0}
#define TL_F32_EX {TL_F32_EXACT, 0, 0}
#define TL_F32_DOTK {TL_F32_DOT, 0, 0}
#define TL_F32_input TL_F32_EX                  /* the value itself */
#define TL_F32_param TL_F32_EX                  /* the value itself */
#define TL_F32_linear TL_F32_DOTK               /* dot product + bias: gamma_k, k = in + 1 */
#define TL_F32_matmul TL_F32_DOTK               /* dot product: gamma_k, k = inner size */
#define TL_F32_add {TL_F32_ELEM, TL_F32_U, 0}   /* one rounding; a subnormal sum is exact: u, no eta */
#define TL_F32_sub {TL_F32_ELEM, TL_F32_U, 0}   /* one rounding; a subnormal difference is exact: u, no eta */
#define TL_F32_mul {TL_F32_ELEM, TL_F32_U, TL_F32_ETA / 2} /* one product rounding: u, may underflow: eta/2 */
#define TL_F32_div TL_F32_NO                    /* no IBP rule */
#define TL_F32_max TL_F32_NO                    /* no IBP rule */
#define TL_F32_min TL_F32_NO                    /* no IBP rule */
#define TL_F32_neg TL_F32_EX                    /* exact */
#define TL_F32_abs TL_F32_NO                    /* no IBP rule */
#define TL_F32_sqrt TL_F32_NO                   /* no IBP rule */
#define TL_F32_exp TL_F32_NO                    /* no IBP rule */
#define TL_F32_log TL_F32_NO                    /* no IBP rule */
#define TL_F32_relu TL_F32_EX                   /* max(x, 0) is one of its operands: exact */
/* one product rounding (and (float)alpha): 3u relative, eta/2 */
#define TL_F32_leaky_relu {TL_F32_ELEM, 3 * TL_F32_U, TL_F32_ETA / 2}
/* libm expf (4 ulp) + 2 roundings: 3 2^-22, 2^-125 */
#define TL_F32_sigmoid {TL_F32_ELEM, TL_F32_TRANS_REL, TL_F32_TRANS_ABS}
/* libm tanhf (4 ulp): 3 2^-22, 2^-125 */
#define TL_F32_tanh {TL_F32_ELEM, TL_F32_TRANS_REL, TL_F32_TRANS_ABS}
#define TL_F32_gelu TL_F32_NO                   /* no IBP rule */
#define TL_F32_silu TL_F32_NO                   /* no IBP rule */
#define TL_F32_softmax TL_F32_NO                /* no IBP rule */
#define TL_F32_log_softmax TL_F32_NO            /* no IBP rule */
/* exact in float (kept as one rounding: u, eta/2) */
#define TL_F32_clamp {TL_F32_ELEM, TL_F32_U, TL_F32_ETA / 2}
#define TL_F32_sum TL_F32_NO                    /* no IBP rule */
#define TL_F32_mean TL_F32_NO                   /* no IBP rule */
#define TL_F32_reshape TL_F32_EX                /* a copy */
#define TL_F32_flatten TL_F32_EX                /* a copy */
#define TL_F32_permute TL_F32_NO                /* no IBP rule */
#define TL_F32_concat TL_F32_NO                 /* no IBP rule */
#define TL_F32_slice TL_F32_NO                  /* no IBP rule */
#define TL_F32_conv2d TL_F32_DOTK               /* dot product + bias: gamma_k, k = C/G kh kw + 1 */
#define TL_F32_max_pool2d TL_F32_EX             /* the max is one of its operands: exact */
#define TL_F32_avg_pool2d TL_F32_DOTK           /* sum and one division: gamma_k, k = kh kw + 1 */
#define TL_F32_global_avg_pool TL_F32_DOTK      /* sum and one division: gamma_k, k = H W + 1 */
#define TL_F32_batch_norm {TL_F32_BN, TL_F32_BN_REL, TL_F32_BN_ABS} /* any formula order: 2^-20, 2^-140 */
#define TL_F32_layer_norm TL_F32_NO             /* no IBP rule */
#define TL_F32_dropout TL_F32_EX                /* eval: a copy */
#define TL_F32_embedding TL_F32_NO              /* no IBP rule */
#define TL_F32_attention TL_F32_NO              /* no IBP rule */
#define TL_F32_mse_loss TL_F32_NO               /* no IBP rule */
#define TL_F32_cross_entropy TL_F32_NO          /* no IBP rule */
/* clang-format on */

/* the row of op (op < TL_OP_COUNT) */
static inline const tl_f32_err *tl_f32_model(tl_op op) {
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = TL_F32_##name,
  static const tl_f32_err rows[TL_OP_COUNT] = {
#include "torchlean/ops.def"
  };
#undef TL_OP
  return &rows[op];
}

/* gamma_k = k u / (1 - k u) as its exact numerator and denominator: both are binary64 values
 * exactly for 0 <= k < 2^24 (k u is a multiple of 2^-24 below 1); den <= 0 when k u >= 1 (no bound). */
static inline void tl_f32_gamma_frac(int64_t k, double *num, double *den) {
  *num = (double)k * TL_F32_U; /* exact for k < 2^53 */
  *den = 1.0 - *num;
}

/* gamma_k rounded up in binary64, whatever the caller's rounding mode (it switches none): the
 * quotient in any mode is within one ulp of k u / (1 - k u), so one step up covers it.  verify/
 * calls it through tlv_gamma_up (one out-of-line function, so the quotient is computed in the
 * caller's mode at the call, never moved across a rounding-mode switch). */
static inline double tl_f32_gamma_up(int64_t k) {
  double num, den;
  tl_f32_gamma_frac(k, &num, &den);
  double gmm = num / den;
  return nextafter(gmm, INFINITY);
}

#endif
