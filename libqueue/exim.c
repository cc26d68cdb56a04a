/*
 * exim.c -- the Exim backend: input/ (and its one-character split subdirectories),
 * named queues, ID-H envelope+headers, ID-D data (only stat'ed unless the body is
 * wanted), ID-J journals. Format: libqueue/README, "Exim".
 *
 * Diagnostics: a -H that does not follow the format is LQ_ECORRUPT naming the ID and
 * what was wrong; a file that vanished mid-scan is counted, not reported.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

#define HFILE_MAX (64u << 20)	/* a -H bigger than this is refused */
#define JFILE_MAX (16u << 20)
#define MAX_RCPTS 16384		/* exim's own reader refuses more */
#define MAX_TREE 1000000

struct exim {
	char *qflag;		/* "-qGNAME" for exim's command line, or NULL */
	char *qrunflag;		/* "-qffGNAME": a forced run of that queue */
	int queuefd;		/* <spool> or <spool>/<named queue> */
	int inputfd;		/* its input/ */
	int subfd[62];		/* input/X, opened on first use; -1 unknown, -2 absent */
	/* the files of the message being loaded outside a threaded scan (lq_load, lq_act,
	 * --jobs 1): its -H, -J and message log; a threaded scan's loads use their slot's */
	struct lq_buf bufs[LQ_SLOT_BUFS];
	/* during a sorted scan: the IDs that have a -J (readdir saw them), sorted, so that
	 * the other messages cost no failed open of a journal */
	char **journals;
	size_t njournals;
	int journals_known;
	int logfd;		/* msglog/, opened on first use; -1 unknown, -2 absent */
	int logsub[62];		/* msglog/X, the same */
	pthread_mutex_t logmu;	/* those first uses, which a scan's loading threads share */
	const char *queues[2];	/* lq_spool_queues: the one queue read */
	/* during a scan with LQ_SCAN_LOCKS: Exim's locks on -D files, as /proc/locks lists
	 * them when the scan began (no open per message); not loaded: asked per message */
	struct lq_locks locks;
	int locks_loaded;
	struct exim_held {	/* the message being acted on (lq_act) */
		char id[LQ_ID_MAX + 1];
		int dirfd;	/* input/ or input/X/ */
		int lockfd;	/* its -D, locked; -1: a -H without -D */
		struct lq_msg *m;
	} held;
};

/* Which of a load's buffers (struct lq_slot's, or the spool's own) holds which file. */
enum { BUF_H, BUF_J, BUF_LOG };

/* What a loaded message remembers for lq_read. */
struct exim_msg {
	int dirfd;		/* directory holding its files (input or input/X) */
	int lockfd;		/* the -D we hold Exim's lock on, or -1: never close it early */
	const struct lq_buf *hbuf;	/* its -H (the spool's, or its scan slot's) */
	size_t hdr_off;		/* where the header section starts in hbuf */
	int wireformat;		/* -D holds CRLF as received over BDAT */
};

/* the value of a base-62 digit, -1 for anything else (computed: no table filled on first
 * use, which a scan's loading threads would race on) */
static int
b62digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

static long long
b62num(const char *s, size_t n)
{
	long long v = 0;

	while (n-- > 0)
		v = v * 62 + b62digit(*s++);
	return v;
}

static int
alnum_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b62digit((unsigned char)s[i]) < 0)
			return 0;
	return 1;
}

/* 4.96: tttttt-pppppp-ff (16); 4.97+: tttttt-ppppppppppp-ssss (23). */
static int
exim_valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 16)
		return alnum_run(id, 6) && id[6] == '-' && alnum_run(id + 7, 6) && id[13] == '-' &&
		    alnum_run(id + 14, 2);
	if (n == 23)
		return alnum_run(id, 6) && id[6] == '-' && alnum_run(id + 7, 11) &&
		    id[18] == '-' && alnum_run(id + 19, 4);
	return 0;
}

/* Microseconds within the second: 5 ms slots in old IDs, microseconds in new ones. */
static long
id_subsecond(const char *id, size_t n)
{
	return n == 16 ? b62num(id + 14, 2) * 5000 : b62num(id + 19, 4);
}

/* "ID" + suffix ("-H", "-D", "-J") into name: the ID was validated, so it fits. */
static const char *
spool_name(char name[LQ_ID_MAX + 3], const char *id, const char *suffix)
{
	size_t n = strlen(id);

	memcpy(name, id, n);
	memcpy(name + n, suffix, 3);
	return name;
}

/* ---------------------------------------------------------------- locating */

