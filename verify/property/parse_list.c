/* parse_list.c - the meaning of one closed list (head + reduced arguments): top-level commands
 * (declare-const, declare-fun, assert, set-logic, check-sat, get-model, exit), terms (+ - * /) and
 * formulas (<= >= < > = and or true false).  Arguments taken over have their item's lin set NULL. */
#include <stdlib.h>
#include <string.h>

#include "vn_internal.h"

static int is(const vn_item *it, const char *s) {
  return it->kind == VI_SYM && it->len == strlen(s) && memcmp(it->s, s, it->len) == 0;
}

#define SHOW(it) (int)((it)->len > 40 ? 40 : (it)->len), (it)->s

/* X_i -> kind 0, Y_j -> kind 1 (i, j without leading zeros, below VN_MAX_VAR_INDEX); -1: not one */
static int var_name(const vn_item *it, int64_t *idx) {
  if (it->kind != VI_SYM || it->len < 3 || (it->s[0] != 'X' && it->s[0] != 'Y') || it->s[1] != '_')
    return -1;
  if (it->len > 3 && it->s[2] == '0')
    return -1;
  int64_t v = 0;
  for (size_t i = 2; i < it->len; i++) {
    if (it->s[i] < '0' || it->s[i] > '9' || v >= VN_MAX_VAR_INDEX)
      return -1;
    v = v * 10 + (it->s[i] - '0');
  }
  if (v >= VN_MAX_VAR_INDEX)
    return -1;
  *idx = v;
  return it->s[0] == 'Y';
}

static tl_code declare(vn_parser *P, const vn_item *name, const vn_item *type) {
  int64_t i;
  int k = var_name(name, &i);
  if (k < 0 && name->kind == VI_SYM)
    return vn_err(P, TL_EUNSUPPORTED, name->line, name->col,
                  "declared name must be X_i (inputs) or Y_j (outputs), not '%.*s'", SHOW(name));
  if (k < 0)
    return vn_err(P, TL_EFORMAT, name->line, name->col, "expected a variable name");
  if (!is(type, "Real"))
    return vn_err(P, TL_EUNSUPPORTED, type->line, type->col, "only Real variables are supported");
  size_t cap = (size_t)P->capdecl[k];
  if (vn_grow((void **)&P->decl[k], &cap, (size_t)i + 1, 1))
    return vn_err(P, TL_ENOMEM, name->line, name->col, "out of memory");
  if (cap > (size_t)P->capdecl[k])
    memset(P->decl[k] + P->capdecl[k], 0, cap - (size_t)P->capdecl[k]);
  P->capdecl[k] = (int64_t)cap;
  if (P->decl[k][i])
    return vn_err(P, TL_EFORMAT, name->line, name->col, "%.*s declared twice", SHOW(name));
  P->decl[k][i] = 1, P->ndecl[k]++;
  if (i + 1 > P->maxdecl[k])
    P->maxdecl[k] = i + 1, P->lastdecl_line[k] = name->line, P->lastdecl_col[k] = name->col;
  return TL_OK;
}

static tl_code command(vn_parser *P, vn_item *it, size_t n, vn_item *res) {
  if (is(&it[0], "declare-const") && n == 3)
    return declare(P, &it[1], &it[2]);
  if (is(&it[0], "declare-fun") && n == 4 && it[2].kind == VI_EMPTY)
    return declare(P, &it[1], &it[3]);
  if (is(&it[0], "assert") && n == 2) {
    int node = -1;
    if (it[1].kind == VI_FORM)
      node = it[1].node;
    else if (is(&it[1], "true") || is(&it[1], "false"))
      node = vn_node_add(P, is(&it[1], "true") ? VN_TRUE : VN_FALSE, -1, NULL, 0, it[1].line, it[1].col);
    else
      return vn_err(P, TL_EFORMAT, it[1].line, it[1].col, "assert: expected a formula");
    if (node < 0 || vn_grow((void **)&P->roots, &P->caproots, (size_t)P->nroots + 1, sizeof *P->roots))
      return vn_err(P, TL_ENOMEM, res->line, res->col, "out of memory");
    P->roots[P->nroots++] = node;
    return TL_OK;
  }
  if (((is(&it[0], "check-sat") || is(&it[0], "get-model") || is(&it[0], "exit")) && n == 1) ||
      (is(&it[0], "set-logic") && n == 2 && it[1].kind == VI_SYM))
    return TL_OK;
  if (it[0].kind == VI_SYM)
    return vn_err(P, TL_EFORMAT, res->line, res->col, "unknown command or wrong arguments: (%.*s ...)",
                  SHOW(&it[0]));
  return vn_err(P, TL_EFORMAT, res->line, res->col, "expected a command name after '('");
}

