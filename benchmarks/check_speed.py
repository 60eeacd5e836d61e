"""How fast is `hwtune check`?

1. `hwtune check` on this machine as a whole process, against the floor every
   typer/rich CLI pays (`python -c "import typer, rich.console"`), alternating
   in one run; the figure is the ratio of medians (target <= 1.5). hwtune
   freezes the garbage collector at exit (`run` in hwtune/cli_root.py), which
   the floor does not: the floor is also timed doing the same, and that
   like-for-like ratio is printed beside the target's. One process's time
   varies by +-20% on a shared VM, so the default is 61 rounds (floor, frozen
   floor, check), and the quartiles of the per-round ratios are printed too
   (their median need not equal the ratio of the medians).
2. Probing the 96-thread EPYC snapshot in-process (target <= 50 ms, median).

Run: python benchmarks/check_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _snapshots import probe_median_s, unpack


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(argv)} exited {proc.returncode}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=61)
    args = ap.parse_args()

    floor_cmd = [sys.executable, "-c", "import typer, rich.console"]
    frozen_cmd = [sys.executable, "-c", "import gc, typer, rich.console; gc.freeze()"]
    script = Path(sys.executable).with_name("hwtune")  # the console script a user runs
    check_cmd = [str(script), "check"] if script.exists() else [sys.executable, "-m", "hwtune", "check"]
    for cmd in (floor_cmd, frozen_cmd, check_cmd):  # warm the page cache and .pyc files
        timed(cmd)
    floor, frozen, check = [], [], []
    for _ in range(args.runs):
        floor.append(timed(floor_cmd))
        frozen.append(timed(frozen_cmd))
        check.append(timed(check_cmd))
    f, z, c = statistics.median(floor), statistics.median(frozen), statistics.median(check)

    _unpacked, epyc = unpack("epyc7451-2s-8numa")
    p = probe_median_s(epyc, args.runs)

    print(f"command: {' '.join(check_cmd)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {args.runs} runs each, medians")
    print(f"import typer, rich.console  : {f * 1000:7.1f} ms")
    print(f"  the same + gc.freeze()    : {z * 1000:7.1f} ms")
    print(f"hwtune check (process)      : {c * 1000:7.1f} ms   ratio {c / f:.2f} (target <= 1.5); "
          f"like for like (both freeze at exit) {c / z:.2f}")
    q = statistics.quantiles([b / a for a, b in zip(floor, check, strict=True)], n=4)
    qz = statistics.quantiles([b / a for a, b in zip(frozen, check, strict=True)], n=4)
    print(f"  per-round ratios, quartiles: {q[0]:.2f} {q[1]:.2f} {q[2]:.2f}; "
          f"like for like {qz[0]:.2f} {qz[1]:.2f} {qz[2]:.2f}")
    print(f"probe EPYC snapshot         : {p * 1000:7.1f} ms   (target <= 50 ms)")


if __name__ == "__main__":
    main()
