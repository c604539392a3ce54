"""Embedding job: values, statuses, reruns, model loading. Runs on CPU with a random-weight tiny model."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from editlens.contract.errors import UnusableInput
from editlens.contract.tables import SCHEMAS
from editlens.embeddings.concepts import ConceptSet
from editlens.embeddings.encoder import device_settings
from editlens.embeddings.imageio import Preprocess, hamming64, phash64, process_batch, process_image
from editlens.embeddings.main import EmbedConfig, run_embed
from embed_warehouses import build_warehouse, draw

REPO = Path(__file__).resolve().parents[1]
MICRO = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
         "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def cfg(wh, **kw) -> EmbedConfig:
    base = {"warehouse": wh, "allow_random_weights": True, "shard_size": 4, "workers": 0, "threads": 1,
            "progress": False, "batch_size": 3}
    base.update(kw)
    return EmbedConfig(**base)


def q(wh, sql: str):
    con = duckdb.connect()
    for t in ("image_facts", "image_embeddings", "text_embeddings", "image_concepts", "edit_scores",
              "embed_models", "edits", "images"):
        if wh.has_table(t):
            con.execute(f"create view {t} as select * from read_parquet('{wh.table_glob(t)}')")
    return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    info = build_warehouse(tmp_path_factory.mktemp("embed"))
    info["summary"] = run_embed(cfg(info["warehouse"]))
    return info


# ---------------------------------------------------------------------------------------------------------
# units


def test_phash_is_stable_and_separates_images():
    a = np.asarray(draw(1).convert("L").resize((32, 32)), dtype=np.float64)
    b = np.asarray(draw(2, shape="square").convert("L").resize((32, 32)), dtype=np.float64)
    assert phash64(a) == phash64(a.copy())
    assert hamming64(phash64(a), phash64(a)) == 0
    assert hamming64(phash64(a), phash64(np.clip(a + 3.0, 0, 255))) <= 4  # a slight brightness change
    assert hamming64(phash64(a), phash64(b)) > 10
    assert -(2**63) <= phash64(a) < 2**63


def test_preprocess_matches_open_clip_transform():
    import open_clip
    import torch

    img = draw(3, size=120)
    pp = Preprocess(size=64, jpeg_draft=False)
    ours = torch.from_numpy(pp.to_model_input(img)).float()
    ours = (ours / 255.0 - torch.tensor(pp.mean).view(3, 1, 1)) / torch.tensor(pp.std).view(3, 1, 1)
    ref = open_clip.image_transform(64, is_train=False)(img)
    assert ours.shape == ref.shape
    assert float((ours - ref).abs().mean()) < 0.02


def test_process_image_statuses(tmp_path):
    pp = Preprocess(size=32)
    p = tmp_path / "x.png"
    draw(5).save(p)
    ok = process_image({"image_id": "a", "root": str(tmp_path), "path": "x.png"}, pp)
    assert ok["status"] == "ok" and ok["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert (ok["width"], ok["height"], ok["format"], ok["mode"]) == (96, 112, "PNG", "RGB")
    assert ok["pixels"].shape == (3, 32, 32) and len(ok["thumb"]) == 32 * 32 * 3
    assert 0 <= ok["brightness"] <= 1 and ok["contrast"] > 0 and 0 < ok["entropy"] <= 8 and ok["blur"] > 0
    missing = process_image({"image_id": "b", "root": str(tmp_path), "path": "nope.png"}, pp)
    assert missing["status"] == "missing" and missing["sha256"] is None
    big = process_image({"image_id": "c", "root": str(tmp_path), "path": "x.png"}, pp, max_pixels=1000)
    assert big["status"] == "too_large" and big["width"] == 96 and big["sha256"] == ok["sha256"]
    flat = tmp_path / "flat.png"
    Image.new("RGB", (50, 50), (128, 128, 128)).save(flat)
    f = process_image({"image_id": "d", "root": str(tmp_path), "path": "flat.png"}, pp)
    assert f["contrast"] == pytest.approx(0.0) and f["blur"] == pytest.approx(0.0) and f["entropy"] == 0.0


def test_local_layout_defaults():
    from editlens.embeddings.main import Layout, local_layout

    # CPU: one stream per core (at most 8), each decoding its own batches; texts get every core
    assert local_layout("cpu", 2) == Layout(workers=0, streams=2, threads=1, rest_threads=2)
    assert local_layout("cpu", 16) == Layout(workers=0, streams=8, threads=2, rest_threads=16)
    # decode processes asked for: one stream on the cores they leave
    assert local_layout("cpu", 8, workers=2) == Layout(workers=2, streams=1, threads=6, rest_threads=6)
    assert local_layout("cpu", 2, streams=1, threads=2) == Layout(workers=0, streams=1, threads=2, rest_threads=2)
    assert local_layout("cpu", 8, threads=4) == Layout(workers=0, streams=2, threads=4, rest_threads=4)
    # GPU: DataLoader workers feed one stream
    assert local_layout("cuda", 32) == Layout(workers=16, streams=1, threads=None, rest_threads=None)


def test_model_pixels_match_open_clip_transform_and_pillow():
    """The torch uint8 path (squash, and shortest side + centre crop) gives open_clip's eval transform's
    input, and the Pillow path's to within rounding."""
    import open_clip
    import torch

    for mode, size, shape in (("shortest", 64, (120, 90)), ("squash", 96, (150, 100)), ("squash", 64, (50, 40))):
        img = draw(3, size=shape[0]).resize(shape)
        pp = Preprocess(size=size, resize_mode=mode, jpeg_draft=False)
        assert pp.tensor_resize()
        fast = pp.model_pixels(np.asarray(img))
        assert tuple(fast.shape) == (3, size, size) and fast.dtype == torch.uint8
        slow = torch.from_numpy(pp.to_model_input(img))
        assert float((fast.float() - slow.float()).abs().mean()) < 1.0  # 8-bit levels
        ours = (fast.float() / 255.0 - torch.tensor(pp.mean).view(3, 1, 1)) / torch.tensor(pp.std).view(3, 1, 1)
        ref = open_clip.image_transform(size, is_train=False, resize_mode=mode)(img)
        assert float((ours - ref).abs().mean()) < 0.01, mode
    assert not Preprocess(size=64, resize_mode="longest").tensor_resize()  # padding: Pillow


