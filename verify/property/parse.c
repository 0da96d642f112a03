/* parse.c - the shift-reduce driver: tokens are shifted onto an explicit stack, each `)` reduces the
 * list above its `(` (parse_list.c), so nesting depth is bounded by memory, never by the C stack. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vn_internal.h"

tl_code vn_err(vn_parser *P, tl_code code, int line, int col, const char *fmt, ...) {
  char buf[TL_STATUS_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return tl_fail(P->st, code, "%s:%d:%d: %s", P->name, line, col, buf);
}

static void items_free(vn_item *it, size_t n) {
  for (size_t i = 0; i < n; i++) {
    vn_lin_free(it[i].lin);
    it[i].lin = NULL;
  }
}

void vn_parser_free(vn_parser *P) {
  items_free(P->stk, P->nstk);
  free(P->stk), free(P->opens);
  free(P->decl[0]), free(P->decl[1]);
  free(P->nodes), free(P->kids), free(P->roots);
  for (int i = 0; i < P->natoms; i++)
    vn_atom_clear(&P->atoms[i]);
  free(P->atoms);
  memset(P, 0, sizeof *P);
}

int vn_grow(void **arr, size_t *cap, size_t need, size_t sz) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap : 16;
  while (c < need) {
    if (c > SIZE_MAX / 2 / sz)
      return -1;
    c *= 2;
  }
  void *p = realloc(*arr, c * sz);
  if (!p)
    return -1;
  *arr = p, *cap = c;
  return 0;
}

static tl_code push(vn_parser *P, const vn_item *it) {
  if (vn_grow((void **)&P->stk, &P->capstk, P->nstk + 1, sizeof *P->stk))
    return vn_err(P, TL_ENOMEM, it->line, it->col, "out of memory");
  P->stk[P->nstk++] = *it;
  return TL_OK;
}

static tl_code shift_open(vn_parser *P, const vn_tok *t) {
  if (vn_grow((void **)&P->opens, &P->capopen, P->nopen + 1, sizeof *P->opens))
    return vn_err(P, TL_ENOMEM, t->line, t->col, "out of memory");
  P->opens[P->nopen++] = P->nstk;
  vn_item it = {VI_OPEN, t->line, t->col, NULL, 0, NULL, -1};
  return push(P, &it);
}

static tl_code shift_atom(vn_parser *P, const vn_tok *t) {
  vn_item it = {VI_SYM, t->line, t->col, t->s, t->len, NULL, -1};
  if (t->kind == VT_NUM) {
    it.kind = VI_LIN;
    if (!(it.lin = vn_lin_new()))
      return vn_err(P, TL_ENOMEM, t->line, t->col, "out of memory");
    int r = vn_number(t->s, t->len, it.lin->k);
    if (r) {
      vn_lin_free(it.lin);
      return vn_err(P, r == 1 ? TL_EFORMAT : TL_EUNSUPPORTED, t->line, t->col, "%s '%.*s'",
                    r == 1 ? "bad number" : "exponent out of range (|e| <= 100000)",
                    (int)(t->len > 40 ? 40 : t->len), t->s);
    }
  }
  tl_code c = push(P, &it);
  if (c != TL_OK)
    vn_lin_free(it.lin);
  return c;
}

static tl_code reduce(vn_parser *P, const vn_tok *t) {
  if (P->nopen == 0)
    return vn_err(P, TL_EFORMAT, t->line, t->col, "unbalanced ')' (no matching '(')");
  size_t o = P->opens[--P->nopen];
  vn_item res = {VI_DONE, P->stk[o].line, P->stk[o].col, NULL, 0, NULL, -1};
  tl_code c = vn_reduce(P, P->stk + o + 1, P->nstk - o - 1, (int)P->nopen + 1, &res);
  items_free(P->stk + o + 1, P->nstk - o - 1);
  P->nstk = o;
  if (c != TL_OK)
    return c;
  if (res.kind == VI_DONE)
    return TL_OK;
  c = push(P, &res);
  if (c != TL_OK)
    vn_lin_free(res.lin);
  return c;
}

/* declared variables: X_0..X_{n-1}, Y_0..Y_{m-1}, at least one of each */
static tl_code check_decls(vn_parser *P) {
  for (int k = 0; k < 2; k++) {
    const char *v = k ? "Y" : "X";
    if (P->ndecl[k] == 0)
      return vn_err(P, TL_EFORMAT, P->eof_line, P->eof_col, "no %s_ variable declared (%s)", v,
                    k ? "outputs Y_0.." : "inputs X_0..");
    for (int64_t i = 0; i < P->maxdecl[k]; i++)
      if (!P->decl[k][i])
        return vn_err(P, TL_EFORMAT, P->lastdecl_line[k], P->lastdecl_col[k],
                      "%s_%lld is not declared: the %s variables must be %s_0 .. %s_%lld", v, (long long)i, v,
                      v, v, (long long)P->maxdecl[k] - 1);
  }
  return TL_OK;
}

tl_code vn_parse(vn_parser *P, const char *text, size_t n) {
  P->lex.p = text, P->lex.end = text + n, P->lex.line = 1, P->lex.col = 1;
  for (;;) {
    vn_tok t;
    const char *msg = "";
    if (vn_lex_next(&P->lex, &t, &msg))
      return vn_err(P, TL_EFORMAT, t.line, t.col, "%s", msg);
    tl_code c = TL_OK;
    if (t.kind == VT_EOF) {
      P->eof_line = t.line, P->eof_col = t.col;
      if (P->nopen) {
        const vn_item *o = &P->stk[P->opens[P->nopen - 1]];
        return vn_err(P, TL_EFORMAT, t.line, t.col,
                      "unbalanced parentheses: end of file inside the '(' at %d:%d", o->line, o->col);
      }
      break;
    }
    if (t.kind == VT_LP)
      c = shift_open(P, &t);
    else if (t.kind == VT_RP)
      c = reduce(P, &t);
    else if (P->nopen == 0)
      c = vn_err(P, TL_EFORMAT, t.line, t.col, "'%.*s' outside a command: expected '('",
                 (int)(t.len > 40 ? 40 : t.len), t.s);
    else
      c = shift_atom(P, &t);
    if (c != TL_OK)
      return c;
  }
  return check_decls(P);
}

int vn_node_add(vn_parser *P, vn_node_kind kind, int atom, const int *kids, int nkids, int line, int col) {
  if (P->nnodes == INT32_MAX ||
      vn_grow((void **)&P->nodes, &P->capnodes, (size_t)P->nnodes + 1, sizeof *P->nodes) ||
      vn_grow((void **)&P->kids, &P->capkids, P->nkids + (size_t)nkids, sizeof *P->kids))
    return -1;
  vn_node *nd = &P->nodes[P->nnodes];
  nd->kind = kind, nd->atom = atom, nd->nkids = nkids, nd->kid0 = P->nkids, nd->line = line, nd->col = col;
  if (nkids)
    memcpy(P->kids + P->nkids, kids, (size_t)nkids * sizeof *kids);
  P->nkids += (size_t)nkids;
  return P->nnodes++;
}
