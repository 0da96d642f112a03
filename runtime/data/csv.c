/* data/csv.c - numeric CSV reader: one number per cell (RFC 4180 quoting), optional header row, any
 * one-byte delimiter. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/io.h"

/* Rows in messages are 1-based line numbers of the file: a header, when present, is row 1 and
 * the first data row is row 2 (a record whose quoted cell spans lines is named by its first line).
 * Columns are 1-based cell numbers within the record.  Cells follow RFC 4180: a cell may be
 * quoted ("1.5", "a,b", "say ""hi""", a quoted line break); spaces and tabs around a cell or a
 * quoted cell are allowed (unless one of them is the delimiter). */

typedef struct csv_line {
  const char *s; /* first byte of the record */
  size_t n;      /* length without the final '\n' and without a '\r' before it */
  size_t lines;  /* physical lines the record spans (quoted line breaks) */
  int open;      /* a quote was left open at the end of the input */
} csv_line;

/* The next record starting at *pos (it ends at a '\n' outside quotes), or 0 at the end. */
static int next_line(const char *buf, size_t len, size_t *pos, csv_line *line) {
  if (*pos >= len)
    return 0;
  const char *s = buf + *pos;
  size_t rest = len - *pos, n = 0, lines = 1;
  int inq = 0;
  for (;;) {
    const char *nl = memchr(s + n, '\n', rest - n);
    size_t stop = nl ? (size_t)(nl - s) : rest;
    for (size_t i = n; i < stop; i++) /* a doubled quote toggles twice: no net change */
      inq ^= s[i] == '"';
    n = stop;
    if (!inq || !nl)
      break;
    n++, lines++; /* a line break inside a quoted cell */
  }
  int has_nl = n < rest;
  *pos += n + (has_nl ? 1 : 0);
  if (n > 0 && s[n - 1] == '\r')
    n--;
  line->s = s, line->n = n, line->lines = lines, line->open = inq;
  return 1;
}

static int is_pad(char c, char delim) { return (c == ' ' || c == '\t') && c != delim; }

static int line_is_blank(const csv_line *l, char delim) {
  for (size_t i = 0; i < l->n; i++)
    if (!is_pad(l->s[i], delim))
      return 0;
  return 1;
}

/* Cell boundaries: the next cell of l starts at *at; its raw text is [*cs, *cs + *cn) and *at moves
 * past the delimiter.  Returns 0 after the last cell. */
static int next_cell(const csv_line *l, char delim, size_t *at, const char **cs, size_t *cn) {
  if (*at > l->n)
    return 0;
  size_t i = *at;
  int inq = 0;
  while (i < l->n && (inq || l->s[i] != delim))
    inq ^= l->s[i++] == '"';
  *cs = l->s + *at, *cn = i - *at;
  *at = i + 1;
  return 1;
}

static size_t count_cells(const csv_line *l, char delim) {
  size_t n = 0, at = 0, cn;
  const char *cs;
  while (next_cell(l, delim, &at, &cs, &cn))
    n++;
  return n;
}

/* Scratch space for one NUL-terminated cell (strtod needs a terminator). */
typedef struct csv_scratch {
  char *s;
  size_t cap;
} csv_scratch;

typedef enum { CELL_OK, CELL_EMPTY, CELL_BAD, CELL_RANGE, CELL_NOMEM, CELL_QUOTE } cell_result;

/* Parse raw cell [s, s+n) as a number: pads trimmed, one level of quotes removed ("" inside is a
 * quote).  Overflow to +-inf is CELL_RANGE; underflow to a denormal or zero is accepted (strtod
 * returns the nearest representable value).  CELL_QUOTE: text after a closing quote. */
