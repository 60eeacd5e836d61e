"""Terminal tables for `fleet report` and `diff` (rich lives only in rendering modules and the CLI)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from hwtune.render import STATUS_STYLE
from hwtune.report.fleet import HostResult, check_rows, fleet_json
from hwtune.tables import ID, Col, Table
from hwtune.text import show

NO_REPORT = ("no result", "unreadable")
MAX_HOST_COLUMNS = 10  # beyond this a check row lists only the hosts that differ


def _status(status: str | None, odd: bool = False) -> Text:
    if status is None:
        return Text("-", style="dim")
    return Text(status + (" *" if odd else ""), style=STATUS_STYLE.get(status.upper(), ""))


def render_fleet(console: Console, hosts: list[HostResult]) -> None:
    rows = check_rows(hosts)
    summary = fleet_json(hosts)
    ran = [h for h in hosts if h.report is not None]
    wide = len(ran) <= MAX_HOST_COLUMNS
    # host columns leave first in a narrow terminal: "hosts that differ" still names the outliers
    cols = [Col("check", ID)] + ([Col(h.name, ID, drop=1) for h in ran] if wide else [])
    cols += [Col("majority", ID), Col("counts"), Col("hosts that differ")]
    table = Table(f"hwtune fleet: {len(hosts)} hosts x {len(rows)} checks", cols)
    for r in rows:
        cells: list[Any] = [r.id]
        if wide:
            cells += [_status(r.statuses.get(h.name), h.name in r.differ) for h in ran]
        cells.append(_status(r.majority) if r.majority else Text("split", style="bold"))
        cells.append(", ".join(f"{n} {st}" for st, n in r.counts().items()))
        cells.append(", ".join(f"{n} {r.statuses[n]}" for n in r.differ) or "-")
        table.add_row(*cells)
    if wide:
        table.notes.append(Text("* differs from the majority of hosts", style="dim"))
    table.print(console)
    hosts_t = Table("hosts", (Col("host", ID), Col("status", ID), Col("profile", ID), Col("checks"),
                              Col("differs from majority on")))
    for h in summary["hosts"]:
        counts = ", ".join(f"{n} {st}" for st, n in (h["counts"] or {}).items() if n)
        hosts_t.add_row(h["name"], _status(h["status"].upper()) if h["status"] not in NO_REPORT else
                        Text(h["status"], style="bold magenta"), show(h["profile"]),
                        counts or "-", ", ".join(h["differs_from_majority"]) or "-")
    hosts_t.print(console)
    for h in summary["hosts"]:
        if h["error"]:
            console.print(Text(f"{h['name']}: {h['status']}: {h['error']}", style="magenta"))


def render_diff(console: Console, d: dict[str, Any]) -> None:
    console.print(f"A: {d['a']}\nB: {d['b']}", markup=False)
    checks = d["checks"]
    if checks["compared"] and d["profile_a"] != d["profile_b"]:
        console.print(f"profiles differ: A {d['profile_a']}, B {d['profile_b']}", markup=False)
    if not console.is_terminal:
        _diff_lines(console, d)
    else:
        _diff_tables(console, d)
    _diff_summary(console, d)


def _diff_lines(console: Console, d: dict[str, Any]) -> None:
    """Piped: one line per difference, "id: A -> B", each value whole (a table would pad every
    line to the longest value)."""
    facts, checks = d["facts"], d["checks"]
    lines: list[str] = []
    if checks["compared"] and (checks["changed"] or checks["only_a"] or checks["only_b"]):
        lines.append("verdicts that differ (A -> B):")
        lines += [f"  {c['id']}: {_verdict(c['a']).plain} -> {_verdict(c['b']).plain}" for c in checks["changed"]]
        lines += [f"  {cid}: present -> not run" for cid in checks["only_a"]]
        lines += [f"  {cid}: not run -> present" for cid in checks["only_b"]]
    if facts["compared"] and (facts["changed"] or facts["only_a"] or facts["only_b"]):
        lines.append("facts that differ (A -> B):")
        lines += [f"  {f['id']}: {show(f['a'])} -> {show(f['b'])}" for f in facts["changed"]]
        lines += [f"  {f['id']}: {show(f['value'])} -> absent" for f in facts["only_a"]]
        lines += [f"  {f['id']}: absent -> {show(f['value'])}" for f in facts["only_b"]]
    if lines:
        console.print("\n".join(lines), markup=False, soft_wrap=True, highlight=False)


def _diff_tables(console: Console, d: dict[str, Any]) -> None:
    facts, checks = d["facts"], d["checks"]
    if checks["compared"] and (checks["changed"] or checks["only_a"] or checks["only_b"]):
        t = Table("verdicts that differ", (Col("check", ID), Col("A"), Col("B")))
        for c in checks["changed"]:
            t.add_row(c["id"], _verdict(c["a"]), _verdict(c["b"]))
        for cid in checks["only_a"]:
            t.add_row(cid, "present", Text("not run", style="dim"))
        for cid in checks["only_b"]:
            t.add_row(cid, Text("not run", style="dim"), "present")
        t.print(console)
    if facts["compared"] and (facts["changed"] or facts["only_a"] or facts["only_b"]):
        t = Table("facts that differ", (Col("fact", ID), Col("A"), Col("B")))
        for f in facts["changed"]:
            t.add_row(f["id"], show(f["a"]), show(f["b"]))
        for f in facts["only_a"]:
            t.add_row(f["id"], show(f["value"]), Text("absent", style="dim"))
        for f in facts["only_b"]:
            t.add_row(f["id"], Text("absent", style="dim"), show(f["value"]))
        t.print(console)


def _diff_summary(console: Console, d: dict[str, Any]) -> None:
    facts, checks = d["facts"], d["checks"]
    for name, part in (("facts", facts), ("verdicts", checks)):
        if not part["compared"]:
            console.print(f"{name} not compared: only one side has them", style="dim")
    n_facts = sum(len(facts[k]) for k in ("changed", "only_a", "only_b"))
    n_checks = sum(len(checks[k]) for k in ("changed", "only_a", "only_b"))
    console.print("no difference" if d["same"] else f"{n_facts} facts and {n_checks} verdicts differ",
                  style="green" if d["same"] else "bold")


def _verdict(v: dict[str, Any]) -> Text:
    text = _status(str(v.get("status")))
    text.append(f"  {show(v.get('observed'))}", style="")
    return text
