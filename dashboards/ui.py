"""Shared page pieces: the missing-mart guard, formatted numbers, and the edit card (source | target | text | scores)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from editlens.dashboards import data
from editlens.dashboards.images import ImageLocation, thumbnail_png


def guard(m: data.Marts, *names: str) -> None:
    """Stop the page with a clear message when a mart it needs is missing."""
    miss = m.missing(names)
    if miss:
        st.warning(
            f"This page needs the mart(s) {', '.join('`' + x + '`' for x in miss)}, which the warehouse "
            f"`{m.root}` does not have yet. {data.BUILD_HINT}"
        )
        st.stop()


def pct(x) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{100 * float(x):.1f}%"


def num(x) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{int(x):,}"


def score(x) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{float(x):.3f}"


def image_refs_for(m: data.Marts, df: pd.DataFrame) -> dict[str, dict]:
    """The image locations of every source and target in ``df``, in one lookup (pass to edit_card), with the
    edits of ``df`` flagged unsafe (blurred by edit_card on every page until revealed)."""
    ids = []
    for c in ("source_image_id", "target_image_id"):
        if c in df.columns:
            ids += [i for i in df[c].tolist() if isinstance(i, str)]
    # the edits' datasets and parts narrow the lookup until the warm-up has indexed it
    hint = {c: df[c].dropna().unique().tolist() if c in df.columns else [] for c in ("dataset", "part")}
    refs = dict(data.image_refs(m, ids, hint["dataset"], hint["part"]))
    edit_ids = df["edit_id"].dropna().tolist() if "edit_id" in df.columns else []
    refs[_UNSAFE] = data.unsafe_edit_ids(m, edit_ids)
    return refs


_UNSAFE = "__unsafe_edit_ids__"


def thumbs(
    m: data.Marts,
    image_ids: Sequence[str | None],
    blur: bool = False,
    size: int = 256,
    refs: dict | None = None,
) -> list[bytes]:
    if refs is None:
        refs = data.image_refs(m, [i for i in image_ids if i])
    out = []
    for i in image_ids:
        row = refs.get(i) if i else None
        out.append(thumbnail_png(ImageLocation.from_row(row) if row else None, size=size, blur=blur))
    return out


def reveal_unsafe() -> bool:
    """The sidebar's "Reveal unsafe images" switch (off: every page blurs edits flagged for safety)."""
    return bool(st.session_state.get(REVEAL_KEY, False))


_CARDS = "_ui_card_counter"
REVEAL_KEY = "unsafe_reveal_all"


def _uid(prefix: str) -> str:
    st.session_state[_CARDS] = st.session_state.get(_CARDS, 0) + 1
    return f"{prefix}_{st.session_state[_CARDS]}"


def pair(images: Sequence[bytes], captions: Sequence[str]) -> None:
    """Images side by side at equal width, also on a phone (the ``pair`` CSS keeps the columns from stacking)."""
    with st.container(key=_uid("pair")):
        for col, img, cap in zip(st.columns(len(images)), images, captions):
            col.image(img, caption=cap, width="stretch")


def edit_card(
    m: data.Marts,
    row: dict,
    *,
    blur: bool | None = None,
    show_scores: Sequence[str] = (),
    extra: Sequence[str] = (),
    refs: dict | None = None,
    link: bool = True,
) -> None:
    """One edit: source | target side by side, then (beside them on a wide screen, below on a phone) the
    instruction, ids, scores and a link to the edit's page. ``blur`` None: blurred when the edit is flagged for
    safety and the sidebar's reveal switch is off."""
    if blur is None:
        unsafe = refs.get(_UNSAFE) if refs is not None else None
        if unsafe is None:
            unsafe = data.unsafe_edit_ids(m, [row.get("edit_id")])
        blur = row.get("edit_id") in unsafe and not reveal_unsafe()
    with st.container(key=_uid("card")):
        c_img, c_txt = st.columns([2, 3], gap="medium")
        src, tgt = thumbs(m, [row.get("source_image_id"), row.get("target_image_id")], blur=blur, refs=refs)
        with c_img:
            pair([src, tgt], ["source" + (" (blurred: flagged unsafe)" if blur else ""), "target"])
        with c_txt:
            st.markdown(f"**{row.get('instruction', '')}**")
            meta = " · ".join(str(row[k]) for k in ("dataset", "part", "split") if row.get(k) is not None)
            st.caption(f"`{row.get('edit_id')}` · {meta}")
            lines = []
            for c in show_scores:
                if c in row:
                    lines.append(f"{data.score_label(c)}: **{score(row[c])}**")
            for c in extra:
                v = row.get(c)
                if v is None or (isinstance(v, float) and pd.isna(v)):
                    continue
                lines.append(f"{readable(c)}: **{score(v) if isinstance(v, float) else v}**")
            if lines:
                st.markdown("  \n".join(lines))
            if link and row.get("edit_id"):
                edit_link(str(row["edit_id"]), "Open this edit ›")


