# qtools -- small, fast tools for the mail queues of Exim, Postfix and qmail.
#   make            build bin/
#   make check      install what the tests need (as root), build, run every test
#   make demo       the main job on the bundled sample spool
#   make bench      CPU time and peak RSS against the native tools
#   make asan       the tools built with ASan+UBSan into build/asan/bin (make check runs
#                   the tests once more with them)
#   make tsan       the tools built with ThreadSanitizer into build/tsan/bin (make check runs
#                   the reading tests with them: tests/run-tsan)
#   make fuzz       every libFuzzer target in tests/fuzz for FUZZ_SECONDS (default 60) each
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        the Debian package ./qtools_VERSION_ARCH.deb (dpkg-buildpackage)
#   make check-unit the C unit tests alone (what the package build runs)

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
LDLIBS  += -lm -pthread
CFLAGS  += -pthread

TOOLS    = $(filter-out cli,$(basename $(notdir $(wildcard cmd/*.c))))
LIBSRC   = $(wildcard libqueue/*.c)
LIBOBJ   = $(LIBSRC:.c=.o)
CLIOBJ   = cmd/cli.o
BINS     = $(addprefix bin/,$(TOOLS))
UNITSRC  = $(wildcard tests/unit/*.c)
UNITBINS = $(UNITSRC:.c=)

all: $(BINS)

# each archive is made afresh: ar r keeps the members of a source file that is gone (say
# prefetch.o, whose thread helpers pipeline.o defines now), and a link could pull in both
libqueue/libqueue.a: $(LIBOBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBOBJ): libqueue/queue.h libqueue/backend.h
# explicit prerequisites: a pattern rule without a recipe would add none
$(addprefix cmd/,$(addsuffix .o,$(TOOLS))) $(CLIOBJ): cmd/cli.h libqueue/queue.h

bin/%: cmd/%.o $(CLIOBJ) libqueue/libqueue.a
	@mkdir -p bin
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests/unit/%: tests/unit/%.c libqueue/libqueue.a
	$(CC) $(CFLAGS) -Ilibqueue $(LDFLAGS) -o $@ $^ $(LDLIBS)

# an LD_PRELOAD shim for tests/t/56-act-rules.t (every pcre2_match fails: no memory)
build/tests/fail-pcre2.so: tests/fail-pcre2.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -fPIC -o $@ $<

deps:
	@scripts/install-deps

check: deps
	$(MAKE) all $(UNITBINS) asan tsan fuzz-build build/tests/fail-pcre2.so
	tests/run
	tests/run-asan
	tests/run-tsan

demo: deps
	$(MAKE) all
	scripts/demo

check-unit: $(UNITBINS)
	for t in $(UNITBINS); do ./$$t || exit 1; done

bench: deps
	$(MAKE) all
	scripts/bench

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 0644 $(TOOLS:%=man/%.1) $(DESTDIR)$(MANDIR)/man1
	install -m 0644 man/qtools.7 man/qtools-select.7 $(DESTDIR)$(MANDIR)/man7
	for t in $(TOOLS); do \
		install -m 0644 completions/qtools.bash $(DESTDIR)$(BASHCOMPDIR)/$$t || exit 1; \
	done
	install -m 0644 completions/_qtools $(DESTDIR)$(ZSHCOMPDIR)/_qtools

# dpkg-buildpackage writes the package beside the tree; it is brought into it
deb:
	dpkg-buildpackage -us -uc -b
	v=$$(dpkg-parsechangelog -S Version) a=$$(dpkg-architecture -qDEB_HOST_ARCH) && \
	mv ../qtools_$${v}_$${a}.deb ../qtools-dbgsym_$${v}_$${a}.deb \
		../qtools_$${v}_$${a}.buildinfo ../qtools_$${v}_$${a}.changes .

# ---------------------------------------------------------------- sanitizers, fuzzing
# clang, ASan + UBSan (every UB report fatal), objects under build/ so that the normal
# build is untouched. Warnings are errors in the normal build only (clang warns differently).
SANCC     ?= clang
SANFLAGS   = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SANCFLAGS  = $(filter-out -O2 -Werror,$(CFLAGS)) -O1 $(SANFLAGS)
ASANOBJ    = $(LIBSRC:libqueue/%.c=build/asan/libqueue/%.o)
ASANBINS   = $(addprefix build/asan/bin/,$(TOOLS))
FUZZ_TARGETS = exim postfix qmail select merge expr
FUZZOBJ    = $(LIBSRC:libqueue/%.c=build/fuzz/libqueue/%.o)
FUZZBINS   = $(addprefix build/fuzz/fuzz_,$(FUZZ_TARGETS))
FUZZ_SECONDS ?= 60

asan: $(ASANBINS)

build/asan/libqueue/%.o: libqueue/%.c libqueue/queue.h libqueue/backend.h
	@mkdir -p $(@D)
	$(SANCC) $(SANCFLAGS) -c -o $@ $<
build/asan/cmd/%.o: cmd/%.c cmd/cli.h libqueue/queue.h
	@mkdir -p $(@D)
	$(SANCC) $(SANCFLAGS) -c -o $@ $<
build/asan/libqueue.a: $(ASANOBJ)
	rm -f $@ && $(AR) rcs $@ $^
build/asan/setid.o: tests/asan-setid.c
	@mkdir -p $(@D)
	$(SANCC) $(SANCFLAGS) -c -o $@ $<
build/asan/bin/%: build/asan/cmd/%.o build/asan/cmd/cli.o build/asan/setid.o build/asan/libqueue.a
	@mkdir -p $(@D)
	$(SANCC) $(SANCFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# clang's ThreadSanitizer: the tools whose scans run the loading threads, objects under
# build/tsan/ (tests/run-tsan runs the reading tests with them)
TSANFLAGS  = -fsanitize=thread -fno-omit-frame-pointer
TSANCFLAGS = $(filter-out -O2 -Werror,$(CFLAGS)) -O1 $(TSANFLAGS)
TSANOBJ    = $(LIBSRC:libqueue/%.c=build/tsan/libqueue/%.o)
TSANBINS   = $(addprefix build/tsan/bin/,$(TOOLS))

tsan: $(TSANBINS)

build/tsan/libqueue/%.o: libqueue/%.c libqueue/queue.h libqueue/backend.h
	@mkdir -p $(@D)
	$(SANCC) $(TSANCFLAGS) -c -o $@ $<
build/tsan/cmd/%.o: cmd/%.c cmd/cli.h libqueue/queue.h
	@mkdir -p $(@D)
	$(SANCC) $(TSANCFLAGS) -c -o $@ $<
build/tsan/libqueue.a: $(TSANOBJ)
	rm -f $@ && $(AR) rcs $@ $^
build/tsan/bin/%: build/tsan/cmd/%.o build/tsan/cmd/cli.o build/tsan/libqueue.a
	@mkdir -p $(@D)
	$(SANCC) $(TSANCFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZBINS)

build/fuzz/libqueue/%.o: libqueue/%.c libqueue/queue.h libqueue/backend.h
	@mkdir -p $(@D)
	$(SANCC) $(SANCFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/libqueue.a: $(FUZZOBJ)
	rm -f $@ && $(AR) rcs $@ $^
build/fuzz/fuzz_%: tests/fuzz/%.c tests/fuzz/fuzz.h build/fuzz/libqueue.a
	$(SANCC) $(SANCFLAGS) -fsanitize=fuzzer -Ilibqueue $(LDFLAGS) -o $@ $< build/fuzz/libqueue.a $(LDLIBS)

fuzz: deps
	$(MAKE) fuzz-build
	tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf bin libqueue/*.o libqueue/*.a cmd/*.o $(UNITBINS) build/asan build/tsan build/fuzz/libqueue \
		build/fuzz/*.a $(FUZZBINS)

.PHONY: all deps check check-unit demo bench install deb clean asan tsan fuzz fuzz-build
.SECONDARY: $(LIBOBJ) $(addprefix cmd/,$(addsuffix .o,$(TOOLS))) $(CLIOBJ) $(ASANOBJ) \
	$(TOOLS:%=build/asan/cmd/%.o) build/asan/cmd/cli.o build/asan/setid.o $(FUZZOBJ) \
	$(TSANOBJ) $(TOOLS:%=build/tsan/cmd/%.o) build/tsan/cmd/cli.o
