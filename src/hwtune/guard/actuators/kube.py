"""Kubernetes: a node condition, a NoSchedule taint and a cordon, through the official client.

Holding a node out is two verbs: `taint` (the `hwtune.io/unhealthy` NoSchedule taint and the
node condition `HwtuneHealthy=False`) and `cordon` (spec.unschedulable, marked as hwtune's
with the annotation `hwtune.io/cordoned`). `resume` takes back only what hwtune put there: a
node an operator cordoned stays cordoned. The taint list is replaced with the node's
resourceVersion in the patch, so a concurrent change is refused (409), never overwritten; the
condition goes by a strategic-merge patch of the status, which merges conditions by type and
leaves the kubelet's alone. Credentials: in-cluster (the DaemonSet's service account), else
the kubeconfig.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hwtune.errors import ConfigError
from hwtune.guard.actuators.base import ActuatorError, check_node_name, reason_text

TAINT_KEY = "hwtune.io/unhealthy"
CORDONED = "hwtune.io/cordoned"
CONDITION = "HwtuneHealthy"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
TIMEOUT_S = 15


def default_api() -> Any:
    try:
        from kubernetes import client, config
    except ModuleNotFoundError:
        raise ConfigError("--actuator kubernetes needs the kubernetes client: pip install 'hwtune[kube]'") from None
    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except (config.ConfigException, OSError) as exc:
            raise ConfigError(f"kubernetes: no in-cluster service account and no kubeconfig: {exc}") from None
    return client.CoreV1Api()


class Kubernetes:
    name = "kubernetes"
    hold_verbs: tuple[str, ...] = ("cordon", "taint")

    def __init__(self, api: Any = None) -> None:
        self.api = api if api is not None else default_api()

    def _call(self, what: str, fn, *args, **kwargs) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            resp = fn(*args, _preload_content=False, _request_timeout=TIMEOUT_S, **kwargs)
            return json.loads(resp.data or b"{}")
        except ApiException as exc:
            raise ActuatorError(f"kubernetes: {what}: {exc.status} {exc.reason}") from None
        except (OSError, ValueError) as exc:
            raise ActuatorError(f"kubernetes: {what}: {exc}") from None

    def node(self, node: str) -> dict[str, Any]:
        doc = self._call(f"read node {node}", self.api.read_node, check_node_name(node))
        return doc if isinstance(doc, dict) else {}

    def _patch(self, node: str, body: dict[str, Any]) -> None:
        self._call(f"patch node {node}", self.api.patch_node, node, body, _content_type=MERGE)

    def _condition(self, node: str, healthy: bool, reason: str) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        condition = {"type": CONDITION, "status": "True" if healthy else "False",
                     "reason": "HwtuneHealthy" if healthy else "HwtuneQuarantined", "message": reason,
                     "lastHeartbeatTime": now, "lastTransitionTime": now}
        self._call(f"patch node {node} status", self.api.patch_node_status, node,
                   {"status": {"conditions": [condition]}}, _content_type=STRATEGIC)

    def run(self, verb: str, node: str, reason: str) -> str:
        doc = self.node(node)
        meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
        version = str(meta.get("resourceVersion", ""))
        taints = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
        ours = [t for t in taints if t.get("key") == TAINT_KEY]
        if verb == "taint":
            if not ours:
                taints.append({"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"})
                self._patch(node, {"metadata": {"resourceVersion": version}, "spec": {"taints": taints}})
            self._condition(node, False, reason_text(reason))
            return f"tainted {TAINT_KEY}:NoSchedule; {CONDITION}=False"
        if verb == "cordon":
            if spec.get("unschedulable") and CORDONED not in (meta.get("annotations") or {}):
                return "left as it is: already cordoned by someone else"
            self._patch(node, {"metadata": {"resourceVersion": version, "annotations": {CORDONED: "true"}},
                               "spec": {"unschedulable": True}})
            return "cordoned"
        if verb == "resume":
            done = []
            if ours:
                self._patch(node, {"metadata": {"resourceVersion": version},
                                   "spec": {"taints": [t for t in taints if t.get("key") != TAINT_KEY]}})
                done.append("taint removed")
                meta = (self.node(node).get("metadata") or {})
                version = str(meta.get("resourceVersion", ""))
            if CORDONED in (meta.get("annotations") or {}):
                self._patch(node, {"metadata": {"resourceVersion": version, "annotations": {CORDONED: None}},
                                   "spec": {"unschedulable": False}})
                done.append("uncordoned")
            self._condition(node, True, "hwtune: healthy")
            return "; ".join(done) or "nothing of hwtune's on the node"
        raise ActuatorError(f"kubernetes cannot {verb}")

    def in_effect(self, verb: str, node: str) -> bool | None:
        doc = self.node(node)
        meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
        tainted = any(isinstance(t, dict) and t.get("key") == TAINT_KEY for t in spec.get("taints") or [])
        cordoned = bool(spec.get("unschedulable")) and CORDONED in (meta.get("annotations") or {})
        if verb == "taint":
            return tainted
        if verb == "cordon":
            return cordoned
        return not tainted and not cordoned

    def fleet(self) -> tuple[int, int] | None:
        doc = self._call("list nodes", self.api.list_node)
        items = [i for i in doc.get("items") or [] if isinstance(i, dict)] if isinstance(doc, dict) else []
        held = sum(1 for i in items if any(isinstance(t, dict) and t.get("key") == TAINT_KEY
                                           for t in (i.get("spec") or {}).get("taints") or []))
        return len(items), held
