/*
 * queue.h -- libqueue: read (and act on) the mail queues of Exim, Postfix and qmail.
 *
 * The one public header. Every name has the prefix lq_. The library never prints to
 * stderr and never exits: a function that fails returns -1 (or NULL) and fills a
 * struct lq_err whose text names the file, ID or argument. Problems with one message
 * during a scan are handed to the caller's problem callback and counted; they never
 * stop the scan. The spool invariants the library relies on are in libqueue/README.
 */
#ifndef LQ_QUEUE_H
#define LQ_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

/* ---------------------------------------------------------------- errors */

enum lq_errcode {
	LQ_OK = 0,
	LQ_ENOENT,	/* no such message (or it vanished) */
	LQ_ECORRUPT,	/* the spool file does not follow the format */
	LQ_ELOCKED,	/* the MTA holds the message's lock */
	LQ_EBADID,	/* not a valid queue ID for this MTA */
	LQ_EUSAGE,	/* bad argument from the caller */
	LQ_ESYS,	/* a system call failed (errno kept in sys_errno) */
	LQ_ENOMEM,
	LQ_ELIMIT,	/* a bound was hit (line too long, too many recipients...) */
	LQ_ENOMATCH,	/* acting: the message no longer matches the selection */
	LQ_EALREADY,	/* acting: already frozen, or not frozen to thaw */
	LQ_NOTICE,	/* not a failure: something about the spool worth a line to the user
			 * (qmail: a leftover qmail-send will remove). Handed to a scan's
			 * problem callback, or left in err by an lq_act that succeeded; never
			 * returned as a failure; not counted in lq_scan.bad */
};

struct lq_err {
	enum lq_errcode code;
	int sys_errno;
	char msg[512];	/* one line, no newline, names the file/ID/argument (but see
			 * lq_select_new for a bad -e expression) */
};

/* ---------------------------------------------------------------- arena */

/* A bump allocator: everything hanging off one message lives in one arena that is
 * reset before the next message, so memory stays flat however large the queue. */
struct lq_arena;
struct lq_arena *lq_arena_new(void);
void lq_arena_free(struct lq_arena *);
void lq_arena_reset(struct lq_arena *);
/* Where the chunk being filled starts, and (*len) how much of it is used. */
const void *lq_arena_recent(const struct lq_arena *, size_t *len);
void *lq_arena_alloc(struct lq_arena *, size_t);
char *lq_arena_strndup(struct lq_arena *, const char *, size_t);

/* ---------------------------------------------------------------- the message */

enum lq_mta { LQ_MTA_ANY = 0, LQ_MTA_EXIM, LQ_MTA_POSTFIX, LQ_MTA_QMAIL };

#define LQ_ID_MAX 63

enum lq_msgflag {
	LQ_MSG_FROZEN = 1 << 0,		/* Exim frozen, Postfix/qmail on hold */
	LQ_MSG_ACTIVE = 1 << 1,		/* being delivered: the MTA holds its lock */
	LQ_MSG_BOUNCE = 1 << 2,		/* null envelope sender */
	LQ_MSG_EXPIRED = 1 << 3,	/* Postfix forced expiry (postsuper -f) */
	LQ_MSG_BOUNCING = 1 << 4,	/* qmail: a bounce is being prepared */
	LQ_MSG_UNPROCESSED = 1 << 5,	/* qmail: still in todo/, not yet preprocessed */
	LQ_MSG_SENDER_UNTRUSTED = 1 << 6,	/* Exim: untrusted caller set the sender */
	LQ_MSG_MANUAL_THAW = 1 << 7,	/* Exim: thawed by an admin */
	LQ_MSG_NO_SIZE = 1 << 8,	/* size unknown (data file missing) */
	LQ_MSG_DOUBLE_BOUNCE = 1 << 9,	/* qmail: sender #@[] */
	LQ_MSG_POSTDROP = 1 << 10,	/* Postfix: not written by cleanup (no size record
					 * first): qshape does not count it */
};

