/* qmail.c -- the qmail backend (not written yet: every call says so). */
#include "backend.h"

static int
qmail_detect(int dirfd)
{
	(void)dirfd;
	return 0;
}

static char *
qmail_default_dir(void)
{
	return NULL;
}

static int
qmail_open(struct lq_spool *sp, struct lq_err *err)
{
	return lq_err_set(err, LQ_EUSAGE, "%s: the qmail backend is not written yet", sp->dir);
}

const struct lq_backend lq_qmail_backend = {
	.mta = LQ_MTA_QMAIL,
	.name = "qmail",
	.detect = qmail_detect,
	.default_dir = qmail_default_dir,
	.open = qmail_open,
};
