/* fuzz_vnnlib.c - libFuzzer harness: tl_vnnlib_parse_buffer on arbitrary bytes.  An error or a
 * property, never a crash, leak or undefined behaviour; every parsed property must satisfy the
 * reader's invariants (a violation traps, which libFuzzer reports as a crash):
 *   - n_inputs, n_outputs >= 1; every box has lo <= hi (no NaN) unless it is marked empty;
 *   - each prop is an unsafe DNF over n_outputs outputs with finite rows and well-formed clauses;
 *   - soundness of the rounding: a float the exact check accepts lies in the double box, and a float
 *     just below a finite double lo (or above hi) is refused by the exact check;
 *   - an output the exact check calls unsafe is unsafe for the rounded rows too (y = 0, 1, -1). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "torchlean/vnnlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                             \
  do {                                                                                                       \
    if (!(c))                                                                                                \
      __builtin_trap();                                                                                      \
  } while (0)

static void check_prop(const tl_property *p, int64_t m) {
  CHECK(p && p->unsafe == 1 && p->nout == m && p->nrows >= 1 && p->nclauses >= 1);
  CHECK(p->clause_start[0] == 0 && p->clause_start[p->nclauses] == p->nrows);
  for (int k = 0; k < p->nclauses; k++)
    CHECK(p->clause_start[k + 1] > p->clause_start[k]);
  for (int r = 0; r < p->nrows; r++) {
    CHECK(isfinite(p->d[r]));
    for (int64_t j = 0; j < m; j++)
      CHECK(isfinite(p->c[(size_t)r * (size_t)m + (size_t)j]));
  }
}

/* a float inside [lo, hi] (a finite bound, or 0 when unbounded on both sides) */
static float inside(double lo, double hi) {
  double t = isfinite(lo) && isfinite(hi) ? lo + (hi - lo) / 2 : isfinite(lo) ? lo : isfinite(hi) ? hi : 0;
  float f = (float)t;
  if (f < lo)
    f = nextafterf(f, INFINITY);
  if (f > hi)
    f = nextafterf(f, -INFINITY);
  return f;
}

static void check_box(const tl_vnnlib *v, int b, float *x) {
  const tl_vnnlib_box *B = &v->boxes[b];
  for (int64_t i = 0; i < v->n_inputs; i++) {
    CHECK(!isnan(B->lo[i]) && !isnan(B->hi[i]));
    CHECK(B->empty || B->lo[i] <= B->hi[i]);
    x[i] = B->empty ? 0 : inside(B->lo[i], B->hi[i]);
  }
  if (tl_vnnlib_input_in_box(v, b, x))
    for (int64_t i = 0; i < v->n_inputs; i++)
      CHECK(B->lo[i] <= x[i] && x[i] <= B->hi[i]);
  for (int64_t i = 0; i < v->n_inputs && i < 8; i++) { /* just outside the double box: refused */
    float keep = x[i], f = (float)B->lo[i];
    if (isfinite(B->lo[i])) {
      if (f >= B->lo[i])
        f = nextafterf(f, -INFINITY);
      x[i] = f;
      CHECK(!(f < B->lo[i]) || !tl_vnnlib_input_in_box(v, b, x));
    }
    f = (float)B->hi[i];
    if (isfinite(B->hi[i])) {
      if (f <= B->hi[i])
        f = nextafterf(f, INFINITY);
      x[i] = f;
      CHECK(!(f > B->hi[i]) || !tl_vnnlib_input_in_box(v, b, x));
    }
    x[i] = keep;
  }
}

static void check_outputs(const tl_vnnlib *v, int b, double *y) {
  static const double vals[3] = {0, 1, -1};
  for (int k = 0; k < 3; k++) {
    for (int64_t j = 0; j < v->n_outputs; j++)
      y[j] = vals[k];
    if (tl_vnnlib_output_unsafe(v, b, y, y))
      CHECK(tl_property_violated_exact(v->boxes[b].prop, y, y));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tl_vnnlib *v = NULL;
  tl_status st;
  if (tl_vnnlib_parse_buffer((const char *)data, size, "fuzz.vnnlib", &v, &st) != TL_OK) {
    CHECK(v == NULL && st.msg[0]);
    return 0;
  }
  CHECK(v->n_inputs >= 1 && v->n_outputs >= 1 && v->nboxes >= 0);
  float *x = malloc((size_t)v->n_inputs * sizeof *x);
  double *y = malloc((size_t)v->n_outputs * sizeof *y);
  for (int b = 0; x && y && b < v->nboxes; b++) {
    check_prop(v->boxes[b].prop, v->n_outputs);
    check_box(v, b, x);
    check_outputs(v, b, y);
  }
  free(x), free(y);
  tl_vnnlib_free(v);
  return 0;
}
