/* test_op_faces.c - the matrix ops x faces: for every op of include/torchlean/ops.def, which module
 * has a rule for it (docs/architecture.md, "one op, one place").  Each face is asked through the
 * module's own query on its per-op table, so the matrix is what the code does, not what a list
 * says.  The test prints the matrix and fails on
 *  - a gap (an op without a rule in a face) that is not declared below as unsupported on purpose;
 *  - a declared gap that is no longer one (the declaration is stale: remove it);
 *  - a query that answers for an op outside ops.def.
 * Adding a face: one row of `faces` (a name and a query).  Adding an op: its row in ops.def, then
 * either a rule in every face or a row of `declared_gaps` that says why not. */
#include <criterion/criterion.h>
#include <fenv.h>
#include <gmp.h>
#include <stdio.h>
#include <string.h>

#include "ad/ad_rules.h"  /* runtime/: the JVP and HVP rule tables */
#include "exec/backend.h" /* runtime/: the CPU backend's forward and VJP tables */
#include "chk_ops.h"      /* certs/: the independent checker's own op list */
#include "torchlean/f32model.h"
#include "torchlean/floats.h"
#include "torchlean/graph.h"
#include "torchlean/spec.h"
#include "verify/vinternal.h" /* verify/: the rule table (tlv_rule_has) */

/* ---- the faces: one query per module table ------------------------------------------------- */
/* shape inference: the registry row's infer (runtime/ir/ops.c, from ops.def's `infer` column) */
static int face_infer(tl_op op) { return tl_op_get(op)->infer != NULL; }

/* forward: the CPU backend's forward kernel */
static int face_forward(tl_op op) { return tl_backend_cpu()->forward[op] != NULL; }

/* VJP: the CPU backend's backward kernel */
static int face_vjp(tl_op op) { return tl_backend_cpu()->backward[op] != NULL; }

/* JVP: a forward-mode tangent rule (runtime/ad/tangent.c, JVP_<op> rows) */
static int face_jvp(tl_op op) { return tl_ad_has_jvp(op); }

/* HVP: a second-order rule of forward-over-reverse (runtime/ad/second.c, HVP_<op> rows) */
static int face_hvp(tl_op op) { return tl_ad_has_hvp(op); }

/* spec: a real-semantics rule (spec/interp.c interp_rules and spec/spec.c real_rules) */
static int face_spec(tl_op op) { return tl_spec_supports(op); }

/* emulator: a bit-exact binary32 rule (floats/emu.c emu_rules over spec/'s interpreter) */
static int face_emu(tl_op op) { return tl_emu_supports(op); }

/* f32-any model: floats/any.c is a domain of spec/'s interpreter whose primitives widen the real
 * domain's (any_bin/any_un/any_dot over tl_real_bin/tl_real_un/tl_real_dot), so today it covers
 * exactly the ops the spec covers.  When the f32-any model gets its own per-op table, ask its
 * query here instead. */
static int face_any(tl_op op) { return tl_spec_supports(op); }

/* IBP: an interval rule (verify/rules/, the TLV_<op> row of verify/rules/table.c) */
static int face_ibp(tl_op op) { return tlv_rule_has(op, TLV_FACE_IBP); }

/* CROWN: a backward (linear relaxation) rule; ops without one are concretised on their box */
static int face_crown(tl_op op) { return tlv_rule_has(op, TLV_FACE_CROWN); }

/* exact evaluation: verify/'s exact (rational / fixed-point) evaluation of a point */
static int face_exact(tl_op op) { return tlv_rule_has(op, TLV_FACE_EXACT); }

/* checker: the independent checker's own op list (certs/chk_ops.def) names the op */
static int face_checker(tl_op op) { return chk_op_find(tl_op_get(op)->name) >= 0; }

typedef struct face {
  const char *name;
  int (*has)(tl_op op);
} face;

static const face faces[] = {
    {"infer", face_infer}, {"forward", face_forward}, {"vjp", face_vjp},     {"jvp", face_jvp},
    {"hvp", face_hvp},     {"spec", face_spec},       {"emu", face_emu},     {"f32-any", face_any},
    {"ibp", face_ibp},     {"crown", face_crown},     {"exact", face_exact}, {"checker", face_checker},
};
enum { NFACES = sizeof faces / sizeof faces[0] };

/* ---- gaps declared on purpose ---------------------------------------------------------------- */
typedef struct gap {
  tl_op op;
  const char *face;
  const char *why;
} gap;

