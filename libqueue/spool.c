/*
 * spool.c -- open a spool: find where it is, which MTA wrote it, and hand every call on
 * to that MTA's backend.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

static const struct lq_backend *const backends[] = {
	&lq_exim_backend,
	&lq_postfix_backend,
	&lq_qmail_backend,
};
#define NBACKENDS (sizeof backends / sizeof backends[0])

const char *
lq_mta_name(enum lq_mta mta)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i]->mta == mta)
			return backends[i]->name;
	return "any";
}

int
lq_mta_from_name(const char *s, enum lq_mta *mta)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (strcasecmp(s, backends[i]->name) == 0) {
			*mta = backends[i]->mta;
			return 0;
		}
	return -1;
}

const struct lq_backend *
lq_backend_of(enum lq_mta mta)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i]->mta == mta)
			return backends[i];
	return NULL;
}

/* The MTA whose layout the directory has, or NULL. */
static const struct lq_backend *
detect(int dirfd)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i]->detect(dirfd))
			return backends[i];
	return NULL;
}

/* Without a directory: the first MTA whose own setting names an existing directory. */
static char *
default_dir(const struct lq_backend **be, enum lq_mta mta)
{
	struct stat st;
	char *dir;

	for (size_t i = 0; i < NBACKENDS; i++) {
		if (mta != LQ_MTA_ANY && backends[i]->mta != mta)
			continue;
		dir = backends[i]->default_dir();
		if (dir != NULL && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
			*be = backends[i];
			return dir;
		}
		free(dir);
	}
	return NULL;
}

struct lq_spool *
lq_spool_open(const char *dir, enum lq_mta mta, const char *queue, struct lq_err *err)
{
	const struct lq_backend *be = NULL;
	struct lq_spool *sp;
	char *path;
	int fd;

	if (dir != NULL)
		path = strdup(dir);
	else if ((path = default_dir(&be, mta)) == NULL) {
		lq_err_set(err, LQ_ENOENT, "no %s spool found: give one with --spool",
		    mta == LQ_MTA_ANY ? "mail" : lq_mta_name(mta));
		return NULL;
	}
	if (path == NULL) {
		lq_err_set(err, LQ_ENOMEM, "out of memory");
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		lq_err_sys(err, "%s", path);
		free(path);
		return NULL;
	}
	if (be == NULL && mta != LQ_MTA_ANY)
		be = lq_backend_of(mta);
	if (be != NULL && !be->detect(fd)) {	/* --mta, or the MTA's setting */
		const struct lq_backend *is = detect(fd);

		lq_err_set(err, LQ_EUSAGE, "%s: not a spool of %s (%s%s)", path, be->name,
		    is ? "it is laid out as one of " : "it has the layout of none of exim, "
		    "postfix, qmail", is ? is->name : "");
		close(fd);
		free(path);
		return NULL;
	}
	if (be == NULL && (be = detect(fd)) == NULL) {
		lq_err_set(err, LQ_EUSAGE,
		    "%s: not an Exim, Postfix or qmail spool (use --mta to say which)", path);
		close(fd);
		free(path);
		return NULL;
	}
	if ((sp = calloc(1, sizeof *sp)) == NULL || (sp->arena = lq_arena_new()) == NULL ||
	    (queue != NULL && (sp->queue = strdup(queue)) == NULL)) {
		lq_err_set(err, LQ_ENOMEM, "out of memory");
		if (sp != NULL)
			lq_arena_free(sp->arena);
		free(sp);
		close(fd);
		free(path);
		return NULL;
	}
	sp->be = be;
	sp->jobs = 1;
	sp->dir = path;
	sp->dirfd = fd;
	if (be->open(sp, err) < 0) {
		lq_spool_close(sp);
		return NULL;
	}
	return sp;
}

void
lq_spool_close(struct lq_spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->be != NULL && sp->priv != NULL)
		sp->be->close(sp);
	lq_arena_free(sp->arena);
	close(sp->dirfd);
	free(sp->queue);
	free(sp->dir);
	free(sp);
}

enum lq_mta
lq_spool_mta(const struct lq_spool *sp)
{
	return sp->be->mta;
}

const char *
lq_spool_dir(const struct lq_spool *sp)
{
	return sp->dir;
}

const char *const *
lq_spool_queues(const struct lq_spool *sp)
{
	return sp->be->queues(sp);
}

