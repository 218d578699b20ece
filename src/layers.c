/*
 * layers.c - the layer kernels (layers.h): exponentials with SSE2 and AVX2
 * paths, embedding, RMSNorm, linear, RoPE, attention, routed rows, SwiGLU
 * and cross-entropy, forward and backward, under one OpenMP policy.
 *
 * Shapes in comments use the letters of layers.h's legend.  Every matrix
 * product goes through gemm() (linalg.h).  No floating-point sum here
 * depends on thread scheduling: a loop split over threads either writes
 * independent rows or sums into one partial per fixed piece, added in
 * piece order, which the trainer's bit-identical resumption needs.
 */
#include "layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "linalg.h"

/* Products of fewer multiply-adds than this are not split over threads. */
#define PARALLEL_MIN_GEMM (1 << 18)

/* --- the OpenMP policy ------------------------------------------------- */

/*
 * The inference path's elementwise loops run on the OpenMP team only when
 * its idle threads sleep (OMP_WAIT_POLICY=passive).  By default an idle
 * OpenMP worker spins for milliseconds after each loop, on a core that
 * OpenBLAS's threads (or, with BLAS on one thread, the next product itself
 * on a busy machine) need; on two cores that made the whole pass two to
 * four times slower than doing these loops, about a tenth of the work, on
 * one thread.
 */
bool
parallel_elementwise_pays(void)
{
	const char *policy = getenv("OMP_WAIT_POLICY");

	return policy != NULL && strcasecmp(policy, "passive") == 0;
}

int
parallel_thread_count(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

int
parallel_thread_id(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

/* --- exponentials ------------------------------------------------------ */

/*
 * The softmaxes, the SwiGLU gates and the losses take a few million
 * exponentials per window of 256, with libm's scalar expf a fifth of the
 * time of the whole pass; these kernels do four at a time with SSE2 (part
 * of every x86-64) by the classic reduction exp(x) = 2^n exp(r),
 * |r| <= ln2/2, and a degree-6 polynomial: relative error below 2e-7.
 * Inputs are clamped to [-87, 88], so exp(-1000) gives 1.6e-38, not 0,
 * which no sum here can tell apart; NaN stays NaN.  Where the processor
 * has AVX2 and FMA (checked at run time), eight at a time: the same steps
 * with fused multiply-adds, which halves the time again.
 */
#if defined(__SSE2__)
#include <emmintrin.h>

static inline __m128
exp4(__m128 x)
{
	const __m128 magic = _mm_set1_ps(12582912.0f);   /* 1.5 * 2^23 */
	__m128 n, r, p;
	__m128i e;

	x = _mm_min_ps(_mm_set1_ps(88.0f), _mm_max_ps(_mm_set1_ps(-87.0f), x));
	/* n = round(x / ln2), by the float-addition rounding trick */
	n = _mm_sub_ps(_mm_add_ps(_mm_mul_ps(x,
	    _mm_set1_ps(1.44269504088896341f)), magic), magic);
	/* r = x - n ln2, ln2 split in two for the precision of r */
	r = _mm_sub_ps(x, _mm_mul_ps(n, _mm_set1_ps(0.693359375f)));
	r = _mm_add_ps(r, _mm_mul_ps(n, _mm_set1_ps(2.12194440e-4f)));
	p = _mm_set1_ps(1.9875691500e-4f);
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.3981999507e-3f));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(8.3334519073e-3f));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(4.1665795894e-2f));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.6666665459e-1f));
	p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(5.0000001201e-1f));
	p = _mm_add_ps(_mm_mul_ps(_mm_mul_ps(p, r), r), r);
	p = _mm_add_ps(p, _mm_set1_ps(1.0f));
	/* 2^n built in the exponent field; n is in [-126, 127] */
	e = _mm_slli_epi32(_mm_add_epi32(_mm_cvtps_epi32(n),
	    _mm_set1_epi32(127)), 23);
	return _mm_mul_ps(p, _mm_castsi128_ps(e));
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define HAVE_AVX2_KERNELS 1
#define AVX2_FMA __attribute__((target("avx2,fma")))

