/* oracle_point.c - the claims at one float32 input point, by the library's independent evaluators:
 *   real:    the MPFR spec interpreter (256 bits, every node) and tl_exact_eval (GMP, the output);
 *   f32-any: the binary32 emulator (reference order, every node), the float32 forward pass of
 *            tests/support in three summation orders (sequential, reversed, pairwise) and the
 *            float32 runtime (tl_exec) where asked; each is one binary32 evaluation of the graph.
 * Every node box must contain the node's value, every row bound must be below the row's value, every
 * pre-activation box must contain the pre-activation, and a verified property must hold. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_oracle.h"
#include "torchlean/floats.h"
#include "torchlean/spec.h"
#include "torchlean/verify.h"
#include "vnets.h"

#define NSETS 6 /* output evaluations at one point at most */

/* the evaluations at one point: per-node enclosures (lo, hi) and up to NSETS output enclosures */
typedef struct pt {
  int nn;
  double **lo, **hi;
  int nset;
  double *ylo[NSETS], *yhi[NSETS];
  const char *name[NSETS];
} pt;

static void pt_free(pt *p) {
  for (int i = 0; i < p->nn && p->lo; i++)
    free(p->lo[i]), free(p->hi[i]);
  free(p->lo), free(p->hi);
  for (int k = 0; k < p->nset; k++)
    free(p->ylo[k]), free(p->yhi[k]);
}

static void pt_alloc(pt *p, const tl_graph *g) {
  memset(p, 0, sizeof *p);
  p->nn = g->nnodes;
  p->lo = calloc((size_t)g->nnodes, sizeof *p->lo), p->hi = calloc((size_t)g->nnodes, sizeof *p->hi);
  for (int i = 0; i < g->nnodes; i++) {
    p->lo[i] = malloc((size_t)(g->nodes[i].numel + 1) * sizeof(double));
    p->hi[i] = malloc((size_t)(g->nodes[i].numel + 1) * sizeof(double));
  }
}

/* a new output set named nm (nout doubles each) */
static int pt_set(pt *p, int64_t nout, const char *nm) {
  int k = p->nset++;
  p->ylo[k] = malloc((size_t)nout * sizeof(double)), p->yhi[k] = malloc((size_t)nout * sizeof(double));
  p->name[k] = nm;
  return k;
}

/* real: spec at 256 bits on every node, and tl_exact_eval on the output; 0 or -1 */
static int eval_real(const tl_graph *g, const float *x, pt *p) {
  tl_spec_ctx c;
  tl_spec_ctx_init(&c);
  c.prec = 256;
  tl_spec_result *r = NULL;
  const float *in[1] = {x};
  if (tl_spec_eval_f32(&c, g, in, NULL, &r, NULL) != TL_OK)
    return -1;
  for (int i = 0; i < g->nnodes; i++)
    for (int64_t e = 0; e < g->nodes[i].numel; e++)
      tl_spec_get_d(r, i, e, &p->lo[i][e], &p->hi[i][e]);
  tl_spec_result_free(r);
  int out = g->outputs[0];
  int64_t n = g->nodes[out].numel;
  int k = pt_set(p, n, "spec (MPFR 256 bits)");
  memcpy(p->ylo[k], p->lo[out], (size_t)n * sizeof(double));
  memcpy(p->yhi[k], p->hi[out], (size_t)n * sizeof(double));
  k = pt_set(p, n, "tl_exact_eval (GMP)");
  return tl_exact_eval(g, x, p->ylo[k], p->yhi[k], NULL) == TL_OK ? 0 : -1;
}

/* real at a binary64 point (a counterexample off the float32 grid): the spec alone; 0 or -1 */
static int eval_real_d(const tl_graph *g, const double *x, pt *p) {
  tl_spec_ctx c;
  tl_spec_ctx_init(&c);
  c.prec = 512;
  tl_spec_result *r = NULL;
  const double *in[1] = {x};
  if (tl_spec_eval(&c, g, in, NULL, &r, NULL) != TL_OK)
    return -1;
  int out = g->outputs[0];
  int64_t n = g->nodes[out].numel;
  int k = pt_set(p, n, "spec (MPFR 512 bits, binary64 input)");
  for (int64_t e = 0; e < n; e++)
    tl_spec_get_d(r, out, e, &p->ylo[k][e], &p->yhi[k][e]);
  tl_spec_result_free(r);
  return 0;
}

