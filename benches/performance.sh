#!/usr/bin/env bash
# Regenerates docs/performance.md (issue 7) from one run of the benchmarks.
#
# In order: writes the layer models (benches/layers.rs --models-only); times
# them in onnxruntime with benches/onnxruntime_layers.py if ORT_PYTHON (default
# /tmp/ortenv/bin/python) has onnxruntime; runs benches/convert.sh and
# benches/scale.sh; then runs
# benches/layers.rs, which times the layers and the networks on tract and
# writes the report with the two logs in it. Everything is built with the
# `profiling` profile (release with line tables, for `perf record`).
#
# Usage: benches/performance.sh [ROUNDS] [NET_ROUNDS]
#   ORT_PYTHON=/path/to/python   a Python with onnxruntime and numpy
#   OUT=docs/performance.md      where the report goes
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-300}
net_rounds=${2:-40}
out=${OUT:-docs/performance.md}
py=${ORT_PYTHON:-/tmp/ortenv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo bench --profile profiling --bench layers -- --save-models "$work/models" --models-only
args=(--rounds "$rounds" --net-rounds "$net_rounds" --out "$out")
if [ -x "$py" ] && "$py" -c 'import onnxruntime, numpy' 2>/dev/null; then
  "$py" benches/onnxruntime_layers.py "$work/models" "$rounds" "$work/ort.json" | tee "$work/ort.md"
  args+=(--ort-log "$work/ort.md" --ort-json "$work/ort.json")
else
  echo "skipping onnxruntime: no onnxruntime in $py (see benches/onnxruntime_layers.py)" >&2
fi
benches/convert.sh | tee "$work/convert.txt"
args+=(--convert-log "$work/convert.txt")
benches/scale.sh | tee "$work/scale.txt"
args+=(--scale-log "$work/scale.txt")
cargo bench --profile profiling --bench layers -- "${args[@]}"
