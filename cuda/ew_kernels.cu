/* ew_kernels.cu - CUDA kernels of the elementwise ops (first piece of the CUDA backend).
 * The per-element arithmetic is runtime/kernels/ew_math.h, the same code the CPU kernels run, so the CPU
 * test suite checks these expressions; only the launch lives here.  Device pointers in, device
 * pointers out; the caller owns every buffer. */
#include <cuda_runtime.h>

#include "cuda_kernels.h"
#include "kernels/ew_math.h"

/* y[i] = f(x[i]) for the unary op `op` */
__global__ static void unary_kernel(int op, const float *x, float *y, long long n, float alpha, float lo,
                                    float hi) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n)
    return;
  float v = x[i];
  switch (op) {
  case TL_CUDA_NEG: y[i] = -v; break;
  case TL_CUDA_ABS: y[i] = fabsf(v); break;
  case TL_CUDA_RELU: y[i] = tl_ew_relu(v); break;
  case TL_CUDA_LEAKY_RELU: y[i] = tl_ew_leaky_relu(v, alpha); break;
  case TL_CUDA_SIGMOID: y[i] = tl_ew_sigmoid(v); break;
  case TL_CUDA_TANH: y[i] = tanhf(v); break;
  case TL_CUDA_GELU: y[i] = tl_ew_gelu(v); break;
  case TL_CUDA_SILU: y[i] = tl_ew_silu(v); break;
  default: y[i] = tl_ew_clamp(v, lo, hi); break;
  }
}

/* y[i] = a[i] op b[i] (same shapes) */
__global__ static void binary_kernel(int op, const float *a, const float *b, float *y, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n)
    return;
  switch (op) {
  case TL_CUDA_ADD: y[i] = a[i] + b[i]; break;
  case TL_CUDA_SUB: y[i] = a[i] - b[i]; break;
  case TL_CUDA_MUL: y[i] = a[i] * b[i]; break;
  case TL_CUDA_DIV: y[i] = a[i] / b[i]; break;
  case TL_CUDA_MAX: y[i] = tl_ew_max(a[i], b[i]); break;
  default: y[i] = tl_ew_min(a[i], b[i]); break;
  }
}

static unsigned blocks(long long n) { return (unsigned)((n + 255) / 256); }

extern "C" int tl_cuda_unary(int op, const float *x, float *y, long long n, float alpha, float lo, float hi) {
  if (n <= 0)
    return 0;
  unary_kernel<<<blocks(n), 256>>>(op, x, y, n, alpha, lo, hi);
  return (int)cudaGetLastError();
}

extern "C" int tl_cuda_binary(int op, const float *a, const float *b, float *y, long long n) {
  if (n <= 0)
    return 0;
  binary_kernel<<<blocks(n), 256>>>(op, a, b, y, n);
  return (int)cudaGetLastError();
}

extern "C" const char *tl_cuda_error_string(int err) { return cudaGetErrorString((cudaError_t)err); }
