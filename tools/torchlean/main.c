/* main.c - the `torchlean` runner: parse the command line and dispatch to a command. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const tl_cli_command *const commands[] = {
    &tl_cmd_quickstart_tensors,
    &tl_cmd_quickstart_autograd,
    &tl_cmd_quickstart_mlp,
    &tl_cmd_quickstart_cnn,
    &tl_cmd_train,
    &tl_cmd_evaluate,
    &tl_cmd_predict,
    &tl_cmd_inspect,
    &tl_cmd_export,
    &tl_cmd_summary,
    &tl_cmd_compare,
    &tl_cmd_verify,
    &tl_cmd_vnnlib,
    &tl_cmd_vnncomp,
    &tl_cmd_import,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* flags every command accepts */
static const tl_cli_flag global_flags[] = {
    {"help", NULL, "show help for the command"},
    {NULL, NULL, NULL},
};

const char *tl_cli_get(const tl_cli *cli, const char *name) {
  for (int i = 0; i < cli->nflags; i++)
    if (strcmp(cli->flag_name[i], name) == 0)
      return cli->flag_value[i];
  return NULL;
}

int tl_cli_usage_error(const tl_cli *cli, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "torchlean%s%s: ", cli && cli->command ? " " : "", cli && cli->command ? cli->command : "");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 2;
}

int tl_cli_long(const tl_cli *cli, const char *name, long long lo, long long hi, long long *out) {
  const char *v = tl_cli_get(cli, name);
  if (!v)
    return 1;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end || errno || x < lo || x > hi) {
    tl_cli_usage_error(cli, "--%s: expected an integer in [%lld, %lld], got '%s'", name, lo, hi, v);
    return 0;
  }
  *out = x;
  return 1;
}

int tl_cli_double(const tl_cli *cli, const char *name, double *out) {
  const char *v = tl_cli_get(cli, name);
  if (!v)
    return 1;
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || x != x) {
    tl_cli_usage_error(cli, "--%s: expected a number, got '%s'", name, v);
    return 0;
  }
  *out = x;
  return 1;
}

static const tl_cli_flag *find_flag(const tl_cli_flag *list, const char *name, size_t len) {
  for (; list && list->name; list++)
    if (strlen(list->name) == len && strncmp(list->name, name, len) == 0)
      return list;
  return NULL;
}

static void print_command_help(const tl_cli_command *c, FILE *out) {
  fprintf(out, "usage: torchlean %s%s%s [flags]\n  %s\n\nflags:\n", c->name, c->usage ? " " : "",
          c->usage ? c->usage : "", c->summary);
  for (const tl_cli_flag *f = c->flags; f && f->name; f++)
    fprintf(out, "  --%s%s%-*s %s\n", f->name, f->arg ? " " : "",
            f->arg ? 12 - (int)strlen(f->name) - 1 : 12 - (int)strlen(f->name), f->arg ? f->arg : "",
            f->help);
  fprintf(out, "  --help         show this help\n");
}

static void print_main_help(FILE *out) {
  fprintf(out,
          "usage: torchlean COMMAND [flags]   (flags may come before or after the command)\n\ncommands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-20s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(out, "\n`torchlean COMMAND --help` (or `torchlean help COMMAND`) describes a command's flags;\n"
               "`torchlean --version` prints the version.\n");
}

/* pass 1: the index of the command word (the first argument that is not a flag or a flag's value),
 * or -1 */
static int find_command_word(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--", 2) == 0) {
      /* skip the value of a `--k v` flag: any flag of any command that takes an argument */
      if (!strchr(argv[i], '=')) {
        const char *name = argv[i] + 2;
        int takes = 0;
        for (size_t c = 0; c < NCOMMANDS && !takes; c++) {
          const tl_cli_flag *f = find_flag(commands[c]->flags, name, strlen(name));
          takes = f && f->arg;
        }
        if (takes)
          i++;
      }
      continue;
    }
    return i;
  }
  return -1;
}

