"""DuckDB resource settings: the caller's defaults, environment overrides, applied to a connection and the profile."""

from __future__ import annotations

from pathlib import Path

from editlens.contract.resources import DuckDBResources, connect


def test_defaults_are_applied(tmp_path):
    con = connect(DuckDBResources(memory_limit="1GB", threads=1, temp_directory=str(tmp_path / "spill")))
    assert con.sql("select current_setting('preserve_insertion_order')").fetchone()[0] is False
    assert con.sql("select current_setting('threads')").fetchone()[0] == 1
    assert con.sql("select current_setting('temp_directory')").fetchone()[0] == str(tmp_path / "spill")
    assert con.sql("select current_setting('memory_limit')").fetchone()[0] in ("953.6 MiB", "1.0 GiB", "1000.0 MB")


def test_environment_overrides_the_callers_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("EDITLENS_DUCKDB_MEMORY", "700MB")
    monkeypatch.setenv("EDITLENS_DUCKDB_THREADS", "1")
    monkeypatch.setenv("EDITLENS_DUCKDB_TEMP", str(tmp_path / "t"))
    monkeypatch.setenv("EDITLENS_DUCKDB_MAX_TEMP", "3GB")
    r = DuckDBResources.from_env("2GB", 2, "/nowhere")
    assert (r.memory_limit, r.threads, r.temp_directory, r.max_temp_directory_size) == ("700MB", 1, str(tmp_path / "t"), "3GB")
    con = connect(r)
    assert con.sql("select current_setting('max_temp_directory_size')").fetchone()[0].startswith("2.7 GiB")
    monkeypatch.delenv("EDITLENS_DUCKDB_MEMORY")
    assert DuckDBResources.from_env("2GB").memory_limit == "2GB"


def test_the_dbt_profile_sets_memory_spill_and_order(repo_root: Path):
    text = (repo_root / "profiles.yml").read_text()
    for needle in ("EDITLENS_DUCKDB_MEMORY", "EDITLENS_DUCKDB_THREADS", "EDITLENS_DUCKDB_TEMP",
                   "preserve_insertion_order: false", "temp_directory"):
        assert needle in text


def test_the_dashboard_and_export_connections_have_a_memory_limit_and_spill_folder(monkeypatch, tmp_path):
    from editlens.dashboards.data.connection import open_duckdb
    from editlens.export.main import connect as export_connect
    from editlens.warehouse import Warehouse

    monkeypatch.delenv("EDITLENS_DUCKDB_MEMORY", raising=False)
    monkeypatch.delenv("EDITLENS_DUCKDB_TEMP", raising=False)
    con = open_duckdb(tmp_path, threads=1)
    setting = lambda c, name: c.sql(f"select current_setting('{name}')").fetchone()[0]  # noqa: E731
    assert setting(con, "memory_limit") in ("3.7 GiB", "4.0 GiB", "4.0 GB")
    assert setting(con, "temp_directory") == str(tmp_path / "tmp" / "duckdb")
    assert setting(con, "threads") == 1
    assert setting(con, "preserve_insertion_order") is True  # pages list rows in mart order
    monkeypatch.setenv("EDITLENS_DUCKDB_MEMORY", "700MB")
    assert setting(open_duckdb(tmp_path), "memory_limit") == "667.5 MiB"
    wh = Warehouse.at(tmp_path / "wh").ensure()
    import duckdb

    duckdb.connect(str(wh.duckdb_path)).close()
    assert setting(export_connect(wh), "memory_limit") == "667.5 MiB"


def test_a_spill_into_a_warehouse_without_a_tmp_folder_works(tmp_path):
    # DuckDB creates its spill folder but not the folder's parents: a fresh warehouse has no DIR/tmp
    from editlens.warehouse import Warehouse

    wh = Warehouse.at(tmp_path / "wh").ensure()
    assert not (wh.root / "tmp").exists()
    con = connect(DuckDBResources(memory_limit="60MB", threads=1, temp_directory=str(wh.spill_dir)))
    n = con.sql("select count(*) from (select range a, md5(range::varchar) b from range(3000000) order by b)")
    assert n.fetchone()[0] == 3_000_000


def test_editlens_build_makes_the_profiles_spill_folder_parent(monkeypatch, tmp_path):
    import subprocess

    from editlens import build as build_mod
    from editlens.warehouse import Warehouse

    wh = Warehouse.at(tmp_path / "wh").ensure()
    (wh.table_dir("edits")).mkdir(parents=True)
    (wh.table_dir("edits") / "x.parquet").write_bytes(b"")
    monkeypatch.delenv("EDITLENS_DUCKDB_TEMP", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    assert build_mod.run_build(wh) == 0
    assert (wh.root / "tmp").is_dir()


def test_the_build_memory_default_is_a_share_of_the_machine(monkeypatch, tmp_path):
    from editlens.build import BuildConfig, dbt_command
    from editlens.contract.resources import build_memory_default, physical_memory_bytes
    from editlens.warehouse import Warehouse

    assert build_memory_default(24 * 2**30) == "14745MB"  # 60% of 24 GiB, in whole MB
    assert build_memory_default(8 * 2**30, share=0.5) == "4096MB"
    assert build_memory_default(512 * 2**20) == "1024MB"  # never under 1GB
    assert build_memory_default(0) == "5GB"  # unknown memory: the profile's default
    total = physical_memory_bytes()
    assert total is not None and total > 2**30
    monkeypatch.delenv("EDITLENS_DUCKDB_MEMORY", raising=False)
    wh = Warehouse.at(tmp_path / "wh")
    _, env = dbt_command(BuildConfig(warehouse=wh))
    assert env["EDITLENS_DUCKDB_MEMORY"] == build_memory_default()
    assert int(env["EDITLENS_DUCKDB_MEMORY"].removesuffix("MB")) == int(total * 0.6 / 2**20)
    monkeypatch.setenv("EDITLENS_DUCKDB_MEMORY", "700MB")  # the user's setting wins
    assert dbt_command(BuildConfig(warehouse=wh))[1]["EDITLENS_DUCKDB_MEMORY"] == "700MB"
    assert dbt_command(BuildConfig(warehouse=wh, duckdb_memory="1GB"))[1]["EDITLENS_DUCKDB_MEMORY"] == "1GB"
