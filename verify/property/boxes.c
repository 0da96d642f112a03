/* boxes.c - one DNF term -> its exact input box (sparse: the bounded variables, sorted) and the
 * grouping of terms by identical exact box (hash table).  Merging bounds of one variable: the
 * lower bound is the max (at a tie, strict wins), the upper bound the min (likewise). */
#include <stdlib.h>
#include <string.h>

#include "vn_internal.h"

void vn_xbox_clear(vn_xbox *b) {
  for (int i = 0; i < b->nb; i++)
    mpq_clear(b->lo[i]), mpq_clear(b->hi[i]);
  free(b->var), free(b->lo), free(b->hi), free(b->flags), free(b->clause_start), free(b->row);
  memset(b, 0, sizeof *b);
}

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return (a > b) - (a < b);
}

/* fold one input atom into slot i of b */
static void fold(vn_xbox *b, int i, const vn_atom *a) {
  unsigned char has = a->upper ? VN_HAS_HI : VN_HAS_LO, st = a->upper ? VN_HI_STRICT : VN_LO_STRICT;
  mpq_t *q = a->upper ? &b->hi[i] : &b->lo[i];
  int c = (b->flags[i] & has) ? mpq_cmp(a->b, *q) : 0;
  if (!(b->flags[i] & has) || (a->upper ? c < 0 : c > 0)) { /* tighter: replace */
    mpq_set(*q, a->b);
    b->flags[i] = (unsigned char)((b->flags[i] & ~st) | has | (a->strict ? st : 0));
  } else if (c == 0 && a->strict) {
    b->flags[i] |= st;
  }
}

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 1099511628211ULL; }

static uint64_t hash_z(uint64_t h, const mpz_t z) {
  size_t n = mpz_size(z);
  h = mix(h, (uint64_t)n * 2 + (mpz_sgn(z) < 0));
  for (size_t i = 0; i < n; i++)
    h = mix(h, (uint64_t)mpz_getlimbn(z, (mp_size_t)i));
  return h;
}

/* the exact box of term t (atoms of P); -1 on memory failure */
int vn_term_box(const vn_parser *P, const vn_term *t, vn_xbox *b) {
  memset(b, 0, sizeof *b);
  size_t n1 = (size_t)(t->n ? t->n : 1);
  int64_t *key = malloc(n1 * sizeof *key); /* (variable << 32) | atom: sorted by variable */
  b->var = malloc(n1 * sizeof *b->var);
  b->lo = malloc(n1 * sizeof *b->lo);
  b->hi = malloc(n1 * sizeof *b->hi);
  b->flags = calloc(n1, 1);
  if (!key || !b->var || !b->lo || !b->hi || !b->flags) {
    free(key);
    vn_xbox_clear(b);
    return -1;
  }
  int nin = 0;
  for (int i = 0; i < t->n; i++)
    if (!P->atoms[t->atom[i]].out)
      key[nin++] = ((int64_t)P->atoms[t->atom[i]].var << 32) | t->atom[i];
  qsort(key, (size_t)nin, sizeof *key, cmp_i64);
  for (int i = 0; i < nin; i++) {
    const vn_atom *a = &P->atoms[key[i] & 0xffffffff];
    if (b->nb == 0 || b->var[b->nb - 1] != a->var) {
      b->var[b->nb] = a->var;
      mpq_init(b->lo[b->nb]), mpq_init(b->hi[b->nb]);
      b->nb++;
    }
    fold(b, b->nb - 1, a);
  }
  free(key);
  uint64_t h = 14695981039346656037ULL;
  for (int i = 0; i < b->nb; i++) {
    h = mix(mix(h, (uint64_t)b->var[i]), b->flags[i]);
    if (b->flags[i] & VN_HAS_LO)
      h = hash_z(hash_z(h, mpq_numref(b->lo[i])), mpq_denref(b->lo[i]));
    if (b->flags[i] & VN_HAS_HI)
      h = hash_z(hash_z(h, mpq_numref(b->hi[i])), mpq_denref(b->hi[i]));
  }
  b->hash = h;
  return 0;
}

