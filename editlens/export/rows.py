"""The kept edits as rows for the writers: canonical columns (from `stg_editlens__edits`, the very row the
edits mart chose), `extra` parsed, and each image's location (from `stg_editlens__images`), in a fixed order
so that the same policy on the same warehouse always writes the same bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from editlens.contract import ImageLocation, ImageUnavailable

_IMAGE_COLS = ("location_kind", "root", "path", "row_group", "parquet_row", "parquet_column")


@dataclass(frozen=True)
class ImageRef:
    image_id: str
    location_kind: str  # file or parquet
    root: str
    path: str
    row_group: int | None
    row: int | None
    column: str | None

    @property
    def location(self) -> str:
        """Where the image is, as one string: an absolute file path, or `<parquet file>#rg=..&row=..&col=..`."""
        base = f"{self.root.rstrip('/')}/{self.path}"
        if self.location_kind == "parquet":
            return f"{base}#rg={self.row_group}&row={self.row}&col={self.column}"
        return base


def kept_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """One dict per kept edit, ordered by dataset, part, source file, record and turn."""
    img = ", ".join(f"{c}" for c in _IMAGE_COLS)
    sql = f"""
        with images as (
            select image_id, {img} from stg_editlens__images
            qualify row_number() over (partition by image_id order by root, path) = 1
        )
        select m.edit_id, m.dataset, m.part, m.split, m.session_id, m.turn_index, m.instruction,
               s.instruction_ori, m.source_caption, m.target_caption, s.provided_labels, s.provided_scores,
               s.extra, m.source_file, m.source_record,
               {", ".join(f"{p}.{c} as {p}_{c}" for p in ("si", "ti", "mi") for c in ("image_id",) + _IMAGE_COLS)}
        from export_selection x
        join edits m using (edit_id)
        join stg_editlens__edits s
          on s.edit_id = m.edit_id and s.source_file = m.source_file and s.source_record = m.source_record
        left join images si on si.image_id = m.source_image_id
        left join images ti on ti.image_id = m.target_image_id
        left join images mi on mi.image_id = m.mask_image_id
        where x.kept
        qualify row_number() over (partition by m.edit_id order by s.ingest_run_id) = 1
        order by m.dataset, m.part, coalesce(si_root, ''), m.source_file, m.source_record, m.turn_index, m.edit_id
    """
    out = []
    for r in con.execute(sql).to_arrow_table().to_pylist():
        for p, name in (("si", "source"), ("ti", "target"), ("mi", "mask")):
            iid = r.pop(f"{p}_image_id")
            vals = {c: r.pop(f"{p}_{c}") for c in _IMAGE_COLS}
            r[f"{name}_image"] = None if iid is None or vals["location_kind"] is None else ImageRef(
                iid, vals["location_kind"], vals["root"], vals["path"], vals["row_group"], vals["parquet_row"],
                vals["parquet_column"])
        r["extra"] = json.loads(r["extra"]) if r["extra"] else {}
        out.append(r)
    return out


def read_image(ref: ImageRef, columns=None) -> bytes | None:
    """An image's bytes (None when they cannot be had); `columns` is a cached column reader such as
    `LastRowGroup()` for Parquet-embedded images."""
    loc = ImageLocation(ref.location_kind, ref.root, ref.path, ref.row_group, ref.row, ref.column)
    try:
        return loc.read_bytes(columns) if columns is not None else loc.read_bytes()
    except ImageUnavailable:
        return None
