/* fast.c - torchlean-check: the binary64 fast path (docs/certificates.md, "Fast path").
 *
 * A sample is first checked with binary64 arithmetic rounded UPWARD (hardware directed rounding on
 * the checker's only thread; this file is compiled with -frounding-math -ffp-contract=off, the
 * mode is saved and restored around every sample, and no libm function is called).  Every number
 * of the certificate that is a hex float with at most 53 significant bits in the binary64 range is
 * held exactly as a double; every derived quantity is an upper bound U of an exact quantity q
 * (U >= q: each rounded product, quotient and sum is >= its exact value, and sums, products by
 * numbers of known sign, max and min are monotone), and lower bounds are computed as -U(-q).
 * A claim is accepted only where the bound PROVES it (a claimed upper end >= an upper bound of
 * the exact re-derived upper end, and so on).  If anything is not proved — a number that is not
 * an exact double, an op without a fast rule, a possible overflow, a bound too close to call —
 * fast_sample returns 0 and the caller runs the exact checker (sample.c) on the sample, which
 * gives the verdict and the rejection message.  So the fast path can only turn an exact ACCEPT
 * into an earlier ACCEPT; it never rejects and never decides a malformed input.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <fenv.h>
#include <float.h>

#if !defined(__FLT_EVAL_METHOD__) || __FLT_EVAL_METHOD__ != 0
#error "the fast path needs binary64 evaluation of double expressions (FLT_EVAL_METHOD 0, SSE2)"
#endif

#define FLT_MAX_D 0x1.fffffep+127
#define DINF __builtin_inf() /* no libm */

/* ---- exact hex floats as doubles -------------------------------------------------------------- */

/* hex digits (an optional '.' between them) at *pp into m 2^*e (at most 64 significant bits; only
 * trailing zero digits beyond): the digit count in *nd; -1: more than 64 significant bits */
static int hex_mantissa(const char **pp, uint64_t *mp, long *nd, long *ep) {
  /* hex digit values, -1 for anything else */
  static const signed char HX[256] = {
      ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
      ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
      ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16}; /* value + 1; 0: not a digit */
  const char *p = *pp;
  uint64_t m = 0;
  int sig = 0; /* significant hex digits in m (after leading zeros) */
  long e = 0;  /* value = m 2^e, before the p exponent */
  for (int infrac = 0; infrac < 2; infrac++) {
    int h;
    for (; (h = HX[(unsigned char)*p]) != 0; p++) {
      h--;
      (*nd)++;
      if (sig || h) {
        if (sig == 16) { /* more than 64 bits: only trailing zero digits still fit */
          if (h)
            return -1;
          if (!infrac)
            e += 4;
          continue;
        }
        m = m << 4 | (uint64_t)h, sig++;
      }
      if (infrac)
        e -= 4;
    }
    if (infrac || *p != '.')
      break;
    p++;
  }
  *pp = p, *mp = m, *ep = e;
  return 0;
}

/* an optional "p[+-]D" exponent at *pp into *x (|x| <= 100000); -1: malformed */
static int dec_exponent(const char **pp, long *xp) {
  const char *p = *pp;
  long x = 0;
  if (*p == 'p' || *p == 'P') {
    p++;
    int en = 0, ed = 0;
    if (*p == '-')
      en = 1, p++;
    else if (*p == '+')
      p++;
    for (; *p >= '0' && *p <= '9'; p++, ed++) {
      x = x * 10 + (*p - '0');
      if (x > 100000)
        return -1;
    }
    if (!ed)
      return -1;
    if (en)
      x = -x;
  }
  *pp = p, *xp = x;
  return 0;
}

/* (-1)^neg m 2^e (m != 0) as binary64 bits, if representable (<= 53 bits, in range); -1: not */
static int dbl_bits(uint64_t m, long e, int neg, double *out) {
  while (!(m & 1))
    m >>= 1, e++;
  int b = 64 - __builtin_clzll(m); /* bits of the odd mantissa; value m 2^e, top bit 2^(e + b - 1) */
  long top = e + b - 1;
  if (b > 53 || e < -1074 || top > 1023)
    return -1;
  uint64_t bits;
  if (top >= -1022) /* normal: 1.f 2^top */
    bits = (uint64_t)(top + 1023) << 52 | ((m << (52 - (b - 1))) & ((UINT64_C(1) << 52) - 1));
  else /* subnormal: m 2^e = (m 2^(e + 1074)) 2^-1074 */
    bits = m << (e + 1074);
  if (neg)
    bits |= UINT64_C(1) << 63;
  memcpy(out, &bits, sizeof *out);
  return 0;
}

/* s -> *out exactly, if s is a hex float (the grammar parse_exact accepts) whose value is a
 * binary64 number (<= 53 significant bits, in range, subnormals included), or with allow_inf one of
 * "inf", "+inf", "-inf".  0: done; -1: anything else ("p/q", malformed, not representable).  Only
 * integer operations: independent of the rounding mode. */
int fast_parse(const char *s, int allow_inf, double *out) {
  const char *p = s;
  int neg = 0;
  if (*p == '-')
    neg = 1, p++;
  else if (*p == '+')
    p++;
  if (p[0] != '0' || (p[1] != 'x' && p[1] != 'X')) {
    if (allow_inf && p[0] == 'i' && p[1] == 'n' && p[2] == 'f' && !p[3]) { /* "inf", "+inf", "-inf" */
      *out = neg ? -DINF : DINF;
      return 0;
    }
    return -1;
  }
  p += 2;
  uint64_t m = 0;
  long nd = 0, e = 0, x = 0;
  if (hex_mantissa(&p, &m, &nd, &e))
    return -1;
  if (nd > 4096)
    return -1;
  if (!nd)
    return -1;
  if (dec_exponent(&p, &x))
    return -1;
  if (*p)
    return -1;
  if (m == 0) {
    *out = neg ? -0.0 : 0.0;
    return 0;
  }
  return dbl_bits(m, e + x, neg, out);
}

/* TL_CHECK_FAST=debug: say on stderr where the fast path gave up (source line) */
static int fast_debug = -1;
static void debug_init(void) {
  if (fast_debug < 0) {
    const char *e = getenv("TL_CHECK_FAST");
    fast_debug = e && !strcmp(e, "debug");
  }
}
static int nope(int line) {
  debug_init();
  if (fast_debug)
    fprintf(stderr, "fast path: not proved (fast.c:%d)\n", line);
  return 0;
}
#define NOPE nope(__LINE__)

__extension__ typedef __int128 gi128;