enum lq_rcptflag {
	LQ_RCPT_DONE = 1 << 0,		/* delivered, failed for good, or cancelled */
	LQ_RCPT_EXTRA = 1 << 1,		/* Exim: in the non-recipients tree only (generated child) */
	LQ_RCPT_LOCAL = 1 << 2,		/* qmail: local/ rather than remote/ */
	LQ_RCPT_LOGGED = 1 << 3,	/* Postfix: listed from the delay log (defer/), with
					 * its reason, as showq lists it */
	LQ_RCPT_SHADOW = 1 << 4,	/* Postfix (with EXTRA): a pending recipient record that
					 * the listing shows through its LOGGED entry instead */
};

struct lq_rcpt {
	const char *address;
	const char *reason;	/* Postfix delay reason, or NULL */
	unsigned flags;		/* enum lq_rcptflag */
};

struct lq_msg {
	enum lq_mta mta;
	char id[LQ_ID_MAX + 1];
	const char *queue;	/* the MTA's queue name: "input", "deferred", "todo"... */
	time_t arrival;		/* when the MTA received it */
	time_t id_time;		/* Exim: the time encoded in the ID (exiqgrep's ages); else arrival */
	long arrival_usec;	/* sub-second part where known, else -1 */
	int64_t size;		/* the MTA's own notion of the message size */
	const char *sender;	/* without <>; "" for the null sender */
	const char *login;	/* Exim: the caller's login, or NULL */
	struct lq_rcpt *rcpt;
	size_t nrcpt;
	unsigned flags;		/* enum lq_msgflag */
	time_t frozen_at;	/* Exim: -frozen time; else 0 */
	struct lq_arena *arena;	/* owns every pointer above */
	void *priv;		/* the backend's */
};

/* ---------------------------------------------------------------- the spool */

struct lq_spool;

/* Open a spool read-only. dir NULL: the MTA's own setting (asked of the MTA when it is
 * installed). mta LQ_MTA_ANY: detected from the directory's layout. queue: Exim's named
 * queue (NULL = the default queue), or for Postfix/qmail a comma-separated list of queue
 * names to read (NULL = all of them). */
struct lq_spool *lq_spool_open(const char *dir, enum lq_mta mta, const char *queue,
    struct lq_err *);
void lq_spool_close(struct lq_spool *);
/* How many file reads a scan keeps in flight (LQ_JOBS_MIN..LQ_JOBS_MAX, else -1 with err):
 * up to jobs - 1 threads load (read and parse) the messages the scan hands over next; 1
 * (the default) starts no thread. What a scan hands over, and in which order, is the same
 * either way. */
#define LQ_JOBS_MIN 1
#define LQ_JOBS_MAX 256
int lq_spool_set_jobs(struct lq_spool *, long jobs, struct lq_err *);
/* When all jobs - 1 threads start: LQ_READAHEAD_AUTO (the default) once the scan has had to
 * read from the disk (on a queue in the page cache, one per other core loads);
 * LQ_READAHEAD_ALWAYS when the scan starts (the tests: their queues are always cached). */
enum lq_readahead { LQ_READAHEAD_AUTO = 0, LQ_READAHEAD_ALWAYS };
void lq_spool_set_readahead(struct lq_spool *, enum lq_readahead);
enum lq_mta lq_spool_mta(const struct lq_spool *);
const char *lq_spool_dir(const struct lq_spool *);
const char *lq_mta_name(enum lq_mta);
int lq_mta_from_name(const char *, enum lq_mta *);
/* The names a message's queue (lq_msg.queue) can have on this spool, in the MTA's order,
 * NULL-terminated: Exim "input" (or the named queue's name), Postfix "maildrop",
 * "incoming", "active", "deferred", "hold", qmail "queue", "todo", "hold". All of the MTA's
 * queues, whether or not lq_spool_open was asked to read only some of them. */
const char *const *lq_spool_queues(const struct lq_spool *);
/* Is every name of names (comma-separated, as --queue gives them to lq_select_new) a queue
 * (lq_spool_queues) or a state (lq_state_name) a message of this spool can be in? Matched
 * without regard to case. Returns 0, or -1 with err naming the first unknown name and
 * listing the known ones. */
int lq_spool_check_names(const struct lq_spool *, const char *names, struct lq_err *);

