#!/usr/bin/env python3
"""The layer benchmark of docs/performance.md in onnxruntime (issue 7, target 3).

Optional and outside CI: it needs a venv with onnxruntime and numpy,

    python3 -m venv /tmp/ortenv
    /tmp/ortenv/bin/pip install onnxruntime numpy

and the layer models that `cargo bench --profile profiling --bench layers --
--save-models DIR --models-only` writes (a.onnx ... sigmoid.onnx, see
benches/layers.rs).
benches/performance.sh does both and puts the output into the report.

Usage: onnxruntime_layers.py DIR [ROUNDS] [JSON]

Every session runs on one thread (intra- and inter-op), with the full graph
optimisations onnxruntime applies by default. The layers run interleaved,
the order rotating and reversing every round; each figure is the minimum
over the rounds, and each round also gives a ratio to (a). Prints a Markdown
table; with JSON, also writes the minimum of each layer there ({"a": ms, ...}),
which benches/layers.rs puts into its main table.
"""

import json
import os
import platform
import sys
import time

import numpy as np
import onnxruntime as ort

LAYERS = [
    ("a", "Meta-ACON as PyTorch's exporter decomposes it (a)"),
    ("b", "Meta-ACON in textbook order (b)"),
    ("c", "Meta-ACON as `acon-onnx convert` emits it (c)"),
    ("relu", "ReLU"),
    ("sigmoid", "Sigmoid (the one-pass floor)"),
]
TARGET = 0.85


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def main():
    folder = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    warmup = 10
    sessions = [session(os.path.join(folder, f"{key}.onnx")) for key, _ in LAYERS]
    shape = [d for d in sessions[0].get_inputs()[0].shape]
    x = np.random.default_rng(11).uniform(-3, 3, size=shape).astype(np.float32)
    feeds = [{s.get_inputs()[0].name: x} for s in sessions]
    ys = [s.run(None, f)[0] for s, f in zip(sessions, feeds)]
    for (key, _), y in zip(LAYERS[1:3], ys[1:3]):
        diff = float(np.max(np.abs(y - ys[0])))
        assert diff < 1e-4, f"({key}) differs from (a) by {diff}"
    n = len(sessions)
    times = [[] for _ in range(n)]
    for r in range(warmup + rounds):
        order = [(i + r) % n for i in range(n)]
        if r % 2:
            order.reverse()
        for i in order:
            t0 = time.perf_counter()
            sessions[i].run(None, feeds[i])
            t = (time.perf_counter() - t0) * 1e3
            if r >= warmup:
                times[i].append(t)
    times = [np.array(t) for t in times]
    a = times[0]
    floor = times[-1].min()
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}, Python "
          f"{platform.python_version()}; one thread, {rounds} interleaved rounds after "
          f"{warmup} warm-up, input {shape}.")
    print()
    print("| layer | min ms | median ms | × (a) | per round × (a) | × floor |")
    print("|---|---|---|---|---|---|")
    for (key, label), t in zip(LAYERS, times):
        r = t / a
        print(f"| {label} | {t.min():.3f} | {np.median(t):.3f} | {t.min() / a.min():.2f}× | "
              f"{np.median(r):.2f} [{np.quantile(r, 0.1):.2f}–{np.quantile(r, 0.9):.2f}] | "
              f"{t.min() / floor:.2f}× |")
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as f:
            json.dump({key: float(t.min()) for (key, _), t in zip(LAYERS, times)}, f)
    ratio = times[2].min() / a.min()
    verdict = "met" if ratio <= TARGET else f"missed by {(ratio / TARGET - 1) * 100:.0f}%"
    print()
    print(f"Target 3, converted (c) ÷ PyTorch's decomposition (a): {ratio:.2f}×, "
          f"target ≤ {TARGET}×: **{verdict}**.")


if __name__ == "__main__":
    main()
