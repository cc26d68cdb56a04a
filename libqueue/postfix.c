/*
 * postfix.c -- the Postfix backend: the queue directories maildrop, incoming, active,
 * deferred and hold (with hashed subdirectories at whatever depth they are), queue files
 * made of records, and the per-message logs in defer/ and bounce/. Format: libqueue/README,
 * "Postfix".
 *
 * What the tools show follows Postfix's own readers, rule for rule: the listing is
 * showq's (postqueue -p/-j), the content views are postcat's. Where showq would list a
 * damaged file anyway, we report it instead: a file that breaks the record format is
 * LQ_ECORRUPT naming the ID, the file and the offset; a file that vanished mid-scan is
 * counted, not reported.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"

#define REC_MAX (64u << 20)	/* a record longer than this is refused */
#define LOG_MAX (16u << 20)	/* a defer or bounce log bigger than this is refused */
#define DEPTH_MAX 16		/* hashed subdirectories deeper than this are not walked */
#define DUP_FILTER_LIMIT 1000	/* showq's duplicate_filter_limit */
#define EMPTY_ADDR "MAILER-DAEMON"	/* empty_address_recipient */
#define REL_MAX (16 + 2 * DEPTH_MAX + LQ_ID_MAX)
#define WINDOW (64 * 1024)
/* the names of hash directories: Postfix hashes on hex digits (mail_queue_dir) */
#define HASH_DIGITS "0123456789ABCDEF"

/* ---------------------------------------------------------------- queues */

enum {
	Q_MAILDROP, Q_INCOMING, Q_ACTIVE, Q_DEFERRED, Q_HOLD, Q_CORRUPT, NQUEUES
};

static const char *const queue_names[NQUEUES] = {
	"maildrop", "incoming", "active", "deferred", "hold", "corrupt"
};

/* showq's order; the corrupt/ queue comes last and is only reported */
static const int showq_order[] = { Q_MAILDROP, Q_ACTIVE, Q_INCOMING, Q_DEFERRED, Q_HOLD,
	Q_CORRUPT };
/* postcat -q's search order (lq_load) */
static const int search_order[] = { Q_MAILDROP, Q_INCOMING, Q_ACTIVE, Q_DEFERRED, Q_HOLD };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- state */

/* The per-message logs the readers look at, in showq's order (Postfix 3.11's showq reads
 * defer/ and then bounce/; 3.7's only defer/). bounce_log_read's own names. */
enum { LOG_DEFER, LOG_BOUNCE, NLOGS };
static const char *const log_names[NLOGS] = { "defer", "bounce" };

/* A log directory: its descriptor and its hash subdirectories', opened when first needed
 * (or, for a scan, before its warm workers start: open_log_dirs) under logmu and then read
 * without it, as each is written once, from -1; and how deep its last log was (Postfix's
 * hash_queue_depth, if it hashes this one). */
struct logdir {
	_Atomic int fd;		/* -1 not opened yet, -2 absent */
	_Atomic int sub[256];	/* X/: -1 unknown, -2 absent */
	_Atomic int depth;	/* where the last log was, -1 none yet */
};

/* Which of a load's buffers (struct lq_slot's, or the spool's own) holds what: the read
 * window of the queue file, the current record's data, the defer log. */
enum { BUF_WIN, BUF_REC, BUF_LOG };

struct postfix {
	unsigned queues;	/* bit per queue to read */
	int qfd[NQUEUES];	/* -1 not opened yet, -2 absent */
	/* a scan's first-level hash directories of each queue, by name as logdir's sub
	 * (open_queue_dirs), or -1 */
	int qsub[NQUEUES][256];
	struct logdir logs[NLOGS];	/* defer/, bounce/ */
	/* the logs' directories and the depth learnt, which a scan's loading threads share */
	pthread_mutex_t logmu;
	int long_layout;	/* postqueue -p's long-ID columns */
	/* the files of the message being read outside a threaded scan (lq_load, lq_read,
	 * lq_act, --jobs 1); a threaded scan's loads use their slot's */
	struct lq_buf bufs[LQ_SLOT_BUFS];
	struct lq_buf hdr;	/* a header being put together */
	struct lq_locks locks;	/* flock()s held, from /proc/locks */
	int locks_loaded;
	/* acting: this queue's configuration, asked of postconf (conf_for NULL: not yet) */
	char *conf_for;		/* the postconf asked */
	int conf_known;		/* postconf answered, and its queue_directory is this one */
	unsigned hashed;	/* bit per directory (enum dir) named in hash_queue_names */
	int hash_depth;		/* hash_queue_depth */
	char *config_dir;	/* $MAIL_CONFIG, for postqueue -c; NULL: the default */
	long master_pid;	/* pid/master.pid when the spool was opened, or 0 */
	struct pf_held {	/* the message being acted on (lq_act) */
		char id[LQ_ID_MAX + 1];
		int q, dfd, fd;	/* its queue, directory, and the file, locked */
		char rel[REL_MAX];
		struct stat st;	/* its fstat under the lock */
		int live;	/* the Postfix master runs */
		int logfd;	/* marking delivered: its delay log, locked as bounce(8) does; -1 */
		char logrel[REL_MAX];
	} held;
};

static long master_pid(struct lq_spool *);

/* What a loaded message remembers for lq_read and the listing. */
struct pf_msg {
	char rel[REL_MAX];	/* its path below the queue directory: "deferred/3/ID" */
	dev_t dev;
	ino_t ino;
	int long_layout;
	/* read under lq_act's lock (PF_NOTE_PENDING): where each R record is */
	struct pf_pending {
		const char *address;	/* as listed (display_address) */
		int64_t off;
	} *pending;
	size_t npending, cappending;
};

/* load_file's flag beside the LQ_SCAN_ ones: note where the pending recipients are */
#define PF_NOTE_PENDING (1u << 30)

/* ---------------------------------------------------------------- queue IDs */

static const char safe52[] = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

static int
safe_value(int c)
{
	const char *p = c ? strchr(safe52, c) : NULL;

	return p ? (int)(p - safe52) : -1;
}

/* Long IDs: >= 6 chars of seconds and 4 of microseconds (base 52), 'z', the inode (base
 * 51, no 'z'). Short IDs: 5 hex digits of microseconds and the inode in hex. */
static const char *
long_id_separator(const char *id)
{
	const char *z = strrchr(id, 'z');

	return z != NULL && z - id >= 10 ? z : NULL;
}

static int
postfix_valid_id(const char *id)
{
	size_t n = strlen(id);
	const char *z;

	if (n < 6 || n > LQ_ID_MAX)
		return 0;
	if ((z = long_id_separator(id)) != NULL) {
		if (z[1] == '\0')
			return 0;
		for (const char *p = id; *p; p++)
			if (safe_value((unsigned char)*p) < 0 || (p > z && *p == 'z'))
				return 0;
		return 1;
	}
	for (const char *p = id; *p; p++)
		if (!lq_isdigit((unsigned char)*p) && !(*p >= 'A' && *p <= 'F'))
			return 0;
	return 1;
}

/* What Postfix hashes the subdirectories on (mail_queue_dir): the ID itself, or for a long
 * ID its microseconds as 5 hex digits. */
static void
hash_key(const char *id, char key[LQ_ID_MAX + 8])
{
	const char *z = long_id_separator(id);
	unsigned long usec = 0;

	if (z == NULL) {
		lq_strlcpy(key, id, LQ_ID_MAX + 8);
		return;
	}
	for (const char *p = z - 4; p < z; p++) {
		int v = safe_value((unsigned char)*p);

		if (v < 0) {		/* safe_strtoul stopped early: Postfix takes 0 */
			usec = 0;
			break;
		}
		usec = usec * 52 + v;
	}
	snprintf(key, LQ_ID_MAX + 8, "%05X", (int)usec);
}

/* dir_forest(): the subdirectory name at level i (0-based) */
static char
hash_char(const char *key, int i)
{
	return (size_t)i < strlen(key) ? key[i] : '_';
}

/* ---------------------------------------------------------------- locating */

static int
is_dir_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static int
postfix_detect(int dirfd)
{
	return is_dir_at(dirfd, "maildrop") && is_dir_at(dirfd, "incoming") &&
	    is_dir_at(dirfd, "active") && is_dir_at(dirfd, "deferred");
}

static char *
postfix_default_dir(void)
{
	static const char *const ask[] = { "postconf", "-h", "queue_directory", NULL };
	char *dir;

	if ((dir = lq_ask_program(ask)) != NULL)
		return dir;
	return strdup("/var/spool/postfix");
}

static int
queue_index(const char *name, size_t n)
{
	for (int i = 0; i < NQUEUES; i++)
		if (strlen(queue_names[i]) == n && strncmp(queue_names[i], name, n) == 0)
			return i;
	return -1;
}

static int
queue_fd(struct lq_spool *sp, int q)
{
	struct postfix *pf = sp->priv;

	if (pf->qfd[q] == -1) {
		int fd = lq_open_dir(sp->dirfd, queue_names[q], NULL);

		pf->qfd[q] = fd < 0 ? -2 : fd;
	}
	return pf->qfd[q] < 0 ? -1 : pf->qfd[q];
}

/* The first queue file name met in showq's order decides postqueue -p's columns: Postfix
 * takes them from enable_long_queue_ids, which a queue directory does not record. */
static int
peek_layout(int dirfd, int depth)
{
	struct dirent *de;
	int fd, found = -1;
	DIR *d;

	if ((fd = dup(dirfd)) < 0)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		lq_sys_close(fd);
		return -1;
	}
	rewinddir(d);
	while (found < 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (strlen(de->d_name) == 1 && depth < DEPTH_MAX) {
			int sub = lq_open_dir(dirfd, de->d_name, NULL);

			if (sub >= 0) {
				found = peek_layout(sub, depth + 1);
				lq_sys_close(sub);
			}
		} else if (postfix_valid_id(de->d_name))
			found = long_id_separator(de->d_name) != NULL;
	}
	closedir(d);
	return found;
}

