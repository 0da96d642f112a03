/* verify.c - regions, properties, verdicts, counterexample search and dataset mode. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "torchlean/exec.h"
#include "torchlean/rand.h"
#include "vinternal.h"

const char *tl_semantics_name(tl_semantics s) { return s == TL_SEM_F32_ANY ? "f32-any" : "real"; }
const char *tl_method_name(tl_method m) {
  return m == TL_METHOD_CROWN ? "crown" : m == TL_METHOD_ALPHA_CROWN ? "alpha-crown" : "ibp";
}
const char *tl_verdict_name(tl_verdict v) {
  return v == TL_VERDICT_VERIFIED ? "verified" : v == TL_VERDICT_FALSIFIED ? "falsified" : "unknown";
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- regions ------------------------------------------------------------------------------- */
void tl_region_free(tl_region *r) {
  if (!r)
    return;
  free(r->lo), free(r->hi), free(r->center);
  free(r);
}

static tl_region *region_alloc(int64_t n) {
  tl_region *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->n = n;
  r->lo = malloc((size_t)(n ? n : 1) * sizeof *r->lo);
  r->hi = malloc((size_t)(n ? n : 1) * sizeof *r->hi);
  if (!r->lo || !r->hi) {
    tl_region_free(r);
    return NULL;
  }
  return r;
}

tl_code tl_region_linf(tl_region **out, const float *center, int64_t n, double eps, int clamp, double dom_lo,
                       double dom_hi, tl_status *st) {
  *out = NULL;
  if (!(eps >= 0) || !isfinite(eps) || n < 0 || (clamp && !(dom_lo <= dom_hi)))
    return tl_fail(st, TL_EARG, "verify: bad L_inf region (eps %g, domain [%g, %g])", eps, dom_lo, dom_hi);
  tl_region *r = region_alloc(n);
  if (!r || !(r->center = malloc((size_t)(n ? n : 1) * sizeof *r->center))) {
    tl_region_free(r);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  }
  r->kind = TL_REGION_LINF, r->eps = eps, r->clamp = clamp, r->dom_lo = dom_lo, r->dom_hi = dom_hi;
  memcpy(r->center, center, (size_t)n * sizeof *center);
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(center[i])) {
      tl_region_free(r);
      return tl_fail(st, TL_EARG, "verify: region center element %lld is not finite", (long long)i);
    }
  int old = fegetround(); /* one pass per rounding direction (fesetround is slow) */
  rnd_down();
  for (int64_t i = 0; i < n; i++)
    r->lo[i] = (double)center[i] - eps;
  rnd_up();
  for (int64_t i = 0; i < n; i++)
    r->hi[i] = (double)center[i] + eps;
  fesetround(old);
  for (int64_t i = 0; clamp && i < n; i++) {
    r->lo[i] = fmin(fmax(r->lo[i], dom_lo), dom_hi);
    r->hi[i] = fmax(fmin(r->hi[i], dom_hi), dom_lo);
  }
  *out = r;
  return TL_OK;
}

tl_code tl_region_box(tl_region **out, const double *lo, const double *hi, int64_t n, tl_status *st) {
  *out = NULL;
  for (int64_t i = 0; i < n; i++)
    if (!(lo[i] <= hi[i]) || !isfinite(lo[i]) || !isfinite(hi[i]))
      return tl_fail(st, TL_EARG, "verify: box element %lld: [%g, %g] is not a finite interval", (long long)i,
                     lo[i], hi[i]);
  tl_region *r = region_alloc(n);
  if (!r)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  r->kind = TL_REGION_BOX;
  memcpy(r->lo, lo, (size_t)n * sizeof *lo);
  memcpy(r->hi, hi, (size_t)n * sizeof *hi);
  *out = r;
  return TL_OK;
}

/* ---- properties ------------------------------------------------------------------------------ */
void tl_property_free(tl_property *p) {
  if (!p)
    return;
  free(p->c), free(p->d), free(p->strict), free(p->clause_start);
  free(p);
}

static tl_property *prop_alloc(int64_t nout, int nrows, int nclauses) {
  tl_property *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->nout = nout, p->nrows = nrows, p->nclauses = nclauses, p->label = -1;
  p->c = calloc((size_t)(nrows ? nrows : 1) * (size_t)(nout ? nout : 1), sizeof *p->c);
  p->d = calloc((size_t)(nrows ? nrows : 1), sizeof *p->d);
  p->strict = calloc((size_t)(nrows ? nrows : 1), 1);
  p->clause_start = calloc((size_t)nclauses + 1, sizeof *p->clause_start);
  if (!p->c || !p->d || !p->strict || !p->clause_start) {
    tl_property_free(p);
    return NULL;
  }
  return p;
}

tl_code tl_property_robust(tl_property **out, int64_t nout, int label, tl_status *st) {
  *out = NULL;
  if (nout < 2 || label < 0 || label >= nout)
    return tl_fail(st, TL_EARG, "verify: label %d out of range for %lld outputs", label, (long long)nout);
  tl_property *p = prop_alloc(nout, (int)nout - 1, 1);
  if (!p)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  int r = 0;
  for (int64_t j = 0; j < nout; j++) {
    if (j == label)
      continue;
    p->c[(size_t)r * nout + j] = 1, p->c[(size_t)r * nout + label] = -1;
    p->d[r] = 0, p->strict[r] = 1;
    r++;
  }
  p->clause_start[0] = 0, p->clause_start[1] = r;
  p->label = label;
  *out = p;
  return TL_OK;
}

