"""The image pipeline's figures: does the harness add nothing, do the stages add up, do the
built-in images decode like photographs, and how far apart are right and wrong decoders.

1. Harness vs tight loop: each decoder's throughput on the 1920x1080 JPEG,
   through hwtune's decode stage inside the timed request loop
   (hwtune.bench.pipeline.request.run_stages) and as the library called in a
   bare loop: per core (1 / CPU ms per decode, what the cores-needed figures
   use) and per wall second. Target: within 10%. The two alternate for
   --rounds rounds; on a machine others share, the wall ratio swings with
   their load and the per-core one much less.
2. Stages vs end to end: the whole pipeline (plate-classifier on onnxruntime)
   per decoder: the stage means summed over the plain loop's mean, measured on
   its own. Target: within 5%. --repeat runs.
3. Built-in vs real photographs: decode CPU ms per megapixel of real
   photographs and of a built-in image made at the same size, both JPEG q85
   4:2:0; and the built-in sizes themselves. The photographs: the 1080p and
   4K crops in benchmarks/photos/ (CC0, see its SOURCES.md) and, if
   scikit-image is installed, its astronaut, rocket (public domain), coffee
   and chelsea (CC0).
4. Decoder agreement: mean and p99 of |difference| from Pillow for a faster
   but right decoder (fast IDCT, plain upsampling) and wrong ones (a row off,
   red and blue swapped): the evidence behind agree.TOLERANCE.

Usage: python benchmarks/pipeline_decoders.py [--rounds 5] [--seconds 1] [--repeat 3] [--only photos]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import numpy as np

from hwtune.bench.measure import StopRule
from hwtune.bench.pipeline import agree, codecs, images
from hwtune.bench.pipeline.options import PipelineOptions
from hwtune.bench.pipeline.request import run_stages
from hwtune.bench.pipeline.run import run_pipeline
from hwtune.bench.pipeline.stages import decode_stage


def bare_calls(data: bytes) -> dict:
    """Each library as its own documentation calls it, RGB out."""
    calls = {}
    from PIL import Image

    calls["pillow"] = lambda: np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    try:
        import cv2

        calls["opencv"] = lambda: cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
                                               cv2.COLOR_BGR2RGB)
    except ImportError:
        pass
    try:
        import simplejpeg

        calls["simplejpeg"] = lambda: simplejpeg.decode_jpeg(data, colorspace="RGB")
    except ImportError:
        pass
    try:
        import turbojpeg

        tj = turbojpeg.TurboJPEG()
        calls["turbojpeg"] = lambda: tj.decode(data, pixel_format=turbojpeg.TJPF_RGB)
    except (ImportError, OSError, RuntimeError):
        pass
    return calls


def tight(fn, seconds: float) -> tuple[float, float]:
    """(calls per second of wall time, CPU ms per call) of `fn` in a bare loop."""
    fn()
    n, c0, start = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start), 1000 * (time.process_time() - c0) / n


def harness(dec: codecs.Decoder, data: bytes, seconds: float) -> tuple[float, float]:
    """The same through hwtune's decode stage in the timed request loop (its staged half)."""
    s = run_stages([("decode", decode_stage(dec))], [(data, "jpeg")], StopRule(seconds / 2, 3))
    return 1.0 / statistics.fmean(s.wall_s["decode"]), 1000 * statistics.fmean(s.cpu_s["decode"])


def harness_vs_tight(rounds: int, seconds: float) -> dict:
    data = images.builtin_images(("1920x1080",), ("jpeg",))[0].data
    out = {}
    for name, fn in bare_calls(data).items():
        dec = codecs.decoder(name)
        wall, cpu, h_cpu, t_cpu = [], [], [], []
        for _ in range(rounds):
            tw, tc = tight(fn, seconds / 2)
            hw, hc = harness(dec, data, seconds)
            wall.append(hw / tw)
            cpu.append(tc / hc)  # throughput per core: the harness's over the bare loop's
            h_cpu.append(hc)
            t_cpu.append(tc)
        out[name] = {"harness_cpu_ms": round(statistics.median(h_cpu), 3),
                     "tight_cpu_ms": round(statistics.median(t_cpu), 3),
                     "per_core_ratio_median": round(statistics.median(cpu), 3),
                     "per_core_ratio_range": [round(min(cpu), 3), round(max(cpu), 3)],
                     "wall_ratio_median": round(statistics.median(wall), 3),
                     "wall_ratio_range": [round(min(wall), 3), round(max(wall), 3)]}
    return out


