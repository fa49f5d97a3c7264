#!/usr/bin/env bash
# Issue 14's figures, one run, every comparison alternating process by process:
#  1. threads: `acon-onnx bench --threads 1` against `--threads 2` on the
#     Meta-ACON activation layer as tract's ops (layer (c) of
#     benches/layers.rs, converted), on the same layer on the fused kernel
#     (layer (d), the custom op), and on MobileNetV2 1.0 Meta-ACON, converted
#     and on the fused kernels;
#  2. the fused kernels against the decomposed ops (`bench --vs`), the
#     speed an NNEF fragment with our kernel substituted could win back;
#  3. sizes: the two example binaries (ONNX path with the ACON kernels,
#     NNEF path with tract-nnef alone), as built and stripped; the NNEF
#     archive against the ONNX file, and its graph.nnef;
#  4. start-up: process start to exit after printing the top-5 (the first
#     and only output), `classify m.onnx` against `classify_nnef
#     m.nnef.tgz` and the same archive gunzipped, `m.nnef.tar`, in turn.
# Usage: [BEFORE=BIN] benches/edge.sh [ROUNDS] > log   (default 5;
# docs/nnef.md and docs/performance.md quote its output). BEFORE, an
# acon-onnx built before the fused kernel used tract's executor, adds its
# `--threads 2` beside this one's on the fused models, alternating.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q --bin acon-onnx --example classify --example classify_nnef
cargo bench -q --bench layers -- --save-models "$work/layers" --models-only 2>/dev/null
bin=target/release/acon-onnx
ex=target/release/examples

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "uptime before: $(uptime)"

$bin zoo mobilenet_v2 --act meta-acon -o "$work/m.onnx" >/dev/null
$bin convert "$work/m.onnx" -o "$work/m.std.onnx" >/dev/null
$bin convert "$work/m.onnx" -o "$work/m.nnef.tgz" --to nnef
$bin zoo shufflenet_v2 --act meta-acon --width 1.5 -o "$work/s.onnx" >/dev/null
$bin convert "$work/s.onnx" -o "$work/s.std.onnx" >/dev/null
$bin convert "$work/s.onnx" -o "$work/s.nnef.tgz" --to nnef

# the median of the numbers on stdin, one a line
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# min and median of one `bench` run's only row
bench_row() { "$bin" bench "$@" | awk '/median/ {for (i=1;i<=NF;i++) {if ($i=="median") md=$(i+1); if ($i=="min") mn=$(i+1)}; print mn, md; exit}'; }