tl_code tl_property_new(tl_property **out, int64_t nout, int nrows, const double *c, const double *d,
                        const unsigned char *strict, int nclauses, const int *clause_start, int unsafe,
                        tl_status *st) {
  *out = NULL;
  if (nout < 1 || nrows < 1 || nclauses < 1 || clause_start[0] != 0 || clause_start[nclauses] != nrows)
    return tl_fail(st, TL_EARG, "verify: malformed property (%d rows, %d clauses)", nrows, nclauses);
  for (int k = 0; k < nclauses; k++)
    if (clause_start[k + 1] <= clause_start[k])
      return tl_fail(st, TL_EARG, "verify: property clause %d is empty", k);
  for (size_t i = 0; i < (size_t)nrows * (size_t)nout; i++)
    if (!isfinite(c[i]))
      return tl_fail(st, TL_EARG, "verify: property coefficient %zu not finite", i);
  for (int i = 0; i < nrows; i++)
    if (!isfinite(d[i]))
      return tl_fail(st, TL_EARG, "verify: property bound %d not finite", i);
  tl_property *p = prop_alloc(nout, nrows, nclauses);
  if (!p)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  memcpy(p->c, c, (size_t)nrows * (size_t)nout * sizeof *c);
  memcpy(p->d, d, (size_t)nrows * sizeof *d);
  for (int i = 0; i < nrows; i++)
    p->strict[i] = strict ? (strict[i] != 0) : 0;
  memcpy(p->clause_start, clause_start, ((size_t)nclauses + 1) * sizeof *clause_start);
  p->unsafe = unsafe != 0;
  *out = p;
  return TL_OK;
}

void tl_objective_rows(const tl_property *p, double *a) {
  for (int r = 0; r < p->nrows; r++)
    for (int64_t j = 0; j < p->nout; j++) {
      double c = p->c[(size_t)r * p->nout + j];
      a[(size_t)r * p->nout + j] = p->unsafe ? c : -c;
    }
}

/* does row r certainly hold (safe form) / certainly fail (unsafe form), given L = lower(a.y)? */
static int row_ok(const tl_property *p, int r, double L) {
  if (!p->unsafe)
    return p->strict[r] ? L > -p->d[r] : L >= -p->d[r];
  return p->strict[r] ? L >= p->d[r] : L > p->d[r];
}

int tl_property_decide(const tl_property *p, const double *L) {
  for (int k = 0; k < p->nclauses; k++) {
    int all = 1, any = 0;
    for (int r = p->clause_start[k]; r < p->clause_start[k + 1]; r++) {
      int ok = row_ok(p, r, L[r]);
      all &= ok, any |= ok;
    }
    if (!p->unsafe && all)
      return 1; /* a safe clause holds everywhere */
    if (p->unsafe && !any)
      return 0; /* an unsafe clause may be satisfiable */
  }
  return p->unsafe ? 1 : 0;
}

int tl_property_violated_exact(const tl_property *p, const double *ylo, const double *yhi) {
  int old = fegetround();
  int viol = p->unsafe ? 0 : 1;
  for (int k = 0; k < p->nclauses; k++) {
    int clause_true = 1, clause_may = 1; /* certainly all rows hold / some row may hold */
    for (int r = p->clause_start[k]; r < p->clause_start[k + 1]; r++) {
      const double *c = p->c + (size_t)r * p->nout;
      rnd_down();
      double lo = 0;
      for (int64_t j = 0; j < p->nout; j++)
        lo += c[j] >= 0 ? c[j] * ylo[j] : c[j] * yhi[j];
      TLV_OPAQUE(lo); /* summed down, before the switch */
      rnd_up();
      double hi = 0;
      for (int64_t j = 0; j < p->nout; j++)
        hi += c[j] >= 0 ? c[j] * yhi[j] : c[j] * ylo[j];
      int surely = p->strict[r] ? hi < p->d[r] : hi <= p->d[r];
      int surely_not = p->strict[r] ? lo >= p->d[r] : lo > p->d[r];
      clause_true &= surely;
      if (surely_not)
        clause_may = 0;
    }
    if (!p->unsafe && clause_may)
      viol = 0; /* this safe clause might hold */
    if (p->unsafe && clause_true)
      viol = 1; /* an unsafe clause certainly holds */
  }
  fesetround(old);
  return viol;
}

