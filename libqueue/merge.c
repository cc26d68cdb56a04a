/*
 * merge.c -- qsumm --merge: add up what qsumm --json printed on many hosts.
 *
 * The input is the JSON Lines of every host, as clush -N or pdsh (each line then starts
 * with "host: ") or a shell loop gather them: lines of different hosts mixed, in any order.
 * Each line names its host, so the order does not matter; what a host sent is kept apart
 * until its end record arrives, and only hosts that ended are counted. A line that cannot
 * be trusted stops the merge with a message naming the source, the line and the host:
 * nothing is merged wrongly without a word. Ages are computed against each host's own
 * clock (the "now" of its end record), so clocks that differ between hosts, or from the
 * one merging, do not matter.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* libbsd leaves __unused undefined (it clashes with Linux headers); tree.h wants it */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/sys/tree.h>

#define LINE_MAX_BYTES (1 << 20)
#define HOST_MAX 255
#define EXPECT_MAX 65536
#define KEY_BYTES 8192		/* a row's keys' values, with their NULs */

struct mdomain {
	RB_ENTRY(mdomain) link;
	char *key;		/* the keys' values, each ending with a NUL */
	size_t keylen;
	unsigned long count;
	int64_t bytes;
	time_t oldest, newest;
};

static int
mdomain_cmp(const struct mdomain *a, const struct mdomain *b)
{
	int c = memcmp(a->key, b->key, a->keylen < b->keylen ? a->keylen : b->keylen);

	return c != 0 ? c : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

RB_HEAD(mdomain_tree, mdomain);
RB_GENERATE_STATIC(mdomain_tree, mdomain, link, mdomain_cmp)

struct mhost {
	RB_ENTRY(mhost) link;
	char *name;
	char *prefix;		/* the "name: " its lines came under (pdsh, clush), or NULL */
	char *src;		/* where its first line was */
	unsigned long line, host_line, end_line;
	const char *mta;	/* static: lq_mta_name's */
	int has_host, ended, expected;
	unsigned long messages, matched, frozen;
	int64_t bytes;
	unsigned long ages[LQ_AGE_BUCKETS_MAX + 1];
	struct lq_json_end end;
	struct mdomain_tree domains;
};

static int
mhost_cmp(const struct mhost *a, const struct mhost *b)
{
	return strcmp(a->name, b->name);
}

RB_HEAD(mhost_tree, mhost);
RB_GENERATE_STATIC(mhost_tree, mhost, link, mhost_cmp)

struct lq_merge {
	struct mhost_tree hosts;
	struct lq_arena *arena;		/* one line's parse tree */
	char **expect;			/* sorted, unique */
	size_t nexpect, capexpect;
	time_t bounds[LQ_AGE_BUCKETS_MAX];
	size_t nbounds;			/* 0: no host record yet */
	const struct mhost *bounds_host;
	char by[128];			/* the keys of the rows ("domain", "reason,domain") */
	const struct mhost *by_host;	/* the first host that said them */
	unsigned long by_line;
};

struct lq_merge *
lq_merge_new(void)
{
	struct lq_merge *m = calloc(1, sizeof *m);

	if (m == NULL)
		return NULL;
	RB_INIT(&m->hosts);
	if ((m->arena = lq_arena_new()) == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
lq_merge_free(struct lq_merge *m)
{
	struct mhost *h, *hn;
	struct mdomain *d, *dn;

	if (m == NULL)
		return;
	RB_FOREACH_SAFE(h, mhost_tree, &m->hosts, hn) {
		RB_FOREACH_SAFE(d, mdomain_tree, &h->domains, dn) {
			RB_REMOVE(mdomain_tree, &h->domains, d);
			free(d->key);
			free(d);
		}
		RB_REMOVE(mhost_tree, &m->hosts, h);
		free(h->name);
		free(h->prefix);
		free(h->src);
		free(h);
	}
	for (size_t i = 0; i < m->nexpect; i++)
		free(m->expect[i]);
	free(m->expect);
	lq_arena_free(m->arena);
	free(m);
}

/* ---------------------------------------------------------------- --expect */

static int
expect_add(struct lq_merge *m, const char *name, size_t n, struct lq_err *err)
{
	if (n == 0)
		return 0;
	if (m->nexpect == EXPECT_MAX)
		return lq_err_set(err, LQ_ELIMIT, "--expect: more than %d hosts", EXPECT_MAX);
	if (m->nexpect == m->capexpect) {
		size_t cap = m->capexpect ? m->capexpect * 2 : 64;
		char **e = reallocarray(m->expect, cap, sizeof *e);

		if (e == NULL)
			return lq_err_set(err, LQ_ENOMEM, "out of memory");
		m->expect = e;
		m->capexpect = cap;
	}
	if ((m->expect[m->nexpect] = strndup(name, n)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	m->nexpect++;
	return 0;
}

static int
parse_num(const char **p, const char *e, unsigned long *v, size_t *digits)
{
	const char *s = *p;

	*v = 0;
	while (*p < e && isdigit((unsigned char)**p)) {
		if (*v > 100000000UL)
			return -1;
		*v = *v * 10 + (unsigned long)(**p - '0');
		(*p)++;
	}
	*digits = *p - s;
	return *digits > 0 ? 0 : -1;
}

/* One name of a nodeset, its bracketed ranges expanded: pre is what is expanded so far */
static int
expand(struct lq_merge *m, const char *tok, size_t toklen, char *pre, size_t prelen,
    size_t precap, const char *whole, struct lq_err *err)
{
	const char *open = memchr(tok, '[', toklen), *close, *p;

	if (open == NULL) {
		if (memchr(tok, ']', toklen) != NULL)
			return lq_err_set(err, LQ_EUSAGE, "--expect %s: a ']' without '['", whole);
		if (prelen + toklen >= precap)
			return lq_err_set(err, LQ_ELIMIT, "--expect %s: a name too long", whole);
		memcpy(pre + prelen, tok, toklen);
		return expect_add(m, pre, prelen + toklen, err);
	}
	if ((close = memchr(open, ']', toklen - (open - tok))) == NULL ||
	    memchr(open + 1, '[', close - open - 1) != NULL)
		return lq_err_set(err, LQ_EUSAGE, "--expect %s: a '[' without its ']'", whole);
	if (prelen + (open - tok) >= precap)
		return lq_err_set(err, LQ_ELIMIT, "--expect %s: a name too long", whole);
	if (close == open + 1)
		goto bad;		/* "[]": clush's "empty range" */
	memcpy(pre + prelen, tok, open - tok);
	prelen += open - tok;
	for (p = open + 1; p < close;) {
		unsigned long lo, hi, step = 1;
		size_t width, wd, sd;
		const char *lop = p, *hip;

		if (parse_num(&p, close, &lo, &width) < 0)
			goto bad;
		hi = lo;
		if (p < close && *p == '-') {
			hip = ++p;
			if (parse_num(&p, close, &hi, &wd) < 0 || hi < lo)
				goto bad;
			/* as clush: a bound written with leading zeros sets the width, and the
			 * other must be written as wide ([08-10], not [1-010] or [01-100]) */
			if (((*lop == '0' && width > 1) || (*hip == '0' && wd > 1 && hi != 0)) &&
			    width != wd)
				goto bad;
			if (p < close && *p == '/') {
				p++;
				if (parse_num(&p, close, &step, &sd) < 0 || step == 0)
					goto bad;
			}
		}
		if (p < close && *p++ != ',')
			goto bad;
		if (p == close && close[-1] == ',')
			goto bad;
		if ((hi - lo) / step >= EXPECT_MAX)
			return lq_err_set(err, LQ_ELIMIT, "--expect %s: more than %d hosts", whole,
			    EXPECT_MAX);
		for (unsigned long v = lo; v <= hi; v += step) {
			/* zero-padded to the width written, which is as long as a name may be */
			char num[HOST_MAX + 1];
			int k = snprintf(num, sizeof num, "%0*lu", (int)(width > 1 ? width : 1), v);

			if (k < 0 || (size_t)k >= sizeof num || prelen + (size_t)k >= precap)
				return lq_err_set(err, LQ_ELIMIT, "--expect %s: a name too long", whole);
			memcpy(pre + prelen, num, k);
			if (expand(m, close + 1, toklen - (close + 1 - tok), pre, prelen + k, precap,
			    whole, err) < 0)
				return -1;
		}
	}
	return 0;
bad:
	return lq_err_set(err, LQ_EUSAGE, "--expect %s: '[%.*s]' is not a list of numbers "
	    "and ranges (like [1-3,7] or [01-10/2])", whole, (int)(close - open - 1), open + 1);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
lq_merge_expect(struct lq_merge *m, const char *hosts, struct lq_err *err)
{
	const char *p = hosts;
	char pre[HOST_MAX + 1];
	size_t k = 0;

	while (*p != '\0') {
		const char *start;
		int depth = 0;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && (depth > 0 || (*p != ',' && !isspace((unsigned char)*p)))) {
			depth += *p == '[';
			depth -= *p == ']' && depth > 0;
			p++;
		}
		if (*start == '@')
			return lq_err_set(err, LQ_EUSAGE, "--expect %.*s: a ClusterShell group; give "
			    "its nodes: --expect \"$(nodeset -e %.*s)\"", (int)(p - start), start,
			    (int)(p - start), start);
		for (const char *c = start; c < p; c++)
			if (strchr("!&^*?:/\\\"'", *c) != NULL && !(*c == '/' && depth == 0 &&
			    memchr(start, '[', c - start) != NULL))
				return lq_err_set(err, LQ_EUSAGE, "--expect %.*s: only names, commas and "
				    "ranges in brackets are understood (expand it with nodeset -e)",
				    (int)(p - start), start);
		if (expand(m, start, p - start, pre, 0, sizeof pre, hosts, err) < 0)
			return -1;
	}
	if (m->nexpect > 1)	/* never qsort(NULL, 0): --expect "" names no host */
		qsort(m->expect, m->nexpect, sizeof *m->expect, str_cmp);
	for (size_t i = 0; i < m->nexpect; i++) {
		if (k > 0 && strcmp(m->expect[k - 1], m->expect[i]) == 0) {
			free(m->expect[i]);
			continue;
		}
		m->expect[k++] = m->expect[i];
	}
	m->nexpect = k;
	if (k == 0)
		return lq_err_set(err, LQ_EUSAGE, "--expect '%s': no host names", hosts);
	return 0;
}

/* ---------------------------------------------------------------- one line */

struct line {
	const char *src;
	unsigned long lineno;
	const char *host;	/* for messages: the record's, the prefix, or a guess */
	struct lq_err *err;
};

static int
bad(const struct line *l, const char *fmt, ...) LQ_PRINTF(2, 3);

static int
bad(const struct line *l, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return lq_err_set(l->err, LQ_ECORRUPT, "%s:%lu: host %s: %s", l->src, l->lineno,
	    l->host ? l->host : "unknown", what);
}

/* the host a broken line probably came from: "host": "NAME" somewhere in it */
static void
guess_host(const char *s, size_t n, char out[HOST_MAX + 1])
{
	static const char key[] = "\"host\": \"", key2[] = "\"host\":\"";
	const char *p = memmem(s, n, key, sizeof key - 1);
	size_t k = 0;

	if (p != NULL)
		p += sizeof key - 1;
	else if ((p = memmem(s, n, key2, sizeof key2 - 1)) != NULL)
		p += sizeof key2 - 1;
	if (p != NULL)
		while (p + k < s + n && k < HOST_MAX && p[k] != '"' && p[k] != '\\' &&
		    (unsigned char)p[k] > ' ')
			k++;
	if (p == NULL || k == 0 || p + k >= s + n || p[k] != '"')
		snprintf(out, HOST_MAX + 1, "unknown");
	else
		snprintf(out, HOST_MAX + 1, "probably %.*s", (int)k, p);
}

static int
get_int(const struct line *l, const struct lq_jval *o, const char *name, int64_t min,
    int64_t *out)
{
	const struct lq_jval *v = lq_json_get(o, name);

	if (v == NULL)
		return bad(l, "no \"%s\"", name);
	if (v->type != LQ_J_NUM || !v->is_int || v->i < min)
		return bad(l, "\"%s\" is not %s", name, min == 0 ? "a whole number >= 0" :
		    "a whole number");
	*out = v->i;
	return 0;
}

static int
get_count(const struct line *l, const struct lq_jval *o, const char *name, unsigned long *out)
{
	int64_t v = 0;

	if (get_int(l, o, name, 0, &v) < 0)
		return -1;
	if ((uint64_t)v > (uint64_t)(unsigned long)-1 / 2)
		return bad(l, "\"%s\" is too large", name);
	*out = (unsigned long)v;
	return 0;
}

static int
get_str(const struct line *l, const struct lq_jval *o, const char *name, const char **out)
{
	const struct lq_jval *v = lq_json_get(o, name);

	if (v == NULL)
		return bad(l, "no \"%s\"", name);
	if (v->type != LQ_J_STR || v->len == 0 || strlen(v->s) != v->len)
		return bad(l, "\"%s\" is not a string", name);
	*out = v->s;
	return 0;
}

/* n bounds of a "buckets" member as text, for messages */
static void
bounds_text(char *buf, size_t size, const time_t *b, size_t n)
{
	size_t k = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && k < size; i++)
		k += snprintf(buf + k, size - k, "%s%lld", i ? "," : "[", (long long)b[i]);
	if (k < size)
		snprintf(buf + k, size - k, "]");
}

static int
host_record(struct lq_merge *m, struct mhost *h, const struct line *l, const struct lq_jval *o)
{
	const struct lq_jval *b = lq_json_get(o, "buckets"), *a = lq_json_get(o, "ages"), *v;
	time_t bounds[LQ_AGE_BUCKETS_MAX];
	unsigned long sum = 0;
	size_t n = 0;

	if (h->has_host)
		return bad(l, "a second host record (the first: %s:%lu): two hosts answer as %s; "
		    "give each its own name (qsumm --json --host NAME)", h->src, h->host_line,
		    h->name);
	if (get_count(l, o, "messages", &h->messages) < 0 ||
	    get_count(l, o, "matched", &h->matched) < 0 ||
	    get_count(l, o, "frozen", &h->frozen) < 0 ||
	    get_int(l, o, "bytes", 0, &h->bytes) < 0)
		return -1;
	if (h->matched > h->messages || h->frozen > h->matched)
		return bad(l, "frozen %lu, matched %lu, messages %lu do not add up", h->frozen,
		    h->matched, h->messages);
	if (b == NULL || b->type != LQ_J_ARR || b->n == 0 || b->n > LQ_AGE_BUCKETS_MAX)
		return bad(l, "\"buckets\" is not a list of 1 to %d ages", LQ_AGE_BUCKETS_MAX);
	for (v = b->first; v != NULL; v = v->next, n++) {
		if (v->type != LQ_J_NUM || !v->is_int || v->i <= 0 ||
		    (n > 0 && v->i <= bounds[n - 1]))
			return bad(l, "\"buckets\" must be growing whole numbers of seconds");
		bounds[n] = (time_t)v->i;
	}
	if (a == NULL || a->type != LQ_J_ARR || a->n != n + 1)
		return bad(l, "\"ages\" does not have %zu counts (one more than \"buckets\")", n + 1);
	n = 0;
	for (v = a->first; v != NULL; v = v->next, n++) {
		if (v->type != LQ_J_NUM || !v->is_int || v->i < 0 ||
		    (uint64_t)v->i > (uint64_t)(unsigned long)-1 / 2)
			return bad(l, "\"ages\" must be whole numbers >= 0");
		h->ages[n] = (unsigned long)v->i;
		sum += h->ages[n];
	}
	if (sum != h->matched)
		return bad(l, "the \"ages\" add up to %lu, not to the %lu messages matched", sum,
		    h->matched);
	n = b->n;
	if (m->nbounds == 0) {
		memcpy(m->bounds, bounds, n * sizeof *bounds);
		m->nbounds = n;
		m->bounds_host = h;
	} else if (m->nbounds != n || memcmp(m->bounds, bounds, n * sizeof *bounds) != 0) {
		char mine[256], theirs[256];

		bounds_text(mine, sizeof mine, bounds, n);
		bounds_text(theirs, sizeof theirs, m->bounds, m->nbounds);
		return bad(l, "age buckets %s differ from host %s's %s (%s:%lu): run qsumm --json "
		    "with the same --age-buckets on every host", mine, m->bounds_host->name, theirs,
		    m->bounds_host->src, m->bounds_host->host_line);
	}
	h->has_host = 1;
	h->host_line = l->lineno;
	return 0;
}

/* Every host's rows must have the same keys: by, as qsumm --by names them. */
static int
same_keys(struct lq_merge *m, const struct mhost *h, const struct line *l, const char *by)
{
	if (m->by_host == NULL) {
		if (strlen(by) >= sizeof m->by)
			return bad(l, "too many keys");
		strcpy(m->by, by);
		m->by_host = h;
		m->by_line = l->lineno;
		return 0;
	}
	if (strcmp(m->by, by) != 0)
		return bad(l, "rows by %s differ from host %s's by %s (line %lu): run qsumm --json "
		    "with the same --by on every host", by, m->by_host->name, m->by, m->by_line);
	return 0;
}

/* A "domain" record (qsumm --json), or a "group" record (with --by): its keys' values. */
static int
row_key(struct lq_merge *m, struct mhost *h, const struct line *l, const struct lq_jval *o,
    int group, char *key, size_t *keylen)
{
	const struct lq_jval *by, *v, *n;
	char names[128] = "";
	size_t k = 0, nk = 0;

	if (!group) {
		const char *dom;

		if (get_str(l, o, "domain", &dom) < 0 || same_keys(m, h, l, "domain") < 0)
			return -1;
		if (strlen(dom) >= KEY_BYTES)
			return bad(l, "\"domain\" is too long");
		memcpy(key, dom, (*keylen = strlen(dom) + 1));
		return 0;
	}
	if ((by = lq_json_get(o, "by")) == NULL || by->type != LQ_J_ARR || by->n == 0 ||
	    by->n > LQ_SUM_KEYS_MAX)
		return bad(l, "\"by\" is not a list of 1 to %d keys", LQ_SUM_KEYS_MAX);
	for (n = by->first; n != NULL; n = n->next) {
		if (n->type != LQ_J_STR || n->len == 0 || n->len > 32 || strlen(n->s) != n->len)
			return bad(l, "\"by\" is not a list of key names");
		if ((v = lq_json_get(o, n->s)) == NULL || v->type != LQ_J_STR ||
		    strlen(v->s) != v->len)
			return bad(l, "no string \"%s\" (a key in \"by\")", n->s);
		if (v->len + 1 > KEY_BYTES - k)
			return bad(l, "\"%s\" is too long", n->s);
		memcpy(key + k, v->s, v->len + 1);
		k += v->len + 1;
		nk += (size_t)snprintf(names + nk, sizeof names - nk, "%s%s", nk ? "," : "", n->s);
	}
	*keylen = k;
	return same_keys(m, h, l, names);
}

static int
domain_record(struct lq_merge *m, struct mhost *h, const struct line *l,
    const struct lq_jval *o, int group)
{
	struct mdomain find, *d;
	char key[KEY_BYTES];
	size_t keylen = 0;
	int64_t oldest, newest;
	unsigned long count;
	int64_t bytes;

	if (row_key(m, h, l, o, group, key, &keylen) < 0 ||
	    get_count(l, o, "count", &count) < 0 ||
	    get_int(l, o, "bytes", 0, &bytes) < 0 || get_int(l, o, "oldest", INT64_MIN, &oldest) < 0 ||
	    get_int(l, o, "newest", INT64_MIN, &newest) < 0)
		return -1;
	if (oldest > newest)
		return bad(l, "%s %.80s: oldest %lld is after newest %lld", group ? "row" : "domain",
		    key, (long long)oldest, (long long)newest);
	find.key = key;
	find.keylen = keylen;
	if (RB_FIND(mdomain_tree, &h->domains, &find) != NULL)
		return bad(l, "%s %.80s a second time: two hosts answer as %s, or their output "
		    "was mixed; give each its own name (qsumm --json --host NAME)",
		    group ? "row" : "domain", key, h->name);
	if ((d = calloc(1, sizeof *d)) == NULL || (d->key = malloc(keylen)) == NULL) {
		free(d);
		return lq_err_set(l->err, LQ_ENOMEM, "out of memory");
	}
	memcpy(d->key, key, keylen);
	d->keylen = keylen;
	d->count = count;
	d->bytes = bytes;
	d->oldest = (time_t)oldest;
	d->newest = (time_t)newest;
	RB_INSERT(mdomain_tree, &h->domains, d);
	return 0;
}

static int
end_record(struct mhost *h, const struct line *l, const struct lq_jval *o)
{
	struct lq_json_end *e = &h->end;
	int64_t now;

	if (get_int(l, o, "now", INT64_MIN, &now) < 0 ||
	    get_count(l, o, "scanned", &e->scanned) < 0 ||
	    get_count(l, o, "matched", &e->matched) < 0 ||
	    get_count(l, o, "skipped", &e->skipped) < 0 ||
	    get_count(l, o, "errors", &e->errors) < 0)
		return -1;
	e->now = (time_t)now;
	if (!h->has_host)
		return bad(l, "an end record without a host record before it: not what qsumm "
		    "--json prints (--merge does not read qls or qgrep --json)");
	if (e->matched != h->matched || e->scanned != h->messages)
		return bad(l, "the end record (%lu matched of %lu) and the host record (%lu of "
		    "%lu) disagree", e->matched, e->scanned, h->matched, h->messages);
	h->ended = 1;
	h->end_line = l->lineno;
	return 0;
}

static int
valid_host(const char *s, size_t n)
{
	if (n == 0 || n > HOST_MAX || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

int
lq_merge_line(struct lq_merge *m, const char *src, unsigned long lineno, const char *s,
    size_t n, struct lq_err *err)
{
	char guess[HOST_MAX + 1], *prefix = NULL;
	struct line l = { src, lineno, NULL, err };
	const struct lq_jval *o, *v, *t, *hv;
	const char *body = s, *type, *mta;
	struct mhost find, *h;
	enum lq_mta mtaval;
	int rc = -1;

	if (n == 0 || s[n - 1] != '\n') {
		guess_host(s, n, guess);
		l.host = guess;
		return bad(&l, "the last line is cut short (no newline at its end): the output "
		    "was truncated");
	}
	n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	while (n > 0 && isspace((unsigned char)*body))
		body++, n--;
	if (n == 0)
		return 0;		/* an empty line */
	if (n > LINE_MAX_BYTES) {
		guess_host(body, 4096, guess);
		l.host = guess;
		return bad(&l, "a line of more than %d bytes", LINE_MAX_BYTES);
	}
	/* "host: {...}": what pdsh and clush (without -N) put before each line */
	if (*body != '{') {
		size_t k = 0;

		while (k < n && !isspace((unsigned char)body[k]) && body[k] != ':' && body[k] != '{' &&
		    body[k] != '"')
			k++;
		if (k == 0 || k > HOST_MAX || k + 2 > n || body[k] != ':' || body[k + 1] != ' ') {
			guess_host(body, n, guess);
			l.host = guess;
			return bad(&l, "neither a JSON object nor \"host: \" and one: not qsumm "
			    "--json output");
		}
		snprintf(guess, sizeof guess, "%.*s", (int)k, body);
		l.host = guess;
		if ((prefix = strdup(guess)) == NULL)
			return lq_err_set(err, LQ_ENOMEM, "out of memory");
		body += k + 2;
		n -= k + 2;
	}
	lq_arena_reset(m->arena);
	if ((o = lq_json_parse(m->arena, body, n, err)) == NULL) {
		char what[sizeof err->msg];

		if (err->code == LQ_ENOMEM)
			goto out;
		snprintf(what, sizeof what, "%s", err->msg);
		if (l.host == NULL) {
			guess_host(body, n, guess);
			l.host = guess;
		}
		bad(&l, "not one whole JSON object (%s): the output was cut short, or lines of "
		    "two hosts ran into each other", what);
		goto out;
	}
	if (o->type != LQ_J_OBJ) {
		bad(&l, "a JSON value that is not an object");
		goto out;
	}
	hv = lq_json_get(o, "host");
	if (hv != NULL && hv->type == LQ_J_STR && valid_host(hv->s, hv->len))
		l.host = hv->s;
	if ((v = lq_json_get(o, "v")) == NULL) {
		bad(&l, "no \"v\" (schema version): not qtools --json output");
		goto out;
	}
	if (v->type != LQ_J_NUM || !v->is_int || v->i < 1) {
		bad(&l, "\"v\" is not a schema version");
		goto out;
	}
	if (v->i > LQ_JSON_VERSION) {
		bad(&l, "schema version %lld, newer than the version %d this qsumm reads: use "
		    "the same qtools here as on the hosts, or a newer one", (long long)v->i,
		    LQ_JSON_VERSION);
		goto out;
	}
	if (hv == NULL || hv->type != LQ_J_STR || !valid_host(hv->s, hv->len)) {
		bad(&l, "\"host\" is %s", hv == NULL ? "missing" : "not a host name");
		goto out;
	}
	if ((t = lq_json_get(o, "type")) == NULL || t->type != LQ_J_STR) {
		bad(&l, "no \"type\"");
		goto out;
	}
	type = t->s;
	if (get_str(&l, o, "mta", &mta) < 0)
		goto out;
	if (lq_mta_from_name(mta, &mtaval) < 0 || mtaval == LQ_MTA_ANY) {
		bad(&l, "\"mta\" %s is not exim, postfix or qmail", mta);
		goto out;
	}
	mta = lq_mta_name(mtaval);

	find.name = (char *)hv->s;
	if ((h = RB_FIND(mhost_tree, &m->hosts, &find)) == NULL) {
		/* a "host: " prefix stands for one host only */
		if (prefix != NULL)
			RB_FOREACH(h, mhost_tree, &m->hosts)
				if (h->prefix != NULL && strcmp(h->prefix, prefix) == 0) {
					bad(&l, "lines under \"%s: \" come from two hosts, %s (%s:%lu) and %s",
					    prefix, h->name, h->src, h->line, hv->s);
					goto out;
				}
		if ((h = calloc(1, sizeof *h)) == NULL || (h->name = strdup(hv->s)) == NULL ||
		    (h->src = strdup(src)) == NULL) {
			if (h != NULL)
				free(h->name);
			free(h);
			lq_err_set(err, LQ_ENOMEM, "out of memory");
			goto out;
		}
		RB_INIT(&h->domains);
		h->prefix = prefix;
		prefix = NULL;
		h->line = lineno;
		h->mta = mta;
		RB_INSERT(mhost_tree, &m->hosts, h);
	} else {
		if ((prefix == NULL) != (h->prefix == NULL) ||
		    (prefix != NULL && strcmp(prefix, h->prefix) != 0)) {
			bad(&l, "two hosts answer as %s: its lines came %s%s%s at %s:%lu, and %s%s%s "
			    "here; give each its own name (qsumm --json --host NAME)", h->name,
			    h->prefix ? "under \"" : "without a \"host: \" prefix",
			    h->prefix ? h->prefix : "", h->prefix ? ": \"" : "", h->src, h->line,
			    prefix ? "under \"" : "without one", prefix ? prefix : "",
			    prefix ? ": \"" : "");
			goto out;
		}
		if (h->ended) {
			bad(&l, "a record after its end record (%s:%lu): two hosts answer as %s, or "
			    "its output was sent twice; give each host its own name (qsumm --json "
			    "--host NAME)", h->src, h->end_line, h->name);
			goto out;
		}
		if (strcmp(h->mta, mta) != 0) {
			bad(&l, "%s records after %s records (%s:%lu): two hosts answer as %s", mta,
			    h->mta, h->src, h->line, h->name);
			goto out;
		}
	}
	if (strcmp(type, "domain") == 0 || strcmp(type, "group") == 0)
		rc = domain_record(m, h, &l, o, type[0] == 'g');
	else if (strcmp(type, "host") == 0)
		rc = host_record(m, h, &l, o);
	else if (strcmp(type, "end") == 0)
		rc = end_record(h, &l, o);
	else if (strcmp(type, "message") == 0)
		bad(&l, "a message record (qls or qgrep --json): --merge reads what qsumm --json "
		    "prints");
	else
		bad(&l, "a record of type \"%.40s\", unknown to this qsumm", type);
out:
	free(prefix);
	return rc;
}

/* ---------------------------------------------------------------- the tables */

unsigned long
lq_merge_matched(const struct lq_merge *m)
{
	struct mhost *h;
	unsigned long n = 0;

	RB_FOREACH(h, mhost_tree, (struct mhost_tree *)&m->hosts)
		if (h->ended)
			n += h->matched;
	return n;
}

/* does host h answer for the expected name e? */
static int
answers_for(const struct mhost *h, const char *e)
{
	size_t n = strlen(e);

	return strcmp(h->name, e) == 0 || (strncmp(h->name, e, n) == 0 && h->name[n] == '.') ||
	    (h->prefix != NULL && strcmp(h->prefix, e) == 0);
}

static void
age_label(char *buf, size_t size, const char *rel, time_t t)
{
	static const struct { time_t secs; char unit; } u[] = {
		{ 604800, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};

	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
		if (t % u[i].secs == 0) {
			snprintf(buf, size, "%s%lld%c", rel, (long long)(t / u[i].secs), u[i].unit);
			return;
		}
}

static int
digits(unsigned long long v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

struct row {
	const char *name;
	const struct mhost *h;	/* NULL: expected, no answer */
};

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->name, ((const struct row *)b)->name);
}

int
lq_merge_write(FILE *out, struct lq_merge *m, unsigned sumflags, lq_merge_problem_fn fn,
    void *arg)
{
	struct lq_summary *sum;
	struct mhost *h;
	struct mdomain *d;
	struct row *rows;
	size_t nrows = 0, nhosts = 0, i;
	unsigned long tot[3] = { 0 }, ages[LQ_AGE_BUCKETS_MAX + 1] = { 0 };
	long long bytes = 0;
	int fatal = 0, wname = 5, wnum = 7, wbytes = 5, wage[LQ_AGE_BUCKETS_MAX + 1];
	char label[LQ_AGE_BUCKETS_MAX + 1][32];

	RB_FOREACH(h, mhost_tree, &m->hosts)
		nhosts++;
	if ((rows = calloc(nhosts + m->nexpect + 1, sizeof *rows)) == NULL)
		return -1;
	RB_FOREACH(h, mhost_tree, &m->hosts) {
		rows[nrows].name = h->name;
		rows[nrows++].h = h;
		for (i = 0; i < m->nexpect; i++)
			if (answers_for(h, m->expect[i]))
				h->expected = 1;
	}
	for (i = 0; i < m->nexpect; i++) {
		int found = 0;

		RB_FOREACH(h, mhost_tree, &m->hosts)
			if (answers_for(h, m->expect[i]))
				found = 1;
		if (!found)
			rows[nrows++].name = m->expect[i];
	}
	qsort(rows, nrows, sizeof *rows, row_cmp);
	/* what is wrong, host by host; and the totals of the hosts counted */
	for (i = 0; i < nrows; i++) {
		const struct mhost *rh = rows[i].h;

		if (rh == NULL || !rh->ended) {
			fn(rows[i].name, rh == NULL ? "no answer" :
			    "its output was cut short (no end record): not counted", 1, arg);
			fatal++;
			continue;
		}
		if (rh->end.errors > 0) {
			fn(rh->name, "reported errors: what it could not read is not counted", 1, arg);
			fatal++;
		} else if (m->nexpect > 0 && !rh->expected)
			fn(rh->name, "answered, but is not in --expect (counted)", 0, arg);
		tot[0] += rh->messages;
		tot[1] += rh->matched;
		tot[2] += rh->frozen;
		/* held at the limit: the hosts' sizes come from their spool files */
		if (__builtin_add_overflow(bytes, rh->bytes, &bytes))
			bytes = rh->bytes > 0 ? LLONG_MAX : LLONG_MIN;
		for (size_t k = 0; k <= m->nbounds; k++)
			ages[k] += rh->ages[k];
	}

	/* ---- hosts, as mco exim size */
	for (i = 0; i < nrows; i++)
		if ((int)strlen(rows[i].name) > wname)
			wname = (int)strlen(rows[i].name);
	if (digits(tot[0]) > wnum)
		wnum = digits(tot[0]);
	if (digits((unsigned long long)bytes) > wbytes)
		wbytes = digits((unsigned long long)bytes);
	fprintf(out, "%-*s  %*s  %*s  %*s  %*s\n", wname, "Host", wnum, "Total", wnum, "Matched",
	    wnum, "Frozen", wbytes, "Bytes");
	for (i = 0; i < nrows; i++) {
		const struct mhost *rh = rows[i].h;

		if (rh != NULL && rh->ended)
			fprintf(out, "%-*s  %*lu  %*lu  %*lu  %*lld", wname, rows[i].name, wnum,
			    rh->messages, wnum, rh->matched, wnum, rh->frozen, wbytes,
			    (long long)rh->bytes);
		else
			fprintf(out, "%-*s  %*s  %*s  %*s  %*s", wname, rows[i].name, wnum, "-", wnum,
			    "-", wnum, "-", wbytes, "-");
		if (rh == NULL)
			fputs("  no answer", out);
		else if (!rh->ended)
			fputs("  cut short: not counted", out);
		else if (rh->end.errors > 0)
			fprintf(out, "  %lu error%s", rh->end.errors, rh->end.errors == 1 ? "" : "s");
		else if (m->nexpect > 0 && !rh->expected)
			fputs("  not expected", out);
		putc('\n', out);
	}
	fprintf(out, "%-*s  %*lu  %*lu  %*lu  %*lld\n", wname, "TOTAL", wnum, tot[0], wnum, tot[1],
	    wnum, tot[2], wbytes, bytes);

	/* ---- domains, as exiqsumm (volume: the exact bytes) */
	if ((sum = lq_summary_new(sumflags & (LQ_SUM_BY_AGE | LQ_SUM_BY_COUNT), 0)) == NULL ||
	    (m->by_host != NULL && lq_summary_set_keys(sum, m->by, NULL) < 0)) {
		lq_summary_free(sum);
		free(rows);
		return -1;
	}
	RB_FOREACH(h, mhost_tree, &m->hosts) {
		if (!h->ended)
			continue;
		RB_FOREACH(d, mdomain_tree, &h->domains)
			if (lq_summary_put(sum, d->key, d->keylen, d->count, d->bytes, h->end.now - d->oldest,
			    h->end.now - d->newest) < 0) {
				lq_summary_free(sum);
				free(rows);
				return -1;
			}
	}
	lq_summary_write(out, sum);
	lq_summary_free(sum);

	/* ---- messages by age, per host */
	if (m->nbounds > 0) {
		for (i = 0; i <= m->nbounds; i++) {
			if (i < m->nbounds)
				age_label(label[i], sizeof label[i], "<", m->bounds[i]);
			else
				age_label(label[i], sizeof label[i], ">=", m->bounds[i - 1]);
			wage[i] = (int)strlen(label[i]);
			if (digits(ages[i]) > wage[i])
				wage[i] = digits(ages[i]);
		}
		fprintf(out, "%-*s", wname, "Age");
		for (i = 0; i <= m->nbounds; i++)
			fprintf(out, "  %*s", wage[i], label[i]);
		putc('\n', out);
		for (size_t r = 0; r < nrows; r++) {
			if (rows[r].h == NULL || !rows[r].h->ended)
				continue;
			fprintf(out, "%-*s", wname, rows[r].name);
			for (i = 0; i <= m->nbounds; i++)
				fprintf(out, "  %*lu", wage[i], rows[r].h->ages[i]);
			putc('\n', out);
		}
		fprintf(out, "%-*s", wname, "TOTAL");
		for (i = 0; i <= m->nbounds; i++)
			fprintf(out, "  %*lu", wage[i], ages[i]);
		putc('\n', out);
	}
	free(rows);
	return fatal;
}