/* What lq_state_name says of a message of this spool in queue q with flags f. */
static const char *
state_of(const struct lq_spool *sp, const char *q, unsigned f)
{
	struct lq_msg m = { .mta = sp->be->mta, .queue = q, .flags = f };

	return lq_state_name(&m);
}

#define NAMES_MAX 32

/* The spool's queue names, then the states its messages can be in, each once. */
static size_t
known_names(const struct lq_spool *sp, const char *names[NAMES_MAX])
{
	static const unsigned flags[] = { 0, LQ_MSG_ACTIVE, LQ_MSG_UNPROCESSED, LQ_MSG_FROZEN,
		LQ_MSG_BOUNCING };
	const char *const *qs = lq_spool_queues(sp);
	size_t n = 0;

	for (const char *const *q = qs; *q != NULL && n < NAMES_MAX; q++)
		names[n++] = *q;
	for (const char *const *q = qs; *q != NULL; q++)
		for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
			const char *st;
			size_t i;

			if (flags[f] != 0 && !(flags[f] & sp->be->state_flags))
				continue;
			st = state_of(sp, *q, flags[f]);
			for (i = 0; i < n && strcmp(names[i], st) != 0; i++)
				;
			if (i == n && n < NAMES_MAX)
				names[n++] = st;
		}
	return n;
}

int
lq_spool_check_names(const struct lq_spool *sp, const char *list, struct lq_err *err)
{
	const char *names[NAMES_MAX];
	size_t nnames = known_names(sp, names);
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, ","), i, cut = n > 80 ? 80 : n;
		char known[256];
		int k = 0;

		for (i = 0; n > 0 && i < nnames; i++)
			if (strlen(names[i]) == n && strncasecmp(names[i], p, n) == 0)
				break;
		if (n > 0 && i == nnames) {
			for (i = 0; i < nnames && k >= 0 && (size_t)k < sizeof known; i++)
				k += snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "",
				    names[i]);
			return lq_err_set(err, LQ_EUSAGE,
			    "%.*s%s: no queue or state of that name on this %s spool (there are: %s)",
			    (int)cut, p, cut < n ? "..." : "", sp->be->name, known);
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

int
lq_valid_id(const struct lq_spool *sp, const char *id)
{
	return id != NULL && strlen(id) <= LQ_ID_MAX && sp->be->valid_id(id);
}

struct lq_msg *
lq_msg_init(const struct lq_spool *sp, struct lq_msg *m, struct lq_arena *arena)
{
	memset(m, 0, sizeof *m);
	m->mta = sp->be->mta;
	m->arena = arena;
	m->arrival_usec = -1;
	m->sender = "";
	return m;
}

struct lq_msg *
lq_msg_begin(struct lq_spool *sp)
{
	lq_arena_reset(sp->arena);
	return lq_msg_init(sp, &sp->msg, sp->arena);
}

int
lq_spool_set_jobs(struct lq_spool *sp, long jobs, struct lq_err *err)
{
	if (jobs < LQ_JOBS_MIN || jobs > LQ_JOBS_MAX)
		return lq_err_set(err, LQ_EUSAGE, "%ld: not a number of jobs from %d to %d", jobs,
		    LQ_JOBS_MIN, LQ_JOBS_MAX);
	sp->jobs = (unsigned)jobs;
	return 0;
}

void
lq_spool_set_readahead(struct lq_spool *sp, enum lq_readahead when)
{
	sp->readahead = when;
}

/* The caller's scan, as the backend calls it: notes whether the callback stopped it. */
struct scan_stop {
	struct lq_scan *sc;
	int stopped;
};

static int
scan_each(struct lq_msg *m, void *arg)
{
	struct scan_stop *s = arg;
	int rc = s->sc->each(m, s->sc->arg);

	s->stopped |= rc != 0;
	return rc;
}

static void
scan_problem(const char *id, const struct lq_err *e, void *arg)
{
	struct scan_stop *s = arg;

	s->sc->problem(id, e, s->sc->arg);
}

/* A callback that stops the scan makes it return 1, whatever it returned: -1 says that the
 * scan itself failed, with err set, and a caller must never print an err nobody set. */
/* What the backends see: LQ_SCAN_REASONS wins over LQ_SCAN_NO_REASONS. */
static unsigned
backend_flags(unsigned flags)
{
	return (flags & LQ_SCAN_REASONS) ? flags & ~(unsigned)LQ_SCAN_NO_REASONS : flags;
}

