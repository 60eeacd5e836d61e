"""Leave-one-out: each GPU estimated with its own published results removed from every fit.

The fitted parameters, and the published rows each is chosen from (the same rules as
`benchmarks/recommend_vs_published.py --fit`):

- a GPU's own ResNet-50 INT8 efficiency: its ResNet-50 result;
- a family's INT8 efficiency: its members' ResNet-50 results (geometric mean of what each
  implies); with no member left, the median of the other fitted families' (borrowed);
- BERT-large's token count: the non-Hopper BERT rows marked fit;
- Hopper's encoder efficiency: Hopper BERT rows;
- each LLM's work per token: its Hopper results on GPUs with a GPU-to-GPU link;
- the PCIe all-reduce share: LLM results of cards without a GPU-to-GPU link whose family's LLM
  efficiency is not itself fitted on its results (Hopper's PCIe cards); with none left,
  the row is dropped (the link's full bandwidth);
- a family's LLM efficiency (after the PCIe share: a member's replica may span PCIe): its
  members' LLM results; with none left, the median of the other families' fitted values,
  one per family (borrowed);
- a model's FP4 work scale (llms.csv): its FP4 results; with none left, 1 (the full FP4 rate).

A parameter is chosen from the rows marked `fit` where any remain after the removal, else from
the held-back rows its rule selects. Only the parameters the GPU's rows fed, and those fitted
after them, are recomputed; the others keep their values.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from hwtune.recommend.catalog import Catalog, Efficiency, _read_data, parse_rows
from hwtune.recommend.estimate import PCIE_LINK_ROW, plain_pcie
from hwtune.recommend.validate import Comparison, Published, compare

# Families whose LLM efficiency is fitted on their own LLM results, at the precision their
# published results ran (the family's other LLM rows carry that value). Hopper's is not among
# them: it is the anchor the LLM work factors are fitted against.
LLM_FITS = (("nvidia-blackwell-dc", "fp4"), ("nvidia-blackwell", "fp4"), ("nvidia-ada", "fp8"),
            ("amd-cdna", "fp8"), ("amd-cdna4", "fp4"), ("intel-gaudi", "fp8"))
LLM_FAMILIES = tuple(f for f, _ in LLM_FITS)
FIT_FAMILIES_INT8 = ("nvidia-turing", "nvidia-ampere", "nvidia-ampere-ga100", "nvidia-ada", "nvidia-hopper")


def solve(f, lo: float, hi: float, decreasing: bool) -> float:
    """x in [lo, hi] with f(x) = 1 (f monotone), by bisection on a log scale."""
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        if (f(mid) > 1) == decreasing:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def geo_ratio(cat: Catalog, rows: list[Published]) -> float:
    """Geometric mean of estimate / published over these rows."""
    rs = [c.ratio for c in compare(rows, cat) if c.ratio]
    return math.exp(sum(math.log(r) for r in rs) / len(rs))


def with_eff(cat: Catalog, family: str, kind: str, precision: str, value: float,
             basis: str | None = None, gpu: str = "") -> Catalog:
    effs = tuple(replace(e, compute=value, basis=basis or e.basis)
                 if (e.family, e.kind, e.precision, e.gpu) == (family, kind, precision, gpu) else e
                 for e in cat.efficiencies)
    return replace(cat, efficiencies=effs)


def with_llm(cat: Catalog, name: str, **fields: Any) -> Catalog:
    """The catalog with these fields of one LLM replaced (a fitted parameter's trial value)."""
    return replace(cat, llms=tuple(replace(x, **fields) if x.name == name else x for x in cat.llms))


def with_workload(cat: Catalog, name: str, **fields: Any) -> Catalog:
    """The catalog with these fields of one workload replaced."""
    return replace(cat, workloads=tuple(replace(w, **fields) if w.name == name else w
                                        for w in cat.workloads))


def _eff(cat: Catalog, family: str, kind: str, precision: str) -> Efficiency | None:
    return next((e for e in cat.efficiencies
                 if (e.family, e.kind, e.precision, e.gpu) == (family, kind, precision, "")), None)


def fp4_scaled(cat: Catalog, p: Published) -> bool:
    """An FP4 result of a model whose FP4 work scale is fitted (llms.csv fp4_work_basis)."""
    m = cat.llm(p.workload)
    return p.precision == "fp4" and m is not None and m.fp4_work_basis.startswith("fit")


def _choose(rows: list[Published]) -> list[Published]:
    """The rows marked fit, else the held-back ones (a rule's rows once a GPU is removed)."""
    fits = [p for p in rows if p.use == "fit"]
    return fits or rows


def _offline(rows: list[Published]) -> list[Published]:
    return [p for p in rows if p.scenario == "Offline"]


def refit_without(cat: Catalog, published: list[Published], gpu: str) -> Catalog:
    """The catalog with every parameter `gpu`'s results fed recomputed without them."""
    mine = [p for p in published if p.gpu == gpu]
    rest = _offline([p for p in published if p.gpu != gpu])
    g = cat.known_gpu(gpu)
    changed_int8 = changed_llm = False
    # 1. Its own efficiency rows go; its family's ResNet-50 fit is recomputed without it.
    if any(e.gpu == gpu for e in cat.efficiencies):
        cat = replace(cat, efficiencies=tuple(e for e in cat.efficiencies if e.gpu != gpu))
    fam = _eff(cat, g.family, "", "int8")
    if any(p.workload == "resnet50" for p in mine) and fam is not None and g.family in FIT_FAMILIES_INT8:
        members = [p for p in rest if p.workload == "resnet50" and cat.known_gpu(p.gpu).family == g.family]
        implied = [fam.compute / c.ratio for c in compare(members, cat) if c.ratio]
        if implied:
            value = math.exp(sum(map(math.log, implied)) / len(implied))
            basis = "fit"
        else:
            value = statistics.median(e.compute for e in cat.efficiencies if e.kind == "" and
                                      e.precision == "int8" and e.basis == "fit" and not e.gpu
                                      and e.family != g.family)
            basis = "borrowed"
        for prec in ("int8", "fp16"):
            if _eff(cat, g.family, "", prec):
                cat = with_eff(cat, g.family, "", prec, value, basis if prec == "int8" else None)
        changed_int8 = g.family == "nvidia-hopper"
        if changed_int8:  # Hopper's LLM rows are anchored at its INT8 fit
            cat = with_eff(cat, "nvidia-hopper", "llm", "fp8", value)
    # 2. BERT-large's token count and Hopper's encoder efficiency.
    if any(p.workload == "bert-large" for p in mine):
        bert = _choose([p for p in rest if p.workload == "bert-large"
                        and cat.known_gpu(p.gpu).family != "nvidia-hopper"])
        if g.family != "nvidia-hopper" and bert:
            seq = solve(lambda s: geo_ratio(with_workload(cat, "bert-large", seq_len=s), bert), 16, 384, True)
            cat = with_workload(cat, "bert-large", seq_len=round(seq))
        hop = _choose([p for p in rest if p.workload == "bert-large"
                       and cat.known_gpu(p.gpu).family == "nvidia-hopper"])
        if g.family == "nvidia-hopper" and hop:
            v = solve(lambda v: geo_ratio(with_eff(cat, "nvidia-hopper", "encoder", "int8", v), hop),
                      0.01, 1.0, False)
            cat = with_eff(cat, "nvidia-hopper", "encoder", "int8", v)
    # 3. Each LLM's work per token, on Hopper results over a GPU-to-GPU link.
    llm_names = {m.name for m in cat.llms}
    for m in cat.llms:
        fed = any(p.workload == m.name for p in mine) and g.family == "nvidia-hopper" and not plain_pcie(g)
        if not (fed or changed_int8):
            continue
        rows = _choose([p for p in rest if p.workload == m.name and (h := cat.known_gpu(p.gpu)).family
                        == "nvidia-hopper" and not plain_pcie(h)])
        if not rows:
            continue

        # Defaults bind this round's catalog and rows: both are rebound by the next round.
        k = solve(lambda v, c=cat, name=m.name, rows=rows: geo_ratio(with_llm(c, name, work_per_token=v), rows),
                  0.05, 500, True)
        cat = with_llm(cat, m.name, work_per_token=k)
        changed_llm = True
    # 4. The PCIe all-reduce share, before the family efficiencies fitted through it.
    changed_link = False
    link = next((e for e in cat.efficiencies if (e.family, e.kind, e.precision) == PCIE_LINK_ROW), None)
    if link is not None and (changed_llm or plain_pcie(g)):
        rows = _choose([p for p in rest if p.workload in llm_names and plain_pcie(h := cat.known_gpu(p.gpu))
                        and h.family not in LLM_FAMILIES and p.gpu != gpu])
        rows = [c.result for c in compare(rows, cat) if c.gpus_per_replica > 1]
        if rows:
            v = solve(lambda v: geo_ratio(with_eff(cat, *PCIE_LINK_ROW, v), rows), 0.005, 1.0, False)
            cat = with_eff(cat, *PCIE_LINK_ROW, v)
        else:
            cat = replace(cat, efficiencies=tuple(e for e in cat.efficiencies if e is not link))
        changed_link = True
    # 5. The LLM efficiency of the other fitted families.
    for family in LLM_FAMILIES:
        if not (changed_llm or changed_link or g.family == family):
            continue
        for e in [e for e in cat.efficiencies if (e.family, e.kind, e.gpu) == (family, "llm", "")
                  and e.basis == "fit"]:
            rows = _choose([p for p in rest if p.workload in llm_names and not fp4_scaled(cat, p)
                            and cat.known_gpu(p.gpu).family == family])
            if rows:
                v = solve(lambda v, cat=cat, family=family, prec=e.precision, rows=rows:
                          geo_ratio(with_eff(cat, family, "llm", prec, v), rows), 0.01, 1.0, False)
                basis = "fit"
            else:
                v = statistics.median(x.compute for x in cat.efficiencies if x.kind == "llm"
                                      and x.basis == "fit" and not x.gpu and x.family != family
                                      and x.family in LLM_FAMILIES)
                basis = "borrowed"
            for x in [x for x in cat.efficiencies if (x.family, x.kind, x.gpu) == (family, "llm", "")]:
                cat = with_eff(cat, family, "llm", x.precision, v, basis if x is e else None)
    # 5b. A model's FP4 work scale, on its FP4 results.
    for m in cat.llms:
        if not m.fp4_work_basis.startswith("fit"):
            continue
        fed = any(p.workload == m.name and p.precision == "fp4" for p in mine)
        if not (fed or changed_llm or changed_link or g.family in LLM_FAMILIES):
            continue
        rows = _choose([p for p in rest if p.workload == m.name and fp4_scaled(cat, p)])
        scale = solve(lambda v, c=cat, name=m.name, rows=rows:
                      geo_ratio(with_llm(c, name, fp4_work_scale=v), rows), 0.2, 5.0, True) if rows else 1.0
        cat = with_llm(cat, m.name, fp4_work_scale=scale)
    return cat


def leave_one_out(cat: Catalog, published: list[Published], gpu: str) -> list[Comparison]:
    """The GPU's own results compared with estimates fitted without any of them."""
    mine = [p for p in published if p.gpu == gpu]
    return compare(mine, refit_without(cat, published, gpu))


# Workloads whose leave-one-out error is reported: ssd-mobilenet is left out because its
# compute scale (workloads.csv) was fitted on the same two GPUs' results and is not refitted.
LOO_WORKLOADS = ("resnet50", "bert-large", "llama2-70b", "llama3.1-8b", "gptj-6b", "mixtral-8x7b")


def loo_rows(cat: Catalog, published: list[Published]) -> list[Comparison]:
    """Every GPU's results against estimates fitted without them."""
    out = []
    for gpu in sorted({p.gpu for p in published}):
        out += leave_one_out(cat, published, gpu)
    return out


def kind_of(cat: Catalog, workload: str) -> str:
    if cat.llm(workload):
        return "llm"
    w = cat.workload(workload)
    return w.kind if w else "cnn"


def error_summary(rows: list[Comparison], cat: Catalog) -> list[tuple[str, int, float, float]]:
    """(workload or 'kind:...', GPUs, median |error|, worst |error|) over the newest Offline
    result of each GPU; error = estimate / published - 1."""
    newest: dict[tuple[str, str], tuple[str, float]] = {}  # (when published, estimate / result)
    for c in rows:
        ratio = c.ratio
        if c.result.scenario != "Offline" or c.result.workload not in LOO_WORKLOADS or not ratio:
            continue
        k = (c.result.workload, c.result.gpu)
        if k not in newest or c.result.published > newest[k][0]:
            newest[k] = (c.result.published, ratio)
    groups: dict[str, list[float]] = {}
    for (w, _), (_, ratio) in sorted(newest.items()):
        err = abs(ratio - 1)
        groups.setdefault(w, []).append(err)
        groups.setdefault(f"kind:{kind_of(cat, w)}", []).append(err)
    return [(k, len(v), statistics.median(v), max(v)) for k, v in groups.items()]


@dataclass(frozen=True)
class Accuracy:
    scope: str  # a workload, or "kind:cnn|encoder|llm" pooled over its workloads
    gpus: int
    median_abs_error: float
    worst_abs_error: float
    method: str
    date: str


@lru_cache(maxsize=1)
def load_accuracy() -> dict[str, Accuracy]:
    """data/accuracy.csv, written by the benchmark's --leave-one-out --write-accuracy."""
    out = {}
    for r in parse_rows(_read_data("accuracy.csv"), "accuracy.csv",
                        ("scope", "gpus", "median_abs_error", "worst_abs_error", "method", "date")):
        out[r.text("scope")] = Accuracy(r.text("scope"), int(r.num("gpus")), r.num("median_abs_error"),
                                        r.num("worst_abs_error"), r.text("method"), r.text("date"))
    return out


def expected_error(cat: Catalog, workload: str, is_model: bool) -> Accuracy | None:
    """The leave-one-out error measured for this workload, else for its kind; None for a
    user's own model (no published result is like it)."""
    if is_model:
        return None
    acc = load_accuracy()
    return acc.get(workload) or acc.get(f"kind:{kind_of(cat, workload)}")
