"""Table-driven tests of the NVIDIA parsers on the real samples, plus
malformed input: the parsers raise ParseError and nothing else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLES, snapshot
from hwtune.errors import ParseError
from hwtune.probe.nvidia import (
    parse_cuda_version_json,
    parse_cuda_version_txt,
    parse_cudnn_header,
    parse_cudnn_lib_name,
    parse_nvcc_version,
    parse_nvidia_smi_xml,
    parse_proc_driver_version,
)

A5000_XML = snapshot("gpu-2xa5000-xml") / "cmd" / "nvidia-smi_-q_-x.xml"


def sample(rel: str) -> str:
    return (SAMPLES / rel).read_text()


# -- /proc/driver/nvidia/version ------------------------------------------------------

@pytest.mark.parametrize("rel, version, module, arch", [
    ("proc-driver-nvidia-version/proprietary-525.105.17", "525.105.17", "proprietary", "x86_64"),
    # the open module's line puts "for x86_64" between "Module" and the version
    ("proc-driver-nvidia-version/open-515.43.04", "515.43.04", "open", "x86_64"),
])
def test_proc_driver_version_samples(rel, version, module, arch):
    driver = parse_proc_driver_version(sample(rel))
    assert (driver.version, driver.kernel_module, driver.arch) == (version, module, arch)


@pytest.mark.parametrize("text, version, module", [
    ("NVRM version: NVIDIA UNIX aarch64 Kernel Module  535.104.05  Sat Aug 19 01:13:15 UTC 2023\n",
     "535.104.05", "proprietary"),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  560.35.03  Release Build  (dvs-builder@U16)\n",
     "560.35.03", "open"),
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  390.157  Wed Oct 12 09:19:07 UTC 2022\n", "390.157",
     "proprietary"),
    # an unfamiliar wording: the version is still read, the module type is not guessed
    ("NVRM version: NVIDIA Some Future Module  600.10.01  Release Build\n", "600.10.01", None),
])
def test_proc_driver_version_shapes(text, version, module):
    driver = parse_proc_driver_version(text)
    assert (driver.version, driver.kernel_module) == (version, module)


@pytest.mark.parametrize("text", ["", "GCC version:  gcc version 12.1.0 (GCC)\n",
                                  "NVRM version: NVIDIA UNIX x86_64 Kernel Module\n"])
def test_proc_driver_version_rejects(text):
    with pytest.raises(ParseError):
        parse_proc_driver_version(text)


# -- nvcc, CUDA version files, cuDNN -----------------------------------------------------

@pytest.mark.parametrize("rel, expected", [
    ("nvcc-version/cuda-11.0.txt", "11.0"),
    ("nvcc-version/cuda-11.1.txt", "11.1"),
    ("nvcc-version/cuda-11.5.txt", "11.5"),
    ("nvcc-version/cuda-12.8.txt", "12.8"),
])
def test_nvcc_samples(rel, expected):
    assert parse_nvcc_version(sample(rel)) == expected


def test_nvcc_of_the_gpu_snapshot():
    text = (snapshot("gpu-2xa5000-xml") / "cmd" / "nvcc_--version.txt").read_text()
    assert parse_nvcc_version(text) == "12.8"


def test_nvcc_v_only_line():
    assert parse_nvcc_version("Cuda compilation tools V10.1.243\n") == "10.1"


@pytest.mark.parametrize("text", ["", "nvcc: command not found\n", "release twelve", "V12.8"])
def test_nvcc_rejects(text):
    with pytest.raises(ParseError):
        parse_nvcc_version(text)


@pytest.mark.parametrize("rel, expected", [
    ("cudnn_version/cudnn-8.2.1.h", "8.2.1"),
    ("cudnn_version/cudnn-9.6.0.h", "9.6.0"),
])
def test_cudnn_header_samples(rel, expected):
    assert parse_cudnn_header(sample(rel)) == expected


def test_cudnn_header_ignores_the_combined_number():
    # 8.x and 9.x combine the parts with different factors; only the parts count
    text = "#define CUDNN_VERSION 90600\n#define CUDNN_MAJOR 9\n"
    with pytest.raises(ParseError, match="CUDNN_MINOR, CUDNN_PATCHLEVEL"):
        parse_cudnn_header(text)


def test_cudnn_header_indented_defines():
    header = "# define CUDNN_MAJOR 7\n#  define CUDNN_MINOR 6\n#define CUDNN_PATCHLEVEL 5\n"
    assert parse_cudnn_header(header) == "7.6.5"


@pytest.mark.parametrize("name, expected", [
    ("libcudnn.so.9.6.0", "9.6.0"), ("libcudnn.so.8.9.7", "8.9.7"),
    ("libcudnn.so.9", None), ("libcudnn.so", None), ("libcudnn_ops.so.9.6.0", None),
])
def test_cudnn_lib_names(name, expected):
    assert parse_cudnn_lib_name(name) == expected


def test_cuda_version_files():
    assert parse_cuda_version_json('{"cuda": {"name": "CUDA SDK", "version": "12.8.0"}}') == "12.8"
    assert parse_cuda_version_txt("CUDA Version 10.2.89\n") == "10.2"
    for bad in ("", "[]", '{"cuda": "12.8"}', '{"cuda": {"version": 12.8}}', '{"cuda": {"version": "x"}}'):
        with pytest.raises(ParseError):
            parse_cuda_version_json(bad)
    with pytest.raises(ParseError):
        parse_cuda_version_txt("CUDA 10")


# -- nvidia-smi -q -x ----------------------------------------------------------------

def test_xml_gpu_snapshot():
    report = parse_nvidia_smi_xml(A5000_XML.read_text())
    assert (report.driver_version, report.cuda_version, report.attached_gpus) == ("590.44.01", "13.1", 2)
    assert [(g.index, g.bus_id, g.name, g.memory_mib) for g in report.gpus] == [
        (0, "00000000:81:00.0", "NVIDIA RTX A5000", 24564),
        (1, "00000000:C1:00.0", "NVIDIA RTX A5000", 24564),
    ]
    for g in report.gpus:
        assert g.persistence_mode is True
        assert (g.mig_mode, g.mig_mode_pending) == (None, None)  # N/A: no MIG on this board
        assert (g.ecc_current, g.ecc_pending) == ("disabled", "disabled")
        # gen 1 of 4 is the idle power saving of a P8 GPU; the width is the full 16x
        assert (g.pcie_gen_current, g.pcie_gen_max, g.pcie_width_current, g.pcie_width_max) == (1, 4, 16, 16)
        assert (g.power_limit_w, g.power_limit_default_w, g.power_limit_max_w) == (230.0, 230.0, 230.0)
        assert (g.compute_mode, g.architecture) == ("default", "Ampere")
        assert g.numa_node is None and g.error is None
    assert report.gpus[0].uuid.endswith("89ab") and report.gpus[1].uuid.endswith("89cd")


def test_xml_tesla_t4_old_power_block():
    report = parse_nvidia_smi_xml(sample("nvidia-smi-xml/tesla-t4_driver515.xml"))
    assert (report.driver_version, report.cuda_version, report.attached_gpus) == ("515.105.01", "11.7", 1)
    (t4,) = report.gpus
    assert (t4.name, t4.persistence_mode, t4.architecture) == ("Tesla T4", False, "Turing")
    assert (t4.ecc_current, t4.memory_mib) == ("enabled", 15360)
    # a real width drop: 8x of 16x
    assert (t4.pcie_width_current, t4.pcie_width_max) == (8, 16)
    # driver 515 writes <power_readings> with <enforced_power_limit>
    assert (t4.power_limit_w, t4.power_limit_default_w, t4.power_limit_max_w) == (70.0, 70.0, 70.0)
    assert t4.bus_id == "00000000:00:1E.0"


def test_xml_a100_attached_4_listed_1_with_mig():
    report = parse_nvidia_smi_xml(sample("nvidia-smi-xml/a100-sxm4-80gb_attached4_listed1.xml"))
    assert (report.driver_version, report.cuda_version) == ("535.54.03", "12.2")
    assert report.attached_gpus == 4 and len(report.gpus) == 1
    (a100,) = report.gpus
    assert a100.name == "NVIDIA A100-SXM4-80GB"
    assert (a100.mig_mode, a100.mig_mode_pending, a100.persistence_mode) == ("enabled", "enabled", False)
    # the GPU's own memory, not one of its MIG devices' 19968 MiB
    assert a100.memory_mib == 81920
    assert (a100.power_limit_w, a100.ecc_current) == (500.0, "enabled")


def test_xml_rtx4090_persistence_enabled():
    report = parse_nvidia_smi_xml(sample("nvidia-smi-xml/rtx-4090_driver535_persistence-enabled.xml"))
    assert (report.driver_version, report.cuda_version, report.attached_gpus) == ("535.86.05", "12.2", 1)
    (g,) = report.gpus
    assert (g.name, g.persistence_mode, g.architecture) == ("NVIDIA GeForce RTX 4090", True, "Ada Lovelace")
    # max_link_gen is what the slot allows (3), not the board's own 4
    assert (g.pcie_gen_current, g.pcie_gen_max) == (1, 3)
    assert (g.power_limit_w, g.power_limit_default_w, g.power_limit_max_w) == (450.0, 450.0, 600.0)


def test_xml_without_gpus_and_na_values():
    text = ("<?xml version=\"1.0\" ?><nvidia_smi_log><driver_version>550.54.15</driver_version>"
            "<cuda_version>12.4</cuda_version><attached_gpus>1</attached_gpus>"
            "<gpu id=\"00000000:3B:00.0\"><product_name>Tesla V100</product_name>"
            "<fb_memory_usage><total>[N/A]</total></fb_memory_usage>"
            "<persistence_mode>Unknown Error</persistence_mode>"
            "<gpu_power_readings><current_power_limit>N/A</current_power_limit></gpu_power_readings>"
            "</gpu></nvidia_smi_log>")
    (g,) = parse_nvidia_smi_xml(text).gpus
    assert g.bus_id == "00000000:3B:00.0"  # from the id attribute when <pci> is absent
    assert (g.memory_mib, g.persistence_mode, g.power_limit_w) == (None, None, None)
    empty = parse_nvidia_smi_xml("<nvidia_smi_log><attached_gpus>0</attached_gpus></nvidia_smi_log>")
    assert (empty.attached_gpus, empty.gpus, empty.driver_version) == (0, (), None)


@pytest.mark.parametrize("text", [
    "", "   \n", "\0\0\0", "<nvidia_smi_log>", "<other/>", "not xml at all",
    "<nvidia_smi_log><attached_gpus>two</attached_gpus></nvidia_smi_log>",
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><nvidia_smi_log>&b;</nvidia_smi_log>',
])
def test_xml_rejects(text):
    with pytest.raises(ParseError):
        parse_nvidia_smi_xml(text)


def test_xml_truncated_real_output_is_a_parse_error():
    text = A5000_XML.read_text()
    for cut in (1, 100, len(text) // 2, len(text) - 20):
        with pytest.raises(ParseError):
            parse_nvidia_smi_xml(text[:cut])


# -- malformed input of every kind: ParseError or a value, never another exception -------

PARSERS = [parse_nvidia_smi_xml, parse_proc_driver_version, parse_nvcc_version, parse_cudnn_header,
           parse_cuda_version_json, parse_cuda_version_txt]
garbage = st.one_of(
    st.text(),
    st.binary().map(lambda b: b.decode("utf-8", errors="replace")),
    st.text(alphabet="<>/=\"' \n\0abcdgiklmnoprstuvx0123456789._-#&;![]{}:", max_size=300),
)


@settings(max_examples=300, deadline=None)
@given(text=garbage)
def test_parsers_raise_only_parse_error(text):
    for parse in PARSERS:
        with contextlib.suppress(ParseError):
            parse(text)


XML_TEXT = A5000_XML.read_text()


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(0, len(XML_TEXT)), junk=st.text(max_size=20), at=st.integers(0, len(XML_TEXT)))
def test_xml_damaged_real_output(cut, junk, at):
    damaged = XML_TEXT[:at] + junk + XML_TEXT[at:]
    for text in (XML_TEXT[:cut], damaged, damaged.replace("16x", junk), XML_TEXT.replace("230.00 W", junk)):
        try:
            report = parse_nvidia_smi_xml(text)
        except ParseError:
            continue
        assert all(g.index == i for i, g in enumerate(report.gpus))


@settings(max_examples=150, deadline=None)
@given(digits=st.integers(5000, 6000))
def test_huge_numbers_are_not_a_crash(digits):
    # int() refuses more than 4300 digits with ValueError; parsers must not leak it
    big = "9" * digits
    for parse, text in [
        (parse_cudnn_header, f"#define CUDNN_MAJOR {big}\n#define CUDNN_MINOR 1\n#define CUDNN_PATCHLEVEL 0\n"),
        (parse_nvcc_version, f"release {big}.1, V{big}.1.1"),
        (parse_cuda_version_json, f'{{"cuda": {{"version": "{big}.1"}}}}'),
        (parse_nvidia_smi_xml, f"<nvidia_smi_log><attached_gpus>{big}</attached_gpus></nvidia_smi_log>"),
        (parse_nvidia_smi_xml, f"<nvidia_smi_log><gpu><fb_memory_usage><total>{big} MiB</total>"
                               f"</fb_memory_usage></gpu></nvidia_smi_log>"),
    ]:
        with contextlib.suppress(ParseError):
            parse(text)