static inline AVX2_FMA __m256
exp8(__m256 x)
{
	const __m256 magic = _mm256_set1_ps(12582912.0f);
	__m256 n, r, p;
	__m256i e;

	x = _mm256_min_ps(_mm256_set1_ps(88.0f),
	    _mm256_max_ps(_mm256_set1_ps(-87.0f), x));
	n = _mm256_sub_ps(_mm256_fmadd_ps(x,
	    _mm256_set1_ps(1.44269504088896341f), magic), magic);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
	p = _mm256_set1_ps(1.9875691500e-4f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
	p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r);
	p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
	e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
	    _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* exp_shifted over the first n - n % 8 values; returns their sum. */
static AVX2_FMA double
exp_shifted_avx2(float *out, const float *x, float shift, int n)
{
	__m256d total = _mm256_setzero_pd();
	__m256 e;
	__m128d half;
	int i;

	for (i = 0; i + 8 <= n; i += 8) {
		e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i),
		    _mm256_set1_ps(shift)));
		_mm256_storeu_ps(out + i, e);
		total = _mm256_add_pd(total,
		    _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
		total = _mm256_add_pd(total,
		    _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
	}
	half = _mm_add_pd(_mm256_castpd256_pd128(total),
	    _mm256_extractf128_pd(total, 1));
	return _mm_cvtsd_f64(half) + _mm_cvtsd_f64(_mm_unpackhi_pd(half, half));
}

/* silu_mul over the first n - n % 8 values. */
static AVX2_FMA void
silu_mul_avx2(float *g, const float *u, int n)
{
	__m256 x;
	int i;

	for (i = 0; i + 8 <= n; i += 8) {
		x = _mm256_loadu_ps(g + i);
		_mm256_storeu_ps(g + i, _mm256_div_ps(_mm256_mul_ps(x,
		    _mm256_loadu_ps(u + i)), _mm256_add_ps(
		    _mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(
		    _mm256_setzero_ps(), x)))));
	}
}

static bool
have_avx2_fma(void)
{
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

/* The largest of n >= 1 values. */
float
row_max(const float *x, int n)
{
	float max = x[0];
	int i = 1;
#if defined(__SSE2__)
	__m128 m;

	if (n >= 4) {
		m = _mm_loadu_ps(x);
		for (i = 4; i + 4 <= n; i += 4)
			m = _mm_max_ps(m, _mm_loadu_ps(x + i));
		m = _mm_max_ps(m, _mm_movehl_ps(m, m));
		m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
		max = _mm_cvtss_f32(m);
	}
#endif
	for (; i < n; i++)
		max = x[i] > max ? x[i] : max;
	return max;
}

/* out[i] = exp(x[i] - shift) for n values; returns their sum, added up
 * in double. out may be x. */
double
exp_shifted(float *out, const float *x, float shift, int n)
{
	double sum = 0.0;
	int i = 0;
#if defined(__SSE2__)
	__m128d total = _mm_setzero_pd();
	__m128 e;

#if defined(HAVE_AVX2_KERNELS)
	if (have_avx2_fma()) {
		sum = exp_shifted_avx2(out, x, shift, n);
		i = n - n % 8;
	}
#endif
	for (; i + 4 <= n; i += 4) {
		e = exp4(_mm_sub_ps(_mm_loadu_ps(x + i), _mm_set1_ps(shift)));
		_mm_storeu_ps(out + i, e);
		total = _mm_add_pd(total, _mm_cvtps_pd(e));
		total = _mm_add_pd(total, _mm_cvtps_pd(_mm_movehl_ps(e, e)));
	}
	sum += _mm_cvtsd_f64(total) +
	    _mm_cvtsd_f64(_mm_unpackhi_pd(total, total));
#endif
	for (; i < n; i++) {
		out[i] = expf(x[i] - shift);
		sum += out[i];
	}
	return sum;
}

/* g[i] = silu(g[i]) * u[i] = g u / (1 + exp(-g)) for n values. */
void
silu_mul(float *g, const float *u, int n)
{
	int i = 0;
#if defined(__SSE2__)
	__m128 x;

#if defined(HAVE_AVX2_KERNELS)
	if (have_avx2_fma()) {
		silu_mul_avx2(g, u, n);
		i = n - n % 8;
	}
#endif
	for (; i + 4 <= n; i += 4) {
		x = _mm_loadu_ps(g + i);
		_mm_storeu_ps(g + i, _mm_div_ps(_mm_mul_ps(x,
		    _mm_loadu_ps(u + i)), _mm_add_ps(_mm_set1_ps(1.0f),
		    exp4(_mm_sub_ps(_mm_setzero_ps(), x)))));
	}
#endif
	for (; i < n; i++)
		g[i] = g[i] * u[i] / (1.0f + expf(-g[i]));
}

/*
 * The training kernels' exponential: e^x without a library call, so that
 * the loops it sits in (sigmoid, softmax) vectorise whole: x = k ln 2
 * + r with |r| <= ln 2 / 2 (ln 2 split in two for exactness), e^r by its
 * Taylor polynomial to degree 7 (truncation below 1e-8), times 2^k built
 * in the exponent bits.  Relative error below 1e-7 on [-87, 88]; below
 * that the result is 0, above it stays finite (2^127 p).  The clamps are
 * on the integer k: float comparisons would keep the loop from being
 * vectorised under the default -ftrapping-math.
 */
static inline float
exp_fast(float x)
{
	float k, r, p, scale;
	int32_t e;

	/* round to nearest by adding and removing 1.5 * 2^23 */
	k = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
	r = x - k * 0.693145752f - k * 1.42860677e-6f;
	p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f +
	    r * (4.16666679e-2f + r * (8.33333377e-3f + r * (1.38888892e-3f +
	    r * 1.98412701e-4f))))));
	e = (int32_t)k;
	e = e < -127 ? -127 : e;
	e = e > 127 ? 127 : e;
	e = (e + 127) << 23;        /* -127 gives the bits of 0.0f */
	memcpy(&scale, &e, sizeof scale);
	return p * scale;
}

