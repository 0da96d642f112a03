/* dnf.c - disjunctive normal form of the asserted conjunction, bottom-up over the formula tree in
 * creation order (children before parents: no recursion).  or: the union of the children's terms
 * (the largest list is reused); and: the cross product (a one-term child is appended in place).
 * Capped at VN_MAX_TERMS terms and VN_MAX_TERM_ATOMS atom references (TL_EUNSUPPORTED). */
#include <stdlib.h>
#include <string.h>

#include "vn_internal.h"

void vn_dnf_free(vn_dnf *d) {
  for (int i = 0; i < d->nterms; i++)
    free(d->t[i].atom);
  free(d->t);
  memset(d, 0, sizeof *d);
}

static int term_append(vn_term *t, const int *a, int n) {
  size_t cap = (size_t)t->cap;
  if (n == 0)
    return 0;
  if ((size_t)t->n + (size_t)n > INT32_MAX ||
      vn_grow((void **)&t->atom, &cap, (size_t)t->n + (size_t)n, sizeof *a))
    return -1;
  t->cap = (int)(cap > INT32_MAX ? INT32_MAX : cap);
  memcpy(t->atom + t->n, a, (size_t)n * sizeof *a);
  t->n += n;
  return 0;
}

static int dnf_reserve(vn_dnf *d, size_t n) {
  size_t cap = (size_t)d->cap;
  if (vn_grow((void **)&d->t, &cap, n, sizeof *d->t))
    return -1;
  d->cap = (int)(cap > INT32_MAX ? INT32_MAX : cap);
  return 0;
}

static tl_code too_big(vn_parser *P, const vn_node *nd) {
  return vn_err(P, TL_EUNSUPPORTED, nd->line, nd->col,
                "the disjunctive normal form grows beyond %d terms or %ld atom references", VN_MAX_TERMS,
                VN_MAX_TERM_ATOMS);
}

/* D[kids]: union into *out; the children's lists are consumed */
static tl_code dnf_or(vn_parser *P, vn_dnf *D, const int *kids, int nk, const vn_node *nd, vn_dnf *out) {
  int base = 0;
  for (int i = 1; i < nk; i++)
    if (D[kids[i]].nterms > D[kids[base]].nterms)
      base = i;
  *out = D[kids[base]], memset(&D[kids[base]], 0, sizeof *D);
  for (int i = 0; i < nk; i++) {
    vn_dnf *k = &D[kids[i]];
    if (i == base || k->nterms == 0)
      continue;
    if ((long)out->nterms + k->nterms > VN_MAX_TERMS || out->natoms + k->natoms > VN_MAX_TERM_ATOMS)
      return too_big(P, nd);
    if (dnf_reserve(out, (size_t)out->nterms + (size_t)k->nterms))
      return vn_err(P, TL_ENOMEM, nd->line, nd->col, "out of memory");
    memcpy(out->t + out->nterms, k->t, (size_t)k->nterms * sizeof *k->t);
    out->nterms += k->nterms, out->natoms += k->natoms;
    free(k->t);
    memset(k, 0, sizeof *k);
  }
  return TL_OK;
}

/* out := out AND k (cross product); k is left for the caller to free */
static tl_code and_one(vn_parser *P, vn_dnf *out, const vn_dnf *k, const vn_node *nd) {
  long nt = (long)out->nterms * k->nterms;
  long na = out->natoms * k->nterms + k->natoms * out->nterms;
  if (nt > VN_MAX_TERMS || na > VN_MAX_TERM_ATOMS)
    return too_big(P, nd);
  if (k->nterms == 1) { /* append in place */
    for (int i = 0; i < out->nterms; i++)
      if (term_append(&out->t[i], k->t[0].atom, k->t[0].n))
        return vn_err(P, TL_ENOMEM, nd->line, nd->col, "out of memory");
    out->natoms = na;
    return TL_OK;
  }
  vn_dnf r = {0};
  if (dnf_reserve(&r, (size_t)(nt ? nt : 1)))
    return vn_err(P, TL_ENOMEM, nd->line, nd->col, "out of memory");
  for (int i = 0; i < out->nterms; i++)
    for (int j = 0; j < k->nterms; j++) {
      vn_term *t = &r.t[r.nterms++];
      *t = (vn_term){0};
      if (term_append(t, out->t[i].atom, out->t[i].n) || term_append(t, k->t[j].atom, k->t[j].n)) {
        vn_dnf_free(&r);
        return vn_err(P, TL_ENOMEM, nd->line, nd->col, "out of memory");
      }
    }
  r.natoms = na;
  vn_dnf_free(out);
  *out = r;
  return TL_OK;
}

