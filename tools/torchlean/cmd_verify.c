/* cmd_verify.c - `torchlean verify MODEL`: robustness of test samples in an L_inf ball (clamped
 * to the pixel domain [0, 1] when the data lies in it) by IBP or CROWN, in real or f32-any semantics, with counterexample
 * search (PGD on the float32 runtime, confirmed exactly and in float32), certificates for
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
static void cert_name(char *buf, size_t n, const char *base, const char *method, const char *eps_text, int many) {
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

static int run_verify(const tl_cli *cli) {
  const char *cmd = "verify";
  /* ---- flags ---- */
  int sel = !!tl_cli_get(cli, "index") + !!tl_cli_get(cli, "first") + !!tl_cli_get(cli, "all");
  if (sel != 1)
    return tl_cli_usage_error(cli, "give exactly one of --index I, --first N, --all");
  const char *eps_arg = tl_cli_get(cli, "eps");
  if (!eps_arg)
    return tl_cli_usage_error(cli, "--eps E is required (a number, a fraction like 1/255, or a comma list)");
  double eps[MAX_EPS];
  char eps_text[MAX_EPS][64];
  int neps = 0;
  {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", eps_arg);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      if (neps == MAX_EPS)
        return tl_cli_usage_error(cli, "--eps: at most %d radii", MAX_EPS);
      if (!parse_eps(t, &eps[neps]) || strlen(t) >= sizeof eps_text[0])
        return tl_cli_usage_error(cli, "--eps: '%s' is not a radius >= 0 (want e.g. 0.01 or 1/255)", t);
      snprintf(eps_text[neps++], sizeof eps_text[0], "%s", t);
    }
    if (!neps)
      return tl_cli_usage_error(cli, "--eps: no radius given");
  }
  tl_method methods[3];
  int nmeth = 0;
  {
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
      for (int k = 0; k < nmeth; k++)
        if (methods[k] == mm)
          return tl_cli_usage_error(cli, "--method: '%s' given twice", t);
      if (nmeth == 3)
        return tl_cli_usage_error(cli, "--method: at most ibp,crown,alpha-crown");
      methods[nmeth++] = mm;
    }
    if (!nmeth)
      return tl_cli_usage_error(cli, "--method: want ibp, crown, alpha-crown or a comma list of them");
  }
  tl_semantics sem = TL_SEM_F32_ANY;
  const char *sm = tl_cli_get(cli, "semantics");
  if (sm && !strcmp(sm, "real"))
    sem = TL_SEM_REAL;
  else if (sm && strcmp(sm, "f32-any"))
    return tl_cli_usage_error(cli, "--semantics: '%s' is not real or f32-any", sm);
  long long ncpu = sysconf(_SC_NPROCESSORS_ONLN), threads = ncpu > 0 ? ncpu : 1, index = 0, first = 0, seed = 0;
  long long pgd_steps = 30, alpha_steps = 20;
  if (!tl_cli_long(cli, "threads", 1, 256, &threads) || !tl_cli_long(cli, "index", 0, INT64_MAX / 2, &index) ||
      !tl_cli_long(cli, "first", 1, INT64_MAX / 2, &first) || !tl_cli_long(cli, "seed", 0, INT64_MAX, &seed) ||
      !tl_cli_long(cli, "pgd-steps", 0, 100000, &pgd_steps) ||
      !tl_cli_long(cli, "alpha-steps", 1, 100000, &alpha_steps))
    return 2;
  const char *cert = tl_cli_get(cli, "cert");
  int quiet = tl_cli_get(cli, "quiet") != NULL, icrown = tl_cli_get(cli, "crown-intermediate") != NULL;

  /* ---- model and data ---- */
  tl_status st;
  tl_graph *g = NULL;
  if (tl_model_load(cli->pos[0], &g, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", cmd, st.msg);
    return 2;
  }
  const char *data = tl_cli_get(cli, "data") ? tl_cli_get(cli, "data") : TL_DEFAULT_DATA_DIR;
  tl_dataset *d = tl_cli_load_data(data, "t10k", cmd);
  if (!d) {
    tl_graph_free(g);
    return 2;
  }
  int rc = 0;
  int64_t row = d->n ? d->x->numel / d->n : 0, nout = 0;
  if (g->ninputs != 1 || g->noutputs < 1 || g->nodes[g->inputs[0]].numel != row) {
    fprintf(stderr, "torchlean %s: the model must take one input of %lld values (one sample of %s)\n", cmd,
            (long long)row, d->name);
    rc = 2;
  } else {
    nout = g->nodes[g->outputs[0]].numel;
    if (d->num_classes != nout) {
      fprintf(stderr, "torchlean %s: the model has %lld outputs but %s has %d classes\n", cmd, (long long)nout,
              d->name, d->num_classes);
      rc = 2;
    }
  }
  int64_t lo = 0, n = 0;
  if (rc == 0) {
    if (tl_cli_get(cli, "index"))
      lo = index, n = 1;
    else if (tl_cli_get(cli, "first"))
      n = first;
    else
      n = d->n;
    if (lo + n > d->n) {
      fprintf(stderr, "torchlean %s: %s has %lld samples; asked for %lld..%lld\n", cmd, d->name, (long long)d->n,
              (long long)lo, (long long)(lo + n - 1));
      rc = 2;
    }
  }
  if (rc != 0) {
    tl_dataset_free(d);
    tl_graph_free(g);
    return rc;
  }
  const float *X = tl_tensor_f32(d->x);
  /* the input domain: pixel space [0, 1] when every selected value lies in it (images), else none */
  int clamp = 1;
  for (int64_t i = lo * row; i < (lo + n) * row && clamp; i++)
    clamp = X[i] >= 0.0f && X[i] <= 1.0f;
  uint8_t gh[32];
  char ghex[65];
  tl_graph_hash(g, gh);
  tl_hash_hex(gh, ghex);
  printf("model %s (graph %.16s...), %lld samples of %s from %lld, semantics %s, %lld threads, domain %s\n",
         cli->pos[0], ghex, (long long)n, d->name, (long long)lo, tl_semantics_name(sem), threads,
         clamp ? "[0, 1]" : "unbounded (values outside [0, 1])");

  /* clean accuracy: the exact argmax at the center is the label (ties count as wrong) */
  unsigned char *correct = calloc((size_t)n + 1, 1);
  tl_property **props = calloc((size_t)n + 1, sizeof *props);
  tl_region **regs = calloc((size_t)n + 1, sizeof *regs);
  tl_verify_result **res = calloc((size_t)n + 1, sizeof *res);
  double *ylo = malloc((size_t)nout * sizeof *ylo), *yhi = malloc((size_t)nout * sizeof *yhi);
  if (!correct || !props || !regs || !res || !ylo || !yhi) {
    fprintf(stderr, "torchlean %s: out of memory\n", cmd);
    rc = 1;
  }
  /* one verification plan for every sample, method, radius and thread */
  tl_verify_plan *plan = NULL;
  if (rc == 0 && tl_verify_plan_new(&plan, g, &st) != TL_OK) {
    fprintf(stderr, "torchlean %s: %s\n", cmd, st.msg);
    rc = 1;
  }
  int64_t nclean = 0;
  for (int64_t i = 0; rc == 0 && i < n; i++) {
    int label = tl_dataset_label(d, lo + i);
    int ok = 0;
    if (tl_clean_correct_plan(plan, X + (lo + i) * row, label, &ok, &st) != TL_OK ||
        tl_property_robust(&props[i], nout, label, &st) != TL_OK) {
      fprintf(stderr, "torchlean %s: sample %lld: %s\n", cmd, (long long)(lo + i), st.msg);
      rc = 1;
      break;
    }
    correct[i] = (unsigned char)ok;
    nclean += ok;
  }
  int nruns = nmeth * neps, many = nruns > 1;
  typedef struct run_sum {
    tl_method m;
    int e;
    int64_t verified, falsified, unknown, certified;
    double cpu, wall;
    char cert[1024];
  } run_sum;
  run_sum sums[3 * MAX_EPS];
  int nsum = 0;
  int tty = isatty(fileno(stdout)) && isatty(fileno(stderr));
  for (int mi = 0; rc == 0 && mi < nmeth; mi++)
    for (int e = 0; rc == 0 && e < neps; e++) {
      for (int64_t i = 0; i < n; i++) {
        tl_region_free(regs[i]);
        regs[i] = NULL;
        if (tl_region_linf(&regs[i], X + (lo + i) * row, row, eps[e], clamp, 0.0, 1.0, &st) != TL_OK) {
          fprintf(stderr, "torchlean %s: sample %lld: %s\n", cmd, (long long)(lo + i), st.msg);
          rc = 1;
          break;
        }
      }
      if (rc)
        break;
      tl_verify_opts o = tl_verify_opts_default();
      o.method = methods[mi], o.sem = sem, o.intermediate_crown = icrown, o.keep_evidence = cert != NULL;
      o.seed = (uint64_t)seed ^ 0x7e57ab1eULL, o.pgd_steps = (int)pgd_steps;
      o.alpha_steps = (int)alpha_steps, o.plan = plan;
      char what[96];
      snprintf(what, sizeof what, "%s eps=%s", tl_method_name(methods[mi]), eps_text[e]);
      progress pr = {PTHREAD_MUTEX_INITIALIZER, what, 0};
      double t0 = now_s();
      if (tl_verify_batch(g, n, (const tl_region *const *)regs, (const tl_property *const *)props, &o, (int)threads,
                          res, tty && n > 20 ? progress_cb : NULL, &pr, &st) != TL_OK) {
        fprintf(stderr, "torchlean %s: %s\n", cmd, st.msg);
        rc = 1;
        break;
      }
      run_sum *s = &sums[nsum++];
      memset(s, 0, sizeof *s);
      s->m = methods[mi], s->e = e, s->wall = now_s() - t0;
      for (int64_t i = 0; i < n; i++) {
        tl_verdict v = res[i]->verdict;
        s->verified += v == TL_VERDICT_VERIFIED;
        s->falsified += v == TL_VERDICT_FALSIFIED;
        s->unknown += v == TL_VERDICT_UNKNOWN;
        s->certified += v == TL_VERDICT_VERIFIED && correct[i];
        s->cpu += res[i]->seconds;
        if (!quiet && !(tty && n > 20)) {
          printf("sample %lld label %d %s eps=%s: %s", (long long)(lo + i), props[i]->label, tl_method_name(methods[mi]),
                 eps_text[e], tl_verdict_name(v));
          if (v == TL_VERDICT_FALSIFIED)
            printf(" (counterexample violates the real semantics exactly and the float32 runtime)");
          else if (!correct[i])
            printf(" (misclassified at the center)");
          printf(" [%.3f ms]\n", 1e3 * res[i]->seconds);
        }
      }
      if (cert) {
        cert_name(s->cert, sizeof s->cert, cert, tl_method_name(methods[mi]), eps_text[e], many);
        tl_cert_info info = {gh, cli->pos[0], NULL};
        if (tl_cert_write_many(s->cert, g, (int)n, (const tl_region *const *)regs, (const tl_property *const *)props,
                               (const tl_verify_result *const *)res, &info, &st) != TL_OK) {
          fprintf(stderr, "torchlean %s: %s\n", cmd, st.msg);
          rc = 1;
        } else {
          printf("wrote %s (%lld certificates)\n", s->cert, (long long)n);
        }
      }
      for (int64_t i = 0; i < n; i++)
        tl_verify_result_free(res[i]), res[i] = NULL;
    }
  if (rc == 0) {
    printf("\n%-11s %-10s %8s %9s %10s %8s %10s %12s %10s\n", "method", "eps", "clean", "verified", "falsified",
           "unknown", "certified", "ms/sample", "wall s");
    for (int k = 0; k < nsum; k++) {
      run_sum *s = &sums[k];
      printf("%-11s %-10s %7.1f%% %9lld %10lld %8lld %9.1f%% %12.3f %10.2f\n", tl_method_name(s->m), eps_text[s->e],
             100.0 * (double)nclean / (double)n, (long long)s->verified, (long long)s->falsified,
             (long long)s->unknown, 100.0 * (double)s->certified / (double)n, 1e3 * s->cpu / (double)n, s->wall);
    }
    /* one machine-readable line per run, for scripts */
    for (int k = 0; k < nsum; k++) {
      run_sum *s = &sums[k];
      printf("summary method=%s eps=%s semantics=%s n=%lld clean=%lld verified=%lld falsified=%lld unknown=%lld "
             "certified=%lld ms_per_sample=%.4f wall_s=%.3f cert=%s\n",
             tl_method_name(s->m), eps_text[s->e], tl_semantics_name(sem), (long long)n, (long long)nclean,
             (long long)s->verified, (long long)s->falsified, (long long)s->unknown, (long long)s->certified,
             1e3 * s->cpu / (double)n, s->wall, s->cert[0] ? s->cert : "-");
    }
  }
  for (int64_t i = 0; i < n; i++) {
    if (props)
      tl_property_free(props[i]);
    if (regs)
      tl_region_free(regs[i]);
    if (res)
      tl_verify_result_free(res[i]);
  }
  free(props), free(regs), free(res), free(correct), free(ylo), free(yhi);
  tl_verify_plan_free(plan);
  tl_dataset_free(d);
  tl_graph_free(g);
  return rc;
}

