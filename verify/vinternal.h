/* vinternal.h - private helpers of verify/: rounding-mode guards, the affine (CSR) view of
 * linear-type ops, broadcasting, f32-any error constants.
 * Ownership: a tl_aff owns its arrays (aff_free). */
#ifndef TL_VERIFY_INTERNAL_H
#define TL_VERIFY_INTERNAL_H

#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "torchlean/f32model.h"
#include "torchlean/graph.h"
#include "torchlean/status.h"
#include "torchlean/verify.h"

/* binary32 unit roundoff and smallest subnormal (the f32-any error model: f32model.h) */
#define TLV_U TL_F32_U
#define TLV_ETA TL_F32_ETA

/* Switch the rounding mode.  The memory clobbers make every store (and so every computation whose
 * result is stored, even to a local array) happen on its own side of the switch; values kept in
 * registers need TLV_OPAQUE (below).  fesetround costs ~80 ns (it rewrites MXCSR and the x87
 * control word), so on x86 the switch is skipped when MXCSR (which all SSE/AVX arithmetic obeys;
 * verify/ uses no x87 arithmetic) already holds the mode: read with a volatile stmxcsr. */
static inline void tlv_round(int fe, unsigned mxcsr_rc) {
  __asm__ volatile("" ::: "memory");
#if defined(__x86_64__)
  unsigned csr;
  __asm__ volatile("stmxcsr %0" : "=m"(csr));
  if ((csr & 0x6000u) == mxcsr_rc) {
    __asm__ volatile("" ::: "memory");
    return;
  }
#else
  (void)mxcsr_rc;
#endif
  fesetround(fe);
  __asm__ volatile("" ::: "memory");
}
static inline void rnd_up(void) { tlv_round(FE_UPWARD, 0x4000u); }
static inline void rnd_down(void) { tlv_round(FE_DOWNWARD, 0x2000u); }

/* Compilers reuse a floating-point expression across a rounding-mode switch even with
 * -frounding-math: GCC 12 and clang 14 at -O1 and above compile
 *   rnd_down(); lo = x * y; rnd_up(); hi = x * y;
 * into ONE multiplication (rounded down), so `hi` is not an upper bound (tests/test_rounding.c).
 * Values read from memory after the switch are safe (the call may have changed memory); values
 * held in registers are not.  TLV_OPAQUE(v) launders v (a variable) through memory so the
 * optimiser cannot prove it equal to anything computed before: apply it to the operands of every
 * expression evaluated after a switch whose operands were computed before it, and to a result
 * computed in one mode but used after the next switch (so the computation is not moved past it). */
#define TLV_OPAQUE(v) __asm__ volatile("" : "+m"(v))

/* y[o] = (sum_{t in row o} w[t] x[col[t]] + bias[o]) / div[o] */
typedef struct tl_aff {
  int64_t nout, nin;
  int64_t *rp, *col; /* CSR (nout + 1, nnz) */
  double *w;         /* nnz */
  double *bias;      /* nout or NULL */
  int64_t *div;      /* nout or NULL (1) */
  int64_t *nround;   /* nout: number of roundings k of the f32-any bound gamma_k */
  int x;             /* the variable parent */
} tl_aff;

/* Is node an affine op in the view above (linear, matmul with a parameter right operand, conv2d,
 * avg_pool2d, global_avg_pool)? */
int tlv_is_affine(const tl_graph *g, int node);
tl_code tlv_aff_build(const tl_graph *g, int node, tl_aff *a, tl_status *st);
void tlv_aff_free(tl_aff *a);

/* gamma_k = k u / (1 - k u), rounded up (caller in any mode): f32model.h's tl_f32_gamma_up, out of line */
double tlv_gamma_up(int64_t k);

/* For broadcasting binary ops: index of parent element for output element o. */
typedef struct tl_bcast {
  int ndim;
  int64_t shape[8], pstride[2][8];
  int trivial[2]; /* per parent: 1 same numel as the output (index o), 2 one element (index 0) */
} tl_bcast;
tl_code tlv_bcast_init(const tl_graph *g, int node, tl_bcast *b, tl_status *st);
static inline int64_t tlv_bcast_index(const tl_bcast *b, int which, int64_t o) {
  if (b->trivial[which])
    return b->trivial[which] == 1 ? o : 0;
  int64_t idx = 0;
  for (int i = b->ndim - 1; i >= 0; i--) {
    int64_t d = b->shape[i] ? o % b->shape[i] : 0;
    o = b->shape[i] ? o / b->shape[i] : 0;
    idx += d * b->pstride[which][i];
  }
  return idx;
}

/* batch-norm scale enclosure s = gamma / sqrt(var + eps) in binary64, for channel c */
tl_code tlv_bn_scale(const tl_graph *g, int node, int64_t c, double *slo, double *shi);
/* channel of element o of a (N, C, ...) node */
int64_t tlv_channel(const tl_node *n, int64_t o);

/* directed-rounding MPFR values of sigmoid/tanh at x (binary64 results): f(x) rounded down/up */
double tlv_act_down(tl_op op, double x);
double tlv_act_up(tl_op op, double x);
/* lower bound of f'(x) for sigmoid/tanh */
double tlv_act_deriv_down(tl_op op, double x);

int tlv_box_finite(const double *lo, const double *hi, int64_t n);
/* f32-any rounding-error radius of an elementwise node (ibp.c) */
tl_code tlv_elem_err(const tl_graph *g, int id, const tl_bounds *b, double *E, tl_status *st);

/* IBP final bound of rows a on the output: folded into the last affine node when it is one
 * (lower = min over the parent box of (a W) x + a b, minus |a| E in f32-any), else a . y over the
 * output box.  (crown.c) */
