"""Tunables: one declaration per [tune] key, one module each (or one per pair the kernel couples).

A declaration says what the profile key is (its TOML type and the values apply
would refuse, judged when the profile loads), which kernel files it may write
(the writer's allow-list is built from them), how it is planned on a host
(read, resolve the target, OK or CHANGE, or SKIP with the reason), and which
check verifies it with which parameters. That last link is what makes `check
--profile P` judge a host by the values `apply --profile P` sets, as
`tuned-adm verify` does.

The modules of this package are found by listing it, like the checks. This
package is imported by `check` and by profile loading, so a declaration module
imports only light things at the top; what planning needs (the writer, the
Step model) it imports inside its plan function.
"""

import importlib
import os
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple

from hwtune.factids import FactId

if TYPE_CHECKING:
    from hwtune.apply.model import Item
    from hwtune.facts import FactsBuilder
    from hwtune.host import Host


class PlanContext(NamedTuple):
    mode: str  # runtime | persistent
    nvml: Any = None  # the NVML adapter, for the GPU tunables


class Tunable(NamedTuple):
    key: str  # the [tune] key ("cpu.governor"; "sysctl" is the table of sysctls)
    type: type  # its TOML type
    order: int  # plan order: kernel values first, GPU and boot-time settings after
    plan: Callable[["Host", Mapping[str, Any], PlanContext], "list[Item]"] | None
    # [tune] value -> {check id: parameters}: the checks that verify it and what they expect
    verifies: Callable[[Any], Mapping[str, Mapping[str, Any]]] = lambda value: {}
    # [tune] value -> why apply would refuse it on any host, or None
    refuse: Callable[[Any], str | None] = lambda value: None
    # (check parameter, value a profile's [checks] states, value [tune] gives it) -> do they agree?
    agrees: Callable[[str, Any, Any], bool] = lambda param, stated, derived: stated == derived
    writes: tuple[str, ...] = ()  # regexes of the kernel files (host paths) it may write
    reader: str = "word"  # how those files are read back (apply/readers.py READERS)
    # a value those files may hold as apply writes it: what rollback accepts from a journal
    writable: Callable[[str], bool] = lambda value: False
    # another key whose plan also plans this one (the kernel couples them); None: planned by `plan`
    planned_with: str | None = None
    # the facts its current values are observed as, and how a probe reads them (host -> fact id ->
    # (value, reason when None)) with the readers apply plans with; () where an area probe fills them
    facts: tuple[FactId, ...] = ()
    observe: Callable[["Host"], Mapping[str, tuple[Any, str]]] | None = None


@lru_cache(maxsize=1)
def registry() -> dict[str, Tunable]:
    found: list[Tunable] = []
    for name in sorted(f[:-3] for f in os.listdir(__path__[0]) if f.endswith(".py") and not f.startswith("_")):
        module = importlib.import_module(f"{__name__}.{name}")
        found.extend(getattr(module, "TUNABLES", ()))
    keys = [t.key for t in found]
    if len(set(keys)) != len(keys):
        raise RuntimeError(f"a tunable key is declared twice: {sorted(k for k in keys if keys.count(k) > 1)}")
    return {t.key: t for t in sorted(found, key=lambda t: (t.order, t.key))}


def for_path(abspath: str) -> Tunable | None:
    """The declaration that may write this kernel file (None: hwtune never writes it)."""
    for tunable in registry().values():
        if any(re.fullmatch(p, abspath) for p in tunable.writes):
            return tunable
    return None


def declared_facts() -> tuple[FactId, ...]:
    """The facts tunable declarations add to the catalogue (hwtune/factids.py)."""
    return tuple(f for t in registry().values() for f in t.facts)


def probe_tunables(host: "Host", b: "FactsBuilder") -> None:
    """Fill the facts the declarations observe themselves."""
    for tunable in registry().values():
        if tunable.observe is not None:
            for fact_id, (value, why) in tunable.observe(host).items():
                b.set(fact_id, value, why)


def check_params(tune: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check id -> the parameters the profile's [tune] values give it."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in tune.items():
        tunable = registry().get(key)
        if tunable is not None:
            for check_id, params in tunable.verifies(value).items():
                out.setdefault(check_id, {}).update(params)
    return out
