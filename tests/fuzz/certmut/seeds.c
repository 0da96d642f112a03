/* seeds.c - valid seed certificates, written by the library's verifier (tl_verify_sample with
 * keep_evidence, tl_cert_write_many) for six tiny networks (MLPs with relu, leaky relu, sigmoid and
 * tanh; two CNNs with conv2d, batch norm, relu, avg or max pool), both semantics and the methods IBP,
 * CROWN (IBP and CROWN intermediates) and alpha-CROWN.  Each certificate holds five samples:
 *   0  robustness, L_inf clamped to [0, 1], the largest verified eps found (tight: twice it is not)
 *   1  robustness, L_inf not clamped, an eps the verifier leaves unknown (when one is found)
 *   2  robustness, L_inf clamped, the smallest falsified eps found (a counterexample)
 *   3  a box region and an unsafe DNF of two clauses (VNN-LIB form), 4  a box and a safe DNF of two
 * (3 and 4 at a radius chosen for a verdict that rotates over the certificates).  Every sample also
 * becomes a one-sample seed of its own. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm.h"
#include "torchlean/verify.h"
#include "vnets.h"

#define NSAMP 5

typedef struct sctx {
  const tl_graph *g;
  tl_verify_opts o;
  int64_t n, nout;
  float c[64]; /* the centre */
  int label, alt[2];
} sctx;

/* verify one sample; the result (caller frees) */
static tl_verify_result *run(const sctx *s, const tl_region *r, const tl_property *p) {
  tl_verify_result *res = NULL;
  tl_status st;
  if (tl_verify_sample(s->g, r, p, &s->o, &res, &st) != TL_OK) {
    fprintf(stderr, "certmut seeds: verify failed: %s\n", st.msg);
    return NULL;
  }
  return res;
}

/* L_inf region of radius eps around the centre (clamped to [0, 1] when clamp) */
static tl_region *linf(const sctx *s, double eps, int clamp) {
  tl_region *r = NULL;
  tl_region_linf(&r, s->c, s->n, eps, clamp, 0, 1, NULL);
  return r;
}

/* a box of radius eps around the centre, widths from the seed (asymmetric) */
static tl_region *box(const sctx *s, double eps, uint64_t seed) {
  double lo[64], hi[64];
  cm_rng r = {seed};
  for (int64_t i = 0; i < s->n; i++)
    lo[i] = s->c[i] - eps * (0.5 + cm_unif(&r)), hi[i] = s->c[i] + eps * (0.5 + cm_unif(&r));
  tl_region *b = NULL;
  tl_region_box(&b, lo, hi, s->n, NULL);
  return b;
}

/* kind 3: unsafe DNF {y_a >= y_t} or {y_b >= y_t, y_b <= 8}; kind 4: safe DNF {y_a < y_t} or
 * {y_b - y_t < 0, -y_t <= 8} */
static tl_property *general(const sctx *s, int kind) {
  int nr = 3, cs[3] = {0, 1, 3}, t = s->label, a = s->alt[0], b = s->alt[1];
  double c[3 * 16] = {0}, d[3] = {0, 0, 8};
  unsigned char st[3] = {0, 0, 0};
  int64_t no = s->nout;
  if (kind == 3) {
    c[t] = 1, c[a] = -1;                              /* y_t - y_a <= 0 */
    c[no + t] = 1, c[no + b] = -1, c[2 * no + b] = 1; /* y_t - y_b <= 0, y_b <= 8 */
  } else {
    c[a] = 1, c[t] = -1, st[0] = 1;                               /* y_a - y_t < 0 */
    c[no + b] = 1, c[no + t] = -1, st[1] = 1, c[2 * no + t] = -1; /* y_b - y_t < 0, -y_t <= 8 */
  }
  tl_property *p = NULL;
  tl_property_new(&p, no, nr, c, d, st, 2, cs, kind == 3, NULL);
  return p;
}

