/*
 * cputime.c -- what /usr/bin/time -f '%U %S %M %e' measures, for scripts/bench, to the
 * microsecond: GNU time prints user and system time in 10 ms steps, truncated, and the
 * bench's CPU ratios of runs near half a second (qls against qls --jobs 1: target 1.1)
 * then move by 2% a step.
 *
 *   cputime -o FILE CMD [ARG...]
 *
 * Runs CMD, waits for it, and writes to FILE one line, "USER SYS MAXRSS WALL": user and
 * system CPU seconds (of CMD and the children it waited for, as wait4 reports them, the same
 * figures GNU time takes), peak RSS in KiB of the largest of those processes, wall seconds.
 * Exits with CMD's exit code (128 + the signal if a signal ended it), or 127 if CMD cannot
 * be run. Built by scripts/bench (cc -O2); not part of qtools.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
seconds(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static double
since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

int
main(int argc, char **argv)
{
	struct timespec t0;
	struct rusage ru;
	FILE *out;
	pid_t pid;
	int status;

	if (argc < 4 || strcmp(argv[1], "-o") != 0) {
		fputs("usage: cputime -o FILE CMD [ARG...]\n", stderr);
		return 127;
	}
	if ((out = fopen(argv[2], "w")) == NULL) {
		fprintf(stderr, "cputime: %s: %s\n", argv[2], strerror(errno));
		return 127;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "cputime: fork: %s\n", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		fclose(out);
		execvp(argv[3], argv + 3);
		fprintf(stderr, "cputime: %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "cputime: wait4: %s\n", strerror(errno));
			return 127;
		}
	fprintf(out, "%.6f %.6f %ld %.6f\n", seconds(ru.ru_utime), seconds(ru.ru_stime),
	    ru.ru_maxrss, since(&t0));
	if (fclose(out) != 0) {
		fprintf(stderr, "cputime: %s: %s\n", argv[2], strerror(errno));
		return 127;
	}
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
