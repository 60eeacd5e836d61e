"""A kernel Xid 79 record appended to the followed kmsg-format file -> the node DRAINED in a real Slurm.

Usage (as root, with Debian's slurmctld, slurmd, slurm-client and munge installed):
    python benchmarks/guard_slurm_latency.py [--repeat 10]

Starts the one-node Slurm of tests/slurm/slurm-local.sh on free ports (state in a temporary
folder; stopped by pid at the end), then for each round: `hwtune guard --log FILE --actuator
slurm --act` following a fresh file with a fresh history, the record appended once guard has
made its first judgement, and `sinfo` asked every 20 ms until the node is drained; then guard
is stopped and the node resumed. The shipped rules are used as they are: the breaker's random
wait (0..1 s) before the hold is part of the figure.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "slurm" / "slurm-local.sh"
RECORD = ("3,{seq},{usec},-;NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, "
          "GPU has fallen off the bus.\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def state(env: dict, node: str) -> str:
    out = subprocess.run(["sinfo", "-h", "-N", "-n", node, "-o", "%T"], capture_output=True, text=True, env=env,
                         timeout=30).stdout
    return out.strip().rstrip("*~#!%$@^-")


def one_round(i: int, node: str, env: dict, base: Path) -> float:
    folder = base / f"round{i}"
    folder.mkdir()
    log = folder / "kmsg.log"
    log.write_text("6,1,1000000,-;Linux version 6.1.0\n")
    genv = dict(env, HWTUNE_STATE_DIR=str(folder / "state"), PYTHONPATH=str(REPO / "src"))
    guard = subprocess.Popen([sys.executable, "-m", "hwtune", "guard", "--log", str(log), "--actuator", "slurm",
                              "--act", "--node", node, "--json", "--interval", "3600"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=genv)
    try:
        guard.stdout.readline()  # the first judgement: guard is following now
        with log.open("a") as f:
            f.write(RECORD.format(seq=100 + i, usec=5_000_000 + i))
        start = time.monotonic()
        while state(env, node) not in ("drained", "draining"):
            if time.monotonic() - start > 30:
                why = guard.stderr.read()[-500:] if guard.poll() is not None else ""
                raise SystemExit(f"round {i}: not drained after 30 s: {why}")
            time.sleep(0.02)
        return time.monotonic() - start
    finally:
        guard.kill()
        guard.wait(timeout=30)
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"], env=env, timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hwtune-guard-slurm-") as tmp:
        base = Path(tmp)
        (base / "slurm").mkdir()
        started = subprocess.run(["bash", str(SCRIPT), "start", str(base / "slurm"), str(free_port()),
                                  str(free_port())], capture_output=True, text=True, timeout=120)
        try:
            if started.returncode != 0:
                raise SystemExit(f"the local Slurm did not start: {started.stderr[-500:]}")
            node = started.stdout.strip().splitlines()[-1]
            env = dict(os.environ, SLURM_CONF=str(base / "slurm" / "slurm.conf"))
            times = [one_round(i, node, env, base) for i in range(args.repeat)]
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop", str(base / "slurm")], capture_output=True, timeout=60)
    print(f"Xid 79 record -> Slurm DRAIN: median {statistics.median(times):.2f} s, min {min(times):.2f}, "
          f"max {max(times):.2f} over {len(times)} rounds; within 2 s: {sum(t <= 2 for t in times)}/{len(times)}")


if __name__ == "__main__":
    main()
