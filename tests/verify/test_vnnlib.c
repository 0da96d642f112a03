/* test_vnnlib.c - the VNN-LIB reader (verify/property/): every construct of the grammar, the
 * or-then-assert trap, exact decimals and outward rounding, strictness, output normalisation,
 * grouping by exact box, malformed files with their line:col, refused constructs, deep nesting, the
 * DNF cap, and every competition property of ../shared/benchmarks/vnncomp2021 with its box/row counts. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "torchlean/vnnlib.h"

#define DECL2                                                                                                \
  "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"

static tl_vnnlib *ok(const char *text) {
  tl_vnnlib *v = NULL;
  tl_status st;
  tl_code c = tl_vnnlib_parse_buffer(text, strlen(text), "t.vnnlib", &v, &st);
  cr_assert_eq(c, TL_OK, "parse failed: %s\n--- text:\n%.300s", st.msg, text);
  return v;
}

/* parse must fail with code and a message containing want */
static void bad(const char *text, tl_code code, const char *want) {
  tl_vnnlib *v = NULL;
  tl_status st;
  tl_code c = tl_vnnlib_parse_buffer(text, strlen(text), "t.vnnlib", &v, &st);
  cr_assert_eq(c, code, "code %d (want %d): %s\n--- text:\n%.300s", c, code, c ? st.msg : "ok", text);
  cr_assert_null(v);
  cr_assert(strstr(st.msg, want), "message '%s' lacks '%s'", st.msg, want);
}

/* row r of box b: c . y <= d */
static double crow(const tl_vnnlib *v, int b, int r, int j) {
  return v->boxes[b].prop->c[r * v->n_outputs + j];
}

Test(vnnlib, single_box_and_rows) {
  tl_vnnlib *v = ok(DECL2 "(assert (>= X_0 -1))\n(assert (<= X_0 1))\n(assert (<= X_1 0.5))\n"
                          "(assert (<= Y_0 Y_1))\n");
  cr_assert_eq(v->n_inputs, 2);
  cr_assert_eq(v->n_outputs, 2);
  cr_assert_eq(v->nboxes, 1);
  cr_assert_eq(v->boxes[0].lo[0], -1);
  cr_assert_eq(v->boxes[0].hi[0], 1);
  cr_assert(isinf(v->boxes[0].lo[1]) && v->boxes[0].lo[1] < 0, "missing bound: -inf");
  cr_assert_eq(v->boxes[0].hi[1], 0.5);
  const tl_property *p = v->boxes[0].prop;
  cr_assert_eq(p->unsafe, 1);
  cr_assert_eq(p->label, -1);
  cr_assert_eq(p->nrows, 1);
  cr_assert_eq(p->nclauses, 1);
  cr_assert(crow(v, 0, 0, 0) == 1 && crow(v, 0, 0, 1) == -1 && p->d[0] == 0 && !p->strict[0]);
  tl_vnnlib_free(v);
}

Test(vnnlib, comparisons_normalised) {
  /* >= and > negate: Y_0 >= Y_1 is -Y_0 + Y_1 <= 0; Y_0 > 2 is -Y_0 < -2; < keeps strict */
  tl_vnnlib *v =
      ok(DECL2 "(assert (>= Y_0 Y_1))\n(assert (> Y_0 2))\n(assert (< Y_1 3))\n(assert (<= 1 Y_1))");
  const tl_property *p = v->boxes[0].prop;
  cr_assert_eq(p->nrows, 4);
  cr_assert(crow(v, 0, 0, 0) == -1 && crow(v, 0, 0, 1) == 1 && p->d[0] == 0 && !p->strict[0]);
  cr_assert(crow(v, 0, 1, 0) == -1 && crow(v, 0, 1, 1) == 0 && p->d[1] == -2 && p->strict[1]);
  cr_assert(crow(v, 0, 2, 0) == 0 && crow(v, 0, 2, 1) == 1 && p->d[2] == 3 && p->strict[2]);
  cr_assert(crow(v, 0, 3, 1) == -1 && p->d[3] == -1 && !p->strict[3]);
  tl_vnnlib_free(v);
}