/* the counterexample as binary64 values; 1 when each is exactly a double */
static int cex_doubles(const cmo_vec *v, double *x) {
  mpq_t t;
  mpq_init(t);
  int ok = 1;
  for (int64_t i = 0; i < v->n && ok; i++) {
    x[i] = mpq_get_d(v->q[i]);
    mpq_set_d(t, isfinite(x[i]) ? x[i] : 0.0);
    ok = isfinite(x[i]) && mpq_equal(t, v->q[i]);
  }
  mpq_clear(t);
  return ok;
}

/* a float32 output y as an output set */
static void set_floats(pt *p, const float *y, int64_t n, const char *nm) {
  int k = pt_set(p, n, nm);
  for (int64_t j = 0; j < n; j++)
    p->ylo[k][j] = p->yhi[k][j] = y[j];
}

/* f32-any: the emulator on every node, three summation orders, the runtime; 0 or -1 */
static int eval_f32(const tl_graph *g, const float *x, int runtime, pt *p) {
  tl_f32_values *v = NULL;
  const float *in[1] = {x};
  if (tl_f32_emulate(g, in, &v, NULL) != TL_OK)
    return -1;
  for (int i = 0; i < g->nnodes; i++)
    for (int64_t e = 0; e < g->nodes[i].numel; e++)
      p->lo[i][e] = p->hi[i][e] = v->v[i][e];
  int out = g->outputs[0];
  int64_t n = g->nodes[out].numel;
  set_floats(p, v->v[out], n, "binary32 emulator");
  tl_f32_values_free(v);
  static const char *const ord[VORD_COUNT] = {"float32 sequential sums", "float32 reversed sums",
                                              "float32 pairwise sums"};
  float *y = malloc((size_t)n * sizeof *y);
  for (int o = 0; o < VORD_COUNT; o++)
    if (vnet_f32_forward(g, x, (vnet_order)o, y) == 0)
      set_floats(p, y, n, ord[o]);
  if (runtime && tl_verify_confirm_f32_runtime(g, x, y, NULL) == TL_OK)
    set_floats(p, y, n, "float32 runtime (tl_exec)");
  free(y);
  return 0;
}

/* every box entry contains its node's value */
static int check_boxes(const cmo_claim *c, const pt *p, char *why, size_t nwhy) {
  for (int b = 0; b < c->nbox; b++) {
    int nd = c->bnode[b];
    for (int64_t e = 0; e < c->blo[b].n; e++)
      if (cmo_outside(p->lo[nd][e], p->hi[nd][e], c->blo[b].q[e], c->blo[b].f[e], c->bhi[b].q[e],
                      c->bhi[b].f[e]))
        return snprintf(why, nwhy, "node %d index %lld: value [%a, %a] outside the claimed box", nd,
                        (long long)e, p->lo[nd][e], p->hi[nd][e]),
               OR_FALSE;
  }
  return OR_CONFIRMED;
}

/* row bounds below every output set's row value; a verified property holds on every set */
static int check_outputs(const cmo_claim *c, const pt *p, int verified, char *why, size_t nwhy) {
  for (int s = 0; s < p->nset; s++) {
    for (int k = 0; k < c->prop.nrows; k++)
      if (cmo_row_beaten(&c->prop, k, p->ylo[s], p->yhi[s], c->rowlo.q[k], c->rowlo.f[k]))
        return snprintf(why, nwhy, "row %d: the %s output beats the claimed row_lower", k, p->name[s]),
               OR_FALSE;
    if (verified && cmo_prop_eval(&c->prop, p->ylo[s], p->yhi[s]) > 0)
      return snprintf(why, nwhy, "verified, but the %s output violates the property", p->name[s]), OR_FALSE;
  }
  return OR_CONFIRMED;
}

