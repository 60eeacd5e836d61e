"""One declaration per tunable: what apply sets is what check verifies, and a profile that
contradicts itself is refused when it loads."""

from __future__ import annotations

import json
import re

import pytest

from apply_helpers import (
    add_kernel_files,
    copy_snapshot,
    invoke,
    write_profile,
)
from conftest import SNAPSHOTS
from hwtune import profile, tunables
from hwtune.apply import sysfs
from hwtune.checks.registry import REGISTRY, CheckSpec
from hwtune.errors import ConfigError
from hwtune.tunables import check_params, registry
from hwtune.tunables.base import Tunable, Verify, write
from hwtune.verdict import effective_params, resolve_params

POWERSAVE = 'description = "save power"\n[tune]\n"cpu.governor" = "powersave"\n'
# The real snapshots have no /proc/sys and no THP files; these give the kernel tunables a file to
# change, at values none of the profiles wants.
KERNEL_FILES = {"proc/sys/vm/swappiness": "60\n", "proc/sys/kernel/numa_balancing": "1\n",
                "sys/kernel/mm/transparent_hugepage/enabled": "[always] madvise never\n",
                "sys/kernel/mm/transparent_hugepage/defrag": "always defer defer+madvise [madvise] never\n"}


def tunable_checks(p: profile.Profile, skipped: set[str] = frozenset()) -> set[str]:
    """The checks the profile's [tune] feeds, but for tunables apply could not set here (`skipped`):
    those apply-then-check must pass."""
    return set(check_params({k: v for k, v in p.tune.items() if k not in skipped}))


