/*
 * qsumm -- summarize the mail queue per domain: count, volume, oldest, newest. The table
 * is exiqsumm's, and so are -a -b -c -f -s; the selectors that use those letters
 * elsewhere are reached here by their long names (--sender, --size-match).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* --shape: Postfix's qshape, its options by their long names (and the letters qsumm does
 * not use otherwise); the arguments are queue names, as qshape's */
static struct {
	int on, by_sender;
	struct lq_shape_opts o;
} shape;

static struct poptOption shape_options[] = {
	{ "shape", '\0', POPT_ARG_NONE, &shape.on, 0,
	  "qshape's table: domains by message age; arguments are queue names "
	  "(default: incoming active)", NULL },
	{ "by-sender", '\0', POPT_ARG_NONE, &shape.by_sender, 0,
	  "--shape: sender domains (qshape -s; -s works too)", NULL },
	{ "parent-domains", 'p', POPT_ARG_NONE, &shape.o.parents, 0,
	  "--shape: parent domains too (qshape -p)", NULL },
	{ "min-subdomains", 'm', POPT_ARG_INT, &shape.o.min_subdomains, 0,
	  "--shape: a parent domain needs N subdomains (qshape -m, default 5)", "N" },
	{ "buckets", '\0', POPT_ARG_INT, &shape.o.buckets, 0,
	  "--shape: N age buckets (qshape -b, default 10)", "N" },
	{ "bucket-time", 't', POPT_ARG_DOUBLE, &shape.o.bucket_time, 0,
	  "--shape: the first bucket is T minutes (qshape -t, default 5)", "T" },
	{ "linear", 'l', POPT_ARG_NONE, &shape.o.linear, 0,
	  "--shape: buckets are multiples of the first (qshape -l)", NULL },
	{ "width", 'w', POPT_ARG_INT, &shape.o.width, 0,
	  "--shape: terminal width (qshape -w, default 80)", "N" },
	POPT_TABLEEND
};

static struct {
	int by_age, bounces, by_count, frozen, source, json;
	const char *age_buckets;
} opt;
static int stat_only;

/* --prom: the queue for Prometheus' node_exporter (cli_prom) */
static struct cli_prom prom;

/* --merge: what qsumm --json printed on many hosts, added up */
static struct {
	int on;
	const char *expect;
} merge;

static struct poptOption options[] = {
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, shape_options, 0, NULL, NULL },
	{ "by-age", 'a', POPT_ARG_NONE, &opt.by_age, 0, "oldest domains first", NULL },
	{ "mark-bounces", 'b', POPT_ARG_NONE, &opt.bounces, 0,
	  "count bounces apart, marked (b)", NULL },
	{ "by-count", 'c', POPT_ARG_NONE, &opt.by_count, 0, "largest counts first", NULL },
	{ "mark-frozen", 'f', POPT_ARG_NONE, &opt.frozen, 0,
	  "count frozen messages apart, marked (f)", NULL },
	{ "source", 's', POPT_ARG_NONE, &opt.source, 0,
	  "per sender domain and recipient domain", NULL },
	{ "json", '\0', POPT_ARG_NONE, &opt.json, 0,
	  "JSON Lines to merge: per domain, per host, then an end record", NULL },
	{ "host", '\0', POPT_ARG_STRING, &cli.host, 0,
	  "--json: the host name to give (default: this host's FQDN)", "NAME" },
	{ "age-buckets", '\0', POPT_ARG_STRING, &opt.age_buckets, 0,
	  "--json: the host's messages by age, up to these ages (default 5m,1h,4h,1d,3d,1w)",
	  "AGES" },
	{ "merge", '\0', POPT_ARG_NONE, &merge.on, 0,
	  "add up the --json output of many hosts (arguments: files, default stdin)", NULL },
	{ "expect", '\0', POPT_ARG_STRING, &merge.expect, 0,
	  "--merge: these hosts must answer (mx1,mx2 or mx[1-3])", "HOSTS" },
	{ "stat", '\0', POPT_ARG_NONE, &stat_only, 0,
	  "only the totals, as qmail-qstat prints them", NULL },
	{ "prom", '\0', POPT_ARG_NONE, &prom.on, 0,
	  "Prometheus metrics, for node_exporter's textfile collector", NULL },
	{ "output", '\0', POPT_ARG_STRING, &prom.output, 0,
	  "--prom: into FILE, replaced whole (a temporary file renamed over it)", "FILE" },
	{ "by", '\0', POPT_ARG_STRING, &prom.by, 0,
	  "rows by these keys: domain (default), sender, sender-domain, reason, queue, age "
	  "(--prom: also messages per recipient domain, --by domain)", "KEYS" },
	{ "top", '\0', POPT_ARG_STRING, &prom.top, 0,
	  "--by domain: the N largest domains of each queue (default 10)", "N" },
	POPT_TABLEEND
};

