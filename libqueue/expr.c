/*
 * expr.c -- the selection expressions of -e (qtools-select(7)): "sender ~ "x" and (age > 2d
 * or not frozen)". Parsed once into a tree whose every and/or holds its operands cheapest
 * first (flags and numbers, then envelope strings, then headers, then the body); evaluated
 * per message with short-circuit, so headers and the body are read only when the cheaper
 * operands did not decide.
 *
 * Three-valued, as lq_select_match: 1 selected, 0 not, -1 cannot tell (content that could not
 * be read, a regex engine error; err set). and/or follow Kleene's logic (false and unknown is
 * false, true or unknown is true: what the evaluation order cannot change) and not keeps
 * unknown unknown, so a message is never selected on a test that could not be made.
 *
 * What each test means is said once: sender, recipient, header() and body are evaluated by
 * a selection of their own (lq_select_new with -f, -r, --header or --body), so they mean
 * exactly what the options mean; age and the recipients that count come from backend.h.
 *
 * Bounds: an expression is at most EXPR_MAXLEN bytes, parentheses nest at most
 * EXPR_MAXDEPTH deep, and all the expressions hold at most EXPR_MAXTESTS tests. The parser
 * recurses once per parenthesis (so no deeper than the bound; a run of "not" is a loop), and
 * the tree is no deeper than twice that.
 *
 * Entry points (backend.h): lq_expr_new, lq_expr_free, lq_expr_needs, lq_expr_eval.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define EXPR_MAXLEN 16384
#define EXPR_MAXDEPTH 100
#define EXPR_MAXTESTS 256
#define SHOW_WIDTH 72		/* bytes of a long expression shown around the caret */

