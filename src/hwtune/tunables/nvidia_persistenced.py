"""nvidia.persistenced: keep GPU state loaded, with nvidia-persistenced (systemd) or per-GPU persistence mode (NVML)."""

from __future__ import annotations

from typing import Any, Mapping

from hwtune.apply.tunables import PlanContext, Tunable
from hwtune.host import Host


def plan(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list:
    from hwtune.apply.nvidia import plan_persistenced

    return plan_persistenced(host, bool(tune.get("nvidia.persistenced")), ctx.nvml)


# The check wants the daemon running (or persistence on every GPU): that is what `true` sets;
# `false` leaves the daemon as it is, and the check as the profile's [checks] say.
TUNABLES = (
    Tunable("nvidia.persistenced", bool, order=50, plan=plan,
            verifies=lambda value: {"nvidia.persistenced": {}} if value else {}),
)
