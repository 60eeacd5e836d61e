"""The only place a subprocess starts.

argv lists only, never a shell; LC_ALL=C; a timeout on every call; a missing
binary is a result, not a crash. With a snapshot root nothing is run: the
output comes from ROOT/cmd/NAME.{xml,csv,txt} (see the snapshot format in
README.md), where NAME is the argv joined by "_".
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from hwtune import fsroot

if TYPE_CHECKING:
    from hwtune.fsroot import RootFS

DEFAULT_TIMEOUT_S = 10.0
# Output caps (docs/security.md): a recorded or live command output is never
# read past this; the largest real one (`nvidia-smi -q -x` of 8 GPUs) is ~1 MiB.
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
RECORDED_SUFFIXES = (".xml", ".csv", ".txt")
ERROR_SUFFIX = ".err"  # a command that failed live: the snapshot keeps why, and replays it
OBSERVED_SUFFIX = ".txt"  # observed/NAME.txt: what hwtune worked out in-process (Runner.observe)


class CmdResult(NamedTuple):
    argv: tuple[str, ...]
    returncode: int | None  # None: it did not run to an exit status
    stdout: str
    stderr: str = ""
    error: str | None = None  # why there is no usable output: not found, timeout, not recorded

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0


def cmd_name(argv: tuple[str, ...] | list[str]) -> str:
    """The snapshot file stem of a command: `nvidia-smi -q -x` -> `nvidia-smi_-q_-x`."""
    return "_".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))


def suffix_for(stdout: str) -> str:
    text = stdout.lstrip()
    if text.startswith("<"):
        return ".xml"
    first = text.splitlines()[0] if text else ""
    if first.count(",") >= 1 and "\n" in text and all(
        line.count(",") == first.count(",") for line in text.splitlines()[1:3] if line
    ):
        return ".csv"
    return ".txt"


class Runner:
    """Runs commands live, or answers them from a snapshot's cmd/ folder."""

    def __init__(self, snapshot_root: Path | None = None) -> None:
        self.snapshot_root = snapshot_root
        self._fs: RootFS | None = None  # the snapshot root held open (hwtune.fsroot), on first replay
        self.record: list[CmdResult] = []  # what ran, for `hwtune snapshot`
        self.observed: dict[str, str] = {}  # what hwtune worked out in-process, for `hwtune snapshot`
        self._started: dict[tuple[str, ...], Started] = {}

    def start(self, argv: list[str], timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Start a command now, so that it runs while the caller does other
        work; the next `run` of the same argv collects it (its timeout counts
        from here). Nothing is started when replaying a snapshot."""
        key = tuple(argv)
        if self.snapshot_root is None and key not in self._started:
            self._started[key] = Started.spawn(key, timeout_s)

    def run(self, argv: list[str], timeout_s: float = DEFAULT_TIMEOUT_S) -> CmdResult:
        key = tuple(argv)
        if self.snapshot_root is not None:
            return self._recorded(key)
        started = self._started.pop(key, None)
        result = started.collect() if started is not None else run_live(key, timeout_s)
        self.record.append(result)
        return result

    def observe(self, name: str, compute: Callable[[], str], *,
                legacy_argv: list[str] | None = None) -> CmdResult:
        """Text hwtune works out in-process, not the output of a command (the Python version,
        the installed packages read from their dist-info folders). A snapshot records it as what
        it is, under observed/NAME.txt, and replays it from there; `legacy_argv` is the command
        name snapshots of earlier versions filed it under, still read."""
        argv = ("hwtune-observed", name)
        if self.snapshot_root is not None:
            found = self._read_recorded(argv, f"observed/{name}", (OBSERVED_SUFFIX,))
            if found is None and legacy_argv is not None:
                return self._recorded(tuple(legacy_argv))
            return found or CmdResult(argv, None, "", error=f"not recorded in the snapshot (observed/{name}.txt)")
        text = compute()
        self.observed[name] = text
        return CmdResult(argv, 0, text)

    def _recorded(self, argv: tuple[str, ...]) -> CmdResult:
        stem = cmd_name(argv)
        found = self._read_recorded(argv, f"cmd/{stem}", RECORDED_SUFFIXES + (ERROR_SUFFIX,))
        return found or CmdResult(argv, None, "", error=f"not recorded in the snapshot (cmd/{stem}.*)")

    def _read_recorded(self, argv: tuple[str, ...], stem: str, suffixes: tuple[str, ...]) -> CmdResult | None:
        """A recorded output, read through the snapshot root held open: a link in cmd/ cannot
        lead outside it, a FIFO is not waited on, and nothing is read past MAX_OUTPUT_BYTES.
        None when the snapshot has no such file."""

        assert self.snapshot_root is not None  # called only when replaying
        if self._fs is None:
            self._fs = fsroot.RootFS(self.snapshot_root)
        for suffix in suffixes:
            rel = f"/{stem}{suffix}"
            try:
                data, more = self._fs.read_file(rel, MAX_OUTPUT_BYTES, whole=True)
            except FileNotFoundError:
                continue
            except OSError as exc:
                if isinstance(exc, fsroot.NotRegular):
                    return CmdResult(argv, None, "", error=f"{stem}{suffix}: {fsroot.reason(exc)}")
                if exc.errno in (errno.ENOTDIR, errno.EISDIR):
                    continue
                return CmdResult(argv, None, "", error=f"cannot read {stem}{suffix}: {fsroot.reason(exc)}")
            if more:
                return CmdResult(argv, None, "", error=f"{stem}{suffix} is larger than "
                                 f"{MAX_OUTPUT_BYTES // (1024 * 1024)} MiB: not read")
            text = str(data, "utf-8", "replace").replace("\0", "")
            if suffix == ERROR_SUFFIX:
                reason = text.strip()
                return CmdResult(argv, None, "", error=reason or f"{argv[0]} failed when the snapshot was taken")
            return CmdResult(argv, 0, text)
        return None


class Started:
    """A live command started with `Runner.start` and not yet collected."""

    def __init__(self, argv: tuple[str, ...], timeout_s: float, proc: subprocess.Popen[bytes] | None,
                 failed: CmdResult | None) -> None:
        self.argv, self.timeout_s, self.proc, self.failed = argv, timeout_s, proc, failed
        self.deadline = time.monotonic() + timeout_s

    @classmethod
    def spawn(cls, argv: tuple[str, ...], timeout_s: float) -> Started:
        try:
            proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env=dict(os.environ, LC_ALL="C", LANG="C"))
        except OSError as exc:
            return cls(argv, timeout_s, None, _not_started(argv, exc))
        return cls(argv, timeout_s, proc, None)

    def collect(self) -> CmdResult:
        if self.proc is None:
            assert self.failed is not None  # spawn sets one of the two
            return self.failed
        # One that already ended is read in full even when collected after its deadline.
        finished = self.proc.poll() is not None
        deadline = time.monotonic() + self.timeout_s if finished else self.deadline
        try:
            out, err = _read_capped(self.proc, deadline, MAX_OUTPUT_BYTES)
        except subprocess.TimeoutExpired:
            _kill(self.proc)
            return _timed_out(self.argv, self.timeout_s)
        except OverflowError:
            _kill(self.proc)
            return CmdResult(self.argv, None, "", error=f"{self.argv[0]} printed more than "
                             f"{MAX_OUTPUT_BYTES // (1024 * 1024)} MiB: its output was not read")
        return _finished(self.argv, self.proc.returncode, out, err)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _read_capped(proc: subprocess.Popen[bytes], deadline: float, limit: int) -> tuple[bytes, bytes]:
    """Both pipes read as they fill, never more than `limit` bytes each (OverflowError), by the
    deadline (TimeoutExpired): communicate() would keep a 100 MB output whole in memory."""
    import selectors

    assert proc.stdout is not None and proc.stderr is not None  # both opened with PIPE
    chunks: dict[int, list[bytes]] = {}
    sizes: dict[int, int] = {}
    with selectors.DefaultSelector() as sel:
        for pipe in (proc.stdout, proc.stderr):
            fd = pipe.fileno()
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
            chunks[fd], sizes[fd] = [], 0
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(proc.args, 0)
            for key, _ in sel.select(remaining):
                try:
                    data = os.read(key.fd, 64 * 1024)
                except BlockingIOError:
                    continue
                if not data:
                    sel.unregister(key.fd)
                    continue
                sizes[key.fd] += len(data)
                if sizes[key.fd] > limit:
                    raise OverflowError
                chunks[key.fd].append(data)
    proc.wait(max(0.0, deadline - time.monotonic()))
    out = b"".join(chunks[proc.stdout.fileno()])
    err = b"".join(chunks[proc.stderr.fileno()])
    proc.stdout.close()
    proc.stderr.close()
    return out, err


def run_live(argv: tuple[str, ...], timeout_s: float) -> CmdResult:
    return Started.spawn(argv, timeout_s).collect()


def _not_started(argv: tuple[str, ...], exc: OSError) -> CmdResult:
    if isinstance(exc, FileNotFoundError):
        return CmdResult(argv, None, "", error=f"{argv[0]} not found")
    if isinstance(exc, PermissionError):
        return CmdResult(argv, None, "", error=f"{argv[0]}: permission denied")
    return CmdResult(argv, None, "", error=f"{argv[0]}: {exc.strerror}")


def _timed_out(argv: tuple[str, ...], timeout_s: float) -> CmdResult:
    return CmdResult(argv, None, "", error=f"{argv[0]} did not answer within {timeout_s:g} s")


def _finished(argv: tuple[str, ...], returncode: int, stdout: bytes, stderr: bytes) -> CmdResult:
    out = str(stdout, "utf-8", "replace")
    err = str(stderr, "utf-8", "replace")
    if returncode != 0:
        msg = (err.strip() or out.strip()).splitlines()
        reason = msg[-1] if msg else ""
        return CmdResult(argv, returncode, out, err,
                         error=f"{argv[0]} exited {returncode}" + (f": {reason}" if reason else ""))
    return CmdResult(argv, 0, out, err)
