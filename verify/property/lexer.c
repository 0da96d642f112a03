/* lexer.c - tokens of the SMT-LIB subset: ( ) symbols numbers, `;` comments to the end of the line;
 * exact decimal / scientific literals (vn_number). */
#include <stdlib.h>
#include <string.h>

#include "vn_internal.h"

static void adv(vn_lex *L) {
  if (*L->p == '\n')
    L->line++, L->col = 1;
  else
    L->col++;
  L->p++;
}

static void skip_blank(vn_lex *L) {
  while (L->p < L->end) {
    char c = *L->p;
    if (c == ';') {
      while (L->p < L->end && *L->p != '\n')
        adv(L);
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      adv(L);
    } else {
      break;
    }
  }
}

/* a byte that ends a symbol */
static int is_delim(char c) {
  return c == '(' || c == ')' || c == ';' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int vn_lex_next(vn_lex *L, vn_tok *t, const char **msg) {
  skip_blank(L);
  t->line = L->line, t->col = L->col, t->s = L->p, t->len = 0;
  if (L->p >= L->end) {
    t->kind = VT_EOF;
    return 0;
  }
  char c = *L->p;
  if (c == '(' || c == ')') {
    t->kind = c == '(' ? VT_LP : VT_RP, t->len = 1;
    adv(L);
    return 0;
  }
  if (c == '"' || c == '|') {
    *msg = c == '"' ? "string literals are not supported" : "quoted |symbols| are not supported";
    return 1;
  }
  while (L->p < L->end && !is_delim(*L->p)) {
    unsigned char u = (unsigned char)*L->p;
    if (u < 32 || u >= 127 || *L->p == '"' || *L->p == '|') {
      t->line = L->line, t->col = L->col;
      *msg = "unexpected character";
      return 1;
    }
    adv(L);
  }
  t->len = (size_t)(L->p - t->s);
  const char *s = t->s;
  int num = is_digit(s[0]) || (s[0] == '.' && t->len > 1) ||
            ((s[0] == '-' || s[0] == '+') && t->len > 1 && (is_digit(s[1]) || s[1] == '.'));
  t->kind = num ? VT_NUM : VT_SYM;
  return 0;
}

/* [+-]? (D+ ('.' D*)? | '.' D+) ([eE] [+-]? D+)?  read exactly: mantissa * 10^(exp - fraction digits) */
int vn_number(const char *s, size_t len, mpq_t out) {
  size_t i = 0, i0, i1 = 0, f0 = 0, f1 = 0;
  int neg = 0;
  if (i < len && (s[i] == '-' || s[i] == '+'))
    neg = s[i] == '-', i++;
  for (i0 = i; i < len && is_digit(s[i]); i++)
    ;
  i1 = i;
  if (i < len && s[i] == '.') {
    for (f0 = ++i; i < len && is_digit(s[i]); i++)
      ;
    f1 = i;
  }
  size_t nint = i1 - i0, nfrac = f1 - f0;
  long e = 0;
  if (nint + nfrac == 0)
    return 1;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    int eneg = 0;
    if (++i < len && (s[i] == '-' || s[i] == '+'))
      eneg = s[i] == '-', i++;
    size_t e0 = i;
    for (; i < len && is_digit(s[i]); i++)
      if (e <= VN_MAX_EXPONENT)
        e = e * 10 + (s[i] - '0');
    if (i == e0)
      return 1;
    e = eneg ? -e : e;
  }
  if (i != len)
    return 1;
  if (e > VN_MAX_EXPONENT || e < -VN_MAX_EXPONENT)
    return 2;
  char *buf = malloc(nint + nfrac + 2);
  if (!buf)
    return 2;
  memcpy(buf, s + i0, nint);
  memcpy(buf + nint, s + f0, nfrac);
  buf[nint + nfrac] = 0;
  mpz_set_str(mpq_numref(out), buf, 10); /* value = digits * 10^p */
  mpz_set_ui(mpq_denref(out), 1);
  free(buf);
  long p = e - (long)nfrac;
  mpz_t pw;
  mpz_init(pw);
  mpz_ui_pow_ui(pw, 10, (unsigned long)(p < 0 ? -p : p));
  if (p >= 0)
    mpz_mul(mpq_numref(out), mpq_numref(out), pw);
  else
    mpz_set(mpq_denref(out), pw);
  mpq_canonicalize(out);
  if (neg)
    mpq_neg(out, out);
  mpz_clear(pw);
  return 0;
}
