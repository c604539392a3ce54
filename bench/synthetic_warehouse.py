"""A synthetic warehouse at any scale: the Parquet tables of ARCHITECTURE.md, without images or models.

It stands in for `ingest` + `embed` output when developing and benchmarking the dbt project and the dashboards:

    from bench.synthetic_warehouse import make_synthetic_warehouse
    truth = make_synthetic_warehouse("/tmp/wh", n_edits=3_770_000, seed=0)

Tables written under ``DIR/parquet/<table>/*.parquet`` (one file per chunk, atomic writes): edits, images,
rejects, ingest_runs, image_facts, edit_scores, image_concepts, embed_models, edit_projections (clustered 2-D
points per dataset and part in the three map spaces), and neighbour indexes under ``DIR/index/`` (random
``BROWSE_DIM``-dimensional vectors around one centre per dataset and part). The injected defects and term
mentions are listed, one row per (edit_id, defect), in ``DIR/synthetic/truth.parquet`` (outside ``parquet/`` so
dbt never reads it): noop, misaligned, full_regeneration, broken_image, duplicate_pair, near_duplicate_source,
chain_break, cross_overlap, demographic_term, unsafe_term, watermark_removal.

Generation is vectorised (numpy + pyarrow) and chunked: about 40 s per million edits and little memory without the
neighbour indexes (`--no-index`); building the indexes takes about ten times that.
Command line: ``python bench/synthetic_warehouse.py DIR --edits N [--seed S]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from editlens.warehouse import Warehouse, atomic_write_table  # noqa: E402

CHUNK = 250_000
MODEL_NAME, PRETRAINED, PREPROCESS = "ViT-B-32", "synthetic", "resize224"
MODEL_KEY = hashlib.sha1(f"{MODEL_NAME}|{PRETRAINED}|{PREPROCESS}".encode()).hexdigest()[:16]
BROWSE_DIM = 32  # the synthetic index vectors (small: the index's search cost, not a model's, is what is measured)

# (dataset, part, share of edits, multi-turn, split)
PARTS = [
    ("seed-data-edit", "part1-openimages", 0.380, False, "train"),
    ("seed-data-edit", "part1-unsplash", 0.470, False, "train"),
    ("seed-data-edit", "part1-unsplash-gpt4v", 0.060, False, "train"),
    ("seed-data-edit", "part2", 0.014, False, "train"),
    ("seed-data-edit", "part3", 0.025, True, "train"),
    ("instructpix2pix", "clip-filtered", 0.0415, False, "train"),
    ("magicbrush", "train", 0.0024, True, "train"),
    ("magicbrush", "dev", 0.0003, True, "dev"),
    ("hq-edit", "train", 0.0068, False, "train"),
]

OBJECTS = [
    "dog", "cat", "car", "tree", "chair", "lamp", "bird", "boat", "cup", "bottle", "clock", "flower pot", "bicycle",
    "hat", "umbrella", "table", "horse", "book", "bench", "kite", "apple", "cake", "window", "door", "fence",
    "balloon", "guitar", "backpack", "sign", "rock", "cloud", "bridge", "house", "mountain", "sofa", "vase",
]
# adjectives make object phrases varied, so distinct instructions number in the millions at full scale (as in
# SEED, whose Part-1 instructions are mostly unique): the text models then do realistic work
ADJECTIVES = [
    "small", "large", "tiny", "huge", "wooden", "metal", "plastic", "shiny", "fluffy", "striped", "round", "square",
    "glass", "stone", "paper", "leather", "rusty", "dusty", "cute", "modern", "antique", "folded", "empty", "cracked",
    "sleeping", "flying", "floating", "giant", "miniature", "toy", "ceramic", "silk", "cotton", "brass", "bamboo",
    "spotted", "polished", "soft", "heavy", "bright",
]
PEOPLE = [  # demographic mentions: (word, group)
    ("woman", "gender"), ("man", "gender"), ("girl", "gender"), ("boy", "gender"), ("women", "gender"),
    ("old man", "age"), ("elderly woman", "age"), ("child", "age"), ("teenager", "age"), ("baby", "age"),
    ("asian man", "race_ethnicity"), ("black woman", "race_ethnicity"), ("muslim woman", "religion"),
    ("nun", "religion"), ("man in a wheelchair", "disability"), ("blind man", "disability"),
    ("fat man", "body_type"), ("skinny girl", "body_type"),
]
UNSAFE = [("gun", "weapons"), ("knife", "weapons"), ("blood", "violence"), ("corpse", "violence"),
          ("cigarette", "drugs"), ("syringe", "drugs"), ("naked", "sexual"), ("swastika", "hate")]
WATERMARK = ["remove the watermark", "erase the logo in the corner", "get rid of the signature",
             "remove the watermark from the bottom"]
PLACES = ["on the left", "on the right", "in the background", "next to the window", "on the table",
          "in the sky", "at the bottom", "near the door", "in the corner", ""]
SCENES = ["beach", "forest", "city street", "snowy mountain", "desert", "night sky", "kitchen", "space scene"]
COLORS = ["red", "blue", "green", "yellow", "purple", "black", "white", "pink"]
STYLES = ["oil painting", "watercolor painting", "pencil sketch", "cartoon", "pixel art", "anime drawing"]

# (label, templates) with {o} object, {o2} second object, {p} place, {s} scene, {c} colour, {y} style
TEMPLATES = [
    ("object-add", ["add a {o} {p}", "put a {o} {p}", "insert a {o} {p}", "place a {o} {p}", "let there be a {o} {p}"]),
    ("object-remove", ["remove the {o}", "delete the {o} {p}", "get rid of the {o}", "erase the {o} {p}",
                       "take away the {o}"]),
    ("object-replace", ["replace the {o} with a {o2}", "turn the {o} into a {o2}", "swap the {o} for a {o2}",
                        "change the {o} to a {o2}", "have the {o} be a {o2}"]),
    ("background-replace", ["replace the background with a {s}", "change the background to a {s}",
                            "put it in a {s}", "make the background a {s}"]),
    ("object-recolor", ["make the {o} {c}", "change the color of the {o} to {c}", "paint the {o} {c}",
                        "color the {o} {c}"]),
    ("overall-stylize", ["make it look like a {y}", "turn the photo into a {y}", "make it a {y}",
                         "render the image as a {y}"]),
    ("overall-brightness-adjustment", ["increase the brightness", "make the image darker", "brighten the photo",
                                       "make it brighter"]),
    ("object-reposition", ["move the {o} {p}", "move the {o} to the left", "shift the {o} to the right"]),
    ("background-blur", ["blur the background", "make the background blurry"]),
    ("text-add", ["add the text 'hello' {p}", "write 'sale' on the {o}"]),
    ("overall-adjustment", ["crop the image", "rotate the picture", "flip the image horizontally"]),
]
LABELS = [t[0] for t in TEMPLATES]
LABEL_WEIGHTS = np.array([0.24, 0.16, 0.16, 0.10, 0.08, 0.07, 0.05, 0.05, 0.03, 0.03, 0.03])
CONCEPTS = [("safety", c) for c in ("sexual_content", "nudity", "violence_gore", "weapons", "drugs", "hate_symbols",
                                    "self_harm", "minors")] + [
    ("person", "person"), ("presentation", "feminine"), ("presentation", "masculine"),
    ("age", "child"), ("age", "teen"), ("age", "adult"), ("age", "older_adult"),
    ("skin_tone", "light"), ("skin_tone", "medium"), ("skin_tone", "dark"),
]  # as embeddings/concepts.csv

# defect rates (per edit)
RATE = dict(noop=0.01, misaligned=0.02, full_regeneration=0.005, missing=0.004, truncated=0.003, duplicate=0.005,
            near_dup=0.004, unsafe_image=0.002, chain_break=0.05, cross_overlap=0.002, person=0.12, unsafe=0.01, watermark=0.003)


@dataclass
class SyntheticSummary:
    root: Path
    n_edits: int
    n_images: int
    truth_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        t = ", ".join(f"{k}={v}" for k, v in sorted(self.truth_counts.items()))
        return f"synthetic warehouse {self.root}: {self.n_edits} edits, {self.n_images} images ({t}) in {self.seconds:.1f}s"


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _mix(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of x ^ salt: a cheap stable hash of integers."""
    z = (x.astype(np.uint64) ^ np.uint64(salt)) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hex(words: list[np.ndarray]) -> pa.Array:
    """Hex strings of the concatenated uint64 words (16 hex chars per word)."""
    n = len(words[0])
    b = np.concatenate([w.astype(">u8").view(np.uint8).reshape(n, 8) for w in words], axis=1)
    out = np.empty((n, b.shape[1] * 2), dtype=np.uint8)
    out[:, 0::2] = _HEX[b >> 4]
    out[:, 1::2] = _HEX[b & 15]
    width = out.shape[1]
    return pc.cast(pa.array(out.reshape(-1).view(f"S{width}")), pa.string())


