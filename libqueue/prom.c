/*
 * prom.c -- the queue as Prometheus metrics, in the text exposition format 0.0.4, for
 * node_exporter's textfile collector (qsumm --prom).
 *
 *	lq_prom_new	the spool's MTA and queues (lq_spool_queues), the clock, the top domains
 *	lq_prom_add	count one message
 *	lq_prom_write	every metric, # HELP and # TYPE first
 *
 * Every series has the labels mta and queue; each queue of the spool has every per-queue
 * series, 0 when it is empty, so a queue that empties does not vanish from the graphs. A
 * message is counted in exactly one queue (its lq_msg.queue), so the queues' messages add up
 * to the spool's. The scan's own metrics (errors, duration, timestamp) are given for each
 * queue the scan read: two files of one MTA that read different queues (Exim's named queues)
 * never serve the same series twice, which node_exporter refuses.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/sys/tree.h>

/* the histogram's upper bounds: 5m 1h 4h 1d 3d 1w (qsumm --json's default age buckets) */
static const time_t bounds[] = { 300, 3600, 14400, 86400, 259200, 604800 };
#define NBOUNDS (sizeof bounds / sizeof bounds[0])

struct queue {
	const char *name;
	int owned;		/* name was not the backend's: ours to free */
	unsigned long msgs, frozen, bounce, active;
	int64_t bytes;
	time_t oldest;		/* age of the oldest message, 0 when none */
	unsigned long long age_sum;
	unsigned long buckets[NBOUNDS];	/* age <= bound (not cumulative here) */
};

/* a recipient domain in one queue, for --by domain */
struct domain {
	RB_ENTRY(domain) link;
	size_t q;
	char *name;
	unsigned long msgs;
	unsigned long last;	/* the serial of the last message counted: once per message */
};

static int
domain_cmp(const struct domain *a, const struct domain *b)
{
	if (a->q != b->q)
		return a->q < b->q ? -1 : 1;
	return strcmp(a->name, b->name);
}

RB_HEAD(domain_tree, domain);
RB_GENERATE_STATIC(domain_tree, domain, link, domain_cmp)

struct lq_prom {
	enum lq_mta mta;
	time_t now;
	size_t top;
	int spool_known;	/* queues came from the spool */
	struct queue *q;
	size_t nq;
	struct domain_tree domains;
	unsigned long serial;	/* messages added */
};

static struct queue *
queue_add(struct lq_prom *p, const char *name, int copy)
{
	struct queue *q = reallocarray(p->q, p->nq + 1, sizeof *q);

	if (q == NULL)
		return NULL;
	p->q = q;
	q = &p->q[p->nq];
	memset(q, 0, sizeof *q);
	if (copy && (name = strdup(name)) == NULL)
		return NULL;
	q->name = name;
	q->owned = copy;
	p->nq++;
	return q;
}

struct lq_prom *
lq_prom_new(enum lq_mta mta, const char *const *queues, time_t now, size_t top)
{
	struct lq_prom *p = calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	p->mta = mta;
	p->now = now;
	p->top = top;
	p->spool_known = queues != NULL;
	RB_INIT(&p->domains);
	for (; queues != NULL && *queues != NULL; queues++)
		if (queue_add(p, *queues, 0) == NULL) {
			lq_prom_free(p);
			return NULL;
		}
	return p;
}

void
lq_prom_free(struct lq_prom *p)
{
	struct domain *d, *next;

	if (p == NULL)
		return;
	RB_FOREACH_SAFE(d, domain_tree, &p->domains, next) {
		RB_REMOVE(domain_tree, &p->domains, d);
		free(d->name);
		free(d);
	}
	for (size_t i = 0; i < p->nq; i++)
		if (p->q[i].owned)
			free((char *)p->q[i].name);
	free(p->q);
	free(p);
}

/* The message's domains, each counted once for its queue. */
static int
add_domains(struct lq_prom *p, size_t qi, const struct lq_msg *m)
{
	char key[256];

	for (size_t i = 0; i < m->nrcpt; i++) {
		const struct lq_rcpt *r = &m->rcpt[i];
		struct domain find = { .q = qi, .name = key }, *d;
		const char *dom;
		size_t n;

		if (r->flags & (LQ_RCPT_DONE | LQ_RCPT_EXTRA))
			continue;
		if ((n = lq_rcpt_domain(r->address, &dom)) == 0)
			continue;
		if (n >= sizeof key)
			n = sizeof key - 1;
		for (size_t k = 0; k < n; k++)
			key[k] = (char)tolower((unsigned char)dom[k]);
		key[n] = '\0';
		if ((d = RB_FIND(domain_tree, &p->domains, &find)) == NULL) {
			if ((d = calloc(1, sizeof *d)) == NULL || (d->name = strdup(key)) == NULL) {
				free(d);
				return -1;
			}
			d->q = qi;
			RB_INSERT(domain_tree, &p->domains, d);
		}
		if (d->last != p->serial) {
			d->last = p->serial;
			d->msgs++;
		}
	}
	return 0;
}

