/* chk_ops.c - torchlean-check: the op table generated from chk_ops.def, and gamma_k. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

/* one row per op of chk_ops.def */
const chk_op_row chk_ops[OP_N] = {
#define CHK_OP(ENUM, name, npmin, npmax, cls, attrs, err, rel, eabs)                                         \
  [OP_##ENUM] = {#name, npmin, npmax, cls, attrs, err, rel, eabs},
#include "chk_ops.def"
#undef CHK_OP
};

const char *const op_names[OP_N] = {
#define CHK_OP(ENUM, name, ...) [OP_##ENUM] = #name,
#include "chk_ops.def"
#undef CHK_OP
};

const chk_op_row *chk_op_info(int op) { return op >= 0 && op < OP_N ? &chk_ops[op] : NULL; }

int chk_op_find(const char *name) {
  for (int k = 0; k < OP_N; k++)
    if (!strcmp(name, op_names[k]))
      return k;
  return -1;
}

/* gamma_k = k u / (1 - k u) */
void chk_gamma_q(mpq_t gq, int64_t k) {
  mpq_t ku, den;
  mpq_init(ku), mpq_init(den);
  mpq_set_si(ku, k, 1);
  mpq_div_2exp(ku, ku, 24);
  mpq_set_ui(den, 1, 1);
  mpq_sub(den, den, ku);
  mpq_div(gq, ku, den);
  mpq_clear(ku), mpq_clear(den);
}
