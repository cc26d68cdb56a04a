/*
 * act.c -- the one acting sequence (lq_act), for every MTA: the backends supply its steps
 * (struct lq_backend, act_*), this file their order and the rules between them. Also the one
 * --save copier (lq_save_dir, lq_save_file) and the recipient arrays' one ceiling.
 *
 * The rules, in the order they are applied (libqueue/README, "Acting"):
 *   - the lock is taken without waiting: a message being delivered is skipped;
 *   - the message is read again under the lock, and the selection checked again on what was
 *     read: the queue moves and IDs are reused between the scan and the act;
 *   - a message the selection cannot judge (an unreadable body, a regex engine error) is
 *     left alone, whatever -v says;
 *   - a damaged message is removed only by ID with no selection (exim -Mrm, postsuper -d);
 *   - a dry run stops just before the copy and the change, so its verdict is the real one.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

static int is_edit(enum lq_action);
static int edit_verdict(const struct lq_msg *, enum lq_action, const struct lq_act_opts *,
    struct lq_act_opts *, struct lq_err *);

#define SAVED_MAX 16		/* files one message has, at most: Postfix's 4, qmail's 7 */

struct lq_saver {
	int dirfd;		/* the save directory */
	const char *id;		/* for messages */
	struct {		/* the files this act made, taken back if a later one fails */
		int dirfd;
		char name[LQ_ID_MAX + 8];
	} made[SAVED_MAX];
	size_t nmade;
};

/* A --save that failed halfway: the copies made so far go, so that a retry into the same
 * directory is not stopped by them (a copy never overwrites). */
static void
save_undo(struct lq_saver *sv)
{
	while (sv->nmade > 0) {
		sv->nmade--;
		unlinkat(sv->made[sv->nmade].dirfd, sv->made[sv->nmade].name, 0);
		close(sv->made[sv->nmade].dirfd);
	}
}

static void
save_done(struct lq_saver *sv)
{
	while (sv->nmade > 0)
		close(sv->made[--sv->nmade].dirfd);
}

int
lq_act(struct lq_spool *sp, const char *id, enum lq_action act, struct lq_select *sel,
    const struct lq_act_opts *o, struct lq_msg **mp, struct lq_err *err)
{
	const struct lq_backend *be = sp->be;
	struct lq_msg *m = lq_msg_begin(sp);
	int by_selection = sel != NULL && !lq_select_is_empty(sel);
	int damaged = 0, rc = -1, match;
	struct lq_act_opts eo;
	void *held = NULL;

	if (mp != NULL)
		*mp = m;
	if (err != NULL)
		err->code = LQ_OK;	/* a success may leave an LQ_NOTICE */
	if (lq_act_check(sp, act, o, err) < 0)
		return -1;
	if (!lq_valid_id(sp, id))
		return lq_err_set(err, LQ_EBADID, "%s: not a valid %s queue ID", id, be->name);
	if (be->act_lock == NULL)
		return lq_err_set(err, LQ_EUSAGE, "%s: changing the queue is not supported yet",
		    sp->dir);
	if (be->act_lock(sp, id, act, &held, err) < 0)
		goto out;
	if (be->act_reload(sp, held, m, err) < 0) {
		if (act != LQ_ACT_REMOVE || by_selection || !be->removes_damaged ||
		    err == NULL || err->code != LQ_ECORRUPT)
			goto out;
		damaged = 1;
	} else if (sel != NULL && (match = lq_select_match(sel, sp, m, err)) <= 0) {
		if (match == 0)
			lq_err_set(err, LQ_ENOMATCH, "%s: no longer matches: left alone", id);
		else
			lq_err_prefix(err, "%s: cannot tell whether it matches: left alone: ", id);
		goto out;
	}
	if (!damaged && be->act_refuse != NULL && be->act_refuse(sp, held, m, act, err) < 0)
		goto out;
	if (is_edit(act) && edit_verdict(m, act, o, &eo, err) < 0)
		goto out;
	if (o->dry_run) {
		rc = 0;
		goto out;
	}
	if ((act == LQ_ACT_REMOVE || is_edit(act)) && o->save_dirfd >= 0) {
		struct lq_saver sv = { .dirfd = o->save_dirfd, .id = id };

		if (be->act_save(sp, held, &sv, err) < 0) {
			save_undo(&sv);
			goto out;
		}
		save_done(&sv);
		fsync(sv.dirfd);
	}
	rc = be->act_apply(sp, held, damaged ? NULL : m, act, is_edit(act) ? &eo : o, err);
out:
	be->act_unlock(sp, held);
	return rc;
}

