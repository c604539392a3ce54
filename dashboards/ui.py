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
    """The image locations of every source and target in ``df``, in one lookup (pass to edit_card)."""
    ids = []
    for c in ("source_image_id", "target_image_id"):
        if c in df.columns:
            ids += [i for i in df[c].tolist() if isinstance(i, str)]
    # the edits' datasets and parts narrow the lookup until the warm-up has indexed it
    hint = {c: df[c].dropna().unique().tolist() if c in df.columns else [] for c in ("dataset", "part")}
    return data.image_refs(m, ids, hint["dataset"], hint["part"])


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


def edit_card(
    m: data.Marts,
    row: dict,
    *,
    blur: bool = False,
    show_scores: Sequence[str] = (),
    extra: Sequence[str] = (),
    refs: dict | None = None,
) -> None:
    """One edit side by side: source | target | instruction | scores."""
    c1, c2, c3 = st.columns([1, 1, 3])
    src, tgt = thumbs(m, [row.get("source_image_id"), row.get("target_image_id")], blur=blur, refs=refs)
    c1.image(src, caption="source", width=200)
    c2.image(tgt, caption="target", width=200)
    with c3:
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
            lines.append(f"{c.replace('_', ' ')}: **{score(v) if isinstance(v, float) else v}**")
        if lines:
            st.markdown("  \n".join(lines))


def denominator_note(n: int, what: str) -> None:
    st.caption(f"Denominator: {num(n)} {what}.")


def table(df: pd.DataFrame, key: str, fmt: dict | None = None) -> None:
    """A dataframe inside a keyed container (so tests and the browser can find it by ``key``)."""
    with st.container(key=key):
        st.dataframe(df.style.format(fmt, na_rep="–") if fmt else df, hide_index=True)


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
    s = str(name).removeprefix("is_").removeprefix("has_").removeprefix("n_").replace("_", " ")
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
