/* alpha.c - alpha-CROWN: the lower slopes of unstable relu neurons optimised by signed gradient
 * steps on the CROWN bound (each step is a full, sound backward pass: the kept bound is one that
 * was soundly computed with the kept slopes). */
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

static void rec_free(double **rec, int n) {
  for (int i = 0; i < n; i++)
    free(rec[i]), rec[i] = NULL;
}

/* may the linearised forward pass (the gradient of the bound) follow every backward rule used? */
static int alpha_ok(tlv_cctx *c, const unsigned char *how, int out) {
  for (int v = 0; v <= out; v++) {
    if (how[v] != 2)
      continue;
    tl_op op = c->g->nodes[v].op;
    if (tlv_fast_kind(c->pl, v) != TLV_FAST_NONE || op == TL_OP_FLATTEN || op == TL_OP_RESHAPE ||
        op == TL_OP_DROPOUT || op == TL_OP_NEG || op == TL_OP_MAX_POOL2D ||
        (op == TL_OP_RELU && c->act_of[v] >= 0))
      continue;
    if (op == TL_OP_ADD || op == TL_OP_SUB || op == TL_OP_MUL) { /* input normalisation: one constant */
      const tl_node *n = &c->g->nodes[v];
      int c0 = c->g->nodes[n->parents[0]].op == TL_OP_PARAM,
          c1 = c->g->nodes[n->parents[1]].op == TL_OP_PARAM;
      if (c0 != c1)
        continue;
    }
    return 0;
  }
  return 1;
}

/* gradient of sum_k w_k L_k with respect to the lower slopes of relu neurons: for row k the bound
 * is attained by the linearised network (each activation replaced by the line its coefficient's
 * sign selected, concretised nodes by the chosen box ends) at the minimising input corner; the
 * derivative of L_k in the lower slope of neuron i is Lambda[k][i] * z_i there. */
static tl_code alpha_grad(tlv_cctx *c, double **rec, const unsigned char *how, int out, int m,
                          const double *w, double **grad) {
  const tl_graph *g = c->g;
  double **val = calloc((size_t)g->nnodes, sizeof *val);
  tl_code rc = val ? TL_OK : tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
  for (int v = 0; rc == TL_OK && v <= out; v++)
    if (how[v] && !(val[v] = malloc((size_t)(g->nodes[v].numel ? g->nodes[v].numel : 1) * sizeof(double))))
      rc = tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
  fesetround(FE_TONEAREST);
  for (int k = 0; rc == TL_OK && k < m; k++) {
    if (w[k] == 0)
      continue;
    for (int v = 0; v < out; v++) {
      if (!how[v])
        continue;
      const tl_node *n = &g->nodes[v];
      int64_t N = n->numel;
      const double *lam = rec[v] + (size_t)k * N;
      double *h = val[v];
      if (how[v] == 1) {
        for (int64_t i = 0; i < N; i++)
          h[i] = lam[i] > 0 ? c->b->lo[v][i] : lam[i] < 0 ? c->b->hi[v][i] : c->b->lo[v][i];
        continue;
      }
      const double *z = val[n->parents[0]];
      if (n->op == TL_OP_ADD || n->op == TL_OP_SUB || n->op == TL_OP_MUL) {
        /* one parameter operand (alpha_ok): the point value through the affine elementwise op */
        int c0 = g->nodes[n->parents[0]].op == TL_OP_PARAM;
        const tl_node *pn = &g->nodes[n->parents[c0 ? 0 : 1]];
        const float *cv = g->weights + pn->woff;
        const double *zv = val[n->parents[c0 ? 1 : 0]];
        tl_bcast bc;
        if (!zv || tlv_bcast_init(g, v, &bc, c->st) != TL_OK) {
          rc = tl_fail(c->st, TL_EARG, "verify: alpha: node %d has no point value", v);
          break;
        }
        for (int64_t i = 0; i < N; i++) {
          double zz = zv[tlv_bcast_index(&bc, c0 ? 1 : 0, i)], cc = cv[tlv_bcast_index(&bc, c0 ? 0 : 1, i)];
          h[i] = n->op == TL_OP_ADD ? zz + cc : n->op == TL_OP_MUL ? zz * cc : c0 ? cc - zz : zz - cc;
        }
      } else if (n->op == TL_OP_NEG) {
        for (int64_t i = 0; i < N; i++)
          h[i] = -z[i];
      } else if (n->op == TL_OP_MAX_POOL2D) { /* the line its coefficient's sign selected */
        int p = n->parents[0];
        for (int64_t i = 0; i < N; i++) {
          int e = 0;
          double cu = 0;
          int64_t j = tlv_maxpool_line(g, v, c->b->lo[p], c->b->hi[p], i, &e, &cu);
          h[i] = j < 0 ? 0 : lam[i] >= 0 || e ? z[j] : cu;
        }
      } else if (tlv_fast_kind(c->pl, v) != TLV_FAST_NONE) {
        tlv_fast_point(c->pl, v, z, h);
      } else if (n->op == TL_OP_RELU) {
        int ai = c->act_of[v];
        const tl_crown_act *A = &c->cd->acts[ai];
        for (int64_t i = 0; i < N; i++) {
          h[i] = lam[i] > 0 ? A->la[i] * z[i] + A->lb[i] : A->ua[i] * z[i] + A->ub[i];
          if (lam[i] > 0 && A->pre_lo[i] < 0 && A->pre_hi[i] > 0)
            grad[ai][i] += w[k] * lam[i] * z[i];
        }
      } else {
        memcpy(h, z, (size_t)N * sizeof *h);
      }
    }
  }
  for (int v = 0; val && v < g->nnodes; v++)
    free(val[v]);
  free(val);
  return rc;
}

