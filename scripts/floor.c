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
 * Prints "N messages, B bytes read". Built by scripts/bench (cc -O2); not part of qtools.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned long messages;
static unsigned long long nbytes;
static char buf[1 << 16];

/* open, one read, close; 0 when the file is not there */
static int
slurp(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return 0;
	if ((r = read(fd, buf, sizeof buf)) < 0)
		err(2, "%s", name);
	nbytes += (unsigned long long)r;
	close(fd);
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

static void
exim_dir(DIR *d, int top)
{
	int dfd = dirfd(d);
	struct dirent *de;
	struct stat st;

	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		size_t n = strlen(name);
		char dname[32];

		if (top && n == 1 && name[0] != '.' &&
		    (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)) {
			DIR *sd = opendir_at(dfd, name);

			if (sd != NULL) {
				exim_dir(sd, 0);
				closedir(sd);
			}
			continue;
		}
		if (n != 18 || name[16] != '-' || name[17] != 'H')
			continue;
		if (!slurp(dfd, name))
			continue;	/* vanished */
		memcpy(dname, name, n + 1);
		dname[17] = 'D';
		if (fstatat(dfd, dname, &st, 0) == 0)
			messages++;
	}
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
		if (!slurp(dirfd(d), name))
			continue;
		messages++;
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
	struct stat st;

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
		while ((me = readdir(sd)) != NULL) {
			const char *id = me->d_name;

			if (!all_digits(id))
				continue;
			if (fstatat(mfd, id, &st, 0) < 0)
				continue;
			(void)fstatat(bfd, id, &st, 0);
			slurp(dirfd(sd), id);
			slurp(lfd, id);
			slurp(rfd, id);
			messages++;
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
	const char *mta = argc == 3 ? argv[1] : "exim", *dir = argv[argc - 1];
	int qfd;

	if (argc < 2 || argc > 3)
		errx(2, "usage: floor [exim|postfix|qmail] DIR");
	if ((qfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		err(2, "%s", dir);
	if (strcmp(mta, "exim") == 0) {
		DIR *d = opendir_at(qfd, "input");

		if (d == NULL)
			err(2, "%s/input", dir);
		exim_dir(d, 1);
		closedir(d);
	} else if (strcmp(mta, "postfix") == 0) {
		for (size_t i = 0; i < sizeof pfqueues / sizeof pfqueues[0]; i++)
			postfix_dir(qfd, pfqueues[i], strcmp(pfqueues[i], "deferred") == 0);
	} else if (strcmp(mta, "qmail") == 0) {
		qmail_queue(qfd);
	} else
		errx(2, "%s: not exim, postfix or qmail", mta);
	printf("%lu messages, %llu bytes read\n", messages, nbytes);
	return 0;
}
