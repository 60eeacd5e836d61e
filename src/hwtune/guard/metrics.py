"""guard's metrics, each with one meaning, written with the official prometheus-client.

- `hwtune_guard_xid_events_total{node,gpu,xid}`: kernel Xid records, counted once each (keyed by boot
  and sequence number), across boots and restarts: only grows.
- `hwtune_guard_active_fault{node,target,check}`: 1 while a target is held out (quarantined,
  remediating, verifying, escalated); 0 only after the evidence cleared and the clean checks
  passed. Not "the last Xid seen" (dcgm-exporter's gauge that sticks at the last code).
- `hwtune_guard_state{node,target,state}`: 1 for the target's current state, 0 for the others.
- `hwtune_guard_actions_total{node,action,status}`: actions by outcome: only grows.
- `hwtune_guard_breaker_open{node}`: 1 when the circuit breaker kept a hold from running.

Written to a node_exporter textfile (atomically, by hwtune's own writer, hwtune.atomic), or served on
`--listen 127.0.0.1:PORT`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from hwtune import atomic
from hwtune.guard.machine import HOLDING, RANK
from hwtune.guard.store import Store


class GuardCollector:
    """The families of the last judgement; `collect` hands them out (the HTTP server's thread reads)."""

    def __init__(self) -> None:
        self._families: tuple[Any, ...] = ()

    def update(self, store: Store, node: str, breaker_open: bool) -> None:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        xid = _counter(CounterMetricFamily("hwtune_guard_xid_events", "Kernel Xid records seen, each once, "
                                           "across boots", labels=["node", "gpu", "xid"]), store, "xid_total", node)
        actions = _counter(CounterMetricFamily("hwtune_guard_actions", "guard actions by outcome",
                                               labels=["node", "action", "status"]), store, "actions_total", node)
        fault = GaugeMetricFamily("hwtune_guard_active_fault", "1 while a target is held out; 0 after verified "
                                  "recovery", labels=["node", "target", "check"])
        state = GaugeMetricFamily("hwtune_guard_state", "The target's guard state (1 for the current one)",
                                  labels=["node", "target", "state"])
        for target, current, memo in store.target_states(node):
            check = ""
            with suppress(ValueError, AttributeError):
                check = str(json.loads(memo).get("check", ""))[:64]
            fault.add_metric([node, target, check], 1.0 if current in HOLDING else 0.0)
            for name in RANK:
                state.add_metric([node, target, name], 1.0 if name == current else 0.0)
        breaker = GaugeMetricFamily("hwtune_guard_breaker_open", "1 when the circuit breaker kept a hold from "
                                    "running", labels=["node"])
        breaker.add_metric([node], 1.0 if breaker_open else 0.0)
        self._families = (xid, actions, fault, state, breaker)

    def collect(self) -> Iterator[Any]:
        yield from self._families


def _counter(family: Any, store: Store, meta: str, node: str) -> Any:
    """A counter family filled from the store's running totals `meta` (keys "node|label|label")."""
    for key, n in sorted(_family(store, meta).items()):
        parts = key.split("|")
        if len(parts) == 3 and parts[0] == node:
            family.add_metric(parts, n)
    return family


def _family(store: Store, name: str) -> dict[str, int]:
    data = store.get_meta(name, {})
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int) and v >= 0}


class Metrics:
    """A registry with guard's collector; written to a textfile and/or served over HTTP."""

    def __init__(self, textfile: str | None = None, listen: tuple[str, int] | None = None) -> None:
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry()
        self.collector = GuardCollector()
        self.registry.register(self.collector)
        self.textfile = textfile
        if listen is not None:
            from prometheus_client import start_http_server

            start_http_server(listen[1], addr=listen[0], registry=self.registry)

    def publish(self, store: Store, node: str, breaker_open: bool) -> None:
        self.collector.update(store, node, breaker_open)
        if self.textfile:
            # hwtune's one writer, not prometheus-client's: that one opens a temporary name that
            # stays the same for a running service (NAME.PID.THREAD) with a plain open(), which a
            # user who can write the collector's folder can plant a link under (atomic.write_at:
            # O_EXCL|O_NOFOLLOW, a random name, renamed in the held folder)
            from prometheus_client import generate_latest

            atomic.write_file(self.textfile, generate_latest(self.registry), 0o644)


def parse_listen(text: str) -> tuple[str, int]:
    """"127.0.0.1:9101" -> ("127.0.0.1", 9101); a ValueError naming what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)
