"""1,000 seeded random fault/recovery sequences through guard's state machine: stuck quarantines.

Usage: python benchmarks/guard_sequences.py [--runs 1000] [--steps 16]

Each sequence is one node with two GPUs judged once a minute, with the real history (SQLite,
on tmpfs where there is one), the real rules and state machine, a recording scheduler and
GPU remedies that succeed 80% of the time. At random steps a GPU falls off the bus (Xid 79:
reboot), logs a double-bit error (Xid 48: reset), reports a remapped row pending (reset), or
an application floods its log with Xid 13 (never a quarantine). A reboot starts a new boot
(the fault stays 20% of the time); a reset clears what it fixes. Counted, after every judgement:
- stuck: a GPU whose evidence is gone, still held out more than clean_checks + 1 judgements later
  (once the sequence's faults stop, each runs until its GPUs are back or escalated);
- resumed without evidence: the node let back while a GPU still had a fault's evidence;
- quarantined by an application fault: held out with only application Xids in its log.
ESCALATED (N remediations that did not help) stays out on purpose: counted apart.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from guard_helpers import FakeRemedies, FakeScheduler, reading, rules_with, signals, xid  # noqa: E402
from hwtune.guard.core import Context, judge_signals  # noqa: E402
from hwtune.guard.machine import HOLDING  # noqa: E402
from hwtune.guard.rules import load_rules  # noqa: E402
from hwtune.guard.store import Store  # noqa: E402

GPUS = ("0000:3b:00.0", "0000:5e:00.0")


class World(FakeRemedies):
    """The host's truth: which faults are there; resets and reboots that work 80% of the time."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng
        self.log: dict[str, int] = {}  # GPU -> Xid of a fault in this boot's log
        self.pending: set[str] = set()  # GPUs with a row remap pending
        self.rebooted = False

    def busy(self, bus: str) -> bool:
        return False

    def reset(self, bus: str) -> str:
        self.calls.append(("reset", bus))
        if self.rng.random() < 0.8:
            self.pending.discard(bus)
            if self.log.get(bus) == 48:
                del self.log[bus]
        return "reset"

    def verify(self, bus: str) -> bool:
        return bus not in self.pending and self.log.get(bus) != 48

    def reboot(self) -> str:
        self.calls.append(("reboot", ""))
        self.rebooted = True
        return "reboot requested"

    def evidence(self, bus: str) -> bool:
        return bus in self.log or bus in self.pending


def run_sequence(seed: int, steps: int, rules_path: Path, folder: Path) -> dict[str, int]:
    rng = random.Random(seed)
    world = World(rng)
    sched = FakeScheduler()
    rules = load_rules(rules_path)
    clean = rules.policy.clean_checks
    out = {"stuck": 0, "resumed_without_evidence": 0, "app_quarantine": 0, "escalated": 0, "quarantines": 0}
    seq, boot, now = 0, 1, 1_800_000_000.0
    clean_since: dict[str, int] = {}
    hardware: set[str] = set()  # GPUs that had a hardware fault in this sequence
    with Store(folder) as store:
        ctx = Context(store, rules, sched, "n1", True, False, world, sleep=lambda s: None)
        step = 0
        while True:
            events = []
            faulting = step < steps
            if world.rebooted:
                boot += 1
                world.rebooted = False
                world.log = {g: 79 for g, c in world.log.items() if c == 79 and rng.random() < 0.2}
                for g in world.log:
                    seq += 1
                    events.append(xid(seq, 79, now, boot=f"b{boot}", bus=g))
            app_only = set()
            if faulting and rng.random() < 0.25:
                gpu = rng.choice(GPUS)
                kind = rng.choice(("xid79", "xid48", "remap", "app"))
                if kind == "app":
                    for _ in range(30):
                        seq += 1
                        events.append(xid(seq, 13, now, boot=f"b{boot}", bus=gpu))
                    app_only.add(gpu)
                elif kind == "remap":
                    world.pending.add(gpu)
                    hardware.add(gpu)
                else:
                    code = 79 if kind == "xid79" else 48
                    world.log[gpu] = code
                    hardware.add(gpu)
                    seq += 1
                    events.append(xid(seq, code, now, boot=f"b{boot}", bus=gpu))
            readings = [reading("row_remap_pending", g) for g in sorted(world.pending)]
            before = {g for g in GPUS if world.evidence(g)}  # the evidence this judgement saw
            result = judge_signals(ctx, signals(events, readings, gpus=GPUS), boot=f"b{boot}", now=now)
            states = dict(result.gpus)
            out["quarantines"] += sum(1 for a in result.actions if a.action == "drain" and a.executed)
            for g in GPUS:
                if g in before and g not in app_only:  # a fault seen now: the count of clean checks starts again
                    clean_since.pop(g, None)
                if states.get(g) in HOLDING and not world.evidence(g) and states.get(g) != "ESCALATED":
                    clean_since[g] = clean_since.get(g, 0) + 1
                    if clean_since[g] == clean + 2:
                        out["stuck"] += 1
                        if os.environ.get("GUARD_SEQ_DEBUG"):
                            print("stuck", seed, step, g, states, world.log, world.pending)
                else:
                    clean_since.pop(g, None)
                if states.get(g) in HOLDING and g not in hardware:  # only application Xids ever on it
                    out["app_quarantine"] += 1
            if any(a.action == "resume" and a.executed for a in result.actions) and any(
                    world.evidence(g) for g in GPUS):
                out["resumed_without_evidence"] += 1
            step += 1
            now += 60.0
            settled = all(states.get(g) in ("HEALTHY", "SUSPECT", "ESCALATED") for g in GPUS)
            if step >= steps and (settled or step > steps + 40):
                out["escalated"] += sum(1 for g in GPUS if states.get(g) == "ESCALATED")
                if not settled:
                    out["stuck"] += sum(1 for g in GPUS if states.get(g) in HOLDING and states.get(g) != "ESCALATED"
                                        and not world.evidence(g))
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    totals: dict[str, int] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hwtune-guard-seq-", dir=shm) as tmp:
        rules = Path(tmp) / "rules.toml"
        rules.write_text(rules_with(allow_reboot=True, reboots_per_day=1000))
        for i in range(args.runs):
            got = run_sequence(args.seed + i, args.steps, rules, Path(tmp) / f"s{i}")
            for k, v in got.items():
                totals[k] = totals.get(k, 0) + v
    print(f"{args.runs} sequences of {args.steps} faulting steps (seeds {args.seed}..{args.seed + args.runs - 1}), "
          f"{time.perf_counter() - start:.0f} s")
    for key in ("quarantines", "stuck", "resumed_without_evidence", "app_quarantine", "escalated"):
        print(f"  {key}: {totals.get(key, 0)}")


if __name__ == "__main__":
    main()
