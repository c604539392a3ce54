"""The label benchmarks' shared opening. `python bench/<script>.py` puts bench/ on the path, not the checkout:
importing this module first puts the checkout there too, so `editlens`, `bench.*` and `training.*` import from
this tree. It also holds what those scripts share: the real SEED-Data-Edit Part-2 reference file they read by
default and its records (`training.taxonomy_model`'s), the `edits` table (contract schema) a throw-away warehouse
gets from them, and per-label counts."""

from __future__ import annotations

import collections
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402

from training.taxonomy_model import DEFAULT_DATA, load_records  # noqa: E402, F401 - shared with the trainer


def per_label(gold: list[set[str]], pred: list[set[str]]) -> dict[str, list[int]]:
    """[true positives, false positives, false negatives] per label over paired label sets."""
    per: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for g, p in zip(gold, pred):
        for lab in p & g:
            per[lab][0] += 1
        for lab in p - g:
            per[lab][1] += 1
        for lab in g - p:
            per[lab][2] += 1
    return per


def edits_table(records: list[dict]) -> pa.Table:
    """Part-2 records as `edits` rows: edit_id = the line's 0-based index in 16 hex digits, `task_type` as the
    provided labels."""
    n = len(records)
    s = pa.string()
    return pa.table({
        "edit_id": pa.array([f"{i:016x}" for i in range(n)], s),
        "dataset": pa.array(["seed-data-edit"] * n, s), "part": pa.array(["part2"] * n, s),
        "split": pa.array(["dev"] * n, s), "session_id": pa.nulls(n, s),
        "turn_index": pa.array([1] * n, pa.int32()),
        "source_image_id": pa.array([f"s{i}" for i in range(n)], s),
        "target_image_id": pa.array([f"t{i}" for i in range(n)], s), "mask_image_id": pa.nulls(n, s),
        "instruction": pa.array([r.get("instruction") or "" for r in records], s),
        "instruction_ori": pa.nulls(n, s), "source_caption": pa.nulls(n, s), "target_caption": pa.nulls(n, s),
        "provided_labels": pa.array([list(r.get("task_type") or []) for r in records], pa.list_(s)),
        "provided_scores": pa.nulls(n, s), "extra": pa.array(["{}"] * n, s),
        "source_file": pa.array(["seed-part2-dev.jsonl"] * n, s),
        "source_record": pa.array(range(1, n + 1), pa.int64()), "ingest_run_id": pa.array(["bench"] * n, s),
    })
