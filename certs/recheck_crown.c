/* recheck_crown.c - torchlean-check: CROWN: exact backward pass and relaxation-line checks. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

/* ---- CROWN -------------------------------------------------------------------------------------- */

/* the common scale 2^le of a row of multipliers, if every one is dyadic (LONG_MAX: all zero);
 * 0: some denominator is not a power of two */
static int row_scale(const mpq_t *row, int64_t N, long *lep) {
  long le = LONG_MAX;
  for (int64_t o = 0; o < N; o++) {
    if (mpq_sgn(row[o]) == 0)
      continue;
    mpz_srcptr den = mpq_denref(row[o]);
    if (mpz_popcount(den) != 1)
      return 0;
    long e = -(long)(mpz_sizeinbase(den, 2) - 1);
    if (e < le)
      le = e;
  }
  *lep = le;
  return 1;
}

/* Exact fixed-point transpose of a weighted affine node (linear, matmul, conv: no division) for
 * every row k whose multipliers lam[k][.] are all dyadic (power-of-two denominators): with
 * lam = l 2^le and w = W 2^wze as integers, Lx[k][col] += 2^(le + wze) sum_o l[o] W[o, col] is
 * an integer dot product per input (one mpz_addmul per term); the bias term goes to cst[k]
 * exactly.  Sets done[k] = 1 for the rows it handled; the others keep the rational path. */
static int affine_back_fast(ctx *c, const cgraph *g, int id, const caff *a, int m, mpq_t *lam, mpq_t *Lx,
                            qv *cst, int *done) {
  const cnode *n = &g->nodes[id];
  if (!is_weighted(n->op))
    return OK;
  const cnode *w = &g->nodes[n->par[1]];
  if (!w->wzok)
    return OK;
  int64_t N = n->numel, nin = g->nodes[a->x].numel;
  for (int64_t o = 0; o < N; o++)
    if (a->div[o] != 1)
      return OK;
  mpz_t *lz = malloc((size_t)N * sizeof *lz), *acc = malloc((size_t)nin * sizeof *acc);
  if (!lz || !acc) {
    free(lz), free(acc);
    return fail(c, BAD, "out of memory");
  }
  for (int64_t o = 0; o < N; o++)
    mpz_init(lz[o]);
  for (int64_t i = 0; i < nin; i++)
    mpz_init(acc[i]);
  mpq_t t;
  mpq_init(t);
  for (int k = 0; k < m; k++) {
    mpq_t *row = lam + (size_t)k * N;
    long le;
    if (!row_scale(row, N, &le))
      continue;
    if (le == LONG_MAX) { /* all zero */
      done[k] = 1;
      continue;
    }
    for (int64_t o = 0; o < N; o++) {
      if (mpq_sgn(row[o]) == 0) {
        mpz_set_ui(lz[o], 0);
        continue;
      }
      long e = -(long)(mpz_sizeinbase(mpq_denref(row[o]), 2) - 1);
      mpz_mul_2exp(lz[o], mpq_numref(row[o]), (mp_bitcnt_t)(e - le));
    }
    for (int64_t i = 0; i < nin; i++)
      mpz_set_ui(acc[i], 0);
    for (int64_t o = 0; o < N; o++) {
      if (mpz_sgn(lz[o]) == 0)
        continue;
      for (int64_t q = a->rp[o]; q < a->rp[o + 1]; q++)
        mpz_addmul(acc[a->col[q]], lz[o], w->wz[a->widx[q]]);
      if (a->bias >= 0) {
        mpq_mul(t, row[o], g->nodes[a->bias].w[bias_index(n, o)].q);
        mpq_add(cst[k].q, cst[k].q, t);
      }
    }
    for (int64_t i = 0; i < nin; i++) {
      if (mpz_sgn(acc[i]) == 0)
        continue;
      z_to_q(t, acc[i], le + w->wze);
      mpq_add(Lx[(size_t)k * nin + i], Lx[(size_t)k * nin + i], t);
    }
    done[k] = 1;
  }
  mpq_clear(t);
  for (int64_t o = 0; o < N; o++)
    mpz_clear(lz[o]);
  for (int64_t i = 0; i < nin; i++)
    mpz_clear(acc[i]);
  free(lz), free(acc);
  return OK;
}

