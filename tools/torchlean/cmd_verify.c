/* cmd_verify.c - `torchlean verify MODEL`: robustness of test samples in an L_inf ball (clamped
 * to the pixel domain [0, 1] when the data lies in it) by IBP or CROWN, in real or f32-any semantics, with
 * counterexample search (PGD on the float32 runtime, confirmed exactly and in float32), certificates for
 * torchlean-check, and a certified-accuracy summary.  Samples run on --threads workers; the
 * verdicts do not depend on the thread count. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "torchlean/model_file.h"
#include "torchlean/verify.h"

#define MAX_EPS 16

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* "0.01", "1/255", "2e-3": a finite eps >= 0.  A fraction a/b is rounded UP to binary64 so that
 * the verified ball contains the ball of the exact radius a/b (b > 0). */
static int parse_eps(const char *s, double *out) {
  char *end;
  double a = strtod(s, &end);
  if (end == s)
    return 0;
  if (*end == '/') {
    const char *t = end + 1;
    double b = strtod(t, &end);
    if (end == t || *end || !(b > 0) || !isfinite(b))
      return 0;
    double q = a / b;
    if (fma(q, b, -a) < 0) /* the sign of q b - a is exact in one fma: q below a/b, step up */
      q = nextafter(q, INFINITY);
    a = q;
  } else if (*end) {
    return 0;
  }
  if (!(a >= 0) || !isfinite(a))
    return 0;
  *out = a;
  return 1;
}

typedef struct progress {
  pthread_mutex_t mu;
  const char *what;
  int64_t last;
} progress;

static void progress_cb(void *user, int64_t done, int64_t total) {
  progress *p = user;
  pthread_mutex_lock(&p->mu);
  if (done > p->last) {
    p->last = done;
    int w = 40, k = (int)(w * done / (total ? total : 1));
    fprintf(stderr, "\r%s [", p->what);
    for (int i = 0; i < w; i++)
      fputc(i < k ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld", (long long)done, (long long)total);
    if (done == total)
      fputc('\n', stderr);
    fflush(stderr);
  }
  pthread_mutex_unlock(&p->mu);
}

/* OUT.json -> OUT-<method>-<eps text>.json when several runs share one --cert */
static void cert_name(char *buf, size_t n, const char *base, const char *method, const char *eps_text,
                      int many) {
  if (!many) {
    snprintf(buf, n, "%s", base);
    return;
  }
  char e[64];
  snprintf(e, sizeof e, "%s", eps_text);
  for (char *c = e; *c; c++)
    if (*c == '/' || *c == ' ')
      *c = '_';
  size_t bl = strlen(base);
  int ext = bl > 5 && !strcmp(base + bl - 5, ".json");
  snprintf(buf, n, "%.*s-%s-%s.json", (int)(ext ? bl - 5 : bl), base, method, e);
}

/* ---- parse: the flags, checked before any work (usage errors: exit 2) ---- */
typedef struct verify_opts {
  const char *model, *data, *cert;
  double eps[MAX_EPS];
  char eps_text[MAX_EPS][64];
  int neps;
  tl_method methods[3];
  int nmeth;
  tl_semantics sem;
  long long threads, index, first, seed, pgd_steps, alpha_steps;
  int quiet, icrown;
  int by_index, by_first; /* the selection: --index, --first, else --all */
} verify_opts;

/* --eps: a radius or a comma list of them */
static int parse_eps_list(const tl_cli *cli, const char *eps_arg, verify_opts *o) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", eps_arg);
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (o->neps == MAX_EPS)
      return tl_cli_usage_error(cli, "--eps: at most %d radii", MAX_EPS);
    if (!parse_eps(t, &o->eps[o->neps]) || strlen(t) >= sizeof o->eps_text[0])
      return tl_cli_usage_error(cli, "--eps: '%s' is not a radius >= 0 (want e.g. 0.01 or 1/255)", t);
    snprintf(o->eps_text[o->neps++], sizeof o->eps_text[0], "%s", t);
  }
  if (!o->neps)
    return tl_cli_usage_error(cli, "--eps: no radius given");
  return 0;
}

