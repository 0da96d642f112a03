/* test_npy.c - NPY: every numpy-written fixture reads exactly, our writer round-trips every
 * dtype/version/byte order/order, numpy reads ours, and malformed files are rejected with the
 * right code and a "FILE: byte N: ..." message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tl_fixtures.h"
#include "torchlean/io.h"

#define NPY_DIR TL_FIXTURES "/npy"

Test(npy, every_fixture_reads_exactly) {
  tl_fx_entry *e;
  int n = tl_fx_manifest(NPY_DIR "/manifest.txt", 1, &e);
  cr_assert_gt(n, 100, "manifest missing or short (%d)", n);
  int seen_v[4] = {0}, seen_f = 0, seen_be = 0, seen_native = 0;
  for (int i = 0; i < n; i++) {
    char path[1024], why[256];
    snprintf(path, sizeof path, "%s/%s", NPY_DIR, e[i].file);
    tl_tensor *t;
    tl_status st;
    cr_assert_eq(tl_npy_read(path, &t, &st), TL_OK, "%s: %s", e[i].file, st.msg);
    cr_assert(tl_fx_check(t, &e[i], why, sizeof why), "%s", why);
    tl_tensor_free(t);
    seen_v[e[i].version]++;
    seen_f += e[i].order == 'F';
    seen_be += e[i].byteorder == '>';
    seen_native += e[i].byteorder == '=';
  }
  cr_assert(seen_v[1] && seen_v[2] && seen_v[3] && seen_f && seen_be && seen_native);
  free(e);
}

Test(npy, special_values) {
  tl_tensor *t;
  tl_status st;
  cr_assert_eq(tl_npy_read(NPY_DIR "/special_f8.npy", &t, &st), TL_OK, "%s", st.msg);
  const double *d = t->data;
  cr_assert(isnan(d[0]) && d[1] == INFINITY && d[2] == -INFINITY);
  cr_assert(d[3] == 0.0 && signbit(d[3]) && d[4] == 5e-324 && d[5] == 1.7976931348623157e308);
  tl_tensor_free(t);

  cr_assert_eq(tl_npy_read(NPY_DIR "/special_f2.npy", &t, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(t->dtype, TL_F16);
  cr_assert(tl_tensor_get(t, 0) == 65504.0 && tl_tensor_get(t, 1) == ldexp(1.0, -24));
  cr_assert(tl_tensor_get(t, 2) == INFINITY && isnan(tl_tensor_get(t, 3)) && signbit(tl_tensor_get(t, 4)));
  tl_tensor_free(t);

  cr_assert_eq(tl_npy_read(NPY_DIR "/extremes_i8.npy", &t, &st), TL_OK, "%s", st.msg);
  const int64_t *q = t->data;
  cr_assert(q[0] == INT64_MIN && q[1] == INT64_MAX && q[2] == -1 && q[3] == 0);
  tl_tensor_free(t);

  cr_assert_eq(tl_npy_read(NPY_DIR "/extremes_u8.npy", &t, &st), TL_OK, "%s", st.msg);
  const uint64_t *u = t->data;
  cr_assert(u[0] == 0 && u[1] == UINT64_MAX && u[2] == (UINT64_C(1) << 53) + 1);
  tl_tensor_free(t);
}

/* An NPY image with the given version, header text (used verbatim) and data bytes. */
static unsigned char *make_npy(int version, const char *header, const void *data, size_t dlen, size_t *len) {
  size_t hl = strlen(header), pre = version == 1 ? 10 : 12;
  *len = pre + hl + dlen;
  unsigned char *b = malloc(*len ? *len : 1);
  cr_assert_not_null(b);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (unsigned char)version;
  b[7] = 0;
  for (size_t i = 0; i < pre - 8; i++)
    b[8 + i] = (unsigned char)(hl >> (8 * i));
  memcpy(b + pre, header, hl);
  if (dlen)
    memcpy(b + pre + hl, data, dlen);
  return b;
}