def test_jpeg_scaled_decode_and_fallbacks(tmp_path):
    """JPEGs decode at the smallest M/8 scale keeping both sides >= the size needed; grey JPEGs keep mode L;
    CMYK and truncated JPEGs go through Pillow, which decodes or classifies them as before."""
    from editlens.embeddings import imageio

    buf = io.BytesIO()
    draw(7, size=256).resize((256, 160)).save(buf, "JPEG", quality=90)
    out: dict = {}
    arr = imageio._jpeg_scaled(buf.getvalue(), 96, out, 10**8)
    assert arr.shape == (100, 160, 3)  # 5/8 of 160 x 256: the smallest scale with both sides >= 96
    assert (out["width"], out["height"], out["format"], out["mode"]) == (256, 160, "JPEG", "RGB")
    assert imageio._jpeg_scaled(buf.getvalue(), 96, {}, 1000) is None  # over max_pixels: Pillow says too_large
    pp = Preprocess(size=64, resize_mode="squash")
    for name, make in (("grey", lambda im: im.convert("L")), ("cmyk", lambda im: im.convert("CMYK"))):
        p = tmp_path / f"{name}.jpg"
        make(draw(8, size=128)).save(p, "JPEG")
        r = process_image({"image_id": name, "root": str(tmp_path), "path": p.name}, pp)
        assert r["status"] == "ok" and r["format"] == "JPEG" and r["pixels"].shape == (3, 64, 64)
        assert r["mode"] == {"grey": "L", "cmyk": "CMYK"}[name]
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    r = process_image({"image_id": "cut", "root": str(tmp_path), "path": cut.name}, pp)
    assert r["status"] == "truncated" and r["pixels"] is None and r["width"] == 256


