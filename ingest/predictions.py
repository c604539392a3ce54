"""`editlens predictions MODEL_NAME DIR --benchmark B`: one editing model's outputs for a benchmark that ingest
already loaded, as `predictions` rows (reader: the benchmark's edits from the warehouse and the output layout ->
mapper: match outputs to edits -> writer: one atomic file per model and benchmark).

Output layouts (auto-detected from DIR, or `--layout`):
  magicbrush  ``<img_id>/<img_id>_1.png`` (turn 1, both settings), ``<img_id>/<img_id>_inde_<k>.png`` (turn k from
              the ground-truth input), ``<img_id>/<img_id>_iter_<k>.png`` (turn k of iterative editing)
  emu-edit    Hugging Face Parquet files (Emu Edit's generations dataset) with an ``edited_image`` per test row,
              matched on ``idx`` (else ``hash``)
  imgedit     ``<key>.png`` per entry of the ImgEdit-Bench JSON (any image extension), in DIR or below it
  mapping     a CSV or JSON Lines file: ``edit_id`` or ``key`` (+ optional ``turn``, ``setting``) and ``path``
              (relative to the mapping file's folder, or absolute)

Every benchmark edit gets one row per setting: ``ok`` with the output's location, or ``missing``; an output that
names no benchmark edit is an ``unmatched`` row. Nothing is dropped: ok + missing = benchmark edits x settings.
Unreadable outputs are found when embed decodes them (`prediction_scores.status`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pyarrow as pa

from editlens.contract.errors import UnusableInput
from editlens.contract.tables import PREDICTION_SCHEMAS, PREDICTIONS
from editlens.warehouse import Warehouse, atomic_write_table

LAYOUTS = ("magicbrush", "emu-edit", "imgedit", "mapping")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MB_NAME = re.compile(r"^(?P<sid>.+?)_(?:(?P<setting>inde|iter)_)?(?P<turn>\d+)$")


@dataclass(frozen=True)
class PredictionsConfig:
    warehouse: Warehouse
    model_name: str
    path: Path
    benchmark: str
    layout: str | None = None  # None: detect from `path`
    split: str | None = None   # None: the benchmark's `test` split when it has one, else every edit
    part: str | None = None    # only this part of the benchmark's dataset (e.g. held-out edits)


@dataclass
class PredictionsSummary:
    model_name: str
    benchmark: str
    layout: str
    split: str | None
    out: Path
    expected: int = 0
    counts: dict = field(default_factory=dict)

    def describe(self) -> str:
        c = self.counts
        ok, missing, unmatched, unsafe = (c.get(k, 0) for k in ("ok", "missing", "unmatched", "unsafe_path"))
        return "\n".join([
            f"predictions of {self.model_name} on {self.benchmark} ({self.layout} layout"
            + (f", split {self.split}" if self.split else "") + ")",
            f"{self.expected} benchmark edits x settings: {ok} outputs found, {missing} missing"
            + (f", {unsafe} unusable paths" if unsafe else ""),
            f"{unmatched} outputs name no benchmark edit (unmatched)",
            f"written to {self.out}",
        ])


@dataclass(frozen=True)
class BenchEdit:
    edit_id: str
    key: str
    turn: int
    multi_turn: bool


@dataclass
class Output:
    """One output found in the layout: what it names and where it is."""

    key: str | None
    turn: int
    setting: str | None  # None: every setting of the layout (MagicBrush turn 1)
    edit_id: str | None = None
    location: dict = field(default_factory=dict)
    status: str = "ok"
    message: str | None = None


# ---- reader: the benchmark's edits ---------------------------------------------------------------------------

def benchmark_edits(wh: Warehouse, benchmark: str, split: str | None,
                    part: str | None = None) -> tuple[list[BenchEdit], str | None]:
    """The benchmark's edits from the warehouse, each with its own key: MagicBrush `img_id` (session), Emu Edit
    `idx`, ImgEdit entry key, else the edit id. Emu Edit's generations part is a model's output, not the
    benchmark: its test-set part is used when both are loaded."""
    import duckdb

    if not wh.has_table("edits"):
        raise UnusableInput(f"no ingest tables under {wh.parquet_dir}: ingest the benchmark first")
    con = duckdb.connect()
    src = f"read_parquet('{wh.table_glob('edits')}', union_by_name = true)"
    parts = {p for (p,) in con.execute(f"select distinct part from {src} where dataset = ?", [benchmark]).fetchall()}
    if not parts:
        known = [d for (d,) in con.execute(f"select distinct dataset from {src} order by 1").fetchall()]
        raise UnusableInput(f"no edits of benchmark {benchmark!r} in the warehouse (datasets: {', '.join(known)}): "
                            "ingest the benchmark first")
    where, params = "dataset = ?", [benchmark]
    if part is not None:
        if part not in parts:
            raise UnusableInput(f"benchmark {benchmark!r} has no part {part!r} (parts: {sorted(map(str, parts))})")
        where += " and part = ?"
        params.append(part)
    elif benchmark == "emu-edit" and "test-set" in parts:
        where += " and part = 'test-set'"
    splits = {s for (s,) in con.execute(f"select distinct split from {src} where {where}", params).fetchall()}
    if split is None and "test" in splits:
        split = "test"
    if split is not None:
        if split not in splits:
            raise UnusableInput(f"benchmark {benchmark!r} has no split {split!r} (splits: {sorted(map(str, splits))})")
        where += " and split = ?"
        params.append(split)
    rows = con.execute(f"""
        select edit_id, any_value(session_id), any_value(turn_index),
               coalesce(any_value(json_extract_string(extra, '$.idx')), any_value(json_extract_string(extra, '$.key'))),
               any_value(json_extract_string(extra, '$.hash'))
        from {src} where {where} group by edit_id order by 1""", params).fetchall()
    con.close()
    out = []
    for edit_id, session, turn, key, hsh in rows:
        k = session if session is not None else (key if key is not None else edit_id)
        out.append(BenchEdit(edit_id, str(k), int(turn or 1), session is not None))
        if hsh is not None and benchmark == "emu-edit":  # Emu Edit rows are matched on idx, else on hash
            out.append(BenchEdit(edit_id, "hash:" + str(hsh), int(turn or 1), False))
    return out, split


# ---- reader: the outputs, per layout ---------------------------------------------------------------------------

def detect_layout(path: Path) -> str:
    if not path.exists():
        raise UnusableInput(f"{path} does not exist")
    if path.is_file():
        if path.suffix.lower() in (".csv", ".jsonl"):
            return "mapping"
        if path.suffix.lower() == ".parquet":
            return "emu-edit"
        raise UnusableInput(f"{path}: unknown predictions layout (a file must be a .csv or .jsonl mapping, or a "
                            "Parquet file of Emu Edit generations)")
    if any(path.rglob("*.parquet")):
        return "emu-edit"
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        for f in sub.iterdir():
            m = MB_NAME.match(f.stem)
            if m and m.group("sid") == sub.name and f.suffix.lower() in IMAGE_EXTS:
                return "magicbrush"
    if any(f.suffix.lower() in IMAGE_EXTS for f in path.rglob("*") if f.is_file()):
        return "imgedit"
    raise UnusableInput(f"{path}: unknown predictions layout: no MagicBrush <img_id>/<img_id>_1.png folders, no "
                        "Emu Edit Parquet, no <key>.png images; give a mapping file (CSV/JSONL: edit_id or key, path)")


def _file(root: Path, rel: str) -> dict:
    return {"location_kind": "file", "root": str(root), "path": rel}


def read_magicbrush(root: Path) -> list[Output]:
    out = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        m = MB_NAME.match(f.stem)
        if f.suffix.lower() not in IMAGE_EXTS or not m or f.parent.name != m.group("sid"):
            out.append(Output(None, 1, None, location=_file(root, rel), status="unmatched",
                              message="not a MagicBrush output name (<img_id>/<img_id>_[inde_|iter_]<turn>.png)"))
            continue
        out.append(Output(m.group("sid"), int(m.group("turn")), m.group("setting"), location=_file(root, rel)))
    return out


def read_imgedit(root: Path) -> list[Output]:
    return [Output(f.stem, 1, "single", location=_file(root, f.relative_to(root).as_posix()))
            if f.suffix.lower() in IMAGE_EXTS else
            Output(None, 1, None, location=_file(root, f.relative_to(root).as_posix()), status="unmatched",
                   message="not an image")
            for f in sorted(p for p in root.rglob("*") if p.is_file())]


def read_emu_edit(path: Path) -> tuple[Path, list[Output]]:
    import pyarrow.parquet as pq

    root = path.parent if path.is_file() else path
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    out = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        try:
            pf = pq.ParquetFile(f)
        except Exception as exc:  # noqa: BLE001 - an unreadable file is named, not a crash
            out.append(Output(None, 1, None, location=_file(root, rel), status="unmatched",
                              message=f"unreadable parquet: {type(exc).__name__}: {exc}"))
            continue
        names = pf.schema_arrow.names
        if "edited_image" not in names or not ({"idx", "hash"} & set(names)):
            out.append(Output(None, 1, None, location=_file(root, rel), status="unmatched",
                              message="not Emu Edit generations (needs edited_image and idx or hash columns)"))
            continue
        typ = pf.schema_arrow.field("edited_image").type
        column = "edited_image.bytes" if pa.types.is_struct(typ) else "edited_image"
        for rg in range(pf.num_row_groups):
            cols = [c for c in ("idx", "hash") if c in names]
            t = pf.read_row_group(rg, columns=cols + ["edited_image"])
            img = t.column("edited_image").combine_chunks()
            nulls = img.is_null().to_pylist()
            if pa.types.is_struct(typ):
                nulls = [a or b for a, b in zip(nulls, img.field("bytes").is_null().to_pylist())]
            idx = t.column("idx").to_pylist() if "idx" in cols else [None] * t.num_rows
            hsh = t.column("hash").to_pylist() if "hash" in cols else [None] * t.num_rows
            for i in range(t.num_rows):
                key = str(idx[i]) if idx[i] is not None else (f"hash:{hsh[i]}" if hsh[i] is not None else None)
                loc = {"location_kind": "parquet", "root": str(root), "path": rel, "row_group": rg, "row": i,
                       "column": column}
                if nulls[i]:
                    out.append(Output(key, 1, "single", status="missing", message="edited_image is null"))
                else:
                    out.append(Output(key, 1, "single", location=loc))
    return root, out


def _mapping_rows(path: Path) -> list[dict]:
    data = path.read_bytes()
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    rows = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            rec = {"__error__": f"line {n}: malformed JSON"}
        rows.append(rec if isinstance(rec, dict) else {"__error__": f"line {n}: not an object"})
    return rows


def read_mapping(path: Path) -> tuple[Path, list[Output]]:
    if not path.is_file():
        raise UnusableInput(f"{path}: a mapping layout needs a .csv or .jsonl file")
    root = path.parent.resolve()
    rows = _mapping_rows(path)
    if rows and not any(("path" in r or "output" in r) and ("edit_id" in r or "key" in r) for r in rows):
        raise UnusableInput(f"{path}: a mapping needs columns edit_id or key, and path")
    out = []
    for n, r in enumerate(rows, 1):
        if "__error__" in r:
            out.append(Output(None, 1, None, status="unmatched", message=r["__error__"]))
            continue
        rel = str(r.get("path") or r.get("output") or "")
        turn = r.get("turn") or r.get("turn_index") or 1
        try:
            turn = int(turn)
        except (TypeError, ValueError):
            turn = 1
        setting = r.get("setting") or "single"
        o = Output(str(r["key"]) if r.get("key") not in (None, "") else None, turn, str(setting),
                   edit_id=str(r["edit_id"]) if r.get("edit_id") not in (None, "") else None)
        if setting not in ("inde", "iter", "single"):
            o.status, o.message = "unmatched", f"row {n}: unknown setting {setting!r} (inde, iter or single)"
        elif not rel:
            o.status, o.message = "missing", f"row {n}: empty path"
        else:
            full = Path(rel) if os.path.isabs(rel) else root / rel
            if not os.path.isabs(rel) and ".." in Path(rel).parts:
                o.status, o.message = "unsafe_path", f"row {n}: {rel[:200]} leaves the mapping file's folder"
            else:
                o.location = _file(root, rel) if not os.path.isabs(rel) else _file(full.parent, full.name)
        out.append(o)
    return root, out


# ---- mapper: outputs x benchmark edits -> rows -----------------------------------------------------------------

def _pid(*parts) -> str:
    return hashlib.sha1("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:16]


def _exists(loc: dict) -> bool:
    if loc.get("location_kind") != "file":
        return True
    p = loc["path"] if os.path.isabs(loc["path"]) else os.path.join(loc["root"], loc["path"])
    return os.path.isfile(p)


def match(model: str, benchmark: str, layout: str, edits: list[BenchEdit], outputs: list[Output]) -> list[dict]:
    """One row per benchmark edit and setting (ok or missing), plus one per output naming no edit."""
    by_key = {(e.key, e.turn): e for e in edits}
    by_id = {e.edit_id: e for e in edits}
    multi = any(e.multi_turn for e in edits)
    if layout == "magicbrush":
        settings = ("inde", "iter")
    elif layout == "mapping":
        settings = tuple(sorted({o.setting for o in outputs if o.setting in ("inde", "iter", "single")})) or ("single",)
    else:
        settings = ("single",)
    found: dict[tuple[str, str], Output] = {}
    rows = []

    def row(setting, edit: BenchEdit | None, key, turn, o: Output | None, status, message=None):
        loc = (o.location if o else {}) or {}
        eid = edit.edit_id if edit else None
        rows.append({
            # an unmatched row: its output's location and its position (two identical mapping rows stay apart)
            "prediction_id": _pid(model, benchmark, setting, eid or key, turn,
                                  *((None, None, None) if edit else (loc.get("path"), loc.get("row"), len(rows)))),
            "model_name": model, "benchmark": benchmark, "layout": layout, "setting": setting, "edit_id": eid,
            "benchmark_key": edit.key if edit and not edit.key.startswith("hash:") else key,
            "turn_index": turn, "location_kind": loc.get("location_kind"), "root": loc.get("root"),
            "path": loc.get("path"), "row_group": loc.get("row_group"), "row": loc.get("row"),
            "column": loc.get("column"), "status": status, "message": message})

    # outputs for every setting (MagicBrush turn 1) first: an explicit `_inde_1` / `_iter_1` then replaces them
    dup_rows = set()
    for o in sorted(outputs, key=lambda o: o.setting is not None):
        edit = by_id.get(o.edit_id) if o.edit_id else by_key.get((o.key, o.turn))
        if o.status == "unmatched" or edit is None:
            msg = o.message or (f"no benchmark edit {o.edit_id or o.key}" + (f" turn {o.turn}" if multi else ""))
            row(o.setting or settings[0], None, o.edit_id or o.key, o.turn, o, "unmatched", msg)
            continue
        for s in ([o.setting] if o.setting else list(settings)):
            prev = found.get((edit.edit_id, s))
            if prev is not None and (prev.setting is not None or o.setting is None):
                if id(o) not in dup_rows:  # a second output for one edit and setting: named, not used
                    dup_rows.add(id(o))
                    where = (prev.location or {}).get("path")
                    row(s, None, edit.key, o.turn, o, "unmatched",
                        f"duplicate output for {edit.key} turn {o.turn} ({s}); {where} is used")
                continue
            found[(edit.edit_id, s)] = o
    seen = set()
    for e in edits:
        if e.edit_id in seen:
            continue
        seen.add(e.edit_id)
        for s in settings:
            o = found.get((e.edit_id, s))
            if o is None:
                row(s, e, e.key, e.turn, None, "missing", "no output")
            elif o.status != "ok":
                row(s, e, e.key, e.turn, o if o.location else None, o.status, o.message)
            elif not _exists(o.location):
                row(s, e, e.key, e.turn, o, "missing", f"missing file: {o.location['path']}")
            else:
                row(s, e, e.key, e.turn, o, "ok")
    return rows


# ---- writer ----------------------------------------------------------------------------------------------------

def run_predictions(cfg: PredictionsConfig) -> PredictionsSummary:
    wh = cfg.warehouse.resolved()
    if not cfg.model_name.strip():
        raise UnusableInput("MODEL_NAME is empty")
    path = Path(cfg.path).expanduser().resolve()
    if not path.exists():
        raise UnusableInput(f"{cfg.path} does not exist")
    layout = cfg.layout or detect_layout(path)
    if layout not in LAYOUTS:
        raise UnusableInput(f"unknown predictions layout {layout!r} ({', '.join(LAYOUTS)})")
    edits, split = benchmark_edits(wh, cfg.benchmark, cfg.split, cfg.part)
    if layout == "magicbrush":
        if not path.is_dir():
            raise UnusableInput(f"{path}: the MagicBrush layout is a folder of <img_id>/ folders")
        outputs = read_magicbrush(path)
    elif layout == "imgedit":
        if not path.is_dir():
            raise UnusableInput(f"{path}: the ImgEdit layout is a folder of <key>.png images")
        outputs = read_imgedit(path)
    elif layout == "emu-edit":
        _, outputs = read_emu_edit(path)
    else:
        _, outputs = read_mapping(path)
    rows = match(cfg.model_name, cfg.benchmark, layout, edits, outputs)
    run_id = uuid.uuid4().hex[:16]
    now = datetime.now(timezone.utc)
    schema = PREDICTION_SCHEMAS[PREDICTIONS]
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    cols["predictions_run_id"] = [run_id] * len(rows)
    cols["created_at"] = [now] * len(rows)
    tbl = pa.Table.from_pydict(cols, schema=schema)
    out = wh.shard_path(PREDICTIONS, _pid(cfg.model_name, cfg.benchmark))
    atomic_write_table(tbl, out)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    expected = sum(v for k, v in counts.items() if k != "unmatched")
    return PredictionsSummary(cfg.model_name, cfg.benchmark, layout, split, out, expected, counts)
