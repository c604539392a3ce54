"""The shapes-world sample: determinism, layout, counts, and that every ground-truth defect is really on disk."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from editlens.contract.errors import UnusableInput
from editlens.sample import SampleConfig, generate, iter_pairs, run, scenes, texts, world, wrong_instruction
from editlens.sample.config import ANN_DIR, REPO
from editlens.sample.defects import DEFECTS, DEMOGRAPHIC_TERMS, UNSAFE_TERMS, all_terms

N = 300
PER_FILE = 60  # small annotation files, so that records spread over several split_NNNN.jsonl
PARTS = ("part1-openimages", "part1-unsplash", "part2", "part3")
REAL_PART2 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "seed-part2-dev.jsonl"


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "s0"
    summary = run(SampleConfig(out, n_edits=N, seed=0, records_per_file=PER_FILE))
    return out, summary


@pytest.fixture(scope="module")
def truth(sample):
    out, _ = sample
    return _jsonl(out / "truth_edits.jsonl"), _jsonl(out / "ground_truth.jsonl")


def _lines(out: Path, part: str, file: str) -> list[str]:
    return (out / REPO[part] / file).read_text(encoding="utf-8").split("\n")[:-1]


def _record(out: Path, part: str, file: str, line: int) -> str:
    return _lines(out, part, file)[line - 1]


def _fully_decodes(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except (OSError, SyntaxError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_bytes(sample, tmp_path):
    out, _ = sample
    again = tmp_path / "again"
    run(SampleConfig(again, n_edits=N, seed=0, records_per_file=PER_FILE))
    a, b = _tree(out), _tree(again)
    assert a.keys() == b.keys()
    assert a == b


def test_different_seed_differs(sample, tmp_path):
    out, _ = sample
    other = tmp_path / "other"
    run(SampleConfig(other, n_edits=N, seed=1, records_per_file=PER_FILE))
    a, b = _tree(out), _tree(other)
    ann = [k for k in a if k.endswith(".jsonl") and "annotations" in k]
    assert ann and any(a[k] != b.get(k) for k in ann)
    assert a["ground_truth.jsonl"] != b["ground_truth.jsonl"]


# ---------------------------------------------------------------------------------------------------- layout, counts


def test_layout_paths_exist(sample):
    out, _ = sample
    for part in ("part1-openimages", "part1-unsplash", "part1-unsplash-gpt4v", "part2", "part3"):
        files = sorted((out / REPO[part] / ANN_DIR[part]).glob("split_*.jsonl"))
        assert files, part
    assert (out / REPO["part2"] / "real_editing/annotations/split_0001.jsonl").is_file()
    assert (out / REPO["part3"] / "multi_turn_editing/annotations/split_0001.jsonl").is_file()
    assert (out / REPO["part1-openimages"] / "auto_editing/openimages/annotations/split_0000.jsonl").is_file()
    assert (out / REPO["part1-openimages"] / "auto_editing/openimages/annotations/split_0001.jsonl").is_file()
    assert (out / REPO["part1-unsplash"] / "auto_editing/unsplash/annotations/split_0001.jsonl").is_file()
    for f in out.rglob("split_*.jsonl"):
        assert 1 <= len(f.read_text(encoding="utf-8").splitlines()) <= PER_FILE
    assert (out / REPO["part1-openimages"] / "auto_editing/openimages/images/source_images").is_dir()
    assert (out / REPO["part2"] / "real_editing/images/images").is_dir()
    assert (out / REPO["part3"] / "multi_turn_editing/images/data").is_dir()


def test_record_keys_per_part(sample):
    out, _ = sample

    def good(part):  # malformed lines are injected on purpose: parse the others
        rows = []
        for f in sorted((out / REPO[part] / ANN_DIR[part]).glob("split_*.jsonl")):
            for line in f.read_text(encoding="utf-8").splitlines():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
        return rows

    for r in good("part1-openimages"):
        assert set(r) == {"source_image", "target_image", "instruction"}
        assert re.fullmatch(r"source_images/[0-9a-f]{16}\.jpg", r["source_image"])
        assert re.fullmatch(r"target_images/[0-9a-f]{16}\.jpg", r["target_image"])
    for r in good("part1-unsplash"):
        assert set(r) == {"source_image", "target_image", "instruction", "source_caption", "target_caption"}
    for r in good("part1-unsplash-gpt4v"):
        assert set(r) == {
            "source_image",
            "target_image",
            "instruction",
            "source_caption",
            "target_caption",
            "instruction_ori",
        }
        assert r["instruction"] != r["instruction_ori"]
    p2 = good("part2")
    labels = set(scenes.LABELS.values())
    for r in p2:
        assert set(r) == {"source_image", "target_image", "instruction", "task_type", "instruction_cn"}
        n = re.fullmatch(r"images/(\d+)_0\.jpg", r["source_image"]).group(1)
        assert r["target_image"] == f"images/{n}_1.jpg"
        assert 1 <= len(r["task_type"]) <= 2 and set(r["task_type"]) <= labels
        assert re.search(r"[\u4e00-\u9fff]", r["instruction_cn"])
    assert any(len(r["task_type"]) == 2 for r in p2)


def test_counts_match_n(sample, truth):
    out, summary = sample
    rows, gt = truth
    manifest = json.loads((out / "sample_manifest.json").read_text())
    assert manifest["n_edits"] == N == summary.n_edits
    assert sum(summary.edits_per_part.values()) == N
    assert summary.edits_per_part["part1-openimages"] == round(N * 0.35)
    # every edit is either a truth row or inside a malformed line
    lost = sum(g.get("turns", 1) for g in gt if g["defect"] == "malformed_line")
    assert sum(1 for r in rows if r["part"] != "part1-unsplash-gpt4v") + lost == N
    assert sum(1 for r in rows if r["part"] == "part1-unsplash-gpt4v") == summary.gpt4v_rewrites > 0
    assert summary.gpt4v_rewrites == round(summary.records_per_part["part1-unsplash"] * 0.2)
    # lines on disk: records per part add up
    for part in PARTS:
        n_lines = sum(
            len(_lines(out, part, str(f.relative_to(out / REPO[part]))))
            for f in (out / REPO[part] / ANN_DIR[part]).glob("split_*.jsonl")
        )
        assert n_lines == summary.records_per_part[part]
    assert manifest["defects"] == summary.defects
    assert sum(summary.defects.values()) == len(gt)
    assert manifest["clean_edits"] == sum(r["clean"] for r in rows)
    assert "300 edits" in summary.describe()


def test_no_two_annotation_lines_identical(sample):
    out, _ = sample
    lines = [
        line
        for f in sorted(out.rglob("split_*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    assert len(lines) == len(set(lines))


def test_every_defect_kind_present_and_disjoint(truth):
    _, gt = truth
    kinds = {d: sum(g["defect"] == d for g in gt) for d in DEFECTS}
    assert all(k >= 3 for k in kinds.values()), kinds
    keys = [(g["part"], g["source_file"], g["source_record"], g["turn_index"]) for g in gt]
    assert len(keys) == len(set(keys))
    records = [
        (g["part"], g["source_file"], g["source_record"]) for g in gt if g["defect"] == "malformed_line"
    ]
    others = {
        (g["part"], g["source_file"], g["source_record"]) for g in gt if g["defect"] != "malformed_line"
    }
    assert not set(records) & others
    for g in gt:
        assert g["dataset"] == "seed-data-edit" and isinstance(g["turn_index"], int)


def test_truth_rows_point_at_the_records(sample, truth):
    out, _ = sample
    rows, _ = truth
    for r in rows:
        rec = json.loads(_record(out, r["part"], r["source_file"], r["source_record"]))
        key = "instruction" if r["part"] != "part3" else f"instruction_{r['turn_index']}"
        assert rec[key] == r["instruction"]
        assert r["clean"] == (r["defect"] is None)
        assert r["clean"] or r["defect"] in DEFECTS


# ---------------------------------------------------------------------------------------------------- defects on disk


def _by_key(rows):
    return {(r["part"], r["source_file"], r["source_record"], r["turn_index"]): r for r in rows}


def test_noop_targets_are_byte_copies(sample, truth):
    out, _ = sample
    rows, gt = truth
    idx = _by_key(rows)
    noops = [g for g in gt if g["defect"] == "noop"]
    assert noops
    for g in noops:
        r = idx[(g["part"], g["source_file"], g["source_record"], g["turn_index"])]
        assert g["image"] == r["target_image"] != r["source_image"]
        root = out / g["repo"]
        assert (root / r["source_image"]).read_bytes() == (root / r["target_image"]).read_bytes()
    # and clean edits are not no-ops
    for r in rows:
        if r["clean"]:
            root = out / r["repo"]
            assert (root / r["source_image"]).read_bytes() != (root / r["target_image"]).read_bytes()


def test_truncated_images_fail_full_decode(sample, truth):
    out, _ = sample
    _, gt = truth
    bad = [g for g in gt if g["defect"] == "truncated_image"]
    assert bad
    for g in bad:
        p = out / g["repo"] / g["image"]
        assert p.is_file() and not _fully_decodes(p)


def test_missing_images_are_absent_and_referenced(sample, truth):
    out, _ = sample
    _, gt = truth
    bad = [g for g in gt if g["defect"] == "missing_image"]
    assert bad
    for g in bad:
        assert not (out / g["repo"] / g["image"]).exists()
        rec = json.loads(_record(out, g["part"], g["source_file"], g["source_record"]))
        tail = (
            g["image"].split("/images/", 1)[1] if g["part"] != "part3" else g["image"].split("/data/", 1)[1]
        )
        assert tail in rec.values()


def test_clean_images_decode(sample, truth):
    out, _ = sample
    rows, gt = truth
    bad_images = {g["image"] for g in gt if g["defect"] in ("truncated_image", "missing_image")}
    paths = {(r["repo"], p) for r in rows for p in (r["source_image"], r["target_image"])} - {
        (g["repo"], g["image"]) for g in gt if g["image"] in bad_images
    }
    assert len(paths) > N
    for repo, p in sorted(paths):
        assert _fully_decodes(out / repo / p), p
        with Image.open(out / repo / p) as im:
            assert im.format == "JPEG" and 128 <= im.width <= 256 and 128 <= im.height <= 256


def test_malformed_lines_fail_to_parse(sample, truth):
    out, _ = sample
    _, gt = truth
    bad = [g for g in gt if g["defect"] == "malformed_line"]
    assert bad
    flagged = {(g["part"], g["source_file"], g["source_record"]) for g in bad}
    for g in bad:
        with pytest.raises(ValueError):
            json.loads(_record(out, g["part"], g["source_file"], g["source_record"]))
    # and no other line anywhere is malformed
    for part in ("part1-openimages", "part1-unsplash", "part1-unsplash-gpt4v", "part2", "part3"):
        for f in sorted((out / REPO[part] / ANN_DIR[part]).glob("split_*.jsonl")):
            rel = str(f.relative_to(out / REPO[part]))
            for i, line in enumerate(f.read_text(encoding="utf-8").split("\n")[:-1], start=1):
                if (part, rel, i) not in flagged:
                    json.loads(line)


def test_duplicates_are_byte_copies_under_new_paths(sample, truth):
    out, _ = sample
    rows, gt = truth
    idx = _by_key(rows)
    dups = [g for g in gt if g["defect"] == "duplicate_pair"]
    assert dups
    for g in dups:
        r = idx[(g["part"], g["source_file"], g["source_record"], 1)]
        o = g["duplicate_of"]
        orig = idx[(g["part"], o["source_file"], o["source_record"], 1)]
        assert orig["clean"]
        assert (r["source_image"], r["target_image"]) != (orig["source_image"], orig["target_image"])
        root = out / g["repo"]
        assert (root / r["source_image"]).read_bytes() == (root / orig["source_image"]).read_bytes()
        assert (root / r["target_image"]).read_bytes() == (root / orig["target_image"]).read_bytes()
        assert r["instruction"] == orig["instruction"]


def test_wrong_instructions_differ_from_the_real_edit(truth):
    rows, gt = truth
    idx = _by_key(rows)
    wrong = [g for g in gt if g["defect"] == "wrong_instruction"]
    assert wrong
    for g in wrong:
        r = idx[(g["part"], g["source_file"], g["source_record"], g["turn_index"])]
        assert r["instruction"] != r["true_instruction"]


def test_term_defects_carry_their_term(truth):
    rows, gt = truth
    idx = _by_key(rows)
    for kind, lex, field in (
        ("demographic_term", DEMOGRAPHIC_TERMS, "group"),
        ("unsafe_term", UNSAFE_TERMS, "category"),
    ):
        hits = [g for g in gt if g["defect"] == kind]
        assert hits
        for g in hits:
            assert g[field] in lex and g["term"] in [t for t, _ in lex[g[field]]]
            instr = idx[(g["part"], g["source_file"], g["source_record"], g["turn_index"])]["instruction"]
            assert re.search(rf"\b{re.escape(g['term'])}\b", instr)


def test_clean_instructions_contain_no_listed_term(truth):
    rows, gt = truth
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in all_terms()) + r")\b", re.IGNORECASE)
    flagged = {
        (g["part"], g["source_file"], g["source_record"], g["turn_index"])
        for g in gt
        if g["defect"] in ("demographic_term", "unsafe_term")
    }
    for r in rows:
        key = (r["part"], r["source_file"], r["source_record"], r["turn_index"])
        assert (pattern.search(r["instruction"]) is not None) == (key in flagged), r["instruction"]
        assert not pattern.search(r["source_caption"]) and not pattern.search(r["target_caption"])


def test_templates_never_produce_terms():
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in all_terms()) + r")\b", re.IGNORECASE)
    rng = np.random.default_rng(5)
    for _ in range(3000):  # texts only: no rendering needed
        scene = scenes.random_scene(rng)
        if rng.random() < 0.3:
            scene = world.random_edit(scene, rng, ops=list(scenes.EFFECT_OPS)).result
        e = world.random_edit(scene, rng)
        phrased = [
            world.instruction(e, rng),
            world.caption(e.scene),
            world.caption(e.result),
            wrong_instruction(e, rng),
            texts.rewrite_gpt4v(e, rng),
        ]
        for t in phrased:
            assert not pattern.search(t), t


# ---------------------------------------------------------------------------------------------------- multi-turn


def test_multi_turn_sessions_chain(sample, truth):
    out, _ = sample
    rows, gt = truth
    malformed = {
        (g["source_file"], g["source_record"])
        for g in gt
        if g["defect"] == "malformed_line" and g["part"] == "part3"
    }
    lines = [
        (str(f.relative_to(out / REPO["part3"])), i, line)
        for f in sorted((out / REPO["part3"] / ANN_DIR["part3"]).glob("split_*.jsonl"))
        for i, line in enumerate(f.read_text(encoding="utf-8").split("\n")[:-1], start=1)
    ]
    by_session = {}
    for r in rows:
        if r["part"] == "part3":
            by_session.setdefault((r["source_file"], r["source_record"]), {})[r["turn_index"]] = r
            assert r["session_id"] == f"{r['source_file']}#{r['source_record']}"
    turn_counts, nulls = [], 0
    for file, n, line in lines:
        i = (file, n)
        if i in malformed:
            continue
        rec = json.loads(line)
        turns = [
            int(k.split("_")[-1]) for k, v in rec.items() if k.startswith("instruction_") and v is not None
        ]
        nulls += any(v is None for v in rec.values())
        assert turns == list(range(1, len(turns) + 1))
        turn_counts.append(len(turns))
        prev = rec["source_image"]
        assert re.fullmatch(r"\d{8}_\d+P_\d+turns/Data/\d+/[0-9a-f]{32}\.jpg", prev)
        for k in turns:
            r = by_session[i][k]
            assert r["source_image"] == f"multi_turn_editing/images/data/{prev}"
            assert r["target_image"] == f"multi_turn_editing/images/data/{rec[f'edit_image_{k}']}"
            assert rec[f"edit_image_{k}"].endswith(f"_edit{k}.jpg")
            prev = rec[f"edit_image_{k}"]
        assert set(by_session[i]) == set(turns)
    assert max(turn_counts) == 6 and turn_counts.count(6) == 1
    assert min(turn_counts) >= 1 and nulls > 0
    assert sum(1 for c in turn_counts if 2 <= c <= 5) > len(turn_counts) / 2


def test_gpt4v_rows_rewrite_unsplash_records(sample, truth):
    out, _ = sample
    rows, _ = truth
    base = {(r["source_image"], r["target_image"]): r for r in rows if r["part"] == "part1-unsplash"}
    f = out / REPO["part1-unsplash"] / "auto_editing/unsplash/annotations_GPT4V/split_0000.jsonl"
    gpt = _jsonl(f)
    assert gpt
    for g in gpt:
        b = base[
            (
                "auto_editing/unsplash/images/" + g["source_image"],
                "auto_editing/unsplash/images/" + g["target_image"],
            )
        ]
        assert b["clean"] and g["instruction_ori"] == b["instruction"]


# ---------------------------------------------------------------------------------------------------- world


def _arr(img):
    return np.asarray(img, dtype=np.float32)


def test_iter_pairs_deterministic_and_visual():
    a = list(iter_pairs(60, seed=11))
    b = list(iter_pairs(60, seed=11))
    c = list(iter_pairs(60, seed=12))
    assert [p.instruction for p in a] == [p.instruction for p in b]
    assert all(np.array_equal(_arr(x.target), _arr(y.target)) for x, y in zip(a, b))
    assert [p.instruction for p in a] != [p.instruction for p in c]
    for p in a:
        assert p.label == scenes.LABELS[p.op] and p.instruction and p.source.size == p.target.size
        assert 128 <= p.source.width <= 256 and 128 <= p.source.height <= 256
        assert np.abs(_arr(p.source) - _arr(p.target)).mean() > 0.1, (p.op, p.instruction)
    assert all(p.source.size == (160, 160) for p in iter_pairs(5, seed=1, size=160))


def test_global_edits_change_the_image_in_the_stated_direction():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(40):
        scene = scenes.random_scene(rng, size=160)
        src = _arr(world.render(scene).convert("L"))
        for op, param in (
            ("brightness", "up"),
            ("brightness", "down"),
            ("contrast", "up"),
            ("contrast", "down"),
        ):
            out = _arr(
                world.render(scenes.Scene(160, 160, scene.background, scene.shapes, ((op, param),))).convert(
                    "L"
                )
            )
            if op == "brightness":
                assert (out.mean() > src.mean()) == (param == "up")
            elif src.std() > 5:
                assert (out.std() > src.std()) == (param == "up")
        blurred = world.render(scenes.Scene(160, 160, scene.background, scene.shapes, (("blur", ""),)))
        edge = lambda im: _arr(im.convert("L").filter(ImageFilter.FIND_EDGES)).mean()
        assert edge(blurred) < edge(world.render(scene))
        checked += 1
    assert checked == 40


def test_object_edits_match_their_captions():
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(300):
        scene = scenes.random_scene(rng)
        e = world.random_edit(scene, rng)
        seen.add(e.op)
        before, after = world.caption(e.scene), world.caption(e.result)
        if e.op != "move" or texts._region(e.params["shape"]) != texts._region(e.params["new"]):
            assert before != after, e.op
        if e.op == "add":
            assert len(e.result.shapes) == len(scene.shapes) + 1 and e.params["shape"].kind in after
        if e.op == "remove":
            assert len(e.result.shapes) == len(scene.shapes) - 1
        if e.op == "recolor":
            assert f"{e.params['new'].color} {e.params['new'].kind}" in after
    assert seen == set(scenes.OPS)


def test_labels_exist_in_real_part2_taxonomy():
    if not REAL_PART2.exists():
        pytest.skip("reference Part-2 sample not present")
    real = {
        t
        for line in REAL_PART2.read_text(encoding="utf-8").splitlines()
        for t in json.loads(line)["task_type"]
    }
    assert set(scenes.LABELS.values()) <= real


def test_wrong_instruction_names_another_operation():
    rng = np.random.default_rng(2)
    for p in iter_pairs(100, seed=4):
        w = wrong_instruction(p, rng)
        assert w != p.instruction


# ---------------------------------------------------------------------------------------------------- errors, CLI


def test_bad_arguments_and_folders(tmp_path):
    with pytest.raises(UnusableInput) as exc:
        generate(tmp_path / "x", n_edits=5)
    assert exc.value.exit_code == 2
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(UnusableInput):
        generate(busy, n_edits=50)
    assert (busy / "notes.txt").read_text() == "mine"


def test_regenerating_in_place_replaces_the_previous_sample(tmp_path):
    out = tmp_path / "s"
    generate(out, n_edits=150, seed=0)
    assert (out / REPO["part1-openimages"] / ANN_DIR["part1-openimages"] / "split_0000.jsonl").exists()
    generate(out, n_edits=40, seed=2)
    fresh = tmp_path / "fresh"
    generate(fresh, n_edits=40, seed=2)
    assert _tree(out) == _tree(fresh)


def test_cli_sample(tmp_path, capsys):
    from editlens.cli import main

    assert main(["sample", str(tmp_path / "c"), "--edits", "40", "--seed", "3"]) == 0
    assert "40 edits" in capsys.readouterr().out
    assert main(["sample", str(tmp_path / "d"), "--edits", "3"]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("n", [10, 37, 101])
def test_small_samples_add_up(tmp_path, n):
    s = generate(tmp_path / "s", n_edits=n, seed=n)
    assert sum(s.edits_per_part.values()) == n
    rows = _jsonl(tmp_path / "s" / "truth_edits.jsonl")
    gt = _jsonl(tmp_path / "s" / "ground_truth.jsonl")
    lost = sum(g.get("turns", 1) for g in gt if g["defect"] == "malformed_line")
    assert sum(r["part"] != "part1-unsplash-gpt4v" for r in rows) + lost == n
    assert (min(s.defects.values()) >= 3) == (n >= 100)


def test_two_operation_edits_never_undo_themselves():
    """A Part-2 record with two operations never adds a shape and then removes it (a clean record whose
    target would equal its source: a no-op the ground truth would call clean). About 0.2% of second draws do."""
    from editlens.sample.records import _single_edits

    rng = np.random.default_rng(3)
    two = 0
    for _ in range(10000):
        scene = scenes.random_scene(rng)
        edits = _single_edits("part2", scene, rng)
        assert edits[-1].result != scene
        two += len(edits) == 2
    assert two > 1000
