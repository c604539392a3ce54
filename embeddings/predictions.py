"""The prediction stage of `editlens embed`: protocol scores of editing models' outputs (`predictions`, written by
`editlens predictions`) under the embedding model of the run (reader: pending predictions with their edit's
reference images and captions -> mapper: read and decode each output once, pixel scores, CLIP embeddings ->
writer: one atomic `prediction_scores` file per chunk).

Protocols (formats.md section 3; E normalised embeddings of this run's model, P the output):
  magicbrush (the edit has a ground-truth target T; MagicBrush's evaluation):
    l1      mean |P' - T| over every value of [0, 1] RGB, P' = P resized to T's size with Pillow's default filter
    l2      mean (P' - T)^2 over the same values (MagicBrush calls it L2)
    clip_i  cos(E_I(P), E_I(T))
    clip_t  cos(E_I(P), E_T(local description)); the target caption where the benchmark ships no local one
  emu-edit (no target: Emu Edit test set, ImgEdit-Bench; Emu Edit's evaluation, against the source S):
    l1, l2, clip_i  as above with S in place of T
    clip_t  cos(E_I(P), E_T(output caption))
    directional_caption  cos(E_I(P) - E_I(S), E_T(output caption) - E_T(input caption))
  dino      cos of DINO ViT-S/16 CLS embeddings of P and the reference, only when DINO weights are given
            (`embed --dino-weights FILE`, embeddings/dino.py); null otherwise.
Outputs and references are decoded in full (no JPEG DCT scaling) and go through the model's own preprocessing,
the same for both; an output shared by two settings (MagicBrush turn 1) is decoded once.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from PIL import Image

from editlens.contract.locations import ImageLocation, ImageUnavailable
from editlens.contract.tables import PREDICTION_SCHEMAS, PREDICTION_SCORES, PREDICTIONS
from editlens.embeddings.imageio import _classify_decode_error, _message
from editlens.warehouse import Warehouse, atomic_write_table

SCHEMA = PREDICTION_SCHEMAS[PREDICTION_SCORES]
LOC = ("location_kind", "root", "path", "row_group", "row", "column")
MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb limit


def _source(wh: Warehouse, table: str, schema: pa.Schema | None = None) -> str:
    if wh.has_table(table):
        return f"read_parquet('{wh.table_glob(table)}', union_by_name = true)"
    from editlens.embeddings.manifest import _duck_type

    cols = ", ".join(f"cast(null as {_duck_type(f.type)}) as \"{f.name}\"" for f in schema)
    return f"(select {cols} where false)"


def pending_query(wh: Warehouse, key: str) -> str:
    """Predictions with an output (`ok`) not yet scored under model `key` in their run, with the edit's source
    and target locations and captions, ordered so that predictions sharing a reference are neighbours."""
    loc = ", ".join(f'any_value(i."{c}") as "{c}"' for c in LOC)
    return f"""
        with preds as (
            select * from {_source(wh, PREDICTIONS, PREDICTION_SCHEMAS[PREDICTIONS])}
            where status = 'ok' and edit_id is not null
        ),
        done as (
            select distinct prediction_id, predictions_run_id
            from {_source(wh, PREDICTION_SCORES, SCHEMA)} where model_key = '{key}'
        ),
        pending as (select * from preds anti join done using (prediction_id, predictions_run_id)),
        edits as (
            select edit_id, any_value(source_image_id) as s_id, any_value(target_image_id) as t_id,
                   any_value(source_caption) as s_cap, any_value(target_caption) as t_cap,
                   any_value(json_extract_string(extra, '$.local_description')) as local_cap
            from read_parquet('{wh.table_glob('edits')}', union_by_name = true)
            where edit_id in (select edit_id from pending) group by edit_id
        ),
        imgs as (
            select i.image_id, {loc}, bool_or(i."exists" is not false) as present
            from read_parquet('{wh.table_glob('images')}', union_by_name = true) as i
            where i.image_id in (select s_id from edits union select t_id from edits) group by i.image_id
        )
        select p.prediction_id, p.predictions_run_id,
               {", ".join(f'p."{c}" as "p_{c}"' for c in LOC)},
               e.s_id, e.t_id, e.s_cap, e.t_cap, e.local_cap,
               {", ".join(f's."{c}" as "s_{c}"' for c in LOC)}, s.present as s_present,
               {", ".join(f't."{c}" as "t_{c}"' for c in LOC)}, t.present as t_present
        from pending as p
        join edits as e using (edit_id)
        left join imgs as s on s.image_id = e.s_id
        left join imgs as t on t.image_id = e.t_id
        order by coalesce(e.t_id, e.s_id), p.prediction_id
    """


@dataclass
class Decoded:
    """One image decoded once: RGB image, its model input, sha256 and status."""

    status: str
    message: str | None = None
    image: Image.Image | None = None
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def decode(loc: ImageLocation, present: bool = True) -> Decoded:
    """Read and decode one image (RGB, as MagicBrush's `Image.open(...).convert('RGB')`)."""
    if not present:
        return Decoded("missing", "ingest found no file at this location")
    try:
        data = loc.read_bytes()
    except ImageUnavailable as exc:
        return Decoded("missing", str(exc))
    sha = hashlib.sha256(data).hexdigest()
    try:
        img = Image.open(io.BytesIO(data))
        if img.size[0] * img.size[1] > MAX_PIXELS:
            return Decoded("too_large", f"{img.size[0]}x{img.size[1]}", sha256=sha)
        img = img.convert("RGB")
        img.load()
    except Exception as exc:  # noqa: BLE001 - an unreadable output is a status, never a crash
        return Decoded(_classify_decode_error(exc), _message(exc), sha256=sha)
    return Decoded("ok", image=img, sha256=sha)


def pixel_distances(pred: Image.Image, ref: Image.Image) -> tuple[float, float]:
    """MagicBrush's L1 and "L2": the prediction resized to the reference's size with Pillow's default filter,
    both as [0, 1] RGB, mean absolute / mean squared difference over every value."""
    p = pred if pred.size == ref.size else pred.resize(ref.size)
    a = np.asarray(p, dtype=np.float64) / 255.0
    b = np.asarray(ref, dtype=np.float64) / 255.0
    d = a - b
    return float(np.abs(d).mean()), float((d * d).mean())


def model_input(pp, img: Image.Image) -> np.ndarray:
    """The model's input for an RGB image, as the image stage makes it (uint8 (3, s, s))."""
    if pp.tensor_resize():
        return np.asarray(pp.model_pixels(np.array(img, dtype=np.uint8)))
    return pp.to_model_input(img)


def _loc(row: dict, prefix: str) -> ImageLocation:
    return ImageLocation.from_row({c: row[f"{prefix}_{c}"] for c in LOC})


def _cos(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None:
        return None
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-6 or nb < 1e-6:
        return None
    return float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))