/* d = m 2^e exactly (d finite) */
static inline void dsplit(double d, int64_t *m, int *e) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  int ef = (int)(u >> 52 & 0x7ff);
  int64_t mm = (int64_t)(u & ((UINT64_C(1) << 52) - 1));
  if (ef)
    mm |= INT64_C(1) << 52, *e = ef - 1075;
  else
    *e = -1074;
  *m = u >> 63 ? -mm : mm;
}

/* e with |d| < 2^e (d finite) */
static inline int dexp2(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  int ef = (int)(u >> 52 & 0x7ff);
  return ef ? ef - 1022 : -1022;
}

/* ---- per-file state -------------------------------------------------------------------------- */

struct fast {
  const cgraph *g;
  double **lo, **hi, **E; /* per node: claimed box (params: the weights), f32-any radius upper bounds */
  unsigned char *unb, *seen, *noover;
  double *xa; /* scratch: max |x| per parent element */
  double *A, *d, *der, *cu,
      *cn; /* property rows (negated for safe), d, derived lower bounds, coefficient bounds */
  int *strict, *cstart;
  size_t cap_cf, cap_d, cap_der, cap_strict, cap_cstart;
  int64_t maxnumel;
  long ngrid;    /* elements settled on the fine per-element grid */
  int64_t **w64; /* per PARAM node: weights as integers at 2^wze when |W| < 2^62 (else NULL) */
  int *wze, *wbits;
  int64_t *xu, *xd; /* scratch: a parent box on a fixed-point grid */
};

void fast_free(fast *F) {
  if (!F)
    return;
  if (fast_debug > 0)
    fprintf(stderr, "fast path: %ld elements settled on the fine grid\n", F->ngrid);
  for (int i = 0; F->g && i < F->g->n; i++) {
    if (F->g->nodes[i].op != OP_PARAM)
      free(F->lo[i]), free(F->hi[i]);
    free(F->E[i]);
  }
  free(F->lo), free(F->hi), free(F->E), free(F->unb), free(F->seen), free(F->noover), free(F->xa);
  for (int i = 0; F->w64 && F->g && i < F->g->n; i++)
    free(F->w64[i]);
  free(F->w64), free(F->wze), free(F->wbits), free(F->xu), free(F->xd);
  free(F->A), free(F->d), free(F->der), free(F->cu), free(F->cn), free(F->strict), free(F->cstart);
  free(F);
}

/* parameter node i: its weights as integers at the common scale 2^wze (exact), if they fit 62
 * bits (else w64[i] stays NULL); -1: out of memory */
static int fast_param_w64(fast *F, int i, const cnode *c) {
  int wze = INT_MAX, bits = 0;
  for (int64_t e = 0; e < c->numel; e++) {
    int64_t m;
    int x;
    dsplit(c->wd[e], &m, &x);
    if (m)
      x += __builtin_ctzll((uint64_t)(m < 0 ? -m : m));
    if (m && x < wze)
      wze = x;
  }
  if (wze == INT_MAX)
    wze = 0;
  int64_t *w = malloc((size_t)(c->numel ? c->numel : 1) * sizeof *w);
  if (!w)
    return -1;
  for (int64_t e = 0; e < c->numel && w; e++) {
    int64_t m;
    int x;
    dsplit(c->wd[e], &m, &x);
    int sh = x - wze, mb = m ? 64 - __builtin_clzll((uint64_t)(m < 0 ? -m : m)) : 0;
    if (m && sh < 0) { /* m has trailing zeros below 2^wze */
      w[e] = m / ((int64_t)1 << -sh);
      mb += sh;
    } else if (m && mb + sh > 62) {
      free(w), w = NULL;
      break;
    } else {
      w[e] = m ? (int64_t)((uint64_t)m << sh) : 0;
      mb = m ? mb + sh : 0;
    }
    if (mb > bits)
      bits = mb;
  }
  F->w64[i] = w, F->wze[i] = wze, F->wbits[i] = bits;
  return 0;
}

/* per node: the claimed box (params: the weights) and E; -1: no fast path (out of memory, or a
 * parameter without exact doubles) */
static int fast_node_arrays(fast *F, int i) {
  const cnode *c = &F->g->nodes[i];
  if (c->numel > F->maxnumel)
    F->maxnumel = c->numel;
  if (c->op == OP_PARAM) {
    if (!c->wd) /* no exact doubles for this parameter: no fast path for this graph */
      return -1;
    F->lo[i] = F->hi[i] = c->wd;
    return fast_param_w64(F, i, c);
  }
  size_t k = (size_t)(c->numel ? c->numel : 1);
  F->lo[i] = malloc(k * sizeof(double)), F->hi[i] = malloc(k * sizeof(double));
  F->E[i] = malloc(k * sizeof(double));
  return F->lo[i] && F->hi[i] && F->E[i] ? 0 : -1;
}

fast *fast_new(const cgraph *g) {
  debug_init();
  fast *F = calloc(1, sizeof *F);
  if (!F)
    return NULL;
  int n = g->n;
  F->g = g;
  F->lo = calloc((size_t)n, sizeof *F->lo), F->hi = calloc((size_t)n, sizeof *F->hi);
  F->E = calloc((size_t)n, sizeof *F->E);
  F->unb = calloc((size_t)n, 1), F->seen = calloc((size_t)n, 1), F->noover = calloc((size_t)n, 1);
  F->w64 = calloc((size_t)n, sizeof *F->w64), F->wze = calloc((size_t)n, sizeof *F->wze);
  F->wbits = calloc((size_t)n, sizeof *F->wbits);
  if (!F->lo || !F->hi || !F->E || !F->unb || !F->seen || !F->noover || !F->w64 || !F->wze || !F->wbits) {
    fast_free(F);
    return NULL;
  }
  for (int i = 0; i < n; i++)
    if (fast_node_arrays(F, i)) {
      fast_free(F);
      return NULL;
    }
  size_t mx = (size_t)(F->maxnumel ? F->maxnumel : 1);
  F->xa = malloc(mx * sizeof(double)), F->cu = malloc(mx * sizeof(double)),
  F->cn = malloc(mx * sizeof(double));
  F->xu = malloc(mx * sizeof(int64_t)), F->xd = malloc(mx * sizeof(int64_t));
  if (!F->xa || !F->cu || !F->cn || !F->xu || !F->xd) {
    fast_free(F);
    return NULL;
  }
  return F;
}

/* ---- helpers (all arithmetic below runs with FE_UPWARD) ------------------------------------------ */

static inline double dmax(double a, double b) { return a > b ? a : b; }
static inline double dabs(double a) { return a < 0 ? -a : a; }

/* array field name of exactly n hex floats into v; 0 ok */
static int farr(const cJSON *o, const char *name, int64_t n, double *v, int allow_inf) {
  const cJSON *f = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
  if (!cJSON_IsArray(f))
    return -1;
  int64_t i = 0;
  for (const cJSON *it = f->child; it; it = it->next, i++)
    if (i >= n || !cJSON_IsString(it) || fast_parse(it->valuestring, allow_inf, &v[i]))
      return -1;
  return i == n ? 0 : -1;
}

