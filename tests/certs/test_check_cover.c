/* test_check_cover.c - torchlean-check on covers of input-splitting branch and bound
 * (docs/certificates.md, "Covers"): an honest cover is ACCEPTed with its cover line; every tampering
 * is refused with a clear line: a dropped leaf, a moved split value, a split value on the box's edge,
 * a duplicated leaf, a leaf whose sample's box is one ulp smaller, another property, a cycle, a node
 * not reached from the root, a leaf whose sample is unknown (REJECT, exit 1); a node both leaf and
 * split, a child index out of range, a missing field (MALFORMED, exit 2). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certjson.h"
#include "torchlean/bab.h"
#include "vnets.h"

#define CHECKER TL_BUILD_DIR "/certs/torchlean-check"

static int run_check(const char *path, char *out, size_t nout) {
  char cmd[2400], of[700];
  snprintf(of, sizeof of, "%.600s.out", path);
  snprintf(cmd, sizeof cmd, "ASAN_OPTIONS=exitcode=99 UBSAN_OPTIONS=exitcode=98 %s %.600s > %s 2>&1", CHECKER,
           path, of);
  int st = system(cmd);
  cr_assert(WIFEXITED(st), "checker did not exit normally on %s", path);
  FILE *f = fopen(of, "r");
  cr_assert(f);
  size_t n = fread(out, 1, nout - 1, f);
  out[n] = 0;
  fclose(f);
  remove(of);
  return WEXITSTATUS(st);
}

/* A verified cover of a 2-input network with a few leaves (seeds tried in turn), written to path. */
static void honest_cover(const char *path, int *nleaves) {
  double lo[2] = {-1, -1}, hi[2] = {1, 1}, c[3] = {1, -1, 0};
  int cs[2] = {0, 1};
  for (uint64_t seed = 1; seed < 60; seed++) {
    tl_graph *g = vnet_mlp(seed, 2, 8, 8, 3, TL_OP_RELU);
    float x[2], y[3];
    double m = INFINITY;
    for (int i = 0; i <= 40; i++)
      for (int j = 0; j <= 40; j++) {
        x[0] = (float)(-1 + i / 20.0), x[1] = (float)(-1 + j / 20.0);
        cr_assert_eq(vnet_f32_forward(g, x, VORD_SEQ, y), 0);
        m = fmin(m, (double)y[0] - y[1]);
      }
    double d = m - 0.05 * (fabs(m) + 0.1);
    tl_property *p;
    tl_region *r;
    cr_assert_eq(tl_property_new(&p, 3, 1, c, &d, NULL, 1, cs, 1, NULL), TL_OK);
    cr_assert_eq(tl_region_box(&r, lo, hi, 2, NULL), TL_OK);
    tl_bab_opts o = tl_bab_opts_default();
    o.keep_evidence = 1, o.max_nodes = 200;
    tl_bab_result *b;
    tl_status st;
    cr_assert_eq(tl_bab_input(g, r, p, &o, &b, &st), TL_OK, "%s", st.msg);
    int ok = b->status == TL_BAB_VERIFIED && b->nleaves >= 4 && b->nleaves <= 40;
    if (ok) {
      tl_bab_part part = {r, p, NULL, b};
      cr_assert_eq(tl_bab_cert_write(path, g, 1, &part, NULL, &st), TL_OK, "%s", st.msg);
      *nleaves = b->nleaves;
    }
    tl_bab_result_free(b), tl_region_free(r), tl_property_free(p), tl_graph_free(g);
    if (ok)
      return;
  }
  cr_assert_fail("no network gave a cover of 4 to 40 leaves");
}

static cJSON *tree_of(cJSON *j) {
  return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "covers"), 0), "tree");
}

/* the index of a split node whose two children are leaves */
static int split_of_leaves(cJSON *tree) {
  for (int i = 0; i < cJSON_GetArraySize(tree); i++) {
    cJSON *ch = cJSON_GetObjectItem(cJSON_GetArrayItem(tree, i), "children");
    if (!ch)
      continue;
    cJSON *l = cJSON_GetArrayItem(tree, cJSON_GetArrayItem(ch, 0)->valueint);
    cJSON *r = cJSON_GetArrayItem(tree, cJSON_GetArrayItem(ch, 1)->valueint);
    if (cJSON_GetObjectItem(l, "leaf") && cJSON_GetObjectItem(r, "leaf"))
      return i;
  }
  cr_assert_fail("no split node with two leaves");
  return -1;
}