static double alpha_obj(const double *L, int m) {
  double s = 0;
  for (int k = 0; k < m; k++)
    s += fmin(L[k], 0);
  return s;
}

/* the optimiser's work space */
typedef struct alpha_ws {
  int nn, nrows;
  double **rec;          /* per node: the coefficients of the last backward pass */
  unsigned char *how;    /* per node: how it was processed */
  double **grad, **best; /* per activation: the gradient, the best slopes */
  double *L0, *L, *w;    /* per row: the CROWN bound, the current bound, the gradient weights */
} alpha_ws;

static void ws_free(alpha_ws *ws, const tl_crown_data *cd) {
  if (ws->rec)
    rec_free(ws->rec, ws->nn);
  for (int i = 0; i < cd->nacts; i++)
    free(ws->grad ? ws->grad[i] : NULL), free(ws->best ? ws->best[i] : NULL);
  free(ws->rec), free(ws->how), free(ws->grad), free(ws->best), free(ws->L0), free(ws->L), free(ws->w);
}

static tl_code ws_alloc(alpha_ws *ws, const tlv_cctx *c, int nrows) {
  const tl_crown_data *cd = c->cd;
  int nn = c->g->nnodes;
  memset(ws, 0, sizeof *ws);
  ws->nn = nn, ws->nrows = nrows;
  ws->rec = calloc((size_t)nn, sizeof *ws->rec);
  ws->how = calloc((size_t)nn, 1);
  ws->grad = calloc((size_t)(cd->nacts ? cd->nacts : 1), sizeof *ws->grad);
  ws->best = calloc((size_t)(cd->nacts ? cd->nacts : 1), sizeof *ws->best);
  ws->L0 = malloc((size_t)nrows * sizeof *ws->L0), ws->L = malloc((size_t)nrows * sizeof *ws->L);
  ws->w = malloc((size_t)nrows * sizeof *ws->w);
  tl_code rc = ws->rec && ws->how && ws->grad && ws->best && ws->L0 && ws->L && ws->w
                   ? TL_OK
                   : tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
  for (int i = 0; rc == TL_OK && i < cd->nacts; i++) {
    size_t z = (size_t)(cd->acts[i].n ? cd->acts[i].n : 1) * sizeof(double);
    if (!(ws->grad[i] = malloc(z)) || !(ws->best[i] = malloc(z)))
      rc = tl_fail(c->st, TL_ENOMEM, "verify: out of memory");
    else
      memcpy(ws->best[i], cd->acts[i].la, z);
  }
  return rc;
}

/* With CROWN intermediate bounds, the lines of every activation but the last entered the
 * intermediate passes that tightened later pre-activation boxes, and the certificate re-derives
 * those boxes from the lines it carries: so only the last activation's slopes (node ids are
 * topological: it is no other activation's ancestor) may move, or the certificate's boxes could
 * not be re-derived from its lines. */
static int slopes_free(const tl_crown_data *cd, int i) {
  return !cd->intermediate_crown || i == cd->nacts - 1;
}

/* the search starts from the upper-line slope u / (u - l) (CROWN's adaptive 0/1 choice is often a
 * stationary vertex); the CROWN slopes stay the incumbent */
static void start_slopes(const tl_graph *g, tl_crown_data *cd) {
  for (int i = 0; i < cd->nacts; i++) {
    tl_crown_act *A = &cd->acts[i];
    if (g->nodes[A->node].op == TL_OP_RELU && slopes_free(cd, i))
      for (int64_t j = 0; j < A->n; j++)
        if (A->pre_lo[j] < 0 && A->pre_hi[j] > 0)
          A->la[j] = fmin(1.0, fmax(0.0, A->pre_hi[j] / (A->pre_hi[j] - A->pre_lo[j])));
  }
}

