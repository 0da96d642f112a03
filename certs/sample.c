/* sample.c - torchlean-check: one sample: region, property, boxes, final bounds and verdict. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

/* ---- one sample ----------------------------------------------------------------------------------- */
static int get_bool(ctx *c, const cJSON *o, const char *name, const char *where, int *v) {
  cJSON *f = field(c, o, name, where);
  if (!f)
    return BAD;
  if (!cJSON_IsBool(f))
    return fail(c, BAD, "malformed: %s.%s must be true or false", where, name);
  *v = cJSON_IsTrue(f);
  return OK;
}

static void prop_free(prop *p) {
  for (int64_t i = 0; p->cf && i < (int64_t)p->nrows * p->nout; i++)
    mpq_clear(p->cf[i]);
  for (int i = 0; p->d && i < p->nrows; i++)
    mpq_clear(p->d[i]);
  free(p->cf), free(p->d), free(p->strict), free(p->cstart);
}

static int read_prop(ctx *c, const cJSON *pj, int64_t nout, prop *p) {
  memset(p, 0, sizeof *p);
  cJSON *dnf = field(c, pj, "dnf", "property");
  if (!dnf)
    return BAD;
  if (!cJSON_IsString(dnf) || (strcmp(dnf->valuestring, "safe") && strcmp(dnf->valuestring, "unsafe")))
    return fail(c, BAD, "malformed: property.dnf must be \"safe\" or \"unsafe\"");
  p->unsafe = !strcmp(dnf->valuestring, "unsafe");
  int64_t v;
  if (get_int(c, pj, "nout", "property", 1, 100000000, &v))
    return BAD;
  if (v != nout)
    return fail(c, REJ, "REJECT: property refers to %lld outputs, the graph has %lld (node -1, index 0)",
                (long long)v, (long long)nout);
  p->nout = nout;
  cJSON *cl = field(c, pj, "clauses", "property");
  if (!cl)
    return BAD;
  if (!cJSON_IsArray(cl) || cJSON_GetArraySize(cl) < 1)
    return fail(c, BAD, "malformed: property.clauses must be a non-empty array");
  p->nclauses = cJSON_GetArraySize(cl);
  int nrows = 0;
  for (cJSON *k = cl->child; k; k = k->next) {
    if (!cJSON_IsArray(k) || cJSON_GetArraySize(k) < 1)
      return fail(c, BAD, "malformed: every property clause must be a non-empty array of rows");
    nrows += cJSON_GetArraySize(k);
  }
  p->nrows = nrows;
  p->cf = malloc((size_t)nrows * (size_t)nout * sizeof *p->cf);
  p->d = malloc((size_t)nrows * sizeof *p->d);
  p->strict = malloc((size_t)nrows * sizeof *p->strict);
  p->cstart = malloc(((size_t)p->nclauses + 1) * sizeof *p->cstart);
  if (!p->cf || !p->d || !p->strict || !p->cstart)
    return fail(c, BAD, "out of memory");
  for (int64_t i = 0; i < (int64_t)nrows * nout; i++)
    mpq_init(p->cf[i]);
  for (int i = 0; i < nrows; i++)
    mpq_init(p->d[i]);
  int r = 0, ci = 0;
  for (cJSON *k = cl->child; k; k = k->next, ci++) {
    p->cstart[ci] = r;
    for (cJSON *row = k->child; row; row = row->next, r++) {
      char where[80];
      snprintf(where, sizeof where, "property.clauses[%d][%d]", ci, r - p->cstart[ci]);
      qv *cv = qv_new(nout);
      if (!cv)
        return fail(c, BAD, "out of memory");
      int rc = get_qarr(c, row, "c", where, nout, cv, 0);
      for (int64_t j = 0; rc == OK && j < nout; j++)
        mpq_set(p->cf[(size_t)r * nout + j], cv[j].q);
      qv_free(cv, nout);
      if (rc || get_num(c, row, "d", where, p->d[r]) || get_bool(c, row, "strict", where, &p->strict[r]))
        return BAD;
    }
  }
  p->cstart[p->nclauses] = nrows;
  return OK;
}

