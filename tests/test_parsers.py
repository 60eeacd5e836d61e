"""Table-driven parser tests on real samples, plus malformed input: only ParseError may escape."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLES, snapshot
from hwtune.errors import ParseError
from hwtune.probe.cpu import parse_cpuinfo
from hwtune.probe.cpulist import format_cpulist, parse_cpulist, parse_cpumap
from hwtune.probe.kernel import parse_proc_version
from hwtune.probe.memory import parse_bracketed, parse_meminfo

GARBAGE = ["", "\0", "\n\0", "\xff\xfe garbage", "Linux", "Linux version", "0-", "-1", "3-1", "a,b", "1,,2",
           "\0\0\0\0", "ffffffff,", ",", "zz", "9" * 40]


@pytest.mark.parametrize("name,release,at_least_5_1", [
    ("rocky-8.9-4.18.0-513", "4.18.0-513.5.1.el8_9.x86_64", False),
    ("rhel-5-2.6.18-92", "2.6.18-92.el5", False),
    ("ubuntu-22.04-hwe-6.5.0-35-truncated", "6.5.0-35-generic", True),
])
def test_proc_version_samples(name, release, at_least_5_1):
    from packaging.version import Version

    from hwtune.checks.versions import leading_version

    got = parse_proc_version((SAMPLES / "proc-version" / name).read_text())
    assert got == release
    assert (leading_version(got) >= Version("5.1")) is at_least_5_1


@pytest.mark.parametrize("text,cpus", [
    ("0-5,48-53", set(range(6)) | set(range(48, 54))),
    ("0", {0}),
    ("0-1\n", {0, 1}),
    ("", set()),
    ("2,4-5", {2, 4, 5}),
])
def test_cpulist(text, cpus):
    assert parse_cpulist(text) == cpus
    assert parse_cpulist(format_cpulist(cpus)) == cpus


@pytest.mark.parametrize("mask,cpulist", [
    ("00000000,003f0000", "16-21"),
    ("00000000,00000000,003f0000,0000003f", "0-5,48-53"),
    ("3", "0-1"),
    ("00000000", ""),
])
def test_cpumap(mask, cpulist):
    assert format_cpulist(parse_cpumap(mask)) == cpulist


def test_cpumap_of_the_epyc_snapshot_nodes():
    # Every node of the EPYC dump has only a cpumap; EXPECTED.md gives the decoded lists.
    root = snapshot("epyc7451-2s-8numa") / "sys/devices/system/node"
    got = {n: format_cpulist(parse_cpumap((root / f"node{n}" / "cpumap").read_text())) for n in range(8)}
    assert got[0] == "0-5,48-53" and got[7] == "42-47,90-95"


@pytest.mark.parametrize("bad", GARBAGE)
def test_parsers_reject_garbage_with_parse_error(bad):
    for parser in (parse_cpulist, parse_cpumap, parse_proc_version, parse_meminfo, parse_bracketed, parse_cpuinfo):
        with contextlib.suppress(ParseError):
            parser(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_fuzz_parsers_raise_only_parse_error(text):
    for parser in (parse_cpulist, parse_cpumap, parse_proc_version, parse_meminfo, parse_bracketed, parse_cpuinfo):
        with contextlib.suppress(ParseError):
            parser(text)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=4095), max_size=64))
def test_cpulist_round_trip(cpus):
    assert parse_cpulist(format_cpulist(cpus)) == cpus


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=511), max_size=64))
def test_cpumap_matches_cpulist(cpus):
    value = sum(1 << c for c in cpus)
    words = [f"{(value >> (32 * i)) & 0xFFFFFFFF:08x}" for i in reversed(range(16))]
    assert parse_cpumap(",".join(words)) == cpus


def test_cpuinfo_real_dumps():
    laptop = parse_cpuinfo((snapshot("laptop-i7-1370p-powersave") / "proc/cpuinfo").read_text())
    assert len(laptop.processors) == 20
    assert laptop.first("cpu cores") == "14" and laptop.first("siblings") == "20"
    flags = laptop.first("flags").split()
    assert "avx_vnni" in flags and "avx512_vnni" not in flags


def test_cpuinfo_truncated_and_nul():
    text = (snapshot("vm-kvm-2vcpu-nocpufreq") / "proc/cpuinfo").read_text()
    info = parse_cpuinfo(text[: len(text) // 3] + "\0")
    assert info.processors[0]["processor"] == "0"


def test_meminfo_and_thp():
    mem = parse_meminfo((snapshot("laptop-i7-1370p-powersave") / "proc/meminfo").read_text())
    assert mem["MemTotal"] == 32489496
    assert parse_bracketed("always [madvise] never\n") == "madvise"


@pytest.mark.parametrize("text,mode", [("always [madvise] never\n", "madvise"), ("[always] madvise never", "always"),
                                       ("always defer [defer+madvise] madvise never", "defer+madvise"),
                                       ("madvise\n", "madvise")])  # a one-word file: what apply --root leaves
def test_thp_mode_is_read_one_way_for_probe_and_apply(text, mode):
    assert parse_bracketed(text) == mode


@pytest.mark.parametrize("text", ["", "always madvise never", "[] x y"])
def test_thp_file_without_an_active_mode_is_a_parse_error(text):
    with pytest.raises(ParseError):
        parse_bracketed(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_leading_version_never_raises(text):
    from hwtune.checks.versions import leading_version

    v = leading_version(text)
    assert v is None or str(v)[0].isdigit()


@pytest.mark.parametrize("text,want", [("6.1.0-13-amd64", "6.1.0"), ("4.18.0-513.5.1.el8_9.x86_64", "4.18.0"),
                                       ("590.44.01", "590.44.1"), ("12.8", "12.8"), ("V12.8.93", None), ("", None)])
def test_leading_version(text, want):
    from hwtune.checks.versions import leading_version

    got = leading_version(text)
    assert (str(got) if got else None) == want


@pytest.mark.parametrize("text", ["\u00b2", "1-\u00b2", "\u0663-\u00b9"])
def test_unicode_digits_are_not_cpu_numbers(text):
    # "²".isdigit() is True but int("²") raises: found by the fuzzer above.
    with contextlib.suppress(ParseError):
        parse_cpulist(text)