int
lq_scan(struct lq_spool *sp, struct lq_scan *sc, struct lq_err *err)
{
	struct scan_stop s = { sc, 0 };
	struct lq_scan in = { .flags = backend_flags(sc->flags), .each = scan_each,
	    .problem = sc->problem ? scan_problem : NULL, .arg = &s };
	int rc = sp->be->scan(sp, &in, err);

	sc->seen = in.seen;
	sc->vanished = in.vanished;
	sc->bad = in.bad;
	sc->unfinished = in.unfinished;
	return s.stopped ? 1 : rc;
}

int
lq_load(struct lq_spool *sp, const char *id, unsigned flags, struct lq_msg **mp,
    struct lq_err *err)
{
	struct lq_msg *m;

	if (!lq_valid_id(sp, id))
		return lq_err_set(err, LQ_EBADID, "%s: not a valid %s queue ID", id,
		    sp->be->name);
	m = lq_msg_begin(sp);
	if (sp->be->load(sp, id, backend_flags(flags), m, err) < 0)
		return -1;
	*mp = m;
	return 0;
}

int
lq_read(struct lq_spool *sp, struct lq_msg *m, unsigned parts, lq_part_fn fn, void *arg,
    struct lq_err *err)
{
	return sp->be->read(sp, m, parts, fn, arg, err);
}

int
lq_write_envelope(struct lq_spool *sp, struct lq_msg *m, FILE *out, struct lq_err *err)
{
	return sp->be->write_envelope(sp, m, out, err);
}

int
lq_write_view(struct lq_spool *sp, struct lq_msg *m, unsigned sections, FILE *out,
    struct lq_err *err)
{
	if (sp->be->write_view == NULL)
		return 1;
	return sp->be->write_view(sp, m, sections, out, err);
}

int
lq_write_log(struct lq_spool *sp, struct lq_msg *m, FILE *out, struct lq_err *err)
{
	if (sp->be->write_log == NULL)
		return lq_err_set(err, LQ_EUSAGE, "%s keeps no per-message log", sp->be->name);
	return sp->be->write_log(sp, m, out, err);
}

/* One lock of the stream per message, not one per character: once a scan has started its
 * loading threads (pipeline.c), the C library locks a stream at every call. */
int
lq_write_listing(FILE *out, const struct lq_msg *m, unsigned flags, time_t now)
{
	int rc;

	flockfile(out);
	rc = lq_backend_of(m->mta)->write_listing(out, m, flags, now);
	funlockfile(out);
	return rc;
}

int
lq_write_listing_head(FILE *out, const struct lq_spool *sp)
{
	return sp->be->write_listing_head ? sp->be->write_listing_head(out, sp) : 0;
}

int
lq_write_listing_tail(FILE *out, const struct lq_spool *sp, unsigned long n, int64_t bytes)
{
	return sp->be->write_listing_tail ? sp->be->write_listing_tail(out, sp, n, bytes) : 0;
}

struct stat_count {
	unsigned long n, frozen;
};

static int
stat_count_one(struct lq_msg *m, void *arg)
{
	struct stat_count *c = arg;

	c->n++;
	c->frozen += (m->flags & LQ_MSG_FROZEN) != 0;
	return 0;
}

/* Without a native statistics tool: qmail-qstat's two lines, counted by a scan (a message
 * that cannot be read is still in the queue). */
static int
stat_by_scan(FILE *out, struct lq_spool *sp, struct lq_err *err)
{
	struct stat_count c = { 0, 0 };
	struct lq_scan sc = { .flags = LQ_SCAN_UNSORTED, .each = stat_count_one, .arg = &c };

	if (lq_scan(sp, &sc, err) < 0)
		return -1;
	fprintf(out, "messages in queue: %lu\nmessages in queue but %s: %lu\n", c.n + sc.bad,
	    sp->be->frozen_said, c.frozen);
	return ferror(out) ? lq_err_sys(err, "writing the statistics") : 0;
}

int
lq_write_stat(FILE *out, struct lq_spool *sp, struct lq_err *err)
{
	if (sp->be->write_stat != NULL)
		return sp->be->write_stat(out, sp, err);
	if (sp->be->scan != NULL)
		return stat_by_scan(out, sp, err);
	return lq_err_set(err, LQ_EUSAGE, "%s: queue statistics are not supported for %s",
	    sp->dir, sp->be->name);
}

