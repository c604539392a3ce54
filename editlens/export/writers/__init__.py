"""One writer per export format; each takes the kept rows and a folder, writes its files, returns their paths
(relative to the folder) and the number of images it copied."""

from __future__ import annotations

from editlens.export.writers import manifest, parquet, seed

WRITERS = {"seed": seed.write, "parquet": parquet.write, "manifest": manifest.write}
FORMATS = tuple(WRITERS)
IMAGE_MODES = ("copy", "reference")
