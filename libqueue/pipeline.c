/*
 * pipeline.c -- a scan's messages loaded by several threads and handed over in order
 * (libqueue/README, "A scan with parsing workers").
 *
 *   lq_pipeline_start  the pipeline for one scan (NULL: --jobs 1, or no room for a thread:
 *                      the backend loads and hands over each message itself, as always)
 *   lq_pipeline_put    the next message in the scan's order (an item: what the backend's
 *                      load needs to find it); when the window is full, the oldest is
 *                      handed over first, so the scan's own pace is the handing over
 *   lq_pipeline_finish hand over what is left
 *   lq_pipeline_stop   the workers joined, whatever was not handed over dropped
 *   lq_slot_begin      a slot's message, reset (the slot's lq_msg_begin)
 *
 * The window is a ring of slots, each with its own message, arena and file buffers, so
 * that memory is the window's, never the queue's (a warm worker has a ring of its own:
 * own_set; each loading thread has buffers of its own, for what a message does not point
 * into once loaded). A load (the backend's: open, read, parse into the slot) runs in a
 * worker or in the scan thread; the handing over (the backend's: count, report, call the
 * tool's callback) runs in the scan thread only, slot after slot in the order they were
 * put, and the slot is not reused before the callback returned (it may read the message's
 * content). So what a scan hands over, and its reports and counts, are what it would hand
 * over loading each message itself.
 *
 * Synchronisation is per slot and cheap: three counters (put, claimed, taken) and a state
 * per slot, done or not. A worker claims the next messages put with a compare-and-swap
 * (one cold, a run warm: claim), loads them and marks their slots done; the scan thread,
 * to hand over the oldest slot, loads messages itself while the workers are behind
 * (claiming the oldest unclaimed ones), and sleeps only when every message put is being
 * loaded. A worker sleeps when nothing is left to claim and is woken when a batch has been
 * put, not per message. Everything a load reads of the spool's own state (Exim's journal
 * list, the /proc/locks table) is read-only meanwhile.
 *
 * How many workers: while the queue is in the page cache, one per other processor (at most
 * MAX_WARM), each with a descriptor table, credentials and slots of its own, claiming runs
 * of messages (private_worker, own_credentials, own_set and claim say why: on cached files
 * what the cores share is the cost); once the scan has read from the disk (the process's
 * block reads grew by more than COLD_BLOCKS in COLD_WINDOWS checks in a row), jobs - 1 of
 * them sharing the table, a message at a time, so that many reads are in flight
 * (LQ_READAHEAD_ALWAYS: from the start). Always no more than the descriptor limit leaves
 * room for (lq_threads_fd_budget: each holds one at a time, and the scan thread's own
 * opens keep theirs, so a low ulimit -n means fewer workers, or none, never a message not
 * read). A load a worker made that failed for another reason than the message being gone
 * (damaged, a descriptor limit, no memory) is made again by the scan thread before it is
 * handed over, so its report is exactly --jobs 1's. Workers run with every signal blocked:
 * a signal (SIGINT, SIGPIPE) is the scan thread's, as with --jobs 1.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

/* cold: the window is this many messages per job. The scan thread waits for the message
 * it hands over while the workers read the ones after it, so that a window of jobs
 * messages would leave most of them idle (measured cold, 20,000 messages: 4 per job
 * halves the wall time of Postfix and qmail scans against 1, and is as fast as 8) */
#define AHEAD_PER_JOB 4
/* warm and alone (one core, or no room for a thread), the scan thread loads through this
 * many slots: few, so that their memory stays in the processor's caches */
#define ALONE_WINDOW 16
/* warm with a worker per other core: enough slots that a worker ahead of the scan thread
 * rarely runs out of messages and sleeps (a sleep and a wake-up cost as much as a load) */
