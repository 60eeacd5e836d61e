"""GPU reset and reboot: the remedies that run on the host itself, never for a snapshot.

A reset runs only when the node is held out (drained or cordoned) and no
process holds the GPU, and is verified after: the GPU answers and asks for
no further reset. A reboot runs only when the policy allows it, at most
`reboots_per_day` (a counter kept in the history, so a reboot loop stops).
"""

from __future__ import annotations

from typing import Protocol

from hwtune import pciaddr
from hwtune.guard.actuators.base import ActuatorError
from hwtune.probe.gpuhealth import is_not_reported
from hwtune.run import run_live

TIMEOUT_S = 60.0


class Remedies(Protocol):
    def busy(self, bus: str) -> bool | None: ...  # a process holds the GPU (None: cannot tell)

    def reset(self, bus: str) -> str: ...

    def verify(self, bus: str) -> bool: ...  # the GPU answers and asks for no reset

    def reboot(self) -> str: ...


# What tells that a GPU needs no further recovery, newest first: the driver's recovery action (R570
# on; "None" when healthy), then the reset flag older drivers have. A driver that knows neither
# field answers 'Field "..." is not a valid field to query.' (exit 2): the next is asked, and at
# the end only whether the GPU answers. "[N/A]" or "[Not Supported]" (probe/gpuhealth.is_not_reported):
# the GPU answered with no value for that field, so the next one is asked too.
RECOVERY_FIELDS = (("gpu_recovery_action", ("none",)), ("reset_status.reset_required", ("no",)))
def field_of(bus: str, csv_text: str) -> str | None:
    """The second field of the line for this GPU in `--query-gpu=pci.bus_id,FIELD` output ("" for none)."""
    want = pciaddr.parse(bus)
    for line in csv_text.splitlines()[:1024]:
        first, _, rest = line.partition(",")
        if want is not None and pciaddr.parse(first) == want:
            return rest.strip().lower()
    return None


def _query(bus: str, fields: str):
    return run_live(("nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader", "-i", bus), TIMEOUT_S)


class NvidiaRemedies:
    """nvidia-smi and systemctl, argv lists with timeouts."""

    def busy(self, bus: str) -> bool | None:
        result = run_live(("nvidia-smi", "--query-compute-apps=gpu_bus_id", "--format=csv,noheader"), TIMEOUT_S)
        want = pciaddr.parse(bus)
        if not result.ok or want is None:
            return None  # cannot tell (an unparseable address would match every unparseable line)
        return any(pciaddr.parse(line) == want for line in result.stdout.splitlines()[:4096])

    def reset(self, bus: str) -> str:
        result = run_live(("nvidia-smi", "-r", "-i", bus), TIMEOUT_S)
        if not result.ok:
            raise ActuatorError(f"nvidia-smi -r -i {bus}: {result.error}")
        return "reset"

    def verify(self, bus: str) -> bool:
        """The GPU answers, and the driver asks for no further recovery."""
        for name, fine in RECOVERY_FIELDS:
            result = _query(bus, f"pci.bus_id,{name}")
            if "not a valid field" in (result.stdout + result.stderr).lower():
                continue  # a driver that does not know this field: ask the next
            value = field_of(bus, result.stdout) if result.ok else None
            if value is not None and is_not_reported(value):
                continue  # the GPU answered with no value for it: the next field may say
            return value is not None and value in fine
        result = _query(bus, "pci.bus_id")
        return result.ok and field_of(bus, result.stdout) is not None

    def reboot(self) -> str:
        result = run_live(("systemctl", "reboot"), TIMEOUT_S)
        if not result.ok:
            raise ActuatorError(f"systemctl reboot: {result.error}")
        return "reboot requested"