/* the verdict at radius eps of sample kind k (0..4); *rr, *pp, *res receive the sample when keep */
static tl_verdict try_eps(const sctx *s, int k, double eps, tl_region **rr, tl_property **pp,
                          tl_verify_result **res) {
  tl_region *r = k <= 2 ? linf(s, eps, k != 1) : box(s, eps, 77 + (uint64_t)k);
  tl_property *p = NULL;
  if (k <= 2)
    tl_property_robust(&p, s->nout, s->label, NULL);
  else
    p = general(s, k);
  tl_verify_result *v = r && p ? run(s, r, p) : NULL;
  tl_verdict vd = v ? v->verdict : TL_VERDICT_UNKNOWN;
  tl_region_free(*rr), tl_property_free(*pp), tl_verify_result_free(*res);
  *rr = r, *pp = p, *res = v;
  return vd;
}

/* sample k with the wanted verdict on the radius ladder 2^-1 .. 2^-12 (the first that has it, from the
 * large end for falsified, from the small end otherwise), then tightened by bisection for verified */
static void pick(const sctx *s, int k, tl_verdict want, tl_region **r, tl_property **p,
                 tl_verify_result **res) {
  double e = 0;
  for (int j = 0; j < 12 && e == 0; j++) {
    double eps = want == TL_VERDICT_FALSIFIED ? ldexp(1, -12 + j) : ldexp(1, -1 - j);
    if (want == TL_VERDICT_UNKNOWN)
      eps = ldexp(1, -12 + j);
    if (try_eps(s, k, eps, r, p, res) == want)
      e = eps;
  }
  if (want == TL_VERDICT_VERIFIED && e > 0) /* the largest verified radius in [e, 2e] to ~e/8 */
    for (double step = e / 2; step >= e / 8; step /= 2)
      if (try_eps(s, k, e + step, r, p, res) == TL_VERDICT_VERIFIED)
        e += step;
  if (e == 0)
    e = ldexp(1, -5);
  try_eps(s, k, e, r, p, res);
}

/* the network of seed net (0..5); *name */
static tl_graph *net(int i, const char **name) {
  static const char *const names[6] = {"mlp4_relu", "mlp6_leaky", "mlp5_sigmoid",
                                       "mlp5_tanh", "cnn_avg_bn", "cnn_max_bn"};
  static const tl_op act[4] = {TL_OP_RELU, TL_OP_LEAKY_RELU, TL_OP_SIGMOID, TL_OP_TANH};
  static const int dims[4][4] = {{4, 8, 8, 3}, {6, 10, 10, 4}, {5, 8, 6, 3}, {5, 8, 6, 3}};
  *name = names[i];
  if (i >= 4)
    return vnet_cnn(40 + (uint64_t)i, i == 5);
  return vnet_mlp(30 + (uint64_t)i, dims[i][0], dims[i][1], dims[i][2], dims[i][3], act[i]);
}

/* the centre (seeded) and its exact labels: argmax t, then the two runners-up */
static void centre(sctx *s, uint64_t seed) {
  cm_rng r = {seed};
  for (int64_t i = 0; i < s->n; i++)
    s->c[i] = (float)cm_unif(&r);
  double ylo[16], yhi[16];
  tl_exact_eval(s->g, s->c, ylo, yhi, NULL);
  int o[16] = {0};
  for (int j = 0; j < s->nout; j++)
    o[j] = j;
  for (int a = 0; a < s->nout; a++) /* selection sort by value, descending */
    for (int b = a + 1; b < s->nout; b++)
      if (ylo[o[b]] > ylo[o[a]]) {
        int t = o[a];
        o[a] = o[b], o[b] = t;
      }
  s->label = o[0], s->alt[0] = o[1], s->alt[1] = o[s->nout > 2 ? 2 : 1];
}

