"""The mapping layer: ids follow the contract, and the column-wise path equals the record-by-record one."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest

from editlens.contract import tables as T
from editlens.ingest.fields import BadField, check_instruction, check_rel_path
from editlens.ingest.images import ImageChecker
from editlens.ingest.mapper import UnitMapper, add_file_batch


def mapper(tmp_path, **kw):
    return UnitMapper(dataset="seed-data-edit", part="part2", split="train", root=str(tmp_path),
                      image_root="real_editing/images", source_file="a.jsonl", run_id="run",
                      checker=ImageChecker(kw.get("check", True)))


def test_ids_are_the_documented_sha1s(tmp_path):
    m = mapper(tmp_path)
    m.add_edit(record=1, raw=b"", instruction="Remove it", source="images/1_0.jpg", target="images/1_1.jpg")
    e = m.tables()["edits"].to_pylist()[0]
    loc_s, loc_t = "real_editing/images/images/1_0.jpg", "real_editing/images/images/1_1.jpg"
    want = hashlib.sha1("\x1f".join(["seed-data-edit", "part2", "", "1", loc_s, loc_t, "Remove it"]).encode())
    assert e["edit_id"] == want.hexdigest()[:16]
    assert e["source_image_id"] == hashlib.sha1(f"seed-data-edit\x1f{loc_s}".encode()).hexdigest()[:16]


def test_batch_path_equals_record_path(tmp_path):
    (tmp_path / "real_editing/images/images").mkdir(parents=True)
    (tmp_path / "real_editing/images/images/1_0.jpg").write_bytes(b"x")
    rows = [("images/1_0.jpg", "images/1_1.jpg", "a", ["object-add"]), ("images/2_0.jpg", "images/2_1.jpg", "b", None),
            ("images/1_0.jpg", "images/1_1.jpg", "a", ["object-add"]),  # duplicate
            ("images/1_0.jpg", "images/3_1.jpg", "c", None)]
    one, many = mapper(tmp_path), mapper(tmp_path)
    for n, (s, t, i, lab) in enumerate(rows, 1):
        one.add_edit(record=n, raw=b"raw", instruction=i, source=s, target=t, labels=lab)
    add_file_batch(many, records=[1, 2, 3, 4], raws=[b"raw"] * 4, instruction=[r[2] for r in rows],
                   source=[r[0] for r in rows], target=[r[1] for r in rows], labels=[r[3] for r in rows])
    a, b = one.tables(), many.tables()
    for name in ("edits", "rejects"):
        assert a[name].to_pylist() == b[name].to_pylist(), name
    key = lambda r: r["image_id"]  # noqa: E731 - row order of images is not part of the contract
    assert sorted(a["images"].to_pylist(), key=key) == sorted(b["images"].to_pylist(), key=key)
    assert (many.read, many.loaded, many.rejected, many.images_missing) == (4, 3, 1, 4)
    assert b["rejects"].to_pylist()[0]["reason"] == T.DUPLICATE_RECORD


@pytest.mark.parametrize("path,reason", [("/abs.jpg", "unsafe_path"), ("a/../../b.jpg", "unsafe_path"),
                                         ("..", "unsafe_path"), ("C:\\x.jpg", "unsafe_path"), ("", "missing_key"),
                                         (None, "missing_key"), (3, "wrong_type"), ("a\x00b", "unsafe_path")])
def test_path_checks(path, reason):
    with pytest.raises(BadField) as ei:
        check_rel_path(path, "source_image")
    assert ei.value.reason == reason


def test_paths_are_normalised():
    assert check_rel_path("./images//a.jpg", "k") == "images/a.jpg"
    assert check_rel_path("images\\b.jpg", "k") == "images/b.jpg"
    assert check_rel_path("a/b.c..jpg", "k") == "a/b.c..jpg"  # dots inside a name are fine


def test_instruction_limits():
    assert check_instruction("x" * 10_000) == "x" * 10_000
    for bad, reason in (("x" * 10_001, "instruction_too_long"), (" \n", "empty_instruction"), (None, "missing_key"),
                        (["a"], "wrong_type")):
        with pytest.raises(BadField) as ei:
            check_instruction(bad)
        assert ei.value.reason == reason


@pytest.mark.parametrize("col,clean", [
    (["a/b.jpg", "c.jpg"], True), (["a/b.jpg", " "], False), (["", "c.jpg"], False), (["a.jpg", ""], False),
    (["/a.jpg"], False), (["a.jpg", "/b.jpg"], False), (["a/../b.jpg"], False), (["a\\b.jpg"], False),
    (["a.jpg", "\t"], False), (["a.jpg", 3], False), (["C:x.jpg"], False), ([], False),
])
def test_whole_column_path_check(col, clean):
    from editlens.ingest.readers.seed import _paths_surely_clean, _strings

    assert _paths_surely_clean(_strings(col)) is clean


def _rows_of(m):
    t = m.tables()
    return {name: t[name].to_pylist() for name in ("edits", "images", "rejects")}


@pytest.mark.parametrize("check", [True, False])
def test_arrow_batch_with_shared_images_equals_row_batch(tmp_path, check):
    """Shared images (a source reused, a target that is another record's source, source = target) and no
    duplicate edit: the Arrow batch gives the row path's rows in the same order, images first seen first."""
    from editlens.ingest import mapper as M

    (tmp_path / "real_editing/images/images").mkdir(parents=True)
    (tmp_path / "real_editing/images/images/1_0.jpg").write_bytes(b"x")
    src = ["images/1_0.jpg", "images/1_0.jpg", "images/2_0.jpg", "images/3_0.jpg", "images/9.jpg"] * 20
    tgt = ["images/1_1.jpg", "images/1_2.jpg", "images/1_0.jpg", "images/3_0.jpg", "images/9.jpg"] * 20
    ins = [f"edit {k}" for k in range(len(src))]
    recs = list(range(1, len(src) + 1))
    fast, rows = mapper(tmp_path, check=check), mapper(tmp_path, check=check)
    add_file_batch(fast, records=recs, raws=[b"raw"] * len(src), instruction=ins, source=src, target=tgt,
                   labels=[["object-add"] if k % 3 else None for k in recs])
    assert fast._pending and not fast.e["edit_id"]  # the Arrow path took it
    M._row_batch(rows, recs, [b"raw"] * len(src), ins, src, tgt, None, None, None,
                 [["object-add"] if k % 3 else None for k in recs], None)
    assert _rows_of(fast) == _rows_of(rows)
    assert len(_rows_of(fast)["images"]) == 6
    assert (fast.read, fast.loaded, fast.rejected, fast.images_missing) == \
        (rows.read, rows.loaded, rows.rejected, rows.images_missing) == (100, 100, 0, 5 if check else 0)


def test_batches_after_batches_and_records(tmp_path):
    """A second batch (duplicates of the first, shared images) and single records after batches see what the
    batches loaded; rows equal the record-by-record ones, and equal the row path's in order too."""
    from editlens.ingest import mapper as M

    src = [f"images/{k}_0.jpg" for k in range(100)]
    tgt = [f"images/{k}_1.jpg" for k in range(100)]
    ins = [f"edit {k}" for k in range(100)]
    src2, tgt2 = src[:3], tgt[:2] + ["images/new.jpg"]
    one, many, rows = mapper(tmp_path, check=False), mapper(tmp_path, check=False), mapper(tmp_path, check=False)
    for n, (s, t, i) in enumerate(zip(src + src2, tgt + tgt2, ins * 2), 1):
        one.add_edit(record=n, raw=b"raw", instruction=i, source=s, target=t)
    for m in (many, rows):
        batch = add_file_batch if m is many else (
            lambda m, **kw: M._row_batch(m, kw["records"], kw["raws"], kw["instruction"], kw["source"],
                                         kw["target"], None, None, None, None, None))
        batch(m, records=list(range(1, 101)), raws=[b"raw"] * 100, instruction=ins, source=src, target=tgt)
        batch(m, records=[101, 102, 103], raws=[b"raw"] * 3, instruction=ins[:3], source=src2, target=tgt2)
    for m in (one, many, rows):
        m.add_edit(record=200, raw=b"raw", instruction="x", source="images/0_0.jpg", target="images/z.jpg")
    a, b, c = _rows_of(one), _rows_of(many), _rows_of(rows)
    assert b == c
    key = lambda r: r["image_id"]  # noqa: E731 - record by record interleaves sources and targets
    assert a["edits"] == b["edits"] and a["rejects"] == b["rejects"]
    assert sorted(a["images"], key=key) == sorted(b["images"], key=key)
    assert [r["reason"] for r in b["rejects"]] == [T.DUPLICATE_RECORD] * 2
    assert len(b["edits"]) == 102 and len(b["images"]) == 202


def test_batch_falls_back_when_arrow_cannot_hold_a_column(tmp_path, monkeypatch):
    """A column Arrow cannot take in one array (over 2 GiB of text) goes the row path: same rows."""
    from editlens.ingest import mapper as M

    def too_large(col):
        raise pa.ArrowCapacityError("too large")

    src, tgt = [f"images/{k}_0.jpg" for k in range(70)], [f"images/{k}_1.jpg" for k in range(70)]
    ins = [f"edit {k}" for k in range(70)]
    fast, rows = mapper(tmp_path, check=False), mapper(tmp_path, check=False)
    M._row_batch(rows, list(range(1, 71)), [b"raw"] * 70, ins, src, tgt, None, None, None, None, None)
    monkeypatch.setattr(M, "strings", too_large)
    add_file_batch(fast, records=list(range(1, 71)), raws=[b"raw"] * 70, instruction=ins, source=src, target=tgt)
    assert not fast._pending and len(fast.e["edit_id"]) == 70  # the row path took it
    assert _rows_of(fast) == _rows_of(rows)
    assert M.add_turn_batch(mapper(tmp_path), records=[1], session_ids=["s"], turns=[1], source=["a.jpg"],
                            target=["b.jpg"], instruction=["x"], extra=["{}"]) is False


def test_row_path_exists_stays_aligned_after_an_escaping_target(tmp_path):
    """A batch whose target is a symlink out of the root goes record by record; the image rows after it keep
    their own ``exists`` (the previous row path shifted them by one) and equal ``add_edit``'s."""
    img = tmp_path / "real_editing/images/images"
    img.mkdir(parents=True)
    (tmp_path / "outside.jpg").write_bytes(b"x")
    (img / "evil.jpg").symlink_to(tmp_path / "outside.jpg")
    (img / "3_0.jpg").write_bytes(b"x")
    src = ["images/1_0.jpg", "images/2_0.jpg", "images/3_0.jpg"]
    tgt = ["images/1_1.jpg", "images/evil.jpg", "images/3_1.jpg"]
    one, many = mapper(tmp_path), mapper(tmp_path)
    for n, (s, t) in enumerate(zip(src, tgt), 1):
        one.add_edit(record=n, raw=b"raw", instruction=f"e{n}", source=s, target=t)
    add_file_batch(many, records=[1, 2, 3], raws=[b"raw"] * 3, instruction=["e1", "e2", "e3"], source=src,
                   target=tgt)
    exists = {r["path"].rsplit("/", 1)[1]: r["exists"] for r in many.tables()["images"].to_pylist()}
    assert exists == {"1_0.jpg": False, "3_0.jpg": True, "1_1.jpg": False, "3_1.jpg": False}
    assert [r["reason"] for r in many.tables()["rejects"].to_pylist()] == [T.UNSAFE_PATH]
    key = lambda r: r["image_id"]  # noqa: E731
    assert sorted(one.tables()["images"].to_pylist(), key=key) == sorted(many.tables()["images"].to_pylist(), key=key)
    assert one.tables()["edits"].to_pylist() == many.tables()["edits"].to_pylist()
