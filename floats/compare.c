/* compare.c - float32 values vs the exact semantics: spec enclosure, f32-ref emulator and f32-any
 * enclosure per node (floats.h).  |v - exact| is bounded by the distance from v to the farther
 * end of the spec enclosure, so every error reported here is an upper bound. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/floats.h"

/* upper bounds of |v - x| (abs), relative to min |x| over the enclosure, and in ulps of x */
static void errors_of(mpfi_srcptr e, float v, mpfr_ptr t, double *abs_e, double *rel_e, double *ulp_e) {
  if (isnan(v) || !mpfr_number_p(&e->left) || !mpfr_number_p(&e->right)) {
    *abs_e = *rel_e = *ulp_e = INFINITY;
    return;
  }
  double a1, a2;
  mpfr_sub_d(t, &e->right, (double)v, MPFR_RNDU);
  a1 = mpfr_get_d(t, MPFR_RNDU);
  mpfr_d_sub(t, (double)v, &e->left, MPFR_RNDU);
  a2 = mpfr_get_d(t, MPFR_RNDU);
  double a = fabs(a1) > fabs(a2) ? fabs(a1) : fabs(a2);
  *abs_e = a;
  mpfi_mig(t, e);
  double mig = mpfr_get_d(t, MPFR_RNDD);
  *rel_e = a == 0 ? 0 : mig > 0 ? a / mig : INFINITY;
  mpfi_mag(t, e);
  double ulp = tl_f32_ulp(mig > 0 ? mig : 0); /* the smallest ulp near the enclosure */
  *ulp_e = a / ulp;
}

static int same_float(float a, float b) {
  if (isnan(a) && isnan(b))
    return 1;
  uint32_t x, y;
  memcpy(&x, &a, 4);
  memcpy(&y, &b, 4);
  return x == y;
}

void tl_compare_report_free(tl_compare_report *r) {
  if (!r)
    return;
  free(r->nodes);
  tl_spec_result_free(r->spec);
  tl_f32_values_free(r->emu);
  tl_f32any_result_free(r->any);
  free(r);
}

static void upd(double *m, double v) {
  if (v > *m || isnan(v))
    *m = v;
}

tl_code tl_compare_run(const tl_spec_ctx *c, const tl_graph *g, const float *const *inputs,
                       const float *const *values, tl_compare_report **out, tl_status *st) {
  *out = NULL;
  tl_compare_report *r = calloc(1, sizeof *r);
  if (!r)
    return tl_fail(st, TL_ENOMEM, "compare: out of memory");
  r->nnodes = g->nnodes;
  r->nodes = calloc((size_t)g->nnodes + 1, sizeof *r->nodes);
  tl_code rc = r->nodes ? TL_OK : tl_fail(st, TL_ENOMEM, "compare: out of memory");
  if (rc == TL_OK)
    rc = tl_spec_eval_f32(c, g, inputs, NULL, &r->spec, st);
  if (rc == TL_OK)
    rc = tl_f32_emulate(g, inputs, &r->emu, st);
  if (rc != TL_OK) {
    tl_compare_report_free(r);
    return rc;
  }
  tl_status_clear(&r->any_status);
  if (tl_f32any_eval(c, g, inputs, NULL, &r->any, &r->any_status) != TL_OK)
    r->any = NULL;
  r->all_inside_any = 1;
  mpfr_t t, w;
  mpfr_init2(t, 128), mpfr_init2(w, 128);
  for (int id = 0; id < g->nnodes; id++) {
    tl_compare_node *cn = &r->nodes[id];
    cn->node = id;
    cn->numel = g->nodes[id].numel;
    cn->have_values = values && values[id];
    for (int64_t i = 0; i < cn->numel; i++) {
      mpfi_srcptr e = tl_spec_value(r->spec, id, i);
      double a, rl, u;
      float ev = r->emu->v[id][i];
      errors_of(e, ev, t, &a, &rl, &u);
      upd(&cn->emu_max_abs_err, a), upd(&cn->emu_max_rel_err, rl), upd(&cn->emu_max_ulp_err, u);
      if (r->any) {
        if (!tl_f32any_contains(r->any, id, i, ev))
          cn->emu_outside_any++;
        mpfi_diam_abs(w, tl_f32any_value(r->any, id, i));
        upd(&cn->max_any_width, mpfr_get_d(w, MPFR_RNDU));
      }
      if (!cn->have_values)
        continue;
      float v = values[id][i];
      errors_of(e, v, t, &a, &rl, &u);
      upd(&cn->max_abs_err, a), upd(&cn->max_rel_err, rl), upd(&cn->max_ulp_err, u);
      if (!same_float(v, ev))
        cn->emu_mismatch++;
      if (!r->any || !tl_f32any_contains(r->any, id, i, v))
        cn->outside_any++;
    }
    r->total_emu_mismatch += cn->emu_mismatch;
    if (cn->outside_any)
      r->all_inside_any = 0;
  }
  mpfr_clear(t), mpfr_clear(w);
  *out = r;
  return TL_OK;
}