Test(vnnlib, or_then_assert_is_a_conjunction) {
  /* the trap: the second assert is conjoined with the or, not one more disjunct */
  tl_vnnlib *v = ok(DECL2 "(assert (or (<= Y_0 0) (<= Y_1 0)))\n(assert (<= Y_0 5))\n");
  const tl_property *p = v->boxes[0].prop;
  cr_assert_eq(v->nboxes, 1);
  cr_assert_eq(p->nclauses, 2);
  cr_assert_eq(p->nrows, 4);
  for (int k = 0; k < 2; k++) {
    cr_assert_eq(p->clause_start[k + 1] - p->clause_start[k], 2);
    int has5 = 0;
    for (int r = p->clause_start[k]; r < p->clause_start[k + 1]; r++)
      has5 |= p->d[r] == 5;
    cr_assert(has5, "clause %d lacks the second assert", k);
  }
  /* y = (3, -1): satisfies (Y_1 <= 0) and (Y_0 <= 5): unsafe; y = (6, -1): the conjunction fails */
  double y1[2] = {3, -1}, y2[2] = {6, -1};
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, y1, y1), 1);
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, y2, y2), 0);
  tl_vnnlib_free(v);
}

Test(vnnlib, nested_and_or_dnf) {
  tl_vnnlib *v =
      ok(DECL2 "(assert (and (or (and (<= Y_0 1) (<= Y_1 2)) (<= Y_0 3)) (or (<= Y_1 4) (and (<= Y_1 "
               "5) (or (<= Y_0 6) (<= Y_0 7))))))");
  const tl_property *p = v->boxes[0].prop;
  cr_assert_eq(p->nclauses, 6);                  /* 2 x 3 */
  cr_assert_eq(p->nrows, 3 + 4 + 4 + 2 + 3 + 3); /* ABD ABEF ABEG CD CEF CEG */
  tl_vnnlib_free(v);
}

Test(vnnlib, terms_and_literals) {
  /* (+ ...), (- t t), (- t), (* c t), (* t c), (/ t c), -0.5, (- 0.5), scientific, .5, 5., +3 */
  tl_vnnlib *v =
      ok(DECL2 "; a comment\n(assert (<= (+ Y_0 (* 2 Y_1) (- Y_0) (* Y_1 -0.5)) (- 0.5)))\n"
               "(assert (>= (- X_0 1.5e-3) -2E+4)) ; trailing comment\n(assert (<= (/ X_0 4) .5))\n"
               "(assert (<= (* 1E2 X_1) 5.)) (assert (>= X_1 +3e-1))\n(check-sat)\n");
  cr_assert_eq(v->nboxes, 1);
  const tl_property *p = v->boxes[0].prop;
  cr_assert(crow(v, 0, 0, 0) == 0 && crow(v, 0, 0, 1) == 1.5 && p->d[0] == -0.5);
  cr_assert_eq(v->boxes[0].hi[0], 2);
  cr_assert_eq(v->boxes[0].hi[1], 0.05); /* the double 0.05 is above 1/20: it is the upward rounding */
  cr_assert_eq(v->boxes[0].lo[1], 0.3);  /* the double 0.3 is below 3/10: the downward rounding */
  cr_assert(v->boxes[0].lo[0] <= -19999.9985 && v->boxes[0].lo[0] > -19999.9986);
  tl_vnnlib_free(v);
}

Test(vnnlib, exact_decimals_rounded_outward) {
  tl_vnnlib *v = ok(DECL2 "(assert (>= X_0 0.1)) (assert (<= X_0 0.3)) (assert (<= Y_0 0))");
  const tl_vnnlib_box *b = &v->boxes[0];
  /* 0.1 (double) is above 1/10: lo must be the double below it; 0.3 (double) is below 3/10: hi above */
  cr_assert_eq(b->lo[0], nextafter(0.1, 0));
  cr_assert_eq(b->hi[0], nextafter(0.3, 1));
  float in[2] = {0.1f, 0}, out[2] = {nextafterf(0.1f, 0), 0}; /* 0.1f = 0.100000001...; below: 0.0999999940 */
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, in), 1);
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, out), 0);
  float hi_out[2] = {0.3f, 0}, hi_in[2] = {nextafterf(0.3f, 0), 0}; /* 0.3f = 0.300000012 > 3/10 */
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, hi_out), 0);
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, hi_in), 1);
  float nanx[2] = {NAN, 0};
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, nanx), 0);
  cr_assert_eq(tl_vnnlib_input_in_box(v, 1, in), 0, "box index out of range");
  tl_vnnlib_free(v);
}

