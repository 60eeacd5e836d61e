"""Profiles: data layered with `include`, merged by one pure function.

A profile is a TOML file: a description, an optional `include` list, per check
id a table of parameters (`[checks."kernel.version"] min = "5.1"`), and the
tunables `hwtune apply` sets (`[tune]`, `[tune.sysctl]`). The later value wins,
as in tuned's profile merger. Unknown keys are errors at load time, naming
the file and the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwtune.checks.registry import REGISTRY
from hwtune.errors import ConfigError
from hwtune.files import read_toml
from hwtune.tunables import registry, verified

TOP_KEYS = {"description", "include", "checks", "tune", "guard"}  # [guard]: hwtune guard's policy
# What `hwtune apply` may set is declared once per tunable (hwtune/tunables/):
# the key, its type, the values apply refuses and the check parameters that verify it.
PACKAGED = Path(__file__).parent / "profiles"  # the top-level profiles/ folder, shipped in the wheel
PROFILE_PATH_ENV = "HWTUNE_PROFILE_PATH"  # extra folders, ":"-separated, searched first
# A profile's includes nest at most this deep, and name at most this many files in all (counting
# each file's list once): a deeper or larger tree is refused (exit 2), naming the chain.
MAX_INCLUDE_DEPTH = 16
MAX_INCLUDES = 64


@dataclass(frozen=True)
class Profile:
    """A profile merged with everything it includes: per check id its parameters, and the tunables."""

    name: str
    description: str
    chain: tuple[str, ...]  # the files merged, base first
    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tune: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # the resolved paths of `chain`, base first
    guard: Mapping[str, Any] = field(default_factory=dict)  # validated by hwtune guard, which uses it

    def params(self, check_id: str) -> Mapping[str, Any]:
        return self.checks.get(check_id, {})

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "chain": list(self.chain),
            "checks": {k: dict(v) for k, v in sorted(self.checks.items())},
            "tune": _plain(self.tune),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in sorted(value.items())}
    return value


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two profile documents: tables merge, any other value of `over` wins."""
    out: dict[str, Any] = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(PROFILE_PATH_ENV, "").split(":") if p]
    return extra + [PACKAGED]


def available() -> dict[str, Path]:
    """Profile name -> file; earlier folders win."""
    found: dict[str, Path] = {}
    for folder in reversed(search_dirs()):
        try:
            paths = sorted(folder.glob("*.toml")) if folder.is_dir() else []
        except OSError as exc:
            raise ConfigError(f"profile folder {folder}: cannot read: {exc.strerror}") from None
        for path in paths:
            found[path.stem] = path
    return dict(sorted(found.items()))


def resolve(name_or_path: str) -> Path:
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        path = Path(name_or_path)
        try:
            exists = path.is_file()
        except OSError as exc:  # a folder on the way this user may not enter
            raise ConfigError(f"profile file {path}: cannot read: {exc.strerror}") from None
        if not exists:
            raise ConfigError(f"profile file {path} does not exist")
        return path
    known = available()
    if name_or_path not in known:
        raise ConfigError(f"unknown profile '{name_or_path}'; known profiles: {', '.join(known)}")
    return known[name_or_path]


def read_document(path: Path) -> dict[str, Any]:
    doc = read_toml(path)
    validate_document(path, doc)
    return doc


def validate_document(path: Path, doc: Mapping[str, Any]) -> None:
    for key in doc:
        if key not in TOP_KEYS:
            raise ConfigError(f"{path}: unknown key '{key}' (allowed: {', '.join(sorted(TOP_KEYS))})")
    if not isinstance(doc.get("description", ""), str):
        raise ConfigError(f"{path}: 'description' must be a string")
    include = doc.get("include", [])
    if not isinstance(include, list) or not all(isinstance(i, str) for i in include):
        raise ConfigError(f"{path}: 'include' must be a list of profile names")
    checks = doc.get("checks", {})
    if not isinstance(checks, Mapping):
        raise ConfigError(f"{path}: 'checks' must be a table")
    for check_id, params in checks.items():
        spec = REGISTRY.get(check_id)
        if spec is None:
            raise ConfigError(f"{path}: unknown check id 'checks.{check_id}'")
        if not isinstance(params, Mapping):
            raise ConfigError(f"{path}: 'checks.{check_id}' must be a table")
        for pkey, pvalue in params.items():
            spec.validate_param(path, pkey, pvalue)
    _validate_tune(path, doc.get("tune", {}))
    if not isinstance(doc.get("guard", {}), Mapping):
        raise ConfigError(f"{path}: 'guard' must be a table")