/* ---------------------------------------------------------------- the envelope actions */

static int
is_edit(enum lq_action act)
{
	return act == LQ_ACT_MARK_DELIVERED || act == LQ_ACT_MARK_ALL_DELIVERED ||
	    act == LQ_ACT_ADD_RECIPIENT || act == LQ_ACT_SET_SENDER;
}

/* One address as every MTA here stores it: one line, no space outside a quoted local
 * part, a domain after the last '@' (except the null sender, ""). */
static int
check_address(const char *a, int may_be_null, struct lq_err *err)
{
	const char *at = strrchr(a, '@');
	size_t n = strlen(a);
	int quoted = 0;

	if (n == 0 && may_be_null)
		return 0;
	if (n > LQ_ADDR_MAX)
		return lq_err_set(err, LQ_EUSAGE, "%.40s...: an address of %zu bytes, more than "
		    "the %d an address may have: nothing done", a, n, LQ_ADDR_MAX);
	for (const char *p = a; *p; p++) {
		unsigned char c = *p;

		if (c < 32 || c == 127)
			return lq_err_set(err, LQ_EUSAGE, "%.80s: an address with a control "
			    "character (byte %d): nothing done", a, c);
		if (c == '"')
			quoted = !quoted;
		else if (c == '\\' && quoted && p[1] != '\0')
			p++;
		else if ((c == ' ' || c == '<' || c == '>') && !quoted)
			return lq_err_set(err, LQ_EUSAGE, "%.80s: an address with '%c' outside "
			    "quotes: nothing done", a, c);
	}
	if (quoted)
		return lq_err_set(err, LQ_EUSAGE, "%.80s: an address with an unclosed quote: "
		    "nothing done", a);
	if (at == NULL || at == a || at[1] == '\0')
		return lq_err_set(err, LQ_EUSAGE, "%.80s: not an address local@domain: nothing "
		    "done", a);
	return 0;
}

int
lq_act_check(struct lq_spool *sp, enum lq_action act, const struct lq_act_opts *o,
    struct lq_err *err)
{
	if (!is_edit(act))
		return 0;
	if (sp->be->act_supports == NULL)
		return lq_err_set(err, LQ_EUSAGE, "%s: changing a message's envelope is not "
		    "supported on %s", sp->dir, sp->be->name);
	if (act != LQ_ACT_MARK_ALL_DELIVERED &&
	    (o->naddrs == 0 || (act == LQ_ACT_SET_SENDER && o->naddrs != 1)))
		return lq_err_set(err, LQ_EUSAGE, act == LQ_ACT_SET_SENDER ? "one sender "
		    "address, please" : "no address given");
	for (size_t i = 0; act != LQ_ACT_MARK_ALL_DELIVERED && i < o->naddrs; i++)
		if (check_address(o->addrs[i], act == LQ_ACT_SET_SENDER, err) < 0)
			return -1;
	return sp->be->act_supports(sp, act, o, err);
}

/* What m's recipients say of addr: 2 pending, 1 done only, 0 not a recipient. */
static int
rcpt_state(const struct lq_msg *m, const char *addr)
{
	int state = 0;

	for (size_t i = 0; i < m->nrcpt; i++)
		if (strcmp(m->rcpt[i].address, addr) == 0) {
			if (LQ_RCPT_PENDING(m->rcpt[i].flags))
				return 2;
			if (!(m->rcpt[i].flags & LQ_RCPT_LOGGED))
				state = 1;
		}
	return state;
}

