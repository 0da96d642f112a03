/* verify.c - regions, properties, verdicts, counterexample search and dataset mode. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vinternal.h"

const char *tl_semantics_name(tl_semantics s) { return s == TL_SEM_F32_ANY ? "f32-any" : "real"; }
const char *tl_method_name(tl_method m) { return m == TL_METHOD_CROWN ? "crown" : "ibp"; }
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
  int old = fegetround();
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(center[i])) {
      fesetround(old);
      tl_region_free(r);
      return tl_fail(st, TL_EARG, "verify: region center element %lld is not finite", (long long)i);
    }
    rnd_down();
    r->lo[i] = (double)center[i] - eps;
    rnd_up();
    r->hi[i] = (double)center[i] + eps;
    if (clamp) {
      r->lo[i] = fmin(fmax(r->lo[i], dom_lo), dom_hi);
      r->hi[i] = fmax(fmin(r->hi[i], dom_hi), dom_lo);
    }
  }
  fesetround(old);
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

/* ---- verification of one sample ----------------------------------------------------------- */
tl_code tl_verify_confirm_f32_runtime(const tl_graph *g, const float *x, float *y, tl_status *st) {
  (void)g, (void)x, (void)y;
  return tl_fail(st, TL_EUNSUPPORTED,
                 "verify: float32 confirmation through the runtime is not wired yet (exec lands separately)");
}

