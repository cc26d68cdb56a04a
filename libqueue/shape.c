/*
 * shape.c -- Postfix's qshape: per recipient (or sender) domain, how many addresses are
 * waiting, by message age in geometric (or linear) buckets. Every rule is qshape's own
 * (Postfix 3.7, the Perl script): which messages count, how an address becomes a domain,
 * the parent domains of -p, the bucket of an age, the column widths, the order of rows.
 * One thing cannot be copied: qshape leaves rows with the same count and the same name
 * length in Perl's hash order, which changes from run to run; here they come in byte
 * order of their names.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* libbsd leaves __unused undefined (it clashes with Linux headers); tree.h wants it */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/sys/tree.h>

struct row {
	RB_ENTRY(row) link;
	char *key;
	size_t len;
	unsigned long sub;	/* subdomains seen (parent domains) */
	unsigned long count[];	/* [0] all, [1..buckets] by age */
};

static int
row_cmp(const struct row *a, const struct row *b)
{
	return strcmp(a->key, b->key);
}

RB_HEAD(row_tree, row);
RB_GENERATE_STATIC(row_tree, row, link, row_cmp)

struct lq_shape {
	struct row_tree tree;
	struct lq_shape_opts o;
	time_t now;
	size_t n;
	struct lq_buf tmp;
};

struct lq_shape *
lq_shape_new(const struct lq_shape_opts *o, time_t now, struct lq_err *err)
{
	struct lq_shape *s;

	if (o->buckets > 1000) {
		lq_err_set(err, LQ_EUSAGE, "--buckets %d: at most 1000", o->buckets);
		return NULL;
	}
	if (o->width > 100000) {
		lq_err_set(err, LQ_EUSAGE, "--width %d: too wide", o->width);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		lq_err_set(err, LQ_ENOMEM, "out of memory");
		return NULL;
	}
	RB_INIT(&s->tree);
	s->now = now;
	s->o = *o;
	/* qshape keeps its defaults for values that are not above its limits */
	if (s->o.buckets <= 0)
		s->o.buckets = 10;
	if (!(s->o.bucket_time > 0))
		s->o.bucket_time = 5;
	if (s->o.min_subdomains <= 0)
		s->o.min_subdomains = 5;
	if (s->o.width <= 80)
		s->o.width = 80;
	return s;
}

void
lq_shape_free(struct lq_shape *s)
{
	struct row *r, *next;

	if (s == NULL)
		return;
	RB_FOREACH_SAFE(r, row_tree, &s->tree, next) {
		RB_REMOVE(row_tree, &s->tree, r);
		free(r->key);
		free(r);
	}
	lq_buf_free(&s->tmp);
	free(s);
}

static struct row *
row_get(struct lq_shape *s, const char *key)
{
	struct row find = { .key = (char *)key }, *r;

	if ((r = RB_FIND(row_tree, &s->tree, &find)) != NULL)
		return r;
	if ((r = calloc(1, sizeof *r + (s->o.buckets + 1) * sizeof r->count[0])) == NULL ||
	    (r->key = strdup(key)) == NULL) {
		free(r);
		return NULL;
	}
	r->len = strlen(key);
	RB_INSERT(row_tree, &s->tree, r);
	s->n++;
	return r;
}

/* bucket(): 1 for less than one bucket_time, then 2 + log2 (or the multiple), capped */
static int
bucket(const struct lq_shape *s, time_t t)
{
	double m = (double)(s->now - t) / (60 * s->o.bucket_time), b;

	if (m < 1)
		return 1;
	b = s->o.linear ? trunc(m + 1) : 2 + trunc(log(m) / log(2));
	return b < s->o.buckets ? (int)b : s->o.buckets;
}

/* $a =~ s/^(?:\.)?[^.]+\.(.*\.)/.$1/: the parent of a domain that has one (not a TLD) */
static int
parent(char *a)
{
	char *p = a, *dot, *last;

	if (*p == '.')
		p++;
	if (*p == '.' || *p == '\0' || (dot = strchr(p, '.')) == NULL)
		return 0;
	if ((last = strrchr(dot + 1, '.')) == NULL)
		return 0;
	/* "." then everything after the first label */
	memmove(a + 1, dot + 1, strlen(dot + 1) + 1);
	a[0] = '.';
	return 1;
}

