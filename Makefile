# mod_remoteuser_session - build, test, demo.
#
#   make              build/mod_remoteuser_session.so and build/remoteuser-admin
#   make check        the quick loop (about a minute or two on an idle
#                     machine): the static checks, the unit tests and the
#                     integration tests against a real httpd
#   make test         the full CI run: the static checks, unit tests,
#                     integration tests, unit tests under ASan+UBSan, the
#                     integration tests against an ASan+UBSan module, unit
#                     tests under valgrind, faults, fuzzing; ends with the
#                     totals (tests/run-all.sh)
#   make test-asan    the integration suite against an ASan+UBSan module
#   make unit-valgrind  the unit tests under valgrind memcheck
#   make test-faults  faults under load (kill -9, restarts, store faults)
#   make fuzz         libFuzzer targets, FUZZ_SECONDS each (default 30)
#   make bench        the benchmark (ratios against bare httpd)
#   make soak         3 minutes of mixed load: WAL size, child RSS slope
#   make demo         httpd on 127.0.0.1:8080 (DEMO_PORT=N for another
#                     port) with Basic auth in front and a session flow
#   make install      install the module with apxs (DESTDIR honoured)
#   make examples     write examples/ from the README's marked blocks
#                     (make check-examples: they are the same)
#   make clean        remove build/ (and demo-run/): the tree as checked out
#
# Everything is built under build/: each core source (src/rus_*.c) is
# compiled once into build/obj/ (PIC) and archived into build/libruscore.a,
# which the module, remoteuser-admin and the unit tests link. The
# sanitizer and fuzzing builds have their own instrumented copies under
# build/asan/ and build/fuzz/. The module exports only its module record
# (mod_remoteuser_session.map, asserted by check-symbols). The version is
# the one in the top-level VERSION file.

APXS       ?= apxs
PKG_CONFIG ?= pkg-config
CC         ?= cc
AR         ?= ar
# Debian's own interpreter: it is the one python3-pytest installs into.
PYTHON     ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
CLANG_FORMAT ?= clang-format

