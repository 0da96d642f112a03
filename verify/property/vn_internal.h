/* vn_internal.h - private types of the VNN-LIB reader (verify/property/).
 *
 * Pipeline: lexer.c (tokens with line:col) -> parse.c (shift-reduce over an explicit stack: no
 * recursion, any nesting depth) building linear forms (linform.c), atoms (atoms.c) and a formula
 * tree -> dnf.c (disjunctive normal form, bottom-up in creation order, capped) -> build.c (one box
 * per distinct exact input box, rounded doubles, tl_property) -> exact.c (exact confirmation checks).
 *
 * Ownership: everything here belongs to the vn_parser (vn_parser_free) until build.c moves the atoms
 * it keeps into the tl_vnnlib_exact of the result.
 */
#ifndef TL_VN_INTERNAL_H
#define TL_VN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <gmp.h>

#include "torchlean/vnnlib.h"

#define VN_MAX_VAR_INDEX 10000000   /* X_i / Y_j with i, j below this */
#define VN_MAX_EXPONENT 100000      /* |e| of a scientific literal */
#define VN_MAX_TERMS 1000000        /* DNF terms */
#define VN_MAX_TERM_ATOMS 20000000L /* atom references summed over the DNF terms */
#define VN_MAX_DENSE (1L << 25)     /* doubles in the boxes (nboxes * n) and rows (nrows * m) */

/* ---- lexer ---------------------------------------------------------------------------------- */
typedef enum { VT_EOF = 0, VT_LP, VT_RP, VT_SYM, VT_NUM } vn_tok_kind;
typedef struct vn_tok {
  vn_tok_kind kind;
  const char *s; /* into the text, len bytes */
  size_t len;
  int line, col; /* 1-based; col counts bytes */
} vn_tok;
typedef struct vn_lex {
  const char *p, *end;
  int line, col;
} vn_lex;
/* errors: return nonzero and fill *t with the position and msg (static text) */
int vn_lex_next(vn_lex *L, vn_tok *t, const char **msg);
/* exact value of a numeric token: 0 ok, 1 malformed, 2 exponent beyond VN_MAX_EXPONENT */
int vn_number(const char *s, size_t len, mpq_t out);

/* ---- linear forms: value = scale * (k + sum c_i * v_i); v = 2*i for X_i, 2*j + 1 for Y_j ---- */
typedef struct vn_lin {
  mpq_t scale, k;
  int n, cap;
  int64_t *var;
  mpq_t *c;
} vn_lin;
vn_lin *vn_lin_new(void);
void vn_lin_free(vn_lin *a);
int vn_lin_push(vn_lin *a, int64_t var, const mpq_t c); /* a += c*var (before scale); 0 or -1 (memory) */
vn_lin *vn_lin_add(vn_lin *a, vn_lin *b, int sign);     /* a + sign*b, consumes both; NULL: memory */
void vn_lin_scale(vn_lin *a, const mpq_t q);            /* a *= q */
int vn_lin_canon(vn_lin *a); /* scale 1, vars sorted and distinct, no zero coefficient; -1: memory */
vn_lin *vn_lin_copy(const vn_lin *a);

/* ---- atoms (after classification) ------------------------------------------------------------ */
typedef struct vn_atom {
  int out;    /* 0: input bound x_var <= b (upper) / x_var >= b; 1: output row sum c.y <= d */
  int strict; /* < instead of <= */
  int var;    /* input: the variable */
  int upper;  /* input: 1 for an upper bound */
  mpq_t b;    /* input: the bound; output: d */
  int nnz;    /* output: nonzeros */
  int *yvar;  /* output: Y indices, sorted */
  mpq_t *c;   /* output: coefficients (each exactly a binary64) */
  int line, col;
} vn_atom;
void vn_atom_clear(vn_atom *a);

/* ---- formula tree ------------------------------------------------------------------------- */
typedef enum { VN_TRUE = 0, VN_FALSE, VN_ATOM, VN_AND, VN_OR } vn_node_kind;
typedef struct vn_node {
  vn_node_kind kind;
  int atom;  /* VN_ATOM */
  int nkids; /* VN_AND / VN_OR: children kids[kid0 .. kid0 + nkids) */
  size_t kid0;
  int line, col;
} vn_node;

