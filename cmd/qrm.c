/*
 * qrm -- remove messages from the queue, under the MTA's own lock, each one checked
 * again against the selection once locked:   qgrep -f '^<>$' -o 7d -i | qrm -
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static struct poptOption options[] = {
	{ "save", '\0', POPT_ARG_STRING, &cli_act.save, 0,
	  "keep a copy of each removed message in DIR (qcat --spool DIR ID reads it)", "DIR" },
	{ "ids", 'i', POPT_ARG_NONE, &cli.ids, 0, "print the ID of each message removed", NULL },
	{ "null", '0', POPT_ARG_NONE, &cli.nul, 0, "IDs end with NUL, in and out", NULL },
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, cli_act_table, 0, NULL, NULL },
	POPT_TABLEEND
};

int
main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options, NULL, "[ID...|-|ALL]");
	struct cli_targets targets;
	struct lq_select *sel;
	struct lq_spool *sp;

	sel = cli_select();
	sp = cli_open_spool();
	cli_collect(sp, pc, sel, &targets);
	cli_act_validate(sp, &targets);

	cli_act_all(sp, &targets, sel, LQ_ACT_REMOVE, "removed");

	cli_flush_stdout();
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
