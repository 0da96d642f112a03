/* check.h - private header of torchlean-check (certs/ only; docs/certificates.md).
 *
 * Trusted base: the certs/ sources, GMP, MPFR, cJSON and nettle.  Nothing here includes TorchLean
 * code (certs/CMakeLists.txt refuses it).  Numbers are exact: rationals (GMP mpq) in general, and
 * integers at a common power-of-two scale (GMP mpz) where every value is dyadic (hex floats).
 * sigmoid, tanh and batch-norm scales are enclosed with 128-bit MPFR directed rounding.  Never
 * round-to-nearest on a bound.
 */
#ifndef TL_CHECK_CHECK_H
#define TL_CHECK_CHECK_H
#include <cjson/cJSON.h>
#include <gmp.h>
#include <mpfr.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chk_ops.h"

/* v is an integer in [lo, hi] (|lo|, |hi| < 2^63): the range is tested before any conversion, so a
 * huge or NaN JSON number is never converted to an integer type (undefined behaviour) */
static inline int chk_int_in(double v, double lo, double hi) {
  return v >= lo && v <= hi && v >= -0x1p62 && v <= 0x1p62 && v == (double)(int64_t)v;
}
#include "ghash.h"

_Static_assert(sizeof(unsigned long) == 8 && sizeof(long) == 8, "GMP ui/si calls take 64-bit words here");

#define PREC 128
#define MAXDIM 8

enum { OK = 0, REJ = 1, BAD = 2 };

typedef struct ctx {
  int code;
  char msg[600];
} ctx;

