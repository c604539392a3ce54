"""Write a shapes-world sample in SEED-Data-Edit's on-disk layout, with injected defects and their ground truth.

Steps: plan (how many edits per part, which slot carries which defect) -> make each record's edit (scene, edit,
texts) -> write images and annotation lines -> write `ground_truth.jsonl`, `truth_edits.jsonl` and
`sample_manifest.json`. Everything is drawn from one numpy Generator seeded from `seed`, images are JPEG at a
fixed quality and files are written in a fixed order, so the same seed gives byte-identical output.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from editlens.contract.errors import UnusableInput
from editlens.sample import world
from editlens.sample.defects import DEFAULT_RATES, DEFECTS, inject_term

JPEG_QUALITY = 90
RECORDS_PER_FILE = 500
PART_SHARES = (("part1-openimages", 0.35), ("part1-unsplash", 0.25), ("part2", 0.20), ("part3", 0.20))
GPT4V_SHARE = 0.2
MULTI_OP_SHARE = 0.25  # Part-2 records carrying two operations
DATASET = "seed-data-edit"

REPO = {
    "part1-openimages": "SEED-Data-Edit-Part1-Openimages",
    "part1-unsplash": "SEED-Data-Edit-Part1-Unsplash",
    "part1-unsplash-gpt4v": "SEED-Data-Edit-Part1-Unsplash",
    "part2": "SEED-Data-Edit-Part2-3",
    "part3": "SEED-Data-Edit-Part2-3",
}
ANN_DIR = {
    "part1-openimages": "auto_editing/openimages/annotations",
    "part1-unsplash": "auto_editing/unsplash/annotations",
    "part1-unsplash-gpt4v": "auto_editing/unsplash/annotations_GPT4V",
    "part2": "real_editing/annotations",
    "part3": "multi_turn_editing/annotations",
}
IMG_ROOT = {
    "part1-openimages": "auto_editing/openimages/images",
    "part1-unsplash": "auto_editing/unsplash/images",
    "part2": "real_editing/images",
    "part3": "multi_turn_editing/images/data",
}
FIRST_SPLIT = {"part1-openimages": 0, "part1-unsplash": 0, "part1-unsplash-gpt4v": 0, "part2": 1, "part3": 1}
OP_WEIGHTS = {
    "part1-openimages": {
        "add": 4.0,
        "remove": 4.0,
        "replace": 1.0,
        "recolor": 0.5,
        "move": 0.5,
        "resize": 0.5,
        "background": 0.5,
        "brightness": 0.3,
        "contrast": 0.3,
        "blur": 0.3,
        "stylize": 0.3,
    },
    "part1-unsplash": {
        "add": 0.5,
        "remove": 0.5,
        "replace": 2.0,
        "recolor": 2.0,
        "move": 0.5,
        "resize": 0.5,
        "background": 2.0,
        "brightness": 1.0,
        "contrast": 1.0,
        "blur": 1.0,
        "stylize": 2.0,
    },
    "part2": None,
    "part3": None,
}
TURN_WEIGHTS = {1: 0.08, 2: 0.25, 3: 0.27, 4: 0.22, 5: 0.18}
IMAGE_DEFECTS = ("truncated_image", "missing_image")
_OUTPUTS = (
    "SEED-Data-Edit-Part1-Openimages",
    "SEED-Data-Edit-Part1-Unsplash",
    "SEED-Data-Edit-Part2-3",
    "ground_truth.jsonl",
    "truth_edits.jsonl",
    "sample_manifest.json",
    ".editlensignore",
)


@dataclass(frozen=True)
class SampleConfig:
    out_dir: Path
    n_edits: int = 2000
    seed: int = 0
    rates: dict = field(default_factory=lambda: dict(DEFAULT_RATES))
    min_per_defect: int = 3  # floor per defect kind once n_edits >= 100
    records_per_file: int = RECORDS_PER_FILE  # annotation lines per split_NNNN.jsonl


@dataclass
class SampleSummary:
    out_dir: Path
    seed: int
    n_edits: int
    edits_per_part: dict[str, int]
    records_per_part: dict[str, int]
    files_per_part: dict[str, int]
    gpt4v_rewrites: int
    sessions: int
    defects: dict[str, int]
    images_written: int

    @property
    def defective_edits(self) -> int:
        return sum(self.defects.values())

    def describe(self) -> str:
        lines = [
            f"sample written to {self.out_dir} (seed {self.seed}): {self.n_edits} edits, "
            f"{self.images_written} images, {self.defective_edits} injected defects (one per edit or line)"
        ]
        for part, n in self.edits_per_part.items():
            extra = f" in {self.sessions} sessions" if part == "part3" else ""
            lines.append(
                f"  {part:<18} {n:>6} edits, {self.records_per_part[part]:>6} records{extra}, "
                f"{self.files_per_part[part]} file(s)"
            )
        lines.append(
            f"  {'part1-unsplash-gpt4v':<18} {self.gpt4v_rewrites:>6} rewritten instructions (extra rows)"
        )
        lines.append("  defects: " + ", ".join(f"{k} {v}" for k, v in self.defects.items()))
        lines.append("  ground truth: ground_truth.jsonl, truth_edits.jsonl, sample_manifest.json")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# plan


@dataclass
class Slot:
    """One annotation record: a single-turn edit, or a Part-3 session of `turns` turns."""

    part: str
    index: int
    turns: int = 1
    defects: dict[int, str] = field(default_factory=dict)  # turn -> defect
    dup_of: int | None = None  # duplicate_pair: index of the original record (same part)
    reserved: bool = False  # original of a duplicate: kept clean
    gpt4v: bool = False

    def free(self, turn: int = 1) -> bool:
        return (
            not self.reserved and "malformed_line" not in self.defects.values() and turn not in self.defects
        )


def _part_sizes(n: int) -> dict[str, int]:
    sizes = {p: int(round(n * s)) for p, s in PART_SHARES[:-1]}
    sizes[PART_SHARES[-1][0]] = n - sum(sizes.values())
    return sizes


def _session_turns(budget: int, rng: np.random.Generator) -> list[int]:
    turns: list[int] = []
    ks, ps = list(TURN_WEIGHTS), np.array(list(TURN_WEIGHTS.values()))
    ps = ps / ps.sum()
    if budget >= 12:
        turns.append(6)  # the one long session the card says cannot exist
    while sum(turns) < budget:
        turns.append(min(int(rng.choice(ks, p=ps)), budget - sum(turns)))
    order = rng.permutation(len(turns))
    return [turns[i] for i in order]


def _defect_counts(cfg: SampleConfig) -> dict[str, int]:
    out = {}
    for d in DEFECTS:
        k = int(round(cfg.rates.get(d, 0.0) * cfg.n_edits))
        if cfg.n_edits >= 100 and cfg.rates.get(d, 0.0) > 0:
            k = max(k, cfg.min_per_defect)
        out[d] = k
    total = sum(out.values())
    cap = cfg.n_edits // 2
    if total > cap:  # tiny samples: scale down, keep the kinds
        out = {d: (k * cap) // total for d, k in out.items()}
    return out


def plan(cfg: SampleConfig, rng: np.random.Generator) -> dict[str, list[Slot]]:
    sizes = _part_sizes(cfg.n_edits)
    slots: dict[str, list[Slot]] = {}
    for part in ("part1-openimages", "part1-unsplash", "part2"):
        slots[part] = [Slot(part, i) for i in range(sizes[part])]
    slots["part3"] = [Slot("part3", i, t) for i, t in enumerate(_session_turns(sizes["part3"], rng))]

    counts = _defect_counts(cfg)
    parts = ["part1-openimages", "part1-unsplash", "part2", "part3"]
    # assign in an order that keeps defects disjoint: whole-record ones first
    order = [
        "malformed_line",
        "duplicate_pair",
        "truncated_image",
        "missing_image",
        "noop",
        "wrong_instruction",
        "demographic_term",
        "unsafe_term",
    ]
    for d in order:
        eligible_parts = [p for p in parts if slots[p] and not (d == "duplicate_pair" and p == "part3")]
        start = int(rng.integers(len(eligible_parts))) if eligible_parts else 0
        for k in range(counts[d]):
            for attempt in range(len(eligible_parts)):
                part = eligible_parts[(start + k + attempt) % len(eligible_parts)]
                if _assign(d, slots[part], rng):
                    break
    # GPT-4V rewrites: a share of the clean Part-1 Unsplash records
    clean = [s for s in slots["part1-unsplash"] if not s.defects and not s.reserved]
    n_rw = int(round(len(slots["part1-unsplash"]) * GPT4V_SHARE))
    for i in sorted(rng.permutation(len(clean))[:n_rw].tolist()):
        clean[i].gpt4v = True
    return slots


def _assign(defect: str, part_slots: list[Slot], rng: np.random.Generator) -> bool:
    """Put `defect` on a random free slot of this part; False when none is left."""
    idx = rng.permutation(len(part_slots)).tolist()
    if defect == "malformed_line":
        for i in idx:
            s = part_slots[i]
            if not s.defects and not s.reserved:
                s.defects[1] = defect
                return True
        return False
    if defect == "duplicate_pair":
        free = [i for i in idx if not part_slots[i].defects and not part_slots[i].reserved]
        if len(free) < 2:
            return False
        a, b = sorted(free[:2])
        part_slots[a].reserved = True
        part_slots[b].defects[1] = defect
        part_slots[b].dup_of = a
        return True
    for i in idx:
        s = part_slots[i]
        turns = [s.turns] if defect in IMAGE_DEFECTS else [int(t) for t in rng.permutation(s.turns) + 1]
        for t in turns:
            if s.free(t) and not (s.part == "part3" and defect in IMAGE_DEFECTS and s.defects):
                s.defects[t] = defect
                return True
    return False


# --------------------------------------------------------------------------------------------------------------
# content


@dataclass
class Made:
    """A record's edit(s) and texts, before writing."""

    edits: list  # list of world.Edit applied in order (Part-2 may carry two)
    instruction: str
    true_instruction: str
    instruction_cn: str
    defect: str | None = None
    term: str | None = None
    group: str | None = None


