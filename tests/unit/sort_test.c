/*
 * sort_test.c -- lq_sort_keyed, the radix sort a sorted Exim scan orders its IDs with:
 * against qsort with a comparison of key then val, ascending and descending, on keys that
 * collide often (equal keys in the order of their vals shows), that span all 64 bits, on
 * none or one of them, and on enough for the sort to go three digits deep. Prints TAP.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "tap.h"

/* a reproducible stream of numbers (xorshift64*) */
static uint64_t
next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static int
by_key_then_val(const void *a, const void *b, int descending)
{
	const struct lq_keyed *x = a, *y = b;

	if (x->key != y->key)
		return (x->key < y->key) == !descending ? -1 : 1;
	return (x->val > y->val) - (x->val < y->val);
}

static int
ascending(const void *a, const void *b)
{
	return by_key_then_val(a, b, 0);
}

static int
descending(const void *a, const void *b)
{
	return by_key_then_val(a, b, 1);
}

/* n keys from base + a value below span (span 0: any 64 bits); each val its position, or
 * (shuffled) a distinct val in no order */
static int
check(size_t n, uint64_t base, uint64_t span, int desc, int shuffled, const char *name)
{
	struct lq_keyed *got = calloc(n + 1, sizeof *got), *want = calloc(n + 1, sizeof *want);
	uint64_t s = 88172645463325252ULL + n + span;
	int good;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = next(&s);

		got[i] = (struct lq_keyed){ span ? base + r % span : r, i };
	}
	for (size_t i = n; shuffled && i > 1; i--) {	/* Fisher-Yates over the vals */
		size_t j = next(&s) % i, t = got[i - 1].val;

		got[i - 1].val = got[j].val;
		got[j].val = t;
	}
	memcpy(want, got, n * sizeof *got);
	qsort(want, n, sizeof *want, desc ? descending : ascending);
	lq_sort_keyed(got, n, desc);
	good = memcmp(got, want, n * sizeof *got) == 0;
	free(got);
	free(want);
	return ok(good, name);
}

int
main(void)
{
	check(0, 0, 0, 0, 0, "no key");
	check(1, 5, 1, 0, 0, "one key");
	check(2, 0, 0, 1, 0, "two keys, descending");
	check(3000, 0, 4, 0, 0, "3000 keys of 4 values: equal keys keep their order");
	check(3000, 0, 4, 1, 0, "the same, descending: equal keys still keep their order");
	check(3000, 0, 4, 0, 1, "3000 keys of 4 values, vals shuffled: equal keys by val");
	check(3000, 0, 4, 1, 1, "the same, descending: equal keys by val, ascending");
	check(3000, 1000, 1, 0, 0, "3000 equal keys: untouched");
	check(3000, 1000, 1, 0, 1, "3000 equal keys, vals shuffled: by val");
	check(5000, 0, 0, 0, 0, "5000 keys over all 64 bits");
	check(5000, 0, 0, 1, 0, "the same, descending");
	check(5000, UINT64_MAX - 70000, 70000, 0, 0, "5000 keys near the top of the range");
	/* Exim's keys: seconds since the epoch << 20 | the sub-second part */
	check(8000, (uint64_t)1764000000 << 20, (uint64_t)86400 << 20, 0, 0,
	    "8000 keys of Exim IDs from one day");
	check(8000, (uint64_t)1764000000 << 20, (uint64_t)86400 << 20, 1, 0,
	    "the same, newest first");
	check(300000, (uint64_t)1764000000 << 20, (uint64_t)86400 << 20, 0, 1,
	    "300000 keys of Exim IDs from one day, vals shuffled");
	check(300000, (uint64_t)1764000000 << 20, (uint64_t)600 << 20, 1, 0,
	    "300000 keys from ten minutes, newest first: equal keys keep their order");
	return done_testing();
}