#define WARM_WINDOW 64
/* warm workers at most: the window holds four runs (claim), one of them the scan thread's */
#define MAX_WARM 3
/* cold detection: every CHECK_EVERY handovers, a look at the process's block reads; the
 * queue is cold when those of the last CHECK_EVERY exceeded COLD_BLOCKS (512 bytes each:
 * 128 KiB, about half of those files read from the disk, a page each) COLD_WINDOWS times in
 * a row. A sustained rate, not a total: a warm queue that lost some pages to reclaim (seen
 * here: a few thousand block reads in a warm scan of 100,000 messages, in bursts) must not
 * go cold, since on cached files more workers than cores only add system time (the
 * wake-ups; the warming threads this replaced cost several times --jobs 1's) */
#define CHECK_EVERY 64
#define COLD_BLOCKS 256
#define COLD_WINDOWS 2
/* descriptors left to the scan thread beyond those open when it starts: what a scan holds
 * open at once (Exim: input/ and up to 62 split subdirectories, which a streaming scan
 * opens as it goes; Postfix: a hash path; qmail: a split subdirectory per kind, in the
 * queue and the hold area), the file it reads, and the tool's own */
#define FD_RESERVE 80
#define STACK_SIZE (256 * 1024)
/* a buffer grown past this by one message is given back when its slot is handed over:
 * memory stays the window's times an ordinary message's */
#define SLOT_BUF_KEEP (256 * 1024)
/* how long the scan thread spins for a message a worker is loading before it sleeps (a
 * load is some microseconds, and a sleep and a wake-up cost as much), and a worker with
 * nothing to claim before it sleeps: less, since the scan thread puts one message per
 * handover and the worker is woken for a batch */
#define SPINS 200
#define WORKER_SPINS 20
/* how much of the next message's arena the scan thread asks for ahead of its handover
 * (prefetch_next) */
#define PREFETCH_BYTES 1024

enum { SLOT_FREE, SLOT_DONE };

/* what a load writes and the handover reads on one cache line (the error, after it, only
 * when a load fails): the line moves between the cores twice per message */
struct slot_state {
	_Alignas(64) _Atomic int state;
	int rc;			/* the load's */
	int by_worker;		/* loaded by a worker (a failure is loaded again) */
	struct lq_msg *m;	/* what the load gave (in slot->msg) */
	struct lq_slot *slot;	/* the loading thread's (own_set) */
	const char *data;	/* what its arena holds (prefetch_next) */
	size_t len;
	struct lq_err err;
};

struct lq_pipeline {
	/* set when the scan starts or turns cold (no worker runs then), read by every thread */
	struct lq_spool *sp;
	const struct lq_pipeline_ops *ops;
	void *arg;
	size_t window;		/* slots in use: the warm window, or cold_window once cold */
	size_t cold_window;
	size_t nslots;		/* the larger of the two */
	/* the slots of each loading thread that has a set of its own (own_set): nslots for
	 * the scan thread and the cold workers, then WARM_WINDOW for each warm worker */
	struct lq_slot *slots;
	size_t nall;
	struct slot_state *st;
	char *items;		/* nslots x ops->item_size */
	unsigned long batch;	/* wake sleeping workers once this many wait */
	unsigned long run;	/* claim at most this many messages at once (claim) */
	int is_cold;		/* the workers are the cold ones (load and wake_workers fence) */
	/*
	 * What one thread writes for every message is on cache lines of its own, apart from
	 * what the other threads read (measured, 100,000 cached Postfix messages: the scan
	 * thread's buffers beside the fields above cost the warm worker a miss per message,
	 * 3% more CPU). The scan thread's alone:
	 */
	_Alignas(64) unsigned long taken;
	struct lq_buf scratch[LQ_SLOT_BUFS];	/* its buffers (each worker has its own) */
	int grow;		/* cold: the ring is to be emptied and made cold_window long */
	/* warm: workers with a descriptor table of their own (private_worker), started at the
	 * first put after the scan opened a directory (lq_pipeline_new_dir) */
	unsigned warm_threads;
	int warm_due;		/* start them at the next put */
	unsigned nthreads, cold_threads;
	/* cold detection (auto): block reads of the process at the last look */
	int cold_known;
	long inblock;
	int cold;		/* checks in a row that found disk reads */
	unsigned long next_check;
	/* counters of messages, never wrapping: put (scan thread) >= claimed >= taken */
	_Alignas(64) _Atomic unsigned long put;
	_Alignas(64) _Atomic unsigned long claimed;
	/* written seldom: when a thread sleeps, and at the end */
	_Alignas(64) _Atomic int stop;
	_Atomic int retire;	/* warm workers leave after the run they are loading */
	_Atomic unsigned idle;	/* workers asleep on work */
	_Atomic int scan_waits;	/* the scan thread asleep on done */
	pthread_mutex_t mu;
	pthread_cond_t work, done, readied;
	pthread_t *tid;
	unsigned ready;		/* (under mu) warm workers that have their table */
};

