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

from hwtune.run import CmdResult, Runner

MAX_READ_BYTES = 4 * 1024 * 1024  # sysfs/procfs files are small; a snapshot file is never huge
# /proc/sys handlers allocate the whole requested count in one go (and fail
# with ENOMEM on a 4 MiB request), so read in small chunks.
CHUNK_BYTES = 64 * 1024


class Host:
    def __init__(self, root: Path | str = "/", *, runner: Runner | None = None) -> None:
        self.root = Path(root)
        self.live = self.root.resolve() == Path("/")
        self._prefix = str(self.root).rstrip("/")  # "" for "/": a path is then prefix + abspath
        self.runner = runner or Runner(None if self.live else self.root)
        self.files_read: dict[str, bytes] = {}  # absolute path -> the bytes read, for `hwtune snapshot`
        self.dirs_listed: set[str] = set()  # absolute paths listed (kept even when empty)

    # -- paths --------------------------------------------------------------
    def path(self, abspath: str) -> Path:
        return Path(self._fs(abspath))

    def _fs(self, abspath: str) -> str:
        """`path` as a string, without pathlib: the probes read hundreds of files."""
        return self._prefix + (abspath if abspath.startswith("/") else "/" + abspath)

    # -- reads --------------------------------------------------------------
    def read(self, abspath: str, *, record: bool = True) -> str | None:
        """The text of a file, NULs stripped; None when it is absent or unreadable."""
        try:
            with open(self._fs(abspath), "rb", buffering=0) as fh:
                chunks = []
                size = 0
                while size < MAX_READ_BYTES:
                    chunk = fh.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                data = b"".join(chunks)
        except OSError:
            return None
        if record:
            self.files_read[abspath] = data
        # sysfs files of some drivers end in "\n\0"
        return data.decode("utf-8", errors="replace").replace("\0", "")

    def read_line(self, abspath: str) -> str | None:
        text = self.read(abspath)
        return None if text is None else text.strip()

    def listdir(self, abspath: str) -> list[str] | None:
        """Entry names, sorted; None when the folder is absent. Never follows links recursively."""
        try:
            names = sorted(os.listdir(self._fs(abspath)))
        except OSError:
            return None
        self.dirs_listed.add(abspath)
        return names

    def is_dir(self, abspath: str) -> bool:
        p = self._fs(abspath)
        return os.path.isdir(p) and not os.path.islink(p)

    def exists(self, abspath: str) -> bool:
        return os.path.lexists(self._fs(abspath))

    def readlink(self, abspath: str) -> str | None:
        try:
            return os.readlink(self._fs(abspath))
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
        from collections import deque

        try:
            fd = os.open(self._fs(abspath), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            return None, f"{abspath}: {exc.strerror}"
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
                kept.append(record)
                size += len(record)
                while size > max_bytes and kept:
                    size -= len(kept.popleft())
        finally:
            os.close(fd)
        return [r.decode("utf-8", errors="replace") for r in kept], ""