tl_code tl_clean_correct_plan(const tl_verify_plan *pl, const float *x, int label, int *correct,
                              tl_status *st) {
  const tl_graph *g = pl->g;
  *correct = 0;
  if (g->ninputs != 1)
    return tl_fail(st, TL_EARG, "verify: the graph must have one input");
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  int64_t n = g->nodes[g->inputs[0]].numel, nout = g->nodes[out].numel;
  if (label < 0 || label >= nout)
    return tl_fail(st, TL_EARG, "verify: label %d out of range for %lld outputs", label, (long long)nout);
  double *lo = malloc((size_t)(n ? n : 1) * sizeof *lo);
  double *ylo = malloc((size_t)nout * sizeof *ylo), *yhi = malloc((size_t)nout * sizeof *yhi);
  tl_code rc = lo && ylo && yhi ? TL_OK : tl_fail(st, TL_ENOMEM, "verify: out of memory");
  int decided = 0, finite = 1;
  for (int64_t i = 0; rc == TL_OK && i < n; i++)
    lo[i] = x[i], finite &= isfinite(x[i]) != 0;
  if (rc == TL_OK && finite) {
    tl_region *r = NULL;
    tl_bounds *b = NULL;
    tl_status ig;
    if (tl_region_box(&r, lo, lo, n, &ig) == TL_OK && tl_ibp_plan(pl, r, TL_SEM_REAL, &b, &ig) == TL_OK) {
      const double *bl = b->lo[out], *bh = b->hi[out];
      int all = 1, some_below = 0;
      for (int64_t k = 0; k < nout; k++) {
        if (k == label)
          continue;
        all &= bl[label] > bh[k];        /* exact y[label] >= bl > bh >= exact y[k] */
        some_below |= bh[label] < bl[k]; /* exact y[label] <= bh < bl <= exact y[k] */
      }
      if (all)
        decided = 1, *correct = 1;
      else if (some_below)
        decided = 1, *correct = 0;
    }
    tl_bounds_free(b);
    tl_region_free(r);
  }
  if (rc == TL_OK && !decided) {
    rc = tl_exact_eval(g, x, ylo, yhi, st);
    int ok = 1;
    for (int64_t k = 0; rc == TL_OK && k < nout; k++)
      if (k != label && !(ylo[label] > yhi[k]))
        ok = 0;
    *correct = rc == TL_OK && ok;
  }
  free(lo), free(ylo), free(yhi);
  return rc;
}

/* ---- verification of one sample ----------------------------------------------------------- */
/* ---- the float32 runtime: forward passes and input gradients (tl_exec, FAST kernels) ------- */
/* A private copy of the graph (tl_exec borrows a mutable graph) compiled once with gradients.
 * Every call runs in round-to-nearest (the verifier's directed modes are saved and restored). */
typedef struct rt_ctx {
  tl_graph *g;
  tl_exec *e;
  int in, out;
  int64_t n, nout;
} rt_ctx;

static void rt_close(rt_ctx *r) {
  tl_exec_free(r->e);
  tl_graph_free(r->g);
  memset(r, 0, sizeof *r);
}

static tl_code rt_open(rt_ctx *r, const tl_graph *g, tl_status *st) {
  memset(r, 0, sizeof *r);
  if (g->ninputs != 1)
    return tl_fail(st, TL_EARG, "verify: the float32 runtime needs a graph with one input");
  TL_TRY(tl_graph_clone(&r->g, g, st));
  tl_exec_opts eo = tl_exec_opts_default();
  eo.mode = TL_COMPILED, eo.kernels = TL_KERNELS_FAST;
  r->in = g->inputs[0];
  r->out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  r->n = g->nodes[r->in].numel, r->nout = g->nodes[r->out].numel;
  int old = fegetround();
  fesetround(FE_TONEAREST);
  tl_code rc = tl_exec_new(&r->e, r->g, &eo, st);
  if (rc == TL_OK)
    rc = tl_exec_plan(r->e, st);
  fesetround(old);
  if (rc != TL_OK)
    rt_close(r);
  return rc;
}

/* y = f(x) in float32; with seed != NULL also gx = d<seed, y>/dx */
static tl_code rt_run(rt_ctx *r, const float *x, float *y, const float *seed, float *gx, tl_status *st) {
  int old = fegetround();
  fesetround(FE_TONEAREST);
  tl_code rc = tl_exec_set_input(r->e, r->in, x, st);
  if (rc == TL_OK)
    rc = tl_exec_forward(r->e, st);
  const float *v = rc == TL_OK ? tl_exec_value(r->e, r->out) : NULL;
  if (rc == TL_OK && !v)
    rc = tl_fail(st, TL_EVALUE, "verify: the runtime kept no output value");
  if (rc == TL_OK)
    memcpy(y, v, (size_t)r->nout * sizeof *y);
  if (rc == TL_OK && seed) {
    rc = tl_exec_backward(r->e, r->out, seed, st);
    const float *gv = rc == TL_OK ? tl_exec_grad(r->e, r->in) : NULL;
    if (rc == TL_OK && !gv)
      rc = tl_fail(st, TL_EVALUE, "verify: the runtime computed no input gradient");
    if (rc == TL_OK)
      memcpy(gx, gv, (size_t)r->n * sizeof *gx);
  }
  fesetround(old);
  return rc;
}

tl_code tl_verify_confirm_f32_runtime(const tl_graph *g, const float *x, float *y, tl_status *st) {
  rt_ctx r;
  TL_TRY(rt_open(&r, g, st));
  tl_code rc = rt_run(&r, x, y, NULL, NULL, st);
  rt_close(&r);
  return rc;
}

tl_verify_opts tl_verify_opts_default(void) {
  tl_verify_opts o;
  memset(&o, 0, sizeof o);
  o.method = TL_METHOD_CROWN;
  o.sem = TL_SEM_F32_ANY;
  o.falsify = 1;
  o.pgd_steps = 30;
  o.pgd_restarts = 4;
  o.seed = 0x7e57ab1eULL;
  return o;
}

void tl_verify_result_free(tl_verify_result *r) {
  if (!r)
    return;
  free(r->row_lower), free(r->cex);
  tl_bounds_free(r->bounds);
  tl_crown_data_free(r->crown);
  free(r);
}

/* nearest binary32 inside [lo, hi] to v (toward the box), or 0 when the box holds no float */
static int to_f32_in(double v, double lo, double hi, float *out) {
  float f = (float)v;
  if ((double)f < lo)
    f = nextafterf(f, INFINITY);
  if ((double)f > hi)
    f = nextafterf(f, -INFINITY);
  if (!((double)f >= lo && (double)f <= hi))
    return 0;
  *out = f;
  return 1;
}

