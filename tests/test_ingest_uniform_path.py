"""The whole-file fast path of the plain Part-1 shape (``seed._map_uniform``: values cut out of the file's bytes,
no per-line parse) gives the same tables as the per-record path (the same reader with the fast path off), on
clean files it takes and on near misses it must refuse; and a Part-1 folder in the dataset's layout with some
bad records ingests to the same warehouse either way, every record accounted for. Every test runs with each
of the two column cutters (the compiled one, where the extension is built, and Arrow + numpy), which must also
agree on every file, mutated ones included."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from editlens.contract import tables as T
from editlens.contract.limits import IngestLimits
from editlens.ingest.images import ImageChecker
from editlens.ingest.main import IngestConfig, run_ingest
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers import seed
from editlens.warehouse import Warehouse


def _line(k: int, **kw) -> str:
    r = {"source_image": f"source_images/{k:06x}.jpg", "target_image": f"target_images/{k:06x}_1.jpg",
         "instruction": f"Remove the dog number {k}"}
    r.update(kw)
    return json.dumps({key: v for key, v in r.items() if v is not ...}, ensure_ascii=False)


def _clean(n: int = 6, **kw) -> list[str]:
    return [_line(k, **kw) for k in range(1, n + 1)]


def _file(lines, end: bytes = b"\n") -> bytes:
    return b"\n".join(ln if isinstance(ln, bytes) else ln.encode() for ln in lines) + end


GPT4V = [_line(k, instruction_ori=f"remove dog {k}", source_caption="a dog", target_caption="no dog")
         for k in range(1, 5)]
# files the fast path takes
TAKEN = {
    "plain": _file(_clean()),
    "gpt4v-keys": _file(GPT4V),
    "non-ascii": _file(_clean(instruction="Entferne den Hund \u00e9\U0001f600 ok")),
    "no-final-newline": _file(_clean(), b""),
    "bom": b"\xef\xbb\xbf" + _file(_clean()),
    "del-byte": _file(_clean(4) + [_line(5, instruction="odd \x7f byte")]),
    "compact-separators": _file([json.dumps(json.loads(ln), separators=(",", ":")) for ln in _clean()]),
    "one-line": _file(_clean(1)),
    "shared-images": _file(_clean(3) + [_line(9, source_image="source_images/000001.jpg")]),
}
# near misses: the fast path must leave them to the record path (which loads or rejects each record)
c = _clean(5)
REFUSED = {
    "key-order": _file(c + [json.dumps(dict(reversed(list(json.loads(_line(6)).items()))))]),
    "spacing": _file(c + [_line(6).replace('": "', '":"', 1)]),
    "duplicate-key-later": _file(c + ['{"source_image": "a.jpg", "source_image": "b.jpg", "target_image": "t.jpg", '
                                      '"instruction": "x"}']),
    "duplicate-key-first": _file(['{"source_image": "a.jpg", "target_image": "t.jpg", "instruction": "x", '
                                  '"instruction": "y"}'] + c),
    "escaped-quote": _file(c + [_line(6, instruction='say "hi"')]),
    "unicode-escape": _file(c + [json.dumps(json.loads(_line(6, instruction="caf\u00e9")))]),
    "surrogate-escape": _file(c + [_line(6).replace("dog", "\\ud800")]),
    "blank-line": _file(c[:2] + [""] + c[2:]),
    "crlf": _file(c).replace(b"\n", b"\r\n"),
    "raw-tab": _file(c + [_line(6).replace("dog", "d\tog")]),
    "raw-nul": _file(c + [_line(6).replace("dog", "d\x00og")]),
    "invalid-utf8": _file(c + [_line(6).encode().replace(b"dog", b"d\xffog")]),
    "too-long": _file(c + [_line(6, instruction="x" * 300)]),
    "empty-instruction": _file(c + [_line(6, instruction="")]),
    "space-instruction": _file(c + [_line(6, instruction="   ")]),
    "unsafe-path": _file(c + [_line(6, source_image="../../etc/passwd")]),
    "absolute-path": _file(c + [_line(6, target_image="/abs.jpg")]),
    "url-path": _file(c + [_line(6, target_image="http://x/y.jpg")]),
    "duplicate-record": _file(c + [c[1]]),
    "number-value": _file(c + [_line(6, instruction=7)]),
    "null-value": _file(c + [_line(6, source_caption=None)]),
    "missing-key": _file(c + [_line(6, target_image=...)]),
    "array-line": _file(c + ['["source_image", "s.jpg", "target_image", "t.jpg", "instruction", "x"]']),
    "unknown-key": _file(_clean(extra_key="v")),
    "task-type": _file(_clean(task_type=["object-add"])),
    "malformed": _file(c + ['{"source_image": "a.jpg", "target_image": "t.jpg", "instruction": "x"']),
    "non-ascii-first-byte": _file(c + [_line(6, instruction="\u00c9dit the dog")]),
    "empty": b"",
}


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def cutter(request, monkeypatch):
    if request.param == "numpy":
        monkeypatch.setattr(seed, "_c_uniform", None)
    elif seed._c_uniform is None:
        pytest.skip("the optional C extension is not built here")
    return request.param


def _prepared(data: bytes) -> bytes | None:
    """What ``_map_uniform`` hands a cutter: no BOM, valid UTF-8, a final newline (None: refused before)."""
    data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if not data else data if data.endswith(b"\n") else data + b"\n"


def _mutations(data: bytes, n: int, seed_: int) -> list[bytes]:
    rng = random.Random(seed_)
    out = []
    for _ in range(n):
        k = rng.randrange(len(data))
        op = rng.choice([b'"', b"\\", b"\t", b"\n", b"\r", b"x", b" ", b"{", b":", b",", b"\x00", b""])
        out.append(data[:k] + op + data[k + (op == b"" or rng.random() < 0.3):])
    return out


@pytest.mark.skipif(seed._c_uniform is None, reason="the optional C extension is not built here")
@pytest.mark.parametrize("max_line", [256, 132])
def test_the_cutters_agree_on_every_file(cutter, max_line, monkeypatch):
    from editlens.ingest import _sha1batch

    monkeypatch.setattr(seed, "_c_uniform", _sha1batch.uniform_values)
    files = list(TAKEN.values()) + list(REFUSED.values())
    files += _mutations(TAKEN["plain"], 400, 1) + _mutations(_file(GPT4V), 300, 2)
    checked, taken = 0, 0
    for data in files:
        d = _prepared(data)
        if d is None:
            continue
        a, b = seed._uniform_columns_c(d, max_line), seed._uniform_columns_numpy(d, max_line)
        assert (a is None) == (b is None), d
        if a is not None:
            taken += 1
            assert list(a) == list(b) and all(a[k].to_pylist() == b[k].to_pylist() for k in a), d
            assert all(a[k].type == pa.string() and a[k].validate(full=True) is None for k in a)
        checked += 1
    assert checked > 600 and 20 < taken < checked  # both outcomes are exercised


def _mapper(tmp_path: Path, check: bool) -> UnitMapper:
    return UnitMapper(dataset="seed-data-edit", part="part1-openimages", split="train", root=str(tmp_path),
                      image_root="auto_editing/openimages/images", source_file="auto_editing/openimages/a.jsonl",
                      run_id="run", checker=ImageChecker(check), limits=IngestLimits(max_line_bytes=256))


def _map(tmp_path, data, check, fast: bool, monkeypatch):
    taken = []
    real = seed._map_uniform

    def spy(d, m):
        ok = real(d, m) if fast else False
        taken.append(ok)
        return ok

    monkeypatch.setattr(seed, "_map_uniform", spy)
    m = _mapper(tmp_path, check)
    seed.map_single(None, data, m)
    monkeypatch.setattr(seed, "_map_uniform", real)
    return m, taken == [True]


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("name", sorted(TAKEN) + sorted(REFUSED))
def test_fast_path_equals_record_path(tmp_path, monkeypatch, name, check):
    img = tmp_path / "auto_editing/openimages/images/source_images"
    img.mkdir(parents=True)
    (img / "000001.jpg").write_bytes(b"x")
    data = TAKEN.get(name, REFUSED.get(name))
    fast, took = _map(tmp_path, data, check, True, monkeypatch)
    ref, _ = _map(tmp_path, data, check, False, monkeypatch)
    assert took is (name in TAKEN)
    a, b = fast.tables(), ref.tables()
    for t in ("edits", "images", "rejects"):
        assert a[t].schema == b[t].schema
        assert a[t].to_pylist() == b[t].to_pylist(), t
    assert (fast.read, fast.loaded, fast.rejected, fast.images_missing) == \
        (ref.read, ref.loaded, ref.rejected, ref.images_missing)
    if name in TAKEN:
        assert fast.rejected == 0 and fast.loaded == a["edits"].num_rows > 0
        assert a["edits"].column("source_record").to_pylist() == list(range(1, fast.loaded + 1))
    if check:
        exists = {r["path"]: r["exists"] for r in a["images"].to_pylist()}
        assert exists.get("auto_editing/openimages/images/source_images/000001.jpg") in (True, None)


def test_files_over_a_chunk_go_the_record_path(tmp_path, monkeypatch):
    monkeypatch.setattr(seed, "CHUNK_LINES", 4)
    fast, took = _map(tmp_path, TAKEN["plain"], False, True, monkeypatch)
    ref, _ = _map(tmp_path, TAKEN["plain"], False, False, monkeypatch)
    assert not took and fast.loaded == 6
    assert fast.tables()["edits"].to_pylist() == ref.tables()["edits"].to_pylist()
    monkeypatch.setattr(seed, "CHUNK_LINES", 6)
    assert _map(tmp_path, TAKEN["plain"], False, True, monkeypatch)[1]


EXPECTED_REJECTS = {"duplicate-key-later": T.DUPLICATE_KEY, "too-long": T.TOO_LARGE,
                    "empty-instruction": T.EMPTY_INSTRUCTION, "unsafe-path": T.UNSAFE_PATH,
                    "duplicate-record": T.DUPLICATE_RECORD, "invalid-utf8": T.INVALID_UTF8,
                    "raw-tab": T.MALFORMED_JSON}


@pytest.mark.parametrize("name", sorted(EXPECTED_REJECTS))
def test_refused_files_keep_their_reject_reasons(tmp_path, monkeypatch, name):
    m, took = _map(tmp_path, REFUSED[name], False, True, monkeypatch)
    assert not took
    rejects = m.tables()["rejects"].to_pylist()
    assert [(r["source_record"], r["reason"]) for r in rejects] == [(6, EXPECTED_REJECTS[name])]
    assert m.loaded == 5 and m.read == 6


def _part1_folder(root: Path) -> int:
    """A SEED-Data-Edit-Part1-Openimages download (annotations only): two clean files, three with bad
    records; returns the number of records (non-blank lines)."""
    ann = root / "SEED-Data-Edit-Part1-Openimages/auto_editing/openimages/annotations"
    ann.mkdir(parents=True)
    files = {
        "split_0001.jsonl": _file([_line(k) for k in range(1, 301)]),
        "split_0002.jsonl": _file([_line(k) for k in range(301, 601)]),
        "split_0003.jsonl": REFUSED["duplicate-key-later"] + _file([_line(k) for k in range(700, 720)]),
        "split_0004.jsonl": _file([_line(k) for k in range(800, 810)] + [_line(801)] + ["{bad"]
                                  + [_line(811, source_image="/abs.jpg"), _line(812, instruction="")]),
        "split_0005.jsonl": REFUSED["escaped-quote"],
    }
    for name, data in files.items():
        (ann / name).write_bytes(data)
    return sum(1 for data in files.values() for ln in data.split(b"\n") if ln.strip())


def _warehouse_rows(wh: Path) -> dict[str, list]:
    con = duckdb.connect()
    drop = {"edits": "ingest_run_id", "images": "", "rejects": "ingest_run_id",
            "ingest_runs": "ingest_run_id, started_at, duration_s"}
    out = {}
    for t, cols in drop.items():
        ex = f" exclude ({cols})" if cols else ""
        out[t] = con.sql(f"select *{ex} from read_parquet('{wh}/parquet/{t}/*.parquet') order by all").fetchall()
    return out


@pytest.mark.parametrize("check", [False, True])
def test_part1_folder_same_warehouse_either_way(tmp_path, monkeypatch, check):
    n = _part1_folder(tmp_path / "data")
    path = tmp_path / "data/SEED-Data-Edit-Part1-Openimages"
    calls = []
    real = seed._map_uniform

    def spy(d, m):
        calls.append(real(d, m))
        return calls[-1]

    monkeypatch.setattr(seed, "_map_uniform", spy)
    fast = run_ingest(IngestConfig(path, Warehouse(tmp_path / "fast"), workers=1, check_images=check))
    monkeypatch.setattr(seed, "_map_uniform", lambda d, m: False)
    slow = run_ingest(IngestConfig(path, Warehouse(tmp_path / "slow"), workers=1, check_images=check))
    assert sorted(calls) == [False, False, False, True, True]  # the two clean files took the fast path
    assert fast.records_read == slow.records_read == n == fast.records_loaded + fast.records_rejected
    a, b = _warehouse_rows(tmp_path / "fast"), _warehouse_rows(tmp_path / "slow")
    assert a == b
    assert len(a["edits"]) + len(a["rejects"]) == n
    at = [f.name for f in T.REJECTS if f.name != "ingest_run_id"].index("reason")
    reasons = sorted(r[at] for r in a["rejects"])
    assert reasons == sorted([T.DUPLICATE_KEY, T.DUPLICATE_RECORD, T.MALFORMED_JSON, T.UNSAFE_PATH,
                              T.EMPTY_INSTRUCTION])


@pytest.mark.parametrize("files,records", [
    (["a"] * 4, [1, 2, 3, 5]),  # one file in order: the shortcut
    (["a"] * 5, [1, 1, 1, 2, 4]),  # a multi-turn line repeats over its turns
    (["a"] * 3, [3, 1, 2]),  # out of order: grouped
    (["a", "a", "b", "b"], [1, 2, 1, 2]),  # two files: grouped
    (["a"] * 3, [1, 2, 2]),
])
def test_count_records_counts_distinct_file_records(files, records):
    import pyarrow as pa

    from editlens.ingest.main import count_records
    from editlens.ingest.mapper import build_table

    edits = build_table(T.EDITS, {"source_file": files, "source_record": records}, len(files))
    for rejects in (build_table(T.REJECTS, {}, 0), build_table(T.REJECTS, {"source_file": ["a"], "source_record":
                                                                           [records[0]]}, 1)):
        want = len(set(zip(files, records)) | set(zip(rejects.column("source_file").to_pylist(),
                                                     rejects.column("source_record").to_pylist())))
        assert count_records({"edits": edits, "rejects": rejects}) == want
    assert isinstance(edits.column("source_record"), pa.ChunkedArray)


@pytest.mark.parametrize("args", [(b'{"a": "b"}', 1, 99), (b'{"a": "b"}\n', 0, 99), (b"", 1, 99)])
def test_the_compiled_cutter_refuses_unusable_arguments(cutter, args):
    ext = pytest.importorskip("editlens.ingest._sha1batch", reason="the optional C extension is not built here")
    with pytest.raises(ValueError):
        ext.uniform_values(*args)
