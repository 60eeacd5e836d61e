"""GPU reset and reboot: the remedies that run on the host itself, never for a snapshot.

A reset runs only when the node is held out (drained or cordoned) and no
process holds the GPU, and is verified after: the GPU answers and asks for
no further reset. A reboot runs only when the policy allows it, at most
`reboots_per_day` (a counter kept in the history, so a reboot loop stops).
"""

from __future__ import annotations

from typing import Protocol

from hwtune.guard.actuators import ActuatorError
from hwtune.run import run_live

TIMEOUT_S = 60.0


class Remedies(Protocol):
    def busy(self, bus: str) -> bool | None: ...  # a process holds the GPU (None: cannot tell)

    def reset(self, bus: str) -> str: ...

    def verify(self, bus: str) -> bool: ...  # the GPU answers and asks for no reset

    def reboot(self) -> str: ...


class NvidiaRemedies:
    """nvidia-smi and systemctl, argv lists with timeouts."""

    def busy(self, bus: str) -> bool | None:
        result = run_live(("nvidia-smi", "--query-compute-apps=gpu_bus_id", "--format=csv,noheader"), TIMEOUT_S)
        if not result.ok:
            return None
        return any(bus.split(":", 1)[-1].lower() in line.lower() for line in result.stdout.splitlines())

    def reset(self, bus: str) -> str:
        result = run_live(("nvidia-smi", "-r", "-i", bus), TIMEOUT_S)
        if not result.ok:
            raise ActuatorError(f"nvidia-smi -r -i {bus}: {result.error}")
        return "reset"

    def verify(self, bus: str) -> bool:
        result = run_live(("nvidia-smi", "--query-gpu=pci.bus_id,reset_status.reset_required",
                           "--format=csv,noheader", "-i", bus), TIMEOUT_S)
        return result.ok and "yes" not in result.stdout.lower()

    def reboot(self) -> str:
        result = run_live(("systemctl", "reboot"), TIMEOUT_S)
        if not result.ok:
            raise ActuatorError(f"systemctl reboot: {result.error}")
        return "reboot requested"
