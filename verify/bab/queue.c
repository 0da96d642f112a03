/* queue.c - the best-first queue of open boxes: a binary min-heap on (margin, seq) (bab_internal.h). */
#include <stdlib.h>

#include "bab_internal.h"

/* a comes before b: smaller margin, then older (NaN margins sort last, by seq) */
static int before(const bab_entry *a, const bab_entry *b) {
  if (a->margin < b->margin)
    return 1;
  if (a->margin > b->margin)
    return 0;
  int an = a->margin != a->margin, bn = b->margin != b->margin;
  if (an != bn)
    return bn;
  return a->seq < b->seq;
}

int bab_heap_push(bab_heap *h, const bab_entry *x) {
  if (h->n == h->cap) {
    int64_t cap = h->cap ? 2 * h->cap : 64;
    bab_entry *e = realloc(h->e, (size_t)cap * sizeof *e);
    if (!e)
      return -1;
    h->e = e, h->cap = cap;
  }
  int64_t i = h->n++;
  while (i > 0) { /* sift up */
    int64_t up = (i - 1) / 2;
    if (!before(x, &h->e[up]))
      break;
    h->e[i] = h->e[up];
    i = up;
  }
  h->e[i] = *x;
  return 0;
}

int bab_heap_pop(bab_heap *h, bab_entry *x) {
  if (h->n == 0)
    return 0;
  *x = h->e[0];
  bab_entry last = h->e[--h->n];
  int64_t i = 0;
  for (;;) { /* sift the last entry down from the root */
    int64_t l = 2 * i + 1, r = l + 1, m = i;
    const bab_entry *best = &last;
    if (l < h->n && before(&h->e[l], best))
      m = l, best = &h->e[l];
    if (r < h->n && before(&h->e[r], best))
      m = r;
    if (m == i)
      break;
    h->e[i] = h->e[m];
    i = m;
  }
  if (h->n > 0)
    h->e[i] = last;
  return 1;
}

void bab_heap_free(bab_heap *h) {
  for (int64_t i = 0; i < h->n; i++)
    free(h->e[i].lo), free(h->e[i].hi), free(h->e[i].coef);
  free(h->e);
  h->e = NULL, h->n = h->cap = 0;
}
