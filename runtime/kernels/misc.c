/* kernels/misc.c - dropout, embedding, multi-head self-attention. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "exec/backend.h"
#include "torchlean/rand.h"

/* Counter-based: the stream seed of node id at step t is sm(sm(sm(seed) ^ t) ^ id), and element
 * i draws tl_rand_counter_uniform(stream, i).  Same (seed, step, id, i) -> same draw, in eager
 * and compiled mode alike, in forward and backward. */
double tl_dropout_uniform(uint64_t seed, uint64_t step, int id, int64_t i) {
  uint64_t s = tl_splitmix64(tl_splitmix64(tl_splitmix64(seed) ^ step) ^ (uint64_t)(uint32_t)id);
  return tl_rand_counter_uniform(s, (uint64_t)i);
}

/* training: y = x * (1/(1-p)) where u_i >= p, else +0; eval or p == 0: y = x */
tl_code tl_k_dropout_fwd(const tl_kctx *k) {
  double p = k->n->attrs.p;
  int64_t n = k->n->numel;
  if (!k->training || p == 0) {
    memcpy(k->out, k->in[0], (size_t)n * sizeof(float));
    return TL_OK;
  }
  float scale = (float)(1.0 / (1.0 - p));
  uint64_t s = tl_splitmix64(tl_splitmix64(tl_splitmix64(k->seed) ^ k->step) ^ (uint64_t)(uint32_t)k->id);
  for (int64_t i = 0; i < n; i++)
    k->out[i] = tl_rand_counter_uniform(s, (uint64_t)i) >= p ? k->in[0][i] * scale : 0.0f;
  return TL_OK;
}

/* gx += g * mask / (1 - p) */
tl_code tl_k_dropout_bwd(const tl_kctx *k) {
  double p = k->n->attrs.p;
  int64_t n = k->n->numel;
  float *gx = k->gin[0];
  if (!gx)
    return TL_OK;
  if (!k->training || p == 0) {
    for (int64_t i = 0; i < n; i++)
      gx[i] += k->gout[i];
    return TL_OK;
  }
  float scale = (float)(1.0 / (1.0 - p));
  uint64_t s = tl_splitmix64(tl_splitmix64(tl_splitmix64(k->seed) ^ k->step) ^ (uint64_t)(uint32_t)k->id);
  for (int64_t i = 0; i < n; i++)
    if (tl_rand_counter_uniform(s, (uint64_t)i) >= p)
      gx[i] += k->gout[i] * scale;
  return TL_OK;
}

static tl_code emb_index(const tl_kctx *k, int64_t r, int64_t rows, int64_t *out) {
  float v = k->in[0][r];
  if (!(v >= 0 && v < (float)rows) || v != floorf(v)) {
    char w[96];
    return tl_fail(k->st, TL_EVALUE, "%s: index %g at position %lld is not an integer in [0, %lld)",
                   tl_node_where(k, w, sizeof w), (double)v, (long long)r, (long long)rows);
  }
  *out = (int64_t)v;
  return TL_OK;
}

/* y[r, :] = table[idx[r], :] */
tl_code tl_k_embedding_fwd(const tl_kctx *k) {
  const tl_node *t = &k->g->nodes[k->n->parents[1]];
  int64_t rows = t->shape[0], D = t->shape[1], R = k->g->nodes[k->n->parents[0]].numel;
  for (int64_t r = 0; r < R; r++) {
    int64_t ix = 0;
    TL_TRY(emb_index(k, r, rows, &ix));
    memcpy(k->out + r * D, k->in[1] + ix * D, (size_t)D * sizeof(float));
  }
  return TL_OK;
}

/* gtable[idx[r], :] += g[r, :]; indices get no gradient */
tl_code tl_k_embedding_bwd(const tl_kctx *k) {
  const tl_node *t = &k->g->nodes[k->n->parents[1]];
  int64_t rows = t->shape[0], D = t->shape[1], R = k->g->nodes[k->n->parents[0]].numel;
  if (!k->gin[1])
    return TL_OK;
  for (int64_t r = 0; r < R; r++) {
    int64_t ix = 0;
    TL_TRY(emb_index(k, r, rows, &ix));
    for (int64_t d = 0; d < D; d++)
      k->gin[1][ix * D + d] += k->gout[r * D + d];
  }
  return TL_OK;
}

/* Attention geometry and forward intermediates in workspace:
 * qkv (N L 3E) = x W_in^T + b_in; P (N H L L) softmax weights; O (N L E) head outputs. */
