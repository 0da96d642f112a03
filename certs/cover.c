/* cover.c - torchlean-check: covers of input-splitting branch and bound (docs/certificates.md,
 * "Covers").  A cover claims that its property holds on its root box because a split tree over the root
 * reaches only leaves whose samples were accepted as verified for the same property on regions that
 * contain the leaves' boxes.  Checked exactly: the tree is a finite tree (every node reached once from
 * node 0, no cycle), each split value lies strictly inside its node's box (the children are built here
 * as [lo, at] and [at, hi], so they are exactly the two halves and their union is the node's box), each
 * leaf names an accepted verified sample with a box region containing the leaf's box and a property
 * identical to the cover's, and no sample is the leaf of two tree nodes (in any cover). */
#include "check.h"

typedef struct cbox {
  mpq_t *lo, *hi; /* n each */
} cbox;

static cbox *cbox_new(int64_t n) {
  cbox *b = malloc(sizeof *b);
  if (!b)
    return NULL;
  b->lo = malloc((size_t)(n ? n : 1) * sizeof *b->lo), b->hi = malloc((size_t)(n ? n : 1) * sizeof *b->hi);
  if (!b->lo || !b->hi) {
    free(b->lo), free(b->hi), free(b);
    return NULL;
  }
  for (int64_t i = 0; i < n; i++)
    mpq_init(b->lo[i]), mpq_init(b->hi[i]);
  return b;
}

static void cbox_free(cbox *b, int64_t n) {
  if (!b)
    return;
  for (int64_t i = 0; i < n; i++)
    mpq_clear(b->lo[i]), mpq_clear(b->hi[i]);
  free(b->lo), free(b->hi), free(b);
}

static cbox *cbox_copy(const cbox *s, int64_t n) {
  cbox *b = cbox_new(n);
  for (int64_t i = 0; b && i < n; i++)
    mpq_set(b->lo[i], s->lo[i]), mpq_set(b->hi[i], s->hi[i]);
  return b;
}

/* the lo/hi arrays of object o (finite exact numbers) into b */
static int read_box(ctx *c, const cJSON *o, const char *where, int64_t n, cbox *b) {
  qv *lo = qv_new(n), *hi = qv_new(n);
  int rc = lo && hi ? OK : fail(c, BAD, "out of memory");
  if (rc == OK)
    rc = get_qarr(c, o, "lo", where, n, lo, 0);
  if (rc == OK)
    rc = get_qarr(c, o, "hi", where, n, hi, 0);
  for (int64_t i = 0; rc == OK && i < n; i++)
    mpq_set(b->lo[i], lo[i].q), mpq_set(b->hi[i], hi[i].q);
  qv_free(lo, n), qv_free(hi, n);
  return rc;
}

typedef struct cover_ctx {
  ctx *c;
  int k;     /* cover index (messages) */
  int64_t n; /* input elements */
  const cJSON *prop;
  const cJSON **samples; /* ns */
  int ns;
  const unsigned char *accepted; /* per sample: accepted with verdict verified */
  unsigned char *used;           /* per sample: already a leaf */
} cover_ctx;

/* leaf node i (object o) with box b */
static int check_leaf(cover_ctx *v, int i, const cJSON *o, const cbox *b) {
  ctx *c = v->c;
  int64_t s;
  char where[80];
  snprintf(where, sizeof where, "covers[%d].tree[%d]", v->k, i);
  if (get_int(c, o, "leaf", where, 0, v->ns - 1, &s) != OK)
    return c->code;
  if (v->used[s])
    return fail(c, REJ, "REJECT: sample %lld is the leaf of two tree nodes (node %d)", (long long)s, i);
  v->used[s] = 1;
  if (!v->accepted[s])
    return fail(c, REJ, "REJECT: leaf node %d: sample %lld is not an accepted verified sample", i,
                (long long)s);
  const cJSON *sj = v->samples[s], *rj = cJSON_GetObjectItemCaseSensitive(sj, "region");
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(rj, "kind");
  if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "box"))
    return fail(c, REJ, "REJECT: leaf node %d: sample %lld's region is not a box", i, (long long)s);
  if (!cJSON_Compare(v->prop, cJSON_GetObjectItemCaseSensitive(sj, "property"), 1))
    return fail(c, REJ, "REJECT: leaf node %d: sample %lld has another property than the cover", i,
                (long long)s);
  cbox *sb = cbox_new(v->n);
  int rc = sb ? read_box(c, rj, "region", v->n, sb) : fail(c, BAD, "out of memory");
  for (int64_t d = 0; rc == OK && d < v->n; d++)
    if (mpq_cmp(sb->lo[d], b->lo[d]) > 0 || mpq_cmp(sb->hi[d], b->hi[d]) < 0)
      rc = fail(c, REJ,
                "REJECT: leaf node %d: sample %lld's region does not contain the leaf's box "
                "(index %lld)",
                i, (long long)s, (long long)d);
  cbox_free(sb, v->n);
  return rc;
}

