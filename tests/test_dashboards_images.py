"""Image loading for the dashboards: files, Parquet-embedded bytes, missing and broken images, blur."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageChops, ImageStat

from editlens.dashboards.images import (
    ImageLocation,
    ImageUnavailable,
    read_bytes,
    thumbnail_image,
    thumbnail_png,
)


def _png(color, size=(64, 48)) -> bytes:
    img = Image.new("RGB", size, color)
    for x in range(0, size[0], 8):  # stripes, so blur has something to smooth
        for y in range(size[1]):
            img.putpixel((x, y), (255, 255, 255))
    b = io.BytesIO()
    img.save(b, "PNG")
    return b.getvalue()


@pytest.fixture
def store(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(_png((200, 0, 0)))
    (tmp_path / "a" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    t = pa.table(
        {
            "img": pa.array(
                [
                    {"bytes": _png((0, 0, 200)), "path": "b.png"},
                    {"bytes": _png((0, 200, 0)), "path": "g.png"},
                ],
                pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
            ),
            "raw": pa.array([_png((9, 9, 9)), _png((250, 250, 0))], pa.binary()),
        }
    )
    pq.write_table(t, tmp_path / "emb.parquet", row_group_size=1)
    return tmp_path


def _mean(png: bytes):
    return ImageStat.Stat(Image.open(io.BytesIO(png)).convert("RGB")).mean


def test_file_and_parquet_locations(store):
    assert Image.open(io.BytesIO(read_bytes(ImageLocation("file", str(store), "a/x.png")))).getpixel(
        (1, 1)
    ) == (200, 0, 0)
    g = read_bytes(
        ImageLocation("parquet", str(store), "emb.parquet", row_group=1, row=0, column="img.bytes")
    )
    assert Image.open(io.BytesIO(g)).getpixel((1, 1)) == (0, 200, 0)
    y = read_bytes(ImageLocation("parquet", str(store), "emb.parquet", row_group=1, row=0, column="raw"))
    assert Image.open(io.BytesIO(y)).getpixel((1, 1)) == (250, 250, 0)
    b = read_bytes(ImageLocation("parquet", str(store), "emb.parquet", row_group=0, row=0, column="img"))
    assert Image.open(io.BytesIO(b)).getpixel((1, 1)) == (0, 0, 200)


@pytest.mark.parametrize(
    "ref, why",
    [
        (ImageLocation("file", "/nonexistent", "x.png"), "missing file"),
        (ImageLocation("parquet", "/nonexistent", "e.parquet", 0, 0, "img"), "missing parquet file"),
        (ImageLocation("parquet", None, None, 0, 0, "img"), "no path"),
        (ImageLocation("s3", "/", "x"), "unknown location kind"),
    ],
)
def test_unavailable_is_a_reason_not_a_crash(ref, why):
    with pytest.raises(ImageUnavailable) as ei:
        read_bytes(ref)
    assert why in str(ei.value)
    png = thumbnail_png(ref, size=64)
    assert Image.open(io.BytesIO(png)).size == (64, 64)  # placeholder


def test_row_out_of_range(store):
    with pytest.raises(ImageUnavailable, match="row out of range"):
        read_bytes(
            ImageLocation("parquet", str(store), "emb.parquet", row_group=0, row=5, column="img.bytes")
        )


def test_broken_image_gives_placeholder(store):
    img = thumbnail_image((store / "a" / "broken.jpg").read_bytes(), size=32)
    assert img.size == (32, 32) and img.getpixel((16, 2)) == (215, 215, 215)


def test_thumbnail_keeps_aspect_and_blur_changes_pixels(store):
    ref = ImageLocation("file", str(store), "a/x.png")
    sharp = Image.open(io.BytesIO(thumbnail_png(ref, size=32)))
    blurred = Image.open(io.BytesIO(thumbnail_png(ref, size=32, blur=True)))
    assert sharp.size == blurred.size == (32, 24)
    diff = ImageStat.Stat(ImageChops.difference(sharp.convert("RGB"), blurred.convert("RGB"))).mean
    assert sum(diff) > 10
