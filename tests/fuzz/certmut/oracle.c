/* oracle.c - the second path: the truth of an accepted sample re-derived on the library side.
 * The graph is read back by the library and re-hashed (the hash binds the claims to it), the
 * claims are read exactly, the static claims checked (region in the verified box, label, lines),
 * a falsified claim's counterexample re-evaluated, then points of the exact region's float32 grid
 * are evaluated (oracle_point.c): its centre, random corners, points on random faces, uniform points
 * and the ends of PGD runs (SPSA signed-gradient ascent on the float32 forward pass) that search for
 * a violation of the property or of a row bound. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_oracle.h"
#include "vnets.h"

cm_oracle_opts cm_oracle_defaults(void) {
  cm_oracle_opts o = {24, 12, 12, 2, 12, 8, 0x5eed};
  return o;
}

/* the float32 value nearest v inside coordinate i's grid */
static float clampf(const cmo_region *r, int64_t i, double v) {
  float f = (float)v;
  if (!(f >= r->flo[i]))
    f = r->flo[i];
  if (f > r->fhi[i])
    f = r->fhi[i];
  return f;
}

/* kind 0: centre, 1: corner, 2: point on a face, 3: uniform */
static void make_point(const cmo_region *r, int kind, cm_rng *rng, float *x) {
  int64_t face = (int64_t)cm_below(rng, (uint64_t)r->n);
  for (int64_t i = 0; i < r->n; i++) {
    double lo = r->flo[i], hi = r->fhi[i], u = cm_unif(rng);
    double v = kind == 0                               ? lo / 2 + hi / 2
               : kind == 1 || (kind == 2 && i == face) ? (u < 0.5 ? lo : hi)
                                                       : lo + u * (hi - lo);
    x[i] = clampf(r, i, v);
  }
}

/* the PGD objective at x (to maximise): the property's violation score (row < 0) or -a_row . y */
static double objective(const tl_graph *g, const cmo_prop *p, int row, const float *x, float *y) {
  if (vnet_f32_forward(g, x, VORD_SEQ, y) != 0)
    return -INFINITY;
  if (row < 0)
    return cmo_prop_score(p, y);
  double v = 0;
  for (int j = 0; j < p->nout; j++)
    v += mpq_get_d(p->c[(size_t)row * p->nout + j]) * y[j];
  return p->unsafe ? -v : v; /* a = c (unsafe) or -c (safe): maximise -a.y */
}

/* SPSA signed-gradient ascent from a random point; the end point in x */
static void pgd(const tl_graph *g, const cmo_claim *c, int row, int steps, cm_rng *rng, float *x) {
  const cmo_region *r = &c->reg;
  int64_t n = r->n;
  float *xp = malloc((size_t)n * sizeof *xp), *xm = malloc((size_t)n * sizeof *xm);
  float *y = malloc((size_t)(c->prop.nout + 64) * sizeof *y);
  double *gr = malloc((size_t)n * sizeof *gr);
  signed char *dl = malloc((size_t)n);
  make_point(r, 3, rng, x);
  for (int t = 0; t < steps; t++) {
    memset(gr, 0, (size_t)n * sizeof *gr);
    for (int k = 0; k < 4; k++) { /* four random directions */
      for (int64_t i = 0; i < n; i++) {
        dl[i] = cm_below(rng, 2) ? 1 : -1;
        double h = ((double)r->fhi[i] - r->flo[i]) * 1e-2;
        xp[i] = clampf(r, i, x[i] + h * dl[i]), xm[i] = clampf(r, i, x[i] - h * dl[i]);
      }
      double d = objective(g, &c->prop, row, xp, y) - objective(g, &c->prop, row, xm, y);
      for (int64_t i = 0; i < n && isfinite(d); i++)
        gr[i] += d * dl[i];
    }
    double frac = 0.25 * pow(0.75, t);
    for (int64_t i = 0; i < n; i++)
      if (gr[i] != 0)
        x[i] = clampf(r, i, x[i] + (gr[i] > 0 ? 1 : -1) * frac * ((double)r->fhi[i] - r->flo[i]));
  }
  free(xp), free(xm), free(y), free(gr), free(dl);
}

