"""InstructPix2Pix readers: the Hugging Face Parquet release and the original release.

Parquet (``timbrooks/instructpix2pix-clip-filtered``): ``original_image`` -> source, ``edited_image`` -> target,
``edit_prompt`` -> instruction, ``original_prompt``/``edited_prompt`` -> captions.

Original release: ``seeds.json`` = ``[[dir, [seed, ...]], ...]``; ``<dir>/prompt.json`` with ``input`` (or
``caption``), ``edit``, ``output`` [, ``url``]; images ``<dir>/<seed>_0.jpg`` (source) and ``<seed>_1.jpg``
(target); ``<dir>/metadata.jsonl`` one line per seed with ``p2p_threshold``, ``cfg_scale``, ``clip_sim_*``, kept
as provided scores. A unit is a chunk of ``seeds.json`` entries; one record per (dir, seed). Lineage: source_file
``seeds.json``, source_record the 1-based entry index; rejects caused by a prompt dir's own files point at them.
"""

from __future__ import annotations

import hashlib
import os

import orjson

from editlens.contract import tables as T
from editlens.ingest.fields import BadField, check_instruction, check_rel_path, optional_text
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers.common import (
    FileRefused,
    dumps,
    json_lines,
    load_record,
    pack_extra,
    parse_error,
    raw_text,
    read_optional,
)
from editlens.ingest.readers.parquet import ParquetRow, iter_parquet

# ---- Parquet ---------------------------------------------------------------------------------------------------

PQ_TEXT = frozenset(("edit_prompt", "original_prompt", "edited_prompt"))


def map_parquet(unit, _payload, m: UnitMapper) -> None:
    def on_row(row: ParquetRow) -> None:
        v = row.values
        raw = raw_text(v)
        try:
            for c in ("original_image", "edited_image"):
                if c in row.image_problem:
                    raise BadField(*row.image_problem[c])
            if "edit_prompt" not in v:
                raise BadField(T.MISSING_KEY, "column `edit_prompt` is absent")
            instr = check_instruction(v.get("edit_prompt"), "edit_prompt")
            sc = optional_text(v.get("original_prompt"), "original_prompt")
            tc = optional_text(v.get("edited_prompt"), "edited_prompt")
        except BadField as bad:
            m.reject(row.file_row, bad.reason, bad.message, raw)
            return
        m.add_edit(record=row.file_row, raw=raw, instruction=instr, source=row.images["original_image"],
                   target=row.images["edited_image"], source_caption=sc, target_caption=tc,
                   extra=pack_extra(v, PQ_TEXT))

    iter_parquet(unit, m, ("original_image", "edited_image"), on_row)


# ---- original release ------------------------------------------------------------------------------------------

SCORE_KEYS = ("p2p_threshold", "cfg_scale", "clip_sim_0", "clip_sim_1", "clip_sim_dir", "clip_sim_image")
PROMPT_KNOWN = frozenset(("input", "caption", "edit", "output"))


def load_original(unit):
    """Read the prompt.json and metadata.jsonl of every prompt dir in the chunk; checksum covers them all."""
    entries = unit.params
    if entries is None:  # seeds.json itself is unusable: its bytes are the payload (one reject)
        with open(os.path.join(unit.root, unit.source_file), "rb") as fh:
            data = fh.read()
        return hashlib.sha256(data).hexdigest(), data
    h = hashlib.sha256()
    h.update(orjson.dumps(entries, default=str))
    files = {}
    for _, entry in entries:
        d = entry[0] if isinstance(entry, list) and entry and isinstance(entry[0], str) else None
        if d is None or d in files:
            continue
        try:
            rel = check_rel_path(d, "dir")
        except BadField:
            continue
        base = os.path.join(unit.root, rel)
        pj, md = (_companion(os.path.join(base, name), unit.root) for name in ("prompt.json", "metadata.jsonl"))
        files[d] = (pj, md)
        for b in (pj, md):
            h.update(b"\x00" if b is None else b"\x02" + str(b).encode() if isinstance(b, FileRefused)
                     else b"\x01%d\x01" % len(b) + b)
    return h.hexdigest(), files


def _companion(path: str, root: str):
    """A prompt dir's file: its bytes, None when absent, or the FileRefused it gives (a special file, a symlink
    out of the root): that dir's records are rejected, never the chunk."""
    try:
        return read_optional(path, root)
    except FileRefused as exc:
        return exc
    except OSError as exc:
        return FileRefused(T.UNREADABLE_FILE, f"cannot read: {exc.strerror or exc}")


