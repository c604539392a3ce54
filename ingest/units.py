"""Work units: the grain of parallelism, of change detection and of output shards (usually one annotation file)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Unit:
    dataset: str  # seed-data-edit, instructpix2pix, magicbrush, hq-edit
    part: str  # part1-openimages, ..., or the peer release name
    split: str
    reader: str  # a name from ingest.formats (seed-part1, ip2p-parquet, ...)
    root: str  # absolute dataset (repo) root
    source_file: str  # the annotation file, relative to root
    image_root: str = ""  # folder image paths are relative to, relative to root ('' = root)
    unit: str = ""  # unit name when it is not the whole source_file (chunks of seeds.json)
    params: tuple = field(default=(), compare=False)  # reader-specific (e.g. the seeds.json entries of a chunk)

    @property
    def name(self) -> str:
        return self.unit or self.source_file

    @property
    def shard(self) -> str:
        """Output shard name: stable for the same dataset file, whatever path the dataset was given by."""
        h = hashlib.sha1(f"{self.dataset}\x1f{self.name}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"{self.dataset}-{h}"