tl_code tlv_ibp_final(const tl_graph *g, const tl_region *r, const tl_bounds *b, int nrows, const double *a,
                      double *lower, tl_status *st);
/* tl_crown, also returning the input coefficients (nrows x n) when incoef != NULL */
tl_code tlv_crown_ex(const tl_graph *g, const tl_region *r, const tl_bounds *b, int nrows, const double *a,
                     int intermediate_crown, double *lower, tl_crown_data **data, double *incoef,
                     tl_status *st);

/* The rule table (rules/table.c, vrules.h): does op have the face?  IBP: a box rule; CROWN: a
 * backward rule (without one the node is concretised on its box); EXACT: an exact-evaluation rule. */
enum { TLV_FACE_IBP = 0, TLV_FACE_CROWN, TLV_FACE_EXACT };
int tlv_rule_has(tl_op op, int face);

/* ---- the plan (vfast.c) ------------------------------------------------------------------- */
enum { TLV_FAST_NONE = 0, TLV_FAST_LINEAR, TLV_FAST_CONV };
typedef struct tlv_conv {
  int64_t N, C, H, W, O, Ho, Wo, kh, kw, G, cpg, opg, K, P;
  int bias;
  int64_t *tab; /* K x P: input element (within one group block of cpg*H*W) or -1 (padding) */
} tlv_conv;
struct tl_verify_plan {
  const tl_graph *g;
  int nnodes;
  int reference;          /* 1: the reference (sparse, per-element) kernels everywhere */
  int *kind;              /* per node: TLV_FAST_* */
  tlv_conv **conv;        /* per node, conv only */
  unsigned char *wonly;   /* per PARAM node: only a weight/bias operand of fast nodes (no IBP box) */
  unsigned char *wfinite; /* per PARAM node: every weight finite */
};
/* is the box of parent p of a node finite (PARAM nodes without a box: their weights) */
int tlv_parent_finite(const tl_verify_plan *pl, const tl_bounds *b, const tl_graph *g, int p);
/* kind of node in the plan (NONE when p is NULL or in reference mode) */
int tlv_fast_kind(const tl_verify_plan *p, int node);
/* gamma with binary64 directed-rounding unit 2^-52: n 2^-52 / (1 - n 2^-52), rounded up */
double tlv_gamma52_up(int64_t n);
tl_code tlv_fast_ibp(const tl_verify_plan *pl, int id, const double *xl, const double *xh, tl_semantics sem,
                     double *lo, double *hi, tl_status *st);
/* The binary32 kernels of tlv_fast_ibp (vfast32.c): 1 done, 0 not applicable (the caller uses the
 * binary64 kernels), -1 out of memory.  Leaves FE_UPWARD or FE_DOWNWARD. */
int tlv_fast_ibp_f32(const tl_verify_plan *pl, int id, const double *xl, const double *xh, tl_semantics sem,
                     double *lo, double *hi);
tl_code tlv_fast_absfwd(const tl_verify_plan *pl, int id, const double *x, double *v, tl_status *st);
int64_t tlv_fast_backterms(const tl_verify_plan *pl, int id);
tl_code tlv_fast_back(const tl_verify_plan *pl, int id, int m, const double *lam, double *T, tl_status *st);
void tlv_fast_point(const tl_verify_plan *pl, int id, const double *x, double *y);
/* tlv_crown_ex with a plan (plain CROWN, IBP intermediates) */
tl_code tlv_crown_ex_plan(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows,
                          const double *a, double *lower, double *incoef, tl_status *st);
/* tl_crown_plan (alpha-CROWN when alpha_steps > 0) also returning the input coefficients (nrows x n) of
 * the final lines in incoef (crown.c; used by verify/bab/) */
tl_code tlv_crown_coef_plan(const tl_verify_plan *pl, const tl_region *r, const tl_bounds *b, int nrows,
                            const double *a, int intermediate_crown, int alpha_steps, double *lower,
                            tl_crown_data **data, double *incoef, tl_status *st);
/* the certificate document of tl_cert_write_many (cert.c): *out owned by the caller (cJSON_Delete),
 * or handed to tlv_cert_emit, which writes it atomically and deletes it */
struct cJSON;
tl_code tlv_cert_doc(const tl_graph *g, int n, const tl_region *const *r, const tl_property *const *p,
                     const tl_verify_result *const *res, const tl_cert_info *info, struct cJSON **out,
                     tl_status *st);
tl_code tlv_cert_emit(const char *path, struct cJSON *root, tl_status *st);
/* IBP with a plan (ibp.c) */
tl_code tlv_ibp_plan(const tl_verify_plan *pl, const tl_region *r, tl_semantics sem, tl_bounds **out,
                     tl_status *st);

/* The input elements of one output element of a pooling node (max / avg pool2d), in window
 * order, padding positions skipped:
 *   tlv_window w; tlv_window_init(&w, g, id, o); for (int64_t xi; tlv_window_next(&w, &xi);) ... */
typedef struct tlv_window {
  const tl_node *n;
  int64_t H, W, plane, h0, w0, p, q; /* plane: (b, c) * H * W; (h0, w0): the window's corner */
} tlv_window;
void tlv_window_init(tlv_window *w, const tl_graph *g, int id, int64_t o);
int tlv_window_next(tlv_window *w, int64_t *xi);

/* max pool CROWN lines of output element o of node id over the parent box (finite): lower line
 * y >= x_j (j = first argmax of the lower ends, never padding; returned); upper line y <= x_j when
 * *exact (l_j >= u_k for every other k of the window), else y <= *c = max_k u_k.  Returns -1
 * when the window holds no input element. */
int64_t tlv_maxpool_line(const tl_graph *g, int id, const double *xl, const double *xh, int64_t o, int *exact,
                         double *c);

#endif
