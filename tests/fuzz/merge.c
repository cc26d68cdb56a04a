/*
 * fuzz target: qsumm --merge's reader of other hosts' qsumm --json output (JSON Lines from
 * clush or pdsh, possibly with "host: " in front): lq_merge_expect with a fuzzed host list,
 * lq_merge_line for every line, lq_merge_write of every table. Input: flags (bit 0: the
 * first line is the --expect host list; bits 1-2: the table's sort), then the lines.
 */
#include "fuzz.h"

static void
problem(const char *host, const char *what, int fatal, void *arg)
{
	(void)host, (void)what, (void)fatal, (void)arg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned sorts[4] = { 0, LQ_SUM_BY_AGE, LQ_SUM_BY_COUNT, 0 };
	struct lq_merge *m;
	struct lq_err e;
	const char *p, *end;
	unsigned long lineno = 0;
	unsigned flags;

	if (size == 0)
		return 0;
	if (fz_null == NULL && (fz_null = fopen("/dev/null", "w")) == NULL)
		abort();
	flags = data[0];
	p = (const char *)data + 1;
	end = (const char *)data + size;
	if ((m = lq_merge_new()) == NULL)
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		lineno++;
		if (lineno == 1 && (flags & 1)) {
			char *hosts = strndup(p, nl ? n - 1 : n);

			if (hosts != NULL)
				(void)lq_merge_expect(m, hosts, &e);
			free(hosts);
		} else
			(void)lq_merge_line(m, "fuzz", lineno, p, n, &e);
		p += n;
	}
	(void)lq_merge_write(fz_null, m, sorts[(flags >> 1) & 3], problem, NULL);
	(void)lq_merge_matched(m);
	lq_merge_free(m);
	fflush(fz_null);
	return 0;
}
