/*
 * cli.c -- the command-line side the tools share: option tables, ID input, the walk over
 * the selected messages, error reports and exit codes.
 */
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/capability.h>

#include <bsd/stdlib.h>
#include <err.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <limits.h>
#include <pwd.h>
#include <syslog.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct cli cli;

struct poptOption cli_spool_table[] = {
	{ "spool", '\0', POPT_ARG_STRING, &cli.spool, 0,
	  "the spool directory (default: the MTA's own setting)", "DIR" },
	{ "mta", '\0', POPT_ARG_STRING, &cli.mta, 0,
	  "exim, postfix or qmail (default: detected from the spool)", "MTA" },
	{ "named-queue", 'G', POPT_ARG_STRING, &cli.named_queue, 0,
	  "Exim's named queue NAME", "NAME" },
	{ "jobs", '\0', POPT_ARG_STRING, &cli.jobs, 0,
	  "file reads in flight while scanning, 1 to 256 (default: $QTOOLS_JOBS, else 32)", "N" },
	POPT_TABLEEND
};

struct poptOption cli_select_table[] = {
	{ "sender", 'f', POPT_ARG_STRING, &cli.sel.sender, 0,
	  "sender matches REGEX (tested as <sender>)", "REGEX" },
	{ "recipient", 'r', POPT_ARG_STRING, &cli.sel.rcpt, 0,
	  "a recipient still to deliver matches REGEX", "REGEX" },
	{ "reason", '\0', POPT_ARG_STRING, &cli.sel.reason, 0,
	  "a recipient still to deliver has a delay reason that matches REGEX", "REGEX" },
	{ "size-match", 's', POPT_ARG_STRING, &cli.sel.size_re, 0,
	  "the size column (as exim -bp shows it) matches REGEX", "REGEX" },
	{ "younger", 'y', POPT_ARG_STRING, &cli.sel.younger, 0,
	  "younger than AGE (seconds, or with a unit s m h d w)", "AGE" },
	{ "older", 'o', POPT_ARG_STRING, &cli.sel.older, 0,
	  "older than AGE", "AGE" },
	{ "frozen", 'z', POPT_ARG_NONE, &cli.sel.frozen, 0,
	  "frozen (Exim) or on hold (Postfix, qmail)", NULL },
	{ "not-frozen", 'x', POPT_ARG_NONE, &cli.sel.not_frozen, 0,
	  "not frozen, not on hold", NULL },
	{ "invert", 'v', POPT_ARG_NONE, &cli.sel.invert, 0,
	  "select the messages that do not match", NULL },
	{ "larger", '\0', POPT_ARG_STRING, &cli.sel.larger, 0,
	  "at least SIZE bytes (units k M G)", "SIZE" },
	{ "smaller", '\0', POPT_ARG_STRING, &cli.sel.smaller, 0,
	  "smaller than SIZE bytes", "SIZE" },
	{ "header", '\0', POPT_ARG_ARGV, &cli.headers, 0,
	  "a header NAME matches REGEX (repeatable, all must match)", "'NAME: REGEX'" },
	{ "body", '\0', POPT_ARG_STRING, &cli.sel.body, 0,
	  "a line of the body matches REGEX", "REGEX" },
	{ "bounce", '\0', POPT_ARG_NONE, &cli.sel.bounce, 0,
	  "bounces: the null sender <>", NULL },
	{ "active", '\0', POPT_ARG_NONE, &cli.sel.active, 0,
	  "being delivered right now", NULL },
	{ "queue", '\0', POPT_ARG_STRING, &cli.sel.queue, 0,
	  "in one of these queues or states (comma-separated)", "NAMES" },
	{ "expr", 'e', POPT_ARG_ARGV, &cli.exprs, 0,
	  "an expression: and, or, not, ( ), tests on every field (repeatable, all must "
	  "match; qtools-select(7))", "EXPR" },
	{ "case-sensitive", '\0', POPT_ARG_NONE, &cli.sel.case_sensitive, 0,
	  "regexes are case-sensitive (default: caseless, like exiqgrep)", NULL },
	POPT_TABLEEND
};

struct poptOption cli_output_table[] = {
	{ "ids", 'i', POPT_ARG_NONE, &cli.ids, 0, "print only queue IDs", NULL },
	{ "null", '0', POPT_ARG_NONE, &cli.nul, 0,
	  "IDs end with NUL, in and out (for xargs -0)", NULL },
	{ "count", 'c', POPT_ARG_NONE, &cli.count, 0, "print only how many matched", NULL },
	{ "json", '\0', POPT_ARG_NONE, &cli.json, 0,
	  "JSON Lines, member names as postqueue -j, then an end record", NULL },
	{ "host", '\0', POPT_ARG_STRING, &cli.host, 0,
	  "--json: the host name to give (default: this host's FQDN)", "NAME" },
	{ "unsorted", 'U', POPT_ARG_NONE, &cli.unsorted, 0,
	  "directory order: starts at once, memory stays flat", NULL },
	{ "reverse", 'R', POPT_ARG_NONE, &cli.reverse, 0, "newest first", NULL },
	POPT_TABLEEND
};

/* Does the tool's own table (with the tables it includes) use this letter or name? */
static int
own_uses(const struct poptOption *own, char letter, const char *name)
{
	for (; own->longName || own->shortName || own->argInfo; own++) {
		if ((own->argInfo & POPT_ARG_MASK) == POPT_ARG_INCLUDE_TABLE) {
			if (own_uses(own->arg, letter, name))
				return 1;
		} else if ((letter && own->shortName == letter) ||
		    (name && own->longName && strcmp(own->longName, name) == 0))
			return 1;
	}
	return 0;
}

