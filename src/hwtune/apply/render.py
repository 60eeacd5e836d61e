"""Render plans, results and history as rich tables (rendering only; no decisions here)."""

from __future__ import annotations

import re
from typing import Iterable

from rich.console import Console
from rich.table import Table

from hwtune.apply.model import CHANGE, FILE, INVALID, LINK, OK, PENDING, SKIP, Item, Plan, Step
from hwtune.apply.transaction import ApplyResult, Check, RollbackResult

STATUS_STYLE = {CHANGE: "yellow", OK: "green", SKIP: "dim", PENDING: "magenta", INVALID: "red"}


def show(value: str | None, kind: str | None = None) -> str:
    if kind in (FILE, LINK):
        return "absent" if value is None else ("installed" if kind == FILE else f"-> {value}")
    if value is None:
        return "?"
    return value if len(value) <= 40 else value[:37] + "..."


def _kind(item: Item) -> str | None:
    return item.step.kind if item.step else None


def group_where(wheres: list[str]) -> str:
    """policy0, policy1, ..., policy19 -> policy0-19; other lists are joined."""
    matches = [re.fullmatch(r"policy(\d+)", w) for w in wheres]
    if len(wheres) < 2 or not all(matches):
        return ", ".join(wheres)
    values = [int(m.group(1)) for m in matches]
    runs = []
    start = prev = values[0]
    for v in values[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = v
    return "policy" + ",".join(runs)


def _signature(item: Item) -> tuple:
    return (item.key, item.status, item.current, item.target, item.reason, item.mode, item.command)


def grouped(items: Iterable[Item]) -> list[tuple[Item, str]]:
    """Merge neighbouring rows that differ only in the policy (20 policies -> one row)."""
    rows: list[tuple[Item, list[str]]] = []
    for item in items:
        if rows and rows[-1][0].where.startswith("policy") and item.where.startswith("policy") \
                and _signature(rows[-1][0]) == _signature(item):
            rows[-1][1].append(item.where)
        else:
            rows.append((item, [item.where]))
    return [(item, group_where(wheres)) for item, wheres in rows]


def render_plan(console: Console, plan: Plan, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("key", "where", "current -> target", "status", "mode", "reboot"):
        table.add_column(col)
    # cpu items come in kernel-safe order (EPP and governor interleaved); show them by key
    order = {k: n for n, k in enumerate(dict.fromkeys(i.key for i in plan.items))}
    items = sorted(plan.items, key=lambda i: order[i.key])
    for item, where in grouped(items):
        kind = _kind(item)
        table.add_row(item.key, where, f"{show(item.current, kind)} -> {show(item.target, kind)}",
                      f"[{STATUS_STYLE.get(item.status, '')}]{item.status}[/]", item.mode,
                      "yes" if item.reboot else "no")
    console.print(table)
    notes = [(item, where) for item, where in grouped(items) if item.reason and item.status != OK]
    for item, where in notes:
        console.print(f"  [{STATUS_STYLE.get(item.status, '')}]{item.status}[/] {item.key} ({where}): {item.reason}",
                      highlight=False)
    render_pending(console, plan.pending)


def render_pending(console: Console, pending: tuple[Item, ...]) -> None:
    if pending:
        console.print("[magenta]Pending reboot[/] (never applied by hwtune; run these yourself):")
        for item in pending:
            console.print(f"  {item.key} ({item.where}): {item.command}", highlight=False)


def render_checks(console: Console, checks: Iterable[Check], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("key", "where", "expected", "now", "ok"):
        table.add_column(col)
    for check in checks:
        kind = check.step.kind
        table.add_row(check.step.key, check.step.where, show(check.expected, kind), show(check.now, kind),
                      "[green]yes[/]" if check.ok else "[red]NO[/]")
    console.print(table)


def render_apply(console: Console, result: ApplyResult) -> None:
    n = len(result.plan.steps)
    console.print(f"Applied {n} change(s) from profile {result.plan.profile} (journal {result.journal_id}).")
    render_checks(console, _grouped_checks(result.checks), "Verification (read back after apply)")
    render_pending(console, result.plan.pending)
    console.print(f"Undo with: sudo hwtune rollback {result.journal_id}", highlight=False)


def _grouped_checks(checks: tuple[Check, ...]) -> list[Check]:
    """One row per (key, expected, now, ok) run of policies, as in the plan."""
    out: list[Check] = []
    wheres: list[list[str]] = []
    for c in checks:
        prev = out[-1] if out else None
        if prev and prev.step.where.startswith("policy") and c.step.where.startswith("policy") and \
                (prev.step.key, prev.expected, prev.now) == (c.step.key, c.expected, c.now):
            wheres[-1].append(c.step.where)
            continue
        out.append(c)
        wheres.append([c.step.where])
    return [Check(_with_where(c.step, group_where(w)), c.expected, c.now) for c, w in zip(out, wheres)]


def _with_where(step: Step, where: str) -> Step:
    from dataclasses import replace

    return replace(step, where=where)


def render_rollback(console: Console, result: RollbackResult) -> None:
    if not result.journal_ids:
        console.print(result.note.capitalize() + ".")
        return
    ids = ", ".join(result.journal_ids)
    console.print(f"Rolled back {ids}: {len(result.restored)} value(s) restored, "
                  f"{result.already} already had their old value.")
    if result.restored:
        render_checks(console, _grouped_checks(result.restored), "Restored (read back after rollback)")


def render_history(console: Console, rows: list[dict]) -> None:
    if not rows:
        console.print("No apply recorded yet.")
        return
    table = Table(title="hwtune apply history (newest last)", title_justify="left")
    for col in ("id", "time (UTC)", "profile", "changes", "state"):
        table.add_column(col)
    for row in rows:
        state = row["state"] + (" (boot)" if row.get("boot") else "")
        table.add_row(row["id"], row["started"], row["profile"], str(row["changes"]), state)
    console.print(table)