def _metadata(md: bytes | None, limits) -> dict:
    """seed -> (line number, scores dict) or (line number, BadField) for the lines of a metadata.jsonl."""
    out: dict = {}
    if md is None:
        return out
    if isinstance(md, FileRefused):
        out[("bad", 0)] = (None, BadField(md.reason, md.message), None)
        return out
    for n, line in json_lines(md):
        try:
            rec = load_record(line, limits)
        except BadField as bad:
            out.setdefault(("bad", n), (n, bad, line))
            continue
        if type(rec) is not dict or "seed" not in rec or not isinstance(rec["seed"], (int, str)):
            out.setdefault(("bad", n), (n, BadField(T.WRONG_TYPE, "metadata line is not an object with `seed`"),
                                        line))
            continue
        out.setdefault(str(rec["seed"]), (n, rec, line))
    return out


def map_original(unit, files, m: UnitMapper) -> None:
    if unit.params is None:
        try:
            orjson.loads(files)
            reason, msg = T.WRONG_TYPE, "seeds.json must be a list of [dir, [seed, ...]]"
        except orjson.JSONDecodeError as exc:
            reason, msg = parse_error(files, exc)
        m.reject(None, reason, f"seeds.json: {msg}", files)
        return
    seen_pairs = set()
    for index, entry in unit.params:
        raw = raw_text(entry)
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                and isinstance(entry[1], list)):
            m.reject(index, T.WRONG_TYPE, "seeds.json entry must be [dir, [seed, ...]]", raw)
            continue
        d, seeds = entry
        try:
            rel = check_rel_path(d, "dir")
        except BadField as bad:
            for _ in seeds or [None]:
                m.reject(index, bad.reason, bad.message, raw)
            continue
        pj, md = files.get(d, (None, None))
        prompt_file = f"{rel}/prompt.json"
        prompt_problem = None
        prompt = {}
        if pj is None:
            prompt_problem = (T.MISSING_FILE, f"{prompt_file} does not exist", None)
        elif isinstance(pj, FileRefused):
            prompt_problem = (pj.reason, f"{prompt_file}: {pj.message}", None)
        else:
            try:
                prompt = load_record(pj, m.limits)
            except BadField as bad:
                prompt = {}
                msg = "prompt.json is not an object" if bad.reason == T.WRONG_TYPE else bad.message
                prompt_problem = (bad.reason, f"{prompt_file}: {msg}", pj)
        if prompt_problem is None:
            try:
                instr = check_instruction(prompt.get("edit"), "edit")
                cap_key = "input" if "input" in prompt else "caption"
                sc = optional_text(prompt.get(cap_key), cap_key)
                tc = optional_text(prompt.get("output"), "output")
            except BadField as bad:
                prompt_problem = (bad.reason, f"{prompt_file}: {bad.message}", pj)
        meta = _metadata(md, m.limits)
        bad_meta = [v for k, v in meta.items() if isinstance(k, tuple)]
        if not seeds:
            m.reject(index, T.MISSING_KEY, f"entry for {d} lists no seeds", raw)
        for s in seeds:
            if prompt_problem is not None:
                reason, msg, praw = prompt_problem
                m.reject(1 if praw is not None else None, reason, msg, praw, source_file=prompt_file)
                continue
            if not isinstance(s, (int, str)) or isinstance(s, bool):
                m.reject(index, T.WRONG_TYPE, f"seed {raw_text(s)[:100]} is not an integer", raw)
                continue
            if (d, str(s)) in seen_pairs:
                m.reject(index, T.DUPLICATE_RECORD, f"{d} seed {s} listed twice", raw)
                continue
            seen_pairs.add((d, str(s)))
            scores, extra = {}, {"prompt_dir": rel, "seed": s}
            mrec = meta.get(str(s))
            if mrec is None and bad_meta:
                n, bad, line = bad_meta[0]
                m.reject(n, bad.reason, f"{rel}/metadata.jsonl: {bad.message}", line,
                         source_file=f"{rel}/metadata.jsonl")
                continue
            if mrec is not None:
                n, rec, _ = mrec
                scores = {k: rec[k] for k in SCORE_KEYS if k in rec}
                extra["metadata"] = {k: v for k, v in rec.items() if k not in SCORE_KEYS and k != "seed"}
                extra["metadata_line"] = n
            # the caption key not used as the source caption (a prompt.json with both `input` and `caption`)
            extra.update({k: v for k, v in prompt.items() if k not in PROMPT_KNOWN or
                          (k in ("input", "caption") and k != cap_key)})
            try:
                src = check_rel_path(f"{rel}/{s}_0.jpg", "seed")
                tgt = check_rel_path(f"{rel}/{s}_1.jpg", "seed")
                if "/" in str(s) or "\\" in str(s):
                    raise BadField(T.UNSAFE_PATH, f"seed {str(s)[:200]} is not a file name")
                scores_json, extra_json = dumps(scores), dumps(extra)
            except BadField as bad:
                m.reject(index, bad.reason, bad.message, raw)
                continue
            m.add_edit(record=index, raw=raw, instruction=instr, source=src, target=tgt, source_caption=sc,
                       target_caption=tc, scores=scores_json, extra=extra_json)
