#!/usr/bin/env bash
# How convert and inspect scale with the number of nodes (issue #15).
#
# Generates (untimed, with examples/acon_chain.rs) chains of 1k, 4k, 16k and
# 64k acon::AconC nodes on x [1, 8, 4, 4], each with its own p1, p2 and β of
# shape [1, 8, 1, 1], and a chain of 1M Relu nodes (no ACON op). Then times
# `acon-onnx convert` and `acon-onnx inspect` of each, RUNS times, and
# prints the fastest wall time and the time per node side by side. Target:
# time per node flat within 2× across the sizes, 64k ACON nodes converted in
# under 2 s.
#
# Usage: benches/scale.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo build --release -q --bin acon-onnx --example acon_chain
bin=target/release/acon-onnx
gen=target/release/examples/acon_chain
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cases=("acon 1000" "acon 4000" "acon 16000" "acon 64000" "plain 1000000")
for c in "${cases[@]}"; do
  set -- $c
  "$gen" "$1" "$2" "$work/$1_$2.onnx"
done

now() { date +%s%N; }
best() { # best wall time in ns of RUNS runs of "$@"
  local b=
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(now)
    "$@" >/dev/null
    t1=$(now)
    local d=$((t1 - t0))
    if [ -z "$b" ] || [ "$d" -lt "$b" ]; then b=$d; fi
  done
  echo "$b"
}

printf '%-7s %9s %12s %14s %12s %14s\n' model nodes "convert ms" "convert µs/n" "inspect ms" "inspect µs/n"
for c in "${cases[@]}"; do
  set -- $c
  model="$work/$1_$2.onnx"
  conv=$(best "$bin" convert "$model" -o "$work/out.onnx" --force)
  insp=$(best "$bin" inspect "$model")
  awk -v k="$1" -v n="$2" -v c="$conv" -v i="$insp" 'BEGIN {
    printf "%-7s %9d %12.1f %14.2f %12.1f %14.2f\n", k, n, c / 1e6, c / 1e3 / n, i / 1e6, i / 1e3 / n
  }'
done
