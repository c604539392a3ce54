"""The reader: what is left to do, as a shard manifest (a Parquet file with one row group per shard).

Work is derived from the tables themselves, never from a side journal, so a killed run's rerun sees exactly
the work that is not on disk yet:

- images: an image is pending when it has no `image_facts` row, or its status is ok and its content (sha256)
  has no `image_embeddings` row for the model. Pending images are sorted by image_id and cut into shards of
  `shard_size`; shard names are ``<model_key[:8]>-<first image_id>-<sha1 of the ids>[:12]``, so a rerun cuts
  the remaining work into the same shards with the same names.
- texts: distinct non-empty instructions, their cores (`frames`) and captions (by `text_hash`) without a
  `text_embeddings` row.
- edits: edits without an `edit_scores` row for the model (streamed by `edit_stream`, see `scoring`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from editlens.contract.batches import rebatch
from editlens.contract.resources import DuckDBResources
from editlens.contract.resources import connect as resources_connect
from editlens.embeddings import tables as T
from editlens.embeddings.frames import InstructionFrames
from editlens.warehouse import Warehouse

IMAGE_COLUMNS = ["image_id", "location_kind", "root", "path", "row_group", "row", "column", "exists", "has_facts"]


def connect(memory_limit: str = "2GB", threads: int | None = None,
            temp_directory: str | None = None) -> duckdb.DuckDBPyConnection:
    """The plan's connection: the contract's DuckDB resources (memory limit, spill folder; env overrides)."""
    return resources_connect(DuckDBResources.from_env(memory_limit, threads, temp_directory))


def source(wh: Warehouse, table: str) -> str:
    """SQL for a table's rows; an empty relation of the right shape when no file exists yet."""
    if wh.has_table(table):
        return f"read_parquet('{wh.table_glob(table)}', union_by_name = true)"
    if table in T.SCHEMAS:
        cols = ", ".join(f"cast(null as {_duck_type(f.type)}) as \"{f.name}\"" for f in T.SCHEMAS[table])
        return f"(select {cols} where false)"
    raise FileNotFoundError(table)


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return "float[]"
    return {
        pa.string(): "varchar", pa.int64(): "bigint", pa.int32(): "integer", pa.float64(): "double",
        pa.float32(): "float", pa.binary(): "blob", pa.bool_(): "boolean",
    }.get(t, "varchar")


def shard_name(prefix: str, ids: list[str]) -> str:
    digest = hashlib.sha1("\n".join(ids).encode()).hexdigest()[:12]
    return f"{prefix}-{ids[0]}-{digest}"


@dataclass
class Plan:
    kind: str
    manifest: Path | None
    names: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    @property
    def offsets(self) -> list[int]:
        out, acc = [], 0
        for s in self.sizes:
            out.append(acc)
            acc += s
        return out

    @property
    def total(self) -> int:
        return sum(self.sizes)

    def read_shard(self, i: int) -> pa.Table:
        return pq.ParquetFile(self.manifest).read_row_group(i)


def _write_manifest(reader: pa.RecordBatchReader, path: Path, shard_size: int, prefix: str, id_col: str,
                    kind: str) -> Plan:
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = Plan(kind=kind, manifest=path)
    writer = None
    for tbl in rebatch(reader, shard_size):
        if writer is None:
            writer = pq.ParquetWriter(path, tbl.schema)
        writer.write_table(tbl, row_group_size=max(len(tbl), 1))
        plan.names.append(shard_name(prefix, tbl.column(id_col).to_pylist()))
        plan.sizes.append(len(tbl))
    if writer is not None:
        writer.close()
    else:
        plan.manifest = None
    return plan


def _detected(wh: Warehouse, detectors: Sequence[str]) -> str:
    """Contents every named detector scored (image_detections)."""
    names = ", ".join(f"'{n}'" for n in detectors)
    return (f"select sha256 from {source(wh, T.IMAGE_DETECTIONS)} where detector in ({names}) "
            f"group by sha256 having count(distinct detector) = {len(set(detectors))}")


