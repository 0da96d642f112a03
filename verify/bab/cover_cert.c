/* cover_cert.c - certificates with covers: the samples of every part (a cover's leaves in leaf order)
 * and a top-level "covers" array describing each split tree over its root box (docs/certificates.md,
 * "Covers"; include/torchlean/bab.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "bab_internal.h"

static cJSON *hexarr(const double *v, int64_t n) {
  cJSON *a = cJSON_CreateArray();
  char buf[64];
  for (int64_t i = 0; a && i < n; i++) {
    snprintf(buf, sizeof buf, "%a", v[i]);
    cJSON_AddItemToArray(a, cJSON_CreateString(buf));
  }
  return a;
}

/* {"split": d, "at": "hex", "children": [i, j]} or {"leaf": sample} */
static cJSON *tree_json(const tl_bab_result *b, int first_sample) {
  cJSON *t = cJSON_CreateArray();
  char buf[64];
  for (int i = 0; t && i < b->nnodes; i++) {
    const tl_bab_node *nd = &b->nodes[i];
    cJSON *o = cJSON_CreateObject();
    if (nd->split >= 0) {
      cJSON_AddNumberToObject(o, "split", nd->split);
      snprintf(buf, sizeof buf, "%a", nd->at);
      cJSON_AddStringToObject(o, "at", buf);
      cJSON *ch = cJSON_AddArrayToObject(o, "children");
      cJSON_AddItemToArray(ch, cJSON_CreateNumber(nd->child[0]));
      cJSON_AddItemToArray(ch, cJSON_CreateNumber(nd->child[1]));
    } else {
      cJSON_AddNumberToObject(o, "leaf", first_sample + nd->leaf);
    }
    cJSON_AddItemToArray(t, o);
  }
  return t;
}

/* every part usable: a result, or a verified cover with one verified leaf per tree leaf */
static tl_code check_parts(int nparts, const tl_bab_part *parts, int *nsamples, tl_status *st) {
  *nsamples = 0;
  for (int k = 0; k < nparts; k++) {
    const tl_bab_result *b = parts[k].bab;
    if (!b) {
      if (!parts[k].res)
        return tl_fail(st, TL_EARG, "cert: part %d has neither a result nor a cover", k);
      (*nsamples)++;
      continue;
    }
    if (b->status != TL_BAB_VERIFIED || b->nleaves < 1)
      return tl_fail(st, TL_EARG, "cert: part %d: only a verified cover has a certificate", k);
    for (int i = 0; i < b->nnodes; i++)
      if (b->nodes[i].split < 0 && (b->nodes[i].leaf < 0 || b->nodes[i].leaf >= b->nleaves))
        return tl_fail(st, TL_EARG, "cert: part %d: tree node %d is not a verified leaf", k, i);
    *nsamples += b->nleaves;
  }
  return TL_OK;
}

/* the covers array: one entry per cover part; the property is copied from its first leaf's sample */
static void covers_json(cJSON *root, int nparts, const tl_bab_part *parts) {
  cJSON *samples = cJSON_GetObjectItemCaseSensitive(root, "samples");
  cJSON *cv = cJSON_AddArrayToObject(root, "covers");
  int s = 0;
  for (int k = 0; k < nparts; k++) {
    const tl_bab_result *b = parts[k].bab;
    if (!b) {
      s++;
      continue;
    }
    cJSON *c = cJSON_CreateObject(), *rb = cJSON_AddObjectToObject(c, "root");
    cJSON_AddItemToObject(rb, "lo", hexarr(parts[k].region->lo, parts[k].region->n));
    cJSON_AddItemToObject(rb, "hi", hexarr(parts[k].region->hi, parts[k].region->n));
    cJSON *sp = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(samples, s), "property");
    cJSON_AddItemToObject(c, "property", cJSON_Duplicate(sp, 1));
    cJSON_AddItemToObject(c, "tree", tree_json(b, s));
    cJSON_AddItemToArray(cv, c);
    s += b->nleaves;
  }
}

tl_code tl_bab_cert_write(const char *path, const tl_graph *g, int nparts, const tl_bab_part *parts,
                          const tl_cert_info *info, tl_status *st) {
  int n = 0, ncov = 0;
  TL_TRY(check_parts(nparts, parts, &n, st));
  const tl_region **reg = calloc((size_t)(n ? n : 1), sizeof *reg);
  const tl_property **prop = calloc((size_t)(n ? n : 1), sizeof *prop);
  const tl_verify_result **res = calloc((size_t)(n ? n : 1), sizeof *res);
  tl_code rc = reg && prop && res ? TL_OK : tl_fail(st, TL_ENOMEM, "cert: out of memory");
  int s = 0;
  for (int k = 0; rc == TL_OK && k < nparts; k++) {
    const tl_bab_result *b = parts[k].bab;
    if (!b) {
      reg[s] = parts[k].region, prop[s] = parts[k].prop, res[s++] = parts[k].res;
      continue;
    }
    ncov++;
    for (int i = 0; i < b->nleaves; i++)
      reg[s] = b->leaf_region[i], prop[s] = parts[k].prop, res[s++] = b->leaf_res[i];
  }
  cJSON *root = NULL;
  if (rc == TL_OK)
    rc = tlv_cert_doc(g, n, reg, prop, res, info, &root, st);
  free(reg), free(prop), free(res);
  if (rc != TL_OK)
    return rc;
  if (ncov)
    covers_json(root, nparts, parts);
  return tlv_cert_emit(path, root, st);
}
