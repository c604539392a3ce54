"""Dedicated image detectors, an optional stage of the embed job (`pip install 'editlens[detectors]'`).

Each detector's model ships inside its package, so nothing is downloaded at run time:

- ``nudenet``: NudeNet's ONNX detector (``320n.onnx`` in the nudenet wheel); per image the highest score of each
  class it detected (NudeNet reports boxes from a score of 0.2), the number of boxes, the largest box's share of
  the image and the boxes;
- ``opencv-haar-face``: OpenCV's frontal-face Haar cascade (``cv2.data.haarcascades``, in the opencv wheel up to
  4.x; OpenCV 5 dropped the cascades from its wheel); per image the face count, the largest face's share of the
  image and the face boxes.

No maintained detector of watermarks or text overlays ships its model inside a package (OpenCV's EAST and
contrib text detectors, EasyOCR, PaddleOCR and the LAION watermark classifier all fetch their weights), so there
is none here; watermark removal requests are found in the instructions instead.

A row per image content and detector (`DETECTIONS_SCHEMA`), with the detector's name and version (package
version and model file checksum), like the embedding model key. Boxes are ``x0,y0,x1,y1`` in thousandths of
the image's width and height, largest first, ``;``-separated, at most `MAX_BOXES`. The embed job decodes each
image once and hands the detectors a copy whose long side is at most `DETECT_SIZE` (`detect_input`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa

from editlens.contract.errors import UnusableInput
from editlens.contract.tables import EMBED_SCHEMAS, IMAGE_DETECTIONS

NUDENET = "nudenet"
HAAR_FACE = "opencv-haar-face"
ALL_DETECTORS = (NUDENET, HAAR_FACE)
ALIASES = {"faces": HAAR_FACE, "face": HAAR_FACE, "nudity": NUDENET, "all": None}
INSTALL_HINT = "pip install 'editlens[detectors]'"
DETECT_SIZE = 640  # long side of the copy the detectors see (NudeNet works at 320, the cascade finds faces >= 20 px)
DETECT_MIN_SIDE = 320  # the decode keeps both sides at least this when detectors run (JPEG DCT scaling)
MAX_BOXES = 16
HAAR_FILE = "haarcascade_frontalface_default.xml"

DETECTIONS_SCHEMA = EMBED_SCHEMAS[IMAGE_DETECTIONS]


@dataclass(frozen=True)
class Detection:
    """One detector's result on one image."""

    n_detections: int
    largest_share: float
    boxes: str
    class_scores: tuple[tuple[str, float], ...] = ()


class Detector(Protocol):
    name: str
    version: str

    def detect(self, rgb: np.ndarray) -> Detection: ...


def _sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def encode_boxes(boxes: Sequence[Sequence[float]], width: int, height: int) -> tuple[str, float]:
    """(x, y, w, h) pixel boxes -> (``x0,y0,x1,y1;...`` in thousandths, largest first; largest area share)."""
    if not len(boxes) or width <= 0 or height <= 0:
        return "", 0.0
    b = sorted(((float(x), float(y), float(w), float(h)) for x, y, w, h in boxes), key=lambda r: -r[2] * r[3])
    share = b[0][2] * b[0][3] / (width * height)
    parts = []
    for x, y, w, h in b[:MAX_BOXES]:
        q = (x / width, y / height, (x + w) / width, (y + h) / height)
        parts.append(",".join(str(round(min(max(v, 0.0), 1.0) * 1000)) for v in q))
    return ";".join(parts), float(min(share, 1.0))


def decode_boxes(s: str | None) -> list[tuple[float, float, float, float]]:
    """Inverse of `encode_boxes`: [(x0, y0, x1, y1)] as fractions of width and height."""
    if not s:
        return []
    return [tuple(int(v) / 1000 for v in part.split(",")) for part in s.split(";")]  # type: ignore[misc]


class NudeNetDetector:
    name = NUDENET

    def __init__(self) -> None:
        import nudenet
        from nudenet import NudeDetector

        self._det = NudeDetector()
        model = Path(nudenet.__file__).resolve().parent / "320n.onnx"
        digest = _sha256_file(model)[:12] if model.is_file() else "unknown"
        self.version = f"nudenet {importlib.metadata.version('nudenet')} 320n.onnx sha256:{digest}"

    def detect(self, rgb: np.ndarray) -> Detection:
        h, w = rgb.shape[:2]
        found = self._det.detect(np.ascontiguousarray(rgb[..., ::-1]))  # NudeNet reads OpenCV's BGR order
        best: dict[str, float] = {}
        for d in found:
            best[d["class"]] = max(best.get(d["class"], 0.0), float(d["score"]))
        boxes, share = encode_boxes([d["box"] for d in found], w, h)
        return Detection(len(found), share, boxes, tuple(sorted(best.items())))