CSS = """
<style>
/* image pairs stay side by side at half width on a phone; captions wrap instead of overlapping */
[class*="st-key-pair_"] [data-testid="stHorizontalBlock"] { flex-wrap: nowrap !important; gap: 0.5rem; }
[class*="st-key-pair_"] [data-testid="stColumn"] { min-width: 0 !important; flex: 1 1 0 !important;
  width: 50% !important; }
[class*="st-key-pair_"] img { max-width: 100%; height: auto; object-fit: contain; }
[class*="st-key-thumbs_"] [data-testid="stHorizontalBlock"] { flex-wrap: nowrap !important; gap: 0.3rem; }
[class*="st-key-thumbs_"] [data-testid="stColumn"] { min-width: 0 !important; flex: 1 1 0 !important; }
/* tables scroll sideways inside their box instead of being clipped */
[data-testid="stDataFrame"] { max-width: 100%; overflow-x: auto; }
[data-testid="stCaptionContainer"], [data-testid="stMarkdownContainer"] { overflow-wrap: anywhere; }
</style>
"""


def inject_css() -> None:
    st.session_state[_CARDS] = 0
    st.html(CSS)


def denominator_note(n: int, what: str) -> None:
    st.caption(f"Denominator: {num(n)} {what}.")


def table(df: pd.DataFrame, key: str, fmt: dict | None = None, readable_headers: bool = True) -> None:
    """A dataframe inside a keyed container (so tests and the browser can find it by ``key``); headers shown
    readable (no snake_case), the data keeps its column names."""
    labels = {c: st.column_config.Column(readable(c) if c not in ("dataset", "part") else c.capitalize())
              for c in df.columns if readable_headers and isinstance(c, str)}
    with st.container(key=key):
        st.dataframe(df.style.format(fmt, na_rep="–") if fmt else df, hide_index=True, column_config=labels or None)


def tag_control(m: data.Marts, edit_id: str, key: str, current: str | None = None) -> None:
    """Tag an edit keep / drop / needs-review from any card: each choice is saved at once (an append-only
    warehouse table, read by the next `editlens build`)."""
    from editlens.contract.tables import TAGS
    from editlens.dashboards.data import review

    state_key = f"tag_{key}_{edit_id}"
    if current is None:
        current = review.current_tags(m, [edit_id]).get(edit_id)

    def _save():
        tag = st.session_state.get(state_key)
        if tag:
            review.save_tag(m, edit_id, tag, st.session_state.get("reviewer", ""))

    st.segmented_control("Tag", TAGS, default=current, key=state_key, on_change=_save,
                         label_visibility="collapsed")


def readable(name: str) -> str:
    """A column or flag name for people: no snake_case, known abbreviations kept."""
    s = str(name).removeprefix("is_").removeprefix("has_").removeprefix("n_")
    s = s.replace("clip_i", "CLIP-I").replace("clip_t", "CLIP-T").replace("_", " ")
    for a, b in (("ip2p", "InstructPix2Pix"), ("clip", "CLIP"), ("phash", "pHash"), ("l1", "L1"), ("mse", "MSE")):
        s = " ".join(b if w == a else w for w in s.split(" "))
    return s[:1].upper() + s[1:]


