"""Root's all the way up: what the `--persist` boot unit runs and reads, only root may change.

The unit runs at every boot as root. Whoever may change the interpreter, a
file Python imports from, or the profile (or swap a folder above any of
them) decides what root does then. A path passes when it and every folder
from `/` down to it are owned by root and not writable by group or others;
the one exception is a world-writable folder with the sticky bit (`/tmp`),
which may hold a root-owned folder: no one else can rename or remove it
there. A symlink on the way is followed (it sits in a folder that passed,
so no one else can change it) and its target is judged the same way.
"""

from __future__ import annotations

import os
import stat
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path

import hwtune
from hwtune.fsroot import MAX_LINKS, read_path

MAX_PTH_BYTES = 64 * 1024
INSTALL_FIX = ("install hwtune root-owned: sudo python3 -m venv /opt/hwtune && "
               "sudo /opt/hwtune/bin/pip install .")


def _mode(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"


def _judge_entry(path: str, st: os.stat_result, parent: os.stat_result | None, last: bool = False) -> str | None:
    """Why `path` (lstat `st`, in a folder with lstat `parent`) may be changed by someone other than root.
    A sticky folder on the way may be world-writable (its entries are then judged), not the last one."""
    if st.st_uid != 0:
        return f"{path} is owned by uid {st.st_uid}, not root"
    # another user may rename entries here, unless the sticky bit keeps root's entries root's
    if parent is not None and parent.st_mode & 0o022 \
            and not (parent.st_mode & stat.S_ISVTX and stat.S_ISDIR(st.st_mode)):
        return (f"{os.path.dirname(path) or '/'} (mode {_mode(parent)}) may be written by group or others, "
                f"who could replace {path}")
    sticky_on_the_way = not last and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
    if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o022 and not sticky_on_the_way:
        return f"{path} is writable by group or others (mode {_mode(st)})"
    return None


def why_not_root_owned(path: str | os.PathLike[str]) -> str | None:
    """None when `path` and every folder above it (symlinks followed) are root's alone; else why not."""
    todo = [p for p in os.fspath(os.path.abspath(path)).split("/") if p]
    todo.reverse()
    cur, links = "/", 0
    try:
        st = os.lstat("/")
        why = _judge_entry("/", st, None)
        if why:
            return why
        stack = [st]  # lstat of cur and the folders above it
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if cur != "/":
                    cur = os.path.dirname(cur)
                    stack.pop()
                continue
            nxt = os.path.join(cur, name)
            st = os.lstat(nxt)
            why = _judge_entry(nxt, st, stack[-1], last=not todo)
            if why:
                return why
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_LINKS:
                    return f"{path}: too many symlinks on the way"
                target = os.readlink(nxt)
                if target.startswith("/"):
                    cur, stack = "/", stack[:1]
                todo.extend(reversed([p for p in target.split("/") if p]))
                continue
            cur = nxt
            stack.append(st)
    except OSError as exc:
        return f"{exc.filename or path}: {exc.strerror}"
    return None


def why_tree_not_root_owned(top: str | os.PathLike[str]) -> str | None:
    """`why_not_root_owned(top)`, then every file and folder below it (symlinks are not followed:
    their own folder keeps them)."""
    why = why_not_root_owned(top)
    if why or not os.path.isdir(top):
        return why
    unlisted: list[OSError] = []
    for folder, dirs, files in os.walk(top, onerror=unlisted.append):
        parent = os.lstat(folder)
        for name in dirs + files:
            path = os.path.join(folder, name)
            try:
                why = _judge_entry(path, os.lstat(path), parent)
            except OSError as exc:
                why = f"{path}: {exc.strerror}"
            if why:
                return why
    if unlisted:
        return f"{unlisted[0].filename}: cannot be listed: {unlisted[0].strerror}"
    return None


def _pth_dirs(site: str) -> list[str]:
    """The folders the .pth files of a site-packages folder add to sys.path (editable installs)."""
    out: list[str] = []
    try:
        names = sorted(n for n in os.listdir(site) if n.endswith(".pth"))
    except OSError:
        return out
    for name in names:
        try:  # a regular file only, capped: never a FIFO to wait on
            text = read_path(os.path.join(site, name), MAX_PTH_BYTES).decode("utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "import ", "import\t")):
                out.append(os.path.normpath(os.path.join(site, line)))
    return [d for d in out if os.path.isdir(d)]


def install_paths() -> Iterator[tuple[str, str, bool]]:
    """(what, path, whole tree) for everything the unit's `python -I -m hwtune` runs or imports. The
    .pth files are read only after their site-packages passed (the caller stops at the first fault)."""

    paths = sysconfig.get_paths()
    sites = list(dict.fromkeys(paths[k] for k in ("purelib", "platlib")))
    yield from [("interpreter", sys.executable, False), ("virtual environment", sys.prefix, False),
                ("standard library", paths["stdlib"], False)]
    yield from [("site-packages", site, True) for site in sites]
    for site in sites:
        yield from [("imported folder", d, True) for d in _pth_dirs(site)]
    yield ("hwtune package", str(Path(hwtune.__file__).parent), True)


def why_install_not_root_owned(paths: Iterable[tuple[str, str, bool]] | None = None) -> str | None:
    """Why the running installation is not root's all the way up; None when it is."""
    if not sys.executable or not os.path.isabs(sys.executable):
        return "the Python interpreter's path is unknown"
    seen: set[str] = set()
    for what, path, deep in install_paths() if paths is None else paths:
        if path in seen:
            continue
        seen.add(path)
        why = why_tree_not_root_owned(path) if deep else why_not_root_owned(path)
        if why:
            return f"the {what} {path}: {why}"
    return None