/* the term of an argument: taken over from the item */
static tl_code term(vn_parser *P, vn_item *it, vn_lin **out) {
  *out = NULL;
  if (it->kind == VI_LIN) {
    *out = it->lin, it->lin = NULL;
    return TL_OK;
  }
  int64_t i;
  int k = var_name(it, &i);
  if (k < 0 && it->kind == VI_SYM)
    return vn_err(P, TL_EFORMAT, it->line, it->col, "unknown symbol '%.*s' (expected a term)", SHOW(it));
  if (k < 0)
    return vn_err(P, TL_EFORMAT, it->line, it->col, "expected a term");
  if (i >= P->capdecl[k] || !P->decl[k][i])
    return vn_err(P, TL_EFORMAT, it->line, it->col, "undeclared variable %.*s", SHOW(it));
  vn_lin *a = vn_lin_new();
  mpq_t one;
  mpq_init(one);
  mpq_set_ui(one, 1, 1);
  if (!a || vn_lin_push(a, 2 * i + k, one)) {
    vn_lin_free(a);
    a = NULL;
  }
  mpq_clear(one);
  if (!a)
    return vn_err(P, TL_ENOMEM, it->line, it->col, "out of memory");
  *out = a;
  return TL_OK;
}

/* a constant factor: canonical form with no variable */
static int constant(vn_lin *a) { return vn_lin_canon(a) == 0 && a->n == 0; }

/* (+ t...) (- t) (- t t...) (* t...) with at most one non-constant factor, (/ t c...) */
static tl_code arith(vn_parser *P, vn_item *it, size_t n, vn_item *res) {
  char op = it[0].s[0];
  vn_lin *acc = NULL, *b = NULL;
  tl_code c = term(P, &it[1], &acc);
  if (c == TL_OK && op == '-' && n == 2)
    mpq_neg(acc->scale, acc->scale);
  for (size_t i = 2; c == TL_OK && i < n; i++) {
    if ((c = term(P, &it[i], &b)) != TL_OK)
      break;
    if (op == '+' || op == '-') {
      acc = vn_lin_add(acc, b, op == '-' ? -1 : 1), b = NULL;
      if (!acc)
        c = vn_err(P, TL_ENOMEM, res->line, res->col, "out of memory");
    } else if (op == '/') {
      if (!constant(b) || mpq_sgn(b->k) == 0)
        c = vn_err(P, TL_EUNSUPPORTED, it[i].line, it[i].col, "divisor must be a nonzero constant");
      else
        mpq_inv(b->k, b->k), vn_lin_scale(acc, b->k);
    } else if (constant(b)) {
      vn_lin_scale(acc, b->k);
    } else if (constant(acc)) {
      vn_lin_scale(b, acc->k);
      vn_lin *t = acc;
      acc = b, b = t;
    } else {
      c = vn_err(P, TL_EUNSUPPORTED, it[i].line, it[i].col, "nonlinear product of two variable terms");
    }
    vn_lin_free(b), b = NULL;
  }
  if (c != TL_OK) {
    vn_lin_free(acc);
    return c;
  }
  res->kind = VI_LIN, res->lin = acc;
  return TL_OK;
}

static tl_code formula(vn_parser *P, vn_item *it, int *node) {
  if (it->kind == VI_FORM)
    *node = it->node;
  else if (is(it, "true") || is(it, "false"))
    *node = vn_node_add(P, is(it, "true") ? VN_TRUE : VN_FALSE, -1, NULL, 0, it->line, it->col);
  else
    return vn_err(P, TL_EFORMAT, it->line, it->col, "expected a formula");
  if (*node < 0)
    return vn_err(P, TL_ENOMEM, it->line, it->col, "out of memory");
  return TL_OK;
}

/* (and F...) / (or F...) */
static tl_code logic(vn_parser *P, vn_item *it, size_t n, vn_item *res) {
  int *kids = malloc((n - 1) * sizeof *kids);
  if (!kids)
    return vn_err(P, TL_ENOMEM, res->line, res->col, "out of memory");
  tl_code c = TL_OK;
  for (size_t i = 1; i < n && c == TL_OK; i++)
    c = formula(P, &it[i], &kids[i - 1]);
  if (c == TL_OK && n - 1 > INT32_MAX)
    c = vn_err(P, TL_EUNSUPPORTED, res->line, res->col, "too many arguments");
  if (c == TL_OK) {
    res->node =
        vn_node_add(P, is(&it[0], "and") ? VN_AND : VN_OR, -1, kids, (int)(n - 1), res->line, res->col);
    res->kind = VI_FORM;
    if (res->node < 0)
      c = vn_err(P, TL_ENOMEM, res->line, res->col, "out of memory");
  }
  free(kids);
  return c;
}