static int
shape_add(struct lq_msg *m, void *sh)
{
	if (lq_shape_add(sh, m) < 0)
		err(EXIT_TROUBLE, "shape");
	return 0;
}

/* qshape [options] [queue...]: the queue names narrow the Postfix spool that is read */
static int
shape_main(poptContext pc)
{
	struct lq_shape *sh;
	struct lq_select *sel;
	struct lq_spool *sp;
	const char *arg;
	char *queues = NULL;
	struct lq_err e;
	size_t n = 0;

	if (opt.by_age || opt.bounces || opt.by_count || opt.frozen || opt.json)
		errx(EXIT_TROUBLE, "--shape goes with none of -a -b -c -f --json");
	shape.o.by_sender = shape.by_sender || opt.source;
	while ((arg = poptGetArg(pc)) != NULL) {
		size_t k = strlen(arg);

		if ((queues = realloc(queues, n + k + 2)) == NULL)
			err(EXIT_TROUBLE, NULL);
		if (n > 0)
			queues[n++] = ',';
		memcpy(queues + n, arg, k + 1);
		n += k;
	}
	if (queues != NULL && cli.named_queue != NULL)
		errx(EXIT_TROUBLE, "--shape: name the queues either with -G or as arguments");
	if ((sh = lq_shape_new(&shape.o, cli.now, &e)) == NULL)
		errx(EXIT_TROUBLE, "%s", e.msg);
	sel = cli_select();
	sp = cli_open_spool();
	if (lq_spool_shape_queues(sp) != NULL && cli.named_queue == NULL) {
		cli.named_queue = queues != NULL ? queues : lq_spool_shape_queues(sp);
		lq_spool_close(sp);
		sp = cli_open_spool();
	} else if (queues != NULL)
		errx(EXIT_TROUBLE, "--shape: %s has no queues to name (%s): qshape's queues are "
		    "Postfix's", lq_mta_name(lq_spool_mta(sp)), queues);

	cli.unsorted = 1;
	cli_each(sp, pc, sel, LQ_SCAN_NO_REASONS, shape_add, sh);
	lq_shape_write(stdout, sh);

	cli_flush_stdout();
	lq_shape_free(sh);
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	free(queues);
	return cli.trouble ? EXIT_TROUBLE : EXIT_MATCH;
}

static void
merge_problem(const char *host, const char *what, int fatal, void *arg)
{
	(void)fatal, (void)arg;
	warnx("%s: %s", host, what);
}

/* qsumm --merge [FILE...|-]: JSON Lines from clush -N, pdsh ("host: " before each line),
 * or files; any line that cannot be trusted stops it before anything is printed */
static int
merge_main(poptContext pc, struct lq_select *sel)
{
	const char **args = poptGetArgs(pc), *stdin_only[] = { "-", NULL };
	struct lq_merge *m;
	struct lq_err e;
	char *line = NULL;
	size_t cap = 0;
	int fatal;

	if (opt.bounces || opt.frozen || opt.source || opt.json || stat_only || opt.age_buckets ||
	    cli.host != NULL)
		errx(EXIT_TROUBLE, "--merge goes with none of -b -f -s --json --stat --age-buckets "
		    "--host (those are for the hosts' qsumm --json)");
	if (!lq_select_is_empty(sel) || cli.spool || cli.mta || cli.named_queue)
		errx(EXIT_TROUBLE, "--merge reads what the hosts' qsumm --json printed: select "
		    "and name the spool there");
	if ((m = lq_merge_new()) == NULL)
		err(EXIT_TROUBLE, NULL);
	if (merge.expect != NULL && lq_merge_expect(m, merge.expect, &e) < 0)
		errx(EXIT_TROUBLE, "%s", e.msg);
	for (const char **a = args ? args : stdin_only; *a; a++) {
		int is_stdin = strcmp(*a, "-") == 0;
		const char *src = is_stdin ? "stdin" : *a;
		FILE *f = is_stdin ? stdin : fopen(*a, "r");
		unsigned long lineno = 0;
		ssize_t n;

		if (f == NULL)
			err(EXIT_TROUBLE, "%s", *a);
		while ((n = getline(&line, &cap, f)) > 0)
			if (lq_merge_line(m, src, ++lineno, line, (size_t)n, &e) < 0)
				errx(EXIT_TROUBLE, "%s; nothing merged", e.msg);
		if (ferror(f))
			err(EXIT_TROUBLE, "%s", src);
		if (!is_stdin)
			fclose(f);
	}
	free(line);
	if ((fatal = lq_merge_write(stdout, m, (opt.by_age ? LQ_SUM_BY_AGE : 0) |
	    (opt.by_count ? LQ_SUM_BY_COUNT : 0), merge_problem, NULL)) < 0)
		err(EXIT_TROUBLE, NULL);
	if (cli_flush_stdout() < 0)
		fatal++;
	cli.matched = lq_merge_matched(m);
	lq_merge_free(m);
	lq_select_free(sel);
	poptFreeContext(pc);
	return fatal > 0 ? EXIT_TROUBLE : cli.matched > 0 ? EXIT_MATCH : EXIT_NONE;
}

