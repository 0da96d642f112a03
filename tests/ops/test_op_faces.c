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
#include <stdio.h>
#include <string.h>

#include "ad/ad_rules.h"     /* runtime/: the JVP and HVP rule tables */
#include "exec/backend.h" /* runtime/: the CPU backend's forward and VJP tables */
#include "torchlean/floats.h"
#include "torchlean/graph.h"
#include "torchlean/spec.h"
#include "verify/vinternal.h" /* verify/: the rule table (tlv_rule_has) */

/* ---- the faces: one query per module table ------------------------------------------------- */
/* shape inference: the registry row's infer (runtime/ops.c, from ops.def's `infer` column) */
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

typedef struct face {
  const char *name;
  int (*has)(tl_op op);
} face;

static const face faces[] = {
    {"infer", face_infer},
    {"forward", face_forward},
    {"vjp", face_vjp},
    {"jvp", face_jvp},
    {"hvp", face_hvp},
    {"spec", face_spec},
    {"emu", face_emu},
    {"f32-any", face_any},
    {"ibp", face_ibp},
    {"crown", face_crown},
    {"exact", face_exact},
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
#define NO_BOUNDS(OP, why) {TL_OP_##OP, "ibp", why}, {TL_OP_##OP, "crown", why}, {TL_OP_##OP, "exact", why}
#define NOT_YET "verify/ has no rule yet: a graph with it is refused naming the node"
#define LOSS "a training loss, never part of a verified inference graph"
    NO_BOUNDS(DIV, NOT_YET),         NO_BOUNDS(MAX, NOT_YET),        NO_BOUNDS(MIN, NOT_YET),
    NO_BOUNDS(ABS, NOT_YET),         NO_BOUNDS(SQRT, NOT_YET),       NO_BOUNDS(EXP, NOT_YET),
    NO_BOUNDS(LOG, NOT_YET),         NO_BOUNDS(GELU, NOT_YET),       NO_BOUNDS(SILU, NOT_YET),
    NO_BOUNDS(SOFTMAX, NOT_YET),     NO_BOUNDS(LOG_SOFTMAX, NOT_YET), NO_BOUNDS(SUM, NOT_YET),
    NO_BOUNDS(MEAN, NOT_YET),        NO_BOUNDS(PERMUTE, NOT_YET),    NO_BOUNDS(CONCAT, NOT_YET),
    NO_BOUNDS(SLICE, NOT_YET),       NO_BOUNDS(LAYER_NORM, NOT_YET), NO_BOUNDS(EMBEDDING, NOT_YET),
    NO_BOUNDS(ATTENTION, NOT_YET),   NO_BOUNDS(MSE_LOSS, LOSS),      NO_BOUNDS(CROSS_ENTROPY, LOSS),
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