/* (op t1 t2 ... tk), op in <= >= < > =: the conjunction of t_i op t_{i+1} */
static tl_code compare(vn_parser *P, vn_item *it, size_t n, vn_item *res) {
  int strict = is(&it[0], "<") || is(&it[0], ">"), flip = is(&it[0], ">=") || is(&it[0], ">");
  int eq = is(&it[0], "=");
  vn_lin **t = calloc(n, sizeof *t);
  int *kids = malloc(2 * n * sizeof *kids), nk = 0;
  tl_code c = t && kids ? TL_OK : vn_err(P, TL_ENOMEM, res->line, res->col, "out of memory");
  for (size_t i = 1; i < n && c == TL_OK; i++)
    c = term(P, &it[i], &t[i]);
  for (size_t i = 1; i + 1 < n && c == TL_OK; i++)
    for (int dir = 0; dir < 1 + eq && c == TL_OK; dir++) {
      /* a op b  ->  a - b <= 0 (or < 0); >= and > swap the sides, = asks both */
      int sw = flip ^ dir;
      vn_lin *a = vn_lin_copy(t[sw ? i + 1 : i]), *b = vn_lin_copy(t[sw ? i : i + 1]);
      vn_lin *d = NULL;
      if (a && b)
        d = vn_lin_add(a, b, -1); /* consumes a and b */
      else
        vn_lin_free(a), vn_lin_free(b);
      if (!d) {
        c = vn_err(P, TL_ENOMEM, res->line, res->col, "out of memory");
        break;
      }
      c = vn_atom_make(P, d, strict, res->line, res->col, &kids[nk++]);
    }
  if (c == TL_OK) {
    res->kind = VI_FORM;
    res->node = nk == 1 ? kids[0] : vn_node_add(P, VN_AND, -1, kids, nk, res->line, res->col);
    if (res->node < 0)
      c = vn_err(P, TL_ENOMEM, res->line, res->col, "out of memory");
  }
  for (size_t i = 0; t && i < n; i++)
    vn_lin_free(t[i]);
  free(t), free(kids);
  return c;
}

tl_code vn_reduce(vn_parser *P, vn_item *it, size_t n, int depth, vn_item *res) {
  if (n == 0) {
    if (depth > 1) {
      res->kind = VI_EMPTY;
      return TL_OK;
    }
    return vn_err(P, TL_EFORMAT, res->line, res->col, "empty command '()'");
  }
  if (depth == 1)
    return command(P, it, n, res);
  if (it[0].kind != VI_SYM)
    return vn_err(P, TL_EFORMAT, it[0].line, it[0].col, "expected an operator after '('");
  if (is(&it[0], "+") || is(&it[0], "-") || is(&it[0], "*") || is(&it[0], "/")) {
    if (n < 2)
      return vn_err(P, TL_EFORMAT, res->line, res->col, "(%.*s) without arguments", SHOW(&it[0]));
    return arith(P, it, n, res);
  }
  if (is(&it[0], "<=") || is(&it[0], ">=") || is(&it[0], "<") || is(&it[0], ">") || is(&it[0], "=")) {
    if (n < 3)
      return vn_err(P, TL_EFORMAT, res->line, res->col, "(%.*s ...) needs two terms", SHOW(&it[0]));
    return compare(P, it, n, res);
  }
  if (is(&it[0], "and") || is(&it[0], "or")) {
    if (n < 2)
      return vn_err(P, TL_EFORMAT, res->line, res->col, "(%.*s) without arguments", SHOW(&it[0]));
    return logic(P, it, n, res);
  }
  static const char *const refused[] = {"not", "=>", "xor", "ite", "distinct", "let", "forall", "exists"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
    if (is(&it[0], refused[i]))
      return vn_err(P, TL_EUNSUPPORTED, it[0].line, it[0].col, "'%s' is not supported", refused[i]);
  return vn_err(P, TL_EFORMAT, it[0].line, it[0].col, "unknown operator '%.*s'", SHOW(&it[0]));
}
