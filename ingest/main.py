"""Ingest entry point and distributor: detect units, skip the unchanged ones, read -> map -> write each unit in
parallel worker processes, and summarise.

    from editlens.ingest.main import IngestConfig, run_ingest
    summary = run_ingest(IngestConfig(path, warehouse))
    print(summary.describe())
"""

from __future__ import annotations

import ctypes
import dataclasses
import datetime as dt
import gc
import multiprocessing as mp
import os
import sys
import time
import traceback
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from editlens.contract import tables as T
from editlens.contract.errors import UnusableInput
from editlens.contract.limits import DEFAULT_INGEST_LIMITS, IngestLimits
from editlens.contract.paths import NotRegularFile, UnsafePath, check_regular
from editlens.ingest.detect import discover
from editlens.ingest.discover import Unplaced
from editlens.ingest.images import ImageChecker
from editlens.ingest.mapper import UnitMapper
from editlens.ingest.readers import READERS
from editlens.ingest.readers.common import FileRefused
from editlens.ingest.readers.mapped import reader_label
from editlens.ingest.units import Unit
from editlens.ingest.writer import KillSwitch, recover, remove_unit, warehouse_lock, write_unit
from editlens.warehouse import Warehouse


@dataclass(frozen=True)
class IngestConfig:
    path: Path | str
    warehouse: Warehouse
    format: str | None = None  # force a reader (one of editlens.ingest.formats); None: auto-detect
    check_images: bool = True  # list image folders to mark missing files; False: `exists` is null
    workers: int | None = None  # reader processes; None: default_workers(); 1: in this process
    kill_after_steps: int | None = None  # tests only: SIGKILL the writing process at its n-th write step
    column_map: dict | None = None  # --map: canonical name -> column (the generic reader), saved with the run
    image_root: Path | str | None = None  # folder the image paths of file-image datasets are relative to
    on_found: object = None  # called with the summary (``found``, ``unplaced``) before any file is read
    limits: IngestLimits = DEFAULT_INGEST_LIMITS  # file and record limits (`editlens.contract.limits`)


@dataclass
class FileResult:
    dataset: str
    part: str
    source_file: str
    unit: str
    shard: str
    status: str  # ingested | unchanged
    records_read: int = 0
    records_loaded: int = 0
    records_rejected: int = 0
    images_missing: int = 0
    duration_s: float = 0.0
    error: str | None = None  # a reader failure (recorded as a `reader_error` reject)
    images_referenced: int = 0
    file_images: bool = False  # the images are files (not embedded in Parquet)
    image_root: str = ""  # absolute folder the file's image paths were resolved against

    @property
    def all_images_missing(self) -> bool:
        return self.file_images and self.images_referenced > 0 and self.images_missing == self.images_referenced


