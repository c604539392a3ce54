"""Dedicated detectors on real pixels: a real photo with a face (scikit-image's astronaut, shipped in its wheel)."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from editlens.contract.errors import UnusableInput
from editlens.embeddings import detectors as D


@pytest.fixture(scope="module")
def loaded():
    return {d.name: d for d in D.load_detectors("all")}


def test_face_found_on_a_real_photo(loaded):
    rgb = skimage.data.astronaut()  # 512x512, Eileen Collins' face in the upper middle
    d = loaded[D.HAAR_FACE].detect(rgb)
    assert d.n_detections == 1
    (x0, y0, x1, y1), = D.decode_boxes(d.boxes)
    # the face: centre in the upper middle of the picture, about a fifth of its width
    assert 0.35 < (x0 + x1) / 2 < 0.55 and 0.15 < (y0 + y1) / 2 < 0.35
    assert 0.12 < x1 - x0 < 0.28
    assert d.largest_share == pytest.approx((x1 - x0) * (y1 - y0), abs=0.005)


def test_face_survives_the_detector_copy(loaded):
    big = np.asarray(np.kron(skimage.data.astronaut(), np.ones((3, 3, 1), np.uint8)))  # 1536 px
    small = D.detect_input(big)
    assert max(small.shape[:2]) == D.DETECT_SIZE
    d = loaded[D.HAAR_FACE].detect(small)
    assert d.n_detections == 1
    (x0, y0, x1, y1), = D.decode_boxes(d.boxes)
    assert 0.35 < (x0 + x1) / 2 < 0.55 and 0.15 < (y0 + y1) / 2 < 0.35


def test_blank_image_has_no_face_and_no_nudity(loaded):
    blank = np.full((256, 256, 3), 128, np.uint8)
    assert loaded[D.HAAR_FACE].detect(blank).n_detections == 0
    n = loaded[D.NUDENET].detect(blank)
    assert n.n_detections == 0 and n.class_scores == () and n.boxes == "" and n.largest_share == 0.0


def test_nudenet_scores_the_photo_per_class(loaded):
    d = loaded[D.NUDENET].detect(skimage.data.astronaut())
    labels = dict(d.class_scores)
    # a clothed portrait: NudeNet sees a face, nothing exposed
    assert labels.get("FACE_FEMALE", 0) > 0.5
    assert not any(k.endswith("_EXPOSED") and v >= 0.5 for k, v in labels.items())


def test_rows_carry_name_and_version_and_skip_undecoded_images(loaded):
    dets = [loaded[D.NUDENET], loaded[D.HAAR_FACE]]
    tbl = D.detect_images(dets, ["a" * 64, "b" * 64, "c" * 64],
                          [skimage.data.astronaut(), None, np.zeros((64, 64), np.uint8)])
    assert tbl.schema == D.DETECTIONS_SCHEMA
    rows = tbl.to_pylist()
    assert [(r["sha256"][0], r["detector"]) for r in rows] == [
        ("a", D.NUDENET), ("a", D.HAAR_FACE), ("c", D.NUDENET), ("c", D.HAAR_FACE)]
    assert all(r["status"] == "ok" for r in rows)
    assert rows[1]["n_detections"] == 1 and rows[3]["n_detections"] == 0
    assert rows[0]["detector_version"].startswith("nudenet ") and "sha256:" in rows[0]["detector_version"]
    assert rows[1]["detector_version"].startswith("opencv 4.")


def test_a_failing_detector_is_an_error_row():
    class Broken:
        name, version = "broken", "0"

        def detect(self, rgb):
            raise RuntimeError("boom")

    rows = D.detect_images([Broken()], ["a" * 64], [np.zeros((8, 8, 3), np.uint8)]).to_pylist()
    assert rows[0]["status"] == "error" and "boom" in rows[0]["message"] and rows[0]["n_detections"] is None


def test_names_and_missing_extra(monkeypatch):
    assert D.parse_names("all") == D.ALL_DETECTORS
    assert D.parse_names("faces") == (D.HAAR_FACE,)
    assert D.parse_names(["opencv-haar-face", "nudenet"]) == (D.NUDENET, D.HAAR_FACE)
    assert D.parse_names(None) == ()
    with pytest.raises(UnusableInput, match="unknown detector"):
        D.parse_names("watermark")
    monkeypatch.setattr(D, "available", lambda name: name != D.NUDENET)
    with pytest.raises(UnusableInput, match=r"nudenet requested but not installed: pip install 'editlens\[detectors\]'"):
        D.load_detectors("all")


def test_box_encoding_round_trip():
    s, share = D.encode_boxes([(10, 10, 10, 10), (0, 0, 50, 100)], 100, 200)
    assert s == "0,0,500,500;100,50,200,100"
    assert share == pytest.approx(50 * 100 / (100 * 200))
    assert D.decode_boxes(s)[0] == (0.0, 0.0, 0.5, 0.5)
    assert D.encode_boxes([], 10, 10) == ("", 0.0)


# ---------------------------------------------------------------------------------------------------------
# in the embed job: the same decoded images, one row per content and detector


def _embed_cfg(wh, **kw):
    from editlens.embeddings.main import EmbedConfig

    base = {"warehouse": wh, "allow_random_weights": True, "shard_size": 4, "workers": 0, "threads": 1,
            "progress": False, "batch_size": 3}
    base.update(kw)
    return EmbedConfig(**base)


def _tables(wh, name):
    import duckdb

    return duckdb.sql(f"select * from read_parquet('{wh.table_glob(name)}')").df() if wh.has_table(name) else None


def test_embed_job_runs_the_detectors_on_its_decoded_images(tmp_path):
    from PIL import Image

    from editlens.embeddings.main import run_embed
    from embed_warehouses import build_warehouse

    info = build_warehouse(tmp_path)
    photo = tmp_path / "data" / "images" / "a1.jpg"
    Image.fromarray(skimage.data.astronaut()).save(photo, "JPEG", quality=92)  # edit a0 -> a1 adds a person
    wh = info["warehouse"]
    # embedded first without detectors: the detector run plans the decoded images again, only for the detectors
    run_embed(_embed_cfg(wh, images_only=True))
    assert not wh.has_table("image_detections")
    s = run_embed(_embed_cfg(wh, detectors=("all",)))
    det = _tables(wh, "image_detections")
    facts = _tables(wh, "image_facts")
    ok = set(facts.loc[facts["status"] == "ok", "sha256"])
    assert s.detections_written == len(det) == 2 * len(ok)
    assert set(det["sha256"]) == ok  # missing, truncated and unsupported images have no row
    assert det.groupby(["sha256", "detector"]).size().max() == 1
    assert (det["status"] == "ok").all()
    face = det[det["detector"] == D.HAAR_FACE].set_index("sha256")["n_detections"]
    photo_sha = facts.loc[facts["image_id"] == info["ids"]["a1.jpg"], "sha256"].iloc[0]
    assert face[photo_sha] == 1
    assert (face.drop(photo_sha) == 0).all()  # drawn circles and squares: no face
    (x0, y0, x1, y1), = D.decode_boxes(det[(det["sha256"] == photo_sha) & (det["detector"] == D.HAAR_FACE)]
                                       ["boxes"].iloc[0])
    assert 0.35 < (x0 + x1) / 2 < 0.55 and 0.15 < (y0 + y1) / 2 < 0.35
    assert det["detector_version"].str.contains("sha256:").all()
    # a rerun finds nothing to do
    again = run_embed(_embed_cfg(wh, detectors=("all",)))
    assert again.images_planned == 0 and again.detections_written == 0
    assert len(_tables(wh, "image_detections")) == len(det)


def test_embed_job_asks_for_the_extra(tmp_path, monkeypatch):
    from editlens.contract.errors import UnusableInput
    from editlens.embeddings.main import run_embed
    from embed_warehouses import build_warehouse

    wh = build_warehouse(tmp_path)["warehouse"]
    monkeypatch.setattr(D, "available", lambda name: False)
    with pytest.raises(UnusableInput, match=r"pip install 'editlens\[detectors\]'"):
        run_embed(_embed_cfg(wh, detectors=("faces",)))
    assert not wh.has_table("image_facts")  # stopped before any work


# the detectors option never changes the model input (nor the embedding under its model key)


class _SeenShapes:
    """A stand-in DetectStage: records the shape of each image handed to the detectors."""

    min_side = D.DETECT_MIN_SIDE

    def __init__(self):
        self.shapes = []

    def collector(self):
        outer = self

        class _C:
            def add(self, sha, rgb):
                outer.shapes.append(rgb.shape)

            def table(self):
                return None

        return _C()


@pytest.mark.parametrize("simplejpeg", [True, False], ids=["dct-scale", "pillow-draft"])
def test_model_input_is_the_same_with_and_without_detectors(tmp_path, monkeypatch, simplejpeg):
    from PIL import Image

    from editlens.embeddings import imageio

    if not simplejpeg:
        monkeypatch.setattr(imageio, "_simplejpeg", None)
    big = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((1024, 768)))
    Image.fromarray(big).save(tmp_path / "a.jpg", "JPEG", quality=92)
    Image.fromarray(big[:300, :400]).save(tmp_path / "b.jpg", "JPEG", quality=92)  # small: one decode serves both
    Image.fromarray(big).save(tmp_path / "c.png")
    recs = [{"image_id": n, "root": str(tmp_path), "path": n} for n in ("a.jpg", "b.jpg", "c.png")]
    pp = imageio.Preprocess(size=224)
    plain = imageio.process_batch(recs, pp)
    stage = _SeenShapes()
    with_det = imageio.process_batch(recs, pp, detect=stage)
    assert plain.ok == with_det.ok == [0, 1, 2]
    assert np.array_equal(plain.pixels, with_det.pixels)  # identical model inputs: cosine 1
    assert plain.facts == with_det.facts
    a, b, c = stage.shapes
    assert min(a[:2]) >= D.DETECT_MIN_SIDE and max(a[:2]) < 1024  # its own DCT-scaled decode, not full size
    assert b[:2] == (300, 400) and c[:2] == (768, 1024)