def apply_then_check(root, prof: str, skipped: set[str] | None = None) -> dict:
    res = invoke("apply", "--profile", prof, "--root", str(root), "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    if skipped is not None:  # the tunables apply skipped on every instance, with the reason
        items = json.loads(res.stdout)["plan"]["items"]
        for key in {i["key"] for i in items}:
            mine = [i for i in items if i["key"] == key]
            if all(i["status"] == "skip" and i["reason"] for i in mine):
                skipped.add(key)
    res = invoke("check", "--profile", prof, "--root", str(root), "--json")
    return {r["id"]: r for r in json.loads(res.stdout)["results"]}


def test_powersave_applied_to_the_laptop_then_checked_passes_the_governor(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    prof = str(write_profile(scratch, "powersave", POWERSAVE))
    for policy in (root / "sys/devices/system/cpu/cpufreq").glob("policy*"):
        (policy / "scaling_governor").write_text("performance\n")  # so apply has something to change
    rows = apply_then_check(root, prof)
    assert rows["cpu.governor"]["status"] == "PASS", rows["cpu.governor"]
    assert rows["cpu.governor"]["expected"] == "powersave on every policy"


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_apply_then_check_passes_every_tunable_check(scratch, name):
    root = copy_snapshot(name, scratch / name)
    add_kernel_files(root, KERNEL_FILES)
    # one after the other on the same copy: each profile moves the tunables the previous one set
    for prof in ("powersave", "cpu-inference", "gpu-inference"):
        ref = str(write_profile(scratch, "powersave", POWERSAVE)) if prof == "powersave" else prof
        skipped: set[str] = set()
        rows = apply_then_check(root, ref, skipped)
        wanted = tunable_checks(profile.load(ref), skipped)
        assert wanted or prof == "powersave"  # powersave tunes only the governor; the kernel files are there
        for check_id in wanted:
            row = rows[check_id]
            assert row["status"] in ("PASS", "SKIP"), (prof, check_id, row["status"], row["message"])
            if row["status"] == "SKIP":
                assert row["message"]  # with the reason: the host lacks the interface
        if prof != "powersave":  # the kernel files above were really changed and judged
            assert rows["vm.swappiness"]["status"] == rows["mm.thp"]["status"] == "PASS"


def test_check_takes_its_expected_value_from_tune():
    p = profile.load("cpu-inference")
    shown = effective_params(p)
    assert shown["cpu.governor"]["expected"] == p.tune["cpu.governor"]
    assert shown["mm.thp"]["allowed"] == [p.tune["mm.thp_enabled"]]
    assert shown["vm.swappiness"]["max"] == p.tune["sysctl"]["vm.swappiness"]
    assert shown["kernel.numa_balancing"]["expected"] == p.tune["sysctl"]["kernel.numa_balancing"]


@pytest.mark.parametrize("text,message", [
    ('[tune]\n"cpu.governor" = "powersave"\n[checks."cpu.governor"]\nexpected = "performance"\n',
     r"'checks.cpu.governor.expected' = 'performance' contradicts 'tune.cpu.governor' = 'powersave'"),
    ('[tune.sysctl]\n"vm.swappiness" = 30\n[checks."vm.swappiness"]\nmax = 10\n',
     r"'checks.vm.swappiness.max' = 10 contradicts 'tune.sysctl.vm.swappiness' = 30"),
    ('[tune]\n"mm.thp_enabled" = "never"\n[checks."mm.thp"]\nallowed = ["always", "madvise"]\n',
     r"'checks.mm.thp.allowed'"),
    ('[tune]\n"cpu.governor" = "performance; rm"\n', r"'performance; rm' is not a governor name"),
    ('[tune]\n"mm.thp_enabled" = "sometimes"\n', r"'tune.mm.thp_enabled' = 'sometimes' is not a THP enabled mode"),
    ('[tune.sysctl]\n"kernel.core_pattern" = "|/tmp/evil %p"\n', r"'tune.sysctl.kernel.core_pattern'"),
    ('[tune]\n"kernel.cmdline" = ["quiet", "a b"]\n', r"'tune.kernel.cmdline' must be a list of kernel arguments"),
])
def test_a_profile_apply_would_reject_or_check_would_fail_is_refused_at_load(tmp_path, text, message):
    path = write_profile(tmp_path, "bad", text)
    with pytest.raises(ConfigError, match=message) as err:
        profile.load(str(path))
    assert str(path.resolve()) in err.value.message or str(path) in err.value.message


def test_a_contradiction_names_the_file_each_side_comes_from(tmp_path, monkeypatch):
    write_profile(tmp_path, "strict", '[checks."cpu.governor"]\nexpected = "performance"\n')
    child = write_profile(tmp_path, "child", 'include = ["strict"]\n[tune]\n"cpu.governor" = "powersave"\n')
    monkeypatch.setenv(profile.PROFILE_PATH_ENV, str(tmp_path))
    with pytest.raises(ConfigError) as err:
        profile.load("child")
    assert err.value.message.startswith(str((tmp_path / "strict.toml").resolve()))
    assert str(child.resolve()) in err.value.message


def test_agreeing_check_parameters_are_accepted(tmp_path):
    path = write_profile(tmp_path, "ok", '[tune]\n"mm.thp_enabled" = "madvise"\n[tune.sysctl]\n"vm.swappiness" = 5\n'
                                         '[checks."mm.thp"]\nallowed = ["always", "madvise"]\n'
                                         '[checks."vm.swappiness"]\nmax = 10\n')
    assert profile.load(str(path)).tune["mm.thp_enabled"] == "madvise"


def _toml(tune: dict) -> str:
    """A [tune] section (JSON strings, booleans and lists of strings are TOML too)."""
    plain = "".join(f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in tune.items() if not isinstance(v, dict))
    tables = "".join(f"[tune.{k}]\n" + "".join(f"{json.dumps(n)} = {json.dumps(x)}\n" for n, x in v.items())
                     for k, v in tune.items() if isinstance(v, dict))
    return "[tune]\n" + plain + tables


@pytest.mark.parametrize("key", sorted(registry()))
def test_every_declared_tunable_is_a_profile_key_with_its_values_checked_at_load(tmp_path, key):
    tunable = registry()[key]
    loaded = profile.load(str(write_profile(tmp_path, "ok", _toml({key: tunable.example}))))
    assert loaded.tune[key] == tunable.example
    for check_id, params in check_params(loaded.tune).items():  # what check then expects
        assert set(params) <= set(REGISTRY[check_id].defaults), (key, check_id, params)
    wrong = 5 if tunable.type is not int else "five"
    with pytest.raises(ConfigError, match=rf"'tune\.{re.escape(key)}' must be a {tunable.type.__name__}") as err:
        profile.load(str(write_profile(tmp_path, "wrong", _toml({key: wrong}))))
    assert err.value.exit_code == 2


def test_a_key_no_tunable_declares_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'tune\.mm\.ksm_run'") as err:
        profile.load(str(write_profile(tmp_path, "ksm", _toml({"mm.ksm_run": 2}))))
    assert err.value.exit_code == 2 and "cpu.governor" in err.value.message  # the keys it accepts


def test_every_write_is_on_the_allow_list_built_from_the_declarations():
    assert sysfs.is_kernel_path("/sys/devices/system/cpu/cpufreq/policy12/scaling_governor")
    assert sysfs.is_kernel_path("/sys/devices/system/cpu/intel_pstate/no_turbo")
    assert sysfs.is_kernel_path("/proc/sys/vm/swappiness")
    assert not sysfs.is_kernel_path("/sys/devices/system/cpu/cpufreq/policy12/scaling_max_freq")
    assert not sysfs.is_kernel_path("/proc/sys/fs/suid_dumpable")  # not under an allowed sysctl prefix


# -- declarations checked when the registry loads -------------------------------------------

KSM_RUN = "/sys/kernel/mm/ksm/run"


def ksm_tunable(*verifies: Verify) -> Tunable:
    """KSM's run switch (0 off, 1 merge, 2 unmerge), as a newcomer might declare it."""
    def plan(host, tune, ctx):
        return [write("mm.ksm_run", "", KSM_RUN, str(tune["mm.ksm_run"]))] if "mm.ksm_run" in tune else []
    return Tunable("mm.ksm_run", int, order=35, plan=plan, example=2, verifies=verifies, writes=(KSM_RUN,),
                   writable=lambda v: v in ("0", "1", "2"))


@pytest.fixture
def with_ksm(monkeypatch):
    """The shipped declarations plus one for KSM, loaded through the real registry; a check
    `mm.ksm` that expects `run` = 0 (its parameter is `expected`)."""
    shipped = tunables._declared()
    monkeypatch.setitem(REGISTRY, "mm.ksm", CheckSpec("mm.ksm", "memory", lambda facts, p: None, {"expected": 0}))

    def declare(*verifies: Verify) -> None:
        monkeypatch.setattr(tunables, "_declared", lambda: shipped + [ksm_tunable(*verifies)])
        registry.cache_clear()
    yield declare
    registry.cache_clear()


def test_a_tunable_verifying_a_parameter_its_check_lacks_is_refused_when_the_registry_loads(with_ksm):
    # apply would write run = 2 and verify it, while check kept its default (0) and WARNed on it
    with_ksm(Verify("mm.ksm", "run"))
    with pytest.raises(RuntimeError, match=r"tunable mm\.ksm_run: verifies parameter 'run' of check 'mm\.ksm', "
                                           r"which has no such parameter \(it has: expected\)"):
        registry()


def test_a_tunable_verifying_its_checks_real_parameter_makes_check_expect_what_apply_writes(with_ksm):
    with_ksm(Verify("mm.ksm", "expected"))
    assert "mm.ksm_run" in registry()
    tune = {"mm.ksm_run": 2}
    p = profile.Profile("ksm", "", ("ksm",), tune=tune)
    assert resolve_params(REGISTRY["mm.ksm"], None, p, check_params(tune))["expected"] == 2


@pytest.mark.parametrize("change,message", [
    ({"verifies": (Verify("mm.ksmd", "expected"),)}, r"verifies check 'mm\.ksmd', which is not a registered check"),
    ({"facts": ("mm.ksm_run",)}, r"observed as fact 'mm\.ksm_run', which is not in the catalogue"),
    ({"reader": "sysfs"}, r"reader 'sysfs' is not one of bracket, sysctl, word"),
    ({"facts": ("vm.swappiness",)}, r"observed as fact 'vm\.swappiness', which the probe reads from "
                                    r"/proc/sys/vm/swappiness with reader 'sysctl': not a file it writes"),
    ({"planned_with": "cpu.governor"}, r"needs either its own plan or planned_with"),
    ({"example": "2"}, r"example '2' is not a value it accepts"),
])
def test_a_declaration_that_cannot_hold_its_promise_is_refused_at_load(with_ksm, change, message):
    checks = {check_id: spec.defaults for check_id, spec in REGISTRY.items()}
    with pytest.raises(RuntimeError, match=r"tunable mm\.ksm_run: " + message):
        tunables.validate([ksm_tunable(Verify("mm.ksm", "expected"))._replace(**change)], checks)


def test_an_epp_the_driver_pins_is_skipped_by_apply_and_by_check(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")  # intel_pstate, active
    prof = str(write_profile(scratch, "pinned", '[tune]\n"cpu.governor" = "performance"\n'
                                                '"cpu.epp" = "balance_power"\n'))
    res = invoke("apply", "--profile", prof, "--root", str(root), "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    epp_items = [i for i in json.loads(res.stdout)["plan"]["items"] if i["key"] == "cpu.epp"]
    assert epp_items and all(i["status"] == "skip" and "pinned" in i["reason"] for i in epp_items)
    rows = {r["id"]: r for r in json.loads(invoke("check", "--profile", prof, "--root", str(root),
                                                  "--json").stdout)["results"]}
    assert rows["cpu.governor"]["status"] == "PASS"
    assert rows["cpu.epp"]["status"] == "SKIP" and "pins the EPP" in rows["cpu.epp"]["message"]