@dataclass
class IngestSummary:
    run_id: str
    path: str
    files: list[FileResult] = field(default_factory=list)
    wall_s: float = 0.0
    warehouse_edits: int = 0
    warehouse_rejects: int = 0
    unplaced: list[Unplaced] = field(default_factory=list)  # annotation-like files no layout claims
    found: list[str] = field(default_factory=list)  # what discovery found, one line per dataset/part
    copies: list[tuple[str, str]] = field(default_factory=list)  # (identical copy not read, the file read)

    @property
    def exit_code(self) -> int:
        """0, or ``EXIT_UNPLACED`` (3) when some annotation-like file could not be placed (it was not read)."""
        return EXIT_UNPLACED if self.unplaced else 0

    def _sum(self, attr: str, status: str = "ingested") -> int:
        return sum(getattr(f, attr) for f in self.files if f.status == status)

    @property
    def records_read(self) -> int:
        return self._sum("records_read")

    @property
    def records_loaded(self) -> int:
        return self._sum("records_loaded")

    @property
    def records_rejected(self) -> int:
        return self._sum("records_rejected")

    @property
    def ingested(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "ingested"]

    @property
    def unchanged(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "unchanged"]

    def describe(self, max_unchanged: int = 20) -> str:
        lines = [f"ingest run {self.run_id}: {self.path}"]
        for f in self.ingested:
            miss = f", images missing {f.images_missing}" if f.images_missing else ""
            err = f" [reader error: {f.error}]" if f.error else ""
            lines.append(f"  ingested  {f.dataset}/{f.part} {f.unit}: records {f.records_read}, edits loaded "
                         f"{f.records_loaded}, rejected {f.records_rejected}{miss}{err}")
            if f.all_images_missing:
                lines.append(f"    note: none of its {f.images_referenced} images exists under {f.image_root}: "
                             f"check the image root (extract the images, or give --image-root)")
        unchanged = self.unchanged
        for f in unchanged[:max_unchanged]:
            lines.append(f"  unchanged {f.dataset}/{f.part} {f.unit}: records {f.records_read}, edits loaded "
                         f"{f.records_loaded}, rejected {f.records_rejected} (skipped)")
        if len(unchanged) > max_unchanged:
            lines.append(f"  ... and {len(unchanged) - max_unchanged} more unchanged files (skipped)")
        lines.append(
            f"total: {len(self.ingested)} files ingested, {len(unchanged)} unchanged; records read "
            f"{self.records_read}; edits loaded {self.records_loaded} + rejected {self.records_rejected}; "
            f"{self.wall_s:.1f} s"
        )
        lines.append(f"warehouse: {self.warehouse_edits} edits, {self.warehouse_rejects} rejects")
        for copy, of in self.copies:
            lines.append(f"  copy      {copy}: identical to {of} (read once)")
        if self.unplaced:
            lines.append(f"NOT INGESTED: {len(self.unplaced)} files could not be placed (exit code {EXIT_UNPLACED}):")
            lines += [f"  unplaced  {u.path}: {u.reason}" for u in self.unplaced]
        return "\n".join(lines)


EXIT_UNPLACED = 3


def _one_per_file(units: list[Unit]) -> tuple[list[Unit], list[tuple[str, str]]]:
    """Units with the same location key (two copies of a dataset, or of a loose file): an identical copy is read
    once (and listed); a different file at the same dataset-relative location is told apart by its checksum."""
    from editlens.ingest.discover import file_sha256

    by_shard: dict[str, list[Unit]] = {}
    for u in units:
        by_shard.setdefault(u.shard, []).append(u)
    out, copies = [], []
    for us in by_shard.values():
        if len(us) == 1:
            out += us
            continue
        kept: dict[str, Unit] = {}
        for u in us:
            path = os.path.join(u.root, u.source_file)
            key = u.identity or (file_sha256(path) or path) + (u.unit or "")
            if key in kept:
                copies.append((path, os.path.join(kept[key].root, kept[key].source_file)))
                continue
            kept[key] = u
        first = True
        for key, u in kept.items():
            out.append(u if first else dataclasses.replace(u, identity=key))
            first = False
    return out, copies


def describe_found(units: list[Unit]) -> list[str]:
    """One line per dataset / part / split found: files (units) and the folder(s) they are in."""
    groups: dict[tuple, list[Unit]] = {}
    for u in units:
        groups.setdefault((u.dataset, u.part, u.split), []).append(u)
    out = []
    for (dataset, part, split), us in sorted(groups.items()):
        roots = sorted({u.root for u in us})
        where = roots[0] if len(roots) == 1 else f"{len(roots)} folders"
        out.append(f"  found {dataset}/{part} ({split}): {len({u.source_file for u in us})} files, "
                   f"{len(us)} units in {where}")
    return out


# ---- the per-unit job (runs in a worker process) ----------------------------------------------------------------

@dataclass
class _WorkerState:
    checker: ImageChecker
    kill: KillSwitch
    limits: IngestLimits = DEFAULT_INGEST_LIMITS


_STATE: _WorkerState | None = None  # one per worker process: the image folder cache must outlive a unit


