/* ir/model_file.c - `torchlean.model.v1` model files in the safetensors layout.
 *
 *   bytes 0..7      N, the header length, unsigned little-endian
 *   bytes 8..8+N    a JSON object: "__metadata__" {"format", "graph", "graph_sha256"} (strings)
 *                   and one entry per PARAM node, keyed by its name:
 *                   {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}
 *                   (padded with spaces to a multiple of 8 bytes)
 *   the rest        the data: float32 little-endian, offsets relative to its start, tensors in
 *                   node order, contiguous, covering it exactly. */
#include <stdlib.h>
#include <string.h>

#include "ir/model_internal.h"
#include "torchlean/io.h"
#include "torchlean/model_file.h"
#include "torchlean/onnx.h"
#include "torchlean/tensor.h"

static void put_le32(uint8_t *p, uint32_t x) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(x >> (8 * i));
}

tl_code tl_model_encode(const tl_graph *g, void **buf, size_t *len, tl_status *st) {
  *buf = NULL;
  *len = 0;
  char *ir = NULL;
  TL_TRY(tl_ir_json_write(g, 0, &ir, st));
  char hex[65];
  tl_graph_hash_hex(g, hex);
  tl_sb h = {0};
  tl_sb_puts(&h, "{\"__metadata__\":{\"format\":\"" TL_MODEL_FORMAT "\",\"graph\":");
  tl_sb_json_str(&h, ir);
  free(ir);
  tl_sb_printf(&h, ",\"graph_sha256\":\"%s\"}", hex);
  int64_t off = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM)
      continue;
    if (strcmp(n->name, "__metadata__") == 0) {
      free(h.p);
      return tl_fail(st, TL_EARG, "model file: a parameter may not be named \"__metadata__\"");
    }
    tl_sb_puts(&h, ",");
    tl_sb_json_str(&h, n->name);
    tl_sb_puts(&h, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int k = 0; k < n->ndim; k++)
      tl_sb_printf(&h, k ? ",%lld" : "%lld", (long long)n->shape[k]);
    tl_sb_printf(&h, "],\"data_offsets\":[%lld,%lld]}", (long long)off, (long long)(off + 4 * n->numel));
    off += 4 * n->numel;
  }
  tl_sb_puts(&h, "}");
  while (!h.oom && h.n % 8)
    tl_sb_puts(&h, " ");
  if (h.oom || (uint64_t)off > SIZE_MAX - 8 - h.n) {
    free(h.p);
    return tl_fail(st, TL_ENOMEM, "model file: out of memory");
  }
  size_t total = 8 + h.n + (size_t)off;
  uint8_t *out = malloc(total);
  if (!out) {
    free(h.p);
    return tl_fail(st, TL_ENOMEM, "model file: out of memory for %zu bytes", total);
  }
  uint64_t hn = h.n;
  for (int i = 0; i < 8; i++)
    out[i] = (uint8_t)(hn >> (8 * i));
  memcpy(out + 8, h.p, h.n);
  free(h.p);
  uint8_t *d = out + 8 + hn;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM)
      continue;
    const float *w = g->weights + n->woff;
    for (int64_t k = 0; k < n->numel; k++, d += 4) {
      uint32_t bits;
      memcpy(&bits, &w[k], 4);
      put_le32(d, bits);
    }
  }
  *buf = out;
  *len = total;
  return TL_OK;
}

tl_code tl_model_save(const char *path, const tl_graph *g, tl_status *st) {
  void *buf;
  size_t len;
  tl_code rc = tl_model_encode(g, &buf, &len, st);
  if (rc == TL_OK) {
    rc = tl_write_file_atomic(path, buf, len, st);
    free(buf);
  } else {
    tl_status_prefix(st, "%s: ", path);
  }
  return rc;
}

typedef struct span {
  uint64_t b, e;
  const char *name;
} span;