/* split node i (object o) with box b: the two children's boxes in *l, *r (new) and their indices */
static int check_split(cover_ctx *v, int i, const cJSON *o, const cbox *b, int nt, int ch[2], cbox **l,
                       cbox **r) {
  ctx *c = v->c;
  int64_t d, c0, c1;
  char where[80];
  snprintf(where, sizeof where, "covers[%d].tree[%d]", v->k, i);
  mpq_t at;
  mpq_init(at);
  int rc = get_int(c, o, "split", where, 0, v->n - 1, &d);
  if (rc == OK)
    rc = get_num(c, o, "at", where, at);
  const cJSON *chj = rc == OK ? field(c, o, "children", where) : NULL;
  if (rc == OK && (!cJSON_IsArray(chj) || cJSON_GetArraySize(chj) != 2))
    rc = fail(c, BAD, "malformed: %s.children must be two node indices", where);
  if (rc == OK &&
      (!cJSON_IsNumber(chj->child) || !chk_int_in(chj->child->valuedouble, 0, nt - 1) ||
       !cJSON_IsNumber(chj->child->next) || !chk_int_in(chj->child->next->valuedouble, 0, nt - 1)))
    rc = fail(c, BAD, "malformed: %s.children must be two integers in [0, %d]", where, nt - 1);
  if (rc == OK) {
    c0 = (int64_t)chj->child->valuedouble, c1 = (int64_t)chj->child->next->valuedouble;
    ch[0] = (int)c0, ch[1] = (int)c1;
    if (!(mpq_cmp(b->lo[d], at) < 0 && mpq_cmp(at, b->hi[d]) < 0))
      rc = fail(c, REJ,
                "REJECT: the split value of node %d is not strictly inside its box "
                "(dimension %lld)",
                i, (long long)d);
  }
  if (rc == OK) {
    *l = cbox_copy(b, v->n), *r = cbox_copy(b, v->n);
    if (!*l || !*r)
      rc = fail(c, BAD, "out of memory");
    else
      mpq_set((*l)->hi[d], at), mpq_set((*r)->lo[d], at); /* [lo, at] and [at, hi] */
  }
  mpq_clear(at);
  return rc;
}

/* depth-first from node 0 with an explicit stack; every node must be reached exactly once */
static int walk(cover_ctx *v, const cJSON **node, int nt, cbox *root, int *nleaves) {
  ctx *c = v->c;
  unsigned char *seen = calloc((size_t)nt, 1);
  int *sn = malloc((size_t)nt * sizeof *sn);
  cbox **sb = malloc((size_t)nt * sizeof *sb);
  int top = 0, rc = seen && sn && sb ? OK : fail(c, BAD, "out of memory");
  if (rc == OK)
    sn[0] = 0, sb[0] = root, top = 1;
  else
    cbox_free(root, v->n);
  while (rc == OK && top > 0) {
    int i = sn[--top];
    cbox *b = sb[top];
    if (seen[i])
      rc = fail(c, REJ, "REJECT: tree node %d is reached twice (a cycle or a shared node)", i);
    else if (!cJSON_IsObject(node[i]))
      rc = fail(c, BAD, "malformed: covers[%d].tree[%d] must be an object", v->k, i);
    else if (cJSON_GetObjectItemCaseSensitive(node[i], "leaf") &&
             cJSON_GetObjectItemCaseSensitive(node[i], "split"))
      rc = fail(c, BAD, "malformed: covers[%d].tree[%d] is both a leaf and a split", v->k, i);
    else if (cJSON_GetObjectItemCaseSensitive(node[i], "leaf")) {
      rc = check_leaf(v, i, node[i], b);
      ++*nleaves;
    } else {
      int ch[2];
      cbox *l = NULL, *r = NULL;
      rc = check_split(v, i, node[i], b, nt, ch, &l, &r);
      if (rc == OK && top + 2 > nt) /* more pending nodes than the tree has: some node repeats */
        rc = fail(c, REJ, "REJECT: the tree reaches more nodes than it has (a cycle or a shared node)");
      if (rc == OK)
        sn[top] = ch[1], sb[top++] = r, sn[top] = ch[0], sb[top++] = l, l = r = NULL;
      cbox_free(l, v->n), cbox_free(r, v->n);
    }
    if (i >= 0 && i < nt)
      seen[i] = 1;
    cbox_free(b, v->n);
  }
  while (top > 0)
    cbox_free(sb[--top], v->n);
  for (int i = 0; rc == OK && i < nt; i++)
    if (!seen[i])
      rc = fail(c, REJ, "REJECT: tree node %d is not reached from the root", i);
  free(seen), free(sn), free(sb);
  return rc;
}

