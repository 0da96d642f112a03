/* main.c - torchlean-check: the independent certificate checker (docs/certificates.md): CLI,
 * graph hash and model binding, reporting.
 *
 * Usage: torchlean-check CERT.json [--model MODEL]
 * Output: one line per sample ("sample I: ACCEPT verified (...)", "sample I: ACCEPT falsified (...)",
 * "sample I: UNKNOWN (...)" or "sample I: REJECT: reason (node N, index I)"), a "summary:" line
 * counting each kind, then "ACCEPT" (every claim in the file checked and holding) or "REJECT: ..."
 * for the file.  Exit 0 accept, 1 reject, 2 malformed input.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <malloc.h>
#include <time.h>

/* TL_CHECK_TIMES=1: phase times on stderr (where the checker's time goes) */
static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- cJSON allocation: a bump arena ----------------------------------------------------------------
 * A certificate parses into millions of small cJSON nodes and strings; a bump allocator (cJSON_InitHooks,
 * free a no-op, everything released at exit by arena_release) halves the parse time.  cJSON's hooks are
 * process-wide, hence the file-scope arena: the checker is single-threaded and parses one document. */
typedef struct achunk {
  struct achunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char mem[];
} achunk;
static achunk *arena;

static void *arena_alloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (!arena || arena->cap - arena->used < n) {
    size_t cap = n > ((size_t)16 << 20) ? n : ((size_t)16 << 20);
    achunk *c = malloc(sizeof *c + cap);
    if (!c)
      return NULL;
    c->next = arena, c->used = 0, c->cap = cap;
    arena = c;
  }
  void *p = arena->mem + arena->used;
  arena->used += n;
  return p;
}
static void arena_free(void *p) { (void)p; }
static void arena_release(void) {
  while (arena) {
    achunk *n = arena->next;
    free(arena);
    arena = n;
  }
}

/* ---- main -------------------------------------------------------------------------------------------- */
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (size_t r; buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += r;
    if (cap - n < 2) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb, cap *= 2;
    }
  }
  fclose(f);
  if (buf)
    buf[n] = 0;
  *len = n;
  return buf;
}

/* The first key that appears twice in one object anywhere in the document, or NULL. */
static const char *duplicate_key(const cJSON *j) {
  for (const cJSON *a = j ? j->child : NULL; a; a = a->next) {
    if (cJSON_IsObject(j) && a->string)
      for (const cJSON *b = a->next; b; b = b->next)
        if (b->string && strcmp(a->string, b->string) == 0)
          return a->string;
    const char *d = duplicate_key(a);
    if (d)
      return d;
  }
  return NULL;
}

static const char usage[] =
    "usage: torchlean-check CERT.json [--model MODEL]\n"
    "  re-derives every claim of the certificate with exact arithmetic: verified samples' bounds,\n"
    "  falsified samples' counterexamples; --model binds it to a model file by its graph hash.\n"
    "  Exit 0: every claim ACCEPTed; 1: a claim REJECTed; 2: malformed certificate or usage.\n";

/* the command line: CERT.json [--model MODEL]; 0: ok, 2: usage printed, -1: --help printed */
static int parse_args(int argc, char **argv, const char **path, const char **model) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage, stdout);
      return -1;
    }
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc)
      *model = argv[++i];
    else if (!strncmp(argv[i], "--model=", 8))
      *model = argv[i] + 8;
    else if (argv[i][0] != '-' && !*path)
      *path = argv[i];
    else {
      fputs(usage, stderr);
      return 2;
    }
  }
  if (!*path) {
    fputs(usage, stderr);
    return 2;
  }
  return 0;
}

/* the certificate's header fields and its graph (read into g); claimed: graph_sha256 */
static cJSON *read_header(ctx *c, const cJSON *root, cgraph *g, int *f32, int *crown_m, uint8_t claimed[32]) {
  cJSON *fmt = field(c, root, "format", "certificate"),
        *ver = fmt ? field(c, root, "version", "certificate") : NULL;
  if (fmt && (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "torchlean.cert.v1")))
    fail(c, BAD, "malformed: format must be \"torchlean.cert.v1\"");
  if (c->code == OK && (!cJSON_IsNumber(ver) || ver->valuedouble != 1))
    fail(c, BAD, "malformed: version must be 1");
  cJSON *sem = c->code == OK ? field(c, root, "semantics", "certificate") : NULL;
  if (c->code == OK &&
      (!cJSON_IsString(sem) || (strcmp(sem->valuestring, "real") && strcmp(sem->valuestring, "f32-any"))))
    fail(c, BAD, "malformed: semantics must be \"real\" or \"f32-any\"");
  cJSON *meth = c->code == OK ? field(c, root, "method", "certificate") : NULL;
  if (c->code == OK &&
      (!cJSON_IsString(meth) || (strcmp(meth->valuestring, "ibp") && strcmp(meth->valuestring, "crown"))))
    fail(c, BAD, "malformed: method must be \"ibp\" or \"crown\"");
  cJSON *hash = c->code == OK ? field(c, root, "graph_sha256", "certificate") : NULL;
  if (c->code == OK && (!cJSON_IsString(hash) || cg_hex_decode(hash->valuestring, claimed)))
    fail(c, BAD, "malformed: graph_sha256 must be 64 hex digits");
  cJSON *gj = NULL;
  if (c->code == OK) {
    *f32 = !strcmp(sem->valuestring, "f32-any");
    *crown_m = !strcmp(meth->valuestring, "crown");
    gj = field(c, root, "graph", "certificate");
    if (gj)
      read_graph(c, gj, g);
  }
  return gj;
}

