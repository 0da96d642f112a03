/* status.h - the error model of TorchLean.
 *
 * Every recoverable failure returns a tl_code other than TL_OK and, when the caller passed a
 * tl_status, writes a message into it that names the place where it went wrong (file and
 * byte/row/column, field, or graph node).  The library never exits or aborts on bad input;
 * TL_ASSERT is only for broken internal invariants.
 *
 * Ownership: tl_status is a plain value owned by the caller (stack or struct member); it holds
 * no heap memory.  Passing NULL for a tl_status is allowed everywhere: the code is still returned.
 */
#ifndef TORCHLEAN_STATUS_H
#define TORCHLEAN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_code {
  TL_OK = 0,
  TL_EIO,          /* the operating system refused: open, read, write, rename */
  TL_EFORMAT,      /* malformed input file or document */
  TL_ESHAPE,       /* shapes that do not fit together */
  TL_EVALUE,       /* a value out of its allowed range */
  TL_ENOMEM,       /* allocation failed or a size would overflow */
  TL_EUNSUPPORTED, /* valid, but not something this build handles */
  TL_EDOMAIN,      /* a mathematical domain error (log of <= 0, division by an interval holding 0) */
  TL_EARG          /* a caller passed a bad argument */
} tl_code;

#define TL_STATUS_MSG_MAX 1024

typedef struct tl_status {
  tl_code code;
  char msg[TL_STATUS_MSG_MAX];
} tl_status;

/* Reset st to TL_OK with an empty message.  st may be NULL. */
void tl_status_clear(tl_status *st);

/* Record a failure: st->code = code, st->msg = printf(fmt, ...).  Returns code, so callers write
 * `return tl_fail(st, TL_EFORMAT, "%s: byte %zu: bad magic", path, off);`.  st may be NULL. */
tl_code tl_fail(tl_status *st, tl_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Put printf(fmt, ...) in front of the existing message (adds context such as a file name).
 * Returns st->code.  st may be NULL. */
tl_code tl_status_prefix(tl_status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short stable name of a code ("ok", "io", "format", ...).  Never NULL. */
const char *tl_code_name(tl_code code);

/* Broken invariant (a bug in TorchLean, never bad input): print where and abort. */
_Noreturn void tl_assert_fail(const char *file, int line, const char *expr);
#define TL_ASSERT(cond) ((cond) ? (void)0 : tl_assert_fail(__FILE__, __LINE__, #cond))

/* Propagate a failure: evaluate expr (a tl_code) and return it from the caller when not TL_OK. */
#define TL_TRY(expr)                                                                                         \
  do {                                                                                                       \
    tl_code tl_try_code_ = (expr);                                                                           \
    if (tl_try_code_ != TL_OK)                                                                               \
      return tl_try_code_;                                                                                   \
  } while (0)

#ifdef __cplusplus
}
#endif
#endif