/* ---- the backward pass: one rule per op of chk_ops.def ----------------------------------------------
 * State of one pass: per node the multipliers L[id] (m rows x numel, allocated on first use) and
 * the constant cst[k] of each row; t, u, v are scratch. */
typedef struct bwd {
  ctx *c;
  crown *cr;
  sample *s;
  const cgraph *g;
  int m;
  mpq_t **L;
  qv *cst;
  mpq_t t, u, v;
} bwd;

/* L[id], zero, if not there yet */
static int alloc_L(bwd *b, int id) {
  if (b->L[id])
    return OK;
  size_t nn = (size_t)b->m * (size_t)b->g->nodes[id].numel;
  b->L[id] = malloc(nn * sizeof(mpq_t));
  if (!b->L[id])
    return fail(b->c, BAD, "out of memory");
  for (size_t z = 0; z < nn; z++)
    mpq_init(b->L[id][z]);
  return OK;
}

typedef int (*back_rule)(bwd *b, int id, mpq_t *lam);

/* y = sum w x + b (/ div): lambda^T W to the parent (exact fixed point for dyadic rows), bias to cst */
static int back_affine(bwd *b, int id, mpq_t *lam) {
  const cgraph *g = b->g;
  const cnode *n = &g->nodes[id];
  int64_t N = n->numel;
  int m = b->m;
  caff a;
  int rc = caff_get(b->c, g, id, &a);
  if (rc == OK)
    rc = alloc_L(b, a.x);
  int64_t nin = g->nodes[a.x].numel;
  int *done = rc == OK ? calloc((size_t)m, sizeof *done) : NULL;
  if (rc == OK && !done)
    rc = fail(b->c, BAD, "out of memory");
  if (rc == OK)
    rc = affine_back_fast(b->c, g, id, &a, m, lam, b->L[a.x], b->cst, done);
  for (int k = 0; rc == OK && k < m; k++)
    for (int64_t o = 0; !done[k] && o < N; o++) {
      mpq_srcptr l = lam[(size_t)k * N + o];
      if (mpq_sgn(l) == 0)
        continue;
      mpq_set_si(b->u, a.div[o], 1);
      mpq_div(b->u, l, b->u); /* l / div */
      for (int64_t q = a.rp[o]; q < a.rp[o + 1]; q++) {
        mpq_ptr dst = b->L[a.x][(size_t)k * nin + a.col[q]];
        if (a.w[q]) {
          mpq_mul(b->t, b->u, *a.w[q]);
          mpq_add(dst, dst, b->t);
        } else {
          mpq_add(dst, dst, b->u);
        }
      }
      if (a.bias >= 0) {
        mpq_mul(b->t, b->u, g->nodes[a.bias].w[bias_index(n, o)].q);
        mpq_add(b->cst[k].q, b->cst[k].q, b->t);
      }
    }
  free(done);
  return rc;
}

/* y = x (new shape) or y = -x: lambda (negated) to the parent */
static int back_view(bwd *b, int id, mpq_t *lam) {
  const cnode *n = &b->g->nodes[id];
  int rc = alloc_L(b, n->par[0]);
  mpq_t *Lp = b->L[n->par[0]];
  for (size_t z = 0; rc == OK && z < (size_t)b->m * (size_t)n->numel; z++) {
    if (n->op == OP_NEG)
      mpq_sub(Lp[z], Lp[z], lam[z]);
    else
      mpq_add(Lp[z], Lp[z], lam[z]);
  }
  return rc;
}

