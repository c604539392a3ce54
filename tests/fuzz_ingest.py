"""Malformed-input generator and checker for the ingest readers, shared by the fuzz tests
(`tests/test_ingest_fuzz.py`, hypothesis) and the long run (`bench/fuzz_ingest.py`).

`build(reader, rng, root)` writes one dataset in the reader's real layout whose records carry random defects
(truncation, random bytes, wrong types, deep nesting, invalid UTF-8, duplicate keys, path tricks, oversize lines,
absurd turn numbers) beside clean records; `build_special(kind, rng, root)` one whose annotation file is a special
file (FIFO, symlink to /dev/zero, symlink out of the root, a name that is not UTF-8). `check(case, wh)` runs
ingest and returns the violations of the contract: a traceback (an exception or a `reader_error` reject), a
record neither loaded nor rejected, a clean record not loaded (its file rejected whole for a bad record), an
unsafe path loaded, totals that do not add up.
"""

from __future__ import annotations

import json
import os
import random
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from editlens.contract.limits import IngestLimits
from editlens.contract.paths import relative_path, within
from editlens.ingest.main import IngestConfig, run_ingest
from editlens.warehouse import Warehouse

# small limits so the fuzz inputs stay small while crossing every limit
LIMITS = IngestLimits(max_line_bytes=8192, max_depth=32, max_turns=50, max_file_bytes=1 << 20)
SECRET = "SECRET"  # every unsafe path a case plants holds this token: a loaded one is a violation
UNSAFE = (f"/etc/{SECRET}.jpg", f"../../{SECRET}.jpg", f"a/../../{SECRET}.jpg", f"http://example.com/{SECRET}.jpg",
          f"file:///{SECRET}.jpg", f"C:\\{SECRET}.jpg", f"\\\\host\\{SECRET}.jpg", f"a\x00{SECRET}.jpg",
          f"s3://bucket/{SECRET}.jpg", f"data:image/png;base64,{SECRET}", f"link_{SECRET}.jpg",
          f"linkdir_{SECRET}/x.jpg")
RECORD_DEFECTS = ("truncate", "random_bytes", "wrong_type", "deep", "invalid_utf8", "duplicate_key",
                  "nested_duplicate_key", "unsafe_path", "oversize", "not_object")
READERS = ("seed-part1", "seed-part2", "seed-part3", "mapped-jsonl", "magicbrush-test", "ip2p-original",
           "ip2p-parquet", "magicbrush-parquet", "hqedit-parquet")
SPECIAL = ("fifo", "dev_zero", "symlink_out", "non_utf8_name", "directory_named_jsonl")
PNG = b"\x89PNG\r\n\x1a\nfuzz"
# defects that always make the record a reject (a wrong type may sit in an optional field and load)
MUST_REJECT = {"truncate", "random_bytes", "deep", "invalid_utf8", "duplicate_key", "nested_duplicate_key",
               "unsafe_path", "oversize", "not_object", "huge_turn", "duplicate_session", "unsafe_seed",
               "null_text", "empty_text", "long_text", "missing_prompt"}


@dataclass
class Case:
    reader: str
    root: Path  # what ingest is pointed at
    source_file: str = ""  # the annotation file, relative to its dataset root
    expected: set = field(default_factory=set)  # source_record of every record the file holds
    clean: set = field(default_factory=set)  # records without a defect: must be loaded
    must_reject: set = field(default_factory=set)  # records whose defect no reader may load
    rows: int | None = None  # ip2p original: one row (edit or reject) per seeds.json entry
    file_level: bool = False  # the file itself is unusable: one file-level reject is right
    column_map: dict | None = None
    defects: dict = field(default_factory=dict)  # defect -> count


def _deep(rng: random.Random, depth: int) -> str:
    """JSON text of a value nested `depth` levels (arrays and objects mixed)."""
    opens, closes = [], []
    for _ in range(depth):
        if rng.random() < 0.5:
            opens.append("[")
            closes.append("]")
        else:
            opens.append('{"k": ')
            closes.append("}")
    return "".join(opens) + rng.choice(["1", '"x"', "null"]) + "".join(reversed(closes))


DEEP = '"__DEEP__"'


def _with_deep(text: str, rng: random.Random) -> str:
    return text.replace(DEEP, _deep(rng, rng.choice([LIMITS.max_depth + 1, 300, 1000, 1100, 5000])), 1)


