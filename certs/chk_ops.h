/* chk_ops.h - the checker's op list and its f32-any error model, queryable (certs/ only).
 *
 * Generated from certs/chk_ops.def, the checker's own list of ops (independent of the library's
 * include/torchlean/ops.def on purpose: the trusted base includes no library code).  A test that
 * links the certs/ sources (like tests/certs/test_check_fast.c) can walk chk_op_info(0 .. OP_N - 1) and
 * compare the names, arities and error-model constants with the library's.
 */
#ifndef TL_CHECK_CHK_OPS_H
#define TL_CHECK_CHK_OPS_H
#include <gmp.h>
#include <stdint.h>

/* class bits */
#define CHK_AFFINE 1u   /* an affine view (caff): linear sums over parent 0, optional bias, window division */
#define CHK_ACT 2u      /* a CROWN activation: relaxation lines from the certificate */
#define CHK_WEIGHTED 4u /* the affine view's weights are parent 1 (a parameter); bias: parent 2 */
#define CHK_WAFFINE (CHK_AFFINE | CHK_WEIGHTED)

/* attributes read from the graph node */
typedef enum { CHK_A_NONE, CHK_A_WINDOW, CHK_A_ALPHA, CHK_A_CLAMP, CHK_A_EPS } chk_attrs;

/* the f32-any error model kinds (chk_ops.def explains each) */
typedef enum { CHK_ERR_NONE, CHK_ERR_ELEM, CHK_ERR_AFFINE, CHK_ERR_BN } chk_err;

/* binary32: unit roundoff u = 2^-24 and the smallest subnormal eta = 2^-149 (the affine model
 * pays eta/2 per rounding, and k eta against overflow) */
#define CHK_U 0x1p-24
#define CHK_ETA 0x1p-149

typedef enum {
#define CHK_OP(ENUM, name, ...) OP_##ENUM,
#include "chk_ops.def"
#undef CHK_OP
  OP_N
} cop;

typedef struct chk_op_row {
  const char *name;   /* as in certificates: "conv2d" */
  int np_min, np_max; /* parents */
  unsigned cls;       /* CHK_AFFINE, CHK_ACT */
  chk_attrs attrs;
  chk_err err;      /* f32-any error model */
  double rel, eabs; /* CHK_ERR_ELEM and CHK_ERR_BN: E = rel m + eabs (exact binary64 constants) */
} chk_op_row;

/* The row of op (NULL when op is not in 0 .. OP_N - 1). */
const chk_op_row *chk_op_info(int op);
/* The op named name (as in certificates), or -1. */
int chk_op_find(const char *name);
/* gamma_k = k u / (1 - k u), exactly (u = 2^-24, k u < 1): the affine model's factor. */
void chk_gamma_q(mpq_t g, int64_t k);
/* gamma_k rounded upward: an upper bound of chk_gamma_q ONLY when called with FE_UPWARD set
 * (the fast path, fast.c; k < 2^20). */
double chk_gamma_up(int64_t k);

extern const char *const op_names[OP_N];
extern const chk_op_row chk_ops[OP_N];

static inline int is_affine(cop op) { return (chk_ops[op].cls & CHK_AFFINE) != 0; }
static inline int is_act(cop op) { return (chk_ops[op].cls & CHK_ACT) != 0; }
static inline int is_weighted(cop op) { return (chk_ops[op].cls & CHK_WEIGHTED) != 0; }

#endif