/* tamper with a fresh copy of the honest document, run the checker: exit code and one of two lines */
typedef void (*tamper_fn)(cJSON *j);
static void expect(const char *path, const char *mp, tamper_fn f, int code, const char *want, const char *alt,
                   const char *what) {
  cJSON *j = tl_test_json_load(path);
  f(j);
  tl_test_json_save(mp, j);
  cJSON_Delete(j);
  char out[1 << 16];
  int rc = run_check(mp, out, sizeof out);
  cr_assert_eq(rc, code, "%s: exit %d, output:\n%s", what, rc, out);
  cr_assert(strstr(out, want) || (alt && strstr(out, alt)), "%s: no \"%s\" in:\n%s", what, want, out);
  cr_assert(!strstr(out, "\nACCEPT\n"), "%s: accepted:\n%s", what, out);
}

static void set_at(cJSON *node, double v) {
  char b[64];
  snprintf(b, sizeof b, "%a", v);
  cJSON_ReplaceItemInObject(node, "at", cJSON_CreateString(b));
}

static void t_drop_leaf(cJSON *j) { /* a split of two leaves replaced by its left leaf */
  cJSON *tree = tree_of(j);
  int i = split_of_leaves(tree);
  cJSON *n = cJSON_GetArrayItem(tree, i);
  int l = cJSON_GetArrayItem(cJSON_GetObjectItem(n, "children"), 0)->valueint;
  cJSON_ReplaceItemInArray(tree, i, cJSON_Duplicate(cJSON_GetArrayItem(tree, l), 1));
}
static void t_move_split(cJSON *j) { /* the root's split value moved (still inside the box) */
  cJSON *root = cJSON_GetArrayItem(tree_of(j), 0);
  double at = strtod(cJSON_GetObjectItem(root, "at")->valuestring, NULL);
  set_at(root, at + 0.25);
}
static void t_split_on_edge(cJSON *j) { /* the root's split value on the box's upper end */
  set_at(cJSON_GetArrayItem(tree_of(j), 0), 1.0);
}
static void t_duplicate_leaf(cJSON *j) { /* the right leaf of a split names the left leaf's sample */
  cJSON *tree = tree_of(j);
  cJSON *ch = cJSON_GetObjectItem(cJSON_GetArrayItem(tree, split_of_leaves(tree)), "children");
  cJSON *l = cJSON_GetArrayItem(tree, cJSON_GetArrayItem(ch, 0)->valueint);
  cJSON *r = cJSON_GetArrayItem(tree, cJSON_GetArrayItem(ch, 1)->valueint);
  cJSON_ReplaceItemInObject(r, "leaf", cJSON_CreateNumber(cJSON_GetObjectItem(l, "leaf")->valueint));
}
static void t_smaller_box(cJSON *j) { /* a leaf's sample region one ulp smaller at its upper end */
  cJSON *tree = tree_of(j);
  cJSON *ch = cJSON_GetObjectItem(cJSON_GetArrayItem(tree, split_of_leaves(tree)), "children");
  int s =
      cJSON_GetObjectItem(cJSON_GetArrayItem(tree, cJSON_GetArrayItem(ch, 0)->valueint), "leaf")->valueint;
  cJSON *reg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "samples"), s), "region");
  cJSON *hi = cJSON_GetObjectItem(reg, "hi");
  double v = strtod(cJSON_GetArrayItem(hi, 0)->valuestring, NULL);
  char b[64];
  snprintf(b, sizeof b, "%a", nextafter(v, -INFINITY));
  cJSON_ReplaceItemInArray(hi, 0, cJSON_CreateString(b));
}
static void t_other_property(cJSON *j) { /* the cover claims a stronger property than its leaves prove */
  cJSON *prop = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "covers"), 0), "property");
  cJSON *row = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(prop, "clauses"), 0), 0);
  cJSON_ReplaceItemInObject(row, "d", cJSON_CreateString("0x1p+4"));
}
static void t_cycle(cJSON *j) { /* a split's right child is the root */
  cJSON *tree = tree_of(j);
  cJSON *ch = cJSON_GetObjectItem(cJSON_GetArrayItem(tree, split_of_leaves(tree)), "children");
  cJSON_ReplaceItemInArray(ch, 1, cJSON_CreateNumber(0));
}
static void t_unreached(cJSON *j) { /* one more leaf node that no split names */
  cJSON *leaf = cJSON_CreateObject();
  cJSON_AddNumberToObject(leaf, "leaf", 0);
  cJSON_AddItemToArray(tree_of(j), leaf);
}
static void t_unknown_leaf(cJSON *j) { /* a leaf's sample says unknown */
  cJSON *tree = tree_of(j);
  cJSON *ch = cJSON_GetObjectItem(cJSON_GetArrayItem(tree, split_of_leaves(tree)), "children");
  int s =
      cJSON_GetObjectItem(cJSON_GetArrayItem(tree, cJSON_GetArrayItem(ch, 1)->valueint), "leaf")->valueint;
  cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "samples"), s), "verdict",
                            cJSON_CreateString("unknown"));
}
static void t_leaf_and_split(cJSON *j) {
  cJSON_AddNumberToObject(cJSON_GetArrayItem(tree_of(j), 0), "leaf", 0);
}
static void t_child_out_of_range(cJSON *j) {
  cJSON *ch = cJSON_GetObjectItem(cJSON_GetArrayItem(tree_of(j), 0), "children");
  cJSON_ReplaceItemInArray(ch, 0, cJSON_CreateNumber(100000));
}
static void t_no_root(cJSON *j) {
  cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "covers"), 0), "root");
}