static int fnum(const cJSON *o, const char *name, double *v) {
  const cJSON *f = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
  return cJSON_IsString(f) && !fast_parse(f->valuestring, 0, v) ? 0 : -1;
}

/* integer field in [lo, hi] (as get_int) */
static int fint(const cJSON *o, const char *name, int64_t lo, int64_t hi, int64_t *v) {
  const cJSON *f = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
  if (!cJSON_IsNumber(f) || !chk_int_in(f->valuedouble, (double)lo, (double)hi))
    return -1;
  *v = (int64_t)f->valuedouble;
  return 0;
}

/* gamma_k = k u / (1 - k u) rounded upward (k u and 1 - k u are exact for k < 2^20) */
static inline double gamma_up(int64_t k) {
  double ku = (double)k * 0x1p-24;
  return ku / (1.0 - ku);
}
double chk_gamma_up(int64_t k) { return gamma_up(k); }

/* Claimed box of node id against the re-derived one, given per element nl >= -(real lo) and
 * hu >= real hi (before f32-any widening) and e >= E (0 in real semantics); partial-sum overflow
 * not excluded where ovf[o] (affine only, may be NULL).  1: proved contained, no overflow. */
static int settle(fast *F, int id, int64_t o, double nl, double hu, double e, int f32, int ovf) {
  double lo = F->lo[id][o], hi = F->hi[id][o];
  if (f32) {
    nl = nl + e, hu = hu + e;
    if (ovf || !(nl <= FLT_MAX_D && hu <= FLT_MAX_D)) /* |lo - E|, |hi + E| <= FLT_MAX (lo - E <= hi + E) */
      return 4;
  }
  /* lo <= real lo - E: proved by lo <= -nl; hi >= real hi + E: by hi >= hu; infinite claims are
   * fine only on the open side.  0: proved; else bit 1: lower end not proved, bit 2: upper end,
   * bit 4: overflow not excluded */
  return (!(lo == -DINF || lo <= -nl) ? 1 : 0) | (!(hi == DINF || hi >= hu) ? 2 : 0);
}

static int64_t bc_idx(const cnode *n, const cnode *p, int64_t o) { return bc_index(n, p, o); }

/* ---- fine fixed-point grid: per-element fallback ---------------------------------------------- */
/* Where the binary64 bound is too close to call, one output element is re-derived on a fixed-point
 * grid 2^G fine enough that the sums fit 128-bit integers with ~110 bits below the largest term:
 * every binary32 x binary64 product is an exact integer m 2^e (m < 2^77); it is added to the
 * accumulator rounded to the grid toward +inf (upper ends) or -inf (lower ends), so the integer
 * sum bounds the exact one on the required side.  The claimed end and E are put on the same grid
 * rounded the safe way, and the comparison is an exact integer comparison. */
#define GSAT ((gi128)1 << 125)
/* m 2^e on the grid 2^G, rounded up (up = 1) or down; |m| < 2^120.  *bad = 1 when the result does
 * not fit (|.| >= 2^125): the caller then gives up. */
static inline gi128 to_grid(gi128 m, int e, int G, int up, int *bad) {
  int s = e - G;
  if (m == 0)
    return 0;
  if (s >= 0) {
    if (s > 124) {
      *bad = 1;
      return 0;
    }
    gi128 am = m < 0 ? -m : m;
    if (am >= (GSAT >> s)) {
      *bad = 1;
      return 0;
    }
    return m * ((gi128)1 << s);
  }
  s = -s;
  if (s >= 125) /* |m 2^-s| < 1 */
    return up ? (m > 0 ? 1 : 0) : (m < 0 ? -1 : 0);
  return up ? -((-m) >> s) : m >> s; /* >> on a negative value: floor (GCC, two's complement) */
}

/* the claimed ends of output o against su >= (upper sum + b) 2^-G and sl <= (lower sum + b) 2^-G:
 * hi >= su 2^G / div + E is proved by floor(hi div 2^-G) - ceil(E div 2^-G) >= su, and
 * lo <= sl 2^G / div - E by ceil(lo div 2^-G) + ceil(E div 2^-G) <= sl (exact integer comparisons) */
static int grid_cmp(fast *F, int id, int64_t o, gi128 su, gi128 sl, int G, double e, int64_t div, int need_lo,
                    int need_hi) {
  int64_t mc, me;
  int ec, ee, bad = 0;
  dsplit(e, &me, &ee);
  gi128 dv = div;
  if (need_hi) {
    double c = F->hi[id][o];
    if (c != DINF) {
      dsplit(c, &mc, &ec);
      gi128 lhs = to_grid((gi128)mc * dv, ec, G, 0, &bad) - to_grid((gi128)me * dv, ee, G, 1, &bad);
      if (bad || lhs < su)
        return 0;
    }
  }
  if (need_lo) {
    double c = F->lo[id][o];
    if (c != -DINF) {
      dsplit(c, &mc, &ec);
      gi128 lhs = to_grid((gi128)mc * dv, ec, G, 1, &bad) + to_grid((gi128)me * dv, ee, G, 1, &bad);
      if (bad || lhs > sl)
        return 0;
    }
  }
  return 1;
}

/* Re-check output o of affine node id on the grid.  nl/hu side flags: which ends to prove.
 * Returns 1 when both requested ends are proved. */
static int grid_affine(fast *F, int id, const caff *a, int64_t o, double e, int need_lo, int need_hi) {
  const cgraph *g = F->g;
  const cnode *n = &g->nodes[id];
  const cnode *wn = aff_weight(g, n);
  const double *W = wn ? wn->wd : NULL, *B = a->bias >= 0 ? g->nodes[a->bias].wd : NULL;
  const double *xl = F->lo[a->x], *xh = F->hi[a->x];
  double b = B ? B[bias_index(n, o)] : 0;
  /* the largest magnitude: every term, the bias, E */
  int emax = dexp2(b) > dexp2(e) ? dexp2(b) : dexp2(e), bk = 0;
  int64_t K = a->rp[o + 1] - a->rp[o] + 3;
  for (int64_t k = a->rp[o]; k < a->rp[o + 1]; k++) {
    int64_t j = a->col[k];
    double w = W ? W[a->widx[k]] : 1.0;
    int t = dexp2(w) + (dexp2(xl[j]) > dexp2(xh[j]) ? dexp2(xl[j]) : dexp2(xh[j]));
    if (t > emax)
      emax = t;
  }
  while (K >> bk)
    bk++;
  int G = emax + bk - 124, bad = 0;
  gi128 su = 0, sl = 0; /* su >= (sum of upper terms + b) 2^-G, sl <= (sum of lower terms + b) 2^-G */
  for (int64_t k = a->rp[o]; k < a->rp[o + 1]; k++) {
    int64_t j = a->col[k], mw = 1, ml, mh;
    int ew = 0, el, eh;
    if (W)
      dsplit(W[a->widx[k]], &mw, &ew);
    if (mw == 0)
      continue;
    dsplit(xl[j], &ml, &el), dsplit(xh[j], &mh, &eh);
    /* upper term max(w l, w h) = w h for w > 0, w l for w < 0; lower term the other */
    int pos = mw > 0;
    gi128 pu = (gi128)mw * (pos ? mh : ml), pl = (gi128)mw * (pos ? ml : mh);
    su += to_grid(pu, ew + (pos ? eh : el), G, 1, &bad);
    sl += to_grid(pl, ew + (pos ? el : eh), G, 0, &bad);
  }
  int64_t mb;
  int eb;
  dsplit(b, &mb, &eb);
  su += to_grid(mb, eb, G, 1, &bad), sl += to_grid(mb, eb, G, 0, &bad);
  return !bad && grid_cmp(F, id, o, su, sl, G, e, a->div[o], need_lo, need_hi);
}

