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
5. Every parser of recorded or live text (tests/hostile_parsers.py) given its
   crafted input at 1 KiB, 64 KiB, 1 MiB and its cap: the fastest and slowest
   of --repeats runs, CPU time of the parse (on a shared machine the wall time
   also counts other jobs; it is shown beside), each in a child process killed
   after --timeout seconds of wall time (a backtracking parser does not
   finish; larger sizes are then not run).

Run: python benchmarks/hostile_inputs.py [--runs N] [--parsers-only] [--repeats N] [--timeout S]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from _snapshots import probe_median_s, unpack
from hostile_parsers import KIB, MIB, cases


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

    _unpacked, epyc = unpack("epyc7451-2s-8numa")
    for label, env in (("openat2", None), ("walk", "1")):
        if env:
            os.environ[fsroot.NO_OPENAT2_ENV] = env
        median_s = probe_median_s(epyc, runs)
        os.environ.pop(fsroot.NO_OPENAT2_ENV, None)
        print(f"probe EPYC snapshot ({label:7}): {median_s * 1000:6.1f} ms median of {runs}")


def _time_parse(index: int, size: int, conn) -> None:
    import time as clock

    case = cases()[index]
    case.parser(case.maker(KIB))  # imports and compiled patterns are not what is measured
    text = case.maker(size)
    start, cpu = clock.perf_counter(), clock.process_time()
    case.parser(text)
    conn.send((clock.process_time() - cpu, clock.perf_counter() - start))


def _timed(index: int, size: int, timeout: float) -> tuple[float, float] | None:
    """(CPU, wall) seconds one parse took in a fresh child process; None when it ran past `timeout`
    seconds of wall time."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_time_parse, args=(index, size, send))
    child.start()
    took = recv.recv() if recv.poll(timeout) else None
    child.kill()
    child.join()
    return took


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB else f"{n // KIB} KiB" if n >= KIB else f"{n} B"


def parser_figures(repeats: int, timeout: float) -> None:
    for index, case in enumerate(cases()):
        cells, stopped = [], False
        for size in sorted({s for s in (KIB, 64 * KIB, MIB) if s < case.cap} | {case.cap}):
            if stopped:
                cells.append(f"{_size(size)}: not run")
                continue
            times = [_timed(index, size, timeout) for _ in range(repeats)]
            if any(t is None for t in times):
                cells.append(f"{_size(size)}: > {timeout:g} s")
                stopped = True
                continue
            cpu = sorted(t[0] * 1000 for t in times)  # type: ignore[index]
            wall = sorted(t[1] * 1000 for t in times)  # type: ignore[index]
            cells.append(f"{_size(size)}: {cpu[0]:.1f}-{cpu[-1]:.1f} ms CPU ({wall[0]:.0f}-{wall[-1]:.0f} wall)")
        print(f"{case.name}: " + "; ".join(cells), flush=True)


# Kernel-log lines crafted against each rule (issue 19 item 8: 1 MiB of the first took 430 s)
KERNEL_LOG_PIECES = ("Out of memory: Killed process 1 (", "x invoked oom-killer: gfp_mask=0x",
                     "NVRM: Xid (PCI:0000:3b:00): ", "pcieport 0000:00:03.1: AER: Multiple ")


def kernel_log_figures() -> None:
    """Parse and match a crafted kernel log, as one line and as a line per piece, from 1 KiB to the
    16 MiB a recorded output may hold (hwtune judges the newest 4 MiB of it): the time grows linearly."""
    from hwtune.health.patterns import match_events
    from hwtune.probe.logparse import parse_text

    for piece in KERNEL_LOG_PIECES:
        for shape, unit in (("one line", piece), ("line per piece", f"[ 1.000000] {piece}\n")):
            cells = []
            # 4 MiB: the newest window a live read keeps, and that a recording is cut to
            for kib in (1, 64, 1024, 4 * 1024, 16 * 1024):
                text = "[ 1.000000] " + unit * (kib * 1024 // len(unit)) + "\n"
                start, cpu = time.perf_counter(), time.process_time()
                match_events(parse_text(text).lines)
                cells.append(f"{kib:>5} KiB {time.process_time() - cpu:.3f} s CPU "
                             f"({time.perf_counter() - start:.3f} wall)")
            print(f"kernel log {piece[:24]!r:28} {shape:15}: " + "; ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--parsers-only", action="store_true", help="only part 5, the parsers")
    ap.add_argument("--kernel-log-only", action="store_true", help="only part 3, the kernel-log rules")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each parser at each size")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a parse is given up")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"kernel {platform.release()}, Python {platform.python_version()}; load {os.getloadavg()[0]:.1f}")
    if args.kernel_log_only:
        kernel_log_figures()
        return
    if args.parsers_only:
        parser_figures(args.repeats, args.timeout)
        return
    with tempfile.TemporaryDirectory(prefix="hwtune-hostile-") as folder:
        os_release_figures(Path(folder))
        recorded_xml_figure(Path(folder))
    kernel_log_figures()
    probe_figures(args.runs)
    parser_figures(args.repeats, args.timeout)


if __name__ == "__main__":
    main()