/* one flag argument a (argv[*i]) of cmd into cli; 0 ok, else the usage exit status (message printed) */
static int parse_flag(tl_cli *cli, const tl_cli_command *cmd, int argc, char **argv, int *i, const char *a) {
  const char *name = a + 2, *eq = strchr(name, '=');
  size_t len = eq ? (size_t)(eq - name) : strlen(name);
  const tl_cli_flag *f = find_flag(cmd->flags, name, len);
  if (!f)
    f = find_flag(global_flags, name, len);
  if (!f)
    return tl_cli_usage_error(cli, "unknown flag '--%.*s' (see torchlean %s --help)", (int)len, name,
                              cmd->name);
  const char *value;
  if (f->arg) {
    if (eq)
      value = eq + 1;
    else if (*i + 1 < argc)
      value = argv[++*i];
    else
      return tl_cli_usage_error(cli, "--%s needs a value (%s)", f->name, f->arg);
  } else {
    if (eq)
      return tl_cli_usage_error(cli, "--%s takes no value", f->name);
    value = "1";
  }
  if (tl_cli_get(cli, f->name))
    return tl_cli_usage_error(cli, "--%s given twice", f->name);
  if (cli->nflags >= TL_CLI_MAX_ARGS)
    return tl_cli_usage_error(cli, "too many flags");
  cli->flag_name[cli->nflags] = f->name;
  cli->flag_value[cli->nflags++] = value;
  return 0;
}

/* pass 2: flags and positional arguments of cmd; 0 ok, else the usage exit status */
static int parse_args(tl_cli *cli, const tl_cli_command *cmd, int argc, char **argv, int cmd_index) {
  for (int i = 1; i < argc; i++) {
    if (i == cmd_index)
      continue;
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0)
      a = "--help";
    if (strncmp(a, "--", 2) != 0) {
      if (cli->npos >= TL_CLI_MAX_ARGS)
        return tl_cli_usage_error(cli, "too many arguments");
      cli->pos[cli->npos++] = a;
      continue;
    }
    int rc = parse_flag(cli, cmd, argc, argv, &i, a);
    if (rc)
      return rc;
  }
  return 0;
}

static const tl_cli_command *command_named(const char *name) {
  for (size_t c = 0; c < NCOMMANDS; c++)
    if (strcmp(commands[c]->name, name) == 0)
      return commands[c];
  return NULL;
}

/* `torchlean --version` / `version`, and `torchlean help [COMMAND]`: -1 when argv is neither */
static int version_or_help(int argc, char **argv) {
  if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
    printf("torchlean %s\n", TL_PROJECT_VERSION);
    return 0;
  }
  if (argc < 2 || strcmp(argv[1], "help") != 0)
    return -1;
  if (argc == 2) {
    print_main_help(stdout);
    return 0;
  }
  const tl_cli_command *c = argc == 3 ? command_named(argv[2]) : NULL;
  if (!c) {
    fprintf(stderr, "torchlean help: %s (see torchlean --help)\n",
            argc == 3 ? "unknown command" : "expected one command name");
    return 2;
  }
  print_command_help(c, stdout);
  return 0;
}

int main(int argc, char **argv) {
  tl_cli cli = {0};
  int vh = version_or_help(argc, argv);
  if (vh >= 0)
    return vh;
  int cmd_index = find_command_word(argc, argv);
  if (cmd_index < 0) {
    int wants_help = 0;
    for (int i = 1; i < argc; i++)
      wants_help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    print_main_help(wants_help ? stdout : stderr);
    return wants_help ? 0 : 2;
  }
  const tl_cli_command *cmd = command_named(argv[cmd_index]);
  if (!cmd) {
    fprintf(stderr, "torchlean: unknown command '%s' (see torchlean --help)\n", argv[cmd_index]);
    return 2;
  }
  cli.command = cmd->name;
  int rc = parse_args(&cli, cmd, argc, argv, cmd_index);
  if (rc)
    return rc;
  if (tl_cli_get(&cli, "help")) {
    print_command_help(cmd, stdout);
    return 0;
  }
  if (cli.npos < cmd->min_pos)
    return tl_cli_usage_error(&cli, "expected %s (see torchlean %s --help)",
                              cmd->usage ? cmd->usage : "more arguments", cmd->name);
  if (cli.npos > cmd->max_pos)
    return tl_cli_usage_error(&cli, "unexpected argument '%s'", cli.pos[cmd->max_pos]);
  return cmd->run(&cli);
}
