/* mutate.c - the structured mutator: one mutation kind (cm_kind, cm.h) applied to a copy of a seed
 * certificate, deterministic in its seed.  Number edits go through mutate_util.c; the targeted kinds
 * know the format (docs/certificates.md): verdicts, labels, regions, properties, clauses,
 * counterexamples, CROWN lines, the embedded graph and its hash, the header, keys, arrays, boxes. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_mutate.h"

static const char *const kind_names[MK_COUNT] = {
    "ulp",   "scale",  "neg",      "zero",   "extreme", "special", "hexedit", "verdict",
    "label", "region", "property", "clause", "cex",     "crown",   "graph",   "rehash",
    "hash",  "header", "keys",     "array",  "boxes",   "multi"};
const char *cm_kind_name(int k) { return k >= 0 && k < MK_COUNT ? kind_names[k] : "?"; }

static cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* o[k] = v when o has k (v deleted otherwise: a replacement that fails does not take ownership) */
static void put(cJSON *o, const char *k, cJSON *v) {
  if (v && (!item(o, k) || !cJSON_ReplaceItemInObjectCaseSensitive(o, k, v)))
    cJSON_Delete(v);
}

/* a[i] = v when a has an element i (else v deleted) */
static void put_at(cJSON *a, int i, cJSON *v) {
  if (v && (i < 0 || i >= cJSON_GetArraySize(a) || !cJSON_ReplaceItemInArray(a, i, v)))
    cJSON_Delete(v);
}

/* a number of subtree t edited by how (no-op when t holds none) */
static void num_in(cm_rng *r, cJSON *t, int how) {
  cJSON *j = mu_pick(r, t, mu_is_num);
  if (j)
    mu_num_edit(r, j, how);
}

/* a random number kind: a number anywhere (samples 3 times out of 4, the graph otherwise) */
static void any_number(cm_rng *r, cJSON *doc, int how) {
  num_in(r, cm_below(r, 4) ? mu_sample(r, doc) : item(doc, "graph"), how);
}

static void verdict(cm_rng *r, cJSON *doc) {
  static const char *const v[] = {"verified", "falsified", "unknown", "Verified", "", "proved"};
  cJSON *s = mu_sample(r, doc), *vj = item(s, "verdict");
  if (!vj)
    return;
  mu_set_str(vj, v[cm_below(r, cm_below(r, 4) ? 3 : 6)]);
  cJSON *rg = item(s, "region");
  if (!strcmp(vj->valuestring, "falsified") && !item(s, "counterexample") && cm_below(r, 2))
    cJSON_AddItemToObject(s, "counterexample",
                          cJSON_Duplicate(item(rg, item(rg, "center") ? "center" : "lo"), 1));
}

static void label(cm_rng *r, cJSON *doc) {
  cJSON *p = item(mu_sample(r, doc), "property");
  if (!p)
    return;
  cJSON *l = item(p, "label");
  int nout = (int)mu_value(item(p, "nout")), k = (int)cm_below(r, 7);
  double v = l ? mu_value(l) : 0;
  if (!l)
    cJSON_AddNumberToObject(p, "label", (double)cm_below(r, (uint64_t)(nout > 0 ? nout : 1)));
  else if (k == 0)
    mu_set_num(l, v + (cm_below(r, 2) ? 1 : -1));
  else if (k == 1) {
    char b[32];
    snprintf(b, sizeof b, "%d", (int)v);
    mu_set_str(l, b);
  } else if (k == 2)
    mu_set_num(l, nout);
  else if (k == 3)
    mu_set_num(l, -1);
  else if (k == 4)
    mu_set_num(l, cm_below(r, 2) ? v + 0.5 : 1e9);
  else if (k == 5)
    cJSON_DeleteItemFromObjectCaseSensitive(p, "label");
  else
    mu_set_num(l, (double)cm_below(r, (uint64_t)(nout > 0 ? nout : 1)));
}