static cell_result parse_cell(const char *s, size_t n, char delim, csv_scratch *sc, double *out) {
  while (n > 0 && is_pad(*s, delim)) {
    s++;
    n--;
  }
  while (n > 0 && is_pad(s[n - 1], delim))
    n--;
  if (n + 1 > sc->cap) {
    size_t cap = n + 1 > 64 ? n + 1 : 64;
    char *ns = realloc(sc->s, cap);
    if (!ns)
      return CELL_NOMEM;
    sc->s = ns;
    sc->cap = cap;
  }
  size_t k = 0;
  if (n > 0 && s[0] == '"') {
    size_t i = 1;
    for (; i < n; i++) {
      if (s[i] != '"')
        sc->s[k++] = s[i];
      else if (i + 1 < n && s[i + 1] == '"')
        sc->s[k++] = '"', i++;
      else
        break;
    }
    if (i + 1 != n) /* the closing quote must end the cell (an open quote cannot reach here) */
      return CELL_QUOTE;
    while (k > 0 && is_pad(sc->s[k - 1], delim)) /* pads inside the quotes too */
      k--;
    size_t lead = 0;
    while (lead < k && is_pad(sc->s[lead], delim))
      lead++;
    memmove(sc->s, sc->s + lead, k - lead);
    k -= lead;
  } else {
    memcpy(sc->s, s, n);
    k = n;
  }
  if (k == 0)
    return CELL_EMPTY;
  sc->s[k] = '\0';
  char *end;
  errno = 0;
  double v = strtod(sc->s, &end);
  if (end != sc->s + k) /* also catches a NUL byte or a stray quote inside the cell */
    return CELL_BAD;
  if (errno == ERANGE && (v > 1.0 || v < -1.0))
    return CELL_RANGE;
  *out = v;
  return CELL_OK;
}

/* 1 when every cell of the record parses as a number. */
static int line_is_numeric(const csv_line *l, char delim, csv_scratch *sc) {
  size_t at = 0, cn;
  const char *cs;
  while (next_cell(l, delim, &at, &cs, &cn)) {
    double v;
    if (parse_cell(cs, cn, delim, sc, &v) != CELL_OK)
      return 0;
  }
  return 1;
}

/* Render a cell for an error message: at most 40 bytes, non-printing bytes as '?'. */
static void cell_preview(const char *s, size_t n, char *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 4 < cap && i < 40; i++)
    out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  if (n > 40 && k + 4 < cap) {
    memcpy(out + k, "...", 3);
    k += 3;
  }
  out[k] = '\0';
}

