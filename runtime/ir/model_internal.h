/* ir/model_internal.h - private helpers shared by ir_json.c, model_file.c and summary.c. */
#ifndef TL_MODEL_INTERNAL_H
#define TL_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "torchlean/graph.h"
#include "torchlean/status.h"

/* A growing NUL-terminated string; `oom` records a failed allocation (later appends no-op).
 * The caller owns p and frees it. */
typedef struct tl_sb {
  char *p;
  size_t n, cap;
  int oom;
} tl_sb;

void tl_sb_put(tl_sb *b, const char *s, size_t len);
void tl_sb_puts(tl_sb *b, const char *s);
void tl_sb_printf(tl_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal (quotes and escapes included). */
void tl_sb_json_str(tl_sb *b, const char *s);

/* Read IR JSON; messages are not prefixed with a file name.  max_weights >= 0 bounds the total
 * number of parameter elements (checked before anything is allocated); -1: no bound. */
tl_code tl_ir_json_read_bounded(const char *json, size_t len, int64_t max_weights, tl_graph **out,
                                tl_status *st);

/* Parse a whole JSON document of len bytes (trailing whitespace allowed).  On a syntax error
 * the message gives line, column and byte offset.  Caller frees *out with cJSON_Delete. */
tl_code tl_json_parse(const char *json, size_t len, cJSON **out, tl_status *st);
/* Fail unless every key of obj is in `allowed` (NULL-terminated) and no key repeats. */
tl_code tl_json_check_keys(const cJSON *obj, const char *const *allowed, const char *where, tl_status *st);
/* An integral JSON number in [lo, hi] (|x| <= 2^53). */
tl_code tl_json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out, const char *where,
                    const char *field, tl_status *st);

#endif
