/* certmut.c - the mutated-certificate campaign (tests/fuzz/README.md, "certmut").
 *
 *   certmut [--count N] [--seed S] [--time SECONDS] [--work DIR] [--kind NAME] [--points P] [--seeds-out DIR]
 *
 * (also CERTMUT_COUNT, CERTMUT_SEED, CERTMUT_TIME, CERTMUT_WORK).  Builds the seed certificates,
 * checks that the checker accepts each and that the oracle finds nothing false in them, then runs N
 * mutations (or until the time limit): the checker in-process, the oracle on every sample it
 * accepted.  Prints the counts per mutation kind; an accepted false claim is printed loudly, saved
 * (minimised: the offending sample alone) as WORK/false_accept_*.json and makes the exit status 1. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm.h"

typedef struct stats {
  long muts, noop, json, malformed, rejected, accepted; /* per mutation (file level) */
  long samples, confirmed, undecided, falsea;           /* per accepted sample */
  long rej_tried, rej_refuted; /* --oracle-rejected: rejected samples the oracle also refutes */
} stats;

typedef struct run_cfg {
  long count;
  uint64_t seed;
  double time_s;
  const char *work, *seeds_out;
  int kind;
  int oracle_rejected; /* also run the oracle on rejected samples (its power: how many it refutes) */
  int nreplay;
  char **replay; /* --replay FILE...: checker and oracle on these documents only */
  cm_oracle_opts o;
} run_cfg;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int kind_from(const char *s) {
  for (int k = 0; k < MK_COUNT; k++)
    if (!strcmp(s, cm_kind_name(k)))
      return k;
  fprintf(stderr, "certmut: unknown kind %s\n", s);
  exit(2);
}

static int parse_args(int argc, char **argv, run_cfg *c) {
  const char *e;
  c->count = (e = getenv("CERTMUT_COUNT")) ? atol(e) : 2000;
  c->seed = (e = getenv("CERTMUT_SEED")) ? strtoull(e, NULL, 0) : 1;
  c->time_s = (e = getenv("CERTMUT_TIME")) ? atof(e) : 0;
  c->work = (e = getenv("CERTMUT_WORK")) ? e : ".";
  c->kind = -1, c->seeds_out = NULL, c->o = cm_oracle_defaults(), c->oracle_rejected = 0;
  c->nreplay = 0, c->replay = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      return fprintf(stderr, "certmut: %s needs a value\n", a), 2;
    if (!strcmp(a, "--count"))
      c->count = atol(v);
    else if (!strcmp(a, "--seed"))
      c->seed = strtoull(v, NULL, 0);
    else if (!strcmp(a, "--time"))
      c->time_s = atof(v);
    else if (!strcmp(a, "--work"))
      c->work = v;
    else if (!strcmp(a, "--kind"))
      c->kind = kind_from(v);
    else if (!strcmp(a, "--points"))
      c->o.random_points = atoi(v);
    else if (!strcmp(a, "--seeds-out"))
      c->seeds_out = v;
    else if (!strcmp(a, "--oracle-rejected"))
      c->oracle_rejected = atoi(v);
    else if (!strcmp(a, "--replay")) {
      c->replay = argv + i + 1, c->nreplay = argc - i - 1;
      return 0;
    } else
      return fprintf(stderr, "certmut: unknown flag %s\n", a), 2;
    i++;
  }
  return 0;
}

/* the offending sample alone, still accepted and still false: written to WORK */
static void save_false(const run_cfg *c, const char *text, int si, int claim, const char *tag) {
  cJSON *d = cJSON_Parse(text);
  cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "samples"), si),
        *arr = cJSON_CreateArray();
  cJSON_AddItemToArray(arr, cJSON_Duplicate(s, 1));
  cJSON_ReplaceItemInObjectCaseSensitive(d, "samples", arr);
  char *min = cJSON_PrintUnformatted(d), why[600], path[800];
  cm_check ck;
  cm_check_text(min, 0, &ck);
  int still = ck.nsamples == 1 && ck.res[0] == claim &&
              cm_oracle_sample(d, 0, claim, &c->o, why, sizeof why) == OR_FALSE;
  cm_check_free(&ck);
  snprintf(path, sizeof path, "%s/false_accept_%s.json", c->work, tag);
  FILE *f = fopen(path, "w");
  if (f)
    fputs(still ? min : text, f), fputc('\n', f), fclose(f);
  fprintf(stderr, "certmut: saved %s (%s)\n", path, still ? "minimised: that sample alone" : "not minimised");
  free(min);
  cJSON_Delete(d);
}