class HaarFaceDetector:
    name = HAAR_FACE

    def __init__(self) -> None:
        import cv2

        data = getattr(cv2, "data", None)
        path = Path(data.haarcascades) / HAAR_FILE if data is not None else None
        if path is None or not path.is_file() or not hasattr(cv2, "CascadeClassifier"):
            raise UnusableInput(
                f"detector {HAAR_FACE}: OpenCV {cv2.__version__} ships no Haar cascades (OpenCV 5 dropped them): "
                f"{INSTALL_HINT} installs opencv-python-headless 4.x"
            )
        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(str(path))
        self.version = f"opencv {cv2.__version__} {HAAR_FILE} sha256:{_sha256_file(path)[:12]}"

    def detect(self, rgb: np.ndarray) -> Detection:
        cv2 = self._cv2
        h, w = rgb.shape[:2]
        gray = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY))
        side = max(20, min(h, w) // 25)
        faces = self._cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
        faces = [tuple(f) for f in faces] if len(faces) else []
        boxes, share = encode_boxes(faces, w, h)
        return Detection(len(faces), share, boxes)


_BUILDERS = {NUDENET: (NudeNetDetector, "nudenet"), HAAR_FACE: (HaarFaceDetector, "cv2")}


def parse_names(names: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"all"``, ``"nudenet,faces"`` or a sequence -> detector names in `ALL_DETECTORS` order."""
    if not names:
        return ()
    items = names.split(",") if isinstance(names, str) else list(names)
    out: set[str] = set()
    for raw in items:
        n = raw.strip().lower()
        if not n:
            continue
        if n in ALIASES:
            out.update(ALL_DETECTORS if ALIASES[n] is None else (ALIASES[n],))
        elif n in ALL_DETECTORS:
            out.add(n)
        else:
            raise UnusableInput(f"unknown detector {raw!r}: choose from {', '.join(ALL_DETECTORS)}, faces or all")
    return tuple(n for n in ALL_DETECTORS if n in out)


def available(name: str) -> bool:
    """Whether the package a detector needs is installed (without importing it)."""
    return importlib.util.find_spec(_BUILDERS[name][1]) is not None


def load_detectors(names: str | Sequence[str] | None) -> list[Detector]:
    """The named detectors, loaded once; a missing extra is one clear error (exit code 2), never a silent skip."""
    wanted = parse_names(names)
    missing = [n for n in wanted if not available(n)]
    if missing:
        raise UnusableInput(
            f"detector(s) {', '.join(missing)} requested but not installed: {INSTALL_HINT}"
        )
    return [_BUILDERS[n][0]() for n in wanted]


def detect_input(rgb: np.ndarray, size: int = DETECT_SIZE) -> np.ndarray:
    """The copy the detectors see: the decoded RGB image, box-downscaled so its long side is at most `size`."""
    h, w = rgb.shape[:2]
    if max(h, w) <= size:
        return rgb
    from PIL import Image

    s = size / max(h, w)
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))), Image.BOX))


@dataclass
class DetectStage:
    """The detectors as a stage of the embed job's decode: picklable (DataLoader workers, Ray actors), each
    thread or process loads its own detectors once. `known` holds the sorted uint64 sha256 prefixes of contents
    every named detector already scored (skipped, as embeddings skip embedded contents)."""

    names: tuple[str, ...]
    known: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    min_side: int = DETECT_MIN_SIDE  # JPEGs are decoded at a DCT scale keeping both sides >= this

    def __post_init__(self) -> None:
        self._local = threading.local()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def detectors(self) -> list[Detector]:
        if getattr(self._local, "detectors", None) is None:
            self._local.detectors = load_detectors(self.names)
        return self._local.detectors

    def collector(self) -> _Collector:
        return _Collector(self)

    def is_known(self, sha: str) -> bool:
        if not len(self.known):
            return False
        p = np.uint64(int(sha[:16], 16))
        i = int(np.searchsorted(self.known, p))
        return i < len(self.known) and self.known[i] == p


class _Collector:
    """One batch's detections: each distinct content not yet scored goes through every detector once, as soon
    as it is decoded (only the rows are kept, never the images)."""

    def __init__(self, stage: DetectStage):
        self.stage, self.seen = stage, set()
        self.cols: dict[str, list] = {f.name: [] for f in DETECTIONS_SCHEMA}

    def add(self, sha: str, rgb: np.ndarray) -> None:
        if sha in self.seen or self.stage.is_known(sha):
            return
        self.seen.add(sha)
        _append(self.cols, self.stage.detectors(), sha, detect_input(rgb))

    def table(self) -> pa.Table:
        return pa.Table.from_pydict(self.cols, schema=DETECTIONS_SCHEMA)


def _append(cols: dict[str, list], detectors: Sequence[Detector], sha: str, rgb: np.ndarray) -> None:
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    elif rgb.shape[2] == 4:
        rgb = rgb[..., :3]
    for det in detectors:
        try:
            d, status, msg = det.detect(rgb), "ok", None
        except Exception as e:  # noqa: BLE001 - one image's failure is recorded, the job goes on
            d, status, msg = None, "error", f"{type(e).__name__}: {e}"[:500]
        cols["sha256"].append(sha)
        cols["detector"].append(det.name)
        cols["detector_version"].append(det.version)
        cols["status"].append(status)
        cols["message"].append(msg)
        cols["n_detections"].append(d.n_detections if d else None)
        cols["largest_share"].append(d.largest_share if d else None)
        cols["boxes"].append(d.boxes if d else None)
        cols["class_labels"].append([k for k, _ in d.class_scores] if d else None)
        cols["class_scores"].append([v for _, v in d.class_scores] if d else None)


def detect_images(detectors: Sequence[Detector], shas: Sequence[str],
                  images: Sequence[np.ndarray | None]) -> pa.Table:
    """Rows of `DETECTIONS_SCHEMA` for each (content, detector); images that did not decode (None) get no row
    (their status is in image_facts). A detector error on one image is an `error` row, never a stopped job."""
    cols: dict[str, list] = {f.name: [] for f in DETECTIONS_SCHEMA}
    for sha, rgb in zip(shas, images):
        if rgb is not None:
            _append(cols, detectors, sha, rgb)
    return pa.Table.from_pydict(cols, schema=DETECTIONS_SCHEMA)