static int row_ok(const prop *p, int r, const qv *L) {
  if (L->inf)
    return 0;
  mpq_t t;
  mpq_init(t);
  int ok;
  if (!p->unsafe) {
    mpq_neg(t, p->d[r]);
    ok = p->strict[r] ? mpq_cmp(L->q, t) > 0 : mpq_cmp(L->q, t) >= 0;
  } else {
    ok = p->strict[r] ? mpq_cmp(L->q, p->d[r]) >= 0 : mpq_cmp(L->q, p->d[r]) > 0;
  }
  mpq_clear(t);
  return ok;
}

static int decide(const prop *p, const qv *L) {
  for (int k = 0; k < p->nclauses; k++) {
    int all = 1, any = 0;
    for (int r = p->cstart[k]; r < p->cstart[k + 1]; r++) {
      int ok = row_ok(p, r, &L[r]);
      all &= ok, any |= ok;
    }
    if (!p->unsafe && all)
      return 1;
    if (p->unsafe && !any)
      return 0;
  }
  return p->unsafe;
}

static int check_region(ctx *c, const cJSON *rj, const cgraph *g, box *in) {
  const cnode *x = &g->nodes[g->input];
  int64_t n = x->numel;
  cJSON *kind = field(c, rj, "kind", "region");
  if (!kind)
    return BAD;
  if (!cJSON_IsString(kind) || (strcmp(kind->valuestring, "linf") && strcmp(kind->valuestring, "box")))
    return fail(c, BAD, "malformed: region.kind must be \"linf\" or \"box\"");
  qv *lo = qv_new(n), *hi = qv_new(n), *ctr = NULL;
  mpq_t eps, dlo, dhi, t;
  mpq_init(eps), mpq_init(dlo), mpq_init(dhi), mpq_init(t);
  int rc = lo && hi ? OK : fail(c, BAD, "out of memory");
  if (rc == OK)
    rc = get_qarr(c, rj, "lo", "region", n, lo, 0);
  if (rc == OK)
    rc = get_qarr(c, rj, "hi", "region", n, hi, 0);
  for (int64_t i = 0; rc == OK && i < n; i++)
    if (mpq_cmp(lo[i].q, hi[i].q) > 0)
      rc = fail(c, REJ, "REJECT: region box empty (node %d, index %lld)", g->input, (long long)i);
  if (rc == OK && !strcmp(kind->valuestring, "linf")) {
    ctr = qv_new(n);
    rc = ctr ? get_qarr(c, rj, "center", "region", n, ctr, 0) : fail(c, BAD, "out of memory");
    if (rc == OK)
      rc = get_num(c, rj, "eps", "region", eps);
    if (rc == OK && mpq_sgn(eps) < 0)
      rc = fail(c, REJ, "REJECT: negative eps (node %d, index 0)", g->input);
    cJSON *dom = cJSON_GetObjectItemCaseSensitive(rj, "domain");
    int clamp = dom != NULL && !cJSON_IsNull(dom);
    if (rc == OK && clamp) {
      int inf;
      if (!cJSON_IsArray(dom) || cJSON_GetArraySize(dom) != 2 ||
          num_item(c, dom->child, dlo, &inf, 0, "region.domain", 0) ||
          num_item(c, dom->child->next, dhi, &inf, 0, "region.domain", 1))
        rc = fail(c, BAD, "malformed: region.domain must be two numbers");
    }
    /* the verified box must contain the exact region: lo <= max(c - eps, dlo), hi >= min(c + eps, dhi) */
    for (int64_t i = 0; rc == OK && i < n; i++) {
      mpq_sub(t, ctr[i].q, eps);
      if (clamp) {
        qmax2(t, t, dlo);
        qmin2(t, t, dhi);
      }
      if (mpq_cmp(lo[i].q, t) > 0) {
        rc = fail(c, REJ, "REJECT: region box lower end above the L_inf region (node %d, index %lld)",
                  g->input, (long long)i);
        break;
      }
      mpq_add(t, ctr[i].q, eps);
      if (clamp) {
        qmin2(t, t, dhi);
        qmax2(t, t, dlo);
      }
      if (mpq_cmp(hi[i].q, t) < 0)
        rc = fail(c, REJ, "REJECT: region box upper end below the L_inf region (node %d, index %lld)",
                  g->input, (long long)i);
    }
  }
  /* the input node's certificate box must contain the region box */
  for (int64_t i = 0; rc == OK && i < n; i++) {
    if ((!in->lo[i].inf && mpq_cmp(in->lo[i].q, lo[i].q) > 0) || in->lo[i].inf == 1)
      rc = fail(c, REJ, "REJECT: input box lower bound above the region (node %d, index %lld)", g->input,
                (long long)i);
    else if ((!in->hi[i].inf && mpq_cmp(in->hi[i].q, hi[i].q) < 0) || in->hi[i].inf == -1)
      rc = fail(c, REJ, "REJECT: input box upper bound below the region (node %d, index %lld)", g->input,
                (long long)i);
  }
  qv_free(lo, n), qv_free(hi, n), qv_free(ctr, n);
  mpq_clear(eps), mpq_clear(dlo), mpq_clear(dhi), mpq_clear(t);
  return rc;
}

