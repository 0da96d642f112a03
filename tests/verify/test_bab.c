/* test_bab.c - branch and bound by input splitting (include/torchlean/bab.h): on random small
 * networks with 2 to 4 inputs, properties chosen just beyond what CROWN proves on the whole box.
 *   - soundness: every verified cover is checked by sampling points of the root box (exact evaluation
 *     with GMP/MPFR, and float32 in three summation orders for f32-any): none is unsafe;
 *   - the cover's certificate is ACCEPTed by the built torchlean-check (its cover line printed);
 *   - a property violated at a known point is answered falsified (never verified), the counterexample
 *     inside the box and violating exactly;
 *   - the split values make exact halves (children share the parent's `at`), and the result (status,
 *     tree, leaves) is the same for the same seed.
 * Size: TL_BAB_POINTS (default 10000) sampled points per verified root box. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "torchlean/bab.h"
#include "torchlean/rand.h"
#include "vnets.h"

#define CHECKER TL_BUILD_DIR "/certs/torchlean-check"

static long points(void) {
  const char *s = getenv("TL_BAB_POINTS");
  long n = s ? atol(s) : 10000;
  return n > 0 ? n : 10000;
}

/* y0 - y1 at x in float32 (sequential order) */
static double diff_f32(const tl_graph *g, const float *x) {
  float y[8];
  cr_assert_eq(vnet_f32_forward(g, x, VORD_SEQ, y), 0);
  return (double)y[0] - (double)y[1];
}

/* the smallest y0 - y1 seen on a grid of the box [-1, 1]^in (float32), and where */
static double grid_min(const tl_graph *g, int in, float *argmin) {
  double best = INFINITY;
  float x[4];
  int steps = in <= 2 ? 64 : in == 3 ? 16 : 8;
  long total = 1;
  for (int i = 0; i < in; i++)
    total *= steps + 1;
  for (long t = 0; t < total; t++) {
    long u = t;
    for (int i = 0; i < in; i++, u /= steps + 1)
      x[i] = (float)(-1.0 + 2.0 * (double)(u % (steps + 1)) / steps);
    double v = diff_f32(g, x);
    if (v < best)
      best = v, memcpy(argmin, x, (size_t)in * sizeof *x);
  }
  return best;
}

/* unsafe DNF: one clause, y0 - y1 <= d */
static tl_property *prop_below(int nout, double d) {
  double c[8] = {0};
  c[0] = 1, c[1] = -1;
  int cs[2] = {0, 1};
  tl_property *p;
  cr_assert_eq(tl_property_new(&p, nout, 1, c, &d, NULL, 1, cs, 1, NULL), TL_OK);
  return p;
}

static tl_region *unit_box(int in) {
  double lo[4], hi[4];
  for (int i = 0; i < in; i++)
    lo[i] = -1, hi[i] = 1;
  tl_region *r;
  cr_assert_eq(tl_region_box(&r, lo, hi, in, NULL), TL_OK);
  return r;
}

/* every split value strictly inside its node's box, children the exact halves, every leaf verified and
 * its region exactly its box */
static void check_tree(const tl_bab_result *b, const tl_region *root) {
  int64_t n = root->n;
  double *lo = malloc((size_t)b->nnodes * n * sizeof *lo), *hi = malloc((size_t)b->nnodes * n * sizeof *hi);
  memcpy(lo, root->lo, n * sizeof *lo), memcpy(hi, root->hi, n * sizeof *hi);
  int leaves = 0;
  for (int i = 0; i < b->nnodes; i++) { /* children are created after their parent */
    const tl_bab_node *nd = &b->nodes[i];
    if (nd->split < 0) {
      cr_assert(nd->leaf >= 0 && nd->leaf < b->nleaves, "node %d is an open leaf of a verified cover", i);
      const tl_region *lr = b->leaf_region[nd->leaf];
      for (int64_t d = 0; d < n; d++)
        cr_assert(lr->lo[d] == lo[i * n + d] && lr->hi[d] == hi[i * n + d], "leaf %d box differs", nd->leaf);
      cr_assert_eq(b->leaf_res[nd->leaf]->verdict, TL_VERDICT_VERIFIED);
      leaves++;
      continue;
    }
    int d = nd->split, l = nd->child[0], r = nd->child[1];
    cr_assert(l > i && r > i && l < b->nnodes && r < b->nnodes);
    cr_assert(lo[i * n + d] < nd->at && nd->at < hi[i * n + d], "split %d not strictly inside", i);
    memcpy(lo + l * n, lo + i * n, n * sizeof *lo), memcpy(hi + l * n, hi + i * n, n * sizeof *hi);
    memcpy(lo + r * n, lo + i * n, n * sizeof *lo), memcpy(hi + r * n, hi + i * n, n * sizeof *hi);
    hi[l * n + d] = nd->at, lo[r * n + d] = nd->at;
  }
  cr_assert_eq(leaves, b->nleaves);
  free(lo), free(hi);
}