Test(npy, header_tolerates_whitespace_order_quotes_and_py2_longs) {
  const unsigned char le_2x3_u2[12] = {1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0};
  const char *headers[] = {
      "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }\n",
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<u2'}",
      "  {  \"descr\" :'<u2' ,\n 'fortran_order':False,'shape':(2,3,)}   \n",
      "{'descr': '<u2', 'fortran_order': False, 'shape': (2L, 3L)}\n",
      "{'fortran_order': False, 'descr': '<u2', 'shape': (2, 3)  ,  }\n",
  };
  for (size_t k = 0; k < sizeof headers / sizeof headers[0]; k++) {
    for (int version = 1; version <= 3; version++) {
      size_t len;
      unsigned char *b = make_npy(version, headers[k], le_2x3_u2, sizeof le_2x3_u2, &len);
      tl_tensor *t;
      tl_status st;
      cr_assert_eq(tl_npy_read_mem(b, len, "ok.npy", &t, &st), TL_OK, "header %zu v%d: %s", k, version,
                   st.msg);
      cr_assert_eq(t->dtype, TL_U16);
      cr_assert(t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
      for (int i = 0; i < 6; i++)
        cr_assert_eq(tl_tensor_get(t, i), i + 1.0);
      tl_tensor_free(t);
      free(b);
    }
  }
  /* a Fortran-ordered 2x3: file holds columns (1 4)(2 5)(3 6) */
  const unsigned char f_data[6] = {1, 4, 2, 5, 3, 6};
  size_t len;
  unsigned char *b =
      make_npy(1, "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }\n", f_data, 6, &len);
  tl_tensor *t;
  cr_assert_eq(tl_npy_read_mem(b, len, "f.npy", &t, NULL), TL_OK);
  for (int i = 0; i < 6; i++)
    cr_assert_eq(((unsigned char *)t->data)[i], i + 1);
  tl_tensor_free(t);
  free(b);
  /* scalar: shape () holds one element */
  const unsigned char one[4] = {0, 0, 0x80, 0x3f};
  b = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", one, 4, &len);
  cr_assert_eq(tl_npy_read_mem(b, len, "s.npy", &t, NULL), TL_OK);
  cr_assert(t->ndim == 0 && t->numel == 1 && tl_tensor_get(t, 0) == 1.0);
  tl_tensor_free(t);
  free(b);
}

typedef struct bad_case {
  const char *what;
  int version;
  const char *header; /* NULL: use raw below */
  size_t data_len;
  tl_code code;
  const char *msg; /* substring of the message after "bad.npy: " */
} bad_case;

static void expect_reject(const unsigned char *b, size_t len, tl_code code, const char *msg,
                          const char *what) {
  tl_tensor *t = (tl_tensor *)1;
  tl_status st;
  tl_status_clear(&st);
  tl_code rc = tl_npy_read_mem(b, len, "bad.npy", &t, &st);
  cr_assert_eq(rc, code, "%s: got %s (%s)", what, tl_code_name(rc), st.msg);
  cr_assert_null(t, "%s: *out not NULL on failure", what);
  cr_assert(strncmp(st.msg, "bad.npy: byte ", 14) == 0, "%s: message lacks 'bad.npy: byte N': %s", what,
            st.msg);
  cr_assert(strstr(st.msg, msg) != NULL, "%s: message '%s' lacks '%s'", what, st.msg, msg);
}

Test(npy, malformed_headers_rejected_with_position) {
  static const bad_case cases[] = {
      {"missing shape", 1, "{'descr': '<f4', 'fortran_order': False}", 0, TL_EFORMAT,
       "byte 10: header lacks the key 'shape'"},
      {"missing descr", 2, "{'fortran_order': False, 'shape': ()}", 4, TL_EFORMAT, "lacks the key 'descr'"},
      {"unknown dtype", 1, "{'descr': '<x3', 'fortran_order': False, 'shape': ()}", 4, TL_EFORMAT,
       "byte 20: unknown dtype '<x3'"},
      {"complex dtype", 1, "{'descr': '<c8', 'fortran_order': False, 'shape': ()}", 8, TL_EUNSUPPORTED,
       "unsupported dtype '<c8'"},
      {"structured dtype", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}", 4,
       TL_EUNSUPPORTED, "structured"},
      {"pipe on f4", 1, "{'descr': '|f4', 'fortran_order': False, 'shape': ()}", 4, TL_EFORMAT,
       "only valid for 1-byte"},
      {"negative dim", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", 0, TL_EFORMAT,
       "byte 64: negative dimension"},
      {"absurd dim", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 0,
       TL_EFORMAT, "absurd dimension"},
      {"size overflow", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 2147483648, 4)}",
       0, TL_ENOMEM, "byte 10: shape: dimension"},
      {"over 2^40 bytes", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,)}", 0,
       TL_ENOMEM, "larger than 2^40"},
      {"shape not a tuple", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", 12, TL_EFORMAT,
       "written (n,)"},
      {"shape a list", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [3]}", 12, TL_EFORMAT, "tuple"},
      {"missing comma", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3 4)}", 48, TL_EFORMAT,
       "expected ',' or ')'"},
      {"fortran 1", 1, "{'descr': '<f4', 'fortran_order': 1, 'shape': ()}", 4, TL_EFORMAT, "True or False"},
      {"fortran Truex", 1, "{'descr': '<f4', 'fortran_order': Truex, 'shape': ()}", 4, TL_EFORMAT,
       "True or False"},
      {"duplicate key", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4,
       TL_EFORMAT, "given twice"},
      {"extra key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}", 4, TL_EFORMAT,
       "unexpected key 'x'"},
      {"not a dict", 1, "['descr', '<f4']", 4, TL_EFORMAT, "byte 10: header is not a dict"},
      {"text after dict", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", 4, TL_EFORMAT,
       "after the header dict"},
      {"unterminated", 1, "{'descr': '<f4", 4, TL_EFORMAT, "byte 20: unterminated string"},
      {"garbage dtype", 1, "{'descr': '<f4, 'fortran_order': False, 'shape': ()}", 4, TL_EFORMAT,
       "unknown dtype '<f4, '"},
      {"datetime dtype", 1, "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': ()}", 8, TL_EUNSUPPORTED,
       "unsupported dtype"},
      {"unclosed dict", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()", 4, TL_EFORMAT,
       "expected ',' or '}'"},
      {"non-ascii v1", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()} \xc3\xa9", 4, TL_EFORMAT,
       "byte 64: non-ASCII byte 0xc3"},
      {"non-ascii v2", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': ()} \xc3\xa9", 4, TL_EFORMAT,
       "non-ASCII"},
      {"data short", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n", 11, TL_EFORMAT,
       "byte 66: data is 11 bytes, the header promises 12 (file truncated)"},
      {"data long", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n", 13, TL_EFORMAT,
       "(trailing bytes)"},
      {"bool 2", 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}\n", 3, TL_EFORMAT,
       "bool value 0x02"},
  };
  unsigned char data[64];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (unsigned char)(i == 2 ? 2 : i % 2);
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    size_t len;
    unsigned char *b = make_npy(cases[k].version, cases[k].header, data, cases[k].data_len, &len);
    expect_reject(b, len, cases[k].code, cases[k].msg, cases[k].what);
    free(b);
  }
  /* v3 allows UTF-8 in the header, but the parser still only accepts it where Python would */
  size_t len;
  unsigned char *b =
      make_npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': ()} \xc3\xa9", data, 4, &len);
  expect_reject(b, len, TL_EFORMAT, "after the header dict", "utf8 v3");
  free(b);
}

