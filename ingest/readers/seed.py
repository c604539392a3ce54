"""SEED-Data-Edit readers: Part-1 (OpenImages, Unsplash, Unsplash GPT-4V rewrites), Part-2 and Part-3.

All parts ship JSON Lines files; every file is read by its own keys (files of one repo do not share a column
set). Part-1/2: one record per line. Part-3: one session per line with ``source_image`` and
``instruction_k``/``edit_image_k`` for k = 1..N (N unbounded; later turns absent or null); each turn is one edit,
turn k's source being turn k-1's ``edit_image``.
"""

from __future__ import annotations

import re

from ingest import tables as T
from ingest.mapper import BadField, UnitMapper, check_instruction, check_labels, check_rel_path, optional_text, \
    short_sha1
from ingest.readers.common import abspath, pack_extra, parse_lines, read_bytes

SINGLE_KNOWN = frozenset(
    ("source_image", "target_image", "instruction", "instruction_ori", "source_caption", "target_caption",
     "task_type")
)
_TURN_KEY = re.compile(r"^(instruction|edit_image)_(\d+)$")


def load(unit):
    return read_bytes(abspath(unit, unit.source_file))


def map_single(unit, data: bytes, m: UnitMapper) -> None:
    add = m.add_edit
    reject = m.reject
    for n, rec, line in parse_lines(data, m):
        try:
            get = rec.get
            src = check_rel_path(get("source_image"), "source_image")
            tgt = check_rel_path(get("target_image"), "target_image")
            instr = check_instruction(get("instruction"))
            ori = get("instruction_ori")
            sc = get("source_caption")
            tc = get("target_caption")
            if ori is not None and type(ori) is not str:
                optional_text(ori, "instruction_ori")
            if sc is not None and type(sc) is not str:
                optional_text(sc, "source_caption")
            if tc is not None and type(tc) is not str:
                optional_text(tc, "target_caption")
            labels = get("task_type")
            if labels is not None:
                labels = check_labels(labels)
        except BadField as bad:
            reject(n, bad.reason, bad.message, line)
            continue
        add(record=n, raw=line, instruction=instr, source=src, target=tgt, instruction_ori=ori,
            source_caption=sc, target_caption=tc, labels=labels, extra=pack_extra(rec, SINGLE_KNOWN))


def _turns(rec: dict) -> tuple[int, frozenset]:
    """Number of turns (highest k with a non-null instruction_k or edit_image_k) and the turn keys."""
    n = 0
    keys = []
    for k, v in rec.items():
        mt = _TURN_KEY.match(k)
        if mt:
            keys.append(k)
            if v is not None:
                n = max(n, int(mt.group(2)))
    return n, frozenset(keys)


def map_multi_turn(unit, data: bytes, m: UnitMapper) -> None:
    for n, rec, line in parse_lines(data, m):
        n_turns, turn_keys = _turns(rec)
        if n_turns == 0:
            m.reject(n, T.MISSING_KEY, "session has no turns (no non-null `instruction_k`/`edit_image_k`)", line)
            continue
        extra = pack_extra(rec, turn_keys | {"source_image"})
        session_id = short_sha1(
            "\x1f".join((m.dataset, m.part, str(rec.get("source_image")), str(rec.get("edit_image_1")),
                         str(rec.get("instruction_1"))))
        )
        # image path of turn k's target (k >= 1) and of the session source (k = 0), or the BadField it raised
        paths: dict[int, object] = {}

        def path_of(k: int):
            if k not in paths:
                key = "source_image" if k == 0 else f"edit_image_{k}"
                try:
                    paths[k] = check_rel_path(rec.get(key), key)
                except BadField as bad:
                    paths[k] = bad
            return paths[k]

        for k in range(1, n_turns + 1):
            src, tgt = path_of(k - 1), path_of(k)
            try:
                if isinstance(src, BadField):
                    raise BadField(src.reason, f"turn {k} source: {src.message}")
                if isinstance(tgt, BadField):
                    raise tgt
                instr = check_instruction(rec.get(f"instruction_{k}"), f"instruction_{k}")
            except BadField as bad:
                m.reject(n, bad.reason, f"turn {k}: {bad.message}" if not bad.message.startswith("turn")
                         else bad.message, line, turn_index=k)
                continue
            m.add_edit(record=n, raw=line, instruction=instr, source=src, target=tgt, session_id=session_id,
                       turn_index=k, extra=extra)
