# libFuzzer targets for the parsers of the core that see client bytes.
# See tests/fuzz/README.md.
#
#   make fuzz-build                 build $(BUILD)/fuzz/fuzz_<name>
#   make fuzz [FUZZ_SECONDS=30]     run every target that long on a scratch
#                                   copy of its seed corpus; summary in
#                                   $(BUILD)/fuzz/summary.txt
#   make fuzz FUZZ_TARGETS=cookie   run some of them only
#
# Needs clang with the libFuzzer runtime (Debian: clang, libclang-rt-14-dev).

FUZZ_CLANG   ?= clang
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= cookie token header username redirect cidr selfsvc
FUZZ_DIR     = $(BUILD)/fuzz
FUZZ_OBJ     = $(FUZZ_DIR)/obj
# The core is compiled once with the fuzzer's instrumentation into
# $(FUZZ_DIR)/libruscore.a; each target takes from it what it calls (none
# needs SQLite).
FUZZ_CFLAGS  = -g -O1 -std=gnu99 -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=all -fno-omit-frame-pointer \
               $(WARNINGS) -Itests/fuzz -Iinclude $(APR_CFLAGS) \
               $(SQLITE_CFLAGS) $(PG_CFLAGS) $(VERSION_CPPFLAGS)
FUZZ_LINK    = -fsanitize=fuzzer,address,undefined

# fuzz_common.c replaces apr_palloc()/apr_pcalloc() during an input (see
# fuzz_common.h); exported, they also serve libapr's own calls.
FUZZ_LDFLAGS = -Wl,--export-dynamic-symbol=apr_palloc \
               -Wl,--export-dynamic-symbol=apr_pcalloc

FUZZ_CORE_OBJ = $(CORE_SRC:%.c=$(FUZZ_OBJ)/%.o)
FUZZ_SRC      = tests/fuzz/fuzz_common.c \
                $(addprefix tests/fuzz/fuzz_,$(addsuffix .c,$(FUZZ_TARGETS)))
FUZZ_SRC_OBJ  = $(FUZZ_SRC:%.c=$(FUZZ_OBJ)/%.o)
FUZZ_CORE_LIB = $(FUZZ_DIR)/libruscore.a
FUZZ_BINS     = $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))

$(FUZZ_CORE_OBJ) $(FUZZ_SRC_OBJ): $(FUZZ_OBJ)/%.o: %.c VERSION \
        tests/fuzz/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(FUZZ_CORE_LIB): $(FUZZ_CORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $(FUZZ_CORE_OBJ)

$(FUZZ_BINS): $(FUZZ_DIR)/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/fuzz_%.o \
        $(FUZZ_OBJ)/tests/fuzz/fuzz_common.o $(FUZZ_CORE_LIB)
	$(FUZZ_CLANG) $(FUZZ_LINK) -o $@ $< \
	    $(FUZZ_OBJ)/tests/fuzz/fuzz_common.o $(FUZZ_CORE_LIB) \
	    $(FUZZ_LDFLAGS) $(APR_LIBS) -ldl

-include $(FUZZ_CORE_OBJ:.o=.d) $(FUZZ_SRC_OBJ:.o=.d)

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