/* sample the root box (corners, faces, interior): no point unsafe exactly (nor in float32 for f32-any) */
static void sample_safe(const tl_graph *g, const tl_region *root, const tl_property *p, tl_semantics sem,
                        uint64_t seed) {
  tl_rng r;
  tl_rng_init(&r, seed);
  int64_t n = root->n;
  float x[4], yf[8];
  double ylo[8], yhi[8], yd[8];
  for (long t = 0; t < points(); t++) {
    for (int64_t i = 0; i < n; i++) {
      double u = tl_rng_uniform(&r);
      if (t % 4 == 1) /* faces and corners */
        u = u < 0.5 ? 0 : 1;
      x[i] = (float)(root->lo[i] + (root->hi[i] - root->lo[i]) * u);
    }
    cr_assert_eq(tl_exact_eval(g, x, ylo, yhi, NULL), TL_OK);
    cr_assert(!tl_property_violated_exact(p, ylo, yhi), "verified cover, yet the exact output is unsafe");
    for (int o = 0; sem == TL_SEM_F32_ANY && o < VORD_COUNT; o++) {
      cr_assert_eq(vnet_f32_forward(g, x, (vnet_order)o, yf), 0);
      for (int j = 0; j < p->nout; j++)
        yd[j] = yf[j];
      cr_assert(!tl_property_violated_exact(p, yd, yd), "verified cover, yet a float32 run is unsafe");
    }
  }
}

/* the checker's exit status on path, its output in out */
static int run_check(const char *path, char *out, size_t nout) {
  char cmd[2400], of[700];
  snprintf(of, sizeof of, "%.600s.out", path);
  snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s %.600s > %s 2>&1", CHECKER,
           path, of);
  int st = system(cmd);
  cr_assert(WIFEXITED(st));
  FILE *f = fopen(of, "r");
  cr_assert(f);
  size_t k = fread(out, 1, nout - 1, f);
  out[k] = 0;
  fclose(f);
  remove(of);
  return WEXITSTATUS(st);
}

static tl_bab_result *run_bab(const tl_graph *g, const tl_region *root, const tl_property *p,
                              tl_semantics sem, int keep) {
  tl_bab_opts o = tl_bab_opts_default();
  o.sem = sem, o.keep_evidence = keep, o.max_nodes = 20000, o.seed = 7;
  tl_bab_result *b;
  tl_status st;
  cr_assert_eq(tl_bab_input(g, root, p, &o, &b, &st), TL_OK, "%s", st.msg);
  return b;
}

/* properties just below the sampled minimum: BaB must verify them by splitting or find a counterexample;
 * verified covers are sampled, their certificates checked */
Test(bab, sound_covers_and_certificates) {
  int verified_split = 0, certs = 0;
  for (int t = 0; t < 12; t++) {
    int in = 2 + t % 3;
    tl_semantics sem = t % 2 ? TL_SEM_F32_ANY : TL_SEM_REAL;
    tl_graph *g = vnet_mlp(1000 + (uint64_t)t, in, 12, 10, 3, TL_OP_RELU);
    float am[4];
    double m = grid_min(g, in, am);
    tl_property *p = prop_below(3, m - 0.02 * (fabs(m) + 0.1));
    tl_region *root = unit_box(in);
    tl_bab_result *b = run_bab(g, root, p, sem, 1);
    cr_assert(b->status == TL_BAB_VERIFIED || b->status == TL_BAB_FALSIFIED,
              "case %d: %s (%d nodes, depth %d)", t, tl_bab_status_name(b->status), b->nnodes, b->max_depth);
    if (b->status == TL_BAB_VERIFIED) {
      check_tree(b, root);
      verified_split += b->nleaves > 1;
      sample_safe(g, root, p, sem, 77 + (uint64_t)t);
    }
    if (b->status == TL_BAB_VERIFIED && b->nleaves > 1 && certs < 3) {
      char path[600], out[1 << 16];
      snprintf(path, sizeof path, "%s/tl_bab_%ld_%d.json", TL_BUILD_DIR, (long)getpid(), t);
      tl_bab_part part = {root, p, NULL, b};
      tl_status st;
      cr_assert_eq(tl_bab_cert_write(path, g, 1, &part, NULL, &st), TL_OK, "%s", st.msg);
      int rc = run_check(path, out, sizeof out);
      cr_assert_eq(rc, 0, "case %d: checker exit %d:\n%s", t, rc, out);
      char line[200];
      snprintf(line, sizeof line, "cover 0: ACCEPT root box verified by %d leaves", b->nleaves);
      cr_assert(strstr(out, line) && strstr(out, "\nACCEPT\n"), "case %d:\n%s", t, out);
      remove(path);
      certs++;
    }
    tl_bab_result_free(b), tl_region_free(root), tl_property_free(p), tl_graph_free(g);
  }
  cr_assert(verified_split >= 4, "only %d properties needed and got a split cover", verified_split);
  cr_assert(certs >= 1);
}

