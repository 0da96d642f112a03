/* check.c - torchlean-check: the independent certificate checker (docs/certificates.md).
 *
 * Trusted base: this file, GMP, MPFR and cJSON.  It includes nothing from TorchLean: it reads the
 * embedded graph with its own reader and recomputes every step with exact rationals (GMP mpq);
 * sigmoid, tanh and batch-norm scales are enclosed with 128-bit MPFR directed rounding.  Never
 * round-to-nearest on a bound.
 *
 * Usage: torchlean-check CERT.json [--model MODEL]
 * Output: one line per sample ("sample I: ACCEPT" or "sample I: REJECT: reason (node N, index I)"),
 * then "ACCEPT" or "REJECT: ..." for the file.  Exit 0 accept, 1 reject, 2 malformed input.
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <gmp.h>
#include <mpfr.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ghash.h"

_Static_assert(sizeof(unsigned long) == 8 && sizeof(long) == 8, "GMP ui/si calls take 64-bit words here");

#define PREC 128
#define MAXDIM 8

enum { OK = 0, REJ = 1, BAD = 2 };

typedef struct ctx {
  int code;
  char msg[600];
} ctx;

static int fail(ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(ctx *c, int code, const char *fmt, ...) {
  if (c->code == OK) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->code = code;
  }
  return code;
}

/* ---- exact numbers -------------------------------------------------------------------------- */
/* A bound: a rational, or -inf/+inf (inf = -1/+1). */
typedef struct qv {
  mpq_t q;
  int inf;
  int dy;     /* 1: also known as dm 2^de (finite, dm odd or 0, |dm| < 2^63) */
  long de;
  int64_t dm;
} qv;

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* "[-]0xH[.H]p[+-]D", "p/q" or (allow_inf) "inf"/"-inf" -> exact value; 0 ok, -1 malformed */
static int parse_exact_dy(const char *s, mpq_t out, int *inf, int allow_inf, int *dy, long *de, int64_t *dm) {
  *inf = 0, *dy = 0;
  if (allow_inf && (!strcmp(s, "inf") || !strcmp(s, "+inf") || !strcmp(s, "-inf"))) {
    *inf = s[0] == '-' ? -1 : 1;
    mpq_set_ui(out, 0, 1);
    return 0;
  }
  const char *p = s;
  int neg = 0;
  if (*p == '-')
    neg = 1, p++;
  else if (*p == '+')
    p++;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    p += 2;
    mpz_t m;
    mpz_init(m);
    /* up to 15 hex digits accumulate in a machine word (binary64 needs 14); more go to m */
    uint64_t mw = 0;
    int nd = 0, frac = 0, infrac = 0, big = 0;
    for (; *p; p++) {
      if (*p == '.' && !infrac) {
        infrac = 1;
        continue;
      }
      int h = hexval((unsigned char)*p);
      if (h < 0)
        break;
      if (!big && mw >> 56 == 0) {
        mw = mw << 4 | (uint64_t)h;
      } else {
        if (!big)
          mpz_set_ui(m, (unsigned long)mw), big = 1; /* unsigned long: 64 bits (checked in cdefs) */
        mpz_mul_2exp(m, m, 4);
        mpz_add_ui(m, m, (unsigned)h);
      }
      nd++;
      frac += infrac;
      if (nd > 4096) {
        mpz_clear(m);
        return -1;
      }
    }
    long e = 0;
    if (*p == 'p' || *p == 'P') {
      p++;
      int en = 0, ed = 0;
      if (*p == '-')
        en = 1, p++;
      else if (*p == '+')
        p++;
      for (; *p >= '0' && *p <= '9'; p++, ed++) {
        e = e * 10 + (*p - '0');
        if (e > 100000) {
          mpz_clear(m);
          return -1;
        }
      }
      if (!ed) {
        mpz_clear(m);
        return -1;
      }
      if (en)
        e = -e;
    }
    if (*p || nd == 0) {
      mpz_clear(m);
      return -1;
    }
    e -= 4L * frac;
    if (!big) {
      while (mw && !(mw & 1))
        mw >>= 1, e++;
      *dy = 1, *dm = neg ? -(int64_t)mw : (int64_t)mw, *de = mw ? e : 0;
      mpz_set_ui(m, (unsigned long)mw);
    }
    mpq_set_z(out, m);
    if (e > 0)
      mpq_mul_2exp(out, out, (mp_bitcnt_t)e);
    else if (e < 0)
      mpq_div_2exp(out, out, (mp_bitcnt_t)-e);
    if (neg)
      mpq_neg(out, out);
    mpz_clear(m);
    return 0;
  }
  /* p/q */
  const char *slash = strchr(p, '/');
  if (!slash || slash == p || !slash[1] || strlen(p) > 4096)
    return -1;
  for (const char *t = p; *t; t++)
    if (!(t == slash || (*t >= '0' && *t <= '9')))
      return -1;
  if (mpq_set_str(out, p, 10) != 0 || mpz_sgn(mpq_denref(out)) == 0)
    return -1;
  mpq_canonicalize(out);
  if (neg)
    mpq_neg(out, out);
  return 0;
}

static int parse_exact(const char *s, mpq_t out, int *inf, int allow_inf) {
  int dy;
  long de;
  int64_t dm;
  return parse_exact_dy(s, out, inf, allow_inf, &dy, &de, &dm);
}

/* ---- JSON access with field paths in messages ------------------------------------------------ */
static cJSON *field(ctx *c, const cJSON *o, const char *name, const char *where) {
  cJSON *f = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
  if (!f)
    fail(c, BAD, "malformed: missing field \"%s\" in %s", name, where);
  return f;
}

static int get_int(ctx *c, const cJSON *o, const char *name, const char *where, int64_t lo, int64_t hi,
                   int64_t *out) {
  cJSON *f = field(c, o, name, where);
  if (!f)
    return BAD;
  if (!cJSON_IsNumber(f) || f->valuedouble != (double)(int64_t)f->valuedouble || f->valuedouble < (double)lo ||
      f->valuedouble > (double)hi)
    return fail(c, BAD, "malformed: field \"%s\" in %s must be an integer in [%lld, %lld]", name, where,
                (long long)lo, (long long)hi);
  *out = (int64_t)f->valuedouble;
  return OK;
}

static int num_item(ctx *c, const cJSON *it, mpq_t q, int *inf, int allow_inf, const char *what, long idx) {
  if (!cJSON_IsString(it) || parse_exact(it->valuestring, q, inf, allow_inf) != 0)
    return fail(c, BAD, "malformed number in %s at index %ld (want a hex-float string or \"p/q\")", what, idx);
  return OK;
}

static int get_num(ctx *c, const cJSON *o, const char *name, const char *where, mpq_t q) {
  cJSON *f = field(c, o, name, where);
  int inf;
  if (!f)
    return BAD;
  char w[200];
  snprintf(w, sizeof w, "%s.%s", where, name);
  return num_item(c, f, q, &inf, 0, w, 0);
}

/* array of exactly n numbers */
static int get_qarr(ctx *c, const cJSON *o, const char *name, const char *where, int64_t n, qv *out, int allow_inf) {
  cJSON *f = field(c, o, name, where);
  if (!f)
    return BAD;
  char w[200];
  snprintf(w, sizeof w, "%s.%s", where, name);
  if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != n)
    return fail(c, BAD, "malformed: %s must be an array of %lld numbers", w, (long long)n);
  long i = 0;
  for (cJSON *it = f->child; it; it = it->next, i++)
    if (!cJSON_IsString(it) ||
        parse_exact_dy(it->valuestring, out[i].q, &out[i].inf, allow_inf, &out[i].dy, &out[i].de, &out[i].dm) != 0)
      return fail(c, BAD, "malformed number in %s at index %ld (want a hex-float string or \"p/q\")", w, i);
  return OK;
}

static qv *qv_new(int64_t n) {
  qv *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  if (v)
    for (int64_t i = 0; i < n; i++)
      mpq_init(v[i].q), v[i].inf = 0, v[i].dy = 0;
  return v;
}
static void qv_free(qv *v, int64_t n) {
  if (!v)
    return;
  for (int64_t i = 0; i < n; i++)
    mpq_clear(v[i].q);
  free(v);
}

/* ---- the graph ---------------------------------------------------------------------------------- */
typedef enum {
  OP_INPUT, OP_PARAM, OP_LINEAR, OP_MATMUL, OP_CONV, OP_AVGPOOL, OP_GAP, OP_MAXPOOL, OP_FLATTEN, OP_RESHAPE,
  OP_DROPOUT, OP_NEG, OP_RELU, OP_LEAKY, OP_SIGMOID, OP_TANH, OP_CLAMP, OP_ADD, OP_SUB, OP_MUL, OP_BN, OP_N
} cop;
static const char *op_names[OP_N] = {"input", "param", "linear", "matmul", "conv2d", "avg_pool2d",
                                     "global_avg_pool", "max_pool2d", "flatten", "reshape", "dropout", "neg",
                                     "relu", "leaky_relu", "sigmoid", "tanh", "clamp", "add", "sub", "mul",
                                     "batch_norm"};

typedef struct cnode {
  cop op;
  int np, par[5];
  int nd;
  int64_t shape[MAXDIM], numel;
  qv *w;     /* PARAM data */
  float *wf; /* PARAM data as binary32 (sign of zero kept: the graph hash covers the bits) */
  mpz_t *wz; /* PARAM data as integers at the common scale 2^wze (when wzok: every weight was a hex float) */
  long wze;
  int wzok;
  int64_t kernel[2], stride[2], padding[2], dilation[2], groups;
  mpq_t alpha, clo, chi, eps;
} cnode;

typedef struct cgraph {
  int n, input, output;
  cnode *nodes;
} cgraph;

static void graph_free(cgraph *g) {
  for (int i = 0; i < g->n; i++) {
    cnode *n = &g->nodes[i];
    qv_free(n->w, n->numel);
    free(n->wf);
    for (int64_t e = 0; n->wz && e < n->numel; e++)
      mpz_clear(n->wz[e]);
    free(n->wz);
    mpq_clear(n->alpha), mpq_clear(n->clo), mpq_clear(n->chi), mpq_clear(n->eps);
  }
  free(g->nodes);
}

static int same_shape(const cnode *a, const cnode *b) {
  if (a->nd != b->nd)
    return 0;
  for (int i = 0; i < a->nd; i++)
    if (a->shape[i] != b->shape[i])
      return 0;
  return 1;
}

static int64_t win(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d) {
  if (k < 1 || s < 1 || p < 0 || d < 1)
    return -1;
  int64_t span = n + 2 * p - d * (k - 1) - 1;
  return span < 0 ? -1 : span / s + 1;
}

