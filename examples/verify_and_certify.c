/* verify_and_certify.c - train a small classifier, prove that its answer on a few inputs cannot
 * change within an L_inf ball (CROWN bounds, sound for ANY float32 evaluation of the network:
 * f32-any), and write the proofs as one certificate that the independent checker re-checks:
 *
 *   cc verify_and_certify.c $(pkg-config --cflags --libs torchlean) && ./a.out cert.json
 *   torchlean-check cert.json        # ACCEPT
 */
#include <stdio.h>

#include <torchlean/torchlean.h>

#define NS 5 /* samples to verify */

/* Two classes of points in [-1, 1]^2: class 1 when x0 + x1 > 0.  A small MLP learns it. */
static tl_model *train(tl_status *st) {
  static int labels[256];
  int64_t shape[] = {256, 2}, dims[] = {2, 16, 2};
  tl_tensor *x = NULL;
  tl_dataset *d = NULL;
  tl_rng rng;
  tl_rng_init(&rng, 3);
  if (tl_tensor_new(&x, TL_F32, 2, shape, st) != TL_OK)
    return NULL;
  for (int i = 0; i < 256; i++) {
    float *p = tl_tensor_f32(x) + 2 * i;
    p[0] = (float)(2 * tl_rng_uniform(&rng) - 1), p[1] = (float)(2 * tl_rng_uniform(&rng) - 1);
    labels[i] = p[0] + p[1] > 0;
  }
  tl_model *m = tl_model_new(1);
  tl_model_set_root(m, tl_nn_mlp(m, 3, dims, TL_OP_RELU), 1, shape + 1);
  tl_trainer_config cfg = tl_trainer_config_default(TL_TASK_CLASSIFICATION);
  cfg.optim = tl_optim_adam(0.02);
  tl_train_options o = tl_train_options_default();
  o.epochs = 30, o.batch_size = 32;
  tl_trainer *t = NULL;
  tl_train_report rep;
  int bad = tl_dataset_from_labels(&d, x, labels, 2, "points", st) || tl_model_status(m, st) ||
            tl_trainer_new(&t, m, &cfg, st) || tl_trainer_train(t, d, &o, &rep, st);
  tl_trainer_free(t);
  tl_dataset_free(d);
  if (bad)
    tl_model_free(m), m = NULL;
  return m;
}

int main(int argc, char **argv) {
  const char *cert = argc > 1 ? argv[1] : "verify_and_certify.json";
  const float xs[NS][2] = {{0.8f, 0.6f}, {-0.7f, -0.5f}, {0.5f, -0.1f}, {-0.2f, -0.6f}, {0.05f, -0.03f}};
  const double eps = 0.05; /* every input within 0.05 of the sample, in each coordinate */
  tl_status st;
  tl_graph *g = NULL;
  tl_region *r[NS] = {0};
  tl_property *p[NS] = {0};
  tl_verify_result *res[NS] = {0};
  tl_verify_opts o = tl_verify_opts_default(); /* CROWN, f32-any, counterexample search */
  o.keep_evidence = 1;                         /* the certificate needs the bounds */
  /* The verifier works on the traced inference graph (tl_verify_model_robust does all of this for
   * one sample in one call). */
  tl_model *m = train(&st);
  int bad = !m || tl_model_trace(m, 1, &g, &st);
  for (int i = 0; i < NS && !bad; i++) {
    int label = xs[i][0] + xs[i][1] > 0; /* the true class */
    bad = tl_region_linf(&r[i], xs[i], 2, eps, 0, 0, 0, &st) || tl_property_robust(&p[i], 2, label, &st) ||
          tl_verify_sample(g, r[i], p[i], &o, &res[i], &st);
    if (!bad)
      printf("sample %d (%+.2f, %+.2f) label %d: %s in %.1f ms\n", i, xs[i][0], xs[i][1], label,
             tl_verdict_name(res[i]->verdict), 1e3 * res[i]->seconds);
  }
  /* One certificate file for all samples: graph, regions, properties and the CROWN evidence. */
  if (!bad)
    bad = tl_cert_write_many(cert, g, NS, (const tl_region *const *)r, (const tl_property *const *)p,
                             (const tl_verify_result *const *)res, NULL, &st);
  if (bad)
    fprintf(stderr, "verify_and_certify: %s\n", st.msg);
  else
    printf("certificate: %s (check it with torchlean-check)\n", cert);
  int verified = 0;
  for (int i = 0; i < NS; i++) {
    verified += res[i] && res[i]->verdict == TL_VERDICT_VERIFIED;
    tl_verify_result_free(res[i]), tl_property_free(p[i]), tl_region_free(r[i]);
  }
  tl_graph_free(g);
  tl_model_free(m);
  return !bad && verified >= NS - 1 ? 0 : 1; /* the point near the boundary may stay open */
}
