"""EditLens ingest: dataset files as they ship -> canonical Parquet tables (edits, images, rejects, ingest_runs).

Entry point: ``ingest.main.run_ingest(IngestConfig(...))``. ``formats`` lists the reader names ``--format``
accepts (``seed`` auto-detects the SEED-Data-Edit part from the folder layout).
"""

formats: tuple[str, ...] = (
    "seed",
    "seed-part1",
    "seed-part2",
    "seed-part3",
    "ip2p-parquet",
    "ip2p-original",
    "magicbrush-parquet",
    "magicbrush-test",
    "hqedit-parquet",
)
FORMATS = formats

__all__ = ["formats", "FORMATS"]