Test(vnnlib, extreme_literals) {
  tl_vnnlib *v = ok(DECL2 "(assert (>= X_0 1e-400)) (assert (<= X_0 1e400)) (assert (<= X_1 -1e-400))"
                          "(assert (>= X_1 -1e400)) (assert (<= Y_0 1))");
  const tl_vnnlib_box *b = &v->boxes[0];
  cr_assert(b->lo[0] == 0, "1e-400 rounded down is 0");
  cr_assert(isinf(b->hi[0]) && b->hi[0] > 0, "1e400 rounded up is +inf");
  cr_assert(b->hi[1] == 0 && signbit(b->hi[1]), "-1e-400 rounded up is -0");
  cr_assert(isinf(b->lo[1]) && b->lo[1] < 0);
  tl_vnnlib_free(v);
  v = ok(DECL2
         "(assert (<= X_0 1e-400)) (assert (>= X_0 -1e-400)) (assert (>= X_1 1e400)) (assert (<= Y_0 1))");
  b = &v->boxes[0];
  cr_assert_eq(b->hi[0], 0x1p-1074, "1e-400 rounded up is the least subnormal");
  cr_assert_eq(b->lo[0], -0x1p-1074);
  cr_assert_eq(b->lo[1], DBL_MAX, "1e400 rounded down is DBL_MAX");
  float zero[2] = {0, FLT_MAX};
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, zero), 0, "FLT_MAX < 1e400");
  tl_vnnlib_free(v);
}

Test(vnnlib, strict_bounds) {
  tl_vnnlib *v = ok(DECL2 "(assert (< X_0 1)) (assert (> X_0 -1)) (assert (<= Y_0 0))");
  float x1[2] = {1, 0}, x2[2] = {-1, 0}, x3[2] = {nextafterf(1, 0), 0};
  cr_assert_eq(v->boxes[0].hi[0], 1, "the double box is closed");
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, x1), 0);
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, x2), 0);
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, x3), 1);
  cr_assert_eq(v->boxes[0].empty, 0);
  tl_vnnlib_free(v);
  /* a bound and the same value strict: the strict one is kept */
  v = ok(DECL2 "(assert (<= X_0 1)) (assert (< X_0 1)) (assert (<= Y_0 0))");
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, x1), 0);
  tl_vnnlib_free(v);
  v = ok(DECL2 "(assert (< X_0 1)) (assert (> X_0 1)) (assert (<= Y_0 0))");
  cr_assert_eq(v->boxes[0].empty, 1, "x < 1 and x > 1");
  tl_vnnlib_free(v);
  v = ok(DECL2 "(assert (<= X_0 1)) (assert (>= X_0 1)) (assert (<= Y_0 0))");
  cr_assert_eq(v->boxes[0].empty, 0, "x = 1");
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, x1), 1);
  tl_vnnlib_free(v);
  v = ok(DECL2 "(assert (<= X_0 0)) (assert (>= X_0 1)) (assert (<= Y_0 0))");
  cr_assert_eq(v->boxes[0].empty, 1);
  tl_vnnlib_free(v);
  /* strict output rows: y0 < 1 does not hold at 1, y0 <= 1 does */
  v = ok(DECL2 "(assert (or (< Y_0 1) (and (<= Y_1 1) (>= Y_1 1))))");
  double y[2] = {1, 2}, y2[2] = {1, 1};
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, y, y), 0);
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, y2, y2), 1);
  tl_vnnlib_free(v);
}

Test(vnnlib, grouping_and_box_union) {
  /* the same exact box written two ways is one box; a different box is a second one */
  tl_vnnlib *v = ok(DECL2 "(assert (or (and (<= X_0 1) (<= Y_0 0)) (and (<= (* 0.5 X_0) 0.5) (<= Y_1 0))"
                          " (and (<= X_0 2) (<= Y_0 Y_1))))");
  cr_assert_eq(v->nboxes, 2);
  int b1 = v->boxes[0].hi[0] == 1 ? 0 : 1;
  cr_assert_eq(v->boxes[b1].hi[0], 1);
  cr_assert_eq(v->boxes[b1].prop->nclauses, 2);
  cr_assert_eq(v->boxes[1 - b1].hi[0], 2);
  cr_assert_eq(v->boxes[1 - b1].prop->nclauses, 1);
  tl_vnnlib_free(v);
  /* a negative coefficient turns an upper bound into a lower bound */
  v = ok(DECL2 "(assert (<= (* -2 X_0) 1)) (assert (<= Y_0 0))");
  cr_assert_eq(v->boxes[0].lo[0], -0.5);
  cr_assert(isinf(v->boxes[0].hi[0]));
  tl_vnnlib_free(v);
}

