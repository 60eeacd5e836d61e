"""Test inputs, all inside the repository.

The real machine snapshots live in tests/fixtures/: the four large trees as xz
archives (unpacked once per test session into a private temporary folder, as
hwloc and util-linux keep their machine dumps), the sick hosts and the
single-file samples as plain files. tests/fixtures/SOURCES.md says where each
came from. Nothing here reads outside the repository.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import safetar

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SAMPLES = FIXTURES / "_samples"
SICK = FIXTURES / "sick"
# The shared fixtures (scratch, module_scratch, data_dir) are offered to every test module as
# plugins, so a test names them as arguments without importing them (an import the argument
# would then shadow).
pytest_plugins = ("apply_helpers", "bench_helpers")

SNAPSHOTS = ("epyc7451-2s-8numa", "laptop-i7-1370p-powersave", "vm-kvm-2vcpu-nocpufreq", "gpu-2xa5000-xml")

_unpacked: Path | None = None


def _unpack_dir() -> Path:
    global _unpacked
    if _unpacked is None:
        folder = Path(tempfile.mkdtemp(prefix="hwtune-fixtures-"))
        os.chmod(folder, 0o755)  # the unprivileged-user tests read the snapshots too
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _unpacked = folder
    return _unpacked


def snapshot(name: str) -> Path:
    """The root of a real snapshot: a sick host under sick/, else unpacked from its archive."""
    if (SICK / name).is_dir():
        return SICK / name
    path = _unpack_dir() / name
    if not path.is_dir():
        archive = FIXTURES / f"{name}.tar.xz"
        if not archive.is_file():
            pytest.fail(f"no snapshot {name!r}: expected {archive}")
        # our own archive, checked member by member (safetar says why not filter=)
        safetar.extract(archive, _unpack_dir())
    return path


def pytest_collection_modifyitems(config, items):
    # `changes_live` tests change the running machine (sysctls, then restored);
    # they run only when asked for with HWTUNE_LIVE_TESTS=1 (.ci/run asks), and
    # each one still skips itself with the reason where it cannot run (not
    # root). A plain `pytest`, even as root on a production box, changes nothing.
    # `live` tests only read this machine and always run.
    if os.environ.get("HWTUNE_LIVE_TESTS") != "1":
        skip = pytest.mark.skip(reason="changes the live machine: set HWTUNE_LIVE_TESTS=1 to run it")
        for item in items:
            if "changes_live" in item.keywords:
                item.add_marker(skip)
