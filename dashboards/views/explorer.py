"""Edit explorer: find edits by text, dataset, label, slice and score; page through them; download the set."""

import streamlit as st

from editlens.dashboards import data, ui

m = data.marts()
st.title("Edit explorer")
ui.guard(m, "edits")

PAGE_SIZE = 20
parts_df = data.parts(m)
scores = data.score_columns(m)
with st.container(border=True):
    text = st.text_input("Search instructions", key="ex_text", placeholder="e.g. remove the")
    c = st.columns(4)
    dss = c[0].multiselect("Dataset", sorted(parts_df["dataset"].unique()), key="ex_datasets")
    part_opts = sorted(
        parts_df[parts_df["dataset"].isin(dss)]["part"].unique() if dss else parts_df["part"].unique()
    )
    prt = c[1].multiselect("Slice (part)", part_opts, key="ex_parts")
    labs = c[2].multiselect("Label", data.labels(m), key="ex_labels")
    flg = c[3].multiselect(
        "Quality flag",
        data.flag_columns(m) if m.has("edit_quality_flags") else [],
        key="ex_flags",
        format_func=data.flag_label,
    )
    score = smin = smax = None
    if scores:
        c2 = st.columns([1, 2])
        score = c2[0].selectbox(
            "Score",
            ["(any)"] + scores,
            key="ex_score",
            format_func=lambda s: s if s == "(any)" else data.score_label(s),
        )
        if score != "(any)":
            lo, hi = data.score_range(m, score)
            smin, smax = c2[1].slider(
                "Range",
                min_value=round(lo, 3),
                max_value=round(hi, 3),
                value=(round(lo, 3), round(hi, 3)),
                step=0.01,
                key="ex_range",
            )
        else:
            score = None

f = data.Filters(
    text=text or "",
    datasets=tuple(dss),
    parts=tuple(prt),
    labels=tuple(labs),
    flags=tuple(flg),
    score=score,
    score_min=smin,
    score_max=smax,
    region=st.query_params.get("map"),  # a region of the edit map (its "Open these edits in the explorer" link)
)
if f.region:
    st.caption(f"Only edits in the edit map's region `{f.region}` (remove `map` from the URL for all).")
total, capped = data.explore_count(m, f)
n_pages = max(1, -(-total // PAGE_SIZE))
c = st.columns([2, 1, 1, 1])
c[0].metric("Matching edits", ui.num(total) + ("+" if capped else ""))
page = c[1].number_input(
    "Page", min_value=1, max_value=n_pages if not capped else None, value=1, step=1, key="ex_page"
)
c[2].download_button(
    "Download CSV",
    data=lambda: data.explore_export(m, f, "csv"),
    file_name="edits.csv",
    mime="text/csv",
    key="ex_csv",
    disabled=total == 0,
)
c[3].download_button(
    "Download Parquet",
    data=lambda: data.explore_export(m, f, "parquet"),
    file_name="edits.parquet",
    mime="application/octet-stream",
    key="ex_parquet",
    disabled=total == 0,
)
if capped:
    st.caption(
        f"Counting stopped at {ui.num(total)} matches (narrow the filters for an exact count); pages and "
        f"downloads go on past it. Downloads hold at most {ui.num(data.EXPORT_ROW_CAP)} edits."
    )

res = data.explore_page(m, f, page=int(page), page_size=PAGE_SIZE)
st.caption(f"Page {int(page)} of {n_pages}{'+' if capped else ''} (edits in mart order)")
ui.table(
    res.drop(columns=[c for c in ("source_image_id", "target_image_id") if c in res.columns]), "ex_table"
)
if not res.empty:
    show = st.toggle("Show images for this page", value=True, key="ex_images")
    if show:
        refs = ui.image_refs_for(m, res.head(6))
        for row in res.head(6).to_dict("records"):
            ui.edit_card(m, row, show_scores=scores[:2], refs=refs)