static const gap declared_gaps[] = {
    {TL_OP_INPUT, "forward", "a leaf: the executor stores the caller's values"},
    {TL_OP_INPUT, "vjp", "a leaf: its cotangent is a result of the backward pass"},
    {TL_OP_PARAM, "forward", "a leaf: the executor reads the weight store"},
    {TL_OP_PARAM, "vjp", "a leaf: its cotangent is a result of the backward pass"},
    {TL_OP_INPUT, "jvp", "a leaf: its tangent is the caller's direction (or zero)"},
    {TL_OP_PARAM, "jvp", "a leaf: its tangent is the caller's direction (or zero)"},
    {TL_OP_INPUT, "hvp", "a leaf: the reverse pass ends there"},
    {TL_OP_PARAM, "hvp", "a leaf: the reverse pass ends there"},
    {TL_OP_INPUT, "crown", "a leaf: the backward pass ends there (concretised on the region)"},
    {TL_OP_PARAM, "crown", "a leaf: the backward pass ends there (weights are constants)"},
    {TL_OP_CLAMP, "crown", "no relaxation: CROWN concretises it on its IBP box (sound, loose)"},
#define NO_BOUNDS(OP, why)                                                                                   \
  {TL_OP_##OP, "ibp", why}, {TL_OP_##OP, "crown", why}, {TL_OP_##OP, "exact", why}, {                        \
    TL_OP_##OP, "checker", why                                                                               \
  }
#define NOT_YET "verify/ has no rule yet: a graph with it is refused naming the node"
#define LOSS "a training loss, never part of a verified inference graph"
    NO_BOUNDS(DIV, NOT_YET),
    NO_BOUNDS(MAX, NOT_YET),
    NO_BOUNDS(MIN, NOT_YET),
    NO_BOUNDS(ABS, NOT_YET),
    NO_BOUNDS(SQRT, NOT_YET),
    NO_BOUNDS(EXP, NOT_YET),
    NO_BOUNDS(LOG, NOT_YET),
    NO_BOUNDS(GELU, NOT_YET),
    NO_BOUNDS(SILU, NOT_YET),
    NO_BOUNDS(SOFTMAX, NOT_YET),
    NO_BOUNDS(LOG_SOFTMAX, NOT_YET),
    NO_BOUNDS(SUM, NOT_YET),
    NO_BOUNDS(MEAN, NOT_YET),
    NO_BOUNDS(PERMUTE, NOT_YET),
    NO_BOUNDS(CONCAT, NOT_YET),
    NO_BOUNDS(SLICE, NOT_YET),
    NO_BOUNDS(LAYER_NORM, NOT_YET),
    NO_BOUNDS(EMBEDDING, NOT_YET),
    NO_BOUNDS(ATTENTION, NOT_YET),
    NO_BOUNDS(MSE_LOSS, LOSS),
    NO_BOUNDS(CROSS_ENTROPY, LOSS),
#undef NO_BOUNDS
#undef NOT_YET
#undef LOSS
};
enum { NGAPS = sizeof declared_gaps / sizeof declared_gaps[0] };

static const gap *declared(tl_op op, const char *fname) {
  for (int i = 0; i < NGAPS; i++)
    if (declared_gaps[i].op == op && strcmp(declared_gaps[i].face, fname) == 0)
      return &declared_gaps[i];
  return NULL;
}

/* every declared gap names an op of ops.def and a face of the matrix */
Test(op_faces, declared_gaps_name_real_ops_and_faces) {
  for (int i = 0; i < NGAPS; i++) {
    const gap *g = &declared_gaps[i];
    cr_assert((int)g->op >= 0 && g->op < TL_OP_COUNT, "declared gap %d: op %d outside ops.def", i,
              (int)g->op);
    int known = 0;
    for (int f = 0; f < NFACES; f++)
      known |= strcmp(faces[f].name, g->face) == 0;
    cr_assert(known, "declared gap %d (%s): no face named %s", i, tl_op_get(g->op)->name, g->face);
    cr_assert(g->why && g->why[0], "declared gap %d: no reason given", i);
  }
}

/* the queries answer 0 outside ops.def (the tables have TL_OP_COUNT rows) */
Test(op_faces, queries_reject_ops_outside_the_manifest) {
  cr_assert_eq(tl_spec_supports(TL_OP_COUNT), 0);
  cr_assert_eq(tl_spec_supports((tl_op)-1), 0);
  cr_assert_eq(tl_emu_supports(TL_OP_COUNT), 0);
  cr_assert_eq(tl_emu_supports((tl_op)-1), 0);
  cr_assert_eq(tl_ad_has_jvp(TL_OP_COUNT), 0);
  cr_assert_eq(tl_ad_has_jvp((tl_op)-1), 0);
  cr_assert_eq(tl_ad_has_hvp(TL_OP_COUNT), 0);
  cr_assert_eq(tl_ad_has_hvp((tl_op)-1), 0);
  for (int f = TLV_FACE_IBP; f <= TLV_FACE_EXACT; f++) {
    cr_assert_eq(tlv_rule_has(TL_OP_COUNT, f), 0);
    cr_assert_eq(tlv_rule_has((tl_op)-1, f), 0);
  }
}

/* print the matrix (x: a rule, -: declared unsupported, !: undeclared gap, ~: stale declaration)
 * and fail on any ! or ~ */