/* ---- one node: one rule per op of chk_ops.def ------------------------------------------------------
 * A rule re-derives node id's box from its parents' claimed boxes (upward-rounded bounds) and
 * settles every element (1: all proved, else NOPE).  NULL: no fast rule (the exact path decides). */
typedef int (*fast_rule)(fast *F, int id, int f32);

/* an affine node's constants for its outputs (fast_affine) */
typedef struct faff {
  fast *F;
  int id, f32, lin, fixed, G;
  const cnode *n;
  caff a;
  const double *W, *B, *xa;
  const int64_t *W64, *C, *R;
  double *E;
} faff;

/* the parent box of an affine node on the fixed-point grid 2^gx: 1 when every term fits 128 bits
 * (the caller's C, R and *G set), 0: use the binary64 bound and the per-element grid */
static int fast_fixed_box(faff *q, const cnode *wn, int wid, double xmax) {
  fast *F = q->F;
  const caff *a = &q->a;
  const double *xl = F->lo[a->x], *xh = F->hi[a->x];
  int64_t nx = F->g->nodes[a->x].numel, N = q->n->numel;
  /* Fixed point: weights exact as integers at 2^wze (|W| < 2^wbits), the parent box on a grid
   * 2^gx with the upper ends rounded up (XU) and the lower ends down (XD), so
   *   su = sum over terms of (w > 0 ? w XU : w XD)  >=  (sum of max(w l, w h)) 2^-(gx + wze)
   *   sl = sum over terms of (w > 0 ? w XD : w XU)  <=  (sum of min(w l, w h)) 2^-(gx + wze)
   * exactly in 128 bits: |terms| < 2^(wbits + bx), at most 2^bk of them, wbits + bx + bk <= 125. */
  int64_t kmax = 0;
  for (int64_t o = 0; o < N; o++)
    if (a->rp[o + 1] - a->rp[o] > kmax)
      kmax = a->rp[o + 1] - a->rp[o];
  int bk = 0, wbits = wn ? F->wbits[wid] : 1;
  while ((kmax + 3) >> bk)
    bk++;
  int bx = 125 - bk - wbits;
  bx = bx > 61 ? 61 : bx;
  int fixed = (!wn || q->W64) && bx >= 24;
  int gx = dexp2(xmax) - bx, bad = 0;
  /* midpoint-radius form of the same sums: C = XU + XD, R = XU - XD >= 0, then
   * su + sl = sum w C and su - sl = sum |w| R exactly (for w < 0 the roles of XU, XD swap) */
  int64_t *C = F->xu, *R = F->xd;
  for (int64_t i = 0; fixed && i < nx; i++) {
    int64_t m, u, d;
    int e;
    dsplit(xh[i], &m, &e);
    u = (int64_t)to_grid(m, e, gx, 1, &bad);
    dsplit(xl[i], &m, &e);
    d = (int64_t)to_grid(m, e, gx, 0, &bad);
    C[i] = u + d, R[i] = u - d;
  }
  q->C = C, q->R = R;
  q->G = gx + (wn ? F->wze[wid] : 0);
  return fixed && !bad;
}

/* output o's claimed ends against the exact fixed-point sums (1: proved) */
static inline int fast_fixed_out(const faff *q, int64_t o, double b, double e) {
  const caff *a = &q->a;
  const int64_t *W64 = q->W64, *C = q->C, *R = q->R;
  int64_t k0 = a->rp[o], k1 = a->rp[o + 1], nk = k1 - k0;
  gi128 sc = 0, sr = 0;
  if (q->lin) {
    const int64_t *wr = W64 + a->widx[k0], *cr = C + a->col[k0], *rr = R + a->col[k0];
    for (int64_t i = 0; i < nk; i++) {
      int64_t w = wr[i], aw = w < 0 ? -w : w;
      sc += (gi128)w * cr[i], sr += (gi128)aw * rr[i];
    }
  } else {
    for (int64_t k = k0; k < k1; k++) {
      int64_t j = a->col[k], w = W64 ? W64[a->widx[k]] : 1, aw = w < 0 ? -w : w;
      sc += (gi128)w * C[j], sr += (gi128)aw * R[j];
    }
  }
  gi128 su = (sc + sr) / 2, sl = (sc - sr) / 2; /* exact: sc + sr = 2 su */
  int64_t mb;
  int eb, bad2 = 0;
  dsplit(b, &mb, &eb);
  su += to_grid(mb, eb, q->G, 1, &bad2), sl += to_grid(mb, eb, q->G, 0, &bad2);
  return !bad2 && grid_cmp(q->F, q->id, o, su, sl, q->G, e, a->div[o], 1, 1);
}

/* S >= sum |w| max|x| over output o's terms (upward-rounded sums, any order) */
static inline double fast_abs_sum(const faff *q, int64_t o) {
  const caff *a = &q->a;
  const double *W = q->W, *xa = q->xa;
  int64_t k0 = a->rp[o], k1 = a->rp[o + 1], nk = k1 - k0;
  double S = 0;
  if (q->lin) {
    const double *wr = W + a->widx[k0], *xr = xa + a->col[k0];
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0; /* any order of upward-rounded sums bounds the sum */
    int64_t i = 0;
    for (; i + 4 <= nk; i += 4) {
      s0 += dabs(wr[i]) * xr[i], s1 += dabs(wr[i + 1]) * xr[i + 1];
      s2 += dabs(wr[i + 2]) * xr[i + 2], s3 += dabs(wr[i + 3]) * xr[i + 3];
    }
    for (; i < nk; i++)
      s0 += dabs(wr[i]) * xr[i];
    S = (s0 + s1) + (s2 + s3);
  } else {
    for (int64_t k = k0; k < k1; k++)
      S += dabs(W ? W[a->widx[k]] : 1.0) * xa[a->col[k]];
  }
  return S;
}

