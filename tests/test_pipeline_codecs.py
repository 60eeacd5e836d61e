"""Decoders and resizers: each present one agrees with Pillow within the stated tolerance, a wrong
one is caught, and the nvJPEG adapter (no GPU here) works against a fake torch."""

from __future__ import annotations

import sys
import types

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("PIL", reason="the pipeline extra (Pillow) is not installed")

from hwtune.bench.pipeline import agree, codecs, images  # noqa: E402
from hwtune.errors import ConfigError  # noqa: E402

MODULES = {"opencv": "cv2", "simplejpeg": "simplejpeg", "turbojpeg": "turbojpeg"}


@pytest.fixture(scope="module")
def builtin():
    return images.builtin_images(("640x480",), images.FORMATS)


def _decoder_or_skip(name: str) -> codecs.Decoder:
    try:
        return codecs.decoder(name)
    except ConfigError as exc:
        pytest.skip(exc.message)


@pytest.mark.parametrize("name", ["pillow", "opencv", "simplejpeg", "turbojpeg"])
def test_each_decoder_present_agrees_with_pillow_on_every_builtin_format(name, builtin):
    dec = _decoder_or_skip(name)
    found = agree.check_decoders(codecs.decoder("pillow"), [dec], builtin)
    assert all(a.within for a in found), [a.to_json() for a in found if not a.within]
    if name != "pillow":
        assert {a.fmt for a in found} == {"jpeg", "png", "webp"}
        rgb = dec.decode(builtin[0].data, "jpeg")
        assert rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8


def test_a_wrong_decoder_is_caught_swapped_channels_or_a_row_off(builtin):
    pillow = codecs.decoder("pillow")
    swapped = codecs.Decoder("swapped", "0", codecs.ALL_FORMATS, lambda d: pillow.decode_own(d)[..., ::-1])
    shifted = codecs.Decoder("shifted", "0", codecs.ALL_FORMATS, lambda d: np.roll(pillow.decode_own(d), 1, axis=0))
    small = codecs.Decoder("small", "0", codecs.ALL_FORMATS, lambda d: pillow.decode_own(d)[::2])
    found = agree.check_decoders(pillow, [swapped, shifted, small], builtin)
    assert not any(a.within for a in found)
    assert all("shape" in a.error for a in found if a.decoder == "small")


def test_the_fast_idct_and_plain_upsampling_stay_within_the_jpeg_tolerance(builtin):
    simplejpeg = pytest.importorskip("simplejpeg", reason="simplejpeg (pipeline extra) is not installed")
    fast = codecs.Decoder("fast", "0", frozenset({"jpeg"}),
                          lambda d: simplejpeg.decode_jpeg(d, fastdct=True, fastupsample=True))
    found = agree.check_decoders(codecs.decoder("pillow"), [fast], [builtin[0]])
    assert found[0].within and found[0].mean_abs > 0  # a different, not a wrong, decoder


def test_a_jpeg_only_decoder_hands_png_and_webp_to_pillow_and_says_so():
    dec = _decoder_or_skip("simplejpeg")
    assert dec.label({"jpeg"}) == "simplejpeg"
    assert dec.label({"jpeg", "png", "webp"}) == "simplejpeg (png, webp: pillow)"


class _FakeTensor:
    def __init__(self, arr, device="cpu"):
        self.arr, self.device = arr, device

    def permute(self, *dims):
        return _FakeTensor(self.arr.transpose(dims), self.device)

    def contiguous(self):
        return self

    def cpu(self):
        return _FakeTensor(self.arr, "cpu")

    def numpy(self):
        assert self.device == "cpu", "a CUDA tensor must come to the host before numpy()"
        return self.arr


def _fake_torch(monkeypatch, cuda: bool, calls: list):
    """torch and torchvision as far as the nvJPEG adapter uses them; decode_jpeg decodes with Pillow."""
    torch = types.ModuleType("torch")
    torch.uint8 = "uint8"
    torch.cuda = types.SimpleNamespace(is_available=lambda: cuda)
    torch.frombuffer = lambda buf, dtype: _FakeTensor(np.frombuffer(bytes(buf), np.uint8))
    tv = types.ModuleType("torchvision")
    tv.__version__ = "0.0-fake"
    io = types.ModuleType("torchvision.io")

    def decode_jpeg(t, device="cpu"):
        calls.append(device)
        rgb = codecs._pillow_decode(t.arr.tobytes())
        return _FakeTensor(np.ascontiguousarray(rgb.transpose(2, 0, 1)), device)

    io.decode_jpeg = decode_jpeg
    tv.io = io
    for name, mod in (("torch", torch), ("torchvision", tv), ("torchvision.io", io)):
        monkeypatch.setitem(sys.modules, name, mod)


def test_nvjpeg_decodes_on_the_gpu_through_torchvision_and_brings_the_pixels_back(monkeypatch, builtin):
    calls: list = []
    _fake_torch(monkeypatch, cuda=True, calls=calls)
    dec = codecs.decoder("nvjpeg")
    assert dec.device == "GPU" and dec.version == "torchvision 0.0-fake"
    jpeg, png = builtin[0], builtin[1]
    found = agree.check_decoders(codecs.decoder("pillow"), [dec], [jpeg, png])
    assert all(a.within for a in found)
    assert calls == ["cuda"]  # the JPEG went to the GPU; the PNG to Pillow
    assert dec.label({"jpeg", "png"}) == "nvjpeg (png: pillow)"


def test_nvjpeg_without_a_cuda_device_is_a_reason_not_a_crash(monkeypatch):
    _fake_torch(monkeypatch, cuda=False, calls=[])
    with pytest.raises(ConfigError, match="nvjpeg is not usable here: torch sees no CUDA device"):
        codecs.decoder("nvjpeg")
    monkeypatch.setitem(sys.modules, "torch", None)
    found, missing = codecs.available(("pillow", "nvjpeg"), codecs.decoder)
    assert [d.name for d in found] == ["pillow"] and "nvjpeg" in missing[0]


@pytest.mark.parametrize("size,out,box", [
    ((1920, 1080), (128, 64), (0, 60, 1920, 1020)),  # wider output than 16:9? no: 2:1 crops top and bottom
    ((640, 480), (224, 224), (80, 0, 560, 480)),  # square from 4:3 crops the sides
    ((100, 100), (100, 100), (0, 0, 100, 100)),
])
def test_crop_box_keeps_the_outputs_aspect_ratio_centred(size, out, box):
    assert codecs.crop_box(*size, *out) == box


@pytest.mark.parametrize("name", ["pillow", "opencv"])
def test_resizers_give_the_models_size_and_agree_roughly(name, builtin):
    try:
        r = codecs.resizer(name)
    except ConfigError as exc:
        pytest.skip(exc.message)
    rgb = codecs.decoder("pillow").decode(builtin[0].data, "jpeg")
    out = r.resize(rgb, 64, 128)
    assert out.shape == (64, 128, 3) and out.dtype == np.uint8
    ref = codecs.resizer("pillow").resize(rgb, 64, 128)
    # different filters (area average, widened bilinear): close on average, not identical
    assert np.abs(out.astype(int) - ref.astype(int)).mean() < 6
