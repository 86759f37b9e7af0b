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
FUZZ_TARGETS ?= cookie token header username redirect cidr
FUZZ_CFLAGS  = -g -O1 -std=gnu99 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all -fno-omit-frame-pointer \
               $(WARNINGS) -Itests/fuzz -Iinclude $(APR_CFLAGS) \
               $(SQLITE_CFLAGS)

# The core sources each target needs (none needs SQLite).
FUZZ_SRC_cookie   = src/rus_session.c src/rus_token.c
FUZZ_SRC_token    = src/rus_token.c
FUZZ_SRC_header   = src/rus_header.c src/rus_username.c
FUZZ_SRC_username = src/rus_username.c
FUZZ_SRC_redirect = src/rus_redirect.c
FUZZ_SRC_cidr     = src/rus_net.c

# fuzz_common.c replaces apr_palloc()/apr_pcalloc() during an input (see
# fuzz_common.h); exported, they also serve libapr's own calls.
FUZZ_LDFLAGS = -Wl,--export-dynamic-symbol=apr_palloc \
               -Wl,--export-dynamic-symbol=apr_pcalloc

FUZZ_COMMON = tests/fuzz/fuzz_common.c tests/fuzz/fuzz_common.h \
              tests/fuzz/fuzz.mk
FUZZ_BINS   = $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_TARGETS))

define FUZZ_RULE
$(BUILD)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_COMMON) \
        $(FUZZ_SRC_$(1)) $(CORE_HDR)
	@mkdir -p $(BUILD)/fuzz
	$(FUZZ_CLANG) $(FUZZ_CFLAGS) -o $$@ tests/fuzz/fuzz_$(1).c \
	    tests/fuzz/fuzz_common.c $(FUZZ_SRC_$(1)) $(FUZZ_LDFLAGS) \
	    $(APR_LIBS) -ldl
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)
