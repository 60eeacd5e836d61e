"""The kernel log's events as the health checks read them, and one event as evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwtune.facts import Facts


def log_events(facts: Facts, *kinds: str, whole_log: bool = True) -> tuple[list[dict[str, Any]] | None, str]:
    """The events of these kinds, or None and why there is no kernel log. A recorded log that
    holds only some lines (a `grep NVRM` capture) counts as none, unless the caller's events are
    all among those lines (`whole_log=False`): an absent line there proves nothing."""
    events = facts.get("kernel.log_events")
    if events is None:
        return None, facts.reason("kernel.log_events")
    only = facts.get("kernel.log_only")
    if whole_log and only:
        return None, f"the recorded kernel log holds only the lines with {only!r}"
    return [e for e in events if e.get("kind") in kinds], ""


def log_read(facts: Facts) -> str:
    """What a PASS rests on: the kernel log read, what it covers and what in it counted
    ("dmesg: the whole kernel log since boot (812 kernel records)")."""
    source = facts.get("kernel.log_source") or "the kernel log"
    coverage = facts.get("kernel.log_coverage")
    trust = facts.get("kernel.log_provenance")
    return source + (f": {coverage}" if coverage else "") + (f"; {trust}" if trust else "")


def evidence(event: Mapping[str, Any]) -> str:
    """The log line with its time, as the log showed it, and whether its facility was seen."""
    facility = " (facility not recorded)" if event.get("facility") == "not recorded" else ""
    return f"[{event.get('time', '')}] {event.get('message', '')}{facility}"