def _keep_freed_memory(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> None:
    """Worker processes only (glibc): let freed blocks up to ``mmap_threshold`` be reused from the heap instead
    of being unmapped and faulted in again for the next unit (each unit allocates and frees a few MB of file
    bytes, lists and buffers: ~1,300 fewer page faults and ~2 ms less system time per 10K-record file)."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, mmap_threshold)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, trim_threshold)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


class _NoPandas:
    """An import finder that has no pandas: ``import pandas`` raises ModuleNotFoundError."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"an ingest worker does not import {name}", name=name)
        return None


def _init_worker(check_images: bool, kill_after_steps: int | None,
                 limits: IngestLimits = DEFAULT_INGEST_LIMITS) -> None:
    """A worker process: its memory tuning, its state, and no pandas. pyarrow imports pandas on its first
    conversion (even of a numpy array) when pandas is installed, ~0.2 s CPU per worker; no reader uses it, so a
    worker that has not imported it yet never does (pyarrow then takes it as not installed)."""
    global _STATE
    _keep_freed_memory()
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _NoPandas())
    _STATE = _WorkerState(ImageChecker(check_images), KillSwitch(kill_after_steps), limits)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _skippable(prev: dict | None, unit: Unit, checksum: str | None, check_images: bool) -> bool:
    """Unchanged: same bytes, same dataset location, and images checked at least as thoroughly as now."""
    return (prev is not None and checksum is not None and prev.get("checksum") == checksum
            and not unit.image_dir and prev.get("root") == unit.root and (bool(prev.get("images_checked")) or not check_images))


def process_unit(unit: Unit, run_id: str, wh_root: str, prev: dict | None,
                 state: _WorkerState | None = None) -> FileResult:
    state = state or _STATE
    assert state is not None
    wh = Warehouse(Path(wh_root))
    started, t0 = _now(), time.perf_counter()
    load, map_ = READERS[unit.reader]
    img_base, img_rel = _image_base(unit)
    mapper = UnitMapper(dataset=unit.dataset, part=unit.part, split=unit.split, root=img_base,
                        image_root=img_rel, source_file=unit.source_file, run_id=run_id,
                        checker=state.checker, limits=state.limits)
    error = None
    checksum = None
    refused = file_refusal(unit, state.limits)
    read_ok = False
    if refused is not None:
        mapper.reject(None, *refused)
    else:
        try:
            checksum, payload = load(unit)
            read_ok = True
        except FileRefused as exc:
            mapper.reject(None, exc.reason, f"{unit.source_file}: {exc.message}")
        except OSError as exc:
            mapper.reject(None, T.UNREADABLE_FILE, f"cannot read {unit.source_file}: {exc}")
    if read_ok:
        if _skippable(prev, unit, checksum, state.checker.enabled):
            return FileResult(unit.dataset, unit.part, unit.source_file, unit.name, unit.shard, "unchanged")
        gc_was_on = gc.isenabled()
        gc.disable()  # millions of short-lived dicts and no cycles: the cyclic collector is pure overhead here
        try:
            map_(unit, payload, mapper)
        except Exception as exc:  # noqa: BLE001 - a reader bug must not take the run down nor half-load a file
            error = f"{type(exc).__name__}: {exc}"
            mapper = UnitMapper(dataset=unit.dataset, part=unit.part, split=unit.split, root=img_base,
                                image_root=img_rel, source_file=unit.source_file, run_id=run_id,
                                checker=state.checker, limits=state.limits)
            mapper.reject(None, "reader_error", f"{error}\n{traceback.format_exc(limit=3)}")
        finally:
            if gc_was_on:
                gc.enable()
        del payload
    tables = mapper.tables()
    records = count_records(tables)
    duration = time.perf_counter() - t0
    row = dict(ingest_run_id=run_id, dataset=unit.dataset, part=unit.part, source_file=unit.source_file,
               unit=unit.name, shard=unit.shard, reader=reader_label(unit), root=unit.root,
               images_checked=state.checker.enabled, checksum=checksum,
               records_read=records, records_loaded=mapper.loaded, records_rejected=mapper.rejected,
               images_referenced=tables["images"].num_rows, images_missing=mapper.images_missing,
               started_at=started, duration_s=duration)
    write_unit(wh, unit.shard, tables, row, state.kill)
    file_images = not unit.reader.endswith("-parquet")
    return FileResult(unit.dataset, unit.part, unit.source_file, unit.name, unit.shard, "ingested", records,
                      mapper.loaded, mapper.rejected, mapper.images_missing, duration, error,
                      tables["images"].num_rows, file_images, mapper.image_root_abs)


