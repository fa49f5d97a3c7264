#!/usr/bin/env bash
# Conversion speed and memory, measured side by side in one run.
#
# Builds a large Meta-ACON model (ResNet-50 with MetaAconC after each
# bottleneck's 3×3 conv, about 100 MB; generated, never committed), then runs,
# interleaved, RUNS times each: a plain file copy (`cp`, and `dd` through user
# space), `acon-onnx convert` of the model, and `acon-onnx convert` of the
# converted model, which has no ACON op left and is written back unchanged
# (the round trip). It prints
#
#   convert time ÷ copy time   (minimum of the runs each; target ≤ 1.5)
#   peak RSS ÷ file size       (largest of the runs;     target ≤ 1.2)
#   round trip time ÷ copy time
#
# The rewrite moves every weight after the first ACON node to another file
# offset, so convert reads weights through its buffer; the round trip leaves
# offsets where they were, so its weights go by kernel copy, as cp's do
# (src/model/sink.rs).
#
# Usage: benches/convert.sh [RUNS]   (needs GNU time at /usr/bin/time for RSS)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
# The `profiling` profile: release with line tables, for `perf record`.
cargo build --profile profiling -q
bin=target/profiling/acon-onnx
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" zoo resnet50 --act meta-acon --seed 1 -o "$work/r50.onnx" >/dev/null
size=$(stat -c %s "$work/r50.onnx")
nodes=$("$bin" inspect "$work/r50.onnx" --json | grep -c '"form": "custom-op"' || true)
echo "model: ResNet-50 Meta-ACON, $size bytes, $nodes MetaAconC custom-op nodes"
"$bin" convert "$work/r50.onnx" -o "$work/std.onnx" >/dev/null

now() { date +%s%N; }
ms() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
best_cp=; best_dd=; best_conv=; best_rt=; peak=0
for _ in $(seq "$runs"); do
  rm -f "$work/cp.onnx" "$work/dd.onnx" "$work/out.onnx" "$work/rt.onnx"
  t0=$(now); cp "$work/r50.onnx" "$work/cp.onnx"; t1=$(now)
  dd if="$work/r50.onnx" of="$work/dd.onnx" bs=1M status=none; t2=$(now)
  /usr/bin/time -f "%M" -o "$work/rss" "$bin" convert "$work/r50.onnx" -o "$work/out.onnx" >/dev/null
  t3=$(now)
  "$bin" convert "$work/std.onnx" -o "$work/rt.onnx" >/dev/null
  t4=$(now)
  cp_ns=$((t1 - t0)); dd_ns=$((t2 - t1)); conv_ns=$((t3 - t2)); rt_ns=$((t4 - t3))
  rss_kb=$(tail -n 1 "$work/rss")
  [ -z "$best_cp" ] || [ "$cp_ns" -lt "$best_cp" ] && best_cp=$cp_ns
  [ -z "$best_dd" ] || [ "$dd_ns" -lt "$best_dd" ] && best_dd=$dd_ns
  [ -z "$best_conv" ] || [ "$conv_ns" -lt "$best_conv" ] && best_conv=$conv_ns
  [ -z "$best_rt" ] || [ "$rt_ns" -lt "$best_rt" ] && best_rt=$rt_ns
  [ "$rss_kb" -gt "$peak" ] && peak=$rss_kb
  echo "  run: cp $(ms $cp_ns) ms  dd $(ms $dd_ns) ms  convert $(ms $conv_ns) ms  peak RSS $rss_kb KiB  round trip $(ms $rt_ns) ms"
done
out_size=$(stat -c %s "$work/out.onnx")
echo "converted: $out_size bytes"
cmp -s "$work/std.onnx" "$work/rt.onnx" || { echo "the round trip changed the converted model" >&2; exit 1; }
echo "convert time / cp time:  $(ratio $best_conv $best_cp)  (min $(ms $best_conv) ms vs $(ms $best_cp) ms; target <= 1.5)"
echo "convert time / dd time:  $(ratio $best_conv $best_dd)  (min $(ms $best_dd) ms; dd copies through user space)"
echo "round trip / cp time:     $(ratio $best_rt $best_cp)  (min $(ms $best_rt) ms; the converted model written back, byte for byte)"
echo "peak RSS / file size:    $(ratio $((peak * 1024)) $size)  ($peak KiB vs $((size / 1024)) KiB; target <= 1.2)"