def plan_images(con: duckdb.DuckDBPyConnection, wh: Warehouse, key: str, shard_size: int, work_dir: Path,
                detectors: Sequence[str] = ()) -> Plan:
    """Images without facts, or whose content has no embedding for the model (or, with detectors, no row of
    every named detector)."""
    det_cte = f",\n        det as ({_detected(wh, detectors)})" if detectors else ""
    det_join = "left join det d on d.sha256 = f.sha256" if detectors else ""
    det_cond = " or d.sha256 is null" if detectors else ""
    sql = f"""
        with imgs as (
            select image_id,
                   any_value(location_kind) as location_kind, any_value(root) as root, any_value(path) as path,
                   any_value(row_group) as row_group, any_value("row") as "row", any_value("column") as "column",
                   any_value("exists") as "exists"
            from {source(wh, 'images')}
            group by image_id
        ),
        facts as (select image_id, any_value(sha256) as sha256, any_value(status) as status
                  from {source(wh, T.IMAGE_FACTS)} group by image_id),
        emb as (select distinct sha256 from {source(wh, T.IMAGE_EMBEDDINGS)} where model_key = '{key}'){det_cte}
        select i.image_id, i.location_kind, i.root, i.path, cast(i.row_group as integer) as row_group,
               cast(i."row" as bigint) as "row", i."column", i."exists", f.image_id is not null as has_facts
        from imgs i
        left join facts f on f.image_id = i.image_id
        left join emb e on e.sha256 = f.sha256
        {det_join}
        where f.image_id is null or (f.status = 'ok' and (e.sha256 is null{det_cond}))
        order by i.image_id
    """
    reader = con.execute(sql).to_arrow_reader(max(1024, shard_size))
    return _write_manifest(reader, work_dir / f"images-{key}.parquet", shard_size, key[:8], "image_id", "images")


def text_sources(wh: Warehouse, frames: InstructionFrames | None = None) -> str:
    e = source(wh, "edits")
    core = f"\n               union select {frames.core_sql('instruction')} from {e}" if frames else ""
    return f"""(select instruction as text from {e}
               union select source_caption from {e}
               union select target_caption from {e}{core})"""


def plan_texts(con: duckdb.DuckDBPyConnection, wh: Warehouse, key: str, shard_size: int, work_dir: Path,
               frames: InstructionFrames | None = None) -> Plan:
    sql = f"""
        with t as (select distinct text, substr(sha1(text), 1, 16) as text_hash
                   from {text_sources(wh, frames)} where text is not null and length(trim(text)) > 0),
        done as (select distinct text_hash from {source(wh, T.TEXT_EMBEDDINGS)} where model_key = '{key}')
        select t.text_hash, t.text from t anti join done using (text_hash)
        order by t.text_hash, t.text
    """
    reader = con.execute(sql).to_arrow_reader(max(1024, shard_size))
    return _write_manifest(reader, work_dir / f"texts-{key}.parquet", shard_size, key[:8], "text_hash", "texts")


def known_content(con: duckdb.DuckDBPyConnection, wh: Warehouse, key: str) -> np.ndarray:
    """Sorted uint64 prefixes of the sha256s that already have an embedding for the model (dedup by content)."""
    if not wh.has_table(T.IMAGE_EMBEDDINGS):
        return np.zeros(0, dtype=np.uint64)
    rows = con.execute(
        f"select distinct ('0x' || substr(sha256, 1, 16))::ubigint as p from {source(wh, T.IMAGE_EMBEDDINGS)} "
        "where model_key = ? order by p", [key]).fetchnumpy()["p"]
    return np.ascontiguousarray(rows, dtype=np.uint64)  # 8 bytes per content, no Python objects


def known_detections(con: duckdb.DuckDBPyConnection, wh: Warehouse, detectors: Sequence[str]) -> np.ndarray:
    """Sorted uint64 prefixes of the contents every named detector already scored (skipped by the detectors)."""
    if not detectors or not wh.has_table(T.IMAGE_DETECTIONS):
        return np.zeros(0, dtype=np.uint64)
    rows = con.execute(f"select distinct ('0x' || substr(sha256, 1, 16))::ubigint as p "
                       f"from ({_detected(wh, detectors)}) order by p").fetchnumpy()["p"]
    return np.ascontiguousarray(rows, dtype=np.uint64)

