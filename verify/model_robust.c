/* model_robust.c - tl_verify_model_robust (verify.h): trace, region, property, verify and certify
 * in one call, for programs that start from a tl_model. */
#include <stdlib.h>

#include "torchlean/nn.h"
#include "torchlean/verify.h"

/* the steps after tracing: region, property, verification, certificate */
static tl_code verify_graph(const tl_graph *g, const float *x, int label, double eps, const tl_verify_opts *o,
                            const char *cert_path, tl_verify_result **out, tl_status *st) {
  int64_t n = g->nodes[g->inputs[0]].numel, nout = g->nodes[g->outputs[0]].numel;
  tl_verify_opts opts = o ? *o : tl_verify_opts_default();
  opts.keep_evidence = opts.keep_evidence || cert_path != NULL; /* a certificate needs the evidence */
  tl_region *r = NULL;
  tl_property *p = NULL;
  tl_code rc = tl_region_linf(&r, x, n, eps, 0, 0, 0, st); /* { x' : |x' - x| <= eps } */
  if (rc == TL_OK)
    rc = tl_property_robust(&p, nout, label, st); /* y_j - y_label < 0 for every j != label */
  if (rc == TL_OK)
    rc = tl_verify_sample(g, r, p, &opts, out, st);
  if (rc == TL_OK && cert_path)
    rc = tl_cert_write(cert_path, g, r, p, *out, NULL, st);
  if (rc != TL_OK) {
    tl_verify_result_free(*out);
    *out = NULL;
  }
  tl_property_free(p);
  tl_region_free(r);
  return rc;
}

tl_code tl_verify_model_robust(const tl_model *m, const float *x, int label, double eps,
                               const tl_verify_opts *o, const char *cert_path, tl_verify_result **out,
                               tl_status *st) {
  *out = NULL;
  if (!m || !x)
    return tl_fail(st, TL_EARG, "tl_verify_model_robust: need a model and an input");
  tl_graph *g = NULL;
  TL_TRY(tl_model_trace(m, 1, &g, st));
  tl_code rc = verify_graph(g, x, label, eps, o, cert_path, out, st);
  tl_graph_free(g);
  return rc;
}
