import pyarrow as pa
import pyarrow.parquet as pq

from editlens.warehouse import ENV_VAR, Warehouse, atomic_write_table, remove_stale_temporaries


def test_paths_follow_the_contract(tmp_path):
    wh = Warehouse.at(tmp_path / "wh")
    assert wh.duckdb_path == tmp_path / "wh" / "editlens.duckdb"
    assert wh.table_dir("edits") == tmp_path / "wh" / "parquet" / "edits"
    assert wh.marts_dir == tmp_path / "wh" / "marts"
    assert wh.table_glob("images").endswith("parquet/images/*.parquet")
    assert not wh.has_table("edits")


def test_an_exported_mart_is_read_from_its_file_or_its_per_dataset_files(tmp_path):
    import duckdb

    wh = Warehouse.at(tmp_path / "wh")
    wh.marts_dir.mkdir(parents=True)
    assert wh.mart_source("edits") is None and not wh.has_mart("edits") and wh.mart_files("edits") == []
    pq.write_table(pa.table({"dataset": ["a"]}), wh.mart_path("bias_slices"))
    assert wh.mart_source("bias_slices") == str(wh.mart_path("bias_slices"))
    assert wh.mart_files("bias_slices") == [wh.mart_path("bias_slices")]
    folder = wh.mart_path("edits")
    folder.mkdir()
    assert wh.mart_source("edits") is None  # an emptied folder (an export about to write it whole)
    for d in ("seed-data-edit", "hq-edit"):
        pq.write_table(pa.table({"dataset": [d, d]}), folder / f"dataset-{d}.parquet")
    (folder / "tmp_dataset-hq-edit.parquet").write_bytes(b"PAR1 half written")
    assert [p.name for p in wh.mart_files("edits")] == ["dataset-hq-edit.parquet", "dataset-seed-data-edit.parquet"]
    got = duckdb.sql(f"select dataset, count(*) from read_parquet('{wh.mart_source('edits')}') group by all order by 1")
    assert got.fetchall() == [("hq-edit", 2), ("seed-data-edit", 2)]


def test_env_var_sets_default(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    assert Warehouse.at().root == (tmp_path / "from-env").resolve()


def test_atomic_write_replaces_whole_file_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "t" / "shard.parquet"
    atomic_write_table(pa.table({"x": [1, 2, 3]}), path)
    atomic_write_table(pa.table({"x": [4, 5]}), path)
    assert pq.read_table(path).column("x").to_pylist() == [4, 5]
    assert [p.name for p in path.parent.iterdir()] == ["shard.parquet"]


def test_temporary_names_never_match_the_readers_glob(tmp_path, monkeypatch):
    import duckdb

    seen = []
    real_replace = __import__("os").replace

    def spy(src, dst):
        seen.append(str(src))
        # while the temporary file exists, a reader's glob must not pick it up
        n = duckdb.sql(f"select count(*) from glob('{tmp_path}/t/*.parquet')").fetchone()[0]
        assert n == 0
        return real_replace(src, dst)

    monkeypatch.setattr("editlens.warehouse.os.replace", spy)
    atomic_write_table(pa.table({"x": [1]}), tmp_path / "t" / "a.parquet")
    assert seen and not seen[0].endswith(".parquet")


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / ".shard.parquet.abc.tmp").write_bytes(b"half")
    (tmp_path / "keep.parquet").write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.parquet"]