/* Is the float point x certainly inside the EXACT region (not only its outward-rounded box)? */
static int in_region(const tl_region *r, const float *x) {
  int old = fegetround(), ok = 1;
  for (int64_t i = 0; i < r->n && ok; i++) {
    double v = x[i];
    if (!(v >= r->lo[i] && v <= r->hi[i]))
      ok = 0;
    else if (r->kind == TL_REGION_LINF) {
      rnd_up();
      TLV_OPAQUE(v);
      double up = v - (double)r->center[i];
      TLV_OPAQUE(up);
      rnd_down();
      TLV_OPAQUE(v); /* the same difference again, rounded down */
      double dn = v - (double)r->center[i];
      TLV_OPAQUE(dn);
      ok = up <= r->eps && dn >= -r->eps && (!r->clamp || (v >= r->dom_lo && v <= r->dom_hi));
    }
  }
  fesetround(old);
  return ok;
}

/* Candidate counterexample x: confirmed in the exact real semantics (GMP/MPFR enclosure certainly
 * violates the property) and, separately, by a float32 evaluation (the user's hook, or the float32
 * runtime).  Only points certainly inside the exact region are considered. */
/* float32 violation at x (1), none (0); -1 when no float32 evaluation is available */
static int f32_violated(const tl_property *p, const tl_verify_opts *o, rt_ctx *rt, const tl_graph *g,
                        const float *x, float *yf, double *ylo, double *yhi) {
  int ok = 0;
  if (o->f32_eval)
    ok = o->f32_eval(o->f32_user, g, x, yf) == 0;
  else if (rt && rt->e) {
    tl_status ig;
    ok = rt_run(rt, x, yf, NULL, NULL, &ig) == TL_OK;
  }
  if (!ok)
    return -1;
  int finite = 1;
  for (int64_t j = 0; j < p->nout; j++) {
    finite &= isfinite(yf[j]) != 0;
    ylo[j] = yhi[j] = yf[j];
  }
  return !finite || tl_property_violated_exact(p, ylo, yhi);
}

/* exact_first: evaluate exactly even when float32 does not violate (to report exact-only
 * counterexamples); otherwise the cheap float32 check gates the exact evaluation */
/* Does the exact output at the point x certainly violate p?  First a real-semantics IBP pass at
 * the point: its output box contains the exact output, so when every point of the box violates,
 * the exact output does (no GMP evaluation needed); else tl_exact_eval decides. */
static tl_code exact_violated(const tl_verify_plan *pl, const tl_property *p, const float *x, double *ylo,
                              double *yhi, int *viol, tl_status *st) {
  const tl_graph *g = pl->g;
  int64_t n = g->nodes[g->inputs[0]].numel;
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  double *pt = malloc((size_t)(n ? n : 1) * sizeof *pt);
  *viol = 0;
  if (pt) {
    for (int64_t i = 0; i < n; i++)
      pt[i] = x[i];
    tl_region *r = NULL;
    tl_bounds *b = NULL;
    tl_status ig;
    if (tl_region_box(&r, pt, pt, n, &ig) == TL_OK && tl_ibp_plan(pl, r, TL_SEM_REAL, &b, &ig) == TL_OK &&
        tlv_box_finite(b->lo[out], b->hi[out], p->nout))
      *viol = tl_property_violated_exact(p, b->lo[out], b->hi[out]);
    tl_bounds_free(b);
    tl_region_free(r);
    free(pt);
  }
  if (*viol)
    return TL_OK;
  TL_TRY(tl_exact_eval(g, x, ylo, yhi, st));
  *viol = tl_property_violated_exact(p, ylo, yhi);
  return TL_OK;
}

static tl_code try_cex(const tl_graph *g, const tl_verify_plan *pl, const tl_region *r, const tl_property *p,
                       const tl_verify_opts *o, rt_ctx *rt, const float *x, int exact_first,
                       tl_verify_result *res, tl_status *st) {
  if (!in_region(r, x))
    return TL_OK;
  int64_t nout = p->nout;
  double *ylo = malloc((size_t)nout * sizeof *ylo), *yhi = malloc((size_t)nout * sizeof *yhi);
  float *yf = malloc((size_t)nout * sizeof *yf);
  tl_code rc = ylo && yhi && yf ? TL_OK : tl_fail(st, TL_ENOMEM, "verify: out of memory");
  int ex = 0, f32 = 0;
  if (rc == TL_OK && !exact_first && f32_violated(p, o, rt, g, x, yf, ylo, yhi) != 1) {
    free(ylo), free(yhi), free(yf);
    return TL_OK;
  }
  if (rc == TL_OK)
    rc = exact_violated(pl, p, x, ylo, yhi, &ex, st);
  if (rc == TL_OK && ex)
    f32 = f32_violated(p, o, rt, g, x, yf, ylo, yhi) == 1;
  if (rc == TL_OK && ex && (!res->cex || (!res->cex_f32 && f32))) {
    int64_t n = g->nodes[g->inputs[0]].numel;
    free(res->cex);
    res->cex = malloc((size_t)n * sizeof *res->cex);
    if (!res->cex)
      rc = tl_fail(st, TL_ENOMEM, "verify: out of memory");
    else
      memcpy(res->cex, x, (size_t)n * sizeof *x), res->cex_exact = ex, res->cex_f32 = f32;
  }
  free(ylo), free(yhi), free(yf);
  return rc;
}