/* --- products split over threads --------------------------------------- */

/* Boundary p of parts equal pieces of n, on multiples of 16 (whole SIMD
 * panels) except the last. */
static int
split_point(int n, int parts, int p)
{
	long b;

	if (p >= parts)
		return n;
	b = ((long)n * p / parts + 15) / 16 * 16;
	return b > n ? n : (int)b;
}

/*
 * gemm() with the rows of C (or its columns, when there are more of them)
 * cut into pieces shared out among the threads; each piece is an
 * independent product, so the result does not depend on which thread runs
 * which piece.  Two pieces a thread, taken as threads come free, keep a
 * thread that lost its core to another process from holding up the rest.
 */
static void
parallel_gemm(bool transpose_a, bool transpose_b, int m, int n, int k,
    float alpha, const float *a, int lda, const float *b, int ldb, float beta,
    float *c, int ldc)
{
	int threads = parallel_thread_count(), parts = 2 * threads, p;

	if (threads < 2 || (double)m * n * k < PARALLEL_MIN_GEMM) {
		gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb,
		    beta, c, ldc);
		return;
	}
	if (m >= n) {
		PARALLEL_FOR_DYNAMIC(1)
		for (p = 0; p < parts; p++) {
			int m0 = split_point(m, parts, p);
			int m1 = split_point(m, parts, p + 1);
			const float *ap = transpose_a ? a + m0 :
			    a + (size_t)m0 * lda;

			gemm(transpose_a, transpose_b, m1 - m0, n, k, alpha, ap,
			    lda, b, ldb, beta, c + (size_t)m0 * ldc, ldc);
		}
	} else {
		PARALLEL_FOR_DYNAMIC(1)
		for (p = 0; p < parts; p++) {
			int n0 = split_point(n, parts, p);
			int n1 = split_point(n, parts, p + 1);
			const float *bp = transpose_b ? b + (size_t)n0 * ldb :
			    b + n0;

			gemm(transpose_a, transpose_b, m, n1 - n0, k, alpha, a,
			    lda, bp, ldb, beta, c + n0, ldc);
		}
	}
}

/* --- embedding --------------------------------------------------------- */

void
embedding_forward(float *out, const int32_t *tokens, const float *embedding,
    int R, int C, bool parallel)
{
	int r;

	PARALLEL_FOR(parallel, (size_t)R * C)
	for (r = 0; r < R; r++)
		memcpy(out + (size_t)r * C, embedding + (size_t)tokens[r] * C,
		    (size_t)C * sizeof *out);
}