/*
 * The same rules for every MTA, on the message as read under the lock: what is already so
 * is left out (LQ_EALREADY when that is everything, an LQ_NOTICE naming it otherwise); a
 * recipient to mark delivered must be one (exim -Mmd: "is not a recipient: message not
 * updated"). eo: o with only the addresses still to act on, in m's arena.
 */
static int
edit_verdict(const struct lq_msg *m, enum lq_action act, const struct lq_act_opts *o,
    struct lq_act_opts *eo, struct lq_err *err)
{
	const char **keep, *left_out = NULL;
	size_t nleft = 0, pending = 0;

	*eo = *o;
	if (act == LQ_ACT_SET_SENDER) {
		if (m->sender != NULL && strcmp(m->sender, o->addrs[0]) == 0)
			return lq_err_set(err, LQ_EALREADY, "%s: the sender is <%s> already: left "
			    "alone", m->id, o->addrs[0]);
		return 0;
	}
	if (act == LQ_ACT_MARK_ALL_DELIVERED) {
		for (size_t i = 0; i < m->nrcpt; i++)
			pending += LQ_RCPT_PENDING(m->rcpt[i].flags);
		if (pending == 0)
			return lq_err_set(err, LQ_EALREADY, "%s: no recipient left to deliver: "
			    "left alone", m->id);
		return 0;
	}
	if ((keep = lq_arena_alloc(m->arena, o->naddrs * sizeof *keep)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "%s: out of memory", m->id);
	eo->addrs = keep;
	eo->naddrs = 0;
	for (size_t i = 0; i < o->naddrs; i++) {
		const char *a = o->addrs[i];
		int state = rcpt_state(m, a), dup = 0;

		for (size_t j = 0; j < eo->naddrs; j++)
			dup |= strcmp(keep[j], a) == 0;
		if (act == LQ_ACT_MARK_DELIVERED && state == 0)
			return lq_err_set(err, LQ_EUSAGE, "%s: <%s> is not a recipient: message not "
			    "updated", m->id, a);
		if (dup)
			continue;
		if (act == LQ_ACT_ADD_RECIPIENT ? state == 2 : state == 1) {
			left_out = a;
			nleft++;
			continue;
		}
		keep[eo->naddrs++] = a;
	}
	if (eo->naddrs == 0)
		return lq_err_set(err, LQ_EALREADY, "%s: <%s>%s %s already: left alone", m->id,
		    left_out, nleft > 1 ? " and the others" : "", act == LQ_ACT_ADD_RECIPIENT ?
		    "a pending recipient" : "delivered");
	if (left_out != NULL)
		lq_err_set(err, LQ_NOTICE, "%s: <%s>%s %s already: left out", m->id, left_out,
		    nleft > 1 ? " and others" : "", act == LQ_ACT_ADD_RECIPIENT ?
		    "a pending recipient" : "delivered");
	return 0;
}

/* ---------------------------------------------------------------- --save */

/* The directories of rel up to its last '/' (all of them when it ends in '/'), made as
 * needed: the fd of the last one (a new fd), or -1 with err. */
static int
save_parent(struct lq_saver *sv, const char *rel, struct lq_err *err)
{
	char path[256], *p = path, *slash;
	int dfd, sub;

	if (strlen(rel) >= sizeof path)
		return lq_err_set(err, LQ_ELIMIT, "%s: --save: %s: path too long", sv->id, rel);
	snprintf(path, sizeof path, "%s", rel);
	if ((dfd = dup(sv->dirfd)) < 0)
		return lq_err_sys(err, "%s: --save", sv->id);
	while ((slash = strchr(p, '/')) != NULL) {
		*slash = '\0';
		if (mkdirat(dfd, p, 0750) < 0 && errno != EEXIST) {
			lq_err_sys(err, "%s: --save: making %s", sv->id, path);
			sub = -1;
		} else if ((sub = lq_open_dir(dfd, p, NULL)) < 0)
			lq_err_set(err, LQ_ECORRUPT, "%s: --save: %s: not a directory", sv->id,
			    path);
		close(dfd);
		if (sub < 0)
			return -1;
		dfd = sub;
		*slash = '/';
		p = slash + 1;
	}
	return dfd;
}

int
lq_save_dir(struct lq_saver *sv, const char *rel, struct lq_err *err)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "%s/", rel);
	if ((fd = save_parent(sv, path, err)) < 0)
		return -1;
	close(fd);
	return 0;
}