static const tl_cli_flag verify_flags[] = {
    {"data", "SPEC", "IDX folder (t10k split), X,Y files, or CSV [" TL_DEFAULT_DATA_DIR "]"},
    {"index", "I", "verify sample I"},
    {"first", "N", "verify samples 0..N-1"},
    {"all", NULL, "verify every sample"},
    {"eps", "E", "L_inf radius in pixel space, e.g. 0.01 or 1/255; a comma list runs each (1/255,2/255)"},
    {"method", "M", "ibp, crown, alpha-crown, or a comma list (ibp,crown) [crown]"},
    {"alpha-steps", "N", "alpha-crown: slope optimisation steps [20]"},
    {"semantics", "S", "real (exact arithmetic) or f32-any (any float32 evaluation order) [f32-any]"},
    {"crown-intermediate", NULL, "CROWN: CROWN intermediate bounds (tighter, slower) instead of IBP's"},
    {"cert", "OUT.json", "write the certificates (one file per method and eps: OUT-METHOD-EPS.json when several)"},
    {"threads", "N", "worker threads (results do not depend on it) [online CPUs]"},
    {"seed", "N", "seed of the counterexample search [0]"},
    {"pgd-steps", "N", "PGD steps per restart, 0 to skip PGD [30]"},
    {"quiet", NULL, "no per-sample lines, only the summary"},
    {NULL, NULL, NULL},
};

const tl_cli_command tl_cmd_verify = {"verify", "MODEL",
                                      "certify robustness of test samples (IBP/CROWN), search counterexamples, "
                                      "write certificates",
                                      1, 1, verify_flags, run_verify};