const char *
lq_state_name(const struct lq_msg *m)
{
	if (m->flags & LQ_MSG_ACTIVE)
		return "active";
	if (m->flags & LQ_MSG_UNPROCESSED)
		return "todo";
	if (m->flags & LQ_MSG_FROZEN)
		return lq_backend_of(m->mta)->frozen_state;
	if (m->flags & LQ_MSG_BOUNCING)
		return "bouncing";
	if (lq_backend_of(m->mta)->queue_is_state && m->queue != NULL)
		return m->queue;
	return "queued";
}

unsigned
lq_listing_scanflags(const struct lq_spool *sp)
{
	return sp->be->listing_reasons ? 0 : LQ_SCAN_NO_REASONS;
}

const char *
lq_spool_shape_queues(const struct lq_spool *sp)
{
	return sp->be->shape_queues;
}

static int
is_program(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int
lq_find_program(const char *prog, struct lq_err *err)
{
	const char *path = getenv("PATH"), *p;
	char full[PATH_MAX];

	if (strchr(prog, '/') != NULL) {
		if (is_program(prog))
			return 0;
		return lq_err_set(err, access(prog, F_OK) == 0 ? LQ_EUSAGE : LQ_ENOENT, "%s: %s",
		    prog, access(prog, F_OK) == 0 ? "not an executable file" : "not found");
	}
	for (p = path ? path : "/usr/local/bin:/usr/bin:/bin"; ; p++) {
		size_t n = strcspn(p, ":");

		if ((size_t)snprintf(full, sizeof full, "%.*s%s%s", (int)n, p, n ? "/" : "",
		    prog) < sizeof full && is_program(full))
			return 0;
		p += n;
		if (*p == '\0')
			break;
	}
	return lq_err_set(err, LQ_ENOENT, "%s: not found", prog);
}

int
lq_spool_is(const struct lq_spool *sp, const char *dir)
{
	struct stat a, b;

	return dir != NULL && dir[0] == '/' && stat(dir, &a) == 0 && fstat(sp->dirfd, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int
lq_run_argv(struct lq_spool *sp, const char *mta_path, const char *const *ids, size_t n,
    const char **argv, size_t max, struct lq_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (!lq_valid_id(sp, ids[i]))
			return lq_err_set(err, LQ_EBADID, "%s: not a valid %s queue ID", ids[i],
			    sp->be->name);
	if (sp->be->run_argv == NULL)
		return lq_err_set(err, LQ_EUSAGE, "%s: delivering now is not supported yet",
		    sp->be->name);
	return sp->be->run_argv(sp, mta_path, ids, n, argv, max, err);
}

int
lq_act_needs_run(const struct lq_spool *sp)
{
	return sp->run_needed;
}

int
lq_spool_owner(struct lq_spool *sp, struct lq_owner *o, struct lq_err *err)
{
	memset(o, 0, sizeof *o);
	if (sp->be->owner == NULL)
		return lq_err_set(err, LQ_EUSAGE, "%s: which user owns a %s spool is not known",
		    sp->dir, sp->be->name);
	return sp->be->owner(sp, o, err);
}

int
lq_open_mta_log(struct lq_spool *sp, const char *path, struct lq_err *err)
{
	char *def = NULL;
	const char *p;
	struct stat st;
	int fd, regular;

	if (path == NULL && (sp->be->log_path == NULL || (def = sp->be->log_path(sp)) == NULL))
		return lq_err_set(err, LQ_ENOENT, "no log");
	p = path ? path : def;
	/* O_NONBLOCK: a FIFO must never hang the tool (one without a reader fails at once) */
	fd = open(p, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	regular = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (regular)
		(void)fcntl(fd, F_SETFL, O_APPEND);
	else if (path == NULL)
		lq_err_set(err, LQ_ENOENT, "no log");
	else if (fd >= 0 || errno == ENXIO)
		lq_err_set(err, LQ_EUSAGE, "%s: not a regular file", path);
	else if (errno == ENOENT)
		lq_err_set(err, LQ_EUSAGE, "%s: no such file (the MTA's log is appended to, never "
		    "created)", path);
	else
		lq_err_sys(err, "%s", path);
	if (fd >= 0 && !regular) {
		close(fd);
		fd = -1;
	}
	free(def);
	return fd;
}
