/* cmd_compare.c - `torchlean compare MODEL --input X [--index I] [--json]`: one input sample
 * through the float32 runtime (FAST kernels), the REF kernels, the f32-ref emulator and the spec
 * interpreter (docs/semantics.md).  Per node: max |runtime - exact| (absolute, relative, ulps;
 * upper bounds from the spec enclosure), the f32-any bound (the largest |a - exact| the f32-any
 * enclosure allows), whether every runtime value lies inside f32-any, and whether the REF kernels
 * equal the emulator bit for bit.  A value outside its bound or a REF/emulator difference is a
 * bug: exit 1.  Bad arguments or input: one line on stderr, exit 2. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "torchlean/floats.h"
#include "torchlean/model_file.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int same_bits(float a, float b) {
  if (isnan(a) && isnan(b))
    return 1;
  uint32_t x, y;
  memcpy(&x, &a, 4), memcpy(&y, &b, 4);
  return x == y;
}

/* per-node values of an eager run (every node kept); NULL on failure (message in st) */
static float **run_eager(tl_graph *g, const float *x, tl_kernels kern, tl_status *st) {
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = TL_EAGER, o.kernels = kern;
  tl_exec *e = NULL;
  float **v = calloc((size_t)g->nnodes + 1, sizeof *v);
  if (!v || tl_exec_new(&e, g, &o, st) != TL_OK || tl_exec_set_input(e, g->inputs[0], x, st) != TL_OK ||
      tl_exec_forward(e, st) != TL_OK) {
    tl_exec_free(e);
    free(v);
    return NULL;
  }
  for (int id = 0; id < g->nnodes; id++) {
    const float *y = tl_exec_value(e, id);
    int64_t n = g->nodes[id].numel;
    if (!y || g->nodes[id].op == TL_OP_PARAM || g->nodes[id].op == TL_OP_INPUT)
      continue;
    v[id] = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (v[id])
      memcpy(v[id], y, sizeof(float) * (size_t)n);
  }
  tl_exec_free(e);
  return v;
}

static void free_vals(const tl_graph *g, float **v) {
  if (!v)
    return;
  for (int id = 0; id < g->nnodes; id++)
    free(v[id]);
  free(v);
}

typedef struct node_row {
  int id;
  const char *op;
  int64_t numel;
  double abs_e, rel_e, ulp_e, bound, ratio;
  int64_t outside, ref_mismatch;
} node_row;

/* JSON number or null (non-finite) */
static void jnum(double v) {
  if (isfinite(v))
    printf("%.9g", v);
  else
    printf("null");
}

