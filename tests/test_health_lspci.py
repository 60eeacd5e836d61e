"""Recorded `lspci -vvv`: the parser on real captures (tests/fixtures/lspci,
sources in its SOURCES.md), the GPU links it finds, gpu.pcie_errors judged
from it where sysfs has no AER counters, and `hwtune snapshot` recording it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_nvml import ScriptedRunner
from hwtune.facts import FactsBuilder
from hwtune.host import Host
from hwtune.probe import health
from hwtune.probe.lspci import LspciDevice, link_errors, nvidia_link_errors, parse_lspci
from hwtune.run import cmd_name
from report_helpers import check_row

CASES = Path(__file__).parent / "fixtures" / "lspci"


def capture(case: str) -> str:
    return (CASES / case / "cmd" / "lspci_-vvv.txt").read_text()


# -- the parser, table-driven over the real captures --------------------------------------

@pytest.mark.parametrize("case, devices", [
    ("rtx3090-rk3568-rxerr", [("0002:21:00.0", "VGA compatible controller",
                               "NVIDIA Corporation GA102 [GeForce RTX 3090]")]),
    ("rtx3090-rk3588-masked-only", [("0000:01:00.0", "VGA compatible controller",
                                     "NVIDIA Corporation GA102 [GeForce RTX 3090]")]),
    ("gtx1650s-p5q-rootport", [
        ("0000:00:01.0", "PCI bridge", "Intel Corporation 4 Series Chipset PCI Express Root Port"),
        ("0000:01:00.0", "VGA compatible controller", "NVIDIA Corporation TU116 [GeForce GTX 1650 SUPER]"),
        ("0000:02:00.0", "Ethernet controller", "Realtek Semiconductor Co., Ltd. RTL8111/8168/8211/8411 "
                                                "PCI Express Gigabit Ethernet Controller")]),
])
def test_headers(case, devices):
    assert [(d.address, d.pci_class, d.name) for d in parse_lspci(capture(case))] == devices


@pytest.mark.parametrize("case, address, field, bits", [
    ("rtx3090-rk3568-rxerr", "0002:21:00.0", "CESta", ["RxErr", "AdvNonFatalErr"]),
    ("rtx3090-rk3568-rxerr", "0002:21:00.0", "CEMsk", ["AdvNonFatalErr"]),
    ("rtx3090-rk3568-rxerr", "0002:21:00.0", "UESta", []),
    ("rtx3090-rk3568-rxerr", "0002:21:00.0", "UESvrt", ["DLP", "SDES", "FCP", "RxOF", "MalfTLP"]),
    ("rtx3090-rk3588-masked-only", "0000:01:00.0", "CESta", ["AdvNonFatalErr"]),
    # lspci 3.10+ wraps UESvrt onto continuation lines: UncorrIntErr+ sits on the second one
    ("gtx1650s-p5q-rootport", "0000:01:00.0", "UESvrt", ["DLP", "SDES", "FCP", "RxOF", "MalfTLP", "UncorrIntErr"]),
    ("gtx1650s-p5q-rootport", "0000:01:00.0", "CEMsk", ["AdvNonFatalErr", "HeaderOF"]),
    ("gtx1650s-p5q-rootport", "0000:02:00.0", "CESta", ["RxErr", "AdvNonFatalErr"]),
])
def test_aer_bits(case, address, field, bits):
    device = {d.address: d for d in parse_lspci(capture(case))}[address]
    assert device.aer[field] == bits


def test_bridge_range_and_upstream_port():
    devices = parse_lspci(capture("gtx1650s-p5q-rootport"))
    bridge = devices[0]
    assert (bridge.secondary, bridge.subordinate) == (1, 1)
    links = nvidia_link_errors(devices)
    assert [(x["address"], x["role"], x["gpu"]) for x in links] == [
        ("0000:01:00.0", "gpu", "0000:01:00.0"), ("0000:00:01.0", "upstream port", "0000:01:00.0")]
    assert links[1]["aer"] is False  # this ICH-era root port has no AER capability
    # the Realtek NIC behind another port logged RxErr+: not a GPU link, not listed
    assert "0000:02:00.0" not in {x["address"] for x in links}


@pytest.mark.parametrize("case, correctable, masked, evidence", [
    ("rtx3090-rk3568-rxerr", ["RxErr"], ["AdvNonFatalErr"],
     ["CESta: RxErr+ BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr+"]),
    ("rtx3090-rk3588-masked-only", [], ["AdvNonFatalErr"], []),
    ("gtx1650s-p5q-rootport", [], ["AdvNonFatalErr"], []),
])
def test_gpu_link_errors(case, correctable, masked, evidence):
    gpu = nvidia_link_errors(parse_lspci(capture(case)))[0]
    assert (gpu["correctable"], gpu["fatal"], gpu["nonfatal"], gpu["masked"], gpu["evidence"]) == (
        correctable, [], [], masked, evidence)


def test_uncorrectable_split_by_severity():
    # No real capture of a GPU link with a set UESta bit was found (tests/fixtures/lspci/SOURCES.md);
    # this constructed status tests the split only: UESvrt `Name+` is fatal, a masked bit is not judged.
    device = LspciDevice("0000:01:00.0", "3D controller", "NVIDIA Corporation GA100",
                         aer={"UESta": ["DLP", "CmpltTO", "UnsupReq"], "UEMsk": ["UnsupReq"],
                              "UESvrt": ["DLP", "SDES"]},
                         lines={"UESta": "UESta: DLP+ CmpltTO+ UnsupReq+", "UESvrt": "UESvrt: DLP+ SDES+"})
    got = link_errors(device)
    assert (got["fatal"], got["nonfatal"], got["masked"]) == (["DLP"], ["CmpltTO"], ["UnsupReq"])
    assert got["evidence"] == ["UESta: DLP+ CmpltTO+ UnsupReq+", "UESvrt: DLP+ SDES+"]


def test_access_denied_is_seen():
    # linuxhw-style captures taken without root print this for every device
    devices = parse_lspci("01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GP104 [10de:1b80] (rev a1)\n"
                          "\tCapabilities: <access denied>\n")
    assert devices[0].caps_denied and devices[0].is_nvidia_gpu and devices[0].aer == {}


# -- malformed input never crashes ---------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_any_text(text):
    nvidia_link_errors(parse_lspci(text))


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(["rtx3090-rk3568-rxerr", "gtx1650s-p5q-rootport"]), data=st.data())
def test_mangled_captures(case, data):
    lines = capture(case).splitlines(keepends=True)
    keep = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    cut = data.draw(st.integers(0, 40))
    text = "".join(line[:-cut or None] if k else "" for line, k in zip(lines, keep, strict=True))
    for link in nvidia_link_errors(parse_lspci(text)):
        for bit in link["correctable"] + link["fatal"] + link["nonfatal"] + link["masked"]:
            assert f"{bit}+" in text  # a bit is reported set only where the text shows it set


# -- the probe and the check ---------------------------------------------------------------

def test_check_warns_on_a_set_correctable_bit():
    row = check_row(CASES / "rtx3090-rk3568-rxerr", "gpu.pcie_errors")
    assert row["status"] == "WARN"
    assert row["observed"] == ["GPU 0002:21:00.0: lspci AER correctable RxErr (masked AdvNonFatalErr: usual on a "
                               "healthy link); CESta: RxErr+ BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr+"]
    assert "0002:21:00.0" in row["fix"]


@pytest.mark.parametrize("case, lines", [
    ("rtx3090-rk3588-masked-only", ["GPU 0000:01:00.0: lspci AER status clear (masked AdvNonFatalErr: usual on "
                                    "a healthy link)"]),
    ("gtx1650s-p5q-rootport", ["GPU 0000:01:00.0: lspci AER status clear (masked AdvNonFatalErr: usual on a "
                               "healthy link)",
                               "0000:00:01.0 (upstream port of GPU 0000:01:00.0): no AER capability in lspci -vvv"]),
])
def test_check_passes_masked_only(case, lines):
    row = check_row(CASES / case, "gpu.pcie_errors")
    assert (row["status"], row["observed"]) == ("PASS", lines)


def test_probe_reads_lspci_only_without_sysfs_counters():
    runner = ScriptedRunner({("lspci", "-vvv"): capture("rtx3090-rk3568-rxerr")})
    b = FactsBuilder()
    b.set("pci.aer", [{"address": "0000:01:00.0", "role": "gpu", "gpu": "0000:01:00.0", "correctable": 0}])
    health.probe_lspci_aer(Host(CASES / "rtx3090-rk3568-rxerr", runner=runner), b)
    assert runner.asked == [] and b.values["pci.lspci_aer"] is None

    b = FactsBuilder()
    b.unknown("pci.aer", "no sysfs PCI tree to read AER counters from")
    health.probe_lspci_aer(Host(CASES / "rtx3090-rk3568-rxerr", runner=runner), b)
    assert runner.asked == [("lspci", "-vvv")]
    assert [x["address"] for x in b.values["pci.lspci_aer"]] == ["0002:21:00.0"]


def test_probe_reason_when_not_recorded(tmp_path):
    b = FactsBuilder()
    b.unknown("pci.aer", "no sysfs PCI tree to read AER counters from")
    health.probe_lspci_aer(Host(tmp_path), b)
    assert b.values["pci.lspci_aer"] is None
    assert "cmd/lspci_-vvv" in b.unavailable["pci.lspci_aer"]


def test_snapshot_records_lspci_when_installed(monkeypatch):
    host = Host("/")
    monkeypatch.setattr(health.shutil, "which", lambda name: None)
    assert health.snapshot_commands(host) == []
    monkeypatch.setattr(health.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert health.snapshot_commands(host) == [["lspci", "-vvv"]]
    assert cmd_name(["lspci", "-vvv"]) == "lspci_-vvv"  # replayed from cmd/lspci_-vvv.txt
    assert health.snapshot_commands(Host(CASES / "rtx3090-rk3568-rxerr")) == []  # never live under --root
