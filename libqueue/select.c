/*
 * select.c -- a selection compiled once (PCRE2 with JIT) and evaluated per message,
 * cheapest test first, so that the envelope alone decides whenever it can: headers are
 * read only for --header, the body only for --body.
 *
 * The meanings follow exiqgrep: -f matches "<sender>" (with the angle brackets), -r any
 * recipient still to be delivered (-a: any), -s the size column of exim -bp, -y/-o the
 * age in seconds; regexes are caseless unless asked otherwise.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"

#define LINE_MAX_BODY (64 * 1024)

struct header_test {
	char *name;		/* header name, without the colon */
	size_t namelen;
	struct lq_regex re;
	int matched;
};

struct lq_select {
	struct lq_regex sender, rcpt, size_re, body, reason;
	struct header_test *headers;
	size_t nheaders;
	struct lq_expr *expr;		/* -e, all of them ANDed; NULL: none */
	char **queues;
	size_t nqueues;
	int64_t larger, smaller;	/* -1 when not set */
	time_t younger, older;		/* -1 when not set */
	time_t now;
	int frozen, not_frozen, bounce, active, invert, all_rcpts;
	int empty;
	/* content scanning state */
	struct lq_buf line;
	int body_matched;
	int failed;			/* a header or body test could not be done: */
	struct lq_err content_err;	/* ... why */
};

int
lq_regex_compile(struct lq_regex *re, const char *what, const char *pattern, int caseless,
    struct lq_err *err)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int ec;

	re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    caseless ? PCRE2_CASELESS : 0, &ec, &off, NULL);
	if (re->code == NULL) {
		pcre2_get_error_message(ec, msg, sizeof msg);
		return lq_err_set(err, LQ_EUSAGE, "%s '%s': %s at offset %zu", what, pattern,
		    (char *)msg, (size_t)off);
	}
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);	/* falls back to the interpreter */
	if ((re->md = pcre2_match_data_create_from_pattern(re->code, NULL)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	return 0;
}

void
lq_regex_free(struct lq_regex *re)
{
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
}

/*
 * 1 match, 0 no match, -1 the engine could not tell (match limit, invalid UTF-8 under
 * (*UTF), no memory): err says which. A failed test never counts as "no match", since -v
 * would turn that into a selected message.
 */
int
lq_regex_match(struct lq_regex *re, const char *what, const char *s, size_t n, struct lq_err *err)
{
	PCRE2_UCHAR msg[128];
	int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, re->md, NULL);

	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	pcre2_get_error_message(rc, msg, sizeof msg);
	return lq_err_set(err, rc == PCRE2_ERROR_NOMEMORY ? LQ_ENOMEM : LQ_ELIMIT,
	    "%s: the regex could not be matched: %s", what, (char *)msg);
}

int
lq_parse_duration(const char *s, time_t *out, struct lq_err *err)
{
	static const struct { char c; long mult; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
	};
	long long v, mult = 1;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno != 0 || v < 0 || !isdigit((unsigned char)*s))
		return lq_err_set(err, LQ_EUSAGE, "%s: not a duration (like 90, 15m, 2h, 7d)", s);
	if (*end != '\0') {
		size_t i;

		for (i = 0; i < sizeof units / sizeof units[0]; i++)
			if (*end == units[i].c)
				break;
		if (i == sizeof units / sizeof units[0] || end[1] != '\0')
			return lq_err_set(err, LQ_EUSAGE,
			    "%s: not a duration (units: s m h d w)", s);
		mult = units[i].mult;
	}
	if (v > (long long)(INT64_MAX / 2) / mult)
		return lq_err_set(err, LQ_EUSAGE, "%s: duration too large", s);
	*out = (time_t)(v * mult);
	return 0;
}

