"""Fixture marts for the dashboards' tests, the browser test and the benchmark fallback.

``write_fixture_warehouse(root, n_edits, seed)`` writes a warehouse folder the app can open:

    root/marts/<mart>.parquet         edits, edit_labels, edit_quality_flags, dataset_scorecard,
                                      instruction_type_stats, label_cooccurrence, score_histograms, bias_slices,
                                      attribute_shifts, safety_slices, safety_flagged_edits
    root/parquet/images/part-0.parquet  the image lookup (files and Parquet-embedded bytes)
    root/media/...                    a small pool of PNG files and one Parquet file with embedded images

The columns follow the dbt marts (models/marts/*.sql), the subset the dashboards read. Everything is vectorised with
numpy so the same code writes the full-scale (3.77M edits) benchmark marts. Aggregate marts are derived from the
per-edit marts with DuckDB so they are always consistent with them (tests compare rendered numbers against
values recomputed from the per-edit marts).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from editlens.warehouse import atomic_write_table
from ingest.tables import IMAGES

_IMAGE_COLUMNS = ("image_id", "location_kind", "root", "path", "row_group", "row", "column", "exists")

# dataset, part, split, share of edits, multi-turn, image storage
PARTS: list[tuple[str, str, str, float, bool, str]] = [
    ("seed-data-edit", "part1-openimages", "train", 0.40, False, "file"),
    ("seed-data-edit", "part1-unsplash", "train", 0.30, False, "file"),
    ("seed-data-edit", "part2", "train", 0.05, False, "file"),
    ("seed-data-edit", "part3", "train", 0.10, True, "file"),
    ("instructpix2pix", "clip-filtered", "train", 0.08, False, "parquet"),
    ("magicbrush", "magicbrush", "train", 0.04, True, "parquet"),
    ("hq-edit", "hq-edit", "train", 0.03, False, "parquet"),
]

LABELS = [
    "object-add",
    "object-remove",
    "object-replace",
    "object-recolor",
    "overall-stylize",
    "background-replace",
    "object-adjustment",
    "text-add",
]
OBJECTS = ["cat", "dog", "tree", "car", "house", "boat", "hat", "cup", "bicycle", "lamp"]
COLORS = ["red", "blue", "green", "yellow", "purple"]
STYLES = ["watercolor", "pixel-art", "oil painting", "sketch"]
# (word, demographic group, subgroup)
PEOPLE = [
    ("woman", "gender", "female"),
    ("man", "gender", "male"),
    ("old man", "age", "older"),
    ("young girl", "gender", "female"),
    ("boy", "gender", "male"),
    ("child", "age", "child"),
]
QUALITY_FLAGS = [
    "is_noop",
    "is_misaligned",
    "is_full_regeneration",
    "has_broken_image",
    "is_duplicate_pair",
    "has_near_duplicate_source",
    "is_chain_break",
    "has_content_overlap",
]
SAFETY_CATEGORIES = ["sexual", "violence", "weapons", "drugs", "self_harm", "hate"]
CONCEPTS = [("age", "older"), ("age", "younger"), ("presentation", "feminine"), ("presentation", "masculine")]
POOL = 24  # distinct pictures drawn; image ids cycle through them


@dataclass(frozen=True)
class FixtureSummary:
    root: Path
    n_edits: int
    n_images: int


def _hex16(prefix: str, idx: np.ndarray) -> np.ndarray:
    # stable, cheap 16-hex ids (not sha1 for speed at full scale; the format is what matters)
    return np.char.add(prefix, np.char.zfill(np.char.mod("%x", idx), 16 - len(prefix)))


def _picture(i: int, size: int = 96) -> bytes:
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(i)
    bg = tuple(int(x) for x in rng.integers(40, 220, 3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    for _ in range(3):
        x0, y0 = (int(v) for v in rng.integers(0, size // 2, 2))
        w, h = (int(v) for v in rng.integers(size // 5, size // 2, 2))
        col = tuple(int(x) for x in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            d.ellipse([x0, y0, x0 + w, y0 + h], fill=col)
        else:
            d.rectangle([x0, y0, x0 + w, y0 + h], fill=col)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _write_images(root: Path) -> pa.Table:
    """A pool of POOL pictures per storage kind: PNG files, and one Parquet file with embedded bytes."""
    media = root / "media"
    (media / "files").mkdir(parents=True, exist_ok=True)
    rows = []
    blobs = [_picture(i) for i in range(POOL)]
    for i, b in enumerate(blobs):
        rel = f"files/img_{i:03d}.png"
        (media / rel).write_bytes(b)
        rows.append(
            {
                "image_id": f"f{i:015x}",
                "location_kind": "file",
                "root": str(media),
                "path": rel,
                "row_group": None,
                "row": None,
                "column": None,
                "exists": True,
            }
        )
    # one file is announced but missing on disk (a normal condition the app must survive)
    rows.append(
        {
            "image_id": f"f{POOL:015x}",
            "location_kind": "file",
            "root": str(media),
            "path": "files/missing.png",
            "row_group": None,
            "row": None,
            "column": None,
            "exists": False,
        }
    )
    emb = pa.table(
        {
            "id": pa.array(list(range(POOL)), pa.int64()),
            "image": pa.array(
                [{"bytes": b, "path": f"{i}.png"} for i, b in enumerate(blobs)],
                pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
            ),
        }
    )
    pq.write_table(emb, media / "embedded.parquet", row_group_size=8)
    for i in range(POOL):
        rows.append(
            {
                "image_id": f"a{i:015x}",
                "location_kind": "parquet",
                "root": str(media),
                "path": "embedded.parquet",
                "row_group": i // 8,
                "row": i % 8,
                "column": "image.bytes",
                "exists": True,
            }
        )
    t = pa.Table.from_pylist(rows, schema=pa.schema([IMAGES.field(n) for n in _IMAGE_COLUMNS]))
    # the image_locations mart's names (models/marts/image_locations.sql)
    return t.rename_columns(
        ["image_id", "location_kind", "root", "path", "row_group", "parquet_row", "parquet_column", "file_exists"]
    )


def _thresholds() -> pa.Table:
    return pa.table(
        {
            "name": ["ip2p_clip_i", "ip2p_directional", "ip2p_clip_t"],
            "value": [0.7, 0.2, 0.2],
            "description": ["", "", ""],
        }
    )


def _instructions(rng: np.random.Generator, lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Instruction text per edit for its primary label; also the index into PEOPLE mentioned (-1: none)."""
    n = len(lab)
    obj = np.array(OBJECTS)[rng.integers(0, len(OBJECTS), n)]
    col = np.array(COLORS)[rng.integers(0, len(COLORS), n)]
    sty = np.array(STYLES)[rng.integers(0, len(STYLES), n)]
    who = rng.integers(0, len(PEOPLE), n)
    ppl = np.array([p[0] for p in PEOPLE])[who]
    person = rng.random(n) < 0.25
    thing = np.where(person, np.char.add("the ", ppl), np.char.add("the ", obj))
    out = np.empty(n, dtype=object)
    templates = {
        "object-add": lambda m: np.char.add(np.char.add("add a ", obj[m]), " next to it"),
        "object-remove": lambda m: np.char.add("remove ", thing[m]),
        "object-replace": lambda m: np.char.add(
            np.char.add(np.char.add("replace ", thing[m]), " with a "), obj[m]
        ),
        "object-recolor": lambda m: np.char.add(np.char.add(np.char.add("make ", thing[m]), " "), col[m]),
        "overall-stylize": lambda m: np.char.add(np.char.add("turn it into a ", sty[m]), " picture"),
        "background-replace": lambda m: np.char.add(
            "change the background to a ", np.char.add(col[m], " wall")
        ),
        "object-adjustment": lambda m: np.char.add("make ", np.char.add(thing[m], " bigger")),
        "text-add": lambda m: np.char.add("write 'hello' on the ", obj[m]),
    }
    for name, fn in templates.items():
        m = lab == name
        if m.any():
            out[m] = fn(m)
    uses_thing = np.isin(lab, ["object-remove", "object-replace", "object-recolor", "object-adjustment"])
    mention = np.where(person & uses_thing, who, -1)
    return out, mention


