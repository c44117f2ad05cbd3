/* Common definitions every Immune source file includes first. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_ __attribute__((warn_unused_result))

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

void closep(int *fd);
#define _cleanup_close_ _cleanup_(closep)

/* Returns p, or aborts: allocation failure is not a recoverable condition here. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; aborts on allocation failure. */
char *xasprintf(const char *fmt, ...) _printf_(1, 2);

/* qsort(3) that accepts an empty (possibly NULL) array, which qsort itself does not. */
static inline void sort_array(void *base, size_t n, size_t size,
			      int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* Footguns are poisoned: use snprintf, the buf_* API and the parse_* helpers instead. */
#ifndef IMMUNE_ALLOW_FOOTGUNS
/* clang's FORTIFY wrappers are macros; poisoning a macro is an error, and these are banned. */
#undef strcpy
#undef strcat
#undef sprintf
#undef vsprintf
#pragma GCC poison strcpy strcat sprintf vsprintf gets atoi atol atoll strtok
#endif
