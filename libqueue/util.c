/*
 * util.c -- the small pieces every module uses: errors, the per-message arena, growable
 * buffers, and opening spool files safely (relative to a directory fd, no symlinks).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

extern char **environ;

/* ---------------------------------------------------------------- errors */

int
lq_err_set(struct lq_err *err, enum lq_errcode code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	err->sys_errno = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* Put context in front of an error already set (its code kept): vsnprintf must not read
 * the message it writes, so the old one is copied first. */
int
lq_err_prefix(struct lq_err *err, const char *fmt, ...)
{
	char was[sizeof err->msg];
	va_list ap;
	size_t n;

	if (err == NULL)
		return -1;
	snprintf(was, sizeof was, "%s", err->msg);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof err->msg - n, "%s", was);
	return -1;
}

int
lq_err_sys(struct lq_err *err, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;
	size_t n;

	if (err == NULL)
		return -1;
	err->code = saved == ENOENT ? LQ_ENOENT : saved == ENOMEM ? LQ_ENOMEM : LQ_ESYS;
	err->sys_errno = saved;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

/* ---------------------------------------------------------------- arena */

struct chunk {
	struct chunk *next;
	size_t size, used;
	max_align_t data[];
};

struct lq_arena {
	struct chunk *head;	/* the chunk being filled; older ones follow */
};

#define CHUNK_SIZE (64 * 1024 - sizeof(struct chunk))

struct lq_arena *
lq_arena_new(void)
{
	return calloc(1, sizeof(struct lq_arena));
}

static void
free_chunks(struct chunk *c)
{
	while (c != NULL) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
}

void
lq_arena_free(struct lq_arena *a)
{
	if (a == NULL)
		return;
	free_chunks(a->head);
	free(a);
}

/* Keep the first standard chunk for the next message; give big ones back. */
void
lq_arena_reset(struct lq_arena *a)
{
	struct chunk *keep = NULL, *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		if (keep == NULL && c->size == CHUNK_SIZE) {
			keep = c;
			keep->next = NULL;
			keep->used = 0;
		} else
			free(c);
	}
	a->head = keep;
}

