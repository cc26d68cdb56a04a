/*
 * fuzz.h -- what the libFuzzer targets share (tests/fuzz/TARGET.c; `make fuzz`).
 *
 * Every target drives libqueue through its public API only: the fuzz input becomes one or
 * more files of a tiny spool in a private directory on tmpfs (/dev/shm), made once per
 * process; each execution rewrites those files and then scans the spool, loads the message
 * by ID, and runs every reader and writer of queue.h on it (listings, JSON, exiqgrep,
 * summaries, the envelope, headers and body, a selection that reads content). Output goes
 * to /dev/null: what is checked is that nothing reads or writes out of bounds, overflows,
 * leaks, hangs or grows without bound, whatever the bytes.
 *
 * Input format, so that seeds made from real spool files stay meaningful and libFuzzer can
 * still change every byte: one flags byte (its meaning is the target's), then the files'
 * contents separated by FZ_SEP. Missing parts are empty. tests/fuzz/seeds writes seeds in
 * this format from the labs' real spools.
 */
#ifndef QT_FUZZ_H
#define QT_FUZZ_H

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue.h"

#define FZ_SEP "\n@@qtools-fuzz@@\n"
#define FZ_MAXPARTS 8
#define FZ_NOW ((time_t)1767225600)	/* the labs' T0 */

struct fz_parts {
	unsigned flags;
	const uint8_t *p[FZ_MAXPARTS];
	size_t n[FZ_MAXPARTS];
};

static inline void
fz_split(const uint8_t *data, size_t size, struct fz_parts *fp)
{
	size_t seplen = sizeof FZ_SEP - 1;
	int k = 0;

	memset(fp, 0, sizeof *fp);
	for (int i = 0; i < FZ_MAXPARTS; i++)
		fp->p[i] = (const uint8_t *)"";
	if (size == 0)
		return;
	fp->flags = data[0];
	data++, size--;
	while (k < FZ_MAXPARTS) {
		const uint8_t *s = k + 1 < FZ_MAXPARTS ? memmem(data, size, FZ_SEP, seplen) : NULL;

		fp->p[k] = data;
		fp->n[k] = s ? (size_t)(s - data) : size;
		k++;
		if (s == NULL)
			break;
		size -= (s - data) + seplen;
		data = s + seplen;
	}
}

/* ---------------------------------------------------------------- the private directory */

static char fz_root[256];

static inline void
fz_rm_tree(int dirfd)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dirfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			continue;
		if ((sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)) >= 0) {
			fz_rm_tree(sub);
			close(sub);
		}
		unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

static inline void
fz_cleanup(void)
{
	int fd;

	if (fz_root[0] == '\0' || (fd = open(fz_root, O_RDONLY | O_DIRECTORY)) < 0)
		return;
	fz_rm_tree(fd);
	close(fd);
	rmdir(fz_root);
	fz_root[0] = '\0';
}

/* A fresh directory on tmpfs (else $TMPDIR or /tmp), removed at exit. */
static inline const char *
fz_make_root(const char *what)
{
	const char *bases[] = { "/dev/shm", getenv("TMPDIR"), "/tmp" };

	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
		if (bases[i] == NULL)
			continue;
		snprintf(fz_root, sizeof fz_root, "%s/qtools-fuzz-%s-XXXXXX", bases[i], what);
		if (mkdtemp(fz_root) != NULL) {
			atexit(fz_cleanup);
			return fz_root;
		}
	}
	perror("mkdtemp");
	abort();
}

/* mkdir -p of a path relative to fz_root */
static inline void
fz_mkdirs(const char *rel)
{
	char path[512], *p;

	snprintf(path, sizeof path, "%s/%s", fz_root, rel);
	for (p = path + strlen(fz_root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			perror(path), abort();
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		perror(path), abort();
}

static inline int
fz_open_dir(const char *rel)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/%s", fz_root, rel);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY)) < 0)
		perror(path), abort();
	return fd;
}

/*
 * The files an execution writes. Most of an execution's cost is system calls (tmpfs, but a
 * VM), so files are rewritten in place and only the ones the previous execution made and
 * this one does not are removed: an execution's spool is still exactly what its input says,
 * whatever ran before it (a crash must reproduce from its input alone).
 */
struct fz_file {
	int dirfd;
	char name[64];
	mode_t mode;
	int used;		/* by this execution */
};
static struct fz_file fz_files[16];
static size_t fz_nfiles;

/* An execution begins: nothing written yet. */
static inline void
fz_begin(void)
{
	for (size_t i = 0; i < fz_nfiles; i++)
		fz_files[i].used = 0;
}

/* dirfd/name holds these bytes and this mode. */
static inline void
fz_put(int dirfd, const char *name, const uint8_t *p, size_t n, mode_t mode)
{
	struct fz_file *f = NULL;
	int fd;

	for (size_t i = 0; i < fz_nfiles && f == NULL; i++)
		if (fz_files[i].dirfd == dirfd && strcmp(fz_files[i].name, name) == 0)
			f = &fz_files[i];
	if (f != NULL && f->mode == mode)
		fd = openat(dirfd, name, O_WRONLY | O_TRUNC | O_NOFOLLOW);
	else {
		if (f != NULL)
			unlinkat(dirfd, name, 0);
		else if (fz_nfiles < sizeof fz_files / sizeof fz_files[0] &&
		    strlen(name) < sizeof f->name) {
			f = &fz_files[fz_nfiles++];
			f->dirfd = dirfd;
			strcpy(f->name, name);
		} else
			abort();
		f->mode = mode;
		umask(0);
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
	}
	if (fd < 0)
		perror(name), abort();
	f->used = 1;
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			perror(name), abort();
		p += w;
		n -= (size_t)w;
	}
	close(fd);
}

