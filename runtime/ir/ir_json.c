/* ir/ir_json.c - the `torchlean.ir.v1` exchange format: writer and strict reader.
 *
 * Attributes are written and read through the op registry's schema (tl_attr_field), never by a
 * per-op switch.  Ints are JSON numbers (|x| <= 2^53); float attributes are JSON numbers printed
 * with the fewest digits that read back to the same double (non-finite ones as the strings "inf",
 * "-inf"); weights are C99 hex-float strings of the float32 value ("0x1.99999ap-4", exact), NaNs
 * as "nan:0x7fc00000" (the 32 bits, so payloads survive). */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/model_internal.h"
#include "torchlean/model_file.h"
#include "torchlean/tensor.h"

/* ---- string builder ------------------------------------------------------------------------ */
void tl_sb_put(tl_sb *b, const char *s, size_t len) {
  if (b->oom)
    return;
  if (b->n + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + len + 1) {
      if (cap > SIZE_MAX / 2) {
        b->oom = 1;
        return;
      }
      cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = '\0';
}

void tl_sb_puts(tl_sb *b, const char *s) { tl_sb_put(b, s, strlen(s)); }

void tl_sb_printf(tl_sb *b, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  if ((size_t)n < sizeof buf) {
    tl_sb_put(b, buf, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  tl_sb_put(b, big, (size_t)n);
  free(big);
}

void tl_sb_json_str(tl_sb *b, const char *s) {
  tl_sb_put(b, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      char e[2] = {'\\', (char)*c};
      tl_sb_put(b, e, 2);
    } else if (*c < 0x20) {
      tl_sb_printf(b, "\\u%04x", *c);
    } else {
      tl_sb_put(b, (const char *)c, 1);
    }
  }
  tl_sb_put(b, "\"", 1);
}

/* ---- JSON helpers ---------------------------------------------------------------------------- */
tl_code tl_json_parse(const char *json, size_t len, cJSON **out, tl_status *st) {
  *out = NULL;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  size_t off =
      root ? (size_t)(end - json) : (end && end >= json && end <= json + len ? (size_t)(end - json) : 0);
  if (root) {
    while (off < len && (json[off] == ' ' || json[off] == '\t' || json[off] == '\n' || json[off] == '\r'))
      off++;
    if (off == len) {
      *out = root;
      return TL_OK;
    }
    cJSON_Delete(root);
  }
  size_t line = 1, col = 1;
  for (size_t i = 0; i < off; i++) {
    if (json[i] == '\n')
      line++, col = 1;
    else
      col++;
  }
  return tl_fail(st, TL_EFORMAT, "line %zu, column %zu (byte %zu): %s", line, col, off,
                 root ? "unexpected text after the JSON document" : "invalid JSON");
}

tl_code tl_json_check_keys(const cJSON *obj, const char *const *allowed, const char *where, tl_status *st) {
  for (const cJSON *c = obj->child; c; c = c->next) {
    const char *k = c->string ? c->string : "";
    int ok = 0;
    for (const char *const *a = allowed; *a && !ok; a++)
      ok = strcmp(*a, k) == 0;
    if (!ok)
      return tl_fail(st, TL_EFORMAT, "%s: unknown field \"%s\"", where, k);
    for (const cJSON *d = obj->child; d != c; d = d->next)
      if (strcmp(d->string ? d->string : "", k) == 0)
        return tl_fail(st, TL_EFORMAT, "%s: field \"%s\" appears twice", where, k);
  }
  return TL_OK;
}

tl_code tl_json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out, const char *where,
                    const char *field, tl_status *st) {
  const double lim = 9007199254740992.0; /* 2^53 */
  if (!v)
    return tl_fail(st, TL_EFORMAT, "%s: missing field \"%s\"", where, field);
  if (!cJSON_IsNumber(v))
    return tl_fail(st, TL_EFORMAT, "%s: \"%s\" must be an integer", where, field);
  double d = v->valuedouble;
  if (!(d >= -lim && d <= lim) || d != floor(d))
    return tl_fail(st, TL_EFORMAT, "%s: \"%s\" must be an integer, got %.17g", where, field, d);
  int64_t x = (int64_t)d;
  if (x < lo || x > hi)
    return tl_fail(st, TL_EFORMAT, "%s: \"%s\" = %lld out of range [%lld, %lld]", where, field, (long long)x,
                   (long long)lo, (long long)hi);
  *out = x;
  return TL_OK;
}

/* An array of integers into a malloc'ed list (*n entries; *list NULL when empty). */
static tl_code json_int_list(const cJSON *v, int64_t lo, int64_t hi, int64_t **list, int *n,
                             const char *where, const char *field, tl_status *st) {
  *list = NULL;
  *n = 0;
  if (!v)
    return tl_fail(st, TL_EFORMAT, "%s: missing field \"%s\"", where, field);
  if (!cJSON_IsArray(v))
    return tl_fail(st, TL_EFORMAT, "%s: \"%s\" must be an array of integers", where, field);
  int count = cJSON_GetArraySize(v);
  if (count == 0)
    return TL_OK;
  int64_t *l = malloc((size_t)count * sizeof *l);
  if (!l)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", where);
  int i = 0;
  char f[96];
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    snprintf(f, sizeof f, "%s[%d]", field, i);
    tl_code rc = tl_json_int(c, lo, hi, &l[i], where, f, st);
    if (rc != TL_OK) {
      free(l);
      return rc;
    }
  }
  *list = l;
  *n = count;
  return TL_OK;
}

