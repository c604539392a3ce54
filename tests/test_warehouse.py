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