Test(vnnlib, constant_atoms_and_no_output_atom) {
  tl_vnnlib *v = ok(DECL2 "(assert (or (<= 2 1) (and (<= X_0 1) (<= Y_0 0)))) (assert (<= 1 2))");
  cr_assert_eq(v->nboxes, 1);
  cr_assert_eq(v->boxes[0].prop->nrows, 1);
  tl_vnnlib_free(v);
  v = ok(DECL2 "(assert (<= X_0 1)) (assert (< 1 1))");
  cr_assert_eq(v->nboxes, 0, "the only term is false");
  tl_vnnlib_free(v);
  v = ok(DECL2 "(assert (<= (- X_0 X_0) 1)) (assert (or (<= Y_0 0) (<= X_1 3)))");
  cr_assert_eq(v->nboxes, 2);
  /* the term X_1 <= 3 has no output atom: every output is unsafe (0.y <= 0) */
  int b = isinf(v->boxes[0].hi[1]) ? 1 : 0;
  cr_assert_eq(v->boxes[b].hi[1], 3);
  const tl_property *p = v->boxes[b].prop;
  cr_assert(p->nrows == 1 && crow(v, b, 0, 0) == 0 && crow(v, b, 0, 1) == 0 && p->d[0] == 0 && !p->strict[0]);
  double ylo[2] = {-1e300, -1e300}, yhi[2] = {1e300, 1e300};
  cr_assert_eq(tl_vnnlib_output_unsafe(v, b, ylo, yhi), 1);
  tl_vnnlib_free(v);
}

Test(vnnlib, output_rows_rounding) {
  /* d rounded up; coefficients exact, rows scaled to integers when needed */
  tl_vnnlib *v = ok(DECL2 "(assert (or (<= Y_0 0.3) (>= Y_0 0.3) (<= (* 0.1 Y_0) 0.3)"
                          " (<= (+ (* 0.1 Y_0) (* 0.3 Y_1)) 0) (<= Y_0 1e400)))");
  const tl_property *p = v->boxes[0].prop;
  cr_assert_eq(p->nclauses, 5);
  cr_assert_eq(p->d[0], nextafter(0.3, 1));
  cr_assert(crow(v, 0, 1, 0) == -1 && p->d[1] == -0.3, "-3/10 rounded up is -(double 0.3)");
  cr_assert(crow(v, 0, 2, 0) == 1 && p->d[2] == 3, "0.1 y <= 0.3 scaled to y <= 3");
  cr_assert(crow(v, 0, 3, 0) == 1 && crow(v, 0, 3, 1) == 3 && p->d[3] == 0);
  cr_assert(crow(v, 0, 4, 0) == 0 && p->d[4] == 0, "d beyond DBL_MAX: the always-true row");
  tl_vnnlib_free(v);
  /* exact output check: y0 = double 0.3 (below 3/10) satisfies y0 <= 0.3, the next double does not */
  v = ok(DECL2 "(assert (<= Y_0 0.3))");
  double a[2] = {0.3, 0}, b[2] = {nextafter(0.3, 1), 0};
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, a, a), 1);
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, b, b), 0);
  tl_vnnlib_free(v);
}

Test(vnnlib, output_unsafe_over_enclosures) {
  tl_vnnlib *v = ok(DECL2 "(assert (<= Y_0 Y_1))");
  double lo1[2] = {0, 1}, hi1[2] = {0.5, 2}, lo2[2] = {0, 0.4};
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, lo1, hi1), 1, "max(y0 - y1) = -0.5");
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, lo2, hi1), 0, "max(y0 - y1) = 0.1");
  double inf[2] = {INFINITY, 0}, nan[2] = {NAN, 0};
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, lo1, inf), 0);
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, nan, nan), 0);
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, hi1, lo1), 0, "ylo > yhi");
  tl_vnnlib_free(v);
}

Test(vnnlib, other_commands_and_equality_chains) {
  tl_vnnlib *v = ok("(set-logic QF_LRA)\n(declare-fun X_0 () Real)\n(declare-const Y_0 Real)\n"
                    "(assert (= X_0 0.25))\n(assert (<= -1 Y_0 2 3))\n(check-sat)\n(get-model)\n(exit)\n");
  cr_assert(v->boxes[0].lo[0] == 0.25 && v->boxes[0].hi[0] == 0.25);
  cr_assert_eq(v->boxes[0].prop->nrows, 2); /* -1 <= Y_0, Y_0 <= 2; 2 <= 3 is true: dropped */
  tl_vnnlib_free(v);
  v = ok("(declare-const Y_1 Real)(declare-const X_0 Real)(declare-const Y_0 Real)(assert true)");
  cr_assert_eq(v->n_outputs, 2, "declarations in any order");
  cr_assert_eq(v->nboxes, 1);
  cr_assert(isinf(v->boxes[0].lo[0]));
  tl_vnnlib_free(v);
}

