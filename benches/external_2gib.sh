#!/usr/bin/env bash
# Manual benchmark (issue #3): converting a model of more than 2 GiB whose
# weights live in an external data file.
#
# Generates (never commits) an MLP of LAYERS AconC blocks, 256 MiB of weights
# each (default 9: 2.25 GiB) with `examples/external_big_model.rs`, then times,
# after warming the page cache and with `sync` before each step:
#   a plain copy of model.onnx + model.onnx.data (`cp --reflink=never`), and
#   `acon-onnx convert` under GNU time (the output keeps external data).
# It prints
#
#   convert time ÷ copy time
#   peak RSS ÷ total input size      (GNU time; the mapped weights count in RSS
#                                     as they are read, though the kernel may
#                                     drop those page-cache pages at any time)
#   peak RssAnon ÷ total input size  (sampled from /proc: what the conversion
#                                     itself allocates)
#
# and deletes everything it wrote. Needs about 7 GB free where WORK_DIR is
# (default: a fresh directory under ${TMPDIR:-/tmp}).
#
# Usage: benches/external_2gib.sh [LAYERS]
set -euo pipefail
cd "$(dirname "$0")/.."
layers=${1:-9}
base=${WORK_DIR:-${TMPDIR:-/tmp}}
need_kb=$(( (layers * 256 * 3 + 512) * 1024 ))
free_kb=$(df -Pk "$base" | awk 'NR == 2 { print $4 }')
if (( free_kb < need_kb )); then
    echo "need $((need_kb / 1024 / 1024)) GiB free in $base, have $((free_kb / 1024 / 1024)) GiB" >&2
    exit 1
fi
# The `profiling` profile: release with line tables, for `perf record`.
cargo build --profile profiling -q --bin acon-onnx --example external_big_model
bin=target/profiling/acon-onnx
work=$(mktemp -d "$base/acon-2gib.XXXXXX")
trap 'rm -rf "$work"' EXIT

target/profiling/examples/external_big_model "$work/in" "$layers"
total=$(( $(stat -c %s "$work/in/model.onnx") + $(stat -c %s "$work/in/model.onnx.data") ))
echo "input: $total bytes ($(awk -v b="$total" 'BEGIN { printf "%.2f", b / 2^30 }') GiB)"

# Both runs read from the page cache and start with no dirty pages.
cat "$work/in/model.onnx" "$work/in/model.onnx.data" >/dev/null
secs() { awk '/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); s = 0;
                for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$1"; }
rss_kb() { awk '/Maximum resident set size/ { print $NF }' "$1"; }

mkdir "$work/copy"
sync
/usr/bin/time -v cp --reflink=never "$work/in/model.onnx" "$work/in/model.onnx.data" \
    "$work/copy/" 2>"$work/cp.time"
sync
rm -rf "$work/copy"

mkdir "$work/out"
sync
/usr/bin/time -v "$bin" convert "$work/in/model.onnx" -o "$work/out/model.onnx" \
    2>"$work/convert.time" &
timer=$!
# RSS counts the mapped weights' page-cache pages, which the kernel can drop;
# RssAnon is the memory the conversion itself allocated. Sample it.
anon_kb=0
child=
while kill -0 "$timer" 2>/dev/null; do
    [[ -z $child ]] && child=$(cat "/proc/$timer/task/$timer/children" 2>/dev/null | awk '{ print $1 }')
    if [[ -n $child ]]; then
        kb=$(awk '/^RssAnon/ { print $2 }' "/proc/$child/status" 2>/dev/null || true)
        (( ${kb:-0} > anon_kb )) && anon_kb=$kb
    fi
    sleep 0.02
done
wait "$timer"
sync
out_total=$(( $(stat -c %s "$work/out/model.onnx") + $(stat -c %s "$work/out/model.onnx.data") ))

cp_s=$(secs "$work/cp.time")
conv_s=$(secs "$work/convert.time")
rss=$(( $(rss_kb "$work/convert.time") * 1024 ))
echo "output: $out_total bytes (model.onnx + model.onnx.data)"
echo "copy:    ${cp_s} s"
echo "convert: ${conv_s} s, peak RSS $rss bytes"
awk -v c="$conv_s" -v p="$cp_s" 'BEGIN { printf "convert time / copy time = %.2f\n", c / p }'
awk -v r="$rss" -v t="$total" 'BEGIN { printf "peak RSS / total size    = %.2f\n", r / t }'
awk -v r="$((anon_kb * 1024))" -v t="$total" \
    'BEGIN { printf "peak RssAnon / total size = %.4f (%d bytes, sampled every 20 ms)\n", r / t, r }'
