/* postfix.c -- the postfix backend (not written yet: every call says so). */
#include "backend.h"

static int
postfix_detect(int dirfd)
{
	(void)dirfd;
	return 0;
}

static char *
postfix_default_dir(void)
{
	return NULL;
}

static int
postfix_open(struct lq_spool *sp, struct lq_err *err)
{
	return lq_err_set(err, LQ_EUSAGE, "%s: the postfix backend is not written yet", sp->dir);
}

const struct lq_backend lq_postfix_backend = {
	.mta = LQ_MTA_POSTFIX,
	.name = "postfix",
	.detect = postfix_detect,
	.default_dir = postfix_default_dir,
	.open = postfix_open,
};