/* ---- parser --------------------------------------------------------------------------------- */
typedef enum { VI_OPEN = 0, VI_SYM, VI_LIN, VI_FORM, VI_EMPTY, VI_DONE } vn_item_kind;
typedef struct vn_item {
  vn_item_kind kind;
  int line, col;
  const char *s; /* VI_SYM */
  size_t len;
  vn_lin *lin; /* VI_LIN (owned by the item) */
  int node;    /* VI_FORM */
} vn_item;

typedef struct vn_parser {
  const char *name;
  tl_status *st;
  vn_lex lex;
  vn_item *stk;
  size_t nstk, capstk;
  size_t *opens; /* stack indices of the VI_OPEN items */
  size_t nopen, capopen;
  unsigned char *decl[2]; /* decl[0][i]: X_i declared; decl[1][j]: Y_j */
  int64_t ndecl[2], maxdecl[2], capdecl[2];
  int lastdecl_line[2], lastdecl_col[2];
  vn_node *nodes;
  int nnodes;
  size_t capnodes;
  int *kids;
  size_t nkids, capkids;
  vn_atom *atoms;
  int natoms;
  size_t capatoms;
  int *roots; /* the asserted formulas */
  int nroots;
  size_t caproots;
  int eof_line, eof_col;
} vn_parser;

tl_code vn_err(vn_parser *P, tl_code code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void vn_parser_free(vn_parser *P);
/* grow *arr (of *cap elements of size sz) to hold need elements; -1 on overflow or memory */
int vn_grow(void **arr, size_t *cap, size_t need, size_t sz);
tl_code vn_parse(vn_parser *P, const char *text, size_t n);
/* reduce a closed list items[0..n) (items[0] is its head); pushes the result (parse_list.c) */
tl_code vn_reduce(vn_parser *P, vn_item *it, size_t n, int depth, vn_item *res);
/* a new formula node; -1 on memory failure */
int vn_node_add(vn_parser *P, vn_node_kind kind, int atom, const int *kids, int nkids, int line, int col);
/* classify lhs OP rhs (strict: <, else <=) into a formula node (atom, TRUE or FALSE): consumes lin */
tl_code vn_atom_make(vn_parser *P, vn_lin *lhs_minus_rhs, int strict, int line, int col, int *node);

/* ---- DNF ------------------------------------------------------------------------------------ */
typedef struct vn_term {
  int n, cap;
  int *atom;
} vn_term;
typedef struct vn_dnf {
  int nterms, cap;
  long natoms; /* sum of the terms' sizes */
  vn_term *t;
} vn_dnf;
void vn_dnf_free(vn_dnf *d);
/* DNF of the conjunction of P->roots (owned by the caller) */
tl_code vn_dnf_build(vn_parser *P, vn_dnf *out);

/* ---- the exact form kept in the result ---------------------------------------------------- */
typedef struct vn_xbox {
  int nb; /* bounded variables, sorted */
  int *var;
  mpq_t *lo, *hi;       /* valid where has_lo / has_hi */
  unsigned char *flags; /* VN_HAS_LO | VN_LO_STRICT | VN_HAS_HI | VN_HI_STRICT */
  uint64_t hash;
  int nclauses;
  int *clause_start; /* nclauses + 1 offsets into row */
  int nrows, caprows, capclauses;
  int *row; /* atom indices into tl_vnnlib_exact.atoms, -1: the always-true row 0.y <= 0 */
} vn_xbox;
#define VN_HAS_LO 1
#define VN_LO_STRICT 2
#define VN_HAS_HI 4
#define VN_HI_STRICT 8

struct tl_vnnlib_exact {
  int natoms;
  vn_atom *atoms; /* the output rows (input atoms are cleared) */
  int nboxes;
  vn_xbox *box;
};
void vn_xbox_clear(vn_xbox *b);
/* the exact box of one term (boxes.c); -1 on memory failure */
int vn_term_box(const vn_parser *P, const vn_term *t, vn_xbox *b);
/* one box per distinct exact box, with the clauses of its terms; -1 on memory failure (the boxes
 * made so far are still returned, for the caller to clear) */
int vn_group(const vn_parser *P, const vn_dnf *d, vn_xbox **boxes, int *nboxes);
tl_code vn_build(vn_parser *P, vn_dnf *d, tl_vnnlib **out);
double vn_round_down(const mpq_t q);
double vn_round_up(const mpq_t q);
int vn_q_is_double(const mpq_t q, double *d); /* q exactly a finite binary64 (then *d = q) */

#endif
