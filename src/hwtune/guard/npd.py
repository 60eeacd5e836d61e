"""node-problem-detector's custom-plugin mode: its exit codes and one line of message.

The custom plugin monitor runs the command and reads its exit status: 0 OK,
1 NonOK (a problem), 2 Unknown; and the first line of its output as the
condition's message (kept short: NPD cuts it at its max_output_length, 80 by
default). No API access is needed: NPD sets the node condition itself.
"""

from __future__ import annotations

from hwtune.guard.core import GuardResult

NPD_OK, NPD_PROBLEM, NPD_UNKNOWN = 0, 1, 2
MAX_MESSAGE = 80


def plugin_answer(result: GuardResult) -> tuple[int, str]:
    if result.state == "HEALTHY":
        return NPD_OK, f"hwtune: {result.node} HEALTHY"[:MAX_MESSAGE]
    if result.state == "UNKNOWN":
        why = result.reasons[0] if result.reasons else "no source could be read"
        return NPD_UNKNOWN, f"hwtune: UNKNOWN: {why}"[:MAX_MESSAGE]
    worst = next((a for a in result.actions if a.target == "node"), result.actions[0] if result.actions else None)
    bad = [f"{bus} {state}" for bus, state in result.gpus if state != "HEALTHY"]
    detail = worst.reason if worst is not None else (", ".join(bad) or result.state)
    return NPD_PROBLEM, f"hwtune: {result.state}: {detail}"[:MAX_MESSAGE]