void
embedding_backward(float *dembedding, const float *dout,
    const int32_t *tokens, int R, int C)
{
	int parts = parallel_thread_count(), p;

	/* Threads own column ranges, so rows of the same token never race
	 * and every sum runs in row order. */
	PARALLEL_FOR(true, (size_t)R * C)
	for (p = 0; p < parts; p++) {
		int c0 = (int)((long)C * p / parts);
		int c1 = (int)((long)C * (p + 1) / parts), r, i;

		for (r = 0; r < R; r++) {
			float *d = dembedding + (size_t)tokens[r] * C;
			const float *g = dout + (size_t)r * C;

			for (i = c0; i < c1; i++)
				d[i] += g[i];
		}
	}
}

/* --- RMSNorm ----------------------------------------------------------- */

void
rmsnorm_forward(float *out, float *rstd, const float *x, const float *w,
    int R, int C, float eps, bool parallel)
{
	int r;

	PARALLEL_FOR(parallel, (size_t)R * C)
	for (r = 0; r < R; r++) {
		const float *row = x + (size_t)r * C;
		float *o = out + (size_t)r * C, sum = 0.0f, s;
		int i;

		SIMD_SUM(sum)
		for (i = 0; i < C; i++)
			sum += row[i] * row[i];
		s = 1.0f / sqrtf(sum / (float)C + eps);
		SIMD
		for (i = 0; i < C; i++)
			o[i] = row[i] * s * w[i];
		if (rstd != NULL)
			rstd[r] = s;
	}
}

/*
 * y = w x s, s = (mean(x^2) + eps)^(-1/2), so
 * dx = s (w dy - x s^2 mean(w dy x)) and dw = sum over rows of dy x s.
 */
void
rmsnorm_backward(float *dx, float *dw, float *partial, const float *dout,
    const float *x, const float *w, const float *rstd, int R, int C)
{
	int parts = parallel_thread_count(), p;

	memset(partial, 0, (size_t)parts * C * sizeof *partial);
	/* Each thread sums its rows' dw into its own partial row; the
	 * partials are then added in thread order. */
	PARALLEL_FOR(true, (size_t)R * C)
	for (p = 0; p < parts; p++) {
		int r0 = (int)((long)R * p / parts);
		int r1 = (int)((long)R * (p + 1) / parts), r, i;
		float *pw = partial + (size_t)p * C;

		for (r = r0; r < r1; r++) {
			const float *xr = x + (size_t)r * C;
			const float *g = dout + (size_t)r * C;
			float *d = dx + (size_t)r * C, s = rstd[r], dot = 0.0f;

			SIMD_SUM(dot)
			for (i = 0; i < C; i++)
				dot += w[i] * g[i] * xr[i];
			dot *= s * s / (float)C;
			SIMD
			for (i = 0; i < C; i++) {
				d[i] += s * (w[i] * g[i] - xr[i] * dot);
				pw[i] += g[i] * xr[i] * s;
			}
		}
	}
	for (p = 0; p < parts && dw != NULL; p++) {
		int i;

		for (i = 0; i < C; i++)
			dw[i] += partial[(size_t)p * C + i];
	}
}

/* --- linear ------------------------------------------------------------ */

void
linear_forward(float *out, const float *x, const float *w, int R, int in,
    int out_dim, float beta)
{
	parallel_gemm(false, true, R, out_dim, in, 1.0f, x, in, w, in, beta,
	    out, out_dim);
}

void
linear_backward(float *dx, float *dw, const float *dout, const float *x,
    const float *w, int R, int in, int out_dim)
{
	/* dw (O, I) += dout^T (O, R) x (R, I), first, so dx may alias x;
	 * a frozen layer (a router's training) passes no dw */
	if (dw != NULL)
		parallel_gemm(true, false, out_dim, in, R, 1.0f, dout, out_dim,
		    x, in, 1.0f, dw, in);
	/* dx (R, I) = dout (R, O) w (O, I) */
	if (dx != NULL)
		parallel_gemm(false, false, R, in, out_dim, 1.0f, dout, out_dim,
		    w, in, 0.0f, dx, in);
}

/* --- RoPE -------------------------------------------------------------- */

void
rope_tables(float *cos_table, float *sin_table, int N, int D, float base)
{
	size_t half = (size_t)D / 2, i, p;
	double frequency, angle;

	for (i = 0; i < half; i++) {
		frequency = pow((double)base, -2.0 * (double)i /
		    (double)(2 * half));
		for (p = 0; p < (size_t)N; p++) {
			angle = (double)p * frequency;
			cos_table[p * half + i] = (float)cos(angle);
			sin_table[p * half + i] = (float)sin(angle);
		}
	}
}