tl_verify_opts tl_verify_opts_default(void) {
  tl_verify_opts o;
  memset(&o, 0, sizeof o);
  o.method = TL_METHOD_CROWN;
  o.sem = TL_SEM_F32_ANY;
  o.falsify = 1;
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

static tl_code try_cex(const tl_graph *g, const tl_property *p, const tl_verify_opts *o, const float *x,
                       tl_verify_result *res, tl_status *st) {
  int64_t nout = p->nout;
  double *ylo = malloc((size_t)nout * sizeof *ylo), *yhi = malloc((size_t)nout * sizeof *yhi);
  float *yf = malloc((size_t)nout * sizeof *yf);
  tl_code rc = ylo && yhi && yf ? TL_OK : tl_fail(st, TL_ENOMEM, "verify: out of memory");
  int ex = 0, f32 = 0;
  if (rc == TL_OK)
    rc = tl_exact_eval(g, x, ylo, yhi, st);
  if (rc == TL_OK)
    ex = tl_property_violated_exact(p, ylo, yhi);
  if (rc == TL_OK && ex && o->f32_eval && o->f32_eval(o->f32_user, g, x, yf) == 0) {
    int finite = 1;
    for (int64_t j = 0; j < nout; j++) {
      finite &= isfinite(yf[j]) != 0;
      ylo[j] = yhi[j] = yf[j];
    }
    f32 = !finite || tl_property_violated_exact(p, ylo, yhi);
  }
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

/* candidates: the center (L_inf), then for every row that failed, the input-box corner that
 * minimises CROWN's linear lower bound of that row */
static tl_code falsify(const tl_graph *g, const tl_region *r, const tl_property *p, const tl_verify_opts *o,
                       const tl_bounds *b, const double *a, tl_verify_result *res, tl_status *st) {
  int64_t n = r->n;
  float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
  double *coef = malloc((size_t)p->nrows * (size_t)(n ? n : 1) * sizeof *coef);
  double *lw = malloc((size_t)p->nrows * sizeof *lw);
  tl_code rc = x && coef && lw ? TL_OK : tl_fail(st, TL_ENOMEM, "verify: out of memory");
  if (rc == TL_OK && r->kind == TL_REGION_LINF) {
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++)
      ok = to_f32_in(r->center[i], r->lo[i], r->hi[i], &x[i]);
    if (ok)
      rc = try_cex(g, p, o, x, res, st);
  }
  if (rc == TL_OK && !(res->cex && res->cex_f32)) {
    tl_status ig;
    if (tlv_crown_ex(g, r, b, p->nrows, a, 0, lw, NULL, coef, &ig) == TL_OK) {
      for (int k = 0; k < p->nrows && rc == TL_OK && !(res->cex && res->cex_f32); k++) {
        int ok = 1;
        for (int64_t i = 0; i < n && ok; i++) {
          double c = coef[(size_t)k * n + i];
          ok = to_f32_in(c > 0 ? r->lo[i] : c < 0 ? r->hi[i] : (r->lo[i] + r->hi[i]) / 2, r->lo[i], r->hi[i], &x[i]);
        }
        if (ok)
          rc = try_cex(g, p, o, x, res, st);
      }
    }
  }
  free(x), free(coef), free(lw);
  return rc;
}

tl_code tl_verify_sample(const tl_graph *g, const tl_region *r, const tl_property *p, const tl_verify_opts *o,
                         tl_verify_result **out, tl_status *st) {
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
  tl_code rc = tl_ibp(g, r, o->sem, &b, st);
  if (rc == TL_OK)
    rc = tlv_ibp_final(g, r, b, p->nrows, a, res->row_lower, st);
  if (rc == TL_OK && o->method == TL_METHOD_CROWN) {
    rc = tl_crown(g, r, b, p->nrows, a, o->intermediate_crown, l2, o->keep_evidence ? &res->crown : NULL, st);
    for (int k = 0; rc == TL_OK && k < p->nrows; k++)
      res->row_lower[k] = fmax(res->row_lower[k], l2[k]); /* both are sound lower bounds */
  }
  if (rc == TL_OK) {
    res->verdict = tl_property_decide(p, res->row_lower) ? TL_VERDICT_VERIFIED : TL_VERDICT_UNKNOWN;
    if (res->verdict == TL_VERDICT_UNKNOWN && o->falsify) {
      rc = falsify(g, r, p, o, b, a, res, st);
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

/* ---- dataset mode ---------------------------------------------------------------------------- */
void tl_dataset_report_free(tl_dataset_report *r) {
  if (!r)
    return;
  free(r->ibp), free(r->crown);
  free(r);
}

typedef struct ds_job {
  const tl_graph *g;
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
  if (rc == TL_OK)
    rc = tl_exact_eval(j->g, xi, ylo, yhi, &j->st);
  if (rc == TL_OK) {
    int ok = 1;
    for (int64_t k = 0; k < nout; k++)
      if (k != j->labels[i] && !(ylo[j->labels[i]] > yhi[k]))
        ok = 0;
    j->correct[i] = (unsigned char)ok;
  }
  for (int m = 0; m < 2 && rc == TL_OK; m++) {
    tl_verify_opts o = *j->base;
    o.sem = j->sem, o.method = m ? TL_METHOD_CROWN : TL_METHOD_IBP, o.keep_evidence = 0;
    tl_verify_result *res = NULL;
    rc = tl_verify_sample(j->g, r, p, &o, &res, &j->st);
    if (rc == TL_OK) {
      (m ? j->crown : j->ibp)[i] = j->correct[i] || res->verdict == TL_VERDICT_FALSIFIED ? res->verdict
                                                                                         : TL_VERDICT_UNKNOWN;
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
  for (int64_t i = j->tid; i < j->n && j->rc == TL_OK; i += j->nthreads)
    j->rc = ds_sample(j, i);
  return NULL;
}

tl_code tl_verify_dataset(const tl_graph *g, const float *x, const int *labels, int64_t n, double eps, int clamp,
                          double dom_lo, double dom_hi, tl_semantics sem, const tl_verify_opts *base, int nthreads,
                          tl_dataset_report **out, tl_status *st) {
  *out = NULL;
  if (g->ninputs != 1 || nthreads < 1 || n < 0)
    return tl_fail(st, TL_EARG, "verify: dataset needs one graph input, n >= 0 and nthreads >= 1");
  int64_t d = g->nodes[g->inputs[0]].numel;
  tl_verify_opts def = tl_verify_opts_default();
  if (!base)
    base = &def;
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
    *j = (ds_job){g, x, labels, n, d, eps, dom_lo, dom_hi, clamp, sem, base, nthreads, t, correct, rep->ibp,
                  rep->crown, tibp, tcr, TL_OK, {TL_OK, {0}}};
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
  if (rc != TL_OK) {
    tl_dataset_report_free(rep);
    return rc;
  }
  *out = rep;
  return TL_OK;
}
