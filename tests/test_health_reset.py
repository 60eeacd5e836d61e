"""gpu.readings FAILs a GPU whose driver asks for a reset ("GPU Reset Status:
Reset Required: Yes" in nvidia-smi, NVML's GPU recovery action), with the
reset command; read through the NVML scenario fake, and on the real captures
(which all read "No")."""

from __future__ import annotations

from pathlib import Path

import fake_nvml
from hwtune.facts import FactsBuilder
from hwtune.host import Host
from hwtune.probe import gpu
from hwtune.profile import load as load_profile
from hwtune.verdict import evaluate
from report_helpers import check_row

SICK = Path(__file__).parent / "fixtures" / "sick"


def probe_with(monkeypatch, tmp_path, scenario):
    fake_nvml.use_fake(monkeypatch, scenario)
    fake_nvml.write_a100_box(tmp_path)
    b = FactsBuilder()
    gpu.probe_nvidia(Host(tmp_path, runner=fake_nvml.ScriptedRunner()), b, use_nvml=True)
    return b.build()


def test_nvml_recovery_action_is_read(tmp_path, monkeypatch):
    facts = probe_with(monkeypatch, tmp_path, fake_nvml.reset_required_a100())
    assert [g.health.reset_required for g in facts.gpus] == [False] * 5 + [True, True, None]


def test_reset_required_fails_with_the_reset_command(tmp_path, monkeypatch):
    facts = probe_with(monkeypatch, tmp_path, fake_nvml.reset_required_a100())
    row = {r.id: r for r in evaluate(facts, load_profile("gpu-inference")).results}["gpu.readings"]
    assert row.status.value == "FAIL"
    assert "reset required on 00000000:90:00.0, 00000000:B7:00.0" in row.message
    assert row.observed == ["GPU5 00000000:90:00.0: reset required (GPU Reset Status: Reset Required: Yes)",
                            "GPU6 00000000:B7:00.0: reset required (GPU Reset Status: Reset Required: Yes)"]
    assert "nvidia-smi -r -i 00000000:90:00.0; nvidia-smi -r -i 00000000:B7:00.0" in row.fix
    assert row.fix.startswith("for 00000000:90:00.0, 00000000:B7:00.0: reset required: drain the GPU")


def test_lost_and_reset_together(tmp_path, monkeypatch):
    scenario = fake_nvml.reset_required_a100()
    scenario.gpus[4]["handle"] = fake_nvml.REAL.NVMLError_GpuIsLost()
    facts = probe_with(monkeypatch, tmp_path, scenario)
    row = {r.id: r for r in evaluate(facts, load_profile("gpu-inference")).results}["gpu.readings"]
    assert row.status.value == "FAIL"
    assert "cannot read GPU4" in row.message and "reset required on 00000000:90:00.0" in row.message
    assert "a lost GPU: drain the host, reboot" in row.fix and "nvidia-smi -r -i 00000000:90:00.0" in row.fix


def test_healthy_nvml_passes(tmp_path, monkeypatch):
    facts = probe_with(monkeypatch, tmp_path, fake_nvml.eight_a100())
    row = {r.id: r for r in evaluate(facts, load_profile("gpu-inference")).results}["gpu.readings"]
    assert row.status.value == "PASS"


def test_real_captures_read_reset_not_required():
    # "Reset Required : No" in the recorded nvidia-smi -q text of the A10 and the 8x H100
    for case, gpus in (("a10-remapped-rows-pending", 1), ("h100x8-hw-power-brake-slowdown", 8)):
        row = check_row(SICK / case, "gpu.readings")
        assert (row["status"], row["observed"]) == ("PASS", f"{gpus} GPU(s) answer every reading"), case
