"""Where bench keeps things: saved runs (for bench compare) and cached model files.

Every run is saved with a timestamp, a digest of the host's facts and the
library versions, under platformdirs' user data dir (or HWTUNE_DATA_DIR).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hwtune import atomic
from hwtune.errors import ConfigError
from hwtune.files import read_json_file

RUN_SCHEMA = 1
DATA_ENV = "HWTUNE_DATA_DIR"


def data_dir() -> Path:
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("hwtune"))


def bench_dir() -> Path:
    return data_dir() / "bench"


def models_dir() -> Path:
    return bench_dir() / "models"


def runs_dir() -> Path:
    return bench_dir() / "runs"


def host_digest(facts_json: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a facts document."""
    canonical = json.dumps(facts_json, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def host_identity() -> dict[str, str]:
    """The digest of this host's probed facts (the same facts `hwtune facts --json` prints)."""
    from hwtune.host import Host
    from hwtune.probe import probe_facts

    return {"digest": host_digest(probe_facts(Host("/")).to_json()), "source": "probe_facts"}


def library_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for dist in ("hwtune", "onnxruntime", "openvino", "onnx", "numpy", "mlcommons-loadgen"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def save_run(document: dict[str, Any], when: datetime | None = None) -> Path:
    """Write a run document (results plus host/versions header) and return its path."""
    when = when or datetime.now(UTC)
    host = host_identity()
    doc = {
        "schema": RUN_SCHEMA,
        "created_utc": when.isoformat(timespec="seconds"),
        "host": host,
        "versions": library_versions(),
        **document,
    }
    folder = runs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = when.strftime("%Y%m%dT%H%M%S") + f"-{host['digest'][:8]}"
    path = folder / f"{stem}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.json"
    atomic.write_file(path, json.dumps(doc, indent=1, sort_keys=False) + "\n")
    return path


def load_run(ref: str | Path) -> dict[str, Any]:
    """A saved run, by path or by its name in the runs folder (with or without .json)."""
    path = Path(ref).expanduser()
    if not path.exists():
        for candidate in (runs_dir() / str(ref), runs_dir() / f"{ref}.json"):
            if candidate.exists():
                path = candidate
                break
        else:
            raise ConfigError(f"no saved run {ref} (neither a file nor a name in {runs_dir()})")
    doc = read_json_file(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ConfigError(f"{path} is not a hwtune bench run (no 'results' list)")
    return doc
