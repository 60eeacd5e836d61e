"""`hwtune check --format junit`: one testcase per check, for CI dashboards.

The JUnit XML dialect read by Jenkins, GitLab and junitparser: FAIL and ERROR
are <failure> with the check's message (the brief for the format asks for
failures, not <error>, so a broken check shows as red and not as a crashed
test harness), SKIP is <skipped>, WARN passes with the warning in
<system-out>.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from hwtune.text import show

# XML 1.0 forbids most control characters even when escaped.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: Any) -> str:
    return _XML_ILLEGAL.sub("?", str(text))


def _details(r: Mapping[str, Any]) -> str:
    lines = [f"observed: {show(r.get('observed'))}", f"expected: {show(r.get('expected'))}"]
    if r.get("message"):
        lines.append(f"message: {r['message']}")
    if r.get("fix"):
        lines.append(f"fix: {r['fix']}")
    if r.get("source"):
        lines.append(f"source: {r['source']}")
    return _clean("\n".join(lines))


def _testcase(r: Mapping[str, Any], suite: ET.Element) -> None:
    check_id = str(r.get("id", "?"))
    area = check_id.split(".", 1)[0]
    case = ET.SubElement(suite, "testcase", {"classname": _clean(f"hwtune.{area}"), "name": _clean(check_id),
                                             "time": "0"})
    status = str(r.get("status", "")).upper()
    message = _clean(r.get("message") or r.get("title") or status)
    if status in ("FAIL", "ERROR"):
        ET.SubElement(case, "failure", {"message": message, "type": status}).text = _details(r)
    elif status == "SKIP":
        ET.SubElement(case, "skipped", {"message": message})
    elif status == "WARN":
        ET.SubElement(case, "system-out").text = f"WARN: {message}\n{_details(r)}"


def render_junit(report_json: Mapping[str, Any], hostname: str, timestamp: str | None = None) -> str:
    """A JUnit XML document: one <testsuite> named after the host and profile."""
    results = list(report_json.get("results", []))
    statuses = [str(r.get("status", "")).upper() for r in results]
    profile = str(report_json.get("profile", "?"))
    attrs = {
        "name": _clean(f"hwtune check {hostname} ({profile})"),
        "tests": str(len(results)),
        "failures": str(sum(s in ("FAIL", "ERROR") for s in statuses)),
        "errors": "0",
        "skipped": str(statuses.count("SKIP")),
        "time": "0",
        "hostname": _clean(hostname),
    }
    if timestamp:
        attrs["timestamp"] = timestamp
    root = ET.Element("testsuites", {k: attrs[k] for k in ("name", "tests", "failures", "errors", "skipped", "time")})
    suite = ET.SubElement(root, "testsuite", attrs)
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "profile", "value": _clean(profile)})
    ET.SubElement(props, "property", {"name": "status", "value": _clean(report_json.get("status", "?"))})
    for r in results:
        _testcase(r, suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
