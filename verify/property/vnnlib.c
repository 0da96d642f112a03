/* vnnlib.c - entry points of the VNN-LIB reader: read the file, parse (parse.c), DNF (dnf.c),
 * boxes and properties (build.c); and tl_vnnlib_free. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vn_internal.h"

tl_code tl_vnnlib_parse_buffer(const char *text, size_t n, const char *name, tl_vnnlib **out, tl_status *st) {
  *out = NULL;
  vn_parser P;
  memset(&P, 0, sizeof P);
  P.name = name ? name : "<vnnlib>", P.st = st;
  if (!text && n)
    return tl_fail(st, TL_EARG, "%s: no text", P.name);
  tl_code c = vn_parse(&P, text ? text : "", n);
  if (c == TL_OK) {
    vn_dnf d;
    c = vn_dnf_build(&P, &d);
    if (c == TL_OK)
      c = vn_build(&P, &d, out);
    vn_dnf_free(&d);
  }
  vn_parser_free(&P);
  return c;
}

tl_code tl_vnnlib_parse_file(const char *path, tl_vnnlib **out, tl_status *st) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return tl_fail(st, TL_EIO, "%s: cannot open: %s", path, strerror(errno));
  size_t n = 0, cap = 1 << 16;
  char *buf = malloc(cap);
  while (buf) { /* read to the end (pipes have no size) */
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    char *nb = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
    if (!nb)
      free(buf);
    buf = nb, cap *= 2;
  }
  int err = buf ? ferror(f) : 0;
  fclose(f);
  if (!buf)
    return tl_fail(st, TL_ENOMEM, "%s: out of memory", path);
  if (err) {
    free(buf);
    return tl_fail(st, TL_EIO, "%s: read error", path);
  }
  tl_code c = tl_vnnlib_parse_buffer(buf, n, path, out, st);
  free(buf);
  return c;
}

void tl_vnnlib_free(tl_vnnlib *v) {
  if (!v)
    return;
  for (int i = 0; v->boxes && i < v->nboxes; i++) {
    free(v->boxes[i].lo), free(v->boxes[i].hi);
    tl_property_free(v->boxes[i].prop);
  }
  free(v->boxes);
  tl_vnnlib_exact *e = v->exact;
  if (e) {
    for (int i = 0; i < e->natoms; i++)
      vn_atom_clear(&e->atoms[i]);
    free(e->atoms);
    for (int i = 0; i < e->nboxes; i++)
      vn_xbox_clear(&e->box[i]);
    free(e->box);
    free(e);
  }
  free(v);
}