def score_chunk(rows: list[dict], encoder, spec, dino=None) -> pa.Table:
    """One chunk of pending predictions -> `prediction_scores` rows. Each distinct output location and each
    distinct reference image is decoded and embedded once."""
    pp = spec.preprocess
    outs: dict[tuple, Decoded] = {}
    refs: dict[str, Decoded] = {}
    for r in rows:
        k = tuple(r[f"p_{c}"] for c in LOC)
        if k not in outs:
            outs[k] = decode(_loc(r, "p"))
        for prefix in ("t", "s"):
            iid = r[f"{prefix}_id"]
            if iid is None or iid in refs or (prefix == "s" and r["t_id"] is not None):
                continue  # the source is read only where it is the reference (no target)
            refs[iid] = decode(_loc(r, prefix), bool(r[f"{prefix}_present"])) if r[f"{prefix}_path"] else \
                Decoded("missing", "no images row")
    okeys = [k for k, d in outs.items() if d.ok]
    rkeys = [k for k, d in refs.items() if d.ok]
    emb = encoder.images(np.stack([model_input(pp, outs[k].image) for k in okeys] +
                                  [model_input(pp, refs[k].image) for k in rkeys])) if okeys or rkeys else None
    oemb = {k: emb[i] for i, k in enumerate(okeys)}
    remb = {k: emb[len(okeys) + i] for i, k in enumerate(rkeys)}
    dv: dict = {}
    if dino is not None:
        dk = [("o", k) for k in okeys] + [("r", k) for k in rkeys]
        de = dino.embed([outs[k].image for k in okeys] + [refs[k].image for k in rkeys])
        dv = {k: de[i] for i, k in enumerate(dk)}
    texts = sorted({t for r in rows for t in (r["s_cap"], r["t_cap"], r["local_cap"]) if t and t.strip()})
    tv = dict(zip(texts, encoder.texts(texts))) if texts else {}

    out = {f.name: [] for f in SCHEMA}
    for r in rows:
        o = outs[tuple(r[f"p_{c}"] for c in LOC)]
        has_target = r["t_id"] is not None
        ref_id = r["t_id"] if has_target else r["s_id"]
        ref = refs.get(ref_id) if ref_id else None
        why = []
        l1 = l2 = ci = ct = dirc = dn = None
        if not o.ok:
            why.append(f"output_{o.status}")
        if ref is None or not ref.ok:
            why.append(f"{'target' if has_target else 'source'}_image_{ref.status if ref else 'missing'}")
        cap = (r["local_cap"] or r["t_cap"]) if has_target else r["t_cap"]
        cap = cap if cap and cap.strip() else None
        pe = oemb.get(tuple(r[f"p_{c}"] for c in LOC)) if o.ok else None
        if o.ok and ref is not None and ref.ok:
            l1, l2 = pixel_distances(o.image, ref.image)
            ci = _cos(pe, remb[ref_id])
            if dino is not None:
                dn = _cos(dv[("o", tuple(r[f"p_{c}"] for c in LOC))], dv[("r", ref_id)])
        if pe is not None:
            if cap is None:
                why.append("no_local_caption" if has_target else "no_output_caption")
            else:
                ct = _cos(pe, tv[cap])
        if not has_target and pe is not None and ref is not None and ref.ok:
            s_cap = r["s_cap"] if r["s_cap"] and r["s_cap"].strip() else None
            if cap is None or s_cap is None:
                why.append("no_source_caption" if cap else "no_output_caption")
            elif cap == s_cap:
                why.append("identical_captions")
            else:
                dirc = _cos(pe - remb[ref_id], tv[cap] - tv[s_cap])
                if dirc is None:
                    why.append("identical_image_embeddings")
        vals = {
            "prediction_id": r["prediction_id"], "predictions_run_id": r["predictions_run_id"],
            "model_key": spec.key, "model_name": spec.name, "pretrained": spec.pretrained,
            "preprocess": spec.preprocess_str, "protocol": "magicbrush" if has_target else "emu-edit",
            "status": o.status, "status_message": o.message, "output_sha256": o.sha256,
            "output_width": o.image.size[0] if o.ok else None, "output_height": o.image.size[1] if o.ok else None,
            "l1": l1, "l2": l2, "clip_i": ci, "clip_t": ct, "directional_caption": dirc, "dino": dn,
            "dino_model": dino.name if dino is not None else None,
            "null_reason": ";".join(dict.fromkeys(why)) or None,
        }
        for k, v in vals.items():
            out[k].append(v)
    return pa.Table.from_pydict(out, schema=SCHEMA)


def run_prediction_stage(con, wh: Warehouse, encoder, spec, chunk: int = 256, bar=None, dino=None) -> int:
    """Score every pending prediction under this model; returns how many rows were written."""
    if not wh.has_table(PREDICTIONS):
        return 0
    rows = con.execute(pending_query(wh, spec.key)).to_arrow_table().to_pylist()
    n = 0
    for i in range(0, len(rows), chunk):
        part = rows[i:i + chunk]
        tbl = score_chunk(part, encoder, spec, dino)
        ids = "".join(r["prediction_id"] + r["predictions_run_id"] for r in part)
        name = f"{spec.key[:8]}-{part[0]['prediction_id']}-{hashlib.sha1(ids.encode()).hexdigest()[:12]}"
        atomic_write_table(tbl, wh.shard_path(PREDICTION_SCORES, name))
        n += tbl.num_rows
        if bar is not None:
            bar.update(tbl.num_rows)
    return n