/* structural check of node i against its parents: shapes and attribute sanity */
static int check_struct(ctx *c, cgraph *g, int i) {
  cnode *n = &g->nodes[i];
  cnode *x = n->np > 0 ? &g->nodes[n->par[0]] : NULL;
  int ok = 1;
  switch (n->op) {
  case OP_INPUT: ok = n->np == 0 && i == g->input; break;
  case OP_PARAM: ok = n->np == 0; break;
  case OP_LINEAR: {
    cnode *w = &g->nodes[n->par[1]];
    ok = (n->np == 2 || n->np == 3) && w->op == OP_PARAM && w->nd == 2 && x->op != OP_PARAM && x->nd >= 1 &&
         x->shape[x->nd - 1] == w->shape[1] && n->nd == x->nd && n->shape[n->nd - 1] == w->shape[0];
    for (int k = 0; ok && k < x->nd - 1; k++)
      ok = n->shape[k] == x->shape[k];
    if (ok && n->np == 3) {
      cnode *b = &g->nodes[n->par[2]];
      ok = b->op == OP_PARAM && b->nd == 1 && b->shape[0] == w->shape[0];
    }
    break;
  }
  case OP_MATMUL: {
    cnode *w = &g->nodes[n->par[1]];
    ok = n->np == 2 && w->op == OP_PARAM && w->nd == 2 && x->op != OP_PARAM && x->nd >= 2 &&
         x->shape[x->nd - 1] == w->shape[0] && n->nd == x->nd && n->shape[n->nd - 1] == w->shape[1];
    for (int k = 0; ok && k < x->nd - 1; k++)
      ok = n->shape[k] == x->shape[k];
    break;
  }
  case OP_CONV:
  case OP_AVGPOOL:
  case OP_MAXPOOL: {
    ok = x->nd == 4 && n->nd == 4 && n->shape[0] == x->shape[0] && x->op != OP_PARAM;
    if (!ok)
      break;
    if (n->op == OP_CONV) {
      cnode *w = &g->nodes[n->par[1]];
      ok = (n->np == 2 || n->np == 3) && w->op == OP_PARAM && w->nd == 4 && n->groups >= 1 &&
           x->shape[1] % n->groups == 0 && w->shape[0] % n->groups == 0 && w->shape[1] * n->groups == x->shape[1] &&
           n->shape[1] == w->shape[0] && n->kernel[0] == w->shape[2] && n->kernel[1] == w->shape[3];
      if (ok && n->np == 3) {
        cnode *b = &g->nodes[n->par[2]];
        ok = b->op == OP_PARAM && b->nd == 1 && b->shape[0] == w->shape[0];
      }
    } else {
      ok = n->np == 1 && n->shape[1] == x->shape[1] && 2 * n->padding[0] <= n->kernel[0] &&
           2 * n->padding[1] <= n->kernel[1];
    }
    ok = ok && win(x->shape[2], n->kernel[0], n->stride[0], n->padding[0], n->dilation[0]) == n->shape[2] &&
         win(x->shape[3], n->kernel[1], n->stride[1], n->padding[1], n->dilation[1]) == n->shape[3];
    break;
  }
  case OP_GAP: ok = n->np == 1 && x->nd >= 3 && n->nd == 2 && n->shape[0] == x->shape[0] && n->shape[1] == x->shape[1]; break;
  case OP_FLATTEN:
  case OP_RESHAPE:
  case OP_DROPOUT: ok = n->np == 1 && n->numel == x->numel && (n->op != OP_DROPOUT || same_shape(n, x)); break;
  case OP_NEG:
  case OP_RELU:
  case OP_LEAKY:
  case OP_SIGMOID:
  case OP_TANH:
  case OP_CLAMP:
    ok = n->np == 1 && same_shape(n, x);
    if (ok && n->op == OP_LEAKY)
      ok = mpq_sgn(n->alpha) >= 0 && mpq_cmp_ui(n->alpha, 1, 1) <= 0;
    if (ok && n->op == OP_CLAMP)
      ok = mpq_cmp(n->clo, n->chi) <= 0;
    break;
  case OP_ADD:
  case OP_SUB:
  case OP_MUL: {
    cnode *y = &g->nodes[n->par[1]];
    ok = n->np == 2 && n->nd >= x->nd && n->nd >= y->nd;
    for (int k = 0; ok && k < n->nd; k++) {
      int64_t a = k - (n->nd - x->nd) >= 0 ? x->shape[k - (n->nd - x->nd)] : 1;
      int64_t b = k - (n->nd - y->nd) >= 0 ? y->shape[k - (n->nd - y->nd)] : 1;
      ok = (a == n->shape[k] || a == 1) && (b == n->shape[k] || b == 1) && (a == n->shape[k] || b == n->shape[k]);
    }
    break;
  }
  case OP_BN:
    ok = n->np == 5 && x->nd >= 2 && same_shape(n, x) && mpq_sgn(n->eps) > 0;
    for (int k = 1; ok && k < 5; k++) {
      cnode *p = &g->nodes[n->par[k]];
      ok = p->op == OP_PARAM && p->nd == 1 && p->shape[0] == x->shape[1];
    }
    break;
  default: ok = 0;
  }
  if (!ok)
    return fail(c, REJ, "REJECT: graph: node %d (%s) has shapes, parents or attributes that do not fit (node %d, index 0)",
                i, op_names[n->op], i);
  return OK;
}

static int read_int2(ctx *c, const cJSON *o, const char *name, const char *where, int64_t *v) {
  cJSON *f = field(c, o, name, where);
  if (!f)
    return BAD;
  if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != 2)
    return fail(c, BAD, "malformed: %s.%s must be two integers", where, name);
  for (int k = 0; k < 2; k++) {
    cJSON *it = cJSON_GetArrayItem(f, k);
    if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int64_t)it->valuedouble || it->valuedouble < 0 ||
        it->valuedouble > 1e6)
      return fail(c, BAD, "malformed: %s.%s[%d] must be a small non-negative integer", where, name, k);
    v[k] = (int64_t)it->valuedouble;
  }
  return OK;
}

static int read_graph(ctx *c, const cJSON *gj, cgraph *g) {
  memset(g, 0, sizeof *g);
  cJSON *nodes = field(c, gj, "nodes", "graph");
  if (!nodes)
    return BAD;
  if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) < 1 || cJSON_GetArraySize(nodes) > 100000)
    return fail(c, BAD, "malformed: graph.nodes must be a non-empty array");
  int nn = cJSON_GetArraySize(nodes);
  g->nodes = calloc((size_t)nn, sizeof *g->nodes);
  if (!g->nodes)
    return fail(c, BAD, "out of memory");
  for (int i = 0; i < nn; i++) {
    cnode *n = &g->nodes[i];
    mpq_init(n->alpha), mpq_init(n->clo), mpq_init(n->chi), mpq_init(n->eps);
  }
  g->n = nn;
  int64_t v;
  if (get_int(c, gj, "input", "graph", 0, nn - 1, &v) != OK)
    return BAD;
  g->input = (int)v;
  if (get_int(c, gj, "output", "graph", 0, nn - 1, &v) != OK)
    return BAD;
  g->output = (int)v;
  int i = 0;
  for (cJSON *o = nodes->child; o; o = o->next, i++) {
    cnode *n = &g->nodes[i];
    char where[64];
    snprintf(where, sizeof where, "graph.nodes[%d]", i);
    if (get_int(c, o, "id", where, i, i, &v) != OK)
      return BAD;
    cJSON *op = field(c, o, "op", where);
    if (!op)
      return BAD;
    int k;
    for (k = 0; k < OP_N; k++)
      if (cJSON_IsString(op) && !strcmp(op->valuestring, op_names[k]))
        break;
    if (k == OP_N)
      return fail(c, BAD, "malformed: %s.op: unknown or unsupported op", where);
    n->op = (cop)k;
    cJSON *par = field(c, o, "parents", where), *sh = field(c, o, "shape", where);
    if (!par || !sh)
      return BAD;
    if (!cJSON_IsArray(par) || cJSON_GetArraySize(par) > 5)
      return fail(c, BAD, "malformed: %s.parents must be an array of at most 5 ids", where);
    n->np = cJSON_GetArraySize(par);
    for (int p = 0; p < n->np; p++) {
      cJSON *it = cJSON_GetArrayItem(par, p);
      if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int)it->valuedouble || it->valuedouble < 0 ||
          it->valuedouble >= i)
        return fail(c, BAD, "malformed: %s.parents[%d] must be an earlier node id", where, p);
      n->par[p] = (int)it->valuedouble;
    }
    if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > MAXDIM)
      return fail(c, BAD, "malformed: %s.shape must be an array of at most %d sizes", where, MAXDIM);
    n->nd = cJSON_GetArraySize(sh);
    n->numel = 1;
    for (int d = 0; d < n->nd; d++) {
      cJSON *it = cJSON_GetArrayItem(sh, d);
      if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int64_t)it->valuedouble || it->valuedouble < 1 ||
          it->valuedouble > 1e8)
        return fail(c, BAD, "malformed: %s.shape[%d] must be a positive integer", where, d);
      n->shape[d] = (int64_t)it->valuedouble;
      n->numel *= n->shape[d];
      if (n->numel > 100000000)
        return fail(c, BAD, "malformed: %s: too many elements", where);
    }
    static const int np_min[OP_N] = {0, 0, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 5};
    static const int np_max[OP_N] = {0, 0, 3, 2, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 5};
    if (n->np < np_min[k] || n->np > np_max[k])
      return fail(c, BAD, "malformed: %s: op %s takes %d..%d parents", where, op_names[k], np_min[k], np_max[k]);
    n->dilation[0] = n->dilation[1] = 1, n->stride[0] = n->stride[1] = 1, n->groups = 1;
    if (n->op == OP_CONV || n->op == OP_AVGPOOL || n->op == OP_MAXPOOL) {
      if (read_int2(c, o, "kernel", where, n->kernel) || read_int2(c, o, "stride", where, n->stride) ||
          read_int2(c, o, "padding", where, n->padding) || read_int2(c, o, "dilation", where, n->dilation) ||
          get_int(c, o, "groups", where, 1, 1000000, &n->groups))
        return BAD;
    }
    if (n->op == OP_LEAKY && get_num(c, o, "alpha", where, n->alpha))
      return BAD;
    if (n->op == OP_CLAMP && (get_num(c, o, "lo", where, n->clo) || get_num(c, o, "hi", where, n->chi)))
      return BAD;
    if (n->op == OP_BN && get_num(c, o, "eps", where, n->eps))
      return BAD;
    if (n->op == OP_PARAM) {
      if (!(n->w = qv_new(n->numel)))
        return fail(c, BAD, "out of memory");
      if (get_qarr(c, o, "data", where, n->numel, n->w, 0))
        return BAD;
      /* weights are binary32 values; wf keeps the bits (strtod of the string: exact for hex floats,
       * keeps the sign of zero), cross-checked against the exact rational */
      if (!(n->wf = malloc((size_t)n->numel * sizeof *n->wf)))
        return fail(c, BAD, "out of memory");
      const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "data")->child;
      for (int64_t e = 0; e < n->numel; e++, it = it->next) {
        double d = mpq_get_d(n->w[e].q);
        float f = (float)d;
        mpq_t t;
        mpq_init(t);
        mpq_set_d(t, (double)f);
        int eq = mpq_equal(t, n->w[e].q) && d == d && f - f == 0;
        char *endp;
        double ds = strtod(it->valuestring, &endp);
        float fs = (float)ds;
        if (eq && !*endp && fs - fs == 0) {
          mpq_set_d(t, (double)fs);
          eq = mpq_equal(t, n->w[e].q) && (double)fs == ds;
        } else {
          eq = 0;
        }
        mpq_clear(t);
        if (!eq)
          return fail(c, REJ, "REJECT: weight is not a finite binary32 value (node %d, index %lld)", i, (long long)e);
        n->wf[e] = fs;
      }
      /* fixed point: every weight m 2^e as the integer m 2^(e - wze), wze the smallest exponent */
      n->wzok = 1;
      n->wze = LONG_MAX;
      for (int64_t e = 0; e < n->numel; e++) {
        n->wzok &= n->w[e].dy;
        if (n->w[e].dy && n->w[e].dm && n->w[e].de < n->wze)
          n->wze = n->w[e].de;
      }
      if (n->wze == LONG_MAX)
        n->wze = 0;
      if (n->wzok) {
        if (!(n->wz = malloc((size_t)n->numel * sizeof *n->wz)))
          return fail(c, BAD, "out of memory");
        for (int64_t e = 0; e < n->numel; e++) {
          mpz_init_set_si(n->wz[e], (long)n->w[e].dm);
          if (n->w[e].dm)
            mpz_mul_2exp(n->wz[e], n->wz[e], (mp_bitcnt_t)(n->w[e].de - n->wze));
        }
      }
    }
    if (check_struct(c, g, i))
      return c->code;
  }
  if (g->nodes[g->input].op != OP_INPUT)
    return fail(c, BAD, "malformed: graph.input names node %d, which is not an input", g->input);
  /* the graph's input and output lists (hashed) must agree with the fields the checker uses */
  cJSON *ins = field(c, gj, "inputs", "graph"), *outs = ins ? field(c, gj, "outputs", "graph") : NULL;
  if (!outs)
    return BAD;
  if (!cJSON_IsArray(ins) || cJSON_GetArraySize(ins) != 1 || !cJSON_IsNumber(ins->child) ||
      ins->child->valuedouble != g->input)
    return fail(c, BAD, "malformed: graph.inputs must be [graph.input]");
  if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) < 1 || !cJSON_IsNumber(outs->child) ||
      outs->child->valuedouble != g->output)
    return fail(c, BAD, "malformed: graph.outputs must start with graph.output");
  for (int k = 0; k < nn; k++)
    if (g->nodes[k].op == OP_INPUT && k != g->input)
      return fail(c, BAD, "malformed: graph has more than one input (node %d)", k);
  return OK;
}