/* ---- floats ---------------------------------------------------------------------------------- */
static void put_double(tl_sb *b, double x) {
  if (isnan(x)) {
    tl_sb_puts(b, "\"nan\"");
    return;
  }
  if (isinf(x)) {
    tl_sb_puts(b, x > 0 ? "\"inf\"" : "\"-inf\"");
    return;
  }
  char buf[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (strtod(buf, NULL) == x || prec == 17)
      break;
  }
  if (x == 0 && signbit(x))
    snprintf(buf, sizeof buf, "-0.0");
  tl_sb_puts(b, buf);
}

static tl_code json_double(const cJSON *v, double *out, const char *where, const char *field, tl_status *st) {
  if (!v)
    return tl_fail(st, TL_EFORMAT, "%s: missing field \"%s\"", where, field);
  if (cJSON_IsNumber(v)) {
    *out = v->valuedouble;
    return TL_OK;
  }
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    char *end;
    double d = strtod(s, &end);
    if (*s && !isspace((unsigned char)*s) && *end == '\0') {
      *out = d;
      return TL_OK;
    }
  }
  return tl_fail(st, TL_EFORMAT, "%s: \"%s\" must be a number (or \"inf\", \"-inf\", a hex-float string)",
                 where, field);
}

static void put_f32(tl_sb *b, float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  if (isnan(f))
    tl_sb_printf(b, "\"nan:0x%08lx\"", (unsigned long)bits);
  else
    tl_sb_printf(b, "\"%a\"", (double)f);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* One weight string: a hex-float (or decimal) that is exactly a float32, "inf", "-inf", or
 * "nan:0xXXXXXXXX" with the 32 bits of a NaN. */
static int parse_f32(const char *s, float *out) {
  if (strncmp(s, "nan:0x", 6) == 0) {
    uint32_t bits = 0;
    int k = 0;
    for (; k < 8; k++) {
      int h = hexval(s[6 + k]);
      if (h < 0)
        return 0;
      bits = bits << 4 | (uint32_t)h;
    }
    if (s[14] != '\0' || (bits & 0x7f800000u) != 0x7f800000u || (bits & 0x007fffffu) == 0)
      return 0;
    memcpy(out, &bits, sizeof bits);
    return 1;
  }
  if (!*s || isspace((unsigned char)*s))
    return 0;
  char *end;
  double d = strtod(s, &end);
  if (*end != '\0' || isnan(d))
    return 0;
  float f = (float)d;
  if ((double)f != d)
    return 0; /* not exactly a float32 */
  *out = f;
  return 1;
}

/* ---- writer ---------------------------------------------------------------------------------- */
static const char *const pkind_names[] = {"trainable", "buffer", "constant"};

tl_code tl_ir_json_write(const tl_graph *g, int with_weights, char **out_json, tl_status *st) {
  *out_json = NULL;
  tl_sb b = {0};
  tl_sb_printf(&b, "{\n  \"format\": \"%s\",\n  \"input_id\": %d,\n  \"output_id\": %d,\n  \"inputs\": [",
               TL_IR_FORMAT, g->ninputs ? g->inputs[0] : -1, g->noutputs ? g->outputs[0] : -1);
  for (int i = 0; i < g->ninputs; i++)
    tl_sb_printf(&b, i ? ", %d" : "%d", g->inputs[i]);
  tl_sb_puts(&b, "],\n  \"outputs\": [");
  for (int i = 0; i < g->noutputs; i++)
    tl_sb_printf(&b, i ? ", %d" : "%d", g->outputs[i]);
  tl_sb_puts(&b, "],\n  \"nodes\": [");
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    const tl_op_info *info = tl_op_get(n->op);
    tl_sb_printf(&b, "%s\n    {\"id\": %d, \"kind\": \"%s\", \"parents\": [", i ? "," : "", i, info->name);
    for (int k = 0; k < n->nparents; k++)
      tl_sb_printf(&b, k ? ", %d" : "%d", n->parents[k]);
    tl_sb_puts(&b, "], \"shape\": [");
    for (int k = 0; k < n->ndim; k++)
      tl_sb_printf(&b, k ? ", %lld" : "%lld", (long long)n->shape[k]);
    tl_sb_puts(&b, "]");
    if (n->name) {
      tl_sb_puts(&b, ", \"name\": ");
      tl_sb_json_str(&b, n->name);
    }
    tl_attrs a = n->attrs;
    for (const tl_attr_field *f = info->attrs; f->name; f++) {
      tl_sb_printf(&b, ", \"%s\": ", f->name);
      switch (f->type) {
      case TL_ATTR_INT: tl_sb_printf(&b, "%lld", (long long)*tl_attr_int_ptr(&a, f)); break;
      case TL_ATTR_INT2:
        tl_sb_printf(&b, "[%lld, %lld]", (long long)tl_attr_int_ptr(&a, f)[0],
                     (long long)tl_attr_int_ptr(&a, f)[1]);
        break;
      case TL_ATTR_FLOAT: put_double(&b, *tl_attr_float_ptr(&a, f)); break;
      case TL_ATTR_LIST:
        tl_sb_puts(&b, "[");
        for (int k = 0; k < a.nlist; k++)
          tl_sb_printf(&b, k ? ", %lld" : "%lld", (long long)a.list[k]);
        tl_sb_puts(&b, "]");
        break;
      }
    }
    if (n->op == TL_OP_PARAM) {
      tl_sb_printf(&b, ", \"param_kind\": \"%s\", \"numel\": %lld", pkind_names[n->pkind],
                   (long long)n->numel);
      if (with_weights) {
        tl_sb_puts(&b, ", \"weights\": [");
        const float *w = g->weights + n->woff;
        for (int64_t k = 0; k < n->numel; k++) {
          if (k)
            tl_sb_puts(&b, ", ");
          put_f32(&b, w[k]);
        }
        tl_sb_puts(&b, "]");
      }
    }
    tl_sb_puts(&b, "}");
  }
  tl_sb_puts(&b, "\n  ]\n}\n");
  if (b.oom) {
    free(b.p);
    return tl_fail(st, TL_ENOMEM, "IR JSON: out of memory");
  }
  *out_json = b.p;
  return TL_OK;
}

