"""The journal: one JSON file per apply, synced to disk before every write.

`<state>/journal/<id>.json`, mode 0600, where <state> is `/var/lib/hwtune`
under the root (or $HWTUNE_STATE_DIR). Each step is added, and the file
replaced atomically and fsynced, *before* its write is made, so a process
killed at any point leaves a journal that `hwtune rollback` can undo: a step
whose write never happened already has its old value, and restoring it is
harmless. `<state>/lock` (flock) keeps a second apply or rollback out.

A journal says what rollback writes, so it is trusted only when it is this
user's own: the state folder, the journal folder, the lock and every journal
are opened once, through held folder descriptors with O_NOFOLLOW, and
refused unless owned by the running user and writable by no one else
(folders hwtune creates are 0700, journals 0600, whatever the umask). A
folder renamed away and replaced afterwards is never seen: everything goes
through the descriptors. Every entry is then validated (apply/trust.py)
before anything is restored.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hwtune import atomic, fsroot
from hwtune.apply.errors import Busy
from hwtune.apply.model import Step
from hwtune.apply.trust import JournalInvalid, check_steps
from hwtune.errors import ConfigError, NeedsRoot, parse_json
from hwtune.ownstate import open_child, refuse, trusted

STATE_DIR_ENV = "HWTUNE_STATE_DIR"
STATE_SUBDIR = "var/lib/hwtune"
SCHEMA = 1
JOURNAL_ID = re.compile(r"\d{8}-\d{6}-\d{6}")
MAX_JOURNAL_BYTES = 16 * 1024 * 1024  # a journal of every tunable on a 512-CPU host is ~1 MiB

# Journal states
APPLYING = "applying"  # in progress, or the process was killed: roll it back
APPLIED = "applied"
UNDONE = "failed, undone"  # a write failed and every change was undone
UNDO_FAILED = "failed, undo failed"  # some changes are still in place: roll it back
ROLLED_BACK = "rolled back"
ROLLBACK_FAILED = "rollback failed"
OPEN_STATES = (APPLYING, APPLIED, UNDO_FAILED, ROLLBACK_FAILED)  # something may still be changed
STATES = OPEN_STATES + (UNDONE, ROLLED_BACK)


def state_dir(root: Path) -> Path:
    override = os.environ.get(STATE_DIR_ENV)
    return Path(override) if override else root / STATE_SUBDIR


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    t = time.time()
    stamp = datetime.fromtimestamp(t, UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{int(t * 1e6) % 1_000_000:06d}"


@dataclass
class Journal:
    path: Path
    data: dict[str, Any]
    dirfd: int  # the journal folder, held open by its store
    checked_steps: list[Step]  # validated steps (apply/trust.py), rebuilt values; new ones appended

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def state(self) -> str:
        return self.data["state"]

    @property
    def steps(self) -> list[Step]:
        return list(self.checked_steps)

    @property
    def boot(self) -> bool:
        return bool(self.data.get("boot"))

    def add_step(self, step: Step) -> None:
        self.data["steps"].append(step.to_json())
        self.checked_steps.append(step)
        self.save()

    def set_state(self, state: str, **extra: Any) -> None:
        self.data["state"] = state
        self.data.update(extra)
        self.save()

    def save(self) -> None:
        text = json.dumps(self.data, indent=1, sort_keys=True) + "\n"
        atomic.write_at(self.dirfd, self.path.name, text.encode(), 0o600)

    def summary(self) -> dict[str, Any]:
        return {k: self.data.get(k) for k in ("id", "started", "profile", "root", "boot", "persist", "state",
                                              "finished", "error", "rolled_back")} | {
            "changes": len(self.data["steps"])}


class JournalStore:
    """The journals of one root. `fs`/`rel`: the state folder inside the root; else `state` is a
    path on this machine ($HWTUNE_STATE_DIR)."""

    def __init__(self, state: Path, fs: fsroot.RootFS | None = None, rel: str | None = None) -> None:
        self.state = state
        self.dir = state / "journal"
        self.lock_path = state / "lock"
        self._fs = fs
        self._rel = rel
        self._state_fd: int | None = None
        self._dir_fd: int | None = None

    @classmethod
    def for_root(cls, root: Path, fs: fsroot.RootFS | None = None) -> JournalStore:
        override = os.environ.get(STATE_DIR_ENV)
        if override:
            if not os.path.isabs(override) or any(ord(c) < 32 for c in override):
                raise ConfigError(f"{STATE_DIR_ENV}={override!r}: must be an absolute path")
            return cls(Path(override))
        return cls(Path(root) / STATE_SUBDIR, fs or fsroot.RootFS(root), "/" + STATE_SUBDIR)

    def __del__(self) -> None:
        for fd in (self._dir_fd, self._state_fd):
            if fd is not None:
                with suppress(OSError):
                    os.close(fd)

    # -- opening the state, once ---------------------------------------------
    def _open_state(self, create: bool) -> int:
        """The state folder held open; FileNotFoundError when absent and not `create`."""
        if self._state_fd is not None:
            return self._state_fd
        if self._fs is not None:
            base = self._fs.open("/", fsroot.DIR_FLAGS)  # not O_PATH: a folder made in it is fsynced
            parts = [p for p in (self._rel or "").split("/") if p]
            shown = self._fs.root
        else:
            parent, name = os.path.split(os.path.normpath(str(self.state)))
            if create:
                os.makedirs(parent, mode=0o700, exist_ok=True)
            base = os.open(parent, fsroot.DIR_FLAGS)  # the admin's own path: its links are followed
            parts = [name]
            shown = Path(parent)
        fds = []
        try:
            fd = base
            for part in parts:
                shown = shown / part
                fd = open_child(fd, part, create)
                fds.append(fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and create):
                raise refuse(f"{shown} is a symlink or not a folder") from None
            if isinstance(exc, PermissionError):
                raise NeedsRoot(f"cannot use {shown}: {exc.strerror} (run with sudo)") from None
            if isinstance(exc, FileNotFoundError):
                raise
            raise ConfigError(f"cannot use the state folder {shown}: {exc.strerror}") from None
        finally:
            for f in fds[:-1]:
                os.close(f)
            os.close(base)
        self._state_fd = trusted(fds[-1], self.state)
        return self._state_fd

    def _open_dir(self, create: bool) -> int:
        if self._dir_fd is None:
            try:
                state_fd = self._open_state(create)
                fd = open_child(state_fd, "journal", create)
            except PermissionError:
                raise NeedsRoot(f"{self.dir} is readable by root only: run with sudo") from None
            except FileNotFoundError:
                raise
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise refuse(f"{self.dir} is a symlink or not a folder") from None
                raise ConfigError(f"cannot use the journal folder {self.dir}: {exc.strerror}") from None
            self._dir_fd = trusted(fd, self.dir)
        return self._dir_fd

    def _ensure(self) -> int:
        return self._open_dir(create=True)

    # -- the lock -------------------------------------------------------------
    def _open_lock(self, create: bool) -> int:
        state_fd = self._open_state(create)
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        return trusted(os.open("lock", flags, 0o600, dir_fd=state_fd), self.lock_path, regular=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        self._ensure()
        try:
            fd = self._open_lock(create=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise refuse(f"{self.lock_path} is a symlink") from None
            raise ConfigError(f"cannot open the lock {self.lock_path}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Busy(f"another hwtune apply or rollback is running (lock {self.lock_path} is held); "
                           "try again when it has finished") from None
            self._remove_leftovers()
            yield
        finally:
            os.close(fd)

    def is_locked(self) -> bool:
        try:
            fd = self._open_lock(create=False)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def _remove_leftovers(self) -> None:
        """Temporary journal files of a process killed mid-save (under the lock, no one is saving)."""
        atomic.remove_leftovers(self._open_dir(create=False), None)

    # -- journals -------------------------------------------------------------
    def create(self, **header: Any) -> Journal:
        dfd = self._ensure()
        jid = new_id()
        while _exists(dfd, f"{jid}.json"):
            time.sleep(1e-6)
            jid = new_id()
        data = {"schema": SCHEMA, "id": jid, "started": now_iso(), "state": APPLYING, "steps": [],
                "finished": None, "error": None, "rolled_back": None} | header
        journal = Journal(self.dir / f"{jid}.json", data, dfd, [])
        journal.save()
        return journal

    def all(self) -> list[Journal]:
        """Every journal, oldest first, each one validated (a malformed one is an error, before anything)."""
        try:
            dfd = self._open_dir(create=False)
        except FileNotFoundError:
            return []
        names = sorted(n for n in os.listdir(dfd) if n.endswith(".json") and not n.startswith("."))
        return [self._load(dfd, n) for n in names]

    def load(self, jid: str) -> Journal:
        if not JOURNAL_ID.fullmatch(jid):
            raise ConfigError(f"'{jid}' is not a journal id (see `hwtune history`)")
        try:
            dfd = self._open_dir(create=False)
        except FileNotFoundError:
            dfd = None
        if dfd is None or not _exists(dfd, f"{jid}.json"):
            raise ConfigError(f"no journal '{jid}' in {self.dir} (see `hwtune history`)")
        return self._load(dfd, f"{jid}.json")

    def _load(self, dfd: int, name: str) -> Journal:
        path = self.dir / name
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
        except PermissionError:
            raise NeedsRoot(f"{path} is readable by root only: run with sudo") from None
        except OSError as exc:
            raise ConfigError(f"{path}: not a readable hwtune journal: {fsroot.reason(exc)}; "
                              "nothing was restored") from None
        trusted(fd, path, regular=True)
        try:
            raw, more = fsroot.read_capped(fd, MAX_JOURNAL_BYTES)
        finally:
            os.close(fd)
        if more:
            raise ConfigError(f"{path}: larger than {MAX_JOURNAL_BYTES // (1024 * 1024)} MiB, not a hwtune journal; "
                              "nothing was restored")
        try:
            data = parse_json(raw.decode("utf-8"), path)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not a readable hwtune journal: {exc}; nothing was restored") from None
        except ConfigError as exc:
            detail = exc.message.removeprefix(f"{path}: ")
            raise ConfigError(f"{path}: not a readable hwtune journal: {detail}; nothing was restored") from None
        try:
            steps = check_journal(data, name[: -len(".json")])
        except JournalInvalid as exc:
            raise ConfigError(f"{path}: not a valid hwtune journal: {exc}; nothing was restored") from None
        return Journal(path, data, dfd, steps)


def check_journal(data: Any, stem: str) -> list[Step]:
    """The journal's header checked, then its steps (apply/trust.py); JournalInvalid names the field."""
    if not isinstance(data, dict):
        raise JournalInvalid("not a JSON object")
    if data.get("schema") != SCHEMA:
        raise JournalInvalid(f"schema is {data.get('schema')!r}, not {SCHEMA}")
    if not isinstance(data.get("id"), str) or not JOURNAL_ID.fullmatch(data["id"]) or data["id"] != stem:
        raise JournalInvalid(f"id {data.get('id')!r} is not this journal's id ({stem})")
    if data.get("state") not in STATES:
        raise JournalInvalid(f"state {data.get('state')!r} is not a journal state")
    if not isinstance(data.get("root"), str):
        raise JournalInvalid("root is missing or not a string")
    for key in ("boot", "persist", "live"):
        if key in data and not isinstance(data[key], bool):
            raise JournalInvalid(f"{key} is not true or false")
    for key in ("profile", "profile_ref", "started", "finished", "error", "rolled_back"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise JournalInvalid(f"{key} is not a string")
    return check_steps(data.get("steps"))


def _exists(dfd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dfd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False