enum op { OP_RE, OP_NRE, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
static const char *const op_names[] = { "~", "!~", "==", "!=", "<", "<=", ">", ">=" };

enum field {
	F_SENDER, F_RCPT, F_EVERY, F_RCOUNT, F_AGE, F_SIZE, F_QUEUE, F_ID, F_REASON,
	F_HEADER, F_BODY, F_FLAG
};
enum ftype { T_STRING, T_DURATION, T_SIZE, T_COUNT, T_FLAG };

static const struct field_def {
	const char *name;
	enum field field;
	enum ftype type;
	unsigned flag;		/* T_FLAG: the message flag */
	int cost;		/* 0 flags and numbers, 1 envelope strings, 2 headers, 3 body */
} fields[] = {
	{ "sender", F_SENDER, T_STRING, 0, 1 },
	{ "recipient", F_RCPT, T_STRING, 0, 1 },
	{ "every-recipient", F_EVERY, T_STRING, 0, 1 },
	{ "rcpt-count", F_RCOUNT, T_COUNT, 0, 0 },
	{ "age", F_AGE, T_DURATION, 0, 0 },
	{ "size", F_SIZE, T_SIZE, 0, 0 },
	{ "queue", F_QUEUE, T_STRING, 0, 1 },
	{ "id", F_ID, T_STRING, 0, 1 },
	{ "reason", F_REASON, T_STRING, 0, 1 },
	{ "header", F_HEADER, T_STRING, 0, 2 },
	{ "body", F_BODY, T_STRING, 0, 3 },
	{ "frozen", F_FLAG, T_FLAG, LQ_MSG_FROZEN, 0 },
	{ "bounce", F_FLAG, T_FLAG, LQ_MSG_BOUNCE, 0 },
	{ "active", F_FLAG, T_FLAG, LQ_MSG_ACTIVE, 0 },
	{ "expired", F_FLAG, T_FLAG, LQ_MSG_EXPIRED, 0 },
};

enum nkind {
	N_AND, N_OR,
	N_FLAG,			/* a message flag */
	N_NUM,			/* age, size, rcpt-count against a number */
	N_RE,			/* every-recipient, id, queue against our own regex */
	N_SEL,			/* sender, recipient, header(), body: a selection of their own */
};

struct node {
	enum nkind kind;
	int neg;		/* not (and !~, != on strings) */
	int cost;		/* the dearest test under it */
	struct node **kids;	/* N_AND, N_OR */
	size_t nkids;
	enum field field;
	const char *name;	/* the field's, for errors */
	enum op op;		/* N_NUM */
	int64_t num;
	unsigned flag;		/* N_FLAG */
	struct lq_regex re;	/* N_RE */
	struct lq_select *sel;	/* N_SEL */
};

struct lq_expr {
	struct node *root;
	time_t now;
	int all_rcpts;
	unsigned needs;		/* LQ_EXPR_* */
	size_t ntests;
};

/* ---------------------------------------------------------------- the tree */

static void
node_free(struct node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	lq_regex_free(&n->re);
	lq_select_free(n->sel);
	free(n);
}

static int
add_kid(struct node *n, struct node *kid)
{
	struct node **k;

	/* (a and b) and c is one and of three: its operands can all be ordered by cost */
	if (kid->kind == n->kind && !kid->neg) {
		if ((k = reallocarray(n->kids, n->nkids + kid->nkids, sizeof *k)) == NULL)
			return -1;
		n->kids = k;
		memcpy(n->kids + n->nkids, kid->kids, kid->nkids * sizeof *k);
		n->nkids += kid->nkids;
		kid->nkids = 0;
		node_free(kid);
		return 0;
	}
	if ((k = reallocarray(n->kids, n->nkids + 1, sizeof *k)) == NULL)
		return -1;
	n->kids = k;
	n->kids[n->nkids++] = kid;
	return 0;
}

/* Cheapest operands first (a stable insertion sort: few operands), and the node's cost. */
static void
order_kids(struct node *n)
{
	n->cost = 0;
	for (size_t i = 1; i < n->nkids; i++) {
		struct node *k = n->kids[i];
		size_t j = i;

		for (; j > 0 && n->kids[j - 1]->cost > k->cost; j--)
			n->kids[j] = n->kids[j - 1];
		n->kids[j] = k;
	}
	for (size_t i = 0; i < n->nkids; i++)
		if (n->kids[i]->cost > n->cost)
			n->cost = n->kids[i]->cost;
}

/* ---------------------------------------------------------------- the parser */

enum tkind { TK_END, TK_LPAREN, TK_RPAREN, TK_AND, TK_OR, TK_NOT, TK_OP, TK_STRING,
	TK_NUMBER, TK_WORD };

struct parser {
	const char *s;		/* the expression being parsed */
	size_t len, pos;	/* pos: where the next token starts looking */
	enum tkind tk;		/* the current token: kind, start, length */
	size_t at, toklen;
	enum op op;		/* TK_OP */
	struct lq_buf str;	/* TK_STRING: the value, escapes undone, NUL-terminated */
	int depth;
	struct lq_expr *x;
	const struct lq_select_opts *o;
	time_t now;
	struct lq_err *err;
};

/*
 * The error: what is wrong, then the expression (a window of it around the column when it
 * is long; control characters as '?') and a caret under the column, counted in characters.
 */
static int
perr(struct parser *p, size_t at, const char *fmt, ...) LQ_PRINTF(3, 4);

static int
perr(struct parser *p, size_t at, const char *fmt, ...)
{
	char why[300], line[3 + SHOW_WIDTH + 3 + 3 + 1];	/* ...window... */
	size_t from = 0, to = p->len, k = 0, col = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	for (char *c = why; *c; c++)	/* a regex quoted in it may hold a newline */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (at > p->len)
		at = p->len;
	if (p->len > SHOW_WIDTH) {
		from = at > SHOW_WIDTH / 2 ? at - SHOW_WIDTH / 2 : 0;
		to = from + SHOW_WIDTH < p->len ? from + SHOW_WIDTH : p->len;
		/* start on a character (of valid UTF-8: up to 3 bytes back) */
		for (int back = 0; back < 3 && from > 0 &&
		    ((unsigned char)p->s[from] & 0xc0) == 0x80; back++)
			from--;
		while (to > from && to < p->len && ((unsigned char)p->s[to] & 0xc0) == 0x80)
			to--;
	}
	if (from > 0) {
		memcpy(line, "...", 3);
		k = col = 3;
	}
	for (size_t i = from; i < to; i++) {
		unsigned char c = p->s[i];

		line[k++] = c < 0x20 || c == 0x7f ? '?' : c;
		if (i < at && (c & 0xc0) != 0x80)
			col++;
	}
	if (to < p->len) {
		memcpy(line + k, "...", 3);
		k += 3;
	}
	line[k] = '\0';
	return lq_err_set(p->err, LQ_EUSAGE, "-e: %s\n  %s\n  %*s^", why, line, (int)col, "");
}

static int
nomem(struct parser *p)
{
	return lq_err_set(p->err, LQ_ENOMEM, "out of memory");
}

static int
is_word(int c)
{
	return isalnum(c) || c == '-' || c == '_';
}

/* The next token. */
static int
next(struct parser *p)
{
	const char *s = p->s;
	size_t i = p->pos;

	while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	p->at = i;
	if (i == p->len) {
		p->tk = TK_END;
		p->toklen = 0;
		return 0;
	}
	switch (s[i]) {
	case '(': p->tk = TK_LPAREN; i++; break;
	case ')': p->tk = TK_RPAREN; i++; break;
	case '&':
		if (i + 1 == p->len || s[i + 1] != '&')
			return perr(p, i, "'&' alone: write && or and");
		p->tk = TK_AND, i += 2;
		break;
	case '|':
		if (i + 1 == p->len || s[i + 1] != '|')
			return perr(p, i, "'|' alone: write || or or");
		p->tk = TK_OR, i += 2;
		break;
	case '!':
		if (i + 1 < p->len && (s[i + 1] == '~' || s[i + 1] == '=')) {
			p->tk = TK_OP, p->op = s[i + 1] == '~' ? OP_NRE : OP_NE, i += 2;
		} else
			p->tk = TK_NOT, i++;
		break;
	case '~': p->tk = TK_OP, p->op = OP_RE, i++; break;
	case '=':
		if (i + 1 == p->len || s[i + 1] != '=')
			return perr(p, i, "'=' alone: write == to compare");
		p->tk = TK_OP, p->op = OP_EQ, i += 2;
		break;
	case '<': case '>': {
		int eq = i + 1 < p->len && s[i + 1] == '=';

		p->tk = TK_OP;
		p->op = s[i] == '<' ? (eq ? OP_LE : OP_LT) : (eq ? OP_GE : OP_GT);
		i += 1 + eq;
		break;
	}
	case '"':
		p->str.len = 0;
		for (i++; i < p->len && s[i] != '"'; i++) {
			/* \" and \\ are escapes; any other backslash stays, for the regex */
			if (s[i] == '\\' && i + 1 < p->len && (s[i + 1] == '"' || s[i + 1] == '\\'))
				i++;
			if (lq_buf_append(&p->str, s + i, 1) < 0)
				return nomem(p);
		}
		if (i == p->len)
			return perr(p, p->at, "a string without its closing \"");
		if (lq_buf_append(&p->str, "", 1) < 0)
			return nomem(p);
		p->str.len--;
		p->tk = TK_STRING;
		i++;
		break;
	case '-':
		if (i + 1 < p->len && isdigit((unsigned char)s[i + 1]))
			return perr(p, i, "a negative number: ages, sizes and counts are never below 0");
		return perr(p, i, "unexpected '-'");
	default:
		if (isdigit((unsigned char)s[i])) {
			while (i < p->len && isdigit((unsigned char)s[i]))
				i++;
			while (i < p->len && isalpha((unsigned char)s[i]))
				i++;
			p->tk = TK_NUMBER;
		} else if (isalpha((unsigned char)s[i])) {
			while (i < p->len && is_word((unsigned char)s[i]))
				i++;
			p->tk = TK_WORD;
			if (i - p->at == 3 && memcmp(s + p->at, "and", 3) == 0)
				p->tk = TK_AND;
			else if (i - p->at == 2 && memcmp(s + p->at, "or", 2) == 0)
				p->tk = TK_OR;
			else if (i - p->at == 3 && memcmp(s + p->at, "not", 3) == 0)
				p->tk = TK_NOT;
		} else if (isprint((unsigned char)s[i]))
			return perr(p, i, "unexpected '%c'", s[i]);
		else
			return perr(p, i, "unexpected byte 0x%02x", (unsigned char)s[i]);
	}
	p->toklen = i - p->at;
	p->pos = i;
	return 0;
}

static const struct field_def *
lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strlen(fields[i].name) == len && memcmp(fields[i].name, name, len) == 0)
			return &fields[i];
	return NULL;
}

