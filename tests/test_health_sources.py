"""Health sources: the kernel log in its styles, the patterns, nvidia-smi text and
table, XML health fields, sysfs counters, NVML health through the scenario fake."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fake_nvml
from conftest import snapshot
from hwtune.facts import FactsBuilder, Gpu, GpuHealth
from hwtune.health.patterns import load_rules, match_events
from hwtune.health.xid import classify, load_catalogue
from hwtune.host import Host
from hwtune.probe import health, nvml
from hwtune.probe.kernellog import format_kmsg, parse_log, parse_log_line, read_kernel_log
from hwtune.probe.nvidia import parse_nvidia_smi_xml
from hwtune.probe.nvsmi_text import parse_nvidia_smi_table, parse_nvidia_smi_text

# -- kernel log: every timestamp style -> (time, message) ---------------------------------

@pytest.mark.parametrize("raw, time, message", [
    ("[  518.050606] Out of memory: Killed process 1 (x)", "518.050606", "Out of memory: Killed process 1 (x)"),
    ("[Fri Apr  5 21:29:39 2024] NVRM: GPU 0000:a1:00.0: GPU has fallen off the bus.",
     "Fri Apr  5 21:29:39 2024", "NVRM: GPU 0000:a1:00.0: GPU has fallen off the bus."),
    ("2024-11-15T12:02:03,470068+00:00 NVRM: Xid (PCI:0000:19:00): 48, x", "2024-11-15T12:02:03,470068+00:00",
     "NVRM: Xid (PCI:0000:19:00): 48, x"),
    ("kern  :warn  : 2025-01-21T02:21:33,498559+00:00 NVRM: Xid (PCI:0000:38:00): 13, y",
     "2025-01-21T02:21:33,498559+00:00", "NVRM: Xid (PCI:0000:38:00): 13, y"),
    ("[Apr 5 21:29] mce: [Hardware Error]: Machine check events logged", "Apr 5 21:29",
     "mce: [Hardware Error]: Machine check events logged"),
    ("[  +0.000010] EDAC MC0: 1 CE x", "+0.000010", "EDAC MC0: 1 CE x"),
    ("May 15 23:09:30 host kernel: [  518.050606] Out of memory: Killed process 15784 (python3) total-vm:1kB",
     "May 15 23:09:30", "Out of memory: Killed process 15784 (python3) total-vm:1kB"),
    ("Sep 19 16:18:02 bubz kernel: pcieport 0000:00:03.1: AER: x", "Sep 19 16:18:02", "pcieport 0000:00:03.1: AER: x"),
])
def test_log_line_styles(raw, time, message):
    assert parse_log_line(raw)[:2] == (time, message)


def test_continuation_lines_keep_the_time_before_them():
    lines = parse_log((snapshot("xid79-fallen-off-bus-gpu-lost") / "cmd" / "dmesg.txt").read_text())
    assert [ln.continued for ln in lines] == [False] * 5 + [True, True]
    assert lines[-1].time == "Fri Apr  5 21:29:39 2024"
    assert lines[-1].message == "NVRM: the NVIDIA kernel module is unloaded."


def test_syslog_keeps_only_kernel_lines():
    text = ("Sep 19 16:18:02 h systemd[1]: Started x.\n"
            "Sep 19 16:18:03 h kernel: [ 1.0] Out of memory: Killed process 7 (a) total-vm:1kB\n")
    assert [ln.message for ln in parse_log(text, kernel_only=True)] == [
        "Out of memory: Killed process 7 (a) total-vm:1kB"]


def test_kmsg_records_become_dmesg_text():
    records = ["6,1,5000000,-;first\n", "4,2,518050606,-;NVRM: Xid (PCI:0000:19:00): 79, gone\n SUBSYSTEM=pci\n"]
    assert format_kmsg(records) == "[    5.000000] first\n[  518.050606] NVRM: Xid (PCI:0000:19:00): 79, gone\n"


def test_read_records_reads_a_file_without_blocking_and_keeps_the_newest(tmp_path):
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "kmsg").write_bytes(b"a" * 40000)
    records, why = Host(tmp_path).read_records("/dev/kmsg", max_bytes=20000)
    assert why == "" and sum(len(r) for r in records) <= 20000 and records[-1].endswith("a")
    assert (Host(tmp_path).read_records("/dev/nothing", max_bytes=10)
            == (None, "/dev/nothing: No such file or directory"))


# -- each sick capture: the source found, and the events in it ----------------------------------

@pytest.mark.parametrize("case, source, kinds", [
    ("xid48-dbe-xid63-rowremap-xid94", "dmesg", {"xid": 11}),
    ("xid13-xid43-app-faults", "dmesg", {"xid": 636}),
    ("xid79-fallen-off-bus-gpu-lost", "dmesg", {"gpu_uuid": 1, "xid": 1, "gpu_off_bus": 1}),
    ("host-mce-edac-ce-sbridge", "dmesg", {"mce_logged": 1, "edac": 1}),
    ("host-oom-killed-process", "/var/log/kern.log", {"oom_kill": 4}),
    ("gpu-host-pcie-aer-correctable", "/var/log/kern.log", {"aer": 3, "pcie_bus_error": 3}),
])
def test_sick_logs_give_their_events(case, source, kinds):
    log = read_kernel_log(Host(snapshot(case)))
    events, dropped = match_events(log.lines)
    counts: dict[str, int] = {}
    for e in events:
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    assert (log.source, counts, dropped) == (source, kinds, 0)


def test_xid_events_carry_bus_code_and_time():
    events, _ = match_events(read_kernel_log(Host(snapshot("xid48-dbe-xid63-rowremap-xid94"))).lines)
    assert [(e["bus"], e["code"]) for e in events[:3]] == [("0000:19:00", "48"), ("0000:19:00", "63"),
                                                           ("0000:19:00", "94")]
    assert events[0]["time"] == "2024-11-15T12:02:03,470068+00:00"
    assert sum(1 for e in events if e["code"] == "94") == 9


def test_oom_names_with_parentheses_and_the_three_line_fallen_off_message():
    events, _ = match_events(read_kernel_log(Host(snapshot("host-oom-killed-process"))).lines)
    assert [(e["pid"], e["comm"]) for e in events] == [("15784", "python3"), ("15925", "(resolved)"),
                                                       ("15783", "python3"), ("15934", "(resolved)")]
    old = parse_log("[ 9.1] NVRM: The NVIDIA GPU 0000:02:00.0 (PCI ID: 10de:1c03)\n"
                    "[ 9.1] NVRM: installed in this system has\n"
                    "[ 9.1] NVRM: fallen off the bus and is not responding to commands.\n")
    events, _ = match_events(old)
    assert [(e["kind"], e["bus"]) for e in events] == [("gpu_off_bus", "0000:02:00.0")]


def test_noise_lines_make_no_event():
    events, _ = match_events(parse_log(
        "[1.0] nvidia-peermem nv_get_p2p_free_callback:127 ERROR detected invalid context, skipping\n"
        "[2.0] CPU0: Core temperature/speed normal\n[3.0] EDAC sbridge MC0: HANDLING MCE MEMORY ERROR\n"))
    assert events == []


def test_pattern_and_xid_catalogues_load():
    assert {r.kind for r in load_rules()} >= {"xid", "gpu_off_bus", "edac", "oom_kill", "aer", "cpu_throttle"}
    assert all(r.regex.pattern == r.pattern for r in load_rules())  # each shipped regex compiles
    catalogue = load_catalogue()
    assert catalogue[79].severity == "fail" and catalogue[79].nvidia_action == "RESTART_BM"
    assert [classify(c).severity for c in (13, 31, 43, 45)] == ["warn"] * 4
    assert [classify(c).severity for c in (48, 63, 64, 74, 79, 94, 95, 119, 120)] == ["fail"] * 9
    assert classify(4242).severity == "warn"
    assert classify(154, "GPU recovery action changed from 0x1 (GPU Reset Required) to 0x0 (None)").severity == "info"


# -- nvidia-smi -q text ----------------------------------------------------------------------

def _capture(name: str, file: str) -> str:
    return (snapshot(name) / "cmd" / file).read_text()


def test_h100_text_capture_is_eight_gpus_with_power_brake():
    report = parse_nvidia_smi_text(_capture("h100x8-hw-power-brake-slowdown", "nvidia-smi_-q.txt"))
    assert (report.driver_version, report.cuda_version, report.attached_gpus) == ("535.161.08", "12.2", 8)
    assert [g.bus_id[9:11] for g in report.gpus] == ["19", "3B", "4C", "5D", "9B", "BB", "CB", "DB"]
    assert [g.health.pcie_replays for g in report.gpus] == [67, 63, 52, 43, 49, 53, 82, 67]
    first = report.gpus[0]
    assert first.health.throttle_reasons == ("hw_slowdown", "hw_power_brake_slowdown")
    assert (first.health.temp_c, first.health.clocks_sm_mhz, first.health.clocks_sm_max_mhz) == (29, 86, 1980)
    assert first.health.temp_slowdown_c is None  # H100 prints T.Limit margins, not thresholds
    assert (first.name, first.pcie_gen_current, first.pcie_width_current, first.power_limit_w) == (
        "NVIDIA H100 80GB HBM3", 5, 16, 700.0)


def test_a10_text_capture_has_the_pending_remap():
    gpu = parse_nvidia_smi_text(_capture("a10-remapped-rows-pending", "nvidia-smi_-q.txt")).gpus[0]
    h = gpu.health
    assert (h.remapped_rows_correctable, h.remapped_rows_uncorrectable, h.remapped_rows_pending,
            h.remapped_rows_failure) == (0, 4, True, False)
    assert (h.ecc_volatile_uncorrected, h.ecc_aggregate_uncorrected, h.reset_required) == (0, 0, False)
    assert (h.temp_c, h.temp_slowdown_c, gpu.virtualization_mode) == (33, 98, "Pass-Through")


def test_text_parser_refuses_what_is_not_nvidia_smi_q():
    from hwtune.errors import ParseError

    with pytest.raises(ParseError, match="could not parse it as nvidia-smi -q output"):
        parse_nvidia_smi_text("<nvidia_smi_log/>")


# -- XML health -------------------------------------------------------------------------------

def test_v100_xml_old_ecc_schema_and_retired_pages():
    h = parse_nvidia_smi_xml(_capture("v100-retired-pages-pending", "nvidia-smi_-q_-x.xml")).gpus[0].health
    assert (h.ecc_volatile_corrected, h.ecc_volatile_uncorrected, h.ecc_aggregate_corrected,
            h.ecc_aggregate_uncorrected) == (1, 1, 291, 7627)
    assert (h.retired_pages_sbe, h.retired_pages_dbe, h.retired_pages_pending) == (0, 2, True)
    assert h.remapped_rows_pending is None  # Volta has no row remapper


def test_p100_and_t4_xml():
    p100 = parse_nvidia_smi_xml(_capture("p100-aggregate-sbe-only", "nvidia-smi_-q_-x.xml")).gpus[0]
    assert (p100.health.ecc_aggregate_corrected, p100.health.ecc_aggregate_uncorrected) == (3, 0)
    assert p100.health.retired_pages_pending is False
    t4 = parse_nvidia_smi_xml(_capture("t4-pcie-width-x8-of-x16", "nvidia-smi_-q_-x.xml")).gpus[0]
    assert (t4.pcie_width_current, t4.pcie_width_max, t4.virtualization_mode) == (8, 16, "Pass-Through")


def test_unreadable_xml_fields_are_listed():
    xml = ("<nvidia_smi_log><attached_gpus>1</attached_gpus><gpu id=\"00000000:01:00.0\">"
           "<fan_speed>Unknown Error</fan_speed><temperature><gpu_temp>[GPU is lost]</gpu_temp></temperature>"
           "</gpu></nvidia_smi_log>")
    assert parse_nvidia_smi_xml(xml).gpus[0].health.unreadable == ("fan_speed", "temperature/gpu_temp")


# -- the nvidia-smi table ------------------------------------------------------------------------

def test_table_err_and_device_handle_error():
    fan = parse_nvidia_smi_table((snapshot("geforce-fan-err") / "cmd" / "nvidia-smi.txt").read_text())
    assert [(r.index, r.bus_id, r.fields) for r in fan] == [(0, "00000000:01:00.0", ("fan",))]
    assert "ERR!" in fan[0].message
    lost = parse_nvidia_smi_table((snapshot("xid79-fallen-off-bus-gpu-lost") / "cmd" / "nvidia-smi.txt").read_text())
    assert [(r.bus_id, r.fields) for r in lost] == [("0000:A1:00.0", ("device handle",))]


# -- sysfs counters ----------------------------------------------------------------------------

def test_aer_counters_edac_and_thermal_throttle_from_sysfs(tmp_path):
    # a GPU behind a root port, laid out as the kernel does
    dev = tmp_path / "sys" / "devices" / "pci0000:80"
    gpu = dev / "0000:80:01.1" / "0000:81:00.0"
    gpu.mkdir(parents=True)
    for name, value in (("vendor", "0x10de"), ("device", "0x2236"), ("class", "0x030200"), ("numa_node", "-1")):
        (gpu / name).write_text(value + "\n")
    (dev / "0000:80:01.1" / "vendor").write_text("0x1022\n")
    links = tmp_path / "sys" / "bus" / "pci" / "devices"
    links.mkdir(parents=True)
    (links / "0000:81:00.0").symlink_to("../../../devices/pci0000:80/0000:80:01.1/0000:81:00.0")
    (links / "0000:80:01.1").symlink_to("../../../devices/pci0000:80/0000:80:01.1")
    (dev / "0000:80:01.1" / "aer_dev_correctable").write_text("RxErr 0\nBadTLP 2\nBadDLLP 1\nTOTAL_ERR_COR 3\n")
    (dev / "0000:80:01.1" / "aer_dev_fatal").write_text("DLP 0\nTOTAL_ERR_FATAL 0\n")
    (gpu / "aer_dev_correctable").write_text("RxErr 0\nTOTAL_ERR_COR 0\n")
    (gpu / "aer_dev_nonfatal").write_text("TOTAL_ERR_NONFATAL 0\n")
    mc = tmp_path / "sys" / "devices" / "system" / "edac" / "mc" / "mc0"
    mc.mkdir(parents=True)
    (mc / "ce_count").write_text("5\n")
    (mc / "ue_count").write_text("0\n")
    for cpu, pkg, core, package in (("cpu0", "0", 3, 7), ("cpu1", "0", 2, 7), ("cpu2", "1", 0, 1)):
        folder = tmp_path / "sys" / "devices" / "system" / "cpu" / cpu
        (folder / "thermal_throttle").mkdir(parents=True)
        (folder / "topology").mkdir()
        (folder / "topology" / "physical_package_id").write_text(pkg + "\n")
        (folder / "thermal_throttle" / "core_throttle_count").write_text(f"{core}\n")
        (folder / "thermal_throttle" / "package_throttle_count").write_text(f"{package}\n")
    b = FactsBuilder()
    host = Host(tmp_path)
    health.probe_aer(host, b)
    health.probe_edac(host, b)
    health.probe_thermal_throttle(host, b)
    assert b.values["pci.aer"] == [
        {"address": "0000:81:00.0", "role": "gpu", "gpu": "0000:81:00.0", "correctable": 0, "nonfatal": 0},
        {"address": "0000:80:01.1", "role": "upstream port", "gpu": "0000:81:00.0", "correctable": 3, "fatal": 0}]
    assert b.values["memory.edac"] == [{"mc": "mc0", "ce": 5, "ue": 0}]
    assert b.values["cpu.thermal_throttle"] == {"core_events": 5, "package_events": {"0": 7, "1": 1}}


def test_missing_sources_are_unknown_with_the_reason(tmp_path):
    b = FactsBuilder()
    health.probe_health(Host(tmp_path), b)
    for fact_id in ("kernel.log_events", "pci.aer", "memory.edac", "cpu.thermal_throttle"):
        assert b.values[fact_id] is None and b.unavailable[fact_id], fact_id
    assert "gpu.table_errors" not in b.values  # only a recorded table sets it


# -- NVML health through the scenario fake ----------------------------------------------------------

def test_nvml_health_fields_from_the_sick_scenario(monkeypatch):
    fake_nvml.use_fake(monkeypatch, fake_nvml.sick_a100())
    report = nvml.read_nvml_report()
    gpus = report.gpus
    assert gpus[0].health.throttle_reasons == ("gpu_idle",) and gpus[0].health.remapped_rows_pending is False
    assert (gpus[1].health.remapped_rows_uncorrectable, gpus[1].health.remapped_rows_pending) == (4, True)
    assert gpus[2].health.throttle_reasons == ("hw_slowdown", "hw_power_brake_slowdown")
    assert (gpus[2].health.clocks_sm_mhz, gpus[2].health.pcie_replays) == (86, 67)
    h3 = gpus[3].health
    assert (h3.ecc_volatile_uncorrected, h3.ecc_aggregate_uncorrected, h3.retired_pages_dbe,
            h3.retired_pages_pending) == (1, 7627, 2, True)
    assert gpus[4].error and "GPU is lost" in gpus[4].error and gpus[4].health is None
    assert all(g.health.temp_slowdown_c == 90 for g in gpus if g.error is None)


def test_gpu_health_round_trips_through_json():
    gpu = Gpu(index=0, health=GpuHealth(throttle_reasons=("hw_slowdown",), unreadable=("fan",), temp_c=40))
    assert Gpu.from_json(gpu.to_json()) == gpu


# -- the live kernel log when /dev/kmsg cannot be read ------------------------------------------

class _NoKmsgHost(Host):
    """The live host as a user without CAP_SYSLOG sees it (kernel.dmesg_restrict=1)."""

    def __init__(self, runner):
        super().__init__("/", runner=runner)

    def read_records(self, abspath, *, max_bytes):
        return None, f"{abspath}: Operation not permitted"


def test_without_kmsg_the_journal_then_dmesg_are_asked():
    journal = ("journalctl", "-k", "-b", "-o", "json", "--no-pager")
    runner = fake_nvml.ScriptedRunner({journal: (
        '{"_TRANSPORT":"kernel","_SOURCE_MONOTONIC_TIMESTAMP":"5000000","__REALTIME_TIMESTAMP":"1700000000000000",'
        '"MESSAGE":"EDAC MC0: 1 CE memory read error on DIMM_A1 (channel:0 slot:0)"}\n')})
    log = read_kernel_log(_NoKmsgHost(runner))
    assert log.source == "journalctl -k -b -o json --no-pager" and log.lines[0].message.startswith("EDAC MC0: 1 CE")
    assert runner.asked == [journal]
    nothing = fake_nvml.ScriptedRunner()
    log = read_kernel_log(_NoKmsgHost(nothing))
    assert log.source is None and nothing.asked == [journal, ("dmesg", "-r")]
    assert log.reason.startswith("kernel log not readable: /dev/kmsg: Operation not permitted; journalctl not found")
    assert "run as root" in log.reason


# -- hostile or garbled input: a parse error or nothing, never a crash ---------------------------


from hwtune.errors import ParseError  # noqa: E402

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)


@settings(max_examples=150, deadline=None)
@given(_TEXT)
def test_log_parsing_and_matching_never_crash(text):
    lines = parse_log(text)
    events, dropped = match_events(lines)
    assert dropped == 0 and all(e["kind"] and "message" in e for e in events)


@settings(max_examples=100, deadline=None)
@given(_TEXT)
def test_nvidia_smi_text_and_table_parsers_never_crash(text):
    parse_nvidia_smi_table(text)
    with contextlib.suppress(ParseError):
        parse_nvidia_smi_text("==============NVSMI LOG==============\n" + text)


def test_a_truncated_h100_capture_still_parses():
    text = _capture("h100x8-hw-power-brake-slowdown", "nvidia-smi_-q.txt")
    cut = parse_nvidia_smi_text(text[: len(text) // 3])  # a capture cut mid-GPU, as pasted in bug reports
    assert cut.attached_gpus == 8 and 2 <= len(cut.gpus) < 8
    assert cut.gpus[0].health.throttle_reasons == ("hw_slowdown", "hw_power_brake_slowdown")


def test_a_recorded_log_is_judged_on_the_newest_window_a_live_read_keeps(tmp_path):
    """A live read keeps the newest 4 MiB of the kernel log; a recording of any size (up to the
    16 MiB of a recorded output) is judged on the same window, so a replay agrees with the host."""
    from hwtune.probe.kernellog import MAX_LOG_BYTES

    old = "[   12.000000] NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus.\n"
    filler = "[   13.000000] usb 1-1: new high-speed USB device number 2 using xhci_hcd\n"
    new = "[ 9000.000000] NVRM: Xid (PCI:0000:3b:00): 48, pid=1, An uncorrectable double bit error\n"
    (tmp_path / "cmd").mkdir()
    (tmp_path / "cmd" / "dmesg.txt").write_text(old + filler * (2 * MAX_LOG_BYTES // len(filler)) + new)
    log = read_kernel_log(Host(tmp_path))
    events, _ = match_events(log.lines)
    assert log.source == "dmesg" and [e["code"] for e in events if e["kind"] == "xid"] == ["48"]
    assert all(not ln.continued for ln in log.lines)  # the window starts at a line's start


def test_the_field_table_declares_every_gpuhealth_field_once():
    from dataclasses import fields

    from hwtune.probe.healthfields import FIELDS

    names = [f.name for f in FIELDS]
    assert len(names) == len(set(names))
    assert set(names) == {f.name for f in fields(GpuHealth)}


def test_more_gpu_sections_than_a_host_holds_are_refused_not_read():
    """A crafted capture of GPU headers (16 MiB of them cost 27 s) is refused at the 65th GPU."""
    from hwtune.errors import ParseError
    from hwtune.probe.nvsmi_text import MAX_GPUS

    head = "==============NVSMI LOG==============\n\nAttached GPUs : 8\n"
    eight = head + "".join(f"GPU 00000000:{i:02X}:00.0\n    Product Name : NVIDIA H100\n" for i in range(8))
    assert len(parse_nvidia_smi_text(eight).gpus) == 8
    with pytest.raises(ParseError, match=f"more than {MAX_GPUS} GPU sections"):
        parse_nvidia_smi_text(head + "GPU 00000000:3B:00.0\n" * 500_000)
