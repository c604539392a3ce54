"""The browse stage of the embed job: the 2-D projection, the neighbour index against exact search, and the
tables it writes on the bundled sample."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from editlens.contract import index as ix
from editlens.contract.errors import UnusableInput
from editlens.embeddings.browse import BrowseConfig, fit_pca, fit_umap, umap_available


def test_pca_recovers_the_two_main_axes_with_fixed_signs():
    rng = np.random.default_rng(0)
    n, d = 400, 16
    a, b = rng.normal(0, 5.0, n), rng.normal(0, 2.0, n)
    a, b = a - a.mean(), b - b.mean()
    b -= a * (a @ b) / (a @ a)  # uncorrelated in the sample: the principal axes are exactly e3 and e7
    e1, e2 = np.eye(d)[3], np.eye(d)[7]
    x = np.outer(a, e1) + np.outer(b, e2) + 1.5
    p = fit_pca(x)
    # axis 1 is e3, axis 2 is e7, each with its largest loading positive
    assert np.allclose(np.abs(p.components[0]), e1, atol=0.01) and p.components[0, 3] > 0
    assert np.allclose(np.abs(p.components[1]), e2, atol=0.01) and p.components[1, 7] > 0
    xy = p.transform(x.astype(np.float32))
    assert np.allclose(xy[:, 0], a - a.mean(), atol=0.05)
    assert np.allclose(xy[:, 1], b - b.mean(), atol=0.05)
    # the same picture from flipped input (signs are fixed by the loadings, not by the SVD)
    p2 = fit_pca(-x)
    assert p2.components[0, 3] > 0 and np.allclose(p2.transform(-x.astype(np.float32))[:, 0], -xy[:, 0], atol=1e-3)


def test_pca_of_too_few_points_is_all_zero():
    p = fit_pca(np.ones((1, 4)))
    assert np.all(p.transform(np.ones((3, 4), np.float32)) == 0)


@pytest.mark.skipif(umap_available(), reason="umap-learn installed: the missing-package error cannot happen")
def test_umap_without_the_package_is_a_clear_error():
    with pytest.raises(UnusableInput, match="umap-learn"):
        fit_umap(np.ones((5, 4)))


def _vectors(n: int, d: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _exact(v: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    vv = v.astype(np.float16).astype(np.float32)  # what the index stores
    return list(np.argsort(-(vv @ (q / np.linalg.norm(q))), kind="stable")[:k])


def _build(tmp_path, v: np.ndarray, hnsw: bool = True, batch: int = 97):
    w = ix.IndexWriter(tmp_path / "m" / "image", v.shape[1], {"model_key": "m", "space": "image"}, hnsw=hnsw)
    ids = [f"e{i:05d}" for i in range(len(v))]
    for s in range(0, len(v), batch):
        w.add(ids[s:s + batch], v[s:s + batch])
    return w.close(), ids


@pytest.mark.parametrize("hnsw", [True, False])
def test_index_neighbours_equal_exact_search(tmp_path, hnsw):
    if hnsw and not ix.usearch_available():
        pytest.skip("usearch not installed (pip install 'editlens[browse]')")
    v = _vectors(600, 32, 1)
    folder, ids = _build(tmp_path, v, hnsw=hnsw)
    idx = ix.NeighbourIndex.open(folder)
    assert idx.backend == ("usearch HNSW" if hnsw else "exact scan")
    assert len(idx) == 600 and idx.meta["rows"] == 600 and idx.meta["hnsw"] is hnsw
    for qi in (0, 17, 345, 599):
        got = idx.search(v[qi], k=10)
        want = _exact(v, v[qi], 10)
        assert [e for e, _ in got] == [ids[i] for i in want]
        assert got[0][0] == ids[qi] and got[0][1] == pytest.approx(1.0, abs=2e-3)
        sims = [s for _, s in got]
        assert sims == sorted(sims, reverse=True)
    # a stored row's vector is the query of "edits like this one"
    assert np.allclose(idx.vector("e00017"), v[17], atol=2e-3)
    assert idx.vector("nope") is None


def test_exact_scan_crosses_block_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(ix, "EXACT_BLOCK_ROWS", 50)
    v = _vectors(333, 8, 2)
    folder, ids = _build(tmp_path, v, hnsw=False)
    idx = ix.NeighbourIndex.open(folder, use_hnsw=False)
    q = _vectors(1, 8, 3)[0]
    assert [e for e, _ in idx.search(q, 25)] == [ids[i] for i in _exact(v, q, 25)]
    assert len(idx.search(q, 1000)) == 333


def test_index_rebuild_replaces_the_folder_whole(tmp_path):
    folder, _ = _build(tmp_path, _vectors(50, 8, 4), hnsw=False)
    folder2, _ = _build(tmp_path, _vectors(70, 8, 5), hnsw=False)
    assert folder == folder2 and json.loads((folder / "meta.json").read_text())["rows"] == 70
    assert [p.name for p in folder.parent.iterdir()] == ["image"]  # no temporary or old folder left
    assert ix.open_indexes(tmp_path) == {}  # open_indexes looks under DIR/index


def test_empty_index_searches_to_nothing(tmp_path):
    w = ix.IndexWriter(tmp_path / "index" / "k" / "instruction", 8, {}, hnsw=False)
    idx = ix.NeighbourIndex.open(w.close())
    assert len(idx) == 0 and idx.search(np.ones(8), 5) == []
    assert ix.open_indexes(tmp_path) == {("k", "instruction"): tmp_path / "index" / "k" / "instruction"}


# --- on the bundled sample (ingest + embed of the shared test pipeline) -----------------------------------------


@pytest.fixture(scope="module")
def sample_wh(pipeline):
    return pipeline(300, 7).warehouse


def _sql(wh, sql: str):
    return duckdb.sql(sql.replace("{P}", str(wh.parquet_dir))).fetchall()


def test_embed_writes_a_projection_per_edit_and_space(sample_wh):
    wh = sample_wh
    (key,) = [r[0] for r in _sql(wh, "select distinct model_key from '{P}/edit_scores/*.parquet'")]
    rows = dict(_sql(wh, "select space, count(*) from '{P}/edit_projections/*.parquet' group by 1"))
    n_edits = _sql(wh, "select count(distinct edit_id) from '{P}/edits/*.parquet'")[0][0]
    # every edit with an instruction embedding is on the instruction map; the image map needs a readable source
    n_src = _sql(wh, """
        select count(distinct e.edit_id) from '{P}/edits/*.parquet' e
        join '{P}/image_facts/*.parquet' f on f.image_id = e.source_image_id
        join '{P}/image_embeddings/*.parquet' m on m.sha256 = f.sha256""")[0][0]
    assert rows["instruction"] == n_edits and rows["image"] == n_src and 0 < rows["direction"] <= n_src
    assert _sql(wh, "select count(*) from (select edit_id, space from '{P}/edit_projections/*.parquet' "
                    "group by all having count(*) > 1)")[0][0] == 0
    for space in ("image", "instruction"):
        idx = ix.NeighbourIndex.open(ix.index_dir(wh.root, key, space))
        assert len(idx) == rows[space] and idx.meta["model_key"] == key
    # the map's coordinates are the PCA of the stored embeddings (recomputed here over all source images)
    emb = _sql(wh, """
        select e.edit_id, m.embedding, p.x, p.y from '{P}/edits/*.parquet' e
        join '{P}/image_facts/*.parquet' f on f.image_id = e.source_image_id
        join '{P}/image_embeddings/*.parquet' m on m.sha256 = f.sha256
        join '{P}/edit_projections/*.parquet' p on p.edit_id = e.edit_id and p.space = 'image'
        order by e.edit_id""")
    x = np.array([r[1] for r in emb], dtype=np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    want = fit_pca(x).transform(x.astype(np.float32))
    assert np.allclose(np.array([[r[2], r[3]] for r in emb]), want, atol=1e-3)


def test_browse_config_defaults():
    assert BrowseConfig().method == "pca" and BrowseConfig().fit_sample >= 10_000
