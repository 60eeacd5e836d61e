"""Paths resolved inside a root, as if the root were `/` (a chroot without chroot).

hwtune runs as root over trees that other users own (`--root DIR`, a
recorded snapshot, a mounted image). Such a user can plant symlinks, and can
swap a folder for a symlink between any two system calls, so nothing here
checks a path and then opens it again: a path is resolved once, by the
kernel where it can, into a file descriptor, and everything after that goes
through the descriptor.

- `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` (Linux 5.6) resolves
  absolute and relative symlinks and `..` inside the root. Python has no
  wrapper, so it is called through ctypes.
- Where the kernel lacks it (ENOSYS; EPERM from a seccomp filter), the same
  rules are followed by a walk one component at a time through directory
  descriptors opened with O_NOFOLLOW: a symlink is read with readlinkat and
  its target walked from the root (absolute) or the current folder
  (relative), `..` never goes above the root, at most 40 links (the
  kernel's MAXSYMLINKS).
- `follow=False` refuses any symlink anywhere on the path (ELOOP): hwtune's
  writes never go through a link, even one that stays inside the root.

The live host is the same code with the root `/`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
from collections.abc import Callable
from pathlib import Path

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_IN_ROOT = 0x10
MAX_LINKS = 40  # the kernel's MAXSYMLINKS
# openat2 has the same number on every architecture that came after the
# syscall table was unified (5.6); x86_64 and aarch64 are the ones hwtune runs on.
SYS_OPENAT2 = 437
_NR_BY_MACHINE = {"x86_64": SYS_OPENAT2, "aarch64": SYS_OPENAT2, "arm64": SYS_OPENAT2}

# Test-only switch: HWTUNE_TEST_NO_OPENAT2=1 forces the descriptor walk, so
# both ways of resolving run in the tests on a kernel that has openat2.
NO_OPENAT2_ENV = "HWTUNE_TEST_NO_OPENAT2"

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
PATH_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_syscall: Callable[..., int] | None = None
_openat2_ok: bool | None = None  # None: not tried yet
_HOW_SIZE = ctypes.sizeof(_OpenHow)


def _libc_syscall() -> Callable[..., int]:
    global _syscall
    if _syscall is None:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syscall
        fn.restype = ctypes.c_long
        fn.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_OpenHow), ctypes.c_size_t)
        _syscall = fn
    return _syscall


def _openat2(dirfd: int, path: str, flags: int, mode: int, resolve: int) -> int:
    # O_TMPFILE includes O_DIRECTORY: test for all of its bits
    takes_mode = flags & os.O_CREAT or (flags & os.O_TMPFILE) == os.O_TMPFILE
    how = _OpenHow(flags, mode if takes_mode else 0, resolve)
    fd = (_syscall or _libc_syscall())(_NR_BY_MACHINE[_MACHINE], dirfd, os.fsencode(path), how, _HOW_SIZE)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


_MACHINE = platform.machine()


def openat2_available() -> bool:
    """Whether this kernel (and any seccomp filter around us) lets openat2 through."""
    global _openat2_ok
    if os.environ.get(NO_OPENAT2_ENV) == "1":
        return False
    if _openat2_ok is None:
        if _MACHINE not in _NR_BY_MACHINE:
            _openat2_ok = False
        else:
            try:
                os.close(_openat2(-100, "/", PATH_DIR_FLAGS, 0, RESOLVE_NO_MAGICLINKS))  # AT_FDCWD
                _openat2_ok = True
            except OSError as exc:
                # ENOSYS: older kernel; EPERM: a seccomp filter (older container runtimes)
                _openat2_ok = exc.errno not in (errno.ENOSYS, errno.EPERM)
    return _openat2_ok


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


class RootFS:
    """A root folder held open as a descriptor; every path is resolved inside it.

    The descriptor is opened on first use (a Host for a root that does not
    exist is still a value: every read of it is then absent).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._fd: int | None = None
        self._openat2 = openat2_available()  # decided once per root (the test switch is read here)
        self._slash: bool | None = None

    # -- the root descriptor --------------------------------------------------
    @property
    def fd(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.root, PATH_DIR_FLAGS)
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        # No call before the try (not even contextlib.suppress): __del__ may run at the recursion
        # limit, and anything raised outside the try is printed as "Exception ignored".
        try:  # noqa: SIM105
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter shutdown os may already be gone
            pass

    # -- resolving ------------------------------------------------------------
    def open(self, abspath: str, flags: int, mode: int = 0o600, *, follow: bool = True) -> int:
        """A descriptor for `abspath` inside the root; OSError as os.open raises it.

        `follow`: symlinks on the way are resolved inside the root; without it
        any symlink on the way is ELOOP. The last component is followed only
        when `follow` is set and `flags` lacks O_NOFOLLOW.
        """
        flags |= os.O_CLOEXEC
        if self._openat2:
            resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (0 if follow else RESOLVE_NO_SYMLINKS)
            for _ in range(8):
                try:
                    return _openat2(self.fd, abspath.lstrip("/") or ".", flags, mode, resolve)
                except BlockingIOError:
                    continue  # EAGAIN: a rename raced a `..` lookup; the kernel asks to try again
            raise OSError(errno.EAGAIN, "the path kept changing while it was resolved", abspath)
        return self._walk(abspath, flags, mode, follow)

    def _walk(self, abspath: str, flags: int, mode: int, follow: bool) -> int:
        todo = list(reversed(_parts(abspath)))
        stack = [os.dup(self.fd)]  # the folders from the root down to where we are
        links = 0
        try:
            while todo:
                name = todo.pop()
                if name == "..":
                    if len(stack) > 1:  # never above the root
                        os.close(stack.pop())
                    continue
                last = not todo
                try:
                    if last:
                        return os.open(name, flags | os.O_NOFOLLOW, mode, dir_fd=stack[-1])
                    stack.append(os.open(name, PATH_DIR_FLAGS | os.O_NOFOLLOW, dir_fd=stack[-1]))
                    continue
                except OSError as exc:
                    # a symlink: ELOOP for O_NOFOLLOW, ENOTDIR for O_PATH|O_DIRECTORY|O_NOFOLLOW
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or (last and exc.errno == errno.ENOTDIR
                                                                        and not flags & os.O_DIRECTORY):
                        raise
                    try:
                        target = os.readlink(name, dir_fd=stack[-1])
                    except OSError:
                        raise exc from None  # not a symlink: the first error stands
                    if not follow or (last and flags & os.O_NOFOLLOW):
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), abspath) from None
                links += 1
                if links > MAX_LINKS or not target:
                    raise OSError(errno.ELOOP if target else errno.ENOENT,
                                  os.strerror(errno.ELOOP if target else errno.ENOENT), abspath)
                if target.startswith("/"):  # absolute: from the root, as in a chroot
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo.extend(reversed(_parts(target)))
            # the path named a folder on the way (the root, or one reached by `..`)
            return os.open(".", flags, mode, dir_fd=stack[-1])
        finally:
            for fd in stack:
                os.close(fd)

    @property
    def is_slash(self) -> bool:
        """The root is the live `/` (kernel files are interfaces there, not copies).

        Judged on the descriptor held, not on the path, so a root path swapped
        for a link to `/` after it was opened changes nothing."""
        try:
            st, slash = os.fstat(self.fd), os.stat("/")
        except OSError:
            return os.path.realpath(self.root) == "/"
        return (st.st_dev, st.st_ino) == (slash.st_dev, slash.st_ino)

    def open_parent(self, abspath: str, *, follow: bool = True, flags: int = PATH_DIR_FLAGS) -> tuple[int, str]:
        """(a descriptor of the folder holding `abspath`, the last component). Never follows the last one.

        Pass `flags=DIR_FLAGS` for a descriptor to list, fsync or write in."""
        parent, _, name = abspath.rstrip("/").rpartition("/")
        if not name or name in (".", ".."):
            raise OSError(errno.EINVAL, "not a path to an entry in a folder", abspath)
        return self.open(parent or "/", flags, follow=follow), name

    def lstat(self, abspath: str) -> os.stat_result:
        """The entry itself (a symlink is not followed), its folder resolved inside the root."""
        if not _parts(abspath):
            return os.fstat(self.fd)
        dfd, name = self.open_parent(abspath)
        try:
            return os.stat(name, dir_fd=dfd, follow_symlinks=False)
        finally:
            os.close(dfd)

    def readlink(self, abspath: str) -> str:
        dfd, name = self.open_parent(abspath)
        try:
            return os.readlink(name, dir_fd=dfd)
        finally:
            os.close(dfd)

    def listdir(self, abspath: str) -> list[str]:
        fd = self.open(abspath, DIR_FLAGS)
        try:
            return os.listdir(fd)
        finally:
            os.close(fd)

    def read_file(self, abspath: str, limit: int, chunk: int = 64 * 1024, *,
                  whole: bool = False) -> tuple[bytes, bool]:
        """(at most `limit` bytes, whether there was more). Only a regular file is read.

        O_NONBLOCK: a FIFO opens without waiting for a writer, and fstat then
        refuses it before any read; a socket fails to open (ENXIO). `whole`: a
        file larger than `limit` by its size is not read at all.
        """
        fd = self.open(abspath, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                check_regular(st, abspath)
            if not self.is_slash:
                check_single_link(st, abspath)
            if whole and st.st_size > limit:
                return b"", True  # wanted whole or not at all: not read (sysfs sizes are not real, so only here)
            return read_capped(fd, limit, chunk)
        finally:
            os.close(fd)


class NotRegular(OSError):
    """A FIFO, socket, device or folder where a file was expected; under a tree, a file with
    other hard links."""


def make_dir_at(parent_fd: int, name: str, mode: int) -> tuple[int, bool]:
    """The folder `name` under a held folder, opened without following a link: (fd, made here).
    One made here gets `mode` whatever the umask, and its parent is synced. OSError as it comes."""
    try:
        os.mkdir(name, mode, dir_fd=parent_fd)
        made = True
    except FileExistsError:
        made = False  # made before, or meanwhile by someone else: opened, then judged by the caller
    fd = os.open(name, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent_fd)
    if made and os.fstat(fd).st_uid == os.geteuid():
        try:
            os.fchmod(fd, mode)
            os.fsync(parent_fd)
        except BaseException:
            os.close(fd)
            raise
    return fd, made


def kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symlink")):
        if test(mode):
            return name
    return "not a regular file"


def check_regular(st: os.stat_result, abspath: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise NotRegular(errno.EINVAL, f"{kind_of(st.st_mode)}, not a regular file: not read", abspath)


def check_single_link(st: os.stat_result, abspath: str) -> None:
    """Under a root that is not `/`, a file with a second hard link may be another file of the
    host (with fs.protected_hardlinks=0 anyone can link /etc/shadow into a tree they own): the
    file is not read, as the writer does not write it (apply/sysfs.py)."""
    if st.st_nlink > 1:
        raise NotRegular(errno.EMLINK, f"a file with {st.st_nlink} hard links (it may be a file outside "
                         "the tree): not read", abspath)


def read_capped(fd: int, limit: int, chunk: int = 64 * 1024) -> tuple[bytes, bool]:
    """(at most `limit` bytes, whether there was more), read in chunks: a /proc/sys handler
    allocates the whole count at once, so a 4 MiB request would fail with ENOMEM."""
    first = os.read(fd, chunk if chunk <= limit else limit + 1)
    if not first:
        return first, False
    parts = [first]
    size = len(first)
    while size <= limit:
        data = os.read(fd, chunk)
        if not data:
            break
        parts.append(data)
        size += len(data)
    out = first if len(parts) == 1 else b"".join(parts)
    return (out, False) if size <= limit else (out[:limit], True)


def reason(exc: OSError) -> str:
    """Why a path could not be used, in words a user can act on."""
    if isinstance(exc, NotRegular):
        return exc.strerror or "not a regular file"
    if exc.errno == errno.ELOOP:
        return "a symlink loop, or a symlink where none may be"
    if exc.errno == errno.EXDEV:
        return "it leads outside the root"
    return exc.strerror or os.strerror(exc.errno or 0)


MAX_INPUT_BYTES = 64 * 1024 * 1024  # a profile, bench run, journal or facts file given by path


def read_path(path: str | os.PathLike[str], limit: int = MAX_INPUT_BYTES) -> bytes:
    """A file the user named (a profile, a saved run): a regular file only (a FIFO is not waited on),
    at most `limit` bytes (EFBIG past it)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        check_regular(os.fstat(fd), str(path))
        data, more = read_capped(fd, limit)
    finally:
        os.close(fd)
    if more:
        size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
        raise OSError(errno.EFBIG, f"larger than {size}: not read", str(path))
    return data
