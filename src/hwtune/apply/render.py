"""Plans, results and history for people: rich tables in a terminal, plain lines when piped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from rich.console import Console
from rich.text import Text

from hwtune.apply.kinds import kind as kind_named
from hwtune.apply.model import CHANGE, INVALID, OK, PENDING, SKIP, Item, Plan
from hwtune.apply.transaction import ApplyResult, Check, RollbackResult
from hwtune.probe.cpufreq import format_policies
from hwtune.render import print_table
from hwtune.tables import ID, NUM, Col

STATUS_STYLE = {CHANGE: "yellow", OK: "green", SKIP: "dim", PENDING: "magenta", INVALID: "bold red"}


def _value(value: str | None, kind: str | None = None) -> str:
    """A plan cell: as the step's kind shows it (hwtune's own files and links as installed/enabled),
    a value that could not be read as "?", a long one cut."""
    found = kind_named(kind) if kind is not None else None
    shown = found.show(value) if found is not None else None
    if shown is not None:
        return shown
    if value is None:
        return "?"
    return value if len(value) <= 48 else value[:45] + "..."


def _signature(item: Item) -> tuple:
    return (item.key, item.status, item.current, item.target, item.reason, item.mode, item.command)


def grouped(items: Iterable[Item]) -> list[Item]:
    """Merge rows that differ only in the policy (20 policies -> one row), keeping key order."""
    items = list(items)
    order = {k: n for n, k in enumerate(dict.fromkeys(i.key for i in items))}
    rows: list[tuple[Item, list[str]]] = []
    # cpu items come interleaved in the order the kernel accepts them; show them by key
    for item in sorted(items, key=lambda i: order[i.key]):
        last = rows[-1][0] if rows else None
        if last and last.where.startswith("policy") and item.where.startswith("policy") \
                and _signature(last) == _signature(item):
            rows[-1][1].append(item.where)
        else:
            rows.append((item, [item.where]))
    return [replace(item, where=format_policies(wheres)) for item, wheres in rows]


def render_plan(console: Console, plan: Plan, title: str) -> None:
    rows: list[list[Text | str]] = []
    items = grouped(plan.items)
    for item in items:
        kind = item.step.kind if item.step else None
        values = "-" if item.current is None and item.target is None else \
            f"{_value(item.current, kind)} -> {_value(item.target, kind)}"
        rows.append([Text(item.status, style=STATUS_STYLE.get(item.status, "")), item.key, item.where or "-",
                     values, item.mode,
                     "reboot" if item.reboot else "-"])
    print_table(console, title, (Col("status", ID), Col("key", ID), Col("where", ID), "current -> target",
                                 Col("mode", ID), Col("reboot needed", ID)), rows)
    for item in items:
        if item.reason and item.status not in (OK, PENDING):
            label = f"{item.key} ({item.where})" if item.where else item.key
            style = "bold red" if item.hardening or item.risks else STATUS_STYLE.get(item.status, "")
            console.print(Text(f"  {item.status}: {label}: {item.reason}", style=style))
    render_pending(console, plan.pending)


def render_pending(console: Console, pending: tuple[Item, ...]) -> None:
    if pending:
        console.print(Text("Pending reboot (never applied by hwtune; run these yourself):", style="magenta"))
        for item in pending:
            console.print(f"  {item.key} ({item.where}): {item.reason}\n    {item.command}",
                          markup=False, soft_wrap=True)


def render_checks(console: Console, checks: Iterable[Check], title: str) -> None:
    rows: list[list[Text | str]] = []
    for check in _grouped_checks(list(checks)):
        kind = check.step.kind
        rows.append([Text("ok" if check.ok else "DIFFERS", style="green" if check.ok else "bold red"),
                     check.step.key, check.step.where or "-", _value(check.expected, kind), _value(check.now, kind)])
    print_table(console, title, (Col("verified", ID), Col("key", ID), Col("where", ID), "expected", "read back"), rows)


def _grouped_checks(checks: list[Check]) -> list[Check]:
    """As `grouped`: one row per key and value, policies merged."""
    order = {k: n for n, k in enumerate(dict.fromkeys(c.step.key for c in checks))}
    out: list[Check] = []
    wheres: list[list[str]] = []
    for c in sorted(checks, key=lambda c: order[c.step.key]):
        prev = out[-1] if out else None
        if prev and prev.step.where.startswith("policy") and c.step.where.startswith("policy") and \
                (prev.step.key, prev.expected, prev.now) == (c.step.key, c.expected, c.now):
            wheres[-1].append(c.step.where)
            continue
        out.append(c)
        wheres.append([c.step.where])
    return [Check(replace(c.step, where=format_policies(w)), c.expected, c.now)
            for c, w in zip(out, wheres, strict=True)]


def render_apply(console: Console, result: ApplyResult, undo: str) -> None:
    """`undo`: the rollback command as a person pastes it (hwtune.hints)."""
    n = len(result.plan.steps)
    console.print(f"Applied {n} change(s) from profile {result.plan.profile} (journal {result.journal_id}).",
                  markup=False)
    render_checks(console, result.checks, "Verification (every tunable read back after apply)")
    render_pending(console, result.plan.pending)
    console.print(f"Undo with: {undo}", markup=False, soft_wrap=True)  # one line, to paste whole


def render_rollback(console: Console, result: RollbackResult) -> None:
    if not result.journal_ids:
        console.print(result.note[:1].upper() + result.note[1:] + ".", markup=False)
        return
    console.print(f"Rolled back {', '.join(result.journal_ids)}: {len(result.restored)} value(s) restored, "
                  f"{result.already} already had their old value.", markup=False)
    if result.restored:
        render_checks(console, result.restored, "Restored (read back after rollback)")


def render_history(console: Console, rows: list[dict]) -> None:
    if not rows:
        console.print("No apply recorded yet.")
        return
    table_rows = [[row["id"], row["started"], row["profile"], str(row["changes"]),
                   row["state"] + (" (at boot)" if row.get("boot") else "")] for row in rows]
    print_table(console, "hwtune apply history (oldest first)", (Col("id", ID), Col("time (UTC)", ID), "profile",
                                                                Col("changes", NUM), "state"),
           table_rows)
