"""The dashboards never read a file outside a dataset root: image serving goes through the contract's confined,
bounded read, so a location row that escapes (``..``, an absolute path, a symlink out, a URL) or names a special
file gives a placeholder, never the file's bytes and never a blocking read."""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib

import pytest
from PIL import Image

from editlens.dashboards.images import (
    ImageLocation,
    ImageUnavailable,
    read_bytes,
    thumbnail_image,
    thumbnail_png,
)

SECRET = b"\x89PNG secret bytes outside the dataset root"


def _png(color=(10, 200, 10), size=(40, 30)) -> bytes:
    b = io.BytesIO()
    Image.new("RGB", size, color).save(b, "PNG")
    return b.getvalue()


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "datasets" / "d1"
    (root / "images").mkdir(parents=True)
    (root / "images" / "ok.png").write_bytes(_png())
    secret = tmp_path / "secret.png"
    secret.write_bytes(SECRET)
    os.symlink(secret, root / "images" / "link_out.png")
    os.symlink("/etc/hostname", root / "images" / "etc.png")
    return root, secret


def _escapes(root, secret):
    return [
        ImageLocation("file", str(root), "../../secret.png"),
        ImageLocation("file", str(root), "images/../../../secret.png"),
        ImageLocation("file", str(root), str(secret)),  # absolute
        ImageLocation("file", None, str(secret)),  # absolute, no root
        ImageLocation("file", str(root), "images/link_out.png"),  # symlink out of the root
        ImageLocation("file", str(root), "images/etc.png"),
        ImageLocation("file", str(root), "file:///etc/passwd"),
        ImageLocation("parquet", str(root), "../../secret.png", 0, 0, "img"),
    ]


def test_locations_outside_the_root_are_refused(dataset):
    root, secret = dataset
    assert read_bytes(ImageLocation("file", str(root), "images/ok.png")) == _png()
    for loc in _escapes(root, secret):
        with pytest.raises(ImageUnavailable) as ei:
            read_bytes(loc)
        assert ei.value.status == "unsafe_path", loc
        assert "unsafe path" in str(ei.value)


def test_thumbnails_of_escaping_locations_are_placeholders(dataset):
    root, secret = dataset
    good = Image.open(io.BytesIO(thumbnail_png(ImageLocation("file", str(root), "images/ok.png"), size=64)))
    assert good.convert("RGB").getpixel((10, 10)) == (10, 200, 10)
    for loc in _escapes(root, secret):
        img = Image.open(io.BytesIO(thumbnail_png(loc, size=64))).convert("RGB")
        assert img.size == (64, 64) and img.getpixel((32, 2)) == (215, 215, 215), loc  # the grey placeholder


def test_fifo_and_devices_never_block_the_app(dataset):
    root, _ = dataset
    os.mkfifo(root / "images" / "pipe.png")
    os.symlink("/dev/zero", root / "images" / "zero.png")
    done = {}

    def serve():
        done["pipe"] = thumbnail_png(ImageLocation("file", str(root), "images/pipe.png"), size=32)
        done["zero"] = thumbnail_png(ImageLocation("file", str(root), "images/zero.png"), size=32)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive() and set(done) == {"pipe", "zero"}
    with pytest.raises(ImageUnavailable) as ei:
        read_bytes(ImageLocation("file", str(root), "images/pipe.png"))
    assert ei.value.status == "unsupported"


def test_aspect_ratio_bomb_thumbnail_is_a_placeholder():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 1, 1, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00" * 7501)) + chunk(b"IEND", b""))
    img = thumbnail_image(png, size=32)
    assert img.size == (32, 32) and img.getpixel((16, 2)) == (215, 215, 215)
