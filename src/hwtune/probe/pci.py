"""PCI devices from sysfs, or from /proc/bus/pci/devices when sysfs has none.

sysfs sees a device whether or not a driver is bound to it, so an NVIDIA GPU
without a working driver still shows up here.
"""

import posixpath
import re
from typing import NamedTuple

from hwtune import pciaddr
from hwtune.host import Host

SYSFS_PCI = "/sys/bus/pci/devices"
PROC_PCI = "/proc/bus/pci/devices"
NVIDIA_VENDOR = "0x10de"
DISPLAY_CLASS = 0x03  # PCI base class "display controller": VGA 0x0300, 3D 0x0302


class PciDevice(NamedTuple):
    address: str  # "0000:81:00.0"; "81:00.0" from /proc, which does not say the domain
    vendor_id: str  # "0x10de"
    device_id: str  # "0x2231"
    class_id: str | None  # "0x030000"; None from /proc, which does not say it
    numa_node: int | None  # None: unknown (the kernel says -1)

    def to_fact(self) -> dict[str, object]:
        return {"address": self.address, "device_id": self.device_id,
                "class": self.class_id, "numa_node": self.numa_node}


class PciListing(NamedTuple):
    devices: list[PciDevice] | None  # None: neither source exists
    source: str | None  # "sysfs" / "/proc/bus/pci/devices"
    reason: str = ""


def read_pci_devices(host: Host, vendor: str | None = None) -> PciListing:
    """Devices of one vendor ("0x10de"), or all; sysfs first, then /proc."""
    names = host.listdir(SYSFS_PCI)
    if names is not None:
        devices = [d for n in names if (d := _read_sysfs_device(host, n, vendor)) is not None]
        return PciListing(devices, "sysfs")
    text = host.read(PROC_PCI)
    if text is not None:
        return PciListing(parse_proc_pci_devices(text, vendor), PROC_PCI)
    return PciListing(None, None, f"neither {SYSFS_PCI} nor {PROC_PCI} exists")


def read_nvidia_gpus(host: Host) -> PciListing:
    """NVIDIA display/3D controllers (their HDMI audio functions are left out)."""
    listing = read_pci_devices(host, NVIDIA_VENDOR)
    if listing.devices is None:
        return listing
    # /proc gives no class: keep every NVIDIA function there rather than guess
    gpus = [d for d in listing.devices if d.class_id is None or _base_class(d.class_id) == DISPLAY_CLASS]
    return PciListing(gpus, listing.source)


def read_numa_node(host: Host, address: str) -> int | None:
    folder = device_folder(host, address)
    return None if folder is None else parse_numa_node(host.read_line(f"{folder}/numa_node"))


def sysfs_address(bus_id: str) -> str | None:
    """nvidia-smi's "00000000:81:00.0" -> sysfs "0000:81:00.0" (a function is needed)."""
    address = pciaddr.parse(bus_id)
    return str(address) if address is not None and address.function is not None else None


def device_folder(host: Host, address: str) -> str | None:
    entry = f"{SYSFS_PCI}/{address}"
    if host.is_dir(entry) or host.exists(f"{entry}/vendor"):
        return entry
    # hwloc-gather-topology snapshots store these links as small files that
    # hold the link target ("../../../devices/pci0000:00/0000:00:02.0").
    target = (host.read(entry, record=False) or "").strip()
    if re.fullmatch(r"(\.\./)+devices/pci[\w:./-]*", target):
        return posixpath.normpath(posixpath.join(SYSFS_PCI, target))
    return None


def _read_sysfs_device(host: Host, address: str, vendor: str | None) -> PciDevice | None:
    folder = device_folder(host, address)
    if folder is None:
        return None
    vendor_id = _hex_id(host.read_line(f"{folder}/vendor"))
    if vendor_id is None or (vendor is not None and vendor_id != vendor):
        return None
    return PciDevice(
        address=address,
        vendor_id=vendor_id,
        device_id=_hex_id(host.read_line(f"{folder}/device")) or "unknown",
        class_id=_hex_id(host.read_line(f"{folder}/class")),
        numa_node=parse_numa_node(host.read_line(f"{folder}/numa_node")),
    )


def parse_proc_pci_devices(text: str, vendor: str | None = None) -> list[PciDevice]:
    """/proc/bus/pci/devices: "bus<<8|devfn" and "vendor<<16|device" in hex, tab-separated."""
    devices = []
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) < 2 or not re.fullmatch(r"[0-9a-fA-F]{4}", cols[0]) \
                or not re.fullmatch(r"[0-9a-fA-F]{8}", cols[1]):
            continue
        bus, devfn = int(cols[0][:2], 16), int(cols[0][2:], 16)
        vendor_id, device_id = f"0x{cols[1][:4].lower()}", f"0x{cols[1][4:].lower()}"
        if vendor is None or vendor_id == vendor:
            devices.append(PciDevice(f"{bus:02x}:{devfn >> 3:02x}.{devfn & 7}",
                                     vendor_id, device_id, None, None))
    return devices


def parse_numa_node(text: str | None) -> int | None:
    try:
        node = int((text or "").strip())
    except ValueError:
        return None
    return node if node >= 0 else None


def _hex_id(text: str | None) -> str | None:
    text = (text or "").strip().lower()
    return text if re.fullmatch(r"0x[0-9a-f]+", text) else None


def _base_class(class_id: str) -> int:
    return int(class_id, 16) >> 16
