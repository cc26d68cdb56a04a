/*
 * qedit -- change a queued message's envelope as exim -Mar, -Mes, -Mmd and -Mmad do: add a
 * recipient, set the sender, mark recipients delivered. Under the MTA's own lock, each
 * message checked again once locked:
 *     qgrep -f '^<>$' -r dead@x -i | qedit --mark-delivered dead@x -
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char **add_rcpt, **mark, *sender;
static int mark_all, local, remote;

static struct poptOption options[] = {
	{ "add-recipient", '\0', POPT_ARG_ARGV, &add_rcpt, 0,
	  "add ADDR as a recipient (may be given more than once), as exim -Mar", "ADDR" },
	{ "set-sender", '\0', POPT_ARG_STRING, &sender, 0,
	  "make ADDR the envelope sender (<> or '' for the null sender), as exim -Mes", "ADDR" },
	{ "mark-delivered", '\0', POPT_ARG_ARGV, &mark, 0,
	  "mark the recipient ADDR delivered (may be given more than once), as exim -Mmd",
	  "ADDR" },
	{ "mark-all-delivered", '\0', POPT_ARG_NONE, &mark_all, 0,
	  "mark every recipient delivered, as exim -Mmad", NULL },
	{ "local", '\0', POPT_ARG_NONE, &local, 0,
	  "qmail: added recipients are local (local/)", NULL },
	{ "remote", '\0', POPT_ARG_NONE, &remote, 0,
	  "qmail: added recipients are remote (remote/)", NULL },
	{ "save", '\0', POPT_ARG_STRING, &cli_act.save, 0,
	  "keep a copy of each message in DIR before it is changed", "DIR" },
	{ "ids", 'i', POPT_ARG_NONE, &cli.ids, 0, "print the ID of each message changed", NULL },
	{ "null", '0', POPT_ARG_NONE, &cli.nul, 0, "IDs end with NUL, in and out", NULL },
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, cli_act_table, 0, NULL, NULL },
	POPT_TABLEEND
};

/* "<a@b>" as "a@b", "<>" as "": the forms exim -Mar and -Mes take too. In place: popt
 * made the string, and the lists keep it. */
static const char *
bare(const char *a)
{
	size_t n = strlen(a);
	char *s = (char *)a;

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
	return s;
}

/* The one action asked for, with its addresses in cli_act; exits 2 unless exactly one. */
static enum lq_action
the_action(void)
{
	static const char *one[2];	/* the sender, NULL-terminated as popt's lists */
	const char **addrs = NULL;
	enum lq_action act = LQ_ACT_SET_SENDER;
	int n = (add_rcpt != NULL) + (mark != NULL) + (sender != NULL) + mark_all;
	size_t k = 0;

	if (n == 0)
		errx(EXIT_TROUBLE, "what to change? give --add-recipient, --set-sender, "
		    "--mark-delivered or --mark-all-delivered");
	if (n > 1)
		errx(EXIT_TROUBLE, "one kind of change a run (as exim -Mar, -Mes, -Mmd, -Mmad): "
		    "run qedit once for each");
	if ((local || remote) && add_rcpt == NULL)
		errx(EXIT_TROUBLE, "--local and --remote go with --add-recipient");
	if (local && remote)
		errx(EXIT_TROUBLE, "--local or --remote, not both");
	if (add_rcpt != NULL) {
		act = LQ_ACT_ADD_RECIPIENT;
		addrs = add_rcpt;
	} else if (mark != NULL) {
		act = LQ_ACT_MARK_DELIVERED;
		addrs = mark;
	} else if (mark_all)
		act = LQ_ACT_MARK_ALL_DELIVERED;
	else {
		one[0] = sender;
		addrs = one;
	}
	for (k = 0; addrs != NULL && addrs[k] != NULL; k++)
		addrs[k] = bare(addrs[k]);
	cli_act.addrs = addrs;
	cli_act.naddrs = k;
	cli_act.channel = local ? LQ_CHANNEL_LOCAL : remote ? LQ_CHANNEL_REMOTE :
	    LQ_CHANNEL_AUTO;
	return act;
}

int
main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options, "[ID...|-|ALL]");
	struct lq_act_opts check = { 0 };
	struct cli_targets targets;
	struct lq_select *sel;
	struct lq_spool *sp;
	enum lq_action act;
	struct lq_err e;

	act = the_action();
	sel = cli_select();
	sp = cli_open_spool_to_change();
	check.addrs = cli_act.addrs;
	check.naddrs = cli_act.naddrs;
	if (lq_act_check(sp, act, &check, &e) < 0)
		errx(EXIT_TROUBLE, "%s", cli_shown_err(&e));
	cli_collect(sp, pc, sel, &targets);
	cli_act_validate(sp, &targets);

	cli_act_all(sp, &targets, sel, act);

	cli_flush_stdout();
	cli_targets_free(&targets);
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
