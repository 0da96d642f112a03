/* ghash.c - the checker's own implementation of the canonical graph encoding
 * (docs/graph-hash.md, `torchlean.graph.v1`) hashed with nettle's SHA-256, and a minimal strict
 * reader of model files (docs/model-file.md).  Written from the documents, not from the runtime:
 * the attribute schema table below is the one in docs/graph-hash.md. */
#define _POSIX_C_SOURCE 200809L
#include "ghash.h"

#include <math.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int gerr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int gerr(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
  return -1;
}

/* ---- primitives (little-endian) ------------------------------------------------------------ */
static void put_u64(struct sha256_ctx *h, uint64_t x) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)(x >> (8 * i));
  sha256_update(h, 8, b);
}
static void put_str(struct sha256_ctx *h, const char *s) {
  size_t n = strlen(s);
  put_u64(h, n);
  sha256_update(h, n, (const uint8_t *)s);
}
static void put_f64(struct sha256_ctx *h, double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  put_u64(h, bits);
}
static void put_f32(struct sha256_ctx *h, float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  uint8_t b[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16), (uint8_t)(bits >> 24)};
  sha256_update(h, 4, b);
}

/* ---- attribute schemas (docs/graph-hash.md, "Attribute schemas") ----------------------------- */
enum { A_INT, A_INT2, A_FLOAT, A_LIST };
typedef struct schema {
  const char *kind;
  int nattr;
  const char *name[4];
  int type[4];
} schema;
static const schema schemas[] = {
    {"input", 0, {0}, {0}},
    {"param", 0, {0}, {0}},
    {"linear", 0, {0}, {0}},
    {"matmul", 0, {0}, {0}},
    {"add", 0, {0}, {0}},
    {"sub", 0, {0}, {0}},
    {"mul", 0, {0}, {0}},
    {"div", 0, {0}, {0}},
    {"max", 0, {0}, {0}},
    {"min", 0, {0}, {0}},
    {"neg", 0, {0}, {0}},
    {"abs", 0, {0}, {0}},
    {"sqrt", 0, {0}, {0}},
    {"exp", 0, {0}, {0}},
    {"log", 0, {0}, {0}},
    {"relu", 0, {0}, {0}},
    {"sigmoid", 0, {0}, {0}},
    {"tanh", 0, {0}, {0}},
    {"gelu", 0, {0}, {0}},
    {"silu", 0, {0}, {0}},
    {"global_avg_pool", 0, {0}, {0}},
    {"embedding", 0, {0}, {0}},
    {"mse_loss", 0, {0}, {0}},
    {"cross_entropy", 0, {0}, {0}},
    {"leaky_relu", 1, {"alpha"}, {A_FLOAT}},
    {"clamp", 2, {"lo", "hi"}, {A_FLOAT, A_FLOAT}},
    {"softmax", 1, {"axis"}, {A_INT}},
    {"log_softmax", 1, {"axis"}, {A_INT}},
    {"concat", 1, {"axis"}, {A_INT}},
    {"sum", 2, {"axes", "keepdim"}, {A_LIST, A_INT}},
    {"mean", 2, {"axes", "keepdim"}, {A_LIST, A_INT}},
    {"reshape", 1, {"target"}, {A_LIST}},
    {"flatten", 2, {"start", "end"}, {A_INT, A_INT}},
    {"permute", 1, {"perm"}, {A_LIST}},
    {"slice", 4, {"axis", "start", "end", "step"}, {A_INT, A_INT, A_INT, A_INT}},
    {"conv2d", 4, {"stride", "padding", "dilation", "groups"}, {A_INT2, A_INT2, A_INT2, A_INT}},
    {"max_pool2d", 4, {"kernel", "stride", "padding", "dilation"}, {A_INT2, A_INT2, A_INT2, A_INT2}},
    {"avg_pool2d", 4, {"kernel", "stride", "padding", "dilation"}, {A_INT2, A_INT2, A_INT2, A_INT2}},
    {"batch_norm", 2, {"eps", "momentum"}, {A_FLOAT, A_FLOAT}},
    {"layer_norm", 1, {"eps"}, {A_FLOAT}},
    {"dropout", 1, {"p"}, {A_FLOAT}},
    {"attention", 2, {"heads", "causal"}, {A_INT, A_INT}},
};

