/* base/status.c - tl_status: error codes and messages that name the place of failure. */
#include "torchlean/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tl_status_clear(tl_status *st) {
  if (!st)
    return;
  st->code = TL_OK;
  st->msg[0] = '\0';
}

tl_code tl_fail(tl_status *st, tl_code code, const char *fmt, ...) {
  if (!st)
    return code;
  st->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->msg, sizeof st->msg, fmt, ap);
  va_end(ap);
  return code;
}

tl_code tl_status_prefix(tl_status *st, const char *fmt, ...) {
  if (!st)
    return TL_OK;
  char head[TL_STATUS_MSG_MAX / 2];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  size_t hl = strlen(head), ml = strlen(st->msg);
  if (hl + ml >= sizeof st->msg)
    ml = sizeof st->msg - 1 - hl; /* head is < 1024 bytes, so ml stays >= 0 */
  memmove(st->msg + hl, st->msg, ml);
  memcpy(st->msg, head, hl);
  st->msg[hl + ml] = '\0';
  return st->code;
}

const char *tl_code_name(tl_code code) {
  switch (code) {
  case TL_OK: return "ok";
  case TL_EIO: return "io";
  case TL_EFORMAT: return "format";
  case TL_ESHAPE: return "shape";
  case TL_EVALUE: return "value";
  case TL_ENOMEM: return "nomem";
  case TL_EUNSUPPORTED: return "unsupported";
  case TL_EDOMAIN: return "domain";
  case TL_EARG: return "argument";
  }
  return "unknown";
}

_Noreturn void tl_assert_fail(const char *file, int line, const char *expr) {
  fprintf(stderr, "torchlean: internal invariant broken at %s:%d: %s\n", file, line, expr);
  abort();
}
