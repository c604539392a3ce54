"""The dataset format names `editlens ingest --format` accepts (one reader each, except `seed`, which picks the
SEED-Data-Edit part from the folder layout). Kept here so that the command's `--help` lists them without
importing the readers; `editlens.ingest.readers.READERS` implements exactly these (a test checks it)."""

from __future__ import annotations

FORMATS: tuple[str, ...] = (
    "seed",
    "seed-part1",
    "seed-part2",
    "seed-part3",
    "ip2p-parquet",
    "ip2p-original",
    "magicbrush-parquet",
    "magicbrush-test",
    "hqedit-parquet",
    "ultraedit-parquet",
    "omniedit-parquet",
    "anyedit-parquet",
    "emu-edit-parquet",
    "imgedit-benchmark",
    "mapped",
)
