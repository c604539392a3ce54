"""The sample's content: each planned slot's edit(s) and texts (defects injected), its images as JPEG and its
annotation line, written in a fixed order with the ground-truth rows; the GPT-4V rewrites and Part-3 sessions."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from editlens.sample import scenes, texts, world
from editlens.sample.config import (
    ANN_DIR,
    DATASET,
    FIRST_SPLIT,
    IMAGE_DEFECTS,
    IMG_ROOT,
    JPEG_QUALITY,
    MULTI_OP_SHARE,
    OP_WEIGHTS,
    RECORDS_PER_FILE,
    REPO,
)
from editlens.sample.defects import inject_term
from editlens.sample.plan import Slot


@dataclass
class Made:
    """A record's edit(s) and texts, before writing."""

    edits: list  # list of scenes.Edit applied in order (Part-2 may carry two)
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
        true_instr = scenes._pick(rng, (f"{a}, and {b}.", f"{a}. Then {b}.", f"{a} and also {b}"))
    cn = "，并".join(texts.instruction_cn(e) for e in edits) + "。"
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


class Writer:
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
        out = text + scenes._pick(rng, ("}", ' ,"', "]", " garbage"))
    else:
        out = text.replace('", "', '" "', 1)
    try:
        json.loads(out)
    except ValueError:
        return out
    return text[: len(text) // 2]


def _scene_for(part: str, rng: np.random.Generator) -> scenes.Scene:
    scene = scenes.random_scene(rng)
    if part in ("part2", "part1-unsplash") and rng.random() < 0.1:
        scene = world.random_edit(scene, rng, ops=["brightness", "contrast", "blur"]).result
    return scene


def _single_edits(part: str, scene: scenes.Scene, rng: np.random.Generator) -> list:
    e1 = world.random_edit(scene, rng, weights=OP_WEIGHTS[part])
    edits = [e1]
    if part == "part2" and rng.random() < MULTI_OP_SHARE:
        ops = [o for o in world.applicable_ops(e1.result) if o != e1.op]
        if ops:
            second = world.make_edit(e1.result, scenes._pick(rng, ops), rng)
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


def write_single(
    w: Writer, part: str, slots: list[Slot], seed: int, rng: np.random.Generator, gpt4v: list
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
        if isinstance(v, scenes.Shape):
            out[k] = v.ref + (f" size={v.size}" if k == "new" and e.op == "resize" else "")
        elif isinstance(v, scenes.Background):
            out[k] = v.phrase()
        else:
            out[k] = v
    return out


def write_gpt4v(w: Writer, gpt4v: list, rng: np.random.Generator) -> int:
    part = "part1-unsplash-gpt4v"
    for k, (_, record, made, src_rel, tgt_rel, src_cap, tgt_cap) in enumerate(gpt4v):
        rewrite = texts.rewrite_gpt4v(made.edits[0], rng)
        rec = dict(record)
        rec["instruction"] = rewrite
        rec["instruction_ori"] = record["instruction"]
        file = w.ann_file(part, k)
        line = w.add_line(part, file, rec, malformed=False)
        m2 = Made(made.edits, rewrite, rewrite, made.instruction_cn)
        w.truth.append(_truth_row(part, file, line, 1, None, m2, src_rel, tgt_rel, src_cap, tgt_cap, None))
    return len(gpt4v)


def write_part3(w: Writer, slots: list[Slot], seed: int, rng: np.random.Generator) -> None:
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


def _write_session(w: Writer, slot: Slot, sdir: str, seed: int, rng: np.random.Generator) -> None:
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
