/* test_tensor.c - tensors: allocation, shapes, overflow guards, views, dtype conversion. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "torchlean/tensor.h"

Test(tensor, new_is_zero_filled_row_major) {
  tl_tensor *t;
  int64_t shape[] = {2, 3};
  cr_assert_eq(tl_tensor_new(&t, TL_F32, 2, shape, NULL), TL_OK);
  cr_assert_eq(t->numel, 6);
  for (int i = 0; i < 6; i++)
    cr_assert_eq(tl_tensor_f32(t)[i], 0.0f);
  tl_tensor_set(t, 4, 2.5); /* row 1, col 1 */
  cr_assert_eq(tl_tensor_f32(t)[1 * 3 + 1], 2.5f);
  tl_tensor_free(t);
}

Test(tensor, scalar_has_one_element) {
  tl_tensor *t;
  cr_assert_eq(tl_tensor_new(&t, TL_F64, 0, NULL, NULL), TL_OK);
  cr_assert_eq(t->numel, 1);
  tl_tensor_free(t);
}

Test(tensor, negative_dimension_rejected_with_message) {
  tl_tensor *t = (tl_tensor *)1;
  tl_status st;
  int64_t shape[] = {3, -1};
  cr_assert_eq(tl_tensor_new(&t, TL_F32, 2, shape, &st), TL_ESHAPE);
  cr_assert_null(t);
  cr_assert(strstr(st.msg, "dimension 1") != NULL, "%s", st.msg);
}

Test(tensor, overflowing_product_rejected) {
  tl_status st;
  int64_t numel;
  int64_t shape[] = {INT64_C(1) << 31, INT64_C(1) << 31, 4};
  cr_assert_eq(tl_shape_numel(3, shape, 4, &numel, "x.npy", &st), TL_ENOMEM);
  cr_assert(strstr(st.msg, "x.npy") != NULL);
  int64_t huge[] = {INT64_MAX, 2};
  cr_assert_neq(tl_shape_numel(2, huge, 1, &numel, "y", NULL), TL_OK);
  int64_t zero[] = {0, INT64_MAX};
  cr_assert_eq(tl_shape_numel(2, zero, 8, &numel, "z", NULL), TL_OK);
  cr_assert_eq(numel, 0);
}

Test(tensor, reshape_view_shares_bytes_and_outlives_source) {
  tl_tensor *t, *v;
  int64_t shape[] = {2, 3}, flat[] = {6}, bad[] = {4};
  cr_assert_eq(tl_tensor_new(&t, TL_I32, 2, shape, NULL), TL_OK);
  cr_assert_eq(tl_tensor_reshape(&v, t, 1, flat, NULL), TL_OK);
  ((int32_t *)t->data)[5] = 42;
  cr_assert_eq(((int32_t *)v->data)[5], 42);
  tl_tensor_free(t);
  cr_assert_eq(tl_tensor_get(v, 5), 42.0);
  tl_tensor *w;
  tl_status st;
  cr_assert_eq(tl_tensor_reshape(&w, v, 1, bad, &st), TL_ESHAPE);
  cr_assert(strstr(st.msg, "[6]") && strstr(st.msg, "[4]"), "%s", st.msg);
  tl_tensor_free(v);
}

Test(tensor, convert_saturates_and_handles_nan) {
  tl_tensor *t, *u;
  int64_t shape[] = {4};
  double vals[] = {300.0, -5.0, NAN, 3.7};
  cr_assert_eq(tl_tensor_from(&t, TL_F64, 1, shape, vals, NULL), TL_OK);
  cr_assert_eq(tl_tensor_convert(&u, t, TL_U8, NULL), TL_OK);
  uint8_t *b = u->data;
  cr_assert_eq(b[0], 255);
  cr_assert_eq(b[1], 0);
  cr_assert_eq(b[2], 0);
  cr_assert_eq(b[3], 3);
  tl_tensor_free(u);
  cr_assert_eq(tl_tensor_convert(&u, t, TL_BOOL, NULL), TL_OK);
  cr_assert_eq(((uint8_t *)u->data)[1], 1);
  tl_tensor_free(u);
  tl_tensor_free(t);
}

Test(tensor, float16_round_trip_and_rounding) {
  /* every binary16 value decodes and re-encodes to the same bits */
  for (uint32_t h = 0; h < 65536; h++) {
    double x = tl_f16_to_f64((uint16_t)h);
    if (isnan(x))
      continue;
    cr_assert_eq(tl_f64_to_f16(x), h, "bits %04x", h);
  }
  cr_assert_eq(tl_f64_to_f16(1.0), 0x3c00);
  cr_assert_eq(tl_f64_to_f16(65504.0), 0x7bff);
  cr_assert_eq(tl_f64_to_f16(65520.0), 0x7c00);           /* ties away from max go to inf */
  cr_assert_eq(tl_f64_to_f16(1.0 + 0x1p-11), 0x3c00);     /* tie to even */
  cr_assert_eq(tl_f64_to_f16(1.0 + 3 * 0x1p-11), 0x3c02); /* tie to even (up) */
  cr_assert_eq(tl_f64_to_f16(0x1p-25), 0x0000);           /* half the smallest subnormal: even */
  cr_assert_eq(tl_f64_to_f16(0x1.8p-25), 0x0001);
  cr_assert_eq(tl_f64_to_f16(-0.0), 0x8000);
}

Test(tensor, shape_str) {
  char buf[64];
  int64_t s[] = {1, 28, 28};
  cr_assert_str_eq(tl_shape_str(3, s, buf, sizeof buf), "[1, 28, 28]");
  cr_assert_str_eq(tl_shape_str(0, NULL, buf, sizeof buf), "[]");
}
