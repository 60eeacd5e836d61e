"""What the --persist boot unit runs and reads is root's all the way up; profile includes are found beside
their profile and bounded; values rollback cannot undo, or that may panic the host, need --allow-irreversible."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from apply_helpers import NOBODY, SRC, add_kernel_files, invoke, tree_state, write_profile
from hwtune import profile as profiles
from hwtune.apply import rootowned
from hwtune.apply.persist import rebuild_unit

FILES = {"proc/sys/vm/swappiness": "60\n", "proc/sys/kernel/yama/ptrace_scope": "1\n",
         "proc/sys/kernel/modules_disabled": "0\n", "proc/sys/kernel/kexec_load_disabled": "0\n",
         "proc/sys/kernel/panic_on_oops": "0\n", "proc/sys/kernel/panic_on_warn": "0\n",
         "proc/sys/kernel/hung_task_panic": "0\n", "proc/sys/vm/panic_on_oom": "0\n",
         "proc/sys/vm/overcommit_memory": "0\n", "proc/sys/vm/overcommit_ratio": "50\n",
         "proc/sys/vm/overcommit_kbytes": "0\n"}
UNIT = "etc/systemd/system/hwtune-apply.service"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="owns files as root and as uid 65534: needs root")


def meminfo(total_kib: int, committed_kib: int, swap_kib: int = 0) -> str:
    return (f"MemTotal:       {total_kib} kB\nMemFree:        {total_kib // 2} kB\n"
            f"SwapTotal:      {swap_kib} kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n"
            f"Hugetlb:               0 kB\nCommitLimit:    {total_kib // 2 + swap_kib} kB\n"
            f"Committed_AS:   {committed_kib} kB\n")


def a_tree(tmp_path, **extra: str) -> Path:
    root = tmp_path / "root"
    add_kernel_files(root, {**FILES, "proc/meminfo": meminfo(16 << 20, 4 << 20), **extra})
    return root


def one_line(res, code: int, *words: str) -> str:
    got = res.exit_code if hasattr(res, "exit_code") else res.returncode
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert got == code and len(lines) == 1 and "Traceback" not in res.stderr, (got, res.stdout, res.stderr)
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def install_is_root_owned() -> None:
    why = rootowned.why_install_not_root_owned()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"CI's own venv must be root's all the way up: {why}")
        pytest.skip(f"this test run's own installation is not root's all the way up ({why}); CI's is")


# ---- the boot unit runs only root's code --------------------------------------------------------------

@needs_root
def test_persist_refuses_an_install_in_a_venv_another_user_owns(tmp_path):
    """The README's route: a venv the user owns, then `sudo .venv/bin/hwtune apply --persist`. The unit would
    run what that user can edit at every boot: refused, exit 2, one line naming the venv and the fix."""
    venv = tmp_path / "user-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python3*/site-packages"))
    # hwtune and what it needs, from this checkout and this test run's site-packages
    (site / "deps.pth").write_text(f"{SRC}\n{sysconfig.get_paths()['purelib']}\n")
    for folder, dirs, files in os.walk(venv):
        for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
            os.chown(name, NOBODY, NOBODY, follow_symlinks=False)
    root = a_tree(tmp_path)
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"vm.swappiness" = 10\n')
    before = tree_state(root, keep_state=True)
    res = subprocess.run([str(venv / "bin" / "python"), "-m", "hwtune", "apply", "-p", str(profile), "--root",
                          str(root), "--yes", "--persist"], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    line = one_line(res, 2, "--persist", f"is owned by uid {NOBODY}, not root",
                    "install hwtune root-owned: sudo python3 -m venv /opt/hwtune && sudo /opt/hwtune/bin/pip install .")
    assert str(venv) in line
    assert tree_state(root, keep_state=True) == before


@needs_root
@pytest.mark.parametrize("case", ["package file writable", "package folder foreign", "site-packages writable"])
def test_the_install_check_finds_a_file_another_user_may_change(tmp_path, case):
    """A root-owned venv is not enough: one file of the package another user may edit runs as root too."""
    base = tmp_path / "opt"
    pkg = base / "venv" / "lib" / "site-packages" / "hwtune"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text("")
    paths = [("virtual environment", str(base / "venv"), False), ("site-packages", str(pkg.parent), True)]
    assert rootowned.why_install_not_root_owned(paths) is None
    if case == "package file writable":
        os.chmod(pkg / "cli.py", 0o666)
        expect = f"{pkg / 'cli.py'} is writable by group or others (mode 0666)"
    elif case == "package folder foreign":
        os.chown(pkg, NOBODY, NOBODY)
        expect = f"{pkg} is owned by uid {NOBODY}, not root"
    else:
        os.chmod(pkg.parent, 0o777)
        expect = f"{pkg.parent} is writable by group or others (mode 0777)"
    assert expect in rootowned.why_install_not_root_owned(paths)


@needs_root
def test_root_all_the_way_up_allows_a_root_folder_in_a_sticky_one_only(tmp_path):
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    (sticky / "mine").mkdir(mode=0o700)
    (sticky / "mine" / "p.toml").write_text("")
    assert rootowned.why_not_root_owned(sticky / "mine" / "p.toml") is None
    (sticky / "loose.toml").write_text("")  # the exception is for a folder, not a file right in /tmp
    assert "may be written by group or others" in rootowned.why_not_root_owned(sticky / "loose.toml")
    assert "is writable by group or others" in rootowned.why_not_root_owned(sticky)  # /tmp itself is no place
    os.chmod(sticky, 0o777)  # world-writable without the sticky bit: anyone may rename `mine`
    assert "tmp is writable by group or others (mode 0777)" in rootowned.why_not_root_owned(sticky / "mine" / "p.toml")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    assert rootowned.why_not_root_owned(tmp_path / "link") is None
    os.chown(tmp_path / "elsewhere", NOBODY, NOBODY)
    assert f"elsewhere is owned by uid {NOBODY}" in rootowned.why_not_root_owned(tmp_path / "link")  # the target


@needs_root
def test_a_root_owned_install_gets_a_unit_that_runs_its_interpreter_isolated(tmp_path):
    """CI's venv (made by root under mktemp) and a root-owned profile: the unit runs `python -I -m hwtune`,
    so neither PYTHONPATH nor the folder it starts in decides what root imports at boot."""
    install_is_root_owned()
    root = a_tree(tmp_path)
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"vm.swappiness" = 10\n')
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--persist")
    assert res.exit_code == 0, res.stderr
    text = (root / UNIT).read_text()
    assert rebuild_unit(text) == text
    exec_argv = shlex.split(next(ln for ln in text.splitlines() if ln.startswith("ExecStart=")).split("=", 1)[1])
    assert exec_argv[:4] == [sys.executable, "-I", "-m", "hwtune"]
    assert exec_argv[4:] == ["apply", "--profile", str(profile.resolve()), "--yes", "--boot"]
    # run that interpreter as the unit would, from a folder (and with a PYTHONPATH) holding a planted hwtune
    planted = tmp_path / "planted"
    (planted / "hwtune").mkdir(parents=True)
    marker = tmp_path / "planted-ran"
    (planted / "hwtune" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (planted / "hwtune" / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    ran = subprocess.run([*exec_argv[:4], "--version"], cwd=planted, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(planted)}, stdin=subprocess.DEVNULL)
    assert ran.returncode == 0 and "hwtune" in ran.stdout, ran.stderr
    assert not marker.exists()


# ---- profiles trusted all the way up; includes ---------------------------------------------------------

@needs_root
@pytest.mark.parametrize("case", ["folder above", "included file", "included file writable"])
def test_persist_refuses_a_profile_or_include_another_user_may_change(tmp_path, case):
    root = a_tree(tmp_path)
    top = tmp_path / "srv"
    folder = top / "profiles"
    folder.mkdir(parents=True)
    write_profile(folder, "common", '[tune.sysctl]\n"vm.swappiness" = 10\n')
    profile = write_profile(folder, "p", 'include = ["common.toml"]\n')
    if case == "folder above":  # nobody owns a folder higher up, and could swap `profiles` for their own
        os.chown(top, NOBODY, NOBODY)
        named = str(top)
    elif case == "included file":
        os.chown(folder / "common.toml", NOBODY, NOBODY)
        named = str(folder / "common.toml")
    else:
        os.chmod(folder / "common.toml", 0o666)
        named = str(folder / "common.toml")
    before = tree_state(root, keep_state=True)
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--persist")
    one_line(res, 2, "--persist", named, "may be changed by another user")
    assert tree_state(root, keep_state=True) == before
    assert invoke("apply", "-p", str(profile), "--root", str(root), "--yes").exit_code == 0  # no unit: applied


def test_a_relative_include_is_found_beside_its_profile_never_in_the_current_folder(tmp_path, monkeypatch):
    """Run from /tmp, root merged a common.toml that nobody planted there; run from / (where the unit
    starts) it failed at every boot."""
    folder = tmp_path / "profiles"
    (folder / "parts").mkdir(parents=True)
    write_profile(folder, "common", '[tune.sysctl]\n"vm.swappiness" = 10\n')
    write_profile(folder / "parts", "more", 'include = ["../common.toml"]\n[tune.sysctl]\n"vm.dirty_ratio" = 5\n')
    profile = write_profile(folder, "p", 'include = ["parts/more.toml"]\n')
    planted = tmp_path / "cwd"
    (planted / "parts").mkdir(parents=True)
    write_profile(planted, "common", '[tune.sysctl]\n"vm.swappiness" = 99\n"kernel.core_pattern" = "planted"\n')
    write_profile(planted / "parts", "more", '[tune.sysctl]\n"vm.swappiness" = 98\n')
    for cwd in (planted, Path("/")):
        monkeypatch.chdir(cwd)
        loaded = profiles.load(str(profile))
        assert dict(loaded.tune["sysctl"]) == {"vm.swappiness": 10, "vm.dirty_ratio": 5}
        assert loaded.files == tuple(str(p.resolve()) for p in (folder / "common.toml", folder / "parts/more.toml",
                                                               profile))
    monkeypatch.chdir(planted)
    res = invoke("profiles", "show", str(profile), "--json")
    assert res.exit_code == 0 and "planted" not in res.stdout and json.loads(res.stdout)["tune"]["sysctl"][
        "vm.swappiness"] == 10


def test_includes_are_parsed_once_and_merge_as_before(tmp_path, monkeypatch):
    """A diamond (p includes a and b, both include base): base is read once, and merged where a plain
    depth-first walk merges it, so b's copy of base's value wins over a's own, as it always did."""
    write_profile(tmp_path, "base", '[tune.sysctl]\n"vm.swappiness" = 1\n"kernel.numa_balancing" = 0\n')
    write_profile(tmp_path, "a", 'include = ["base.toml"]\n[tune.sysctl]\n"vm.swappiness" = 2\n')
    write_profile(tmp_path, "b", 'include = ["base.toml"]\n[tune.sysctl]\n"kernel.numa_balancing" = 1\n')
    profile = write_profile(tmp_path, "p", 'include = ["a.toml", "b.toml"]\n')
    reads = count_reads(monkeypatch)
    loaded = profiles.load(str(profile))
    assert dict(loaded.tune["sysctl"]) == {"vm.swappiness": 1, "kernel.numa_balancing": 1}
    assert loaded.chain == ("base", "a", "b", "p")
    assert sorted(Path(p).stem for p in reads) == ["a", "b", "base", "p"]


