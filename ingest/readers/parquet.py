"""Row iteration over Hugging Face style Parquet files with embedded images, referenced in place.

An image column is ``struct<bytes: binary, path: string>`` (the HF ``Image`` feature) or plain ``binary``.
Only the non-image columns are materialised as Python values; image bytes are read (per row group, one column
at a time) only to tell whether each cell holds an image, and only when the image check is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from editlens.contract import tables as T
from editlens.ingest.images import ParquetImage
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers.common import abspath, depth_over, raw_text, sha256_file
from editlens.ingest.readers.signatures import missing_required

_SPLIT = re.compile(r"^(train|dev|validation|valid|val|test)(?=[-_.])", re.I)


def split_of(filename: str, default: str = "train") -> str:
    mt = _SPLIT.match(filename.rsplit("/", 1)[-1])
    return mt.group(1).lower() if mt else default


def load(unit):
    return sha256_file(abspath(unit, unit.source_file)), None


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def image_column_kind(schema: pa.Schema, name: str) -> str | None:
    """``struct`` (HF image), ``binary``, ``absent`` or ``wrong`` (a type that cannot hold an image)."""
    if name not in schema.names:
        return "absent"
    t = schema.field(name).type
    if pa.types.is_struct(t) and t.get_field_index("bytes") >= 0 and _is_binary(t.field("bytes").type):
        return "struct"
    if _is_binary(t):
        return "binary"
    return "wrong"


@dataclass
class ParquetRow:
    file_row: int  # 0-based row in the file (source_record)
    values: dict  # non-image columns
    images: dict  # image column name -> ParquetImage, or None when absent / wrong-typed / empty cell
    image_problem: dict  # image column name -> (reason, message) when the column cannot hold images


def _presence(tbl: pa.Table, name: str, kind: str) -> list[bool]:
    col = tbl.column(name).combine_chunks()
    if kind == "struct":
        child = col.field("bytes")
        ok = pc.and_kleene(col.is_valid(), child.is_valid())
        ok = pc.and_(ok, pc.greater(pc.fill_null(pc.binary_length(child), 0), 0))
    else:
        ok = pc.and_(col.is_valid(), pc.greater(pc.fill_null(pc.binary_length(col), 0), 0))
    return pc.fill_null(ok, False).to_pylist()


def iter_parquet(unit, m: UnitMapper, image_columns: tuple[str, ...], on_row: Callable[[ParquetRow], None],
                 on_bad_rows: Callable[[int, int, str], None] | None = None) -> None:
    """Call ``on_row`` for each readable row, ``on_bad_rows(first_row, n_rows, message)`` for unreadable ones
    (default: one ``unreadable_parquet`` reject per row). A file whose footer cannot be read is one reject
    (``unreadable_parquet``, source_record null)."""
    if on_bad_rows is None:
        def on_bad_rows(first: int, n: int, msg: str) -> None:
            for i in range(n):
                m.reject(first + i, T.UNREADABLE_PARQUET, msg)
    path = abspath(unit, unit.source_file)
    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        meta = pf.metadata
    except Exception as exc:  # noqa: BLE001 - any failure to open is this reject
        m.reject(None, T.UNREADABLE_PARQUET, f"cannot open Parquet file: {type(exc).__name__}: {exc}")
        return
    gap = missing_required(unit.reader, schema)
    if gap is not None:  # the format was forced onto a file that is not it: one file-level reject
        m.reject(None, T.MISSING_COLUMN, gap)
        return
    kinds = {c: image_column_kind(schema, c) for c in image_columns}
    problems = {}
    for c, k in kinds.items():
        if k == "absent":
            problems[c] = (T.MISSING_KEY, f"column `{c}` is absent")
        elif k == "wrong":
            problems[c] = (T.WRONG_TYPE, f"column `{c}` is {schema.field(c).type}, expected an image")
    skip_types = {c for c in schema.names if c in image_columns or _is_binary(schema.field(c).type)
                  or (pa.types.is_struct(schema.field(c).type)
                      and schema.field(c).type.get_field_index("bytes") >= 0)}
    value_cols = [c for c in schema.names if c not in skip_types]
    offset = 0
    for rg in range(meta.num_row_groups):
        n = meta.row_group(rg).num_rows
        try:
            rows = pf.read_row_group(rg, columns=value_cols).to_pylist() if value_cols else [{}] * n
            present = {}
            for c, k in kinds.items():
                if k in ("struct", "binary"):
                    if m.checker.enabled:
                        sub = f"{c}.bytes" if k == "struct" else c
                        present[c] = _presence(pf.read_row_group(rg, columns=[sub]), c, k)
                    else:
                        present[c] = None
        except Exception as exc:  # noqa: BLE001 - a corrupt row group rejects its rows, never the run
            on_bad_rows(offset, n, f"cannot read row group {rg}: {type(exc).__name__}: {exc}")
            offset += n
            continue
        colnames = {c: (f"{c}.bytes" if k == "struct" else c) for c, k in kinds.items()}
        limit = m.limits.max_depth
        for r in range(n):
            if depth_over(rows[r], limit):  # a nested column value past the limit: this row alone
                m.reject(offset + r, T.TOO_DEEP, f"a value is nested deeper than {limit} levels "
                                                 "(IngestLimits.max_depth)", raw_text(rows[r]))
                continue
            imgs = {}
            for c, k in kinds.items():
                if k in ("struct", "binary"):
                    p = present[c]
                    exists = None if p is None else p[r]
                    imgs[c] = ParquetImage(unit.source_file, rg, r, colnames[c], exists)
                else:
                    imgs[c] = None
            on_row(ParquetRow(offset + r, rows[r], imgs, problems))
        offset += n
