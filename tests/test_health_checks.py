"""Health checks on the twelve real sick hosts (tests/fixtures/sick, EXPECTED.md there),
through `hwtune check --root CASE --profile gpu-inference --json`, and on the NVML fake."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import fake_nvml
from conftest import snapshot
from hwtune.cli import app
from hwtune.facts import Facts, FactsBuilder
from hwtune.host import Host
from hwtune.probe import gpu
from hwtune.profile import load as load_profile
from hwtune.verdict import evaluate

runner = CliRunner()
HEALTH = ("gpu.xid", "gpu.ecc_errors", "gpu.row_remap", "gpu.retired_pages", "gpu.throttle", "gpu.pcie_errors",
          "gpu.readings", "host.machine_check", "host.oom", "cpu.thermal_throttle")


def check(case: str) -> dict:
    res = runner.invoke(app, ["check", "--root", str(snapshot(case)), "--profile", "gpu-inference", "--json"],
                        catch_exceptions=False)
    report = json.loads(res.stdout)
    assert res.exit_code == (1 if report["status"] in ("fail", "error") else 0)
    return report


def rows(report: dict) -> dict[str, dict]:
    return {r["id"]: r for r in report["results"]}


# case -> (the report's status, {check: status} the evidence must give)
EXPECTED = {
    "xid48-dbe-xid63-rowremap-xid94": ("fail", {"gpu.xid": "FAIL"}),
    "xid13-xid43-app-faults": ("warn", {"gpu.xid": "WARN"}),
    "a10-remapped-rows-pending": ("fail", {"gpu.row_remap": "FAIL", "gpu.ecc_errors": "PASS", "gpu.throttle": "PASS",
                                           "gpu.pcie_errors": "PASS"}),
    "h100x8-hw-power-brake-slowdown": ("fail", {"gpu.throttle": "FAIL", "gpu.pcie_errors": "WARN",
                                                "gpu.ecc_errors": "PASS", "gpu.row_remap": "PASS"}),
    "geforce-fan-err": ("warn", {"gpu.readings": "WARN"}),
    "v100-retired-pages-pending": ("fail", {"gpu.retired_pages": "FAIL", "gpu.ecc_errors": "FAIL"}),
    "p100-aggregate-sbe-only": ("warn", {"gpu.ecc_errors": "PASS", "gpu.retired_pages": "PASS"}),
    "t4-pcie-width-x8-of-x16": ("warn", {"gpu.pcie_link": "WARN", "gpu.pcie_errors": "PASS"}),
    "xid79-fallen-off-bus-gpu-lost": ("fail", {"gpu.xid": "FAIL", "gpu.readings": "FAIL"}),
    "host-mce-edac-ce-sbridge": ("warn", {"host.machine_check": "WARN"}),
    "host-oom-killed-process": ("warn", {"host.oom": "WARN"}),
    "gpu-host-pcie-aer-correctable": ("warn", {"gpu.pcie_errors": "WARN"}),
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_sick_host_statuses(case):
    status, checks = EXPECTED[case]
    report = check(case)
    got = rows(report)
    assert report["status"] == status
    assert {cid: got[cid]["status"] for cid in checks} == checks
    for cid in HEALTH:  # every finding names its fix; every SKIP says why
        row = got[cid]
        assert row["message"] if row["status"] == "SKIP" else True
        assert row["fix"] if row["status"] in ("FAIL", "WARN") else row["fix"] is None


def test_application_faults_warn_and_never_fail():
    got = rows(check("xid13-xid43-app-faults"))
    assert not any(r["status"] == "FAIL" for r in got.values())
    xid = got["gpu.xid"]
    assert "Xid 13 x629" in xid["observed"][0] and "Xid 43 x7" in xid["observed"][0]
    assert "0000:38:00" in xid["fix"]


def test_xid_evidence_names_the_gpu_the_line_and_its_time():
    xid = rows(check("xid48-dbe-xid63-rowremap-xid94"))["gpu.xid"]
    (line,) = xid["observed"]
    assert line.startswith("GPU 0000:19:00: Xid 48 x1 (Double Bit ECC Error), Xid 63 x1")
    assert "Xid 94 x9" in line and "[2024-11-15T12:02:03,470068+00:00] NVRM: Xid (PCI:0000:19:00): 48" in line
    assert xid["fix"].startswith("for 0000:19:00: drain the GPU and reset it when idle (sudo nvidia-smi -r -i "
                                 "0000:19:00)")


def test_fallen_off_the_bus_names_the_uuid_and_the_reading_fails():
    got = rows(check("xid79-fallen-off-bus-gpu-lost"))
    assert "GPU-979426f2-893a-7cbb-c4cf-81472f89a462" in got["gpu.xid"]["observed"][0]
    assert "RESTART_BM" in got["gpu.xid"]["observed"][0]
    assert "Unable to determine the device handle for GPU0000:A1:00.0" in got["gpu.readings"]["observed"][0]


def test_fallen_off_the_bus_without_an_xid_line_fails(tmp_path):
    (tmp_path / "cmd").mkdir()
    (tmp_path / "cmd" / "dmesg.txt").write_text(
        "[  269.516977] NVRM: GPU at 0000:01:00.0 has fallen off the bus.\n"
        "[  269.516986] NVRM: os_pci_init_handle: invalid context!\n")
    report = json.loads(runner.invoke(app, ["check", "--root", str(tmp_path), "--profile", "gpu-inference",
                                            "--json"]).stdout)
    xid = rows(report)["gpu.xid"]
    assert xid["status"] == "FAIL" and "GPU 0000:01:00: Xid 79 x1" in xid["observed"][0]


def test_power_brake_shows_the_crushed_clock_and_the_replays():
    got = rows(check("h100x8-hw-power-brake-slowdown"))
    assert got["gpu.throttle"]["observed"][0] == (
        "GPU0 00000000:19:00.0: hw_slowdown, hw_power_brake_slowdown; SM 86 of 1980 MHz; 29 C")
    assert len(got["gpu.throttle"]["observed"]) == 8
    assert "GPU6 00000000:CB:00.0: 82 PCIe replays since reset" in got["gpu.pcie_errors"]["observed"]


def test_oom_names_the_killed_processes():
    oom = rows(check("host-oom-killed-process"))["host.oom"]
    assert oom["observed"][0] == "15784 (python3) at May 15 23:09:30"
    assert oom["fix"].startswith("check the memory of (resolved), python3")


def test_a_grep_capture_judges_xids_only(tmp_path):
    # `dmesg -T | grep NVRM` keeps no MCE, OOM, AER nor throttle line: those checks SKIP, never PASS
    (tmp_path / "cmd").mkdir()
    (tmp_path / "cmd" / "dmesg_-T_grep_NVRM.txt").write_text(
        (snapshot("xid79-fallen-off-bus-gpu-lost") / "cmd" / "dmesg.txt").read_text())
    got = rows(json.loads(runner.invoke(app, ["check", "--root", str(tmp_path), "--profile", "gpu-inference",
                                              "--json"]).stdout))
    assert got["gpu.xid"]["status"] == "FAIL"
    for check_id in ("host.oom", "host.machine_check", "gpu.pcie_errors", "cpu.thermal_throttle"):
        assert got[check_id]["status"] == "SKIP", got[check_id]
        assert "only the lines with 'NVRM'" in got[check_id]["message"], got[check_id]


def test_profile_can_make_application_faults_fail(tmp_path):
    profile = tmp_path / "strict.toml"
    profile.write_text('include = ["gpu-inference"]\n[checks."gpu.xid"]\napplication_severity = "fail"\n')
    report = json.loads(runner.invoke(app, ["check", "--root", str(snapshot("xid13-xid43-app-faults")),
                                            "--profile", str(profile), "--json"]).stdout)
    assert rows(report)["gpu.xid"]["status"] == "FAIL"


# -- live through the NVML fake: one fault per GPU, the lost one an error row ------------------

def test_sick_a100_through_nvml(tmp_path, monkeypatch):
    fake_nvml.use_fake(monkeypatch, fake_nvml.sick_a100())
    fake_nvml.write_a100_box(tmp_path)
    b = FactsBuilder()
    gpu.probe_nvidia(Host(tmp_path, runner=fake_nvml.ScriptedRunner()), b, use_nvml=True)
    report = evaluate(b.build(), load_profile("gpu-inference"))
    got = {r.id: r for r in report.results}
    assert got["gpu.row_remap"].status.value == "FAIL" and "00000000:0F:00.0" in got["gpu.row_remap"].fix
    assert got["gpu.throttle"].status.value == "FAIL" and "00000000:47:00.0" in got["gpu.throttle"].fix
    assert got["gpu.ecc_errors"].status.value == "FAIL" and "00000000:4E:00.0" in got["gpu.ecc_errors"].fix
    assert got["gpu.retired_pages"].status.value == "FAIL"
    assert got["gpu.pcie_errors"].status.value == "WARN"
    assert got["gpu.readings"].status.value == "FAIL" and "GPU is lost" in got["gpu.readings"].observed[0]


def test_healthy_eight_a100_pass_every_gpu_health_check(tmp_path, monkeypatch):
    fake_nvml.use_fake(monkeypatch, fake_nvml.eight_a100())
    fake_nvml.write_a100_box(tmp_path)
    b = FactsBuilder()
    gpu.probe_nvidia(Host(tmp_path, runner=fake_nvml.ScriptedRunner()), b, use_nvml=True)
    got = {r.id: r.status.value for r in evaluate(b.build(), load_profile("gpu-inference")).results}
    assert {cid: got[cid] for cid in ("gpu.ecc_errors", "gpu.row_remap", "gpu.retired_pages", "gpu.throttle",
                                      "gpu.pcie_errors", "gpu.readings")} == dict.fromkeys(
        ("gpu.ecc_errors", "gpu.row_remap", "gpu.retired_pages", "gpu.throttle", "gpu.pcie_errors", "gpu.readings"),
        "PASS")


def test_missing_sources_skip_with_the_reason():
    report = evaluate(Facts(), load_profile("gpu-inference"))
    got = {r.id: r for r in report.results}
    for cid in HEALTH:
        assert got[cid].status.value == "SKIP" and got[cid].message, cid


# -- thresholds, one GPU at a time ------------------------------------------------------------

@pytest.mark.parametrize("check_id, health, status", [
    ("gpu.retired_pages", dict(retired_pages_sbe=0, retired_pages_dbe=0, retired_pages_pending=False), "PASS"),
    ("gpu.retired_pages", dict(retired_pages_sbe=3, retired_pages_dbe=1, retired_pages_pending=False), "WARN"),
    ("gpu.retired_pages", dict(retired_pages_sbe=40, retired_pages_dbe=20, retired_pages_pending=False), "FAIL"),
    ("gpu.retired_pages", dict(retired_pages_sbe=0, retired_pages_dbe=1, retired_pages_pending=True), "FAIL"),
    ("gpu.ecc_errors", dict(ecc_volatile_uncorrected=0, ecc_aggregate_uncorrected=2), "WARN"),
    ("gpu.ecc_errors", dict(ecc_volatile_uncorrected=1, ecc_aggregate_uncorrected=2), "FAIL"),
    ("gpu.ecc_errors", dict(ecc_volatile_uncorrected=0, ecc_aggregate_uncorrected=0, ecc_aggregate_corrected=9),
     "PASS"),
    ("gpu.row_remap", dict(remapped_rows_pending=False, remapped_rows_failure=True), "FAIL"),
    ("gpu.throttle", dict(throttle_reasons=("sw_power_cap",)), "PASS"),
    ("gpu.throttle", dict(throttle_reasons=("sw_thermal_slowdown",)), "WARN"),
    ("gpu.throttle", dict(throttle_reasons=("hw_thermal_slowdown", "hw_slowdown")), "FAIL"),
    ("gpu.throttle", dict(throttle_reasons=("hw_slowdown",), clocks_sm_mhz=600, clocks_sm_max_mhz=1980), "FAIL"),
    ("gpu.throttle", dict(throttle_reasons=("hw_slowdown",), clocks_sm_mhz=1700, clocks_sm_max_mhz=1980), "WARN"),
    ("gpu.pcie_errors", dict(pcie_replays=0), "PASS"),
    ("gpu.readings", dict(unreadable=("fan_speed",)), "WARN"),
])
def test_one_gpu_thresholds(check_id, health, status):
    from hwtune.facts import Gpu, GpuHealth

    facts = Facts(values={"gpu.count": 1, "gpu.source": "nvml"},
                  gpus=(Gpu(index=0, bus_id="00000000:81:00.0", health=GpuHealth(**health)),))
    got = {r.id: r for r in evaluate(facts, load_profile("gpu-inference")).results}[check_id]
    assert got.status.value == status, got.message


def test_aer_counters_fatal_fails_and_links_without_a_gpu_are_left_out():
    aer = [{"address": "0000:81:00.0", "role": "gpu", "gpu": "0000:81:00.0", "correctable": 0, "fatal": 1},
           {"address": "0000:80:01.1", "role": "upstream port", "gpu": "0000:81:00.0", "correctable": 2}]
    events = [{"kind": "aer", "time": "1.0", "message": "pcieport 0000:00:1c.0: AER: Corrected error received",
               "port": "0000:00:1c.0", "severity": "Corrected"}]
    facts = Facts(values={"pci.aer": aer, "kernel.log_events": events, "kernel.log_source": "dmesg"})
    got = {r.id: r for r in evaluate(facts, load_profile("gpu-inference")).results}["gpu.pcie_errors"]
    assert got.status.value == "FAIL" and got.fix.startswith("look at 0000:81:00.0")
    assert not any("0000:00:1c.0" in line for line in got.observed)  # that port has no GPU behind it


def test_a_host_without_gpu_skips_the_gpu_log_checks():
    events = [{"kind": "aer", "time": "1.0", "message": "pcieport 0000:00:1c.0: AER: Corrected error received",
               "port": "0000:00:1c.0", "severity": "Corrected"}]
    facts = Facts(values={"gpu.count": 0, "kernel.log_events": events, "kernel.log_source": "dmesg"})
    got = {r.id: r for r in evaluate(facts, load_profile("gpu-inference")).results}
    assert (got["gpu.pcie_errors"].status.value, got["gpu.xid"].status.value) == ("SKIP", "SKIP")
    assert got["gpu.xid"].message == "no NVIDIA GPU on this host"
