/*
 * qls -- list the mail queue: by default exactly as the MTA's own listing does
 * (exim -bp, postqueue -p, qmail-qread), reading the spool files directly.
 */
#include <stdio.h>
#include <err.h>
#include <stdlib.h>

#include "cli.h"

static struct {
	int all, undelivered;
	unsigned listflags;
	struct lq_spool *sp;
	int headed;		/* postqueue -p: the headings come with the first message */
	int64_t bytes;		/* and the trailer counts the listed sizes */
} opt;

static struct poptOption options[] = {
	{ "all", 'a', POPT_ARG_NONE, &opt.all, 0,
	  "also delivered and generated addresses (exim -bpa)", NULL },
	{ "undelivered", 'u', POPT_ARG_NONE, &opt.undelivered, 0,
	  "only recipients still to deliver (exim -bpu)", NULL },
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, cli_output_table, 0, NULL, NULL },
	POPT_TABLEEND
};

static int
list_one(struct lq_msg *m, void *arg)
{
	(void)arg;
	if (cli.count)
		return 0;
	if (cli.nul || cli.ids)
		cli_put_id(m->id);
	else if (cli.json)
		lq_write_json(stdout, m, cli_host());
	else {
		if (!opt.headed++)
			lq_write_listing_head(stdout, opt.sp);
		/* held at the limit: a damaged queue file may claim any size */
		if (__builtin_add_overflow(opt.bytes, m->size, &opt.bytes))
			opt.bytes = m->size > 0 ? INT64_MAX : INT64_MIN;
		lq_write_listing(stdout, m, opt.listflags, cli.now);
	}
	return cli_stdout_failed() ? -1 : 0;
}

int
main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options, "[ID...|-]");
	struct lq_select *sel;

	if (opt.all && opt.undelivered)
		errx(EXIT_TROUBLE, "-a and -u: choose one");
	if (opt.all) {
		opt.listflags |= LQ_LIST_ALL;
		cli.sel.all_rcpts = 1;
	}
	if (opt.undelivered)
		opt.listflags |= LQ_LIST_UNDELIVERED;
	sel = cli_select();
	opt.sp = cli_open_spool();

	cli_each(opt.sp, pc, sel, cli.json ? LQ_SCAN_LOCKS :
	    (cli.ids || cli.nul || cli.count) ? LQ_SCAN_NO_SIZE | LQ_SCAN_NO_REASONS :
	    lq_listing_scanflags(opt.sp), list_one, NULL);
	if (cli.count)
		printf("%lu\n", cli.matched);
	else if (cli.json && !cli.ids && !cli.nul)
		cli_json_end(opt.sp);
	else if (!cli.ids && !cli.nul)
		lq_write_listing_tail(stdout, opt.sp, cli.matched, opt.bytes);

	cli_flush_stdout();
	lq_select_free(sel);
	lq_spool_close(opt.sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