/* PGD score of a float32 output y: <= 0 means the property looks violated.  Safe DNF: the largest
 * over clauses of the smallest row slack a.y + d (a = -c); unsafe DNF: the smallest over clauses of
 * the largest row excess a.y - d (a = c).  *row receives the row whose gradient moves the score. */
static double pgd_score(const tl_property *p, const double *a, const float *y, int *row) {
  double best = p->unsafe ? INFINITY : -INFINITY;
  *row = 0;
  for (int k = 0; k < p->nclauses; k++) {
    double cv = p->unsafe ? -INFINITY : INFINITY;
    int cr = p->clause_start[k];
    for (int q = p->clause_start[k]; q < p->clause_start[k + 1]; q++) {
      double v = 0;
      for (int64_t j = 0; j < p->nout; j++)
        v += a[(size_t)q * p->nout + j] * (double)y[j];
      v = p->unsafe ? v - p->d[q] : v + p->d[q];
      if (p->unsafe ? v > cv : v < cv)
        cv = v, cr = q;
    }
    if (p->unsafe ? cv < best : cv > best)
      best = cv, *row = cr;
  }
  return isnan(best) ? -INFINITY : best; /* a NaN output is a violation for the float32 check */
}

/* seed of the per-sample random stream: the options' seed mixed with the region's bits, so a
 * sample's search does not depend on which thread or batch runs it */
static uint64_t region_seed(const tl_region *r, uint64_t seed) {
  uint64_t h = tl_splitmix64(seed ^ (uint64_t)r->n);
  for (int64_t i = 0; i < r->n; i++) {
    uint64_t a, b;
    memcpy(&a, &r->lo[i], 8), memcpy(&b, &r->hi[i], 8);
    h = tl_splitmix64(h ^ a) ^ tl_splitmix64(b + (uint64_t)i);
  }
  return h;
}

/* Signed-gradient PGD on the score inside the box, restarts from the center (L_inf) and from
 * uniform random points; every point whose float32 score is <= 0 goes to try_cex (at most a few
 * exact evaluations per sample).  Stops at the first doubly confirmed counterexample. */
static tl_code pgd(const tl_graph *g, const tl_verify_plan *pl, const tl_region *r, const tl_property *p,
                   const tl_verify_opts *o, rt_ctx *rt, const double *a, tl_verify_result *res,
                   tl_status *st) {
  int64_t n = r->n, nout = p->nout;
  float *x = malloc((size_t)n * sizeof *x), *gx = malloc((size_t)n * sizeof *gx);
  float *y = malloc((size_t)nout * sizeof *y), *seed = malloc((size_t)nout * sizeof *seed);
  tl_code rc = x && gx && y && seed ? TL_OK : tl_fail(st, TL_ENOMEM, "verify: out of memory");
  tl_rng rng;
  tl_rng_init(&rng, region_seed(r, o->seed));
  int tries = 0;
  for (int rs = 0; rc == TL_OK && rs <= o->pgd_restarts && !(res->cex && res->cex_f32) && tries < 4; rs++) {
    for (int64_t i = 0; i < n; i++) {
      double v = rs == 0 && r->center ? (double)r->center[i]
                                      : r->lo[i] + (r->hi[i] - r->lo[i]) * tl_rng_uniform(&rng);
      if (!to_f32_in(v, r->lo[i], r->hi[i], &x[i]))
        x[i] = (float)r->lo[i];
    }
    for (int it = 0; rc == TL_OK && it <= o->pgd_steps; it++) {
      int row = 0;
      double sc;
      rc = rt_run(rt, x, y, NULL, NULL, st);
      if (rc != TL_OK)
        break;
      sc = pgd_score(p, a, y, &row);
      if (sc <= 0) {
        tries++;
        rc = try_cex(g, pl, r, p, o, rt, x, 0, res, st);
        break;
      }
      if (it == o->pgd_steps)
        break;
      for (int64_t j = 0; j < nout; j++)
        seed[j] = (float)a[(size_t)row * nout + j];
      rc = rt_run(rt, x, y, seed, gx, st);
      /* step size: a quarter of the box width, decaying linearly to a 1/20 */
      double frac = 0.25 - 0.2 * (double)it / (double)(o->pgd_steps > 1 ? o->pgd_steps - 1 : 1);
      for (int64_t i = 0; rc == TL_OK && i < n; i++) {
        double w = r->hi[i] - r->lo[i], v = (double)x[i];
        if (gx[i] > 0)
          v -= frac * w;
        else if (gx[i] < 0)
          v += frac * w;
        v = fmin(fmax(v, r->lo[i]), r->hi[i]);
        if (!to_f32_in(v, r->lo[i], r->hi[i], &x[i]))
          x[i] = (float)r->lo[i];
      }
    }
  }
  free(x), free(gx), free(y), free(seed);
  return rc;
}

/* candidates: the center (L_inf), then for every row that failed, the input-box corner that
 * minimises CROWN's linear lower bound of that row, then PGD */
