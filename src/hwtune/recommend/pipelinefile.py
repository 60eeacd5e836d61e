"""A saved `hwtune bench run --pipeline image` result, read for the CPU time of its host stages.

The file is untrusted input: read capped through the one JSON reader, every key used checked
for its type, and a wrong one is a ConfigError naming the file and the key. Of the decoders
the run measured, the one with the least CPU per request is used, never one whose pixels
disagreed with the reference decoder (a faster decoder must not be a wrong one).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hwtune.errors import ConfigError
from hwtune.files import read_json_file
from hwtune.recommend.feed import HOST_STAGES, PipelineCpu

MAX_CPU_MS = 60_000.0  # a minute of CPU per request: more is no image pipeline, and keeps figures printable
SHOWN_CHARS = 60  # of a name the file gives (decoder, image kinds): they are printed


def read_pipeline_cpu(path: Path) -> PipelineCpu:
    try:
        doc = read_json_file(path)
    except ConfigError as exc:
        raise ConfigError(f"pipeline result {exc.message}") from None
    return parse_pipeline_cpu(doc, str(path))


def _fail(name: str, key: str, why: str) -> ConfigError:
    return ConfigError(f"pipeline result {name}: {key}: {why}")


_WHAT = {dict: "an object", list: "a list", str: "a string", bool: "true or false"}


def _get(obj: dict, key: str, kind: type, name: str, where: str) -> Any:
    """obj[key] when it is of `kind` (a number: int or float, not bool), else the error naming it."""
    value = obj.get(key)
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float
          else isinstance(value, kind))
    if not ok:
        raise _fail(name, f"{where}{key}", f"expected {_WHAT.get(kind, 'a number')}, got {_shown(value)}")
    return value


def _item(value: object, name: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(name, where, f"expected an object, got {_shown(value)}")
    return value


def _shown(value: object) -> str:
    text = "nothing" if value is None else type(value).__name__ + " " + repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _stages(run: dict, name: str, where: str) -> tuple[tuple[str, float], ...]:
    cpu: dict[str, float] = {}
    for j, raw in enumerate(_get(run, "stages", list, name, where)):
        at = f"{where}stages[{j}]"
        st = _item(raw, name, at)
        stage: str = _get(st, "stage", str, name, at + ".")
        ms = float(_get(st, "cpu_ms", float, name, at + "."))
        if not (math.isfinite(ms) and 0 <= ms <= MAX_CPU_MS):
            raise _fail(name, f"{at}.cpu_ms", f"expected 0 to {MAX_CPU_MS:,.0f} ms, got {_shown(st['cpu_ms'])}")
        if stage in cpu:
            raise _fail(name, f"{at}.stage", f"{_shown(stage)} is given twice")
        cpu[stage] = ms
    missing = [s for s in HOST_STAGES if s not in cpu]
    if missing:
        raise _fail(name, f"{where}stages", f"no {', '.join(repr(m) for m in missing)} stage "
                    f"(an image pipeline times {', '.join(HOST_STAGES)} around the model)")
    return tuple((s, cpu[s]) for s in HOST_STAGES)


def parse_pipeline_cpu(doc: object, name: str) -> PipelineCpu:
    if not isinstance(doc, dict):
        raise ConfigError(f"pipeline result {name}: expected the JSON object "
                          "a saved image-pipeline bench result holds")
    kind = _get(doc, "pipeline", str, name, "")
    if kind != "image":
        raise _fail(name, "pipeline", f"expected 'image', got {_shown(kind)}")
    disagreed: set[str] = set()
    for i, raw in enumerate(_get(doc, "agreement", list, name, "")):
        a = _item(raw, name, f"agreement[{i}]")
        if not _get(a, "within", bool, name, f"agreement[{i}]."):
            disagreed.add(_get(a, "decoder", str, name, f"agreement[{i}]."))
    candidates = []
    for i, raw in enumerate(_get(doc, "decoders", list, name, "")):
        run = _item(raw, name, f"decoders[{i}]")
        decoder: str = _get(run, "decoder", str, name, f"decoders[{i}].")
        cpu = _stages(run, name, f"decoders[{i}].")
        # a run is labelled "simplejpeg (png, webp: pillow)"; agreement names the decoder alone
        if decoder.partition(" ")[0] not in disagreed:
            candidates.append((sum(ms for _, ms in cpu), i, decoder, cpu))
    if not candidates:
        raise _fail(name, "decoders", "no decoder run whose pixels agreed with the reference")
    images = _get(doc, "images", dict, name, "")
    kinds = _get(images, "kinds", dict, name, "images.")
    _, _, decoder, cpu = min(candidates)
    return PipelineCpu(cpu_ms=cpu, decoder=_clip(decoder), images=_clip(", ".join(str(k) for k in kinds)),
                       source=name)


def _clip(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."