def count_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    real = profiles.read_document

    def counting(path):
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(profiles, "read_document", counting)
    return reads


def doubling_tree(folder: Path, depth: int) -> Path:
    """p0 includes p1 twice, p1 includes p2 twice, ...: 2**depth paths through depth+1 files."""
    for n in range(depth + 1):
        inc = f'include = ["p{n + 1}.toml", "p{n + 1}.toml"]\n' if n < depth else ""
        write_profile(folder, f"p{n}", inc + f'[tune.sysctl]\n"vm.swappiness" = {n}\n')
    return folder / "p0.toml"


def test_an_exponential_include_tree_reads_each_file_once(tmp_path, monkeypatch):
    reads = count_reads(monkeypatch)
    loaded = profiles.load(str(doubling_tree(tmp_path, 12)))  # 4096 paths, 13 files, 24 includes
    assert len(reads) == 13 and loaded.tune["sysctl"]["vm.swappiness"] == 0
    assert loaded.chain == tuple(f"p{n}" for n in range(12, -1, -1))


def test_an_include_tree_17_deep_is_refused_in_one_line(tmp_path, monkeypatch):
    """A profile including the next one twice, 17 deep, took 31.7 s: now exit 2 after 17 reads."""
    reads = count_reads(monkeypatch)
    res = invoke("profiles", "show", str(doubling_tree(tmp_path, 17)))
    one_line(res, 2, "includes nest deeper than 16", "p0 -> p1 -> p2")
    assert len(reads) == 17


