#!/bin/sh
# Fuzzes every target for MINUTES minutes each, one after the other, and prints the CPU time
# each one used and its executions (issue 10 item 2; figures go to docs/RELIABILITY.md).
#
#   fuzz/run-all.sh MINUTES [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo +nightly install cargo-fuzz`). New
# interesting inputs go to fuzz/corpus/<target>/ (minimise before committing:
# `cargo +nightly fuzz cmin <target>`); crashes to fuzz/artifacts/<target>/: copy each to
# fuzz/regressions/<target>/ once fixed, so `cargo test -p postwerk-fuzzing` replays it.
set -eu

if [ $# -lt 1 ] || ! [ "$1" -gt 0 ] 2>/dev/null; then
    echo "usage: $0 MINUTES [TARGET...]   (MINUTES: a whole number above 0)" >&2
    exit 2
fi
minutes=$1
shift
cd "$(dirname "$0")"
targets=${*:-$(cargo +nightly fuzz list)}
# The targets are safe Rust: the findings are panics, so no sanitizer is needed; debug
# assertions (-a) turn arithmetic overflow into findings too.
build_flags="--sanitizer none -a"
cargo +nightly fuzz build $build_flags

status=0
summary=""
for target in $targets; do
    log=$(mktemp)
    before=$(ls "artifacts/$target" 2>/dev/null | wc -l)
    # mail-parser 0.11.9 panics on some malformed messages; our code catches it (the message is
    # indexed unparsed, the attachment check refuses it), but libFuzzer stops at any panic.
    # These two targets run in a fork that records such crashes and goes on; every crash input
    # still lands in fuzz/artifacts/<target>/ and is reported below, to be replayed
    # (`cargo test -p postwerk-fuzzing` after copying it to fuzz/regressions/) to tell
    # mail-parser's from ours.
    case $target in
        message_ingest|attachments) keep_going="-fork=1 -ignore_crashes=1" ;;
        *) keep_going="" ;;
    esac
    if /usr/bin/time -f '%U %S' -o "$log.time" \
        cargo +nightly fuzz run $build_flags "$target" -- \
        -max_total_time=$((minutes * 60)) -rss_limit_mb=2048 -print_final_stats=1 $keep_going \
        >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see fuzz/artifacts/$target/)"
        status=1
    fi
    found=$(( $(ls "artifacts/$target" 2>/dev/null | wc -l) - before ))
    if [ "$found" -gt 0 ] && [ "$result" = ok ]; then
        result="$found crash input(s) in fuzz/artifacts/$target/"
        status=1
    fi
    cpu=$(awk '{printf "%.1f", ($1 + $2) / 60}' "$log.time")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    tail -n 3 "$log"
    summary="$summary$(printf '%-16s %6s CPU-min %12s execs  %s' "$target" "$cpu" "${runs:-?}" "$result")
"
    rm -f "$log" "$log.time"
done
printf '\n%-16s %14s %18s\n%s' target "CPU time" executions "$summary"
exit $status
