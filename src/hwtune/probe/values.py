"""Kernel value files, read one way: by the probes, and by apply when it plans, verifies and undoes.

"What would I write" and "is it already so" share this code path: a plan
compares what these readers return with the target, a write is verified by
reading back through them, rollback skips a step whose value is already the
old one, and the probes below observe the tunables' facts with them. A
tunable declaration (hwtune/tunables/) names its reader by the keys of PARSERS.
"""

from __future__ import annotations

from typing import Callable

from hwtune.errors import ParseError
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

# The sysctls observed as facts of the same name (the sysctl tunable declares them as its facts).
SYSCTL_FACTS = ("vm.swappiness", "kernel.numa_balancing")
THP_FACTS = {"mm.thp_enabled": "enabled", "mm.thp_defrag": "defrag"}


def observe_sysctl(host: Host, name: str) -> tuple[int | None, str]:
    path = sysctl_path(name)
    value = READERS["sysctl"](host, path)
    if value is None:
        return None, host.absent(path)
    if value.lstrip("-").isdecimal():
        return int(value), ""
    return None, f"{path}: not an integer: {value[:20]!r}"


def observe_thp(host: Host, leaf: str) -> tuple[str | None, str]:
    path = f"{THP_DIR}/{leaf}"
    raw = host.read_line(path)
    if raw is None:
        return None, host.absent(path)
    try:
        return parse_bracketed(raw), ""
    except ParseError as exc:
        return None, f"{path}: {exc.message}"


def probe_values(host: Host, b: FactsBuilder) -> None:
    """The facts of the kernel values hwtune tunes, read as apply reads them."""
    for name in SYSCTL_FACTS:
        b.set(name, *observe_sysctl(host, name))
    for fact_id, leaf in THP_FACTS.items():
        b.set(fact_id, *observe_thp(host, leaf))
