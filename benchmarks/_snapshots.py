"""The recorded snapshots the benchmarks probe, unpacked from tests/fixtures as the tests do."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import safetar  # noqa: E402  (the tests' checked unpacking, shared)


def unpack(name: str) -> tuple[tempfile.TemporaryDirectory, Path]:
    """(the temporary folder, to keep alive while in use; the snapshot's root in it)."""
    folder = tempfile.TemporaryDirectory(prefix="hwtune-bench-")
    safetar.extract(REPO / "tests" / "fixtures" / f"{name}.tar.xz", Path(folder.name))
    return folder, Path(folder.name) / name


def probe_median_s(root: Path, runs: int) -> float:
    """Median seconds of probing `root` in-process, after one warm-up probe."""
    from hwtune.host import Host
    from hwtune.probe import probe_facts

    probe_facts(Host(root))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        probe_facts(Host(root))
        times.append(time.perf_counter() - start)
    return statistics.median(times)
