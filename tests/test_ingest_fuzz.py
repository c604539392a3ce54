"""Fuzz: generated malformed datasets in every reader's real layout (`tests/fuzz_ingest.py`) never crash ingest,
never lose a record, never load an unsafe path and never reject a file whole for a bad record; special files are
refused without being opened; hostile inputs stay within bounded memory. The long run is `bench/fuzz_ingest.py`."""

from __future__ import annotations

import json
import os
import random
import signal
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_ingest as F
from fixtures_ingest import ingest, table

EXAMPLES = 60  # per reader: each example is one dataset of 1-40 records, 30-90% of them defective
VIOLATIONS = ("tracebacks", "records_lost", "clean_not_loaded", "whole_file_rejects", "defect_loaded",
              "unsafe_loaded", "totals_mismatch")


def _violations(v: dict) -> dict:
    return {k: v[k] for k in VIOLATIONS if v.get(k)} | ({"traceback": v["traceback"]} if "traceback" in v else {})


@pytest.mark.parametrize("reader", F.READERS)
def test_fuzz_reader(reader):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), p=st.floats(0.3, 0.9))
    def run(seed, n, p):
        with tempfile.TemporaryDirectory() as d:
            case = F.build(reader, random.Random(seed), Path(d) / "in", n=n, p_defect=p)
            v = F.check(case, Path(d) / "wh")
            assert _violations(v) == {}, (case.defects, v)

    run()


@pytest.fixture
def watchdog():
    """Fail instead of hanging (a FIFO opened for reading blocks forever)."""
    def hang(*_):
        raise TimeoutError("ingest hung on a special file")
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "symlink_out", "non_utf8_name"])
def test_special_annotation_files_are_refused_with_a_reason(tmp_path, kind, watchdog):
    case = F.build_special(kind, random.Random(0), tmp_path / "in")
    s, tb = F.run(case, tmp_path / "wh")
    assert tb is None
    rejects = table(tmp_path / "wh", "rejects")
    assert [e["source_record"] for e in table(tmp_path / "wh", "edits")] == [1]  # the good file beside it
    if kind == "non_utf8_name":  # named (escaped), never a crash writing it
        assert [u.reason for u in s.unplaced] == \
            ["file name is not valid UTF-8: real_editing/annotations/split_\\xff\\xfe.jsonl"]
        assert s.exit_code == 3
        return
    reason = {"fifo": "special_file", "dev_zero": "unsafe_path", "symlink_out": "unsafe_path"}[kind]
    assert [(r["source_file"], r["source_record"], r["reason"]) for r in rejects] == \
        [("real_editing/annotations/split_0002.jsonl", None, reason)]
    assert F.SECRET not in json.dumps(table(tmp_path / "wh", "edits"))


def test_device_inside_the_root_is_never_read(tmp_path, watchdog):
    """A symlink to /dev/zero that the root contains (the root is /dev's parent) is a device: refused by kind."""
    ann = tmp_path / "repo/real_editing/annotations"
    ann.mkdir(parents=True)
    (ann / "split_0001.jsonl").symlink_to("/dev/zero")
    from editlens.ingest.main import file_refusal
    from editlens.ingest.units import Unit

    unit = Unit("seed-data-edit", "part2", "train", "seed-part2", "/", os.path.relpath(ann / "split_0001.jsonl", "/"),
                "real_editing/images")
    reason, message = file_refusal(unit, F.LIMITS)
    assert reason == "special_file" and "device" in message


def test_loose_fifo_and_device_are_unplaced_not_opened(tmp_path, watchdog):
    top = tmp_path / "download"
    top.mkdir()
    os.mkfifo(top / "edits.jsonl")
    (top / "more.parquet").symlink_to("/dev/zero")
    (top / "ok.jsonl").write_text(json.dumps({"source_image": "a.jpg", "target_image": "b.jpg",
                                              "instruction": "x"}) + "\n")
    s = ingest(top, tmp_path / "wh", workers=1)
    why = {os.path.basename(u.path): u.reason for u in s.unplaced}
    assert why == {"edits.jsonl": "not a regular file (fifo): never opened",
                   "more.parquet": "not a regular file (device): never opened"}
    assert s.records_loaded == 1


