/*
 * tap.h — minimal TAP producer for the standalone C tests of src/nn/.
 * Each test program prints "ok N - name" / "not ok N - name" lines and a
 * final plan; its exit status is the number of failures (capped at 255).
 */
#ifndef ANIMEREC_TAP_H
#define ANIMEREC_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int tap_count = 0;
static int tap_failed = 0;

/* record one assertion */
static inline int
tap_ok(int cond, const char *fmt, ...)
{
	va_list		ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

/* |got - want| <= tol, with both values in the message */
#define tap_near(got, want, tol, name) \
	tap_ok(fabs((double) (got) - (double) (want)) <= (tol), "%s (got %.9g, want %.9g, tol %.3g)", \
		   (name), (double) (got), (double) (want), (double) (tol))

/* print the plan and return the exit status */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed > 255 ? 255 : tap_failed;
}

#endif
