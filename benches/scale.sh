#!/usr/bin/env bash
# How convert and inspect scale with the number of nodes (issue #15).
#
# Generates (untimed, with examples/acon_chain.rs) chains of 1k, 4k, 16k and
# 64k acon::AconC nodes on x [1, 8, 4, 4], each with its own p1, p2 and β of
# shape [1, 8, 1, 1], and a chain of 1M Relu nodes (no ACON op). Then times
# `acon-onnx convert` and `acon-onnx inspect` of each, RUNS times, and
# prints the fastest wall time and CPU time (user + system, GNU time at
# /usr/bin/time), in total and per node, side by side. Target:
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

# The fastest of RUNS runs of "$@": wall seconds (from `date`, to the
# nanosecond) and CPU seconds (user + system from GNU time, to 10 ms), the
# latter steadier on a machine others share.
best() {
  local wall= cpu=
  for _ in $(seq "$runs"); do
    local t0 t1 w c
    t0=$(date +%s%N)
    /usr/bin/time -o "$work/time" -f "%U %S" "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    w=$(awk -v ns=$((t1 - t0)) 'BEGIN { print ns / 1e9 }')
    c=$(awk '{ print $1 + $2 }' "$work/time")
    if [ -z "$wall" ] || awk -v a="$w" -v b="$wall" 'BEGIN { exit !(a < b) }'; then wall=$w; fi
    if [ -z "$cpu" ] || awk -v a="$c" -v b="$cpu" 'BEGIN { exit !(a < b) }'; then cpu=$c; fi
  done
  echo "$wall $cpu"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
printf '%-6s %8s | %8s %8s %9s %9s | %8s %8s %9s %9s\n' model nodes \
  "conv s" "cpu s" "µs/node" "cpu µs/n" "insp s" "cpu s" "µs/node" "cpu µs/n"
for c in "${cases[@]}"; do
  set -- $c
  model="$work/$1_$2.onnx"
  read -r cw cc < <(best "$bin" convert "$model" -o "$work/out.onnx" --force)
  read -r iw ic < <(best "$bin" inspect "$model")
  awk -v k="$1" -v n="$2" -v cw="$cw" -v cc="$cc" -v iw="$iw" -v ic="$ic" 'BEGIN {
    printf "%-6s %8d | %8.3f %8.2f %9.2f %9.2f | %8.3f %8.2f %9.2f %9.2f\n", k, n,
      cw, cc, cw * 1e6 / n, cc * 1e6 / n, iw, ic, iw * 1e6 / n, ic * 1e6 / n
  }'
done
