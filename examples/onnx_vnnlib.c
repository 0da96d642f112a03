/* onnx_vnnlib.c - verify an ONNX network against a VNN-LIB property (the format of the VNN-COMP
 * benchmarks) and, when the property holds, write a certificate for torchlean-check.
 *
 *   cc onnx_vnnlib.c $(pkg-config --cflags --libs torchlean)
 *   ./a.out test_small.onnx test_small.vnnlib cert.json   # prints unsat, sat, unknown or timeout
 */
#include <stdio.h>

#include <torchlean/torchlean.h>

int main(int argc, char **argv) {
  if (argc < 3)
    return fprintf(stderr, "usage: onnx_vnnlib MODEL.onnx PROPERTY.vnnlib [CERT.json]\n"), 2;
  tl_status st;
  tl_graph *g = NULL;
  tl_vnnlib *v = NULL;
  tl_vnn_result *res = NULL;
  tl_vnn_opts o = tl_vnn_opts_default(); /* f32-any: sound for any float32 evaluation */
  o.timeout_s = 60;
  o.keep_evidence = argc > 3; /* the certificate needs the bounds */
  /* tl_onnx_import reads the ONNX graph (tl_model_load also accepts .onnx files). */
  int bad = tl_onnx_import(argv[1], &g, &st) || tl_vnnlib_parse_file(argv[2], &v, &st) ||
            tl_vnn_solve(g, v, &o, &res, &st);
  if (!bad) {
    /* unsat: the property's unsafe condition is unreachable, i.e. the network is safe */
    printf("%s (%d of %d boxes verified, %.2f s)\n", tl_vnn_answer_name(res->answer), res->boxes_verified,
           res->nboxes, res->seconds);
    if (res->answer == TL_VNN_SAT) /* a float32 counterexample, confirmed exactly */
      printf("counterexample: x[0] = %g, y[0] = %g\n", res->cex_x[0], res->cex_y[0]);
    if (res->answer == TL_VNN_UNSAT && argc > 3 && !(bad = tl_vnn_cert_write(argv[3], g, v, res, NULL, &st)))
      printf("certificate: %s\n", argv[3]);
  }
  if (bad)
    fprintf(stderr, "onnx_vnnlib: %s\n", st.msg);
  tl_vnn_result_free(res), tl_vnnlib_free(v), tl_graph_free(g);
  return bad;
}