/* Blocks the process read from a disk so far; -1: unknown. */
static long
process_inblock(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_inblock : -1;
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

/* Start tid[have..want) running fn(arg); how many there are now (as many as could be). */
static unsigned
threads_start(pthread_t *tid, unsigned have, unsigned want, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t all, old;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	/* signals stay the scan thread's: a thread inherits its creator's mask */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (have < want && pthread_create(&tid[have], &attr, fn, arg) == 0)
		have++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return have;
}

static inline void
relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Which set of slots this thread loads into: 0 (the scan thread, cold workers), or a warm
 * worker's own. A slot's memory (its message, arena and file buffers) then stays in the
 * caches of the core that writes it: the scan thread only reads it when it hands the
 * message over (measured, 100,000 cached Exim messages, qls: 0.54 s CPU with one ring of
 * slots for both threads, 0.52 s with a set each; --jobs 1 0.48 s).
 */
static _Thread_local unsigned own_set;

/* A set of buffers (a slot's, a loading thread's) given back. */
static void
free_bufs(struct lq_buf *bufs)
{
	for (size_t b = 0; b < LQ_SLOT_BUFS; b++)
		lq_buf_free(&bufs[b]);
}

/* A set of buffers that one big message grew past SLOT_BUF_KEEP, given back. */
static void
trim(struct lq_buf *bufs)
{
	for (size_t b = 0; b < LQ_SLOT_BUFS; b++)
		if (bufs[b].cap > SLOT_BUF_KEEP)
			lq_buf_free(&bufs[b]);
}

/* Load message n (claimed by this thread) into its slot, reading with scratch (the
 * thread's own buffers). */
static void
load(struct lq_pipeline *p, unsigned long n, struct lq_buf *scratch, int by_worker)
{
	size_t i = n % p->window;
	struct slot_state *s = &p->st[i];

	s->m = NULL;
	s->slot = &p->slots[own_set == 0 ? i : p->nslots + (own_set - 1) * WARM_WINDOW + i];
	s->rc = p->ops->load(p->sp, p->items + i * p->ops->item_size, s->slot, scratch, &s->m,
	    &s->err);
	trim(scratch);
	s->data = lq_arena_recent(s->slot->arena, &s->len);
	s->by_worker = by_worker;
	/* release: what the load wrote is the handover's once it sees SLOT_DONE. The scan
	 * thread asleep on it is woken here; without a fence between the store and the look
	 * at scan_waits (a fence per message costs about 1% of a warm scan's CPU), the look can
	 * miss it falling asleep, and then the next load's look wakes it, or this worker
	 * going idle does (under mu). Cold, a message at a time, the fence makes it exact. */
	atomic_store_explicit(&s->state, SLOT_DONE, memory_order_release);
	if (by_worker && p->is_cold)
		atomic_thread_fence(memory_order_seq_cst);
	if (by_worker && atomic_load_explicit(&p->scan_waits, memory_order_relaxed)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
}

/*
 * Claim the next messages put and not claimed yet, at most p->run of them: how many, from
 * *n (0: there is none). Cold, a run is one message, so that every worker has a read in
 * flight; warm, a worker's run is a quarter of the window: each thread then loads messages
 * that lie together, and the counters and slot states are passed between the cores once
 * per run, not once per message.
 */
static unsigned long
claim(struct lq_pipeline *p, unsigned long *n, unsigned long max)
{
	unsigned long c = atomic_load(&p->claimed), put, k;

	while (c < (put = atomic_load(&p->put))) {
		k = put - c < max ? put - c : max;
		if (atomic_compare_exchange_weak(&p->claimed, &c, c + k)) {
			*n = c;
			return k;
		}
	}
	return 0;
}

/* Load the run of k messages from n, claimed by this thread. */
static void
load_run(struct lq_pipeline *p, unsigned long n, unsigned long k, struct lq_buf *scratch,
    int by_worker)
{
	for (unsigned long j = 0; j < k; j++)
		load(p, n + j, scratch, by_worker);
}

/* Should a worker leave? At the end of the scan, or (warm) when its table is out of date. */
static inline int
leaving(struct lq_pipeline *p)
{
	return atomic_load(&p->stop) || atomic_load(&p->retire);
}

/*
 * The calling thread's own copy of the process's credentials. Every open takes a reference
 * on the opener's credentials and every close drops it, so threads sharing one copy pass
 * its counter between the cores at each (measured on two cores: two threads opening and
 * reading 100,000 cached files, each with a descriptor table of its own, cost 8% more CPU
 * than one thread reading them all; with a copy each, 0-4%, as two processes do). Setting
 * the keep-capabilities flag to what it is makes the kernel give the thread a copy and
 * changes nothing else; where that is refused, the thread shares the process's.
 */
static void
own_credentials(void)
{
	int keep = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);

	if (keep >= 0)
		(void)prctl(PR_SET_KEEPCAPS, keep, 0, 0, 0);
}

static void *
worker(void *arg)
{
	struct lq_pipeline *p = arg;
	struct lq_buf scratch[LQ_SLOT_BUFS] = { 0 };
	unsigned long n;

	own_credentials();
	while (!leaving(p)) {
		unsigned long k;
		int spins;

		if ((k = claim(p, &n, p->run)) != 0) {
			load_run(p, n, k, scratch, 1);
			continue;
		}
		for (spins = 0; spins < WORKER_SPINS && !leaving(p) &&
		    atomic_load(&p->claimed) >= atomic_load(&p->put); spins++)
			relax();
		if (spins < WORKER_SPINS)
			continue;
		pthread_mutex_lock(&p->mu);
		atomic_fetch_add(&p->idle, 1);
		if (atomic_load(&p->scan_waits))	/* (load says why) */
			pthread_cond_signal(&p->done);
		while (!leaving(p) && atomic_load(&p->claimed) >= atomic_load(&p->put))
			pthread_cond_wait(&p->work, &p->mu);
		atomic_fetch_sub(&p->idle, 1);
		pthread_mutex_unlock(&p->mu);
	}
	free_bufs(scratch);
	return NULL;
}

/* Does this thread have a descriptor table of its own (a warm worker's)? */
static _Thread_local int own_fd_table;

int
lq_private_fds(void)
{
	return own_fd_table;
}

int
lq_not_here(struct lq_err *err, const char *what)
{
	lq_err_set(err, LQ_ESYS, "%s: not among this thread's descriptors", what);
	return LQ_NOT_HERE;
}

/*
 * A warm worker: a worker with a copy of the process's descriptor table, taken before it
 * loads anything. Threads that share one table serialise on it: every open and close takes
 * its lock, every use of a descriptor counts a reference the other core then has to fetch
 * (measured on two cores: two threads opening and reading 100,000 cached files cost 20%
 * more CPU than one thread reading them all; with a table each, 6%). The copy holds every
 * descriptor the scan thread had open then, at the same numbers, so a load uses the
 * directories an item names as the scan thread would; what the scan thread opens later is
 * not in it: hence lq_pipeline_new_dir, and a load that would open a directory for the whole
 * scan asks lq_private_fds first (its descriptor would be this thread's only). If the copy
 * cannot be made, the worker shares the table, as cold workers do. Not under
 * ThreadSanitizer: it keeps one table of descriptors for the whole process, and two threads
 * using the same number for different files would look like a race to it.
 */
static void *
private_worker(void *arg)
{
	struct lq_pipeline *p = arg;

#ifndef LQ_TSAN
	own_fd_table = unshare(CLONE_FILES) == 0;
#endif
	pthread_mutex_lock(&p->mu);
	own_set = ++p->ready;
	pthread_cond_signal(&p->readied);
	pthread_mutex_unlock(&p->mu);
	return worker(arg);
}

/*
 * Workers asleep on work woken, after the scan thread stored put. A worker going idle
 * increments idle before it looks at put; without a fence between the store of put and
 * the look at idle here, each can miss the other's. Cold, the fence is there, so that no
 * worker sleeps through a batch while the scan thread waits on the disk. Warm, where this
 * runs at nearly every put and a fence each time costs more, such a worker is seen at a
 * later put, within a batch of them, and meanwhile the scan thread loads what is put.
 */
static void
wake_workers(struct lq_pipeline *p)
{
	if (p->is_cold)
		atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&p->idle, memory_order_relaxed) == 0)
		return;
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static void
free_slots(struct lq_pipeline *p)
{
	for (size_t i = 0; p->slots != NULL && i < p->nall; i++) {
		lq_arena_free(p->slots[i].arena);
		free_bufs(p->slots[i].buf);
	}
	free_bufs(p->scratch);
	free(p->slots);
	free(p->st);
	free(p->items);
	free(p->tid);
}

