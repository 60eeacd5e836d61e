"""CPU list syntax of the kernel: "0-5,48-53" lists and hex "cpumap" masks."""

from __future__ import annotations

from hwtune.errors import ParseError

MAX_CPUS = 1 << 16  # the kernel's NR_CPUS tops out at 8192; anything above is garbage


def parse_cpulist(text: str) -> frozenset[int]:
    """ "0-5,48-53" -> {0..5, 48..53}; an empty list is the empty set."""
    text = text.strip()
    cpus: set[int] = set()
    if not text:
        return frozenset()
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        if not lo.isdecimal() or (sep and not hi.isdecimal()):
            raise ParseError(f"not a CPU list: {text[:60]!r}")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first or last >= MAX_CPUS:
            raise ParseError(f"not a CPU list: {text[:60]!r}")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def parse_cpumap(text: str) -> frozenset[int]:
    """A hex mask in 32-bit words, most significant first: "00000000,003f0000" -> {16..21}."""
    words = text.strip().split(",")
    if not words or any(not w or len(w) > 8 for w in words):
        raise ParseError(f"not a CPU mask: {text[:60]!r}")
    try:
        value = int("".join(w.rjust(8, "0") for w in words), 16)
    except ValueError:
        raise ParseError(f"not a CPU mask: {text[:60]!r}") from None
    if value.bit_length() > MAX_CPUS:
        raise ParseError(f"CPU mask too wide: {len(words)} words")
    return frozenset(i for i in range(value.bit_length()) if value >> i & 1)


def format_cpulist(cpus: frozenset[int] | set[int]) -> str:
    """The canonical kernel form: sorted ranges, "0-5,48-53"."""
    out: list[str] = []
    ordered = sorted(cpus)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)