def _wrong(rng: random.Random):
    return rng.choice([0, -1, 3.5, True, [], ["a", 1], {"a": 1}, {}, [[["x"]]]])


def _dumps(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False)


def _image_tricks(root_images: Path, outside: Path) -> None:
    """Symlinks planted in the image folder: one file and one folder pointing outside the dataset root."""
    root_images.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    (outside / f"{SECRET}.jpg").write_bytes(PNG)
    (outside / "x.jpg").write_bytes(PNG)
    for name, target in ((f"link_{SECRET}.jpg", outside / f"{SECRET}.jpg"), (f"linkdir_{SECRET}", outside)):
        if not (root_images / name).is_symlink():
            (root_images / name).symlink_to(target)


def defect_line(rng: random.Random, rec: dict, defect: str, keys: tuple[str, ...], path_keys: tuple[str, ...],
                text_key: str) -> bytes:
    """One JSON Lines line: `rec` with `defect` applied."""
    r = dict(rec)
    if defect == "truncate":
        s = _dumps(r).encode()
        return s[: rng.randrange(1, len(s) - 1)]
    if defect == "random_bytes":
        return b"\x01" + bytes(b for b in rng.randbytes(rng.randrange(1, 200)) if b != 10)
    if defect == "wrong_type":
        r[rng.choice(keys)] = _wrong(rng)
    elif defect == "deep":
        r[rng.choice(keys + ("meta",))] = "__DEEP__"
        return _with_deep(_dumps(r), rng).encode()
    elif defect == "invalid_utf8":
        s = _dumps(r).encode()
        i = s.index(text_key.encode()) + len(text_key) + 4
        return s[:i] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe9t\xe9"]) + s[i:]
    elif defect == "duplicate_key":
        k = rng.choice(keys)
        return ("{" + json.dumps(k) + ": " + json.dumps(rng.choice(["other", f"{SECRET}.jpg", 1])) + ", "
                + _dumps(r)[1:]).encode()
    elif defect == "nested_duplicate_key":
        return (_dumps(r)[:-1] + ', "meta": {"a": 1, "b": {"c": 1, "c": 2}}}').encode()
    elif defect == "unsafe_path":
        r[rng.choice(path_keys)] = rng.choice(UNSAFE)
    elif defect == "oversize":
        r["padding"] = "p" * (LIMITS.max_line_bytes + rng.randrange(1, 5000))
    elif defect == "not_object":
        return rng.choice([b"[1, 2]", b'"text"', b"42", b"null", b"true"])
    return _dumps(r).encode()


def _pick(rng: random.Random, p_defect: float, defects=RECORD_DEFECTS) -> str | None:
    return rng.choice(defects) if rng.random() < p_defect else None


def _jsonl_case(case: Case, rng: random.Random, path: Path, n: int, make, keys, path_keys, text_key,
                p_defect: float, extra_defects=()) -> Case:
    lines: list[bytes] = []
    lineno = 0
    for i in range(n):
        if rng.random() < 0.1:
            lines.append(rng.choice([b"", b"   ", b"\t"]))  # blank lines are not records
            lineno += 1
        d = _pick(rng, p_defect if i or not case.column_map else 0.0, RECORD_DEFECTS + tuple(extra_defects))
        rec = make(i)
        if d == "huge_turn":
            turn = rng.choice([LIMITS.max_turns + 1, 2_000_000, 10**18])
            line = _dumps({"source_image": "s.jpg", f"instruction_{turn}": "x", f"edit_image_{turn}": "y.jpg"}).encode()
        elif d is None:
            line = _dumps(rec).encode()
        else:
            line = defect_line(rng, rec, d, keys, path_keys, text_key)
        lineno += 1
        lines.append(line)
        case.expected.add(lineno)
        if d is None:
            case.clean.add(lineno)
        elif d in MUST_REJECT and not (d == "unsafe_path" and case.reader == "seed-part3"):
            case.must_reject.add(lineno)  # (a Part-3 turn's bad path rejects the turns using it, not later ones)
        if d is not None:
            case.defects[d] = case.defects.get(d, 0) + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + (b"\n" if rng.random() < 0.8 else b""))
    return case