typedef struct attn {
  int64_t N, L, E, H, dh;
  float scale;
  int causal;
  float *qkv, *P, *O;
} attn;

/* f32-ref dot rule: left fold from -0 (same bits as from the first product), each product rounded */
static float dot_ref(const float *x, const float *w, int64_t n) {
  float acc = -0.0f;
  for (int64_t i = 0; i < n; i++)
    acc = acc + x[i] * w[i];
  return acc;
}

static tl_code attn_forward(const tl_kctx *k, attn *a, float *extra, size_t nextra, float **extra_out) {
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  a->N = xn->shape[0], a->L = xn->shape[1], a->E = xn->shape[2], a->H = k->n->attrs.heads;
  a->dh = a->E / a->H;
  a->scale = (float)(1.0 / sqrt((double)a->dh));
  a->causal = k->n->attrs.causal != 0;
  int64_t NL = a->N * a->L, E = a->E, L = a->L;
  size_t need = (size_t)(NL * 3 * E + a->N * a->H * L * L + NL * E) + nextra;
  float *w = tl_ws_get(k->ws, need);
  if (!w)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory for attention workspace");
  (void)extra;
  a->qkv = w, a->P = w + NL * 3 * E, a->O = a->P + a->N * a->H * L * L;
  if (extra_out)
    *extra_out = a->O + NL * E;
  const float *x = k->in[0], *win = k->in[1], *bin = k->in[2];
  int ref = k->kernels == TL_KERNELS_REF;
  if (ref) { /* f32-ref: each projection by the dot rule, bias last */
    for (int64_t r = 0; r < NL; r++)
      for (int64_t c = 0; c < 3 * E; c++)
        a->qkv[r * 3 * E + c] = dot_ref(x + r * E, win + c * E, E) + bin[c];
  } else {
    k->be->sgemm(0, 1, (int)NL, (int)(3 * E), (int)E, 1.0f, x, (int)E, win, (int)E, 0.0f, a->qkv,
                 (int)(3 * E));
    for (int64_t r = 0; r < NL; r++)
      for (int64_t c = 0; c < 3 * E; c++)
        a->qkv[r * 3 * E + c] += bin[c];
  }
  const float root = sqrtf((float)a->dh); /* f32-ref divides by fl(sqrt(dh)) */
  for (int64_t n = 0; n < a->N; n++)
    for (int64_t h = 0; h < a->H; h++) {
      float *P = a->P + (n * a->H + h) * L * L;
      for (int64_t i = 0; i < L; i++) {
        const float *q = a->qkv + (n * L + i) * 3 * E + h * a->dh;
        int64_t jmax = a->causal ? i + 1 : L; /* causal: j > i gets exactly zero weight */
        float m = -INFINITY;
        for (int64_t j = 0; j < jmax; j++) {
          const float *kk = a->qkv + (n * L + j) * 3 * E + E + h * a->dh;
          float s = -0.0f;
          for (int64_t d = 0; d < a->dh; d++)
            s = s + q[d] * kk[d];
          s = ref ? s / root : s * a->scale;
          P[i * L + j] = s;
          if (j == 0 || s > m)
            m = s;
        }
        float sum = -0.0f;
        for (int64_t j = 0; j < jmax; j++) {
          P[i * L + j] = expf(P[i * L + j] - m);
          sum = sum + P[i * L + j];
        }
        for (int64_t j = 0; j < L; j++)
          P[i * L + j] = j < jmax ? P[i * L + j] / sum : 0.0f;
        float *o = a->O + (n * L + i) * E + h * a->dh;
        for (int64_t d = 0; d < a->dh; d++)
          o[d] = -0.0f; /* folds start at -0: the same bits as starting from the first term */
        for (int64_t j = 0; j < jmax; j++) {
          const float *v = a->qkv + (n * L + j) * 3 * E + 2 * E + h * a->dh;
          float pij = P[i * L + j];
          for (int64_t d = 0; d < a->dh; d++)
            o[d] += pij * v[d];
        }
      }
    }
  return TL_OK;
}

/* y = concat_h(softmax(Q_h K_h^T / sqrt(dh) + mask) V_h) W_out^T + b_out, Q K V = x W_in^T + b_in */
tl_code tl_k_attention_fwd(const tl_kctx *k) {
  attn a;
  TL_TRY(attn_forward(k, &a, NULL, 0, NULL));
  int64_t NL = a.N * a.L, E = a.E;
  if (k->kernels == TL_KERNELS_REF) { /* f32-ref: dot rule, bias last */
    for (int64_t r = 0; r < NL; r++)
      for (int64_t c = 0; c < E; c++)
        k->out[r * E + c] = dot_ref(a.O + r * E, k->in[3] + c * E, E) + k->in[4][c];
    return TL_OK;
  }
  k->be->sgemm(0, 1, (int)NL, (int)E, (int)E, 1.0f, a.O, (int)E, k->in[3], (int)E, 0.0f, k->out, (int)E);
  for (int64_t r = 0; r < NL; r++)
    for (int64_t c = 0; c < E; c++)
      k->out[r * E + c] += k->in[4][c];
  return TL_OK;
}