/* the sample's arrays: per node its box (params: their data), E, eunb, eover */
int sample_init(ctx *c, sample *s, const cgraph *g, int f32) {
  memset(s, 0, sizeof *s);
  s->g = g, s->f32 = f32;
  mpq_init(s->flt_max);
  mpq_set_ui(s->flt_max, 0xffffff, 1);
  mpq_mul_2exp(s->flt_max, s->flt_max, 104); /* (2^24 - 1) 2^104 */
  s->b = calloc((size_t)g->n, sizeof *s->b);
  s->E = calloc((size_t)g->n, sizeof *s->E);
  s->eunb = calloc((size_t)g->n, 1), s->eover = calloc((size_t)g->n, 1);
  int rc = s->b && s->E && s->eunb && s->eover ? OK : fail(c, BAD, "out of memory");
  for (int i = 0; rc == OK && i < g->n; i++) {
    const cnode *n = &g->nodes[i];
    if (n->op == OP_PARAM) {
      s->b[i].lo = s->b[i].hi = n->w;
      continue;
    }
    s->b[i].lo = qv_new(n->numel), s->b[i].hi = qv_new(n->numel);
    if (!s->b[i].lo || !s->b[i].hi)
      rc = fail(c, BAD, "out of memory");
  }
  return rc;
}

void sample_free(sample *s) {
  const cgraph *g = s->g;
  for (int i = 0; s->b && i < g->n; i++)
    if (g->nodes[i].op != OP_PARAM)
      qv_free(s->b[i].lo, g->nodes[i].numel), qv_free(s->b[i].hi, g->nodes[i].numel);
  free(s->b);
  for (int i = 0; s->E && i < g->n; i++)
    if (s->E[i]) {
      for (int64_t z = 0; z < g->nodes[i].numel; z++)
        mpq_clear(s->E[i][z]);
      free(s->E[i]);
    }
  free(s->E), free(s->eunb), free(s->eover);
  mpq_clear(s->flt_max);
}

