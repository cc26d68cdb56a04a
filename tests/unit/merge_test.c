/*
 * merge_test.c -- unit tests of the host lists of qsumm --merge --expect (lq_merge_expect in
 * libqueue/merge.c): names separated by commas or white space, with ClusterShell's ranges
 * (mx[1-3,7], node[01-10/2], several brackets in one name), expanded as clush's nodeset -e
 * expands them; and what clush refuses, or what is not a host list, refused with one
 * message naming it. The expansion is read back as the hosts lq_merge_write reports as not
 * answering (no host sent anything), in its order (byte order of the names). Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "tap.h"

struct names {
	char buf[8192];
	size_t len;
	int other;	/* a problem other than "no answer" */
};

static void
collect(const char *host, const char *what, int fatal, void *arg)
{
	struct names *n = arg;

	if (strcmp(what, "no answer") != 0 || !fatal) {
		n->other = 1;
		return;
	}
	n->len += snprintf(n->buf + n->len, sizeof n->buf - n->len, "%s%s", n->len ? " " : "",
	    host);
	if (n->len >= sizeof n->buf)
		n->len = sizeof n->buf - 1;
}

static FILE *devnull;

/* The hosts set expands to, space-separated; or "refused: MESSAGE". *count: how many. */
static const char *
expand(const char *set, size_t *count)
{
	static struct names n;
	static char out[sizeof n.buf + 600];
	struct lq_merge *m = lq_merge_new();
	struct lq_err e;
	int fatal;

	memset(&n, 0, sizeof n);
	*count = 0;
	if (m == NULL)
		return "out of memory";
	if (lq_merge_expect(m, set, &e) < 0) {
		snprintf(out, sizeof out, "refused: %s%s", e.msg,
		    e.code == LQ_EUSAGE || e.code == LQ_ELIMIT ? "" : " (not LQ_EUSAGE or LQ_ELIMIT)");
		lq_merge_free(m);
		return out;
	}
	fatal = lq_merge_write(devnull, m, 0, collect, &n);
	lq_merge_free(m);
	if (n.other)
		return "a problem other than \"no answer\"";
	*count = fatal < 0 ? 0 : (size_t)fatal;
	snprintf(out, sizeof out, "%s", n.buf);
	return out;
}

static void
expands(const char *set, const char *want)
{
	char name[300];
	size_t count;

	snprintf(name, sizeof name, "--expect '%s' is: %s", set, want);
	is(expand(set, &count), want, name);
}

/* refused, with a message that starts "--expect" and holds want */
static void
refused(const char *set, const char *want)
{
	char name[400];
	size_t count;
	const char *got = expand(set, &count);

	snprintf(name, sizeof name, "--expect '%.200s' refused (%s)", set, want);
	if (!ok(strncmp(got, "refused: --expect", 17) == 0 && strstr(got, want) != NULL, name))
		printf("#   got '%.300s'\n", got);
}

int
main(void)
{
	char big[400];
	size_t count;

	if ((devnull = fopen("/dev/null", "w")) == NULL)
		return 2;

	/* ---- lists and ranges, as nodeset -e expands them */
	expands("mx1", "mx1");
	expands("a b,,c", "a b c");
	expands(" a,\tb\n", "a b");
	expands("mx1,mx1 mx[1]", "mx1");
	expands("mx[1-3,7]", "mx1 mx2 mx3 mx7");
	expands("mx[1-3],db[1-2]", "db1 db2 mx1 mx2 mx3");
	expands("node[01-10/2]", "node01 node03 node05 node07 node09");
	expands("a[1-3/2,7]", "a1 a3 a7");
	expands("n[1-10/3]", "n1 n10 n4 n7");
	expands("mx[1-3/2]x", "mx1x mx3x");
	expands("r[1-2]-mx[1-2]", "r1-mx1 r1-mx2 r2-mx1 r2-mx2");
	expands("mx[9-11]", "mx10 mx11 mx9");
	expands("mx[08-10]", "mx08 mx09 mx10");
	expands("mx[099-100]", "mx099 mx100");
	expands("mx[0-10/5]", "mx0 mx10 mx5");
	expands("mx[01,1]", "mx01 mx1");
	expands("mx[00]", "mx00");
	expands("mx[0-00]", "mx0");
	expands("mx[3]", "mx3");
	expands("mx[1-2]/2", "mx1/2 mx2/2");
	expands("mx[1-1000]", expand("mx[1-1000]", &count));
	ok(count == 1000, "mx[1-1000] is 1000 hosts");
	expand("n[1-65536]", &count);
	ok(count == 65536, "n[1-65536]: 65536 hosts, the most --expect takes");

	/* ---- what clush refuses, and what is no host list */
	refused("", "no host names");
	refused(" , ", "no host names");
	refused("@mx", "a ClusterShell group");
	refused("mx[1-", "a '[' without its ']'");
	refused("mx[[1]]", "a '[' without its ']'");
	refused("mx1]", "a ']' without '['");
	refused("mx[1]]", "a ']' without '['");
	refused("mx[]", "'[]' is not a list of numbers and ranges");
	refused("mx[],a", "'[]' is not a list");
	refused("mx[3-1]", "'[3-1]' is not a list");
	refused("mx[a-b]", "is not a list");
	refused("mx[1,,2]", "is not a list");
	refused("mx[,1]", "is not a list");
	refused("mx[1,]", "is not a list");
	refused("mx[1-3/0]", "is not a list");
	refused("mx[1-3/]", "is not a list");
	refused("mx[1/2]", "is not a list");
	refused("mx[1--3]", "is not a list");
	refused("mx[-1]", "is not a list");
	refused("mx[1-010]", "'[1-010]' is not a list");
	refused("mx[01-100]", "'[01-100]' is not a list");
	refused("mx[0-05]", "is not a list");
	refused("mx[00-5]", "is not a list");
	refused("mx[010-9]", "is not a list");
	refused("mx[1-3],db[]", "'[]' is not a list");
	refused("!mx1", "only names, commas and ranges");
	refused("mx1/2", "only names, commas and ranges");
	refused("mx*", "only names, commas and ranges");
	refused("a:b", "only names, commas and ranges");
	refused("n[0-65536]", "more than 65536 hosts");
	refused("n[1-999999999]", "more than 65536 hosts");
	refused("n[1-99999999999999999999]", "is not a list");
	memset(big, 'a', 300);
	big[300] = '\0';
	refused(big, "a name too long");
	snprintf(big, sizeof big, "n[%0300d]", 1);
	refused(big, "a name too long");

	fclose(devnull);
	return done_testing();
}
