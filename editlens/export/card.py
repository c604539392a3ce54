"""The data card written beside an export (`datacard.json`, `datacard.md`): what went in and out per dataset,
part and instruction type, what each check removed and how the checks overlap, the filter's impact per
demographic slice (removal rate of edits mentioning a group against the rest, Wilson 95% intervals), the
safety categories left, and the model and thresholds used. Computed from `export_selection` and the marts;
nothing in it depends on the time or the output folder, so the same policy gives the same card."""

from __future__ import annotations

import json
import math

import duckdb

from editlens.export.policy import Policy
from editlens.export.select import Selection

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval of k successes in n trials (None, None when n = 0)."""
    if n == 0:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _rows(con, sql: str, params=None) -> list[dict]:
    return con.execute(sql, params or []).to_arrow_table().to_pylist()


def _has(con, relation: str) -> bool:
    try:
        con.execute(f"select * from {relation} limit 0")
        return True
    except duckdb.Error:
        return False


def _counts(con) -> dict:
    by_part = _rows(con, """
        select dataset, part, count(*) as n_in, count(*) filter (where kept) as n_out
        from export_selection group by all order by dataset, part""")
    by_label = _rows(con, """
        with l as (
            select x.dataset, 'derived' as origin, unnest(e.derived_labels) as label, x.kept
            from export_selection x join edits e using (edit_id)
            union all
            select x.dataset, 'provided', unnest(e.provided_labels), x.kept
            from export_selection x join edits e using (edit_id)
        )
        select dataset, origin, label, count(*) as n_in, count(*) filter (where kept) as n_out
        from l group by all order by dataset, origin, label""")
    return {"by_part": by_part, "by_label": by_label}


def _checks(con, sel: Selection) -> dict:
    cols = [c.column for c in sel.checks]
    rules = []
    for c in sel.checks:
        others = [f'"{o}"' for o in cols if o != c.column]
        only = f'"{c.column}" and not ({" or ".join(others)})' if others else f'"{c.column}"'
        n, n_only = con.execute(
            f'select count(*) filter (where "{c.column}"), count(*) filter (where {only}) from export_selection'
        ).fetchone()
        entry = {"check": c.name, "kind": c.kind, "reads": c.detail, "n_removed": n, "n_removed_only_by_this": n_only}
        if c.kind == "rule":
            (entry["n_unknown"],) = con.execute(
                f'select count(*) from export_selection x join edit_quality_flags f using (edit_id) '
                f'where f."{c.detail}" is null').fetchone()
        rules.append(entry)
    overlap = []
    for i, a in enumerate(sel.checks):
        for b in sel.checks[i + 1:]:
            (n,) = con.execute(
                f'select count(*) from export_selection where "{a.column}" and "{b.column}"').fetchone()
            overlap.append({"a": a.name, "b": b.name, "n_both": n})
    n_fail, n_session = con.execute(
        "select count(*) filter (where fails), count(*) filter (where removed_by_session) from export_selection"
    ).fetchone()
    return {"checks": rules, "overlap": overlap, "n_failing_a_check": n_fail, "n_removed_by_session": n_session}


def bias_impact(con) -> list[dict]:
    """Per demographic group (and dataset, 'all' = every dataset): removal rate of the edits mentioning the
    group against the edits that do not, each with its Wilson 95% interval."""
    rows = _rows(con, """
        with x as (
            select x.edit_id, x.dataset, not x.kept as removed, coalesce(f.demographic_groups, []) as groups
            from export_selection x join edit_quality_flags f using (edit_id)
        ),
        scope as (
            select 'all' as dataset, removed, groups from x
            union all select dataset, removed, groups from x
        ),
        grp as (select distinct unnest(groups) as demographic_group from x)
        select g.demographic_group, s.dataset,
               count(*) filter (where list_contains(s.groups, g.demographic_group)) as n_group,
               count(*) filter (where list_contains(s.groups, g.demographic_group) and s.removed) as n_group_removed,
               count(*) filter (where not list_contains(s.groups, g.demographic_group)) as n_rest,
               count(*) filter (where not list_contains(s.groups, g.demographic_group) and s.removed) as n_rest_removed
        from grp g cross join scope s
        group by g.demographic_group, s.dataset having n_group > 0
        order by g.demographic_group, s.dataset <> 'all', s.dataset""")
    for r in rows:
        for side in ("group", "rest"):
            n, k = r[f"n_{side}"], r[f"n_{side}_removed"]
            lo, hi = wilson(k, n)
            r[f"{side}_removal_rate"] = _r(k / n) if n else None
            r[f"{side}_ci95"] = [_r(lo), _r(hi)]
        g, o = r["group_removal_rate"], r["rest_removal_rate"]
        r["rate_ratio"] = _r(g / o) if g is not None and o else None
        glo, ghi = r["group_ci95"]
        olo, ohi = r["rest_ci95"]
        r["intervals_overlap"] = None if None in (glo, olo) else bool(glo <= ohi and olo <= ghi)
    return rows


def _safety(con) -> list[dict]:
    if not _has(con, "safety_flagged_edits"):
        return []
    return _rows(con, """
        select c.category, count(*) as n_in, count(*) filter (where x.kept) as n_left
        from (select edit_id, unnest(categories) as category from safety_flagged_edits) c
        join export_selection x using (edit_id)
        group by all order by category""")


def impact(con: duckdb.DuckDBPyConnection, policy: Policy, sel: Selection) -> dict:
    """Everything the card says about the policy's effect (the dashboard's policy page shows the same)."""
    return {
        "policy": {"name": policy.name, "description": policy.description, "sha256": policy.sha256,
                   "multi_turn": policy.multi_turn, "unscored": policy.unscored, "text": policy.source_text},
        "model": {"model_key": sel.model_key, "model_name": sel.model_name,
                  "thresholds": [{"score": t.score, "op": t.op, "value": t.value} for t in policy.require]},
        "totals": {"n_in": sel.n_in, "n_out": sel.n_kept, "n_removed": sel.n_in - sel.n_kept},
        "counts": _counts(con),
        "removals": _checks(con, sel),
        "bias_impact": bias_impact(con),
        "safety_left": _safety(con),
    }


def build_card(con: duckdb.DuckDBPyConnection, policy: Policy, sel: Selection, *, fmt: str, images: str,
               files: list[str], n_images: int) -> dict:
    card = impact(con, policy, sel)
    export = {"format": fmt, "images": images, "files": files, "n_images_copied": n_images}
    return {"policy": card.pop("policy"), "model": card.pop("model"), "export": export, **card}


def card_json(card: dict) -> str:
    return json.dumps(card, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def card_markdown(card: dict) -> str:
    p, m, t = card["policy"], card["model"], card["totals"]
    out = [f"# Data card: {p['name']}", ""]
    if p["description"]:
        out += [p["description"], ""]
    out += [f"Policy sha256 `{p['sha256'][:16]}`; multi-turn: {p['multi_turn']}; unscored edits: {p['unscored']}.",
            (f"Format `{card['export']['format']}`, images {card['export']['images']} "
            f"({card['export']['n_images_copied']} copied)."), "",
            f"**{t['n_out']:,} of {t['n_in']:,} edits kept** ({t['n_removed']:,} removed).", ""]
    if m["model_key"]:
        out += [f"Scores read: model `{m['model_name']}` (key `{m['model_key']}`)."]
        out += [f"- {th['score']} {th['op']} {th['value']:g}" for th in m["thresholds"]] + [""]
    out += ["## Counts per dataset and part", "", "| dataset | part | in | out | kept |", "|---|---|---:|---:|---:|"]
    out += [f"| {r['dataset']} | {r['part']} | {r['n_in']:,} | {r['n_out']:,} | {_pct(r['n_out'] / r['n_in'])} |"
            for r in card["counts"]["by_part"]]
    out += ["", "## Counts per instruction type", "", "| dataset | origin | label | in | out |", "|---|---|---|---:|---:|"]
    out += [f"| {r['dataset']} | {r['origin']} | {r['label']} | {r['n_in']:,} | {r['n_out']:,} |"
            for r in card["counts"]["by_label"]]
    rem = card["removals"]
    out += ["", "## Removals per check", "",
            ("An edit can fail several checks; 'only' counts the edits no other check removes. "
            "Unknown: the flag is null for the edit (not removed)."), "",
            "| check | reads | removed | only | unknown |", "|---|---|---:|---:|---:|"]
    out += [f"| {c['check']} | `{c['reads']}` | {c['n_removed']:,} | {c['n_removed_only_by_this']:,} | "
            f"{c.get('n_unknown', '-')} |" for c in rem["checks"]]
    out += ["", (f"Failing any check: {rem['n_failing_a_check']:,}; removed with their session "
                f"({p['multi_turn']}): {rem['n_removed_by_session']:,}.")]
    if rem["overlap"]:
        out += ["", "Overlap (edits failing both):", "", "| a | b | both |", "|---|---|---:|"]
        out += [f"| {o['a']} | {o['b']} | {o['n_both']:,} |" for o in rem["overlap"]]
    out += ["", "## Filter impact per demographic slice", "",
            "Removal rate of the edits mentioning the group against the other edits, Wilson 95% intervals.", "",
            "| group | dataset | mentioning | removed | rate (95% CI) | rest | removed | rate (95% CI) | ratio |",
            "|---|---|---:|---:|---|---:|---:|---|---:|"]
    for r in card["bias_impact"]:
        def ci(side, r=r):
            lo, hi = r[f"{side}_ci95"]
            return f"{_pct(r[f'{side}_removal_rate'])} ({_pct(lo)}-{_pct(hi)})"
        ratio = "-" if r["rate_ratio"] is None else f"{r['rate_ratio']:.2f}"
        out.append(f"| {r['demographic_group']} | {r['dataset']} | {r['n_group']:,} | {r['n_group_removed']:,} | "
                   f"{ci('group')} | {r['n_rest']:,} | {r['n_rest_removed']:,} | {ci('rest')} | {ratio} |")
    if not card["bias_impact"]:
        out.append("| (no edit mentions a demographic group) | | | | | | | | |")
    out += ["", "## Safety categories left", "", "| category | flagged in | left |", "|---|---:|---:|"]
    out += [f"| {r['category']} | {r['n_in']:,} | {r['n_left']:,} |" for r in card["safety_left"]]
    if not card["safety_left"]:
        out.append("| (no safety-flagged edit) | | |")
    out += ["", "## Policy file", "", "```yaml", p["text"].rstrip("\n"), "```", ""]
    return "\n".join(out)
