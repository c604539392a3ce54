"""The column-wise Part-1/Part-2 path (``seed.map_single``: whole-column checks, ``add_file_batch``) gives the
same tables as a plain record-by-record reference (``parse_lines`` -> ``_validate_one`` -> ``add_edit``), on a
file with assorted bad lines spread over several chunks."""

from __future__ import annotations

import json

import pytest

from editlens.contract import tables as T
from editlens.ingest.fields import BadField
from editlens.ingest.images import ImageChecker
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers import seed
from editlens.ingest.readers.common import pack_extra, parse_lines


def _mapper(tmp_path, check: bool) -> UnitMapper:
    return UnitMapper(dataset="seed-data-edit", part="part1-unsplash", split="train", root=str(tmp_path),
                      image_root="auto_editing/unsplash/images", source_file="auto_editing/unsplash/a.jsonl",
                      run_id="run", checker=ImageChecker(check))


def _reference(data: bytes, m: UnitMapper) -> None:
    for n, rec, line in parse_lines(data, m):
        try:
            src, tgt, instr, ori, sc, tc, labels = seed._validate_one(rec)
        except BadField as bad:
            m.reject(n, bad.reason, bad.message, line)
            continue
        m.add_edit(record=n, raw=line, instruction=instr, source=src, target=tgt, instruction_ori=ori,
                   source_caption=sc, target_caption=tc, labels=labels, extra=pack_extra(rec, seed.SINGLE_KNOWN))


def _rec(k: int, **kw) -> str:
    r = {"source_image": f"s/{k}.jpg", "target_image": f"t/{k}.jpg", "instruction": f"edit {k}"}
    r.update(kw)
    return json.dumps({key: v for key, v in r.items() if v is not ...}, ensure_ascii=False)


LINES = [
    _rec(1), _rec(2, source_caption="a cat", target_caption=None), "", _rec(3, task_type=["object-add"]),
    "{not json", b"\xff\xfe bad utf8", "[1, 2]", "  ", _rec(4, instruction="   "), _rec(5, instruction=7),
    _rec(6, instruction="x" * (T.MAX_INSTRUCTION_CHARS + 1)), _rec(7, source_image="/abs.jpg"),
    _rec(8, target_image="a/../../b.jpg"), _rec(9, source_image="./s//9.jpg"),  # normalised, loaded
    _rec(10, source_image="\u3000"), _rec(11, target_image="\x1c"), _rec(12, source_image=" "),
    _rec(13, source_image=None), _rec(14, target_image=...), _rec(15, instruction_ori=3), _rec(1),  # duplicate
    _rec(16, task_type="object-add"), _rec(17, task_type=[1]), _rec(18, extra_key={"a": [1, 2]}),
    _rec(19, source_image="C:\\x.jpg"), _rec(20, instruction="Entferne den Hund \u00e9\U0001f600"),
    _rec(21, source_image="s/21 \u00e9.jpg"), _rec(2, source_caption="a cat"),  # duplicate of line 2's edit
    _rec(22, source_image="s/1.jpg"),  # image shared with line 1
    '{"source_image": "s/23.jpg", "source_image": "s/23b.jpg", "target_image": "t/23.jpg", "instruction": "x"}',
]


def _tables(tmp_path, lines, check):
    img = tmp_path / "auto_editing/unsplash/images"
    (img / "s").mkdir(parents=True, exist_ok=True)
    (img / "s/1.jpg").write_bytes(b"x")
    (img / "t").mkdir(exist_ok=True)
    (img / "t/2.jpg").write_bytes(b"x")
    data = b"\n".join(ln if isinstance(ln, bytes) else ln.encode() for ln in lines) + b"\n"
    fast, ref = _mapper(tmp_path, check), _mapper(tmp_path, check)
    seed.map_single(None, data, fast)
    _reference(data, ref)
    return fast, ref


@pytest.mark.parametrize("bad", ["\u3000", "\x1c", "\u00a0 ", "\u2028"])
def test_unicode_whitespace_path_in_a_clean_column(tmp_path, bad):
    fast, ref = _tables(tmp_path, [_rec(1), _rec(2, target_image=bad), _rec(3, source_image="s/\u00e9.jpg")], True)
    assert fast.tables()["edits"].to_pylist() == ref.tables()["edits"].to_pylist()
    assert [(r["source_record"], r["reason"]) for r in fast.tables()["rejects"].to_pylist()] == \
        [(r["source_record"], r["reason"]) for r in ref.tables()["rejects"].to_pylist()] == [(2, T.MISSING_KEY)]