/* an integer JSON number with |x| <= 2^53 */
static int json_i64(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 0x1p53 ||
      v->valuedouble != floor(v->valuedouble))
    return -1;
  *out = (int64_t)v->valuedouble;
  return 0;
}

/* a float attribute: a JSON number (parsed by strtod, i.e. correctly rounded), or a string that
 * strtod consumes completely (hex floats are exact; "inf", "-inf") */
static int json_f64(const cJSON *v, double *out) {
  if (cJSON_IsNumber(v)) {
    *out = v->valuedouble;
    return 0;
  }
  if (!cJSON_IsString(v) || !v->valuestring[0] || v->valuestring[0] == ' ')
    return -1;
  char *end;
  double d = strtod(v->valuestring, &end);
  if (*end || isnan(d))
    return -1;
  *out = d;
  return 0;
}

static int int_array(const cJSON *a, int maxn, int64_t *v, int *n) {
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > maxn)
    return -1;
  *n = 0;
  for (const cJSON *it = a->child; it; it = it->next)
    if (json_i64(it, &v[(*n)++]))
      return -1;
  return 0;
}

enum { MAXL = 64 };

/* node i's attributes by its schema (docs/graph-hash.md); -1: message in err */
static int hash_attrs(struct sha256_ctx *h, const cJSON *o, int i, const schema *s, char *err,
                      size_t errlen) {
  int64_t v[MAXL];
  int nv;
  for (int a = 0; a < s->nattr; a++) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, s->name[a]);
    int64_t x;
    double d;
    switch (s->type[a]) {
    case A_INT:
      if (json_i64(f, &x))
        return gerr(err, errlen, "graph node %d (%s): attribute \"%s\" must be an integer", i, s->kind,
                    s->name[a]);
      put_u64(h, (uint64_t)x);
      break;
    case A_INT2:
      if (int_array(f, 2, v, &nv) || nv != 2)
        return gerr(err, errlen, "graph node %d (%s): attribute \"%s\" must be two integers", i, s->kind,
                    s->name[a]);
      put_u64(h, (uint64_t)v[0]), put_u64(h, (uint64_t)v[1]);
      break;
    case A_FLOAT:
      if (json_f64(f, &d))
        return gerr(err, errlen, "graph node %d (%s): attribute \"%s\" must be a number", i, s->kind,
                    s->name[a]);
      put_f64(h, d);
      break;
    default:
      if (int_array(f, MAXL, v, &nv))
        return gerr(err, errlen, "graph node %d (%s): attribute \"%s\" must be a list of integers", i,
                    s->kind, s->name[a]);
      put_u64(h, (uint64_t)nv);
      for (int k = 0; k < nv; k++)
        put_u64(h, (uint64_t)v[k]);
    }
  }
  return 0;
}

/* node i's name and param kind (-1 for non-parameters); -1: message in err */
static int hash_name_kind(struct sha256_ctx *h, const cJSON *o, int i, const schema *s, const float *const *w,
                          char *err, size_t errlen) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
  if (name && !cJSON_IsString(name))
    return gerr(err, errlen, "graph node %d (%s): \"name\" must be a string", i, s->kind);
  if (name) {
    put_u64(h, 1);
    put_str(h, name->valuestring);
  } else {
    put_u64(h, 0);
  }
  const cJSON *pk = cJSON_GetObjectItemCaseSensitive(o, "param_kind");
  if (!strcmp(s->kind, "param")) {
    int64_t kind_id = -1;
    if (cJSON_IsString(pk))
      kind_id = !strcmp(pk->valuestring, "trainable")  ? 0
                : !strcmp(pk->valuestring, "buffer")   ? 1
                : !strcmp(pk->valuestring, "constant") ? 2
                                                       : -1;
    if (kind_id < 0)
      return gerr(err, errlen, "graph node %d (param): \"param_kind\" must be trainable, buffer or constant",
                  i);
    if (!w || !w[i])
      return gerr(err, errlen, "graph node %d (param): no weights", i);
    put_u64(h, (uint64_t)kind_id);
  } else {
    if (pk)
      return gerr(err, errlen, "graph node %d (%s): \"param_kind\" on a non-parameter", i, s->kind);
    put_u64(h, (uint64_t)(int64_t)-1);
  }
  return 0;
}

