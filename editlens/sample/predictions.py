"""Two demo "editing models" on the sample's held-out edits (its Part-2 edits): each output is the edit's own
target, with defects injected at the model's rate (a strong blur, colour noise, the unedited source, or no output
at all; an edit whose image the sample broke gets no output either), so `editlens demo` fills the model comparison page. Written as a generic mapping file per model
(`edit_id,path`) for `editlens predictions --layout mapping`.

The defects are drawn per edit from a Generator seeded from (seed, model, edit id): the same sample and seed give
the same outputs. A model with the lower rate is the better one by construction.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from editlens.contract.locations import ImageLocation, ImageUnavailable
from editlens.warehouse import Warehouse

HELD_OUT_PART = "part2"
DATASET = "seed-data-edit"
DEFECTS = ("blur", "noise", "source", "missing")


@dataclass(frozen=True)
class DemoModel:
    name: str
    defect_rate: float


DEMO_MODELS = (DemoModel("demo-model-a", 0.15), DemoModel("demo-model-b", 0.45))


@dataclass
class DemoOutputs:
    mappings: dict[str, Path]
    n_edits: int
    defects: dict[str, dict[str, int]]

    def describe(self) -> str:
        return "\n".join(
            f"{name}: {self.n_edits} held-out edits, defects " +
            ", ".join(f"{k} {v}" for k, v in sorted(self.defects[name].items())) + f" ({path})"
            for name, path in self.mappings.items())


def _edits(wh: Warehouse) -> list[dict]:
    import duckdb

    con = duckdb.connect()
    rows = con.execute(f"""
        with e as (
            select edit_id, any_value(source_image_id) as s_id, any_value(target_image_id) as t_id
            from read_parquet('{wh.table_glob('edits')}', union_by_name = true)
            where dataset = ? and part = ? and target_image_id is not null group by edit_id
        ),
        i as (
            select image_id, any_value(location_kind) as location_kind, any_value(root) as root,
                   any_value(path) as path, any_value(row_group) as row_group, any_value("row") as "row",
                   any_value("column") as "column"
            from read_parquet('{wh.table_glob('images')}', union_by_name = true) group by image_id
        )
        select e.edit_id, s.location_kind as s_kind, s.root as s_root, s.path as s_path,
               t.location_kind as t_kind, t.root as t_root, t.path as t_path
        from e join i as s on s.image_id = e.s_id join i as t on t.image_id = e.t_id
        order by e.edit_id""", [DATASET, HELD_OUT_PART]).fetchall()
    con.close()
    cols = ("edit_id", "s_kind", "s_root", "s_path", "t_kind", "t_root", "t_path")
    return [dict(zip(cols, r)) for r in rows]


def _rng(seed: int, model: str, edit_id: str) -> np.random.Generator:
    h = hashlib.sha256(f"{seed}\x1f{model}\x1f{edit_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def _open(kind, root, path) -> Image.Image | None:
    try:
        data = ImageLocation(kind, root, path).read_bytes()
        return Image.open(io.BytesIO(data)).convert("RGB")
    except (ImageUnavailable, OSError):
        return None


def write_demo_outputs(wh: Warehouse, out_dir: Path, seed: int = 0,
                       models: tuple[DemoModel, ...] = DEMO_MODELS) -> DemoOutputs:
    """Write each model's outputs under `out_dir/<model>/` and its mapping file `out_dir/<model>.csv`."""
    edits = _edits(wh)
    out_dir = Path(out_dir)
    result = DemoOutputs({}, len(edits), {})
    for model in models:
        folder = out_dir / model.name
        folder.mkdir(parents=True, exist_ok=True)
        counts = {d: 0 for d in ("none", *DEFECTS, "unreadable_input")}
        rows = []
        for e in edits:
            rng = _rng(seed, model.name, e["edit_id"])
            defect = DEFECTS[int(rng.integers(len(DEFECTS)))] if rng.random() < model.defect_rate else "none"
            counts[defect] += 1
            if defect == "missing":
                continue  # no output: `editlens predictions` counts it missing
            img = _open(e["s_kind"], e["s_root"], e["s_path"]) if defect == "source" else \
                _open(e["t_kind"], e["t_root"], e["t_path"])
            if img is None:  # the sample's own broken images: no output either, counted apart
                counts[defect] -= 1
                counts["unreadable_input"] += 1
                continue
            if defect == "blur":
                img = img.filter(ImageFilter.GaussianBlur(3 + 3 * rng.random()))
            elif defect == "noise":
                a = np.asarray(img, dtype=np.int16) + rng.normal(0, 40, (img.size[1], img.size[0], 3)).astype(np.int16)
                img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
            name = f"{e['edit_id']}.png"
            img.save(folder / name, format="PNG")
            rows.append((e["edit_id"], f"{model.name}/{name}"))
        mapping = out_dir / f"{model.name}.csv"
        with open(mapping, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(("edit_id", "path"))
            w.writerows(rows)
        result.mappings[model.name] = mapping
        result.defects[model.name] = counts
    return result
