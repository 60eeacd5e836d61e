"""What following the kernel log costs: CPU and memory of an idle `hwtune guard` service, and the time
from a kernel record appended to the followed file to guard's judgement of it.

Usage: python benchmarks/guard_follow_cost.py [--repeat 3] [--idle 15] [--records 20]

Each round starts `hwtune guard --log FILE --json --interval 3600` (actuator none: decide and
report) with a fresh history, waits for its first judgement, then
- idle: reads the process's CPU time (utime + stime, /proc/PID/stat) over --idle seconds with
  nothing appended, and its resident memory;
- records: appends --records kernel Xid 13 records (application class: judged, no action) half a
  second apart and times each from the write to the JSON line of its judgement on guard's stdout;
  the CPU time over that phase, per record.
As root, the same idle measure for guard following /dev/kmsg itself (no --log), the service's
own mode. The random wait before a hold (0..1 s) is not part of these figures: nothing is held
(guard_slurm_latency.py times a drain with it).
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECORD = "3,{seq},{usec},-;NVRM: Xid (PCI:0000:3b:00): 13, pid=4242, name=python3, Graphics SM Warp Exception\n"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(folder: Path, log: Path | None) -> tuple[subprocess.Popen, queue.Queue[float]]:
    env = dict(os.environ, HWTUNE_STATE_DIR=str(folder / "state"), PYTHONPATH=str(REPO / "src"))
    argv = [sys.executable, "-m", "hwtune", "guard", "--node", "n1", "--json", "--interval", "3600"]
    argv += ["--log", str(log)] if log is not None else []
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue[float] = queue.Queue()

    def read() -> None:
        for _ in proc.stdout:
            lines.put(time.monotonic())
    threading.Thread(target=read, daemon=True).start()
    lines.get(timeout=120)  # the first judgement: guard is following now
    return proc, lines


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=30)


def idle(proc: subprocess.Popen, seconds: float) -> tuple[float, float]:
    """(CPU share of one core while idle, resident MiB)."""
    c0, t0 = cpu_s(proc.pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_s(proc.pid) - c0) / (time.monotonic() - t0), rss_mib(proc.pid)


def one_round(i: int, base: Path, args) -> dict:
    folder = base / f"round{i}"
    folder.mkdir()
    log = folder / "kmsg.log"
    log.write_text("6,1,1000000,-;Linux version 6.1.0\n")
    proc, lines = start(folder, log)
    try:
        share, rss = idle(proc, args.idle)
        c0, waits = cpu_s(proc.pid), []
        for k in range(args.records):
            with log.open("a") as f:
                f.write(RECORD.format(seq=100 + k, usec=5_000_000 + k))
            wrote = time.monotonic()
            waits.append(lines.get(timeout=30) - wrote)
            time.sleep(0.5)
        per_record = (cpu_s(proc.pid) - c0) / args.records
    finally:
        stop(proc)
    return {"idle": share, "rss": rss, "waits": waits, "per_record": per_record}


def kmsg_idle(base: Path, seconds: float) -> tuple[float, float]:
    folder = base / "kmsg"
    folder.mkdir(parents=True)
    proc, _ = start(folder, None)
    try:
        return idle(proc, seconds)
    finally:
        stop(proc)


def spread(values: list[float], scale: float, unit: str) -> str:
    return (f"median {statistics.median(values) * scale:.2f}{unit}, min {min(values) * scale:.2f}, "
            f"max {max(values) * scale:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--idle", type=float, default=15.0, help="seconds of idle following measured per round")
    ap.add_argument("--records", type=int, default=20, help="records appended per round")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hwtune-guard-follow-") as tmp:
        rounds = [one_round(i, Path(tmp), args) for i in range(args.repeat)]
        live = [kmsg_idle(Path(tmp) / f"k{i}", args.idle) for i in range(args.repeat)] \
            if os.geteuid() == 0 and os.access("/dev/kmsg", os.R_OK) else []
    waits = [w for r in rounds for w in r["waits"]]
    print(f"following a kmsg-format file, idle: CPU {spread([r['idle'] for r in rounds], 100, '%')} of one core; "
          f"resident {spread([r['rss'] for r in rounds], 1, ' MiB')} over {args.repeat} rounds of {args.idle:g} s")
    print(f"record appended -> judgement printed: {spread(waits, 1000, ' ms')}, "
          f"within 2 s: {sum(w <= 2 for w in waits)}/{len(waits)}")
    print(f"CPU per record judged: {spread([r['per_record'] for r in rounds], 1000, ' ms')}")
    if live:
        print(f"following /dev/kmsg, idle: CPU {spread([s for s, _ in live], 100, '%')} of one core; "
              f"resident {spread([m for _, m in live], 1, ' MiB')}")
    else:
        print("following /dev/kmsg: not measured (needs root)")


if __name__ == "__main__":
    main()
