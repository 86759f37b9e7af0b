# mod_remoteuser_session - build, test, demo.
#
#   make              build mod_remoteuser_session.so with apxs
#   make test         style + layering checks, unit tests, integration tests
#                     against a real httpd, unit tests under ASan+UBSan;
#                     ends with the totals
#   make test-asan    the integration suite against an ASan+UBSan module
#   make unit-valgrind  the unit tests under valgrind memcheck
#   make test-faults  faults under load (kill -9, restarts, store faults)
#   make fuzz         libFuzzer targets, FUZZ_SECONDS each (default 30)
#   make bench        the benchmark (ratios against bare httpd)
#   make soak         3 minutes of mixed load: WAL size, child RSS slope
#   make demo         httpd on 127.0.0.1:8080 with Basic auth in front
#   make install      install the module with apxs (DESTDIR honoured)

APXS       ?= apxs
PKG_CONFIG ?= pkg-config
CC         ?= cc
# Debian's own interpreter: it is the one python3-pytest installs into.
PYTHON     ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
CLANG_FORMAT ?= clang-format

MODULE   = mod_remoteuser_session
CORE_SRC = $(wildcard src/rus_*.c)
CORE_HDR = $(wildcard include/rus_*.h)
GLUE_SRC = $(MODULE).c $(wildcard src/httpd_*.c)

WARNINGS = -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
           -Wshadow -Wformat-security -Wwrite-strings

SQLITE_CFLAGS := $(shell $(PKG_CONFIG) --cflags sqlite3)
SQLITE_LIBS   := $(shell $(PKG_CONFIG) --libs sqlite3)

# The core and its unit tests build without httpd: APR, APR-util, SQLite.
APR_CONFIG ?= $(shell which apr-1-config)
APU_CONFIG ?= $(shell which apu-1-config)
APR_CFLAGS := $(shell $(APR_CONFIG) --cflags --cppflags --includes) \
              $(shell $(APU_CONFIG) --includes)
APR_LIBS   := $(shell $(APU_CONFIG) --link-ld --libs) \
              $(shell $(APR_CONFIG) --link-ld --libs)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check)

