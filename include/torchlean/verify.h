/* verify.h - robustness verification: input regions, output properties, IBP and CROWN bounds in
 * two semantics, verdicts, dataset mode and certificates (docs/certificates.md).
 *
 * Semantics (docs/architecture.md):
 *   TL_SEM_REAL    - exact real arithmetic on the graph's float32 weights;
 *   TL_SEM_F32_ANY - ANY IEEE binary32 evaluation of the graph (any summation order or tree,
 *                    with or without FMA, gradual underflow; no FTZ/DAZ).
 * Every bound is computed in binary64 with directed rounding (fesetround FE_UPWARD/FE_DOWNWARD,
 * restored before returning) on the calling thread only: no BLAS, no helper threads inside one
 * bound computation (MXCSR is per thread).  Dataset mode runs whole samples on worker threads,
 * each of which sets its own rounding mode.  The library is compiled with -frounding-math.
 *
 * What "verified" means: for EVERY input x in the region, the output y = f(x) (in the chosen
 * semantics) lies in the SAFE set of the property.  The property is a DNF of linear rows
 * c.y <= d (or < d when strict); `unsafe` says whether that DNF describes the safe set
 * (unsafe = 0, the usual form: robustness of label t is ONE clause with rows y_j - y_t < 0 for all
 * j != t) or the unsafe set (unsafe = 1, the VNNLIB form: the output is safe when it satisfies
 * no clause).  Rows refer to the flattened elements of the graph's first output.
 *
 * Ownership: every struct returned through an out-pointer is allocated by the library and freed
 * by the matching *_free function (NULL is fine everywhere).  Inputs are borrowed.
 */
#ifndef TORCHLEAN_VERIFY_H
#define TORCHLEAN_VERIFY_H

#include <stdint.h>

#include "torchlean/graph.h"
#include "torchlean/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_semantics { TL_SEM_REAL = 0, TL_SEM_F32_ANY } tl_semantics;
/* TL_METHOD_ALPHA_CROWN: CROWN with optimised relu lower slopes (tl_verify_opts.alpha_steps); its
 * certificates are CROWN certificates (method "crown") carrying the chosen slopes. */
typedef enum tl_method { TL_METHOD_IBP = 0, TL_METHOD_CROWN, TL_METHOD_ALPHA_CROWN } tl_method;
typedef enum tl_verdict { TL_VERDICT_UNKNOWN = 0, TL_VERDICT_VERIFIED, TL_VERDICT_FALSIFIED } tl_verdict;
typedef enum tl_region_kind { TL_REGION_LINF = 0, TL_REGION_BOX } tl_region_kind;

const char *tl_semantics_name(tl_semantics s); /* "real", "f32-any" */
const char *tl_method_name(tl_method m);       /* "ibp", "crown", "alpha-crown" */
const char *tl_verdict_name(tl_verdict v);     /* "verified", "falsified", "unknown" */

/* ---- input region ------------------------------------------------------------------------ */
/* The set of inputs: for L_inf, { x : |x - center| <= eps } intersected with the domain box
 * [dom_lo, dom_hi] when `clamp`; for a box, [lo, hi] as given.  `lo`/`hi` always hold the box
 * that is actually verified: an outward-rounded binary64 superset of the exact region. */
typedef struct tl_region {
  tl_region_kind kind;
  int64_t n;       /* number of input elements (numel of the graph's input) */
  double *lo, *hi; /* owned, n each */
  float *center;   /* owned, n; L_inf only (NULL for a box) */
  double eps;      /* L_inf only */
  int clamp;       /* L_inf only */
  double dom_lo, dom_hi;
} tl_region;

/* L_inf ball around center (n floats, copied) of radius eps >= 0, clamped to [dom_lo, dom_hi]
 * when clamp != 0.  *out freed with tl_region_free. */
tl_code tl_region_linf(tl_region **out, const float *center, int64_t n, double eps, int clamp, double dom_lo,
                       double dom_hi, tl_status *st);
/* General box lo <= x <= hi (n doubles each, copied). */
tl_code tl_region_box(tl_region **out, const double *lo, const double *hi, int64_t n, tl_status *st);
void tl_region_free(tl_region *r);