static tl_code falsify(const tl_graph *g, const tl_verify_plan *pl, const tl_region *r, const tl_property *p,
                       const tl_verify_opts *o, const tl_bounds *b, const double *a, rt_ctx *rtc,
                       tl_verify_result *res, tl_status *st) {
  int64_t n = r->n;
  float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
  double *coef = malloc((size_t)p->nrows * (size_t)(n ? n : 1) * sizeof *coef);
  double *lw = malloc((size_t)p->nrows * sizeof *lw);
  tl_code rc = x && coef && lw ? TL_OK : tl_fail(st, TL_ENOMEM, "verify: out of memory");
  rt_ctx own;
  memset(&own, 0, sizeof own);
  rt_ctx *rtp = rtc ? rtc : &own; /* a worker's runtime, opened once per thread, or our own */
  if (rc == TL_OK && (!o->f32_eval || o->pgd_steps > 0) && !rtp->e)
    rc = rt_open(rtp, g, st);
#define rt (*rtp)
  if (rc == TL_OK && r->kind == TL_REGION_LINF) {
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++)
      ok = to_f32_in(r->center[i], r->lo[i], r->hi[i], &x[i]);
    if (ok)
      rc = try_cex(g, pl, r, p, o, &rt, x, 1, res, st);
  }
  if (rc == TL_OK && !(res->cex && res->cex_f32)) {
    tl_status ig;
    if (tlv_crown_ex_plan(pl, r, b, p->nrows, a, lw, coef, &ig) == TL_OK) {
      for (int k = 0; k < p->nrows && rc == TL_OK && !(res->cex && res->cex_f32); k++) {
        int ok = 1;
        for (int64_t i = 0; i < n && ok; i++) {
          double c = coef[(size_t)k * n + i];
          ok = to_f32_in(c > 0   ? r->lo[i]
                         : c < 0 ? r->hi[i]
                                 : (r->lo[i] + r->hi[i]) / 2,
                         r->lo[i], r->hi[i], &x[i]);
        }
        if (ok)
          rc = try_cex(g, pl, r, p, o, &rt, x, 0, res, st);
      }
    }
  }
  if (rc == TL_OK && !(res->cex && res->cex_f32) && o->pgd_steps > 0)
    rc = pgd(g, pl, r, p, o, &rt, a, res, st);
#undef rt
  rt_close(&own);
  free(x), free(coef), free(lw);
  return rc;
}

/* one sample with plan pl (of g) and an optional per-thread float32 runtime cache rtc */
static tl_code sample_run(const tl_graph *g, const tl_verify_plan *pl, const tl_region *r,
                          const tl_property *p, const tl_verify_opts *o, rt_ctx *rtc, tl_verify_result **out,
                          tl_status *st) {
  *out = NULL;
  double t0 = now_s();
  int outn = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  if (outn < 0 || g->nodes[outn].numel != p->nout)
    return tl_fail(st, TL_EARG, "verify: the property has %lld outputs, the graph %lld", (long long)p->nout,
                   outn >= 0 ? (long long)g->nodes[outn].numel : 0LL);
  tl_verify_result *res = calloc(1, sizeof *res);
  double *a = malloc((size_t)p->nrows * (size_t)p->nout * sizeof *a);
  double *l2 = malloc((size_t)p->nrows * sizeof *l2);
  if (!res || !a || !l2 || !(res->row_lower = malloc((size_t)p->nrows * sizeof *res->row_lower))) {
    free(a), free(l2), tl_verify_result_free(res);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  }
  res->nrows = p->nrows, res->method = o->method, res->sem = o->sem;
  tl_objective_rows(p, a);
  tl_bounds *b = NULL;
  tl_code rc = tl_ibp_plan(pl, r, o->sem, &b, st);
  if (rc == TL_OK)
    rc = tl_ibp_rows_plan(pl, r, b, p->nrows, a, res->row_lower, st);
  if (rc == TL_OK && (o->method == TL_METHOD_CROWN || o->method == TL_METHOD_ALPHA_CROWN)) {
    int steps = o->method == TL_METHOD_ALPHA_CROWN ? (o->alpha_steps > 0 ? o->alpha_steps : 20) : 0;
    rc = tl_crown_plan(pl, r, b, p->nrows, a, o->intermediate_crown, steps, l2,
                       o->keep_evidence ? &res->crown : NULL, st);
    for (int k = 0; rc == TL_OK && k < p->nrows; k++)
      res->row_lower[k] = fmax(res->row_lower[k], l2[k]); /* both are sound lower bounds */
  }
  if (rc == TL_OK) {
    res->verdict = tl_property_decide(p, res->row_lower) ? TL_VERDICT_VERIFIED : TL_VERDICT_UNKNOWN;
    if (res->verdict == TL_VERDICT_UNKNOWN && o->falsify) {
      rc = falsify(g, pl, r, p, o, b, a, rtc, res, st);
      if (rc == TL_OK && res->cex && res->cex_exact && res->cex_f32)
        res->verdict = TL_VERDICT_FALSIFIED;
    }
  }
  if (rc == TL_OK && o->keep_evidence)
    res->bounds = b, b = NULL;
  tl_bounds_free(b);
  free(a), free(l2);
  if (rc != TL_OK) {
    tl_verify_result_free(res);
    return rc;
  }
  res->seconds = now_s() - t0;
  *out = res;
  return TL_OK;
}

/* the options' plan (checked against g), or a new one in *own */
static tl_code get_plan(const tl_graph *g, const tl_verify_opts *o, const tl_verify_plan **pl,
                        tl_verify_plan **own, tl_status *st) {
  *own = NULL;
  if (o->plan) {
    if (o->plan->g != g)
      return tl_fail(st, TL_EARG, "verify: the options' plan belongs to another graph");
    *pl = o->plan;
    return TL_OK;
  }
  TL_TRY(tl_verify_plan_new(own, g, st));
  *pl = *own;
  return TL_OK;
}