/* A regex that matches exactly s (whole value), for == and != */
static char *
literal_regex(const char *s)
{
	char *re = malloc(2 * strlen(s) + 4), *q = re;

	if (re == NULL)
		return NULL;
	*q++ = '^';
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !((unsigned char)*s & 0x80))
			*q++ = '\\';
		*q++ = *s;
	}
	memcpy(q, "\\z", 3);
	return re;
}

/* sender, recipient, header(NAME), body: a selection of their own, with the option of the
 * same meaning; the regex is compiled first on its own so that an error names the test. */
static int
own_selection(struct parser *p, struct node *n, const char *name, const char *hname,
    const char *re, size_t at)
{
	struct lq_select_opts so = { .case_sensitive = p->o->case_sensitive,
		.all_rcpts = p->o->all_rcpts };
	struct lq_regex check = { 0 };
	const char *headers[1];
	char *spec = NULL;

	if (lq_regex_compile(&check, name, re, !p->o->case_sensitive, p->err) < 0) {
		char why[sizeof p->err->msg];

		lq_regex_free(&check);
		if (p->err->code == LQ_ENOMEM)
			return -1;
		memcpy(why, p->err->msg, sizeof why);
		return perr(p, at, "%s", why);
	}
	lq_regex_free(&check);
	switch (n->field) {
	case F_SENDER: so.sender = re; break;
	case F_RCPT: so.rcpt = re; break;
	case F_REASON: so.reason = re; break;
	case F_BODY: so.body = re; break;
	default:
		/* "Name: regex" (--header drops the blanks after the colon: "(?:)" keeps those
		 * the regex begins with) */
		if ((spec = malloc(strlen(hname) + strlen(re) + 8)) == NULL)
			return nomem(p);
		sprintf(spec, "%s: %s%s", hname, re[0] == ' ' || re[0] == '\t' ? "(?:)" : "", re);
		headers[0] = spec;
		so.headers = headers;
		so.nheaders = 1;
		break;
	}
	n->sel = lq_select_new(&so, p->now, p->err);
	free(spec);
	return n->sel == NULL ? -1 : 0;
}

