"""Shared test paths: the real machine snapshots live in ../shared beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HWTUNE_SHARED", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures"
SAMPLES = FIXTURES / "_samples"
SNAPSHOTS = ("epyc7451-2s-8numa", "laptop-i7-1370p-powersave", "vm-kvm-2vcpu-nocpufreq", "gpu-2xa5000-xml")


def snapshot(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_dir():
        pytest.fail(f"snapshot {path} missing: tests need ../shared/fixtures beside the checkout")
    return path


def pytest_collection_modifyitems(config, items):
    # `live` tests touch the live machine; they run by default (CI is root on a
    # throwaway VM) and each one skips itself with the reason where it cannot run.
    if os.environ.get("HWTUNE_SKIP_LIVE"):
        skip = pytest.mark.skip(reason="HWTUNE_SKIP_LIVE is set")
        for item in items:
            if "live" in item.keywords:
                item.add_marker(skip)
