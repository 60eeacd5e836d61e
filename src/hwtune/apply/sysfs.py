"""The only code that writes to the host, and only to an allow-list.

Every path is checked against the allow-list, then resolved inside the root
through descriptors (hwtune.fsroot) with no symlink allowed anywhere on the
way: a folder swapped for a link between two calls makes the write fail
(ELOOP), it never lands outside the root. Kernel values go to files that
already exist (no O_CREAT: a missing file is ENOENT, never a new file), and
only to regular files: a FIFO is refused, not waited on. hwtune's own files
(the sysctl.d drop-in, the boot unit and its `wants` link) are replaced by
the one atomic writer (hwtune.atomic) inside their folder's descriptor.
"""

from __future__ import annotations

import errno
import os
from pathlib import PurePosixPath

from hwtune import atomic, fsroot
from hwtune.tunables import for_path

DROP_IN = "/etc/sysctl.d/90-hwtune.conf"
UNIT_NAME = "hwtune-apply.service"
UNIT = f"/etc/systemd/system/{UNIT_NAME}"
UNIT_LINK = f"/etc/systemd/system/multi-user.target.wants/{UNIT_NAME}"
OWN_FILES = (DROP_IN, UNIT)
MAX_RAW_BYTES = 64 * 1024
OWN_LINKS = (UNIT_LINK,)
# Folders an own file may need; created when absent (a mounted image, a snapshot).
OWN_DIRS = ("/etc", "/etc/sysctl.d", "/etc/systemd", "/etc/systemd/system",
            "/etc/systemd/system/multi-user.target.wants")


class WriteError(Exception):
    """A write failed; the message names the errno (EINVAL, EACCES, EBUSY, ...)."""

    def __init__(self, path: str, reason: str, errno_name: str | None = None) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.errno_name = errno_name


def errno_reason(exc: OSError) -> tuple[str, str]:
    name = errno.errorcode.get(exc.errno or 0, f"errno {exc.errno}")
    return name, f"{name} ({exc.strerror or os.strerror(exc.errno or 0)})"


def is_kernel_path(abspath: str) -> bool:
    """A kernel file hwtune may write: one a tunable declaration (hwtune/tunables/) says it writes."""
    return for_path(abspath) is not None


def _as_fs(where) -> fsroot.RootFS:
    """A Host, a RootFS, or a root path (then opened here)."""
    if isinstance(where, fsroot.RootFS):
        return where
    fs = getattr(where, "fs", None)
    return fs if isinstance(fs, fsroot.RootFS) else fsroot.RootFS(where)


def check_allowed(abspath: str, allowed: bool) -> None:
    pure = PurePosixPath(abspath)
    if not allowed or not pure.is_absolute() or ".." in pure.parts:
        raise WriteError(abspath, "not on hwtune's allow-list of writable paths", "EPERM")


def _error(abspath: str, exc: OSError) -> WriteError:
    if exc.errno == errno.ELOOP:
        return WriteError(abspath, "ELOOP (a symlink on the way: hwtune never writes through a link; "
                                   "refused)", "ELOOP")
    if exc.errno == errno.EXDEV:
        return WriteError(abspath, "EXDEV (the path leads outside the root: refused)", "EXDEV")
    if isinstance(exc, fsroot.NotRegular):
        return WriteError(abspath, f"{(exc.strerror or 'not a regular file').split(':')[0]}: refused", "EINVAL")
    name, reason = errno_reason(exc)
    return WriteError(abspath, reason, name)


def write_value(where, abspath: str, data: bytes) -> None:
    """Write to an existing kernel file, the way `echo VALUE > FILE` does."""
    check_allowed(abspath, is_kernel_path(abspath))
    fs = _as_fs(where)
    try:
        # O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of blocking; fstat refuses it anyway
        fd = fs.open(abspath, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY, follow=False)
    except OSError as exc:
        raise _error(abspath, exc) from None
    try:
        st = os.fstat(fd)
        fsroot.check_regular(st, abspath)
        if not fs.is_slash:
            # under --root the file is a copy: a second hard link could be someone else's file
            if st.st_nlink != 1:
                raise WriteError(abspath, "EMLINK (the file has other hard links: refused)", "EMLINK")
            os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise _error(abspath, exc) from None
    finally:
        os.close(fd)


