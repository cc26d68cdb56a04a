/*
 * qrun -- deliver messages now, by asking the MTA (exim -M, postqueue -i, an ALRM to
 * qmail-send): the one tool that runs the MTA, always by execv with an argument vector.
 * ALL runs the whole queue (exim -qff, postqueue -f).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

#define ARGV_MAX 256

static const char *mta_path;

static struct poptOption options[] = {
	{ "mta-path", '\0', POPT_ARG_STRING, &mta_path, 0,
	  "the MTA's command (default: exim4, postqueue...)", "PATH" },
	{ "dry-run", 'n', POPT_ARG_NONE, &cli_act.dry_run, 0,
	  "print the commands, run nothing", NULL },
	{ "max", '\0', POPT_ARG_STRING, &cli_act.max, 0,
	  "refuse when more than N messages would be run", "N" },
	{ "null", '0', POPT_ARG_NONE, &cli.nul, 0, "IDs on stdin end with NUL", NULL },
	POPT_TABLEEND
};

static void
run(const char **argv)
{
	if (!cli_act.dry_run) {
		cli_run(argv);
		return;
	}
	for (const char **a = argv; *a; a++)
		printf("%s%s", *a, a[1] ? " " : "\n");
}

int
main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options, "[ID...|-|ALL]");
	const char *cmd[ARGV_MAX];
	struct cli_targets targets;
	struct lq_select *sel;
	struct lq_spool *sp;
	struct lq_err e;
	size_t done = 0;
	int took;

	sel = cli_select();
	sp = cli_open_spool_to_change();
	cli_collect(sp, pc, sel, &targets);
	cli_act_validate(sp, &targets);

	if (targets.all) {
		if (lq_run_argv(sp, mta_path, NULL, 0, cmd, ARGV_MAX, &e) < 0)
			errx(EXIT_TROUBLE, "%s", cli_shown_err(&e));
		run(cmd);
	}
	while (!targets.all && done < targets.n) {
		took = lq_run_argv(sp, mta_path, (const char *const *)targets.ids + done,
		    targets.n - done, cmd, ARGV_MAX, &e);
		if (took <= 0)
			errx(EXIT_TROUBLE, "%s", took < 0 ? cli_shown_err(&e) : "cannot run the MTA");
		run(cmd);
		done += took;
	}
	cli.matched = targets.all ? 1 : targets.n;

	cli_flush_stdout();
	cli_targets_free(&targets);
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