tl_code tl_verify_sample(const tl_graph *g, const tl_region *r, const tl_property *p, const tl_verify_opts *o,
                         tl_verify_result **out, tl_status *st) {
  *out = NULL;
  const tl_verify_plan *pl = NULL;
  tl_verify_plan *own;
  TL_TRY(get_plan(g, o, &pl, &own, st));
  tl_code rc = sample_run(g, pl, r, p, o, NULL, out, st);
  tl_verify_plan_free(own);
  return rc;
}

/* ---- many samples on worker threads ------------------------------------------------------- */
typedef struct batch_job {
  const tl_graph *g;
  const tl_verify_plan *pl;
  int64_t n;
  const tl_region *const *r;
  const tl_property *const *p;
  const tl_verify_opts *o;
  tl_verify_result **out;
  tl_verify_progress_fn progress;
  void *user;
  atomic_llong next, done;
  atomic_int failed;
  pthread_mutex_t mu;
  tl_code rc;
  tl_status st;
} batch_job;

static void *batch_worker(void *arg) {
  batch_job *b = arg;
  rt_ctx rt;
  memset(&rt, 0, sizeof rt);
  for (;;) {
    long long i = atomic_fetch_add(&b->next, 1);
    if (i >= b->n || atomic_load(&b->failed))
      break;
    tl_status st;
    tl_code rc = sample_run(b->g, b->pl, b->r[i], b->p[i], b->o, &rt, &b->out[i], &st);
    if (rc != TL_OK) {
      pthread_mutex_lock(&b->mu);
      if (!atomic_load(&b->failed)) {
        b->rc = rc, b->st = st;
        tl_status_prefix(&b->st, "sample %lld: ", i);
        atomic_store(&b->failed, 1);
      }
      pthread_mutex_unlock(&b->mu);
      break;
    }
    long long d = atomic_fetch_add(&b->done, 1) + 1;
    if (b->progress)
      b->progress(b->user, d, b->n);
  }
  rt_close(&rt);
  return NULL;
}

tl_code tl_verify_batch(const tl_graph *g, int64_t n, const tl_region *const *r, const tl_property *const *p,
                        const tl_verify_opts *o, int nthreads, tl_verify_result **out,
                        tl_verify_progress_fn progress, void *progress_user, tl_status *st) {
  if (n < 0 || nthreads < 1 || !o)
    return tl_fail(st, TL_EARG, "verify: batch needs n >= 0, nthreads >= 1 and options");
  for (int64_t i = 0; i < n; i++)
    out[i] = NULL;
  const tl_verify_plan *pl = NULL;
  tl_verify_plan *own;
  TL_TRY(get_plan(g, o, &pl, &own, st));
  batch_job b;
  memset(&b, 0, sizeof b);
  b.pl = pl, b.g = g, b.n = n, b.r = r, b.p = p, b.o = o, b.out = out, b.progress = progress,
  b.user = progress_user;
  atomic_init(&b.next, 0), atomic_init(&b.done, 0), atomic_init(&b.failed, 0);
  pthread_mutex_init(&b.mu, NULL);
  b.rc = TL_OK;
  int nt = (int64_t)nthreads > n ? (int)(n > 0 ? n : 1) : nthreads, started = 0;
  pthread_t *th = calloc((size_t)nt, sizeof *th);
  tl_code rc = th ? TL_OK : tl_fail(st, TL_ENOMEM, "verify: out of memory");
  for (int t = 1; rc == TL_OK && t < nt; t++) {
    if (pthread_create(&th[t], NULL, batch_worker, &b) != 0)
      break; /* fewer threads: same results */
    started = t;
  }
  if (rc == TL_OK)
    batch_worker(&b); /* the calling thread works too */
  for (int t = 1; t <= started; t++)
    pthread_join(th[t], NULL);
  free(th);
  tl_verify_plan_free(own);
  pthread_mutex_destroy(&b.mu);
  if (rc == TL_OK && b.rc != TL_OK) {
    rc = b.rc;
    if (st)
      *st = b.st;
  }
  if (rc != TL_OK)
    for (int64_t i = 0; i < n; i++)
      tl_verify_result_free(out[i]), out[i] = NULL;
  return rc;
}

/* ---- dataset mode ---------------------------------------------------------------------------- */
void tl_dataset_report_free(tl_dataset_report *r) {
  if (!r)
    return;
  free(r->ibp), free(r->crown);
  free(r);
}

typedef struct ds_job {
  const tl_graph *g;
  const tl_verify_plan *pl;
  rt_ctx *rt;
  const float *x;
  const int *labels;
  int64_t n, d;
  double eps, dom_lo, dom_hi;
  int clamp;
  tl_semantics sem;
  const tl_verify_opts *base;
  int nthreads, tid;
  unsigned char *correct;
  tl_verdict *ibp, *crown;
  double *tibp, *tcrown;
  tl_code rc;
  tl_status st;
} ds_job;

