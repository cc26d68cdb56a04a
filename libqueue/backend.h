/*
 * backend.h -- what libqueue's modules share, and the table a backend fills in.
 * Not installed; tools include only queue.h.
 */
#ifndef LQ_BACKEND_H
#define LQ_BACKEND_H

#include <sys/stat.h>
#include <sys/syscall.h>

#include <string.h>
#include <unistd.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "queue.h"

#define LQ_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Built with ThreadSanitizer (LQ_TSAN), or with any sanitizer that watches the C
 * library's calls (LQ_SANITIZED) */
#if defined(__SANITIZE_THREAD__)
#define LQ_TSAN
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LQ_TSAN
#endif
#endif
#if defined(LQ_TSAN) || defined(__SANITIZE_ADDRESS__)
#define LQ_SANITIZED
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define LQ_SANITIZED
#endif
#endif

/*
 * The spool's opens, reads and closes, without the C library's cancellation points.
 * Nothing in libqueue is ever cancelled (a loading thread is told to leave), and once a
 * scan has started one, glibc wraps each cancellation point in two atomic operations on
 * the thread's state: measured, 3.5% of a warm two-thread Postfix listing's CPU time.
 * Built with a sanitizer (it watches the C library's calls), or where a 64-bit offset is
 * not one argument of a system call, the C library's own.
 */
#if defined(LQ_SANITIZED) || !defined(__LP64__)
#define lq_sys_openat openat
#define lq_sys_read read
#define lq_sys_pread pread
#define lq_sys_close close
#else
/* no mode: a file is never created through it (O_CREAT, O_TMPFILE) */
static inline int
lq_sys_openat(int dirfd, const char *path, int flags)
{
	return (int)syscall(SYS_openat, dirfd, path, flags, 0);
}
static inline ssize_t
lq_sys_read(int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}
static inline ssize_t
lq_sys_pread(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off);
}
static inline int
lq_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}
#endif

struct lq_saver;