def build(reader: str, rng: random.Random, base: Path, n: int | None = None, p_defect: float = 0.5) -> Case:
    """One dataset for `reader` under `base` (a fresh folder) with `n` records, each defective with `p_defect`."""
    n = n if n is not None else rng.randrange(1, 25)
    outside = base / "outside"
    if reader in ("seed-part1", "seed-part2", "mapped-jsonl"):
        if reader == "seed-part1":
            repo, rel, img = base / "repo", "auto_editing/openimages/annotations/split_0000.jsonl", \
                "auto_editing/openimages/images"
        elif reader == "seed-part2":
            repo, rel, img = base / "repo", "real_editing/annotations/split_0001.jsonl", "real_editing/images"
        else:
            repo, rel, img = base / "custom", "edits.jsonl", ""
        _image_tricks(repo / img if img else repo, outside)
        uid = rng.randrange(1 << 30)

        def make(i):
            r = {"source_image": f"source_images/{uid}_{i}.jpg", "target_image": f"target_images/{uid}_{i}.jpg",
                 "instruction": f"make it blue {uid} {i}"}
            if reader == "seed-part2":
                r["task_type"] = ["color-change"]
            return r

        keys = ("source_image", "target_image", "instruction") + (("task_type",) if reader == "seed-part2" else ())
        case = Case(reader, repo, rel)
        if reader == "mapped-jsonl":
            case.column_map = {"source": "source_image", "target": "target_image", "instruction": "instruction"}
        return _jsonl_case(case, rng, repo / rel, n, make, keys, ("source_image", "target_image"),
                           "instruction", p_defect)
    if reader == "seed-part3":
        repo, rel = base / "repo", "multi_turn_editing/annotations/split_0001.jsonl"
        _image_tricks(repo / "multi_turn_editing/images/data", outside)
        uid = rng.randrange(1 << 30)

        def make(i):
            r = {"source_image": f"s/{uid}_{i}.jpg"}
            for k in range(1, rng.randrange(2, 5)):
                r[f"instruction_{k}"] = f"turn {k} of {uid} {i}"
                r[f"edit_image_{k}"] = f"s/{uid}_{i}_{k}.jpg"
            return r

        return _jsonl_case(Case(reader, repo, rel), rng, repo / rel, n, make,
                           ("source_image", "instruction_1", "edit_image_1"), ("source_image", "edit_image_1"),
                           "instruction_1", p_defect, extra_defects=("huge_turn",))
    if reader == "magicbrush-test":
        return _magicbrush_test(rng, base, n, p_defect)
    if reader == "ip2p-original":
        return _ip2p_original(rng, base, n, p_defect)
    return _parquet_case(reader, rng, base, n, p_defect)


def _magicbrush_test(rng, base, n, p_defect) -> Case:
    top = base / "MagicBrush_test" / "test"
    top.mkdir(parents=True)
    _image_tricks(top / "images", base / "outside")
    case = Case("magicbrush-test", base / "MagicBrush_test", "test/edit_sessions.json")
    parts: list[str] = []
    uid = rng.randrange(1 << 20)
    sids = []
    for pos in range(1, n + 1):
        sid = f"{uid}{pos:03d}"
        turns = [{"input": f"{sid}-input.png" if k == 1 else f"{sid}-output{k - 1}.png", "mask": f"{sid}-mask{k}.png",
                  "output": f"{sid}-output{k}.png", "instruction": f"turn {k} of {sid}"}
                 for k in range(1, rng.randrange(2, 4))]
        d = _pick(rng, p_defect, ("wrong_type", "deep", "duplicate_key", "nested_duplicate_key", "unsafe_path",
                                  "not_object", "duplicate_session"))
        if d == "duplicate_session" and not sids:
            d = None  # nothing to repeat yet
        text = json.dumps(turns)
        if d == "wrong_type":
            turns[0][rng.choice(["input", "output", "instruction"])] = _wrong(rng)
            text = json.dumps(turns)
        elif d == "deep":
            turns[0][rng.choice(["meta", "input", "instruction"])] = "__DEEP__"
            text = _with_deep(json.dumps(turns), rng)
        elif d == "duplicate_key":
            text = "[" + '{"instruction": "dup", ' + json.dumps(turns[0])[1:] + "".join(
                ", " + json.dumps(t) for t in turns[1:]) + "]"
        elif d == "nested_duplicate_key":
            text = json.dumps(turns)[:-2] + ', "meta": {"a": 1, "a": 2}}]'
        elif d == "unsafe_path":
            turns[0][rng.choice(["input", "output"])] = rng.choice(UNSAFE)
            text = json.dumps(turns)
        elif d == "not_object":
            text = rng.choice(['"x"', "3", "null", "[]", "[1]"])
        if d == "duplicate_session" and sids:
            sid = rng.choice(sids)  # a session id named twice: the later one must be a reject, not an overwrite
        sids.append(sid)
        parts.append(json.dumps(sid) + ": " + text)
        case.expected.add(pos)
        if d is None:
            case.clean.add(pos)
        elif d in MUST_REJECT and d != "unsafe_path":
            case.must_reject.add(pos)  # (a turn's bad path rejects the turns using it, not the session)
        if d is not None:
            case.defects[d] = case.defects.get(d, 0) + 1
    (top / "edit_sessions.json").write_text("{" + ", ".join(parts) + "}", encoding="utf-8")
    (top / "global_descriptions.json").write_text("{}")
    (top / "local_descriptions.json").write_text("{}")
    return case