static int
add(struct lq_msg *m, void *summary)
{
	if (lq_summary_add(summary, m) < 0)
		err(EXIT_TROUBLE, "summary");
	return 0;
}

int
main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options, "[ID...|-]");
	unsigned flags = 0;
	struct lq_summary *summary;
	struct lq_select *sel;
	struct lq_spool *sp;

	if (prom.on && (opt.json || merge.on || shape.on || stat_only))
		errx(EXIT_TROUBLE, "--prom, --json, --merge, --shape, --stat: choose one");
	if (prom.on && (opt.by_age || opt.bounces || opt.by_count || opt.frozen || opt.source))
		errx(EXIT_TROUBLE, "--prom goes with none of -a -b -c -f -s (they shape the table)");
	if (!prom.on && (prom.output || prom.top))
		errx(EXIT_TROUBLE, "--output and --top go with --prom");
	if (prom.by != NULL && (shape.on || merge.on || stat_only))
		errx(EXIT_TROUBLE, "--by goes with none of --shape --merge --stat (--merge takes "
		    "the keys from what it reads)");
	if (shape.on)
		return shape_main(pc);
	if (merge.expect != NULL && !merge.on)
		errx(EXIT_TROUBLE, "--expect goes with --merge");
	if ((opt.age_buckets != NULL || cli.host != NULL) && !opt.json && !merge.on)
		errx(EXIT_TROUBLE, "--age-buckets and --host go with --json");
	if (merge.on)
		return merge_main(pc, cli_select());
	if (prom.on)
		return cli_prom(pc, cli_select(), &prom);
	flags |= opt.by_age ? LQ_SUM_BY_AGE : 0;
	flags |= opt.by_count ? LQ_SUM_BY_COUNT : 0;
	flags |= opt.bounces ? LQ_SUM_MARK_BOUNCE : 0;
	flags |= opt.frozen ? LQ_SUM_MARK_FROZEN : 0;
	flags |= opt.source ? LQ_SUM_SOURCE : 0;
	if ((summary = lq_summary_new(flags, cli.now)) == NULL)
		err(EXIT_TROUBLE, NULL);
	if (prom.by != NULL) {
		struct lq_err e;

		if (lq_summary_set_keys(summary, prom.by, &e) < 0)
			errx(EXIT_TROUBLE, "--by %s", e.msg);
	}
	sel = cli_select();
	sp = cli_open_spool();
	if (stat_only) {	/* the whole queue: no selection, no IDs */
		struct lq_err e;

		if (opt.json)
			errx(EXIT_TROUBLE, "--stat goes with no --json");

		if (!lq_select_is_empty(sel) || poptPeekArg(pc) != NULL)
			errx(EXIT_TROUBLE, "--stat counts the whole queue: no selection, no IDs");
		if (lq_write_stat(stdout, sp, &e) < 0)
			errx(EXIT_TROUBLE, "%s", e.msg);
		lq_summary_free(summary);
		lq_select_free(sel);
		lq_spool_close(sp);
		poptFreeContext(pc);
		return cli_flush_stdout() < 0 ? EXIT_TROUBLE : EXIT_MATCH;
	}
	if (opt.age_buckets != NULL) {
		time_t bounds[LQ_AGE_BUCKETS_MAX];
		struct lq_err e;
		size_t n;

		if (lq_parse_age_buckets(opt.age_buckets, bounds, &n, &e) < 0 ||
		    lq_summary_set_buckets(summary, bounds, n, &e) < 0)
			errx(EXIT_TROUBLE, "--age-buckets %s", e.msg);
	}

	cli.unsorted = 1;	/* the order of reading does not matter to a summary */
	cli_each(sp, pc, sel, lq_summary_needs_reasons(summary) ? 0 : LQ_SCAN_NO_REASONS, add,
	    summary);
	if (opt.json) {
		lq_summary_write_json(stdout, summary, cli_host(), lq_spool_mta(sp), cli.seen);
		cli_json_end(sp);
	} else
		lq_summary_write(stdout, summary);

	cli_flush_stdout();
	lq_summary_free(summary);
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
