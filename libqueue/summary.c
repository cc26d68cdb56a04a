/*
 * summary.c -- per-domain summaries. The table is exiqsumm's, to the byte: it counts
 * recipients still to be delivered (not messages), adds the message's size as shown in
 * the -bp size column for each of them, and keeps the oldest and newest age per domain.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* libbsd leaves __unused undefined (it clashes with Linux headers); tree.h wants it */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/sys/tree.h>

#define KEY_MAX 1024

struct domain {
	RB_ENTRY(domain) link;
	char *key;
	unsigned long count;
	double volume;		/* exiqsumm sums the rounded size column, as a float */
	int64_t bytes;		/* the exact sizes, for --json */
	time_t oldest_age, newest_age;
	time_t oldest, newest;	/* arrival times */
};

static int
domain_cmp(const struct domain *a, const struct domain *b)
{
	return strcmp(a->key, b->key);
}

RB_HEAD(domain_tree, domain);
RB_GENERATE_STATIC(domain_tree, domain, link, domain_cmp)

struct lq_summary {
	struct domain_tree tree;
	unsigned flags;
	time_t now;
	size_t n;
	/* per host, for --json: the messages counted, and their ages in buckets */
	unsigned long nmsg, frozen;
	int64_t bytes;
	time_t bounds[LQ_AGE_BUCKETS_MAX];
	size_t nbounds;
	unsigned long ages[LQ_AGE_BUCKETS_MAX + 1];
};

static const time_t default_bounds[] = { 300, 3600, 14400, 86400, 259200, 604800 };

struct lq_summary *
lq_summary_new(unsigned flags, time_t now)
{
	struct lq_summary *s = calloc(1, sizeof *s);

	if (s != NULL) {
		RB_INIT(&s->tree);
		s->flags = flags;
		s->now = now;
		s->nbounds = sizeof default_bounds / sizeof default_bounds[0];
		memcpy(s->bounds, default_bounds, sizeof default_bounds);
	}
	return s;
}

int
lq_parse_age_buckets(const char *list, time_t *bounds, size_t *n, struct lq_err *err)
{
	const char *p = list;
	char one[64];

	*n = 0;
	for (;;) {
		size_t k = strcspn(p, ",");

		if (k == 0 || k >= sizeof one)
			return lq_err_set(err, LQ_EUSAGE, "%s: not a list of ages (like 5m,1h,1d)",
			    list);
		if (*n == LQ_AGE_BUCKETS_MAX)
			return lq_err_set(err, LQ_EUSAGE, "%s: at most %d ages", list,
			    LQ_AGE_BUCKETS_MAX);
		memcpy(one, p, k);
		one[k] = '\0';
		if (lq_parse_duration(one, &bounds[*n], err) < 0)
			return -1;
		if (bounds[*n] <= 0 || (*n > 0 && bounds[*n] <= bounds[*n - 1]))
			return lq_err_set(err, LQ_EUSAGE, "%s: the ages must grow, from above 0", list);
		++*n;
		if (p[k] == '\0')
			return 0;
		p += k + 1;
	}
}

int
lq_summary_set_buckets(struct lq_summary *s, const time_t *bounds, size_t n,
    struct lq_err *err)
{
	if (n == 0 || n > LQ_AGE_BUCKETS_MAX)
		return lq_err_set(err, LQ_EUSAGE, "1 to %d age buckets", LQ_AGE_BUCKETS_MAX);
	for (size_t i = 0; i < n; i++)
		if (bounds[i] <= 0 || (i > 0 && bounds[i] <= bounds[i - 1]))
			return lq_err_set(err, LQ_EUSAGE, "the age buckets must grow, from above 0");
	memcpy(s->bounds, bounds, n * sizeof *bounds);
	s->nbounds = n;
	return 0;
}

void
lq_summary_free(struct lq_summary *s)
{
	struct domain *d, *next;

	if (s == NULL)
		return;
	RB_FOREACH_SAFE(d, domain_tree, &s->tree, next) {
		RB_REMOVE(domain_tree, &s->tree, d);
		free(d->key);
		free(d);
	}
	free(s);
}

size_t
lq_rcpt_domain(const char *addr, const char **dom)
{
	const char *at = strchr(addr, '@'), *p;
	int dots = 0;

	if (at == NULL)
		return 0;
	p = at + 1;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-')
		p++;
	if (p > at + 1) {
		*dom = at + 1;
		return p - (at + 1);
	}
	if (*p != '[')
		return 0;
	for (p++;; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p == ']' && dots == 3) {
			*dom = at + 1;
			return p + 1 - (at + 1);
		}
		if (*p != '.' || ++dots > 3)
			return 0;
	}
}

/* exiqsumm's s_conv of the size column: "1.5K" is 1.5 * 1024. The column's rounding is
 * redone here with integers (as in columns.c); tenths / 10.0 is the same double Perl reads
 * from "1.5", since both are correctly rounded. */