def _ip2p_original(rng, base, n, p_defect) -> Case:
    top = base / "ip2p-original" / "data" / "clip-filtered-dataset"
    top.mkdir(parents=True)
    _image_tricks(top, base / "outside")
    case = Case("ip2p-original", base / "ip2p-original", "data/clip-filtered-dataset/seeds.json", rows=n)
    entries: list[str] = []
    for i in range(1, n + 1):
        d_name = f"{i:07d}"
        seed = rng.randrange(1000, 9999)
        d = _pick(rng, p_defect, ("wrong_type", "deep", "duplicate_key", "unsafe_path", "unsafe_seed", "truncate",
                                  "invalid_utf8", "not_object", "missing_prompt", "bad_metadata"))
        prompt = {"input": f"a house {i}", "edit": f"make it red {i}", "output": f"a red house {i}"}
        pdir = top / d_name
        pdir.mkdir()
        entry = json.dumps([d_name, [seed]])
        ptext = json.dumps(prompt).encode()
        meta = json.dumps({"seed": seed, "p2p_threshold": 0.5, "cfg_scale": 7.5}).encode() + b"\n"
        if d == "wrong_type":
            prompt[rng.choice(["edit", "input", "output"])] = _wrong(rng)
            ptext = json.dumps(prompt).encode()
        elif d == "deep":
            prompt[rng.choice(["meta", "edit"])] = "__DEEP__"
            ptext = _with_deep(json.dumps(prompt), rng).encode()
        elif d == "duplicate_key":
            ptext = b'{"edit": "other", ' + ptext[1:]
        elif d == "unsafe_path":
            entry = json.dumps([rng.choice(UNSAFE), [seed]])
        elif d == "unsafe_seed":
            entry = json.dumps([d_name, [rng.choice(["../../" + SECRET, "/" + SECRET, f"a/../../{SECRET}"])]])
        elif d == "truncate":
            ptext = ptext[: rng.randrange(1, len(ptext) - 1)]
        elif d == "invalid_utf8":
            ptext = ptext.replace(b"red", b"r\xffd")
        elif d == "not_object":
            entry = rng.choice(['"x"', "3", "null", "[]", f'["{d_name}"]', f'["{d_name}", 5]', f'[["{d_name}"], []]'])
        elif d == "bad_metadata":
            meta = rng.choice([b"{not json\n", b"[1]\n", _with_deep(json.dumps({"seed": seed, "x": DEEP}), rng).encode(),
                               b'{"seed": %d, "seed": 1}\n' % seed])
        entries.append(entry)
        if d != "missing_prompt":
            (pdir / "prompt.json").write_bytes(ptext)
        (pdir / "metadata.jsonl").write_bytes(meta)
        if d is None:
            case.clean.add(i)
        elif d in MUST_REJECT:
            case.must_reject.add(i)
        if d is not None:
            case.defects[d] = case.defects.get(d, 0) + 1
        case.expected.add(i)
    (top / "seeds.json").write_text("[" + ", ".join(entries) + "]")
    return case


