/*
 * lq_test.c -- unit tests of libqueue's small parsers and formats: Exim's -bp columns at
 * every boundary exim itself was seen to print, durations, sizes, and selections that
 * must be refused (selection expressions too: the caret under the column), and the
 * Prometheus exposition's escaping and histogram edges. Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

static int n, failed;

/* Exim's string_format_size() and the -bp age, as printf would print them */
static void
printf_size(char *b, int64_t size)
{
	if (size == 0)
		snprintf(b, LQ_COLSIZE, "     ");
	else if (size < 1024)
		snprintf(b, LQ_COLSIZE, "%5d", (int)size);
	else if (size < 10 * 1024)
		snprintf(b, LQ_COLSIZE, "%4.1fK", (double)size / 1024.0);
	else if (size < 1024 * 1024)
		snprintf(b, LQ_COLSIZE, "%4dK", (int)((size + 512) / 1024));
	else if (size < 10 * 1024 * 1024)
		snprintf(b, LQ_COLSIZE, "%4.1fM", (double)size / (1024.0 * 1024.0));
	else
		snprintf(b, LQ_COLSIZE, "%4dM", (int)((size + 512 * 1024) / (1024 * 1024)));
}

static void
printf_age(char *b, long t)
{
	int i = (int)(t / 60);

	if (i > 90) {
		i = (i + 30) / 60;
		if (i > 72)
			snprintf(b, LQ_COLSIZE, "%2dd", (i + 12) / 24);
		else
			snprintf(b, LQ_COLSIZE, "%2dh", i);
	} else
		snprintf(b, LQ_COLSIZE, "%2dm", i);
}

static void
is(const char *got, const char *want, const char *name)
{
	int good = strcmp(got, want) == 0;

	printf("%sok %d - %s\n", good ? "" : "not ", ++n, name);
	if (!good) {
		printf("#   got '%s', want '%s'\n", got, want);
		failed++;
	}
}

static void
ok(int cond, const char *name)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, name);
	failed += !cond;
}

/* lq_prom_write's output for messages of these ages (s) in these queues (NULL: none) */
static char *
prom_text(const char *const *queues, const char *in, const long *ages, size_t nages, int fail)
{
	struct lq_prom_scan sc = { 0, fail, 0.5 };
	struct lq_rcpt r = { "a@Example.COM", NULL, 0 };
	struct lq_prom *p = lq_prom_new(LQ_MTA_EXIM, queues, 1000000, 5);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	for (size_t i = 0; i < nages; i++) {
		struct lq_msg m = { .mta = LQ_MTA_EXIM, .queue = in, .arrival = 1000000 - ages[i],
		    .size = 10, .sender = "", .rcpt = &r, .nrcpt = 1, .flags = LQ_MSG_BOUNCE };

		lq_prom_add(p, &m);
	}
	lq_prom_write(f, p, &sc);
	fclose(f);
	lq_prom_free(p);
	return text;
}

static void
prom_tests(void)
{
	static const char *const odd[] = { "in\"put\\x\ny", NULL }, *const input[] = { "input", NULL };
	static const long ages[] = { 300, 301, -5 };
	char *t = prom_text(odd, odd[0], ages, 3, 0);

	ok(strstr(t, "qtools_queue_messages{mta=\"exim\",queue=\"in\\\"put\\\\x\\ny\"} 3\n") != NULL,
	    "prom: a label value has its quote, backslash and newline escaped");
	ok(strstr(t, "le=\"300\"} 2\n") != NULL && strstr(t, "le=\"3600\"} 3\n") != NULL,
	    "prom: an age of 300 s is in le=300, 301 s in le=3600, a negative age is 0");
	ok(strstr(t, "domain=\"example.com\"} 3\n") != NULL, "prom: domains lower-cased, counted");
	free(t);
	t = prom_text(input, "elsewhere", ages, 1, 0);
	ok(strstr(t, "queue=\"input\"} 0\n") != NULL && strstr(t, "queue=\"elsewhere\"} 1\n") != NULL,
	    "prom: a queue the backend did not list is counted, the listed one is 0");
	free(t);
	t = prom_text(input, "input", ages, 1, 1);
	ok(strstr(t, "qtools_queue_messages{") == NULL &&
	    strstr(t, "qtools_queue_scan_errors{mta=\"exim\",queue=\"input\"} 1\n") != NULL,
	    "prom: a failed scan: no queue series, scan_errors 1");
	free(t);
	t = prom_text(NULL, "input", ages, 0, 0);
	ok(strstr(t, "qtools_queue_scan_errors{mta=\"exim\"} 1\n") != NULL,
	    "prom: no spool: scan_errors 1, labelled with the MTA");
	free(t);
}

