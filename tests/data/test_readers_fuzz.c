/* test_readers_fuzz.c - deterministic mutation fuzzing of the NPY, CSV and IDX readers: every
 * mutated input must give TL_OK or an error with a message, never a crash, hang or out-of-bounds
 * read (the sanitizer build checks the last).  Each mutant lives in its own exact-size malloc
 * block so ASan sees any read past its end. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/io.h"
#include "torchlean/rand.h"

#define ROUNDS 3000

typedef tl_code (*reader_fn)(const void *buf, size_t len, tl_tensor **out, tl_status *st);

static tl_code npy_reader(const void *b, size_t n, tl_tensor **out, tl_status *st) {
  return tl_npy_read_mem(b, n, "fuzz.npy", out, st);
}
static tl_code idx_reader(const void *b, size_t n, tl_tensor **out, tl_status *st) {
  return tl_idx_read_mem(b, n, "fuzz.idx", out, st);
}
static tl_code csv_reader(const void *b, size_t n, tl_tensor **out, tl_status *st) {
  tl_csv_opts o = {0, -1, TL_F64};
  return tl_csv_read_mem(b, n, "fuzz.csv", &o, out, NULL, st);
}

typedef enum { FMT_NPY, FMT_IDX, FMT_CSV } fmt;

/* One mutant of seed (len bytes) into a new malloc'ed block; *out_len its length. */
static unsigned char *mutate(tl_rng *r, const unsigned char *seed, size_t len, fmt f, size_t *out_len) {
  size_t cap = len + 64;
  unsigned char *b = malloc(cap);
  cr_assert_not_null(b);
  memcpy(b, seed, len);
  size_t n = len;
  int steps = 1 + (int)tl_rng_below(r, 3);
  static const char csv_chars[] = ",;\r\n \t.-+eE0123456789naifxp\"\0";
  for (int s = 0; s < steps; s++) {
    size_t at = n ? (size_t)tl_rng_below(r, n) : 0;
    switch (tl_rng_below(r, 9)) {
    case 0: /* bit flip */
      if (n)
        b[at] ^= (unsigned char)(1u << tl_rng_below(r, 8));
      break;
    case 1: /* byte set: random, 0, 0xff or a format-relevant character */
      if (n) {
        unsigned k = (unsigned)tl_rng_below(r, 4);
        b[at] = k == 0   ? (unsigned char)tl_rng_below(r, 256)
                : k == 1 ? 0
                : k == 2 ? 0xff
                         : (unsigned char)csv_chars[tl_rng_below(r, sizeof csv_chars - 1)];
      }
      break;
    case 2: /* truncate */ n = n ? (size_t)tl_rng_below(r, n + 1) : 0; break;
    case 3: { /* insert up to 8 bytes */
      size_t k = 1 + (size_t)tl_rng_below(r, 8);
      if (n + k > cap)
        break;
      memmove(b + at + k, b + at, n - at);
      for (size_t i = 0; i < k; i++)
        b[at + i] = f == FMT_CSV ? (unsigned char)csv_chars[tl_rng_below(r, sizeof csv_chars - 1)]
                                 : (unsigned char)tl_rng_below(r, 256);
      n += k;
      break;
    }
    case 4: { /* delete up to 8 bytes */
      size_t k = 1 + (size_t)tl_rng_below(r, 8);
      if (at + k > n)
        k = n - at;
      memmove(b + at, b + at + k, n - at - k);
      n -= k;
      break;
    }
    case 5: /* length fields: NPY header length, IDX dims; CSV: duplicate a line break */
      if (f == FMT_NPY && n >= 12) {
        unsigned k = (unsigned)tl_rng_below(r, 3);
        b[8] = b[9] = k == 0 ? 0xff : (unsigned char)tl_rng_below(r, 256);
        if (b[6] != 1 || k == 2)
          b[10] = b[11] = (unsigned char)(k == 2 ? 0x7f : 0xff);
      } else if (f == FMT_IDX && n >= 8) {
        size_t d = 4 + 4 * (size_t)tl_rng_below(r, b[3] ? b[3] : 1);
        if (d + 4 <= n)
          memset(b + d, 0xff, 4); /* a dimension of 0xFFFFFFFF */
      } else if (n + 1 <= cap) {
        memmove(b + at + 1, b + at, n - at);
        b[at] = '\n';
        n++;
      }
      break;
    case 6: /* NPY: change a digit of the header (dims, version); IDX: ndim byte; CSV: delimiter */
      if (f == FMT_NPY && n > 12) {
        for (size_t i = 10; i < n && i < 128; i++)
          if (b[i] >= '0' && b[i] <= '9' && tl_rng_below(r, 4) == 0) {
            b[i] = (unsigned char)('0' + tl_rng_below(r, 10));
            break;
          }
      } else if (f == FMT_IDX && n > 3) {
        b[3] = (unsigned char)tl_rng_below(r, 256);
      } else if (n) {
        b[at] = ',';
      }
      break;
    case 7: /* copy a run of bytes from elsewhere in the input (repeats structure) */
      if (n > 2) {
        size_t from = (size_t)tl_rng_below(r, n), k = 1 + (size_t)tl_rng_below(r, 16);
        if (from + k > n)
          k = n - from;
        if (at + k > n)
          k = n - at;
        memmove(b + at, b + from, k);
      }
      break;
    default: /* NPY: replace a header keyword character; others: random byte */
      if (f == FMT_NPY && n > 20)
        b[10 + tl_rng_below(r, n - 10 < 118 ? n - 10 : 118)] =
            (unsigned char)"{}(),:' \"TrueFalse<>|=fiub12480\n"[tl_rng_below(r, 32)];
      else if (n)
        b[at] = (unsigned char)tl_rng_below(r, 256);
    }
  }
  /* move into an exact-size block so one byte past the end is a redzone */
  unsigned char *exact = malloc(n ? n : 1);
  cr_assert_not_null(exact);
  memcpy(exact, b, n);
  free(b);
  *out_len = n;
  return exact;
}

