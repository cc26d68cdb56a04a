/*
 * json_test.c -- unit tests of libqueue/json.c, the parser qsumm --merge reads every host's
 * JSON Lines with: valid values and their tree, strings with every escape, surrogate pairs
 * and NULs, numbers (integers, the int64 edge, doubles, what JSON does not allow), the
 * nesting limit, and input that must be refused (each with LQ_ECORRUPT and the byte where
 * it went wrong). Prints TAP.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "tap.h"

static struct lq_arena *arena;
static struct lq_err err;

/* Parse the first n bytes of s (n 0: strlen), in a fresh arena. */
static const struct lq_jval *
parse_n(const char *s, size_t n)
{
	lq_arena_reset(arena);
	memset(&err, 0, sizeof err);
	return lq_json_parse(arena, s, n ? n : strlen(s), &err);
}

static const struct lq_jval *
parse(const char *s)
{
	return parse_n(s, 0);
}

/* s is refused, with LQ_ECORRUPT and a message that holds want */
static void
refused_n(const char *s, size_t n, const char *want, const char *name)
{
	const struct lq_jval *v = parse_n(s, n);
	char t[256];

	snprintf(t, sizeof t, "refused: %s", name);
	if (!ok(v == NULL && err.code == LQ_ECORRUPT && strstr(err.msg, want) != NULL, t))
		printf("#   got %s, error '%s', want one with '%s'\n", v ? "a value" : "NULL",
		    err.msg, want);
}

static void
refused(const char *s, const char *want)
{
	refused_n(s, 0, want, s);
}

/* the string value of s has exactly the bytes want[0..len) */
static void
string_is(const char *s, const char *want, size_t len, const char *name)
{
	const struct lq_jval *v = parse(s);

	if (!ok(v != NULL && v->type == LQ_J_STR && v->len == len &&
	    memcmp(v->s, want, len) == 0 && v->s[len] == '\0', name))
		diag(v ? "not those bytes" : err.msg);
}

static void
integer_is(const char *s, int64_t want)
{
	const struct lq_jval *v = parse(s);
	char t[128];

	snprintf(t, sizeof t, "%s is the integer %lld", s, (long long)want);
	ok(v != NULL && v->type == LQ_J_NUM && v->is_int && v->i == want &&
	    v->d == (double)want, t);
}

static void
double_is(const char *s, double want)
{
	const struct lq_jval *v = parse(s);
	char t[128];

	snprintf(t, sizeof t, "%s is the double %.17g, not an integer", s, want);
	ok(v != NULL && v->type == LQ_J_NUM && !v->is_int && v->d == want, t);
}

