"""The read-only SQL console: what it refuses, what it runs, and its row limit and timeout."""

from __future__ import annotations

import time

import pyarrow.parquet as pq
import pytest

from conftest import copy_marts
from editlens.dashboards.sql_console import QueryRejected, QueryTimeout, SqlConsole, validate

MARTS = ("edits", "edit_labels", "edit_quality_flags", "dataset_scorecard")


@pytest.fixture(scope="module")
def console(tmp_path_factory, built_warehouse):
    root = copy_marts(built_warehouse, tmp_path_factory.mktemp("whsql"))
    (root / "secret.csv").write_text("a\n1\n")
    c = SqlConsole.over({m: root / "marts" / f"{m}.parquet" for m in MARTS}, row_limit=50, timeout_s=5)
    c.root = root
    edits = pq.read_table(root / "marts" / "edits.parquet", columns=["edit_id", "dataset"]).to_pandas()
    c.n_edits, c.n_datasets, c.first_id = len(edits), edits["dataset"].nunique(), min(edits["edit_id"])
    yield c
    c.close()


@pytest.mark.parametrize(
    "sql, reason",
    [
        ("attach '/tmp/other.db' as o", "only SELECT"),
        ("install httpfs", "only SELECT"),
        ("load httpfs", "only SELECT"),
        ("copy edits to '/tmp/out.csv'", "only SELECT"),
        ("copy (select 1) to '/tmp/out.parquet' (format parquet)", "only SELECT"),
        ("pragma database_list", "must start with SELECT"),
        ("set enable_external_access = true", "only SELECT"),
        ("create table t as select 1", "only SELECT"),
        ("insert into edits select * from edits", "only SELECT"),
        ("update edits set instruction = ''", "only SELECT"),
        ("delete from edits", "only SELECT"),
        ("drop view edits", "only SELECT"),
        ("select 1; drop view edits", "exactly one statement"),
        ("select * from read_parquet('/etc/passwd')", "read_parquet"),
        ("select * from read_csv_auto('x.csv')", "read_csv_auto"),
        ("select * from read_json('x.json')", "read_json"),
        ("select * from glob('/*')", "glob"),
        ("select * from read_text('/etc/passwd')", "read_text"),
        ("select * from query('select 1')", "query"),
        ("select * from '/etc/passwd'", "unknown table"),
        ('select * from "secret.csv"', "quoted names"),
        ("select * from main.information_schema.tables", "qualified name"),
        ("select current_setting('enable_external_access')", "current_setting"),
        ("select * from edits e, /* sneaky */ read_blob('/etc/hostname')", "read_blob"),
        ("select * from not_a_mart", "unknown table"),
        ("", "empty"),
    ],
)
def test_rejected(console, sql, reason):
    with pytest.raises(QueryRejected) as ei:
        console.run(sql)
    assert reason in str(ei.value)


def test_select_and_with_run(console):
    r = console.run("select count(*) as n from edits")
    assert r.frame["n"].iloc[0] == console.n_edits and not r.truncated
    r = console.run("with x as (select dataset from edits) select count(distinct dataset) as k from x;")
    assert r.frame["k"].iloc[0] == console.n_datasets
    r = console.run(
        "select e.dataset, count(*) as n from edits e join edit_labels l using (edit_id) group by 1"
    )
    assert r.frame["n"].sum() > console.n_edits  # several labels per edit


def test_row_limit_truncates(console):
    r = console.run("select * from edits order by edit_id")
    assert len(r.frame) == 50 and r.truncated
    r = console.run("select * from edits order by edit_id", row_limit=7)
    assert len(r.frame) == 7 and r.truncated and r.frame["edit_id"].iloc[0] == console.first_id
    r = console.run("select * from edits limit 3")
    assert len(r.frame) == 3 and not r.truncated


def test_timeout_interrupts(console):
    t0 = time.perf_counter()
    with pytest.raises(QueryTimeout):
        console.run(
            "select count(*) from range(10000000000) a, range(100000) b where (a.range * b.range) % 7 = 3",
            timeout_s=0.5,
        )
    assert time.perf_counter() - t0 < 30  # interrupted, not run to completion
    assert console.run("select 1 as x").frame["x"].iloc[0] == 1  # the console still works afterwards


