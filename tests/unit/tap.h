/*
 * tap.h -- the little TAP the unit tests print: ok(), is(), and the plan at the end.
 * Header-only; each test program includes it once.
 */
#ifndef QT_TAP_H
#define QT_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

/* names are printed on one line: control characters as '?', '#' (a TAP directive) as '_' */
static inline int
ok(int cond, const char *name)
{
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	for (const char *c = name; *c; c++)
		putchar((unsigned char)*c < 0x20 ? '?' : *c == '#' ? '_' : *c);
	putchar('\n');
	tap_failed += !cond;
	return cond;
}

static inline int
is(const char *got, const char *want, const char *name)
{
	int good = ok(strcmp(got, want) == 0, name);

	if (!good)
		printf("#   got  '%s'\n#   want '%s'\n", got, want);
	return good;
}

static inline int
diag(const char *what)
{
	printf("# %s\n", what);
	return 0;
}

/* The plan, and the exit status prove wants. */
static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