/* node i: id, kind, parents, shape, attributes, name, param kind; -1: message in err */
static int hash_node(struct sha256_ctx *h, const cJSON *o, int i, const char *kindkey, const float *const *w,
                     char *err, size_t errlen) {
  int64_t v[MAXL];
  int nv;
  int64_t id;
  if (json_i64(cJSON_GetObjectItemCaseSensitive(o, "id"), &id) || id != i)
    return gerr(err, errlen, "graph node %d: \"id\" must be %d", i, i);
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, kindkey);
  const schema *s = NULL;
  for (size_t k = 0; cJSON_IsString(kind) && k < sizeof schemas / sizeof *schemas; k++)
    if (!strcmp(kind->valuestring, schemas[k].kind))
      s = &schemas[k];
  if (!s)
    return gerr(err, errlen, "graph node %d: unknown op in \"%s\"", i, kindkey);
  put_str(h, s->kind);
  if (int_array(cJSON_GetObjectItemCaseSensitive(o, "parents"), MAXL, v, &nv))
    return gerr(err, errlen, "graph node %d (%s): \"parents\" must be an array of ids", i, s->kind);
  put_u64(h, (uint64_t)nv);
  for (int k = 0; k < nv; k++) {
    if (v[k] < 0 || v[k] >= i)
      return gerr(err, errlen, "graph node %d (%s): parent %lld is not an earlier node", i, s->kind,
                  (long long)v[k]);
    put_u64(h, (uint64_t)v[k]);
  }
  if (int_array(cJSON_GetObjectItemCaseSensitive(o, "shape"), 8, v, &nv))
    return gerr(err, errlen, "graph node %d (%s): \"shape\" must be an array of at most 8 sizes", i, s->kind);
  put_u64(h, (uint64_t)nv);
  for (int k = 0; k < nv; k++)
    put_u64(h, (uint64_t)v[k]);
  if (hash_attrs(h, o, i, s, err, errlen))
    return -1;
  return hash_name_kind(h, o, i, s, w, err, errlen);
}

int cg_hash_json(const cJSON *nodes, const char *kindkey, const cJSON *inputs, const cJSON *outputs,
                 const float *const *w, uint8_t out[32], char *err, size_t errlen) {
  if (!cJSON_IsArray(nodes))
    return gerr(err, errlen, "graph nodes must be an array");
  struct sha256_ctx h;
  sha256_init(&h);
  put_str(&h, "torchlean.graph.v1");
  int nn = cJSON_GetArraySize(nodes);
  put_u64(&h, (uint64_t)nn);
  int i = 0;
  int64_t v[MAXL];
  int nv;
  for (const cJSON *o = nodes->child; o; o = o->next, i++)
    if (hash_node(&h, o, i, kindkey, w, err, errlen))
      return -1;
  const cJSON *lists[2] = {inputs, outputs};
  for (int l = 0; l < 2; l++) {
    if (int_array(lists[l], MAXL, v, &nv))
      return gerr(err, errlen, "graph %s must be an array of node ids", l ? "outputs" : "inputs");
    put_u64(&h, (uint64_t)nv);
    for (int k = 0; k < nv; k++) {
      if (v[k] < 0 || v[k] >= nn)
        return gerr(err, errlen, "graph %s: %lld is not a node id", l ? "outputs" : "inputs",
                    (long long)v[k]);
      put_u64(&h, (uint64_t)v[k]);
    }
  }
  /* the weights, in node order */
  i = 0;
  for (const cJSON *o = nodes->child; o; o = o->next, i++) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, kindkey);
    if (strcmp(kind->valuestring, "param"))
      continue;
    int64_t numel = 1;
    int_array(cJSON_GetObjectItemCaseSensitive(o, "shape"), 8, v, &nv);
    for (int k = 0; k < nv; k++)
      numel *= v[k];
    for (int64_t k = 0; k < numel; k++)
      put_f32(&h, w[i][k]);
  }
  sha256_digest(&h, SHA256_DIGEST_SIZE, out);
  return 0;
}

