"""Estimates against published MLPerf Inference results (closed division, Offline, per GPU).

`published.csv` holds every result used, each marked `fit` (a fitted parameter was chosen
from it) or `held-back` (used for nothing but this comparison). benchmarks/
recommend_vs_published.py prints the comparison and recomputes the fits; the tests use the
same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hwtune.recommend.catalog import Catalog, _read_data, _whole, load_catalog, parse_rows
from hwtune.recommend.engine import Request, recommend
from hwtune.recommend.estimate import Estimate

BATCH = 128  # largest batch for the non-LLM rows: MLPerf Offline harnesses run large batches
COLUMNS = ("workload", "gpu", "precision", "system_result_per_s", "gpus", "unit", "round",
           "published", "submitter", "system", "source", "use", "note", "scenario")
# MLPerf's latency limits (TTFT, TPOT in ms, at the 99th percentile) for the LLM rows kept here,
# as the test parameters of every summary read give them: Server from v4.0 (llama2-70b),
# v4.1 (mixtral-8x7b) and v5.1 (llama3.1-8b); Interactive from v5.0 (llama2-70b) and v5.1.
SERVER_LIMITS = {"llama2-70b": (2000.0, 200.0), "mixtral-8x7b": (2000.0, 200.0),
                 "llama3.1-8b": (2000.0, 100.0)}
INTERACTIVE_LIMITS = {"llama2-70b": (450.0, 40.0), "llama3.1-8b": (500.0, 30.0)}
LIMITS = {"Server": SERVER_LIMITS, "Interactive": INTERACTIVE_LIMITS}


@dataclass(frozen=True)
class Published:
    workload: str
    gpu: str
    precision: str
    per_gpu: float
    gpus: int
    unit: str
    round: str
    published: str  # year-month of the round
    submitter: str
    system: str
    source: str  # the result page: repository and path
    use: str  # fit or held-back
    note: str
    row: int
    scenario: str = "Offline"


def parse_published(text: str, catalog: Catalog, fname: str = "published.csv") -> list[Published]:
    out = []
    for r in parse_rows(text, fname, COLUMNS):
        gpu = r.text("gpu")
        if catalog.gpu(gpu) is None:
            raise r._fail("gpu", f"{gpu!r} is not in gpus.csv")
        gpus = _whole(r, "gpus")
        out.append(Published(
            workload=r.text("workload"), gpu=gpu, precision=r.text("precision"),
            per_gpu=r.num("system_result_per_s") / gpus, gpus=gpus,
            unit=r.choice("unit", ("samples/s", "tokens/s")), round=r.text("round"),
            published=r.text("published"), submitter=r.text("submitter"),
            system=r.text("system"), source=r.text("source"),
            use=r.choice("use", ("fit", "held-back")),
            note=r.text("note", False), row=r.line,
            scenario=r.choice("scenario", ("Offline", "Server", "Interactive")),
        ))
        scenario = out[-1].scenario
        if scenario != "Offline" and out[-1].workload not in LIMITS[scenario]:
            raise r._fail("scenario", f"no {scenario} limits known for {out[-1].workload}")
    return out


@lru_cache(maxsize=1)
def load_published() -> tuple[Published, ...]:
    return tuple(parse_published(_read_data("published.csv"), load_catalog()))


@dataclass(frozen=True)
class Comparison:
    result: Published
    estimate_per_s: float | None  # None: the tool excludes this GPU (memory, no path)
    gpus_per_replica: int

    @property
    def ratio(self) -> float | None:
        return None if not self.estimate_per_s else self.estimate_per_s / self.result.per_gpu


def compare(results: tuple[Published, ...] | list[Published], catalog: Catalog | None = None
            ) -> list[Comparison]:
    catalog = catalog or load_catalog()
    cache: dict[tuple[str, str, str], dict[str, Estimate]] = {}
    out = []
    for p in results:
        key = (p.workload, p.precision, p.scenario)
        if key not in cache:
            ttft, tpot = LIMITS[p.scenario][p.workload] if p.scenario != "Offline" else (None, None)
            rec = recommend(Request(workload=p.workload, precision=p.precision, batch=BATCH,
                                    ttft_ms=ttft, tpot_ms=tpot), catalog)
            cache[key] = {e.gpu.name: e for e in rec.estimates}
        e = cache[key][p.gpu]
        out.append(Comparison(p, e.throughput_per_s if e.roof else None, e.gpus_per_replica))
    return out


def latest_per_gpu(rows: list[Comparison], scenario: str = "Offline") -> list[Comparison]:
    """One result per (workload, GPU): the newest round (today's software is what a buyer gets)."""
    best: dict[tuple[str, str], Comparison] = {}
    for c in rows:
        if c.result.scenario != scenario:
            continue
        k = (c.result.workload, c.result.gpu)
        if k not in best or c.result.published > best[k].result.published:
            best[k] = c
    return [best[k] for k in sorted(best)]


def within(c: Comparison, band: float) -> bool:
    return c.ratio is not None and 1 - band <= c.ratio <= 1 + band


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rho with average ranks for ties; None for fewer than 3 points."""
    if len(xs) < 3:
        return None

    def ranks(v: list[float]) -> list[float]:
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return r

    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy) if vx and vy else None


# The bands of issue 14's "done": BERT-large within 25%, LLM workloads within 35%.
BANDS = {"bert-large": 0.25, "llama2-70b": 0.35, "llama3.1-8b": 0.35, "gptj-6b": 0.35,
         "mixtral-8x7b": 0.35}


@dataclass(frozen=True)
class Summary:
    workload: str
    band: float
    gpus: int  # GPUs with a result (newest round each)
    gpus_within: int
    rho: float | None  # estimate vs published across those GPUs

    @property
    def share_within(self) -> float:
        return self.gpus_within / self.gpus if self.gpus else 0.0


def summarise(rows: list[Comparison], workload: str, band: float) -> Summary:
    latest = [c for c in latest_per_gpu(rows) if c.result.workload == workload]
    ok = sum(1 for c in latest if within(c, band))
    pairs = [(c.estimate_per_s or 0.0, c.result.per_gpu) for c in latest]
    rho = spearman([a for a, _ in pairs], [b for _, b in pairs])
    return Summary(workload, band, len(latest), ok, rho)
