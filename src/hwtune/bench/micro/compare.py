"""Compare two saved runs (before and after `hwtune apply`, say), result by result.

Results pair up on what was asked (backend, device, model, batch, mode,
precision, streams, threads). The throughput change is judged from each
side's repeated windows (`--repeat`): the relative difference of the medians
with a 95% bootstrap interval of that difference (hwtune.bench.stats). The
columns are the medians too (a result's `throughput_fps` is the median of its
windows), so the change never has the other sign from the columns. "faster"
or "slower" only when the interval excludes zero; otherwise "no measurable
difference (+-x%)", x being how far the interval reaches. With fewer than three windows on a side
there is no interval, and the verdict says so instead of guessing.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hwtune.bench.stats import MIN_WINDOWS, Difference, relative_difference

KEY_FIELDS = ("backend", "device", "model", "batch", "mode", "precision_requested", "streams_requested",
              "threads_requested")


def _windows(r: dict[str, Any] | None) -> list[float]:
    w = (r or {}).get("throughput_windows_fps")
    return [float(x) for x in w if isinstance(x, (int, float))] if isinstance(w, list) else []


def _median_fps(r: dict[str, Any] | None) -> float | None:
    """The median of the windows; a result saved without them stands on its `throughput_fps`."""
    w = _windows(r)
    if w:
        return statistics.median(w)
    fps = (r or {}).get("throughput_fps")
    return float(fps) if isinstance(fps, (int, float)) else None


@dataclass(frozen=True)
class Pair:
    key: tuple[Any, ...]
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def throughput_ratio(self) -> float | None:
        b, a = _median_fps(self.before), _median_fps(self.after)
        return a / b if a is not None and b else None

    @property
    def p99_ratio(self) -> float | None:
        if not self.before or not self.after:
            return None
        b, a = self.before["latency_ms"]["p99"], self.after["latency_ms"]["p99"]
        return a / b if b else None

    @cached_property  # a 4,000-resample bootstrap; the verdict, the table and the JSON all read it
    def difference(self) -> Difference | None:
        if not self.before or not self.after:
            return None
        return relative_difference(_windows(self.before), _windows(self.after))

    @property
    def verdict(self) -> str:
        if self.before is None or self.after is None:
            return "only before" if self.after is None else "only after"
        noisy = " (noisy)" if any(r.get("noisy") for r in (self.before, self.after)) else ""
        d = self.difference
        if d is None:
            nb, na = len(_windows(self.before)) or 1, len(_windows(self.after)) or 1
            return (f"cannot tell: {nb} window(s) before, {na} after; measure both with --repeat {MIN_WINDOWS} "
                    "or more") + noisy
        if d.excludes_zero:
            return ("faster" if d.relative > 0 else "slower") + noisy
        return f"no measurable difference (+-{d.half_width * 100:.1f}%)" + noisy

    def to_json(self) -> dict[str, Any]:
        d = self.difference
        return {
            "key": dict(zip(KEY_FIELDS, self.key, strict=True)),
            "throughput_fps": {"before": _median_fps(self.before), "after": _median_fps(self.after),
                               "ratio": _r(self.throughput_ratio), "statistic": "median over windows"},
            "throughput_change": None if d is None else {
                "relative": _r(d.relative), "ci95": [_r(d.low), _r(d.high)],
                "windows": {"before": d.windows[0], "after": d.windows[1]},
                "method": "bootstrap of the median over windows"},
            "p99_ms": {"before": ((self.before or {}).get("latency_ms") or {}).get("p99"),
                       "after": ((self.after or {}).get("latency_ms") or {}).get("p99"), "ratio": _r(self.p99_ratio)},
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
    b_index = {_key(r): r for r in before.get("results", []) if "scenario" not in r}
    a_index = {_key(r): r for r in after.get("results", []) if "scenario" not in r}
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
    if any("scenario" in r for r in [*before.get("results", []), *after.get("results", [])]):
        notes.append("serving-scenario results (bench serve) are not compared here")
    return notes


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
