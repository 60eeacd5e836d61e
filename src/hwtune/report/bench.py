"""What the report draws from saved bench runs: pure functions of result dicts.

A result dict is one entry of a saved run's `results` (see `hwtune bench
--json`): backend, device, model, batch, mode, precision_requested,
precision_executed, streams, requests_in_flight, throughput_fps,
latency_ms{p50,p90,p99}, noisy. The loader adds `_run` (the run's name) and
`_run_time_s` (when it ran) to each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeGuard

Result = Mapping[str, Any]


def precision(r: Result) -> str:
    return str(r.get("precision_executed") or r.get("precision_requested") or "?")


def finite(value: Any) -> TypeGuard[float]:
    """A real number a chart can place: not a boolean, NaN, infinite or beyond float range."""
    import math

    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and abs(value) <= 1e300 and math.isfinite(value))


def is_result(r: Any) -> bool:
    """A saved result whose numbers are numbers (a run file is input like any other)."""
    if (not isinstance(r, Mapping) or not finite(r.get("throughput_fps"))
            or not isinstance(r.get("latency_ms"), Mapping)):
        return False
    return all(finite(v) or v is None for v in r["latency_ms"].values())


def _time(r: Result) -> float:
    t = r.get("_run_time_s")
    return float(t) if isinstance(t, (int, float)) else float("-inf")


def newest_run_per(results: Iterable[Result], key: Callable[[Result], Any]) -> dict[Any, list[Result]]:
    """For each key, the results of the newest run that measured it (runs are never mixed in a series)."""
    groups: dict[Any, list[Result]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    out = {}
    for k, rs in groups.items():
        newest = max(rs, key=_time)
        out[k] = [r for r in rs if r.get("_run") == newest.get("_run")]
    return out


def config_key(r: Result) -> tuple[Any, ...]:
    return (r.get("backend"), r.get("device"), r.get("model"), precision(r), r.get("batch"), r.get("mode"))


def latest_by_config(results: Iterable[Result]) -> list[Result]:
    """One result per backend/device/model/precision/batch/mode: the best throughput of the newest run."""
    rows = [r for r in results if is_result(r)]
    picked = [max(rs, key=lambda r: r["throughput_fps"]) for rs in newest_run_per(rows, config_key).values()]
    return sorted(picked, key=lambda r: tuple(str(v) for v in config_key(r)))


def device_label(r: Result) -> str:
    return f"{r.get('backend')}/{r.get('device')} {precision(r)}"


def latency_by_batch(results: Iterable[Result]) -> dict[str, dict[str, list[tuple[int, float, float, float]]]]:
    """model -> {"backend/device precision": [(batch, p50, p90, p99) ...]} for sync runs.

    Sync mode, one request at a time, is where a request's latency is the
    model's; several results at one batch (threads, pinning) keep the lowest p50.
    """
    rows = [r for r in results if is_result(r) and r.get("mode") == "sync" and isinstance(r.get("batch"), int)
            and finite(r["batch"])]
    out: dict[str, dict[str, list[tuple[int, float, float, float]]]] = {}
    groups = newest_run_per(rows, lambda r: (r.get("model"), device_label(r)))
    for (model, label), rs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        best: dict[int, Result] = {}
        for r in rs:
            if r["batch"] not in best or _p(r, "p50") < _p(best[r["batch"]], "p50"):
                best[r["batch"]] = r
        points = [(b, _p(r, "p50"), _p(r, "p90"), _p(r, "p99")) for b, r in sorted(best.items())]
        out.setdefault(str(model), {})[label] = points
    return out


def _p(r: Result, q: str) -> float:
    v = r["latency_ms"].get(q)
    return float(v) if isinstance(v, (int, float)) else float("nan")


def streams_of(r: Result) -> int | None:
    for key in ("streams", "requests_in_flight", "streams_requested"):
        v = r.get(key)
        if finite(v) and isinstance(v, int) and v > 0:
            return v
    return None


def throughput_by_streams(results: Iterable[Result]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """model -> {"backend/device precision b<batch>": [(streams, samples/s) ...]} for async runs."""
    rows = [r for r in results if is_result(r) and r.get("mode") == "async" and streams_of(r) is not None]
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    groups = newest_run_per(rows, lambda r: (r.get("model"), device_label(r) + f" b{r.get('batch')}"))
    for (model, label), rs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        best: dict[int, float] = {}
        for r in rs:
            s = streams_of(r)
            if s is None:  # filtered out above already
                continue
            best[s] = max(best.get(s, 0.0), float(r["throughput_fps"]))
        out.setdefault(str(model), {})[label] = sorted(best.items())
    return out


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points (latency, throughput) no other point beats on both: lower latency and higher throughput."""
    front: list[tuple[float, float]] = []
    best = float("-inf")
    for lat, thr in sorted(points, key=lambda p: (p[0], -p[1])):
        if thr > best:
            front.append((lat, thr))
            best = thr
    return front