/* output o of an affine node: E (f32-any), overflow, the claimed ends (1: proved) */
static inline int fast_affine_out(faff *q, int64_t o) {
  fast *F = q->F;
  const cnode *n = q->n;
  const caff *a = &q->a;
  int id = q->id, f32 = q->f32;
  double S = f32 ? fast_abs_sum(q, o) : 0;
  const double *B = q->B;
  double b = B ? B[bias_index(n, o)] : 0;
  double dv = (double)a->div[o], e = 0;
  if (f32) {
    int64_t k = a->k[o];
    if (k >= (1 << 20))
      return NOPE;
    double gk = gamma_up(k), m = S + dabs(b), kd = (double)k;
    /* E = gamma_k m / div + k eta/2 (1 + gamma_k); overflow: (1 + gamma_k) m + k eta > FLT_MAX,
     * or |real image| + E > FLT_MAX, where |real image| <= m / div */
    e = gk * m / dv + kd * 0x1p-150 * (1.0 + gk);
    if (!((1.0 + gk) * m + kd * 0x1p-149 <= FLT_MAX_D && m / dv + e <= FLT_MAX_D))
      return NOPE;
    q->E[o] = e;
  }
  int okf = 0;
  if (q->fixed)
    okf = fast_fixed_out(q, o, b, e);
  if (!okf && !grid_affine(F, id, a, o, e, 1, 1)) {
    if (fast_debug > 0)
      fprintf(stderr, "node %d o %lld: claimed [%a, %a] not proved (E %a)\n", id, (long long)o, F->lo[id][o],
              F->hi[id][o], e);
    return NOPE;
  }
  F->ngrid += !okf;
  return 1;
}

/* y = sum w x + b (/ div): exact fixed point where it fits, else the per-element grid */
static int fast_affine(fast *F, int id, int f32) {
  const cgraph *g = F->g;
  faff q;
  memset(&q, 0, sizeof q);
  q.F = F, q.id = id, q.f32 = f32, q.n = &g->nodes[id], q.E = F->E[id];
  const cnode *n = q.n;
  ctx c = {OK, ""};
  if (caff_get(&c, g, id, &q.a) != OK)
    return NOPE;
  const double *xl = F->lo[q.a.x], *xh = F->hi[q.a.x];
  const cnode *wn = aff_weight(g, n);
  int wid = wn ? n->par[1] : -1;
  q.W = wn ? wn->wd : NULL, q.B = q.a.bias >= 0 ? g->nodes[q.a.bias].wd : NULL;
  q.W64 = wn ? F->w64[wid] : NULL;
  int64_t nx = g->nodes[q.a.x].numel;
  double *xa = F->xa, xmax = 0;
  for (int64_t i = 0; i < nx; i++)
    xa[i] = dmax(dabs(xl[i]), dabs(xh[i])), xmax = dmax(xmax, xa[i]);
  q.xa = xa;
  q.fixed = fast_fixed_box(&q, wn, wid, xmax);
  q.lin = n->op == OP_LINEAR; /* CSR rows contiguous in x and W (caff_build) */
  for (int64_t o = 0; o < n->numel; o++)
    if (!fast_affine_out(&q, o))
      return NOPE;
  F->noover[id] = 1;
  return 1;
}

/* an elementwise node: parents' boxes and the op's f32-any model (chk_ops.def) */
typedef struct felem {
  fast *F;
  int id, f32;
  int64_t N;
  const cnode *n, *pa, *pb;
  const double *xl, *xh, *yl, *yh;
  double *E, rel, eabs;
} felem;

static void felem_init(felem *q, fast *F, int id, int f32) {
  const cgraph *g = F->g;
  const cnode *n = &g->nodes[id];
  q->F = F, q->id = id, q->f32 = f32, q->n = n, q->N = n->numel;
  q->pa = n->np ? &g->nodes[n->par[0]] : NULL, q->pb = n->np > 1 ? &g->nodes[n->par[1]] : NULL;
  q->xl = n->np ? F->lo[n->par[0]] : NULL, q->xh = n->np ? F->hi[n->par[0]] : NULL;
  q->yl = q->pb ? F->lo[n->par[1]] : NULL, q->yh = q->pb ? F->hi[n->par[1]] : NULL;
  q->E = F->E[id], q->rel = chk_ops[n->op].rel, q->eabs = chk_ops[n->op].eabs;
}

/* element o from nl >= -(real lo), hu >= real hi: E = rel max|image| + eabs, then settle (1: proved) */
static inline int felem_out(const felem *q, int64_t o, double nl, double hu) {
  double e = 0;
  if (q->f32 && (q->rel != 0 || q->eabs != 0)) {
    e = q->rel * dmax(dabs(nl), dabs(hu)) + q->eabs; /* max|image| <= max(|lower bound|, |upper bound|) */
    q->E[o] = e;
  } else {
    q->E[o] = 0;
  }
  return !settle(q->F, q->id, o, nl, hu, e, q->f32, 0);
}

static int felem_done(const felem *q) {
  q->F->noover[q->id] = 1;
  return 1;
}