/* the oracle on every sample the checker accepted; the number of false accepts */
static int oracle_all(const run_cfg *c, const char *text, const cm_check *ck, stats *st, const char *tag) {
  cJSON *d = cJSON_Parse(text);
  int nfalse = 0;
  for (int i = 0; d && i < ck->nsamples; i++) {
    if (ck->res[i] > CS_UNKNOWN)
      continue;
    char why[600];
    int r = cm_oracle_sample(d, i, ck->res[i], &c->o, why, sizeof why);
    st->samples++;
    st->confirmed += r == OR_CONFIRMED, st->undecided += r == OR_UNDECIDED, st->falsea += r == OR_FALSE;
    static int nundec;
    if (r == OR_UNDECIDED && nundec++ < 12) /* the first few reasons, for the report */
      fprintf(stderr, "certmut: undecided: %s sample %d: %s\n", tag, i, why);
    if (r == OR_FALSE) {
      char t[200];
      snprintf(t, sizeof t, "%s_s%d", tag, i);
      fprintf(stderr, "\n*** FALSE ACCEPT *** %s sample %d (checker: %s): %s\n", tag, i,
              ck->res[i] == CS_VERIFIED    ? "ACCEPT verified"
              : ck->res[i] == CS_FALSIFIED ? "ACCEPT falsified"
                                           : "UNKNOWN",
              why);
      save_false(c, text, i, ck->res[i], t);
      nfalse++;
    }
  }
  cJSON_Delete(d);
  return nfalse;
}

/* the claim a rejected sample makes (its verdict string), or -1 */
static int json_claim(const cJSON *s) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "verdict");
  if (!cJSON_IsString(v))
    return -1;
  return !strcmp(v->valuestring, "verified")    ? CS_VERIFIED
         : !strcmp(v->valuestring, "falsified") ? CS_FALSIFIED
         : !strcmp(v->valuestring, "unknown")   ? CS_UNKNOWN
                                                : -1;
}

/* --oracle-rejected: the oracle on the samples the checker rejected (how often it refutes them too) */
static void oracle_rejected(const run_cfg *c, const char *text, const cm_check *ck, stats *st) {
  cJSON *d = cJSON_Parse(text);
  for (int i = 0; d && i < ck->nsamples; i++) {
    int claim = json_claim(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "samples"), i));
    if (ck->res[i] <= CS_UNKNOWN || claim < 0)
      continue;
    char why[600];
    st->rej_tried++;
    st->rej_refuted += cm_oracle_sample(d, i, claim, &c->o, why, sizeof why) == OR_FALSE;
  }
  cJSON_Delete(d);
}

/* one document through checker and oracle, counted in st */
static int one(const run_cfg *c, const char *text, int fast, stats *st, const char *tag) {
  cm_check ck;
  cm_check_text(text, fast, &ck);
  int any = 0;
  for (int i = 0; i < ck.nsamples; i++)
    any |= ck.res[i] <= CS_UNKNOWN;
  st->json += ck.parse;
  st->malformed += !ck.parse && ck.nsamples == 0 && ck.status == 2;
  st->rejected += !ck.parse && ck.status != 0 && !(ck.nsamples == 0 && ck.status == 2);
  st->accepted += ck.status == 0;
  int nf = any ? oracle_all(c, text, &ck, st, tag) : 0;
  if (c->oracle_rejected)
    oracle_rejected(c, text, &ck, st);
  cm_check_free(&ck);
  return nf;
}

/* every seed: accepted by the checker, nothing false found by the oracle; the number of failures */
static int check_seeds(const run_cfg *c, const cm_seed *s, int n, stats *st) {
  int bad = 0;
  for (int i = 0; i < n; i++) {
    cm_check ck;
    cm_check_text(s[i].text, i % 2, &ck);
    if (ck.status != 0) {
      fprintf(stderr, "certmut: seed %s is not accepted by the checker:\n%s", s[i].name, cm_check_output());
      bad++;
    }
    cm_check_free(&ck);
    bad += one(c, s[i].text, i % 2, st, s[i].name);
  }
  return bad;
}

