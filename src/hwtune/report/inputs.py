"""Read the saved documents a report is made of: bench runs, apply journals, recommend output.

Folders are scanned leniently (a file that is not a bench run is listed as
skipped on the page, not fatal); a file named on the command line must be
what it says, or it is a one-line error naming it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hwtune.errors import ConfigError, parse_json
from hwtune.facts import Facts, json_type
from hwtune.files import read_json_file
from hwtune.fsroot import RootFS, reason
from hwtune.report.bench import is_result


def host_name(root: Path | None) -> str:
    """The live hostname; for a snapshot the name its manifest recorded, else its folder name."""
    if root is None:
        return socket.gethostname()
    try:
        # inside a tree someone else recorded: resolved inside it, a regular file, capped
        data, _more = RootFS(root).read_file("/hwtune-snapshot.json", 1024 * 1024)
        manifest = parse_json(data.decode("utf-8"), "hwtune-snapshot.json")
        if isinstance(manifest, dict) and manifest.get("hostname"):
            return str(manifest["hostname"])
    except (OSError, ValueError, ConfigError):
        pass
    return Path(root).resolve().name


def bench_runs_dir() -> Path:
    """Where `hwtune bench` saves runs."""
    from hwtune.bench.store import runs_dir  # start-up: `check` reads this module for host_name alone

    return runs_dir()


def journal_dir(root: Path) -> Path:
    """Where `hwtune apply` keeps its journals for this root."""
    from hwtune.apply.journal import state_dir  # start-up: as above

    return state_dir(Path(root)) / "journal"


@dataclass
class Loaded:
    """Documents read from a folder, and the files passed over with the reason."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add_journal(self, doc: Any, shown: Path) -> None:
        """Keep an apply journal; anything without a 'steps' list is passed over, with the reason."""
        if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list):
            self.skipped.append(f"{shown}: not a hwtune journal (no 'steps' list)")
        elif not all(isinstance(s, dict) for s in doc["steps"]):
            self.skipped.append(f"{shown}: not a hwtune journal (a step is not an object)")
        else:
            self.docs.append(doc)


def read_json(path: Path) -> Any:
    return read_json_file(path)


CHECK_STATUSES = ("PASS", "WARN", "FAIL", "SKIP", "ERROR")
# the text fields of a result a page or table shows: each a string when present
RESULT_TEXTS = ("title", "message", "fix", "rationale", "source", "area")
MAX_COUNT = 10 ** 9  # a host runs a few hundred checks


def _counts(counts: dict[str, Any], bad: Callable[[str, str, Any], ConfigError]) -> None:
    # bad: check_report's error maker, which names the file
    for status, n in counts.items():
        if status.upper() not in CHECK_STATUSES:
            raise bad(f"counts.{status}", f"one of {', '.join(CHECK_STATUSES)}", status)
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COUNT:
            raise bad(f"counts.{status}", f"a count from 0 to {MAX_COUNT:,}", n)


def check_report(doc: Any, path: Path | str) -> dict[str, Any]:
    """A saved `hwtune check --json` report, its types checked; else a ConfigError naming the file and key."""

    def bad(key: str, wanted: str, value: Any) -> ConfigError:
        return ConfigError(f"{path}: key {key!r}: expected {wanted}, got {json_type(value)}")

    if not isinstance(doc, dict) or "results" not in doc or "status" not in doc:
        raise ConfigError(f"{path}: not a `hwtune check --json` report (no 'status' and 'results')")
    if not isinstance(doc["status"], str):
        raise bad("status", "a string", doc["status"])
    if not isinstance(doc["results"], list):
        raise bad("results", "a list", doc["results"])
    for key, kind, wanted in (("profile", str, "a string"), ("counts", dict, "an object")):
        if doc.get(key) is not None and not isinstance(doc[key], kind):
            raise bad(key, wanted, doc[key])
    _counts(doc.get("counts") or {}, bad)
    for n, r in enumerate(doc["results"]):
        if not isinstance(r, dict):
            raise bad(f"results[{n}]", "an object", r)
        if not isinstance(r.get("id"), str):
            raise bad(f"results[{n}].id", "a string", r.get("id"))
        for key in RESULT_TEXTS:
            if r.get(key) is not None and not isinstance(r[key], str):
                raise bad(f"results[{n}].{key}", "a string", r[key])
        if not isinstance(r.get("status"), str) or r["status"].upper() not in CHECK_STATUSES:
            raise ConfigError(f"{path}: key 'results[{n}].status': expected one of {', '.join(CHECK_STATUSES)}, "
                              f"got {r.get('status')!r}")
    return doc


