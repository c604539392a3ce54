"""Where do edits cluster? The edit map: a 2-D projection of each edit's source image, instruction or edit
direction embedding, coloured by dataset, label or a quality flag; a selected region opens in the explorer."""

import altair as alt
import streamlit as st

from editlens.dashboards import data, ui
from editlens.dashboards.data import browse as B

m = data.marts()
st.title("Where do edits cluster?")
ui.guard(m, "edit_map", "edits", "edit_quality_flags")

spaces = B.map_spaces(m)
if spaces.empty:
    st.info("The map is empty: run `editlens embed` (its browse stage projects every edit), then `editlens build`.")
    st.stop()

c = st.columns([2, 2, 1, 2])
avail = [s for s in B.SPACE_LABELS if s in set(spaces["space"])]
space = c[0].selectbox("Embedding", avail, key="map_space", format_func=lambda s: B.SPACE_LABELS.get(s, s))
keys = spaces[spaces["space"] == space]["model_key"].drop_duplicates().tolist()
model_key = c[1].selectbox("Model", keys, key="map_model") if len(keys) > 1 else keys[0]
methods = spaces[(spaces["space"] == space) & (spaces["model_key"] == model_key)]["method"].tolist()
method = c[2].selectbox("Projection", methods, key="map_method", format_func=str.upper)
colour = c[3].selectbox("Colour by", ["dataset", "part", "label", "quality flag"], key="map_colour")
n_total = int(spaces[(spaces["space"] == space) & (spaces["model_key"] == model_key)
                     & (spaces["method"] == method)]["n_edits"].iloc[0])
c2 = st.columns([3, 2])
n_show = c2[0].select_slider(
    "Points drawn", options=[1_000, 2_000, 5_000, 10_000, B.MAP_POINTS_MAX],
    value=B.MAP_POINTS_DEFAULT, key="map_n",
)
flag = None
if colour == "quality flag":
    flag = c2[1].selectbox("Flag", list(data.QUALITY_FLAGS), key="map_flag", format_func=data.flag_label)

pts = B.map_points(m, model_key, space, method, n_show)
if colour == "quality flag":
    short = flag.removeprefix("is_").removeprefix("has_")
    pts["colour"] = [("flagged" if short in list(f) else "not flagged") for f in pts["quality_flags"]]
else:
    pts["colour"] = pts[colour].astype(str)
top = pts["colour"].value_counts().index[:12].tolist()
pts.loc[~pts["colour"].isin(top), "colour"] = "(other)"
st.caption(
    f"Sampling: {ui.num(len(pts))} of {ui.num(n_total)} edits drawn, a uniform random sample (a fixed hash order "
    f"of the edit ids, the same on every reload); {method.upper()} of the {B.SPACE_LABELS.get(space, space).lower()} "
    f"embeddings of model `{model_key}`. Drag a rectangle to select a region: the explorer then shows every edit "
    "in it, not only the drawn ones."
)

brush = alt.selection_interval(name="region", encodings=["x", "y"])
chart = (
    alt.Chart(pts.drop(columns=["quality_flags"]))
    .mark_circle(size=18, opacity=0.6)
    .encode(
        x=alt.X("x:Q", title="axis 1"),
        y=alt.Y("y:Q", title="axis 2"),
        color=alt.Color("colour:N", title=colour, legend=alt.Legend(orient="bottom", columns=4, labelLimit=240)),
        tooltip=["edit_id", "dataset", "part", "label", "instruction"],
    )
    .add_params(brush)
    .properties(height=520)
)
with st.container(key="map_chart_box"):
    event = st.altair_chart(chart, on_select="rerun", key="map_chart", width="stretch")

# the region: the chart's selection, else the URL's (?region=x0,x1,y0,y1: a shareable view)
bounds = None
sel = (event.selection.get("region") if event is not None and hasattr(event, "selection") else None) or {}
if sel.get("x") and sel.get("y"):
    bounds = (*sel["x"], *sel["y"])
elif "region" in st.query_params:
    try:
        bounds = tuple(float(v) for v in st.query_params["region"].split(","))[:4]
        bounds = bounds if len(bounds) == 4 else None
    except ValueError:
        bounds = None
if bounds is None:
    st.info("Select a region on the map to list its edits and open them in the explorer.")
    st.stop()

region = B.Region(model_key, space, method, min(bounds[0], bounds[1]), max(bounds[0], bounds[1]),
                  min(bounds[2], bounds[3]), max(bounds[2], bounds[3]))
st.query_params["region"] = ",".join(f"{v:.5g}" for v in (region.x0, region.x1, region.y0, region.y1))
inside = pts[pts["x"].between(region.x0, region.x1) & pts["y"].between(region.y0, region.y1)]
n_region = B.region_count(m, region)
k = st.columns([1, 1, 2])
k[0].metric("Edits in the region", ui.num(n_region))
k[1].metric("Of them drawn", ui.num(len(inside)))
with k[2]:
    st.page_link("views/explorer.py", label="Open these edits in the explorer",
                 query_params={"map": region.encode()}, icon=":material/open_in_new:")
st.subheader("Drawn edits in the region")
ui.table(inside[["edit_id", "dataset", "part", "label", "instruction"]].head(200), "map_selection")