/* violated at the grid's minimum: falsified with a point in the box that violates exactly */
Test(bab, violated_is_falsified) {
  for (int t = 0; t < 6; t++) {
    int in = 2 + t % 3;
    tl_graph *g = vnet_mlp(2000 + (uint64_t)t, in, 12, 10, 3, TL_OP_RELU);
    float am[4];
    double m = grid_min(g, in, am);
    tl_property *p = prop_below(3, m + 0.01 * (fabs(m) + 0.1));
    tl_region *root = unit_box(in);
    tl_bab_result *b = run_bab(g, root, p, t % 2 ? TL_SEM_F32_ANY : TL_SEM_REAL, 0);
    cr_assert_eq(b->status, TL_BAB_FALSIFIED, "case %d: %s", t, tl_bab_status_name(b->status));
    cr_assert(b->cex);
    double ylo[8], yhi[8];
    for (int i = 0; i < in; i++)
      cr_assert(b->cex[i] >= root->lo[i] && b->cex[i] <= root->hi[i]);
    cr_assert_eq(tl_exact_eval(g, b->cex, ylo, yhi, NULL), TL_OK);
    cr_assert(tl_property_violated_exact(p, ylo, yhi));
    tl_bab_result_free(b), tl_region_free(root), tl_property_free(p), tl_graph_free(g);
  }
}

/* the same seed gives the same status, tree and leaves */
Test(bab, deterministic) {
  tl_graph *g = vnet_mlp(1003, 3, 12, 10, 3, TL_OP_RELU);
  float am[4];
  double m = grid_min(g, 3, am);
  tl_property *p = prop_below(3, m - 0.02 * (fabs(m) + 0.1));
  tl_region *root = unit_box(3);
  tl_bab_result *a = run_bab(g, root, p, TL_SEM_F32_ANY, 0), *b = run_bab(g, root, p, TL_SEM_F32_ANY, 0);
  cr_assert_eq(a->status, b->status);
  cr_assert_eq(a->nnodes, b->nnodes);
  cr_assert_eq(a->nleaves, b->nleaves);
  for (int i = 0; i < a->nnodes; i++) {
    cr_assert_eq(a->nodes[i].split, b->nodes[i].split);
    cr_assert(a->nodes[i].at == b->nodes[i].at);
    cr_assert_eq(a->nodes[i].leaf, b->nodes[i].leaf);
  }
  for (int i = 0; i < a->nleaves; i++)
    for (int d = 0; d < 3; d++)
      cr_assert(a->leaf_region[i]->lo[d] == b->leaf_region[i]->lo[d] &&
                a->leaf_region[i]->hi[d] == b->leaf_region[i]->hi[d]);
  tl_bab_result_free(a), tl_bab_result_free(b), tl_region_free(root), tl_property_free(p), tl_graph_free(g);
}

/* an L_inf region is refused (its lo/hi box is an outward superset: a point of the box may lie outside) */
Test(bab, linf_region_refused) {
  tl_graph *g = vnet_mlp(5, 2, 4, 4, 3, TL_OP_RELU);
  tl_property *p = prop_below(3, 0);
  float c[2] = {0, 0};
  tl_region *lin;
  cr_assert_eq(tl_region_linf(&lin, c, 2, 0.1, 0, 0, 0, NULL), TL_OK);
  tl_bab_opts o = tl_bab_opts_default();
  tl_bab_result *b = NULL;
  tl_status st;
  cr_assert_eq(tl_bab_input(g, lin, p, &o, &b, &st), TL_EARG);
  cr_assert(strstr(st.msg, "box region"), "%s", st.msg);
  cr_assert_null(b);
  tl_region_free(lin), tl_property_free(p), tl_graph_free(g);
}