def _pick(rng, options: list[str], n: int) -> pa.Array:
    return pa.array(options).take(pa.array(rng.integers(0, len(options), n)))


def _fill(template: pa.Array, key: str, values: pa.Array) -> pa.Array:
    parts = pc.split_pattern(template, "{" + key + "}")
    return pc.binary_join(parts, values)


def _instructions(rng, n: int, truth_rows: list, edit_ids: pa.Array, multi: np.ndarray):
    """Instruction text and its true label for n edits; records person/unsafe/watermark truth."""
    lab = rng.choice(len(TEMPLATES), size=n, p=LABEL_WEIGHTS / LABEL_WEIGHTS.sum())
    tmpl = np.empty(n, dtype=object)
    for li, (_, ts) in enumerate(TEMPLATES):
        m = lab == li
        tmpl[m] = np.array(ts, dtype=object)[rng.integers(0, len(ts), int(m.sum()))]
    tmpl = pa.array(tmpl, pa.string())
    objs = pc.binary_join_element_wise(_pick(rng, ADJECTIVES, n), _pick(rng, OBJECTS, n), " ")
    objs = objs.to_numpy(zero_copy_only=False).astype(object)
    person = rng.random(n) < RATE["person"]
    pidx = rng.integers(0, len(PEOPLE), n)
    objs[person] = np.array([p[0] for p in PEOPLE], dtype=object)[pidx[person]]
    unsafe = (rng.random(n) < RATE["unsafe"]) & ~person
    uidx = rng.integers(0, len(UNSAFE), n)
    objs[unsafe] = np.array([u[0] for u in UNSAFE], dtype=object)[uidx[unsafe]]
    has_o = pc.match_substring(tmpl, "{o}").to_numpy(zero_copy_only=False)
    s = _fill(tmpl, "o", pa.array(objs, pa.string()))
    s = _fill(s, "o2", pc.binary_join_element_wise(_pick(rng, ADJECTIVES, n), _pick(rng, OBJECTS, n), " "))
    s = _fill(s, "p", _pick(rng, PLACES, n))
    s = _fill(s, "s", _pick(rng, SCENES, n))
    s = _fill(s, "c", _pick(rng, COLORS, n))
    s = _fill(s, "y", _pick(rng, STYLES, n))
    s = pc.utf8_trim_whitespace(s)
    # multi-clause instructions (Part-2 style) for a third of the multi-step rows
    second = rng.random(n) < 0.15
    lab2 = rng.choice(len(TEMPLATES), size=n, p=LABEL_WEIGHTS / LABEL_WEIGHTS.sum())
    extra = np.array(["", " and make it brighter", ", then blur the background", " and remove the clouds"],
                     dtype=object)
    ex_i = np.where(second, rng.integers(1, 4, n), 0)
    s = pc.binary_join_element_wise(s, pa.array(extra[ex_i], pa.string()), "")
    wm = rng.random(n) < RATE["watermark"]
    s_np = s.to_numpy(zero_copy_only=False).astype(object)
    s_np[wm] = np.array(WATERMARK, dtype=object)[rng.integers(0, len(WATERMARK), int(wm.sum()))]
    cap = rng.random(n) < 0.5
    s_np[cap] = np.char.capitalize(s_np[cap].astype(str)).astype(object)
    ids = edit_ids.to_numpy(zero_copy_only=False)
    person &= has_o & ~wm
    unsafe &= has_o & ~wm
    for i in np.flatnonzero(person):
        truth_rows.append((ids[i], "demographic_term", PEOPLE[pidx[i]][1]))
    for i in np.flatnonzero(unsafe):
        truth_rows.append((ids[i], "unsafe_term", UNSAFE[uidx[i]][1]))
    for i in np.flatnonzero(wm):
        truth_rows.append((ids[i], "watermark_removal", None))
    labels = np.array(LABELS, dtype=object)[lab]
    labels[wm] = "object-remove"
    del lab2, multi
    return pa.array(s_np, pa.string()), labels, person


