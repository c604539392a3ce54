"""The bundled `editlens-tiny` model: committed weights load through open_clip and their scores mean something
on shapes-world pairs the model never saw."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from editlens.embeddings import tiny
from training.tiny.evaluate import EvalConfig, embed_images, evaluate, roc_auc

MAX_WEIGHTS_BYTES = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def loaded():
    torch.set_num_threads(2)
    if not tiny.WEIGHTS_PATH.is_file():
        pytest.fail(f"committed weights missing: {tiny.WEIGHTS_PATH}")
    return tiny.load()


@pytest.fixture(scope="module")
def metrics(loaded):
    model, preprocess, tokenizer = loaded
    # seed 4242: never used in training (the two training stages draw from iter_pairs seeds 0 and 1)
    return evaluate(model, preprocess, tokenizer, EvalConfig(n=200, seed=4242, threads=2))


def test_roc_auc_matches_hand_counts():
    assert roc_auc([3, 4], [1, 2]) == 1.0
    assert roc_auc([1, 2], [3, 4]) == 0.0
    assert roc_auc([1, 1], [1, 1]) == 0.5  # ties count one half
    # 3 x 2 pairs by hand: 2>1, 2<3, 5>1, 5>3, 3>1, 3=3 (one half) -> 4.5 of 6
    assert roc_auc([2, 5, 3], [1, 3]) == pytest.approx(4.5 / 6)
    with pytest.raises(ValueError):
        roc_auc([], [1.0])


def test_weights_file_is_small_and_fp16():
    from safetensors import safe_open

    assert tiny.WEIGHTS_PATH.stat().st_size <= MAX_WEIGHTS_BYTES
    with safe_open(str(tiny.WEIGHTS_PATH), "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
        meta = json.loads(f.metadata()["editlens_tiny_training"])
    assert dtypes == {torch.float16}
    assert meta["steps"] > 0 and "seed" in meta  # the run is recorded in the file (see TRAINING.md)


def test_config_registers_and_state_dict_loads_strictly():
    import open_clip
    from safetensors.torch import load_file

    tiny.register()
    assert tiny.MODEL_NAME in open_clip.list_models()
    cfg = open_clip.get_model_config(tiny.MODEL_NAME)
    assert cfg == json.loads(tiny.CONFIG_PATH.read_text())
    model = open_clip.create_model(tiny.MODEL_NAME)
    sd = load_file(str(tiny.WEIGHTS_PATH))
    result = model.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert model.visual.image_size == (64, 64) or model.visual.image_size == 64


def test_identical_images_give_clip_i_one(loaded):
    from editlens.sample.world import iter_pairs

    model, preprocess, _ = loaded
    pairs = list(iter_pairs(8, seed=77))
    a = embed_images(model, preprocess, [p.source for p in pairs])
    b = embed_images(model, preprocess, [p.source.copy() for p in pairs])
    clip_i = torch.nn.functional.cosine_similarity(a, b, dim=-1).numpy()
    np.testing.assert_allclose(clip_i, 1.0, atol=1e-5)
    # and different pictures are not all 1: the embedding is not constant
    c = embed_images(model, preprocess, [p.target for p in pairs])
    assert float(torch.nn.functional.cosine_similarity(a, c, dim=-1).min()) < 0.99


def test_instruction_directional_separates_wrong_instructions(metrics):
    assert metrics["auc_instruction_directional"] >= 0.9, metrics


def test_caption_metrics_are_meaningful(metrics):
    assert metrics["auc_caption_directional"] >= 0.9, metrics
    assert metrics["clip_t_accuracy"] >= 0.8, metrics
    assert metrics["clip_t_auc_own_vs_other_caption"] >= 0.9, metrics
    assert metrics["clip_t_mean"] > metrics["clip_t_wrong_mean"]
    assert metrics["clip_i_identical_min"] == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------------------------------------
# the real pipeline: sample -> ingest -> embed (default model = editlens-tiny) -> edit_scores vs ground truth


@pytest.fixture(scope="module")
def pipeline_scores(pipeline):
    import duckdb

    p = pipeline(900, 21)  # the default model: the committed weights
    wh = p.warehouse
    truth = p.truth("truth_edits.jsonl")
    con = duckdb.connect()
    con.execute("create table truth as select * from read_json_auto(?)",
                [str(p.sample / "truth_edits.jsonl")])
    rows = con.execute(
        "select t.clean, t.defect, s.model_name, s.clip_i, s.directional_instruction, s.pixel_l1, "
        "s.pixel_changed_frac, s.phash_distance "
        f"from read_parquet('{wh.table_glob('edits')}') e "
        f"join read_parquet('{wh.table_glob('edit_scores')}') s using (edit_id) "
        "join truth t on t.source_file = e.source_file and t.source_record = e.source_record "
        "and t.turn_index = e.turn_index").fetchall()
    cols = ("clean", "defect", "model_name", "clip_i", "directional_instruction", "pixel_l1",
            "pixel_changed_frac", "phash_distance")
    return {"rows": [dict(zip(cols, r)) for r in rows], "truth": truth}


@pytest.mark.slow
def test_pipeline_instruction_directional_finds_wrong_instructions(pipeline_scores):
    rows = pipeline_scores["rows"]
    assert rows and {r["model_name"] for r in rows} == {tiny.MODEL_NAME}
    clean = [r["directional_instruction"] for r in rows
             if r["clean"] and r["directional_instruction"] is not None]
    wrong = [r["directional_instruction"] for r in rows
             if r["defect"] == "wrong_instruction" and r["directional_instruction"] is not None]
    n_wrong_truth = sum(1 for t in pipeline_scores["truth"] if t.get("defect") == "wrong_instruction")
    assert len(wrong) == n_wrong_truth >= 10 and len(clean) >= 300
    assert roc_auc(clean, wrong) >= 0.9


@pytest.mark.slow
def test_pipeline_seeded_misaligned_threshold_finds_most_wrong_instructions(pipeline_scores):
    """The dbt flag's rule (directional_instruction below the seeded threshold, CLIP-I below the resolution
    floor `misaligned_max_clip_i`) on clean vs wrong-instruction edits, here on whole instructions: a guard
    against regressions of the bundled weights or the seeds (measured: 26 / 4 / 1, P 0.87, R 0.96 on this
    sample, seed 21, one of the calibration samples; the 0.9 / 0.9 target is tested on the demo's sample by
    tests/test_dbt_ground_truth.py)."""
    import csv

    seeds = Path(__file__).resolve().parents[1] / "seeds" / "thresholds.csv"
    values = {r["name"]: float(r["value"]) for r in csv.DictReader(seeds.open())}
    th, cap = values["misaligned_directional_instruction"], values["misaligned_max_clip_i"]
    rows = [r for r in pipeline_scores["rows"] if r["directional_instruction"] is not None
            and (r["clean"] or r["defect"] == "wrong_instruction")]
    flagged = [r["directional_instruction"] < th and r["clip_i"] < cap for r in rows]
    wrong = [r["defect"] == "wrong_instruction" for r in rows]
    tp = sum(f and w for f, w in zip(flagged, wrong))
    fp = sum(f and not w for f, w in zip(flagged, wrong))
    fn = sum(w and not f for f, w in zip(flagged, wrong))
    print(f"seeded misaligned rule on whole instructions: TP {tp} FP {fp} FN {fn}")
    assert tp / (tp + fp) >= 0.7 and tp / (tp + fn) >= 0.85, (th, tp, fp, fn)


@pytest.mark.slow
def test_pipeline_finds_every_noop(pipeline_scores):
    noops = [r for r in pipeline_scores["rows"] if r["defect"] == "noop"]
    assert len(noops) == sum(1 for t in pipeline_scores["truth"] if t.get("defect") == "noop") >= 5
    for r in noops:
        assert r["phash_distance"] == 0 and r["pixel_l1"] == 0 and r["pixel_changed_frac"] == 0, r
        assert r["clip_i"] >= 0.99, r
    # and no clean edit looks like a no-op on all three signals
    clean = [r for r in pipeline_scores["rows"] if r["clean"] and r["clip_i"] is not None]
    assert not [r for r in clean if r["phash_distance"] == 0 and r["pixel_l1"] == 0 and r["clip_i"] >= 0.99]


# ---------------------------------------------------------------------------------------------------------
# the training and evaluation entry points


def test_training_is_deterministic_and_writes_fp16_safetensors(tmp_path):
    from safetensors.torch import load_file

    from training.tiny.train import TrainConfig, train

    outs = []
    for name in ("a", "b"):
        cfg = TrainConfig(seed=3, steps=2, batch_size=4, warmup_steps=1, caption_negatives=1,
                          out=tmp_path / f"{name}.safetensors", log_every=100)
        train(cfg)
        outs.append(load_file(str(cfg.out)))
    a, b = outs
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert {t.dtype for t in a.values()} == {torch.float16}
    # the script writes the same tensors, names and shapes as the committed file
    committed = load_file(str(tiny.WEIGHTS_PATH))
    assert committed.keys() == a.keys() and all(committed[k].shape == a[k].shape for k in a)


def test_focus_ops_and_move_only_caption_negatives():
    """--focus-ops/--p-focus redraw pairs from the named operations on the same source scene, and
    --caption-negative-ops picks which edits make the near-miss captions."""
    import itertools

    from training.tiny.train import TrainConfig, load_world, train_pairs

    world = load_world("editlens.sample.world")
    cfg = TrainConfig(seed=5, steps=1, batch_size=24, p_two_ops=0.0, caption_negatives=2,
                      caption_negative_ops=("move",), focus_ops=("move",), p_focus=1.0)
    pairs = list(itertools.islice(train_pairs(world, cfg), 24))
    assert len(pairs) == 24 and {p.op for p in pairs} == {"move"}
    # a move's near-miss captions differ from the true target caption only in where shapes are
    assert all(len(p.wrong_captions) == 2 and p.target_caption not in p.wrong_captions for p in pairs)
    plain = list(itertools.islice(train_pairs(world, TrainConfig(seed=5, steps=1, batch_size=24,
                                                                 p_two_ops=0.0)), 24))
    assert len({p.op for p in plain}) > 3  # without focus the world's mix of operations


def test_same_shape_wrong_instructions():
    """--p-same-shape: an object edit's wrong instructions become another operation on the same shape."""
    import itertools
    import types

    from training.tiny.train import (
        SHAPE_OPS,
        TrainConfig,
        load_world,
        same_shape_wrong_instruction,
        train_pairs,
    )

    world = load_world("editlens.sample.world")
    made = []
    spy = types.SimpleNamespace(applicable_ops=world.applicable_ops, instruction=world.instruction,
                                make_edit=lambda *a: made.append(world.make_edit(*a)) or made[-1])
    rng = np.random.default_rng(0)
    checked = 0
    for pair in world.iter_pairs(60, 11):
        made.clear()
        text = same_shape_wrong_instruction(spy, pair, rng)
        if pair.op not in SHAPE_OPS:
            assert text is None and not made
            continue
        if text is not None:
            last = made[-1]
            assert last.op in SHAPE_OPS and last.op != pair.op
            assert last.params["shape"] == pair.edit.params["shape"]
            checked += 1
    assert checked >= 20
    cfg = dict(seed=5, steps=1, batch_size=16, p_two_ops=0.0, focus_ops=("remove",), p_focus=1.0)
    base = list(itertools.islice(train_pairs(world, TrainConfig(**cfg)), 16))
    same = list(itertools.islice(train_pairs(world, TrainConfig(**cfg, p_same_shape=1.0)), 16))
    assert [p.instruction for p in base] == [p.instruction for p in same]  # only the negatives change
    assert sum(a.wrong != b.wrong for a, b in zip(base, same)) >= 12