/* ---- reader ---------------------------------------------------------------------------------- */
#define MAX_KEYS 32

static tl_code read_attrs(const cJSON *obj, const tl_op_info *info, tl_attrs *a, const char *where,
                          tl_status *st) {
  for (const tl_attr_field *f = info->attrs; f->name; f++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);
    if (!v)
      return tl_fail(st, TL_EFORMAT, "%s: missing attribute \"%s\"", where, f->name);
    switch (f->type) {
    case TL_ATTR_INT:
      TL_TRY(tl_json_int(v, INT64_MIN, INT64_MAX, tl_attr_int_ptr(a, f), where, f->name, st));
      break;
    case TL_ATTR_INT2: {
      if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        return tl_fail(st, TL_EFORMAT, "%s: \"%s\" must be an array of 2 integers", where, f->name);
      char fn[96];
      snprintf(fn, sizeof fn, "%s[0]", f->name);
      TL_TRY(tl_json_int(v->child, INT64_MIN, INT64_MAX, &tl_attr_int_ptr(a, f)[0], where, fn, st));
      snprintf(fn, sizeof fn, "%s[1]", f->name);
      TL_TRY(tl_json_int(v->child->next, INT64_MIN, INT64_MAX, &tl_attr_int_ptr(a, f)[1], where, fn, st));
      break;
    }
    case TL_ATTR_FLOAT: TL_TRY(json_double(v, tl_attr_float_ptr(a, f), where, f->name, st)); break;
    case TL_ATTR_LIST:
      free(a->list);
      a->list = NULL;
      TL_TRY(json_int_list(v, INT64_MIN, INT64_MAX, &a->list, &a->nlist, where, f->name, st));
      break;
    }
  }
  return TL_OK;
}

