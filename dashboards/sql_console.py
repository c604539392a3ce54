"""A read-only SQL console over the exported marts.

Two independent locks:

1. Validation (``validate``): exactly one statement, of type SELECT (``WITH`` included), whose every table
   reference is a registered mart view or one of its own CTEs; no table functions at all (``read_parquet``,
   ``read_csv``, ``glob``, ``read_text``, ``query`` ...), no quoted file names, no catalog-qualified names, and none
   of the statement keywords that write or reach outside (ATTACH, INSTALL, LOAD, COPY, PRAGMA, SET, CREATE, ...).
   The statement is parsed by DuckDB itself (``json_serialize_sql``), so comments and odd spacing cannot hide a
   table function.
2. The engine: the console has its own connection, opened **read-only** on a small catalog file that holds only
   the mart views (written once in a temporary folder, removed by ``close()``): no table, view or in-memory
   database can be created, changed or attached there. External access is then switched off except for the mart
   files themselves (``allowed_paths``), extension auto-install/-load is off and the configuration is locked
   (threads, ``memory_limit``), so even a statement the validator missed cannot read another file, write one,
   attach a database, install or load an extension, change a setting or read the environment.

Queries run with a row limit (one extra row is fetched to say "truncated") and a timeout (a timer thread calls
``interrupt()`` on the connection).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from editlens.warehouse import MART_PART_GLOB

DEFAULT_ROW_LIMIT = 10_000
DEFAULT_TIMEOUT_S = 10.0

# functions that touch files, the network, settings or run SQL from a string; blocked wherever they appear
BLOCKED_FUNCTIONS = (
    "read_parquet",
    "parquet_scan",
    "parquet_metadata",
    "parquet_schema",
    "parquet_file_metadata",
    "parquet_kv_metadata",
    "read_csv",
    "read_csv_auto",
    "sniff_csv",
    "read_json",
    "read_json_auto",
    "read_json_objects",
    "read_ndjson",
    "read_ndjson_auto",
    "read_ndjson_objects",
    "read_text",
    "read_blob",
    "glob",
    "query",
    "query_table",
    "getenv",
    "current_setting",
    "duckdb_settings",
    "duckdb_extensions",
    "duckdb_secrets",
    "which_secret",
    "iceberg_scan",
    "delta_scan",
    "sqlite_scan",
    "postgres_scan",
    "mysql_scan",
    "read_xlsx",
    "from_json",
)

# table functions that only generate values
ALLOWED_TABLE_FUNCTIONS = ("range", "generate_series", "unnest")

EXAMPLE_QUERIES: dict[str, str] = {
    "Edits per dataset and part": "select dataset, part, count(*) as n_edits\nfrom edits\ngroup by all\norder by n_edits desc",
    "Most common instruction labels": "select label, count(*) as n_edits\nfrom edit_labels\ngroup by label\norder by n_edits desc\nlimit 20",
    "Share of edits with a quality flag, per dataset": (
        "select dataset, count(*) as n_edits,\n       avg((n_quality_flags > 0)::int) as flagged_share\n"
        "from edit_quality_flags\ngroup by dataset\norder by flagged_share desc"
    ),
    "Chain breaks in multi-turn sessions": (
        "select e.session_id, e.turn_index, e.instruction, f.chain_break_reason\n"
        "from edits e join edit_quality_flags f using (edit_id)\nwhere f.is_chain_break\n"
        "order by e.session_id, e.turn_index\nlimit 50"
    ),
    "Lowest CLIP-I edits": "select edit_id, dataset, instruction, clip_i\nfrom edits\norder by clip_i asc nulls last\nlimit 20",
    "Scorecard": "select * from dataset_scorecard order by dataset, part",
}


class QueryRejected(ValueError):
    """The statement is not allowed in the console (the message says why)."""


class QueryTimeout(RuntimeError):
    pass


@dataclass
class ConsoleResult:
    frame: pd.DataFrame
    truncated: bool
    elapsed_s: float
    row_limit: int


def _strip_strings_and_comments(sql: str) -> str:
    sql = re.sub(r"--[^\n]*", " ", sql)
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return sql


def _walk(node, found_tables: list, found_funcs: list, ctes: set) -> None:
    if isinstance(node, dict):
        t = node.get("type")
        if t == "BASE_TABLE":
            found_tables.append(
                (node.get("catalog_name") or "", node.get("schema_name") or "", node.get("table_name") or "")
            )
        elif t == "TABLE_FUNCTION":
            fn = node.get("function") or {}
            found_funcs.append(("table", str(fn.get("function_name", "?"))))
        if node.get("class") == "FUNCTION" and "function_name" in node:
            found_funcs.append(("scalar", str(node["function_name"])))
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for item in cte_map.get("map") or []:
                if isinstance(item, dict) and "key" in item:
                    ctes.add(str(item["key"]).lower())
        for v in node.values():
            _walk(v, found_tables, found_funcs, ctes)
    elif isinstance(node, list):
        for v in node:
            _walk(v, found_tables, found_funcs, ctes)


def validate(sql: str, allowed_tables: Iterable[str]) -> str:
    """Return the single SELECT statement (without a trailing semicolon) or raise QueryRejected."""
    if not sql or not sql.strip():
        raise QueryRejected("empty query")
    allowed = {t.lower() for t in allowed_tables}
    bare = _strip_strings_and_comments(sql)
    if re.search(r'"[^"]*[/\\.][^"]*"', bare):
        raise QueryRejected("quoted names with dots or slashes (file paths) are not allowed")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRejected(f"syntax error: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryRejected(f"exactly one statement allowed, got {len(statements)}")
    st = statements[0]
    if st.type != duckdb.StatementType.SELECT:
        raise QueryRejected(f"only SELECT (or WITH ... SELECT) statements are allowed, got {st.type.name}")
    first = re.match(r"\s*\(*\s*([A-Za-z]+)", bare)
    if not first or first.group(1).lower() not in ("select", "with", "from", "values", "table"):
        raise QueryRejected("query must start with SELECT or WITH")
    words = {w.lower() for w in re.findall(r"[A-Za-z_]+", bare)}
    for kw in ("attach", "install", "load", "copy", "pragma", "export", "import", "detach"):
        if kw in words:
            raise QueryRejected(f"{kw.upper()} is not allowed")
    con = duckdb.connect(":memory:")
    try:
        raw = con.execute("select json_serialize_sql(?::varchar)", [st.query]).fetchone()[0]
    finally:
        con.close()
    tree = json.loads(raw)
    if tree.get("error"):
        raise QueryRejected(f"could not parse: {tree.get('error_message', 'unknown error')}")
    tables: list = []
    funcs: list = []
    ctes: set = set()
    _walk(tree.get("statements", []), tables, funcs, ctes)
    for kind, name in funcs:
        lname = name.lower()
        if kind == "table" and lname not in ALLOWED_TABLE_FUNCTIONS:
            raise QueryRejected(f"table function {name}() is not allowed; query the mart views instead")
        if lname in BLOCKED_FUNCTIONS:
            raise QueryRejected(f"function {name}() is not allowed")
    for catalog, schema, name in tables:
        if catalog or (schema and schema.lower() not in ("main",)):
            raise QueryRejected(
                f"qualified name {'.'.join(x for x in (catalog, schema, name) if x)} is not allowed"
            )
        if name.lower() not in allowed and name.lower() not in ctes:
            raise QueryRejected(f"unknown table {name!r}; available: {', '.join(sorted(allowed))}")
    return st.query.strip().rstrip(";").strip()


@dataclass
class SqlConsole:
    """Read-only console over ``{view name: parquet file}``; create with ``SqlConsole.over(files)``."""

    views: dict[str, Path]
    row_limit: int = DEFAULT_ROW_LIMIT
    timeout_s: float = DEFAULT_TIMEOUT_S
    _con: duckdb.DuckDBPyConnection | None = field(default=None, repr=False)
    _dir: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def over(
        cls,
        views: dict[str, Path],
        row_limit: int = DEFAULT_ROW_LIMIT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        threads: int = 2,
        memory_limit: str = "2GB",
    ) -> SqlConsole:
        folder = tempfile.mkdtemp(prefix="editlens-sql-")
        catalog = str(Path(folder) / "console.duckdb")
        allowed, allowed_dirs = [], []
        try:
            con = duckdb.connect(catalog)
            for name, path in sorted(views.items()):
                if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                    raise ValueError(f"bad view name {name}")
                p = str(Path(path).resolve())
                if Path(p).is_dir():
                    # a mart exported per dataset: its folder's dataset files (never a `tmp_` file being written)
                    allowed_dirs.append(p + "/")
                    p = str(Path(p) / MART_PART_GLOB)
                else:
                    allowed.append(p)
                con.execute(
                    f"create view {name} as select * from read_parquet('{p.replace(chr(39), chr(39) * 2)}')"
                )
            con.close()
            con = duckdb.connect(catalog, read_only=True,
                                 config={"threads": int(threads), "memory_limit": str(memory_limit)})
            for setting, paths in (("allowed_paths", allowed), ("allowed_directories", allowed_dirs)):
                if paths:
                    con.execute(
                        f"set {setting} = [" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
                    )
            con.execute("set enable_external_access = false")
            con.execute("set autoinstall_known_extensions = false")
            con.execute("set autoload_known_extensions = false")
            con.execute("set lock_configuration = true")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        console = cls(views=dict(views), row_limit=row_limit, timeout_s=timeout_s, _con=con, _dir=folder)
        weakref.finalize(console, shutil.rmtree, folder, True)  # a console dropped from a cache leaves no folder
        return console

    def tables(self) -> list[str]:
        return sorted(self.views)

    def schema(self) -> pd.DataFrame:
        rows = []
        for name in self.tables():
            for col, typ, *_ in self._con.execute(f"describe {name}").fetchall():
                rows.append({"table": name, "column": col, "type": typ})
        return pd.DataFrame(rows, columns=["table", "column", "type"])

    def run(self, sql: str, row_limit: int | None = None, timeout_s: float | None = None) -> ConsoleResult:
        stmt = validate(sql, self.tables())
        limit = int(row_limit or self.row_limit)
        timeout = float(timeout_s or self.timeout_s)
        with self._lock:  # one query at a time on this connection; interrupt() hits only ours
            cur = self._con
            timed_out = threading.Event()

            def _interrupt() -> None:
                timed_out.set()
                cur.interrupt()

            timer = threading.Timer(timeout, _interrupt)
            t0 = time.perf_counter()
            timer.start()
            try:
                rel = cur.sql(stmt)
                df = rel.limit(limit + 1).df()
            except (duckdb.InterruptException, RuntimeError):
                if timed_out.is_set():
                    raise QueryTimeout(f"query stopped after {timeout:g} s (timeout)") from None
                raise
            except duckdb.Error as exc:
                if timed_out.is_set():
                    raise QueryTimeout(f"query stopped after {timeout:g} s (timeout)") from None
                raise QueryRejected(str(exc).splitlines()[0]) from None
            finally:
                timer.cancel()
            elapsed = time.perf_counter() - t0
        truncated = len(df) > limit
        return ConsoleResult(
            frame=df.iloc[:limit].reset_index(drop=True),
            truncated=truncated,
            elapsed_s=elapsed,
            row_limit=limit,
        )

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
