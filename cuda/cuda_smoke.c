/* cuda_smoke.c - `torchlean-cuda-smoke`: runs relu and add on the GPU and compares with the CPU
 * arithmetic of runtime/kernels/ew_math.h.  Exit 0 on agreement, 1 on a mismatch, 77 when no GPU. */
#include <stdio.h>

#include <cuda_runtime_api.h>

#include "cuda_kernels.h"
#include "kernels/ew_math.h"

int main(void) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    printf("no CUDA device: nothing to run\n");
    return 77;
  }
  enum { N = 1024 };
  float x[N], y[N], z[N], *dx = NULL, *dy = NULL, *dz = NULL;
  for (int i = 0; i < N; i++)
    x[i] = (float)(i - N / 2) / 37.0f;
  if (cudaMalloc((void **)&dx, sizeof x) || cudaMalloc((void **)&dy, sizeof y) ||
      cudaMalloc((void **)&dz, sizeof z) || cudaMemcpy(dx, x, sizeof x, cudaMemcpyHostToDevice) ||
      tl_cuda_unary(TL_CUDA_RELU, dx, dy, N, 0, 0, 0) || tl_cuda_binary(TL_CUDA_ADD, dx, dy, dz, N) ||
      cudaMemcpy(y, dy, sizeof y, cudaMemcpyDeviceToHost) ||
      cudaMemcpy(z, dz, sizeof z, cudaMemcpyDeviceToHost)) {
    fprintf(stderr, "torchlean-cuda-smoke: CUDA call failed\n");
    return 1;
  }
  int bad = 0;
  for (int i = 0; i < N; i++)
    bad += y[i] != tl_ew_relu(x[i]) || z[i] != x[i] + tl_ew_relu(x[i]);
  cudaFree(dx), cudaFree(dy), cudaFree(dz);
  printf("relu and add on the GPU: %d mismatches of %d\n", bad, 2 * N);
  return bad ? 1 : 0;
}
