"""Per-edit scores (from stored embeddings and thumbnails), zero-shot concept scores (from stored image
embeddings) and the content-dedup compaction. None of these touch images or the model's image tower, so a
rerun with an edited prompt set or new edits costs seconds.

Edit metrics (formats.md section 3; E normalised embeddings, I0 source, I1 target, T0/T1 captions, P instruction):
  clip_i                   cos(E(I0), E(I1))
  clip_t_target_caption    cos(E(I1), E(T1))
  clip_t_instruction       cos(E(I1), E(P))
  directional_caption      cos(E(I1) - E(I0), E(T1) - E(T0))
  directional_instruction  cos(E(I1) - E(I0), E(P))        (weak signal, kept apart)
  directional_instruction_core  cos(E(I1) - E(I0), E(core(P)))  P without its framing phrases (`frames`)
  pixel_l1 / pixel_mse     mean |a - b| / mean (a - b)^2 of [0, 1] RGB, both images squashed to 32x32
  pixel_changed_frac       share of the 32x32 pixels whose largest channel difference exceeds 0.1
  phash_distance           Hamming distance of the two 64-bit perceptual hashes
`null_reason` lists, separated by ';', why any score of the row is null (e.g. ``source_image_missing``,
``no_target_caption``, ``identical_image_embeddings``); null when every score is present.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from editlens.contract.batches import rebatch
from editlens.embeddings import manifest as M
from editlens.embeddings import tables as T
from editlens.embeddings.frames import InstructionFrames
from editlens.embeddings.imageio import THUMB_SIZE
from editlens.embeddings.models import ModelSpec
from editlens.warehouse import Warehouse, atomic_write_table

CHANGED_THRESHOLD = 0.1
EPS = 1e-6


def _thumbs(col) -> tuple[np.ndarray, np.ndarray]:
    vals = col.to_pylist()
    n = len(vals)
    size = THUMB_SIZE * THUMB_SIZE * 3
    valid = np.array([v is not None and len(v) == size for v in vals], dtype=bool)
    out = np.zeros((n, THUMB_SIZE * THUMB_SIZE, 3), dtype=np.float64)
    for i, v in enumerate(vals):
        if valid[i]:
            out[i] = np.frombuffer(v, dtype=np.uint8).reshape(-1, 3) / 255.0
    return out, valid


def _cos_rows(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    ok = (na > EPS) & (nb > EPS)
    out = np.zeros(len(a))
    out[ok] = (a[ok] * b[ok]).sum(axis=1) / (na[ok] * nb[ok])
    return np.clip(out, -1.0, 1.0), ok


def _masked(values: np.ndarray, mask: np.ndarray) -> pa.Array:
    return pa.array(np.where(mask, values, 0.0), mask=~mask, type=pa.float64())


def edit_query(wh: Warehouse, key: str, frames: InstructionFrames | None = None) -> str:
    core = frames.core_sql("instr") if frames else "instr"
    return f"""
        with edits as (
            select edit_id, any_value(source_image_id) as s_id, any_value(target_image_id) as t_id,
                   any_value(instruction) as instr, any_value(source_caption) as s_cap,
                   any_value(target_caption) as t_cap
            from {M.source(wh, 'edits')} group by edit_id
        ),
        done as (select distinct edit_id from {M.source(wh, T.EDIT_SCORES)} where model_key = '{key}'),
        pending as (select * from edits anti join done using (edit_id)),
        facts as (select image_id, sha256, status, phash, thumb from {M.source(wh, T.IMAGE_FACTS)}),
        emb as (select sha256, embedding from {M.source(wh, T.IMAGE_EMBEDDINGS)} where model_key = '{key}'),
        txt as (select text_hash, embedding from {M.source(wh, T.TEXT_EMBEDDINGS)} where model_key = '{key}'),
        p as (select *,
                  case when length(trim(instr)) > 0 then substr(sha1(instr), 1, 16) end as h_instr,
                  case when length(trim(instr)) > 0 then substr(sha1({core}), 1, 16) end as h_core,
                  case when length(trim(s_cap)) > 0 then substr(sha1(s_cap), 1, 16) end as h_scap,
                  case when length(trim(t_cap)) > 0 then substr(sha1(t_cap), 1, 16) end as h_tcap
              from pending)
        select p.edit_id,
               fs.status as s_status, ft.status as t_status, fs.phash as s_phash, ft.phash as t_phash,
               fs.thumb as s_thumb, ft.thumb as t_thumb,
               es.embedding as s_emb, et.embedding as t_emb,
               ti.embedding as i_emb, tco.embedding as co_emb, tsc.embedding as sc_emb, ttc.embedding as tc_emb,
               p.t_id is null as no_target, p.h_instr is not null as has_instr, p.h_scap is not null as has_scap, p.h_tcap is not null as has_tcap
        from p
        left join facts fs on fs.image_id = p.s_id
        left join facts ft on ft.image_id = p.t_id
        left join emb es on es.sha256 = fs.sha256
        left join emb et on et.sha256 = ft.sha256
        left join txt ti on ti.text_hash = p.h_instr
        left join txt tco on tco.text_hash = p.h_core
        left join txt tsc on tsc.text_hash = p.h_scap
        left join txt ttc on ttc.text_hash = p.h_tcap
    """


def score_edits(tbl: pa.Table, spec: ModelSpec) -> pa.Table:
    """One chunk of the edit query -> `edit_scores` rows."""
    n, d = tbl.num_rows, spec.embed_dim
    s, s_ok = T.embedding_matrix(tbl["s_emb"], d)
    t, t_ok = T.embedding_matrix(tbl["t_emb"], d)
    ins, i_ok = T.embedding_matrix(tbl["i_emb"], d)
    core, co_ok = T.embedding_matrix(tbl["co_emb"], d)
    sc, sc_ok = T.embedding_matrix(tbl["sc_emb"], d)
    tc, tc_ok = T.embedding_matrix(tbl["tc_emb"], d)
    s_status = tbl["s_status"].to_pylist()
    t_status = tbl["t_status"].to_pylist()
    no_target = tbl["no_target"].to_pylist() if "no_target" in tbl.column_names else [False] * n
    has_instr = np.asarray(tbl["has_instr"].to_pylist(), dtype=bool)
    has_scap = np.asarray(tbl["has_scap"].to_pylist(), dtype=bool)
    has_tcap = np.asarray(tbl["has_tcap"].to_pylist(), dtype=bool)

    both = s_ok & t_ok
    clip_i = np.clip((s * t).sum(axis=1), -1.0, 1.0)
    clip_t_cap = np.clip((t * tc).sum(axis=1), -1.0, 1.0)
    clip_t_ins = np.clip((t * ins).sum(axis=1), -1.0, 1.0)
    d_img = t - s
    dir_cap, dir_cap_ok = _cos_rows(d_img, tc - sc)
    dir_ins, dir_ins_ok = _cos_rows(d_img, ins)
    dir_core, dir_core_ok = _cos_rows(d_img, core)
    img_dir_ok = np.linalg.norm(d_img, axis=1) > EPS
    cap_dir_ok = np.linalg.norm(tc - sc, axis=1) > EPS

    st, st_ok = _thumbs(tbl["s_thumb"])
    tt, tt_ok = _thumbs(tbl["t_thumb"])
    px_ok = st_ok & tt_ok
    diff = np.abs(tt - st)
    l1 = diff.mean(axis=(1, 2))
    mse = (diff ** 2).mean(axis=(1, 2))
    changed = (diff.max(axis=2) > CHANGED_THRESHOLD).mean(axis=1)

    sp = tbl["s_phash"].to_pylist()
    tp = tbl["t_phash"].to_pylist()
    ph = [None if (a is None or b is None) else int(((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()) for a, b in zip(sp, tp)]

    reasons = []
    for k in range(n):
        r = []
        for role, st_, ok in (("source", s_status[k], s_ok[k]), ("target", t_status[k], t_ok[k])):
            if role == "target" and no_target[k]:
                r.append("no_target_image")  # a benchmark edit: the dataset ships no target
            elif st_ is None:
                r.append(f"{role}_image_not_processed")
            elif st_ != "ok":
                r.append(f"{role}_image_{st_}")
            elif not ok:
                r.append(f"{role}_embedding_missing")
        if not has_instr[k]:
            r.append("no_instruction")
        elif not i_ok[k]:
            r.append("instruction_embedding_missing")
        elif not co_ok[k]:
            r.append("instruction_core_embedding_missing")
        if not has_tcap[k]:
            r.append("no_target_caption")
        elif not tc_ok[k]:
            r.append("target_caption_embedding_missing")
        if not has_scap[k]:
            r.append("no_source_caption")
        elif not sc_ok[k]:
            r.append("source_caption_embedding_missing")
        if both[k] and not img_dir_ok[k]:
            r.append("identical_image_embeddings")
        if sc_ok[k] and tc_ok[k] and not cap_dir_ok[k]:
            r.append("identical_captions")
        reasons.append(";".join(r) if r else None)

    cols = {
        "edit_id": tbl["edit_id"],
        "model_key": [spec.key] * n,
        "model_name": [spec.name] * n,
        "pretrained": [spec.pretrained] * n,
        "preprocess": [spec.preprocess_str] * n,
        "clip_i": _masked(clip_i, both),
        "clip_t_target_caption": _masked(clip_t_cap, t_ok & tc_ok),
        "clip_t_instruction": _masked(clip_t_ins, t_ok & i_ok),
        "directional_caption": _masked(dir_cap, both & sc_ok & tc_ok & dir_cap_ok),
        "directional_instruction": _masked(dir_ins, both & i_ok & dir_ins_ok),
        "directional_instruction_core": _masked(dir_core, both & co_ok & dir_core_ok),
        "pixel_l1": _masked(l1, px_ok),
        "pixel_mse": _masked(mse, px_ok),
        "pixel_changed_frac": _masked(changed, px_ok),
        "phash_distance": pa.array(ph, type=pa.int32()),
        "null_reason": pa.array(reasons, type=pa.string()),
    }
    return T.to_table(T.EDIT_SCORES, cols)


def run_edit_stage(con: duckdb.DuckDBPyConnection, wh: Warehouse, spec: ModelSpec, shard_size: int,
                   progress=None, frames: InstructionFrames | None = None) -> int:
    """Streams pending edits with their images' facts and embeddings, one atomic file per shard. Scores are
    row-wise, so shard boundaries do not change any value."""
    reader = con.execute(edit_query(wh, spec.key, frames)).to_arrow_reader(max(1024, shard_size))
    done = 0
    for tbl in rebatch(reader, shard_size):
        out = score_edits(tbl, spec).sort_by("edit_id")
        name = M.shard_name(spec.key[:8], out["edit_id"].to_pylist())
        T.write_part(wh, T.EDIT_SCORES, name, out)
        done += out.num_rows
        if progress is not None:
            progress.update(out.num_rows)
    return done


# ---------------------------------------------------------------------------------------------------------
# compaction


def compact(con: duckdb.DuckDBPyConnection, wh: Warehouse, table: str, key: str) -> int:
    """Identical bytes under different image_ids in different shards of one run are embedded by each shard;
    keep the row of the lexically first file (shard names start with the first image_id) and rewrite the
    others atomically without it. Idempotent, so a kill during compaction is repaired by the rerun."""
    if not wh.has_table(table):
        return 0
    extra = ", prompt_set" if table == T.IMAGE_CONCEPTS else ""
    rows = con.execute(f"""
        with r as (select distinct sha256{extra}, filename
                   from read_parquet('{wh.table_glob(table)}', filename = true) where model_key = ?),
        d as (select sha256{extra}, min(filename) as keep from r group by sha256{extra} having count(*) > 1)
        select r.filename, r.sha256 from r join d using (sha256{extra}) where r.filename <> d.keep
    """, [key]).fetchall()
    drop: dict[str, set[str]] = {}
    for fn, sha in rows:
        drop.setdefault(fn, set()).add(sha)
    removed = 0
    for fn, shas in drop.items():
        tbl = pq.read_table(fn)
        mask = pc.invert(pc.and_(pc.is_in(tbl["sha256"], value_set=pa.array(sorted(shas))),
                                 pc.equal(tbl["model_key"], key)))
        kept = tbl.filter(mask)
        removed += tbl.num_rows - kept.num_rows
        atomic_write_table(kept, Path(fn))
    return removed