/*
 * A copy of a shared table without what the tool's own options use: a shared option whose
 * letter the tool uses keeps only its long name (qsumm -c is exiqsumm's, --sender stays);
 * one whose long name the tool uses is left out (qcat --body shows the body).
 */
static struct poptOption *
without_own(const struct poptOption *t, const struct poptOption *own)
{
	size_t n = 0, k = 0;
	struct poptOption *copy;

	while (t[n].longName || t[n].shortName || t[n].argInfo)
		n++;
	if ((copy = calloc(n + 1, sizeof *copy)) == NULL)
		err(EXIT_TROUBLE, NULL);
	for (size_t i = 0; i < n; i++) {
		if (t[i].longName && own_uses(own, 0, t[i].longName))
			continue;
		copy[k] = t[i];
		if (copy[k].shortName && own_uses(own, copy[k].shortName, NULL))
			copy[k].shortName = '\0';
		k++;
	}
	return copy;
}

/*
 * stdout on a terminal: what the tools print (IDs, addresses, headers, bodies: anyone who
 * sends mail chooses them) reaches it with control characters as \xNN, as ls shows odd
 * file names, so that no message can move the cursor, retitle the window or hide a line
 * with CR. TAB and LF pass. Not on a terminal, every byte goes out as it is.
 */
static ssize_t
tty_write(void *cookie, const char *buf, size_t n)
{
	char out[4096];
	size_t k = 0;

	(void)cookie;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)buf[i] : 0;

		if (i == n || k + 4 > sizeof out) {
			for (size_t done = 0; done < k; ) {
				ssize_t w = write(STDOUT_FILENO, out + done, k - done);

				if (w < 0 && errno != EINTR)
					return -1;
				done += w > 0 ? (size_t)w : 0;
			}
			k = 0;
		}
		if (i == n)
			break;
		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			k += (size_t)snprintf(out + k, sizeof out - k, "\\x%02x", c);
		else
			out[k++] = (char)c;
	}
	return (ssize_t)n;
}

static void
stdout_to_terminal(void)
{
	cookie_io_functions_t io = { .write = tty_write };
	FILE *f = fopencookie(NULL, "w", io);

	if (f == NULL)
		err(EXIT_TROUBLE, "stdout");
	setvbuf(f, NULL, _IOLBF, 4096);
	stdout = f;
}

poptContext
cli_parse(int argc, const char **argv, struct poptOption *own, const char *args_help)
{
	/* the context points into these tables for its whole life (and the selection table is
	 * a copy): they live as long as the process, not on this function's stack */
	static struct poptOption table[5];
	struct poptOption t[] = {
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, own, 0, "Options:", NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, without_own(cli_select_table, own), 0,
		  "Selection (all must match):", NULL },
		{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, cli_spool_table, 0, "Spool:", NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	poptContext pc;
	int rc;

	_Static_assert(sizeof t == sizeof table, "cli_parse: table size");
	memcpy(table, t, sizeof table);
	pc = poptGetContext(NULL, argc, argv, table, 0);
	poptSetOtherOptionHelp(pc, args_help);
	while ((rc = poptGetNextOpt(pc)) > 0)
		;
	if (rc < -1) {
		fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name,
		    poptBadOption(pc, POPT_BADOPTION_NOALIAS), poptStrerror(rc));
		exit(EXIT_TROUBLE);
	}
	cli.now = time(NULL);
	if (isatty(STDOUT_FILENO))
		stdout_to_terminal();
	else
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	for (const char **h = cli.headers; h && *h; h++)
		cli.sel.nheaders++;
	cli.sel.headers = cli.headers;
	for (const char **x = cli.exprs; x && *x; x++)
		cli.sel.nexprs++;
	cli.sel.exprs = cli.exprs;
	return pc;
}

/* ---------------------------------------------------------------- echoing */

#define SHOWN_MAX 80	/* an argument echoed in a message is cut after this many bytes */

/* s as a message may show it: control bytes (C0 and DEL) as \xNN, so that a terminal
 * neither obeys nor hides them, and cut after max bytes with "..." (the reason after it
 * stays readable). Four results can be in use at once. */
static const char *
shown(const char *s, size_t max)
{
	static char buf[4][4 * sizeof ((struct lq_err *)0)->msg + 4];
	static unsigned next;
	char *b = buf[next++ % 4];
	size_t k = 0, i;

	for (i = 0; s[i] != '\0' && i < max && k + 8 < sizeof buf[0]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			k += (size_t)snprintf(b + k, sizeof buf[0] - k, "\\x%02x", c);
		else
			b[k++] = (char)c;
	}
	snprintf(b + k, sizeof buf[0] - k, "%s", s[i] != '\0' ? "..." : "");
	return b;
}

const char *
cli_shown(const char *arg)
{
	return shown(arg, SHOWN_MAX);
}

/* A path longer than any path would be cut in the library's messages: refused here. */
static void
check_path(const char *opt, const char *path)
{
	if (strlen(path) >= PATH_MAX)
		errx(EXIT_TROUBLE, "%s %s: %s", opt, cli_shown(path), strerror(ENAMETOOLONG));
}

/* A library message: it names the file, ID or argument, already cut to a readable length. */
const char *
cli_shown_err(const struct lq_err *e)
{
	return shown(e->msg, sizeof e->msg);
}