/* one signed gradient step of size eta on the slopes of unstable relu neurons; *stop when no
 * row is below 0 or no slope reaches the bound */
static tl_code step_slopes(tlv_cctx *c, alpha_ws *ws, int out, int t, int *stop) {
  const tl_graph *g = c->g;
  tl_crown_data *cd = c->cd;
  int any = 0;
  for (int k = 0; k < ws->nrows; k++)
    ws->w[k] = ws->L[k] < 0 ? 1.0 : 0.0, any |= ws->L[k] < 0;
  if (!any) {
    *stop = 1;
    return TL_OK;
  }
  for (int i = 0; i < cd->nacts; i++)
    memset(ws->grad[i], 0, (size_t)cd->acts[i].n * sizeof(double));
  tl_code rc = alpha_grad(c, ws->rec, ws->how, out, ws->nrows, ws->w, ws->grad);
  rec_free(ws->rec, ws->nn);
  memset(ws->how, 0, (size_t)ws->nn);
  int nz = 0;
  for (int i = 0; i < cd->nacts && !nz; i++)
    for (int64_t j = 0; j < cd->acts[i].n && !nz; j++)
      nz = ws->grad[i][j] != 0;
  if (!nz) {
    *stop = 1; /* no relu slope reaches the bound (e.g. behind a concretised clamp) */
    return rc;
  }
  double eta = 0.4 * pow(0.85, t);
  for (int i = 0; rc == TL_OK && i < cd->nacts; i++) {
    tl_crown_act *A = &cd->acts[i];
    if (g->nodes[A->node].op != TL_OP_RELU || !slopes_free(cd, i))
      continue;
    for (int64_t j = 0; j < A->n; j++)
      if (A->pre_lo[j] < 0 && A->pre_hi[j] > 0 && ws->grad[i][j] != 0)
        A->la[j] = fmin(1.0, fmax(0.0, A->la[j] + (ws->grad[i][j] > 0 ? eta : -eta)));
  }
  return rc;
}

/* keep L (and the slopes) when no unproven row got worse and no proven row unproven (rows are
 * decided at 0) and the objective improved */
static void keep_best(const tl_crown_data *cd, alpha_ws *ws, double *bestobj, double *lower) {
  int nrows = ws->nrows;
  int no_worse = 1;
  for (int k = 0; k < nrows; k++)
    no_worse &= ws->L[k] >= fmin(ws->L0[k], 0.0);
  double obj = alpha_obj(ws->L, nrows);
  if (no_worse && obj > *bestobj) {
    *bestobj = obj;
    memcpy(lower, ws->L, (size_t)nrows * sizeof *ws->L);
    for (int i = 0; i < cd->nacts; i++)
      memcpy(ws->best[i], cd->acts[i].la, (size_t)cd->acts[i].n * sizeof(double));
  }
}

tl_code tlv_alpha_crown(tlv_cctx *c, int out, int nrows, const double *a, int steps, double *lower) {
  tl_crown_data *cd = c->cd;
  alpha_ws ws;
  tl_code rc = ws_alloc(&ws, c, nrows);
  if (rc == TL_OK)
    rc = tlv_backward(c, out, nrows, a, ws.L0, 0, NULL, ws.rec, ws.how);
  if (rc == TL_OK)
    memcpy(lower, ws.L0, (size_t)nrows * sizeof *ws.L0), memcpy(ws.L, ws.L0, (size_t)nrows * sizeof *ws.L);
  int ok = rc == TL_OK && alpha_ok(c, ws.how, out);
  if (ok)
    start_slopes(c->g, cd);
  if (ok && steps > 0) {
    rec_free(ws.rec, ws.nn);
    memset(ws.how, 0, (size_t)ws.nn);
    rc = tlv_backward(c, out, nrows, a, ws.L, 0, NULL, ws.rec, ws.how);
  }
  double bestobj = alpha_obj(ws.L0, nrows);
  for (int t = 0; ok && rc == TL_OK && t < steps && bestobj < 0; t++) {
    int stop = 0;
    rc = step_slopes(c, &ws, out, t, &stop);
    if (stop)
      break;
    if (rc == TL_OK)
      rc = tlv_backward(c, out, nrows, a, ws.L, 0, NULL, ws.rec, ws.how);
    if (rc != TL_OK)
      break;
    keep_best(cd, &ws, &bestobj, lower);
  }
  /* the kept slopes are exactly the ones `lower` was soundly computed with */
  for (int i = 0; rc == TL_OK && i < cd->nacts; i++)
    memcpy(cd->acts[i].la, ws.best[i], (size_t)cd->acts[i].n * sizeof(double));
  ws_free(&ws, cd);
  return rc;
}