static tl_code read_weights(const cJSON *v, int64_t numel, float **out, const char *where, tl_status *st) {
  *out = NULL;
  if (!cJSON_IsArray(v))
    return tl_fail(st, TL_EFORMAT, "%s: \"weights\" must be an array of hex-float strings", where);
  int count = cJSON_GetArraySize(v);
  if ((int64_t)count != numel)
    return tl_fail(st, TL_EFORMAT, "%s: %d weights for %lld elements", where, count, (long long)numel);
  float *w = malloc((size_t)(count ? count : 1) * sizeof *w);
  if (!w)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", where);
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    if (!cJSON_IsString(c) || !parse_f32(c->valuestring, &w[i])) {
      free(w);
      return tl_fail(
          st, TL_EFORMAT,
          "%s: weights[%d] is not a float32 (want a hex-float string like \"0x1.8p+1\", \"inf\" or "
          "\"nan:0x7fc00000\")",
          where, i);
    }
  }
  *out = w;
  return TL_OK;
}

static int pkind_from_name(const char *s) {
  for (int i = 0; i < 3; i++)
    if (strcmp(s, pkind_names[i]) == 0)
      return i;
  return -1;
}

/* Read node i (JSON object c) and append it to g.  *weights_mode: -1 unknown yet, 0 none, 1 all. */
/* The node's id (must be i) and kind: *op, and `where` ("node 3 (linear)") for later messages. */
static tl_code read_node_kind(const cJSON *c, int i, int *op, char *where, size_t cap, tl_status *st) {
  snprintf(where, cap, "nodes[%d]", i);
  if (!cJSON_IsObject(c))
    return tl_fail(st, TL_EFORMAT, "%s: must be an object", where);
  int64_t id;
  TL_TRY(tl_json_int(cJSON_GetObjectItemCaseSensitive(c, "id"), INT32_MIN, INT32_MAX, &id, where, "id", st));
  if (id < i)
    return tl_fail(st, TL_EFORMAT, "%s: duplicate id %lld (ids must be 0, 1, 2, ... in order)", where,
                   (long long)id);
  if (id != i)
    return tl_fail(st, TL_EFORMAT,
                   "%s: id %lld out of order, expected %d (ids must be 0, 1, 2, ... in order)", where,
                   (long long)id, i);
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(c, "kind");
  snprintf(where, cap, "node %d", i);
  if (!kind)
    return tl_fail(st, TL_EFORMAT, "%s: missing field \"kind\"", where);
  if (!cJSON_IsString(kind))
    return tl_fail(st, TL_EFORMAT, "%s: \"kind\" must be a string", where);
  *op = tl_op_from_name(kind->valuestring);
  if (*op < 0)
    return tl_fail(st, TL_EFORMAT, "%s: unknown kind \"%.64s\"", where, kind->valuestring);
  snprintf(where, cap, "node %d (%s)", i, tl_op_get((tl_op)*op)->name);
  return TL_OK;
}

