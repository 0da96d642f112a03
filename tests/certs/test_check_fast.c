/* test_check_fast.c - the checker's binary64 fast path (certs/fast.c), built from the certs/
 * sources: exact hex-float parsing, hand-made certificates whose claimed bound sits exactly on,
 * one binary64 ulp past, or below one subnormal of the exact bound (the fast path must never accept
 * what the exact checker rejects), cases it leaves to the exact checker, and the caller's rounding
 * mode restored. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- fast_parse ---------------------------------------------------------------------------------- */
static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next64(void) {
  rng += 0x9e3779b97f4a7c15u;
  uint64_t z = rng;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

Test(check_fast, parse_matches_strtod) {
  char buf[64];
  for (int i = 0; i < 200000; i++) {
    uint64_t u = next64();
    double d;
    memcpy(&d, &u, sizeof d);
    if (!isfinite(d))
      continue;
    snprintf(buf, sizeof buf, "%a", d);
    double v;
    cr_assert_eq(fast_parse(buf, 0, &v), 0, "%s", buf);
    cr_assert(memcmp(&v, &d, sizeof d) == 0, "%s parsed as %a", buf, v);
  }
  struct {
    const char *s;
    double v;
  } ok[] = {{"0x1p+0", 1.0},
            {"-0x0p+0", -0.0},
            {"0x0.0000000000000000000001p+88", 1.0},
            {"0x.8p1", 1.0},
            {"0X1.8P-1", 0.75},
            {"0x10000000000000000000p-76", 1.0},
            {"0x1", 1.0},
            {"+0x1p0", 1.0},
            {"0x1p-1074", 0x1p-1074},
            {"0x1.fffffffffffffp+1023", DBL_MAX},
            {"0x0.0000000000001p-1022", 0x1p-1074},
            {"0x6p-1075", 0x3p-1074}};
  for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
    double v;
    cr_assert_eq(fast_parse(ok[k].s, 0, &v), 0, "%s", ok[k].s);
    cr_assert(memcmp(&v, &ok[k].v, sizeof v) == 0, "%s -> %a", ok[k].s, v);
  }
  /* not binary64 values, or not hex floats: left to the exact parser */
  const char *no[] = {"1/3",
                      "3",
                      "0x1p-1075",
                      "0x1.00000000000001p0",
                      "0x1p1024",
                      "0x1.fffffffffffff8p1023",
                      "inf",
                      "nan",
                      "0x",
                      "0xp1",
                      "0x1p",
                      "0x1.8.8p0",
                      "--0x1p0",
                      "0x1p-1075x",
                      "0x1p+100001",
                      "0x11111111111111111p0",
                      "",
                      "0x1 "};
  for (size_t k = 0; k < sizeof no / sizeof *no; k++) {
    double v;
    cr_assert_neq(fast_parse(no[k], 0, &v), 0, "\"%s\" accepted", no[k]);
  }
  double v;
  cr_assert_eq(fast_parse("-inf", 1, &v), 0);
  cr_assert(v == -INFINITY);
  cr_assert_eq(fast_parse("+inf", 1, &v), 0);
  cr_assert(v == INFINITY);
}

/* ---- hand-made certificates ---------------------------------------------------------------------- */
/* graph: x (1, 2) -> y = linear(x; W (2 x 2), b) */
static const char *graph_fmt =
    "{\"nodes\": ["
    "{\"id\": 0, \"op\": \"param\", \"parents\": [], \"shape\": [2, 2], \"data\": [\"%s\", \"%s\", \"%s\", "
    "\"%s\"]},"
    "{\"id\": 1, \"op\": \"param\", \"parents\": [], \"shape\": [2], \"data\": [\"%s\", \"%s\"]},"
    "{\"id\": 2, \"op\": \"input\", \"parents\": [], \"shape\": [1, 2]},"
    "{\"id\": 3, \"op\": \"linear\", \"parents\": [2, 0, 1], \"shape\": [1, 2]}],"
    " \"input\": 2, \"output\": 3, \"inputs\": [2], \"outputs\": [3]}";
static const char *sample_fmt =
    "{\"region\": {\"kind\": \"box\", \"lo\": [\"%s\", \"%s\"], \"hi\": [\"%s\", \"%s\"]},"
    " \"property\": {\"dnf\": \"safe\", \"nout\": 2, \"clauses\": [[{\"c\": [\"0x1p+0\", \"-0x1p+0\"], "
    "\"d\": \"0x0p+0\","
    " \"strict\": true}]]},"
    " \"boxes\": [{\"node\": 2, \"lo\": [\"%s\", \"%s\"], \"hi\": [\"%s\", \"%s\"]},"
    " {\"node\": 3, \"lo\": [\"%s\", \"%s\"], \"hi\": [\"%s\", \"%s\"]}],"
    " \"row_lower\": [\"-inf\"], \"verdict\": \"unknown\"}";

