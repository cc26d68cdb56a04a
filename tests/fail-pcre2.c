/*
 * tests/fail-pcre2.c -- an LD_PRELOAD shim for tests/t/56-act-rules.t: every pcre2_match
 * fails as PCRE2 does when it cannot get memory (PCRE2_ERROR_NOMEMORY). It stands in for an
 * allocation failure inside the selection, which no real spool can cause on demand, so that
 * the test can see that a test that could not be done never selects a message, also under -v.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

int
pcre2_match_8(const pcre2_code_8 *code, PCRE2_SPTR8 subject, PCRE2_SIZE length,
    PCRE2_SIZE start, uint32_t options, pcre2_match_data_8 *md, pcre2_match_context_8 *mc)
{
	(void)code, (void)subject, (void)length, (void)start, (void)options, (void)md, (void)mc;
	return PCRE2_ERROR_NOMEMORY;
}