def test_a_chain_of_1200_includes_is_refused_in_one_line(tmp_path, monkeypatch):
    """It crashed with a traceback (RecursionError)."""
    for n in range(1200):
        write_profile(tmp_path, f"c{n}", f'include = ["c{n + 1}.toml"]\n' if n < 1199 else "")
    reads = count_reads(monkeypatch)
    res = invoke("check", "--profile", str(tmp_path / "c0.toml"), "--root", str(a_tree(tmp_path)))
    line = one_line(res, 2, "includes nest deeper than 16", "c0 -> c1")
    assert len(reads) == 17 and len(line) < 400


def test_more_than_64_includes_in_all_are_refused(tmp_path):
    write_profile(tmp_path, "leaf", "")
    wide = write_profile(tmp_path, "wide", "include = [" + ", ".join(['"leaf.toml"'] * 65) + "]\n")
    one_line(invoke("profiles", "show", str(wide)), 2, "more than 64 includes in all", "wide -> leaf.toml")
    ok = write_profile(tmp_path, "ok", "include = [" + ", ".join(['"leaf.toml"'] * 64) + "]\n")
    assert invoke("profiles", "show", str(ok)).exit_code == 0


# ---- values rollback cannot undo, or that may panic the host --------------------------------------------

IRREVERSIBLE = [("kernel.modules_disabled", 1, "CANNOT BE ROLLED BACK BEFORE A REBOOT"),
                ("kernel.kexec_load_disabled", 1, "CANNOT BE ROLLED BACK BEFORE A REBOOT"),
                ("kernel.yama.ptrace_scope", 3, "CANNOT BE ROLLED BACK BEFORE A REBOOT"),
                ("kernel.panic_on_oops", 1, "MAY PANIC THE HOST"),
                ("kernel.panic_on_warn", 1, "MAY PANIC THE HOST"),
                ("kernel.hung_task_panic", 1, "MAY PANIC THE HOST"),
                ("vm.panic_on_oom", 1, "MAY PANIC THE HOST"),
                ("vm.panic_on_oom", 2, "MAY PANIC THE HOST")]