/* The workers told to leave (*flag: stop, or retire) once the run each is loading is done,
 * and joined. */
static void
join_workers(struct lq_pipeline *p, _Atomic int *flag)
{
	pthread_mutex_lock(&p->mu);
	atomic_store(flag, 1);
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->tid[i], NULL);
	p->nthreads = 0;
}

/* The warm workers leave, to be started again. */
static void
retire_workers(struct lq_pipeline *p)
{
	join_workers(p, &p->retire);
	atomic_store(&p->retire, 0);
	p->ready = 0;
}

/* Warm workers, each with a copy of the descriptor table as it is now: the put that starts
 * them waits until every copy is made, so that the directory of the message it puts is in
 * them. */
static void
start_warm_workers(struct lq_pipeline *p)
{
	p->warm_due = 0;
	p->nthreads = threads_start(p->tid, 0, p->warm_threads, private_worker, p);
	pthread_mutex_lock(&p->mu);
	while (p->ready < p->nthreads)
		pthread_cond_wait(&p->readied, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/* A cold queue: as many workers as jobs allow, so that many reads are in flight, and the
 * window they need; they share the table (a disk read costs far more than the table's
 * lock, and so many copies would each hold every directory). The ring is empty (the slot
 * of a message depends on the window). */
static void
set_cold(struct lq_pipeline *p)
{
	if (p->nthreads > 0 && p->warm_threads > 0)
		retire_workers(p);
	p->warm_threads = 0;
	p->warm_due = 0;
	p->is_cold = 1;
	p->window = p->cold_window;
	p->batch = p->window / 4;
	p->run = 1;
	p->nthreads = threads_start(p->tid, p->nthreads, p->cold_threads, worker, p);
}

/* n zeroed objects of size bytes (a multiple of align), aligned to align; NULL if none */
static void *
zalloc_aligned(size_t align, size_t n, size_t size)
{
	void *v;

	if (n > SIZE_MAX / size || (v = aligned_alloc(align, n * size)) == NULL)
		return NULL;
	return memset(v, 0, n * size);
}

/* How many cores this process may run on (its affinity mask); 1 when it cannot be told. */
static unsigned
usable_cores(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof set, &set) < 0 || (n = CPU_COUNT(&set)) < 1)
		return 1;
	return (unsigned)n;
}