/* y = a + b, a - b (a parameter parent goes to cst), a * b with exactly one parameter parent */
static int back_broadcast(bwd *b, int id, mpq_t *lam) {
  const cgraph *g = b->g;
  const cnode *n = &g->nodes[id];
  int64_t N = n->numel;
  int p0 = n->par[0], p1 = n->par[1], rc = OK;
  int c0 = g->nodes[p0].op == OP_PARAM, c1 = g->nodes[p1].op == OP_PARAM;
  if (!c0)
    rc = alloc_L(b, p0);
  if (rc == OK && !c1)
    rc = alloc_L(b, p1);
  int64_t n0 = g->nodes[p0].numel, n1 = g->nodes[p1].numel;
  mpq_ptr t = b->t;
  for (int k = 0; rc == OK && k < b->m; k++)
    for (int64_t o = 0; o < N; o++) {
      mpq_srcptr l = lam[(size_t)k * N + o];
      if (mpq_sgn(l) == 0)
        continue;
      int64_t i0 = bc_index(n, &g->nodes[p0], o), i1 = bc_index(n, &g->nodes[p1], o);
      mpq_ptr d0 = c0 ? NULL : b->L[p0][(size_t)k * n0 + i0], d1 = c1 ? NULL : b->L[p1][(size_t)k * n1 + i1];
      if (n->op == OP_MUL) {
        mpq_mul(t, l, c0 ? g->nodes[p0].w[i0].q : g->nodes[p1].w[i1].q);
        mpq_add(c0 ? d1 : d0, c0 ? d1 : d0, t);
        continue;
      }
      if (c0) {
        mpq_mul(t, l, g->nodes[p0].w[i0].q);
        mpq_add(b->cst[k].q, b->cst[k].q, t);
      } else {
        mpq_add(d0, d0, l);
      }
      if (c1) {
        mpq_mul(t, l, g->nodes[p1].w[i1].q);
        if (n->op == OP_SUB)
          mpq_sub(b->cst[k].q, b->cst[k].q, t);
        else
          mpq_add(b->cst[k].q, b->cst[k].q, t);
      } else if (n->op == OP_SUB) {
        mpq_sub(d1, d1, l);
      } else {
        mpq_add(d1, d1, l);
      }
    }
  return rc;
}

/* y = max over the window, validated lines: y >= x_j, y <= x_j or y <= c */
static int back_maxpool(bwd *b, int id, mpq_t *lam) {
  const cgraph *g = b->g;
  const cnode *n = &g->nodes[id];
  int64_t N = n->numel;
  const cmpool *MP = &b->cr->mps[b->cr->mp_of[id]];
  int64_t nin = g->nodes[n->par[0]].numel;
  int rc = alloc_L(b, n->par[0]);
  for (int k = 0; rc == OK && k < b->m; k++)
    for (int64_t o = 0; o < N; o++) {
      mpq_srcptr l = lam[(size_t)k * N + o];
      int sg = mpq_sgn(l);
      if (sg > 0 || (sg < 0 && MP->exact[o])) {
        mpq_ptr dst = b->L[n->par[0]][(size_t)k * nin + MP->arg[o]];
        mpq_add(dst, dst, l);
      } else if (sg < 0) {
        mpq_mul(b->t, l, MP->c[o].q);
        mpq_add(b->cst[k].q, b->cst[k].q, b->t);
      }
    }
  return rc;
}

/* y = f(x), validated lines: la x + lb <= y <= ua x + ub */
static int back_act(bwd *b, int id, mpq_t *lam) {
  const cnode *n = &b->g->nodes[id];
  int64_t N = n->numel;
  const cact *AC = &b->cr->acts[b->cr->act_of[id]];
  int rc = alloc_L(b, n->par[0]);
  for (int k = 0; rc == OK && k < b->m; k++)
    for (int64_t i = 0; i < N; i++) {
      size_t z = (size_t)k * N + i;
      int sg = mpq_sgn(lam[z]);
      if (sg == 0)
        continue;
      mpq_mul(b->t, lam[z], sg > 0 ? AC->la[i].q : AC->ua[i].q);
      mpq_add(b->L[n->par[0]][z], b->L[n->par[0]][z], b->t);
      mpq_mul(b->t, lam[z], sg > 0 ? AC->lb[i].q : AC->ub[i].q);
      mpq_add(b->cst[k].q, b->cst[k].q, b->t);
    }
  return rc;
}

