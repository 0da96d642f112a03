/* check_run.c - the checker under test, in-process and unchanged: certs/main.c is included with its
 * main renamed (as tests/fuzz/fuzz_check.c does) and its printf redirected into a buffer, from which
 * the per-sample lines ("sample I: ACCEPT verified ...", "UNKNOWN", "REJECT", "MALFORMED") are read.
 * The document goes through main's steps: JSON parse, duplicate keys, check_cert (header, graph,
 * hash, every sample; the fast path unless fast == 0, as TL_CHECK_FAST=0 would do).  cJSON's default
 * allocator is used (main's bump arena is for one document per process). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../certs/check.h" /* before printf is redirected: it names printf in format attributes */

static char *cm_out; /* what the checker printed for the current document */
static size_t cm_out_n, cm_out_cap;

static int cm_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char line[1200];
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0)
    return n;
  size_t k = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  if (cm_out_n + k + 1 > cm_out_cap) {
    size_t cap = (cm_out_cap + k + 1) * 2;
    char *nb = realloc(cm_out, cap);
    if (!nb)
      return -1;
    cm_out = nb, cm_out_cap = cap;
  }
  memcpy(cm_out + cm_out_n, line, k);
  cm_out_n += k;
  cm_out[cm_out_n] = 0;
  return n;
}

#define printf cm_printf
#define main tl_check_main
#include "../../../certs/main.c"
#undef main
#undef printf

#include "cm.h"

/* the per-sample result of one "sample I: ..." line, or -1 */
static int line_result(const char *l) {
  if (!strncmp(l, "ACCEPT verified", 15))
    return CS_VERIFIED;
  if (!strncmp(l, "ACCEPT falsified", 16))
    return CS_FALSIFIED;
  if (!strncmp(l, "UNKNOWN", 7))
    return CS_UNKNOWN;
  if (!strncmp(l, "MALFORMED", 9))
    return CS_MALFORMED;
  return strncmp(l, "ACCEPT", 6) ? CS_REJECTED : -1; /* a sample REJECT line starts with its reason */
}

/* read the captured per-sample lines into c->res */
static void read_lines(cm_check *c, int ns) {
  c->res = calloc((size_t)ns + 1, sizeof *c->res);
  for (int i = 0; i < ns; i++)
    c->res[i] = CS_REJECTED;
  for (const char *l = cm_out; l && *l;) {
    int i = -1, off = 0;
    if (sscanf(l, "sample %d: %n", &i, &off) == 1 && off > 0 && i >= 0 && i < ns) {
      int r = line_result(l + off);
      c->res[i] = r < 0 ? CS_REJECTED : r;
      c->nsamples = i + 1 > c->nsamples ? i + 1 : c->nsamples;
    }
    const char *nl = strchr(l, '\n');
    l = nl ? nl + 1 : NULL;
  }
}

int cm_check_text(const char *text, int fast_on, cm_check *out) {
  memset(out, 0, sizeof *out);
  cm_out_n = 0;
  if (cm_out)
    cm_out[0] = 0;
  if (fast_on)
    unsetenv("TL_CHECK_FAST");
  else
    setenv("TL_CHECK_FAST", "0", 1);
  size_t len = strlen(text);
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
  if (!root || duplicate_key(root)) {
    cJSON_Delete(root);
    out->status = 2, out->parse = 1;
    return out->status;
  }
  double t[3] = {0, 0, 0};
  out->status = check_cert(root, NULL, 0, t);
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "samples");
  int ns = cJSON_IsArray(s) ? cJSON_GetArraySize(s) : 0;
  read_lines(out, ns); /* nsamples == 0: refused before any sample (header, graph, hash, samples) */
  cJSON_Delete(root);
  return out->status;
}

void cm_check_free(cm_check *c) {
  free(c->res);
  c->res = NULL;
}

const char *cm_check_output(void) { return cm_out ? cm_out : ""; }
