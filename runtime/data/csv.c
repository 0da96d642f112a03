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

/* The reader's options with their defaults (delimiter ',', header detected, float32), checked. */
static tl_code csv_opts(const tl_csv_opts *opts, const char *name, char *delim, int *header, tl_dtype *dt,
                        tl_status *st) {
  *delim = opts && opts->delimiter ? opts->delimiter : ',';
  *header = opts ? opts->header : -1;
  *dt = opts ? opts->dtype : TL_F32;
  if (*dt != TL_F32 && *dt != TL_F64)
    return tl_fail(st, TL_EARG, "%s: CSV dtype must be float32 or float64, got %s", name, tl_dtype_name(*dt));
  if (*delim == '\n' || *delim == '\r' || *delim == '\0' || *delim == '"')
    return tl_fail(st, TL_EARG, "%s: invalid CSV delimiter", name);
  if (*header < -1 || *header > 1)
    return tl_fail(st, TL_EARG, "%s: header option must be 1, 0 or -1 (detect), got %d", name, *header);
  return TL_OK;
}

/* the end of the last non-blank line: blank lines after it are ignored, blank lines before it are
 * errors */
static size_t csv_data_end(const char *buf, size_t len, size_t pos, char delim) {
  size_t p = pos, last_end = pos;
  csv_line l;
  while (next_line(buf, len, &p, &l))
    if (!line_is_blank(&l, delim))
      last_end = p;
  return last_end;
}

/* the values read so far, row-major */
typedef struct csv_acc {
  double *vals;
  size_t nvals, cap, ncols, nrows, header_cols;
} csv_acc;

/* A row of `cells` cells: the same count as the header and the first data row; room for it. */
static tl_code csv_row_room(csv_acc *a, size_t cells, const char *name, size_t row, tl_status *st) {
  if (a->nrows == 0) {
    a->ncols = cells;
    if (a->header_cols && a->header_cols != a->ncols)
      return tl_fail(st, TL_EFORMAT, "%s: row %zu, col 1: %zu cells, but the header (row 1) has %zu", name,
                     row, cells, a->header_cols);
  } else if (cells != a->ncols) {
    return tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: %zu cells, expected %zu like the first data row",
                   name, row, (cells < a->ncols ? cells : a->ncols) + 1, cells, a->ncols);
  }
  if (a->nvals + a->ncols > a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 256;
    while (nc < a->nvals + a->ncols)
      nc *= 2;
    double *nv = realloc(a->vals, nc * sizeof *nv);
    if (!nv)
      return tl_fail(st, TL_ENOMEM, "%s: row %zu: out of memory", name, row);
    a->vals = nv;
    a->cap = nc;
  }
  return TL_OK;
}

/* the message for a cell that parse_cell rejected */
static tl_code csv_cell_fail(cell_result cr, const char *cs, size_t cn, const char *name, size_t row,
                             size_t col, tl_status *st) {
  char pv[64];
  cell_preview(cs, cn, pv, sizeof pv);
  if (cr == CELL_EMPTY)
    return tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: empty cell", name, row, col);
  if (cr == CELL_RANGE)
    return tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: '%s' is out of the range of a double", name, row,
                   col, pv);
  if (cr == CELL_NOMEM)
    return tl_fail(st, TL_ENOMEM, "%s: row %zu, col %zu: out of memory", name, row, col);
  if (cr == CELL_QUOTE)
    return tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: '%s': text after the closing quote", name, row, col,
                   pv);
  return tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: '%s' is not a number", name, row, col, pv);
}