/* A backend: one per MTA. Nothing outside the backend's file knows the MTA's file names. */
struct lq_backend {
	enum lq_mta mta;
	const char *name;
	/* 1 when the directory (an open fd) has this MTA's layout */
	int (*detect)(int dirfd);
	/* the MTA's own setting, asked of the MTA when installed; NULL if none */
	char *(*default_dir)(void);
	int (*open)(struct lq_spool *, struct lq_err *);
	void (*close)(struct lq_spool *);
	int (*valid_id)(const char *id);
	int (*scan)(struct lq_spool *, struct lq_scan *, struct lq_err *);
	int (*load)(struct lq_spool *, const char *id, unsigned scanflags, struct lq_msg *,
	    struct lq_err *);
	int (*read)(struct lq_spool *, struct lq_msg *, unsigned parts, lq_part_fn, void *,
	    struct lq_err *);
	int (*write_envelope)(struct lq_spool *, struct lq_msg *, FILE *, struct lq_err *);
	/* the MTA's viewer for several sections at once (postcat); NULL: none */
	int (*write_view)(struct lq_spool *, struct lq_msg *, unsigned, FILE *, struct lq_err *);
	/* the native listing of one message, called with the stream locked (lq_write_listing):
	 * it writes with the unlocked stdio calls */
	int (*write_listing)(FILE *, const struct lq_msg *, unsigned, time_t);
	/* the message's own log (lq_write_log); NULL: the MTA keeps none */
	int (*write_log)(struct lq_spool *, struct lq_msg *, FILE *, struct lq_err *);
	/* what the listing prints before the first and after the last message; NULL: nothing */
	int (*write_listing_head)(FILE *, const struct lq_spool *);
	int (*write_listing_tail)(FILE *, const struct lq_spool *, unsigned long, int64_t);
	/* the MTA's queue statistics (qmail-qstat); NULL: lq_write_stat counts with lq_scan */
	int (*write_stat)(FILE *, struct lq_spool *, struct lq_err *);
	/*
	 * Acting: the steps of lq_act (libqueue/act.c), which owns their order and the rules
	 * between them (NULL act_lock: not supported on this MTA). held: the backend's state
	 * for the one message being acted on, from act_lock to act_unlock.
	 *   act_lock    find id and take the MTA's lock on it, never waiting (LQ_ENOENT,
	 *               LQ_ELOCKED; refusals that need no reading, e.g. the MTA is running)
	 *   act_reload  read the message again under the lock into m (LQ_ECORRUPT: damaged)
	 *   act_refuse  what this MTA will not do to this message now: LQ_EALREADY (already
	 *               so), LQ_ELOCKED (being delivered); NULL: nothing
	 *   act_save    copy its files into a save directory with lq_save_dir/lq_save_file
	 *   act_apply   the change itself; m is NULL for a damaged message removed by ID
	 *   act_unlock  let go of the lock and of held (also after a failed act_lock)
	 */
	int (*act_lock)(struct lq_spool *, const char *id, enum lq_action, void **held,
	    struct lq_err *);
	int (*act_reload)(struct lq_spool *, void *held, struct lq_msg *, struct lq_err *);
	int (*act_refuse)(struct lq_spool *, void *held, const struct lq_msg *, enum lq_action,
	    struct lq_err *);
	int (*act_save)(struct lq_spool *, void *held, struct lq_saver *, struct lq_err *);
	int (*act_apply)(struct lq_spool *, void *held, const struct lq_msg *, enum lq_action,
	    const struct lq_act_opts *, struct lq_err *);
	void (*act_unlock)(struct lq_spool *, void *held);
	int removes_damaged;	/* a damaged message may be removed by ID (the MTA does it) */
	/* whether this MTA can do an envelope action (LQ_ACT_MARK_DELIVERED...) at all, with
	 * those (already checked) addresses: 0, or -1 with err (LQ_EUSAGE) saying why not and
	 * how to get the effect; NULL: none of them */
	int (*act_supports)(struct lq_spool *, enum lq_action, const struct lq_act_opts *,
	    struct lq_err *);
	/* what the MTA calls things, for the core's outputs */
	const char *frozen_state;	/* lq_state_name of a frozen message: "frozen", "hold" */
	const char *frozen_said;	/* in the statistics: "frozen", "on hold" */
	const char *null_sender;	/* the null sender in its JSON listing, or NULL: "" */
	int queue_is_state;		/* the queue a message is in is its state (Postfix) */
	int listing_reasons;		/* its listing shows the delay reasons (postqueue -p) */
	const char *shape_queues;	/* qshape's default queues, or NULL: no qshape */
	int (*run_argv)(struct lq_spool *, const char *, const char *const *, size_t,
	    const char **, size_t, struct lq_err *);
	/* the MTA's log path when none is given; NULL: none */
	char *(*log_path)(struct lq_spool *);
	/* who owns what act changes (lq_spool_owner); NULL: unknown, and acting as root refused */
	int (*owner)(struct lq_spool *, struct lq_owner *, struct lq_err *);
	/* the names lq_msg.queue takes on this spool, in the MTA's order, NULL-terminated
	 * (lq_spool_queues) */
	const char *const *(*queues)(const struct lq_spool *);
	/* the flags among LQ_MSG_ACTIVE, _FROZEN, _UNPROCESSED, _BOUNCING its messages can
	 * have: with queues, what lq_state_name can say of them (lq_spool_check_names) */
	unsigned state_flags;
};

extern const struct lq_backend lq_exim_backend;
extern const struct lq_backend lq_postfix_backend;
extern const struct lq_backend lq_qmail_backend;

struct lq_spool {
	const struct lq_backend *be;
	char *dir;
	int dirfd;		/* the spool directory, O_RDONLY|O_DIRECTORY */
	char *queue;		/* as given to lq_spool_open, or NULL */
	struct lq_msg msg;	/* the message being looked at */
	struct lq_arena *arena;	/* msg's memory, reset per message */
	void *priv;		/* the backend's */
	int run_needed;		/* an action waits for the MTA's next queue run (lq_act_needs_run) */
	unsigned jobs;		/* reads in flight during a scan (lq_spool_set_jobs); 1: no threads */
	int readahead;		/* enum lq_readahead */
};

/* The backend of an MTA (never NULL for one of the enum's MTAs). */
const struct lq_backend *lq_backend_of(enum lq_mta);

/* Reset spool->msg for a new message and return it. */
struct lq_msg *lq_msg_begin(struct lq_spool *);
/* m made a new message of sp's MTA, its memory in arena (already reset); returns m. */
struct lq_msg *lq_msg_init(const struct lq_spool *, struct lq_msg *m, struct lq_arena *arena);

