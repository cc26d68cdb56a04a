/*
 * prefetch.c -- reads in flight ahead of a scan: a small pool of POSIX threads that warm
 * the page cache with the files the scan will read next, so that a cold queue costs the
 * disk's latency once per window, not once per file (libqueue/README, "A scan with
 * readahead").
 *
 *   lq_prefetch_start  the pool for one scan (NULL: --jobs 1, or no room for a thread):
 *                      workers = jobs - 1, the scan thread being the other; they start
 *                      once the scan thread has had to read from the disk (a cached queue
 *                      costs what --jobs 1 costs), or at once with LQ_READAHEAD_ALWAYS
 *   lq_prefetch_file   ask for path (below the directory given to start) to be read, its
 *                      first bytes at most, or only looked up (bytes 0: its inode loaded,
 *                      for a file the scan only stats)
 *   lq_prefetch_window how far ahead the scan may ask (jobs; 0 without a pool)
 *   lq_prefetch_stop   pending requests dropped, workers joined
 *   lq_dirahead_*      readdir() with a window of entries read ahead, each handed once,
 *                      in order, to the backend's warm function
 *
 * The workers only warm: they open (openat2, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so
 * nothing outside the spool and no symlink anywhere on the path is ever followed;
 * O_NONBLOCK, so a FIFO never blocks), read at most LQ_PREFETCH_BYTES of a regular file
 * into a buffer they throw away, and close. They report nothing and count nothing: the
 * scan thread still opens, reads, parses and reports every file itself, in its own order,
 * so what a scan hands over is what it would hand over without them. A failed open
 * (ENOENT: vanished; EMFILE: the descriptor limit; ENOSYS: no openat2) only means that
 * file is not warmed. The workers hold one descriptor each at most, and there are no more
 * of them than the descriptor limit leaves room for (half of what is free beyond a
 * reserve for what the scan itself holds open), so the scan thread's own opens keep their
 * descriptors: a low limit (ulimit -n) means fewer reads in flight, or none.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

#define PATH_LEN 128		/* a spool path below its top directory; longer: not warmed */
/* descriptors left to the scan thread beyond those open when it starts: what a scan holds
 * open at once (Exim: input/ and up to 62 split subdirectories, which a streaming scan
 * opens as it goes; Postfix: a hash path; qmail: a split subdirectory per kind, in the
 * queue and the hold area), the file it reads, and the tool's own */
#define FD_RESERVE 80
#define STACK_SIZE (256 * 1024)
/* how far ahead the scan asks, in files per job: the scan waits for the file it reads
 * while the workers read the ones after it, so that a window of jobs files would leave
 * most of them idle (measured cold, 20,000 messages: 4 per job halves the wall time of
 * Postfix and qmail scans against 1, and is as fast as 8) */
#define AHEAD_PER_JOB 4
/* a dormant pool looks at the scan thread's block reads every CHECK_EVERY requests, and
 * starts its workers when those of the last CHECK_EVERY exceeded COLD_BLOCKS (512 bytes each:
 * 128 KiB, about half of those files read from the disk, a page each) COLD_WINDOWS times in a
 * row. A sustained rate, not a total: a warm queue that lost some pages to reclaim (seen here:
 * a few thousand block reads in a warm scan of 100,000 messages, in bursts) must not start
 * them, since the workers cost several times --jobs 1's system time on cached files. */
#define CHECK_EVERY 64
#define COLD_BLOCKS 256
#define COLD_WINDOWS 2		/* ... in this many windows in a row */

struct request {
	char path[PATH_LEN];
	size_t bytes;
};

struct lq_prefetch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct request *q;	/* a ring of pending requests; full: the oldest is dropped */
	size_t cap, head, n;
	int stop;
	int topfd;		/* the spool's directory: every path is below it */
	unsigned window;
	pthread_t *tid;
	unsigned nthreads, want;
	/* dormant until the scan thread reads from the disk (or at once: LQ_READAHEAD_ALWAYS):
	 * the scan thread's block reads when the scan began, and requests since the last look */
	int started;
	long inblock0;		/* the scan thread's block reads at the last look */
	int cold;		/* windows in a row that read more than COLD_BLOCKS */
	unsigned calls;
};

