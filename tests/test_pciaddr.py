"""One parser for the PCI addresses nvidia-smi, NVML, lspci, sysfs and the kernel write."""

from __future__ import annotations

import pytest

from hwtune import pciaddr
from hwtune.checks.health_gpu import _bus
from hwtune.guard.signals import bus_id
from hwtune.probe.pci import sysfs_address


@pytest.mark.parametrize("text, shown, slot", [
    ("00000000:3B:00.0", "0000:3b:00.0", "0000:3b:00"),   # nvidia-smi, NVML
    ("0000:3b:00.1", "0000:3b:00.1", "0000:3b:00"),       # lspci -D, sysfs
    ("PCI:0000:19:00", "0000:19:00.0", "0000:19:00"),     # the driver's kernel line
    (" 0000:A1:1F.7\n", "0000:a1:1f.7", "0000:a1:1f"),
    ("00010000:3B:00.0", "10000:3b:00.0", "10000:3b:00"),  # a second PCI segment
])
def test_every_writer_spelling_is_one_address(text, shown, slot):
    a = pciaddr.parse(text)
    assert a is not None and str(a) == shown and a.slot == slot


@pytest.mark.parametrize("text", ["", "3b:00.0", "0000:3b:00.8", "0000:3b:0.0", "GPU0",
                                  "000000000:3b:00.0", "0000:3b:00.0 extra", "PCI:PCI:0000:19:00"])
def test_anything_else_is_not_an_address(text):
    assert pciaddr.parse(text) is None


def test_the_writers_agree_where_they_meet():
    # nvidia-smi's id of a GPU and the kernel's Xid line for it land on the same device in
    # the check, in guard, and in sysfs.
    smi, kernel = "00000000:19:00.0", "0000:19:00"
    assert _bus(smi) == _bus(kernel) == "0000:19:00"
    assert bus_id(smi) == bus_id("PCI:" + kernel) == sysfs_address(smi) == "0000:19:00.0"
    assert pciaddr.parse(smi) == pciaddr.parse("0000:19:00.0")
    assert pciaddr.parse(smi) != pciaddr.parse("0000:19:00.1")
