"""nvidia.persistenced: keep GPU state loaded, with nvidia-persistenced (systemd) or per-GPU persistence mode (NVML).

systemctl is only ever run on the live system: under --root the tunable is
skipped (a mounted image is enabled with `systemctl --root=DIR enable`, which
hwtune leaves to the user).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwtune.host import Host
from hwtune.tunables.base import NVML, SYSTEMD, Nvml, PlanContext, Target, Tunable, Verify, skip, write

UNIT = "nvidia-persistenced.service"
SYSTEMCTL_TIMEOUT_S = 30.0
INSTALL_HINT = ("install it with the driver: `apt install nvidia-persistenced` (Debian; on Ubuntu it comes with "
                "nvidia-compute-utils-<branch>) or `dnf install nvidia-persistenced` (RHEL, NVIDIA's CUDA "
                "repository), then run hwtune apply again")
# is-enabled answers that `systemctl enable` cannot (or need not) change
KEEP_ENABLED = ("enabled", "enabled-runtime", "static", "indirect", "generated", "alias")
KEY = "nvidia.persistenced"


def read_systemd(host: Host, unit: str) -> str | None:
    """`enabled,active` and the like; None when systemctl gives no answer."""
    enabled = host.run(["systemctl", "is-enabled", unit], SYSTEMCTL_TIMEOUT_S)
    active = host.run(["systemctl", "is-active", unit], SYSTEMCTL_TIMEOUT_S)
    e, a = enabled.stdout.strip(), active.stdout.strip()
    if not e or not a:
        return None
    # a unit on its way up counts as active; failed, dead or on its way down as inactive
    return f"{e},{'active' if a in ('active', 'activating', 'reloading') else 'inactive'}"


def split_state(state: str | None) -> tuple[str, str]:
    enabled, _, active = (state or ",").partition(",")
    return enabled, active


def target_state(current: str) -> str:
    enabled, _ = split_state(current)
    return f"{enabled if enabled in KEEP_ENABLED else 'enabled'},active"


def plan(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list[Target]:
    return plan_persistenced(host, bool(tune.get(KEY)), ctx.nvml)


def plan_persistenced(host: Host, want: bool, nvml: Nvml | None) -> list[Target]:
    if not want:
        return []
    if not host.live:
        return [skip(KEY, UNIT, "enabled,active", mode="persistent",
                     reason="not on the live system: systemctl is never run under --root "
                            f"(for an image: systemctl --root=DIR enable {UNIT})")]
    if not host.exists("/proc/driver/nvidia/version"):
        return [skip(KEY, UNIT, "enabled,active", mode="persistent", reason="no NVIDIA driver is loaded on this host")]
    if host.is_dir("/run/systemd/system"):
        load = host.run(["systemctl", "show", "-p", "LoadState", "--value", UNIT], SYSTEMCTL_TIMEOUT_S)
        if load.stdout.strip() == "loaded":
            return [plan_unit(host)]
        why = f"the {UNIT} unit is not installed: {INSTALL_HINT}"
    else:
        why = f"systemd is not running here, so {UNIT} cannot be used"
    return plan_nvml(why, nvml)


def plan_unit(host: Host) -> Target:
    current = read_systemd(host, UNIT)
    if current is None:
        return skip(KEY, UNIT, "enabled,active", mode="persistent",
                    reason="systemctl gave no answer for the unit's state")
    return write(KEY, UNIT, UNIT, target_state(current), current=current, mode="persistent", kind=SYSTEMD)


def plan_nvml(why: str, nvml: Nvml | None) -> list[Target]:
    if nvml is None or not nvml.available():
        reason = getattr(nvml, "error", None) or "NVML is not available"
        return [skip(KEY, UNIT, "enabled,active", mode="persistent", reason=f"{why}; {reason}")]
    targets = []
    for bus_id in nvml.bus_ids():
        where = f"GPU {bus_id}"
        current = nvml.persistence(bus_id)
        if current is None:
            targets.append(skip(KEY, where, "Enabled", reason="NVML cannot read this GPU's persistence mode"))
        else:
            targets.append(write(KEY, where, bus_id, "Enabled", current=current, kind=NVML,
                                 reason=f"per-GPU persistence mode through NVML, because {why}"))
    return targets


# The check wants the daemon running (or persistence on every GPU): that is what `true` sets;
# `false` leaves the daemon as it is, and the check as the profile's [checks] say.
TUNABLES = (
    Tunable(KEY, bool, order=50, plan=plan, example=True,
            verifies=(Verify("nvidia.persistenced", None, lambda value: True if value else None),),
            facts=("nvidia.persistenced",)),
)