def facts_doc(doc: Any, path: Path | str) -> dict[str, Any]:
    """A saved `hwtune facts --json` document, its types checked (naming the key); else a ConfigError."""

    try:
        Facts.from_json(doc)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None
    checked: dict[str, Any] = doc  # from_json accepts only a mapping: a JSON object
    return checked


def iso_to_epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def bench_run(path: Path) -> dict[str, Any]:
    """One saved run, with `_run` and `_run_time_s` added to the run and to each result."""
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ConfigError(f"{path}: not a hwtune bench run (no 'results' list)")
    when = iso_to_epoch(doc.get("created_utc"))
    if when is None:
        when = path.stat().st_mtime
    doc = {**doc, "_run": path.stem, "_run_time_s": when}
    tuner = doc.get("tuner")
    if not isinstance(tuner, dict):
        tuner = {}
    extra = [r for v in tuner.values() if isinstance(v, list) for r in v if is_result(r)]
    doc["results"] = [{**r, "_run": path.stem, "_run_time_s": when}
                      for r in [*doc["results"], *extra] if is_result(r)]
    return doc


def load_bench_runs(folder: Path) -> Loaded:
    loaded = Loaded()
    if not folder.is_dir():
        return loaded
    for path in sorted(folder.glob("*.json")):
        try:
            loaded.docs.append(bench_run(path))
        except ConfigError as exc:
            loaded.skipped.append(exc.message)
    loaded.docs.sort(key=lambda d: d["_run_time_s"])
    return loaded


def all_results(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for run in runs for r in run["results"]]


def load_journals(folder: Path) -> Loaded:
    """Apply journals, oldest first; a journal readable by root only is reported, not fatal."""
    loaded = Loaded()
    try:
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    except PermissionError:
        loaded.skipped.append(f"{folder}: readable by root only")
        return loaded
    for path in paths:
        try:
            doc = read_json(path)
        except ConfigError as exc:
            loaded.skipped.append(exc.message)
            continue
        loaded.add_journal(doc, path)
    return loaded


def load_root_journals(root: Path) -> Loaded:
    """The journals `hwtune apply` kept for this root, read inside the root (a link in a recorded
    tree never leads to a folder outside it); $HWTUNE_STATE_DIR is a path on this machine."""
    import os

    from hwtune.apply.journal import MAX_JOURNAL_BYTES, STATE_DIR_ENV, STATE_SUBDIR  # start-up: as above

    if os.environ.get(STATE_DIR_ENV):
        return load_journals(journal_dir(root))
    loaded = Loaded()
    folder = f"/{STATE_SUBDIR}/journal"
    try:
        fs = RootFS(root)
        names = sorted(n for n in fs.listdir(folder) if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        return loaded
    except PermissionError:
        loaded.skipped.append(f"{Path(root) / folder.lstrip('/')}: readable by root only")
        return loaded
    except OSError as exc:
        loaded.skipped.append(f"{Path(root) / folder.lstrip('/')}: {reason(exc)}")
        return loaded
    for name in names:
        shown = Path(root) / folder.lstrip("/") / name
        try:
            data, more = fs.read_file(f"{folder}/{name}", MAX_JOURNAL_BYTES, whole=True)
            doc = None if more else parse_json(data.decode("utf-8"), shown)
        except (OSError, UnicodeDecodeError) as exc:
            loaded.skipped.append(f"{shown}: cannot read: {reason(exc) if isinstance(exc, OSError) else exc}")
            continue
        except ConfigError as exc:
            loaded.skipped.append(exc.message)
            continue
        loaded.add_journal(doc, shown)
    return loaded


def load_recommend(path: Path) -> dict[str, Any]:
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("estimates"), list):
        raise ConfigError(f"{path}: not `hwtune recommend --json` output (no 'estimates' list)")
    return doc