/* the graph hash: recomputed here from the embedded graph (docs/graph-hash.md) */
static void check_hash(ctx *c, const cJSON *gj, const cgraph *g, const uint8_t claimed[32]) {
  uint8_t derived[32];
  const float **wv = calloc((size_t)g->n, sizeof *wv);
  char herr[300];
  for (int i = 0; wv && i < g->n; i++)
    wv[i] = g->nodes[i].wf;
  if (!wv)
    fail(c, BAD, "out of memory");
  else if (cg_hash_json(cJSON_GetObjectItemCaseSensitive(gj, "nodes"), "op",
                        cJSON_GetObjectItemCaseSensitive(gj, "inputs"),
                        cJSON_GetObjectItemCaseSensitive(gj, "outputs"), wv, derived, herr, sizeof herr))
    fail(c, BAD, "malformed: %s", herr);
  else if (memcmp(derived, claimed, 32) != 0)
    fail(c, REJ, "REJECT: graph_sha256 is not the hash of the embedded graph (recomputed hash differs)");
  free(wv);
}

/* --model: the model file's own hash and weights must be those of the embedded graph */
static void check_model(ctx *c, const char *model, const cgraph *g, const uint8_t claimed[32]) {
  cm_model m;
  char merr[400];
  if (cm_model_read(model, &m, merr, sizeof merr)) {
    fail(c, BAD, "malformed model file: %s", merr);
    return;
  }
  if (memcmp(m.hash, m.claimed, 32) != 0)
    fail(c, REJ, "REJECT: model file %s: its stored graph_sha256 is not the hash of its contents", model);
  else if (memcmp(m.hash, claimed, 32) != 0)
    fail(c, REJ, "REJECT: model file %s has another graph hash than the certificate", model);
  else if (m.nnodes != g->n)
    fail(c, REJ, "REJECT: model file %s has %d nodes, the certificate's graph %d", model, m.nnodes, g->n);
  for (int i = 0; c->code == OK && i < g->n; i++) {
    int isp = g->nodes[i].op == OP_PARAM;
    if (isp != (m.w[i] != NULL) ||
        (isp && (m.numel[i] != g->nodes[i].numel ||
                 memcmp(m.w[i], g->nodes[i].wf, (size_t)m.numel[i] * sizeof(float)))))
      fail(c, REJ,
           "REJECT: model file %s: weights of node %d differ from the certificate's (node %d, index 0)",
           model, i, i);
  }
  if (c->code == OK)
    printf("model %s: graph hash and weights match the certificate\n", model);
  cm_model_free(&m);
}

/* one sample's line: what was claimed and what was checked (an unknown sample claims only bounds) */
static void report_sample(int i, int r, int v, int f32, const ctx *sc, int cnt[6]) {
  if (r == REJ)
    cnt[4]++, printf("sample %d: %s\n", i, sc->msg);
  else if (r != OK)
    cnt[5]++, printf("sample %d: MALFORMED: %s\n", i, sc->msg);
  else if (v == VERDICT_VERIFIED)
    cnt[0]++, printf("sample %d: ACCEPT verified (bounds re-derived)\n", i);
  else if (v == VERDICT_FALSIFIED)
    cnt[1]++, printf("sample %d: ACCEPT falsified (bounds re-derived; counterexample re-checked: in region, "
                     "violates %s)\n",
                     i, f32 ? "in every f32-any evaluation" : "in the exact evaluation");
  else
    cnt[2]++, printf("sample %d: UNKNOWN (bounds re-derived, no claim)\n", i);
}

