"""Lookups by id before the warm-up's row index exists (the first renders after a rebuild): same answers as after."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import copy_marts
from editlens.dashboards import data


@pytest.fixture(scope="module")
def wh(tmp_path_factory, built_warehouse) -> Path:
    """The built test marts, with an image_locations mart that holds two parts of one dataset in separate row groups, sorted by
    dataset and part as the dbt model writes it."""
    root = copy_marts(built_warehouse, tmp_path_factory.mktemp("cold"))
    p = root / "marts" / "image_locations.parquet"
    imgs = pq.read_table(p).to_pandas()
    half = len(imgs) // 2
    imgs = imgs.assign(dataset="d1", part=["p1"] * half + ["p2"] * (len(imgs) - half))
    pq.write_table(pa.Table.from_pandas(imgs, preserve_index=False), p, row_group_size=half)
    return root


def _fresh(root: Path) -> data.Marts:
    m = data.Marts.open(root)
    data.reset()  # as after a rebuild: no row index yet, the warm-up not started
    return m


def test_image_refs_with_dataset_and_part_hints_find_the_same_rows(wh):
    m = _fresh(wh)
    imgs = m.query("select image_id, part from image_locations order by image_id")
    in_p1 = imgs.loc[imgs["part"] == "p1", "image_id"].tolist()[:2]
    in_p2 = imgs.loc[imgs["part"] == "p2", "image_id"].tolist()[:2]
    ids = [*in_p1, *in_p2, "ffffffffffffffff", "not-hex"]
    assert data.row_index(m, build=False, table="image_locations") is None
    plain = data.image_refs(m, ids)
    # hinted with p1 only: the p2 ids are found by the dataset-wide second look; unknown ids stay unknown
    hinted = data.image_refs(m, ids, ["d1"], ["p1"])
    assert set(plain) == set(hinted) == {*in_p1, *in_p2}
    assert plain == hinted
    # a wrong dataset hint finds nothing (an image id is a hash of its dataset: it cannot be elsewhere)
    assert data.image_refs(m, in_p1, ["other"], []) == {}
    data.warm_up(m, wait=True)
    assert data.row_index(m, build=False, table="image_locations") is not None
    assert data.image_refs(m, ids, ["d1"], ["p1"]) == plain
    for i, ref in plain.items():
        assert ref["image_id"] == i and set(imgs.loc[imgs["image_id"] == i, "part"]) <= {"p1", "p2"}
        assert ref["location_kind"] in ("file", "parquet")


def test_rows_by_id_before_the_index_keeps_order_and_drops_unknown_ids(wh):
    m = _fresh(wh)
    edits = pq.read_table(wh / "marts" / "edits.parquet").to_pandas()
    ids = [edits["edit_id"].iloc[i] for i in (150, 3, 77)] + ["0000000000000bad"]
    cols = ["edit_id", "dataset", "instruction", "source_image_id"]
    assert data.row_index(m, build=False) is None
    got = data.rows_by_id(m, ids, cols)
    want = edits.set_index("edit_id").loc[ids[:3]].reset_index()[cols]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)
    assert data.rows_by_id(m, ["0000000000000bad"], cols).empty
    data.warm_up(m, wait=True)
    assert data.row_index(m, build=False) is not None
    pd.testing.assert_frame_equal(data.rows_by_id(m, ids, cols), got, check_dtype=False)
