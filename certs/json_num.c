/* json_num.c - torchlean-check: exact numbers and JSON access: hex floats and "p/q" read exactly, with the
 * dyadic (mantissa, exponent) form kept. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

int fail(ctx *c, int code, const char *fmt, ...) {
  if (c->code == OK) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->code = code;
  }
  return code;
}

/* ---- exact numbers -------------------------------------------------------------------------- */

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* hex digits (one optional '.') at *pp into mw (up to 15 digits: a machine word, binary64 needs 14)
 * or m (beyond: *big = 1); *nd digits, *frac of them after the point; -1: over 4096 digits */
static int hex_digits(const char **pp, mpz_t m, uint64_t *mwp, int *big, int *nd, int *frac) {
  const char *p = *pp;
  uint64_t mw = 0;
  int infrac = 0;
  for (; *p; p++) {
    if (*p == '.' && !infrac) {
      infrac = 1;
      continue;
    }
    int h = hexval((unsigned char)*p);
    if (h < 0)
      break;
    if (!*big && mw >> 56 == 0) {
      mw = mw << 4 | (uint64_t)h;
    } else {
      if (!*big)
        mpz_set_ui(m, (unsigned long)mw), *big = 1; /* unsigned long: 64 bits (checked in cdefs) */
      mpz_mul_2exp(m, m, 4);
      mpz_add_ui(m, m, (unsigned)h);
    }
    (*nd)++;
    *frac += infrac;
    if (*nd > 4096)
      return -1;
  }
  *pp = p, *mwp = mw;
  return 0;
}

/* an optional "p[+-]D" exponent at *pp (|e| <= 100000); -1: malformed */
static int bin_exponent(const char **pp, long *ep) {
  const char *p = *pp;
  long e = 0;
  if (*p == 'p' || *p == 'P') {
    p++;
    int en = 0, ed = 0;
    if (*p == '-')
      en = 1, p++;
    else if (*p == '+')
      p++;
    for (; *p >= '0' && *p <= '9'; p++, ed++) {
      e = e * 10 + (*p - '0');
      if (e > 100000)
        return -1;
    }
    if (!ed)
      return -1;
    if (en)
      e = -e;
  }
  *pp = p, *ep = e;
  return 0;
}

/* "0xH[.H]p[+-]D" after the sign and "0x" (p) -> out exactly, with the dyadic form when it fits
 * a word; 0 ok, -1 malformed */
static int parse_hex(const char *p, int neg, mpq_t out, int *dy, long *de, int64_t *dm) {
  mpz_t m;
  mpz_init(m);
  uint64_t mw = 0;
  int nd = 0, frac = 0, big = 0;
  long e = 0;
  if (hex_digits(&p, m, &mw, &big, &nd, &frac) || bin_exponent(&p, &e) || *p || nd == 0) {
    mpz_clear(m);
    return -1;
  }
  e -= 4L * frac;
  if (!big) {
    while (mw && !(mw & 1))
      mw >>= 1, e++;
    *dy = 1, *dm = neg ? -(int64_t)mw : (int64_t)mw, *de = mw ? e : 0;
    mpz_set_ui(m, (unsigned long)mw);
  }
  mpq_set_z(out, m);
  if (e > 0)
    mpq_mul_2exp(out, out, (mp_bitcnt_t)e);
  else if (e < 0)
    mpq_div_2exp(out, out, (mp_bitcnt_t)-e);
  if (neg)
    mpq_neg(out, out);
  mpz_clear(m);
  return 0;
}