def rate_bars(
    df: pd.DataFrame,
    category: str,
    num: str,
    den: str,
    *,
    title: str,
    color: str | None = None,
    key: str | None = None,
    label_width: int = 360,
    reference: float | None = None,
):
    """Horizontal bars of num / den per ``category``, each with its Wilson 95% interval and "k / n" beside it;
    bars over fewer than data.SMALL_N edits are faded and listed under the chart. Returns the frame drawn."""
    import altair as alt

    d = data.with_interval(df, num, den)
    d = d[d[den].fillna(0) > 0].copy()
    if d.empty:
        return d
    d["n_label"] = [f"{int(k):,} / {int(n):,}" for k, n in zip(d[num], d[den])]
    d["interval"] = [f"{100 * a:.1f}–{100 * b:.1f}%" for a, b in zip(d["ci_low"], d["ci_high"])]
    y = alt.Y(f"{category}:N", title=None, sort="-x", axis=alt.Axis(labelLimit=label_width))
    tip = [category, alt.Tooltip(f"{num}:Q", title="edits"), alt.Tooltip(f"{den}:Q", title="denominator"),
           alt.Tooltip("rate:Q", format=".1%"), alt.Tooltip("interval:N", title="Wilson 95%")]
    base = alt.Chart(d).encode(y=y)
    enc = {"x": alt.X("rate:Q", title=title, axis=alt.Axis(format=".0%" if d["ci_high"].max() > 0.1 else ".1%")),
           "opacity": alt.condition("datum.small_n", alt.value(0.4), alt.value(1.0)), "tooltip": tip}
    if color:
        enc["color"] = alt.Color(f"{color}:N", legend=alt.Legend(orient="bottom", labelLimit=300))
    bars = base.mark_bar().encode(**enc)
    err = base.mark_rule(color="black").encode(x="ci_low:Q", x2="ci_high:Q")
    text = base.mark_text(align="left", dx=4, fontSize=11).encode(x="ci_high:Q", text="n_label:N")
    layers = [bars, err, text]
    if reference is not None:
        layers.append(alt.Chart(pd.DataFrame({"x": [reference]})).mark_rule(color="red", strokeDash=[4, 3])
                      .encode(x="x:Q"))
    st.altair_chart(alt.layer(*layers), width="stretch", height=70 + 30 * len(d), key=key)
    small = d[d["small_n"]]
    msg = "Bars: share with its Wilson 95% interval (black line); beside each bar, edits / denominator."
    if len(small):
        msg += (f" Small n (under {data.SMALL_N} edits, faded): "
                + ", ".join(f"{c} (n = {int(n)})" for c, n in zip(small[category], small[den])) + ".")
    st.caption(msg)
    return d


# --- the view in the URL ---------------------------------------------------------------------------------------
# Every filter and threshold a page reads goes through url_value / keep: its widget starts from the URL
# (?key=value, repeated for lists), else from what the session last had (so a page switch loses nothing), else the
# default; once read, the value is written back to the URL. Every view is a shareable link.

_KEEP = "_url_keep_"


def url_value(key: str, default, kind: type = str, param: str | None = None):
    """Seed widget ``key``'s state before the widget is made (call it, then make the widget with ``key=key`` and
    no default of its own), from URL parameter ``param`` (default: the key). ``kind`` is str, int, float, bool or
    list (a list of strings)."""
    param = param or key
    if key in st.session_state:
        return st.session_state[key]
    v = default
    if param in st.query_params:
        raw = st.query_params.get_all(param)
        try:
            if kind is list:
                v = [x for x in raw if x != ""]
            elif kind is bool:
                v = raw[-1].lower() in ("1", "true", "yes", "on")
            else:
                v = kind(raw[-1])
        except (TypeError, ValueError):
            v = default
    elif st.session_state.get(_KEEP + key) is not None:
        v = st.session_state[_KEEP + key]
    st.session_state[key] = v
    return v


def keep(key: str, value, default=None, param: str | None = None) -> None:
    """Remember ``value`` for the session and put it in the URL as ``param`` (default: the key; removed from the
    URL when it is the default)."""
    param = param or key
    st.session_state[_KEEP + key] = value
    if value == default or value is None or (isinstance(value, (list, tuple)) and not value and not default):
        if param in st.query_params:
            del st.query_params[param]
        return
    if isinstance(value, (list, tuple)):
        st.query_params[param] = [str(x) for x in value]
    elif isinstance(value, bool):
        st.query_params[param] = "1" if value else "0"
    else:
        st.query_params[param] = str(value)


def explorer_link(link_text: str, /, **filters) -> None:
    """A link to the Edit explorer with ``filters`` (URL parameters of that page: dataset, part, flag, label,
    origin, safety, group, null_reason, sort, ...)."""
    qp = {k: ([str(x) for x in v] if isinstance(v, (list, tuple)) else str(v)) for k, v in filters.items()
          if v is not None and v != [] and v != ()}
    st.page_link("views/explorer.py", label=link_text, query_params=qp)


def edit_link(edit_id: str, label: str | None = None) -> None:
    st.page_link("views/edit.py", label=label or f"Open {edit_id}", query_params={"edit": edit_id})


def pager(key: str, total: int, per: int, param: str | None = None) -> int:
    """A page number for a gallery of ``total`` items, ``per`` a page (in the URL as ``param``); returns the
    offset of the page's first item."""
    n_pages = max(1, -(-int(total) // int(per)))
    if n_pages == 1:
        return 0
    url_value(key, 1, int, param=param)
    st.session_state[key] = min(max(int(st.session_state[key]), 1), n_pages)
    page = st.number_input(f"Page (of {n_pages:,}, {per} a page)", min_value=1, max_value=n_pages, step=1, key=key)
    keep(key, int(page), 1, param=param)
    return (int(page) - 1) * int(per)
