"""The one atomic writer: every file hwtune writes goes through `write_at`.

A reader (a scraper, systemd, a killed-and-restarted hwtune) sees the old
content or the new, never half of it, and nothing is written through a link
planted by someone else:

1. the folder is held as a descriptor (the caller resolved it once);
2. a temporary `.NAME.XXXXXXXX.hwtune-tmp` is created in it with
   O_CREAT|O_EXCL|O_NOFOLLOW (never an existing file, never a symlink),
   given its mode with fchmod (whatever the umask), written and fsynced;
3. renamed over NAME inside the same folder descriptor (a symlink at NAME is
   replaced, not followed), and the folder fsynced so the rename survives a
   power cut.

A process killed between 2 and 3 leaves a temporary file; `remove_leftovers`
removes those of one NAME (rollback does, for hwtune's own files).
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from hwtune.errors import ConfigError

TMP_SUFFIX = ".hwtune-tmp"
# Test-only: pause after the temporary file of NAME is written, before the
# rename (for kill -9), announcing it by creating HWTUNE_TEST_PAUSE_FILE.
PAUSE_BEFORE_RENAME_ENV = "HWTUNE_TEST_PAUSE_BEFORE_RENAME"
PAUSE_FILE_ENV = "HWTUNE_TEST_PAUSE_FILE"
PAUSE_MAX_S = 300.0


def tmp_name(name: str) -> str:
    return f".{name}.{secrets.token_hex(4)}{TMP_SUFFIX}"


def is_leftover(entry: str, name: str | None) -> bool:
    """A temporary file of `name` (None: of any name) that a killed writer left behind."""
    return entry.startswith(f".{name}." if name is not None else ".") and entry.endswith(TMP_SUFFIX)


def write_at(dirfd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Replace `name` in the folder `dirfd` with `data`, atomically and durably. OSError on failure."""
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a file name: {name!r}")
    tmp = tmp_name(name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dirfd)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        _maybe_pause(name)
        os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
    except BaseException:
        # cleanup after any exception, RecursionError too: no call before the try
        try:  # noqa: SIM105
            os.unlink(tmp, dir_fd=dirfd)
        except OSError:
            pass
        raise
    os.fsync(dirfd)


def remove_leftovers(dirfd: int, name: str | None) -> list[str]:
    """Remove temporary files of `name` (None: of any name) that a killed writer left behind;
    returns their names."""
    removed = []
    for entry in os.listdir(dirfd):
        if is_leftover(entry, name):
            try:
                os.unlink(entry, dir_fd=dirfd)
                removed.append(entry)
            except FileNotFoundError:
                pass
    if removed:
        os.fsync(dirfd)
    return removed


def open_dir(path: str | os.PathLike[str]) -> int:
    """A folder given by the user (an output path): its descriptor, for `write_at`."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def write_file(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644) -> Path:
    """`write_at` for a path the user chose (reports, bench runs, exported models): the folder
    is resolved once, as the user named it; the file itself is never written through a link."""
    target = Path(path)
    if target.name in ("", ".", "..") or str(path).endswith("/"):
        raise ConfigError(f"{str(path)!r}: names a folder, not a file")
    if isinstance(data, str):  # a file name that was not UTF-8 shows as "\udcff", never fails the write
        data = data.encode("utf-8", errors="backslashreplace")
    dfd = open_dir(target.parent if str(target.parent) else ".")
    try:
        write_at(dfd, target.name, data, mode)
    finally:
        os.close(dfd)
    return target


def _maybe_pause(name: str) -> None:
    if os.environ.get(PAUSE_BEFORE_RENAME_ENV) == name:
        pause_for_crash_test()


def pause_for_crash_test() -> None:
    """The crash tests' hook: announce the pause in HWTUNE_TEST_PAUSE_FILE, then wait to be killed."""
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    deadline = time.monotonic() + PAUSE_MAX_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
