/* oracle_read.c - the oracle reads a sample's claims exactly (GMP rationals, MPFR for hex floats),
 * written from docs/certificates.md, not from certs/. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_oracle.h"

/* "p/q" with decimal integers p (optional '-') and q > 0 */
static int read_ratio(const char *s, mpq_t q) {
  const char *sl = strchr(s, '/');
  for (const char *t = s; *t; t++)
    if (!(*t >= '0' && *t <= '9') && !(t == s && *t == '-') && t != sl)
      return -2;
  if (sl == s || sl[1] == 0 || (s[0] == '-' && sl == s + 1) || mpq_set_str(q, s, 10))
    return -2;
  if (mpz_sgn(mpq_denref(q)) == 0)
    return -2;
  mpq_canonicalize(q);
  return 0;
}

int cmo_q(const cJSON *j, mpq_t q) {
  if (!cJSON_IsString(j))
    return -2;
  const char *s = j->valuestring;
  if (s[0] == '+' && s[1] != '-')
    s++; /* C99 strtod's optional plus sign (the checker takes it; the value is the same) */
  if (!strcmp(s, "inf"))
    return 1;
  if (!strcmp(s, "-inf"))
    return -1;
  if (strchr(s, '/'))
    return read_ratio(s, q);
  const char *m = s[0] == '-' ? s + 1 : s;
  if (m[0] != '0' || (m[1] != 'x' && m[1] != 'X'))
    return -2; /* hex floats only ("0x" or C99's "0X"): decimal strings are not exact numbers here */
  mpfr_t f;
  mpfr_init2(f, 8192);
  char *end = NULL;
  int t = mpfr_strtofr(f, s, &end, 16, MPFR_RNDN);
  int rc = (end && *end == 0 && t == 0 && mpfr_number_p(f)) ? 0 : -2;
  if (rc == 0)
    mpfr_get_q(q, f);
  mpfr_clear(f);
  return rc;
}

int cmo_vec_read(const cJSON *a, int allow_inf, cmo_vec *v) {
  memset(v, 0, sizeof *v);
  if (!cJSON_IsArray(a))
    return -1;
  v->n = cJSON_GetArraySize(a);
  v->q = malloc((size_t)(v->n + 1) * sizeof *v->q);
  v->f = calloc((size_t)v->n + 1, 1);
  for (int64_t i = 0; i < v->n; i++)
    mpq_init(v->q[i]);
  int64_t i = 0;
  for (const cJSON *e = a->child; e; e = e->next, i++) {
    int r = cmo_q(e, v->q[i]);
    if (r == -2 || (r && !allow_inf))
      return -1;
    v->f[i] = (signed char)r;
  }
  return 0;
}

void cmo_vec_free(cmo_vec *v) {
  for (int64_t i = 0; v->q && i < v->n; i++)
    mpq_clear(v->q[i]);
  free(v->q), free(v->f);
  memset(v, 0, sizeof *v);
}

/* the smallest float32 >= q (*f), or 0 when above FLT_MAX */
static int f32_up(const mpq_t q, float *f) {
  mpq_t t;
  mpq_init(t);
  float x = (float)mpq_get_d(q);
  if (isinf(x))
    x = x > 0 ? FLT_MAX : -FLT_MAX;
  for (int k = 0; k < 4; k++) { /* a few steps of nextafterf reach it: the double was within an ulp */
    mpq_set_d(t, x);
    if (mpq_cmp(t, q) < 0 && x < FLT_MAX)
      x = nextafterf(x, INFINITY);
    else if (x > -FLT_MAX && (mpq_set_d(t, nextafterf(x, -INFINITY)), mpq_cmp(t, q) >= 0))
      x = nextafterf(x, -INFINITY);
  }
  mpq_set_d(t, x);
  int ok = mpq_cmp(t, q) >= 0;
  mpq_clear(t);
  *f = x;
  return ok;
}

