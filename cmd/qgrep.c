/*
 * qgrep -- select messages from the mail queue, with exiqgrep's options and output, on
 * every MTA: qgrep -f '^<>$' -o 7d -i | qrm -
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static struct {
	int all, brief, long_format;
} opt;

static struct poptOption options[] = {
	{ "all", 'a', POPT_ARG_NONE, &opt.all, 0,
	  "all recipients, delivered ones too (exiqgrep -a)", NULL },
	{ "brief", 'b', POPT_ARG_NONE, &opt.brief, 0,
	  "one line per message: ID, sender, recipients", NULL },
	{ "long", 'l', POPT_ARG_NONE, &opt.long_format, 0, "long format (the default)", NULL },
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, cli_output_table, 0, NULL, NULL },
	POPT_TABLEEND
};

static int
show(struct lq_msg *m, void *arg)
{
	(void)arg;
	if (cli.count)
		return 0;
	if (cli.nul || cli.ids)
		cli_put_id(m->id);
	else if (cli.json)
		lq_write_json(stdout, m, cli_host());
	else
		lq_write_exiqgrep(stdout, m, opt.all ? LQ_LIST_ALL : 0, opt.brief, cli.now);
	return cli_stdout_failed() ? -1 : 0;
}

int
main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options, "[ID...|-]");
	struct lq_select *sel;
	struct lq_spool *sp;

	cli.sel.all_rcpts = opt.all;
	sel = cli_select();
	sp = cli_open_spool();

	/* exiqgrep's output lists the recipients as the listing does */
	cli_each(sp, pc, sel, cli.json ? LQ_SCAN_LOCKS :
	    (cli.ids || cli.nul || cli.count) ? LQ_SCAN_NO_SIZE | LQ_SCAN_NO_REASONS :
	    lq_listing_scanflags(sp), show, NULL);
	if (cli.count)
		printf("%lu matches out of %lu messages\n", cli.matched, cli.seen);
	else if (cli.json && !cli.ids && !cli.nul)
		cli_json_end(sp);

	cli_flush_stdout();
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
