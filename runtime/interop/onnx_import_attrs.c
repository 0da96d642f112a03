/* interop/onnx_import_attrs.c - typed access to ONNX node attributes; a wrong type or a reference
 * to a function attribute is refused naming the node. */
#include <stdio.h>
#include <string.h>

#include "interop/onnx_internal.h"

const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name) {
  for (size_t i = 0; i < n->n_attribute; i++)
    if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
      return n->attribute[i];
  return NULL;
}

/* the attribute, checked to be of type `type` (or NULL when absent) */
static tl_code typed(ox_ctx *c, const Onnx__NodeProto *n, const char *name, int type,
                     const Onnx__AttributeProto **out) {
  const Onnx__AttributeProto *a = ox_attr(n, name);
  *out = NULL;
  if (!a)
    return TL_OK;
  if (a->ref_attr_name && a->ref_attr_name[0])
    return ox_fail(c, n, TL_EUNSUPPORTED, "attribute '%s' refers to a function attribute", name);
  if (a->has_type && (int)a->type != type)
    return ox_fail(c, n, TL_EFORMAT, "attribute '%s' has type %d, expected %d", name, (int)a->type, type);
  *out = a;
  return TL_OK;
}

tl_code ox_attr_int(ox_ctx *c, const Onnx__NodeProto *n, const char *name, int64_t def, int64_t *out) {
  const Onnx__AttributeProto *a;
  TL_TRY(typed(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, &a));
  *out = a ? a->i : def;
  return TL_OK;
}

tl_code ox_attr_float(ox_ctx *c, const Onnx__NodeProto *n, const char *name, float def, float *out) {
  const Onnx__AttributeProto *a;
  TL_TRY(typed(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, &a));
  *out = a ? a->f : def;
  return TL_OK;
}

tl_code ox_attr_ints(ox_ctx *c, const Onnx__NodeProto *n, const char *name, const int64_t **out, int *len) {
  const Onnx__AttributeProto *a;
  TL_TRY(typed(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, &a));
  *out = a ? a->ints : NULL;
  *len = a ? (int)(a->n_ints > 64 ? 65 : a->n_ints) : -1;
  if (a && a->n_ints > 64)
    return ox_fail(c, n, TL_EUNSUPPORTED, "attribute '%s' lists %zu integers", name, a->n_ints);
  return TL_OK;
}

tl_code ox_attr_str(ox_ctx *c, const Onnx__NodeProto *n, const char *name, const char *def, char *buf,
                    size_t cap) {
  const Onnx__AttributeProto *a;
  TL_TRY(typed(c, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, &a));
  if (!a) {
    snprintf(buf, cap, "%s", def);
    return TL_OK;
  }
  size_t len = a->has_s ? a->s.len : 0;
  if (len >= cap || (len && memchr(a->s.data, 0, len)))
    return ox_fail(c, n, TL_EUNSUPPORTED, "attribute '%s': unexpected string value", name);
  if (len)
    memcpy(buf, a->s.data, len);
  buf[len] = '\0';
  return TL_OK;
}

tl_code ox_attr_absent(ox_ctx *c, const Onnx__NodeProto *n, const char *name) {
  if (ox_attr(n, name))
    return ox_fail(c, n, TL_EUNSUPPORTED, "attribute '%s' is not supported", name);
  return TL_OK;
}
