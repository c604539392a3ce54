"""The device JPEG decode path (embeddings/gpudecode.py), run with device "cpu": routing, fallbacks, and model
inputs, facts and embeddings against the CPU decode path."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image

pytest.importorskip("torchvision")

from editlens.contract.errors import UnusableInput  # noqa: E402
from editlens.embeddings import gpudecode as G  # noqa: E402
from editlens.embeddings.imageio import Preprocess  # noqa: E402
from editlens.embeddings.reader import decode_rows  # noqa: E402


def test_option_selection():
    assert G.decode_on_device("auto", "cuda") is True
    assert G.decode_on_device("auto", "cuda:1") is True
    assert G.decode_on_device("auto", "cpu") is False
    assert G.decode_on_device("auto", "cuda", detectors=True) is False  # detectors read host images
    assert G.decode_on_device("cpu", "cuda") is False
    assert G.decode_on_device("device", "cpu") is True
    with pytest.raises(UnusableInput, match="detectors"):
        G.decode_on_device("device", "cuda", detectors=True)
    with pytest.raises(UnusableInput, match="unknown decode option"):
        G.decode_on_device("gpu-please", "cuda")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("jpegs")
    photo = skimage.data.astronaut()  # 512 x 512 real photo
    Image.fromarray(photo).resize((640, 480)).save(d / "wide.jpg", quality=90)
    Image.fromarray(photo).resize((300, 500)).save(d / "tall.jpg", quality=90)
    Image.fromarray(photo).save(d / "prog.jpg", quality=90, progressive=True)
    Image.fromarray(photo[..., 0]).save(d / "grey.jpg", quality=90)
    Image.fromarray(photo).convert("CMYK").save(d / "cmyk.jpg", quality=90)
    Image.fromarray(photo).save(d / "photo.png")
    full = (d / "wide.jpg").read_bytes()
    (d / "cut.jpg").write_bytes(full[: len(full) // 2])  # a truncated JPEG: header fine, the decode fails
    names = ["wide.jpg", "tall.jpg", "prog.jpg", "grey.jpg", "cmyk.jpg", "photo.png", "cut.jpg", "absent.jpg"]
    return [{"image_id": n, "root": str(d), "path": n} for n in names]


def test_jpegs_go_to_the_device_and_the_rest_to_the_cpu(folder):
    dev, rest = G.split_rows(folder, max_pixels=10**8)
    on_device = [folder[i]["image_id"] for i in dev["rows"]]
    assert on_device == ["wide.jpg", "tall.jpg", "prog.jpg", "grey.jpg", "cut.jpg"]
    assert [folder[i]["image_id"] for i in rest] == ["cmyk.jpg", "photo.png", "absent.jpg"]
    wide = dev["facts"][0]
    assert (wide["width"], wide["height"], wide["format"], wide["mode"]) == (640, 480, "JPEG", "RGB")
    assert dev["facts"][3]["mode"] == "L"
    # over the pixel limit: the CPU path gives it its status
    dev, rest = G.split_rows(folder[:1], max_pixels=1000)
    assert dev["rows"] == [] and rest == [0]


def _embed(pixels):
    import torch

    from editlens.embeddings.encoder import Encoder, device_settings
    from editlens.embeddings.models import load_model

    enc = Encoder(load_model("editlens-tiny"), device_settings("cpu"))
    return enc.images(pixels if isinstance(pixels, torch.Tensor) else torch.from_numpy(pixels))


@pytest.mark.parametrize("size", [224, 64])
def test_device_decode_on_cpu_matches_the_cpu_path(folder, size):
    pp = Preprocess(size=size)
    cpu = decode_rows(folder, 0, pp, 10**8)
    dev = G.complete(decode_rows(folder, 0, pp, 10**8, device_jpegs=True), pp, "cpu", 10**8)
    assert "device_jpegs" not in dev
    assert dev["facts"]["status"] == cpu["facts"]["status"] == [
        "ok", "ok", "ok", "ok", "ok", "ok", "truncated", "missing"]
    assert dev["ok"] == cpu["ok"] == [0, 1, 2, 3, 4, 5]
    for c in ("sha256", "width", "height", "format", "mode", "file_size", "status_message"):
        assert dev["facts"][c] == cpu["facts"][c], c
    for c, tol in (("brightness", 0.01), ("contrast", 0.01), ("entropy", 0.1)):
        got = np.array([v for v in dev["facts"][c] if v is not None])
        want = np.array([v for v in cpu["facts"][c] if v is not None])
        assert np.abs(got - want).max() < tol, c
    a, b = dev["pixels"].numpy().astype(int), cpu["pixels"].numpy().astype(int)
    assert a.shape == b.shape == (6, 3, size, size)
    assert np.abs(a - b).mean() < 2.0  # full-size decode + resize vs DCT-scaled decode + resize
    if size == 64:  # the bundled model's input size: embeddings as the CPU path's
        cos = (_embed(dev["pixels"]) * _embed(cpu["pixels"])).sum(axis=1)
        assert cos.min() >= 0.999, cos


def test_a_failing_batch_is_decoded_one_by_one_and_failures_fall_back(folder, monkeypatch):
    import torchvision.io

    calls = []
    real = torchvision.io.decode_jpeg

    def flaky(src, **kw):
        calls.append(type(src).__name__)
        if isinstance(src, list):
            raise RuntimeError("batched decode unavailable")
        return real(src, **kw)

    monkeypatch.setattr(torchvision.io, "decode_jpeg", flaky)
    pp = Preprocess(size=64)
    dev = G.complete(decode_rows(folder, 0, pp, 10**8, device_jpegs=True), pp, "cpu", 10**8)
    assert calls[0] == "list" and calls.count("Tensor") == 5
    assert dev["facts"]["status"][:7] == ["ok"] * 6 + ["truncated"]  # the cut file: the CPU path's status


def test_embed_job_with_device_decode_on_cpu(tmp_path):
    import duckdb

    from editlens.embeddings.main import EmbedConfig, run_embed
    from embed_warehouses import build_warehouse

    def run(root, decode):
        wh = build_warehouse(root)["warehouse"]
        s = run_embed(EmbedConfig(warehouse=wh, allow_random_weights=True, shard_size=4, workers=0, threads=1,
                                  progress=False, batch_size=3, decode=decode, images_only=True))
        emb = duckdb.sql(f"select sha256, embedding from read_parquet('{wh.table_glob('image_embeddings')}')").df()
        return s, {r.sha256: np.array(r.embedding) for r in emb.itertuples()}

    s_cpu, e_cpu = run(tmp_path / "cpu", "cpu")
    s_dev, e_dev = run(tmp_path / "dev", "device")
    assert s_dev.statuses == s_cpu.statuses and set(e_dev) == set(e_cpu)
    assert min(float(e_dev[k] @ e_cpu[k]) for k in e_cpu) >= 0.999
