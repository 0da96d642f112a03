/* vnn_common.c - one VNN-LIB instance: load, solve, result text, certificate (vnn_common.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "torchlean/io.h"
#include "torchlean/model_file.h"
#include "vnn_common.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The counterexample as the competition replays it: inputs then outputs, C order, each value the
 * exact binary32 (17 significant digits: reading it as a double gives the float exactly). */
char *vnn_result_text(const tl_vnn_result *r, int64_t n_inputs, int64_t n_outputs) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return NULL;
  fprintf(f, "%s\n", tl_vnn_answer_name(r->answer));
  if (r->answer == TL_VNN_SAT) {
    for (int64_t i = 0; i < n_inputs; i++)
      fprintf(f, "%s(X_%lld %.17g)\n", i ? " " : "(", (long long)i, (double)r->cex_x[i]);
    for (int64_t j = 0; j < n_outputs; j++)
      fprintf(f, " (Y_%lld %.17g)%s\n", (long long)j, (double)r->cex_y[j], j + 1 == n_outputs ? ")" : "");
  }
  if (fclose(f)) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* model and property, checked against each other by tl_vnn_solve; bad input -> o->bad_input */
static int load(const vnn_instance *in, tl_graph **g, tl_vnnlib **v, vnn_outcome *o) {
  tl_status st;
  if (tl_model_load(in->model, g, &st) != TL_OK || tl_vnnlib_parse_file(in->prop, v, &st) != TL_OK) {
    snprintf(o->msg, sizeof o->msg, "%s", st.msg);
    o->bad_input = 1;
    return 0;
  }
  return 1;
}

static void summary(const tl_vnn_result *r, const tl_vnnlib *v, vnn_outcome *o) {
  char split[120] = "";
  if (r->boxes_split)
    snprintf(split, sizeof split, " (%d split by input, %lld verified leaves)", r->boxes_split,
             (long long)r->leaves);
  snprintf(o->msg, sizeof o->msg, "%s: %d of %d input boxes verified%s%s%s, %.3f s",
           tl_vnn_answer_name(r->answer), r->boxes_verified, v->nboxes - r->boxes_empty, split,
           r->boxes_empty ? " (some empty boxes)" : "",
           r->answer == TL_VNN_SAT ? ", counterexample confirmed exactly and in float32" : "", o->seconds);
}

/* the result file and, for unsat, the certificate; 0 or 1 (message in o->msg) */
static int write_outputs(const vnn_instance *in, const tl_graph *g, const tl_vnnlib *v,
                         const tl_vnn_result *r, const char *text, vnn_outcome *o) {
  tl_status st;
  if (in->cert && r->answer == TL_VNN_UNSAT) {
    uint8_t gh[32];
    tl_graph_hash(g, gh);
    tl_cert_info info = {gh, in->model, NULL};
    if (tl_vnn_cert_write(in->cert, g, v, r, &info, &st) != TL_OK) {
      snprintf(o->msg, sizeof o->msg, "%s", st.msg);
      return 1;
    }
    o->cert_written = 1;
  }
  if (in->out && tl_write_file_atomic(in->out, text, strlen(text), &st) != TL_OK) {
    snprintf(o->msg, sizeof o->msg, "%s", st.msg);
    return 1;
  }
  return 0;
}

int vnn_run_instance(const vnn_instance *in, FILE *echo, vnn_outcome *o) {
  memset(o, 0, sizeof *o);
  double t0 = now_s();
  tl_graph *g = NULL;
  tl_vnnlib *v = NULL;
  tl_vnn_result *r = NULL;
  tl_status st;
  int rc = 0;
  tl_vnn_opts opts = in->opts;
  opts.keep_evidence = in->cert != NULL;
  if (load(in, &g, &v, o)) {
    tl_code c = tl_vnn_solve(g, v, &opts, &r, &st);
    if (c != TL_OK) {
      snprintf(o->msg, sizeof o->msg, "%s", st.msg);
      o->bad_input = c == TL_EARG || c == TL_EUNSUPPORTED, rc = !o->bad_input;
    }
  }
  if (r) {
    o->answer = r->answer, o->seconds = now_s() - t0;
    char *text = vnn_result_text(r, v->n_inputs, v->n_outputs);
    if (!text)
      snprintf(o->msg, sizeof o->msg, "vnnlib: out of memory"), rc = 1;
    else if (!(rc = write_outputs(in, g, v, r, text, o)))
      summary(r, v, o);
    if (text && echo)
      fputs(text, echo);
    free(text);
  }
  o->seconds = now_s() - t0;
  tl_vnn_result_free(r);
  tl_vnnlib_free(v);
  tl_graph_free(g);
  return rc;
}

/* the options shared with vnncomp: --semantics, --seed, --alpha-steps, --split; 0 or 2 (printed) */
int vnn_parse_opts(const tl_cli *cli, tl_vnn_opts *o) {
  *o = tl_vnn_opts_default();
  const char *sm = tl_cli_get(cli, "semantics");
  if (sm && !strcmp(sm, "real"))
    o->sem = TL_SEM_REAL;
  else if (sm && strcmp(sm, "f32-any"))
    return tl_cli_usage_error(cli, "--semantics: '%s' is not real or f32-any", sm);
  long long seed = 0, alpha = o->alpha_steps;
  if (!tl_cli_long(cli, "seed", 0, INT64_MAX, &seed) || !tl_cli_long(cli, "alpha-steps", 0, 100000, &alpha))
    return 2;
  o->seed = (uint64_t)seed, o->alpha_steps = (int)alpha;
  const char *sp = tl_cli_get(cli, "split");
  if (sp && !strcmp(sp, "input"))
    o->split = TL_VNN_SPLIT_INPUT;
  else if (sp && !strcmp(sp, "none"))
    o->split = TL_VNN_SPLIT_NONE;
  else if (sp && strcmp(sp, "auto"))
    return tl_cli_usage_error(cli, "--split: '%s' is not auto, input or none", sp);
  return 0;
}
