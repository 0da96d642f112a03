/* test_csv.c - CSV: fixtures, header detection, delimiters, CRLF, blank lines, and "FILE: row R,
 * col C: ..." errors (rows are 1-based file lines; a header is row 1). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "torchlean/io.h"

#define CSV_DIR TL_FIXTURES "/csv"

static tl_tensor *read_ok(const char *text, tl_csv_opts o, int *had_header) {
  tl_tensor *t;
  tl_status st;
  tl_status_clear(&st);
  tl_code rc = tl_csv_read_mem(text, strlen(text), "t.csv", &o, &t, had_header, &st);
  cr_assert_eq(rc, TL_OK, "'%s': %s", text, st.msg);
  return t;
}

static void expect_values(const tl_tensor *t, int64_t rows, int64_t cols, const double *v) {
  cr_assert_eq(t->ndim, 2);
  cr_assert(t->shape[0] == rows && t->shape[1] == cols, "shape [%lld, %lld]", (long long)t->shape[0],
            (long long)t->shape[1]);
  for (int64_t i = 0; i < rows * cols; i++)
    cr_assert(tl_tensor_get(t, i) == v[i] || (isnan(v[i]) && isnan(tl_tensor_get(t, i))),
              "element %lld: %g vs %g", (long long)i, tl_tensor_get(t, i), v[i]);
}

static void expect_error(const char *text, tl_csv_opts o, tl_code code, const char *msg) {
  tl_tensor *t = (tl_tensor *)1;
  tl_status st;
  int hh = 7;
  tl_code rc = tl_csv_read_mem(text, strlen(text), "t.csv", &o, &t, &hh, &st);
  cr_assert_eq(rc, code, "'%s': got %s (%s)", text, tl_code_name(rc), rc ? st.msg : "");
  cr_assert_null(t);
  cr_assert_eq(hh, 0);
  cr_assert(strstr(st.msg, msg) != NULL, "'%s': message '%s' lacks '%s'", text, st.msg, msg);
}

Test(csv, fixtures) {
  tl_tensor *t;
  tl_status st;
  int hh;
  tl_csv_opts detect = {0, -1, TL_F64};
  cr_assert_eq(tl_csv_read(CSV_DIR "/header.csv", &detect, &t, &hh, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(hh, 1);
  expect_values(t, 2, 3, (const double[]){1, 2, 3, 4.5, -6, 700});
  tl_tensor_free(t);

  cr_assert_eq(tl_csv_read(CSV_DIR "/crlf_nofinal.csv", NULL, &t, &hh, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(hh, 0);
  cr_assert_eq(t->dtype, TL_F32);
  expect_values(t, 3, 2, (const double[]){1, 2, 3, 4, 5, 6});
  tl_tensor_free(t);

  tl_csv_opts semi = {';', 0, TL_F32};
  cr_assert_eq(tl_csv_read(CSV_DIR "/semicolon.csv", &semi, &t, NULL, &st), TL_OK, "%s", st.msg);
  expect_values(t, 2, 3, (const double[]){1, 2, 3, 4, 5, 6});
  tl_tensor_free(t);

  cr_assert_eq(tl_csv_read(CSV_DIR "/special.csv", &detect, &t, &hh, &st), TL_OK, "%s", st.msg);
  expect_values(t, 2, 2, (const double[]){NAN, INFINITY, -INFINITY, 0.125});
  tl_tensor_free(t);

  cr_assert_eq(tl_csv_read(CSV_DIR "/bad_cell.csv", NULL, &t, NULL, &st), TL_EFORMAT);
  cr_assert(strstr(st.msg, "bad_cell.csv: row 2, col 2: 'oops' is not a number") != NULL, "%s", st.msg);
  cr_assert_eq(tl_csv_read(CSV_DIR "/ragged.csv", NULL, &t, NULL, &st), TL_EFORMAT);
  cr_assert(strstr(st.msg, "ragged.csv: row 2, col 3: 2 cells, expected 3") != NULL, "%s", st.msg);
  cr_assert_eq(tl_csv_read(CSV_DIR "/missing.csv", NULL, &t, NULL, &st), TL_EIO);
  cr_assert(strstr(st.msg, "missing.csv: cannot open") != NULL, "%s", st.msg);
}

Test(csv, header_modes) {
  tl_csv_opts o = {0, -1, TL_F64};
  int hh;
  tl_tensor *t = read_ok("1,2\n3,4\n", o, &hh);
  cr_assert_eq(hh, 0);
  expect_values(t, 2, 2, (const double[]){1, 2, 3, 4});
  tl_tensor_free(t);
  o.header = 1; /* forced: the numeric first row is skipped */
  t = read_ok("1,2\n3,4\n", o, &hh);
  cr_assert_eq(hh, 1);
  expect_values(t, 1, 2, (const double[]){3, 4});
  tl_tensor_free(t);
  o.header = 0;
  expect_error("a,b\n3,4\n", o, TL_EFORMAT, "t.csv: row 1, col 1: 'a' is not a number");
  o.header = -1;
  t = read_ok("a,b\n", o, &hh); /* header only: zero rows */
  cr_assert(hh == 1 && t->shape[0] == 0 && t->shape[1] == 2);
  tl_tensor_free(t);
  t = read_ok("", o, &hh);
  cr_assert(hh == 0 && t->shape[0] == 0 && t->shape[1] == 0);
  tl_tensor_free(t);
  expect_error("a,b,c\n1,2\n", o, TL_EFORMAT, "row 2, col 1: 2 cells, but the header (row 1) has 3");
}

