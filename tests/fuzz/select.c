/*
 * fuzz target: the selection and option parsers: lq_select_new with fuzzed regexes,
 * durations, sizes, queue lists and "Name: regex" headers, run against two messages
 * (envelope, headers and body), and lq_parse_duration / lq_parse_size on every string.
 * Input: a flags byte (frozen, not_frozen, bounce, invert, all_rcpts, case_sensitive,
 * active), then NUL-separated strings: sender, rcpt, size, younger, older, larger, smaller,
 * body, queue, then up to 4 headers. An empty string leaves the option unset.
 */
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_selection_spool("select");
	return 0;
}

struct match {
	struct lq_spool *sp;
	struct lq_select *sel;
};

static int
each(struct lq_msg *m, void *arg)
{
	struct match *mt = arg;
	struct lq_err e;
	int rc = lq_select_match(mt->sel, mt->sp, m, &e);

	if (rc < -1 || rc > 1)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lq_spool *sp;
	const char *s[13] = { NULL }, *headers[4];
	struct lq_select_opts o = { 0 };
	struct lq_select *sel;
	struct lq_err e;
	char *copy;
	size_t k = 0, nh = 0;
	unsigned flags;

	if (size == 0)
		return 0;
	if (sp == NULL)
		sp = fz_open_spool(LQ_MTA_EXIM);
	flags = data[0];
	/* NUL-terminated copies of the strings (the last one may lack its NUL) */
	if ((copy = malloc(size)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (char *p = copy; p < copy + size && k < 13; k++) {
		s[k] = p;
		p += strlen(p) + 1;
	}
	for (size_t i = 0; i < k; i++) {
		time_t t;
		int64_t b;

		if (lq_parse_duration(s[i], &t, &e) == 0 && t < 0)
			abort();
		if (lq_parse_size(s[i], &b, &e) == 0 && b < 0)
			abort();
		if (*s[i] == '\0')
			s[i] = NULL;
	}
	o.sender = s[0];
	o.rcpt = s[1];
	o.size_re = s[2];
	o.younger = s[3];
	o.older = s[4];
	o.larger = s[5];
	o.smaller = s[6];
	o.body = s[7];
	o.queue = s[8];
	for (size_t i = 9; i < 13; i++)
		if (s[i] != NULL)
			headers[nh++] = s[i];
	o.headers = headers;
	o.nheaders = nh;
	o.frozen = flags & 1;
	o.not_frozen = (flags >> 1) & 1;
	o.bounce = (flags >> 2) & 1;
	o.invert = (flags >> 3) & 1;
	o.all_rcpts = (flags >> 4) & 1;
	o.case_sensitive = (flags >> 5) & 1;
	o.active = (flags >> 6) & 1;
	if ((sel = lq_select_new(&o, FZ_NOW, &e)) != NULL) {
		struct match mt = { sp, sel };
		struct lq_scan sc = { .flags = lq_select_scanflags(sel), .each = each, .arg = &mt };

		(void)lq_select_needs_content(sel);
		(void)lq_select_is_empty(sel);
		(void)lq_scan(sp, &sc, &e);
		lq_select_free(sel);
	} else if (memchr(e.msg, '\0', sizeof e.msg) == NULL || e.msg[0] == '\0')
		abort();
	free(copy);
	return 0;
}
