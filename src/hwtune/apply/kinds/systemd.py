"""nvidia-persistenced through systemd, or per-GPU persistence mode through NVML.

systemctl is only ever run on the live system: under --root the tunable is
skipped (a mounted image is enabled with `systemctl --root=DIR enable`, which
hwtune leaves to the user).
"""

from __future__ import annotations

from hwtune.apply.model import CHANGE, NVML, OK, SKIP, SYSTEMD, Item, Step
from hwtune.apply.readers import SYSTEMCTL_TIMEOUT_S, read_systemd
from hwtune.host import Host

UNIT = "nvidia-persistenced.service"
INSTALL_HINT = ("install it with the driver: `apt install nvidia-persistenced` (Debian; on Ubuntu it comes with "
                "nvidia-compute-utils-<branch>) or `dnf install nvidia-persistenced` (RHEL, NVIDIA's CUDA "
                "repository), then run hwtune apply again")
# is-enabled answers that `systemctl enable` cannot (or need not) change
KEEP_ENABLED = ("enabled", "enabled-runtime", "static", "indirect", "generated", "alias")


def split_state(state: str | None) -> tuple[str, str]:
    enabled, _, active = (state or ",").partition(",")
    return enabled, active


def target_state(current: str) -> str:
    enabled, _ = split_state(current)
    return f"{enabled if enabled in KEEP_ENABLED else 'enabled'},active"


def systemd_commands(unit: str, current: str | None, target: str | None) -> list[list[str]]:
    """The systemctl calls that take the unit from `current` to `target` (both "enabled,active" style)."""
    cur_e, cur_a = split_state(current)
    tgt_e, tgt_a = split_state(target)
    enable = tgt_e == "enabled" and cur_e != "enabled"
    start = tgt_a == "active" and cur_a != "active"
    cmds = []
    if enable and start:
        return [["systemctl", "enable", "--now", unit]]
    if enable:
        cmds.append(["systemctl", "enable", unit])
    if start:
        cmds.append(["systemctl", "start", unit])
    if tgt_a != "active" and cur_a == "active":
        cmds.append(["systemctl", "stop", unit])
    if tgt_e not in KEEP_ENABLED and cur_e == "enabled":
        cmds.append(["systemctl", "disable", unit])
    return cmds


def plan_persistenced(host: Host, want: bool, nvml) -> list[Item]:
    key = "nvidia.persistenced"
    if not want:
        return []
    if not host.live:
        return [Item(key, UNIT, None, "enabled,active", SKIP, mode="persistent",
                     reason="not on the live system: systemctl is never run under --root "
                            f"(for an image: systemctl --root=DIR enable {UNIT})")]
    if not host.exists("/proc/driver/nvidia/version"):
        return [Item(key, UNIT, None, "enabled,active", SKIP, mode="persistent",
                     reason="no NVIDIA driver is loaded on this host")]
    if host.is_dir("/run/systemd/system"):
        load = host.run(["systemctl", "show", "-p", "LoadState", "--value", UNIT], SYSTEMCTL_TIMEOUT_S)
        if load.stdout.strip() == "loaded":
            return [plan_unit(host, key)]
        why = f"the {UNIT} unit is not installed: {INSTALL_HINT}"
    else:
        why = f"systemd is not running here, so {UNIT} cannot be used"
    return plan_nvml(key, why, nvml)


def plan_unit(host: Host, key: str) -> Item:
    current = read_systemd(host, UNIT)
    if current is None:
        return Item(key, UNIT, None, "enabled,active", SKIP, mode="persistent",
                    reason="systemctl gave no answer for the unit's state")
    target = target_state(current)
    step = Step(key, UNIT, SYSTEMD, UNIT, current, target, "systemd")
    return Item(key, UNIT, current, target, OK if current == target else CHANGE, mode="persistent", step=step)


def plan_nvml(key: str, why: str, nvml) -> list[Item]:
    if nvml is None or not nvml.available():
        reason = getattr(nvml, "error", None) or "NVML is not available"
        return [Item(key, UNIT, None, "enabled,active", SKIP, mode="persistent", reason=f"{why}; {reason}")]
    items = []
    for bus_id in nvml.bus_ids():
        where = f"GPU {bus_id}"
        current = nvml.persistence(bus_id)
        note = f"per-GPU persistence mode through NVML, because {why}"
        if current is None:
            items.append(Item(key, where, None, "Enabled", SKIP, reason="NVML cannot read this GPU's persistence mode"))
        else:
            step = Step(key, where, NVML, bus_id, current, "Enabled", "nvml")
            status = OK if current == "Enabled" else CHANGE
            items.append(Item(key, where, current, "Enabled", status, reason=note, step=step))
    return items
