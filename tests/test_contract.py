"""The contract core: the sources YAML declares exactly the Arrow schemas' columns, image locations, rebatch,
the one unusable-input error, and that the core imports no stage."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from editlens.contract import SCHEMAS, ImageLocation, ImageUnavailable, LastRowGroup, UnusableInput, rebatch

SOURCES = Path(__file__).resolve().parents[1] / "models" / "staging" / "__sources.yml"


def duckdb_type(t: pa.DataType) -> str:
    """The DuckDB type DuckDB reads an Arrow column of type `t` as (the sources' `data_type` spelling)."""
    if pa.types.is_list(t):
        return duckdb_type(t.value_type) + "[]"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    return {
        pa.string(): "varchar", pa.int32(): "integer", pa.int64(): "bigint", pa.float64(): "double",
        pa.float32(): "float", pa.bool_(): "boolean", pa.binary(): "blob",
    }[t]


def _sources() -> dict[str, list[tuple[str, str]]]:
    doc = yaml.safe_load(SOURCES.read_text())
    (src,) = [s for s in doc["sources"] if s["name"] == "editlens"]
    return {t["name"]: [(c["name"], str(c["data_type"]).lower()) for c in t["columns"]] for t in src["tables"]}


def test_sources_declare_exactly_the_arrow_schemas():
    declared = _sources()
    # the embedding vectors are read back by the embed job only (scores are computed there), not by dbt
    assert set(SCHEMAS) - set(declared) == {"image_embeddings", "text_embeddings"}
    for name, columns in declared.items():
        want = [(f.name, duckdb_type(f.type)) for f in SCHEMAS[name]]
        assert sorted(columns) == sorted(want), name


def test_the_contract_imports_no_stage():
    code = ("import sys, editlens.contract; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ingest', 'embeddings', 'dashboards') "
            "or m.startswith(('editlens.ingest', 'editlens.embeddings', 'editlens.dashboards'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


STAGES = ("ingest", "embeddings", "dashboards")


def test_stage_packages_live_under_one_namespace():
    """Every first-party import names ``editlens.<stage>``: a top-level ``ingest`` or ``dashboards`` would collide
    with other installed packages (and, imported beside ``editlens.ingest``, load each module twice)."""
    import ast

    repo = SOURCES.parents[2]
    bad = []
    for d in (*STAGES, "editlens", "tests", "bench", "training"):
        for f in sorted((repo / d).rglob("*.py")):
            if ".venv" in f.parts or f.is_relative_to(repo / "editlens" / "dbt") or any(
                    f.is_relative_to(repo / "editlens" / s) for s in STAGES):
                continue
            for node in ast.walk(ast.parse(f.read_text(), str(f))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                bad += [f"{f.relative_to(repo)}: {n}" for n in names if n.split(".")[0] in STAGES]
                if isinstance(node, ast.Constant) and isinstance(node.value, str):  # code run in a subprocess
                    bad += [f"{f.relative_to(repo)}: {m.group(0)!r}" for m in re.finditer(
                        r"(?:^|;)\s*(?:from|import) (?:ingest|embeddings|dashboards)\b", node.value, re.M)]
    assert bad == []
    import editlens.dashboards
    import editlens.embeddings
    import editlens.ingest

    for mod in (editlens.ingest, editlens.embeddings, editlens.dashboards):
        assert Path(mod.__file__).parent.name in STAGES


def test_rebatch_cuts_exact_sizes_whatever_the_input_chunks():
    batches = [pa.record_batch({"x": list(range(a, b))}) for a, b in [(0, 3), (3, 3), (3, 10), (10, 11)]]
    out = list(rebatch(batches, 4))
    assert [t.num_rows for t in out] == [4, 4, 3]
    assert [t.column("x").num_chunks for t in out] == [1, 1, 1]
    assert sum((t.column("x").to_pylist() for t in out), []) == list(range(11))
    assert list(rebatch([], 4)) == []
    assert [t.num_rows for t in rebatch(batches, 11)] == [11]
    with pytest.raises(ValueError):
        list(rebatch(batches, 0))


@pytest.fixture
def store(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.bin").write_bytes(b"file bytes")
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    t = pa.table({"img": pa.array([{"bytes": b"s0", "path": "0"}, {"bytes": None, "path": "1"}], struct),
                  "raw": pa.array([b"r0", b"r1"], pa.binary())})
    pq.write_table(t, tmp_path / "e.parquet", row_group_size=1)
    return tmp_path


def test_read_bytes_from_files_and_parquet(store):
    root = str(store)
    assert ImageLocation("file", root, "a/x.bin").read_bytes() == b"file bytes"
    with pytest.raises(ImageUnavailable) as ei:  # an absolute path is never read, root or not
        ImageLocation(None, None, str(store / "a" / "x.bin")).read_bytes()
    assert ei.value.status == "unsafe_path"
    assert ImageLocation("parquet", root, "e.parquet", 0, 0, "img").read_bytes() == b"s0"
    assert ImageLocation("parquet", root, "e.parquet", 0, 0, "img.bytes").read_bytes() == b"s0"
    assert ImageLocation("parquet", root, "e.parquet", 1, 0, "raw").read_bytes() == b"r1"
    assert ImageLocation("parquet", root, "e.parquet", None, 1, "raw").read_bytes() == b"r1"  # whole file
    cache = LastRowGroup()
    assert ImageLocation("parquet", root, "e.parquet", 1, 0, "raw").read_bytes(cache) == b"r1"
    assert cache.key == (str(store / "e.parquet"), 1, "raw")
    row = {"image_id": "i", "location_kind": "parquet", "root": root, "path": "e.parquet", "row_group": 0,
           "row": 0, "column": "raw", "exists": None}
    assert ImageLocation.from_row(row).read_bytes(cache) == b"r0"


@pytest.mark.parametrize("loc, why", [
    (ImageLocation("file", "ROOT", "nope.jpg"), "missing file: nope.jpg"),
    (ImageLocation("file", "ROOT", "a"), "not a file: a"),
    (ImageLocation("parquet", "ROOT", "none.parquet", 0, 0, "img"), "missing parquet file: none.parquet"),
    (ImageLocation("parquet", "ROOT", "e.parquet", 0, 5, "img"), "row out of range"),
    (ImageLocation("parquet", "ROOT", "e.parquet", 1, 0, "img"), "embedded image is null"),
    (ImageLocation("parquet", "ROOT", "e.parquet", 0, 0, "nocol"), "unreadable parquet"),
    (ImageLocation("parquet", "ROOT", "e.parquet", 0, None, "img"), "incomplete parquet location"),
    (ImageLocation("file", "ROOT", None), "no path"),
    (ImageLocation("s3", "ROOT", "x"), "unknown location kind s3"),
])
def test_unreadable_locations_say_why(store, loc, why):
    loc = ImageLocation(loc.location_kind, str(store), loc.path, loc.row_group, loc.row, loc.column)
    with pytest.raises(ImageUnavailable) as ei:
        loc.read_bytes()
    assert str(ei.value).startswith(why)


def test_every_stage_error_is_the_contract_error():
    from editlens.ingest.writer import IngestBusy

    assert issubclass(IngestBusy, UnusableInput)
    e = UnusableInput("two\n  lines")
    assert str(e) == "two lines" and e.exit_code == 2


def test_the_package_ships_the_dbt_project():
    import editlens
    from editlens.build import project_dir

    proj = project_dir()
    for rel in ("dbt_project.yml", "profiles.yml", "models/staging/__sources.yml", "seeds/thresholds.csv",
                "macros/warehouse_table.sql", "tests/dbt"):
        assert (proj / rel).exists(), rel
    assert yaml.safe_load((proj / "models/staging/__sources.yml").read_text()) == yaml.safe_load(SOURCES.read_text())
    if os.environ.get("EDITLENS_TEST_INSTALLED"):  # set by `make test`: the wheel is what is tested
        # the installed copy lives in site-packages (which may sit inside the checkout's .venv), never in the source tree
        repo = SOURCES.parents[2]
        for where in (Path(editlens.__file__).resolve(), proj.resolve()):
            assert "site-packages" in where.parts, where
            assert not where.is_relative_to(repo / "editlens"), where


def test_edit_scores_schema_is_the_sources_declaration():
    """edit_scores is declared once (the sources YAML); the Arrow schema is derived, key columns first."""
    from editlens.contract import declared
    from editlens.contract import tables as T

    schema = T.EMBED_SCHEMAS[T.EDIT_SCORES]
    assert schema.names[:5] == ["edit_id", "model_key", "model_name", "pretrained", "preprocess"]
    assert schema.field("clip_i").type == pa.float64() and schema.field("phash_distance").type == pa.int32()
    assert schema.names == [n for n, _ in _sources()["edit_scores"]]
    text = declared.sources_yaml().replace(
        "- {name: null_reason, data_type: varchar",
        "- {name: contract_test_score, data_type: double, description: \"x\"}\n          - {name: null_reason, data_type: varchar")
    extended = declared.declared_schema(T.EDIT_SCORES, text)
    assert extended.names[-2:] == ["contract_test_score", "null_reason"] and extended.field("contract_test_score").type == pa.float64()
    with pytest.raises(ValueError, match="no Arrow type"):
        declared.declared_schema(T.EDIT_SCORES, text.replace("name: contract_test_score, data_type: double",
                                                             "name: contract_test_score, data_type: hugeint"))
