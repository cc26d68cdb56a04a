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

/* Once, after the last removal, when the removals wait for the MTA's next queue run (qmail
 * while qmail-send runs: its recipients are all marked done, and an ALRM makes qmail-send
 * finish the messages now). Exim and Postfix never ask for it. */
static void
run_mta(struct lq_spool *sp)
{
	const char *cmd[8];
	struct lq_err e;

	if (cli_act.dry_run || !lq_act_needs_run(sp))
		return;
	if (lq_run_argv(sp, NULL, NULL, 0, cmd, 8, &e) < 0) {
		warnx("%s (the messages are removed as soon as the MTA runs its queue)",
		    cli_shown_err(&e));
		cli.trouble = 1;
		return;
	}
	cli_run(cmd);
}

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

	cli_act_all(sp, &targets, sel, LQ_ACT_REMOVE);
	run_mta(sp);

	cli_flush_stdout();
	cli_targets_free(&targets);
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
