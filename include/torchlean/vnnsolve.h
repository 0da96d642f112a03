/* vnnsolve.h - verify a model against a VNN-LIB property (verify/solve.c): the engine behind
 * `torchlean vnnlib` and `torchlean vnncomp`, usable from C.
 *
 * Every non-empty input box of the property is verified in turn: CROWN (with CROWN intermediate
 * bounds) and a counterexample search (the worst corners of the CROWN bound, then PGD on the float32
 * runtime), then alpha-CROWN with a longer search when CROWN leaves the box open, then (split auto
 * with at most TL_VNN_SPLIT_MAX_DIM inputs, or split input) branch and bound by input splitting
 * (include/torchlean/bab.h) for the remaining time.  The answer:
 *   TL_VNN_UNSAT   the property holds: every box verified (the unsafe condition is unreachable);
 *   TL_VNN_SAT     a counterexample: a binary32 input inside the EXACT box of the VNN-LIB file
 *                  (rational comparison) whose exact output (GMP/MPFR enclosure) AND float32 runtime
 *                  output both satisfy the exact unsafe condition;
 *   TL_VNN_UNKNOWN neither (no split, or the search stopped with open boxes: the node cap);
 *   TL_VNN_TIMEOUT the time limit passed before an answer.
 * Semantics: f32-any by default (sound for any float32 evaluation of the model), or real.
 *
 * Ownership: *out is the caller's (tl_vnn_result_free); g and v are borrowed and must outlive the
 * result when it is given to tl_vnn_cert_write.
 */
#ifndef TORCHLEAN_VNNSOLVE_H
#define TORCHLEAN_VNNSOLVE_H

#include "torchlean/bab.h"
#include "torchlean/verify.h"
#include "torchlean/vnnlib.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_vnn_answer { TL_VNN_UNKNOWN = 0, TL_VNN_UNSAT, TL_VNN_SAT, TL_VNN_TIMEOUT } tl_vnn_answer;
const char *tl_vnn_answer_name(tl_vnn_answer a); /* "unknown", "unsat", "sat", "timeout" */

/* input splitting: auto (when the input has at most TL_VNN_SPLIT_MAX_DIM elements), always, never */
typedef enum tl_vnn_split { TL_VNN_SPLIT_AUTO = 0, TL_VNN_SPLIT_INPUT, TL_VNN_SPLIT_NONE } tl_vnn_split;
#define TL_VNN_SPLIT_MAX_DIM 16

typedef struct tl_vnn_opts {
  tl_semantics sem;   /* [TL_SEM_F32_ANY] */
  double timeout_s;   /* wall-clock limit (<= 0: none) [0] */
  int alpha_steps;    /* alpha-CROWN slope steps of the second stage (0: skip the stage) [40] */
  int pgd_steps;      /* PGD steps per restart, first / second stage [30 / 100] */
  int pgd_restarts;   /* random restarts, first / second stage [4 / 16] */
  uint64_t seed;      /* PGD stream [0] */
  int keep_evidence;  /* keep boxes and CROWN data for tl_vnn_cert_write [0] */
  tl_vnn_split split; /* [TL_VNN_SPLIT_AUTO] */
  int64_t max_nodes;  /* split tree node cap per box (<= 0: tl_bab_opts_default's) [0] */
} tl_vnn_opts;
tl_vnn_opts tl_vnn_opts_default(void);

typedef struct tl_vnn_result {
  tl_vnn_answer answer;
  int nboxes;                /* as the property's */
  tl_verify_result **box;    /* owned, nboxes: each box's last result (NULL: empty or not reached) */
  tl_region **region;        /* owned, nboxes: each box's region (NULL: empty box) */
  tl_bab_result **cover;     /* owned, nboxes: the input-splitting search of a box (NULL: not split); a
                                box is verified by its cover when cover[b]->status is TL_BAB_VERIFIED */
  int sat_box;               /* SAT: the box holding the counterexample, else -1 */
  float *cex_x, *cex_y;      /* SAT: input (n_inputs) and float32 runtime output (n_outputs) */
  double *cex_ylo, *cex_yhi; /* SAT: enclosure of the exact output (n_outputs each) */
  int boxes_verified, boxes_empty;
  int boxes_split; /* boxes that went to input splitting */
  int64_t leaves;  /* verified leaves of all covers */
  double seconds;
} tl_vnn_result;
void tl_vnn_result_free(tl_vnn_result *r);

/* Check that g fits v (one input of n_inputs elements, first output of n_outputs elements, every op
 * supported by the verifier), then solve.  TL_EARG / TL_EUNSUPPORTED name the mismatch. */
tl_code tl_vnn_solve(const tl_graph *g, const tl_vnnlib *v, const tl_vnn_opts *o, tl_vnn_result **out,
                     tl_status *st);
/* An UNSAT result solved with keep_evidence as a certificate for torchlean-check: one sample per
 * non-empty box (box region, the box's unsafe DNF), except that a box verified by input splitting
 * gives one sample per leaf and a cover (docs/certificates.md, "Covers"); written atomically. */
tl_code tl_vnn_cert_write(const char *path, const tl_graph *g, const tl_vnnlib *v, const tl_vnn_result *r,
                          const tl_cert_info *info, tl_status *st);

#ifdef __cplusplus
}
#endif
#endif
