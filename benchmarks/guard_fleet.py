"""A simulated 50-node fleet with 30% of the nodes failing at once and the breaker at 20%.

Usage: python benchmarks/guard_fleet.py [--nodes 50] [--failing 0.3] [--repeat 5]

Each failing node is its own guard (its own history, the real rules and state machine), all
judging at the same moment in their own threads against one scheduler that answers every call
after a round trip (20 ms, a Slurm controller's order) and serialises them, as slurmctld
does. Counted: nodes drained at the end, against the limit (20% of the nodes). Run with the
shipped random wait before the hold (breaker_jitter_s = 1.0) and, to show the race the wait
narrows, with none.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from guard_helpers import FakeRemedies, FakeScheduler, reading, rules_with, signals  # noqa: E402
from hwtune.guard.breaker import limit  # noqa: E402
from hwtune.guard.core import Context, judge_signals  # noqa: E402
from hwtune.guard.rules import load_rules  # noqa: E402
from hwtune.guard.store import Store  # noqa: E402


class SlowScheduler(FakeScheduler):
    """One scheduler for the fleet: each call takes a round trip and holds the controller's lock."""

    def __init__(self, nodes: dict, rtt_s: float) -> None:
        super().__init__(nodes=nodes)
        self.lock = threading.Lock()
        self.rtt_s = rtt_s
        self.peak = 0  # the most nodes held at any moment (an overshoot lasts until the racer lets go)

    def _slow(self, fn, *args):
        time.sleep(self.rtt_s / 2)
        with self.lock:
            out = fn(*args)
        time.sleep(self.rtt_s / 2)
        return out

    def run(self, verb, node, reason):
        out = self._slow(FakeScheduler.run, self, verb, node, reason)
        with self.lock:
            self.peak = max(self.peak, FakeScheduler.fleet(self)[1])
        return out

    def in_effect(self, verb, node):
        return self._slow(FakeScheduler.in_effect, self, verb, node)

    def fleet(self):
        return self._slow(FakeScheduler.fleet, self)


def one_fleet(n: int, failing: int, jitter: float, fraction: float, rtt_s: float, base: Path) -> tuple[int, int]:
    sched = SlowScheduler({f"n{i}": ("idle", "") for i in range(n)}, rtt_s)
    rules_path = base / f"rules-{jitter}.toml"
    rules_path.write_text(rules_with(breaker_jitter_s=jitter, breaker_fraction=fraction))
    rules = load_rules(rules_path)
    barrier = threading.Barrier(failing)

    def host(i: int) -> None:
        with Store(base / f"{time.monotonic_ns()}-{i}") as store:
            ctx = Context(store, rules, sched, f"n{i}", True, False, FakeRemedies(busy_gpus={"0000:3b:00.0"}))
            barrier.wait()
            judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=time.time())

    threads = [threading.Thread(target=host, args=(i,)) for i in range(failing)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return FakeScheduler.fleet(sched)[1], sched.peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--failing", type=float, default=0.3)
    ap.add_argument("--fraction", type=float, default=0.2)
    ap.add_argument("--rtt-ms", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    failing = round(args.nodes * args.failing)
    most = limit(args.nodes, args.fraction)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="hwtune-guard-fleet-", dir=shm) as tmp:
        for jitter in (1.0, 0.0):
            got = [one_fleet(args.nodes, failing, jitter, args.fraction, args.rtt_ms / 1000, Path(tmp))
                   for _ in range(args.repeat)]
            print(f"{args.nodes} nodes, {failing} failing at once, limit {most} ({args.fraction:.0%}), "
                  f"random wait 0..{jitter:g} s: drained at the end {[g[0] for g in got]} "
                  f"(max {max(g[0] for g in got)}), "
                  f"peak while racing {[g[1] for g in got]}")


if __name__ == "__main__":
    main()
