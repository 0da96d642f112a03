/* fpenv.h - the calling thread's floating-point environment, as far as the f32-any error models
 * care (runtime/base/fpenv.c; needs no MPFR, so runtime/ and verify/ both use it). */
#ifndef TORCHLEAN_FPENV_H
#define TORCHLEAN_FPENV_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the calling thread flushes subnormal results or inputs to zero (x86 MXCSR FZ/DAZ,
 * aarch64 FPCR FZ).  The f32-any models assume gradual underflow: callers that run float32 code
 * to back an f32-any claim (compare, counterexample confirmation, the binary32 IBP kernels)
 * refuse to when this is 1. */
int tl_f32_flushes_subnormals(void);

#ifdef __cplusplus
}
#endif
#endif