/* --jobs, else $QTOOLS_JOBS, else CLI_JOBS_DEFAULT: a number the library takes, or exit 2. */
#define CLI_JOBS_DEFAULT 32
static void
set_jobs(struct lq_spool *sp)
{
	const char *s = cli.jobs, *what = "--jobs", *errstr;
	long long n = CLI_JOBS_DEFAULT;
	struct lq_err e;

	if (s == NULL && (s = getenv("QTOOLS_JOBS")) != NULL)
		what = "QTOOLS_JOBS";
	if (s != NULL) {
		n = strtonum(s, LQ_JOBS_MIN, LQ_JOBS_MAX, &errstr);
		if (errstr != NULL)
			errx(EXIT_TROUBLE, "%s %s: %s (from %d to %d)", what, cli_shown(s), errstr,
			    LQ_JOBS_MIN, LQ_JOBS_MAX);
	}
	if (sp != NULL && lq_spool_set_jobs(sp, (long)n, &e) < 0)
		errx(EXIT_TROUBLE, "%s %s", what, cli_shown_err(&e));
	/* the threads start once the scan reads from the disk, or at once (for the tests) */
	if ((s = getenv("QTOOLS_READAHEAD")) != NULL && strcmp(s, "always") != 0 &&
	    strcmp(s, "auto") != 0)
		errx(EXIT_TROUBLE, "QTOOLS_READAHEAD %s: not auto or always", cli_shown(s));
	if (sp != NULL && s != NULL && strcmp(s, "always") == 0)
		lq_spool_set_readahead(sp, LQ_READAHEAD_ALWAYS);
}

/* The spool of --spool/--mta/-G, or NULL with e (and *mta: --mta's, else LQ_MTA_ANY). */
static struct lq_spool *
open_spool(enum lq_mta *mta, struct lq_err *e)
{
	struct lq_spool *sp;

	*mta = LQ_MTA_ANY;
	if (cli.spool != NULL)
		check_path("--spool", cli.spool);
	if (cli.mta != NULL && lq_mta_from_name(cli.mta, mta) < 0)
		errx(EXIT_TROUBLE, "--mta %s: not exim, postfix or qmail", cli_shown(cli.mta));
	set_jobs(NULL);		/* a bad --jobs is refused whether or not the spool opens */
	if ((sp = lq_spool_open(cli.spool, *mta, cli.named_queue, e)) != NULL)
		set_jobs(sp);
	return sp;
}

struct lq_spool *
cli_open_spool(void)
{
	enum lq_mta mta;
	struct lq_spool *sp;
	struct lq_err e;

	if ((sp = open_spool(&mta, &e)) == NULL)
		errx(EXIT_TROUBLE, "%s", cli_shown_err(&e));
	/* select.c matches --queue names; which of them can match is the spool's business */
	if (cli.sel.queue != NULL && lq_spool_check_names(sp, cli.sel.queue, &e) < 0)
		errx(EXIT_TROUBLE, "--queue %s", cli_shown_err(&e));
	return sp;
}

struct lq_select *
cli_select(void)
{
	struct lq_select *sel;
	struct lq_err e;

	if (cli.sel.frozen && cli.sel.not_frozen)
		errx(EXIT_TROUBLE, "-z and -x: no message is both frozen and not frozen");
	if ((sel = lq_select_new(&cli.sel, cli.now, &e)) == NULL) {
		/* a bad -e: the message goes on with the expression and a caret under the
		 * column (lq_select_new), each line escaped on its own */
		char *line = strchr(e.msg, '\n'), *nl;

		if (line == NULL || strncmp(e.msg, "-e: ", 4) != 0)
			errx(EXIT_TROUBLE, "%s", cli_shown_err(&e));
		*line++ = '\0';
		warnx("%s", cli_shown_err(&e));
		for (; line != NULL; line = nl) {
			if ((nl = strchr(line, '\n')) != NULL)
				*nl++ = '\0';
			fprintf(stderr, "%s\n", shown(line, sizeof e.msg));
		}
		exit(EXIT_TROUBLE);
	}
	/* -v alone would be "everything" to an acting tool (its selection is empty): refused */
	if (cli.sel.invert && lq_select_is_empty(sel))
		errx(EXIT_TROUBLE, "-v: nothing to invert: give the selection it turns round");
	return sel;
}

/* ---------------------------------------------------------------- the walk */

struct walk {
	struct lq_spool *sp;
	struct lq_select *sel;
	lq_msg_fn fn;
	void *arg;
};

static void
problem(const char *id, const struct lq_err *e, void *arg)
{
	static unsigned long denied;	/* messages this user may not read */
	int perm = e->code == LQ_ESYS && (e->sys_errno == EACCES || e->sys_errno == EPERM);

	(void)id, (void)arg;
	if (e->code == LQ_NOTICE) {	/* a notice is said, and is no trouble */
		warnx("%s", cli_shown_err(e));
		return;
	}
	cli.trouble++;
	if (perm && denied++ > 0)
		return;		/* a spool this user may not read: one line, not one per message */
	warnx("%s%s", cli_shown_err(e), perm ? " (not said again for other messages: run as root or"
	    " the MTA's user)" : "");
}

static int
consider(struct lq_msg *m, void *arg)
{
	struct walk *w = arg;
	struct lq_err e;
	int rc = lq_select_match(w->sel, w->sp, m, &e);

	cli.seen++;
	if (rc < 0) {
		/* never selected, also under -v: an error is not a "no" to invert */
		warnx("%s: cannot tell whether it matches, so it is not selected: %s", m->id,
		    cli_shown_err(&e));
		cli.trouble++;
		return 0;
	}
	if (rc == 0)
		return 0;
	cli.matched++;
	return w->fn(m, w->arg);
}

/* ---------------------------------------------------------------- IDs given */

/*
 * The IDs given in this run, so that each is read, counted and acted on once however often
 * it is given (qrm ID ID, or a list with repeats on stdin): an open-addressing set of copies.
 */
static struct {
	char **slot;
	size_t cap, n;
} given;

