/*
 * qmail.c -- the qmail backend (qmail-1.03, netqmail-1.06, notqmail: one format): mess/N/ID
 * the message, info/N/ID the sender, local/N/ID and remote/N/ID the recipients with their
 * done marks, bounce/ID, and todo/ID (intd/ID) for messages qmail-send has not preprocessed
 * yet; N = ID % split, split read from the directory. Format: libqueue/README, "qmail".
 *
 * Diagnostics: a file that does not follow the format, is a symlink, sits in the wrong
 * split subdirectory or has a name qmail would never write is LQ_ECORRUPT naming the ID and
 * the file; a file that vanished mid-scan is counted, not reported.
 *
 * Acting: qmail has no per-message lock and no hold, so what is safe depends on whether
 * qmail-send runs (it holds the flock on lock/sendmutex): stopped, files are unlinked or
 * renamed into the hold area QUEUE/qtools-hold/ (same layout) in an order qmail never
 * minds; running, a removal only marks the recipients done, as qmail-send does, and
 * qmail-send is sent ALRM to finish the message itself. libqueue/README, "qmail", acting.
 *
 * Scanning: the walk (qmail-qread's order) finds messages and hands them to the pipeline
 * (pipeline.c), whose threads load them each with a reader of their own (struct reader);
 * libqueue/README, "A scan with parsing workers", says what stays read-only meanwhile.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"

#define INFO_MAX (1u << 20)	/* one F record; qmail's own limit is 1003 bytes */
#define ENV_MAX (64u << 20)	/* todo/, local/, remote/ */
#define BOUNCE_MAX (64u << 20)
#define HDR_MAX (64u << 20)	/* the header section of mess/ */
#define MAX_SPLIT 65536
#define STAT_DEPTH 16		/* how deep --stat follows subdirectories */

enum kind { K_MESS, K_INFO, K_LOCAL, K_REMOTE, K_TODO, K_INTD, K_BOUNCE, NKIND };
static const char *const kind_name[NKIND] = {
	"mess", "info", "local", "remote", "todo", "intd", "bounce"
};

/* Where qfreeze puts messages on hold: the queue's own layout one level down (HOLD/mess/N/ID,
 * HOLD/info/N/ID...), on the same file system, so a rename keeps the inode and the ID. */
#define HOLD "qtools-hold"

/* A tree of queue directories: the queue itself, or the hold area. */
struct area {
	int top[NKIND];			/* mess/, info/...; -1 when absent */
	int sub[NKIND];			/* one cached split subdirectory per kind... */
	unsigned long subn[NKIND];	/* ...and its number */
	const char *prefix;		/* "" or HOLD "/", for messages */
};

/* Message IDs, sorted once all are in: what one readdir found in a directory, or what a
 * scan has reported (see "what a scan knows" below). */
struct idset {
	unsigned long *id;
	size_t n, cap;
	int known;		/* complete; else each message asks the file system itself */
};

static void idset_free(struct idset *);

struct qmail {
	unsigned long split;
	int bigtodo;			/* big-todo patch: todo/N/ID, intd/N/ID */
	struct lq_err split_err;	/* set when the split subdirectories make no sense */
	int want_queue, want_todo;	/* which of the two queues to read */
	int want_hold;			/* and the hold area */
	struct area queue, hold;
	struct area *cur;		/* the tree being read: every entry point sets it */
	int holdfd;			/* HOLD/, or -1 */
	struct lq_err hold_err;		/* HOLD/ or a directory in it is not a directory */
	char pid[24];			/* run_argv: qmail-send's PID, as an argument */
	struct lq_buf buf, hbuf;
	struct idset bad;		/* IDs reported during this scan */
	/* during a scan with loading threads: every split subdirectory a load needed, opened
	 * once (under dirmu) and kept until the scan ends, so that no thread closes one
	 * another uses (DIR_UNOPENED: not yet); NULL otherwise (the one-per-kind cache) */
	atomic_int *scan_dirs;
	int scan_dirs_started;	/* the loaders started: what opens now is DIR_LATE */
	pthread_mutex_t dirmu;
	struct qmail_held {	/* the message being acted on (lq_act) */
		unsigned long id;
		int running;	/* qmail-send runs */
		const struct qmail_msg *qm;
	} held;
};

struct qmail_msg {
	unsigned long id;
	int todo;
	int hold;		/* read from the hold area */
	struct stat st;		/* info/ (todo/ before preprocessing) as it was read */
};

/* What one load reads with: the tree (the queue or the hold area), the buffer its envelope
 * files go to, and the slot whose message it fills (NULL: the spool's message and buffer).
 * A scan's loading threads each have their own: nothing a load writes is shared. */
struct reader {
	struct lq_spool *sp;
	struct qmail *q;
	struct area *a;
	struct lq_buf *buf;
	struct lq_slot *slot;
};

#define DIR_UNOPENED (-1)
/* in scan_dirs, beside the descriptor: opened after the loaders started, so that a warm
 * worker's copy of the descriptor table (libqueue/pipeline.c) does not have it */
#define DIR_LATE (1 << 30)

/* ---------------------------------------------------------------- names */

