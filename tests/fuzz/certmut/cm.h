/* cm.h - certmut: the mutated-certificate campaign (tests/fuzz/README.md, "certmut").
 *
 * Valid seed certificates written by the library's verifier (seeds.c) are mutated by a JSON-aware,
 * deterministic mutator (mutate.c); the independent checker runs in-process from its own sources
 * (check_run.c includes certs/main.c); every sample it ACCEPTs (or reports UNKNOWN: its bounds are
 * still claimed) is re-derived by a second path on the library side (oracle_*.c): the graph read back
 * with the library's IR reader and re-hashed, points of the exact region evaluated with tl_exact_eval,
 * the MPFR spec interpreter, the binary32 emulator and float32 passes in several summation orders.
 * An accepted claim the oracle proves false is a FALSE ACCEPT (the worst bug).
 *
 * Ownership: strings and arrays returned through pointers are malloc'ed, caller frees (each
 * *_free below); cJSON trees are borrowed unless a comment says otherwise.
 */
#ifndef TL_CERTMUT_CM_H
#define TL_CERTMUT_CM_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* ---- deterministic random numbers (splitmix64) -------------------------------------------------- */
typedef struct cm_rng {
  uint64_t s;
} cm_rng;
uint64_t cm_next(cm_rng *r);
uint64_t cm_below(cm_rng *r, uint64_t n); /* uniform in [0, n), n >= 1 */
double cm_unif(cm_rng *r);                /* uniform in [0, 1) */

/* ---- seeds: valid certificates written by tl_cert_write_many (seeds.c) -------------------------- */
typedef struct cm_seed {
  char name[96]; /* e.g. "mlp_relu-real-crown-s2" */
  char *text;    /* the certificate document (owned) */
  cJSON *doc;    /* parsed text (owned) */
} cm_seed;
/* Build every seed in a temporary folder (or dir, when not NULL: the files are kept there).
 * Returns the number of seeds (>= 1) and *out (free with cm_seeds_free), or -1 with a message. */
int cm_seeds_make(const char *dir, cm_seed **out, int verbose);
void cm_seeds_free(cm_seed *s, int n);

/* ---- mutator (mutate.c) -------------------------------------------------------------------------- */
typedef enum cm_kind {
  MK_ULP,      /* one number +- 1 ulp (binary64 or binary32 grid) */
  MK_SCALE,    /* one number x2 or /2 */
  MK_NEG,      /* one number's sign flipped */
  MK_ZERO,     /* one number set to 0 or -0 */
  MK_EXTREME,  /* huge, tiny, subnormal, FLT_MAX, DBL_MAX */
  MK_SPECIAL,  /* "nan", "inf", "1/0", "", decimal, malformed hex, a JSON number */
  MK_HEXEDIT,  /* one hex digit or the exponent of a hex float edited */
  MK_VERDICT,  /* verdict swapped (or made invalid) */
  MK_LABEL,    /* label: +-1, string, out of range, -1, 0.5, removed, added */
  MK_REGION,   /* eps, center, domain, lo/hi edited; kind swapped; domain dropped */
  MK_PROPERTY, /* c, d, strict, dnf, nout */
  MK_CLAUSE,   /* clauses and rows added, dropped, duplicated, swapped */
  MK_CEX,      /* counterexample moved, shortened, dropped, added */
  MK_CROWN,    /* relaxation lines, pre-activation boxes, intermediate, maxpool lines */
  MK_GRAPH,    /* weights, attributes, op names, shapes, parents of the embedded graph */
  MK_REHASH,   /* a graph edit with graph_sha256 recomputed by the library (tl_graph_hash) */
  MK_HASH,     /* graph_sha256 digit flipped */
  MK_HEADER,   /* method, semantics, format, version */
  MK_KEYS,     /* a key dropped or duplicated */
  MK_ARRAY,    /* an array element dropped, duplicated, swapped; a value's type changed */
  MK_BOXES,    /* box entries: node id, dropped, duplicated, swapped; row_lower edits */
  MK_MULTI,    /* two to four of the above at once */
  MK_COUNT
} cm_kind;
const char *cm_kind_name(int k);
/* A mutated copy of the seed document as text (malloc'ed), deterministic in `seed`; *kind receives
 * the kind applied (forced when want >= 0).  orig (doc's text, or NULL): a mutation that leaves it
 * unchanged is retried with other choices (up to 8 times).  NULL only when out of memory. */
char *cm_mutate(const cJSON *doc, const char *orig, uint64_t seed, int want, int *kind);

/* ---- the checker under test (check_run.c: certs/main.c in-process) ------------------------------- */
enum { CS_VERIFIED = 0, CS_FALSIFIED, CS_UNKNOWN, CS_REJECTED, CS_MALFORMED };
typedef struct cm_check {
  int status;   /* the checker's exit status: 0 accept, 1 reject, 2 malformed */
  int parse;    /* 1: refused as JSON (syntax or a duplicate key) */
  int nsamples; /* per-sample lines read */
  int *res;     /* CS_* per sample (owned) */
} cm_check;
/* Run the checker's own steps on text (fast: the binary64 fast path on, else TL_CHECK_FAST=0). */
int cm_check_text(const char *text, int fast, cm_check *out);
void cm_check_free(cm_check *c);
/* what the checker printed for the last document (borrowed, until the next cm_check_text) */
const char *cm_check_output(void);

/* ---- the second-path oracle (oracle_*.c) --------------------------------------------------------- */
enum { OR_CONFIRMED = 0, OR_UNDECIDED, OR_FALSE };
typedef struct cm_oracle_opts {
  int random_points; /* uniform points of the region [24] */
  int corners;       /* random corners [12] */
  int faces;         /* points on random faces [12] */
  int pgd_restarts;  /* PGD runs (finite-difference signed gradient on float32) [2] */
  int pgd_steps;     /* steps per run [12] */
  int runtime_every; /* float32 runtime (tl_exec) at every k-th point (0: never) [8] */
  uint64_t seed;
} cm_oracle_opts;
cm_oracle_opts cm_oracle_defaults(void);
/* Re-derive the truth of sample si of the (mutated) document doc, which the checker reported as
 * `claim` (CS_VERIFIED, CS_FALSIFIED or CS_UNKNOWN: boxes, row bounds and lines are claimed in
 * every case).  OR_FALSE with the reason in why when some claim is false (an accepted false claim);
 * OR_UNDECIDED when the oracle could neither confirm nor refute something (why says what). */
int cm_oracle_sample(const cJSON *doc, int si, int claim, const cm_oracle_opts *o, char *why, size_t nwhy);
/* The library's graph hash (hex) of the document's embedded graph (read with tl_ir_json_read after
 * renaming the certificate's keys); 0, or -1 when the library cannot read it (why). */
int cm_graph_hash_hex(const cJSON *doc, char hex[65], char *why, size_t nwhy);

#endif