static size_t
id_hash(const char *s)
{
	size_t h = 14695981039346656037u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

/* 1 the first time id is given, 0 after that. */
static int
first_time(const char *id)
{
	size_t i;

	if (given.n * 2 >= given.cap) {
		size_t cap = given.cap ? given.cap * 2 : 1024;
		char **slot = calloc(cap, sizeof *slot);

		if (slot == NULL)
			err(EXIT_TROUBLE, NULL);
		for (size_t k = 0; k < given.cap; k++) {
			if (given.slot[k] == NULL)
				continue;
			for (i = id_hash(given.slot[k]) & (cap - 1); slot[i]; i = (i + 1) & (cap - 1))
				;
			slot[i] = given.slot[k];
		}
		free(given.slot);
		given.slot = slot;
		given.cap = cap;
	}
	for (i = id_hash(id) & (given.cap - 1); given.slot[i]; i = (i + 1) & (given.cap - 1))
		if (strcmp(given.slot[i], id) == 0)
			return 0;
	if ((given.slot[i] = strdup(id)) == NULL)
		err(EXIT_TROUBLE, NULL);
	given.n++;
	return 1;
}

static void
given_free(void)
{
	for (size_t k = 0; k < given.cap; k++)
		free(given.slot[k]);
	free(given.slot);
	memset(&given, 0, sizeof given);
}

/*
 * The one reader of IDs on stdin: one per line, or NUL-terminated with -0; empty lines are
 * skipped. fn gets each in order (its non-zero value stops the reading and is returned); an
 * ID with a NUL in it, and a read error on stdin, are trouble.
 */
static int
each_stdin_id(int (*fn)(const char *id, void *arg), void *arg)
{
	int sep = cli.nul ? '\0' : '\n', rc = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while (rc == 0 && (n = getdelim(&line, &cap, sep, stdin)) > 0) {
		if (line[n - 1] == sep)
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (strlen(line) != (size_t)n) {
			warnx("stdin: an ID with a NUL byte in it");
			cli.trouble++;
			continue;
		}
		rc = fn(line, arg);
	}
	if (ferror(stdin)) {
		warn("stdin");
		cli.trouble++;
	}
	free(line);
	return rc;
}

/* Is id a queue ID of this spool's MTA? Says so when it is not. */
static int
valid_id(struct lq_spool *sp, const char *id)
{
	if (lq_valid_id(sp, id))
		return 1;
	warnx("%s: not a valid %s queue ID", cli_shown(id), lq_mta_name(lq_spool_mta(sp)));
	return 0;
}

struct walk_ids {
	struct walk *w;
	unsigned scanflags;
};

static int
one_id(const char *id, void *arg)
{
	struct walk_ids *wi = arg;
	struct lq_msg *m;
	struct lq_err e;

	if (!valid_id(wi->w->sp, id)) {
		cli.trouble++;
		return 0;
	}
	if (!first_time(id))
		return 0;
	if (lq_load(wi->w->sp, id, wi->scanflags, &m, &e) < 0) {
		warnx("%s", cli_shown_err(&e));
		cli.trouble++;
		return 0;
	}
	return consider(m, wi->w);
}

int
cli_each(struct lq_spool *sp, poptContext pc, struct lq_select *sel, unsigned scanflags,
    lq_msg_fn fn, void *arg)
{
	struct walk w = { sp, sel, fn, arg };
	struct walk_ids wi = { &w, 0 };
	const char **args = poptGetArgs(pc);
	struct lq_scan sc = { 0 };
	struct lq_err e;
	int rc = 0;

	scanflags |= lq_select_scanflags(sel);
	if (lq_select_needs_size(sel))
		scanflags &= ~LQ_SCAN_NO_SIZE;
	if (cli.unsorted)
		scanflags |= LQ_SCAN_UNSORTED;
	if (cli.reverse)
		scanflags |= LQ_SCAN_REVERSE;
	if (args != NULL) {
		wi.scanflags = scanflags;
		/* every ID is checked before any is read: a typo is reported up front */
		for (const char **a = args; *a; a++)
			if (strcmp(*a, "-") != 0 && !valid_id(sp, *a))
				cli.trouble++;
		for (const char **a = args; rc == 0 && *a; a++) {
			if (strcmp(*a, "-") == 0)
				rc = each_stdin_id(one_id, &wi);
			else if (lq_valid_id(sp, *a))
				rc = one_id(*a, &wi);
		}
		given_free();
		return rc;
	}
	sc.flags = scanflags;
	sc.each = consider;
	sc.problem = problem;
	sc.arg = &w;
	if ((rc = lq_scan(sp, &sc, &e)) < 0) {
		warnx("%s", cli_shown_err(&e));
		cli.trouble++;
	}
	cli.skipped += sc.vanished + sc.unfinished;
	return rc;
}

void
cli_put_id(const char *id)
{
	fputs_unlocked(id, stdout);
	putc_unlocked(cli.nul ? '\0' : '\n', stdout);
}

int
cli_stdout_failed(void)
{
	return ferror_unlocked(stdout);
}

const char *
cli_host(void)
{
	static char name[256];
	struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *ai;

	if (cli.host != NULL)
		return cli.host;
	if (gethostname(name, sizeof name - 1) < 0)
		err(EXIT_TROUBLE, "gethostname");
	name[sizeof name - 1] = '\0';
	if (getaddrinfo(name, NULL, &hints, &ai) == 0) {
		if (ai->ai_canonname != NULL && ai->ai_canonname[0] != '\0')
			snprintf(name, sizeof name, "%s", ai->ai_canonname);
		freeaddrinfo(ai);
	}
	return cli.host = name;
}

void
cli_json_end(struct lq_spool *sp)
{
	struct lq_json_end e = { cli.now, cli.seen, cli.matched, cli.skipped,
	    (unsigned long)cli.trouble };

	lq_write_json_end(stdout, cli_host(), lq_spool_mta(sp), &e);
}

int
cli_flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		cli.trouble = 1;
		return -1;
	}
	return 0;
}