void
lq_pipeline_new_dir(struct lq_pipeline *p)
{
	if (p == NULL || p->warm_threads == 0)
		return;
	if (p->nthreads > 0)
		retire_workers(p);
	p->warm_due = 1;
}

struct lq_pipeline *
lq_pipeline_start(struct lq_spool *sp, const struct lq_pipeline_ops *ops, void *arg)
{
	unsigned want = sp->jobs > 1 ? sp->jobs - 1 : 0, budget, cores;
	struct lq_pipeline *p;

	if (want == 0 || (budget = lq_threads_fd_budget(want)) == 0)
		return NULL;
	if ((p = zalloc_aligned(_Alignof(struct lq_pipeline), 1, sizeof *p)) == NULL)
		return NULL;
	p->sp = sp;
	p->ops = ops;
	p->arg = arg;
	p->cold_window = (size_t)sp->jobs * AHEAD_PER_JOB;
	p->cold_threads = budget;
	cores = usable_cores();
	p->warm_threads = cores - 1 < budget ? cores - 1 : budget;
	if (p->warm_threads > MAX_WARM)
		p->warm_threads = MAX_WARM;
	p->nslots = p->cold_window > WARM_WINDOW ? p->cold_window : WARM_WINDOW;
	p->nall = p->nslots + p->warm_threads * WARM_WINDOW;
	if ((p->slots = calloc(p->nall, sizeof *p->slots)) == NULL ||
	    (p->st = zalloc_aligned(_Alignof(struct slot_state), p->nslots, sizeof *p->st)) ==
	    NULL ||
	    (p->items = calloc(p->nslots, ops->item_size)) == NULL ||
	    (p->tid = calloc(budget, sizeof *p->tid)) == NULL ||
	    pthread_mutex_init(&p->mu, NULL) != 0) {
		free_slots(p);
		free(p);
		return NULL;
	}
	for (size_t i = 0; i < p->nall; i++)
		if ((p->slots[i].arena = lq_arena_new()) == NULL) {
			pthread_mutex_destroy(&p->mu);
			free_slots(p);
			free(p);
			return NULL;
		}
	/* not pthread_cond_init: libfaketime (the tests' clock) wraps it, and a stat() the
	 * scan makes after it came out unfaked */
	p->work = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	p->done = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	p->readied = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	p->inblock = process_inblock();
	p->cold_known = p->inblock >= 0;
	p->next_check = CHECK_EVERY;
	/* always (23-jobs.t, whose queues are cached): what a cold queue gets. Warm: a worker
	 * per other core, started at the first put; on one core, the scan thread loads alone */
	if (sp->readahead == LQ_READAHEAD_ALWAYS || !p->cold_known) {
		set_cold(p);
	} else if (p->warm_threads > 0) {
		p->window = WARM_WINDOW;
		p->warm_due = 1;
	} else {
		p->window = ALONE_WINDOW;
	}
	p->batch = p->window / 4;
	if (!p->is_cold)
		p->run = p->window / 4;
	return p;
}

