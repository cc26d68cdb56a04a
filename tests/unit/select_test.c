/*
 * select_test.c -- unit tests of libqueue/select.c on envelopes made in memory: each selector,
 * -v, and the three answers of lq_select_match (1 selected, 0 not, -1 cannot tell, which -v
 * never turns into a selection). Prints TAP.
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

	lq_arena_free(a);
	printf("1..%d\n", n);
	return failed != 0;
}