def test_patch_embedding_adapts_to_a_larger_patch_for_the_same_grid():
    """--init weights with 8 px patches load into a 12 px patch model (96 px pictures, same 8x8 grid) with the
    same token responses on a picture upsampled by 1.5."""
    from training.tiny.train import adapt_patch_embedding

    torch.manual_seed(0)
    small, large = torch.nn.Conv2d(3, 16, 8, 8, bias=False), torch.nn.Conv2d(3, 16, 12, 12, bias=False)
    holder = torch.nn.Module()
    holder.visual = torch.nn.Module()
    holder.visual.conv1 = large
    sd = adapt_patch_embedding({"visual.conv1.weight": small.weight.detach(), "other": torch.ones(2)}, holder)
    assert sd["visual.conv1.weight"].shape == (16, 3, 12, 12) and torch.equal(sd["other"], torch.ones(2))
    large.weight.data = sd["visual.conv1.weight"]
    img = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 256, 256), 4)  # smooth 64 px picture
    up = torch.nn.functional.interpolate(img, size=(96, 96), mode="bilinear", align_corners=False)
    a, b = small(img), large(up)
    assert a.shape == b.shape == (1, 16, 8, 8)
    assert torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1] > 0.95
    assert adapt_patch_embedding({"visual.conv1.weight": large.weight.detach()}, holder)["visual.conv1.weight"] \
        is not None  # already the right shape: kept


