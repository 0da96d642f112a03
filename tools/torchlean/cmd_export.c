/* cmd_export.c - `torchlean export MODEL [--format ir-json|dot] [--weights] [--out FILE]`:
 * write a model file's graph as `torchlean.ir.v1` JSON or a Graphviz digraph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "torchlean/torchlean.h"
#include "torchlean/model_file.h"

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

static int run(const tl_cli *cli) {
  const char *format = tl_cli_get(cli, "format");
  const char *out_path = tl_cli_get(cli, "out");
  int weights = tl_cli_get(cli, "weights") != NULL;
  if (!format)
    format = "ir-json";
  int dot = strcmp(format, "dot") == 0;
  if (!dot && strcmp(format, "ir-json") != 0)
    return tl_cli_usage_error(cli, "--format: expected ir-json or dot, got '%s'", format);
  if (dot && weights)
    return tl_cli_usage_error(cli, "--weights only applies to --format ir-json");
  if (!tl_cli_check_output(cli, "out", out_path, cli->pos[0], NULL))
    return 2;
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

static const tl_cli_flag flags[] = {
    {"format", "F", "ir-json (default) or dot"},
    {"weights", NULL, "ir-json: embed the weights as exact hex-float strings"},
    {"out", "FILE", "write here (atomically) instead of stdout"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_export = {
    "export", "MODEL", "write a model's graph as torchlean.ir.v1 JSON or Graphviz dot", 1, 1, flags, run,
};