HF_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _parquet_case(reader, rng, base, n, p_defect) -> Case:
    repo = base / {"ip2p-parquet": "instructpix2pix", "magicbrush-parquet": "magicbrush",
                   "hqedit-parquet": "hq-edit"}[reader]
    rel = "data/train-00000-of-00001.parquet"
    case = Case(reader, repo, rel)
    uid = rng.randrange(1 << 30)
    cols: dict[str, list] = {}
    meta: list = []
    deep_depth = rng.choice([LIMITS.max_depth + 1, 40])  # deeper: a schema Arrow cannot open (file-level)
    deep_value = json.loads(_deep(rng, deep_depth))  # one shape for the column's type
    for i in range(n):
        d = _pick(rng, p_defect, ("null_text", "empty_text", "null_image", "not_image", "deep", "unsafe_struct_path",
                                  "long_text"))
        text = f"make it blue {uid} {i}"
        if d == "null_text":
            text = None
        elif d == "empty_text":
            text = "  "
        elif d == "long_text":
            text = "x" * 10_001
        img = {"bytes": PNG + str(i).encode(), "path": f"{i}.png"}
        if d == "null_image":
            img = None
        elif d == "not_image":
            img = {"bytes": rng.randbytes(20), "path": None}
        elif d == "unsafe_struct_path":
            img = {"bytes": PNG, "path": rng.choice(UNSAFE)}
        meta.append(deep_value if d == "deep" else None)
        if reader == "ip2p-parquet":
            row = {"original_image": img, "edited_image": img, "edit_prompt": text, "original_prompt": "a",
                   "edited_prompt": "b"}
        elif reader == "magicbrush-parquet":
            row = {"img_id": f"{uid}{i}", "turn_index": 1, "source_img": img, "target_img": img, "mask_img": img,
                   "instruction": text}
        else:
            row = {"input": "a car", "input_image": img, "edit": text, "inverse_edit": f"undo {uid} {i}",
                   "output": "a blue car", "output_image": img}
        for k, v in row.items():
            cols.setdefault(k, []).append(v)
        case.expected.add(i)
        if d is None or d in ("not_image", "unsafe_struct_path"):
            case.clean.add(i)
        elif d == "deep" or (d in MUST_REJECT and reader != "hqedit-parquet"):
            case.must_reject.add(i)  # (an HQ-Edit row is two edits: a bad text rejects one of them)
        if d is not None:
            case.defects[d] = case.defects.get(d, 0) + 1
    arrays = {k: pa.array(v, HF_IMAGE) if k.endswith(("_img", "_image")) else pa.array(v) for k, v in cols.items()}
    if reader == "magicbrush-parquet":
        arrays["turn_index"] = pa.array(cols["turn_index"], pa.int32())
    if any(m is not None for m in meta):
        try:
            arrays["meta"] = pa.array(meta)
        except (pa.ArrowException, RecursionError):
            pass
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        pq.write_table(pa.table(arrays), path)
    except (pa.ArrowException, RecursionError):
        arrays.pop("meta", None)
        pq.write_table(pa.table(arrays), path)
    if "meta" not in arrays:  # the deep values could not be written: those rows are clean
        deep_rows = {i for i, x in enumerate(meta) if x is not None}
        case.must_reject -= deep_rows
        case.clean |= deep_rows
    if rng.random() < 0.05:  # a truncated file: its footer is gone, the file itself is unreadable
        data = path.read_bytes()
        path.write_bytes(data[: rng.randrange(1, len(data) - 8)])
        case.file_level, case.clean = True, set()
    return case


def build_special(kind: str, rng: random.Random, base: Path) -> Case:
    """A SEED Part-2 repo whose one annotation file is special (see SPECIAL); a clean file beside it."""
    repo = base / "repo"
    ann = repo / "real_editing" / "annotations"
    ann.mkdir(parents=True)
    good = ann / "split_0001.jsonl"
    good.write_text(_dumps({"source_image": "a.jpg", "target_image": "b.jpg", "instruction": "ok"}) + "\n")
    case = Case("special:" + kind, repo, "real_editing/annotations/split_0001.jsonl", expected={1}, clean={1})
    bad = ann / "split_0002.jsonl"
    if kind == "fifo":
        os.mkfifo(bad)
    elif kind == "dev_zero":
        bad.symlink_to("/dev/zero")
    elif kind == "symlink_out":
        (base / "outside").mkdir()
        (base / "outside" / "x.jsonl").write_text(
            _dumps({"source_image": f"{SECRET}.jpg", "target_image": "b.jpg", "instruction": SECRET}) + "\n")
        bad.symlink_to(base / "outside" / "x.jsonl")
    elif kind == "non_utf8_name":
        os.makedirs(os.fsencode(ann), exist_ok=True)
        with open(os.path.join(os.fsencode(ann), b"split_\xff\xfe.jsonl"), "wb") as fh:
            fh.write(_dumps({"source_image": "c.jpg", "target_image": "d.jpg", "instruction": "x"}).encode() + b"\n")
    elif kind == "directory_named_jsonl":
        bad.mkdir()
    return case


