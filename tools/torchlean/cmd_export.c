/* cmd_export.c - `torchlean export MODEL [--format ir-json|dot|onnx] [--weights] [--fixed-batch]
 * [--out FILE]`: write a model file's graph as `torchlean.ir.v1` JSON, a Graphviz digraph, or an
 * ONNX model (opset 13, docs/pytorch.md; --out required). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "torchlean/torchlean.h"
#include "torchlean/model_file.h"
#include "torchlean/onnx.h"

static void dot_str(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', out);
    if ((unsigned char)*s >= 0x20)
      fputc(*s, out);
  }
}

static void write_dot(const tl_graph *g, FILE *out) {
  char shape[160];
  fprintf(out, "digraph torchlean {\n  rankdir=TB;\n  node [fontname=\"monospace\"];\n");
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    const char *op = tl_op_get(n->op)->name;
    fprintf(out, "  n%d [label=\"%d: %s", i, i, op);
    if (n->name) {
      fputc(' ', out);
      dot_str(out, n->name);
    }
    fprintf(out, "\\n%s\"", tl_shape_str(n->ndim, n->shape, shape, sizeof shape));
    if (n->op == TL_OP_INPUT)
      fprintf(out, ", shape=ellipse");
    else if (n->op == TL_OP_PARAM)
      fprintf(out, ", shape=box, style=dashed");
    else
      fprintf(out, ", shape=box");
    for (int k = 0; k < g->noutputs; k++)
      if (g->outputs[k] == i)
        fprintf(out, ", peripheries=2");
    fprintf(out, "];\n");
  }
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i].nparents; k++)
      fprintf(out, "  n%d -> n%d;\n", g->nodes[i].parents[k], i);
  fprintf(out, "}\n");
}

/* --format onnx: the model file's graph as an ONNX model (opset 13) at out_path.  A graph the
 * exporter refuses (an op opset 13 cannot express exactly) is bad input: exit 2. */
static int run_onnx(const tl_cli *cli, const char *out_path) {
  tl_status st;
  tl_graph *g = NULL;
  if (tl_model_load(cli->pos[0], &g, &st) != TL_OK)
    return tl_cli_usage_error(cli, "%s", st.msg);
  tl_onnx_export_opts opts = tl_onnx_export_opts_default();
  opts.fixed_batch = tl_cli_get(cli, "fixed-batch") != NULL;
  tl_onnx_export_info info;
  tl_code rc = tl_onnx_export_ex(out_path, g, &opts, &info, &st);
  tl_graph_free(g);
  if (rc != TL_OK) {
    fprintf(stderr, "torchlean export: %s\n", st.msg);
    return rc == TL_EIO || rc == TL_ENOMEM ? 1 : 2;
  }
  printf("wrote %s: ONNX opset 13, %d nodes, %d initializers, batch %s%s\n", out_path, info.nnodes,
         info.ninitializers, info.symbolic_batch ? "symbolic " : "fixed",
         info.symbolic_batch ? opts.batch_name : "");
  return 0;
}

/* ir-json or dot to out_path (atomically) or stdout */
static int run_text(const tl_cli *cli, const char *out_path, int dot, int weights) {
  tl_status st;
  tl_graph *g = NULL;
  if (tl_model_load(cli->pos[0], &g, &st) != TL_OK)
    return tl_cli_usage_error(cli, "%s", st.msg);
  char *json = NULL;
  if (!dot && tl_ir_json_write(g, weights, &json, &st) != TL_OK) {
    tl_graph_free(g);
    fprintf(stderr, "torchlean export: %s\n", st.msg);
    return 1;
  }
  int rc = 0;
  if (out_path) {
    tl_atomic_file f;
    if (tl_atomic_open(&f, out_path, &st) != TL_OK) {
      rc = 1;
    } else {
      if (dot)
        write_dot(g, f.fp);
      else
        fputs(json, f.fp);
      if (tl_atomic_commit(&f, &st) != TL_OK) {
        tl_atomic_abort(&f);
        rc = 1;
      }
    }
    if (rc)
      fprintf(stderr, "torchlean export: %s\n", st.msg);
  } else {
    if (dot)
      write_dot(g, stdout);
    else
      fputs(json, stdout);
    if (fflush(stdout) != 0) {
      fprintf(stderr, "torchlean export: writing to stdout failed\n");
      rc = 1;
    }
  }
  free(json);
  tl_graph_free(g);
  return rc;
}

static int run(const tl_cli *cli) {
  const char *format = tl_cli_get(cli, "format");
  const char *out_path = tl_cli_get(cli, "out");
  int weights = tl_cli_get(cli, "weights") != NULL;
  if (!format)
    format = "ir-json";
  int dot = strcmp(format, "dot") == 0, onnx = strcmp(format, "onnx") == 0;
  if (!dot && !onnx && strcmp(format, "ir-json") != 0)
    return tl_cli_usage_error(cli, "--format: expected ir-json, dot or onnx, got '%s'", format);
  if (weights && (dot || onnx))
    return tl_cli_usage_error(cli, "--weights only applies to --format ir-json");
  if (!onnx && tl_cli_get(cli, "fixed-batch"))
    return tl_cli_usage_error(cli, "--fixed-batch only applies to --format onnx");
  if (onnx && !out_path)
    return tl_cli_usage_error(cli, "--format onnx needs --out FILE (ONNX is a binary file)");
  if (!tl_cli_check_output(cli, "out", out_path, cli->pos[0], NULL))
    return 2;
  return onnx ? run_onnx(cli, out_path) : run_text(cli, out_path, dot, weights);
}

static const tl_cli_flag flags[] = {
    {"format", "F", "ir-json (default), dot or onnx (opset 13; needs --out)"},
    {"weights", NULL, "ir-json: embed the weights as exact hex-float strings"},
    {"fixed-batch", NULL, "onnx: keep the model's batch size instead of a symbolic batch dimension N"},
    {"out", "FILE", "write here (atomically) instead of stdout"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_export = {
    "export", "MODEL", "write a model's graph as torchlean.ir.v1 JSON, Graphviz dot or ONNX", 1, 1,
    flags,    run,
};
