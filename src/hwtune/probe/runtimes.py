"""Python and inference runtime versions.

Versions come from package metadata, which costs a few milliseconds; asking
onnxruntime for its providers or OpenVINO for its devices means importing
them (hundreds of milliseconds), so that is `probe_runtime_devices`, used by
`facts --runtimes` and `bench`, never by the default `check`.
"""

from __future__ import annotations

import os
import platform
import sys

from hwtune.facts import FactsBuilder
from hwtune.host import Host

PACKAGES = {"onnxruntime": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino"),
            "openvino": ("openvino",), "onnx": ("onnx",), "numpy": ("numpy",)}
# where snapshots of hwtune before observed/ filed these (as if the commands had run)
PYTHON_ARGV = ["python3", "--version"]
PIP_ARGV = ["python3", "-m", "pip", "list", "--format=freeze"]


def installed_versions() -> str:
    """The packages hwtune reports, as NAME==VERSION lines (the `pip list --format=freeze` form).

    The versions are read from the names of the installed `*.dist-info`
    folders (NAME-VERSION.dist-info, normalised by PEP 491): importing
    importlib.metadata and scanning every distribution costs ~20 ms, a sixth
    of `hwtune check`'s start-up.
    """
    wanted = {_canonical(d): d for dists in PACKAGES.values() for d in dists}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith(".dist-info"):
                continue
            dist, _, version = name[: -len(".dist-info")].partition("-")
            key = _canonical(dist)
            if key in wanted and key not in found and version:
                found[key] = version  # first on sys.path wins, as for imports
    return "".join(f"{wanted[k]}=={v}\n" for k, v in sorted(found.items()))


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def parse_freeze(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name and version:
            out[name.lower().replace("_", "-")] = version
    return out


def probe_runtimes(host: Host, b: FactsBuilder) -> None:
    # Worked out in-process, not by running these commands: a snapshot files them under observed/.
    py = host.runner.observe("python_version", lambda: f"Python {platform.python_version()}\n",
                             legacy_argv=PYTHON_ARGV)
    words = py.stdout.split()
    b.set("python.version", words[1] if py.ok and len(words) == 2 else None, py.error or "no Python version")
    pip = host.runner.observe("python_packages", installed_versions, legacy_argv=PIP_ARGV)
    versions = parse_freeze(pip.stdout) if pip.ok else {}
    for fact, dists in PACKAGES.items():
        found = next((versions[d] for d in dists if d in versions), None)
        b.set(f"{fact}.version", found, pip.error or f"{fact} is not installed")


def probe_runtime_devices(b: FactsBuilder) -> None:
    """Live only: import the runtimes and ask them what they can run on."""
    try:
        import onnxruntime

        b.set("onnxruntime.providers", list(onnxruntime.get_available_providers()))
    except Exception as exc:  # noqa: BLE001 - a broken runtime install is a fact, not a crash
        b.unknown("onnxruntime.providers", f"onnxruntime: {type(exc).__name__}: {exc}")
    try:
        import openvino

        b.set("openvino.devices", list(openvino.Core().available_devices))
    except Exception as exc:  # noqa: BLE001
        b.unknown("openvino.devices", f"openvino: {type(exc).__name__}: {exc}")