def test_engine_blocks_files_even_without_the_validator(console):
    import duckdb

    # bypass validate(): the connection itself refuses other files, attaching and settings changes
    for sql in (
        f"select * from read_csv('{console.root / 'secret.csv'}')",
        f"attach '{console.root / 'x.db'}'",
        "set enable_external_access = true",
    ):
        with pytest.raises(duckdb.Error):
            console._con.execute(sql)
    assert console._con.execute("select count(*) from edits").fetchone()[0] == console.n_edits


def test_validate_returns_clean_statement():
    assert validate("  select 1 ;  ", ["edits"]) == "select 1"
    assert validate("from edits select count(*)", ["edits"]).startswith("from edits")


# --- one test per attack class, at both locks: the validator refuses, and the engine refuses on its own -----

def _engine_refuses(console, sql) -> str:
    import duckdb

    with pytest.raises(duckdb.Error) as ei:
        console._con.execute(sql).fetchall()
    return str(ei.value)


def test_writes_are_refused_by_a_read_only_engine(console):
    for sql in ("create table t as select 1", "create view v as select 1", "drop view edits",
                "insert into edits select * from edits", "attach ':memory:' as scratch"):
        with pytest.raises(QueryRejected):
            console.run(sql)
        _engine_refuses(console, sql)
    assert console.run("select count(*) as n from edits").frame["n"].iloc[0] == console.n_edits


def test_copy_and_export_never_write_a_file(console, tmp_path):
    for sql in (f"copy (select 1) to '{tmp_path / 'out.csv'}'", f"copy edits to '{tmp_path / 'e.parquet'}'",
                f"export database '{tmp_path / 'dump'}'"):
        with pytest.raises(QueryRejected):
            console.run(sql)
        _engine_refuses(console, sql)
    assert list(tmp_path.iterdir()) == []


def test_attach_install_load_are_refused(console, tmp_path):
    for sql in (f"attach '{tmp_path / 'x.duckdb'}' as x", "install httpfs", "load httpfs",
                "install 'https://example.org/x.duckdb_extension'", f"load '{tmp_path / 'x.duckdb_extension'}'"):
        with pytest.raises(QueryRejected):
            console.run(sql)
        _engine_refuses(console, sql)
    with pytest.raises(QueryRejected):  # built-in extensions (json, parquet) are linked in: LOAD is still refused
        console.run("load json")
    assert not (tmp_path / "x.duckdb").exists()


@pytest.mark.parametrize("fn", ["read_csv('{f}')", "read_text('{f}')", "read_blob('{f}')", "glob('{d}/*')",
                                "read_json_auto('{f}')", "sniff_csv('{f}')", "read_parquet('{d}/*.parquet')"])
def test_file_reading_functions_outside_the_marts(console, fn):
    secret = console.root / "secret.csv"
    sql = "select * from " + fn.format(f=secret, d=console.root)
    with pytest.raises(QueryRejected):
        console.run(sql)
    assert "Permission" in _engine_refuses(console, sql) or "disabled" in _engine_refuses(console, sql)


def test_settings_cannot_be_changed_or_read(console):
    for sql in ("set enable_external_access = true", "reset enable_external_access", "set threads = 64",
                "set memory_limit = '500GB'", "set lock_configuration = false", "set allowed_paths = ['/']"):
        with pytest.raises(QueryRejected):
            console.run(sql)
        assert "configuration" in _engine_refuses(console, sql)
    for sql in ("select current_setting('memory_limit')", "select * from duckdb_settings()"):
        with pytest.raises(QueryRejected):
            console.run(sql)


def test_environment_is_not_readable(console):
    for sql in ("select getenv('HOME')", "select * from edits where getenv('PATH') is not null"):
        with pytest.raises(QueryRejected, match="getenv"):
            console.run(sql)
    assert "getenv" in _engine_refuses(console, "select getenv('HOME')")  # no such function in this engine


def test_runaway_recursive_query_is_stopped(console):
    sql = ("with recursive r(n) as (select 1 union all select n + 1 from r where n < 10000000000) "
           "select count(*) from r")
    with pytest.raises(QueryTimeout):
        console.run(sql, timeout_s=0.5)
    assert console.run("select 2 as x").frame["x"].iloc[0] == 2


def test_huge_results_stop_at_the_row_cap(console):
    r = console.run("select a.range as i, b.range as j from range(1000000) a, range(1000000) b", row_limit=25)
    assert len(r.frame) == 25 and r.truncated  # 10^12 rows asked, 26 produced
