/* hello.c - a program built against the installed TorchLean package (pkg-config and CMake, shared
 * and static): it trains a small classifier, verifies one input's robustness with CROWN in f32-any
 * semantics and writes a certificate (the install test then has torchlean-check check it).  It uses
 * the first-program helpers tl_dataset_from_labels and tl_verify_model_robust. */
#include <stdio.h>

#include <torchlean/torchlean.h>

/* two classes on a 4 x 4 grid of [-1, 1]^2: class 1 when x0 + x1 > 0 */
static tl_dataset *grid(tl_status *st) {
  static int labels[16];
  tl_tensor *x = NULL;
  tl_dataset *d = NULL;
  int64_t xs[] = {16, 2};
  if (tl_tensor_new(&x, TL_F32, 2, xs, st))
    return NULL;
  for (int i = 0; i < 16; i++) {
    float a = -1.0f + (float)(i / 4) * 2.0f / 3.0f, b = -1.0f + (float)(i % 4) * 2.0f / 3.0f;
    tl_tensor_f32(x)[2 * i] = a, tl_tensor_f32(x)[2 * i + 1] = b;
    labels[i] = a + b > 0;
  }
  return tl_dataset_from_labels(&d, x, labels, 2, "grid", st) == TL_OK ? d : NULL;
}

static int train(tl_model **m, tl_status *st) {
  tl_dataset *d = grid(st);
  int64_t dims[] = {2, 16, 2}, in[] = {2};
  *m = tl_model_new(1);
  tl_module *root = d && *m ? tl_nn_mlp(*m, 3, dims, TL_OP_RELU) : NULL;
  if (!root)
    return tl_dataset_free(d), 1;
  tl_model_set_root(*m, root, 1, in);
  tl_trainer_config cfg = tl_trainer_config_default(TL_TASK_CLASSIFICATION);
  cfg.optim = tl_optim_adam(0.05);
  tl_train_options o = tl_train_options_default();
  o.steps = 300, o.batch_size = 16, o.console = NULL;
  tl_trainer *t = NULL;
  tl_train_report rep;
  int bad =
      tl_model_status(*m, st) || tl_trainer_new(&t, *m, &cfg, st) || tl_trainer_train(t, d, &o, &rep, st);
  tl_trainer_free(t);
  tl_dataset_free(d);
  return bad;
}

int main(int argc, char **argv) {
  const char *cert = argc > 1 ? argv[1] : "hello-cert.json";
  tl_status st;
  tl_model *m = NULL;
  tl_verify_result *res = NULL;
  const float x[] = {0.8f, 0.6f}; /* deep inside class 1 */
  int bad = train(&m, &st) || tl_verify_model_robust(m, x, 1, 0.01, NULL, cert, &res, &st);
  if (bad)
    fprintf(stderr, "hello: %s\n", st.msg);
  else
    printf("hello torchlean: trained, verdict %s, certificate %s\n", tl_verdict_name(res->verdict), cert);
  int ok = !bad && res->verdict == TL_VERDICT_VERIFIED;
  tl_verify_result_free(res), tl_model_free(m);
  return ok ? 0 : 1;
}