static double
column_bytes(int64_t size)
{
	int64_t unit, tenths, rem;

	if (size < 1024)
		return (double)size;
	if (size >= 10 * 1024 && size < 1024 * 1024)
		return (double)((size + 512) / 1024) * 1024;
	if (size >= 10 * 1024 * 1024)
		return (double)(size / (1024 * 1024) + (size % (1024 * 1024) >= 512 * 1024)) *
		    1024 * 1024;	/* not size + 512K: a damaged file may claim INT64_MAX */
	unit = size < 10 * 1024 ? 1024 : 1024 * 1024;
	tenths = size * 10 / unit;
	rem = size * 10 % unit;
	if (rem * 2 > unit || (rem * 2 == unit && (tenths & 1)))
		tenths++;
	return (double)tenths / 10.0 * (double)unit;
}

static size_t
key_append(char *key, size_t k, const char *s, size_t n)
{
	if (n > KEY_MAX - 1 - k)
		n = KEY_MAX - 1 - k;
	memcpy(key + k, s, n);
	return k + n;
}

static struct domain *
domain_get(struct lq_summary *s, const char *key)
{
	struct domain find = { .key = (char *)key }, *d;

	if ((d = RB_FIND(domain_tree, &s->tree, &find)) != NULL)
		return d;
	if ((d = calloc(1, sizeof *d)) == NULL || (d->key = strdup(key)) == NULL) {
		free(d);
		return NULL;
	}
	d->oldest_age = d->newest_age = -1;
	RB_INSERT(domain_tree, &s->tree, d);
	s->n++;
	return d;
}

