/* data/io_internal.h - private helpers shared by the data-file readers and writers (byte order). */
#ifndef TORCHLEAN_IO_INTERNAL_H
#define TORCHLEAN_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 1 when this machine stores integers least significant byte first. */
static inline int tl_io_host_little(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

/* Reverse the bytes of each of the n elements of `size` bytes at p (size 1: nothing to do). */
static inline void tl_io_swap_bytes(void *p, size_t n, size_t size) {
  unsigned char *b = p;
  if (size < 2)
    return;
  for (size_t i = 0; i < n; i++, b += size)
    for (size_t lo = 0, hi = size - 1; lo < hi; lo++, hi--) {
      unsigned char t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
}

static inline uint32_t tl_io_load_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint32_t tl_io_load_le32(const unsigned char *p) {
  return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | (uint32_t)p[0];
}
static inline uint16_t tl_io_load_le16(const unsigned char *p) {
  return (uint16_t)((unsigned)p[1] << 8 | (unsigned)p[0]);
}

#endif