int
lq_parse_size(const char *s, int64_t *out, struct lq_err *err)
{
	long long v, mult = 1;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno != 0 || v < 0 || !isdigit((unsigned char)*s))
		return lq_err_set(err, LQ_EUSAGE, "%s: not a size (like 500, 10k, 2M, 1G)", s);
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mult = 1024; break;
	case 'm': case 'M': mult = 1024 * 1024; break;
	case 'g': case 'G': mult = 1024LL * 1024 * 1024; break;
	default:
		return lq_err_set(err, LQ_EUSAGE, "%s: not a size (units: k M G)", s);
	}
	if (*end != '\0' && end[1] != '\0' && !(end[1] == 'B' && end[2] == '\0'))
		return lq_err_set(err, LQ_EUSAGE, "%s: not a size (units: k M G)", s);
	if (v > INT64_MAX / mult)
		return lq_err_set(err, LQ_EUSAGE, "%s: size too large", s);
	*out = v * mult;
	return 0;
}

static int
add_queues(struct lq_select *sel, const char *list, struct lq_err *err)
{
	char *copy = strdup(list), *tok, *save = NULL;

	if (copy == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char **q = reallocarray(sel->queues, sel->nqueues + 1, sizeof *q);

		if (q == NULL || (q[sel->nqueues] = strdup(tok)) == NULL) {
			free(copy);
			if (q != NULL)
				sel->queues = q;
			return lq_err_set(err, LQ_ENOMEM, "out of memory");
		}
		sel->queues = q;
		sel->nqueues++;
	}
	free(copy);
	if (sel->nqueues == 0)
		return lq_err_set(err, LQ_EUSAGE, "--queue '%s': no queue names", list);
	return 0;
}