/* sample.boxes: one box per node but the parameters */
static int read_boxes(ctx *c, sample *s, const cJSON *sj) {
  const cgraph *g = s->g;
  cJSON *boxes = field(c, sj, "boxes", "sample");
  if (!boxes)
    return BAD;
  if (!cJSON_IsArray(boxes))
    return fail(c, BAD, "malformed: sample.boxes must be an array");
  int rc = OK;
  unsigned char *seen = calloc((size_t)g->n, 1);
  for (cJSON *b = boxes->child; b && rc == OK; b = b->next) {
    int64_t id = 0;
    if (get_int(c, b, "node", "sample.boxes[]", 0, g->n - 1, &id)) {
      rc = BAD;
      break;
    }
    if (g->nodes[id].op == OP_PARAM || seen[id]) {
      rc = fail(c, BAD, "malformed: sample.boxes: node %lld listed twice or a parameter", (long long)id);
      break;
    }
    seen[id] = 1;
    char where[64];
    snprintf(where, sizeof where, "sample.boxes[node %lld]", (long long)id);
    rc = get_qarr(c, b, "lo", where, g->nodes[id].numel, s->b[id].lo, 1);
    if (rc == OK)
      rc = get_qarr(c, b, "hi", where, g->nodes[id].numel, s->b[id].hi, 1);
  }
  for (int i = 0; rc == OK && i < g->n; i++) {
    if (g->nodes[i].op != OP_PARAM && !seen[i])
      rc = fail(c, BAD, "malformed: sample.boxes: no box for node %d", i);
    else if (g->nodes[i].op != OP_PARAM)
      s->b[i].unb = box_unb(&s->b[i], g->nodes[i].numel);
  }
  free(seen);
  return rc;
}

/* the objective rows A (c for unsafe, -c for safe) and the row bound arrays */
typedef struct rows {
  int64_t nout;
  mpq_t *A;
  qv *claimed, *der, *der2;
} rows;

static int rows_new(ctx *c, const prop *p, rows *r) {
  int rc = OK;
  r->A = malloc((size_t)p->nrows * (size_t)r->nout * sizeof *r->A);
  r->claimed = qv_new(p->nrows), r->der = qv_new(p->nrows), r->der2 = qv_new(p->nrows);
  if (!r->A || !r->claimed || !r->der || !r->der2)
    rc = fail(c, BAD, "out of memory");
  for (size_t z = 0; r->A && z < (size_t)p->nrows * (size_t)r->nout; z++) {
    mpq_init(r->A[z]);
    if (p->unsafe)
      mpq_set(r->A[z], p->cf[z]);
    else
      mpq_neg(r->A[z], p->cf[z]);
  }
  return rc;
}

static void rows_free(const prop *p, rows *r) {
  for (size_t z = 0; r->A && z < (size_t)p->nrows * (size_t)r->nout; z++)
    mpq_clear(r->A[z]);
  free(r->A);
  qv_free(r->claimed, p->nrows), qv_free(r->der, p->nrows), qv_free(r->der2, p->nrows);
}

/* one max pool's lines: arg (an input index) and upper ("exact" or a number) per output */
static int read_maxpool_lines(ctx *c, const cgraph *g, const cJSON *a, int64_t id, cmpool *mp) {
  int64_t n = g->nodes[id].numel, nin = g->nodes[g->nodes[id].par[0]].numel;
  const cJSON *arg = field(c, a, "arg", "sample.crown.maxpools[]");
  const cJSON *up = arg ? field(c, a, "upper", "sample.crown.maxpools[]") : NULL;
  if (!arg || !up)
    return BAD;
  if (!cJSON_IsArray(arg) || cJSON_GetArraySize(arg) != n || !cJSON_IsArray(up) ||
      cJSON_GetArraySize(up) != n)
    return fail(c, BAD,
                "malformed: sample.crown.maxpools[node %lld]: arg and upper must be arrays of %lld items",
                (long long)id, (long long)n);
  int rc = OK;
  int64_t o = 0;
  for (const cJSON *it = arg->child, *u = up->child; it && u && rc == OK; it = it->next, u = u->next, o++) {
    double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
    if (!(d >= 0 && d < (double)nin && d == (double)(int64_t)d))
      return fail(
          c, BAD,
          "malformed: sample.crown.maxpools[node %lld].arg: not an input index (node %lld, index %lld)",
          (long long)id, (long long)id, (long long)o);
    mp->arg[o] = (int64_t)d;
    if (cJSON_IsString(u) && !strcmp(u->valuestring, "exact")) {
      mp->exact[o] = 1;
      continue;
    }
    char where[96];
    snprintf(where, sizeof where, "sample.crown.maxpools[node %lld].upper", (long long)id);
    int inf = 0;
    rc = num_item(c, u, mp->c[o].q, &inf, 0, where, (long)o);
  }
  return rc;
}

