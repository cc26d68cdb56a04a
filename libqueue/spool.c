/*
 * spool.c -- open a spool: find where it is, which MTA wrote it, and hand every call on
 * to that MTA's backend.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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

static const struct lq_backend *
backend_of(enum lq_mta mta)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i]->mta == mta)
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
		be = backend_of(mta);
	for (size_t i = 0; be == NULL && i < NBACKENDS; i++)
		if (backends[i]->detect(fd))
			be = backends[i];
	if (be == NULL) {
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

int
lq_valid_id(const struct lq_spool *sp, const char *id)
{
	return id != NULL && strlen(id) <= LQ_ID_MAX && sp->be->valid_id(id);
}

struct lq_msg *
lq_msg_begin(struct lq_spool *sp)
{
	struct lq_msg *m = &sp->msg;

	lq_arena_reset(sp->arena);
	memset(m, 0, sizeof *m);
	m->mta = sp->be->mta;
	m->arena = sp->arena;
	m->arrival_usec = -1;
	m->sender = "";
	return m;
}

int
lq_scan(struct lq_spool *sp, struct lq_scan *sc, struct lq_err *err)
{
	sc->seen = sc->vanished = sc->bad = 0;
	return sp->be->scan(sp, sc, err);
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
	if (sp->be->load(sp, id, flags, m, err) < 0)
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
lq_write_listing(FILE *out, const struct lq_msg *m, unsigned flags, time_t now)
{
	return backend_of(m->mta)->write_listing(out, m, flags, now);
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
	    sp->be->mta == LQ_MTA_EXIM ? "frozen" : "on hold", c.frozen);
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
		return m->mta == LQ_MTA_EXIM ? "frozen" : "hold";
	if (m->flags & LQ_MSG_BOUNCING)
		return "bouncing";
	if (m->mta == LQ_MTA_POSTFIX && m->queue != NULL)
		return m->queue;
	return "queued";
}

int
lq_act(struct lq_spool *sp, const char *id, enum lq_action act, struct lq_select *sel,
    const struct lq_act_opts *o, struct lq_msg **mp, struct lq_err *err)
{
	if (!lq_valid_id(sp, id))
		return lq_err_set(err, LQ_EBADID, "%s: not a valid %s queue ID", id,
		    sp->be->name);
	if (sp->be->act == NULL)
		return lq_err_set(err, LQ_EUSAGE, "%s: changing the queue is not supported yet",
		    sp->be->name);
	return sp->be->act(sp, id, act, sel, o, mp, err);
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
	int fd;

	if (path == NULL && (sp->be->log_path == NULL || (def = sp->be->log_path(sp)) == NULL))
		return lq_err_set(err, LQ_ENOENT, "no log");
	fd = open(path ? path : def, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (path != NULL)
			lq_err_sys(err, "%s", path);
		else
			lq_err_set(err, LQ_ENOENT, "no log");
	}
	free(def);
	return fd;
}