static void print_stats(const stats *k, const stats *tot) {
  printf("%-9s %7s %6s %6s %6s %7s %7s %7s %7s %7s %6s %9s\n", "kind", "muts", "noop", "json", "malf",
         "reject", "accept", "samples", "confirm", "undec", "FALSE", "rej-refut");
  for (int i = 0; i <= MK_COUNT; i++) {
    const stats *s = i < MK_COUNT ? &k[i] : tot;
    printf("%-9s %7ld %6ld %6ld %6ld %7ld %7ld %7ld %7ld %7ld %6ld %4ld/%-4ld\n",
           i < MK_COUNT ? cm_kind_name(i) : "TOTAL", s->muts, s->noop, s->json, s->malformed, s->rejected,
           s->accepted, s->samples, s->confirmed, s->undecided, s->falsea, s->rej_refuted, s->rej_tried);
  }
}

static void add(stats *t, const stats *s) {
  long *a = (long *)t;
  const long *b = (const long *)s;
  for (size_t i = 0; i < sizeof *t / sizeof(long); i++)
    a[i] += b[i];
}

/* the mutations; the number of false accepts */
static long campaign(const run_cfg *c, const cm_seed *s, int n, stats *k, double t0) {
  long nfalse = 0, i = 0;
  for (; i < c->count && !(c->time_s > 0 && now_s() - t0 > c->time_s); i++) {
    cm_rng r = {c->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)i};
    int si = (int)cm_below(&r, (uint64_t)n), kind = 0;
    char *text = cm_mutate(s[si].doc, s[si].text, cm_next(&r), c->kind, &kind), tag[160];
    if (!text)
      continue;
    stats st = {0};
    st.muts = 1, st.noop = !strcmp(text, s[si].text);
    snprintf(tag, sizeof tag, "%s_%s_%llu_%ld", cm_kind_name(kind), s[si].name, (unsigned long long)c->seed,
             i);
    nfalse += one(c, text, (int)(i & 1), &st, tag);
    add(&k[kind], &st);
    free(text);
  }
  return nfalse;
}

/* --replay: every file through the checker (fast path on and off) and the oracle; 1 on a false accept */
static int replay(const run_cfg *c) {
  long nfalse = 0;
  for (int i = 0; i < c->nreplay; i++) {
    FILE *f = fopen(c->replay[i], "rb");
    if (!f)
      return fprintf(stderr, "certmut: cannot read %s\n", c->replay[i]), 2;
    char *text = calloc(1 << 24, 1);
    size_t n = text ? fread(text, 1, (1 << 24) - 1, f) : 0;
    fclose(f);
    for (int fast = 0; text && n && fast < 2; fast++) {
      stats st = {0};
      const char *base = strrchr(c->replay[i], '/');
      nfalse += one(c, text, fast, &st, base ? base + 1 : c->replay[i]);
      printf("%s (fast path %s): file %s, %ld samples to the oracle: %ld confirmed, %ld "
             "undecided, %ld FALSE\n",
             c->replay[i], fast ? "on" : "off", st.accepted ? "accepted" : "not accepted", st.samples,
             st.confirmed, st.undecided, st.falsea);
    }
    free(text);
  }
  return nfalse ? 1 : 0;
}

int main(int argc, char **argv) {
  run_cfg c;
  if (parse_args(argc, argv, &c))
    return 2;
  if (c.nreplay)
    return replay(&c);
  double t0 = now_s();
  cm_seed *s = NULL;
  int n = cm_seeds_make(c.seeds_out, &s, 0);
  if (n < 1)
    return fprintf(stderr, "certmut: no seed certificates\n"), 2;
  stats seeds = {0}, k[MK_COUNT] = {{0}}, tot = {0};
  int bad = check_seeds(&c, s, n, &seeds);
  printf("seeds: %d documents (%.1f s); checker and oracle on them: %ld samples, %ld confirmed, %ld "
         "undecided, %ld "
         "false, %d failures\n",
         n, now_s() - t0, seeds.samples, seeds.confirmed, seeds.undecided, seeds.falsea, bad);
  double t1 = now_s();
  long nfalse = campaign(&c, s, n, k, t0); /* --time counts from the start, seeds included */
  for (int i = 0; i < MK_COUNT; i++)
    add(&tot, &k[i]);
  print_stats(k, &tot);
  printf("certmut: %ld mutations in %.1f s (seed %llu), %ld accepted samples checked by the oracle, %ld "
         "FALSE ACCEPTS\n",
         tot.muts, now_s() - t1, (unsigned long long)c.seed, tot.samples, nfalse);
  cm_seeds_free(s, n);
  return nfalse || bad ? 1 : 0;
}
