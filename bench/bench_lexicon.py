"""Precision of the demographic and safety lexicons on real text, before and after the word-sense guard.

Runs the real dbt models (seeds -> stg_editlens__edits -> int_demographic_mentions, int_safety_mentions) on a
throw-away warehouse holding the records of ../shared/data/seed-part2-dev.jsonl (SEED-Data-Edit Part-2
instructions) as `edits`, twice: with the guard off (`lexicon_sense_guard: false`, every lexicon hit) and on.
The hand-labelled hits in tests/data/lexicon_hits_labelled.csv (line of the file, term, whether the
instruction really refers to the group or category) give the precision per group: before = share of labelled
hits that are true; after = share of the labelled hits the guard keeps that are true; `lost` = true hits the
guard cancelled. Hits are (instruction, term) pairs. Every labelled hit must be among the unguarded hits (else
the lexicon and the labels disagree: reported, exit 1). Exits 1 when a group with at least --min-n labelled hits stays below
--target (0.9) after the guard; skips (exit 0) when the data file is absent.

The labels: every non-gender hit and, of the gender hits, a random 60 (seed 16) plus every hard case screened
(gender terms other than man/woman/girl/boy/men/women, hyphenated or title contexts such as "spider-man"), each
read by hand. The guard's contexts were written reading these hits, so "after" is in-sample; the rest of the
Part-2 file, unread, is the independent check.

    .venv/bin/python bench/bench_lexicon.py [--data PATH] [--labels CSV] [--target 0.9] [--min-n 10]
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
from common import DEFAULT_DATA, REPO, edits_table, load_records

from editlens.build import BuildConfig, dbt_command
from editlens.warehouse import Warehouse, atomic_write_table

DEFAULT_LABELS = REPO / "tests" / "data" / "lexicon_hits_labelled.csv"
HITS_SQL = """
    select 'demographic', demographic_group, edit_id, term
    from int_demographic_mentions where field = 'instruction'
    union all
    select 'safety', category, edit_id, term from int_safety_mentions
"""


def build_hits(wh: Warehouse, guard: bool, first: bool) -> set[tuple[str, str, int, str]]:
    select = ["+int_demographic_mentions", "+int_safety_mentions"] if first else [
        "int_demographic_mentions", "int_safety_mentions"]
    cmd, env = dbt_command(BuildConfig(warehouse=wh, command="run", dbt_args=[
        "--select", *select, "--quiet",
        "--vars", json.dumps({"export_marts": False, "lexicon_sense_guard": guard})]))
    if first:
        seed_cmd, _ = dbt_command(BuildConfig(warehouse=wh, command="seed", dbt_args=["--quiet"]))
        subprocess.run(seed_cmd, env=env, check=True, cwd=str(REPO))
    subprocess.run(cmd, env=env, check=True, cwd=str(REPO))
    con = duckdb.connect(str(wh.duckdb_path), read_only=True)
    try:
        return {(lex, grp, int(eid, 16), term) for lex, grp, eid, term in con.sql(HITS_SQL).fetchall()}
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    ap.add_argument("--target", type=float, default=0.9)
    ap.add_argument("--min-n", type=int, default=10)
    ap.add_argument("--record", action="store_true",
                    help="write the figures to bench/results/lexicon.json (then `python bench/results.py`)")
    a = ap.parse_args(argv)
    if not a.data.is_file():
        print(f"skipped: {a.data} not found")
        return 0
    records = load_records(a.data)
    with a.labels.open(encoding="utf-8", newline="") as f:
        labels = list(csv.DictReader(f))
    with tempfile.TemporaryDirectory(prefix="bench-lexicon-") as tmp:
        wh = Warehouse.at(tmp).ensure()
        atomic_write_table(edits_table(records), wh.shard_path("edits", "part2-dev"))
        before = build_hits(wh, guard=False, first=True)
        after = build_hits(wh, guard=True, first=False)
    rc = 0
    missing = [r for r in labels if (r["lexicon"], r["group"], int(r["line"]), r["term"]) not in before]
    if missing:
        print(f"{len(missing)} labelled hits are not lexicon hits, e.g. {missing[:3]}")
        rc = 1
    n_all = collections.Counter((lex, grp) for lex, grp, _, _ in before)
    n_kept_all = collections.Counter((lex, grp) for lex, grp, _, _ in after)
    print(f"data: {a.data} ({len(records)} instructions); labels: {a.labels.name} ({len(labels)} hits)")
    print(f"hits (instruction x term), every hit: {len(before)}, after the guard: {len(after)}")
    print("| lexicon | group | hits | after guard | labelled n | true | P before | kept | true kept | P after "
          "| true lost |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    groups = sorted({(r["lexicon"], r["group"]) for r in labels})
    table = []
    for lex, grp in groups:
        rows = [r for r in labels if (r["lexicon"], r["group"]) == (lex, grp)]
        n = len(rows)
        n_true = sum(r["is_true"] == "1" for r in rows)
        kept = [r for r in rows if (lex, grp, int(r["line"]), r["term"]) in after]
        k_true = sum(r["is_true"] == "1" for r in kept)
        p_before = n_true / n
        p_after = k_true / len(kept) if kept else float("nan")
        note = "" if n >= a.min_n else " (few hits)"
        print(f"| {lex} | {grp}{note} | {n_all[(lex, grp)]} | {n_kept_all[(lex, grp)]} | {n} | {n_true} | "
              f"{p_before:.3f} | {len(kept)} | {k_true} | {p_after:.3f} | {n_true - k_true} |")
        table.append({"lexicon": lex, "group": grp, "hits": n_all[(lex, grp)], "after_guard": n_kept_all[(lex, grp)],
                      "labelled": n, "true": n_true, "p_before": p_before, "kept": len(kept), "true_kept": k_true,
                      "p_after": p_after, "true_lost": n_true - k_true})
        if n >= a.min_n and not p_after >= a.target:
            rc = 1
    if a.record:
        from bench.results import record

        big = [t for t in table if t["labelled"] >= a.min_n]
        lost = sum(t["true_lost"] for t in table)
        record("lexicon", stage="dbt (demographic and safety lexicons)",
               measured=f"precision of int_demographic_mentions and int_safety_mentions (the real dbt models) on the "
                        f"{len(records)} real SEED-Data-Edit Part-2 instructions, hits (instruction x term) against "
                        f"the {len(labels)} hand-labelled hits of {a.labels.name}, with the word-sense guard off "
                        "(the same-run baseline: every lexicon hit) and on; the guard's contexts were written reading "
                        "these hits (in-sample)",
               result=(f"{len(before)} hits, {len(after)} after the guard; in the {len(big)} groups with >= {a.min_n} "
                       f"labelled hits precision {min(t['p_before'] for t in big):.3f}-"
                       f"{max(t['p_before'] for t in big):.3f} before the guard, "
                       f"{min(t['p_after'] for t in big):.3f}-{max(t['p_after'] for t in big):.3f} after; "
                       f"{lost} true hits lost" if big else f"{len(before)} hits; no group has {a.min_n} labelled hits"),
               target=f"precision >= {a.target} after the guard in groups with >= {a.min_n} labelled hits",
               met="yes" if rc == 0 else "no",
               notes="per group (lexicon/group: labelled n, P before -> P after, true lost): " + "; ".join(
                   f"{t['lexicon']}/{t['group']}: {t['labelled']}, {t['p_before']:.3f} -> {t['p_after']:.3f}, "
                   f"{t['true_lost']}" for t in table),
               figures={"groups": table, "hits": len(before), "hits_after_guard": len(after)})
    return rc


if __name__ == "__main__":
    sys.exit(main())
