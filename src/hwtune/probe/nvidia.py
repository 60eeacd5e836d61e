"""Pure parsers for what the NVIDIA driver and the CUDA stack print.

Text in, plain values out; malformed text raises `ParseError` and nothing
else. Reading the files and running the tools is `probe/gpu.py`'s job.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, NamedTuple

from hwtune.errors import ParseError
from hwtune.facts import Gpu
from hwtune.probe.gpuhealth import no_value
from hwtune.probe.healthfields import health_from_xml

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

_MIB = 1024 * 1024


class NvidiaSmiReport(NamedTuple):
    """What the driver reports, through `nvidia-smi -q -x` or through NVML."""

    driver_version: str | None
    cuda_version: str | None  # the newest CUDA the driver supports, "13.1"
    attached_gpus: int | None  # what the driver says is attached
    gpus: tuple[Gpu, ...]  # what it listed; may be fewer than attached


class DriverModule(NamedTuple):
    version: str
    kernel_module: str | None  # "proprietary" / "open"; None when the line has another shape
    arch: str | None


# -- nvidia-smi -q -x ---------------------------------------------------------------

def parse_nvidia_smi_xml(text: str) -> NvidiaSmiReport:
    root = _xml_root(text)
    gpus = tuple(_xml_gpu(i, el) for i, el in enumerate(root.findall("gpu")))
    attached_text = _text(root, "attached_gpus")
    attached = _int(attached_text)
    if attached_text is not None and attached is None:
        raise ParseError(f"nvidia-smi XML: attached_gpus is not a number: {attached_text!r}")
    return NvidiaSmiReport(
        driver_version=_text(root, "driver_version"),
        cuda_version=_text(root, "cuda_version"),
        attached_gpus=attached,
        gpus=gpus,
    )


def _xml_root(text: str) -> ET.Element:
    if not text or not text.strip():
        raise ParseError("nvidia-smi XML is empty")
    # Our own tool's output never declares entities; refusing them rules out
    # entity-expansion blow-ups. ElementTree never fetches the external DTD.
    if "<!ENTITY" in text:
        raise ParseError("nvidia-smi XML declares entities; refusing to expand them")
    import xml.etree.ElementTree as ET  # only hosts with NVIDIA GPUs pay for it

    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError) as exc:
        raise ParseError(f"nvidia-smi XML is malformed: {exc}") from None
    if root.tag != "nvidia_smi_log":
        raise ParseError(f"not nvidia-smi XML: the root element is <{root.tag}>")
    return root


def _xml_gpu(index: int, el: ET.Element) -> Gpu:
    # Newer drivers (530+) name the enforced limit "current_power_limit" under
    # gpu_power_readings; older ones "enforced_power_limit" under power_readings.
    power = el.find("gpu_power_readings")
    if power is None:
        power = el.find("power_readings")
    return Gpu(
        index=index,
        name=_text(el, "product_name"),
        bus_id=_text(el, "pci/pci_bus_id") or _value(el.get("id")),
        uuid=_text(el, "uuid"),
        memory_mib=_int(_text(el, "fb_memory_usage/total"), " MiB"),
        persistence_mode=_bool(_text(el, "persistence_mode")),
        mig_mode=_state(_text(el, "mig_mode/current_mig")),
        mig_mode_pending=_state(_text(el, "mig_mode/pending_mig")),
        ecc_current=_state(_text(el, "ecc_mode/current_ecc")),
        ecc_pending=_state(_text(el, "ecc_mode/pending_ecc")),
        pcie_gen_current=_int(_text(el, "pci/pci_gpu_link_info/pcie_gen/current_link_gen")),
        pcie_gen_max=_int(_text(el, "pci/pci_gpu_link_info/pcie_gen/max_link_gen")),
        pcie_width_current=_int(_text(el, "pci/pci_gpu_link_info/link_widths/current_link_width"), "x"),
        pcie_width_max=_int(_text(el, "pci/pci_gpu_link_info/link_widths/max_link_width"), "x"),
        power_limit_w=_power(power, "current_power_limit", "enforced_power_limit", "power_limit"),
        power_limit_default_w=_power(power, "default_power_limit"),
        power_limit_max_w=_power(power, "max_power_limit"),
        compute_mode=_lower(_text(el, "compute_mode")),
        architecture=_text(el, "product_architecture"),
        virtualization_mode=(el.findtext("gpu_virtualization_mode/virtualization_mode") or "").strip() or None,
        health=health_from_xml(el),
    )


def _value(raw: str | None) -> str | None:
    if raw is None:
        return None
    return None if no_value(raw) else raw.strip()


def _text(el: ET.Element, path: str) -> str | None:
    child = el.find(path)
    return None if child is None else _value(child.text)


def _int(value: str | None, unit: str = "") -> int | None:
    if value is None or not value.endswith(unit):
        return None
    number = value[: len(value) - len(unit)].strip()
    return int(number) if re.fullmatch(r"[0-9]{1,9}", number) else None


def _power(readings: ET.Element | None, *names: str) -> float | None:
    if readings is None:
        return None
    for name in names:
        m = re.fullmatch(r"([0-9]{1,6}(?:\.[0-9]{1,6})?) W", _text(readings, name) or "")
        if m:
            return float(m.group(1))
    return None


def _bool(value: str | None) -> bool | None:
    return {"Enabled": True, "Disabled": False}.get(value or "")


def _state(value: str | None) -> str | None:
    return {"Enabled": "enabled", "Disabled": "disabled"}.get(value or "")


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


# -- /proc/driver/nvidia/version -----------------------------------------------------

# Patterns are strings, compiled (and cached by `re`) on first use: a host without the driver or
# the toolkit never needs them (~2 ms at start-up).
_VERSION = r"([0-9]+(?:\.[0-9]+)+)"
_OPEN_MODULE = r"Open Kernel Module for (\S+)\s+" + _VERSION + r"\s"
_PROPRIETARY_MODULE = r"NVIDIA UNIX (\S+) Kernel Module\s+" + _VERSION + r"\s"
_ANY_VERSION = r"\s([0-9]+\.[0-9]+(?:\.[0-9]+)?)\s"


def parse_proc_driver_version(text: str) -> DriverModule:
    """`NVRM version: NVIDIA UNIX x86_64 Kernel Module  525.105.17  Tue Mar 28 ...` and
    `NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  515.43.04  Release Build ...`."""
    line = next((ln for ln in text.splitlines() if ln.startswith("NVRM version:")), None)
    if line is None:
        raise ParseError("/proc/driver/nvidia/version has no 'NVRM version:' line")
    line += " "
    if m := re.search(_OPEN_MODULE, line):
        return DriverModule(m.group(2), "open", m.group(1))
    if m := re.search(_PROPRIETARY_MODULE, line):
        return DriverModule(m.group(2), "proprietary", m.group(1))
    if m := re.search(_ANY_VERSION, line):
        return DriverModule(m.group(1), None, None)
    raise ParseError(f"/proc/driver/nvidia/version: no driver version in {line.strip()!r}")


# -- CUDA toolkit and cuDNN ----------------------------------------------------------

_NVCC_RELEASE = r"\brelease ([0-9]{1,4})\.([0-9]{1,4})\b"
_NVCC_V = r"\bV([0-9]{1,4})\.([0-9]{1,4})\.[0-9]+\b"


def parse_nvcc_version(text: str) -> str:
    """`Cuda compilation tools, release 12.8, V12.8.93` -> "12.8"."""
    m = re.search(_NVCC_RELEASE, text) or re.search(_NVCC_V, text)
    if not m:
        raise ParseError("nvcc --version printed no 'release X.Y' nor 'VX.Y.Z'")
    return f"{int(m.group(1))}.{int(m.group(2))}"


def parse_cuda_version_json(text: str) -> str:
    """The toolkit's version.json (CUDA 11.1+): {"cuda": {"version": "12.8.0"}} -> "12.8"."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"CUDA version.json is not JSON: {exc}") from None
    cuda = data.get("cuda") if isinstance(data, dict) else None
    version = cuda.get("version") if isinstance(cuda, dict) else None
    if not isinstance(version, str):
        raise ParseError("CUDA version.json has no cuda.version string")
    return _major_minor(version, "CUDA version.json cuda.version")