/* y = x */
static int fast_view(fast *F, int id, int f32) {
  felem q;
  felem_init(&q, F, id, f32);
  const double *xl = q.xl, *xh = q.xh;
  for (int64_t o = 0; o < q.N; o++)
    if (!felem_out(&q, o, -xl[o], xh[o]))
      return NOPE;
  return felem_done(&q);
}
/* y = -x */
static int fast_neg(fast *F, int id, int f32) {
  felem q;
  felem_init(&q, F, id, f32);
  const double *xl = q.xl, *xh = q.xh;
  for (int64_t o = 0; o < q.N; o++)
    if (!felem_out(&q, o, xh[o], -xl[o]))
      return NOPE;
  return felem_done(&q);
}
/* y = max(x, 0) */
static int fast_relu(fast *F, int id, int f32) {
  felem q;
  felem_init(&q, F, id, f32);
  const double *xl = q.xl, *xh = q.xh;
  for (int64_t o = 0; o < q.N; o++)
    if (!felem_out(&q, o, -(xl[o] >= 0 ? xl[o] : 0.0), xh[o] >= 0 ? xh[o] : 0.0))
      return NOPE;
  return felem_done(&q);
}
/* y = x >= 0 ? x : alpha x (alpha in [0, 1], an exact double) */
static int fast_leaky(fast *F, int id, int f32) {
  felem q;
  felem_init(&q, F, id, f32);
  if (!q.n->dalpha_ok)
    return NOPE;
  const double *xl = q.xl, *xh = q.xh;
  double alpha = q.n->dalpha;
  for (int64_t o = 0; o < q.N; o++) {
    double nl = xl[o] >= 0 ? -xl[o] : alpha * -xl[o];
    double hu = xh[o] >= 0 ? xh[o] : alpha * xh[o];
    if (!felem_out(&q, o, nl, hu))
      return NOPE;
  }
  return felem_done(&q);
}
/* y = min(max(x, lo), hi) (ends exact doubles) */
static int fast_clamp(fast *F, int id, int f32) {
  felem q;
  felem_init(&q, F, id, f32);
  if (!q.n->dclamp_ok)
    return NOPE;
  const double *xl = q.xl, *xh = q.xh;
  double clo = q.n->dclo, chi = q.n->dchi;
  for (int64_t o = 0; o < q.N; o++) {
    double l = xl[o] > clo ? xl[o] : clo, h = xh[o] > clo ? xh[o] : clo;
    l = l < chi ? l : chi, h = h < chi ? h : chi;
    if (!felem_out(&q, o, -l, h))
      return NOPE;
  }
  return felem_done(&q);
}
/* y = max over the window (padding excluded) */
static int fast_maxpool(fast *F, int id, int f32) {
  felem q;
  felem_init(&q, F, id, f32);
  const cnode *n = q.n, *xn = q.pa;
  const double *xl = q.xl, *xh = q.xh;
  int64_t H = xn->shape[2], Wd = xn->shape[3], Ho = n->shape[2], Wo = n->shape[3];
  for (int64_t o = 0; o < q.N; o++) {
    int64_t j = o % Wo, i = (o / Wo) % Ho, bc = o / (Wo * Ho);
    int first = 1;
    double l = 0, h = 0;
    for (int64_t p = 0; p < n->kernel[0]; p++)
      for (int64_t r = 0; r < n->kernel[1]; r++) {
        int64_t hh = i * n->stride[0] - n->padding[0] + p * n->dilation[0];
        int64_t ww = j * n->stride[1] - n->padding[1] + r * n->dilation[1];
        if (hh < 0 || hh >= H || ww < 0 || ww >= Wd)
          continue;
        int64_t xi = (bc * H + hh) * Wd + ww;
        if (first || xl[xi] > l)
          l = xl[xi];
        if (first || xh[xi] > h)
          h = xh[xi];
        first = 0;
      }
    if (first)
      return NOPE;
    if (!felem_out(&q, o, -l, h))
      return NOPE;
  }
  return felem_done(&q);
}
/* y = a + b, a - b, a * b (broadcasting; products: max / min of the four, each bounded upward) */
static int fast_broadcast(fast *F, int id, int f32) {
  felem q;
  felem_init(&q, F, id, f32);
  const cnode *n = q.n;
  const double *xl = q.xl, *xh = q.xh, *yl = q.yl, *yh = q.yh;
  for (int64_t o = 0; o < q.N; o++) {
    int64_t i = bc_idx(n, q.pa, o), j = bc_idx(n, q.pb, o);
    double al = xl[i], ah = xh[i], bl = yl[j], bh = yh[j], nl, hu;
    if (n->op == OP_ADD) {
      hu = ah + bh, nl = -al + -bl;
    } else if (n->op == OP_SUB) {
      hu = ah + -bl, nl = -al + bh;
    } else {
      hu = dmax(dmax(al * bl, al * bh), dmax(ah * bl, ah * bh));
      nl = dmax(dmax(-al * bl, -al * bh), dmax(-ah * bl, -ah * bh));
    }
    if (!felem_out(&q, o, nl, hu))
      return NOPE;
  }
  return felem_done(&q);
}

#define FAST_NONE NULL /* no fast rule: the exact checker decides (sigmoid, tanh: MPFR; batch norm) */
#define FAST_input FAST_NONE
#define FAST_param FAST_NONE
#define FAST_linear fast_affine
#define FAST_matmul fast_affine
#define FAST_conv2d fast_affine
#define FAST_avg_pool2d fast_affine
#define FAST_global_avg_pool fast_affine
#define FAST_max_pool2d fast_maxpool
#define FAST_flatten fast_view
#define FAST_reshape fast_view
#define FAST_dropout fast_view
#define FAST_neg fast_neg
#define FAST_relu fast_relu
#define FAST_leaky_relu fast_leaky
#define FAST_sigmoid FAST_NONE
#define FAST_tanh FAST_NONE
#define FAST_clamp fast_clamp
#define FAST_add fast_broadcast
#define FAST_sub fast_broadcast
#define FAST_mul fast_broadcast
#define FAST_batch_norm FAST_NONE
/* one row per op of chk_ops.def: a missing rule is a compile error */
static const fast_rule fast_rules[OP_N] = {
#define CHK_OP(ENUM, name, ...) [OP_##ENUM] = FAST_##name,
#include "chk_ops.def"
#undef CHK_OP
};

static int fast_node(fast *F, int id, int f32) {
  const cgraph *g = F->g;
  const cnode *n = &g->nodes[id];
  int64_t N = n->numel;
  F->noover[id] = 0;
  /* a box that is entirely [-inf, inf] is always accepted (unbounded or possibly overflowing nodes
   * must have exactly that box; any finite parent image is contained in it) */
  int allinf = 1;
  for (int64_t o = 0; o < N && allinf; o++)
    allinf = F->lo[id][o] == -DINF && F->hi[id][o] == DINF;
  if (allinf)
    return 1;
  for (int k = 0; k < n->np; k++)
    if (F->unb[n->par[k]])
      return NOPE; /* the exact checker rejects (a finite box under an unbounded parent) */
  if (!fast_rules[n->op])
    return NOPE; /* sigmoid, tanh, batch norm, ...: exact path */
  return fast_rules[n->op](F, id, f32);
}

/* ---- one sample ------------------------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap)
    return 0;
  void *q = realloc(*p, need * size);
  if (!q)
    return -1;
  *p = q, *cap = need;
  return 0;
}

/* the region (check_region): lo <= hi, the box contains the clamped L_inf ball, the input box
 * contains the region box; scratch rl, rh, rc of the input's size */