/* ---- output property --------------------------------------------------------------------- */
typedef struct tl_property {
  int64_t nout; /* output elements the rows refer to */
  int nrows;
  double *c;             /* owned, nrows * nout coefficients (row-major) */
  double *d;             /* owned, nrows right-hand sides */
  unsigned char *strict; /* owned, nrows: 1 for c.y < d, 0 for c.y <= d */
  int nclauses;
  int *clause_start; /* owned, nclauses + 1 offsets into the rows (a clause is a conjunction) */
  int unsafe;        /* 0: the DNF is the safe set; 1: the DNF is the unsafe set (VNNLIB) */
  int label;         /* robustness label, or -1 for a general property */
} tl_property;

/* Robustness of `label` among nout logits: one clause, rows y_j - y_label < 0 for j != label. */
tl_code tl_property_robust(tl_property **out, int64_t nout, int label, tl_status *st);
/* General property: copies the arrays (clause_start has nclauses + 1 entries, last = nrows). */
tl_code tl_property_new(tl_property **out, int64_t nout, int nrows, const double *c, const double *d,
                        const unsigned char *strict, int nclauses, const int *clause_start, int unsafe,
                        tl_status *st);
void tl_property_free(tl_property *p);
/* Does the exact output y (nout values, given as lower/upper enclosures ylo <= y <= yhi; pass the
 * same array twice for a point) certainly violate (return 1) the property?  0 when it may hold. */
int tl_property_violated_exact(const tl_property *p, const double *ylo, const double *yhi);

/* ---- bounds ------------------------------------------------------------------------------ */
/* Per-node boxes: lo[i], hi[i] hold numel(node i) binary64 values (PARAM nodes: the weights; a
 * PARAM node used only as the weight or bias operand of linear / conv2d nodes has lo[i] = hi[i] =
 * NULL: read its values from the graph).
 * A node whose value cannot be bounded (overflow, or NaN possible) has lo = -inf, hi = +inf in
 * every element; every node computed from it is unbounded too. */
typedef struct tl_bounds {
  int nnodes;
  tl_semantics sem;
  double **lo, **hi;     /* owned, except where shared[i] */
  unsigned char *shared; /* owned, may be NULL: shared[i] = 1 when node i (flatten, reshape, dropout)
                          * uses its parent's arrays (same values); read-only, freed with the parent */
} tl_bounds;
void tl_bounds_free(tl_bounds *b);

/* IBP of every node of g (single input, batch size as in the graph) over region r.  Supported
 * ops: linear, matmul (second operand a parameter), conv2d, add, sub, mul (one side a
 * parameter), neg, relu, leaky_relu, sigmoid, tanh, clamp, flatten, reshape, dropout (eval),
 * batch_norm (eval), avg_pool2d, max_pool2d, global_avg_pool.  Others: TL_EUNSUPPORTED naming
 * the node. */
tl_code tl_ibp(const tl_graph *g, const tl_region *r, tl_semantics sem, tl_bounds **out, tl_status *st);

/* CROWN data kept for certificates: for every activation node (relu, leaky_relu, sigmoid,
 * tanh) the relaxation lines lower: la*x + lb <= f(x) <= ua*x + ub on the pre-activation box
 * [pre_lo, pre_hi] that was used (the IBP box, or its intersection with CROWN intermediate
 * bounds). */
typedef struct tl_crown_act {
  int node; /* the activation node */
  int64_t n;
  double *pre_lo, *pre_hi, *la, *lb, *ua, *ub; /* owned, n each */
} tl_crown_act;
typedef struct tl_crown_data {
  int nacts;
  tl_crown_act *acts;     /* owned */
  int intermediate_crown; /* 1 when pre-activation bounds came from CROWN passes */
} tl_crown_data;
void tl_crown_data_free(tl_crown_data *c);

/* Lower bounds of rows a_k . y (nrows x nout, y = the graph's first output) by CROWN over region
 * r, using the IBP boxes b (same semantics) for intermediate bounds, and CROWN intermediate
 * bounds too when intermediate_crown.  lower[k] receives the bound (-inf when unbounded).  When
 * data != NULL, *data receives the relaxation used (freed with tl_crown_data_free). */
