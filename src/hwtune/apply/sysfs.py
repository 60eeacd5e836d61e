"""The only code that writes to the host, and only to an allow-list.

Kernel values go to files that already exist (no O_CREAT: a missing file is
ENOENT, never a new file). hwtune's own files (the sysctl.d drop-in, the boot
unit and its `wants` link) are replaced atomically. Every path is checked
against the allow-list and must not leave the root through a symlink.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path, PurePosixPath

# Kernel files hwtune may write, as absolute paths on the host.
KERNEL_PATHS = (
    re.compile(r"/sys/devices/system/cpu/cpufreq/policy\d+/(scaling_governor|energy_performance_preference)"),
    re.compile(r"/sys/devices/system/cpu/cpufreq/boost"),
    re.compile(r"/sys/devices/system/cpu/intel_pstate/no_turbo"),
    re.compile(r"/sys/kernel/mm/transparent_hugepage/(enabled|defrag)"),
    re.compile(r"/proc/sys/(vm|kernel|net/core)(/[a-z0-9_]+)+"),
)
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
    return any(p.fullmatch(abspath) for p in KERNEL_PATHS)


def host_path(root: Path, abspath: str, allowed: bool) -> Path:
    """The path under root, refusing anything off the allow-list or reached through a symlink."""
    pure = PurePosixPath(abspath)
    if not allowed or not pure.is_absolute() or ".." in pure.parts:
        raise WriteError(abspath, "not on hwtune's allow-list of writable paths", "EPERM")
    real_root = Path(os.path.realpath(root))
    path = real_root / pure.relative_to("/")
    parent = os.path.realpath(path.parent)
    if parent != str(path.parent):
        raise WriteError(abspath, f"a folder on the way is a symlink (it leads to {parent})", "ELOOP")
    return path


def write_value(root: Path, abspath: str, data: bytes) -> None:
    """Write to an existing kernel file, the way `echo VALUE > FILE` does."""
    path = host_path(root, abspath, is_kernel_path(abspath))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        name, reason = errno_reason(exc)
        raise WriteError(abspath, reason, name) from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        name, reason = errno_reason(exc)
        raise WriteError(abspath, reason, name) from None
    finally:
        os.close(fd)


def read_raw(root: Path, abspath: str) -> bytes | None:
    """The exact bytes of a kernel file (NULs and all), kept in the journal for --root restores."""
    try:
        with open(host_path(root, abspath, is_kernel_path(abspath)), "rb") as fh:
            return fh.read(MAX_RAW_BYTES)
    except (OSError, WriteError):
        return None


def make_dirs(root: Path, dirs: tuple[str, ...]) -> None:
    for d in dirs:
        path = host_path(root, d, d in OWN_DIRS)
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            pass
        except OSError as exc:
            name, reason = errno_reason(exc)
            raise WriteError(d, reason, name) from None


def remove_dirs(root: Path, dirs: tuple[str, ...]) -> list[str]:
    """Remove the folders a step created, deepest first; folders that are not empty stay."""
    kept = []
    for d in sorted(dirs, key=len, reverse=True):
        path = host_path(root, d, d in OWN_DIRS)
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            kept.append(d)
    return kept


def write_own_file(root: Path, abspath: str, content: str | None) -> None:
    """Replace (or, for None, remove) one of hwtune's own files, atomically."""
    path = host_path(root, abspath, abspath in OWN_FILES)
    try:
        if content is None:
            if not os.path.lexists(path):
                return
            os.unlink(path)
        else:
            tmp = path.with_name(f".{path.name}.hwtune-tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, content.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        sync_dir(path.parent)
    except OSError as exc:
        name, reason = errno_reason(exc)
        raise WriteError(abspath, reason, name) from None


def write_own_link(root: Path, abspath: str, target: str | None) -> None:
    path = host_path(root, abspath, abspath in OWN_LINKS)
    try:
        if target is None and not os.path.lexists(path):
            return
        if os.path.lexists(path):
            os.unlink(path)
        if target is not None:
            os.symlink(target, path)
        sync_dir(path.parent)
    except OSError as exc:
        name, reason = errno_reason(exc)
        raise WriteError(abspath, reason, name) from None


def sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
