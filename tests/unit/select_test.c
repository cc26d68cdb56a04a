/*
 * select_test.c -- unit tests of libqueue/select.c on envelopes made in memory: each selector,
 * -v, and the three answers of lq_select_match (1 selected, 0 not, -1 cannot tell, which -v
 * never turns into a selection); then the fields of -e expressions, and their three answers
 * through and, or and not. Prints TAP.
 */
#include <stdio.h>
#include <string.h>

#include "queue.h"

static int n, failed;
static time_t now = 1767225600;

static void
ok(int cond, const char *name)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, name);
	failed += !cond;
}

/* lq_select_match of a selection made of opts, on m: 1, 0, or -1; err's code in *code */
static int
judge(const struct lq_select_opts *o, struct lq_msg *m, enum lq_errcode *code)
{
	struct lq_select *sel;
	struct lq_err e = { 0 };
	int rc;

	if ((sel = lq_select_new(o, now, &e)) == NULL) {
		printf("# lq_select_new: %s\n", e.msg);
		return -2;
	}
	rc = lq_select_match(sel, NULL, m, &e);
	if (code != NULL)
		*code = e.code;
	lq_select_free(sel);
	return rc;
}

int
main(void)
{
	struct lq_arena *a = lq_arena_new();
	struct lq_rcpt rcpt[] = {
		{ "done@example.org", NULL, LQ_RCPT_DONE },
		{ "todo@example.net", NULL, 0 },
		{ "child@example.com", NULL, LQ_RCPT_EXTRA },
	};
	struct lq_msg m = {
		.mta = LQ_MTA_EXIM, .id = "1vXTLC-0006EY-03", .queue = "input",
		.arrival = 1767225600 - 3 * 86400, .size = 2048, .sender = "alice@example.org",
		.rcpt = rcpt, .nrcpt = 3, .arena = a,
	};
	struct lq_select_opts o;
	enum lq_errcode code;
	char latin1[] = "caf\xe9@example.org";
	int rc;

#define SEL(...) (memset(&o, 0, sizeof o), o = (struct lq_select_opts){ __VA_ARGS__ })
	SEL(.sender = "^<alice@");
	ok(judge(&o, &m, NULL) == 1, "-f matches <sender>");
	SEL(.sender = "^alice@");
	ok(judge(&o, &m, NULL) == 0, "-f is tested with the angle brackets");
	SEL(.sender = "^<ALICE@");
	ok(judge(&o, &m, NULL) == 1, "-f is caseless by default");
	SEL(.sender = "^<ALICE@", .case_sensitive = 1);
	ok(judge(&o, &m, NULL) == 0, "--case-sensitive");
	SEL(.sender = "^<alice@", .invert = 1);
	ok(judge(&o, &m, NULL) == 0, "-v turns 1 into 0");
	SEL(.sender = "^<bob@", .invert = 1);
	ok(judge(&o, &m, NULL) == 1, "-v turns 0 into 1");
	SEL(.rcpt = "todo@");
	ok(judge(&o, &m, NULL) == 1, "-r: a recipient still to deliver");
	SEL(.rcpt = "done@");
	ok(judge(&o, &m, NULL) == 0, "-r: not a delivered one ...");
	SEL(.rcpt = "done@", .all_rcpts = 1);
	ok(judge(&o, &m, NULL) == 1, "... unless -a");
	SEL(.rcpt = "child@", .all_rcpts = 1);
	ok(judge(&o, &m, NULL) == 0, "-r never matches a generated (non-recipient) address");
	SEL(.older = "2d");
	ok(judge(&o, &m, NULL) == 1, "-o 2d: three days old");
	SEL(.older = "4d");
	ok(judge(&o, &m, NULL) == 0, "-o 4d: not");
	SEL(.younger = "4d");
	ok(judge(&o, &m, NULL) == 1, "-y 4d");
	SEL(.larger = "2k");
	ok(judge(&o, &m, NULL) == 1, "--larger 2k: at least 2048 bytes");
	SEL(.smaller = "2k");
	ok(judge(&o, &m, NULL) == 0, "--smaller 2k: not");
	SEL(.size_re = "^2\\.0K$");
	ok(judge(&o, &m, NULL) == 1, "-s on the size column (2.0K)");
	SEL(.frozen = 1);
	ok(judge(&o, &m, NULL) == 0, "-z: not frozen");
	SEL(.not_frozen = 1);
	ok(judge(&o, &m, NULL) == 1, "-x");
	SEL(.bounce = 1);
	ok(judge(&o, &m, NULL) == 0, "--bounce: a sender is no bounce");
	SEL(.queue = "input");
	ok(judge(&o, &m, NULL) == 1, "--queue input");
	SEL(.queue = "frozen,deferred");
	ok(judge(&o, &m, NULL) == 0, "--queue frozen,deferred: neither");

	/* cannot tell: never selected, also under -v */
	SEL(.sender = "(*UTF)^<nobody@", .invert = 1);
	m.sender = latin1;
	rc = judge(&o, &m, &code);
	ok(rc == -1 && code == LQ_ELIMIT,
	    "(*UTF) regex on an invalid UTF-8 sender: cannot tell, not selected under -v");
	SEL(.sender = "(*UTF)^<nobody@");
	ok(judge(&o, &m, NULL) == -1, "... nor without -v");
	m.sender = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab";
	SEL(.sender = "(*LIMIT_MATCH=10)^<(a|aa)+$", .invert = 1);
	rc = judge(&o, &m, &code);
	ok(rc == -1 && code == LQ_ELIMIT, "the engine's match limit: cannot tell, also under -v");
	SEL(.rcpt = "(*UTF)x", .invert = 1);
	m.sender = "alice@example.org";
	rcpt[1].address = latin1;
	ok(judge(&o, &m, NULL) == -1, "-r on an invalid UTF-8 recipient: cannot tell under -v");
	SEL(.rcpt = "(*UTF)x", .frozen = 1, .invert = 1);
	ok(judge(&o, &m, NULL) == 1,
	    "a cheaper test that decides first (-z) is not turned into an error");

	/* -e: what each field means, on the same message (3 days old, 2048 bytes, in input,
	 * one recipient to deliver, one delivered, one generated) */
	m.sender = "alice@example.org";
	rcpt[1].address = "todo@example.net";
#define EXPR(e, ...) (memset(&o, 0, sizeof o), \
	o = (struct lq_select_opts){ .exprs = (const char *[]){ e }, .nexprs = 1, __VA_ARGS__ })
	{
		static const struct { const char *expr; int all, want; } t[] = {
			{ "sender ~ \"^<alice@\"", 0, 1 },
			{ "sender == \"<ALICE@example.org>\"", 0, 1 },
			{ "sender == \"alice@example.org\"", 0, 0 },
			{ "sender != \"<>\" && !bounce", 0, 1 },
			{ "recipient ~ \"done@\"", 0, 0 },
			{ "recipient ~ \"done@\"", 1, 1 },
			{ "recipient ~ \"child@\"", 1, 0 },
			{ "recipient !~ \"todo@\"", 0, 0 },
			{ "every-recipient ~ \"\\.net$\"", 0, 1 },
			{ "every-recipient ~ \"\\.net$\"", 1, 0 },
			{ "rcpt-count == 1", 0, 1 },
			{ "rcpt-count == 2", 1, 1 },
			{ "age > 2d and age >= 3d and age == 259200 and not age > 3d", 0, 1 },
			{ "age < 4d && age <= 3d && age != 1h", 0, 1 },
			{ "size == 2k and size >= 2048 and size <= 2k and not size > 2k", 0, 1 },
			{ "size < 2k", 0, 0 },
			{ "queue == \"input\" and queue ~ \"^INP\" and queue == \"queued\"", 0, 1 },
			{ "id == \"1vXTLC-0006EY-03\"", 0, 1 },
			{ "id == \"1vxtlc-0006ey-03\"", 0, 0 },
			{ "id ~ \"^1vxtlc-\"", 0, 1 },
			{ "frozen or bounce or active or expired", 0, 0 },
			{ "(frozen or sender ~ \"alice\") and not (bounce or size > 1M)", 0, 1 },
			{ "not not (frozen || !(size > 1k))", 0, 0 },
			{ "\"x\" ~ \"y\" or frozen", 0, -2 },
		};
		char name[200];

		for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
			EXPR(t[i].expr, .all_rcpts = t[i].all);
			snprintf(name, sizeof name, "-e '%s'%s: %d", t[i].expr, t[i].all ? " -a" : "",
			    t[i].want);
			ok(judge(&o, &m, NULL) == t[i].want, name);
		}
	}
	EXPR("age > 2d", .frozen = 1);
	ok(judge(&o, &m, NULL) == 0, "-e and the options are ANDed (-z)");
	memset(&o, 0, sizeof o);
	o.exprs = (const char *[]){ "age > 2d", "size > 1M" };
	o.nexprs = 2;
	ok(judge(&o, &m, NULL) == 0, "two -e are ANDed");
	EXPR("size > 1M", .invert = 1);
	ok(judge(&o, &m, NULL) == 1, "-v -e");

	/* -e, cannot tell: never selected, under not and -v too, unless the others decide
	 * (false and unknown is false, true or unknown is true) */
	m.sender = latin1;
	{
		static const struct { const char *expr; int invert, want; } t[] = {
			{ "sender ~ \"(*UTF)x\"", 0, -1 },
			{ "not sender ~ \"(*UTF)x\"", 0, -1 },
			{ "sender !~ \"(*UTF)x\"", 0, -1 },
			{ "sender ~ \"(*UTF)x\"", 1, -1 },
			{ "sender ~ \"(*UTF)x\" or bounce", 0, -1 },
			{ "sender ~ \"(*UTF)x\" and not bounce", 1, -1 },
			{ "sender ~ \"(*UTF)x\" and bounce", 0, 0 },
			{ "bounce and sender ~ \"(*UTF)x\"", 1, 1 },
			{ "sender ~ \"(*UTF)x\" or not bounce", 0, 1 },
			{ "not (sender ~ \"(*UTF)x\" or not bounce)", 0, 0 },
			{ "every-recipient ~ \"(*UTF)q\" or id ~ \"(*UTF)q\"", 0, 0 },
		};
		char name[200];

		for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
			EXPR(t[i].expr, .invert = t[i].invert);
			snprintf(name, sizeof name, "invalid UTF-8 sender: %s-e '%s': %d",
			    t[i].invert ? "-v " : "", t[i].expr, t[i].want);
			ok(judge(&o, &m, NULL) == t[i].want, name);
		}
	}
	rcpt[1].address = latin1;
	EXPR("every-recipient ~ \"(*UTF)x\"", .invert = 1);
	ok(judge(&o, &m, &code) == -1 && code == LQ_ELIMIT,
	    "every-recipient on an invalid UTF-8 recipient: cannot tell, also under -v");

	lq_arena_free(a);
	printf("1..%d\n", n);
	return failed != 0;
}
