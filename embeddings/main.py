"""`editlens embed`: image facts, embeddings, concept scores and edit scores, as resumable shard jobs.

Stages, each reading the tables the previous ones wrote (so any of them can be killed and rerun):
1. images  (reader `plan_images` -> mapper decode/embed -> writer image_embeddings, image_facts per shard)
2. dedup   (compaction of identical contents embedded by two shards of one run)
3. texts   (distinct instructions and captions -> text_embeddings)
4. concepts (image_embeddings x prompt set -> image_concepts; no images needed)
5. edits   (edits x facts x embeddings -> edit_scores; no model needed)
6. predictions (editing models' outputs registered by `editlens predictions` -> prediction_scores)
7. browse  (edits x embeddings -> edit_projections, the edit map, and the neighbour indexes under DIR/index/)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from editlens.contract.errors import UnusableInput
from editlens.embeddings import manifest as M
from editlens.embeddings import scoring as S
from editlens.embeddings import tables as T
from editlens.embeddings.browse import BrowseConfig, browse_done, run_browse_stage, umap_available
from editlens.embeddings.concepts import ConceptSet, run_concept_stage
from editlens.embeddings.detectors import DetectStage, load_detectors, parse_names
from editlens.embeddings.distributor import ActorArgs, run_images_local, run_ray, run_texts_local
from editlens.embeddings.encoder import Encoder, default_batch_size, device_settings
from editlens.embeddings.frames import InstructionFrames
from editlens.embeddings.gpudecode import decode_on_device
from editlens.embeddings.imageio import DEFAULT_MAX_IMAGE_PIXELS
from editlens.embeddings.models import TINY_NAME, load_model
from editlens.embeddings.writer import compact_detections
from editlens.warehouse import Warehouse, atomic_write_table, remove_stale_temporaries


@dataclass
class EmbedConfig:
    warehouse: Warehouse
    model: str = TINY_NAME
    pretrained: str | None = None
    device: str = "cpu"
    batch_size: int | None = None
    workers: int | None = None      # decode worker processes (CPU default 0: the streams decode; CUDA: cores, max 16)
    streams: int | None = None      # CPU, workers = 0: batches decoded and embedded at once (default: cores, max 8)
    backend: Literal["local", "ray"] = "local"
    shard_size: int = 4096          # images (or texts) per shard
    edit_shard_size: int = 50_000   # edits per edit_scores file
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    concepts_file: Path | None = None
    frames_file: Path | None = None  # instruction framing phrases (default: embeddings/instruction_frames.csv)
    rescore_edits: bool = False     # recompute this model's edit_scores (after editing the frames file)
    allow_random_weights: bool = False  # tests and the speed bench only: never the default
    jpeg_draft: bool = True
    threads: int | None = None      # torch threads per stream (CPU default: cores // streams, or cores - workers)
    ray_actors: int | None = None
    progress: bool = True
    duckdb_memory: str = "2GB"
    images_only: bool = False       # stop after image facts + embeddings (speed bench, or a facts-only pass)
    detectors: tuple[str, ...] = ()  # dedicated detectors on the same decoded images (embeddings/detectors.py)
    dino_weights: Path | None = None  # DINO ViT-S/16 weights file: the prediction stage's DINO score
    projection: str = "pca"         # the edit map's projection: pca, or umap (needs umap-learn)
    browse: bool = True             # the browse stage: edit map and neighbour indexes
    decode: str = "auto"            # JPEG decode: auto (on the device when it is CUDA), cpu, device (gpudecode.py)


@dataclass
class EmbedSummary:
    warehouse: Path
    model_key: str
    model_name: str
    pretrained: str | None
    device: str
    backend: str
    images_planned: int = 0
    image_shards: int = 0
    facts_written: int = 0
    embeddings_written: int = 0
    detections_written: int = 0
    duplicates_removed: int = 0
    statuses: dict = field(default_factory=dict)
    texts_embedded: int = 0
    concept_rows: int = 0
    edits_scored: int = 0
    predictions_scored: int = 0
    edits_projected: int = 0
    image_seconds: float = 0.0
    seconds: float = 0.0
    workers: int = 0
    streams: int = 1
    torch_threads: int = 0
    batch_size: int = 0

    @property
    def images_per_second(self) -> float:
        return self.images_planned / self.image_seconds if self.image_seconds > 0 else 0.0

    def describe(self) -> str:
        st = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())) or "none"
        lines = [
            (f"model {self.model_name} ({self.pretrained}) key {self.model_key} on {self.device}, backend "
             f"{self.backend} (batch {self.batch_size}, {self.workers} decode workers, {self.streams} streams "
             f"x {self.torch_threads} torch threads)"),
            (f"images: {self.images_planned} to do in {self.image_shards} shards ({st}); "
             f"{self.facts_written} facts, {self.embeddings_written} new embeddings")
            + (f", {self.duplicates_removed} duplicate rows compacted" if self.duplicates_removed else "")
            + (f", {self.detections_written} detector rows" if self.detections_written else "")
            + (f"; {self.images_per_second:.0f} images/s" if self.images_planned else ""),
            f"texts: {self.texts_embedded} embedded; concepts: {self.concept_rows} rows; edits: {self.edits_scored} scored"
            + (f"; predictions: {self.predictions_scored} scored" if self.predictions_scored else "")
            + (f"; map: {self.edits_projected} edits projected" if self.edits_projected else ""),
            f"done in {self.seconds:.1f} s; tables under {self.warehouse / 'parquet'}",
        ]
        return "\n".join(lines)


def _check_inputs(wh: Warehouse) -> None:
    missing = [t for t in ("images", "edits") if not wh.has_table(t)]
    if missing:
        raise UnusableInput(f"no ingest tables ({', '.join(missing)}) under {wh.parquet_dir}: "
                              "run `editlens ingest` first")


def _write_model_row(wh: Warehouse, spec) -> None:
    path = wh.shard_path(T.EMBED_MODELS, spec.key)
    if path.exists():
        return
    tbl = T.to_table(T.EMBED_MODELS, {
        "model_key": [spec.key], "model_name": [spec.name], "pretrained": [spec.pretrained],
        "weights_sha256": [spec.weights_sha256], "preprocess": [spec.preprocess_str],
        "embed_dim": [spec.embed_dim], "logit_scale": [spec.logit_scale]})
    atomic_write_table(tbl, path)


def run_embed(cfg: EmbedConfig) -> EmbedSummary:
    import torch

    t0 = time.perf_counter()
    wh = cfg.warehouse.resolved()
    _check_inputs(wh)
    if cfg.backend not in ("local", "ray"):
        raise UnusableInput(f"unknown backend {cfg.backend!r} (local or ray)")
    settings = device_settings(cfg.device)
    concepts = ConceptSet.load(cfg.concepts_file)
    frames = InstructionFrames.load(cfg.frames_file)
    if cfg.dino_weights is not None and not Path(cfg.dino_weights).expanduser().is_file():
        raise UnusableInput(f"DINO weights {cfg.dino_weights} not found (a local dino_deitsmall16_pretrain.pth)")
    if cfg.detectors:  # a detector asked for but not installed: one clear error (exit 2) before any work
        load_detectors(cfg.detectors)
    if cfg.projection not in ("pca", "umap") or (cfg.projection == "umap" and not umap_available()):
        raise UnusableInput(f"--projection {cfg.projection}: pca, or umap with umap-learn installed "
                            "(pip install umap-learn)")
    decode_on_device(cfg.decode, settings.device, bool(cfg.detectors))  # a decode option it cannot run: exit 2 now
    lay = local_layout(settings.device, os.cpu_count() or 1, cfg.workers, cfg.streams, cfg.threads)
    old_threads = torch.get_num_threads()
    if lay.threads:
        torch.set_num_threads(lay.threads)
    try:
        return _run(cfg, wh, settings, concepts, frames, lay, t0)
    finally:
        torch.set_num_threads(old_threads)


MAX_STREAMS = 8  # each stream holds one batch's activations


@dataclass(frozen=True)
class Layout:
    """How the local backend uses the machine during the image stage."""

    workers: int          # decode worker processes (0: each stream decodes its own batches)
    streams: int          # batches decoded and embedded at once by threads of the main process
    threads: int | None   # torch threads per stream (None: torch's default)
    rest_threads: int | None  # torch threads for texts and concepts (one stream)


def local_layout(device: str, cpus: int, workers: int | None = None, streams: int | None = None,
                 threads: int | None = None) -> Layout:
    """CPU: by default no decode processes and one stream per core (at most MAX_STREAMS, each then with
    cores // streams torch threads; given threads per stream: cores // threads streams): every core runs one batch
    from decode to embedding, with no hand-off between processes and no torch thread spinning while its stream
    decodes; texts then use every core. With workers > 0 (or a GPU), DataLoader workers decode and one stream
    runs the model."""
    if device != "cpu":
        return Layout(workers if workers is not None else (min(16, cpus) if device.startswith("cuda")
                                                           else max(1, cpus // 2)), 1, threads, threads)
    if workers:
        t = threads or max(1, cpus - workers)
        return Layout(workers, 1, t, t)
    n = max(1, streams or min(MAX_STREAMS, max(1, cpus // threads) if threads else cpus))
    return Layout(0, n, threads or max(1, cpus // n), threads or cpus)


def _run(cfg: EmbedConfig, wh: Warehouse, settings, concepts: ConceptSet, frames: InstructionFrames, lay: Layout,
         t0: float) -> EmbedSummary:
    import torch

    loaded = load_model(cfg.model, cfg.pretrained, device=settings.device,
                        allow_random_weights=cfg.allow_random_weights, jpeg_draft=cfg.jpeg_draft)
    spec = loaded.spec
    encoder = Encoder(loaded, settings)
    batch_size = cfg.batch_size or default_batch_size(settings.device)
    summary = EmbedSummary(wh.root, spec.key, spec.name, spec.pretrained, settings.device, cfg.backend,
                           workers=lay.workers, streams=lay.streams, torch_threads=torch.get_num_threads(),
                           batch_size=batch_size)

    for table in T.SCHEMAS:
        remove_stale_temporaries(wh.table_dir(table))
    _write_model_row(wh, spec)
    work_dir = wh.root / "tmp" / "embed"
    con = M.connect(cfg.duckdb_memory, temp_directory=str(work_dir / "duckdb"))

    # 1. images
    t_img = time.perf_counter()
    names = parse_names(cfg.detectors)
    image_plan = M.plan_images(con, wh, spec.key, cfg.shard_size, work_dir, names)
    known = M.known_content(con, wh, spec.key)
    detect = DetectStage(names, M.known_detections(con, wh, names)) if names else None
    summary.images_planned, summary.image_shards = image_plan.total, len(image_plan.names)
    text_plan = None
    if cfg.backend == "ray":
        text_plan = M.plan_texts(con, wh, spec.key, cfg.shard_size, work_dir, frames)
        args = ActorArgs(str(wh.root), cfg.model, cfg.pretrained, settings.device, cfg.allow_random_weights,
                         cfg.jpeg_draft, batch_size, cfg.max_image_pixels, max(1, cfg.threads or 1),
                         decode_threads=max(1, lay.workers, lay.streams), detect=detect)
        totals = run_ray(args, image_plan, text_plan, known, cfg.ray_actors, cfg.progress)
        summary.facts_written, summary.embeddings_written = totals["facts"], totals["embeddings"]
        summary.texts_embedded = totals["texts"]
        summary.image_seconds = time.perf_counter() - t_img
    else:
        device_jpegs = decode_on_device(cfg.decode, settings.device, bool(names))
        results = run_images_local(wh, image_plan, encoder, known, batch_size, lay.workers, cfg.max_image_pixels,
                                   cfg.progress, streams=lay.streams, detect=detect, device_jpegs=device_jpegs)
        summary.image_seconds = time.perf_counter() - t_img
        if lay.rest_threads:
            torch.set_num_threads(lay.rest_threads)
        for r in results:
            summary.facts_written += r.facts_written
            summary.embeddings_written += r.embeddings_written
            summary.detections_written += r.detections_written
            for k, v in (r.statuses or {}).items():
                summary.statuses[k] = summary.statuses.get(k, 0) + v

    # 2. dedup by content across shards of this run
    summary.duplicates_removed = S.compact(con, wh, T.IMAGE_EMBEDDINGS, spec.key)
    S.compact(con, wh, T.IMAGE_CONCEPTS, spec.key)
    if names:  # a content under two image_ids in two shards: its detector rows kept once
        summary.detections_written -= compact_detections(con, wh)

    # 3. texts
    if cfg.images_only:
        pass
    elif cfg.backend != "ray":
        text_plan = M.plan_texts(con, wh, spec.key, cfg.shard_size, work_dir, frames)
        summary.texts_embedded = run_texts_local(wh, text_plan, encoder, batch_size, cfg.progress)

    if not cfg.images_only:
        # 4. concepts
        concept_emb = concepts.concept_matrix(encoder.texts_batched(concepts.all_prompts(), batch_size))
        summary.concept_rows = run_concept_stage(wh, spec, concepts, concept_emb)

        # 5. edits
        from tqdm import tqdm

        if cfg.rescore_edits:  # scores come from stored embeddings and thumbnails: seconds, no image is read
            for part in wh.table_dir(T.EDIT_SCORES).glob(f"{spec.key[:8]}-*.parquet"):
                part.unlink()
        with tqdm(desc="edits", unit="edit", disable=not cfg.progress, dynamic_ncols=True) as bar:
            summary.edits_scored = S.run_edit_stage(con, wh, spec, cfg.edit_shard_size, bar, frames)

        # 6. editing models' outputs (`editlens predictions`): each output decoded once, this model's key
        from editlens.embeddings.predictions import run_prediction_stage

        with tqdm(desc="predictions", unit="output", disable=not cfg.progress, dynamic_ncols=True) as bar:
            dino = None
            if cfg.dino_weights is not None:
                from editlens.embeddings.dino import load_dino

                dino = load_dino(cfg.dino_weights, settings.device)
            summary.predictions_scored = run_prediction_stage(con, wh, encoder, spec, bar=bar, dino=dino)

        # 7. browse: recomputed when this run scored edits (new images or texts), else kept
        bcfg = BrowseConfig(method=cfg.projection)
        if cfg.browse and (summary.edits_scored or not browse_done(wh, spec.key, bcfg)):
            with tqdm(desc="map + index", unit="edit", disable=not cfg.progress, dynamic_ncols=True) as bar:
                written = run_browse_stage(con, wh, spec, bcfg, cfg.pretrained, bar)
            summary.edits_projected = max(written.values(), default=0)
    con.close()
    for p in (image_plan.manifest, text_plan.manifest if text_plan else None):
        if p is not None:
            Path(p).unlink(missing_ok=True)
    if summary.statuses == {} and cfg.backend == "ray":
        summary.statuses = _status_counts(wh)
    summary.seconds = time.perf_counter() - t0
    return summary


def _status_counts(wh: Warehouse) -> dict:
    import duckdb

    if not wh.has_table(T.IMAGE_FACTS):
        return {}
    rows = duckdb.sql(f"select status, count(*) from read_parquet('{wh.table_glob(T.IMAGE_FACTS)}') group by 1").fetchall()
    return {k: int(v) for k, v in rows}
