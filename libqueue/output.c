/*
 * output.c -- what every MTA's listing shares: Exim's age and size columns (used by the
 * exiqgrep/exiqsumm-compatible outputs on every MTA) and the JSON Lines of --json: every
 * line starts with the schema version, its type, the host and the MTA; message records
 * keep the member names of Postfix's postqueue -j, so its jq recipes work on every MTA.
 */
#include <stdio.h>
#include <string.h>

#include "backend.h"

void
lq_json_head(FILE *out, const char *type, const char *host, enum lq_mta mta)
{
	fprintf(out, "{\"v\": %d, \"type\": \"%s\", \"host\": ", LQ_JSON_VERSION, type);
	lq_json_string(out, host, strlen(host));
	fprintf(out, ", \"mta\": \"%s\"", lq_mta_name(mta));
}

int
lq_write_json(FILE *out, const struct lq_msg *m, const char *host)
{
	const char *sep = "", *sender = m->sender;
	int rc;

	/* showq lists the null sender as empty_address_recipient */
	if (sender[0] == '\0' && lq_backend_of(m->mta)->null_sender != NULL)
		sender = lq_backend_of(m->mta)->null_sender;
	flockfile(out);	/* one lock of the stream per message (lq_write_listing says why) */
	lq_json_head(out, "message", host, m->mta);
	fputs(", \"queue_name\": ", out);
	lq_json_string(out, m->queue ? m->queue : "", m->queue ? strlen(m->queue) : 0);
	fputs(", \"queue_id\": ", out);
	lq_json_string(out, m->id, strlen(m->id));
	fprintf(out, ", \"arrival_time\": %lld, \"message_size\": %lld, \"forced_expire\": %s, "
	    "\"sender\": ", (long long)m->arrival, (long long)m->size,
	    (m->flags & LQ_MSG_EXPIRED) ? "true" : "false");
	lq_json_string(out, sender, strlen(sender));
	fputs(", \"recipients\": [", out);
	for (size_t i = 0; i < m->nrcpt; i++) {
		const struct lq_rcpt *r = &m->rcpt[i];

		if (r->flags & (LQ_RCPT_DONE | LQ_RCPT_EXTRA))
			continue;
		fprintf(out, "%s{\"address\": ", sep);
		lq_json_string(out, r->address, strlen(r->address));
		if (r->reason != NULL) {
			fputs(", \"delay_reason\": ", out);
			lq_json_text(out, r->reason, strlen(r->reason));
		}
		putc_unlocked('}', out);
		sep = ", ";
	}
	fputs("], \"delivered\": [", out);
	sep = "";
	for (size_t i = 0; i < m->nrcpt; i++) {
		const struct lq_rcpt *r = &m->rcpt[i];

		if (!(r->flags & LQ_RCPT_DONE))
			continue;
		fputs(sep, out);
		lq_json_string(out, r->address, strlen(r->address));
		sep = ", ";
	}
	fprintf(out, "], \"state\": \"%s\"}\n", lq_state_name(m));
	rc = ferror_unlocked(out) ? -1 : 0;
	funlockfile(out);
	return rc;
}

int
lq_write_json_end(FILE *out, const char *host, enum lq_mta mta, const struct lq_json_end *e)
{
	lq_json_head(out, "end", host, mta);
	fprintf(out, ", \"now\": %lld, \"scanned\": %lu, \"matched\": %lu, \"skipped\": %lu, "
	    "\"errors\": %lu}\n", (long long)e->now, e->scanned, e->matched, e->skipped, e->errors);
	return ferror(out) ? -1 : 0;
}

/* exiqgrep's long format: "%3s %5s %s %s%s" then a tab-indented line per recipient */
int
lq_write_exiqgrep(FILE *out, const struct lq_msg *m, unsigned flags, int brief, time_t now)
{
	char age[LQ_COLSIZE], size[LQ_COLSIZE];
	const char *p = age, *sep = "";
	int rc;

	flockfile(out);	/* one lock of the stream per message (lq_write_listing says why) */
	if (brief)
		fprintf(out, "%s From: <%s> To: ", m->id, m->sender);
	else {
		lq_format_age(age, now - m->arrival);
		lq_format_size(size, (m->flags & LQ_MSG_NO_SIZE) ? 0 : m->size);
		while (*p == ' ')
			p++;
		fprintf(out, "%3s %5s %s <%s>%s\n", p, size, m->id, m->sender,
		    (m->flags & LQ_MSG_FROZEN) ? " *** frozen ***" : "");
	}
	for (size_t i = 0; i < m->nrcpt; i++) {
		const struct lq_rcpt *r = &m->rcpt[i];
		int done = r->flags & LQ_RCPT_DONE;

		if ((r->flags & LQ_RCPT_EXTRA) || (done && !(flags & LQ_LIST_ALL)))
			continue;
		if (brief)
			fprintf(out, "%s%s%s", sep, done ? "D " : "", r->address);
		else
			fprintf(out, "\t  %s%s\n", done ? "D " : "", r->address);
		sep = ";";
	}
	putc_unlocked('\n', out);
	rc = ferror_unlocked(out) ? -1 : 0;
	funlockfile(out);
	return rc;
}
