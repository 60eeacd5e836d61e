"""Checks: pure functions of (Facts, profile parameters), registered by id.

Importing this package registers every check: each module of this package
other than the machinery (registry, text) is a checks module, found here
without being listed. Reports list the checks by area (registry.AREAS), then
module name, then the order they are defined in.
"""

from __future__ import annotations

import importlib
import os

from hwtune.checks.registry import AREAS, REGISTRY

_MACHINERY = {"registry", "text"}


def _register_all() -> None:
    # a listing of the folder (pkgutil would cost more start-up time than the rest of this)
    for name in sorted(f[:-3] for f in os.listdir(__path__[0]) if f.endswith(".py") and not f.startswith("_")):
        if name not in _MACHINERY:
            importlib.import_module(f"{__name__}.{name}")
    ordered = sorted(REGISTRY.values(), key=lambda s: (AREAS.index(s.area), s.fn.__module__))
    REGISTRY.clear()  # stable sort: within one module, the order of definition stays
    REGISTRY.update((s.id, s) for s in ordered)


_register_all()
