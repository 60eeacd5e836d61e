"""What hostile files cost hwtune, and what resolving paths inside the root costs.

1. os-release with one long quoted value: python-distro's parser on the
   whole text (what `distro` did before the cap), and `probe_os` as hwtune
   runs it now (the file is capped at 64 KiB before the parser sees it).
2. A recorded `nvidia-smi -q -x` of 100 MB (a sparse file): time and peak RSS
   of replaying it.
3. A crafted kernel log (one line, or a line per piece) from 1 KiB to 16 MiB:
   parsed and matched against the health rules.
4. Probing the 96-thread EPYC snapshot in-process through openat2
   (RESOLVE_IN_ROOT) and through the descriptor walk that replaces it.

Run: python benchmarks/hostile_inputs.py [--runs N]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from _snapshots import probe_median_s, unpack


def os_release_figures(folder: Path) -> None:
    import distro

    from hwtune.facts import FactsBuilder
    from hwtune.host import Host
    from hwtune.probe.os import probe_os

    for kib in (15, 63, 256, 1024, 4096):  # 15 KiB: the longest value under the cap, parsed
        text = 'ID=x\nPRETTY_NAME="' + "a" * (kib * 1024) + '"\n'
        root = folder / f"osr-{kib}"
        (root / "etc").mkdir(parents=True)
        (root / "etc/os-release").write_text(text)
        start = time.perf_counter()
        probe_os(Host(root), FactsBuilder())
        capped = time.perf_counter() - start
        if kib <= 256:  # the uncapped parser is quadratic-ish: 1 MB took 22 s, 4 MB 225 s when reported
            start = time.perf_counter()
            distro.LinuxDistribution._parse_os_release_content(io.StringIO(text))
            whole = f"{time.perf_counter() - start:7.2f} s"
        else:
            whole = "(not run: 22 s at 1 MB, 225 s at 4 MB as reported)"
        print(f"os-release value {kib:>5} KiB: probe_os {capped * 1000:7.1f} ms; distro on the whole text {whole}")


def recorded_xml_figure(folder: Path) -> None:
    from hwtune.run import Runner

    root = folder / "xml"
    (root / "cmd").mkdir(parents=True)
    with open(root / "cmd/nvidia-smi_-q_-x.xml", "wb") as fh:
        fh.write(b"<nvidia_smi_log>")
        fh.truncate(100 * 1024 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    res = Runner(root).run(["nvidia-smi", "-q", "-x"])
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"100 MB recorded nvidia-smi XML: {took * 1000:.1f} ms, peak RSS +{(after - before) / 1024:.0f} MiB; "
          f"{res.error}")


def probe_figures(runs: int) -> None:
    from hwtune import fsroot

    unpacked, epyc = unpack("epyc7451-2s-8numa")
    for label, env in (("openat2", None), ("walk", "1")):
        if env:
            os.environ[fsroot.NO_OPENAT2_ENV] = env
        median_s = probe_median_s(epyc, runs)
        os.environ.pop(fsroot.NO_OPENAT2_ENV, None)
        print(f"probe EPYC snapshot ({label:7}): {median_s * 1000:6.1f} ms median of {runs}")


# Kernel-log lines crafted against each rule (issue 19 item 8: 1 MiB of the first took 430 s)
KERNEL_LOG_PIECES = ("Out of memory: Killed process 1 (", "x invoked oom-killer: gfp_mask=0x",
                     "NVRM: Xid (PCI:0000:3b:00): ", "pcieport 0000:00:03.1: AER: Multiple ")


def kernel_log_figures() -> None:
    """Parse and match a crafted kernel log, as one line and as a line per piece, from 1 KiB to the
    16 MiB a recorded output may hold: the time grows linearly."""
    from hwtune.health.patterns import match_events
    from hwtune.probe.logparse import parse_text

    for piece in KERNEL_LOG_PIECES:
        for shape, unit in (("one line", piece), ("line per piece", f"[ 1.000000] {piece}\n")):
            cells = []
            for kib in (1, 64, 1024, 16 * 1024):
                text = "[ 1.000000] " + unit * (kib * 1024 // len(unit)) + "\n"
                start = time.perf_counter()
                match_events(parse_text(text).lines)
                cells.append(f"{kib:>5} KiB {time.perf_counter() - start:7.3f} s")
            print(f"kernel log {piece[:24]!r:28} {shape:15}: " + "; ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"kernel {platform.release()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="hwtune-hostile-") as folder:
        os_release_figures(Path(folder))
        recorded_xml_figure(Path(folder))
    kernel_log_figures()
    probe_figures(args.runs)


if __name__ == "__main__":
    main()
