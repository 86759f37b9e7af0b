# Sanitized integration run (make test-asan) and valgrind on the unit tests
# (make unit-valgrind). Included by the top-level Makefile.
#
#   make test-asan [ASAN_TESTS=tests/integration/test_100_identity.py]
#                       the module and remoteuser-admin built with
#                       AddressSanitizer + UBSan into $(BUILD)/asan/, loaded
#                       into Debian's own httpd (ASan runtime preloaded, see
#                       RUS_SANITIZE in tests/pyrus/harness.py), and the
#                       whole integration suite (tests/integration,
#                       tests/kerberos) run against them; any sanitizer report
#                       fails the test whose server or tool produced it.
#   make unit-valgrind  build/unit under valgrind memcheck, following the
#                       children Check and the tests fork; an error or a
#                       definite leak in any process fails the run.
#
# Each source is compiled once more with the sanitizers, into
# $(ASAN_DIR)/obj/: the core into $(ASAN_DIR)/libruscore.a, linked by the
# sanitized module, remoteuser-admin and unit tests ($(BUILD)/unit-asan).

ASAN_DIR = $(BUILD)/asan
ASAN_OBJ = $(ASAN_DIR)/obj

# The flags apxs would use, without its -O2 and _FORTIFY_SOURCE (the
# fortified wrappers hide some accesses from ASan).
ASAN_CORE_CFLAGS = -g -O1 -fPIC $(SAN_FLAGS) $(WARNINGS) -Iinclude \
                   $(APR_CFLAGS) $(SQLITE_CFLAGS) $(PG_CFLAGS) \
                   $(VERSION_CPPFLAGS)
ASAN_GLUE_CFLAGS = $(ASAN_CORE_CFLAGS) $(APXS_CPPFLAGS) -Isrc

ASAN_CORE_OBJ  = $(CORE_SRC:%.c=$(ASAN_OBJ)/%.o)
ASAN_GLUE_OBJ  = $(GLUE_SRC:%.c=$(ASAN_OBJ)/%.o)
ASAN_ADMIN_OBJ = $(ADMIN_SRC:%.c=$(ASAN_OBJ)/%.o)
ASAN_UNIT_OBJ  = $(UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
ASAN_CORE_LIB  = $(ASAN_DIR)/libruscore.a

$(ASAN_CORE_OBJ): $(ASAN_OBJ)/%.o: %.c VERSION tests/sanitize.mk
	@mkdir -p $(@D)
	$(CC) $(ASAN_CORE_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(ASAN_GLUE_OBJ): $(ASAN_OBJ)/%.o: %.c VERSION tests/sanitize.mk \
        | check-layering
	@mkdir -p $(@D)
	$(CC) $(ASAN_GLUE_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(ASAN_ADMIN_OBJ): $(ASAN_OBJ)/%.o: %.c VERSION tests/sanitize.mk
	@mkdir -p $(@D)
	$(CC) $(ADMIN_CFLAGS) -O1 $(SAN_FLAGS) $(DEPFLAGS) -c -o $@ $<

$(ASAN_UNIT_OBJ): $(ASAN_OBJ)/%.o: %.c VERSION tests/sanitize.mk
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) -c -o $@ $<

$(ASAN_CORE_LIB): $(ASAN_CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(ASAN_CORE_OBJ)

# Loaded into an uninstrumented httpd: libasan/libubsan are DT_NEEDED of
# the module, and the harness preloads libasan so that it comes first.
$(ASAN_DIR)/$(MODULE).so: $(ASAN_GLUE_OBJ) $(ASAN_CORE_LIB) $(MODULE_MAP)
	$(CC) $(SAN_FLAGS) -shared -Wl,--version-script=$(MODULE_MAP) -o $@ \
	    $(ASAN_GLUE_OBJ) $(ASAN_CORE_LIB) $(SQLITE_LIBS) $(PG_LIBS)

$(ASAN_DIR)/$(ADMIN): $(ASAN_ADMIN_OBJ) $(ASAN_CORE_LIB)
	$(CC) $(SAN_FLAGS) -o $@ $(ASAN_ADMIN_OBJ) $(ASAN_CORE_LIB) \
	    $(APR_LIBS) $(SQLITE_LIBS) $(PG_LIBS)

$(BUILD)/unit-asan: $(ASAN_UNIT_OBJ) $(ASAN_CORE_LIB)
	$(CC) $(SAN_FLAGS) -o $@ $(ASAN_UNIT_OBJ) $(ASAN_CORE_LIB) $(UNIT_LIBS)

-include $(ASAN_CORE_OBJ:.o=.d) $(ASAN_GLUE_OBJ:.o=.d) \
         $(ASAN_ADMIN_OBJ:.o=.d) $(ASAN_UNIT_OBJ:.o=.d)

.PHONY: test-asan unit-valgrind

# ASAN_TESTS: the same files as `make integration`, or some of them.
ASAN_TESTS ?= tests/integration tests/kerberos

test-asan: $(ASAN_DIR)/$(MODULE).so $(ASAN_DIR)/$(ADMIN)
	RUS_SANITIZE=1 RUS_MODULE=$(CURDIR)/$(ASAN_DIR)/$(MODULE).so \
	    RUS_ADMIN=$(CURDIR)/$(ASAN_DIR)/$(ADMIN) \
	    $(PYTHON) -m pytest -q -p no:cacheprovider $(ASAN_TESTS)

# Check forks one child per test (CK_FORK): valgrind follows it
# (--trace-children), and a child whose errors make valgrind exit 1 is an
# "Early exit" error of that test, so the run fails; the tests' own forks
# are checked by their waitpid() status the same way. The sh and rm that
# rus_test_rmtree() runs through system() are not ours and not traced (they
# tripled the run time). Check's timeouts are raised for valgrind's
# slowdown; every test runs as in `make unit`, test_cache's 4 x 200000
# rounds included (about 10 s). About a minute on 2 cores.
VALGRIND       ?= valgrind
VALGRIND_FLAGS = --error-exitcode=1 --leak-check=full \
                 --errors-for-leak-kinds=definite --show-leak-kinds=definite \
                 --trace-children=yes --trace-children-skip='*/sh,*/rm' \
                 --track-fds=no --vgdb=no -q

unit-valgrind: $(BUILD)/unit
	CK_TIMEOUT_MULTIPLIER=20 $(PG_RUN) $(VALGRIND) $(VALGRIND_FLAGS) \
	    $(BUILD)/unit
