"""A MagicBrush test-layout benchmark with real pixels, and model outputs that are known transformations of its
targets (blur at two strengths), for the predictions and protocol-score tests."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

SESSIONS = {"1001": 2, "1002": 2, "1003": 1, "1004": 1}  # img_id -> turns: 6 turns in all
SIZE = 64


def photo(seed: int, size: int = SIZE) -> Image.Image:
    """A crop of a real photo (scikit-image's astronaut), different per seed."""
    from skimage import data

    a = data.astronaut()
    rng = np.random.default_rng(seed)
    y, x = rng.integers(0, a.shape[0] - 200), rng.integers(0, a.shape[1] - 200)
    return Image.fromarray(a[y:y + 200, x:x + 200]).resize((size, size), Image.Resampling.BOX)


def magicbrush_test(base: Path) -> Path:
    """`MagicBrush_test/test/` with edit_sessions.json, descriptions and images/<id>/*.png."""
    root = base / "MagicBrush_test" / "test"
    sessions, gdesc, ldesc = {}, {}, {}
    for n, (sid, turns) in enumerate(SESSIONS.items()):
        d = root / "images" / sid
        d.mkdir(parents=True)
        photo(100 * n).save(d / f"{sid}-input.png")
        sessions[sid], gdesc[sid], ldesc[sid] = [], {f"{sid}-input.png": f"scene {sid}"}, {}
        prev = f"{sid}-input.png"
        for k in range(1, turns + 1):
            photo(100 * n + k).save(d / f"{sid}-output{k}.png")
            Image.new("L", (SIZE, SIZE), 255).save(d / f"{sid}-mask{k}.png")
            instr = "add a red hat" if k == 1 else "make it black and white"
            sessions[sid].append({"input": prev, "mask": f"{sid}-mask{k}.png", "output": f"{sid}-output{k}.png",
                                  "instruction": instr})
            gdesc[sid][f"{sid}-output{k}.png"] = f"scene {sid} after turn {k}"
            ldesc[sid][f"{sid}-output{k}.png"] = "a red hat" if k == 1 else "black and white"
            prev = f"{sid}-output{k}.png"
    (root / "edit_sessions.json").write_text(json.dumps(sessions))
    (root / "global_descriptions.json").write_text(json.dumps(gdesc))
    (root / "local_descriptions.json").write_text(json.dumps(ldesc))
    return root


def target(root: Path, sid: str, k: int) -> Image.Image:
    return Image.open(root / "images" / sid / f"{sid}-output{k}.png").convert("RGB")


def blurred_outputs(root: Path, out: Path, radius: float, skip: set = frozenset(), size: int | None = None) -> Path:
    """MagicBrush's output layout: `<id>/<id>_1.png`, `_inde_<k>.png`, `_iter_<k>.png`, each the target blurred
    by `radius` (optionally saved at another size); `skip` holds (img_id, turn, setting) left out."""
    for sid, turns in SESSIONS.items():
        (out / sid).mkdir(parents=True, exist_ok=True)
        for k in range(1, turns + 1):
            img = target(root, sid, k).filter(ImageFilter.GaussianBlur(radius)) if radius else target(root, sid, k)
            if size:
                img = img.resize((size, size))
            names = [("both", f"{sid}_1.png")] if k == 1 else [("inde", f"{sid}_inde_{k}.png"),
                                                                 ("iter", f"{sid}_iter_{k}.png")]
            for setting, name in names:
                if (sid, k, setting) not in skip:
                    img.save(out / sid / name)
    return out


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
