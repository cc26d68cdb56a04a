# qtools -- small, fast tools for the mail queues of Exim, Postfix and qmail.
#   make            build bin/
#   make check      install what the tests need (as root), build, run every test
#   make demo       the main job on the bundled sample spool
#   make bench      CPU time and peak RSS against the native tools
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions

CC      ?= cc
PKGS     = popt libpcre2-8 libbsd
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpopt -lpcre2-8 -lbsd)
LDLIBS  += -lm

TOOLS    = $(filter-out cli,$(basename $(notdir $(wildcard cmd/*.c))))
LIBSRC   = $(wildcard libqueue/*.c)
LIBOBJ   = $(LIBSRC:.c=.o)
CLIOBJ   = cmd/cli.o
BINS     = $(addprefix bin/,$(TOOLS))
UNITSRC  = $(wildcard tests/unit/*.c)
UNITBINS = $(UNITSRC:.c=)

all: $(BINS)

libqueue/libqueue.a: $(LIBOBJ)
	$(AR) rcs $@ $^

$(LIBOBJ): libqueue/queue.h libqueue/backend.h
# explicit prerequisites: a pattern rule without a recipe would add none
$(addprefix cmd/,$(addsuffix .o,$(TOOLS))) $(CLIOBJ): cmd/cli.h libqueue/queue.h

bin/%: cmd/%.o $(CLIOBJ) libqueue/libqueue.a
	@mkdir -p bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests/unit/%: tests/unit/%.c libqueue/libqueue.a
	$(CC) $(CFLAGS) -Ilibqueue $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@scripts/install-deps

check: deps
	$(MAKE) all $(UNITBINS)
	tests/run

demo: deps
	$(MAKE) all
	scripts/demo

bench: deps
	$(MAKE) all
	scripts/bench

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 0644 $(TOOLS:%=man/%.1) $(DESTDIR)$(MANDIR)/man1
	for t in $(TOOLS); do \
		install -m 0644 completions/qtools.bash $(DESTDIR)$(BASHCOMPDIR)/$$t || exit 1; \
	done
	install -m 0644 completions/_qtools $(DESTDIR)$(ZSHCOMPDIR)/_qtools

clean:
	rm -rf bin libqueue/*.o libqueue/*.a cmd/*.o $(UNITBINS)

.PHONY: all deps check demo bench install clean
.SECONDARY: $(LIBOBJ) $(addprefix cmd/,$(addsuffix .o,$(TOOLS))) $(CLIOBJ)
