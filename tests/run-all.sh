#!/bin/sh
# `make test`: every stage in order, its output shown as it runs, then the
# totals. Exits non-zero when any stage failed or ran no test.
#
# The stages, in this order:
#   checks       clang-format, banned functions, layering, header hygiene,
#                log ids documented, only the module record exported, the
#                version the same everywhere, examples/ the README's blocks
#   unit         Check unit tests of the core
#   integration  pytest against real httpd instances
#   integration-asan  the integration tests again, with the module and
#                remoteuser-admin built with ASan + UBSan (make test-asan)
#   faults       kill -9, graceful restarts, unreadable/locked store and
#                disk full under wrk load (make test-faults)
# then these three side by side (each bound by one CPU, none measuring
# time), their output shown in this order when all are done:
#   unit-asan    the unit tests again under AddressSanitizer + UBSan
#   unit-valgrind  the unit tests under valgrind memcheck, children
#                followed (make unit-valgrind)
#   fuzz         every libFuzzer target for FUZZ_SECONDS (default 30)
# and last, in CI only, the Debian package (package).
set -u
cd "$(dirname "$0")/.." || exit 2
MAKE=${MAKE:-make}
mkdir -p build
summary=build/summary.txt
: >"$summary"
failed_stages=""

# run_stage NAME COMMAND...: run, keep the log, record "NAME PASSED FAILED".
run_stage() {
    name=$1
    shift
    log=build/$name.log
    echo "==== $name: $*"
    "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    # Check: "100%: Checks: 40, Failures: 0, Errors: 0"
    # pytest: "34 passed, 1 failed, 2 errors in 3.2s"
    counts=$(awk '
        /Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/ {
            for (i = 1; i <= NF; i++) {
                if ($i == "Checks:") c = $(i + 1) + 0
                if ($i == "Failures:") f = $(i + 1) + 0
                if ($i == "Errors:") e = $(i + 1) + 0
            }
            p = c - f - e; x = f + e; found = 1
        }
        / in [0-9.]+s/ && /(passed|failed|error)/ {
            p = 0; x = 0
            for (i = 2; i <= NF; i++) {
                w = $i; gsub(/[^a-z]/, "", w)
                if (w == "passed") p = $(i - 1) + 0
                if (w == "failed" || w == "errors" || w == "error") x += $(i - 1) + 0
            }
            found = 1
        }
        END { if (found) print p, x; else print "0 0" }' "$log")
    set -- $counts
    passed=$1
    nfailed=$2
    if [ "$rc" -ne 0 ] || [ "$passed" -eq 0 ]; then
        [ "$nfailed" -eq 0 ] && nfailed=1
        failed_stages="$failed_stages $name"
    fi
    echo "$name $passed $nfailed" >>"$summary"
}

echo "==== checks"
if ! $MAKE -s check-style check-layering check-headers check-logids \
    check-symbols check-version check-config check-examples; then
    failed_stages="$failed_stages checks"
fi

run_stage unit "$MAKE" -s unit
run_stage integration "$MAKE" -s integration
run_stage integration-asan "$MAKE" -s test-asan
run_stage faults "$MAKE" -s test-faults

# unit-asan, unit-valgrind and fuzz measure no time (unlike the stages
# above, which bound delays and load) and are each bound by one CPU: they
# run side by side, after those, and each one's output and totals are
# shown in this order once all three are done.
pids=""
for stage in unit-asan unit-valgrind fuzz; do
    case $stage in
    fuzz) set -- "$MAKE" -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}" ;;
    *) set -- "$MAKE" -s "$stage" ;;
    esac
    (
        summary=build/$stage.summary
        failed_stages=""
        : >"$summary"
        run_stage "$stage" "$@" >"build/$stage.out" 2>&1
        echo "$failed_stages" >"build/$stage.failed"
    ) &
    pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
for stage in unit-asan unit-valgrind fuzz; do
    cat "build/$stage.out"
    cat "build/$stage.summary" >>"$summary"
    failed_stages="$failed_stages$(cat "build/$stage.failed")"
done
# The Debian package test installs and purges a package: CI only
# (.ci/run sets RUS_TEST_PACKAGE=1), as root.
if [ "${RUS_TEST_PACKAGE:-0}" = 1 ]; then
    run_stage package "$MAKE" -s test-package
fi

echo
echo "==== totals"
awk '{ printf "%-18s %d passed, %d failed\n", $1 ":", $2, $3; p += $2; f += $3 }
     END { printf "total: %d passed, %d failed\n", p, f }' "$summary"
if [ -n "$failed_stages" ]; then
    echo "FAILED:$failed_stages" >&2
    exit 1
fi
exit 0