static int
add_header(struct lq_select *sel, const char *spec, int caseless, struct lq_err *err)
{
	struct header_test *h = &sel->headers[sel->nheaders];
	const char *colon = strchr(spec, ':'), *re;

	if (colon == NULL || colon == spec)
		return lq_err_set(err, LQ_EUSAGE,
		    "--header '%s': expected 'Name: regex'", spec);
	for (const char *p = spec; p < colon; p++)
		if (!isgraph((unsigned char)*p))
			return lq_err_set(err, LQ_EUSAGE, "--header '%s': bad header name", spec);
	if ((h->name = strndup(spec, colon - spec)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	h->namelen = colon - spec;
	sel->nheaders++;
	for (re = colon + 1; *re == ' ' || *re == '\t'; re++)
		;
	return lq_regex_compile(&h->re, "--header", re, caseless, err);
}

/* Put the option's name in front of a value's error. */
static int
option_value(const char *opt, int rc, struct lq_err *err)
{
	if (rc != 0)
		lq_err_prefix(err, "%s ", opt);
	return rc;
}

struct lq_select *
lq_select_new(const struct lq_select_opts *o, time_t now, struct lq_err *err)
{
	struct lq_select *sel = calloc(1, sizeof *sel);
	int caseless = !o->case_sensitive;

	if (sel == NULL) {
		lq_err_set(err, LQ_ENOMEM, "out of memory");
		return NULL;
	}
	sel->now = now;
	sel->younger = sel->older = -1;
	sel->larger = sel->smaller = -1;
	sel->frozen = o->frozen;
	sel->not_frozen = o->not_frozen;
	sel->bounce = o->bounce;
	sel->active = o->active;
	sel->invert = o->invert;
	sel->all_rcpts = o->all_rcpts;
	if ((o->sender && lq_regex_compile(&sel->sender, "-f", o->sender, caseless, err) < 0) ||
	    (o->rcpt && lq_regex_compile(&sel->rcpt, "-r", o->rcpt, caseless, err) < 0) ||
	    (o->reason && lq_regex_compile(&sel->reason, "--reason", o->reason, caseless, err) < 0) ||
	    (o->size_re && lq_regex_compile(&sel->size_re, "-s", o->size_re, 0, err) < 0) ||
	    (o->body && lq_regex_compile(&sel->body, "--body", o->body, caseless, err) < 0) ||
	    (o->younger && option_value("-y", lq_parse_duration(o->younger, &sel->younger, err), err) < 0) ||
	    (o->older && option_value("-o", lq_parse_duration(o->older, &sel->older, err), err) < 0) ||
	    (o->larger && option_value("--larger", lq_parse_size(o->larger, &sel->larger, err), err) < 0) ||
	    (o->smaller && option_value("--smaller", lq_parse_size(o->smaller, &sel->smaller, err), err) < 0) ||
	    (o->queue && add_queues(sel, o->queue, err) < 0))
		goto fail;
	if (o->nheaders > 0) {
		if ((sel->headers = calloc(o->nheaders, sizeof *sel->headers)) == NULL) {
			lq_err_set(err, LQ_ENOMEM, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < o->nheaders; i++)
			if (add_header(sel, o->headers[i], caseless, err) < 0)
				goto fail;
	}
	if (o->nexprs > 0 && (sel->expr = lq_expr_new(o->exprs, o->nexprs, o, now, err)) == NULL)
		goto fail;
	sel->empty = !o->sender && !o->rcpt && !o->reason && !o->size_re && !o->body && !o->younger &&
	    !o->older && !o->larger && !o->smaller && !o->queue && o->nheaders == 0 &&
	    !o->frozen && !o->not_frozen && !o->bounce && !o->active && o->nexprs == 0;
	return sel;
fail:
	lq_select_free(sel);
	return NULL;
}

void
lq_select_free(struct lq_select *sel)
{
	if (sel == NULL)
		return;
	lq_regex_free(&sel->sender);
	lq_regex_free(&sel->rcpt);
	lq_regex_free(&sel->reason);
	lq_regex_free(&sel->size_re);
	lq_regex_free(&sel->body);
	for (size_t i = 0; i < sel->nheaders; i++) {
		lq_regex_free(&sel->headers[i].re);
		free(sel->headers[i].name);
	}
	free(sel->headers);
	lq_expr_free(sel->expr);
	for (size_t i = 0; i < sel->nqueues; i++)
		free(sel->queues[i]);
	free(sel->queues);
	lq_buf_free(&sel->line);
	free(sel);
}

int
lq_select_needs_content(const struct lq_select *sel)
{
	return sel->nheaders > 0 || sel->body.code != NULL ||
	    (lq_expr_needs(sel->expr) & LQ_EXPR_CONTENT);
}

int
lq_select_is_empty(const struct lq_select *sel)
{
	return sel->empty;
}

int
lq_select_needs_size(const struct lq_select *sel)
{
	return sel->size_re.code != NULL || sel->larger >= 0 || sel->smaller >= 0 ||
	    (lq_expr_needs(sel->expr) & LQ_EXPR_SIZE);
}

unsigned
lq_select_scanflags(const struct lq_select *sel)
{
	return (sel->active || (lq_expr_needs(sel->expr) & LQ_EXPR_LOCKS) ? LQ_SCAN_LOCKS : 0) |
	    (sel->reason.code || (lq_expr_needs(sel->expr) & LQ_EXPR_REASONS) ?
	    LQ_SCAN_REASONS : 0);
}

/* The sender as exiqgrep tests it, "<sender>", in the message's arena. */
static int
sender_matches(struct lq_select *sel, struct lq_msg *m, struct lq_err *err)
{
	size_t n = strlen(m->sender);
	char *buf = lq_arena_alloc(m->arena, n + 3);

	if (buf == NULL)
		return lq_err_set(err, LQ_ENOMEM, "-f: out of memory");
	buf[0] = '<';
	memcpy(buf + 1, m->sender, n);
	buf[n + 1] = '>';
	buf[n + 2] = '\0';
	return lq_regex_match(&sel->sender, "-f", buf, n + 2, err);
}

/* 1 the envelope matches, 0 it does not, -1 cannot tell (err set). */
static int
envelope_matches(struct lq_select *sel, struct lq_msg *m, struct lq_err *err)
{
	time_t age = lq_msg_age(m, sel->now);
	int rc;

	if (sel->frozen && !(m->flags & LQ_MSG_FROZEN))
		return 0;
	if (sel->not_frozen && (m->flags & LQ_MSG_FROZEN))
		return 0;
	if (sel->bounce && m->sender[0] != '\0')
		return 0;
	if (sel->active && !(m->flags & LQ_MSG_ACTIVE))
		return 0;
	if (sel->younger >= 0 && !(age < sel->younger))
		return 0;
	if (sel->older >= 0 && !(age > sel->older))
		return 0;
	if (sel->larger >= 0 && !(m->size >= sel->larger))
		return 0;
	if (sel->smaller >= 0 && !(m->size < sel->smaller))
		return 0;
	if (sel->nqueues > 0) {
		const char *state = lq_state_name(m);
		size_t i;

		for (i = 0; i < sel->nqueues; i++)
			if ((m->queue && strcasecmp(sel->queues[i], m->queue) == 0) ||
			    strcasecmp(sel->queues[i], state) == 0)
				break;
		if (i == sel->nqueues)
			return 0;
	}
	if (sel->size_re.code) {
		char col[LQ_COLSIZE];
		const char *p = col;

		lq_format_size(col, (m->flags & LQ_MSG_NO_SIZE) ? 0 : m->size);
		while (*p == ' ')
			p++;
		if ((rc = lq_regex_match(&sel->size_re, "-s", p, strlen(p), err)) <= 0)
			return rc;
	}
	if (sel->sender.code && (rc = sender_matches(sel, m, err)) <= 0)
		return rc;
	if (sel->reason.code) {
		rc = 0;
		for (size_t i = 0; i < m->nrcpt && rc == 0; i++) {
			const struct lq_rcpt *r = &m->rcpt[i];

			if (lq_rcpt_counts(r, 0) && r->reason != NULL)
				rc = lq_regex_match(&sel->reason, "--reason", r->reason,
				    strlen(r->reason), err);
		}
		if (rc <= 0)
			return rc;
	}
	if (sel->rcpt.code) {
		for (size_t i = 0; i < m->nrcpt; i++) {
			const struct lq_rcpt *r = &m->rcpt[i];

			if (!lq_rcpt_counts(r, sel->all_rcpts))
				continue;
			if ((rc = lq_regex_match(&sel->rcpt, "-r", r->address, strlen(r->address), err)) != 0)
				return rc;
		}
		return 0;
	}
	return 1;
}

/* One header "Name: value\n\tmore\n": test it against every --header of that name. */
static int
test_header(struct lq_select *sel, const char *h, size_t len)
{
	for (size_t i = 0; i < sel->nheaders; i++) {
		struct header_test *t = &sel->headers[i];
		const char *v;
		size_t vlen;
		int rc;

		if (t->matched || len <= t->namelen || h[t->namelen] != ':' ||
		    strncasecmp(h, t->name, t->namelen) != 0)
			continue;
		v = h + t->namelen + 1;
		vlen = len - t->namelen - 1;
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == '\n' || v[vlen - 1] == '\r'))
			vlen--;
		if ((rc = lq_regex_match(&t->re, "--header", v, vlen, &sel->content_err)) < 0)
			return -1;
		t->matched = rc;
	}
	return 0;
}

static int
body_line(struct lq_select *sel, const char *s, size_t n)
{
	int rc;

	if (n > 0 && s[n - 1] == '\n')
		n--;
	if ((rc = lq_regex_match(&sel->body, "--body", s, n, &sel->content_err)) < 0)
		return -1;
	sel->body_matched |= rc;
	return 0;
}

/*
 * The reader's callback: headers, then body chunks cut into lines (a line longer than
 * LINE_MAX_BODY is tested in pieces). Returns 0 to read on, 1 to stop once the answer is
 * known, -1 when a test could not be done (sel->content_err says why): reading stops, and
 * the message is "cannot tell".
 */
static int
content_part(enum lq_part part, const char *data, size_t len, int deleted, void *arg)
{
	struct lq_select *sel = arg;
	int all_headers_done;

	if (part == LQ_PART_HEADER) {
		if (!deleted && test_header(sel, data, len) < 0)
			return sel->failed = -1;
		all_headers_done = 1;
		for (size_t i = 0; i < sel->nheaders; i++)
			all_headers_done &= sel->headers[i].matched;
		return all_headers_done && sel->body.code == NULL;
	}
	for (size_t i = 0; i < sel->nheaders; i++)
		if (!sel->headers[i].matched)
			return 1;	/* the headers already said no: skip the body */
	while (len > 0 && !sel->body_matched) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) + 1 : len;

		if (sel->line.len + take > LINE_MAX_BODY) {
			if (sel->line.len > 0 && body_line(sel, sel->line.data, sel->line.len) < 0)
				return sel->failed = -1;
			sel->line.len = 0;
			if (sel->body_matched)
				break;
		}
		if (nl != NULL && sel->line.len == 0) {
			if (body_line(sel, data, take) < 0)
				return sel->failed = -1;
		} else {
			if (lq_buf_append(&sel->line, data, take) < 0) {
				lq_err_set(&sel->content_err, LQ_ENOMEM, "--body: out of memory");
				return sel->failed = -1;
			}
			if (nl != NULL) {
				if (body_line(sel, sel->line.data, sel->line.len) < 0)
					return sel->failed = -1;
				sel->line.len = 0;
			}
		}
		data += take;
		len -= take;
	}
	return sel->body_matched;	/* stop reading once the body matched */
}