@pytest.mark.parametrize("mode", ["shortest", "longest"])  # torch path; Pillow mosaics
def test_process_batch_equals_single_images(tmp_path, monkeypatch, mode):
    """A batch's facts and model inputs are each image's own, whatever else is in the batch (model inputs
    pasted 2 to an image on the Pillow path here, to cross that boundary too)."""
    from editlens.embeddings import imageio

    monkeypatch.setattr(imageio, "_MOSAIC_BYTES", 2 * 4 * 40 * 40)
    pp = Preprocess(size=40, resize_mode=mode)
    recs = []
    for i, (size, fmt) in enumerate([(96, "JPEG"), (150, "PNG"), (64, "JPEG"), (300, "JPEG")]):
        p = tmp_path / f"{i}.{fmt.lower()}"
        draw(20 + i, size=size).save(p, fmt)
        recs.append({"image_id": str(i), "root": str(tmp_path), "path": p.name})
    recs.insert(2, {"image_id": "gone", "root": str(tmp_path), "path": "nope.jpg"})
    batch = process_batch(recs, pp)
    assert batch.ok == [0, 1, 3, 4] and batch.pixels.shape == (4, 3, 40, 40)
    for i, rec in enumerate(recs):
        one, many = process_image(rec, pp), batch.record(i)
        assert one.keys() == many.keys()
        for k in one:
            if k == "pixels":
                assert (one[k] is None and many[k] is None) or np.array_equal(one[k], many[k])
            elif isinstance(one[k], float):
                assert one[k] == pytest.approx(many[k], rel=1e-12, abs=1e-12), k
            else:
                assert one[k] == many[k], k


def test_device_settings_cpu_and_cuda():
    import torch

    cpu = device_settings("cpu")
    assert cpu.autocast_dtype is None and not cpu.pin_memory and not cpu.non_blocking
    cuda = device_settings("cuda:0", cuda_available=True)
    assert cuda.autocast_dtype == torch.bfloat16 and cuda.pin_memory and cuda.non_blocking
    with pytest.raises(UnusableInput) as e:
        device_settings("cuda", cuda_available=False)
    assert e.value.exit_code == 2
    with pytest.raises(UnusableInput):
        device_settings("tpu")


def test_concepts_file_scores():
    cs = ConceptSet.load()
    groups = set(cs.groups)
    assert {"safety", "presentation", "age", "skin_tone"} <= groups
    safety = {c for g, c in zip(cs.groups, cs.concepts) if g == "safety"}
    assert {"sexual_content", "nudity", "violence_gore", "weapons", "drugs", "hate_symbols", "self_harm",
            "minors"} <= safety
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(cs.all_prompts()), 16)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    cmat = cs.concept_matrix(emb)
    img = rng.normal(size=(5, 16))
    img /= np.linalg.norm(img, axis=1, keepdims=True)
    scored = cs.score(img, cmat, 100.0)
    assert all(c != "neutral" for _, c, _ in scored)
    for g in ("presentation", "age", "skin_tone"):
        total = sum(v for gg, _, v in scored if gg == g)
        np.testing.assert_allclose(total, 1.0, atol=1e-9)
    # a detector score is the two-way softmax against the neutral concept
    j_n = next(i for i, (g, c) in enumerate(zip(cs.groups, cs.concepts)) if (g, c) == ("safety", "neutral"))
    j_w = next(i for i, (g, c) in enumerate(zip(cs.groups, cs.concepts)) if (g, c) == ("safety", "weapons"))
    s = img @ cmat.T * 100.0
    want = np.exp(s[:, j_w]) / (np.exp(s[:, j_w]) + np.exp(s[:, j_n]))
    got = next(v for g, c, v in scored if (g, c) == ("safety", "weapons"))
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_concepts_file_is_editable(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("group,concept,prompt\ncolour,red,a red thing\ncolour,blue,a blue thing\ncolour,blue,blue\n")
    cs = ConceptSet.load(p)
    assert cs.concepts == ("red", "blue") and cs.prompts[1] == ("a blue thing", "blue")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UnusableInput):
        ConceptSet.load(tmp_path / "bad.csv")