/* Load X and pick sample `index` of `per` floats; returns malloc'ed floats or NULL (message printed). */
static float *load_sample(const char *path, int64_t per, long long index, const char *cmd,
                          const char *shape_str) {
  tl_status st;
  tl_tensor *t = NULL, *f = NULL;
  if (tl_tensor_load(path, &t, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", cmd, st.msg);
    return NULL;
  }
  int u8 = t->dtype == TL_U8; /* IDX images: pixels / 255 as the dataset loader does */
  if (tl_tensor_convert(&f, t, TL_F32, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s: %s\n", cmd, path, st.msg);
    tl_tensor_free(t);
    return NULL;
  }
  tl_tensor_free(t);
  float *out = NULL;
  int64_t count = per > 0 ? f->numel / per : 0;
  if (per <= 0 || f->numel == 0 || f->numel % per != 0) {
    fprintf(stderr,
            "torchlean %s: %s holds %lld values, not a multiple of the model input %s (%lld values)\n", cmd,
            path, (long long)f->numel, shape_str, (long long)per);
  } else if (index < 0 || index >= count) {
    fprintf(stderr, "torchlean %s: --index %lld out of range: %s holds %lld sample%s\n", cmd, index, path,
            (long long)count, count == 1 ? "" : "s");
  } else if ((out = malloc(sizeof(float) * (size_t)per)) != NULL) {
    const float *src = tl_tensor_f32(f) + index * per;
    for (int64_t i = 0; i < per; i++) {
      out[i] = u8 ? src[i] / 255.0f : src[i];
      if (!isfinite(out[i])) {
        fprintf(stderr, "torchlean %s: %s: sample %lld value %lld is not finite\n", cmd, path, index,
                (long long)i);
        free(out);
        out = NULL;
        break;
      }
    }
  } else {
    fprintf(stderr, "torchlean %s: out of memory\n", cmd);
  }
  tl_tensor_free(f);
  return out;
}

/* ---- parse ---- */
typedef struct compare_opts {
  const char *model, *input;
  long long index;
  int json;
} compare_opts;

static int compare_parse(const tl_cli *cli, compare_opts *o) {
  memset(o, 0, sizeof *o);
  o->input = tl_cli_get(cli, "input");
  if (!o->input)
    return tl_cli_usage_error(cli, "--input X.npy is required");
  if (!tl_cli_long(cli, "index", 0, (long long)1 << 40, &o->index))
    return 2;
  o->json = tl_cli_get(cli, "json") != NULL;
  o->model = cli->pos[0];
  return 0;
}

/* ---- run ---- */
typedef struct compare_res {
  node_row *rows;
  int nrows, worst_node;
  double worst, secs, t_run, t_exact;
  int64_t total_outside, total_mismatch;
} compare_res;

/* the model (one input) and the sample; 0 or 2 (printed) */
static int compare_load(const compare_opts *o, tl_graph **g, float **x) {
  tl_status st;
  if (tl_model_load(o->model, g, &st) != TL_OK) {
    fprintf(stderr, "torchlean compare: %s\n", st.msg);
    return 2;
  }
  if ((*g)->ninputs != 1) {
    fprintf(stderr, "torchlean compare: %s: the model must have exactly one input (it has %d)\n", o->model,
            (*g)->ninputs);
    tl_graph_free(*g);
    return 2;
  }
  const tl_node *in = &(*g)->nodes[(*g)->inputs[0]];
  char shape[128];
  tl_shape_str(in->ndim, in->shape, shape, sizeof shape);
  *x = load_sample(o->input, in->numel, o->index, "compare", shape);
  if (!*x) {
    tl_graph_free(*g);
    return 2;
  }
  return 0;
}

/* node id's row: the errors of the FAST run against the spec enclosure and the f32-any bound */
static void compare_node(const tl_graph *g, int id, const float *fast, const float *ref,
                         const tl_compare_report *rep, node_row *r) {
  const tl_compare_node *cn = &rep->nodes[id];
  r->id = id, r->op = tl_op_get(g->nodes[id].op)->name, r->numel = cn->numel;
  r->abs_e = cn->max_abs_err, r->rel_e = cn->max_rel_err, r->ulp_e = cn->max_ulp_err;
  r->outside = cn->outside_any;
  for (int64_t i = 0; i < cn->numel; i++) {
    double slo, shi, alo, ahi;
    tl_spec_get_d(rep->spec, id, i, &slo, &shi);
    tl_f32any_get_d(rep->any, id, i, &alo, &ahi);
    /* the largest |a - exact| the f32-any enclosure allows, and the observed error bound */
    double b = fmax(shi - alo, ahi - slo), v = fast[i];
    double e = isnan(v) ? INFINITY : fmax(fabs(v - slo), fabs(v - shi));
    double ratio = e == 0 ? 0 : (b > 0 ? e / b : INFINITY);
    if (!(b <= r->bound))
      r->bound = b;
    if (!(ratio <= r->ratio))
      r->ratio = ratio;
    if (ref && !same_bits(ref[i], rep->emu->v[id][i]))
      r->ref_mismatch++;
  }
}

/* the runs (FAST, REF), the exact evaluation and one row per computed node; 0 or 2 (printed) */
static int compare_run(tl_graph *g, const float *x, float ***fast, float ***ref, tl_compare_report **rep,
                       compare_res *res) {
  tl_status st;
  int rc = 0;
  double t_run0 = now_s();
  *fast = run_eager(g, x, TL_KERNELS_FAST, &st);
  *ref = *fast ? run_eager(g, x, TL_KERNELS_REF, &st) : NULL;
  res->t_run = now_s() - t_run0;
  double t_ex0 = now_s();
  const float *inputs[1] = {x};
  if (!*ref) {
    fprintf(stderr, "torchlean compare: runtime: %s\n", st.msg);
    rc = 2;
  } else if (tl_compare_run(NULL, g, inputs, (const float *const *)*fast, rep, &st) != TL_OK) {
    fprintf(stderr, "torchlean compare: exact evaluation: %s\n", st.msg);
    rc = 2;
  } else if (!(*rep)->any) {
    fprintf(stderr, "torchlean compare: f32-any model: %s\n", (*rep)->any_status.msg);
    rc = 2;
  }
  res->t_exact = now_s() - t_ex0;
  res->rows = rc == 0 ? calloc((size_t)g->nnodes + 1, sizeof *res->rows) : NULL;
  if (rc == 0 && !res->rows) {
    fprintf(stderr, "torchlean compare: out of memory\n");
    rc = 2;
  }
  res->worst_node = -1;
  for (int id = 0; rc == 0 && id < g->nnodes; id++) {
    if (!(*fast)[id])
      continue;
    node_row *r = &res->rows[res->nrows++];
    compare_node(g, id, (*fast)[id], (*ref)[id], *rep, r);
    res->total_outside += r->outside;
    res->total_mismatch += r->ref_mismatch;
    if (!(r->ratio <= res->worst) && isfinite(r->bound)) /* unbounded enclosures give no ratio */
      res->worst = r->ratio, res->worst_node = id;
  }
  return rc;
}

/* ---- report ---- */
static void report_json(const compare_opts *o, const compare_res *res) {
  printf("{\"model\": \"%s\", \"input\": \"%s\", \"index\": %lld, \"nodes\": [", o->model, o->input,
         o->index);
  for (int k = 0; k < res->nrows; k++) {
    const node_row *r = &res->rows[k];
    printf("%s\n  {\"node\": %d, \"op\": \"%s\", \"numel\": %lld, \"max_abs_err\": ", k ? "," : "", r->id,
           r->op, (long long)r->numel);
    jnum(r->abs_e);
    printf(", \"max_rel_err\": ");
    jnum(r->rel_e);
    printf(", \"max_ulp_err\": ");
    jnum(r->ulp_e);
    printf(", \"any_bound\": ");
    jnum(r->bound);
    printf(", \"ratio\": ");
    jnum(r->ratio);
    printf(
        ", \"outside_any\": %lld, \"inside_any\": %s, \"ref_mismatch\": %lld, \"ref_equals_emulator\": %s}",
        (long long)r->outside, r->outside ? "false" : "true", (long long)r->ref_mismatch,
        r->ref_mismatch ? "false" : "true");
  }
  printf("\n], \"max_ratio\": ");
  jnum(res->worst);
  printf(", \"max_ratio_node\": %d, \"all_inside_any\": %s, \"ref_equals_emulator\": %s, \"seconds\": %.3f, "
         "\"seconds_runtime\": %.4f, \"seconds_exact\": %.3f}\n",
         res->worst_node, res->total_outside ? "false" : "true", res->total_mismatch ? "false" : "true",
         res->secs, res->t_run, res->t_exact);
}

static void report_table(const compare_res *res) {
  printf("%-5s %-14s %8s %12s %12s %10s %12s %9s %6s %9s\n", "node", "op", "numel", "max_abs", "max_rel",
         "max_ulp", "any_bound", "ratio", "inside", "ref==emu");
  for (int k = 0; k < res->nrows; k++) {
    const node_row *r = &res->rows[k];
    printf("%-5d %-14s %8lld %12.4g %12.4g %10.4g %12.4g %9.4g %6s %9s\n", r->id, r->op, (long long)r->numel,
           r->abs_e, r->rel_e, r->ulp_e, r->bound, r->ratio, r->outside ? "NO" : "yes",
           r->ref_mismatch ? "NO" : "yes");
  }
  printf(
      "summary: %d nodes, largest error/bound ratio %.4g (node %d), all inside f32-any: %s, REF == emulator: "
      "%s, %.3f s (runtime %.4f s, exact %.3f s)\n",
      res->nrows, res->worst, res->worst_node, res->total_outside ? "NO" : "yes",
      res->total_mismatch ? "NO" : "yes", res->secs, res->t_run, res->t_exact);
}

/* a value outside its bound or a REF/emulator difference is a bug: one line each, exit 1 */
static int report_bugs(const compare_res *res) {
  if (!res->total_outside && !res->total_mismatch)
    return 0;
  for (int k = 0; k < res->nrows; k++) {
    const node_row *r = &res->rows[k];
    if (r->outside)
      fprintf(stderr, "torchlean compare: BUG: node %d (%s): %lld runtime values outside the f32-any bound\n",
              r->id, r->op, (long long)r->outside);
    if (r->ref_mismatch)
      fprintf(stderr,
              "torchlean compare: BUG: node %d (%s): %lld REF values differ from the f32-ref emulator\n",
              r->id, r->op, (long long)r->ref_mismatch);
  }
  return 1;
}

static int run_compare(const tl_cli *cli) {
  compare_opts o;
  if (compare_parse(cli, &o))
    return 2;
  double t0 = now_s();
  tl_graph *g = NULL;
  float *x = NULL;
  if (compare_load(&o, &g, &x))
    return 2;
  if (tl_f32_flushes_subnormals()) {
    fprintf(stderr, "torchlean compare: this process flushes subnormals to zero (FTZ/DAZ): the f32-any "
                    "bounds assume gradual underflow\n");
    return 2;
  }
  float **fast = NULL, **ref = NULL;
  tl_compare_report *rep = NULL;
  compare_res res;
  memset(&res, 0, sizeof res);
  int rc = compare_run(g, x, &fast, &ref, &rep, &res);
  res.secs = now_s() - t0;
  if (rc == 0 && o.json)
    report_json(&o, &res);
  else if (rc == 0)
    report_table(&res);
  if (rc == 0)
    rc = report_bugs(&res);
  free(res.rows);
  tl_compare_report_free(rep);
  free_vals(g, fast);
  free_vals(g, ref);
  free(x);
  tl_graph_free(g);
  return rc;
}

static const tl_cli_flag compare_flags[] = {
    {"input", "X",
     "one sample shaped like the model input, or a batch (NPY; CSV/IDX through tl_tensor_load, "
     "IDX bytes scaled by 1/255)"},
    {"index", "I", "sample of the batch to compare [0]"},
    {"json", NULL, "print JSON instead of a table"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_compare = {
    "compare",
    "MODEL",
    "runtime (FAST, REF) vs f32-ref emulator, f32-any bound and exact (spec) values, per node",
    1,
    1,
    compare_flags,
    run_compare};