Test(npy, malformed_preamble_rejected) {
  size_t len;
  unsigned char *good =
      make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", "\0\0\0\0", 4, &len);
  unsigned char b[256];
  memcpy(b, good, len);
  b[1] = 'M';
  expect_reject(b, len, TL_EFORMAT, "byte 0: bad magic", "bad magic");
  expect_reject(good, 3, TL_EFORMAT, "byte 0: bad magic", "short magic");
  expect_reject(good, 7, TL_EFORMAT, "byte 7: file ends inside the version", "no version");
  expect_reject(good, 9, TL_EFORMAT, "byte 9: file ends inside the header length", "no length");
  memcpy(b, good, len);
  b[6] = 4;
  expect_reject(b, len, TL_EFORMAT, "byte 6: unsupported NPY format version 4.0", "version 4");
  b[6] = 1;
  b[7] = 1;
  expect_reject(b, len, TL_EFORMAT, "version 1.1", "minor 1");
  b[6] = 0;
  b[7] = 0;
  expect_reject(b, len, TL_EFORMAT, "version 0.0", "version 0");
  memcpy(b, good, len);
  b[8] = 0xff;
  b[9] = 0xff;
  expect_reject(b, len, TL_EFORMAT, "byte 8: header length 65535 runs past the end of the file",
                "hlen past end");
  free(good);
  good = make_npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", "\0\0\0\0", 4, &len);
  memcpy(b, good, len);
  b[8] = b[9] = b[10] = b[11] = 0xff;
  expect_reject(b, len, TL_EFORMAT, "byte 8: header length 4294967295 is too large", "hlen huge");
  expect_reject(good, len - 5, TL_EFORMAT, "runs past the end", "truncated header");
  free(good);

  tl_tensor *t;
  tl_status st;
  cr_assert_eq(tl_npy_read(TL_FIXTURES "/npy/no-such-file.npy", &t, &st), TL_EIO);
  cr_assert_null(t);
  cr_assert(strstr(st.msg, "no-such-file.npy: cannot open") != NULL, "%s", st.msg);
}

