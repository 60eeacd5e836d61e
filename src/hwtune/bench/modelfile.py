"""Which model file a run measures, at which input shapes, in which precision."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from hwtune import atomic
from hwtune.bench import zoo
from hwtune.errors import ConfigError
from hwtune.onnxcost import Shape, count_cost, load_model, model_input_dims

_SHAPE_RE = re.compile(r"^([^=\s]+)=(\d+(?:[x,]\d+)*)$")


@dataclass(frozen=True)
class ModelSource:
    name: str  # built-in name, or the file name of a user model
    path: Path  # the float ONNX file
    builtin: bool
    input_dims: dict[str, list[int | str | None]]
    user_shapes: dict[str, Shape] = field(default_factory=dict)

    def shapes(self, batch: int | None) -> dict[str, Shape]:
        """Concrete input shapes: a dynamic first dim takes `batch`, the rest come from --shape."""
        shapes: dict[str, Shape] = {}
        for name, dims in self.input_dims.items():
            given = list(self.user_shapes.get(name, dims))
            if batch is not None and given:
                first = dims[0]
                if isinstance(first, int) and first != batch:
                    raise ConfigError(f"input {name!r} has a fixed batch of {first}; batch {batch} cannot run")
                given[0] = batch
            if any(not isinstance(d, int) for d in given):
                dims_text = "x".join(str(d) if isinstance(d, int) else str(d or "?") for d in dims)
                example = "x".join(str(d) if isinstance(d, int) else "1" for d in given)
                raise ConfigError(f"input {name!r} has dynamic dimensions {dims_text}; give --shape {name}={example}")
            shapes[name] = tuple(given)  # type: ignore[arg-type]
        return shapes

    def default_batch(self) -> int:
        first = next(iter(self.input_dims.values()), [1])
        name = next(iter(self.input_dims), "")
        if name in self.user_shapes:
            return self.user_shapes[name][0]
        return first[0] if first and isinstance(first[0], int) else 1


def parse_shape(text: str) -> tuple[str, Shape]:
    """`input=1x3x224x224` -> ("input", (1, 3, 224, 224))."""
    m = _SHAPE_RE.match(text.strip())
    if not m:
        raise ConfigError(f"bad --shape {text!r}; expected NAME=DIMxDIM..., e.g. input=1x3x224x224")
    dims = tuple(int(d) for d in re.split("[x,]", m.group(2)))
    if 0 in dims:
        raise ConfigError(f"bad --shape {text!r}: every dimension must be 1 or more")
    return m.group(1), dims


def open_model(model: str, shape_args: list[str] | tuple[str, ...], cache_dir: Path) -> ModelSource:
    user_shapes = dict(parse_shape(s) for s in shape_args)
    if model in zoo.BUILTIN:
        path = materialize(model, cache_dir)
        builtin = True
    else:
        path = Path(model).expanduser()
        if not path.exists():
            raise ConfigError(f"no built-in model {model!r} and no file {path}; "
                              f"built-in models: {', '.join(zoo.BUILTIN)}")
        builtin = False
    proto = load_model(path)
    dims = model_input_dims(proto)
    if not dims:
        raise ConfigError(f"{path} has no inputs to feed")
    source = ModelSource(model if builtin else path.name, path, builtin, dims, user_shapes)
    # Fail now, with the input named, rather than inside a runtime later.
    count_cost(proto, source.shapes(source.default_batch()))
    return source


def materialize(name: str, cache_dir: Path) -> Path:
    """Write a built-in model to the cache (content-addressed, so a changed builder is a new file)."""
    return write_cached(zoo.builtin(name).build().SerializeToString(), name, cache_dir)


def write_cached(data: bytes, stem: str, cache_dir: Path) -> Path:
    out = cache_dir / f"{stem}-{hashlib.sha256(data).hexdigest()[:12]}.onnx"
    if not out.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_file(out, data)
    return out


def precision_path(source: ModelSource, precision: str, shapes: dict[str, Shape], cache_dir: Path) -> Path:
    """The file to load for a precision: int8 is a QDQ model; the others are the float model
    (bf16/fp16 are execution settings of the runtime)."""
    if precision != "int8":
        return source.path
    from hwtune.bench.quant import int8_path

    calib = {k: (1,) + v[1:] for k, v in shapes.items()}
    return int8_path(source.path, calib, cache_dir)


def export_model(name: str, out: Path, precision: str, cache_dir: Path) -> Path:
    """Write a built-in model (fp32, or its QDQ int8 form) to `out`."""
    if name not in zoo.BUILTIN:
        raise ConfigError(f"{name!r} is not a built-in model; built-in: {', '.join(zoo.BUILTIN)}")
    if precision not in ("fp32", "int8"):
        raise ConfigError("a model is exported in fp32 or int8; bf16/fp16 are runtime settings")
    source = open_model(name, (), cache_dir)
    src = precision_path(source, precision, source.shapes(1), cache_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_file(out, src.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror}") from None
    return out
