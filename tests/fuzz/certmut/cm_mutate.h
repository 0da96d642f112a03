/* cm_mutate.h - the mutator's private tools (mutate_util.c) */
#ifndef TL_CERTMUT_MUTATE_H
#define TL_CERTMUT_MUTATE_H

#include "cm.h"

int mu_is_num(const cJSON *j); /* a number string (hex float, "p/q", "inf") */
int mu_is_array(const cJSON *j);
int mu_is_object(const cJSON *j);
int mu_is_container(const cJSON *j); /* a non-empty array or object */
int mu_is_leaf(const cJSON *j);
/* a uniformly chosen node of root's subtree (root included) that satisfies pred, or NULL */
cJSON *mu_pick(cm_rng *r, cJSON *root, int (*pred)(const cJSON *));
void mu_set_str(cJSON *j, const char *s); /* j becomes the string s */
void mu_set_num(cJSON *j, double v);      /* j becomes the JSON number v */
void mu_set_hex(cJSON *j, double v);      /* j becomes the string "%a" of v ("inf", "-inf") */
double mu_value(const cJSON *j);          /* a number string's value, approximately */
/* one number edited: how is MK_ULP .. MK_HEXEDIT */
void mu_num_edit(cm_rng *r, cJSON *j, int how);
cJSON *mu_sample(cm_rng *r, cJSON *doc); /* a random sample of the document, or NULL */
void mu_drop(cJSON *arr, int k);
#endif