int
lq_save_file(struct lq_saver *sv, const char *rel, int in, const struct stat *st,
    struct lq_err *err)
{
	struct timespec t[2] = { st->st_atim, st->st_mtim };
	const char *name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	char buf[65536];
	off_t at = 0;
	ssize_t n;
	int dfd, out;

	if (sv->nmade == SAVED_MAX || strlen(name) >= sizeof sv->made[0].name)
		return lq_err_set(err, LQ_ELIMIT, "%s: --save: %s: more files than a message has",
		    sv->id, rel);
	if (st->st_size > LQ_SAVE_MAX)
		return lq_err_set(err, LQ_ELIMIT, "%s: --save: %s is %lld bytes, more than the "
		    "%lld that --save copies: nothing done", sv->id, rel, (long long)st->st_size,
		    (long long)LQ_SAVE_MAX);
	if ((dfd = save_parent(sv, rel, err)) < 0)
		return -1;
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		lq_err_sys(err, "%s: --save: %s", sv->id, rel);
		close(dfd);
		return -1;
	}
	while ((n = pread(in, buf, sizeof buf, at)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, buf, n) != n)
			goto fail;
		if ((at += n) > LQ_SAVE_MAX) {
			errno = EFBIG;	/* it grew while being copied */
			goto fail;
		}
	}
	if (fchmod(out, st->st_mode & 0777) < 0 || futimens(out, t) < 0 || fsync(out) < 0)
		goto fail;
	if (close(out) < 0) {
		out = -1;
		goto fail;
	}
	fsync(dfd);
	sv->made[sv->nmade].dirfd = dfd;	/* kept open until the act is over */
	snprintf(sv->made[sv->nmade].name, sizeof sv->made[0].name, "%s", name);
	sv->nmade++;
	return 0;
fail:
	lq_err_sys(err, "%s: --save: %s", sv->id, rel);
	if (out >= 0)
		close(out);
	unlinkat(dfd, name, 0);
	close(dfd);
	return -1;
}

/* ---------------------------------------------------------------- recipient arrays */

int
lq_arena_grow(struct lq_msg *m, void **v, size_t n, size_t *cap, size_t size, size_t max,
    const char *what, struct lq_err *err)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	if (n >= max)
		return lq_err_set(err, LQ_ELIMIT, "%s: more than %zu %s", m->id, max, what);
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > max)
		ncap = max;
	if ((nv = lq_arena_alloc(m->arena, ncap * size)) == NULL)
		return lq_err_set(err, LQ_ENOMEM, "%s: out of memory", m->id);
	if (n > 0)
		memcpy(nv, *v, n * size);
	*v = nv;
	*cap = ncap;
	return 0;
}

int
lq_rcpt_add(struct lq_msg *m, size_t *cap, const char *addr, const char *reason,
    unsigned flags, struct lq_err *err)
{
	void *v = m->rcpt;

	if (lq_arena_grow(m, &v, m->nrcpt, cap, sizeof *m->rcpt, LQ_RCPT_MAX, "recipients",
	    err) < 0)
		return -1;
	m->rcpt = v;
	m->rcpt[m->nrcpt++] = (struct lq_rcpt){ addr, reason, flags };
	return 0;
}