tl_code tl_crown(const tl_graph *g, const tl_region *r, const tl_bounds *b, int nrows, const double *a,
                 int intermediate_crown, double *lower, tl_crown_data **data, tl_status *st);

/* ---- prepared plans (fast paths) ---------------------------------------------------------- */
/* A plan holds what is sample-independent for a graph (conv im2col maps, which nodes take the
 * dense fast kernels); build it once and reuse it for every sample (and from several threads:
 * it is read-only after construction).  It borrows g, which must outlive it unchanged.
 * The fast kernels compute linear and conv2d nodes in midpoint-radius form with dense loops on
 * the calling thread in FE_UPWARD (lower ends from an upper sum minus a rigorous binary64
 * rounding-error bound, so any summation order is sound; no BLAS, no helper threads); CROWN
 * back-substitutes all rows of a pass through a node at once (transposed conv over patches for
 * conv2d).  Results never depend on how many samples are verified together or on threads.
 * tl_ibp and tl_crown build a plan internally. */
typedef struct tl_verify_plan tl_verify_plan;
tl_code tl_verify_plan_new(tl_verify_plan **out, const tl_graph *g, tl_status *st);
/* Does the verifier have rules for every node of g (interval bounds and exact evaluation)?  TL_OK,
 * or TL_EUNSUPPORTED naming the first node whose op it lacks and listing the ops it has: check this
 * before a run so that an unsupported model fails at once, not after the run started. */
tl_code tl_verify_supports(const tl_graph *g, tl_status *st);
void tl_verify_plan_free(tl_verify_plan *p);
/* reference != 0: use the reference per-element kernels (and CROWN intermediate rows for every
 * neuron) instead of the fast ones; for testing and comparison. */
void tl_verify_plan_set_reference(tl_verify_plan *p, int reference);
/* tl_ibp with a plan (the plan's graph) */
tl_code tl_ibp_plan(const tl_verify_plan *p, const tl_region *r, tl_semantics sem, tl_bounds **out,
                    tl_status *st);
/* IBP lower bounds of rows a (nrows x nout) on the output with the specification folded into the
 * last affine layer (what tl_verify_sample reports for method ibp), from boxes b of tl_ibp_plan. */
tl_code tl_ibp_rows_plan(const tl_verify_plan *p, const tl_region *r, const tl_bounds *b, int nrows,
                         const double *a, double *lower, tl_status *st);
/* tl_crown with a plan.  alpha_steps > 0: alpha-CROWN: the lower slopes of unstable relu
 * neurons of the final pass are optimised (projected signed-gradient ascent, alpha_steps steps,
 * in ordinary floating point; the search starts from the upper-line slopes, CROWN's adaptive
 * slopes are the incumbent); every candidate is bounded soundly and one is kept only if it raises
 * sum_k min(L_k, 0) and no row decided at 0 gets worse: each row with a negative CROWN bound is at
 * least as tight as CROWN, each row CROWN proves (L >= 0) stays >= 0.  (Rows are assumed to be
 * decided at 0, as robustness rows are.)  The chosen slopes are the `la` of the returned data (the
 * certificate's lines).  With intermediate_crown only the last activation's slopes move: the
 * earlier lines entered the CROWN intermediate bounds, which the certificate re-derives from the
 * lines it carries.  Graphs whose backward pass crosses ops other than linear, conv2d, relu, flatten,
 * reshape and dropout (concretised ops are fine) get plain CROWN. */
tl_code tl_crown_plan(const tl_verify_plan *p, const tl_region *r, const tl_bounds *b, int nrows,
                      const double *a, int intermediate_crown, int alpha_steps, double *lower,
                      tl_crown_data **data, tl_status *st);

/* ---- exact evaluation ---------------------------------------------------------------------- */
/* Exact real-semantics output of g at input x (n floats): rational ops are evaluated exactly
 * with GMP; sigmoid, tanh and batch norm with 256-bit MPFR outward rounding, so the result is an
 * enclosure ylo <= y <= yhi, rounded outward to binary64 (caller allocates nout each). */
