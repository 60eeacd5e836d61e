"""The health history: an append-only SQLite store in guard's state folder.

`$HWTUNE_STATE_DIR`, else `/var/lib/hwtune/guard` as root (the user's state
folder otherwise); never under a snapshot being judged. The folder is 0700,
the database and SQLite's rollback journal 0600, and both are opened only when
they are the running user's own and writable by no one else: the trust rules
apply's journals follow (apply/journal.py), through the same functions.

Tables: `events` (kernel-log events, keyed by node, boot id and the kmsg
sequence number, or a digest of the line where the source has none, so a
restart or a re-read never counts one twice), `samples` (counters with their
time), `verdicts` (every state a target took), `targets` (the state machine's
memory), `actions` (every action, journaled before it runs: guard/actions.py),
`meta` (counters such as reboots per day). Bounded: rows older than
`retention_s` go, and past `max_bytes` the oldest tenth of events, samples and
verdicts goes (open actions never). Writes use `synchronous=FULL`: a commit is
on disk when it returns, so a process killed after it loses nothing.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwtune import fsroot
from hwtune.errors import ConfigError, NeedsRoot
from hwtune.ownstate import open_child, refuse, trusted

STATE_DIR_ENV = "HWTUNE_STATE_DIR"
ROOT_STATE_DIR = Path("/var/lib/hwtune/guard")
DB_NAME = "guard.sqlite"
MAX_BYTES = 64 * 1024 * 1024
RETENTION_S = 90 * 86400
SCHEMA_VERSION = 1
# The node's own memos among its targets: the hold guard put on it, and shadow mode's idea of one
# (which never stands for a real hold). No GPU or port is named with "@".
HOLD, HOLD_SHADOW = "@hold", "@hold-shadow"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events(node TEXT NOT NULL, boot TEXT NOT NULL, key TEXT NOT NULL, t REAL NOT NULL,
  ord INTEGER NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, code INTEGER, detail TEXT NOT NULL,
  evidence TEXT NOT NULL, PRIMARY KEY(node, boot, key));
CREATE INDEX IF NOT EXISTS events_t ON events(t);
CREATE TABLE IF NOT EXISTS samples(node TEXT NOT NULL, t REAL NOT NULL, target TEXT NOT NULL, name TEXT NOT NULL,
  value REAL);
CREATE INDEX IF NOT EXISTS samples_t ON samples(t);
CREATE TABLE IF NOT EXISTS verdicts(node TEXT NOT NULL, t REAL NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL,
  reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS verdicts_t ON verdicts(t);
CREATE TABLE IF NOT EXISTS targets(node TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL, since REAL NOT NULL,
  clean INTEGER NOT NULL, boot TEXT NOT NULL, memo TEXT NOT NULL, PRIMARY KEY(node, target));
CREATE TABLE IF NOT EXISTS actions(id TEXT PRIMARY KEY, node TEXT NOT NULL, t REAL NOT NULL, target TEXT NOT NULL,
  action TEXT NOT NULL, actuator TEXT NOT NULL, check_id TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL,
  status TEXT NOT NULL, result TEXT NOT NULL, undo TEXT NOT NULL, finished REAL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Event:
    """One kernel-log event as the store keeps it."""

    boot: str
    key: str  # "s<seq>" from kmsg, else "h<digest>" of the line
    t: float  # when guard saw it (wall clock)
    ord: int  # order in its boot's log (the kmsg sequence number, or the line's place)
    kind: str
    target: str  # a GPU's bus id ("0000:3b:00.0"), a PCIe port, or "node"
    code: int | None  # the Xid
    detail: str
    evidence: str


def state_dir(snapshot_root: Path | None = None) -> Path:
    """Where guard keeps its state; a ConfigError when that would be inside the judged snapshot."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        if not os.path.isabs(override) or any(ord(c) < 32 for c in override):
            raise ConfigError(f"{STATE_DIR_ENV}={override!r}: must be an absolute path")
        path = Path(override)
    elif os.geteuid() == 0:
        path = ROOT_STATE_DIR
    else:
        from platformdirs import user_state_path

        path = user_state_path("hwtune") / "guard"
    if snapshot_root is not None:
        root = Path(os.path.realpath(snapshot_root))
        real = Path(os.path.realpath(path))
        if real == root or root in real.parents:
            raise ConfigError(f"{STATE_DIR_ENV}={path}: inside the snapshot {snapshot_root}; guard keeps its "
                              "state apart from what it judges")
    return path


