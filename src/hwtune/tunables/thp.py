"""mm.thp_enabled and mm.thp_defrag: the transparent hugepage modes (one declaration, two files)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from hwtune.errors import ParseError
from hwtune.host import Host
from hwtune.probe.memory import THP_DIR, parse_bracketed, parse_choices
from hwtune.tunables.base import Plan, PlanContext, Target, Tunable, Verify, invalid, skip, write

# The modes the kernel knows (Documentation/admin-guide/mm/transhuge.rst); a host lists its own.
# what a THP file may hold (and rollback restore): one mode word (within_size on shmem, ...)
MODE_WORD = re.compile(r"[a-z_+-]{1,32}")
MODES = {"enabled": ("always", "madvise", "never"),
         "defrag": ("always", "defer", "defer+madvise", "madvise", "never")}


def _planner(key: str, leaf: str) -> Plan:
    def plan(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list[Target]:
        target, mode = tune.get(key), ctx.mode
        if target is None:
            return []
        path = f"{THP_DIR}/{leaf}"
        raw = host.read(path, record=False)
        if raw is None:
            return [skip(key, "", target, mode=mode, reason="transparent hugepages are not available "
                         f"on this host ({path} does not exist)")]
        allowed = parse_choices(raw)
        try:
            current = parse_bracketed(raw)
        except ParseError as exc:
            return [skip(key, "", target, mode=mode, reason=f"{path}: {exc.message}")]
        if target not in allowed:
            return [invalid(key, "", target, current=current, mode=mode,
                            reason=f"value not available: {target} is not one of {', '.join(allowed)}")]
        return [write(key, "", path, target, current=current, mode=mode)]
    return plan


def _refuse(leaf: str) -> Callable[[str], str | None]:
    def refuse(value: str) -> str | None:
        if value not in MODES[leaf]:
            return f"'tune.mm.thp_{leaf}' = {value!r} is not a THP {leaf} mode ({', '.join(MODES[leaf])})"
        return None
    return refuse


def _holds(stated: Any, derived: Any) -> bool:
    """A [checks] list of allowed modes agrees when it holds the mode apply sets."""
    return set(derived) <= set(stated)


TUNABLES = (
    Tunable("mm.thp_enabled", str, order=30, plan=_planner("mm.thp_enabled", "enabled"), example="madvise",
            verifies=(Verify("mm.thp", "allowed", lambda value: [value], _holds), Verify("mm.thp", "target")),
            refuse=_refuse("enabled"), writes=(f"{THP_DIR}/enabled",),
            reader="bracket", writable=lambda v: bool(MODE_WORD.fullmatch(v)), facts=("mm.thp_enabled",)),
    Tunable("mm.thp_defrag", str, order=30, plan=_planner("mm.thp_defrag", "defrag"), example="madvise",
            refuse=_refuse("defrag"), writes=(f"{THP_DIR}/defrag",),
            reader="bracket", writable=lambda v: bool(MODE_WORD.fullmatch(v)), facts=("mm.thp_defrag",)),
)