/* The queues qshape reads when none are named ("incoming,active" on Postfix), or NULL when
 * the MTA has no qshape. */
const char *lq_spool_shape_queues(const struct lq_spool *);

/* The scan flags the MTA's listing (lq_write_listing) needs: LQ_SCAN_NO_REASONS unless it
 * shows the delay reasons (postqueue -p does). */
unsigned lq_listing_scanflags(const struct lq_spool *);

/* Is this a syntactically valid queue ID for the spool's MTA? (No file system access.) */
int lq_valid_id(const struct lq_spool *, const char *id);

/* ---------------------------------------------------------------- scanning */

enum lq_scanflag {
	LQ_SCAN_UNSORTED = 1 << 0,	/* stream in directory order; memory stays flat */
	LQ_SCAN_REVERSE = 1 << 1,	/* newest first (sorted scans only) */
	LQ_SCAN_LOCKS = 1 << 2,		/* find out which messages are being delivered */
	LQ_SCAN_NO_SIZE = 1 << 3,	/* sizes are not wanted: data files need not be
					 * stat'ed (the message gets LQ_MSG_NO_SIZE) */
	LQ_SCAN_NO_REASONS = 1 << 4,	/* delay reasons are not wanted: Postfix's defer logs
					 * and Exim's message logs need not be read (Postfix's
					 * recipients then come from the queue file alone, as
					 * qshape takes them) */
	LQ_SCAN_REASONS = 1 << 5,	/* the reasons are needed (a selection tests them):
					 * wins over LQ_SCAN_NO_REASONS */
};

/* Return 0 to go on, anything else stops the scan (lq_scan then returns 1). */
typedef int (*lq_msg_fn)(struct lq_msg *, void *arg);
/* A message that could not be read (counted in lq_scan.bad), or, with code LQ_NOTICE, a
 * notice that is no trouble (what it is about is counted elsewhere, lq_scan.unfinished).
 * The scan goes on either way. */
typedef void (*lq_problem_fn)(const char *id, const struct lq_err *, void *arg);

struct lq_scan {
	unsigned flags;		/* enum lq_scanflag */
	lq_msg_fn each;
	lq_problem_fn problem;	/* may be NULL */
	void *arg;
	/* counters, filled in by lq_scan */
	unsigned long seen;	/* messages found in the directories */
	unsigned long vanished;	/* gone between readdir and read: normal on a live queue */
	unsigned long bad;	/* reported through problem() */
	unsigned long unfinished;	/* not messages, not errors: files the MTA is still
				 * writing, or left behind and removes itself (qmail: mess/
				 * without todo/ or info/); some come with an LQ_NOTICE */
};

/* Every message of the spool, in the MTA's own listing order unless LQ_SCAN_UNSORTED.
 * Returns 0, 1 when the callback stopped it (the callback knows why; err is not set), or
 * -1 with err set (spool unreadable). */
int lq_scan(struct lq_spool *, struct lq_scan *, struct lq_err *);

/* One message by ID. Returns 0, or -1 with err (LQ_ENOENT, LQ_EBADID, LQ_ECORRUPT...).
 * The message stays valid until the next lq_load/lq_scan call or lq_spool_close. */
int lq_load(struct lq_spool *, const char *id, unsigned flags, struct lq_msg **,
    struct lq_err *);

/* ---------------------------------------------------------------- content */

enum lq_part { LQ_PART_HEADER = 1, LQ_PART_BODY = 2 };

/* One header (with its continuation lines and final newline), or a chunk of the body.
 * deleted: the MTA keeps it on the spool but would not transmit it (Exim '*').
 * Return 0 to go on. */
typedef int (*lq_part_fn)(enum lq_part, const char *data, size_t len, int deleted,
    void *arg);

/* Hand the message's headers and/or body (parts: a mask of enum lq_part) to fn, in
 * order. The body is given as stored, with LF line ends. */
int lq_read(struct lq_spool *, struct lq_msg *, unsigned parts, lq_part_fn fn, void *arg,
    struct lq_err *);

/* The envelope as the MTA's own viewer shows it (exim -Mvh, postcat -e, the qmail files):
 * written to out. Returns 0 or -1. */