/* Rotate by +angle (direction 1) or -angle (direction -1). */
static void
rope_rotate(float *x, int R, int T, int start, int width, int stride, int D,
    const float *cos_table, const float *sin_table, float direction,
    bool parallel)
{
	int r, half = D / 2;

	PARALLEL_FOR(parallel, (size_t)R * width)
	for (r = 0; r < R; r++) {
		const float *c = cos_table + (size_t)(start + r % T) * half;
		const float *s = sin_table + (size_t)(start + r % T) * half;
		float *row = x + (size_t)r * stride, x0, x1, sn;
		int h, i;

		for (h = 0; h < width; h += D)
			for (i = 0; i < half; i++) {
				sn = direction * s[i];
				x0 = row[h + 2 * i];
				x1 = row[h + 2 * i + 1];
				row[h + 2 * i] = x0 * c[i] - x1 * sn;
				row[h + 2 * i + 1] = x0 * sn + x1 * c[i];
			}
	}
}

void
rope_forward(float *x, int R, int T, int start, int width, int stride, int D,
    const float *cos_table, const float *sin_table, bool parallel)
{
	rope_rotate(x, R, T, start, width, stride, D, cos_table, sin_table,
	    1.0f, parallel);
}

/* The rotation is orthogonal: its gradient is the inverse rotation. */
void
rope_backward(float *dx, int R, int T, int width, int stride, int D,
    const float *cos_table, const float *sin_table)
{
	rope_rotate(dx, R, T, 0, width, stride, D, cos_table, sin_table,
	    -1.0f, true);
}

/* --- attention --------------------------------------------------------- */

/*
 * Unnormalised softmax over the first visible entries of each row of
 * scores (n, P), row i seeing first_visible + i entries: exp(s - max),
 * and 1 / sum in inverse_sums[i].  The masked rest is set to 0 so that the
 * product with the values may run over all P columns; the division by the
 * sum is left for that product's (n, D) result, which is smaller.
 */
static void
softmax_causal(float *scores, float *inverse_sums, int n, int P,
    int first_visible, bool parallel)
{
	int i;

	PARALLEL_FOR(parallel, (size_t)n * (size_t)P)
	for (i = 0; i < n; i++) {
		float *row = scores + (size_t)i * P;
		int visible = first_visible + i;

		inverse_sums[i] = (float)(1.0 / exp_shifted(row, row,
		    row_max(row, visible), visible));
		memset(row + visible, 0, (size_t)(P - visible) * sizeof *row);
	}
}

void
attention_kv_forward(float *out, const float *q, const float *k,
    const float *v, float *scores, float *inverse_sums, int T, int start,
    int C, int H, bool parallel)
{
	int D = C / H, h, t0, rows, keys, i, j;
	float scale = 1.0f / sqrtf((float)D), *o;

	for (h = 0; h < H; h++) {
		for (t0 = 0; t0 < T; t0 += ATTENTION_BLOCK) {
			rows = T - t0 < ATTENTION_BLOCK ? T - t0 :
			    ATTENTION_BLOCK;
			keys = start + t0 + rows;
			/* scores (rows, keys) = q_h k_h^T / sqrt(D) */
			gemm(false, true, rows, keys, D, scale,
			    q + (size_t)t0 * 3 * C + (size_t)h * D, 3 * C,
			    k + (size_t)h * D, C, 0.0f, scores, keys);
			softmax_causal(scores, inverse_sums, rows, keys,
			    start + t0 + 1, parallel);
			/* out_h (rows, D) = scores (rows, keys) v_h (keys, D) */
			o = out + (size_t)t0 * C + (size_t)h * D;
			gemm(false, false, rows, D, keys, 1.0f, scores, keys,
			    v + (size_t)h * D, C, 0.0f, o, C);
			for (i = 0; i < rows; i++) {
				SIMD
				for (j = 0; j < D; j++)
					o[(size_t)i * C + j] *= inverse_sums[i];
			}
		}
	}
}

/* Softmax of rows t0 .. t0+rows-1 of p (T, T) over their first t+1
 * columns; the rest of each row is set to 0. */