def _open_state_dir(path: Path) -> int:
    """The state folder, made 0700 where absent, held open and trusted (apply's rules)."""

    parent, name = os.path.split(os.path.normpath(str(path)))
    try:
        os.makedirs(parent, mode=0o700, exist_ok=True)
        base = os.open(parent, fsroot.DIR_FLAGS)  # the admin's own path: its links are followed
        try:
            fd = open_child(base, name, create=True)
        finally:
            os.close(base)
    except PermissionError as exc:
        raise NeedsRoot(f"cannot use {path}: {exc.strerror} (run with sudo, or set {STATE_DIR_ENV})") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise refuse(f"{path} is a symlink or not a folder") from None
        raise ConfigError(f"cannot use the state folder {path}: {exc.strerror}") from None
    return trusted(fd, path)


def _check_db_file(dirfd: int, path: Path) -> None:
    """The database file, created 0600 where absent; refused unless it is ours (apply's rules)."""

    for name in (DB_NAME, DB_NAME + "-journal"):
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_CREAT if name == DB_NAME else 0)
        try:
            fd = os.open(name, flags, 0o600, dir_fd=dirfd)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise refuse(f"{path / name} is a symlink") from None
            raise ConfigError(f"cannot open {path / name}: {exc.strerror}") from None
        os.close(trusted(fd, path / name, regular=True))