def test_adapt_depth_adds_identity_blocks():
    """A 2-block vision tower's weights in a 3-block model: the third block starts as the identity, so the
    deeper model's image embeddings equal the shallower one's."""
    import open_clip

    from training.tiny.train import adapt_depth

    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16,
                                           "patch_size": 8},
           "text_cfg": {"context_length": 8, "vocab_size": 100, "width": 16, "heads": 2, "layers": 1}}
    deep_cfg = {**cfg, "vision_cfg": {**cfg["vision_cfg"], "layers": 3}}
    torch.manual_seed(0)
    shallow = open_clip.model.CLIP(**cfg).eval()
    deep = open_clip.model.CLIP(**deep_cfg).eval()
    sd = adapt_depth(shallow.state_dict(), deep)
    new = [k for k in sd if k.startswith("visual.transformer.resblocks.2.")]
    assert new and all(torch.count_nonzero(sd[k]) == 0 for k in new if "out_proj" in k or "c_proj" in k)
    deep.load_state_dict(sd, strict=True)
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(shallow.encode_image(x), deep.encode_image(x), atol=1e-6)
        assert not torch.allclose(sd["visual.transformer.resblocks.2.mlp.c_fc.weight"],
                                  torch.zeros_like(sd["visual.transformer.resblocks.2.mlp.c_fc.weight"]))
    assert adapt_depth(sd, deep) is sd  # nothing missing: unchanged