/* A name qmail writes: decimal, no leading zero, fits an unsigned long. */
static int
parse_id(const char *s, unsigned long *id)
{
	unsigned long v = 0;
	size_t n = 0;

	if (s[0] < '1' || s[0] > '9')
		return 0;
	for (; s[n] != '\0'; n++) {
		unsigned d = (unsigned char)s[n] - '0';

		if (d > 9 || v > (~0UL - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*id = v;
	return 1;
}

/* A split subdirectory's name: "0" or like an ID. */
static int
parse_sub(const char *s, unsigned long *n)
{
	if (strcmp(s, "0") == 0) {
		*n = 0;
		return 1;
	}
	return parse_id(s, n);
}

static int
qmail_valid_id(const char *id)
{
	unsigned long v;

	return parse_id(id, &v);
}

/* A directory entry's name made fit for a one-line message. */
static const char *
shown(const char *name, char out[48])
{
	size_t i;

	for (i = 0; name[i] != '\0' && i < 40; i++)
		out[i] = name[i] >= 32 && name[i] <= 126 ? name[i] : '?';
	if (name[i] != '\0')
		out[i++] = '.', out[i++] = '.', out[i++] = '.';
	out[i] = '\0';
	return out;
}

static int
is_split(const struct qmail *q, enum kind k)
{
	return k <= K_REMOTE || (q->bigtodo && (k == K_TODO || k == K_INTD));
}

#define PATH_MAX_LEN 96

/* "info/7/10971589" or "bounce/10971589" (under HOLD/ in the hold area), for messages */
static const char *
path_in(const struct qmail *q, const struct area *a, enum kind k, unsigned long id,
    char out[PATH_MAX_LEN])
{
	if (is_split(q, k))
		snprintf(out, PATH_MAX_LEN, "%s%s/%lu/%lu", a->prefix, kind_name[k], id % q->split,
		    id);
	else
		snprintf(out, PATH_MAX_LEN, "%s%s/%lu", a->prefix, kind_name[k], id);
	return out;
}

static const char *
path_of(const struct qmail *q, enum kind k, unsigned long id, char out[PATH_MAX_LEN])
{
	return path_in(q, q->cur, k, id, out);
}

/* Rewrite an error from lq_open_file & co (whose text starts with the bare file name, the
 * ID) to name the message and the file in tree a: "ID: info/7/ID: is a symbolic link". */
static int
file_err_in(struct lq_err *err, const struct qmail *q, const struct area *a, enum kind k,
    unsigned long id)
{
	char was[sizeof err->msg], path[PATH_MAX_LEN];
	enum lq_errcode code;
	const char *p;
	size_t n;
	int e;

	if (err == NULL)
		return -1;
	if (err->code == LQ_ENOENT)
		return lq_err_set(err, LQ_ENOENT, "%lu: no such message", id);
	snprintf(was, sizeof was, "%s", err->msg);
	n = snprintf(path, sizeof path, "%lu: ", id);
	p = strncmp(was, path, n) == 0 ? was + n : was;
	code = err->code;
	e = err->sys_errno;
	lq_err_set(err, code, "%lu: %s: %s", id, path_in(q, a, k, id, path), p);
	err->sys_errno = e;
	return -1;
}

static int
file_err(struct lq_err *err, const struct qmail *q, enum kind k, unsigned long id)
{
	return file_err_in(err, q, q->cur, k, id);
}

/* A split subdirectory that should be there is not: damage, named with the message. */
static int
dir_err(struct lq_err *err, unsigned long id)
{
	if (err == NULL)
		return -1;
	err->code = LQ_ECORRUPT;
	return lq_err_prefix(err, "%lu: ", id);
}

static int
corrupt_in(struct lq_err *err, const struct qmail *q, const struct area *a, enum kind k,
    unsigned long id, const char *what)
{
	char path[PATH_MAX_LEN];

	return lq_err_set(err, LQ_ECORRUPT, "%lu: %s: %s", id, path_in(q, a, k, id, path), what);
}

static int
corrupt(struct lq_err *err, const struct qmail *q, enum kind k, unsigned long id,
    const char *what)
{
	return corrupt_in(err, q, q->cur, k, id, what);
}

/* ---------------------------------------------------------------- directories */

/* The directory of tree a holding kind k's file for id (a split subdirectory when k is
 * split). */
static int
dir_in(struct qmail *q, struct area *a, enum kind k, unsigned long id, struct lq_err *err)
{
	unsigned long n;
	char name[24];
	int fd;

	if (a->top[k] < 0)
		return lq_err_set(err, LQ_ENOENT, "%s%s/: missing", a->prefix, kind_name[k]);
	if (!is_split(q, k))
		return a->top[k];
	n = id % q->split;
	if (a->sub[k] >= 0 && a->subn[k] == n)
		return a->sub[k];
	lq_ultoa(n, name);
	if ((fd = lq_open_dir(a->top[k], name, err)) < 0) {
		if (err != NULL)
			lq_err_set(err, err->code, "%s%s/%lu: %s", a->prefix, kind_name[k], n,
			    err->code == LQ_ENOENT ? "missing" : "not a directory");
		return -1;
	}
	if (a->sub[k] >= 0)
		lq_sys_close(a->sub[k]);
	a->sub[k] = fd;
	a->subn[k] = n;
	return fd;
}

static int
dir_of(struct qmail *q, enum kind k, unsigned long id, struct lq_err *err)
{
	return dir_in(q, q->cur, k, id, err);
}

static void
use_area(struct qmail *q, int hold)
{
	q->cur = hold ? &q->hold : &q->queue;
}

/* Is there an entry (of any type: a symlink counts) for id in kind k? */
static int
exists(struct qmail *q, enum kind k, unsigned long id)
{
	char name[24];
	struct stat st;
	int fd = dir_of(q, k, id, NULL);

	lq_ultoa(id, name);
	return fd >= 0 && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A split subdirectory during a scan with loading threads, from any of them: opened when
 * the loaders start (start_loaders) or the first time one is needed, and kept (a failure is
 * not kept: the next load asks again, and says what the one-per-kind cache would). A warm
 * worker, whose descriptors are a copy taken when it started, uses only those opened
 * before: for another it gets LQ_NOT_HERE, and the scan thread makes its load again. */
static int
scan_dir(struct qmail *q, struct area *a, enum kind k, unsigned long id, struct lq_err *err)
{
	unsigned long n = id % q->split;
	atomic_int *slot = &q->scan_dirs[((size_t)(a == &q->hold) * NKIND + k) * q->split + n];
	int fd = atomic_load(slot);
	struct lq_err e;
	char name[24];

	if (fd != DIR_UNOPENED && !(fd & DIR_LATE))
		return fd;
	if (lq_private_fds()) {
		char path[PATH_MAX_LEN];

		snprintf(path, sizeof path, "%s%s/%lu", a->prefix, kind_name[k], n);
		return lq_not_here(err, path);
	}
	if (fd != DIR_UNOPENED)
		return fd & ~DIR_LATE;
	pthread_mutex_lock(&q->dirmu);
	if ((fd = atomic_load(slot)) == DIR_UNOPENED) {
		lq_ultoa(n, name);
		if ((fd = lq_open_dir(a->top[k], name, &e)) >= 0)
			atomic_store(slot, q->scan_dirs_started ? fd | DIR_LATE : fd);
	} else
		fd &= ~DIR_LATE;
	pthread_mutex_unlock(&q->dirmu);
	if (fd < 0)
		return lq_err_set(err, e.code, "%s%s/%lu: %s", a->prefix, kind_name[k], n,
		    e.code == LQ_ENOENT ? "missing" : "not a directory");
	return fd;
}

/* The directory a load reads kind k's file of id from. */
static int
reader_dir(const struct reader *r, enum kind k, unsigned long id, struct lq_err *err)
{
	if (r->q->scan_dirs != NULL && is_split(r->q, k) && r->a->top[k] >= 0)
		return scan_dir(r->q, r->a, k, id, err);
	return dir_in(r->q, r->a, k, id, err);
}

/* exists, for a load: 1 or 0, or -1 (err) in a warm worker that cannot look (scan_dir) */
static int
reader_has(const struct reader *r, enum kind k, unsigned long id, struct lq_err *err)
{
	char name[24];
	struct stat st;
	int fd = reader_dir(r, k, id, err);

	if (fd == LQ_NOT_HERE)
		return -1;
	lq_ultoa(id, name);
	return fd >= 0 && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The spool's own reader, in the tree being read: lookups by ID, acting, --jobs 1. */
static struct reader
spool_reader(struct lq_spool *sp)
{
	struct qmail *q = sp->priv;

	return (struct reader){ sp, q, q->cur, &q->buf, NULL };
}

/* A load's message made new (the spool's, or its slot's). */
static struct lq_msg *
reader_msg(const struct reader *r)
{
	return r->slot != NULL ? lq_slot_begin(r->sp, r->slot) : lq_msg_begin(r->sp);
}

/* Has the hold area any file of id? Then a qfreeze or qfreeze -u on it was interrupted. */
static int
partly_held(struct qmail *q, unsigned long id)
{
	struct area *was = q->cur;
	int r = 0;

	if (q->holdfd < 0 || q->hold_err.code != LQ_OK)
		return 0;
	q->cur = &q->hold;
	for (int k = 0; k < NKIND && !r; k++)
		r = exists(q, k, id);
	q->cur = was;
	return r;
}

#define PARTLY "partly on hold: an interrupted qfreeze or qfreeze -u left its files split" \
	" between the queue and " HOLD "/ (libqueue/README says how to mend it)"

/* The split: the numeric subdirectories of info/, which must be 0..split-1 (and as many
 * in mess/). qmail has it compiled in (conf-split, 23 by default); we never assume it. */
static int
count_split(int dirfd, const char *what, unsigned long *split, struct lq_err *err)
{
	unsigned long n, count = 0, max = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = dup(dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			lq_sys_close(fd);
		return lq_err_sys(err, "%s/", what);
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!parse_sub(de->d_name, &n))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		count++;
		if (n > max)
			max = n;
	}
	closedir(d);
	if (count == 0)
		return lq_err_set(err, LQ_ECORRUPT, "%s/: no split subdirectories", what);
	if (max + 1 != count || count > MAX_SPLIT)
		return lq_err_set(err, LQ_ECORRUPT,
		    "%s/: the split subdirectories are not 0..N-1 (%lu of them, the largest %lu)",
		    what, count, max);
	*split = count;
	return 0;
}

static int
qmail_detect(int dirfd)
{
	static const char *const need[] = { "mess", "info", "todo", "lock" };
	struct stat st;

	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		if (fstatat(dirfd, need[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return 0;
	return 1;
}

static char *
qmail_default_dir(void)
{
	return strdup("/var/qmail/queue");
}

static int
set_queues(struct lq_spool *sp, struct qmail *q, struct lq_err *err)
{
	const char *p = sp->queue;

	if (p == NULL) {
		q->want_queue = q->want_todo = q->want_hold = 1;
		return 0;
	}
	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (n == 5 && strncmp(p, "queue", 5) == 0)
			q->want_queue = 1;
		else if (n == 4 && strncmp(p, "todo", 4) == 0)
			q->want_todo = 1;
		else if (n == 4 && strncmp(p, "hold", 4) == 0)
			q->want_hold = 1;
		else if (n > 0)
			return lq_err_set(err, LQ_EUSAGE,
			    "%s: no qmail queue named '%.*s' (there are: queue, todo, hold)", sp->dir,
			    (int)(n > 64 ? 64 : n), p);
		p += n + (p[n] == ',');
	}
	if (!q->want_queue && !q->want_todo && !q->want_hold)
		return lq_err_set(err, LQ_EUSAGE, "%s: no queue names in '%s'", sp->dir, sp->queue);
	return 0;
}

/* The hold area, when there is one: HOLD/ and whichever of its kind directories exist. Damage
 * (a symlink or a file where a directory should be) is kept in hold_err: the queue is still
 * read, the scan reports it, and acting refuses. */
static void
open_hold(struct lq_spool *sp, struct qmail *q)
{
	struct lq_err e;

	if (q->holdfd < 0 && (q->holdfd = lq_open_dir(sp->dirfd, HOLD, &e)) < 0) {
		if (e.code != LQ_ENOENT)
			lq_err_set(&q->hold_err, LQ_ECORRUPT, "%s/%s/: not a directory (qtools keeps"
			    " held messages there): held messages are not read", sp->dir, HOLD);
		return;
	}
	for (int k = 0; k < NKIND; k++) {
		if (q->hold.top[k] >= 0)
			continue;
		if ((q->hold.top[k] = lq_open_dir(q->holdfd, kind_name[k], &e)) < 0 &&
		    e.code != LQ_ENOENT) {
			lq_err_set(&q->hold_err, LQ_ECORRUPT, "%s/%s/%s/: not a directory: held"
			    " messages are not read", sp->dir, HOLD, kind_name[k]);
			return;
		}
	}
}

static int
qmail_open(struct lq_spool *sp, struct lq_err *err)
{
	struct qmail *q;
	unsigned long mess_split;
	struct stat st;

	if ((q = calloc(1, sizeof *q)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	for (int k = 0; k < NKIND; k++) {
		q->queue.top[k] = q->queue.sub[k] = -1;
		q->hold.top[k] = q->hold.sub[k] = -1;
	}
	q->queue.prefix = "";
	q->hold.prefix = HOLD "/";
	q->holdfd = -1;
	q->dirmu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	use_area(q, 0);
	sp->priv = q;
	if (set_queues(sp, q, err) < 0)
		return -1;
	for (int k = 0; k < NKIND; k++) {
		struct lq_err e;

		if ((q->queue.top[k] = lq_open_dir(sp->dirfd, kind_name[k], &e)) >= 0)
			continue;
		/* local/ remote/ intd/ bounce/ may be missing: then they hold nothing */
		if (e.code != LQ_ENOENT || k == K_MESS || k == K_INFO || k == K_TODO)
			return lq_err_set(err, e.code, "%s/%s", sp->dir, e.msg);
	}
	q->bigtodo = fstatat(q->queue.top[K_TODO], "0", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
	/* qmail-qstat works whatever the split; reading messages needs a sane one */
	q->split = 1;
	if (count_split(q->queue.top[K_INFO], "info", &q->split, &q->split_err) == 0 &&
	    count_split(q->queue.top[K_MESS], "mess", &mess_split, &q->split_err) == 0 &&
	    mess_split != q->split)
		lq_err_set(&q->split_err, LQ_ECORRUPT,
		    "%s: mess/ has %lu split subdirectories but info/ has %lu", sp->dir,
		    mess_split, q->split);
	else if (q->split_err.code != LQ_OK) {
		char was[sizeof q->split_err.msg];

		snprintf(was, sizeof was, "%s", q->split_err.msg);
		lq_err_set(&q->split_err, q->split_err.code, "%s/%s", sp->dir, was);
	}
	open_hold(sp, q);
	return 0;
}

static void
qmail_close(struct lq_spool *sp)
{
	struct qmail *q = sp->priv;

	for (int k = 0; k < NKIND; k++) {
		struct area *a[2] = { &q->queue, &q->hold };

		for (int i = 0; i < 2; i++) {
			if (a[i]->top[k] >= 0)
				lq_sys_close(a[i]->top[k]);
			if (a[i]->sub[k] >= 0)
				lq_sys_close(a[i]->sub[k]);
		}
	}
	if (q->holdfd >= 0)
		lq_sys_close(q->holdfd);
	pthread_mutex_destroy(&q->dirmu);
	lq_buf_free(&q->buf);
	lq_buf_free(&q->hbuf);
	idset_free(&q->bad);
	free(q);
	sp->priv = NULL;
}

static int
split_ok(struct qmail *q, struct lq_err *err)
{
	if (q->split_err.code == LQ_OK)
		return 0;
	if (err != NULL)
		*err = q->split_err;
	return -1;
}

/* ---------------------------------------------------------------- what a scan knows */

/* What a scan has read already, so that a message costs fewer system calls than it
 * would alone (read_todo, walk_info). None of it is trusted for a message whose info/
 * file changed (mtime or ctime) since the scan began: that one may have been preprocessed,
 * or put back from hold, meanwhile. */
struct hint {
	time_t since;
	int todo;			/* look at todo/ID again for such a message */
	const struct idset *local, *remote, *bounce;
};

static int
ulong_cmp(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return (x > y) - (x < y);
}

static int
idset_add(struct idset *s, unsigned long id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		unsigned long *ids = reallocarray(s->id, cap, sizeof *ids);

		if (ids == NULL)
			return -1;
		s->id = ids;
		s->cap = cap;
	}
	s->id[s->n++] = id;
	return 0;
}

/* All added: sorted, and known from now on. */
static void
idset_done(struct idset *s)
{
	if (s->n > 1)
		qsort(s->id, s->n, sizeof *s->id, ulong_cmp);
	s->known = 1;
}

/* Read the IDs in dirfd; -1 only when out of memory (an unreadable one stays unknown). */
static int
idset_read(struct idset *s, int dirfd)
{
	struct dirent *de;
	DIR *d;
	int fd;

	s->n = 0;
	s->known = 0;
	if (dirfd < 0 || (fd = dup(dirfd)) < 0)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		lq_sys_close(fd);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		unsigned long id;

		if (parse_id(de->d_name, &id) && idset_add(s, id) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	idset_done(s);
	return 0;
}

/* An empty directory that is not there (the hold area makes them when needed). */
static void
idset_empty(struct idset *s)
{
	s->n = 0;
	s->known = 1;
}

static void
idset_free(struct idset *s)
{
	free(s->id);
	memset(s, 0, sizeof *s);
}

/* 1: id is there; 0: it is not; -1: unknown, ask the file system. */
static int
idset_has(const struct idset *s, unsigned long id)
{
	if (s == NULL || !s->known)
		return -1;
	/* (a search per message and kind: no bsearch and its comparison calls) */
	for (size_t lo = 0, hi = s->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->id[mid] == id)
			return 1;
		if (s->id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* ---------------------------------------------------------------- envelope files */

/* Read kind k's file for id into r->buf. */
static int
read_env(const struct reader *r, enum kind k, unsigned long id, size_t max, struct stat *st,
    struct lq_err *err)
{
	char name[24];
	int fd;

	if ((fd = reader_dir(r, k, id, err)) < 0)
		return -1;
	lq_ultoa(id, name);
	if (lq_read_file(fd, name, max, r->buf, st, err) < 0)
		return file_err_in(err, r->q, r->a, k, id);
	return 0;
}

/* The records of a buffer, each ended by a NUL; the count, or -1 when the last has none. */
static long
count_records(const struct lq_buf *b)
{
	long n = 0;

	for (size_t i = 0; i < b->len; i++)
		n += b->data[i] == '\0';
	if (b->len > 0 && b->data[b->len - 1] != '\0')
		return -1;
	return n;
}

/* The message file: its size. A missing one while info/ is still there is damage. */
static int
mess_size(const struct reader *r, struct lq_msg *m, unsigned long id, enum kind by,
    struct lq_err *err)
{
	char name[24], path[PATH_MAX_LEN];
	struct stat st;
	int fd, has;

	lq_ultoa(id, name);
	if ((fd = reader_dir(r, K_MESS, id, err)) < 0)
		return dir_err(err, id);
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return lq_err_sys(err, "%lu: %s", id, path_in(r->q, r->a, K_MESS, id, path));
		if ((has = reader_has(r, by, id, err)) < 0)
			return -1;
		if (!has)		/* finished between the two looks */
			return lq_err_set(err, LQ_ENOENT, "%lu: no such message", id);
		if (r->a == &r->q->hold)
			return corrupt_in(err, r->q, r->a, K_MESS, id, "missing: " PARTLY);
		return corrupt_in(err, r->q, r->a, K_MESS, id, by == K_TODO ?
		    "missing, but todo/ has the envelope" :
		    "missing, but info/ has the envelope (qmail-qread: trouble with it)");
	}
	if (S_ISLNK(st.st_mode))
		return corrupt_in(err, r->q, r->a, K_MESS, id, "is a symbolic link");
	if (!S_ISREG(st.st_mode))
		return corrupt_in(err, r->q, r->a, K_MESS, id, "not a regular file");
	if (st.st_size == 0)
		return corrupt_in(err, r->q, r->a, K_MESS, id,
		    "empty (qmail-queue always writes a Received line): not a message");
	m->size = st.st_size;
	return 0;
}

static void
set_sender(struct lq_msg *m, const char *s)
{
	m->sender = s;
	if (s[0] == '\0')
		m->flags |= LQ_MSG_BOUNCE;
	else if (strcmp(s, "#@[]") == 0)
		m->flags |= LQ_MSG_DOUBLE_BOUNCE;
}

static int
add_rcpt(struct lq_msg *m, size_t *cap, const char *addr, size_t n, unsigned flags,
    struct lq_err *err)
{
	if ((addr = lq_arena_strndup(m->arena, addr, n)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	return lq_rcpt_add(m, cap, addr, NULL, flags, err);
}

/* local/N/ID or remote/N/ID: T<addr>\0 still to do, D<addr>\0 done. */
static int
read_channel(const struct reader *r, struct lq_msg *m, enum kind k, unsigned long id,
    const struct idset *known, size_t *cap, struct lq_err *err)
{
	struct lq_err e;

	if (r->a->top[k] < 0 || idset_has(known, id) == 0)
		return 0;
	if (reader_dir(r, k, id, &e) < 0) {
		if (e.code == LQ_ENOENT && r->a == &r->q->hold)
			return 0;	/* made only when a held message needs it */
		if (err != NULL)
			*err = e;
		return dir_err(err, id);
	}
	if (read_env(r, k, id, ENV_MAX, NULL, &e) < 0) {
		if (e.code == LQ_ENOENT)
			return 0;	/* no recipients on this channel, or all done and removed */
		if (err != NULL)
			*err = e;
		return -1;
	}
	if (count_records(r->buf) < 0)
		return corrupt_in(err, r->q, r->a, k, id, "the last recipient has no NUL terminator");
	for (size_t i = 0; i < r->buf->len;) {
		const char *rec = r->buf->data + i;
		size_t n = strlen(rec);
		unsigned flags = k == K_LOCAL ? LQ_RCPT_LOCAL : 0;

		if (rec[0] == 'D')
			flags |= LQ_RCPT_DONE;
		else if (rec[0] != 'T')
			return corrupt_in(err, r->q, r->a, k, id, "a record is neither T nor D");
		if (add_rcpt(m, cap, rec + 1, n - 1, flags, err) < 0)
			return -1;
		i += n + 1;
	}
	return 0;
}

/* A held message is LQ_MSG_FROZEN in the queue "hold" (state "hold"), whether it was
 * preprocessed or not (qm->todo tells). */
static int
begin(const struct reader *r, struct lq_msg *m, unsigned long id, int todo, struct lq_err *err)
{
	struct qmail_msg *qm = lq_arena_alloc(m->arena, sizeof *qm);

	if (qm == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	memset(qm, 0, sizeof *qm);
	qm->id = id;
	qm->todo = todo;
	qm->hold = r->a == &r->q->hold;
	m->priv = qm;
	lq_ultoa(id, m->id);
	m->queue = qm->hold ? "hold" : todo ? "todo" : "queue";
	if (qm->hold)
		m->flags |= LQ_MSG_FROZEN;
	return 0;
}

static void
set_times(struct lq_msg *m, const struct stat *st)
{
	m->arrival = m->id_time = st->st_mtime;
	m->arrival_usec = st->st_mtim.tv_nsec / 1000;
}

/* A preprocessed message: info/ (sender, and its mtime: the birth qmail-qread shows),
 * mess/ (size), bounce/ (bouncing), then local/ and remote/ as qmail-qread reads them. */
static int load_todo(const struct reader *, unsigned long, struct lq_msg *, struct lq_err *);

/* h: what the scan knows (NULL: nothing). An info/ file changed since the scan began may
 * belong to a message still being preprocessed: then todo/ID is what to read. */
static int
load_info(const struct reader *r, unsigned long id, struct lq_msg *m, const struct hint *h,
    struct lq_err *err)
{
	const struct idset *local = NULL, *remote = NULL, *bounce = NULL;
	const struct lq_buf *b = r->buf;
	char name[24];
	struct stat st;
	size_t cap = 0;
	const char *nul;
	int fd, bouncing, todo;

	if (begin(r, m, id, 0, err) < 0)
		return -1;
	if (read_env(r, K_INFO, id, INFO_MAX, &st, err) < 0)
		return -1;
	/* ctime too: a rename back into info/ (qfreeze -u) keeps the mtime, not the ctime */
	if (h != NULL && (st.st_mtime >= h->since || st.st_ctime >= h->since)) {
		if (h->todo && (todo = reader_has(r, K_TODO, id, err)) < 0)
			return -1;
		if (h->todo && todo) {
			if (load_todo(r, id, reader_msg(r), err) == 0)
				return 0;
			if (err == NULL || err->code != LQ_ENOENT)
				return -1;
			return load_info(r, id, reader_msg(r), NULL, err);	/* done meanwhile */
		}
	} else if (h != NULL)
		local = h->local, remote = h->remote, bounce = h->bounce;
	((struct qmail_msg *)m->priv)->st = st;
	if (b->len == 0 || b->data[0] != 'F')
		return corrupt_in(err, r->q, r->a, K_INFO, id, "no F (sender) record");
	if ((nul = memchr(b->data, '\0', b->len)) == NULL)
		return corrupt_in(err, r->q, r->a, K_INFO, id,
		    "the sender record has no NUL terminator");
	set_times(m, &st);
	if ((m->sender = lq_arena_strndup(m->arena, b->data + 1, nul - b->data - 1)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	set_sender(m, m->sender);
	if (mess_size(r, m, id, K_INFO, err) < 0)
		return -1;
	lq_ultoa(id, name);
	bouncing = idset_has(bounce, id);
	if (bouncing != 0 && (fd = reader_dir(r, K_BOUNCE, id, NULL)) >= 0 &&
	    fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode))
			return corrupt_in(err, r->q, r->a, K_BOUNCE, id, S_ISLNK(st.st_mode) ?
			    "is a symbolic link" : "not a regular file");
		m->flags |= LQ_MSG_BOUNCING;
	}
	if (read_channel(r, m, K_LOCAL, id, local, &cap, err) < 0 ||
	    read_channel(r, m, K_REMOTE, id, remote, &cap, err) < 0)
		return -1;
	return 0;
}

/* A message qmail-send has not preprocessed: todo/ID holds u, p, F and T records. */
static int
load_todo(const struct reader *r, unsigned long id, struct lq_msg *m, struct lq_err *err)
{
	const struct lq_buf *b = r->buf;
	int have_sender = 0;
	struct stat st;
	size_t cap = 0;

	if (begin(r, m, id, 1, err) < 0)
		return -1;
	if (read_env(r, K_TODO, id, ENV_MAX, &st, err) < 0)
		return -1;
	((struct qmail_msg *)m->priv)->st = st;
	if (b->len == 0)
		return corrupt_in(err, r->q, r->a, K_TODO, id, "empty");
	if (count_records(b) < 0)
		return corrupt_in(err, r->q, r->a, K_TODO, id,
		    "the last record has no NUL terminator");
	for (size_t i = 0; i < b->len;) {
		const char *rec = b->data + i;
		size_t n = strlen(rec);

		switch (rec[0]) {
		case 'u':
		case 'p':
			break;
		case 'F':
			if (have_sender++)
				return corrupt_in(err, r->q, r->a, K_TODO, id,
				    "two F (sender) records");
			if ((m->sender = lq_arena_strndup(m->arena, rec + 1, n - 1)) == NULL)
				return lq_err_set(err, LQ_ENOMEM, "out of memory");
			break;
		case 'T':
			if (add_rcpt(m, &cap, rec + 1, n - 1, 0, err) < 0)
				return -1;
			break;
		default:	/* qmail-send: "unknown record type in todo/ID", left there */
			return corrupt_in(err, r->q, r->a, K_TODO, id, "unknown record type");
		}
		i += n + 1;
	}
	if (!have_sender)
		return corrupt_in(err, r->q, r->a, K_TODO, id, "no F (sender) record");
	set_sender(m, m->sender);
	set_times(m, &st);
	if (!(m->flags & LQ_MSG_FROZEN))
		m->flags |= LQ_MSG_UNPROCESSED;
	return mess_size(r, m, id, K_TODO, err);
}

/* todo/ first: while todo/ID exists, qmail-send may still be writing info/ local/ remote/
 * (and throws them away when it restarts). A todo/ID that vanished was just preprocessed. */
static int
load_id(const struct reader *r, unsigned long id, struct lq_msg *m, struct lq_err *err)
{
	int hold = r->a == &r->q->hold;
	int todo = (r->q->want_todo || hold) ? reader_has(r, K_TODO, id, err) : 0;

	if (todo < 0)
		return -1;
	if (todo) {
		if (load_todo(r, id, m, err) == 0)
			return 0;
		if (err == NULL || err->code != LQ_ENOENT)
			return -1;
		m = reader_msg(r);	/* preprocessed in the meantime */
	}
	if (!r->q->want_queue && !hold)
		return lq_err_set(err, LQ_ENOENT, "%lu: no such message", id);
	return load_info(r, id, m, NULL, err);
}

/* The queue first (todo/, then info/), then the hold area. */
static int
load_any(struct lq_spool *sp, unsigned long id, struct lq_msg **mp, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	struct lq_msg *m = *mp;
	struct reader r;
	struct lq_err e;

	use_area(q, 0);
	r = spool_reader(sp);
	if (q->want_queue || q->want_todo) {
		if (load_id(&r, id, m, &e) == 0)
			return 0;
		if (e.code != LQ_ENOENT) {
			if (err != NULL)
				*err = e;
			return -1;
		}
	} else
		lq_err_set(&e, LQ_ENOENT, "%lu: no such message", id);
	if (q->want_hold && q->holdfd >= 0 && q->hold_err.code == LQ_OK) {
		*mp = m = lq_msg_begin(sp);
		use_area(q, 1);
		r = spool_reader(sp);
		if (load_id(&r, id, m, &e) == 0)
			return 0;
		use_area(q, 0);
	}
	if (err != NULL)
		*err = e;
	return -1;
}

/* Why is there no info/ID? Say so when qmail would not see the message either. */
static int
diagnose(struct lq_spool *sp, unsigned long id, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	char name[24], sub[24];
	struct stat st;

	lq_ultoa(id, name);
	for (unsigned long n = 0; n < q->split; n++) {
		int fd;

		if (n == id % q->split)
			continue;
		lq_ultoa(n, sub);
		if ((fd = lq_open_dir(q->queue.top[K_INFO], sub, NULL)) < 0)
			continue;
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			lq_sys_close(fd);
			return lq_err_set(err, LQ_ECORRUPT,
			    "%lu: info/%lu/%lu is in the wrong split subdirectory (%lu %% %lu = %lu):"
			    " qmail ignores it", id, n, id, id, q->split, id % q->split);
		}
		lq_sys_close(fd);
	}
	if (partly_held(q, id))
		return lq_err_set(err, LQ_ECORRUPT, "%lu: %s", id, PARTLY);
	if (exists(q, K_MESS, id))
		return lq_err_set(err, LQ_ECORRUPT, "%lu: crash leftover: mess/%lu/%lu %s"
		    " (qmail-queue died, or is still writing it)", id, id % q->split, id,
		    exists(q, K_INTD, id) ? "and intd/ without todo/" : "without todo/ or info/");
	return lq_err_set(err, LQ_ENOENT, "%lu: no such message", id);
}

static int
qmail_load(struct lq_spool *sp, const char *idstr, unsigned flags, struct lq_msg *m,
    struct lq_err *err)
{
	struct lq_err e;
	unsigned long id;

	(void)flags;	/* qmail-send locks no message: nothing tells one being delivered */
	if (split_ok(sp->priv, err) < 0)
		return -1;
	if (!parse_id(idstr, &id))
		return lq_err_set(err, LQ_EBADID, "%s: not a valid qmail queue ID", idstr);
	if (load_any(sp, id, &m, &e) == 0)
		return 0;
	if (e.code == LQ_ENOENT && sp->queue == NULL)
		return diagnose(sp, id, err);
	if (err != NULL)
		*err = e;
	return -1;
}

/* ---------------------------------------------------------------- scanning */

struct walk {
	struct lq_spool *sp;
	struct lq_scan *sc;
	struct lq_err *err;	/* the scan's own error (out of memory, unreadable dir) */
	struct lq_names *names;	/* reverse scans collect "i" or "t" + ID first ("I", "T": held) */
	int hold;		/* walking the hold area */
	/* todo/ as read before info/ (see read_todo): "N name" entries in directory order, N
	 * the big-todo subdirectory; the IDs among them, sorted; and when it was read */
	struct lq_names todo;
	struct idset todo_ids;
	time_t began;
	/* while walk_info reads info/N: local/N, remote/N and bounce/ as read then */
	int in_info;
	struct idset local, remote, bounce;
	struct idset info;	/* walk_leftovers: info/N */
	struct lq_pipeline *pl;	/* the loading threads, or NULL: scan_one */
};

/* Reported already (q->bad is sorted before the leftover walks that ask). */
static int
was_bad(const struct qmail *q, unsigned long id)
{
	return idset_has(&q->bad, id) == 1;
}

/* A problem with one message (or one stray file): to the caller, and the scan goes on. */
static int
report(struct walk *w, const char *id, unsigned long idnum, const struct lq_err *e)
{
	struct qmail *q = w->sp->priv;

	w->sc->bad++;
	if (w->sc->problem)
		w->sc->problem(id, e, w->sc->arg);
	if (idnum != 0 && idset_add(&q->bad, idnum) < 0)
		return lq_err_set(w->err, LQ_ENOMEM, "out of memory");
	return 0;
}

/* A problem the walk itself found (a name qmail never writes, a file in the wrong
 * subdirectory): what was put before it is handed over first, so that the reports keep
 * --jobs 1's order. */
static int
report_found(struct walk *w, const char *id, unsigned long idnum, const struct lq_err *e)
{
	int rc = w->pl != NULL ? lq_pipeline_finish(w->pl, w->err) : 0;

	return rc != 0 ? rc : report(w, id, idnum, e);
}

static int
report_name(struct walk *w, enum kind k, const char *sub, const char *name, const char *what)
{
	struct lq_err e;
	char s[48];

	lq_err_set(&e, LQ_ECORRUPT, "%s%s/%s%s%s: %s", w->hold ? HOLD "/" : "", kind_name[k],
	    sub ? sub : "", sub ? "/" : "", shown(name, s), what);
	return report_found(w, s, 0, &e);
}

/* One message of a scan: where it is, and what the scan knew of it when it was found
 * (the hint's sets stay as they are until every message put with them is handed over). */
struct scan_item {
	unsigned long id;
	int todo;		/* found in todo/ */
	int hold;		/* in the hold area */
	struct hint h;		/* found in info/ */
};

/* Load one message of a scan (in any thread, with its own reader). */
static int
load_item(const struct reader *r, const struct scan_item *it, struct lq_msg *m,
    struct lq_err *err)
{
	if (it->todo)
		return load_id(r, it->id, m, err);
	return load_info(r, it->id, m, &it->h, err);
}

/* A message loaded (m) or not (NULL, e saying why), handed over in the scan thread:
 * counted, reported, or given to the caller. */
static int
hand_over(struct walk *w, const struct scan_item *it, struct lq_msg *m,
    const struct lq_err *e)
{
	char ids[24];
	int rc;

	w->sc->seen++;
	if (m == NULL) {
		if (e->code == LQ_ENOENT) {
			w->sc->vanished++;
			return 0;
		}
		if (e->code == LQ_ENOMEM) {
			if (w->err != NULL)
				*w->err = *e;
			return -1;
		}
		lq_ultoa(it->id, ids);
		return report(w, ids, it->id, e);
	}
	rc = w->sc->each(m, w->sc->arg);
	use_area(w->sp->priv, w->hold);		/* the callback may have read another tree */
	return rc;
}

/* Load and hand over one message, without loading threads (--jobs 1). */
static int
scan_one(struct walk *w, const struct scan_item *it)
{
	struct qmail *q = w->sp->priv;
	struct reader r = { w->sp, q, it->hold ? &q->hold : &q->queue, &q->buf, NULL };
	struct lq_msg *m = lq_msg_begin(w->sp);
	struct lq_err e;

	if (load_item(&r, it, m, &e) < 0)
		m = NULL;
	return hand_over(w, it, m, &e);
}

/* The pipeline's load: in any thread, into the slot's message, reading with the thread's
 * scratch buffer (what the message keeps of a file is copied into its arena). */
static int
pipeline_load(struct lq_spool *sp, const void *item, struct lq_slot *slot,
    struct lq_buf *scratch, struct lq_msg **mp, struct lq_err *err)
{
	const struct scan_item *it = item;
	struct qmail *q = sp->priv;
	struct reader r = { sp, q, it->hold ? &q->hold : &q->queue, &scratch[0], slot };
	struct lq_msg *m = lq_slot_begin(sp, slot);

	if (load_item(&r, it, m, err) < 0)
		return -1;
	/* the message a load ended with: a todo/ read again starts a new one */
	*mp = &slot->msg;
	return 0;
}

static int
pipeline_handover(void *arg, const void *item, struct lq_msg *m, struct lq_err *e,
    struct lq_err *err)
{
	(void)err;	/* the walk's own (w->err) */
	return hand_over(arg, item, m, e);
}

static const struct lq_pipeline_ops qmail_pipeline = {
	.item_size = sizeof(struct scan_item),
	.load = pipeline_load,
	.handover = pipeline_handover,
};

/* The next message of the walk: loaded and handed over now, or put in the pipeline. */
static int
scan_next(struct walk *w, unsigned long id, int todo)
{
	struct qmail *q = w->sp->priv;
	struct scan_item it = { .id = id, .todo = todo, .hold = w->hold };

	if (!todo) {
		it.h = (struct hint){ w->began - 1, q->want_todo || w->hold, NULL, NULL, NULL };
		if (w->in_info)
			it.h.local = &w->local, it.h.remote = &w->remote, it.h.bounce = &w->bounce;
	}
	if (w->pl == NULL)
		return scan_one(w, &it);
	return lq_pipeline_put(w->pl, &it, w->err);
}

static int
take(struct walk *w, unsigned long id, int todo)
{
	char s[24];

	if (w->names == NULL)
		return scan_next(w, id, todo);
	snprintf(s, sizeof s, "%c%lu", w->hold ? (todo ? 'T' : 'I') : (todo ? 't' : 'i'), id);
	if (lq_names_add(w->names, s, strlen(s)) < 0)
		return lq_err_set(w->err, LQ_ENOMEM, "out of memory");
	return 0;
}

/* Open subdirectory sub of kind k for reading; NULL (and err set) if it cannot be. */
static DIR *
open_sub(struct qmail *q, enum kind k, const char *sub, struct lq_err *err)
{
	DIR *d;
	int fd = sub ? lq_open_dir(q->cur->top[k], sub, err) : dup(q->cur->top[k]);

	if (fd < 0) {
		if (sub == NULL)
			lq_err_sys(err, "%s%s/", q->cur->prefix, kind_name[k]);
		else if (err != NULL)
			lq_err_set(err, err->code, "%s%s/%s: %s", q->cur->prefix, kind_name[k], sub,
			    err->code == LQ_ENOENT ? "missing" : "not a directory");
		return NULL;
	}
	if ((d = fdopendir(fd)) == NULL) {
		lq_err_sys(err, "%s%s/%s", q->cur->prefix, kind_name[k], sub ? sub : "");
		lq_sys_close(fd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* In the hold area a kind or split subdirectory is made when the first message needs it:
 * a missing one holds nothing. Is that the case here (in the tree being read)? */
static int
hold_lacks(struct walk *w, enum kind k, const char *sub)
{
	struct qmail *q = w->sp->priv;
	struct stat st;

	return q->cur == &q->hold && (q->cur->top[k] < 0 || (sub != NULL &&
	    fstatat(q->cur->top[k], sub, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT));
}

/* info/0 .. info/split-1, each in directory order: exactly qmail-qread's walk (readsubdir).
 * The same for the hold area. */
/* local/N and remote/N: which messages of info/N have recipients on each channel. */
static int
read_channels(struct walk *w, unsigned long n)
{
	struct qmail *q = w->sp->priv;
	static const enum kind kinds[2] = { K_LOCAL, K_REMOTE };

	for (int i = 0; i < 2; i++) {
		struct idset *set = kinds[i] == K_LOCAL ? &w->local : &w->remote;
		struct lq_err e;
		int fd;

		if (q->cur->top[kinds[i]] < 0) {
			if (w->hold)
				idset_empty(set);
			else
				set->known = 0;		/* each message says what is wrong */
		} else if ((fd = dir_in(q, q->cur, kinds[i], n, &e)) >= 0) {
			if (idset_read(set, fd) < 0)
				return lq_err_set(w->err, LQ_ENOMEM, "out of memory");
		} else if (e.code == LQ_ENOENT && w->hold)
			idset_empty(set);
		else
			set->known = 0;
	}
	return 0;
}

static int
walk_info(struct walk *w)
{
	struct qmail *q = w->sp->priv;
	struct dirent *de;
	char sub[24];
	int rc = 0;

	use_area(q, w->hold);
	if (q->cur->top[K_BOUNCE] < 0 && w->hold)
		idset_empty(&w->bounce);
	else if (idset_read(&w->bounce, q->cur->top[K_BOUNCE]) < 0)
		return lq_err_set(w->err, LQ_ENOMEM, "out of memory");
	for (unsigned long n = 0; rc == 0 && n < q->split; n++) {
		DIR *d;

		lq_ultoa(n, sub);
		use_area(q, w->hold);
		if (hold_lacks(w, K_INFO, sub))
			continue;
		if (read_channels(w, n) < 0)
			return -1;
		if ((d = open_sub(q, K_INFO, sub, w->err)) == NULL)
			return -1;
		w->in_info = 1;
		while (rc == 0 && (de = readdir(d)) != NULL) {
			struct lq_err e;
			unsigned long id;
			char ids[24];

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (!parse_id(de->d_name, &id)) {
				rc = report_name(w, K_INFO, sub, de->d_name,
				    "not a qmail queue file name (qmail ignores it)");
				continue;
			}
			if (id % q->split != n) {
				lq_ultoa(id, ids);
				lq_err_set(&e, LQ_ECORRUPT, "%lu: %sinfo/%lu/%lu is in the wrong split"
				    " subdirectory (%lu %% %lu = %lu): qmail ignores it", id,
				    q->cur->prefix, n, id, id, q->split, id % q->split);
				rc = report_found(w, ids, id, &e);
				continue;
			}
			if ((q->want_todo || w->hold) && idset_has(&w->todo_ids, id) == 1)
				continue;	/* still being preprocessed: listed from todo/ */
			rc = take(w, id, 0);
		}
		w->in_info = 0;
		closedir(d);
		/* the next info/N has its own local/N and remote/N sets (and the hold area
		 * its own bounce/): every message loaded with these is handed over first */
		if (rc == 0 && w->pl != NULL)
			rc = lq_pipeline_finish(w->pl, w->err);
	}
	return rc;
}

/*
 * todo/ (big-todo: todo/0 .. todo/split-1) is read once, before info/: a message whose
 * todo/ID exists is still being preprocessed (qmail-send writes info/, local/ and remote/,
 * then removes todo/ID) and is listed from todo/, not from its half-written info/. One
 * readdir replaces a failing stat of todo/ID per message. A message that entered todo/ after
 * this read and was preprocessed before info/ is reached has an info/ file changed since:
 * load_info looks at todo/ID again for those (todo_since).
 */
static int
read_todo(struct walk *w)
{
	struct qmail *q = w->sp->priv;
	unsigned long nsub = q->bigtodo ? q->split : 1;
	struct dirent *de;
	char sub[24], entry[300];
	int rc = 0;

	w->todo_ids.n = 0;
	w->todo.n = w->todo.poollen = 0;
	for (unsigned long n = 0; rc == 0 && n < nsub; n++) {
		DIR *d;

		lq_ultoa(n, sub);
		use_area(q, w->hold);
		if (hold_lacks(w, K_TODO, q->bigtodo ? sub : NULL))
			continue;
		if ((d = open_sub(q, K_TODO, q->bigtodo ? sub : NULL, w->err)) == NULL)
			return -1;
		while (rc == 0 && (de = readdir(d)) != NULL) {
			unsigned long id;
			int k;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			k = snprintf(entry, sizeof entry, "%lu %s", n, de->d_name);
			if (k < 0 || (size_t)k >= sizeof entry || lq_names_add(&w->todo, entry, k) < 0) {
				rc = lq_err_set(w->err, LQ_ENOMEM, "out of memory");
				break;
			}
			if (!parse_id(de->d_name, &id) || (q->bigtodo && id % q->split != n))
				continue;
			if (idset_add(&w->todo_ids, id) < 0) {
				rc = lq_err_set(w->err, LQ_ENOMEM, "out of memory");
				break;
			}
		}
		closedir(d);
	}
	idset_done(&w->todo_ids);
	return rc;
}

/* The todo/ entries read_todo found, in its order. */
static int
walk_todo(struct walk *w)
{
	struct qmail *q = w->sp->priv;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < w->todo.n; i++) {
		const char *e = w->todo.pool + w->todo.off[i], *name = strchr(e, ' ') + 1;
		char sub[24];
		unsigned long id, n = strtoul(e, NULL, 10);

		lq_ultoa(n, sub);
		use_area(q, w->hold);
		if (!parse_id(name, &id)) {
			rc = report_name(w, K_TODO, q->bigtodo ? sub : NULL, name,
			    "not a qmail queue file name (qmail ignores it)");
			continue;
		}
		if (q->bigtodo && id % q->split != n) {
			struct lq_err err;
			char ids[24];

			lq_ultoa(id, ids);
			lq_err_set(&err, LQ_ECORRUPT, "%lu: %stodo/%lu/%lu is in the wrong split"
			    " subdirectory: qmail ignores it", id, q->cur->prefix, n, id);
			rc = report_found(w, ids, id, &err);
			continue;
		}
		rc = take(w, id, 1);
	}
	return rc;
}

/*
 * qmail-send's cleanup (cleanup_do in qmail-send.c): a mess/ file with neither info/ nor
 * todo/ whose last access (st_atime, as qmail-send tests it) is more than OSSIFIED seconds
 * old is removed, with its intd/, through qmail-clean. qmail-queue gives up after 24 hours
 * (its DEATH), so by then no qmail-queue is writing it.
 */
#define OSSIFIED 129600

/*
 * mess/N/ID without todo/ or info/ (intd: with intd/ID): a qmail-queue writing the message
 * (S2, or S3 while it writes the envelope), or one that died and left it for qmail-send's
 * cleanup. Not a message and not an error, like Exim's -D without -H: counted in
 * lq_scan.unfinished, and a notice once qmail-send's cleanup is due for it.
 */
static int
unfinished(struct walk *w, int dirfd, unsigned long id, int intd)
{
	struct qmail *q = w->sp->priv;
	unsigned long n = id % q->split;
	struct lq_err e;
	struct stat st;
	char ids[24];

	lq_ultoa(id, ids);
	if (fstatat(dirfd, ids, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT) {		/* finished, or qmail-queue cleaned up */
			w->sc->vanished++;
			return 0;
		}
		lq_err_sys(&e, "%lu: mess/%lu/%lu", id, n, id);
		return report(w, ids, 0, &e);
	}
	if (!S_ISREG(st.st_mode)) {
		lq_err_set(&e, LQ_ECORRUPT, "%lu: mess/%lu/%lu is not a regular file (and there is"
		    " no todo/ or info/): not listed", id, n, id);
		return report(w, ids, 0, &e);
	}
	w->sc->unfinished++;
	if (w->began <= st.st_atime + OSSIFIED)		/* qmail-send's own test */
		return 0;
	if (intd)
		lq_err_set(&e, LQ_NOTICE, "%lu: mess/%lu/%lu and intd/%lu without todo/, not read"
		    " for %lld hours: left by a qmail-queue that died; qmail-send will remove"
		    " them (not a message)", id, n, id, id,
		    (long long)(w->began - st.st_atime) / 3600);
	else
		lq_err_set(&e, LQ_NOTICE, "%lu: mess/%lu/%lu without todo/ or info/, not read for"
		    " %lld hours: left by a qmail-queue that died; qmail-send will remove it"
		    " (not a message)", id, n, id, (long long)(w->began - st.st_atime) / 3600);
	if (w->sc->problem)
		w->sc->problem(ids, &e, w->sc->arg);
	return 0;
}

/* What neither qmail-qread nor qmail-send lists: mess/ files with neither todo/ nor info/
 * (being written, or left by a qmail-queue that died: S2 mess only, S3 mess + intd; see
 * unfinished), and intd/ files without mess/. */
static int
walk_leftovers(struct walk *w)
{
	struct qmail *q = w->sp->priv;
	struct dirent *de;
	struct lq_err e;
	char sub[24], ids[24];
	int rc = 0;

	idset_done(&q->bad);
	for (unsigned long n = 0; rc == 0 && n < q->split; n++) {
		DIR *d;
		int fd;

		lq_ultoa(n, sub);
		if ((fd = dir_in(q, &q->queue, K_INFO, n, NULL)) < 0)
			w->info.known = 0;
		else if (idset_read(&w->info, fd) < 0)
			return lq_err_set(w->err, LQ_ENOMEM, "out of memory");
		if ((d = open_sub(q, K_MESS, sub, w->err)) == NULL)
			return -1;
		while (rc == 0 && (de = readdir(d)) != NULL) {
			unsigned long id;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (!parse_id(de->d_name, &id)) {
				rc = report_name(w, K_MESS, sub, de->d_name,
				    "not a qmail queue file name");
				continue;
			}
			if (was_bad(q, id))
				continue;	/* said already */
			lq_ultoa(id, ids);
			if (id % q->split != n) {
				lq_err_set(&e, LQ_ECORRUPT, "%lu: mess/%lu/%lu is in the wrong split"
				    " subdirectory (%lu %% %lu = %lu)", id, n, id, id, q->split,
				    id % q->split);
			} else if (idset_has(&w->info, id) == 1 || exists(q, K_TODO, id) ||
			    exists(q, K_INFO, id)) {
				/* a message (info/N read once: one look per mess/). todo/ before
				 * info/: qmail-send writes info/ before it removes todo/ */
				continue;
			} else if (partly_held(q, id)) {
				lq_err_set(&e, LQ_ECORRUPT, "%lu: mess/%lu/%lu: %s; not listed", id, n,
				    id, PARTLY);
			} else {
				rc = unfinished(w, dirfd(d), id, exists(q, K_INTD, id));
				continue;
			}
			w->sc->seen++;
			rc = report(w, ids, 0, &e);
		}
		closedir(d);
	}
	if (rc != 0 || q->queue.top[K_INTD] < 0)
		return rc;
	for (unsigned long n = 0; rc == 0 && n < (q->bigtodo ? q->split : 1); n++) {
		DIR *d;

		lq_ultoa(n, sub);
		if ((d = open_sub(q, K_INTD, q->bigtodo ? sub : NULL, w->err)) == NULL)
			return -1;
		while (rc == 0 && (de = readdir(d)) != NULL) {
			unsigned long id;

			if (!parse_id(de->d_name, &id) || was_bad(q, id) || exists(q, K_MESS, id) ||
			    exists(q, K_TODO, id))
				continue;
			lq_ultoa(id, ids);
			lq_err_set(&e, LQ_ECORRUPT, "%lu: intd/%lu without mess/ or todo/: a fragment"
			    " a dead qmail-queue left", id, id);
			w->sc->seen++;
			rc = report(w, ids, 0, &e);
		}
		closedir(d);
	}
	return rc;
}

/* The hold area: a mess file there without info/ or todo/ there is half of a message (its
 * other files are in the queue, or a held info/ was reported by its load already). */
static int
walk_hold_leftovers(struct walk *w)
{
	struct qmail *q = w->sp->priv;
	struct dirent *de;
	struct lq_err e;
	char sub[24], ids[24];
	int rc = 0;

	idset_done(&q->bad);
	for (unsigned long n = 0; rc == 0 && n < q->split; n++) {
		DIR *d;

		lq_ultoa(n, sub);
		use_area(q, 1);
		if (hold_lacks(w, K_MESS, sub))
			continue;
		if ((d = open_sub(q, K_MESS, sub, w->err)) == NULL)
			return -1;
		while (rc == 0 && (de = readdir(d)) != NULL) {
			unsigned long id;

			if (!parse_id(de->d_name, &id) || was_bad(q, id) || exists(q, K_INFO, id) ||
			    exists(q, K_TODO, id))
				continue;
			lq_ultoa(id, ids);
			if (id % q->split != n)
				lq_err_set(&e, LQ_ECORRUPT, "%lu: %smess/%lu/%lu is in the wrong split"
				    " subdirectory", id, HOLD "/", n, id);
			else
				lq_err_set(&e, LQ_ECORRUPT, "%lu: %smess/%lu/%lu without info/ or todo/"
				    " there: %s; not listed", id, HOLD "/", n, id, PARTLY);
			w->sc->seen++;
			rc = report(w, ids, 0, &e);
		}
		closedir(d);
	}
	return rc;
}

/* The split subdirectories the loading threads opened, closed. */
static void
close_scan_dirs(struct qmail *q)
{
	if (q->scan_dirs == NULL)
		return;
	for (size_t i = 0; i < 2 * NKIND * (size_t)q->split; i++)
		if (atomic_load(&q->scan_dirs[i]) >= 0)
			lq_sys_close(atomic_load(&q->scan_dirs[i]) & ~DIR_LATE);
	free(q->scan_dirs);
	q->scan_dirs = NULL;
	q->scan_dirs_started = 0;
}

/* The loading threads of a scan, and the split subdirectories they share (scan_dir); NULL
 * (the scan loads each message itself) with --jobs 1, or when the limit on open files has
 * no room for every subdirectory a load may need (4 kinds, 5 with big-todo, per split
 * and tree) beside them. */
static struct lq_pipeline *
start_loaders(struct lq_spool *sp, struct walk *w)
{
	struct qmail *q = sp->priv;
	size_t trees = q->want_hold && q->holdfd >= 0 ? 2 : 1;
	size_t dirs = (size_t)q->split * (q->bigtodo ? 5 : 4) * trees;
	size_t n = 2 * NKIND * (size_t)q->split;
	struct lq_pipeline *pl;

	if (sp->jobs <= 1 || lq_threads_fd_budget((unsigned)dirs) < dirs)
		return NULL;
	if ((q->scan_dirs = malloc(n * sizeof *q->scan_dirs)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		atomic_init(&q->scan_dirs[i], DIR_UNOPENED);
	/* all of them now, before any worker's descriptor table is copied (scan_dir) */
	for (size_t t = 0; t < trees; t++) {
		struct area *a = t == 0 ? &q->queue : &q->hold;

		for (int k = 0; k < NKIND; k++)
			for (unsigned long i = 0; is_split(q, k) && a->top[k] >= 0 && i < q->split;
			    i++)
				scan_dir(q, a, k, i, NULL);
	}
	q->scan_dirs_started = 1;
	if ((pl = lq_pipeline_start(sp, &qmail_pipeline, w)) == NULL)
		close_scan_dirs(q);
	return pl;
}

/* qmail-qread's order: info/0, info/1, ... each in directory order. Then what qmail-qread
 * does not show: todo/ (not preprocessed yet), then the leftovers are reported. Sorted and
 * unsorted scans both stream; a reverse scan collects the names first. */
static int
qmail_scan(struct lq_spool *sp, struct lq_scan *sc, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	struct lq_names names = { 0 };
	struct walk w = { .sp = sp, .sc = sc, .err = err };
	int rc = 0;

	if (split_ok(q, err) < 0)
		return -1;
	q->bad.n = 0;
	q->bad.known = 0;
	if ((sc->flags & LQ_SCAN_REVERSE) && !(sc->flags & LQ_SCAN_UNSORTED))
		w.names = &names;
	w.began = time(NULL);
	w.pl = start_loaders(sp, &w);
	use_area(q, 0);
	if (q->want_todo)
		rc = read_todo(&w);
	if (rc == 0 && q->want_queue)
		rc = walk_info(&w);
	if (rc == 0 && q->want_todo)
		rc = walk_todo(&w);
	if (rc == 0 && q->want_hold && q->hold_err.code != LQ_OK)
		rc = report_found(&w, HOLD, 0, &q->hold_err);
	else if (rc == 0 && q->want_hold && q->holdfd >= 0) {
		w.hold = 1;
		rc = read_todo(&w);
		if (rc == 0)
			rc = walk_info(&w);
		if (rc == 0)
			rc = walk_todo(&w);
		w.hold = 0;
	}
	for (size_t i = names.n; rc == 0 && i-- > 0;) {
		const char *s = names.pool + names.off[i];
		unsigned long id;

		w.hold = s[0] == 'I' || s[0] == 'T';
		if (parse_id(s + 1, &id))
			rc = scan_next(&w, id, s[0] == 't' || s[0] == 'T');
	}
	/* every message handed over before the leftovers, which skip those reported */
	if (rc == 0 && w.pl != NULL)
		rc = lq_pipeline_finish(w.pl, err);
	w.hold = 0;
	lq_names_free(&names);
	if (rc == 0 && sp->queue == NULL) {
		use_area(q, 0);
		rc = walk_leftovers(&w);
		if (rc == 0 && q->holdfd >= 0 && q->hold_err.code == LQ_OK)
			rc = walk_hold_leftovers(&w);
	}
	/* the threads are joined before the sets and directories they read go */
	lq_pipeline_stop(w.pl);
	close_scan_dirs(q);
	use_area(q, 0);
	lq_names_free(&w.todo);
	idset_free(&w.todo_ids);
	idset_free(&w.local);
	idset_free(&w.remote);
	idset_free(&w.bounce);
	idset_free(&w.info);
	return rc;
}

/* ---------------------------------------------------------------- content */

static int
open_mess(struct lq_spool *sp, const struct qmail_msg *qm, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	char name[24];
	int dfd, fd;

	use_area(q, qm->hold);
	if ((dfd = dir_of(q, K_MESS, qm->id, err)) < 0)
		return dir_err(err, qm->id);
	lq_ultoa(qm->id, name);
	if ((fd = lq_open_file(dfd, name, NULL, err)) < 0)
		return file_err(err, q, K_MESS, qm->id);
	return fd;
}

/* Hand over the headers in hbuf[0, end): a header is a line and its continuation lines. */
static int
emit_headers(const char *p, size_t end, lq_part_fn fn, void *arg)
{
	size_t i = 0, start;
	int rc = 0;

	while (rc == 0 && i < end) {
		start = i;
		do {
			const char *nl = memchr(p + i, '\n', end - i);

			i = nl ? (size_t)(nl - p) + 1 : end;
		} while (i < end && (p[i] == ' ' || p[i] == '\t'));
		rc = fn(LQ_PART_HEADER, p + start, i - start, 0, arg);
	}
	return rc;
}

/* mess/N/ID: qmail-queue's Received line and the message as given, never converted. The
 * header section ends at the first empty line ("\n", or "\r\n" in a CRLF message). */
static int
qmail_read(struct lq_spool *sp, struct lq_msg *m, unsigned parts, lq_part_fn fn, void *arg,
    struct lq_err *err)
{
	struct qmail *q = sp->priv;
	struct qmail_msg *qm = m->priv;
	struct lq_buf *h = &q->hbuf;
	size_t ls = 0, hend = 0, bstart = 0;
	int fd, rc = 0, found = 0, eof = 0;
	ssize_t n;

	if ((fd = open_mess(sp, qm, err)) < 0)
		return -1;
	h->len = 0;
	if (lq_buf_reserve(h, 65536) < 0) {
		lq_sys_close(fd);
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	}
	while (!found) {
		const char *nl;

		while ((nl = memchr(h->data + ls, '\n', h->len - ls)) != NULL) {
			size_t ll = nl - (h->data + ls) + 1;

			if (ll == 1 || (ll == 2 && h->data[ls] == '\r')) {
				hend = ls;
				bstart = ls + ll;
				found = 1;
				break;
			}
			ls += ll;
		}
		if (found)
			break;
		if (eof) {		/* no empty line: all of it is headers */
			hend = bstart = h->len;
			break;
		}
		if (h->len >= HDR_MAX) {
			lq_sys_close(fd);
			return lq_err_set(err, LQ_ELIMIT, "%s: %smess/%lu/%s: a header section larger"
			    " than %u bytes", m->id, q->cur->prefix, qm->id % q->split, m->id, HDR_MAX);
		}
		if (lq_buf_reserve(h, 65536) < 0) {
			lq_sys_close(fd);
			return lq_err_set(err, LQ_ENOMEM, "out of memory");
		}
		n = lq_sys_read(fd, h->data + h->len, 65536);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = lq_err_sys(err, "%s: %smess/%lu/%s", m->id, q->cur->prefix,
			    qm->id % q->split, m->id);
			lq_sys_close(fd);
			return rc;
		}
		eof = n == 0;
		h->len += n;
	}
	if (parts & LQ_PART_HEADER)
		rc = emit_headers(h->data, hend, fn, arg);
	if (rc == 0 && (parts & LQ_PART_BODY)) {
		char buf[65536];

		if (bstart < h->len)
			rc = fn(LQ_PART_BODY, h->data + bstart, h->len - bstart, 0, arg);
		while (rc == 0 && !eof && (n = lq_sys_read(fd, buf, sizeof buf)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				rc = lq_err_sys(err, "%s: %smess/%lu/%s", m->id, q->cur->prefix,
				    qm->id % q->split, m->id);
				break;
			}
			rc = fn(LQ_PART_BODY, buf, n, 0, arg);
		}
	}
	lq_sys_close(fd);
	return rc;
}

/* Bytes outside printable ASCII, and backslash, as \xNN. */
static void
put_escaped(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c >= 32 && c <= 126 && c != '\\')
			putc(c, out);
		else
			fprintf(out, "\\x%02x", c);
	}
}

/* "kind: record" for each NUL-terminated record of q->buf */
static void
put_records(FILE *out, const struct lq_buf *b, const char *kind)
{
	for (size_t i = 0; i < b->len;) {
		const char *r = b->data + i;
		size_t n = strnlen(r, b->len - i);

		fprintf(out, "%s: ", kind);
		put_escaped(out, r, n);
		putc('\n', out);
		i += n + 1;
	}
}

/* The envelope files, one record (or bounce line) per line, prefixed by the file's kind:
 * todo: for a message not preprocessed, else info:, local:, remote:, bounce:. */
static int
qmail_write_envelope(struct lq_spool *sp, struct lq_msg *m, FILE *out, struct lq_err *err)
{
	static const enum kind order[] = { K_INFO, K_LOCAL, K_REMOTE, K_BOUNCE };
	struct qmail *q = sp->priv;
	struct qmail_msg *qm = m->priv;
	struct reader r;

	use_area(q, qm->hold);
	r = spool_reader(sp);
	if (qm->todo) {
		if (read_env(&r, K_TODO, qm->id, ENV_MAX, NULL, err) < 0)
			return -1;
		put_records(out, &q->buf, "todo");
		return ferror(out) ? lq_err_sys(err, "stdout") : 0;
	}
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		enum kind k = order[i];
		struct lq_err e;

		if (q->cur->top[k] < 0)
			continue;
		if (read_env(&r, k, qm->id, k == K_BOUNCE ? BOUNCE_MAX : ENV_MAX, NULL, &e) < 0) {
			if (e.code == LQ_ENOENT && k != K_INFO)
				continue;
			if (err != NULL)
				*err = e;
			return -1;
		}
		if (k != K_BOUNCE) {
			put_records(out, &q->buf, kind_name[k]);
			continue;
		}
		for (size_t j = 0; j < q->buf.len;) {
			const char *l = q->buf.data + j, *nl = memchr(l, '\n', q->buf.len - j);
			size_t n = nl ? (size_t)(nl - l) : q->buf.len - j;

			fputs(n ? "bounce: " : "bounce:", out);
			put_escaped(out, l, n);
			putc('\n', out);
			j += n + 1;
		}
	}
	return ferror(out) ? lq_err_sys(err, "stdout") : 0;
}

/* ---------------------------------------------------------------- qmail-qread */

/* qmail-qread prints every byte outside 32..126 as '_' */
static void
put_qread(FILE *out, const char *s)
{
	for (; *s != '\0'; s++)
		putc_unlocked(*s >= 32 && *s <= 126 ? *s : '_', out);
}

static void
put_long(FILE *out, long long v)
{
	char num[LQ_ULONG_LEN];

	if (v < 0)
		putc_unlocked('-', out);
	fputs_unlocked(lq_ultoa(v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v, num), out);
}

/* %02d of 0 to 99 */
static void
put_2digits(FILE *out, int v)
{
	putc_unlocked('0' + v / 10 % 10, out);
	putc_unlocked('0' + v % 10, out);
}

/* "22 Nov 2026 18:29:00 GMT  #ID  SIZE  <sender> [ bouncing]", then "\tlocal\taddr" or
 * "  done\tremote\taddr" per recipient. A message still in todo/ (qmail-qread does not
 * show those) is marked " todo", its recipients "\ttodo\taddr", its date the todo file's.
 * A held message (qmail-qread does not see those either) is marked " hold" at the end. */
static int
qmail_write_listing(FILE *out, const struct lq_msg *m, unsigned flags, time_t now)
{
	static const char mon[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	const struct qmail_msg *qm = m->priv;
	int todo = (m->flags & LQ_MSG_UNPROCESSED) != 0 || (qm != NULL && qm->todo);
	struct tm tm;

	(void)now;
	if (gmtime_r(&m->arrival, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	/* "%d %s %d %02d:%02d:%02d GMT  #%s  %lld  <", without printf's cost per message */
	put_long(out, tm.tm_mday);
	putc_unlocked(' ', out);
	fputs_unlocked(mon[tm.tm_mon], out);
	putc_unlocked(' ', out);
	put_long(out, tm.tm_year + 1900L);
	putc_unlocked(' ', out);
	put_2digits(out, tm.tm_hour);
	putc_unlocked(':', out);
	put_2digits(out, tm.tm_min);
	putc_unlocked(':', out);
	put_2digits(out, tm.tm_sec);
	fputs_unlocked(" GMT  #", out);
	fputs_unlocked(m->id, out);
	fputs_unlocked("  ", out);
	put_long(out, m->size);
	fputs_unlocked("  <", out);
	put_qread(out, m->sender);
	fputs_unlocked("> ", out);
	if (m->flags & LQ_MSG_BOUNCING)
		fputs_unlocked(" bouncing", out);
	if (todo)
		fputs_unlocked(" todo", out);
	if (m->flags & LQ_MSG_FROZEN)
		fputs_unlocked(" hold", out);
	putc_unlocked('\n', out);
	for (size_t i = 0; i < m->nrcpt; i++) {
		const struct lq_rcpt *r = &m->rcpt[i];

		if ((r->flags & LQ_RCPT_DONE) && (flags & LQ_LIST_UNDELIVERED))
			continue;
		if (r->flags & LQ_RCPT_DONE)
			fputs_unlocked("  done", out);
		fputs_unlocked(todo ? "\ttodo\t" : (r->flags & LQ_RCPT_LOCAL) ? "\tlocal\t" : "\tremote\t",
		    out);
		put_qread(out, r->address);
		putc_unlocked('\n', out);
	}
	return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------- qmail-qstat */

/* find DIR -type f | wc -l: regular files below dirfd, symlinks not followed. */
static int
count_files(int dirfd, const char *what, int top, int depth, unsigned long *count,
    struct lq_err *err)
{
	struct dirent *de;
	int fd, rc = 0;
	DIR *d;

	if (depth > STAT_DEPTH)
		return lq_err_set(err, LQ_ELIMIT, "%s: more than %d directories deep", what,
		    STAT_DEPTH);
	if ((fd = dup(dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			lq_sys_close(fd);
		return lq_err_sys(err, "%s", what);
	}
	rewinddir(d);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		unsigned char type = de->d_type;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (top && de->d_name[0] == '.')
			continue;	/* the shell's mess/ glob skips dot files */
		if (type == DT_UNKNOWN) {
			if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : DT_LNK;
		}
		if (type == DT_REG)
			(*count)++;
		else if (type == DT_DIR) {
			int sub = lq_open_dir(dirfd, de->d_name, NULL);

			if (sub >= 0) {
				rc = count_files(sub, what, 0, depth + 1, count, err);
				lq_sys_close(sub);
			}
		}
	}
	closedir(d);
	return rc;
}

/* notqmail's qmail-qstat: every file under mess/ (crash leftovers too), every file under
 * todo/. It reads no envelope, so it works whatever the split. */
static int
qmail_write_stat(FILE *out, struct lq_spool *sp, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	unsigned long mess = 0, todo = 0;

	if (count_files(q->queue.top[K_MESS], "mess/", 1, 0, &mess, err) < 0 ||
	    count_files(q->queue.top[K_TODO], "todo/", 0, 0, &todo, err) < 0)
		return -1;
	fprintf(out, "messages in queue: %lu\nmessages in queue but not yet preprocessed: %lu\n",
	    mess, todo);
	return ferror(out) ? lq_err_sys(err, "stdout") : 0;
}

/* ---------------------------------------------------------------- acting */

/*
 * Whether qmail-send runs decides how a message can be changed (libqueue/README, "qmail",
 * acting). qmail-send holds flock(LOCK_EX) on lock/sendmutex for its whole life. We try the
 * same lock on a read-only descriptor, never waiting, and let go of it at once: holding it
 * would keep qmail-send from starting, and another qtools process testing at that moment
 * would take us for qmail-send. Returns 1 running, 0 stopped (no lock/sendmutex at all:
 * qmail-send cannot start without it), -1 with err. st: the lock file, for /proc/locks.
 */
static int
send_state(struct lq_spool *sp, const char *who, struct stat *st, struct lq_err *err)
{
	struct lq_err e;
	struct stat sb;
	int dfd, fd, saved;

	if (st == NULL)
		st = &sb;
	if ((dfd = lq_open_dir(sp->dirfd, "lock", &e)) < 0) {
		if (e.code == LQ_ENOENT)
			return 0;
		return lq_err_set(err, e.code, "%s%s/%s", who, sp->dir, e.msg);
	}
	fd = lq_sys_openat(dfd, "sendmutex",
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	saved = errno;
	lq_sys_close(dfd);
	if (fd < 0) {
		if (saved == ENOENT)
			return 0;
		if (saved == ELOOP)
			return lq_err_set(err, LQ_ECORRUPT, "%s%s/lock/sendmutex: is a symbolic link",
			    who, sp->dir);
		errno = saved;
		return lq_err_sys(err, "%s%s/lock/sendmutex", who, sp->dir);
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		lq_sys_close(fd);
		return lq_err_set(err, LQ_ECORRUPT, "%s%s/lock/sendmutex: not a regular file", who,
		    sp->dir);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		lq_sys_close(fd);		/* releases it */
		return 0;
	}
	saved = errno;
	lq_sys_close(fd);
	if (saved == EWOULDBLOCK)
		return 1;
	errno = saved;
	return lq_err_sys(err, "%s%s/lock/sendmutex: flock", who, sp->dir);
}

/* The PID holding the flock on st (lock/sendmutex), and its name; -1 when there is none. */
static long
sendmutex_holder(const struct stat *st, char comm[32])
{
	struct lq_locks l = { 0 };
	long pid = -1;

	if (lq_locks_load(&l, LQ_LOCK_FLOCK, NULL) == 0 && (pid = lq_locks_holder(&l, st)) == 0)
		pid = -1;
	lq_locks_free(&l);
	lq_proc_comm(pid, comm);
	return pid;
}

/* qmail has no message to run: an ALRM makes qmail-send retry every message now (pqrun), so
 * the IDs, when given, are all taken by one command. Only qmail-send itself is signalled:
 * the holder of lock/sendmutex, and its name must be qmail-send. */
static int
qmail_run_argv(struct lq_spool *sp, const char *path, const char *const *ids, size_t n,
    const char **argv, size_t max, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	char comm[32];
	struct stat st;
	long pid;
	int running;

	(void)ids;
	if (max < 4)
		return lq_err_set(err, LQ_EUSAGE, "argument vector too small");
	if ((running = send_state(sp, "", &st, err)) < 0)
		return -1;
	if (!running)
		return lq_err_set(err, LQ_EUSAGE, "%s: qmail-send is not running (nobody holds"
		    " lock/sendmutex): nothing to wake; it tries the queue when it starts (e.g."
		    " svc -u /service/qmail-send)", sp->dir);
	if ((pid = sendmutex_holder(&st, comm)) < 0)
		return lq_err_set(err, LQ_ESYS, "%s: lock/sendmutex is held, but /proc/locks does"
		    " not say by whom: send qmail-send ALRM yourself (svc -a /service/qmail-send)",
		    sp->dir);
	if (strcmp(comm, "qmail-send") != 0)
		return lq_err_set(err, LQ_ESYS, "%s: lock/sendmutex is held by PID %ld (%s), which"
		    " is not qmail-send: no signal sent", sp->dir, pid, comm[0] ? comm : "?");
	snprintf(q->pid, sizeof q->pid, "%ld", pid);
	argv[0] = path != NULL ? path : "/bin/kill";
	argv[1] = "-ALRM";
	argv[2] = q->pid;
	argv[3] = NULL;
	return (int)n;
}

/* A directory made (0700, owned like the queue) if missing, and opened; never a symlink. */
static int
mkdir_open(int parent, const char *name, const struct stat *owner, const char *what,
    struct lq_err *err)
{
	int made, fd;

	made = mkdirat(parent, name, 0700) == 0;
	if (!made && errno != EEXIST)
		return lq_err_sys(err, "%s", what);
	if ((fd = lq_open_dir(parent, name, err)) < 0) {
		if (err != NULL)
			lq_err_set(err, err->code, "%s: %s", what, err->code == LQ_ECORRUPT ?
			    "not a directory" : "cannot be opened");
		return -1;
	}
	if (made && owner != NULL && ((fchown(fd, owner->st_uid, owner->st_gid) < 0 &&
	    geteuid() == 0) || fchmod(fd, 0700) < 0)) {
		lq_err_sys(err, "%s", what);
		lq_sys_close(fd);
		return -1;
	}
	return fd;
}

/* The hold area's directory for kind k's file of id, made when missing. */
static int
hold_dir(struct lq_spool *sp, struct qmail *q, enum kind k, unsigned long id,
    struct lq_err *err)
{
	char what[PATH_MAX_LEN + 512], sub[24];
	struct stat owner;
	int fd;

	if (fstat(sp->dirfd, &owner) < 0)
		return lq_err_sys(err, "%lu: %s", id, sp->dir);
	if (q->holdfd < 0) {
		snprintf(what, sizeof what, "%lu: %s/%s", id, sp->dir, HOLD);
		if ((q->holdfd = mkdir_open(sp->dirfd, HOLD, &owner, what, err)) < 0)
			return -1;
	}
	if (q->hold.top[k] < 0) {
		snprintf(what, sizeof what, "%lu: %s/%s/%s", id, sp->dir, HOLD, kind_name[k]);
		if ((q->hold.top[k] = mkdir_open(q->holdfd, kind_name[k], &owner, what, err)) < 0)
			return -1;
	}
	if (!is_split(q, k) || (fd = dir_in(q, &q->hold, k, id, NULL)) >= 0)
		return is_split(q, k) ? fd : q->hold.top[k];
	lq_ultoa(id % q->split, sub);
	snprintf(what, sizeof what, "%lu: %s/%s/%s/%s", id, sp->dir, HOLD, kind_name[k], sub);
	if ((fd = mkdir_open(q->hold.top[k], sub, &owner, what, err)) < 0)
		return -1;
	lq_sys_close(fd);
	if ((fd = dir_in(q, &q->hold, k, id, err)) < 0)
		return dir_err(err, id);
	return fd;
}

/* ---- --save: the message's files copied into DIR as a qmail queue (qcat --spool DIR ID) */

/* lock/, every kind's directory and its split subdirectories 0 .. split-1 (the reader
 * counts them), and the message's files at their places. */
static int
qmail_act_save(struct lq_spool *sp, void *held, struct lq_saver *sv, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	struct qmail_held *h = held;
	const struct qmail_msg *qm = h->qm;
	struct area *a = qm->hold ? &q->hold : &q->queue;
	char name[24], rel[PATH_MAX_LEN + 24];
	int dfd, in, rc = 0;
	struct lq_err e;
	struct stat st;

	if (lq_save_dir(sv, "lock", err) < 0)
		return -1;
	lq_ultoa(qm->id, name);
	for (int k = 0; rc == 0 && k < NKIND; k++) {
		if (lq_save_dir(sv, kind_name[k], err) < 0)
			return -1;
		for (unsigned long n = 0; is_split(q, k) && n < q->split; n++) {
			snprintf(rel, sizeof rel, "%s/%lu", kind_name[k], n);
			if (lq_save_dir(sv, rel, err) < 0)
				return -1;
		}
		if ((dfd = dir_in(q, a, k, qm->id, NULL)) < 0)
			continue;
		if ((in = lq_open_file(dfd, name, &st, &e)) < 0) {
			if (e.code != LQ_ENOENT) {
				*err = e;
				rc = file_err(err, q, k, qm->id);
			}
			continue;
		}
		rc = lq_save_file(sv, path_in(q, &q->queue, k, qm->id, rel), in, &st, err);
		lq_sys_close(in);
	}
	return rc;
}

/* ---- removing */

/*
 * What qmail-send reads first goes first and mess last: qmail's own order for a finished
 * message (channel files, bounce, info; then qmail-clean: intd, mess). Every step leaves a
 * state of INTERNALS' table, whoever looks in between: S5 -> S5 without bounce or channel
 * files (qmail-send would finish it) -> S2 (mess alone: cleaned after 36 hours) -> nothing;
 * S4 -> S4 without the stale preprocessing files -> S3 -> S2 -> nothing. mess goes last also
 * because its inode is the ID: while it exists no new message can get this ID.
 */
static const enum kind remove_order[] = {
	K_BOUNCE, K_LOCAL, K_REMOTE, K_INFO, K_TODO, K_INTD, K_MESS
};

static int
unlink_message(struct qmail *q, const struct qmail_msg *qm, struct lq_err *err)
{
	struct area *a = qm->hold ? &q->hold : &q->queue;
	char name[24], path[PATH_MAX_LEN];
	int dfd;

	lq_ultoa(qm->id, name);
	for (size_t i = 0; i < sizeof remove_order / sizeof remove_order[0]; i++) {
		enum kind k = remove_order[i];

		if ((dfd = dir_in(q, a, k, qm->id, NULL)) < 0)
			continue;	/* no such directory: no such file */
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return lq_err_sys(err, "%lu: removing %s", qm->id,
			    path_in(q, a, k, qm->id, path));
	}
	return 0;
}

/* Is info/ID still the file read when the message was loaded? (Not finished meanwhile, and
 * its ID given to a new message.) */
static int
same_info(struct qmail *q, const struct qmail_msg *qm)
{
	char name[24];
	struct stat st;
	int dfd = dir_in(q, q->cur, K_INFO, qm->id, NULL);

	lq_ultoa(qm->id, name);
	return dfd >= 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == qm->st.st_dev && st.st_ino == qm->st.st_ino &&
	    st.st_mtim.tv_sec == qm->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == qm->st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == qm->st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == qm->st.st_ctim.tv_nsec;
}

/*
 * T to D in local/ and remote/: by a one-byte write at the record's offset (qmail-send's own
 * markdone), then fsync; safe while qmail-send runs, which reads the records again at its
 * next pass over the message. qrm (every record, bounce/ID removed first, so that the sender
 * is not told about earlier failures, as when removing with qmail-send stopped, and as exim
 * -Mrm): qmail-send finishes the message at its next pass (an ALRM: lq_act_needs_run), as if
 * every recipient were delivered. qedit --mark-delivered: only the records of those
 * addresses (only NULL: all of them), bounce/ID kept. Both files are read and checked before
 * any byte is written. In the hold area as in the queue: qmail-send finds the records so
 * when the message is released.
 */
/* Is a one of the n addresses of v (v NULL: any address)? */
static int
is_one_of(const char *a, const char *const *v, size_t n)
{
	if (v == NULL)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a, v[i]) == 0)
			return 1;
	return 0;
}

static int
mark_done(struct lq_spool *sp, const struct qmail_msg *qm, const char *const *only,
    size_t nonly, int drop_bounce, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	static const enum kind chan[2] = { K_LOCAL, K_REMOTE };
	struct lq_buf b[2] = { { 0 }, { 0 } };
	char name[24], path[PATH_MAX_LEN], what[PATH_MAX_LEN + 24];
	int fd[2] = { -1, -1 }, dfd, rc = -1;
	struct stat st;

	use_area(q, qm->hold);
	lq_ultoa(qm->id, name);
	for (int i = 0; i < 2; i++) {
		path_of(q, chan[i], qm->id, path);
		if ((dfd = dir_of(q, chan[i], qm->id, NULL)) < 0)
			continue;
		fd[i] = lq_sys_openat(dfd, name,
		    O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd[i] < 0) {
			if (errno == ENOENT)
				continue;	/* none on this channel, or all done already */
			if (errno == ELOOP)
				corrupt(err, q, chan[i], qm->id, "is a symbolic link");
			else
				lq_err_sys(err, "%lu: %s", qm->id, path);
			goto out;
		}
		if (fstat(fd[i], &st) < 0 || !S_ISREG(st.st_mode)) {
			corrupt(err, q, chan[i], qm->id, "not a regular file");
			goto out;
		}
		snprintf(what, sizeof what, "%lu: %s", qm->id, path);
		if (lq_read_fd(fd[i], what, ENV_MAX, &b[i], err) < 0)
			goto out;
		if (count_records(&b[i]) < 0) {
			corrupt(err, q, chan[i], qm->id, "the last recipient has no NUL terminator");
			goto out;
		}
		for (size_t at = 0; at < b[i].len; at += strlen(b[i].data + at) + 1)
			if (b[i].data[at] != 'T' && b[i].data[at] != 'D') {
				corrupt(err, q, chan[i], qm->id, "a record is neither T nor D");
				goto out;
			}
	}
	if (!same_info(q, qm) || exists(q, K_TODO, qm->id)) {
		lq_err_set(err, LQ_ENOMATCH, "%lu: changed meanwhile (finished, and the ID given to"
		    " a new message?): left alone", qm->id);
		goto out;
	}
	if (drop_bounce && (dfd = dir_of(q, K_BOUNCE, qm->id, NULL)) >= 0 &&
	    unlinkat(dfd, name, 0) < 0 && errno != ENOENT) {
		lq_err_sys(err, "%lu: removing %s", qm->id, path_of(q, K_BOUNCE, qm->id, path));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		if (fd[i] < 0)
			continue;
		for (size_t at = 0; at < b[i].len; at += strlen(b[i].data + at) + 1)
			if (b[i].data[at] == 'T' && is_one_of(b[i].data + at + 1, only, nonly) &&
			    pwrite(fd[i], "D", 1, at) != 1) {
				lq_err_sys(err, "%lu: marking a recipient done in %s", qm->id,
				    path_of(q, chan[i], qm->id, path));
				goto out;
			}
		if (fsync(fd[i]) < 0) {
			lq_err_sys(err, "%lu: %s", qm->id, path_of(q, chan[i], qm->id, path));
			goto out;
		}
	}
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (fd[i] >= 0)
			lq_sys_close(fd[i]);
		lq_buf_free(&b[i]);
	}
	return rc;
}

/* ---- hold */

/*
 * qfreeze renames every file of the message into the hold area, info/ (todo/) first: the
 * message is out of qmail's sight at once, and what is left for a moment are files qmail-send
 * ignores (a qmail-send started meanwhile never sees the message). For a message in todo/,
 * stale info/ goes before todo/, so that it never looks preprocessed. qfreeze -u renames them
 * back the other way round: info/ (todo/) last, once everything else is in place. A rename
 * keeps the inode: mess/'s inode is the ID, kept while on hold. Never over an existing file.
 */
static const enum kind freeze_order[] = {
	K_INFO, K_TODO, K_LOCAL, K_REMOTE, K_BOUNCE, K_INTD, K_MESS
};
#define NORDER (sizeof freeze_order / sizeof freeze_order[0])

static int
move_message(struct lq_spool *sp, const struct qmail_msg *qm, int freeze, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	struct area *from = freeze ? &q->queue : &q->hold, *to = freeze ? &q->hold : &q->queue;
	char name[24], path[PATH_MAX_LEN];
	enum kind moved[NORDER];
	size_t nmoved = 0;
	struct stat st;
	int sdir, ddir;

	lq_ultoa(qm->id, name);
	for (size_t i = 0; i < NORDER; i++) {
		enum kind k = freeze_order[freeze ? i : NORDER - 1 - i];

		if ((sdir = dir_in(q, from, k, qm->id, NULL)) < 0)
			continue;
		if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			lq_err_sys(err, "%lu: %s", qm->id, path_in(q, from, k, qm->id, path));
			goto undo;
		}
		if (!S_ISREG(st.st_mode)) {
			lq_err_set(err, LQ_ECORRUPT, "%lu: %s: not a regular file: left alone", qm->id,
			    path_in(q, from, k, qm->id, path));
			goto undo;
		}
		ddir = freeze ? hold_dir(sp, q, k, qm->id, err) : dir_in(q, to, k, qm->id, err);
		if (ddir < 0) {
			if (!freeze)
				dir_err(err, qm->id);
			goto undo;
		}
		if (renameat2(sdir, name, ddir, name, RENAME_NOREPLACE) < 0) {
			if (errno == EEXIST)
				lq_err_set(err, LQ_ECORRUPT, "%lu: %s exists already: left alone", qm->id,
				    path_in(q, to, k, qm->id, path));
			else
				lq_err_sys(err, "%lu: moving %s", qm->id,
				    path_in(q, from, k, qm->id, path));
			goto undo;
		}
		moved[nmoved++] = k;
	}
	for (size_t i = 0; i < nmoved; i++) {
		fsync(dir_in(q, to, moved[i], qm->id, NULL));
		fsync(dir_in(q, from, moved[i], qm->id, NULL));
	}
	return 0;
undo:	/* put back what was moved, last first: the message is where it was */
	while (nmoved-- > 0) {
		enum kind k = moved[nmoved];

		renameat2(dir_in(q, to, k, qm->id, NULL), name, dir_in(q, from, k, qm->id, NULL),
		    name, RENAME_NOREPLACE);
	}
	return -1;
}

/* What only a stopped qmail-send allows: it keeps the queue in memory. */
static int
needs_send_stopped(enum lq_action act)
{
	return act == LQ_ACT_FREEZE || act == LQ_ACT_THAW || act == LQ_ACT_SET_SENDER ||
	    act == LQ_ACT_ADD_RECIPIENT;
}

static int
refuse_running(struct lq_err *err, const char *who, enum lq_action act)
{
	return lq_err_set(err, LQ_EUSAGE, "%sqmail-send is running (it holds lock/sendmutex),"
	    " and %s: stop it first (svc -d /service/qmail-send, or your init system's stop),"
	    " then %s, then start it; nothing done", who,
	    act == LQ_ACT_FREEZE || act == LQ_ACT_THAW ? "qmail has no hold it would respect" :
	    "it keeps the message's envelope in memory", act == LQ_ACT_FREEZE ? "qfreeze" :
	    act == LQ_ACT_THAW ? "qfreeze -u" : act == LQ_ACT_SET_SENDER ? "qedit --set-sender" :
	    "qedit --add-recipient");
}

/*
 * qmail has no lock of a message: whether qmail-send runs (it holds lock/sendmutex) decides
 * what may be done, and is asked first.
 */
static int
qmail_act_lock(struct lq_spool *sp, const char *idstr, enum lq_action act, void **heldp,
    struct lq_err *err)
{
	struct qmail *q = sp->priv;
	struct qmail_held *h = &q->held;
	char who[32];

	*heldp = h;
	h->qm = NULL;
	if (split_ok(q, err) < 0)
		return -1;
	if (!parse_id(idstr, &h->id))
		return lq_err_set(err, LQ_EBADID, "%s: not a valid qmail queue ID", idstr);
	open_hold(sp, q);	/* another qfreeze may have made it since the spool was opened */
	if (q->hold_err.code != LQ_OK)
		return lq_err_set(err, LQ_ECORRUPT, "%lu: %s", h->id, q->hold_err.msg);
	snprintf(who, sizeof who, "%lu: ", h->id);
	if ((h->running = send_state(sp, who, NULL, err)) < 0)
		return -1;
	if (h->running && needs_send_stopped(act))
		return refuse_running(err, who, act);
	return 0;
}

static int
qmail_act_reload(struct lq_spool *sp, void *held, struct lq_msg *m, struct lq_err *err)
{
	struct qmail_held *h = held;
	struct lq_msg *mp = m;

	if (load_any(sp, h->id, &mp, err) < 0) {
		if (err != NULL && err->code == LQ_ENOENT && sp->queue == NULL)
			diagnose(sp, h->id, err);
		return -1;
	}
	h->qm = mp->priv;
	return 0;
}

static int
qmail_act_refuse(struct lq_spool *sp, void *held, const struct lq_msg *m, enum lq_action act,
    struct lq_err *err)
{
	struct qmail_held *h = held;
	const struct qmail_msg *qm = h->qm;
	size_t pending = 0;

	if (act != LQ_ACT_REMOVE && act != LQ_ACT_FREEZE && act != LQ_ACT_THAW) {
		if (qm->todo)
			return lq_err_set(err, LQ_ELOCKED, "%lu: not preprocessed yet (still in "
			    "todo/): its envelope is changed once qmail-send has sorted it into info/, "
			    "local/ and remote/: skipped, try again then", h->id);
		return 0;
	}
	if (act != LQ_ACT_REMOVE) {
		if (qm->hold == (act == LQ_ACT_FREEZE))
			return lq_err_set(err, LQ_EALREADY, "%lu: %s: left alone", h->id, qm->hold ?
			    "already on hold" : "not on hold");
		return 0;
	}
	if (!h->running || qm->hold)
		return 0;
	if (qm->todo)
		return lq_err_set(err, LQ_ELOCKED, "%lu: not preprocessed yet (still in todo/): it"
		    " belongs to qmail-send until then: skipped, try again in a moment", h->id);
	/* every recipient marked done (by an earlier qrm, or delivered) and no bounce to send:
	 * qmail-send finishes it at its next pass; marking it again would only wake qmail-send
	 * again. A message still bouncing is not done with: removing it removes bounce/ID, so
	 * that the sender is not told (mark_done) */
	for (size_t i = 0; i < m->nrcpt; i++)
		pending += !(m->rcpt[i].flags & LQ_RCPT_DONE);
	if (pending == 0 && !(m->flags & LQ_MSG_BOUNCING))
		return lq_err_set(err, LQ_EALREADY, "%lu: already removed, waiting for qmail-send"
		    " (no recipient left to deliver; it finishes the message at its next pass)",
		    h->id);
	return 0;
}

/* ---------------------------------------------------------------- qedit, qmail-send stopped */

/*
 * Replace kind k's file of the message with data: written to ID.qtools in the same directory
 * (a name qmail-send's readsubdir skips, and our scan reports should a crash leave it),
 * owner, group and mode of like, fsync'ed, times kept when like is the old file (info/'s
 * mtime is the arrival; a channel file's is its next retry), renamed over the old one.
 */
static int
replace_file(struct qmail *q, enum kind k, unsigned long id, const struct lq_buf *data,
    const struct stat *like, int keep_times, struct lq_err *err)
{
	char name[24], tmp[40], what[PATH_MAX_LEN + 24], path[PATH_MAX_LEN];
	int dfd;

	if ((dfd = dir_of(q, k, id, err)) < 0)
		return -1;
	lq_ultoa(id, name);
	snprintf(tmp, sizeof tmp, "%lu.qtools", id);
	snprintf(what, sizeof what, "%lu: %s", id, path_of(q, k, id, path));
	return lq_replace_file(dfd, tmp, name, data, like, like->st_mode & 07777, keep_times,
	    what, err);
}

/* qedit --set-sender: info/N/ID is one record, F and the sender. */
static int
rewrite_sender(struct qmail *q, const struct qmail_msg *qm, const char *sender, struct lq_err *err)
{
	struct lq_buf b = { 0 };
	int rc;

	use_area(q, qm->hold);
	if (!same_info(q, qm))
		return lq_err_set(err, LQ_ENOMATCH, "%lu: changed meanwhile: left alone", qm->id);
	if (lq_buf_append(&b, "F", 1) < 0 || lq_buf_append(&b, sender, strlen(sender) + 1) < 0)
		rc = lq_err_set(err, LQ_ENOMEM, "out of memory");
	else
		rc = replace_file(q, K_INFO, qm->id, &b, &qm->st, 1, err);
	lq_buf_free(&b);
	return rc;
}

/* Is domain d (lower case) in a control file's lines, as qmail-send's constmap looks it up:
 * locals by the whole domain; virtualdomains ("domain:prefix") by the address, the domain,
 * and each ".suffix" of it. */
static int
control_has(const struct lq_buf *b, const char *addr, const char *d, int virtual)
{
	for (size_t at = 0; at < b->len; ) {
		const char *line = b->data + at, *nl = memchr(line, '\n', b->len - at);
		size_t n = nl ? (size_t)(nl - line) : b->len - at;
		size_t key = n;

		at += n + 1;
		if (virtual) {
			const char *colon = memchr(line, ':', n);

			if (colon == NULL)
				continue;
			key = colon - line;
		}
		if (key == 0)
			continue;
		if ((strlen(d) == key && strncasecmp(line, d, key) == 0) ||
		    (virtual && strlen(addr) == key && strncasecmp(line, addr, key) == 0))
			return 1;
		if (virtual && line[0] == '.')
			for (const char *dot = strchr(d, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
				if (strlen(dot) == key && strncasecmp(line, dot, key) == 0)
					return 1;
	}
	return 0;
}

/* Local or remote, as qmail-send's preprocessing decides: the domain is in control/locals,
 * or in control/virtualdomains, of the qmail home (the queue directory's parent). */
static int
channel_of(struct lq_spool *sp, const char *addr, enum lq_channel ch, struct lq_err *err)
{
	struct lq_buf loc = { 0 }, virt = { 0 };
	const char *d = strrchr(addr, '@') + 1;
	int home, ctl, rc = -1;
	struct lq_err e;

	if (ch != LQ_CHANNEL_AUTO)
		return ch == LQ_CHANNEL_LOCAL ? K_LOCAL : K_REMOTE;
	if ((home = lq_sys_openat(sp->dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (ctl = lq_open_dir(home, "control", NULL)) < 0) {
		if (home >= 0)
			lq_sys_close(home);
		return lq_err_set(err, LQ_EUSAGE, "%s/../control: not there: cannot tell whether "
		    "<%s> is local or remote: give --local or --remote; nothing done", sp->dir, addr);
	}
	if (lq_read_file(ctl, "locals", 1 << 20, &loc, NULL, &e) < 0)
		lq_err_set(err, LQ_EUSAGE, "%s/../control/locals: %s: cannot tell whether <%s> is "
		    "local or remote: give --local or --remote; nothing done", sp->dir,
		    e.code == LQ_ENOENT ? "not there" : e.msg, addr);
	else if (lq_read_file(ctl, "virtualdomains", 1 << 20, &virt, NULL, &e) < 0 &&
	    e.code != LQ_ENOENT)
		lq_err_set(err, LQ_EUSAGE, "%s/../control/virtualdomains: %s; nothing done", sp->dir,
		    e.msg);
	else
		rc = control_has(&loc, addr, d, 0) || control_has(&virt, addr, d, 1) ? K_LOCAL :
		    K_REMOTE;
	lq_buf_free(&loc);
	lq_buf_free(&virt);
	lq_sys_close(ctl);
	lq_sys_close(home);
	return rc;
}

/*
 * qedit --add-recipient: a T record appended to local/N/ID or remote/N/ID, the file
 * replaced whole (its owner, mode and mtime, the next retry, kept), or made like info/N/ID
 * when the message has none on that channel. Every channel is decided before anything is
 * written.
 */
static int
add_recipients(struct lq_spool *sp, const struct qmail_msg *qm, const char *const *addrs,
    size_t n, enum lq_channel ch, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	static const enum kind chan[2] = { K_LOCAL, K_REMOTE };
	struct lq_buf b[2] = { { 0 }, { 0 } };
	char name[24], what[PATH_MAX_LEN + 24], path[PATH_MAX_LEN];
	struct stat st[2];
	struct lq_err e;	/* a channel file that is not there is no error (nor a notice lost) */
	int had[2] = { 0, 0 }, grow[2] = { 0, 0 }, rc = -1, k, fd, dfd;

	use_area(q, qm->hold);
	lq_ultoa(qm->id, name);
	for (size_t i = 0; i < n; i++) {
		if ((k = channel_of(sp, addrs[i], ch, err)) < 0)
			goto out;
		grow[k == K_REMOTE] = 1;
	}
	for (int i = 0; i < 2; i++) {
		if (!grow[i])
			continue;
		if ((dfd = dir_of(q, chan[i], qm->id, err)) < 0)
			goto out;
		if ((fd = lq_open_file(dfd, name, &st[i], &e)) < 0) {
			if (e.code == LQ_ENOENT)
				continue;	/* none on this channel yet */
			if (err != NULL)
				*err = e;
			file_err(err, q, chan[i], qm->id);
			goto out;
		}
		snprintf(what, sizeof what, "%lu: %s", qm->id, path_of(q, chan[i], qm->id, path));
		rc = lq_read_fd(fd, what, ENV_MAX, &b[i], err);
		lq_sys_close(fd);
		if (rc < 0)
			goto out;
		rc = -1;
		if (count_records(&b[i]) < 0) {
			corrupt(err, q, chan[i], qm->id, "the last recipient has no NUL terminator");
			goto out;
		}
		had[i] = 1;
	}
	if (!same_info(q, qm)) {
		lq_err_set(err, LQ_ENOMATCH, "%lu: changed meanwhile: left alone", qm->id);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		k = channel_of(sp, addrs[i], ch, err) == K_REMOTE;
		if (lq_buf_append(&b[k], "T", 1) < 0 ||
		    lq_buf_append(&b[k], addrs[i], strlen(addrs[i]) + 1) < 0) {
			lq_err_set(err, LQ_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (int i = 0; i < 2; i++)
		if (grow[i] && replace_file(q, chan[i], qm->id, &b[i], had[i] ? &st[i] : &qm->st,
		    had[i], err) < 0)
			goto out;
	rc = 0;
out:
	lq_buf_free(&b[0]);
	lq_buf_free(&b[1]);
	return rc;
}

/* Marking delivered is what qmail-send itself does (T to D in place), safe while it runs;
 * setting the sender and adding a recipient only while it is stopped (qmail_act_lock). An
 * added recipient's channel is decided here, before any message is touched. */
static int
qmail_act_supports(struct lq_spool *sp, enum lq_action act, const struct lq_act_opts *o,
    struct lq_err *err)
{
	char who[300];
	int running;

	snprintf(who, sizeof who, "%s: ", sp->dir);
	if (needs_send_stopped(act) && (running = send_state(sp, who, NULL, err)) != 0)
		return running < 0 ? -1 : refuse_running(err, who, act);
	if (act == LQ_ACT_ADD_RECIPIENT)
		for (size_t i = 0; i < o->naddrs; i++)
			if (strchr(o->addrs[i], '@') != NULL &&
			    channel_of(sp, o->addrs[i], o->channel, err) < 0)
				return -1;
	return 0;
}

static int
qmail_act_apply(struct lq_spool *sp, void *held, const struct lq_msg *m, enum lq_action act,
    const struct lq_act_opts *o, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	struct qmail_held *h = held;
	const struct qmail_msg *qm = h->qm;
	int rc = -1;

	switch (act) {
	case LQ_ACT_REMOVE:
		if (h->running && !qm->hold) {
			if ((rc = mark_done(sp, qm, NULL, 0, 1, err)) == 0)
				sp->run_needed = 1;
		} else		/* stopped, or on hold: qmail-send never reads the hold area */
			rc = unlink_message(q, qm, err);
		break;
	case LQ_ACT_FREEZE:
	case LQ_ACT_THAW:
		rc = move_message(sp, qm, act == LQ_ACT_FREEZE, err);
		break;
	case LQ_ACT_MARK_DELIVERED:
		rc = mark_done(sp, qm, o->addrs, o->naddrs, 0, err);
		break;
	case LQ_ACT_MARK_ALL_DELIVERED:
		rc = mark_done(sp, qm, NULL, 0, 0, err);
		break;
	case LQ_ACT_SET_SENDER:
		rc = rewrite_sender(q, qm, o->addrs[0], err);
		break;
	case LQ_ACT_ADD_RECIPIENT:
		rc = add_recipients(sp, qm, o->addrs, o->naddrs, o->channel, err);
		break;
	default:	/* act_supports said no: lq_act never gets here */
		rc = lq_err_set(err, LQ_EUSAGE, "%lu: not an action on this MTA", (unsigned long)h->id);
		break;
	}
	return rc;
}

static void
qmail_act_unlock(struct lq_spool *sp, void *held)
{
	struct qmail_held *h = held;

	use_area(sp->priv, 0);
	if (h != NULL)
		h->qm = NULL;
}

/*
 * Who acts on a qmail queue. qmail gives its queue to two users of group qmail: qmailq owns
 * the queue directory, mess/, todo/, intd/ and lock/; qmails owns info/, local/, remote/ and
 * bounce/. qmail itself changes a queue with two processes, qmail-send as qmails and
 * qmail-clean as qmailq; an action here is one process that needs both: it becomes the
 * owner of info/ (qmails: the channel files it rewrites stay qmail-send's, and the ALRM to
 * qmail-send needs nothing more) in the queue directory's group, and keeps only
 * CAP_DAC_OVERRIDE (to rename and unlink in qmailq's directories) and CAP_CHOWN and
 * CAP_FOWNER (the hold area is made owned like the queue directory). A queue whose
 * directories all belong to one user needs no capability.
 */
static int
qmail_owner(struct lq_spool *sp, struct lq_owner *o, struct lq_err *err)
{
	struct qmail *q = sp->priv;
	struct stat info, st;

	if (fstat(q->queue.top[K_INFO], &info) < 0 || fstat(sp->dirfd, &st) < 0)
		return lq_err_sys(err, "%s", sp->dir);
	o->uid = info.st_uid;
	o->gid = st.st_gid;
	o->caps = st.st_uid == info.st_uid ? 0 :
	    LQ_CAP_DAC_OVERRIDE | LQ_CAP_CHOWN | LQ_CAP_FOWNER;
	for (int k = 0; k < NKIND && o->caps == 0; k++)
		if (q->queue.top[k] >= 0 && fstat(q->queue.top[k], &st) == 0 &&
		    st.st_uid != info.st_uid)
			o->caps = LQ_CAP_DAC_OVERRIDE | LQ_CAP_CHOWN | LQ_CAP_FOWNER;
	snprintf(o->what, sizeof o->what, "the owner of %s/info%s", sp->dir,
	    o->caps ? " (qmail-send's user; the rest of the queue is qmailq's)" : "");
	return 0;
}

/* as begin() names them */
static const char *const *
qmail_queues(const struct lq_spool *sp)
{
	static const char *const names[] = { "queue", "todo", "hold", NULL };

	(void)sp;
	return names;
}

const struct lq_backend lq_qmail_backend = {
	.mta = LQ_MTA_QMAIL,
	.name = "qmail",
	.detect = qmail_detect,
	.default_dir = qmail_default_dir,
	.open = qmail_open,
	.close = qmail_close,
	.valid_id = qmail_valid_id,
	.scan = qmail_scan,
	.load = qmail_load,
	.read = qmail_read,
	.write_envelope = qmail_write_envelope,
	.write_listing = qmail_write_listing,
	.write_stat = qmail_write_stat,
	.act_lock = qmail_act_lock,
	.act_reload = qmail_act_reload,
	.act_refuse = qmail_act_refuse,
	.act_save = qmail_act_save,
	.act_apply = qmail_act_apply,
	.act_unlock = qmail_act_unlock,
	.act_supports = qmail_act_supports,
	.frozen_state = "hold",
	.frozen_said = "on hold",
	.run_argv = qmail_run_argv,
	.log_path = NULL,	/* qmail-send logs to its stdout: there is no file to append to */
	.owner = qmail_owner,
	.queues = qmail_queues,
	.state_flags = LQ_MSG_ACTIVE | LQ_MSG_FROZEN | LQ_MSG_UNPROCESSED | LQ_MSG_BOUNCING,
};
