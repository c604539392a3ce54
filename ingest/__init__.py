"""EditLens ingest: dataset files as they ship -> canonical Parquet tables (edits, images, rejects, ingest_runs).

Entry point: ``editlens.ingest.main.run_ingest(IngestConfig(...))``. ``formats`` lists the reader names ``--format``
accepts (``seed`` auto-detects the SEED-Data-Edit part from the folder layout).
"""

from editlens.contract.formats import FORMATS

formats = FORMATS  # the names are written once, in editlens.contract.formats

__all__ = ["formats", "FORMATS"]
