"""Protocol scores of editing models' outputs (embed's prediction stage): MagicBrush against the target, Emu Edit
against the source; formulas equal hand-computed values; outputs that are known transformations of the targets
rank as the transformations imply; unreadable outputs counted."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editlens.embeddings.encoder import Encoder, device_settings
from editlens.embeddings.main import EmbedConfig, run_embed
from editlens.embeddings.models import load_model
from editlens.embeddings.predictions import model_input, pixel_distances
from editlens.ingest.predictions import PredictionsConfig, run_predictions
from editlens.warehouse import Warehouse
from tests.fixtures_ingest import ingest, table
from tests.fixtures_predictions import blurred_outputs, magicbrush_test, target


def test_pixel_distances_equal_hand_computed_values():
    # half black / half white target against a uniform 0.2 grey: |d| is 0.2 on one half, 0.8 on the other
    tgt = np.zeros((4, 4, 3), dtype=np.uint8)
    tgt[:, 2:] = 255
    l1, l2 = pixel_distances(Image.new("RGB", (4, 4), (51, 51, 51)), Image.fromarray(tgt))
    assert l1 == pytest.approx(0.5, abs=1e-6) and l2 == pytest.approx(0.34, abs=1e-6)
    # an 8x8 uniform prediction resized to a 4x4 black target stays uniform: (0.2 + 0.4 + 0.6) / 3, squares too
    l1, l2 = pixel_distances(Image.new("RGB", (8, 8), (51, 102, 153)), Image.new("RGB", (4, 4)))
    assert l1 == pytest.approx(0.4, abs=1e-6) and l2 == pytest.approx((0.04 + 0.16 + 0.36) / 3, abs=1e-6)
    # MagicBrush's recipe written out: Pillow's default filter, [0, 1] RGB, mean over every value
    rng = np.random.default_rng(0)
    p = Image.fromarray(rng.integers(0, 256, (10, 14, 3), dtype=np.uint8))
    t = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    d = np.asarray(p.resize(t.size), dtype=np.float64) / 255 - np.asarray(t, dtype=np.float64) / 255
    assert pixel_distances(p, t) == pytest.approx((np.abs(d).mean(), (d ** 2).mean()), abs=1e-12)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    base = tmp_path_factory.mktemp("pred")
    root = magicbrush_test(base / "downloads")
    wh = Warehouse.at(base / "wh")
    ingest(base / "downloads", wh.root, workers=1)
    outs = {"exact": blurred_outputs(root, base / "exact", 0),
            "mild": blurred_outputs(root, base / "mild", 1.0, size=48),
            "strong": blurred_outputs(root, base / "strong", 4.0, skip={("1002", 2, "inde")})}
    f = outs["strong"] / "1004" / "1004_1.png"
    f.write_bytes(f.read_bytes()[:300])  # cut short: unreadable
    for name, d in outs.items():
        run_predictions(PredictionsConfig(wh, name, d, "magicbrush"))
    s = run_embed(EmbedConfig(warehouse=wh, progress=False, workers=0, streams=1, threads=1))
    preds = {r["prediction_id"]: r for r in table(wh.root, "predictions")}
    rows = [dict(r, **{"model": preds[r["prediction_id"]]["model_name"], "pred": preds[r["prediction_id"]]})
            for r in table(wh.root, "prediction_scores")]
    return root, wh, s, rows


def test_every_output_scored_once_and_unreadable_counted(scored):
    _, wh, s, rows = scored
    # 3 models x 6 turns x 2 settings = 36 rows; strong misses one: 35 with an output
    assert s.predictions_scored == 35 == len(rows)
    assert len({(r["prediction_id"], r["model_key"]) for r in rows}) == 35
    bad = [r for r in rows if r["status"] != "ok"]
    assert [(r["model"], r["pred"]["benchmark_key"], r["status"]) for r in bad] == [("strong", "1004", "truncated")] * 2
    assert all(r["null_reason"] == "output_truncated" for r in bad)
    assert all(r["l1"] is None and r["clip_i"] is None for r in bad)
    assert all(r["protocol"] == "magicbrush" for r in rows)
    # a rerun scores nothing again
    again = run_embed(EmbedConfig(warehouse=wh, progress=False, workers=0, streams=1, threads=1))
    assert again.predictions_scored == 0


def test_scores_equal_the_formulas(scored):
    root, _, _, rows = scored
    loaded = load_model()
    enc = Encoder(loaded, device_settings("cpu"))
    pp = loaded.spec.preprocess
    exact = [r for r in rows if r["model"] == "exact"]
    assert all(r["l1"] == 0 and r["l2"] == 0 for r in exact)
    assert all(r["clip_i"] == pytest.approx(1.0, abs=1e-6) for r in exact)
    for r in [r for r in rows if r["model"] == "mild"][:4]:
        p = r["pred"]
        out = Image.open(f"{p['root']}/{p['path']}").convert("RGB")
        tgt = target(root, p["benchmark_key"], p["turn_index"])
        d = np.asarray(out.resize(tgt.size), dtype=np.float64) / 255 - np.asarray(tgt, dtype=np.float64) / 255
        assert r["l1"] == pytest.approx(np.abs(d).mean(), abs=1e-6)
        assert r["l2"] == pytest.approx((d ** 2).mean(), abs=1e-6)
        e = enc.images(np.stack([model_input(pp, out), model_input(pp, tgt)])).astype(np.float64)
        assert r["clip_i"] == pytest.approx(float(e[0] @ e[1]), abs=1e-6)
        local = "a red hat" if p["turn_index"] == 1 else "black and white"
        assert r["clip_t"] == pytest.approx(float(e[0] @ enc.texts([local])[0].astype(np.float64)), abs=1e-6)


def test_blur_strength_ranks_the_models(scored):
    _, _, _, rows = scored
    mean = {}
    for m in ("exact", "mild", "strong"):
        ok = [r for r in rows if r["model"] == m and r["status"] == "ok"]
        mean[m] = {k: np.mean([r[k] for r in ok]) for k in ("l1", "l2", "clip_i")}
    assert mean["exact"]["l1"] < mean["mild"]["l1"] < mean["strong"]["l1"]
    assert mean["exact"]["l2"] < mean["mild"]["l2"] < mean["strong"]["l2"]
    assert mean["exact"]["clip_i"] > mean["mild"]["clip_i"] > mean["strong"]["clip_i"]


def test_emu_edit_protocol_scores_against_the_source(tmp_path):
    import pyarrow as pa

    from tests.fixtures_ingest import write_parquet
    from tests.fixtures_predictions import photo, png

    def col(blobs):
        return pa.array([{"bytes": b, "path": None} for b in blobs],
                        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))

    src = [photo(i) for i in range(2)]
    write_parquet(tmp_path / "downloads/emu_edit_test_set/data/test-00000-of-00001.parquet", {
        "instruction": ["add a hat", "make it snowy"], "image": col([png(s) for s in src]), "task": ["add", "style"],
        "split": ["test"] * 2, "idx": [0, 1], "hash": ["h0", "h1"],
        "input_caption": ["a man", "a street"], "output_caption": ["a man with a hat", "a snowy street"]})
    wh = Warehouse.at(tmp_path / "wh")
    ingest(tmp_path / "downloads", wh.root, workers=1)
    out = [photo(7), src[1]]
    gen = write_parquet(tmp_path / "gens/test.parquet", {"idx": [0, 1], "edited_image": col([png(o) for o in out])})
    run_predictions(PredictionsConfig(wh, "m", gen, "emu-edit"))
    run_embed(EmbedConfig(warehouse=wh, progress=False, workers=0, streams=1, threads=1))
    preds = {r["prediction_id"]: r["benchmark_key"] for r in table(wh.root, "predictions")}
    rows = {preds[r["prediction_id"]]: r for r in table(wh.root, "prediction_scores")}
    assert {r["protocol"] for r in rows.values()} == {"emu-edit"}
    same = rows["1"]  # the output is the source itself
    assert same["l1"] == 0 and same["clip_i"] == pytest.approx(1.0, abs=1e-6)
    assert same["directional_caption"] is None and same["null_reason"] == "identical_image_embeddings"
    loaded = load_model()
    enc = Encoder(loaded, device_settings("cpu"))
    pp = loaded.spec.preprocess
    e = enc.images(np.stack([model_input(pp, out[0]), model_input(pp, src[0])])).astype(np.float64)
    t = enc.texts(["a man with a hat", "a man"]).astype(np.float64)
    r = rows["0"]
    assert r["clip_i"] == pytest.approx(float(e[0] @ e[1]), abs=1e-6)
    assert r["clip_t"] == pytest.approx(float(e[0] @ t[0]), abs=1e-6)
    di, dt = e[0] - e[1], t[0] - t[1]
    assert r["directional_caption"] == pytest.approx(float(di @ dt / np.linalg.norm(di) / np.linalg.norm(dt)),
                                                     abs=1e-6)
    assert r["l1"] == pytest.approx(pixel_distances(out[0], src[0])[0], abs=1e-12)


def test_dino_from_a_local_weights_file(tmp_path):
    import timm
    import torch

    from editlens.embeddings.dino import load_dino

    torch.manual_seed(0)
    weights = tmp_path / "dino_deitsmall16_pretrain.pth"
    torch.save(timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0).state_dict(), weights)
    root = magicbrush_test(tmp_path / "downloads")
    wh = Warehouse.at(tmp_path / "wh")
    ingest(tmp_path / "downloads", wh.root, workers=1)
    run_predictions(PredictionsConfig(wh, "exact", blurred_outputs(root, tmp_path / "exact", 0), "magicbrush"))
    run_predictions(PredictionsConfig(wh, "mild", blurred_outputs(root, tmp_path / "mild", 2.0), "magicbrush"))
    run_embed(EmbedConfig(warehouse=wh, progress=False, workers=0, streams=1, threads=1, dino_weights=weights))
    preds = {r["prediction_id"]: r for r in table(wh.root, "predictions")}
    rows = table(wh.root, "prediction_scores")
    assert all(r["dino_model"].startswith("dino_vits16 dino_deitsmall16_pretrain.pth ") for r in rows)
    exact = [r for r in rows if preds[r["prediction_id"]]["model_name"] == "exact"]
    assert all(r["dino"] == pytest.approx(1.0, abs=1e-6) for r in exact)
    dino = load_dino(weights)
    r = next(r for r in rows if preds[r["prediction_id"]]["model_name"] == "mild")
    p = preds[r["prediction_id"]]
    out = Image.open(f"{p['root']}/{p['path']}").convert("RGB")
    e = dino.embed([out, target(root, p["benchmark_key"], p["turn_index"])]).astype(np.float64)
    assert r["dino"] == pytest.approx(float(e[0] @ e[1]), abs=1e-6) and r["dino"] < 1 - 1e-6


def test_dino_weights_that_are_not_there_exit_2(tmp_path):
    from editlens.cli import main

    wh = tmp_path / "wh"
    magicbrush_test(tmp_path / "downloads")
    ingest(tmp_path / "downloads", wh, workers=1)
    assert main(["embed", "--warehouse", str(wh), "--dino-weights", str(tmp_path / "nope.pth"),
                 "--no-progress"]) == 2