void *
lq_arena_alloc(struct lq_arena *a, size_t n)
{
	struct chunk *c = a->head;
	size_t need = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	void *p;

	if (need < n)
		return NULL;
	if (c == NULL || c->size - c->used < need) {
		size_t size = need > CHUNK_SIZE / 4 ? need : CHUNK_SIZE;

		if ((c = malloc(sizeof *c + size)) == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		if (size == CHUNK_SIZE || a->head == NULL) {
			c->next = a->head;
			a->head = c;
		} else {
			/* a big one-off block: keep filling the current chunk afterwards */
			c->next = a->head->next;
			a->head->next = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += need;
	return p;
}

const void *
lq_arena_recent(const struct lq_arena *a, size_t *len)
{
	const struct chunk *c = a->head;

	*len = c != NULL ? c->used : 0;
	return c != NULL ? (const void *)c->data : NULL;
}

char *
lq_arena_strndup(struct lq_arena *a, const char *s, size_t n)
{
	char *p = lq_arena_alloc(a, n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* ---------------------------------------------------------------- buffers */

int
lq_buf_grow(struct lq_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->cap - b->len > more)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len <= more) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
lq_buf_append(struct lq_buf *b, const void *p, size_t n)
{
	if (lq_buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void
lq_buf_free(struct lq_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- files */

int
lq_plain_name(const char *s)
{
	if (s == NULL || *s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	return strchr(s, '/') == NULL;
}

/* openat for reading a spool file: never a symlink, never blocking on a FIFO */
static int
open_plain(int dirfd, const char *name, struct lq_err *err)
{
	int fd;

	if (!lq_plain_name(name))
		return lq_err_set(err, LQ_EUSAGE, "%s: not a plain file name", name);
	fd = lq_sys_openat(dirfd, name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return lq_err_set(err, LQ_ECORRUPT, "%s: is a symbolic link", name);
		return lq_err_sys(err, "%s", name);
	}
	return fd;
}

/* Open and fstat, whatever the type (a symlink is LQ_ECORRUPT, never followed): for a
 * walk that needs the mode of what it found without a stat before the open. */
int
lq_open_stat(int dirfd, const char *name, struct stat *st, struct lq_err *err)
{
	int fd;

	if ((fd = open_plain(dirfd, name, err)) < 0)
		return -1;
	if (fstat(fd, st) < 0) {
		lq_err_sys(err, "%s", name);
		lq_sys_close(fd);
		return -1;
	}
	return fd;
}

int
lq_open_file(int dirfd, const char *name, struct stat *st, struct lq_err *err)
{
	struct stat sb;
	int fd;

	if ((fd = open_plain(dirfd, name, err)) < 0)
		return -1;
	if (st == NULL)
		st = &sb;
	if (fstat(fd, st) < 0) {
		lq_err_sys(err, "%s", name);
		lq_sys_close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		lq_sys_close(fd);
		return lq_err_set(err, LQ_ECORRUPT, "%s: not a regular file", name);
	}
	return fd;
}

int
lq_open_dir(int dirfd, const char *name, struct lq_err *err)
{
	int fd;

	fd = lq_sys_openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return lq_err_set(err, LQ_ECORRUPT, "%s: not a directory", name);
		return lq_err_sys(err, "%s", name);
	}
	return fd;
}

int
lq_read_fd(int fd, const char *what, size_t max, struct lq_buf *b, struct lq_err *err)
{
	ssize_t n;

	b->len = 0;
	for (;;) {
		if (lq_buf_reserve(b, 8192) < 0)
			return lq_err_set(err, LQ_ENOMEM, "%s: out of memory", what);
		n = lq_sys_read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return lq_err_sys(err, "%s", what);
		}
		if (n == 0)
			break;
		b->len += n;
		if (b->len > max)
			return lq_err_set(err, LQ_ELIMIT, "%s: larger than %zu bytes", what, max);
	}
	b->data[b->len] = '\0';
	return 0;
}

int
lq_replace_file(int dirfd, const char *tmp, const char *name, const struct lq_buf *data,
    const struct stat *like, mode_t mode, int keep_times, const char *what, struct lq_err *err)
{
	struct timespec t[2] = { like->st_atim, like->st_mtim };
	int fd;

	(void)unlinkat(dirfd, tmp, 0);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600)) < 0)
		return lq_err_sys(err, "%s: creating %s", what, tmp);
	if ((fchown(fd, like->st_uid, like->st_gid) < 0 && like->st_uid != geteuid()) ||
	    fchmod(fd, mode) < 0 ||
	    write(fd, data->data, data->len) != (ssize_t)data->len ||
	    (keep_times && futimens(fd, t) < 0) || fsync(fd) < 0) {
		lq_err_sys(err, "%s: writing %s", what, tmp);
		lq_sys_close(fd);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	lq_sys_close(fd);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		lq_err_sys(err, "%s: renaming %s to %s", what, tmp, name);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	fsync(dirfd);
	return 0;
}

/* The first read of lq_read_file and lq_read_tail, into b made at least want bytes: 0 when
 * it was short (the whole of a regular file, now in b), 1 when it filled b (there may be
 * more), -1 with err. */
static int
read_first(int fd, const char *name, size_t want, struct lq_buf *b, struct lq_err *err)
{
	ssize_t n;

	b->len = 0;	/* the file replaces what the buffer held */
	if (lq_buf_reserve(b, want) < 0)
		return lq_err_set(err, LQ_ENOMEM, "%s: out of memory", name);
	while ((n = lq_sys_read(fd, b->data, b->cap - 1)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return lq_err_sys(err, "%s", name);
	if ((size_t)n == b->cap - 1)
		return 1;
	b->len = n;
	b->data[n] = '\0';
	return 0;
}

/*
 * Most spool files fit the first read: a short read of a regular file is its end, so such
 * a file costs open, one read, close. Only a file that fills the buffer is fstat'ed (and
 * must be regular) before reading on. A FIFO or device under a spool name cannot block
 * (O_NONBLOCK) nor feed us more than max bytes; a symlink is never opened (O_NOFOLLOW).
 * With st, the file is fstat'ed and checked first, as lq_open_file does, and the buffer
 * made big enough for what fstat says, so that one read still does.
 */
int
lq_read_file(int dirfd, const char *name, size_t max, struct lq_buf *b, struct stat *st,
    struct lq_err *err)
{
	struct stat sb;
	size_t want = 65536;
	int fd, rc;

	if (st != NULL) {
		if ((fd = lq_open_file(dirfd, name, st, err)) < 0)
			return -1;
		if ((uint64_t)st->st_size > max) {
			lq_sys_close(fd);
			return lq_err_set(err, LQ_ELIMIT, "%s: larger than %zu bytes", name, max);
		}
		if ((size_t)st->st_size >= want)
			want = (size_t)st->st_size + 1;
	} else if ((fd = open_plain(dirfd, name, err)) < 0)
		return -1;
	/* one read: a short one is all of a regular file (no end-of-file read) */
	if ((rc = read_first(fd, name, want, b, err)) == 0 && b->len > max) {
		b->len = 0;
		rc = lq_err_set(err, LQ_ELIMIT, "%s: larger than %zu bytes", name, max);
	} else if (rc == 1) {
		if (st == NULL && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)))
			rc = lq_err_set(err, LQ_ECORRUPT, "%s: not a regular file", name);
		/* a big one, or one that grew: start again, with room for all of it */
		else if (lseek(fd, 0, SEEK_SET) < 0)
			rc = lq_err_sys(err, "%s", name);
		else
			rc = lq_read_fd(fd, name, max, b, err);
	}
	lq_sys_close(fd);
	return rc;
}

/*
 * The last max bytes of a file (a log, whose latest lines are the ones that count), by
 * lq_read_file's rule: one read, and a short one is the whole file (no fstat, no
 * end-of-file read); only a file that fills it is fstat'ed, must be regular, and is read
 * again from max bytes before its end. *cut says whether the start was left out (the first
 * line in b is then likely a part of one).
 */
int
lq_read_tail(int dirfd, const char *name, size_t max, struct lq_buf *b, int *cut,
    struct lq_err *err)
{
	struct stat sb;
	int fd, rc;

	*cut = 0;
	if ((fd = open_plain(dirfd, name, err)) < 0)
		return -1;
	if ((rc = read_first(fd, name, 65536, b, err)) == 0 && b->len > max)
		rc = 1;		/* more than max in one read: its tail is wanted */
	if (rc == 1 && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))) {
		rc = lq_err_set(err, LQ_ECORRUPT, "%s: not a regular file", name);
	} else if (rc == 1) {
		*cut = (uint64_t)sb.st_size > max;
		if (lseek(fd, *cut ? sb.st_size - (off_t)max : 0, SEEK_SET) < 0)
			rc = lq_err_sys(err, "%s", name);
		else
			rc = lq_read_fd(fd, name, max, b, err);
	}
	lq_sys_close(fd);
	return rc;
}

/* ---------------------------------------------------------------- asking the MTA */

char *
lq_ask_program(const char *const argv[])
{
	char *out = lq_ask_program_all(argv);

	if (out != NULL) {
		out[strcspn(out, "\n")] = '\0';
		if (out[0] == '\0') {
			free(out);
			out = NULL;
		}
	}
	return out;
}

char *
lq_ask_program_all(const char *const argv[])
{
	posix_spawn_file_actions_t fa;
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int pfd[2], status;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		lq_sys_close(pfd[0]);
		lq_sys_close(pfd[1]);
		return NULL;
	}
	posix_spawn_file_actions_destroy(&fa);
	lq_sys_close(pfd[1]);
	for (;;) {		/* past 4 KiB, read on into nothing: the program must not block */
		char rest[512];

		n = len < sizeof buf - 1 ?
		    lq_sys_read(pfd[0], buf + len, sizeof buf - 1 - len) :
		    lq_sys_read(pfd[0], rest, sizeof rest);
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
		if (n > 0 && len < sizeof buf - 1)
			len += n;
	}
	lq_sys_close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return NULL;
	buf[len] = '\0';
	return strdup(buf);
}

/* ---------------------------------------------------------------- JSON */

size_t
lq_utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* no overlong 3- and 4-byte forms, no surrogates, nothing above U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

static void
json_chars(FILE *out, const char *s, size_t n, int text)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *e = p + n;
	size_t u;

	flockfile(out);	/* once per string, not per character (lq_write_listing says why) */
	putc_unlocked('"', out);
	for (; p < e; p++) {
		if (text && *p >= 0x80) {
			if ((u = lq_utf8_len(p, (size_t)(e - p))) > 0) {
				fwrite_unlocked(p, 1, u, out);
				p += u - 1;
			} else
				fprintf(out, "\\\\x%c%c", hex[*p >> 4], hex[*p & 15]);
			continue;
		}
		switch (*p) {
		case '"': fputs_unlocked("\\\"", out); break;
		case '\\': fputs_unlocked("\\\\", out); break;
		case '\n': fputs_unlocked("\\n", out); break;
		case '\r': fputs_unlocked("\\r", out); break;
		case '\t': fputs_unlocked("\\t", out); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fputs_unlocked("\\u00", out);
				putc_unlocked(hex[*p >> 4], out);
				putc_unlocked(hex[*p & 15], out);
			} else
				putc_unlocked(*p, out);	/* bytes >= 0x80 pass as they are, like postqueue -j */
		}
	}
	putc_unlocked('"', out);
	funlockfile(out);
}