/* The number after an operator: a duration, a size, or a count, by the field. */
static int
number(struct parser *p, struct node *n, const struct field_def *f)
{
	char text[32], why[sizeof p->err->msg];
	time_t t;
	int rc;

	if (p->tk != TK_NUMBER)
		return perr(p, p->at, "%s takes a number (like %s)%s", f->name,
		    f->type == T_DURATION ? "7d" : f->type == T_SIZE ? "10M" : "3",
		    p->tk == TK_STRING ? ", not a string" : "");
	if (p->toklen >= sizeof text)
		return perr(p, p->at, "a number too long");
	memcpy(text, p->s + p->at, p->toklen);
	text[p->toklen] = '\0';
	switch (f->type) {
	case T_DURATION:
		if ((rc = lq_parse_duration(text, &t, p->err)) == 0)
			n->num = t;
		break;
	case T_SIZE:
		rc = lq_parse_size(text, &n->num, p->err);
		break;
	default:
		errno = 0;
		n->num = strtoll(text, NULL, 10);
		rc = 0;
		if (strspn(text, "0123456789") != p->toklen)
			rc = lq_err_set(p->err, LQ_EUSAGE, "%s: a count has no unit", text);
		else if (errno != 0)
			rc = lq_err_set(p->err, LQ_EUSAGE, "%s: too large", text);
		break;
	}
	if (rc < 0) {
		memcpy(why, p->err->msg, sizeof why);
		return perr(p, p->at, "%s", why);
	}
	return 0;
}

/* The current token must be kind (else the error says what was expected); go past it. */
static int
expect(struct parser *p, enum tkind kind, const char *what)
{
	if (p->tk != kind)
		return perr(p, p->at, "%s", what);
	return next(p);
}

