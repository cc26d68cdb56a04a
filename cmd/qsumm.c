/*
 * qsumm -- summarize the mail queue per domain: count, volume, oldest, newest. The table
 * is exiqsumm's, and so are -a -b -c -f -s; the selectors that use those letters
 * elsewhere are reached here by their long names (--sender, --size-match).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static struct {
	int by_age, bounces, by_count, frozen, source, json;
} opt;
static int stat_only;

static struct poptOption options[] = {
	{ "by-age", 'a', POPT_ARG_NONE, &opt.by_age, 0, "oldest domains first", NULL },
	{ "mark-bounces", 'b', POPT_ARG_NONE, &opt.bounces, 0,
	  "count bounces apart, marked (b)", NULL },
	{ "by-count", 'c', POPT_ARG_NONE, &opt.by_count, 0, "largest counts first", NULL },
	{ "mark-frozen", 'f', POPT_ARG_NONE, &opt.frozen, 0,
	  "count frozen messages apart, marked (f)", NULL },
	{ "source", 's', POPT_ARG_NONE, &opt.source, 0,
	  "per sender domain and recipient domain", NULL },
	{ "json", '\0', POPT_ARG_NONE, &opt.json, 0, "JSON Lines, one per domain", NULL },
	{ "stat", '\0', POPT_ARG_NONE, &stat_only, 0,
	  "only the totals, as qmail-qstat prints them", NULL },
	POPT_TABLEEND
};

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
	poptContext pc = cli_parse(argc, argv, options, "abcfs", "[ID...|-]");
	unsigned flags = 0;
	struct lq_summary *summary;
	struct lq_select *sel;
	struct lq_spool *sp;

	flags |= opt.by_age ? LQ_SUM_BY_AGE : 0;
	flags |= opt.by_count ? LQ_SUM_BY_COUNT : 0;
	flags |= opt.bounces ? LQ_SUM_MARK_BOUNCE : 0;
	flags |= opt.frozen ? LQ_SUM_MARK_FROZEN : 0;
	flags |= opt.source ? LQ_SUM_SOURCE : 0;
	sel = cli_select();
	sp = cli_open_spool();
	if (stat_only) {	/* the whole queue: no selection, no IDs */
		struct lq_err e;

		if (!lq_select_is_empty(sel) || poptPeekArg(pc) != NULL)
			errx(EXIT_TROUBLE, "--stat counts the whole queue: no selection, no IDs");
		if (lq_write_stat(stdout, sp, &e) < 0)
			errx(EXIT_TROUBLE, "%s", e.msg);
		return cli_flush_stdout() < 0 ? EXIT_TROUBLE : EXIT_MATCH;
	}
	if ((summary = lq_summary_new(flags, cli.now)) == NULL)
		err(EXIT_TROUBLE, NULL);

	cli.unsorted = 1;	/* the order of reading does not matter to a summary */
	cli_each(sp, pc, sel, 0, add, summary);
	if (opt.json)
		lq_summary_write_json(stdout, summary, NULL);
	else
		lq_summary_write(stdout, summary);

	cli_flush_stdout();
	lq_summary_free(summary);
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