void
lq_json_string(FILE *out, const char *s, size_t n)
{
	json_chars(out, s, n, 0);
}

void
lq_json_text(FILE *out, const char *s, size_t n)
{
	json_chars(out, s, n, 1);
}

/* ---------------------------------------------------------------- sorting */

/*
 * An in-place most-significant-digit radix sort (an "American flag" sort), DIGIT_BITS at a
 * time, over the bits in which the keys differ (keys taken from the smallest, or from the
 * largest when descending); equal keys then in the order of their vals. A comparison sort
 * of 1,000,000 Exim IDs (a merge sort) took 0.3 s, 19x its time for 100,000: the array
 * outgrew the processor's caches and each of its 20 passes missed them. A radix sort
 * touches the array a few times, and this one needs no second array: at a million keys
 * that is 16 MB fewer fresh pages in the serial phase of a sorted scan, and a fresh page
 * (zeroed by the kernel, and on a virtual machine often backed anew by the host) cost
 * more there than the sorting.
 */
#define DIGIT_BITS 8
#define DIGITS (1 << DIGIT_BITS)
#define SORT_SMALL 32		/* fewer: an insertion sort */

struct ranks {
	uint64_t lo, hi;
	int descending;
};

/* what the sort orders by: the key's distance from the first key in the order */
static inline uint64_t
rank(const struct ranks *r, uint64_t key)
{
	return r->descending ? r->hi - key : key - r->lo;
}