static int box_equal(const vn_xbox *a, const vn_xbox *b) {
  if (a->hash != b->hash || a->nb != b->nb)
    return 0;
  for (int i = 0; i < a->nb; i++) {
    if (a->var[i] != b->var[i] || a->flags[i] != b->flags[i])
      return 0;
    if ((a->flags[i] & VN_HAS_LO) && !mpq_equal(a->lo[i], b->lo[i]))
      return 0;
    if ((a->flags[i] & VN_HAS_HI) && !mpq_equal(a->hi[i], b->hi[i]))
      return 0;
  }
  return 1;
}

/* open-addressing table of box indices (-1 empty), size a power of two > 2 * nboxes */
static int table_put(int **tab, size_t *size, const vn_xbox *box, int nbox, const vn_xbox *b, int *found) {
  if ((size_t)nbox * 2 + 2 > *size) { /* grow and rehash */
    size_t ns = *size ? *size * 2 : 64;
    int *nt = malloc(ns * sizeof *nt);
    if (!nt)
      return -1;
    memset(nt, 0xff, ns * sizeof *nt);
    for (int i = 0; i < nbox; i++) {
      size_t h = box[i].hash & (ns - 1);
      while (nt[h] >= 0)
        h = (h + 1) & (ns - 1);
      nt[h] = i;
    }
    free(*tab);
    *tab = nt, *size = ns;
  }
  size_t h = b->hash & (*size - 1);
  while ((*tab)[h] >= 0) {
    if (box_equal(&box[(*tab)[h]], b)) {
      *found = (*tab)[h];
      return 0;
    }
    h = (h + 1) & (*size - 1);
  }
  (*tab)[h] = nbox; /* the caller appends b as box[nbox] */
  *found = -1;
  return 0;
}

/* append the clause of term t (its output atoms; none: the always-true row -1) to box b */
static int add_clause(const vn_parser *P, const vn_term *t, vn_xbox *b) {
  size_t cr = (size_t)b->caprows, cc = (size_t)b->capclauses;
  int nout = 0;
  for (int i = 0; i < t->n; i++)
    nout += P->atoms[t->atom[i]].out;
  size_t need = (size_t)b->nrows + (size_t)(nout ? nout : 1);
  if (need > INT32_MAX || vn_grow((void **)&b->row, &cr, need, sizeof *b->row) ||
      vn_grow((void **)&b->clause_start, &cc, (size_t)b->nclauses + 2, sizeof *b->clause_start))
    return -1;
  b->caprows = (int)(cr > INT32_MAX ? INT32_MAX : cr), b->capclauses = (int)(cc > INT32_MAX ? INT32_MAX : cc);
  if (b->nclauses == 0)
    b->clause_start[0] = 0;
  for (int i = 0; i < t->n; i++)
    if (P->atoms[t->atom[i]].out)
      b->row[b->nrows++] = t->atom[i];
  if (!nout)
    b->row[b->nrows++] = -1;
  b->clause_start[++b->nclauses] = b->nrows;
  return 0;
}

int vn_group(const vn_parser *P, const vn_dnf *d, vn_xbox **boxes, int *nboxes) {
  vn_xbox *box = NULL;
  size_t cap = 0, tsize = 0;
  int nb = 0, *tab = NULL, rc = 0;
  for (int i = 0; i < d->nterms && rc == 0; i++) {
    vn_xbox b;
    int found = -1;
    if (vn_term_box(P, &d->t[i], &b) || vn_grow((void **)&box, &cap, (size_t)nb + 1, sizeof *box) ||
        table_put(&tab, &tsize, box, nb, &b, &found)) {
      rc = -1;
      vn_xbox_clear(&b);
      break;
    }
    if (found >= 0)
      vn_xbox_clear(&b);
    else
      box[found = nb++] = b;
    rc = add_clause(P, &d->t[i], &box[found]);
  }
  free(tab);
  *boxes = box, *nboxes = nb;
  return rc;
}