/* the box entry of node id in sample s, or NULL */
static cJSON *box_of(cJSON *s, int id) {
  for (cJSON *b = item(s, "boxes") ? item(s, "boxes")->child : NULL; b; b = b->next)
    if (cJSON_IsNumber(item(b, "node")) && item(b, "node")->valuedouble == id)
      return b;
  return NULL;
}

/* the region grown by f, consistently: eps (or the box about its middle), the verified box lo/hi and
 * the input node's box, each end rounded outward; the rest of the sample is left as it was, so the
 * checker must find that the next boxes no longer hold */
static void region_grow(cm_rng *r, cJSON *doc, cJSON *s) {
  cJSON *rg = item(s, "region"), *lo = item(rg, "lo"), *hi = item(rg, "hi"), *e = item(rg, "eps");
  cJSON *ib = box_of(s, (int)mu_value(item(item(doc, "graph"), "input")));
  cJSON *c = item(rg, "center"), *dom = item(rg, "domain");
  double f = cm_below(r, 2) ? 2 : 1.5, ev = e ? mu_value(e) * f : 0;
  int n = cJSON_GetArraySize(lo);
  if (e)
    mu_set_hex(e, ev);
  for (int i = 0; i < n && cJSON_GetArraySize(hi) == n; i++) {
    double a = mu_value(cJSON_GetArrayItem(lo, i)), b = mu_value(cJSON_GetArrayItem(hi, i)),
           m = a / 2 + b / 2;
    if (c)
      a = mu_value(cJSON_GetArrayItem(c, i)) - ev, b = mu_value(cJSON_GetArrayItem(c, i)) + ev;
    else
      a = m - (m - a) * f, b = m + (b - m) * f;
    if (dom && a < mu_value(cJSON_GetArrayItem(dom, 0)))
      a = mu_value(cJSON_GetArrayItem(dom, 0));
    if (dom && b > mu_value(cJSON_GetArrayItem(dom, 1)))
      b = mu_value(cJSON_GetArrayItem(dom, 1));
    a = nextafter(a, -INFINITY), b = nextafter(b, INFINITY);
    mu_set_hex(cJSON_GetArrayItem(lo, i), a), mu_set_hex(cJSON_GetArrayItem(hi, i), b);
    if (ib && cJSON_GetArrayItem(item(ib, "lo"), i) && cJSON_GetArrayItem(item(ib, "hi"), i))
      mu_set_hex(cJSON_GetArrayItem(item(ib, "lo"), i), a),
          mu_set_hex(cJSON_GetArrayItem(item(ib, "hi"), i), b);
  }
}

static void region(cm_rng *r, cJSON *doc) {
  cJSON *s = mu_sample(r, doc), *rg = item(s, "region");
  static const char *const f[] = {"eps", "center", "domain", "lo", "hi"};
  int k = (int)cm_below(r, 10);
  if (!rg)
    return;
  if (k >= 8) {
    region_grow(r, doc, s);
    return;
  }
  if (k < 5)
    num_in(r, item(rg, f[k]), (int)cm_below(r, MK_HEXEDIT + 1));
  else if (k == 5) { /* kind swapped: an L_inf region read as its verified box, or a box as L_inf */
    cJSON *kj = item(rg, "kind");
    if (cJSON_IsString(kj))
      mu_set_str(kj, strcmp(kj->valuestring, "linf") ? "linf" : "box");
  } else if (k == 6)
    cJSON_DeleteItemFromObjectCaseSensitive(rg, "domain");
  else { /* eps x2 or x4: the tight verified radius made false */
    cJSON *e = item(rg, "eps");
    if (e)
      mu_set_hex(e, mu_value(e) * (cm_below(r, 2) ? 2 : 4));
  }
}