@pytest.mark.parametrize("chunk", [4, 7, 100_000])
@pytest.mark.parametrize("check", [True, False])
def test_column_path_equals_record_path(tmp_path, monkeypatch, chunk, check):
    monkeypatch.setattr(seed, "CHUNK_LINES", chunk)
    fast, ref = _tables(tmp_path, LINES, check)
    a, b = fast.tables(), ref.tables()
    assert a["edits"].schema == b["edits"].schema == T.EDITS
    assert a["edits"].to_pylist() == b["edits"].to_pylist()
    by_record = lambda r: (r["source_record"] or 0, r["message"])  # noqa: E731 - rejects come per check kind
    assert sorted(a["rejects"].to_pylist(), key=by_record) == sorted(b["rejects"].to_pylist(), key=by_record)
    by_id = lambda r: r["image_id"]  # noqa: E731 - image row order is per chunk, not part of the contract
    assert sorted(a["images"].to_pylist(), key=by_id) == sorted(b["images"].to_pylist(), key=by_id)
    assert (fast.read, fast.loaded, fast.rejected, fast.images_missing) == \
        (ref.read, ref.loaded, ref.rejected, ref.images_missing)
    reasons = sorted(r["reason"] for r in a["rejects"].to_pylist())
    assert reasons == sorted([T.MALFORMED_JSON, T.INVALID_UTF8, T.WRONG_TYPE, T.EMPTY_INSTRUCTION, T.WRONG_TYPE,
                              T.INSTRUCTION_TOO_LONG, T.UNSAFE_PATH, T.UNSAFE_PATH, T.MISSING_KEY, T.MISSING_KEY,
                              T.MISSING_KEY, T.MISSING_KEY, T.MISSING_KEY, T.WRONG_TYPE, T.DUPLICATE_RECORD,
                              T.WRONG_TYPE, T.UNSAFE_PATH, T.DUPLICATE_RECORD, T.DUPLICATE_KEY])
    assert fast.loaded == 9  # lines 1, 2, 3, 9, 16, 18, 20, 21, 22 (23 names `source_image` twice)


def _quick_test_fails(p) -> bool:
    """The per-path quick test of ``seed._map_chunk`` (what sends a path to ``check_rel_path``)."""
    return (type(p) is not str or not p or p[0] == "/" or ".." in p or "\\" in p or "//" in p or "./" in p
            or ":" in p[:3] or "\x00" in p or p.isspace())


TRICKY = ["a.jpg", "b/c.jpg", "", " ", "\t", "\u3000", "\x1c", "\u00a0", "\u2028", "/x.jpg", "a/../b", "a\\b", "a//b",
          "./a", "a/.", ".a", "a.", "/", ".", "C:x", "ab:c", "a\x00b", "\u00e9/\u4e2d.jpg", "b c.jpg", " a.jpg", None, 3]


@pytest.mark.parametrize("col,surely", [(["a.jpg", "\u3000", "b.jpg"], False), (["a.jpg", "\x1c"], False),
                                        (["a.jpg", "\u00a0"], False), (["s/1.jpg", "b c.jpg", "x/y/z.png"], True),
                                        (["\u00e9/\u4e2d.jpg"], False),  # non-ASCII first: looked at closely
                                        (["a.", "/b"], False), ([], False)])
def test_whole_column_check_knows_unicode_whitespace(col, surely):
    assert seed._paths_surely_clean(seed._strings(col)) is surely


def test_whole_column_check_never_passes_a_path_the_quick_test_fails():
    import random

    rng = random.Random(7)
    for _ in range(3000):
        col = [rng.choice(TRICKY) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.5:
            col = ["".join(rng.choice(["a", ".", "/", ":", "\\", " ", "\u3000", "\x00", "é"])
                           for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 3))]
        if seed._paths_surely_clean(seed._strings(col)):
            assert not any(map(_quick_test_fails, col)), col


@pytest.mark.parametrize("col,surely", [(["Remove the dog", "x"], True), (["a", ""], False), (["a", " "], False),
                                        (["a", "\u3000"], False), (["a", None], False), (["a", 3], False),
                                        (["x" * T.MAX_INSTRUCTION_CHARS], True),
                                        (["x" * (T.MAX_INSTRUCTION_CHARS + 1)], False),
                                        (["\u00e9" * 5001], False)])  # 10,002 bytes: looked at closely
def test_whole_column_instruction_check(col, surely):
    assert seed._instructions_surely_clean(seed._strings(col), T.MAX_INSTRUCTION_CHARS) is surely
