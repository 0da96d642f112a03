/* cuda_kernels.h - host entry points of the CUDA elementwise kernels (C linkage).
 * Every pointer is a device pointer owned by the caller; each function returns 0 or a CUDA error
 * code (tl_cuda_error_string names it).  Launches are asynchronous on the default stream. */
#ifndef TORCHLEAN_CUDA_KERNELS_H
#define TORCHLEAN_CUDA_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
  TL_CUDA_NEG,
  TL_CUDA_ABS,
  TL_CUDA_RELU,
  TL_CUDA_LEAKY_RELU,
  TL_CUDA_SIGMOID,
  TL_CUDA_TANH,
  TL_CUDA_GELU,
  TL_CUDA_SILU,
  TL_CUDA_CLAMP
};
enum { TL_CUDA_ADD, TL_CUDA_SUB, TL_CUDA_MUL, TL_CUDA_DIV, TL_CUDA_MAX, TL_CUDA_MIN };

/* y = f(x) elementwise; alpha for leaky relu, [lo, hi] for clamp. */
int tl_cuda_unary(int op, const float *x, float *y, long long n, float alpha, float lo, float hi);
/* y = a op b elementwise (same shapes). */
int tl_cuda_binary(int op, const float *a, const float *b, float *y, long long n);
const char *tl_cuda_error_string(int err);

#ifdef __cplusplus
}
#endif
#endif
