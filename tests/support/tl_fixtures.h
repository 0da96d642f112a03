/* tl_fixtures.h - test helpers for the data-file fixtures: manifests, expected values, temp dirs.
 *
 * Expected values follow tests/fixtures/npy/make_npy_fixtures.py: element i (flat, C order) is
 *   f*: (i - 3) * 0.5     i*: (i * 37) % 251 - 125     u*: (i * 37) % 251     b1: i % 3 == 0
 */
#ifndef TL_TEST_FIXTURES_H
#define TL_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "torchlean/tensor.h"

#define TL_FX_MAX_DIMS 8

typedef struct tl_fx_entry {
  char file[128];
  char code[4];   /* numpy kind + size: "f4", "u1", ... */
  char byteorder; /* '<' '>' '|' '=' (NPY manifests; '>' for IDX) */
  char order;     /* 'C' or 'F' */
  int version;    /* NPY format version; 0 for IDX */
  int ndim;
  int64_t shape[TL_FX_MAX_DIMS];
} tl_fx_entry;

/* Read a manifest: NPY style (file code byteorder order version shape) when npy_style, else IDX
 * style (file code shape).  Returns the number of entries (malloc'ed array in *out, caller frees)
 * or -1 when the file cannot be read. */
int tl_fx_manifest(const char *path, int npy_style, tl_fx_entry **out);
/* The dtype of a numpy code ("f4" -> TL_F32). */
tl_dtype tl_fx_dtype(const char *code);
/* Expected value of element i for a fixture of this code. */
double tl_fx_expected(const char *code, int64_t i);
/* 1 when t has the entry's dtype and shape and every element equals the expected value; else 0
 * with a reason in why. */
int tl_fx_check(const tl_tensor *t, const tl_fx_entry *e, char *why, size_t cap);
/* A fresh temporary folder (mkdtemp under $TMPDIR or /tmp) written into buf. */
void tl_fx_tempdir(char *buf, size_t cap);
/* Remove a folder and the files directly inside it. */
void tl_fx_rmdir(const char *dir);
/* Number of entries in a folder other than . and .. */
int tl_fx_count_entries(const char *dir);

#endif