tl_code tl_exact_eval(const tl_graph *g, const float *x, double *ylo, double *yhi, tl_status *st);
/* The same result computed entirely with GMP rationals (the original, slower implementation;
 * tl_exact_eval keeps points of rational ops in fixed-point mpz and must agree with it exactly). */
tl_code tl_exact_eval_reference(const tl_graph *g, const float *x, double *ylo, double *yhi, tl_status *st);

/* Clean classification at a point: *correct = 1 only when the exact real output at x
 * (numel(input) floats) certainly has y[label] > y[k] for every k != label (the criterion of
 * dataset mode and `torchlean verify`; ties count as wrong).  A real-semantics IBP pass at the
 * point decides it when its output box (which contains the exact output) separates the labels;
 * otherwise tl_exact_eval decides (ylo[label] > yhi[k]).  For graphs of rational ops both give the
 * same answer; after sigmoid/tanh/batch norm the IBP decision can be the tighter one, never a
 * wrong one.  Thread-safe with a shared plan. */
tl_code tl_clean_correct_plan(const tl_verify_plan *p, const float *x, int label, int *correct,
                              tl_status *st);

/* ---- verification of one sample ----------------------------------------------------------- */
/* Confirmation of a candidate counterexample in float32: run the deployed float32 model at x
 * (numel(input) floats) and write the nout outputs to y; return 0 on success.  */
typedef int (*tl_f32_eval_fn)(void *user, const tl_graph *g, const float *x, float *y);

/* The float32 runtime's output at x: a private copy of g run by tl_exec (compiled, FAST kernels,
 * eval mode, round-to-nearest).  y receives numel(first output) floats.  This is the default
 * float32 confirmation of counterexamples (tl_verify_opts.f32_eval == NULL). */
tl_code tl_verify_confirm_f32_runtime(const tl_graph *g, const float *x, float *y, tl_status *st);

typedef struct tl_verify_opts {
  tl_method method;
  tl_semantics sem;
  int intermediate_crown;  /* CROWN: CROWN intermediate bounds (else IBP: CROWN-IBP) */
  int falsify;             /* search counterexamples when not verified: the center, CROWN's worst
                              corners, then PGD (signed gradient of the violated row's margin,
                              computed by the float32 runtime's autograd, inside the box) */
  int pgd_steps;           /* PGD steps per restart (0: no PGD) [30] */
  int pgd_restarts;        /* random restarts after the start at the center [4] */
  uint64_t seed;           /* PGD stream; mixed with the region's bits, so a sample's search does
                              not depend on threads or batching */
  tl_f32_eval_fn f32_eval; /* float32 confirmation; NULL: the float32 runtime
                              (tl_verify_confirm_f32_runtime).  A candidate becomes `falsified` only
                              when BOTH the exact evaluation and this float32 run violate the
                              property (cex_exact and cex_f32), and it lies in the exact region. */
  void *f32_user;
  int keep_evidence;          /* keep boxes and CROWN data in the result (for certificates) */
  int alpha_steps;            /* TL_METHOD_ALPHA_CROWN: slope optimisation steps (<= 0: 20) */
  const tl_verify_plan *plan; /* a plan of this graph (tl_verify_plan_new) to reuse across samples and
                              threads; NULL: tl_verify_sample builds one per call, tl_verify_batch and
                              tl_verify_dataset one per call shared by all samples */
} tl_verify_opts;
tl_verify_opts tl_verify_opts_default(void); /* CROWN, f32-any, IBP intermediates, falsify */

typedef struct tl_verify_result {
  tl_verdict verdict;
  int nrows;
  double *row_lower;      /* owned: lower bound of each objective row (see tl_objective_rows) */
  float *cex;             /* owned: counterexample input (falsified), else NULL */
  int cex_exact, cex_f32; /* which confirmations the counterexample passed */
  double seconds;
  tl_bounds *bounds;    /* owned, when keep_evidence */
  tl_crown_data *crown; /* owned, CROWN with keep_evidence */
  tl_method method;
  tl_semantics sem;
} tl_verify_result;
void tl_verify_result_free(tl_verify_result *r);

/* Objective rows of a property: every row c.y (<|<=) d becomes a row a.y whose LOWER bound L
 * decides it: safe rows a = -c, the row certainly holds when L > -d (strict) or L >= -d;
 * unsafe rows a = c, the row certainly fails when L > d (non-strict row) or L >= d (strict).
 * a is nrows x nout (caller allocates). */
