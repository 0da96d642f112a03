/* interop/onnx_import_pad.c - Slice and Pad of run-time values.
 *   Slice: y = x[start:end:step] per listed axis (ONNX clamping), one IR slice per axis (step > 0).
 *   Pad (mode "constant"): y = concat(block(b, value), x, block(e, value)) along each padded axis,
 *   negative pads crop first (slices): pure data movement plus constant blocks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_internal.h"

/* an int64 list given as attribute (before opset `from`) or as constant input k; *len -1 if absent */
static tl_code int_list(ox_ctx *c, const Onnx__NodeProto *n, int64_t from, size_t k, const char *attr,
                        int64_t *out, int *len) {
  *len = -1;
  if (c->opset < from) {
    const int64_t *a;
    int l;
    TL_TRY(ox_attr_ints(c, n, attr, &a, &l));
    if (l > 2 * OX_MAXDIM)
      return ox_fail(c, n, TL_EUNSUPPORTED, "'%s' lists %d values", attr, l);
    if (l > 0)
      memcpy(out, a, (size_t)l * sizeof *out);
    *len = l;
    return TL_OK;
  }
  ox_value *v = NULL;
  TL_TRY(ox_input(c, n, k, &v));
  if (!v)
    return TL_OK;
  if (!v->c || v->c->dt != OX_I64 || v->c->ndim > 1 || v->c->numel > 2 * OX_MAXDIM)
    return ox_fail(c, n, TL_EUNSUPPORTED, "'%s' ('%.200s') is not a short int64 constant", attr, v->name);
  for (int64_t j = 0; j < v->c->numel; j++)
    out[j] = v->c->i[j];
  *len = (int)v->c->numel;
  return TL_OK;
}

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

/* ONNX: negative start/end count from the end; then clamped to [0, d] (step > 0) or to [0, d-1] and
 * [-1, d-1] (step < 0) */
static void one_range(int64_t d, int64_t s, int64_t e, int64_t st, int64_t *start, int64_t *count) {
  if (s < 0)
    s += d;
  if (e < 0)
    e += d;
  if (st > 0) {
    s = clamp64(s, 0, d), e = clamp64(e, 0, d);
    *count = e > s ? (e - s - 1) / st + 1 : 0;
  } else {
    s = clamp64(s, 0, d - 1), e = clamp64(e, -1, d - 1);
    *count = s > e && d > 0 ? (s - e - 1) / (-st) + 1 : 0;
  }
  *start = *count ? s : 0;
}

tl_code ox_slice_ranges(ox_ctx *c, const Onnx__NodeProto *n, int r, const int64_t *shape, int64_t *start,
                        int64_t *step, int64_t *count) {
  int64_t s[2 * OX_MAXDIM], e[2 * OX_MAXDIM], ax[2 * OX_MAXDIM], st[2 * OX_MAXDIM];
  int ns, ne, na, nst;
  TL_TRY(int_list(c, n, 10, 1, "starts", s, &ns));
  TL_TRY(int_list(c, n, 10, 2, "ends", e, &ne));
  TL_TRY(int_list(c, n, 10, 3, "axes", ax, &na));
  TL_TRY(int_list(c, n, 10, 4, "steps", st, &nst));
  if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns) || ns > r)
    return ox_fail(c, n, TL_EFORMAT, "starts, ends, axes and steps of different lengths");
  for (int k = 0; k < r; k++)
    start[k] = 0, step[k] = 1, count[k] = shape[k];
  unsigned seen = 0;
  for (int j = 0; j < ns; j++) {
    int64_t a = na >= 0 ? ax[j] : j, t = nst >= 0 ? st[j] : 1;
    a = a < 0 ? a + r : a;
    if (a < 0 || a >= r || (seen >> a & 1u))
      return ox_fail(c, n, TL_EFORMAT, "slice axis %lld out of range or repeated",
                     (long long)(na >= 0 ? ax[j] : j));
    if (t == 0 || t == INT64_MIN)
      return ox_fail(c, n, TL_EFORMAT, "slice step %lld", (long long)t);
    seen |= 1u << a;
    step[a] = t;
    one_range(shape[a], s[j], e[j], t, &start[a], &count[a]);
  }
  return TL_OK;
}

/* y = x[start : start + count*step : step] on each axis that changes */
tl_code ox_map_slice(ox_ctx *c, const Onnx__NodeProto *n) {
  int x;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  int r = c->g->nodes[x].ndim;
  int64_t shape[OX_MAXDIM], start[OX_MAXDIM], step[OX_MAXDIM], count[OX_MAXDIM];
  memcpy(shape, c->g->nodes[x].shape, (size_t)r * sizeof *shape);
  TL_TRY(ox_slice_ranges(c, n, r, shape, start, step, count));
  for (int k = 0; k < r; k++) {
    if (start[k] == 0 && step[k] == 1 && count[k] == shape[k])
      continue;
    if (step[k] < 0)
      return ox_fail(c, n, TL_EUNSUPPORTED, "Slice with a negative step on a run-time value");
    tl_attrs a = tl_attrs_default(TL_OP_SLICE);
    a.axis = k, a.start = start[k], a.step = step[k];
    a.end = count[k] ? start[k] + (count[k] - 1) * step[k] + 1 : start[k];
    TL_TRY(ox_op(c, TL_OP_SLICE, 1, &x, &a, &x));
  }
  return ox_bind_node(c, n, 0, x);
}