int lq_write_envelope(struct lq_spool *, struct lq_msg *, FILE *out, struct lq_err *);

/* The message's own log, as the MTA keeps it: Exim's message log byte for byte (exim -Mvl),
 * Postfix's defer log and then its bounce log decoded, an entry a line ("defer: recipient=A
 * status=S reason=R", the log's name and its own names). Returns 0, or -1 with err:
 * LQ_ENOENT the message has no log (yet), LQ_EUSAGE the MTA keeps none (qmail),
 * LQ_ECORRUPT a line of a Postfix log that Postfix would skip (named once every entry is
 * written). */
int lq_write_log(struct lq_spool *, struct lq_msg *, FILE *out, struct lq_err *);

/* The MTA's own viewer's output for several sections at once, where it has one that
 * interleaves them (postcat -q -e -h -b: the envelope records around the content).
 * sections: LQ_VIEW_ENVELOPE and/or enum lq_part. Returns 0, -1 with err, or 1 when the
 * MTA has no such viewer (then compose lq_write_envelope and lq_read). */
#define LQ_VIEW_ENVELOPE 4
int lq_write_view(struct lq_spool *, struct lq_msg *, unsigned sections, FILE *out,
    struct lq_err *);

/* ---------------------------------------------------------------- listings */

enum lq_listflag {
	LQ_LIST_ALL = 1 << 0,		/* exim -bpa: also the generated (non-recipient) addresses */
	LQ_LIST_UNDELIVERED = 1 << 1,	/* exim -bpu: only the recipients still to do */
};

/* The MTA's native queue listing of one message (exim -bp, postqueue -p, qmail-qread),
 * byte for byte. now: the time ages are computed against. */
int lq_write_listing(FILE *out, const struct lq_msg *, unsigned listflags, time_t now);
/* What the native listing prints before the first and after the last message. */
int lq_write_listing_head(FILE *out, const struct lq_spool *);
int lq_write_listing_tail(FILE *out, const struct lq_spool *, unsigned long nmsg,
    int64_t bytes);
/* The MTA's queue statistics, as its own tool prints them (qmail-qstat). MTAs without one
 * get the same two lines: messages in the queue, and how many are frozen or on hold. */
int lq_write_stat(FILE *out, struct lq_spool *, struct lq_err *);
/* exiqgrep's output of one message, on any MTA: LQ_LIST_ALL shows delivered recipients
 * as "D addr" (exiqgrep -a); brief: exiqgrep -b's one line. */
int lq_write_exiqgrep(FILE *out, const struct lq_msg *, unsigned listflags, int brief,
    time_t now);

/*
 * The JSON Lines of --json, the same shape on every MTA and every tool (schema version
 * LQ_JSON_VERSION; a reader refuses a newer one). Every line is one object that begins
 * {"v": 1, "type": TYPE, "host": HOST, "mta": MTA; times are seconds since the epoch,
 * never ages. A run's last line is its "end" record, so that a reader can tell "nothing
 * matched" from "the run was cut short". Types: "message" (lq_write_json), "domain" and
 * "host" (lq_summary_write_json), "end" (lq_write_json_end).
 */
#define LQ_JSON_VERSION 1
/* A message: the member names of Postfix's postqueue -j (queue_name, queue_id,
 * arrival_time, message_size, forced_expire, sender, recipients[].address and
 * .delay_reason), then delivered[] and state. host: not NULL. */
int lq_write_json(FILE *out, const struct lq_msg *, const char *host);
struct lq_json_end {
	time_t now;		/* the clock ages are computed against */
	unsigned long scanned;	/* messages looked at */
	unsigned long matched;	/* ... and selected */
	unsigned long skipped;	/* gone while the queue was read, or not finished by the MTA
				 * (normal on a live queue) */
	unsigned long errors;	/* messages that could not be read, other failures */
};
int lq_write_json_end(FILE *out, const char *host, enum lq_mta, const struct lq_json_end *);

#define LQ_COLSIZE 24
/* Exim's -bp age column ("%2dm", "%2dh", "%2dd") and size column ("%5d", "1.0K"...) */
void lq_format_age(char buf[LQ_COLSIZE], time_t age);
void lq_format_size(char buf[LQ_COLSIZE], int64_t size);

