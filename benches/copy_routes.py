#!/usr/bin/env python3
"""Why `acon-onnx convert` copies each weight the way it does (src/model/sink.rs).

Copies one file, RUNS times interleaved, by the routes the writer can take,
and prints the minimum time of each:

  kernel copy (copy_file_range) with the output shifted by 0, 100, 4096 and
  65536 bytes against the input: what a rewrite that moves later tensors
  does to the kernel route;
  read + write through a 1 MiB buffer at shifts 0 and 100: the other route;
  both again after reserving the output with fallocate(FALLOC_FL_KEEP_SIZE).

Usage: benches/copy_routes.py FILE [RUNS]   (Linux, Python >= 3.8, stdlib only;
the output goes beside FILE and is removed). `benches/convert.sh` makes a
100 MB model to try it on.
"""
import ctypes
import ctypes.util
import os
import sys
import time

FALLOC_FL_KEEP_SIZE = 1
BUFFER = 1 << 20

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]


def copy(src, dst, size, route, shift, reserve):
    if os.path.exists(dst):
        os.unlink(dst)
    started = time.perf_counter()
    fi = os.open(src, os.O_RDONLY)
    fo = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        if reserve and libc.fallocate(fo, FALLOC_FL_KEEP_SIZE, 0, size + shift) != 0:
            raise OSError(ctypes.get_errno(), "fallocate")
        os.write(fo, b"\0" * shift)
        if route == "kernel":
            done = 0
            while done < size:
                done += os.copy_file_range(fi, fo, size - done, done)
        else:
            buf = bytearray(BUFFER)
            view = memoryview(buf)
            while True:
                n = os.readv(fi, [buf])
                if n == 0:
                    break
                os.write(fo, view[:n])
    finally:
        os.close(fi)
        os.close(fo)
    return (time.perf_counter() - started) * 1e3


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    size = os.path.getsize(src)
    dst = src + ".copy-routes.tmp"
    cases = [("kernel", s, False) for s in (0, 100, 4096, 65536)]
    cases += [("buffer", s, False) for s in (0, 100)]
    cases += [("kernel", s, True) for s in (0, 100)]
    cases += [("buffer", s, True) for s in (0, 100)]
    with open(src, "rb") as f:  # into the page cache
        while f.read(BUFFER):
            pass
    best = {c: float("inf") for c in cases}
    try:
        for _ in range(runs):
            for c in cases:
                best[c] = min(best[c], copy(src, dst, size, *c))
    finally:
        if os.path.exists(dst):
            os.unlink(dst)
    print(f"{src}: {size} bytes, minimum of {runs} runs")
    for (route, shift, reserve), ms in best.items():
        how = "kernel copy" if route == "kernel" else "1 MiB buffer"
        print(f"  {how:12}  shift {shift:6}  {'fallocate' if reserve else '         '}  {ms:6.1f} ms")


if __name__ == "__main__":
    main()
