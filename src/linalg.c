/*
 * linalg.c - the single place that calls cblas_sgemm, and so the place
 * that answers for calling it from several threads at once.
 *
 * duo calls gemm() concurrently by design: the OpenMP workers of the
 * oracle, the trainer's validation and the router trainer each run their
 * own products, and the browser runs top-5 predictions on one thread
 * while an analysis runs on another (doc/design.md section 13).  That is
 * safe when OpenBLAS was built with threads (openblas_get_parallel() 1,
 * pthreads, as Debian 12's libopenblas0-pthread; or 2, OpenMP): its
 * buffers are taken under a lock, and a product split over its own
 * threads holds a lock of its own while it does.  A build without
 * threads (0) locks its buffers only if it was also built with
 * USE_LOCKING, which it cannot be asked about; with such a library, and
 * only then, every product is taken under one mutex here.  Products
 * stay the same numbers either way: each runs whole, on its own output.
 */
#include "linalg.h"

#include <cblas.h>
#include <pthread.h>

static pthread_once_t judged = PTHREAD_ONCE_INIT;
static bool serialize;
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;

/* Decide, once, whether the library may be entered by two threads. */
static void
judge_library(void)
{
	serialize = openblas_get_parallel() == 0;
}

bool
linalg_serialized(void)
{
	pthread_once(&judged, judge_library);
	return serialize;
}

void
gemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha,
    const float *a, int lda, const float *b, int ldb, float beta, float *c,
    int ldc)
{
	bool locked;

	if (m <= 0 || n <= 0)
		return;
	if ((locked = linalg_serialized()))
		pthread_mutex_lock(&blas_lock);
	cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
	    transpose_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
	    ldb, beta, c, ldc);
	if (locked)
		pthread_mutex_unlock(&blas_lock);
}

void
linear(float *out, const float *x, const float *w, int n, int d_in, int d_out,
    float beta)
{
	gemm(false, true, n, d_out, d_in, 1.0f, x, d_in, w, d_in, beta, out,
	    d_out);
}

/*
 * The count is the library's, for the whole process.  A product another
 * thread starts meanwhile only runs on more or fewer threads (OpenBLAS
 * grows its pool under a lock), but its last bits may differ: OpenBLAS
 * blocks a product differently on one thread and on two.
 */
void
linalg_set_threads(int n)
{
	if (n > 0)
		openblas_set_num_threads(n);
}

/* Sections of code whose own workers run products, and the count that
 * was in force before the first of them began. */
static pthread_mutex_t workers_lock = PTHREAD_MUTEX_INITIALIZER;
static int workers_sections, threads_before;

void
linalg_workers_begin(void)
{
	pthread_mutex_lock(&workers_lock);
	if (workers_sections++ == 0) {
		threads_before = openblas_get_num_threads();
		openblas_set_num_threads(1);
	}
	pthread_mutex_unlock(&workers_lock);
}

void
linalg_workers_end(void)
{
	pthread_mutex_lock(&workers_lock);
	if (workers_sections > 0 && --workers_sections == 0)
		openblas_set_num_threads(threads_before);
	pthread_mutex_unlock(&workers_lock);
}
