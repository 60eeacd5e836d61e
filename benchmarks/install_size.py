"""How much does installing hwtune take?

Builds this checkout's wheel once, then installs it into fresh virtual
environments: the core (`hwtune`) and with the bench extra (`hwtune[bench]`).
Prints the size of what pip added (the venv's site-packages minus an empty
venv's, which holds only pip) and the time pip took.

Run: python benchmarks/install_size.py [--python python3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tree_bytes(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            p = os.path.join(folder, name)
            if not os.path.islink(p):
                total += os.lstat(p).st_size
    return total


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def install(python: str, venv: Path, requirement: str) -> tuple[int, float]:
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    empty = tree_bytes(site_packages(venv))
    start = time.perf_counter()
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement], check=True)
    return tree_bytes(site_packages(venv)) - empty, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable, help="the Python to make the venvs with")
    ap.add_argument("--keep", type=Path, help="build the venvs here and keep them")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="hwtune-size-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        wheels = work / "wheel"
        subprocess.run([args.python, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(REPO)],
                       check=True)
        wheel = next(wheels.glob("hwtune-*.whl"))
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"Python {platform.python_version()}, pip from the configured index (its cache warm)")
        for label, extra in (("core   hwtune", ""), ("bench  hwtune[bench]", "[bench]")):
            size, took = install(args.python, work / (label.split()[0]), f"hwtune{extra} @ {wheel.as_uri()}")
            print(f"{label:<22}: {size / 1e6:7.1f} MB installed, pip took {took:5.1f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