int
lq_prom_add(struct lq_prom *p, const struct lq_msg *m)
{
	const char *name = m->queue != NULL ? m->queue : "";
	time_t age = p->now - m->arrival;
	struct queue *q = NULL;
	size_t qi, b;

	for (qi = 0; qi < p->nq && q == NULL; qi++)
		if (strcmp(p->q[qi].name, name) == 0)
			q = &p->q[qi];
	/* a queue the backend did not list still gets its message counted, once */
	if (q == NULL && (q = queue_add(p, name, 1)) == NULL)
		return -1;
	qi = (size_t)(q - p->q);
	if (age < 0)
		age = 0;
	p->serial++;
	q->msgs++;
	q->frozen += (m->flags & LQ_MSG_FROZEN) != 0;
	q->bounce += (m->flags & LQ_MSG_BOUNCE) != 0;
	q->active += (m->flags & LQ_MSG_ACTIVE) != 0;
	if (!(m->flags & LQ_MSG_NO_SIZE) && m->size > 0 &&
	    __builtin_add_overflow(q->bytes, m->size, &q->bytes))
		q->bytes = INT64_MAX;
	if (age > q->oldest)
		q->oldest = age;
	q->age_sum += (unsigned long long)age;
	for (b = 0; b < NBOUNDS && age > bounds[b]; b++)
		;
	if (b < NBOUNDS)
		q->buckets[b]++;
	return p->top > 0 ? add_domains(p, qi, m) : 0;
}

