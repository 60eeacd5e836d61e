"""Profiles: data layered with `include`, merged by one pure function.

A profile is a TOML file: a description, an optional `include` list, per check
id a table of parameters (`[checks."kernel.version"] min = "5.1"`), and the
tunables `hwtune apply` sets (`[tune]`, `[tune.sysctl]`). The later value wins,
as in tuned's profile merger. Unknown keys are errors at load time, naming
the file and the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from hwtune.errors import ConfigError, read_toml

TOP_KEYS = {"description", "include", "checks", "tune"}
# What `hwtune apply` may set; the values are validated by apply against what
# the kernel lists as allowed. sysctl names are validated separately.
TUNE_KEYS = {
    "cpu.governor": str,  # "performance|schedutil": first one the policy offers
    "cpu.epp": str,
    "cpu.boost": bool,
    "mm.thp_enabled": str,
    "mm.thp_defrag": str,
    "nvidia.persistenced": bool,
    # need a reboot or a GPU reset: apply lists them with the command, never applies them
    "nvidia.ecc": bool,
    "nvidia.mig": bool,
    "kernel.cmdline": list,  # kernel arguments, "name" or "name=value"
    "sysctl": dict,
}
SYSCTL_PREFIXES = ("vm.", "kernel.", "net.core.")
PACKAGED = Path(__file__).parent / "profiles"  # the top-level profiles/ folder, shipped in the wheel
PROFILE_PATH_ENV = "HWTUNE_PROFILE_PATH"  # extra folders, ":"-separated, searched first


@dataclass(frozen=True)
class Profile:
    """A profile merged with everything it includes: per check id its parameters, and the tunables."""

    name: str
    description: str
    chain: tuple[str, ...]  # the files merged, base first
    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tune: Mapping[str, Any] = field(default_factory=dict)

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
    from hwtune.checks.registry import REGISTRY

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


def _validate_tune(path: Path, tune: Any) -> None:
    if not isinstance(tune, Mapping):
        raise ConfigError(f"{path}: 'tune' must be a table")
    for key, value in tune.items():
        kind = TUNE_KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{path}: unknown key 'tune.{key}' (allowed: {', '.join(sorted(TUNE_KEYS))})")
        if not isinstance(value, kind):
            raise ConfigError(f"{path}: 'tune.{key}' must be a {kind.__name__}, not {value!r}")
    for name, value in tune.get("sysctl", {}).items():
        if not valid_sysctl_name(name):
            raise ConfigError(f"{path}: 'tune.sysctl.{name}' is not an allowed sysctl "
                              f"(allowed prefixes: {', '.join(SYSCTL_PREFIXES)})")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"{path}: 'tune.sysctl.{name}' must be an integer or a string, not {value!r}")


def valid_sysctl_name(name: str) -> bool:
    """vm.swappiness, kernel.numa_balancing, net.core.somaxconn: ASCII words under an allowed prefix."""
    return name.startswith(SYSCTL_PREFIXES) and all(
        p and p.isascii() and p.replace("_", "").isalnum() for p in name.split("."))


def load(name_or_path: str) -> Profile:
    """Load a profile and everything it includes, merged base first."""
    merged, chain = _load_chain(resolve(name_or_path), ())
    name = Path(chain[-1]).stem
    return Profile(
        name=name,
        description=merged.get("description", ""),
        chain=tuple(Path(p).stem for p in chain),
        checks=merged.get("checks", {}),
        tune=merged.get("tune", {}),
    )


def _load_chain(path: Path, seen: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
    key = str(path.resolve())
    if key in seen:
        raise ConfigError(f"{path}: include cycle ({' -> '.join(Path(s).stem for s in seen + (key,))})")
    doc = read_document(path)
    merged: dict[str, Any] = {}
    chain: tuple[str, ...] = ()
    for inc in doc.get("include", []):
        try:
            inc_path = resolve(inc)
        except ConfigError as exc:
            raise ConfigError(f"{path}: include '{inc}': {exc.message}") from None
        sub, sub_chain = _load_chain(inc_path, seen + (key,))
        merged = merge(merged, sub)
        chain += tuple(c for c in sub_chain if c not in chain)
    own = {k: v for k, v in doc.items() if k != "include"}
    return merge(merged, own), chain + (key,)