static int
exim_detect(int dirfd)
{
	struct stat st;

	return fstatat(dirfd, "input", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    fstatat(dirfd, "maildrop", &st, AT_SYMLINK_NOFOLLOW) < 0;
}

static char *
exim_default_dir(void)
{
	static const char *const ask[][5] = {
		{ "exim4", "-bP", "-n", "spool_directory", NULL },
		{ "exim", "-bP", "-n", "spool_directory", NULL },
	};
	static const char *const guess[] = { "/var/spool/exim4", "/var/spool/exim" };
	struct stat st;
	char *dir;

	for (size_t i = 0; i < sizeof ask / sizeof ask[0]; i++)
		if ((dir = lq_ask_program(ask[i])) != NULL)
			return dir;
	for (size_t i = 0; i < sizeof guess / sizeof guess[0]; i++)
		if (stat(guess[i], &st) == 0)
			return strdup(guess[i]);
	return NULL;
}

static const char *queue_name(const struct lq_spool *);

/* A named queue is a directory of the spool with an input/ of its own (Exim makes
 * SPOOL/NAME/input for queue_name = NAME). */
static int
is_named_queue(int dirfd, const char *name)
{
	struct lq_err e;
	int qfd, fd;

	if (!lq_plain_name(name) || (qfd = lq_open_dir(dirfd, name, &e)) < 0)
		return 0;
	fd = lq_open_dir(qfd, "input", &e);
	lq_sys_close(qfd);
	if (fd < 0)
		return 0;
	lq_sys_close(fd);
	return 1;
}

static int
name_cmp(const void *a, const void *b, void *pool)
{
	return strcmp((const char *)pool + *(const size_t *)a, (const char *)pool + *(const size_t *)b);
}

/* The named queue's directory, or -1 with err naming the spool's named queues. */
static int
open_named_queue(struct lq_spool *sp, struct lq_err *err)
{
	struct lq_names names = { 0 };
	char known[256] = "";
	struct dirent *de;
	size_t k = 0;
	int fd;
	DIR *d;

	if (is_named_queue(sp->dirfd, sp->queue))
		return lq_open_dir(sp->dirfd, sp->queue, err);
	if ((fd = dup(sp->dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			lq_sys_close(fd);
		return lq_err_sys(err, "%s", sp->dir);
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && is_named_queue(sp->dirfd, de->d_name) &&
		    lq_names_add(&names, de->d_name, strlen(de->d_name)) < 0)
			break;
	closedir(d);
	if (names.n > 1)
		qsort_r(names.off, names.n, sizeof *names.off, name_cmp, names.pool);
	for (size_t i = 0; i < names.n && k < sizeof known; i++)
		k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "",
		    names.pool + names.off[i]);
	lq_err_set(err, LQ_ENOENT, "%.80s%s: no queue of that name in %s (%s%s)", sp->queue,
	    strlen(sp->queue) > 80 ? "..." : "", sp->dir,
	    names.n ? "its named queues: " : "it has no named queue", known);
	lq_names_free(&names);
	return -1;
}

static int
exim_open(struct lq_spool *sp, struct lq_err *err)
{
	struct exim *ex;
	int qfd = sp->dirfd, fd;

	if ((ex = calloc(1, sizeof *ex)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	ex->logmu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	ex->inputfd = ex->queuefd = -1;
	ex->logfd = -1;
	for (int i = 0; i < 62; i++)
		ex->subfd[i] = ex->logsub[i] = -1;
	ex->queues[0] = queue_name(sp);
	sp->priv = ex;
	if (sp->queue != NULL && (qfd = open_named_queue(sp, err)) < 0)
		return -1;
	if (sp->queue != NULL && (asprintf(&ex->qflag, "-qG%s", sp->queue) < 0 ||
	    asprintf(&ex->qrunflag, "-qffG%s", sp->queue) < 0)) {
		ex->qflag = ex->qrunflag = NULL;
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	}
	if (qfd == sp->dirfd && (qfd = dup(sp->dirfd)) < 0)
		return lq_err_sys(err, "%s", sp->dir);
	ex->queuefd = qfd;
	if ((fd = lq_open_dir(qfd, "input", err)) < 0)
		return -1;
	ex->inputfd = fd;
	return 0;
}

static const char *const *
exim_queues(const struct lq_spool *sp)
{
	const struct exim *ex = sp->priv;

	return ex->queues;
}

static void
exim_close(struct lq_spool *sp)
{
	struct exim *ex = sp->priv;

	if (ex->inputfd >= 0)
		lq_sys_close(ex->inputfd);
	if (ex->queuefd >= 0)
		lq_sys_close(ex->queuefd);
	for (int i = 0; i < 62; i++) {
		if (ex->subfd[i] >= 0)
			lq_sys_close(ex->subfd[i]);
		if (ex->logsub[i] >= 0)
			lq_sys_close(ex->logsub[i]);
	}
	if (ex->logfd >= 0)
		lq_sys_close(ex->logfd);
	for (int i = 0; i < LQ_SLOT_BUFS; i++)
		lq_buf_free(&ex->bufs[i]);
	pthread_mutex_destroy(&ex->logmu);
	lq_locks_free(&ex->locks);
	free(ex->qflag);
	free(ex->qrunflag);
	free(ex);
	sp->priv = NULL;
}

/* ---------------------------------------------------------------- parsing -H */

struct cursor {
	char *p, *end;
};

/* The next line, NUL-terminated in place; NULL at the end or for an unterminated line. */
static char *
next_line(struct cursor *c, size_t *lenp)
{
	char *s = c->p, *nl;

	if (s >= c->end || (nl = memchr(s, '\n', c->end - s)) == NULL)
		return NULL;
	*nl = '\0';
	c->p = nl + 1;
	if (lenp != NULL)
		*lenp = nl - s;
	return s;
}

static int
corrupt(struct lq_err *err, const char *id, const char *what)
{
	return lq_err_set(err, LQ_ECORRUPT, "%s: corrupt -H file: %s", id, what);
}

/* "NAME LEN" of an ACL variable line: skip the LEN value bytes and their newline. */
static int
skip_acl_value(struct cursor *c, const char *line)
{
	const char *sp = strchr(line, ' ');
	char *endp;
	long len;

	if (sp == NULL || (sp = strchr(sp + 1, ' ')) == NULL)
		return -1;
	errno = 0;
	len = strtol(sp + 1, &endp, 10);
	if (errno != 0 || endp == sp + 1 || len < 0 || len >= c->end - c->p)
		return -1;
	c->p += len + 1;
	return 0;
}

/* Split "address orcpt LEN,DSN errors_to LEN,PNO#3" from the right, as Exim does. */
static int
rcpt_address(char *line, size_t n)
{
	char *p, *start = line;

	if (n < 1)
		return -1;
	p = line + n - 1;
	while (p > start && isdigit((unsigned char)*p))
		p--;
	if (*p == ',') {		/* Exim 3: address a,b,c */
		while (p > start && (isdigit((unsigned char)*--p) || *p == ','))
			;
		if (*p == ' ')
			*p = '\0';
	} else if (*p == ' ') {		/* early Exim 4: address pno */
		*p = '\0';
	} else if (*p == '#') {		/* Exim 4: data#flags */
		int flags = atoi(p + 1);

		for (int bit = 1; bit <= 2; bit <<= 1) {
			long len;

			if (bit == 1 && !(flags & 1))
				goto terminate;
			while (p > start && (isdigit((unsigned char)*--p) || *p == ',' || *p == '-'))
				;
			len = atol(p + 1);
			if (len < 0 || len > p - start)
				return -1;
			*p = '\0';
			p -= len;
terminate:
			if (p <= start)
				return -1;
			*--p = '\0';
			if (bit == 2 || !(flags & 2))
				break;
		}
	}
	return 0;
}

static int
strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Mark the recipients found in the done set; what is left over are the extras (-bpa). */
static int
apply_done(struct lq_msg *m, char **done, size_t ndone, struct lq_err *err)
{
	size_t nextra = 0, j;
	unsigned char *used;
	struct lq_rcpt *r;

	if (ndone == 0)
		return 0;
	qsort(done, ndone, sizeof *done, strptr_cmp);
	if ((used = lq_arena_alloc(m->arena, ndone)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	memset(used, 0, ndone);
	for (size_t i = 0; i < m->nrcpt; i++) {
		char **hit = bsearch(&m->rcpt[i].address, done, ndone, sizeof *done, strptr_cmp);

		if (hit != NULL) {
			m->rcpt[i].flags |= LQ_RCPT_DONE;
			used[hit - done] = 1;
		}
	}
	for (j = 0; j < ndone; j++)
		if (!used[j] && (j == 0 || strcmp(done[j], done[j - 1]) != 0))
			nextra++;
	if (nextra == 0)
		return 0;
	if ((r = lq_arena_alloc(m->arena, (m->nrcpt + nextra) * sizeof *r)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	memcpy(r, m->rcpt, m->nrcpt * sizeof *r);
	for (j = 0; j < ndone; j++)
		if (!used[j] && (j == 0 || strcmp(done[j], done[j - 1]) != 0))
			r[m->nrcpt++] = (struct lq_rcpt){ done[j], NULL, LQ_RCPT_DONE | LQ_RCPT_EXTRA };
	m->rcpt = r;
	return 0;
}

/* Envelope and header section of hbuf into m; the headers are only checked and summed. */
static int
parse_header_file(struct lq_buf *hbuf, struct exim_msg *xm, struct lq_msg *m,
    int64_t *hdrsize, char ***donep, size_t *ndonep, struct lq_err *err)
{
	struct cursor c = { hbuf->data, hbuf->data + hbuf->len };
	const char *id = m->id;
	char *line, *p, *endp, **done = NULL;
	size_t n, ndone = 0, capdone = 0, pending;
	long long v;
	long nr;

	if (memchr(c.p, '\0', c.end - c.p) != NULL) {
		/* a NUL is only legal nowhere: Exim's reader stops at it */
		char *z = memchr(c.p, '\0', c.end - c.p);

		c.end = z;
		hbuf->len = z - hbuf->data;
	}
	/* 1: ID-H */
	if ((line = next_line(&c, &n)) == NULL || n != strlen(id) + 2 ||
	    strncmp(line, id, n - 2) != 0 || strcmp(line + n - 2, "-H") != 0)
		return corrupt(err, id, "first line is not the file's name");
	/* 2: login uid gid, from the right */
	if ((line = next_line(&c, &n)) == NULL)
		return corrupt(err, id, "no login line");
	for (int k = 0; k < 2; k++) {
		if ((p = strrchr(line, ' ')) == NULL)
			return corrupt(err, id, "bad login line");
		(void)strtol(p + 1, &endp, 10);
		if (endp == p + 1 || *endp != '\0')
			return corrupt(err, id, "bad login line");
		*p = '\0';
	}
	m->login = line;
	/* 3: <sender> */
	if ((line = next_line(&c, &n)) == NULL || n < 2 || line[0] != '<' || line[n - 1] != '>')
		return corrupt(err, id, "bad sender line");
	line[n - 1] = '\0';
	m->sender = line + 1;
	if (m->sender[0] == '\0')
		m->flags |= LQ_MSG_BOUNCE;
	/* 4: received time, warnings */
	if ((line = next_line(&c, &n)) == NULL)
		return corrupt(err, id, "no time line");
	errno = 0;
	v = strtoll(line, &endp, 10);
	if (errno != 0 || endp == line || *endp != ' ' || strtol(endp + 1, &p, 10) < 0 || p == endp + 1)
		return corrupt(err, id, "bad time line");
	/* before 1970 or after 9999: no Exim wrote it, and ages (now - arrival) would overflow */
	if (v < 0 || v > 253402300799LL)
		return corrupt(err, id, "arrival time out of range");
	m->arrival = (time_t)v;
	/* -name lines, until the first line that does not start with '-' */
	for (;;) {
		if ((line = next_line(&c, &n)) == NULL)
			return corrupt(err, id, "truncated in the option lines");
		if (line[0] != '-')
			break;
		p = line + 1;
		if (*p == '-')
			p++;		/* tainted value */
		if (*p == '(' && (p = strchr(p, ')')) != NULL)
			p++;		/* quoter name */
		if (p == NULL)
			return corrupt(err, id, "bad option line");
		/* most option lines matter not to us: look at the first letter first */
		switch (*p) {
		case 'a':
			if (strncmp(p, "aclc ", 5) == 0 || strncmp(p, "aclm ", 5) == 0 ||
			    strncmp(p, "acl ", 4) == 0) {
				if (skip_acl_value(&c, p) < 0)
					return corrupt(err, id, "bad ACL variable length");
			}
			break;
		case 'f':
			if (strncmp(p, "frozen", 6) == 0) {
				m->flags |= LQ_MSG_FROZEN;
				m->frozen_at = (time_t)strtoll(p + 6, NULL, 10);
			}
			break;
		case 'm':
			if (strcmp(p, "manual_thaw") == 0)
				m->flags |= LQ_MSG_MANUAL_THAW;
			break;
		case 's':
			if (strcmp(p, "sender_set_untrusted") == 0)
				m->flags |= LQ_MSG_SENDER_UNTRUSTED;
			else if (strcmp(p, "spool_file_wireformat") == 0)
				xm->wireformat = 1;
			break;
		case 'r':
			if (strncmp(p, "received_time_usec .", 20) == 0)
				m->arrival_usec = strtol(p + 20, NULL, 10);
			break;
		}
	}
	/* the non-recipients tree, in pre-order: "XX" or nodes "LR address" */
	if (strcmp(line, "XX") != 0) {
		for (pending = 1; pending > 0; pending--) {
			if (line == NULL || strlen(line) < 4 || line[2] != ' ')
				return corrupt(err, id, "bad non-recipients tree");
			if (ndone == capdone) {
				void *grown = done;

				if (lq_arena_grow(m, &grown, ndone, &capdone, sizeof *done, MAX_TREE,
				    "non-recipients (the tree is too large)", err) < 0)
					return -1;
				done = grown;
			}
			done[ndone++] = line + 3;
			pending += (line[0] == 'Y') + (line[1] == 'Y');
			if (pending > MAX_TREE)
				return corrupt(err, id, "non-recipients tree too large");
			if (pending > 1)
				line = next_line(&c, &n);
		}
	}
	/* recipient count and recipients */
	if ((line = next_line(&c, &n)) == NULL)
		return corrupt(err, id, "no recipient count");
	errno = 0;
	nr = strtol(line, &endp, 10);
	if (errno != 0 || endp == line || nr < 0 || nr > MAX_RCPTS)
		return corrupt(err, id, "bad recipient count");
	if ((m->rcpt = lq_arena_alloc(m->arena, (nr ? nr : 1) * sizeof *m->rcpt)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	for (long i = 0; i < nr; i++) {
		if ((line = next_line(&c, &n)) == NULL)
			return corrupt(err, id, "truncated recipient list");
		if (n < 1 || rcpt_address(line, n) < 0)
			return corrupt(err, id, "bad recipient line");
		m->rcpt[i] = (struct lq_rcpt){ line, NULL, 0 };
	}
	m->nrcpt = nr;
	/* a blank line, then headers "NNNc text" */
	if ((line = next_line(&c, &n)) == NULL || n != 0)
		return corrupt(err, id, "no blank line before the headers");
	xm->hbuf = hbuf;
	xm->hdr_off = c.p - hbuf->data;
	*hdrsize = 0;
	while (c.p < c.end) {
		unsigned long len;
		char flag;

		if (!isdigit((unsigned char)*c.p))
			return corrupt(err, id, "bad header length");
		/* the file ends in a NUL (lq_buf), so the digits cannot run past it */
		for (len = 0, endp = c.p; isdigit((unsigned char)*endp); endp++) {
			len = len * 10 + (*endp - '0');
			if (len > HFILE_MAX)
				return corrupt(err, id, "header length past the end of the file");
		}
		if (endp >= c.end || len > (size_t)(c.end - endp))
			return corrupt(err, id, "header length past the end of the file");
		flag = *endp++;
		while (endp < c.end && isspace((unsigned char)*endp))
			endp++;
		if (len > (size_t)(c.end - endp))
			return corrupt(err, id, "header length past the end of the file");
		if (flag != '*')
			*hdrsize += len;
		c.p = endp + len;
	}
	*donep = done;
	*ndonep = ndone;
	return 0;
}

/* Addresses a crashed delivery journalled as done. */
static int
read_journal(struct lq_buf *jbuf, int dirfd, struct lq_msg *m, char ***donep, size_t *ndonep,
    struct lq_err *err)
{
	char name[LQ_ID_MAX + 3], *line, **d;
	struct cursor c;
	size_t n, cnt = 0;

	if (lq_read_file(dirfd, spool_name(name, m->id, "-J"), JFILE_MAX, jbuf, NULL, err) < 0)
		return err != NULL && err->code == LQ_ENOENT ? 0 : -1;
	for (size_t i = 0; i < jbuf->len; i++)
		cnt += jbuf->data[i] == '\n';
	if (cnt == 0)
		return 0;
	if ((d = lq_arena_alloc(m->arena, (*ndonep + cnt) * sizeof *d)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	if (*ndonep)
		memcpy(d, *donep, *ndonep * sizeof *d);
	c = (struct cursor){ jbuf->data, jbuf->data + jbuf->len };
	/* the journal buffer is reused per message: copy the addresses */
	while ((line = next_line(&c, &n)) != NULL)
		if ((d[(*ndonep)++] = lq_arena_strndup(m->arena, line, n)) == NULL)
			return lq_err_set(err, LQ_ENOMEM, "out of memory");
	*donep = d;
	return 0;
}

/* Is a delivery (or reception, or admin action) holding the -D lock? */
static int
data_locked(int dirfd, const char *id)
{
	char name[LQ_ID_MAX + 3];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0 };
	int fd, locked = 0;

	snprintf(name, sizeof name, "%s-D", id);
	fl.l_len = strlen(id) + 3;
	fd = lq_sys_openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		locked = 1;
	lq_sys_close(fd);
	return locked;
}

/* ---------------------------------------------------------------- message logs */

/*
 * The message log (msglog/ID, msglog/X/ID on a split spool) says why a recipient waits:
 * deliver.c writes one line per deferral, "DATE TIME ADDR [<TOP>] [Q=..] [R=..] [T=..]
 * defer (ERRNO)[: strerror(ERRNO)][ H=host [ip]][ DT=time][: message]", and "*** Frozen
 * [(why)]" when it freezes the message. A pending recipient's reason is its last deferral
 * line reduced to the text: the strerror part and the message, joined by ": ". A frozen
 * message's pending recipients all have its last freezing line ("Frozen (delivery error
 * message)") instead. No log, no reason. Only the last MSGLOG_MAX bytes are read.
 */
#define MSGLOG_MAX (1u << 20)

/* msglog/ (x == 0) or msglog/X; -1 when there is none, LQ_NOT_HERE in a warm worker when
 * it was not opened yet (open_msglog_dirs) */
static int
msglog_dir(struct exim *ex, int x)
{
	char name[2] = { (char)x, '\0' };
	int *slot, top, fd;

	/* the caller holds logmu */
	if (x == 0)
		slot = &ex->logfd;
	else if (b62digit(x) < 0 || ex->logfd == -2)	/* no msglog/, nor any msglog/X */
		return -1;
	else
		slot = &ex->logsub[b62digit(x)];
	if (*slot == -1 && lq_private_fds())
		return LQ_NOT_HERE;
	if (*slot == -1) {
		if (x == 0)
			fd = lq_open_dir(ex->queuefd, "msglog", NULL);
		else
			fd = (top = msglog_dir(ex, 0)) < 0 ? -1 : lq_open_dir(top, name, NULL);
		*slot = fd < 0 ? -2 : fd;
	}
	return *slot < 0 ? -1 : *slot;
}

/* Every directory a message log may be in, opened before a scan's loads: a warm worker
 * cannot open one for the others (lq_private_fds). */
static void
open_msglog_dirs(struct exim *ex)
{
	static const char digits[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

	pthread_mutex_lock(&ex->logmu);
	if (msglog_dir(ex, 0) >= 0)
		for (const char *x = digits; *x; x++)
			msglog_dir(ex, *x);
	pthread_mutex_unlock(&ex->logmu);
}

/* The directory of id's message log to look in first (i 0: where its -H is, msglog/X when
 * split) or second (i 1: the other place), as Exim looks; -1: there is none. */
static int
msglog_dir_try(struct exim *ex, const char *id, int split, int i)
{
	int dir;

	pthread_mutex_lock(&ex->logmu);
	dir = msglog_dir(ex, (i == 0) == (split != 0) ? id[5] : 0);
	pthread_mutex_unlock(&ex->logmu);
	return dir;
}

/* The message log of id, open (never a symlink, a regular file). -1 with err (LQ_ENOENT:
 * none). */
static int
msglog_open(struct exim *ex, const char *id, int split, struct stat *st, struct lq_err *err)
{
	int fd = -1, dir;

	for (int i = 0; i < 2 && fd < 0; i++) {
		if ((dir = msglog_dir_try(ex, id, split, i)) == LQ_NOT_HERE)
			return lq_not_here(err, id);
		if (dir < 0)
			continue;
		if ((fd = lq_open_file(dir, id, st, err)) < 0 && err != NULL &&
		    err->code != LQ_ENOENT)
			return -1;
	}
	if (fd < 0)
		return lq_err_set(err, LQ_ENOENT, "%s: no message log", id);
	return fd;
}

/* The last MSGLOG_MAX bytes of id's message log into b (*cut: its start left out), found
 * as msglog_open finds it; one read for most logs. -1 with err (LQ_ENOENT: none), or
 * LQ_NOT_HERE (lq_not_here). */
static int
msglog_read_tail(struct exim *ex, const char *id, int split, struct lq_buf *b, int *cut,
    struct lq_err *err)
{
	int dir;

	for (int i = 0; i < 2; i++) {
		if ((dir = msglog_dir_try(ex, id, split, i)) == LQ_NOT_HERE)
			return lq_not_here(err, id);
		if (dir < 0)
			continue;
		if (lq_read_tail(dir, id, MSGLOG_MAX, b, cut, err) == 0)
			return 0;
		if (err != NULL && err->code != LQ_ENOENT)
			return -1;
	}
	return lq_err_set(err, LQ_ENOENT, "%s: no message log", id);
}

/* Past "YYYY-MM-DD HH:MM:SS " and a "+ZZZZ " after it, or NULL: not a dated line. */
static const char *
past_stamp(const char *s, const char *end)
{
	static const char form[] = "dddd-dd-dd dd:dd:dd ";

	if ((size_t)(end - s) < sizeof form - 1)
		return NULL;
	for (size_t i = 0; i < sizeof form - 1; i++)
		if (form[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != form[i])
			return NULL;
	s += sizeof form - 1;
	if (end - s >= 6 && (s[0] == '+' || s[0] == '-') && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]) &&
	    isdigit((unsigned char)s[4]) && s[5] == ' ')
		s += 6;
	return s;
}

static const char *
find_in(const char *s, const char *end, const char *what)
{
	size_t n = strlen(what);

	for (; (size_t)(end - s) >= n; s++)
		if (*s == *what && memcmp(s, what, n) == 0)
			return s;
	return NULL;
}

/* A deferral line (past its stamp) reduced to its text in the arena; NULL with *len 0:
 * not a deferral line, or one without text. addr, alen: the address it is about. */
static char *
deferral_text(struct lq_arena *a, const char *s, const char *end, const char **addr,
    size_t *alen, int *bad)
{
	const char *d = find_in(s, end, " defer ("), *p, *e, *t = NULL, *msg;
	size_t tn = 0, mn;
	long no;
	char *r;

	*bad = 0;
	if (d == NULL || d == s)
		return NULL;
	*addr = s;
	*alen = (size_t)((p = memchr(s, ' ', (size_t)(end - s))) - s);
	/* "child <top>": the top address is the recipient in -H */
	if (p + 1 < d && p[1] == '<' && (e = memchr(p + 2, '>', (size_t)(d - p - 2))) != NULL &&
	    (e + 1 == d || e[1] == ' ')) {
		*addr = p + 2;
		*alen = (size_t)(e - p - 2);
	}
	p = d + 8;
	no = strtol(p, (char **)&e, 10);
	if (e == p || e >= end || *e != ')')
		return NULL;
	p = e + 1;
	if (no > 0 && end - p >= 2 && p[0] == ':' && p[1] == ' ') {
		t = p + 2;
		for (e = t; e < end; e++)
			if ((end - e >= 3 && memcmp(e, " H=", 3) == 0) ||
			    (end - e >= 4 && memcmp(e, " DT=", 4) == 0) ||
			    (end - e >= 2 && memcmp(e, ": ", 2) == 0))
				break;
		tn = (size_t)(e - t);
		p = e;
	}
	msg = find_in(p, end, ": ");
	mn = msg ? (size_t)(end - msg - 2) : 0;
	if (tn + mn == 0)
		return NULL;
	if ((r = lq_arena_alloc(a, tn + mn + 3)) == NULL) {
		*bad = 1;
		return NULL;
	}
	memcpy(r, t ? t : "", tn);
	if (tn && mn)
		memcpy(r + tn, ": ", 2), tn += 2;
	memcpy(r + tn, msg ? msg + 2 : "", mn);
	r[tn + mn] = '\0';
	return r;
}

static int
rcptptr_cmp(const void *a, const void *b)
{
	return strcmp((*(struct lq_rcpt *const *)a)->address,
	    (*(struct lq_rcpt *const *)b)->address);
}

/* Every pending recipient of addr (sorted pending[]) gets reason. */
static void
give_reason(struct lq_rcpt **pending, size_t n, const char *addr, size_t alen,
    const char *reason)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {	/* the first one not below addr */
		size_t mid = lo + (hi - lo) / 2;
		const char *x = pending[mid]->address;
		int c = strncmp(x, addr, alen);

		if (c < 0 || (c == 0 && strlen(x) < alen))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && strncmp(pending[lo]->address, addr, alen) == 0 &&
	    pending[lo]->address[alen] == '\0'; lo++)
		pending[lo]->reason = reason;
}

/* The reasons of m's pending recipients from its message log (none: no reason). */
static int
read_reasons(struct exim *ex, struct lq_buf *lbuf, struct lq_msg *m, int split,
    struct lq_err *err)
{
	struct lq_rcpt **pending;
	struct lq_err e;
	const char *p, *end, *frozen = NULL;
	size_t n = 0, frozen_len = 0;
	int cut, rc;

	for (size_t i = 0; i < m->nrcpt; i++)
		n += !(m->rcpt[i].flags & (LQ_RCPT_DONE | LQ_RCPT_EXTRA));
	if (n == 0)
		return 0;
	/* the last MSGLOG_MAX bytes, from the first whole line in them; a log that cannot be
	 * read gives no reasons, as Exim's own -bp shows none, but a warm worker's load that
	 * could not look is made again by the scan thread */
	if ((rc = msglog_read_tail(ex, m->id, split, lbuf, &cut, &e)) == LQ_NOT_HERE) {
		if (err != NULL)
			*err = e;
		return -1;
	}
	if (rc < 0)
		return e.code == LQ_ENOMEM ? lq_err_set(err, LQ_ENOMEM, "out of memory") : 0;
	p = lbuf->data;
	end = p + lbuf->len;
	if (cut)
		p = (p = memchr(p, '\n', lbuf->len)) ? p + 1 : end;
	if ((pending = lq_arena_alloc(m->arena, n * sizeof *pending)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	n = 0;
	for (size_t i = 0; i < m->nrcpt; i++)
		if (!(m->rcpt[i].flags & (LQ_RCPT_DONE | LQ_RCPT_EXTRA)))
			pending[n++] = &m->rcpt[i];
	qsort(pending, n, sizeof *pending, rcptptr_cmp);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *s, *addr;
		size_t alen;
		char *text;
		int bad;

		if (eol == NULL)
			eol = end;
		if (eol - p >= 10 && memcmp(p, "*** Frozen", 10) == 0) {
			frozen = p + 4;
			frozen_len = (size_t)(eol - frozen);
		} else if ((s = past_stamp(p, eol)) != NULL &&
		    (text = deferral_text(m->arena, s, eol, &addr, &alen, &bad)) != NULL)
			give_reason(pending, n, addr, alen, text);
		else if (s != NULL && bad)
			return lq_err_set(err, LQ_ENOMEM, "out of memory");
		p = eol + 1;
	}
	if (frozen != NULL && (m->flags & LQ_MSG_FROZEN)) {
		char *text = lq_arena_strndup(m->arena, frozen, frozen_len);

		if (text == NULL)
			return lq_err_set(err, LQ_ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			pending[i]->reason = text;
	}
	return 0;
}

/*
 * Is the message being delivered? During a scan, /proc/locks as read when it began, looked up
 * by the -D's device and inode (st, from the size stat); where that cannot be sure (no stat,
 * no table, or an entry of that inode on another device, as on overlayfs, whose holder we
 * may not see), the -D itself is asked.
 */
static int
is_active(struct exim *ex, int dirfd, const char *id, const struct stat *st)
{
	if (!ex->locks_loaded || st == NULL)
		return data_locked(dirfd, id);
	if (lq_locks_holder(&ex->locks, st) != 0)
		return 1;
	return lq_locks_inode_listed(&ex->locks, st) && data_locked(dirfd, id);
}

static int
load_in(struct lq_spool *sp, int dirfd, const char *qname, const char *id, unsigned flags,
    struct lq_msg *m, struct lq_buf bufs[LQ_SLOT_BUFS], struct lq_err *err)
{
	struct exim *ex = sp->priv;
	struct exim_msg *xm;
	char name[LQ_ID_MAX + 3], **done = NULL;
	size_t ndone = 0;
	int64_t hdrsize = 0;
	struct stat st;

	memcpy(m->id, id, strlen(id) + 1);
	m->queue = qname;
	m->id_time = (time_t)b62num(id, 6);
	if ((xm = lq_arena_alloc(m->arena, sizeof *xm)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	memset(xm, 0, sizeof *xm);
	xm->dirfd = dirfd;
	xm->lockfd = -1;
	m->priv = xm;
	if (lq_read_file(dirfd, spool_name(name, id, "-H"), HFILE_MAX, &bufs[BUF_H], NULL, err) < 0) {
		if (err != NULL && err->code == LQ_ENOENT)
			lq_err_set(err, LQ_ENOENT, "%s: no such message", id);
		else if (err != NULL && err->code != LQ_ENOMEM)
			lq_err_prefix(err, "%s: ", id);
		return -1;
	}
	if (parse_header_file(&bufs[BUF_H], xm, m, &hdrsize, &done, &ndone, err) < 0)
		return -1;
	if ((!ex->journals_known || bsearch(&id, ex->journals, ex->njournals,
	    sizeof *ex->journals, strptr_cmp) != NULL) &&
	    read_journal(&bufs[BUF_J], dirfd, m, &done, &ndone, err) < 0)
		return -1;
	if (apply_done(m, done, ndone, err) < 0)
		return -1;
	if (flags & LQ_SCAN_NO_SIZE) {
		m->size = 0;
		m->flags |= LQ_MSG_NO_SIZE;
	} else if (fstatat(dirfd, spool_name(name, id, "-D"), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode)) {
		/* Exim's $message_size: live headers + body + the blank line between them */
		m->size = hdrsize + (int64_t)st.st_size - (int64_t)(strlen(id) + 3) + 1;
	} else {
		m->size = 0;
		m->flags |= LQ_MSG_NO_SIZE;
	}
	if ((flags & LQ_SCAN_LOCKS) && is_active(ex, dirfd, id,
	    (m->flags & LQ_MSG_NO_SIZE) ? NULL : &st))
		m->flags |= LQ_MSG_ACTIVE;
	if (!(flags & LQ_SCAN_NO_REASONS) &&
	    read_reasons(ex, &bufs[BUF_LOG], m, dirfd != ex->inputfd, err) < 0)
		return -1;
	return 0;
}

/* input/X for a split spool, X a base-62 digit; -1 when there is none. */
static int
subdir_fd(struct exim *ex, int x)
{
	char name[2] = { (char)x, '\0' };
	int d = b62digit(x);

	if (d < 0)
		return -1;
	if (ex->subfd[d] == -1) {
		int fd = lq_open_dir(ex->inputfd, name, NULL);

		ex->subfd[d] = fd < 0 ? -2 : fd;
	}
	return ex->subfd[d] < 0 ? -1 : ex->subfd[d];
}

static const char *
queue_name(const struct lq_spool *sp)
{
	return sp->queue ? sp->queue : "input";
}

/* Exim looks in both places for a message: input/ itself and the split subdirectory. */
static int
exim_load(struct lq_spool *sp, const char *id, unsigned flags, struct lq_msg *m,
    struct lq_err *err)
{
	struct exim *ex = sp->priv;
	int subfd;

	if (load_in(sp, ex->inputfd, queue_name(sp), id, flags, m, ex->bufs, err) == 0)
		return 0;
	if (err == NULL || err->code != LQ_ENOENT || (subfd = subdir_fd(ex, id[5])) < 0)
		return -1;
	m = lq_msg_begin(sp);
	return load_in(sp, subfd, queue_name(sp), id, flags, m, ex->bufs, err);
}

/* ---------------------------------------------------------------- scanning */

/* One message of a scan: where it is, and what to read of it. */
struct scan_item {
	int dirfd;		/* input/ or input/X */
	unsigned flags;		/* the scan's */
	char id[LQ_ID_MAX + 1];
};

/* A message loaded (m) or not (NULL, e saying why) handed over to the scan: counted,
 * reported, or given to the caller. */
static int
hand_over(struct lq_scan *sc, const char *id, struct lq_msg *m, struct lq_err *e,
    struct lq_err *err)
{
	sc->seen++;
	if (m == NULL) {
		if (e->code == LQ_ENOENT)
			sc->vanished++;
		else if (e->code == LQ_ENOMEM) {
			*err = *e;
			return -1;
		} else {
			sc->bad++;
			if (sc->problem)
				sc->problem(id, e, sc->arg);
		}
		return 0;
	}
	return sc->each(m, sc->arg);
}

/* One message of a scan without workers (--jobs 1): loaded here, into the spool's message. */
static int
scan_one(struct lq_spool *sp, int dirfd, const char *id, struct lq_scan *sc,
    struct lq_err *err)
{
	struct lq_msg *m = lq_msg_begin(sp);
	struct lq_err e;

	if (load_in(sp, dirfd, queue_name(sp), id, sc->flags, m,
	    ((struct exim *)sp->priv)->bufs, &e) < 0)
		m = NULL;
	return hand_over(sc, id, m, &e, err);
}

/* The pipeline's load: in any thread, into the slot's message and buffers. */
static int
pipeline_load(struct lq_spool *sp, const void *item, struct lq_slot *slot,
    struct lq_buf *scratch, struct lq_msg **mp, struct lq_err *err)
{
	const struct scan_item *it = item;
	struct lq_msg *m = lq_slot_begin(sp, slot);

	(void)scratch;		/* the message points into its -H file: the slot's buffers */

	if (load_in(sp, it->dirfd, queue_name(sp), it->id, it->flags, m, slot->buf, err) < 0)
		return -1;
	*mp = m;
	return 0;
}

static int
pipeline_handover(void *arg, const void *item, struct lq_msg *m, struct lq_err *e,
    struct lq_err *err)
{
	return hand_over(arg, ((const struct scan_item *)item)->id, m, e, err);
}

static const struct lq_pipeline_ops exim_pipeline = {
	.item_size = sizeof(struct scan_item),
	.load = pipeline_load,
	.handover = pipeline_handover,
};

/* The next message of a scan, to the pipeline when there is one. */
static int
scan_next(struct lq_spool *sp, struct lq_pipeline *pl, int dirfd, const char *id,
    struct lq_scan *sc, struct lq_err *err)
{
	struct scan_item it = { .dirfd = dirfd, .flags = sc->flags };

	if (pl == NULL)
		return scan_one(sp, dirfd, id, sc, err);
	memcpy(it.id, id, strlen(id) + 1);	/* an ID that passed exim_valid_id */
	return lq_pipeline_put(pl, &it, err);
}

/* exim -bp's order as one number: the time field, then the sub-second part (< 2^20). */
static uint64_t
sort_key(const char *id)
{
	return ((uint64_t)b62num(id, 6) << 20) | (uint64_t)id_subsecond(id, strlen(id));
}

struct collect {
	struct lq_spool *sp;
	struct lq_scan *sc;
	struct lq_pipeline *pl;		/* the loading workers, or NULL: scan_one */
	struct lq_names names;		/* sorted scans: "X" + ID, X the subdirectory or '.',
					 * keyed by sort_key */
	struct lq_names journals;	/* sorted scans: IDs with a -J */
	char subs[63];			/* one-character subdirectories seen in input/ */
	size_t nsubs;
	int sorted, rc;
};

/* One pass over a directory: messages, journals and (in input/) the split subdirectories.
 * A streaming scan hands each message to the pipeline as it finds it: the window of
 * messages being loaded is how far ahead it reads the directory. */
static int
collect_dir(DIR *d, char sub, struct collect *c, struct lq_err *err)
{
	struct exim *ex = c->sp->priv;
	char id[LQ_ID_MAX + 2];
	struct dirent *de;
	size_t n;

	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;

		n = strlen(name);
		if (n == 1 && sub == '.' && b62digit((unsigned char)name[0]) >= 0) {
			if (c->nsubs < sizeof c->subs - 1)
				c->subs[c->nsubs++] = name[0];
			continue;
		}
		if ((n != 18 && n != 25) || name[n - 2] != '-')
			continue;
		memcpy(id + 1, name, n - 2);
		id[n - 1] = '\0';
		if (name[n - 1] == 'J' && c->sorted && exim_valid_id(id + 1)) {
			if (lq_names_add(&c->journals, id + 1, n - 2) < 0)
				return lq_err_set(err, LQ_ENOMEM, "out of memory");	/* sorted: no ring */
			continue;
		}
		if (name[n - 1] != 'H' || !exim_valid_id(id + 1))
			continue;
		if (c->sorted) {
			id[0] = sub;
			if (lq_names_add_keyed(&c->names, id, n - 1, sort_key(id + 1)) < 0)
				return lq_err_set(err, LQ_ENOMEM, "out of memory");	/* sorted: no ring */
		} else {
			int fd = sub == '.' ? ex->inputfd : subdir_fd(ex, sub);

			if ((c->rc = scan_next(c->sp, c->pl, fd, id + 1, c->sc, err)) != 0)
				break;
		}
	}
	return 0;
}

static int
read_dir(int fd, char sub, struct collect *c, struct lq_err *err)
{
	DIR *d;
	int rc;

	if ((fd = dup(fd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			lq_sys_close(fd);
		return lq_err_sys(err, "%s: input%s%c", c->sp->dir, sub == '.' ? "" : "/",
		    sub == '.' ? '\0' : sub);
	}
	rewinddir(d);		/* the descriptor is shared with earlier scans */
	rc = collect_dir(d, sub, c, err);
	closedir(d);
	return rc;
}

/* The IDs that have a -J, in input/ and its one-character subdirectories. */
static int
note_journals(struct exim *ex, struct lq_names *journals, struct lq_err *err)
{
	char subs[63];
	size_t nsubs = 0;

	for (int pass = -1; pass < (int)nsubs; pass++) {
		int fd = pass < 0 ? ex->inputfd : subdir_fd(ex, subs[pass]);
		struct dirent *de;
		DIR *d;

		if (fd < 0 || (fd = dup(fd)) < 0)
			continue;
		if ((d = fdopendir(fd)) == NULL) {
			lq_sys_close(fd);
			continue;
		}
		rewinddir(d);
		while ((de = readdir(d)) != NULL) {
			size_t n = strlen(de->d_name);

			if (pass < 0 && n == 1 && b62digit((unsigned char)de->d_name[0]) >= 0 &&
			    nsubs < sizeof subs - 1)
				subs[nsubs++] = de->d_name[0];
			else if ((n == 18 || n == 25) && de->d_name[n - 2] == '-' &&
			    de->d_name[n - 1] == 'J' && lq_names_add(journals, de->d_name, n - 2) < 0) {
				closedir(d);
				return lq_err_set(err, LQ_ENOMEM, "out of memory");
			}
		}
		closedir(d);
	}
	return 0;
}

/* The IDs in journals, sorted into *jl (the caller frees it after the scan), become the
 * scan's list of the messages that have a -J: a load opens a -J for those only. */
static int
know_journals(struct exim *ex, const struct lq_names *journals, char ***jl,
    struct lq_err *err)
{
	if ((*jl = reallocarray(NULL, journals->n + 1, sizeof **jl)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	for (size_t i = 0; i < journals->n; i++)
		(*jl)[i] = journals->pool + journals->off[i];
	qsort(*jl, journals->n, sizeof **jl, strptr_cmp);
	ex->journals = *jl;
	ex->njournals = journals->n;
	ex->journals_known = 1;
	return 0;
}

static int
exim_scan(struct lq_spool *sp, struct lq_scan *sc, struct lq_err *err)
{
	struct exim *ex = sp->priv;
	struct collect c = { .sp = sp, .sc = sc, .sorted = !(sc->flags & LQ_SCAN_UNSORTED) };
	char **jl = NULL;
	int rc = -1, fd;

	/* who is being delivered: one read of /proc/locks for the whole scan (a message whose
	 * -D could not be stat'ed is asked directly, as is everything when it cannot be read) */
	if ((sc->flags & LQ_SCAN_LOCKS) && !(sc->flags & LQ_SCAN_NO_SIZE))
		ex->locks_loaded = lq_locks_load(&ex->locks, LQ_LOCK_FCNTL, NULL) == 0;
	/* a streaming scan first notes which messages have a -J (rare: a running or crashed
	 * delivery), so that the others cost no failed open; memory grows with journals only */
	if (!c.sorted && note_journals(ex, &c.journals, err) < 0)
		goto out;
	if (!c.sorted && know_journals(ex, &c.journals, &jl, err) < 0)
		goto out;
	if (!(sc->flags & LQ_SCAN_NO_REASONS))
		open_msglog_dirs(ex);
	/* every subdirectory open before the loading threads start: the copies of the
	 * descriptor table warm ones take then have them all (no lq_pipeline_new_dir) */
	for (size_t i = 0; i < c.nsubs; i++)
		subdir_fd(ex, c.subs[i]);
	c.pl = lq_pipeline_start(sp, &exim_pipeline, sc);
	/* input/ itself, then every one-character subdirectory, whatever split says */
	if (read_dir(ex->inputfd, '.', &c, err) < 0)
		goto out;
	for (size_t i = 0; c.rc == 0 && i < c.nsubs; i++)
		if ((fd = subdir_fd(ex, c.subs[i])) >= 0 && read_dir(fd, c.subs[i], &c, err) < 0)
			goto out;
	if (!c.sorted || c.rc != 0) {
		rc = c.rc == 0 && c.pl != NULL ? lq_pipeline_finish(c.pl, err) : c.rc;
		goto out;
	}
	if (know_journals(ex, &c.journals, &jl, err) < 0)
		goto out;
	/* equal keys in pool order, which is readdir order: as exim's own (stable) merge sort */
	lq_sort_keyed(c.names.keyed, c.names.n, (sc->flags & LQ_SCAN_REVERSE) != 0);
	rc = 0;
	for (size_t i = 0; i < c.names.n && rc == 0; i++) {
		const char *name = c.names.pool + c.names.keyed[i].val;

		fd = name[0] == '.' ? ex->inputfd : subdir_fd(ex, name[0]);
		rc = scan_next(sp, c.pl, fd, name + 1, sc, err);
	}
	if (rc == 0 && c.pl != NULL)
		rc = lq_pipeline_finish(c.pl, err);
out:
	/* the workers are joined before the journal list and the locks table go */
	lq_pipeline_stop(c.pl);
	ex->locks_loaded = 0;
	ex->journals_known = 0;
	ex->journals = NULL;
	free(jl);
	lq_names_free(&c.names);
	lq_names_free(&c.journals);
	return rc;
}

/* ---------------------------------------------------------------- content */

/* The -D file after its "ID-D\n" line, as LF text (wire format CRLF is undone). */
static int
read_body(struct lq_msg *m, struct exim_msg *xm, lq_part_fn fn, void *arg,
    struct lq_err *err)
{
	char name[LQ_ID_MAX + 3], buf[65536], out[65536];
	size_t skip = strlen(m->id) + 3, o;
	int fd, rc = 0, held_cr = 0;
	ssize_t n;

	off_t at = 0;

	snprintf(name, sizeof name, "%s-D", m->id);
	/* under Exim's lock, read through the locked descriptor: closing any descriptor of
	 * the file would drop the lock */
	if ((fd = xm->lockfd) < 0 && (fd = lq_open_file(xm->dirfd, name, NULL, err)) < 0)
		return lq_err_set(err, err ? err->code : LQ_ENOENT, "%s: no data file", m->id);
	while (rc == 0 && (n = lq_sys_pread(fd, buf, sizeof buf, at)) != 0) {
		char *p = buf;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = lq_err_sys(err, "%s: data file", m->id);
			break;
		}
		at += n;
		if (skip > 0) {
			size_t k = (size_t)n < skip ? (size_t)n : skip;

			skip -= k;
			p += k;
			n -= k;
		}
		if (!xm->wireformat) {
			if (n > 0)
				rc = fn(LQ_PART_BODY, p, n, 0, arg);
			continue;
		}
		o = 0;
		if (held_cr && !(n > 0 && *p == '\n'))
			out[o++] = '\r';
		held_cr = 0;
		for (ssize_t i = 0; i < n; i++) {
			if (p[i] == '\r' && i + 1 == n) {
				held_cr = 1;
				break;
			}
			if (p[i] == '\r' && p[i + 1] == '\n')
				continue;
			out[o++] = p[i];
		}
		if (o > 0)
			rc = fn(LQ_PART_BODY, out, o, 0, arg);
	}
	if (rc == 0 && held_cr)
		rc = fn(LQ_PART_BODY, "\r", 1, 0, arg);
	if (fd != xm->lockfd)
		lq_sys_close(fd);
	return rc;
}

static int
exim_read(struct lq_spool *sp, struct lq_msg *m, unsigned parts, lq_part_fn fn, void *arg,
    struct lq_err *err)
{
	struct exim_msg *xm = m->priv;
	const char *p = xm->hbuf->data + xm->hdr_off, *end = xm->hbuf->data + xm->hbuf->len;
	char *endp;
	int rc;

	/* the -H was checked when the message was loaded: lengths are within the file */
	while ((parts & LQ_PART_HEADER) && p < end) {
		unsigned long len = strtoul(p, &endp, 10);
		char flag = *endp++;

		while (isspace((unsigned char)*endp))
			endp++;
		if ((rc = fn(LQ_PART_HEADER, endp, len, flag == '*', arg)) != 0)
			return rc;
		p = endp + len;
	}
	if (parts & LQ_PART_BODY)
		return read_body(m, xm, fn, arg, err);
	return 0;
}

/* The envelope part of the -H file, as exim -Mvh shows it. */
static int
exim_write_envelope(struct lq_spool *sp, struct lq_msg *m, FILE *out, struct lq_err *err)
{
	struct exim_msg *xm = m->priv;
	char name[LQ_ID_MAX + 3];
	struct lq_buf b = { 0 };

	(void)sp;
	snprintf(name, sizeof name, "%s-H", m->id);
	if (lq_read_file(xm->dirfd, name, HFILE_MAX, &b, NULL, err) < 0)
		return -1;
	fwrite(b.data, 1, xm->hdr_off <= b.len ? xm->hdr_off : b.len, out);
	lq_buf_free(&b);
	return 0;
}

/* exim -Mvl: the message log as it is */
static int
exim_write_log(struct lq_spool *sp, struct lq_msg *m, FILE *out, struct lq_err *err)
{
	struct exim *ex = sp->priv;
	const struct exim_msg *xm = m->priv;
	char buf[65536];
	ssize_t n;
	int fd;

	if ((fd = msglog_open(ex, m->id, xm->dirfd != ex->inputfd, NULL, err)) < 0)
		return -1;
	while ((n = lq_sys_read(fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lq_sys_close(fd);
			return lq_err_sys(err, "%s: message log", m->id);
		}
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			break;
	}
	lq_sys_close(fd);
	return ferror(out) ? lq_err_set(err, LQ_ESYS, "stdout: write error") : 0;
}

/* ---------------------------------------------------------------- exim -bp */

static int
exim_write_listing(FILE *out, const struct lq_msg *m, unsigned flags, time_t now)
{
	char age[LQ_COLSIZE], size[LQ_COLSIZE];

	lq_format_age(age, now - m->arrival);
	lq_format_size(size, (m->flags & LQ_MSG_NO_SIZE) ? 0 : m->size);
	/* "%s %s %s <%s>", written piece by piece: this runs 100,000 times a listing */
	fputs_unlocked(age, out);
	putc_unlocked(' ', out);
	fputs_unlocked(size, out);
	putc_unlocked(' ', out);
	fputs_unlocked(m->id, out);
	fputs_unlocked(" <", out);
	fputs_unlocked(m->sender, out);
	putc_unlocked('>', out);
	if (m->flags & LQ_MSG_SENDER_UNTRUSTED)
		fprintf(out, " (%s)", m->login);
	if (m->flags & LQ_MSG_FROZEN)
		fputs_unlocked(" *** frozen ***", out);
	putc_unlocked('\n', out);
	for (size_t i = 0; i < m->nrcpt; i++) {
		const struct lq_rcpt *r = &m->rcpt[i];
		int done = r->flags & LQ_RCPT_DONE;

		if (r->flags & LQ_RCPT_EXTRA) {
			if (!(flags & LQ_LIST_ALL))
				continue;
			fputs_unlocked("       +D ", out);
		} else if (!done || !(flags & LQ_LIST_UNDELIVERED))
			fputs_unlocked(done ? "        D " : "          ", out);
		else
			continue;
		fputs_unlocked(r->address, out);
		putc_unlocked('\n', out);
	}
	return putc_unlocked('\n', out) == EOF ? -1 : 0;
}

/* ---------------------------------------------------------------- acting (exim -M*) */

/* The directory holding a message's -H (or its -D alone): input/, then input/X/. */
static int
message_dir(struct exim *ex, const char *id)
{
	char h[LQ_ID_MAX + 3], d[LQ_ID_MAX + 3];
	struct stat st;
	int fd;

	snprintf(h, sizeof h, "%s-H", id);
	snprintf(d, sizeof d, "%s-D", id);
	if (fstatat(ex->inputfd, h, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    fstatat(ex->inputfd, d, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return ex->inputfd;
	if ((fd = subdir_fd(ex, id[5])) >= 0 && (fstatat(fd, h, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    fstatat(fd, d, &st, AT_SYMLINK_NOFOLLOW) == 0))
		return fd;
	return -1;
}

/* Exim's lock: a POSIX write lock on the first ID-length+3 bytes of -D, never waited for. */
static int
lock_data(int dirfd, const char *id, struct lq_err *err)
{
	char name[LQ_ID_MAX + 3];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0 };
	struct stat st;
	int fd;

	snprintf(name, sizeof name, "%s-D", id);
	fl.l_len = strlen(id) + 3;
	fd = lq_sys_openat(dirfd, name,
	    O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			return lq_err_set(err, LQ_ECORRUPT, "%s: the -D file is a symbolic link", id);
		return lq_err_sys(err, "%s: %s", id, name);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		lq_sys_close(fd);
		return lq_err_set(err, LQ_ECORRUPT, "%s: the -D file is not a regular file", id);
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int e = errno;

		lq_sys_close(fd);
		if (e == EAGAIN || e == EACCES)
			return lq_err_set(err, LQ_ELOCKED,
			    "%s: locked (being delivered, or another tool acts on it): skipped", id);
		errno = e;
		return lq_err_sys(err, "%s: locking %s", id, name);
	}
	return fd;
}

/* One line of Exim's log: "YYYY-MM-DD HH:MM:SS ID text", in a single write. */
static void
log_line2(int fd, const char *id, const char *fmt, const char *arg, const char *arg2)
{
	char line[LQ_ADDR_MAX + 1024], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (fd < 0)
		return;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "%s %s ", stamp, id);
	if (n > 0 && (size_t)n < sizeof line)
		n += snprintf(line + n, sizeof line - n, fmt, arg, arg2);
	if (n > 0 && (size_t)n < sizeof line - 1) {
		line[n++] = '\n';
		(void)!write(fd, line, n);
	}
}

static void
log_line(int fd, const char *id, const char *fmt, const char *arg)
{
	log_line2(fd, id, fmt, arg, NULL);
}

static int
unlink_quiet(int dirfd, const char *name, const char *id, struct lq_err *err)
{
	if (dirfd >= 0 && unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return lq_err_sys(err, "%s: removing %s", id, name);
	return 0;
}

/* --save: a one-message Exim spool, DIR/input/ID-D, -H and -J (when there is one). */
static int
exim_act_save(struct lq_spool *sp, void *held, struct lq_saver *sv, struct lq_err *err)
{
	static const char *const suffix[] = { "-D", "-H", "-J" };
	struct exim_held *h = held;
	char name[LQ_ID_MAX + 3], rel[LQ_ID_MAX + 10];
	struct lq_err e;
	struct stat st;
	int fd, rc = 0;

	if (lq_save_dir(sv, "input", err) < 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		snprintf(name, sizeof name, "%s%s", h->id, suffix[i]);
		snprintf(rel, sizeof rel, "input/%s", name);
		if (i == 0 && h->lockfd >= 0)
			fd = h->lockfd;
		else if ((fd = lq_open_file(h->dirfd, name, &st, &e)) < 0) {
			if (e.code == LQ_ENOENT)
				continue;
			return lq_err_set(err, e.code, "%s: --save: %s", h->id, e.msg);
		}
		if (fd == h->lockfd && fstat(fd, &st) < 0)
			rc = lq_err_sys(err, "%s: --save: %s", h->id, name);
		else
			rc = lq_save_file(sv, rel, fd, &st, err);
		if (fd != h->lockfd)
			lq_sys_close(fd);
	}
	return rc;
}

/* exim -Mrm: with the lock held, msglog, -D, -H, -J, in the split directory and at the top. */
static int
remove_files(struct exim *ex, const char *id, struct lq_err *err)
{
	static const char *const suffix[] = { "-D", "-H", "-J" };
	char name[LQ_ID_MAX + 3], sub[2] = { id[5], '\0' };
	int logdir = lq_open_dir(ex->queuefd, "msglog", NULL), logsub = -1, rc = 0;
	int dirs[2] = { subdir_fd(ex, id[5]), ex->inputfd };

	if (logdir >= 0)
		logsub = lq_open_dir(logdir, sub, NULL);
	if (unlink_quiet(logsub, id, id, err) < 0 || unlink_quiet(logdir, id, id, err) < 0)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		snprintf(name, sizeof name, "%s%s", id, suffix[i]);
		for (size_t d = 0; rc == 0 && d < 2; d++)
			rc = unlink_quiet(dirs[d], name, id, err);
	}
	if (logsub >= 0)
		lq_sys_close(logsub);
	if (logdir >= 0)
		lq_sys_close(logdir);
	return rc;
}

/* ---------------------------------------------------------------- rewriting -H */

/*
 * The non-recipients tree as Exim keeps it in memory (tree.c): read back from -H in
 * pre-order with the balance count_below gives each node, grown by tree_insertnode's AVL
 * insertion, written in pre-order with Y/N child flags. Indices, not pointers; no
 * recursion (a tree read from a file can be a list a million deep).
 */
#define TREE_LBAL 1
#define TREE_RBAL 2
#define TREE_BMASK 3

struct tnode {
	const char *name;
	size_t len;
	int left, right;	/* -1: none */
	unsigned char balance;
	unsigned char want_left, want_right;	/* while reading: 'Y' flags */
};

struct tree {
	struct tnode *v;
	size_t n, cap;
	int root;		/* -1: empty */
};

static int
tname_cmp(const char *a, size_t alen, const struct tnode *b)
{
	int c = memcmp(a, b->name, alen < b->len ? alen : b->len);

	return c != 0 ? c : (alen > b->len) - (alen < b->len);
}

static int
tree_node(struct tree *t, const char *name, size_t len)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct tnode *v = reallocarray(t->v, cap, sizeof *v);

		if (v == NULL)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n] = (struct tnode){ name, len, -1, -1, 0, 0, 0 };
	return (int)t->n++;
}

/* tree_insertnode: 0 inserted (or a duplicate, left out), -1 out of memory */
static int
tree_insert(struct tree *t, const char *name, size_t len)
{
	int node, p, r, s, a, *q, *tt;
	struct tnode *v;

	if ((node = tree_node(t, name, len)) < 0)
		return -1;
	v = t->v;
	if ((p = t->root) < 0) {
		t->root = node;
		return 0;
	}
	q = tt = &t->root;
	for (;;) {
		int c = tname_cmp(name, len, &v[p]);

		if (c == 0) {
			t->n--;		/* a duplicate */
			return 0;
		}
		q = c > 0 ? &v[p].right : &v[p].left;
		if ((p = *q) < 0)
			break;
		if (v[p].balance != 0)
			tt = q;
	}
	*q = node;
	s = *tt;
	r = tname_cmp(name, len, &v[s]) > 0 ? v[s].right : v[s].left;
	for (p = r; p != node; ) {
		if (tname_cmp(name, len, &v[p]) < 0) {
			v[p].balance = TREE_LBAL;
			p = v[p].left;
		} else {
			v[p].balance = TREE_RBAL;
			p = v[p].right;
		}
	}
	a = tname_cmp(name, len, &v[s]) < 0 ? TREE_LBAL : TREE_RBAL;
	if (v[s].balance == 0)
		v[s].balance = a;
	else if (v[s].balance != a)
		v[s].balance = 0;
	else {
		if (v[r].balance == a) {	/* a single rotation */
			p = r;
			if (a == TREE_RBAL) {
				v[s].right = v[r].left;
				v[r].left = s;
			} else {
				v[s].left = v[r].right;
				v[r].right = s;
			}
			v[s].balance = v[r].balance = 0;
		} else {			/* a double rotation */
			if (a == TREE_RBAL) {
				if (v[r].left < 0)
					return 0;	/* Exim bails out the same way */
				p = v[r].left;
				v[r].left = v[p].right;
				v[p].right = r;
				v[s].right = v[p].left;
				v[p].left = s;
			} else {
				if (v[r].right < 0)
					return 0;
				p = v[r].right;
				v[r].right = v[p].left;
				v[p].left = r;
				v[s].left = v[p].right;
				v[p].right = s;
			}
			v[s].balance = v[p].balance == a ? (a ^ TREE_BMASK) : 0;
			v[r].balance = v[p].balance == (a ^ TREE_BMASK) ? a : 0;
			v[p].balance = 0;
		}
		*tt = p;
	}
	return 0;
}

/* The tree's lines from c (the first one is line, n bytes, not "XX"), read as
 * read_nonrecipients_tree does; balances as its count_below sets them. */
static int
tree_read(struct tree *t, struct cursor *c, char *line, size_t n, const char *id,
    struct lq_err *err)
{
	int *stack = NULL, *h;
	size_t depth = 0, cap = 0;
	int x;

	for (;;) {
		if (line == NULL || n < 4 || line[2] != ' ')
			goto bad;
		if (t->n >= MAX_TREE)
			goto bad;
		if ((x = tree_node(t, line + 3, n - 3)) < 0)
			goto nomem;
		t->v[x].want_left = line[0] == 'Y';
		t->v[x].want_right = line[1] == 'Y';
		if (depth == 0)
			t->root = x;
		else {
			struct tnode *top = &t->v[stack[depth - 1]];

			if (top->want_left && top->left < 0)
				top->left = x;
			else
				top->right = x;
		}
		if (depth == cap) {
			int *grown = reallocarray(stack, cap = cap ? cap * 2 : 64, sizeof *stack);

			if (grown == NULL)
				goto nomem;
			stack = grown;
		}
		stack[depth++] = x;
		/* pop the nodes whose children are all read */
		while (depth > 0) {
			struct tnode *top = &t->v[stack[depth - 1]];

			if ((top->want_left && top->left < 0) || (top->want_right && top->right < 0))
				break;
			depth--;
		}
		if (depth == 0)
			break;
		line = next_line(c, &n);
		if (line != NULL)
			line[n] = '\n';
	}
	free(stack);
	/* children come after their parent: heights from the last node up */
	if ((h = calloc(t->n, sizeof *h)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	for (size_t i = t->n; i-- > 0; ) {
		int l = t->v[i].left >= 0 ? h[t->v[i].left] : 0;
		int r = t->v[i].right >= 0 ? h[t->v[i].right] : 0;

		t->v[i].balance = l > r ? TREE_LBAL : r > l ? TREE_RBAL : 0;
		h[i] = 1 + (l > r ? l : r);
	}
	free(h);
	return 0;
bad:
	free(stack);
	return corrupt(err, id, "bad non-recipients tree");
nomem:
	free(stack);
	return lq_err_set(err, LQ_ENOMEM, "out of memory");
}

/* tree_write: "XX" for none, else pre-order "LR name" lines */
static int
tree_write(struct tree *t, struct lq_buf *out)
{
	int *stack, x;
	size_t depth = 0;

	if (t->root < 0)
		return lq_buf_append(out, "XX\n", 3);
	if ((stack = calloc(t->n, sizeof *stack)) == NULL)
		return -1;
	stack[depth++] = t->root;
	while (depth > 0) {
		struct tnode *p = &t->v[x = stack[--depth]];
		char flags[3] = { p->left < 0 ? 'N' : 'Y', p->right < 0 ? 'N' : 'Y', ' ' };

		if (lq_buf_append(out, flags, 3) < 0 || lq_buf_append(out, p->name, p->len) < 0 ||
		    lq_buf_append(out, "\n", 1) < 0)
			break;
		if (p->right >= 0)
			stack[depth++] = p->right;
		if (p->left >= 0)
			stack[depth++] = p->left;
	}
	free(stack);
	return depth == 0 ? 0 : -1;
}

/* What a rewrite of -H changes; everything else is kept byte for byte. */
struct hedit {
	int freeze;			/* 1: freeze, -1: thaw, 0: leave the frozen state */
	const char *sender;		/* the new sender ("" null), or NULL */
	const char *const *done;	/* added to the non-recipients tree (marked delivered) */
	size_t ndone;
	const char *const *add;		/* appended to the recipients (added) */
	size_t nadd;
};

/* The option lines from c (the lines after the fourth) into out, the frozen state changed
 * as e says; the first line after them is returned in *line (n bytes, '\n' restored). */
static int
copy_options(struct cursor *c, struct lq_buf *out, const struct hedit *e, const char *id,
    char **linep, size_t *np, struct lq_err *err)
{
	int was_frozen = 0, bad = 0;
	char add[64];
	size_t n;

	for (;;) {
		char *start = c->p, *line, *p;
		int drop = 0;

		if ((line = next_line(c, &n)) == NULL)
			return corrupt(err, id, "truncated in the option lines");
		if (line[0] != '-') {
			line[n] = '\n';
			*linep = line;
			*np = n;
			break;
		}
		p = line + 1 + (line[1] == '-');
		if (strncmp(p, "aclc ", 5) == 0 || strncmp(p, "aclm ", 5) == 0 ||
		    strncmp(p, "acl ", 4) == 0) {
			if (skip_acl_value(c, p) < 0)
				return corrupt(err, id, "bad ACL variable length");
		} else if (e->freeze != 0 && strncmp(p, "frozen", 6) == 0)
			drop = was_frozen = 1;
		else if (e->freeze != 0 && strcmp(p, "manual_thaw") == 0)
			drop = 1;
		line[n] = '\n';		/* next_line cut it: this is a copy, not a parse */
		if (!drop)
			bad |= lq_buf_append(out, start, c->p - start);
	}
	if (bad)
		return lq_err_set(err, LQ_ENOMEM, "out of memory");
	if (e->freeze != 0 && (e->freeze > 0) == was_frozen)
		return lq_err_set(err, LQ_EALREADY, "%s: %s: left alone", id, e->freeze > 0 ?
		    "already frozen" : "not frozen");
	if (e->freeze > 0)
		snprintf(add, sizeof add, "-frozen %lld\n", (long long)time(NULL));
	else if (e->freeze < 0)
		snprintf(add, sizeof add, "-manual_thaw\n");
	else
		add[0] = '\0';
	return lq_buf_append(out, add, strlen(add));
}

/* The envelope after the option lines: the non-recipients tree, the recipient count and
 * the recipients, with e's additions; c is left at the blank line before the headers. */
static int
copy_recipients(struct cursor *c, struct lq_buf *out, const struct hedit *e, char *line,
    size_t n, const char *id, struct lq_err *err)
{
	struct tree t = { NULL, 0, 0, -1 };
	char *tree_start = line, *endp, num[32];
	long nr;
	int rc = -1, bad = 0;

	if (!(n == 2 && memcmp(line, "XX", 2) == 0) && tree_read(&t, c, line, n, id, err) < 0)
		goto out;
	if (e->ndone == 0)
		bad |= lq_buf_append(out, tree_start, c->p - tree_start);
	else {
		for (size_t i = 0; i < e->ndone; i++)
			if (tree_insert(&t, e->done[i], strlen(e->done[i])) < 0) {
				lq_err_set(err, LQ_ENOMEM, "out of memory");
				goto out;
			}
		if (tree_write(&t, out) < 0) {
			lq_err_set(err, LQ_ENOMEM, "out of memory");
			goto out;
		}
	}
	if ((line = next_line(c, &n)) == NULL) {
		corrupt(err, id, "no recipient count");
		goto out;
	}
	errno = 0;
	nr = strtol(line, &endp, 10);
	if (errno != 0 || endp == line || nr < 0 || nr + e->nadd > MAX_RCPTS) {
		if (nr + e->nadd > MAX_RCPTS && errno == 0 && nr >= 0)
			lq_err_set(err, LQ_ELIMIT, "%s: more than the %d recipients Exim reads",
			    id, MAX_RCPTS);
		else
			corrupt(err, id, "bad recipient count");
		goto out;
	}
	snprintf(num, sizeof num, "%ld\n", nr + (long)e->nadd);
	bad |= lq_buf_append(out, num, strlen(num));
	for (long i = 0; i < nr; i++) {
		char *start = c->p;

		if ((line = next_line(c, &n)) == NULL) {
			corrupt(err, id, "truncated recipient list");
			goto out;
		}
		line[n] = '\n';
		bad |= lq_buf_append(out, start, c->p - start);
	}
	for (size_t i = 0; i < e->nadd; i++) {
		bad |= lq_buf_append(out, e->add[i], strlen(e->add[i]));
		bad |= lq_buf_append(out, "\n", 1);
	}
	rc = bad ? lq_err_set(err, LQ_ENOMEM, "out of memory") : 0;
out:
	free(t.v);
	return rc;
}

/*
 * exim -Mf, -Mt, -Mes, -Mmd, -Mmad, -Mar: a new -H with e's changes, every other byte
 * kept, written to hdr.ID, synced, renamed over ID-H. Freezing adds "-frozen TIME" at the
 * end of the option lines (Exim's reader ignores their order), thawing drops it and adds
 * "-manual_thaw"; the sender line is replaced; the non-recipients tree is rebuilt as Exim
 * rebuilds it; added recipients follow the others, as receive_add_recipient puts them.
 */
static int
rewrite_header(int dirfd, const char *id, const struct hedit *e, struct lq_err *err)
{
	char hname[LQ_ID_MAX + 3], tname[LQ_ID_MAX + 5], *line;
	struct lq_buf old = { 0 }, out = { 0 };
	struct cursor c;
	struct stat st;
	size_t n;
	int rc = -1, bad = 0;

	snprintf(hname, sizeof hname, "%s-H", id);
	if (lq_read_file(dirfd, hname, HFILE_MAX, &old, &st, err) < 0)
		goto out;
	if (lq_buf_reserve(&out, old.len + 128 + (e->sender ? strlen(e->sender) : 0)) < 0) {
		lq_err_set(err, LQ_ENOMEM, "out of memory");
		goto out;
	}
	/* lines 1-4: the name, the login, <sender>, the time */
	c = (struct cursor){ old.data, old.data + old.len };
	for (int i = 0; i < 4; i++) {
		char *start = c.p;

		if ((line = next_line(&c, &n)) == NULL) {
			corrupt(err, id, "truncated before the option lines");
			goto out;
		}
		line[n] = '\n';	/* next_line cut it: this is a copy, not a parse */
		if (i == 2 && e->sender != NULL) {
			bad |= lq_buf_append(&out, "<", 1);
			bad |= lq_buf_append(&out, e->sender, strlen(e->sender));
			bad |= lq_buf_append(&out, ">\n", 2);
		} else
			bad |= lq_buf_append(&out, start, c.p - start);
	}
	if (copy_options(&c, &out, e, id, &line, &n, err) < 0)
		goto out;
	if (e->ndone == 0 && e->nadd == 0)
		bad |= lq_buf_append(&out, line, old.data + old.len - line);
	else if (copy_recipients(&c, &out, e, line, n, id, err) < 0)
		goto out;
	else
		bad |= lq_buf_append(&out, c.p, c.end - c.p);
	if (bad) {
		lq_err_set(err, LQ_ENOMEM, "out of memory");
		goto out;
	}
	/* hdr.ID, as Exim names it (a leftover from a crash is removed first, as Exim does) */
	snprintf(tname, sizeof tname, "hdr.%s", id);
	rc = lq_replace_file(dirfd, tname, hname, &out, &st, 0640, 0, id, err);
out:
	lq_buf_free(&old);
	lq_buf_free(&out);
	return rc;
}

/* Find the message and take Exim's lock on its -D. A -H without its -D has nothing to lock:
 * Exim still removes what is left (exim -Mrm), so may we. */
static int
exim_act_lock(struct lq_spool *sp, const char *id, enum lq_action act, void **heldp,
    struct lq_err *err)
{
	struct exim *ex = sp->priv;
	struct exim_held *h = &ex->held;

	*heldp = h;
	snprintf(h->id, sizeof h->id, "%s", id);
	h->lockfd = -1;
	h->m = NULL;
	if ((h->dirfd = message_dir(ex, id)) < 0)
		return lq_err_set(err, LQ_ENOENT, "%s: no such message", id);
	h->lockfd = lock_data(h->dirfd, id, err);
	if (h->lockfd < 0 && !(act == LQ_ACT_REMOVE && err != NULL && err->code == LQ_ENOENT))
		return -1;
	return 0;
}

static int
exim_act_reload(struct lq_spool *sp, void *held, struct lq_msg *m, struct lq_err *err)
{
	struct exim_held *h = held;

	if (load_in(sp, h->dirfd, queue_name(sp), h->id, 0, m,
	    ((struct exim *)sp->priv)->bufs, err) < 0) {
		if (err != NULL && err->code == LQ_ENOENT)
			lq_err_set(err, LQ_ENOENT, "%s: gone (delivered meanwhile)", h->id);
		return -1;
	}
	h->m = m;
	((struct exim_msg *)m->priv)->lockfd = h->lockfd;	/* the body is read through it */
	return 0;
}

static int
exim_act_refuse(struct lq_spool *sp, void *held, const struct lq_msg *m, enum lq_action act,
    struct lq_err *err)
{
	struct exim_held *h = held;

	if (act == LQ_ACT_FREEZE && (m->flags & LQ_MSG_FROZEN))
		return lq_err_set(err, LQ_EALREADY, "%s: already frozen: left alone", h->id);
	if (act == LQ_ACT_THAW && !(m->flags & LQ_MSG_FROZEN))
		return lq_err_set(err, LQ_EALREADY, "%s: not frozen: left alone", h->id);
	return 0;
}

/* exim -Mes, -Mmd, -Mmad, -Mar: the -H rewritten, then the lines Exim logs for them (queue.c,
 * queue_action: -Mmad logs every recipient, delivered before or not). o->addrs holds only
 * what is still to do (lq_act's verdict). */
static int
edit_envelope(struct exim_held *h, const struct lq_msg *m, enum lq_action act,
    const struct lq_act_opts *o, struct lq_err *err)
{
	struct hedit e = { 0 };
	const char **all = NULL;
	size_t nall = 0;

	switch (act) {
	case LQ_ACT_SET_SENDER:
		e.sender = o->addrs[0];
		break;
	case LQ_ACT_ADD_RECIPIENT:
		e.add = o->addrs;
		e.nadd = o->naddrs;
		break;
	case LQ_ACT_MARK_DELIVERED:
		e.done = o->addrs;
		e.ndone = o->naddrs;
		break;
	case LQ_ACT_MARK_ALL_DELIVERED:
		if ((all = lq_arena_alloc(m->arena, (m->nrcpt + 1) * sizeof *all)) == NULL)
			return lq_err_set(err, LQ_ENOMEM, "%s: out of memory", h->id);
		for (size_t i = 0; i < m->nrcpt; i++)
			if (!(m->rcpt[i].flags & LQ_RCPT_EXTRA))
				all[nall++] = m->rcpt[i].address;
		e.done = all;
		e.ndone = nall;
		break;
	default:
		return lq_err_set(err, LQ_EUSAGE, "%s: not an action on Exim", h->id);
	}
	if (rewrite_header(h->dirfd, h->id, &e, err) < 0)
		return -1;
	for (size_t i = 0; i < e.nadd; i++)
		log_line2(o->mainlog_fd, h->id, "recipient <%s> added by %s", e.add[i], o->user);
	for (size_t i = 0; i < e.ndone; i++)
		log_line2(o->mainlog_fd, h->id, "address <%s> marked delivered by %s", e.done[i],
		    o->user);
	if (e.sender != NULL)
		log_line2(o->mainlog_fd, h->id, "sender address changed to <%s> by %s", e.sender,
		    o->user);
	return 0;
}

static int
exim_act_apply(struct lq_spool *sp, void *held, const struct lq_msg *m, enum lq_action act,
    const struct lq_act_opts *o, struct lq_err *err)
{
	struct exim_held *h = held;
	struct hedit e = { 0 };
	int rc = -1;

	switch (act) {
	case LQ_ACT_REMOVE:
		if ((rc = remove_files(sp->priv, h->id, err)) == 0) {
			log_line(o->mainlog_fd, h->id, "removed by %s", o->user);
			log_line(o->mainlog_fd, h->id, "Completed%s", "");
		}
		break;
	case LQ_ACT_FREEZE:
	case LQ_ACT_THAW:
		e.freeze = act == LQ_ACT_FREEZE ? 1 : -1;
		if ((rc = rewrite_header(h->dirfd, h->id, &e, err)) == 0)
			log_line(o->mainlog_fd, h->id, act == LQ_ACT_FREEZE ? "frozen by %s" :
			    "unfrozen by %s", o->user);
		break;
	default:
		rc = edit_envelope(h, m, act, o, err);
		break;
	}
	return rc;
}

/* exim -Mes, -Mmd, -Mmad and -Mar: every one of them */
static int
exim_act_supports(struct lq_spool *sp, enum lq_action act, const struct lq_act_opts *o,
    struct lq_err *err)
{
	(void)sp;
	(void)act;
	(void)err;
	return 0;
}

static void
exim_act_unlock(struct lq_spool *sp, void *held)
{
	struct exim_held *h = held;

	if (h == NULL)
		return;
	if (h->m != NULL && h->m->priv != NULL)
		((struct exim_msg *)h->m->priv)->lockfd = -1;
	h->m = NULL;
	if (h->lockfd >= 0)
		lq_sys_close(h->lockfd);	/* releases Exim's lock */
	h->lockfd = -1;
}

/* Exim's log_file_path, for the default spool: "/var/log/exim4/%slog" means mainlog there;
 * syslog only (no path) means none. */
static char *
exim_log_path(struct lq_spool *sp)
{
	static const char *const ask[] = { "exim4", "-bP", "-n", "log_file_path", NULL };
	char *def = exim_default_dir(), *path = NULL, *pct, *p = NULL;

	if (def != NULL && strcmp(def, sp->dir) == 0)
		path = lq_ask_program(ask);
	free(def);
	if (path == NULL)
		return NULL;
	if ((pct = strstr(path, "%s")) != NULL && strchr(path, ':') == NULL &&
	    asprintf(&p, "%.*smain%s", (int)(pct - path), path, pct + 2) < 0)
		p = NULL;
	free(path);
	return p;
}

/* exim -M ID... delivers those (forced, thawing frozen ones); exim -qff the whole queue. */
/*
 * Exim runs the queues of its spool_directory, whatever spool qtools read: before running it,
 * ask the binary that will run (exim -bP spool_directory) whether that is this spool. A
 * named queue is the directory of that name in it (-qGNAME), so a spool whose own directory
 * is a named queue of the one Exim runs is refused with the -G that would reach it.
 */
static int
runs_this_spool(struct lq_spool *sp, const char *prog, struct lq_err *err)
{
	const char *const ask[] = { prog, "-bP", "-n", "spool_directory", NULL };
	char *dir, *up = NULL;
	int rc = 0;

	if (lq_find_program(prog, err) < 0)
		return -1;
	if ((dir = lq_ask_program(ask)) == NULL || dir[0] != '/')
		rc = lq_err_set(err, LQ_EUSAGE, "%s: %s -bP spool_directory names no spool "
		    "directory (is it Exim?): nothing run", sp->dir, prog);
	else if (!lq_spool_is(sp, dir)) {
		const char *base = strrchr(sp->dir, '/');

		if (sp->queue == NULL && base != NULL && base[1] != '\0' &&
		    asprintf(&up, "%s/%s", dir, base + 1) >= 0 && lq_spool_is(sp, up))
			rc = lq_err_set(err, LQ_EUSAGE, "%s: %s runs the spool %s, of which this is "
			    "the named queue %s: give --spool %s -G %s", sp->dir, prog, dir,
			    base + 1, dir, base + 1);
		else
			rc = lq_err_set(err, LQ_EUSAGE, "%s: %s would run the spool %s (its "
			    "spool_directory), not this one: nothing run", sp->dir, prog, dir);
	}
	free(up);
	free(dir);
	return rc;
}

static int
exim_run_argv(struct lq_spool *sp, const char *path, const char *const *ids, size_t n,
    const char **argv, size_t max, struct lq_err *err)
{
	struct exim *ex = sp->priv;
	const char *prog = path != NULL ? path : "exim4";
	size_t k = 0, took = 0;

	if (max < 8)
		return lq_err_set(err, LQ_EUSAGE, "argument vector too small");
	if (runs_this_spool(sp, prog, err) < 0)
		return -1;
	argv[k++] = prog;
	if (n == 0)
		argv[k++] = ex->qrunflag ? ex->qrunflag : "-qff";
	else {
		if (ex->qflag != NULL)
			argv[k++] = ex->qflag;
		argv[k++] = "-M";
		while (took < n && k < max - 1)
			argv[k++] = ids[took++];
	}
	argv[k] = NULL;
	return (int)took;
}

/*
 * Who acts on an Exim spool: Exim's own user and group (exim_user, exim_group: Debian-exim on
 * Debian), whose input/ and msglog/ these are. Every file an action writes or removes (hdr.ID
 * renamed over -H, -D -H -J, msglog/ID) is in a directory of theirs, and Exim itself does all
 * of it as that user.
 */
static int
exim_owner(struct lq_spool *sp, struct lq_owner *o, struct lq_err *err)
{
	struct exim *ex = sp->priv;
	struct stat st;

	if (fstat(ex->inputfd, &st) < 0)
		return lq_err_sys(err, "%s: input", sp->dir);
	o->uid = st.st_uid;
	o->gid = st.st_gid;
	o->caps = 0;
	snprintf(o->what, sizeof o->what, "the owner of %s/%s%sinput", sp->dir,
	    sp->queue ? sp->queue : "", sp->queue ? "/" : "");
	return 0;
}

const struct lq_backend lq_exim_backend = {
	.mta = LQ_MTA_EXIM,
	.name = "exim",
	.detect = exim_detect,
	.default_dir = exim_default_dir,
	.open = exim_open,
	.close = exim_close,
	.valid_id = exim_valid_id,
	.scan = exim_scan,
	.load = exim_load,
	.read = exim_read,
	.write_envelope = exim_write_envelope,
	.write_listing = exim_write_listing,
	.write_log = exim_write_log,
	.act_lock = exim_act_lock,
	.act_reload = exim_act_reload,
	.act_refuse = exim_act_refuse,
	.act_save = exim_act_save,
	.act_apply = exim_act_apply,
	.act_unlock = exim_act_unlock,
	.removes_damaged = 1,	/* exim -Mrm */
	.act_supports = exim_act_supports,
	.frozen_state = "frozen",
	.frozen_said = "frozen",
	.run_argv = exim_run_argv,
	.log_path = exim_log_path,
	.owner = exim_owner,
	.queues = exim_queues,
	.state_flags = LQ_MSG_ACTIVE | LQ_MSG_FROZEN,
};