/* pre-activation boxes: node act's parent's value inside [pre_lo, pre_hi] */
static int check_pre(const tl_graph *g, const cmo_claim *c, const pt *p, char *why, size_t nwhy) {
  for (int k = 0; k < c->nact; k++) {
    int pa = g->nodes[c->act[k].node].parents[0];
    const cmo_vec *L = &c->act[k].v[0], *H = &c->act[k].v[1];
    for (int64_t e = 0; e < L->n && e < g->nodes[pa].numel; e++)
      if (cmo_outside(p->lo[pa][e], p->hi[pa][e], L->q[e], L->f[e], H->q[e], H->f[e]))
        return snprintf(
                   why, nwhy,
                   "crown entry %d (node %d) index %lld: pre-activation [%a, %a] outside [pre_lo, pre_hi]", k,
                   c->act[k].node, (long long)e, p->lo[pa][e], p->hi[pa][e]),
               OR_FALSE;
  }
  return OR_CONFIRMED;
}

int cmo_point(const tl_graph *g, const cmo_claim *c, int verified, const float *x, int runtime, char *why,
              size_t nwhy) {
  pt p;
  pt_alloc(&p, g);
  int rc = c->f32 ? eval_f32(g, x, runtime, &p) : eval_real(g, x, &p);
  int r = OR_UNDECIDED;
  if (rc == 0) {
    r = check_boxes(c, &p, why, nwhy);
    if (r == OR_CONFIRMED)
      r = check_pre(g, c, &p, why, nwhy);
    if (r == OR_CONFIRMED)
      r = check_outputs(c, &p, verified, why, nwhy);
  } else
    snprintf(why, nwhy, "an evaluator failed at a point");
  pt_free(&p);
  return r;
}

/* the counterexample as float32 values (*x, n); 1 when every element is exactly a finite float */
int cmo_cex_floats(const cmo_vec *v, float *x) {
  mpq_t t;
  mpq_init(t);
  int ok = 1;
  for (int64_t i = 0; i < v->n && ok; i++) {
    x[i] = (float)mpq_get_d(v->q[i]);
    mpq_set_d(t, isfinite(x[i]) ? x[i] : 0.0);
    ok = isfinite(x[i]) && mpq_equal(t, v->q[i]);
  }
  mpq_clear(t);
  return ok;
}

/* the counterexample inside the exact region */
int cmo_cex_in_region(const cmo_claim *c) {
  for (int64_t i = 0; i < c->reg.n; i++)
    if (mpq_cmp(c->cex.q[i], c->reg.lo[i]) < 0 || mpq_cmp(c->cex.q[i], c->reg.hi[i]) > 0)
      return 0;
  return 1;
}

int cmo_cex(const tl_graph *g, const cmo_claim *c, char *why, size_t nwhy) {
  if (!c->has_cex)
    return snprintf(why, nwhy, "falsified without a counterexample"), OR_FALSE;
  if (!cmo_cex_in_region(c))
    return snprintf(why, nwhy, "the counterexample lies outside the exact region"), OR_FALSE;
  float *x = malloc((size_t)(c->reg.n + 1) * sizeof *x);
  double *xd = malloc((size_t)(c->reg.n + 1) * sizeof *xd);
  int isf = cmo_cex_floats(&c->cex, x), isd = !isf && cex_doubles(&c->cex, xd), r = OR_UNDECIDED;
  if (!isf && (c->f32 || !isd)) {
    free(x), free(xd);
    if (c->f32)
      return snprintf(why, nwhy, "f32-any counterexample that is not finite binary32"), OR_FALSE;
    return snprintf(why, nwhy, "real counterexample that is not a binary64 value: not evaluated"),
           OR_UNDECIDED;
  }
  pt p;
  pt_alloc(&p, g);
  int rc = c->f32 ? eval_f32(g, x, 1, &p) : isf ? eval_real(g, x, &p) : eval_real_d(g, xd, &p);
  int all_violate = rc == 0 && p.nset > 0;
  for (int s = 0; rc == 0 && s < p.nset; s++) {
    int e = cmo_prop_eval(&c->prop, p.ylo[s], p.yhi[s]);
    if (e < 0) {
      snprintf(why, nwhy, "falsified, but the %s output at the counterexample satisfies the property",
               p.name[s]);
      r = OR_FALSE;
      break;
    }
    all_violate &= e > 0;
  }
  if (r != OR_FALSE && all_violate)
    r = OR_CONFIRMED;
  else if (r != OR_FALSE)
    snprintf(why, nwhy, "the counterexample's violation is too close to call");
  pt_free(&p);
  free(x), free(xd);
  return r;
}