static int
tally(struct lq_shape *s, const char *addr, int b)
{
	struct row *total = row_get(s, "TOTAL"), *r;
	char *a, *p, *o;
	size_t n;
	int new = 0;

	if (total == NULL)
		return -1;
	total->count[0]++;
	total->count[b]++;
	/* lc (ASCII); "MAILER-DAEMON" for <>; s/.*\@//; s/\.\././g; s/\.?(.+?)\.?$/$1/ */
	n = strlen(addr);
	s->tmp.len = 0;
	if (lq_buf_reserve(&s->tmp, n + 16) < 0)
		return -1;
	a = s->tmp.data;
	if (*addr == '\0')
		strcpy(a, "MAILER-DAEMON");
	else {
		for (p = (char *)addr, o = a; *p; p++)
			*o++ = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
		*o = '\0';
	}
	if ((p = strrchr(a, '@')) != NULL)
		memmove(a, p + 1, strlen(p + 1) + 1);
	for (p = a, o = a; *p; p++) {
		*o++ = *p;
		if (p[0] == '.' && p[1] == '.')
			p++;
	}
	*o = '\0';
	n = o - a;
	if (n >= 2 && a[0] == '.') {
		memmove(a, a + 1, n--);
	}
	if (n >= 2 && a[n - 1] == '.')
		a[--n] = '\0';
	do {
		int old;

		if ((r = row_get(s, a)) == NULL)
			return -1;
		old = ++r->count[0] > 1;
		r->count[b]++;
		if (new)
			r->sub++;
		new = !old;
	} while (s->o.parents && parent(a));
	return 0;
}

int
lq_shape_add(struct lq_shape *s, const struct lq_msg *m)
{
	size_t n = 0;
	int b;

	/* qshape reads only files with mode 0700 (not forced expiries) written by cleanup,
	 * and only those with a recipient still to do: qenv() */
	if (m->flags & (LQ_MSG_EXPIRED | LQ_MSG_POSTDROP))
		return 0;
	for (size_t i = 0; i < m->nrcpt; i++) {
		unsigned f = m->rcpt[i].flags;

		if (LQ_RCPT_PENDING(f))
			n++;
	}
	if (n == 0)
		return 0;
	b = bucket(s, m->arrival);
	if (s->o.by_sender)
		return tally(s, m->sender, b);
	for (size_t i = 0; i < m->nrcpt; i++) {
		unsigned f = m->rcpt[i].flags;

		if (LQ_RCPT_PENDING(f) && tally(s, m->rcpt[i].address, b) < 0)
			return -1;
	}
	return 0;
}

static int
rank_cmp(const void *pa, const void *pb)
{
	const struct row *a = *(struct row *const *)pa, *b = *(struct row *const *)pb;

	if (a->count[0] != b->count[0])
		return a->count[0] < b->count[0] ? 1 : -1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return strcmp(a->key, b->key);
}

/*
 * A bucket heading as qshape's Perl holds it: $t starts as the integer 0 and grows by
 * "$t += $t" (or "+= $tick"). Perl adds in integers (IV, or UV above 2^63) when both sides
 * are integers or doubles that hold an integer below 2^53, and then the sum stays an
 * integer unless it passes 2^64; otherwise it adds doubles (NV). An integer prints in full,
 * a double as "%.15g" (infinity as "Inf"). So 100000000 doubled 24 times is
 * 1677721600000000, not 1.6777216e+15; and 0.05 doubled stays a double until it holds an
 * integer, from the doubling after that on.
 */
struct perlnum {
	int isint;	/* IV/UV: u; else NV: d */
	uint64_t u;
	double d;
};

static int
perl_as_int(const struct perlnum *n, uint64_t *u)
{
	if (n->isint) {
		*u = n->u;
		return 1;
	}
	if (n->d >= 0 && n->d < 9007199254740992.0 && n->d == trunc(n->d)) {
		*u = (uint64_t)n->d;
		return 1;
	}
	return 0;
}

static double
perl_nv(const struct perlnum *n)
{
	return n->isint ? (double)n->u : n->d;
}

