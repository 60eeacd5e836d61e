"""guard's results and history as plain lines (80 columns; every value escaped where shown)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from rich.cells import cell_len, set_cell_size

from hwtune.guard.actions import history
from hwtune.guard.core import GuardResult
from hwtune.guard.store import Store
from hwtune.text import printable


def _safe(text: Any, width: int = 200) -> str:
    """A log line or a reason is data, never terminal input: every character Python does not
    call printable written out (text.printable: newline and tab too, one value stays on its
    line), then cut to `width` terminal columns (a wide character is two)."""
    shown = printable(str(text))
    if cell_len(shown) <= width:
        return shown
    return set_cell_size(shown, width - 3).rstrip(" ") + "..."  # no pad where a wide character did not fit


def render_result(result: GuardResult) -> list[str]:
    lines = [f"node {_safe(result.node, 40)}: {result.state} ({result.mode})"]
    lines += [f"  GPU {_safe(bus, 40)}: {_safe(state, 30)}" for bus, state in result.gpus]
    lines += [f"  unreadable: {_safe(r, 66)}" for r in result.reasons]
    if not result.actions:
        lines.append("no action")
    for a in result.actions:
        done = "executed" if a.executed else "not executed"
        lines.append(f"{_safe(a.action, 16)} {_safe(a.target, 24)} [{_safe(a.check, 20)}] {done}")
        lines.append(f"  reason: {_safe(a.reason, 70)}")
        lines.append(f"  evidence: {_safe(a.evidence, 68)}")
        if a.result:
            lines.append(f"  result: {_safe(a.result, 70)}")
        lines.append(f"  id: {_safe(a.id, 70)}")
    return lines


def health_history(store: Store, node: str | None) -> dict[str, Any]:
    """Events per target, verdicts and actions, oldest first (at most 1000 of each)."""

    events, verdicts = store.history_rows(node)
    per_target: dict[str, list[dict[str, Any]]] = {}
    for n, boot, t, kind, target, code, ev in events:
        per_target.setdefault(f"{n} {target}", []).append(
            {"node": n, "boot": boot, "time": t, "kind": kind, "code": code, "evidence": ev})
    return {"events": per_target,
            "verdicts": [dict(zip(("node", "time", "target", "state", "reason"), v, strict=True)) for v in verdicts],
            "actions": [a.to_json() | {"node": a.node, "time": a.t, "status": a.status}
                        for a in history(store, node)]}


def render_history(doc: dict[str, Any]) -> list[str]:
    from datetime import datetime

    def when(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")

    lines = []
    for target, events in sorted(doc["events"].items()):
        lines.append(f"{_safe(target, 60)}: {len(events)} event(s)")
        lines += [f"  {when(e['time'])} {_safe(e['evidence'], 56)}" for e in events[-20:]]
    for v in doc["verdicts"]:
        lines.append(f"{when(v['time'])} {_safe(v['node'], 20)} {_safe(v['target'], 24)}: {_safe(v['state'], 12)}")
    for a in doc["actions"]:
        lines.append(f"{when(a['time'])} {_safe(a['id'], 14)} {_safe(a['action'], 12)} {_safe(a['target'], 20)} "
                     f"{_safe(a['status'], 10)}")
    return lines or ["no history yet"]