const char *lq_state_name(const struct lq_msg *);

/* ---------------------------------------------------------------- selection */

struct lq_select;

struct lq_select_opts {
	const char *sender;	/* regex on "<sender>" (exiqgrep -f) */
	const char *rcpt;	/* regex on a recipient (exiqgrep -r) */
	const char *reason;	/* regex on a pending recipient's delay reason */
	const char *size_re;	/* regex on the -bp size column (exiqgrep -s) */
	const char *younger;	/* duration: younger than (exiqgrep -y; units s m h d w) */
	const char *older;	/* duration: older than (exiqgrep -o) */
	const char *larger;	/* size with units: at least this big */
	const char *smaller;	/* size with units: smaller than */
	const char **headers;	/* "Name: regex", each must match some header */
	size_t nheaders;
	const char *body;	/* regex on a body line */
	const char *queue;	/* comma-separated queue/state names */
	int frozen;		/* -z */
	int not_frozen;		/* -x */
	int bounce;		/* null sender */
	int active;		/* being delivered */
	int invert;		/* -v: select what does not match */
	int all_rcpts;		/* -a: delivered recipients count for -r too */
	int case_sensitive;	/* default: caseless like exiqgrep */
	const char **exprs;	/* -e: selection expressions (qtools-select(7)), all must match */
	size_t nexprs;
};

/* Compile once. Returns NULL with err naming the bad option or regex (for a bad -e
 * expression err's text goes on with two more lines: the expression, and a caret under
 * the column where it went wrong). now: the reference time for ages. */
struct lq_select *lq_select_new(const struct lq_select_opts *, time_t now, struct lq_err *);
void lq_select_free(struct lq_select *);
/* Does the selection need more than the envelope (headers or body)? */
int lq_select_needs_content(const struct lq_select *);
/* The lq_scan flags the selection needs (LQ_SCAN_LOCKS for --active, LQ_SCAN_REASONS
 * for --reason). */
unsigned lq_select_scanflags(const struct lq_select *);
/* Does the selection test message sizes (then LQ_SCAN_NO_SIZE must not be used)? */
int lq_select_needs_size(const struct lq_select *);
/* Does the selection test anything at all? */
int lq_select_is_empty(const struct lq_select *);
/* 1 selected, 0 not, -1 error (content could not be read: err set). */
int lq_select_match(struct lq_select *, struct lq_spool *, struct lq_msg *, struct lq_err *);

/* Parse "90", "90s", "15m", "2h", "7d", "1w" into seconds; "10k", "1M", "2G" into bytes.
 * Return 0, or -1 with err naming the value. */
int lq_parse_duration(const char *, time_t *, struct lq_err *);
int lq_parse_size(const char *, int64_t *, struct lq_err *);

/* ---------------------------------------------------------------- summaries */

struct lq_summary;

enum lq_sumflag {
	LQ_SUM_BY_COUNT = 1 << 0,	/* exiqsumm -c */
	LQ_SUM_BY_AGE = 1 << 1,		/* exiqsumm -a */
	LQ_SUM_MARK_BOUNCE = 1 << 2,	/* exiqsumm -b */
	LQ_SUM_MARK_FROZEN = 1 << 3,	/* exiqsumm -f */
	LQ_SUM_SOURCE = 1 << 4,		/* exiqsumm -s */
};

struct lq_summary *lq_summary_new(unsigned sumflags, time_t now);
void lq_summary_free(struct lq_summary *);
/* The age buckets of the host record: bounds in seconds, growing (default 5m 1h 4h 1d 3d
 * 1w); a message of age a is in the first bucket whose bound is above a, or the last. */
#define LQ_AGE_BUCKETS_MAX 32
int lq_summary_set_buckets(struct lq_summary *, const time_t *bounds, size_t n,
    struct lq_err *);
