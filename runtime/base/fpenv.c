/* base/fpenv.c - does this thread flush subnormals to zero?  The f32-any models assume gradual
 * underflow; a process started with fast-math startup code (or CUDA --ftz) breaks that.
 * Declared in torchlean/fpenv.h; lives in the runtime (no MPFR) so verify/ can use it. */
#include "torchlean/fpenv.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

int tl_f32_flushes_subnormals(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned csr = _mm_getcsr();
  return (csr & (1u << 15)) != 0 || (csr & (1u << 6)) != 0; /* MXCSR FZ, DAZ */
#elif defined(__aarch64__)
  unsigned long fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  return (fpcr & (1ul << 24)) != 0; /* FPCR FZ */
#else
  return 0; /* unknown architecture: assume IEEE gradual underflow (documented) */
#endif
}
