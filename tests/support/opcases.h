/* opcases.h - random test cases for every op: shapes and attributes drawn from a seeded tl_rng.
 * Ownership: a tcase is a plain value (a.list points into its own list array). */
#ifndef TL_TESTS_OPCASES_H
#define TL_TESTS_OPCASES_H

#include <stdint.h>

#include "torchlean/graph.h"
#include "torchlean/rand.h"

enum { V_NORMAL = 0, V_POS, V_INDEX, V_PROB, V_WIDE };

typedef struct tcase {
  tl_op op;
  int np;
  int nd[5];
  int64_t sh[5][5];
  int kind[5];
  int nograd[5];
  int64_t index_rows; /* V_INDEX: indices in [0, rows) */
  tl_attrs a;
  int64_t list[6];
  int training;
  double tol_fwd, tol_grad;
} tcase;

/* uniform integer in [lo, hi] */
int64_t opcase_rint(tl_rng *r, int64_t lo, int64_t hi);
/* random case for op (fails the running Criterion test for an op without a case) */
void opcase_make(tl_op op, tl_rng *r, tcase *c);
/* values of input k (n floats) of the kind the case asks for */
void opcase_fill(tl_rng *r, const tcase *c, int k, float *v, int64_t n);

#endif