/* "5m,1h,1d" into bounds[LQ_AGE_BUCKETS_MAX]. */
int lq_parse_age_buckets(const char *, time_t *bounds, size_t *n, struct lq_err *);
/* qsumm --by: the keys of the rows, comma-separated, each at most once: domain (the
 * default: exiqsumm's table, recipients counted), sender, sender-domain, reason, queue
 * (lq_state_name), age (exiqsumm's age column). With any but domain alone, a row is one
 * value of the keys and counts messages, each once per row it has a value of (the
 * recipient keys, domain and reason, take their values from each recipient still to
 * deliver); a recipient without a reason has "" (shown "-"). Returns 0, or -1 with err
 * naming the list. */
#define LQ_SUM_KEYS_MAX 4
int lq_summary_set_keys(struct lq_summary *, const char *list, struct lq_err *);
/* Do the keys need the delay reasons (the scan must not have LQ_SCAN_NO_REASONS)? */
int lq_summary_needs_reasons(const struct lq_summary *);
int lq_summary_add(struct lq_summary *, const struct lq_msg *);
/* exiqsumm's table. */
int lq_summary_write(FILE *out, struct lq_summary *);
/* JSON Lines that merge across hosts (qsumm --merge): a "domain" record per domain (count
 * of recipients, bytes, oldest and newest arrival times), or with keys a "group" record
 * per row ("by": the keys' names, then each key's value as a member of its name, count of
 * messages, bytes, oldest, newest), then the "host" record (scanned:
 * the messages looked at; the messages counted, frozen among them, their bytes, and their
 * ages in buckets). The caller writes the end record. */
int lq_summary_write_json(FILE *out, struct lq_summary *, const char *host, enum lq_mta,
    unsigned long scanned);

/* ---------------------------------------------------------------- Prometheus (prom.c) */

/*
 * qsumm --prom: the queue in Prometheus' text exposition format 0.0.4, for node_exporter's
 * textfile collector. For each queue of the spool, every one there and 0 when empty, with
 * labels mta and queue: qtools_queue_messages (every message in exactly one queue: its
 * lq_msg.queue), _bytes, _oldest_message_age_seconds, _frozen_messages, _bounce_messages,
 * _active_messages, the histogram _message_age_seconds (5m 1h 4h 1d 3d 1w, ages from the
 * arrival time); with top > 0, _domain_messages{domain} of each queue's top domains (by
 * messages with a recipient still to deliver there); then the scan's _scan_errors,
 * _scan_duration_seconds and _scan_timestamp_seconds (now), given for each queue read.
 */
struct lq_prom;
/* queues: those read, of lq_spool_queues, or NULL when the spool could not be opened (then
 * only the scan's metrics are written, labelled with the MTA alone). Returns NULL: out of
 * memory. */
struct lq_prom *lq_prom_new(enum lq_mta, const char *const *queues, time_t now, size_t top);
void lq_prom_free(struct lq_prom *);
/* Count one message. Returns 0 or -1 (out of memory). */
int lq_prom_add(struct lq_prom *, const struct lq_msg *);
struct lq_prom_scan {
	unsigned long errors;	/* messages that could not be read, other failures */
	int failed;		/* the spool could not be read at all: the queues' series are left
				 * out (a 0 would read as "empty"), _scan_errors is 1 at least */
	double seconds;		/* how long the scan took */
};
int lq_prom_write(FILE *out, struct lq_prom *, const struct lq_prom_scan *);

/* ---------------------------------------------------------------- merging hosts */

/*
 * qsumm --merge: the --json output of qsumm on many hosts (JSON Lines, in any order, lines
 * of hosts mixed; a line may start with the "host: " that pdsh and clush put there), added
 * up. Bad input is refused, never merged: a line that is not one whole JSON object, a
 * newer schema version, two hosts of one name, age buckets that differ between hosts.
 */
struct lq_merge;
struct lq_merge *lq_merge_new(void);
void lq_merge_free(struct lq_merge *);
/* Hosts that must answer: names separated by commas or white space, with clush's ranges
 * (mx[1-3,7], node[01-10/2]). A host answers as the name or as a name beginning "name.". */
int lq_merge_expect(struct lq_merge *, const char *hosts, struct lq_err *);
/* One line as read, with its newline (a last line without one was cut short). src and
 * lineno name it in errors. Returns 0, or -1 with err naming src:lineno and the host. */