UNIT_SRC = $(wildcard tests/unit/*.c)
UNIT_CFLAGS = -g -O1 -std=gnu99 $(WARNINGS) -Wno-missing-prototypes \
              -Iinclude -Isrc $(APR_CFLAGS) $(SQLITE_CFLAGS) $(CHECK_CFLAGS)
UNIT_LIBS = $(APR_LIBS) $(SQLITE_LIBS) $(CHECK_LIBS) -lpthread
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all

BUILD = build

.PHONY: all test unit unit-asan integration check-style check-layering \
        check-headers check-logids check-symbols format bench soak package test-package test-faults demo install clean

ADMIN = remoteuser-admin
# remoteuser-admin --config runs this httpd unless told otherwise.
HTTPD_BIN := $(shell $(APXS) -q SBINDIR)/$(shell $(APXS) -q PROGNAME)
ADMIN_CFLAGS = -g -O2 -std=gnu99 $(WARNINGS) -Iinclude $(APR_CFLAGS) \
               $(SQLITE_CFLAGS) -DRUS_HTTPD_DEFAULT='"$(HTTPD_BIN)"'

all: $(MODULE).so $(ADMIN)

# The admin tool links the same core and backend as the module.
$(ADMIN): tools/remoteuser-admin.c $(CORE_SRC) $(CORE_HDR)
	$(CC) $(ADMIN_CFLAGS) -o $@ tools/remoteuser-admin.c $(CORE_SRC) \
	    $(APR_LIBS) $(SQLITE_LIBS)

$(MODULE).so: $(GLUE_SRC) $(CORE_SRC) $(CORE_HDR) | check-layering
	$(APXS) -c -o $(MODULE).la -Iinclude $(SQLITE_CFLAGS) \
	    $(addprefix -Wc$(comma),$(WARNINGS)) \
	    $(GLUE_SRC) $(CORE_SRC) $(SQLITE_LIBS)
	cp .libs/$(MODULE).so $@

comma := ,

# The core must stay httpd-free: no httpd header in src/rus_* or include/.
check-layering:
	@bad=$$(grep -lE '#[[:space:]]*include[[:space:]]*[<"](httpd|http_[a-z_]+|ap_[a-z_]+|util_[a-z_]+|mod_[a-z_]+|unixd)\.h' \
	    $(CORE_SRC) $(CORE_HDR) 2>/dev/null); \
	if [ -n "$$bad" ]; then \
	    echo "layering violation: httpd headers included by $$bad" >&2; exit 1; \
	fi

# httpd loads modules RTLD_GLOBAL: every exported symbol but the module
# record carries the rus_ prefix.
check-symbols: $(MODULE).so
	@bad=$$(nm -D --defined-only $(MODULE).so | awk '{print $$3}' | \
	    grep -v -e '^rus_' -e '^remoteuser_session_module$$'); \
	if [ -n "$$bad" ]; then echo "unprefixed exported symbols: $$bad" >&2; exit 1; fi

# Every public header compiles on its own.
check-headers:
	@for h in $(CORE_HDR); do \
	    echo "#include \"$$(basename $$h)\"" | \
	        $(CC) -fsyntax-only $(WARNINGS) -Iinclude $(APR_CFLAGS) -x c - \
	        || { echo "$$h is not self-contained" >&2; exit 1; }; \
	done

STYLE_FILES = $(GLUE_SRC) $(CORE_SRC) $(CORE_HDR) $(UNIT_SRC) \
              tools/remoteuser-admin.c \
              $(wildcard tests/unit/*.h)

check-style:
	$(CLANG_FORMAT) --dry-run --Werror $(STYLE_FILES)
	@if grep -nE '\b(sprintf|strcpy|strcat|strncpy|strtok|atoi|atol|sscanf|gmtime|localtime|strerror)[[:space:]]*\(' \
	    $(GLUE_SRC) $(CORE_SRC) tools/remoteuser-admin.c; then \
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

format:
	$(CLANG_FORMAT) -i $(STYLE_FILES)

$(BUILD)/unit: $(UNIT_SRC) $(CORE_SRC) $(CORE_HDR) $(wildcard tests/unit/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(UNIT_CFLAGS) -o $@ $(UNIT_SRC) $(CORE_SRC) $(UNIT_LIBS)

$(BUILD)/unit-asan: $(UNIT_SRC) $(CORE_SRC) $(CORE_HDR) $(wildcard tests/unit/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(UNIT_CFLAGS) $(SAN_FLAGS) -o $@ $(UNIT_SRC) $(CORE_SRC) $(UNIT_LIBS)

unit: $(BUILD)/unit
	$(BUILD)/unit

unit-asan: $(BUILD)/unit-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(BUILD)/unit-asan

integration: $(MODULE).so $(ADMIN)
	RUS_MODULE=$(CURDIR)/$(MODULE).so RUS_ADMIN=$(CURDIR)/$(ADMIN) \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration \
	    tests/kerberos

# Faults under load against a real httpd: kill -9, graceful restarts,
# unreadable and locked store, disk full (tests/faults). About a minute.
test-faults: $(MODULE).so $(ADMIN)
	RUS_MODULE=$(CURDIR)/$(MODULE).so RUS_ADMIN=$(CURDIR)/$(ADMIN) \
	    $(PYTHON) -m pytest -q -s -p no:cacheprovider tests/faults

test-package:
	RUS_TEST_PACKAGE=1 $(PYTHON) -m pytest -q -p no:cacheprovider tests/package

test: $(MODULE).so $(ADMIN) $(BUILD)/unit $(BUILD)/unit-asan
	@sh tests/run-all.sh

include tests/sanitize.mk
include tests/fuzz/fuzz.mk

# Bounded load on 127.0.0.1 only; see bench/run.py --help.
bench: $(MODULE).so
	RUS_MODULE=$(CURDIR)/$(MODULE).so $(PYTHON) bench/run.py $(BENCH_ARGS)

# 3 minutes of 70 % cookie, 20 % Basic, 10 % first-login requests on
# 127.0.0.1: the largest and last PATH-wal, and each child's RSS slope
# after a 30 s warm-up; see bench/soak.py --help (SOAK_ARGS).
soak: $(MODULE).so
	RUS_MODULE=$(CURDIR)/$(MODULE).so $(PYTHON) bench/soak.py $(SOAK_ARGS)

demo: $(MODULE).so
	@sh scripts/demo.sh

# make install [DESTDIR=...] [APXS=...] [PREFIX=/usr]: the module into
# httpd's module directory (via apxs), remoteuser-admin into sbin, its man
# page, and the a2enmod files into mods-available.
PREFIX     ?= /usr
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
LIBEXECDIR ?= $(shell $(APXS) -q LIBEXECDIR)
SYSCONFDIR ?= $(shell $(APXS) -q SYSCONFDIR)

install: $(MODULE).so $(ADMIN)
	install -d $(DESTDIR)$(LIBEXECDIR)
	$(APXS) -S LIBEXECDIR=$(DESTDIR)$(LIBEXECDIR) -i -n remoteuser_session \
	    $(MODULE).la
	install -D -m 0755 $(ADMIN) $(DESTDIR)$(SBINDIR)/$(ADMIN)
	install -D -m 0644 docs/remoteuser-admin.8 \
	    $(DESTDIR)$(MANDIR)/man8/remoteuser-admin.8
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
	rm -rf $(BUILD) .libs src/.libs *.la *.lo *.slo *.o src/*.la src/*.lo \
	    src/*.slo src/*.o $(MODULE).so $(ADMIN) demo-run
