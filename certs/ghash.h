/* ghash.h - the checker's own graph hash (docs/graph-hash.md) and model-file reader
 * (docs/model-file.md).  Part of torchlean-check's trusted base: the certs/ sources, GMP, MPFR, cJSON and
 * nettle (SHA-256).  Nothing here includes TorchLean code.
 *
 * Ownership: cm_model_read allocates *out's arrays; cm_model_free releases them. */
#ifndef TL_CHECK_GHASH_H
#define TL_CHECK_GHASH_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-256 of the canonical encoding of a graph given as JSON:
 *   nodes   - array of node objects with "id", the op name under `kindkey` ("op" in certificates,
 *             "kind" in IR JSON), "parents", "shape", every attribute of the op's schema by name,
 *             optional "name", and "param_kind" ("trainable", "buffer", "constant") on params;
 *   inputs, outputs - arrays of node ids;
 *   w       - w[i]: the numel(i) float32 weights of param node i (NULL for other nodes).
 * Returns 0 and fills out[32], or -1 with a message naming the node and field in err. */
int cg_hash_json(const cJSON *nodes, const char *kindkey, const cJSON *inputs, const cJSON *outputs,
                 const float *const *w, uint8_t out[32], char *err, size_t errlen);

/* A model file (safetensors layout, torchlean.model.v1), read strictly. */
typedef struct cm_model {
  int nnodes;
  int64_t *numel;      /* per node: element count of param nodes, 0 for other nodes */
  float **w;           /* per node: the param's weights (owned), NULL for other nodes */
  uint8_t hash[32];    /* recomputed from the file's graph and tensor bytes */
  uint8_t claimed[32]; /* __metadata__.graph_sha256 as stored in the file */
} cm_model;

/* Read and validate path; 0 on success, -1 with a message in err. */
int cm_model_read(const char *path, cm_model *out, char *err, size_t errlen);
void cm_model_free(cm_model *m);

/* 64 hex digits (either case) -> 32 bytes; 0 ok, -1 malformed */
int cg_hex_decode(const char *hex, uint8_t out[32]);

#endif