static void fuzz(const char *const *files, size_t nfiles, fmt f, reader_fn read, uint64_t seed) {
  tl_rng r;
  tl_rng_init(&r, seed);
  unsigned char *seeds[16];
  size_t lens[16];
  cr_assert_leq(nfiles, 16);
  for (size_t i = 0; i < nfiles; i++) {
    tl_status st;
    cr_assert_eq(tl_read_file(files[i], (void **)&seeds[i], &lens[i], &st), TL_OK, "%s", st.msg);
    tl_tensor *t;
    cr_assert_eq(read(seeds[i], lens[i], &t, &st), TL_OK, "seed %s: %s", files[i], st.msg);
    tl_tensor_free(t);
  }
  int ok = 0, rejected = 0;
  for (int round = 0; round < ROUNDS; round++) {
    size_t which = (size_t)tl_rng_below(&r, nfiles), n;
    unsigned char *m = mutate(&r, seeds[which], lens[which], f, &n);
    tl_tensor *t = (tl_tensor *)1;
    tl_status st;
    tl_status_clear(&st);
    tl_code rc = read(m, n, &t, &st);
    if (rc == TL_OK) {
      cr_assert_not_null(t);
      int64_t numel = 1;
      for (int k = 0; k < t->ndim; k++)
        numel *= t->shape[k];
      cr_assert_eq(numel, t->numel, "round %d: inconsistent tensor", round);
      tl_tensor_free(t);
      ok++;
    } else {
      cr_assert_null(t, "round %d: *out set on failure", round);
      cr_assert(st.code == rc && st.msg[0], "round %d: error %s without a message", round, tl_code_name(rc));
      cr_assert(strstr(st.msg, "fuzz.") != NULL, "round %d: message lacks the file name: %s", round, st.msg);
      rejected++;
    }
    free(m);
  }
  for (size_t i = 0; i < nfiles; i++)
    free(seeds[i]);
  cr_log_info("%d mutants accepted, %d rejected", ok, rejected);
  cr_assert_gt(rejected, ROUNDS / 10, "mutations hardly ever rejected (%d ok, %d rejected)", ok, rejected);
}

Test(fuzz, npy_reader) {
  static const char *const files[] = {
      TL_FIXTURES "/npy/f4_le_c_v1.npy",       TL_FIXTURES "/npy/i2_be_f_v2.npy",
      TL_FIXTURES "/npy/b1_na_f_v3.npy",       TL_FIXTURES "/npy/f2_be_c_v1.npy",
      TL_FIXTURES "/npy/u1_shapescalar_c.npy", TL_FIXTURES "/npy/f4_shape1x2x1x3x2_f.npy",
      TL_FIXTURES "/npy/u8_le_c_v2.npy",
  };
  fuzz(files, sizeof files / sizeof files[0], FMT_NPY, npy_reader, 0x5eed0001);
}

Test(fuzz, idx_reader) {
  static const char *const files[] = {
      TL_FIXTURES "/idx/u1_3x2x2.idx",    TL_FIXTURES "/idx/f8_7.idx",        TL_FIXTURES "/idx/i2_3x2x2.idx",
      TL_FIXTURES "/idx/u1_3x2x2.idx.gz", TL_FIXTURES "/idx/f8_3x2x2.idx.gz",
  };
  fuzz(files, sizeof files / sizeof files[0], FMT_IDX, idx_reader, 0x5eed0002);
}

Test(fuzz, csv_reader) {
  static const char *const files[] = {
      TL_FIXTURES "/csv/header.csv",
      TL_FIXTURES "/csv/crlf_nofinal.csv",
      TL_FIXTURES "/csv/special.csv",
  };
  fuzz(files, sizeof files / sizeof files[0], FMT_CSV, csv_reader, 0x5eed0003);
}
