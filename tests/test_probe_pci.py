"""PCI listing: sysfs (real links and hwloc's link-as-file form), /proc fallback."""

from __future__ import annotations

import pytest

from conftest import snapshot
from fake_nvml import write_a100_box, write_pci_device
from hwtune.host import Host
from hwtune.probe import pci


def test_vm_snapshot_sysfs_lists_virtio_and_cirrus_and_no_nvidia():
    host = Host(snapshot("vm-kvm-2vcpu-nocpufreq"))
    listing = pci.read_pci_devices(host)
    assert listing.source == "sysfs"
    by_address = {d.address: d for d in listing.devices}
    assert len(by_address) == 9
    # the links are stored as files holding the link target; both domains resolve
    assert (by_address["0000:00:02.0"].vendor_id, by_address["0000:00:02.0"].class_id) == ("0x1013", "0x030000")
    assert by_address["10000:00:04.0"].vendor_id == "0x1af4"
    assert {d.vendor_id for d in listing.devices} == {"0x8086", "0x1013", "0x1af4"}
    assert all(d.numa_node is None for d in listing.devices)  # numa_node -1
    nvidia = pci.read_nvidia_gpus(host)
    assert (nvidia.devices, nvidia.source) == ([], "sysfs")


def test_epyc_snapshot_falls_back_to_proc():
    host = Host(snapshot("epyc7451-2s-8numa"))
    listing = pci.read_pci_devices(host)
    assert listing.source == "/proc/bus/pci/devices"
    vendors = {d.vendor_id for d in listing.devices}
    assert "0x1022" in vendors and "0x8086" in vendors  # AMD host bridges, the i40e NICs
    first = listing.devices[0]
    assert (first.address, first.device_id, first.class_id) == ("00:00.0", "0x1450", None)
    assert pci.read_nvidia_gpus(host).devices == []


def test_no_pci_source_is_unknown_with_reason():
    listing = pci.read_nvidia_gpus(Host(snapshot("gpu-2xa5000-xml")))
    assert listing.devices is None and "neither /sys/bus/pci/devices" in listing.reason


def test_nvidia_gpus_only_display_class(tmp_path):
    write_pci_device(tmp_path, "0000:81:00.0", "0x10de", "0x2231", "0x030000", numa_node=1)
    write_pci_device(tmp_path, "0000:81:00.1", "0x10de", "0x1aef", "0x040300", numa_node=1)  # HDMI audio
    write_pci_device(tmp_path, "0000:c1:00.0", "0x10de", "0x2231", "0x030000")
    listing = pci.read_nvidia_gpus(Host(tmp_path))
    assert [d.to_fact() for d in listing.devices] == [
        {"address": "0000:81:00.0", "device_id": "0x2231", "class": "0x030000", "numa_node": 1},
        {"address": "0000:c1:00.0", "device_id": "0x2231", "class": "0x030000", "numa_node": None},
    ]


def test_proc_fallback_lists_nvidia_without_class(tmp_path):
    (tmp_path / "proc" / "bus" / "pci").mkdir(parents=True)
    (tmp_path / "proc" / "bus" / "pci" / "devices").write_text(
        "0000\t10221450\t0\n"
        "8100\t10de2231\t3a\t\tnvidia\n"
        "8101\t10de1aef\t3b\t\tsnd_hda_intel\n"
        "garbage line\n")
    devices = pci.read_nvidia_gpus(Host(tmp_path)).devices
    # /proc says neither the class nor the domain, so both functions stay listed
    assert [(d.address, d.device_id, d.class_id) for d in devices] == [
        ("81:00.0", "0x2231", None), ("81:00.1", "0x1aef", None)]


def test_numa_node_of_gpus(tmp_path):
    write_a100_box(tmp_path)
    host = Host(tmp_path)
    assert [d.numa_node for d in pci.read_nvidia_gpus(host).devices] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert pci.read_numa_node(host, "0000:bd:00.0") == 1
    assert pci.read_numa_node(host, "0000:99:00.0") is None


@pytest.mark.parametrize("bus_id, expected", [
    ("00000000:81:00.0", "0000:81:00.0"),
    ("00000000:C1:00.0", "0000:c1:00.0"),
    ("00010000:3B:1F.7", "10000:3b:1f.7"),
    ("0000:00:1e.0", "0000:00:1e.0"),
    ("81:00.0", None), ("", None), ("00000000:81:00.8", None),
])
def test_sysfs_address(bus_id, expected):
    assert pci.sysfs_address(bus_id) == expected


@pytest.mark.parametrize("text, expected", [("0\n", 0), ("3", 3), ("-1\n", None), ("", None),
                                            (None, None), ("x", None)])
def test_parse_numa_node(text, expected):
    assert pci.parse_numa_node(text) == expected