def test_a_100_byte_line_naming_turn_two_million_allocates_nothing(tmp_path):
    ann = tmp_path / "repo/multi_turn_editing/annotations"
    ann.mkdir(parents=True)
    line = b'{"source_image": "a.jpg", "instruction_2000000": "x", "edit_image_2000000": "b.jpg"}'
    assert len(line) < 100
    (ann / "split_0001.jsonl").write_bytes(line + b"\n")
    tracemalloc.start()
    s = ingest(tmp_path / "repo", tmp_path / "wh", workers=1)  # default limits
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(r["source_record"], r["reason"]) for r in table(tmp_path / "wh", "rejects")] == [(1, "too_many_turns")]
    assert s.records_read == 1 and peak < 64 << 20


def test_magicbrush_duplicate_session_ids_are_rejects_not_overwrites(tmp_path):
    top = tmp_path / "MagicBrush_test/test"
    top.mkdir(parents=True)
    turn = '[{"input": "%s-input.png", "mask": "m.png", "output": "%s-out.png", "instruction": "%s"}]'
    (top / "edit_sessions.json").write_text(
        '{"1": %s, "2": %s, "1": %s}' % (turn % (1, 1, "first"), turn % (2, 2, "two"), turn % (1, 1, "second")))
    s = ingest(tmp_path / "MagicBrush_test", tmp_path / "wh", workers=1)
    edits = sorted((e["source_record"], e["instruction"]) for e in table(tmp_path / "wh", "edits"))
    assert edits == [(1, "first"), (2, "two")]
    rejects = [(r["source_record"], r["reason"]) for r in table(tmp_path / "wh", "rejects")]
    assert rejects == [(3, "duplicate_key")]
    assert s.records_read == 3 == s.records_loaded + s.records_rejected


def test_duplicate_and_deep_records_cost_one_reject_each(tmp_path):
    ann = tmp_path / "repo/real_editing/annotations"
    ann.mkdir(parents=True)
    ok = '{"source_image": "a%d.jpg", "target_image": "b%d.jpg", "instruction": "edit %d"}'
    lines = [ok % (1, 1, 1),
             '{"source_image": "x.jpg", "source_image": "y.jpg", "target_image": "b.jpg", "instruction": "dup"}',
             '{"source_image": "a3.jpg", "target_image": "b3.jpg", "instruction": "deep", "meta": %s}'
             % ("[" * 300 + "]" * 300),
             '{"source_image": "a4.jpg", "target_image": "b4.jpg", "instruction": "deeper", "meta": %s}'
             % ("[" * 5000 + "]" * 5000),
             ok % (5, 5, 5)]
    (ann / "split_0001.jsonl").write_text("\n".join(lines) + "\n")
    s = ingest(tmp_path / "repo", tmp_path / "wh", workers=1)
    assert sorted(e["source_record"] for e in table(tmp_path / "wh", "edits")) == [1, 5]
    assert sorted((r["source_record"], r["reason"]) for r in table(tmp_path / "wh", "rejects")) == \
        [(2, "duplicate_key"), (3, "too_deep"), (4, "too_deep")]
    assert s.records_read == 5


def test_the_checker_catches_a_silent_overwrite(tmp_path, monkeypatch):
    """The fuzz checks can fail: with the duplicate-key check off, a duplicated record loads and is counted."""
    from editlens.ingest.readers import common, seed

    monkeypatch.setattr(common, "check_keys", lambda obj, raw: None)
    monkeypatch.setattr(seed, "_keys_written_once", lambda span, recs: True)
    rng = random.Random(7)
    case = F.Case("seed-part2", tmp_path / "in/repo", "real_editing/annotations/split_0001.jsonl")
    F._jsonl_case(case, rng, case.root / case.source_file, 10, lambda i: {
        "source_image": f"s/{i}.jpg", "target_image": f"t/{i}.jpg", "instruction": f"x {i}"},
        ("source_image", "target_image", "instruction"), ("source_image",), "instruction", 1.0)
    lines = (case.root / case.source_file).read_bytes().split(b"\n")
    dup = '{"instruction": "first", "source_image": "s/99.jpg", "target_image": "t/99.jpg", "instruction": "x"}'
    (case.root / case.source_file).write_bytes(b"\n".join(lines + [dup.encode()]) + b"\n")
    case.expected.add(len(lines) + 1)
    case.must_reject.add(len(lines) + 1)
    v = F.check(case, tmp_path / "wh")
    assert v["defect_loaded"] >= 1