typedef struct {
  const char *w[4], *b[2], *xlo[2], *xhi[2], *ylo[2], *yhi[2];
} spec;

/* fast path and exact checker on one sample; *fast_ok = fast_sample's answer, returns the exact code */
static int check_both(const spec *s, int f32, int *fast_ok) {
  char gtxt[2048], stxt[4096];
  snprintf(gtxt, sizeof gtxt, graph_fmt, s->w[0], s->w[1], s->w[2], s->w[3], s->b[0], s->b[1]);
  snprintf(stxt, sizeof stxt, sample_fmt, s->xlo[0], s->xlo[1], s->xhi[0], s->xhi[1], s->xlo[0], s->xlo[1],
           s->xhi[0], s->xhi[1], s->ylo[0], s->ylo[1], s->yhi[0], s->yhi[1]);
  cJSON *gj = cJSON_Parse(gtxt), *sj = cJSON_Parse(stxt);
  cr_assert(gj && sj);
  ctx c = {OK, ""};
  cgraph g;
  cr_assert_eq(read_graph(&c, gj, &g), OK, "%s", c.msg);
  fast *F = fast_new(&g);
  cr_assert(F);
  int modes[3] = {FE_TONEAREST, FE_DOWNWARD, FE_TOWARDZERO};
  int fr = -1;
  for (int k = 0; k < 3; k++) { /* the same answer whatever the caller's mode, which is restored */
    cr_assert_eq(fesetround(modes[k]), 0);
    int r = fast_sample(F, sj, f32, 0);
    cr_assert_eq(fegetround(), modes[k], "fast_sample did not restore the rounding mode");
    cr_assert(fr < 0 || r == fr);
    fr = r;
  }
  fesetround(FE_TONEAREST);
  *fast_ok = fr;
  ctx e = {OK, ""};
  cr_assert_eq(graph_exact(&e, &g), OK);
  int rc = check_sample(&e, &g, sj, f32, 0);
  if (rc != OK && getenv("TL_TEST_VERBOSE"))
    fprintf(stderr, "exact: %s\n", e.msg);
  fast_free(F);
  graph_free(&g);
  cJSON_Delete(gj), cJSON_Delete(sj);
  return rc;
}

/* y0 = x0 + 2^-60 x1 on x in [1, 1]^2 (b = 0): the exact value 1 + 2^-60 is not a binary64 number */
Test(check_fast, one_ulp_past_the_exact_bound) {
  spec s = {{"0x1p+0", "0x1p-60", "0x1p+0", "0x0p+0"},
            {"0x0p+0", "0x0p+0"},
            {"0x1p+0", "0x1p+0"},
            {"0x1p+0", "0x1p+0"},
            {"0x1p+0", "0x1p+0"},
            {"0x1.0000000000001p+0", "0x1p+0"}};
  int fo;
  /* hi = 1 + 2^-52 (the first double above the exact bound): true, accepted by the fast path */
  cr_expect_eq(check_both(&s, 0, &fo), OK);
  cr_expect_eq(fo, 1, "a true bound one rounding above the exact value was not proved by the fast path");
  /* hi = 1: below the exact 1 + 2^-60 by less than an ulp: false; the fast path must not accept */
  s.yhi[0] = "0x1p+0";
  cr_expect_eq(check_both(&s, 0, &fo), REJ);
  cr_expect_eq(fo, 0, "the fast path accepted an upper bound 2^-60 below the exact value");
  /* lo = 1 + 2^-52: above the exact lower end 1 + 2^-60: false */
  s.yhi[0] = "0x1.0000000000001p+0", s.ylo[0] = "0x1.0000000000001p+0";
  cr_expect_eq(check_both(&s, 0, &fo), REJ);
  cr_expect_eq(fo, 0);
  /* lo = 1: true */
  s.ylo[0] = "0x1p+0";
  cr_expect_eq(check_both(&s, 0, &fo), OK);
  cr_expect_eq(fo, 1);
}