Test(vnnlib, malformed_positions) {
  bad("", TL_EFORMAT, "t.vnnlib:1:1: no X_ variable declared");
  bad("; only a comment\n", TL_EFORMAT, "t.vnnlib:2:1: no X_");
  bad("(declare-const X_0 Real)\n", TL_EFORMAT, ":2:1: no Y_ variable declared");
  bad(DECL2 "(assert (<= X_0 1)", TL_EFORMAT,
      "t.vnnlib:5:19: unbalanced parentheses: end of file inside the '(' at 5:1");
  bad("(declare-const X_0 Real))", TL_EFORMAT, "t.vnnlib:1:25: unbalanced ')'");
  bad(DECL2 "(assert (<= X_0 foo))", TL_EFORMAT, "t.vnnlib:5:17: unknown symbol 'foo'");
  bad(DECL2 "(assert\n  (<= X_7 1))", TL_EFORMAT, "t.vnnlib:6:7: undeclared variable X_7");
  bad(DECL2 "(assert (<= X_0 1.2.3))", TL_EFORMAT, "t.vnnlib:5:17: bad number '1.2.3'");
  bad(DECL2 "(assert (<= X_0 1e))", TL_EFORMAT, "5:17: bad number");
  bad(DECL2 "(assert (<= X_0 -.))", TL_EFORMAT, "5:17: bad number");
  bad(DECL2 "(assert (<= X_0 1)) foo", TL_EFORMAT, "t.vnnlib:5:21: 'foo' outside a command");
  bad(DECL2 "(assert (<= X_0 1)) 3", TL_EFORMAT, "5:21: '3' outside a command");
  bad("(declare-const X_0 Real)(declare-const X_2 Real)(declare-const Y_0 Real)", TL_EFORMAT,
      "1:40: X_1 is not declared");
  bad("(declare-const X_0 Real)\n(declare-const X_0 Real)", TL_EFORMAT, "2:16: X_0 declared twice");
  bad(DECL2 "(assert X_0)", TL_EFORMAT, "5:9: assert: expected a formula");
  bad(DECL2 "(assert (<= X_0))", TL_EFORMAT, "5:9: (<= ...) needs two terms");
  bad(DECL2 "(assert (<= (and (<= X_0 1)) 1))", TL_EFORMAT, "5:13: expected a term");
  bad(DECL2 "(assert (and (<= X_0 1) X_1))", TL_EFORMAT, "5:25: expected a formula");
  bad(DECL2 "(assert (foo X_0 1))", TL_EFORMAT, "5:10: unknown operator 'foo'");
  bad(DECL2 "(frobnicate)", TL_EFORMAT, "5:1: unknown command");
  bad(DECL2 "()", TL_EFORMAT, "5:1: empty command");
  bad(DECL2 "(assert (<= X_0 \"1\"))", TL_EFORMAT, "5:17: string literals");
  bad(DECL2 "(assert (<= X_0 1))\x01", TL_EFORMAT, "5:20: unexpected character");
  const char nul[] = "(declare-const X_0 Real)\0";
  tl_vnnlib *v = NULL;
  tl_status st;
  cr_assert_eq(tl_vnnlib_parse_buffer(nul, sizeof nul - 1, "n", &v, &st), TL_EFORMAT);
  cr_assert(strstr(st.msg, "n:1:25: unexpected character"), "%s", st.msg);
  cr_assert_eq(tl_vnnlib_parse_file("/nonexistent/p.vnnlib", &v, &st), TL_EIO);
  cr_assert(strstr(st.msg, "/nonexistent/p.vnnlib"));
}

Test(vnnlib, unsupported_constructs) {
  bad(DECL2 "(assert (<= (+ X_0 X_1) 1))", TL_EUNSUPPORTED, "5:9: input constraint over 2 variables");
  bad(DECL2 "(assert (<= X_0 Y_0))", TL_EUNSUPPORTED, "5:9: an atom mixing inputs X_ and outputs Y_");
  bad(DECL2 "(assert (<= (* X_0 X_1) 1))", TL_EUNSUPPORTED, "5:20: nonlinear product");
  bad(DECL2 "(assert (<= (* Y_0 Y_0) 1))", TL_EUNSUPPORTED, "nonlinear product");
  bad(DECL2 "(assert (<= (/ X_0 Y_0) 1))", TL_EUNSUPPORTED, "5:20: divisor must be a nonzero constant");
  bad(DECL2 "(assert (<= (/ X_0 0) 1))", TL_EUNSUPPORTED, "divisor must be a nonzero constant");
  bad(DECL2 "(assert (not (<= X_0 1)))", TL_EUNSUPPORTED, "5:10: 'not' is not supported");
  bad(DECL2 "(assert (=> (<= X_0 1) (<= Y_0 1)))", TL_EUNSUPPORTED, "'=>' is not supported");
  bad("(declare-const X_0 Int)", TL_EUNSUPPORTED, "1:20: only Real variables");
  bad("(declare-const x Real)", TL_EUNSUPPORTED, "1:16: declared name must be X_i");
  bad("(declare-const X_01 Real)", TL_EUNSUPPORTED, "declared name must be X_i");
  bad(DECL2 "(assert (<= X_0 1e100001))", TL_EUNSUPPORTED, "5:17: exponent out of range");
  bad(DECL2 "(assert (<= (+ Y_0 (* 9007199254740993 Y_1)) 0))", TL_EUNSUPPORTED, "not a binary64");
  bad(DECL2 "(assert (<= (+ Y_0 (* 1e400 Y_1)) 0))", TL_EUNSUPPORTED, "not a binary64");
}

