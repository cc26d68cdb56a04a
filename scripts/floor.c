/*
 * floor.c -- the least a lister of a mail queue has to do, for scripts/bench: the same
 * directory reads, opens, reads and stats as the MTA's own lister, and nothing else (no
 * parsing, no sorting, no output but a count). Its CPU time is the floor a queue lister is
 * measured against.
 *
 *   floor exim SPOOLDIR       readdir input/ (and its one-character split subdirectories);
 *                             open, read, close every ID-H; stat every ID-D: 4 system calls
 *                             a message (openat, read, close, fstatat)
 *   floor postfix QUEUEDIR    readdir maildrop incoming active deferred hold (hashed
 *                             subdirectories at any depth); open, read, close every queue
 *                             file, and for deferred ones the defer/ log if there is one
 *   floor qmail QUEUEDIR      readdir info/N; per message stat mess/N/ID and bounce/ID,
 *                             open, read, close info/N/ID, local/N/ID, remote/N/ID
 *                             (what qmail-qread does)
 *
 * A read is one read() of up to 64 KiB: a short read of a regular file is its end, and a
 * lister needs no more than the first 64 KiB of a -H (nearly always all of it), of a
 * Postfix queue file (its envelope records) or of a qmail channel file.
 *
 *   floor -j N MTA DIR        the same directory reads in the main thread, and the same
 *                             opens, reads and stats done N at a time by N threads (the
 *                             parallel floor of the bench's cold section: what the disk
 *                             gives to a reader with N reads in flight)
 *
 *   floor -r MTA DIR          also what a reader of the delay reasons (qsumm --by reason,
 *                             qgrep --reason) must read: on Exim the message log of every
 *                             message too, open, read, close msglog/ID (msglog/X/ID on a split
 *                             spool); on Postfix nothing more, as the defer logs are read
 *                             anyway (showq reads them for postqueue -p); qmail keeps no
 *                             reasons. -r and -j go together.
 *
 *   floor -s exim SPOOLDIR    the messages of each directory in ID order (names read, sorted,
 *                             then read), not in readdir's: the order Exim wrote them, for
 *                             the bench's big section to bring a spool into the page cache as
 *                             the MTA's writing left it
 *
 * Prints "N messages, B bytes read". Built by scripts/bench (cc -O2 -pthread); not part of
 * qtools.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long messages;
static unsigned long long nbytes;
static char buf[1 << 16];

/* -j N: the file operations go to N threads through a bounded queue of paths */
static int jobs;
static int topfd;
static int reasons;	/* -r: the message logs too */
static int sorted;	/* -s: each directory's messages in ID order */
enum { OP_READ, OP_STAT, OP_READ_COUNT, OP_STAT_COUNT };
struct op {
	char path[256];
	int kind;
};
#define QCAP 1024
static struct op q[QCAP];
static size_t qhead, qn;
static int qdone;
static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcv = PTHREAD_COND_INITIALIZER, qroom = PTHREAD_COND_INITIALIZER;

static void
push(const char *dir, const char *name, int kind)
{
	pthread_mutex_lock(&qmu);
	while (qn == QCAP)
		pthread_cond_wait(&qroom, &qmu);
	snprintf(q[(qhead + qn) % QCAP].path, sizeof q[0].path, "%s%s%s", dir, *dir ? "/" : "",
	    name);
	q[(qhead + qn) % QCAP].kind = kind;
	qn++;
	pthread_cond_signal(&qcv);
	pthread_mutex_unlock(&qmu);
}

static void *
worker(void *arg)
{
	char *b = malloc(1 << 16);
	struct stat st;
	struct op o;

	for (;;) {
		unsigned long m = 0;
		ssize_t r = 0;
		int fd;

		pthread_mutex_lock(&qmu);
		while (qn == 0 && !qdone)
			pthread_cond_wait(&qcv, &qmu);
		if (qn == 0) {
			pthread_mutex_unlock(&qmu);
			break;
		}
		o = q[qhead];
		qhead = (qhead + 1) % QCAP;
		qn--;
		pthread_cond_signal(&qroom);
		pthread_mutex_unlock(&qmu);
		if (o.kind == OP_READ || o.kind == OP_READ_COUNT) {
			if ((fd = openat(topfd, o.path, O_RDONLY | O_CLOEXEC)) >= 0) {
				r = read(fd, b, 1 << 16);
				close(fd);
				m = o.kind == OP_READ_COUNT;
			}
		} else if (fstatat(topfd, o.path, &st, 0) == 0)
			m = o.kind == OP_STAT_COUNT;
		pthread_mutex_lock(&qmu);
		messages += m;
		nbytes += r > 0 ? (unsigned long long)r : 0;
		pthread_mutex_unlock(&qmu);
	}
	free(b);
	return arg;
}