/* Only the keys this op may carry; the optional "name" (non-empty string) into *name (borrowed). */
static tl_code read_node_keys(const cJSON *c, const tl_op_info *info, int op, const char **name,
                              const char *where, tl_status *st) {
  const char *allowed[MAX_KEYS];
  int nk = 0;
  allowed[nk++] = "id", allowed[nk++] = "kind", allowed[nk++] = "parents", allowed[nk++] = "shape";
  allowed[nk++] = "name";
  for (const tl_attr_field *f = info->attrs; f->name && nk < MAX_KEYS - 4; f++)
    allowed[nk++] = f->name;
  if (op == TL_OP_PARAM)
    allowed[nk++] = "param_kind", allowed[nk++] = "numel", allowed[nk++] = "weights";
  allowed[nk] = NULL;
  TL_TRY(tl_json_check_keys(c, allowed, where, st));

  const cJSON *jname = cJSON_GetObjectItemCaseSensitive(c, "name");
  *name = NULL;
  if (jname) {
    if (!cJSON_IsString(jname))
      return tl_fail(st, TL_EFORMAT, "%s: \"name\" must be a string", where);
    *name = jname->valuestring;
    if (!**name)
      return tl_fail(st, TL_EFORMAT, "%s: \"name\" is empty", where);
  }
  return TL_OK;
}

/* A PARAM node: numel, param_kind, the weight budget and "weights" (all or none), then the node.
 * *w: the weights read (caller frees). */
static tl_code read_param_node(tl_graph *g, const cJSON *c, const char *name, int ndim, const int64_t *shape,
                               int *weights_mode, int64_t *budget, float **w, int *nid, const char *where,
                               tl_status *st) {
  int64_t numel = 0, claimed = 0;
  const cJSON *pk = cJSON_GetObjectItemCaseSensitive(c, "param_kind");
  const cJSON *jw = cJSON_GetObjectItemCaseSensitive(c, "weights");
  int kind_id = -1;
  tl_code rc = tl_shape_numel(ndim, shape, sizeof(float), &numel, where, st);
  if (rc == TL_OK)
    rc =
        tl_json_int(cJSON_GetObjectItemCaseSensitive(c, "numel"), 0, INT64_MAX, &claimed, where, "numel", st);
  if (rc == TL_OK && claimed != numel)
    rc = tl_fail(st, TL_EFORMAT, "%s: \"numel\" %lld does not match its shape (%lld elements)", where,
                 (long long)claimed, (long long)numel);
  if (rc == TL_OK && !pk)
    rc = tl_fail(st, TL_EFORMAT, "%s: missing field \"param_kind\"", where);
  if (rc == TL_OK && (!cJSON_IsString(pk) || (kind_id = pkind_from_name(pk->valuestring)) < 0))
    rc = tl_fail(st, TL_EFORMAT, "%s: \"param_kind\" must be \"trainable\", \"buffer\" or \"constant\"",
                 where);
  if (rc == TL_OK && *budget >= 0) {
    if (numel > *budget)
      rc = tl_fail(st, TL_EFORMAT, "%s: %lld elements exceed the %lld weights the data can hold", where,
                   (long long)numel, (long long)*budget);
    else
      *budget -= numel;
  }
  if (rc == TL_OK && *weights_mode >= 0 && *weights_mode != (jw != NULL))
    rc = tl_fail(st, TL_EFORMAT, "%s: %s \"weights\" (either every param node carries them or none)", where,
                 jw ? "has" : "lacks");
  if (rc == TL_OK) {
    *weights_mode = jw != NULL;
    if (jw)
      rc = read_weights(jw, numel, w, where, st);
  }
  if (rc == TL_OK)
    rc = tl_graph_param(g, name, (tl_param_kind)kind_id, ndim, shape, *w, nid, st);
  return rc;
}

/* An op node: attributes, the node (shape inferred and compared with the recorded one), its name.
 * a: the attributes read (caller frees a->list). */
