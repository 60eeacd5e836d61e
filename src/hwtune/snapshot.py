"""`hwtune snapshot`: record what the probes read, in the snapshot format.

The files the probes read go to OUT at their absolute paths, the folders they
listed are created (even when empty), and command outputs go to
OUT/cmd/NAME.{xml,csv,txt} (a failed command to NAME.err with the reason);
what hwtune works out in-process (the Python version, the installed packages,
the kernel log read from /dev/kmsg) goes to OUT/observed/NAME.txt, never under
a command's name. `hwtune facts --root OUT` then gives what `hwtune facts` gave here.

A snapshot is private (folders 0700, files 0600, whatever the umask): it holds
the kernel log, which the host may keep from its users (dmesg_restrict), the
host name and the hardware's serial numbers (docs/security.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from hwtune import __version__, atomic, fsroot, probe
from hwtune.errors import ConfigError
from hwtune.facts import Facts
from hwtune.host import Host
from hwtune.run import ERROR_SUFFIX, OBSERVED_SUFFIX, cmd_name, suffix_for

MANIFEST = "hwtune-snapshot.json"
DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class SnapshotSummary:
    out: Path
    files: int
    dirs: int
    commands: int
    facts: Facts


def _rel_parts(abspath: str) -> list[str]:
    parts = [p for p in abspath.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"refusing to record {abspath!r}")
    return parts


def open_out(out: Path) -> tuple[int, bool]:
    """OUT held open: made here (0700), or an existing empty folder of the running user (made 0700).

    Everything is then written through this descriptor, so a link planted in
    OUT's place after it is opened is never followed."""
    made = False
    try:
        os.mkdir(out, DIR_MODE)
        made = True
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the folder: {exc.strerror}") from None
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"--out {out}: exists and is not a folder (or is a symlink): {exc.strerror}") from None
    st = os.fstat(fd)
    why = None
    if st.st_uid != os.geteuid():
        why = f"is owned by uid {st.st_uid}, not by the user running hwtune"
    elif os.listdir(fd):
        why = "exists and is not an empty folder"
    if why:
        os.close(fd)
        raise ConfigError(f"--out {out}: {why}")
    os.fchmod(fd, DIR_MODE)
    return fd, made


def _dir_at(top: int, parts: list[str]) -> int:
    """The folder OUT/parts..., made private (whatever the umask) where missing; never through a link."""
    fd = os.dup(top)
    try:
        for part in parts:
            nfd, _made = fsroot.make_dir_at(fd, part, DIR_MODE)
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _write(top: int, parts: list[str], data: bytes) -> None:
    dfd = _dir_at(top, parts[:-1])
    try:
        atomic.write_at(dfd, parts[-1], data, FILE_MODE)
    finally:
        os.close(dfd)


def take_snapshot(out: Path, host: Host | None = None) -> SnapshotSummary:
    out = Path(out)
    top, made = open_out(out)
    try:
        host = host or Host("/")
        facts = probe.probe_facts(host)
        recorded = {r.argv: r for r in host.runner.record}
        for argv in probe.snapshot_commands(host):
            if tuple(argv) not in recorded:  # e.g. nvidia-smi when the facts came from NVML
                result = host.run(argv)
                recorded[result.argv] = result
        try:
            for abspath in sorted(host.dirs_listed):
                os.close(_dir_at(top, _rel_parts(abspath)))
            for abspath, data in sorted(host.files_read.items()):
                _write(top, _rel_parts(abspath), data)
            for recorded_argv, result in sorted(recorded.items()):
                stem = cmd_name(recorded_argv)
                if result.ok:
                    _write(top, ["cmd", stem + suffix_for(result.stdout)], result.stdout.encode("utf-8"))
                else:
                    _write(top, ["cmd", stem + ERROR_SUFFIX], ((result.error or "failed") + "\n").encode("utf-8"))
            for name, text in sorted(host.runner.observed.items()):
                # worked out by hwtune in-process: filed as that, never as a command's output
                _write(top, ["observed", name + OBSERVED_SUFFIX], text.encode("utf-8"))
            manifest = {"hwtune_version": __version__, "taken_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "hostname": os.uname().nodename, "files": len(host.files_read),
                        "commands": [" ".join(a) for a in sorted(recorded)],
                        "observed": sorted(host.runner.observed)}
            _write(top, [MANIFEST], (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
        except OSError as exc:
            raise ConfigError(f"--out {out}: cannot write the snapshot: {exc.strerror or exc} "
                              f"({getattr(exc, 'filename', '') or 'a file'})") from None
    except BaseException:
        if made and not os.listdir(top):
            with contextlib.suppress(OSError):
                os.rmdir(out)
        raise
    finally:
        os.close(top)
    return SnapshotSummary(out, len(host.files_read), len(host.dirs_listed), len(recorded), facts)