/* the float grid of [lo, hi] per coordinate */
static void region_grid(cmo_region *r) {
  mpq_t m;
  mpq_init(m);
  for (int64_t i = 0; i < r->n; i++) {
    if (mpq_cmp(r->lo[i], r->hi[i]) > 0)
      r->empty = 1;
    float a, b;
    mpq_neg(m, r->hi[i]);
    int oka = f32_up(r->lo[i], &a), okb = f32_up(m, &b);
    r->flo[i] = a, r->fhi[i] = -b;
    if (!oka || !okb || a > -b)
      r->nofloat = 1;
  }
  mpq_clear(m);
}

/* L_inf: [c - eps, c + eps] intersected with the domain */
static int region_linf(const cJSON *rj, cmo_region *r) {
  cmo_vec c, dom;
  mpq_t eps;
  mpq_init(eps);
  int rc = cmo_vec_read(cJSON_GetObjectItemCaseSensitive(rj, "center"), 0, &c);
  if (rc == 0 && (c.n != r->n || cmo_q(cJSON_GetObjectItemCaseSensitive(rj, "eps"), eps) != 0))
    rc = -1;
  const cJSON *dj = cJSON_GetObjectItemCaseSensitive(rj, "domain");
  memset(&dom, 0, sizeof dom);
  if (rc == 0 && dj && (cmo_vec_read(dj, 0, &dom) || dom.n != 2))
    rc = -1;
  for (int64_t i = 0; rc == 0 && i < r->n; i++) {
    mpq_sub(r->lo[i], c.q[i], eps), mpq_add(r->hi[i], c.q[i], eps);
    if (dj && mpq_cmp(r->lo[i], dom.q[0]) < 0)
      mpq_set(r->lo[i], dom.q[0]);
    if (dj && mpq_cmp(r->hi[i], dom.q[1]) > 0)
      mpq_set(r->hi[i], dom.q[1]);
  }
  cmo_vec_free(&c), cmo_vec_free(&dom);
  mpq_clear(eps);
  return rc;
}

static int region_read(const cJSON *rj, int64_t n, cmo_region *r) {
  memset(r, 0, sizeof *r);
  r->n = n;
  r->lo = malloc((size_t)n * sizeof *r->lo), r->hi = malloc((size_t)n * sizeof *r->hi);
  r->flo = malloc((size_t)n * sizeof *r->flo), r->fhi = malloc((size_t)n * sizeof *r->fhi);
  for (int64_t i = 0; i < n; i++)
    mpq_init(r->lo[i]), mpq_init(r->hi[i]);
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(rj, "kind");
  int rc = cmo_vec_read(cJSON_GetObjectItemCaseSensitive(rj, "lo"), 1, &r->vlo) ||
                   cmo_vec_read(cJSON_GetObjectItemCaseSensitive(rj, "hi"), 1, &r->vhi) || r->vlo.n != n ||
                   r->vhi.n != n || !cJSON_IsString(k)
               ? -1
               : 0;
  if (rc == 0 && !strcmp(k->valuestring, "linf"))
    rc = region_linf(rj, r);
  else if (rc == 0 && !strcmp(k->valuestring, "box")) {
    for (int64_t i = 0; i < n && rc == 0; i++)
      if (r->vlo.f[i] || r->vhi.f[i])
        rc = -1;
      else
        mpq_set(r->lo[i], r->vlo.q[i]), mpq_set(r->hi[i], r->vhi.q[i]);
  } else
    rc = -1;
  if (rc == 0)
    region_grid(r);
  return rc;
}

static void region_free(cmo_region *r) {
  for (int64_t i = 0; r->lo && i < r->n; i++)
    mpq_clear(r->lo[i]), mpq_clear(r->hi[i]);
  free(r->lo), free(r->hi), free(r->flo), free(r->fhi);
  cmo_vec_free(&r->vlo), cmo_vec_free(&r->vhi);
}

/* one row {c, d, strict} into row r of p */
static int prop_row(const cJSON *row, cmo_prop *p, int r) {
  cmo_vec c;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(row, "strict");
  int rc = cmo_vec_read(cJSON_GetObjectItemCaseSensitive(row, "c"), 0, &c);
  if (rc == 0 && (c.n != p->nout || !cJSON_IsBool(st) ||
                  cmo_q(cJSON_GetObjectItemCaseSensitive(row, "d"), p->d[r]) != 0))
    rc = -1;
  for (int j = 0; rc == 0 && j < p->nout; j++)
    mpq_set(p->c[(size_t)r * p->nout + j], c.q[j]);
  if (rc == 0)
    p->strict[r] = cJSON_IsTrue(st);
  cmo_vec_free(&c);
  return rc;
}

