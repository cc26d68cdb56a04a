/*
 * summary.c -- per-domain summaries. The table is exiqsumm's, to the byte: it counts
 * recipients still to be delivered (not messages), adds the message's size as shown in
 * the -bp size column for each of them, and keeps the oldest and newest age per domain.
 * With other keys (qsumm --by KEY[,KEY], lq_summary_set_keys) a row is one value of the
 * keys, and counts messages: a message once in each row it has a value of.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* libbsd leaves __unused undefined (it clashes with Linux headers); tree.h wants it */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/sys/tree.h>

#define KEY_MAX 1024
#define PART_MAX 1023	/* one key's value is cut to this many bytes */

/* The keys of qsumm --by, in lq_summary_set_keys's order of names. */
enum sumkey { K_DOMAIN, K_SENDER, K_SENDER_DOMAIN, K_REASON, K_QUEUE, K_AGE, K_N };
static const char *const key_name[K_N] = {
	"domain", "sender", "sender-domain", "reason", "queue", "age"
};
static const char *const key_head[K_N] = {
	"Domain", "Sender", "Sender-domain", "Reason", "Queue", "Age"
};

struct domain {
	RB_ENTRY(domain) link;
	char *key;		/* the keys' values, each ending with a NUL */
	size_t keylen;
	unsigned long serial;	/* the last message counted here */
	unsigned long count;
	double volume;		/* exiqsumm sums the rounded size column, as a float */
	int64_t bytes;		/* the exact sizes, for --json */
	time_t oldest_age, newest_age;
	time_t oldest, newest;	/* arrival times */
};

static int
key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c != 0 ? c : (alen > blen) - (alen < blen);
}

static int
domain_cmp(const struct domain *a, const struct domain *b)
{
	return key_cmp(a->key, a->keylen, b->key, b->keylen);
}

RB_HEAD(domain_tree, domain);
RB_GENERATE_STATIC(domain_tree, domain, link, domain_cmp)