static int fast_region(fast *F, const cJSON *rj, double *rl, double *rh, double *rc) {
  const cgraph *g = F->g;
  int64_t n = g->nodes[g->input].numel;
  const cJSON *kind = cJSON_IsObject(rj) ? cJSON_GetObjectItemCaseSensitive(rj, "kind") : NULL;
  if (!cJSON_IsString(kind) || (strcmp(kind->valuestring, "linf") && strcmp(kind->valuestring, "box")))
    return NOPE;
  if (farr(rj, "lo", n, rl, 0) || farr(rj, "hi", n, rh, 0))
    return NOPE;
  for (int64_t i = 0; i < n; i++)
    if (!(rl[i] <= rh[i]))
      return NOPE;
  if (!strcmp(kind->valuestring, "linf")) {
    double eps, dlo = 0, dhi = 0;
    if (farr(rj, "center", n, rc, 0) || fnum(rj, "eps", &eps) || !(eps >= 0))
      return NOPE;
    const cJSON *dom = cJSON_GetObjectItemCaseSensitive(rj, "domain");
    int clamp = dom != NULL && !cJSON_IsNull(dom);
    if (clamp && (!cJSON_IsArray(dom) || cJSON_GetArraySize(dom) != 2 || !cJSON_IsString(dom->child) ||
                  !cJSON_IsString(dom->child->next) || fast_parse(dom->child->valuestring, 0, &dlo) ||
                  fast_parse(dom->child->next->valuestring, 0, &dhi)))
      return NOPE;
    for (int64_t i = 0; i < n; i++) {
      /* lo <= max(c - eps, dlo) then min(., dhi): c - eps >= -RU(eps - c), clamping is monotone */
      double t = -(eps + -rc[i]);
      if (clamp)
        t = t > dlo ? t : dlo, t = t < dhi ? t : dhi;
      if (!(rl[i] <= t))
        return NOPE;
      double u = rc[i] + eps; /* >= c + eps */
      if (clamp)
        u = u < dhi ? u : dhi, u = u > dlo ? u : dlo;
      if (!(rh[i] >= u))
        return NOPE;
    }
  }
  const double *il = F->lo[g->input], *ih = F->hi[g->input];
  for (int64_t i = 0; i < n; i++)
    if (!(il[i] <= rl[i] && ih[i] >= rh[i])) /* +inf / -inf on the wrong side fail here */
      return NOPE;
  return 1;
}

/* property.label (check_label): absent, or an integer t in [0, nout) with the rows exactly
 * y_j - y_t < 0 for j != t in one safe clause (A = -c); anything else: the exact checker decides */
static int fast_label(const fast *F, const cJSON *pj, int64_t nout, int unsafe, int nr, int nc) {
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(pj, "label");
  if (!l)
    return 1;
  double v = cJSON_IsNumber(l) ? l->valuedouble : -1;
  if (!(v >= 0 && v < (double)nout && v == (double)(int64_t)v) || unsafe || nc != 1 || nr != nout - 1)
    return NOPE;
  int64_t t = (int64_t)v;
  for (int64_t j = 0, r = 0; j < nout; j++) {
    if (j == t)
      continue;
    const double *a = F->A + (size_t)r * (size_t)nout;
    for (int64_t k = 0; k < nout; k++)
      if (a[k] != (double)((k == t) - (k == j)))
        return NOPE;
    if (F->d[r] != 0 || !F->strict[r])
      return NOPE;
    r++;
  }
  return 1;
}

/* the property (read_prop): rows A (= c for unsafe, -c for safe), d, strict, clause starts */
static int fast_prop(fast *F, const cJSON *pj, int64_t nout, int *unsafe, int *nrows, int *ncl) {
  const cJSON *dnf = cJSON_IsObject(pj) ? cJSON_GetObjectItemCaseSensitive(pj, "dnf") : NULL;
  if (!cJSON_IsString(dnf) || (strcmp(dnf->valuestring, "safe") && strcmp(dnf->valuestring, "unsafe")))
    return NOPE;
  *unsafe = !strcmp(dnf->valuestring, "unsafe");
  int64_t v;
  if (fint(pj, "nout", 1, 100000000, &v) || v != nout)
    return NOPE;
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(pj, "clauses");
  if (!cJSON_IsArray(cl) || cJSON_GetArraySize(cl) < 1)
    return NOPE;
  int nr = 0, nc = 0;
  for (const cJSON *k = cl->child; k; k = k->next, nc++) {
    if (!cJSON_IsArray(k) || cJSON_GetArraySize(k) < 1)
      return NOPE;
    nr += cJSON_GetArraySize(k);
  }
  if (grow((void **)&F->A, &F->cap_cf, (size_t)nr * (size_t)nout, sizeof(double)) ||
      grow((void **)&F->d, &F->cap_d, (size_t)nr, sizeof(double)) ||
      grow((void **)&F->der, &F->cap_der, (size_t)nr, sizeof(double)) ||
      grow((void **)&F->strict, &F->cap_strict, (size_t)nr, sizeof(int)) ||
      grow((void **)&F->cstart, &F->cap_cstart, (size_t)nc + 1, sizeof(int)))
    return NOPE;
  int r = 0, ci = 0;
  for (const cJSON *k = cl->child; k; k = k->next, ci++) {
    F->cstart[ci] = r;
    for (const cJSON *row = k->child; row; row = row->next, r++) {
      double *a = F->A + (size_t)r * (size_t)nout;
      const cJSON *st = cJSON_IsObject(row) ? cJSON_GetObjectItemCaseSensitive(row, "strict") : NULL;
      if (farr(row, "c", nout, a, 0) || fnum(row, "d", &F->d[r]) || !cJSON_IsBool(st))
        return NOPE;
      F->strict[r] = cJSON_IsTrue(st);
      if (!*unsafe)
        for (int64_t j = 0; j < nout; j++)
          a[j] = -a[j];
    }
  }
  F->cstart[nc] = nr;
  *nrows = nr, *ncl = nc;
  return fast_label(F, pj, nout, *unsafe, nr, nc);
}

/* lower bounds der[k] of the IBP final bound of each row (backward with fold: the output's rule if
 * it is affine with finite parents, else its box) */
