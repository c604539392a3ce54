"""sample -> ingest -> embed -> dbt build: quality flags against the sample generator's ground truth, on the
sample the demo generates (2,000 edits, seed 0; thresholds are never tuned on it: the misaligned thresholds,
`misaligned_directional_instruction` and `misaligned_max_clip_i`, were chosen on samples with seeds 11, 21, 33, 77
and 78).

Joins `ground_truth.jsonl` rows to the `edits` mart on (part, source_file, source_record, turn_index) and checks
precision and recall of each flag (issue 5): >= 0.95 for no-op, broken or missing images, duplicates,
demographic and unsafe term mentions; >= 0.9 for misaligned with the bundled model.
"""

from __future__ import annotations

import duckdb
import pytest

pytestmark = pytest.mark.slow

FLAG_OF = {
    "noop": ("is_noop", ["noop"]),
    "broken_image": ("has_broken_image", ["missing_image", "truncated_image"]),
    "duplicate_pair": ("is_duplicate_pair", ["duplicate_pair"]),
    "demographic_term": ("mentions_demographic_term", ["demographic_term"]),
    "unsafe_term": ("mentions_unsafe_term", ["unsafe_term"]),
}


@pytest.fixture(scope="module")
def gt_con(pipeline):
    from editlens.demo import DemoConfig

    demo = DemoConfig.__dataclass_fields__  # the sample `editlens demo` generates: 2,000 edits, seed 0
    p = pipeline(demo["n_edits"].default, demo["seed"].default)
    wh = p.build()
    con = duckdb.connect(str(wh.duckdb_path), read_only=True)
    rows = p.truth()
    con.execute("create temp table gt (defect varchar, part varchar, source_file varchar, source_record bigint, "
                "turn_index integer)")
    con.executemany("insert into gt values (?, ?, ?, ?, ?)",
                    [[r["defect"], r["part"], r["source_file"], r["source_record"], r["turn_index"] or 1]
                     for r in rows])
    con.execute("""create temp table truth as
                   select e.edit_id, gt.defect from gt join edits e using (part, source_file, source_record, turn_index)""")
    yield con
    con.close()


def _precision_recall(con, flag: str, defects: list[str], unscored: tuple[str, ...] = ()):
    """(TP, FP, FN) of `flag` against the edits with one of `defects`; edits with an `unscored` defect count
    neither way."""
    ds = ", ".join(f"'{d}'" for d in defects)
    skip = ", ".join(f"'{d}'" for d in unscored) or "null"
    tp, fp, fn = con.sql(f"""
        with t as (select distinct edit_id from truth where defect in ({ds})),
             f as (select edit_id from edit_quality_flags where {flag}
                   and edit_id not in (select edit_id from truth where defect in ({skip})))
        select (select count(*) from f semi join t using (edit_id)),
               (select count(*) from f anti join t using (edit_id)),
               (select count(*) from t anti join f using (edit_id))""").fetchone()
    return tp, fp, fn


def test_every_loadable_defect_row_joins_an_edit(gt_con):
    missing = gt_con.sql("""select defect, count(*) from gt anti join edits using (part, source_file, source_record,
                              turn_index) where defect <> 'malformed_line' group by 1""").fetchall()
    assert missing == []


@pytest.mark.parametrize("name", sorted(FLAG_OF))
def test_flag_matches_ground_truth(gt_con, name):
    flag, defects = FLAG_OF[name]
    tp, fp, fn = _precision_recall(gt_con, flag, defects)
    assert tp >= 3, (name, tp, fp, fn)
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95, (name, tp, fp, fn)


# The demographic/unsafe defects append a clause to the true instruction ("..., and add a gun next to the red
# star") that the images never show: such an instruction is neither right nor wholly wrong, so the misaligned flag
# is scored on the other edits (clean ones are its negatives, wrong instructions its positives); the flag's hits
# on those ambiguous edits are reported by the second test (5 / 120 flagged with stage 11).
AMBIGUOUS_FOR_MISALIGNED = ("demographic_term", "unsafe_term")


def test_misaligned_matches_wrong_instructions(gt_con):
    # measured with the bundled stage-11 weights: 54 / 2 / 6 (P 0.964, R 0.900); without the resolution floor
    # (misaligned_max_clip_i) and at the former threshold 0.1: 52 / 6 / 8
    tp, fp, fn = _precision_recall(gt_con, "is_misaligned", ["wrong_instruction"], AMBIGUOUS_FOR_MISALIGNED)
    print(f"misaligned vs wrong instructions: TP {tp} FP {fp} FN {fn}")
    assert tp >= 30, (tp, fp, fn)
    assert tp / max(1, tp + fp) >= 0.9 and tp / max(1, tp + fn) >= 0.9, (tp, fp, fn)


def test_changes_below_the_model_resolution_are_not_judged(gt_con):
    """Edits whose CLIP-I reaches `misaligned_max_clip_i` carry `is_change_below_resolution` and are never
    flagged misaligned; the scorecard counts them."""
    cap = gt_con.sql("select value from thresholds where name = 'misaligned_max_clip_i'").fetchone()[0]
    n_below, n_cap, n_bad = gt_con.sql(f"""
        select count(*) filter (where is_change_below_resolution), count(*) filter (where clip_i >= {cap}),
               count(*) filter (where is_misaligned and clip_i >= {cap})
        from edit_quality_flags""").fetchone()
    assert n_below == n_cap and n_below > 0 and n_bad == 0, (n_below, n_cap, n_bad)
    assert gt_con.sql("select sum(n_change_below_resolution) from dataset_scorecard").fetchone()[0] == n_below


def test_misaligned_on_instructions_with_an_unrealised_clause(gt_con):
    """Reported, not a target: how often the flag fires on the ambiguous edits (an injected clause the images
    never show). Bounded, so that the flag does not fire on most of them."""
    flagged, total = gt_con.sql(f"""
        select count(*) filter (where f.is_misaligned), count(*)
        from (select distinct edit_id from truth where defect in {AMBIGUOUS_FOR_MISALIGNED}) t
        join edit_quality_flags f using (edit_id)""").fetchone()
    print(f"misaligned flag on edits with an injected clause: {flagged} / {total}")
    assert total >= 30 and flagged <= total // 2, (flagged, total)