static tl_code ds_sample(ds_job *j, int64_t i) {
  const float *xi = j->x + (size_t)i * (size_t)j->d;
  int64_t nout = j->g->nodes[j->g->noutputs ? j->g->outputs[0] : j->g->nnodes - 1].numel;
  tl_property *p = NULL;
  tl_region *r = NULL;
  double *ylo = malloc((size_t)nout * sizeof *ylo), *yhi = malloc((size_t)nout * sizeof *yhi);
  tl_code rc = ylo && yhi ? TL_OK : tl_fail(&j->st, TL_ENOMEM, "verify: out of memory");
  if (rc == TL_OK)
    rc = tl_property_robust(&p, nout, j->labels[i], &j->st);
  if (rc == TL_OK)
    rc = tl_region_linf(&r, xi, j->d, j->eps, j->clamp, j->dom_lo, j->dom_hi, &j->st);
  int ok = 0;
  if (rc == TL_OK)
    rc = tl_clean_correct_plan(j->pl, xi, j->labels[i], &ok, &j->st);
  if (rc == TL_OK)
    j->correct[i] = (unsigned char)ok;
  for (int m = 0; m < 2 && rc == TL_OK; m++) {
    tl_verify_opts o = *j->base;
    o.sem = j->sem, o.method = m ? TL_METHOD_CROWN : TL_METHOD_IBP, o.keep_evidence = 0;
    tl_verify_result *res = NULL;
    rc = sample_run(j->g, j->pl, r, p, &o, j->rt, &res, &j->st);
    if (rc == TL_OK) {
      (m ? j->crown : j->ibp)[i] =
          j->correct[i] || res->verdict == TL_VERDICT_FALSIFIED ? res->verdict : TL_VERDICT_UNKNOWN;
      (m ? j->tcrown : j->tibp)[i] = res->seconds;
    }
    tl_verify_result_free(res);
  }
  if (rc != TL_OK)
    tl_status_prefix(&j->st, "sample %lld: ", (long long)i);
  tl_property_free(p), tl_region_free(r), free(ylo), free(yhi);
  return rc;
}

static void *ds_worker(void *arg) {
  ds_job *j = arg;
  j->rc = TL_OK;
  rt_ctx rt;
  memset(&rt, 0, sizeof rt);
  j->rt = &rt;
  for (int64_t i = j->tid; i < j->n && j->rc == TL_OK; i += j->nthreads)
    j->rc = ds_sample(j, i);
  rt_close(&rt);
  j->rt = NULL;
  return NULL;
}

tl_code tl_verify_dataset(const tl_graph *g, const float *x, const int *labels, int64_t n, double eps,
                          int clamp, double dom_lo, double dom_hi, tl_semantics sem,
                          const tl_verify_opts *base, int nthreads, tl_dataset_report **out, tl_status *st) {
  *out = NULL;
  if (g->ninputs != 1 || nthreads < 1 || n < 0)
    return tl_fail(st, TL_EARG, "verify: dataset needs one graph input, n >= 0 and nthreads >= 1");
  int64_t d = g->nodes[g->inputs[0]].numel;
  tl_verify_opts def = tl_verify_opts_default();
  if (!base)
    base = &def;
  const tl_verify_plan *pl = NULL;
  tl_verify_plan *own;
  TL_TRY(get_plan(g, base, &pl, &own, st));
  tl_dataset_report *rep = calloc(1, sizeof *rep);
  unsigned char *correct = calloc((size_t)(n ? n : 1), 1);
  double *tibp = calloc((size_t)(n ? n : 1), sizeof *tibp), *tcr = calloc((size_t)(n ? n : 1), sizeof *tcr);
  ds_job *jobs = calloc((size_t)nthreads, sizeof *jobs);
  pthread_t *th = calloc((size_t)nthreads, sizeof *th);
  if (rep) {
    rep->ibp = calloc((size_t)(n ? n : 1), sizeof *rep->ibp);
    rep->crown = calloc((size_t)(n ? n : 1), sizeof *rep->crown);
  }
  tl_code rc = TL_OK;
  if (!rep || !correct || !tibp || !tcr || !jobs || !th || !rep->ibp || !rep->crown)
    rc = tl_fail(st, TL_ENOMEM, "verify: out of memory");
  int started = 0;
  for (int t = 0; rc == TL_OK && t < nthreads; t++) {
    ds_job *j = &jobs[t];
    *j = (ds_job){g,   pl,   NULL,     x, labels,  n,        d,          eps,  dom_lo, dom_hi, clamp,
                  sem, base, nthreads, t, correct, rep->ibp, rep->crown, tibp, tcr,    TL_OK,  {TL_OK, {0}}};
    if (t == 0 && nthreads == 1) {
      ds_worker(j);
      started = 1;
    } else if (pthread_create(&th[t], NULL, ds_worker, j) != 0) {
      rc = tl_fail(st, TL_ENOMEM, "verify: cannot start thread %d", t);
    } else {
      started = t + 1;
    }
  }
  for (int t = 0; t < started && nthreads > 1; t++)
    pthread_join(th[t], NULL);
  for (int t = 0; rc == TL_OK && t < nthreads; t++)
    if (jobs[t].rc != TL_OK) {
      rc = jobs[t].rc;
      if (st)
        *st = jobs[t].st;
    }
  if (rc == TL_OK) {
    rep->n = n;
    for (int64_t i = 0; i < n; i++) {
      rep->clean_correct += correct[i];
      rep->verified_ibp += rep->ibp[i] == TL_VERDICT_VERIFIED;
      rep->verified_crown += rep->crown[i] == TL_VERDICT_VERIFIED;
      rep->falsified += rep->crown[i] == TL_VERDICT_FALSIFIED;
      rep->seconds_ibp += tibp[i], rep->seconds_crown += tcr[i];
    }
  }
  free(correct), free(tibp), free(tcr), free(jobs), free(th);
  tl_verify_plan_free(own);
  if (rc != TL_OK) {
    tl_dataset_report_free(rep);
    return rc;
  }
  *out = rep;
  return TL_OK;
}