Test(cover, honest_and_tampered) {
  char path[512], mp[512], out[1 << 16];
  snprintf(path, sizeof path, "%s/tl_cover_%ld.json", TL_BUILD_DIR, (long)getpid());
  snprintf(mp, sizeof mp, "%s/tl_cover_%ld_m.json", TL_BUILD_DIR, (long)getpid());
  int nl = 0;
  honest_cover(path, &nl);
  int rc = run_check(path, out, sizeof out);
  char line[200];
  snprintf(line, sizeof line, "cover 0: ACCEPT root box verified by %d leaves", nl);
  cr_assert_eq(rc, 0, "honest cover: exit %d:\n%s", rc, out);
  cr_assert(strstr(out, line) && strstr(out, "\nACCEPT\n"), "honest cover:\n%s", out);
  expect(path, mp, t_drop_leaf, 1, "does not contain the leaf's box", NULL, "dropped leaf");
  expect(path, mp, t_move_split, 1, "does not contain the leaf's box", NULL, "moved split value");
  expect(path, mp, t_split_on_edge, 1, "is not strictly inside its box", NULL, "split on the edge");
  expect(path, mp, t_duplicate_leaf, 1, "is the leaf of two tree nodes", "does not contain the leaf's box",
         "duplicated leaf");
  expect(path, mp, t_smaller_box, 1, "does not contain the leaf's box", NULL, "leaf box one ulp smaller");
  expect(path, mp, t_other_property, 1, "has another property than the cover", NULL, "another property");
  expect(path, mp, t_cycle, 1, "is reached twice", "reaches more nodes than it has", "cycle");
  expect(path, mp, t_unreached, 1, "is not reached from the root", NULL, "unreached node");
  expect(path, mp, t_unknown_leaf, 1, "is not an accepted verified sample", NULL, "unknown leaf");
  expect(path, mp, t_leaf_and_split, 2, "is both a leaf and a split", NULL, "leaf and split");
  expect(path, mp, t_child_out_of_range, 2, "children must be two integers", NULL, "child out of range");
  expect(path, mp, t_no_root, 2, "missing field \"root\"", NULL, "no root");
  remove(path), remove(mp);
}
