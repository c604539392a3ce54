"""Table-driven readers: datasets whose record is one row (Parquet) or one JSON object, with the canonical fields
named by a ``Columns`` spec. UltraEdit, OmniEdit, AnyEdit and Emu Edit (Parquet, images embedded), the ImgEdit
benchmark JSONs (image paths) and the generic ``--map`` reader all go through ``emit``.

Provided scores (numeric columns named in ``scores``) become the ``provided_scores`` JSON object, label columns
(``labels``: a string or a list of strings each) ``provided_labels``; every other non-image column is kept in
``extra``. A spec without a target (a benchmark edit: Emu Edit test set, ImgEdit benchmark) loads edits with a
null target image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from editlens.contract import tables as T
from editlens.ingest.fields import BadField, check_instruction, optional_text
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers.common import dumps
from editlens.ingest.readers.parquet import ParquetRow, iter_parquet


@dataclass(frozen=True)
class Columns:
    source: str
    instruction: str
    target: str | None = None  # None: the dataset ships no target image
    mask: str | None = None  # optional: an absent, null-typed or empty mask column means no mask
    source_caption: str | None = None
    target_caption: str | None = None
    session: str | None = None
    turn: str | None = None
    labels: tuple[str, ...] = ()
    scores: tuple[str, ...] = ()
    other_images: tuple[str, ...] = ()  # further image columns, referenced by location in ``extra``

    @property
    def image_columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.source, self.target, self.mask, *self.other_images) if c)

    @property
    def known(self) -> frozenset:
        return frozenset(c for c in (self.source, self.instruction, self.target, self.mask, self.source_caption,
                                     self.target_caption, self.session, self.turn, *self.labels, *self.scores,
                                     *self.other_images) if c)


_ULTRA_SCORES = ("clip_sim_source", "clip_sim_target", "clip_sim_dir", "clip_sim_image", "dinov2_sim", "ssim")

# (reader, part) -> the dataset's columns; part None = every part of that reader
SPECS: dict[tuple[str, str | None], Columns] = {
    ("ultraedit-parquet", None): Columns(source="source_image", target="edited_image", instruction="edit_prompt",
                                         mask="mask_image", source_caption="source_caption",
                                         target_caption="target_caption", scores=_ULTRA_SCORES),
    ("omniedit-parquet", None): Columns(source="src_img", target="edited_img", instruction="edited_prompt_list",
                                        labels=("task",), scores=("sc_score_1", "sc_score_2", "pq_score",
                                                                  "o_score")),
    ("anyedit-parquet", None): Columns(source="image_file", target="edited_file", instruction="edit_instruction",
                                       source_caption="input", target_caption="output", labels=("edit_type",),
                                       other_images=("visual_input",)),
    ("emu-edit-parquet", "test-set"): Columns(source="image", instruction="instruction",
                                              source_caption="input_caption", target_caption="output_caption",
                                              labels=("task",)),
    ("emu-edit-parquet", "generations"): Columns(source="image", target="edited_image", instruction="instruction",
                                                 source_caption="input_caption", target_caption="output_caption",
                                                 labels=("task",)),
}


def spec_for(unit) -> Columns:
    return SPECS.get((unit.reader, unit.part)) or SPECS[(unit.reader, None)]


# ---- field checks ----------------------------------------------------------------------------------------------

def _instruction(value, key: str) -> str:
    if isinstance(value, list):  # OmniEdit: a list of phrasings, the first is the instruction
        if not value:
            raise BadField(T.EMPTY_INSTRUCTION, f"`{key}` is an empty list")
        value = value[0]
    return check_instruction(value, key)


def _labels(values: dict, cols: tuple[str, ...]) -> list[str] | None:
    out = []
    for c in cols:
        v = values.get(c)
        if v is None:
            continue
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            out += v
        else:
            raise BadField(T.WRONG_TYPE, f"`{c}` must be a string or a list of strings")
    return out or None


def _scores(values: dict, cols: tuple[str, ...]) -> str:
    out = {}
    for c in cols:
        v = values.get(c)
        if v is None or isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            if isinstance(v, float) and not math.isfinite(v):
                continue
            out[c] = v
        else:
            raise BadField(T.WRONG_TYPE, f"score `{c}` is {type(v).__name__}, expected a number")
    return dumps(out) if out else "{}"


def emit(m: UnitMapper, spec: Columns, record: int, values: dict, images: dict, raw: str,
         problems: dict | None = None, key: str | None = None) -> None:
    """One record: ``values`` its non-image fields, ``images`` its image references by column (``ParquetImage``,
    a checked relative path, or None), ``problems`` (column -> (reason, message)) image columns that cannot be
    used. ``key``: the record's key in a JSON object file (kept in ``extra.key``)."""
    problems = problems or {}
    try:
        for c in (spec.source, spec.target):
            if c and c in problems:
                raise BadField(*problems[c])
        src = images.get(spec.source)
        if src is None:
            raise BadField(T.MISSING_KEY, f"`{spec.source}` (source image) is absent or empty")
        tgt = images.get(spec.target) if spec.target else None
        if spec.target and tgt is None:
            raise BadField(T.MISSING_KEY, f"`{spec.target}` (target image) is absent or empty")
        instr = _instruction(values.get(spec.instruction), spec.instruction)
        sc = optional_text(values.get(spec.source_caption), spec.source_caption) if spec.source_caption else None
        tc = optional_text(values.get(spec.target_caption), spec.target_caption) if spec.target_caption else None
        labels = _labels(values, spec.labels)
        scores = _scores(values, spec.scores)
        session, turn = None, 1
        if spec.session:
            s = values.get(spec.session)
            if s is None:
                raise BadField(T.MISSING_KEY, f"`{spec.session}` (session) is absent or null")
            session = str(s)
            if spec.turn:
                t = values.get(spec.turn)
                if not isinstance(t, int) or isinstance(t, bool) or t < 1:
                    raise BadField(T.WRONG_TYPE, f"`{spec.turn}` (turn) must be a positive integer, got {t!r}")
                turn = t
    except BadField as bad:
        m.reject(record, bad.reason, bad.message, raw)
        return
    mask = images.get(spec.mask) if spec.mask and spec.mask not in problems else None
    if mask is not None and getattr(mask, "exists", None) is False:
        mask = None  # an empty mask cell: no mask
    extra = {k: v for k, v in values.items() if k not in spec.known or k == spec.instruction and
             isinstance(v, list) and len(v) > 1}
    for c in spec.other_images:
        img = images.get(c)
        if img is not None and getattr(img, "exists", True) is not False:
            extra[c] = img.location if hasattr(img, "location") else img
    if key is not None:
        extra["key"] = key
    m.add_edit(record=record, raw=raw, instruction=instr, source=src, target=tgt, mask=mask, session_id=session,
               turn_index=turn, source_caption=sc, target_caption=tc, labels=labels, scores=scores,
               extra=dumps(extra) if extra else "{}")


# ---- Parquet, images embedded ---------------------------------------------------------------------------------

def map_parquet_spec(unit, m: UnitMapper, spec: Columns) -> None:
    optional = {c for c in (spec.mask, *spec.other_images) if c}

    def on_row(row: ParquetRow) -> None:
        problems = {c: p for c, p in row.image_problem.items() if c not in optional}
        emit(m, spec, row.file_row, row.values, row.images, dumps(row.values)[:T.RAW_EXCERPT_CHARS], problems)

    iter_parquet(unit, m, spec.image_columns, on_row)


def map_parquet(unit, _payload, m: UnitMapper) -> None:
    map_parquet_spec(unit, m, spec_for(unit))