/* errors */
int lq_err_set(struct lq_err *, enum lq_errcode, const char *fmt, ...) LQ_PRINTF(3, 4);
int lq_err_sys(struct lq_err *, const char *fmt, ...) LQ_PRINTF(2, 3);
int lq_err_prefix(struct lq_err *, const char *fmt, ...) LQ_PRINTF(2, 3);

/* A growable byte buffer. */
struct lq_buf {
	char *data;
	size_t len, cap;
};
/* Room for more bytes after len, and one byte beyond them: 0, or -1 out of memory. The
 * check is inline (a record reader asks before every record); lq_buf_grow makes the room. */
int lq_buf_grow(struct lq_buf *, size_t more);
static inline int
lq_buf_reserve(struct lq_buf *b, size_t more)
{
	return b->cap - b->len > more ? 0 : lq_buf_grow(b, more);
}
int lq_buf_append(struct lq_buf *, const void *, size_t);
void lq_buf_free(struct lq_buf *);

/*
 * Open a spool file read-only relative to a directory fd: never follows a symlink, refuses
 * anything but a regular file, never blocks on a FIFO. name must be a plain file name.
 * Returns the fd, or -1 with err (LQ_ENOENT when it is not there).
 */
int lq_open_file(int dirfd, const char *name, struct stat *, struct lq_err *);
int lq_open_stat(int dirfd, const char *name, struct stat *, struct lq_err *);
/* Open a subdirectory (no symlinks). Returns fd or -1 with err. */
int lq_open_dir(int dirfd, const char *name, struct lq_err *);
/* Read a whole file (at most max bytes, else LQ_ELIMIT) into buf (replacing its content). */
int lq_read_fd(int fd, const char *what, size_t max, struct lq_buf *, struct lq_err *);
int lq_read_file(int dirfd, const char *name, size_t max, struct lq_buf *, struct stat *,
    struct lq_err *);
int lq_read_tail(int dirfd, const char *name, size_t max, struct lq_buf *, int *cut,
    struct lq_err *);
/*
 * Replace name (in dirfd) with data, as the MTAs rewrite a spool file: written whole to tmp
 * beside it (a leftover tmp of a crash is removed first; O_EXCL), given like's owner and
 * group (unless that is not ours to give and we own it) and mode, times like's atime and
 * mtime (keep_times) or now, fsync'ed, renamed over name, the directory fsync'ed. what
 * begins the error messages (the ID). 0, or -1 with err and nothing changed.
 */
int lq_replace_file(int dirfd, const char *tmp, const char *name, const struct lq_buf *data,
    const struct stat *like, mode_t mode, int keep_times, const char *what, struct lq_err *);

/* Is this name safe to use as one path component? (no '/', no NUL, not . or ..) */
int lq_plain_name(const char *);

/* strlcpy() without its result: src cut to size - 1 bytes and NUL-terminated in dst (nothing
 * written when size is 0), measured and copied by glibc's strnlen and memcpy, where
 * libbsd's strlcpy goes a byte at a time; the scans copy an ID or a path per message. */
static inline void
lq_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n;

	if (size == 0)
		return;
	n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * The <ctype.h> classes of the C locale (the tools never call setlocale(), and spool formats
 * are ASCII whatever the locale), as plain range tests: glibc's isprint() and the others look
 * a table up through __ctype_b_loc(), a library call per byte on the hot paths of a scan.
 * c is a byte as unsigned char (or EOF); every byte >= 0x80 is in none of them, as in the
 * C locale.
 */
static inline int
lq_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

