"""Bad input: every defect becomes a reject row with its reason (never a crash, never a silent drop); missing
images are loaded and marked missing; unusable input is one line and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures_ingest import ingest, table, touch, write_lines

REPO = Path(__file__).resolve().parents[1]
OK = {"source_image": "images/1_0.jpg", "target_image": "images/1_1.jpg", "instruction": "Remove the car",
      "task_type": ["object-remove"], "instruction_cn": "移除汽车"}


def rec(**kw):
    r = dict(OK)
    for k, v in kw.items():
        if v is ...:
            r.pop(k)
        else:
            r[k] = v
    return r


def build_bad_part2(root: Path, outside: Path) -> dict[int, str]:
    """A Part-2 annotation file with one defect per line; returns {line: expected reason} (None = loaded)."""
    base = root / "real_editing"
    touch(base / "images/images/1_0.jpg")
    touch(outside / "secret.jpg")
    (base / "images/images/evil.jpg").symlink_to(outside / "secret.jpg")
    (base / "images/images/inner.jpg").symlink_to(base / "images/images/1_0.jpg")
    lines = [
        rec(),                                                           # 1 ok (target missing: loaded)
        '{"source_image": "images/2_0.jpg", "target_image": ',           # 2 malformed
        rec(instruction=...),                                            # 3 missing key
        rec(instruction=42),                                             # 4 wrong type
        rec(task_type={"a": 1}),                                         # 5 wrong type (labels)
        rec(instruction="   "),                                          # 6 empty
        rec(instruction="x" * 10_001),                                   # 7 too long
        b'{"source_image": "images/3_0.jpg", "target_image": "images/3_1.jpg", "instruction": "caf\xe9"}',  # 8
        rec(source_image="/etc/passwd"),                                 # 9 absolute
        rec(target_image="images/../../../etc/shadow"),                  # 10 escapes
        rec(source_image="images/evil.jpg", target_image="images/9_1.jpg"),  # 11 symlink outside
        rec(),                                                           # 12 duplicate of line 1
        "",                                                              # 13 blank: not a record
        "[1, 2, 3]",                                                     # 14 not an object
        rec(source_image="images/inner.jpg", target_image="images/7_1.jpg", instruction="ok " * 3),  # 15 ok
        rec(source_image=None),                                          # 16 null path
        rec(source_image=["images/a.jpg"]),                              # 17 wrong-typed path
        rec(instruction="y" * 10_000, source_image="images/5_0.jpg"),    # 18 exactly the limit: ok
        rec(source_image="C:\\data\\x.jpg", target_image="images/4_1.jpg"),  # 19 absolute (Windows)
    ]
    write_lines(base / "annotations/split_0001.jsonl", lines)
    return {1: None, 2: "malformed_json", 3: "missing_key", 4: "wrong_type", 5: "wrong_type",
            6: "empty_instruction", 7: "instruction_too_long", 8: "invalid_utf8", 9: "unsafe_path",
            10: "unsafe_path", 11: "unsafe_path", 12: "duplicate_record", 14: "wrong_type", 15: None,
            16: "missing_key", 17: "wrong_type", 18: None, 19: "unsafe_path"}


def test_each_bad_record_is_a_reject_with_its_reason(tmp_path):
    expect = build_bad_part2(tmp_path / "repo", tmp_path / "outside")
    s = ingest(tmp_path / "repo", tmp_path / "wh", workers=1)
    rejects = table(tmp_path / "wh", "rejects")
    got = {r["source_record"]: r["reason"] for r in rejects}
    assert got == {line: reason for line, reason in expect.items() if reason}
    loaded = sorted(e["source_record"] for e in table(tmp_path / "wh", "edits"))
    assert loaded == [line for line, reason in expect.items() if reason is None]
    assert s.records_read == len(expect) == s.records_loaded + s.records_rejected
    run = table(tmp_path / "wh", "ingest_runs")[0]
    assert (run["records_read"], run["records_loaded"], run["records_rejected"]) == (18, 3, 15)
    for r in rejects:
        assert r["source_file"] == "real_editing/annotations/split_0001.jsonl"
        assert r["message"] and r["part"] == "part2" and r["dataset"] == "seed-data-edit"
        assert r["raw"] is not None and len(r["raw"]) <= 500
    assert next(r for r in rejects if r["source_record"] == 2)["raw"].startswith('{"source_image": "images/2_0')
    # the missing image of line 1 is marked missing, the present one exists, the in-root symlink is fine
    images = {i["path"]: i["exists"] for i in table(tmp_path / "wh", "images")}
    assert images["real_editing/images/images/1_0.jpg"] is True
    assert images["real_editing/images/images/1_1.jpg"] is False
    assert images["real_editing/images/images/inner.jpg"] is True
    assert "real_editing/images/images/evil.jpg" not in images


def test_without_image_check_exists_is_null_and_lexical_checks_still_apply(tmp_path):
    build_bad_part2(tmp_path / "repo", tmp_path / "outside")
    ingest(tmp_path / "repo", tmp_path / "wh", workers=1, check_images=False)
    got = {r["source_record"]: r["reason"] for r in table(tmp_path / "wh", "rejects")}
    assert got[9] == got[10] == got[19] == "unsafe_path"
    assert 11 not in got  # symlinks are not followed when the file system is not looked at
    assert {i["exists"] for i in table(tmp_path / "wh", "images")} == {None}


def test_part3_bad_turns(tmp_path):
    root = tmp_path / "repo"
    write_lines(root / "multi_turn_editing/annotations/split_0001.jsonl", [
        {"source_image": "s/a.jpg", "instruction_1": "one", "edit_image_1": "s/a1.jpg",
         "instruction_2": "", "edit_image_2": "s/a2.jpg", "instruction_3": "three", "edit_image_3": "s/a3.jpg"},
        {"source_image": "s/b.jpg", "instruction_1": "one", "edit_image_1": "../b1.jpg",
         "instruction_2": "two", "edit_image_2": "s/b2.jpg"},
        '{"source_image": "s/c.jpg", "instruction_1": "one"',
        {"source_image": "s/d.jpg", "instruction_1": None, "edit_image_1": None},
        {"source_image": "s/e.jpg", "instruction_1": "one", "edit_image_1": "s/e1.jpg",
         "instruction_2": "two", "edit_image_2": None, "instruction_3": "three", "edit_image_3": "s/e3.jpg"},
    ])
    s = ingest(root, tmp_path / "wh", workers=1)
    rejects = sorted((r["source_record"], r["turn_index"], r["reason"]) for r in table(tmp_path / "wh", "rejects"))
    assert rejects == [
        (1, 2, "empty_instruction"),
        (2, 1, "unsafe_path"), (2, 2, "unsafe_path"),  # turn 2's source is turn 1's escaping target
        (3, None, "malformed_json"),
        (4, None, "missing_key"),  # a session without any turn
        (5, 2, "missing_key"), (5, 3, "missing_key"),  # turn 3's source (edit_image_2) is null
    ]
    loaded = sorted((e["source_record"], e["turn_index"]) for e in table(tmp_path / "wh", "edits"))
    assert loaded == [(1, 1), (1, 3), (5, 1)]
    assert s.records_read == 5 and s.records_loaded + s.records_rejected == 10  # 5 lines (sessions), 10 turns


def test_reader_never_crashes_on_garbage_bytes(tmp_path):
    root = tmp_path / "repo"
    f = root / "auto_editing/openimages/annotations/split_0000.jsonl"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"\x00\x01\x02garbage\n\xff\xfe\n{}\n" + b"{" * 5000 + b"\n")
    s = ingest(root, tmp_path / "wh", workers=1)
    assert s.records_read == 4 and s.records_rejected == 4
    reasons = sorted(r["reason"] for r in table(tmp_path / "wh", "rejects"))
    assert reasons == ["invalid_utf8", "malformed_json", "malformed_json", "missing_key"]


def test_unreadable_file_is_a_reject_not_a_crash(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads unreadable files")
    root = tmp_path / "repo"
    f = write_lines(root / "real_editing/annotations/split_0001.jsonl", [OK])
    f.chmod(0)
    s = ingest(root, tmp_path / "wh", workers=1)
    assert [r["reason"] for r in table(tmp_path / "wh", "rejects")] == ["unreadable_file"]
    assert s.records_read == 1


def cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "editlens.cli", "ingest", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)


def test_cli_unusable_input_is_one_line_and_exit_2(tmp_path):
    r = cli(str(tmp_path / "nope"), "--warehouse", str(tmp_path / "wh"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "nope" in r.stderr
    (tmp_path / "empty").mkdir()
    r = cli(str(tmp_path / "empty"), "--warehouse", str(tmp_path / "wh"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = cli(str(tmp_path / "empty"), "--format", "bogus", "--warehouse", str(tmp_path / "wh"))
    assert r.returncode == 2 and "bogus" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cli_prints_totals(tmp_path):
    build_bad_part2(tmp_path / "repo", tmp_path / "outside")
    r = cli(str(tmp_path / "repo"), "--warehouse", str(tmp_path / "wh"), "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "records read 18; edits loaded 3 + rejected 15" in r.stdout
    assert "records 18, edits loaded 3, rejected 15" in r.stdout
