"""The real-machine classes the health checks read wrong (issue 24 items 4 and 5), each on a
capture built here from the repository's own fixtures: what a user of `hwtune check --root`
would see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, SICK
from hwtune import profile as profiles
from hwtune.host import Host
from hwtune.probe import probe_facts
from hwtune.probe.cpu import arch_of, parse_cpuinfo
from hwtune.verdict import evaluate
from report_helpers import invoke
from test_health_evidence import judge, tree

A10_Q = (SICK / "a10-remapped-rows-pending" / "cmd" / "nvidia-smi_-q.txt").read_text()


def _q(root: Path, text: str, name: str = "nvidia-smi_-q.txt") -> Path:
    return tree(root, {f"cmd/{name}": text})


# -- nvidia-smi -q text without its banner --------------------------------------------------------

@pytest.mark.parametrize("cut", ["GPU 00000000:07:00.0", "Timestamp", "    Remapped Rows"])
def test_a_q_excerpt_without_the_banner_is_read(tmp_path, cut):
    """Pasted into a ticket, cut at Timestamp, at the GPU line or at a section: the pending
    remap still FAILs."""
    excerpt = A10_Q[A10_Q.index(cut):]
    row = judge(_q(tmp_path, excerpt))["gpu.row_remap"]
    assert row["status"] == "FAIL" and "pending yes" in row["observed"][0]


def test_text_that_is_not_q_output_says_could_not_parse(tmp_path):
    rows = judge(_q(tmp_path, "hello\nthis is a support ticket\n"))
    message = rows["gpu.row_remap"]["message"]
    assert "could not parse it as nvidia-smi -q output" in message and "not recorded" not in message.split(";")[-1]


@pytest.mark.parametrize("name", ["nvidia-smi_-q.txt", "nvidia-smi_-a.txt", "nvidia-smi_-q.err"])
def test_unable_to_determine_the_device_handle_recorded_as_q_output_is_a_lost_gpu(tmp_path, name):
    text = "Unable to determine the device handle for gpu 0000:3B:00.0: Unknown Error\n"
    text = text.replace("for gpu ", "for GPU") if name.endswith(".err") else A10_Q + text
    row = judge(_q(tmp_path, text, name))["gpu.readings"]
    assert row["status"] == "FAIL" and "0000:3B:00.0" in row["fix"]
    assert "Unable to determine the device handle: Unknown Error" in " ".join(row["observed"])


# -- the GPU asks for a reset, or a reboot ----------------------------------------------------------

def test_q_recovery_action_node_reboot_fails_with_the_reboot_fix(tmp_path):
    text = A10_Q.replace("    Remapped Rows\n", "    GPU Recovery Action                   : Node Reboot Required\n"
                         "    Remapped Rows\n", 1)
    row = judge(_q(tmp_path, text))["gpu.readings"]
    assert row["status"] == "FAIL" and "GPU Recovery Action: Node Reboot Required" in row["observed"][0]
    assert "node reboot required: drain the host and reboot it" in row["fix"] and "nvidia-smi -r" not in row["fix"]


@pytest.mark.parametrize("action, fix", [("Reboot", "node reboot required"), ("Reset", "nvidia-smi -r"),
                                         ("Drain and Reset", "nvidia-smi -r")])
def test_q_recovery_action_as_nvidia_smi_spells_it_fails(tmp_path, action, fix):
    # nvidia-smi -q writes NVML's actions short: "Reboot" is a GPU that serves again only after
    # the node reboots, never a healthy one
    text = A10_Q.replace("    Remapped Rows\n", f"    GPU Recovery Action                   : {action}\n"
                         "    Remapped Rows\n", 1)
    row = judge(_q(tmp_path, text))["gpu.readings"]
    assert row["status"] == "FAIL" and f"GPU Recovery Action: {action}" in row["observed"][0]
    assert fix in row["fix"]


@pytest.mark.parametrize("action", ["None", "Drain P2P"])
def test_q_recovery_action_without_a_reset_passes(tmp_path, action):
    text = A10_Q.replace("    Remapped Rows\n", f"    GPU Recovery Action                   : {action}\n"
                         "    Remapped Rows\n", 1)
    assert judge(_q(tmp_path, text))["gpu.readings"]["status"] == "PASS"


def test_q_reset_required_yes_fails_with_the_reset_fix(tmp_path):
    text = A10_Q.replace("    Remapped Rows\n",
                         "    GPU Reset Status\n        Reset Required                    : Yes\n"
                         "        Drain and Reset Recommended       : No\n    Remapped Rows\n", 1)
    row = judge(_q(tmp_path, text))["gpu.readings"]
    assert row["status"] == "FAIL" and "nvidia-smi -r -i 00000000:07:00.0" in row["fix"]


def test_an_nvrm_reset_line_without_an_xid_fails_with_the_reset_fix(tmp_path):
    root = tree(tmp_path, {"cmd/dmesg.txt": "[ 10.000000] NVRM: GPU0 nvCheckOkFailedNoLog: Check failed: Reset "
                           "required [NV_ERR_RESET_REQUIRED] (0x00000062) returned from _gpushareddataSendDataPollRpc"
                           "\n"})
    rows = judge(root)
    assert rows["gpu.readings"]["status"] == "FAIL"
    assert "GPU0 (the driver's numbering)" in rows["gpu.readings"]["message"]
    assert "drain the GPU" in rows["gpu.readings"]["fix"]
    # the GPU is there: no check calls the host one without an NVIDIA GPU
    assert all("no NVIDIA GPU on this host" not in str(r["message"]) for r in rows.values())
    assert "NVIDIA GPU present, not readable" in rows["nvidia.persistenced"]["message"]


# -- Xid fixes follow NVIDIA's resolution bucket ---------------------------------------------------

@pytest.mark.parametrize("code, detail, fix, not_in", [
    (79, "GPU has fallen off the bus.", "drain the host and restart the node", "nvidia-smi -r"),
    (119, "Timeout after 6s of waiting for RPC response from GPU0 GSP!", "sudo nvidia-smi -r -i 0000:3b:00", None),
    (154, "GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)", "restart the node",
     "nvidia-smi -r"),
    (154, "GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset Required)", "sudo nvidia-smi -r", None),
    (13, "Graphics SM Warp Exception", "restart the application that hit it", "nvidia-smi -r"),
    (63, "Row Remapper: New row marked for remapping, reset gpu to activate.", "waits for a GPU reset", None),
])
def test_each_xid_gets_the_fix_of_its_bucket(tmp_path, code, detail, fix, not_in):
    line = f"[ 10.000000] NVRM: Xid (PCI:0000:3b:00): {code}, pid='<unknown>', name=<unknown>, {detail}\n"
    row = judge(tree(tmp_path, {"cmd/dmesg.txt": line}))["gpu.xid"]
    assert fix in row["fix"] and (not_in is None or not_in not in row["fix"])


# -- one event counted once; fixes scaled to the finding ---------------------------------------------

def test_a_fatal_machine_check_and_its_panic_are_one_event(tmp_path):
    root = tree(tmp_path, {"cmd/dmesg.txt": "[ 10.000000] mce: [Hardware Error]: CPU 0: Machine Check Exception: "
                           "5 Bank 4: b200000000070f0f\n"
                           "[ 10.000001] Kernel panic - not syncing: Fatal machine check\n"})
    row = judge(root)["host.machine_check"]
    assert row["status"] == "FAIL" and row["message"].startswith("1 uncorrected")
    alone = judge(tree(tmp_path / "alone", {"cmd/dmesg.txt": "[ 1.0] Kernel panic - not syncing: Fatal machine "
                                                             "check\n"}))["host.machine_check"]
    assert alone["status"] == "FAIL"


RETIRED = """==============NVSMI LOG==============
Driver Version                            : 470.82.01
Attached GPUs                             : 1
GPU 00000000:3B:00.0
    Product Name                          : Tesla V100-SXM2-32GB
    Retired Pages
        Single Bit ECC                    : {sbe}
        Double Bit ECC                    : 0
        Pending Page Blacklist            : {pending}