/* sample.crown.maxpools (optional: a max pool without lines is concretised), each validated */
static int read_maxpools(ctx *c, crown *cr, const cJSON *mpj) {
  const cgraph *g = cr->s->g;
  if (!cJSON_IsArray(mpj))
    return fail(c, BAD, "malformed: sample.crown.maxpools must be an array");
  int nm = cJSON_GetArraySize(mpj);
  cr->mps = calloc((size_t)(nm ? nm : 1), sizeof *cr->mps);
  cr->mp_of = malloc((size_t)g->n * sizeof *cr->mp_of);
  if (!cr->mps || !cr->mp_of)
    return fail(c, BAD, "out of memory");
  for (int i = 0; i < g->n; i++)
    cr->mp_of[i] = -1;
  int mprev = -1, rc = OK;
  for (const cJSON *a = mpj->child; a && rc == OK; a = a->next) {
    int64_t id = 0;
    if (get_int(c, a, "node", "sample.crown.maxpools[]", 0, g->n - 1, &id))
      return BAD;
    if (g->nodes[id].op != OP_MAXPOOL || id <= mprev)
      return fail(c, BAD, "malformed: sample.crown.maxpools: node %lld is not a max pool in increasing order",
                  (long long)id);
    mprev = (int)id;
    cmpool *mp = &cr->mps[cr->nmps];
    int64_t n = g->nodes[id].numel;
    mp->node = (int)id;
    mp->arg = malloc((size_t)(n ? n : 1) * sizeof *mp->arg);
    mp->exact = calloc((size_t)(n ? n : 1), sizeof *mp->exact);
    mp->c = qv_new(n);
    cr->nmps++;
    if (!mp->arg || !mp->exact || !mp->c)
      return fail(c, BAD, "out of memory");
    rc = read_maxpool_lines(c, g, a, id, mp);
    if (rc == OK)
      rc = check_maxpool(c, cr, cr->nmps - 1);
    if (rc == OK)
      cr->mp_of[id] = cr->nmps - 1;
  }
  return rc;
}

/* sample.crown.activations: relaxation lines per activation node before the output, validated */
static int read_acts(ctx *c, crown *cr, const cJSON *acts) {
  const cgraph *g = cr->s->g;
  int prev = -1, rc = OK;
  for (cJSON *a = acts->child; a && rc == OK; a = a->next) {
    cact *ca = &cr->acts[cr->nacts];
    int64_t id = 0;
    if (get_int(c, a, "node", "sample.crown.activations[]", 0, g->n - 1, &id))
      return BAD;
    if (!is_act(g->nodes[id].op) || id <= prev || id >= g->output)
      return fail(c, BAD,
                  "malformed: sample.crown.activations: node %lld is not an activation in increasing order",
                  (long long)id);
    prev = (int)id;
    ca->node = (int)id;
    int64_t n = g->nodes[id].numel;
    ca->pre_lo = qv_new(n), ca->pre_hi = qv_new(n), ca->la = qv_new(n), ca->lb = qv_new(n),
    ca->ua = qv_new(n), ca->ub = qv_new(n);
    cr->nacts++;
    char where[80];
    snprintf(where, sizeof where, "sample.crown.activations[node %lld]", (long long)id);
    const char *nm[6] = {"pre_lo", "pre_hi", "la", "lb", "ua", "ub"};
    qv *arr[6] = {ca->pre_lo, ca->pre_hi, ca->la, ca->lb, ca->ua, ca->ub};
    for (int k = 0; k < 6 && rc == OK; k++)
      rc = arr[k] ? get_qarr(c, a, nm[k], where, n, arr[k], 1) : fail(c, BAD, "out of memory");
    if (rc == OK)
      rc = check_act(c, cr, cr->nacts - 1);
    if (rc == OK)
      cr->act_of[id] = cr->nacts - 1;
  }
  return rc;
}