tl_code tl_csv_read_mem(const char *buf, size_t len, const char *name, const tl_csv_opts *opts,
                        tl_tensor **out, int *had_header, tl_status *st) {
  *out = NULL;
  if (had_header)
    *had_header = 0;
  if (!name)
    name = "<memory>";
  char delim = opts && opts->delimiter ? opts->delimiter : ',';
  int header = opts ? opts->header : -1;
  tl_dtype dt = opts ? opts->dtype : TL_F32;
  if (dt != TL_F32 && dt != TL_F64)
    return tl_fail(st, TL_EARG, "%s: CSV dtype must be float32 or float64, got %s", name, tl_dtype_name(dt));
  if (delim == '\n' || delim == '\r' || delim == '\0' || delim == '"')
    return tl_fail(st, TL_EARG, "%s: invalid CSV delimiter", name);
  if (header < -1 || header > 1)
    return tl_fail(st, TL_EARG, "%s: header option must be 1, 0 or -1 (detect), got %d", name, header);

  size_t pos = 0;
  if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte-order mark */
    pos = 3;
  /* the last non-blank line: blank lines after it are ignored, blank lines before it are errors */
  size_t end = len;
  {
    size_t p = pos, last_end = pos;
    csv_line l;
    while (next_line(buf, len, &p, &l))
      if (!line_is_blank(&l, delim))
        last_end = p;
    end = last_end;
  }

  csv_scratch sc = {NULL, 0};
  double *vals = NULL;
  size_t nvals = 0, cap = 0, ncols = 0, nrows = 0, header_cols = 0;
  size_t row = 0, nextrow = 1;
  tl_code rc = TL_OK;
  csv_line l;
  while (next_line(buf, end, &pos, &l)) {
    row = nextrow, nextrow += l.lines;
    if (l.open) {
      size_t at = 0, col = 0, cn;
      const char *cs;
      while (next_cell(&l, delim, &at, &cs, &cn))
        col++;
      rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: a quoted cell is not closed before the end of the file",
                   name, row, col);
      goto fail;
    }
    if (row == 1 && header != 0) {
      int skip = header == 1 || !line_is_numeric(&l, delim, &sc);
      if (skip) {
        header_cols = count_cells(&l, delim);
        if (had_header)
          *had_header = 1;
        continue;
      }
    }
    if (line_is_blank(&l, delim)) {
      rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col 1: empty line inside the data", name, row);
      goto fail;
    }
    size_t cells = count_cells(&l, delim);
    if (nrows == 0) {
      ncols = cells;
      if (header_cols && header_cols != ncols) {
        rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col 1: %zu cells, but the header (row 1) has %zu", name, row,
                     cells, header_cols);
        goto fail;
      }
    } else if (cells != ncols) {
      rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: %zu cells, expected %zu like the first data row",
                   name, row, (cells < ncols ? cells : ncols) + 1, cells, ncols);
      goto fail;
    }
    if (nvals + ncols > cap) {
      size_t nc = cap ? cap * 2 : 256;
      while (nc < nvals + ncols)
        nc *= 2;
      double *nv = realloc(vals, nc * sizeof *nv);
      if (!nv) {
        rc = tl_fail(st, TL_ENOMEM, "%s: row %zu: out of memory", name, row);
        goto fail;
      }
      vals = nv;
      cap = nc;
    }
    size_t at = 0, col = 0, cn;
    const char *cs;
    while (next_cell(&l, delim, &at, &cs, &cn)) {
      col++;
      double v = 0;
      cell_result cr = parse_cell(cs, cn, delim, &sc, &v);
      if (cr != CELL_OK) {
        char pv[64];
        cell_preview(cs, cn, pv, sizeof pv);
        if (cr == CELL_EMPTY)
          rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: empty cell", name, row, col);
        else if (cr == CELL_RANGE)
          rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: '%s' is out of the range of a double", name, row,
                       col, pv);
        else if (cr == CELL_NOMEM)
          rc = tl_fail(st, TL_ENOMEM, "%s: row %zu, col %zu: out of memory", name, row, col);
        else if (cr == CELL_QUOTE)
          rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: '%s': text after the closing quote", name, row,
                       col, pv);
        else
          rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: '%s' is not a number", name, row, col, pv);
        goto fail;
      }
      if (dt == TL_F32 && !isinf(v) && (v > FLT_MAX || v < -FLT_MAX)) {
        char pv[64];
        cell_preview(cs, cn, pv, sizeof pv);
        rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: '%s' is out of the range of float32", name, row,
                     col, pv);
        goto fail;
      }
      vals[nvals++] = v;
    }
    nrows++;
  }
  if (nrows == 0)
    ncols = header_cols;
  int64_t shape[2] = {(int64_t)nrows, (int64_t)ncols};
  tl_tensor *t;
  if ((rc = tl_tensor_new(&t, dt, 2, shape, st)) != TL_OK) {
    tl_status_prefix(st, "%s: ", name);
    goto fail;
  }
  for (size_t i = 0; i < nvals; i++) {
    if (dt == TL_F64)
      ((double *)t->data)[i] = vals[i];
    else
      ((float *)t->data)[i] = (float)vals[i];
  }
  free(vals);
  free(sc.s);
  *out = t;
  return TL_OK;
fail:
  if (had_header)
    *had_header = 0;
  free(vals);
  free(sc.s);
  return rc;
}

tl_code tl_csv_read(const char *path, const tl_csv_opts *opts, tl_tensor **out, int *had_header,
                    tl_status *st) {
  *out = NULL;
  if (had_header)
    *had_header = 0;
  void *buf;
  size_t len;
  TL_TRY(tl_read_file(path, &buf, &len, st));
  tl_code rc = tl_csv_read_mem(buf, len, path, opts, out, had_header, st);
  free(buf);
  return rc;
}
