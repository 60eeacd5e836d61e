"""Slurm: drain a node with a structured reason, resume it; read the partition for the breaker.

Through `scontrol` and `sinfo` (slurm-client), with the cluster's own
configuration ($SLURM_CONF or /etc/slurm/slurm.conf), each call timed out
through hwtune.run. The reason reads "hwtune: gpu.xid 79 GPU 0000:3b:00.0";
a node is resumed only while its reason carries that prefix.
"""

from __future__ import annotations

from hwtune.guard.actuators.base import PREFIX, ActuatorError, check_node_name, reason_text
from hwtune.run import CmdResult, run_live

TIMEOUT_S = 15.0
DRAINED = ("drain", "drained", "draining", "drng")


def _call(argv: list[str]) -> CmdResult:
    result = run_live(tuple(argv), TIMEOUT_S)
    if not result.ok:
        raise ActuatorError(f"slurm: {' '.join(argv[:3])}: {result.error}")
    return result


def parse_nodes(text: str) -> dict[str, tuple[str, str]]:
    """`sinfo -h -N -o %N|%T|%E` -> {node: (state, reason)}; a node listed once per partition counts once."""
    out: dict[str, tuple[str, str]] = {}
    for line in text.splitlines()[:100_000]:
        parts = line.split("|", 2)
        if len(parts) == 3 and parts[0].strip():
            out[parts[0].strip()] = (parts[1].strip().lower().rstrip("*~#!%$@^-"), parts[2].strip())
    return out


class Slurm:
    name = "slurm"
    hold_verbs: tuple[str, ...] = ("drain",)

    def nodes(self) -> dict[str, tuple[str, str]]:
        return parse_nodes(_call(["sinfo", "-h", "-N", "-o", "%N|%T|%E"]).stdout)

    def node(self, node: str) -> tuple[str, str]:
        found = parse_nodes(_call(["sinfo", "-h", "-N", "-n", check_node_name(node), "-o", "%N|%T|%E"]).stdout)
        if node not in found:
            raise ActuatorError(f"slurm: node {node!r} is not in the cluster")
        return found[node]

    def run(self, verb: str, node: str, reason: str) -> str:
        check_node_name(node)
        if verb == "drain":
            state, why = self.node(node)
            if state in DRAINED and not why.startswith(PREFIX):
                # an operator's drain: its reason is theirs, and only they resume it
                return f"left as it is: already {state} by someone else ({why!r})"
            text = reason_text(reason)
            _call(["scontrol", "update", f"NodeName={node}", "State=DRAIN", f"Reason={text}"])
            return f"drained: {text}"
        if verb == "resume":
            state, why = self.node(node)
            if not why.startswith(PREFIX):
                return f"left as it is: {state}, reason {why!r} is not hwtune's"
            if state not in DRAINED:
                return f"nothing to resume: {state}"
            _call(["scontrol", "update", f"NodeName={node}", "State=RESUME"])
            return "resumed"
        raise ActuatorError(f"slurm cannot {verb}")

    def in_effect(self, verb: str, node: str) -> bool | None:
        state, why = self.node(node)
        held = state in DRAINED and why.startswith(PREFIX)
        return held if verb == "drain" else not held

    def fleet(self) -> tuple[int, int] | None:
        nodes = self.nodes()
        return len(nodes), sum(1 for s, why in nodes.values() if s in DRAINED and why.startswith(PREFIX))
