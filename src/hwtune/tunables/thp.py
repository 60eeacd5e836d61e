"""mm.thp_enabled and mm.thp_defrag: the transparent hugepage modes (one declaration, two files)."""

from __future__ import annotations

import re
from typing import Any, Mapping

from hwtune.apply.tunables import PlanContext, Tunable
from hwtune.errors import ParseError
from hwtune.factids import FactId
from hwtune.host import Host
from hwtune.probe.memory import THP_DIR, parse_bracketed, parse_choices

# The modes the kernel knows (Documentation/admin-guide/mm/transhuge.rst); a host lists its own.
# what a THP file may hold (and rollback restore): one mode word (within_size on shmem, ...)
MODE_WORD = re.compile(r"[a-z_+-]{1,32}")
MODES = {"enabled": ("always", "madvise", "never"),
         "defrag": ("always", "defer", "defer+madvise", "madvise", "never")}


def _planner(key: str, leaf: str):
    def plan(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list:
        from hwtune.apply.model import INVALID, SKIP, Item
        from hwtune.apply.values import value_item

        target, mode = tune.get(key), ctx.mode
        if target is None:
            return []
        path = f"{THP_DIR}/{leaf}"
        raw = host.read(path, record=False)
        if raw is None:
            return [Item(key, "", None, target, SKIP, mode=mode, reason="transparent hugepages are not available "
                         f"on this host ({path} does not exist)")]
        allowed = parse_choices(raw)
        try:
            current = parse_bracketed(raw)
        except ParseError as exc:
            return [Item(key, "", None, target, SKIP, mode=mode, reason=f"{path}: {exc.message}")]
        if target not in allowed:
            return [Item(key, "", current, target, INVALID, mode=mode,
                         reason=f"value not available: {target} is not one of {', '.join(allowed)}")]
        return [value_item(host, key, "", path, target, current=current, mode=mode)]
    return plan


def _observer(leaf: str):
    def observe(host: Host) -> dict[str, tuple[str | None, str]]:
        path = f"{THP_DIR}/{leaf}"
        raw = host.read_line(path)
        if raw is None:
            return {f"mm.thp_{leaf}": (None, host.absent(path))}
        try:
            return {f"mm.thp_{leaf}": (parse_bracketed(raw), "")}
        except ParseError as exc:
            return {f"mm.thp_{leaf}": (None, f"{path}: {exc.message}")}
    return observe


def _refuse(leaf: str):
    def refuse(value: str) -> str | None:
        if value not in MODES[leaf]:
            return f"'tune.mm.thp_{leaf}' = {value!r} is not a THP {leaf} mode ({', '.join(MODES[leaf])})"
        return None
    return refuse


TUNABLES = (
    Tunable("mm.thp_enabled", str, order=30, plan=_planner("mm.thp_enabled", "enabled"),
            verifies=lambda value: {"mm.thp": {"allowed": [value], "target": value}},
            # a [checks] list of allowed modes agrees when it holds the mode apply sets
            agrees=lambda param, stated, derived: set(derived) <= set(stated) if param == "allowed"
            else stated == derived,
            refuse=_refuse("enabled"), writes=(f"{THP_DIR}/enabled",),
            reader="bracket", writable=lambda v: bool(MODE_WORD.fullmatch(v)),
            facts=(FactId("mm.thp_enabled", "str", "", "transparent huge pages mode (always, madvise, never)"),),
            observe=_observer("enabled")),
    Tunable("mm.thp_defrag", str, order=30, plan=_planner("mm.thp_defrag", "defrag"),
            refuse=_refuse("defrag"), writes=(f"{THP_DIR}/defrag",),
            reader="bracket", writable=lambda v: bool(MODE_WORD.fullmatch(v)),
            facts=(FactId("mm.thp_defrag", "str", "", "transparent huge pages defrag mode"),),
            observe=_observer("defrag")),
)
