/* nn/nn_internal.h - module plumbing shared by the nn layer, block and zoo files (private). */
#ifndef TL_NN_INTERNAL_H
#define TL_NN_INTERNAL_H

#include "torchlean/nn.h"

/* A new module owned by m (NULL after an error, which is recorded in m). */
tl_module *tl_nn_module_new(tl_model *m, const char *kind, tl_forward_fn fwd);
/* Append child to parent under the name cname; 0 on failure (recorded in m). */
int tl_nn_module_adopt(tl_model *m, tl_module *parent, tl_module *child, const char *cname);
/* New parameter of mod, initialised with scheme (a, b); returns its node id or -1. */
int tl_nn_param(tl_model *m, tl_module *mod, const char *local, tl_param_kind kind, int ndim,
                const int64_t *shape, tl_init init, double a, double b);

#endif