static tl_code read_op_node(tl_graph *g, const cJSON *c, const tl_op_info *info, int op, int np,
                            const int *parents, const char *name, int ndim, const int64_t *shape, tl_attrs *a,
                            int *nid, const char *where, tl_status *st) {
  tl_code rc = read_attrs(c, info, a, where, st);
  if (rc == TL_OK)
    rc = tl_graph_op(g, (tl_op)op, np, parents, a, nid, st);
  if (rc == TL_OK && !tl_shape_equal(ndim, shape, g->nodes[*nid].ndim, g->nodes[*nid].shape)) {
    char s1[128], s2[128];
    rc = tl_fail(st, TL_EFORMAT, "%s: recorded shape %s, but its parents give %s", where,
                 tl_shape_str(ndim, shape, s1, sizeof s1),
                 tl_shape_str(g->nodes[*nid].ndim, g->nodes[*nid].shape, s2, sizeof s2));
  }
  if (rc == TL_OK && name) {
    rc = tl_graph_set_name(g, *nid, name, st);
    if (rc != TL_OK)
      tl_status_prefix(st, "%s: ", where);
  }
  return rc;
}

/* parents[k] (malloc'ed, NULL when np == 0) from the list read, each an earlier node */
static tl_code read_node_parents(const int64_t *parents64, int np, int i, int **parents, const char *where,
                                 tl_status *st) {
  if (!np)
    return TL_OK;
  *parents = malloc((size_t)np * sizeof **parents);
  if (!*parents)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", where);
  for (int k = 0; k < np; k++) {
    (*parents)[k] = (int)parents64[k];
    if ((*parents)[k] < 0 || (*parents)[k] >= i)
      return tl_fail(st, TL_EFORMAT, "%s: parent %d is node %d (parents must come earlier)", where, k,
                     (*parents)[k]);
  }
  return TL_OK;
}

static tl_code read_node(tl_graph *g, const cJSON *c, int i, int *weights_mode, int64_t *budget,
                         tl_status *st) {
  char where[160];
  int op = -1;
  TL_TRY(read_node_kind(c, i, &op, where, sizeof where, st));
  const tl_op_info *info = tl_op_get((tl_op)op);
  const char *name;
  TL_TRY(read_node_keys(c, info, op, &name, where, st));
  int64_t *shape = NULL, *parents64 = NULL;
  int ndim = 0, np = 0;
  tl_code rc = json_int_list(cJSON_GetObjectItemCaseSensitive(c, "shape"), 0, INT64_MAX, &shape, &ndim, where,
                             "shape", st);
  if (rc == TL_OK)
    rc = json_int_list(cJSON_GetObjectItemCaseSensitive(c, "parents"), INT32_MIN, INT32_MAX, &parents64, &np,
                       where, "parents", st);
  int *parents = NULL;
  float *w = NULL;
  tl_attrs a = tl_attrs_default((tl_op)op);
  int nid = -1;
  if (rc == TL_OK)
    rc = read_node_parents(parents64, np, i, &parents, where, st);
  if (rc == TL_OK && (op == TL_OP_INPUT || op == TL_OP_PARAM)) {
    if (np)
      rc = tl_fail(st, TL_EFORMAT, "%s: must have no parents", where);
    else if (!name)
      rc = tl_fail(st, TL_EFORMAT, "%s: missing field \"name\"", where);
  }
  if (rc == TL_OK && op == TL_OP_INPUT)
    rc = tl_graph_input(g, name, ndim, shape, &nid, st);
  else if (rc == TL_OK && op == TL_OP_PARAM)
    rc = read_param_node(g, c, name, ndim, shape, weights_mode, budget, &w, &nid, where, st);
  else if (rc == TL_OK)
    rc = read_op_node(g, c, info, op, np, parents, name, ndim, shape, &a, &nid, where, st);
  if (rc == TL_OK && nid != i)
    rc = tl_fail(st, TL_EFORMAT, "%s: internal numbering mismatch", where);
  if (rc != TL_OK && st && strncmp(st->msg, where, strlen(where)) != 0 && strncmp(st->msg, "node ", 5) != 0)
    tl_status_prefix(st, "%s: ", where);
  free(a.list);
  free(shape);
  free(parents64);
  free(parents);
  free(w);
  return rc;
}