class Store:
    """The history of one state folder. Use as a context manager, or call close()."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_BYTES, retention_s: float = RETENTION_S) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.retention_s = retention_s
        self._dirfd = _open_state_dir(path)
        try:
            _check_db_file(self._dirfd, path)
            old = os.umask(0o077)  # SQLite's rollback journal takes the database's mode; this covers the rest
            try:
                # through the held folder: a folder renamed and replaced afterwards is never used
                self.db = sqlite3.connect(f"/proc/self/fd/{self._dirfd}/{DB_NAME}", isolation_level=None,
                                          timeout=30.0)
            finally:
                os.umask(old)
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self.db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as exc:
            os.close(self._dirfd)
            raise ConfigError(f"{path / DB_NAME}: not a usable hwtune guard history: {exc}") from None
        except BaseException:
            os.close(self._dirfd)
            raise

    def _check_version(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise ConfigError(f"{self.path / DB_NAME}: schema {row[0]!r}, not {SCHEMA_VERSION}: made by another "
                              "hwtune version")

    def close(self) -> None:
        if self._dirfd >= 0:
            self.db.close()
            os.close(self._dirfd)
            self._dirfd = -1

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable write (BEGIN IMMEDIATE: one writer at a time)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- events and samples ----------------------------------------------------
    def add_events(self, node: str, events: Iterable[Event]) -> int:
        """Store the new events; those already stored (same node, boot and key) are skipped. How many were new.
        New Xid events also count in `xid_total`, a counter that only grows (pruning never lowers it)."""
        new = 0
        counts: dict[str, int] = {}
        with self.transaction() as db:
            for e in events:
                before = db.total_changes
                db.execute("INSERT OR IGNORE INTO events VALUES(?,?,?,?,?,?,?,?,?,?)",
                           (node, e.boot, e.key, e.t, e.ord, e.kind, e.target, e.code, e.detail, e.evidence))
                if db.total_changes > before:
                    new += 1
                    if e.kind == "xid" and e.code is not None:
                        key = f"{node}|{e.target}|{e.code}"
                        counts[key] = counts.get(key, 0) + 1
            if counts:
                self.bump(db, "xid_total", counts)
        return new

    def bump(self, db: sqlite3.Connection, name: str, counts: dict[str, int]) -> None:
        """Add to a persisted counter family (inside the caller's transaction)."""
        total = self.get_meta(name, {})
        total = total if isinstance(total, dict) else {}
        for key, n in counts.items():
            total[key] = int(total.get(key, 0)) + n
        self.set_meta(db, name, total)

    def events(self, node: str, boot: str, since: float | None = None) -> list[Event]:
        """The events of this boot, oldest first (in the log's order)."""
        sql = "SELECT boot,key,t,ord,kind,target,code,detail,evidence FROM events WHERE node=? AND boot=?"
        args: tuple[Any, ...] = (node, boot)
        if since is not None:
            sql += " AND t>=?"
            args += (since,)
        return [Event(*row) for row in self.db.execute(sql + " ORDER BY ord", args)]

    def add_samples(self, node: str, t: float, samples: Iterable[tuple[str, str, float | None]]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT INTO samples VALUES(?,?,?,?,?)", [(node, t, *s) for s in samples])

    # -- targets: each one's memo (a GPU's bus id, "node", or a node key such as HOLD) ----
    def target_memos(self, node: str) -> list[tuple[str, str]]:
        """(target, memo JSON) of every target of the node, node keys included."""
        return self.db.execute("SELECT target, memo FROM targets WHERE node=?", (node,)).fetchall()

    def target_states(self, node: str) -> list[tuple[str, str, str]]:
        """(target, state, memo JSON) of the node's GPUs and the node itself, by target."""
        return self.db.execute("SELECT target, state, memo FROM targets WHERE node=? AND target NOT LIKE '@%' "
                               "ORDER BY target", (node,)).fetchall()

    @staticmethod
    def put_target(db: sqlite3.Connection, node: str, target: str, state: str, since: float, clean: int,
                   boot: str, memo: str) -> None:
        db.execute("INSERT OR REPLACE INTO targets VALUES(?,?,?,?,?,?,?)",
                   (node, target, state, since, clean, boot, memo))

    @staticmethod
    def drop_target(db: sqlite3.Connection, node: str, target: str) -> None:
        db.execute("DELETE FROM targets WHERE node=? AND target=?", (node, target))

    @staticmethod
    def add_verdict(db: sqlite3.Connection, node: str, t: float, target: str, state: str,
                    reason: str) -> None:
        db.execute("INSERT INTO verdicts VALUES(?,?,?,?,?)", (node, t, target, state, reason))

    def history_rows(self, node: str | None, limit: int = 1000) -> tuple[list[tuple], list[tuple]]:
        """(events, verdicts) of one node or all, oldest first, at most `limit` of each."""
        where, args = (" WHERE node=?", (node,)) if node else ("", ())
        events = self.db.execute("SELECT node,boot,t,kind,target,code,evidence FROM events" + where
                                 + " ORDER BY t, ord LIMIT ?", (*args, limit)).fetchall()
        verdicts = self.db.execute("SELECT node,t,target,state,reason FROM verdicts" + where
                                   + " ORDER BY t LIMIT ?", (*args, limit)).fetchall()
        return events, verdicts

    # -- actions ------------------------------------------------------------------
    @staticmethod
    def add_actions(db: sqlite3.Connection, rows: Iterable[tuple]) -> None:
        db.executemany(f"INSERT INTO actions VALUES({','.join('?' * 13)})", list(rows))

    @staticmethod
    def set_action(db: sqlite3.Connection, action_id: str, status: str, result: str | None = None,
                   finished: float | None = None) -> None:
        """An action's new status; with a result, its outcome and when it finished."""
        if result is None:
            db.execute("UPDATE actions SET status=? WHERE id=?", (status, action_id))
        else:
            db.execute("UPDATE actions SET status=?, result=?, finished=? WHERE id=?",
                       (status, result, finished, action_id))

    def action_rows(self, columns: str, node: str | None = None, action_id: str | None = None,
                    limit: int = 1000) -> list[tuple]:
        """Actions' `columns`, by time: one id, one node's, or all."""
        if action_id is not None:
            return self.db.execute(f"SELECT {columns} FROM actions WHERE id=?", (action_id,)).fetchall()
        sql = f"SELECT {columns} FROM actions" + (" WHERE node=?" if node else "") + " ORDER BY t, id LIMIT ?"
        return self.db.execute(sql, ((node,) if node else ()) + (limit,)).fetchall()

    # -- meta ------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, db: sqlite3.Connection, key: str, value: Any) -> None:
        db.execute("INSERT OR REPLACE INTO meta VALUES(?,?)", (key, json.dumps(value)))

    # -- bounds ------------------------------------------------------------------
    def size_bytes(self) -> int:
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * self.db.execute("PRAGMA page_size").fetchone()[0]

    def prune(self, now: float | None = None) -> None:
        """Retention, then the size cap: the oldest events, samples and verdicts go first."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            for table in ("events", "samples", "verdicts"):
                db.execute(f"DELETE FROM {table} WHERE t<?", (now - self.retention_s,))
            db.execute("DELETE FROM actions WHERE finished IS NOT NULL AND finished<?", (now - self.retention_s,))
        for _ in range(20):
            if self.size_bytes() <= self.max_bytes:
                break
            with self.transaction() as db:
                for table in ("events", "samples", "verdicts"):
                    count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    db.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} ORDER BY t LIMIT ?)",
                               (max(1, count // 10),))
        self.db.execute("PRAGMA incremental_vacuum")