def _make_texts(edits: list, defect: str | None, rng: np.random.Generator) -> Made:
    parts = [world.instruction(e, rng) for e in edits]
    if len(parts) == 1:
        true_instr = parts[0]
    else:
        a, b = parts[0].rstrip(".?"), parts[1].rstrip(".?")
        b = b[0].lower() + b[1:]
        true_instr = world._pick(rng, (f"{a}, and {b}.", f"{a}. Then {b}.", f"{a} and also {b}"))
    cn = "，并".join(world.instruction_cn(e) for e in edits) + "。"
    made = Made(edits, true_instr, true_instr, cn, defect)
    if defect == "wrong_instruction":
        made.instruction = world.wrong_instruction(edits[0], rng)
    elif defect in ("demographic_term", "unsafe_term"):
        shapes = edits[0].scene.shapes
        ref = f"the {shapes[int(rng.integers(len(shapes)))].ref}" if shapes else "the picture"
        made.instruction, made.term, made.group = inject_term(true_instr, ref, defect, rng)
    return made


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return buf.getvalue()


def _hex(seed: int, *parts) -> str:
    return hashlib.sha1(("|".join(map(str, (seed,) + parts))).encode()).hexdigest()


def _unsplash_id(seed: int, i: int) -> str:
    import base64

    raw = hashlib.sha1(f"{seed}|unsplash|{i}".encode()).digest()
    return base64.urlsafe_b64encode(raw).decode()[:11]


