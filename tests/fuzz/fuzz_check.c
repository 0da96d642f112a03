/* fuzz_check.c - libFuzzer harness: the certificate checker torchlean-check on arbitrary bytes
 * (and, from the seed corpus, on mutated valid certificates).  certs/main.c is included with its
 * main renamed, so the harness runs the checker's own steps on the input (parse, duplicate keys,
 * header, graph, hash, samples: check_cert), as main does, but with cJSON's default allocator
 * instead of main's bump arena so that ASan sees every allocation.  Any verdict (accept, reject,
 * malformed) is fine; a crash, leak or undefined behaviour is not.  The verdicts go to /dev/null. */
#define main tl_check_main
#include "../../certs/main.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  if (!freopen("/dev/null", "w", stdout))
    abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *txt = malloc(size + 1); /* NUL-terminated, as read_file gives it to main */
  if (!txt)
    return 0;
  memcpy(txt, data, size);
  txt[size] = 0;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(txt, size + 1, &end, 1);
  if (root && !duplicate_key(root)) {
    double t[3] = {0, 0, 0};
    (void)check_cert(root, NULL, 0, t);
  }
  cJSON_Delete(root);
  free(txt);
  return 0;
}
