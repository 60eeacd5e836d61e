"""kill -9 at every step boundary of guard's judgements, over 200 runs: duplicated and lost actions.

Usage: python benchmarks/guard_crash.py [--runs 200]

Each run is one node going bad (a remapped row pending) and coming back (three clean
checks), each judgement its own process (tests/guard_crash_driver.py) over the real history,
with a recording scheduler kept in a file. One judgement of the run is killed with SIGKILL at
one of the step boundaries (evidence stored; decision and actions committed; the scheduler
called; the action marked done), run i taking boundary i mod 4 and judgement (i // 4) mod 5;
the judgements go on as a restarted service would. A drain or a resume sent twice is
duplicated; one missing at the end (the node not drained after the fault, not resumed after
the clean checks) is lost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

from guard_helpers import rules_with  # noqa: E402
from hwtune.guard.actions import KILL_AT_ENV  # noqa: E402

DRIVER = REPO / "tests" / "guard_crash_driver.py"
STEPS = ("events", "decided", "ran", "finished")
# one judgement with the fault, then clean ones: drain, then resume after three clean checks
PLAN = [{"pending": True}, {"pending": True}, {}, {}, {}]


def judge(folder: Path, step: dict, kill_at: str | None) -> int:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    env.pop(KILL_AT_ENV, None)
    if kill_at:
        env[KILL_AT_ENV] = kill_at
    proc = subprocess.run([sys.executable, str(DRIVER), str(folder / "state"), str(folder / "sched.json"),
                           json.dumps(step)], capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode not in (0, -9):
        raise SystemExit(f"the driver failed: {proc.stderr[-800:]}")
    return proc.returncode


def one_run(i: int, base: Path) -> tuple[int, int, bool]:
    folder = base / f"run{i}"
    folder.mkdir()
    rules = folder / "rules.toml"
    rules.write_text(rules_with())
    kill_at, kill_step = STEPS[i % len(STEPS)], (i // len(STEPS)) % len(PLAN)
    killed = False
    n = 0
    for k, step in enumerate(PLAN):
        doc = {"rules": str(rules), "boot": "b1", "now": 100.0 + 60 * n, **step}
        n += 1
        if k == kill_step:
            killed = judge(folder, doc, kill_at) == -9
            doc = {**doc, "now": 100.0 + 60 * n}
            n += 1
        judge(folder, doc, None)  # the service restarted: the same judgement again
    for _ in range(2):  # and one more clean round, as the service goes on
        judge(folder, {"rules": str(rules), "boot": "b1", "now": 100.0 + 60 * n}, None)
        n += 1
    calls = [tuple(c) for c in json.loads((folder / "sched.json").read_text())["calls"]]
    duplicated = sum(max(0, calls.count(c) - 1) for c in set(calls))
    lost = sum(1 for c in (("drain", "n1"), ("resume", "n1")) if c not in calls)
    return duplicated, lost, killed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    start = time.perf_counter()
    dup = lost = killed = 0
    with tempfile.TemporaryDirectory(prefix="hwtune-guard-crash-") as tmp:
        for i in range(args.runs):
            d, lo, k = one_run(i, Path(tmp))
            dup, lost, killed = dup + d, lost + lo, killed + k
    print(f"{args.runs} runs, {killed} killed by SIGKILL at a step boundary ({len(STEPS)} boundaries x "
          f"{len(PLAN)} judgements), {time.perf_counter() - start:.0f} s: duplicated actions {dup}, "
          f"lost actions {lost}")


if __name__ == "__main__":
    main()
