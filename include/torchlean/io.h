/* io.h - data files: NPY (read/write), CSV (read), IDX (read, plain or gzip), atomic writes.
 *
 * Every reader rejects malformed input with a message naming the file and the byte offset
 * (NPY, IDX) or row and column (CSV); it never reads out of bounds and never aborts.
 * Every writer writes atomically: a temporary file in the same folder, flushed and renamed over
 * the target, so a crash never leaves half a file.
 *
 * Ownership: readers allocate *out; the caller frees it with tl_tensor_free.  On failure *out
 * is NULL and nothing is leaked.
 */
#ifndef TORCHLEAN_IO_H
#define TORCHLEAN_IO_H

#include <stddef.h>
#include <stdio.h>

#include "torchlean/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- atomic files ---------------------------------------------------------------------- */
typedef struct tl_atomic_file {
  FILE *fp;       /* write through this */
  char *path;     /* final path (owned) */
  char *tmp_path; /* temporary path in the same folder (owned) */
} tl_atomic_file;

/* Open a temporary file beside `path`. */
tl_code tl_atomic_open(tl_atomic_file *f, const char *path, tl_status *st);
/* Flush, fsync, close and rename over the target.  Frees f's strings either way. */
tl_code tl_atomic_commit(tl_atomic_file *f, tl_status *st);
/* Close and delete the temporary file; the target is untouched.  Safe after a failed commit. */
void tl_atomic_abort(tl_atomic_file *f);
/* Write `len` bytes to `path` atomically. */
tl_code tl_write_file_atomic(const char *path, const void *data, size_t len, tl_status *st);
/* Read a whole file into a malloc'ed buffer (*data, *len); caller frees *data.  One NUL byte
 * follows the data (not counted in *len), so text parsers may treat it as a C string. */
tl_code tl_read_file(const char *path, void **data, size_t *len, tl_status *st);

/* ---- NPY ------------------------------------------------------------------------------- */
typedef struct tl_npy_write_opts {
  int version;       /* 1, 2 or 3; 0 picks the smallest that fits (1, or 2 for big headers) */
  int big_endian;    /* write '>' descriptors (bytes swapped) */
  int fortran_order; /* write the data in column-major order */
} tl_npy_write_opts;

/* Read an .npy file (versions 1-3; f2 f4 f8 i1..i8 u1..u8 b1; '<' '>' '|' '='; C or Fortran
 * order).  The result is native-endian, C order, with the file's dtype.  Headers over 1 MiB,
 * missing/unknown/duplicate keys, negative or absurd dimensions, and data shorter or longer than
 * the shape are TL_EFORMAT; valid numpy dtypes we do not hold (complex, strings, structured) are
 * TL_EUNSUPPORTED; shapes over TL_TENSOR_MAX_BYTES are TL_ENOMEM. */
tl_code tl_npy_read(const char *path, tl_tensor **out, tl_status *st);
/* Same from memory; `name` is used in messages. */
tl_code tl_npy_read_mem(const void *buf, size_t len, const char *name, tl_tensor **out, tl_status *st);
/* Write t to `path` atomically, as numpy does: header padded with spaces and ended by '\n' so
 * the data starts at a multiple of 64 bytes.  opts may be NULL (version 1, little endian, C order). */
tl_code tl_npy_write(const char *path, const tl_tensor *t, const tl_npy_write_opts *opts, tl_status *st);

/* ---- CSV ------------------------------------------------------------------------------- */
typedef struct tl_csv_opts {
  char delimiter; /* ',' when 0 */
  int header;     /* 1: first row is a header (skipped); 0: none; -1: detect (non-numeric row 1) */
  tl_dtype dtype; /* TL_F32 or TL_F64 (TL_F32 when 0) */
} tl_csv_opts;

/* Read a numeric CSV into a (rows, cols) tensor.  Empty lines at the end are ignored; every row
 * must have the same number of cells.  Errors say "FILE: row R, col C: ...", where R is the
 * 1-based line of the file (a header line is row 1, the first data row then row 2) and C the
 * 1-based cell.  A cell is whatever strtod accepts in full (so nan, inf, hex floats), with spaces
 * or tabs around it, optionally quoted as in RFC 4180 ("1.5"; header cells may hold delimiters,
 * doubled quotes and line breaks: a record spanning lines is named by its first line); empty
 * cells, text after a closing quote, an unclosed quote and values out of the dtype's range are
 * errors.  CRLF line ends and a UTF-8 byte-order mark are accepted.  opts may be NULL (',',
 * detect, TL_F32); the delimiter may not be '"' or a line break.
 * *had_header (may be NULL) tells whether a header row was skipped. */
tl_code tl_csv_read(const char *path, const tl_csv_opts *opts, tl_tensor **out, int *had_header,
                    tl_status *st);
tl_code tl_csv_read_mem(const char *buf, size_t len, const char *name, const tl_csv_opts *opts,
                        tl_tensor **out, int *had_header, tl_status *st);

/* ---- IDX (MNIST / Fashion-MNIST) ---------------------------------------------------------- */
/* Read an IDX file, plain or gzip-compressed (detected by its magic bytes).  Types 0x08 u8,
 * 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64; big-endian payload. */
tl_code tl_idx_read(const char *path, tl_tensor **out, tl_status *st);
tl_code tl_idx_read_mem(const void *buf, size_t len, const char *name, tl_tensor **out, tl_status *st);

/* ---- any of the above ---------------------------------------------------------------------- */
typedef enum tl_file_format {
  TL_FORMAT_UNKNOWN = 0,
  TL_FORMAT_NPY,
  TL_FORMAT_CSV,
  TL_FORMAT_IDX
} tl_file_format;
/* Guess the format from the magic bytes, then the extension (.npy, .csv, .idx/.gz/-ubyte). */
tl_file_format tl_file_format_guess(const char *path);
/* "npy", "csv", "idx" or "unknown".  Never NULL; static storage. */
const char *tl_file_format_name(tl_file_format f);
/* Load NPY, CSV (default options) or IDX by format guess. */
tl_code tl_tensor_load(const char *path, tl_tensor **out, tl_status *st);

#ifdef __cplusplus
}
#endif
#endif
