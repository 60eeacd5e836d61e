"""Kernel value files, read one way: by the probes, and by apply when it plans, verifies and undoes.

"What would I write" and "is it already so" share this code path: a plan
compares what these readers return with the target, a write is verified by
reading back through them, rollback skips a step whose value is already the
old one, and the probes below observe the tunables' facts with them. A
tunable declaration (hwtune/tunables/) names its reader by the keys of PARSERS.
"""

from __future__ import annotations

from collections.abc import Callable

from hwtune.errors import ParseError
from hwtune.factids import entry
from hwtune.facts import FactsBuilder
from hwtune.host import Host
from hwtune.probe.memory import THP_DIR, parse_bracketed, parse_sysctl, sysctl_path


def parse_word(text: str) -> str:
    return text.strip()


# How the text of a kernel value file becomes its value, by reader name: apply's reads, the
# probes' (below), and rollback's test of a journal's old bytes (apply/kinds/value.py).
PARSERS: dict[str, Callable[[str], str]] = {
    "word": parse_word,
    "bracket": parse_bracketed,  # the active mode of a THP file
    "sysctl": parse_sysctl,
}


def _text(parse: Callable[[str], str]) -> Callable[[Host, str], str | None]:
    def read(host: Host, path: str) -> str | None:
        text = host.read(path)
        try:
            return None if text is None else parse(text)
        except ParseError:
            return None  # names no value
    return read


READERS: dict[str, Callable[[Host, str], str | None]] = {name: _text(parse) for name, parse in PARSERS.items()}

# The kernel values hwtune tunes, observed as facts of these ids (declared in hwtune/factids.py):
# fact id -> (file, reader). The tunable that writes the file declares the fact and the same
# reader; hwtune/tunables/ checks both when it loads.
OBSERVED: dict[str, tuple[str, str]] = {
    "vm.swappiness": (sysctl_path("vm.swappiness"), "sysctl"),
    "kernel.numa_balancing": (sysctl_path("kernel.numa_balancing"), "sysctl"),
    "mm.thp_enabled": (f"{THP_DIR}/enabled", "bracket"),
    "mm.thp_defrag": (f"{THP_DIR}/defrag", "bracket"),
}


def observe(host: Host, fact_id: str) -> tuple[str | int | None, str]:
    """(value, why it is None) of an OBSERVED fact, as the catalogue types it."""
    path, reader = OBSERVED[fact_id]
    text = host.read(path)
    if text is None:
        return None, host.absent(path)
    try:
        value = PARSERS[reader](text.strip())
    except ParseError as exc:
        return None, f"{path}: {exc.message}"
    catalogued = entry(fact_id)
    if catalogued is None or catalogued.type != "int":
        return value, ""
    if value.lstrip("-").isdecimal():
        return int(value), ""
    return None, f"{path}: not an integer: {value[:20]!r}"


def probe_values(host: Host, b: FactsBuilder) -> None:
    """The facts of the kernel values hwtune tunes, read as apply reads them."""
    for fact_id in OBSERVED:
        b.set(fact_id, *observe(host, fact_id))
