/* exec/pool.c - the small thread pool that FAST kernels use for work BLAS threads do badly
 * (skinny GEMMs); see tl_pool_run in exec/backend.h. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>

#include "exec/backend.h"

/* ---- thread pool ---------------------------------------------------------------------------
 * Workers sleep on `wake` until `gen` changes; tasks are claimed under the mutex (tasks are
 * coarse: a few per kernel call), `ndone` counts finished tasks of the current run and the
 * caller waits on `done` for ndone == ntasks.  A helper that wakes late simply finds no task. */
typedef struct tl_pool_worker {
  struct tl_pool *p;
  int w;
} tl_pool_worker;

struct tl_pool {
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  int nthreads, quit;
  uint64_t gen;
  tl_task_fn fn;
  void *arg;
  int ntasks, next, ndone;
  pthread_t *th;
  tl_pool_worker *wk;
};

/* claim and run tasks of the current run; called and returns with the mutex held */
static void pool_drain(tl_pool *p, int w) {
  while (p->next < p->ntasks) {
    int t = p->next++;
    tl_task_fn fn = p->fn;
    void *arg = p->arg;
    pthread_mutex_unlock(&p->mu);
    fn(arg, t, w);
    pthread_mutex_lock(&p->mu);
    if (++p->ndone == p->ntasks)
      pthread_cond_signal(&p->done);
  }
}

static void *pool_main(void *arg) {
  tl_pool_worker *me = arg;
  tl_pool *p = me->p;
  pthread_mutex_lock(&p->mu);
  uint64_t seen = p->gen;
  for (;;) {
    while (p->gen == seen && !p->quit)
      pthread_cond_wait(&p->wake, &p->mu);
    if (p->quit)
      break;
    seen = p->gen;
    pool_drain(p, me->w);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int tl_pool_default_threads(void) {
  int n = openblas_get_num_procs();
  return n < 1 ? 1 : (n > 64 ? 64 : n);
}

tl_pool *tl_pool_new(int nthreads) {
  if (nthreads < 2)
    return NULL;
  tl_pool *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->th = calloc((size_t)nthreads, sizeof *p->th);
  p->wk = calloc((size_t)nthreads, sizeof *p->wk);
  if (!p->th || !p->wk || pthread_mutex_init(&p->mu, NULL) != 0) {
    free(p->th), free(p->wk), free(p);
    return NULL;
  }
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  p->nthreads = 1; /* the caller */
  for (int w = 1; w < nthreads; w++) {
    p->wk[w].p = p, p->wk[w].w = w;
    if (pthread_create(&p->th[w], NULL, pool_main, &p->wk[w]) != 0)
      break;
    p->nthreads = w + 1;
  }
  if (p->nthreads < 2) {
    tl_pool_free(p);
    return NULL;
  }
  return p;
}

void tl_pool_free(tl_pool *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int w = 1; w < p->nthreads; w++)
    pthread_join(p->th[w], NULL);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p->th);
  free(p->wk);
  free(p);
}

int tl_pool_workers(const tl_pool *p) { return p ? p->nthreads : 1; }

void tl_pool_run(tl_pool *p, int ntasks, tl_task_fn fn, void *arg) {
  if (ntasks <= 0)
    return;
  if (openblas_get_num_threads() != 1)
    openblas_set_num_threads(1); /* never BLAS threads inside our threads */
  if (!p || ntasks == 1) {
    for (int t = 0; t < ntasks; t++)
      fn(arg, t, 0);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn, p->arg = arg, p->ntasks = ntasks, p->next = 0, p->ndone = 0;
  p->gen++;
  pthread_cond_broadcast(&p->wake);
  pool_drain(p, 0);
  while (p->ndone < p->ntasks)
    pthread_cond_wait(&p->done, &p->mu);
  p->fn = NULL, p->arg = NULL, p->ntasks = 0, p->next = 0;
  pthread_mutex_unlock(&p->mu);
}
