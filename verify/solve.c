/* solve.c - a model against a VNN-LIB property: each input box by CROWN then alpha-CROWN with a
 * counterexample search, then input splitting, every counterexample re-confirmed against the exact
 * rationals of the file (include/torchlean/vnnsolve.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "torchlean/vnnsolve.h"

const char *tl_vnn_answer_name(tl_vnn_answer a) {
  return a == TL_VNN_UNSAT ? "unsat" : a == TL_VNN_SAT ? "sat" : a == TL_VNN_TIMEOUT ? "timeout" : "unknown";
}

tl_vnn_opts tl_vnn_opts_default(void) {
  tl_vnn_opts o = {.sem = TL_SEM_F32_ANY, .alpha_steps = 40, .pgd_steps = 30, .pgd_restarts = 4};
  return o;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void tl_vnn_result_free(tl_vnn_result *r) {
  if (!r)
    return;
  for (int b = 0; b < r->nboxes; b++) {
    if (r->box)
      tl_verify_result_free(r->box[b]);
    if (r->region)
      tl_region_free(r->region[b]);
    if (r->cover)
      tl_bab_result_free(r->cover[b]);
  }
  free(r->box), free(r->region), free(r->cover);
  free(r->cex_x), free(r->cex_y), free(r->cex_ylo), free(r->cex_yhi);
  free(r);
}

/* g has one input of v->n_inputs elements, a first output of v->n_outputs, and verifier rules */
static tl_code check_fit(const tl_graph *g, const tl_vnnlib *v, tl_status *st) {
  if (g->ninputs != 1)
    return tl_fail(st, TL_EARG, "vnnlib: the model has %d inputs; VNN-LIB properties need exactly one",
                   g->ninputs);
  int64_t nin = g->nodes[g->inputs[0]].numel;
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  int64_t nout = out >= 0 ? g->nodes[out].numel : 0;
  if (nin != v->n_inputs || nout != v->n_outputs)
    return tl_fail(st, TL_EARG,
                   "vnnlib: the property declares %lld inputs and %lld outputs, the model has %lld and %lld",
                   (long long)v->n_inputs, (long long)v->n_outputs, (long long)nin, (long long)nout);
  return tl_verify_supports(g, st);
}

/* Confirm res's candidate against the exact file: x in the exact box, the exact output enclosure and
 * the float32 runtime output both in the exact unsafe set.  1 confirmed (kept in r), 0 not. */
static tl_code confirm_cex(const tl_graph *g, const tl_vnnlib *v, int b, const float *x, tl_vnn_result *r,
                           int *ok, tl_status *st) {
  int64_t m = v->n_outputs;
  float *y = malloc((size_t)m * sizeof *y);
  double *ylo = malloc((size_t)m * sizeof *ylo), *yhi = malloc((size_t)m * sizeof *yhi);
  double *yd = malloc((size_t)m * sizeof *yd);
  tl_code rc = y && ylo && yhi && yd ? TL_OK : tl_fail(st, TL_ENOMEM, "vnnlib: out of memory");
  *ok = 0;
  int exact = 0;
  if (rc == TL_OK && tl_vnnlib_input_in_box(v, b, x)) {
    rc = tl_exact_eval(g, x, ylo, yhi, st);
    exact = rc == TL_OK && tl_vnnlib_output_unsafe(v, b, ylo, yhi);
  }
  if (exact) { /* exactly unsafe: the float32 runtime's output must be unsafe too */
    rc = tl_verify_confirm_f32_runtime(g, x, y, st);
    for (int64_t j = 0; rc == TL_OK && j < m; j++)
      yd[j] = y[j];
    *ok = rc == TL_OK && tl_vnnlib_output_unsafe(v, b, yd, yd);
  }
  if (rc == TL_OK && *ok) {
    size_t nx = (size_t)v->n_inputs;
    r->cex_x = malloc((nx ? nx : 1) * sizeof *r->cex_x);
    if (!r->cex_x)
      rc = tl_fail(st, TL_ENOMEM, "vnnlib: out of memory");
    else {
      memcpy(r->cex_x, x, nx * sizeof *x);
      r->cex_y = y, r->cex_ylo = ylo, r->cex_yhi = yhi;
      y = NULL, ylo = yhi = NULL;
    }
  }
  free(y), free(ylo), free(yhi), free(yd);
  return rc;
}

