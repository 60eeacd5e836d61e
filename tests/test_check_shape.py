"""The shape every check shares: texts that fit their check, one severity path, catalogued fact ids."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import SICK, SNAPSHOTS, snapshot
from hwtune import factids, profile
from hwtune.checks import registry
from hwtune.checks.registry import REGISTRY, Status, problem
from hwtune.checks.text import load_texts, text_problem
from hwtune.facts import Facts, FactsBuilder, Gpu
from hwtune.host import Host
from hwtune.probe import probe_facts
from hwtune.verdict import effective_params, evaluate

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "hwtune"
FACT_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
JSON_TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict}


def _row(report, check_id):
    return next(r for r in report.results if r.id == check_id)


def test_every_check_text_fits_its_check():
    texts = load_texts()
    for check_id, spec in REGISTRY.items():
        assert text_problem(check_id, texts.get(check_id), spec.fix) is None


def test_a_missing_text_or_placeholder_is_named():
    text = load_texts()["cpu.governor"]
    assert "no text for check 'x.y'" in text_problem("x.y", None, frozenset())
    why = text_problem("cpu.governor", text, frozenset())
    assert "{governor}" in why and "does not fill" in why
    why = text_problem("cpu.governor", text, frozenset({"governor", "extra"}))
    assert "fills extra" in why


def test_a_check_without_text_is_one_error_row_not_a_crash(monkeypatch):
    monkeypatch.setitem(REGISTRY, "cpu.ghost", REGISTRY["vm.swappiness"]._replace(id="cpu.ghost"))
    report = evaluate(Facts({"vm.swappiness": 60}), profile.load("cpu-inference"))
    ghost = _row(report, "cpu.ghost")
    assert ghost.status is Status.ERROR and "no text for check 'cpu.ghost'" in ghost.message
    assert _row(report, "vm.swappiness").status is Status.WARN  # the others still judged


def test_fix_arguments_that_differ_from_the_declared_ones_are_an_error_row(monkeypatch):
    spec = REGISTRY["vm.swappiness"]
    monkeypatch.setitem(REGISTRY, "vm.swappiness", spec._replace(fn=lambda f, p: problem(60, "<= 10", "m")))
    r = _row(evaluate(Facts({"vm.swappiness": 60}), profile.load("cpu-inference")), "vm.swappiness")
    assert r.status is Status.ERROR and "'value'" in r.message and "{value}" not in (r.fix or "")


def test_reading_a_fact_id_not_in_the_catalogue_is_an_error_row(monkeypatch):
    spec = REGISTRY["vm.swappiness"]
    monkeypatch.setitem(REGISTRY, "vm.swappiness", spec._replace(fn=lambda f, p: f.get("vm.swapiness")))
    r = _row(evaluate(Facts({"vm.swappiness": 60}), profile.load("cpu-inference")), "vm.swappiness")
    assert r.status is Status.ERROR and "vm.swapiness" in r.message and "catalogue" in r.message


def test_profile_severity_covers_every_problem_of_the_check(tmp_path):
    gpu = Gpu(index=0, bus_id="00000000:07:00.0", persistence_mode=False)
    dual = Facts({"gpu.count": 1, "nvidia.persistenced": False, "cpu.sockets": 2,
                  "pci.nvidia_devices": [{"address": gpu.bus_id}]}, {}, (gpu,))
    assert _row(evaluate(dual, profile.load("gpu-inference")), "nvidia.persistenced").status is Status.FAIL
    path = tmp_path / "lenient.toml"
    path.write_text('include = ["gpu-inference"]\n[checks."nvidia.persistenced"]\nseverity = "warn"\n')
    lenient = profile.load(str(path))
    assert _row(evaluate(dual, lenient), "nvidia.persistenced").status is Status.WARN
    shown = effective_params(lenient)["nvidia.persistenced"]
    assert shown["severity"] == shown["multi_socket_severity"] == shown["single_socket_severity"] == "warn"
    # a narrower key the profile names wins over its plain severity
    path.write_text('include = ["gpu-inference"]\n[checks."nvidia.persistenced"]\nseverity = "warn"\n'
                    'multi_socket_severity = "fail"\n')
    assert _row(evaluate(dual, profile.load(str(path))), "nvidia.persistenced").status is Status.FAIL


def test_checks_say_problem_never_fail_or_warn():
    # one severity path: no check module builds a FAIL or WARN itself
    for path in sorted((SRC / "checks").glob("*.py")):
        if path.stem in ("registry", "text", "__init__"):
            continue
        source = path.read_text()
        for word in ("Status.FAIL", "Status.WARN", "warn("):
            assert word not in source, f"{path.name} uses {word}"


def test_every_checks_module_is_registered_in_a_report_area():
    modules = {p.stem for p in (SRC / "checks").glob("*.py")} - {"registry", "text", "__init__"}
    assert {spec.fn.__module__.rsplit(".", 1)[-1] for spec in REGISTRY.values()} == modules
    assert all(spec.area in registry.AREAS for spec in REGISTRY.values())


@pytest.mark.parametrize("name", SNAPSHOTS + tuple(sorted(p.name for p in SICK.iterdir() if p.is_dir())))
def test_every_probed_fact_is_catalogued_with_its_type(name):
    facts = probe_facts(Host(snapshot(name)))
    for fact_id, value in facts.values.items():
        entry = factids.entry(fact_id)
        assert entry is not None, fact_id
        assert value is None or isinstance(value, JSON_TYPES[entry.type]), (fact_id, value)
        assert not (entry.type == "int" and isinstance(value, bool)), fact_id


def _literal_fact_ids() -> set[tuple[str, str]]:
    """Every string literal the code passes as a fact id (facts.get / .reason / builder .set / .unknown)."""
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("get", "reason", "set", "unknown") and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                receiver = ast.unparse(node.func.value)
                if receiver in ("facts", "f", "b", "builder", "self.facts") and FACT_ID.fullmatch(node.args[0].value):
                    found.add((f"{path.relative_to(SRC)}:{node.lineno}", node.args[0].value))
    return found


def test_every_fact_id_the_code_names_is_catalogued():
    literals = _literal_fact_ids()
    assert len(literals) > 50  # the scan finds the probes' and checks' ids
    missing = [(where, fid) for where, fid in literals if not factids.known(fid)]
    assert not missing


def test_the_builder_refuses_an_uncatalogued_id():
    with pytest.raises(factids.UnknownFactId, match=r"cpu\.govenors"):
        FactsBuilder().set("cpu.govenors", {})
    assert factids.known("cpu.flags.avx2") and not factids.known("cpu.flags") and not factids.known("cpu.flags.a.b")


def test_one_fact_id_has_one_meaning_checked_when_the_catalogue_loads():
    assert len(factids.BY_ID) == len(factids.CATALOGUE)  # the shipped catalogue loaded, so no id is twice
    twice = factids.CATALOGUE + (factids.FactId("pci.aer", "list", "", "a second meaning for an id"),)
    with pytest.raises(RuntimeError, match=r"fact ids declared twice in hwtune/factids\.py: pci\.aer"):
        factids._unique(twice)
    docs = (REPO / "docs" / "facts.md").read_text()
    assert all(docs.count(f"| `{f.id}` |") == 1 for f in factids.CATALOGUE if not f.id.endswith(".*"))


def test_docs_facts_is_generated_from_the_catalogue():
    assert (REPO / "docs" / "facts.md").read_text() == factids.render_markdown()
