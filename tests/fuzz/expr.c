/*
 * fuzz target: the selection expressions of -e (libqueue/expr.c), through lq_select_new,
 * matched against the two messages of fz_selection_spool (envelope, headers and body).
 * Input: a flags byte (1: -a, 2: --case-sensitive, 4: -z), then up to 4 NUL-separated
 * expressions, all given at once (ANDed).
 *
 * Besides the sanitizers, what is checked: a refused expression gets a message whose last
 * two lines are the expression and a caret; a match is 1, 0 or -1; and with a single
 * expression E and no -z, "not (E)" and -v E give, message by message, the opposite of E, or
 * "cannot tell" (-1) exactly where E gives it.
 */
#include "fuzz.h"

#define NSEL 3

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_selection_spool("expr");
	return 0;
}

struct match {
	struct lq_spool *sp;
	struct lq_select *sel[NSEL];	/* E; not (E); -v E (the last two may be NULL) */
};

static int
each(struct lq_msg *m, void *arg)
{
	struct match *mt = arg;
	struct lq_err e;
	int r[NSEL];

	for (int i = 0; i < NSEL; i++) {
		r[i] = mt->sel[i] ? lq_select_match(mt->sel[i], mt->sp, m, &e) : r[0];
		if (r[i] < -1 || r[i] > 1)
			abort();
	}
	for (int i = 1; i < NSEL; i++)
		if (mt->sel[i] != NULL && r[i] != (r[0] < 0 ? -1 : !r[0]))
			abort();
	return 0;
}

/* A refused expression: one line saying why, the expression, and a caret. */
static void
check_refusal(const struct lq_err *e)
{
	const char *nl1, *nl2, *end = memchr(e->msg, '\0', sizeof e->msg);

	if (end == NULL || e->msg[0] == '\0')
		abort();
	if (e->code == LQ_ENOMEM || strncmp(e->msg, "-e: ", 4) != 0)
		return;
	if ((nl1 = strchr(e->msg, '\n')) == NULL || (nl2 = strchr(nl1 + 1, '\n')) == NULL ||
	    strchr(nl2 + 1, '\n') != NULL || end[-1] != '^')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lq_spool *sp;
	const char *exprs[4], *neg[1];
	struct lq_select_opts o = { 0 };
	struct match mt = { 0 };
	struct lq_err e;
	char *copy, *wrapped = NULL;
	size_t k = 0;

	if (size == 0)
		return 0;
	if (sp == NULL)
		sp = fz_open_spool(LQ_MTA_EXIM);
	/* NUL-terminated copies of the expressions (the last one may lack its NUL) */
	if ((copy = malloc(size)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (char *p = copy; p < copy + size - 1 && k < 4; k++) {
		exprs[k] = p;
		p += strlen(p) + 1;
	}
	if (k == 0)
		exprs[k++] = copy;
	o.all_rcpts = data[0] & 1;
	o.case_sensitive = (data[0] >> 1) & 1;
	o.frozen = (data[0] >> 2) & 1;
	o.exprs = exprs;
	o.nexprs = k;
	if ((mt.sel[0] = lq_select_new(&o, FZ_NOW, &e)) == NULL) {
		check_refusal(&e);
		free(copy);
		return 0;
	}
	if (k == 1 && !o.frozen && (wrapped = malloc(strlen(exprs[0]) + 8)) != NULL) {
		sprintf(wrapped, "not (%s)", exprs[0]);
		neg[0] = wrapped;
		o.exprs = neg;
		mt.sel[1] = lq_select_new(&o, FZ_NOW, &e);	/* may hit a limit that E did not */
		o.exprs = exprs;
		o.invert = 1;
		if ((mt.sel[2] = lq_select_new(&o, FZ_NOW, &e)) == NULL)
			abort();
	}
	mt.sp = sp;
	{
		struct lq_scan sc = { .flags = lq_select_scanflags(mt.sel[0]), .each = each,
			.arg = &mt };

		(void)lq_select_needs_content(mt.sel[0]);
		(void)lq_select_needs_size(mt.sel[0]);
		if (lq_select_is_empty(mt.sel[0]))
			abort();
		(void)lq_scan(sp, &sc, &e);
	}
	for (int i = 0; i < NSEL; i++)
		lq_select_free(mt.sel[i]);
	free(wrapped);
	free(copy);
	return 0;
}