def _ids(prefix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    if len(idx) == 0:
        return np.array([], dtype=object)
    return np.char.add(prefix.astype(str), np.char.zfill(np.char.mod("%x", idx), 15)).astype(object)


def _lists(values: np.ndarray, mask: np.ndarray) -> pa.Array:
    """list<string> per row: [value] where mask, [] elsewhere."""
    offsets = np.r_[0, np.cumsum(mask.astype(np.int32))].astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values[mask].astype(object), pa.string()))


def make_fixture_tables(n_edits: int = 240, seed: int = 0) -> dict[str, pa.Table]:
    """Per-edit marts as Arrow tables (edits, edit_labels, edit_quality_flags) plus private `_facts`
    (per-edit safety categories of the images, demographic mentions, attribute shifts) for the aggregates."""
    rng = np.random.default_rng(seed)
    n = int(n_edits)
    shares = np.array([p[3] for p in PARTS])
    counts = np.floor(shares / shares.sum() * n).astype(int)
    counts[0] += n - counts.sum()
    part_idx = np.repeat(np.arange(len(PARTS)), counts)
    dataset = np.array([p[0] for p in PARTS], dtype=object)[part_idx]
    part = np.array([p[1] for p in PARTS], dtype=object)[part_idx]
    split = np.array([p[2] for p in PARTS], dtype=object)[part_idx]
    multi = np.array([p[4] for p in PARTS])[part_idx]
    kind = np.array([p[5] for p in PARTS], dtype=object)[part_idx]
    idx = np.arange(n)
    edit_id = _hex16("e", idx).astype(object)

    # sessions of 4 turns for multi-turn parts
    turn = np.ones(n, dtype=np.int32)
    session = np.full(n, None, dtype=object)
    if multi.any():
        mi = np.flatnonzero(multi)
        start = np.r_[0, np.flatnonzero(np.diff(part_idx[mi]) != 0) + 1]
        local = np.arange(len(mi)) - np.repeat(start, np.diff(np.r_[start, len(mi)]))
        turn[mi] = (local % 4 + 1).astype(np.int32)
        session[mi] = np.char.add(np.char.add(part[mi].astype(str), "-s"), (local // 4).astype(str)).astype(
            object
        )

    primary = np.array(LABELS)[rng.integers(0, len(LABELS), n)]
    instruction, mention = _instructions(rng, primary)

    # scores
    clip_i = np.clip(rng.beta(8, 2, n), 0, 1)
    clip_i[5::37] = 0.999  # a few changes below the model's resolution (not judged for alignment)
    directional = np.clip(rng.normal(0.2, 0.1, n), -1, 1)
    clip_t = np.clip(rng.normal(0.27, 0.04, n), 0, 1)
    clip_t_instr = np.clip(rng.normal(0.22, 0.04, n), 0, 1)
    dir_instr = np.clip(rng.normal(0.08, 0.05, n), -1, 1)
    pixel_l1 = np.clip(rng.gamma(2.0, 0.04, n), 0, 1)
    changed = np.clip(1 - clip_i + rng.normal(0, 0.05, n), 0, 1)
    phash = rng.integers(0, 40, n).astype(np.int32)
    passes = (clip_i >= 0.7) & (directional >= 0.2) & (clip_t >= 0.2)

    # images: pool ids per storage kind; targets differ from sources; turn k's source is turn k-1's target
    src_i = rng.integers(0, POOL, n)
    tgt_i = (src_i + 1 + rng.integers(0, POOL - 1, n)) % POOL
    prefix = np.where(kind == "file", "f", "a")  # 16 hex digits, like real ids
    src_id = _ids(prefix, src_i)
    tgt_id = _ids(prefix, tgt_i)
    chain = np.flatnonzero(turn > 1)
    src_id[chain] = tgt_id[chain - 1]
    chain_break = multi & (turn > 1) & (rng.random(n) < 0.1)
    cb = np.flatnonzero(chain_break)
    src_id[cb] = _ids(prefix[cb], (src_i[cb] + 3) % POOL)
    status_src = np.where(rng.random(n) < 0.01, "missing", "ok").astype(object)
    status_tgt = np.where(rng.random(n) < 0.01, "truncated", "ok").astype(object)

    caption = np.char.add("a photo of a ", np.array(OBJECTS)[src_i % len(OBJECTS)]).astype(object)
    tcaption = np.char.add("a picture of a ", np.array(OBJECTS)[tgt_i % len(OBJECTS)]).astype(object)
    provided = part == "part2"

    edits = pa.table(
        {
            "edit_id": pa.array(edit_id, pa.string()),
            "dataset": pa.array(dataset, pa.string()),
            "part": pa.array(part, pa.string()),
            "split": pa.array(split, pa.string()),
            "session_id": pa.array(session, pa.string()),
            "turn_index": pa.array(turn, pa.int32()),
            "source_image_id": pa.array(src_id, pa.string()),
            "target_image_id": pa.array(tgt_id, pa.string()),
            "mask_image_id": pa.nulls(n, pa.string()),
            "instruction": pa.array(instruction, pa.string()),
            "source_caption": pa.array(caption, pa.string()),
            "target_caption": pa.array(tcaption, pa.string()),
            "n_words": pa.array(np.char.count(instruction.astype(str), " ").astype(np.int32) + 1),
            "derived_labels": _lists(primary, np.ones(n, bool)),
            "provided_labels": _lists(primary, provided),
            "score_model_key": pa.array(np.full(n, "0123456789abcdef", dtype=object), pa.string()),
            "clip_i": pa.array(clip_i.astype(np.float32)),
            "clip_t_target_caption": pa.array(clip_t.astype(np.float32)),
            "clip_t_instruction": pa.array(clip_t_instr.astype(np.float32)),
            "directional_caption": pa.array(directional.astype(np.float32)),
            "directional_instruction": pa.array(dir_instr.astype(np.float32)),
            "directional_instruction_core": pa.array(dir_instr.astype(np.float32)),
            "pixel_l1": pa.array(pixel_l1.astype(np.float32)),
            "pixel_changed_frac": pa.array(changed.astype(np.float32)),
            "phash_distance": pa.array(phash),
            "passes_ip2p_filter": pa.array(passes),
            "source_status": pa.array(status_src, pa.string()),
            "target_status": pa.array(status_tgt, pa.string()),
        }
    )

    # labels: derived (the primary label, a second one for a third of the edits) + provided for part2
    second = rng.random(n) < 0.33
    lab2 = np.array(LABELS)[rng.integers(0, len(LABELS), n)]
    m2 = second & (lab2 != primary)
    lab_edit = np.r_[edit_id, edit_id[m2], edit_id[provided]].astype(object)
    lab_val = np.r_[primary, lab2[m2], primary[provided]].astype(object)
    origin = np.r_[
        np.full(n + m2.sum(), "derived", dtype=object), np.full(provided.sum(), "provided", dtype=object)
    ]
    scope = np.array([v.split("-", 1)[0] for v in lab_val], dtype=object)
    operation = np.array([v.split("-", 1)[1] if "-" in v else None for v in lab_val], dtype=object)
    edit_labels = pa.table(
        {
            "edit_id": pa.array(lab_edit, pa.string()),
            "label": pa.array(lab_val, pa.string()),
            "origin": pa.array(origin, pa.string()),
            "scope": pa.array(scope, pa.string()),
            "operation": pa.array(operation, pa.string()),
        }
    )

    # image safety (zero-shot, per image): a few targets flagged, fewer sources
    cat = np.array(SAFETY_CATEGORIES, dtype=object)[rng.integers(0, len(SAFETY_CATEGORIES), n)]
    tgt_flag = rng.random(n) < 0.05
    src_flag = tgt_flag & (rng.random(n) < 0.3)
    introduced = tgt_flag & ~src_flag
    broken = (status_src != "ok") | (status_tgt != "ok")
    is_noop = (clip_i > 0.97) & ~broken
    below_resolution = clip_i >= 0.9985
    misaligned = (directional < 0.13) & ~below_resolution & ~is_noop & ~broken
    flags = {
        "is_noop": is_noop,
        "has_broken_image": broken,
        "is_duplicate_pair": rng.random(n) < 0.005,
        "has_near_duplicate_source": rng.random(n) < 0.02,
        "is_chain_break": chain_break,
        "has_content_overlap": rng.random(n) < 0.003,
        "is_full_regeneration": clip_i < 0.5,
        "is_misaligned": misaligned,
    }
    n_flags = np.sum(np.stack([flags[f] for f in QUALITY_FLAGS]), axis=0).astype(np.int32)
    qf_list = [
        [f.removeprefix("is_").removeprefix("has_") for f in QUALITY_FLAGS if flags[f][i]] for i in range(n)
    ]
    demo = mention >= 0
    demo_group = np.array([p[1] for p in PEOPLE], dtype=object)[np.maximum(mention, 0)]
    demo_sub = np.array([p[2] for p in PEOPLE], dtype=object)[np.maximum(mention, 0)]
    qf = {
        "edit_id": pa.array(edit_id, pa.string()),
        "dataset": pa.array(dataset, pa.string()),
        "part": pa.array(part, pa.string()),
        "split": pa.array(split, pa.string()),
    }
    qf.update({k: pa.array(v) for k, v in flags.items()})
    qf["is_change_below_resolution"] = pa.array(below_resolution)  # not a quality flag: not counted above
    qf["clip_i"] = edits.column("clip_i")
    qf["directional_instruction"] = edits.column("directional_instruction")
    qf["directional_instruction_core"] = edits.column("directional_instruction_core")
    qf["directional_caption"] = edits.column("directional_caption")
    qf["broken_image_reason"] = pa.array(
        np.where(
            status_src != "ok",
            "source_" + status_src.astype(str),
            np.where(status_tgt != "ok", "target_" + status_tgt.astype(str), None),
        ).astype(object),
        pa.string(),
    )
    qf["chain_break_reason"] = pa.array(
        np.where(chain_break, "source_differs_from_previous_target", None), pa.string()
    )
    qf["mentions_demographic_term"] = pa.array(demo)
    qf["mentions_unsafe_term"] = pa.array(np.zeros(n, bool))
    qf["asks_watermark_removal"] = pa.array(np.zeros(n, bool))
    qf["unsafe_image_introduced"] = pa.array(introduced)
    qf["target_unsafe_categories"] = _lists(cat, tgt_flag)
    qf["quality_flags"] = pa.array(qf_list, pa.list_(pa.string()))
    qf["n_quality_flags"] = pa.array(n_flags)

    # private facts for the aggregates: image safety, mentions, perceived-attribute shifts
    ci = rng.integers(0, len(CONCEPTS), n)
    facts = pa.table(
        {
            "edit_id": pa.array(edit_id, pa.string()),
            "category": pa.array(cat, pa.string()),
            "src_flag": pa.array(src_flag),
            "tgt_flag": pa.array(tgt_flag),
            "demographic_group": pa.array(np.where(demo, demo_group, None), pa.string()),
            "subgroup": pa.array(np.where(demo, demo_sub, None), pa.string()),
            "concept_group": pa.array(np.array([c[0] for c in CONCEPTS], dtype=object)[ci], pa.string()),
            "concept": pa.array(np.array([c[1] for c in CONCEPTS], dtype=object)[ci], pa.string()),
            "source_score": pa.array(rng.uniform(0, 1, n).astype(np.float32)),
            "target_score": pa.array(rng.uniform(0, 1, n).astype(np.float32)),
        }
    )
    return {"edits": edits, "edit_labels": edit_labels, "edit_quality_flags": pa.table(qf), "_facts": facts}


_AGGREGATES = {
    "dataset_scorecard": """
        with f as (select * from edit_quality_flags)
        select e.dataset, e.part, count(*) as n_edits,
               sum((hash(e.edit_id) % 50 = 0)::int)::bigint as n_rejects,
               (count(*) + sum((hash(e.edit_id) % 50 = 0)::int))::bigint as n_records_read,
               count(distinct e.session_id) as n_sessions,
               count(e.clip_i) as n_scored,
               median(e.clip_i) as clip_i_median,
               median(e.directional_caption) as directional_median,
               median(e.clip_t_target_caption) as clip_t_median,
               count(*) filter (where e.passes_ip2p_filter) as n_passing_ip2p_filter,
               count(*) filter (where e.passes_ip2p_filter) / count(e.clip_i) as ip2p_filter_pass_rate,
               count(*) filter (where f.is_noop) as n_noop,
               count(*) filter (where f.is_noop) / count(*) as noop_share,
               count(*) filter (where f.is_misaligned) as n_misaligned,
               count(*) filter (where f.is_misaligned) / count(e.clip_i) as misaligned_share,
               count(*) filter (where f.is_change_below_resolution) as n_change_below_resolution,
               count(*) filter (where f.is_full_regeneration) as n_full_regeneration,
               count(*) filter (where f.has_broken_image) as n_broken_image,
               count(*) filter (where f.has_broken_image) / count(*) as broken_image_share,
               count(*) filter (where f.is_duplicate_pair) as n_duplicate_pair,
               count(*) filter (where f.has_near_duplicate_source) as n_near_duplicate_source,
               count(*) filter (where f.is_chain_break) as n_chain_break,
               count(*) filter (where f.has_content_overlap) as n_content_overlap,
               count(*) filter (where f.n_quality_flags > 0) as n_with_any_quality_flag,
               count(*) filter (where f.n_quality_flags > 0) / count(*) as share_with_any_quality_flag
        from edits e join f using (edit_id)
        group by all
    """,
    "instruction_type_stats": """
        with totals as (select dataset, part, count(*) as n_edits_in_part from edits group by all)
        select e.dataset, e.part, l.origin, l.label, any_value(l.scope) as scope, any_value(l.operation) as operation,
               count(*) as n_edits, any_value(t.n_edits_in_part) as n_edits_in_part,
               count(*) / any_value(t.n_edits_in_part) as share_of_part,
               count(e.clip_i) as n_scored,
               median(e.clip_i) as clip_i_median, median(e.directional_caption) as directional_median,
               median(e.clip_t_target_caption) as clip_t_median
        from edit_labels l join edits e using (edit_id) join totals t using (dataset, part)
        group by e.dataset, e.part, l.origin, l.label
    """,
    "label_cooccurrence": """
        with pairs as (
            select e.dataset, e.part, a.origin, a.label as label_a, b.label as label_b, count(*) as n_edits
            from edit_labels a join edit_labels b on a.edit_id = b.edit_id and a.origin = b.origin and a.label <> b.label
            join edits e on e.edit_id = a.edit_id group by all),
        counts as (select e.dataset, e.part, l.origin, l.label, count(*) as n from edit_labels l join edits e using (edit_id)
                   group by all)
        select pairs.*, counts.n as n_edits_with_label_a, pairs.n_edits / counts.n as share_of_label_a
        from pairs join counts on counts.dataset = pairs.dataset and counts.part = pairs.part
             and counts.origin = pairs.origin and counts.label = pairs.label_a
    """,
    "score_histograms": """
        with s as (unpivot (select dataset, part, clip_i, clip_t_target_caption, clip_t_instruction, directional_caption,
                                   directional_instruction, directional_instruction_core, pixel_changed_frac,
                                   phash_distance::double as phash_distance
                            from edits)
                   on clip_i, clip_t_target_caption, clip_t_instruction, directional_caption, directional_instruction,
                      directional_instruction_core, pixel_changed_frac, phash_distance into name metric value score),
        b as (select dataset, part, metric, case when metric = 'phash_distance' then 1.0 else 0.05 end as w,
                     floor(score / w) * w as lo from s)
        select dataset, part, metric, round(lo, 4) as bin_lower, round(lo + any_value(w), 4) as bin_upper,
               count(*) as n_edits
        from b group by dataset, part, metric, lo
    """,
    "safety_slices": """
        with t as (select dataset, part, count(*) as n_edits, count(*) as n_edits_with_images from edits group by all)
        select x.category, e.dataset, e.part, any_value(t.n_edits) as n_edits,
               0::bigint as n_instruction_flagged, 0.0 as instruction_flagged_rate,
               any_value(t.n_edits_with_images) as n_edits_with_images,
               count(*) filter (where x.src_flag) as n_source_image_flagged,
               count(*) filter (where x.tgt_flag) as n_target_image_flagged,
               count(*) filter (where x.tgt_flag) / any_value(t.n_edits_with_images) as target_image_flagged_rate,
               count(*) filter (where x.tgt_flag and not x.src_flag) as n_introduced_by_edit,
               count(*) filter (where x.tgt_flag and not x.src_flag) / any_value(t.n_edits_with_images) as introduced_rate
        from _facts x join edits e using (edit_id) join t using (dataset, part)
        where x.src_flag or x.tgt_flag
        group by x.category, e.dataset, e.part
    """,
    "safety_flagged_edits": """
        select e.edit_id, e.dataset, e.part, e.split, e.instruction, [x.category] as categories,
               list_filter([case when x.src_flag then 'source image ' || x.category || ' score 0.8 (' || x.category || ')' end,
                            case when x.tgt_flag then 'target image ' || x.category || ' score 0.8 (' || x.category || ')' end,
                            case when x.tgt_flag and not x.src_flag
                                 then 'the edit introduced unsafe content (target flagged, source not)' end],
                           r -> r is not null) as reasons,
               x.tgt_flag and not x.src_flag as unsafe_image_introduced, false as asks_watermark_removal
        from _facts x join edits e using (edit_id) where x.src_flag or x.tgt_flag
    """,
    "attribute_shifts": """
        with el as (select edit_id, dataset, 'all' as label from edits
                    union all select edit_id, dataset, unnest(derived_labels) from edits)
        select el.dataset, el.label, x.concept_group, x.concept, count(*) as n_edits,
               avg(x.source_score) as source_score_mean, avg(x.target_score) as target_score_mean,
               avg(x.target_score - x.source_score) as shift_mean
        from el join _facts x using (edit_id) group by all
    """,
    "bias_slices": """
        with el as (select edit_id, dataset, 'all' as label from edits
                    union all select edit_id, dataset, unnest(derived_labels) from edits),
        men as (select edit_id, demographic_group, subgroup from _facts where demographic_group is not null
                union all select edit_id, demographic_group, 'all' from _facts where demographic_group is not null),
        tot as (select el.dataset, el.label, count(*) as n_edits_in_slice, count(e.passes_ip2p_filter) as n_scored_in_slice,
                       count(*) filter (where e.passes_ip2p_filter) as n_passing_in_slice
                from el join edits e using (edit_id) group by all),
        g as (select men.demographic_group, men.subgroup, el.dataset, el.label, count(*) as n_edits,
                     avg(e.clip_i) as clip_i_mean, count(e.passes_ip2p_filter) as n_scored,
                     count(*) filter (where e.passes_ip2p_filter) as n_passing
              from men join el using (edit_id) join edits e using (edit_id) group by all)
        select g.demographic_group, g.subgroup, g.dataset, g.label, g.n_edits, tot.n_edits_in_slice,
               g.n_edits / tot.n_edits_in_slice as mention_rate, g.clip_i_mean,
               g.n_passing, g.n_scored, g.n_passing / nullif(g.n_scored, 0) as filter_pass_rate,
               tot.n_passing_in_slice as overall_n_passing, tot.n_scored_in_slice as overall_n_scored,
               tot.n_passing_in_slice / nullif(tot.n_scored_in_slice, 0) as overall_filter_pass_rate,
               (g.n_passing / nullif(g.n_scored, 0)) / nullif(tot.n_passing_in_slice / nullif(tot.n_scored_in_slice, 0), 0)
                   as filter_pass_rate_ratio
        from g join tot using (dataset, label)
    """,
}


def derive_aggregates(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    for name, t in tables.items():
        con.register(name, t)
    out = {}
    for name, sql in _AGGREGATES.items():
        res = con.sql(sql).arrow()
        out[name] = res.read_all() if hasattr(res, "read_all") else res
    con.close()
    return out


def write_fixture_warehouse(
    root: str | Path, n_edits: int = 240, seed: int = 0, omit: tuple[str, ...] = ()
) -> FixtureSummary:
    """Write fixture marts + image lookup under ``root``; marts named in ``omit`` are left out."""
    root = Path(root)
    tables = make_fixture_tables(n_edits, seed)
    tables.update(derive_aggregates(tables))
    for name, t in tables.items():
        if name in omit or name.startswith("_"):
            continue
        atomic_write_table(t, root / "marts" / f"{name}.parquet")
    images = _write_images(root)
    atomic_write_table(images, root / "marts" / "image_locations.parquet")
    if "thresholds_in_force" not in omit:
        atomic_write_table(_thresholds(), root / "marts" / "thresholds_in_force.parquet")
    return FixtureSummary(root=root, n_edits=n_edits, n_images=images.num_rows)


def stable_digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]
