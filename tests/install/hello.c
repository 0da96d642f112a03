/* hello.c - a tiny program built against the installed TorchLean package. */
#include <stdio.h>

#include <torchlean/torchlean.h>

int main(void) {
  tl_status st;
  tl_tensor *t;
  int64_t shape[] = {2, 3};
  if (tl_tensor_new(&t, TL_F32, 2, shape, &st) != TL_OK) {
    fprintf(stderr, "%s\n", st.msg);
    return 1;
  }
  tl_rng r;
  tl_rng_init(&r, 0);
  tl_rand_fill_uniform(&r, t, 0, 1);
  int64_t in[] = {3}, hidden[] = {4};
  tl_model *m = tl_zoo_mlp(0, 1, in, 1, hidden, 2, NULL);
  int ok = m && tl_model_status(m, &st) == TL_OK && tl_model_summary(m, 2, stdout, &st) == TL_OK;
  printf("hello torchlean: %lld elements, model %s\n", (long long)t->numel, ok ? "ok" : st.msg);
  tl_model_free(m);
  tl_tensor_free(t);
  return ok ? 0 : 1;
}