int
cli_exit_code(void)
{
	if (cli.trouble)
		return EXIT_TROUBLE;
	return cli.matched > 0 ? EXIT_MATCH : EXIT_NONE;
}

/* Run the MTA (argv[0] a name looked up in PATH, or a path) and wait for it; a failure is
 * reported on one line and makes the exit status 2. */
void
cli_run(const char **argv)
{
	int status, e;
	pid_t pid;

	if ((pid = fork()) < 0)
		err(EXIT_TROUBLE, "fork");
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		e = errno;	/* PATH searched: EACCES is a directory we may not search */
		warnx("%s: %s", cli_shown(argv[0]), e == ENOENT ||
		    (e == EACCES && strchr(argv[0], '/') == NULL) ? "not found" : strerror(e));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			err(EXIT_TROUBLE, "waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		cli.trouble = 1;	/* said above, or by the MTA itself */
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		warnx("%s: exited with %d", cli_shown(argv[0]),
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		cli.trouble = 1;
	}
}

/* ---------------------------------------------------------------- acting */

struct cli_act cli_act;

struct poptOption cli_act_table[] = {
	{ "dry-run", 'n', POPT_ARG_NONE, &cli_act.dry_run, 0,
	  "print what would be done, do nothing", NULL },
	{ "max", '\0', POPT_ARG_STRING, &cli_act.max, 0,
	  "refuse to act when more than N messages would be affected", "N" },
	{ "mainlog", '\0', POPT_ARG_STRING, &cli_act.mainlog, 0,
	  "Exim: the mainlog to append Exim's own log lines to", "FILE" },
	POPT_TABLEEND
};

static void
target_add(struct cli_targets *t, const char *id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		char **ids = reallocarray(t->ids, cap, sizeof *ids);

		if (ids == NULL)
			err(EXIT_TROUBLE, NULL);
		t->ids = ids;
		t->cap = cap;
	}
	if ((t->ids[t->n++] = strdup(id)) == NULL)
		err(EXIT_TROUBLE, NULL);
}

static int
collect_one(struct lq_msg *m, void *t)
{
	target_add(t, m->id);
	return 0;
}

struct collect_ids {
	struct lq_spool *sp;
	struct cli_targets *t;
	int bad;
};

/* An ID given: a target once, however often it is given. */
static int
collect_id(const char *id, void *arg)
{
	struct collect_ids *c = arg;

	if (!valid_id(c->sp, id))
		c->bad = 1;
	else if (first_time(id))
		target_add(c->t, id);
	return 0;
}

void
cli_collect(struct lq_spool *sp, poptContext pc, struct lq_select *sel, struct cli_targets *t)
{
	const char **args = poptGetArgs(pc);
	struct collect_ids c = { sp, t, 0 };
	struct lq_scan sc = { 0 };
	struct walk w = { sp, sel, collect_one, t };
	struct lq_err e;

	memset(t, 0, sizeof *t);
	if (args != NULL && strcmp(args[0], "ALL") == 0 && args[1] == NULL) {
		args = NULL;
		t->all = lq_select_is_empty(sel);
	} else if (args == NULL && lq_select_is_empty(sel))
		errx(EXIT_TROUBLE, "which messages? give IDs, - to read them from stdin, "
		    "selection options, or ALL (in capitals) for the whole queue");
	if (args != NULL) {
		for (const char **a = args; *a; a++)
			if (strcmp(*a, "ALL") == 0)
				errx(EXIT_TROUBLE, "ALL goes alone: not with IDs");
		for (const char **a = args; *a; a++)
			if (strcmp(*a, "-") != 0)
				collect_id(*a, &c);
		for (const char **a = args; *a; a++)
			if (strcmp(*a, "-") == 0)
				each_stdin_id(collect_id, &c);
		given_free();
		/* nothing is touched when any ID was malformed or stdin failed */
		if (c.bad || cli.trouble)
			errx(EXIT_TROUBLE, "nothing done: fix the IDs above");
		return;
	}
	/* --active: LQ_SCAN_LOCKS; --reason: LQ_SCAN_REASONS */
	sc.flags = LQ_SCAN_UNSORTED | LQ_SCAN_NO_REASONS | lq_select_scanflags(sel);
	sc.each = consider;
	sc.problem = problem;
	sc.arg = &w;
	if (lq_scan(sp, &sc, &e) < 0)
		errx(EXIT_TROUBLE, "%s", cli_shown_err(&e));
}

void
cli_targets_free(struct cli_targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->ids[i]);
	free(t->ids);
	memset(t, 0, sizeof *t);
}

static int is_owner(struct lq_spool *);

void
cli_act_validate(struct lq_spool *sp, const struct cli_targets *t)
{
	const char *errstr;
	long long max;

	if (cli_act.max != NULL) {
		max = strtonum(cli_act.max, 0, LLONG_MAX, &errstr);
		if (errstr != NULL)
			errx(EXIT_TROUBLE, "--max %s: %s", cli_shown(cli_act.max), errstr);
		if (t->n > (unsigned long long)max)
			errx(EXIT_TROUBLE, "%zu messages selected, more than --max %lld: nothing done",
			    t->n, max);
	}
	/* a dry run too: its verdict is the real run's, and the real run would stop here */
	if (!is_owner(sp) && faccessat(AT_FDCWD, lq_spool_dir(sp), W_OK, AT_EACCESS) < 0)
		errx(EXIT_TROUBLE, "%s: no permission to change the spool (run as root or the "
		    "MTA's user): nothing done", cli_shown(lq_spool_dir(sp)));
}

