"""One reader per dataset format. Each reader has ``load(unit) -> (checksum, payload)`` (read the bytes, cheap)
and ``map(unit, payload, mapper)`` (parse, validate, emit canonical rows and rejects through the mapper)."""

from __future__ import annotations

from typing import Callable

from editlens.ingest.readers import hqedit, ip2p, magicbrush, mapped, seed, tabular
from editlens.ingest.readers.parquet import load as load_parquet

READERS: dict[str, tuple[Callable, Callable]] = {
    "seed-part1": (seed.load, seed.map_single),
    "seed-part2": (seed.load, seed.map_single),
    "seed-part3": (seed.load, seed.map_multi_turn),
    "ip2p-parquet": (load_parquet, ip2p.map_parquet),
    "ip2p-original": (ip2p.load_original, ip2p.map_original),
    "magicbrush-parquet": (load_parquet, magicbrush.map_parquet),
    "magicbrush-test": (magicbrush.load_test, magicbrush.map_test),
    "hqedit-parquet": (load_parquet, hqedit.map_parquet),
    "ultraedit-parquet": (load_parquet, tabular.map_parquet),
    "omniedit-parquet": (load_parquet, tabular.map_parquet),
    "anyedit-parquet": (load_parquet, tabular.map_parquet),
    "emu-edit-parquet": (load_parquet, tabular.map_parquet),
    "imgedit-benchmark": (mapped.load_imgedit, mapped.map_imgedit),
    "mapped": (mapped.load, mapped.map_records),
}
