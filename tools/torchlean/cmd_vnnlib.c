/* cmd_vnnlib.c - `torchlean vnnlib MODEL PROP.vnnlib [--timeout S] [--out RESULT] [--cert CERT]`: one
 * instance in the competition's interface.  Prints (and writes to --out) `unsat` (the property
 * holds; the certificate goes to --cert), `sat` with a counterexample confirmed exactly and by the
 * float32 runtime, `unknown` or `timeout`; exit 0 for any of these, 2 for bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "vnn_common.h"

static int run_vnnlib(const tl_cli *cli) {
  vnn_instance in = {cli->pos[0], cli->pos[1], tl_cli_get(cli, "out"), tl_cli_get(cli, "cert"), {0}};
  int rc = vnn_parse_opts(cli, &in.opts);
  if (rc)
    return rc;
  double timeout = 0;
  if (!tl_cli_double(cli, "timeout", &timeout))
    return 2;
  if (!(timeout >= 0) || timeout > 1e9)
    return tl_cli_usage_error(cli, "--timeout: %g is not a number of seconds >= 0", timeout);
  in.opts.timeout_s = timeout;
  if (!tl_cli_check_output(cli, "out", in.out, in.model, in.prop) ||
      !tl_cli_check_output(cli, "cert", in.cert, in.model, in.prop))
    return 2;
  if (in.out && in.cert && !strcmp(in.out, in.cert))
    return tl_cli_usage_error(cli, "--out and --cert name the same file");
  vnn_outcome o;
  rc = vnn_run_instance(&in, stdout, &o);
  if (o.bad_input) {
    fprintf(stderr, "torchlean vnnlib: %s\n", o.msg);
    return 2;
  }
  fprintf(stderr, "torchlean vnnlib: %s\n", o.msg);
  if (!rc && in.cert && !o.cert_written)
    fprintf(stderr, "torchlean vnnlib: no certificate written: the answer is %s\n",
            tl_vnn_answer_name(o.answer));
  else if (o.cert_written)
    fprintf(stderr, "torchlean vnnlib: certificate %s (check: torchlean-check %s)\n", in.cert, in.cert);
  return rc;
}

static const tl_cli_flag vnnlib_flags[] = {
    {"timeout", "S", "give up after S seconds (answer `timeout`) [no limit]"},
    {"out", "FILE", "write the result in the competition's format"},
    {"cert", "FILE", "write the certificate of an `unsat` answer (for torchlean-check)"},
    {"semantics", "S", "f32-any (any float32 evaluation of the model) or real [f32-any]"},
    {"seed", "N", "seed of the counterexample search [0]"},
    {"alpha-steps", "N", "alpha-CROWN steps of the second stage; 0 skips it [40]"},
    {"split", "M", "input splitting of open boxes: auto (inputs <= 16), input, none [auto]"},
    {NULL, NULL, NULL}};

const tl_cli_command tl_cmd_vnnlib = {
    "vnnlib",
    "MODEL PROP.vnnlib",
    "verify a model (model file or ONNX) against a VNN-LIB property: unsat / sat / unknown / timeout",
    2,
    2,
    vnnlib_flags,
    run_vnnlib};