void tl_objective_rows(const tl_property *p, double *a);
/* Decide the property from the row lower bounds: 1 when verified. */
int tl_property_decide(const tl_property *p, const double *row_lower);

tl_code tl_verify_sample(const tl_graph *g, const tl_region *r, const tl_property *p, const tl_verify_opts *o,
                         tl_verify_result **out, tl_status *st);

/* tl_verify_sample for n samples on nthreads worker threads (>= 1; samples are handed out one at
 * a time).  out[i] receives sample i's result (caller frees each with tl_verify_result_free; all
 * NULL on failure).  Every result is the same as tl_verify_sample alone would give, whatever
 * nthreads is (timings aside).  progress, when not NULL, is called from the worker threads after
 * each sample with the number done so far; it must be thread-safe. */
typedef void (*tl_verify_progress_fn)(void *user, int64_t done, int64_t total);
tl_code tl_verify_batch(const tl_graph *g, int64_t n, const tl_region *const *r, const tl_property *const *p,
                        const tl_verify_opts *o, int nthreads, tl_verify_result **out,
                        tl_verify_progress_fn progress, void *progress_user, tl_status *st);

/* Robustness of a model in one call, without a separate trace: traces m at batch 1, verifies that
 * every input within L_inf distance eps of x (the model's sample size in floats; no domain clamp)
 * is classified as `label`, with options o (NULL: tl_verify_opts_default()), and, when cert_path is
 * not NULL, writes the certificate there (torchlean-check checks it).  *out: the result (caller
 * frees with tl_verify_result_free; NULL on failure). */
typedef struct tl_model tl_model;
tl_code tl_verify_model_robust(const tl_model *m, const float *x, int label, double eps,
                               const tl_verify_opts *o, const char *cert_path, tl_verify_result **out,
                               tl_status *st);

/* ---- dataset mode ---------------------------------------------------------------------------- */
typedef struct tl_dataset_report {
  int64_t n;
  int64_t clean_correct; /* exact argmax at the center equals the label (ties: incorrect) */
  int64_t verified_ibp, verified_crown, falsified;
  tl_verdict *ibp, *crown;           /* owned, n each */
  double seconds_ibp, seconds_crown; /* summed per-sample times */
} tl_dataset_report;
void tl_dataset_report_free(tl_dataset_report *r);
/* Certified accuracy of samples x (n x d floats) with labels at radius eps (clamped to
 * [dom_lo, dom_hi]) in semantics sem, with IBP and CROWN, on nthreads threads (>= 1).  A sample
 * counts as certified only when it is correctly classified and verified.  Results do not depend
 * on nthreads. */
tl_code tl_verify_dataset(const tl_graph *g, const float *x, const int *labels, int64_t n, double eps,
                          int clamp, double dom_lo, double dom_hi, tl_semantics sem,
                          const tl_verify_opts *base, int nthreads, tl_dataset_report **out, tl_status *st);

/* ---- certificates (docs/certificates.md) --------------------------------------------------- */
typedef struct tl_cert_info {
  const uint8_t *graph_hash; /* 32 bytes (SHA-256 of the graph, docs/graph-hash.md) or NULL */
  const char *model_ref;     /* model file name or NULL */
  const char *producer;      /* e.g. "torchlean 0.1.0"; NULL for the default */
} tl_cert_info;
/* Write one certificate (a result produced with keep_evidence) as a cJSON-printed document to
 * path, atomically (temporary file + rename).  The graph is embedded (structure and weights as
 * hex floats). */
tl_code tl_cert_write(const char *path, const tl_graph *g, const tl_region *r, const tl_property *p,
                      const tl_verify_result *res, const tl_cert_info *info, tl_status *st);
/* Several samples in one file ("samples" array, one graph). */
tl_code tl_cert_write_many(const char *path, const tl_graph *g, int n, const tl_region *const *r,
                           const tl_property *const *p, const tl_verify_result *const *res,
                           const tl_cert_info *info, tl_status *st);

#ifdef __cplusplus
}
#endif
#endif
