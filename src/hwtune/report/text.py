"""Plain-text forms of JSON values, shared by every renderer."""

from __future__ import annotations

import json
from typing import Any


def show(value: Any, limit: int = 8) -> str:
    """One line for a fact or observed value; a large per-CPU map becomes its distinct values."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)) and not value:
        return "none"
    if isinstance(value, dict) and len(value) > limit:
        distinct = sorted({show(v) for v in value.values()})
        more = " ..." if len(distinct) > 4 else ""
        return f"{len(value)} entries: " + ", ".join(distinct[:4]) + more
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "), default=str)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def csv_text(fields: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    """CSV with a header row and "\n" line ends; a row key not in `fields` raises ValueError."""
    import csv  # only for --format csv, never on the `check` path
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