/* the arrays of p for nrows rows */
static void prop_alloc(cmo_prop *p, int nrows) {
  p->nrows = nrows;
  p->c = malloc((size_t)(nrows * p->nout + 1) * sizeof *p->c);
  p->d = malloc((size_t)(nrows + 1) * sizeof *p->d);
  p->strict = calloc((size_t)nrows + 1, sizeof *p->strict);
  for (int i = 0; i < nrows * p->nout; i++)
    mpq_init(p->c[i]);
  for (int i = 0; i < nrows; i++)
    mpq_init(p->d[i]);
}

static int prop_read(const cJSON *pj, int64_t nout, cmo_prop *p) {
  memset(p, 0, sizeof *p);
  const cJSON *dnf = cJSON_GetObjectItemCaseSensitive(pj, "dnf"),
              *no = cJSON_GetObjectItemCaseSensitive(pj, "nout");
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(pj, "clauses"),
              *lab = cJSON_GetObjectItemCaseSensitive(pj, "label");
  if (!cJSON_IsString(dnf) || (strcmp(dnf->valuestring, "safe") && strcmp(dnf->valuestring, "unsafe")) ||
      !cJSON_IsNumber(no) || no->valuedouble != (double)nout || !cJSON_IsArray(cl) || nout > 4096)
    return -1;
  if (lab && (!cJSON_IsNumber(lab) || lab->valuedouble != floor(lab->valuedouble) || lab->valuedouble < 0 ||
              lab->valuedouble >= (double)nout))
    return -1;
  p->unsafe = !strcmp(dnf->valuestring, "unsafe"), p->nout = (int)nout;
  p->label = lab ? (int)lab->valuedouble : -1;
  p->ncl = cJSON_GetArraySize(cl);
  p->cstart = calloc((size_t)p->ncl + 1, sizeof *p->cstart);
  int nrows = 0, k = 0;
  for (const cJSON *c = cl->child; c; c = c->next, k++) {
    if (!cJSON_IsArray(c))
      return -1;
    nrows += cJSON_GetArraySize(c), p->cstart[k + 1] = nrows;
  }
  prop_alloc(p, nrows);
  int r = 0;
  for (const cJSON *c = cl->child; c; c = c->next)
    for (const cJSON *row = c->child; row; row = row->next)
      if (prop_row(row, p, r++))
        return -1;
  return 0;
}

static void prop_free(cmo_prop *p) {
  for (int i = 0; p->c && i < p->nrows * p->nout; i++)
    mpq_clear(p->c[i]);
  for (int i = 0; p->d && i < p->nrows; i++)
    mpq_clear(p->d[i]);
  free(p->c), free(p->d), free(p->strict), free(p->cstart);
}

/* "boxes": node ids in range, lo/hi of the node's numel (inf allowed) */
static int boxes_read(const cJSON *bj, const tl_graph *g, cmo_claim *c) {
  if (!cJSON_IsArray(bj))
    return -1;
  int nb = cJSON_GetArraySize(bj), i = 0;
  c->bnode = calloc((size_t)nb + 1, sizeof *c->bnode);
  c->blo = calloc((size_t)nb + 1, sizeof *c->blo), c->bhi = calloc((size_t)nb + 1, sizeof *c->bhi);
  for (const cJSON *b = bj->child; b; b = b->next, i++) {
    c->nbox = i + 1;
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(b, "node");
    if (!cJSON_IsNumber(nj) || nj->valuedouble < 0 || nj->valuedouble >= g->nnodes ||
        nj->valuedouble != floor(nj->valuedouble))
      return -1;
    c->bnode[i] = (int)nj->valuedouble;
    int64_t n = g->nodes[c->bnode[i]].numel;
    if (cmo_vec_read(cJSON_GetObjectItemCaseSensitive(b, "lo"), 1, &c->blo[i]) ||
        cmo_vec_read(cJSON_GetObjectItemCaseSensitive(b, "hi"), 1, &c->bhi[i]) || c->blo[i].n != n ||
        c->bhi[i].n != n)
      return -1;
  }
  return 0;
}

