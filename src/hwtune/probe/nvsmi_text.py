"""Pure parsers for nvidia-smi's text outputs: `nvidia-smi -q` and the default table.

Real captures come as `nvidia-smi -q` text as often as XML (bug reports,
support bundles). Its layout: one "GPU <bus id>" line per GPU, then
"Key : Value" lines indented four spaces per level, a line without " : "
opening a section. A key with a value can hold sub-keys too ("HW Slowdown :
Active" holds "HW Thermal Slowdown"). Keys are flattened to paths
("Clocks Event Reasons/HW Slowdown/HW Power Brake Slowdown").
"""

import re
from dataclasses import dataclass
from functools import cache

from hwtune.errors import ParseError
from hwtune.facts import Gpu
from hwtune.probe.gpuhealth import is_unreadable, number, text_get, text_value, watts
from hwtune.probe.healthfields import health_from_text
from hwtune.probe.nvidia import NvidiaSmiReport

_GPU_HEADER = re.compile(r"^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$")


# More GPU sections than any one host holds (an HGX board has 8, the largest single systems 16):
# a crafted capture of GPU headers is refused before it costs seconds, not read as 500,000 GPUs.
MAX_GPUS = 64


def parse_nvidia_smi_text(text: str) -> NvidiaSmiReport:
    """`nvidia-smi -q` (or `-a`) -> the same report `parse_nvidia_smi_xml` gives, with health readings.
    An excerpt counts as well as the whole output: one that starts without the banner, at a
    `GPU <bus id>` line or inside a GPU's block (a section pasted into a ticket: one GPU of
    unknown bus id). A GPU nvidia-smi could not open ("Unable to determine the device handle
    for gpu 0000:A1:00.0: Unknown Error") is a GPU record with that error."""
    head: dict[str, str] = {}
    blocks: list[tuple[str | None, dict[str, str]]] = []
    lost: list[tuple[str, str]] = []
    current = head
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("="):
            continue
        if m := _GPU_HEADER.match(line):
            current = {}
            blocks.append((m.group(1), current))
            stack = []
            _at_most_max_gpus(len(blocks) + len(lost))
            continue
        if "Unable to determine the device handle" in line and (m := _lost_gpu().search(line)):
            lost.append((m.group(1), m.group(2).strip() or "Unknown Error"))
            _at_most_max_gpus(len(blocks) + len(lost))
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent and current is head:  # an excerpt that starts inside a GPU's block
            current = {}
            blocks.append((None, current))
        key, sep, value = line.strip().partition(" : ")
        if not sep and line.rstrip().endswith(":"):  # "Processes :" with nothing after
            key, sep, value = line.strip()[:-1], ":", ""
        key = key.strip()
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "/".join([k for _, k in stack] + [key])
        if sep:
            current[path] = value.strip()
        stack.append((indent, key))
    if not blocks and not lost and not any(k in head for k in ("Driver Version", "Attached GPUs")):
        raise ParseError("could not parse it as nvidia-smi -q output: no 'GPU <bus id>' line, no GPU section and "
                         "no 'Driver Version' or 'Attached GPUs' line")
    gpus = [_text_gpu(i, bus_id, fields) for i, (bus_id, fields) in enumerate(blocks)]
    seen = {g.bus_id.lower() for g in gpus if g.bus_id}
    gpus += [Gpu(index=len(gpus) + n, bus_id=bus, error=f"Unable to determine the device handle: {why}")
             for n, (bus, why) in enumerate((b, w) for b, w in lost if b.lower() not in seen)]
    attached = number(head.get("Attached GPUs"))
    return NvidiaSmiReport(driver_version=text_value(head.get("Driver Version")),
                           cuda_version=text_value(head.get("CUDA Version")),
                           attached_gpus=attached, gpus=tuple(gpus))


def _at_most_max_gpus(n: int) -> None:
    if n > MAX_GPUS:
        raise ParseError(f"more than {MAX_GPUS} GPU sections: not the nvidia-smi -q output of one host")


@cache
def _lost_gpu() -> re.Pattern[str]:
    """The table's "device handle" line, in either case of "GPU" ("for gpu 0000:3B:00.0", 550+)."""
    return re.compile(_HANDLE_ERROR.pattern, re.IGNORECASE)


def _text_gpu(index: int, bus_id: str | None, fields: dict[str, str]) -> Gpu:
    def get(*paths: str) -> str | None:
        return text_get(fields, *paths)

    power = ("GPU Power Readings", "Power Readings")
    return Gpu(
        index=index,
        name=get("Product Name"),
        bus_id=get("PCI/Bus Id") or bus_id,
        uuid=get("GPU UUID"),
        memory_mib=number(get("FB Memory Usage/Total"), "MiB"),
        persistence_mode={"Enabled": True, "Disabled": False}.get(get("Persistence Mode") or ""),
        mig_mode=_state(get("MIG Mode/Current")),
        mig_mode_pending=_state(get("MIG Mode/Pending")),
        ecc_current=_state(get("ECC Mode/Current")),
        ecc_pending=_state(get("ECC Mode/Pending")),
        pcie_gen_current=number(get("PCI/GPU Link Info/PCIe Generation/Current")),
        pcie_gen_max=number(get("PCI/GPU Link Info/PCIe Generation/Max")),
        pcie_width_current=number(get("PCI/GPU Link Info/Link Width/Current"), "x"),
        pcie_width_max=number(get("PCI/GPU Link Info/Link Width/Max"), "x"),
        power_limit_w=watts(get(*(f"{p}/{k}" for p in power
                                  for k in ("Current Power Limit", "Enforced Power Limit", "Power Limit")))),
        power_limit_default_w=watts(get(*(f"{p}/Default Power Limit" for p in power))),
        power_limit_max_w=watts(get(*(f"{p}/Max Power Limit" for p in power))),
        compute_mode=(get("Compute Mode") or "").lower() or None,
        architecture=get("Product Architecture"),
        virtualization_mode=(fields.get("GPU Virtualization Mode/Virtualization Mode") or "").strip() or None,
        health=health_from_text(fields),
    )