static void
softmax_causal_rows(float *p, int t0, int rows, int T)
{
	int i, j;

	for (i = 0; i < rows; i++) {
		float *row = p + (size_t)(t0 + i) * T, max, sum = 0.0f, inv;
		int visible = t0 + i + 1;

		max = row[0];
		SIMD_MAX(max)
		for (j = 1; j < visible; j++)
			max = row[j] > max ? row[j] : max;
		SIMD_SUM(sum)
		for (j = 0; j < visible; j++) {
			row[j] = exp_fast(row[j] - max);
			sum += row[j];
		}
		inv = 1.0f / sum;
		SIMD
		for (j = 0; j < visible; j++)
			row[j] *= inv;
		for (j = visible; j < T; j++)
			row[j] = 0.0f;
	}
}

void
attention_forward(float *out, float *probs, const float *qkv, int M, int T,
    int C, int H)
{
	int D = C / H, C3 = 3 * C, bh;
	float scale = 1.0f / sqrtf((float)D);

	PARALLEL_FOR_DYNAMIC((double)M * H * T * T * D >= PARALLEL_MIN_GEMM)
	for (bh = 0; bh < M * H; bh++) {
		int b = bh / H, h = bh % H, t0, rows, keys;
		const float *q = qkv + (size_t)b * T * C3 + (size_t)h * D;
		const float *k = q + C, *v = q + 2 * C;
		float *p = probs + (size_t)bh * T * T;
		float *y = out + (size_t)b * T * C + (size_t)h * D;

		for (t0 = 0; t0 < T; t0 += ATTENTION_BLOCK) {
			rows = T - t0 < ATTENTION_BLOCK ? T - t0 :
			    ATTENTION_BLOCK;
			keys = t0 + rows;
			/* p[t0.., :keys] (rows, keys) = q k^T / sqrt(D) */
			gemm(false, true, rows, keys, D, scale,
			    q + (size_t)t0 * C3, C3, k, C3, 0.0f,
			    p + (size_t)t0 * T, T);
			softmax_causal_rows(p, t0, rows, T);
			/* y[t0..] (rows, D) = p[t0.., :keys] v[:keys] */
			gemm(false, false, rows, D, keys, 1.0f,
			    p + (size_t)t0 * T, T, v, C3, 0.0f,
			    y + (size_t)t0 * C, C);
		}
	}
}

/*
 * With P = softmax(S), S = q k^T / sqrt(D), y = P v:
 * dP = dy v^T, dv = P^T dy, dS = P * (dP - rowsum(P * dP)),
 * dq = dS k / sqrt(D), dk = dS^T q / sqrt(D); block by block of queries.
 */
void
attention_backward(float *dqkv, float *dprobs, const float *dout,
    const float *qkv, const float *probs, int M, int T, int C, int H)
{
	int D = C / H, C3 = 3 * C, bh;
	int block = T < ATTENTION_BLOCK ? T : ATTENTION_BLOCK;
	float scale = 1.0f / sqrtf((float)D);

	PARALLEL_FOR_DYNAMIC((double)M * H * T * T * D >= PARALLEL_MIN_GEMM)
	for (bh = 0; bh < M * H; bh++) {
		int b = bh / H, h = bh % H, t0, rows, keys, i, j;
		size_t base = (size_t)b * T * C3 + (size_t)h * D;
		const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
		float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
		const float *p = probs + (size_t)bh * T * T;
		const float *dy = dout + (size_t)b * T * C + (size_t)h * D;
		float *dp = dprobs + (size_t)parallel_thread_id() * block * T;

		for (i = 0; i < T; i++) {
			memset(dk + (size_t)i * C3, 0, (size_t)D * sizeof *dk);
			memset(dv + (size_t)i * C3, 0, (size_t)D * sizeof *dv);
		}
		for (t0 = 0; t0 < T; t0 += ATTENTION_BLOCK) {
			const float *pb = p + (size_t)t0 * T;

			rows = T - t0 < ATTENTION_BLOCK ? T - t0 :
			    ATTENTION_BLOCK;
			keys = t0 + rows;
			/* dp (rows, keys) = dy[t0..] (rows, D) v^T */
			gemm(false, true, rows, keys, D, 1.0f,
			    dy + (size_t)t0 * C, C, v, C3, 0.0f, dp, keys);
			/* dv[:keys] (keys, D) += p^T (keys, rows) dy[t0..] */
			gemm(true, false, keys, D, rows, 1.0f, pb, T,
			    dy + (size_t)t0 * C, C, 1.0f, dv, C3);
			for (i = 0; i < rows; i++) {
				const float *pr = pb + (size_t)i * T;
				float *dr = dp + (size_t)i * keys, dot = 0.0f;
				int visible = t0 + i + 1;

				SIMD_SUM(dot)
				for (j = 0; j < visible; j++)
					dot += pr[j] * dr[j];
				SIMD
				for (j = 0; j < visible; j++)
					dr[j] = pr[j] * (dr[j] - dot) * scale;
				for (j = visible; j < keys; j++)
					dr[j] = 0.0f;
			}
			/* dq[t0..] (rows, D) = ds (rows, keys) k[:keys] */
			gemm(false, false, rows, D, keys, 1.0f, dp, keys, k, C3,
			    0.0f, dq + (size_t)t0 * C3, C3);
			/* dk[:keys] (keys, D) += ds^T (keys, rows) q[t0..] */
			gemm(true, false, keys, D, rows, 1.0f, dp, keys,
			    q + (size_t)t0 * C3, C3, 1.0f, dk, C3);
		}
	}
}