def stages_vs_e2e(repeat: int, seconds: float) -> dict:
    out: dict = {}
    for _ in range(repeat):
        run = run_pipeline(PipelineOptions(time_s=seconds * 2))
        for r in run.runs:
            d = out.setdefault(r.decoder.split()[0], {"ratio": [], "ratio_cpu": [], "decode_cpu_ms": [],
                                                      "decode_p50_ms": [],
                                                      "infer_p50_ms": [], "infer_cpu_ms": [], "limit": []})
            d["ratio"].append(round(r.accounted, 3))
            d["ratio_cpu"].append(round(r.accounted_cpu, 3))
            d["decode_cpu_ms"].append(round(r.stage("decode").cpu_ms, 2))
            d["decode_p50_ms"].append(round(r.stage("decode").p50_ms, 2))
            d["infer_p50_ms"].append(round(r.stage("infer").p50_ms, 2))
            d["infer_cpu_ms"].append(round(r.stage("infer").cpu_ms, 2))
            d["limit"].append(r.bottleneck.limit)
    return out


PHOTOS = pathlib.Path(__file__).parent / "photos"


def photo_jpegs() -> tuple[dict, list[str]]:
    """Real photographs as JPEG q85 4:2:0 bytes by name, and what was not available."""
    out, missing = {}, []
    for path in sorted(PHOTOS.glob("*.jpg")):  # already cropped and encoded (photos/SOURCES.md)
        out[path.stem] = path.read_bytes()
    try:
        import skimage.data as sk
    except ImportError:
        missing.append("scikit-image's photographs: not installed (pip install scikit-image)")
    else:
        out.update({n: images.encode(getattr(sk, n)(), "jpeg") for n in ("astronaut", "coffee", "chelsea", "rocket")})
    return out, missing


def per_megapixel(data: bytes, w: int, h: int, seconds: float) -> dict:
    row = {"bits_per_pixel": round(len(data) * 8 / (w * h), 3)}
    for dec, fn in bare_calls(data).items():
        row[dec] = round(tight(fn, seconds / 4)[1] / (w * h / 1e6), 3)
    return row


def photos_vs_builtin(seconds: float, repeat: int) -> dict:
    """Each figure as [median, min, max] over `repeat` rounds; photo and built-in alternate in a round."""
    from PIL import Image

    photos, missing = photo_jpegs()
    pairs = {}
    for name, data in photos.items():
        w, h = Image.open(io.BytesIO(data)).size
        pairs[name] = (w, h, data, images.encode(images.photo_like(w, h), "jpeg"))
    for s, (w, h) in images.SIZES.items():
        pairs[f"built-in {s}"] = (w, h, images.encode(images.photo_like(w, h), "jpeg"), None)
    rounds: dict = {}
    for _ in range(repeat):
        for name, (w, h, photo, same) in pairs.items():
            for label, data in (("photo", photo), ("built-in same size", same)):
                if data is not None:
                    for k, v in per_megapixel(data, w, h, seconds).items():
                        rounds.setdefault(name, {"size": f"{w}x{h}"}).setdefault(label, {}).setdefault(k, []).append(v)
    out: dict = {"not measured": missing} if missing else {}
    for name, row in rounds.items():
        out[name] = {label: (v if label == "size" else
                             {k: [statistics.median(xs), min(xs), max(xs)] for k, xs in v.items()})
                     for label, v in row.items()}
    return out


def tolerance_evidence() -> dict:
    import simplejpeg

    out = {}
    for s in images.SIZES:
        px = images.photo_like(*images.SIZES[s])
        data = images.encode(px, "jpeg")
        ref = codecs.decoder("pillow").decode(data, "jpeg")
        fast = simplejpeg.decode_jpeg(data, fastdct=True, fastupsample=True)
        out[s] = {k: [round(v, 3) for v in agree.difference(ref, other)[:2]] for k, other in
                  (("fast idct + plain upsampling", fast), ("one row off", np.roll(ref, 1, axis=0)),
                   ("red/blue swapped", ref[..., ::-1]))}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true", help="kept for old command lines: the output is JSON anyway")
    p.add_argument("--only", choices=("harness", "stages", "photos", "agreement"), help="run one part")
    a = p.parse_args()
    parts = {"harness_vs_tight_loop_1080p_jpeg": ("harness", lambda: harness_vs_tight(a.rounds, a.seconds)),
             "stages_vs_end_to_end": ("stages", lambda: stages_vs_e2e(a.repeat, a.seconds)),
             "decode_cpu_ms_per_megapixel": ("photos", lambda: photos_vs_builtin(a.seconds, a.repeat)),
             "agreement_evidence_mean_p99": ("agreement", tolerance_evidence)}
    doc = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"}
    doc.update({key: run() for key, (name, run) in parts.items() if a.only in (None, name)})
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
