/* cmd_inspect.c - `torchlean inspect FILE`: format, dtype, shape and value summary of a data file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "torchlean/model_file.h"
#include "torchlean/torchlean.h"

/* Output: one "key: value" line per fact, keys fixed and in this order, so scripts can grep and
 * new formats (model files) only add lines:
 *   file, format, [header (csv)], dtype, shape, numel, min, max, mean, nan
 * min/max/mean skip NaNs; with no non-NaN element they print "n/a". */

typedef struct summary {
  int64_t count; /* non-NaN elements */
  int64_t nans;
  double min, max, sum;
} summary;

static summary summarize(const tl_tensor *t) {
  summary s = {0, 0, INFINITY, -INFINITY, 0.0};
  for (int64_t i = 0; i < t->numel; i++) {
    double v = tl_tensor_get(t, i);
    if (isnan(v)) {
      s.nans++;
      continue;
    }
    s.count++;
    s.min = v < s.min ? v : s.min;
    s.max = v > s.max ? v : s.max;
    s.sum += v;
  }
  return s;
}

/* Shortest "%.*g" that reads back to the same double (at most 17 digits). */
static void print_value(const char *key, double v) {
  char buf[64];
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  printf("%s: %s\n", key, buf);
}

/* A safetensors layout: 8-byte little-endian header length, then the JSON header ('{'). */
static int looks_like_model_file(const char *path) {
  unsigned char b[9];
  FILE *fp = fopen(path, "rb");
  size_t n = fp ? fread(b, 1, sizeof b, fp) : 0;
  if (fp)
    fclose(fp);
  return n == sizeof b && b[8] == '{';
}

/* Model files: graph hash, nodes, inputs and outputs, parameter counts and weight statistics. */
static int inspect_model(const char *path) {
  tl_graph *g;
  tl_status st;
  if (tl_model_load(path, &g, &st) != TL_OK) {
    fprintf(stderr, "torchlean inspect: %s\n", st.msg);
    return 2;
  }
  char hex[65], shape[256];
  printf("file: %s\nformat: torchlean model (safetensors)\n", path);
  printf("graph_sha256: %s\nnodes: %d\n", tl_graph_hash_hex(g, hex), g->nnodes);
  for (int i = 0; i < g->ninputs; i++) {
    const tl_node *n = &g->nodes[g->inputs[i]];
    printf("input %s: %s\n", n->name, tl_shape_str(n->ndim, n->shape, shape, sizeof shape));
  }
  for (int i = 0; i < g->noutputs; i++) {
    const tl_node *n = &g->nodes[g->outputs[i]];
    printf("output node %d (%s): %s\n", g->outputs[i], tl_op_get(n->op)->name,
           tl_shape_str(n->ndim, n->shape, shape, sizeof shape));
  }
  printf("params: %lld (trainable %lld)\n", (long long)g->nweights, (long long)tl_graph_num_trainable(g));
  if (g->nweights > 0) {
    double mn = g->weights[0], mx = g->weights[0], sum = 0;
    for (int64_t i = 0; i < g->nweights; i++) {
      mn = g->weights[i] < mn ? g->weights[i] : mn;
      mx = g->weights[i] > mx ? g->weights[i] : mx;
      sum += g->weights[i];
    }
    print_value("weights min", mn);
    print_value("weights max", mx);
    print_value("weights mean", sum / (double)g->nweights);
  }
  tl_graph_free(g);
  return 0;
}

static int run(const tl_cli *cli) {
  const char *path = cli->pos[0];
  tl_csv_opts copts = {',', -1, TL_F64};
  const char *delim = tl_cli_get(cli, "delimiter"), *header = tl_cli_get(cli, "header");
  if (delim) {
    if (strcmp(delim, "tab") == 0 || strcmp(delim, "\\t") == 0)
      copts.delimiter = '\t';
    else if (strlen(delim) == 1)
      copts.delimiter = delim[0];
    else
      return tl_cli_usage_error(cli, "--delimiter: expected one character or 'tab', got '%s'", delim);
  }
  if (header) {
    if (strcmp(header, "yes") == 0 || strcmp(header, "1") == 0)
      copts.header = 1;
    else if (strcmp(header, "no") == 0 || strcmp(header, "0") == 0)
      copts.header = 0;
    else if (strcmp(header, "auto") != 0)
      return tl_cli_usage_error(cli, "--header: expected yes, no or auto, got '%s'", header);
  }
  tl_file_format fmt = tl_file_format_guess(path);
  if (fmt == TL_FORMAT_UNKNOWN && looks_like_model_file(path))
    return inspect_model(path);
  tl_status st;
  tl_status_clear(&st);
  tl_tensor *t = NULL;
  int had_header = 0;
  tl_code rc;
  switch (fmt) {
  case TL_FORMAT_NPY: rc = tl_npy_read(path, &t, &st); break;
  case TL_FORMAT_IDX: rc = tl_idx_read(path, &t, &st); break;
  case TL_FORMAT_CSV: rc = tl_csv_read(path, &copts, &t, &had_header, &st); break;
  default: rc = tl_tensor_load(path, &t, &st); break; /* reports why it is unknown */
  }
  if (rc != TL_OK) {
    fprintf(stderr, "torchlean inspect: %s\n", st.msg);
    return 2;
  }
  char shape[256];
  summary s = summarize(t);
  printf("file: %s\n", path);
  printf("format: %s\n", tl_file_format_name(fmt));
  if (fmt == TL_FORMAT_CSV)
    printf("header: %s\n", had_header ? "yes" : "no");
  printf("dtype: %s\n", tl_dtype_name(t->dtype));
  printf("shape: %s\n", tl_shape_str(t->ndim, t->shape, shape, sizeof shape));
  printf("numel: %lld\n", (long long)t->numel);
  if (s.count > 0) {
    print_value("min", s.min);
    print_value("max", s.max);
    print_value("mean", s.sum / (double)s.count);
  } else {
    printf("min: n/a\nmax: n/a\nmean: n/a\n");
  }
  printf("nan: %lld\n", (long long)s.nans);
  tl_tensor_free(t);
  return 0;
}

static const tl_cli_flag flags[] = {
    {"delimiter", "C", "CSV cell delimiter: one character or 'tab' (default ',')"},
    {"header", "MODE", "CSV header row: yes, no or auto (default auto)"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_inspect = {
    "inspect", "FILE", "show format, dtype, shape and min/max/mean of an NPY, CSV or IDX file", 1, 1,
    flags,     run,
};