/* DECL2 (assert PRE OPEN^depth INNER CLOSE^depth POST) */
static char *nest(const char *pre, const char *open, const char *inner, const char *close, const char *post,
                  long depth) {
  const char *decl = DECL2 "(assert ";
  size_t ld = strlen(decl), lp = strlen(pre), lo = strlen(open), li = strlen(inner), lc = strlen(close);
  size_t lq = strlen(post);
  char *s = malloc(ld + lp + (size_t)depth * (lo + lc) + li + lq + 2);
  char *p = s;
  memcpy(p, decl, ld), p += ld;
  memcpy(p, pre, lp), p += lp;
  for (long i = 0; i < depth; i++)
    memcpy(p, open, lo), p += lo;
  memcpy(p, inner, li), p += li;
  for (long i = 0; i < depth; i++)
    memcpy(p, close, lc), p += lc;
  memcpy(p, post, lq), p += lq;
  *p++ = ')', *p = 0;
  return s;
}

Test(vnnlib, deep_nesting_uses_no_recursion) {
  const long depth = 1000000;
  char *s = malloc(depth + 1);
  memset(s, '(', depth), s[depth] = 0;
  bad(s, TL_EFORMAT, "unbalanced parentheses");
  free(s);
  s = nest("", "(and (<= Y_0 1) ", "(<= X_0 1)", ")", "", depth);
  tl_vnnlib *v = ok(s);
  cr_assert_eq(v->boxes[0].hi[0], 1);
  cr_assert_eq(v->boxes[0].prop->nrows, depth);
  tl_vnnlib_free(v), free(s);
  s = nest("", "(or (<= Y_1 2) ", "(<= Y_0 1)", ")", "", depth - 1); /* 10^6 terms: at the cap */
  v = ok(s);
  cr_assert_eq(v->boxes[0].prop->nclauses, depth);
  tl_vnnlib_free(v), free(s);
  /* (- (- ... X_0)) 10^6 times is X_0; (+ X_0 (+ X_0 ... X_0)) 10^5 times is 100001 X_0 */
  s = nest("(<= ", "(- ", "X_0", ")", " -7)", depth);
  v = ok(s);
  cr_assert_eq(v->boxes[0].hi[0], -7);
  tl_vnnlib_free(v), free(s);
  s = nest("(<= ", "(+ X_0 ", "X_0", ")", " 100001)", 100000);
  v = ok(s);
  cr_assert_eq(v->boxes[0].hi[0], 1);
  tl_vnnlib_free(v), free(s);
  s = nest("(<= ", "(* 2 ", "X_0", ")", " 1)", 2000); /* 2^2000 X_0 <= 1 */
  v = ok(s);
  cr_assert_eq(v->boxes[0].hi[0], 0x1p-1074, "2^-2000 rounded up");
  tl_vnnlib_free(v), free(s);
}

Test(vnnlib, dnf_cap) {
  char buf[4096];
  int k = snprintf(buf, sizeof buf, DECL2 "(assert (and");
  for (int i = 0; i < 21; i++) /* 2^21 terms > 10^6 */
    k += snprintf(buf + k, sizeof buf - (size_t)k, " (or (<= Y_0 %d) (<= Y_1 %d))", i, i);
  snprintf(buf + k, sizeof buf - (size_t)k, "))");
  bad(buf, TL_EUNSUPPORTED, "disjunctive normal form grows beyond");
  /* 2^10 terms are fine */
  k = snprintf(buf, sizeof buf, DECL2 "(assert (and");
  for (int i = 0; i < 10; i++)
    k += snprintf(buf + k, sizeof buf - (size_t)k, " (or (<= Y_0 %d) (<= Y_1 %d))", i, i);
  snprintf(buf + k, sizeof buf - (size_t)k, "))");
  tl_vnnlib *v = ok(buf);
  cr_assert_eq(v->boxes[0].prop->nclauses, 1024);
  tl_vnnlib_free(v);
}

/* the competition's files: ../shared/benchmarks/vnncomp2021 (skipped when absent; CI has it) */
typedef struct bench {
  const char *file;
  int nboxes, rows, clauses; /* per box */
} bench;

