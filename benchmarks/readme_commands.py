"""How long do README.md's two commands take on a fresh clone?

Clones this checkout (its committed HEAD) into an empty temporary folder with
nothing beside it, then runs the first two ```sh blocks of the clone's
README.md verbatim, one after the other, with bash: install + `hwtune check`,
then the whole test suite. Prints each command's wall time and exit code and
the last lines of its output.

Run: python benchmarks/readme_commands.py [--keep DIR] [--only 1|2]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands(readme: Path) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
    return [b.strip() for b in blocks[:2]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="clone here and keep it")
    ap.add_argument("--only", type=int, choices=(1, 2), help="run only the first (1) or both (2, the default)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="hwtune-readme-"))
    clone = work / "hwtune"
    try:
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        head = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        commands = readme_commands(clone / "README.md")[: args.only or 2]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HWTUNE_"))}
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"{platform.freedesktop_os_release().get('PRETTY_NAME', '')}; clone of {head}")
        for n, command in enumerate(commands, 1):
            start = time.perf_counter()
            res = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True)
            took = time.perf_counter() - start
            tail = res.stdout.strip().splitlines()[-3:]  # hwtune's verdict, pytest's summary
            if res.returncode != 0:
                tail += res.stderr.strip().splitlines()[-3:]
            print(f"\ncommand {n}: {command}\n  exit {res.returncode}, {took:.1f} s wall")
            for line in tail:
                print(f"  | {line}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