def test_model_loading_errors_and_local_weights(tmp_path):
    import open_clip
    from safetensors.torch import save_file

    from editlens.embeddings.models import file_sha256, load_model

    with pytest.raises(UnusableInput) as e:
        load_model("no-such-model")
    assert e.value.exit_code == 2
    with pytest.raises(UnusableInput):
        load_model("ViT-B-32", pretrained=str(tmp_path / "absent.safetensors"))
    with pytest.raises(UnusableInput):
        load_model("ViT-B-32")  # no tag, no file, no random weights: refused
    from editlens.embeddings import tiny
    from editlens.embeddings.models import register_config

    if Path(tiny.WEIGHTS_PATH).is_file():
        bundled = load_model("editlens-tiny")
        assert bundled.spec.weights_sha256 == file_sha256(tiny.WEIGHTS_PATH)
    else:
        with pytest.raises(UnusableInput, match="weights not found"):
            load_model("editlens-tiny")
    register_config("test-micro", MICRO)
    with pytest.raises(UnusableInput):
        load_model("test-micro")  # random weights must be asked for
    rand = load_model("test-micro", allow_random_weights=True)
    assert rand.spec.pretrained == "random-init:seed0" and rand.spec.weights_sha256 is None
    again = load_model("test-micro", allow_random_weights=True)
    assert all((a == b).all() for a, b in zip(rand.model.state_dict().values(), again.model.state_dict().values()))
    w = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in rand.model.state_dict().items()}, str(w))
    loaded = load_model("test-micro", pretrained=str(w))
    assert loaded.spec.weights_sha256 == file_sha256(w) and loaded.spec.pretrained == "w.safetensors"
    assert loaded.spec.key != rand.spec.key
    for a, b in zip(loaded.model.state_dict().values(), rand.model.state_dict().values()):
        assert (a == b).all()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UnusableInput, match="cannot load"):
        load_model("test-micro", pretrained=str(bad))
    assert "editlens-tiny" in open_clip.list_models()


