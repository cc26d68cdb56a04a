/*
 * fuzz target: Exim's -H (with its -J journal and -D data file), through lq_scan/lq_load.
 * Input (tests/fuzz/fuzz.h): flags, then -H FZ_SEP -J FZ_SEP -D.
 *   flags & 1: the files go in the split subdirectory input/X/ instead of input/
 *   flags & 2: there is a -J;  flags & 4: there is no -D
 *   flags >> 3 & 3: the scan: 0 sorted, 1 unsorted, 2 newest first, 3 sorted + statistics
 * The ID is the one the -H's first line names when it is valid, else a fixed one, so that
 * seeds from real spools keep their IDs.
 */
#include "fuzz.h"

static int inputfd;

/* tttttt-pppppp-ff or tttttt-ppppppppppp-ssss, base 62 */
static int
fz_exim_id(const char *s)
{
	size_t n = strlen(s);

	if (n != 16 && n != 23)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (i == 6 || i == n - (n == 16 ? 3 : 5) ? s[i] != '-' :
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z')))
			return 0;
	return 1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_make_root("exim");
	fz_mkdirs("input");
	fz_mkdirs("msglog");
	fz_mkdirs("db");
	inputfd = fz_open_dir("input");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char subname[2];
	static int subfd = -1;
	struct lq_spool *sp;
	struct fz_parts fp;
	char id[LQ_ID_MAX + 1] = "1vahl2-00011o-0L", name[LQ_ID_MAX + 8];
	static const unsigned scans[4] = { 0, LQ_SCAN_UNSORTED, LQ_SCAN_REVERSE, 0 };
	const char *ids[] = { id };
	const uint8_t *nl;
	int dfd = inputfd;

	fz_split(data, size, &fp);
	nl = memchr(fp.p[0], '\n', fp.n[0]);
	if (nl != NULL && nl - fp.p[0] > 2 && (size_t)(nl - fp.p[0]) < sizeof id + 2 &&
	    memcmp(nl - 2, "-H", 2) == 0) {
		char want[LQ_ID_MAX + 1];

		memcpy(want, fp.p[0], nl - fp.p[0] - 2);
		want[nl - fp.p[0] - 2] = '\0';
		if (fz_exim_id(want))
			memcpy(id, want, sizeof id);
	}
	fz_begin();
	/* the split subdirectory stays while executions keep using it */
	if (subfd >= 0 && (!(fp.flags & 1) || subname[0] != id[5])) {
		fz_rm_tree(subfd);
		fz_forget_dir(subfd);
		close(subfd);
		subfd = -1;
		unlinkat(inputfd, subname, AT_REMOVEDIR);
	}
	if (fp.flags & 1) {
		if (subfd < 0) {
			subname[0] = id[5];
			snprintf(name, sizeof name, "input/%s", subname);
			fz_mkdirs(name);
			subfd = fz_open_dir(name);
		}
		dfd = subfd;
	}
	snprintf(name, sizeof name, "%s-H", id);
	fz_put(dfd, name, fp.p[0], fp.n[0], 0640);
	if (fp.flags & 2) {
		snprintf(name, sizeof name, "%s-J", id);
		fz_put(dfd, name, fp.p[1], fp.n[1], 0640);
	}
	if (!(fp.flags & 4)) {
		snprintf(name, sizeof name, "%s-D", id);
		fz_put(dfd, name, fp.p[2], fp.n[2], 0640);
	}
	fz_end_files();
	sp = fz_open_spool(LQ_MTA_EXIM);
	fz_exercise(sp, scans[(fp.flags >> 3) & 3], ((fp.flags >> 3) & 3) == 3, ids, 1,
	    (unsigned)size);
	lq_spool_close(sp);
	return 0;
}