/* ---- affine view ------------------------------------------------------------------------------ */
typedef struct caff {
  int64_t nout;
  int64_t *rp, *col;
  const mpq_t **w; /* weight pointer per term (NULL: weight 1) */
  int64_t *widx;   /* index of that weight in the weight param (-1: weight 1) */
  int64_t *div;    /* per output (1 for none) */
  int64_t *k;      /* roundings */
  int bias;        /* node of the bias, or -1 */
  int x;
} caff;

static void caff_free(caff *a) { free(a->rp), free(a->col), free(a->w), free(a->widx), free(a->div), free(a->k); }

static int is_affine(cop op) { return op == OP_LINEAR || op == OP_MATMUL || op == OP_CONV || op == OP_AVGPOOL || op == OP_GAP; }

static int caff_build(ctx *c, const cgraph *g, int id, caff *a) {
  const cnode *n = &g->nodes[id], *x = &g->nodes[n->par[0]];
  memset(a, 0, sizeof *a);
  a->x = n->par[0];
  a->bias = (n->op == OP_LINEAR || n->op == OP_CONV) && n->np == 3 ? n->par[2] : -1;
  int64_t per = 1;
  const cnode *w = n->op == OP_LINEAR || n->op == OP_MATMUL || n->op == OP_CONV ? &g->nodes[n->par[1]] : NULL;
  if (n->op == OP_LINEAR)
    per = w->shape[1];
  else if (n->op == OP_MATMUL)
    per = w->shape[0];
  else if (n->op == OP_CONV)
    per = w->shape[1] * n->kernel[0] * n->kernel[1];
  else if (n->op == OP_AVGPOOL)
    per = n->kernel[0] * n->kernel[1];
  else
    per = x->numel / n->numel;
  int64_t nnz = per * n->numel;
  a->nout = n->numel;
  a->rp = malloc((size_t)(n->numel + 1) * sizeof *a->rp);
  a->col = malloc((size_t)(nnz ? nnz : 1) * sizeof *a->col);
  a->w = malloc((size_t)(nnz ? nnz : 1) * sizeof *a->w);
  a->widx = malloc((size_t)(nnz ? nnz : 1) * sizeof *a->widx);
  a->div = malloc((size_t)n->numel * sizeof *a->div);
  a->k = malloc((size_t)n->numel * sizeof *a->k);
  if (!a->rp || !a->col || !a->w || !a->widx || !a->div || !a->k)
    return fail(c, BAD, "out of memory");
  int64_t t = 0;
  for (int64_t o = 0; o < n->numel; o++) {
    a->rp[o] = t;
    a->div[o] = 1;
    if (n->op == OP_LINEAR || n->op == OP_MATMUL) {
      int64_t last = n->shape[n->nd - 1], r = o / last, j = o % last;
      for (int64_t i = 0; i < per; i++, t++) {
        a->col[t] = r * per + i;
        a->widx[t] = n->op == OP_LINEAR ? j * per + i : i * last + j;
        a->w[t] = (const mpq_t *)&w->w[a->widx[t]].q;
      }
      a->k[o] = per + (a->bias >= 0);
    } else if (n->op == OP_GAP) {
      for (int64_t i = 0; i < per; i++, t++)
        a->col[t] = o * per + i, a->w[t] = NULL, a->widx[t] = -1;
      a->div[o] = per, a->k[o] = per + 1;
    } else {
      int conv = n->op == OP_CONV;
      int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3], O = n->shape[1], Ho = n->shape[2], Wo = n->shape[3];
      int64_t j = o % Wo, i = (o / Wo) % Ho, oc = (o / (Wo * Ho)) % O, b = o / (Wo * Ho * O);
      int64_t cpg = conv ? C / n->groups : 1, opg = conv ? O / n->groups : 1;
      for (int64_t ci = 0; ci < cpg; ci++)
        for (int64_t p = 0; p < n->kernel[0]; p++)
          for (int64_t q = 0; q < n->kernel[1]; q++) {
            int64_t hh = i * n->stride[0] - n->padding[0] + p * n->dilation[0];
            int64_t ww = j * n->stride[1] - n->padding[1] + q * n->dilation[1];
            if (hh < 0 || hh >= H || ww < 0 || ww >= W)
              continue;
            int64_t ch = conv ? (oc / opg) * cpg + ci : oc;
            a->col[t] = ((b * C + ch) * H + hh) * W + ww;
            a->widx[t] = conv ? ((oc * cpg + ci) * n->kernel[0] + p) * n->kernel[1] + q : -1;
            a->w[t] = conv ? (const mpq_t *)&w->w[a->widx[t]].q : NULL;
            t++;
          }
      if (!conv)
        a->div[o] = n->kernel[0] * n->kernel[1];
      a->k[o] = per + (a->bias >= 0) + (!conv);
    }
  }
  a->rp[n->numel] = t;
  return OK;
}

/* ---- f32-any constants --------------------------------------------------------------------- */
static void set_pow2(mpq_t q, long e) {
  mpq_set_ui(q, 1, 1);
  if (e > 0)
    mpq_mul_2exp(q, q, (mp_bitcnt_t)e);
  else
    mpq_div_2exp(q, q, (mp_bitcnt_t)-e);
}
/* gamma_k = k u / (1 - k u) */
static void gamma_q(mpq_t gq, int64_t k) {
  mpq_t ku, den;
  mpq_init(ku), mpq_init(den);
  mpq_set_si(ku, k, 1);
  mpq_div_2exp(ku, ku, 24);
  mpq_set_ui(den, 1, 1);
  mpq_sub(den, den, ku);
  mpq_div(gq, ku, den);
  mpq_clear(ku), mpq_clear(den);
}

/* ---- per-sample state ------------------------------------------------------------------------ */
typedef struct box {
  qv *lo, *hi;
  int unb; /* some element infinite: the whole node counts as unbounded */
} box;

typedef struct sample {
  const cgraph *g;
  int f32;
  box *b;            /* cert boxes (params: their data) */
  mpq_t flt_max;
  mpq_t **E;         /* f32-any: per node, its error radius from check_box (NULL: none or unbounded) */
  unsigned char *eunb, *eover; /* per node: a parent unbounded / node_err found possible overflow */
} sample;

static int box_unb(const box *b, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (b->lo[i].inf || b->hi[i].inf)
      return 1;
  return 0;
}

static void qabsmax(mpq_t r, const qv *l, const qv *h) {
  mpq_t a;
  mpq_init(a);
  mpq_abs(r, l->q);
  mpq_abs(a, h->q);
  if (mpq_cmp(a, r) > 0)
    mpq_set(r, a);
  mpq_clear(a);
}

