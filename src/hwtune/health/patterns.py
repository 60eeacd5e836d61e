"""Kernel-log lines -> events, by the patterns of kernel_log.toml.

An event is a plain dict (it goes into Facts as is): its `kind`, the `time`
and `message` of the line it came from, and the regex's named groups.
"""

import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from hwtune.errors import ConfigError
from hwtune.files import read_toml

PATTERNS = Path(__file__).with_name("kernel_log.toml")
NEEDLE_SPAN = 512  # a rule's needle lies within the first 512 characters of the message it matches
MAX_EVENTS = 2000  # a log flooded with one message keeps the first ones; the count says how many more


class Rule(NamedTuple):
    kind: str
    pattern: str  # the regex, compiled when a line first holds one of the needles
    lines: int
    source: str
    needles: tuple[str, ...] = ()  # a matching line holds one of these; () tries the regex on every line
    where: str = ""  # "file: rule N", for the error a bad regex gives

    @property
    def regex(self) -> re.Pattern[str]:
        return _compiled(self.pattern, self.where)


@cache
def _compiled(pattern: str, where: str) -> re.Pattern[str]:
    # Compiling all the rules costs ~20 ms, a fifth of `hwtune check`; a healthy host's log
    # passes the needle filter with no line, so none is compiled there.
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: bad regex: {exc}") from None


@lru_cache(maxsize=2)
def load_rules(path: Path = PATTERNS) -> tuple[Rule, ...]:
    doc = read_toml(path)
    rules = []
    for i, table in enumerate(doc.get("rule", [])):
        unknown = set(table) - {"kind", "regex", "lines", "source", "needle"}
        if unknown:
            raise ConfigError(f"{path}: rule {i + 1}: unknown key '{sorted(unknown)[0]}'")
        try:
            needle = table.get("needle", ())
            needles = (needle,) if isinstance(needle, str) else tuple(str(n) for n in needle)
            rules.append(Rule(str(table["kind"]), str(table["regex"]), int(table.get("lines", 1)),
                              str(table["source"]), needles, f"{path}: rule {i + 1}"))
        except KeyError as exc:
            raise ConfigError(f"{path}: rule {i + 1}: '{exc.args[0]}' is missing") from None
    return tuple(rules)


@lru_cache(maxsize=4)
def _prefilter(rules: tuple[Rule, ...]) -> re.Pattern[str] | None:
    """One regex for all the rules' needles; None when a rule has none (every line is tried)."""
    if any(not r.needles for r in rules):
        return None
    return re.compile("|".join(sorted({re.escape(n) for r in rules for n in r.needles})))


@lru_cache(maxsize=256)
def _rules_for(rules: tuple[Rule, ...], needles: frozenset[str]) -> tuple[Rule, ...]:
    """The rules, in their order, that hold one of these needles (no two needles overlap in text)."""
    return tuple(r for r in rules if not r.needles or needles.intersection(r.needles))


# printk's caller id ("[T1234] ", "[C2] ") before the message, with CONFIG_PRINTK_CALLER
_CALLER = re.compile(r"\[ {0,6}[TC]\d{1,10}\] ?")


def _message_start(message: str) -> int:
    m = _CALLER.match(message)
    return m.end() if m else 0


def match_events(lines: Iterable[Any], rules: tuple[Rule, ...] | None = None) -> tuple[list[dict[str, Any]], int]:
    """(events, how many more matched than MAX_EVENTS kept). `lines` are
    LogLine records (time, message, continued). Each rule is matched at the
    start of the message (`re.match`, never `search`): text further on in a
    line, where a user's file or process name lands, is never read as the
    kernel's."""
    rules = load_rules() if rules is None else rules
    prefilter = _prefilter(rules)
    lines = list(lines)
    messages = [ln.message for ln in lines]
    events: list[dict[str, Any]] = []
    dropped = 0
    for i, line in enumerate(lines):
        start = _message_start(line.message)
        # every rule is anchored and its needle sits in the kernel's own prefix: the head of the
        # message is all the needles are looked for in (a crafted 1 MiB line costs no more)
        head = line.message[start:start + NEEDLE_SPAN]
        if prefilter is None:
            candidates = rules
        else:  # most lines: one search for every rule's needles at once, and no rule to try
            found = prefilter.findall(head)
            if not found:
                continue
            candidates = _rules_for(rules, frozenset(found))
        for rule in candidates:
            if rule.lines > 1:
                window = "\n".join(m[_message_start(m):] for m in messages[i:i + rule.lines])
                m = rule.regex.match(window)
                text = " / ".join(messages[i:i + rule.lines])
            else:
                m = rule.regex.match(line.message, start)
                text = line.message
            if m is None:
                continue
            if len(events) >= MAX_EVENTS:
                dropped += 1
                break
            event = {"kind": rule.kind, "time": line.time, "message": text}
            event.update({k: v for k, v in m.groupdict().items() if v is not None})
            events.append(event)
            break  # one event per line: the first rule that matches
    return events, dropped