/* The values of the fixture formula for a dtype and shape, in a new tensor. */
static tl_tensor *expected_tensor(const char *code, int ndim, const int64_t *shape) {
  tl_tensor *t;
  cr_assert_eq(tl_tensor_new(&t, tl_fx_dtype(code), ndim, shape, NULL), TL_OK);
  for (int64_t i = 0; i < t->numel; i++)
    tl_tensor_set(t, i, tl_fx_expected(code, i));
  return t;
}

static const char *const all_codes[] = {"f2", "f4", "f8", "i1", "i2", "i4",
                                        "i8", "u1", "u2", "u4", "u8", "b1"};

typedef struct shape_case {
  int ndim;
  int64_t shape[5];
  const char *str; /* manifest form */
} shape_case;

static const shape_case shapes[] = {
    {3, {2, 3, 4}, "2,3,4"},           {0, {0}, "-"}, {1, {5}, "5,"}, {2, {0, 3}, "0,3"},
    {5, {1, 2, 1, 3, 2}, "1,2,1,3,2"},
};

/* Write every dtype x version x byte order x order x shape into dir, with a manifest line each.
 * Returns the number of files. */
static int write_all(const char *dir) {
  char mpath[1024];
  snprintf(mpath, sizeof mpath, "%s/manifest.txt", dir);
  FILE *mf = fopen(mpath, "w");
  cr_assert_not_null(mf);
  int n = 0;
  for (size_t c = 0; c < sizeof all_codes / sizeof all_codes[0]; c++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
      for (int version = 1; version <= 3; version++)
        for (int be = 0; be <= 1; be++)
          for (int fortran = 0; fortran <= 1; fortran++) {
            const char *code = all_codes[c];
            tl_tensor *t = expected_tensor(code, shapes[s].ndim, shapes[s].shape);
            tl_npy_write_opts o = {version, be, fortran};
            char name[128], path[1024];
            snprintf(name, sizeof name, "%s_s%zu_v%d_%s_%c.npy", code, s, version, be ? "be" : "le",
                     fortran ? 'f' : 'c');
            snprintf(path, sizeof path, "%s/%s", dir, name);
            tl_status st;
            cr_assert_eq(tl_npy_write(path, t, &o, &st), TL_OK, "%s: %s", name, st.msg);
            char bo = tl_dtype_size(t->dtype) == 1 ? '|' : be ? '>' : '<';
            fprintf(mf, "%s %s %c %c %d %s\n", name, code, bo, fortran && shapes[s].ndim > 1 ? 'F' : 'C',
                    version, shapes[s].str);
            tl_tensor_free(t);
            n++;
          }
  fclose(mf);
  return n;
}

Test(npy, writer_round_trips_every_dtype_version_order) {
  char dir[512];
  tl_fx_tempdir(dir, sizeof dir);
  cr_assert(dir[0]);
  int n = write_all(dir);
  char mpath[1024];
  snprintf(mpath, sizeof mpath, "%s/manifest.txt", dir);
  tl_fx_entry *e;
  cr_assert_eq(tl_fx_manifest(mpath, 1, &e), n);
  for (int i = 0; i < n; i++) {
    char path[1024], why[256];
    snprintf(path, sizeof path, "%s/%s", dir, e[i].file);
    void *raw;
    size_t len;
    cr_assert_eq(tl_read_file(path, &raw, &len, NULL), TL_OK);
    const unsigned char *b = raw;
    size_t hl = b[6] == 1 ? (size_t)(b[8] | b[9] << 8) : (size_t)(b[8] | b[9] << 8 | b[10] << 16);
    size_t data_off = (b[6] == 1 ? 10 : 12) + hl;
    cr_assert_eq(b[6], e[i].version, "%s", e[i].file);
    cr_assert_eq(data_off % 64, 0, "%s: data at %zu", e[i].file, data_off);
    cr_assert_eq(b[data_off - 1], '\n', "%s", e[i].file);
    free(raw);
    tl_tensor *t;
    tl_status st;
    cr_assert_eq(tl_npy_read(path, &t, &st), TL_OK, "%s: %s", e[i].file, st.msg);
    cr_assert(tl_fx_check(t, &e[i], why, sizeof why), "%s", why);
    tl_tensor_free(t);
  }
  free(e);
  tl_fx_rmdir(dir);
}

Test(npy, numpy_reads_our_files_exactly) {
  char dir[512];
  tl_fx_tempdir(dir, sizeof dir);
  cr_assert(dir[0]);
  write_all(dir);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/npy/check_ours.py '%s'", TL_FIXTURES, dir);
  int rc = system(cmd);
  /* No skipping: scripts/setup.sh installs python3-numpy, so a missing numpy is a failure. */
  cr_assert(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
            "numpy disagrees with our writer (or /usr/bin/python3 with numpy is missing): status %d", rc);
  tl_fx_rmdir(dir);
}

Test(npy, writer_rejects_bad_options) {
  tl_tensor *t = expected_tensor("f4", 1, (const int64_t[]){3});
  tl_status st;
  char dir[512], path[1024];
  tl_fx_tempdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/x.npy", dir);
  tl_npy_write_opts o = {4, 0, 0};
  cr_assert_eq(tl_npy_write(path, t, &o, &st), TL_EARG);
  cr_assert(strstr(st.msg, "version") != NULL, "%s", st.msg);
  cr_assert_eq(tl_fx_count_entries(dir), 0, "a rejected write left a file behind");
  /* default options and version 0 (automatic) give version 1 */
  cr_assert_eq(tl_npy_write(path, t, NULL, &st), TL_OK, "%s", st.msg);
  tl_npy_write_opts autov = {0, 0, 0};
  cr_assert_eq(tl_npy_write(path, t, &autov, &st), TL_OK, "%s", st.msg);
  void *raw;
  size_t len;
  cr_assert_eq(tl_read_file(path, &raw, &len, NULL), TL_OK);
  cr_assert_eq(((unsigned char *)raw)[6], 1);
  cr_assert_eq(len, 128 + 12);
  free(raw);
  tl_tensor_free(t);
  tl_fx_rmdir(dir);
}
