"""Image references and their checks: existence and symlink escapes (cached folder listings), embedded images."""

from __future__ import annotations

import os
from dataclasses import dataclass

from editlens.contract import tables as T
from editlens.ingest.fields import BadField


class ImageChecker:
    """Cheap image existence and symlink-escape checks: one directory listing per folder, cached.

    Lives as long as its worker process, so a folder holding a million images is listed once per process.
    ``enabled=False`` skips the file system entirely (``exists`` is then null, symlinks are not followed).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._listing: dict[str, tuple[frozenset, frozenset, bool] | None] = {}
        self._real: dict[str, str] = {}

    def _realpath(self, p: str) -> str:
        r = self._real.get(p)
        if r is None:
            r = self._real[p] = os.path.realpath(p)
        return r

    def _folder(self, folder: str, base_real: str):
        info = self._listing.get(folder, False)
        if info is False:
            info = None
            try:
                names, links = [], []
                with os.scandir(folder) as it:
                    for e in it:
                        names.append(e.name)
                        if e.is_symlink():
                            links.append(e.name)
                real = self._realpath(folder)
                inside = real == base_real or real.startswith(base_real + os.sep)
                info = (frozenset(names), frozenset(links), inside)
            except (FileNotFoundError, NotADirectoryError, PermissionError, OSError):
                info = None
            self._listing[folder] = info
        return info

    def check_many(self, image_root_abs: str, rels: list[str]) -> list[bool | None]:
        """``check`` for a column of paths: one listing lookup per distinct folder. Raises BadField when any path
        is unsafe (callers then fall back to ``check`` path by path)."""
        if not self.enabled:
            return [None] * len(rels)
        base_real = self._realpath(image_root_abs)
        if not os.path.isdir(image_root_abs):  # no images extracted at all (annotations-only download)
            return [False] * len(rels)
        split = [r.rpartition("/") for r in rels]
        folders = {d for d, _, _ in split}
        infos = {}
        for d in folders:
            info = self._folder(image_root_abs + "/" + d if d else image_root_abs, base_real)
            if info is not None and (not info[2] or info[1]):  # folder escapes, or holds symlinks: path by path
                return [self.check(image_root_abs, r) for r in rels]
            infos[d] = info[0] if info is not None else None
        if len(infos) == 1:
            (names,) = infos.values()
            if names is None:
                return [False] * len(rels)
            return [name in names for _, _, name in split]
        return [False if infos[d] is None else name in infos[d] for d, _, name in split]

    def check(self, image_root_abs: str, rel: str) -> bool | None:
        """Does ``image_root_abs/rel`` exist? Raises BadField(unsafe_path) when a symlink leads outside."""
        if not self.enabled:
            return None
        base_real = self._realpath(image_root_abs)
        d, _, name = rel.rpartition("/")
        folder = image_root_abs + "/" + d if d else image_root_abs
        info = self._folder(folder, base_real)
        if info is None:
            return False
        names, links, inside = info
        if not inside:
            raise BadField(T.UNSAFE_PATH, f"folder of {rel[:200]} resolves outside the dataset root")
        if name not in names:
            return False
        if name in links:
            real = os.path.realpath(folder + "/" + name)
            if not (real == base_real or real.startswith(base_real + os.sep)):
                raise BadField(T.UNSAFE_PATH, f"{rel[:200]} is a symlink pointing outside the dataset root")
            return os.path.exists(real)
        return True


@dataclass(frozen=True)
class ParquetImage:
    """An image embedded in a Parquet file: referenced in place, never copied."""

    path: str  # the Parquet file, relative to the dataset root
    row_group: int
    row: int  # 0-based row within the row group
    column: str  # e.g. ``source_img.bytes`` or ``image`` (plain binary)
    exists: bool | None

    @property
    def location(self) -> str:
        return f"{self.path}#rg={self.row_group}&row={self.row}&col={self.column}"