def make_synthetic_warehouse(dir: str | Path, n_edits: int, seed: int = 0, *, concepts: bool = True,
                             chunk: int = CHUNK, browse: bool = True, index: bool = True) -> SyntheticSummary:
    """Write a full synthetic warehouse of ``n_edits`` edits under ``dir``; returns counts of injected truth.

    ``browse=False`` leaves out the edit map points and the neighbour indexes, ``index=False`` the indexes only
    (building them is most of the generation time, and neither dbt nor the Overview page reads them). The
    arguments are written to ``DIR/synthetic/stamp.json`` last, so a complete warehouse can be recognised.
    """
    from editlens.contract.index import INDEX_SPACES, IndexWriter, index_dir

    t0 = time.perf_counter()
    wh = Warehouse.at(dir).ensure()
    writers = {s: IndexWriter(index_dir(wh.root, MODEL_KEY, s), BROWSE_DIM,
                              {"model_key": MODEL_KEY, "model_name": MODEL_NAME, "pretrained": PRETRAINED,
                               "space": s, "synthetic": True}) for s in INDEX_SPACES} if browse and index else {}
    shares = np.array([p[2] for p in PARTS])
    counts = np.floor(shares / shares.sum() * n_edits).astype(int)
    counts[1] += n_edits - counts.sum()
    run_id = f"synthetic-{seed}"
    truth: list[tuple] = []
    n_images = 0
    gstart = 0
    phash_pool: list[np.ndarray] = []  # recent source phashes, for near-duplicates
    phash_pool_ids: list[np.ndarray] = []
    sha_pool: dict[str, np.ndarray] = {}  # per dataset: recent source content words, for cross overlaps
    runs = []
    shard = 0
    for (dataset, part, _, multi_turn, split), n_part in zip(PARTS, counts):
        for off in range(0, int(n_part), chunk):
            n = int(min(chunk, n_part - off))
            if n <= 0:
                continue
            rng = np.random.default_rng([seed, shard])
            gidx = np.arange(gstart, gstart + n, dtype=np.uint64)
            gstart += n
            name = f"{dataset}-{part}-{shard:05d}"
            shard += 1
            # sessions
            if multi_turn:
                lens = rng.integers(1, 6, size=n)
                sess = np.repeat(np.arange(len(lens)), lens)[:n]
                first = np.r_[0, np.flatnonzero(np.diff(sess)) + 1]
                turn = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
                turn = (turn + 1).astype(np.int32)
                session_id = pc.binary_join_element_wise(pa.repeat(name, n), _hex([_mix(sess, seed + 7)]), ":")
            else:
                turn = np.ones(n, dtype=np.int32)
                session_id = pa.nulls(n, pa.string())
            edit_ids = _hex([_mix(gidx, seed + 1)])
            # images: source i, target i (content ids), multi-turn: source = previous target
            src_key = gidx * np.uint64(2)
            tgt_key = gidx * np.uint64(2) + np.uint64(1)
            chain_break = np.zeros(n, bool)
            if multi_turn:
                cont = turn > 1
                prev_tgt = np.r_[np.uint64(0), tgt_key[:-1]]
                brk = cont & (rng.random(n) < RATE["chain_break"])
                src_key = np.where(cont & ~brk, prev_tgt, src_key)
                chain_break = brk
            src_id = _hex([_mix(src_key, seed + 2)])
            tgt_id = _hex([_mix(tgt_key, seed + 2)])
            # content: sha words and phash per image key
            src_c = _mix(src_key, seed + 3)
            tgt_c = _mix(tgt_key, seed + 3)
            noop = rng.random(n) < RATE["noop"]
            dup = (rng.random(n) < RATE["duplicate"]) & ~noop & (turn == 1)
            dup[0] = False
            # duplicate: this edit repeats the previous single-turn edit's source and target contents
            prev = np.maximum(np.arange(n) - 1, 0)
            dup &= turn[prev] == 1
            dup &= ~np.r_[False, dup[:-1]]
            src_c = np.where(dup, src_c[prev], src_c)
            tgt_c = np.where(dup, tgt_c[prev], tgt_c)
            overlap = (rng.random(n) < RATE["cross_overlap"]) & ~dup & (turn == 1) & ~noop
            pool = [v for k, v in sha_pool.items() if k != dataset]
            if pool and overlap.any():
                cand = np.concatenate(pool)
                src_c = np.where(overlap, cand[rng.integers(0, len(cand), n)], src_c)
            else:
                overlap[:] = False
            src_ph = _mix(src_c, seed + 4)
            tgt_ph = _mix(tgt_c, seed + 4)
            near = (rng.random(n) < RATE["near_dup"]) & ~dup & ~overlap & (turn == 1) & ~noop
            base_edit = None
            if phash_pool and near.any():
                pick = rng.integers(0, sum(len(p) for p in phash_pool), n)
                base = np.concatenate(phash_pool)[pick]
                base_edit = np.concatenate(phash_pool_ids)[pick]
                flips = np.zeros(n, np.uint64)
                for _ in range(3):
                    flips |= np.uint64(1) << rng.integers(0, 64, n).astype(np.uint64)
                src_ph = np.where(near, base ^ flips, src_ph)
            else:
                near[:] = False
            tgt_ph = np.where(noop, src_ph, tgt_ph)
            # image status
            r = rng.random(n)
            missing = r < RATE["missing"]
            trunc = (r >= RATE["missing"]) & (r < RATE["missing"] + RATE["truncated"])
            broken = missing | trunc
            if multi_turn:  # a broken target would also break the next turn's source: keep truth simple
                broken &= turn == 1
                src_broken = broken
            else:
                src_broken = broken & (rng.random(n) < 0.5)
            tgt_broken = broken & ~src_broken
            # instructions
            instr, true_label, person_edit = _instructions(rng, n, truth, edit_ids, multi_turn)
            unsafe_img = (rng.random(n) < RATE["unsafe_image"]) & ~noop & ~broken & ~dup & (turn == 1)
            misaligned = (rng.random(n) < RATE["misaligned"]) & ~noop & ~broken
            regen = (rng.random(n) < RATE["full_regeneration"]) & ~noop & ~broken & ~misaligned
            # scores
            clip_i = np.clip(rng.normal(0.84, 0.05, n), 0.62, 0.985)
            clip_i = np.where(noop, rng.uniform(0.992, 1.0, n), clip_i)
            clip_i = np.where(regen, rng.uniform(0.2, 0.45, n), clip_i)
            directional = np.clip(rng.normal(0.27, 0.05, n), 0.15, 0.6)  # clean: above the misaligned seed (0.13)
            directional = np.where(misaligned, rng.uniform(-0.2, -0.02, n), directional)
            directional = np.where(noop, rng.uniform(-0.02, 0.02, n), directional)
            clip_t = np.clip(rng.normal(0.27, 0.03, n), 0.15, 0.4)
            pix = np.where(noop, rng.uniform(0, 0.0008, n), rng.uniform(0.05, 0.6, n))
            ph_dist = _popcount(src_ph ^ tgt_ph)
            null_reason = np.where(src_broken, "source_unreadable", np.where(tgt_broken, "target_unreadable", None))
            ok = ~broken
            f32 = lambda a: pa.array(np.where(ok, a, np.nan).astype(np.float32), from_pandas=True)  # noqa: E731
            # ---- edits
            is_part2 = part == "part2"
            has_caps = part in ("part1-unsplash", "part1-unsplash-gpt4v", "clip-filtered", "train", "hq-edit")
            src_cap = pc.binary_join_element_wise(pa.repeat("a photo of a", n), _pick(rng, OBJECTS, n), " ")
            tgt_cap = pc.binary_join_element_wise(src_cap, instr, ", ")
            files_per = np.arange(n) // 10_000
            source_file = pc.binary_join_element_wise(
                pa.repeat(f"annotations/{name}", n), pa.array([f"split_{i:04d}.jsonl" for i in files_per]), "/")
            edits = pa.table({
                "edit_id": edit_ids,
                "dataset": pa.repeat(dataset, n),
                "part": pa.repeat(part, n),
                "split": pa.repeat(split, n),
                "session_id": session_id,
                "turn_index": pa.array(turn, pa.int32()),
                "source_image_id": src_id,
                "target_image_id": tgt_id,
                "mask_image_id": pa.nulls(n, pa.string()),
                "instruction": instr,
                "instruction_ori": pa.nulls(n, pa.string()),
                "source_caption": src_cap if has_caps else pa.nulls(n, pa.string()),
                "target_caption": tgt_cap if has_caps else pa.nulls(n, pa.string()),
                "provided_labels": pa.array([[x] for x in true_label], pa.list_(pa.string())) if is_part2
                else pa.nulls(n, pa.list_(pa.string())),
                "provided_scores": pa.nulls(n, pa.string()),
                "extra": pa.repeat("{}", n),
                "source_file": source_file,
                "source_record": pa.array(np.arange(n) % 10_000 + 1, pa.int64()),
                "ingest_run_id": pa.repeat(run_id, n),
            })
            atomic_write_table(edits, wh.shard_path("edits", name))
            # ---- images (distinct image ids of this chunk)
            all_id = pa.concat_arrays([src_id, tgt_id])
            all_c = np.r_[src_c, tgt_c]
            all_ph = np.r_[src_ph, tgt_ph]
            all_missing = np.r_[missing & src_broken, missing & tgt_broken]
            all_trunc = np.r_[trunc & src_broken, trunc & tgt_broken]
            _, uniq = np.unique(all_id.to_numpy(zero_copy_only=False), return_index=True)
            uniq.sort()
            m = len(uniq)
            n_images += m
            img_id = all_id.take(pa.array(uniq))
            paths = pc.binary_join_element_wise(pa.repeat(f"images/{part}", m), img_id, "/")
            miss_u, trunc_u = all_missing[uniq], all_trunc[uniq]
            images = pa.table({
                "image_id": img_id, "dataset": pa.repeat(dataset, m), "part": pa.repeat(part, m),
                "location_kind": pa.repeat("file", m), "root": pa.repeat(f"/data/{dataset}", m),
                "path": pc.binary_join_element_wise(paths, pa.repeat(".jpg", m), ""),
                "row_group": pa.nulls(m, pa.int32()), "row": pa.nulls(m, pa.int64()),
                "column": pa.nulls(m, pa.string()), "exists": pa.array(~miss_u),
            })
            atomic_write_table(images, wh.shard_path("images", name))
            c_u = all_c[uniq]
            sha = _hex([c_u, _mix(c_u, 11), _mix(c_u, 12), _mix(c_u, 13)])
            status = np.where(miss_u, "missing", np.where(trunc_u, "truncated", "ok"))
            good = status == "ok"
            facts = pa.table({
                "image_id": img_id,
                "sha256": pa.array(np.where(miss_u, None, sha.to_numpy(zero_copy_only=False)), pa.string()),
                "phash": pa.array(np.where(good, all_ph[uniq].view(np.int64), 0), pa.int64(), mask=~good),
                "width": pa.array(np.where(good, 512, 0), pa.int32(), mask=~good),
                "height": pa.array(np.where(good, 512, 0), pa.int32(), mask=~good),
                "format": pa.repeat("JPEG", m), "mode": pa.repeat("RGB", m),
                "file_size": pa.array(np.where(miss_u, 0, 50_000 + (c_u % np.uint64(40_000)).astype(np.int64)),
                                      pa.int64(), mask=miss_u),
                "status": pa.array(status), "status_message": pa.array(np.where(good, None, status), pa.string()),
                "brightness": pa.array(np.where(good, 0.5, np.nan), pa.float32(), from_pandas=True),
                "contrast": pa.array(np.where(good, 0.2, np.nan), pa.float32(), from_pandas=True),
                "entropy": pa.array(np.where(good, 7.0, np.nan), pa.float32(), from_pandas=True),
                "blur": pa.array(np.where(good, 100.0, np.nan), pa.float32(), from_pandas=True),
                "thumb": pa.nulls(m, pa.binary()),
            })
            atomic_write_table(facts, wh.shard_path("image_facts", name))
            # ---- image concepts: one row per distinct content (skip contents repeated from elsewhere)
            if concepts:
                own = good & np.isin(c_u, _mix(np.r_[src_key, tgt_key], seed + 3))
                _, first_c = np.unique(c_u, return_index=True)
                keep = np.zeros(m, bool)
                keep[first_c] = True
                keep &= own
                k_idx = np.flatnonzero(keep)
                kc = len(CONCEPTS)
                k = len(k_idx)
                sha_k = sha.take(pa.array(k_idx))
                ckey = np.repeat(c_u[k_idx], kc) ^ np.tile(np.arange(kc, dtype=np.uint64), k)
                scores = (_mix(ckey, 21) >> np.uint64(11)).astype(np.float64) / 2.0 ** 53 * 0.3
                # targets whose edit introduced unsafe content: the safety concept scores high
                hot = np.isin(c_u[k_idx], tgt_c[unsafe_img])
                scores.reshape(k, kc)[hot, 3] = 0.9  # weapons
                # images of edits that mention a person show one: person score high, attributes meaningful
                people = np.isin(c_u[k_idx], np.r_[src_c[person_edit], tgt_c[person_edit]])
                scores.reshape(k, kc)[people, 8] = 0.9  # person
                concept_tbl = pa.table({
                    "sha256": pa.array(np.repeat(sha_k.to_numpy(zero_copy_only=False), kc), pa.string()),
                    "model_key": pa.repeat(MODEL_KEY, (k * kc)),
                    "model_name": pa.repeat(MODEL_NAME, (k * kc)),
                    "pretrained": pa.repeat(PRETRAINED, (k * kc)),
                    "preprocess": pa.repeat(PREPROCESS, (k * kc)),
                    "concept_group": pa.array([g for g, _ in CONCEPTS] * k),
                    "concept": pa.array([c for _, c in CONCEPTS] * k),
                    "score": pa.array(scores.astype(np.float32)),
                })
                atomic_write_table(concept_tbl, wh.shard_path("image_concepts", name))
            # ---- edit scores
            scores_tbl = pa.table({
                "edit_id": edit_ids, "model_key": pa.repeat(MODEL_KEY, n),
                "model_name": pa.repeat(MODEL_NAME, n), "pretrained": pa.repeat(PRETRAINED, n),
                "preprocess": pa.repeat(PREPROCESS, n),
                "clip_i": f32(clip_i), "clip_t_target_caption": f32(clip_t) if has_caps else pa.nulls(n, pa.float32()),
                "clip_t_instruction": f32(clip_t - 0.02),
                "directional_caption": f32(directional) if has_caps else pa.nulls(n, pa.float32()),
                "directional_instruction": f32(directional),
                "directional_instruction_core": f32(directional),
                "pixel_l1": f32(pix * 0.3), "pixel_mse": f32(pix * 0.1), "pixel_changed_frac": f32(pix),
                "phash_distance": pa.array(np.where(ok, ph_dist, 0), pa.int32(), mask=~ok),
                "null_reason": pa.array(null_reason, pa.string()),
            })
            atomic_write_table(scores_tbl, wh.shard_path("edit_scores", name))
            # ---- the browse stage: map points and index vectors, one cluster per dataset and part
            if browse:
                centre = np.random.default_rng([seed, zlib_crc(dataset + part)])
                parts_xy, ids_np = [], edit_ids
                for space in ("image", "instruction", "direction"):
                    c = centre.normal(0, 3, 2)
                    xy = (rng.normal(0, 1, (n, 2)) + c).astype(np.float32)
                    parts_xy.append(pa.table({
                        "edit_id": ids_np, "model_key": pa.repeat(MODEL_KEY, n), "space": pa.repeat(space, n),
                        "method": pa.repeat("pca", n), "x": pa.array(xy[:, 0]), "y": pa.array(xy[:, 1])}))
                atomic_write_table(pa.concat_tables(parts_xy), wh.shard_path("edit_projections", name))
                for space, w in writers.items():
                    v = centre.normal(0, 1, BROWSE_DIM) + rng.normal(0, 1, (n, BROWSE_DIM))
                    w.add(ids_np, v.astype(np.float32))
            runs.append((run_id, dataset, part, f"annotations/{name}", n))
            # ---- truth
            ids = edit_ids.to_numpy(zero_copy_only=False)
            for flag, mask in (("noop", noop), ("misaligned", misaligned), ("full_regeneration", regen),
                               ("broken_image", broken), ("duplicate_pair", dup),
                               ("near_duplicate_source", near), ("chain_break", chain_break),
                               ("cross_overlap", overlap), ("unsafe_image_introduced", unsafe_img)):
                truth.extend((e, flag, None) for e in ids[mask])
            if base_edit is not None:  # both sides of a near-duplicate pair are near-duplicates
                truth.extend((e, "near_duplicate_source", None) for e in base_edit[near])
            pool_mask = ~broken & ~near & ~dup & ~overlap & (turn == 1)
            phash_pool.append(src_ph[pool_mask][:2000])
            phash_pool_ids.append(ids[pool_mask][:2000])
            phash_pool, phash_pool_ids = phash_pool[-20:], phash_pool_ids[-20:]
            sha_pool.setdefault(dataset, np.empty(0, np.uint64))
            sha_pool[dataset] = np.r_[sha_pool[dataset], src_c[~broken & (turn == 1)][:500]][-5000:]
    # rejects and ingest runs
    rej_n = max(1, n_edits // 2000)
    rejects = pa.table({
        "ingest_run_id": pa.array([run_id] * rej_n), "dataset": pa.array(["seed-data-edit"] * rej_n),
        "part": pa.array(["part1-unsplash"] * rej_n),
        "source_file": pa.array(["annotations/split_0001.jsonl"] * rej_n),
        "source_record": pa.array(np.arange(rej_n) + 100_001, pa.int64()),
        "reason": pa.array(["malformed_json", "empty_instruction"] * (rej_n // 2) + ["missing_key"] * (rej_n % 2)),
        "message": pa.array(["synthetic reject"] * rej_n), "raw": pa.array(["{"] * rej_n),
    })
    atomic_write_table(rejects, wh.shard_path("rejects", "synthetic"))
    runs_tbl = pa.table({
        "ingest_run_id": pa.array([r[0] for r in runs]), "dataset": pa.array([r[1] for r in runs]),
        "part": pa.array([r[2] for r in runs]), "source_file": pa.array([r[3] for r in runs]),
        "checksum": pa.array(["0" * 64] * len(runs)), "records_read": pa.array([r[4] for r in runs], pa.int64()),
        "records_loaded": pa.array([r[4] for r in runs], pa.int64()),
        "records_rejected": pa.array([0] * len(runs), pa.int64()),
        "started_at": pa.array([0.0] * len(runs)), "duration_s": pa.array([1.0] * len(runs)),
        "reader": pa.array(["synthetic"] * len(runs)),
    })
    atomic_write_table(runs_tbl, wh.shard_path("ingest_runs", "synthetic"))
    models = pa.table({"model_key": [MODEL_KEY], "model_name": [MODEL_NAME], "pretrained": [PRETRAINED],
                       "weights_sha256": ["0" * 64], "preprocess": [PREPROCESS], "embed_dim": pa.array([512], pa.int32())})
    atomic_write_table(models, wh.shard_path("embed_models", "synthetic"))
    for w in writers.values():
        w.close()
    truth = list(dict.fromkeys(truth))
    truth_tbl = pa.table({"edit_id": pa.array([t[0] for t in truth], pa.string()),
                          "defect": pa.array([t[1] for t in truth], pa.string()),
                          "detail": pa.array([t[2] for t in truth], pa.string())})
    atomic_write_table(truth_tbl, wh.root / "synthetic" / "truth.parquet")
    tc = pc.value_counts(truth_tbl["defect"]).to_pylist()
    (wh.root / "synthetic" / "stamp.json").write_text(json.dumps(stamp(n_edits, seed, concepts, browse, index)))
    return SyntheticSummary(wh.root, n_edits, n_images, {d["values"]: d["counts"] for d in tc},
                            time.perf_counter() - t0)


def stamp(n_edits: int, seed: int, concepts: bool = True, browse: bool = True, index: bool = True) -> dict:
    """What a warehouse was generated with (``DIR/synthetic/stamp.json``)."""
    return {"edits": n_edits, "seed": seed, "concepts": concepts, "browse": browse, "index": browse and index}


def zlib_crc(s: str) -> int:
    import zlib

    return zlib.crc32(s.encode())


def _popcount(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--edits", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-concepts", action="store_true")
    ap.add_argument("--no-index", action="store_true", help="leave out the neighbour indexes (the map points stay)")
    a = ap.parse_args(argv)
    print(make_synthetic_warehouse(a.dir, a.edits, a.seed, concepts=not a.no_concepts, index=not a.no_index).describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