int fail(ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A bound: a rational, or -inf/+inf (inf = -1/+1). */

typedef struct qv {
  mpq_t q;
  int inf;
  int dy; /* 1: also known as dm 2^de (finite, dm odd or 0, |dm| < 2^63) */
  long de;
  int64_t dm;
} qv;

/* batch norm, per channel: the scale enclosure and the f32-any guard's channel part, computed once */
typedef struct bncache {
  int sdone, mdone, bad;
  mpq_t slo, shi, u;
} bncache;

typedef struct cnode {
  cop op;
  int np, par[5];
  int nd;
  int64_t shape[MAXDIM], numel;
  qv *w;     /* PARAM data (exact forms: only after graph_exact) */
  float *wf; /* PARAM data as binary32 (sign of zero kept: the graph hash covers the bits) */
  mpz_t *wz; /* PARAM data as integers at the common scale 2^wze (when wzok: every weight was a hex float) */
  long wze;
  int wzok;
  int wbits;                 /* max bit length of |wz| (when wzok) */
  int64_t *w64;              /* wz as machine integers when wbits <= 62, else NULL */
  double *wd;                /* PARAM data as binary64 (exact: binary32 values) for the fast path */
  double dalpha, dclo, dchi; /* leaky alpha, clamp ends as exact doubles when dalpha_ok / dclamp_ok */
  int dalpha_ok, dclamp_ok;
  bncache *bn; /* BATCH_NORM: per channel (nbn of them) */
  int64_t nbn;
  int64_t kernel[2], stride[2], padding[2], dilation[2], groups;
  mpq_t alpha, clo, chi, eps;
} cnode;

struct caff;
typedef struct cgraph {
  int n, input, output;
  cnode *nodes;
  struct caff *aff; /* per node: its affine view, built once on first use (caff_get) */
  int exact;        /* graph_exact done: PARAM w, wz, w64 exist (the exact checker needs them) */
} cgraph;

typedef struct caff {
  int64_t nout;
  int64_t *rp, *col;
  const mpq_t **w; /* weight pointer per term (NULL: weight 1); built by caff_get once the graph is exact */
  int64_t *widx;   /* index of that weight in the weight param (-1: weight 1) */
  int64_t *div;    /* per output (1 for none) */
  int64_t *k;      /* roundings */
  int bias;        /* node of the bias, or -1 */
  int x;
} caff;

typedef struct box {
  qv *lo, *hi;
  int unb; /* some element infinite: the whole node counts as unbounded */
} box;

typedef struct sample {
  const cgraph *g;
  int f32;
  box *b; /* cert boxes (params: their data) */
  mpq_t flt_max;
  mpq_t **E; /* f32-any: per node, its error radius from check_box (NULL: none or unbounded) */
  unsigned char *eunb, *eover; /* per node: a parent unbounded / node_err found possible overflow */
} sample;

typedef struct cact {
  int node;
  qv *pre_lo, *pre_hi, *la, *lb, *ua, *ub;
} cact;

/* max pool lines: per output element the input index j (y >= x_j) and the upper line: y <= x_j
 * (exact[o]) or y <= c[o] */
typedef struct cmpool {
  int node;
  int64_t *arg;
  int *exact;
  qv *c;
} cmpool;

typedef struct crown {
  sample *s;
  int nacts;
  cact *acts;
  int *act_of; /* node -> act index or -1 (only once validated) */
  int nmps;
  cmpool *mps;
  int *mp_of; /* node -> max pool lines index or -1 (only once validated); NULL: none */
} crown;

typedef struct prop {
  int unsafe, nrows, nclauses;
  int64_t nout;
  mpq_t *cf; /* nrows x nout */
  mpq_t *d;
  int *strict, *cstart;
} prop;

/* the weight node of a weighted affine node (linear, matmul, conv2d), else NULL */
static inline const cnode *aff_weight(const cgraph *g, const cnode *n) {
  return is_weighted(n->op) ? &g->nodes[n->par[1]] : NULL;
}
/* the bias element of output o of a linear (last dim) or conv2d (channel) node */
static inline int64_t bias_index(const cnode *n, int64_t o) {
  return n->op == OP_CONV ? (o / (n->shape[2] * n->shape[3])) % n->shape[1] : o % n->shape[n->nd - 1];
}

/* json_num.c */
cJSON *field(ctx *c, const cJSON *o, const char *name, const char *where);
int get_int(ctx *c, const cJSON *o, const char *name, const char *where, int64_t lo, int64_t hi,
            int64_t *out);
int num_item(ctx *c, const cJSON *it, mpq_t q, int *inf, int allow_inf, const char *what, long idx);
int get_num(ctx *c, const cJSON *o, const char *name, const char *where, mpq_t q);
int get_qarr(ctx *c, const cJSON *o, const char *name, const char *where, int64_t n, qv *out, int allow_inf);
qv *qv_new(int64_t n);
void qv_free(qv *v, int64_t n);

/* cgraph.c */
void graph_free(cgraph *g);
int read_graph(ctx *c, const cJSON *gj, cgraph *g);
int graph_exact(ctx *c, cgraph *g);
void caff_free(caff *a);
int caff_build(ctx *c, const cgraph *g, int id, caff *a);
int caff_get(ctx *c, const cgraph *g, int id, caff *a);

/* recheck_box.c */
void z_to_q(mpq_t q, const mpz_t v, long P);
int box_unb(const box *b, int64_t n);
void qabsmax(mpq_t r, const qv *l, const qv *h);
void act_bound(mpq_t r, cop op, const mpq_t x, int up);
void act_deriv_low(mpq_t r, cop op, const mpq_t x);
void bn_scale(const sample *s, const cnode *n, int64_t ch, mpq_t slo, mpq_t shi);
int64_t bn_channel(const cnode *n, int64_t o);
int64_t bc_index(const cnode *n, const cnode *p, int64_t o);
void qmin2(mpq_t r, const mpq_t a, const mpq_t b);
void qmax2(mpq_t r, const mpq_t a, const mpq_t b);
int check_box(ctx *c, sample *s, int id);
int derive_box(ctx *c, sample *s, int id);

/* recheck_crown.c */
int backward(ctx *c, crown *cr, int start, int m, mpq_t *A, qv *lower, int fold);
int check_act(ctx *c, crown *cr, int ai);
int check_maxpool(ctx *c, crown *cr, int mi);

/* fast.c: binary64 upward-rounded fast path; fast_sample: 1 = the sample's bounds, row_lower, label
 * and a verified verdict are proved (a falsified verdict's counterexample is not: the caller runs
 * check_falsified_claim), 0 = not proved here (the caller runs check_sample) */
typedef struct fast fast;
int fast_parse(const char *s, int allow_inf, double *out);
fast *fast_new(const cgraph *g);
void fast_free(fast *F);
int fast_sample(fast *F, const cJSON *sj, int f32, int crown_m);

/* sample.c */
int sample_init(ctx *c, sample *s, const cgraph *g, int f32);
void sample_free(sample *s);
/* the sample's verdict: VERDICT_* (VERDICT_BAD: missing or not one of the three names) */
enum { VERDICT_VERIFIED, VERDICT_FALSIFIED, VERDICT_UNKNOWN, VERDICT_BAD };
int sample_verdict(const cJSON *sj);
int check_sample(ctx *c, const cgraph *g, const cJSON *sj, int f32, int crown_m);
int check_falsified_claim(ctx *c, const cgraph *g, const cJSON *sj, int f32);

/* cover.c: the "covers" array of a certificate (docs/certificates.md, "Covers"); one line per cover;
 * accepted[s]: sample s was accepted with the verdict verified; returns OK, REJ or BAD */
int check_covers(const cJSON *covers, const cJSON *samples, int64_t n, const unsigned char *accepted,
                 int *ncovers);

/* claims.c */
int check_label(ctx *c, const cJSON *pj, const prop *p);
int check_falsified(ctx *c, const cgraph *g, const cJSON *sj, const prop *p, int f32);

#endif