static inline int
lq_isalnum(int c)
{
	return lq_isdigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ' ', \t, \n, \v, \f, \r */
static inline int
lq_isspace(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* ' ' to '~' */
static inline int
lq_isprint(int c)
{
	return c >= 0x20 && c < 0x7f;
}

static inline int
lq_iscntrl(int c)
{
	return (c >= 0 && c < 0x20) || c == 0x7f;
}

/* tolower(): 'A' to 'Z' only */
static inline int
lq_tolower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* spool.c, for the run_argv ops: can prog (a name looked up in PATH, or a path) be run?
 * 0, or -1 with err saying "exim4: not found" (or "PATH: not executable"). */
int lq_find_program(const char *prog, struct lq_err *);
/* Does dir (as the MTA names its spool) name this spool's directory? */
int lq_spool_is(const struct lq_spool *, const char *dir);

/* Run a program (argv, no shell) and return the first line of its stdout, or NULL. */
char *lq_ask_program(const char *const argv[]);
/* The same, all of its stdout (up to 4 KiB), "" when it printed nothing. */
char *lq_ask_program_all(const char *const argv[]);

/*
 * act.c: --save, one copier for every MTA. A saver writes into the save directory as a
 * spool of the same MTA (qcat --spool DIR ID reads it); rel is a path below it, '/'-
 * separated, of names the backend made (never from an ID alone). Directories are made
 * 0750; a file gets the mode bits and times of the original (Postfix's mode says "complete",
 * qmail's info mtime is the arrival), is owned by whoever acts (the spool's owner, see
 * lq_spool_owner), is never written over an existing one, and is fsync'ed with its
 * directory. A file larger than LQ_SAVE_MAX is refused, naming the cap: nothing is removed.
 */
#define LQ_SAVE_MAX ((off_t)16 << 30)
int lq_save_dir(struct lq_saver *, const char *rel, struct lq_err *);
int lq_save_file(struct lq_saver *, const char *rel, int fd, const struct stat *,
    struct lq_err *);

/*
 * proc.c: what the kernel says about other processes, read one way for every backend.
 * The locks held (not waited for) in /proc/locks, of the kinds asked for, sorted by inode:
 * the table is read twice, because the kernel hands it out a page at a time and can skip an
 * entry while locks come and go. Postfix and qmail lock with flock(); Exim with fcntl()
 * record locks (POSIX; another qtools process acting holds an OFD lock, of the same kind).
 */
enum lq_lockkind { LQ_LOCK_FLOCK = 1 << 0, LQ_LOCK_FCNTL = 1 << 1 };
struct lq_lock {
	unsigned long long ino;
	unsigned maj, min;
	long pid;		/* -1: an OFD lock, which belongs to no process; 0: a process
				 * outside our pid namespace */
};
struct lq_locks {
	struct lq_lock *v;
	size_t n, cap;
};
int lq_locks_load(struct lq_locks *, unsigned kinds, struct lq_err *);
void lq_locks_free(struct lq_locks *);
/* Who holds a lock on the file st: its PID, -1 when it has none we can see (an OFD lock, a
 * process outside our pid namespace), or 0 for nobody. Where the device numbers in
 * /proc/locks differ from stat's (btrfs subvolumes, overlayfs), the holder must be seen to
 * have the file open (so an OFD lock counts only where they agree). */
long lq_locks_holder(const struct lq_locks *, const struct stat *st);
/* Does any entry name st's inode, whatever its device? (A 0 from lq_locks_holder is then not
 * sure: the caller asks the file itself.) */
int lq_locks_inode_listed(const struct lq_locks *, const struct stat *st);
/* /proc/PID/comm without its newline; "" when it cannot be read. */
void lq_proc_comm(long pid, char comm[32]);

/*
 * Growing an array of the message's arena by doubling, with the one ceiling every backend
 * keeps on a message's recipients (libqueue/README: every count has a ceiling). Makes room
 * for one more element after n; 0, or -1 with err (LQ_ELIMIT naming the ceiling, LQ_ENOMEM).
 */
#define LQ_RCPT_MAX 1000000
int lq_arena_grow(struct lq_msg *, void **v, size_t n, size_t *cap, size_t size,
    size_t max, const char *what, struct lq_err *);
/* A recipient record still to be delivered: not done, not a copy listed from Postfix's
 * delay log, not one of Exim's non-recipients only (a Postfix shadow record is pending). */
#define LQ_RCPT_PENDING(f) \
	(!((f) & (LQ_RCPT_DONE | LQ_RCPT_LOGGED)) && (!((f) & LQ_RCPT_EXTRA) || ((f) & LQ_RCPT_SHADOW)))
/* Add a recipient to m (its arena holds it; addr and reason must live there already). */
int lq_rcpt_add(struct lq_msg *, size_t *cap, const char *addr, const char *reason,
    unsigned flags, struct lq_err *);

/* pipeline.c: how many of want threads the descriptor limit leaves room for, each holding
 * one at a time (half of what is free beyond what the scan itself may hold open). */
unsigned lq_threads_fd_budget(unsigned want);

/* columns.c: v in decimal into out (snprintf's "%llu" without its cost, for a name or a field
 * made per message); out. */
#define LQ_ULONG_LEN 21
char *lq_ultoa(unsigned long long v, char out[LQ_ULONG_LEN]);

/*
 * pipeline.c: a scan's messages loaded by workers, handed over in the scan's order
 * (libqueue/README, "A scan with parsing workers"). A backend gives an item (what its load
 * needs to find one message: a directory descriptor, a name) per message, in order, with
 * lq_pipeline_put; load runs in any thread and must touch nothing shared but what is
 * read-only during the scan: it fills the slot's message (lq_slot_begin) and returns 0 with
 * *m, or -1 with err. It reads files into scratch (the loading thread's own buffers, which
 * stay in that core's caches: for what the message does not point into once the load
 * returned) or into the slot's (for what it does). handover runs in the scan thread, in
 * the order the items were put, with m (NULL: the load failed, err says why): what the
 * backend's serial scan does with one message (count, report, call each); non-zero stops
 * the scan (-1: with err). The message and the slot's buffers stay valid until handover
 * returns.
 * lq_pipeline_start: NULL when sp->jobs is 1 or no thread fits (the backend loads and hands
 * over each message itself). lq_pipeline_put and _finish return the first non-zero
 * handover; lq_pipeline_stop drops what was not handed over.
 */
#define LQ_SLOT_BUFS 3
struct lq_slot {
	struct lq_msg msg;
	struct lq_arena *arena;
	struct lq_buf buf[LQ_SLOT_BUFS];	/* the backend's, for the files it reads */
};
struct lq_pipeline_ops {
	size_t item_size;
	int (*load)(struct lq_spool *, const void *item, struct lq_slot *,
	    struct lq_buf *scratch, struct lq_msg **m, struct lq_err *);
	int (*handover)(void *arg, const void *item, struct lq_msg *m, struct lq_err *e,
	    struct lq_err *err);
};
struct lq_pipeline;
struct lq_pipeline *lq_pipeline_start(struct lq_spool *, const struct lq_pipeline_ops *,
    void *arg);
int lq_pipeline_put(struct lq_pipeline *, const void *item, struct lq_err *);
int lq_pipeline_finish(struct lq_pipeline *, struct lq_err *);
void lq_pipeline_stop(struct lq_pipeline *);
/* The scan opened a directory the messages it puts next are in (before putting them): warm
 * workers, whose descriptor tables are copies, are started again with one that has it. */
void lq_pipeline_new_dir(struct lq_pipeline *);
/* Is the calling thread a warm worker, whose descriptors are its own? A load that would open
 * a directory for the rest of the scan, or use one opened after the worker started, must
 * not, then: it fails with lq_not_here, and the scan thread makes it again. */
int lq_private_fds(void);
/* That failure: LQ_NOT_HERE, with err (LQ_ESYS) naming what could not be looked at. */
#define LQ_NOT_HERE (-3)
int lq_not_here(struct lq_err *, const char *what);
struct lq_msg *lq_slot_begin(struct lq_spool *, struct lq_slot *);

/* JSON string (with quotes) */
void lq_json_string(FILE *, const char *, size_t);
/* The same for a text from a log (a delay reason): bytes that are not UTF-8 are written as
 * the four characters \xNN, so that the line is valid JSON whatever the log held. */
void lq_json_text(FILE *, const char *, size_t);
/* The length of the UTF-8 sequence at s (at most n bytes), or 0: not one. */
size_t lq_utf8_len(const unsigned char *s, size_t n);
/* The start of every --json record: {"v": 1, "type": TYPE, "host": HOST, "mta": MTA */
void lq_json_head(FILE *, const char *type, const char *host, enum lq_mta);

/* util.c: v in the order of its keys, ascending or (descending) descending, equal keys in
 * the order of their vals (ascending either way): with vals that grow as v was filled, a
 * stable sort. In place, and linear in n. */
struct lq_keyed {
	uint64_t key;
	size_t val;
};
void lq_sort_keyed(struct lq_keyed *, size_t n, int descending);

/* A list of directory entry names, for sorting before reading. lq_names_add notes each
 * name's offset in off; lq_names_add_keyed notes it in keyed, with a sort key, ready for
 * lq_sort_keyed (a list takes one or the other). 0, or -1: out of memory. */
struct lq_names {
	char *pool;		/* NUL-separated names */
	size_t poollen, poolcap;
	size_t *off;		/* offsets into pool */
	struct lq_keyed *keyed;	/* the same, each with its key (vals grow: in pool order) */
	size_t n, cap;
};
int lq_names_add(struct lq_names *, const char *, size_t);
int lq_names_add_keyed(struct lq_names *, const char *, size_t, uint64_t key);
void lq_names_free(struct lq_names *);

/* json.c: one JSON value, parsed into an arena. Members of an object and items of an
 * array are the children first..next (n of them); a member has its name. */
enum lq_jtype { LQ_J_NULL, LQ_J_BOOL, LQ_J_NUM, LQ_J_STR, LQ_J_ARR, LQ_J_OBJ };
struct lq_jval {
	enum lq_jtype type;
	int boolean;
	int is_int;		/* a number without fraction or exponent that fits int64 */
	int64_t i;
	double d;
	const char *s;		/* string, NUL-terminated (may hold NULs: see len) */
	size_t len;
	struct lq_jval *first, *next;
	size_t n;
	const char *name;	/* as a member of an object */
	size_t namelen;
};
#define LQ_JSON_MAXDEPTH 16
/* The value that fills s[0..n) (white space around it allowed), or NULL with err naming
 * the byte where it went wrong. */
struct lq_jval *lq_json_parse(struct lq_arena *, const char *s, size_t n, struct lq_err *);
/* An object's member, or NULL. */
const struct lq_jval *lq_json_get(const struct lq_jval *obj, const char *name);

/* summary.c, for prom.c: exiqsumm's domain of an address (after the first '@', [\w.-]+ or
 * a bracketed IPv4 literal): its length (0: none), *dom pointing into addr. */
size_t lq_rcpt_domain(const char *addr, const char **dom);

/* summary.c, for merge.c: a row that several hosts' rows were merged into (ages: each
 * against its own host's clock); volume is the exact bytes. key: the keys' values, each
 * ending with its NUL (keylen counts them all). */
int lq_summary_put(struct lq_summary *, const char *key, size_t keylen, unsigned long count,
    int64_t bytes, time_t oldest_age, time_t newest_age);

/* select.c, shared with expr.c: a regex compiled once (JIT when it can); what names the
 * option in errors. lq_regex_match: 1 s[0..n) matches, 0 not, -1 the engine could not tell (err). */
struct lq_regex {
	pcre2_code *code;
	pcre2_match_data *md;
};
int lq_regex_compile(struct lq_regex *, const char *what, const char *pattern, int caseless,
    struct lq_err *);
void lq_regex_free(struct lq_regex *);
int lq_regex_match(struct lq_regex *, const char *what, const char *s, size_t n, struct lq_err *);

/* A message's age as -o, -y and the expressions' age take it: from the time in Exim's ID
 * (exiqgrep's), else the arrival. */
static inline time_t
lq_msg_age(const struct lq_msg *m, time_t now)
{
	return now - (m->id_time ? m->id_time : m->arrival);
}

/* Does a recipient count for -r, rcpt-count and every-recipient? Those still to deliver
 * (all: the delivered ones too, qgrep -a), never the generated ones. */
static inline int
lq_rcpt_counts(const struct lq_rcpt *r, int all)
{
	return !(r->flags & LQ_RCPT_EXTRA) && (all || !(r->flags & LQ_RCPT_DONE));
}

/*
 * expr.c: the selection expressions of -e (qtools-select(7)), all of them ANDed, compiled
 * once. NULL with err: one line saying what is wrong, then the expression and a caret
 * under the column. o: the rest of the selection (case_sensitive, all_rcpts).
 */
struct lq_expr;
struct lq_expr *lq_expr_new(const char *const *exprs, size_t n, const struct lq_select_opts *o,
    time_t now, struct lq_err *);
void lq_expr_free(struct lq_expr *);
/* What evaluating needs (NULL: nothing). */
enum { LQ_EXPR_CONTENT = 1, LQ_EXPR_SIZE = 2, LQ_EXPR_LOCKS = 4, LQ_EXPR_REASONS = 8 };
unsigned lq_expr_needs(const struct lq_expr *);
/* 1 selected, 0 not, -1 cannot tell (content unreadable, a regex engine error: err set).
 * Headers and the body are read only when the cheaper tests did not decide. */
int lq_expr_eval(struct lq_expr *, struct lq_spool *, struct lq_msg *, struct lq_err *);

#endif