static void property(cm_rng *r, cJSON *doc) {
  cJSON *p = item(mu_sample(r, doc), "property");
  int k = (int)cm_below(r, 6);
  if (!p)
    return;
  cJSON *row = mu_pick(r, item(p, "clauses"), mu_is_object);
  if (k == 0)
    num_in(r, item(row, "c"), (int)cm_below(r, MK_HEXEDIT + 1));
  else if (k == 1)
    num_in(r, item(row, "d"), (int)cm_below(r, MK_HEXEDIT + 1));
  else if (k == 2 && item(row, "strict"))
    put(row, "strict", cJSON_CreateBool(!cJSON_IsTrue(item(row, "strict"))));
  else if (k == 3 && cJSON_IsString(item(p, "dnf")))
    mu_set_str(item(p, "dnf"), strcmp(item(p, "dnf")->valuestring, "safe") ? "safe" : "unsafe");
  else if (k == 4 && item(p, "nout"))
    mu_set_num(item(p, "nout"), mu_value(item(p, "nout")) + (cm_below(r, 2) ? 1 : -1));
  else if (row) { /* a coefficient set to -1, 0 or 1 */
    cJSON *c = mu_pick(r, item(row, "c"), mu_is_num);
    if (c)
      mu_set_hex(c, (double)cm_below(r, 3) - 1);
  }
}

static void clause(cm_rng *r, cJSON *doc) {
  cJSON *cl = item(item(mu_sample(r, doc), "property"), "clauses");
  int n = cJSON_GetArraySize(cl), k = (int)cm_below(r, 7);
  if (!cl)
    return;
  cJSON *c = n ? cJSON_GetArrayItem(cl, (int)cm_below(r, (uint64_t)n)) : NULL;
  int m = cJSON_GetArraySize(c);
  if (k == 0 && n)
    mu_drop(cl, (int)cm_below(r, (uint64_t)n));
  else if (k == 1 && c)
    cJSON_AddItemToArray(cl, cJSON_Duplicate(c, 1));
  else if (k == 2 && m)
    mu_drop(c, (int)cm_below(r, (uint64_t)m));
  else if (k == 3 && m)
    cJSON_AddItemToArray(c, cJSON_Duplicate(cJSON_GetArrayItem(c, (int)cm_below(r, (uint64_t)m)), 1));
  else if (k == 4 && m) { /* a row moved to a clause of its own */
    cJSON *row = cJSON_DetachItemFromArray(c, (int)cm_below(r, (uint64_t)m)), *nc = cJSON_CreateArray();
    cJSON_AddItemToArray(nc, row);
    cJSON_AddItemToArray(cl, nc);
  } else if (k == 5)
    cJSON_AddItemToArray(cl, cJSON_CreateArray());
  else
    while (cJSON_GetArraySize(cl))
      mu_drop(cl, 0);
}

static void cex(cm_rng *r, cJSON *doc) {
  cJSON *s = mu_sample(r, doc), *x = item(s, "counterexample"), *rg = item(s, "region");
  int k = (int)cm_below(r, 7), n = cJSON_GetArraySize(x);
  if (!s)
    return;
  if (!x) { /* added: the centre, the verified box's lower or upper corner */
    const char *src = k < 2 && item(rg, "center") ? "center" : k % 2 ? "lo" : "hi";
    cJSON_AddItemToObject(s, "counterexample", cJSON_Duplicate(item(rg, src), 1));
  } else if (k == 0 && n)
    mu_drop(x, (int)cm_below(r, (uint64_t)n));
  else if (k == 1)
    cJSON_AddItemToArray(x, cJSON_CreateString("0x0p+0"));
  else if (k == 2)
    cJSON_DeleteItemFromObjectCaseSensitive(s, "counterexample");
  else if (k == 4 && item(rg, "center")) /* the centre (the property holds there unless falsified at 0) */
    put(s, "counterexample", cJSON_Duplicate(item(rg, "center"), 1));
  else if (k == 3 && n) { /* an element moved to the verified box's end */
    int i = (int)cm_below(r, (uint64_t)n);
    cJSON *b = cJSON_GetArrayItem(item(rg, cm_below(r, 2) ? "lo" : "hi"), i);
    if (b)
      put_at(x, i, cJSON_Duplicate(b, 1));
  } else
    num_in(r, x, (int)cm_below(r, MK_HEXEDIT + 1));
}

