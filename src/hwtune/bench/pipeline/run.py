"""Run the image request pipeline for each decoder and say which stage limits the host."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwtune.bench.measure import StopRule
from hwtune.bench.pipeline import agree, codecs
from hwtune.bench.pipeline import bottleneck as bn
from hwtune.bench.pipeline import images as imgs
from hwtune.bench.pipeline.inputs import ImageSet, read_images
from hwtune.bench.pipeline.model import ImageModel, fixed_image_model, open_image_model
from hwtune.bench.pipeline.options import PipelineOptions
from hwtune.bench.pipeline.request import StageSamples, run_stages
from hwtune.bench.pipeline.stages import MODEL_STAGE, Staged, image_stages
from hwtune.errors import ConfigError

Report = Callable[[str], None]


@dataclass(frozen=True)
class DecoderRun:
    decoder: str  # its label, with what it hands to Pillow
    version: str
    device: str
    stages: tuple[bn.StageFigures, ...]
    decode_by_kind: dict[str, dict[str, float]]  # "1920x1080 jpeg" -> p50_ms, cpu_ms, per_megapixel_ms
    end_to_end: dict[str, float]  # the plain loop: p50, p99, mean, cpu_mean (ms)
    requests: int
    bottleneck: bn.Bottleneck
    sentence: str

    @property
    def stages_sum_ms(self) -> float:
        return sum(s.mean_ms for s in self.stages)

    @property
    def accounted(self) -> float:
        """Sum of the stage means over the end-to-end mean: 1.0 when the stages add up."""
        return self.stages_sum_ms / self.end_to_end["mean"] if self.end_to_end["mean"] else 0.0

    @property
    def accounted_cpu(self) -> float:
        """The same in CPU time: the stages' CPU means over the plain loop's CPU per request."""
        cpu = sum(s.cpu_ms for s in self.stages)  # the fixed-time model's sleep counts 0 in both
        return cpu / self.end_to_end["cpu_mean"] if self.end_to_end["cpu_mean"] else 0.0

    def stage(self, name: str) -> bn.StageFigures:
        return next(s for s in self.stages if s.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"decoder": self.decoder, "version": self.version, "device": self.device,
                "stages": [s.to_json() for s in self.stages], "decode_by_kind": self.decode_by_kind,
                "end_to_end_ms": {k: round(v, 4) for k, v in self.end_to_end.items()},
                "stages_sum_ms": round(self.stages_sum_ms, 4), "stages_over_end_to_end": round(self.accounted, 4),
                "stages_over_end_to_end_cpu": round(self.accounted_cpu, 4),
                "requests": self.requests, "bottleneck": self.bottleneck.to_json(), "finding": self.sentence}


@dataclass(frozen=True)
class PipelineRun:
    options: PipelineOptions
    model: ImageModel
    resizer: str
    images: ImageSet
    runs: tuple[DecoderRun, ...]
    agreement: tuple[agree.Agreement, ...]
    alternatives: tuple[str, ...]
    pinning: Any = None  # pinning.PinResult
    notes: tuple[str, ...] = field(default=())

    @property
    def decoders_agree(self) -> bool:
        return all(a.within for a in self.agreement)

    def to_json(self) -> dict[str, Any]:
        o, m = self.options, self.model
        kinds: dict[str, int] = {}
        for img in self.images.images:
            kinds[img.kind] = kinds.get(img.kind, 0) + 1
        return {
            "pipeline": o.pipeline,
            "model": {"name": m.name, "backend": m.backend, "device": m.device, "precision": m.precision,
                      "input": m.spec.label(), "uses_host_cpu": m.uses_host_cpu},
            "resizer": self.resizer,
            "images": {"source": str(o.images_dir) if o.images_dir else "built-in", "count": len(self.images.images),
                       "kinds": kinds, "refused_count": self.images.refused_count,
                       "refused": [{"file": r.name, "reason": r.reason} for r in self.images.refused],
                       "refused_by_reason": self.images.refused_by_reason()},
            "decoders": [r.to_json() for r in self.runs],
            "agreement": [a.to_json() for a in self.agreement], "decoders_agree": self.decoders_agree,
            "alternatives": list(self.alternatives),
            "pin_stages": self.pinning.to_json() if self.pinning else None,
            "notes": list(self.notes) + list(self.images.notes),
        }


def load_images(o: PipelineOptions, report: Report) -> ImageSet:
    if o.images_dir is not None:
        report(f"reading {o.images_dir}")
        return read_images(o.images_dir)
    report("making the built-in images")
    return ImageSet(tuple(imgs.builtin_images(o.sizes, o.formats)))


def open_model(o: PipelineOptions) -> ImageModel:
    from hwtune.bench.micro.runner import BenchPlan
    from hwtune.bench.serving.serve import parse_fixed

    fixed = parse_fixed(o.model)
    if fixed is not None:
        if fixed[1]:
            raise ConfigError(f"model {o.model}: the pipeline runs batch 1; "
                              "give the fixed model one time, e.g. fixed:20ms")
        return fixed_image_model(o.model, fixed[0])
    threads = o.threads if o.threads is not None else (1 if o.pin_stages else None)
    plan = BenchPlan(model=o.model, backend=o.backend, devices=(o.device,) if o.device else (),
                     precisions=(o.precision,), threads=(threads,), pin=o.pin)
    return open_image_model(plan, threads)


def choose_backends(o: PipelineOptions) -> tuple[list[codecs.Decoder], codecs.Resizer, list[str]]:
    if o.decoders:
        decoders = [codecs.decoder(n) for n in o.decoders]
        missing: list[str] = []
    else:
        decoders, missing = codecs.available(codecs.DECODERS, codecs.decoder)
    if o.resizer:
        resizer = codecs.resizer(o.resizer)
    else:
        found, _ = codecs.available(codecs.RESIZERS, codecs.resizer)
        if not found:
            raise ConfigError("no resizer is usable here: pip install 'hwtune[pipeline]'")
        resizer = found[0]
    return decoders, resizer, missing


def run_pipeline(o: PipelineOptions, report: Report | None = None) -> PipelineRun:
    say = report or (lambda _m: None)
    o = o.validate()
    try:
        reference = codecs.decoder("pillow")  # makes the built-ins, checks inputs, is the reference
    except ConfigError:
        raise ConfigError("the image pipeline needs Pillow: pip install 'hwtune[pipeline]'") from None
    decoders, resizer, notes = choose_backends(o)
    image_set = load_images(o, say)
    agreement = agree.check_decoders(reference, decoders, image_set.images)
    model = open_model(o)
    try:
        with tempfile.TemporaryDirectory(prefix="hwtune-pipeline-") as tmp:
            staged = stage_files(Path(tmp), image_set)
            runs = []
            for d in decoders:
                say(f"{d.name}: measuring")
                stages = image_stages(d, resizer, model)

                def said(m: str, d: codecs.Decoder = d) -> None:
                    say(f"{d.name}: {m}")

                samples = run_stages(stages, staged, StopRule(o.time_s / 2, o.min_count), said)
                runs.append(_decoder_run(d, samples, staged, model, image_set))
            pin = None
            if o.pin_stages:
                from hwtune.bench.pipeline.pinning import compare_pinning

                say("--pin-stages: pipelined, unpinned and pinned")
                stages = image_stages(decoders[0], resizer, model)
                pre, post = _compose(stages[:4]), _compose(stages[4:])
                pin = compare_pinning(pre, post, staged, max(o.time_s, 1.5))
    finally:
        model.close()
    alternatives = tuple(_alternatives(runs, agreement, image_set))
    extra = tuple(notes)
    if o.pin_stages and model.uses_host_cpu and o.threads not in (None, 1):
        extra += (f"--pin-stages with {o.threads} model threads: the runtime's own pool threads are not pinned",)
    return PipelineRun(o, model, resizer.name, image_set, tuple(runs), tuple(agreement), alternatives, pin, extra)


def stage_files(tmp: Path, image_set: ImageSet) -> list[Staged]:
    """The images on a private copy: the read stage reads a file, never one a user can swap meanwhile."""
    out = []
    for i, img in enumerate(image_set.images):
        path = tmp / f"{i:05d}.{img.fmt}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(img.data)
        out.append(Staged(path, img))
    return out


def _compose(stages: list[tuple[str, Callable[[Any], Any]]]) -> Callable[[Any], Any]:
    fns = [f for _, f in stages]

    def run(x: Any) -> Any:
        for f in fns:
            x = f(x)
        return x

    return run


def _decoder_run(d: codecs.Decoder, s: StageSamples, staged: list[Staged], model: ImageModel,
                 image_set: ImageSet) -> DecoderRun:
    from hwtune.bench.metrics import latency_stats
    from hwtune.bench.targets import usable_cpus

    figures = [bn.stage_figures(name, s.wall_s[name], s.cpu_s[name],
                                on_host=model.uses_host_cpu or name != MODEL_STAGE) for name in s.wall_s]
    neck = bn.bottleneck(figures, MODEL_STAGE, usable_cpus())
    e2e = latency_stats(s.end_to_end_s)
    formats = {img.fmt for img in image_set.images}
    what = _kinds_text(image_set)
    return DecoderRun(d.label(formats), d.version, d.device, tuple(figures), _by_kind(s, staged),
                      {"p50": e2e.p50_ms, "p99": e2e.p99_ms, "mean": e2e.mean_ms,
                       "cpu_mean": 1000 * sum(s.end_to_end_cpu_s) / len(s.end_to_end_cpu_s)}, s.requests, neck,
                      bn.sentence(figures, neck, what, MODEL_STAGE))


def _by_kind(s: StageSamples, staged: list[Staged]) -> dict[str, dict[str, float]]:
    from hwtune.bench.metrics import nearest_rank

    groups: dict[str, list[int]] = {}
    for i, k in enumerate(s.kinds):
        groups.setdefault(staged[k].image.kind, []).append(i)
    out = {}
    for kind, idx in groups.items():
        walls = sorted(s.wall_s["decode"][i] * 1000 for i in idx)
        cpu_ms = 1000 * sum(s.cpu_s["decode"][i] for i in idx) / len(idx)
        mp = sum(staged[s.kinds[i]].image.megapixels for i in idx) / len(idx)
        out[kind] = {"requests": len(idx), "p50_ms": round(nearest_rank(walls, 50), 4),
                     "cpu_ms": round(cpu_ms, 4), "cpu_ms_per_megapixel": round(cpu_ms / mp, 4)}
    return out


def _kinds_text(image_set: ImageSet) -> str:
    kinds = sorted({img.kind for img in image_set.images})
    text = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP"}
    if len(kinds) == 1:
        size, fmt = kinds[0].split()
        return f"{size} {text[fmt]}"
    return f"{len(image_set.images)} images ({len(kinds)} kinds)"


def _alternatives(runs: list[DecoderRun], agreement: list[agree.Agreement], image_set: ImageSet) -> list[str]:
    """What would change the limit: a faster decoder measured here, decoding on the GPU, smaller
    uploads, more cores; each with the host rate it would give, and how that figure was got."""
    if not runs:
        return []
    base = runs[0]
    figures = list(base.stages)
    neck = base.bottleneck
    wrong = {a.decoder for a in agreement if not a.within}
    out = []
    if neck.limit != MODEL_STAGE:
        for r in runs[1:]:
            if r.decoder.split()[0] in wrong:
                continue
            cpu_ms = r.stage("decode").cpu_ms
            if cpu_ms < base.stage("decode").cpu_ms:
                qps = bn.host_qps_with(figures, MODEL_STAGE, neck.host_cores, "decode", cpu_ms)
                out.append(f"decoder {r.decoder} (measured here): decode {cpu_ms:.1f} ms CPU per request, "
                           f"host {min(qps, neck.model_rate_qps):,.0f} QPS")
        if neck.limit == "decode":
            qps = bn.host_qps_with(figures, MODEL_STAGE, neck.host_cores, "decode", 0.0)
            out.append(f"decode on the GPU (nvJPEG; not measured here, no GPU): at most "
                       f"{min(qps, neck.model_rate_qps):,.0f} QPS with decode's CPU time gone")
            mp = max(img.megapixels for img in image_set.images)
            if mp > 0.9:
                scaled = base.stage("decode").cpu_ms * 0.9216 / mp  # 1280x720
                qps = bn.host_qps_with(figures, MODEL_STAGE, neck.host_cores, "decode", scaled)
                out.append(f"uploads at 1280x720 (estimated, decode time scaled by pixel count): decode "
                           f"{scaled:.1f} ms, host {min(qps, neck.model_rate_qps):,.0f} QPS")
        out.append(f"more cores: {neck.cores_to_feed_model} cores feed the model at its "
                   f"{neck.model_rate_qps:,.0f} QPS (here: {neck.host_cores})")
    else:
        spare = neck.host_cores - neck.total_cores
        out.append(f"the CPU side has {spare:.1f} cores to spare at the model's rate: a faster model or a "
                   "second accelerator raises the host's rate until the CPU stages need every core")
    return out
