/* oracle_graph.c - the oracle's graph: the certificate's embedded graph read by the LIBRARY's IR
 * reader (tl_ir_json_read) after renaming the certificate's keys to the IR's ("op" -> "kind",
 * "data" -> "weights" with "numel", "input"/"output" -> "input_id"/"output_id"), then hashed with
 * tl_graph_hash.  Two attributes the certificate carries outside the graph hash are checked here
 * instead of passed on (docs/certificates.md): conv2d's kernel must be its weight's spatial shape and
 * a pool's groups must be 1.  Keys the IR does not know are dropped (they carry no meaning). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cm_oracle.h"
#include "torchlean/model_file.h"

/* is key one the IR reader accepts on a node of this op? */
static int ir_key(const char *k, int op) {
  static const char *const common[] = {"id", "kind", "parents", "shape", "name", NULL};
  for (int i = 0; common[i]; i++)
    if (!strcmp(k, common[i]))
      return 1;
  if (op == TL_OP_PARAM && (!strcmp(k, "param_kind") || !strcmp(k, "numel") || !strcmp(k, "weights")))
    return 1;
  for (const tl_attr_field *f = tl_op_get((tl_op)op)->attrs; f->name; f++)
    if (!strcmp(k, f->name))
      return 1;
  return 0;
}

/* one certificate node as an IR node (new tree); *pool_groups: the pool's groups (1 when absent) */
static cJSON *ir_node(const cJSON *n, long *pool_groups) {
  cJSON *o = cJSON_CreateObject();
  const cJSON *opj = cJSON_GetObjectItemCaseSensitive(n, "op");
  int op = cJSON_IsString(opj) ? tl_op_from_name(opj->valuestring) : -1;
  *pool_groups = 1;
  for (const cJSON *k = n ? n->child : NULL; k; k = k->next) {
    const char *key = k->string ? k->string : "";
    if (!strcmp(key, "op"))
      cJSON_AddItemToObject(o, "kind", cJSON_Duplicate(k, 1));
    else if (!strcmp(key, "data")) {
      cJSON_AddItemToObject(o, "weights", cJSON_Duplicate(k, 1));
      cJSON_AddNumberToObject(o, "numel", cJSON_GetArraySize(k));
    } else if (!strcmp(key, "groups") && (op == TL_OP_AVG_POOL2D || op == TL_OP_MAX_POOL2D))
      *pool_groups = cJSON_IsNumber(k) ? (long)k->valuedouble : -1;
    else if (op >= 0 && ir_key(key, op))
      cJSON_AddItemToObject(o, key, cJSON_Duplicate(k, 1));
  }
  return o;
}

/* conv2d kernels equal to their weights' spatial shape, pool groups 1; 0, or -1 (why) */
static int unhashed_ok(const cJSON *nodes, const tl_graph *g, const long *groups, char *why, size_t nwhy) {
  int i = 0;
  for (const cJSON *n = nodes->child; n; n = n->next, i++) {
    const tl_node *t = &g->nodes[i];
    if ((t->op == TL_OP_AVG_POOL2D || t->op == TL_OP_MAX_POOL2D) && groups[i] != 1) {
      snprintf(why, nwhy, "node %d: a pool with groups %ld", i, groups[i]);
      return -1;
    }
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(n, "kernel");
    if (t->op == TL_OP_CONV2D && k) {
      const tl_node *w = &g->nodes[t->parents[1]];
      const cJSON *k0 = cJSON_GetArrayItem(k, 0), *k1 = cJSON_GetArrayItem(k, 1);
      if (cJSON_GetArraySize(k) != 2 || !cJSON_IsNumber(k0) || !cJSON_IsNumber(k1) ||
          k0->valuedouble != (double)w->shape[2] || k1->valuedouble != (double)w->shape[3]) {
        snprintf(why, nwhy, "node %d: a conv2d kernel unlike its weight's shape", i);
        return -1;
      }
    }
  }
  return 0;
}

/* the IR document of the certificate's graph gj (new tree); groups[i] per node (caller frees) */
static cJSON *ir_doc(const cJSON *gj, long **groups) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "format", TL_IR_FORMAT);
  const char *map[4][2] = {
      {"input", "input_id"}, {"output", "output_id"}, {"inputs", "inputs"}, {"outputs", "outputs"}};
  for (int i = 0; i < 4; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(gj, map[i][0]);
    if (v)
      cJSON_AddItemToObject(d, map[i][1], cJSON_Duplicate(v, 1));
  }
  const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(gj, "nodes");
  cJSON *nd = cJSON_AddArrayToObject(d, "nodes");
  int nn = cJSON_IsArray(nodes) ? cJSON_GetArraySize(nodes) : 0, i = 0;
  *groups = calloc((size_t)nn + 1, sizeof **groups);
  for (const cJSON *n = nn ? nodes->child : NULL; n; n = n->next, i++)
    cJSON_AddItemToArray(nd, ir_node(n, &(*groups)[i]));
  return d;
}

int cmo_graph_read(const cJSON *doc, tl_graph **out, char *why, size_t nwhy) {
  *out = NULL;
  const cJSON *gj = cJSON_GetObjectItemCaseSensitive(doc, "graph");
  if (!cJSON_IsObject(gj)) {
    snprintf(why, nwhy, "no graph object");
    return -1;
  }
  long *groups = NULL;
  cJSON *ir = ir_doc(gj, &groups);
  char *txt = cJSON_PrintUnformatted(ir);
  cJSON_Delete(ir);
  tl_status st;
  tl_graph *g = NULL;
  tl_code rc = txt ? tl_ir_json_read(txt, strlen(txt), "graph", &g, &st) : TL_ENOMEM;
  free(txt);
  int r = 0;
  if (rc != TL_OK)
    r = -1, snprintf(why, nwhy, "the library's IR reader refuses the graph: %s", txt ? st.msg : "no memory");
  else if (g->ninputs != 1 || g->noutputs < 1)
    r = -1, snprintf(why, nwhy, "graph with %d inputs and %d outputs", g->ninputs, g->noutputs);
  else
    r = unhashed_ok(cJSON_GetObjectItemCaseSensitive(gj, "nodes"), g, groups, why, nwhy);
  free(groups);
  if (r)
    tl_graph_free(g);
  else
    *out = g;
  return r;
}

int cm_graph_hash_hex(const cJSON *doc, char hex[65], char *why, size_t nwhy) {
  tl_graph *g;
  if (cmo_graph_read(doc, &g, why, nwhy))
    return -1;
  tl_graph_hash_hex(g, hex);
  tl_graph_free(g);
  return 0;
}

int cmo_hash_matches(const cJSON *doc, const tl_graph *g) {
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(doc, "graph_sha256");
  char hex[65];
  tl_graph_hash_hex(g, hex);
  return cJSON_IsString(h) && strlen(h->valuestring) == 64 && !strcasecmp(h->valuestring, hex);
}