def read_raw(where, abspath: str) -> bytes | None:
    """The exact bytes of a kernel file (NULs and all), kept in the journal for --root restores."""
    if not is_kernel_path(abspath):
        return None
    try:
        data, _more = _as_fs(where).read_file(abspath, MAX_RAW_BYTES)
    except OSError:
        return None
    return data


def _dir_fd(fs: fsroot.RootFS, abspath: str) -> tuple[int, str]:
    """The folder of one of hwtune's own paths, held open for writing in it; no link on the way."""
    return fs.open_parent(abspath, follow=False, flags=fsroot.DIR_FLAGS)


def make_dirs(where, dirs: tuple[str, ...]) -> None:
    fs = _as_fs(where)
    for d in dirs:
        check_allowed(d, d in OWN_DIRS)
        try:
            dfd, name = _dir_fd(fs, d)
        except OSError as exc:
            raise _error(d, exc) from None
        try:
            os.close(fsroot.make_dir_at(dfd, name, 0o755)[0])
        except OSError as exc:
            raise _error(d, exc) from None
        finally:
            os.close(dfd)


def remove_dirs(where, dirs: tuple[str, ...]) -> list[str]:
    """Remove the folders a step created, deepest first; folders that are not empty stay."""
    fs = _as_fs(where)
    kept = []
    for d in sorted(dirs, key=len, reverse=True):
        check_allowed(d, d in OWN_DIRS)
        try:
            dfd, name = _dir_fd(fs, d)
        except FileNotFoundError:
            continue
        except OSError:
            kept.append(d)
            continue
        try:
            os.rmdir(name, dir_fd=dfd)
            os.fsync(dfd)
        except FileNotFoundError:
            pass
        except OSError:
            kept.append(d)
        finally:
            os.close(dfd)
    return kept


def remove_leftovers(where, abspath: str) -> None:
    """Temporary files a killed writer left beside one of hwtune's own files."""
    check_allowed(abspath, abspath in OWN_FILES or abspath in OWN_LINKS)
    try:
        dfd, name = _dir_fd(_as_fs(where), abspath)
    except OSError:
        return  # no folder, no leftovers (a folder that is a link is refused by the write itself)
    try:
        atomic.remove_leftovers(dfd, name)
    except OSError as exc:
        raise _error(abspath, exc) from None
    finally:
        os.close(dfd)


def write_own_file(where, abspath: str, content: str | None) -> None:
    """Replace (or, for None, remove) one of hwtune's own files, atomically."""
    check_allowed(abspath, abspath in OWN_FILES)
    try:
        dfd, name = _dir_fd(_as_fs(where), abspath)
    except OSError as exc:
        raise _error(abspath, exc) from None
    try:
        atomic.remove_leftovers(dfd, name)
        if content is None:
            _unlink(dfd, name)
        else:
            atomic.write_at(dfd, name, content.encode(), 0o644)
    except OSError as exc:
        raise _error(abspath, exc) from None
    finally:
        os.close(dfd)


def write_own_link(where, abspath: str, target: str | None) -> None:
    """Replace (or, for None, remove) hwtune's own symlink: made under a temporary name, renamed into place."""
    check_allowed(abspath, abspath in OWN_LINKS)
    try:
        dfd, name = _dir_fd(_as_fs(where), abspath)
    except OSError as exc:
        raise _error(abspath, exc) from None
    try:
        atomic.remove_leftovers(dfd, name)
        if target is None:
            _unlink(dfd, name)
        else:
            tmp = atomic.tmp_name(name)
            os.symlink(target, tmp, dir_fd=dfd)
            try:
                os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            except OSError:
                os.unlink(tmp, dir_fd=dfd)
                raise
            os.fsync(dfd)
    except OSError as exc:
        raise _error(abspath, exc) from None
    finally:
        os.close(dfd)


def _unlink(dfd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dfd)  # a folder in the way fails (EISDIR), it is never removed
    except FileNotFoundError:
        return
    os.fsync(dfd)
