/* cmd_vnncomp.c - `torchlean vnncomp INSTANCES.csv`: a whole competition benchmark (lines
 * `onnx,vnnlib,timeout`, paths relative to the CSV's folder), one instance after the other, with a
 * progress bar, a summary table (holds / violated / unknown / timeout / error, time per instance), a
 * CSV of results (--out), and in --cert-dir each instance's result file and a certificate per `unsat`
 * instance. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "torchlean/io.h"
#include "vnn_common.h"

typedef struct vnn_line {
  char model[4096], prop[4096];
  double timeout;
} vnn_line;

/* one CSV line "onnx,vnnlib,timeout" (no quoting in the competition's files); 0 or an error text */
static const char *parse_line(char *s, const char *dir, vnn_line *l) {
  char *f[3];
  int n = 0;
  for (char *p = s; n < 3; n++) {
    f[n] = p;
    p = strchr(p, ',');
    if (!p)
      break;
    *p++ = 0;
  }
  if (n != 2)
    return "expected three fields: onnx,vnnlib,timeout";
  char *end;
  errno = 0;
  l->timeout = strtod(f[2], &end);
  while (*end == ' ' || *end == '\t')
    end++;
  if (end == f[2] || *end || errno || !(l->timeout > 0) || l->timeout > 1e7)
    return "the timeout is not a number of seconds > 0";
  for (int k = 0; k < 2; k++) {
    char *dst = k ? l->prop : l->model;
    int w = f[k][0] == '/' ? snprintf(dst, 4096, "%s", f[k]) : snprintf(dst, 4096, "%s/%s", dir, f[k]);
    if (w >= 4096 || !f[k][0])
      return !f[k][0] ? "an empty path" : "a path longer than 4095 bytes";
    if (access(dst, R_OK) != 0)
      return k ? "the vnnlib file cannot be read" : "the model file cannot be read";
  }
  return NULL;
}

/* every line of the CSV, checked before any work; *n lines in *out (caller frees); 0 or 2 (printed) */
static int read_instances(const tl_cli *cli, const char *csv, vnn_line **out, int *n) {
  void *data;
  size_t len;
  tl_status st;
  *out = NULL, *n = 0;
  if (tl_read_file(csv, &data, &len, &st) != TL_OK)
    return tl_cli_usage_error(cli, "%s", st.msg);
  char dir[4096];
  const char *slash = strrchr(csv, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - csv) + (slash == csv) : 1, slash ? csv : ".");
  vnn_line *l = NULL;
  int cap = 0, rc = 0, lineno = 0;
  for (char *s = data, *next; s && *s && !rc; s = next) {
    next = strchr(s, '\n');
    if (next)
      *next++ = 0;
    lineno++;
    size_t k = strlen(s);
    while (k && (s[k - 1] == '\r' || s[k - 1] == ' '))
      s[--k] = 0;
    if (!k)
      continue;
    if (*n == cap) {
      vnn_line *m = realloc(l, (size_t)(cap = 2 * cap + 16) * sizeof *l);
      if (!m) {
        rc = tl_cli_usage_error(cli, "%s: out of memory", csv);
        break;
      }
      l = m;
    }
    const char *err = parse_line(s, dir, &l[*n]);
    if (err)
      rc = tl_cli_usage_error(cli, "%s:%d: %s", csv, lineno, err);
    else
      (*n)++;
  }
  free(data);
  if (!rc && *n == 0)
    rc = tl_cli_usage_error(cli, "%s: no instances", csv);
  if (rc)
    free(l), l = NULL, *n = 0;
  *out = l;
  return rc;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* DIR/<model stem>__<property stem><ext> */
static void inst_path(char *buf, size_t n, const char *dir, const vnn_line *l, const char *ext) {
  const char *m = base_name(l->model), *p = base_name(l->prop);
  int lm = (int)(strrchr(m, '.') ? strrchr(m, '.') - m : (long)strlen(m));
  int lp = (int)(strrchr(p, '.') ? strrchr(p, '.') - p : (long)strlen(p));
  snprintf(buf, n, "%s/%.*s__%.*s%s", dir, lm, m, lp, p, ext);
}

static void progress(int done, int total, const char *last) {
  int w = 30, k = total ? w * done / total : w;
  fprintf(stderr, "\rvnncomp [");
  for (int i = 0; i < w; i++)
    fputc(i < k ? '#' : '.', stderr);
  fprintf(stderr, "] %d/%d %-8s", done, total, last);
  if (done == total)
    fputc('\n', stderr);
  fflush(stderr);
}