/* 1 headers and body match, 0 not, -1 cannot tell (err set). */
static int
content_matches(struct lq_select *sel, struct lq_spool *sp, struct lq_msg *m,
    struct lq_err *err)
{
	unsigned parts = 0;
	int ok = 1;

	for (size_t i = 0; i < sel->nheaders; i++)
		sel->headers[i].matched = 0;
	sel->body_matched = 0;
	sel->failed = 0;
	sel->line.len = 0;
	if (sel->nheaders > 0)
		parts |= LQ_PART_HEADER;
	if (sel->body.code != NULL)
		parts |= LQ_PART_BODY;
	if (lq_read(sp, m, parts, content_part, sel, err) < 0 && !sel->failed)
		return -1;
	/* the last line, when the body does not end with a newline: a failed test here is
	 * "cannot tell" too, never "no match" */
	if (!sel->failed && sel->line.len > 0 && !sel->body_matched &&
	    body_line(sel, sel->line.data, sel->line.len) < 0)
		sel->failed = -1;
	if (sel->failed) {
		*err = sel->content_err;
		return -1;
	}
	for (size_t i = 0; i < sel->nheaders; i++)
		ok &= sel->headers[i].matched;
	if (sel->body.code != NULL)
		ok &= sel->body_matched;
	return ok;
}

/*
 * Three answers: 1 selected, 0 not, -1 cannot tell (err names the test and why). -v turns
 * 1 into 0 and 0 into 1, never -1: a message that could not be judged is never selected.
 */
int
lq_select_match(struct lq_select *sel, struct lq_spool *sp, struct lq_msg *m,
    struct lq_err *err)
{
	int ok = envelope_matches(sel, m, err);

	if (ok > 0 && sel->expr != NULL)
		ok = lq_expr_eval(sel->expr, sp, m, err);
	if (ok > 0 && (sel->nheaders > 0 || sel->body.code != NULL))
		ok = content_matches(sel, sp, m, err);
	if (ok < 0)
		return -1;
	return sel->invert ? !ok : ok;
}