/* --- routed rows and SwiGLU -------------------------------------------- */

static inline float
sigmoid(float x)
{
	return 1.0f / (1.0f + exp_fast(-x));
}

void
rows_gather(float *out, const float *x, const int *rows, int n, int C,
    bool parallel)
{
	int i;

	PARALLEL_FOR(parallel, (size_t)n * C)
	for (i = 0; i < n; i++)
		memcpy(out + (size_t)i * C, x + (size_t)rows[i] * C,
		    (size_t)C * sizeof *out);
}

void
rows_scatter_add(float *x, const float *y, const int *rows, int n, int C,
    bool parallel)
{
	int i;

	PARALLEL_FOR(parallel, (size_t)n * C)
	for (i = 0; i < n; i++) {
		float *dst = x + (size_t)rows[i] * C;
		const float *src = y + (size_t)i * C;
		int j;

		SIMD
		for (j = 0; j < C; j++)
			dst[j] += src[j];
	}
}

void
swiglu_forward(float *gate_up, int n, int I, bool parallel)
{
	int t;

	PARALLEL_FOR(parallel, (size_t)n * (size_t)I)
	for (t = 0; t < n; t++) {
		float *g = gate_up + (size_t)t * 2 * I;

		silu_mul(g, g + I, I);
	}
}

void
ffn_module_forward(float *out, float beta, const float *x, int n,
    const float *w_gate_up, const float *w_down, int C, int I,
    float *gate_up, bool parallel)
{
	/* gate_up (n, 2I) = x (n, C) [gate; up]^T */
	linear(gate_up, x, w_gate_up, n, C, 2 * I, 0.0f);
	swiglu_forward(gate_up, n, I, parallel);
	/* out (n, C) = beta out + h (n, I) down^T, h with row stride 2I */
	gemm(false, true, n, C, I, 1.0f, gate_up, 2 * I, w_down, I, beta, out,
	    C);
}

void
ffn_forward(float *out, float *gate_up, const float *x, const int *rows,
    int n, const float *w_gate_up, const float *w_down, int C, int I,
    struct ffn_scratch *scratch)
{
	float *xg = scratch->gathered, *h = scratch->hidden;
	float *y = scratch->module_out;
	int i;

	if (n == 0)
		return;
	rows_gather(xg, x, rows, n, C, true);
	/* gate_up (n, 2I) = xg (n, C) [gate; up]^T */
	linear_forward(gate_up, xg, w_gate_up, n, C, 2 * I, 0.0f);
	/* h (n, I) = silu(gate) * up */
	PARALLEL_FOR(true, (size_t)n * I)
	for (i = 0; i < n; i++) {
		const float *g = gate_up + (size_t)i * 2 * I, *u = g + I;
		float *hr = h + (size_t)i * I;
		int j;

		SIMD
		for (j = 0; j < I; j++)
			hr[j] = g[j] * sigmoid(g[j]) * u[j];
	}
	/* y (n, C) = h w_down^T */
	linear_forward(y, h, w_down, n, I, C, 0.0f);
	rows_scatter_add(out, y, rows, n, C, true);
}

/*
 * With h = silu(g) u: dh = dy w_down, dg = dh u silu'(g),
 * du = dh silu(g), silu'(g) = sig(g) (1 + g (1 - sig(g))).
 */
