/*
 * qfreeze -- freeze (Exim) or hold (Postfix, qmail) messages so that no delivery is
 * tried; -u thaws or releases them. Under the MTA's own lock, each message checked again
 * once locked:   qgrep -r '@broken\.example$' -0 | xargs -0 qfreeze
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int thaw;

static struct poptOption options[] = {
	{ "thaw", 'u', POPT_ARG_NONE, &thaw, 0, "thaw (Exim), release from hold (Postfix, qmail)",
	  NULL },
	{ "ids", 'i', POPT_ARG_NONE, &cli.ids, 0, "print the ID of each message changed", NULL },
	{ "null", '0', POPT_ARG_NONE, &cli.nul, 0, "IDs end with NUL, in and out", NULL },
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, cli_act_table, 0, NULL, NULL },
	POPT_TABLEEND
};

int
main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options, "[ID...|-|ALL]");
	struct cli_targets targets;
	struct lq_select *sel;
	struct lq_spool *sp;

	sel = cli_select();
	sp = cli_open_spool_to_change();
	cli_collect(sp, pc, sel, &targets);
	cli_act_validate(sp, &targets);

	cli_act_all(sp, &targets, sel, thaw ? LQ_ACT_THAW : LQ_ACT_FREEZE);

	cli_flush_stdout();
	cli_targets_free(&targets);
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
