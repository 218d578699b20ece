/* linalg.c - the single place that calls cblas_sgemm. */
#include "linalg.h"

#include <cblas.h>

void
gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha,
    const float *a, int lda, const float *b, int ldb, float beta, float *c,
    int ldc)
{
	if (m <= 0 || n <= 0)
		return;
	cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
	    transpose_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
	    ldb, beta, c, ldc);
}

void
linear(float *out, const float *x, const float *w, int n, int d_in, int d_out,
    float beta)
{
	gemm(false, true, n, d_out, d_in, 1.0f, x, d_in, w, d_in, beta, out,
	    d_out);
}

void
linalg_set_threads(int n)
{
	if (n > 0)
		openblas_set_num_threads(n);
}