/* pads (2 per padded axis: all begins, then all ends), the fill value and the padded axes */
static tl_code pad_args(ox_ctx *c, const Onnx__NodeProto *n, int r, int64_t *pads, float *value,
                        int64_t *axes, int *na) {
  char mode[32];
  TL_TRY(ox_attr_str(c, n, "mode", "constant", mode, sizeof mode));
  if (strcmp(mode, "constant") != 0)
    return ox_fail(c, n, TL_EUNSUPPORTED, "Pad mode '%s' (only constant)", mode);
  int np;
  TL_TRY(int_list(c, n, 11, 1, "pads", pads, &np));
  TL_TRY(int_list(c, n, 18, 3, "axes", axes, na));
  if (*na < 0) {
    *na = r;
    for (int k = 0; k < r; k++)
      axes[k] = k;
  }
  if (np != 2 * *na)
    return ox_fail(c, n, TL_EFORMAT, "%d pads for %d axes", np, *na);
  if (c->opset < 11)
    return ox_attr_float(c, n, "value", 0.0f, value);
  ox_value *v = NULL;
  TL_TRY(ox_input(c, n, 2, &v));
  *value = 0.0f;
  if (v && (!v->c || v->c->dt != OX_F32 || v->c->numel != 1))
    return ox_fail(c, n, TL_EUNSUPPORTED, "Pad value is not a float constant scalar");
  if (v)
    *value = v->c->f[0];
  return TL_OK;
}

/* a constant block shaped like node x with `len` entries along axis, filled with value */
static tl_code pad_block(ox_ctx *c, int x, int axis, int64_t len, float value, int *id) {
  const tl_node *xn = &c->g->nodes[x];
  int64_t shape[OX_MAXDIM];
  memcpy(shape, xn->shape, (size_t)xn->ndim * sizeof *shape);
  shape[axis] = len;
  ox_tensor *t = NULL;
  TL_TRY(ox_tensor_new(OX_F32, xn->ndim, shape, &t, c->st));
  for (int64_t e = 0; e < t->numel; e++)
    t->f[e] = value;
  tl_code rc = ox_param(c, "pad_value", TL_PARAM_CONSTANT, t, id);
  ox_tensor_free(t);
  return rc;
}

tl_code ox_map_pad(ox_ctx *c, const Onnx__NodeProto *n) {
  int x;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  int r = c->g->nodes[x].ndim, na;
  int64_t pads[2 * OX_MAXDIM], axes[2 * OX_MAXDIM];
  float value;
  unsigned seen = 0;
  TL_TRY(pad_args(c, n, r, pads, &value, axes, &na));
  for (int j = 0; j < na; j++) {
    int64_t a = axes[j] < 0 ? axes[j] + r : axes[j], b = pads[j], e = pads[na + j];
    if (a < 0 || a >= r || (seen >> a & 1u))
      return ox_fail(c, n, TL_EFORMAT, "pad axis %lld out of range or repeated", (long long)axes[j]);
    seen |= 1u << a;
    int64_t d = c->g->nodes[x].shape[a];
    if ((b < 0 && -b > d) || (e < 0 && -e > d) || (b < 0 && e < 0 && -b - e > d))
      return ox_fail(c, n, TL_ESHAPE, "pads %lld, %lld crop more than the %lld entries", (long long)b,
                     (long long)e, (long long)d);
    if (b < 0 || e < 0) { /* crop: x[max(-b,0) : d - max(-e,0)] */
      tl_attrs s = tl_attrs_default(TL_OP_SLICE);
      s.axis = a, s.start = b < 0 ? -b : 0, s.end = d - (e < 0 ? -e : 0), s.step = 1;
      TL_TRY(ox_op(c, TL_OP_SLICE, 1, &x, &s, &x));
    }
    int p[3], k = 0;
    if (b > 0)
      TL_TRY(pad_block(c, x, (int)a, b, value, &p[k++]));
    p[k++] = x;
    if (e > 0)
      TL_TRY(pad_block(c, x, (int)a, e, value, &p[k++]));
    if (k > 1) {
      tl_attrs ca = tl_attrs_default(TL_OP_CONCAT);
      ca.axis = a;
      TL_TRY(ox_op(c, TL_OP_CONCAT, k, p, &ca, &x));
    }
  }
  return ox_bind_node(c, n, 0, x);
}