static void crown(cm_rng *r, cJSON *doc) {
  cJSON *cj = item(mu_sample(r, doc), "crown");
  cJSON *acts = item(cj, "activations");
  int n = cJSON_GetArraySize(acts), k = (int)cm_below(r, 8);
  cJSON *a = n ? cJSON_GetArrayItem(acts, (int)cm_below(r, (uint64_t)n)) : NULL;
  static const char *const f[] = {"pre_lo", "pre_hi", "la", "lb", "ua", "ub"};
  if (!cj)
    return;
  if (k < 3 && a)
    num_in(r, item(a, f[cm_below(r, 6)]), (int)cm_below(r, MK_HEXEDIT + 1));
  else if (k == 3 && a) { /* the lower and the upper line swapped */
    cJSON *la = cJSON_Duplicate(item(a, "la"), 1), *lb = cJSON_Duplicate(item(a, "lb"), 1);
    put(a, "la", cJSON_Duplicate(item(a, "ua"), 1));
    put(a, "lb", cJSON_Duplicate(item(a, "ub"), 1));
    put(a, "ua", la);
    put(a, "ub", lb);
  } else if (k == 4 && n)
    mu_drop(acts, (int)cm_below(r, (uint64_t)n));
  else if (k == 5 && a && item(a, "node"))
    mu_set_num(item(a, "node"), mu_value(item(a, "node")) + (cm_below(r, 2) ? 1 : -1));
  else if (k == 6 && item(cj, "intermediate")) {
    static const char *const v[] = {"ibp", "crown", "alpha", "x"};
    mu_set_str(item(cj, "intermediate"), v[cm_below(r, 4)]);
  } else { /* max pool lines: an index or an upper line */
    cJSON *mp = mu_pick(r, item(cj, "maxpools"), mu_is_object);
    cJSON *arg = mp ? mu_pick(r, item(mp, "arg"), cJSON_IsNumber) : NULL;
    cJSON *up = mp ? mu_pick(r, item(mp, "upper"), cJSON_IsString) : NULL;
    if (arg && cm_below(r, 2))
      mu_set_num(arg, arg->valuedouble + (cm_below(r, 2) ? 1 : -1));
    else if (up)
      cm_below(r, 2) ? mu_set_str(up, "exact") : mu_num_edit(r, up, (int)cm_below(r, MK_HEXEDIT + 1));
  }
}

/* an integer attribute (int or int2 array) of node nd changed by +-1 */
static void int_attr(cm_rng *r, cJSON *nd) {
  static const char *const f[] = {"stride", "padding", "dilation", "kernel", "groups", "start", "end"};
  cJSON *a = item(nd, f[cm_below(r, 7)]);
  cJSON *e = cJSON_IsArray(a) ? cJSON_GetArrayItem(a, (int)cm_below(r, 2)) : a;
  if (cJSON_IsNumber(e))
    mu_set_num(e, e->valuedouble + (cm_below(r, 2) ? 1 : -1));
}