Test(csv, whitespace_crlf_bom_and_blank_lines) {
  tl_csv_opts o = {0, -1, TL_F64};
  tl_tensor *t = read_ok("\xEF\xBB\xBFx,y\r\n 1 ,\t2\r\n3,4\r\n\r\n  \n", o, NULL);
  expect_values(t, 2, 2, (const double[]){1, 2, 3, 4});
  tl_tensor_free(t);
  t = read_ok("1e-3,-0x10,+5", o, NULL);
  expect_values(t, 1, 3, (const double[]){1e-3, -16, 5});
  tl_tensor_free(t);
  tl_csv_opts tab = {'\t', 0, TL_F64};
  t = read_ok("1\t2\n 3\t4\n", tab, NULL);
  expect_values(t, 2, 2, (const double[]){1, 2, 3, 4});
  tl_tensor_free(t);
  expect_error("1,2\n\n3,4\n", o, TL_EFORMAT, "t.csv: row 2, col 1: empty line inside the data");
}

Test(csv, cell_errors_name_row_and_column) {
  tl_csv_opts o = {0, -1, TL_F32};
  expect_error("h1,h2\n1,2\n3,\n", o, TL_EFORMAT, "t.csv: row 3, col 2: empty cell");
  expect_error("1,2\n3,4x\n", o, TL_EFORMAT, "t.csv: row 2, col 2: '4x' is not a number");
  expect_error("1,2\n3,4,5\n", o, TL_EFORMAT, "t.csv: row 2, col 3: 3 cells, expected 2");
  expect_error("1,2\n3,1e999\n", o, TL_EFORMAT, "row 2, col 2: '1e999' is out of the range of a double");
  expect_error("1,2\n3,1e300\n", o, TL_EFORMAT, "row 2, col 2: '1e300' is out of the range of float32");
  o.header = 0;
  expect_error("1,\"2\"x\n", o, TL_EFORMAT, "t.csv: row 1, col 2: '\"2\"x': text after the closing quote");
  expect_error("1,2\n3,\"4\n5,6\n", o, TL_EFORMAT,
               "t.csv: row 2, col 2: a quoted cell is not closed before the end of the file");
  expect_error("1,\"\"\n", o, TL_EFORMAT, "t.csv: row 1, col 2: empty cell");
  expect_error("1,\"a\"\n", o, TL_EFORMAT, "t.csv: row 1, col 2: '\"a\"' is not a number");
  const char nul[] = "1,2\n3,4\0 5\n";
  tl_tensor *t;
  tl_status st;
  cr_assert_eq(tl_csv_read_mem(nul, sizeof nul - 1, "t.csv", &o, &t, NULL, &st), TL_EFORMAT);
  cr_assert(strstr(st.msg, "row 2, col 2") != NULL, "%s", st.msg);
  o.dtype = TL_I32;
  expect_error("1\n", o, TL_EARG, "float32 or float64");
  tl_csv_opts bad_delim = {'\n', 0, TL_F32};
  expect_error("1\n", bad_delim, TL_EARG, "delimiter");
  tl_csv_opts quote_delim = {'"', 0, TL_F32};
  expect_error("1\n", quote_delim, TL_EARG, "delimiter");
}

/* RFC 4180 quoting: quoted numbers, headers with delimiters, doubled quotes and line breaks; rows
 * in messages stay file lines (a record is named by its first line) */
Test(csv, quoted_cells) {
  tl_csv_opts o = {0, -1, TL_F64};
  int hh = 0;
  tl_tensor *t = read_ok(
      "\"a,b\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n\"1.5\", \"2\" ,3\r\n\" 4 \",5,\"-6e1\"\n", o, &hh);
  cr_assert_eq(hh, 1);
  expect_values(t, 2, 3, (const double[]){1.5, 2, 3, 4, 5, -60});
  tl_tensor_free(t);
  tl_csv_opts semi = {';', 0, TL_F64};
  t = read_ok("\"1\";\"2\"\n\"3\";4\n", semi, NULL);
  expect_values(t, 2, 2, (const double[]){1, 2, 3, 4});
  tl_tensor_free(t);
  /* the header spans lines 1-2, so the bad data row is line 4 */
  expect_error("\"x\ny\",z\n1,2\n3,q\n", o, TL_EFORMAT, "t.csv: row 4, col 2: 'q' is not a number");
  expect_error("\"x\ny\",z\n1,2,3\n", o, TL_EFORMAT,
               "t.csv: row 3, col 1: 3 cells, but the header (row 1) has 2");
}
