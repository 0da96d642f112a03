/* ir/graph_hash.c - SHA-256 over the canonical encoding of a graph (docs/graph-hash.md).
 *
 * The encoding is a byte stream of three primitives, all little-endian:
 *   u64(x)  8 bytes, unsigned;  i64(x)  8 bytes, two's complement;  str(s)  u64(len) then bytes.
 * Attributes are encoded from the op registry's schema (no per-op code here). */
#include <nettle/sha2.h>
#include <string.h>

#include "torchlean/graph.h"
#include "torchlean/model_file.h"

typedef struct hasher {
  struct sha256_ctx ctx;
  uint8_t buf[4096];
  size_t n;
} hasher;

static void h_flush(hasher *h) {
  if (h->n)
    sha256_update(&h->ctx, h->n, h->buf);
  h->n = 0;
}

static void h_bytes(hasher *h, const void *p, size_t len) {
  const uint8_t *b = p;
  while (len) {
    if (h->n == sizeof h->buf)
      h_flush(h);
    size_t k = sizeof h->buf - h->n;
    if (k > len)
      k = len;
    memcpy(h->buf + h->n, b, k);
    h->n += k, b += k, len -= k;
  }
}

static void h_u64(hasher *h, uint64_t x) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)(x >> (8 * i));
  h_bytes(h, b, 8);
}

static void h_i64(hasher *h, int64_t x) { h_u64(h, (uint64_t)x); }

static void h_str(hasher *h, const char *s) {
  size_t n = strlen(s);
  h_u64(h, n);
  h_bytes(h, s, n);
}

static void h_f64(hasher *h, double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  h_u64(h, bits);
}

static void h_f32(hasher *h, float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  uint8_t b[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16), (uint8_t)(bits >> 24)};
  h_bytes(h, b, 4);
}

void tl_graph_hash(const tl_graph *g, uint8_t out[32]) {
  hasher h;
  sha256_init(&h.ctx);
  h.n = 0;
  h_str(&h, TL_GRAPH_HASH_FORMAT);
  h_u64(&h, (uint64_t)g->nnodes);
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    const tl_op_info *info = tl_op_get(n->op);
    h_str(&h, info->name);
    h_u64(&h, (uint64_t)n->nparents);
    for (int k = 0; k < n->nparents; k++)
      h_i64(&h, n->parents[k]);
    h_u64(&h, (uint64_t)n->ndim);
    for (int k = 0; k < n->ndim; k++)
      h_i64(&h, n->shape[k]);
    tl_attrs a = n->attrs; /* accessors take a non-const pointer; we only read */
    for (const tl_attr_field *f = info->attrs; f->name; f++) {
      switch (f->type) {
      case TL_ATTR_INT: h_i64(&h, *tl_attr_int_ptr(&a, f)); break;
      case TL_ATTR_INT2:
        h_i64(&h, tl_attr_int_ptr(&a, f)[0]);
        h_i64(&h, tl_attr_int_ptr(&a, f)[1]);
        break;
      case TL_ATTR_FLOAT: h_f64(&h, *tl_attr_float_ptr(&a, f)); break;
      case TL_ATTR_LIST:
        h_u64(&h, (uint64_t)a.nlist);
        for (int k = 0; k < a.nlist; k++)
          h_i64(&h, a.list[k]);
        break;
      }
    }
    if (n->name) {
      h_u64(&h, 1);
      h_str(&h, n->name);
    } else {
      h_u64(&h, 0);
    }
    h_i64(&h, n->op == TL_OP_PARAM ? (int64_t)n->pkind : -1);
  }
  h_u64(&h, (uint64_t)g->ninputs);
  for (int i = 0; i < g->ninputs; i++)
    h_i64(&h, g->inputs[i]);
  h_u64(&h, (uint64_t)g->noutputs);
  for (int i = 0; i < g->noutputs; i++)
    h_i64(&h, g->outputs[i]);
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM)
      continue;
    const float *w = g->weights + n->woff;
    for (int64_t k = 0; k < n->numel; k++)
      h_f32(&h, w[k]);
  }
  h_flush(&h);
  sha256_digest(&h.ctx, SHA256_DIGEST_SIZE, out);
}

char *tl_hash_hex(const uint8_t hash[32], char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[hash[i] >> 4];
    hex[2 * i + 1] = digits[hash[i] & 15];
  }
  hex[64] = '\0';
  return hex;
}

char *tl_graph_hash_hex(const tl_graph *g, char hex[65]) {
  uint8_t h[32];
  tl_graph_hash(g, h);
  return tl_hash_hex(h, hex);
}