static int
postfix_open(struct lq_spool *sp, struct lq_err *err)
{
	struct postfix *pf;

	if ((pf = calloc(1, sizeof *pf)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	sp->priv = pf;
	pf->logmu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	for (int i = 0; i < NQUEUES; i++) {
		pf->qfd[i] = -1;
		for (int c = 0; c < 256; c++)
			pf->qsub[i][c] = -1;
	}
	for (int l = 0; l < NLOGS; l++) {
		pf->logs[l].fd = -1;
		pf->logs[l].depth = -1;
		for (int i = 0; i < 256; i++)
			pf->logs[l].sub[i] = -1;
	}
	if (sp->queue == NULL)
		pf->queues = (1u << NQUEUES) - 1;
	else {
		const char *p = sp->queue;

		while (*p) {
			size_t n = strcspn(p, ", ");
			int q = queue_index(p, n);

			if (n > 0 && q < 0)
				return lq_err_set(err, LQ_EUSAGE,
				    "%.*s%s: not a Postfix queue (maildrop, incoming, active, deferred, hold, corrupt)",
				    (int)(n > 80 ? 80 : n), p, n > 80 ? "..." : "");
			if (n > 0)
				pf->queues |= 1u << q;
			p += n;
			p += strspn(p, ", ");
		}
		if (pf->queues == 0)
			return lq_err_set(err, LQ_EUSAGE, "'%s': no queue names", sp->queue);
	}
	for (size_t i = 0; i < NELEM(showq_order) - 1; i++) {
		int q = showq_order[i], fd = queue_fd(sp, q), l;

		if (fd >= 0 && (l = peek_layout(fd, q == Q_MAILDROP ? DEPTH_MAX : 0)) >= 0) {
			pf->long_layout = l;
			break;
		}
	}
	pf->master_pid = master_pid(sp);	/* for acting, while we may still read it */
	return 0;
}

static void
postfix_close(struct lq_spool *sp)
{
	struct postfix *pf = sp->priv;

	for (int i = 0; i < NQUEUES; i++)
		if (pf->qfd[i] >= 0)
			lq_sys_close(pf->qfd[i]);
	for (int l = 0; l < NLOGS; l++) {
		if (pf->logs[l].fd >= 0)
			lq_sys_close(pf->logs[l].fd);
		for (int i = 0; i < 256; i++)
			if (pf->logs[l].sub[i] >= 0)
				lq_sys_close(pf->logs[l].sub[i]);
	}
	for (int i = 0; i < LQ_SLOT_BUFS; i++)
		lq_buf_free(&pf->bufs[i]);
	lq_buf_free(&pf->hdr);
	pthread_mutex_destroy(&pf->logmu);
	lq_locks_free(&pf->locks);
	free(pf->conf_for);
	free(pf->config_dir);
	free(pf);
	sp->priv = NULL;
}

/* ---------------------------------------------------------------- reading records */

/* pointer records already followed in one file (in the message's arena) */
struct offset_set {
	int64_t *key;		/* -1: a free place */
	size_t cap, n;
};

struct pfile {
	unsigned char *win;	/* the read window (BUF_WIN: WINDOW bytes) */
	struct lq_buf *rec;	/* the current record's data (BUF_REC) */
	struct lq_arena *arena;	/* for seen */
	struct offset_set seen;
	int fd;
	int64_t size;		/* at open; the file is read no further */
	int64_t pos;
	int64_t woff;		/* the window's file offset */
	size_t wlen;
	const char *id, *rel;	/* for messages */
};

enum { RG_FOLLOW = 1, RG_SKIP_PAD = 2 };

struct rec {
	int type;
	int64_t off;		/* where the record starts */
	size_t len;
	char *data;		/* NUL-terminated copy (f->rec) */
};

/* the next byte when it is not in the window: read from there on (or -1) */
static int
pf_getc_read(struct pfile *f)
{
	ssize_t n;

	if (f->pos >= f->size)
		return -1;
	do
		n = lq_sys_pread(f->fd, f->win, WINDOW, f->pos);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	f->woff = f->pos;
	f->wlen = (size_t)n;
	return f->win[f->pos++ - f->woff];
}

/* the next byte of the file, or -1 at its end (or on a read error); inline, as a record's
 * type and length are read a byte at a time */
static inline int
pf_getc(struct pfile *f)
{
	if (f->pos >= f->woff && f->pos < f->woff + (int64_t)f->wlen)
		return f->win[f->pos++ - f->woff];
	return pf_getc_read(f);
}

static int
pf_read(struct pfile *f, char *dst, size_t n)
{
	while (n > 0) {
		if (f->pos >= f->woff && f->pos < f->woff + (int64_t)f->wlen) {
			size_t k = f->woff + f->wlen - f->pos;

			if (k > n)
				k = n;
			memcpy(dst, f->win + (f->pos - f->woff), k);
			dst += k;
			n -= k;
			f->pos += k;
		} else {
			int c = pf_getc(f);

			if (c < 0)
				return -1;
			*dst++ = (char)c;
			n--;
		}
	}
	return 0;
}

static int
corrupt(struct pfile *f, struct lq_err *err, int64_t off, const char *what)
{
	return lq_err_set(err, LQ_ECORRUPT, "%s: corrupt queue file %s: %s (offset %lld)",
	    f->id, f->rel, what, (long long)off);
}

/* An open-addressing set of offsets (>= 0), made in the arena of the message read when its
 * first pointer is followed: a load in any thread has its own, gone with the message. */
static size_t
seen_slot(const struct offset_set *s, int64_t off)
{
	uint64_t h = (uint64_t)off * 0x9E3779B97F4A7C15ull;
	size_t i = (size_t)(h >> 20) & (s->cap - 1);

	while (s->key[i] >= 0 && s->key[i] != off)
		i = (i + 1) & (s->cap - 1);
	return i;
}

/* 1 when off was there already, 0 when added, -1 out of memory */
static int
seen_add(struct offset_set *s, struct lq_arena *a, int64_t off)
{
	size_t i;

	if (s->cap == 0 || (s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct offset_set t = { lq_arena_alloc(a, cap * sizeof *t.key), cap, 0 };

		if (t.key == NULL)
			return -1;
		memset(t.key, 0xff, cap * sizeof *t.key);	/* every place -1 */
		for (size_t j = 0; j < s->cap; j++)
			if (s->key[j] >= 0) {
				t.key[seen_slot(&t, s->key[j])] = s->key[j];
				t.n++;
			}
		*s = t;
	}
	i = seen_slot(s, off);
	if (s->key[i] >= 0)
		return 1;
	s->key[i] = off;
	s->n++;
	return 0;
}

/* off_cvt_string() after leading blanks: digits only */
static int64_t
pointer_target(const char *s)
{
	int64_t v = 0;

	while (lq_isspace((unsigned char)*s))
		s++;
	for (; *s; s++) {
		if (!lq_isdigit((unsigned char)*s) || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/*
 * rec_get_raw() with Postfix's flags: follow pointer records, skip padding. Returns 1 with
 * a record, 0 at the end of the file, -1 with err for a malformed record, a pointer loop or
 * a pointer past the end (where Postfix's reader would warn, fail or loop).
 */
static int
rec_get(struct pfile *f, unsigned flags, struct rec *r, struct lq_err *err)
{
	for (;;) {
		uint64_t len = 0;
		unsigned shift;
		int c;

		r->off = f->pos;
		if ((r->type = pf_getc(f)) < 0)
			return 0;
		for (shift = 0;; shift += 7) {
			if (shift >= 32)
				return corrupt(f, err, r->off, "record length has too many bits");
			if ((c = pf_getc(f)) < 0)
				return corrupt(f, err, r->off, "truncated in a record length");
			len |= (uint64_t)(c & 0x7f) << shift;
			if (!(c & 0x80))
				break;
		}
		if (len > INT_MAX || (int64_t)len > f->size - f->pos) {
			char what[96];

			snprintf(what, sizeof what, "record length %llu past the end of the file",
			    (unsigned long long)len);
			return corrupt(f, err, r->off, what);
		}
		if (len > REC_MAX)
			return lq_err_set(err, LQ_ELIMIT, "%s: %s: a record of %llu bytes (offset %lld)",
			    f->id, f->rel, (unsigned long long)len, (long long)r->off);
		f->rec->len = 0;
		if (lq_buf_reserve(f->rec, len + 1) < 0)
			return lq_err_set(err, LQ_ENOMEM, "out of memory");
		if (pf_read(f, f->rec->data, len) < 0)
			return corrupt(f, err, r->off, "truncated in a record");
		f->rec->len = len;
		f->rec->data[len] = '\0';
		r->len = len;
		r->data = f->rec->data;
		if (r->type == 'p' && (flags & RG_FOLLOW)) {
			int64_t to = pointer_target(r->data);
			int dup;

			if (to < 0)
				return corrupt(f, err, r->off, "malformed pointer record");
			if (to == 0)
				continue;	/* a placeholder */
			if (to >= f->size)
				return corrupt(f, err, r->off, "pointer past the end of the file");
			if ((dup = seen_add(&f->seen, f->arena, r->off)) < 0)
				return lq_err_set(err, LQ_ENOMEM, "out of memory");
			if (dup)
				return corrupt(f, err, r->off, "pointer records form a loop");
			f->pos = to;
			continue;
		}
		if (r->type == 'w' && (flags & RG_SKIP_PAD))
			continue;
		return 1;
	}
}

/* f, to read a file of id's (pm) with bufs (the spool's, or a scan slot's), its pointer
 * set in arena (the message's). */
static int
pfile_init(struct pfile *f, const struct pf_msg *pm, const char *id, struct lq_buf *bufs,
    struct lq_arena *arena, struct lq_err *err)
{
	memset(f, 0, sizeof *f);
	/* WINDOW bytes and not twice that (lq_buf_reserve keeps one more than asked) */
	if (lq_buf_reserve(&bufs[BUF_WIN], WINDOW - 1) < 0)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	f->win = (unsigned char *)bufs[BUF_WIN].data;
	f->rec = &bufs[BUF_REC];
	f->arena = arena;
	f->id = id;
	f->rel = pm->rel;
	f->woff = -1;
	f->fd = -1;
	return 0;
}

/* The message's file: in dirfd (the directory it was found in) or, with dirfd -1, by its
 * path below the queue directory, one directory at a time. */
static int
pfile_open(struct lq_spool *sp, struct pfile *f, const struct pf_msg *pm, const char *id,
    int dirfd, struct lq_buf *bufs, struct lq_arena *arena, struct lq_err *err)
{
	char path[REL_MAX], *p, *slash;
	int dfd = sp->dirfd, fd;
	struct stat st;

	if (pfile_init(f, pm, id, bufs, arena, err) < 0)
		return -1;
	lq_strlcpy(path, pm->rel, sizeof path);
	p = path;
	if (dirfd >= 0) {
		dfd = dirfd;
		p = strrchr(path, '/') + 1;
	}
	for (; dirfd < 0 && (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		int sub;

		*slash = '\0';
		sub = lq_open_dir(dfd, p, err);
		if (dfd != sp->dirfd)
			lq_sys_close(dfd);
		if (sub < 0)
			return lq_err_set(err, LQ_ENOENT, "%s: no such message (%s)", id, pm->rel);
		dfd = sub;
	}
	fd = lq_open_file(dfd, p, &st, err);
	if (dfd != sp->dirfd && dfd != dirfd)
		lq_sys_close(dfd);
	if (fd < 0) {
		if (err != NULL && err->code == LQ_ENOENT)
			return lq_err_set(err, LQ_ENOENT, "%s: no such message (%s)", id, pm->rel);
		return lq_err_prefix(err, "%s: ", id);
	}
	if (st.st_dev != pm->dev || st.st_ino != pm->ino) {
		lq_sys_close(fd);
		return lq_err_set(err, LQ_ENOENT, "%s: %s was replaced by another message", id,
		    pm->rel);
	}
	f->fd = fd;
	f->size = st.st_size;
	return 0;
}

/* The message's file, already open as fd (st: its fstat); fd is closed on failure. */
static int
pfile_adopt(struct pfile *f, const struct pf_msg *pm, const char *id, int fd,
    const struct stat *st, struct lq_buf *bufs, struct lq_arena *arena, struct lq_err *err)
{
	if (pfile_init(f, pm, id, bufs, arena, err) < 0) {
		lq_sys_close(fd);
		return -1;
	}
	f->fd = fd;
	f->size = st->st_size;
	return 0;
}

/* ---------------------------------------------------------------- addresses as showq shows them */

/* printable() with smtputf8_enable = yes: bytes that are neither printable ASCII nor part
 * of a UTF-8 sequence become '?'. Returns the end of s (its NUL). */
static char *
printable(char *s)
{
	unsigned char *cp = (unsigned char *)s;
	int ch;

	for (; (ch = *cp) != 0; cp++) {
		if (lq_isprint(ch))	/* (ISASCII(ch) && ISPRINT(ch)) */
			continue;
		if (ch >= 194 && ch <= 254 && cp[1] >= 128 && cp[1] < 192) {
			while (cp[1] >= 128 && cp[1] < 192)
				cp++;
		} else
			*cp = '?';
	}
	return (char *)cp;
}

/* Where the run of printable ASCII at s ends (end at the latest), looked at 8 bytes at a
 * time: printable() leaves such a run as it is, and nearly all of an address or a defer
 * log is one, so printable() need only go on from there. */
static char *
ascii_run(char *s, const char *end)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	uint64_t w;

	while (end - s >= 8) {
		memcpy(&w, s, sizeof w);
		/* a byte below 0x20, or one above 0x7e (0x7f + 1 and every byte >= 0x80 have
		 * their high bit set): looked at one by one */
		if ((((w - 0x20 * ones) & ~w) | ((w + ones) | w)) & high)
			break;
		s += sizeof w;
	}
	while (s < end && lq_isprint((unsigned char)*s))
		s++;
	return s;
}

/*
 * The line of a defer log at p (before end) as bounce_log_read reads it, with printable()
 * applied: its newline, made its NUL, and in *eol where printable() stopped (the newline,
 * or a NUL in the line); NULL when no newline ends it (the line is left as it is). When the
 * printable run at p ends at the newline, as it nearly always does, that one pass was all:
 * no search for the newline first and printable() after.
 */
static char *
log_line_at(char *p, char *end, char **eol)
{
	char *s = ascii_run(p, end), *nl;

	if (s < end && *s == '\n') {
		*s = '\0';
		*eol = s;
		return s;
	}
	if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
		return NULL;
	*nl = '\0';
	*eol = printable(s);
	return nl;
}

/* RFC 822's specials, which a dot-string may not hold unquoted */
static int
is_822_special(int ch)
{
	switch (ch) {
	case '(': case ')': case '<': case '>': case '@': case ',': case ';': case ':':
	case '\\': case '"': case '[': case ']':
		return 1;
	}
	return 0;
}

static int
is_822_dot_string(const char *s, const char *end)
{
	const char *cp;

	if (s == end || s[0] == '\0' || s[0] == '.')
		return 0;
	for (cp = s; cp < end && *cp != '\0'; cp++) {
		int ch = *(const unsigned char *)cp;

		if (ch == '.' && cp + 1 < end && cp[1] == '.')
			return 0;
		if (ch == ' ' || lq_iscntrl(ch) || is_822_special(ch))
			return 0;
	}
	return cp[-1] != '.';
}

/* quote_822_local() (8-bit clean) then printable(): the form showq lists. */
static char *
display_address(struct lq_arena *a, const char *raw)
{
	const char *start = raw, *end, *colon, *cp;
	char *out, *o;
	size_t len;

	if (*raw == '\0')
		raw = start = EMPTY_ADDR;
	if (raw[0] == '@' && (colon = strchr(raw, ':')) != NULL)
		start = colon + 1;
	if ((end = strrchr(start, '@')) == NULL)
		end = start + strlen(start);
	len = strlen(raw);
	if (is_822_dot_string(start, end)) {
		if ((out = lq_arena_strndup(a, raw, len)) == NULL)
			return NULL;
		o = out + len;
	} else {
		size_t domain = len - (size_t)(end - raw);	/* from the last '@' on */

		if ((out = lq_arena_alloc(a, 2 * len + 3)) == NULL)
			return NULL;
		o = out;
		memcpy(o, raw, start - raw);
		o += start - raw;
		*o++ = '"';
		for (cp = start; cp < end; cp++) {
			if (*cp == '"' || *cp == '\\' || *cp == '\r')
				*o++ = '\\';
			*o++ = *cp;
		}
		*o++ = '"';
		memcpy(o, end, domain + 1);
		o += domain;
	}
	printable(ascii_run(out, o));	/* (o: the NUL) */
	return out;
}

/* ---------------------------------------------------------------- recipients */

struct rcpts {
	struct lq_rcpt *v;
	size_t n, cap;
};

/* One more recipient, under the ceiling every backend keeps (LQ_RCPT_MAX). */
static int
rcpt_push(struct lq_msg *m, struct rcpts *l, const char *addr, const char *reason,
    unsigned flags, struct lq_err *err)
{
	void *v = l->v;

	if (lq_arena_grow(m, &v, l->n, &l->cap, sizeof *l->v, LQ_RCPT_MAX, "recipients",
	    err) < 0)
		return -1;
	l->v = v;
	l->v[l->n++] = (struct lq_rcpt){ addr, reason, flags };
	return 0;
}

/* The first-level hash directory c of a log directory (opened once, under logmu: a scan's
 * loading threads share them), or -1; LQ_NOT_HERE in a warm worker, whose descriptors are
 * its own, when it was not opened yet (open_log_dirs). */
static int
log_subdir(struct postfix *pf, struct logdir *ld, int c)
{
	int fd;

	if ((fd = atomic_load(&ld->sub[c])) != -1)
		return fd < 0 ? -1 : fd;
	pthread_mutex_lock(&pf->logmu);
	if (ld->sub[c] == -1 && lq_private_fds()) {
		pthread_mutex_unlock(&pf->logmu);
		return LQ_NOT_HERE;
	}
	if (ld->sub[c] == -1) {
		char name[2] = { (char)c, '\0' };
		int d = lq_open_dir(ld->fd, name, NULL);

		ld->sub[c] = d < 0 ? -2 : d;
	}
	fd = ld->sub[c];
	pthread_mutex_unlock(&pf->logmu);
	return fd < 0 ? -1 : fd;
}

/* The directories of log's files, opened before a scan's loads read them: the log directory
 * and its first-level hash directories (HASH_DIGITS). */
static void
open_log_dirs(struct lq_spool *sp, int log)
{
	struct postfix *pf = sp->priv;
	struct logdir *ld = &pf->logs[log];

	pthread_mutex_lock(&pf->logmu);
	if (ld->fd == -1) {
		int d = lq_open_dir(sp->dirfd, log_names[log], NULL);

		ld->fd = d < 0 ? -2 : d;
	}
	pthread_mutex_unlock(&pf->logmu);
	if (ld->fd < 0)
		return;
	for (const char *c = HASH_DIGITS; *c; c++)
		log_subdir(pf, ld, (unsigned char)*c);
}

/*
 * Read LOG/<hash>/ID (ld: defer/ or bounce/, opened) at one depth into *out: 0, or -1 when
 * no log is there (or what is there is not a file: as Postfix, we then know no reason), -2
 * when the hash directories do not go that deep, -3 when the log is too big or memory ran
 * out (err says).
 */
static int
log_at(struct postfix *pf, struct logdir *ld, const char *key, const char *id, int depth,
    struct lq_buf *out, struct lq_err *err)
{
	int dfd, top, rc;
	struct lq_err e;

	if (depth == 0) {
		dfd = ld->fd;
	} else if ((dfd = log_subdir(pf, ld, (unsigned char)hash_char(key, 0))) < 0) {
		return dfd == LQ_NOT_HERE ? lq_not_here(err, id) : -2;
	}
	top = dfd;
	for (int k = 1; k < depth; k++) {
		char name[2] = { hash_char(key, k), '\0' };
		int sub = lq_open_dir(dfd, name, NULL);

		if (dfd != top)
			lq_sys_close(dfd);
		if (sub < 0)
			return -2;
		dfd = sub;
	}
	/* open, one read, close: a log is small (no fstat, no end-of-file read) */
	rc = lq_read_file(dfd, id, LOG_MAX, out, NULL, &e);
	if (depth > 1)
		lq_sys_close(dfd);
	if (rc == 0)
		return 0;
	if (e.code == LQ_ELIMIT || e.code == LQ_ENOMEM) {
		if (err != NULL)
			*err = e;
		return -3;
	}
	return -1;
}

/* The log of id in log_names[log] (defer/ or bounce/) into *out. Postfix knows the depth
 * from hash_queue_names and hash_queue_depth; we look along the ID's hash path, first at
 * the depth where that directory's last log was found. 0 when read, -1 when there is none,
 * -3 on an error (err). */
static int
read_log_file(struct lq_spool *sp, int log, const char *id, struct lq_buf *out,
    struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	struct logdir *ld = &pf->logs[log];
	char key[LQ_ID_MAX + 8];
	int rc, fd, known;

	if ((fd = atomic_load(&ld->fd)) == -1) {
		pthread_mutex_lock(&pf->logmu);
		if (ld->fd == -1 && lq_private_fds()) {
			pthread_mutex_unlock(&pf->logmu);
			return lq_not_here(err, id);
		}
		if (ld->fd == -1) {
			int d = lq_open_dir(sp->dirfd, log_names[log], NULL);

			ld->fd = d < 0 ? -2 : d;
		}
		fd = ld->fd;
		pthread_mutex_unlock(&pf->logmu);
	}
	known = atomic_load(&ld->depth);
	if (fd < 0)
		return -1;
	hash_key(id, key);
	/* once a log was found, Postfix's hash_queue_depth is known: like showq, look there
	 * only (a missing log then costs one failed open, not one per depth) */
	if (known >= 0)
		return (rc = log_at(pf, ld, key, id, known, out, err)) == -2 ? -1 : rc;
	for (int depth = 0; depth < DEPTH_MAX; depth++) {
		if ((rc = log_at(pf, ld, key, id, depth, out, err)) == 0) {
			/* the first found (in a threaded scan, the first to get here) */
			pthread_mutex_lock(&pf->logmu);
			if (ld->depth < 0)
				ld->depth = depth;
			pthread_mutex_unlock(&pf->logmu);
		}
		if (rc != -1)
			return rc == -2 ? -1 : rc;
	}
	return -1;
}

static int
strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* split_nameval() of buf, whose NUL is at end: the name's length, or -1 when buf is not
 * "name = value" */
static int
split_nameval(char *buf, char *end, char **name, char **value)
{
	char *np, *ep, *cp, *vp, *p;

	for (np = buf; *np && lq_isspace((unsigned char)*np); np++)
		;
	if (*np == '\0' || *np == '=')
		return -1;
	for (ep = np; *ep && !lq_isspace((unsigned char)*ep) && *ep != '='; ep++)
		;
	for (cp = ep; *cp && lq_isspace((unsigned char)*cp); cp++)
		;
	if (*cp != '=')
		return -1;
	*ep = '\0';
	for (vp = cp + 1; *vp && lq_isspace((unsigned char)*vp); vp++)
		;
	for (p = end; p > vp && lq_isspace((unsigned char)p[-1]); p--)
		;
	*p = '\0';
	*name = np;
	*value = vp;
	return (int)(ep - np);
}

/* The attribute names bounce_log_read knows (mail_proto.h's MAIL_ATTR_*): those
 * bounce_append_service writes; the ones an entry's reader uses have their own value. Any
 * other is a line Postfix warns about and ignores. */
enum log_attr { ATTR_UNKNOWN, ATTR_OTHER, ATTR_RECIPIENT, ATTR_STATUS, ATTR_REASON, ATTR_OFFSET };

/* the attribute name of len bytes */
static enum log_attr
log_attribute(const char *name, size_t len)
{
#define ATTR(s, a) { s, sizeof s - 1, a }
	static const struct {
		const char *name;
		size_t len;
		enum log_attr attr;
	} attrs[] = {
		/* first those bounce_append_service writes in every entry */
		ATTR("recipient", ATTR_RECIPIENT), ATTR("offset", ATTR_OFFSET),
		ATTR("status", ATTR_STATUS), ATTR("action", ATTR_OTHER),
		ATTR("reason", ATTR_REASON), ATTR("dsn_orig_rcpt", ATTR_OTHER),
		ATTR("original_recipient", ATTR_OTHER), ATTR("notify_flags", ATTR_OTHER),
		ATTR("diag_type", ATTR_OTHER), ATTR("diag_text", ATTR_OTHER),
		ATTR("mta_type", ATTR_OTHER), ATTR("mta_mname", ATTR_OTHER)
	};
#undef ATTR

	/* (the length and the first byte first: a log has a few lines per recipient, each
	 * looked up here, and those two tell all the names but diag_t* apart) */
	for (size_t i = 0; i < NELEM(attrs); i++)
		if (attrs[i].len == len && attrs[i].name[0] == name[0] &&
		    memcmp(name, attrs[i].name, len) == 0)
			return attrs[i].attr;
	return ATTR_UNKNOWN;
}

/* strtol(s, end, 10) in the C locale, to the byte: white space, a sign, decimal digits;
 * LONG_MAX or LONG_MIN and errno ERANGE when it overflows; *end = s when there are no
 * digits. glibc's serves every base and locale; this one runs a few times per message
 * and per log entry. */
static long
strtol10(const char *s, char **end)
{
	const char *p = s;
	unsigned long v = 0, limit, cutoff;
	unsigned cutlim;
	int neg = 0, over = 0;

	while (lq_isspace((unsigned char)*p))
		p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!lq_isdigit((unsigned char)*p)) {
		if (end != NULL)
			*end = (char *)s;
		return 0;
	}
	limit = neg ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;
	cutoff = limit / 10;	/* v * 10 + d > limit: v past cutoff, or at it and d past cutlim */
	cutlim = (unsigned)(limit % 10);
	for (; lq_isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (over || v > cutoff || (v == cutoff && d > cutlim))
			over = 1;
		else
			v = v * 10 + d;
	}
	if (end != NULL)
		*end = (char *)p;
	if (over) {
		errno = ERANGE;
		return neg ? LONG_MIN : LONG_MAX;
	}
	return neg ? (long)(0 - v) : (long)v;
}

/* An entry's "offset": where its recipient's record is in the queue file; -1 when it is
 * not a plain positive number (bounce_log_read ignores it then, we cannot tell). */
static long
log_offset(const char *value)
{
	char *end;
	long off;

	errno = 0;
	off = strtol10(value, &end);
	return !lq_isdigit((unsigned char)*value) || *end != '\0' || errno != 0 || off <= 0 ?
	    -1 : off;
}

/*
 * The entries of a defer or bounce log (one format, one reader: bounce_log_read, which
 * showq and the bounce service use for both): entries separated by blank lines, "name =
 * value" lines or an old-style "<addr>: text" line; an entry is complete only when a blank
 * line follows it (bounce(8) appends whole entries, so a half-written last one is not
 * read). fn gets each complete entry's recipient ("" for the null address), status and
 * reason, NULL when the entry has none; the bytes as printable() leaves them (the log's
 * bytes are changed in place). fn returns 0 to go on, else that is returned. A line
 * bounce_log_read warns about and skips (a malformed record, an unknown attribute name) is
 * skipped likewise; when bad is not NULL, the first such line is put there (LQ_ECORRUPT,
 * "line N: ..."), which stays LQ_OK otherwise. When where is not NULL, it says before each
 * call of fn where that entry is and the rest that rewriting the log needs
 * (drop_logged_rcpts).
 */
typedef int (*log_entry_fn)(const char *rcpt, const char *status, const char *reason,
    void *arg);

struct log_entry {
	size_t start, end;	/* its bytes in the log: its first line .. after its blank line */
	long offset;		/* its "offset", the recipient record's; 0 when it has none */
	int unreadable;		/* a line bounce_log_read would warn about: we cannot tell it all */
};

static int
log_entries(struct lq_buf *log, log_entry_fn fn, void *arg, struct lq_err *bad,
    struct log_entry *where)
{
	char *p = log->data, *end = p + log->len;
	const char *addr = NULL, *status = NULL, *why = NULL;
	unsigned long lineno = 0;
	int found = 0, rc;
	struct log_entry e = { 0 };

	while (p < end) {
		char *line = p, *eol, *nl = log_line_at(p, end, &eol), *name, *value, *gt;
		const char *wrong = NULL;
		int namelen;

		if (nl == NULL)
			break;		/* the last line has no newline: no blank line follows */
		p = nl + 1;
		lineno++;
		if (line[0] == '\0') {
			e.end = (size_t)(p - log->data);
			if (where != NULL)
				*where = e;
			if (found && (rc = fn(addr, status, why, arg)) != 0)
				return rc;
			found = 0;
			addr = status = why = NULL;
			continue;
		}
		if (!found)
			e = (struct log_entry){ .start = (size_t)(line - log->data) };
		if (eol != nl)	/* printable() stopped at a NUL in the line */
			e.unreadable = 1;
		found = 1;
		if (lq_isalnum((unsigned char)line[0])) {
			if ((namelen = split_nameval(line, eol, &name, &value)) < 0) {
				wrong = "malformed record";
			} else {
				switch (log_attribute(name, (size_t)namelen)) {
				case ATTR_RECIPIENT:
					addr = value;
					break;
				case ATTR_STATUS:
					status = value;
					break;
				case ATTR_REASON:
					why = value;
					break;
				case ATTR_OFFSET:	/* (only where is told of it) */
					if (where != NULL)
						e.unreadable |= (e.offset = log_offset(value)) < 0;
					break;
				case ATTR_OTHER:
					break;
				case ATTR_UNKNOWN:
					wrong = "unknown attribute name";
					break;
				}
			}
		} else if (line[0] == '<' && (gt = strstr(line + 1, ">: ")) != NULL) {
			*gt = '\0';
			addr = line + 1;
			for (why = gt + 2; *why && lq_isspace((unsigned char)*why); why++)
				;
		} else {
			wrong = "malformed record";
		}
		if (wrong != NULL) {
			e.unreadable = 1;
			if (bad != NULL && bad->code == LQ_OK)
				lq_err_set(bad, LQ_ECORRUPT, "line %lu: %s: %.60s", lineno, wrong,
				    line);
		}
	}
	return 0;
}

/* read_defer_log's state: the recipients, and the duplicate filter of their addresses */
struct logged {
	struct lq_msg *m;
	struct rcpts *l;
	char **f;
	size_t nf, capf;
	struct lq_err *err;
};

static int
logged_one(const char *addr, const char *status, const char *why, void *arg)
{
	struct logged *g = arg;
	struct lq_msg *m = g->m;
	const char *a, *w;

	(void)status;
	/* bounce_log_read's place holders for what the entry lacks */
	a = addr == NULL ? "(recipient address unavailable)" : *addr ? addr : "(MAILER-DAEMON)";
	w = why != NULL && *why ? why : "(description unavailable)";
	if ((a = lq_arena_strndup(m->arena, a, strlen(a))) == NULL ||
	    (w = lq_arena_strndup(m->arena, w, strlen(w))) == NULL)
		return lq_err_set(g->err, LQ_ENOMEM, "out of memory");
	if (g->nf < DUP_FILTER_LIMIT) {
		size_t i;

		for (i = 0; i < g->nf && strcmp(g->f[i], a) != 0; i++)
			;
		if (i == g->nf) {
			if (g->nf == g->capf) {
				size_t cap = g->capf ? g->capf * 2 : 16;
				char **nfp = lq_arena_alloc(m->arena, cap * sizeof *nfp);

				if (nfp == NULL)
					return lq_err_set(g->err, LQ_ENOMEM, "out of memory");
				if (g->nf)
					memcpy(nfp, g->f, g->nf * sizeof *nfp);
				g->f = nfp;
				g->capf = cap;
			}
			g->f[g->nf++] = (char *)a;
		}
	}
	return rcpt_push(m, g->l, a, w, LQ_RCPT_LOGGED, g->err);
}

/*
 * The delay reasons, as Postfix 3.7's showq reads them: one recipient per complete entry
 * of the defer log, and the duplicate filter (sorted addresses) that hides those addresses'
 * own records from the listing. The bounce log is not read (see libqueue/README, "Delay
 * reasons"); a line showq would skip is skipped, as it is from postqueue's listing.
 */
static int
read_defer_log(struct lq_spool *sp, struct lq_msg *m, struct lq_buf *log, struct rcpts *l,
    char ***filter, size_t *nfilter, struct lq_err *err)
{
	struct logged g = { .m = m, .l = l, .err = err };
	int rc;

	if ((rc = read_log_file(sp, LOG_DEFER, m->id, log, err)) == -1)
		return 0;
	if (rc < 0)
		return lq_err_prefix(err, "%s: defer log: ", m->id);
	if (log_entries(log, logged_one, &g, NULL, NULL) != 0)
		return -1;
	if (g.nf > 1)
		qsort(g.f, g.nf, sizeof *g.f, strptr_cmp);
	*filter = g.f;
	*nfilter = g.nf;
	return 0;
}

/* qcat --log's line for one entry, and the log it is from */
struct log_out {
	FILE *out;
	const char *log;
};

static int
log_line(const char *addr, const char *status, const char *why, void *arg)
{
	const struct log_out *o = arg;

	fprintf(o->out, "%s:", o->log);
	if (addr != NULL)
		fprintf(o->out, " recipient=%s", addr);
	if (status != NULL)
		fprintf(o->out, " status=%s", status);
	if (why != NULL)
		fprintf(o->out, " reason=%s", why);
	putc('\n', o->out);
	return 0;
}

/*
 * qcat --log: the defer log and then the bounce log (Postfix 3.11's showq reads them in
 * that order), an entry a line: the log's name and a colon, then the entry's recipient,
 * status and reason as "name=value" with the log's own names (an old-style "<addr>: text"
 * entry gives recipient and reason). Every complete entry, as bounce_log_read reads them;
 * a line it would skip is skipped, and the first one is reported once every entry is
 * written (LQ_ECORRUPT naming the ID, the log and the line): nothing readable is held back.
 */
static int
postfix_write_log(struct lq_spool *sp, struct lq_msg *m, FILE *out, struct lq_err *err)
{
	struct lq_buf log = { 0 };
	struct lq_err bad = { .code = LQ_OK };
	const char *bad_in = NULL;
	int found = 0, rc = 0, l;

	for (l = 0; l < NLOGS; l++) {
		struct log_out o = { out, log_names[l] };

		if ((rc = read_log_file(sp, l, m->id, &log, err)) == -1)
			continue;
		if (rc < 0)
			break;
		found = 1;
		log_entries(&log, log_line, &o, bad_in == NULL ? &bad : NULL, NULL);
		if (bad_in == NULL && bad.code != LQ_OK)
			bad_in = log_names[l];
	}
	lq_buf_free(&log);
	if (rc < -1)
		return lq_err_prefix(err, "%s: %s log: ", m->id, log_names[l]);
	if (ferror(out))
		return lq_err_set(err, LQ_ESYS, "stdout: write error");
	if (!found)
		return lq_err_set(err, LQ_ENOENT, "%s: no defer or bounce log", m->id);
	if (bad_in != NULL) {
		*err = bad;
		return lq_err_prefix(err, "%s: %s log: ", m->id, bad_in);
	}
	return 0;
}

/* ---------------------------------------------------------------- the envelope, as showq reads it */

static long
parse_long(const char *s)
{
	return strtol10(s, NULL);
}

/* sscanf()'s "%ld" at s: white space, then a decimal number (strtol's, with its sign, and
 * held at the limits as glibc's scanf does); where it ends, or NULL when there is none. A
 * record per message is read so: this, not a call of the whole scanf machinery. */
static const char *
scan_long(const char *s, long *v)
{
	char *end;
	long n = strtol10(s, &end);

	if (end == s)
		return NULL;
	*v = n;
	return end;
}

/* atol() of what comes after the seconds' digits: REC_TYPE_TIME_SCAN */
static long
time_usec(const char *s)
{
	while (lq_isspace((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-')
		s++;
	while (lq_isdigit((unsigned char)*s))
		s++;
	return strtol10(s, NULL);
}

/* Where a pending recipient's record is, for marking it done (PF_NOTE_PENDING). */
static int
note_pending(struct lq_msg *m, const char *addr, int64_t off, struct lq_err *err)
{
	struct pf_msg *pm = m->priv;
	void *v = pm->pending;

	if (lq_arena_grow(m, &v, pm->npending, &pm->cappending, sizeof *pm->pending,
	    LQ_RCPT_MAX, "recipients", err) < 0)
		return -1;
	pm->pending = v;
	pm->pending[pm->npending++] = (struct pf_pending){ addr, off };
	return 0;
}

/* The envelope of f into m; log: the buffer for its defer log. */
static int
parse_envelope(struct lq_spool *sp, struct pfile *f, struct lq_msg *m, struct lq_buf *log,
    const struct stat *st, unsigned scanflags, struct lq_err *err)
{
	struct rcpts l = { 0 };
	char **filter = NULL;
	size_t nfilter = 0;
	int sender_seen = 0, size_ok = 0, nrec = 0, first = 0, rc;
	long arrival = 0, c_size = -1, c_offset = -1;
	int64_t msg_size = st->st_size;
	struct rec r;

	while ((rc = rec_get(f, RG_FOLLOW | RG_SKIP_PAD, &r, err)) > 0) {
		if (nrec == 0)
			first = r.type;
		else if (nrec == 1 && !(first == 'C' && r.type == 'T') && first != 'S' &&
		    first != 'F')
			m->flags |= LQ_MSG_POSTDROP;
		nrec++;
		switch (r.type) {
		case 'T':
			if (arrival == 0) {
				arrival = parse_long(r.data);
				m->arrival_usec = time_usec(r.data);
			}
			break;
		case 'C': {
			const char *after_size;

			/* sscanf(r.data, "%ld %ld", &c_size, &c_offset) != 2 */
			if (c_size < 0 && c_offset < 0 &&
			    ((after_size = scan_long(r.data, &c_size)) == NULL ||
			    scan_long(after_size, &c_offset) == NULL))
				c_offset = -1;
			if (!size_ok) {
				size_ok = r.data[strspn(r.data, "0123456789 ")] == '\0' &&
				    (msg_size = parse_long(r.data)) >= 0;
				if (!size_ok)
					msg_size = st->st_size;
			}
			break;
		}
		case 'S':
			if (sender_seen++)
				return corrupt(f, err, r.off, "a second sender record");
			if (r.data[0] == '\0') {
				m->sender = "";
				m->flags |= LQ_MSG_BOUNCE;
			} else if ((m->sender = display_address(m->arena, r.data)) == NULL)
				return lq_err_set(err, LQ_ENOMEM, "out of memory");
			if (!(scanflags & LQ_SCAN_NO_REASONS) &&
			    read_defer_log(sp, m, log, &l, &filter, &nfilter, err) < 0)
				return -1;
			break;
		case 'R':
		case 'D':
		case '/': {
			unsigned flags = 0;
			char *a;

			if (r.type == 'R' && !sender_seen)
				return corrupt(f, err, r.off, "a recipient record before the sender record");
			if ((a = display_address(m->arena, r.data)) == NULL)
				return lq_err_set(err, LQ_ENOMEM, "out of memory");
			if (r.type != 'R')
				flags = LQ_RCPT_DONE;
			else if (nfilter > 0 &&
			    bsearch(&a, filter, nfilter, sizeof *filter, strptr_cmp) != NULL)
				flags = LQ_RCPT_EXTRA | LQ_RCPT_SHADOW;
			if (rcpt_push(m, &l, a, NULL, flags, err) < 0)
				return -1;
			if (r.type == 'R' && (scanflags & PF_NOTE_PENDING) &&
			    note_pending(m, a, r.off, err) < 0)
				return -1;
			break;
		}
		case 'M':
			if (size_ok) {
				/* showq skips the content by the size record; it must land on 'X' */
				int64_t at;

				if (msg_size < 0 || msg_size > f->size - f->pos)
					return corrupt(f, err, r.off, "content size past the end of the file");
				at = f->pos + msg_size;	/* (only now: it cannot overflow) */
				/* where postcat jumps to: the same place */
				if (c_offset >= 0 && c_offset != f->pos)
					return corrupt(f, err, r.off,
					    "the size record's content offset is not where the content starts");
				f->pos = at;
				if ((rc = rec_get(f, RG_FOLLOW | RG_SKIP_PAD, &r, err)) < 0)
					return -1;
				if (rc == 0 || r.type != 'X')
					return corrupt(f, err, at,
					    "the size record does not lead to the end of the content");
			}
			break;
		case 'E':
			goto end;
		}
	}
	if (rc < 0)
		return -1;
	return corrupt(f, err, f->pos, "missing end record");
end:
	if (!sender_seen)
		return corrupt(f, err, r.off, "no sender record");
	m->arrival = arrival > 0 ? (time_t)arrival : st->st_mtime;
	m->id_time = m->arrival;
	if (arrival <= 0)
		m->arrival_usec = -1;
	m->size = msg_size;
	m->rcpt = l.v;
	m->nrcpt = l.n;
	return 0;
}

/* ---------------------------------------------------------------- locks */

/*
 * Who holds a flock(), from /proc/locks: taking one ourselves, even for a moment, could make
 * a delivery agent's own non-blocking lock fail. Postfix locks queue files with flock() only
 * (INTERNAL_LOCK on Linux); the POSIX and OFD locks of other programs (qtools acting on a
 * message takes an OFD lock) are not Postfix delivering it. Returns 0, or -1 when the table
 * could not be read.
 */
static int
load_locks(struct postfix *pf)
{
	pf->locks_loaded = 1;
	return lq_locks_load(&pf->locks, LQ_LOCK_FLOCK, NULL);
}

static int
is_locked(struct postfix *pf, const struct stat *st)
{
	return lq_locks_holder(&pf->locks, st) != 0;
}

/* ---------------------------------------------------------------- loading */

/* The file name in dirfd, found at rel; st from lstat. fd: the file already open (st is
 * its fstat then), which load_file closes; or -1. bufs: what it reads into (the spool's, or
 * a scan slot's); in a threaded scan, it touches nothing else that is written. */
static int
load_file(struct lq_spool *sp, int q, int dirfd, const char *rel, const struct stat *st,
    unsigned flags, struct lq_msg *m, int fd, struct lq_buf *bufs, struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	struct pf_msg *pm;
	struct pfile f;
	int rc;

	lq_strlcpy(m->id, strrchr(rel, '/') + 1, sizeof m->id);
	m->queue = queue_names[q];
	if ((pm = lq_arena_alloc(m->arena, sizeof *pm)) == NULL) {
		if (fd >= 0)
			lq_sys_close(fd);
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	}
	memset(pm, 0, sizeof *pm);
	lq_strlcpy(pm->rel, rel, sizeof pm->rel);
	pm->dev = st->st_dev;
	pm->ino = st->st_ino;
	pm->long_layout = pf->long_layout;
	m->priv = pm;
	rc = fd >= 0 ? pfile_adopt(&f, pm, m->id, fd, st, bufs, m->arena, err) :
	    pfile_open(sp, &f, pm, m->id, dirfd, bufs, m->arena, err);
	if (rc < 0)
		return -1;
	rc = parse_envelope(sp, &f, m, &bufs[BUF_LOG], st, flags, err);
	lq_sys_close(f.fd);
	if (rc < 0)
		return -1;
	if (st->st_mode & 0010)
		m->flags |= LQ_MSG_EXPIRED;
	if (q == Q_HOLD)
		m->flags |= LQ_MSG_FROZEN;
	if (q == Q_ACTIVE && (flags & LQ_SCAN_LOCKS)) {
		if (!pf->locks_loaded)
			load_locks(pf);
		if (is_locked(pf, st))
			m->flags |= LQ_MSG_ACTIVE;
	}
	return 0;
}

/*
 * Is st a message Postfix would read (mail_open_ok)? -1 with err when it is not a file. 0: its
 * writer (cleanup; postdrop in maildrop/) has not marked it complete (owner bits rwx) and
 * may have died before it could: INCOMPLETE says so, with incomplete_by(rel).
 */
#define INCOMPLETE "incomplete queue file (%s did not finish it)"

static const char *
incomplete_by(const char *rel)
{
	return strncmp(rel, "maildrop/", 9) == 0 ? "postdrop" : "cleanup";
}

static int
ready(const char *id, const char *rel, const struct stat *st, struct lq_err *err)
{
	if (S_ISLNK(st->st_mode))
		return lq_err_set(err, LQ_ECORRUPT, "%s: %s is a symbolic link, not a queue file",
		    id, rel);
	if (!S_ISREG(st->st_mode))
		return lq_err_set(err, LQ_ECORRUPT, "%s: %s is not a regular file", id, rel);
	return (st->st_mode & S_IRWXU) == S_IRWXU;
}

/*
 * Where Postfix finds ID (postcat -q's search, along the ID's own hash path): its queue, the
 * directory it is in (*dfdp: an fd, closed by the caller unless it is queue_fd(*qp)), its path
 * below the queue directory and its lstat. Whether it is ready is the caller's business.
 * Returns 0, or -1 with err (LQ_ENOENT: in no queue read).
 */
static int
locate(struct lq_spool *sp, const char *id, int *qp, int *dfdp, char rel[REL_MAX],
    struct stat *st, struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	char key[LQ_ID_MAX + 8];

	hash_key(id, key);
	for (size_t i = 0; i < NELEM(search_order); i++) {
		int q = search_order[i], qfd, dfd;
		size_t n;

		if (!(pf->queues & (1u << q)) || (qfd = queue_fd(sp, q)) < 0)
			continue;
		n = (size_t)snprintf(rel, REL_MAX, "%s/", queue_names[q]);
		dfd = qfd;
		for (int depth = 0; depth <= DEPTH_MAX; depth++) {
			char name[2] = { hash_char(key, depth), '\0' };
			int sub;

			if (fstatat(dfd, id, st, AT_SYMLINK_NOFOLLOW) == 0) {
				lq_strlcpy(rel + n, id, REL_MAX - n);
				*qp = q;
				*dfdp = dfd;
				return 0;
			}
			if (q == Q_MAILDROP || depth == DEPTH_MAX ||
			    (sub = lq_open_dir(dfd, name, NULL)) < 0)
				break;
			if (dfd != qfd)
				lq_sys_close(dfd);
			dfd = sub;
			n += (size_t)snprintf(rel + n, REL_MAX - n, "%s/", name);
		}
		if (dfd != qfd)
			lq_sys_close(dfd);
	}
	return lq_err_set(err, LQ_ENOENT, "%s: no such message", id);
}

static int
postfix_load(struct lq_spool *sp, const char *id, unsigned flags, struct lq_msg *m,
    struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	char rel[REL_MAX];
	struct stat st;
	int q, dfd, r;

	if (flags & LQ_SCAN_LOCKS)
		pf->locks_loaded = 0;
	if (locate(sp, id, &q, &dfd, rel, &st, err) < 0)
		return -1;
	if ((r = ready(id, rel, &st, err)) > 0)
		r = load_file(sp, q, dfd, rel, &st, flags, m, -1, pf->bufs, err);
	else if (r == 0)
		r = lq_err_set(err, LQ_ENOENT, "%s: no such message: %s is an " INCOMPLETE, id,
		    rel, incomplete_by(rel));
	if (dfd != queue_fd(sp, q))
		lq_sys_close(dfd);
	return r;
}

/* ---------------------------------------------------------------- scanning */

struct order {			/* LQ_SCAN_REVERSE: newest first */
	struct lq_names paths;
	struct stamp {
		time_t t;
		long usec;
		size_t i;
	} *v;
	size_t n, cap;
};

struct walk {
	struct lq_spool *sp;
	struct lq_scan *sc;
	struct lq_err *err;
	int q;
	struct order *order;	/* collecting instead of calling back */
	int rc;
	struct lq_pipeline *pl;	/* the loading workers, or NULL: each file loaded here */
};

/* One queue file of a scan: where it is, and what to check and read of it. */
struct scan_item {
	int ordered;		/* newest first, the second pass: found again by its path */
	int dfd;		/* the walk: the directory it was found in */
	int q, depth;
	unsigned char type;	/* readdir's d_type */
	unsigned flags;		/* the scan's */
	char key_dirs[DEPTH_MAX + 1];	/* the hash directories it was found in */
	char rel[REL_MAX];	/* its path below the queue directory: "deferred/A/ID" */
};

static void
report(struct walk *w, const char *id, const struct lq_err *e)
{
	w->sc->bad++;
	if (w->sc->problem)
		w->sc->problem(id, e, w->sc->arg);
}

/* A problem the walk itself finds (not a load's): the files put before it are handed over
 * first, so that the reports keep --jobs 1's order. -1 when that stopped the scan. */
static int
report_in_order(struct walk *w, const char *id, const struct lq_err *e)
{
	if (w->pl != NULL && (w->rc = lq_pipeline_finish(w->pl, w->err)) != 0)
		return -1;
	report(w, id, e);
	return 0;
}

static int
collect(struct order *o, const char *rel, const struct lq_msg *m)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 1024;
		struct stamp *v = reallocarray(o->v, cap, sizeof *v);

		if (v == NULL)
			return -1;
		o->v = v;
		o->cap = cap;
	}
	if (lq_names_add(&o->paths, rel, strlen(rel)) < 0)
		return -1;
	o->v[o->n] = (struct stamp){ m->arrival, m->arrival_usec, o->n };
	o->n++;
	return 0;
}

/*
 * A file the walk found in it->dfd: 1 loaded into m, 0 when it is not one to list (an
 * incomplete queue file, as showq skips it), -1 with e. Open first, then fstat: one system
 * call fewer than a stat before the open. What readdir says is no file (a FIFO, a socket, a
 * device) is never opened. What was not opened gets an lstat, to tell an incomplete queue
 * file or something else (named) from a queue file that could not be opened (EMFILE,
 * EACCES): that one is named too, never left out of a listing in silence.
 */
static int
load_found(struct lq_spool *sp, const struct scan_item *it, struct lq_msg *m,
    struct lq_buf *bufs, struct lq_err *e)
{
	const char *rel = it->rel, *name = strrchr(rel, '/') + 1;
	struct lq_err re;
	struct stat st;
	char key[LQ_ID_MAX + 8];
	int r, fd = -1;

	if (it->type == DT_REG || it->type == DT_UNKNOWN)
		fd = lq_open_stat(it->dfd, name, &st, e);
	else
		lq_err_set(e, LQ_ECORRUPT, "%s: %s is not a regular file", name, rel);
	if (fd < 0 && (e->code == LQ_ENOENT ||
	    fstatat(it->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)) {
		if (e->code == LQ_ENOENT || errno == ENOENT)
			return lq_err_set(e, LQ_ENOENT, "%s: vanished", name);
		return lq_err_sys(e, "%s: %s", name, rel);
	}
	if ((r = ready(name, rel, &st, &re)) <= 0) {
		if (fd >= 0)
			lq_sys_close(fd);
		if (r == 0)
			return 0;
		*e = re;
		return -1;
	}
	if (fd < 0) {
		if (e->sys_errno != 0) {	/* named where it is, as the other problems are */
			int saved = e->sys_errno;

			lq_err_set(e, e->code, "%s: %s: %s", name, rel, strerror(saved));
			e->sys_errno = saved;	/* the tools tell permission from other causes */
		}
		return -1;
	}
	hash_key(name, key);
	for (int i = 0; i < it->depth; i++)
		if (it->key_dirs[i] != hash_char(key, i)) {
			char want[2 * DEPTH_MAX + 1];
			int k = 0;

			for (int j = 0; j < it->depth; j++) {
				want[k++] = hash_char(key, j);
				want[k++] = '/';
			}
			want[k] = '\0';
			lq_sys_close(fd);
			return lq_err_set(e, LQ_ECORRUPT,
			    "%s: %s is in the wrong hash directory (Postfix looks in %s/%s)", name,
			    rel, queue_names[it->q], want);
		}
	return load_file(sp, it->q, it->dfd, rel, &st, it->flags, m, fd, bufs, e) < 0 ? -1 : 1;
}

/* A file of a newest-first scan's second pass, found again by its path (it may have moved
 * since the walk found it: then it vanished): 1 loaded into m, or -1 with e. */
static int
load_again(struct lq_spool *sp, const struct scan_item *it, struct lq_msg *m,
    struct lq_buf *bufs, struct lq_err *e)
{
	char dir[REL_MAX], *slash;
	int dfd = sp->dirfd;
	struct stat st;

	/* the directory again, then the file */
	lq_strlcpy(dir, it->rel, sizeof dir);
	slash = strrchr(dir, '/');
	*slash = '\0';
	for (char *p = dir, *s; dfd >= 0 && p != NULL; p = s) {
		int sub;

		if ((s = strchr(p, '/')) != NULL)
			*s++ = '\0';
		sub = lq_open_dir(dfd, p, NULL);
		if (dfd != sp->dirfd)
			lq_sys_close(dfd);
		dfd = sub;
	}
	if (dfd < 0 || fstatat(dfd, slash + 1, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode)) {
		if (dfd >= 0)
			lq_sys_close(dfd);
		return lq_err_set(e, LQ_ENOENT, "%s: vanished", slash + 1);
	}
	lq_sys_close(dfd);
	return load_file(sp, it->q, -1, it->rel, &st, it->flags, m, -1, bufs, e) < 0 ? -1 : 1;
}

static int
load_item(struct lq_spool *sp, const struct scan_item *it, struct lq_msg *m,
    struct lq_buf *bufs, struct lq_err *e)
{
	return it->ordered ? load_again(sp, it, m, bufs, e) : load_found(sp, it, m, bufs, e);
}

/* A file loaded (m) or not (NULL, e saying why; LQ_OK: not one to list) handed over to
 * the scan: counted, reported, collected or given to the caller. In the scan thread only,
 * in the walk's order. */
static int
hand_over(struct walk *w, const struct scan_item *it, struct lq_msg *m,
    const struct lq_err *e, struct lq_err *err)
{
	struct lq_scan *sc = w->sc;

	if (m == NULL && e->code == LQ_OK)
		return 0;		/* incomplete, as showq skips it */
	if (!it->ordered)
		sc->seen++;		/* (the second pass: counted by the first) */
	if (m == NULL) {
		if (e->code == LQ_ENOENT)
			sc->vanished++;
		else if (e->code == LQ_ENOMEM) {
			*err = *e;
			return w->rc = -1;
		} else
			report(w, strrchr(it->rel, '/') + 1, e);
		return 0;
	}
	if (w->order != NULL && !it->ordered) {
		if (collect(w->order, it->rel, m) < 0) {
			lq_err_set(err, LQ_ENOMEM, "out of memory");
			return w->rc = -1;
		}
		return 0;
	}
	return w->rc = sc->each(m, sc->arg);
}

/* The pipeline's load: in any thread, into the slot's message, reading with the thread's
 * scratch buffers (what the message keeps of its files is copied into its arena). */
static int
pipeline_load(struct lq_spool *sp, const void *item, struct lq_slot *slot,
    struct lq_buf *scratch, struct lq_msg **mp, struct lq_err *err)
{
	struct lq_msg *m = lq_slot_begin(sp, slot);
	int r = load_item(sp, item, m, scratch, err);

	if (r == 0)
		err->code = LQ_OK;
	else if (r > 0)
		*mp = m;
	return r < 0 ? -1 : 0;
}

static int
pipeline_handover(void *arg, const void *item, struct lq_msg *m, struct lq_err *e,
    struct lq_err *err)
{
	return hand_over(arg, item, m, e, err);
}

static const struct lq_pipeline_ops postfix_pipeline = {
	.item_size = sizeof(struct scan_item),
	.load = pipeline_load,
	.handover = pipeline_handover,
};

/* The next file of a scan, to the pipeline when there is one, else loaded and handed over
 * here. Non-zero: the scan stops (w->rc). */
static int
scan_next(struct walk *w, const struct scan_item *it)
{
	struct postfix *pf = w->sp->priv;
	struct lq_msg *m;
	struct lq_err e;
	int r;

	if (w->pl != NULL)
		return lq_pipeline_put(w->pl, it, w->err);
	m = lq_msg_begin(w->sp);
	if ((r = load_item(w->sp, it, m, pf->bufs, &e)) <= 0) {
		if (r == 0)
			e.code = LQ_OK;
		m = NULL;
	}
	return hand_over(w, it, m, &e, w->err);
}

/* One directory entry that looks like a queue file; returns -1 to stop the walk. */
static int
visit(struct walk *w, int dfd, const char *name, unsigned char type, const char *rel,
    int depth, const char *key_dirs)
{
	struct scan_item it = { .dfd = dfd, .q = w->q, .depth = depth, .type = type,
		.flags = w->sc->flags };
	struct lq_err e;
	struct stat st;

	if (w->q == Q_CORRUPT) {	/* never opened: Postfix set it aside as damaged */
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		w->sc->seen++;
		lq_err_set(&e, LQ_ECORRUPT,
		    "%s: %s: Postfix set this queue file aside as damaged (not read)", name, rel);
		return report_in_order(w, name, &e);
	}
	memcpy(it.key_dirs, key_dirs, depth);
	lq_strlcpy(it.rel, rel, sizeof it.rel);
	return scan_next(w, &it) != 0 ? -1 : 0;
}

/*
 * The queues a scan walks, and their first-level hash directories (Postfix hashes on hex
 * digits), opened before its loading threads start: the copies of the descriptor table
 * that warm workers take then hold them, and the walk does not start the workers again
 * for each hash directory (lq_pipeline_new_dir; 16 of them in the default deferred/). Not
 * with --jobs 1, nor when the limit on open files has no room for them beside the
 * threads' (lq_threads_fd_budget): the walk then opens each as it goes, as --jobs 1 does
 * (and a low limit leaves it as many descriptors as --jobs 1 has). 1: they were opened.
 */
static int
open_queue_dirs(struct lq_spool *sp)
{
	struct postfix *pf = sp->priv;
	unsigned want = 0;

	for (int q = 0; q < NQUEUES; q++)
		if (pf->queues & (1u << q))
			/* the queue, and (but maildrop, which is flat) a directory per digit */
			want += q == Q_MAILDROP ? 1 : 1 + (unsigned)strlen(HASH_DIGITS);
	if (sp->jobs <= 1 || lq_threads_fd_budget(want) < want)
		return 0;
	for (int q = 0; q < NQUEUES; q++) {
		if (!(pf->queues & (1u << q)) || queue_fd(sp, q) < 0 || q == Q_MAILDROP)
			continue;
		for (const char *c = HASH_DIGITS; *c; c++) {
			char name[2] = { *c, '\0' };

			pf->qsub[q][(unsigned char)*c] = lq_open_dir(pf->qfd[q], name, NULL);
		}
	}
	return 1;
}

static void
close_queue_dirs(struct postfix *pf)
{
	for (int q = 0; q < NQUEUES; q++)
		for (const char *c = HASH_DIGITS; *c; c++)
			if (pf->qsub[q][(unsigned char)*c] >= 0) {
				lq_sys_close(pf->qsub[q][(unsigned char)*c]);
				pf->qsub[q][(unsigned char)*c] = -1;
			}
}

/*
 * mail_scan_dir_next(): readdir order, and a one-character name is a subdirectory entered
 * at once (depth first). maildrop is flat (scan_dir_next). A threaded scan hands each file
 * to the pipeline as it finds it: the window of files being loaded is how far ahead it
 * reads the directory. dfd was opened before the loading threads started (kept: a queue,
 * or a hash directory open_queue_dirs opened), or else here, as the walk goes: then the
 * warm workers start again with it in their tables (lq_pipeline_new_dir), and everything
 * found in it is handed over before it is closed, as the loads use it.
 */
static int
walk_dir(struct walk *w, int dfd, int kept, char *rel, size_t rellen, int depth,
    char *key_dirs)
{
	struct postfix *pf = w->sp->priv;
	struct dirent *de;
	int fd, stop = 0;
	DIR *d;

	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			lq_sys_close(fd);
		w->rc = -1;
		rel[rellen ? rellen - 1 : 0] = '\0';
		return lq_err_sys(w->err, "%s/%s", w->sp->dir, rel);
	}
	rewinddir(d);
	if (!kept)
		lq_pipeline_new_dir(w->pl);	/* its messages are put next */
	while (!stop && (de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		size_t n = strlen(name);

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (n == 1 && w->q != Q_MAILDROP) {
			struct lq_err e;
			int sub = depth == 0 ? pf->qsub[w->q][(unsigned char)name[0]] : -1;
			int sub_kept = sub >= 0;

			lq_strlcpy(rel + rellen, name, REL_MAX - rellen);
			if (depth >= DEPTH_MAX) {
				lq_err_set(&e, LQ_ELIMIT, "%s: hashed deeper than %d levels: not read",
				    rel, DEPTH_MAX);
				stop = report_in_order(w, rel, &e) < 0;
				continue;
			}
			if (!sub_kept && (sub = lq_open_dir(dfd, name, &e)) < 0) {
				if (e.code == LQ_ECORRUPT) {
					lq_err_set(&e, LQ_ECORRUPT,
					    "%s: not a hash directory (a symbolic link or a file): not read",
					    rel);
				} else if (e.code != LQ_ENOENT) {	/* no descriptor left, no access */
					errno = e.sys_errno;
					lq_err_sys(&e, "%s/%s", w->sp->dir, rel);
				}
				if (e.code != LQ_ENOENT)
					stop = report_in_order(w, rel, &e) < 0;
				continue;
			}
			key_dirs[depth] = name[0];
			rel[rellen + 1] = '/';
			rel[rellen + 2] = '\0';
			stop = walk_dir(w, sub, sub_kept, rel, rellen + 2, depth + 1, key_dirs) < 0;
			if (!sub_kept)
				lq_sys_close(sub);
			continue;
		}
		if (!postfix_valid_id(name))
			continue;	/* temporary files (with a '.'), anything not a queue file */
		lq_strlcpy(rel + rellen, name, REL_MAX - rellen);
		stop = visit(w, dfd, name, de->d_type, rel, depth, key_dirs) < 0;
	}
	closedir(d);
	if (!stop && !kept && w->pl != NULL && (w->rc = lq_pipeline_finish(w->pl, w->err)) != 0)
		stop = 1;
	/* the scan stops: the workers are joined before a caller closes the directory that
	 * files they may still be loading are in */
	if (stop && w->pl != NULL) {
		lq_pipeline_stop(w->pl);
		w->pl = NULL;
	}
	return stop ? -1 : 0;
}

static int
stamp_cmp(const void *a, const void *b)
{
	const struct stamp *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? 1 : -1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? 1 : -1;
	return (x->i > y->i) - (x->i < y->i);
}

static int
postfix_scan(struct lq_spool *sp, struct lq_scan *sc, struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	struct order order = { 0 };
	struct walk w = { sp, sc, err, 0, NULL, 0, NULL };
	char rel[REL_MAX], key_dirs[DEPTH_MAX + 1];
	int kept;

	/* who is being delivered: read once, before the loading threads start (they only
	 * look it up) */
	if ((sc->flags & LQ_SCAN_LOCKS) && load_locks(pf) < 0) {
		struct lq_err e;

		lq_err_sys(&e, "/proc/locks (who is delivering what) cannot be read");
		report(&w, "/proc/locks", &e);
	}
	if ((sc->flags & LQ_SCAN_REVERSE) && !(sc->flags & LQ_SCAN_UNSORTED))
		w.order = &order;
	if (!(sc->flags & LQ_SCAN_NO_REASONS))
		open_log_dirs(sp, LOG_DEFER);
	kept = open_queue_dirs(sp);
	w.pl = lq_pipeline_start(sp, &postfix_pipeline, &w);
	for (size_t i = 0; i < NELEM(showq_order) && w.rc == 0; i++) {
		int q = showq_order[i], fd;
		size_t n;

		if (!(pf->queues & (1u << q)) || (fd = queue_fd(sp, q)) < 0)
			continue;
		w.q = q;
		n = (size_t)snprintf(rel, sizeof rel, "%s/", queue_names[q]);
		if (walk_dir(&w, fd, kept, rel, n, 0, key_dirs) < 0 && w.rc == 0)
			break;
	}
	if (w.rc == 0 && w.pl != NULL)
		w.rc = lq_pipeline_finish(w.pl, err);
	if (w.order != NULL && w.rc == 0) {
		if (order.n > 1)
			qsort(order.v, order.n, sizeof *order.v, stamp_cmp);
		for (size_t i = 0; i < order.n && w.rc == 0; i++) {
			struct scan_item it = { .ordered = 1, .dfd = -1, .flags = sc->flags };
			const char *path = order.paths.pool + order.paths.off[order.v[i].i];

			it.q = queue_index(path, strcspn(path, "/"));
			lq_strlcpy(it.rel, path, sizeof it.rel);
			scan_next(&w, &it);
		}
		if (w.rc == 0 && w.pl != NULL)
			w.rc = lq_pipeline_finish(w.pl, err);
	}
	/* the workers are joined before the locks table goes, and the directories they use */
	lq_pipeline_stop(w.pl);
	close_queue_dirs(pf);
	free(order.v);
	lq_names_free(&order.paths);
	return w.rc;
}

/* ---------------------------------------------------------------- postcat */

enum { PC_ENV = 1, PC_HEADER = 2, PC_BODY = 4 };
enum { ST_ENV, ST_HEADER, ST_BODY };

struct sink {
	FILE *out;		/* postcat's own output (envelope records, markers) */
	lq_part_fn fn;		/* or headers and body to a callback */
	void *arg;
	unsigned want;		/* the callback's parts (enum lq_part) */
	struct lq_buf *hdr;	/* the header being collected (callback only) */
	char body[8192];
	size_t blen;
	int rc;
};

static int
sink_flush_body(struct sink *s)
{
	if (s->fn != NULL && s->blen > 0 && s->rc == 0 && (s->want & LQ_PART_BODY))
		s->rc = s->fn(LQ_PART_BODY, s->body, s->blen, 0, s->arg);
	s->blen = 0;
	return s->rc;
}

static int
sink_flush_header(struct sink *s)
{
	if (s->fn != NULL && s->hdr->len > 0 && s->rc == 0 && (s->want & LQ_PART_HEADER))
		s->rc = s->fn(LQ_PART_HEADER, s->hdr->data, s->hdr->len, 0, s->arg);
	s->hdr->len = 0;
	return s->rc;
}

/* text of the header or body, as postcat writes it */
static int
sink_text(struct sink *s, int state, const char *p, size_t n, int newline, int new_header)
{
	if (s->fn == NULL) {
		fwrite(p, 1, n, s->out);
		if (newline)
			putc('\n', s->out);
		return 0;
	}
	if (state == ST_HEADER) {
		if (new_header && sink_flush_header(s) != 0)
			return s->rc;
		if (lq_buf_append(s->hdr, p, n) < 0 || (newline && lq_buf_append(s->hdr, "\n", 1) < 0))
			return s->rc = -1;
		return 0;
	}
	while (n > 0 || newline) {
		size_t k;

		if (s->blen == sizeof s->body && sink_flush_body(s) != 0)
			return s->rc;
		if (n == 0) {
			s->body[s->blen++] = '\n';
			newline = 0;
			continue;
		}
		k = sizeof s->body - s->blen;
		if (k > n)
			k = n;
		memcpy(s->body + s->blen, p, k);
		s->blen += k;
		p += k;
		n -= k;
	}
	return 0;
}

/* is_header_buf(): "name:" with optional blanks before the colon */
static int
is_header(const char *s)
{
	int state = 0;		/* 0 start, 1 in name, 2 blanks after name */

	for (const unsigned char *cp = (const unsigned char *)s;; cp++) {
		int c = *cp;

		switch (c) {
		case ' ':
		case '\t':
			if (state == 1)
				state = 2;
			if (state == 2)
				continue;
			return 0;
		case ':':
			return state == 1 || state == 2;
		default:
			if (c == 0 || c >= 0x80 || lq_iscntrl(c))
				return 0;
			if (state == 0)
				state = 1;
			if (state == 1)
				continue;
			return 0;
		}
	}
}

static const char *
rec_type_name(int type)
{
	static const struct {
		int type;
		const char *name;
	} names[] = {
		{ 'C', "message_size" }, { 'T', "message_arrival_time" },
		{ 'c', "queue_file_create_time" }, { 'F', "sender_fullname" },
		{ 'I', "content_inspector" }, { 'L', "content_filter" }, { 'S', "sender" },
		{ 'D', "done_recipient" }, { '/', "canceled_recipient" }, { 'R', "recipient" },
		{ 'O', "original_recipient" }, { 'W', "warning_message_time" },
		{ 'A', "named_attribute" }, { 'p', "pointer_record" }, { 'K', "killed_record" },
		{ 'M', "message_content" }, { 'N', "regular_text" }, { 'w', "padding" },
		{ 'X', "extracted_info" }, { 'r', "return_receipt" }, { 'e', "errors_to" },
		{ 'P', "priority" }, { 'V', "verp_delimiters" }, { 'E', "message_end" },
		{ '>', "redirect_to" }, { 'f', "flags" }, { '<', "dsn_return_flags" },
		{ 'i', "dsn_envelope_id" }, { 'o', "dsn_original_recipient" },
		{ 'n', "dsn_notify_flags" },
	};

	for (size_t i = 0; i < NELEM(names); i++)
		if (names[i].type == type)
			return names[i].name;
	return "unknown_record_type";
}

/* asctime_r(tm, buf) (buf: 26 bytes or more), written here for the years 1000 to 9999
 * (glibc's goes through snprintf, and the listing shows a time per message); another year,
 * or a field out of its range, is left to asctime_r itself. */
static char *
asctime_of(const struct tm *tm, char *buf)
{
	static const char days[] = "SunMonTueWedThuFriSat", months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int year;

	if (tm->tm_year < 1000 - 1900 || tm->tm_year > 9999 - 1900 || tm->tm_wday < 0 ||
	    tm->tm_wday > 6 || tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1 ||
	    tm->tm_mday > 31 || tm->tm_hour < 0 || tm->tm_hour > 23 || tm->tm_min < 0 ||
	    tm->tm_min > 59 || tm->tm_sec < 0 || tm->tm_sec > 60)
		return asctime_r(tm, buf);
	/* "%.3s %.3s%3d %.2d:%.2d:%.2d %d\n" */
	year = tm->tm_year + 1900;
	memcpy(buf, days + 3 * tm->tm_wday, 3);
	buf[3] = ' ';
	memcpy(buf + 4, months + 3 * tm->tm_mon, 3);
	buf[7] = ' ';
	buf[8] = tm->tm_mday < 10 ? ' ' : (char)('0' + tm->tm_mday / 10);
	buf[9] = (char)('0' + tm->tm_mday % 10);
	buf[10] = ' ';
	buf[11] = (char)('0' + tm->tm_hour / 10);
	buf[12] = (char)('0' + tm->tm_hour % 10);
	buf[13] = ':';
	buf[14] = (char)('0' + tm->tm_min / 10);
	buf[15] = (char)('0' + tm->tm_min % 10);
	buf[16] = ':';
	buf[17] = (char)('0' + tm->tm_sec / 10);
	buf[18] = (char)('0' + tm->tm_sec % 10);
	buf[19] = ' ';
	buf[20] = (char)('0' + year / 1000);
	buf[21] = (char)('0' + year / 100 % 10);
	buf[22] = (char)('0' + year / 10 % 10);
	buf[23] = (char)('0' + year % 10);
	buf[24] = '\n';
	buf[25] = '\0';
	return buf;
}

static void
print_time(FILE *out, const char *label, time_t t)
{
	char buf[64];
	struct tm tm;

	if (localtime_r(&t, &tm) != NULL && asctime_of(&tm, buf) != NULL)
		fprintf(out, "%s: %s", label, buf);
	else
		fprintf(out, "%s: (time %lld)\n", label, (long long)t);
}

/* postcat's jumps by the size record (to off + len) go forward (or it could go round for
 * ever) */
static int
seek_forward(struct pfile *f, int64_t off, int64_t len, struct lq_err *err)
{
	int64_t to;

	if (len > INT64_MAX - off)
		return corrupt(f, err, f->pos, "the size record points past any file");
	to = off + len;
	if (to < f->pos)
		return corrupt(f, err, f->pos, "the size record points back into the file");
	f->pos = to;
	return 0;
}

/*
 * postcat's state machine (postcat -q with -e, -h, -b): the envelope records with the
 * markers between the sections, or the text of the header and body. The file was checked
 * when it was loaded; a record error now means it changed meanwhile.
 */
static int
postcat(struct lq_spool *sp, struct lq_msg *m, unsigned flags, struct sink *s,
    struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	struct pf_msg *pm = m->priv;
	int state = ST_ENV, do_print = flags & PC_ENV, prev_type = 0, rc;
	long data_offset = -1, data_size = -1;
	struct pfile f;
	struct rec r;

	if (pfile_open(sp, &f, pm, m->id, -1, pf->bufs, m->arena, err) < 0)
		return -1;
	if (s->fn != NULL) {
		s->hdr = &pf->hdr;
		pf->hdr.len = 0;
	}
	if ((rc = pf_getc(&f)) >= 0) {
		if (strchr("MCTcFILSDRO/WVA>K<ion", rc) == NULL) {
			lq_sys_close(f.fd);
			return lq_err_set(err, LQ_ECORRUPT, "%s: %s: not a valid queue file", m->id,
			    pm->rel);
		}
		f.pos = 0;
	}
	if (flags & PC_ENV)
		fprintf(s->out, "*** ENVELOPE RECORDS %s ***\n", pm->rel);
	while (s->rc == 0 && (rc = rec_get(&f, RG_FOLLOW | RG_SKIP_PAD, &r, err)) > 0) {
		int type = r.type;

		if (type == 'L' || type == 'N') {
			if (state == ST_HEADER && (flags & (PC_HEADER | PC_BODY)) && prev_type != 'L' &&
			    !(is_header(r.data) || r.data[0] == ' ' || r.data[0] == '\t')) {
				state = ST_BODY;
				if (s->fn != NULL && (sink_flush_header(s) != 0 ||
				    !(s->want & LQ_PART_BODY)))
					break;
				do_print = flags & PC_BODY;
				if (do_print == 0 && (flags & PC_ENV) == 0)
					break;
				if (do_print == 0 && (flags & PC_ENV) && data_offset >= 0 &&
				    data_size >= 0 && seek_forward(&f, data_offset, data_size, err) < 0) {
					rc = -1;
					break;
				}
			}
		} else if (type == 'M') {
			if (flags & PC_ENV)
				fprintf(s->out, "*** MESSAGE CONTENTS %s ***\n", pm->rel);
			if ((flags & (PC_HEADER | PC_BODY)) == 0 && data_offset >= 0 &&
			    data_size >= 0 && seek_forward(&f, data_offset, data_size, err) < 0) {
				rc = -1;
				break;
			}
			state = ST_HEADER;
			do_print = flags & PC_HEADER;
			continue;
		} else if (type == 'X') {
			if (do_print && prev_type == 'L')
				sink_text(s, state, "", 0, 1, 0);
			if (flags & PC_ENV)
				fprintf(s->out, "*** HEADER EXTRACTED %s ***\n", pm->rel);
			state = ST_ENV;
			do_print = flags & PC_ENV;
			if (do_print == 0)
				break;
			continue;
		} else if (type == 'E') {
			if (flags & PC_ENV)
				fprintf(s->out, "*** MESSAGE FILE END %s ***\n", pm->rel);
			break;
		} else if (type == 'C') {
			if (do_print && s->fn == NULL)
				fprintf(s->out, "%s: %s\n", rec_type_name(type), r.data);
			if (data_size < 0 && data_offset < 0) {
				if (sscanf(r.data, "%ld %ld", &data_size, &data_offset) != 2 ||
				    data_offset <= 0 || data_size <= 0) {
					/* postcat warns and goes on with what sscanf() stored */
				}
				if ((flags & PC_ENV) == 0) {
					f.pos = data_offset;
					state = ST_HEADER;
					do_print = flags & PC_HEADER;
				}
			}
			continue;
		}
		if (do_print == 0)
			continue;
		if (s->fn != NULL && type != 'L' && type != 'N') {
			/* a record that is not text inside the content: postcat prints it as an
			 * envelope line; a callback (s->out NULL) is given text only */
			prev_type = type;
			continue;
		}
		switch (type) {
		case 'T':
			print_time(s->out, rec_type_name(type), (time_t)parse_long(r.data));
			break;
		case 'W':
			print_time(s->out, rec_type_name(type), (time_t)parse_long(r.data));
			break;
		case 'L':
			if (state == ST_ENV) {
				fprintf(s->out, "%s: ", rec_type_name(type));
				fwrite(r.data, 1, r.len, s->out);
				putc('\n', s->out);
				type = 0;
			} else
				sink_text(s, state, r.data, r.len, 0,
				    prev_type != 'L' && r.data[0] != ' ' && r.data[0] != '\t');
			break;
		case 'N':
			if (state == ST_ENV) {
				fwrite(r.data, 1, r.len, s->out);
				putc('\n', s->out);
			} else
				sink_text(s, state, r.data, r.len, 1,
				    prev_type != 'L' && r.data[0] != ' ' && r.data[0] != '\t');
			break;
		case 'A': {
			char *name, *value;

			if (split_nameval(r.data, r.data + strlen(r.data), &name, &value) < 0)
				break;	/* postcat warns on stderr */
			if (strcmp(name, "create_time") == 0)
				print_time(s->out, "create_time", (time_t)parse_long(value));
			else
				fprintf(s->out, "%s: %s=%s\n", rec_type_name(type), name, value);
			break;
		}
		default:
			fprintf(s->out, "%s: %s\n", rec_type_name(type), r.data);
			break;
		}
		prev_type = type;
	}
	lq_sys_close(f.fd);
	if (rc < 0)
		return -1;
	if (s->fn != NULL) {
		if (state == ST_HEADER)
			sink_flush_header(s);
		sink_flush_body(s);
		return s->rc;
	}
	return ferror(s->out) ? lq_err_sys(err, "writing %s", m->id) : 0;
}

static int
postfix_read(struct lq_spool *sp, struct lq_msg *m, unsigned parts, lq_part_fn fn, void *arg,
    struct lq_err *err)
{
	struct sink s = { .fn = fn, .arg = arg, .want = parts };

	/* postcat -h -b's split of header and body, whichever part is wanted: postcat -b alone
	 * takes the rest of a header line longer than a record for the start of the body */
	if ((parts & (LQ_PART_HEADER | LQ_PART_BODY)) == 0)
		return 0;
	return postcat(sp, m, PC_HEADER | PC_BODY, &s, err);
}

static int
postfix_write_envelope(struct lq_spool *sp, struct lq_msg *m, FILE *out, struct lq_err *err)
{
	struct sink s = { .out = out };

	return postcat(sp, m, PC_ENV, &s, err);
}

static int
postfix_write_view(struct lq_spool *sp, struct lq_msg *m, unsigned sections, FILE *out,
    struct lq_err *err)
{
	struct sink s = { .out = out };
	unsigned flags = 0;

	if (sections & LQ_VIEW_ENVELOPE)
		flags |= PC_ENV;
	if (sections & LQ_PART_HEADER)
		flags |= PC_HEADER;
	if (sections & LQ_PART_BODY)
		flags |= PC_BODY;
	return postcat(sp, m, flags, &s, err);
}

/* ---------------------------------------------------------------- postqueue -p */

static int
msg_long_layout(const struct lq_msg *m)
{
	const struct pf_msg *pm = m->priv;

	return pm != NULL ? pm->long_layout : long_id_separator(m->id) != NULL;
}

/* What "%-17s %8s %-19s " (long IDs) and "%-11s %7s %-20s " write of three "": the blank
 * Queue ID, Size and Arrival Time columns before a recipient */
enum { LONG_RCPT_INDENT = 17 + 1 + 8 + 1 + 19 + 1, SHORT_RCPT_INDENT = 11 + 1 + 7 + 1 + 20 + 1 };

static int
postfix_write_listing(FILE *out, const struct lq_msg *m, unsigned flags, time_t now)
{
	int lg = msg_long_layout(m);
	const char *reason = "";
	char idst[LQ_ID_MAX + 4], when[64] = "", blank[LONG_RCPT_INDENT];
	struct tm tm;
	time_t t = m->arrival;
	size_t n;

	(void)flags, (void)now;
	memset(blank, ' ', sizeof blank);
	/* the ID and its marks (m->id: at most LQ_ID_MAX bytes, idst has room for two more) */
	n = strlen(m->id);
	memcpy(idst, m->id, n);
	if (m->queue && strcmp(m->queue, "active") == 0)
		idst[n++] = '*';
	else if (m->queue && strcmp(m->queue, "hold") == 0)
		idst[n++] = '!';
	if (m->flags & LQ_MSG_EXPIRED)
		idst[n++] = '#';
	idst[n] = '\0';
	if (localtime_r(&t, &tm) == NULL || asctime_of(&tm, when) == NULL)
		snprintf(when, sizeof when, "%lld", (long long)t);
	fprintf(out, lg ? "%-17s %8lld %19.19s %s\n" : "%-11s %7lld %20.20s %s\n", idst,
	    (long long)m->size, when, m->sender[0] ? m->sender : EMPTY_ADDR);
	for (size_t i = 0; i < m->nrcpt; i++) {
		const struct lq_rcpt *r = &m->rcpt[i];
		const char *why = r->reason ? r->reason : "";

		if (r->flags & (LQ_RCPT_DONE | LQ_RCPT_EXTRA))
			continue;
		if (strcmp(reason, why) != 0) {
			const char *show = *why ? why : "reason unavailable";
			int pad = 76 - (int)strlen(show);

			reason = why;
			fprintf(out, "%*s(%s)\n", pad < 0 ? 0 : pad, "", show);
		}
		/* (not fprintf's "%-17s %8s %-19s %s\n" of "", "", "" and the address: the
		 * same bytes, without the printf machinery for every recipient) */
		fwrite_unlocked(blank, 1, lg ? LONG_RCPT_INDENT : SHORT_RCPT_INDENT, out);
		fputs_unlocked(r->address, out);
		putc_unlocked('\n', out);
	}
	return putc_unlocked('\n', out) == EOF ? -1 : 0;
}

/* The column headings come with the first message (qls writes the head only then). */
static int
postfix_write_listing_head(FILE *out, const struct lq_spool *sp)
{
	const struct postfix *pf = sp->priv;

	if (pf->long_layout)
		fprintf(out, "%-17s %8s %-19s %s\n", "----Queue ID-----", "--Size--",
		    "---Arrival Time----", "--Sender/Recipient------");
	else
		fprintf(out, "%-11s %7s %-20s %s\n", "-Queue ID-", "--Size--",
		    "----Arrival Time----", "-Sender/Recipient-------");
	return ferror(out) ? -1 : 0;
}

static int
postfix_write_listing_tail(FILE *out, const struct lq_spool *sp, unsigned long n, int64_t bytes)
{
	(void)sp;
	if (n == 0)
		fputs("Mail queue is empty\n", out);
	else
		fprintf(out, "-- %llu Kbytes in %lu Request%s.\n",
		    (unsigned long long)bytes / 1024, n, n == 1 ? "" : "s");
	return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------- acting (postsuper -d, -h, -H) */

/*
 * What postsuper does, done directly (libqueue/README, "Postfix", "Acting"): hold renames the
 * queue file into hold/, release renames it from hold/ into deferred/, remove unlinks it and
 * its logs. As after postsuper, no Postfix process is told: the queue manager finds the files
 * where they are at its next scan.
 */

/* The directories acting names: the queues, then the per-message logs. */
enum { D_DEFER = NQUEUES, D_BOUNCE, D_TRACE, NDIRS };
static const char *const dir_names[NDIRS] = {
	"maildrop", "incoming", "active", "deferred", "hold", "corrupt", "defer", "bounce", "trace"
};
/* postsuper's log_queue_names: the per-message logs (flush/ holds per-site logs) */
static const int log_dirs[] = { D_BOUNCE, D_DEFER, D_TRACE };

static int
dir_index(const char *name, size_t n)
{
	for (int i = 0; i < NDIRS; i++)
		if (strlen(dir_names[i]) == n && strncmp(dir_names[i], name, n) == 0)
			return i;
	return -1;
}

/* In postconf's output (its lines already cut at their ends: n bytes in all), the value of
 * the line "name = value", or NULL. */
static char *
conf_value(char *out, size_t n, const char *name)
{
	size_t k = strlen(name);

	for (char *line = out; line < out + n; line += strlen(line) + 1) {
		char *p = line + k;

		if (strncmp(line, name, k) != 0 || strncmp(p, " =", 2) != 0)
			continue;
		for (p += 2; *p == ' ' || *p == '\t'; p++)
			;
		return p;
	}
	return NULL;
}

/*
 * hash_queue_names and hash_queue_depth, asked of postconf (the one given, else the one in
 * PATH; $MAIL_CONFIG chooses the configuration, as it does for every Postfix command), and
 * believed only when that configuration's queue_directory is this very directory. Otherwise
 * conf_known stays 0 and the layout found decides (hash_depth_of).
 */
static void
ask_conf(struct lq_spool *sp, const char *postconf)
{
	struct postfix *pf = sp->priv;
	const char *argv[] = { postconf, "-x", "queue_directory", "hash_queue_depth",
		"hash_queue_names", NULL };
	const char *env = getenv("MAIL_CONFIG");
	char *out, *v, *names, *end;
	struct stat a, b;
	size_t len;
	long depth;

	if (pf->conf_for != NULL && strcmp(pf->conf_for, postconf) == 0)
		return;
	free(pf->conf_for);
	free(pf->config_dir);
	pf->conf_for = strdup(postconf);
	pf->config_dir = env != NULL && *env != '\0' ? strdup(env) : NULL;
	pf->conf_known = 0;
	pf->hashed = 0;
	pf->hash_depth = 1;
	if ((out = lq_ask_program_all(argv)) == NULL)
		return;
	len = strlen(out);
	for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		*p = '\0';
	v = conf_value(out, len, "hash_queue_depth");
	depth = v != NULL ? strtol(v, &end, 10) : 0;
	if (v == NULL || end == v || *end != '\0' || depth < 1 || depth > DEPTH_MAX ||
	    (v = conf_value(out, len, "queue_directory")) == NULL || *v != '/' ||
	    stat(v, &a) < 0 || fstat(sp->dirfd, &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino || (names = conf_value(out, len, "hash_queue_names")) == NULL) {
		free(out);
		return;
	}
	while (*names) {
		size_t n = strcspn(names, ", \t");
		int d = dir_index(names, n);

		if (d >= 0)
			pf->hashed |= 1u << d;
		names += n;
		names += strspn(names, ", \t");
	}
	free(out);
	pf->hash_depth = (int)depth;
	pf->conf_known = 1;
}

/* Without the configuration: how deep directory dfd is hashed, from what is in it (one-
 * character subdirectories, followed down); -1 when it shows nothing either way. */
static int
layout_depth(int dfd, int level)
{
	struct dirent *de;
	int fd, found = -1;
	DIR *d;

	if ((fd = dup(dfd)) < 0)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		lq_sys_close(fd);
		return -1;
	}
	rewinddir(d);
	while (found < 1 && (de = readdir(d)) != NULL) {
		if (strlen(de->d_name) == 1 && de->d_name[0] != '.' && level < DEPTH_MAX) {
			int sub = lq_open_dir(dfd, de->d_name, NULL), below;

			if (sub < 0)
				continue;
			below = layout_depth(sub, level + 1);
			lq_sys_close(sub);
			found = 1 + (below < 0 ? 0 : below);
			break;
		}
		if (postfix_valid_id(de->d_name))
			found = 0;
	}
	closedir(d);
	return found;
}

/* How many hash levels Postfix uses for directory d (whose fd is dfd). */
static int
hash_depth_of(struct postfix *pf, int d, int dfd)
{
	int depth;

	if (pf->conf_known)
		return (pf->hashed & (1u << d)) ? pf->hash_depth : 0;
	if ((depth = layout_depth(dfd, 0)) >= 0)
		return depth;
	return d == Q_DEFERRED || d == D_DEFER;	/* Postfix's defaults: deferred, defer; 1 */
}

/*
 * A subdirectory made as Postfix makes its hash directories (mail_queue_mkdirs): mode 0700,
 * owned by the owner of the directory it is in (mail_owner) and that user's group, as the
 * Postfix process that makes one runs, whoever we run as. It is made under a name with a '.'
 * (which every Postfix scanner skips) and renamed into place only once it is right, so no
 * Postfix process ever sees it owned by root (showq cannot open such a directory).
 */
static int
make_subdir(int parent, const char *name, const char *what, struct lq_err *err)
{
	char tmp[64], pwbuf[4096];
	struct passwd pw, *pwp = NULL;
	struct stat pst, dst;
	int fd, tries = 0;
	gid_t gid;

	if (fstat(parent, &pst) < 0)
		return lq_err_sys(err, "%s", what);
	gid = getpwuid_r(pst.st_uid, &pw, pwbuf, sizeof pwbuf, &pwp) == 0 && pwp != NULL ?
	    pw.pw_gid : pst.st_gid;
	snprintf(tmp, sizeof tmp, "%s.qtools.%ld", name, (long)getpid());
	while (mkdirat(parent, tmp, 0700) < 0) {
		/* a leftover of a run killed halfway, with our PID: removed once */
		if (errno != EEXIST || tries++ > 0 || unlinkat(parent, tmp, AT_REMOVEDIR) < 0)
			return lq_err_sys(err, "%s: making %s", what, name);
	}
	if ((fd = lq_open_dir(parent, tmp, err)) < 0)
		goto fail;
	/* as the owner already, a group we are not in stays ours: the owner has rwx anyway */
	if (fstat(fd, &dst) < 0 || ((dst.st_uid != pst.st_uid || dst.st_gid != gid) &&
	    fchown(fd, pst.st_uid, gid) < 0 && dst.st_uid != pst.st_uid) || fchmod(fd, 0700) < 0) {
		lq_err_sys(err, "%s: making %s", what, name);
		lq_sys_close(fd);
		goto fail;
	}
	lq_sys_close(fd);
	if (renameat2(parent, tmp, parent, name, RENAME_NOREPLACE) < 0) {
		int e = errno;

		if (e == EINVAL)	/* no RENAME_NOREPLACE here: both are empty anyway */
			e = renameat(parent, tmp, parent, name) < 0 ? errno : 0;
		if (e != 0) {
			unlinkat(parent, tmp, AT_REMOVEDIR);
			if (e == EEXIST || e == ENOTEMPTY)
				return 0;	/* made meanwhile, by Postfix */
			errno = e;
			return lq_err_sys(err, "%s: making %s", what, name);
		}
	}
	fsync(parent);
	return 0;
fail:
	unlinkat(parent, tmp, AT_REMOVEDIR);
	return -1;
}

/*
 * The directory of queue d in which Postfix looks for id (mail_queue_path), its hash
 * directories made where missing. Returns a new fd (the caller closes it) and the path of
 * the file in rel, or -1 with err.
 */
static int
target_dir(struct lq_spool *sp, int d, const char *id, char rel[REL_MAX], struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	char key[LQ_ID_MAX + 8], what[REL_MAX + LQ_ID_MAX + 8];
	int qfd = queue_fd(sp, d), dfd, depth;
	size_t n;

	if (qfd < 0)
		return lq_err_set(err, LQ_ECORRUPT, "%s: %s/%s: no such queue directory", id,
		    sp->dir, dir_names[d]);
	if ((dfd = dup(qfd)) < 0)
		return lq_err_sys(err, "%s: %s", id, dir_names[d]);
	depth = hash_depth_of(pf, d, qfd);
	hash_key(id, key);
	n = (size_t)snprintf(rel, REL_MAX, "%s/", dir_names[d]);
	for (int i = 0; i < depth; i++) {
		char name[2] = { hash_char(key, i), '\0' };
		struct lq_err e;
		int sub;

		snprintf(what, sizeof what, "%s: %s%s", id, rel, name);
		if ((sub = lq_open_dir(dfd, name, &e)) < 0 && e.code == LQ_ENOENT &&
		    make_subdir(dfd, name, what, err) == 0)
			sub = lq_open_dir(dfd, name, &e);
		if (sub < 0) {
			if (e.code != LQ_ENOENT || err == NULL || err->code == LQ_OK)
				lq_err_set(err, e.code, "%s: %s", what, e.code == LQ_ECORRUPT ?
				    "not a directory (a symbolic link?)" : e.msg);
			lq_sys_close(dfd);
			return -1;
		}
		lq_sys_close(dfd);
		dfd = sub;
		n += (size_t)snprintf(rel + n, REL_MAX - n, "%s/", name);
	}
	lq_strlcpy(rel + n, id, REL_MAX - n);
	return dfd;
}

/*
 * Every log of id (bounce/, defer/, trace/, postsuper's log_queue_names), wherever along the
 * ID's hash path it is: fn(dirfd, relative path) for each name found. Returns 0, fn's
 * non-zero value, or -1 with err.
 */
typedef int (*log_fn)(int dirfd, const char *id, const char *rel, void *arg,
    struct lq_err *);

/* each_log's walk of one log directory d (D_DEFER...), down the ID's hash path */
static int
each_log_in(struct lq_spool *sp, const char *id, int d, log_fn fn, void *arg,
    struct lq_err *err)
{
	char key[LQ_ID_MAX + 8], rel[REL_MAX];
	int rc = 0, top, dfd;
	struct lq_err e;
	size_t n;

	hash_key(id, key);
	if ((top = lq_open_dir(sp->dirfd, dir_names[d], &e)) < 0) {
		if (e.code == LQ_ENOENT)
			return 0;
		return lq_err_set(err, e.code, "%s: %s/%s: %s", id, sp->dir, dir_names[d], e.msg);
	}
	dfd = top;
	n = (size_t)snprintf(rel, sizeof rel, "%s/", dir_names[d]);
	for (int depth = 0; rc == 0; depth++) {
		char name[2] = { hash_char(key, depth), '\0' };
		struct stat st;
		int sub;

		if (fstatat(dfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			lq_strlcpy(rel + n, id, sizeof rel - n);
			rc = fn(dfd, id, rel, arg, err);
		}
		if (rc != 0 || depth == DEPTH_MAX || (sub = lq_open_dir(dfd, name, NULL)) < 0)
			break;
		if (dfd != top)
			lq_sys_close(dfd);
		dfd = sub;
		n += (size_t)snprintf(rel + n, sizeof rel - n, "%s/", name);
	}
	if (dfd != top)
		lq_sys_close(dfd);
	lq_sys_close(top);
	return rc;
}

static int
each_log(struct lq_spool *sp, const char *id, log_fn fn, void *arg, struct lq_err *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < NELEM(log_dirs); i++)
		rc = each_log_in(sp, id, log_dirs[i], fn, arg, err);
	return rc;
}

static int
unlink_log(int dirfd, const char *id, const char *rel, void *arg, struct lq_err *err)
{
	(void)arg;
	if (unlinkat(dirfd, id, 0) < 0 && errno != ENOENT)
		return lq_err_sys(err, "%s: removed, but not its log %s", id, rel);
	fsync(dirfd);
	return 0;
}

/* ---- --save: the message's files copied into DIR as a one-message Postfix queue */

static int
save_log(int dirfd, const char *id, const char *rel, void *arg, struct lq_err *err)
{
	struct lq_err e;
	struct stat st;
	int fd, rc;

	if ((fd = lq_open_file(dirfd, id, &st, &e)) < 0) {
		if (e.code == LQ_ENOENT)
			return 0;
		return lq_err_set(err, e.code, "%s: --save: %s: %s", id, rel, e.msg);
	}
	rc = lq_save_file(arg, rel, fd, &st, err);
	lq_sys_close(fd);
	return rc;
}

/* DIR gets the queue directories that make it a Postfix queue, the message at its own path
 * (deferred/X/ID...), and its logs at theirs. */
static int
postfix_act_save(struct lq_spool *sp, void *held, struct lq_saver *sv, struct lq_err *err)
{
	struct pf_held *h = held;

	for (int q = Q_MAILDROP; q <= Q_HOLD; q++)
		if (lq_save_dir(sv, queue_names[q], err) < 0)
			return -1;
	if (lq_save_file(sv, h->rel, h->fd, &h->st, err) < 0)
		return -1;
	return each_log(sp, h->id, save_log, sv, err) != 0 ? -1 : 0;
}

/* ---- the act */

static int lock_delay_log(int, const char *, const char *, void *, struct lq_err *);

/* The PID in pid/master.pid, or 0. The file is root's, mode 0600: read when the spool is
 * opened, before a tool run as root becomes mail_owner, and again when it can be. */
static long
master_pid(struct lq_spool *sp)
{
	struct lq_buf b = { 0 };
	long pid = 0;
	int pfd, fd;

	if ((pfd = lq_open_dir(sp->dirfd, "pid", NULL)) < 0)
		return 0;
	fd = lq_open_file(pfd, "master.pid", NULL, NULL);
	lq_sys_close(pfd);
	if (fd >= 0 && lq_read_fd(fd, "master.pid", 64, &b, NULL) == 0 &&
	    lq_buf_append(&b, "", 1) == 0)
		pid = strtol(b.data, NULL, 10);
	if (fd >= 0)
		lq_sys_close(fd);
	lq_buf_free(&b);
	return pid > 1 ? pid : 0;
}

/*
 * Does Postfix run on this queue? The master holds an exclusive flock() on pid/master.pid as
 * long as it lives, and wrote its PID there: either sign is enough, and the lock is never
 * asked for (/proc/locks can miss an entry while locks come and go by the hundred, see
 * load_locks; a PID file outlives a master that was killed, so the PID must be a live process
 * called master). Also loads the lock table. 1 running, 0 not, -1 with err when /proc/locks
 * cannot be read.
 */
static int
master_running(struct lq_spool *sp, const char *id, struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	char comm[32];
	struct stat st;
	int pfd, found;
	long pid;

	if (load_locks(pf) < 0)
		return lq_err_set(err, LQ_ESYS, "%s: /proc/locks cannot be read: cannot tell whether"
		    " Postfix is delivering it: nothing done", id);
	if ((pfd = lq_open_dir(sp->dirfd, "pid", NULL)) < 0)
		return 0;
	found = fstatat(pfd, "master.pid", &st, AT_SYMLINK_NOFOLLOW) == 0;
	lq_sys_close(pfd);
	if (!found)
		return 0;	/* the master writes it first thing */
	if (is_locked(pf, &st))
		return 1;
	if ((pid = master_pid(sp)) == 0)
		pid = pf->master_pid;
	if (pid == 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
		return 0;
	lq_proc_comm(pid, comm);
	return strcmp(comm, "master") == 0;
}

/*
 * Find the file, and take our own lock on it: an OFD lock, which Postfix's flock()s never see
 * (they are separate on Linux): one qtools process at a time acts on the message, and Postfix
 * is never in the way of it. Postfix's own lock is never taken, only looked for.
 */
static int
postfix_act_lock(struct lq_spool *sp, const char *id, enum lq_action act, void **heldp,
    struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	struct pf_held *h = &pf->held;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat st, now;
	int r;

	*heldp = h;
	lq_strlcpy(h->id, id, sizeof h->id);
	h->dfd = h->fd = h->logfd = -1;
	if ((h->live = master_running(sp, id, err)) < 0)
		return -1;
	if (act != LQ_ACT_REMOVE)
		ask_conf(sp, "postconf");
	if (locate(sp, id, &h->q, &h->dfd, h->rel, &st, err) < 0) {
		h->dfd = -1;
		return -1;
	}
	if ((r = ready(id, h->rel, &st, err)) <= 0) {
		if (r == 0)
			lq_err_set(err, LQ_ENOENT, "%s: %s is an " INCOMPLETE ": left alone", id,
			    h->rel, incomplete_by(h->rel));
		return -1;
	}
	/* what postsuper would refuse, or Postfix would trip on */
	if (h->q == Q_ACTIVE && h->live)
		return lq_err_set(err, LQ_ELOCKED, "%s: in active/: Postfix's queue manager has it"
		    " in memory (being delivered): skipped; try again once it is deferred, or with"
		    " Postfix stopped", id);
	h->fd = lq_sys_openat(h->dfd, id,
	    O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (h->fd < 0 && errno == EACCES) {	/* a maildrop file of another user */
		h->fd = lq_sys_openat(h->dfd, id,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		fl.l_type = F_RDLCK;
	}
	if (h->fd < 0) {
		if (errno == ENOENT)
			return lq_err_set(err, LQ_ENOENT, "%s: gone (delivered or moved meanwhile)",
			    id);
		if (errno == ELOOP)
			return lq_err_set(err, LQ_ECORRUPT, "%s: %s is a symbolic link", id, h->rel);
		return lq_err_sys(err, "%s: %s", id, h->rel);
	}
	if (fcntl(h->fd, F_OFD_SETLK, &fl) < 0) {
		if (errno == EAGAIN || errno == EACCES)
			return lq_err_set(err, LQ_ELOCKED, "%s: another program acts on it (it"
			    " holds our lock): skipped", id);
		return lq_err_sys(err, "%s: locking %s", id, h->rel);
	}
	/* marking delivered rewrites the delay log too: its lock first, before the checks
	 * below and before anything is changed (lock_delay_log) */
	if ((act == LQ_ACT_MARK_DELIVERED || act == LQ_ACT_MARK_ALL_DELIVERED) &&
	    each_log_in(sp, id, D_DEFER, lock_delay_log, h, err) < 0)
		return -1;
	/* under the lock: still the very file found, still at that path */
	if (fstat(h->fd, &h->st) < 0 || fstatat(h->dfd, id, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(h->st.st_mode) || now.st_dev != h->st.st_dev ||
	    now.st_ino != h->st.st_ino || h->st.st_dev != st.st_dev ||
	    h->st.st_ino != st.st_ino)
		return lq_err_set(err, LQ_ENOENT, "%s: moved or replaced meanwhile (%s): left"
		    " alone", id, h->rel);
	/* a short ID names its file's inode: a file that is not that inode is not what Postfix
	 * made under this name (a copied queue: postsuper -s renames such files) */
	if (long_id_separator(id) == NULL &&
	    strtoull(id + 5, NULL, 16) != (unsigned long long)h->st.st_ino)
		return lq_err_set(err, LQ_ECORRUPT, "%s: %s is inode %llu, not the %s its short"
		    " queue ID names (a copied queue? postsuper -s renames such files): left alone",
		    id, h->rel, (unsigned long long)h->st.st_ino, id + 5);
	if (load_locks(pf) < 0)
		return lq_err_set(err, LQ_ESYS, "%s: /proc/locks cannot be read: cannot tell"
		    " whether Postfix is delivering it: nothing done", id);
	if (is_locked(pf, &h->st))
		return lq_err_set(err, LQ_ELOCKED, "%s: being delivered (a Postfix process holds"
		    " the lock on %s): skipped", id, h->rel);
	return 0;
}

static int
postfix_act_reload(struct lq_spool *sp, void *held, struct lq_msg *m, struct lq_err *err)
{
	struct pf_held *h = held;

	if (load_file(sp, h->q, h->dfd, h->rel, &h->st, (h->q == Q_ACTIVE ? LQ_SCAN_LOCKS : 0) |
	    PF_NOTE_PENDING, m, -1, ((struct postfix *)sp->priv)->bufs, err) < 0) {
		if (err != NULL && err->code == LQ_ENOENT)
			lq_err_set(err, LQ_ENOENT, "%s: gone (delivered or moved meanwhile)", h->id);
		return -1;
	}
	return 0;
}

static int
postfix_act_refuse(struct lq_spool *sp, void *held, const struct lq_msg *m, enum lq_action act,
    struct lq_err *err)
{
	struct pf_held *h = held;

	if (act == LQ_ACT_FREEZE && h->q == Q_HOLD)
		return lq_err_set(err, LQ_EALREADY, "%s: already on hold: left alone", h->id);
	if (act == LQ_ACT_FREEZE && h->q == Q_MAILDROP)
		return lq_err_set(err, LQ_ELOCKED, "%s: in maildrop/, not queued by pickup yet:"
		    " Postfix puts only mail it has queued on hold (as postsuper -h): skipped; try"
		    " again in a moment", h->id);
	if (act == LQ_ACT_THAW && h->q != Q_HOLD)
		return lq_err_set(err, LQ_EALREADY, "%s: not on hold: left alone", h->id);
	if ((act == LQ_ACT_MARK_DELIVERED || act == LQ_ACT_MARK_ALL_DELIVERED) &&
	    h->q == Q_MAILDROP)
		return lq_err_set(err, LQ_ELOCKED, "%s: in maildrop/, not queued by pickup yet: "
		    "skipped; try again in a moment", h->id);
	return 0;
}

/* Is the pending record p one to mark done: its address one of addrs (every record when
 * addrs is NULL, --mark-all-delivered)? */
static int
is_marked(const struct pf_pending *p, const char *const *addrs, size_t n)
{
	if (addrs == NULL)
		return 1;
	for (size_t j = 0; j < n; j++)
		if (strcmp(addrs[j], p->address) == 0)
			return 1;
	return 0;
}

/*
 * What the queue manager does to a recipient that is finished (deliver_completed): the type
 * byte of its R record overwritten with D in place, data and length kept; then fsync. Every
 * R record of the addresses given (all of them when addrs is NULL), each checked to be an R
 * still before any byte is written. The file's times are put back: in deferred/ the mtime is
 * when the queue manager tries the message next.
 */
static int
mark_done(struct pf_held *h, const struct lq_msg *m, const char *const *addrs, size_t n,
    struct lq_err *err)
{
	const struct pf_msg *pm = m->priv;
	size_t marked = 0;
	char c;

	for (int write = 0; write < 2; write++)
		for (size_t i = 0; i < pm->npending; i++) {
			const struct pf_pending *p = &pm->pending[i];

			if (!is_marked(p, addrs, n))
				continue;
			if (!write && (lq_sys_pread(h->fd, &c, 1, p->off) != 1 || c != 'R'))
				return lq_err_set(err, LQ_ENOMATCH, "%s: changed meanwhile (the "
				    "recipient record of <%s> is no longer there): left alone", h->id,
				    p->address);
			if (write && pwrite(h->fd, "D", 1, p->off) != 1)
				return lq_err_sys(err, "%s: marking <%s> done in %s (%zu marked before)",
				    h->id, p->address, h->rel, marked);
			marked += write;
		}
	/* the times as they were: a deferred file's mtime is its next delivery attempt */
	if (futimens(h->fd, (struct timespec[2]){ h->st.st_atim, h->st.st_mtim }) < 0 ||
	    fsync(h->fd) < 0)
		return lq_err_sys(err, "%s: %s", h->id, h->rel);
	return 0;
}

/*
 * The delay log of a message marked delivered. showq lists a recipient from the entries of
 * the message's delay log (defer/ID, written at the last delivery attempt) whatever its
 * record says, until the queue manager takes the message into active/ again and removes the
 * log. So marking a recipient delivered also drops its entries from that log, and postqueue
 * stops listing it at once (libqueue/README, "Postfix", "Acting").
 *
 * The lock is bounce(8)'s own: it appends an entry under flock(LOCK_EX) (deliver_flock,
 * INTERNAL_LOCK, which is flock() on Linux), tried without waiting up to
 * deliver_lock_attempts times, deliver_lock_delay apart; so while we hold it no entry is
 * appended, and bounce(8) tries again a moment later. We never wait for it: a log someone
 * holds is a message being worked on, skipped (LQ_ELOCKED). It is taken in act_lock,
 * before the queue file is checked to be still where it was found, and before anything is
 * changed: the queue manager renames the file into active/ before it removes the log, so a
 * file still there means the log we hold is the message's current one. No other Postfix
 * process locks a delay log (showq and the bounce notices read it without a lock, the queue
 * manager removes it without one).
 */
static int
lock_delay_log(int dirfd, const char *id, const char *rel, void *arg, struct lq_err *err)
{
	struct pf_held *h = arg;
	struct stat st;
	int fd, e;

	fd = lq_sys_openat(dirfd, id,
	    O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		/* gone (the queue manager took the message: the checks that follow say so),
		 * or a symbolic link, which our reader never follows either: nothing listed */
		if (errno == ENOENT || errno == ELOOP)
			return 1;
		return lq_err_sys(err, "%s: %s", id, rel);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		/* not a file: no entry of it is listed, none to drop */
		lq_sys_close(fd);
		return 1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		lq_sys_close(fd);
		if (e == EWOULDBLOCK)
			return lq_err_set(err, LQ_ELOCKED, "%s: its delay log %s is being written"
			    " (a Postfix process holds its lock): skipped; try again in a moment",
			    id, rel);
		errno = e;
		return lq_err_sys(err, "%s: locking %s", id, rel);
	}
	h->logfd = fd;
	lq_strlcpy(h->logrel, rel, sizeof h->logrel);
	return 1;	/* the first along the hash path, as our reader finds it */
}

/* drop_logged_rcpts' state, and cut_entry's verdict on each entry */
struct log_cut {
	struct log_entry where;	/* log_entries says where the entry it hands over is */
	const struct pf_msg *pm;
	const char *const *addrs;	/* is_marked's */
	size_t naddrs;
	const char *orig;	/* the log as read (log_entries cuts its copy into strings) */
	size_t copied;		/* orig's bytes up to here are in out, or dropped */
	size_t prev_end;	/* where the entry before ended */
	size_t dropped;
	struct lq_buf *out;
};

/*
 * An entry names a recipient being marked when its offset is the offset of a record being
 * marked (what the queue manager keys on: the address may have been rewritten since the
 * record was written), or, when it has no offset (an old-style entry), when its recipient
 * is such a record's address as listed. An entry with a line we cannot read is kept as it
 * is: we never drop what we cannot tell. A dropped entry goes with the blank line bounce(8)
 * writes before each entry, so the log left is the one bounce(8) would have written
 * without it; every other byte is kept as it was.
 */
static int
cut_entry(const char *rcpt, const char *status, const char *reason, void *arg)
{
	struct log_cut *c = arg;
	const struct log_entry *e = &c->where;
	int names_marked = 0;
	size_t from;

	(void)status;
	(void)reason;
	for (size_t i = 0; !e->unreadable && rcpt != NULL && i < c->pm->npending; i++) {
		const struct pf_pending *p = &c->pm->pending[i];

		if (is_marked(p, c->addrs, c->naddrs) && (e->offset > 0 ? e->offset == p->off :
		    strcmp(rcpt, p->address) == 0)) {
			names_marked = 1;
			break;
		}
	}
	if (names_marked) {
		/* only blank lines lie between the entry before and this one */
		from = e->start > c->prev_end ? e->start - 1 : e->start;
		if (lq_buf_append(c->out, c->orig + c->copied, from - c->copied) < 0)
			return -1;
		c->copied = e->end;
		c->dropped++;
	}
	c->prev_end = e->end;
	return 0;
}

/*
 * The delay log h->logfd without the entries of the recipients to be marked, into kept:
 * 1 when there is something to drop, 0 when the log stays as it is (none, or no entry
 * names them), -1 with err. Read whole from the locked descriptor, with our reader's
 * bound and parser; done before anything is changed, so a log we cannot read leaves the
 * message as it was.
 */
static int
drop_logged_rcpts(struct pf_held *h, const struct lq_msg *m,
    const char *const *addrs, size_t n, struct lq_buf *kept, struct lq_err *err)
{
	struct lq_buf orig = { 0 }, cut = { 0 };
	struct log_cut c = { .pm = m->priv, .addrs = addrs, .naddrs = n, .out = kept };
	int rc = -1;

	if (h->logfd < 0)
		return 0;
	if (lseek(h->logfd, 0, SEEK_SET) < 0) {
		lq_err_sys(err, "%s: %s", h->id, h->logrel);
		goto out;
	}
	if (lq_read_fd(h->logfd, h->logrel, LOG_MAX, &orig, err) < 0) {
		lq_err_prefix(err, "%s: delay log: ", h->id);
		goto out;
	}
	if (lq_buf_append(&cut, orig.data, orig.len) < 0)
		goto nomem;
	c.orig = orig.data;
	if (log_entries(&cut, cut_entry, &c, NULL, &c.where) != 0)
		goto nomem;
	if (c.dropped > 0 && lq_buf_append(kept, orig.data + c.copied, orig.len - c.copied) < 0)
		goto nomem;
	rc = c.dropped > 0;
	goto out;
nomem:
	lq_err_set(err, LQ_ENOMEM, "%s: out of memory", h->id);
out:
	lq_buf_free(&cut);
	lq_buf_free(&orig);
	return rc;
}

/*
 * The log rewritten in place, in the inode we locked: truncated, the kept bytes written,
 * fsync. Not a new file renamed over it: if the queue manager removes the log meanwhile (it
 * took the message into active/), what we write goes to a file nobody reads any more, where
 * a rename would bring a stale log back beside the new attempt's. A crash halfway leaves
 * the log empty or cut short: showq lists the recipients of the lost entries from their
 * records, without a reason, until the next attempt writes the log anew; the queue file,
 * changed and fsync'ed before, is not affected.
 */
static int
rewrite_delay_log(struct pf_held *h, const struct lq_buf *kept, struct lq_err *err)
{
	if (ftruncate(h->logfd, 0) < 0 ||
	    (kept->len > 0 && pwrite(h->logfd, kept->data, kept->len, 0) != (ssize_t)kept->len) ||
	    fsync(h->logfd) < 0)
		return lq_err_sys(err, "%s: marked delivered, but its delay log %s could not be"
		    " rewritten (showq lists the recipients of the entries lost without their"
		    " reasons until the next delivery attempt)", h->id, h->logrel);
	return 0;
}

/* Marking delivered: the records, then the delay log, whose new bytes are known before the
 * first record is changed. */
static int
mark_delivered(struct lq_spool *sp, struct pf_held *h, const struct lq_msg *m,
    const char *const *addrs, size_t n, struct lq_err *err)
{
	struct lq_buf kept = { 0 };
	int cut, rc;

	if ((cut = drop_logged_rcpts(h, m, addrs, n, &kept, err)) < 0)
		rc = -1;
	else if ((rc = mark_done(h, m, addrs, n, err)) == 0 && cut)
		rc = rewrite_delay_log(h, &kept, err);
	lq_buf_free(&kept);
	return rc;
}

/* Marking delivered is what the queue manager itself does; adding a recipient or changing
 * the sender is cleanup's alone. */
static int
postfix_act_supports(struct lq_spool *sp, enum lq_action act, const struct lq_act_opts *o,
    struct lq_err *err)
{
	if (act == LQ_ACT_MARK_DELIVERED || act == LQ_ACT_MARK_ALL_DELIVERED)
		return 0;
	return lq_err_set(err, LQ_EUSAGE, "%s: Postfix: only its cleanup daemon writes a queue "
	    "file's envelope, there is no safe way to %s in place: re-inject a copy instead "
	    "(qcat -m ID | sendmail %s), then qrm ID; nothing done", sp->dir,
	    act == LQ_ACT_SET_SENDER ? "change the sender" : "add a recipient",
	    act == LQ_ACT_SET_SENDER ? "-f NEW-SENDER RECIPIENT..." :
	    "-f SENDER RECIPIENT... NEW-RECIPIENT");
}

static int
postfix_act_apply(struct lq_spool *sp, void *held, const struct lq_msg *m, enum lq_action act,
    const struct lq_act_opts *o, struct lq_err *err)
{
	struct pf_held *h = held;
	char to[REL_MAX];
	int tfd, rc = -1;

	switch (act) {
	case LQ_ACT_REMOVE:
		/*
		 * The message file first, then its logs, while our descriptor keeps the inode
		 * (so the ID) taken: no new message can be given the ID meanwhile, and if the
		 * queue manager moved the file first, nothing at all is removed. (postsuper
		 * unlinks the logs first, and then may find the file gone.)
		 */
		if (unlinkat(h->dfd, h->id, 0) < 0) {
			if (errno == ENOENT)
				return lq_err_set(err, LQ_ENOENT, "%s: moved meanwhile (by the queue"
				    " manager): left alone", h->id);
			return lq_err_sys(err, "%s: removing %s", h->id, h->rel);
		}
		fsync(h->dfd);
		rc = each_log(sp, h->id, unlink_log, NULL, err) == 0 ? 0 : -1;
		break;
	case LQ_ACT_FREEZE:
	case LQ_ACT_THAW:
		/* postsuper -h: hold/ID (hashed if hash_queue_names says so); -H:
		 * deferred/X/ID. The rename keeps the inode, the mode and the times. */
		if ((tfd = target_dir(sp, act == LQ_ACT_FREEZE ? Q_HOLD : Q_DEFERRED, h->id, to,
		    err)) < 0)
			return -1;
		if (renameat2(h->dfd, h->id, tfd, h->id, RENAME_NOREPLACE) < 0) {
			if (errno == ENOENT)
				lq_err_set(err, LQ_ENOENT, "%s: moved meanwhile (by the queue"
				    " manager): left alone", h->id);
			else if (errno == EEXIST)
				lq_err_set(err, LQ_ECORRUPT, "%s: %s exists already: left alone",
				    h->id, to);
			else
				lq_err_sys(err, "%s: moving %s to %s", h->id, h->rel, to);
		} else {
			fsync(tfd);
			fsync(h->dfd);
			rc = 0;
		}
		lq_sys_close(tfd);
		break;
	case LQ_ACT_MARK_DELIVERED:
		rc = mark_delivered(sp, h, m, o->addrs, o->naddrs, err);
		break;
	case LQ_ACT_MARK_ALL_DELIVERED:
		rc = mark_delivered(sp, h, m, NULL, 0, err);
		break;
	default:	/* act_supports said no: lq_act never gets here */
		rc = lq_err_set(err, LQ_EUSAGE, "%s: not an action on this MTA", h->id);
		break;
	}
	return rc;
}

static void
postfix_act_unlock(struct lq_spool *sp, void *held)
{
	struct pf_held *h = held;

	if (h == NULL)
		return;
	if (h->logfd >= 0)
		lq_sys_close(h->logfd);	/* lets bounce(8) append to it again */
	if (h->fd >= 0)
		lq_sys_close(h->fd);	/* lets go of our lock, and of a removed file */
	if (h->dfd >= 0 && h->dfd != queue_fd(sp, h->q))
		lq_sys_close(h->dfd);
	h->fd = h->dfd = h->logfd = -1;
}

/*
 * postqueue -i ID, one ID a command (postqueue takes one); postqueue -f for the whole queue.
 * postqueue acts on the queue of its configuration ($MAIL_CONFIG, passed on as -c), so it is
 * run only when postconf, asked with the same configuration, names this very queue directory:
 * otherwise it would deliver another instance's messages, which may have the same short IDs.
 * The postconf asked is the one beside the postqueue given, else the one in PATH.
 */
static int
postfix_run_argv(struct lq_spool *sp, const char *path, const char *const *ids, size_t n,
    const char **argv, size_t max, struct lq_err *err)
{
	struct postfix *pf = sp->priv;
	const char *slash = path != NULL ? strrchr(path, '/') : NULL;
	char postconf[PATH_MAX];
	size_t k = 0;

	if (max < 6)
		return lq_err_set(err, LQ_EUSAGE, "argument vector too small");
	if (slash != NULL)
		snprintf(postconf, sizeof postconf, "%.*spostconf", (int)(slash - path + 1), path);
	else
		snprintf(postconf, sizeof postconf, "postconf");
	if (lq_find_program(path != NULL ? path : "postqueue", err) < 0 ||
	    lq_find_program(postconf, err) < 0)
		return -1;
	ask_conf(sp, postconf);
	if (!pf->conf_known)
		return lq_err_set(err, LQ_EUSAGE, "%s: %s does not name this queue directory as"
		    " the queue_directory of %s: postqueue would act on another queue; set"
		    " MAIL_CONFIG to this queue's configuration directory", sp->dir, postconf,
		    pf->config_dir != NULL ? pf->config_dir : "the default configuration");
	argv[k++] = path != NULL ? path : "postqueue";
	if (pf->config_dir != NULL) {
		argv[k++] = "-c";
		argv[k++] = pf->config_dir;
	}
	if (n == 0)
		argv[k++] = "-f";
	else {
		argv[k++] = "-i";
		argv[k++] = ids[0];
	}
	argv[k] = NULL;
	return n == 0 ? 0 : 1;
}

/*
 * Who acts on a Postfix queue: mail_owner, with its login group, as postsuper (run as root)
 * becomes before it touches the queue. The queue directories (incoming/, active/, deferred/,
 * hold/...) are mail_owner's; its group comes from the password database, as Postfix takes
 * it (the directories' own group is root's).
 */
static int
postfix_owner(struct lq_spool *sp, struct lq_owner *o, struct lq_err *err)
{
	static const int qs[] = { Q_INCOMING, Q_ACTIVE, Q_DEFERRED, Q_HOLD };
	struct passwd *pw;
	struct stat st;
	int fd;

	for (size_t i = 0; i < NELEM(qs); i++) {
		if ((fd = queue_fd(sp, qs[i])) < 0 || fstat(fd, &st) < 0)
			continue;
		if ((pw = getpwuid(st.st_uid)) == NULL)
			return lq_err_set(err, LQ_EUSAGE, "%s/%s: its owner, uid %ld, is not in the "
			    "password database: mail_owner's group is not known", sp->dir,
			    queue_names[qs[i]], (long)st.st_uid);
		o->uid = st.st_uid;
		o->gid = pw->pw_gid;
		o->caps = 0;
		snprintf(o->what, sizeof o->what, "the owner of %s/%s (mail_owner)", sp->dir,
		    queue_names[qs[i]]);
		return 0;
	}
	return lq_err_set(err, LQ_EUSAGE, "%s: no queue directory to tell mail_owner by", sp->dir);
}

/* corrupt/ is not among them: a file there is reported, never read as a message */
static const char *const *
postfix_queues(const struct lq_spool *sp)
{
	static const char *const names[] = {
		"maildrop", "incoming", "active", "deferred", "hold", NULL
	};

	(void)sp;
	return names;
}

const struct lq_backend lq_postfix_backend = {
	.mta = LQ_MTA_POSTFIX,
	.name = "postfix",
	.detect = postfix_detect,
	.default_dir = postfix_default_dir,
	.open = postfix_open,
	.close = postfix_close,
	.valid_id = postfix_valid_id,
	.scan = postfix_scan,
	.load = postfix_load,
	.read = postfix_read,
	.write_envelope = postfix_write_envelope,
	.write_view = postfix_write_view,
	.write_listing = postfix_write_listing,
	.write_log = postfix_write_log,
	.write_listing_head = postfix_write_listing_head,
	.write_listing_tail = postfix_write_listing_tail,
	.owner = postfix_owner,
	.act_lock = postfix_act_lock,
	.act_reload = postfix_act_reload,
	.act_refuse = postfix_act_refuse,
	.act_save = postfix_act_save,
	.act_apply = postfix_act_apply,
	.act_unlock = postfix_act_unlock,
	.act_supports = postfix_act_supports,
	.removes_damaged = 1,	/* postsuper -d */
	.frozen_state = "hold",
	.frozen_said = "on hold",
	.null_sender = EMPTY_ADDR,	/* showq's empty_address_recipient */
	.queue_is_state = 1,
	.listing_reasons = 1,
	.shape_queues = "incoming,active",	/* qshape's default */
	.run_argv = postfix_run_argv,
	.log_path = NULL,	/* Postfix logs through syslog or postlogd: no file to append to */
	.queues = postfix_queues,
	.state_flags = LQ_MSG_ACTIVE | LQ_MSG_FROZEN,
};
