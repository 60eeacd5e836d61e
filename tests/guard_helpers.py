"""Recording fakes for guard: a scheduler (Slurm's semantics: drain with a reason, resume), and the
GPU remedies (reset, reboot), each keeping every call it got. The real Slurm is
tests/test_guard_slurm.py's; the real GPU reset cannot exist on these machines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hwtune.guard.actuators import PREFIX, reason_text
from hwtune.guard.core import Context
from hwtune.guard.rules import load_rules
from hwtune.guard.signals import Reading, Signals, log_event
from hwtune.guard.store import Store


@dataclass
class FakeScheduler:
    """One or many nodes; `calls` is every verb run, in order. `path`: kept in a file (for kill -9 runs)."""

    nodes: dict[str, tuple[str, str]] = field(default_factory=lambda: {"n1": ("idle", "")})
    calls: list[tuple[str, str]] = field(default_factory=list)
    path: Path | None = None
    name: str = "slurm"
    hold_verbs: tuple[str, ...] = ("drain",)

    def _load(self) -> None:
        if self.path is not None and self.path.exists():
            doc = json.loads(self.path.read_text())
            self.nodes = {k: tuple(v) for k, v in doc["nodes"].items()}
            self.calls = [tuple(c) for c in doc["calls"]]

    def _save(self) -> None:
        if self.path is not None:
            self.path.write_text(json.dumps({"nodes": self.nodes, "calls": self.calls}))

    def run(self, verb: str, node: str, reason: str) -> str:
        self._load()
        self.calls.append((verb, node))
        state, why = self.nodes[node]
        if verb == "drain" and state == "drained" and not why.startswith(PREFIX):
            self._save()
            return "left as it is"
        if verb == "drain":
            self.nodes[node] = ("drained", reason_text(reason))
        elif verb == "resume" and why.startswith(PREFIX):
            self.nodes[node] = ("idle", "")
        elif verb == "resume":
            self._save()
            return "left as it is"
        self._save()
        return f"{verb} {node}"

    def in_effect(self, verb: str, node: str) -> bool | None:
        self._load()
        state, why = self.nodes[node]
        held = state == "drained" and why.startswith(PREFIX)
        return held if verb == "drain" else not held

    def fleet(self) -> tuple[int, int] | None:
        self._load()
        return len(self.nodes), sum(1 for s, w in self.nodes.values() if s == "drained" and w.startswith(PREFIX))


@dataclass
class FakeRemedies:
    """GPU reset and reboot that record; `needs_reset` says which GPUs a reset fixes."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    busy_gpus: set[str] = field(default_factory=set)
    needs_reset: set[str] = field(default_factory=set)
    reset_fixes: bool = True

    def busy(self, bus: str) -> bool | None:
        return bus in self.busy_gpus

    def reset(self, bus: str) -> str:
        self.calls.append(("reset", bus))
        if self.reset_fixes:
            self.needs_reset.discard(bus)
        return "reset"

    def verify(self, bus: str) -> bool:
        return bus not in self.needs_reset

    def reboot(self) -> str:
        self.calls.append(("reboot", ""))
        return "reboot requested"


GPU = "0000:3b:00.0"


def xid(seq: int, code: int, t: float, boot: str = "b1", bus: str = GPU, detail: str = "") -> object:
    raw = {"kind": "xid", "bus": bus[:-2], "code": str(code), "detail": detail or f"Xid {code}", "time": f"{seq}.0",
           "message": f"NVRM: Xid (PCI:{bus[:-2]}): {code}, {detail or 'x'}"}
    return log_event(boot, f"s{seq}", t, seq, raw)


def signals(events=(), readings=(), gpus=(GPU,), log_readable=True, gpus_readable=True) -> Signals:
    return Signals(tuple(events), tuple(readings), (), tuple(gpus), log_readable, gpus_readable, ())


def reading(kind: str, target: str = GPU) -> Reading:
    return Reading(kind, target, f"GPU {target}: {kind}")


def context(tmp_path: Path, *, act: bool = True, scheduler=None, remedies=None, rules_text: str | None = None,
            node: str = "n1") -> Context:
    from hwtune.guard.rules import RULES

    path = RULES
    if rules_text is not None:
        path = tmp_path / "rules.toml"
        path.write_text(rules_text)
    store = Store(tmp_path / "state")
    return Context(store=store, rules=load_rules(path), actuator=scheduler or FakeScheduler(), node=node, act=act,
                   snapshot=False, remedies=remedies if remedies is not None else FakeRemedies(),
                   sleep=lambda s: None)


def rules_with(**policy) -> str:
    from hwtune.guard.rules import RULES

    text = RULES.read_text()
    for key, value in policy.items():
        import re

        text = re.sub(rf"(?m)^{key} = [^#\n]*", f"{key} = {json.dumps(value)} ", text)
    return text

