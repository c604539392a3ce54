"""Fixture marts for the dashboards' tests, the browser test and the benchmark fallback.

``write_fixture_warehouse(root, n_edits, seed)`` writes a warehouse folder the app can open:

    root/marts/<mart>.parquet         edits, edit_labels, edit_quality_flags, instruction_type_stats,
                                      bias_slices, safety_slices, dataset_scorecard
    root/parquet/images/part-0.parquet  the image lookup (files and Parquet-embedded bytes)
    root/media/...                    a small pool of PNG files and one Parquet file with embedded images

The columns follow the marts' contract as described in models/marts/*.yml. Everything is vectorised with
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

LABELS = ["add", "remove", "replace", "color", "style", "background", "action", "count"]
OBJECTS = ["cat", "dog", "tree", "car", "house", "boat", "hat", "cup", "bicycle", "lamp"]
COLORS = ["red", "blue", "green", "yellow", "purple"]
STYLES = ["watercolor", "pixel-art", "oil painting", "sketch"]
PEOPLE = ["woman", "man", "old man", "young girl", "boy", "person"]
FLAGS = [
    "is_noop",
    "is_misaligned",
    "is_full_regeneration",
    "is_broken_image",
    "is_missing_image",
    "is_duplicate_pair",
    "is_near_duplicate_source",
    "is_chain_break",
    "is_cross_overlap",
]
SAFETY_CATEGORIES = ["nudity", "violence", "weapons", "drugs", "self_harm", "hate_symbols"]
SCORE_COLUMNS = [
    "clip_i",
    "clip_t_target_caption",
    "clip_t_instruction",
    "directional_caption",
    "directional_instruction",
    "pixel_l1",
    "pixel_changed_frac",
    "phash_distance",
]
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
            dict(image_id=f"f{i:015x}", location_kind="file", root=str(media), path=rel, row_group=None, row=None,
                 column=None, exists=True)
        )
    # one file is announced but missing on disk (a normal condition the app must survive)
    rows.append(dict(image_id=f"f{POOL:015x}", location_kind="file", root=str(media), path="files/missing.png",
                     row_group=None, row=None, column=None, exists=False))
    emb = pa.table({
        "id": pa.array(list(range(POOL)), pa.int64()),
        "image": pa.array([{"bytes": b, "path": f"{i}.png"} for i, b in enumerate(blobs)],
                          pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
    })
    pq.write_table(emb, media / "embedded.parquet", row_group_size=8)
    for i in range(POOL):
        rows.append(
            dict(image_id=f"p{i:015x}", location_kind="parquet", root=str(media), path="embedded.parquet",
                 row_group=i // 8, row=i % 8, column="image.bytes", exists=True)
        )
    t = pa.Table.from_pylist(rows, schema=pa.schema([
        ("image_id", pa.string()), ("location_kind", pa.string()), ("root", pa.string()), ("path", pa.string()),
        ("row_group", pa.int32()), ("row", pa.int64()), ("column", pa.string()), ("exists", pa.bool_()),
    ]))
    return t


def _instructions(rng: np.random.Generator, lab: np.ndarray) -> np.ndarray:
    n = len(lab)
    obj = np.array(OBJECTS)[rng.integers(0, len(OBJECTS), n)]
    col = np.array(COLORS)[rng.integers(0, len(COLORS), n)]
    sty = np.array(STYLES)[rng.integers(0, len(STYLES), n)]
    ppl = np.array(PEOPLE)[rng.integers(0, len(PEOPLE), n)]
    person = rng.random(n) < 0.25
    thing = np.where(person, np.char.add("the ", ppl), np.char.add("the ", obj))
    out = np.empty(n, dtype=object)
    templates = {
        "add": lambda m: np.char.add(np.char.add("add a ", obj[m]), " next to it"),
        "remove": lambda m: np.char.add("remove ", thing[m]),
        "replace": lambda m: np.char.add(np.char.add(np.char.add("replace ", thing[m]), " with a "), obj[m]),
        "color": lambda m: np.char.add(np.char.add(np.char.add("make ", thing[m]), " "), col[m]),
        "style": lambda m: np.char.add(np.char.add("turn it into a ", sty[m]), " picture"),
        "background": lambda m: np.char.add("change the background to a ", np.char.add(col[m], " wall")),
        "action": lambda m: np.char.add(thing[m], " is running"),
        "count": lambda m: np.char.add("add two more ", np.char.add(obj[m], "s")),
    }
    for name, fn in templates.items():
        m = lab == name
        if m.any():
            out[m] = fn(m)
    return out


def make_fixture_tables(n_edits: int = 240, seed: int = 0) -> dict[str, pa.Table]:
    """Per-edit marts as Arrow tables (edits, edit_labels, edit_quality_flags)."""
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
    edit_id = _hex16("e", idx)

    # sessions of 4 turns for multi-turn parts
    turn = np.ones(n, dtype=np.int32)
    session = np.full(n, None, dtype=object)
    if multi.any():
        mi = np.flatnonzero(multi)
        start = np.r_[0, np.flatnonzero(np.diff(part_idx[mi]) != 0) + 1]
        local = np.arange(len(mi)) - np.repeat(start, np.diff(np.r_[start, len(mi)]))
        turn[mi] = (local % 4 + 1).astype(np.int32)
        session[mi] = np.char.add(np.char.add(part[mi].astype(str), "-s"), (local // 4).astype(str))

    primary = np.array(LABELS)[rng.integers(0, len(LABELS), n)]
    instruction = _instructions(rng, primary)

    # scores
    clip_i = np.clip(rng.beta(8, 2, n), 0, 1)
    directional = np.clip(rng.normal(0.2, 0.1, n), -1, 1)
    clip_t = np.clip(rng.normal(0.27, 0.04, n), 0, 1)
    clip_t_instr = np.clip(rng.normal(0.22, 0.04, n), 0, 1)
    dir_instr = np.clip(rng.normal(0.08, 0.05, n), -1, 1)
    pixel_l1 = np.clip(rng.gamma(2.0, 0.04, n), 0, 1)
    changed = np.clip(1 - clip_i + rng.normal(0, 0.05, n), 0, 1)
    phash = rng.integers(0, 40, n).astype(np.int32)

    # images: pool ids per storage kind; targets differ from sources
    src_i = rng.integers(0, POOL, n)
    tgt_i = (src_i + 1 + rng.integers(0, POOL - 1, n)) % POOL
    prefix = np.where(kind == "file", "f", "p")
    src_id = np.char.add(prefix.astype(str), np.char.zfill(np.char.mod("%x", src_i), 15))
    tgt_id = np.char.add(prefix.astype(str), np.char.zfill(np.char.mod("%x", tgt_i), 15))
    # multi-turn chains: turn k's source is turn k-1's target
    chain_ok = turn > 1
    src_id = src_id.astype(object)
    tgt_id = tgt_id.astype(object)
    src_id[chain_ok] = tgt_id[np.flatnonzero(chain_ok) - 1]

    # safety (perceived, zero-shot): source and target unsafe scores + top category of the target
    src_unsafe = np.clip(rng.beta(1, 12, n), 0, 1)
    tgt_unsafe = np.clip(rng.beta(1, 9, n), 0, 1)
    hot = rng.random(n) < 0.04
    tgt_unsafe[hot] = rng.uniform(0.55, 0.99, hot.sum())
    category = np.array(SAFETY_CATEGORIES, dtype=object)[rng.integers(0, len(SAFETY_CATEGORIES), n)]

    caption = np.char.add("a photo of a ", np.array(OBJECTS)[src_i % len(OBJECTS)]).astype(object)
    tcaption = np.char.add("a picture of a ", np.array(OBJECTS)[tgt_i % len(OBJECTS)]).astype(object)

    edits = pa.table({
        "edit_id": pa.array(edit_id.astype(object), pa.string()),
        "dataset": pa.array(dataset, pa.string()),
        "part": pa.array(part, pa.string()),
        "split": pa.array(split, pa.string()),
        "session_id": pa.array(session, pa.string()),
        "turn_index": pa.array(turn, pa.int32()),
        "instruction": pa.array(instruction, pa.string()),
        "source_caption": pa.array(caption, pa.string()),
        "target_caption": pa.array(tcaption, pa.string()),
        "source_image_id": pa.array(src_id, pa.string()),
        "target_image_id": pa.array(tgt_id, pa.string()),
        "primary_label": pa.array(primary.astype(object), pa.string()),
        "clip_i": pa.array(clip_i.astype(np.float32)),
        "clip_t_target_caption": pa.array(clip_t.astype(np.float32)),
        "clip_t_instruction": pa.array(clip_t_instr.astype(np.float32)),
        "directional_caption": pa.array(directional.astype(np.float32)),
        "directional_instruction": pa.array(dir_instr.astype(np.float32)),
        "pixel_l1": pa.array(pixel_l1.astype(np.float32)),
        "pixel_changed_frac": pa.array(changed.astype(np.float32)),
        "phash_distance": pa.array(phash),
        "source_unsafe_score": pa.array(src_unsafe.astype(np.float32)),
        "target_unsafe_score": pa.array(tgt_unsafe.astype(np.float32)),
        "target_safety_category": pa.array(category, pa.string()),
    })

    # labels: the primary label plus, for a third of edits, a second one
    second = rng.random(n) < 0.33
    lab2 = np.array(LABELS)[(np.searchsorted(LABELS, primary) * 0 + rng.integers(0, len(LABELS), n))]
    lab2_mask = second & (lab2 != primary)
    lab_edit = np.r_[edit_id, edit_id[lab2_mask]].astype(object)
    lab_val = np.r_[primary, lab2[lab2_mask]].astype(object)
    origin = np.where(np.r_[np.zeros(n, bool), np.ones(lab2_mask.sum(), bool)], "lexicon", "lexicon")
    provided = np.r_[part == "part2", (part == "part2")[lab2_mask]]
    origin = np.where(provided, "provided", origin).astype(object)
    edit_labels = pa.table({
        "edit_id": pa.array(lab_edit, pa.string()),
        "label": pa.array(lab_val, pa.string()),
        "origin": pa.array(origin, pa.string()),
    })

    flags = {
        "is_noop": clip_i > 0.97,
        "is_misaligned": directional < 0.02,
        "is_full_regeneration": clip_i < 0.5,
        "is_broken_image": rng.random(n) < 0.01,
        "is_missing_image": rng.random(n) < 0.01,
        "is_duplicate_pair": rng.random(n) < 0.005,
        "is_near_duplicate_source": rng.random(n) < 0.02,
        "is_chain_break": multi & (turn > 1) & (rng.random(n) < 0.1),
        "is_cross_overlap": rng.random(n) < 0.003,
    }
    # a chain break really breaks the chain: that turn's source is not the previous target
    cb = flags["is_chain_break"]
    src_arr = np.array(edits.column("source_image_id").to_pylist(), dtype=object)
    if cb.any():
        src_arr[cb] = np.where(kind[cb] == "file", "f", "p").astype(object) + np.char.zfill(
            np.char.mod("%x", (src_i[cb] + 3) % POOL), 15).astype(object)
    edits = edits.set_column(edits.schema.get_field_index("source_image_id"), "source_image_id",
                             pa.array(src_arr, pa.string()))
    any_flag = np.zeros(n, bool)
    for v in flags.values():
        any_flag |= v
    qf = {"edit_id": pa.array(edit_id.astype(object), pa.string()),
          "dataset": pa.array(dataset, pa.string()),
          "part": pa.array(part, pa.string())}
    qf.update({k: pa.array(v) for k, v in flags.items()})
    qf["n_flags"] = pa.array(np.sum(np.stack(list(flags.values())), axis=0).astype(np.int32))
    qf["is_flagged"] = pa.array(any_flag)
    return {"edits": edits, "edit_labels": edit_labels, "edit_quality_flags": pa.table(qf)}


_AGGREGATES = {
    "dataset_scorecard": """
        select e.dataset, e.part,
               count(*)::bigint as n_edits,
               count(distinct e.session_id)::bigint as n_sessions,
               (count(*) + sum(case when hash(e.edit_id) % 50 = 0 then 1 else 0 end))::bigint as n_records_read,
               sum(case when hash(e.edit_id) % 50 = 0 then 1 else 0 end)::bigint as n_rejects,
               {flag_rates},
               avg(f.is_flagged::int) as flagged_rate,
               median(e.clip_i) as median_clip_i,
               median(e.clip_t_target_caption) as median_clip_t,
               median(e.directional_caption) as median_directional
        from edits e join edit_quality_flags f using (edit_id)
        group by all
    """,
    "instruction_type_stats": """
        with lab as (select l.label, e.dataset, e.part, e.clip_i, e.directional_caption, f.is_flagged
                     from edit_labels l join edits e using (edit_id) join edit_quality_flags f using (edit_id)),
        tot as (select dataset, part, count(*) as n_part from edits group by all)
        select lab.dataset, lab.part, lab.label, count(*)::bigint as n_edits, any_value(n_part)::bigint as n_part_edits,
               count(*) / any_value(n_part) as share,
               median(clip_i) as median_clip_i, median(directional_caption) as median_directional,
               avg(is_flagged::int) as flagged_rate
        from lab join tot using (dataset, part)
        group by all
    """,
    "safety_slices": """
        select dataset, part, target_safety_category as category,
               count(*)::bigint as n_edits,
               sum((target_unsafe_score >= 0.5)::int)::bigint as n_unsafe_target,
               sum((source_unsafe_score >= 0.5)::int)::bigint as n_unsafe_source,
               sum((target_unsafe_score >= 0.5 and source_unsafe_score < 0.5)::int)::bigint as n_introduced
        from edits group by all
    """,
    "bias_slices": """
        with m as (
            select e.*, l.label,
                   case when regexp_matches(instruction, '\\b(woman|girl)\\b') then 'female'
                        when regexp_matches(instruction, '\\b(man|boy)\\b') then 'male'
                        when regexp_matches(instruction, '\\bperson\\b') then 'neutral' end as gender_group,
                   case when regexp_matches(instruction, '\\b(old)\\b') then 'older'
                        when regexp_matches(instruction, '\\b(young|girl|boy)\\b') then 'younger' end as age_group,
                   f.is_flagged
            from edits e join edit_labels l using (edit_id) join edit_quality_flags f using (edit_id)
        ),
        mentions as (
            select 'group_mention' as slice_kind, dataset, part, label, 'gender' as attribute, gender_group as group_name,
                   count(*)::bigint as n_edits, null::double as value from m where gender_group is not null group by all
            union all
            select 'group_mention', dataset, part, label, 'age', age_group, count(*)::bigint, null from m
            where age_group is not null group by all
        ),
        denom as (select dataset, part, label, count(*)::bigint as denominator from m group by all),
        shift as (
            select 'attribute_shift' as slice_kind, dataset, part, label, 'age' as attribute, 'perceived_older' as group_name,
                   count(*)::bigint as n_edits,
                   avg(target_unsafe_score - source_unsafe_score) as value
            from m where gender_group is not null group by all
        ),
        impact as (
            select 'filter_impact' as slice_kind, dataset, part, label, 'gender' as attribute, gender_group as group_name,
                   sum((not is_flagged)::int)::bigint as n_edits, count(*)::bigint as denominator,
                   avg((not is_flagged)::int) as value
            from m where gender_group is not null group by all
        )
        select x.slice_kind, x.dataset, x.part, x.label, x.attribute, x.group_name, x.n_edits, d.denominator,
               x.n_edits / d.denominator as value
        from mentions x join denom d using (dataset, part, label)
        union all
        select s.slice_kind, s.dataset, s.part, s.label, s.attribute, s.group_name, s.n_edits, d.denominator, s.value
        from shift s join denom d using (dataset, part, label)
        union all
        select slice_kind, dataset, part, label, attribute, group_name, n_edits, denominator, value from impact
    """,
}


def derive_aggregates(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    con = duckdb.connect()
    for name, t in tables.items():
        con.register(name, t)
    flag_rates = ",\n".join(f"avg(f.{f}::int) as rate_{f.removeprefix('is_')}" for f in FLAGS)
    out = {}
    for name, sql in _AGGREGATES.items():
        out[name] = con.sql(sql.replace("{flag_rates}", flag_rates)).arrow()
        if hasattr(out[name], "read_all"):
            out[name] = out[name].read_all()
    con.close()
    return out


def write_fixture_warehouse(root: str | Path, n_edits: int = 240, seed: int = 0,
                            omit: tuple[str, ...] = ()) -> FixtureSummary:
    """Write fixture marts + image lookup under ``root``; marts named in ``omit`` are left out."""
    root = Path(root)
    tables = make_fixture_tables(n_edits, seed)
    tables.update(derive_aggregates(tables))
    for name, t in tables.items():
        if name in omit:
            continue
        atomic_write_table(t, root / "marts" / f"{name}.parquet")
    images = _write_images(root)
    atomic_write_table(images, root / "parquet" / "images" / "part-0.parquet")
    return FixtureSummary(root=root, n_edits=n_edits, n_images=images.num_rows)


def stable_digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]
