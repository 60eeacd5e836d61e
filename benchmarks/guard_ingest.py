"""guard's event store: 4 MiB of kernel log ingested (parse, match, store), and its growth at 1 event/s.

Usage: python benchmarks/guard_ingest.py [--repeat 5]

The log is kmsg-format records, the mix a busy GPU host's log has: mostly ordinary lines, one
in fifty an Xid (13, 31, 43, 48, 79, 94), some AER and EDAC lines. Timed: the kmsg parser, the
kernel-log patterns (health/) and the store's durable insert, end to end, in one process. Growth:
a day of one Xid event a second written to a fresh store (with the samples and verdicts guard
writes beside them once a minute), then the database's size per event and per day.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hwtune.guard import kmsg  # noqa: E402
from hwtune.guard.follow import events_of  # noqa: E402
from hwtune.guard.store import Store  # noqa: E402

ORDINARY = ("usb 1-1: new high-speed USB device number {n} using xhci_hcd",
            "EXT4-fs (nvme0n1p2): mounted filesystem with ordered data mode. Quota mode: none.",
            "IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
            "audit: type=1400 audit({n}.123:45): apparmor=\"STATUS\" operation=\"profile_load\" name=\"x\"",
            "nvidia-peermem nv_get_p2p_free_callback:127 ERROR detected invalid context, skipping further processing")
XIDS = (13, 31, 43, 48, 79, 94)


def make_log(target_bytes: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    out, size, seq = [], 0, 0
    while size < target_bytes:
        seq += 1
        usec = seq * 1000
        if seq % 50 == 0:
            code = rng.choice(XIDS)
            text = f"NVRM: Xid (PCI:0000:{rng.choice(['3b', '5e', '86'])}:00): {code}, pid=1234, name=python3, x"
            line = f"3,{seq},{usec},-;{text}"
        elif seq % 97 == 0:
            line = f"3,{seq},{usec},-;pcieport 0000:00:03.1: AER: Correctable error message received from 0000:00:00.0"
        elif seq % 89 == 0:
            line = f"3,{seq},{usec},-;EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#2_DIMM#0 (x)"
        else:
            line = f"6,{seq},{usec},-;" + rng.choice(ORDINARY).format(n=seq)
        out.append(line)
        size += len(line) + 1
    return "\n".join(out) + "\n"


def ingest_once(text: str, folder: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    records = list(kmsg.kernel_records(text.splitlines()))
    events = events_of(records, "b1", time.time())
    with Store(folder) as store:
        new = store.add_events("n1", events)
    return time.perf_counter() - start, len(records), new


def growth(folder: Path, seconds: int) -> tuple[int, int]:
    """(bytes, events) after `seconds` of one Xid a second, with a sample round a minute."""
    from hwtune.guard.store import Event

    with Store(folder) as store:
        t0 = 1_800_000_000.0
        batch = []
        for i in range(seconds):
            batch.append(Event("b1", f"s{i}", t0 + i, i, "xid", "0000:3b:00.0", 13,
                               '{"detail": "pid=1234, name=python3, Graphics SM Warp Exception on (GPC 8, TPC 5)"}',
                               f"[{i}.000000] NVRM: Xid (PCI:0000:3b:00): 13, pid=1234, name=python3, Graphics SM "
                               "Warp Exception on (GPC 8, TPC 5, SM 0): Out Of Range Address"))
            if len(batch) == 60:
                store.add_events("n1", batch)
                store.add_samples("n1", t0 + i, [("0000:3b:00.0", name, 0.0) for name in (
                    "ecc_volatile_uncorrected", "ecc_aggregate_uncorrected", "ecc_volatile_corrected",
                    "remapped_rows_uncorrectable", "remapped_rows_correctable", "retired_pages_sbe",
                    "retired_pages_dbe", "pcie_replays")])
                batch = []
        return store.size_bytes(), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mib", type=float, default=4.0)
    ap.add_argument("--hours", type=float, default=24.0, help="growth: hours of one event a second")
    args = ap.parse_args()
    text = make_log(int(args.mib * 1024 * 1024))
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    times = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="hwtune-guard-ingest-") as tmp:  # on disk: fsync counts
            seconds, records, new = ingest_once(text, Path(tmp) / "state")
            times.append(seconds)
    print(f"ingest {len(text) / 2**20:.1f} MiB ({records} records, {new} events): "
          f"median {statistics.median(times):.3f} s,"
          f" min {min(times):.3f}, max {max(times):.3f} over {args.repeat} runs")
    with tempfile.TemporaryDirectory(prefix="hwtune-guard-growth-", dir=shm) as tmp:
        size, events = growth(Path(tmp) / "state", int(args.hours * 3600))
    per_event = size / events
    print(f"growth at 1 event/s: {size / 2**20:.1f} MiB after {args.hours:g} h ({events} events), "
          f"{per_event:.0f} bytes/event, {per_event * 86400 / 2**20:.1f} MiB/day; the 64 MiB cap is reached "
          f"after {64 * 2**20 / per_event / 86400:.1f} days (retention 90 days)")


if __name__ == "__main__":
    main()