int
main(void)
{
	/* boundaries observed in exim -bp output (formats/exim.md) */
	static const struct { long long size; const char *col; } sizes[] = {
		{ 0, "     " }, { 1, "    1" }, { 1023, " 1023" }, { 1024, " 1.0K" },
		{ 10239, "10.0K" }, { 10240, "  10K" }, { 1048575, "1024K" },
		{ 1048576, " 1.0M" }, { 10485759, "10.0M" }, { 10485760, "  10M" },
	};
	static const struct { long secs; const char *col; } ages[] = {
		{ 0, " 0m" }, { 5 * 60, " 5m" }, { 90 * 60, "90m" }, { 91 * 60, " 2h" },
		{ 149 * 60, " 2h" }, { 150 * 60, " 3h" }, { (72 * 60 + 29) * 60, "72h" },
		{ (72 * 60 + 30) * 60, " 3d" }, { 100 * 86400, "100d" },
	};
	static const char *bad_durations[] = { "", "3x", "-1", "1hh", "h", "99999999999999999w" };
	static const char *bad_sizes[] = { "", "1Q", "-5", "k", "1kk" };
	char col[LQ_COLSIZE], name[128];
	struct lq_select_opts o;
	struct lq_err e;
	time_t t;
	int64_t s;

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		lq_format_size(col, sizes[i].size);
		snprintf(name, sizeof name, "size %lld is '%s'", sizes[i].size, sizes[i].col);
		is(col, sizes[i].col, name);
	}
	for (size_t i = 0; i < sizeof ages / sizeof ages[0]; i++) {
		lq_format_age(col, ages[i].secs);
		snprintf(name, sizeof name, "age %lds is '%s'", ages[i].secs, ages[i].col);
		is(col, ages[i].col, name);
	}
	{
		char want[LQ_COLSIZE];
		long bad = 0;

		/* every size to 20000, then a stride to past 10 MB: ties of %4.1f included */
		for (int64_t sz = 0; sz < 11 * 1024 * 1024; sz += sz < 20000 ? 1 : 7) {
			lq_format_size(col, sz);
			printf_size(want, sz);
			bad += strcmp(col, want) != 0;
		}
		ok(bad == 0, "the size column equals printf's for every size checked");
		bad = 0;
		for (long age = -7200; age < 300L * 86400; age += 30) {
			lq_format_age(col, age);
			printf_age(want, age);
			bad += strcmp(col, want) != 0;
		}
		ok(bad == 0, "the age column equals printf's for every age checked");
	}
	ok(lq_parse_duration("90", &t, &e) == 0 && t == 90, "90 is 90 seconds");
	ok(lq_parse_duration("7d", &t, &e) == 0 && t == 7 * 86400, "7d");
	ok(lq_parse_duration("2w", &t, &e) == 0 && t == 14 * 86400, "2w");
	for (size_t i = 0; i < sizeof bad_durations / sizeof bad_durations[0]; i++) {
		snprintf(name, sizeof name, "duration '%s' refused, naming it", bad_durations[i]);
		ok(lq_parse_duration(bad_durations[i], &t, &e) < 0 && e.code == LQ_EUSAGE &&
		    strstr(e.msg, bad_durations[i]) != NULL, name);
	}
	ok(lq_parse_size("1M", &s, &e) == 0 && s == 1048576, "1M");
	ok(lq_parse_size("10k", &s, &e) == 0 && s == 10240, "10k");
	for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
		snprintf(name, sizeof name, "size '%s' refused", bad_sizes[i]);
		ok(lq_parse_size(bad_sizes[i], &s, &e) < 0 && e.code == LQ_EUSAGE, name);
	}
	memset(&o, 0, sizeof o);
	o.sender = "(unclosed";
	ok(lq_select_new(&o, 0, &e) == NULL && strstr(e.msg, "-f") != NULL,
	    "a bad regex is refused, naming its option");
	memset(&o, 0, sizeof o);
	o.headers = (const char *[]){ "NoColonHere" };
	o.nheaders = 1;
	ok(lq_select_new(&o, 0, &e) == NULL && strstr(e.msg, "--header") != NULL,
	    "--header without 'Name:' is refused");
	memset(&o, 0, sizeof o);
	o.older = "3x";
	ok(lq_select_new(&o, 0, &e) == NULL && strncmp(e.msg, "-o 3x", 5) == 0,
	    "-o 3x: the error starts with the option and its value");
	/* -e: the message, the expression, the caret under the column */
	{
		static const struct { const char *expr, *msg; } bad[] = {
			{ "age > 3x", "-e: 3x: not a duration (units: s m h d w)\n"
			  "  age > 3x\n        ^" },
			{ "(frozen", "-e: the ( at column 1 is not closed\n  (frozen\n         ^" },
			{ "frozen and", "-e: the expression ends where a test should be\n"
			  "  frozen and\n            ^" },
			{ "size > -1", "-e: a negative number: ages, sizes and counts are never "
			  "below 0\n  size > -1\n         ^" },
			{ "reason > 3", "-e: reason is not a number: compare it with ~ !~ == !=\n"
			  "  reason > 3\n         ^" },
			{ "id ~ \"(\"", "-e: id '(': missing closing parenthesis at offset 1\n"
			  "  id ~ \"(\"\n       ^" },
			{ "sender ~ \"\303\251\" or 3", "-e: expected a test: a field and its value, "
			  "a flag, not, or (\n  sender ~ \"\303\251\" or 3\n                  ^" },
		};
		const char *x[1];

		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			memset(&o, 0, sizeof o);
			x[0] = bad[i].expr;
			o.exprs = x;
			o.nexprs = 1;
			snprintf(name, sizeof name, "-e '%s' refused with a caret", bad[i].expr);
			if (lq_select_new(&o, 0, &e) != NULL)
				ok(0, name);
			else
				is(e.msg, bad[i].msg, name);
		}
	}
	{
		const char *x[] = { "frozen or body ~ \"x\"", "size > 1k" };
		struct lq_select *sel;

		memset(&o, 0, sizeof o);
		o.exprs = x;
		o.nexprs = 2;
		sel = lq_select_new(&o, 0, &e);
		ok(sel != NULL && !lq_select_is_empty(sel) && lq_select_needs_content(sel) &&
		    lq_select_needs_size(sel) && lq_select_scanflags(sel) == 0,
		    "-e: not empty, needs content and sizes, no locks");
		lq_select_free(sel);
		x[0] = "active";
		o.nexprs = 1;
		sel = lq_select_new(&o, 0, &e);
		ok(sel != NULL && !lq_select_needs_content(sel) && !lq_select_needs_size(sel) &&
		    lq_select_scanflags(sel) == LQ_SCAN_LOCKS, "-e active: needs the locks only");
		lq_select_free(sel);
	}
	prom_tests();
	printf("1..%d\n", n);
	return failed != 0;
}