/* CROWN: the certificate's max pool lines and relaxations validated, then a second backward pass;
 * der = the better of the IBP-folded and the CROWN bound per row */
static int crown_pass(ctx *c, crown *cr, const cJSON *sj, const prop *p, rows *r) {
  const cgraph *g = cr->s->g;
  int rc = OK;
  cr->act_of = malloc((size_t)g->n * sizeof *cr->act_of);
  for (int i = 0; cr->act_of && i < g->n; i++)
    cr->act_of[i] = -1;
  cJSON *cj = field(c, sj, "crown", "sample");
  cJSON *acts = cj ? field(c, cj, "activations", "sample.crown") : NULL;
  if (!cr->act_of)
    rc = fail(c, BAD, "out of memory");
  else if (!acts)
    rc = BAD;
  else if (!cJSON_IsArray(acts))
    rc = fail(c, BAD, "malformed: sample.crown.activations must be an array");
  /* max pool lines validated before the activations, whose CROWN re-derivations may cross them */
  const cJSON *mpj = rc == OK ? cJSON_GetObjectItemCaseSensitive(cj, "maxpools") : NULL;
  if (rc == OK && mpj)
    rc = read_maxpools(c, cr, mpj);
  int na = rc == OK ? cJSON_GetArraySize(acts) : 0;
  cr->acts = calloc((size_t)(na ? na : 1), sizeof *cr->acts);
  if (rc == OK)
    rc = read_acts(c, cr, acts);
  if (rc == OK)
    rc = backward(c, cr, g->output, p->nrows, r->A, r->der2, 0);
  for (int k = 0; rc == OK && k < p->nrows; k++)
    if (!r->der2[k].inf && (r->der[k].inf || mpq_cmp(r->der2[k].q, r->der[k].q) > 0)) {
      r->der[k].inf = 0;
      mpq_set(r->der[k].q, r->der2[k].q);
    }
  return rc;
}

static void crown_free(crown *cr, const cgraph *g) {
  for (int i = 0; i < cr->nacts; i++) {
    int64_t n = g->nodes[cr->acts[i].node].numel;
    qv_free(cr->acts[i].pre_lo, n), qv_free(cr->acts[i].pre_hi, n), qv_free(cr->acts[i].la, n);
    qv_free(cr->acts[i].lb, n), qv_free(cr->acts[i].ua, n), qv_free(cr->acts[i].ub, n);
  }
  free(cr->acts), free(cr->act_of);
  for (int i = 0; i < cr->nmps; i++) {
    free(cr->mps[i].arg), free(cr->mps[i].exact);
    qv_free(cr->mps[i].c, g->nodes[cr->mps[i].node].numel);
  }
  free(cr->mps), free(cr->mp_of);
}

int sample_verdict(const cJSON *sj) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(sj, "verdict");
  if (!cJSON_IsString(v))
    return VERDICT_BAD;
  return !strcmp(v->valuestring, "verified")    ? VERDICT_VERIFIED
         : !strcmp(v->valuestring, "falsified") ? VERDICT_FALSIFIED
         : !strcmp(v->valuestring, "unknown")   ? VERDICT_UNKNOWN
                                                : VERDICT_BAD;
}

/* the claimed row lower bounds against the re-derived ones, then the verdict: verified must follow
 * from the derived bounds, falsified is re-checked on its counterexample (claims.c) */