/* monotone sigmoid/tanh values as rational bounds, 128-bit MPFR */
static void act_bound(mpq_t r, cop op, const mpq_t x, int up) {
  mpfr_t t;
  mpfr_init2(t, PREC);
  mpfr_set_q(t, x, up ? MPFR_RNDU : MPFR_RNDD);
  if (op == OP_TANH) {
    mpfr_tanh(t, t, up ? MPFR_RNDU : MPFR_RNDD);
  } else {
    mpfr_neg(t, t, MPFR_RNDN);
    mpfr_exp(t, t, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_add_ui(t, t, 1, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_ui_div(t, 1, t, up ? MPFR_RNDU : MPFR_RNDD);
  }
  mpfr_get_q(r, t);
  mpfr_clear(t);
}

/* lower bound of f'(x) */
static void act_deriv_low(mpq_t r, cop op, const mpq_t x) {
  mpq_t lo, hi, t;
  mpq_init(lo), mpq_init(hi), mpq_init(t);
  act_bound(lo, op, x, 0), act_bound(hi, op, x, 1);
  if (op == OP_TANH) {
    mpq_mul(lo, lo, lo), mpq_mul(hi, hi, hi);
    mpq_set_ui(r, 1, 1);
    mpq_sub(r, r, mpq_cmp(lo, hi) > 0 ? lo : hi);
  } else {
    mpq_set_ui(t, 1, 1);
    mpq_sub(t, t, hi);
    mpq_mul(r, lo, t);
  }
  if (mpq_sgn(r) < 0)
    mpq_set_ui(r, 0, 1);
  mpq_clear(lo), mpq_clear(hi), mpq_clear(t);
}

/* batch norm scale enclosure */
static void bn_scale(const sample *s, const cnode *n, int64_t ch, mpq_t slo, mpq_t shi) {
  const cgraph *g = s->g;
  const mpq_t *gm = (const mpq_t *)&g->nodes[n->par[1]].w[ch].q, *var = (const mpq_t *)&g->nodes[n->par[4]].w[ch].q;
  mpfr_t a, b;
  mpfr_init2(a, PREC), mpfr_init2(b, PREC);
  int gpos = mpq_sgn(*gm) >= 0;
  for (int up = 0; up < 2; up++) {
    int sq_up = gpos ? !up : up;
    mpq_t t;
    mpq_init(t);
    mpq_add(t, *var, n->eps);
    mpfr_set_q(a, t, sq_up ? MPFR_RNDU : MPFR_RNDD);
    mpfr_sqrt(a, a, sq_up ? MPFR_RNDU : MPFR_RNDD);
    mpfr_set_q(b, *gm, MPFR_RNDN); /* a binary32: exact at 128 bits */
    mpfr_div(b, b, a, up ? MPFR_RNDU : MPFR_RNDD);
    mpfr_get_q(up ? shi : slo, b);
    mpq_clear(t);
  }
  mpfr_clear(a), mpfr_clear(b);
}

static int64_t bn_channel(const cnode *n, int64_t o) {
  int64_t inner = 1;
  for (int i = 2; i < n->nd; i++)
    inner *= n->shape[i];
  return (o / inner) % n->shape[1];
}

static int64_t bc_index(const cnode *n, const cnode *p, int64_t o) {
  int64_t idx = 0, stride = 1;
  for (int i = n->nd - 1; i >= 0; i--) {
    int64_t d = o % n->shape[i];
    o /= n->shape[i];
    int pi = i - (n->nd - p->nd);
    if (pi >= 0) {
      if (p->shape[pi] != 1)
        idx += d * stride;
      stride *= p->shape[pi];
    }
  }
  return idx;
}

static void qmin2(mpq_t r, const mpq_t a, const mpq_t b) { mpq_set(r, mpq_cmp(a, b) <= 0 ? a : b); }
static void qmax2(mpq_t r, const mpq_t a, const mpq_t b) { mpq_set(r, mpq_cmp(a, b) >= 0 ? a : b); }

/* [rl, rh] = [al, ah] * [bl, bh] */
static void imul(mpq_t rl, mpq_t rh, const mpq_t al, const mpq_t ah, const mpq_t bl, const mpq_t bh) {
  mpq_t p[4];
  for (int i = 0; i < 4; i++)
    mpq_init(p[i]);
  mpq_mul(p[0], al, bl), mpq_mul(p[1], al, bh), mpq_mul(p[2], ah, bl), mpq_mul(p[3], ah, bh);
  mpq_set(rl, p[0]), mpq_set(rh, p[0]);
  for (int i = 1; i < 4; i++) {
    if (mpq_cmp(p[i], rl) < 0)
      mpq_set(rl, p[i]);
    if (mpq_cmp(p[i], rh) > 0)
      mpq_set(rh, p[i]);
  }
  for (int i = 0; i < 4; i++)
    mpq_clear(p[i]);
}

/* f32-any error parameters of an elementwise op */
static void elem_relabs(cop op, mpq_t rel, mpq_t eabs) {
  mpq_set_ui(rel, 0, 1), mpq_set_ui(eabs, 0, 1);
  switch (op) {
  case OP_LEAKY: mpq_set_ui(rel, 3, 1), mpq_div_2exp(rel, rel, 24), set_pow2(eabs, -150); break;
  case OP_SIGMOID:
  case OP_TANH: mpq_set_ui(rel, 3, 1), mpq_div_2exp(rel, rel, 22), set_pow2(eabs, -125); break; /* 3 2^-22 */
  case OP_CLAMP:
  case OP_MUL: set_pow2(rel, -24), set_pow2(eabs, -150); break;
  case OP_ADD:
  case OP_SUB: set_pow2(rel, -24); break;
  default: break;
  }
}

/* mpz value v 2^P -> exact rational */
static void z_to_q(mpq_t q, const mpz_t v, long P) {
  mpq_set_z(q, v);
  if (P > 0)
    mpq_mul_2exp(q, q, (mp_bitcnt_t)P);
  else if (P < 0)
    mpq_div_2exp(q, q, (mp_bitcnt_t)-P);
}

/* Exact fixed-point affine image: when every element of the parent box and every weight is a
 * dyadic m 2^e read from a hex float, each is an integer at a common scale (2^ex for the box,
 * 2^wze for the weights), so every product w x is an integer multiple of 2^(ex + wze) and each
 * output's sums are exact integer dot products (one mpz_addmul per term, no gcd).  Fills lo/hi
 * (before division by the window size, then divided exactly as rationals) and, if S != NULL,
 * S[o] = sum |w| max(|xlo|, |xhi|) (without the bias).  Returns 1 if done, 0 if some number is
 * not dyadic (the caller then uses the rational path). */
static int affine_fast(ctx *c, sample *s, int id, const caff *a, qv *lo, qv *hi, mpq_t *S, int *rc) {
  const cgraph *g = s->g;
  const cnode *n = &g->nodes[id];
  const cnode *w = n->op == OP_LINEAR || n->op == OP_MATMUL || n->op == OP_CONV ? &g->nodes[n->par[1]] : NULL;
  *rc = OK;
  if (w && !w->wzok)
    return 0;
  const box *x = &s->b[a->x];
  int64_t nx = g->nodes[a->x].numel;
  long ex = LONG_MAX;
  for (int64_t i = 0; i < nx; i++) {
    const qv *l = &x->lo[i], *h = &x->hi[i];
    if (!l->dy || !h->dy || l->inf || h->inf)
      return 0;
    if (l->dm && l->de < ex)
      ex = l->de;
    if (h->dm && h->de < ex)
      ex = h->de;
  }
  if (ex == LONG_MAX)
    ex = 0;
  mpz_t *X = malloc((size_t)(3 * nx) * sizeof *X);
  if (!X) {
    *rc = fail(c, BAD, "out of memory");
    return 1;
  }
  mpz_t *XL = X, *XH = X + nx, *XA = X + 2 * nx;
  for (int64_t i = 0; i < nx; i++) {
    const qv *l = &x->lo[i], *h = &x->hi[i];
    mpz_init_set_si(XL[i], (long)l->dm);
    if (l->dm)
      mpz_mul_2exp(XL[i], XL[i], (mp_bitcnt_t)(l->de - ex));
    mpz_init_set_si(XH[i], (long)h->dm);
    if (h->dm)
      mpz_mul_2exp(XH[i], XH[i], (mp_bitcnt_t)(h->de - ex));
    mpz_init(XA[i]);
    if (mpz_cmpabs(XL[i], XH[i]) > 0)
      mpz_abs(XA[i], XL[i]);
    else
      mpz_abs(XA[i], XH[i]);
  }
  long P = ex + (w ? w->wze : 0);
  mpz_t al, ah, as;
  mpz_init(al), mpz_init(ah), mpz_init(as);
  mpq_t t;
  mpq_init(t);
  for (int64_t o = 0; o < a->nout; o++) {
    mpz_set_ui(al, 0), mpz_set_ui(ah, 0), mpz_set_ui(as, 0);
    for (int64_t k = a->rp[o]; k < a->rp[o + 1]; k++) {
      int64_t j = a->col[k];
      if (!w) {
        mpz_add(al, al, XL[j]), mpz_add(ah, ah, XH[j]);
        if (S)
          mpz_add(as, as, XA[j]);
        continue;
      }
      const mpz_t *W = (const mpz_t *)&w->wz[a->widx[k]];
      int sg = mpz_sgn(*W);
      if (sg > 0) {
        mpz_addmul(al, *W, XL[j]), mpz_addmul(ah, *W, XH[j]);
        if (S)
          mpz_addmul(as, *W, XA[j]);
      } else if (sg < 0) {
        mpz_addmul(al, *W, XH[j]), mpz_addmul(ah, *W, XL[j]);
        if (S)
          mpz_submul(as, *W, XA[j]);
      }
    }
    z_to_q(lo[o].q, al, P), z_to_q(hi[o].q, ah, P);
    if (S)
      z_to_q(S[o], as, P);
    if (a->bias >= 0) {
      mpq_srcptr b = g->nodes[a->bias].w[n->op == OP_CONV ? (o / (n->shape[2] * n->shape[3])) % n->shape[1]
                                                          : o % n->shape[n->nd - 1]].q;
      mpq_add(lo[o].q, lo[o].q, b), mpq_add(hi[o].q, hi[o].q, b);
    }
    if (a->div[o] != 1) {
      mpq_set_si(t, a->div[o], 1);
      mpq_div(lo[o].q, lo[o].q, t), mpq_div(hi[o].q, hi[o].q, t);
    }
  }
  mpq_clear(t);
  mpz_clear(al), mpz_clear(ah), mpz_clear(as);
  for (int64_t i = 0; i < 3 * nx; i++)
    mpz_clear(X[i]);
  free(X);
  return 1;
}

/* exact real image of node id from the parents' certificate boxes (no f32 widening);
 * *unb = 1 when a parent is unbounded.  For affine nodes, S (if not NULL) receives
 * sum |w| max|x| per output (without the bias), for node_err. */
static int derive_real(ctx *c, sample *s, int id, qv *lo, qv *hi, int *unb, mpq_t *S) {
  const cgraph *g = s->g;
  const cnode *n = &g->nodes[id];
  *unb = 0;
  for (int k = 0; k < n->np; k++)
    if (s->b[n->par[k]].unb) {
      *unb = 1;
      return OK;
    }
  const box *x = n->np ? &s->b[n->par[0]] : NULL;
  mpq_t t, u;
  mpq_init(t), mpq_init(u);
  int rc = OK;
  if (is_affine(n->op)) {
    caff a;
    rc = caff_build(c, g, id, &a);
    int done = 0;
    if (rc == OK)
      done = affine_fast(c, s, id, &a, lo, hi, S, &rc);
    for (int64_t o = 0; rc == OK && !done && o < a.nout; o++) {
      if (a.bias >= 0)
        mpq_set(lo[o].q, g->nodes[a.bias].w[n->op == OP_CONV ? (o / (n->shape[2] * n->shape[3])) % n->shape[1]
                                                           : o % n->shape[n->nd - 1]].q);
      else
        mpq_set_ui(lo[o].q, 0, 1);
      mpq_set(hi[o].q, lo[o].q);
      if (S)
        mpq_set_ui(S[o], 0, 1);
      for (int64_t k = a.rp[o]; k < a.rp[o + 1]; k++) {
        const qv *xl = &x->lo[a.col[k]], *xh = &x->hi[a.col[k]];
        if (S) { /* S += |w| max|x| */
          qabsmax(t, xl, xh);
          if (a.w[k]) {
            mpq_abs(u, *a.w[k]);
            mpq_mul(t, t, u);
          }
          mpq_add(S[o], S[o], t);
        }
        if (!a.w[k]) {
          mpq_add(lo[o].q, lo[o].q, xl->q), mpq_add(hi[o].q, hi[o].q, xh->q);
          continue;
        }
        int neg = mpq_sgn(*a.w[k]) < 0;
        mpq_mul(t, *a.w[k], neg ? xh->q : xl->q);
        mpq_add(lo[o].q, lo[o].q, t);
        mpq_mul(t, *a.w[k], neg ? xl->q : xh->q);
        mpq_add(hi[o].q, hi[o].q, t);
      }
      if (a.div[o] != 1) {
        mpq_set_si(t, a.div[o], 1);
        mpq_div(lo[o].q, lo[o].q, t), mpq_div(hi[o].q, hi[o].q, t);
      }
    }
    caff_free(&a);
    mpq_clear(t), mpq_clear(u);
    return rc;
  }
  switch (n->op) {
  case OP_FLATTEN:
  case OP_RESHAPE:
  case OP_DROPOUT:
    for (int64_t i = 0; i < n->numel; i++)
      mpq_set(lo[i].q, x->lo[i].q), mpq_set(hi[i].q, x->hi[i].q);
    break;
  case OP_NEG:
    for (int64_t i = 0; i < n->numel; i++)
      mpq_neg(lo[i].q, x->hi[i].q), mpq_neg(hi[i].q, x->lo[i].q);
    break;
  case OP_RELU:
  case OP_LEAKY:
    for (int64_t i = 0; i < n->numel; i++)
      for (int e = 0; e < 2; e++) {
        mpq_ptr r = e ? hi[i].q : lo[i].q;
        mpq_srcptr v = e ? x->hi[i].q : x->lo[i].q;
        if (mpq_sgn(v) >= 0)
          mpq_set(r, v);
        else if (n->op == OP_RELU)
          mpq_set_ui(r, 0, 1);
        else
          mpq_mul(r, v, n->alpha);
      }
    break;
  case OP_SIGMOID:
  case OP_TANH:
    for (int64_t i = 0; i < n->numel; i++)
      act_bound(lo[i].q, n->op, x->lo[i].q, 0), act_bound(hi[i].q, n->op, x->hi[i].q, 1);
    break;
  case OP_CLAMP:
    for (int64_t i = 0; i < n->numel; i++) {
      qmax2(lo[i].q, x->lo[i].q, n->clo), qmin2(lo[i].q, lo[i].q, n->chi);
      qmax2(hi[i].q, x->hi[i].q, n->clo), qmin2(hi[i].q, hi[i].q, n->chi);
    }
    break;
  case OP_MAXPOOL: {
    const cnode *xn = &g->nodes[n->par[0]];
    int64_t H = xn->shape[2], W = xn->shape[3], Ho = n->shape[2], Wo = n->shape[3];
    for (int64_t o = 0; o < n->numel; o++) {
      int64_t j = o % Wo, i = (o / Wo) % Ho, bc = o / (Wo * Ho);
      int first = 1;
      for (int64_t p = 0; p < n->kernel[0]; p++)
        for (int64_t q = 0; q < n->kernel[1]; q++) {
          int64_t hh = i * n->stride[0] - n->padding[0] + p * n->dilation[0];
          int64_t ww = j * n->stride[1] - n->padding[1] + q * n->dilation[1];
          if (hh < 0 || hh >= H || ww < 0 || ww >= W)
            continue;
          int64_t xi = (bc * H + hh) * W + ww;
          if (first || mpq_cmp(x->lo[xi].q, lo[o].q) > 0)
            mpq_set(lo[o].q, x->lo[xi].q);
          if (first || mpq_cmp(x->hi[xi].q, hi[o].q) > 0)
            mpq_set(hi[o].q, x->hi[xi].q);
          first = 0;
        }
      if (first)
        rc = fail(c, REJ, "REJECT: max pool window without an input element (node %d, index %lld)", id, (long long)o);
    }
    break;
  }
  case OP_ADD:
  case OP_SUB:
  case OP_MUL: {
    const box *y = &s->b[n->par[1]];
    const cnode *pa = &g->nodes[n->par[0]], *pb = &g->nodes[n->par[1]];
    for (int64_t o = 0; o < n->numel; o++) {
      int64_t i = bc_index(n, pa, o), j = bc_index(n, pb, o);
      if (n->op == OP_ADD)
        mpq_add(lo[o].q, x->lo[i].q, y->lo[j].q), mpq_add(hi[o].q, x->hi[i].q, y->hi[j].q);
      else if (n->op == OP_SUB)
        mpq_sub(lo[o].q, x->lo[i].q, y->hi[j].q), mpq_sub(hi[o].q, x->hi[i].q, y->lo[j].q);
      else
        imul(lo[o].q, hi[o].q, x->lo[i].q, x->hi[i].q, y->lo[j].q, y->hi[j].q);
    }
    break;
  }
  case OP_BN: {
    mpq_t sl, sh, dl, dh;
    mpq_init(sl), mpq_init(sh), mpq_init(dl), mpq_init(dh);
    for (int64_t o = 0; o < n->numel; o++) {
      int64_t ch = bn_channel(n, o);
      mpq_add(t, g->nodes[n->par[4]].w[ch].q, n->eps);
      if (mpq_sgn(t) <= 0) {
        rc = fail(c, REJ, "REJECT: batch norm variance + eps not positive (node %d, index %lld)", id, (long long)ch);
        break;
      }
      bn_scale(s, n, ch, sl, sh);
      mpq_sub(dl, x->lo[o].q, g->nodes[n->par[3]].w[ch].q);
      mpq_sub(dh, x->hi[o].q, g->nodes[n->par[3]].w[ch].q);
      imul(lo[o].q, hi[o].q, dl, dh, sl, sh);
      mpq_add(lo[o].q, lo[o].q, g->nodes[n->par[2]].w[ch].q);
      mpq_add(hi[o].q, hi[o].q, g->nodes[n->par[2]].w[ch].q);
    }
    mpq_clear(sl), mpq_clear(sh), mpq_clear(dl), mpq_clear(dh);
    break;
  }
  default: rc = fail(c, REJ, "REJECT: op %s has no interval rule (node %d, index 0)", op_names[n->op], id);
  }
  mpq_clear(t), mpq_clear(u);
  return rc;
}

/* f32-any error radius E[o] of node id (img: its real image; affine nodes use the parent box);
 * *over = 1 when a binary32 evaluation may overflow */
/* The f32-any batch-norm model (2^-20 relative) needs var + eps far from underflow (a subnormal
 * (float)eps is off by up to eta/2, relatively far more than u) and no overflowing intermediate in
 * any formula order.  Mirrors the verifier's guard: unbounded unless
 *   min(var + eps, var + fl(eps)) >= 2^-100  and
 *   2 ((max|x| + |mu| + 1) max(1, 1/sqrt(ve)) max(1, |gamma|) + |beta| + |var| + |eps| + 1) <= FLT_MAX,
 * with fl(eps) rounded down to binary32 and 1/sqrt(ve) rounded up. */
static int bn_may_misbehave(const sample *s, const cnode *n, int64_t ch, const box *x, int64_t o) {
  const cgraph *g = s->g;
  const mpq_t *gm = (const mpq_t *)&g->nodes[n->par[1]].w[ch].q, *beta = (const mpq_t *)&g->nodes[n->par[2]].w[ch].q;
  const mpq_t *mu = (const mpq_t *)&g->nodes[n->par[3]].w[ch].q, *var = (const mpq_t *)&g->nodes[n->par[4]].w[ch].q;
  mpfr_t f, r;
  mpfr_init2(f, 24), mpfr_init2(r, PREC);
  mpq_t ve, t, u, big;
  mpq_init(ve), mpq_init(t), mpq_init(u), mpq_init(big);
  /* fl(eps) rounded down to binary32, subnormals included (quantum 2^-149 below 2^-126) */
  mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
  mpfr_set_emin(-148), mpfr_set_emax(128);
  int inex = mpfr_set_q(f, n->eps, MPFR_RNDD);
  mpfr_subnormalize(f, inex, MPFR_RNDD);
  mpfr_set_emin(emin), mpfr_set_emax(emax);
  mpfr_get_q(t, f);
  mpq_add(ve, *var, n->eps);
  mpq_add(t, *var, t);
  if (mpq_cmp(t, ve) < 0)
    mpq_set(ve, t);
  set_pow2(t, -100);
  int bad = mpq_cmp(ve, t) < 0;
  if (!bad) {
    mpfr_set_q(r, ve, MPFR_RNDD);
    mpfr_rec_sqrt(r, r, MPFR_RNDU);
    mpfr_get_q(u, r); /* >= 1/sqrt(ve) */
    if (mpq_cmp_ui(u, 1, 1) < 0)
      mpq_set_ui(u, 1, 1);
    qabsmax(big, &x->lo[o], &x->hi[o]);
    mpq_abs(t, *mu), mpq_add(big, big, t);
    mpq_set_ui(t, 1, 1), mpq_add(big, big, t);
    mpq_mul(big, big, u);
    mpq_abs(t, *gm);
    if (mpq_cmp_ui(t, 1, 1) > 0)
      mpq_mul(big, big, t);
    mpq_abs(t, *beta), mpq_add(big, big, t);
    mpq_abs(t, *var), mpq_add(big, big, t);
    mpq_abs(t, n->eps), mpq_add(big, big, t);
    mpq_set_ui(t, 1, 1), mpq_add(big, big, t);
    mpq_mul_2exp(big, big, 1);
    bad = mpq_cmp(big, s->flt_max) > 0;
  }
  mpq_clear(ve), mpq_clear(t), mpq_clear(u), mpq_clear(big);
  mpfr_clear(f), mpfr_clear(r);
  return bad;
}

static int node_err(ctx *c, sample *s, int id, const qv *ilo, const qv *ihi, mpq_t *E, int *over, const mpq_t *S) {
  const cgraph *g = s->g;
  const cnode *n = &g->nodes[id];
  *over = 0;
  mpq_t t, gk, rel, eabs, m;
  mpq_init(t), mpq_init(gk), mpq_init(rel), mpq_init(eabs), mpq_init(m);
  int rc = OK;
  if (is_affine(n->op)) {
    caff a;
    rc = caff_build(c, g, id, &a);
    const box *x = &s->b[a.x];
    for (int64_t o = 0; rc == OK && o < a.nout; o++) {
      mpq_set_ui(m, 0, 1); /* S = sum |w| max|x| + |b| */
      if (a.bias >= 0) {
        mpq_abs(t, g->nodes[a.bias].w[n->op == OP_CONV ? (o / (n->shape[2] * n->shape[3])) % n->shape[1]
                                                      : o % n->shape[n->nd - 1]].q);
        mpq_add(m, m, t);
      }
      if (S)
        mpq_add(m, m, S[o]);
      for (int64_t k = a.rp[o]; !S && k < a.rp[o + 1]; k++) {
        qabsmax(t, &x->lo[a.col[k]], &x->hi[a.col[k]]);
        if (a.w[k]) {
          mpq_abs(eabs, *a.w[k]);
          mpq_mul(t, t, eabs);
        }
        mpq_add(m, m, t);
      }
      gamma_q(gk, a.k[o]);
      /* overflow: (1 + gamma) S + k eta > FLT_MAX */
      mpq_set_ui(t, 1, 1);
      mpq_add(t, t, gk);
      mpq_mul(t, t, m);
      set_pow2(eabs, -149);
      mpq_set_si(rel, a.k[o], 1);
      mpq_mul(eabs, eabs, rel);
      mpq_add(t, t, eabs);
      if (mpq_cmp(t, s->flt_max) > 0)
        *over = 1;
      /* E = gamma S / div + k eta/2 (1 + gamma) */
      mpq_mul(E[o], gk, m);
      mpq_set_si(t, a.div[o], 1);
      mpq_div(E[o], E[o], t);
      set_pow2(eabs, -150);
      mpq_mul(eabs, eabs, rel);
      mpq_set_ui(t, 1, 1);
      mpq_add(t, t, gk);
      mpq_mul(eabs, eabs, t);
      mpq_add(E[o], E[o], eabs);
    }
    caff_free(&a);
  } else if (n->op == OP_BN) {
    const box *x = &s->b[n->par[0]];
    mpq_t sl, sh;
    mpq_init(sl), mpq_init(sh);
    for (int64_t o = 0; o < n->numel; o++) {
      int64_t ch = bn_channel(n, o);
      bn_scale(s, n, ch, sl, sh);
      mpq_abs(sl, sl), mpq_abs(sh, sh);
      qmax2(t, sl, sh);
      qabsmax(m, &x->lo[o], &x->hi[o]);
      mpq_abs(rel, g->nodes[n->par[3]].w[ch].q);
      mpq_add(m, m, rel);
      mpq_mul(t, t, m);
      mpq_abs(rel, g->nodes[n->par[2]].w[ch].q);
      mpq_add(t, t, rel);
      set_pow2(rel, -20);
      mpq_mul(E[o], t, rel);
      set_pow2(rel, -140);
      mpq_add(E[o], E[o], rel);
      if (bn_may_misbehave(s, n, ch, x, o))
        *over = 1; /* the 2^-20 model does not apply: the node must be unbounded */
    }
    mpq_clear(sl), mpq_clear(sh);
  } else {
    elem_relabs(n->op, rel, eabs);
    for (int64_t o = 0; o < n->numel; o++) {
      if (mpq_sgn(rel) == 0 && mpq_sgn(eabs) == 0) {
        mpq_set_ui(E[o], 0, 1);
        continue;
      }
      qabsmax(t, &ilo[o], &ihi[o]);
      mpq_mul(E[o], t, rel);
      mpq_add(E[o], E[o], eabs);
    }
  }
  mpq_clear(t), mpq_clear(gk), mpq_clear(rel), mpq_clear(eabs), mpq_clear(m);
  return rc;
}

static int is_act(cop op) { return op == OP_RELU || op == OP_LEAKY || op == OP_SIGMOID || op == OP_TANH; }

/* Check the certificate box of node id: it must contain the box re-derived from its parents'
 * certificate boxes. */
static int check_box(ctx *c, sample *s, int id) {
  const cnode *n = &s->g->nodes[id];
  box *b = &s->b[id];
  int64_t N = n->numel;
  qv *lo = qv_new(N), *hi = qv_new(N);
  mpq_t *E = malloc((size_t)N * sizeof *E);
  if (!lo || !hi || !E)
    return fail(c, BAD, "out of memory");
  for (int64_t i = 0; i < N; i++)
    mpq_init(E[i]);
  int unb = 0, over = 0;
  mpq_t *S = NULL, t;
  mpq_init(t);
  if (s->f32 && is_affine(n->op)) {
    if (!(S = malloc((size_t)N * sizeof *S)))
      return fail(c, BAD, "out of memory");
    for (int64_t i = 0; i < N; i++)
      mpq_init(S[i]);
  }
  int rc = derive_real(c, s, id, lo, hi, &unb, S);
  s->eunb[id] = (unsigned char)unb;
  if (rc == OK && !unb && s->f32) {
    rc = node_err(c, s, id, lo, hi, E, &over, S);
    s->eover[id] = (unsigned char)over;
    for (int64_t i = 0; rc == OK && i < N; i++) {
      mpq_sub(lo[i].q, lo[i].q, E[i]);
      mpq_add(hi[i].q, hi[i].q, E[i]);
      mpq_abs(t, lo[i].q);
      if (mpq_cmp(t, s->flt_max) > 0)
        over = 1;
      mpq_abs(t, hi[i].q);
      if (mpq_cmp(t, s->flt_max) > 0)
        over = 1;
    }
    if (rc == OK) { /* kept for the backward passes (same boxes, same radius) */
      s->E[id] = E;
      E = NULL;
    }
  }
  mpq_clear(t);
  for (int64_t i = 0; S && i < N; i++)
    mpq_clear(S[i]);
  free(S);
  if (rc == OK && (unb || over)) {
    for (int64_t i = 0; i < N && rc == OK; i++)
      if (b->lo[i].inf != -1 || b->hi[i].inf != 1)
        rc = fail(c, REJ, "REJECT: node may be unbounded (overflow or unbounded parent) but its box is finite "
                          "(node %d, index %lld)", id, (long long)i);
  }
  for (int64_t i = 0; rc == OK && !unb && !over && i < N; i++) {
    if (b->lo[i].inf == 1 || b->hi[i].inf == -1 || (!b->lo[i].inf && !b->hi[i].inf && mpq_cmp(b->lo[i].q, b->hi[i].q) > 0))
      rc = fail(c, REJ, "REJECT: empty box (node %d, index %lld)", id, (long long)i);
    else if (!b->lo[i].inf && mpq_cmp(b->lo[i].q, lo[i].q) > 0)
      rc = fail(c, REJ, "REJECT: lower bound above the re-derived bound (node %d, index %lld)", id, (long long)i);
    else if (!b->hi[i].inf && mpq_cmp(b->hi[i].q, hi[i].q) < 0)
      rc = fail(c, REJ, "REJECT: upper bound below the re-derived bound (node %d, index %lld)", id, (long long)i);
  }
  for (int64_t i = 0; E && i < N; i++)
    mpq_clear(E[i]);
  free(E);
  qv_free(lo, N), qv_free(hi, N);
  return rc;
}

/* ---- CROWN -------------------------------------------------------------------------------------- */
typedef struct cact {
  int node;
  qv *pre_lo, *pre_hi, *la, *lb, *ua, *ub;
} cact;

typedef struct crown {
  sample *s;
  int nacts;
  cact *acts;
  int *act_of; /* node -> act index or -1 (only once validated) */
} crown;

/* lower bound of rows A (m x numel(start)) over the region; fold: only start gets its rule */
static int backward(ctx *c, crown *cr, int start, int m, mpq_t *A, qv *lower, int fold) {
  sample *s = cr->s;
  const cgraph *g = s->g;
  mpq_t **L = calloc((size_t)g->n, sizeof *L);
  qv *cst = qv_new(m);
  mpq_t t, u, v;
  mpq_init(t), mpq_init(u), mpq_init(v);
  if (!L || !cst)
    return fail(c, BAD, "out of memory");
#define ALLOC_L(id)                                                                          \
  do {                                                                                       \
    if (!L[id]) {                                                                            \
      size_t nn_ = (size_t)m * (size_t)g->nodes[id].numel;                                   \
      L[id] = malloc(nn_ * sizeof(mpq_t));                                                   \
      if (!L[id]) {                                                                          \
        rc = fail(c, BAD, "out of memory");                                                  \
        break;                                                                               \
      }                                                                                      \
      for (size_t z_ = 0; z_ < nn_; z_++)                                                    \
        mpq_init(L[id][z_]);                                                                 \
    }                                                                                        \
  } while (0)
  int rc = OK;
  ALLOC_L(start);
  for (size_t z = 0; rc == OK && z < (size_t)m * (size_t)g->nodes[start].numel; z++)
    mpq_set(L[start][z], A[z]);
  for (int id = start; rc == OK && id >= 0; id--) {
    if (!L[id])
      continue;
    const cnode *n = &g->nodes[id];
    int64_t N = n->numel;
    mpq_t *lam = L[id];
    int pfin = 1;
    for (int k = 0; k < n->np; k++)
      pfin &= !s->b[n->par[k]].unb;
    int rule = pfin && !(fold && (id != start || !is_affine(n->op))) && n->op != OP_INPUT && n->op != OP_PARAM;
    if (rule && is_act(n->op) && cr->act_of[id] < 0)
      rule = 0;
    if (rule && (n->op == OP_MAXPOOL || n->op == OP_CLAMP))
      rule = 0;
    if (rule && n->op == OP_MUL && (g->nodes[n->par[0]].op == OP_PARAM) == (g->nodes[n->par[1]].op == OP_PARAM))
      rule = 0;
    if (!rule) { /* concretise on the node's certificate box */
      const box *b = &s->b[id];
      for (int k = 0; k < m; k++)
        for (int64_t i = 0; i < N && !cst[k].inf; i++) {
          mpq_srcptr l = lam[(size_t)k * N + i];
          if (mpq_sgn(l) == 0)
            continue;
          const qv *e = mpq_sgn(l) > 0 ? &b->lo[i] : &b->hi[i];
          if (e->inf) {
            cst[k].inf = -1;
            continue;
          }
          mpq_mul(t, l, e->q);
          mpq_add(cst[k].q, cst[k].q, t);
        }
    } else {
      /* f32-any: pay |lambda| E for rounding nodes */
      if (s->f32 && n->op != OP_RELU && n->op != OP_FLATTEN && n->op != OP_RESHAPE && n->op != OP_DROPOUT &&
          n->op != OP_NEG) {
        /* E as computed by check_box from the same certificate boxes */
        const mpq_t *E = (const mpq_t *)s->E[id];
        int unb = s->eunb[id], over = s->eover[id];
        if (!unb && !E)
          rc = fail(c, BAD, "internal: no error radius for node %d", id);
        for (int k = 0; rc == OK && !unb && k < m; k++)
          for (int64_t i = 0; i < N; i++) {
            mpq_abs(t, lam[(size_t)k * N + i]);
            mpq_mul(t, t, E[i]);
            mpq_sub(cst[k].q, cst[k].q, t);
          }
        if (unb || over)
          for (int k = 0; k < m; k++)
            cst[k].inf = -1;
      }
      if (rc == OK && is_affine(n->op)) {
        caff a;
        rc = caff_build(c, g, id, &a);
        if (rc == OK)
          ALLOC_L(a.x);
        int64_t nin = g->nodes[a.x].numel;
        for (int k = 0; rc == OK && k < m; k++)
          for (int64_t o = 0; o < N; o++) {
            mpq_srcptr l = lam[(size_t)k * N + o];
            if (mpq_sgn(l) == 0)
              continue;
            mpq_set_si(u, a.div[o], 1);
            mpq_div(u, l, u); /* l / div */
            for (int64_t q = a.rp[o]; q < a.rp[o + 1]; q++) {
              mpq_ptr dst = L[a.x][(size_t)k * nin + a.col[q]];
              if (a.w[q]) {
                mpq_mul(t, u, *a.w[q]);
                mpq_add(dst, dst, t);
              } else {
                mpq_add(dst, dst, u);
              }
            }
            if (a.bias >= 0) {
              mpq_mul(t, u, g->nodes[a.bias].w[n->op == OP_CONV ? (o / (n->shape[2] * n->shape[3])) % n->shape[1]
                                                               : o % n->shape[n->nd - 1]].q);
              mpq_add(cst[k].q, cst[k].q, t);
            }
          }
        caff_free(&a);
      } else if (rc == OK && (n->op == OP_FLATTEN || n->op == OP_RESHAPE || n->op == OP_DROPOUT || n->op == OP_NEG)) {
        ALLOC_L(n->par[0]);
        for (size_t z = 0; rc == OK && z < (size_t)m * (size_t)N; z++) {
          if (n->op == OP_NEG)
            mpq_sub(L[n->par[0]][z], L[n->par[0]][z], lam[z]);
          else
            mpq_add(L[n->par[0]][z], L[n->par[0]][z], lam[z]);
        }
      } else if (rc == OK && (n->op == OP_ADD || n->op == OP_SUB || n->op == OP_MUL)) {
        int p0 = n->par[0], p1 = n->par[1];
        int c0 = g->nodes[p0].op == OP_PARAM, c1 = g->nodes[p1].op == OP_PARAM;
        if (!c0)
          ALLOC_L(p0);
        if (rc == OK && !c1)
          ALLOC_L(p1);
        int64_t n0 = g->nodes[p0].numel, n1 = g->nodes[p1].numel;
        for (int k = 0; rc == OK && k < m; k++)
          for (int64_t o = 0; o < N; o++) {
            mpq_srcptr l = lam[(size_t)k * N + o];
            if (mpq_sgn(l) == 0)
              continue;
            int64_t i0 = bc_index(n, &g->nodes[p0], o), i1 = bc_index(n, &g->nodes[p1], o);
            if (n->op == OP_MUL) {
              if (c0) {
                mpq_mul(t, l, g->nodes[p0].w[i0].q);
                mpq_add(L[p1][(size_t)k * n1 + i1], L[p1][(size_t)k * n1 + i1], t);
              } else {
                mpq_mul(t, l, g->nodes[p1].w[i1].q);
                mpq_add(L[p0][(size_t)k * n0 + i0], L[p0][(size_t)k * n0 + i0], t);
              }
              continue;
            }
            if (c0) {
              mpq_mul(t, l, g->nodes[p0].w[i0].q);
              mpq_add(cst[k].q, cst[k].q, t);
            } else {
              mpq_add(L[p0][(size_t)k * n0 + i0], L[p0][(size_t)k * n0 + i0], l);
            }
            if (c1) {
              mpq_mul(t, l, g->nodes[p1].w[i1].q);
              if (n->op == OP_SUB)
                mpq_sub(cst[k].q, cst[k].q, t);
              else
                mpq_add(cst[k].q, cst[k].q, t);
            } else if (n->op == OP_SUB) {
              mpq_sub(L[p1][(size_t)k * n1 + i1], L[p1][(size_t)k * n1 + i1], l);
            } else {
              mpq_add(L[p1][(size_t)k * n1 + i1], L[p1][(size_t)k * n1 + i1], l);
            }
          }
      } else if (rc == OK && is_act(n->op)) {
        const cact *AC = &cr->acts[cr->act_of[id]];
        ALLOC_L(n->par[0]);
        for (int k = 0; rc == OK && k < m; k++)
          for (int64_t i = 0; i < N; i++) {
            size_t z = (size_t)k * N + i;
            int sg = mpq_sgn(lam[z]);
            if (sg == 0)
              continue;
            mpq_mul(t, lam[z], sg > 0 ? AC->la[i].q : AC->ua[i].q);
            mpq_add(L[n->par[0]][z], L[n->par[0]][z], t);
            mpq_mul(t, lam[z], sg > 0 ? AC->lb[i].q : AC->ub[i].q);
            mpq_add(cst[k].q, cst[k].q, t);
          }
      } else if (rc == OK && n->op == OP_BN) {
        ALLOC_L(n->par[0]);
        const box *x = &s->b[n->par[0]];
        mpq_t sl, sh;
        mpq_init(sl), mpq_init(sh);
        for (int64_t i = 0; rc == OK && i < N; i++) {
          int64_t ch = bn_channel(n, i);
          bn_scale(s, n, ch, sl, sh);
          for (int k = 0; k < m; k++) {
            size_t z = (size_t)k * N + i;
            if (mpq_sgn(lam[z]) == 0)
              continue;
            /* l s x >= l slo x - |l| (shi - slo) max|x| */
            mpq_mul(t, lam[z], sl);
            mpq_add(L[n->par[0]][z], L[n->par[0]][z], t);
            mpq_sub(t, sh, sl);
            mpq_abs(u, lam[z]);
            mpq_mul(t, t, u);
            qabsmax(u, &x->lo[i], &x->hi[i]);
            mpq_mul(t, t, u);
            mpq_sub(cst[k].q, cst[k].q, t);
            /* + l beta + min over s of (-l s mu) */
            mpq_mul(t, lam[z], g->nodes[n->par[2]].w[ch].q);
            mpq_add(cst[k].q, cst[k].q, t);
            mpq_mul(t, lam[z], sl);
            mpq_mul(t, t, g->nodes[n->par[3]].w[ch].q);
            mpq_neg(t, t);
            mpq_mul(u, lam[z], sh);
            mpq_mul(u, u, g->nodes[n->par[3]].w[ch].q);
            mpq_neg(u, u);
            qmin2(v, t, u);
            mpq_add(cst[k].q, cst[k].q, v);
          }
        }
        mpq_clear(sl), mpq_clear(sh);
      }
    }
    for (size_t z = 0; z < (size_t)m * (size_t)N; z++)
      mpq_clear(L[id][z]);
    free(L[id]);
    L[id] = NULL;
  }
#undef ALLOC_L
  for (int k = 0; k < m; k++) {
    lower[k].inf = cst[k].inf;
    mpq_set(lower[k].q, cst[k].q);
  }
  for (int id = 0; id < g->n; id++)
    if (L[id]) {
      for (size_t z = 0; z < (size_t)m * (size_t)g->nodes[id].numel; z++)
        mpq_clear(L[id][z]);
      free(L[id]);
    }
  free(L);
  qv_free(cst, m);
  mpq_clear(t), mpq_clear(u), mpq_clear(v);
  return rc;
}

/* value of the activation at x: exact for relu/leaky; for sigmoid/tanh a bound (up or down) */
static void act_val(const cnode *n, const mpq_t x, int up, mpq_t r) {
  if (n->op == OP_RELU || n->op == OP_LEAKY) {
    if (mpq_sgn(x) >= 0)
      mpq_set(r, x);
    else if (n->op == OP_RELU)
      mpq_set_ui(r, 0, 1);
    else
      mpq_mul(r, x, n->alpha);
    return;
  }
  act_bound(r, n->op, x, up);
}

/* line a x + b at x compared with f(x): lower line needs line <= f, upper line >= f */
static int line_ok_at(const cnode *n, const mpq_t a, const mpq_t b, const mpq_t x, int upper) {
  mpq_t l, f;
  mpq_init(l), mpq_init(f);
  mpq_mul(l, a, x);
  mpq_add(l, l, b);
  act_val(n, x, upper, f);
  int ok = upper ? mpq_cmp(l, f) >= 0 : mpq_cmp(l, f) <= 0;
  mpq_clear(l), mpq_clear(f);
  return ok;
}

/* Is the line a valid lower (upper) relaxation of the activation on [l, u]? */
static int line_valid(const cnode *n, const mpq_t a, const mpq_t b, const mpq_t l, const mpq_t u, int upper) {
  if (!line_ok_at(n, a, b, l, upper) || !line_ok_at(n, a, b, u, upper))
    return 0;
  if (n->op == OP_RELU || n->op == OP_LEAKY) { /* convex, kink at 0 */
    if (upper)
      return 1;
    mpq_t z;
    mpq_init(z);
    int ok = !(mpq_sgn(l) < 0 && mpq_sgn(u) > 0) || line_ok_at(n, a, b, z, 0);
    mpq_clear(z);
    return ok;
  }
  /* sigmoid/tanh: increasing, convex on x <= 0, concave on x >= 0 */
  if (mpq_sgn(a) <= 0)
    return 1; /* lower: line(x) <= line(l) <= f(l) <= f(x); upper: line(x) >= line(u) >= f(u) >= f(x) */
  if (!upper && mpq_sgn(l) >= 0)
    return 1; /* concave: endpoints suffice */
  if (upper && mpq_sgn(u) <= 0)
    return 1; /* convex: endpoints suffice */
  mpq_t d;
  mpq_init(d);
  int ok = 0;
  if (!upper && mpq_sgn(u) <= 0) { /* convex: slope at most f'(l) */
    act_deriv_low(d, n->op, l);
    ok = mpq_cmp(a, d) <= 0;
  } else if (upper && mpq_sgn(l) >= 0) { /* concave: slope at most f'(u) */
    act_deriv_low(d, n->op, u);
    ok = mpq_cmp(a, d) <= 0;
  }
  mpq_clear(d);
  return ok;
}

/* validate activation A: lines valid on [pre_lo, pre_hi], and the pre-activation values inside
 * [pre_lo, pre_hi] (by the parent's box, else by an exact CROWN pass from the parent) */
static int check_act(ctx *c, crown *cr, int ai) {
  cact *A = &cr->acts[ai];
  sample *s = cr->s;
  const cgraph *g = s->g;
  const cnode *n = &g->nodes[A->node];
  int p = n->par[0];
  const box *pb = &s->b[p];
  if (pb->unb)
    return fail(c, REJ, "REJECT: relaxation on an unbounded pre-activation (node %d, index 0)", A->node);
  int64_t N = n->numel;
  int rc = OK;
  for (int64_t i = 0; i < N && rc == OK; i++) {
    if (A->pre_lo[i].inf || A->pre_hi[i].inf || A->la[i].inf || A->lb[i].inf || A->ua[i].inf || A->ub[i].inf)
      return fail(c, REJ, "REJECT: infinite relaxation data (node %d, index %lld)", A->node, (long long)i);
    if (mpq_cmp(A->pre_lo[i].q, A->pre_hi[i].q) > 0)
      return fail(c, REJ, "REJECT: empty pre-activation interval (node %d, index %lld)", A->node, (long long)i);
    if (!line_valid(n, A->la[i].q, A->lb[i].q, A->pre_lo[i].q, A->pre_hi[i].q, 0))
      return fail(c, REJ, "REJECT: lower relaxation line is not below the activation (node %d, index %lld)", A->node,
                  (long long)i);
    if (!line_valid(n, A->ua[i].q, A->ub[i].q, A->pre_lo[i].q, A->pre_hi[i].q, 1))
      return fail(c, REJ, "REJECT: upper relaxation line is not above the activation (node %d, index %lld)", A->node,
                  (long long)i);
  }
  /* which bounds are tighter than the parent's box: those need a CROWN re-derivation */
  for (int side = 0; side < 2 && rc == OK; side++) {
    int64_t cnt = 0;
    for (int64_t i = 0; i < N; i++)
      cnt += side == 0 ? mpq_cmp(A->pre_lo[i].q, pb->lo[i].q) > 0 : mpq_cmp(A->pre_hi[i].q, pb->hi[i].q) < 0;
    if (!cnt)
      continue;
    int64_t *idx = malloc((size_t)cnt * sizeof *idx);
    size_t z = (size_t)cnt * (size_t)N;
    mpq_t *rows = malloc(z * sizeof *rows);
    qv *lw = qv_new(cnt);
    if (!idx || !rows || !lw)
      return fail(c, BAD, "out of memory");
    for (size_t q = 0; q < z; q++)
      mpq_init(rows[q]);
    int64_t k = 0;
    for (int64_t i = 0; i < N; i++)
      if (side == 0 ? mpq_cmp(A->pre_lo[i].q, pb->lo[i].q) > 0 : mpq_cmp(A->pre_hi[i].q, pb->hi[i].q) < 0) {
        idx[k] = i;
        mpq_set_si(rows[(size_t)k * N + i], side ? -1 : 1, 1);
        k++;
      }
    rc = backward(c, cr, p, (int)cnt, rows, lw, 0);
    for (int64_t q = 0; rc == OK && q < cnt; q++) {
      int64_t i = idx[q];
      if (lw[q].inf)
        rc = fail(c, REJ, "REJECT: pre-activation bound not re-derivable (node %d, index %lld)", p, (long long)i);
      else if (side == 0 && mpq_cmp(A->pre_lo[i].q, lw[q].q) > 0)
        rc = fail(c, REJ, "REJECT: pre-activation lower bound above the re-derived CROWN bound (node %d, index %lld)",
                  p, (long long)i);
      else if (side == 1) {
        mpq_neg(lw[q].q, lw[q].q);
        if (mpq_cmp(A->pre_hi[i].q, lw[q].q) < 0)
          rc = fail(c, REJ,
                    "REJECT: pre-activation upper bound below the re-derived CROWN bound (node %d, index %lld)", p,
                    (long long)i);
      }
    }
    for (size_t q = 0; q < z; q++)
      mpq_clear(rows[q]);
    free(rows), free(idx);
    qv_free(lw, cnt);
  }
  return rc;
}

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

typedef struct prop {
  int unsafe, nrows, nclauses;
  int64_t nout;
  mpq_t *cf; /* nrows x nout */
  mpq_t *d;
  int *strict, *cstart;
} prop;

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
    return fail(c, REJ, "REJECT: property refers to %lld outputs, the graph has %lld (node -1, index 0)", (long long)v,
                (long long)nout);
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
      if (!cJSON_IsArray(dom) || cJSON_GetArraySize(dom) != 2 || num_item(c, dom->child, dlo, &inf, 0, "region.domain", 0) ||
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
        rc = fail(c, REJ, "REJECT: region box lower end above the L_inf region (node %d, index %lld)", g->input,
                  (long long)i);
        break;
      }
      mpq_add(t, ctr[i].q, eps);
      if (clamp) {
        qmin2(t, t, dhi);
        qmax2(t, t, dlo);
      }
      if (mpq_cmp(hi[i].q, t) < 0)
        rc = fail(c, REJ, "REJECT: region box upper end below the L_inf region (node %d, index %lld)", g->input,
                  (long long)i);
    }
  }
  /* the input node's certificate box must contain the region box */
  for (int64_t i = 0; rc == OK && i < n; i++) {
    if ((!in->lo[i].inf && mpq_cmp(in->lo[i].q, lo[i].q) > 0) || in->lo[i].inf == 1)
      rc = fail(c, REJ, "REJECT: input box lower bound above the region (node %d, index %lld)", g->input, (long long)i);
    else if ((!in->hi[i].inf && mpq_cmp(in->hi[i].q, hi[i].q) < 0) || in->hi[i].inf == -1)
      rc = fail(c, REJ, "REJECT: input box upper bound below the region (node %d, index %lld)", g->input, (long long)i);
  }
  qv_free(lo, n), qv_free(hi, n), qv_free(ctr, n);
  mpq_clear(eps), mpq_clear(dlo), mpq_clear(dhi), mpq_clear(t);
  return rc;
}