def _state(value: str | None) -> str | None:
    return {"Enabled": "enabled", "Disabled": "disabled"}.get(value or "")


# -- the default nvidia-smi table -------------------------------------------------

@dataclass(frozen=True)
class TableReading:
    """A GPU the table could not read fully: its row's ERR! fields, or nvidia-smi's error line."""

    index: int | None
    bus_id: str | None
    fields: tuple[str, ...]  # which columns read ERR! ("fan", "temp", "power", ...)
    message: str  # the evidence: the table row or the error line

    def to_fact(self) -> dict[str, object]:
        return {"index": self.index, "bus_id": self.bus_id, "fields": list(self.fields), "message": self.message}


_BUS_ID = re.compile(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]")
_ROW2_COLUMNS = ("fan", "temp", "perf", "power")
_HANDLE_ERROR = re.compile(r"Unable to determine the device handle for (?:GPU)?\s*"
                           r"([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]):\s*(.*)")


def parse_nvidia_smi_table(text: str) -> list[TableReading]:
    """Unreadable GPUs in the default `nvidia-smi` output; an empty list when every GPU reads."""
    found: list[TableReading] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if m := _HANDLE_ERROR.search(line):
            found.append(TableReading(None, m.group(1), ("device handle",), line.strip()))
            continue
        if line.strip().lower() in ("no devices were found",):
            continue
        row1 = _table_row1(line)
        if row1 is None or i + 1 >= len(lines):
            continue
        rows = (line, lines[i + 1])
        cells = lines[i + 1].strip().strip("|").split("|")
        # "|ERR!   38C    P5    49W / 450W |": fan, temperature, perf state, power
        bad = sorted({_ROW2_COLUMNS[min(k, 3)] for k, tok in enumerate(cells[0].split()) if is_unreadable(tok)},
                     key=_ROW2_COLUMNS.index)
        bad += ["memory" if k == 1 else "utilization" for k, cell in enumerate(cells[1:3], start=1)
                if "ERR!" in cell]
        if "ERR!" in line:
            bad.append("name, persistence, bus or display")
        if bad:
            found.append(TableReading(row1[0], row1[1], tuple(bad), " / ".join(r.strip() for r in rows)))
    return found


def _table_row1(line: str) -> tuple[int, str, str, bool] | None:
    """(index, bus id, name, persistence on) of a GPU's first table row, `|   0  NAME   On  | 00000000:01:00.0 Off |`.

    Split on the "|" separators: a pattern with `\\s+(.*?)\\s+` here took 11.7 s on a 2 KB row.
    """
    cells = line.split("|", 3)
    if len(cells) < 3 or cells[0] or not cells[1][:1].isspace() or not cells[1][-1:].isspace() \
            or not cells[2][:1].isspace():
        return None
    words, rest = cells[1].split(), cells[2].lstrip()
    bus = rest.split(None, 1)[0] if rest else ""
    if len(words) < 2 or not words[0].isascii() or not words[0].isdigit() or len(words[0]) > 6 \
            or words[-1] not in ("On", "Off") or len(rest) == len(bus) or not _BUS_ID.fullmatch(bus):
        return None
    inner = cells[1].strip()
    name = inner[len(words[0]):len(inner) - len(words[-1])].strip()
    return int(words[0]), bus, name, words[-1] == "On"


def table_report(text: str) -> NvidiaSmiReport | None:
    """The GPUs the default table lists (index, name, bus id, persistence mode), for a capture
    that holds only the table; None when it lists none. What the table could not read is
    `parse_nvidia_smi_table`'s."""
    gpus = []
    driver = cuda = None
    for line in text.splitlines():
        if "Driver Version:" in line:
            driver, cuda = _word_after(line, "Driver Version:"), _word_after(line, "CUDA Version:")
            continue
        row1 = _table_row1(line)
        if row1:
            index, bus, name, persistence = row1
            gpus.append(Gpu(index=index, name=None if name.endswith("...") else name,
                            bus_id=bus, persistence_mode=persistence))
    if not gpus:
        return None
    return NvidiaSmiReport(driver_version=driver, cuda_version=cuda, attached_gpus=len(gpus), gpus=tuple(gpus))


def _word_after(line: str, label: str) -> str | None:
    """"| NVIDIA-SMI 525.125.06   Driver Version: 525.125.06 ..." -> "525.125.06" for "Driver Version:"."""
    _, sep, rest = line.partition(label)
    words = rest.split()
    return words[0] if sep and words and words[0] != "|" else None