/* a + b, held at the int64 limits: sizes come from spool files and may be anything */
static int64_t
add_bytes(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

int
lq_summary_add(struct lq_summary *s, const struct lq_msg *m)
{
	time_t age = s->now - m->arrival;
	double vol = column_bytes((m->flags & LQ_MSG_NO_SIZE) ? 0 : m->size);
	const char *src = "<>", *at;
	char key[KEY_MAX];

	size_t b = 0;

	/* the message, for the host's record */
	while (b < s->nbounds && age >= s->bounds[b])
		b++;
	s->ages[b]++;
	s->nmsg++;
	s->frozen += (m->flags & LQ_MSG_FROZEN) != 0;
	s->bytes = add_bytes(s->bytes, (m->flags & LQ_MSG_NO_SIZE) ? 0 : m->size);
	if (m->sender[0] != '\0')
		src = (at = strchr(m->sender, '@')) != NULL ? at + 1 : m->sender;
	for (size_t i = 0; i < m->nrcpt; i++) {
		const struct lq_rcpt *r = &m->rcpt[i];
		const char *dom;
		struct domain *d;
		size_t n, k = 0;

		if (r->flags & (LQ_RCPT_DONE | LQ_RCPT_EXTRA))
			continue;
		if ((n = lq_rcpt_domain(r->address, &dom)) == 0)
			continue;
		/* "[src > ]domain[ (b)][ (f)]", lower-cased, cut to the key buffer */
		if (s->flags & LQ_SUM_SOURCE) {
			k = key_append(key, k, src, strlen(src));
			k = key_append(key, k, " > ", 3);
		}
		k = key_append(key, k, dom, n);
		if ((s->flags & LQ_SUM_MARK_BOUNCE) && (m->flags & LQ_MSG_BOUNCE))
			k = key_append(key, k, " (b)", 4);
		if ((s->flags & LQ_SUM_MARK_FROZEN) && (m->flags & LQ_MSG_FROZEN))
			k = key_append(key, k, " (f)", 4);
		key[k] = '\0';
		for (char *p = key; *p; p++)
			*p = tolower((unsigned char)*p);
		if ((d = domain_get(s, key)) == NULL)
			return -1;
		d->count++;
		d->volume += vol;
		d->bytes = add_bytes(d->bytes, (m->flags & LQ_MSG_NO_SIZE) ? 0 : m->size);
		if (d->oldest_age < 0 || age > d->oldest_age) {
			d->oldest_age = age;
			d->oldest = m->arrival;
		}
		if (d->newest_age < 0 || age < d->newest_age) {
			d->newest_age = age;
			d->newest = m->arrival;
		}
	}
	return 0;
}

/* exiqsumm's print_volume_rounded, cut to six columns */
static void
volume(char buf[LQ_COLSIZE], double x)
{
	/* sizes come from spool files: a sum of damaged ones may be beyond any int, and
	 * converting such a double to an integer is undefined; it is cut to 6 columns anyway */
	if (x > 1e15)
		x = 1e15;
	else if (x < -1e15)
		x = -1e15;
	if (x < 10000)
		snprintf(buf, LQ_COLSIZE, "%6lld", (long long)x);
	else if (x < 10000000)
		snprintf(buf, LQ_COLSIZE, "%4lldKB", (long long)((x + 512) / 1024));
	else
		snprintf(buf, LQ_COLSIZE, "%4lldMB", (long long)((x + 512 * 1024) / (1024 * 1024)));
	buf[6] = '\0';
}

/* exiqsumm compares the age columns, not seconds; the column is monotonic in the age, so
 * comparing the columns' values compares the ages they show. */
static int
age_column_cmp(time_t a, time_t b)
{
	char x[LQ_COLSIZE], y[LQ_COLSIZE];
	const char units[] = "mhdw";
	long va, vb;
	char ua, ub;

	lq_format_age(x, a);
	lq_format_age(y, b);
	va = strtol(x, NULL, 10);
	vb = strtol(y, NULL, 10);
	ua = x[strlen(x) - 1];
	ub = y[strlen(y) - 1];
	if (ua != ub)
		return strchr(units, ua) < strchr(units, ub) ? -1 : 1;
	return (va > vb) - (va < vb);
}

static unsigned sort_flags;

static int
row_cmp(const void *pa, const void *pb)
{
	const struct domain *a = *(struct domain *const *)pa, *b = *(struct domain *const *)pb;
	int c = 0;

	if (sort_flags & LQ_SUM_BY_AGE)
		c = age_column_cmp(b->oldest_age, a->oldest_age);
	else if (sort_flags & LQ_SUM_BY_COUNT)
		c = (b->count > a->count) - (b->count < a->count);
	return c != 0 ? c : strcmp(a->key, b->key);
}

int
lq_summary_write(FILE *out, struct lq_summary *s)
{
	struct domain **rows, *d;
	unsigned long count = 0;
	double total = 0;
	time_t max_age = 0, min_age = -1;
	char vol[LQ_COLSIZE], old[LQ_COLSIZE], new[LQ_COLSIZE];
	size_t i = 0;

	if ((rows = reallocarray(NULL, s->n ? s->n : 1, sizeof *rows)) == NULL)
		return -1;
	RB_FOREACH(d, domain_tree, &s->tree)
		rows[i++] = d;
	sort_flags = s->flags;
	qsort(rows, s->n, sizeof *rows, row_cmp);
	fputs("\nCount  Volume  Oldest  Newest  Domain\n-----  ------  ------  ------  ------\n\n",
	    out);
	for (i = 0; i < s->n; i++) {
		d = rows[i];
		volume(vol, d->volume);
		lq_format_age(old, d->oldest_age);
		lq_format_age(new, d->newest_age);
		fprintf(out, "%5lu  %.6s  %6s  %6s  %.80s\n", d->count, vol, old, new, d->key);
		if (age_column_cmp(d->oldest_age, max_age) > 0)
			max_age = d->oldest_age;
		if (min_age < 0 || age_column_cmp(min_age, d->newest_age) > 0)
			min_age = d->newest_age;
		total += d->volume;
		count += d->count;
	}
	free(rows);
	fputs("---------------------------------------------------------------\n", out);
	volume(vol, total);
	lq_format_age(old, max_age);
	if (min_age < 0)
		snprintf(new, sizeof new, "0000d");
	else
		lq_format_age(new, min_age);
	fprintf(out, "%5lu  %.6s  %6s  %6s  %.80s\n\n", count, vol, old, new, "TOTAL");
	return ferror(out) ? -1 : 0;
}

int
lq_summary_write_json(FILE *out, struct lq_summary *s, const char *host, enum lq_mta mta,
    unsigned long scanned)
{
	struct domain *d;

	RB_FOREACH(d, domain_tree, &s->tree) {
		lq_json_head(out, "domain", host, mta);
		fputs(", \"domain\": ", out);
		lq_json_string(out, d->key, strlen(d->key));
		fprintf(out, ", \"count\": %lu, \"bytes\": %lld, \"oldest\": %lld, \"newest\": %lld}\n",
		    d->count, (long long)d->bytes, (long long)d->oldest, (long long)d->newest);
	}
	lq_json_head(out, "host", host, mta);
	fprintf(out, ", \"messages\": %lu, \"matched\": %lu, \"frozen\": %lu, \"bytes\": %lld, "
	    "\"buckets\": [", scanned, s->nmsg, s->frozen, (long long)s->bytes);
	for (size_t i = 0; i < s->nbounds; i++)
		fprintf(out, "%s%lld", i ? ", " : "", (long long)s->bounds[i]);
	fputs("], \"ages\": [", out);
	for (size_t i = 0; i <= s->nbounds; i++)
		fprintf(out, "%s%lu", i ? ", " : "", s->ages[i]);
	fputs("]}\n", out);
	return ferror(out) ? -1 : 0;
}

int
lq_summary_put(struct lq_summary *s, const char *key, unsigned long count, int64_t bytes,
    time_t oldest_age, time_t newest_age)
{
	struct domain *d = domain_get(s, key);

	if (d == NULL)
		return -1;
	/* a host whose clock went back: its newest message is of now */
	oldest_age = oldest_age < 0 ? 0 : oldest_age;
	newest_age = newest_age < 0 ? 0 : newest_age;
	d->count += count;
	d->volume += (double)bytes;
	d->bytes = add_bytes(d->bytes, bytes);
	if (d->oldest_age < 0 || oldest_age > d->oldest_age)
		d->oldest_age = oldest_age;
	if (d->newest_age < 0 || newest_age < d->newest_age)
		d->newest_age = newest_age;
	return 0;
}