static int check_sample(ctx *c, const cgraph *g, const cJSON *sj, int f32, int crown_m) {
  sample s;
  memset(&s, 0, sizeof s);
  s.g = g, s.f32 = f32;
  mpq_init(s.flt_max);
  mpq_set_ui(s.flt_max, 0xffffff, 1);
  mpq_mul_2exp(s.flt_max, s.flt_max, 104); /* (2^24 - 1) 2^104 */
  s.b = calloc((size_t)g->n, sizeof *s.b);
  s.E = calloc((size_t)g->n, sizeof *s.E);
  s.eunb = calloc((size_t)g->n, 1), s.eover = calloc((size_t)g->n, 1);
  crown cr = {&s, 0, NULL, NULL};
  prop p;
  memset(&p, 0, sizeof p);
  int out = g->output, rc = s.b && s.E && s.eunb && s.eover ? OK : fail(c, BAD, "out of memory");
  int64_t nout = g->nodes[out].numel;
  qv *claimed = NULL, *der = NULL, *der2 = NULL;
  mpq_t *A = NULL;
  /* boxes */
  for (int i = 0; rc == OK && i < g->n; i++) {
    const cnode *n = &g->nodes[i];
    if (n->op == OP_PARAM) {
      s.b[i].lo = s.b[i].hi = n->w;
      continue;
    }
    s.b[i].lo = qv_new(n->numel), s.b[i].hi = qv_new(n->numel);
    if (!s.b[i].lo || !s.b[i].hi)
      rc = fail(c, BAD, "out of memory");
  }
  cJSON *boxes = rc == OK ? field(c, sj, "boxes", "sample") : NULL;
  if (rc == OK && !boxes)
    rc = BAD;
  if (rc == OK && !cJSON_IsArray(boxes))
    rc = fail(c, BAD, "malformed: sample.boxes must be an array");
  unsigned char *seen = calloc((size_t)g->n, 1);
  for (cJSON *b = rc == OK ? boxes->child : NULL; b && rc == OK; b = b->next) {
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
    rc = get_qarr(c, b, "lo", where, g->nodes[id].numel, s.b[id].lo, 1);
    if (rc == OK)
      rc = get_qarr(c, b, "hi", where, g->nodes[id].numel, s.b[id].hi, 1);
  }
  for (int i = 0; rc == OK && i < g->n; i++) {
    if (g->nodes[i].op != OP_PARAM && !seen[i])
      rc = fail(c, BAD, "malformed: sample.boxes: no box for node %d", i);
    else if (g->nodes[i].op != OP_PARAM)
      s.b[i].unb = box_unb(&s.b[i], g->nodes[i].numel);
  }
  free(seen);
  cJSON *rj = rc == OK ? field(c, sj, "region", "sample") : NULL;
  if (rc == OK)
    rc = rj ? check_region(c, rj, g, &s.b[g->input]) : BAD;
  cJSON *pj = rc == OK ? field(c, sj, "property", "sample") : NULL;
  if (rc == OK)
    rc = pj ? read_prop(c, pj, nout, &p) : BAD;
  /* every node's box re-derived from its parents */
  for (int i = 0; rc == OK && i < g->n; i++)
    if (g->nodes[i].op != OP_PARAM && g->nodes[i].op != OP_INPUT)
      rc = check_box(c, &s, i);
  /* objective rows and the final bounds */
  if (rc == OK) {
    A = malloc((size_t)p.nrows * (size_t)nout * sizeof *A);
    claimed = qv_new(p.nrows), der = qv_new(p.nrows), der2 = qv_new(p.nrows);
    if (!A || !claimed || !der || !der2)
      rc = fail(c, BAD, "out of memory");
    for (size_t z = 0; A && z < (size_t)p.nrows * (size_t)nout; z++) {
      mpq_init(A[z]);
      if (p.unsafe)
        mpq_set(A[z], p.cf[z]);
      else
        mpq_neg(A[z], p.cf[z]);
    }
  }
  if (rc == OK)
    rc = get_qarr(c, sj, "row_lower", "sample", p.nrows, claimed, 1);
  if (rc == OK)
    rc = backward(c, &cr, out, p.nrows, A, der, 1);
  if (rc == OK && crown_m) {
    cr.act_of = malloc((size_t)g->n * sizeof *cr.act_of);
    for (int i = 0; cr.act_of && i < g->n; i++)
      cr.act_of[i] = -1;
    cJSON *cj = field(c, sj, "crown", "sample");
    cJSON *acts = cj ? field(c, cj, "activations", "sample.crown") : NULL;
    if (!cr.act_of)
      rc = fail(c, BAD, "out of memory");
    else if (!acts)
      rc = BAD;
    else if (!cJSON_IsArray(acts))
      rc = fail(c, BAD, "malformed: sample.crown.activations must be an array");
    int na = rc == OK ? cJSON_GetArraySize(acts) : 0;
    cr.acts = calloc((size_t)(na ? na : 1), sizeof *cr.acts);
    int prev = -1;
    for (cJSON *a = rc == OK ? acts->child : NULL; a && rc == OK; a = a->next) {
      cact *ca = &cr.acts[cr.nacts];
      int64_t id = 0;
      if (get_int(c, a, "node", "sample.crown.activations[]", 0, g->n - 1, &id)) {
        rc = BAD;
        break;
      }
      if (!is_act(g->nodes[id].op) || id <= prev || id >= out) {
        rc = fail(c, BAD, "malformed: sample.crown.activations: node %lld is not an activation in increasing order",
                  (long long)id);
        break;
      }
      prev = (int)id;
      ca->node = (int)id;
      int64_t n = g->nodes[id].numel;
      ca->pre_lo = qv_new(n), ca->pre_hi = qv_new(n), ca->la = qv_new(n), ca->lb = qv_new(n), ca->ua = qv_new(n),
      ca->ub = qv_new(n);
      cr.nacts++;
      char where[80];
      snprintf(where, sizeof where, "sample.crown.activations[node %lld]", (long long)id);
      const char *nm[6] = {"pre_lo", "pre_hi", "la", "lb", "ua", "ub"};
      qv *arr[6] = {ca->pre_lo, ca->pre_hi, ca->la, ca->lb, ca->ua, ca->ub};
      for (int k = 0; k < 6 && rc == OK; k++)
        rc = arr[k] ? get_qarr(c, a, nm[k], where, n, arr[k], 1) : fail(c, BAD, "out of memory");
      if (rc == OK)
        rc = check_act(c, &cr, cr.nacts - 1);
      if (rc == OK)
        cr.act_of[id] = cr.nacts - 1;
    }
    if (rc == OK)
      rc = backward(c, &cr, out, p.nrows, A, der2, 0);
    for (int k = 0; rc == OK && k < p.nrows; k++)
      if (!der2[k].inf && (der[k].inf || mpq_cmp(der2[k].q, der[k].q) > 0)) {
        der[k].inf = 0;
        mpq_set(der[k].q, der2[k].q);
      }
  }
  for (int k = 0; rc == OK && k < p.nrows; k++) {
    if (claimed[k].inf == -1)
      continue;
    if (claimed[k].inf == 1 || der[k].inf || mpq_cmp(claimed[k].q, der[k].q) > 0)
      rc = fail(c, REJ, "REJECT: claimed lower bound of objective row above the re-derived bound (node %d, index %d)",
                out, k);
  }
  if (rc == OK) {
    cJSON *v = field(c, sj, "verdict", "sample");
    if (!v)
      rc = BAD;
    else if (!cJSON_IsString(v) || (strcmp(v->valuestring, "verified") && strcmp(v->valuestring, "unknown") &&
                                    strcmp(v->valuestring, "falsified")))
      rc = fail(c, BAD, "malformed: sample.verdict must be verified, unknown or falsified");
    else if (!strcmp(v->valuestring, "verified") && !decide(&p, der))
      rc = fail(c, REJ, "REJECT: the re-derived bounds do not prove the property (node %d, index 0)", out);
  }
  /* cleanup */
  for (int i = 0; s.b && i < g->n; i++)
    if (g->nodes[i].op != OP_PARAM)
      qv_free(s.b[i].lo, g->nodes[i].numel), qv_free(s.b[i].hi, g->nodes[i].numel);
  free(s.b);
  for (int i = 0; s.E && i < g->n; i++)
    if (s.E[i]) {
      for (int64_t z = 0; z < g->nodes[i].numel; z++)
        mpq_clear(s.E[i][z]);
      free(s.E[i]);
    }
  free(s.E), free(s.eunb), free(s.eover);
  for (int i = 0; i < cr.nacts; i++) {
    int64_t n = g->nodes[cr.acts[i].node].numel;
    qv_free(cr.acts[i].pre_lo, n), qv_free(cr.acts[i].pre_hi, n), qv_free(cr.acts[i].la, n);
    qv_free(cr.acts[i].lb, n), qv_free(cr.acts[i].ua, n), qv_free(cr.acts[i].ub, n);
  }
  free(cr.acts), free(cr.act_of);
  for (size_t z = 0; A && z < (size_t)p.nrows * (size_t)nout; z++)
    mpq_clear(A[z]);
  free(A);
  qv_free(claimed, p.nrows), qv_free(der, p.nrows), qv_free(der2, p.nrows);
  prop_free(&p);
  mpq_clear(s.flt_max);
  return rc;
}