/* header("Name"): the name, a copy in *name. */
static int
header_name(struct parser *p, char **name)
{
	if (expect(p, TK_LPAREN, "expected (\"Name\") after header") < 0)
		return -1;
	if (p->tk != TK_STRING)
		return perr(p, p->at, "expected the header's name in double quotes");
	if (p->str.len == 0)
		return perr(p, p->at, "an empty header name");
	for (size_t i = 0; i < p->str.len; i++)
		if (!isgraph((unsigned char)p->str.data[i]) || p->str.data[i] == ':')
			return perr(p, p->at, "a header name is printable characters, no blank, "
			    "no colon");
	if ((*name = strdup(p->str.data)) == NULL)
		return nomem(p);
	if (next(p) < 0)
		return -1;
	return expect(p, TK_RPAREN, "expected ) after the header's name");
}

/* A string field and its operator, the string being the current token. */
static int
string_test(struct parser *p, struct node *n, const struct field_def *f, enum op op,
    size_t opat, const char *hname)
{
	char *lit = NULL, why[sizeof p->err->msg];
	const char *re;
	int rc, caseless;

	if (op != OP_RE && op != OP_NRE && op != OP_EQ && op != OP_NE)
		return perr(p, opat, "%s is not a number: compare it with ~ !~ == !=", f->name);
	if (p->tk != TK_STRING)
		return perr(p, p->at, "expected a double-quoted string after %s", op_names[op]);
	if ((op == OP_EQ || op == OP_NE) && (lit = literal_regex(p->str.data)) == NULL)
		return nomem(p);
	re = lit ? lit : p->str.data;
	n->neg = op == OP_NRE || op == OP_NE;
	if (f->field == F_EVERY || f->field == F_ID || f->field == F_QUEUE) {
		n->kind = N_RE;
		/* an ID is compared with == case and all: IDs differ by case alone */
		caseless = !p->o->case_sensitive && !(f->field == F_ID && lit != NULL);
		if ((rc = lq_regex_compile(&n->re, f->name, re, caseless, p->err)) < 0 &&
		    p->err->code != LQ_ENOMEM) {
			memcpy(why, p->err->msg, sizeof why);
			perr(p, p->at, "%s", why);
		}
	} else {
		n->kind = N_SEL;
		rc = own_selection(p, n, f->name, hname, re, p->at);
		if (f->field == F_HEADER || f->field == F_BODY)
			p->x->needs |= LQ_EXPR_CONTENT;
		if (f->field == F_REASON)
			p->x->needs |= LQ_EXPR_REASONS;
	}
	free(lit);
	return rc;
}