@pytest.mark.parametrize("name,value,risk", IRREVERSIBLE)
def test_a_value_rollback_cannot_undo_or_that_may_panic_needs_allow_irreversible(tmp_path, name, value, risk):
    root = a_tree(tmp_path)
    profile = write_profile(tmp_path, "p", f'[tune.sysctl]\n"{name}" = {value}\n')
    before = tree_state(root, keep_state=True)
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes")
    one_line(res, 2, risk, name, "--allow-irreversible")
    # --allow-lower-hardening is another permission: it does not open this one
    one_line(invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--allow-lower-hardening"), 2, risk)
    assert tree_state(root, keep_state=True) == before
    plan = json.loads(invoke("apply", "-p", str(profile), "--root", str(root), "--dry-run", "--json").stdout)
    (item,) = plan["plan"]["items"]
    assert len(item["risks"]) == 1 and item["risks"][0].startswith(f"{risk}: {name}={value}")
    assert risk in invoke("apply", "-p", str(profile), "--root", str(root), "--dry-run").stdout
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--allow-irreversible")
    assert res.exit_code == 0, res.stderr
    assert (root / ("proc/sys/" + name.replace(".", "/"))).read_text() == f"{value}\n"


def test_an_ordinary_change_has_no_risks(tmp_path):
    root = a_tree(tmp_path)
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"vm.swappiness" = 10\n"kernel.yama.ptrace_scope" = 2\n'
                                           '"kernel.panic_on_oops" = 0\n')
    plan = json.loads(invoke("apply", "-p", str(profile), "--root", str(root), "--dry-run", "--json").stdout)
    assert {i["key"]: i["risks"] for i in plan["plan"]["items"]} == {
        "sysctl.kernel.panic_on_oops": [], "sysctl.kernel.yama.ptrace_scope": [], "sysctl.vm.swappiness": []}
    assert invoke("apply", "-p", str(profile), "--root", str(root), "--yes").exit_code == 0


