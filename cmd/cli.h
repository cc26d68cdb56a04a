/*
 * cli.h -- what the tools share on the command line: the option tables (one for the
 * spool, one for selection, one for output), reading IDs from arguments or stdin, the
 * walk over the chosen messages, and grep's exit codes. Not part of libqueue: this is
 * the side that prints.
 */
#ifndef QT_CLI_H
#define QT_CLI_H

#include <popt.h>

#include "../libqueue/queue.h"

enum { EXIT_MATCH = 0, EXIT_NONE = 1, EXIT_TROUBLE = 2 };

struct cli {
	/* spool */
	const char *spool, *mta, *named_queue;
	const char *jobs;	/* --jobs: reads in flight while scanning */
	/* selection */
	struct lq_select_opts sel;
	const char **headers;	/* popt collects --header here */
	const char **exprs;	/* and -e here */
	/* output */
	int nul, json, ids, count, unsorted, reverse;
	const char *host;	/* --host: the name --json gives this host */
	/* state */
	time_t now;
	int trouble;		/* something went wrong: exit 2 (the walk counts its errors) */
	unsigned long seen;	/* messages looked at */
	unsigned long matched;
	unsigned long skipped;	/* gone between listing and reading (a live queue) */
};

extern struct cli cli;
extern struct poptOption cli_spool_table[];
extern struct poptOption cli_select_table[];
extern struct poptOption cli_output_table[];

/*
 * Parse argv with the tool's own table plus the shared ones (a shared option whose letter
 * the tool uses keeps only its long name; one whose long name it uses is left out). Prints
 * the error and exits 2 on a bad option; --help and --usage print and exit 0.
 */
poptContext cli_parse(int argc, const char **argv, struct poptOption *own,
    const char *args_help);

/* An argument as a message may echo it: control characters escaped (\xNN), cut after 80
 * bytes with "...". The result lives until four more calls. */
const char *cli_shown(const char *arg);
/* A library error's message (lq_err.msg) as it may be printed: control characters escaped,
 * not cut (the library cuts what it echoes). Same lifetime. */
const char *cli_shown_err(const struct lq_err *);

/* Open the spool named by --spool/--mta/-G (or the default), or exit 2 saying why: also
 * when --mta names another MTA than the spool's, or a --queue name is no queue or state of
 * that spool (lq_spool_check_names). */
struct lq_spool *cli_open_spool(void);

/* Compile the selection, or exit 2 naming the bad option. */
struct lq_select *cli_select(void);

/*
 * Call fn for every selected message: those named by the remaining arguments ('-' reads
 * IDs from stdin, one per line or NUL-separated with -0; each ID once however often it is
 * given), or the whole queue when there are none. A bad or missing ID is reported and
 * counted; the walk goes on. A message the selection cannot judge is reported, counted as
 * trouble and never selected.
 */
int cli_each(struct lq_spool *, poptContext, struct lq_select *, unsigned scanflags,
    lq_msg_fn fn, void *arg);

/* -i's or -0's line for one ID on stdout (a newline or a NUL after it), and whether
 * writing stdout has failed so far: for a scan's callback, once per message. Without the
 * stream's lock: only the scan thread writes stdout, and once a scan has loading threads
 * the C library would lock it at every call. */
void cli_put_id(const char *id);
int cli_stdout_failed(void);

/* The name --json gives this host: --host, else its FQDN (gethostname, then the canonical
 * name getaddrinfo finds for it, else the name as it is). */
const char *cli_host(void);

/* --json's last line: the end record (cli.now, seen, matched, skipped, errors). */
void cli_json_end(struct lq_spool *);

/* Flush stdout and tell whether everything written reached it. */
int cli_flush_stdout(void);

/* The exit code: 2 on trouble, else 0 when something matched, else 1. */
int cli_exit_code(void);

/* Run the MTA's command (lq_run_argv) and wait for it; a failure is one line on stderr and
 * makes the exit status 2. */
void cli_run(const char **argv);

/* ---------------------------------------------------------------- acting */

struct cli_act {
	int dry_run;
	const char *max;	/* --max N: refuse when more would be affected */
	const char *save;	/* qrm --save DIR */
	const char *mainlog;	/* Exim's mainlog (default: asked of exim) */
	const char *const *addrs;	/* qedit: the action's addresses */
	size_t naddrs;
	enum lq_channel channel;	/* qedit --local/--remote */
};
extern struct cli_act cli_act;
extern struct poptOption cli_act_table[];

/* The messages to act on: the IDs given ('-' reads stdin; each ID once however often it is
 * given), or what the selection matches, or everything when the only argument is ALL. No selection and no ALL is an error, never
 * "everything". Exits 2 on a usage error, before anything is touched. */
struct cli_targets {
	char **ids;
	size_t n, cap;
	int all;		/* ALL with no selection */
};
void cli_collect(struct lq_spool *, poptContext, struct lq_select *, struct cli_targets *);
void cli_targets_free(struct cli_targets *);

/*
 * The writing tools open the spool with this instead of cli_open_spool. It refuses to run
 * set-uid, set-gid or with file capabilities; then, started as root, it opens what the
 * actions write outside the spool (--save DIR, the MTA's log) and becomes the spool's owner
 * (lq_spool_owner), as postsuper becomes mail_owner, before the spool is read or changed.
 * Exits 2 when any of that cannot be done.
 */
struct lq_spool *cli_open_spool_to_change(void);

/* Check --max and the permission to write the spool; exits 2 before anything is touched. */
void cli_act_validate(struct lq_spool *, const struct cli_targets *);

/*
 * Act on every target through lq_act (under the MTA's lock, re-checking sel), log to syslog
 * (LOG_MAIL), give each refusal's verdict on stderr, and the counts on stderr when there was
 * anything to count (quiet when nothing was selected, for cron). --dry-run (-n) gives the same
 * verdicts, "would remove ID" on stdout for what the real run would do, and the same exit.
 */
void cli_act_all(struct lq_spool *, const struct cli_targets *, struct lq_select *,
    enum lq_action);

/* ---------------------------------------------------------------- qsumm --prom */

/* What qsumm's options --prom, --output, --by and --top set. */
struct cli_prom {
	int on;
	const char *output;	/* --output FILE: written whole, or left as it was */
	const char *by;		/* --by domain */
	const char *top;	/* --top N: the N largest domains of each queue */
};

/*
 * qsumm --prom: the selected messages as Prometheus metrics (lq_prom_write), on stdout or
 * into --output FILE (a temporary file in its directory, renamed over it once complete).
 * Checks --by and --top and opens the temporary file before the spool is read (exit 2,
 * FILE untouched); a spool that cannot be opened or read still gives the metrics, with
 * qtools_queue_scan_errors above 0. Returns the exit code: 0, or 2 on any trouble.
 */
int cli_prom(poptContext, struct lq_select *, const struct cli_prom *);

#endif