/* Has the scan been reading from the disk? Then it grows (lq_pipeline_put, with the ring
 * emptied first). */
static void
check_cold(struct lq_pipeline *p)
{
	long now;

	p->next_check = p->taken + CHECK_EVERY;
	if (!p->cold_known || p->is_cold)
		return;
	now = process_inblock();
	p->cold = now > p->inblock + COLD_BLOCKS ? p->cold + 1 : 0;
	p->inblock = now;
	p->grow = p->cold >= COLD_WINDOWS;
}

/* Wait for message n, being loaded by a worker, to be done. */
static void
wait_done(struct lq_pipeline *p, struct slot_state *s)
{
	for (int spins = 0; spins < SPINS; spins++) {
		if (atomic_load_explicit(&s->state, memory_order_acquire) == SLOT_DONE)
			return;
		relax();
	}
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->scan_waits, 1);
	while (atomic_load(&s->state) != SLOT_DONE)
		pthread_cond_wait(&p->done, &p->mu);
	atomic_store(&p->scan_waits, 0);
	pthread_mutex_unlock(&p->mu);
}

/*
 * Message n + 1, if a worker loaded it, asked for ahead of its handover: the worker wrote
 * it, so its lines are in the other core's cache, and the handover would wait for each in
 * turn. Its message and the start of its arena, not more: a core fetches some ten lines at
 * once, and asking for more stalls the handover in between (measured, 100,000 cached
 * messages, qls: 1-1.5% less CPU on Postfix, up to 1% on qmail; twice as many bytes, or
 * two messages ahead, gain nothing).
 */