/* open, one read, close; 0 when the file is not there. With -j: queued, and 1. dir: the
 * directory's path below the top (for the threads), dfd: the same directory open. */
static int
slurp_in(int dfd, const char *dir, const char *name, int counts)
{
	int fd;
	ssize_t r;

	if (jobs > 0) {
		push(dir, name, counts ? OP_READ_COUNT : OP_READ);
		return 1;
	}
	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if ((r = read(fd, buf, sizeof buf)) < 0)
		err(2, "%s", name);
	nbytes += (unsigned long long)r;
	close(fd);
	messages += counts;
	return 1;
}

static int
slurp(int dfd, const char *name)
{
	return slurp_in(dfd, "", name, 0);
}

/* fstatat; with -j queued (and 1) */
static int
stat_in(int dfd, const char *dir, const char *name, int counts)
{
	struct stat st;

	if (jobs > 0) {
		push(dir, name, counts ? OP_STAT_COUNT : OP_STAT);
		return 1;
	}
	if (fstatat(dfd, name, &st, 0) < 0)
		return 0;
	messages += counts;
	return 1;
}

static DIR *
opendir_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		err(2, "%s", name);
	return d;
}

/* ---------------------------------------------------------------- exim */

/* One message: its -H (name) read, its -D stat'ed, its log read (-r). */
static void
exim_msg(int dfd, const char *dir, const char *name, int logfd, const char *logdir)
{
	char dname[32];

	if (!slurp_in(dfd, dir, name, 0))
		return;	/* vanished */
	memcpy(dname, name, 19);	/* an ID-H name: 18 bytes and its NUL (exim_dir) */
	dname[17] = 'D';
	stat_in(dfd, dir, dname, 1);
	if (reasons) {
		/* msglog/ID: a message without one has no reasons (a failed open) */
		dname[16] = '\0';
		slurp_in(logfd, logdir, dname, 0);
	}
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* d: input/ (top) or input/X; logfd, logdir: the msglog directory beside it (-r) */
static void
exim_dir(DIR *d, int top, const char *dir, int logfd, const char *logdir)
{
	int dfd = dirfd(d);
	struct dirent *de;
	char sub[16], lsub[16];
	char **names = NULL;	/* -s: the -H names, read once the directory is */
	size_t nnames = 0, cap = 0;

	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		size_t n = strlen(name);

		if (top && n == 1 && name[0] != '.' &&
		    (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)) {
			DIR *sd = opendir_at(dfd, name);
			int lfd = -1;

			if (sd != NULL) {
				snprintf(sub, sizeof sub, "input/%s", name);
				snprintf(lsub, sizeof lsub, "msglog/%s", name);
				if (reasons && jobs == 0)
					lfd = openat(topfd, lsub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				exim_dir(sd, 0, sub, lfd, lsub);
				closedir(sd);
				if (lfd >= 0)
					close(lfd);
			}
			continue;
		}
		if (n != 18 || name[16] != '-' || name[17] != 'H')
			continue;
		if (!sorted) {
			exim_msg(dfd, dir, name, logfd, logdir);
			continue;
		}
		if (nnames == cap && (names = reallocarray(names, cap = cap ? 2 * cap : 1024,
		    sizeof *names)) == NULL)
			err(2, "%s", dir);
		if ((names[nnames++] = strdup(name)) == NULL)
			err(2, "%s", dir);
	}
	qsort(names, nnames, sizeof *names, name_cmp);
	for (size_t i = 0; i < nnames; i++) {
		exim_msg(dfd, dir, names[i], logfd, logdir);
		free(names[i]);
	}
	free(names);
}

/* ---------------------------------------------------------------- postfix */

/* rel: the path below the queue directory, e.g. "deferred/3" */
static void
postfix_dir(int qfd, const char *rel, int deferred)
{
	DIR *d = opendir_at(qfd, rel);
	struct dirent *de;
	char path[1024];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;

		if (name[0] == '.')
			continue;
		if (de->d_type == DT_DIR) {
			snprintf(path, sizeof path, "%s/%s", rel, name);
			postfix_dir(qfd, path, deferred);
			continue;
		}
		if (!slurp_in(dirfd(d), rel, name, 1))
			continue;
		if (deferred) {
			/* defer/<the same hash path>/ID */
			snprintf(path, sizeof path, "defer%s/%s", rel + strlen("deferred"), name);
			slurp(qfd, path);
		}
	}
	closedir(d);
}

