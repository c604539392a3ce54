"""`editlens export`: apply a policy file to a built warehouse and write the kept edits in a format, with a
data card beside them. Output is written to a hidden temporary folder next to OUT and renamed into place, so
OUT holds a whole previous export or a whole new one; an existing OUT is replaced only when it is an export
(it holds `datacard.json`)."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from editlens.contract import UnusableInput
from editlens.contract.resources import DuckDBResources
from editlens.contract.resources import connect as resources_connect
from editlens.export.card import build_card, card_json, card_markdown
from editlens.export.policy import Policy, PolicyError, load_policy
from editlens.export.rows import kept_rows
from editlens.export.select import Selection, evaluate
from editlens.export.writers import FORMATS, IMAGE_MODES, WRITERS
from editlens.warehouse import Warehouse

CARD_JSON, CARD_MD = "datacard.json", "datacard.md"


class UnusableExport(UnusableInput):
    """Unusable input or output folder for an export (exit code 2)."""


@dataclass(frozen=True)
class ExportConfig:
    warehouse: Warehouse
    policy: Path
    format: str
    out: Path
    images: str = "copy"


@dataclass(frozen=True)
class ExportSummary:
    out: Path
    policy: Policy
    selection: Selection
    files: list[str]
    n_images: int

    def describe(self) -> str:
        s = self.selection
        return (f"policy {self.policy.name}: kept {s.n_kept:,} of {s.n_in:,} edits "
                f"({s.n_in - s.n_kept:,} removed); {len(self.files)} file(s), {self.n_images:,} image(s) "
                f"-> {self.out} (card: {self.out / CARD_MD})")


def connect(wh: Warehouse) -> duckdb.DuckDBPyConnection:
    if not wh.duckdb_path.is_file():
        raise UnusableExport(f"no built warehouse at {wh.root} (run `editlens build`)")
    try:
        # the contract's memory limit and spill folder; rows keep their order (the exported files list them so)
        res = replace(DuckDBResources.from_env("4GB", temp_directory=wh.spill_dir),
                      preserve_insertion_order=True)
        return resources_connect(res, str(wh.duckdb_path), read_only=True)
    except duckdb.Error as exc:
        raise UnusableExport(f"cannot open {wh.duckdb_path}: {str(exc).splitlines()[0]}") from None


def policies_dir(wh: Warehouse) -> Path:
    """Where policies versioned with the warehouse live (the dashboard saves there)."""
    return wh.root / "policies"


def resolve_policy(wh: Warehouse, policy: Path) -> Path:
    """A policy path as given, else the warehouse's saved policy of that name (`DIR/policies/<name>.yaml`)."""
    p = Path(policy)
    if p.is_file() or len(p.parts) > 1:
        return p
    saved = policies_dir(wh) / (p.name if p.suffix in (".yaml", ".yml") else f"{p.name}.yaml")
    return saved if saved.is_file() else p


def _check_out(out: Path) -> None:
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / CARD_JSON).is_file())):
        raise UnusableExport(f"{out} exists and is not an earlier export (no {CARD_JSON}): choose another folder")


def _publish(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_export(cfg: ExportConfig) -> ExportSummary:
    if cfg.format not in FORMATS:
        raise UnusableExport(f"unknown format {cfg.format!r}; formats: {', '.join(FORMATS)}")
    if cfg.images not in IMAGE_MODES:
        raise UnusableExport(f"unknown images mode {cfg.images!r}; modes: {', '.join(IMAGE_MODES)}")
    policy = load_policy(resolve_policy(cfg.warehouse, cfg.policy))
    out = Path(cfg.out).expanduser().resolve()
    _check_out(out)
    con = connect(cfg.warehouse)
    try:
        sel = evaluate(con, policy)
        rows = kept_rows(con)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            files, n_images = WRITERS[cfg.format](rows, tmp, cfg.images)
            card = build_card(con, policy, sel, fmt=cfg.format, images=cfg.images, files=files, n_images=n_images)
            (tmp / CARD_JSON).write_text(card_json(card), encoding="utf-8")
            (tmp / CARD_MD).write_text(card_markdown(card), encoding="utf-8")
            (tmp / "policy.yaml").write_text(policy.source_text, encoding="utf-8")
            _publish(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        con.close()
    return ExportSummary(out, policy, sel, files, n_images)


__all__ = ["ExportConfig", "ExportSummary", "PolicyError", "UnusableExport", "run_export"]