def tuner_points(results: Iterable[Result]) -> dict[str, list[Result]]:
    """model on backend/device -> every point of its newest run (the tuner's trials, or a sweep)."""
    rows = [r for r in results if is_result(r) and _p(r, "p99") == _p(r, "p99")]
    # a model behind the request pipeline (bench serve --pipeline image) shares its chart with the model alone
    groups = newest_run_per(rows, lambda r: f"{r.get('served_model') or r.get('model')} on {r.get('backend')}/"
                                            f"{r.get('device')}")
    return {k: v for k, v in sorted(groups.items()) if len(v) >= 2}


def config_text(r: Result) -> str:
    parts = [precision(r), f"batch {r.get('batch')}", str(r.get("mode"))]
    s = streams_of(r)
    if r.get("mode") == "async" and s:
        parts.append(f"{s} streams")
    if isinstance(r.get("threads"), int):
        parts.append(f"{r['threads']} threads")
    return ", ".join(parts)


def serving_curves(results: Iterable[Result]) -> dict[str, dict[str, Any]]:
    """"model on backend/device" -> {"slo_ms", "series": {batching label: [(qps, p99, tip) ...]}, "max": [...]}
    from the server-scenario results of the newest run that measured each (`hwtune bench serve --scenario server`)."""
    rows = [r for r in results if r.get("scenario") == "server" and isinstance(r.get("curve"), list)]
    out: dict[str, dict[str, Any]] = {}
    # a model behind the request pipeline (bench serve --pipeline image) shares its chart with the model alone
    groups = newest_run_per(rows, lambda r: f"{r.get('served_model') or r.get('model')} on {r.get('backend')}/"
                                            f"{r.get('device')}")
    for title, rs in sorted(groups.items()):
        slo = rs[0].get("latency_slo_ms")
        entry: dict[str, Any] = {"slo_ms": slo if finite(slo) else None, "series": {}, "max": []}
        for r in rs:
            label = batching_label(r) + (f", {r['pipeline']}" if r.get("pipeline") else "")
            pts = []
            for p in (p for p in r["curve"] if isinstance(p, Mapping)):
                latency = p.get("latency_ms")
                p99 = latency.get("p99") if isinstance(latency, Mapping) else None
                if finite(p.get("qps")) and finite(p99):
                    verdict = "VALID" if p.get("valid") else ("p99 in budget" if p.get("within_slo") else "over budget")
                    pts.append((float(p["qps"]), float(p99), f"{label}: {p['qps']:.1f} QPS, p99 {p99:.2f} ms "
                                f"({p.get('min_duration_s')} s run, {verdict})"))
            entry["series"][label] = sorted(pts)
            if finite(r.get("max_qps")) and r.get("valid"):
                entry["max"].append((float(r["max_qps"]), _p(r, "p99"), f"{label}: max {r['max_qps']:.1f} QPS, "
                                     f"p99 {_p(r, 'p99'):.2f} ms, LoadGen VALID"))
        out[title] = entry
    return out


def batching_label(r: Result) -> str:
    b = r.get("batching") or {}
    size = b.get("max_batch_size") or 1
    return f"batch <= {size}, delay {b.get('max_queue_delay_us', 0)} us" if size > 1 else "no batching"