static int check_verdict(ctx *c, const cgraph *g, const cJSON *sj, const prop *p, const rows *r, int f32) {
  int out = g->output;
  for (int k = 0; k < p->nrows; k++) {
    if (r->claimed[k].inf == -1)
      continue;
    if (r->claimed[k].inf == 1 || r->der[k].inf || mpq_cmp(r->claimed[k].q, r->der[k].q) > 0)
      return fail(
          c, REJ,
          "REJECT: claimed lower bound of objective row above the re-derived bound (node %d, index %d)", out,
          k);
  }
  if (!field(c, sj, "verdict", "sample"))
    return BAD;
  int v = sample_verdict(sj);
  if (v == VERDICT_BAD)
    return fail(c, BAD, "malformed: sample.verdict must be verified, unknown or falsified");
  if (v == VERDICT_VERIFIED && !decide(p, r->der))
    return fail(c, REJ, "REJECT: the re-derived bounds do not prove the property (node %d, index 0)", out);
  if (v == VERDICT_FALSIFIED)
    return check_falsified(c, g, sj, p, f32);
  return OK;
}

/* region, property and boxes read; every node's box re-derived from its parents */
static int check_boxes(ctx *c, sample *s, const cJSON *sj, prop *p, int64_t nout) {
  const cgraph *g = s->g;
  int rc = read_boxes(c, s, sj);
  cJSON *rj = rc == OK ? field(c, sj, "region", "sample") : NULL;
  if (rc == OK)
    rc = rj ? check_region(c, rj, g, &s->b[g->input]) : BAD;
  cJSON *pj = rc == OK ? field(c, sj, "property", "sample") : NULL;
  if (rc == OK)
    rc = pj ? read_prop(c, pj, nout, p) : BAD;
  if (rc == OK)
    rc = check_label(c, pj, p);
  for (int i = 0; rc == OK && i < g->n; i++)
    if (g->nodes[i].op != OP_PARAM && g->nodes[i].op != OP_INPUT)
      rc = check_box(c, s, i);
  return rc;
}

/* a falsified sample whose bounds the fast path accepted: its property and label read, its
 * counterexample re-checked (claims.c) */
int check_falsified_claim(ctx *c, const cgraph *g, const cJSON *sj, int f32) {
  prop p;
  memset(&p, 0, sizeof p);
  cJSON *pj = field(c, sj, "property", "sample");
  int rc = pj ? read_prop(c, pj, g->nodes[g->output].numel, &p) : BAD;
  if (rc == OK)
    rc = check_label(c, pj, &p);
  if (rc == OK)
    rc = check_falsified(c, g, sj, &p, f32);
  prop_free(&p);
  return rc;
}

int check_sample(ctx *c, const cgraph *g, const cJSON *sj, int f32, int crown_m) {
  if (!g->exact)
    return fail(c, BAD, "internal: the exact weights were not built (graph_exact)");
  sample s;
  int rc = sample_init(c, &s, g, f32);
  crown cr = {&s, 0, NULL, NULL, 0, NULL, NULL};
  prop p;
  memset(&p, 0, sizeof p);
  int out = g->output;
  rows r = {g->nodes[out].numel, NULL, NULL, NULL, NULL};
  if (rc == OK)
    rc = check_boxes(c, &s, sj, &p, r.nout);
  /* objective rows and the final bounds */
  if (rc == OK)
    rc = rows_new(c, &p, &r);
  if (rc == OK)
    rc = get_qarr(c, sj, "row_lower", "sample", p.nrows, r.claimed, 1);
  if (rc == OK)
    rc = backward(c, &cr, out, p.nrows, r.A, r.der, 1);
  if (rc == OK && crown_m)
    rc = crown_pass(c, &cr, sj, &p, &r);
  if (rc == OK)
    rc = check_verdict(c, g, sj, &p, &r, f32);
  sample_free(&s);
  crown_free(&cr, g);
  rows_free(&p, &r);
  prop_free(&p);
  return rc;
}