int lq_merge_line(struct lq_merge *, const char *src, unsigned long lineno, const char *line,
    size_t len, struct lq_err *);
/* What is wrong with one host: missing, cut short, reported errors (fatal), or only not
 * expected (not fatal). */
typedef void (*lq_merge_problem_fn)(const char *host, const char *what, int fatal, void *);
/* The tables: hosts (as mco exim size), domains (exiqsumm's; sumflags LQ_SUM_BY_AGE or
 * LQ_SUM_BY_COUNT), messages by age per host. Hosts that did not answer or were cut short
 * are not counted. Returns how many fatal problems were reported, or -1 (out of memory). */
int lq_merge_write(FILE *out, struct lq_merge *, unsigned sumflags, lq_merge_problem_fn,
    void *arg);
/* How many messages the hosts counted, in all. */
unsigned long lq_merge_matched(const struct lq_merge *);

/* ---------------------------------------------------------------- qshape */

/* Postfix's qshape: recipient (or sender) domains by message age, in buckets. The table
 * is qshape's to the byte, except that rows qshape leaves in Perl's hash order (equal
 * count and equal name length) come in name order. */
struct lq_shape;

struct lq_shape_opts {
	int by_sender;		/* qshape -s */
	int parents;		/* -p: also parent domains (".example.com") */
	int min_subdomains;	/* -m: a parent needs this many subdomains (default 5) */
	int buckets;		/* -b: number of age buckets (default 10) */
	double bucket_time;	/* -t: minutes of the first bucket (default 5) */
	int linear;		/* -l: buckets are multiples of bucket_time */
	int width;		/* -w: terminal width (default 80, only wider counts) */
};

/* Returns NULL with err naming a bad option. now: the time ages are computed against. */
struct lq_shape *lq_shape_new(const struct lq_shape_opts *, time_t now, struct lq_err *);
void lq_shape_free(struct lq_shape *);
/* Count one message (qshape skips forced expiries, postdrop files, and messages with no
 * recipient left). Returns 0 or -1 (out of memory). */
int lq_shape_add(struct lq_shape *, const struct lq_msg *);
int lq_shape_write(FILE *out, struct lq_shape *);

/* ---------------------------------------------------------------- acting */

enum lq_action {
	LQ_ACT_REMOVE,		/* delete the message and every file of it */
	LQ_ACT_FREEZE,		/* Exim: freeze; Postfix, qmail: put on hold */
	LQ_ACT_THAW,		/* undo LQ_ACT_FREEZE */
	/* the envelope (qedit), each as exim -Mmd, -Mmad, -Mar, -Mes; the addresses are
	 * lq_act_opts.addrs (checked by lq_act_check) */
	LQ_ACT_MARK_DELIVERED,	/* mark those pending recipients delivered */
	LQ_ACT_MARK_ALL_DELIVERED,	/* mark every pending recipient delivered */
	LQ_ACT_ADD_RECIPIENT,	/* add those recipients (one already pending: left out) */
	LQ_ACT_SET_SENDER,	/* addrs[0] is the new sender, "" the null sender */
};

/* Where an added recipient goes on MTAs that split them by channel (qmail). */
enum lq_channel { LQ_CHANNEL_AUTO = 0, LQ_CHANNEL_LOCAL, LQ_CHANNEL_REMOTE };

struct lq_act_opts {
	int dry_run;		/* every step but the change itself: the lock is taken and let
				 * go, the message re-read and re-checked, the verdict given */
	const char *user;	/* who acts, for the MTA's own log ("removed by USER") */
	int mainlog_fd;		/* Exim: its mainlog, open for appending; -1: none */
	int save_dirfd;		/* >= 0: keep a copy of the message there before removing it,
				 * as a spool of the same MTA (qcat --spool DIR ID reads it) */
	const char *const *addrs;	/* the envelope actions' addresses, in order */
	size_t naddrs;
	enum lq_channel channel;	/* LQ_ACT_ADD_RECIPIENT on qmail: local/ or remote/ */
};

