"""Hostile and broken images in the embed job: each gets its status before any large allocation, none crashes
or stalls the job, and no file outside the dataset root is read (limits: `editlens.contract.limits`)."""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from editlens.contract.limits import IMAGE_MAX_ASPECT_RATIO, IMAGE_MAX_FILE_BYTES
from editlens.contract.locations import ImageLocation, ImageUnavailable
from editlens.contract.tables import IMAGE_STATUSES
from editlens.embeddings.imageio import Preprocess, header_status, process_batch, process_image
from editlens.warehouse import Warehouse, atomic_write_table

PP = Preprocess()


def png_header_only(w: int, h: int, rows: bytes | None = None) -> bytes:
    """A valid PNG of w x h 1-bit grey pixels whose IDAT is tiny (all rows zero, compressed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = rows if rows is not None else (b"\x00" + b"\x00" * ((w + 7) // 8)) * h
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def photo(size=(96, 80)) -> Image.Image:
    rng = np.random.default_rng(0)
    arr = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "data"
    (r / "images").mkdir(parents=True)
    return r


def row(root: Path, path: str, kind: str = "file", **kw) -> dict:
    return {"image_id": path.replace("/", "_")[:16] or "x", "location_kind": kind, "root": str(root), "path": path,
            "row_group": kw.get("row_group"), "row": kw.get("row"), "column": kw.get("column"), "exists": None}


def status_of(root: Path, path: str) -> dict:
    return process_image(row(root, path), PP)


def put(root: Path, name: str, data: bytes) -> str:
    (root / "images" / name).write_bytes(data)
    return f"images/{name}"


# --- broken or unusual encodings --------------------------------------------------------------------------

def test_truncated_jpeg(root):
    data = encoded(photo(), "JPEG", quality=90)
    r = status_of(root, put(root, "t.jpg", data[: len(data) // 2]))
    assert r["status"] == "truncated" and r["pixels"] is None and r["file_size"] == len(data) // 2


def test_zero_byte_file(root):
    r = status_of(root, put(root, "empty.jpg", b""))
    assert (r["status"], r["file_size"], r["status_message"]) == ("truncated", 0, "empty file (0 bytes)")


def test_non_image_bytes(root):
    r = status_of(root, put(root, "x.jpg", b"<html>not a picture</html>" * 40))
    assert r["status"] == "unsupported" and r["pixels"] is None


def test_cmyk_jpeg_is_decoded(root):
    r = status_of(root, put(root, "cmyk.jpg", encoded(photo().convert("CMYK"), "JPEG", quality=95)))
    assert (r["status"], r["mode"], r["format"]) == ("ok", "CMYK", "JPEG")
    assert r["pixels"].shape == (3, 224, 224)


def test_16_bit_grey_png_is_scaled_not_clipped(root):
    arr = np.full((40, 50), 32768, dtype=np.uint16)  # mid grey in 16 bits
    r = status_of(root, put(root, "g16.png", encoded(Image.fromarray(arr), "PNG")))
    assert r["status"] == "ok" and r["mode"].startswith("I")
    assert 0.45 < r["brightness"] < 0.55  # Pillow's own 16 -> 8 bit conversion would give white (1.0)


def test_palette_png_with_transparency(root):
    img = photo().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    r = status_of(root, put(root, "p.png", encoded(img, "PNG", transparency=0)))
    assert (r["status"], r["mode"]) == ("ok", "P") and r["pixels"].shape == (3, 224, 224)


def test_animated_gif_decodes_the_first_frame_only(root):
    frames = [Image.new("RGB", (64, 64), (i % 256, 0, 0)) for i in range(300)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=10)
    r = status_of(root, put(root, "anim.gif", data))
    first = status_of(root, put(root, "first.gif", encoded(frames[0], "GIF")))
    assert (r["status"], r["format"], r["width"]) == ("ok", "GIF", 64)
    assert r["thumb"] == first["thumb"]  # frame 0's pixels


def test_huge_exif_jpeg(root):
    exif = Image.Exif()
    exif[0x010E] = "x" * 60_000  # ImageDescription: a 60 kB EXIF block (the APP1 maximum is 64 kB)
    r = status_of(root, put(root, "exif.jpg", encoded(photo(), "JPEG", exif=exif.tobytes())))
    assert r["status"] == "ok"


def test_png_text_bomb_gets_a_status(root):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "A" * 50_000_000, zip=True)  # 50 MB of text compressed to ~50 kB
    r = status_of(root, put(root, "txt.png", encoded(photo(), "PNG", pnginfo=info)))
    assert r["status"] in IMAGE_STATUSES and r["status"] != "ok"  # refused, not inflated
    assert "Too Large" in r["status_message"] or "too large" in r["status_message"].lower()


# --- decompression and aspect-ratio bombs: refused from the header -----------------------------------------

def test_aspect_ratio_bomb_is_refused_from_the_header(root):
    data = png_header_only(60000, 1)
    assert len(data) < 400
    for name, d in (("wide.png", data), ("tall.png", png_header_only(1, 60000))):
        r = status_of(root, put(root, name, d))
        assert r["status"] == "unsupported" and "aspect ratio" in r["status_message"], r
        assert r["pixels"] is None and {r["width"], r["height"]} == {60000, 1}


def test_aspect_ratio_limit_edges():
    assert header_status(int(224 * IMAGE_MAX_ASPECT_RATIO), 224) is None
    assert header_status(int(224 * IMAGE_MAX_ASPECT_RATIO) + 1, 224)[0] == "unsupported"
    assert header_status(10, 0)[0] == "unsupported"
    assert header_status(20_000, 20_000)[0] == "too_large"


def test_pixel_bomb_is_refused_from_the_header(root):
    r = status_of(root, put(root, "big.png", png_header_only(30000, 30000, rows=b"")))
    assert r["status"] == "too_large" and r["pixels"] is None and "900000000" in r["status_message"]


def test_jpeg_pixel_bomb_is_refused_from_the_header(root):
    data = bytearray(encoded(photo((16, 16)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)  # claim 60000 x 60000 in the frame header
    r = status_of(root, put(root, "bomb.jpg", bytes(data)))
    assert r["status"] == "too_large" and r["pixels"] is None


# --- special files, sizes and paths: refused before any read -----------------------------------------------

@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_symlink_to_a_device_is_unsafe(root, device):
    os.symlink(device, root / "images" / "dev.jpg")
    r = status_of(root, "images/dev.jpg")
    assert r["status"] == "unsafe_path" and r["file_size"] is None


def test_fifo_is_never_opened_for_a_blocking_read(root):
    os.mkfifo(root / "images" / "pipe.jpg")
    out = {}
    t = threading.Thread(target=lambda: out.update(status_of(root, "images/pipe.jpg")), daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive(), "reading a FIFO blocked"
    assert out["status"] == "unsupported" and "fifo" in out["status_message"]


def test_directory_is_unsupported(root):
    (root / "images" / "dir.jpg").mkdir()
    assert status_of(root, "images/dir.jpg")["status"] == "unsupported"


def test_sparse_file_over_the_size_limit_is_not_read(root):
    with open(root / "images" / "sparse.jpg", "wb") as fh:
        fh.truncate(3 << 30)  # 3 GB, no blocks written
    r = status_of(root, "images/sparse.jpg")
    assert r["status"] == "too_large" and str(3 << 30) in r["status_message"] and r["sha256"] is None


def test_size_limit_is_a_bounded_read(root):
    put(root, "ok.png", encoded(photo(), "PNG"))
    loc = ImageLocation("file", str(root), "images/ok.png")
    n = len(loc.read_bytes())
    assert n < IMAGE_MAX_FILE_BYTES
    with pytest.raises(ImageUnavailable) as ei:
        loc.read_bytes(max_bytes=n - 1)
    assert ei.value.status == "too_large"


def test_embedded_value_over_the_size_limit(root):
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"img": pa.array([b"x" * 1000], pa.binary())}), root / "e.parquet")
    loc = ImageLocation("parquet", str(root), "e.parquet", 0, 0, "img")
    assert loc.read_bytes() == b"x" * 1000
    with pytest.raises(ImageUnavailable) as ei:
        loc.read_bytes(max_bytes=999)
    assert ei.value.status == "too_large"


def test_symlink_to_a_picture_outside_the_root_is_unsafe(root, tmp_path):
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(encoded(photo(), "PNG"))
    os.symlink(outside, root / "images" / "link.png")
    r = status_of(root, "images/link.png")
    assert r["status"] == "unsafe_path" and r["sha256"] is None  # never read, never embedded as ok
    for path in ("../elsewhere.png", "images/../../elsewhere.png", str(outside), "file:///etc/passwd"):
        assert status_of(root, path)["status"] == "unsafe_path", path


def test_symlinks_inside_the_root_are_followed(root, tmp_path):
    put(root, "real.png", encoded(photo(), "PNG"))
    os.symlink(root / "images" / "real.png", root / "images" / "alias.png")
    os.symlink(root, tmp_path / "root_link")  # the root itself may be a link
    assert status_of(root, "images/alias.png")["status"] == "ok"
    assert status_of(tmp_path / "root_link", "images/real.png")["status"] == "ok"


def test_one_batch_of_every_case_never_raises(root, tmp_path):
    cases = {
        "ok.png": ("ok", encoded(photo(), "PNG")),
        "empty.jpg": ("truncated", b""),
        "text.jpg": ("unsupported", b"hello" * 100),
        "wide.png": ("unsupported", png_header_only(60000, 1)),
        "cmyk.jpg": ("ok", encoded(photo().convert("CMYK"), "JPEG")),
    }
    rows = [row(root, put(root, name, data)) for name, (_, data) in cases.items()]
    os.symlink("/dev/zero", root / "images" / "zero.jpg")
    os.mkfifo(root / "images" / "fifo.jpg")
    rows += [row(root, "images/zero.jpg"), row(root, "images/fifo.jpg"), row(root, "../../x.jpg")]
    for i, r in enumerate(rows):
        r["image_id"] = f"id{i:02d}"
    b = process_batch(rows, PP)
    want = [s for s, _ in cases.values()] + ["unsafe_path", "unsupported", "unsafe_path"]
    assert b.facts["status"] == want
    assert b.pixels.shape == (2, 3, 224, 224) and b.ok == [0, 4]


def test_embed_job_records_every_status(tmp_path):
    """The whole job over a warehouse whose images include the hostile cases: it finishes and writes each one's
    status (the facts table holds every image)."""
    import duckdb

    from editlens.embeddings.main import EmbedConfig, run_embed
    from embed_warehouses import build_warehouse

    info = build_warehouse(tmp_path)
    wh: Warehouse = info["warehouse"]
    data = tmp_path / "data"
    (data / "images" / "wide.png").write_bytes(png_header_only(60000, 1))
    os.symlink("/dev/urandom", data / "images" / "rand.jpg")
    os.mkfifo(data / "images" / "fifo.jpg")
    with open(data / "images" / "sparse.jpg", "wb") as fh:
        fh.truncate(3 << 30)
    outside = tmp_path / "outside.png"
    outside.write_bytes(encoded(photo(), "PNG"))
    os.symlink(outside, data / "images" / "out.png")
    names = {"wide.png": "unsupported", "rand.jpg": "unsafe_path", "fifo.jpg": "unsupported",
             "sparse.jpg": "too_large", "out.png": "unsafe_path"}
    extra = pa.Table.from_pylist(
        [{"image_id": f"hostile{i:09d}", "dataset": "seed-data-edit", "part": "part2", "location_kind": "file",
          "root": str(data), "path": f"images/{n}", "row_group": None, "row": None, "column": None, "exists": True}
         for i, n in enumerate(names)],
        schema=pa.schema([("image_id", pa.string()), ("dataset", pa.string()), ("part", pa.string()),
                          ("location_kind", pa.string()), ("root", pa.string()), ("path", pa.string()),
                          ("row_group", pa.int32()), ("row", pa.int64()), ("column", pa.string()),
                          ("exists", pa.bool_())]))
    atomic_write_table(extra, wh.shard_path("images", "part-1"))
    run_embed(EmbedConfig(warehouse=wh, allow_random_weights=True, shard_size=4, workers=0, threads=1,
                          progress=False, batch_size=3, edit_shard_size=3))
    got = dict(duckdb.sql(f"select image_id, status from read_parquet('{wh.table_glob('image_facts')}') "
                          "where image_id like 'hostile%'").fetchall())
    assert got == {f"hostile{i:09d}": s for i, s in enumerate(names.values())}


def test_parquet_row_group_over_the_read_limit_is_not_read(root, monkeypatch):
    import pyarrow.parquet as pq

    from editlens.contract import locations

    pq.write_table(pa.table({"img": pa.array([b"x" * 5000, b"y" * 5000], pa.binary())}), root / "e.parquet")
    pf = pq.ParquetFile(root / "e.parquet")
    assert 10_000 <= locations.column_read_bytes(pf, 0, "img") < 11_000
    with pytest.raises(ImageUnavailable) as ei:
        locations.read_column(str(root / "e.parquet"), 0, "img", max_bytes=9_999)
    assert ei.value.status == "too_large"
    monkeypatch.setattr(locations, "PARQUET_MAX_COLUMN_READ_BYTES", 9_999)
    monkeypatch.setattr(locations.read_column, "__defaults__", (9_999,))
    r = process_image(row(root, "e.parquet", kind="parquet", row_group=0, row=0, column="img"), PP)
    assert r["status"] == "too_large" and "over the limit" in r["status_message"]