int cg_hex_decode(const char *hex, uint8_t out[32]) {
  if (strlen(hex) != 64)
    return -1;
  for (int i = 0; i < 64; i++) {
    int c = (unsigned char)hex[i], d = c >= '0' && c <= '9'   ? c - '0'
                                       : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                              : -1;
    if (d < 0)
      return -1;
    if (i % 2 == 0)
      out[i / 2] = (uint8_t)(d << 4);
    else
      out[i / 2] |= (uint8_t)d;
  }
  return 0;
}

/* ---- model files ----------------------------------------------------------------------------- */
void cm_model_free(cm_model *m) {
  for (int i = 0; m->w && i < m->nnodes; i++)
    free(m->w[i]);
  free(m->w), free(m->numel);
  memset(m, 0, sizeof *m);
}

static int dup_keys(const cJSON *o) {
  for (const cJSON *a = o->child; a; a = a->next)
    for (const cJSON *b = a->next; b; b = b->next)
      if (!strcmp(a->string, b->string))
        return 1;
  return 0;
}

typedef struct span {
  uint64_t b, e;
} span;
static int span_cmp(const void *x, const void *y) {
  const span *a = x, *b = y;
  return a->b < b->b ? -1 : a->b > b->b;
}

/* the 8-byte header length and the header JSON (whitespace-padded); NULL: message in err */
static cJSON *model_header(const char *path, const uint8_t *buf, size_t len, uint64_t *hlp, char *err,
                           size_t n) {
  if (len < 8)
    return gerr(err, n, "%s: shorter than the 8-byte header length", path), NULL;
  uint64_t hl = 0;
  for (int i = 0; i < 8; i++)
    hl |= (uint64_t)buf[i] << (8 * i);
  if (hl > len - 8 || hl == 0)
    return gerr(err, n, "%s: header length %llu beyond the file (%zu bytes)", path, (unsigned long long)hl,
                len),
           NULL;
  if (memchr(buf + 8, 0, hl))
    return gerr(err, n, "%s: header contains a NUL byte", path), NULL;
  const char *end = NULL;
  cJSON *hdr = cJSON_ParseWithLengthOpts((const char *)buf + 8, hl, &end, 0);
  if (!hdr)
    return gerr(err, n, "%s: header is not valid JSON (byte %ld)", path,
                end ? (long)(end - (const char *)buf) : -1L),
           NULL;
  for (const char *p = end; p < (const char *)buf + 8 + hl; p++)
    if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') {
      cJSON_Delete(hdr);
      return gerr(err, n, "%s: trailing bytes after the header JSON", path), NULL;
    }
  *hlp = hl;
  return hdr;
}

