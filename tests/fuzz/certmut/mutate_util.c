/* mutate_util.c - the mutator's tools: random numbers, finding nodes of a cJSON tree, and edits of
 * one number string (ulp steps, scaling, sign, zero, extremes, special strings, hex-digit edits). */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_mutate.h"

uint64_t cm_next(cm_rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t cm_below(cm_rng *r, uint64_t n) { return n ? cm_next(r) % n : 0; }
double cm_unif(cm_rng *r) { return (double)(cm_next(r) >> 11) * 0x1p-53; }

int mu_is_num(const cJSON *j) {
  if (!cJSON_IsString(j))
    return 0;
  const char *s = j->valuestring;
  return !strcmp(s, "inf") || !strcmp(s, "-inf") || strstr(s, "0x") == s || strstr(s, "-0x") == s ||
         (strchr(s, '/') && s[0] != '/');
}
int mu_is_array(const cJSON *j) { return cJSON_IsArray(j); }
int mu_is_object(const cJSON *j) { return cJSON_IsObject(j); }
int mu_is_container(const cJSON *j) { return (cJSON_IsArray(j) || cJSON_IsObject(j)) && j->child; }
int mu_is_leaf(const cJSON *j) { return !cJSON_IsArray(j) && !cJSON_IsObject(j); }

typedef struct nvec {
  cJSON **v;
  int n, cap;
} nvec;

static void push(nvec *v, cJSON *j) {
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 64;
    v->v = realloc(v->v, (size_t)v->cap * sizeof *v->v);
  }
  v->v[v->n++] = j;
}

/* the nodes of j and its following siblings (with their subtrees) that satisfy pred */
static void collect(cJSON *j, int (*pred)(const cJSON *), nvec *v) {
  for (; j; j = j->next) {
    if (pred(j))
      push(v, j);
    if (j->child)
      collect(j->child, pred, v);
  }
}

cJSON *mu_pick(cm_rng *r, cJSON *root, int (*pred)(const cJSON *)) {
  nvec v = {0};
  if (root && pred(root))
    push(&v, root);
  if (root)
    collect(root->child, pred, &v);
  cJSON *out = v.n ? v.v[cm_below(r, (uint64_t)v.n)] : NULL;
  free(v.v);
  return out;
}

void mu_set_str(cJSON *j, const char *s) {
  if (j->type & cJSON_IsReference)
    return;
  if (!mu_is_leaf(j)) {
    cJSON_Delete(j->child);
    j->child = NULL;
  }
  free(j->valuestring);
  j->valuestring = strdup(s);
  j->type = cJSON_String;
}

void mu_set_num(cJSON *j, double v) {
  if (!mu_is_leaf(j)) {
    cJSON_Delete(j->child);
    j->child = NULL;
  }
  free(j->valuestring);
  j->valuestring = NULL;
  j->type = cJSON_Number;
  cJSON_SetNumberValue(j, v);
}

void mu_set_hex(cJSON *j, double v) {
  char b[64];
  if (isinf(v))
    snprintf(b, sizeof b, "%s", v > 0 ? "inf" : "-inf");
  else
    snprintf(b, sizeof b, "%a", v);
  mu_set_str(j, b);
}

double mu_value(const cJSON *j) {
  if (cJSON_IsNumber(j))
    return j->valuedouble;
  if (!cJSON_IsString(j))
    return 0;
  const char *s = j->valuestring, *sl = strchr(s, '/');
  if (sl)
    return strtod(s, NULL) / strtod(sl + 1, NULL);
  return strtod(s, NULL);
}

