"""hwtune's own state (apply's journals, guard's history): folders and files it trusts only when
the user running it owns them and nobody else can write them, opened without following links.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hwtune import fsroot
from hwtune.errors import ConfigError


def untrusted(what: Path, st: os.stat_result) -> str | None:
    """Why a folder or file of the state cannot be trusted; None when it is this user's own."""
    euid = os.geteuid()
    if st.st_uid != euid:
        return f"{what} is owned by uid {st.st_uid}, not by the user running hwtune (uid {euid})"
    if st.st_mode & 0o022:
        return f"{what} is writable by others (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def trusted(fd: int, what: Path, regular: bool = False) -> int:
    """`fd` when it holds this user's own folder or file (a regular file where asked); else `fd`
    is closed and the refusal raised."""
    try:
        st = os.fstat(fd)
        why = untrusted(what, st) or (f"{what} is not a regular file" if regular and not stat.S_ISREG(st.st_mode)
                                       else None)
        if why:
            raise refuse(why)
    except BaseException:
        os.close(fd)
        raise
    return fd


def refuse(why: str) -> ConfigError:
    return ConfigError(f"{why}: refused, nothing was written or restored "
                       f"(hwtune trusts only its own state; see docs/security.md)")


def open_child(parent_fd: int, name: str, create: bool) -> int:
    """A folder of the state, opened with O_NOFOLLOW under a held folder; created 0700 when asked."""
    flags = fsroot.DIR_FLAGS | os.O_NOFOLLOW
    try:
        return os.open(name, flags, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise
    return fsroot.make_dir_at(parent_fd, name, 0o700)[0]
