#!/bin/sh
# Builds the libFuzzer harnesses (clang, in build-fuzz) and runs each one for
# SECONDS, starting from its seed corpus tests/fuzz/corpus/<name>/ copied into
# a scratch directory (the checked-in seeds are never modified). Prints execs
# and coverage from libFuzzer's final stats. Exits non-zero if a harness fails
# to build or any fuzzer crashes; the crash input is kept and its path printed.
#
# Usage: tests/fuzz/run.sh SECONDS [NAME...]
# Environment: BUILD_DIR (default build-fuzz), FUZZ_ARGS (extra libFuzzer
# options, e.g. "-jobs=4 -workers=4" or "-max_len=65536").
set -u

usage() {
    echo "usage: $0 SECONDS [NAME...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
secs=$1
shift
case $secs in
    ''|*[!0-9]*) usage ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}

if [ $# -gt 0 ]; then
    names="$*"
else
    names=
    for f in "$here"/fuzz-*.c; do
        [ -e "$f" ] || continue
        n=${f##*/fuzz-}
        names="$names ${n%.c}"
    done
fi
[ -n "$names" ] || { echo "no fuzz-*.c harnesses found" >&2; exit 1; }

# (Re)configure: which harnesses exist is decided at configure time.
if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" "$root" >"$build/fuzz-setup.log" 2>&1
else
    mkdir -p "$build"
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Db_lundef=false \
        >"$build/fuzz-setup.log" 2>&1
fi || {
    cat "$build/fuzz-setup.log" >&2
    echo "meson setup failed" >&2
    exit 1
}

# Stop at the first sanitizer report; libFuzzer turns it into a crash.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

status=0
summary=
for name in $names; do
    exe=$build/tests/fuzz/fuzz-$name
    if ! ninja -C "$build" "tests/fuzz/fuzz-$name" >"$build/fuzz-$name-build.log" 2>&1; then
        cat "$build/fuzz-$name-build.log" >&2
        echo "fuzz-$name: build failed" >&2
        summary="$summary
fuzz-$name: BUILD FAILED"
        status=1
        continue
    fi

    scratch=$(mktemp -d "${TMPDIR:-/tmp}/mailbell-fuzz-$name.XXXXXX")
    mkdir -p "$scratch/corpus"
    if [ -d "$here/corpus/$name" ]; then
        cp -R "$here/corpus/$name/." "$scratch/corpus/"
    fi
    dict=
    [ -f "$here/$name.dict" ] && dict="-dict=$here/$name.dict"

    echo "== fuzz-$name for ${secs}s (scratch $scratch)"
    # shellcheck disable=SC2086 # FUZZ_ARGS and dict are option lists
    "$exe" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
        -artifact_prefix="$scratch/" $dict ${FUZZ_ARGS:-} "$scratch/corpus" \
        >"$scratch/log" 2>&1
    rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$scratch/log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$scratch/log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$scratch/log" | tail -n 1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
    line="fuzz-$name: execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} peak_rss_mb=${rss:-?}"

    if [ $rc -ne 0 ]; then
        status=1
        tail -n 60 "$scratch/log" >&2
        crash=$(ls "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* \
            "$scratch"/oom-* 2>/dev/null | head -n 1)
        line="$line FAILED (exit $rc) input=${crash:-none} log=$scratch/log"
    else
        rm -rf "$scratch"
    fi
    echo "$line"
    summary="$summary
$line"
done

echo "== summary$summary"
exit $status