/* ---------------------------------------------------------------- qmail */

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int
subdir_fd(int qfd, const char *top, const char *sub)
{
	char path[64];

	snprintf(path, sizeof path, "%.20s/%.20s", top, sub);
	return openat(qfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void
qmail_queue(int qfd)
{
	DIR *info = opendir_at(qfd, "info"), *sd;
	int bfd = openat(qfd, "bounce", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de, *me;
	char mdir[32], idir[32], ldir[32], rdir[32];

	if (info == NULL)
		err(2, "info");
	while ((de = readdir(info)) != NULL) {
		const char *sub = de->d_name;
		int mfd, lfd, rfd;

		if (!all_digits(sub) || strlen(sub) > 20)
			continue;
		if ((sd = opendir_at(dirfd(info), sub)) == NULL)
			continue;
		mfd = subdir_fd(qfd, "mess", sub);
		lfd = subdir_fd(qfd, "local", sub);
		rfd = subdir_fd(qfd, "remote", sub);
		snprintf(mdir, sizeof mdir, "mess/%.20s", sub);
		snprintf(idir, sizeof idir, "info/%.20s", sub);
		snprintf(ldir, sizeof ldir, "local/%.20s", sub);
		snprintf(rdir, sizeof rdir, "remote/%.20s", sub);
		while ((me = readdir(sd)) != NULL) {
			const char *id = me->d_name;

			if (!all_digits(id))
				continue;
			if (!stat_in(mfd, mdir, id, 1))
				continue;
			stat_in(bfd, "bounce", id, 0);
			slurp_in(dirfd(sd), idir, id, 0);
			slurp_in(lfd, ldir, id, 0);
			slurp_in(rfd, rdir, id, 0);
		}
		closedir(sd);
		close(mfd);
		close(lfd);
		close(rfd);
	}
	closedir(info);
	close(bfd);
}

int
main(int argc, char **argv)
{
	static const char *const pfqueues[] = { "maildrop", "incoming", "active", "deferred",
		"hold" };
	const char *mta, *dir;
	pthread_t tid[256];
	int qfd;

	for (;;) {
		if (argc > 2 && strcmp(argv[1], "-j") == 0) {
			if ((jobs = atoi(argv[2])) < 1 || jobs > 256)
				errx(2, "-j %s: 1 to 256", argv[2]);
			argc -= 2;
			argv += 2;
		} else if (argc > 1 && strcmp(argv[1], "-s") == 0) {
			sorted = 1;
			argc--;
			argv++;
		} else if (argc > 1 && strcmp(argv[1], "-r") == 0) {
			reasons = 1;
			argc--;
			argv++;
		} else
			break;
	}
	mta = argc == 3 ? argv[1] : "exim", dir = argv[argc - 1];
	if (argc < 2 || argc > 3)
		errx(2, "usage: floor [-j N] [-r] [-s] [exim|postfix|qmail] DIR");
	if ((qfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		err(2, "%s", dir);
	topfd = qfd;
	for (int i = 0; i < jobs; i++)
		if (pthread_create(&tid[i], NULL, worker, NULL) != 0)
			errx(2, "cannot start a thread");
	if (strcmp(mta, "exim") == 0) {
		DIR *d = opendir_at(qfd, "input");
		int lfd = reasons && jobs == 0 ?
		    openat(qfd, "msglog", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

		if (d == NULL)
			err(2, "%s/input", dir);
		exim_dir(d, 1, "input", lfd, "msglog");
		closedir(d);
		if (lfd >= 0)
			close(lfd);
	} else if (strcmp(mta, "postfix") == 0) {
		for (size_t i = 0; i < sizeof pfqueues / sizeof pfqueues[0]; i++)
			postfix_dir(qfd, pfqueues[i], strcmp(pfqueues[i], "deferred") == 0);
	} else if (strcmp(mta, "qmail") == 0) {
		qmail_queue(qfd);
	} else
		errx(2, "%s: not exim, postfix or qmail", mta);
	pthread_mutex_lock(&qmu);
	qdone = 1;
	pthread_cond_broadcast(&qcv);
	pthread_mutex_unlock(&qmu);
	for (int i = 0; i < jobs; i++)
		pthread_join(tid[i], NULL);
	printf("%lu messages, %llu bytes read\n", messages, nbytes);
	return 0;
}