/* --method: ibp, crown, alpha-crown or a comma list of them [crown] */
static int parse_methods(const tl_cli *cli, verify_opts *o) {
  const char *m = tl_cli_get(cli, "method") ? tl_cli_get(cli, "method") : "crown";
  char buf[64];
  snprintf(buf, sizeof buf, "%s", m);
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    tl_method mm;
    if (!strcmp(t, "ibp"))
      mm = TL_METHOD_IBP;
    else if (!strcmp(t, "crown"))
      mm = TL_METHOD_CROWN;
    else if (!strcmp(t, "alpha-crown"))
      mm = TL_METHOD_ALPHA_CROWN;
    else
      return tl_cli_usage_error(cli, "--method: '%s' is not ibp, crown or alpha-crown", t);
    for (int k = 0; k < o->nmeth; k++)
      if (o->methods[k] == mm)
        return tl_cli_usage_error(cli, "--method: '%s' given twice", t);
    if (o->nmeth == 3)
      return tl_cli_usage_error(cli, "--method: at most ibp,crown,alpha-crown");
    o->methods[o->nmeth++] = mm;
  }
  if (!o->nmeth)
    return tl_cli_usage_error(cli, "--method: want ibp, crown, alpha-crown or a comma list of them");
  return 0;
}

static int verify_parse(const tl_cli *cli, verify_opts *o) {
  memset(o, 0, sizeof *o);
  int sel = !!tl_cli_get(cli, "index") + !!tl_cli_get(cli, "first") + !!tl_cli_get(cli, "all");
  if (sel != 1)
    return tl_cli_usage_error(cli, "give exactly one of --index I, --first N, --all");
  const char *eps_arg = tl_cli_get(cli, "eps");
  if (!eps_arg)
    return tl_cli_usage_error(cli, "--eps E is required (a number, a fraction like 1/255, or a comma list)");
  if (parse_eps_list(cli, eps_arg, o) || parse_methods(cli, o))
    return 2;
  o->sem = TL_SEM_F32_ANY;
  const char *sm = tl_cli_get(cli, "semantics");
  if (sm && !strcmp(sm, "real"))
    o->sem = TL_SEM_REAL;
  else if (sm && strcmp(sm, "f32-any"))
    return tl_cli_usage_error(cli, "--semantics: '%s' is not real or f32-any", sm);
  long long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  o->threads = ncpu > 0 ? ncpu : 1, o->pgd_steps = 30, o->alpha_steps = 20;
  if (!tl_cli_long(cli, "threads", 1, 256, &o->threads) ||
      !tl_cli_long(cli, "index", 0, INT64_MAX / 2, &o->index) ||
      !tl_cli_long(cli, "first", 1, INT64_MAX / 2, &o->first) ||
      !tl_cli_long(cli, "seed", 0, INT64_MAX, &o->seed) ||
      !tl_cli_long(cli, "pgd-steps", 0, 100000, &o->pgd_steps) ||
      !tl_cli_long(cli, "alpha-steps", 1, 100000, &o->alpha_steps))
    return 2;
  o->cert = tl_cli_get(cli, "cert");
  o->quiet = tl_cli_get(cli, "quiet") != NULL, o->icrown = tl_cli_get(cli, "crown-intermediate") != NULL;
  o->by_index = tl_cli_get(cli, "index") != NULL, o->by_first = tl_cli_get(cli, "first") != NULL;
  o->model = cli->pos[0];
  o->data = tl_cli_get(cli, "data") ? tl_cli_get(cli, "data") : TL_DEFAULT_DATA_DIR;
  /* the certificate files are named after --cert (one per method and radius): its folder is checked */
  return tl_cli_check_output(cli, "cert", o->cert, o->model, o->data) ? 0 : 2;
}

/* ---- run: model, data, the clean pass and one batch per method and radius ---- */
typedef struct run_sum {
  tl_method m;
  int e;
  int64_t verified, falsified, unknown, certified;
  double cpu, wall;
  char cert[1024];
} run_sum;

typedef struct verify_run {
  const verify_opts *o;
  tl_graph *g;
  tl_dataset *d;
  int64_t row, nout, lo, n, nclean;
  const float *X;
  int clamp, tty;
  uint8_t gh[32];
  unsigned char *correct;
  tl_property **props;
  tl_region **regs;
  tl_verify_result **res;
  double *ylo, *yhi;
  tl_verify_plan *plan;
  run_sum sums[3 * MAX_EPS];
  int nsum;
} verify_run;

static const char *const vcmd = "verify";