/* cover k (object cj): root box, property, tree */
static int check_cover(cover_ctx *v, const cJSON *cj, int *nleaves, int *nt_out) {
  ctx *c = v->c;
  char where[40];
  snprintf(where, sizeof where, "covers[%d]", v->k);
  const cJSON *rj = field(c, cj, "root", where), *pj = rj ? field(c, cj, "property", where) : NULL;
  const cJSON *tj = pj ? field(c, cj, "tree", where) : NULL;
  if (!tj)
    return c->code;
  int nt = cJSON_GetArraySize(tj);
  if (!cJSON_IsObject(pj) || !cJSON_IsArray(tj) || nt < 1)
    return fail(c, BAD, "malformed: %s needs a property object and a non-empty tree array", where);
  cbox *root = cbox_new(v->n);
  const cJSON **node = malloc((size_t)nt * sizeof *node);
  int rc = root && node ? OK : fail(c, BAD, "out of memory");
  snprintf(where, sizeof where, "covers[%d].root", v->k);
  if (rc == OK)
    rc = read_box(c, rj, where, v->n, root);
  for (int64_t d = 0; rc == OK && d < v->n; d++)
    if (mpq_cmp(root->lo[d], root->hi[d]) > 0)
      rc = fail(c, REJ, "REJECT: the root box is empty (index %lld)", (long long)d);
  int i = 0;
  for (const cJSON *t = tj->child; rc == OK && t; t = t->next)
    node[i++] = t;
  v->prop = pj;
  *nt_out = nt;
  if (rc == OK)
    rc = walk(v, node, nt, root, nleaves), root = NULL; /* walk owns the root box */
  cbox_free(root, v->n);
  free(node);
  return rc;
}

int check_covers(const cJSON *covers, const cJSON *samples, int64_t n, const unsigned char *accepted,
                 int *ncovers) {
  int ns = cJSON_GetArraySize(samples), k = 0, status = OK;
  *ncovers = 0;
  if (!cJSON_IsArray(covers) || cJSON_GetArraySize(covers) < 1) {
    printf("cover: MALFORMED: covers must be a non-empty array\n");
    return BAD;
  }
  const cJSON **sv = malloc((size_t)(ns ? ns : 1) * sizeof *sv);
  unsigned char *used = calloc((size_t)(ns ? ns : 1), 1);
  if (!sv || !used) {
    free(sv), free(used);
    printf("cover: MALFORMED: out of memory\n");
    return BAD;
  }
  int i = 0;
  for (const cJSON *s = samples->child; s; s = s->next)
    sv[i++] = s;
  for (const cJSON *cj = covers->child; cj; cj = cj->next, k++) {
    ctx c = {OK, ""};
    cover_ctx v = {&c, k, n, NULL, sv, ns, accepted, used};
    int nleaves = 0, nt = 0;
    int rc = check_cover(&v, cj, &nleaves, &nt);
    if (rc == OK)
      printf("cover %d: ACCEPT root box verified by %d leaves (tree of %d nodes, exact halves)\n", k, nleaves,
             nt);
    else
      printf("cover %d: %s%s\n", k, rc == BAD ? "MALFORMED: " : "", c.msg);
    status = rc > status ? rc : status;
  }
  *ncovers = k;
  free(sv), free(used);
  return status;
}