/* Blocks the calling thread read from a disk (not the page cache) so far; -1: unknown. */
static long
thread_inblock(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_inblock : -1;
}

/* Descriptors open now (one readdir of /proc/self/fd); -1 when it cannot be read. */
static long
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;		/* opendir's own */
}

unsigned
lq_threads_fd_budget(unsigned want)
{
	struct rlimit rl;
	long open = open_fds(), room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || open < 0)
		return 0;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)1 << 20)
		rl.rlim_cur = (rlim_t)1 << 20;
	room = ((long)rl.rlim_cur - open - FD_RESERVE) / 2;
	if (room <= 0)
		return 0;
	return (unsigned long)room < want ? (unsigned)room : want;
}

static void
warm(int topfd, const struct request *r, char *buf)
{
	struct open_how how = {
		.flags = r->bytes ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC :
		    O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	long fd = syscall(SYS_openat2, topfd, r->path, &how, sizeof how);

	if (fd < 0)
		return;		/* vanished, EMFILE, no openat2: the scan reads it cold */
	/* the system call itself: an LD_PRELOAD'ed fstat (libfaketime, under the tests'
	 * fixed clock) may keep state that is not safe to share with the scan thread */
	if (r->bytes && syscall(SYS_fstat, (int)fd, &st) == 0 && S_ISREG(st.st_mode)) {
		size_t n = r->bytes < LQ_PREFETCH_BYTES ? r->bytes : LQ_PREFETCH_BYTES;

		while (pread((int)fd, buf, n, 0) < 0 && errno == EINTR)
			;
	}
	close((int)fd);
}

static void *
worker(void *arg)
{
	struct lq_prefetch *pf = arg;
	char *buf = malloc(LQ_PREFETCH_BYTES);
	struct request r;

	if (buf == NULL)
		return NULL;
	pthread_mutex_lock(&pf->mu);
	for (;;) {
		while (!pf->stop && pf->n == 0)
			pthread_cond_wait(&pf->cv, &pf->mu);
		if (pf->stop)
			break;
		r = pf->q[pf->head];
		pf->head = (pf->head + 1) % pf->cap;
		pf->n--;
		pthread_mutex_unlock(&pf->mu);
		warm(pf->topfd, &r, buf);
		pthread_mutex_lock(&pf->mu);
	}
	pthread_mutex_unlock(&pf->mu);
	free(buf);
	return NULL;
}

unsigned
lq_threads_start(pthread_t *tid, unsigned have, unsigned want, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t all, old;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	/* signals stay the scan thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (have < want && pthread_create(&tid[have], &attr, fn, arg) == 0)
		have++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return have;
}

/* Start the workers (as many as can be); 0, or -1 when none could be. */
static int
start(struct lq_prefetch *pf)
{
	pf->started = 1;
	pf->nthreads = lq_threads_start(pf->tid, pf->nthreads, pf->want, worker, pf);
	return pf->nthreads > 0 ? 0 : -1;
}

struct lq_prefetch *
lq_prefetch_start(const struct lq_spool *sp, int topfd)
{
	unsigned want = sp->jobs > 1 ? sp->jobs - 1 : 0, n;
	struct lq_prefetch *pf;

	if (want == 0 || topfd < 0 || (n = lq_threads_fd_budget(want)) == 0)
		return NULL;
	if ((pf = calloc(1, sizeof *pf)) == NULL)
		return NULL;
	pf->topfd = topfd;
	pf->want = n;
	pf->window = sp->jobs * AHEAD_PER_JOB;
	pf->cap = 4 * (size_t)pf->window;	/* up to 4 files a message (qmail) */
	if ((pf->q = calloc(pf->cap, sizeof *pf->q)) == NULL ||
	    (pf->tid = calloc(n, sizeof *pf->tid)) == NULL ||
	    pthread_mutex_init(&pf->mu, NULL) != 0) {
		free(pf->q);
		free(pf->tid);
		free(pf);
		return NULL;
	}
	/* not pthread_cond_init: libfaketime (the tests' clock) wraps it, and a stat() the
	 * scan makes after it came out unfaked */
	pf->cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	pf->inblock0 = thread_inblock();
	if ((sp->readahead == LQ_READAHEAD_ALWAYS || pf->inblock0 < 0) && start(pf) < 0) {
		lq_prefetch_stop(pf);
		return NULL;
	}
	return pf;
}

void
lq_prefetch_file(struct lq_prefetch *pf, const char *path, size_t bytes)
{
	size_t len;

	if (pf == NULL || (len = strlen(path)) >= PATH_LEN)
		return;
	/* a queue in the page cache needs no readahead, and would pay for the threads' opens
	 * and wake-ups (several times the system time of --jobs 1): the workers start only
	 * once the scan thread itself has had to read from the disk */
	if (!pf->started) {
		long now;

		if (++pf->calls < CHECK_EVERY)
			return;
		pf->calls = 0;
		now = thread_inblock();
		pf->cold = now > pf->inblock0 + COLD_BLOCKS ? pf->cold + 1 : 0;
		pf->inblock0 = now;
		/* dormant, nothing is queued: a warm scan pays no lock and no copy per file,
		 * and the workers begin with the files after this one */
		if (pf->cold < COLD_WINDOWS || start(pf) < 0)
			return;
	}
	pthread_mutex_lock(&pf->mu);
	if (pf->n == pf->cap) {		/* the workers are behind: the oldest is the scan's now */
		pf->head = (pf->head + 1) % pf->cap;
		pf->n--;
	}
	struct request *r = &pf->q[(pf->head + pf->n) % pf->cap];

	memcpy(r->path, path, len + 1);
	r->bytes = bytes;
	pf->n++;
	if (pf->nthreads > 0)
		pthread_cond_signal(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
}

unsigned
lq_prefetch_window(const struct lq_prefetch *pf)
{
	return pf == NULL ? 0 : pf->window;
}

void
lq_prefetch_stop(struct lq_prefetch *pf)
{
	if (pf == NULL)
		return;
	pthread_mutex_lock(&pf->mu);
	pf->stop = 1;
	pf->n = 0;
	pthread_cond_broadcast(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
	for (unsigned i = 0; i < pf->nthreads; i++)
		pthread_join(pf->tid[i], NULL);
	pthread_cond_destroy(&pf->cv);
	pthread_mutex_destroy(&pf->mu);
	free(pf->tid);
	free(pf->q);
	free(pf);
}

/* ---------------------------------------------------------------- directories */

void
lq_dirahead_init(struct lq_dirahead *da, DIR *d, struct lq_prefetch *pf,
    void (*fn)(const struct dirent *, void *), void *arg)
{
	memset(da, 0, sizeof *da);
	da->d = d;
	da->pf = pf;
	da->warm = fn;
	da->arg = arg;
	if (pf != NULL && (da->ring = calloc(pf->window, sizeof *da->ring)) != NULL)
		da->cap = pf->window;
}

struct dirent *
lq_dirahead_next(struct lq_dirahead *da)
{
	struct dirent *de;

	if (da->cap == 0)
		return readdir(da->d);
	/* the slot handed out last time is free again: keep the window full */
	while (!da->eof && da->n < da->cap) {
		struct dirent *slot;

		if ((de = readdir(da->d)) == NULL) {
			da->eof = 1;
			break;
		}
		slot = &da->ring[(da->head + da->n) % da->cap];
		/* a record of readdir's buffer may be shorter than struct dirent */
		memcpy(slot, de, offsetof(struct dirent, d_name));
		snprintf(slot->d_name, sizeof slot->d_name, "%s", de->d_name);
		da->n++;
		da->warm(slot, da->arg);
	}
	if (da->n == 0)
		return NULL;
	de = &da->ring[da->head];
	da->head = (da->head + 1) % da->cap;
	da->n--;
	return de;
}

void
lq_dirahead_done(struct lq_dirahead *da)
{
	free(da->ring);
	da->ring = NULL;
	da->cap = da->n = 0;
}
