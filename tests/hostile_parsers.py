"""Crafted inputs for every parser of recorded or live text, one list for the growth test and the benchmark.

Each case is (name, parser, maker, cap): `maker(n)` returns text of about `n`
characters shaped to make a backtracking or concatenating parser slow (the
shapes of the reported reproductions: one long line of spaces where a
pattern has several quantifiers that can each take them, or many
continuation lines); `cap` is the most hwtune ever hands that parser
(docs/security.md, "Read caps"). `tests/test_parser_growth.py` and
`benchmarks/hostile_inputs.py` both walk `CASES`; a parser added to hwtune
gets a case here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

KIB = 1024
MIB = 1024 * KIB
FILE_CAP = 4 * MIB  # hwtune.host.MAX_READ_BYTES: sysfs, procfs and a tree's files
OUTPUT_CAP = 16 * MIB  # hwtune.run.MAX_OUTPUT_BYTES: a recorded or live command output
SUMMARY_CAP = 1_000_000  # the LoadGen summary, cut in bench/serving/loadgen.py
TOML_CAP = 256 * KIB  # hwtune.files.MAX_TOML_BYTES: a profile the user names
JSON_CAP = 8 * MIB  # hwtune.files.MAX_JSON_BYTES: a check, facts, bench or recommend file the user names


NVSMI_Q_HEAD = "==============NVSMI LOG==============\n\nAttached GPUs : 1\nGPU 00000000:3B:00.0\n"


class Case(NamedTuple):
    name: str
    parser: Callable[[str], Any]
    maker: Callable[[int], str]
    cap: int


def _quiet(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """The parser, with its ParseError (a legitimate answer to garbage) taken as a result."""
    from hwtune.errors import HwtuneError

    def run(text: str) -> Any:
        try:
            return parse(text)
        except (HwtuneError, ValueError) as exc:
            return exc
    return run


def _spaces(head: str, n: int, tail: str = "!") -> str:
    return head + " " * max(n - len(head) - len(tail), 0) + tail


def _lspci_continuations(n: int) -> str:
    head = ("01:00.0 VGA compatible controller: NVIDIA Corporation Device [10de:2204] (rev a1)\n"
            "\tCapabilities: [100 v2] Advanced Error Reporting\n"
            "\t\tUESta:\tDLP- SDES- TLP- FCP- CmpltTO- CmpltAbrt- UnxCmplt- RxOF- MalfTLP-\n")
    line = "\t\t\tECRC- UnsupReq- ACSViol- UncorrIntErr+ BlockedTLP- AtomicOpBlocked- TLPBlockedErr-\n"
    return head + line * max((n - len(head)) // len(line), 1)


def _parsers() -> dict[str, Callable[[str], Any]]:
    from hwtune.bench.serving.loadgen import parse_summary
    from hwtune.errors import parse_json, parse_toml
    from hwtune.probe import cpu, lspci, memory, nvidia, nvsmi_text

    return {"toml": lambda text: parse_toml(text, "profile.toml"), "json": lambda text: parse_json(text, "in.json"),
            "lspci": lspci.parse_lspci, "nvsmi_table": nvsmi_text.parse_nvidia_smi_table,
            "nvsmi_q": nvsmi_text.parse_nvidia_smi_text,
            "cpuinfo": cpu.parse_cpuinfo, "meminfo": memory.parse_meminfo, "bracketed": memory.parse_bracketed,
            "driver": nvidia.parse_proc_driver_version, "nvcc": nvidia.parse_nvcc_version,
            "cudnn": nvidia.parse_cudnn_header, "summary": parse_summary}


def cases() -> list[Case]:
    p = {k: _quiet(f) for k, f in _parsers().items()}
    return [
        # the reported ones: a 5 KB header line took 149 s, 4 MiB of continuation lines 8.3 s
        Case("lspci -vvv: header line of spaces", p["lspci"], lambda n: _spaces("01:00.0", n), OUTPUT_CAP),
        Case("lspci -vvv: device name of spaces", p["lspci"],
             lambda n: _spaces("01:00.0 VGA compatible controller: NVIDIA", n, "x"), OUTPUT_CAP),
        Case("lspci -vvv: name of '(prog-if '", p["lspci"],
             lambda n: "01:00.0 VGA compatible controller: " + "(prog-if 00 [" * (n // 13), OUTPUT_CAP),
        Case("lspci -vvv: AER continuation lines", p["lspci"], _lspci_continuations, OUTPUT_CAP),
        # a 2 KB row took 11.7 s
        Case("nvidia-smi table: row of spaces", p["nvsmi_table"], lambda n: _spaces("|   0", n) + "\n|", OUTPUT_CAP),
        # `-q` text, with or without its banner: a value of spaces, and a GPU block per 21 bytes
        Case("nvidia-smi -q: value of spaces", p["nvsmi_q"],
             lambda n: _spaces(NVSMI_Q_HEAD + "    Product Name :", n), OUTPUT_CAP),
        Case("nvidia-smi -q: GPU header lines", p["nvsmi_q"],
             lambda n: NVSMI_Q_HEAD + "GPU 00000000:3B:00.0\n" * (n // 21), OUTPUT_CAP),
        # a 128 KiB line took 24.8 s
        Case("/proc/cpuinfo: line of spaces", p["cpuinfo"], lambda n: _spaces("processor\t: 0\nmodel name", n),
             FILE_CAP),
        Case("/proc/meminfo: line of spaces", p["meminfo"], lambda n: _spaces("MemTotal:", n), FILE_CAP),
        Case("THP mode: '[' repeated", p["bracketed"], lambda n: "[" * n, FILE_CAP),
        Case("driver version: spaces and digits", p["driver"],
             lambda n: "NVRM version: NVIDIA UNIX x86_64 Kernel Module" + " 1.1" * (n // 4), FILE_CAP),
        Case("nvcc --version: 'release 1.' repeated", p["nvcc"], lambda n: "release 1." * (n // 10), OUTPUT_CAP),
        Case("cudnn_version.h: '#define' of spaces", p["cudnn"], lambda n: _spaces("#define", n), FILE_CAP),
        Case("LoadGen summary: line of spaces", p["summary"], lambda n: _spaces("Result", n), SUMMARY_CAP),
        Case("LoadGen summary: value of spaces", p["summary"], lambda n: _spaces("Result is : V", n, "x"),
             SUMMARY_CAP),
        # files the user names: pure-Python tomllib is the slowest on arrays of inline tables
        Case("TOML: array of inline tables", p["toml"], lambda n: "a = [" + "{x=1}," * (n // 6) + "]\n", TOML_CAP),
        # one surrogate pair makes the whole document go through the lone-surrogate test
        Case("JSON: objects and one surrogate pair", p["json"],
             lambda n: '["\\ud83d\\ude00",' + '{"a":1.5},' * (n // 10) + "{}]", JSON_CAP),
        Case("JSON: a string of surrogate pairs", p["json"], lambda n: '["' + "\\ud83d\\ude00" * (n // 12) + '"]',
             JSON_CAP),
    ]