/* a label value: backslash, double quote and newline escaped */
static void
label(FILE *out, const char *name, const char *v)
{
	fprintf(out, "%s=\"", name);
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

/* NAME{mta="...",queue="..." (the brace left open for more labels) */
static void
series(FILE *out, const struct lq_prom *p, const char *name, const char *queue)
{
	fprintf(out, "%s{", name);
	label(out, "mta", lq_mta_name(p->mta));
	if (queue != NULL) {
		fputc(',', out);
		label(out, "queue", queue);
	}
}

static void
family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum field { F_MSGS, F_BYTES, F_OLDEST, F_FROZEN, F_BOUNCE, F_ACTIVE };

static const struct {
	enum field f;
	const char *name, *help;
} gauges[] = {
	{ F_MSGS, "qtools_queue_messages",
	  "Messages in the queue; every message is in one queue." },
	{ F_BYTES, "qtools_queue_bytes",
	  "Bytes of the messages in the queue (the sizes the MTA's listing shows)." },
	{ F_OLDEST, "qtools_queue_oldest_message_age_seconds",
	  "Age of the oldest message in the queue, from its arrival time; 0 when empty." },
	{ F_FROZEN, "qtools_queue_frozen_messages",
	  "Messages frozen (Exim) or on hold (Postfix, qmail)." },
	{ F_BOUNCE, "qtools_queue_bounce_messages",
	  "Messages with the null sender (bounces)." },
	{ F_ACTIVE, "qtools_queue_active_messages",
	  "Messages being delivered: the MTA holds their lock." },
};

static long long
value(const struct queue *q, enum field f)
{
	switch (f) {
	case F_MSGS: return (long long)q->msgs;
	case F_BYTES: return (long long)q->bytes;
	case F_OLDEST: return (long long)q->oldest;
	case F_FROZEN: return (long long)q->frozen;
	case F_BOUNCE: return (long long)q->bounce;
	case F_ACTIVE: return (long long)q->active;
	}
	return 0;
}

static void
write_histogram(FILE *out, const struct lq_prom *p, int known)
{
	const char *name = "qtools_queue_message_age_seconds";

	family(out, name, "histogram", "Ages of the messages in the queue, from their arrival "
	    "times.");
	for (size_t i = 0; known && i < p->nq; i++) {
		const struct queue *q = &p->q[i];
		unsigned long cum = 0;

		for (size_t b = 0; b <= NBOUNDS; b++) {
			char le[32];

			cum += b < NBOUNDS ? q->buckets[b] : 0;
			if (b < NBOUNDS)
				snprintf(le, sizeof le, "%lld", (long long)bounds[b]);
			series(out, p, "qtools_queue_message_age_seconds_bucket", q->name);
			fputc(',', out);
			label(out, "le", b < NBOUNDS ? le : "+Inf");
			fprintf(out, "} %lu\n", b < NBOUNDS ? cum : q->msgs);
		}
		series(out, p, "qtools_queue_message_age_seconds_sum", q->name);
		fprintf(out, "} %llu\n", q->age_sum);
		series(out, p, "qtools_queue_message_age_seconds_count", q->name);
		fprintf(out, "} %lu\n", q->msgs);
	}
}

static int
top_cmp(const void *pa, const void *pb)
{
	const struct domain *a = *(struct domain *const *)pa, *b = *(struct domain *const *)pb;

	if (a->msgs != b->msgs)
		return a->msgs > b->msgs ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* per queue, its top domains by messages (ties by name) */
static int
write_domains(FILE *out, const struct lq_prom *p)
{
	struct domain **v = NULL, *d;
	size_t n = 0, cap = 0;

	family(out, "qtools_queue_domain_messages", "gauge", "Messages with a recipient still "
	    "to deliver in the domain: the largest domains of each queue (qsumm --top).");
	d = RB_MIN(domain_tree, (struct domain_tree *)&p->domains);
	for (size_t qi = 0; qi < p->nq; qi++) {
		for (n = 0; d != NULL && d->q == qi; d = RB_NEXT(domain_tree, NULL, d)) {
			if (n == cap) {
				struct domain **w = reallocarray(v, cap ? cap * 2 : 64, sizeof *v);

				if (w == NULL) {
					free(v);
					return -1;
				}
				v = w;
				cap = cap ? cap * 2 : 64;
			}
			v[n++] = d;
		}
		if (n > 1)	/* (v is NULL while no queue had a domain) */
			qsort(v, n, sizeof *v, top_cmp);
		for (size_t i = 0; i < n && i < p->top; i++) {
			series(out, p, "qtools_queue_domain_messages", p->q[qi].name);
			fputc(',', out);
			label(out, "domain", v[i]->name);
			fprintf(out, "} %lu\n", v[i]->msgs);
		}
	}
	free(v);
	return 0;
}

/* the scan's metrics, for each queue it read (none known: for the MTA alone) */
static void
write_scan(FILE *out, const struct lq_prom *p, const char *name, const char *help,
    const char *v)
{
	size_t i = 0;

	family(out, name, "gauge", help);
	do {
		series(out, p, name, p->nq > 0 ? p->q[i].name : NULL);
		fprintf(out, "} %s\n", v);
	} while (++i < p->nq);
}

int
lq_prom_write(FILE *out, struct lq_prom *p, const struct lq_prom_scan *sc)
{
	/* a scan that failed as a whole knows nothing of the queues: their series are left
	 * out (unknown), never written as 0 (empty) */
	int known = p->spool_known && !sc->failed;
	unsigned long errors;
	char v[64];

	for (size_t g = 0; g < sizeof gauges / sizeof gauges[0]; g++) {
		family(out, gauges[g].name, "gauge", gauges[g].help);
		for (size_t i = 0; known && i < p->nq; i++) {
			series(out, p, gauges[g].name, p->q[i].name);
			fprintf(out, "} %lld\n", value(&p->q[i], gauges[g].f));
		}
	}
	write_histogram(out, p, known);
	if (p->top > 0 && known && write_domains(out, p) < 0)
		return -1;
	/* a spool that could not be read at all is an error, whatever else was counted */
	errors = sc->errors == 0 && !known ? 1 : sc->errors;
	snprintf(v, sizeof v, "%lu", errors);
	write_scan(out, p, "qtools_queue_scan_errors", "Messages that could not be read in "
	    "the scan of this queue; at least 1 when the spool could not be read at all.", v);
	snprintf(v, sizeof v, "%.6f", sc->seconds);
	write_scan(out, p, "qtools_queue_scan_duration_seconds", "How long the scan of this "
	    "queue took.", v);
	snprintf(v, sizeof v, "%lld", (long long)p->now);
	write_scan(out, p, "qtools_queue_scan_timestamp_seconds", "When the scan of this queue "
	    "began (the time the ages are counted to), in seconds since the epoch.", v);
	return ferror(out) ? -1 : 0;
}