/* one certificate (net i, semantics, method m) with its NSAMP samples at path; 0 or -1 */
static int one_cert(const tl_graph *g, int sem, int m, int rot, const char *path) {
  sctx s = {.g = g, .o = tl_verify_opts_default()};
  s.n = g->nodes[g->inputs[0]].numel, s.nout = g->nodes[g->outputs[0]].numel;
  s.o.sem = sem ? TL_SEM_F32_ANY : TL_SEM_REAL;
  s.o.method = m == 0 ? TL_METHOD_IBP : m == 3 ? TL_METHOD_ALPHA_CROWN : TL_METHOD_CROWN;
  s.o.intermediate_crown = m == 2, s.o.alpha_steps = 10, s.o.keep_evidence = 1, s.o.pgd_steps = 20;
  centre(&s, 1000 + (uint64_t)rot);
  tl_region *r[NSAMP] = {0};
  tl_property *p[NSAMP] = {0};
  tl_verify_result *res[NSAMP] = {0};
  static const tl_verdict want[3] = {TL_VERDICT_VERIFIED, TL_VERDICT_UNKNOWN, TL_VERDICT_FALSIFIED};
  for (int k = 0; k < NSAMP; k++)
    pick(&s, k, k < 3 ? want[k] : want[(rot + k) % 3], &r[k], &p[k], &res[k]);
  int ok = 1;
  for (int k = 0; k < NSAMP; k++)
    ok &= r[k] && p[k] && res[k];
  tl_status st;
  if (ok && tl_cert_write_many(path, g, NSAMP, (const tl_region *const *)r, (const tl_property *const *)p,
                               (const tl_verify_result *const *)res, NULL, &st) != TL_OK)
    ok = 0, fprintf(stderr, "certmut seeds: %s\n", st.msg);
  for (int k = 0; k < NSAMP; k++)
    tl_region_free(r[k]), tl_property_free(p[k]), tl_verify_result_free(res[k]);
  return ok ? 0 : -1;
}

/* the file's text and tree into seed *sd; 0 or -1 */
static int load(const char *path, cm_seed *sd) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  sd->text = malloc((size_t)n + 1);
  size_t got = sd->text ? fread(sd->text, 1, (size_t)n, f) : 0;
  fclose(f);
  if (!sd->text || got != (size_t)n)
    return -1;
  sd->text[n] = 0;
  sd->doc = cJSON_Parse(sd->text);
  return sd->doc ? 0 : -1;
}

/* one-sample documents of seed sd, appended to out[*n..] */
static void split(const cm_seed *sd, cm_seed *out, int *n) {
  const cJSON *sm = cJSON_GetObjectItemCaseSensitive(sd->doc, "samples");
  for (int k = 0; k < cJSON_GetArraySize(sm); k++) {
    cm_seed *o = &out[(*n)++];
    o->doc = cJSON_Duplicate(sd->doc, 1);
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToArray(arr, cJSON_Duplicate(cJSON_GetArrayItem(sm, k), 1));
    cJSON_ReplaceItemInObjectCaseSensitive(o->doc, "samples", arr);
    o->text = cJSON_PrintUnformatted(o->doc);
    snprintf(o->name, sizeof o->name, "%.80s-s%d", sd->name, k);
  }
}

int cm_seeds_make(const char *dir, cm_seed **out, int verbose) {
  char tmp[] = "/tmp/certmut_seeds_XXXXXX", path[600];
  const char *d = dir ? dir : mkdtemp(tmp);
  int nc = 6 * 2 * 4, n = 0;
  cm_seed *s = calloc((size_t)nc * (NSAMP + 1), sizeof *s);
  for (int i = 0, rot = 0; d && s && i < 6; i++) {
    const char *nm;
    tl_graph *g = net(i, &nm);
    for (int sem = 0; sem < 2; sem++)
      for (int m = 0; m < 4; m++, rot++) {
        static const char *const mn[4] = {"ibp", "crown", "crown_ci", "alpha"};
        cm_seed *sd = &s[n];
        snprintf(sd->name, sizeof sd->name, "%s-%s-%s", nm, sem ? "f32any" : "real", mn[m]);
        snprintf(path, sizeof path, "%s/%s.json", d, sd->name);
        if (one_cert(g, sem, m, rot, path) || load(path, sd))
          fprintf(stderr, "certmut seeds: %s failed\n", sd->name), free(sd->text), memset(sd, 0, sizeof *sd);
        else if (++n && verbose)
          fprintf(stderr, "seed %s\n", sd->name);
        if (!dir)
          remove(path);
      }
    tl_graph_free(g);
  }
  int nmulti = n;
  for (int i = 0; i < nmulti; i++)
    split(&s[i], s, &n);
  if (!dir && d)
    rmdir(d);
  *out = s;
  return n > 0 ? n : -1;
}

void cm_seeds_free(cm_seed *s, int n) {
  for (int i = 0; s && i < n; i++)
    free(s[i].text), cJSON_Delete(s[i].doc);
  free(s);
}