def file_refusal(unit: Unit, limits: IngestLimits) -> tuple[str, str] | None:
    """(reason, message) when the unit's annotation file must not be opened, from ``stat`` alone: not a regular
    file (FIFO, device, socket: `special_file`), a symlink resolving outside the dataset root (`unsafe_path`),
    a JSON / JSON Lines file over ``limits.max_file_bytes`` (`too_large`; Parquet is read by row group)."""
    path = os.path.join(unit.root, unit.source_file)
    try:
        st = check_regular(path, unit.root)
    except UnsafePath as exc:
        return T.UNSAFE_PATH, f"{unit.source_file} {exc}: not followed"
    except NotRegularFile as exc:
        if exc.kind == "missing":
            return None  # the reader says what is missing (a chunk whose seeds.json went, a removed file)
        return T.SPECIAL_FILE, f"{unit.source_file}: not a regular file ({exc.kind}): never opened"
    if not unit.reader.endswith("-parquet") and not unit.source_file.endswith(".parquet") \
            and st.st_size > limits.max_file_bytes:
        return T.TOO_LARGE, (f"{unit.source_file} has {st.st_size} bytes, over the limit of "
                             f"{limits.max_file_bytes} (IngestLimits.max_file_bytes): not read")
    return None


def count_records(tables: dict) -> int:
    """Records read: distinct (source_file, source_record) over the loaded edits and the rejects, plus each
    file-level reject (no record). An HQ-Edit row (two edits) or a Part-3 line (one edit per turn) is one."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    edits = tables["edits"]
    files, recs = edits.column("source_file"), edits.column("source_record")
    if tables["rejects"].num_rows == 0 and edits.num_rows and not files.null_count and not recs.null_count:
        # the usual case: one file, records in file order (a Part-3 line repeats over its turns)
        ends = pc.min_max(files)
        steps = np.diff(recs.to_numpy())
        if ends["min"] == ends["max"] and (steps >= 0).all():
            return 1 + int(np.count_nonzero(steps))
    cols = ["source_file", "source_record"]
    both = pa.concat_tables([tables["edits"].select(cols),
                             tables["rejects"].select(cols).cast(tables["edits"].select(cols).schema)])
    keyed = both.filter(pc.is_valid(both.column("source_record")))
    return keyed.group_by(cols).aggregate([]).num_rows + (both.num_rows - keyed.num_rows)


def _image_base(unit: Unit) -> tuple[str, str]:
    """(folder the images' ``root`` column holds, image folder relative to it) for the mapper: the dataset root
    and the layout's image folder, or the ``--image-root`` folder itself (record paths relative to it)."""
    if unit.image_dir:
        return unit.image_dir, ""
    return unit.root, unit.image_root


SMALL_INPUT_BYTES = 16 << 20
MAX_DEFAULT_WORKERS = 8  # a worker holds one unit at a time (~150-250 MB for a 10K-record file)


def default_workers() -> int:
    """Worker processes when ``--workers`` is not given: the cores this process may run on, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


def _unit_bytes(u: Unit) -> int:
    size = 0
    try:
        size = os.path.getsize(os.path.join(u.root, u.source_file))
    except OSError:
        pass
    if u.reader == "ip2p-original":
        size += 1000 * len(u.params or ())  # prompt dirs are read too
    return size


def _input_bytes(units: list[Unit]) -> int:
    return sum(map(_unit_bytes, units))


def _worker_context():
    """On Linux the workers are forks of this process, started from its main thread when the pool takes its
    first task, before any thread of the pool runs: everything is imported already, so a worker starts in
    milliseconds and shares this process's pages. Elsewhere (fork is unsafe on macOS, absent on Windows) they
    come from a fork server that imported this module once (and pyarrow's pandas, which its first conversion
    imports), not from fresh interpreters importing everything again (~0.4 s CPU per worker)."""
    if sys.platform.startswith("linux"):
        return mp.get_context("fork")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["editlens.ingest.main", "pandas"])
    return ctx


def _pool_task(args) -> FileResult:
    return process_unit(*args)


# ---- distributor -------------------------------------------------------------------------------------------------

def _run_pool(cfg: IngestConfig, tasks: list[tuple], n_workers: int) -> list[FileResult]:
    """Run the tasks in ``n_workers`` worker processes, the largest units first (the last ones to finish are then
    small, and no worker idles at the end); this process waits. A worker then does nothing but units (this process
    runs the pool's threads)."""
    ordered = sorted(tasks, key=lambda t: -_unit_bytes(t[0]))
    with ProcessPoolExecutor(n_workers, mp_context=_worker_context(), initializer=_init_worker,
                             initargs=(cfg.check_images, cfg.kill_after_steps, cfg.limits)) as ex:
        return list(ex.map(_pool_task, ordered))


def run_ingest(cfg: IngestConfig) -> IngestSummary:
    t0 = time.perf_counter()
    image_root = os.path.abspath(os.path.expanduser(os.fspath(cfg.image_root))) if cfg.image_root else None
    if image_root is not None and not os.path.isdir(image_root):
        raise UnusableInput(f"--image-root {cfg.image_root}: no such folder")
    found = discover(cfg.path, cfg.format, image_root, cfg.column_map)
    units = found.units
    units, copies = _one_per_file(units)
    wh = cfg.warehouse.resolved().ensure()
    run_id = _now().strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    summary = IngestSummary(run_id=run_id, path=str(cfg.path), unplaced=found.unplaced, found=describe_found(units),
                            copies=copies)
    if cfg.on_found is not None:
        cfg.on_found(summary)
    with warehouse_lock(wh):
        committed = recover(wh)
        # chunked sources (seeds.json): chunks of the same source that no longer exist are removed
        current = {u.shard for u in units}
        chunked = {(u.dataset, u.source_file) for u in units if u.unit}
        removed = set()
        # a file changed in place (loose files are identified by content): its old shard goes
        here = {(u.root, u.source_file): u.shard for u in units if u.identity}
        for shard, row in committed.items():
            new = here.get((row["root"], row["source_file"]))
            if new is not None and new != shard:
                remove_unit(wh, shard)
                removed.add(shard)
        for shard, row in committed.items():
            if shard not in current and (row["dataset"], row["source_file"]) in chunked and row["unit"] != \
                    row["source_file"]:
                remove_unit(wh, shard)
                removed.add(shard)
        tasks = [(u, run_id, str(wh.root), committed.get(u.shard)) for u in units]
        n_workers = max(1, min(cfg.workers or default_workers(), len(tasks)))
        if cfg.workers is None and _input_bytes(units) < SMALL_INPUT_BYTES:
            n_workers = 1  # starting worker processes costs more than reading a small dataset
        results: list[FileResult] = []
        if n_workers == 1:
            state = _WorkerState(ImageChecker(cfg.check_images), KillSwitch(cfg.kill_after_steps), cfg.limits)
            results = [process_unit(*t, state=state) for t in tasks]
        else:
            results = _run_pool(cfg, tasks, n_workers)
        order = {u.shard: i for i, u in enumerate(units)}
        results.sort(key=lambda r: order[r.shard])
        # the committed state now: what was committed before, minus removed chunks, plus this run's units
        final = {shard: row for shard, row in committed.items() if shard not in removed}
        for r in results:
            if r.status == "ingested":
                final[r.shard] = dict(records_read=r.records_read, records_loaded=r.records_loaded,
                                      records_rejected=r.records_rejected, images_missing=r.images_missing)
        os.sync()  # one flush for the whole run instead of an fsync per shard
    for r in results:
        if r.status == "unchanged":
            row = committed.get(r.shard) or {}
            r.records_read = row.get("records_read", 0)
            r.records_loaded = row.get("records_loaded", 0)
            r.records_rejected = row.get("records_rejected", 0)
            r.images_missing = row.get("images_missing", 0) or 0
    summary.files = results
    summary.warehouse_edits = sum(r["records_loaded"] for r in final.values())
    summary.warehouse_rejects = sum(r["records_rejected"] for r in final.values())
    summary.wall_s = time.perf_counter() - t0
    return summary
