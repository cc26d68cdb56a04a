/*
 * fuzz target: a qmail message's files (mess, info, local, remote, todo, bounce, intd)
 * through lq_scan/lq_load. Input (tests/fuzz/fuzz.h): flags, then the files in that order,
 * separated by FZ_SEP; flags bit k (k = 0..6, in that order) says file k exists. The queue
 * has split 1 (every split directory is 0) and the message's ID is 457. flags & 128: the
 * scan is unsorted and the queue statistics are written too (else a sorted scan).
 */
#include "fuzz.h"

static const char *const kinds[7] = { "mess", "info", "local", "remote", "todo", "bounce",
	"intd" };
static int fds[7];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_make_root("qmail");
	for (int k = 0; k < 7; k++) {
		char rel[32];
		int split = k < 4;

		snprintf(rel, sizeof rel, "%s%s", kinds[k], split ? "/0" : "");
		fz_mkdirs(rel);
		fds[k] = fz_open_dir(rel);
	}
	fz_mkdirs("lock");
	fz_mkdirs("pid");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *ids[] = { "457" };
	struct lq_spool *sp;
	struct fz_parts fp;

	fz_split(data, size, &fp);
	fz_begin();
	for (int k = 0; k < 7; k++)
		if (fp.flags & (1u << k))
			fz_put(fds[k], "457", fp.p[k], fp.n[k], k == 0 ? 0644 : 0600);
	fz_end_files();
	sp = fz_open_spool(LQ_MTA_QMAIL);
	fz_exercise(sp, (fp.flags & 128) ? LQ_SCAN_UNSORTED : 0, (fp.flags & 128) != 0, ids, 1,
	    (unsigned)size);
	lq_spool_close(sp);
	return 0;
}
