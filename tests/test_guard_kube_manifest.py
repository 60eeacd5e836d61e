"""contrib/kubernetes/hwtune-guard.yaml against the Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

import pytest

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed "
                                          "(the test extra has it)")

from conftest import REPO  # noqa: E402

MANIFEST = REPO / "contrib" / "kubernetes" / "hwtune-guard.yaml"


def documents():
    return [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def test_every_document_is_valid_against_the_schemas():
    docs = documents()
    assert [d["kind"] for d in docs] == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                         "DaemonSet"]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30", strict=True)


def test_a_broken_manifest_is_caught():
    ds = documents()[-1]
    ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "nine"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(ds, "1.30", strict=True)


def test_the_daemonset_runs_guard_with_the_kubernetes_actuator_and_the_rights_it_needs():
    docs = {d["kind"]: d for d in documents()}
    container = docs["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:3] == ["guard", "--actuator", "kubernetes"]
    assert "--once" not in container["args"]
    tolerated = {t["key"] for t in docs["DaemonSet"]["spec"]["template"]["spec"]["tolerations"]}
    assert "hwtune.io/unhealthy" in tolerated  # it keeps running on a node it took out
    rules = {(tuple(r["resources"]), tuple(r["verbs"])) for r in docs["ClusterRole"]["rules"]}
    assert rules == {(("nodes",), ("get", "list", "patch")), (("nodes/status",), ("patch",))}
