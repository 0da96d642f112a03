/* vnnlib.h - VNN-LIB properties (verify/property/): the SMT-LIB subset of the verification
 * competition, read exactly.
 *
 * A file declares X_0 .. X_{n-1} and Y_0 .. Y_{m-1} (Real; X_i / Y_j are the flattened elements of
 * the model's input / first output, C order) and asserts formulas: atoms (<= >= < >) between linear
 * terms, `and`, `or` nested to any depth; separate asserts are conjoined.  Numbers are read exactly
 * as rationals (never through a double).  The conjunction is brought to disjunctive normal form;
 * each term's input atoms must be bounds of one variable (a box), its output atoms linear rows over
 * Y.  Terms with the same box are grouped: the file becomes a union of input boxes, each with an
 * UNSAFE output condition (the property holds, "unsat", when no input of any box reaches it).
 *
 * Soundness of the doubles handed to the verifier: each box's lo is rounded down and hi up to
 * binary64 (the verified box contains the exact one; an input without a bound gets -inf / +inf);
 * each row c.y <= d keeps c exact (a row whose coefficients are not binary64 is first scaled by a
 * positive factor into primitive integers; still not binary64: refused) and rounds d up, so proving
 * c.y > d' proves c.y > d (a d beyond DBL_MAX makes the row 0.y <= 0).  A term without an output
 * atom makes every output unsafe: its clause is the always-true row 0.y <= 0.  When every term is
 * false, nboxes is 0.  A candidate counterexample is confirmed against the exact rationals
 * (tl_vnnlib_input_in_box, tl_vnnlib_output_unsafe), never against the rounded doubles.
 * Grammar, semantics, caps and what is refused: docs/vnnlib.md.
 *
 * Ownership: *out is the caller's (tl_vnnlib_free); everything inside is owned by it.
 */
#ifndef TORCHLEAN_VNNLIB_H
#define TORCHLEAN_VNNLIB_H

#include <stddef.h>
#include <stdint.h>

#include "torchlean/status.h"
#include "torchlean/verify.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_vnnlib_box {
  double *lo, *hi;   /* n_inputs each: binary64 box containing the exact box (+-inf when unbounded) */
  int empty;         /* the exact box is empty (some lo > hi): nothing to verify in it */
  tl_property *prop; /* unsafe DNF over the n_outputs outputs (tl_property.unsafe = 1, label -1) */
} tl_vnnlib_box;

typedef struct tl_vnnlib_exact tl_vnnlib_exact; /* private: the exact rational form */

typedef struct tl_vnnlib {
  int64_t n_inputs, n_outputs;
  int nboxes;
  tl_vnnlib_box *boxes;
  tl_vnnlib_exact *exact;
} tl_vnnlib;

/* Parse a file (regular file or pipe).  Errors: TL_EFORMAT "FILE:LINE:COL: message" for malformed
 * text; TL_EUNSUPPORTED (with position) for valid SMT-LIB this reader does not handle (e.g. an input
 * atom over two variables, an atom mixing X and Y, an inexact coefficient). */
tl_code tl_vnnlib_parse_file(const char *path, tl_vnnlib **out, tl_status *st);
/* The same from memory (n bytes, need not be NUL-terminated); `name` labels the messages. */
tl_code tl_vnnlib_parse_buffer(const char *text, size_t n, const char *name, tl_vnnlib **out, tl_status *st);
void tl_vnnlib_free(tl_vnnlib *v);

/* Exact checks of a candidate counterexample (rational arithmetic, no rounding):
 * is x (n_inputs floats) inside the EXACT box b (strict bounds respected)?  1 or 0 (also 0 for a
 * NaN or infinite coordinate, or b out of range). */
int tl_vnnlib_input_in_box(const tl_vnnlib *v, int b, const float *x);
/* does every output y with ylo <= y <= yhi (n_outputs each; pass one array twice for a point)
 * satisfy some unsafe clause of box b exactly?  1 (certainly unsafe) or 0.  Sufficient condition
 * checked: ONE clause whose every row holds on the whole enclosure (max of c.y over it, exactly);
 * NaN, ylo > yhi, or an infinite bound a row depends on give 0. */
int tl_vnnlib_output_unsafe(const tl_vnnlib *v, int b, const double *ylo, const double *yhi);

#ifdef __cplusplus
}
#endif
#endif