static int span_cmp(const void *x, const void *y) {
  const span *a = x, *b = y;
  if (a->b != b->b)
    return a->b < b->b ? -1 : 1;
  if (a->e != b->e)
    return a->e < b->e ? -1 : 1;
  return 0;
}

/* Check the tensor entries against g and copy their bytes into the weight store. */
/* A tensor entry's keys, dtype (F32 only) and shape, checked against the graph's PARAM of that name
 * (*id). */
static tl_code tensor_entry_param(const cJSON *c, const tl_graph *g, const char *where, int *id,
                                  tl_status *st) {
  static const char *const entry_keys[] = {"dtype", "shape", "data_offsets", NULL};
  if (!cJSON_IsObject(c))
    return tl_fail(st, TL_EFORMAT, "%s: must be an object", where);
  TL_TRY(tl_json_check_keys(c, entry_keys, where, st));
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(c, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(c, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(c, "data_offsets");
  if (!cJSON_IsString(dt))
    return tl_fail(st, TL_EFORMAT, "%s: missing or non-string \"dtype\"", where);
  if (strcmp(dt->valuestring, "F32") != 0)
    return tl_fail(st, TL_EUNSUPPORTED, "%s: dtype \"%.32s\" is not supported (only F32)", where,
                   dt->valuestring);
  if (!cJSON_IsArray(sh))
    return tl_fail(st, TL_EFORMAT, "%s: \"shape\" must be an array of integers", where);
  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
    return tl_fail(st, TL_EFORMAT, "%s: \"data_offsets\" must be [begin, end]", where);
  *id = tl_graph_find(g, c->string);
  if (*id < 0 || g->nodes[*id].op != TL_OP_PARAM)
    return tl_fail(st, TL_EFORMAT, "%s: the graph has no parameter of that name", where);
  const tl_node *n = &g->nodes[*id];
  int ndim = cJSON_GetArraySize(sh), k = 0;
  int same = ndim == n->ndim;
  tl_code rc = TL_OK;
  for (const cJSON *d = sh->child; d && rc == TL_OK; d = d->next, k++) {
    int64_t v;
    char f[32];
    snprintf(f, sizeof f, "shape[%d]", k);
    rc = tl_json_int(d, 0, INT64_MAX, &v, where, f, st);
    same = same && rc == TL_OK && v == n->shape[k];
  }
  TL_TRY(rc);
  if (!same) {
    char s[128];
    return tl_fail(st, TL_ESHAPE, "%s: shape differs from the graph's %s", where,
                   tl_shape_str(n->ndim, n->shape, s, sizeof s));
  }
  return TL_OK;
}

/* One tensor entry: checked, its bytes range in *sp, its little-endian floats copied into the
 * weight store of PARAM *id. */
static tl_code load_tensor_entry(const cJSON *c, tl_graph *g, const uint8_t *data, uint64_t dlen, span *sp,
                                 int *id, tl_status *st) {
  char where[320];
  snprintf(where, sizeof where, "tensor '%.256s'", c->string);
  TL_TRY(tensor_entry_param(c, g, where, id, st));
  const tl_node *n = &g->nodes[*id];
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(c, "data_offsets");
  int64_t b, e;
  TL_TRY(tl_json_int(off->child, 0, INT64_MAX, &b, where, "data_offsets[0]", st));
  TL_TRY(tl_json_int(off->child->next, 0, INT64_MAX, &e, where, "data_offsets[1]", st));
  if (b > e || (uint64_t)e > dlen)
    return tl_fail(st, TL_EFORMAT, "%s: data_offsets [%lld, %lld] outside the data section of %llu bytes",
                   where, (long long)b, (long long)e, (unsigned long long)dlen);
  if (e - b != 4 * n->numel)
    return tl_fail(st, TL_EFORMAT, "%s: %lld bytes for %lld float32 elements (need %lld)", where,
                   (long long)(e - b), (long long)n->numel, (long long)(4 * n->numel));
  *sp = (span){(uint64_t)b, (uint64_t)e, c->string};
  float *w = g->weights + n->woff;
  const uint8_t *p = data + b;
  for (int64_t j = 0; j < n->numel; j++, p += 4) {
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    memcpy(&w[j], &bits, 4);
  }
  return TL_OK;
}

/* The spans (sorted here) tile the data section [0, dlen) exactly: no overlap, no gap. */
static tl_code check_spans(span *spans, int ns, uint64_t dlen, tl_status *st) {
  qsort(spans, (size_t)ns, sizeof *spans, span_cmp);
  uint64_t at = 0;
  tl_code rc = TL_OK;
  for (int i = 0; rc == TL_OK && i < ns; i++) {
    if (spans[i].b < at)
      rc = tl_fail(st, TL_EFORMAT, "tensors '%s' and '%s' overlap", spans[i - 1].name, spans[i].name);
    else if (spans[i].b > at)
      rc = tl_fail(st, TL_EFORMAT, "data bytes [%llu, %llu) belong to no tensor", (unsigned long long)at,
                   (unsigned long long)spans[i].b);
    at = spans[i].e;
  }
  if (rc == TL_OK && at != dlen)
    rc = tl_fail(st, TL_EFORMAT, "data bytes [%llu, %llu) belong to no tensor", (unsigned long long)at,
                 (unsigned long long)dlen);
  return rc;
}

static tl_code load_tensors(const cJSON *root, tl_graph *g, const uint8_t *data, uint64_t dlen,
                            tl_status *st) {
  int count = 0;
  for (const cJSON *c = root->child; c; c = c->next)
    count++;
  span *spans = malloc((size_t)(count ? count : 1) * sizeof *spans);
  unsigned char *seen = calloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
  tl_code rc = spans && seen ? TL_OK : tl_fail(st, TL_ENOMEM, "out of memory");
  int ns = 0;
  for (const cJSON *c = root->child; c && rc == TL_OK; c = c->next) {
    if (strcmp(c->string, "__metadata__") == 0)
      continue;
    int id = -1;
    rc = load_tensor_entry(c, g, data, dlen, &spans[ns], &id, st);
    if (rc == TL_OK)
      seen[id] = 1, ns++;
  }
  for (int i = 0; rc == TL_OK && i < g->nnodes; i++)
    if (g->nodes[i].op == TL_OP_PARAM && !seen[i])
      rc = tl_fail(st, TL_EFORMAT, "parameter '%s' (node %d) has no tensor in the file", g->nodes[i].name, i);
  if (rc == TL_OK)
    rc = check_spans(spans, ns, dlen, st);
  free(spans);
  free(seen);
  return rc;
}

static int is_hex64(const char *s) {
  for (int i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return s[64] == '\0';
}

static tl_code load_mem(const uint8_t *buf, size_t len, tl_graph **out, tl_status *st) {
  if (len < 8)
    return tl_fail(st, TL_EFORMAT, "file of %zu bytes is too short for the 8-byte header length", len);
  uint64_t hn = 0;
  for (int i = 0; i < 8; i++)
    hn |= (uint64_t)buf[i] << (8 * i);
  if (hn > len - 8)
    return tl_fail(st, TL_EFORMAT, "header length %llu exceeds the %zu bytes after it",
                   (unsigned long long)hn, len - 8);
  if (hn < 2)
    return tl_fail(st, TL_EFORMAT, "header length %llu is too small for a JSON object",
                   (unsigned long long)hn);
  cJSON *root;
  tl_code rc = tl_json_parse((const char *)buf + 8, (size_t)hn, &root, st);
  if (rc != TL_OK)
    return tl_status_prefix(st, "header: ");
  const uint8_t *data = buf + 8 + hn;
  uint64_t dlen = len - 8 - hn;
  tl_graph *g = NULL;
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
  static const char *const meta_keys[] = {"format", "graph", "graph_sha256", NULL};
  if (!cJSON_IsObject(root)) {
    rc = tl_fail(st, TL_EFORMAT, "header: must be a JSON object");
  } else if (!meta) {
    rc = tl_fail(st, TL_EFORMAT, "header: no \"__metadata__\" (not a TorchLean model file)");
  } else if (!cJSON_IsObject(meta)) {
    rc = tl_fail(st, TL_EFORMAT, "header: \"__metadata__\" must be an object");
  } else {
    /* keys at the top level must be unique (cJSON keeps duplicates) */
    for (const cJSON *c = root->child; c && rc == TL_OK; c = c->next)
      for (const cJSON *d = root->child; d != c && rc == TL_OK; d = d->next)
        if (strcmp(c->string, d->string) == 0)
          rc = tl_fail(st, TL_EFORMAT, "header: key \"%.256s\" appears twice", c->string);
    if (rc == TL_OK)
      rc = tl_json_check_keys(meta, meta_keys, "__metadata__", st);
  }
  const cJSON *fmt = NULL, *graph = NULL, *hash = NULL;
  if (rc == TL_OK) {
    fmt = cJSON_GetObjectItemCaseSensitive(meta, "format");
    graph = cJSON_GetObjectItemCaseSensitive(meta, "graph");
    hash = cJSON_GetObjectItemCaseSensitive(meta, "graph_sha256");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, TL_MODEL_FORMAT) != 0)
      rc = tl_fail(st, TL_EFORMAT, "__metadata__.format must be \"%s\"", TL_MODEL_FORMAT);
    else if (!cJSON_IsString(graph))
      rc = tl_fail(st, TL_EFORMAT, "__metadata__.graph must be a string holding the IR JSON");
    else if (!cJSON_IsString(hash) || !is_hex64(hash->valuestring))
      rc = tl_fail(st, TL_EFORMAT, "__metadata__.graph_sha256 must be 64 lowercase hex digits");
  }
  if (rc == TL_OK) {
    rc = tl_ir_json_read_bounded(graph->valuestring, strlen(graph->valuestring), (int64_t)(dlen / 4), &g, st);
    if (rc != TL_OK)
      tl_status_prefix(st, "__metadata__.graph: ");
  }
  if (rc == TL_OK)
    rc = load_tensors(root, g, data, dlen, st);
  if (rc == TL_OK) {
    char hex[65];
    tl_graph_hash_hex(g, hex);
    if (strcmp(hex, hash->valuestring) != 0)
      rc = tl_fail(st, TL_EFORMAT,
                   "__metadata__.graph_sha256 mismatch: the file says %s, its contents hash to %s",
                   hash->valuestring, hex);
  }
  cJSON_Delete(root);
  if (rc != TL_OK) {
    tl_graph_free(g);
    return rc;
  }
  *out = g;
  return TL_OK;
}

tl_code tl_model_load_mem(const void *buf, size_t len, const char *name, tl_graph **out, tl_status *st) {
  *out = NULL;
  tl_code rc = load_mem(buf, len, out, st);
  if (rc != TL_OK)
    tl_status_prefix(st, "%s: ", name ? name : "model");
  return rc;
}

/* Our files start with the 8-byte header length and the JSON object's '{'. */
static int has_model_magic(const uint8_t *buf, size_t len) { return len > 8 && buf[8] == '{'; }

static int has_onnx_ext(const char *path) {
  size_t n = strlen(path);
  return n >= 5 && strcmp(path + n - 5, ".onnx") == 0;
}

tl_code tl_model_load(const char *path, tl_graph **out, tl_status *st) {
  *out = NULL;
  void *buf;
  size_t len;
  TL_TRY(tl_read_file(path, &buf, &len, st));
  tl_code rc;
  /* ONNX models load directly: by the .onnx extension or by their content, when our magic is absent */
  if (!has_model_magic(buf, len) && (has_onnx_ext(path) || tl_onnx_sniff_buffer(buf, len)))
    rc = tl_onnx_import_buffer(buf, len, path, out, st);
  else
    rc = tl_model_load_mem(buf, len, path, out, st);
  free(buf);
  return rc;
}