def test_offline_download_is_a_clear_error():
    code = (
        "from editlens.embeddings.models import load_model\n"
        "try:\n    load_model('RN50', pretrained='openai')\n"
        "except Exception as e:\n    print('EXIT', getattr(e, 'exit_code', None), str(e).splitlines()[0])\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=os.environ.get("HF_HOME", "/nonexistent-hf-home"))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=240, check=False)
    assert "EXIT 2 cannot load RN50 pretrained=openai" in out.stdout, out.stdout + out.stderr


def test_cli_without_ingest_tables_exits_2(tmp_path, capsys):
    from editlens.cli import main

    rc = main(["embed", "--warehouse", str(tmp_path / "empty")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "ingest" in err


# ---------------------------------------------------------------------------------------------------------
# the job on a small warehouse


def test_image_facts_statuses(embedded):
    wh, ids = embedded["warehouse"], embedded["ids"]
    rows = dict(q(wh, "select image_id, status from image_facts"))
    assert len(rows) == len(ids) == q(wh, "select count(*) from images")[0][0]
    assert rows[ids["missing.jpg"]] == "missing"
    assert rows[ids["trunc.jpg"]] == "truncated"
    assert rows[ids["notimage.jpg"]] == "unsupported"
    assert rows[ids["embedded"]] == "ok" and rows[ids["b0.png"]] == "ok"
    assert sum(v == "ok" for v in rows.values()) == 9
    s = embedded["summary"]
    assert s.statuses == {"ok": 9, "missing": 1, "truncated": 1, "unsupported": 1}
    (sha_a, ph_a), (sha_c, ph_c) = q(wh, f"""select sha256, phash from image_facts where image_id in
        ('{ids["a0.jpg"]}', '{ids["copy_of_a0.jpg"]}')""")
    assert sha_a == sha_c and ph_a == ph_c
    assert q(wh, f"select count(*) from image_facts where image_id = '{ids['missing.jpg']}' "
                 "and sha256 is null and thumb is null")[0][0] == 1


def test_embeddings_deduplicated_by_content(embedded):
    wh = embedded["warehouse"]
    n_rows, n_sha = q(wh, "select count(*), count(distinct sha256) from image_embeddings")[0]
    n_ok = q(wh, "select count(distinct sha256) from image_facts where status = 'ok'")[0][0]
    assert n_rows == n_sha == n_ok == 8
    norms = q(wh, "select min(list_dot_product(embedding, embedding)), max(list_dot_product(embedding, embedding))"
                  " from image_embeddings")[0]
    assert norms[0] == pytest.approx(1.0, abs=1e-5) and norms[1] == pytest.approx(1.0, abs=1e-5)
    texts = {t for e in embedded["edits"] for t in (e["instruction"], e["source_caption"], e["target_caption"]) if t}
    texts.add("turn the circle into a square")  # the core of the one framed instruction
    assert q(wh, "select count(*), count(distinct text_hash) from text_embeddings")[0] == (len(texts), len(texts))
    want = {hashlib.sha1(t.encode()).hexdigest()[:16] for t in texts}
    assert {r[0] for r in q(wh, "select text_hash from text_embeddings")} == want


def _score(wh, edit_id):
    cols = [c for c in SCHEMAS["edit_scores"].names
            if c not in ("edit_id", "model_key", "model_name", "pretrained", "preprocess")]
    row = q(wh, f"select {', '.join(cols)} from edit_scores where edit_id = '{edit_id}'")
    assert len(row) == 1
    return dict(zip(cols, row[0]))


def test_edit_scores_values(embedded):
    wh, edits = embedded["warehouse"], embedded["edits"]
    assert q(wh, "select count(*), count(distinct edit_id) from edit_scores")[0] == (len(edits), len(edits))
    noop = _score(wh, edits[1]["edit_id"])
    assert noop["clip_i"] == pytest.approx(1.0, abs=1e-9)
    assert noop["pixel_l1"] == 0 and noop["pixel_mse"] == 0 and noop["pixel_changed_frac"] == 0
    assert noop["phash_distance"] == 0 and noop["directional_caption"] is None
    assert "identical_image_embeddings" in noop["null_reason"]
    dup = _score(wh, edits[6]["edit_id"])  # byte-identical copy: same content, same scores as a no-op
    assert dup["clip_i"] == pytest.approx(1.0, abs=1e-9) and dup["phash_distance"] == 0

    missing = _score(wh, edits[2]["edit_id"])
    assert missing["clip_i"] is None and missing["pixel_l1"] is None and missing["phash_distance"] is None
    assert missing["clip_t_target_caption"] is None and "target_image_missing" in missing["null_reason"]
    trunc = _score(wh, edits[3]["edit_id"])
    assert trunc["clip_i"] is None and "source_image_truncated" in trunc["null_reason"]
    assert trunc["clip_t_target_caption"] is not None  # the target is fine: its own scores stay
    nocap = _score(wh, edits[4]["edit_id"])
    assert nocap["clip_t_target_caption"] is None and nocap["directional_caption"] is None
    assert nocap["clip_i"] is not None and nocap["directional_instruction"] is not None
    assert nocap["null_reason"] == "no_target_caption;no_source_caption"
    assert nocap["directional_instruction_core"] is not None
    assert nocap["directional_instruction_core"] != pytest.approx(nocap["directional_instruction"], abs=1e-6)
    assert _score(wh, edits[5]["edit_id"])["null_reason"] == "source_image_unsupported"

    # recompute one edit's scores from the stored embeddings and thumbnails
    e = edits[0]
    got = _score(wh, e["edit_id"])
    assert got["null_reason"] is None

    def img(iid):
        sha, thumb, ph = q(wh, f"select sha256, thumb, phash from image_facts where image_id = '{iid}'")[0]
        v = np.array(q(wh, f"select embedding from image_embeddings where sha256 = '{sha}'")[0][0])
        return v, np.frombuffer(thumb, dtype=np.uint8).astype(float) / 255, ph

    def txt(t):
        h = hashlib.sha1(t.encode()).hexdigest()[:16]
        return np.array(q(wh, f"select embedding from text_embeddings where text_hash = '{h}'")[0][0])

    (s, st, sp), (t, tt, tp) = img(e["source_image_id"]), img(e["target_image_id"])
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert got["clip_i"] == pytest.approx(cos(s, t), abs=1e-6)
    assert got["clip_t_target_caption"] == pytest.approx(cos(t, txt(e["target_caption"])), abs=1e-6)
    assert got["clip_t_instruction"] == pytest.approx(cos(t, txt(e["instruction"])), abs=1e-6)
    assert got["directional_caption"] == pytest.approx(
        cos(t - s, txt(e["target_caption"]) - txt(e["source_caption"])), abs=1e-5)
    assert got["directional_instruction"] == pytest.approx(cos(t - s, txt(e["instruction"])), abs=1e-5)
    assert got["directional_instruction_core"] == pytest.approx(got["directional_instruction"], abs=1e-12)  # unframed
    framed = edits[4]
    (s4, _, _), (t4, _, _) = img(framed["source_image_id"]), img(framed["target_image_id"])
    assert _score(wh, framed["edit_id"])["directional_instruction_core"] == pytest.approx(
        cos(t4 - s4, txt("turn the circle into a square")), abs=1e-5)
    assert got["pixel_l1"] == pytest.approx(np.abs(tt - st).mean(), abs=1e-9)
    assert got["pixel_mse"] == pytest.approx(((tt - st) ** 2).mean(), abs=1e-9)
    assert got["phash_distance"] == ((sp ^ tp) & (2**64 - 1)).bit_count() > 0


def test_rows_carry_model_identity(embedded):
    wh, s = embedded["warehouse"], embedded["summary"]
    models = q(wh, "select model_key, model_name, pretrained, preprocess, embed_dim from embed_models")
    assert len(models) == 1
    key, name, pretrained, preprocess, dim = models[0]
    from editlens.embeddings import tiny

    trained = Path(tiny.WEIGHTS_PATH).is_file()  # the bundled weights once committed, else seeded random init
    assert (key, name) == (s.model_key, "editlens-tiny")
    assert pretrained == ("editlens-tiny.safetensors" if trained else "random-init:seed0")
    assert "resize 64 bicubic squash" in preprocess and dim == 128  # as editlens-tiny was trained
    for t in ("image_embeddings", "text_embeddings", "image_concepts", "edit_scores"):
        assert q(wh, f"select distinct model_key from {t}") == [(key,)]
    for t in ("image_concepts", "edit_scores"):
        assert q(wh, f"select distinct model_name, pretrained, preprocess from {t}") == [(name, pretrained, preprocess)]


def test_image_concepts(embedded):
    wh = embedded["warehouse"]
    cs = ConceptSet.load()
    n_concepts = sum(1 for c in cs.concepts if c != "neutral")
    n_sha = q(wh, "select count(*) from image_embeddings")[0][0]
    assert q(wh, "select count(*) from image_concepts")[0][0] == n_sha * n_concepts
    sums = q(wh, "select concept_group, min(s), max(s) from (select sha256, concept_group, sum(score) s "
                 "from image_concepts where concept_group in ('presentation', 'age', 'skin_tone') group by all) "
                 "group by all")
    assert len(sums) == 3
    for _, lo, hi in sums:
        assert lo == pytest.approx(1.0, abs=1e-5) and hi == pytest.approx(1.0, abs=1e-5)
    assert q(wh, "select min(score) >= 0 and max(score) <= 1 from image_concepts") == [(True,)]


def test_rerun_skips_finished_work(embedded, tmp_path):
    wh = embedded["warehouse"]
    files = {p: p.stat().st_mtime_ns for p in wh.parquet_dir.rglob("*.parquet")}
    s = run_embed(cfg(wh))
    assert (s.images_planned, s.texts_embedded, s.concept_rows, s.edits_scored) == (0, 0, 0, 0)
    assert {p: p.stat().st_mtime_ns for p in wh.parquet_dir.rglob("*.parquet")} == files
    assert "0 to do" in s.describe()


def test_new_images_and_new_model_recompute_only_whats_missing(tmp_path):
    import shutil

    import pyarrow as pa

    from editlens.embeddings.models import register_config
    from editlens.warehouse import atomic_write_table

    info = build_warehouse(tmp_path)
    wh = info["warehouse"]
    first = run_embed(cfg(wh))
    assert first.images_planned == 12
    # a new image and a new edit arrive
    data = Path(pq.read_table(wh.table_glob("images").replace("*", "part-0"))["root"][0].as_py())
    draw(999).save(data / "images" / "new.jpg", "JPEG")
    (data / "images" / "copy_of_a1.jpg").write_bytes((data / "images" / "a1.jpg").read_bytes())
    img = pq.read_table(wh.shard_path("images", "part-0")).slice(0, 1).to_pylist()[0]
    new = [dict(img, image_id="f" * 16, path="images/new.jpg"), dict(img, image_id="d" * 16, path="images/copy_of_a1.jpg")]
    atomic_write_table(pa.Table.from_pylist(new, schema=pq.read_schema(wh.shard_path("images", "part-0"))),
                       wh.shard_path("images", "part-1"))
    e = dict(info["edits"][0], edit_id="e" * 16, target_image_id="f" * 16, instruction="a brand new instruction")
    atomic_write_table(pa.Table.from_pylist([e], schema=pq.read_schema(wh.shard_path("edits", "part-0"))),
                       wh.shard_path("edits", "part-1"))
    second = run_embed(cfg(wh))
    # two new images: one new content, one byte copy of content embedded in the first run (not embedded again)
    assert (second.images_planned, second.facts_written, second.embeddings_written) == (2, 2, 1)
    assert (second.texts_embedded, second.edits_scored) == (1, 1)
    # a second model: facts are kept, embeddings and scores are made for it
    facts_before = sorted(p.name for p in wh.table_dir("image_facts").glob("*.parquet"))
    register_config("test-micro", MICRO)
    third = run_embed(cfg(wh, model="test-micro"))
    assert third.images_planned == 11 and third.facts_written == 0
    assert q(wh, f"select count(*), count(distinct sha256) from image_embeddings where model_key = '{third.model_key}'") == [(9, 9)]
    assert sorted(p.name for p in wh.table_dir("image_facts").glob("*.parquet")) == facts_before
    assert q(wh, "select count(distinct model_key), count(*) from edit_scores") == [(2, 2 * len(info["edits"]) + 2)]
    assert q(wh, "select count(*) from embed_models") == [(2,)]
    shutil.rmtree(tmp_path)


@pytest.mark.parametrize("mode,fmt", [("P", "PNG"), ("RGBA", "PNG"), ("L", "JPEG"), ("I;16", "PNG"),
                                      ("CMYK", "JPEG"), ("LA", "PNG"), ("1", "PNG"), ("RGB", "WEBP"),
                                      ("RGB", "GIF"), ("RGB", "BMP"), ("RGB", "TIFF")])
def test_process_image_modes_and_formats(tmp_path, mode, fmt):
    base = draw(11, size=80)
    img = base.convert("I").point(lambda v: v * 200).convert("I;16") if mode == "I;16" else base.convert(mode)
    p = tmp_path / f"x.{fmt.lower()}"
    img.save(p, fmt)
    out = process_image({"image_id": "m", "root": str(tmp_path), "path": p.name}, Preprocess(size=48))
    assert out["status"] == "ok", out["status_message"]
    assert out["format"] == fmt and out["pixels"].shape == (3, 48, 48) and len(out["thumb"]) == 3072
    assert out["width"] == 80 and out["height"] == 96


def test_loader_chunks_joined_into_batches_equal_the_streams_path(tmp_path):
    """Decode workers hand out chunks of batch / workers rows; the main process joins them into model batches
    (launched one ahead of collection). Same facts and embeddings as CPU streams decoding whole batches."""
    from editlens.embeddings.distributor import loader_chunk_size

    assert loader_chunk_size(1024, 16) == 64
    assert loader_chunk_size(1024, 64) == 32  # never tiny chunks
    assert loader_chunk_size(256, 1) == 256 and loader_chunk_size(16, 4) == 16

    def run(sub: str, **kw):
        info = build_warehouse(tmp_path / sub, n_extra=70)
        s = run_embed(EmbedConfig(warehouse=info["warehouse"], allow_random_weights=True, progress=False,
                                  shard_size=40, batch_size=64, threads=1, **kw))
        con = duckdb.connect()
        pq_dir = info["warehouse"].root / "parquet"
        facts = con.execute(f"select image_id, status, sha256, phash, blur from read_parquet('{pq_dir}/image_facts/*.parquet') "
                            "order by image_id").fetchall()
        emb = con.execute(f"select sha256, embedding from read_parquet('{pq_dir}/image_embeddings/*.parquet') "
                          "order by sha256").fetchall()
        return s, facts, emb

    s_loader, facts_loader, emb_loader = run("loader", workers=2)  # chunks of 32 rows, two per model batch
    s_streams, facts_streams, emb_streams = run("streams", workers=0, streams=2)
    assert s_loader.workers == 2 and s_streams.workers == 0
    assert len(facts_loader) == len(facts_streams) > 70
    assert facts_loader == facts_streams
    assert [r[0] for r in emb_loader] == [r[0] for r in emb_streams]
    a = np.array([r[1] for r in emb_loader])
    b = np.array([r[1] for r in emb_streams])
    assert a.shape[0] > 70 and np.abs(a - b).max() < 1e-5


def test_rescore_edits_applies_an_edited_frames_file(embedded, tmp_path):
    """Edits are scored once per model; --rescore-edits recomputes them from stored embeddings, so an edited
    frames file takes effect (here: no frames, so every core is the whole instruction)."""
    import shutil

    from editlens.warehouse import Warehouse

    root = tmp_path / "wh"
    shutil.copytree(embedded["warehouse"].root, root)
    wh = Warehouse.at(root)
    framed = embedded["edits"][4]["edit_id"]
    before = q(wh, f"select directional_instruction, directional_instruction_core from edit_scores "
                   f"where edit_id = '{framed}'")[0]
    assert before[0] != pytest.approx(before[1], abs=1e-6)
    none = tmp_path / "frames.csv"
    none.write_text("position,pattern\n")
    same = run_embed(cfg(wh, frames_file=none))
    assert same.edits_scored == 0  # scored already: untouched without --rescore-edits
    again = run_embed(cfg(wh, frames_file=none, rescore_edits=True))
    assert again.edits_scored == len(embedded["edits"]) and again.images_planned == 0
    assert q(wh, "select count(*), count(distinct edit_id) from edit_scores")[0] == (again.edits_scored,) * 2
    after = q(wh, f"select directional_instruction, directional_instruction_core from edit_scores "
                  f"where edit_id = '{framed}'")[0]
    assert after[0] == pytest.approx(before[0], abs=1e-9) and after[1] == pytest.approx(after[0], abs=1e-12)


def test_cpu_forward_slices_give_the_same_embeddings():
    """On CPU the model runs on slices of a decoded batch (cache-sized); the embeddings are the same as one
    forward pass over the whole batch."""
    import dataclasses

    from editlens.embeddings.encoder import CPU_FORWARD_BATCH, Encoder, default_batch_size
    from editlens.embeddings.models import load_model

    cpu = device_settings("cpu")
    assert cpu.forward_batch == CPU_FORWARD_BATCH and default_batch_size("cpu") >= CPU_FORWARD_BATCH
    assert device_settings("cuda", cuda_available=True).forward_batch is None
    loaded = load_model("editlens-tiny", None, device="cpu")
    s = loaded.spec.preprocess.size
    pix = np.stack([np.asarray(draw(40 + i).convert("RGB").resize((s, s))).transpose(2, 0, 1) for i in range(7)])
    whole = Encoder(loaded, dataclasses.replace(cpu, forward_batch=None)).images(pix)
    sliced = Encoder(loaded, dataclasses.replace(cpu, forward_batch=3)).images(pix)
    assert whole.shape == sliced.shape == (7, loaded.spec.embed_dim)
    np.testing.assert_allclose(sliced, whole, atol=1e-5)
    assert float(np.abs(whole[0] - whole[1]).max()) > 1e-3  # different pictures, different embeddings
