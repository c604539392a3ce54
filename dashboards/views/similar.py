"""Which edits look like this one? Nearest edits by source image or instruction embedding, or by a text query
through the model's text tower, from the neighbour indexes the embed job built."""

import streamlit as st

from editlens.contract.errors import UnusableInput
from editlens.dashboards import data, ui
from editlens.dashboards.data import browse as B

m = data.marts()
st.title("Which edits look like this one?")
ui.guard(m, "edits")

built = B.indexes(m)
if not built:
    st.info("No neighbour index in this warehouse: run `editlens embed` (its browse stage builds them).")
    st.stop()
keys = sorted({k for k, _ in built})
c = st.columns([3, 2, 1])
MODES = {"image": "Edits with a similar source image", "instruction": "Edits with a similar instruction",
         "text": "Source images matching a text (the model's text tower)"}
mode = c[0].radio("Search", list(MODES), key="sim_mode", format_func=MODES.get)
model_key = c[1].selectbox("Model", keys, key="sim_model") if len(keys) > 1 else keys[0]
k = c[2].number_input("Neighbours", min_value=1, max_value=100, value=12, step=1, key="sim_k")

space = "image" if mode in ("image", "text") else "instruction"
idx = B.index(m, model_key, space)
if idx is None:
    st.warning(f"No {space} index for model `{model_key}`: rerun `editlens embed`.")
    st.stop()

if mode == "text":
    query = st.text_input("Text", key="sim_text", placeholder="e.g. a red circle on a blue background")
    if not query.strip():
        st.stop()
    try:
        hits = B.similar_to_text(m, model_key, query.strip(), int(k))
    except (ValueError, UnusableInput) as exc:
        st.warning(f"Text search is not available: {exc}")
        st.stop()
    st.caption(f"Nearest source images to “{query.strip()}” ({ui.num(len(idx))} edits indexed, {idx.backend}).")
else:
    if "edit" in st.query_params and "sim_edit" not in st.session_state:
        st.session_state["sim_edit"] = st.query_params["edit"]
    edit_id = st.text_input("Edit id", key="sim_edit", placeholder="16 hex characters (from any card or table)")
    if not edit_id.strip():
        edit_id = idx.key(0) if len(idx) else ""
        st.caption(f"No edit chosen: showing the neighbours of the first indexed edit, `{edit_id}`.")
    edit_id = edit_id.strip()
    st.query_params["edit"] = edit_id
    hits = B.similar_to_edit(m, model_key, space, edit_id, int(k))
    if hits is None:
        st.warning(f"Edit `{edit_id}` is not in the {space} index (unknown id, or its {space} has no embedding).")
        st.stop()
    st.subheader("This edit")
    base = B.edit_rows(m, [edit_id])
    if not base.empty:
        ui.edit_card(m, base.iloc[0].to_dict(), refs=ui.image_refs_for(m, base))
        ui.tag_control(m, edit_id, "sim")
    st.caption(f"Nearest by {space} embedding ({ui.num(len(idx))} edits indexed, {idx.backend}).")

if hits.empty:
    st.info("No neighbours.")
    st.stop()
rows = B.edit_rows(m, hits["edit_id"].tolist())
res = hits.merge(rows, on="edit_id", how="left")
st.subheader(f"{len(res)} nearest edits")
refs = ui.image_refs_for(m, res)
pics = ui.thumbs(m, res["source_image_id"].tolist(), size=192, refs=refs)
per_row = 4
with st.container(key="sim_results"):
    for start in range(0, len(res), per_row):
        cols = st.columns(per_row)
        for box, (_, r), pic in zip(cols, res.iloc[start:start + per_row].iterrows(), pics[start:start + per_row]):
            box.image(pic, width="stretch")
            box.markdown(f"**{r['similarity']:.3f}** · [{r['edit_id']}](edit?edit={r['edit_id']})  \n"
                         f"{r.get('instruction') or ''}")
            box.caption(" · ".join(str(r[c]) for c in ("dataset", "part") if isinstance(r.get(c), str)))
ui.table(res[[c for c in ("edit_id", "similarity", "dataset", "part", "instruction") if c in res.columns]],
         "sim_table", {"similarity": "{:.3f}"})
