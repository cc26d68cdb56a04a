/*
 * json.c -- a small, bounded JSON parser for one line of JSON Lines (what qsumm --merge
 * reads back from qsumm --json on many hosts). It takes exactly one value that fills the
 * line, builds a tree in an arena (reset per line), and refuses rather than guesses:
 * nesting deeper than LQ_JSON_MAXDEPTH, raw control characters in strings, lone UTF-16
 * surrogates, an object naming a member twice, and anything after the value. Bytes >= 0x80
 * in strings pass as they are (lq_json_string writes them so, as postqueue -j does).
 * Errors say at which byte and what was wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

struct parser {
	const char *s, *p, *e;
	struct lq_arena *a;
	struct lq_err *err;
	int depth;
};

static int
fail(struct parser *ps, const char *what)
{
	if (ps->p >= ps->e)
		return lq_err_set(ps->err, LQ_ECORRUPT, "byte %zu: the line ends: %s",
		    (size_t)(ps->p - ps->s) + 1, what);
	return lq_err_set(ps->err, LQ_ECORRUPT, "byte %zu ('%c'): %s", (size_t)(ps->p - ps->s) + 1,
	    isprint((unsigned char)*ps->p) ? *ps->p : '?', what);
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->e && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
	    *ps->p == '\r'))
		ps->p++;
}

static struct lq_jval *
node(struct parser *ps, enum lq_jtype t)
{
	struct lq_jval *v = lq_arena_alloc(ps->a, sizeof *v);

	if (v == NULL) {
		lq_err_set(ps->err, LQ_ENOMEM, "out of memory");
		return NULL;
	}
	memset(v, 0, sizeof *v);
	v->type = t;
	return v;
}

static int
hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++, ps->p++) {
		int c = ps->p < ps->e ? (unsigned char)*ps->p : -1;

		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (c - 'A' + 10);
		else
			return fail(ps, "\\u needs four hex digits");
	}
	*out = v;
	return 0;
}

static size_t
utf8(char *o, unsigned c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | c >> 12);
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | c >> 18);
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* ps->p at the opening quote; the decoded string is never longer than its source */
static int
string(struct parser *ps, const char **out, size_t *outlen)
{
	const char *start = ++ps->p;
	char *buf, *o;

	/* find the end first, to size the buffer */
	while (ps->p < ps->e && *ps->p != '"') {
		if (*ps->p == '\\' && ps->p + 1 < ps->e)
			ps->p++;
		ps->p++;
	}
	if (ps->p >= ps->e)
		return fail(ps, "a string is not closed");
	if ((buf = lq_arena_alloc(ps->a, ps->p - start + 1)) == NULL)
		return lq_err_set(ps->err, LQ_ENOMEM, "out of memory");
	ps->p = start;
	o = buf;
	while (*ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;
		unsigned u, lo;

		if (c < 0x20)
			return fail(ps, "a control character in a string (must be escaped)");
		if (c != '\\') {
			*o++ = (char)c;
			ps->p++;
			continue;
		}
		ps->p++;
		switch (*ps->p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (hex4(ps, &u) < 0)
				return -1;
			if (u >= 0xdc00 && u <= 0xdfff)
				return fail(ps, "a lone low surrogate");
			if (u >= 0xd800 && u <= 0xdbff) {
				if (ps->e - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u')
					return fail(ps, "a high surrogate without its low half");
				ps->p += 2;
				if (hex4(ps, &lo) < 0)
					return -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return fail(ps, "a high surrogate without its low half");
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			}
			o += utf8(o, u);
			break;
		default:
			ps->p--;
			return fail(ps, "not a JSON escape");
		}
	}
	ps->p++;
	*o = '\0';
	*out = buf;
	*outlen = o - buf;
	return 0;
}

static int
number(struct parser *ps, struct lq_jval *v)
{
	const char *start = ps->p, *q = ps->p;
	char tmp[64];
	int integer = 1;

	if (q < ps->e && *q == '-')
		q++;
	if (q >= ps->e || !isdigit((unsigned char)*q)) {
		ps->p = q;
		return fail(ps, "not a number");
	}
	if (*q == '0' && q + 1 < ps->e && isdigit((unsigned char)q[1])) {
		ps->p = q + 1;
		return fail(ps, "a number with a leading zero");
	}
	while (q < ps->e && isdigit((unsigned char)*q))
		q++;
	if (q < ps->e && *q == '.') {
		integer = 0;
		if (++q >= ps->e || !isdigit((unsigned char)*q)) {
			ps->p = q;
			return fail(ps, "a digit must follow the decimal point");
		}
		while (q < ps->e && isdigit((unsigned char)*q))
			q++;
	}
	if (q < ps->e && (*q == 'e' || *q == 'E')) {
		integer = 0;
		if (++q < ps->e && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->e || !isdigit((unsigned char)*q)) {
			ps->p = q;
			return fail(ps, "a digit must follow the exponent");
		}
		while (q < ps->e && isdigit((unsigned char)*q))
			q++;
	}
	if ((size_t)(q - start) >= sizeof tmp) {
		ps->p = start;
		return fail(ps, "a number too long");
	}
	memcpy(tmp, start, q - start);
	tmp[q - start] = '\0';
	errno = 0;
	if (integer) {
		long long i = strtoll(tmp, NULL, 10);

		v->is_int = errno == 0;
		v->i = i;
	}
	errno = 0;
	v->d = strtod(tmp, NULL);
	if (!isfinite(v->d)) {
		ps->p = start;
		return fail(ps, "a number out of range");
	}
	ps->p = q;
	return 0;
}

static int
literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->e - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "not a JSON value");
	ps->p += n;
	return 0;
}