"""


def test_one_retired_single_bit_page_with_nothing_pending_does_not_start_with_drain(tmp_path):
    row = judge(_q(tmp_path, RETIRED.format(sbe=1, pending="No")))["gpu.retired_pages"]
    assert row["status"] == "WARN" and not row["fix"].split(": ", 1)[1].startswith("drain")
    assert "nothing to do now" in row["fix"]
    pending = judge(_q(tmp_path / "p", RETIRED.format(sbe=1, pending="Yes")))["gpu.retired_pages"]
    assert pending["status"] == "FAIL" and "drain it and reboot" in pending["fix"]


def test_a_vm_gpu_host_max_unknown_is_not_blamed_on_a_sensor(tmp_path):
    text = A10_Q.replace("    Remapped Rows\n", "    GPU Virtualization Mode\n        Virtualization Mode       "
                         "        : Pass-Through\n    PCI\n        GPU Link Info\n            PCIe Generation\n"
                         "                Host Max                  : Unknown Error\n    Remapped Rows\n", 1)
    row = judge(_q(tmp_path, text))["gpu.readings"]
    assert row["status"] == "PASS" and "hypervisor hides the slot's capability; not a fault" in row["observed"][0]
    fan = judge(_q(tmp_path / "fan", A10_Q.replace("    Remapped Rows\n", "    Fan Speed                     "
                                                     "        : Unknown Error\n    Remapped Rows\n", 1)))
    assert fan["gpu.readings"]["status"] == "WARN" and "sensor, fan" in fan["gpu.readings"]["message"]


# -- a host whose only GPU record is the default table ------------------------------------------------

TABLE = """+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 535.104.05             Driver Version: 535.104.05   CUDA Version: 12.2     |
|-----------------------------------------+----------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |         Memory-Usage | GPU-Util  Compute M. |
|=========================================+======================+======================|
|   0  NVIDIA A100-SXM4-80GB          Off | 00000000:07:00.0 Off |                    0 |
| N/A   33C    P0              61W / 400W |      4MiB / 81920MiB |      0%      Default |
+-----------------------------------------+----------------------+----------------------+
|   1  NVIDIA A100-SXM4-80GB          Off | 00000000:0B:00.0 Off |                    0 |
| N/A   31C    P0              60W / 400W |      4MiB / 81920MiB |      0%      Default |
+-----------------------------------------+----------------------+----------------------+
"""


def test_a_table_only_host_is_a_gpu_host_judged_from_the_table(tmp_path):
    root = _q(tmp_path, TABLE, "nvidia-smi.txt")
    facts = probe_facts(Host(root))
    rows = {r.id: r.to_json() for r in evaluate(facts, profiles.load("gpu-inference")).results}
    assert rows["gpu.readings"]["status"] == "PASS" and rows["gpu.readings"]["observed"] == "2 GPU(s) answer every " \
        "reading"
    assert [g.bus_id for g in facts.gpus] == ["00000000:07:00.0", "00000000:0B:00.0"]
    from hwtune.render import host_summary

    assert "no NVIDIA GPU" not in host_summary(facts) and "2x NVIDIA A100-SXM4-80GB" in host_summary(facts)
    # persistence off, CPU unknown: the WARN says nothing of sockets it does not know
    persist = rows["nvidia.persistenced"]
    assert persist["status"] == "WARN" and "socket" not in persist["message"]


# -- CPUs: cpufreq's per-CPU layout, the architecture, throttle counts per core ----------------------

def test_per_cpu_cpufreq_layout_is_read(tmp_path):
    files = {}
    for n in range(4):
        files[f"sys/devices/system/cpu/cpu{n}/cpufreq/scaling_governor"] = "ondemand\n"
        files[f"sys/devices/system/cpu/cpu{n}/cpufreq/scaling_available_governors"] = "ondemand performance\n"
        files[f"sys/devices/system/cpu/cpu{n}/cpufreq/scaling_driver"] = "acpi-cpufreq\n"
    root = tree(tmp_path, files)
    (root / "sys/devices/system/cpu/cpufreq").mkdir()
    row = judge(root)["cpu.governor"]
    assert row["status"] == "FAIL" and "cpu0-3" in row["message"]


@pytest.mark.parametrize("cpuinfo, arch", [
    ("processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc_zicntr_zicsr_zifencei_zihpm\nmmu\t\t: sv39\n"
     "uarch\t\t: sifive,u74-mc\n", "riscv64"),
    ("processor\t: 0\nisa\t\t: rv32imac\n", "riscv32"),
    ("system type\t\t: generic-loongson-machine\n\nprocessor\t\t: 0\npackage\t\t\t: 0\n"
     "CPU Family\t\t: Loongson-64bit\nModel Name\t\t: Loongson-3A5000LL\nISA\t\t\t: loongarch32 loongarch64\n"
     "Features\t\t: cpucfg lam ual fpu lsx lasx crc32\n", "loongarch64"),
    ("vendor_id       : IBM/S390\n# processors    : 2\nprocessor 0: version = FF\n\nprocessor\t: 0\n", "s390x"),
    ("processor\t: 0\ncpu\t\t: POWER9, altivec supported\n", "ppc64le"),
    ("processor\t: 0\nflags\t\t: fpu lm avx2\n", "x86_64"),
])
def test_cpu_arch_as_cpuinfo_states_it(cpuinfo, arch):
    assert arch_of(parse_cpuinfo(cpuinfo)) == arch


def test_throttle_counts_per_physical_core_not_per_sibling(tmp_path):
    files = {}
    for cpu in (0, 1):  # SMT siblings of core 0: one counter, shown on both
        base = f"sys/devices/system/cpu/cpu{cpu}"
        files[f"{base}/thermal_throttle/core_throttle_count"] = "156\n"
        files[f"{base}/thermal_throttle/package_throttle_count"] = "7\n"
        files[f"{base}/topology/core_id"] = "0\n"
        files[f"{base}/topology/physical_package_id"] = "0\n"
    row = judge(tree(tmp_path, files))["cpu.thermal_throttle"]
    assert row["observed"][0].startswith("core throttle events 156 (per physical core); package 0: 7")


# -- OOM: the killer ran, its kill line missing ----------------------------------------------------------

def test_invoked_oom_killer_alone_is_oom_evidence(tmp_path):
    root = tree(tmp_path, {"cmd/dmesg.txt": "[ 5.000000] TIMER invoked oom-killer: gfp_mask=0x100cca("
                           "GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0\n"})
    row = judge(root)["host.oom"]
    assert row["status"] == "WARN" and "the OOM killer ran 1 time(s)" in row["message"]
    assert "invoked by TIMER" in row["fix"]


# -- masked AER status bits -------------------------------------------------------------------------

def test_masked_aer_errors_warn_and_say_masked(tmp_path):
    text = (FIXTURES / "lspci" / "rtx3090-rk3588-masked-only" / "cmd" / "lspci_-vvv.txt").read_text()
    text = text.replace("CESta:\tRxErr- BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr+",
                        "CESta:\tRxErr+ BadTLP+ BadDLLP- Rollover- Timeout+ AdvNonFatalErr+", 1)
    text = text.replace("CEMsk:\tRxErr- BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr+",
                        "CEMsk:\tRxErr+ BadTLP+ BadDLLP+ Rollover+ Timeout+ AdvNonFatalErr+", 1)
    row = judge(tree(tmp_path, {"cmd/lspci_-vvv.txt": text}))["gpu.pcie_errors"]
    assert row["status"] == "WARN"
    assert "masked (recorded, not reported to the OS): RxErr, BadTLP, Timeout" in row["observed"][0]
    assert "CEMsk:" in row["observed"][0]


# -- what the summary says --------------------------------------------------------------------------

def test_a_report_where_every_check_skipped_says_nothing_judged(tmp_path):
    root = tree(tmp_path, {"etc/hostname": "empty\n"})
    res = invoke("check", "--root", root, "--json")
    doc = json.loads(res.stdout)
    assert res.exit_code == 0 and doc["status"] == "nothing judged" and set(doc["counts"]) >= {"SKIP"}
    assert doc["counts"]["PASS"] == 0
    text = invoke("check", "--root", root)
    assert "NOTHING JUDGED:" in text.stdout and "PASS:" not in text.stdout


def test_root_on_a_folder_that_is_not_a_snapshot_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    for command in (["check"], ["facts"]):
        res = invoke(*command, "--root", tmp_path / "empty")
        assert res.exit_code == 2 and "not a snapshot" in res.output


def test_thp_always_has_its_own_text(tmp_path):
    root = tree(tmp_path, {"sys/kernel/mm/transparent_hugepage/enabled": "[always] madvise never\n"})
    row = judge(root, "cpu-inference")["mm.thp"]
    assert row["status"] == "WARN" and "compaction" in row["message"] and "4 KiB" not in row["message"]
    never = judge(tree(tmp_path / "n", {"sys/kernel/mm/transparent_hugepage/enabled": "always madvise [never]\n"}),
                  "cpu-inference")["mm.thp"]
    assert "4 KiB pages" in never["message"]
