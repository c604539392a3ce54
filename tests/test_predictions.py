"""`editlens predictions`: the layouts (MagicBrush, Emu Edit generations, ImgEdit, a mapping file) matched to an
ingested benchmark; missing and unmatched outputs counted, never dropped; unknown layouts exit 2."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from editlens.cli import main
from editlens.ingest.predictions import PredictionsConfig, run_predictions
from editlens.warehouse import Warehouse
from tests.fixtures_ingest import ingest, table, write_parquet
from tests.fixtures_predictions import SESSIONS, blurred_outputs, magicbrush_test, photo, png


@pytest.fixture()
def mb(tmp_path):
    root = magicbrush_test(tmp_path / "downloads")
    wh = tmp_path / "wh"
    s = ingest(tmp_path / "downloads", wh, workers=1)
    assert s.records_loaded == 6  # turns
    return root, wh


def _rows(wh, model):
    return sorted((r for r in table(wh, "predictions") if r["model_name"] == model),
                  key=lambda r: (r["setting"], str(r["benchmark_key"]), r["turn_index"]))


def test_magicbrush_layout_both_settings_missing_and_unmatched(mb, tmp_path):
    root, wh = mb
    out = blurred_outputs(root, tmp_path / "mild", 1.0, skip={("1001", 2, "iter"), ("1003", 1, "both")})
    (out / "9999").mkdir()
    (out / "9999" / "9999_1.png").write_bytes(png(photo(1)))  # no such benchmark session
    (out / "notes.txt").write_text("x")
    s = run_predictions(PredictionsConfig(Warehouse.at(wh), "mild", out, "magicbrush"))
    assert s.layout == "magicbrush" and s.split == "test"
    # 6 turns x 2 settings = 12 expected: 1003 turn 1 missing in both settings, 1001 turn 2 in iter only
    assert s.expected == 12
    assert s.counts == {"ok": 9, "missing": 3, "unmatched": 2}
    rows = _rows(wh, "mild")
    assert len(rows) == 14 and len({r["prediction_id"] for r in rows}) == 14
    missing = sorted((r["benchmark_key"], r["turn_index"], r["setting"]) for r in rows if r["status"] == "missing")
    assert missing == [("1001", 2, "iter"), ("1003", 1, "inde"), ("1003", 1, "iter")]
    ok = {(r["benchmark_key"], r["turn_index"], r["setting"]): r["path"] for r in rows if r["status"] == "ok"}
    assert ok[("1001", 1, "inde")] == ok[("1001", 1, "iter")] == "1001/1001_1.png"
    assert ok[("1002", 2, "iter")] == "1002/1002_iter_2.png"
    assert all(r["edit_id"] for r in rows if r["status"] != "unmatched")
    un = sorted(r["path"] for r in rows if r["status"] == "unmatched")
    assert un == ["9999/9999_1.png", "notes.txt"]
    # a rerun replaces the model's rows for the benchmark, never adds to them
    run_predictions(PredictionsConfig(Warehouse.at(wh), "mild", out, "magicbrush"))
    assert len(_rows(wh, "mild")) == 14


def test_mapping_file_and_unknown_layout_exit_2(mb, tmp_path, capsys):
    root, wh = mb
    edits = table(wh, "edits")
    by = {(e["session_id"], e["turn_index"]): e["edit_id"] for e in edits}
    out = blurred_outputs(root, tmp_path / "o", 0)
    m = tmp_path / "o" / "map.csv"
    m.write_text("edit_id,path\n" + f"{by[('1001', 1)]},1001/1001_1.png\n" + f"{by[('1002', 1)]},nope.png\n"
                 + "ffffffffffffffff,1002/1002_1.png\n" + f"{by[('1003', 1)]},../../x.png\n"
                 + f"{by[('1001', 1)]},1001/1001_1.png\n" + f"{by[('1001', 1)]},1002/1002_1.png\n")
    rc = main(["predictions", "m", str(m), "--benchmark", "magicbrush", "--warehouse", str(wh)])
    assert rc == 0
    rows = _rows(wh, "m")
    st = sorted(r["status"] for r in rows)
    # 6 benchmark edits: 1 ok, 1 missing file, 1 unsafe path, 3 without a row; 1 row naming no edit and two
    # more outputs for 1001 turn 1 (the first one is used)
    assert st == ["missing"] * 4 + ["ok"] + ["unmatched"] * 3 + ["unsafe_path"]
    assert len({r["prediction_id"] for r in rows}) == len(rows)
    dup = sorted(r["message"] for r in rows if r["status"] == "unmatched" and "duplicate" in r["message"])
    assert dup == ["duplicate output for 1001 turn 1 (single); 1001/1001_1.png is used"] * 2
    assert "7 benchmark edits" not in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    assert main(["predictions", "m", str(empty), "--benchmark", "magicbrush", "--warehouse", str(wh)]) == 2
    assert "unknown predictions layout" in capsys.readouterr().err
    assert main(["predictions", "m", str(out), "--benchmark", "nope", "--warehouse", str(wh)]) == 2
    assert "ingest the benchmark first" in capsys.readouterr().err


def _img_col(blobs):
    return pa.array([None if b is None else {"bytes": b, "path": None} for b in blobs],
                    type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))


def test_emu_edit_generations_and_imgedit_keys(tmp_path):
    top = tmp_path / "downloads"
    write_parquet(top / "emu_edit_test_set/data/test-00000-of-00001.parquet", {
        "instruction": ["add a hat", "remove the tree", "make it snowy"],
        "image": _img_col([png(photo(i)) for i in range(3)]), "task": ["add", "remove", "background"],
        "split": ["test"] * 3, "idx": [0, 1, 2], "hash": ["h0", "h1", "h2"],
        "input_caption": ["a", "b", "c"], "output_caption": ["a hat", "b", "c snow"]})
    bench = top / "ImgEdit/Benchmark/Basic"
    bench.mkdir(parents=True)
    (bench / "basic_edit.json").write_text(json.dumps({
        "1": {"id": "animal/1.png", "prompt": "Change the cat to a tiger", "edit_type": "replace"},
        "2": {"id": "style/2.png", "prompt": "Make it a pencil sketch", "edit_type": "style"}}))
    for i, rel in enumerate(("animal/1.png", "style/2.png")):
        (bench / rel).parent.mkdir(parents=True, exist_ok=True)
        photo(i).save(bench / rel)
    wh = tmp_path / "wh"
    ingest(top, wh, workers=1)
    gen = write_parquet(tmp_path / "gens/data/test-00000-of-00001.parquet", {
        "instruction": ["add a hat", "remove the tree", "x"], "image": _img_col([b"a", b"b", b"c"]),
        "idx": [0, 1, 7], "hash": ["h0", "h1", "h7"], "edited_image": _img_col([png(photo(5)), None, png(photo(6))])})
    s = run_predictions(PredictionsConfig(Warehouse.at(wh), "emu", gen.parent.parent, "emu-edit"))
    assert (s.layout, s.expected, s.counts) == ("emu-edit", 3, {"ok": 1, "missing": 2, "unmatched": 1})
    ok = [r for r in _rows(wh, "emu") if r["status"] == "ok"][0]
    assert (ok["benchmark_key"], ok["location_kind"], ok["row"], ok["column"]) == ("0", "parquet", 0,
                                                                                  "edited_image.bytes")
    outs = tmp_path / "imgedit-out"
    outs.mkdir()
    photo(9).save(outs / "2.png")
    s = run_predictions(PredictionsConfig(Warehouse.at(wh), "ie", outs, "imgedit"))
    assert (s.layout, s.expected, s.counts) == ("imgedit", 2, {"ok": 1, "missing": 1})
    assert {r["benchmark_key"]: r["status"] for r in _rows(wh, "ie")} == {"1": "missing", "2": "ok"}
    assert SESSIONS  # the MagicBrush fixture is shared with the score tests