static void
prefetch_next(struct lq_pipeline *p, unsigned long n)
{
	struct slot_state *s = &p->st[(n + 1) % p->window];
	size_t len;

	if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_DONE ||
	    !s->by_worker || s->m == NULL)
		return;
	for (size_t o = 0; o < sizeof *s->m; o += 64)
		__builtin_prefetch((const char *)s->m + o);
	len = s->len < PREFETCH_BYTES ? s->len : PREFETCH_BYTES;
	for (size_t o = 0; o < len; o += 64)
		__builtin_prefetch(s->data + o);
}

/* Hand over the oldest message: the backend's handover's return (non-zero: stop). */
static int
take(struct lq_pipeline *p, struct lq_err *err)
{
	unsigned long n = p->taken, c;
	size_t i = n % p->window;
	struct slot_state *s = &p->st[i];
	struct lq_slot *slot;
	const void *item = p->items + i * p->ops->item_size;
	int rc;

	/* while it is not done, load the oldest message nobody took yet: the scan thread
	 * is a worker too, and waits only when every message put is being loaded */
	while (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_DONE) {
		unsigned long k = claim(p, &c, p->run);

		if (k != 0)
			load_run(p, c, k, p->scratch, 0);
		else
			wait_done(p, s);
	}
	slot = s->slot;
	if (s->rc < 0 && s->by_worker && s->err.code != LQ_ENOENT) {
		trim(slot->buf);
		slot = s->slot = &p->slots[i];	/* the scan thread's: nothing else is in it */
		s->m = NULL;
		s->rc = p->ops->load(p->sp, item, slot, p->scratch, &s->m, &s->err);
		trim(p->scratch);
	}
	prefetch_next(p, n);
	rc = p->ops->handover(p->arg, item, s->rc < 0 ? NULL : s->m, &s->err, err);
	trim(slot->buf);
	atomic_store_explicit(&s->state, SLOT_FREE, memory_order_relaxed);
	p->taken++;
	if (p->taken >= p->next_check)
		check_cold(p);
	return rc;
}

int
lq_pipeline_put(struct lq_pipeline *p, const void *item, struct lq_err *err)
{
	unsigned long n = p->taken + p->window;
	size_t i;
	int rc;

	if (p->grow) {
		if ((rc = lq_pipeline_finish(p, err)) != 0)
			return rc;
		p->grow = 0;
		set_cold(p);
	} else if (atomic_load(&p->put) == n && (rc = take(p, err)) != 0)
		return rc;
	if (p->warm_due)
		start_warm_workers(p);
	n = atomic_load(&p->put);
	i = n % p->window;
	memcpy(p->items + i * p->ops->item_size, item, p->ops->item_size);
	atomic_store_explicit(&p->put, n + 1, memory_order_release);
	if (n + 1 - atomic_load(&p->claimed) >= p->batch)
		wake_workers(p);
	return 0;
}

int
lq_pipeline_finish(struct lq_pipeline *p, struct lq_err *err)
{
	int rc = 0;

	wake_workers(p);
	while (rc == 0 && p->taken < atomic_load(&p->put))
		rc = take(p, err);
	return rc;
}

void
lq_pipeline_stop(struct lq_pipeline *p)
{
	if (p == NULL)
		return;
	join_workers(p, &p->stop);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->readied);
	pthread_mutex_destroy(&p->mu);
	free_slots(p);
	free(p);
}

struct lq_msg *
lq_slot_begin(struct lq_spool *sp, struct lq_slot *slot)
{
	lq_arena_reset(slot->arena);
	return lq_msg_init(sp, &slot->msg, slot->arena);
}
