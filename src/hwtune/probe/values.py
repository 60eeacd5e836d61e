"""Read the current value of a tunable, the same way for plan, verify and undo.

"What would I write" and "is it already so" share this code path: a plan
compares what these readers return with the target, a write is verified by
reading back through them, and rollback skips a step whose value is already
the old one.
"""

from __future__ import annotations

from typing import Callable

from hwtune.errors import ParseError
from hwtune.host import Host
from hwtune.probe.memory import parse_bracketed, parse_sysctl

SYSTEMCTL_TIMEOUT_S = 30.0


def parse_word(text: str) -> str:
    return text.strip()


def read_systemd(host: Host, unit: str) -> str | None:
    """`enabled,active` and the like; None when systemctl gives no answer."""
    enabled = host.run(["systemctl", "is-enabled", unit], SYSTEMCTL_TIMEOUT_S)
    active = host.run(["systemctl", "is-active", unit], SYSTEMCTL_TIMEOUT_S)
    e, a = enabled.stdout.strip(), active.stdout.strip()
    if not e or not a:
        return None
    # a unit on its way up counts as active; failed, dead or on its way down as inactive
    return f"{e},{'active' if a in ('active', 'activating', 'reloading') else 'inactive'}"


# How the text of a kernel value file becomes its value, by reader name: apply's reads, the
# probes' (tunables/*.py observe), and rollback's test of a journal's old bytes (trust.py).
PARSERS: dict[str, Callable[[str], str]] = {
    "word": parse_word,
    "bracket": parse_bracketed,  # the active mode of a THP file, as the probe reads it
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


READERS: dict[str, Callable[[Host, str], str | None]] = {
    **{name: _text(parse) for name, parse in PARSERS.items()},
    "file": lambda host, path: host.read(path, record=False),
    "link": lambda host, path: host.readlink(path),
    "systemd": read_systemd,
}


def read_current(host: Host, reader: str, path: str, nvml=None) -> str | None:
    if reader == "nvml":
        return None if nvml is None else nvml.persistence(path)
    return READERS[reader](host, path)
