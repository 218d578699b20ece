/*
 * test_linalg.c - gemm() against a naive triple loop on non-square,
 * transposed and strided shapes.
 *
 * Tolerance: 1e-4 relative to the sum of |a||b| terms of each entry; the
 * naive loop accumulates in double, sgemm in float over at most 300 terms,
 * whose rounding error is below k * 2^-24 ~ 2e-5 of that sum.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "linalg.h"

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

static float
random_uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (float)((rng_state >> 11) * 0x1.0p-53) * 2.0f - 1.0f;
}

static int
check_case(int ta, int tb, int m, int n, int k, float alpha, float beta,
    int pad)
{
	/* Stored shapes: A is (m, k) or (k, m); B is (k, n) or (n, k). */
	int a_rows = ta ? k : m, a_cols = ta ? m : k;
	int b_rows = tb ? n : k, b_cols = tb ? k : n;
	int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
	float *a = malloc(sizeof *a * (size_t)a_rows * (size_t)lda);
	float *b = malloc(sizeof *b * (size_t)b_rows * (size_t)ldb);
	float *c = malloc(sizeof *c * (size_t)m * (size_t)ldc);
	float *c0 = malloc(sizeof *c0 * (size_t)m * (size_t)ldc);
	double worst = 0;
	int i, j, p, failed = 0;

	for (i = 0; i < a_rows * lda; i++)
		a[i] = random_uniform();
	for (i = 0; i < b_rows * ldb; i++)
		b[i] = random_uniform();
	for (i = 0; i < m * ldc; i++)
		c[i] = c0[i] = random_uniform();
	gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	for (i = 0; i < m; i++) {
		for (j = 0; j < ldc; j++) {
			double sum = 0, scale = fabs(beta * c0[i * ldc + j]);
			double err;

			if (j >= n) {
				/* Padding between rows must be untouched. */
				if (c[i * ldc + j] != c0[i * ldc + j])
					failed = 1;
				continue;
			}
			for (p = 0; p < k; p++) {
				double x = ta ? a[p * lda + i] : a[i * lda + p];
				double y = tb ? b[j * ldb + p] : b[p * ldb + j];

				sum += x * y;
				scale += fabs(alpha * x * y);
			}
			sum = alpha * sum + beta * c0[i * ldc + j];
			err = fabs(sum - c[i * ldc + j]) / (scale + 1e-30);
			if (err > worst)
				worst = err;
		}
	}
	if (worst > 1e-4 || failed) {
		printf("FAIL gemm ta=%d tb=%d m=%d n=%d k=%d pad=%d: relative "
		    "error %.3g (tolerance 1e-4)%s\n", ta, tb, m, n, k, pad,
		    worst, failed ? ", padding overwritten" : "");
		failed = 1;
	}
	free(a);
	free(b);
	free(c);
	free(c0);
	return failed;
}

int
main(void)
{
	static const int shapes[][3] = {
		{ 1, 1, 1 }, { 3, 5, 7 }, { 17, 4, 33 }, { 64, 48, 40 },
		{ 5, 130, 9 }, { 128, 31, 300 }, { 2, 257, 64 },
	};
	int failures = 0, checks = 0, s, ta, tb, pad;

	for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)
		for (ta = 0; ta < 2; ta++)
			for (tb = 0; tb < 2; tb++)
				for (pad = 0; pad <= 3; pad += 3) {
					failures += check_case(ta, tb,
					    shapes[s][0], shapes[s][1],
					    shapes[s][2], 0.75f,
					    pad ? 1.0f : 0.0f, pad);
					checks++;
				}
	/* linear(): out = x w^T with w stored (d_out, d_in). */
	{
		float x[2 * 3] = { 1, 2, 3, 4, 5, 6 };
		float w[4 * 3] = { 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1 };
		float out[2 * 4];
		float expect[2 * 4] = { 1, 2, 3, 6, 4, 5, 6, 15 };
		int i;

		linear(out, x, w, 2, 3, 4, 0.0f);
		for (i = 0; i < 8; i++)
			if (out[i] != expect[i]) {
				printf("FAIL linear: out[%d] = %g, expected "
				    "%g (exact)\n", i, out[i], expect[i]);
				failures++;
				break;
			}
		checks++;
	}
	printf("linalg: %d of %d checks passed\n", checks - failures, checks);
	return failures == 0 ? 0 : 1;
}