/* Who ran the tool, for the MTA's log ("removed by root"): asked once, before a tool run
 * as root becomes the spool's owner. */
static const char *
user_name(void)
{
	static char name[64];
	struct passwd *pw;

	if (name[0] == '\0') {
		if ((pw = getpwuid(getuid())) != NULL)
			snprintf(name, sizeof name, "%s", pw->pw_name);
		else
			snprintf(name, sizeof name, "uid %ld", (long)getuid());
	}
	return name;
}

static int
open_mainlog(struct lq_spool *sp)
{
	struct lq_err e;
	int fd;

	if (cli_act.mainlog != NULL)
		check_path("--mainlog", cli_act.mainlog);
	if ((fd = lq_open_mta_log(sp, cli_act.mainlog, &e)) < 0 && e.code != LQ_ENOENT)
		errx(EXIT_TROUBLE, "--mainlog %s", cli_shown_err(&e));
	return fd;
}

/* ---------------------------------------------------------------- privileges */

static int prepared, save_dirfd = -1, mainlog_fd = -1;

/* What an action writes outside the spool, opened as whoever ran the tool (like a shell's
 * redirections): the MTA's log, and --save DIR, which is made when missing and then given to
 * the spool's owner (o), so that the copies can be written once the tool has become it. */
static void
prepare_outside(struct lq_spool *sp, const struct lq_owner *o)
{
	int made;

	prepared = 1;
	mainlog_fd = open_mainlog(sp);	/* a dry run too refuses a --mainlog it could not use */
	if (cli_act.dry_run) {
		if (mainlog_fd >= 0)
			close(mainlog_fd);
		mainlog_fd = -1;
		/* and a --save DIR the real run could not use: an existing DIR is opened (the
		 * owner's right to write there is checked once the tool has become it); a
		 * missing one must be one the real run can make */
		if (cli_act.save != NULL) {
			char parent[PATH_MAX], *slash;

			check_path("--save", cli_act.save);
			save_dirfd = open(cli_act.save, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
			if (save_dirfd < 0 && errno != ENOENT)
				err(EXIT_TROUBLE, "--save %s", cli_shown(cli_act.save));
			if (save_dirfd < 0) {
				snprintf(parent, sizeof parent, "%s", cli_act.save);
				while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' &&
				    slash != parent)
					*slash = '\0';
				if ((slash = strrchr(parent, '/')) == NULL)
					snprintf(parent, sizeof parent, ".");
				else
					slash[slash == parent] = '\0';
				if (faccessat(AT_FDCWD, parent, W_OK | X_OK, AT_EACCESS) < 0)
					err(EXIT_TROUBLE, "--save %s", cli_shown(cli_act.save));
			}
		}
		return;
	}
	if (cli_act.save != NULL) {
		check_path("--save", cli_act.save);
		made = mkdir(cli_act.save, 0750) == 0;
		if (!made && errno != EEXIST)
			err(EXIT_TROUBLE, "--save %s", cli_shown(cli_act.save));
		if ((save_dirfd = open(cli_act.save, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC)) < 0)
			err(EXIT_TROUBLE, "--save %s", cli_shown(cli_act.save));
		if (made && o != NULL && fchown(save_dirfd, o->uid, o->gid) < 0)
			err(EXIT_TROUBLE, "--save %s", cli_shown(cli_act.save));
	}
}

/* Is the tool running as the spool's owner (so it may change the spool)? */
static int
is_owner(struct lq_spool *sp)
{
	struct lq_owner o;

	return lq_spool_owner(sp, &o, NULL) == 0 && geteuid() == o.uid;
}

/* A set-uid or set-gid copy (or one with file capabilities) would act for whoever runs it. */
static void
refuse_setid(void)
{
	if (getuid() != geteuid() || getgid() != getegid() || getauxval(AT_SECURE))
		errx(EXIT_TROUBLE, "refusing to run set-uid, set-gid or with file capabilities "
		    "(uid %ld, effective uid %ld, gid %ld, effective gid %ld): run it as root or as "
		    "the MTA's user", (long)getuid(), (long)geteuid(), (long)getgid(),
		    (long)getegid());
}

/*
 * Started as root: become the spool's owner (uid, its gid, no other group), keeping only the
 * capabilities the MTA's layout needs (qmail: see lq_spool_owner), and check that there is
 * no way back. Anything the tool runs afterwards (the MTA for qrun, kill for qmail) starts
 * as that user; a set-uid MTA binary still gets what it is made to get.
 */
