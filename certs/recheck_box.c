/* recheck_box.c - torchlean-check: re-derivation of node boxes: exact real images (fixed-point affine sums),
 * f32-any error radii, box containment. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

/* ---- f32-any constants --------------------------------------------------------------------- */
static void set_pow2(mpq_t q, long e) {
  mpq_set_ui(q, 1, 1);
  if (e > 0)
    mpq_mul_2exp(q, q, (mp_bitcnt_t)e);
  else
    mpq_div_2exp(q, q, (mp_bitcnt_t)-e);
}
/* ---- per-sample state ------------------------------------------------------------------------ */

int box_unb(const box *b, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (b->lo[i].inf || b->hi[i].inf)
      return 1;
  return 0;
}

void qabsmax(mpq_t r, const qv *l, const qv *h) {
  mpq_t a;
  mpq_init(a);
  mpq_abs(r, l->q);
  mpq_abs(a, h->q);
  if (mpq_cmp(a, r) > 0)
    mpq_set(r, a);
  mpq_clear(a);
}

/* monotone sigmoid/tanh values as rational bounds, 128-bit MPFR */
void act_bound(mpq_t r, cop op, const mpq_t x, int up) {
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
void act_deriv_low(mpq_t r, cop op, const mpq_t x) {
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
void bn_scale(const sample *s, const cnode *n, int64_t ch, mpq_t slo, mpq_t shi) {
  const cgraph *g = s->g;
  bncache *k = &n->bn[ch]; /* depends on the channel's parameters only */
  if (k->sdone) {
    mpq_set(slo, k->slo), mpq_set(shi, k->shi);
    return;
  }
  const mpq_t *gm = (const mpq_t *)&g->nodes[n->par[1]].w[ch].q,
              *var = (const mpq_t *)&g->nodes[n->par[4]].w[ch].q;
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
  mpq_set(k->slo, slo), mpq_set(k->shi, shi);
  k->sdone = 1;
}

int64_t bn_channel(const cnode *n, int64_t o) {
  int64_t inner = 1;
  for (int i = 2; i < n->nd; i++)
    inner *= n->shape[i];
  return (o / inner) % n->shape[1];
}

int64_t bc_index(const cnode *n, const cnode *p, int64_t o) {
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

void qmin2(mpq_t r, const mpq_t a, const mpq_t b) { mpq_set(r, mpq_cmp(a, b) <= 0 ? a : b); }
void qmax2(mpq_t r, const mpq_t a, const mpq_t b) { mpq_set(r, mpq_cmp(a, b) >= 0 ? a : b); }

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

/* f32-any error parameters of an elementwise op (chk_ops.def: exact binary64 constants) */
static void elem_relabs(cop op, mpq_t rel, mpq_t eabs) {
  mpq_set_d(rel, chk_ops[op].rel), mpq_set_d(eabs, chk_ops[op].eabs);
}

/* mpz value v 2^P -> exact rational */
void z_to_q(mpq_t q, const mpz_t v, long P) {
  mpq_set_z(q, v);
  if (P > 0)
    mpq_mul_2exp(q, q, (mp_bitcnt_t)P);
  else if (P < 0)
    mpq_div_2exp(q, q, (mp_bitcnt_t)-P);
}

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

static void i128_to_z(mpz_t r, i128 v) {
  u128 u = v < 0 ? -(u128)v : (u128)v;
  mpz_set_ui(r, (unsigned long)(uint64_t)(u >> 64));
  mpz_mul_2exp(r, r, 64);
  mpz_add_ui(r, r, (unsigned long)(uint64_t)u);
  if (v < 0)
    mpz_neg(r, r);
}

/* output o of an affine node from its exact sums at scale 2^P: bias added, divided by the window */
static void affine_out(const cgraph *g, const cnode *n, const caff *a, int64_t o, const mpz_t al,
                       const mpz_t ah, const mpz_t as, long P, qv *lo, qv *hi, mpq_t *S, mpq_t t) {
  z_to_q(lo[o].q, al, P), z_to_q(hi[o].q, ah, P);
  if (S)
    z_to_q(S[o], as, P);
  if (a->bias >= 0) {
    mpq_srcptr b = g->nodes[a->bias].w[bias_index(n, o)].q;
    mpq_add(lo[o].q, lo[o].q, b), mpq_add(hi[o].q, hi[o].q, b);
  }
  if (a->div[o] != 1) {
    mpq_set_si(t, a->div[o], 1);
    mpq_div(lo[o].q, lo[o].q, t), mpq_div(hi[o].q, hi[o].q, t);
  }
}

/* the common exponent ex of a box whose every end is a finite dyadic (0: some end is not) */
static int box_exp(const box *x, int64_t nx, long *exp) {
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
  *exp = ex == LONG_MAX ? 0 : ex;
  return 1;
}

/* the box as integers at 2^ex: XL, XH and XA = max(|XL|, |XH|) (3 nx mpz, NULL: out of memory) */
static mpz_t *box_fixed(const box *x, int64_t nx, long ex) {
  mpz_t *X = malloc((size_t)(3 * nx) * sizeof *X);
  if (!X)
    return NULL;
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
  return X;
}

/* The fixed-point box as machine integers when 128-bit accumulation cannot overflow: |W| < 2^bw,
 * |X| < 2^bx, at most K terms per output, so every partial sum is below K 2^(bw + bx) <=
 * 2^(bits(K) + bw + bx) <= 2^126.  NULL: not small enough (or no memory): use the mpz sums. */
static int64_t *box_small(const caff *a, const cnode *w, mpz_t *X, int64_t nx) {
  const mpz_t *XL = X, *XH = X + nx, *XA = X + 2 * nx;
  int bx = 0, bw = w ? w->wbits : 1, bk = 0;
  for (int64_t i = 0; i < nx; i++) {
    int b1 = mpz_sgn(XL[i]) ? (int)mpz_sizeinbase(XL[i], 2) : 0,
        b2 = mpz_sgn(XH[i]) ? (int)mpz_sizeinbase(XH[i], 2) : 0;
    if (b1 > bx)
      bx = b1;
    if (b2 > bx)
      bx = b2;
  }
  int64_t kmax = 0;
  for (int64_t o = 0; o < a->nout; o++)
    if (a->rp[o + 1] - a->rp[o] > kmax)
      kmax = a->rp[o + 1] - a->rp[o];
  while (kmax >> bk)
    bk++;
  int64_t *x64 = NULL;
  if ((!w || w->w64) && bx <= 62 && bw <= 62 && bk + bw + bx <= 126)
    x64 = malloc((size_t)(3 * nx) * sizeof *x64);
  if (x64) {
    int64_t *xl = x64, *xh = x64 + nx, *xa = x64 + 2 * nx;
    for (int64_t i = 0; i < nx; i++)
      xl[i] = (int64_t)mpz_get_si(XL[i]), xh[i] = (int64_t)mpz_get_si(XH[i]),
      xa[i] = (int64_t)mpz_get_si(XA[i]);
  }
  return x64;
}

/* every output's exact sums in 128-bit integers (box_small) */
static void affine_sums_i128(const cgraph *g, const cnode *n, const caff *a, const cnode *w,
                             const int64_t *x64, int64_t nx, long P, qv *lo, qv *hi, mpq_t *S) {
  mpz_t al, ah, as;
  mpz_init(al), mpz_init(ah), mpz_init(as);
  mpq_t t;
  mpq_init(t);
  for (int64_t o = 0; o < a->nout; o++) {
    const int64_t *xl = x64, *xh = x64 + nx, *xa = x64 + 2 * nx;
    i128 sl = 0, sh = 0, ss = 0;
    for (int64_t k = a->rp[o]; k < a->rp[o + 1]; k++) {
      int64_t j = a->col[k];
      if (!w) {
        sl += xl[j], sh += xh[j], ss += xa[j];
        continue;
      }
      int64_t W = w->w64[a->widx[k]];
      if (W > 0) {
        sl += (i128)W * xl[j], sh += (i128)W * xh[j], ss += (i128)W * xa[j];
      } else if (W < 0) {
        sl += (i128)W * xh[j], sh += (i128)W * xl[j], ss -= (i128)W * xa[j];
      }
    }
    i128_to_z(al, sl), i128_to_z(ah, sh), i128_to_z(as, ss);
    affine_out(g, n, a, o, al, ah, as, P, lo, hi, S, t);
  }
  mpq_clear(t);
  mpz_clear(al), mpz_clear(ah), mpz_clear(as);
}

/* every output's exact sums in GMP integers (one mpz_addmul per term) */
static void affine_sums_mpz(const cgraph *g, const cnode *n, const caff *a, const cnode *w, mpz_t *X,
                            int64_t nx, long P, qv *lo, qv *hi, mpq_t *S) {
  const mpz_t *XL = X, *XH = X + nx, *XA = X + 2 * nx;
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
    affine_out(g, n, a, o, al, ah, as, P, lo, hi, S, t);
  }
  mpq_clear(t);
  mpz_clear(al), mpz_clear(ah), mpz_clear(as);
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
  const cnode *w = aff_weight(g, n);
  *rc = OK;
  if (w && !w->wzok)
    return 0;
  const box *x = &s->b[a->x];
  int64_t nx = g->nodes[a->x].numel;
  long ex;
  if (!box_exp(x, nx, &ex))
    return 0;
  mpz_t *X = box_fixed(x, nx, ex);
  if (!X) {
    *rc = fail(c, BAD, "out of memory");
    return 1;
  }
  long P = ex + (w ? w->wze : 0);
  int64_t *x64 = box_small(a, w, X, nx);
  if (x64)
    affine_sums_i128(g, n, a, w, x64, nx, P, lo, hi, S);
  else
    affine_sums_mpz(g, n, a, w, X, nx, P, lo, hi, S);
  free(x64);
  for (int64_t i = 0; i < 3 * nx; i++)
    mpz_clear(X[i]);
  free(X);
  return 1;
}

/* the rational path of an affine image (some number not dyadic) */
static void affine_rational(const sample *s, const cnode *n, const caff *a, qv *lo, qv *hi, mpq_t *S) {
  const cgraph *g = s->g;
  const box *x = &s->b[n->par[0]];
  mpq_t t, u;
  mpq_init(t), mpq_init(u);
  for (int64_t o = 0; o < a->nout; o++) {
    if (a->bias >= 0)
      mpq_set(lo[o].q, g->nodes[a->bias].w[bias_index(n, o)].q);
    else
      mpq_set_ui(lo[o].q, 0, 1);
    mpq_set(hi[o].q, lo[o].q);
    if (S)
      mpq_set_ui(S[o], 0, 1);
    for (int64_t k = a->rp[o]; k < a->rp[o + 1]; k++) {
      const qv *xl = &x->lo[a->col[k]], *xh = &x->hi[a->col[k]];
      if (S) { /* S += |w| max|x| */
        qabsmax(t, xl, xh);
        if (a->w[k]) {
          mpq_abs(u, *a->w[k]);
          mpq_mul(t, t, u);
        }
        mpq_add(S[o], S[o], t);
      }
      if (!a->w[k]) {
        mpq_add(lo[o].q, lo[o].q, xl->q), mpq_add(hi[o].q, hi[o].q, xh->q);
        continue;
      }
      int neg = mpq_sgn(*a->w[k]) < 0;
      mpq_mul(t, *a->w[k], neg ? xh->q : xl->q);
      mpq_add(lo[o].q, lo[o].q, t);
      mpq_mul(t, *a->w[k], neg ? xl->q : xh->q);
      mpq_add(hi[o].q, hi[o].q, t);
    }
    if (a->div[o] != 1) {
      mpq_set_si(t, a->div[o], 1);
      mpq_div(lo[o].q, lo[o].q, t), mpq_div(hi[o].q, hi[o].q, t);
    }
  }
  mpq_clear(t), mpq_clear(u);
}

/* ---- real images: one rule per op of chk_ops.def.  Node id's exact real image [lo, hi] from its
 * parents' certificate boxes (all bounded); S (affine ops, f32-any only, else NULL) receives
 * sum |w| max|x| per output (without the bias), for node_err. */
typedef int (*real_rule)(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S);

/* y = sum w x + b (/ div): exact fixed point where every number is dyadic, else rationals */
static int real_affine(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  caff a;
  int rc = caff_get(c, s->g, id, &a);
  int done = 0;
  if (rc == OK)
    done = affine_fast(c, s, id, &a, lo, hi, S, &rc);
  if (rc == OK && !done)
    affine_rational(s, &s->g->nodes[id], &a, lo, hi, S);
  return rc;
}
/* no interval rule (the input and parameters have no parents) */
static int real_none(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  (void)lo, (void)hi, (void)S;
  return fail(c, REJ, "REJECT: op %s has no interval rule (node %d, index 0)", op_names[s->g->nodes[id].op],
              id);
}
/* y = x */
static int real_view(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  (void)c, (void)S;
  const cnode *n = &s->g->nodes[id];
  const box *x = &s->b[n->par[0]];
  for (int64_t i = 0; i < n->numel; i++)
    mpq_set(lo[i].q, x->lo[i].q), mpq_set(hi[i].q, x->hi[i].q);
  return OK;
}
/* y = -x */
static int real_neg(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  (void)c, (void)S;
  const cnode *n = &s->g->nodes[id];
  const box *x = &s->b[n->par[0]];
  for (int64_t i = 0; i < n->numel; i++)
    mpq_neg(lo[i].q, x->hi[i].q), mpq_neg(hi[i].q, x->lo[i].q);
  return OK;
}
/* y = x >= 0 ? x : 0 (relu) or alpha x (leaky relu): monotone */
static int real_relu(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  (void)c, (void)S;
  const cnode *n = &s->g->nodes[id];
  const box *x = &s->b[n->par[0]];
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
  return OK;
}
/* y = sigmoid(x), tanh(x): monotone, ends enclosed with MPFR */
static int real_sigmoid(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  (void)c, (void)S;
  const cnode *n = &s->g->nodes[id];
  const box *x = &s->b[n->par[0]];
  for (int64_t i = 0; i < n->numel; i++)
    act_bound(lo[i].q, n->op, x->lo[i].q, 0), act_bound(hi[i].q, n->op, x->hi[i].q, 1);
  return OK;
}
/* y = min(max(x, lo), hi) */
static int real_clamp(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  (void)c, (void)S;
  const cnode *n = &s->g->nodes[id];
  const box *x = &s->b[n->par[0]];
  for (int64_t i = 0; i < n->numel; i++) {
    qmax2(lo[i].q, x->lo[i].q, n->clo), qmin2(lo[i].q, lo[i].q, n->chi);
    qmax2(hi[i].q, x->hi[i].q, n->clo), qmin2(hi[i].q, hi[i].q, n->chi);
  }
  return OK;
}
/* y = max over the window (padding excluded) */
static int real_maxpool(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  (void)S;
  const cnode *n = &s->g->nodes[id];
  const box *x = &s->b[n->par[0]];
  const cnode *xn = &s->g->nodes[n->par[0]];
  int64_t H = xn->shape[2], W = xn->shape[3], Ho = n->shape[2], Wo = n->shape[3];
  int rc = OK;
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
      rc = fail(c, REJ, "REJECT: max pool window without an input element (node %d, index %lld)", id,
                (long long)o);
  }
  return rc;
}
/* y = a + b, a - b, a * b (broadcasting) */
static int real_broadcast(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  (void)c, (void)S;
  const cgraph *g = s->g;
  const cnode *n = &g->nodes[id];
  const box *x = &s->b[n->par[0]], *y = &s->b[n->par[1]];
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
  return OK;
}
/* y = (x - mu) scale + beta, scale = gamma / sqrt(var + eps) enclosed per channel */
static int real_bn(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t *S) {
  (void)S;
  const cgraph *g = s->g;
  const cnode *n = &g->nodes[id];
  const box *x = &s->b[n->par[0]];
  int rc = OK;
  mpq_t t, sl, sh, dl, dh;
  mpq_init(t), mpq_init(sl), mpq_init(sh), mpq_init(dl), mpq_init(dh);
  for (int64_t o = 0; o < n->numel; o++) {
    int64_t ch = bn_channel(n, o);
    mpq_add(t, g->nodes[n->par[4]].w[ch].q, n->eps);
    if (mpq_sgn(t) <= 0) {
      rc = fail(c, REJ, "REJECT: batch norm variance + eps not positive (node %d, index %lld)", id,
                (long long)ch);
      break;
    }
    bn_scale(s, n, ch, sl, sh);
    mpq_sub(dl, x->lo[o].q, g->nodes[n->par[3]].w[ch].q);
    mpq_sub(dh, x->hi[o].q, g->nodes[n->par[3]].w[ch].q);
    imul(lo[o].q, hi[o].q, dl, dh, sl, sh);
    mpq_add(lo[o].q, lo[o].q, g->nodes[n->par[2]].w[ch].q);
    mpq_add(hi[o].q, hi[o].q, g->nodes[n->par[2]].w[ch].q);
  }
  mpq_clear(t), mpq_clear(sl), mpq_clear(sh), mpq_clear(dl), mpq_clear(dh);
  return rc;
}

#define REAL_input real_none
#define REAL_param real_none
#define REAL_linear real_affine
#define REAL_matmul real_affine
#define REAL_conv2d real_affine
#define REAL_avg_pool2d real_affine
#define REAL_global_avg_pool real_affine
#define REAL_max_pool2d real_maxpool
#define REAL_flatten real_view
#define REAL_reshape real_view
#define REAL_dropout real_view
#define REAL_neg real_neg
#define REAL_relu real_relu
#define REAL_leaky_relu real_relu
#define REAL_sigmoid real_sigmoid
#define REAL_tanh real_sigmoid
#define REAL_clamp real_clamp
#define REAL_add real_broadcast
#define REAL_sub real_broadcast
#define REAL_mul real_broadcast
#define REAL_batch_norm real_bn
/* one row per op of chk_ops.def: a missing rule is a compile error */
static const real_rule real_rules[OP_N] = {
#define CHK_OP(ENUM, name, ...) [OP_##ENUM] = REAL_##name,
#include "chk_ops.def"
#undef CHK_OP
};

/* exact real image of node id from the parents' certificate boxes (no f32 widening);
 * *unb = 1 when a parent is unbounded.  For affine nodes, S (if not NULL) receives
 * sum |w| max|x| per output (without the bias), for node_err. */
static int derive_real(ctx *c, sample *s, int id, qv *lo, qv *hi, int *unb, mpq_t *S) {
  const cnode *n = &s->g->nodes[id];
  *unb = 0;
  for (int k = 0; k < n->np; k++)
    if (s->b[n->par[k]].unb) {
      *unb = 1;
      return OK;
    }
  return real_rules[n->op](c, s, id, lo, hi, S);
}

/* ---- f32-any error radii ------------------------------------------------------------------------
 * The f32-any batch-norm model (2^-20 relative) needs var + eps far from underflow (a subnormal
 * (float)eps is off by up to eta/2, relatively far more than u) and no overflowing intermediate in
 * any formula order.  Mirrors the verifier's guard: unbounded unless
 *   min(var + eps, var + fl(eps)) >= 2^-100  and
 *   2 ((max|x| + |mu| + 1) max(1, 1/sqrt(ve)) max(1, |gamma|) + |beta| + |var| + |eps| + 1) <= FLT_MAX,
 * with fl(eps) rounded down to binary32 and 1/sqrt(ve) rounded up. */
/* the channel part of the guard (var + eps against underflow, u >= max(1, 1/sqrt(ve))), cached */
static const bncache *bn_guard_channel(const cnode *n, const cgraph *g, int64_t ch) {
  bncache *k = &n->bn[ch];
  if (k->mdone)
    return k;
  const mpq_t *var = (const mpq_t *)&g->nodes[n->par[4]].w[ch].q;
  mpfr_t f, r;
  mpfr_init2(f, 24), mpfr_init2(r, PREC);
  mpq_t ve, t;
  mpq_init(ve), mpq_init(t);
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
  k->bad = mpq_cmp(ve, t) < 0;
  if (!k->bad) {
    mpfr_set_q(r, ve, MPFR_RNDD);
    mpfr_rec_sqrt(r, r, MPFR_RNDU);
    mpfr_get_q(k->u, r); /* >= 1/sqrt(ve) */
    if (mpq_cmp_ui(k->u, 1, 1) < 0)
      mpq_set_ui(k->u, 1, 1);
  }
  mpq_clear(ve), mpq_clear(t);
  mpfr_clear(f), mpfr_clear(r);
  k->mdone = 1;
  return k;
}

static int bn_may_misbehave(const sample *s, const cnode *n, int64_t ch, const box *x, int64_t o) {
  const cgraph *g = s->g;
  const mpq_t *gm = (const mpq_t *)&g->nodes[n->par[1]].w[ch].q,
              *beta = (const mpq_t *)&g->nodes[n->par[2]].w[ch].q;
  const mpq_t *mu = (const mpq_t *)&g->nodes[n->par[3]].w[ch].q,
              *var = (const mpq_t *)&g->nodes[n->par[4]].w[ch].q;
  const bncache *k = bn_guard_channel(n, g, ch);
  if (k->bad)
    return 1;
  mpq_t t, big;
  mpq_init(t), mpq_init(big);
  qabsmax(big, &x->lo[o], &x->hi[o]);
  mpq_abs(t, *mu), mpq_add(big, big, t);
  mpq_set_ui(t, 1, 1), mpq_add(big, big, t);
  mpq_mul(big, big, k->u);
  mpq_abs(t, *gm);
  if (mpq_cmp_ui(t, 1, 1) > 0)
    mpq_mul(big, big, t);
  mpq_abs(t, *beta), mpq_add(big, big, t);
  mpq_abs(t, *var), mpq_add(big, big, t);
  mpq_abs(t, n->eps), mpq_add(big, big, t);
  mpq_set_ui(t, 1, 1), mpq_add(big, big, t);
  mpq_mul_2exp(big, big, 1);
  int bad = mpq_cmp(big, s->flt_max) > 0;
  mpq_clear(t), mpq_clear(big);
  return bad;
}

/* affine: E = gamma_k S / div + k eta/2 (1 + gamma_k), S = sum |w| max|x| + |b| (from derive_real
 * when S != NULL); *over when (1 + gamma_k) S + k eta > FLT_MAX */
static int node_err_affine(ctx *c, sample *s, int id, mpq_t *E, int *over, const mpq_t *S) {
  const cgraph *g = s->g;
  const cnode *n = &g->nodes[id];
  mpq_t t, gk, rel, eabs, m;
  mpq_init(t), mpq_init(gk), mpq_init(rel), mpq_init(eabs), mpq_init(m);
  caff a;
  int rc = caff_get(c, g, id, &a);
  const box *x = &s->b[a.x];
  for (int64_t o = 0; rc == OK && o < a.nout; o++) {
    mpq_set_ui(m, 0, 1); /* S = sum |w| max|x| + |b| */
    if (a.bias >= 0) {
      mpq_abs(t, g->nodes[a.bias].w[bias_index(n, o)].q);
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
    if (o == 0 || a.k[o] != a.k[o - 1]) /* gamma_k: the same k for most outputs */
      chk_gamma_q(gk, a.k[o]);
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
  mpq_clear(t), mpq_clear(gk), mpq_clear(rel), mpq_clear(eabs), mpq_clear(m);
  return rc;
}

/* batch norm: E = rel (max|scale| (max|x| + |mu|) + |beta|) + eabs (chk_ops.def); *over where the
 * model does not apply (bn_may_misbehave) */
static void node_err_bn(sample *s, int id, mpq_t *E, int *over) {
  const cgraph *g = s->g;
  const cnode *n = &g->nodes[id];
  const box *x = &s->b[n->par[0]];
  mpq_t t, rel, m, sl, sh;
  mpq_init(t), mpq_init(rel), mpq_init(m), mpq_init(sl), mpq_init(sh);
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
    mpq_set_d(rel, chk_ops[OP_BN].rel); /* 2^-20 */
    mpq_mul(E[o], t, rel);
    mpq_set_d(rel, chk_ops[OP_BN].eabs); /* 2^-140 */
    mpq_add(E[o], E[o], rel);
    if (bn_may_misbehave(s, n, ch, x, o))
      *over = 1; /* the 2^-20 model does not apply: the node must be unbounded */
  }
  mpq_clear(t), mpq_clear(rel), mpq_clear(m), mpq_clear(sl), mpq_clear(sh);
}

/* elementwise: E = rel max|real image| + eabs (chk_ops.def; 0 for the exact ops) */
static void node_err_elem(const cnode *n, const qv *ilo, const qv *ihi, mpq_t *E) {
  mpq_t t, rel, eabs;
  mpq_init(t), mpq_init(rel), mpq_init(eabs);
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
  mpq_clear(t), mpq_clear(rel), mpq_clear(eabs);
}

/* f32-any error radius E[o] of node id by its op's model (chk_ops.def err column; img [ilo, ihi]:
 * its real image); *over = 1 when a binary32 evaluation may overflow */
static int node_err(ctx *c, sample *s, int id, const qv *ilo, const qv *ihi, mpq_t *E, int *over,
                    const mpq_t *S) {
  const cnode *n = &s->g->nodes[id];
  *over = 0;
  switch (chk_ops[n->op].err) {
  case CHK_ERR_AFFINE: return node_err_affine(c, s, id, E, over, S);
  case CHK_ERR_BN: node_err_bn(s, id, E, over); return OK;
  case CHK_ERR_ELEM:
  case CHK_ERR_NONE: node_err_elem(n, ilo, ihi, E); return OK;
  }
  return OK;
}

/* The box of node id re-derived from its parents' boxes in s->b: the exact real image, widened in
 * f32-any by the node's error radius.  *unb: a parent is unbounded; *over_err: node_err found a
 * possible overflow; *over: that, or a widened end beyond FLT_MAX.  *Eout (f32-any, bounded parents,
 * OK): the radius, owned by the caller (else NULL). */
static int derive_widened(ctx *c, sample *s, int id, qv *lo, qv *hi, mpq_t **Eout, int *unb, int *over_err,
                          int *over) {
  const cnode *n = &s->g->nodes[id];
  int64_t N = n->numel;
  *Eout = NULL, *unb = 0, *over_err = 0, *over = 0;
  mpq_t *E = malloc((size_t)N * sizeof *E);
  if (!E)
    return fail(c, BAD, "out of memory");
  for (int64_t i = 0; i < N; i++)
    mpq_init(E[i]);
  mpq_t *S = NULL, t;
  mpq_init(t);
  if (s->f32 && is_affine(n->op)) {
    if (!(S = malloc((size_t)N * sizeof *S)))
      return fail(c, BAD, "out of memory");
    for (int64_t i = 0; i < N; i++)
      mpq_init(S[i]);
  }
  int rc = derive_real(c, s, id, lo, hi, unb, S);
  if (rc == OK && !*unb && s->f32) {
    rc = node_err(c, s, id, lo, hi, E, over_err, S);
    *over = *over_err;
    for (int64_t i = 0; rc == OK && i < N; i++) {
      mpq_sub(lo[i].q, lo[i].q, E[i]);
      mpq_add(hi[i].q, hi[i].q, E[i]);
      mpq_abs(t, lo[i].q);
      if (mpq_cmp(t, s->flt_max) > 0)
        *over = 1;
      mpq_abs(t, hi[i].q);
      if (mpq_cmp(t, s->flt_max) > 0)
        *over = 1;
    }
    if (rc == OK) {
      *Eout = E;
      E = NULL;
    }
  }
  mpq_clear(t);
  for (int64_t i = 0; S && i < N; i++)
    mpq_clear(S[i]);
  free(S);
  for (int64_t i = 0; E && i < N; i++)
    mpq_clear(E[i]);
  free(E);
  return rc;
}

/* Check the certificate box of node id: it must contain the box re-derived from its parents'
 * certificate boxes. */
int check_box(ctx *c, sample *s, int id) {
  const cnode *n = &s->g->nodes[id];
  box *b = &s->b[id];
  int64_t N = n->numel;
  qv *lo = qv_new(N), *hi = qv_new(N);
  if (!lo || !hi)
    return fail(c, BAD, "out of memory");
  int unb = 0, over_err = 0, over = 0;
  mpq_t *E = NULL;
  int rc = derive_widened(c, s, id, lo, hi, &E, &unb, &over_err, &over);
  s->eunb[id] = (unsigned char)unb;
  if (rc == OK && !unb && s->f32)
    s->eover[id] = (unsigned char)over_err;
  s->E[id] = E; /* kept for the backward passes (same boxes, same radius) */
  if (rc == OK && (unb || over)) {
    for (int64_t i = 0; i < N && rc == OK; i++)
      if (b->lo[i].inf != -1 || b->hi[i].inf != 1)
        rc = fail(c, REJ,
                  "REJECT: node may be unbounded (overflow or unbounded parent) but its box is finite "
                  "(node %d, index %lld)",
                  id, (long long)i);
  }
  for (int64_t i = 0; rc == OK && !unb && !over && i < N; i++) {
    if (b->lo[i].inf == 1 || b->hi[i].inf == -1 ||
        (!b->lo[i].inf && !b->hi[i].inf && mpq_cmp(b->lo[i].q, b->hi[i].q) > 0))
      rc = fail(c, REJ, "REJECT: empty box (node %d, index %lld)", id, (long long)i);
    else if (!b->lo[i].inf && mpq_cmp(b->lo[i].q, lo[i].q) > 0)
      rc = fail(c, REJ, "REJECT: lower bound above the re-derived bound (node %d, index %lld)", id,
                (long long)i);
    else if (!b->hi[i].inf && mpq_cmp(b->hi[i].q, hi[i].q) < 0)
      rc = fail(c, REJ, "REJECT: upper bound below the re-derived bound (node %d, index %lld)", id,
                (long long)i);
  }
  qv_free(lo, N), qv_free(hi, N);
  return rc;
}

/* v as m 2^e with |m| < 2^63 odd (or 0) where it is such a dyadic, for the fixed-point sums */
static void qv_mark_dyadic(qv *v) {
  mpz_srcptr num = mpq_numref(v->q), den = mpq_denref(v->q);
  v->dy = 0;
  if (v->inf || mpz_popcount(den) != 1)
    return;
  if (mpz_sgn(num) == 0) {
    v->dy = 1, v->dm = 0, v->de = 0;
    return;
  }
  mp_bitcnt_t tz = mpz_scan1(num, 0);
  if (mpz_sizeinbase(num, 2) - tz > 62)
    return;
  mpz_t m;
  mpz_init(m);
  mpz_tdiv_q_2exp(m, num, tz);
  v->dy = 1, v->dm = (int64_t)mpz_get_si(m), v->de = (long)tz - (long)mpz_scan1(den, 0);
  mpz_clear(m);
}

/* v rounded outward (down: lo, up: hi) to 62 significant bits, so the next affine node sums it in
 * fixed point (the f32-any radii are not dyadic): the box only grows, it stays an enclosure */
static void qv_round_out(qv *v, int up) {
  mpfr_t t;
  mpfr_init2(t, 62);
  mpfr_set_q(t, v->q, up ? MPFR_RNDU : MPFR_RNDD);
  mpfr_get_q(v->q, t);
  mpfr_clear(t);
  qv_mark_dyadic(v);
}

/* Derive mode (a counterexample's enclosure): node id's box is set to the box re-derived from its
 * parents' boxes in s->b (themselves derived): the real image, widened in f32-any, rounded outward
 * to 62-bit dyadics; [-inf, inf] everywhere (unb) when a parent is unbounded or a binary32
 * evaluation may overflow. */
int derive_box(ctx *c, sample *s, int id) {
  const cnode *n = &s->g->nodes[id];
  box *b = &s->b[id];
  int unb = 0, over_err = 0, over = 0;
  mpq_t *E = NULL;
  int rc = derive_widened(c, s, id, b->lo, b->hi, &E, &unb, &over_err, &over);
  s->eunb[id] = (unsigned char)unb;
  s->eover[id] = (unsigned char)over_err;
  s->E[id] = E;
  b->unb = unb || over;
  for (int64_t i = 0; rc == OK && i < n->numel; i++) {
    b->lo[i].inf = b->unb ? -1 : 0, b->hi[i].inf = b->unb ? 1 : 0;
    if (!b->unb)
      qv_round_out(&b->lo[i], 0), qv_round_out(&b->hi[i], 1);
  }
  return rc;
}
