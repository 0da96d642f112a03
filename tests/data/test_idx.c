/* test_idx.c - IDX: fixtures (plain and gzip), Fashion-MNIST, malformed files, format guessing. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tl_fixtures.h"
#include "torchlean/io.h"

#define IDX_DIR TL_FIXTURES "/idx"
#define FASHION "/usr/share/datasets/fashion-mnist"

Test(idx, every_fixture_reads_exactly) {
  tl_fx_entry *e;
  int n = tl_fx_manifest(IDX_DIR "/manifest.txt", 0, &e);
  cr_assert_geq(n, 14, "manifest missing or short (%d)", n);
  int gz = 0;
  for (int i = 0; i < n; i++) {
    char path[1024], why[256];
    snprintf(path, sizeof path, "%s/%s", IDX_DIR, e[i].file);
    tl_tensor *t;
    tl_status st;
    cr_assert_eq(tl_idx_read(path, &t, &st), TL_OK, "%s: %s", e[i].file, st.msg);
    cr_assert(tl_fx_check(t, &e[i], why, sizeof why), "%s", why);
    tl_tensor_free(t);
    cr_assert_eq(tl_file_format_guess(path), TL_FORMAT_IDX, "%s", e[i].file);
    cr_assert_eq(tl_tensor_load(path, &t, &st), TL_OK, "%s: %s", e[i].file, st.msg);
    tl_tensor_free(t);
    gz += strstr(e[i].file, ".gz") != NULL;
  }
  cr_assert_geq(gz, 2);
  free(e);
}

/* Fashion-MNIST is installed by scripts/setup.sh (dataset-fashion-mnist): missing is a failure. */
Test(idx, fashion_mnist_test_labels_and_images) {
  tl_tensor *t;
  tl_status st;
  cr_assert_eq(tl_idx_read(FASHION "/t10k-labels-idx1-ubyte.gz", &t, &st), TL_OK,
               "%s (run scripts/setup.sh to install dataset-fashion-mnist)", st.msg);
  cr_assert(t->dtype == TL_U8 && t->ndim == 1 && t->shape[0] == 10000);
  int counts[10] = {0};
  for (int64_t i = 0; i < t->numel; i++) {
    uint8_t v = ((uint8_t *)t->data)[i];
    cr_assert_leq(v, 9);
    counts[v]++;
  }
  for (int c = 0; c < 10; c++)
    cr_assert_eq(counts[c], 1000, "class %d", c); /* the test set is balanced */
  tl_tensor_free(t);
  cr_assert_eq(tl_tensor_load(FASHION "/t10k-images-idx3-ubyte.gz", &t, &st), TL_OK, "%s", st.msg);
  cr_assert(t->dtype == TL_U8 && t->ndim == 3 && t->shape[0] == 10000 && t->shape[1] == 28 &&
            t->shape[2] == 28);
  tl_tensor_free(t);
}

static void expect_reject(const void *b, size_t len, tl_code code, const char *msg) {
  tl_tensor *t = (tl_tensor *)1;
  tl_status st;
  tl_code rc = tl_idx_read_mem(b, len, "bad.idx", &t, &st);
  cr_assert_eq(rc, code, "'%s': got %s (%s)", msg, tl_code_name(rc), rc ? st.msg : "");
  cr_assert_null(t);
  cr_assert(strncmp(st.msg, "bad.idx: byte ", 14) == 0, "message lacks 'bad.idx: byte N': %s", st.msg);
  cr_assert(strstr(st.msg, msg) != NULL, "message '%s' lacks '%s'", st.msg, msg);
}

