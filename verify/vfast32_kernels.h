/* vfast32_kernels.h - the binary32 IBP kernels of vfast32.c.  Included once per instruction set
 * with KATTR (target attribute), VF / VI (float / int vector types of VL lanes), DOT2X4 and
 * CONV2X4 (names) defined.  Summation trees (the error bound in vfast32.c depends on them): in
 * DOT2X4 a head of h < VL elements (up to the first VL-aligned element of row 0) is summed in
 * order, lane q of an accumulator sums the products of the following elements i = q (mod VL) in
 * order, the lanes are then added in order 0..VL-1, then the tail (< VL elements) in order: every
 * product passes through at most 1 + n/VL + 3 VL roundings.  In CONV2X4 each output position is
 * one lane summing its K products in order: 1 + K roundings. */

/* for `rows` (<= 4) rows w + r*ld: S[r] = sum_i w[r][i] c[i], A[r] = sum_i |w[r][i]| a[i], n terms */
KATTR static void DOT2X4(const float *w, int64_t ld, int rows, const float *c, const float *a, int64_t n,
                         float *S, float *A) {
  const float *wr[4] = {w, rows > 1 ? w + ld : w, rows > 2 ? w + 2 * ld : w, rows > 3 ? w + 3 * ld : w};
  VI mask;
  for (int q = 0; q < VL; q++)
    mask[q] = 0x7fffffff;
  float s[4] = {0, 0, 0, 0}, t[4] = {0, 0, 0, 0};
  int64_t i = 0, h = (int64_t)(((uintptr_t)w % (4 * VL)) ? (4 * VL - (uintptr_t)w % (4 * VL)) / 4 : 0);
  for (; i < h && i < n; i++) /* head: aligned loads of row 0 afterwards */
    for (int r = 0; r < 4; r++)
      s[r] += wr[r][i] * c[i], t[r] += fabsf(wr[r][i]) * a[i];
  VF s0 = {0}, s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
  for (; i + VL <= n; i += VL) {
    VF cv, av, x0, x1, x2, x3;
    memcpy(&cv, c + i, sizeof cv), memcpy(&av, a + i, sizeof av);
    memcpy(&x0, wr[0] + i, sizeof x0), memcpy(&x1, wr[1] + i, sizeof x1);
    memcpy(&x2, wr[2] + i, sizeof x2), memcpy(&x3, wr[3] + i, sizeof x3);
    s0 += x0 * cv, s1 += x1 * cv, s2 += x2 * cv, s3 += x3 * cv;
    t0 += (VF)((VI)x0 & mask) * av, t1 += (VF)((VI)x1 & mask) * av;
    t2 += (VF)((VI)x2 & mask) * av, t3 += (VF)((VI)x3 & mask) * av;
  }
  for (int q = 0; q < VL; q++) {
    s[0] += s0[q], s[1] += s1[q], s[2] += s2[q], s[3] += s3[q];
    t[0] += t0[q], t[1] += t1[q], t[2] += t2[q], t[3] += t3[q];
  }
  for (; i < n; i++)
    for (int r = 0; r < 4; r++)
      s[r] += wr[r][i] * c[i], t[r] += fabsf(wr[r][i]) * a[i];
  for (int r = 0; r < rows; r++)
    S[r] = s[r], A[r] = t[r];
}

/* conv, `rows` (<= 4) output channels at once: S[r][p] = sum_k w[r][k] cc[k][p], A likewise with
 * wa = |w| and ac, for p in [0, Pv) (Pv a multiple of 16, the column buffers' row stride) */
KATTR static void CONV2X4(const float *w, const float *wa, int64_t K, int rows, const float *cc,
                          const float *ac, int64_t Pv, float *S, float *A) {
  const float *w1 = rows > 1 ? w + K : w, *w2 = rows > 2 ? w + 2 * K : w, *w3 = rows > 3 ? w + 3 * K : w;
  const float *a1 = rows > 1 ? wa + K : wa, *a2 = rows > 2 ? wa + 2 * K : wa,
              *a3 = rows > 3 ? wa + 3 * K : wa;
  for (int64_t p = 0; p < Pv; p += VL) {
    VF s0 = {0}, s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    for (int64_t k = 0; k < K; k++) {
      VF cv, av;
      memcpy(&cv, cc + k * Pv + p, sizeof cv), memcpy(&av, ac + k * Pv + p, sizeof av);
      s0 += w[k] * cv, s1 += w1[k] * cv, s2 += w2[k] * cv, s3 += w3[k] * cv;
      t0 += wa[k] * av, t1 += a1[k] * av, t2 += a2[k] * av, t3 += a3[k] * av;
    }
    VF *outs[8] = {&s0, &t0, &s1, &t1, &s2, &t2, &s3, &t3};
    for (int r = 0; r < rows; r++)
      memcpy(S + r * Pv + p, outs[2 * r], sizeof(VF)), memcpy(A + r * Pv + p, outs[2 * r + 1], sizeof(VF));
  }
}
