"""Compare two saved runs (before and after `hwtune apply`, say), result by result.

Results pair up on what was asked (backend, device, model, batch, mode,
precision, streams, threads). A change smaller than the noise band (the
larger of 3% and the repeats' relative spread on either side) is "same".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOISE_BAND = 0.03
KEY_FIELDS = ("backend", "device", "model", "batch", "mode", "precision_requested", "streams_requested", "threads_requested")


@dataclass(frozen=True)
class Pair:
    key: tuple[Any, ...]
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def throughput_ratio(self) -> float | None:
        if not self.before or not self.after or not self.before.get("throughput_fps"):
            return None
        return self.after["throughput_fps"] / self.before["throughput_fps"]

    @property
    def p99_ratio(self) -> float | None:
        if not self.before or not self.after:
            return None
        b, a = self.before["latency_ms"]["p99"], self.after["latency_ms"]["p99"]
        return a / b if b else None

    @property
    def band(self) -> float:
        spreads = [((r or {}).get("throughput_spread") or {}).get("relative", 0.0) for r in (self.before, self.after)]
        return max([NOISE_BAND, *spreads])

    @property
    def verdict(self) -> str:
        ratio = self.throughput_ratio
        if ratio is None:
            return "only before" if self.after is None else "only after"
        noisy = any((r or {}).get("noisy") for r in (self.before, self.after))
        if abs(ratio - 1) <= self.band:
            word = "same"
        else:
            word = "faster" if ratio > 1 else "slower"
        return word + (" (noisy)" if noisy else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "key": dict(zip(KEY_FIELDS, self.key)),
            "throughput_fps": {"before": (self.before or {}).get("throughput_fps"),
                               "after": (self.after or {}).get("throughput_fps"), "ratio": _r(self.throughput_ratio)},
            "p99_ms": {"before": ((self.before or {}).get("latency_ms") or {}).get("p99"),
                       "after": ((self.after or {}).get("latency_ms") or {}).get("p99"), "ratio": _r(self.p99_ratio)},
            "noise_band": round(self.band, 4),
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class Comparison:
    before_name: str
    after_name: str
    pairs: tuple[Pair, ...]
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before_name, "after": self.after_name,
                "pairs": [p.to_json() for p in self.pairs], "notes": list(self.notes)}


def compare_runs(before: dict[str, Any], after: dict[str, Any], before_name: str = "before",
                 after_name: str = "after") -> Comparison:
    b_index = {_key(r): r for r in before.get("results", [])}
    a_index = {_key(r): r for r in after.get("results", [])}
    keys = list(b_index) + [k for k in a_index if k not in b_index]
    pairs = tuple(Pair(k, b_index.get(k), a_index.get(k)) for k in keys)
    return Comparison(before_name, after_name, pairs, tuple(_notes(before, after)))


def _key(result: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(result.get(f) for f in KEY_FIELDS)


def _notes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    notes = []
    bh, ah = before.get("host") or {}, after.get("host") or {}
    if bh.get("digest") and ah.get("digest"):
        if bh.get("source") != ah.get("source"):
            notes.append(f"host digests come from different sources ({bh.get('source')} vs {ah.get('source')})")
        elif bh["digest"] != ah["digest"]:
            notes.append("host facts differ between the runs (expected after `hwtune apply`; "
                         "unexpected if the runs should be on the same setup)")
    bv, av = before.get("versions") or {}, after.get("versions") or {}
    changed = [f"{k} {bv.get(k)} -> {av.get(k)}" for k in sorted(set(bv) | set(av)) if bv.get(k) != av.get(k)]
    if changed:
        notes.append("library versions changed: " + ", ".join(changed))
    return notes


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
