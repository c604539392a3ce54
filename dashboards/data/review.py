"""Tags and the review queue: the only place the app writes, and only its own append-only tables.

A tag (keep, drop, needs-review) or a batch of verdicts is one new Parquet file under
``DIR/parquet/edit_tags/`` or ``DIR/parquet/flag_verdicts/`` (the contract's schemas, written atomically; never
rewritten), which `editlens build` reads as sources: the latest row per edit (and flag) wins, and the
``flag_precision`` mart turns verdicts into each flag's precision and recall. The app never writes into the
DuckDB file dbt builds. Until the next build, the page reads the saved files themselves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from editlens.contract.tables import EDIT_TAGS, FLAG_VERDICTS, REVIEW_SCHEMAS, TAGS, VERDICTS
from editlens.dashboards.data.columns import flag_columns
from editlens.dashboards.data.connection import Marts, open_duckdb, sql_str
from editlens.warehouse import Warehouse, atomic_write_table

QUEUES = ("flagged", "unflagged")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _write(m: Marts, table: str, rows: Sequence[dict]) -> Path | None:
    if not rows:
        return None
    schema = REVIEW_SCHEMAS[table]
    tbl = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema)
    name = f"{_now().strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}"
    return atomic_write_table(tbl, Warehouse(m.root).shard_path(table, name))


def save_tag(m: Marts, edit_id: str, tag: str, reviewer: str = "") -> Path:
    if tag not in TAGS:
        raise ValueError(f"tag must be one of {', '.join(TAGS)}")
    return _write(m, EDIT_TAGS, [{"edit_id": edit_id, "tag": tag, "reviewer": reviewer or None,
                                 "created_at": _now()}])


def save_verdict(m: Marts, edit_id: str, flag: str, flagged: bool, verdict: str, *, sample: str | None = None,
                 seed: int | None = None, model_key: str | None = None, reviewer: str = "") -> Path:
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    return _write(m, FLAG_VERDICTS, [{
        "edit_id": edit_id, "flag": flag, "flagged": bool(flagged), "sample": sample, "sample_seed": seed,
        "verdict": verdict, "model_key": model_key, "reviewer": reviewer or None, "created_at": _now()}])


def _saved(m: Marts, table: str, sql: str) -> pd.DataFrame:
    d = Warehouse(m.root).table_dir(table)
    cols = ", ".join(f.name for f in REVIEW_SCHEMAS[table])
    if not d.is_dir() or not any(d.glob("*.parquet")):
        return pd.DataFrame(columns=[f.name for f in REVIEW_SCHEMAS[table]])
    con = open_duckdb(m.root, threads=1)
    try:
        con.execute(f"create view saved as select {cols} from read_parquet({sql_str(str(d / '*.parquet'))}, "
                    "union_by_name = true)")
        return con.execute(sql).df()
    finally:
        con.close()


def current_tags(m: Marts, edit_ids: Sequence[str]) -> dict[str, str]:
    """The latest saved tag of each edit (saved files, so a tag shows before the next build)."""
    if not edit_ids:
        return {}
    ids = ", ".join(sql_str(i) for i in edit_ids)
    df = _saved(m, EDIT_TAGS, f"select edit_id, arg_max(tag, created_at) as tag from saved "
                              f"where edit_id in ({ids}) group by edit_id")
    return dict(zip(df["edit_id"], df["tag"]))


def saved_verdicts(m: Marts, flag: str | None = None) -> pd.DataFrame:
    """The latest saved verdict per edit and flag (saved files: includes those the marts have not seen yet)."""
    where = f"where flag = {sql_str(flag)}" if flag else ""
    return _saved(m, FLAG_VERDICTS, f"""
        select * from saved {where}
        qualify row_number() over (partition by edit_id, flag order by created_at desc, verdict) = 1""")


def review_queue(m: Marts, flag: str, dataset: str | None, seed: int, n: int) -> pd.DataFrame:
    """A seeded random sample of ``n`` flagged and ``n`` unflagged edits of ``dataset`` (all when None), in
    alternating order: edit_id, dataset, part, flagged, queue, and the edit's card columns."""
    m.require("edit_quality_flags", "edits")
    if flag not in flag_columns(m):
        raise ValueError(f"unknown flag {flag!r}")
    ds, params = "", []
    if dataset:
        ds, params = "and dataset = ?", [dataset]
    # two top-N scans (a heap of n rows each), not a window over every edit
    one = """(select edit_id, dataset, part, {v} as flagged, hash(edit_id || ?) as h from edit_quality_flags
              where coalesce("{flag}", false) = {v} {ds} order by h, edit_id limit {n})"""
    picked = m.df(f"""
        with picked as ({one.format(v="true", flag=flag, ds=ds, n=int(n))}
                        union all {one.format(v="false", flag=flag, ds=ds, n=int(n))})
        select edit_id, dataset, part, flagged, case when flagged then 'flagged' else 'unflagged' end as queue,
               row_number() over (partition by flagged order by h, edit_id) as r
        from picked order by r, flagged desc
    """, [str(int(seed)), *params, str(int(seed)), *params])
    # the card columns by id (the warm-up's row index: no scan of the edits mart)
    from editlens.dashboards.data.lookup import rows_by_id

    have = set(m.columns("edits"))
    cols = [c for c in ("edit_id", "instruction", "source_image_id", "target_image_id", "split", "score_model_key")
            if c in have]
    cards = rows_by_id(m, picked["edit_id"].tolist(), cols)
    df = picked.merge(cards, on="edit_id", how="left")
    return df.drop(columns=["r"]).reset_index(drop=True)


def flag_precision(m: Marts, flag: str | None = None) -> pd.DataFrame:
    """The flag_precision mart (one row per flag and dataset), for one flag or all."""
    m.require("flag_precision")
    if flag:
        return m.df("select * from flag_precision where flag = ? order by dataset", [flag])
    return m.df("select * from flag_precision order by flag, dataset")


def tagged(m: Marts) -> pd.DataFrame:
    m.require("tagged_edits")
    return m.df("select * from tagged_edits order by tagged_at desc")
