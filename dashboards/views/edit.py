"""Edit detail (``?edit=ID``): one edit in full: source, target and mask full size (side by side, or a slider
wipe), every score and flag with its threshold and model key, its labels, its session's filmstrip, its duplicate
partners and the raw record."""

import io
import json

import pandas as pd
import streamlit as st
from PIL import Image

from editlens.dashboards import data, ui
from editlens.dashboards.images import ImageLocation, thumbnail_png

m = data.marts()
st.title("Edit detail")
ui.guard(m, "edits")

ui.url_value("edit_id", "", param="edit")
edit_id = st.text_input("Edit id", key="edit_id", placeholder="16 hex digits, e.g. from the explorer").strip()
ui.keep("edit_id", edit_id, "", param="edit")
if not edit_id:
    st.info("Open an edit from any card (*Open this edit*), or paste its id. The address bar then links to it.")
    st.stop()
rec = data.edit_record(m, edit_id)
if rec is None:
    st.warning(f"No edit `{edit_id}` in the `edits` mart of this warehouse.")
    st.stop()
flags = data.edit_flags(m, edit_id)

st.markdown(f"### {rec.get('instruction') or '(no instruction)'}")
meta = [f"`{edit_id}`"] + [f"{k.replace('_', ' ')} **{rec[k]}**" for k in ("dataset", "part", "split")
                           if rec.get(k) is not None]
if rec.get("session_id"):
    meta.append(f"session `{rec['session_id']}`, turn **{rec.get('turn_index')}**")
st.caption(" · ".join(meta))

refs = ui.image_refs_for(m, pd.DataFrame([rec]).assign(
    source_image_id=[rec.get("source_image_id")], target_image_id=[rec.get("target_image_id")]))
mask_id = rec.get("mask_image_id") if isinstance(rec.get("mask_image_id"), str) else None
if mask_id:
    refs.update(data.image_refs(m, [mask_id], [rec["dataset"]], [rec["part"]]))
blur = edit_id in refs.get(ui._UNSAFE, set()) and not ui.reveal_unsafe()
if blur:
    st.warning("Flagged for safety: the images are blurred. Switch on *Reveal unsafe images* in the sidebar to see them.")


def full(image_id, size=1024) -> bytes:
    row = refs.get(image_id) if image_id else None
    return thumbnail_png(ImageLocation.from_row(row) if row else None, size=size, blur=blur)


ui.url_value("edit_compare", "side by side", param="compare")
mode = st.radio("Compare", ["side by side", "slider"], key="edit_compare", horizontal=True)
ui.keep("edit_compare", mode, "side by side", param="compare")
src, tgt = full(rec.get("source_image_id")), full(rec.get("target_image_id"))
if mode == "slider":
    pos = st.slider("Wipe: source on the left of the line, target on the right", 0, 100, 50, key="edit_wipe")
    a, b = Image.open(io.BytesIO(src)).convert("RGB"), Image.open(io.BytesIO(tgt)).convert("RGB")
    b = b.resize(a.size) if b.size != a.size else b
    x = int(a.width * pos / 100)
    out = b.copy()
    out.paste(a.crop((0, 0, x, a.height)), (0, 0))
    if 0 < x < a.width:
        out.paste(Image.new("RGB", (2, a.height), (255, 0, 0)), (min(x, a.width - 2), 0))
    buf = io.BytesIO()
    out.save(buf, "PNG")
    st.image(buf.getvalue(), caption=f"source | target at {pos}%", width="stretch")
else:
    imgs, caps = [src, tgt], ["source", "target"]
    if mask_id:
        imgs.append(full(mask_id))
        caps.append("mask")
    ui.pair(imgs, caps)

c = st.columns(2)
with c[0]:
    st.subheader("Scores")
    st.caption(f"Model key: `{rec.get('score_model_key') or 'not scored'}`"
               + (f" ({rec['score_model_name']})" if rec.get("score_model_name") else "")
               + (f". Missing because: {rec['score_null_reason'].replace(';', ', ')}" if rec.get("score_null_reason") else ""))
    ui.table(data.score_table(m, rec), "edit_scores", {"value": "{:.4f}"})
with c[1]:
    st.subheader("Flags")
    ft = data.flag_table(m, rec, flags)
    ft["value"] = ft["value"].map(lambda v: "unknown" if v is None or pd.isna(v) else ("yes" if v else "no"))
    ui.table(ft, "edit_flags")

st.subheader("Labels")
lab = data.edit_labels_of(m, edit_id)
if lab.empty:
    st.caption("No label.")
else:
    for origin, g in lab.groupby("origin"):
        st.markdown(f"**{origin}**: " + ", ".join(f"`{x}`" for x in g["label"]))

if rec.get("session_id"):
    st.subheader("Session")
    turns = data.session_turns(m, rec["session_id"])
    trefs = ui.image_refs_for(m, turns)
    with st.container(key="thumbs_session"):
        cols = st.columns(max(1, min(len(turns), 8)))
        for i, row in enumerate(turns.head(8).to_dict("records")):
            with cols[i]:
                t = ui.thumbs(m, [row.get("target_image_id")], blur=blur, refs=trefs, size=160)[0]
                here = " (this edit)" if row["edit_id"] == edit_id else ""
                brk = " · chain break" if row.get("is_chain_break") else ""
                st.image(t, caption=f"turn {row.get('turn_index')}{here}{brk}", width="stretch")
                if not here:
                    ui.edit_link(row["edit_id"], "open")
    if len(turns) > 8:
        st.caption(f"First 8 of {len(turns)} turns.")

st.subheader("Duplicate partners")
dp = data.duplicate_partners(m, rec, flags)
if dp.empty:
    st.caption("No exact duplicate and no near-duplicate source.")
else:
    ui.table(dp.drop(columns=[c for c in ("source_image_id", "target_image_id") if c in dp.columns]), "edit_partners")
    for eid in dp["edit_id"].head(6):
        ui.edit_link(eid)

st.subheader("Raw record")
raw = rec.get("source_record")
st.caption(f"From `{rec.get('source_file')}`" if rec.get("source_file") else "Where the record came from is not stored.")
try:
    st.json(json.loads(raw) if isinstance(raw, str) else raw, expanded=True)
except (TypeError, ValueError):
    st.code(str(raw))
with st.expander("Every column of the `edits` mart"):
    st.json({k: (None if (not isinstance(v, (list, tuple)) and not hasattr(v, "tolist") and pd.isna(v)) else
                 (v.tolist() if hasattr(v, "tolist") else v)) for k, v in rec.items()}, expanded=False)