/* one hex digit, the exponent, or a character of the string edited */
static void hex_edit(cm_rng *r, cJSON *j) {
  char b[128];
  snprintf(b, sizeof b, "%s", j->valuestring);
  size_t n = strlen(b);
  char *p = strchr(b, 'p');
  int how = (int)cm_below(r, 4);
  if (how == 0 && p) { /* exponent +- 1..3 */
    long e = strtol(p + 1, NULL, 10) + (cm_below(r, 2) ? 1 : -1) * (long)(1 + cm_below(r, 3));
    snprintf(p + 1, sizeof b - (size_t)(p + 1 - b), "%+ld", e);
  } else if (how == 1 && n > 0) { /* a digit before the exponent */
    size_t lim = p ? (size_t)(p - b) : n, i = (size_t)cm_below(r, lim ? lim : 1);
    b[i] = "0123456789abcdef"[cm_below(r, 16)];
  } else if (how == 2 && n > 0) /* a character dropped */
    memmove(b + cm_below(r, n), b + cm_below(r, n) + 0, 0), b[n - 1 - cm_below(r, n)] = 0;
  else if (n + 2 < sizeof b) { /* a digit inserted */
    size_t i = (size_t)cm_below(r, n + 1);
    memmove(b + i + 1, b + i, n - i + 1);
    b[i] = "0123456789abcdef"[cm_below(r, 16)];
  }
  mu_set_str(j, b);
}

/* a special or malformed value in place of a number */
static void special(cm_rng *r, cJSON *j) {
  static const char *const s[] = {"nan",
                                  "-nan",
                                  "inf",
                                  "-inf",
                                  "1/0",
                                  "0/0",
                                  "1/3",
                                  "-2/6",
                                  "",
                                  "0.1",
                                  "0x",
                                  "0x1p",
                                  "0x1.8p+",
                                  "1e5",
                                  "0x1p+99999",
                                  "+0x1p+0",
                                  " 0x1p+0",
                                  "0X1P+0",
                                  "0x1p+0 ",
                                  "3/-4",
                                  "0x1.fffffffffffffffffffp+0",
                                  "0x0.0000001p-1022",
                                  "-0x0p+0",
                                  "1/1"};
  int k = (int)cm_below(r, sizeof s / sizeof *s + 3);
  if (k < (int)(sizeof s / sizeof *s))
    mu_set_str(j, s[k]);
  else if (k == (int)(sizeof s / sizeof *s))
    mu_set_num(j, mu_value(j));
  else {
    free(j->valuestring);
    j->valuestring = NULL;
    j->type = k % 2 ? cJSON_NULL : cJSON_True;
  }
}

void mu_num_edit(cm_rng *r, cJSON *j, int how) {
  static const double ext[] = {0x1p+1000, -0x1p+1000, 0x1p-1074,  0x1p-149, FLT_MAX, -FLT_MAX,
                               DBL_MAX,   0x1p+128,   -0x1p-1074, 0x1p-126, 65504.0, 1e-30};
  double v = mu_value(j);
  int f32 = (double)(float)v == v && cm_below(r, 2);
  switch (how) {
  case MK_ULP:
    if (f32)
      mu_set_hex(j, nextafterf((float)v, cm_below(r, 2) ? INFINITY : -INFINITY));
    else
      mu_set_hex(j, nextafter(v, cm_below(r, 2) ? INFINITY : -INFINITY));
    break;
  case MK_SCALE: mu_set_hex(j, cm_below(r, 3) ? v * 2 : v / 2); break;
  case MK_NEG: mu_set_hex(j, -v); break;
  case MK_ZERO: mu_set_hex(j, cm_below(r, 4) ? 0.0 : -0.0); break;
  case MK_EXTREME: mu_set_hex(j, ext[cm_below(r, sizeof ext / sizeof *ext)]); break;
  case MK_SPECIAL: special(r, j); break;
  default:
    if (cJSON_IsString(j))
      hex_edit(r, j);
  }
}

cJSON *mu_sample(cm_rng *r, cJSON *doc) {
  cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "samples");
  int n = cJSON_GetArraySize(s);
  return n ? cJSON_GetArrayItem(s, (int)cm_below(r, (uint64_t)n)) : NULL;
}

/* the array's k-th element detached and deleted */
void mu_drop(cJSON *arr, int k) { cJSON_DeleteItemFromArray(arr, k); }