static void
become_owner(const struct lq_owner *o)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	__u32 keep = 0;

	if (o->caps & LQ_CAP_DAC_OVERRIDE)
		keep |= 1u << CAP_DAC_OVERRIDE;
	if (o->caps & LQ_CAP_CHOWN)
		keep |= 1u << CAP_CHOWN;
	if (o->caps & LQ_CAP_FOWNER)
		keep |= 1u << CAP_FOWNER;
	if (keep != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		err(EXIT_TROUBLE, "prctl(PR_SET_KEEPCAPS)");
	if (setgroups(1, &o->gid) < 0 || setresgid(o->gid, o->gid, o->gid) < 0 ||
	    setresuid(o->uid, o->uid, o->uid) < 0)
		err(EXIT_TROUBLE, "becoming uid %ld gid %ld, %s", (long)o->uid, (long)o->gid,
		    o->what);
	if (keep != 0) {
		d[0].effective = d[0].permitted = keep;
		if (syscall(SYS_capset, &h, d) < 0)
			err(EXIT_TROUBLE, "keeping only the capabilities needed");
		(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	if (o->uid != 0 && (setresuid(-1, 0, -1) == 0 || getuid() != o->uid ||
	    geteuid() != o->uid || getegid() != o->gid))
		errx(EXIT_TROUBLE, "could not give up root for uid %ld", (long)o->uid);
}

struct lq_spool *
cli_open_spool_to_change(void)
{
	struct lq_spool *sp;
	struct lq_owner o;
	struct lq_err e;

	refuse_setid();
	sp = cli_open_spool();
	if (geteuid() != 0) {
		prepare_outside(sp, NULL);	/* not root: acts as who runs it, with their rights */
		return sp;
	}
	if (lq_spool_owner(sp, &o, &e) < 0)
		errx(EXIT_TROUBLE, "%s: refusing to act on it as root", cli_shown_err(&e));
	(void)user_name();
	prepare_outside(sp, &o);
	if (o.uid != 0)
		become_owner(&o);
	if (save_dirfd >= 0 && faccessat(save_dirfd, ".", W_OK | X_OK, AT_EACCESS) < 0)
		errx(EXIT_TROUBLE, "--save %s: uid %ld (%s, which %s acts as) cannot write there",
		    cli_shown(cli_act.save), (long)o.uid, o.what, program_invocation_short_name);
	return sp;
}

/* What the verdicts say of each action: "would remove ID", "3 removed". */
static const struct {
	const char *would, *done;
} act_words[] = {
	[LQ_ACT_REMOVE] = { "would remove", "removed" },
	[LQ_ACT_FREEZE] = { "would freeze", "frozen" },
	[LQ_ACT_THAW] = { "would thaw", "thawed" },
	[LQ_ACT_MARK_DELIVERED] = { "would mark delivered in", "changed (marked delivered)" },
	[LQ_ACT_MARK_ALL_DELIVERED] = { "would mark all delivered in",
	    "changed (all marked delivered)" },
	[LQ_ACT_ADD_RECIPIENT] = { "would add recipients to", "changed (recipients added)" },
	[LQ_ACT_SET_SENDER] = { "would set the sender of", "changed (sender set)" },
};

/* The addresses an action was given, for syslog: " addr=<a>,<b>", or "" */
static const char *
log_addrs(const struct lq_act_opts *o)
{
	static char buf[2048];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < o->naddrs && n < sizeof buf; i++)
		n += snprintf(buf + n, sizeof buf - n, "%s<%s>", i ? "," : " addr=",
		    cli_shown(o->addrs[i]));
	return buf;
}

void
cli_act_all(struct lq_spool *sp, const struct cli_targets *t, struct lq_select *sel,
    enum lq_action act)
{
	struct lq_act_opts o = { .dry_run = cli_act.dry_run, .user = user_name(),
	    .mainlog_fd = -1, .save_dirfd = -1, .addrs = cli_act.addrs,
	    .naddrs = cli_act.naddrs, .channel = cli_act.channel };
	unsigned long done = 0, locked = 0, gone = 0, changed = 0, failed = 0, already = 0;
	const char *verb = act_words[act].done;
	struct lq_msg *m;
	struct lq_err e;

	if (!prepared)
		prepare_outside(sp, NULL);
	o.save_dirfd = save_dirfd;
	o.mainlog_fd = mainlog_fd;
	openlog(program_invocation_short_name, LOG_PID, LOG_MAIL);
	for (size_t i = 0; i < t->n; i++) {
		const char *id = t->ids[i];

		if (lq_act(sp, id, act, sel, &o, &m, &e) == 0) {
			if (!o.dry_run)
				syslog(LOG_NOTICE, "user=%s action=%s id=%s from=<%s> nrcpt=%zu%s",
				    o.user, verb, id, m->sender ? m->sender : "", m->nrcpt,
				    log_addrs(&o));
			if (e.code == LQ_NOTICE)
				warnx("%s", cli_shown_err(&e));
			if (cli.ids || cli.nul)
				cli_put_id(id);
			else if (o.dry_run)
				printf("%s %s\n", act_words[act].would, id);
			done++;
			continue;
		}
		/* the same verdicts, dry or not; "already so" and "no longer matching" are
		 * answers, not trouble */
		switch (e.code) {
		case LQ_ELOCKED: locked++; break;
		case LQ_ENOENT: gone++; break;
		case LQ_ENOMATCH: changed++; break;
		case LQ_EALREADY: already++; break;
		default: failed++; break;
		}
		warnx("%s", cli_shown_err(&e));
		if (e.code != LQ_ENOMATCH && e.code != LQ_EALREADY)
			cli.trouble = 1;
	}
	closelog();
	cli.matched = done;
	/* quiet when nothing was there to do: cron mails only what happened */
	if (done + locked + gone + changed + failed + already > 0) {
		fprintf(stderr, "%s: %lu %s%s", program_invocation_short_name, done,
		    o.dry_run ? "would be " : "", verb);
		if (already)
			fprintf(stderr, ", %lu already so", already);
		if (locked)
			fprintf(stderr, ", %lu locked (being delivered) and skipped", locked);
		if (gone)
			fprintf(stderr, ", %lu gone", gone);
		if (changed)
			fprintf(stderr, ", %lu no longer matching", changed);
		if (failed)
			fprintf(stderr, ", %lu failed", failed);
		fputc('\n', stderr);
	}
	if (o.mainlog_fd >= 0)
		close(o.mainlog_fd);
	if (o.save_dirfd >= 0)
		close(o.save_dirfd);
}

/* ---------------------------------------------------------------- qsumm --prom */

/* --output FILE is written as a temporary file beside it, renamed over it when complete: a
 * reader sees the old file or the new one, never a part. Its name (.FILE.XXXXXX) does not
 * end in .prom, so node_exporter's textfile collector never reads it; it is removed when
 * the tool exits before the rename, also on SIGHUP, SIGINT and SIGTERM. */
static char out_tmp[PATH_MAX];

static void
out_tmp_remove(void)
{
	if (out_tmp[0] != '\0')
		unlink(out_tmp);
}

static void
out_tmp_signal(int sig)
{
	out_tmp_remove();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Exits 2 with one line when FILE's directory cannot be written: nothing is left there. */
static FILE *
out_open(const char *path)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	int dirlen = slash ? (int)(slash - path) : 1, fd;
	const char *dir = slash ? path : ".";
	char tmpl[PATH_MAX];
	mode_t mask;
	FILE *f;

	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		errx(EXIT_TROUBLE, "--output %s: not a file name", path);
	if (slash == path)
		dirlen = 1;	/* /FILE */
	if ((size_t)snprintf(tmpl, sizeof tmpl, "%.*s/.%s.XXXXXX", dirlen, dir, base) >=
	    sizeof tmpl)
		errx(EXIT_TROUBLE, "--output %s: name too long", path);
	atexit(out_tmp_remove);
	signal(SIGHUP, out_tmp_signal);
	signal(SIGINT, out_tmp_signal);
	signal(SIGTERM, out_tmp_signal);
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) < 0)
		err(EXIT_TROUBLE, "--output %s: cannot write in %.*s", path, dirlen, dir);
	memcpy(out_tmp, tmpl, sizeof tmpl);
	/* as a shell's redirection would create it: node_exporter runs as another user */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0 || (f = fdopen(fd, "w")) == NULL)
		err(EXIT_TROUBLE, "--output %s", out_tmp);
	return f;
}