static inline int
keyed_before(const struct ranks *r, const struct lq_keyed *a, const struct lq_keyed *b)
{
	uint64_t ra = rank(r, a->key), rb = rank(r, b->key);

	return ra < rb || (ra == rb && a->val < b->val);
}

static void
insertion_sort(struct lq_keyed *v, size_t n, const struct ranks *r)
{
	for (size_t i = 1; i < n; i++) {
		struct lq_keyed x = v[i];
		size_t j = i;

		for (; j > 0 && keyed_before(r, &x, &v[j - 1]); j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static int
val_cmp(const void *a, const void *b)
{
	size_t x = ((const struct lq_keyed *)a)->val, y = ((const struct lq_keyed *)b)->val;

	return (x > y) - (x < y);
}

/* v, whose ranks agree above bit shift + DIGIT_BITS, in order: bucketed by the digit at
 * shift in place (each entry swapped straight to its bucket), then each bucket likewise
 * by the next digit down. Recursion depth: 64 / DIGIT_BITS. */
static void
flag_sort(struct lq_keyed *v, size_t n, const struct ranks *r, int shift)
{
	size_t count[DIGITS], next[DIGITS], end[DIGITS], at = 0;

	if (n <= SORT_SMALL) {
		insertion_sort(v, n, r);
		return;
	}
	if (shift < 0) {	/* equal keys */
		qsort(v, n, sizeof *v, val_cmp);
		return;
	}
	/* zeroed only here: most calls, deep down, are for small buckets and return above */
	memset(count, 0, sizeof count);
	for (size_t i = 0; i < n; i++)
		count[(rank(r, v[i].key) >> shift) & (DIGITS - 1)]++;
	for (size_t d = 0; d < DIGITS; d++) {
		next[d] = at;
		at += count[d];
		end[d] = at;
	}
	for (size_t d = 0; d < DIGITS; d++)
		while (next[d] < end[d]) {
			struct lq_keyed x = v[next[d]], t;
			size_t xd = (rank(r, x.key) >> shift) & (DIGITS - 1);

			while (xd != d) {	/* follow the cycle until one lands in bucket d */
				t = v[next[xd]];
				v[next[xd]++] = x;
				x = t;
				xd = (rank(r, x.key) >> shift) & (DIGITS - 1);
			}
			v[next[d]++] = x;
		}
	at = 0;
	for (size_t d = 0; d < DIGITS; d++) {
		if (count[d] > 1)
			flag_sort(v + at, count[d], r, shift - DIGIT_BITS);
		at += count[d];
	}
}

void
lq_sort_keyed(struct lq_keyed *v, size_t n, int descending)
{
	struct ranks r = { UINT64_MAX, 0, descending };
	int shift = -DIGIT_BITS;

	for (size_t i = 0; i < n; i++) {
		r.lo = v[i].key < r.lo ? v[i].key : r.lo;
		r.hi = v[i].key > r.hi ? v[i].key : r.hi;
	}
	/* the digit that holds the highest bit in which the keys differ */
	while (n > 1 && shift + DIGIT_BITS < 64 && ((r.hi - r.lo) >> (shift + DIGIT_BITS)) != 0)
		shift += DIGIT_BITS;
	if (n > 1)
		flag_sort(v, n, &r, shift);
}

/* ---------------------------------------------------------------- name lists */

/* s (n bytes) and a NUL at the end of l's pool; its offset in *at */
static int
pool_add(struct lq_names *l, const char *s, size_t n, size_t *at)
{
	if (l->poolcap - l->poollen < n + 1) {
		size_t cap = l->poolcap ? l->poolcap : 16384;
		char *p;

		while (cap - l->poollen < n + 1)
			cap *= 2;
		if ((p = realloc(l->pool, cap)) == NULL)
			return -1;
		l->pool = p;
		l->poolcap = cap;
	}
	memcpy(l->pool + l->poollen, s, n);
	l->pool[l->poollen + n] = '\0';
	*at = l->poollen;
	l->poollen += n + 1;
	return 0;
}

/* v, the array of l's names (elements of size bytes), with room for one more: itself,
 * or grown (l->cap with it); NULL: out of memory, v untouched */
static void *
names_room(struct lq_names *l, void *v, size_t size)
{
	size_t cap = l->cap ? l->cap * 2 : 1024;

	if (l->n < l->cap)
		return v;
	if ((v = reallocarray(v, cap, size)) != NULL)
		l->cap = cap;
	return v;
}

int
lq_names_add(struct lq_names *l, const char *s, size_t n)
{
	size_t *off = names_room(l, l->off, sizeof *off);

	if (off == NULL)
		return -1;
	l->off = off;
	if (pool_add(l, s, n, &off[l->n]) < 0)
		return -1;
	l->n++;
	return 0;
}

int
lq_names_add_keyed(struct lq_names *l, const char *s, size_t n, uint64_t key)
{
	struct lq_keyed *keyed = names_room(l, l->keyed, sizeof *keyed);

	if (keyed == NULL)
		return -1;
	l->keyed = keyed;
	if (pool_add(l, s, n, &keyed[l->n].val) < 0)
		return -1;
	keyed[l->n++].key = key;
	return 0;
}

void
lq_names_free(struct lq_names *l)
{
	free(l->pool);
	free(l->off);
	free(l->keyed);
	memset(l, 0, sizeof *l);
}
