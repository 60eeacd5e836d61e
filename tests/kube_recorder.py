"""A loopback HTTP server that answers the Kubernetes API calls guard makes and records each one.

No API server can be installed on these machines: this stands in for one, with the semantics
guard relies on (JSON merge patch with resourceVersion checked, 409 on a stale one; a
strategic-merge patch of the status merging conditions by type). Every request is kept as
(method, path, content type, body)."""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _merge(target, patch):  # RFC 7386
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


class Recorder:
    def __init__(self, nodes: dict[str, dict]) -> None:
        self.nodes = nodes
        self.requests: list[tuple[str, str, str, object]] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, doc: object) -> None:
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                recorder.requests.append(("GET", self.path, "", None))
                with recorder.lock:
                    if self.path.split("?")[0] == "/api/v1/nodes":
                        return self._send(200, {"kind": "NodeList", "apiVersion": "v1",
                                                "items": list(recorder.nodes.values())})
                    name = self.path.split("?")[0].rsplit("/", 1)[-1]
                    if name in recorder.nodes:
                        return self._send(200, recorder.nodes[name])
                return self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

            def do_PATCH(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                kind = self.headers.get("Content-Type", "")
                recorder.requests.append(("PATCH", self.path, kind, body))
                parts = self.path.split("?")[0].split("/")
                name, status = (parts[-2], True) if parts[-1] == "status" else (parts[-1], False)
                with recorder.lock:
                    node = recorder.nodes.get(name)
                    if node is None:
                        return self._send(404, {"kind": "Status", "code": 404})
                    if status:
                        conditions = {c["type"]: c for c in node.setdefault("status", {}).get("conditions", [])}
                        for c in body.get("status", {}).get("conditions", []):
                            conditions[c["type"]] = c
                        node["status"]["conditions"] = list(conditions.values())
                    else:
                        version = (body.get("metadata") or {}).get("resourceVersion")
                        if version and version != node["metadata"]["resourceVersion"]:
                            return self._send(409, {"kind": "Status", "code": 409, "reason": "Conflict"})
                        merged = _merge(node, body)
                        merged["metadata"]["resourceVersion"] = str(int(node["metadata"]["resourceVersion"]) + 1)
                        recorder.nodes[name] = merged
                        node = merged
                    return self._send(200, node)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def node(name: str, **spec) -> dict:
    return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name, "resourceVersion": "1", "annotations": {}},
            "spec": dict(spec), "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
