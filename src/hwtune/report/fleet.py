"""`hwtune fleet report`: many hosts' check results in one table, and who differs from the rest.

RESULTS_DIR holds one folder per host, as contrib/ansible/hwtune.yml fetches
them: `<host>/check.json` (`hwtune check --json`), optionally
`<host>/facts.json` (`hwtune facts --json`), or `<host>/error.txt` when the
playbook failed on that host. A `<host>.json` check report directly in
RESULTS_DIR counts too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwtune.errors import ConfigError
from hwtune.fsroot import read_path
from hwtune.report.inputs import check_report, facts_doc, read_json

SCHEMA = 1
STATUS_ORDER = ("PASS", "WARN", "FAIL", "SKIP", "ERROR")
CHECK_FILE, FACTS_FILE, ERROR_FILE = "check.json", "facts.json", "error.txt"


@dataclass(frozen=True)
class HostResult:
    name: str
    report: dict[str, Any] | None = None
    facts: dict[str, Any] | None = None
    error: str | None = None  # why there is no report
    unreadable: bool = False  # its files are there but malformed: `error` says how

    @property
    def status(self) -> str:
        if self.report:
            return str(self.report.get("status", "?"))
        return "unreadable" if self.unreadable else "no result"

    def statuses(self) -> dict[str, str]:
        if not self.report:
            return {}
        return {str(r.get("id")): str(r.get("status", "?")).upper() for r in self.report.get("results", [])}


def load_host_dir(folder: Path) -> HostResult:
    check, facts, error = folder / CHECK_FILE, folder / FACTS_FILE, folder / ERROR_FILE
    # The playbook removes error.txt when a host succeeds, so one present is the
    # latest run's outcome, even beside the check.json of an earlier run.
    if error.is_file():
        try:
            text = read_path(error, 64 * 1024).decode("utf-8", errors="replace").strip()
        except OSError as exc:
            text = f"error.txt cannot be read: {exc.strerror}"
        return HostResult(folder.name, error=text.splitlines()[0] if text else "failed (empty error.txt)")
    if check.is_file():
        report = check_report(read_json(check), check)
        return HostResult(folder.name, report, facts_doc(read_json(facts), facts) if facts.is_file() else None)
    return HostResult(folder.name, error=f"no {CHECK_FILE} in {folder}")


def load_host(entry: Path) -> HostResult:
    """One host's results; files that are there but malformed make it unreadable, with the reason,
    and never stop the rest of the fleet from being shown."""
    name = entry.name if entry.is_dir() else entry.stem
    try:
        if entry.is_dir():
            return load_host_dir(entry)
        return HostResult(name, check_report(read_json(entry), entry))
    except ConfigError as exc:
        return HostResult(name, error=exc.message, unreadable=True)


def load_fleet(results_dir: Path) -> list[HostResult]:
    if not results_dir.is_dir():
        raise ConfigError(f"{results_dir}: not a folder of host results")
    hosts = []
    for entry in sorted(results_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or entry.suffix == ".json":
            hosts.append(load_host(entry))
    if not hosts:
        raise ConfigError(f"{results_dir}: no host results (expected <host>/{CHECK_FILE} or <host>.json)")
    return hosts


@dataclass(frozen=True)
class CheckRow:
    id: str
    title: str
    statuses: dict[str, str]  # host -> status, for hosts that ran this check
    majority: str | None  # the status of more than half of the hosts that judged it (not SKIP); None: split
    differ: tuple[str, ...]  # hosts that judged it otherwise; a host that skipped it differs from nobody

    def counts(self) -> dict[str, int]:
        c = Counter(self.statuses.values())
        return {st: c[st] for st in STATUS_ORDER if c[st]}


def check_rows(hosts: list[HostResult]) -> list[CheckRow]:
    titles: dict[str, str] = {}
    for h in hosts:
        for r in (h.report or {}).get("results", []):
            titles.setdefault(str(r.get("id")), str(r.get("title", "")))
    per_host = {h.name: h.statuses() for h in hosts}
    rows = []
    for cid, title in titles.items():
        statuses = {name: st[cid] for name, st in per_host.items() if cid in st}
        # a SKIP is no verdict (a check of GPUs on a host without one): it neither
        # makes a majority nor differs from one
        judged = {name: status for name, status in statuses.items() if status != "SKIP"}
        top = Counter(judged.values()).most_common(1)
        if not judged:
            majority: str | None = "SKIP"
        else:
            majority = top[0][0] if top[0][1] * 2 > len(judged) else None
        differ = tuple(n for n, s in judged.items() if majority is not None and s != majority)
        rows.append(CheckRow(cid, title, statuses, majority, differ))
    return rows


def fleet_json(hosts: list[HostResult]) -> dict[str, Any]:
    rows = check_rows(hosts)
    differs: dict[str, list[str]] = {h.name: [] for h in hosts}
    for row in rows:
        for name in row.differ:
            differs[name].append(row.id)
    host_docs = []
    for h in hosts:
        facts = (h.facts or {}).get("facts", {})
        host_docs.append({
            "name": h.name, "status": h.status, "profile": (h.report or {}).get("profile"),
            "counts": (h.report or {}).get("counts"), "error": h.error,
            "cpu_model": facts.get("cpu.model"), "kernel": facts.get("kernel.release"),
            "differs_from_majority": differs[h.name],
        })
    statuses = Counter(h.status for h in hosts)
    return {
        "schema": SCHEMA,
        "hosts": host_docs,
        "host_counts": dict(sorted(statuses.items())),
        "checks": [{"id": r.id, "title": r.title, "majority": r.majority, "counts": r.counts(),
                    "differ": [{"host": n, "status": r.statuses[n]} for n in r.differ],
                    "statuses": r.statuses} for r in rows],
    }


def fleet_failing(hosts: list[HostResult]) -> bool:
    """A host without a result, or with a FAIL or ERROR."""
    return any(h.report is None or h.status in ("fail", "error") for h in hosts)
