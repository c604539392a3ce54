"""HQ-Edit reader (``UCSC-VLAA/HQ-Edit`` Parquet): each row gives two edits.

Forward: ``input_image`` -> ``output_image`` with ``edit``, captions ``input``/``output``. Inverse: the images
and captions swapped, with ``inverse_edit``. Each direction is one record (a row counts as two records read);
``extra.direction`` says which.
"""

from __future__ import annotations

from editlens.contract import tables as T
from editlens.ingest.fields import BadField, check_instruction, optional_text
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers.common import pack_extra, raw_text
from editlens.ingest.readers.parquet import ParquetRow, iter_parquet

KNOWN = frozenset(("input", "output", "edit", "inverse_edit"))


def map_parquet(unit, _payload, m: UnitMapper) -> None:
    def on_row(row: ParquetRow) -> None:
        v = row.values
        raw = raw_text(v)
        rest = pack_extra(v, KNOWN)
        for direction, key, src_col, tgt_col, sc_key, tc_key in (
            ("forward", "edit", "input_image", "output_image", "input", "output"),
            ("inverse", "inverse_edit", "output_image", "input_image", "output", "input"),
        ):
            try:
                for c in (src_col, tgt_col):
                    if c in row.image_problem:
                        raise BadField(*row.image_problem[c])
                instr = check_instruction(v.get(key), key)
                sc = optional_text(v.get(sc_key), sc_key)
                tc = optional_text(v.get(tc_key), tc_key)
            except BadField as bad:
                m.reject(row.file_row, bad.reason, f"{direction}: {bad.message}", raw)
                continue
            extra = rest[:-1] + f',"direction":"{direction}"}}' if rest != "{}" else f'{{"direction":"{direction}"}}'
            m.add_edit(record=row.file_row, raw=raw, instruction=instr, source=row.images[src_col],
                       target=row.images[tgt_col], source_caption=sc, target_caption=tc, extra=extra)

    def on_bad(first: int, n: int, msg: str) -> None:
        for i in range(n):
            for direction in ("forward", "inverse"):
                m.reject(first + i, T.UNREADABLE_PARQUET, f"{direction}: {msg}")

    iter_parquet(unit, m, ("input_image", "output_image"), on_row, on_bad)