/* "[-]0xH[.H]p[+-]D", "p/q" or (allow_inf) "inf"/"-inf" -> exact value; 0 ok, -1 malformed */
static int parse_exact_dy(const char *s, mpq_t out, int *inf, int allow_inf, int *dy, long *de, int64_t *dm) {
  *inf = 0, *dy = 0;
  if (allow_inf && (!strcmp(s, "inf") || !strcmp(s, "+inf") || !strcmp(s, "-inf"))) {
    *inf = s[0] == '-' ? -1 : 1;
    mpq_set_ui(out, 0, 1);
    return 0;
  }
  const char *p = s;
  int neg = 0;
  if (*p == '-')
    neg = 1, p++;
  else if (*p == '+')
    p++;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    return parse_hex(p + 2, neg, out, dy, de, dm);
  /* p/q */
  const char *slash = strchr(p, '/');
  if (!slash || slash == p || !slash[1] || strlen(p) > 4096)
    return -1;
  for (const char *t = p; *t; t++)
    if (!(t == slash || (*t >= '0' && *t <= '9')))
      return -1;
  if (mpq_set_str(out, p, 10) != 0 || mpz_sgn(mpq_denref(out)) == 0)
    return -1;
  mpq_canonicalize(out);
  if (neg)
    mpq_neg(out, out);
  return 0;
}

static int parse_exact(const char *s, mpq_t out, int *inf, int allow_inf) {
  int dy;
  long de;
  int64_t dm;
  return parse_exact_dy(s, out, inf, allow_inf, &dy, &de, &dm);
}

/* ---- JSON access with field paths in messages ------------------------------------------------ */
cJSON *field(ctx *c, const cJSON *o, const char *name, const char *where) {
  cJSON *f = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
  if (!f)
    fail(c, BAD, "malformed: missing field \"%s\" in %s", name, where);
  return f;
}

int get_int(ctx *c, const cJSON *o, const char *name, const char *where, int64_t lo, int64_t hi,
            int64_t *out) {
  cJSON *f = field(c, o, name, where);
  if (!f)
    return BAD;
  if (!cJSON_IsNumber(f) || !chk_int_in(f->valuedouble, (double)lo, (double)hi))
    return fail(c, BAD, "malformed: field \"%s\" in %s must be an integer in [%lld, %lld]", name, where,
                (long long)lo, (long long)hi);
  *out = (int64_t)f->valuedouble;
  return OK;
}

int num_item(ctx *c, const cJSON *it, mpq_t q, int *inf, int allow_inf, const char *what, long idx) {
  if (!cJSON_IsString(it) || parse_exact(it->valuestring, q, inf, allow_inf) != 0)
    return fail(c, BAD, "malformed number in %s at index %ld (want a hex-float string or \"p/q\")", what,
                idx);
  return OK;
}

int get_num(ctx *c, const cJSON *o, const char *name, const char *where, mpq_t q) {
  cJSON *f = field(c, o, name, where);
  int inf;
  if (!f)
    return BAD;
  char w[200];
  snprintf(w, sizeof w, "%s.%s", where, name);
  return num_item(c, f, q, &inf, 0, w, 0);
}

/* array of exactly n numbers */
int get_qarr(ctx *c, const cJSON *o, const char *name, const char *where, int64_t n, qv *out, int allow_inf) {
  cJSON *f = field(c, o, name, where);
  if (!f)
    return BAD;
  char w[200];
  snprintf(w, sizeof w, "%s.%s", where, name);
  if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != n)
    return fail(c, BAD, "malformed: %s must be an array of %lld numbers", w, (long long)n);
  long i = 0;
  for (cJSON *it = f->child; it; it = it->next, i++)
    if (!cJSON_IsString(it) || parse_exact_dy(it->valuestring, out[i].q, &out[i].inf, allow_inf, &out[i].dy,
                                              &out[i].de, &out[i].dm) != 0)
      return fail(c, BAD, "malformed number in %s at index %ld (want a hex-float string or \"p/q\")", w, i);
  return OK;
}

qv *qv_new(int64_t n) {
  qv *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  if (v)
    for (int64_t i = 0; i < n; i++)
      mpq_init(v[i].q), v[i].inf = 0, v[i].dy = 0;
  return v;
}
void qv_free(qv *v, int64_t n) {
  if (!v)
    return;
  for (int64_t i = 0; i < n; i++)
    mpq_clear(v[i].q);
  free(v);
}
