#!/bin/sh
# Run the libFuzzer targets one after the other and summarise.
#
#   sh tests/fuzz/run.sh BUILD_FUZZ_DIR SECONDS TARGET...
#
# Each target fuzzes a scratch copy of tests/fuzz/corpus/<name>
# (BUILD_FUZZ_DIR/work/<name>; the checked-in corpus never grows) for
# SECONDS. Crashes, leaks, timeouts and out-of-memory inputs are saved as
# BUILD_FUZZ_DIR/artifacts/<name>-crash-... (or leak-, timeout-, oom-) and
# fail that target; the log is BUILD_FUZZ_DIR/<name>.log. The table goes to BUILD_FUZZ_DIR/summary.txt; the last
# line is "fuzz: N passed, M failed in Ts"; the exit status is non-zero
# when a target failed.
set -u

dir=$1
seconds=$2
shift 2
here=$(dirname "$0")

mkdir -p "$dir/work" "$dir/artifacts"
summary=$dir/summary.txt
rows=$dir/summary.rows
: >"$rows"
passed=0
failed=0
start=$(date +%s)

# Value of "stat::NAME: N" in a libFuzzer log, or "-".
stat() {
    v=$(sed -n "s/^stat::$1: *\([0-9][0-9]*\).*/\1/p" "$2" | tail -n 1)
    echo "${v:--}"
}

for name in "$@"; do
    bin=$dir/fuzz_$name
    work=$dir/work/$name
    log=$dir/$name.log
    rm -rf "$work"
    mkdir -p "$work"
    if [ -d "$here/corpus/$name" ]; then
        cp "$here/corpus/$name/"* "$work/" 2>/dev/null
    fi
    # Artifacts of earlier runs stay; only those of this run count.
    marker=$dir/work/.start-$name
    : >"$marker"

    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing" >"$log"
        rc=127
    else
        echo "fuzzing $name for ${seconds}s" >&2
        # Leaks are reported (ASan's default under libFuzzer); the
        # sanitizers stop at the first error.
        ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
            "$bin" -max_total_time="$seconds" -timeout=10 \
            -rss_limit_mb=2048 -artifact_prefix="$dir/artifacts/$name-" \
            -print_final_stats=1 "$work" >"$log" 2>&1
        rc=$?
    fi

    runs=$(stat number_of_executed_units "$log")
    if [ "$runs" = "-" ]; then
        runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in.*/\1/p' "$log" | tail -n 1)
        runs=${runs:--}
    fi
    speed=$(stat average_exec_per_sec "$log")
    corpus=$(find "$work" -type f | wc -l | tr -d ' ')

    artifact=$(find "$dir/artifacts" -type f -name "$name-*" -newer "$marker" |
        head -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$artifact" ] &&
        ! grep -qE '^==[0-9]+==ERROR|ERROR: libFuzzer|runtime error:' "$log"; then
        result=ok
        passed=$((passed + 1))
    else
        if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
            result=timeout
        elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then
            result=oom
        elif grep -q 'ERROR: LeakSanitizer' "$log"; then
            result=leak
        elif [ "$rc" -eq 127 ]; then
            result=missing
        else
            result=crash
        fi
        [ -n "$artifact" ] && result="$result ($artifact)"
        failed=$((failed + 1))
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$runs" "$speed" "$corpus" \
        "$result" >>"$rows"
done

{
    printf '%-10s %12s %8s %7s  %s\n' target executions exec/s corpus result
    while IFS="$(printf '\t')" read -r n r s c res; do
        printf '%-10s %12s %8s %7s  %s\n' "$n" "$r" "$s" "$c" "$res"
    done <"$rows"
} >"$summary"
rm -f "$rows"
cat "$summary"
echo "fuzz: $passed passed, $failed failed in $(($(date +%s) - start))s"
[ "$failed" -eq 0 ]
