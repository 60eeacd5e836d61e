"""Plain-text forms of values, shared by every renderer (terminal, CSV, HTML): the bottom layer
of output, so the console, tables and each renderer use one definition of what is shown."""

from __future__ import annotations

import json
from typing import Any

# C0 controls but tab and newline (the lines' own structure), DEL and C1 (0x9b is a one-byte CSI),
# and the Unicode bidirectional controls (a "Trojan Source" name reads as something else).
_CONTROLS = [c for c in range(0x20) if c not in (0x09, 0x0A)] + list(range(0x7F, 0xA0))
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
# A lone surrogate (a file name that was not UTF-8) cannot be encoded for the terminal at all.
_SURROGATES = range(0xD800, 0xE000)
INERT = {c: f"\\x{c:02x}" for c in _CONTROLS} | {c: f"\\u{c:04x}" for c in (*_BIDI, *_SURROGATES)}


def inert(text: str) -> str:
    """`text` with every control character, bidirectional control and lone surrogate written out ("\\x1b")."""
    return text if text.isprintable() else text.translate(INERT)


def printable(text: str) -> str:
    """`text` with every character Python does not call printable written out ("\\x09",
    "\\u2028", "\\U000e0001"): stricter than `inert`, newline and tab included, so one value
    stays one line (a file name, a kernel line quoted in a one-line verdict)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100
                   else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in text)


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