/* one multiplier l of batch norm element i (channel ch, scale in [sl, sh]) */
static void back_bn_one(bwd *b, const cnode *n, const box *x, int64_t i, int64_t ch, size_t z, int k,
                        mpq_t *lam, const mpq_t sl, const mpq_t sh) {
  const cgraph *g = b->g;
  mpq_ptr t = b->t, u = b->u, v = b->v;
  /* l s x >= l slo x - |l| (shi - slo) max|x| */
  mpq_mul(t, lam[z], sl);
  mpq_add(b->L[n->par[0]][z], b->L[n->par[0]][z], t);
  mpq_sub(t, sh, sl);
  mpq_abs(u, lam[z]);
  mpq_mul(t, t, u);
  qabsmax(u, &x->lo[i], &x->hi[i]);
  mpq_mul(t, t, u);
  mpq_sub(b->cst[k].q, b->cst[k].q, t);
  /* + l beta + min over s of (-l s mu) */
  mpq_mul(t, lam[z], g->nodes[n->par[2]].w[ch].q);
  mpq_add(b->cst[k].q, b->cst[k].q, t);
  mpq_mul(t, lam[z], sl);
  mpq_mul(t, t, g->nodes[n->par[3]].w[ch].q);
  mpq_neg(t, t);
  mpq_mul(u, lam[z], sh);
  mpq_mul(u, u, g->nodes[n->par[3]].w[ch].q);
  mpq_neg(u, u);
  qmin2(v, t, u);
  mpq_add(b->cst[k].q, b->cst[k].q, v);
}

/* y = (x - mu) s + beta, s in the channel's scale enclosure */
static int back_bn(bwd *b, int id, mpq_t *lam) {
  const cnode *n = &b->g->nodes[id];
  int64_t N = n->numel;
  int rc = alloc_L(b, n->par[0]);
  const box *x = &b->s->b[n->par[0]];
  mpq_t sl, sh;
  mpq_init(sl), mpq_init(sh);
  for (int64_t i = 0; rc == OK && i < N; i++) {
    int64_t ch = bn_channel(n, i);
    bn_scale(b->s, n, ch, sl, sh);
    for (int k = 0; k < b->m; k++) {
      size_t z = (size_t)k * N + i;
      if (mpq_sgn(lam[z]) == 0)
        continue;
      back_bn_one(b, n, x, i, ch, z, k, lam, sl, sh);
    }
  }
  mpq_clear(sl), mpq_clear(sh);
  return rc;
}

#define BACK_NONE NULL /* no rule: the node is concretised on its certificate box */
#define BACK_input BACK_NONE
#define BACK_param BACK_NONE
#define BACK_linear back_affine
#define BACK_matmul back_affine
#define BACK_conv2d back_affine
#define BACK_avg_pool2d back_affine
#define BACK_global_avg_pool back_affine
#define BACK_max_pool2d back_maxpool /* with validated lines only */
#define BACK_flatten back_view
#define BACK_reshape back_view
#define BACK_dropout back_view
#define BACK_neg back_view
#define BACK_relu back_act /* with validated lines only */
#define BACK_leaky_relu back_act
#define BACK_sigmoid back_act
#define BACK_tanh back_act
#define BACK_clamp BACK_NONE
#define BACK_add back_broadcast
#define BACK_sub back_broadcast
#define BACK_mul back_broadcast /* exactly one parameter parent only */
#define BACK_batch_norm back_bn
/* one row per op of chk_ops.def: a missing rule is a compile error */
static const back_rule back_rules[OP_N] = {
#define CHK_OP(ENUM, name, ...) [OP_##ENUM] = BACK_##name,
#include "chk_ops.def"
#undef CHK_OP
};

/* does node id get its rule (else it is concretised on its box)?  fold: only start gets one */
static int has_rule(const bwd *b, int id, int start, int fold) {
  const cgraph *g = b->g;
  const cnode *n = &g->nodes[id];
  const crown *cr = b->cr;
  int pfin = 1;
  for (int k = 0; k < n->np; k++)
    pfin &= !b->s->b[n->par[k]].unb;
  if (!pfin || (fold && (id != start || !is_affine(n->op))) || !back_rules[n->op])
    return 0;
  if (is_act(n->op) && cr->act_of[id] < 0)
    return 0;
  if (n->op == OP_MAXPOOL && !(cr->mp_of && cr->mp_of[id] >= 0))
    return 0;
  if (n->op == OP_MUL && (g->nodes[n->par[0]].op == OP_PARAM) == (g->nodes[n->par[1]].op == OP_PARAM))
    return 0;
  return 1;
}

