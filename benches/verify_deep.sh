#!/usr/bin/env bash
# Issue 13's targets for verify on deep networks, outside CI (minutes):
# false alarms at the default settings over several seeds on the zoo's
# Meta-ACON networks, and the cost of the region-wise verify against the
# outputs-only one, the two timed alternately on the same model.
#
# Usage: benches/verify_deep.sh [SEEDS] [RESOLUTION]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-3}
res=${2:-224}
bin=target/release/acon-onnx
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ms() { echo $(($(date +%s%N) / 1000000)); }
printf '| network | seed | default verify | exit | regions | time (ms) | outputs only (ms) | ratio |\n|---|---|---|---|---|---|---|---|\n'
for arch in resnet50 resnet101 resnet152 mobilenet_v2 shufflenet_v2; do
  width=()
  [ "$arch" = shufflenet_v2 ] && width=(--width 1.5)
  for seed in $(seq 1 "$seeds"); do
    m="$work/$arch-$seed.onnx"
    "$bin" zoo "$arch" --act meta-acon --seed "$seed" "${width[@]}" --resolution "$res" -o "$m" --force >/dev/null
    t0=$(ms); set +e; out=$("$bin" verify "$m" --seed "$seed" 2>&1); code=$?; set -e; t1=$(ms)
    "$bin" verify "$m" --seed "$seed" --outputs-only >/dev/null 2>&1 || true; t2=$(ms)
    verdict=$(echo "$out" | tail -1 | cut -d: -f1)
    regions=$(echo "$out" | tail -1 | grep -o '[0-9]* of [0-9]* regions proved' || true)
    printf '| %s | %s | %s | %s | %s | %s | %s | %.2f |\n' "$arch" "$seed" "$verdict" "$code" "$regions" \
      "$((t1 - t0))" "$((t2 - t1))" "$(echo "$((t1 - t0)) / $((t2 - t1))" | bc -l)"
  done
done
