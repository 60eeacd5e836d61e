"""Check text (title, severity, rationale, source, remediation; judges, optional) from the data folder."""

import string
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from hwtune.checks.registry import REGISTRY
from hwtune.errors import ConfigError
from hwtune.files import read_toml

TEXT_DIR = Path(__file__).resolve().parent.parent / "checktext"  # the top-level checks/ folder
FIELDS = ("title", "severity", "rationale", "source", "remediation")
# what passes, in one line: the check's row in docs/check.md (python tests/regen.py writes it)
OPTIONAL = ("judges",)


class CheckText(NamedTuple):
    title: str
    severity: str
    rationale: str
    source: str
    remediation: str
    judges: str = ""

    @property
    def placeholders(self) -> frozenset[str]:
        """The {names} the remediation needs filled."""
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.remediation) if name)


def text_problem(check_id: str, text: CheckText | None, fix: frozenset[str]) -> str | None:
    """Why a check's text does not fit the check (None when it does): missing, or its remediation's
    placeholders are not the ones the check fills ({profile} is filled by the verdict)."""
    if text is None:
        return f"no text for check '{check_id}' in the checks/ folder"
    need = text.placeholders - {"profile"}
    if need != fix:
        parts = []
        if need - fix:
            parts.append(f"remediation needs {', '.join('{' + n + '}' for n in sorted(need - fix))} "
                         "that the check does not fill")
        if fix - need:
            parts.append(f"the check fills {', '.join(sorted(fix - need))} that the remediation does not use")
        return f"text of check '{check_id}': " + "; ".join(parts)
    return None


def load_text_file(path: Path) -> dict[str, CheckText]:
    doc = read_toml(path)
    out = {}
    for check_id, table in doc.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: '{check_id}' must be a table")
        for key in table:
            if key not in FIELDS + OPTIONAL:
                raise ConfigError(f"{path}: unknown key '{check_id}.{key}' "
                                  f"(allowed: {', '.join(FIELDS + OPTIONAL)})")
        for key in FIELDS + tuple(k for k in OPTIONAL if k in table):
            if not isinstance(table.get(key), str) or not table[key].strip():
                raise ConfigError(f"{path}: '{check_id}.{key}' is missing or not a string")
        if table["severity"] not in ("fail", "warn"):
            raise ConfigError(f"{path}: '{check_id}.severity' must be \"fail\" or \"warn\"")
        out[check_id] = CheckText(**{k: table[k] for k in FIELDS + OPTIONAL if k in table})
    return out


@lru_cache(maxsize=4)
def load_texts(folder: Path = TEXT_DIR) -> dict[str, CheckText]:
    texts: dict[str, CheckText] = {}
    for path in sorted(folder.glob("*.toml")):
        for check_id, text in load_text_file(path).items():
            if check_id not in REGISTRY:
                raise ConfigError(f"{path}: text for unknown check id '{check_id}'")
            if check_id in texts:
                raise ConfigError(f"{path}: text for '{check_id}' is given twice")
            texts[check_id] = text
    return texts