/* __metadata__: format, graph (parsed into *graph) and graph_sha256 (into m->claimed); -1: err */
static int model_meta(const char *path, const cJSON *hdr, cm_model *m, cJSON **graph, char *err, size_t n) {
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(hdr, "__metadata__");
  const cJSON *fmt = meta ? cJSON_GetObjectItemCaseSensitive(meta, "format") : NULL;
  const cJSON *gtxt = meta ? cJSON_GetObjectItemCaseSensitive(meta, "graph") : NULL;
  const cJSON *ghex = meta ? cJSON_GetObjectItemCaseSensitive(meta, "graph_sha256") : NULL;
  if (!cJSON_IsObject(hdr) || dup_keys(hdr))
    return gerr(err, n, "%s: header must be a JSON object without duplicate keys", path);
  if (!cJSON_IsObject(meta) || dup_keys(meta) || cJSON_GetArraySize(meta) != 3 || !cJSON_IsString(fmt) ||
      strcmp(fmt->valuestring, "torchlean.model.v1") || !cJSON_IsString(gtxt) || !cJSON_IsString(ghex) ||
      cg_hex_decode(ghex->valuestring, m->claimed))
    return gerr(
        err, n,
        "%s: __metadata__ must hold exactly format \"torchlean.model.v1\", graph and graph_sha256 (64 hex)",
        path);
  *graph = cJSON_Parse(gtxt->valuestring);
  const cJSON *gf = *graph ? cJSON_GetObjectItemCaseSensitive(*graph, "format") : NULL;
  const cJSON *nodes = *graph ? cJSON_GetObjectItemCaseSensitive(*graph, "nodes") : NULL;
  if (!cJSON_IsString(gf) || strcmp(gf->valuestring, "torchlean.ir.v1") || !cJSON_IsArray(nodes) ||
      cJSON_GetArraySize(nodes) < 1 || cJSON_GetArraySize(nodes) > 1000000)
    return gerr(err, n,
                "%s: __metadata__.graph must be torchlean.ir.v1 JSON with a non-empty \"nodes\" array", path);
  if (!cJSON_GetObjectItemCaseSensitive(*graph, "inputs") ||
      !cJSON_GetObjectItemCaseSensitive(*graph, "outputs"))
    return gerr(err, n, "%s: graph: \"inputs\" and \"outputs\" are required by this reader", path);
  return 0;
}

/* the tensors of a model file being read */
typedef struct mread {
  const char *path;
  const cJSON *hdr;
  const uint8_t *data;
  uint64_t dlen;
  span *sp;
  int nsp, ntensors;
  char *err;
  size_t n;
} mread;

/* graph node i, a param: its tensor (dtype F32, the param's shape, data_offsets inside the data)
 * read into m->w[i]; -1: err */