void
ffn_backward(float *dx, float *dw_gate_up, float *dw_down, const float *dout,
    const float *x, const int *rows, int n, const float *gate_up,
    const float *w_gate_up, const float *w_down, int C, int I,
    struct ffn_scratch *scratch)
{
	float *xg = scratch->gathered, *dy = scratch->module_out;
	float *h = scratch->hidden, *dgu = scratch->dgate_up;
	int i;

	if (n == 0)
		return;
	rows_gather(dy, dout, rows, n, C, true);
	rows_gather(xg, x, rows, n, C, true);
	/* h again, and sig(gate) parked where dgate will go */
	PARALLEL_FOR(true, (size_t)n * I)
	for (i = 0; i < n; i++) {
		const float *g = gate_up + (size_t)i * 2 * I, *u = g + I;
		float *hr = h + (size_t)i * I, *sg = dgu + (size_t)i * 2 * I;
		int j;

		SIMD
		for (j = 0; j < I; j++) {
			sg[j] = sigmoid(g[j]);
			hr[j] = g[j] * sg[j] * u[j];
		}
	}
	/* dw_down (C, I) += dy^T h; then h is reused for dh (n, I) */
	linear_backward(h, dw_down, dy, h, w_down, n, I, C);
	PARALLEL_FOR(true, (size_t)n * I)
	for (i = 0; i < n; i++) {
		const float *g = gate_up + (size_t)i * 2 * I, *u = g + I;
		const float *dh = h + (size_t)i * I;
		float *dg = dgu + (size_t)i * 2 * I, *du = dg + I;
		int j;

		SIMD
		for (j = 0; j < I; j++) {
			float s = dg[j];

			dg[j] = dh[j] * u[j] * s * (1.0f + g[j] * (1.0f - s));
			du[j] = dh[j] * g[j] * s;
		}
	}
	/* dxg (n, C) = dgu (n, 2I) [gate; up]; dw_gate_up += dgu^T xg */
	linear_backward(dy, dw_gate_up, dgu, xg, w_gate_up, n, C, 2 * I);
	PARALLEL_FOR(true, (size_t)n * C)
	for (i = 0; i < n; i++)
		memcpy(dx + (size_t)rows[i] * C, dy + (size_t)i * C,
		    (size_t)C * sizeof *dx);
}

/* --- cross-entropy ----------------------------------------------------- */

/* Exponentials of a logits row are summed through a stack buffer of this
 * many floats. */
#define LOSS_CHUNK 256

float
crossentropy_row(const float *logits, int V, int32_t target)
{
	float max = row_max(logits, V), chunk[LOSS_CHUNK];
	double sum = 0.0;
	int i, n;

	for (i = 0; i < V; i += n) {
		n = V - i < LOSS_CHUNK ? V - i : LOSS_CHUNK;
		sum += exp_shifted(chunk, logits + i, max, n);
	}
	return (float)(log(sum) + (double)max - (double)logits[target]);
}

void
crossentropy_forward(float *losses, float *logits, const int32_t *targets,
    int R, int V)
{
	int r;

	PARALLEL_FOR(true, (size_t)R * V)
	for (r = 0; r < R; r++) {
		float *row = logits + (size_t)r * V, max = row[0], sum = 0.0f;
		float inv, target;
		int i;

		SIMD_MAX(max)
		for (i = 1; i < V; i++)
			max = row[i] > max ? row[i] : max;
		target = row[targets[r]] - max;
		SIMD_SUM(sum)
		for (i = 0; i < V; i++) {
			row[i] = exp_fast(row[i] - max);
			sum += row[i];
		}
		inv = 1.0f / sum;
		SIMD
		for (i = 0; i < V; i++)
			row[i] *= inv;
		/* -log p from the logit itself, exact even for a tiny p */
		losses[r] = logf(sum) - target;
	}
}

void
crossentropy_backward(float *probs, const int32_t *targets, int R, int V,
    float scale)
{
	int r;

	PARALLEL_FOR(true, (size_t)R * V)
	for (r = 0; r < R; r++) {
		float *row = probs + (size_t)r * V;
		int i;

		row[targets[r]] -= 1.0f;
		SIMD
		for (i = 0; i < V; i++)
			row[i] *= scale;
	}
}
