"""Edit explorer: find edits by text, dataset, part, label, flag, safety category, group, null reason and score;
sort by any score (server-side); page through them with images; download the set. Every filter is in the URL."""

import math

import streamlit as st

from editlens.dashboards import data, ui

m = data.marts()
st.title("Edit explorer")
ui.guard(m, "edits")

PAGE_SIZE = 20
parts_df = data.parts(m)
scores = data.score_columns(m)
flag_opts = list(data.DEFECTS) + [c for c in data.filter_columns(m) if c not in ("is_misaligned",)]
flag_opts = list(dict.fromkeys(flag_opts))


def flag_name(x: str) -> str:
    return data.DEFECTS[x].label if x in data.DEFECTS else ui.readable(x)


def opts(values, chosen):
    """Options with whatever the URL chose kept (an unknown value is shown, and matches nothing)."""
    return list(dict.fromkeys([*values, *chosen]))


with st.container(border=True):
    ui.url_value("ex_text", "", param="text")
    text = st.text_input("Search instructions", key="ex_text", placeholder="e.g. remove the")
    c = st.columns(4)
    all_ds = sorted(parts_df["dataset"].unique())
    dss = c[0].multiselect("Dataset", opts(all_ds, ui.url_value("ex_dataset", [], list, param="dataset")), key="ex_dataset")
    part_opts = sorted(
        parts_df[parts_df["dataset"].isin(dss)]["part"].unique() if dss else parts_df["part"].unique()
    )
    prt = c[1].multiselect("Part", opts(part_opts, ui.url_value("ex_part", [], list, param="part")), key="ex_part")
    flg = c[2].multiselect(
        "Flag or defect (any of)",
        opts(flag_opts, ui.url_value("ex_flag", [], list, param="flag")),
        key="ex_flag",
        format_func=flag_name,
    )
    origins = data.label_origins(m) if m.has("edit_labels") or m.has("instruction_type_stats") else []
    ui.url_value("ex_origin", "any", param="origin")
    origin = c[3].radio("Label origin", ["any", *origins], key="ex_origin", horizontal=True)
    c = st.columns(4)
    labs = c[0].multiselect(
        "Label" + ("" if origin == "any" else f" ({origin})"),
        opts(data.labels(m), ui.url_value("ex_label", [], list, param="label")),
        key="ex_label",
    )
    safety_opts = data.safety_categories(m) if m.has("safety_slices") else []
    saf = c[1].multiselect("Safety category", opts(safety_opts, ui.url_value("ex_safety", [], list, param="safety")), key="ex_safety")
    grp = c[2].multiselect(
        "Demographic group mentioned", opts(data.demographic_groups(m), ui.url_value("ex_group", [], list, param="group")), key="ex_group"
    )
    nr = c[3].multiselect(
        "Why a score is missing", opts(data.null_reasons(m), ui.url_value("ex_null_reason", [], list, param="null_reason")),
        key="ex_null_reason", format_func=ui.readable,
    )
    score = smin = smax = None
    sort, desc = None, False
    if scores:
        c2 = st.columns([1, 2, 1, 1])
        ui.url_value("ex_score", "(any)", param="score")
        score = c2[0].selectbox(
            "Score range on",
            opts(["(any)", *scores], [st.session_state["ex_score"]]),
            key="ex_score",
            format_func=lambda s: s if s == "(any)" else data.score_label(s),
        )
        if score != "(any)" and score in scores:
            lo, hi = data.score_range(m, score)
            # bounds rounded outwards: the full range keeps the lowest and the highest edit
            lo_s, hi_s = math.floor(lo * 100) / 100, math.ceil(hi * 100) / 100
            hi_s = hi_s if hi_s > lo_s else lo_s + 0.01
            if st.session_state.get("ex_range_for") != score:  # another score: its own full range
                for k in ("ex_range", "ex_smin", "ex_smax"):
                    st.session_state.pop(k, None)
                if st.session_state.get("ex_range_for") is not None:
                    for p_ in ("smin", "smax"):
                        if p_ in st.query_params:
                            del st.query_params[p_]
                st.session_state["ex_range_for"] = score
            ui.url_value("ex_smin", lo_s, float, param="smin")
            ui.url_value("ex_smax", hi_s, float, param="smax")
            st.session_state["ex_range"] = (
                min(max(float(st.session_state["ex_smin"]), lo_s), hi_s),
                max(min(float(st.session_state["ex_smax"]), hi_s), lo_s),
            ) if "ex_range" not in st.session_state else st.session_state["ex_range"]
            smin, smax = c2[1].slider("Range", min_value=lo_s, max_value=hi_s, step=0.01, key="ex_range")
            st.session_state["ex_smin"], st.session_state["ex_smax"] = smin, smax
            ui.keep("ex_smin", smin, lo_s, param="smin")
            ui.keep("ex_smax", smax, hi_s, param="smax")
            smin = None if smin <= lo_s else smin
            smax = None if smax >= hi_s else smax
        else:
            score = None
            ui.keep("ex_smin", None, param="smin")
            ui.keep("ex_smax", None, param="smax")
        sort_opts = ["(mart order)", *scores, "edit_id"]
        ui.url_value("ex_sort", "(mart order)", param="sort")
        sort = c2[2].selectbox(
            "Sort by",
            opts(sort_opts, [st.session_state["ex_sort"]]),
            key="ex_sort",
            format_func=lambda s: s if s.startswith("(") else ("edit id" if s == "edit_id" else data.score_label(s)),
        )
        ui.url_value("ex_desc", False, bool, param="desc")
        desc = c2[3].toggle("Highest first", key="ex_desc")
        ui.keep("ex_sort", sort, "(mart order)", param="sort")
        ui.keep("ex_desc", desc, False, param="desc")
        sort = None if sort == "(mart order)" else sort