static int model_param(mread *r, const cJSON *o, int i, cm_model *m) {
  const char *path = r->path;
  char *err = r->err;
  size_t n = r->n;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
  int64_t sh[8];
  int nd = 0;
  if (!cJSON_IsString(name) || !strcmp(name->valuestring, "__metadata__") || int_array(shape, 8, sh, &nd))
    return gerr(err, n, "%s: graph node %d (param): needs a name and a shape", path, i);
  int64_t numel = 1;
  for (int k = 0; k < nd; k++) {
    if (sh[k] < 0 || (sh[k] > 0 && numel > (INT64_C(1) << 40) / sh[k]))
      return gerr(err, n, "%s: graph node %d (param): bad shape", path, i);
    numel *= sh[k];
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(r->hdr, name->valuestring);
  const cJSON *dt = t ? cJSON_GetObjectItemCaseSensitive(t, "dtype") : NULL;
  const cJSON *ts = t ? cJSON_GetObjectItemCaseSensitive(t, "shape") : NULL;
  const cJSON *off = t ? cJSON_GetObjectItemCaseSensitive(t, "data_offsets") : NULL;
  int64_t tsh[8], ob[2];
  int tnd = 0, no = 0;
  if (!cJSON_IsObject(t) || dup_keys(t) || cJSON_GetArraySize(t) != 3 || !cJSON_IsString(dt) ||
      strcmp(dt->valuestring, "F32") || int_array(ts, 8, tsh, &tnd) || tnd != nd ||
      memcmp(tsh, sh, (size_t)nd * sizeof *sh) || int_array(off, 2, ob, &no) || no != 2)
    return gerr(err, n, "%s: tensor \"%s\": missing, or not {dtype F32, the param's shape, data_offsets}",
                path, name->valuestring);
  if (ob[0] < 0 || ob[1] < ob[0] || (uint64_t)ob[1] > r->dlen || ob[1] - ob[0] != 4 * numel)
    return gerr(err, n,
                "%s: tensor \"%s\": data_offsets [%lld, %lld] do not hold %lld float32 inside the data", path,
                name->valuestring, (long long)ob[0], (long long)ob[1], (long long)numel);
  if (r->nsp >= r->ntensors)
    return gerr(err, n, "%s: more params than tensors", path);
  r->sp[r->nsp++] = (span){(uint64_t)ob[0], (uint64_t)ob[1]};
  m->numel[i] = numel;
  m->w[i] = malloc((size_t)(numel ? numel : 1) * sizeof(float));
  if (!m->w[i])
    return gerr(err, n, "out of memory");
  for (int64_t k = 0; k < numel; k++) {
    const uint8_t *b = r->data + ob[0] + 4 * k;
    uint32_t bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    memcpy(&m->w[i][k], &bits, 4);
  }
  return 0;
}

/* param names are unique (a duplicate would map two params to one tensor) and every tensor
 * belongs to a param: the spans tile the data; -1: err */
static int model_spans(mread *r, int nparams) {
  if (nparams != r->ntensors)
    return gerr(r->err, r->n, "%s: %d tensors for %d params", r->path, r->ntensors, nparams);
  qsort(r->sp, (size_t)r->nsp, sizeof *r->sp, span_cmp);
  uint64_t at = 0;
  for (int k = 0; k < r->nsp; k++) {
    if (r->sp[k].b != at)
      return gerr(r->err, r->n, "%s: tensor data overlaps or leaves a gap at byte %llu", r->path,
                  (unsigned long long)at);
    at = r->sp[k].e;
  }
  if (at != r->dlen)
    return gerr(r->err, r->n, "%s: %llu data bytes belong to no tensor", r->path,
                (unsigned long long)(r->dlen - at));
  return 0;
}

/* every param's tensor, the spans, the graph hash; -1: err */
static int model_tensors(mread *r, const cJSON *graph, cm_model *m) {
  const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(graph, "nodes");
  m->nnodes = cJSON_GetArraySize(nodes);
  m->w = calloc((size_t)m->nnodes, sizeof *m->w);
  m->numel = calloc((size_t)m->nnodes, sizeof *m->numel);
  r->ntensors = cJSON_GetArraySize(r->hdr) - 1;
  int nparams = 0;
  r->sp = calloc((size_t)(r->ntensors > 0 ? r->ntensors : 1), sizeof *r->sp);
  if (!m->w || !m->numel || !r->sp)
    return gerr(r->err, r->n, "out of memory");
  int i = 0;
  for (const cJSON *o = nodes->child; o; o = o->next, i++) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "param"))
      continue;
    nparams++;
    if (model_param(r, o, i, m))
      return -1;
  }
  if (model_spans(r, nparams))
    return -1;
  char herr[300];
  if (cg_hash_json(nodes, "kind", cJSON_GetObjectItemCaseSensitive(graph, "inputs"),
                   cJSON_GetObjectItemCaseSensitive(graph, "outputs"), (const float *const *)m->w, m->hash,
                   herr, sizeof herr))
    return gerr(r->err, r->n, "%s: %s", r->path, herr);
  return 0;
}

static int model_parse(const char *path, const uint8_t *buf, size_t len, cm_model *m, char *err, size_t n) {
  uint64_t hl = 0;
  cJSON *hdr = model_header(path, buf, len, &hl, err, n);
  if (!hdr)
    return -1;
  mread r = {path, hdr, buf + 8 + hl, len - 8 - hl, NULL, 0, 0, err, n};
  cJSON *graph = NULL;
  int rc = model_meta(path, hdr, m, &graph, err, n);
  if (rc == 0)
    rc = model_tensors(&r, graph, m);
  free(r.sp);
  cJSON_Delete(graph);
  cJSON_Delete(hdr);
  return rc;
}

int cm_model_read(const char *path, cm_model *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f)
    return gerr(err, errlen, "%s: cannot open", path);
  size_t cap = 1 << 20, len = 0;
  uint8_t *buf = malloc(cap);
  for (size_t r; buf && (r = fread(buf + len, 1, cap - len, f)) > 0;) {
    len += r;
    if (len == cap) {
      uint8_t *nb = cap < ((size_t)1 << 33) ? realloc(buf, cap * 2) : NULL;
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb, cap *= 2;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    return gerr(err, errlen, "%s: cannot read", path);
  }
  int rc = model_parse(path, buf, len, out, err, errlen);
  free(buf);
  if (rc)
    cm_model_free(out);
  return rc;
}
