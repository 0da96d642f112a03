/* cli.h - the torchlean runner: command table and flag parsing shared by every command.
 *
 * Flags may stand before or after the command, as `--k v` or `--k=v`.  A flag given twice, a
 * flag the command does not know, and positional arguments beyond what the command takes are
 * errors reported on stderr with exit status 2.
 */
#ifndef TL_CLI_H
#define TL_CLI_H

#include <stdio.h>

#define TL_CLI_MAX_ARGS 64

typedef struct tl_cli_flag {
  const char *name; /* without the dashes: "seed" */
  const char *arg;  /* metavariable shown in help ("N"), or NULL for a switch */
  const char *help;
} tl_cli_flag;

typedef struct tl_cli {
  const char *command;
  int npos;
  const char *pos[TL_CLI_MAX_ARGS];
  int nflags;
  const char *flag_name[TL_CLI_MAX_ARGS];
  const char *flag_value[TL_CLI_MAX_ARGS]; /* "1" for a switch */
} tl_cli;

typedef struct tl_cli_command {
  const char *name;
  const char *usage;   /* positional part, e.g. "FILE" */
  const char *summary; /* one line */
  int min_pos, max_pos;
  const tl_cli_flag *flags; /* terminated by {NULL} */
  int (*run)(const tl_cli *cli);
} tl_cli_command;

/* Value of flag `name` or NULL when absent. */
const char *tl_cli_get(const tl_cli *cli, const char *name);
/* Parse helpers: on a bad value print "torchlean CMD: --name: ..." and return 0; 1 on success.
 * When the flag is absent *out keeps its default. */
int tl_cli_long(const tl_cli *cli, const char *name, long long lo, long long hi, long long *out);
int tl_cli_double(const tl_cli *cli, const char *name, double *out);
/* Print an error line for this command to stderr; returns 2 (the usage exit status). */
int tl_cli_usage_error(const tl_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The commands (defined in cmd_*.c). */
extern const tl_cli_command tl_cmd_quickstart_tensors;
extern const tl_cli_command tl_cmd_quickstart_autograd;
extern const tl_cli_command tl_cmd_quickstart_mlp;
extern const tl_cli_command tl_cmd_quickstart_cnn;
extern const tl_cli_command tl_cmd_train;
extern const tl_cli_command tl_cmd_evaluate;
extern const tl_cli_command tl_cmd_predict;
extern const tl_cli_command tl_cmd_inspect;
extern const tl_cli_command tl_cmd_export;
extern const tl_cli_command tl_cmd_summary;
extern const tl_cli_command tl_cmd_compare;
extern const tl_cli_command tl_cmd_verify;
extern const tl_cli_command tl_cmd_vnnlib;
extern const tl_cli_command tl_cmd_vnncomp;
extern const tl_cli_command tl_cmd_import;

#endif