/* "crown.activations": node ids of activations, six vectors of the node's numel */
static int acts_read(const cJSON *cj, const tl_graph *g, cmo_claim *c) {
  static const char *const keys[6] = {"pre_lo", "pre_hi", "la", "lb", "ua", "ub"};
  const cJSON *aj = cJSON_GetObjectItemCaseSensitive(cj, "activations");
  if (!cJSON_IsArray(aj))
    return -1;
  int na = cJSON_GetArraySize(aj), i = 0;
  c->act = calloc((size_t)na + 1, sizeof *c->act);
  for (const cJSON *a = aj->child; a; a = a->next, i++) {
    c->nact = i + 1;
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(a, "node");
    if (!cJSON_IsNumber(nj) || nj->valuedouble < 0 || nj->valuedouble >= g->nnodes ||
        nj->valuedouble != floor(nj->valuedouble))
      return -1;
    c->act[i].node = (int)nj->valuedouble;
    for (int k = 0; k < 6; k++)
      if (cmo_vec_read(cJSON_GetObjectItemCaseSensitive(a, keys[k]), k < 2, &c->act[i].v[k]) ||
          c->act[i].v[k].n != g->nodes[c->act[i].node].numel)
        return -1;
  }
  return 0;
}

int cmo_claim_read(const cJSON *sj, int f32, int crown, int falsified, const tl_graph *g, cmo_claim *c,
                   char *why, size_t nwhy) {
  memset(c, 0, sizeof *c);
  c->f32 = f32, c->crown = crown;
  const char *what = "region";
  int rc = region_read(cJSON_GetObjectItemCaseSensitive(sj, "region"), g->nodes[g->inputs[0]].numel, &c->reg);
  if (!rc && (what = "property"))
    rc = prop_read(cJSON_GetObjectItemCaseSensitive(sj, "property"), g->nodes[g->outputs[0]].numel, &c->prop);
  if (!rc && (what = "boxes"))
    rc = boxes_read(cJSON_GetObjectItemCaseSensitive(sj, "boxes"), g, c);
  if (!rc && (what = "row_lower"))
    rc = cmo_vec_read(cJSON_GetObjectItemCaseSensitive(sj, "row_lower"), 1, &c->rowlo) ||
                 c->rowlo.n != c->prop.nrows
             ? -1
             : 0;
  const cJSON *cj = cJSON_GetObjectItemCaseSensitive(sj, "crown");
  if (!rc && crown && (what = "crown"))
    rc = acts_read(cj, g, c);
  /* the counterexample is a claim of a falsified sample only; elsewhere it is used, when readable, as one
   * more point to sample (the checker ignores it then) */
  const cJSON *xj = cJSON_GetObjectItemCaseSensitive(sj, "counterexample");
  if (!rc && xj && (what = "counterexample")) {
    c->has_cex = cmo_vec_read(xj, 0, &c->cex) == 0 && c->cex.n == c->reg.n;
    rc = c->has_cex || !falsified ? 0 : -1;
  }
  if (rc)
    snprintf(why, nwhy, "the oracle cannot read the accepted sample's %s", what);
  return rc;
}

void cmo_claim_free(cmo_claim *c) {
  region_free(&c->reg);
  prop_free(&c->prop);
  for (int i = 0; i < c->nbox; i++)
    cmo_vec_free(&c->blo[i]), cmo_vec_free(&c->bhi[i]);
  free(c->bnode), free(c->blo), free(c->bhi);
  cmo_vec_free(&c->rowlo);
  for (int i = 0; i < c->nact; i++)
    for (int k = 0; k < 6; k++)
      cmo_vec_free(&c->act[i].v[k]);
  free(c->act);
  cmo_vec_free(&c->cex);
}