def test_sigmoid_loss_is_added_and_finite(tmp_path, capsys):
    import math
    import re

    from training.tiny.train import TrainConfig, train

    cfg = TrainConfig(seed=3, steps=1, batch_size=4, warmup_steps=1, w_instruction_sigmoid=1.0,
                      out=tmp_path / "s.safetensors", log_every=1)
    train(cfg)
    log = capsys.readouterr().out
    parts = dict(re.findall(r"(\w+)=(-?[0-9.]+)", log))
    assert math.isfinite(float(parts["instruction_sigmoid"])) and float(parts["instruction_sigmoid"]) > 0
    # the total is the weighted sum: caption 1.0, instruction 2.0, caption direction 0.5, sigmoid 1.0
    total = (float(parts["caption"]) + 2 * float(parts["instruction"]) + 0.5 * float(parts["caption_direction"])
             + float(parts["instruction_sigmoid"]))
    assert float(parts["loss"]) == pytest.approx(total, abs=2e-3)
    meta = json.loads(__import__("safetensors").safe_open(str(cfg.out), "pt").metadata()["editlens_tiny_training"])
    assert meta["w_instruction_sigmoid"] == 1.0


def test_cli_exit_codes_for_unusable_input(tmp_path, capsys):
    from training.tiny import evaluate as ev
    from training.tiny import train as tr

    assert ev.main(["--weights", str(tmp_path / "nope.safetensors")]) == 2
    assert "not found" in capsys.readouterr().err
    assert tr.main(["--world", "no_such_world_module", "--steps", "1", "--out", str(tmp_path / "x")]) == 2
    assert "cannot import" in capsys.readouterr().err


