"""Actuators: how a decision reaches the scheduler (Slurm, Kubernetes) or the GPU (reset, reboot).
Their common ground is `base`; `make` picks one by name."""

from __future__ import annotations

from hwtune.guard.actuators.base import (
    HOLD_VERBS,
    NODE_NAME,
    PREFIX,
    RELEASE,
    Actuator,
    ActuatorError,
    NoActuator,
    check_node_name,
    reason_text,
)
from hwtune.guard.actuators.kube import Kubernetes
from hwtune.guard.actuators.slurm import Slurm

__all__ = ["HOLD_VERBS", "NODE_NAME", "PREFIX", "RELEASE", "Actuator", "ActuatorError", "NoActuator",
           "check_node_name", "make", "reason_text"]


def make(name: str) -> Actuator:
    if name == "slurm":
        return Slurm()
    if name == "kubernetes":
        return Kubernetes()
    return NoActuator()
