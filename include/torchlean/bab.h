/* bab.h - branch and bound by input splitting (verify/bab/): a box region is cut into sub-boxes
 * until CROWN verifies every one of them (a cover), a counterexample is confirmed, or a limit is hit.
 *
 * The search: a best-first queue of open sub-boxes ordered by their worst undecided margin (the most
 * violated clause first; ties by creation order).  Each popped box is bounded with IBP and CROWN
 * (CROWN intermediate bounds unless turned off); a verified box becomes a leaf of the cover; an open
 * box is attacked (the point of the box minimising CROWN's linear bound of its critical row, and the
 * center, screened by a real-semantics IBP pass at the point, then confirmed exactly by tl_exact_eval
 * and in float32 by the runtime; at pops 1, 2, 4, 8, ... also the PGD search of tl_verify_sample) and
 * split in two at the binary64 midpoint `at` of one dimension: the children are [lo, at] and [at, hi]
 * on that dimension, so their union is exactly the parent.  The dimension: the candidates (the largest
 * smears |CROWN input coefficient of the critical row| x width, and the widest dimension relative to the
 * root, which catches ReLUs made unstable by a dimension with a small net coefficient) are each tried by
 * bounding both children, and the split with the least left to prove (sum of the children's negative
 * margins, each at least the parent's: the parent's bound holds on a child even where CROWN's lines give
 * the child a worse one) is kept, its children's bounds used as they are.  A box no dimension of which can be
 * split (width of one ulp) stays open.  Results depend only on the inputs and the seed (never on timing,
 * except where the time limit stops the search).
 *
 * The tree (tl_bab_result.nodes) records every split over the ROOT box; node 0 is the root.  A
 * verified cover (TL_BAB_VERIFIED) has every leaf verified: leaf k of the tree is leaf_res[k] over
 * leaf_region[k] (a box region equal to the leaf's box).  tl_bab_cert_write turns covers into a
 * certificate (docs/certificates.md, "Covers").
 *
 * Ownership: *out is the caller's (tl_bab_result_free), everything in it is owned by it; g, the
 * region, the property and the options' plan are borrowed for the call only.
 */
#ifndef TORCHLEAN_BAB_H
#define TORCHLEAN_BAB_H

#include <stdint.h>

#include "torchlean/verify.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_bab_status {
  TL_BAB_OPEN = 0,  /* stopped with open boxes: the node cap, or a box that cannot be split */
  TL_BAB_VERIFIED,  /* every leaf verified: the property holds on the root box */
  TL_BAB_FALSIFIED, /* a confirmed counterexample (cex) */
  TL_BAB_TIMEOUT    /* the time limit stopped the search */
} tl_bab_status;
const char *tl_bab_status_name(tl_bab_status s); /* "open", "verified", "falsified", "timeout" */

/* An extra confirmation of a counterexample x (numel(input) floats) already confirmed exactly and in
 * float32 against the property: 1 accept (the search stops), 0 refuse (the box stays open), < 0 error. */
typedef int (*tl_bab_cex_fn)(void *user, const float *x);

typedef struct tl_bab_opts {
  tl_semantics sem;           /* [TL_SEM_F32_ANY] */
  double timeout_s;           /* wall-clock limit of the search (<= 0: none) [0] */
  int64_t max_nodes;          /* tree node cap (the queue is at most half of it) [1 << 20] */
  int intermediate_crown;     /* CROWN intermediate bounds in every box [1] */
  int alpha_steps;            /* > 0: alpha-CROWN (that many slope steps) in every box, else CROWN [0] */
  int candidates;             /* split dimensions tried per split: the largest smears, plus the widest
                                 dimension relative to the root; the pair of children with the least left
                                 to prove is kept [1] */
  int attack;                 /* counterexample search in open boxes [1] */
  int pgd_steps;              /* PGD steps / restarts of the periodic tl_verify_sample attack [30 / 4] */
  int pgd_restarts;           /*   */
  uint64_t seed;              /* [0] */
  int keep_evidence;          /* keep every verified leaf's boxes and CROWN data (certificates) [0] */
  const tl_verify_plan *plan; /* a plan of the graph, or NULL (one is built per call) */
  tl_bab_cex_fn accept_cex;   /* NULL: accept every confirmed counterexample */
  void *accept_user;
} tl_bab_opts;
tl_bab_opts tl_bab_opts_default(void);

typedef struct tl_bab_node {
  int split;    /* dimension of the split, or -1 for a leaf */
  double at;    /* split value: children [lo, at] (child[0]) and [at, hi] (child[1]) on `split` */
  int child[2]; /* node indices (split nodes) */
  int leaf;     /* leaf nodes: index into leaf_res / leaf_region when verified, else -1 */
} tl_bab_node;

typedef struct tl_bab_result {
  tl_bab_status status;
  int nnodes;
  tl_bab_node *nodes;          /* owned: the tree over the root box (node 0) */
  int nleaves;                 /* verified leaves */
  tl_region **leaf_region;     /* owned, nleaves: each verified leaf's box */
  tl_verify_result **leaf_res; /* owned, nleaves: its CROWN result (evidence when keep_evidence) */
  float *cex;                  /* owned: the counterexample (TL_BAB_FALSIFIED), else NULL */
  int64_t bounded, attacked;   /* boxes bounded, PGD attacks run */
  int max_depth;
  double seconds;
} tl_bab_result;
void tl_bab_result_free(tl_bab_result *r);

/* Input splitting over root (a box or L_inf region: its lo/hi box is split) for property p (safe or
 * unsafe DNF).  Errors: TL_EARG (shapes), TL_EUNSUPPORTED (ops), TL_ENOMEM. */
tl_code tl_bab_input(const tl_graph *g, const tl_region *root, const tl_property *p, const tl_bab_opts *o,
                     tl_bab_result **out, tl_status *st);

/* One part of a certificate: a single verified (or unknown) sample (res != NULL), or a cover
 * (bab != NULL, status TL_BAB_VERIFIED, solved with keep_evidence): its leaves become samples and a
 * "covers" entry describes the tree over `region` (the root) for property `prop`. */
typedef struct tl_bab_part {
  const tl_region *region;
  const tl_property *prop;
  const tl_verify_result *res;
  const tl_bab_result *bab;
} tl_bab_part;
/* Write the parts as one certificate (samples in part order, covers after them), atomically.  Every
 * result must carry evidence of one method (CROWN) and semantics. */
tl_code tl_bab_cert_write(const char *path, const tl_graph *g, int nparts, const tl_bab_part *parts,
                          const tl_cert_info *info, tl_status *st);

#ifdef __cplusplus
}
#endif
#endif
