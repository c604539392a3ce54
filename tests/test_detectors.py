"""Dedicated detectors on real pixels: a real photo with a face (scikit-image's astronaut, shipped in its wheel)."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from embeddings import detectors as D
from embeddings.errors import EmbedInputError


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
    with pytest.raises(EmbedInputError, match="unknown detector"):
        D.parse_names("watermark")
    monkeypatch.setattr(D, "available", lambda name: name != D.NUDENET)
    with pytest.raises(EmbedInputError, match=r"nudenet requested but not installed: pip install 'editlens\[detectors\]'"):
        D.load_detectors("all")


def test_box_encoding_round_trip():
    s, share = D.encode_boxes([(10, 10, 10, 10), (0, 0, 50, 100)], 100, 200)
    assert s == "0,0,500,500;100,50,200,100"
    assert share == pytest.approx(50 * 100 / (100 * 200))
    assert D.decode_boxes(s)[0] == (0.0, 0.0, 0.5, 0.5)
    assert D.encode_boxes([], 10, 10) == ("", 0.0)