/* the cells of one data row appended to a->vals (room made by csv_row_room) */
static tl_code csv_read_cells(const csv_line *l, char delim, tl_dtype dt, csv_scratch *sc, csv_acc *a,
                              const char *name, size_t row, tl_status *st) {
  size_t at = 0, col = 0, cn;
  const char *cs;
  while (next_cell(l, delim, &at, &cs, &cn)) {
    col++;
    double v = 0;
    cell_result cr = parse_cell(cs, cn, delim, sc, &v);
    if (cr != CELL_OK)
      return csv_cell_fail(cr, cs, cn, name, row, col, st);
    if (dt == TL_F32 && !isinf(v) && (v > FLT_MAX || v < -FLT_MAX)) {
      char pv[64];
      cell_preview(cs, cn, pv, sizeof pv);
      return tl_fail(st, TL_EFORMAT, "%s: row %zu, col %zu: '%s' is out of the range of float32", name, row,
                     col, pv);
    }
    a->vals[a->nvals++] = v;
  }
  return TL_OK;
}

/* a row whose quoted cell is not closed: the message names the cell */
static tl_code csv_unclosed(const csv_line *l, char delim, const char *name, size_t row, tl_status *st) {
  size_t at = 0, col = 0, cn;
  const char *cs;
  while (next_cell(l, delim, &at, &cs, &cn))
    col++;
  return tl_fail(st, TL_EFORMAT,
                 "%s: row %zu, col %zu: a quoted cell is not closed before the end of the file", name, row,
                 col);
}

/* the (nrows, ncols) tensor of the values read, rounded once to float32 for TL_F32 */
static tl_code csv_tensor(const csv_acc *a, tl_dtype dt, const char *name, tl_tensor **out, tl_status *st) {
  size_t ncols = a->nrows == 0 ? a->header_cols : a->ncols;
  int64_t shape[2] = {(int64_t)a->nrows, (int64_t)ncols};
  tl_tensor *t;
  tl_code rc = tl_tensor_new(&t, dt, 2, shape, st);
  if (rc != TL_OK) {
    tl_status_prefix(st, "%s: ", name);
    return rc;
  }
  for (size_t i = 0; i < a->nvals; i++) {
    if (dt == TL_F64)
      ((double *)t->data)[i] = a->vals[i];
    else
      ((float *)t->data)[i] = (float)a->vals[i];
  }
  *out = t;
  return TL_OK;
}

tl_code tl_csv_read_mem(const char *buf, size_t len, const char *name, const tl_csv_opts *opts,
                        tl_tensor **out, int *had_header, tl_status *st) {
  *out = NULL;
  if (had_header)
    *had_header = 0;
  if (!name)
    name = "<memory>";
  char delim;
  int header;
  tl_dtype dt;
  TL_TRY(csv_opts(opts, name, &delim, &header, &dt, st));
  size_t pos = 0;
  if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte-order mark */
    pos = 3;
  size_t end = csv_data_end(buf, len, pos, delim);
  csv_scratch sc = {NULL, 0};
  csv_acc acc = {NULL, 0, 0, 0, 0, 0};
  size_t row = 0, nextrow = 1;
  tl_code rc = TL_OK;
  csv_line l;
  while (rc == TL_OK && next_line(buf, end, &pos, &l)) {
    row = nextrow, nextrow += l.lines;
    if (l.open) {
      rc = csv_unclosed(&l, delim, name, row, st);
      break;
    }
    if (row == 1 && header != 0 && (header == 1 || !line_is_numeric(&l, delim, &sc))) {
      acc.header_cols = count_cells(&l, delim);
      if (had_header)
        *had_header = 1;
      continue;
    }
    if (line_is_blank(&l, delim)) {
      rc = tl_fail(st, TL_EFORMAT, "%s: row %zu, col 1: empty line inside the data", name, row);
      break;
    }
    rc = csv_row_room(&acc, count_cells(&l, delim), name, row, st);
    if (rc == TL_OK)
      rc = csv_read_cells(&l, delim, dt, &sc, &acc, name, row, st);
    if (rc == TL_OK)
      acc.nrows++;
  }
  if (rc == TL_OK)
    rc = csv_tensor(&acc, dt, name, out, st);
  if (rc != TL_OK && had_header)
    *had_header = 0;
  free(acc.vals);
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
