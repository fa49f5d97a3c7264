#!/usr/bin/env bash
# Issue 12's benchmark: ACON as PyTorch's default (dynamo) exporter writes it,
# timed as exported, converted, and on the native kernels; writes the section
# "Plain PyTorch exports (issue 12)" of docs/performance.md.
#
# In order:
#  1. benches/plain_export.py export: a Meta-ACON layer on [1, 64, 112, 112],
#     MobileNetV2 1.0 and ShuffleNetV2 1.5x, exported by
#     torch.onnx.export(..., dynamo=True) into WORK/<name>/model.onnx;
#  2. acon-onnx convert each into model.converted.onnx, and acon-onnx verify
#     ORIGINAL CONVERTED, which must exit 0: when the default tolerance (close)
#     says NOT EQUIVALENT, that output is kept for the report and verify runs
#     again with --tolerance approximate, which must pass;
#  3. waits (up to WAIT_MIN minutes) for the 1-minute load average to fall
#     below MAX_LOAD, then times, each pair interleaved in one process,
#     one thread: on tract, (c)/(a) `bench ORIGINAL --plain --vs CONVERTED`,
#     (d)/(a) `bench ORIGINAL --plain --vs ORIGINAL --vs-native`, (d)/(c)
#     `bench CONVERTED --plain --vs ORIGINAL --vs-native`; on onnxruntime,
#     the export against its conversion (benches/plain_export.py onnxruntime);
#  4. profiles tract's plan of the layer, as exported and converted
#     (benches/layers.rs --plan);
#  5. benches/plain_export.py report writes the section into OUT between its
#     marker comments (benches/layers.rs keeps that section when
#     benches/performance.sh rewrites the rest of the file).
#
# The release binary is copied into WORK first, so that a rebuild in the
# tree does not change it during the run.
#
# Usage: benches/plain_export.sh [LAYER_ROUNDS] [NET_ROUNDS]
#   PY=/tmp/fxenv/bin/python          the venv of fixtures/gen/requirements.txt
#   BIN=target/release/acon-onnx      the binary to copy (cargo build --release)
#   REVISION=...                      what BIN was built from [git HEAD of this tree]
#   WORK=DIR                          keep the models and logs there [a temp dir]
#   OUT=docs/performance.md           where the section goes
#   MAX_LOAD=1.5 WAIT_MIN=30          the load to wait for, and for how long
#   LAYERS_BENCH=PATH                 a built benches/layers.rs binary [cargo bench]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
layer_rounds=${1:-300}
net_rounds=${2:-40}
warmup=10
py=${PY:-/tmp/fxenv/bin/python}
out=${OUT:-docs/performance.md}
max_load=${MAX_LOAD:-1.5}
wait_min=${WAIT_MIN:-30}
models=(layer mobilenet_v2 shufflenet_v2)
if [ -n "${WORK:-}" ]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
work=$(cd "$work" && pwd)
case "$out" in /*) ;; *) out=$repo/$out ;; esac
if [ -z "${REVISION:-}" ]; then
  REVISION=$(git rev-parse --short HEAD)
  if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    REVISION="$REVISION (with uncommitted changes)"
  fi
fi
cp "${BIN:-target/release/acon-onnx}" "$work/acon-onnx"
acon=$work/acon-onnx

"$py" benches/plain_export.py export "$work"

# Relative paths from here on, so the logs in the report name the models
# as <name>/model.onnx.
cd "$work"
for m in "${models[@]}"; do
  { echo "\$ acon-onnx convert $m/model.onnx -o $m/model.converted.onnx --force"
    "$acon" convert "$m/model.onnx" -o "$m/model.converted.onnx" --force; } | tee "$m/convert.txt"
  set +e
  "$acon" verify "$m/model.onnx" "$m/model.converted.onnx" > "$m/verify_close.txt" 2>&1
  rc=$?
  set -e
  { echo "\$ acon-onnx verify $m/model.onnx $m/model.converted.onnx"
    cat "$m/verify_close.txt"; echo "(exit $rc)"; } > "$m/verify.txt"
  if [ "$rc" = 1 ]; then
    { echo "\$ acon-onnx verify $m/model.onnx $m/model.converted.onnx --tolerance approximate"
      "$acon" verify "$m/model.onnx" "$m/model.converted.onnx" --tolerance approximate
      echo "(exit 0)"; } >> "$m/verify.txt"
  elif [ "$rc" != 0 ]; then
    cat "$m/verify.txt" >&2
    exit "$rc"
  fi
  cat "$m/verify.txt"
done

load1() { cut -d' ' -f1 /proc/loadavg; }
waited=0
while awk -v l="$(load1)" -v m="$max_load" 'BEGIN { exit !(l >= m) }' && [ "$waited" -lt "$wait_min" ]; do
  echo "load $(load1) >= $max_load; waiting ($waited of $wait_min min)" >&2
  sleep 60
  waited=$((waited + 1))
done
load_note=""
if awk -v l="$(load1)" -v m="$max_load" 'BEGIN { exit !(l >= m) }'; then
  load_note="the 1-minute load was still >= $max_load after waiting $waited min; the run went ahead"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g')
date=$(date -u '+%Y-%m-%d %H:%M UTC')

for m in "${models[@]}"; do
  rounds=$net_rounds
  [ "$m" = layer ] && rounds=$layer_rounds
  opts=(--runs "$rounds" --warmup "$warmup")
  "$acon" bench "$m/model.onnx" --plain --vs "$m/model.converted.onnx" "${opts[@]}" \
    | tee "$m/bench_converted.txt"
  "$acon" bench "$m/model.onnx" --plain --vs "$m/model.onnx" --vs-native "${opts[@]}" \
    | tee "$m/bench_native.txt"
  "$acon" bench "$m/model.converted.onnx" --plain --vs "$m/model.onnx" --vs-native "${opts[@]}" \
    | tee "$m/bench_native_vs_converted.txt"
done
"$py" "$repo/benches/plain_export.py" onnxruntime "$work" "$layer_rounds" "$net_rounds"
load_after=$(cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g')

# What tract runs for the layer, as exported and converted: the profiled plan
# (benches/layers.rs --plan; LAYERS_BENCH=path runs an already built binary).
plan_args=(--plan "$work/layer/model.onnx" --plan "$work/layer/model.converted.onnx")
if [ -n "${LAYERS_BENCH:-}" ]; then
  "$LAYERS_BENCH" "${plan_args[@]}" > layer/plan.md
else
  (cd "$repo" && cargo bench --bench layers -- "${plan_args[@]}") > layer/plan.md
fi
cat layer/plan.md

tract=$(awk '/^name = "tract-(onnx|core|linalg)"$/ { n = $3; getline; gsub(/"/, "", n); gsub(/"/, "", $3); printf "%s%s %s", sep, n, $3; sep = ", " }' "$repo/Cargo.lock")
DATE=$date LOAD_BEFORE=$load_before LOAD_AFTER=$load_after LOAD_NOTE=$load_note \
  REVISION=$REVISION TRACT=$tract LAYER_ROUNDS=$layer_rounds NET_ROUNDS=$net_rounds \
  WARMUP=$warmup COMMAND="benches/plain_export.sh $layer_rounds $net_rounds" \
  CPUS=$(nproc) CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) \
  "$py" -c 'import json, os, sys
keys = ["date", "load_before", "load_after", "load_note", "revision", "tract", "command", "cpu"]
run = {k: os.environ[k.upper()] for k in keys}
run.update({k: int(os.environ[k.upper()]) for k in ["layer_rounds", "net_rounds", "warmup", "cpus"]})
json.dump(run, open(sys.argv[1], "w"), indent=1)' "$work/run.json"
"$py" "$repo/benches/plain_export.py" report "$work" "$out"