/* Complete the temporary file and rename it over FILE; on failure FILE is as it was. */
static int
out_commit(FILE *f, const char *path)
{
	int rc = 0;

	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0) {
		warn("--output %s", path);
		rc = -1;
	}
	if (fclose(f) != 0 && rc == 0) {
		warn("--output %s", path);
		rc = -1;
	}
	if (rc == 0 && rename(out_tmp, path) < 0) {
		warn("--output %s", path);
		rc = -1;
	}
	if (rc < 0)
		out_tmp_remove();
	out_tmp[0] = '\0';
	return rc;
}

/* Is name one of the comma- (or space-) separated names of list? */
static int
in_list(const char *list, const char *name)
{
	size_t len = strlen(name), k;

	for (const char *p = list; *p != '\0'; p += k, p += strspn(p, ", ")) {
		k = strcspn(p, ", ");
		if (k == len && strncmp(p, name, k) == 0)
			return 1;
	}
	return 0;
}

/* The spool's queues (lq_spool_queues), only those -G names when it names some: the others
 * were not read, and a 0 for them would say "empty". Freed by the caller. */
static const char **
queues_read(struct lq_spool *sp)
{
	const char *const *all = lq_spool_queues(sp);
	const char **v;
	size_t n = 0, k = 0;

	while (all[n] != NULL)
		n++;
	if ((v = calloc(n + 1, sizeof *v)) == NULL)
		err(EXIT_TROUBLE, NULL);
	for (size_t i = 0; i < n; i++)
		if (cli.named_queue == NULL || in_list(cli.named_queue, all[i]))
			v[k++] = all[i];
	if (k == 0)		/* an Exim queue whose name has a comma: all there is */
		memcpy(v, all, n * sizeof *v);
	return v;
}

static int
prom_add(struct lq_msg *m, void *p)
{
	if (lq_prom_add(p, m) < 0)
		err(EXIT_TROUBLE, "--prom");
	return 0;
}

int
cli_prom(poptContext pc, struct lq_select *sel, const struct cli_prom *o)
{
	struct lq_prom_scan sc = { 0 };
	struct timespec t0, t1;
	struct lq_spool *sp;
	struct lq_prom *p;
	struct lq_err e;
	enum lq_mta mta;
	const char **queues = NULL;
	const char *errstr = NULL;
	long long top = 0;
	FILE *out = stdout;

	if (o->by != NULL && strcmp(o->by, "domain") != 0)
		errx(EXIT_TROUBLE, "--by %s: the only one is --by domain", o->by);
	if (o->top != NULL && o->by == NULL)
		errx(EXIT_TROUBLE, "--top goes with --by domain");
	if (o->by != NULL && (top = o->top ? strtonum(o->top, 1, 100000, &errstr) : 10) == 0)
		errx(EXIT_TROUBLE, "--top %s: %s (1 to 100000 domains)", o->top, errstr);
	if (o->output != NULL)
		out = out_open(o->output);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((sp = open_spool(&mta, &e)) == NULL) {
		warnx("%s", e.msg);
		cli.trouble++;
		sc.failed = 1;
	} else {
		mta = lq_spool_mta(sp);
		queues = queues_read(sp);
	}
	if ((p = lq_prom_new(mta, queues, cli.now, (size_t)top)) == NULL)
		err(EXIT_TROUBLE, NULL);
	cli.unsorted = 1;	/* the order of reading does not matter to a count */
	if (sp != NULL &&
	    cli_each(sp, pc, sel, LQ_SCAN_NO_REASONS | LQ_SCAN_LOCKS, prom_add, p) < 0)
		sc.failed = 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sc.errors = (unsigned long)cli.trouble;
	sc.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	lq_prom_write(out, p, &sc);
	if (o->output != NULL ? out_commit(out, o->output) < 0 : cli_flush_stdout() < 0)
		cli.trouble++;
	lq_prom_free(p);
	free(queues);
	lq_select_free(sel);
	lq_spool_close(sp);
	poptFreeContext(pc);
	return cli.trouble ? EXIT_TROUBLE : EXIT_MATCH;
}