static tl_code read_doc(const cJSON *root, int64_t max_weights, tl_graph **out, tl_status *st) {
  if (!cJSON_IsObject(root))
    return tl_fail(st, TL_EFORMAT, "the document must be a JSON object");
  static const char *const top_keys[] = {"format",  "input_id", "output_id", "inputs",
                                         "outputs", "nodes",    NULL};
  TL_TRY(tl_json_check_keys(root, top_keys, "top level", st));
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, TL_IR_FORMAT) != 0)
    return tl_fail(st, TL_EFORMAT, "\"format\" must be \"%s\"", TL_IR_FORMAT);
  const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
  if (!cJSON_IsArray(nodes))
    return tl_fail(st, TL_EFORMAT, "\"nodes\" must be an array");
  tl_graph *g = tl_graph_new();
  if (!g)
    return tl_fail(st, TL_ENOMEM, "out of memory");
  int weights_mode = -1, i = 0;
  int64_t budget = max_weights;
  tl_code rc = TL_OK;
  for (const cJSON *c = nodes->child; c && rc == TL_OK; c = c->next, i++)
    rc = read_node(g, c, i, &weights_mode, &budget, st);
  int n = g->nnodes;
  int64_t in_id = -1, out_id = -1;
  if (rc == TL_OK)
    rc = tl_json_int(cJSON_GetObjectItemCaseSensitive(root, "input_id"), -1, n - 1, &in_id, "top level",
                     "input_id", st);
  if (rc == TL_OK)
    rc = tl_json_int(cJSON_GetObjectItemCaseSensitive(root, "output_id"), -1, n - 1, &out_id, "top level",
                     "output_id", st);
  const cJSON *jin = cJSON_GetObjectItemCaseSensitive(root, "inputs");
  const cJSON *jout = cJSON_GetObjectItemCaseSensitive(root, "outputs");
  int64_t *list = NULL;
  int nl = 0;
  if (rc == TL_OK && jin) {
    rc = json_int_list(jin, 0, n - 1, &list, &nl, "top level", "inputs", st);
    int same = rc == TL_OK && nl == g->ninputs;
    for (int k = 0; same && k < nl; k++)
      same = list[k] == g->inputs[k];
    if (rc == TL_OK && !same)
      rc = tl_fail(st, TL_EFORMAT, "\"inputs\" must list the input nodes in order");
    free(list);
    list = NULL;
  }
  if (rc == TL_OK && in_id != (g->ninputs ? g->inputs[0] : -1))
    rc = tl_fail(st, TL_EFORMAT, "\"input_id\" %lld is not the first input node", (long long)in_id);
  if (rc == TL_OK && jout) {
    rc = json_int_list(jout, 0, n - 1, &list, &nl, "top level", "outputs", st);
    for (int k = 0; rc == TL_OK && k < nl; k++) {
      for (int j = 0; j < k; j++)
        if (list[j] == list[k])
          rc = tl_fail(st, TL_EFORMAT, "\"outputs\" lists node %lld twice", (long long)list[k]);
      if (rc == TL_OK)
        rc = tl_graph_mark_output(g, (int)list[k], st);
    }
    free(list);
    if (rc == TL_OK && out_id != (g->noutputs ? g->outputs[0] : -1))
      rc = tl_fail(st, TL_EFORMAT, "\"output_id\" %lld is not the first output", (long long)out_id);
  } else if (rc == TL_OK && out_id >= 0) {
    rc = tl_graph_mark_output(g, (int)out_id, st);
  }
  if (rc == TL_OK)
    rc = tl_graph_validate(g, st);
  if (rc != TL_OK) {
    tl_graph_free(g);
    return rc;
  }
  *out = g;
  return TL_OK;
}

tl_code tl_ir_json_read_bounded(const char *json, size_t len, int64_t max_weights, tl_graph **out,
                                tl_status *st) {
  *out = NULL;
  cJSON *root;
  TL_TRY(tl_json_parse(json, len, &root, st));
  tl_code rc = read_doc(root, max_weights, out, st);
  cJSON_Delete(root);
  return rc;
}

tl_code tl_ir_json_read(const char *json, size_t len, const char *name, tl_graph **out, tl_status *st) {
  tl_code rc = tl_ir_json_read_bounded(json, len, -1, out, st);
  if (rc != TL_OK)
    tl_status_prefix(st, "%s: ", name ? name : "IR JSON");
  return rc;
}