MODULE   = mod_remoteuser_session
CORE_SRC = $(wildcard src/rus_*.c)
CORE_HDR = $(wildcard include/rus_*.h)
GLUE_SRC = $(MODULE).c $(wildcard src/httpd_*.c)
ADMIN_SRC = $(wildcard tools/*.c)
UNIT_SRC = $(wildcard tests/unit/*.c)

# The one place the version is kept; debian/changelog, the man page and
# the README must agree with it (check-version).
VERSION := $(shell cat VERSION)
VERSION_CPPFLAGS = -DRUS_VERSION='"$(VERSION)"'

WARNINGS = -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
           -Wshadow -Wformat-security -Wwrite-strings

SQLITE_CFLAGS := $(shell $(PKG_CONFIG) --cflags sqlite3)
SQLITE_LIBS   := $(shell $(PKG_CONFIG) --libs sqlite3)
# libpq, for the PostgreSQL backend (src/rus_store_pg.c): the system's.
PG_CONFIG ?= pg_config
PG_CFLAGS := -I$(shell $(PG_CONFIG) --includedir)
PG_LIBS   := -lpq

# The core and its unit tests build without httpd: APR, APR-util, SQLite,
# libpq.
APR_CONFIG ?= $(shell which apr-1-config)
APU_CONFIG ?= $(shell which apu-1-config)
APR_CFLAGS := $(shell $(APR_CONFIG) --cflags --cppflags --includes) \
              $(shell $(APU_CONFIG) --includes)
APR_LIBS   := $(shell $(APU_CONFIG) --link-ld --libs) \
              $(shell $(APR_CONFIG) --link-ld --libs)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check)

# httpd's compiler flags (as apxs -c would use them) and headers.
APXS_CFLAGS  := $(shell $(APXS) -q CFLAGS)
APXS_CPPFLAGS := $(shell $(APXS) -q EXTRA_CPPFLAGS) \
                 -I$(shell $(APXS) -q INCLUDEDIR)
# httpd's hardening (-D_FORTIFY_SOURCE=2 on Debian), for every object of
# ours, the core and the CLI included, as apxs -c gave the old build.
HARDEN_CPPFLAGS := $(shell $(APXS) -q CPPFLAGS)

BUILD = build
OBJ   = $(BUILD)/obj

# CFLAGS, CPPFLAGS and LDFLAGS from the environment (dpkg-buildflags under
# debian/rules) come last, so that they win.
CORE_CFLAGS = $(APXS_CFLAGS) -fPIC $(WARNINGS) -Iinclude $(APR_CFLAGS) \
              $(SQLITE_CFLAGS) $(PG_CFLAGS) $(VERSION_CPPFLAGS) \
              $(HARDEN_CPPFLAGS) $(CFLAGS) $(CPPFLAGS)
GLUE_CFLAGS = $(APXS_CFLAGS) -fPIC $(WARNINGS) $(APXS_CPPFLAGS) -Isrc \
              -Iinclude $(APR_CFLAGS) $(SQLITE_CFLAGS) $(PG_CFLAGS) \
              $(VERSION_CPPFLAGS) $(HARDEN_CPPFLAGS) $(CFLAGS) $(CPPFLAGS)

ADMIN = remoteuser-admin
# remoteuser-admin --config runs this httpd unless told otherwise.
HTTPD_BIN := $(shell $(APXS) -q SBINDIR)/$(shell $(APXS) -q PROGNAME)
ADMIN_CFLAGS = -g -O2 -std=gnu99 -fstack-protector-strong $(HARDEN_CPPFLAGS) \
               $(WARNINGS) -Iinclude $(APR_CFLAGS) \
               $(SQLITE_CFLAGS) $(PG_CFLAGS) $(VERSION_CPPFLAGS) \
               -DRUS_HTTPD_DEFAULT='"$(HTTPD_BIN)"'

UNIT_CFLAGS = -g -O1 -std=gnu99 $(WARNINGS) -Wno-missing-prototypes \
              -Iinclude -Isrc $(APR_CFLAGS) $(SQLITE_CFLAGS) $(PG_CFLAGS) \
              $(CHECK_CFLAGS) $(VERSION_CPPFLAGS)
UNIT_LIBS = $(APR_LIBS) $(SQLITE_LIBS) $(PG_LIBS) $(CHECK_LIBS) -lpthread
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all

# Objects: build/obj/<source path>.o, with their header dependencies
# (-MMD) in build/obj/<source path>.d.
CORE_OBJ  = $(CORE_SRC:%.c=$(OBJ)/%.o)
GLUE_OBJ  = $(GLUE_SRC:%.c=$(OBJ)/%.o)
ADMIN_OBJ = $(ADMIN_SRC:%.c=$(OBJ)/%.o)
UNIT_OBJ  = $(UNIT_SRC:%.c=$(OBJ)/%.o)
CORE_LIB  = $(BUILD)/libruscore.a
DEPFLAGS  = -MMD -MP

MODULE_SO  = $(BUILD)/$(MODULE).so
ADMIN_BIN  = $(BUILD)/$(ADMIN)
# Only the module record is exported; everything else, the core included,
# is local to the .so (httpd loads modules RTLD_GLOBAL).
MODULE_MAP = $(MODULE).map
MODULE_LDFLAGS = -shared -Wl,--version-script=$(MODULE_MAP) \
                 -Wl,-z,relro -Wl,-z,now $(LDFLAGS)

# What the Python suites are told to load (tests/pyrus/harness.py).
RUS_PATHS = RUS_MODULE=$(CURDIR)/$(MODULE_SO) RUS_ADMIN=$(CURDIR)/$(ADMIN_BIN)

.PHONY: all check test unit unit-asan integration check-style \
        check-layering check-headers check-logids check-symbols \
        check-version check-examples examples format bench soak package \
        test-package test-faults demo install clean

all: $(MODULE_SO) $(ADMIN_BIN)

$(CORE_OBJ): $(OBJ)/%.o: %.c VERSION
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(GLUE_OBJ): $(OBJ)/%.o: %.c VERSION | check-layering
	@mkdir -p $(@D)
	$(CC) $(GLUE_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(ADMIN_OBJ): $(OBJ)/%.o: %.c VERSION
	@mkdir -p $(@D)
	$(CC) $(ADMIN_CFLAGS) $(CFLAGS) $(CPPFLAGS) $(DEPFLAGS) -c -o $@ $<

$(UNIT_OBJ): $(OBJ)/%.o: %.c VERSION
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(CORE_OBJ)

$(MODULE_SO): $(GLUE_OBJ) $(CORE_LIB) $(MODULE_MAP)
	$(CC) $(MODULE_LDFLAGS) -o $@ $(GLUE_OBJ) $(CORE_LIB) $(SQLITE_LIBS) \
	    $(PG_LIBS)

# The admin tool links the same core and backend as the module.
$(ADMIN_BIN): $(ADMIN_OBJ) $(CORE_LIB)
	$(CC) -Wl,-z,relro -Wl,-z,now $(LDFLAGS) -o $@ $(ADMIN_OBJ) \
	    $(CORE_LIB) $(APR_LIBS) $(SQLITE_LIBS) $(PG_LIBS)

$(BUILD)/unit: $(UNIT_OBJ) $(CORE_LIB)
	$(CC) -o $@ $(UNIT_OBJ) $(CORE_LIB) $(UNIT_LIBS)

-include $(CORE_OBJ:.o=.d) $(GLUE_OBJ:.o=.d) $(ADMIN_OBJ:.o=.d) \
         $(UNIT_OBJ:.o=.d)

# The core must stay httpd-free: no httpd header in src/rus_* or include/;
# and libpq is the PostgreSQL backend's alone.
check-layering:
	@bad=$$(grep -lE '#[[:space:]]*include[[:space:]]*[<"](httpd|http_[a-z_]+|ap_[a-z_]+|util_[a-z_]+|mod_[a-z_]+|unixd)\.h' \
	    $(CORE_SRC) $(CORE_HDR) 2>/dev/null); \
	if [ -n "$$bad" ]; then \
	    echo "layering violation: httpd headers included by $$bad" >&2; exit 1; \
	fi; \
	bad=$$(grep -lE '#[[:space:]]*include[[:space:]]*[<"]libpq-fe\.h' \
	    $(CORE_SRC) $(CORE_HDR) $(GLUE_SRC) $(ADMIN_SRC) 2>/dev/null | \
	    grep -vx 'src/rus_store_pg.c'); \
	if [ -n "$$bad" ]; then \
	    echo "layering violation: only src/rus_store_pg.c may include" \
	        "libpq-fe.h, not $$bad" >&2; exit 1; \
	fi

# httpd loads modules RTLD_GLOBAL: the module exports its module record
# and nothing else (the version script); undefined imports do not count.
check-symbols: $(MODULE_SO)
	@syms=$$(nm -D --defined-only $(MODULE_SO) | awk '{print $$3}'); \
	if [ "$$syms" != remoteuser_session_module ]; then \
	    echo "$(MODULE_SO) exports more than remoteuser_session_module:" \
	        $$syms >&2; exit 1; fi

# The VERSION file is the version; debian/changelog's top entry (which
# Debian's tools read), the man page and the README's startup line must
# say the same.
check-version:
	@v='$(VERSION)'; \
	echo "$$v" | grep -qE '^[0-9]+\.[0-9]+\.[0-9]+$$' || \
	    { echo "VERSION: '$$v' is not N.N.N" >&2; exit 1; }; \
	d=$$(sed -n '1s/^[^ ]* (\([^)-]*\)\(-[^)]*\)\{0,1\}).*/\1/p' debian/changelog); \
	[ "$$d" = "$$v" ] || \
	    { echo "debian/changelog is at '$$d', VERSION at $$v" >&2; exit 1; }; \
	grep -q "^\.TH .* \"mod_remoteuser_session $$v\"" docs/remoteuser-admin.8 || \
	    { echo "docs/remoteuser-admin.8: .TH does not say $$v" >&2; exit 1; }; \
	grep -q "mod_remoteuser_session/$$v, store" README.md || \
	    { echo "README.md: the RUS00001 example does not say $$v" >&2; exit 1; }

# Every public header compiles on its own.
check-headers:
	@for h in $(CORE_HDR); do \
	    echo "#include \"$$(basename $$h)\"" | \
	        $(CC) -fsyntax-only $(WARNINGS) -Iinclude $(APR_CFLAGS) \
	            $(VERSION_CPPFLAGS) -x c - \
	        || { echo "$$h is not self-contained" >&2; exit 1; }; \
	done

STYLE_FILES = $(GLUE_SRC) $(CORE_SRC) $(CORE_HDR) $(UNIT_SRC) \
              $(ADMIN_SRC) $(wildcard src/httpd_*.h) \
              $(wildcard tests/unit/*.h)

check-style:
	$(CLANG_FORMAT) --dry-run --Werror $(STYLE_FILES)
	@if grep -nE '\b(sprintf|strcpy|strcat|strncpy|strtok|atoi|atol|sscanf|gmtime|localtime|strerror)[[:space:]]*\(' \
	    $(GLUE_SRC) $(CORE_SRC) $(ADMIN_SRC); then \
	    echo "banned function used (see STYLE.md)" >&2; exit 1; fi

# Every log id used in the code is documented, once per call site.
check-logids:
	@used=$$(grep -ho 'RUSLOGNO([0-9]*)' $(GLUE_SRC) $(CORE_SRC) | sort); \
	dups=$$(echo "$$used" | uniq -d); \
	if [ -n "$$dups" ]; then echo "log ids used twice: $$dups" >&2; exit 1; fi; \
	for id in $$(echo "$$used" | tr -dc '0-9\n'); do \
	    grep -q "^| RUS$$id |" docs/log-ids.md || \
	        { echo "RUS$$id is not in docs/log-ids.md" >&2; exit 1; }; \
	done

# Every conf member created and merged; every directive in the README.
.PHONY: check-config
check-config:
	@sh scripts/check-config.sh

# examples/*.conf are the README's blocks marked <!-- example: ... -->,
# byte for byte (scripts/examples.py): edit the README, then make examples.
check-examples:
	@$(PYTHON) scripts/examples.py

examples:
	$(PYTHON) scripts/examples.py --write

format:
	$(CLANG_FORMAT) -i $(STYLE_FILES)

# The unit tests run against a PostgreSQL server of their own
# (tests/pyrus/pg.py sets RUS_TEST_PG_URI), so that the PostgreSQL suites
# never skip here.
PG_RUN = $(PYTHON) tests/pyrus/pg.py --

unit: $(BUILD)/unit
	$(PG_RUN) $(BUILD)/unit

unit-asan: $(BUILD)/unit-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(PG_RUN) \
	    $(BUILD)/unit-asan

integration: $(MODULE_SO) $(ADMIN_BIN)
	$(RUS_PATHS) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration \
	    tests/kerberos

# Faults under load against a real httpd: kill -9, graceful restarts,
# unreadable and locked store, disk full (tests/faults). About a minute.
test-faults: $(MODULE_SO) $(ADMIN_BIN)
	$(RUS_PATHS) $(PYTHON) -m pytest -q -s -p no:cacheprovider tests/faults

test-package:
	RUS_TEST_PACKAGE=1 $(RUS_PATHS) $(PYTHON) -m pytest -q -p no:cacheprovider tests/package

# The quick loop: the static checks, then the unit and integration tests.
check: check-style check-layering check-headers check-logids check-symbols \
        check-version check-config check-examples
	@$(MAKE) -s unit
	@$(MAKE) -s integration

test: $(MODULE_SO) $(ADMIN_BIN) $(BUILD)/unit $(BUILD)/unit-asan
	@sh tests/run-all.sh

include tests/sanitize.mk
include tests/fuzz/fuzz.mk

# Bounded load on 127.0.0.1 only; see bench/run.py --help.
bench: $(MODULE_SO) $(ADMIN_BIN)
	$(RUS_PATHS) $(PYTHON) bench/run.py $(BENCH_ARGS)

# 3 minutes of 70 % cookie, 20 % Basic, 10 % first-login requests on
# 127.0.0.1: the largest and last PATH-wal, and each child's RSS slope
# after a 30 s warm-up; see bench/soak.py --help (SOAK_ARGS).
soak: $(MODULE_SO) $(ADMIN_BIN)
	$(RUS_PATHS) $(PYTHON) bench/soak.py $(SOAK_ARGS)

# DEMO_PORT (default 8080) and DEMO_DIR (default demo-run/) are passed on
# from the environment or the command line (make demo DEMO_PORT=8081);
# sh scripts/demo.sh --help says what the demo does.
demo: $(MODULE_SO) $(ADMIN_BIN)
	@$(RUS_PATHS) sh scripts/demo.sh

# make install [DESTDIR=...] [APXS=...] [PREFIX=/usr]: the module into
# httpd's module directory (via apxs), remoteuser-admin into sbin, its man
# page, its bash completion, the README, the log-id table and the worked
# examples into DOCDIR, and the a2enmod files into mods-available.
PREFIX     ?= /usr
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/$(MODULE)
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Written with the CLI; install (and the package) need it.
COMPLETION = tools/$(ADMIN).bash-completion
LIBEXECDIR ?= $(shell $(APXS) -q LIBEXECDIR)
SYSCONFDIR ?= $(shell $(APXS) -q SYSCONFDIR)

# apxs installs the built .so as it is (its "dlname not found ... Assuming
# installing a .so" note is expected: there is no libtool archive).
install: $(MODULE_SO) $(ADMIN_BIN) $(COMPLETION)
	install -d $(DESTDIR)$(LIBEXECDIR)
	$(APXS) -S LIBEXECDIR=$(DESTDIR)$(LIBEXECDIR) -i -n remoteuser_session \
	    $(MODULE_SO)
	install -D -m 0755 $(ADMIN_BIN) $(DESTDIR)$(SBINDIR)/$(ADMIN)
	install -D -m 0644 docs/remoteuser-admin.8 \
	    $(DESTDIR)$(MANDIR)/man8/remoteuser-admin.8
	install -D -m 0644 $(COMPLETION) $(DESTDIR)$(BASHCOMPDIR)/$(ADMIN)
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 README.md docs/log-ids.md $(DESTDIR)$(DOCDIR)
	install -m 0644 examples/*.conf $(DESTDIR)$(DOCDIR)/examples
	install -D -m 0644 conf/remoteuser_session.load \
	    $(DESTDIR)$(SYSCONFDIR)/mods-available/remoteuser_session.load
	install -D -m 0644 conf/remoteuser_session.conf \
	    $(DESTDIR)$(SYSCONFDIR)/mods-available/remoteuser_session.conf

# Build the Debian package into build/package/ (needs dpkg-dev, debhelper).
package:
	rm -rf $(BUILD)/package && mkdir -p $(BUILD)/package/src
	git archive HEAD | tar -x -C $(BUILD)/package/src
	cd $(BUILD)/package/src && dpkg-buildpackage -us -uc -b
	ls $(BUILD)/package/*.deb

clean:
	rm -rf $(BUILD) demo-run