int
main(void)
{
	const struct lq_jval *v, *m;
	char deep[128], t[128];

	if ((arena = lq_arena_new()) == NULL)
		return 2;

	/* ---- valid values, and the tree */
	v = parse("{\"v\": 1, \"type\": \"end\", \"a\": [1, 2, {\"b\": null}], \"t\": true, "
	    "\"f\": false}");
	ok(v != NULL && v->type == LQ_J_OBJ && v->n == 5, "an object of five members");
	ok(v != NULL && v->first != NULL && v->first->namelen == 1 &&
	    memcmp(v->first->name, "v", 1) == 0, "... in the order given");
	m = lq_json_get(v, "v");
	ok(m != NULL && m->type == LQ_J_NUM && m->is_int && m->i == 1, "... \"v\" is 1");
	m = lq_json_get(v, "type");
	ok(m != NULL && m->type == LQ_J_STR && strcmp(m->s, "end") == 0 && m->len == 3,
	    "... \"type\" is \"end\"");
	m = lq_json_get(v, "a");
	ok(m != NULL && m->type == LQ_J_ARR && m->n == 3 && m->first->i == 1 &&
	    m->first->next->i == 2 && m->first->next->next->type == LQ_J_OBJ,
	    "... \"a\" is an array of 1, 2 and an object");
	m = m ? lq_json_get(m->first->next->next, "b") : NULL;
	ok(m != NULL && m->type == LQ_J_NULL, "... whose \"b\" is null");
	m = lq_json_get(v, "t");
	ok(m != NULL && m->type == LQ_J_BOOL && m->boolean == 1, "... \"t\" is true");
	m = lq_json_get(v, "f");
	ok(m != NULL && m->type == LQ_J_BOOL && m->boolean == 0, "... \"f\" is false");
	ok(lq_json_get(v, "nosuch") == NULL, "... a member not there is NULL");
	ok(lq_json_get(lq_json_get(v, "a"), "b") == NULL, "lq_json_get on an array is NULL");
	v = parse(" \t\r\n{}\r\n\t ");
	ok(v != NULL && v->type == LQ_J_OBJ && v->n == 0 && v->first == NULL,
	    "white space around {} (and a line's own newline)");
	v = parse("[ ]");
	ok(v != NULL && v->type == LQ_J_ARR && v->n == 0, "[ ] is an empty array");
	v = parse("null");
	ok(v != NULL && v->type == LQ_J_NULL, "a bare null");
	v = parse("\"x\"");
	ok(v != NULL && v->type == LQ_J_STR && strcmp(v->s, "x") == 0, "a bare string");
	v = parse_n("{}XXXX", 2);
	ok(v != NULL && v->type == LQ_J_OBJ, "only the n bytes given are read");

	/* ---- strings */
	string_is("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "a\"b\\c/d\b\f\n\r\t", 12,
	    "every short escape");
	string_is("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6,
	    "\\u escapes to UTF-8 (1, 2 and 3 bytes; hex digits of either case)");
	string_is("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4, "a surrogate pair is one 4-byte character");
	string_is("\"a\\u0000b\"", "a\0b", 3, "\\u0000 is a NUL byte inside the string, counted in len");
	string_is("\"\\u0000\"", "\0", 1, "a string that is one NUL");
	string_is("\"caf\xc3\xa9 \xff\"", "caf\xc3\xa9 \xff", 7,
	    "bytes >= 0x80 pass as they are (valid UTF-8 or not)");
	string_is("\"\"", "", 0, "the empty string");
	v = parse("{\"a\\u0000b\": 1, \"a\": 2}");
	m = lq_json_get(v, "a");
	ok(v != NULL && v->n == 2 && m != NULL && m->i == 2,
	    "a member name with a NUL is not the name before the NUL");
	v = parse("{\"a\": 1, \"A\": 2}");
	ok(v != NULL && v->n == 2, "member names are case-sensitive (\"a\" and \"A\" are two)");

	refused("\"abc", "not closed");
	refused("\"abc\\\"", "not closed");
	refused("\"a\\x\"", "not a JSON escape");
	refused("\"a\\u12\"", "four hex digits");
	refused("\"a\\u12g4\"", "four hex digits");
	refused("\"\\ud800\"", "without its low half");
	refused("\"\\ud800\\u0041\"", "without its low half");
	refused("\"\\ud800x\\udc00\"", "without its low half");
	refused("\"\\udc00\"", "lone low surrogate");
	refused("\"\\ude00\\ud83d\"", "lone low surrogate");
	refused("\"a\tb\"", "control character");
	refused("\"a\nb\"", "control character");
	refused_n("\"a\0b\"", 5, "control character", "a raw NUL byte in a string");
	refused_n("\"a\"\0", 4, "more after the end", "a NUL byte after the value");

	/* ---- numbers */
	integer_is("0", 0);
	integer_is("-0", 0);
	integer_is("42", 42);
	integer_is("-17", -17);
	integer_is("9223372036854775807", INT64_MAX);
	integer_is("-9223372036854775808", INT64_MIN);
	double_is("9223372036854775808", 9223372036854775808.0);
	double_is("-9223372036854775809", -9223372036854775808.0);
	double_is("1.5", 1.5);
	double_is("-0.25", -0.25);
	double_is("1e3", 1000);
	double_is("1E+3", 1000);
	double_is("25e-2", 0.25);
	double_is("1.0", 1);
	/* the longest number read has 63 characters */
	memset(deep, '0', 64);
	deep[0] = '1', deep[63] = '\0';
	double_is(deep, 1e62);
	deep[63] = '0', deep[64] = '\0';
	refused_n(deep, 0, "too long", "a number of 64 characters");
	refused("01", "leading zero");
	refused("-01", "leading zero");
	refused("-", "not a number");
	refused("+1", "not a number");
	refused(".5", "not a number");
	refused("1.", "decimal point");
	refused("1.e3", "decimal point");
	refused("1e", "exponent");
	refused("1e+", "exponent");
	refused("--1", "not a number");
	refused("0x10", "more after the end");
	refused("1e400", "out of range");
	refused("-1e400", "out of range");
	refused("NaN", "not a number");
	refused("Infinity", "not a number");
	refused("-Infinity", "not a number");

	/* ---- literals, structure */
	refused("", "a value was expected");
	refused("   ", "a value was expected");
	refused("tru", "not a JSON value");
	refused("True", "not a number");
	refused("nul", "not a JSON value");
	refused("nulll", "more after the end");
	refused("truefalse", "more after the end");
	refused("{} {}", "more after the end");
	refused("1 2", "more after the end");
	refused("{", "a member name");
	refused("[", "a value was expected");
	refused("[1,", "a value was expected");
	refused("[1,]", "not a number");
	refused("[1 2]", "',' or ']'");
	refused("{\"a\"}", "':' was expected");
	refused("{\"a\" 1}", "':' was expected");
	refused("{\"a\":}", "not a number");
	refused("{\"a\":1,}", "a member name");
	refused("{,}", "a member name");
	refused("{1: 2}", "a member name");
	refused("{\"a\": 1 \"b\": 2}", "',' or '}'");
	refused("{\"a\": [}", "not a number");
	refused("[1}", "',' or ']'");
	refused("{\"a\": 1, \"b\": 2, \"a\": 3}", "member \"a\" given twice");
	refused("{\"x\": {\"a\": 1, \"a\": 1}}", "given twice");
	/* the error says where */
	v = parse("[1,]");
	is(err.msg, "byte 4 (']'): not a number", "the error names the byte and shows it");
	v = parse("[1,");
	is(err.msg, "byte 4: the line ends: a value was expected", "... or says that the line ended");
	v = parse("\"\x01\"");
	ok(strstr(err.msg, "('?')") != NULL, "... a byte that is not printable is shown as '?'");

	/* ---- nesting: LQ_JSON_MAXDEPTH levels, not one more */
	for (int d = LQ_JSON_MAXDEPTH - 1; d <= LQ_JSON_MAXDEPTH + 1; d++) {
		int k = 0;

		for (int i = 0; i < d; i++)
			deep[k++] = '[';
		for (int i = 0; i < d; i++)
			deep[k++] = ']';
		deep[k] = '\0';
		v = parse(deep);
		snprintf(t, sizeof t, "%d nested arrays: %s", d,
		    d <= LQ_JSON_MAXDEPTH ? "read" : "refused, nested too deep");
		ok(d <= LQ_JSON_MAXDEPTH ? v != NULL :
		    v == NULL && strstr(err.msg, "nested too deep") != NULL, t);
	}
	{
		int k = 0;

		for (int i = 0; i < LQ_JSON_MAXDEPTH; i++)
			k += snprintf(deep + k, sizeof deep - k, i % 2 ? "[" : "{\"a\":");
		k += snprintf(deep + k, sizeof deep - k, "1");
		for (int i = LQ_JSON_MAXDEPTH; i-- > 0;)
			k += snprintf(deep + k, sizeof deep - k, i % 2 ? "]" : "}");
		ok(parse(deep) != NULL, "objects and arrays mixed, LQ_JSON_MAXDEPTH deep: read");
		memmove(deep + 1, deep, k + 1);
		deep[0] = '[';
		deep[k + 1] = ']';
		deep[k + 2] = '\0';
		refused(deep, "nested too deep");
	}
	/* depth is counted down again: siblings do not add up */
	{
		int k = 0;

		deep[k++] = '[';
		for (int s = 0; s < 2; s++) {
			for (int i = 0; i < LQ_JSON_MAXDEPTH - 1; i++)
				deep[k++] = '[';
			for (int i = 0; i < LQ_JSON_MAXDEPTH - 1; i++)
				deep[k++] = ']';
			deep[k++] = s == 0 ? ',' : ']';
		}
		deep[k] = '\0';
		v = parse(deep);
		ok(v != NULL && v->n == 2, "two arrays LQ_JSON_MAXDEPTH deep side by side: read");
	}

	lq_arena_free(arena);
	return done_testing();
}