/* Recomputes the forward; gO = gY W_out; gP_ij = gO_i . v_j; gS = P (gP - rowsum(P gP));
 * gq_i += scale sum_j gS_ij k_j; gk_j += scale sum_i gS_ij q_i; gv_j += sum_i P_ij gO_i;
 * gx += gqkv W_in; gW_in += gqkv^T x; gW_out += gY^T O; biases get column sums. */
tl_code tl_k_attention_bwd(const tl_kctx *k) {
  attn a;
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  int64_t NL0 = xn->shape[0] * xn->shape[1], E0 = xn->shape[2];
  float *ex;
  TL_TRY(attn_forward(k, &a, NULL, (size_t)(NL0 * E0 + NL0 * 3 * E0 + xn->shape[1]), &ex));
  int64_t NL = a.N * a.L, E = a.E, L = a.L;
  float *gO = ex, *gqkv = ex + NL * E, *gp = gqkv + NL * 3 * E;
  const float *gY = k->gout;
  if (k->gin[3]) /* gW_out += gY^T O */
    k->be->sgemm(1, 0, (int)E, (int)E, (int)NL, 1.0f, gY, (int)E, a.O, (int)E, 1.0f, k->gin[3], (int)E);
  if (k->gin[4])
    for (int64_t r = 0; r < NL; r++)
      for (int64_t c = 0; c < E; c++)
        k->gin[4][c] += gY[r * E + c];
  if (!k->gin[0] && !k->gin[1] && !k->gin[2])
    return TL_OK;
  k->be->sgemm(0, 0, (int)NL, (int)E, (int)E, 1.0f, gY, (int)E, k->in[3], (int)E, 0.0f, gO, (int)E);
  memset(gqkv, 0, (size_t)(NL * 3 * E) * sizeof(float));
  for (int64_t n = 0; n < a.N; n++)
    for (int64_t h = 0; h < a.H; h++) {
      const float *P = a.P + (n * a.H + h) * L * L;
      for (int64_t i = 0; i < L; i++) {
        const float *go = gO + (n * L + i) * E + h * a.dh;
        float dot = 0.0f;
        for (int64_t j = 0; j < L; j++) {
          const float *v = a.qkv + (n * L + j) * 3 * E + 2 * E + h * a.dh;
          float *gv = gqkv + (n * L + j) * 3 * E + 2 * E + h * a.dh;
          float s = 0.0f;
          for (int64_t d = 0; d < a.dh; d++) {
            s += go[d] * v[d];
            gv[d] += P[i * L + j] * go[d];
          }
          gp[j] = s;
          dot += P[i * L + j] * s;
        }
        const float *q = a.qkv + (n * L + i) * 3 * E + h * a.dh;
        float *gq = gqkv + (n * L + i) * 3 * E + h * a.dh;
        for (int64_t j = 0; j < L; j++) {
          float gs = P[i * L + j] * (gp[j] - dot) * a.scale;
          if (gs == 0.0f)
            continue;
          const float *kk = a.qkv + (n * L + j) * 3 * E + E + h * a.dh;
          float *gk = gqkv + (n * L + j) * 3 * E + E + h * a.dh;
          for (int64_t d = 0; d < a.dh; d++) {
            gq[d] += gs * kk[d];
            gk[d] += gs * q[d];
          }
        }
      }
    }
  if (k->gin[0])
    k->be->sgemm(0, 0, (int)NL, (int)E, (int)(3 * E), 1.0f, gqkv, (int)(3 * E), k->in[1], (int)E, 1.0f,
                 k->gin[0], (int)E);
  if (k->gin[1])
    k->be->sgemm(1, 0, (int)(3 * E), (int)E, (int)NL, 1.0f, gqkv, (int)(3 * E), k->in[0], (int)E, 1.0f,
                 k->gin[1], (int)E);
  if (k->gin[2])
    for (int64_t r = 0; r < NL; r++)
      for (int64_t c = 0; c < 3 * E; c++)
        k->gin[2][c] += gqkv[r * 3 * E + c];
  return TL_OK;
}
