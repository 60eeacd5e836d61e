"""How long do hostile include trees take to load (or to be refused)?

Trees built in a temporary folder, each loaded in-process with `profile.load`:

- "doubling N": p0 includes p1 twice, p1 includes p2 twice, ... N deep
  (2**N paths through N+1 files). The issue reported 31.7 s at 17 deep, when
  every path was read and merged; 16 is the deepest allowed now, 17 refused.
- "chain 1200": c0 includes c1, ... 1,200 long (it crashed with a traceback);
  refused at 17 deep now.
- "wide 64": one profile including the same file 64 times (the most allowed).

Each case is timed `--runs` times; the median and the spread (min-max) are
printed with the number of files read.

Run: python benchmarks/profile_includes.py [--runs N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hwtune import profile as profiles
from hwtune.errors import ConfigError


def doubling(folder: Path, depth: int) -> Path:
    for n in range(depth + 1):
        inc = f'include = ["p{n + 1}.toml", "p{n + 1}.toml"]\n' if n < depth else ""
        (folder / f"p{n}.toml").write_text(inc + f'[tune.sysctl]\n"vm.swappiness" = {n}\n')
    return folder / "p0.toml"


def chain(folder: Path, length: int) -> Path:
    for n in range(length):
        (folder / f"c{n}.toml").write_text(f'include = ["c{n + 1}.toml"]\n' if n < length - 1 else "")
    return folder / "c0.toml"


def wide(folder: Path, count: int) -> Path:
    (folder / "leaf.toml").write_text('[tune.sysctl]\n"vm.swappiness" = 1\n')
    (folder / "wide.toml").write_text("include = [" + ", ".join(['"leaf.toml"'] * count) + "]\n")
    return folder / "wide.toml"


def time_load(path: Path, runs: int) -> tuple[list[float], int, str]:
    reads: list[str] = []
    real = profiles.read_document

    def counting(p):
        reads.append(str(p))
        return real(p)

    profiles.read_document = counting
    times, outcome = [], ""
    try:
        for _ in range(runs):
            reads.clear()
            start = time.perf_counter()
            try:
                profiles.load(str(path))
                outcome = "loaded"
            except ConfigError as exc:
                outcome = "refused: " + exc.message.split(": ", 1)[1][:40]
            times.append(time.perf_counter() - start)
    finally:
        profiles.read_document = real
    return times, len(reads), outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    print(f"# {platform.node()}, Python {platform.python_version()}, {args.runs} runs each")
    cases = [("doubling 12", lambda f: doubling(f, 12)), ("doubling 16", lambda f: doubling(f, 16)),
             ("doubling 17", lambda f: doubling(f, 17)), ("chain 1200", lambda f: chain(f, 1200)),
             ("wide 64", lambda f: wide(f, 64))]
    for name, build in cases:
        with tempfile.TemporaryDirectory() as tmp:
            times, reads, outcome = time_load(build(Path(tmp)), args.runs)
        ms = [t * 1000 for t in times]
        print(f"{name:12} {statistics.median(ms):7.2f} ms (min {min(ms):.2f}, max {max(ms):.2f}), "
              f"{reads:2d} files read, {outcome}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
