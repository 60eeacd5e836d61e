"""What a host, a tree, a log or a JSON file says is inert where hwtune shows it; exit codes mean what they say.

Each test is one reproduction of issue 19 (markup in a host's check.json
reaching the HTML, escape sequences reaching the terminal, a malformed host
stopping the fleet page, tracebacks with exit 1), run through the real CLI.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.text import Text

from apply_helpers import hwtune_argv, run_hwtune
from conftest import REPO, snapshot
from hwtune.console import InertConsole, inert
from hwtune.errors import EXIT_MEANINGS
from report_helpers import check_json, invoke, journal, write_json

VM = "vm-kvm-2vcpu-nocpufreq"
# clear the screen, set the clipboard (OSC 52), hide what follows (SGR 8), a one-byte CSI, a bidi override
HOSTILE = "ev\x1b[2J\x1b]52;c;ZXZpbA==\x1b\\il\x1b[8m\x9b31m\u202etxt"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # what rich itself writes for hwtune's styles


def assert_inert(text: str) -> None:
    """No control character left but newline and tab; the hostile value shown written out."""
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", text), repr(text[:300])
    assert r"ev\x1b[2J\x1b]52;c;ZXZpbA==\x1b\il\x1b[8m\x9b31m\u202etxt" in text, text


# -- the HTML: a host's check.json is untrusted ------------------------------------------------------

MARKUP = "<style>.badge{background:#1a7f37!important}</style><meta http-equiv=refresh content='0;url=http://x'>"


def test_markup_in_check_json_counts_never_reaches_the_fleet_page(tmp_path):
    """The reported case: `counts` values were written unescaped; CSS repainted FAIL as PASS."""
    fleet = tmp_path / "fleet"
    write_json(fleet / "good" / "check.json", check_json(VM))
    write_json(fleet / "evil" / "check.json", {**check_json(VM), "counts": {"FAIL": MARKUP}})
    page = tmp_path / "fleet.html"
    res = invoke("fleet", "report", fleet, "--out", page)
    assert res.exit_code == 1 and res.stderr == ""  # a host that cannot be read is a host that failed
    html = page.read_text(encoding="utf-8")
    assert "<style>.badge" not in html and "http-equiv=refresh" not in html and "<meta http-equiv=refresh" not in html
    assert re.search(r"unreadable: \S*evil/check\.json: key &#x27;counts\.FAIL&#x27;: expected a count", html)
    assert "evil: unreadable:" in res.stdout and re.search(r"^good +WARN +cpu-inference ", res.stdout, re.M)


def test_one_malformed_host_never_stops_the_fleet_page(tmp_path):
    """One malformed host file stopped `fleet report --out` from writing the page for the whole fleet."""
    fleet = tmp_path / "fleet"
    good = check_json(VM)
    write_json(fleet / "good" / "check.json", good)
    (fleet / "deep").mkdir()
    (fleet / "deep" / "check.json").write_text("[" * 100_000 + "]" * 100_000)
    (fleet / "bigint").mkdir()
    (fleet / "bigint" / "check.json").write_text('{"status": "pass", "results": [], "counts": {"PASS": '
                                                 + "9" * 5000 + "}}")
    write_json(fleet / "badtype" / "check.json", {**good, "results": [{"id": "x", "status": "PASS", "fix": [1]}]})
    write_json(fleet / "badfacts" / "check.json", good)
    write_json(fleet / "badfacts" / "facts.json", {"schema": 1, "facts": {"cpu.threads": "many"}})
    (fleet / "flat.json").write_text("{not json")
    page = tmp_path / "fleet.html"
    res = invoke("fleet", "report", fleet, "--out", page, "--json")
    assert res.exit_code == 1
    hosts = {h["name"]: h for h in json.loads(res.stdout)["hosts"]}
    assert hosts["good"]["status"] == good["status"]
    reasons = {"deep": "nested too deeply", "bigint": "more than 4,300 digits", "badtype": "results[0].fix",
               "badfacts": "facts.cpu.threads", "flat": "not JSON"}
    html = page.read_text(encoding="utf-8")
    for name, reason in reasons.items():
        assert hosts[name]["status"] == "unreadable" and reason in hosts[name]["error"], hosts[name]
        assert re.search(rf"<b>{name}</b>.*?unreadable: [^<]*{re.escape(reason)}", html)


def test_every_text_field_of_a_check_report_is_escaped_on_the_host_page(tmp_path):
    tag = '"><img src=x onerror=alert(1)><b>'
    doc = check_json(VM)
    doc["profile"] = tag
    doc["results"][0] = {**doc["results"][0], "status": "FAIL", "id": tag, "title": tag, "message": tag,
                         "fix": tag, "rationale": tag, "source": "https://x/" + tag, "observed": tag, "expected": tag}
    check = write_json(tmp_path / "check.json", doc)
    page = tmp_path / "report.html"
    res = invoke("report", "--check", check, "--facts", write_json(tmp_path / "facts.json", _facts()), "--out", page,
                 "--journal-dir", tmp_path)
    assert res.exit_code == 0, res.stderr
    html = page.read_text(encoding="utf-8")
    assert "<img" not in html and "alert(1)><b>" not in html, re.findall(r".{80}<img.{20}", html)
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 8


def _facts() -> dict:
    return json.loads(invoke("facts", "--root", snapshot(VM), "--json").stdout)


def test_journal_steps_that_are_not_objects_are_passed_over_with_the_reason(tmp_path):
    """`steps: [1]` in a journal ended `hwtune report` in a traceback and exit 1."""
    journals = tmp_path / "journal"
    write_json(journals / "20261101-100000-000001.json", {**journal("20261101-100000-000001", "2026-11-01"),
                                                          "steps": [1, "x", None]})
    write_json(journals / "20261102-100000-000001.json", journal("20261102-100000-000001", "2026-11-02"))
    page = tmp_path / "report.html"
    res = invoke("report", "--facts", write_json(tmp_path / "facts.json", _facts()), "--journal-dir", journals,
                 "--out", page, "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["journals"] == 1
    assert "20261101-100000-000001.json: not a hwtune journal (a step is not an object)" in \
        page.read_text(encoding="utf-8")


# -- the terminal: control characters are shown, never sent ------------------------------------------

def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(snapshot(VM), tree, symlinks=True)
    (tree / "etc").mkdir(exist_ok=True)
    (tree / "etc" / "os-release").unlink(missing_ok=True)
    (tree / "etc" / "os-release").write_text(f'ID=debian\nPRETTY_NAME="{HOSTILE}"\nVERSION_ID="12"\n')
    return tree


@pytest.mark.parametrize("command", [["facts"], ["check"], ["check", "--verbose"]])
def test_escape_sequences_in_a_trees_os_release_are_shown_not_sent(tmp_path, command):
    res = run_hwtune(*command, "--root", str(_tree(tmp_path)))
    assert res.returncode in (0, 1), res.stderr
    assert_inert(res.stdout)


@pytest.mark.parametrize("fmt", ["prometheus", "junit"])
def test_the_machine_formats_carry_no_control_character(tmp_path, fmt):
    res = run_hwtune("check", "--root", str(_tree(tmp_path)), "--format", fmt)
    assert res.returncode in (0, 1), res.stderr
    assert "ev" in res.stdout and not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", res.stdout)


def test_process_names_from_the_kernel_log_are_shown_not_sent(tmp_path):
    tree = _tree(tmp_path)
    (tree / "cmd").mkdir(exist_ok=True)
    (tree / "cmd" / "dmesg.txt").write_text(
        f"[  518.050606] Out of memory: Killed process 15784 ({HOSTILE}) total-vm:1kB\n")
    res = run_hwtune("check", "--root", str(tree), "--verbose")
    assert "host.oom" in res.stdout, res.stdout
    assert_inert(res.stdout)


def test_fleet_report_inputs_are_shown_not_sent(tmp_path):
    fleet = tmp_path / "fleet"
    write_json(fleet / f"web{HOSTILE}" / "check.json", {**check_json(VM), "profile": HOSTILE})
    (fleet / "old").mkdir()
    (fleet / "old" / "error.txt").write_text(f"failed: {HOSTILE}\n")
    write_json(fleet / "bad" / "check.json", {**check_json(VM), "status": 5, "note": HOSTILE})
    res = run_hwtune("fleet", "report", str(fleet))
    assert res.returncode == 1, res.stderr
    assert_inert(res.stdout)
    assert "old: no result: failed: ev\\x1b[2J" in res.stdout


def test_diff_inputs_are_shown_not_sent(tmp_path):
    a = check_json(VM)
    b = json.loads(json.dumps(a))
    b["results"][0]["observed"] = HOSTILE
    b["results"][0]["status"] = "FAIL"
    res = run_hwtune("diff", str(write_json(tmp_path / "a.json", a)), str(write_json(tmp_path / "b.json", b)))
    assert res.returncode == 1, res.stderr
    assert_inert(res.stdout)


def test_an_error_line_naming_a_hostile_file_is_shown_not_sent(tmp_path):
    bad = tmp_path / f"x{HOSTILE}.json"
    bad.write_text("{not json")
    res = run_hwtune("check", "--facts", str(bad))
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert_inert(res.stderr)


def test_a_host_folder_name_that_is_not_utf8_is_shown_written_out(tmp_path):
    fleet = tmp_path / "fleet"
    name = b"web\xff"
    (fleet / "x").mkdir(parents=True)
    write_json(fleet / "x" / "check.json", check_json(VM))
    os.rename(os.fsencode(fleet / "x"), os.fsencode(fleet) + b"/" + name)
    page = tmp_path / "fleet.html"
    res = run_hwtune("fleet", "report", str(fleet), "--out", str(page))
    assert res.returncode == 0, res.stderr
    assert "web\\udcff" in res.stdout and "web\\udcff" in page.read_text(encoding="utf-8")


def test_the_inert_console_keeps_hwtunes_own_styles_in_a_terminal():
    console = InertConsole(file=io.StringIO(), force_terminal=True, color_system="standard", width=80)
    line = Text("FAIL ", style="bold red")
    line.append(f"host.oom: killed {HOSTILE}")
    console.print(line)
    written = console.file.getvalue()
    assert "\x1b[1;31mFAIL" in written  # rich's own style codes still go out
    assert_inert(SGR.sub("", written))
    assert inert("plain ü\ttext\n") == "plain ü\ttext\n"


# -- exit codes -----------------------------------------------------------------------------------

def test_an_internal_error_is_one_line_exit_70_and_debug_shows_the_traceback(tmp_path):
    """Something hwtune did not foresee: one line naming it and "this is a bug", never a traceback."""
    broken = tmp_path / "broken"
    shutil.copytree(snapshot(VM), broken, symlinks=True)
    hook = tmp_path / "hook"
    hook.mkdir()
    # a fault injected where the probes start (a test-only module on the path), as a real bug would be
    (hook / "sitecustomize.py").write_text(
        "import hwtune.probe as p\n"
        "def boom(*a, **k):\n    raise KeyError('cpu.threads')\n"
        "p.probe_facts = boom\n")
    env = {"PYTHONPATH": str(hook)}
    res = run_hwtune("facts", "--root", str(broken), env=env)
    assert res.returncode == 70, res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert re.match(r"hwtune: internal error: KeyError: 'cpu.threads' at \S+\.py:\d+; this is a bug", res.stderr)
    res = run_hwtune("--debug", "facts", "--root", str(broken), env=env)
    assert res.returncode == 70 and "Traceback (most recent call last)" in res.stderr
    assert res.stderr.rstrip().endswith("this is a bug")


def test_the_exit_code_table_is_one_table_in_errors_help_and_readme():
    help_text = subprocess.run([*hwtune_argv(), "--help"], capture_output=True, text=True, timeout=60).stdout
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    codes = [int(c) for c in re.findall(r"^\| (\d+) \| .+ \|$", section, flags=re.M)]
    assert codes == list(EXIT_MEANINGS) == [0, 1, 2, 3, 4, 5, 6, 70]
    for code, meaning in EXIT_MEANINGS.items():
        assert f"{code:>3}  {meaning}" in help_text
    assert max(len(line) for line in help_text.splitlines()) <= 80
