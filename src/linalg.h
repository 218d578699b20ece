/*
 * linalg.h - the one wrapper around BLAS, and small vector kernels.
 *
 * Every matrix product in duo goes through gemm(), a row-major
 * cblas_sgemm.  tests/test_linalg.c checks it against a naive loop on
 * non-square, transposed and strided shapes.  gemm() may be called
 * from any number of threads at once (see linalg.c).
 */
#ifndef DUO_LINALG_H
#define DUO_LINALG_H

#include <stdbool.h>

/*
 * C (m, n) = alpha * op(A) (m, k) * op(B) (k, n) + beta * C, row-major,
 * op(X) = X or X^T; lda, ldb, ldc are the row strides of the stored arrays.
 */
void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha,
    const float *a, int lda, const float *b, int ldb, float beta, float *c,
    int ldc);

/*
 * The common case: out (n, d_out) = x (n, d_in) * w^T, with w stored as
 * (d_out, d_in) like every GGUF weight; beta = 1 accumulates into out.
 */
void linear(float *out, const float *x, const float *w, int n, int d_in,
    int d_out, float beta);

/*
 * 1 when the BLAS library cannot be trusted with two calls at once (an
 * OpenBLAS built without threads), so that gemm() takes every product
 * under one lock; 0 otherwise (linalg.c, doc/design.md section 13).
 */
bool linalg_serialized(void);

/* Number of BLAS threads to use (0 keeps the library's default). */
void linalg_set_threads(int n);

/*
 * Around work whose own threads each run products: one BLAS thread per
 * product meanwhile, and afterwards the count that was in force before,
 * however such sections of several threads overlap.
 */
void linalg_workers_begin(void);
void linalg_workers_end(void);

#endif