/* ---- main -------------------------------------------------------------------------------------------- */
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (size_t r; buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += r;
    if (cap - n < 2) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb, cap *= 2;
    }
  }
  fclose(f);
  if (buf)
    buf[n] = 0;
  *len = n;
  return buf;
}

/* The first key that appears twice in one object anywhere in the document, or NULL. */
static const char *duplicate_key(const cJSON *j) {
  for (const cJSON *a = j ? j->child : NULL; a; a = a->next) {
    if (cJSON_IsObject(j) && a->string)
      for (const cJSON *b = a->next; b; b = b->next)
        if (b->string && strcmp(a->string, b->string) == 0)
          return a->string;
    const char *d = duplicate_key(a);
    if (d)
      return d;
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *path = NULL, *model = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc)
      model = argv[++i];
    else if (!strncmp(argv[i], "--model=", 8))
      model = argv[i] + 8;
    else if (argv[i][0] != '-' && !path)
      path = argv[i];
    else {
      fprintf(stderr, "usage: torchlean-check CERT.json [--model MODEL]\n");
      return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "usage: torchlean-check CERT.json [--model MODEL]\n");
    return 2;
  }
  size_t len = 0;
  char *txt = read_file(path, &len);
  if (!txt) {
    printf("MALFORMED: cannot read %s\n", path);
    return 2;
  }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithOpts(txt, &end, 1);
  if (!root) {
    printf("MALFORMED: invalid JSON at byte %ld\n", end ? (long)(end - txt) : -1L);
    free(txt);
    return 2;
  }
  const char *dup = duplicate_key(root);
  if (dup) {
    printf("MALFORMED: duplicate key \"%s\" (JSON readers disagree on which one counts)\n", dup);
    cJSON_Delete(root);
    free(txt);
    return 2;
  }
  ctx c = {OK, ""};
  cgraph g;
  memset(&g, 0, sizeof g);
  int f32 = 0, crown_m = 0;
  cJSON *fmt = field(&c, root, "format", "certificate"), *ver = fmt ? field(&c, root, "version", "certificate") : NULL;
  if (fmt && (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "torchlean.cert.v1")))
    fail(&c, BAD, "malformed: format must be \"torchlean.cert.v1\"");
  if (c.code == OK && (!cJSON_IsNumber(ver) || ver->valuedouble != 1))
    fail(&c, BAD, "malformed: version must be 1");
  cJSON *sem = c.code == OK ? field(&c, root, "semantics", "certificate") : NULL;
  if (c.code == OK && (!cJSON_IsString(sem) || (strcmp(sem->valuestring, "real") && strcmp(sem->valuestring, "f32-any"))))
    fail(&c, BAD, "malformed: semantics must be \"real\" or \"f32-any\"");
  cJSON *meth = c.code == OK ? field(&c, root, "method", "certificate") : NULL;
  if (c.code == OK && (!cJSON_IsString(meth) || (strcmp(meth->valuestring, "ibp") && strcmp(meth->valuestring, "crown"))))
    fail(&c, BAD, "malformed: method must be \"ibp\" or \"crown\"");
  cJSON *hash = c.code == OK ? field(&c, root, "graph_sha256", "certificate") : NULL;
  uint8_t claimed[32], derived[32];
  if (c.code == OK && (!cJSON_IsString(hash) || cg_hex_decode(hash->valuestring, claimed)))
    fail(&c, BAD, "malformed: graph_sha256 must be 64 hex digits");
  cJSON *gj = NULL;
  if (c.code == OK) {
    f32 = !strcmp(sem->valuestring, "f32-any");
    crown_m = !strcmp(meth->valuestring, "crown");
    gj = field(&c, root, "graph", "certificate");
    if (gj)
      read_graph(&c, gj, &g);
  }
  /* the graph hash: recomputed here from the embedded graph (docs/graph-hash.md) */
  if (c.code == OK) {
    const float **wv = calloc((size_t)g.n, sizeof *wv);
    char herr[300];
    for (int i = 0; wv && i < g.n; i++)
      wv[i] = g.nodes[i].wf;
    if (!wv)
      fail(&c, BAD, "out of memory");
    else if (cg_hash_json(cJSON_GetObjectItemCaseSensitive(gj, "nodes"), "op",
                          cJSON_GetObjectItemCaseSensitive(gj, "inputs"), cJSON_GetObjectItemCaseSensitive(gj, "outputs"),
                          wv, derived, herr, sizeof herr))
      fail(&c, BAD, "malformed: %s", herr);
    else if (memcmp(derived, claimed, 32) != 0)
      fail(&c, REJ, "REJECT: graph_sha256 is not the hash of the embedded graph (recomputed hash differs)");
    free(wv);
  }
  /* --model: the model file's own hash and weights must be those of the embedded graph */
  if (c.code == OK && model) {
    cm_model m;
    char merr[400];
    if (cm_model_read(model, &m, merr, sizeof merr)) {
      fail(&c, BAD, "malformed model file: %s", merr);
    } else {
      if (memcmp(m.hash, m.claimed, 32) != 0)
        fail(&c, REJ, "REJECT: model file %s: its stored graph_sha256 is not the hash of its contents", model);
      else if (memcmp(m.hash, claimed, 32) != 0)
        fail(&c, REJ, "REJECT: model file %s has another graph hash than the certificate", model);
      else if (m.nnodes != g.n)
        fail(&c, REJ, "REJECT: model file %s has %d nodes, the certificate's graph %d", model, m.nnodes, g.n);
      for (int i = 0; c.code == OK && i < g.n; i++) {
        int isp = g.nodes[i].op == OP_PARAM;
        if (isp != (m.w[i] != NULL) || (isp && (m.numel[i] != g.nodes[i].numel ||
                                                memcmp(m.w[i], g.nodes[i].wf, (size_t)m.numel[i] * sizeof(float)))))
          fail(&c, REJ, "REJECT: model file %s: weights of node %d differ from the certificate's (node %d, index 0)",
               model, i, i);
      }
      if (c.code == OK)
        printf("model %s: graph hash and weights match the certificate\n", model);
      cm_model_free(&m);
    }
  }
  cJSON *samples = c.code == OK ? field(&c, root, "samples", "certificate") : NULL;
  if (c.code == OK && (!cJSON_IsArray(samples) || cJSON_GetArraySize(samples) < 1))
    fail(&c, BAD, "malformed: samples must be a non-empty array");
  int status = c.code;
  if (c.code != OK) {
    printf("%s%s\n", c.code == BAD ? "MALFORMED: " : "", c.msg);
  } else {
    int ns = cJSON_GetArraySize(samples), acc = 0, rej = 0, bad = 0, i = 0;
    for (cJSON *sj = samples->child; sj; sj = sj->next, i++) {
      ctx sc = {OK, ""};
      int r = check_sample(&sc, &g, sj, f32, crown_m);
      if (r == OK)
        acc++, printf("sample %d: ACCEPT\n", i);
      else if (r == REJ)
        rej++, printf("sample %d: %s\n", i, sc.msg);
      else
        bad++, printf("sample %d: MALFORMED: %s\n", i, sc.msg);
    }
    printf("summary: %d samples, %d accepted, %d rejected, %d malformed\n", ns, acc, rej, bad);
    status = bad ? BAD : rej ? REJ : OK;
    if (status == OK)
      printf("ACCEPT\n");
    else
      printf("REJECT: %d of %d samples not accepted\n", rej + bad, ns);
  }
  graph_free(&g);
  cJSON_Delete(root);
  free(txt);
  return status;
}