static const char *outcome_word(const vnn_outcome *o, int rc) {
  return o->bad_input || rc ? "error" : tl_vnn_answer_name(o->answer);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* the table on stdout and the CSV text (caller frees) */
static char *report(const vnn_line *l, const vnn_outcome *o, const int *rc, int n) {
  char *csv = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&csv, &len);
  if (f)
    fprintf(f, "onnx,vnnlib,result,seconds,certificate\n");
  int count[5] = {0, 0, 0, 0, 0}; /* unsat sat unknown timeout error */
  double *t = malloc((size_t)n * sizeof *t), total = 0;
  printf("%-4s %-36s %-16s %-8s %9s\n", "#", "model", "property", "result", "seconds");
  for (int i = 0; i < n; i++) {
    const char *w = outcome_word(&o[i], rc[i]);
    int c = !strcmp(w, "unsat")     ? 0
            : !strcmp(w, "sat")     ? 1
            : !strcmp(w, "unknown") ? 2
            : !strcmp(w, "timeout") ? 3
                                    : 4;
    count[c]++, total += o[i].seconds;
    if (t)
      t[i] = o[i].seconds;
    printf("%-4d %-36s %-16s %-8s %9.3f\n", i + 1, base_name(l[i].model), base_name(l[i].prop), w,
           o[i].seconds);
    if (c == 4)
      printf("     %s\n", o[i].msg);
    if (f)
      fprintf(f, "%s,%s,%s,%.6f,%s\n", l[i].model, l[i].prop, w, o[i].seconds,
              o[i].cert_written ? "yes" : "");
  }
  if (t)
    qsort(t, (size_t)n, sizeof *t, cmp_double);
  printf("\n%d instances: %d holds (unsat), %d violated (sat), %d unknown, %d timeout, %d error; "
         "%.2f s in all, median %.3f s\n",
         n, count[0], count[1], count[2], count[3], count[4], total, t ? t[n / 2] : 0.0);
  free(t);
  if (f && fclose(f))
    free(csv), csv = NULL;
  return csv;
}

static int check_cert_dir(const tl_cli *cli, const char *dir) {
  struct stat sb;
  if (dir && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(dir, W_OK) != 0))
    return tl_cli_usage_error(cli, "--cert-dir '%s': not a writable folder", dir);
  return 0;
}

static int run_vnncomp(const tl_cli *cli) {
  const char *csv = cli->pos[0], *out = tl_cli_get(cli, "out"), *cdir = tl_cli_get(cli, "cert-dir");
  tl_vnn_opts opts;
  int rc = vnn_parse_opts(cli, &opts);
  double cap = 0;
  if (rc || !tl_cli_double(cli, "timeout-cap", &cap))
    return rc ? rc : 2;
  if (!(cap >= 0))
    return tl_cli_usage_error(cli, "--timeout-cap: %g is not a number of seconds >= 0", cap);
  if (!tl_cli_check_output(cli, "out", out, NULL, csv) || check_cert_dir(cli, cdir))
    return 2;
  vnn_line *l;
  int n;
  if ((rc = read_instances(cli, csv, &l, &n)))
    return rc;
  vnn_outcome *o = calloc((size_t)n, sizeof *o);
  int *irc = calloc((size_t)n, sizeof *irc), tty = isatty(fileno(stderr)), errors = 0;
  if (!o || !irc) {
    free(l), free(o), free(irc);
    return tl_cli_usage_error(cli, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    char cp[8300], rp[8300];
    if (cdir)
      inst_path(cp, sizeof cp, cdir, &l[i], ".json"), inst_path(rp, sizeof rp, cdir, &l[i], ".result.txt");
    vnn_instance in = {l[i].model, l[i].prop, cdir ? rp : NULL, cdir ? cp : NULL, opts};
    in.opts.timeout_s = cap > 0 && cap < l[i].timeout ? cap : l[i].timeout;
    irc[i] = vnn_run_instance(&in, NULL, &o[i]);
    errors += o[i].bad_input || irc[i];
    if (tty)
      progress(i + 1, n, outcome_word(&o[i], irc[i]));
  }
  char *text = report(l, o, irc, n);
  tl_status st;
  if (out && (!text || tl_write_file_atomic(out, text, strlen(text), &st) != TL_OK)) {
    fprintf(stderr, "torchlean vnncomp: %s\n", text ? st.msg : "out of memory");
    errors++;
  }
  free(text), free(l), free(o), free(irc);
  return errors ? 1 : 0;
}

static const tl_cli_flag vnncomp_flags[] = {
    {"out", "FILE", "write the results as CSV (onnx,vnnlib,result,seconds,certificate)"},
    {"cert-dir", "DIR",
     "write DIR/<model>__<property>.result.txt (the competition's result file) per instance and "
     "DIR/<model>__<property>.json (the certificate) per unsat instance"},
    {"timeout-cap", "S", "use at most S seconds per instance, whatever the CSV says [the CSV's]"},
    {"semantics", "S", "f32-any (any float32 evaluation of the model) or real [f32-any]"},
    {"seed", "N", "seed of the counterexample search [0]"},
    {"alpha-steps", "N", "alpha-CROWN steps of the second stage; 0 skips it [40]"},
    {"split", "M", "input splitting of open boxes: auto (inputs <= 16), input, none [auto]"},
    {NULL, NULL, NULL}};

const tl_cli_command tl_cmd_vnncomp = {
    "vnncomp",
    "INSTANCES.csv",
    "run a VNN-COMP benchmark (lines onnx,vnnlib,timeout): summary table, results CSV, certificates",
    1,
    1,
    vnncomp_flags,
    run_vnncomp};
