/*
 * memory.c — the malloc-based allocator, error reporting and the bump
 * allocator the model and trainer carve their single allocation with.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn_internal.h"

/* nn_allocator callback: zeroed memory from calloc */
static void *
malloc_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return calloc(1, size ? size : 1);
}

/* nn_allocator callback: free */
static void
malloc_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

const nn_allocator nn_malloc_allocator = {malloc_alloc, malloc_free, NULL};

/* set err (may be NULL) to code and a formatted message; returns code */
int
nn_fail(nn_error *err, int code, const char *fmt,...)
{
	va_list		ap;

	if (err)
	{
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

/*
 * A 64-byte aligned piece of bytes from the arena (NULL for 0 bytes or in a
 * dry run); the block itself must be 64-byte aligned and zeroed.
 */
void *
nn_arena_take(nn_arena *a, size_t bytes)
{
	void	   *p;

	if (bytes == 0)
		return NULL;
	p = a->base ? a->base + a->used : NULL;
	a->used += (bytes + 63) & ~(size_t) 63;
	return p;
}