/* bounds exactly equal to the exact value are accepted; one ulp inside are rejected */
Test(check_fast, exact_bounds) {
  /* y0 = 3 x0 - x1 + 0.5 on x0 in [0.25, 0.5], x1 in [-1, 2]: [0.75 - 2 + 0.5, 1.5 + 1 + 0.5] = [-0.75, 3]
   * y1 = -x0 + 0 on the same box: [-0.5, -0.25] */
  spec s = {{"0x1.8p+1", "-0x1p+0", "-0x1p+0", "0x0p+0"},
            {"0x1p-1", "0x0p+0"},
            {"0x1p-2", "-0x1p+0"},
            {"0x1p-1", "0x1p+1"},
            {"-0x1.8p-1", "-0x1p-1"},
            {"0x1.8p+1", "-0x1p-2"}};
  int fo;
  cr_expect_eq(check_both(&s, 0, &fo), OK);
  cr_expect_eq(fo, 1, "exact bounds not proved by the fast path");
  const char *inside[4][2] = {{"-0x1.7ffffffffffffp-1", "lo0"},
                              {"0x1.7ffffffffffffp+1", "hi0"},
                              {"-0x1.fffffffffffffp-2", "lo1"},
                              {"-0x1.0000000000001p-2", "hi1"}};
  for (int k = 0; k < 4; k++) {
    spec t = s;
    if (k == 0)
      t.ylo[0] = inside[k][0];
    else if (k == 1)
      t.yhi[0] = inside[k][0];
    else if (k == 2)
      t.ylo[1] = inside[k][0];
    else
      t.yhi[1] = inside[k][0];
    cr_expect_eq(check_both(&t, 0, &fo), REJ, "%s one ulp inside not rejected", inside[k][1]);
    cr_expect_eq(fo, 0, "%s one ulp inside accepted by the fast path", inside[k][1]);
  }
  /* f32-any: the same exact bounds are too tight (E > 0): rejected, never accepted fast */
  cr_expect_eq(check_both(&s, 1, &fo), REJ);
  cr_expect_eq(fo, 0);
}

/* subnormal products (2^-149 x 2^-1074 = 2^-1223, below every binary64) and huge ones (2^127 x 2^1000) */
Test(check_fast, subnormal_and_huge) {
  spec s = {{"0x1p-149", "0x0p+0", "0x0p+0", "0x0p+0"},
            {"0x0p+0", "0x0p+0"},
            {"0x1p-1074", "0x0p+0"},
            {"0x1p-1074", "0x0p+0"},
            {"0x0p+0", "0x0p+0"},
            {"0x1p-1074", "0x0p+0"}};
  int fo;
  /* y0 = 2^-1223: [0, 2^-1074] contains it */
  cr_expect_eq(check_both(&s, 0, &fo), OK);
  cr_expect_eq(fo, 1);
  /* hi = 0 is below 2^-1223: false, whatever binary64 flushes */
  s.yhi[0] = "0x0p+0";
  cr_expect_eq(check_both(&s, 0, &fo), REJ);
  cr_expect_eq(fo, 0, "the fast path accepted 0 >= 2^-1223");
  /* lo = 2^-1074 is above 2^-1223: false */
  s.yhi[0] = "0x1p-1074", s.ylo[0] = "0x1p-1074";
  cr_expect_eq(check_both(&s, 0, &fo), REJ);
  cr_expect_eq(fo, 0);
  /* huge: y0 = 2^127 x0 on x0 = 2^1000: 2^1127 is above DBL_MAX, only +inf contains it */
  spec h = {{"0x1p+127", "0x0p+0", "0x0p+0", "0x0p+0"},
            {"0x0p+0", "0x0p+0"},
            {"0x1p+1000", "0x0p+0"},
            {"0x1p+1000", "0x0p+0"},
            {"0x1.fffffffffffffp+1023", "0x0p+0"},
            {"0x1.fffffffffffffp+1023", "0x0p+0"}};
  cr_expect_eq(check_both(&h, 0, &fo), REJ);
  cr_expect_eq(fo, 0, "the fast path accepted DBL_MAX >= 2^1127");
  h.ylo[0] = "-inf", h.yhi[0] = "inf";
  cr_expect_eq(check_both(&h, 0, &fo), OK);
  /* f32-any: a finite box is impossible (binary32 overflows), for the whole node; [-inf, inf] is accepted */
  cr_expect_eq(check_both(&h, 1, &fo), REJ);
  cr_expect_eq(fo, 0);
  h.ylo[1] = "-inf", h.yhi[1] = "inf";
  cr_expect_eq(check_both(&h, 1, &fo), OK);
  h.ylo[0] = "-0x1.fffffffffffffp+1023", h.yhi[0] = "0x1.fffffffffffffp+1023";
  cr_expect_eq(check_both(&h, 1, &fo), REJ);
  cr_expect_eq(fo, 0);
}

/* numbers the fast path does not read ("p/q") leave the sample to the exact checker, which accepts */
Test(check_fast, inconclusive_but_exact_accepts) {
  spec s = {{"0x1.8p+1", "-0x1p+0", "-0x1p+0", "0x0p+0"},
            {"0x1p-1", "0x0p+0"},
            {"0x1p-2", "-0x1p+0"},
            {"0x1p-1", "0x1p+1"},
            {"-3/4", "-0x1p-1"},
            {"0x1.8p+1", "-1/4"}};
  int fo;
  cr_expect_eq(check_both(&s, 0, &fo), OK);
  cr_expect_eq(fo, 0);
  /* and a false p/q bound is rejected by the exact checker */
  s.yhi[0] = "29999999/10000000";
  cr_expect_eq(check_both(&s, 0, &fo), REJ);
  cr_expect_eq(fo, 0);
}