/* test := field op value | flag; field := ... | header("Name") */
static struct node *
parse_test(struct parser *p)
{
	const struct field_def *f;
	struct node *n;
	char *hname = NULL;
	size_t at = p->at, opat;
	enum op op;
	int rc = -1;

	if (p->tk != TK_WORD) {
		perr(p, at, p->tk == TK_END ? "the expression ends where a test should be" :
		    "expected a test: a field and its value, a flag, not, or (");
		return NULL;
	}
	if ((f = lookup(p->s + at, p->toklen)) == NULL) {
		perr(p, at, "unknown field or flag '%.*s' (fields: sender recipient "
		    "every-recipient rcpt-count age size queue id reason header(\"Name\") body; flags: "
		    "frozen bounce active expired)", (int)(p->toklen > 40 ? 40 : p->toklen),
		    p->s + at);
		return NULL;
	}
	if (++p->x->ntests > EXPR_MAXTESTS) {
		perr(p, at, "more than %d tests: too many", EXPR_MAXTESTS);
		return NULL;
	}
	if ((n = calloc(1, sizeof *n)) == NULL) {
		nomem(p);
		return NULL;
	}
	n->field = f->field;
	n->name = f->name;
	n->cost = f->cost;
	if (next(p) < 0)
		goto done;
	if (f->type == T_FLAG) {
		n->kind = N_FLAG;
		n->flag = f->flag;
		if (f->flag == LQ_MSG_ACTIVE)
			p->x->needs |= LQ_EXPR_LOCKS;
		rc = p->tk != TK_OP ? 0 : perr(p, p->at, "%s is a flag: it takes no operator "
		    "(not %s: its opposite)", f->name, f->name);
		goto done;
	}
	if (f->field == F_HEADER && header_name(p, &hname) < 0)
		goto done;
	if (p->tk != TK_OP) {
		perr(p, p->at, "expected an operator after %s: ~ !~ == != < <= > >=", f->name);
		goto done;
	}
	op = p->op;
	opat = p->at;
	if (next(p) < 0)
		goto done;
	if (f->type == T_STRING) {
		if (string_test(p, n, f, op, opat, hname) < 0)
			goto done;
	} else {
		if (op == OP_RE || op == OP_NRE) {
			perr(p, opat, "%s is a number: compare it with == != < <= > >=", f->name);
			goto done;
		}
		n->kind = N_NUM;
		n->op = op;
		if (number(p, n, f) < 0)
			goto done;
		if (f->field == F_SIZE)
			p->x->needs |= LQ_EXPR_SIZE;
	}
	rc = next(p);
done:
	free(hname);
	if (rc < 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

static struct node *parse_or(struct parser *);

/* factor := "not" factor | "(" expr ")" | test */
static struct node *
parse_factor(struct parser *p)
{
	struct node *n;
	size_t open;
	int neg = 0;

	for (; p->tk == TK_NOT; neg = !neg)
		if (next(p) < 0)
			return NULL;
	if (p->tk != TK_LPAREN)
		n = parse_test(p);
	else {
		open = p->at;
		if (++p->depth > EXPR_MAXDEPTH) {
			perr(p, open, "parentheses nested more than %d deep", EXPR_MAXDEPTH);
			return NULL;
		}
		if (next(p) < 0 || (n = parse_or(p)) == NULL)
			return NULL;
		if (p->tk != TK_RPAREN) {
			perr(p, p->at, p->tk == TK_END ? "the ( at column %zu is not closed" :
			    "expected ) to close the ( at column %zu", open + 1);
			node_free(n);
			return NULL;
		}
		p->depth--;
		if (next(p) < 0) {
			node_free(n);
			return NULL;
		}
	}
	if (n != NULL && neg)
		n->neg = !n->neg;
	return n;
}

/* expr := term { "or" term }; term := factor { "and" factor } */
static struct node *
parse_list(struct parser *p, enum nkind kind)
{
	enum tkind sep = kind == N_OR ? TK_OR : TK_AND;
	struct node *first, *n, *kid;

	first = kind == N_OR ? parse_list(p, N_AND) : parse_factor(p);
	if (first == NULL || p->tk != sep)
		return first;
	if ((n = calloc(1, sizeof *n)) == NULL || add_kid(n, first) < 0) {
		free(n);
		node_free(first);
		nomem(p);
		return NULL;
	}
	n->kind = kind;
	while (p->tk == sep) {
		if (next(p) < 0)
			goto fail;
		if ((kid = kind == N_OR ? parse_list(p, N_AND) : parse_factor(p)) == NULL)
			goto fail;
		if (add_kid(n, kid) < 0) {
			node_free(kid);
			nomem(p);
			goto fail;
		}
	}
	order_kids(n);
	return n;
fail:
	node_free(n);
	return NULL;
}

static struct node *
parse_or(struct parser *p)
{
	return parse_list(p, N_OR);
}

static struct node *
parse(struct parser *p)
{
	struct node *n;

	p->len = strlen(p->s);
	if (p->len > EXPR_MAXLEN) {
		perr(p, EXPR_MAXLEN, "an expression longer than %d bytes (%zu)", EXPR_MAXLEN,
		    p->len);
		return NULL;
	}
	if (next(p) < 0 || (n = parse_or(p)) == NULL)
		return NULL;
	if (p->tk != TK_END) {
		perr(p, p->at, p->tk == TK_RPAREN ? "a ) that closes no (" :
		    "expected and, or, or the end of the expression");
		node_free(n);
		return NULL;
	}
	return n;
}

struct lq_expr *
lq_expr_new(const char *const *exprs, size_t nexprs, const struct lq_select_opts *o,
    time_t now, struct lq_err *err)
{
	struct lq_expr *x = calloc(1, sizeof *x);
	struct parser p = { .o = o, .now = now, .err = err };
	struct node *n;

	if (x == NULL || (x->root = calloc(1, sizeof *x->root)) == NULL) {
		free(x);
		lq_err_set(err, LQ_ENOMEM, "out of memory");
		return NULL;
	}
	x->now = now;
	x->all_rcpts = o->all_rcpts;
	x->root->kind = N_AND;
	p.x = x;
	for (size_t i = 0; i < nexprs; i++) {
		p.s = exprs[i];
		p.pos = 0;
		p.depth = 0;
		if ((n = parse(&p)) == NULL)
			goto fail;
		if (add_kid(x->root, n) < 0) {
			node_free(n);
			lq_err_set(err, LQ_ENOMEM, "out of memory");
			goto fail;
		}
	}
	order_kids(x->root);
	lq_buf_free(&p.str);
	return x;
fail:
	lq_buf_free(&p.str);
	lq_expr_free(x);
	return NULL;
}

void
lq_expr_free(struct lq_expr *x)
{
	if (x == NULL)
		return;
	node_free(x->root);
	free(x);
}

unsigned
lq_expr_needs(const struct lq_expr *x)
{
	return x == NULL ? 0 : x->needs;
}

/* ---------------------------------------------------------------- evaluation */

static int
re_test(struct node *n, const char *s, struct lq_err *err)
{
	return lq_regex_match(&n->re, n->name, s, strlen(s), err);
}

static int
eval_re(struct lq_expr *x, struct node *n, const struct lq_msg *m, struct lq_err *err)
{
	int r = 0;

	switch (n->field) {
	case F_ID:
		return re_test(n, m->id, err);
	case F_QUEUE:
		if (m->queue != NULL && (r = re_test(n, m->queue, err)) != 0)
			return r;
		return re_test(n, lq_state_name(m), err);
	default:	/* F_EVERY: true when no recipient that counts fails to match */
		for (size_t i = 0; i < m->nrcpt; i++)
			if (lq_rcpt_counts(&m->rcpt[i], x->all_rcpts) &&
			    (r = re_test(n, m->rcpt[i].address, err)) != 1)
				return r;
		return 1;
	}
}

static int
eval_num(struct lq_expr *x, const struct node *n, const struct lq_msg *m)
{
	int64_t v = 0;

	switch (n->field) {
	case F_AGE:
		v = lq_msg_age(m, x->now);
		break;
	case F_SIZE:
		v = m->size;
		break;
	default:
		for (size_t i = 0; i < m->nrcpt; i++)
			v += lq_rcpt_counts(&m->rcpt[i], x->all_rcpts);
		break;
	}
	switch (n->op) {
	case OP_EQ: return v == n->num;
	case OP_NE: return v != n->num;
	case OP_LT: return v < n->num;
	case OP_LE: return v <= n->num;
	case OP_GT: return v > n->num;
	default: return v >= n->num;
	}
}

static int
eval(struct lq_expr *x, struct node *n, struct lq_spool *sp, struct lq_msg *m,
    struct lq_err *err)
{
	int r, v, decides;

	switch (n->kind) {
	case N_AND:
	case N_OR:
		/* the first operand that is false (and) or true (or) decides; an operand that
		 * cannot tell leaves the answer unknown unless a later one decides */
		decides = n->kind == N_OR;
		r = !decides;
		for (size_t i = 0; i < n->nkids; i++) {
			if ((v = eval(x, n->kids[i], sp, m, err)) == decides) {
				r = decides;
				break;
			}
			if (v < 0)
				r = -1;
		}
		break;
	case N_FLAG:
		r = (m->flags & n->flag) != 0;
		break;
	case N_NUM:
		r = eval_num(x, n, m);
		break;
	case N_RE:
		r = eval_re(x, n, m, err);
		break;
	default:
		r = lq_select_match(n->sel, sp, m, err);
		break;
	}
	return r < 0 ? -1 : n->neg ? !r : r;
}

int
lq_expr_eval(struct lq_expr *x, struct lq_spool *sp, struct lq_msg *m, struct lq_err *err)
{
	return eval(x, x->root, sp, m, err);
}