Test(idx, malformed_plain_files) {
  /* u8, 2 dims (2, 3), 6 bytes of payload */
  unsigned char good[4 + 8 + 6] = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
  unsigned char b[64];
  tl_tensor *t;
  cr_assert_eq(tl_idx_read_mem(good, sizeof good, "ok.idx", &t, NULL), TL_OK);
  tl_tensor_free(t);
  expect_reject(good, 3, TL_EFORMAT, "byte 3: file ends inside the 4-byte IDX magic");
  memcpy(b, good, sizeof good);
  b[1] = 8;
  expect_reject(b, sizeof good, TL_EFORMAT, "byte 0: bad magic 00 08");
  memcpy(b, good, sizeof good);
  b[2] = 0x0A;
  expect_reject(b, sizeof good, TL_EFORMAT, "byte 2: unknown IDX element type 0x0a");
  expect_reject(good, 9, TL_EFORMAT, "byte 9: file ends inside the 2 dimension sizes");
  expect_reject(good, sizeof good - 1, TL_EFORMAT,
                "byte 12: payload is 5 bytes, the header promises 6 (file truncated)");
  memcpy(b, good, sizeof good);
  b[sizeof good] = 7;
  expect_reject(b, sizeof good + 1, TL_EFORMAT, "(trailing bytes)");
  memcpy(b, good, sizeof good);
  memset(b + 4, 0xff, 8); /* dims 0xFFFFFFFF x 0xFFFFFFFF: over 2^40 bytes */
  expect_reject(b, sizeof good, TL_ENOMEM, "byte 4: shape: dimension 1");
  memcpy(b, good, sizeof good);
  memset(b + 4, 0xff, 4); /* 0xFFFFFFFF x 3 bytes: fits the guard, but the file is far too short */
  expect_reject(b, sizeof good, TL_EFORMAT, "header promises 12884901885");
  memcpy(b, good, sizeof good);
  b[3] = 200;
  expect_reject(b, sizeof good, TL_EFORMAT, "file ends inside the 200 dimension sizes");
}

Test(idx, malformed_gzip_files) {
  void *raw;
  size_t len;
  tl_status st;
  cr_assert_eq(tl_read_file(IDX_DIR "/f8_3x2x2.idx.gz", &raw, &len, &st), TL_OK, "%s", st.msg);
  unsigned char *b = malloc(len + 16);
  memcpy(b, raw, len);
  expect_reject(b, len / 2, TL_EFORMAT, "gzip stream truncated");
  expect_reject(b, len - 2, TL_EFORMAT, "gzip stream truncated"); /* inside the CRC/size trailer */
  b[len] = 0;
  b[len + 1] = 1;
  expect_reject(b, len + 2, TL_EFORMAT, "2 bytes of trailing data after the gzip stream");
  memcpy(b, raw, len);
  b[len - 5] ^= 0x40; /* the stored CRC-32 */
  expect_reject(b, len, TL_EFORMAT, "corrupt gzip data");
  memcpy(b, raw, len);
  b[3] = 0xE0; /* reserved flag bits in the gzip header */
  expect_reject(b, len, TL_EFORMAT, "corrupt gzip data");
  /* a valid gzip of a bad IDX: positions count in the decompressed stream */
  free(raw);
  cr_assert_eq(tl_read_file(IDX_DIR "/u1_3x2x2.idx.gz", &raw, &len, &st), TL_OK);
  tl_tensor *t;
  cr_assert_eq(tl_idx_read_mem(raw, len, "bad.idx", &t, &st), TL_OK);
  tl_tensor_free(t);
  free(raw);
  free(b);
}

Test(idx, format_guess) {
  cr_assert_eq(tl_file_format_guess(TL_FIXTURES "/npy/f4_le_c_v1.npy"), TL_FORMAT_NPY);
  cr_assert_eq(tl_file_format_guess(TL_FIXTURES "/csv/header.csv"), TL_FORMAT_CSV);
  cr_assert_eq(tl_file_format_guess(IDX_DIR "/u1_7.idx"), TL_FORMAT_IDX);
  cr_assert_eq(tl_file_format_guess("/nonexistent/train-images-idx3-ubyte"), TL_FORMAT_IDX);
  cr_assert_eq(tl_file_format_guess("/nonexistent/x.NPY"), TL_FORMAT_NPY);
  cr_assert_eq(tl_file_format_guess(TL_FIXTURES "/npy/make_npy_fixtures.py"), TL_FORMAT_UNKNOWN);
  cr_assert_str_eq(tl_file_format_name(TL_FORMAT_IDX), "idx");
  tl_tensor *t;
  tl_status st;
  cr_assert_eq(tl_tensor_load(TL_FIXTURES "/csv/header.csv", &t, &st), TL_OK, "%s", st.msg);
  cr_assert(t->dtype == TL_F32 && t->shape[0] == 2 && t->shape[1] == 3);
  tl_tensor_free(t);
  cr_assert_eq(tl_tensor_load(TL_FIXTURES "/npy/make_npy_fixtures.py", &t, &st), TL_EUNSUPPORTED);
  cr_assert(strstr(st.msg, "make_npy_fixtures.py: byte 0: unknown file format") != NULL, "%s", st.msg);
}