/* the two stages: CROWN with a short search, then alpha-CROWN with a longer one */
static tl_verify_opts stage_opts(const tl_vnn_opts *o, int stage) {
  tl_verify_opts vo = tl_verify_opts_default();
  vo.sem = o->sem, vo.intermediate_crown = 1, vo.falsify = 1, vo.seed = o->seed + (uint64_t)stage;
  vo.keep_evidence = o->keep_evidence;
  vo.method = stage == 0 ? TL_METHOD_CROWN : TL_METHOD_ALPHA_CROWN;
  vo.alpha_steps = o->alpha_steps;
  vo.pgd_steps = stage == 0 ? o->pgd_steps : 100;
  vo.pgd_restarts = stage == 0 ? o->pgd_restarts : 16;
  return vo;
}

/* the input-splitting hook: a counterexample of the rounded property must also be one of the file */
typedef struct cex_hook {
  const tl_graph *g;
  const tl_vnnlib *v;
  int b;
  tl_vnn_result *r;
  tl_status *st;
} cex_hook;

static int hook_confirm(void *user, const float *x) {
  cex_hook *h = user;
  int ok = 0;
  return confirm_cex(h->g, h->v, h->b, x, h->r, &ok, h->st) == TL_OK ? ok : -1;
}

/* input splitting of box b for the remaining time: r->cover[b]; *sat, *timed_out as solve_box */
static tl_code split_box(const tl_graph *g, const tl_vnnlib *v, int b, const tl_vnn_opts *o, double t0,
                         tl_vnn_result *r, int *sat, int *timed_out, tl_status *st) {
  tl_bab_opts bo = tl_bab_opts_default();
  cex_hook h = {g, v, b, r, st};
  bo.sem = o->sem, bo.seed = o->seed, bo.keep_evidence = o->keep_evidence;
  bo.pgd_steps = o->pgd_steps, bo.pgd_restarts = o->pgd_restarts;
  bo.accept_cex = hook_confirm, bo.accept_user = &h;
  if (o->max_nodes > 0)
    bo.max_nodes = o->max_nodes;
  if (o->timeout_s > 0) {
    bo.timeout_s = o->timeout_s - (now_s() - t0);
    if (bo.timeout_s <= 0) {
      *timed_out = 1;
      return TL_OK;
    }
  }
  r->boxes_split++;
  TL_TRY(tl_bab_input(g, r->region[b], v->boxes[b].prop, &bo, &r->cover[b], st));
  const tl_bab_result *c = r->cover[b];
  *sat = c->status == TL_BAB_FALSIFIED && r->cex_x;
  *timed_out = c->status == TL_BAB_TIMEOUT;
  if (c->status == TL_BAB_VERIFIED)
    r->leaves += c->nleaves;
  return TL_OK;
}

static int split_wanted(const tl_vnnlib *v, const tl_vnn_opts *o) {
  return o->split == TL_VNN_SPLIT_INPUT ||
         (o->split == TL_VNN_SPLIT_AUTO && v->n_inputs <= TL_VNN_SPLIT_MAX_DIM);
}

/* one non-empty box: its verdict in r->box[b]; *sat when a confirmed counterexample was found */
static tl_code solve_box(const tl_graph *g, const tl_vnnlib *v, int b, const tl_vnn_opts *o, double t0,
                         tl_vnn_result *r, int *sat, int *timed_out, tl_status *st) {
  const tl_vnnlib_box *bx = &v->boxes[b];
  TL_TRY(tl_region_box(&r->region[b], bx->lo, bx->hi, v->n_inputs, st));
  int stages = o->alpha_steps > 0 ? 2 : 1;
  for (int s = 0; s < stages; s++) {
    if (o->timeout_s > 0 && now_s() - t0 > o->timeout_s) {
      *timed_out = 1;
      return TL_OK;
    }
    tl_verify_opts vo = stage_opts(o, s);
    tl_verify_result *res = NULL;
    TL_TRY(tl_verify_sample(g, r->region[b], bx->prop, &vo, &res, st));
    tl_verify_result_free(r->box[b]);
    r->box[b] = res;
    if (res->verdict == TL_VERDICT_VERIFIED)
      return TL_OK;
    if (res->verdict == TL_VERDICT_FALSIFIED && res->cex) {
      TL_TRY(confirm_cex(g, v, b, res->cex, r, sat, st));
      if (*sat)
        return TL_OK;
      res->verdict = TL_VERDICT_UNKNOWN; /* the rounded property's counterexample, not the file's */
    }
  }
  return split_wanted(v, o) ? split_box(g, v, b, o, t0, r, sat, timed_out, st) : TL_OK;
}

