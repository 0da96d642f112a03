/* cmd_summary.c - `torchlean summary MODEL`: one line per layer with shapes and parameter counts. */
#include <stdio.h>

#include "cli.h"
#include "torchlean/torchlean.h"
#include "torchlean/model_file.h"

static int run(const tl_cli *cli) {
  tl_status st;
  tl_graph *g = NULL;
  if (tl_model_load(cli->pos[0], &g, &st) != TL_OK)
    return tl_cli_usage_error(cli, "%s", st.msg);
  char hex[65];
  printf("model %s: %d nodes, graph sha256 %s\n", cli->pos[0], g->nnodes, tl_graph_hash_hex(g, hex));
  int rc = 0;
  if (tl_graph_summary(g, stdout, &st) != TL_OK) {
    fprintf(stderr, "torchlean summary: %s\n", st.msg);
    rc = 1;
  }
  tl_graph_free(g);
  return rc;
}

static const tl_cli_flag flags[] = {{NULL, NULL, NULL}};

const tl_cli_command tl_cmd_summary = {
    "summary", "MODEL", "print a model's layers, shapes and parameter counts", 1, 1, flags, run,
};