class _Writer:
    """Collects annotation lines per file and writes images; keeps the ground-truth rows."""

    def __init__(self, out: Path, seed: int, rng: np.random.Generator, per_file: int = RECORDS_PER_FILE):
        self.out = out
        self.per_file = per_file
        self.seed = seed
        self.rng = rng
        self.lines: dict[tuple[str, str], list[str]] = {}  # (part, file rel to repo) -> lines
        self.ground_truth: list[dict] = []
        self.truth: list[dict] = []
        self.images_written = 0

    def ann_file(self, part: str, index: int) -> str:
        n = FIRST_SPLIT[part] + index // self.per_file
        return f"{ANN_DIR[part]}/split_{n:04d}.jsonl"

    def write_image(self, part: str, rel: str, data: bytes, defect: str | None = None) -> None:
        """`rel` is relative to the repo folder. A missing image is not written, a truncated one is cut."""
        if defect == "missing_image":
            return
        if defect == "truncated_image":
            frac = float(self.rng.uniform(0.3, 0.7))
            data = data[: max(64, int(len(data) * frac))]
        path = self.out / REPO[part] / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.images_written += 1

    def add_line(self, part: str, file: str, record: dict, malformed: bool) -> int:
        text = json.dumps(record, ensure_ascii=False)
        if malformed:
            text = _corrupt(text, self.rng)
        lines = self.lines.setdefault((part, file), [])
        lines.append(text)
        return len(lines)

    def defect_row(
        self, defect: str, part: str, file: str, line: int, turn: int, image: str | None, **extra
    ) -> None:
        row = {
            "defect": defect,
            "dataset": DATASET,
            "part": part,
            "repo": REPO[part],
            "source_file": file,
            "source_record": line,
            "turn_index": turn,
            "image": image,
            "term": None,
            "group": None,
            "category": None,
        }
        row.update(extra)
        self.ground_truth.append(row)

    def flush(self) -> dict[str, int]:
        files_per_part: dict[str, int] = {}
        for (part, file), lines in sorted(self.lines.items()):
            path = self.out / REPO[part] / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            files_per_part[part] = files_per_part.get(part, 0) + 1
        return files_per_part