/* is box b verified (by its last stage, or by a cover)? */
static int box_verified(const tl_vnn_result *r, int b) {
  return (r->box[b] && r->box[b]->verdict == TL_VERDICT_VERIFIED) ||
         (r->cover[b] && r->cover[b]->status == TL_BAB_VERIFIED);
}

static tl_vnn_result *result_alloc(int nboxes) {
  tl_vnn_result *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->nboxes = nboxes, r->sat_box = -1;
  r->box = calloc((size_t)(nboxes ? nboxes : 1), sizeof *r->box);
  r->region = calloc((size_t)(nboxes ? nboxes : 1), sizeof *r->region);
  r->cover = calloc((size_t)(nboxes ? nboxes : 1), sizeof *r->cover);
  if (!r->box || !r->region || !r->cover) {
    tl_vnn_result_free(r);
    return NULL;
  }
  return r;
}

tl_code tl_vnn_solve(const tl_graph *g, const tl_vnnlib *v, const tl_vnn_opts *o, tl_vnn_result **out,
                     tl_status *st) {
  *out = NULL;
  TL_TRY(check_fit(g, v, st));
  double t0 = now_s();
  tl_vnn_result *r = result_alloc(v->nboxes);
  if (!r)
    return tl_fail(st, TL_ENOMEM, "vnnlib: out of memory");
  tl_code rc = TL_OK;
  int sat = 0, timed_out = 0;
  for (int b = 0; b < v->nboxes && rc == TL_OK && !sat && !timed_out; b++) {
    if (v->boxes[b].empty) {
      r->boxes_empty++;
      continue;
    }
    rc = solve_box(g, v, b, o, t0, r, &sat, &timed_out, st);
    if (rc == TL_OK && sat)
      r->sat_box = b;
    else if (rc == TL_OK && box_verified(r, b))
      r->boxes_verified++;
  }
  if (rc != TL_OK) {
    tl_vnn_result_free(r);
    return rc;
  }
  r->seconds = now_s() - t0;
  if (sat)
    r->answer = TL_VNN_SAT;
  else if (r->boxes_verified + r->boxes_empty == v->nboxes)
    r->answer = TL_VNN_UNSAT;
  else
    r->answer =
        timed_out || (o->timeout_s > 0 && r->seconds > o->timeout_s) ? TL_VNN_TIMEOUT : TL_VNN_UNKNOWN;
  *out = r;
  return TL_OK;
}

tl_code tl_vnn_cert_write(const char *path, const tl_graph *g, const tl_vnnlib *v, const tl_vnn_result *r,
                          const tl_cert_info *info, tl_status *st) {
  if (r->answer != TL_VNN_UNSAT)
    return tl_fail(st, TL_EARG, "%s: only an unsat answer has a certificate", path);
  int n = 0;
  tl_bab_part *parts = calloc((size_t)(v->nboxes ? v->nboxes : 1), sizeof *parts);
  tl_code rc = parts ? TL_OK : tl_fail(st, TL_ENOMEM, "vnnlib: out of memory");
  for (int b = 0; rc == TL_OK && b < v->nboxes; b++) {
    if (v->boxes[b].empty)
      continue;
    const tl_bab_result *c = r->cover[b] && r->cover[b]->status == TL_BAB_VERIFIED ? r->cover[b] : NULL;
    const tl_verify_result *res = c ? NULL : r->box[b];
    if (c ? !c->nleaves || !c->leaf_res[0]->bounds : !res || !res->bounds)
      rc = tl_fail(st, TL_EARG, "%s: box %d has no evidence (solve with keep_evidence)", path, b);
    parts[n++] = (tl_bab_part){r->region[b], v->boxes[b].prop, res, c};
  }
  if (rc == TL_OK && n == 0)
    rc = tl_fail(st, TL_EARG, "%s: every input box of the property is empty: nothing to certify", path);
  if (rc == TL_OK)
    rc = tl_bab_cert_write(path, g, n, parts, info, st);
  free(parts);
  return rc;
}
