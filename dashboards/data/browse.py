"""Queries of the map and similarity pages: the edit map's spaces and a sample of its points, the edits in a
map region, and nearest edits through the embed job's neighbour indexes (``editlens.contract.index``).

The map draws a uniform random sample: the N lowest ``sample_key`` values (a fixed hash of the edit id) of a
model, space and method, one top-N query (never all 3.77M points into the page), with the quality flags of those
N edits joined from ``edit_quality_flags``. A region selected on the sample is applied to every edit of the space
(the explorer's map filter).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from editlens.contract.index import NeighbourIndex, index_dir, open_indexes
from editlens.dashboards.data.connection import Marts

SPACE_LABELS = {
    "image": "Source image",
    "instruction": "Instruction",
    "direction": "Edit direction (target − source image)",
}
MAP_POINTS_DEFAULT = 5_000
MAP_POINTS_MAX = 20_000


@dataclass(frozen=True)
class Region:
    """A rectangle of one map: model, space, method and x/y bounds (the explorer's ``map`` URL parameter)."""

    model_key: str
    space: str
    method: str
    x0: float
    x1: float
    y0: float
    y1: float

    def encode(self) -> str:
        return ":".join([self.model_key, self.space, self.method] + [f"{v:.5g}" for v in
                                                                       (self.x0, self.x1, self.y0, self.y1)])

    @classmethod
    def decode(cls, s: str | None) -> Region | None:
        if not s:
            return None
        try:
            key, space, method, *b = s.split(":")
            x0, x1, y0, y1 = (float(v) for v in b)
        except ValueError:
            return None
        return cls(key, space, method, min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1))

    def sql(self, params: list, alias: str = "e") -> str:
        params.extend([self.model_key, self.space, self.method, self.x0, self.x1, self.y0, self.y1])
        return (f"{alias}.edit_id in (select edit_id from edit_map where model_key = ? and space = ? and method = ? "
                "and x between ? and ? and y between ? and ?)")


def map_spaces(m: Marts) -> pd.DataFrame:
    """model_key, space, method, n_edits of every map in the mart."""
    m.require("edit_map")
    return m.df("select model_key, space, method, count(*) as n_edits from edit_map "
                "group by all order by model_key, space, method")


def map_points(m: Marts, model_key: str, space: str, method: str, n: int) -> pd.DataFrame:
    """The ``n`` lowest sample keys of a map: its first points in a fixed hash order (a uniform random sample)."""
    m.require("edit_map", "edit_quality_flags")
    return m.df("""with drawn as (
                       select edit_id, x, y, dataset, part, label, instruction, sample_key from edit_map
                       where model_key = ? and space = ? and method = ? order by sample_key, edit_id limit ?)
                   select drawn.edit_id, drawn.x, drawn.y, drawn.dataset, drawn.part, drawn.label,
                       coalesce(f.quality_flags, []::varchar[]) as quality_flags,
                       coalesce(f.n_quality_flags, 0) as n_quality_flags, drawn.instruction
                   from drawn left join edit_quality_flags as f using (edit_id)
                   order by drawn.sample_key, drawn.edit_id""",
                [model_key, space, method, int(n)])


def region_count(m: Marts, r: Region) -> int:
    """Edits of the whole map (not only the drawn sample) inside the region: one scan of the map's columns."""
    m.require("edit_map")
    return int(m.df("""select count(*) as n from edit_map where model_key = ? and space = ? and method = ?
                       and x between ? and ? and y between ? and ?""",
                    [r.model_key, r.space, r.method, r.x0, r.x1, r.y0, r.y1])["n"].iloc[0])


# --- similarity ----------------------------------------------------------------------------------------------------


def indexes(m: Marts) -> dict[tuple[str, str], Path]:
    """(model_key, space) -> index folder, for every index the embed job built."""
    return open_indexes(m.root)


def _index_version(folder: Path) -> tuple:
    try:
        s = (folder / "meta.json").stat()
        return (s.st_mtime_ns, s.st_size)
    except FileNotFoundError:
        return ()


@st.cache_resource(show_spinner=False, max_entries=8)
def _open_index(folder: str, version: tuple) -> NeighbourIndex:
    return NeighbourIndex.open(Path(folder))


def index(m: Marts, model_key: str, space: str) -> NeighbourIndex | None:
    folder = index_dir(m.root, model_key, space)
    v = _index_version(folder)
    return _open_index(str(folder), v) if v else None


def similar_to_edit(m: Marts, model_key: str, space: str, edit_id: str, k: int) -> pd.DataFrame | None:
    """The ``k`` edits nearest to ``edit_id`` in ``space`` (the edit itself excluded); None when the edit has no
    vector in that index."""
    idx = index(m, model_key, space)
    if idx is None:
        return None
    q = idx.vector(edit_id)
    if q is None:
        return None
    hits = [(e, s) for e, s in idx.search(q, k + 1) if e != edit_id][:k]
    return pd.DataFrame(hits, columns=["edit_id", "similarity"])


@st.cache_resource(show_spinner=False, max_entries=2)
def _text_encoder(model_name: str, load_pretrained: str | None, model_key: str):
    from editlens.embeddings.encoder import Encoder, device_settings
    from editlens.embeddings.models import RANDOM_TAG, load_model

    loaded = load_model(model_name, load_pretrained, device="cpu",
                        allow_random_weights=load_pretrained is None and model_name != "editlens-tiny")
    if loaded.spec.key != model_key:
        raise ValueError(
            f"the model loaded for text search ({model_name}, key {loaded.spec.key}) is not the one the index "
            f"was built with (key {model_key}); text search needs the same weights"
            + (" (random weights cannot be reloaded)" if loaded.spec.pretrained == RANDOM_TAG else ""))
    return Encoder(loaded, device_settings("cpu"))


def text_vector(m: Marts, model_key: str, text: str) -> np.ndarray:
    """``text`` through the index's model's text tower (loaded once per app)."""
    idx = index(m, model_key, "image")
    if idx is None:
        raise ValueError("no image index: run `editlens embed`")
    enc = _text_encoder(idx.meta["model_name"], idx.meta.get("load_pretrained"), model_key)
    return np.asarray(enc.texts([text])[0], dtype=np.float32)


def similar_to_text(m: Marts, model_key: str, text: str, k: int) -> pd.DataFrame:
    """The ``k`` edits whose source image is nearest to ``text`` (the model's text tower)."""
    idx = index(m, model_key, "image")
    q = text_vector(m, model_key, text)
    return pd.DataFrame(idx.search(q, k), columns=["edit_id", "similarity"])


CARD_COLUMNS = ("edit_id", "dataset", "part", "split", "instruction", "source_image_id", "target_image_id")


def edit_rows(m: Marts, ids: list[str]) -> pd.DataFrame:
    """The card columns of a few edits, in the order given."""
    from editlens.dashboards.data.lookup import rows_by_id

    have = set(m.columns("edits"))
    return rows_by_id(m, ids, [c for c in CARD_COLUMNS if c in have])