def run(case: Case, wh: Path, check_images: bool = True):
    """(summary or None, traceback text or None) of ingesting the case."""
    try:
        s = run_ingest(IngestConfig(path=case.root, warehouse=Warehouse.at(wh), workers=1, limits=LIMITS,
                                    column_map=case.column_map, check_images=check_images))
        return s, None
    except Exception:  # noqa: BLE001 - the fuzz run counts tracebacks
        return None, traceback.format_exc()


def _rows(wh: Path, name: str) -> list[dict]:
    d = wh / "parquet" / name
    out = []
    for p in sorted(d.glob("*.parquet")):
        out += pq.read_table(p).to_pylist()
    return out


def _safe(image: dict) -> bool:
    """An `images` row's location is relative and, every symlink resolved, inside its root."""
    try:
        rel = relative_path(image["path"] or "")
    except ValueError:
        return False
    root = os.path.realpath(image["root"])
    return within(root, os.path.realpath(os.path.join(root, rel)))


def check(case: Case, wh: Path, check_images: bool = True) -> dict:
    """Ingest the case; counts of each kind of violation (all 0 when the contract holds) and facts."""
    s, tb = run(case, wh, check_images)
    v = {"tracebacks": 0, "records_lost": 0, "clean_not_loaded": 0, "unsafe_loaded": 0, "whole_file_rejects": 0,
         "totals_mismatch": 0, "defect_loaded": 0, "records": len(case.expected)}
    if tb is not None:
        v["tracebacks"] = 1
        v["records_lost"] = len(case.expected)
        v["traceback"] = tb
        return v
    edits, rejects, runs = _rows(wh, "edits"), _rows(wh, "rejects"), _rows(wh, "ingest_runs")
    images = _rows(wh, "images")
    v["tracebacks"] = sum(1 for r in rejects if r["reason"] == "reader_error")
    if v["tracebacks"]:
        v["traceback"] = next(r["message"] for r in rejects if r["reason"] == "reader_error")
    v["unsafe_loaded"] = sum(1 for i in images if not _safe(i)) + sum(
        1 for e in edits if SECRET in (e["instruction"] or ""))
    mine = [r for r in edits + rejects if r["source_file"] == case.source_file]
    v["defect_loaded"] = len(case.must_reject & {e["source_record"] for e in edits})
    whole = [r for r in rejects if r["source_record"] is None and r["source_file"] == case.source_file]
    if case.reader.startswith("special:"):
        got = {r["source_record"] for r in mine}
        v["records_lost"] = len(case.expected - got)
        v["clean_not_loaded"] = len(case.clean - {e["source_record"] for e in edits})
        bad_files = {r["source_file"] for r in rejects if r["source_record"] is None}
        v["special_rejected"] = len(bad_files - {case.source_file}) + len(s.unplaced)
        return v
    if case.file_level:
        v["records_lost"] = 0 if whole else len(case.expected)
        return v
    v["whole_file_rejects"] = len(whole)
    if case.rows is not None:  # ip2p original: one row per entry, lineage split over seeds.json and prompt dirs
        v["records_lost"] = max(0, case.rows - len(edits) - len(rejects))
        v["clean_not_loaded"] = len(case.clean - {e["source_record"] for e in edits})
        v["totals_mismatch"] = int(len(edits) + len(rejects) != case.rows)
        return v
    got = {r["source_record"] for r in mine}
    v["records_lost"] = len(case.expected - got)
    v["clean_not_loaded"] = len(case.clean - {e["source_record"] for e in edits
                                              if e["source_file"] == case.source_file})
    run_row = next((r for r in runs if r["source_file"] == case.source_file), None)
    if run_row is None or run_row["records_read"] != len(case.expected):
        v["totals_mismatch"] = 1
    return v
