/* cm_oracle.h - the oracle's private types: a sample's claims read exactly (GMP rationals) from the
 * certificate JSON, and the helpers of oracle_*.c.  Ownership: every *_read fills a caller struct
 * that the matching *_free releases (also after a failed read). */
#ifndef TL_CERTMUT_ORACLE_H
#define TL_CERTMUT_ORACLE_H

#include <gmp.h>

#include "cm.h"
#include "torchlean/graph.h"

/* a vector of exact numbers; f[i]: 0 finite (q[i]), +1 "inf", -1 "-inf" */
typedef struct cmo_vec {
  int64_t n;
  mpq_t *q;
  signed char *f;
} cmo_vec;
/* JSON array of number strings (hex float or "p/q"; "inf"/"-inf" only when allow_inf): 0, or -1 */
int cmo_vec_read(const cJSON *a, int allow_inf, cmo_vec *v);
void cmo_vec_free(cmo_vec *v);
/* one number string exactly: 0 finite, +1 inf, -1 -inf, -2 unreadable (nan, decimal not exact, ...) */
int cmo_q(const cJSON *j, mpq_t q);

/* the exact input region and its float32 grid */
typedef struct cmo_region {
  int64_t n;
  mpq_t *lo, *hi;   /* the exact region, per coordinate (L_inf: [c - eps, c + eps] with the domain) */
  cmo_vec vlo, vhi; /* the claimed verified box ("lo", "hi") */
  float *flo, *fhi; /* smallest / largest float32 inside [lo, hi] */
  int empty;        /* some lo > hi */
  int nofloat;      /* some coordinate holds no float32 */
} cmo_region;

typedef struct cmo_prop {
  int unsafe, nout, nrows, ncl, label; /* label -1 when absent */
  int *cstart;                         /* ncl + 1 */
  mpq_t *c, *d;                        /* nrows * nout, nrows */
  int *strict;
} cmo_prop;

typedef struct cmo_act {
  int node;
  cmo_vec v[6]; /* pre_lo, pre_hi, la, lb, ua, ub */
} cmo_act;

/* every claim of one sample */
typedef struct cmo_claim {
  int f32, crown;
  cmo_region reg;
  cmo_prop prop;
  int nbox;
  int *bnode;
  cmo_vec *blo, *bhi;
  cmo_vec rowlo;
  int nact;
  cmo_act *act;
  int has_cex;
  cmo_vec cex;
} cmo_claim;
/* read sample sj of a document with semantics f32 / method crown for graph g (falsified: the sample is
 * accepted as falsified, so its counterexample is a claim); 0, or -1 (why) */
int cmo_claim_read(const cJSON *sj, int f32, int crown, int falsified, const tl_graph *g, cmo_claim *c,
                   char *why, size_t nwhy);
void cmo_claim_free(cmo_claim *c);

/* property on an output enclosure ylo <= y <= yhi (nout each): +1 certainly violated, -1 certainly
 * holds, 0 undecided */
int cmo_prop_eval(const cmo_prop *p, const double *ylo, const double *yhi);
/* the objective row k (a = -c safe, c unsafe): 1 when max a.y over the enclosure < L (a claimed
 * lower bound that some output value beats: false) */
int cmo_row_beaten(const cmo_prop *p, int k, const double *ylo, const double *yhi, const mpq_t L, int Lf);
/* the property's violation score at a float output (> 0: violated; for the PGD search) */
double cmo_prop_score(const cmo_prop *p, const float *y);
/* value enclosure [lo, hi] certainly outside the claimed bounds (L, Lf), (H, Hf) */
int cmo_outside(double lo, double hi, const mpq_t L, int Lf, const mpq_t H, int Hf);

/* graph (oracle_graph.c) */
int cmo_graph_read(const cJSON *doc, tl_graph **out, char *why, size_t nwhy);
int cmo_hash_matches(const cJSON *doc, const tl_graph *g);

/* static claims (no sampling): region inside the verified box, label clause, relaxation lines on
 * their pre-activation boxes (oracle_static.c); OR_* with why */
int cmo_static_checks(const tl_graph *g, const cmo_claim *c, char *why, size_t nwhy);

/* the claims at one float32 input point x (oracle_point.c): OR_FALSE (why) when an evaluation at x
 * contradicts a box, a row bound, a pre-activation box or the verified verdict; runtime: also run
 * the float32 runtime (tl_exec) */
int cmo_point(const tl_graph *g, const cmo_claim *c, int verified, const float *x, int runtime, char *why,
              size_t nwhy);
/* a falsified claim's counterexample (oracle_point.c): in the exact region and violating in the
 * claimed semantics (real: exact evaluation; f32-any: every float32 evaluation tried) */
int cmo_cex(const tl_graph *g, const cmo_claim *c, char *why, size_t nwhy);
/* the counterexample as float32 values into x (reg.n); 1 when each is exactly a finite float */
int cmo_cex_floats(const cmo_vec *v, float *x);
int cmo_cex_in_region(const cmo_claim *c); /* 1 when the counterexample lies in the exact region */

#endif