static void graph(cm_rng *r, cJSON *doc) {
  cJSON *nodes = item(item(doc, "graph"), "nodes");
  int n = cJSON_GetArraySize(nodes), k = (int)cm_below(r, 9);
  cJSON *nd = n ? cJSON_GetArrayItem(nodes, (int)cm_below(r, (uint64_t)n)) : NULL;
  static const char *const ops[] = {"relu", "leaky_relu", "sigmoid", "tanh",
                                    "neg",  "dropout",    "flatten", "linear"};
  if (!nd)
    return;
  if (k < 2)
    num_in(r, item(nd, "data"), (int)cm_below(r, MK_HEXEDIT + 1));
  else if (k == 2)
    int_attr(r, nd);
  else if (k == 3)
    num_in(r, nd, (int)cm_below(r, MK_HEXEDIT + 1)); /* alpha, eps, lo/hi, momentum or a weight */
  else if (k == 4 && cJSON_IsString(item(nd, "op")))
    mu_set_str(item(nd, "op"), ops[cm_below(r, 8)]);
  else if (k == 5)
    num_in(r, nd, MK_ULP);
  else if (k == 6) {
    cJSON *e = mu_pick(r, item(nd, cm_below(r, 2) ? "parents" : "shape"), cJSON_IsNumber);
    if (e)
      mu_set_num(e, e->valuedouble + (cm_below(r, 2) ? 1 : -1));
  } else if (k == 7 && cJSON_IsString(item(nd, "name")))
    mu_set_str(item(nd, "name"), cm_below(r, 2) ? "renamed" : "");
  else if (cJSON_IsString(item(nd, "param_kind")))
    mu_set_str(item(nd, "param_kind"), cm_below(r, 2) ? "buffer" : "constant");
}

/* a graph edit, and graph_sha256 recomputed by the library when it can read the graph */
static void rehash(cm_rng *r, cJSON *doc) {
  graph(r, doc);
  char hex[65], why[300];
  if (cm_graph_hash_hex(doc, hex, why, sizeof why) == 0 && item(doc, "graph_sha256"))
    mu_set_str(item(doc, "graph_sha256"), hex);
}

static void hash(cm_rng *r, cJSON *doc) {
  cJSON *h = item(doc, "graph_sha256");
  if (!cJSON_IsString(h) || !*h->valuestring)
    return;
  char b[80];
  snprintf(b, sizeof b, "%s", h->valuestring);
  size_t n = strlen(b), i = (size_t)cm_below(r, n);
  int k = (int)cm_below(r, 3);
  if (k == 0)
    b[i] = b[i] == '0' ? '1' : '0';
  else if (k == 1)
    b[i] = (char)(b[i] >= 'a' && b[i] <= 'f' ? b[i] - 32 : b[i]); /* upper case */
  else
    b[n - 1] = 0;
  mu_set_str(h, b);
}

static void header(cm_rng *r, cJSON *doc) {
  int k = (int)cm_below(r, 5);
  cJSON *s = item(doc, "semantics"), *m = item(doc, "method");
  if (k < 2 && cJSON_IsString(s))
    mu_set_str(s, strcmp(s->valuestring, "real") ? "real" : "f32-any");
  else if (k < 4 && cJSON_IsString(m))
    mu_set_str(m, strcmp(m->valuestring, "ibp") ? "ibp" : "crown");
  else if (cm_below(r, 2) && item(doc, "version"))
    mu_set_num(item(doc, "version"), 2);
  else if (item(doc, "format"))
    mu_set_str(item(doc, "format"), "torchlean.cert.v2");
}

/* a key dropped, or a key duplicated (the same value or another one) */
static void keys(cm_rng *r, cJSON *doc) {
  cJSON *o = cm_below(r, 3) ? mu_pick(r, mu_sample(r, doc), mu_is_object) : mu_pick(r, doc, mu_is_object);
  int n = cJSON_GetArraySize(o);
  if (!n)
    return;
  cJSON *c = cJSON_GetArrayItem(o, (int)cm_below(r, (uint64_t)n));
  if (cm_below(r, 2))
    cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
  else {
    cJSON *d = cJSON_Duplicate(c, 1);
    if (cm_below(r, 2))
      num_in(r, d, MK_SCALE);
    cJSON_AddItemToObject(o, c->string, d);
  }
}

