"""The actuators' common ground: their protocol, errors and names.

Actuators: how a decision reaches the scheduler (Slurm, Kubernetes) or the GPU (reset, reboot).

A scheduler actuator holds a node out and lets it back: `run(verb, node,
reason)` for its verbs, `in_effect(verb, node)` to tell whether a verb's
effect is already there (a crashed run's journaled action is then marked
done, never run twice), `fleet()` for the circuit breaker: (nodes the
scheduler knows, nodes hwtune holds out). A node is let back only when
hwtune's own hold is on it (its reason or taint carries the hwtune prefix):
a node an operator drained stays drained.
"""

from __future__ import annotations

import re
from typing import Protocol

from hwtune.errors import HwtuneError

PREFIX = "hwtune:"
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
HOLD_VERBS = ("drain", "cordon", "taint")
RELEASE = "resume"


class ActuatorError(HwtuneError):
    """The scheduler refused or could not be asked; the action is journaled as failed."""

    exit_code = 1


class Actuator(Protocol):
    name: str
    hold_verbs: tuple[str, ...]  # what holding a node out is, in this scheduler's words

    def run(self, verb: str, node: str, reason: str) -> str: ...

    def in_effect(self, verb: str, node: str) -> bool | None: ...

    def fleet(self) -> tuple[int, int] | None: ...


class NoActuator:
    """`--actuator none`: decide and report; nothing to execute."""

    name = "none"
    hold_verbs: tuple[str, ...] = ("drain",)

    def run(self, verb: str, node: str, reason: str) -> str:
        return "not executed: --actuator none decides and reports only"

    def in_effect(self, verb: str, node: str) -> bool | None:
        return None

    def fleet(self) -> tuple[int, int] | None:
        return None


def check_node_name(node: str) -> str:
    if not NODE_NAME.fullmatch(node):
        raise HwtuneError(f"node name {node!r}: not a host name (letters, digits, '.', '_', '-')")
    return node


def reason_text(reason: str) -> str:
    """The hold's reason as the scheduler keeps it: the prefix, printable ASCII, short."""
    clean = "".join(c if " " <= c <= "~" and c not in "\"'\\" else "?" for c in reason)
    return (clean if clean.startswith(PREFIX) else f"{PREFIX} {clean}")[:200]
