"""`rebatch`: a stream of Arrow record batches of any sizes -> tables of exactly `size` rows (the last smaller),
so that shard boundaries depend on the row order only, never on how a reader chunked its output."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa


def rebatch(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    """Tables of `size` rows (the last one shorter, none when the stream is empty), each in one chunk."""
    if size < 1:
        raise ValueError(f"rebatch size must be >= 1, got {size}")
    pending: list[pa.RecordBatch] = []
    n = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        n += batch.num_rows
        while n >= size:
            tbl = pa.Table.from_batches(pending).combine_chunks()
            yield tbl.slice(0, size)
            rest = tbl.slice(size)
            pending, n = (rest.to_batches() if rest.num_rows else []), rest.num_rows
    if n:
        yield pa.Table.from_batches(pending).combine_chunks()