/* an array element dropped, duplicated or two swapped; or a value's type changed */
static void array(cm_rng *r, cJSON *doc) {
  cJSON *root = cm_below(r, 4) ? mu_sample(r, doc) : doc;
  int k = (int)cm_below(r, 4);
  if (k == 3) {
    cJSON *l = mu_pick(r, root, mu_is_leaf);
    if (l && cJSON_IsString(l))
      mu_set_num(l, mu_value(l));
    else if (l && cJSON_IsNumber(l))
      mu_set_hex(l, l->valuedouble);
    return;
  }
  cJSON *a = mu_pick(r, root, mu_is_array);
  int n = cJSON_GetArraySize(a);
  if (!n)
    return;
  int i = (int)cm_below(r, (uint64_t)n), j = (int)cm_below(r, (uint64_t)n);
  if (k == 0)
    mu_drop(a, i);
  else if (k == 1) {
    cJSON *d = cJSON_Duplicate(cJSON_GetArrayItem(a, i), 1);
    if (d && !cJSON_InsertItemInArray(a, i, d))
      cJSON_Delete(d);
  } else if (i != j) {
    cJSON *x = cJSON_Duplicate(cJSON_GetArrayItem(a, i), 1),
          *y = cJSON_Duplicate(cJSON_GetArrayItem(a, j), 1);
    put_at(a, i, y);
    put_at(a, j, x);
  }
}

static void boxes(cm_rng *r, cJSON *doc) {
  cJSON *s = mu_sample(r, doc), *bx = item(s, "boxes");
  int n = cJSON_GetArraySize(bx), k = (int)cm_below(r, 7);
  cJSON *b = n ? cJSON_GetArrayItem(bx, (int)cm_below(r, (uint64_t)n)) : NULL;
  if (!b)
    return;
  if (k == 0)
    mu_drop(bx, (int)cm_below(r, (uint64_t)n));
  else if (k == 1)
    cJSON_AddItemToArray(bx, cJSON_Duplicate(b, 1));
  else if (k == 2) { /* lo and hi swapped */
    cJSON *lo = cJSON_Duplicate(item(b, "lo"), 1);
    put(b, "lo", cJSON_Duplicate(item(b, "hi"), 1));
    put(b, "hi", lo);
  } else if (k == 3 && item(b, "node"))
    mu_set_num(item(b, "node"), mu_value(item(b, "node")) + (cm_below(r, 2) ? 1 : -1));
  else if (k == 4)
    num_in(r, b, (int)cm_below(r, MK_HEXEDIT + 1));
  else
    num_in(r, item(s, "row_lower"), (int)cm_below(r, MK_HEXEDIT + 1));
}

static void apply(cm_rng *r, cJSON *doc, int k) {
  switch (k) {
  case MK_VERDICT: verdict(r, doc); break;
  case MK_LABEL: label(r, doc); break;
  case MK_REGION: region(r, doc); break;
  case MK_PROPERTY: property(r, doc); break;
  case MK_CLAUSE: clause(r, doc); break;
  case MK_CEX: cex(r, doc); break;
  case MK_CROWN: crown(r, doc); break;
  case MK_GRAPH: graph(r, doc); break;
  case MK_REHASH: rehash(r, doc); break;
  case MK_HASH: hash(r, doc); break;
  case MK_HEADER: header(r, doc); break;
  case MK_KEYS: keys(r, doc); break;
  case MK_ARRAY: array(r, doc); break;
  case MK_BOXES: boxes(r, doc); break;
  case MK_MULTI:
    for (int i = 0, m = 2 + (int)cm_below(r, 3); i < m; i++)
      apply(r, doc, (int)cm_below(r, MK_MULTI));
    break;
  default: any_number(r, doc, k);
  }
}

char *cm_mutate(const cJSON *doc, const char *orig, uint64_t seed, int want, int *kind) {
  cm_rng r = {seed * 0x2545f4914f6cdd1dULL + 1};
  int k = want >= 0 ? want : (int)cm_below(&r, MK_COUNT);
  *kind = k;
  char *txt = NULL;
  for (int t = 0; t < 8; t++) { /* a mutation that changed nothing is tried again (other choices) */
    cJSON *d = cJSON_Duplicate(doc, 1);
    if (!d)
      return NULL;
    apply(&r, d, k);
    free(txt);
    txt = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    if (!txt || !orig || strcmp(txt, orig))
      break;
  }
  return txt;
}
