/*
 * columns.c -- Exim's age and size columns, which the exiqgrep- and exiqsumm-compatible
 * outputs print on every MTA, and lq_ultoa, the digits of a number for any per-message
 * output or file name. Written without printf: a listing calls them for every
 * message, and printf's cost showed in the benchmark. They match "%2d", "%5d", "%4.1f"...
 * byte for byte (tests/unit/lq_test.c checks them against printf over every size to 12 MB).
 */
#include <string.h>

#include "backend.h"

char *
lq_ultoa(unsigned long long v, char out[LQ_ULONG_LEN])
{
	char tmp[LQ_ULONG_LEN], *t = tmp + sizeof tmp;

	*--t = '\0';
	do
		*--t = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	memcpy(out, t, (size_t)(tmp + sizeof tmp - t));
	return out;
}

/* n right-aligned in width columns, then the suffix; like "%*d%s" without printf. */
static void
put_number(char *buf, long long n, int width, const char *suffix)
{
	char digits[LQ_ULONG_LEN];
	int neg = n < 0, k;

	lq_ultoa(neg ? 0ULL - (unsigned long long)n : (unsigned long long)n, digits);
	k = (int)strlen(digits) + neg;
	for (int pad = width - k; pad > 0; pad--)
		*buf++ = ' ';
	if (neg)
		*buf++ = '-';
	buf = stpcpy(buf, digits);
	strcpy(buf, suffix);
}

/* "%4.1f" of size/unit, unit a power of two: the quotient is exact in binary, so printf
 * rounds its tenths half to even; done here with integers. */
static void
put_tenths(char *buf, int64_t size, int64_t unit, const char *suffix)
{
	int64_t tenths = size * 10 / unit, rem = size * 10 % unit;
	char tail[8] = ".0";

	if (rem * 2 > unit || (rem * 2 == unit && (tenths & 1)))
		tenths++;
	tail[1] = (char)('0' + tenths % 10);
	strcpy(tail + 2, suffix);
	put_number(buf, tenths / 10, 2, tail);
}

/* exim -bp: minutes up to 90, then hours (rounded) up to 72, then days (rounded) */
void
lq_format_age(char buf[LQ_COLSIZE], time_t age)
{
	/* Exim computes in int; in long long here, so that an age from a damaged spool file
	 * (any 64-bit time) neither wraps nor overflows, and real ages print the same */
	long long i = age / 60;

	if (i > 90) {
		i = (i + 30) / 60;
		if (i > 72)
			put_number(buf, (i + 12) / 24, 2, "d");
		else
			put_number(buf, i, 2, "h");
	} else
		put_number(buf, i, 2, "m");
}

/* Exim's string_format_size(): five columns, 0 shown as blanks */
void
lq_format_size(char buf[LQ_COLSIZE], int64_t size)
{
	if (size == 0)
		strcpy(buf, "     ");
	else if (size < 1024)
		put_number(buf, size, 5, "");
	else if (size < 10 * 1024)
		put_tenths(buf, size, 1024, "K");
	else if (size < 1024 * 1024)
		put_number(buf, size / 1024 + (size % 1024 >= 512), 4, "K");
	else if (size < 10 * 1024 * 1024)
		put_tenths(buf, size, 1024 * 1024, "M");
	else
		put_number(buf, size / (1024 * 1024) + (size % (1024 * 1024) >= 512 * 1024), 4,
		    "M");	/* rounded without size + 512K, which overflows near INT64_MAX */
}
