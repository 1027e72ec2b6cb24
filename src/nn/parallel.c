/*
 * parallel.c — run a loop over rows on as many threads as OpenBLAS uses, for
 * the few elementwise passes that are large enough to matter beside the
 * GEMMs (the output layer's exponentials), and for batches of independent
 * rows whose own GEMMs are too small to share well between threads (the
 * users of a batch inference, in chunks each thread takes in turn).
 *
 * The helper threads live only inside one call: created, joined, gone, so
 * nothing outlives the caller's memory (an aborted PostgreSQL transaction
 * cannot leave a thread waiting on freed state).  They start with every
 * signal blocked, so signals keep going to the calling thread, and they
 * never call anything but fn (plain C and BLAS, never PostgreSQL).  glibc
 * reuses the stacks of joined threads.
 *
 * The one exception is an asynchronous job (nn_async_start): its thread
 * outlives the call that starts it, and the caller must wait for it
 * (nn_async_wait) before anything the job reads or writes goes away.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L	/* sigset_t, pthread_sigmask under -std=c11 */
#endif

#include "blas.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "nn_internal.h"

typedef struct rows_job
{
	nn_rows_fn	fn;
	void	   *ctx;
	int32_t		slice,
				r0,
				r1;
} rows_job;

/* pthread entry: run one job */
static void *
run_job(void *arg)
{
	rows_job   *j = arg;

	j->fn(j->ctx, j->slice, j->r0, j->r1);
	return NULL;
}

/*
 * Call fn(ctx, i, r0, r1) over n consecutive slices i = 0..n-1 covering
 * [0, rows), the first on the calling thread; a helper that cannot be
 * started has its slice run here.
 */
static void
run_slices(int32_t n, int32_t rows, nn_rows_fn fn, void *ctx)
{
	rows_job	jobs[NN_MAX_SLICES];
	pthread_t	th[NN_MAX_SLICES];
	bool		started[NN_MAX_SLICES];
	sigset_t	all,
				old;
	int32_t		i;

	if (n == 1)
	{
		fn(ctx, 0, 0, rows);
		return;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++)
	{
		jobs[i].fn = fn;
		jobs[i].ctx = ctx;
		jobs[i].slice = i;
		jobs[i].r0 = (int32_t) ((int64_t) rows * i / n);
		jobs[i].r1 = (int32_t) ((int64_t) rows * (i + 1) / n);
		started[i] = i > 0 && pthread_create(&th[i], NULL, run_job, &jobs[i]) == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (i = 0; i < n; i++)
		if (!started[i])
			run_job(&jobs[i]);
	for (i = 1; i < n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}

/* slices for rows over threads threads, none below min_rows rows */
static int32_t
slice_count(int32_t threads, int32_t rows, int32_t min_rows)
{
	int32_t		n = threads < 1 ? 1 : (threads > NN_MAX_SLICES ? NN_MAX_SLICES : threads);

	if (min_rows > 0 && n > rows / min_rows)
		n = rows / min_rows > 1 ? rows / min_rows : 1;
	return n;
}

/*
 * Call fn(ctx, i, r0, r1) over consecutive slices i covering [0, rows), one
 * slice per OpenBLAS thread (at most NN_MAX_SLICES), the first on the
 * calling thread.  Slices never go below min_rows rows.  fn must not depend
 * on how the rows are split; i lets it use its slice's own scratch.
 */
void
nn_parallel_rows(int32_t rows, int32_t min_rows, nn_rows_fn fn, void *ctx)
{
	run_slices(slice_count(nn_blas_threads(), rows, min_rows), rows, fn, ctx);
}

/*
 * Set c up to hand out the chunks [r0, r1) of chunk rows covering [0, rows)
 * to fn(ctx, slice, r0, r1), none taken yet.
 */
void
nn_chunks_init(nn_chunks *c, int32_t rows, int32_t chunk, nn_rows_fn fn, void *ctx)
{
	c->fn = fn;
	c->ctx = ctx;
	c->rows = rows;
	c->chunk = chunk < 1 ? 1 : chunk;
	c->first_slice = 0;
	atomic_init(&c->next, 0);
}

/*
 * Take c's next chunk and run it as thread slice slice, until none is left:
 * any number of threads may take chunks of c at once, each with a slice of
 * its own.
 */
void
nn_chunks_take(nn_chunks *c, int32_t slice)
{
	for (;;)
	{
		int32_t		c0 = atomic_fetch_add(&c->next, c->chunk);

		if (c0 >= c->rows)
			break;
		c->fn(c->ctx, slice, c0, c0 + c->chunk < c->rows ? c0 + c->chunk : c->rows);
	}
}

/* nn_rows_fn of nn_chunks_run's thread i: take chunks as slice first_slice + i */
static void
take_chunks(void *arg, int32_t slice, int32_t r0, int32_t r1)
{
	nn_chunks  *c = arg;

	(void) r0;
	(void) r1;
	nn_chunks_take(c, c->first_slice + slice);
}

/*
 * Take c's chunks on threads threads (at most NN_MAX_SLICES, the first the
 * calling one, no more than there are chunks) as slices first_slice,
 * first_slice + 1, ..., each thread taking the next chunk when it is done
 * with one: a thread slowed by another process on its core takes fewer
 * chunks instead of holding the others up at the end.  Returns when every
 * chunk has been taken and these threads' chunks are done (a chunk another
 * thread took through nn_chunks_take may still run).
 */
void
nn_chunks_run(nn_chunks *c, int32_t threads, int32_t first_slice)
{
	int32_t		chunks = (c->rows + c->chunk - 1) / c->chunk;

	c->first_slice = first_slice;
	run_slices(slice_count(threads, chunks, 1), c->rows, take_chunks, c);
}

/*
 * Leave the chunks of c that no thread has taken yet: the threads taking
 * them stop once the chunk in hand is done, and the rows of the chunks
 * left are never visited.
 */
void
nn_chunks_stop(nn_chunks *c)
{
	atomic_store(&c->next, c->rows);
}

/*
 * Call fn(ctx, i, r0, r1) over chunks [r0, r1) of chunk rows covering
 * [0, rows) on threads threads (nn_chunks_run, slices from 0).  For chunks
 * that call BLAS while OpenBLAS is set to one thread (the caller's duty).
 * fn must not depend on how the rows are split; i lets it use its thread's
 * own scratch.
 */
void
nn_parallel_chunks(int32_t threads, int32_t rows, int32_t chunk, nn_rows_fn fn, void *ctx)
{
	nn_chunks	c;

	nn_chunks_init(&c, rows, chunk, fn, ctx);
	nn_chunks_run(&c, threads, 0);
}

/* pthread entry of an asynchronous job */
static void *
run_async(void *arg)
{
	nn_async   *a = arg;

	a->fn(a->arg);
	return NULL;
}

/*
 * Start fn(arg) on a thread of its own (every signal blocked) and return at
 * once; false when no thread could be started (fn has not run).  The
 * caller must call nn_async_wait before anything fn uses goes away.
 */
bool
nn_async_start(nn_async *a, void (*fn) (void *), void *arg)
{
	sigset_t	all,
				old;

	a->fn = fn;
	a->arg = arg;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	a->running = pthread_create(&a->thread, NULL, run_async, a) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return a->running;
}

/* Wait until the job started by nn_async_start has ended (at once if none runs). */
void
nn_async_wait(nn_async *a)
{
	if (a->running)
		pthread_join(a->thread, NULL);
	a->running = false;
}
