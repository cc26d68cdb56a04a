/*
 * sort_test.c -- lq_sort_keyed, the radix sort a sorted Exim scan orders its IDs with:
 * against a plain stable insertion sort, ascending and descending, on keys that collide
 * often (stability shows), that span all 64 bits, and on none or one of them. Prints TAP.
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

/* the reference: stable, obviously right, quadratic */
static void
insertion(struct lq_keyed *v, size_t n, int descending)
{
	for (size_t i = 1; i < n; i++) {
		struct lq_keyed x = v[i];
		size_t j = i;

		while (j > 0 && (descending ? v[j - 1].key < x.key : v[j - 1].key > x.key)) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* n keys from base + a value below span (span 0: any 64 bits), each val its position */
static int
check(size_t n, uint64_t base, uint64_t span, int descending, const char *name)
{
	struct lq_keyed *got = calloc(n + 1, sizeof *got), *want = calloc(n + 1, sizeof *want);
	uint64_t s = 88172645463325252ULL + n + span;
	int good;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = next(&s);

		got[i] = (struct lq_keyed){ span ? base + r % span : r, i };
	}
	memcpy(want, got, n * sizeof *got);
	insertion(want, n, descending);
	good = lq_sort_keyed(got, n, descending) == 0 &&
	    memcmp(got, want, n * sizeof *got) == 0;
	free(got);
	free(want);
	return ok(good, name);
}

int
main(void)
{
	check(0, 0, 0, 0, "no key");
	check(1, 5, 1, 0, "one key");
	check(2, 0, 0, 1, "two keys, descending");
	check(3000, 0, 4, 0, "3000 keys of 4 values: equal keys keep their order");
	check(3000, 0, 4, 1, "the same, descending: equal keys still keep their order");
	check(3000, 1000, 1, 0, "3000 equal keys: untouched");
	check(5000, 0, 0, 0, "5000 keys over all 64 bits");
	check(5000, 0, 0, 1, "the same, descending");
	check(5000, UINT64_MAX - 70000, 70000, 0, "5000 keys near the top of the range");
	/* Exim's keys: seconds since the epoch << 20 | the sub-second part */
	check(8000, (uint64_t)1764000000 << 20, (uint64_t)86400 << 20, 0,
	    "8000 keys of Exim IDs from one day");
	check(8000, (uint64_t)1764000000 << 20, (uint64_t)86400 << 20, 1,
	    "the same, newest first");
	return done_testing();
}