/* concretise on the node's certificate box: cst += min over the box of lambda y */
static void back_concretise(bwd *b, int id, const mpq_t *lam) {
  const box *bx = &b->s->b[id];
  int64_t N = b->g->nodes[id].numel;
  qv *cst = b->cst;
  for (int k = 0; k < b->m; k++)
    for (int64_t i = 0; i < N && !cst[k].inf; i++) {
      mpq_srcptr l = lam[(size_t)k * N + i];
      if (mpq_sgn(l) == 0)
        continue;
      const qv *e = mpq_sgn(l) > 0 ? &bx->lo[i] : &bx->hi[i];
      if (e->inf) {
        cst[k].inf = -1;
        continue;
      }
      mpq_mul(b->t, l, e->q);
      mpq_add(cst[k].q, cst[k].q, b->t);
    }
}

/* f32-any: pay |lambda| E for rounding nodes (E as computed by check_box from the same boxes) */
static int back_f32(bwd *b, int id, const mpq_t *lam) {
  const sample *s = b->s;
  int64_t N = b->g->nodes[id].numel;
  const mpq_t *E = (const mpq_t *)s->E[id];
  int unb = s->eunb[id], over = s->eover[id], rc = OK;
  if (!unb && !E)
    rc = fail(b->c, BAD, "internal: no error radius for node %d", id);
  for (int k = 0; rc == OK && !unb && k < b->m; k++)
    for (int64_t i = 0; i < N; i++) {
      mpq_abs(b->t, lam[(size_t)k * N + i]);
      mpq_mul(b->t, b->t, E[i]);
      mpq_sub(b->cst[k].q, b->cst[k].q, b->t);
    }
  if (unb || over)
    for (int k = 0; k < b->m; k++)
      b->cst[k].inf = -1;
  return rc;
}

static void free_L(bwd *b, int id) {
  for (size_t z = 0; z < (size_t)b->m * (size_t)b->g->nodes[id].numel; z++)
    mpq_clear(b->L[id][z]);
  free(b->L[id]);
  b->L[id] = NULL;
}

