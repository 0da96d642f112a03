/* float32_vs_exact.c - how far is the float32 output of a network from the exact real-number
 * output of the same network (same float32 weights), and is that gap within the f32-any bound,
 * the enclosure of EVERY float32 evaluation order that the verifier uses?
 *
 *   cc float32_vs_exact.c $(pkg-config --cflags --libs torchlean) && ./a.out
 */
#include <math.h>
#include <stdio.h>

#include <torchlean/torchlean.h>

#define NOUT 10

int main(void) {
  tl_status st;
  /* An untrained MLP 784-256-128-10 on one 1x28x28 image (weights from seed 1, pixels from seed 2):
   * long dot products, so the float32 rounding is visible. */
  int64_t sample[] = {1, 28, 28}, hidden[] = {256, 128};
  tl_model *m = tl_zoo_mlp(1, 3, sample, 2, hidden, NOUT, NULL);
  float x[784];
  for (int i = 0; i < 784; i++)
    x[i] = (float)tl_rand_counter_uniform(2, (uint64_t)i);
  tl_graph *g = NULL;
  tl_region *r = NULL;
  tl_bounds *b = NULL;
  float y32[NOUT];
  double lo[NOUT], hi[NOUT];
  int bad = !m || tl_model_trace(m, 1, &g, &st) ||
            tl_verify_confirm_f32_runtime(g, x, y32, &st) || /* the float32 runtime */
            tl_exact_eval(g, x, lo, hi, &st) ||              /* exact: lo <= y <= hi */
            tl_region_linf(&r, x, 784, 0, 0, 0, 0, &st) ||   /* the single point x */
            tl_ibp(g, r, TL_SEM_F32_ANY, &b, &st);           /* every float32 evaluation at x */
  if (bad)
    return fprintf(stderr, "float32_vs_exact: %s\n", st.msg), 1;
  int out = g->outputs[0], ok = 1;
  printf("logit  float32          exact            |f32 - exact|  f32-any bound  gap/bound\n");
  for (int k = 0; k < NOUT; k++) {
    double exact = 0.5 * (lo[k] + hi[k]); /* the enclosure is tight to binary64 */
    double gap = fabs((double)y32[k] - exact);
    /* radius of the f32-any box around the exact value: no float32 evaluation can leave it */
    double bound = fmax(b->hi[out][k] - exact, exact - b->lo[out][k]);
    printf("%5d  %+.9e  %+.9e  %.3e      %.3e      %.1e\n", k, y32[k], exact, gap, bound, gap / bound);
    ok = ok && y32[k] >= b->lo[out][k] && y32[k] <= b->hi[out][k];
  }
  printf(ok ? "every float32 output lies inside its f32-any bound\n" : "BOUND VIOLATED\n");
  tl_bounds_free(b), tl_region_free(r), tl_graph_free(g), tl_model_free(m);
  return ok ? 0 : 1;
}
