/*
 * proc.c -- what /proc says about other processes: the flock()s in /proc/locks, who holds
 * one, and a process's name. One reader for every backend (Postfix asks whether a queue
 * file is being delivered and whether the master runs; qmail, who holds lock/sendmutex).
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

#define FLOCKS_MAX 1000000	/* /proc/locks lines kept: far beyond any real system */

static int
flock_cmp(const void *a, const void *b)
{
	const struct lq_lock *x = a, *y = b;

	return (x->ino > y->ino) - (x->ino < y->ino);
}

/* The kinds of lock a line of /proc/locks names. */
static unsigned
kind_of(const char *kind)
{
	if (strcmp(kind, "FLOCK") == 0)
		return LQ_LOCK_FLOCK;
	if (strcmp(kind, "POSIX") == 0 || strcmp(kind, "OFDLCK") == 0)
		return LQ_LOCK_FCNTL;
	return 0;		/* leases, delegations */
}

/* One pass: "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF", "2: POSIX ADVISORY WRITE 99
 * 08:01:777 0 18", "3: OFDLCK ADVISORY WRITE -1 ..."; waiters ("1: -> FLOCK ...") hold
 * nothing. */
static int
read_pass(struct lq_locks *l, unsigned kinds, FILE *fp)
{
	char line[512], kind[16], dev[64];
	struct lq_lock e;

	while (fgets(line, sizeof line, fp) != NULL) {
		if (strstr(line, "->") != NULL ||
		    sscanf(line, "%*s %15s %*s %*s %ld %63s", kind, &e.pid, dev) != 3 ||
		    !(kind_of(kind) & kinds) ||
		    sscanf(dev, "%x:%x:%llu", &e.maj, &e.min, &e.ino) != 3)
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 64;
			struct lq_lock *v;

			if (cap > FLOCKS_MAX || (v = reallocarray(l->v, cap, sizeof *v)) == NULL)
				return -1;
			l->v = v;
			l->cap = cap;
		}
		l->v[l->n++] = e;
	}
	return ferror(fp) ? -1 : 0;
}

int
lq_locks_load(struct lq_locks *l, unsigned kinds, struct lq_err *err)
{
	int rc = 0;
	FILE *fp;

	l->n = 0;
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		if ((fp = fopen("/proc/locks", "re")) == NULL) {
			rc = -1;
			break;
		}
		rc = read_pass(l, kinds, fp);
		fclose(fp);
	}
	/* sorted whatever happened: what was read is searched all the same */
	if (l->n > 1)		/* qsort's base must not be NULL, even for no element */
		qsort(l->v, l->n, sizeof *l->v, flock_cmp);
	if (rc < 0)
		return lq_err_set(err, LQ_ESYS, "/proc/locks cannot be read");
	return 0;
}

void
lq_locks_free(struct lq_locks *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Has process pid a descriptor on the file st? (/proc/PID/fd) */
static int
has_open(long pid, const struct stat *st)
{
	char path[64];
	struct dirent *de;
	struct stat s;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL)
		found = de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &s, 0) == 0 &&
		    s.st_dev == st->st_dev && s.st_ino == st->st_ino;
	closedir(d);
	return found;
}

/* The first entry of st's inode, or the end of the table. */
static const struct lq_lock *
first_of(const struct lq_locks *l, const struct stat *st)
{
	struct lq_lock key = { .ino = st->st_ino };
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (flock_cmp(&l->v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return l->v + lo;
}

long
lq_locks_holder(const struct lq_locks *l, const struct stat *st)
{
	if (l->n == 0)
		return 0;	/* (l->v is NULL then: no arithmetic on it) */
	/* any holder counts, also pid 1 or 0 (a process outside our pid namespace): whom to
	 * signal is the caller's business (qmail checks the holder's name) */
	for (const struct lq_lock *e = first_of(l, st); e < l->v + l->n && e->ino == st->st_ino;
	    e++)
		if ((e->maj == major(st->st_dev) && e->min == minor(st->st_dev)) ||
		    (e->pid > 1 && has_open(e->pid, st)))
			return e->pid > 0 ? e->pid : -1;
	return 0;
}

int
lq_locks_inode_listed(const struct lq_locks *l, const struct stat *st)
{
	const struct lq_lock *e;

	if (l->n == 0)
		return 0;
	e = first_of(l, st);
	return e < l->v + l->n && e->ino == st->st_ino;
}

void
lq_proc_comm(long pid, char comm[32])
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	if (pid > 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, comm, 31);
		close(fd);
	}
	comm[n > 0 ? n : 0] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}
