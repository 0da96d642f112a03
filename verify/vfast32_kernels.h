/* vfast32_kernels.h - the binary32 IBP kernels of vfast32.c, included twice with KATTR (target
 * attributes), DOT2X4 and CONV2X4 (names) defined: once for AVX2 + FMA, once for the baseline. */
/* for 4 rows w[r*ld ..]: S[r] = sum w c, A[r] = sum |w| a over n terms (any order) */
KATTR static void DOT2X4(const float *w, int64_t ld, int rows,
                                                                       const float *c, const float *a,
                                                                       int64_t n, float *S, float *A) {
  const float *w0 = w, *w1 = rows > 1 ? w + ld : w, *w2 = rows > 2 ? w + 2 * ld : w,
              *w3 = rows > 3 ? w + 3 * ld : w;
  v8f s0 = {0}, s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f cv, av, x0, x1, x2, x3;
    LD8(cv, c + i), LD8(av, a + i);
    LD8(x0, w0 + i), LD8(x1, w1 + i), LD8(x2, w2 + i), LD8(x3, w3 + i);
    s0 += x0 * cv, s1 += x1 * cv, s2 += x2 * cv, s3 += x3 * cv;
    t0 += V8ABS(x0) * av, t1 += V8ABS(x1) * av, t2 += V8ABS(x2) * av, t3 += V8ABS(x3) * av;
  }
  float s[4] = {HSUM8(s0), HSUM8(s1), HSUM8(s2), HSUM8(s3)}, t[4] = {HSUM8(t0), HSUM8(t1), HSUM8(t2), HSUM8(t3)};
  const float *wr[4] = {w0, w1, w2, w3};
  for (; i < n; i++)
    for (int r = 0; r < 4; r++)
      s[r] += wr[r][i] * c[i], t[r] += fabsf(wr[r][i]) * a[i];
  for (int r = 0; r < rows; r++)
    S[r] = s[r], A[r] = t[r];
}

/* conv, 4 output channels at once: S[r][p] = sum_k w[r][k] cc[k][p], A likewise with |w| and ac,
 * for p in [0, P8) (P8 a multiple of 8, the column buffers' row stride) */
KATTR static void CONV2X4(const float *w, int64_t K, int rows,
                                                                        const float *cc, const float *ac,
                                                                        int64_t P8, float *S, float *A) {
  for (int64_t p = 0; p < P8; p += 8) {
    v8f s0 = {0}, s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    for (int64_t k = 0; k < K; k++) {
      v8f cv, av;
      LD8(cv, cc + k * P8 + p), LD8(av, ac + k * P8 + p);
      float x0 = w[k], x1 = rows > 1 ? w[K + k] : 0, x2 = rows > 2 ? w[2 * K + k] : 0,
            x3 = rows > 3 ? w[3 * K + k] : 0;
      s0 += x0 * cv, s1 += x1 * cv, s2 += x2 * cv, s3 += x3 * cv;
      t0 += fabsf(x0) * av, t1 += fabsf(x1) * av, t2 += fabsf(x2) * av, t3 += fabsf(x3) * av;
    }
    memcpy(S + p, &s0, 32), memcpy(A + p, &t0, 32);
    if (rows > 1)
      memcpy(S + P8 + p, &s1, 32), memcpy(A + P8 + p, &t1, 32);
    if (rows > 2)
      memcpy(S + 2 * P8 + p, &s2, 32), memcpy(A + 2 * P8 + p, &t2, 32);
    if (rows > 3)
      memcpy(S + 3 * P8 + p, &s3, 32), memcpy(A + 3 * P8 + p, &t3, 32);
  }
}