static struct lq_jval *value(struct parser *);

static struct lq_jval *
container(struct parser *ps, enum lq_jtype t)
{
	struct lq_jval *v = node(ps, t), **tail, *item;
	char close = t == LQ_J_OBJ ? '}' : ']';

	if (v == NULL)
		return NULL;
	if (++ps->depth > LQ_JSON_MAXDEPTH) {
		fail(ps, "nested too deep");
		return NULL;
	}
	tail = &v->first;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->e && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return v;
	}
	for (;;) {
		const char *name = NULL;
		size_t namelen = 0;

		skip_ws(ps);
		if (t == LQ_J_OBJ) {
			if (ps->p >= ps->e || *ps->p != '"') {
				fail(ps, "a member name (a string) was expected");
				return NULL;
			}
			if (string(ps, &name, &namelen) < 0)
				return NULL;
			for (struct lq_jval *m = v->first; m != NULL; m = m->next)
				if (m->namelen == namelen && memcmp(m->name, name, namelen) == 0) {
					lq_err_set(ps->err, LQ_ECORRUPT, "member \"%.64s\" given twice",
					    name);
					return NULL;
				}
			skip_ws(ps);
			if (ps->p >= ps->e || *ps->p != ':') {
				fail(ps, "':' was expected after a member name");
				return NULL;
			}
			ps->p++;
		}
		if ((item = value(ps)) == NULL)
			return NULL;
		item->name = name;
		item->namelen = namelen;
		*tail = item;
		tail = &item->next;
		v->n++;
		skip_ws(ps);
		if (ps->p < ps->e && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->e && *ps->p == close) {
			ps->p++;
			ps->depth--;
			return v;
		}
		fail(ps, t == LQ_J_OBJ ? "',' or '}' was expected" : "',' or ']' was expected");
		return NULL;
	}
}

static struct lq_jval *
value(struct parser *ps)
{
	struct lq_jval *v;

	skip_ws(ps);
	if (ps->p >= ps->e) {
		fail(ps, "a value was expected");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
		return container(ps, LQ_J_OBJ);
	case '[':
		return container(ps, LQ_J_ARR);
	case '"':
		if ((v = node(ps, LQ_J_STR)) == NULL || string(ps, &v->s, &v->len) < 0)
			return NULL;
		return v;
	case 't':
	case 'f':
		if ((v = node(ps, LQ_J_BOOL)) == NULL)
			return NULL;
		v->boolean = *ps->p == 't';
		if (literal(ps, v->boolean ? "true" : "false") < 0)
			return NULL;
		return v;
	case 'n':
		if ((v = node(ps, LQ_J_NULL)) == NULL || literal(ps, "null") < 0)
			return NULL;
		return v;
	default:
		if ((v = node(ps, LQ_J_NUM)) == NULL || number(ps, v) < 0)
			return NULL;
		return v;
	}
}

struct lq_jval *
lq_json_parse(struct lq_arena *a, const char *s, size_t n, struct lq_err *err)
{
	struct parser ps = { s, s, s + n, a, err, 0 };
	struct lq_jval *v;

	if ((v = value(&ps)) == NULL)
		return NULL;
	skip_ws(&ps);
	if (ps.p < ps.e) {
		fail(&ps, "more after the end of the value");
		return NULL;
	}
	return v;
}

const struct lq_jval *
lq_json_get(const struct lq_jval *obj, const char *name)
{
	size_t n = strlen(name);

	if (obj == NULL || obj->type != LQ_J_OBJ)
		return NULL;
	for (const struct lq_jval *m = obj->first; m != NULL; m = m->next)
		if (m->namelen == n && memcmp(m->name, name, n) == 0)
			return m;
	return NULL;
}
