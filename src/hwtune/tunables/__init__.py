"""Tunables: one declaration per [tune] key, one module each (or one per pair the kernel couples).

A declaration (base.Tunable) says what the profile key is (its TOML type and
the values apply would refuse, judged when the profile loads), which kernel
files it may write (the writer's allow-list is built from them) and how they
read back, how it is planned on a host (read, resolve the target, or SKIP with
the reason: plain Targets that apply/ turns into plan items and journal
steps), the facts its current value is observed as, and which check parameters
verify it. That last link is what makes `check --profile P` judge a host by
the values `apply --profile P` sets, as `tuned-adm verify` does.

The modules of this package are found by listing it, like the checks. The
registry is checked whole when it loads: a `verifies` naming a check
parameter that does not exist, a fact the catalogue lacks, or a reader that
is not one is a programming error, raised before anything is planned.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from hwtune.checks.registry import REGISTRY
from hwtune.factids import known
from hwtune.probe.values import OBSERVED, PARSERS
from hwtune.tunables.base import Tunable, Verify

_MACHINERY = {"base"}


def _declared() -> list[Tunable]:
    found: list[Tunable] = []
    names = sorted(f[:-3] for f in os.listdir(__path__[0]) if f.endswith(".py") and not f.startswith("_"))
    for name in names:
        if name not in _MACHINERY:
            found.extend(getattr(importlib.import_module(f"{__name__}.{name}"), "TUNABLES", ()))
    return found


@lru_cache(maxsize=1)
def registry() -> dict[str, Tunable]:
    found = _declared()
    validate(found, {check_id: spec.defaults for check_id, spec in REGISTRY.items()})
    return {t.key: t for t in sorted(found, key=lambda t: (t.order, t.key))}


def validate(tunables: Iterable[Tunable], check_params: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse declarations that cannot hold their promise (RuntimeError naming the tunable).
    `check_params`: check id -> its parameters with their defaults."""
    tunables = list(tunables)
    keys = [t.key for t in tunables]
    if len(set(keys)) != len(keys):
        raise RuntimeError(f"a tunable key is declared twice: {sorted(k for k in keys if keys.count(k) > 1)}")
    for t in tunables:
        for why in _problems(t, set(keys), check_params, known, PARSERS):
            raise RuntimeError(f"tunable {t.key}: {why}")


def _problems(t: Tunable, keys: set[str], check_params: Mapping[str, Mapping[str, Any]],
              known_fact: Callable[[str], bool], parsers: Mapping[str, Any]) -> Iterator[str]:
    for v in t.verifies:
        if v.check not in check_params:
            yield f"verifies check {v.check!r}, which is not a registered check"
        elif v.param is not None and v.param not in check_params[v.check]:
            yield (f"verifies parameter {v.param!r} of check {v.check!r}, which has no such parameter "
                   f"(it has: {', '.join(sorted(check_params[v.check])) or 'none'}): check would judge "
                   "by its own default what apply set")
        if (v.entry is not None) != (t.type is dict):
            yield f"verifies {v.check!r} with entry {v.entry!r}: only a table tunable names an entry"
    for fact_id in t.facts:
        if not known_fact(fact_id):
            yield f"observed as fact {fact_id!r}, which is not in the catalogue (hwtune/factids.py)"
        elif fact_id in OBSERVED:  # the probe reads it: the file this tunable writes, as it reads it
            path, reader = OBSERVED[fact_id]
            if not any(re.fullmatch(p, path) for p in t.writes) or reader != t.reader:
                yield (f"observed as fact {fact_id!r}, which the probe reads from {path} with reader "
                       f"{reader!r}: not a file it writes, or not its reader {t.reader!r}")
    if t.writes and t.reader not in parsers:
        yield f"reader {t.reader!r} is not one of {', '.join(sorted(parsers))}"
    if (t.plan is None) == (t.planned_with is None):
        yield "needs either its own plan or planned_with, not both or neither"
    if t.planned_with is not None and t.planned_with not in keys:
        yield f"planned with {t.planned_with!r}, which is not a tunable"
    if not isinstance(t.example, t.type) or t.refuse(t.example) is not None:
        yield f"example {t.example!r} is not a value it accepts"


def for_path(abspath: str) -> Tunable | None:
    """The declaration that may write this kernel file (None: hwtune never writes it)."""
    for tunable in registry().values():
        if any(re.fullmatch(p, abspath) for p in tunable.writes):
            return tunable
    return None


def verified(tunable: Tunable, value: Any) -> Iterator[tuple[Verify, tuple[str, ...], Any, Any]]:
    """(verify, the [tune] keys it reads, their value, the check parameter's value) for each check
    parameter a [tune] value sets."""
    for v in tunable.verifies:
        keys: tuple[str, ...]
        if v.entry is not None:
            if not isinstance(value, Mapping) or v.entry not in value:
                continue
            keys, given = (tunable.key, v.entry), value[v.entry]
        else:
            keys, given = (tunable.key,), value
        derived = v.value(given)
        if derived is not None:
            yield v, keys, given, derived


def check_params(tune: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check id -> the parameters the profile's [tune] values give it."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in tune.items():
        tunable = registry().get(key)
        if tunable is not None:
            for v, _keys, _given, derived in verified(tunable, value):
                params = out.setdefault(v.check, {})
                if v.param is not None:
                    params[v.param] = derived
    return out