/* every sampled point of the region; the first OR_FALSE ends it */
static int sample_points(const tl_graph *g, const cmo_claim *c, int verified, const cm_oracle_opts *o,
                         cm_rng *rng, char *why, size_t nwhy) {
  float *x = malloc((size_t)(c->reg.n + 1) * sizeof *x);
  int counts[4] = {1, o->corners, o->faces, o->random_points}, r = OR_CONFIRMED, np = 0;
  if (c->has_cex && cmo_cex_in_region(c) &&
      cmo_cex_floats(&c->cex, x)) /* a known point, whatever the verdict */
    r = cmo_point(g, c, verified, x, 1, why, nwhy);
  for (int kind = 0; kind < 4 && r != OR_FALSE; kind++)
    for (int k = 0; k < counts[kind] && r != OR_FALSE; k++, np++) {
      make_point(&c->reg, kind, rng, x);
      int q = cmo_point(g, c, verified, x, o->runtime_every > 0 && np % o->runtime_every == 0, why, nwhy);
      r = q > r ? q : r;
    }
  for (int k = 0; k < o->pgd_restarts && r != OR_FALSE; k++) {
    int row = k % 2 == 0 || c->prop.nrows == 0 ? -1 : (int)cm_below(rng, (uint64_t)c->prop.nrows);
    pgd(g, c, row, o->pgd_steps, rng, x);
    int q = cmo_point(g, c, verified, x, 1, why, nwhy);
    r = q > r ? q : r;
  }
  free(x);
  return r;
}

/* the header: semantics and method as the format defines them; -1 when neither */
static int header(const cJSON *doc, int *f32, int *crown) {
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "semantics"),
              *m = cJSON_GetObjectItemCaseSensitive(doc, "method");
  if (!cJSON_IsString(s) || !cJSON_IsString(m))
    return -1;
  *f32 = !strcmp(s->valuestring, "f32-any"), *crown = !strcmp(m->valuestring, "crown");
  if ((!*f32 && strcmp(s->valuestring, "real")) || (!*crown && strcmp(m->valuestring, "ibp")))
    return -1;
  return 0;
}

/* the claims of one sample on graph g */
static int sample_claims(const tl_graph *g, const cJSON *sj, int f32, int crown, int claim,
                         const cm_oracle_opts *o, int si, char *why, size_t nwhy) {
  cmo_claim c;
  int r = cmo_claim_read(sj, f32, crown, claim == CS_FALSIFIED, g, &c, why, nwhy) ? OR_FALSE : OR_CONFIRMED;
  if (r == OR_CONFIRMED)
    r = cmo_static_checks(g, &c, why, nwhy);
  if (r == OR_CONFIRMED && claim == CS_FALSIFIED)
    r = cmo_cex(g, &c, why, nwhy);
  if (r != OR_FALSE && !c.reg.empty && c.reg.nofloat)
    r = OR_UNDECIDED, snprintf(why, nwhy, "the region holds no float32 point: not sampled");
  else if (r != OR_FALSE && !c.reg.empty) {
    cm_rng rng = {o->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(si + 1))};
    int q = sample_points(g, &c, claim == CS_VERIFIED, o, &rng, why, nwhy);
    r = q > r ? q : r;
  }
  cmo_claim_free(&c);
  return r;
}

int cm_oracle_sample(const cJSON *doc, int si, int claim, const cm_oracle_opts *o, char *why, size_t nwhy) {
  tl_graph *g = NULL;
  char gw[400];
  int f32 = 0, crown = 0;
  why[0] = 0;
  if (header(doc, &f32, &crown))
    return snprintf(why, nwhy, "accepted with a semantics or method the format does not define"), OR_FALSE;
  if (cmo_graph_read(doc, &g, gw, sizeof gw))
    return snprintf(why, nwhy, "accepted, but %s", gw), OR_FALSE;
  int r = OR_CONFIRMED;
  const cJSON *sj = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "samples"), si);
  if (!cmo_hash_matches(doc, g))
    r = OR_FALSE, snprintf(why, nwhy, "graph_sha256 is not the library's hash of the embedded graph");
  else if (!sj)
    r = OR_FALSE, snprintf(why, nwhy, "no sample %d", si);
  else
    r = sample_claims(g, sj, f32, crown, claim, o, si, why, nwhy);
  tl_graph_free(g);
  return r;
}