for k, v, d in (("text", text, ""), ("dataset", dss, []), ("part", prt, []), ("flag", flg, []),
                ("origin", origin, "any"), ("label", labs, []), ("safety", saf, []), ("group", grp, []),
                ("null_reason", nr, []), ("score", st.session_state.get("ex_score", "(any)"), "(any)")):
    ui.keep("ex_" + k, v, d, param=k)

f = data.Filters(
    text=text or "",
    datasets=tuple(dss),
    parts=tuple(prt),
    labels=tuple(labs),
    label_origin="" if origin == "any" else origin,
    flags=tuple(flg),
    safety=tuple(saf),
    groups=tuple(grp),
    null_reasons=tuple(nr),
    score=score,
    score_min=smin,
    score_max=smax,
    region=st.query_params.get("map"),  # a region of the edit map (its "Open these edits in the explorer" link)
    sort=sort,
    descending=bool(desc),
)
if f.region:
    st.caption(f"Only edits in the edit map's region `{f.region}` (remove `map` from the URL for all).")
total, capped = data.explore_count(m, f)
n_pages = max(1, -(-total // PAGE_SIZE))
c = st.columns([2, 1, 1, 1])
c[0].metric("Matching edits", ui.num(total) + ("+" if capped else ""))
ui.url_value("ex_page", 1, int, param="page")
if not capped and st.session_state["ex_page"] > n_pages:
    st.session_state["ex_page"] = n_pages
page = c[1].number_input(
    "Page", min_value=1, max_value=n_pages if not capped else None, step=1, key="ex_page"
)
ui.keep("ex_page", int(page), 1, param="page")
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
how = (
    f"sorted by {data.score_label(sort) if sort != 'edit_id' else 'edit id'}, "
    f"{'highest' if desc else 'lowest'} first, edits without it last"
    if sort
    else "edits in mart order"
)
st.caption(f"Page {int(page)} of {n_pages}{'+' if capped else ''} ({how}). The link in the address bar opens this view.")
ui.table(
    res.drop(columns=[c for c in ("source_image_id", "target_image_id") if c in res.columns]), "ex_table"
)
if not res.empty:
    ui.url_value("ex_images", True, bool, param="images")
    show = st.toggle("Show images for this page", key="ex_images")
    ui.keep("ex_images", show, True, param="images")
    if show:
        refs = ui.image_refs_for(m, res)
        extra = [sort] if sort and sort in scores and sort not in scores[:2] else []
        for row in res.to_dict("records"):
            with st.container(border=True):
                ui.edit_card(m, row, show_scores=scores[:2] + extra, refs=refs)