/* Remove the files of earlier executions that this one did not write. */
static inline void
fz_end_files(void)
{
	size_t k = 0;

	for (size_t i = 0; i < fz_nfiles; i++)
		if (fz_files[i].used)
			fz_files[k++] = fz_files[i];
		else
			unlinkat(fz_files[i].dirfd, fz_files[i].name, 0);
	fz_nfiles = k;
}

/* Forget the files of dirfd (the directory is being removed). */
static inline void
fz_forget_dir(int dirfd)
{
	size_t k = 0;

	for (size_t i = 0; i < fz_nfiles; i++)
		if (fz_files[i].dirfd != dirfd)
			fz_files[k++] = fz_files[i];
	fz_nfiles = k;
}

/* ---------------------------------------------------------------- running every reader */

static FILE *fz_null;

static inline int
fz_part(enum lq_part part, const char *data, size_t len, int deleted, void *arg)
{
	volatile unsigned char sink = 0;

	/* touch every byte handed out: ASan checks that it is inside what was read */
	for (size_t i = 0; i < len; i++)
		sink ^= (unsigned char)data[i];
	(void)part, (void)deleted, (void)sink;
	*(size_t *)arg += len;
	return 0;
}

struct fz_run {
	struct lq_spool *sp;
	struct lq_select *sel;
	struct lq_summary *sum;
	unsigned how;
	unsigned long n;
};

/*
 * Everything a tool can do with one message. Which content readers run depends on how
 * (an input's length, odd or even: still a function of the input alone), since each one
 * reads the files again; light: only what needs no more reading.
 */
static inline void
fz_use_message(struct lq_spool *sp, struct lq_msg *m, struct lq_select *sel,
    struct lq_summary *sum, unsigned how, int light)
{
	struct lq_err e;
	size_t total = 0;

	for (size_t i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].address == NULL || strlen(m->rcpt[i].address) > (64u << 20))
			abort();
	lq_write_listing(fz_null, m, 0, FZ_NOW);
	lq_write_listing(fz_null, m, LQ_LIST_ALL, FZ_NOW);
	lq_write_listing(fz_null, m, LQ_LIST_UNDELIVERED, FZ_NOW);
	lq_write_exiqgrep(fz_null, m, LQ_LIST_ALL, 0, FZ_NOW);
	lq_write_exiqgrep(fz_null, m, 0, 1, FZ_NOW);
	lq_write_json(fz_null, m, "fuzz.example");
	(void)lq_state_name(m);
	if (sum != NULL)
		lq_summary_add(sum, m);
	if (light)
		return;
	if (sel != NULL)
		(void)lq_select_match(sel, sp, m, &e);
	if (how & 1) {
		(void)lq_read(sp, m, LQ_PART_BODY, fz_part, &total, &e);
		(void)lq_write_envelope(sp, m, fz_null, &e);
		(void)lq_write_view(sp, m, LQ_PART_BODY, fz_null, &e);
	} else {
		(void)lq_read(sp, m, LQ_PART_HEADER | LQ_PART_BODY, fz_part, &total, &e);
		(void)lq_write_view(sp, m, LQ_VIEW_ENVELOPE | LQ_PART_HEADER | LQ_PART_BODY,
		    fz_null, &e);
	}
}

static inline int
fz_each(struct lq_msg *m, void *arg)
{
	struct fz_run *r = arg;

	r->n++;
	fz_use_message(r->sp, m, r->sel, r->sum, r->how, 0);
	return 0;
}

static inline void
fz_problem(const char *id, const struct lq_err *e, void *arg)
{
	/* a report must be one bounded line naming something */
	if (memchr(e->msg, '\0', sizeof e->msg) == NULL)
		abort();
	(void)id, (void)arg;
}

