/* cmd_import.c - `torchlean import MODEL.onnx --out MODEL.tlm`: import an ONNX model (opsets 7-18,
 * docs/onnx.md) and write it as a TorchLean model file.  Bad or unsupported input: exit 2 with the
 * importer's one line (file, node, op type, opset). */
#include <stdio.h>

#include "common.h"
#include "torchlean/model_file.h"
#include "torchlean/onnx.h"
#include "torchlean/tensor.h"

static int run(const tl_cli *cli) {
  const char *out = tl_cli_get(cli, "out");
  if (!out)
    return tl_cli_usage_error(cli, "--out MODEL.tlm is required");
  if (!tl_cli_check_output(cli, "out", out, cli->pos[0], NULL))
    return 2;
  tl_status st;
  tl_graph *g = NULL;
  if (tl_onnx_import(cli->pos[0], &g, &st) != TL_OK)
    return tl_cli_usage_error(cli, "%s", st.msg);
  int rc = 0;
  if (tl_model_save(out, g, &st) != TL_OK) {
    fprintf(stderr, "torchlean import: %s\n", st.msg);
    rc = 1;
  } else {
    char hex[65], s[160];
    const tl_node *in = &g->nodes[g->inputs[0]];
    printf("imported %s: %d nodes, %d input(s) (first %s), %d output(s), %lld weights\n", cli->pos[0],
           g->nnodes, g->ninputs, tl_shape_str(in->ndim, in->shape, s, sizeof s), g->noutputs,
           (long long)g->nweights);
    printf("wrote %s (graph sha256 %s)\n", out, tl_graph_hash_hex(g, hex));
  }
  tl_graph_free(g);
  return rc;
}

static const tl_cli_flag flags[] = {{"out", "FILE", "the model file to write (required)"},
                                    {NULL, NULL, NULL}};

const tl_cli_command tl_cmd_import = {
    "import", "MODEL.onnx", "import an ONNX model and write it as a TorchLean model file", 1, 1, flags, run,
};