static int fast_final(fast *F, int f32, int nrows) {
  const cgraph *g = F->g;
  int out = g->output;
  const cnode *n = &g->nodes[out];
  int64_t N = n->numel;
  int pfin = 1;
  for (int k = 0; k < n->np; k++)
    pfin &= !F->unb[n->par[k]];
  if (pfin && is_affine(n->op)) {
    if (f32 && !F->noover[out])
      return NOPE; /* overflow not excluded (or the box was not re-derived): exact path */
    ctx c = {OK, ""};
    caff a;
    if (caff_get(&c, g, out, &a) != OK)
      return NOPE;
    const cnode *wn = aff_weight(g, n);
    const double *W = wn ? wn->wd : NULL, *B = a.bias >= 0 ? g->nodes[a.bias].wd : NULL;
    int64_t nx = g->nodes[a.x].numel;
    const double *xl = F->lo[a.x], *xh = F->hi[a.x];
    for (int64_t o = 0; o < N; o++)
      if (a.div[o] != 1)
        return NOPE;
    double *cu = F->cu, *cn = F->cn;
    for (int k = 0; k < nrows; k++) {
      const double *A = F->A + (size_t)k * (size_t)N;
      double ncst = 0; /* >= -(row's lower bound) */
      for (int64_t j = 0; j < nx; j++)
        cu[j] = 0, cn[j] = 0;
      for (int64_t o = 0; o < N; o++) {
        double l = A[o], ml = -l;
        if (l == 0)
          continue;
        for (int64_t q = a.rp[o]; q < a.rp[o + 1]; q++) {
          double w = W ? W[a.widx[q]] : 1.0;
          cu[a.col[q]] += l * w;  /* >= the exact coefficient c_j */
          cn[a.col[q]] += ml * w; /* >= -c_j */
        }
        if (B)
          ncst += ml * B[bias_index(n, o)];
        if (f32)
          ncst += dabs(l) * F->E[out][o];
      }
      /* c_j x_sel = min over x in [xl, xh] of c_j x: -(that) <= max over the corners of
       * [-cu, cn] x [xl, xh] */
      for (int64_t j = 0; j < nx; j++) {
        if (cu[j] == 0 && cn[j] == 0)
          continue; /* c_j = 0 exactly */
        double mu = -cu[j];
        ncst += dmax(dmax(cn[j] * xl[j], cn[j] * xh[j]), dmax(mu * xl[j], mu * xh[j]));
      }
      F->der[k] = -ncst;
    }
    return 1;
  }
  const double *yl = F->lo[out], *yh = F->hi[out];
  for (int k = 0; k < nrows; k++) {
    const double *A = F->A + (size_t)k * (size_t)N;
    double ncst = 0;
    int minf = 0;
    for (int64_t o = 0; o < N; o++) {
      double l = A[o];
      if (l == 0)
        continue;
      double e = l > 0 ? yl[o] : yh[o];
      if (e == DINF || e == -DINF)
        minf = 1;
      else
        ncst += -l * e;
    }
    F->der[k] = minf ? -DINF : -ncst;
  }
  return 1;
}

static int fast_run(fast *F, const cJSON *sj, int f32) {
  const cgraph *g = F->g;
  int n = g->n;
  memset(F->seen, 0, (size_t)n), memset(F->unb, 0, (size_t)n), memset(F->noover, 0, (size_t)n);
  const cJSON *boxes = cJSON_IsObject(sj) ? cJSON_GetObjectItemCaseSensitive(sj, "boxes") : NULL;
  if (!cJSON_IsArray(boxes))
    return NOPE;
  for (const cJSON *b = boxes->child; b; b = b->next) {
    int64_t id;
    if (fint(b, "node", 0, n - 1, &id) || g->nodes[id].op == OP_PARAM || F->seen[id])
      return NOPE;
    F->seen[id] = 1;
    int64_t N = g->nodes[id].numel;
    if (farr(b, "lo", N, F->lo[id], 1) || farr(b, "hi", N, F->hi[id], 1))
      return NOPE;
    for (int64_t i = 0; i < N && !F->unb[id]; i++)
      F->unb[id] =
          F->lo[id][i] == -DINF || F->lo[id][i] == DINF || F->hi[id][i] == -DINF || F->hi[id][i] == DINF;
  }
  for (int i = 0; i < n; i++)
    if (g->nodes[i].op != OP_PARAM && !F->seen[i])
      return NOPE;
  /* the region, with cu, cn, xa as scratch (maxnumel >= the input's size) */
  if (!fast_region(F, cJSON_IsObject(sj) ? cJSON_GetObjectItemCaseSensitive(sj, "region") : NULL, F->cu,
                   F->cn, F->xa))
    return NOPE;
  int unsafe = 0, nrows = 0, ncl = 0;
  int64_t nout = g->nodes[g->output].numel;
  if (!fast_prop(F, cJSON_GetObjectItemCaseSensitive(sj, "property"), nout, &unsafe, &nrows, &ncl))
    return NOPE;
  for (int i = 0; i < n; i++)
    if (g->nodes[i].op != OP_PARAM && g->nodes[i].op != OP_INPUT && !fast_node(F, i, f32))
      return NOPE;
  if (!fast_final(F, f32, nrows))
    return NOPE;
  /* claimed row lower bounds: each must be <= the derived one (proved by <= its lower bound) */
  double *cl = F->cu; /* the final pass is done with cu */
  if (nrows > F->maxnumel)
    return NOPE;
  if (farr(sj, "row_lower", nrows, cl, 1))
    return NOPE;
  for (int k = 0; k < nrows; k++)
    if (!(cl[k] == -DINF || (cl[k] != DINF && cl[k] <= F->der[k])))
      return NOPE;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(sj, "verdict");
  if (!cJSON_IsString(v))
    return NOPE;
  if (!strcmp(v->valuestring, "verified")) {
    /* decide() on lower bounds: every row test is monotone in the bound, so a row proved here holds
     * for the exact bound, and the verdict rule is monotone in the row results */
    int proved = unsafe;
    for (int k = 0; k < ncl; k++) {
      int all = 1, any = 0;
      for (int r = F->cstart[k]; r < F->cstart[k + 1]; r++) {
        double L = F->der[r], d = F->d[r];
        int ok = !unsafe ? (F->strict[r] ? L > -d : L >= -d) : (F->strict[r] ? L >= d : L > d);
        ok = ok && L != -DINF;
        all &= ok, any |= ok;
      }
      if (!unsafe && all) {
        proved = 1;
        break;
      }
      if (unsafe && !any) {
        proved = 0;
        break;
      }
    }
    if (!proved)
      return NOPE;
  } else if (strcmp(v->valuestring, "unknown") && strcmp(v->valuestring, "falsified")) {
    /* falsified: bounds only; the caller re-checks the counterexample (check_falsified_claim) */
    return NOPE;
  }
  return 1;
}

/* the environment really rounds upward, subnormals included (no FTZ/DAZ) */
static int upward_sane(void) {
  volatile double one = 1.0, tiny = 0x1p-60, sub = 0x1p-1074, mn = 0x1p-1022;
  double a = one + tiny, b = -one - tiny, c = sub * 0.5, d = sub + sub, e = mn * 0.5;
  return a > 1.0 && b == -1.0 && c == 0x1p-1074 && d == 0x1p-1073 && e == 0x1p-1023;
}

int fast_sample(fast *F, const cJSON *sj, int f32, int crown_m) {
  if (!F || crown_m)
    return NOPE;
  int old = fegetround();
  if (old < 0 || fesetround(FE_UPWARD) != 0)
    return NOPE;
  int ok = upward_sane() && fast_run(F, sj, f32);
  fesetround(old);
  return ok;
}
