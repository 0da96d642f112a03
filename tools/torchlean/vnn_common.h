/* vnn_common.h - one VNN-LIB instance for `torchlean vnnlib` and `torchlean vnncomp`: load the model
 * (model file or ONNX) and the property, solve (include/torchlean/vnnsolve.h), write the result in
 * the competition's format and, for unsat, the certificate. */
#ifndef TL_CLI_VNN_COMMON_H
#define TL_CLI_VNN_COMMON_H

#include <stdio.h>

#include "cli.h"
#include "torchlean/vnnsolve.h"

typedef struct vnn_instance {
  const char *model, *prop; /* paths */
  const char *out, *cert;   /* result file and certificate (NULL: none) */
  tl_vnn_opts opts;
} vnn_instance;

typedef struct vnn_outcome {
  tl_vnn_answer answer;
  int bad_input;    /* the model or property was refused (message in msg): "error" */
  double seconds;   /* load + solve */
  int cert_written; /* 1 when the certificate was written */
  char msg[1100];   /* the error line, or a one-line summary */
} vnn_outcome;

/* Run one instance; the result text (what --out receives) is also printed to `echo` when not NULL.
 * Returns 0; bad input sets o->bad_input (the caller maps it to exit 2), a failure to write an
 * output sets o->answer unknown and returns 1 with the message. */
int vnn_run_instance(const vnn_instance *in, FILE *echo, vnn_outcome *o);
/* The result text: "unsat\n", "sat\n((X_0 v) ... (Y_0 w))\n", "unknown\n", "timeout\n"; the caller
 * frees it. */
char *vnn_result_text(const tl_vnn_result *r, int64_t n_inputs, int64_t n_outputs);

/* --semantics, --seed, --alpha-steps, --split into *o (defaults otherwise); 0, or 2 with the error printed */
int vnn_parse_opts(const tl_cli *cli, tl_vnn_opts *o);

#endif