Test(op_faces, every_gap_is_declared) {
  char line[256];
  int off = snprintf(line, sizeof line, "%-16s", "op");
  for (int f = 0; f < NFACES; f++)
    off += snprintf(line + off, sizeof line - (size_t)off, " %-8s", faces[f].name);
  printf("%s\n", line);
  int bad = 0;
  char first[160] = "";
  for (int op = 0; op < TL_OP_COUNT; op++) {
    off = snprintf(line, sizeof line, "%-16s", tl_op_get((tl_op)op)->name);
    for (int f = 0; f < NFACES; f++) {
      int has = faces[f].has((tl_op)op);
      const gap *dg = declared((tl_op)op, faces[f].name);
      const char *mark = has ? (dg ? "~" : "x") : (dg ? "-" : "!");
      if ((has && dg) || (!has && !dg)) {
        if (!bad++)
          snprintf(first, sizeof first, "%s / %s: %s", tl_op_get((tl_op)op)->name, faces[f].name,
                   has ? "declared unsupported but has a rule (stale declaration)"
                       : "no rule and not declared");
      }
      off += snprintf(line + off, sizeof line - (size_t)off, " %-8s", mark);
    }
    printf("%s\n", line);
  }
  printf("declared gaps:\n");
  for (int i = 0; i < NGAPS; i++)
    printf("  %s / %s: %s\n", tl_op_get(declared_gaps[i].op)->name, declared_gaps[i].face,
           declared_gaps[i].why);
  fflush(stdout);
  cr_assert_eq(bad, 0, "%d cell(s) of the ops x faces matrix are wrong, first: %s", bad, first);
}

/* ---- the checker's deliberate copy equals the library ------------------------------------------ */
/* the checker's error-model kind that corresponds to the library's */
static int kind_of_chk(chk_err e) {
  switch (e) {
  case CHK_ERR_NONE: return TL_F32_EXACT;
  case CHK_ERR_ELEM: return TL_F32_ELEM;
  case CHK_ERR_AFFINE: return TL_F32_DOT;
  case CHK_ERR_BN: return TL_F32_BN;
  }
  return -1;
}

/* every checker op is a library op with the same arity and the same f32-any model {kind, rel, eabs};
 * every library op with an f32-any model in verify/ is one the checker knows */
Test(op_faces, checker_op_list_equals_the_library) {
  for (int c = 0; c < OP_N; c++) {
    const chk_op_row *r = chk_op_info(c);
    cr_assert(r && r->name, "checker op %d has no row", c);
    int op = tl_op_from_name(r->name);
    cr_assert(op >= 0, "checker op %s is not in ops.def", r->name);
    const tl_op_info *li = tl_op_get((tl_op)op);
    cr_assert(r->np_min == li->min_parents && r->np_max == li->max_parents,
              "%s: checker arity %d..%d, library %d..%d", r->name, r->np_min, r->np_max, li->min_parents,
              li->max_parents);
    const tl_f32_err *m = tl_f32_model((tl_op)op);
    cr_assert_eq(kind_of_chk(r->err), (int)m->kind, "%s: checker error model kind differs", r->name);
    if (m->kind == TL_F32_ELEM || m->kind == TL_F32_BN)
      cr_assert(r->rel == m->rel && r->eabs == m->eabs, "%s: checker rel %a eabs %a, library %a %a", r->name,
                r->rel, r->eabs, m->rel, m->eabs);
  }
  for (int op = 0; op < TL_OP_COUNT; op++)
    if (tl_f32_model((tl_op)op)->kind != TL_F32_NONE)
      cr_assert(chk_op_find(tl_op_get((tl_op)op)->name) >= 0, "%s has an f32-any model but no checker row",
                tl_op_get((tl_op)op)->name);
  cr_assert(CHK_U == TL_F32_U && CHK_ETA == TL_F32_ETA);
}

/* gamma_k: the checker's exact rational equals the library's exact fraction, and both upward binary64
 * values are upper bounds of it (the checker's computed under FE_UPWARD, as its fast path does) */
Test(op_faces, checker_gamma_equals_the_library) {
  static const int64_t ks[] = {0, 1, 2, 3, 10, 785, 1025, 4097, 65536, 1 << 19, (1 << 20) - 1};
  mpq_t c, l;
  mpq_init(c), mpq_init(l);
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
    double num, den;
    tl_f32_gamma_frac(ks[i], &num, &den);
    mpq_set_d(l, num);
    mpq_t d;
    mpq_init(d);
    mpq_set_d(d, den);
    mpq_div(l, l, d);
    mpq_clear(d);
    chk_gamma_q(c, ks[i]);
    cr_assert(mpq_equal(c, l), "gamma_%lld: checker and library differ", (long long)ks[i]);
    double lib = tl_f32_gamma_up(ks[i]);
    int mode = fegetround();
    fesetround(FE_UPWARD);
    volatile double chk = chk_gamma_up(ks[i]);
    fesetround(mode);
    mpq_set_d(l, lib);
    cr_assert(mpq_cmp(l, c) >= 0, "gamma_%lld: the library's upward value is below the exact one",
              (long long)ks[i]);
    mpq_set_d(l, chk);
    cr_assert(mpq_cmp(l, c) >= 0, "gamma_%lld: the checker's upward value is below the exact one",
              (long long)ks[i]);
  }
  mpq_clear(c), mpq_clear(l);
}
