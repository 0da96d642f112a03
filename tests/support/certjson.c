/* certjson.c - test support: certificate JSON files in and out (certjson.h). */
#include "certjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/io.h"

cJSON *tl_test_json_load(const char *path) {
  void *text;
  size_t len;
  tl_status st;
  if (tl_read_file(path, &text, &len, &st) != TL_OK) {
    fprintf(stderr, "test support: %s\n", st.msg);
    abort();
  }
  cJSON *j = cJSON_Parse(text); /* tl_read_file NUL-terminates */
  free(text);
  if (!j) {
    fprintf(stderr, "test support: %s: not JSON\n", path);
    abort();
  }
  return j;
}

void tl_test_json_save(const char *path, const cJSON *j) {
  char *t = cJSON_PrintUnformatted(j);
  tl_status st;
  if (!t || tl_write_file_atomic(path, t, strlen(t), &st) != TL_OK) {
    fprintf(stderr, "test support: %s: %s\n", path, t ? st.msg : "out of memory");
    abort();
  }
  free(t);
}
