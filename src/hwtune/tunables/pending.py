"""nvidia.ecc, nvidia.mig and kernel.cmdline: settings that take effect only after a GPU reset or a
reboot, so apply lists them with the exact command and never applies them (apply/pending.py)."""

from __future__ import annotations

from typing import Any, Mapping

from hwtune.apply.tunables import PlanContext, Tunable
from hwtune.host import Host

# kernel arguments: "name" or "name=value", nothing a shell or GRUB would read as more
CMDLINE_ARG = r"[A-Za-z0-9_.-]+(=[A-Za-z0-9_.,:-]+)?"


def plan_gpu_modes(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list:
    from hwtune.apply.pending import GPU_MODES, plan_gpu_modes as plan_modes

    wanted = {k: bool(tune[k]) for k in GPU_MODES if tune.get(k) is not None}
    return plan_modes(host, wanted) if wanted else []


def plan_cmdline(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list:
    from hwtune.apply.pending import plan_cmdline as plan_args

    return plan_args(host, tune["kernel.cmdline"]) if tune.get("kernel.cmdline") is not None else []


def refuse_cmdline(value: list) -> str | None:
    import re

    bad = [a for a in value if not isinstance(a, str) or not re.fullmatch(CMDLINE_ARG, a)]
    if bad:
        return (f"'tune.kernel.cmdline' must be a list of kernel arguments like 'name' or 'name=value', "
                f"not {bad[0]!r}")
    return None


TUNABLES = (
    Tunable("nvidia.ecc", bool, order=60, plan=plan_gpu_modes),
    Tunable("nvidia.mig", bool, order=60, plan=None, planned_with="nvidia.ecc"),
    Tunable("kernel.cmdline", list, order=70, plan=plan_cmdline, refuse=refuse_cmdline),
)