echo
echo "## threads: bench MODEL --threads T --runs 20 --warmup 3, T alternating, $rounds rounds"
for pair in "layer-ops:$work/layers/c.onnx" "layer-fused:$work/layers/d.onnx" \
            "mobilenet_v2-ops:$work/m.std.onnx" "mobilenet_v2-fused:$work/m.onnx"; do
    name=${pair%%:*}; model=${pair#*:}
    : > "$work/t1"; : > "$work/t2"
    for r in $(seq "$rounds"); do
        order="1 2"; [ $((r % 2)) = 0 ] && order="2 1"
        for t in $order; do
            bench_row "$model" --threads "$t" --runs 20 --warmup 3 >> "$work/t$t"
        done
    done
    m1=$(cut -d' ' -f1 "$work/t1" | sort -g | head -1)
    m2=$(cut -d' ' -f1 "$work/t2" | sort -g | head -1)
    per_round=$(paste -d' ' "$work/t1" "$work/t2" | awk '{ print $4 / $2 }' | median)
    awk -v n="$name" -v a="$m1" -v b="$m2" -v r="$per_round" 'BEGIN { printf "%-20s min 1 thread %8.3f ms  min 2 threads %8.3f ms  2/1 %.2f (ratio of minimums)  per round (medians) %.2f\n", n, a, b, b / a, r }'
done

if [ -n "${BEFORE:-}" ]; then
    echo
    echo "## the fused kernel on one thread (BEFORE) and on the executor (this build), both --threads 2, alternating"
    for pair in "layer-fused:$work/layers/d.onnx" "mobilenet_v2-fused:$work/m.onnx"; do
        name=${pair%%:*}; model=${pair#*:}
        : > "$work/b"; : > "$work/a"
        for r in $(seq "$rounds"); do
            if [ $((r % 2)) = 0 ]; then
                bench_row "$model" --threads 2 --runs 20 --warmup 3 >> "$work/a"
                bin=$BEFORE bench_row "$model" --threads 2 --runs 20 --warmup 3 >> "$work/b"
            else
                bin=$BEFORE bench_row "$model" --threads 2 --runs 20 --warmup 3 >> "$work/b"
                bench_row "$model" --threads 2 --runs 20 --warmup 3 >> "$work/a"
            fi
        done
        mb=$(cut -d' ' -f1 "$work/b" | sort -g | head -1)
        ma=$(cut -d' ' -f1 "$work/a" | sort -g | head -1)
        per_round=$(paste -d' ' "$work/b" "$work/a" | awk '{ print $4 / $2 }' | median)
        awk -v n="$name" -v b="$mb" -v a="$ma" -v r="$per_round" 'BEGIN { printf "%-20s min before %8.3f ms  min now %8.3f ms  now/before %.2f (ratio of minimums)  per round (medians) %.2f\n", n, b, a, a / b, r }'
    done
fi

echo
echo "## fused kernels vs decomposed ops: bench FUSED --vs OPS --runs 30 --warmup 3, one thread"
for pair in "layer:$work/layers/d.onnx:$work/layers/c.onnx" \
            "mobilenet_v2:$work/m.onnx:$work/m.std.onnx" "shufflenet_v2_1.5:$work/s.onnx:$work/s.std.onnx"; do
    IFS=: read -r name fused ops <<< "$pair"
    echo "# $name"
    "$bin" bench "$fused" --vs "$ops" --runs 30 --warmup 3 | sed "s|$work/||g"
done

echo
echo "## sizes (bytes)"
for b in classify classify_nnef; do
    strip -o "$work/$b.stripped" "$ex/$b"
    echo "$b: built $(stat -c %s "$ex/$b"), stripped $(stat -c %s "$work/$b.stripped")"
done
strip -o "$work/acon-onnx.stripped" "$bin"
echo "acon-onnx: built $(stat -c %s "$bin"), stripped $(stat -c %s "$work/acon-onnx.stripped")"
for m in m s; do
    tar -xzOf "$work/$m.nnef.tgz" graph.nnef > "$work/$m.graph.nnef"
    echo "$m: onnx $(stat -c %s "$work/$m.onnx"), std onnx $(stat -c %s "$work/$m.std.onnx"), nnef.tgz $(stat -c %s "$work/$m.nnef.tgz"), graph.nnef $(stat -c %s "$work/$m.graph.nnef") bytes / $(wc -l < "$work/$m.graph.nnef") lines"
done

echo
echo "## start-up: process start to exit, top-5 printed; $((rounds * 2)) rounds, the order rotating"
# The same archive uncompressed too: how much of the NNEF start-up is gunzip.
gunzip -c "$work/m.nnef.tgz" > "$work/m.nnef.tar"
variants=(onnx tgz tar)
for w in "${variants[@]}"; do : > "$work/s_$w"; done
for r in $(seq $((rounds * 2))); do
    for k in 0 1 2; do
        w=${variants[$(( (r + k) % 3 ))]}
        t0=$(date +%s%N)
        case $w in
            onnx) "$ex/classify" "$work/m.onnx" > "$work/out_onnx" ;;
            *) "$ex/classify_nnef" "$work/m.nnef.$w" > "$work/out_$w" ;;
        esac
        echo $(( ($(date +%s%N) - t0) / 1000 )) >> "$work/s_$w"
    done
done
for w in "${variants[@]}"; do
    per_round=$(paste -d' ' "$work/s_onnx" "$work/s_$w" | awk '{ print $2 / $1 }' | median)
    awk -v w="$w" -v md="$(median < "$work/s_$w")" -v mn="$(sort -g "$work/s_$w" | head -1)" -v r="$per_round" \
        'BEGIN { printf "%-5s median %7.1f ms  min %7.1f ms  ÷ onnx per round (median) %.2f\n", w, md / 1e3, mn / 1e3, r }'
done
echo "top-5, ONNX path:"; cat "$work/out_onnx"
echo "top-5, NNEF path:"; cat "$work/out_tgz"
echo
echo "uptime after: $(uptime)"
