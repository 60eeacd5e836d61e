"""The Xid catalogue (xid.csv) and what one Xid event means."""

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from hwtune.errors import ConfigError

CATALOGUE = Path(__file__).with_name("xid.csv")
SEVERITIES = ("fail", "warn", "info")


class Xid(NamedTuple):
    code: int
    severity: str  # fail / warn / info
    nvidia_action: str  # NVIDIA's immediate resolution bucket ("" where the catalog gives none)
    description: str


@lru_cache(maxsize=2)
def load_catalogue(path: Path = CATALOGUE) -> dict[int, Xid]:
    import csv  # read only when the kernel log has an Xid event

    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    out: dict[int, Xid] = {}
    for n, row in enumerate(csv.DictReader(rows), start=2):
        try:
            code = int(row["code"])
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: row {n}: code {row.get('code')!r} is not a number") from None
        if row["severity"] not in SEVERITIES or code in out:
            raise ConfigError(f"{path}: row {n}: bad severity {row['severity']!r} or repeated code {code}")
        out[code] = Xid(code, row["severity"], row["nvidia_action"] or "", row["description"])
    return out


def classify(code: int, detail: str = "") -> Xid:
    """The catalogue's entry; a code it lacks is a WARN. Xid 154 names the
    recovery action it changed to: "... to 0x0 (None)" needs nothing."""
    entry = load_catalogue().get(code)
    if entry is None:
        return Xid(code, "warn", "", "not in hwtune's Xid catalogue: look it up in NVIDIA's Xid catalog")
    if code == 154 and "(None)" in detail.rsplit(" to ", 1)[-1]:
        return entry._replace(severity="info")
    return entry
