/*
 * fuzz target: a Postfix queue file (records, pointers, content) and its defer log, through
 * lq_scan/lq_load and postcat's views. Input (tests/fuzz/fuzz.h): flags, then the queue file
 * FZ_SEP the defer log.
 *   flags & 7: where the file goes: 0 active, 1 incoming, 2 deferred/H, 3 hold, 4 maildrop,
 *              5 deferred/H/H, 6 corrupt, 7 active
 *   flags & 8: there is a defer log (defer/H/ID);  flags & 16: a long queue ID
 *   flags & 32: mode 0710 (forced expiry);  flags & 64: mode 0600 (not ready: skipped)
 *   flags & 128: the scan lists newest first (else showq's order); flags & 7 == 7: and
 *              the queue statistics
 */
#include "fuzz.h"

static const char *const queues[] = { "maildrop", "incoming", "active", "deferred", "hold",
	"corrupt", "defer" };

/* Postfix's hash key (mail_queue_dir): a short ID itself; a long ID's microseconds in hex */
static void
hash_key(const char *id, char key[16])
{
	static const char safe52[] = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
	const char *z = strrchr(id, 'z');
	unsigned long usec = 0;

	if (z == NULL) {
		snprintf(key, 16, "%s", id);
		return;
	}
	for (const char *p = z - 4; p < z; p++)
		usec = usec * 52 + (unsigned long)(strchr(safe52, *p) - safe52);
	snprintf(key, 16, "%05lX", usec);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_make_root("postfix");
	for (size_t i = 0; i < sizeof queues / sizeof queues[0]; i++)
		fz_mkdirs(queues[i]);
	return 0;
}

static void
clear_tree(const char *q)
{
	int fd = fz_open_dir(q);

	fz_rm_tree(fd);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const where[8] = { "active", "incoming", "deferred", "hold",
		"maildrop", "deferred", "corrupt", "active" };
	const char *id, *ids[1];
	static unsigned layout = ~0u;
	static int filefd = -1, deferfd = -1;
	char key[16], rel[128];
	struct lq_spool *sp;
	struct fz_parts fp;
	unsigned q;
	mode_t mode;

	fz_split(data, size, &fp);
	q = fp.flags & 7;
	id = (fp.flags & 16) ? "4dQ8X6c2bYmzHfW1" : "4F2A31C8E9";
	ids[0] = id;
	mode = (fp.flags & 64) ? 0600 : (fp.flags & 32) ? 0710 : 0700;
	hash_key(id, key);
	fz_begin();
	/* the directories stay while executions keep the same layout (where, defer log, ID) */
	if ((fp.flags & 31) != layout) {
		for (size_t i = 0; i < sizeof queues / sizeof queues[0]; i++)
			clear_tree(queues[i]);
		if (filefd >= 0)
			fz_forget_dir(filefd), close(filefd);
		if (deferfd >= 0)
			fz_forget_dir(deferfd), close(deferfd);
		filefd = deferfd = -1;
		layout = fp.flags & 31;
		if (q == 2)
			snprintf(rel, sizeof rel, "deferred/%c", key[0]);
		else if (q == 5)
			snprintf(rel, sizeof rel, "deferred/%c/%c", key[0], key[1]);
		else
			snprintf(rel, sizeof rel, "%s", where[q]);
		fz_mkdirs(rel);
		filefd = fz_open_dir(rel);
		if (fp.flags & 8) {
			snprintf(rel, sizeof rel, "defer/%c", key[0]);
			fz_mkdirs(rel);
			deferfd = fz_open_dir(rel);
		}
	}
	fz_put(filefd, id, fp.p[0], fp.n[0], mode);
	if (fp.flags & 8)
		fz_put(deferfd, id, fp.p[1], fp.n[1], 0600);
	fz_end_files();
	sp = fz_open_spool(LQ_MTA_POSTFIX);
	fz_exercise(sp, (fp.flags & 128) ? LQ_SCAN_REVERSE : 0, q == 7, ids, 1,
	    (unsigned)size);
	lq_spool_close(sp);
	return 0;
}