/*
 * Can this spool's MTA do act, with o's addresses? Checked once before anything is
 * touched (and again by lq_act): the MTA must support the action (Postfix: no change of the
 * envelope but marking delivered, the refusal says how to get the effect), and every
 * address must be one line the MTA can store: no control character (a newline, a NUL), no
 * space outside quotes, at most LQ_ADDR_MAX bytes, a recipient with a domain (local@domain);
 * the sender may be "" (the null sender). Returns 0, or -1 with err (LQ_EUSAGE) naming the
 * address.
 */
#define LQ_ADDR_MAX 1000
int lq_act_check(struct lq_spool *, enum lq_action, const struct lq_act_opts *,
    struct lq_err *);

/*
 * Act on one message under the MTA's own locking protocol, the same sequence on every MTA
 * (libqueue/act.c): find it and take its lock (never waiting), read it again under the lock,
 * check that it still matches sel (NULL: no check; the queue moves and IDs are reused; a
 * message the selection cannot judge is left alone), ask the backend whether it may be done
 * now, keep a copy (--save), act, let go of the lock. A damaged message is removed only by
 * ID with no selection, as exim -Mrm and postsuper -d do. With o->dry_run every step but the
 * copy and the change is done, so the verdict is the real run's. m (may be NULL) is set to
 * the message as it was acted on, valid until the next call. Returns 0 when done (would be
 * done), or -1 with err: LQ_ELOCKED being delivered (skipped), LQ_ENOENT no such message or
 * gone, LQ_ENOMATCH no longer selected, LQ_EALREADY nothing to do, others failures:
 * nothing is changed, except where the last step fails after the message itself is gone (a
 * Postfix log or an Exim msglog that cannot be removed), reported as a failure all the same.
 * Done, err may hold an LQ_NOTICE worth a line: part of what was asked was so already (an
 * added recipient already pending, left out).
 */
int lq_act(struct lq_spool *, const char *id, enum lq_action, struct lq_select *sel,
    const struct lq_act_opts *, struct lq_msg **m, struct lq_err *);

/*
 * The MTA's own log, opened for appending (never created) so that actions leave the lines
 * the MTA itself would write (Exim: "removed by USER"). path NULL: the MTA's setting, for
 * the MTA's default spool only. Only a regular file is opened (a FIFO never blocks it).
 * Returns the fd, or -1 with err (LQ_ENOENT: path NULL and no such log, which is not an
 * error; for a path given, a missing file, or one that is no regular file, is LQ_EUSAGE).
 */
int lq_open_mta_log(struct lq_spool *, const char *path, struct lq_err *);

/*
 * The MTA command that delivers now: the IDs given (n > 0), or the whole queue (n == 0).
 * mta_path: the MTA's binary (NULL: its usual name). Fills argv (at most max entries,
 * NULL-terminated) with pointers into ids and static strings; returns how many IDs it
 * took (the caller runs it again for the rest), or -1 with err.
 */
int lq_run_argv(struct lq_spool *, const char *mta_path, const char *const *ids, size_t n,
    const char **argv, size_t max, struct lq_err *);

/*
 * 1 when actions done through lq_act take effect only at the MTA's next queue run, so the
 * caller should run lq_run_argv(sp, NULL, NULL, 0, ...) once after the last one. qmail: a
 * message removed while qmail-send runs has every recipient marked done, and qmail-send
 * finishes it at its next pass (the command sends it ALRM). 0 for Exim and Postfix.
 */
int lq_act_needs_run(const struct lq_spool *);

/*
 * Who owns what the actions change, so that a tool run as root becomes that user before it
 * touches the spool, as postsuper becomes mail_owner (libqueue/README, "Privileges"). caps:
 * what that uid and gid alone cannot do and the actions need (qmail, whose queue belongs
 * to two users); 0 for Exim and Postfix. Returns 0, or -1 with err.
 */
enum lq_cap { LQ_CAP_DAC_OVERRIDE = 1 << 0, LQ_CAP_CHOWN = 1 << 1, LQ_CAP_FOWNER = 1 << 2 };
struct lq_owner {
	uid_t uid;
	gid_t gid;
	unsigned caps;		/* enum lq_cap */
	char what[160];		/* what decided it, for messages ("input/ belongs to it") */
};
int lq_spool_owner(struct lq_spool *, struct lq_owner *, struct lq_err *);

#endif