struct lq_summary {
	struct domain_tree tree;
	unsigned flags;
	time_t now;
	size_t n;
	enum sumkey keys[LQ_SUM_KEYS_MAX];	/* none: exiqsumm's table (by domain) */
	size_t nkeys;
	unsigned long serial;	/* messages added */
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
	while (lq_isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-')
		p++;
	if (p > at + 1) {
		*dom = at + 1;
		return p - (at + 1);
	}
	if (*p != '[')
		return 0;
	for (p++;; p++) {
		if (!lq_isdigit((unsigned char)*p))
			return 0;
		while (lq_isdigit((unsigned char)*p))
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
domain_get(struct lq_summary *s, const char *key, size_t keylen)
{
	struct domain find = { .key = (char *)key, .keylen = keylen }, *d;

	if ((d = RB_FIND(domain_tree, &s->tree, &find)) != NULL)
		return d;
	if ((d = calloc(1, sizeof *d)) == NULL || (d->key = malloc(keylen)) == NULL) {
		free(d);
		return NULL;
	}
	memcpy(d->key, key, keylen);
	d->keylen = keylen;
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
lq_summary_set_keys(struct lq_summary *s, const char *list, struct lq_err *err)
{
	const char *p = list;
	size_t n = 0;
	int k;

	for (;;) {
		size_t len = strcspn(p, ",");

		for (k = 0; k < K_N; k++)
			if (strlen(key_name[k]) == len && strncmp(p, key_name[k], len) == 0)
				break;
		if (k == K_N)
			return lq_err_set(err, LQ_EUSAGE, "%.*s: no such key (keys: domain, sender, "
			    "sender-domain, reason, queue, age)", (int)(len > 80 ? 80 : len), p);
		for (size_t i = 0; i < n; i++)
			if (s->keys[i] == (enum sumkey)k)
				return lq_err_set(err, LQ_EUSAGE, "%s: %s twice", list, key_name[k]);
		if (n == LQ_SUM_KEYS_MAX)
			return lq_err_set(err, LQ_EUSAGE, "%s: at most %d keys", list,
			    LQ_SUM_KEYS_MAX);
		s->keys[n++] = (enum sumkey)k;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	/* by domain alone: exiqsumm's own table */
	s->nkeys = n == 1 && s->keys[0] == K_DOMAIN ? 0 : n;
	return 0;
}

int
lq_summary_needs_reasons(const struct lq_summary *s)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (s->keys[i] == K_REASON)
			return 1;
	return 0;
}

/* One message (or recipient) more in a row */
static void
row_add(struct domain *d, const struct lq_msg *m, time_t age, double vol)
{
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

static size_t
part_append(char *key, size_t k, const char *v, size_t n, int lower)
{
	if (n > PART_MAX)
		n = PART_MAX;
	memcpy(key + k, v, n);
	for (size_t i = 0; lower && i < n; i++)
		key[k + i] = (char)lq_tolower((unsigned char)key[k + i]);
	key[k + n] = '\0';
	return k + n + 1;
}

/* One message into the rows of its values of the keys: with a recipient's key (domain,
 * reason), the values of each recipient still to deliver; counted once per row. */
static int
add_keyed(struct lq_summary *s, const struct lq_msg *m, time_t age, double vol,
    const char *src)
{
	char key[LQ_SUM_KEYS_MAX * (PART_MAX + 1)], agebuf[LQ_COLSIZE];
	int per_rcpt = 0;
	size_t nrows;

	for (size_t j = 0; j < s->nkeys; j++)
		per_rcpt |= s->keys[j] == K_DOMAIN || s->keys[j] == K_REASON;
	nrows = per_rcpt ? m->nrcpt : 1;
	s->serial++;
	for (size_t i = 0; i < nrows; i++) {
		const struct lq_rcpt *r = per_rcpt ? &m->rcpt[i] : NULL;
		struct domain *d;
		size_t k = 0, j;

		if (r != NULL && (r->flags & (LQ_RCPT_DONE | LQ_RCPT_EXTRA)))
			continue;
		for (j = 0; j < s->nkeys; j++) {
			const char *v = "";
			size_t n;
			int lower = 0;

			switch (s->keys[j]) {
			case K_DOMAIN:
				n = lq_rcpt_domain(r->address, &v);
				lower = 1;
				break;
			case K_SENDER:
				v = m->sender[0] != '\0' ? m->sender : "<>";
				n = strlen(v);
				break;
			case K_SENDER_DOMAIN:
				v = src;
				n = strlen(v);
				lower = 1;
				break;
			case K_REASON:
				v = r->reason != NULL ? r->reason : "";
				n = strlen(v);
				break;
			case K_QUEUE:
				v = lq_state_name(m);
				n = strlen(v);
				break;
			default:	/* K_AGE: exiqsumm's age column */
				lq_format_age(agebuf, age);
				v = agebuf + strspn(agebuf, " ");
				n = strlen(v);
				break;
			}
			if (s->keys[j] == K_DOMAIN && n == 0)
				break;	/* no domain: exiqsumm leaves it out */
			k = part_append(key, k, v, n, lower);
		}
		if (j < s->nkeys)
			continue;
		if ((d = domain_get(s, key, k)) == NULL)
			return -1;
		if (d->serial == s->serial)
			continue;
		d->serial = s->serial;
		row_add(d, m, age, vol);
	}
	return 0;
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
	if (s->nkeys > 0)
		return add_keyed(s, m, age, vol, src);
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
			*p = (char)lq_tolower((unsigned char)*p);
		if ((d = domain_get(s, key, k + 1)) == NULL)
			return -1;
		row_add(d, m, age, vol);
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
	return c != 0 ? c : key_cmp(a->key, a->keylen, b->key, b->keylen);
}

/* A key's value as the table shows it: control bytes and bytes that are not UTF-8 as
 * \xNN, an empty one (no reason) as "-". */
static void
write_shown(FILE *out, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v), u;

	if (n == 0)
		putc('-', out);
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x80 && (u = lq_utf8_len(p + i, n - i)) > 0) {
			fwrite(p + i, 1, u, out);
			i += u - 1;
		} else if (p[i] < 0x20 || p[i] >= 0x7f)
			fprintf(out, "\\x%02x", p[i]);
		else
			putc(p[i], out);
	}
}

/* The keys' values of a row, in the table, after the four columns */
static void
write_keys(FILE *out, const struct lq_summary *s, const struct domain *d)
{
	const char *v = d->key;

	for (size_t j = 0; j < s->nkeys; j++) {
		if (j > 0)
			fputs("  ", out);
		write_shown(out, v);
		v += strlen(v) + 1;
	}
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
	if (s->nkeys == 0)
		fputs("\nCount  Volume  Oldest  Newest  Domain\n"
		    "-----  ------  ------  ------  ------\n\n", out);
	else {
		fputs("\nCount  Volume  Oldest  Newest", out);
		for (size_t j = 0; j < s->nkeys; j++)
			fprintf(out, "  %s", key_head[s->keys[j]]);
		fputs("\n-----  ------  ------  ------", out);
		for (size_t j = 0; j < s->nkeys; j++)
			fprintf(out, "  %.*s", (int)strlen(key_head[s->keys[j]]),
			    "-------------");
		fputs("\n\n", out);
	}
	for (i = 0; i < s->n; i++) {
		d = rows[i];
		volume(vol, d->volume);
		lq_format_age(old, d->oldest_age);
		lq_format_age(new, d->newest_age);
		if (s->nkeys == 0)
			fprintf(out, "%5lu  %.6s  %6s  %6s  %.80s\n", d->count, vol, old, new, d->key);
		else {
			fprintf(out, "%5lu  %.6s  %6s  %6s  ", d->count, vol, old, new);
			write_keys(out, s, d);
			putc('\n', out);
		}
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
		if (s->nkeys == 0) {
			lq_json_head(out, "domain", host, mta);
			fputs(", \"domain\": ", out);
			lq_json_string(out, d->key, strlen(d->key));
		} else {
			const char *v = d->key;

			/* "by": the keys, then each key's value as a member of its name */
			lq_json_head(out, "group", host, mta);
			fputs(", \"by\": [", out);
			for (size_t j = 0; j < s->nkeys; j++)
				fprintf(out, "%s\"%s\"", j ? ", " : "", key_name[s->keys[j]]);
			putc(']', out);
			for (size_t j = 0; j < s->nkeys; j++, v += strlen(v) + 1) {
				fprintf(out, ", \"%s\": ", key_name[s->keys[j]]);
				lq_json_text(out, v, strlen(v));
			}
		}
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
lq_summary_put(struct lq_summary *s, const char *key, size_t keylen, unsigned long count,
    int64_t bytes, time_t oldest_age, time_t newest_age)
{
	struct domain *d = domain_get(s, key, keylen);

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
