"""Work units: the grain of parallelism, of change detection and of output shards (usually one annotation file)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Unit:
    dataset: str  # seed-data-edit, instructpix2pix, magicbrush, hq-edit
    part: str  # part1-openimages, ..., or the peer release name
    split: str
    reader: str  # a name from editlens.ingest.formats (seed-part1, ip2p-parquet, ...)
    root: str  # absolute dataset (repo) root
    source_file: str  # the annotation file, relative to root
    image_root: str = ""  # folder image paths are relative to, relative to root ('' = root)
    unit: str = ""  # unit name when it is not the whole source_file (chunks of seeds.json)
    params: tuple = field(default=(), compare=False)  # reader-specific (e.g. the seeds.json entries of a chunk)
    identity: str = ""  # content checksum, for files whose location alone does not identify them (loose files)
    image_dir: str = ""  # absolute folder the record's image paths are relative to (``--image-root``); '' = layout

    @property
    def name(self) -> str:
        return self.unit or self.source_file

    @property
    def shard(self) -> str:
        """Output shard name: the file's dataset-relative location (plus, for loose files, its content checksum),
        so the same file typed by any path is one shard and two different files never share one."""
        key = f"{self.dataset}\x1f{self.name}" + (f"\x1f{self.part}\x1f{self.identity}" if self.identity else "")
        h = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"{self.dataset}-{h}"