/* the model and the data, checked against each other and the sample selection; 0 or 2 (printed) */
static int verify_load(verify_run *v) {
  const verify_opts *o = v->o;
  tl_status st;
  if (tl_model_load(o->model, &v->g, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", vcmd, st.msg);
    return 2;
  }
  if (tl_verify_supports(v->g, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s: %s\n", vcmd, o->model, st.msg);
    return 2;
  }
  v->d = tl_cli_load_data(o->data, "t10k", vcmd);
  if (!v->d)
    return 2;
  const tl_graph *g = v->g;
  const tl_dataset *d = v->d;
  v->row = d->n ? d->x->numel / d->n : 0;
  if (g->ninputs != 1 || g->noutputs < 1 || g->nodes[g->inputs[0]].numel != v->row) {
    fprintf(stderr, "torchlean %s: the model must take one input of %lld values (one sample of %s)\n", vcmd,
            (long long)v->row, d->name);
    return 2;
  }
  v->nout = g->nodes[g->outputs[0]].numel;
  if (d->num_classes != v->nout) {
    fprintf(stderr, "torchlean %s: the model has %lld outputs but %s has %d classes\n", vcmd,
            (long long)v->nout, d->name, d->num_classes);
    return 2;
  }
  if (o->by_index)
    v->lo = o->index, v->n = 1;
  else if (o->by_first)
    v->n = o->first;
  else
    v->n = d->n;
  if (v->lo + v->n > d->n) {
    fprintf(stderr, "torchlean %s: %s has %lld samples; asked for %lld..%lld\n", vcmd, d->name,
            (long long)d->n, (long long)v->lo, (long long)(v->lo + v->n - 1));
    return 2;
  }
  return 0;
}

/* the input domain, the header line, the arrays, the plan and the clean accuracy (the exact argmax
 * at the center is the label; ties count as wrong); 0 or 1 (printed) */
static int verify_prepare(verify_run *v) {
  const verify_opts *o = v->o;
  int64_t lo = v->lo, n = v->n, row = v->row;
  v->X = tl_tensor_f32(v->d->x);
  /* the input domain: pixel space [0, 1] when every selected value lies in it (images), else none */
  v->clamp = 1;
  for (int64_t i = lo * row; i < (lo + n) * row && v->clamp; i++)
    v->clamp = v->X[i] >= 0.0f && v->X[i] <= 1.0f;
  char ghex[65];
  tl_graph_hash(v->g, v->gh);
  tl_hash_hex(v->gh, ghex);
  printf("model %s (graph %.16s...), %lld samples of %s from %lld, semantics %s, %lld threads, domain %s\n",
         o->model, ghex, (long long)n, v->d->name, (long long)lo, tl_semantics_name(o->sem), o->threads,
         v->clamp ? "[0, 1]" : "unbounded (values outside [0, 1])");
  v->correct = calloc((size_t)n + 1, 1);
  v->props = calloc((size_t)n + 1, sizeof *v->props);
  v->regs = calloc((size_t)n + 1, sizeof *v->regs);
  v->res = calloc((size_t)n + 1, sizeof *v->res);
  v->ylo = malloc((size_t)v->nout * sizeof *v->ylo), v->yhi = malloc((size_t)v->nout * sizeof *v->yhi);
  if (!v->correct || !v->props || !v->regs || !v->res || !v->ylo || !v->yhi) {
    fprintf(stderr, "torchlean %s: out of memory\n", vcmd);
    return 1;
  }
  tl_status st;
  /* one verification plan for every sample, method, radius and thread */
  if (tl_verify_plan_new(&v->plan, v->g, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", vcmd, st.msg);
    return 1;
  }
  for (int64_t i = 0; i < n; i++) {
    int label = tl_dataset_label(v->d, lo + i);
    int ok = 0;
    if (tl_clean_correct_plan(v->plan, v->X + (lo + i) * row, label, &ok, &st) != TL_OK ||
        tl_property_robust(&v->props[i], v->nout, label, &st) != TL_OK) {
      fprintf(stderr, "torchlean %s: sample %lld: %s\n", vcmd, (long long)(lo + i), st.msg);
      return 1;
    }
    v->correct[i] = (unsigned char)ok;
    v->nclean += ok;
  }
  return 0;
}

/* one sample's line of run mi, radius e */
static void print_sample(const verify_run *v, int mi, int e, int64_t i) {
  tl_verdict vd = v->res[i]->verdict;
  printf("sample %lld label %d %s eps=%s: %s", (long long)(v->lo + i), v->props[i]->label,
         tl_method_name(v->o->methods[mi]), v->o->eps_text[e], tl_verdict_name(vd));
  if (vd == TL_VERDICT_FALSIFIED)
    printf(" (counterexample violates the real semantics exactly and the float32 runtime)");
  else if (!v->correct[i])
    printf(" (misclassified at the center)");
  printf(" [%.3f ms]\n", 1e3 * v->res[i]->seconds);
}

/* the run's counts (and per-sample lines), then its certificate file; 0 or 1 (printed) */
static int run_tally(verify_run *v, run_sum *s, int mi, int e) {
  const verify_opts *o = v->o;
  int rc = 0;
  for (int64_t i = 0; i < v->n; i++) {
    tl_verdict vd = v->res[i]->verdict;
    s->verified += vd == TL_VERDICT_VERIFIED;
    s->falsified += vd == TL_VERDICT_FALSIFIED;
    s->unknown += vd == TL_VERDICT_UNKNOWN;
    s->certified += vd == TL_VERDICT_VERIFIED && v->correct[i];
    s->cpu += v->res[i]->seconds;
    if (!o->quiet && !(v->tty && v->n > 20))
      print_sample(v, mi, e, i);
  }
  if (o->cert) {
    tl_status st;
    cert_name(s->cert, sizeof s->cert, o->cert, tl_method_name(o->methods[mi]), o->eps_text[e],
              o->nmeth * o->neps > 1);
    tl_cert_info info = {v->gh, o->model, NULL};
    if (tl_cert_write_many(s->cert, v->g, (int)v->n, (const tl_region *const *)v->regs,
                           (const tl_property *const *)v->props, (const tl_verify_result *const *)v->res,
                           &info, &st) != TL_OK) {
      fprintf(stderr, "torchlean %s: %s\n", vcmd, st.msg);
      rc = 1;
    } else {
      printf("wrote %s (%lld certificates)\n", s->cert, (long long)v->n);
    }
  }
  for (int64_t i = 0; i < v->n; i++)
    tl_verify_result_free(v->res[i]), v->res[i] = NULL;
  return rc;
}

/* one run: method mi at radius e over every selected sample; 0 or 1 (printed) */
static int verify_one(verify_run *v, int mi, int e) {
  const verify_opts *o = v->o;
  tl_status st;
  for (int64_t i = 0; i < v->n; i++) {
    tl_region_free(v->regs[i]);
    v->regs[i] = NULL;
    if (tl_region_linf(&v->regs[i], v->X + (v->lo + i) * v->row, v->row, o->eps[e], v->clamp, 0.0, 1.0,
                       &st) != TL_OK) {
      fprintf(stderr, "torchlean %s: sample %lld: %s\n", vcmd, (long long)(v->lo + i), st.msg);
      return 1;
    }
  }
  tl_verify_opts vo = tl_verify_opts_default();
  vo.method = o->methods[mi], vo.sem = o->sem, vo.intermediate_crown = o->icrown,
  vo.keep_evidence = o->cert != NULL;
  vo.seed = (uint64_t)o->seed ^ 0x7e57ab1eULL, vo.pgd_steps = (int)o->pgd_steps;
  vo.alpha_steps = (int)o->alpha_steps, vo.plan = v->plan;
  char what[96];
  snprintf(what, sizeof what, "%s eps=%s", tl_method_name(o->methods[mi]), o->eps_text[e]);
  progress pr = {PTHREAD_MUTEX_INITIALIZER, what, 0};
  double t0 = now_s();
  if (tl_verify_batch(v->g, v->n, (const tl_region *const *)v->regs, (const tl_property *const *)v->props,
                      &vo, (int)o->threads, v->res, v->tty && v->n > 20 ? progress_cb : NULL, &pr,
                      &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", vcmd, st.msg);
    return 1;
  }
  run_sum *s = &v->sums[v->nsum++];
  memset(s, 0, sizeof *s);
  s->m = o->methods[mi], s->e = e, s->wall = now_s() - t0;
  return run_tally(v, s, mi, e);
}

/* ---- report: the table and one machine-readable line per run ---- */
static void verify_report(const verify_run *v) {
  const verify_opts *o = v->o;
  double n = (double)v->n;
  printf("\n%-11s %-10s %8s %9s %10s %8s %10s %12s %10s\n", "method", "eps", "clean", "verified", "falsified",
         "unknown", "certified", "ms/sample", "wall s");
  for (int k = 0; k < v->nsum; k++) {
    const run_sum *s = &v->sums[k];
    printf("%-11s %-10s %7.1f%% %9lld %10lld %8lld %9.1f%% %12.3f %10.2f\n", tl_method_name(s->m),
           o->eps_text[s->e], 100.0 * (double)v->nclean / n, (long long)s->verified, (long long)s->falsified,
           (long long)s->unknown, 100.0 * (double)s->certified / n, 1e3 * s->cpu / n, s->wall);
  }
  /* one machine-readable line per run, for scripts */
  for (int k = 0; k < v->nsum; k++) {
    const run_sum *s = &v->sums[k];
    printf(
        "summary method=%s eps=%s semantics=%s n=%lld clean=%lld verified=%lld falsified=%lld unknown=%lld "
        "certified=%lld ms_per_sample=%.4f wall_s=%.3f cert=%s\n",
        tl_method_name(s->m), o->eps_text[s->e], tl_semantics_name(o->sem), (long long)v->n,
        (long long)v->nclean, (long long)s->verified, (long long)s->falsified, (long long)s->unknown,
        (long long)s->certified, 1e3 * s->cpu / n, s->wall, s->cert[0] ? s->cert : "-");
  }
}

static void verify_free(verify_run *v) {
  for (int64_t i = 0; i < v->n; i++) {
    if (v->props)
      tl_property_free(v->props[i]);
    if (v->regs)
      tl_region_free(v->regs[i]);
    if (v->res)
      tl_verify_result_free(v->res[i]);
  }
  free(v->props), free(v->regs), free(v->res), free(v->correct), free(v->ylo), free(v->yhi);
  tl_verify_plan_free(v->plan);
  tl_dataset_free(v->d);
  tl_graph_free(v->g);
}

static int run_verify(const tl_cli *cli) {
  verify_opts o;
  if (verify_parse(cli, &o))
    return 2;
  verify_run v;
  memset(&v, 0, sizeof v);
  v.o = &o;
  int rc = verify_load(&v);
  if (rc != 0) {
    v.n = 0; /* nothing allocated per sample yet */
    verify_free(&v);
    return rc;
  }
  rc = verify_prepare(&v);
  v.tty = isatty(fileno(stdout)) && isatty(fileno(stderr));
  for (int mi = 0; rc == 0 && mi < o.nmeth; mi++)
    for (int e = 0; rc == 0 && e < o.neps; e++)
      rc = verify_one(&v, mi, e);
  if (rc == 0)
    verify_report(&v);
  verify_free(&v);
  return rc;
}

static const tl_cli_flag verify_flags[] = {
    {"data", "SPEC",
     "IDX folder (t10k split), X,Y files (uint8 pixels / 255), or CSV [" TL_DEFAULT_DATA_DIR "]"},
    {"index", "I", "verify sample I"},
    {"first", "N", "verify samples 0..N-1"},
    {"all", NULL, "verify every sample"},
    {"eps", "E", "L_inf radius in pixel space, e.g. 0.01 or 1/255; a comma list runs each (1/255,2/255)"},
    {"method", "M", "ibp, crown, alpha-crown, or a comma list (ibp,crown) [crown]"},
    {"alpha-steps", "N", "alpha-crown: slope optimisation steps [20]"},
    {"semantics", "S", "real (exact arithmetic) or f32-any (any float32 evaluation order) [f32-any]"},
    {"crown-intermediate", NULL, "CROWN: CROWN intermediate bounds (tighter, slower) instead of IBP's"},
    {"cert", "OUT.json",
     "write the certificates (one file per method and eps: OUT-METHOD-EPS.json when several)"},
    {"threads", "N", "worker threads (results do not depend on it) [online CPUs]"},
    {"seed", "N", "seed of the counterexample search [0]"},
    {"pgd-steps", "N", "PGD steps per restart, 0 to skip PGD [30]"},
    {"quiet", NULL, "no per-sample lines, only the summary"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_verify = {
    "verify",
    "MODEL",
    "certify robustness of test samples (IBP/CROWN), search counterexamples, "
    "write certificates",
    1,
    1,
    verify_flags,
    run_verify};
