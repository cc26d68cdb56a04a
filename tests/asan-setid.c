/*
 * Linked into the sanitized tools only (make asan). A set-uid or set-gid process is not
 * dumpable, so LeakSanitizer cannot stop it to look for leaks at exit and fails its exit
 * status instead; sanitizers ignore ASAN_OPTIONS in such a process, so say it here. Leak
 * checking stays on everywhere else (60-privileges.t runs set-id copies that must refuse).
 */
#include <sys/auxv.h>

const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return getauxval(AT_SECURE) ? "detect_leaks=0" : "";
}