def test_equal_mask_matches_pairwise_comparison():
    from training.tiny.train import equal_mask

    a = ["red circle", "blue star", "red circle", ("x", "y")]
    b = ["blue star", "red circle", ("x", "y"), "green"]
    want = torch.tensor([[float(x == y) for y in b] for x in a])
    assert torch.equal(equal_mask(a, b), want)
    assert equal_mask(a, b).sum() == 4


def test_training_with_data_workers_is_deterministic_and_checkpoints(tmp_path, capsys):
    from safetensors.torch import load_file

    from training.tiny.train import TrainConfig, train, worker_seed

    assert len({worker_seed(10, k) for k in range(16)}) == 16 and worker_seed(10, 0) != worker_seed(11, 0)
    outs = []
    for name in ("a", "b"):
        cfg = TrainConfig(seed=4, steps=3, batch_size=4, warmup_steps=1, workers=2, save_every=2,
                          out=tmp_path / f"{name}.safetensors", log_every=1)
        train(cfg)
        outs.append(load_file(str(cfg.out)))
    assert "checkpoint" in capsys.readouterr().out
    assert outs[0].keys() == outs[1].keys()
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])
    meta = json.loads(__import__("safetensors").safe_open(str(tmp_path / "a.safetensors"), "pt")
                      .metadata()["editlens_tiny_training"])
    assert meta["workers"] == 2 and "device" not in meta and "steps_done" not in meta
    # the two data streams differ from the single in-process stream of the same seed
    one = TrainConfig(seed=4, steps=3, batch_size=4, warmup_steps=1, out=tmp_path / "one.safetensors")
    train(one)
    single = load_file(str(one.out))
    assert not all(torch.equal(single[k], outs[0][k]) for k in single)


def test_pretokenised_batches_give_the_same_losses():
    import math

    import open_clip

    from editlens.embeddings import tiny
    from training.tiny.train import (
        TokenCache,
        TrainConfig,
        batch_texts_tokens,
        load_world,
        losses,
        make_batches,
    )

    tiny.register()
    torch.manual_seed(0)
    model = open_clip.create_model(tiny.MODEL_NAME, device="cpu")
    cfg = TrainConfig(seed=6, steps=1, batch_size=4, caption_negatives=2, w_instruction_sigmoid=1.0)
    batch = next(make_batches(load_world(cfg.world), tiny.preprocess(), cfg))
    tok = TokenCache(open_clip.get_tokenizer(tiny.MODEL_NAME))
    sig = (torch.tensor(math.log(10.0)), torch.tensor(-5.0))
    scale = torch.tensor(math.log(10.0))
    with torch.no_grad():
        a = losses(model, scale, batch, tok, cfg, sig)
        b = losses(model, scale, (*batch, *batch_texts_tokens(batch, TokenCache(tok.tokenizer))), None, cfg, sig)
    assert set(a) == set(b) and len(a) == 5
    assert all(torch.equal(a[k], b[k]) for k in a)
