/* kernels/ew_math.h - PRIVATE per-element float32 arithmetic of the elementwise ops, shared by the CPU
 * kernels (kernels/elementwise.c) and the CUDA kernels (cuda/ew_kernels.cu), so the CPU tests check the
 * same expressions the GPU runs.  On the GPU, expf/tanhf are CUDA's implementations (documented
 * ulp bounds, not glibc's): the f32-any models must use the larger bound there. */
#ifndef TORCHLEAN_RUNTIME_EW_MATH_H
#define TORCHLEAN_RUNTIME_EW_MATH_H

#ifdef __CUDACC__
#define TL_HD __host__ __device__ __forceinline__
#else
#include <math.h>
#define TL_HD static inline
#endif

/* max/min with NaN propagation; max prefers +0 over -0, min prefers -0 (IEEE 754-2019) */
TL_HD float tl_ew_max(float a, float b) {
  if (a != a)
    return a;
  if (b != b)
    return b;
  if (a > b)
    return a;
  if (b > a)
    return b;
  return signbit(a) ? b : a;
}
TL_HD float tl_ew_min(float a, float b) {
  if (a != a)
    return a;
  if (b != b)
    return b;
  if (a < b)
    return a;
  if (b < a)
    return b;
  return signbit(a) ? a : b;
}
/* y = max(x, +0): relu(-0) = +0, relu(NaN) = NaN */
TL_HD float tl_ew_relu(float x) { return (x > 0.0f || x != x) ? x : 0.0f; }
/* y = x (x >= 0), alpha x (x < 0) */
TL_HD float tl_ew_leaky_relu(float x, float alpha) { return x >= 0.0f ? x : alpha * x; }
/* y = 1 / (1 + e^-x) */
TL_HD float tl_ew_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
/* y = x s(x) */
TL_HD float tl_ew_silu(float x) { return x * tl_ew_sigmoid(x); }
/* y = x/2 (1 + tanh(c (x + 0.044715 x^3))), c = sqrt(2/pi) rounded to float32, left to right */
TL_HD float tl_ew_gelu(float x) {
  float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanhf(u));
}
/* y = minimum(maximum(x, lo), hi) */
TL_HD float tl_ew_clamp(float x, float lo, float hi) { return tl_ew_min(tl_ew_max(x, lo), hi); }

#endif
