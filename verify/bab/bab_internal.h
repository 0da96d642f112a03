/* bab_internal.h - private header of verify/bab/ (input-splitting branch and bound, bab.h).
 * Ownership: a bab_heap owns its entries' boxes (bab_heap_free); a bab_bound owns its arrays. */
#ifndef TL_BAB_INTERNAL_H
#define TL_BAB_INTERNAL_H

#include "torchlean/bab.h"
#include "vinternal.h"

/* ---- the best-first queue (queue.c) ---------------------------------------------------------- */
typedef struct bab_entry {
  double margin; /* worst undecided margin of the box (smaller first) */
  int64_t seq;   /* creation order: ties broken by it (determinism) */
  int node;      /* tree node */
  int depth;
  double *lo, *hi; /* owned: the box (n each) */
  double *coef;    /* owned: CROWN input coefficients of the box's critical row (n) */
} bab_entry;
typedef struct bab_heap {
  bab_entry *e;
  int64_t n, cap;
} bab_heap;
/* push a copy of *x (its arrays move into the heap); 0 ok, -1 out of memory */
int bab_heap_push(bab_heap *h, const bab_entry *x);
/* pop the entry with the smallest (margin, seq) into *x (the caller owns its arrays); 0 when empty */
int bab_heap_pop(bab_heap *h, bab_entry *x);
void bab_heap_free(bab_heap *h);

/* ---- one box: bounds, margin, split candidates (bound.c) -------------------------------------- */
typedef struct bab_ctx {
  const tl_graph *g;
  const tl_verify_plan *pl;
  const tl_property *p;
  const tl_bab_opts *o;
  int64_t n;      /* input elements */
  double *a;      /* objective rows (nrows x nout) */
  double *incoef; /* scratch: CROWN input coefficients of the last bounded box (nrows x n) */
  double *rootw;  /* root box widths (the fallback split order) */
} bab_ctx;

/* a bounded box: all owned (bab_box_free) */
typedef struct bab_box {
  double *lo, *hi, *coef; /* n each: the box; the critical row's CROWN input coefficients */
  tl_region *reg;         /* the box as a region */
  tl_verify_result *res;  /* verdict verified or unknown, row_lower, evidence when keep_evidence */
  double margin;          /* worst undecided margin (> 0 decided) */
  int crit;               /* the row that sets it */
} bab_box;
void bab_box_free(bab_box *x);
/* bound x->lo, x->hi (owned by x): fills the rest of x */
tl_code bab_bound(bab_ctx *c, bab_box *x, tl_status *st);
/* Candidate split dimensions of box [lo, hi] with critical-row coefficients coef: the k largest smears
 * |coef_i| x width_i (ties: lower index), then the widest dimension relative to the root when not among
 * them; only dimensions with a double strictly inside.  Returns the count (0: nothing can be split). */
int bab_candidates(const bab_ctx *c, const double *lo, const double *hi, const double *coef, int k,
                   int *dims);
/* the split value: a double strictly inside (lo, hi) (the midpoint, rounded to nearest) */
double bab_split_at(double lo, double hi);

/* ---- attacks (attack.c) ------------------------------------------------------------------------ */
/* Try the corner of reg minimising CROWN's linear bound with coefficients coef (n), and the center:
 * each point screened by real-semantics IBP at the point, then confirmed exactly and in float32.
 * *cex (n floats, caller frees) receives a confirmed point, else stays NULL. */
tl_code bab_attack_points(bab_ctx *c, const tl_region *reg, const double *coef, float **cex, tl_status *st);
/* the PGD search of tl_verify_sample (method IBP, falsify) on the box; *cex as above */
tl_code bab_attack_pgd(bab_ctx *c, const tl_region *reg, uint64_t seed, float **cex, tl_status *st);

#endif