def _corrupt(text: str, rng: np.random.Generator) -> str:
    mode = int(rng.integers(3))
    if mode == 0:
        out = text[: int(len(text) * float(rng.uniform(0.3, 0.9)))]
    elif mode == 1:
        out = text + world._pick(rng, ("}", ' ,"', "]", " garbage"))
    else:
        out = text.replace('", "', '" "', 1)
    try:
        json.loads(out)
    except ValueError:
        return out
    return text[: len(text) // 2]


def _scene_for(part: str, rng: np.random.Generator) -> world.Scene:
    scene = world.random_scene(rng)
    if part in ("part2", "part1-unsplash") and rng.random() < 0.1:
        scene = world.random_edit(scene, rng, ops=["brightness", "contrast", "blur"]).result
    return scene


def _single_edits(part: str, scene: world.Scene, rng: np.random.Generator) -> list:
    e1 = world.random_edit(scene, rng, weights=OP_WEIGHTS[part])
    edits = [e1]
    if part == "part2" and rng.random() < MULTI_OP_SHARE:
        ops = [o for o in world.applicable_ops(e1.result) if o != e1.op]
        if ops:
            second = world.make_edit(e1.result, world._pick(rng, ops), rng)
            if second.result != scene:  # not one that undoes the first (add a shape, then remove that shape)
                edits.append(second)
    return edits


def _single_paths(part: str, slot: Slot, seed: int, p2_numbers: list[int]) -> tuple[str, str, str, str]:
    """(source, target) paths as records hold them, and the same relative to the repo folder."""
    if part == "part1-openimages":
        oid = _hex(seed, "oi", slot.index)[:16]
        src, tgt = f"source_images/{oid}.jpg", f"target_images/{oid}.jpg"
    elif part == "part1-unsplash":
        uid = _unsplash_id(seed, slot.index)
        src, tgt = f"source_images/{uid}.jpg", f"target_images/{uid}.jpg"
    else:
        n = p2_numbers[slot.index]
        src, tgt = f"images/{n}_0.jpg", f"images/{n}_1.jpg"
    root = IMG_ROOT[part]
    return src, tgt, f"{root}/{src}", f"{root}/{tgt}"


def _write_single(
    w: _Writer, part: str, slots: list[Slot], seed: int, rng: np.random.Generator, gpt4v: list
) -> None:
    p2_numbers = np.cumsum(rng.integers(1, 40, size=len(slots))).tolist() if part == "part2" else []
    made_by_index: dict[int, tuple] = {}
    for slot in slots:
        defect = slot.defects.get(1)
        src, tgt, src_rel, tgt_rel = _single_paths(part, slot, seed, p2_numbers)
        file = w.ann_file(part, slot.index)
        if defect == "duplicate_pair":
            made, scene0, scene1, src_bytes, tgt_bytes = made_by_index[slot.dup_of]
        else:
            scene0 = _scene_for(part, rng)
            edits = _single_edits(part, scene0, rng)
            scene1 = edits[-1].result
            made = _make_texts(edits, defect, rng)
            src_bytes = _jpeg(world.render(scene0))
            tgt_bytes = src_bytes if defect == "noop" else _jpeg(world.render(scene1))
        if slot.reserved:
            made_by_index[slot.index] = (made, scene0, scene1, src_bytes, tgt_bytes)
        src_cap, tgt_cap = world.caption(scene0), world.caption(scene1)
        record: dict = {"source_image": src, "target_image": tgt, "instruction": made.instruction}
        if part == "part1-unsplash":
            record["source_caption"] = src_cap
            record["target_caption"] = tgt_cap
        if part == "part2":
            record = {
                "target_image": tgt,
                "source_image": src,
                "instruction": made.instruction,
                "task_type": [e.label for e in made.edits],
                "instruction_cn": made.instruction_cn,
            }
        img_defect_on = None
        if defect in IMAGE_DEFECTS:
            img_defect_on = "source" if rng.random() < 0.5 else "target"
        w.write_image(part, src_rel, src_bytes, defect if img_defect_on == "source" else None)
        w.write_image(part, tgt_rel, tgt_bytes, defect if img_defect_on == "target" else None)
        line = w.add_line(part, file, record, malformed=defect == "malformed_line")
        if defect:
            image = None
            if defect in IMAGE_DEFECTS:
                image = src_rel if img_defect_on == "source" else tgt_rel
            elif defect in ("noop", "duplicate_pair"):
                image = tgt_rel
            extra = {}
            if made.term and defect == "demographic_term":
                extra = {"term": made.term, "group": made.group}
            elif made.term:
                extra = {"term": made.term, "category": made.group}
            if defect == "duplicate_pair":
                _, _, osrc_rel, otgt_rel = _single_paths(part, slots[slot.dup_of], seed, p2_numbers)
                extra = {
                    "duplicate_of": {
                        "source_file": w.ann_file(part, slot.dup_of),
                        "source_record": (slot.dup_of % w.per_file) + 1,
                        "source_image": osrc_rel,
                        "target_image": otgt_rel,
                    }
                }
            w.defect_row(defect, part, file, line, 1, image, **extra)
        if defect != "malformed_line":
            w.truth.append(
                _truth_row(part, file, line, 1, None, made, src_rel, tgt_rel, src_cap, tgt_cap, defect)
            )
        if slot.gpt4v:
            gpt4v.append((slot.index, record, made, src_rel, tgt_rel, src_cap, tgt_cap))


def _truth_row(
    part, file, line, turn, session, made: Made, src_rel, tgt_rel, src_cap, tgt_cap, defect
) -> dict:
    return {
        "dataset": DATASET,
        "part": part,
        "repo": REPO[part],
        "source_file": file,
        "source_record": line,
        "turn_index": turn,
        "session_id": session,
        "labels": [e.label for e in made.edits],
        "ops": [e.op for e in made.edits],
        "op": made.edits[0].op,
        "params": [_params(e) for e in made.edits],
        "clean": defect is None,
        "defect": defect,
        "source_image": src_rel,
        "target_image": tgt_rel,
        "instruction": made.instruction,
        "true_instruction": made.true_instruction,
        "source_caption": src_cap,
        "target_caption": tgt_cap,
    }


def _params(e) -> dict:
    out = {}
    for k, v in e.params.items():
        if isinstance(v, world.Shape):
            out[k] = v.ref + (f" size={v.size}" if k == "new" and e.op == "resize" else "")
        elif isinstance(v, world.Background):
            out[k] = v.phrase()
        else:
            out[k] = v
    return out


def _write_gpt4v(w: _Writer, gpt4v: list, rng: np.random.Generator) -> int:
    part = "part1-unsplash-gpt4v"
    for k, (_, record, made, src_rel, tgt_rel, src_cap, tgt_cap) in enumerate(gpt4v):
        rewrite = world.rewrite_gpt4v(made.edits[0], rng)
        rec = dict(record)
        rec["instruction"] = rewrite
        rec["instruction_ori"] = record["instruction"]
        file = w.ann_file(part, k)
        line = w.add_line(part, file, rec, malformed=False)
        m2 = Made(made.edits, rewrite, rewrite, made.instruction_cn)
        w.truth.append(_truth_row(part, file, line, 1, None, m2, src_rel, tgt_rel, src_cap, tgt_cap, None))
    return len(gpt4v)


def _write_part3(w: _Writer, slots: list[Slot], seed: int, rng: np.random.Generator) -> None:
    # sessions are grouped in batch folders named like 20240407_586P_2211turns/Data/<k>/
    batches: list[list[Slot]] = []
    i = 0
    while i < len(slots):
        size = int(rng.integers(20, 60))
        batches.append(slots[i : i + size])
        i += size
    day = 0
    for b, batch in enumerate(batches):
        day += int(rng.integers(1, 9))
        date = np.datetime64("2024-03-20") + np.timedelta64(day, "D")
        folder = f"{str(date).replace('-', '')}_{len(batch)}P_{sum(s.turns for s in batch)}turns"
        first = int(rng.integers(1, 200))
        for j, slot in enumerate(batch):
            _write_session(w, slot, f"{folder}/Data/{first + j}", seed, rng)


def _write_session(w: _Writer, slot: Slot, sdir: str, seed: int, rng: np.random.Generator) -> None:
    part = "part3"
    file = w.ann_file(part, slot.index)
    h = _hex(seed, "mt", slot.index)[:32]
    root = IMG_ROOT[part]
    malformed = "malformed_line" in slot.defects.values()
    scene = _scene_for(part, rng)
    src_path = f"{sdir}/{h}.jpg"
    prev_bytes = _jpeg(world.render(scene))
    prev_path = src_path
    record: dict = {"source_image": src_path}
    w.write_image(part, f"{root}/{src_path}", prev_bytes)
    rows = []
    for t in range(1, slot.turns + 1):
        defect = None if malformed else slot.defects.get(t)
        edit = world.random_edit(scene, rng)
        made = _make_texts([edit], defect, rng)
        out_path = f"{sdir}/{h}_edit{t}.jpg"
        out_bytes = prev_bytes if defect == "noop" else _jpeg(world.render(edit.result))
        w.write_image(part, f"{root}/{out_path}", out_bytes, defect)
        record[f"instruction_{t}"] = made.instruction
        record[f"edit_image_{t}"] = out_path
        rows.append(
            (
                t,
                defect,
                made,
                f"{root}/{prev_path}",
                f"{root}/{out_path}",
                world.caption(scene),
                world.caption(edit.result),
            )
        )
        if defect != "noop":  # a no-op turn changed nothing: the next turn edits the unchanged image
            scene = edit.result
        prev_bytes, prev_path = out_bytes, out_path
    if slot.turns < 5 and rng.random() < 0.3:  # some files spell out the unused turns as null
        for t in range(slot.turns + 1, 6):
            record[f"instruction_{t}"] = None
            record[f"edit_image_{t}"] = None
    line = w.add_line(part, file, record, malformed=malformed)
    if malformed:
        w.defect_row("malformed_line", part, file, line, 1, None, turns=slot.turns)
        return
    session = f"{file}#{line}"
    for t, defect, made, s_rel, t_rel, s_cap, t_cap in rows:
        if defect:
            extra = {}
            if defect == "demographic_term":
                extra = {"term": made.term, "group": made.group}
            elif defect == "unsafe_term":
                extra = {"term": made.term, "category": made.group}
            image = t_rel if defect in IMAGE_DEFECTS + ("noop",) else None
            w.defect_row(defect, part, file, line, t, image, **extra)
        w.truth.append(_truth_row(part, file, line, t, session, made, s_rel, t_rel, s_cap, t_cap, defect))


# --------------------------------------------------------------------------------------------------------------
# entry point


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UnusableInput(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "sample_manifest.json").exists():
            raise UnusableInput(
                f"{out} is not empty and holds no editlens sample (sample_manifest.json): "
                "choose an empty or new folder"
            )
        for name in _OUTPUTS:  # replace a previous sample: only the paths this generator writes
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8"
    )


