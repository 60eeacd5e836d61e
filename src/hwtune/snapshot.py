"""`hwtune snapshot`: record what the probes read, in the snapshot format.

The files the probes read go to OUT at their absolute paths, the folders they
listed are created (even when empty), and command outputs go to
OUT/cmd/NAME.{xml,csv,txt} (a failed command to NAME.err with the reason),
so that `hwtune facts --root OUT` gives what `hwtune facts` gave here.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from hwtune import __version__
from hwtune.errors import ConfigError
from hwtune.facts import Facts
from hwtune.host import Host
from hwtune.run import ERROR_SUFFIX, cmd_name, suffix_for

MANIFEST = "hwtune-snapshot.json"


@dataclass(frozen=True)
class SnapshotSummary:
    out: Path
    files: int
    dirs: int
    commands: int
    facts: Facts


def _target(out: Path, abspath: str) -> Path:
    rel = abspath.lstrip("/")
    if not rel or ".." in Path(rel).parts:
        raise ValueError(f"refusing to record {abspath!r}")
    return out / rel


def take_snapshot(out: Path, host: Host | None = None) -> SnapshotSummary:
    from hwtune.probe import probe_facts, snapshot_commands

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: exists and is not an empty folder")
    host = host or Host("/")
    facts = probe_facts(host)
    recorded = {r.argv: r for r in host.runner.record}
    for argv in snapshot_commands(host):
        if tuple(argv) not in recorded:  # e.g. nvidia-smi when the facts came from NVML
            result = host.run(argv)
            recorded[result.argv] = result
    out.mkdir(parents=True, exist_ok=True)
    for abspath in sorted(host.dirs_listed):
        _target(out, abspath).mkdir(parents=True, exist_ok=True)
    for abspath, data in sorted(host.files_read.items()):
        path = _target(out, abspath)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    cmd_dir = out / "cmd"
    for argv, result in sorted(recorded.items()):
        cmd_dir.mkdir(exist_ok=True)
        stem = cmd_name(argv)
        if result.ok:
            (cmd_dir / (stem + suffix_for(result.stdout))).write_text(result.stdout, encoding="utf-8")
        else:
            (cmd_dir / (stem + ERROR_SUFFIX)).write_text((result.error or "failed") + "\n", encoding="utf-8")
    manifest = {"hwtune_version": __version__, "taken_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "hostname": os.uname().nodename, "files": len(host.files_read),
                "commands": [" ".join(a) for a in sorted(recorded)]}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return SnapshotSummary(out, len(host.files_read), len(host.dirs_listed), len(recorded), facts)