/* A selection that reads headers and body, so lq_read runs inside lq_select_match. */
static inline struct lq_select *
fz_content_selection(void)
{
	static const char *headers[] = { "Subject: .", "From: @" };
	struct lq_select_opts o = { .rcpt = "@", .headers = headers, .nheaders = 2,
		.body = "a.*z", .older = "1s" };
	struct lq_err e;
	struct lq_select *sel = lq_select_new(&o, FZ_NOW, &e);

	if (sel == NULL)
		fprintf(stderr, "%s\n", e.msg), abort();
	return sel;
}

/* One scan (scanflags: sorted, reversed or unsorted), the queue statistics when asked, then
 * each ID given loaded by ID and its log written; every message the scan meets is used
 * (fz_use_message: how). */
static inline void
fz_exercise(struct lq_spool *sp, unsigned scanflags, int stat, const char *const *ids,
    size_t nids, unsigned how)
{
	static struct lq_select *sel;
	struct lq_summary *sum = lq_summary_new(LQ_SUM_SOURCE | LQ_SUM_MARK_BOUNCE |
	    LQ_SUM_MARK_FROZEN, FZ_NOW);
	struct fz_run r = { sp, NULL, sum, how, 0 };
	struct lq_scan sc = { .flags = scanflags, .each = fz_each, .problem = fz_problem,
		.arg = &r };
	struct lq_err e;
	struct lq_msg *m;

	if (fz_null == NULL && (fz_null = fopen("/dev/null", "w")) == NULL)
		abort();
	if (sel == NULL)
		sel = fz_content_selection();
	r.sel = sel;
	(void)lq_scan(sp, &sc, &e);
	lq_write_listing_head(fz_null, sp);
	lq_write_listing_tail(fz_null, sp, r.n, 1234);
	if (stat)
		(void)lq_write_stat(fz_null, sp, &e);
	for (size_t i = 0; i < nids; i++)
		if (lq_load(sp, ids[i], 0, &m, &e) == 0) {
			fz_use_message(sp, m, sel, NULL, how, 1);
			(void)lq_write_log(sp, m, fz_null, &e);	/* qcat --log */
		}
	lq_summary_write(fz_null, sum);
	lq_summary_write_json(fz_null, sum, "fuzz.example", lq_spool_mta(sp), r.n);
	{
		struct lq_json_end end = { FZ_NOW, r.n, r.n, 0, 0 };

		lq_write_json_end(fz_null, "fuzz.example", lq_spool_mta(sp), &end);
	}
	lq_summary_free(sum);
	fflush(fz_null);
}

static inline struct lq_spool *
fz_open_spool(enum lq_mta mta)
{
	struct lq_err e;
	struct lq_spool *sp = lq_spool_open(fz_root, mta, NULL, &e);

	if (sp == NULL)
		fprintf(stderr, "fuzz: %s\n", e.msg), abort();
	return sp;
}

/* ---------------------------------------------------------------- the selection targets */

/*
 * The spool the selection targets (select, expr) match against, made once: two Exim
 * messages, one frozen with two recipients, headers (one deleted) and a body, the other a
 * bounce spooled in wire format (CRLF) with one recipient done.
 */
static inline void
fz_selection_spool(const char *what)
{
	static const char msg1_h[] =
	    "1v0qRs-0001HP-0H-H\nroot 0 0\n<fossil@oldmail.example>\n1758585600 0\n"
	    "-received_time_usec .087393\n-ident root\n-aclm _lab_score 1\n7\n-frozen 1758585700\n"
	    "XX\n2\ntrent@remote.example\nzoe@[192.0.2.1]\n\n"
	    "031F From: <fossil@oldmail.example>\n025T To: trent@remote.example\n"
	    "028  Subject: a hundred days old\n022* X-Gone: not listed\n";
	static const char msg1_d[] = "1v0qRs-0001HP-0H-D\nline one\nalpha to zulu\n\nlast\n";
	static const char msg2_h[] =
	    "1vXTLC-0001JI-0V-H\nmail 8 8\n<>\n1767225000 1\n-spool_file_wireformat\n"
	    "YN trent@remote.example\nNN done@x.example\n1\ntrent@remote.example\n\n"
	    "014  Subject: bounce\n";
	static const char msg2_d[] = "1vXTLC-0001JI-0V-D\r\nwire\r\nformat\r\n";
	int fd;

	fz_make_root(what);
	fz_mkdirs("input");
	fd = fz_open_dir("input");
	fz_put(fd, "1v0qRs-0001HP-0H-H", (const uint8_t *)msg1_h, sizeof msg1_h - 1, 0640);
	fz_put(fd, "1v0qRs-0001HP-0H-D", (const uint8_t *)msg1_d, sizeof msg1_d - 1, 0640);
	fz_put(fd, "1vXTLC-0001JI-0V-H", (const uint8_t *)msg2_h, sizeof msg2_h - 1, 0640);
	fz_put(fd, "1vXTLC-0001JI-0V-D", (const uint8_t *)msg2_d, sizeof msg2_d - 1, 0640);
	close(fd);
}

#endif