static void
perl_add(struct perlnum *t, const struct perlnum *a)
{
	uint64_t x, y;

	if (perl_as_int(t, &x) && perl_as_int(a, &y)) {
		if (x <= UINT64_MAX - y) {
			t->isint = 1;
			t->u = x + y;
			return;
		}
		t->isint = 0;
		t->d = (double)x + (double)y;
		return;
	}
	t->d = perl_nv(t) + perl_nv(a);
	t->isint = 0;
}

static void
perl_str(char *buf, size_t size, const struct perlnum *n)
{
	if (n->isint)
		snprintf(buf, size, "%" PRIu64, n->u);
	else if (isinf(n->d))
		snprintf(buf, size, "%s", n->d > 0 ? "Inf" : "-Inf");
	else
		snprintf(buf, size, "%.15g", n->d);
}

/* pdomain(): the name right-aligned in dw columns (or its tail), then the counts */
static void
print_row(FILE *out, const char *d, int dw, char *const *cells, const int *w, int ncells)
{
	int len = (int)strlen(d);

	if (len > dw) {
		if (d[0] == '.')
			fprintf(out, ".+%.*s", dw - 2 > 0 ? dw - 2 : 0, d + len - dw + 2);
		else
			fprintf(out, "+%.*s", dw - 1 > 0 ? dw - 1 : 0, d + len - dw + 1);
	} else
		fprintf(out, "%*s%s", dw - len, "", d);
	for (int i = 0; i < ncells; i++)
		fprintf(out, "%*s", w[i], cells[i]);
	putc('\n', out);
}

int
lq_shape_write(FILE *out, struct lq_shape *s)
{
	int nb = s->o.buckets, dw = s->o.width, *w;
	char **cells, *buf, t[64];
	struct row **rows, *r, *total;
	struct perlnum tv = { 1, 0, 0 }, tick = { 0, 0, s->o.bucket_time };
	size_t i = 0;

	if ((total = row_get(s, "TOTAL")) == NULL)
		return -1;
	rows = reallocarray(NULL, s->n, sizeof *rows);
	w = calloc(nb + 1, sizeof *w);
	cells = calloc(nb + 1, sizeof *cells);
	buf = calloc(nb + 1, 64);
	if (rows == NULL || w == NULL || cells == NULL || buf == NULL) {
		free(rows), free(w), free(cells), free(buf);
		return -1;
	}
	/* the headings: T, then the bucket limits, as Perl computes and prints them */
	if (perl_as_int(&tick, &tick.u))
		tick.isint = 1;
	snprintf(t, sizeof t, "0");
	for (int k = 0; k <= nb; k++) {
		char num[32];
		int l;

		cells[k] = buf + 64 * k;
		snprintf(cells[k], 64, "%s", k == 0 ? "T" : t);
		l = snprintf(num, sizeof num, "%lu", total->count[k]);
		if ((int)strlen(cells[k]) >= l)
			l = (int)strlen(cells[k]);
		w[k] = l > 2 ? l + 1 : 3;
		dw -= w[k];
		if (k + 1 < nb) {
			struct perlnum add = tv;

			/* $t += ($t && !$opts{"l"}) ? $t : $tick */
			if ((tv.isint ? tv.u == 0 : tv.d == 0) || s->o.linear)
				add = tick;
			perl_add(&tv, &add);
			perl_str(t, sizeof t, &tv);
		} else {
			size_t tl = strlen(t);

			if (tl + 2 < sizeof t) {
				t[tl] = '+';
				t[tl + 1] = '\0';
			}
		}
	}
	if (dw < 18)
		dw = 18;
	print_row(out, "", dw, cells, w, nb + 1);
	RB_FOREACH(r, row_tree, &s->tree)
		rows[i++] = r;
	qsort(rows, s->n, sizeof *rows, rank_cmp);
	for (i = 0; i < s->n; i++) {
		r = rows[i];
		if (r->key[0] == '.' && (double)r->sub < s->o.min_subdomains)
			continue;
		for (int k = 0; k <= nb; k++)
			snprintf(cells[k], 64, "%lu", r->count[k]);
		print_row(out, r->key, dw, cells, w, nb + 1);
	}
	free(rows), free(w), free(cells), free(buf);
	return ferror(out) ? -1 : 0;
}