static const bench benches[] = {
    {"acasxu/prop_1.vnnlib", 1, 1, 1},   {"acasxu/prop_2.vnnlib", 1, 4, 1},
    {"acasxu/prop_3.vnnlib", 1, 4, 1},   {"acasxu/prop_4.vnnlib", 1, 4, 1},
    {"acasxu/prop_5.vnnlib", 1, 4, 4},   {"acasxu/prop_6.vnnlib", 2, 4, 4},
    {"acasxu/prop_7.vnnlib", 1, 6, 2},   {"acasxu/prop_8.vnnlib", 1, 6, 3},
    {"acasxu/prop_9.vnnlib", 1, 4, 4},   {"acasxu/prop_10.vnnlib", 1, 4, 4},
    {"test/test_nano.vnnlib", 1, 1, 1},  {"test/test_tiny.vnnlib", 1, 1, 1},
    {"test/test_small.vnnlib", 1, 1, 1}, {"test/test_prop.vnnlib", 1, 4, 1},
};

Test(vnnlib, competition_properties) {
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/../shared/benchmarks/vnncomp2021", TL_SOURCE_DIR);
  if (access(dir, R_OK) != 0)
    cr_skip_test("%s absent: the benchmark properties are not checked", dir);
  for (size_t i = 0; i < sizeof benches / sizeof *benches; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, benches[i].file);
    tl_vnnlib *v = NULL;
    tl_status st;
    cr_assert_eq(tl_vnnlib_parse_file(path, &v, &st), TL_OK, "%s", st.msg);
    int n = strstr(path, "acasxu") || strstr(path, "test_prop") ? 5 : 1;
    cr_assert(v->n_inputs == n && v->n_outputs == n, "%s", path);
    cr_assert_eq(v->nboxes, benches[i].nboxes, "%s", path);
    for (int b = 0; b < v->nboxes; b++) {
      cr_assert_eq(v->boxes[b].prop->nrows, benches[i].rows, "%s", path);
      cr_assert_eq(v->boxes[b].prop->nclauses, benches[i].clauses, "%s", path);
      cr_assert_eq(v->boxes[b].empty, 0);
      for (int j = 0; j < n; j++) {
        cr_assert(isfinite(v->boxes[b].lo[j]) && v->boxes[b].lo[j] <= v->boxes[b].hi[j], "%s", path);
        /* the float midpoint (rounded inward) is in the exact box */
        float x[5];
        for (int k = 0; k < n; k++)
          x[k] = (float)(0.5 * (v->boxes[b].lo[k] + v->boxes[b].hi[k]));
        cr_assert_eq(tl_vnnlib_input_in_box(v, b, x), 1, "%s", path);
      }
    }
    tl_vnnlib_free(v);
  }
  /* prop_6: two boxes differing in X_1 ([0.11140846, 0.499999896] and [-0.499999896, -0.11140846]) */
  snprintf(path, sizeof path, "%s/acasxu/prop_6.vnnlib", dir);
  tl_vnnlib *v = NULL;
  cr_assert_eq(tl_vnnlib_parse_file(path, &v, NULL), TL_OK);
  int pos = v->boxes[0].lo[1] > 0 ? 0 : 1;
  cr_assert(v->boxes[pos].lo[1] <= 0.11140846 && v->boxes[pos].lo[1] > 0.1114084);
  cr_assert(v->boxes[1 - pos].hi[1] >= -0.11140846 && v->boxes[1 - pos].hi[1] < -0.1114084);
  float x[5] = {0.3f, 0.2f, -0.4995f, 0, 0};
  cr_assert_eq(tl_vnnlib_input_in_box(v, pos, x), 1);
  cr_assert_eq(tl_vnnlib_input_in_box(v, 1 - pos, x), 0);
  /* unsafe iff COC (y0) is not minimal: y1 <= y0 */
  double y[5] = {1, 0.5, 2, 2, 2}, y2[5] = {0, 0.5, 2, 2, 2};
  cr_assert_eq(tl_vnnlib_output_unsafe(v, pos, y, y), 1);
  cr_assert_eq(tl_vnnlib_output_unsafe(v, pos, y2, y2), 0);
  tl_vnnlib_free(v);
  /* prop_1: y0 >= 3.991125645861615, i.e. -y0 <= -3.991125645861615 rounded up */
  snprintf(path, sizeof path, "%s/acasxu/prop_1.vnnlib", dir);
  cr_assert_eq(tl_vnnlib_parse_file(path, &v, NULL), TL_OK);
  cr_assert_eq(v->boxes[0].prop->c[0], -1);
  cr_assert(v->boxes[0].prop->d[0] >= -3.991125645861615 && v->boxes[0].prop->d[0] < -3.99112564586);
  tl_vnnlib_free(v);
}

