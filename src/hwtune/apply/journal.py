"""The journal: one JSON file per apply, synced to disk before every write.

`<state>/journal/<id>.json`, mode 0600, where <state> is `/var/lib/hwtune`
under the root (or $HWTUNE_STATE_DIR). Each step is added, and the file
replaced atomically and fsynced, *before* its write is made, so a process
killed at any point leaves a journal that `hwtune rollback` can undo: a step
whose write never happened already has its old value, and restoring it is
harmless. `<state>/lock` (flock) keeps a second apply or rollback out.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from hwtune.apply.errors import Busy
from hwtune.apply.model import Step
from hwtune.errors import ConfigError, NeedsRoot

STATE_DIR_ENV = "HWTUNE_STATE_DIR"
STATE_SUBDIR = "var/lib/hwtune"
SCHEMA = 1

# Journal states
APPLYING = "applying"  # in progress, or the process was killed: roll it back
APPLIED = "applied"
UNDONE = "failed, undone"  # a write failed and every change was undone
UNDO_FAILED = "failed, undo failed"  # some changes are still in place: roll it back
ROLLED_BACK = "rolled back"
ROLLBACK_FAILED = "rollback failed"
OPEN_STATES = (APPLYING, APPLIED, UNDO_FAILED, ROLLBACK_FAILED)  # something may still be changed


def state_dir(root: Path) -> Path:
    override = os.environ.get(STATE_DIR_ENV)
    return Path(override) if override else root / STATE_SUBDIR


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    t = time.time()
    stamp = datetime.fromtimestamp(t, timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{int(t * 1e6) % 1_000_000:06d}"


@dataclass
class Journal:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def state(self) -> str:
        return self.data["state"]

    @property
    def steps(self) -> list[Step]:
        return [Step.from_json(s) for s in self.data["steps"]]

    @property
    def boot(self) -> bool:
        return bool(self.data.get("boot"))

    def add_step(self, step: Step) -> None:
        self.data["steps"].append(step.to_json())
        self.save()

    def set_state(self, state: str, **extra: Any) -> None:
        self.data["state"] = state
        self.data.update(extra)
        self.save()

    def save(self) -> None:
        write_synced(self.path, json.dumps(self.data, indent=1, sort_keys=True) + "\n")

    def summary(self) -> dict[str, Any]:
        return {k: self.data.get(k) for k in ("id", "started", "profile", "root", "boot", "persist", "state",
                                              "finished", "error", "rolled_back")} | {
            "changes": len(self.data["steps"])}


def write_synced(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class JournalStore:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.dir = state / "journal"
        self.lock_path = state / "lock"

    def _ensure(self) -> None:
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except PermissionError:
            raise NeedsRoot(f"cannot create {self.dir}: run with sudo") from None
        except OSError as exc:
            raise ConfigError(f"cannot create the journal folder {self.dir}: {exc.strerror}") from None

    @contextmanager
    def lock(self) -> Iterator[None]:
        self._ensure()
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot open the lock {self.lock_path}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Busy(f"another hwtune apply or rollback is running (lock {self.lock_path} is held); "
                           "try again when it has finished") from None
            yield
        finally:
            os.close(fd)

    def is_locked(self) -> bool:
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def create(self, **header: Any) -> Journal:
        self._ensure()
        jid = new_id()
        while (self.dir / f"{jid}.json").exists():
            time.sleep(1e-6)
            jid = new_id()
        data = {"schema": SCHEMA, "id": jid, "started": now_iso(), "state": APPLYING, "steps": [],
                "finished": None, "error": None, "rolled_back": None} | header
        journal = Journal(self.dir / f"{jid}.json", data)
        journal.save()
        return journal

    def all(self) -> list[Journal]:
        """Every journal, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.endswith(".json") and not n.startswith("."))
        except FileNotFoundError:
            return []
        except PermissionError:
            raise NeedsRoot(f"{self.dir} is readable by root only: run with sudo") from None
        return [self.load_path(self.dir / n) for n in names]

    def load(self, jid: str) -> Journal:
        if "/" in jid or jid.startswith("."):
            raise ConfigError(f"'{jid}' is not a journal id")
        path = self.dir / f"{jid}.json"
        if not path.is_file():
            raise ConfigError(f"no journal '{jid}' in {self.dir} (see `hwtune history`)")
        return self.load_path(path)

    def load_path(self, path: Path) -> Journal:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except PermissionError:
            raise NeedsRoot(f"{path} is readable by root only: run with sudo") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable hwtune journal: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("steps"), list):
            raise ConfigError(f"{path}: not a hwtune journal of schema {SCHEMA}")
        return Journal(path, data)