@pytest.mark.parametrize("ratio,committed_gib,swap_gib,risky", [
    (0, 4, 0, True),  # the reproduction: overcommit_ratio=0 leaves no memory to commit
    (50, 12, 0, True),  # 8 GiB limit under 12 GiB committed
    (50, 12, 8, False),  # swap counts: 16 GiB limit
    (100, 12, 0, False)])
def test_strict_overcommit_below_what_is_committed_needs_allow_irreversible(tmp_path, ratio, committed_gib,
                                                                             swap_gib, risky):
    root = a_tree(tmp_path, **{"proc/meminfo": meminfo(16 << 20, committed_gib << 20, swap_gib << 20)})
    profile = write_profile(tmp_path, "p", f'[tune.sysctl]\n"vm.overcommit_memory" = 2\n'
                                           f'"vm.overcommit_ratio" = {ratio}\n')
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes")
    if risky:
        one_line(res, 2, "MAY PANIC THE HOST", "vm.overcommit_memory=2", f"below the {committed_gib << 20} kB "
                 "committed now", "--allow-irreversible")
    else:
        assert res.exit_code == 0, res.stderr


def test_lowering_the_commit_limit_of_a_host_in_strict_overcommit_needs_allow_irreversible(tmp_path):
    root = a_tree(tmp_path, **{"proc/sys/vm/overcommit_memory": "2\n",
                               "proc/meminfo": meminfo(16 << 20, 12 << 20)})
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"vm.overcommit_ratio" = 0\n')
    one_line(invoke("apply", "-p", str(profile), "--root", str(root), "--yes"), 2, "MAY PANIC THE HOST",
             "vm.overcommit_ratio=0", "CommitLimit would be 0 kB")
    (root / "proc/sys/vm/overcommit_memory").write_text("0\n")  # heuristic overcommit: no limit to fall under
    assert invoke("apply", "-p", str(profile), "--root", str(root), "--yes").exit_code == 0


def test_without_yama_ptrace_scope_3_is_skipped_not_refused(tmp_path):
    files = {k: v for k, v in FILES.items() if "yama" not in k}
    root = tmp_path / "root"
    add_kernel_files(root, {**files, "proc/meminfo": meminfo(16 << 20, 4 << 20)})
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"kernel.yama.ptrace_scope" = 3\n')
    plan = json.loads(invoke("apply", "-p", str(profile), "--root", str(root), "--dry-run", "--json").stdout)
    (item,) = plan["plan"]["items"]
    assert item["status"] == "skip" and item["risks"] == []
    assert invoke("apply", "-p", str(profile), "--root", str(root), "--yes").exit_code == 0


@needs_root
def test_the_boot_unit_carries_allow_irreversible_and_rolls_back(tmp_path):
    install_is_root_owned()
    root = a_tree(tmp_path)
    before = tree_state(root)
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"kernel.panic_on_oops" = 1\n')
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--persist", "--allow-irreversible")
    assert res.exit_code == 0, res.stderr
    text = (root / UNIT).read_text()
    assert " --yes --boot --allow-irreversible\n" in text and rebuild_unit(text) == text
    assert invoke("rollback", "--root", str(root)).exit_code == 0
    assert tree_state(root) == before