/* the fixture files of tests/fixtures/vnnlib (also fuzz seeds) */
static tl_vnnlib *fixture(const char *name, tl_status *st) {
  char path[1024];
  snprintf(path, sizeof path, "%s/vnnlib/%s", TL_FIXTURES, name);
  tl_vnnlib *v = NULL;
  if (tl_vnnlib_parse_file(path, &v, st) != TL_OK)
    return NULL;
  return v;
}

Test(vnnlib, fixture_constructs) {
  tl_status st;
  tl_vnnlib *v = fixture("constructs.vnnlib", &st);
  cr_assert_not_null(v, "%s", st.msg);
  cr_assert(v->n_inputs == 2 && v->n_outputs == 3 && v->nboxes == 1);
  cr_assert(v->boxes[0].lo[0] == -0.5 && v->boxes[0].hi[0] == -0.5);
  cr_assert(v->boxes[0].lo[1] <= 0.00075 && v->boxes[0].lo[1] > 0.000749 && v->boxes[0].hi[1] == 100);
  float x[2] = {-0.5f, 0.00075f}; /* 0.00075f is below 3/4000: outside the strict bound */
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, x), (double)0.00075f > 0.00075);
  x[1] = 100;
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, x), 0, "X_1 < 100 is strict");
  x[1] = 99;
  cr_assert_eq(tl_vnnlib_input_in_box(v, 0, x), 1);
  cr_assert_eq(v->boxes[0].prop->nclauses, 3);
  cr_assert_eq(v->boxes[0].prop->nrows, 2 + 3 + 2);
  double y1[3] = {1, 1, 0.5}, y2[3] = {1, 0, 3}, y3[3] = {0, 2, 0};
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, y1, y1), 1, "first clause: 1 - 1 - 0.5 <= 0 and 1 - 0.5 >= .25");
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, y2, y2), 1, "second clause: 0 < 1 and y2 = 3");
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, y3, y3), 0);
  tl_vnnlib_free(v);
}

Test(vnnlib, fixture_trap_and_boxes) {
  tl_status st;
  tl_vnnlib *v = fixture("trap.vnnlib", &st);
  cr_assert_not_null(v, "%s", st.msg);
  cr_assert(v->nboxes == 1 && v->boxes[0].prop->nclauses == 2 && v->boxes[0].prop->nrows == 4);
  double y[2] = {-2, 0}; /* Y_1 <= 0 holds, but Y_0 >= -1 fails: safe */
  cr_assert_eq(tl_vnnlib_output_unsafe(v, 0, y, y), 0);
  tl_vnnlib_free(v);
  v = fixture("boxes.vnnlib", &st);
  cr_assert_not_null(v, "%s", st.msg);
  cr_assert_eq(v->nboxes, 2);
  /* the doubles of both boxes are equal (0.1 is no float): the exact boxes differ in strictness.
   * The closed box has both terms' clauses; the open box (no output atom) the always-true row. */
  int open = v->boxes[0].prop->nclauses == 1 ? 0 : 1;
  cr_assert_eq(v->boxes[1 - open].prop->nclauses, 2);
  cr_assert(v->boxes[open].prop->nrows == 1 && v->boxes[open].prop->d[0] == 0 &&
            v->boxes[open].prop->c[0] == 0);
  cr_assert(v->boxes[0].lo[0] == v->boxes[1].lo[0] && v->boxes[0].hi[0] == v->boxes[1].hi[0]);
  tl_vnnlib_free(v);
}

Test(vnnlib, fixture_malformed) {
  static const struct {
    const char *file, *want;
    tl_code code;
  } cases[] = {
      {"bad_unbalanced.vnnlib", "bad_unbalanced.vnnlib:5:1: unbalanced parentheses", TL_EFORMAT},
      {"bad_undeclared.vnnlib", "bad_undeclared.vnnlib:4:13: undeclared variable Y_3", TL_EFORMAT},
      {"bad_number.vnnlib", "bad_number.vnnlib:3:17: bad number '1.5e+'", TL_EFORMAT},
      {"unsupported_two_inputs.vnnlib", "unsupported_two_inputs.vnnlib:4:9: input constraint over 2",
       TL_EUNSUPPORTED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    tl_status st;
    tl_status_clear(&st);
    cr_assert_null(fixture(cases[i].file, &st));
    cr_assert_eq(st.code, cases[i].code, "%s: %s", cases[i].file, st.msg);
    cr_assert(strstr(st.msg, cases[i].want), "'%s' lacks '%s'", st.msg, cases[i].want);
  }
}