/* lower bound of rows A (m x numel(start)) over the region; fold: only start gets its rule */
int backward(ctx *c, crown *cr, int start, int m, mpq_t *A, qv *lower, int fold) {
  bwd b;
  memset(&b, 0, sizeof b);
  b.c = c, b.cr = cr, b.s = cr->s, b.g = cr->s->g, b.m = m;
  const cgraph *g = b.g;
  b.L = calloc((size_t)g->n, sizeof *b.L);
  b.cst = qv_new(m);
  mpq_init(b.t), mpq_init(b.u), mpq_init(b.v);
  if (!b.L || !b.cst)
    return fail(c, BAD, "out of memory");
  int rc = alloc_L(&b, start);
  for (size_t z = 0; rc == OK && z < (size_t)m * (size_t)g->nodes[start].numel; z++)
    mpq_set(b.L[start][z], A[z]);
  for (int id = start; rc == OK && id >= 0; id--) {
    if (!b.L[id])
      continue;
    const cnode *n = &g->nodes[id];
    mpq_t *lam = b.L[id];
    if (!has_rule(&b, id, start, fold)) {
      back_concretise(&b, id, lam);
    } else {
      if (cr->s->f32 && chk_ops[n->op].err != CHK_ERR_NONE)
        rc = back_f32(&b, id, lam);
      if (rc == OK)
        rc = back_rules[n->op](&b, id, lam);
    }
    free_L(&b, id);
  }
  for (int k = 0; k < m; k++) {
    lower[k].inf = b.cst[k].inf;
    mpq_set(lower[k].q, b.cst[k].q);
  }
  for (int id = 0; id < g->n; id++)
    if (b.L[id])
      free_L(&b, id);
  free(b.L);
  qv_free(b.cst, m);
  mpq_clear(b.t), mpq_clear(b.u), mpq_clear(b.v);
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
int check_act(ctx *c, crown *cr, int ai) {
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
      return fail(c, REJ, "REJECT: empty pre-activation interval (node %d, index %lld)", A->node,
                  (long long)i);
    if (!line_valid(n, A->la[i].q, A->lb[i].q, A->pre_lo[i].q, A->pre_hi[i].q, 0))
      return fail(c, REJ, "REJECT: lower relaxation line is not below the activation (node %d, index %lld)",
                  A->node, (long long)i);
    if (!line_valid(n, A->ua[i].q, A->ub[i].q, A->pre_lo[i].q, A->pre_hi[i].q, 1))
      return fail(c, REJ, "REJECT: upper relaxation line is not above the activation (node %d, index %lld)",
                  A->node, (long long)i);
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
        rc = fail(c, REJ, "REJECT: pre-activation bound not re-derivable (node %d, index %lld)", p,
                  (long long)i);
      else if (side == 0 && mpq_cmp(A->pre_lo[i].q, lw[q].q) > 0)
        rc = fail(c, REJ,
                  "REJECT: pre-activation lower bound above the re-derived CROWN bound (node %d, index %lld)",
                  p, (long long)i);
      else if (side == 1) {
        mpq_neg(lw[q].q, lw[q].q);
        if (mpq_cmp(A->pre_hi[i].q, lw[q].q) < 0)
          rc = fail(
              c, REJ,
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

/* validate max pool lines mi on the certificate box of the pool's input: j in the window (never
 * padding); the lower line y >= x_j holds for any j of the window; "exact" needs l_j >= u_k for
 * every other k of the window; a constant needs c >= max_k u_k */
int check_maxpool(ctx *c, crown *cr, int mi) {
  const cmpool *MP = &cr->mps[mi];
  sample *s = cr->s;
  const cgraph *g = s->g;
  const cnode *n = &g->nodes[MP->node];
  const cnode *xn = &g->nodes[n->par[0]];
  const box *x = &s->b[n->par[0]];
  if (x->unb)
    return fail(c, REJ, "REJECT: max pool lines on an unbounded input (node %d, index 0)", MP->node);
  int64_t H = xn->shape[2], W = xn->shape[3], Ho = n->shape[2], Wo = n->shape[3];
  for (int64_t o = 0; o < n->numel; o++) {
    int64_t j = o % Wo, i = (o / Wo) % Ho, bc = o / (Wo * Ho);
    int in = 0, dom = 1, cov = 1;
    for (int pass = 0; pass < 2; pass++)
      for (int64_t p = 0; p < n->kernel[0]; p++)
        for (int64_t q = 0; q < n->kernel[1]; q++) {
          int64_t hh = i * n->stride[0] - n->padding[0] + p * n->dilation[0];
          int64_t ww = j * n->stride[1] - n->padding[1] + q * n->dilation[1];
          if (hh < 0 || hh >= H || ww < 0 || ww >= W)
            continue;
          int64_t xi = (bc * H + hh) * W + ww;
          if (pass == 0) {
            in |= xi == MP->arg[o];
            continue;
          }
          if (!in)
            continue;
          if (xi != MP->arg[o] && mpq_cmp(x->lo[MP->arg[o]].q, x->hi[xi].q) < 0)
            dom = 0;
          if (!MP->exact[o] && mpq_cmp(MP->c[o].q, x->hi[xi].q) < 0)
            cov = 0;
        }
    if (!in)
      return fail(c, REJ, "REJECT: max pool line index outside the window (node %d, index %lld)", MP->node,
                  (long long)o);
    if (MP->exact[o] && !dom)
      return fail(c, REJ, "REJECT: max pool exact upper line without dominance (node %d, index %lld)",
                  MP->node, (long long)o);
    if (!MP->exact[o] && !cov)
      return fail(c, REJ,
                  "REJECT: max pool upper constant below the window's upper bounds (node %d, index %lld)",
                  MP->node, (long long)o);
  }
  return OK;
}
