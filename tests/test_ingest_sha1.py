"""The ingest's batch SHA-1: the optional C extension gives hashlib's digests byte for byte (ids are stable
whichever path runs), and refuses offsets that do not fit the data."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pyarrow as pa
import pytest

from editlens.ingest import ids


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abc xyz/._-" + "éü中文" + "\U0001F600"
    return [("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))) for _ in range(n)]


def _expected(values: list[str]) -> bytes:
    return b"".join(hashlib.sha1(v.encode("utf-8")).digest() for v in values)


@pytest.mark.parametrize("seed", [0, 1])
def test_fallback_digests_equal_hashlib(seed):
    values = _texts(seed, 500)
    assert ids.sha1_digests(pa.array(values, pa.string()), batch=None) == _expected(values)


def test_short_ids_are_hexdigest_prefixes():
    values = _texts(2, 50)
    got = ids.short_ids(ids.sha1_digests(pa.array(values, pa.string()), batch=None), 50).to_pylist()
    assert got == [hashlib.sha1(v.encode()).hexdigest()[:16] for v in values]


ext = pytest.importorskip("editlens.ingest._sha1batch", reason="the optional C extension is not built here")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_extension_digests_equal_hashlib(seed):
    values = _texts(seed, 1000)
    arr = pa.array(values, pa.string())
    assert ids.sha1_digests(arr, batch=ext.digests) == _expected(values)
    # a slice (non-zero array offset, offsets not starting at 0) and an all-empty array
    assert ids.sha1_digests(arr.slice(137, 400), batch=ext.digests) == _expected(values[137:537])
    assert ids.sha1_digests(pa.array([""] * 3, pa.string()), batch=ext.digests) == _expected([""] * 3)
    assert ids.sha1_digests(arr.slice(5, 0), batch=ext.digests) == b""


def test_mapper_uses_the_extension_when_built():
    assert ids._c_sha1 is ext.digests


@pytest.mark.parametrize("offsets", [[0, 5, 3], [0, 99], [-1, 2]])
def test_extension_refuses_offsets_outside_the_data(offsets):
    with pytest.raises(ValueError):
        ext.digests(b"0123456789", np.array(offsets, np.int32))


@pytest.mark.parametrize("offsets", [b"\x00\x00\x00", b""])
def test_extension_refuses_a_ragged_offsets_buffer(offsets):
    with pytest.raises(ValueError):
        ext.digests(b"0123456789", offsets)


def test_extension_gives_nothing_for_no_values():
    assert ext.digests(b"", np.array([0], np.int32)) == b""
