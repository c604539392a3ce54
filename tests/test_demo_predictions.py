"""The demo's second step: two demo editing models on the sample's held-out (Part-2) edits, their defects
injected at two rates, registered as mapping files; every held-out edit is an output or counted missing."""

from __future__ import annotations

from editlens import sample
from editlens.ingest.predictions import PredictionsConfig, run_predictions
from editlens.sample.predictions import DEMO_MODELS, HELD_OUT_PART, write_demo_outputs
from editlens.warehouse import Warehouse
from tests.fixtures_ingest import ingest, table


def test_demo_models_cover_the_held_out_edits(tmp_path):
    sample.generate(tmp_path / "sample", n_edits=200, seed=3)
    wh = Warehouse.at(tmp_path / "wh")
    ingest(tmp_path / "sample", wh.root, workers=1)
    held_out = {e["edit_id"] for e in table(wh.root, "edits") if e["part"] == HELD_OUT_PART and e["target_image_id"]}
    assert len(held_out) >= 30
    outs = write_demo_outputs(wh, tmp_path / "outs", seed=3)
    assert outs.n_edits == len(held_out)
    a, b = (outs.defects[m.name] for m in DEMO_MODELS)
    assert sum(a.values()) == sum(b.values()) == len(held_out)
    assert a["none"] > b["none"]  # the lower rate leaves more outputs untouched
    for m in DEMO_MODELS:
        s = run_predictions(PredictionsConfig(wh, m.name, outs.mappings[m.name], "seed-data-edit",
                                              layout="mapping", part=HELD_OUT_PART))
        assert s.expected == len(held_out)
        no_output = outs.defects[m.name]["missing"] + outs.defects[m.name]["unreadable_input"]
        assert s.counts.get("missing", 0) == no_output
        assert s.counts["ok"] == len(held_out) - no_output
        assert "unmatched" not in s.counts
    # the same seed gives the same outputs
    again = write_demo_outputs(wh, tmp_path / "outs2", seed=3)
    assert again.defects == outs.defects
