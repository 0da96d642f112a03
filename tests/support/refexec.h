/* refexec.h - test support: a straightforward double-precision reference of every op
 * (plain loops, no shared code with runtime/kernels/) and a whole-graph double interpreter. */
#ifndef TL_TEST_REFEXEC_H
#define TL_TEST_REFEXEC_H
#include <stdint.h>

#include "torchlean/graph.h"

/* out = op(in) in double for node n of g.  training/seed/step as in tl_exec_opts (dropout, bn).
 * Returns 0, or -1 for an op it does not know. */
int ref_node(const tl_graph *g, int id, int training, uint64_t seed, uint64_t step, double *const *in,
             double *out);
/* Evaluate every node of g in double; inputs[i] holds the value of g->inputs[i]; params come
 * from g->weights unless override_param >= 0, whose values come from pvals instead.  vals[id]
 * are malloc'ed (caller frees with ref_free_vals). */
double **ref_graph(const tl_graph *g, double *const *inputs, int override_param, const double *pvals,
                   int training, uint64_t seed, uint64_t step);
void ref_free_vals(const tl_graph *g, double **vals);
#endif