/* every sample (fast path first, then the exact check), the summary and the file's verdict */
static int check_samples(cgraph *g, const cJSON *samples, int f32, int crown_m, int times, const double t[3],
                         unsigned char *acc) {
  int ns = cJSON_GetArraySize(samples), i = 0, nfast = 0;
  int cnt[6] = {0}; /* verified, falsified, unknown accepted; -; rejected; malformed */
  /* the binary64 fast path first (TL_CHECK_FAST=0 turns it off); where it proves nothing, the exact check.
   * A falsified sample's counterexample is re-checked exactly either way. */
  const char *fenv = getenv("TL_CHECK_FAST");
  fast *F = fenv && !strcmp(fenv, "0") ? NULL : fast_new(g);
  for (cJSON *sj = samples->child; sj; sj = sj->next, i++) {
    ctx sc = {OK, ""};
    int v = sample_verdict(sj);
    int fr = v != VERDICT_BAD ? fast_sample(F, sj, f32, crown_m) : 0;
    int r = fr && v != VERDICT_FALSIFIED ? OK
            : graph_exact(&sc, g) != OK  ? sc.code
            : fr                         ? check_falsified_claim(&sc, g, sj, f32)
                                         : check_sample(&sc, g, sj, f32, crown_m);
    nfast += fr;
    acc[i] = r == OK && v == VERDICT_VERIFIED;
    report_sample(i, r, v, f32, &sc, cnt);
  }
  fast_free(F);
  if (times)
    fprintf(stderr,
            "times: JSON parse %.1f ms, graph read + hash %.1f ms, %d samples %.1f ms (%.2f ms each; %d "
            "accepted by "
            "the fast path)\n",
            t[1] - t[0], t[2] - t[1], ns, now_ms() - t[2], (now_ms() - t[2]) / ns, nfast);
  int rej = cnt[4], bad = cnt[5];
  printf("summary: %d samples, %d accepted (%d verified, %d falsified), %d unknown (bounds checked, no "
         "claim), %d rejected, %d malformed\n",
         ns, cnt[0] + cnt[1], cnt[0], cnt[1], cnt[2], rej, bad);
  int status = bad ? BAD : rej ? REJ : OK;
  if (status != OK)
    printf("REJECT: %d of %d samples not accepted\n", rej + bad, ns);
  return status;
}

/* the covers of input-splitting branch and bound, when the certificate has them (cover.c), then the
 * file's verdict line (a REJECT line for samples was already printed) */
static int check_all_covers(const cJSON *root, const cJSON *samples, const cgraph *g,
                            const unsigned char *acc, int status) {
  const cJSON *cov = cJSON_GetObjectItemCaseSensitive(root, "covers");
  int ncov = 0, cst = cov ? check_covers(cov, samples, g->nodes[g->input].numel, acc, &ncov) : OK;
  if (status == OK && cst == OK)
    printf("ACCEPT\n");
  else if (status == OK)
    printf("REJECT: a cover is not accepted\n");
  return cst > status ? cst : status;
}

/* the parsed certificate: header, graph, hash, model binding, samples; the exit status */
static int check_cert(const cJSON *root, const char *model, int times, double t[3]) {
  ctx c = {OK, ""};
  cgraph g;
  memset(&g, 0, sizeof g);
  int f32 = 0, crown_m = 0;
  uint8_t claimed[32];
  cJSON *gj = read_header(&c, root, &g, &f32, &crown_m, claimed);
  if (c.code == OK)
    check_hash(&c, gj, &g, claimed);
  if (c.code == OK && model)
    check_model(&c, model, &g, claimed);
  t[2] = now_ms();
  cJSON *samples = c.code == OK ? field(&c, root, "samples", "certificate") : NULL;
  if (c.code == OK && (!cJSON_IsArray(samples) || cJSON_GetArraySize(samples) < 1))
    fail(&c, BAD, "malformed: samples must be a non-empty array");
  int status = c.code;
  if (c.code != OK)
    printf("%s%s\n", c.code == BAD ? "MALFORMED: " : "", c.msg);
  else {
    unsigned char *acc = calloc((size_t)cJSON_GetArraySize(samples), 1);
    status = acc ? check_samples(&g, samples, f32, crown_m, times, t, acc) : BAD;
    status = acc ? check_all_covers(root, samples, &g, acc, status) : status;
    if (!acc)
      printf("MALFORMED: out of memory\n");
    free(acc);
  }
  graph_free(&g);
  return status;
}

int main(int argc, char **argv) {
  /* per-sample arrays are large and short-lived: keep freed memory in the heap instead of
   * returning it to the kernel and faulting it in again for the next node or sample */
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const char *path = NULL, *model = NULL;
  int usage_rc = parse_args(argc, argv, &path, &model);
  if (usage_rc)
    return usage_rc < 0 ? 0 : 2;
  size_t len = 0;
  char *txt = read_file(path, &len);
  if (!txt) {
    printf("MALFORMED: cannot read %s\n", path);
    return 2;
  }
  const char *end = NULL;
  const char *tenv = getenv("TL_CHECK_TIMES");
  int times = tenv && *tenv && strcmp(tenv, "0");
  double t[3]; /* start, JSON parsed, graph read and hashed */
  t[0] = now_ms();
  cJSON_Hooks hooks = {arena_alloc, arena_free};
  cJSON_InitHooks(&hooks);
  cJSON *root = cJSON_ParseWithLengthOpts(txt, len + 1, &end, 1);
  t[1] = now_ms();
  int status = 2;
  const char *dup = root ? duplicate_key(root) : NULL;
  if (!root)
    printf("MALFORMED: invalid JSON at byte %ld\n", end ? (long)(end - txt) : -1L);
  else if (dup)
    printf("MALFORMED: duplicate key \"%s\" (JSON readers disagree on which one counts)\n", dup);
  else
    status = check_cert(root, model, times, t);
  arena_release(); /* the whole cJSON tree (cJSON_Delete would only call the no-op free) */
  free(txt);
  return status;
}