/* D[kids]: conjunction into *out, starting from the child with the most terms */
static tl_code dnf_and(vn_parser *P, vn_dnf *D, const int *kids, int nk, const vn_node *nd, vn_dnf *out) {
  int base = -1;
  for (int i = 0; i < nk; i++)
    if (base < 0 || D[kids[i]].nterms > D[kids[base]].nterms ||
        (D[kids[i]].nterms == D[kids[base]].nterms && D[kids[i]].natoms > D[kids[base]].natoms))
      base = i;
  if (base < 0) { /* empty conjunction: true */
    if (dnf_reserve(out, 1))
      return vn_err(P, TL_ENOMEM, nd->line, nd->col, "out of memory");
    out->t[0] = (vn_term){0}, out->nterms = 1;
    return TL_OK;
  }
  *out = D[kids[base]], memset(&D[kids[base]], 0, sizeof *D);
  for (int i = 0; i < nk; i++) {
    if (i == base)
      continue;
    tl_code c = out->nterms ? and_one(P, out, &D[kids[i]], nd) : TL_OK;
    vn_dnf_free(&D[kids[i]]);
    if (c != TL_OK)
      return c;
    if (out->nterms == 0) /* false: the rest of the product is empty too */
      vn_dnf_free(out);
  }
  return TL_OK;
}

static tl_code dnf_node(vn_parser *P, vn_dnf *D, int i) {
  const vn_node *nd = &P->nodes[i];
  vn_dnf *o = &D[i];
  switch (nd->kind) {
  case VN_FALSE: return TL_OK;
  case VN_TRUE:
  case VN_ATOM:
    if (dnf_reserve(o, 1) || (o->t[0] = (vn_term){0}, o->nterms = 1, 0) ||
        (nd->kind == VN_ATOM && term_append(&o->t[0], &nd->atom, 1)))
      return vn_err(P, TL_ENOMEM, nd->line, nd->col, "out of memory");
    o->natoms = nd->kind == VN_ATOM;
    return TL_OK;
  case VN_AND: return dnf_and(P, D, P->kids + nd->kid0, nd->nkids, nd, o);
  case VN_OR: return dnf_or(P, D, P->kids + nd->kid0, nd->nkids, nd, o);
  }
  return TL_OK;
}

tl_code vn_dnf_build(vn_parser *P, vn_dnf *out) {
  memset(out, 0, sizeof *out);
  vn_dnf *D = calloc((size_t)P->nnodes + 1, sizeof *D);
  if (!D)
    return vn_err(P, TL_ENOMEM, P->eof_line, P->eof_col, "out of memory");
  tl_code c = TL_OK;
  for (int i = 0; i < P->nnodes && c == TL_OK; i++)
    c = dnf_node(P, D, i);
  vn_node top = {VN_AND, -1, P->nroots, 0, 1, 1}; /* the asserts, conjoined */
  if (c == TL_OK)
    c = dnf_and(P, D, P->roots, P->nroots, &top, out);
  for (int i = 0; i < P->nnodes; i++)
    vn_dnf_free(&D[i]);
  free(D);
  if (c != TL_OK)
    vn_dnf_free(out);
  return c;
}