def parse_cuda_version_txt(text: str) -> str:
    """The toolkit's version.txt (before 11.1): `CUDA Version 10.2.89` -> "10.2"."""
    m = re.search(r"CUDA Version ([0-9]+\.[0-9]+)", text)
    if not m:
        raise ParseError("CUDA version.txt has no 'CUDA Version X.Y'")
    return _major_minor(m.group(1), "CUDA version.txt")


def _major_minor(version: str, what: str) -> str:
    m = re.fullmatch(r"([0-9]{1,4})\.([0-9]{1,4})(?:\.[0-9]+)*", version.strip())
    if not m:
        raise ParseError(f"{what} is not a version: {version!r}")
    return f"{int(m.group(1))}.{int(m.group(2))}"


_CUDNN_DEFINE = r"(?m)^[ \t]*#[ \t]*define[ \t]+CUDNN_(MAJOR|MINOR|PATCHLEVEL)[ \t]+([0-9]{1,4})\b"


def parse_cudnn_header(text: str) -> str:
    """The MAJOR/MINOR/PATCHLEVEL defines of cudnn_version.h -> "9.6.0".

    Never the combined CUDNN_VERSION: 8.x computes it as MAJOR*1000 + ...,
    9.x as MAJOR*10000 + ..., so the number alone is ambiguous.
    """
    parts = {name: int(value) for name, value in re.findall(_CUDNN_DEFINE, text)}
    missing = [n for n in ("MAJOR", "MINOR", "PATCHLEVEL") if n not in parts]
    if missing:
        raise ParseError("cuDNN header lacks " + ", ".join(f"CUDNN_{n}" for n in missing))
    return f"{parts['MAJOR']}.{parts['MINOR']}.{parts['PATCHLEVEL']}"


def parse_cudnn_lib_name(name: str) -> str | None:
    """`libcudnn.so.9.6.0` -> "9.6.0"; None for any other file name."""
    m = re.fullmatch(r"libcudnn\.so\.([0-9]{1,4})\.([0-9]{1,4})\.([0-9]{1,4})", name)
    return ".".join(str(int(g)) for g in m.groups()) if m else None
