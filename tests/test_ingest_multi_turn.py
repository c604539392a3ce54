"""The column-wise Part-3 path (``seed.map_multi_turn`` -> ``add_turn_batch``) gives the same rows, in the same
order, as the turn-by-turn path (``add_edit``), which it falls back to for a file with a duplicate edit."""

from __future__ import annotations

import json
import os

import pytest

from editlens.contract import tables as T
from editlens.ingest import mapper as M
from editlens.ingest.images import ImageChecker
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers import seed


def _mapper(root, check: bool) -> UnitMapper:
    return UnitMapper(dataset="seed-data-edit", part="part3", split="train", root=str(root),
                      image_root="multi_turn_editing/images/data", source_file="multi_turn_editing/a.jsonl",
                      run_id="run", checker=ImageChecker(check))


def _session(s: str, n: int, **kw) -> str:
    rec = {"source_image": f"b/{s}.jpg"}
    for k in range(1, n + 1):
        rec[f"instruction_{k}"] = f"edit {s} {k}"
        rec[f"edit_image_{k}"] = f"b/{s}_{k}.jpg"
    rec.update(kw)
    return json.dumps(rec, ensure_ascii=False)


LINES = [
    _session("a", 3), _session("b", 1, instruction_2=None, edit_image_2=None), "", "{bad json",
    _session("c", 2, instruction_2="  "), _session("d", 2, edit_image_1="../x.jpg"),
    _session("e", 3, edit_image_2=None), json.dumps({"source_image": "b/f.jpg", "instruction_1": None}),
    _session("g", 2, note={"by": "x"}), _session("h", 1, source_image="b/a_3.jpg"),  # an image of session a
    _session("i", 2, edit_image_1="b/a.jpg"), "[1]", _session("j", 1, instruction_01="odd key"),
    _session("k", 2, source_image="./b//k.jpg"), _session("l", 1, instruction_1="\u00e9 \U0001f600"),
]


def _run(tmp_path, lines, check, monkeypatch, batch: bool):
    data = ("\n".join(lines) + "\n").encode()
    m = _mapper(tmp_path, check)
    with monkeypatch.context() as mp:
        if not batch:
            mp.setattr(seed, "add_turn_batch", lambda m, **kw: False)
        seed.map_multi_turn(None, data, m)
    t = m.tables()
    return m, {name: t[name].to_pylist() for name in ("edits", "images", "rejects")}


@pytest.mark.parametrize("check", [True, False])
def test_turn_batch_equals_turn_by_turn(tmp_path, monkeypatch, check):
    img = tmp_path / "multi_turn_editing/images/data/b"
    img.mkdir(parents=True)
    for name in ("a.jpg", "a_1.jpg", "k.jpg"):
        (img / name).write_bytes(b"x")
    calls = []
    real = seed.add_turn_batch
    monkeypatch.setattr(seed, "add_turn_batch", lambda m, **kw: calls.append(real(m, **kw)) or calls[-1])
    fast, a = _run(tmp_path, LINES, check, monkeypatch, batch=True)
    assert calls == [True] and fast._pending  # the batch took the file
    ref, b = _run(tmp_path, LINES, check, monkeypatch, batch=False)
    assert a == b
    assert (fast.read, fast.loaded, fast.rejected, fast.images_missing) == \
        (ref.read, ref.loaded, ref.rejected, ref.images_missing)
    assert fast.loaded == 3 + 1 + 1 + 0 + 1 + 2 + 1 + 2 + 1 + 2 + 1  # sessions a, b, c, d, e, g to l
    assert sorted({r["reason"] for r in a["rejects"]}) == sorted(
        {T.MALFORMED_JSON, T.EMPTY_INSTRUCTION, T.UNSAFE_PATH, T.MISSING_KEY, T.WRONG_TYPE})
    assert len({i["image_id"] for i in a["images"]}) == len(a["images"])  # shared images once


def test_duplicate_turn_falls_back_to_turn_by_turn(tmp_path, monkeypatch):
    lines = [_session("a", 2), _session("b", 1), _session("a", 2)]  # the third line repeats the first session
    fast, a = _run(tmp_path, lines, False, monkeypatch, batch=True)
    ref, b = _run(tmp_path, lines, False, monkeypatch, batch=False)
    assert a == b and not fast._pending
    assert [(r["source_record"], r["turn_index"], r["reason"]) for r in a["rejects"]] == \
        [(3, 1, T.DUPLICATE_RECORD), (3, 2, T.DUPLICATE_RECORD)]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_escaping_symlink_falls_back_to_turn_by_turn(tmp_path, monkeypatch):
    img = tmp_path / "multi_turn_editing/images/data/b"
    img.mkdir(parents=True)
    (tmp_path / "outside.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "outside.jpg", img / "a_1.jpg")
    fast, a = _run(tmp_path, [_session("a", 2), _session("b", 1)], True, monkeypatch, batch=True)
    ref, b = _run(tmp_path, [_session("a", 2), _session("b", 1)], True, monkeypatch, batch=False)
    assert a == b and not fast._pending
    assert [(r["source_record"], r["turn_index"], r["reason"]) for r in a["rejects"]] == \
        [(1, 1, T.UNSAFE_PATH), (1, 2, T.UNSAFE_PATH)]


def test_turn_batch_needs_an_empty_mapper(tmp_path):
    m = _mapper(tmp_path, False)
    m.add_edit(record=1, raw=b"", instruction="x", source="s.jpg", target="t.jpg", session_id="s", turn_index=1)
    assert M.add_turn_batch(m, records=[2], session_ids=["s"], turns=[2], source=["t.jpg"], target=["u.jpg"],
                            instruction=["y"], extra=["{}"]) is False
