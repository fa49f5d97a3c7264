#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after the other (CPU is scarce: never in
# parallel), each until it has run for SECONDS or RUNS executions, whichever
# comes first.
#
#   fuzz/run.sh [SECONDS [RUNS]] [-- TARGET...]
#   fuzz/run.sh 1800 1000000            # what fuzz/README.md quotes
#   fuzz/run.sh 60 -- inspect           # a quick run of one target
#
# The machine has a stable toolchain only; RUSTC_BOOTSTRAP=1 lets cargo-fuzz
# pass the few -Z flags it needs. SANITIZER (default `none`: our code is safe
# Rust, and the unchecked-size and overflow bugs we hunt are caught by the
# allocation limit and the debug assertions cargo-fuzz turns on) may be set to
# `address` for an ASan build.
#
# The corpus of each target is seeded from fixtures/*/model.onnx; what the
# fuzzer adds stays in fuzz/corpus/ (not committed). Crashes land in
# fuzz/artifacts/<target>/ and each becomes a test in
# tests/hostile/fuzz_crashes.rs. Logs go to fuzz/logs/<target>.log; their
# last lines hold the figures.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-1800}
runs=${2:-1000000}
targets=(convert inspect)
while [[ $# -gt 0 && $1 != -- ]]; do shift; done
if [[ ${1:-} == -- ]]; then
    shift
    [[ $# -gt 0 ]] && targets=("$@")
fi
sanitizer=${SANITIZER:-none}

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

mkdir -p logs
for target in "${targets[@]}"; do
    corpus=corpus/$target
    mkdir -p "$corpus"
    for model in ../fixtures/*/model.onnx; do
        seed=$corpus/seed-$(basename "$(dirname "$model")").onnx
        [[ -e $seed ]] || cp "$model" "$seed"
    done
    echo "== $target: up to ${seconds}s or ${runs} runs (sanitizer: $sanitizer)"
    # Seeds are up to ~28 KB; let mutations grow a little past the largest.
    set +e
    cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" -- \
        -max_total_time="$seconds" -runs="$runs" -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 2>&1 | tee "logs/$target.log" \
        | grep --line-buffered -E '^#[0-9]+[[:space:]]+(pulse|DONE)|^(stat::|==)|ERROR|panicked'
    status=${PIPESTATUS[0]}
    set -e
    if [[ $status -ne 0 ]]; then
        echo "== $target: the fuzzer stopped with status $status; see fuzz/logs/$target.log" >&2
        exit "$status"
    fi
done
