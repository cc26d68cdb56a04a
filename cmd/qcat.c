/*
 * qcat -- show queued messages: the envelope (-e), the headers (-h), the body (-b), all
 * three by default like postcat; or with -m the message as the MTA would deliver it
 * (exim -Mvc).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static struct {
	int envelope, headers, body, message, log;
	struct lq_spool *sp;
} opt;

static struct poptOption options[] = {
	{ "envelope", 'e', POPT_ARG_NONE, &opt.envelope, 0, "the envelope", NULL },
	{ "headers", 'h', POPT_ARG_NONE, &opt.headers, 0, "the headers", NULL },
	{ "body", 'b', POPT_ARG_NONE, &opt.body, 0, "the body", NULL },
	{ "message", 'm', POPT_ARG_NONE, &opt.message, 0,
	  "the message as it would be delivered: live headers, blank line, body", NULL },
	{ "log", '\0', POPT_ARG_NONE, &opt.log, 0,
	  "the message's own log: Exim's message log (exim -Mvl), Postfix's defer and bounce logs", NULL },
	{ "null", '0', POPT_ARG_NONE, &cli.nul, 0, "IDs on stdin end with NUL", NULL },
	POPT_TABLEEND
};

static int
write_part(enum lq_part part, const char *data, size_t len, int deleted, void *arg)
{
	(void)part, (void)arg;
	if (!deleted || !opt.message)
		fwrite(data, 1, len, stdout);
	return ferror(stdout) ? -1 : 0;
}

static int
section(const char *what, const char *id)
{
	int many = opt.envelope + opt.headers + opt.body > 1;

	return many ? printf("*** %s %s ***\n", what, id) : 0;
}

static int
show(struct lq_msg *m, void *arg)
{
	struct lq_err e;
	int rc = 0;

	(void)arg;
	if (opt.log) {
		if (lq_write_log(opt.sp, m, stdout, &e) < 0) {
			if (ferror(stdout))
				return -1;
			warnx("%s", cli_shown_err(&e));
			cli.trouble = 1;
			/* the MTA keeps none: said once */
			return e.code == LQ_EUSAGE ? 1 : 0;
		}
		return 0;
	}
	/* the MTA's own viewer where it has one (Postfix: postcat's sections and markers;
	 * -m is postcat -h -b, the blank line being the body's first line there) */
	rc = lq_write_view(opt.sp, m, opt.message ? LQ_PART_HEADER | LQ_PART_BODY :
	    (opt.envelope ? LQ_VIEW_ENVELOPE : 0) | (opt.headers ? LQ_PART_HEADER : 0) |
	    (opt.body ? LQ_PART_BODY : 0), stdout, &e);
	if (rc == 1 && opt.message) {
		rc = lq_read(opt.sp, m, LQ_PART_HEADER, write_part, NULL, &e);
		if (rc == 0) {
			putchar('\n');
			rc = lq_read(opt.sp, m, LQ_PART_BODY, write_part, NULL, &e);
		}
	} else if (rc == 1) {
		rc = 0;
		if (rc == 0 && opt.envelope && section("ENVELOPE", m->id) >= 0)
			rc = lq_write_envelope(opt.sp, m, stdout, &e);
		if (rc == 0 && opt.headers && section("HEADERS", m->id) >= 0)
			rc = lq_read(opt.sp, m, LQ_PART_HEADER, write_part, NULL, &e);
		if (rc == 0 && opt.body && section("BODY", m->id) >= 0)
			rc = lq_read(opt.sp, m, LQ_PART_BODY, write_part, NULL, &e);
	}
	if (rc < 0) {
		if (ferror(stdout))
			return -1;
		warnx("%s", e.msg);
		cli.trouble = 1;
	}
	return 0;
}

int
main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options, "ID...|-");
	struct lq_select *sel;

	if (poptPeekArg(pc) == NULL)
		errx(EXIT_TROUBLE, "which message? give queue IDs, or - to read them from stdin");
	if (opt.message && (opt.envelope || opt.headers || opt.body))
		errx(EXIT_TROUBLE, "-m shows the whole message: it goes with none of -e -h -b");
	if (opt.log && (opt.message || opt.envelope || opt.headers || opt.body))
		errx(EXIT_TROUBLE, "--log shows the message's log: it goes with none of -m -e -h -b");
	if (!opt.message && !opt.envelope && !opt.headers && !opt.body)
		opt.envelope = opt.headers = opt.body = 1;
	sel = cli_select();
	opt.sp = cli_open_spool();

	cli_each(opt.sp, pc, sel, opt.log ? LQ_SCAN_NO_REASONS : 0, show, NULL);

	cli_flush_stdout();
	lq_select_free(sel);
	lq_spool_close(opt.sp);
	poptFreeContext(pc);
	return cli_exit_code();
}