def run(cfg: SampleConfig) -> SampleSummary:
    if not isinstance(cfg.n_edits, int) or cfg.n_edits < 10:
        raise UnusableInput(f"--edits must be an integer >= 10 (got {cfg.n_edits})")
    if cfg.n_edits > 5_000_000:
        raise UnusableInput(f"--edits {cfg.n_edits} is more than this generator is meant for (5,000,000)")
    unknown = set(cfg.rates) - set(DEFECTS)
    if unknown:
        raise UnusableInput(f"unknown defect kinds: {sorted(unknown)}")
    if cfg.records_per_file < 1:
        raise UnusableInput(f"records_per_file must be >= 1 (got {cfg.records_per_file})")
    out = Path(cfg.out_dir)
    _prepare_out(out)
    rng = np.random.default_rng([int(cfg.seed), 0xED17])
    slots = plan(cfg, rng)
    w = _Writer(out, int(cfg.seed), rng, cfg.records_per_file)
    gpt4v: list = []
    for part in ("part1-openimages", "part1-unsplash", "part2"):
        _write_single(w, part, slots[part], int(cfg.seed), rng, gpt4v)
    n_rw = _write_gpt4v(w, gpt4v, rng)
    _write_part3(w, slots["part3"], int(cfg.seed), rng)
    files = w.flush()

    defects = {d: 0 for d in DEFECTS}
    for row in w.ground_truth:
        defects[row["defect"]] += 1
    part_order = {p: i for i, p in enumerate(REPO)}
    w.ground_truth.sort(
        key=lambda r: (part_order[r["part"]], r["source_file"], r["source_record"], r["turn_index"])
    )
    _write_jsonl(out / "ground_truth.jsonl", w.ground_truth)
    _write_jsonl(out / "truth_edits.jsonl", w.truth)
    edits = {p: sum(s.turns for s in slots[p]) for p in slots}
    records = {p: len(slots[p]) for p in slots}
    summary = SampleSummary(
        out_dir=out,
        seed=int(cfg.seed),
        n_edits=cfg.n_edits,
        edits_per_part=edits,
        records_per_part=records,
        files_per_part={p: files.get(p, 0) for p in slots},
        gpt4v_rewrites=n_rw,
        sessions=len(slots["part3"]),
        defects=defects,
        images_written=w.images_written,
    )
    manifest = {
        "generator": "editlens.sample",
        "version": 1,
        "dataset": DATASET,
        "seed": int(cfg.seed),
        "n_edits": cfg.n_edits,
        "edits_per_part": edits,
        "records_per_part": records,
        "files_per_part": summary.files_per_part,
        "gpt4v_rewrites": n_rw,
        "sessions": len(slots["part3"]),
        "defects": defects,
        "defect_rates": {d: cfg.rates.get(d, 0.0) for d in DEFECTS},
        "images_written": w.images_written,
        "jpeg_quality": JPEG_QUALITY,
        "repos": sorted(set(REPO.values())),
        "truth_rows": len(w.truth),
        "clean_edits": sum(1 for r in w.truth if r["clean"]),
    }
    (out / "sample_manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    # the ground-truth files are not annotations: ingest's discovery skips what this file names
    (out / ".editlensignore").write_text("ground_truth.jsonl\ntruth_edits.jsonl\nsample_manifest.json\n")
    return summary


def generate(out_dir, n_edits: int = 2000, seed: int = 0) -> SampleSummary:
    """Write a shapes-world sample of `n_edits` edits in SEED-Data-Edit's layout under `out_dir`."""
    return run(SampleConfig(out_dir=Path(out_dir), n_edits=n_edits, seed=seed))