def _validate_tune(path: Path, tune: Any) -> None:
    if not isinstance(tune, Mapping):
        raise ConfigError(f"{path}: 'tune' must be a table")
    known = registry()
    for key, value in tune.items():
        tunable = known.get(key)
        if tunable is None:
            raise ConfigError(f"{path}: unknown key 'tune.{key}' (allowed: {', '.join(sorted(known))})")
        if not isinstance(value, tunable.type):
            raise ConfigError(f"{path}: 'tune.{key}' must be a {tunable.type.__name__}, not {value!r}")
        why = tunable.refuse(value)
        if why is not None:
            raise ConfigError(f"{path}: {why}")


def _check_agreement(merged: Mapping[str, Any], chain: tuple[str, ...], docs: Mapping[str, Any]) -> None:
    """Refuse a profile whose [checks] expect other values than its [tune] sets: `check` after
    `apply` would fail on what apply did. Names the file of each side and both keys."""

    checks = merged.get("checks", {})
    for key, value in merged.get("tune", {}).items():
        tunable = registry().get(key)
        if tunable is None:
            continue
        for v, keys, given, derived in verified(tunable, value):
            stated_params = checks.get(v.check, {})
            if v.param is None or v.param not in stated_params or stated_params.get("enabled") is False:
                continue
            stated = stated_params[v.param]
            if not v.agrees(stated, derived):
                where = _origin(chain, docs, ("checks", v.check, v.param))
                tune_where = _origin(chain, docs, ("tune",) + keys)
                raise ConfigError(
                    f"{where}: 'checks.{v.check}.{v.param}' = {stated!r} contradicts "
                    f"'{'.'.join(('tune',) + keys)}' = {given!r}"
                    + (f" (set in {tune_where})" if tune_where != where else "")
                    + f": check would fail on what apply sets; drop '{v.param}' (the check takes it from "
                      "[tune]) or change one of them")


def _origin(chain: tuple[str, ...], docs: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    """The file of the chain that set a key last (the one whose value won)."""
    for file_key in reversed(chain):
        node: Any = docs[file_key]
        for k in keys:
            node = node.get(k) if isinstance(node, Mapping) else None
        if node is not None:
            return file_key
    return chain[-1]



def load(name_or_path: str) -> Profile:
    """Load a profile and everything it includes, merged base first."""
    loader = _ChainLoader()
    merged, chain = loader.load(resolve(name_or_path).resolve(), ())
    _check_agreement(merged, chain, loader.docs)
    name = Path(chain[-1]).stem
    return Profile(
        name=name,
        description=merged.get("description", ""),
        chain=tuple(Path(p).stem for p in chain),
        checks=merged.get("checks", {}),
        tune=merged.get("tune", {}),
        files=chain,
        guard=merged.get("guard", {}),
    )


def resolve_include(inc: str, including: Path) -> Path:
    """An include names a profile (looked up like --profile) or a file; a relative file is found
    beside the profile that names it, never in the current folder."""
    if (inc.endswith(".toml") or "/" in inc) and not os.path.isabs(inc):
        return resolve(str(including.parent / inc))
    return resolve(inc)


class _ChainLoader:
    """Loads an include tree once per file: a file included twice (or by two profiles) is read,
    validated and merged once, and its merged result reused, so the work grows with the number of
    files, not of paths through the tree. The merge order, and so which value wins, is that of a
    plain depth-first walk."""

    def __init__(self) -> None:
        self.docs: dict[str, Any] = {}
        self.done: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {}
        self.edges = 0

    def load(self, path: Path, stack: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
        key = str(path)
        if key in self.done:
            return self.done[key]
        if key in stack:
            raise ConfigError(f"{path}: include cycle ({_names(stack + (key,))})")
        if len(stack) > MAX_INCLUDE_DEPTH:
            raise ConfigError(f"{path}: includes nest deeper than {MAX_INCLUDE_DEPTH} "
                              f"({_names(stack[:MAX_INCLUDE_DEPTH + 1])} -> ...): refused")
        doc = read_document(path)
        self.docs[key] = doc
        merged: dict[str, Any] = {}
        chain: tuple[str, ...] = ()
        for inc in doc.get("include", []):
            self.edges += 1
            if self.edges > MAX_INCLUDES:
                raise ConfigError(f"{path}: more than {MAX_INCLUDES} includes in all "
                                  f"({_names(stack + (key,))} -> {inc}): refused")
            try:
                inc_path = resolve_include(inc, path).resolve()
            except ConfigError as exc:
                raise ConfigError(f"{path}: include '{inc}': {exc.message}") from None
            sub, sub_chain = self.load(inc_path, stack + (key,))
            merged = merge(merged, sub)
            chain += tuple(c for c in sub_chain if c not in chain)
        own = {k: v for k, v in doc.items() if k != "include"}
        self.done[key] = merge(merged, own), chain + (key,)
        return self.done[key]


def _names(keys: tuple[str, ...]) -> str:
    return " -> ".join(Path(k).stem for k in keys)
