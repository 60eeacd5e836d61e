"""The only code that opens kernel files.

A Host is a root directory passed around as a value: `/` for the live
machine, or a snapshot folder laid out like `/`. Reads go through it so that
`hwtune snapshot` can record exactly what the probes read. Reading is kept
apart from parsing: this module returns text; `parse_*` functions elsewhere
turn text into facts.
"""

from __future__ import annotations

import os
from pathlib import Path

from hwtune import fsroot
from hwtune.run import CmdResult, Runner

# Read caps (docs/security.md): no file hwtune reads is read past its cap.
MAX_READ_BYTES = 4 * 1024 * 1024  # sysfs/procfs files are small; a snapshot file is never huge
# /proc/sys handlers allocate the whole requested count in one go (and fail
# with ENOMEM on a 4 MiB request), so read in small chunks.
CHUNK_BYTES = 64 * 1024
# read_records scans at most this much of a record device or file (it keeps only the newest part)
RECORDS_SCAN_BYTES = 64 * 1024 * 1024


class Host:
    """A root folder, held as a descriptor: every path is resolved inside it (hwtune.fsroot).

    A read that cannot be made (absent, a FIFO or device, a symlink loop, an
    escape attempt clamped to the root and then absent) returns None and
    leaves the reason in `why(path)`.
    """

    def __init__(self, root: Path | str = "/", *, runner: Runner | None = None) -> None:
        self.root = Path(root)
        self._prefix = str(self.root).rstrip("/")  # "" for "/": a path is then prefix + abspath
        self.fs = fsroot.RootFS(self.root)
        # opened now, and judged live on the descriptor: every later read and write uses this one
        self.live = self.fs.is_slash
        self.runner = runner or Runner(None if self.live else self.root)
        self.files_read: dict[str, bytes] = {}  # absolute path -> the bytes read, for `hwtune snapshot`
        self.dirs_listed: set[str] = set()  # absolute paths listed (kept even when empty)
        self.unread: dict[str, str] = {}  # absolute path -> why the last read of it failed
        self.truncated: set[str] = set()  # absolute paths read only up to their cap

    # -- paths --------------------------------------------------------------
    def path(self, abspath: str) -> Path:
        """The path under the root, for messages only: never open it (it is not resolved inside the root)."""
        return Path(self._fs(abspath))

    def _fs(self, abspath: str) -> str:
        return self._prefix + (abspath if abspath.startswith("/") else "/" + abspath)

    def why(self, abspath: str) -> str | None:
        """Why the last read of `abspath` returned None (None when it did not fail)."""
        return self.unread.get(abspath)

    def absent(self, abspath: str) -> str:
        """The reason for a fact whose file could not be read: "PATH absent", or what was wrong with it."""
        why = self.unread.get(abspath)
        return f"{abspath} absent" if why in (None, "No such file or directory") else f"{abspath}: {why}"

    # -- reads --------------------------------------------------------------
    def read_bytes(self, abspath: str, *, record: bool = True, limit: int = MAX_READ_BYTES) -> bytes | None:
        """The bytes of a regular file, at most `limit` of them; None when it cannot be read."""
        try:
            data, more = self.fs.read_file(abspath, limit, CHUNK_BYTES)
        except OSError as exc:
            self.unread[abspath] = fsroot.reason(exc)
            return None
        self.unread.pop(abspath, None)
        if more:
            self.truncated.add(abspath)
        else:
            self.truncated.discard(abspath)
        if record:
            self.files_read[abspath] = data
        return data

    def read(self, abspath: str, *, record: bool = True, limit: int = MAX_READ_BYTES) -> str | None:
        """The text of a file, NULs stripped; None when it is absent or unreadable."""
        data = self.read_bytes(abspath, record=record, limit=limit)
        if data is None:
            return None
        # sysfs files of some drivers end in "\n\0"
        return data.decode("utf-8", errors="replace").replace("\0", "")

    def read_line(self, abspath: str) -> str | None:
        text = self.read(abspath)
        return None if text is None else text.strip()

    def listdir(self, abspath: str) -> list[str] | None:
        """Entry names, sorted; None when the folder is absent. Never follows links recursively."""
        try:
            names = sorted(self.fs.listdir(abspath))
        except OSError as exc:
            self.unread[abspath] = fsroot.reason(exc)
            return None
        self.dirs_listed.add(abspath)
        return names

    def lstat(self, abspath: str) -> os.stat_result | None:
        """The entry itself (a symlink is not followed); None when absent."""
        try:
            return self.fs.lstat(abspath)
        except OSError:
            return None

    def is_dir(self, abspath: str) -> bool:
        """A real folder, not a symlink to one."""
        st = self.lstat(abspath)
        return st is not None and (st.st_mode & 0o170000) == 0o040000

    def is_file(self, abspath: str) -> bool:
        """A regular file, not a symlink to one."""
        st = self.lstat(abspath)
        return st is not None and (st.st_mode & 0o170000) == 0o100000

    def exists(self, abspath: str) -> bool:
        """The entry is there (a dangling symlink counts)."""
        return self.lstat(abspath) is not None

    def readlink(self, abspath: str) -> str | None:
        try:
            return self.fs.readlink(abspath)
        except OSError:
            return None

    # -- commands -----------------------------------------------------------
    def run(self, argv: list[str], timeout_s: float = 10.0) -> CmdResult:
        return self.runner.run(argv, timeout_s)

    # -- record devices -----------------------------------------------------
    def read_records(self, abspath: str, *, max_bytes: int) -> tuple[list[str] | None, str]:
        """The records of a device that returns one record per read (/dev/kmsg),
        read without blocking until it has no more; only the newest `max_bytes`
        are kept. Never recorded in `files_read` (the caller records what it
        makes of them). (None, why) when it cannot be opened."""
        import errno
        import stat
        from collections import deque

        try:
            fd = self.fs.open(abspath, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            return None, f"{abspath}: {fsroot.reason(exc)}"
        st = os.fstat(fd)
        mode = st.st_mode
        if not (stat.S_ISCHR(mode) or stat.S_ISREG(mode)):  # a FIFO planted in a tree is never waited on
            os.close(fd)
            return None, f"{abspath}: {fsroot.kind_of(mode)}, not a record device or file: not read"
        if stat.S_ISREG(mode) and not self.live:
            try:
                fsroot.check_single_link(st, abspath)
            except OSError as exc:
                os.close(fd)
                return None, f"{abspath}: {fsroot.reason(exc)}"
        budget = RECORDS_SCAN_BYTES  # a huge planted file is not scanned to its end
        kept: deque[bytes] = deque()
        size = 0
        try:
            while True:
                try:
                    record = os.read(fd, 16 * 1024)  # /dev/kmsg records are at most 8 KiB
                except OSError as exc:
                    if exc.errno == errno.EPIPE:  # overwritten while we read: skip to the next
                        continue
                    if exc.errno == errno.EAGAIN:
                        break
                    return None, f"{abspath}: {exc.strerror}"
                if not record:
                    break
                budget -= len(record)
                if budget < 0:
                    break
                kept.append(record)
                size += len(record)
                while size > max_bytes and kept:
                    size -= len(kept.popleft())
        finally:
            os.close(fd)
        return [r.decode("utf-8", errors="replace") for r in kept], ""
